#!/usr/bin/env bash
# Faults injected end to end (issue 18): a sending Postfix relays signed mail to a
# receiving Postfix with monban's milter, which relays to smtp-sink; while mail flows,
# one fault at a time is turned on for a while and then off:
#
#   baseline        no fault
#   dns-slow        every DNS answer comes after 3 s (the milter's DNS timeout is 1 s)
#   dns-servfail    every DNS answer is SERVFAIL
#   dns-truncate    every UDP answer is truncated (TC): the resolver must retry over TCP
#   dns-dies        the DNS server is killed, and started again later
#   milter-killed   the milter is killed (SIGKILL) under load, and started again later
#   store-locked    the SQLite store is locked by another process (an exclusive lock)
#   store-down      the PostgreSQL store is stopped, and started again later
#                   (the milter then runs with a PostgreSQL store; PG=0 skips it)
#
# For each: 0 messages lost (every message is delivered to the sink once the fault is
# over: a tempfail is fine, the sending Postfix retries), 0 misjudged (every delivered
# message carries mx.test's dkim=pass and dmarc=pass: a fault never turns into a
# verdict), 0 bounced, both queues empty when the fault has ended, and for the store
# faults no evaluation lost (monban_milter_record_lost_total stays 0, the journal is
# replayed: the store ends with at least as many evaluations as deliveries).
#
#   sudo benches/faults.sh                 # 200 messages per phase, about 25 s each
#   sudo N=2000 FAULT_SECONDS=20 benches/faults.sh
#
# Environment: N (200), SESSIONS (10), FAULT_SECONDS (8), PHASES (all, or a list such as
# "baseline dns-slow"), PG (1), BASE_PORT (27200: ports BASE..BASE+10 on 127.0.0.1),
# MONBAN (target/release/monban, else target/debug/monban), KEEP=1 keeps the work
# directory. Needs root, Debian's postfix and nsd (installed when missing), python3,
# and PostgreSQL's server for store-down. Everything on 127.0.0.1, in a temporary
# directory removed on exit with every process started.
set -euo pipefail

N=${N:-200}
SESSIONS=${SESSIONS:-10}
FAULT_SECONDS=${FAULT_SECONDS:-8}
PG=${PG:-1}
BASE_PORT=${BASE_PORT:-27200}
KEEP=${KEEP:-0}
ALL_PHASES="baseline dns-slow dns-servfail dns-truncate dns-dies milter-killed store-locked store-down"
PHASES=${PHASES:-$ALL_PHASES}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${MONBAN:-}" ]; then
    MONBAN=$ROOT/target/release/monban
    [ -x "$MONBAN" ] || MONBAN=$ROOT/target/debug/monban
fi
ZONE=$ROOT/examples/example.zone
KEY=$ROOT/examples/keys/s2026.private
BENCH=faults
PIDS=()
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

S_PORT=$((BASE_PORT + 1))      # the sending Postfix
R_PORT=$((BASE_PORT + 2))      # the receiving Postfix, with the milter
SINK_PORT=$((BASE_PORT + 3))
MILTER_PORT=$((BASE_PORT + 4))
DNS_PORT=$((BASE_PORT + 5))    # the fault proxy
NSD_PORT=$((BASE_PORT + 6))
PG_PORT=$((BASE_PORT + 7))
METRICS_PORT=$((BASE_PORT + 8))

[ "$(id -u)" = 0 ] || die "run as root (Postfix and smtp-sink need it)"
[ -x "$MONBAN" ] || die "$MONBAN not found: cargo build --release -p monban-cli"
missing=()
command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || missing+=(postfix)
command -v nsd >/dev/null || [ -x /usr/sbin/nsd ] || missing+=(nsd)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PATH=$PATH:/usr/sbin:/sbin
for c in smtp-source smtp-sink postfix postsuper nsd python3 curl; do
    command -v "$c" >/dev/null || die "$c not found"
done
for p in $(seq "$BASE_PORT" $((BASE_PORT + 10))); do
    port_busy "$p" && die "port $p is in use: choose another BASE_PORT"
done
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ "$PG" = 1 ] && [ ! -x "$PG_BIN/initdb" ]; then
    say "no PostgreSQL server (initdb): store-down is skipped"
    PG=0
