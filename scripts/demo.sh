#!/usr/bin/env bash
# Set up (system libraries, .venv, the project) and run NeuroReview on the bundled demo head CT with the
# bundled models: what the loader found, then the ICH and basal-ganglia scores (ONNX Runtime, GPU if usable).
# The viewer is not built yet (issue 5); when it lands this opens it on the same case.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
case_dir="${1:-resources/demo/ct/hemorrhage}"
.venv/bin/neuroreview info "$case_dir"
.venv/bin/neuroreview score "$case_dir"
