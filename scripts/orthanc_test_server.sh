# Sourced by scripts/test.sh: start a throwaway Orthanc PACS (Debian `orthanc`) on private ports with
# its own configuration and storage in a temp dir, and export
#   NEUROREVIEW_TEST_ORTHANC=127.0.0.1:<dicom port>:<AE title>
#   NEUROREVIEW_TEST_ORTHANC_HTTP=http://127.0.0.1:<http port>   (REST, to check what arrived)
# The server is stopped and its folder removed on exit (chained after any EXIT trap already set).
command -v free_port >/dev/null || free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ORTHANC_BIN="$(command -v Orthanc || ls /usr/sbin/Orthanc 2>/dev/null || true)"
if [ -z "$ORTHANC_BIN" ]; then
  echo "[test] Orthanc not found (Debian package orthanc): PACS tests will skip" >&2
else
  OR_DIR="$(mktemp -d /tmp/nr-orthanc.XXXXXX)"
  OR_DICOM="${NEUROREVIEW_ORTHANC_PORT:-$(free_port)}"
  OR_HTTP="${NEUROREVIEW_ORTHANC_HTTP_PORT:-$(free_port)}"
  while [ "$OR_HTTP" = "$OR_DICOM" ]; do OR_HTTP="$(free_port)"; done
  cat >"$OR_DIR/orthanc.json" <<EOF
{
  "Name": "neuroreview-test",
  "StorageDirectory": "$OR_DIR/storage",
  "IndexDirectory": "$OR_DIR/index",
  "Plugins": [],
  "DicomAet": "ORTHANC",
  "DicomPort": $OR_DICOM,
  "HttpPort": $OR_HTTP,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "SslEnabled": false,
  "DicomCheckCalledAet": false,
  "DicomCheckModalityHost": false,
  "DicomAlwaysAllowEcho": true,
  "DicomAlwaysAllowStore": true,
  "DicomAlwaysAllowFind": true,
  "DicomAlwaysAllowGet": true,
  "DicomAlwaysAllowMove": true,
  "UnknownSopClassAccepted": true,
  "DicomModalities": {},
  "StableAge": 1,
  "ConcurrentJobs": 1,
  "HttpThreadsCount": 4
}
EOF
  (cd "$OR_DIR" && exec "$ORTHANC_BIN" --logfile="$OR_DIR/orthanc.log" "$OR_DIR/orthanc.json" </dev/null >/dev/null 2>&1) &
  OR_PID=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$OR_HTTP/system" >/dev/null 2>&1 && break
    kill -0 "$OR_PID" 2>/dev/null || break
    sleep 0.1
  done
  if curl -fs "http://127.0.0.1:$OR_HTTP/system" >/dev/null 2>&1; then
    export NEUROREVIEW_TEST_ORTHANC="127.0.0.1:$OR_DICOM:ORTHANC"
    export NEUROREVIEW_TEST_ORTHANC_HTTP="http://127.0.0.1:$OR_HTTP"
    echo "[test] Orthanc running on 127.0.0.1:$OR_DICOM (DICOM, AE ORTHANC) and :$OR_HTTP (REST)"
  else
    echo "[test] Orthanc did not start: see below; PACS tests will fail" >&2
    tail -n 20 "$OR_DIR/orthanc.log" >&2 || true
    export NEUROREVIEW_TEST_ORTHANC="unavailable: Orthanc did not start"
  fi
  _nr_prev_exit="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
  _nr_orthanc_stop() { kill "$OR_PID" 2>/dev/null; wait "$OR_PID" 2>/dev/null; rm -rf "$OR_DIR"; }
  trap '_nr_orthanc_stop; eval "$_nr_prev_exit"' EXIT
fi
