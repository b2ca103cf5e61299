#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the order-source tests and benchmarks.
#
#   eval "$(bash scripts/postgres.sh start)"   # prints: export XLCRM_TEST_POSTGRES_URL=...
#   bash scripts/postgres.sh stop              # stops it and deletes its folder
#
# The cluster lives in a temporary folder (initdb), listens on localhost only, on a free port
# (from 54329 up), and trusts local connections: it holds generated test data, nothing else.
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (created by the
# distribution's package). Installs postgresql with apt when no server is found and we are
# root (CI). Any failure exits non-zero with the reason: the tests must not skip silently.
set -euo pipefail
STATE="${XLCRM_PG_STATE:-/tmp/xlcrm-postgres}"

find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
    return 1
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    if ! bin="$(find_bin)"; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                postgresql >/dev/null
            bin="$(find_bin)" || { echo "postgres.sh: no pg_ctl after installing postgresql" >&2; exit 1; }
        else
            echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
            exit 1
        fi
    fi
    if [ -f "$STATE/url" ] && as_owner "$bin/pg_ctl" -D "$STATE/data" status >/dev/null 2>&1; then
        echo "export XLCRM_TEST_POSTGRES_URL='$(cat "$STATE/url")'"
        return 0
    fi
    rm -rf "$STATE"
    mkdir -p "$STATE"
    [ "$(id -u)" = 0 ] && chown postgres "$STATE"
    as_owner "$bin/initdb" -D "$STATE/data" -U postgres --auth=trust --encoding=UTF8 \
        --no-instructions >"$STATE/initdb.log" 2>&1 \
        || { echo "postgres.sh: initdb failed:" >&2; cat "$STATE/initdb.log" >&2; exit 1; }
    local port=54329
    while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    as_owner "$bin/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t 60 \
        -o "-p $port -k $STATE -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
        || { echo "postgres.sh: the server did not start:" >&2; cat "$STATE/server.log" >&2; exit 1; }
    local url="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    echo "$url" >"$STATE/url"
    echo "export XLCRM_TEST_POSTGRES_URL='$url'"
}

stop() {
    local bin
    bin="$(find_bin)" || exit 0
    if [ -d "$STATE/data" ]; then
        as_owner "$bin/pg_ctl" -D "$STATE/data" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$STATE"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: postgres.sh start|stop" >&2; exit 2 ;;
esac
