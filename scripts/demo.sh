#!/usr/bin/env bash
# Set up (system libraries, .venv, the project) and open NeuroReview on the bundled demo head CT (the real GE head
# with a generated subdural + intraventricular bleed, resources/demo/README.md) with the
# bundled models: the viewer (axial/MPR/3D, neuro windows, AI findings scored in the background, Grad-CAM).
# With no screen (no DISPLAY/WAYLAND_DISPLAY) it says so, renders the same window headless to
# demo-screenshot.png and prints the scores instead. A path argument opens that series.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
case_dir="${1:-resources/demo/ct/real_bleed}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/neuroreview view "$case_dir"
fi
echo "[demo] no screen here: rendering the viewer headless to demo-screenshot.png and printing the scores"
QT_QPA_PLATFORM=offscreen \
  .venv/bin/neuroreview view "$case_dir" --layout 2x2 --preset subdural --overlay gradcam:subdural --findings \
  --screenshot demo-screenshot.png
.venv/bin/neuroreview info "$case_dir"
.venv/bin/neuroreview score "$case_dir"
