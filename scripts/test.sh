#!/usr/bin/env bash
# Install what the tests need (torch CPU, Xvfb, PostgreSQL, Orthanc), start a private PostgreSQL
# server and a private Orthanc PACS, and run the whole test suite under Xvfb. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
source scripts/pg_test_server.sh   # exports NEUROREVIEW_TEST_PG_URL, stops the server on exit
source scripts/orthanc_test_server.sh   # exports NEUROREVIEW_TEST_ORTHANC(_HTTP), stops the PACS on exit
export PYTHONFAULTHANDLER=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
