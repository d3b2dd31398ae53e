#!/usr/bin/env bash
# Render docs/screenshots/study_report.png: the HTML report of a generated reader study (3 readers x
# 20 cases x 2 arms, core.study.simulate) as headless Chromium shows it.
#   bash scripts/study_report_screenshot.sh [OUT.png] [HEIGHT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/screenshots/study_report.png}
height=${2:-3300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python - "$tmp" <<'PY'
import sys
from pathlib import Path
from core.study.export import export_study
from core.study.simulate import simulate_study
export_study(simulate_study(), "html", Path(sys.argv[1]))
PY
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,"$height" \
    --screenshot="$out" "file://$tmp/report.html" 2>/dev/null
echo "$out"
