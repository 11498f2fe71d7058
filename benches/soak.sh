#!/usr/bin/env bash
# Soak (issue 18): many messages through a real Postfix with monban's milter, over many
# concurrent SMTP sessions, with a mix of valid (DKIM-signed, DMARC pass), spoofed
# (example.com, p=reject, unsigned), malformed (no usable From) and huge (4 MB, signed)
# messages, and slow clients (one session in 50 dribbles its message). The milter
# records every evaluation (SQLite store), as a production milter would.
#
#   sudo benches/soak.sh                   # 100,000 messages, 100 sessions
#   sudo N=5000 benches/soak.sh            # a quick run
#
# Judged: lost (accepted by Postfix but never delivered, or never accepted after 5 tries
# of a 4xx) and misjudged (a valid message refused or delivered without mx.test's
# dkim=pass and dmarc=pass; a spoofed message accepted; a malformed one delivered with
# dmarc=pass): both must be 0. Reported: the milter's memory (RSS) and open files every
# 5 s, and whether RSS stays flat after warm-up (the last quarter against the second);
# the milter's end-of-message time (p50/p99 from its histogram, an upper bound at a
# bucket edge) and the client's end-of-data wait (Postfix and the milter together).
#
# Environment: N (100000), SESSIONS (100), BASE_PORT (27300), MONBAN
# (target/release/monban), KEEP=1. Needs root, Debian's postfix and nsd, python3.
set -euo pipefail

N=${N:-100000}
SESSIONS=${SESSIONS:-100}
BASE_PORT=${BASE_PORT:-27300}
KEEP=${KEEP:-0}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MONBAN=${MONBAN:-$ROOT/target/release/monban}
ZONE=$ROOT/examples/example.zone
KEY=$ROOT/examples/keys/s2026.private
BENCH=soak
PIDS=()
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

R_PORT=$((BASE_PORT + 1))
SINK_PORT=$((BASE_PORT + 2))
MILTER_PORT=$((BASE_PORT + 3))
NSD_PORT=$((BASE_PORT + 4))
METRICS_PORT=$((BASE_PORT + 5))

[ "$(id -u)" = 0 ] || die "run as root (Postfix and smtp-sink need it)"
[ -x "$MONBAN" ] || die "$MONBAN not found: cargo build --release -p monban-cli"
PATH=$PATH:/usr/sbin:/sbin
for c in smtp-sink postfix postsuper nsd python3 curl; do
    command -v "$c" >/dev/null || die "$c not found (apt-get install postfix nsd curl)"
done
for p in $(seq "$BASE_PORT" $((BASE_PORT + 6))); do
    port_busy "$p" && die "port $p is in use: choose another BASE_PORT"
done

W=$(mktemp -d /tmp/monban-soak.XXXXXX)
chmod 755 "$W"
stop_services() { postfix -c "$W/r/etc" stop >/dev/null 2>&1; }
bench_traps

# DNS: nsd with the example zone (its own TTLs: the milter's cache works as in production).
mkdir -p "$W/dns"
root_zone "$ZONE" >"$W/dns/root.zone"
start_nsd "$NSD_PORT"

