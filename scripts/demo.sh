#!/usr/bin/env bash
# Set up (system libraries, .venv, the project) and run NeuroReview on the bundled demo case.
# The viewer is not built yet (issue 5): until it lands this prints what the loader finds in the
# demo CT series (series, geometry, warnings) with `neuroreview info`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
.venv/bin/neuroreview info "${1:-resources/demo/ct/hemorrhage}"
