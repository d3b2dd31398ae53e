#!/usr/bin/env bash
# Regenerate the bundled demo cases in resources/demo/ (deterministic: same bytes every run).
# Phantoms and MRI strips always; the real GE head CT demos (normal + generated bleed) when the development
# copy ../shared/data/ct-ge-head-tilt is present (otherwise the committed ones stay).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m training.synth.demo "$@"
.venv/bin/python -m training.synth.demo_real || echo "[make_demo] real GE demo cases kept as committed"