fi

W=$(mktemp -d /tmp/monban-faults.XXXXXX)
chmod 755 "$W"
POSTFIX_S=""
POSTFIX_R=""
PROXY_PID=""
MILTER_PID=""
stop_services() {
    local inst
    for inst in s r; do postfix -c "$W/$inst/etc" stop >/dev/null 2>&1; done
    [ -d "$W/pg/data" ] && su postgres -c "$PG_BIN/pg_ctl -D $W/pg/data -m immediate stop" >/dev/null 2>&1
}
bench_traps

# --- DNS: nsd with the example zone (every TTL 1 s, so no cache hides a fault), behind
# the fault proxy (benches/faultdns.py) that the milter asks.
mkdir -p "$W/dns"
chown nsd "$W/dns" 2>/dev/null || true
root_zone "$ZONE" 1 >"$W/dns/root.zone"
start_nsd "$NSD_PORT"
echo ok >"$W/dns/mode"
start_proxy() {
    spawn python3 "$ROOT/benches/faultdns.py" "$DNS_PORT" "$NSD_PORT" "$W/dns/mode" 3
    PROXY_PID=$LAST_PID
    wait_listen "$DNS_PORT" udp
}
start_proxy

# --- The message: signed once by monban (d=example.com, s=s2026).
mkdir -p "$W/msg"
{
    printf 'From: Alice Example <alice@example.com>\nTo: Bob <bob@example.net>\n'
    printf 'Subject: Faults run\nDate: Sun, 22 Nov 2026 10:00:00 +0900\n'
    printf 'Message-ID: <faults@mail.example.com>\n\nHi Bob,\n\n'
    for i in $(seq 1 20); do printf 'Line %02d of a message sent while things break.\n' "$i"; done
} >"$W/msg/unsigned.eml"
"$MONBAN" sign --domain example.com --selector s2026 --key "$KEY" "$W/msg/unsigned.eml" >"$W/msg/signed.eml"

# --- Two private Postfix instances (postfix_instance, benches/lib.sh).

# --- The store: SQLite by default; PostgreSQL for store-down.
mkdir -p "$W/store"
STORE_URL="sqlite:$W/store/monban.db"
start_pg() {
    if [ ! -d "$W/pg/data" ]; then
        mkdir -p "$W/pg"
        chown postgres "$W/pg"
        su postgres -c "$PG_BIN/initdb -D $W/pg/data -A trust -U postgres" >"$W/pg/initdb.log" 2>&1 ||
            die "initdb failed (see $W/pg/initdb.log)"
    fi
    su postgres -c "$PG_BIN/pg_ctl -D $W/pg/data -l $W/pg/server.log -w -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -k $W/pg' start" >/dev/null ||
        die "PostgreSQL did not start (see $W/pg/server.log)"
}
stop_pg() { su postgres -c "$PG_BIN/pg_ctl -D $W/pg/data -m fast -w stop" >/dev/null; }

start_milter() {
    cat >"$W/milter.toml" <<EOF
listen = "inet:127.0.0.1:$MILTER_PORT"
authserv_id = "mx.test"
trusted_networks = []
enforce_reject = true
metrics_listen = "127.0.0.1:$METRICS_PORT"
[dns]
server = "127.0.0.1:$DNS_PORT"
timeout_seconds = 1
[store]
url = "$STORE_URL"
record = true
journal = "$W/store/journal"
EOF
    "$MONBAN" milter --config "$W/milter.toml" --check-config >/dev/null
    spawn "$MONBAN" milter --config "$W/milter.toml" 2>>"$W/milter.log"
    MILTER_PID=$LAST_PID
    wait_listen "$MILTER_PORT"
}
metric() { # NAME: its value (0 when absent)
    curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
evaluations() {
    case $STORE_URL in
        sqlite:*) python3 -c 'import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1], timeout=5).execute("select count(*) from evaluations").fetchone()[0])
except Exception: print(-1)' "${STORE_URL#sqlite:}" ;;
        *) su postgres -c "$PG_BIN/psql -h 127.0.0.1 -p $PG_PORT -d monban -tAc 'select count(*) from evaluations'" 2>/dev/null || echo -1 ;;
    esac
}

postfix_instance r "$R_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT"
postfix_instance s "$S_PORT" "$R_PORT" ""
start_milter

