# Sourced by scripts/test.sh: start a throwaway PostgreSQL cluster on a private port and
# export NEUROREVIEW_TEST_PG_URL. The cluster lives in a temp dir and is removed on exit.
# a port nobody listens on now (two test runs on one machine no longer collide on fixed ports)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
if [ -z "$PG_BIN" ]; then
  echo "[test] PostgreSQL binaries not found: postgres tests will fail" >&2
else
  PG_DIR="$(mktemp -d /tmp/nr-pg.XXXXXX)"
  PG_PORT="${NEUROREVIEW_PG_PORT:-$(free_port)}"
  RUN_AS=""
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_DIR"; RUN_AS="runuser -u postgres --"; fi
  (cd / && $RUN_AS "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null)
  (cd / && $RUN_AS "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" -l "$PG_DIR/log" -w start >/dev/null)
  export NEUROREVIEW_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  trap 'cd / && $RUN_AS "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1; rm -rf "$PG_DIR"' EXIT
  echo "[test] PostgreSQL running on 127.0.0.1:$PG_PORT"
fi
