#!/usr/bin/env bash
# `monban report import` side by side with parsedmarc on the same inputs (issue 12):
# records per second and peak memory, with SQLite and with PostgreSQL.
#
#   benches/report-import.sh                    # 100,000 report mails; parsedmarc on 10,000
#   N=20000 PN=2000 benches/report-import.sh     # a quick run
#
# Inputs, made in a temporary directory removed on exit:
# - the parsedmarc samples (../shared/suites/parsedmarc-samples: aggregate, failure and
#   TLS reports as files and mails);
# - N report mails in one mbox, written by monban's own report writer
#   (target/release/examples/report_corpus): most reports have a few rows, one in fifty a
#   few hundred, one in a thousand thousands (what large receivers send).
# parsedmarc (PyPI, installed into a venv by this script: target/bench-venv) reads the
# first PN mails of the corpus (--offline: no DNS; its time grows with N, and its memory
# with everything it keeps), and the samples; monban reads the same PN mails, the whole
# N-mail mbox, and the samples, into a fresh store each time. Both are timed with
# /usr/bin/time (wall, CPU, peak RSS), with a warm page cache (each input is read once
# before).
#
# Environment: N (100000), PN (10000), BACKENDS ("sqlite postgres"), MONBAN
# (target/release/monban), CORPUS (target/release/examples/report_corpus), VENV
# (target/bench-venv), KEEP=1 keeps the work directory.
set -euo pipefail

N=${N:-100000}
PN=${PN:-10000}
BACKENDS=${BACKENDS:-sqlite postgres}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MONBAN=${MONBAN:-$ROOT/target/release/monban}
CORPUS=${CORPUS:-$ROOT/target/release/examples/report_corpus}
VENV=${VENV:-$ROOT/target/bench-venv}
SAMPLES=$ROOT/../shared/suites/parsedmarc-samples

say() { printf '%s\n' "$*" >&2; }
die() { say "report-import: $*"; exit 1; }

[ -x "$MONBAN" ] || die "$MONBAN is missing: cargo build --release -p monban-cli"
[ -x "$CORPUS" ] || die "$CORPUS is missing: cargo build --release -p monban-report --example report_corpus"
[ -d "$SAMPLES" ] || die "$SAMPLES is missing (../shared beside the checkout)"

if ! "$VENV/bin/python" -c 'import parsedmarc' 2>/dev/null; then
    say "installing parsedmarc (PyPI) into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet parsedmarc
fi
PM_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("parsedmarc"))')

W=$(mktemp -d /tmp/monban-import-bench.XXXXXX)
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

say "== writing $N report mails (and the first $PN apart)"
"$CORPUS" mbox "$W/all.mbox" "$N"
"$CORPUS" mbox "$W/part.mbox" "$PN"
mkdir -p "$W/samples"
cp -r "$SAMPLES/aggregate" "$SAMPLES/failure" "$SAMPLES/smtp_tls" "$W/samples/"
cat "$W/all.mbox" "$W/part.mbox" >/dev/null

# Prints "wall cpu rss_mib" of a command (its output to $W/out.json).
timed() {
    /usr/bin/time -o "$W/time.txt" -f '%e %U %S %M' "$@" >"$W/out.json" 2>"$W/err.txt" || true
    awk 'END { printf "%.2f %.2f %.1f\n", $1, $2 + $3, $4 / 1024 }' "$W/time.txt"
}

ROWS=()
row() { # tool backend input mails records "wall cpu rss"
    local rate
    rate=$(awk -v r="$5" -v t="$6" 'BEGIN { split(t, a, " "); if (a[1] > 0) printf "%d", r / a[1]; else print 0 }')
    ROWS+=("$1|$2|$3|$4|$5|$6|$rate")
}