# --- The faults: turned on, then off.
fault_on() {
    case $1 in
        dns-slow) echo slow >"$W/dns/mode" ;;
        dns-servfail) echo servfail >"$W/dns/mode" ;;
        dns-truncate) rm -f "$W/dns/mode.tcp"; echo truncate >"$W/dns/mode" ;;
        dns-dies) kill -9 "$PROXY_PID"; stop_pid "$PROXY_PID" ;;
        milter-killed) kill -9 "$MILTER_PID"; stop_pid "$MILTER_PID" ;;
        store-locked)
            # Another process holds an exclusive lock on the SQLite file.
            spawn python3 -c 'import sqlite3,sys,time
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute("BEGIN EXCLUSIVE"); print("locked", flush=True); time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")' "${STORE_URL#sqlite:}" "$FAULT_SECONDS" >/dev/null
            LOCK_PID=$LAST_PID ;;
        store-down) stop_pg ;;
    esac
}
fault_off() {
    case $1 in
        dns-slow | dns-servfail | dns-truncate) echo ok >"$W/dns/mode" ;;
        dns-dies) start_proxy ;;
        milter-killed) start_milter ;;
        store-locked) wait "$LOCK_PID" 2>/dev/null || true; stop_pid "$LOCK_PID" ;;
        store-down) start_pg ;;
    esac
}

RESULTS=()
PROBLEMS=0
phase() { # NAME
    local name=$1 dump="$W/sink/$1.dump"
    mkdir -p "$W/sink"
    chown postfix "$W/sink"
    spawn smtp-sink -u postfix -h sink.test -D "$dump" "127.0.0.1:$SINK_PORT" 256
    local sink_pid=$LAST_PID
    wait_listen "$SINK_PORT"
    local r0 s0 lost0
    r0=$(wc -l <"$W/r/postfix.log" 2>/dev/null || echo 0)
    s0=$(wc -l <"$W/s/postfix.log" 2>/dev/null || echo 0)
    lost0=$(metric monban_milter_record_lost_total)
    say "== $name: $N messages, $SESSIONS sessions${2:+, fault for $FAULT_SECONDS s}"
    local t0 t_on="" t_off="" t_end
    t0=$(date +%s.%N)
    # Paced so that mail flows before, during and after the fault: each session waits
    # between its messages (smtp-source -w, whole seconds).
    local wait_s=$(( ((FAULT_SECONDS + 6) * SESSIONS + N - 1) / N ))
    spawn timeout 900 smtp-source -s "$SESSIONS" -m "$N" -w "$wait_s" -M client.example.net \
        -f alice@example.com -t bob@example.net -F "$W/msg/signed.eml" "127.0.0.1:$S_PORT" \
        >"$W/$name.source.log" 2>&1
    local src=$LAST_PID
    if [ "$name" != baseline ]; then
        sleep 1
        t_on=$(date +%s.%N)
        fault_on "$name"
        sleep "$FAULT_SECONDS"
        fault_off "$name"
        t_off=$(date +%s.%N)
    fi
    local src_rc=0
    wait "$src" || src_rc=$?
    stop_pid "$src"
    local t_sent
    t_sent=$(date +%s.%N)
    # The fault is over: both queues must drain (the sending Postfix retries).
    local i drained=0
    for i in $(seq 1800); do
        if [ "$(queue_left s)" -eq 0 ] && [ "$(queue_left r)" -eq 0 ]; then drained=1; break; fi
        sleep 0.1
    done
    t_end=$(date +%s.%N)
    sleep 0.5
    stop_pid "$sink_pid"
    local delivered misjudged lost tempfails bounced rejected left recorded lost_records backlog
    delivered=$(count_delivered "$dump")
    misjudged=$(misjudged_verify "$dump")
    lost=$((N - delivered))
    # Postfix logs the milter's enhanced status code: 4.x.x deferred, 5.x.x refused.
    tempfails=$(tail -n +"$((s0 + 1))" "$W/s/postfix.log" | grep -c 'status=deferred' || true)
    rejected=$(tail -n +"$((r0 + 1))" "$W/r/postfix.log" | grep -cE 'milter-reject: [A-Z-]+ from [^:]*: 5\.' || true)
    bounced=$(tail -n +"$((s0 + 1))" "$W/s/postfix.log" | grep -c 'status=bounced' || true)
    left=$(( $(queue_left s) + $(queue_left r) ))
    # Recording: nothing lost, the journal drained, at least one evaluation per delivery.
    for i in $(seq 300); do
        backlog=$(metric monban_milter_record_backlog_bytes)
        [ "${backlog:-0}" = 0 ] && break
        sleep 0.1
    done
    lost_records=$(( $(metric monban_milter_record_lost_total) - lost0 ))
    recorded=$(evaluations)
    local ok=ok
    if [ "$src_rc" -ne 0 ] || [ "$drained" -ne 1 ] || [ "$lost" -ne 0 ] || [ "$misjudged" -ne 0 ] ||
        [ "$bounced" -ne 0 ] || [ "$rejected" -ne 0 ] || [ "$lost_records" -ne 0 ] || [ "${backlog:-0}" != 0 ]; then
        ok=PROBLEM
        PROBLEMS=1
        say "   PROBLEM: smtp-source exit $src_rc, drained $drained, $left left, $lost lost, $misjudged misjudged, $bounced bounced, $rejected rejected, $lost_records evaluations lost, journal backlog ${backlog:-?} bytes"
        tail -n +"$((r0 + 1))" "$W/r/postfix.log" | grep -E 'warning|reject|error|fatal' | head -n 5 | sed 's/^/   receiver: /' >&2 || true
        tail -n +"$((s0 + 1))" "$W/s/postfix.log" | grep -E 'bounced|warning|error|fatal' | head -n 5 | sed 's/^/   sender: /' >&2 || true
    fi
    local during=- until_drained
    [ -n "$t_on" ] && during=$(awk -v a="$t_on" -v b="$t_off" 'BEGIN { printf "%.0f", b - a }')
    # From the later of the fault's end and the last message sent.
    until_drained=$(awk -v a="${t_off:-$t0}" -v s="$t_sent" -v b="$t_end" 'BEGIN { if (s > a) a = s; printf "%.1f", b - a }')
    RESULTS+=("$name $during $until_drained $delivered $lost $misjudged $tempfails $bounced $left $lost_records $recorded $ok")
    if [ "$name" = dns-truncate ]; then
        say "   DNS queries asked again over TCP: $(stat -c %s "$W/dns/mode.tcp" 2>/dev/null || echo 0)"
    fi
    say "   delivered $delivered, lost $lost, misjudged $misjudged, tempfailed $tempfails times, bounced $bounced; queues empty ${until_drained} s after the fault ended; evaluations stored $recorded (lost $lost_records)"
}

