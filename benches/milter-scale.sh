#!/usr/bin/env bash
# Does monban's milter use every core? (issue 16, item 2: "the milter already runs
# sessions concurrently: check that it scales the same".) Through Postfix on this
# 2-core machine the question cannot be answered: Postfix and smtp-source take most of
# the CPU and the milter under a fifth of a core (benches/milter-load.sh). So here the
# MTA side is a lean client (crates/monban-milter/examples/milter_client.rs: the milter
# protocol as Postfix speaks it, one command per write, one transaction per connection,
# SESSIONS connections at once, every reply judged), and the daemon is `monban milter`
# as users run it, with the example zone and key:
#
#   bash benches/milter-scale.sh             # N=4000 messages per run, 3 rounds
#
# Per round and per mode (verify: an RSA-2048-signed 3 KB message from an untrusted
# client, SPF + DKIM + DMARC judged; sign: the same message unsigned from a trusted
# client, signed), the daemon and the client run once on one CPU (taskset -c CPU) and
# once on every CPU; the speed-up is the ratio of the messages per second (wall clock),
# the median of the rounds. Both processes share the CPUs they are given, so the client's
# own work (about a fifth of the total) scales along with the milter's; a daemon that
# served one session at a time would show about 1.2x (the client's share alone).
#
# Environment: N (4000), SESSIONS (20), ROUNDS (3), CPU (the one CPU: 1), KEEP (1 keeps
# the work directory).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=milter-scale
W=$(mktemp -d)
PIDS=()
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
bench_traps

N=${N:-4000}
SESSIONS=${SESSIONS:-20}
ROUNDS=${ROUNDS:-3}
NCPU=$(nproc)
[ "$NCPU" -ge 2 ] || die "one CPU only: nothing to scale to"
CPU=${CPU:-1}
[ "$CPU" -lt "$NCPU" ] || CPU=0
# Every CPU this script may use (a restricted cpuset need not start at 0).
ALL=$(taskset -pc $$ | sed 's/.*: *//')
command -v taskset >/dev/null || die "taskset (util-linux) is needed"

say "building (release): monban, the milter client"
# Two builds: naming an example builds that example only, not the packages' binaries.
cargo build -q --release -p monban-cli
cargo build -q --release -p monban-milter --example milter_client
MONBAN=$ROOT/target/release/monban
CLIENT=$ROOT/target/release/examples/milter_client
KEY=$ROOT/examples/keys/s2026.private

# The message of milter-load.sh: plain text, about 3 KB, and the same signed once.
write_bench_messages "$W" "$MONBAN" "$KEY"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# 192.0.2.25 is example.com's MX (its SPF passes); 10.0.0.0/8 is trusted only in sign.
cat >"$W/milter.toml" <<EOF
listen = "inet:127.0.0.1:$PORT"
authserv_id = "mx.test"
trusted_networks = ["10.0.0.0/8"]
enforce_reject = true
[dns]
zone_file = "$ROOT/examples/example.zone"
EOF
example_signing_toml "$KEY" >>"$W/milter.toml"
"$MONBAN" milter --config "$W/milter.toml" --check-config >/dev/null 2>>"$W/milter.log" \
    || die "the milter configuration does not load (see $W/milter.log with KEEP=1)"

# The /proc/stat names of the CPUs in a taskset list ("1", "0-1").
cpu_names() {
    python3 -c 'import sys
out = []
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    out += range(int(a), int(b or a) + 1)
print(" ".join(f"cpu{c}" for c in out))' "$1"
}
# Busy clock ticks (user, nice, system, irq, softirq: not idle, iowait, steal, nor
# guest, which user already counts) of the CPUs named, summed. Only awk runs between
# the reading and the caller: a python start-up would be counted.
busy_ticks() { # "cpu0 cpu1"
    awk -v want="$1" 'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) in_set[w[i]] = 1 }
        ($1 in in_set) { sum += $2 + $3 + $4 + $7 + $8 }
        END { print sum + 0 }' /proc/stat
}
# The CPU ticks (utime + stime) of one process.
proc_ticks() { awk '{ p = index($0, ") "); split(substr($0, p + 2), a, " "); print a[12] + a[13] }' "/proc/$1/stat"; }

