#!/usr/bin/env bash
# A separate environment for the peers of benchmarks/inference.py: pytorch-grad-cam needs torchvision,
# which does not import beside the project's torch 2.13.0 CPU wheel; torch 2.14.1 + torchvision 0.29.1
# install together (a larger CUDA build, run here on the CPU). The project's code is used from the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BENCH_VENV:-.venv-bench}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==2.14.1" "torchvision==0.29.1" grad-cam captum onnxruntime \
  numpy scipy pydicom pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle nibabel opencv-python-headless \
  pandas tqdm statsmodels matplotlib
echo "peers ready: $VENV/bin/python benchmarks/inference.py"
