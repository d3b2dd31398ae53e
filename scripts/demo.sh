#!/usr/bin/env bash
# Set up, then open the viewer on the bundled demo case with the bundled models.
# With no screen (no $DISPLAY), render the same window headless to demo-screenshot.png instead
# and print the AI findings for the demo series.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/neuroreview view
else
  echo "[demo] no display: rendering the viewer headless and scoring the demo case"
  QT_QPA_PLATFORM=offscreen .venv/bin/neuroreview view --screenshot demo-screenshot.png --layout 2x2
  .venv/bin/neuroreview score
  echo "[demo] wrote $(pwd)/demo-screenshot.png"
fi