# One run: the daemon and the client on CPUS; prints the messages per second, how busy
# those CPUs were (% of their time, both processes and the kernel's work for them) and
# the milter process's CPU milliseconds per message, tab-separated. Called in this shell,
# not in $(...): the daemon must be in PIDS for the cleanup, and `set -e` must hold.
run() { # mode cpus
    local mode=$1 cpus=$2 msg ip out b0 b1 m0 m1 t0 t1 ncpus names
    names=$(cpu_names "$cpus")
    case $mode in
        verify) msg=$W/signed.eml ip=192.0.2.25 ;;
        sign) msg=$W/unsigned.eml ip=10.1.2.3 ;;
    esac
    spawn taskset -c "$cpus" "$MONBAN" milter --config "$W/milter.toml" >>"$W/milter.log" 2>&1
    local pid=$LAST_PID
    wait_listen "$PORT"
    b0=$(busy_ticks "$names")
    m0=$(proc_ticks "$pid")
    t0=$(date +%s%N)
    if ! out=$(taskset -c "$cpus" "$CLIENT" "127.0.0.1:$PORT" "$msg" "$N" "$SESSIONS" "$ip" \
        alice@example.com "$mode" "$ROOT/examples/example.zone"); then
        stop_pid "$pid"
        die "$mode on CPUs $cpus: misjudged or failed transactions (milter log: $W/milter.log)"
    fi
    t1=$(date +%s%N)
    b1=$(busy_ticks "$names")
    m1=$(proc_ticks "$pid")
    stop_pid "$pid"
    # Let the port be free again before the next daemon binds it.
    for _ in $(seq 50); do port_busy "$PORT" || break; sleep 0.1; done
    ncpus=$(taskset -c "$cpus" nproc)
    printf '%s\n' "$out" | awk -v b=$((b1 - b0)) -v m=$((m1 - m0)) -v hz="$(getconf CLK_TCK)" \
        -v ncpus="$ncpus" -v wall=$((t1 - t0)) \
        '{ printf "%s\t%.0f\t%.3f\n", $3, 100 * b / hz / (wall / 1e9 * ncpus), 1000 * m / hz / $1 }'
}

TSV=$W/rates.tsv
for r in $(seq "$ROUNDS"); do
    for mode in verify sign; do
        run "$mode" "$CPU" >"$W/one"
        run "$mode" "$ALL" >"$W/all"
        one=$(cat "$W/one")
        all=$(cat "$W/all")
        printf '%s\t%s\t%s\t%s\n' "$r" "$mode" "$one" "$all" >>"$TSV"
        say "round $r $mode (msgs/s, CPU busy %, milter ms/msg): CPU $CPU: ${one//$'\t'/ }; CPUs $ALL: ${all//$'\t'/ }"
    done
done

python3 - "$TSV" "$NCPU" "$N" "$SESSIONS" <<'PY'
import collections, statistics, sys
tsv, ncpu, n, sessions = sys.argv[1:]
rows = collections.defaultdict(list)
for line in open(tsv):
    f = line.rstrip("\n").split("\t")
    rows[f[1]].append([float(x) for x in f[2:]])
med = statistics.median
print(f"monban milter, {n} messages per run over {sessions} connections, daemon and client on the same CPUs")
print(f"| mode | msgs/s, 1 CPU | msgs/s, {ncpu} CPUs | speed-up | CPUs busy, 1 / {ncpu} | milter CPU ms per message, 1 / {ncpu} |")
print("|---|---:|---:|---:|---:|---:|")
for mode, xs in rows.items():
    sp = med(x[3] / x[0] for x in xs)
    print(f"| {mode} | {med(x[0] for x in xs):,.0f} | {med(x[3] for x in xs):,.0f} | {sp:.2f}x "
          f"| {med(x[1] for x in xs):.0f} % / {med(x[4] for x in xs):.0f} % "
          f"| {med(x[2] for x in xs):.3f} / {med(x[5] for x in xs):.3f} |")
PY
