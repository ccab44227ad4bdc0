#!/usr/bin/env bash
# The test command: installs the package with its test extras into .venv, starts a throwaway
# PostgreSQL server on 127.0.0.1 (so the ledger tests run against SQLite and PostgreSQL), runs
# pytest, and stops the server. Extra arguments go to pytest. Set PROVENANCE_NO_PG=1 to skip
# PostgreSQL (the PostgreSQL-backed tests are then not collected). Chromium (Debian's package) is
# installed for the HTML page's test; PROVENANCE_NO_BROWSER=1 skips that test instead.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

PG_PORT=${PROVENANCE_PG_PORT:-54329}
PGDATA=""
stop_pg() {
  if [ -n "$PGDATA" ] && [ -f "$PGDATA/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
  fi
  [ -n "$PGDATA" ] && rm -rf "$PGDATA"
}

if [ "${PROVENANCE_NO_PG:-0}" != "1" ] && [ -z "${PROVENANCE_TEST_PG_URL:-}" ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing PostgreSQL (Debian package)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
  fi
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PGDATA=$(mktemp -d /tmp/provenance-pg.XXXXXX)
  chown postgres:postgres "$PGDATA"
  trap stop_pg EXIT
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$PGDATA/server.log" \
    -o "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  export PROVENANCE_TEST_PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') running on 127.0.0.1:$PG_PORT"
fi

# A real headless Chromium for the HTML timeline's test (tests/test_plot.py); Debian's package.
if [ "${PROVENANCE_NO_BROWSER:-0}" != "1" ] && [ -z "${PROVENANCE_TEST_BROWSER:-}" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Chromium (Debian package)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq chromium >/dev/null; }
  fi
  PROVENANCE_TEST_BROWSER=$(command -v chromium)  # set -e: no Chromium stops the tests here
  export PROVENANCE_TEST_BROWSER
  echo "Chromium for the page tests: $PROVENANCE_TEST_BROWSER"
fi

.venv/bin/python -m pytest "$@"
