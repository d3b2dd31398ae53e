#!/usr/bin/env bash
# Regenerate the bundled demo cases in resources/demo/ (deterministic: same bytes every run).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m training.synth.demo "$@"