say "work directory: $W; monban: $("$MONBAN" --version)"
for p in $PHASES; do
    case " $ALL_PHASES " in *" $p "*) ;; *) die "unknown phase $p (phases: $ALL_PHASES)" ;; esac
    if [ "$p" = store-down ]; then
        [ "$PG" = 1 ] || { say "== store-down: skipped (PG=0 or no PostgreSQL server)"; continue; }
        # The milter moves to a PostgreSQL store for this phase.
        start_pg
        su postgres -c "$PG_BIN/createdb -h 127.0.0.1 -p $PG_PORT monban" 2>/dev/null || true
        kill "$MILTER_PID"; stop_pid "$MILTER_PID"
        STORE_URL="postgres://postgres@127.0.0.1:$PG_PORT/monban"
        start_milter
    fi
    phase "$p"
done

printf '%s\n' "${RESULTS[@]}" | awk '
    BEGIN { fmt = "%-14s %8s %8s %9s %5s %9s %9s %7s %5s %8s %10s %s\n"
            printf fmt, "phase", "fault_s", "drain_s", "delivered", "lost", "misjudged", "tempfails", "bounced", "left", "rec_lost", "evaluations", "" }
    { printf fmt, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }
    END { print "(fault_s: how long the fault lasted; drain_s: from its end (or the last message sent, if"
          print " later) until both queues were empty; tempfails: deliveries the sending Postfix deferred"
          print " (a 4xx answer) and retried)" }'
[ "$PROBLEMS" = 0 ] || { say "faults: some phase lost, misjudged or bounced mail (see above)"; exit 1; }
