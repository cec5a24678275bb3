#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (tests/integration/test_postgres*.py).
#
#   scripts/postgres.sh up     start it (idempotent: a running server is only checked); installs the
#                              `postgresql` apt package first when no /usr/lib/postgresql/*/bin exists (root)
#   scripts/postgres.sh down   stop it and delete its data directory
#   scripts/postgres.sh env    print `export TOMO_TEST_POSTGRES_URL=...` (nothing when it is not running)
#
# The cluster lives in $TOMO_POSTGRES_DIR (default /tmp/tomo-postgres): data directory, log, socket and the
# port file. It listens on 127.0.0.1 only, on a free port chosen at the first `up` (never 5432, so it does not
# clash with a system server), with trust authentication for user postgres: a test server, not a real one.
# Durability is off (fsync, synchronous_commit, full_page_writes, wal_level minimal) because the data is thrown
# away, and so is autovacuum: it holds freshly migrated template databases, and CREATE DATABASE ... TEMPLATE
# waits for it in 100 ms steps (0.4 s instead of 0.04 s per test database).
# As root the server runs as the `postgres` user; otherwise as the calling user.
set -euo pipefail

STATE="${TOMO_POSTGRES_DIR:-/tmp/tomo-postgres}"
case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac
DATA="$STATE/data"
LOG="$STATE/postgres.log"
PORT_FILE="$STATE/port"
HOST=127.0.0.1
USER_NAME=postgres

say() { echo "postgres: $*"; }
die() { echo "postgres: ERROR: $*" >&2; exit 1; }
tail_log() {
    if [[ -f $LOG ]]; then
        echo "---- last lines of $LOG ----" >&2
        tail -n 30 "$LOG" >&2 || true
        echo "----" >&2
    fi
}

# bin_dir: the newest installed /usr/lib/postgresql/<version>/bin holding initdb
bin_dir() {
    local d
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1) # the glob stays literal when none exists
    [[ -x $d/initdb ]] || return 1
    echo "$d"
}

ensure_binaries() {
    bin_dir >/dev/null && return 0
    [[ $(id -u) == 0 ]] || die "no PostgreSQL in /usr/lib/postgresql/*/bin; install the 'postgresql' package (as root)"
    say "installing the postgresql package"
    local log
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "apt-get update failed"; }
    apt-get install -y -qq --no-install-recommends postgresql >>"$log" 2>&1 \
        || { tail -n 30 "$log" >&2; die "apt-get install postgresql failed"; }
    rm -f "$log"
    bin_dir >/dev/null || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb exists"
}

# as_owner CMD...: run as the cluster's owner (postgres when we are root; initdb refuses to run as root)
as_owner() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() { # a TCP port nobody listens on now (asked from the kernel), never 5432
    local port
    while :; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        [[ $port != 5432 ]] && { echo "$port"; return 0; }
    done
}

answers() { # answers BIN PORT: the server accepts connections on 127.0.0.1:PORT
    "$1/pg_isready" -q -h "$HOST" -p "$2" -U "$USER_NAME" -t 2 </dev/null
}

answering_port() { # prints the recorded port if a server answers on it (no access to the data dir needed)
    local bin=$1 port
    [[ -s $PORT_FILE ]] || return 1
    port=$(tr -dc '0-9' <"$PORT_FILE")
    [[ -n $port ]] && answers "$bin" "$port" || return 1
    echo "$port"
}

running_port() { # prints the port if our cluster runs and answers on it
    as_owner "$1/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || return 1
    answering_port "$1"
}

init_cluster() {
    local bin=$1 owner
    owner=$(id -un)
    [[ $(id -u) == 0 ]] && owner=postgres
    install -d -m 755 -o "$owner" "$STATE" # the data dir inside is 0700
    [[ -f $DATA/PG_VERSION ]] && return 0
    rm -rf "$DATA"
    as_owner "$bin/initdb" -D "$DATA" -U "$USER_NAME" --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$STATE/initdb.log" 2>&1 || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
}

cmd_up() {
    local bin port t0=$SECONDS
    ensure_binaries
    bin=$(bin_dir)
    if port=$(running_port "$bin"); then
        say "up (already running on $HOST:$port)"
        return 0
    fi
    init_cluster "$bin"
    as_owner "$bin/pg_ctl" -D "$DATA" stop -m immediate >/dev/null 2>&1 || true # a stale or half-started one
    port=$(free_port)
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 start -o "-c listen_addresses=$HOST -p $port \
        -c unix_socket_directories=$STATE -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=200 -c wal_level=minimal -c max_wal_senders=0 -c autovacuum=off" >/dev/null || { tail_log; die "the server did not start"; }
    answers "$bin" "$port" || { tail_log; die "the server started but does not answer on $HOST:$port"; }
    echo "$port" >"$PORT_FILE"
    say "up on $HOST:$port (PostgreSQL $(basename "$(dirname "$bin")"), $((SECONDS - t0)) s); eval \"\$(scripts/postgres.sh env)\""
}

cmd_down() {
    local bin
    if bin=$(bin_dir) && [[ -f $DATA/PG_VERSION ]]; then
        as_owner "$bin/pg_ctl" -D "$DATA" stop -m fast -t 30 >/dev/null 2>&1 || true
    fi
    rm -rf "$STATE"
    say "stopped; $STATE removed"
}

cmd_env() {
    local bin port
    if ! bin=$(bin_dir) || ! port=$(answering_port "$bin"); then
        echo "postgres: not running (scripts/postgres.sh up); TOMO_TEST_POSTGRES_URL not set" >&2
        return 0
    fi
    printf 'export TOMO_TEST_POSTGRES_URL=%q\n' "postgresql+asyncpg://$USER_NAME@$HOST:$port/postgres"
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    *) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
