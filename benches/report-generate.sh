#!/usr/bin/env bash
# How long `monban report generate` takes for a day of 1,000,000 recorded evaluations
# over 10,000 policy domains, on one core (taskset -c 0), with SQLite and with
# PostgreSQL (issue 11's target: 10 s or less each).
#
#   benches/report-generate.sh                 # 1,000,000 evaluations, 10,000 domains
#   N=100000 D=1000 benches/report-generate.sh # a quick run
#
# What it does, in a temporary directory removed on exit: fills a store with
# target/release/examples/fill_store (synthetic evaluations spread over one UTC day:
# sources, DKIM and SPF results, dispositions and overrides; not timed), then runs the
# binary users run, `monban report generate --json`, pinned to CPU 0, and reports the
# wall and CPU time and the reports written. It runs generate twice per store: the first
# writes every report, the second regenerates them (what a re-run of the daily job
# does). PostgreSQL is Debian's server started in the work directory on a loopback port
# (initdb + pg_ctl, as the postgres user when run as root), pinned to the same CPU;
# BACKENDS="sqlite" skips it.
#
# Environment: N (1000000), D (10000), BACKENDS ("sqlite postgres"), MONBAN
# (target/release/monban), FILL (target/release/examples/fill_store), KEEP=1 keeps the
# work directory.
set -euo pipefail

N=${N:-1000000}
D=${D:-10000}
BACKENDS=${BACKENDS:-sqlite postgres}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MONBAN=${MONBAN:-$ROOT/target/release/monban}
FILL=${FILL:-$ROOT/target/release/examples/fill_store}
DAY=2026-11-29
DAY_START=1795910400

say() { printf '%s\n' "$*" >&2; }
die() { say "report-generate: $*"; exit 1; }

[ -x "$MONBAN" ] || die "$MONBAN is missing: cargo build --release -p monban-cli"
[ -x "$FILL" ] || die "$FILL is missing: cargo build --release -p monban-store --example fill_store"

W=$(mktemp -d /tmp/monban-report-bench.XXXXXX)
chmod 755 "$W"
PG_STARTED=0
cleanup() {
    if [ "$PG_STARTED" = 1 ]; then as_pg "$PG_BIN/pg_ctl" -D "$W/pg/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    if [ "${KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# One timed run of generate: prints "wall cpu reports".
generate() { # store-url out-dir
    local t
    t=$( { /usr/bin/time -f '%e %U %S' taskset -c 0 "$MONBAN" report generate --store "$1" \
        --org-name "Bench Receiver" --email dmarc-reports@receiver.example --date "$DAY" \
        --out "$2" --json >"$W/last.json"; } 2>&1 | tail -n 1)
    local reports
    reports=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["reports"]))' "$W/last.json")
    awk -v t="$t" -v r="$reports" 'BEGIN { split(t, a, " "); printf "%.2f %.2f %d\n", a[1], a[2] + a[3], r }'
}

ROWS=()
bench() { # backend store-url
    say "== $1: filling $N evaluations over $D domains"
    "$FILL" "$2" "$N" "$D" "$DAY_START"
    local first second
    first=$(generate "$2" "$W/out-$1")
    second=$(generate "$2" "$W/out-$1")
    ROWS+=("$1 first $first" "$1 again $second")
}

for b in $BACKENDS; do
    case $b in
        sqlite) bench sqlite "sqlite:$W/bench.db" ;;
        postgres)
            PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
            [ -n "$PG_BIN" ] || die "PostgreSQL is not installed (apt-get install postgresql)"
            mkdir -p "$W/pg"
            [ "$(id -u)" = 0 ] && chown postgres "$W/pg"
            as_pg "$PG_BIN/initdb" -D "$W/pg/data" -A trust -U monban --no-sync -E UTF8 >/dev/null
            PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
            # The server on CPU 0 too: its share of the work (the GROUP BY) counts.
            as_pg taskset -c 0 "$PG_BIN/pg_ctl" -D "$W/pg/data" -o "-p $PORT -c listen_addresses=127.0.0.1 -k $W/pg" \
                -l "$W/pg/log" -w start >/dev/null
            PG_STARTED=1
            bench postgres "postgres://monban@127.0.0.1:$PORT/postgres"
            ;;
        *) die "unknown backend $b" ;;
    esac
done

printf '%-9s %-6s %8s %8s %8s   (%s evaluations, %s domains, one core; target <= 10 s)\n' \
    backend run wall_s cpu_s reports "$N" "$D"
for r in "${ROWS[@]}"; do
    # shellcheck disable=SC2086
    printf '%-9s %-6s %8s %8s %8s\n' $r
done