# The message kinds.
mkdir -p "$W/msg"
head_of() { # SUBJECT
    printf 'From: Alice Example <alice@example.com>\nTo: Bob <bob@example.net>\n'
    printf 'Subject: %s\nDate: Sun, 22 Nov 2026 10:00:00 +0900\n' "$1"
    printf 'Message-ID: <%s@mail.example.com>\nMIME-Version: 1.0\n' "$(echo "$1" | tr -c 'a-z0-9\n' -)"
    printf 'Content-Type: text/plain; charset=us-ascii\n\n'
}
{ head_of "Soak: valid"; for i in $(seq 1 30); do printf 'Line %02d: an ordinary message.\n' "$i"; done; } >"$W/msg/valid.unsigned"
"$MONBAN" sign --domain example.com --selector s2026 --key "$KEY" "$W/msg/valid.unsigned" >"$W/msg/valid.eml"
{ head_of "Soak: huge"; python3 -c 'import sys
line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-76-chars.\n"
sys.stdout.write(line * (4 * 1024 * 1024 // len(line)))'; } >"$W/msg/huge.unsigned"
"$MONBAN" sign --domain example.com --selector s2026 --key "$KEY" "$W/msg/huge.unsigned" >"$W/msg/huge.eml"
{ head_of "Soak: spoofed"; echo "Please wire the money today."; } >"$W/msg/spoofed.eml"
{ printf 'From: <<<alice@example.com\nTo: Bob <bob@example.net>\nSubject: Soak: malformed\n\n'
  echo "A From that does not parse."; } >"$W/msg/malformed.eml"

# Postfix (receiving, with the milter), smtp-sink behind it, the milter.
postfix_instance r "$R_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" \
    "message_size_limit = 20480000
default_process_limit = $((SESSIONS + 20))"
mkdir -p "$W/sink" "$W/store"
chown postfix "$W/sink"
spawn smtp-sink -u postfix -h sink.test -D "$W/sink/all.dump" "127.0.0.1:$SINK_PORT" 512
SINK_PID=$LAST_PID
wait_listen "$SINK_PORT"
cat >"$W/milter.toml" <<EOF
listen = "inet:127.0.0.1:$MILTER_PORT"
authserv_id = "mx.test"
trusted_networks = []
enforce_reject = true
metrics_listen = "127.0.0.1:$METRICS_PORT"
[dns]
server = "127.0.0.1:$NSD_PORT"
[store]
url = "sqlite:$W/store/monban.db"
record = true
EOF
"$MONBAN" milter --config "$W/milter.toml" --check-config >/dev/null
spawn "$MONBAN" milter --config "$W/milter.toml" 2>>"$W/milter.log"
MILTER_PID=$LAST_PID
wait_listen "$MILTER_PORT"

# The milter's memory and open files, every 5 s.
sample() {
    local t0 now
    t0=$(date +%s)
    while kill -0 "$MILTER_PID" 2>/dev/null; do
        now=$(date +%s)
        printf '%s\t%s\t%s\t%s\n' $((now - t0)) \
            "$(awk '/^VmRSS/ { print $2 }' /proc/"$MILTER_PID"/status 2>/dev/null)" \
            "$(ls /proc/"$MILTER_PID"/fd 2>/dev/null | wc -l)" \
            "$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '$1 == "monban_milter_end_of_message_seconds_count" { print $2 }')" \
            >>"$W/samples.tsv"
        sleep 5
    done
}
printf 'seconds\trss_kib\tfds\tmessages\n' >"$W/samples.tsv"
spawn sample
SAMPLER=$LAST_PID

say "work directory: $W; monban: $("$MONBAN" --version); $N messages, $SESSIONS sessions"
t0=$(date +%s.%N)
python3 "$ROOT/benches/soak_client.py" "127.0.0.1:$R_PORT" "$N" "$SESSIONS" "$W/msg" "$W/outcomes.jsonl"
t1=$(date +%s.%N)
for i in $(seq 3000); do [ "$(queue_left r)" -eq 0 ] && break; sleep 0.1; done
sleep 6   # one more sample after the last message
stop_pid "$SAMPLER"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" >"$W/metrics.txt"
stop_pid "$SINK_PID"

python3 - "$W" "$t0" "$t1" "$(queue_left r)" <<'EOF'
import json, re, sys
w, t0, t1, left = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
outcomes = [json.loads(l) for l in open(f"{w}/outcomes.jsonl")]
# The sink's dump: one record per message, from its X-Client-Addr line.
delivered = {}
try:
    text = open(f"{w}/sink/all.dump", "rb").read().decode("latin-1").replace("\r\n", "\n")
except OSError:
    text = ""
for rec in text.split("\nX-Client-Addr: ")[0:]:
    head = rec.split("\n\n", 1)[0]
    unfolded = re.sub(r"\n[ \t]+", " ", head)
    m = re.search(r"^X-Soak-Id: (\S+)", unfolded, re.M)
    if not m:
        continue
    ar = [l for l in unfolded.split("\n") if l.lower().startswith("authentication-results:")
          and re.match(r"authentication-results:\s*mx\.test\s*;", l, re.I)]
    arl = " ".join(ar).lower()
    arl = re.sub(r"\([^()]*\)", "", arl)
    ok = bool(re.search(r"dkim=pass[^;]*header\.d=example\.com", arl)) and "dmarc=pass" in arl
    delivered[m.group(1)] = delivered.get(m.group(1), []) + [ok]
lost = misjudged = 0
kinds = {}
for o in outcomes:
    k = kinds.setdefault(o["kind"], {"sent": 0, "accepted": 0, "refused": 0, "never": 0, "delivered": 0})
    k["sent"] += 1
    got = delivered.get(o["id"], [])
    if o["code"] == 250:
        k["accepted"] += 1
        if not got:
            lost += 1
    elif 500 <= o["code"] < 600:
        k["refused"] += 1
    else:
        k["never"] += 1
        lost += 1
    k["delivered"] += len(got)
    if len(got) > 1:
        misjudged += 1  # delivered twice
    if o["kind"] in ("valid", "huge"):
        if 500 <= o["code"] < 600 or (got and not all(got)):
            misjudged += 1
    elif o["kind"] == "spoofed":
        if o["code"] == 250:
            misjudged += 1
    elif o["kind"] == "malformed":
        if any(got):
            misjudged += 1
secs = sorted(o["seconds"] for o in outcomes if o["code"])
pct = lambda p: secs[min(len(secs) - 1, int(p * len(secs)))] if secs else 0
print(f"soak: {len(outcomes)} messages in {t1 - t0:.0f} s ({len(outcomes) / (t1 - t0):.0f}/s); {left} left in the queue")
for name, k in sorted(kinds.items()):
    print(f"  {name:10s} sent {k['sent']:7d}  accepted {k['accepted']:7d}  refused {k['refused']:6d}  "
          f"never accepted {k['never']:4d}  delivered {k['delivered']:7d}")
print(f"  lost {lost}, misjudged {misjudged}")
retried = sum(1 for o in outcomes if o["tries"] > 1)
print(f"  tried more than once (a 4xx or a broken connection): {retried}")
print(f"  end-of-data wait at the client (Postfix + milter): p50 {pct(0.5) * 1000:.1f} ms, "
      f"p99 {pct(0.99) * 1000:.1f} ms, max {secs[-1] * 1000 if secs else 0:.1f} ms")
# The milter's own end-of-message histogram.
buckets, count = [], 0
for line in open(f"{w}/metrics.txt"):
    m = re.match(r'monban_milter_end_of_message_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
    if m and m.group(1) != "+Inf":
        buckets.append((float(m.group(1)), int(m.group(2))))
    m = re.match(r"monban_milter_end_of_message_seconds_count (\d+)", line)
    if m:
        count = int(m.group(1))
def bound(p):
    for le, n in buckets:
        if n >= p * count:
            return f"<= {le * 1000:g} ms"
    return "> 30 s"
print(f"  milter end of message ({count} messages): p50 {bound(0.5)}, p99 {bound(0.99)}")
for name in ("monban_milter_record_lost_total", "monban_milter_record_backlog_bytes"):
    for line in open(f"{w}/metrics.txt"):
        if line.startswith(name + " "):
            print(f"  {name} {line.split()[1]}")
rows = [l.split("\t") for l in open(f"{w}/samples.tsv").read().splitlines()[1:] if l.count("\t") == 3]
rows = [(int(a), int(b or 0), int(c or 0)) for a, b, c, _ in rows]
if len(rows) >= 8:
    q = len(rows) // 4
    second = max(r[1] for r in rows[q:2 * q])
    last = max(r[1] for r in rows[3 * q:])
    print(f"  milter RSS: {rows[0][1] / 1024:.0f} MiB at start, max {second / 1024:.0f} MiB in the second quarter, "
          f"max {last / 1024:.0f} MiB in the last ({(last / second - 1) * 100:+.1f}%); "
          f"open files {min(r[2] for r in rows)}..{max(r[2] for r in rows)}")
    step = max(1, len(rows) // 12)
    print("  seconds  rss_MiB  fds")
    for r in rows[::step] + [rows[-1]]:
        print(f"  {r[0]:7d}  {r[1] / 1024:7.1f}  {r[2]:3d}")
bad = lost or misjudged or left
sys.exit(1 if bad else 0)
EOF
