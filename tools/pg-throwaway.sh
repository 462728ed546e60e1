#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the tests (`.ci/run` uses it; so can you):
#   eval "$(tools/pg-throwaway.sh start)"   # prints `export FORMSCAN_TEST_PG=postgres://...`
#   tools/pg-throwaway.sh stop
# The cluster lives in $PGTEST_DIR (default: a folder under /tmp), listens on 127.0.0.1 only,
# port $PGTEST_PORT (default 55432), and trusts loopback connections: it holds test data only.
# The tests connect as `formscan`, a role that may create databases and is not a superuser:
# what a campaign's owner role needs (docs/deployment.md).
set -euo pipefail
cmd=${1:-start}
dir=${PGTEST_DIR:-/tmp/formscan-pg-test}
port=${PGTEST_PORT:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
  echo "no PostgreSQL server found (Debian: apt-get install postgresql)" >&2
  exit 1
fi
# initdb and the server refuse to run as root: run them as the package's `postgres` user.
as_owner() {
  # From /: the `postgres` user may not enter the caller's folder (a private mktemp one).
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
case "$cmd" in
  start)
    if [ ! -s "$dir/data/PG_VERSION" ]; then
      rm -rf "$dir" && mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && chown postgres "$dir"
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # TLS too, when openssl is here: a CA of its own and a certificate for 127.0.0.1, so the
    # tests can check a verified TLS connection (FORMSCAN_TEST_PG_CA).
    tls_opts=""
    if command -v openssl >/dev/null 2>&1; then
      if [ ! -s "$dir/tls/server.crt" ]; then
        mkdir -p "$dir/tls"
        (cd "$dir/tls" \
          && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 7 -subj "/CN=formscan test CA" \
          && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" \
          && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.cnf \
          && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 7 \
               -extfile san.cnf) >/dev/null 2>&1
        chmod 600 "$dir/tls/server.key"
        [ "$(id -u)" = 0 ] && chown -R postgres "$dir/tls"
      fi
      [ -s "$dir/tls/server.crt" ] && tls_opts="-c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key"
    fi
    # fsync off: a throwaway cluster trades crash safety for test speed. Already running (a
    # second start, or a run that died before its stop): used as it is.
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c max_connections=200 $tls_opts" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    fi
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -c \
      "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'formscan') THEN
         CREATE ROLE formscan LOGIN CREATEDB; END IF; END \$\$;" >/dev/null
    echo "export FORMSCAN_TEST_PG=postgres://formscan@127.0.0.1:$port/postgres"
    [ -n "$tls_opts" ] && echo "export FORMSCAN_TEST_PG_CA=$dir/tls/ca.pem"
    true
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    [ "${PGTEST_KEEP:-}" = 1 ] || rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