# parsedmarc: records counted in its aggregate JSON output.
parsedmarc_run() { # input-name path mails
    local out="$W/pm-$1"
    rm -rf "$out"
    say "== parsedmarc $PM_VERSION: $1"
    local t
    t=$(timed "$VENV/bin/parsedmarc" --offline -s -r -o "$out" "$2")
    local records
    records=$(python3 -c 'import json,sys
try: d=json.load(open(sys.argv[1]))
except Exception: d=[]
print(sum(len(r["records"]) for r in d))' "$out/aggregate.json")
    row parsedmarc - "$1" "$3" "$records" "$t"
    PM_RATE=$(awk -v r="$records" -v t="$t" 'BEGIN { split(t, a, " "); printf "%d", r / a[1] }')
}

monban_run() { # backend store-url input-name path mails
    say "== monban $1: $3"
    local t
    t=$(timed "$MONBAN" report import --store "$2" --json "$4")
    local records
    records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_new"])' "$W/out.json")
    row monban "$1" "$3" "$5" "$records" "$t"
}

PM_RATE=0
parsedmarc_run samples "$W/samples" "$(find "$W/samples" -type f | wc -l)"
parsedmarc_run "corpus-$PN" "$W/part.mbox" "$PN"
PM_CORPUS_RATE=$PM_RATE

fresh_store() { # backend name -> url
    case $1 in
        sqlite) rm -f "$W/$2.db"*; echo "sqlite:$W/$2.db" ;;
        postgres)
            as_pg psql -q -h "$W/pg" -p "$PORT" -U monban -d postgres -c "DROP DATABASE IF EXISTS $2" >/dev/null 2>&1
            as_pg psql -q -h "$W/pg" -p "$PORT" -U monban -d postgres -c "CREATE DATABASE $2" >/dev/null
            echo "postgres://monban@127.0.0.1:$PORT/$2" ;;
    esac
}

for b in $BACKENDS; do
    if [ "$b" = postgres ]; then
        PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
        [ -n "$PG_BIN" ] || die "PostgreSQL is not installed (apt-get install postgresql)"
        mkdir -p "$W/pg"
        [ "$(id -u)" = 0 ] && chown postgres "$W/pg"
        as_pg "$PG_BIN/initdb" -D "$W/pg/data" -A trust -U monban --no-sync -E UTF8 >/dev/null
        PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        as_pg "$PG_BIN/pg_ctl" -D "$W/pg/data" -o "-p $PORT -c listen_addresses=127.0.0.1 -k $W/pg" \
            -l "$W/pg/log" -w start >/dev/null
        PG_STARTED=1
    fi
    monban_run "$b" "$(fresh_store "$b" samples)" samples "$W/samples" "$(find "$W/samples" -type f | wc -l)"
    monban_run "$b" "$(fresh_store "$b" part)" "corpus-$PN" "$W/part.mbox" "$PN"
    monban_run "$b" "$(fresh_store "$b" whole)" "corpus-$N" "$W/all.mbox" "$N"
done

printf '\n%-10s %-8s %-14s %7s %9s %8s %8s %8s %10s %7s\n' tool store input mails records wall_s cpu_s rss_mib records/s "x pm"
for r in "${ROWS[@]}"; do
    IFS='|' read -r tool store input mails records t rate <<<"$r"
    read -r wall cpu rss <<<"$t"
    ratio=""
    if [ "$tool" = monban ] && [ "$input" != samples ] && [ "$PM_CORPUS_RATE" -gt 0 ]; then
        ratio=$(awk -v a="$rate" -v b="$PM_CORPUS_RATE" 'BEGIN { printf "%.1f", a / b }')
    fi
    printf '%-10s %-8s %-14s %7s %9s %8s %8s %8s %10s %7s\n' "$tool" "$store" "$input" "$mails" "$records" "$wall" "$cpu" "$rss" "$rate" "$ratio"
done
say "(x pm: monban's records/s over parsedmarc's on the corpus; targets: >= 20x, rss <= 100 MiB for the $N-mail mbox)"
