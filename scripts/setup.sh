#!/usr/bin/env bash
# Set up NeuroReview on a fresh Debian/Ubuntu machine: the system libraries Qt and VTK need
# (only those missing), a virtual environment in .venv, and the project with the extras given.
#   scripts/setup.sh            runtime only (viewer, CLI, ONNX Runtime)
#   scripts/setup.sh test       + test and training needs (torch CPU wheel, Xvfb, PostgreSQL, Orthanc, dcmtk, dicom3tools)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-run}"

APT_RUN="libgl1 libegl1 libglib2.0-0 libdbus-1-3 libfontconfig1 libxkbcommon0 libosmesa6"
APT_X="xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libxkbcommon-x11-0 libxcursor1"
APT_TEST="postgresql orthanc dcmtk dicom3tools curl"  # PACS tests: a real PACS, storescu as a peer, dciodvfy
want="$APT_RUN $APT_X"
[ "$MODE" = test ] && want="$want $APT_TEST"

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "[setup] installing system packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || { echo "[setup] creating .venv"; "$PY" -m venv .venv; }
extras=""
[ "$MODE" = test ] && extras="[train,test]"
stamp=".venv/.neuroreview-installed-$(cat pyproject.toml constraints-cpu.txt | sha256sum | cut -c1-16)${extras}"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing neuroreview$extras into .venv (torch, if asked for, is the CPU build)"
  log=.venv/pip-install.log
  { .venv/bin/python -m pip install --upgrade pip && \
    .venv/bin/python -m pip install -c constraints-cpu.txt -e ".$extras"; } >"$log" 2>&1 \
    || { tail -n 40 "$log"; echo "[setup] pip install failed; full log in $log" >&2; exit 1; }
  touch "$stamp"
fi
