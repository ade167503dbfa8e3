#!/usr/bin/env bash
# Starts a native PostgreSQL 16 with pgvector for the tests, from PyPI's pgserver package (the only
# registry here that ships PostgreSQL together with pgvector). Usage:
#   .ci/postgres.sh start <venv-dir> <data-dir> <port>   prints the TEST_DATABASE_URL to use
#   .ci/postgres.sh stop  <venv-dir> <data-dir>
# initdb and postgres refuse to run as root, so as root they run as an unprivileged user.
set -euo pipefail
action=$1 venv=$2 data=$3 port=${4:-54329}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check pgserver==0.1.4
fi
bin=$("$venv/bin/python" -W ignore -c 'import pgserver, os; print(os.path.join(os.path.dirname(pgserver.__file__), "pginstall", "bin"))')
as_owner=()
if [ "$(id -u)" = 0 ]; then
  id mechanic-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mechanic-pg
  as_owner=(runuser -u mechanic-pg --)
fi
case $action in
  start)
    password=mechanic-test-password
    if [ ! -f "$data/PG_VERSION" ]; then
      mkdir -p "$data"
      [ ${#as_owner[@]} -eq 0 ] || chown mechanic-pg "$data"
      pwfile=$(mktemp) && echo "$password" > "$pwfile" && chmod 644 "$pwfile"
      "${as_owner[@]}" "$bin/initdb" -D "$data" -U mechanic --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 >/dev/null
      rm -f "$pwfile"
    fi
    "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
    echo "postgres://mechanic:$password@127.0.0.1:$port/postgres"
    ;;
  stop)
    "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true
    ;;
esac
