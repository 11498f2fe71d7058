#!/usr/bin/env bash
# Load benchmark of monban's milter in a real Postfix, against Postfix alone and against
# Postfix + OpenDKIM + OpenDMARC (the Debian packages), with the same key and zone.
#
#   sudo benches/milter-load.sh            # 10,000 messages per configuration
#   sudo N=1000 benches/milter-load.sh     # a quick run
#
# What it does (everything in a temporary directory, everything on 127.0.0.1, all of it
# stopped and removed on exit):
#   - nsd serves examples/example.zone (as one zone at the root) on 127.0.0.1:53, for
#     monban ([dns] server), OpenDKIM (Nameservers) and OpenDMARC and its libspf2
#     (libresolv: port 53 only, so OpenDKIM and OpenDMARC run in a private mount namespace
#     whose /etc/resolv.conf names 127.0.0.1; the system's file is not touched);
#   - a private Postfix instance (postfix -c DIR start-fg) receives with smtpd on one
#     port per run, with that run's milters, and relays everything to smtp-sink, which
#     appends each message to a dump file: delivery is not the bottleneck, and every
#     delivered message, with the headers the milters added, is there to count and judge;
#   - smtp-source sends N messages over S parallel sessions (one message per connection,
#     as an inbound MX sees them), from 127.0.0.1, MAIL FROM alice@example.com, with a
#     fixed message From alice@example.com.
# Runs, in sequence:
#   postfix            Postfix alone (the DKIM-signed message)
#   monban-verify      + monban milter, 127.0.0.1 untrusted: SPF, DKIM, DMARC judged
#   null-milter        + benches/null-milter.py, a milter that judges nothing but speaks
#                      to Postfix as monban does (same steps and replies, one field added
#                      at the end): Postfix's own extra CPU for such a milter, the floor of
#                      Postfix's side of "added" (NULL=0 skips it and null-sign)
#   monban-record      the same, recording every evaluation for aggregate reports
#                      ([store] url = SQLite): the journal and the writer thread are in
#                      the milter process, so its CPU includes them (RECORD=0 skips it)
#   monban-verify-again  monban-verify once more (with RECORD=1): recording is compared
#                      with the mean of the two, as runs differ by a few percent
#   opendkim-verify    + opendkim (Mode sv) + opendmarc (SPFSelfValidate), 127.0.0.1 not
#                      internal / not ignored: the same three checks
#   monban-sign        + monban milter, 127.0.0.1 trusted: the unsigned message is signed
#   null-sign          the null milter on the unsigned message, inserting a copy of the
#                      DKIM-Signature field `monban sign` put on the signed message (the
#                      same signer as the milter's: its size and folding) instead: the
#                      floor of a signing run (with SIGN=1 and NULL=1)
#   opendkim-sign      + opendkim + opendmarc, 127.0.0.1 internal: opendkim signs,
#                      opendmarc ignores the host (its default for 127.0.0.1)
#   postfix-again      Postfix alone once more: the baseline is the mean of both runs
# (SIGN=0 skips the signing runs, null-sign included.)
# Measured per run: the time from smtp-source's start to an empty queue (msgs/s), and
# the CPU time (user+system, from /proc/PID/stat, children included once reaped) of the
# Postfix process tree and of the milter processes between the start and the moment the
# queue is empty again. Judged per run: delivered messages at the sink (lost = N -
# delivered); for the verify runs, a message is misjudged unless the Authentication-Results
# of mx.test say dkim=pass (header.d=example.com) and dmarc=pass; for the signing runs,
# unless `monban verify` (offline, from the zone file) finds a passing example.com
# signature in it.
#
# Environment: N (10000), SESSIONS (20), SIGN (1), RECORD (1), NULL (1), QUEUE_FS (tmpfs, or
# disk: where Postfix's queue is, see below), BASE_PORT (27100: ports BASE..BASE+40
# on 127.0.0.1), MONBAN (target/release/monban), KEEP=1 keeps the work directory,
# RESULTS=FILE also writes the table as tab-separated values, QUICKACK (true, false or auto,
# the default) sets monban's tcp_quickack, TRANSPORT (inet, the default, or unix): how
# Postfix reaches every milter, loopback TCP or a UNIX socket (as a milter on the same host
# is usually reached: Debian's OpenDKIM listens on local:/run/opendkim/opendkim.sock),
# PERF=DIR records a system-wide perf profile of each run into DIR/RUN.data (perf's own
# CPU is not counted, but it slows every run: take the ratios from a run without PERF).
# Needs root, port 53 of 127.0.0.1 free, and Debian's postfix, opendkim, opendmarc and nsd
# (installed with apt-get when missing). smtp-source and smtp-sink come with postfix.
set -euo pipefail

N=${N:-10000}
SESSIONS=${SESSIONS:-20}
SIGN=${SIGN:-1}
RECORD=${RECORD:-1}
NULL=${NULL:-1}
QUEUE_FS=${QUEUE_FS:-tmpfs}
BASE_PORT=${BASE_PORT:-27100}
KEEP=${KEEP:-0}
RESULTS=${RESULTS:-}
QUICKACK=${QUICKACK:-auto}
TRANSPORT=${TRANSPORT:-inet}
PERF=${PERF:-}
if [ -n "$PERF" ]; then
    command -v perf >/dev/null || { echo "PERF: perf is not installed" >&2; exit 2; }
    mkdir -p "$PERF"
    PERF=$(cd "$PERF" && pwd)
fi
case $TRANSPORT in inet | unix) ;; *) echo "TRANSPORT: inet or unix" >&2; exit 2 ;; esac
case $QUICKACK in true | false) ;; *) QUICKACK="\"$QUICKACK\"" ;; esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MONBAN=${MONBAN:-$ROOT/target/release/monban}
ZONE=$ROOT/examples/example.zone
KEY=$ROOT/examples/keys/s2026.private

SINK_PORT=$((BASE_PORT + 30))
MONBAN_PORT=$((BASE_PORT + 31))
ODKIM_PORT=$((BASE_PORT + 32))
ODMARC_PORT=$((BASE_PORT + 33))
NULL_PORT=$((BASE_PORT + 34))
DNS_PORT=53
BENCH=milter-load
PIDS=()
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"


# ---------------------------------------------------------------------------------------
# Preconditions.
[ "$(id -u)" = 0 ] || die "run as root (Postfix, smtp-sink and port 53 need it)"
[ -x "$MONBAN" ] || die "$MONBAN not found: cargo build --release -p monban-cli"
"$MONBAN" milter --help >/dev/null 2>&1 || die "$MONBAN has no milter subcommand: rebuild it"
missing=()
command -v postfix >/dev/null || missing+=(postfix)
command -v opendkim >/dev/null || missing+=(opendkim)
command -v opendmarc >/dev/null || missing+=(opendmarc)
command -v nsd >/dev/null || missing+=(nsd)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for c in smtp-source smtp-sink postfix opendkim opendmarc nsd unshare; do
    command -v "$c" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
    command -v "$c" >/dev/null || die "$c not found"
done
port_busy "$DNS_PORT" &&
    die "port $DNS_PORT is in use (a system DNS server, such as nsd started by its package?): OpenDMARC's resolver can only ask port 53"
for p in $(seq "$BASE_PORT" $((BASE_PORT + 40))); do
    port_busy "$p" && die "port $p is in use: choose another BASE_PORT"
done

W=$(mktemp -d /tmp/monban-milter-load.XXXXXX)
chmod 755 "$W"
POSTFIX_PID=""

QUEUE_MOUNTED=""
stop_services() {
    if [ -n "$POSTFIX_PID" ]; then
        postfix -c "$W/etc" stop >/dev/null 2>&1
        for _ in $(seq 50); do kill -0 "$POSTFIX_PID" 2>/dev/null || break; sleep 0.2; done
        kill "$POSTFIX_PID" 2>/dev/null
        wait "$POSTFIX_PID" 2>/dev/null
    fi
    if [ -n "$QUEUE_MOUNTED" ]; then umount "$W/queue" 2>/dev/null || umount -l "$W/queue"; fi
}
bench_traps

HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------
# DNS: nsd serving the example zone (root_zone, benches/lib.sh).
mkdir -p "$W/dns"
root_zone "$ZONE" >"$W/dns/root.zone"
nsd-checkzone . "$W/dns/root.zone" >/dev/null || die "nsd rejects the converted zone $W/dns/root.zone"
start_nsd "$DNS_PORT" "  hide-version: yes"
echo "nameserver 127.0.0.1" >"$W/dns/resolv.conf"

# ---------------------------------------------------------------------------------------
# The messages: a plain text message of about 3 KB, unsigned and signed once by monban.
mkdir -p "$W/msg"
write_bench_messages "$W/msg" "$MONBAN" "$KEY"
# The null milter's field in the signing run: the signature `monban sign` put on the
# signed message (the signer the milter uses: its field's size and folding), without
# its name.
awk '/^DKIM-Signature:/ { p = 1; sub(/^DKIM-Signature:/, ""); print; next }
     p && /^[ \t]/ { print; next } p { exit }' "$W/msg/signed.eml" >"$W/msg/signature.field"
[ -s "$W/msg/signature.field" ] || die "no DKIM-Signature field in $W/msg/signed.eml"

# ---------------------------------------------------------------------------------------
# Postfix: a private instance; one smtpd port per run, each with its own milters.
mkdir -p "$W/etc" "$W/sink" "$W/queue" "$W/data"
# The queue in memory (QUEUE_FS=tmpfs, the default): on ext4, creating and removing a
# queue file per message makes Postfix's CPU depend on what the runs before left in the
# inode and block bitmaps (perf on cleanup: find_get_block_common, ext4_get_group_desc,
# recently_deleted), which moved its CPU per message by more than a milter costs. The
# same for every run, so "added" measures the milters, not the file system's history.
if [ "$QUEUE_FS" = tmpfs ]; then
    mount -t tmpfs -o size=2g,mode=755 monban-bench-queue "$W/queue" ||
        die "cannot mount a tmpfs on $W/queue (QUEUE_FS=disk keeps the queue on disk)"
    QUEUE_MOUNTED=1
fi
chown postfix "$W/sink" "$W/data"
declare -A SMTP_PORT=(
    [postfix]=$((BASE_PORT + 1)) [monban-verify]=$((BASE_PORT + 2))
    [opendkim-verify]=$((BASE_PORT + 3)) [monban-sign]=$((BASE_PORT + 4))
    [opendkim-sign]=$((BASE_PORT + 5)) [postfix-again]=$((BASE_PORT + 6))
    [monban-record]=$((BASE_PORT + 7)) [monban-verify-again]=$((BASE_PORT + 8))
    [null-milter]=$((BASE_PORT + 9)) [null-sign]=$((BASE_PORT + 10))
)
# Where each milter listens (as Postfix names it; OpenDKIM and OpenDMARC spell it their
# way in their configurations) and how to wait for it.
if [ "$TRANSPORT" = unix ]; then
    mkdir -p "$W/sock"
    chmod 755 "$W/sock"
    MONBAN_MILTER=unix:$W/sock/monban
    OD_MILTERS=unix:$W/sock/opendkim,unix:$W/sock/opendmarc
    NULL_MILTER=unix:$W/sock/null
    ODKIM_SOCKET=local:$W/sock/opendkim
    ODMARC_SOCKET=local:$W/sock/opendmarc
    NULL_LISTEN=$W/sock/null
    # The sockets are created by root; Postfix's smtpd (user postfix) connects to them.
    MILTER_UMASK=000
else
    MONBAN_MILTER=inet:127.0.0.1:$MONBAN_PORT
    OD_MILTERS=inet:127.0.0.1:$ODKIM_PORT,inet:127.0.0.1:$ODMARC_PORT
    NULL_MILTER=inet:127.0.0.1:$NULL_PORT
    ODKIM_SOCKET=inet:$ODKIM_PORT@127.0.0.1
    ODMARC_SOCKET=inet:$ODMARC_PORT@127.0.0.1
    NULL_LISTEN=$NULL_PORT
    MILTER_UMASK=007
fi
wait_milter() { # PORT SOCKET: the TCP port, or the UNIX socket with TRANSPORT=unix
    if [ "$TRANSPORT" = unix ]; then
        local i
        for i in $(seq 100); do
            # There, and connectable by Postfix's smtpd (not root): its mode is set.
            [ -S "$2" ] && [ -n "$(find "$2" -perm -o+w 2>/dev/null)" ] && return 0
            sleep 0.1
        done
        die "no socket at $2 (see the logs in $W; KEEP=1 keeps them)"
    fi
    wait_listen "$1"
}
# Everything goes to smtp-sink; the milters are set per smtpd in master.cf.
{
    postfix_main_cf "$W" mx.test "$SINK_PORT" ""
    printf '%s\n' "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" \
        "milter_command_timeout = 20s" "maximal_backoff_time = 2s"
} >"$W/etc/main.cf"
{
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=\n' "${SMTP_PORT[postfix]}"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=\n' "${SMTP_PORT[postfix-again]}"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[monban-verify]}" "$MONBAN_MILTER"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[monban-record]}" "$MONBAN_MILTER"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[monban-verify-again]}" "$MONBAN_MILTER"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[opendkim-verify]}" "$OD_MILTERS"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[monban-sign]}" "$MONBAN_MILTER"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[opendkim-sign]}" "$OD_MILTERS"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[null-milter]}" "$NULL_MILTER"
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=%s\n' "${SMTP_PORT[null-sign]}" "$NULL_MILTER"
    postfix_services
} >"$W/etc/master.cf"
postfix -c "$W/etc" check >"$W/postfix-check.log" 2>&1 || { cat "$W/postfix-check.log" >&2; die "postfix check failed"; }
postfix -c "$W/etc" start-fg >"$W/postfix.log" 2>&1 &
POSTFIX_PID=$!
wait_listen "${SMTP_PORT[postfix]}"
sleep 1

record_count() { # evaluations in the recording run's SQLite store
    python3 -c 'import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1], timeout=5).execute("select count(*) from evaluations").fetchone()[0])
except Exception: print(0)' "$W/monban/record.db"
}
queue_count() { find "$W/queue/incoming" "$W/queue/active" "$W/queue/deferred" "$W/queue/hold" "$W/queue/maildrop" -type f 2>/dev/null | wc -l; }

# ---------------------------------------------------------------------------------------
# The milters.
mkdir -p "$W/monban" "$W/opendkim" "$W/opendmarc"
install -m 600 "$KEY" "$W/opendkim/s2026.private"

monban_config() { # trusted_networks [store url]
    cat >"$W/monban/milter.toml" <<EOF
listen = "$MONBAN_MILTER"
authserv_id = "mx.test"
trusted_networks = [$1]
enforce_reject = true
tcp_quickack = $QUICKACK
listen_mode = "0666"
[dns]
server = "127.0.0.1:$DNS_PORT"
EOF
    example_signing_toml "$KEY" >>"$W/monban/milter.toml"
    if [ -n "${2:-}" ]; then
        printf '[store]\nurl = "%s"\n' "$2" >>"$W/monban/milter.toml"
    fi
}
start_monban() { # trusted_networks [store url]; sets MILTER_PIDS
    monban_config "$1" "${2:-}"
    "$MONBAN" milter --config "$W/monban/milter.toml" --check-config >/dev/null
    spawn "$MONBAN" milter --config "$W/monban/milter.toml" 2>>"$W/monban/$RUN.log"
    MILTER_PIDS=$LAST_PID
    wait_milter "$MONBAN_PORT" "$W/sock/monban"
}

# OpenDKIM and OpenDMARC run in a private mount namespace whose /etc/resolv.conf names the
# local nsd (OpenDMARC and libspf2 use the libc resolver, which only asks port 53).
WITH_RESOLV=(unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$W/dns/resolv.conf")
start_opendkim_opendmarc() { # internal|external
    local hosts
    if [ "$1" = internal ]; then hosts=127.0.0.1; else hosts=192.0.2.254; fi
    echo "$hosts" >"$W/opendkim/internal-hosts"
    echo "$hosts" >"$W/opendmarc/ignore-hosts"
    echo "s2026._domainkey.example.com example.com:s2026:$W/opendkim/s2026.private" >"$W/opendkim/key.table"
    echo "*@example.com s2026._domainkey.example.com" >"$W/opendkim/signing.table"
    cat >"$W/opendkim/opendkim.conf" <<EOF
Mode                    sv
Socket                  $ODKIM_SOCKET
PidFile                 $W/opendkim/opendkim.pid
AuthservID              mx.test
Canonicalization        relaxed/relaxed
SignatureAlgorithm      rsa-sha256
OversignHeaders         From
KeyTable                file:$W/opendkim/key.table
SigningTable            refile:$W/opendkim/signing.table
InternalHosts           file:$W/opendkim/internal-hosts
# (ResolverConfiguration with an unbound configuration file made OpenDKIM 2.11 fail to
# parse it and crash under concurrent load; Nameservers works.)
Nameservers             127.0.0.1
Syslog                  no
SoftwareHeader          no
UMask                   $MILTER_UMASK
# The key lies under /tmp, which others can write to: OpenDKIM would refuse it.
RequireSafeKeys         no
EOF
    cat >"$W/opendmarc/opendmarc.conf" <<EOF
Socket                  $ODMARC_SOCKET
PidFile                 $W/opendmarc/opendmarc.pid
AuthservID              mx.test
TrustedAuthservIDs      mx.test
IgnoreHosts             $W/opendmarc/ignore-hosts
RejectFailures          true
SPFSelfValidate         true
SPFIgnoreResults        true
FailureReports          false
RequiredHeaders         false
Syslog                  false
UMask                   $MILTER_UMASK
EOF
    opendkim -n -x "$W/opendkim/opendkim.conf" || die "opendkim rejects its configuration"
    spawn "${WITH_RESOLV[@]}" opendkim -f -x "$W/opendkim/opendkim.conf" 2>>"$W/opendkim/$RUN.log"
    MILTER_PIDS=$LAST_PID
    spawn "${WITH_RESOLV[@]}" opendmarc -f -c "$W/opendmarc/opendmarc.conf" 2>>"$W/opendmarc/$RUN.log"
    MILTER_PIDS="$MILTER_PIDS $LAST_PID"
    wait_milter "$ODKIM_PORT" "$W/sock/opendkim"
    wait_milter "$ODMARC_PORT" "$W/sock/opendmarc"
}

# ---------------------------------------------------------------------------------------
# Judging the delivered messages: the dump of smtp-sink, one record per message, each
# beginning with its X-Client-Addr line.
# Signing runs: every delivered message, as an mbox, through `monban verify` with the
# zone file (no milter involved); misjudged = messages without a passing example.com
# signature.
misjudged_sign() { # dump delivered
    [ "$2" -gt 0 ] || { echo 0; return; }
    awk '/^X-Client-Addr: / { print "From alice@example.com Sun Nov 22 10:00:00 2026" } { print }' "$1" >"$1.mbox"
    local passed
    passed=$("$MONBAN" --zone "$ZONE" verify --ip 192.0.2.25 --helo mail.example.com \
        --mail-from alice@example.com --authserv-id check "$1.mbox" |
        awk '/^Authentication-Results:/ { if (seen) n += ok; seen = 1; ok = 0 }
             /dkim=pass[^;]*header\.d=example\.com/ { ok = 1 }
             END { if (seen) n += ok; print n + 0 }')
    echo $(($2 - passed))
}

# ---------------------------------------------------------------------------------------
# One run.
TABLE=()
run() { # name milters(none|monban-verify|...) message
    RUN=$1
    local kind=$2 msg=$3 port=${SMTP_PORT[$1]} dump="$W/sink/$1.dump"
    MILTER_PIDS=""
    # The last run's sockets are stale (wait_milter must see this run's own).
    [ "$TRANSPORT" = unix ] && rm -f "$W/sock/"*
    case $kind in
        none) ;;
        monban-untrusted) start_monban "" ;;
        monban-record) rm -rf "$W/monban/record.db"*; start_monban "" "sqlite:$W/monban/record.db" ;;
        monban-trusted) start_monban '"127.0.0.1/32"' ;;
        od-external) start_opendkim_opendmarc external ;;
        od-internal) start_opendkim_opendmarc internal ;;
        null | null-sign)
            local field=()
            [ "$kind" = null-sign ] && field=("$W/msg/signature.field")
            spawn python3 "$ROOT/benches/null-milter.py" "$NULL_LISTEN" "${field[@]}"
            MILTER_PIDS=$LAST_PID
            wait_milter "$NULL_PORT" "$NULL_LISTEN"
            ;;
    esac
    spawn smtp-sink -u postfix -h sink.test -D "$dump" "127.0.0.1:$SINK_PORT" 256
    local sink_pid=$LAST_PID
    wait_listen "$SINK_PORT"
    local log_start
    log_start=$(wc -l <"$W/postfix.log")

    local pf0 ml0=0 t0 t1 t2 pf1 ml1=0 p dns0 dns1 load
    local -A each0=()
    load=$(cut -d ' ' -f 1 /proc/loadavg)
    dns0=$(tree_ticks "$NSD_PID")
    pf0=$(tree_ticks "$POSTFIX_PID")
    [ -n "$MILTER_PIDS" ] && ml0=$(tree_ticks $MILTER_PIDS)
    for p in $MILTER_PIDS; do each0[$p]=$(tree_ticks "$p"); done
    say "== $RUN: $N messages, $SESSIONS sessions, to 127.0.0.1:$port"
    local perf_pid=""
    if [ -n "$PERF" ]; then
        # A system-wide profile of this run alone (PERF=DIR): perf report -i DIR/RUN.data
        # --comm cleanup shows where Postfix's own time goes in each configuration.
        spawn perf record -a -F 999 -o "$PERF/$RUN.data" >"$PERF/$RUN.perf.log" 2>&1
        perf_pid=$LAST_PID
        sleep 0.5
    fi
    t0=$(date +%s.%N)
    local src_rc=0
    # In the background and waited for, so that a signal stops the script at once.
    spawn timeout 900 smtp-source -s "$SESSIONS" -m "$N" -M client.example.net \
        -f alice@example.com -t bob@example.net -F "$msg" "127.0.0.1:$port" \
        >"$W/$RUN.source.log" 2>&1
    wait "$LAST_PID" || src_rc=$?
    stop_pid "$LAST_PID"
    t1=$(date +%s.%N)
    # Wait for the queue to drain (at most 120 s after the last message came in).
    local i
    for i in $(seq 1200); do
        [ "$(queue_count)" -eq 0 ] && break
        sleep 0.1
    done
    t2=$(date +%s.%N)
    if [ "$kind" = monban-record ]; then
        # The writer thread's work counts too: measure once it has stored every message.
        for i in $(seq 600); do
            [ "$(record_count)" -ge "$N" ] && break
            sleep 0.1
        done
    fi
    pf1=$(tree_ticks "$POSTFIX_PID")
    dns1=$(tree_ticks "$NSD_PID")
    if [ -n "$perf_pid" ]; then
        # perf record stops and writes its data on SIGINT, as after Ctrl-C; stop_pid then only
        # forgets it. A perf that could not start (perf_event_paranoid) has left its
        # reason in RUN.perf.log and does not stop the run.
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" || true
        stop_pid "$perf_pid"
        [ -s "$PERF/$RUN.data" ] || say "   PERF: no profile of $RUN: see $PERF/$RUN.perf.log"
    fi
    [ -n "$MILTER_PIDS" ] && ml1=$(tree_ticks $MILTER_PIDS)
    local each=""
    for p in $MILTER_PIDS; do
        each="$each $(tr -d '\0' </proc/"$p"/comm 2>/dev/null || echo "$p") $(($(tree_ticks "$p") - ${each0[$p]}))"
    done

    local left delivered lost misjudged rejects
    left=$(queue_count)
    sleep 0.5
    stop_pid "$sink_pid"
    for p in $MILTER_PIDS; do stop_pid "$p"; done
    delivered=$(count_delivered "$dump")
    lost=$((N - delivered))
    case $kind in
        none | null | null-sign) misjudged=- ;;
        *-untrusted | monban-record | od-external) misjudged=$(misjudged_verify "$dump") ;;
        *) misjudged=$(misjudged_sign "$dump" "$delivered") ;;
    esac
    tail -n +"$((log_start + 1))" "$W/postfix.log" >"$W/$RUN.postfix.log"
    rejects=$(grep -cE 'milter-reject|reject:' "$W/$RUN.postfix.log" || true)
    # Complaints about the milters: monban's WARN and ERROR lines, anything OpenDKIM or
    # OpenDMARC wrote (they log nothing else there), Postfix's milter warnings.
    local complaints
    complaints=$({ sed 's/\x1b\[[0-9;]*m//g' "$W/monban/$RUN.log" 2>/dev/null | grep -E ' (WARN|ERROR) ' || true
        cat "$W/opendkim/$RUN.log" "$W/opendmarc/$RUN.log" 2>/dev/null || true
        grep -E 'warning: milter' "$W/$RUN.postfix.log" || true; } | grep -c . || true)
    if [ "$src_rc" -ne 0 ] || [ "$left" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$rejects" -ne 0 ] ||
        [ "$complaints" -ne 0 ] ||
        { [ "$misjudged" != - ] && [ "$misjudged" -ne 0 ]; }; then
        say "   PROBLEM: smtp-source exit $src_rc, $left left in the queue, $lost lost, $rejects rejects, $misjudged misjudged, $complaints milter log complaints"
        say "   smtp-source: $(grep -v '^[0-9]*\r*$' "$W/$RUN.source.log" | tail -n 3 | tr '\r' ' ')"
        grep -E 'warning|reject|error|fatal' "$W/$RUN.postfix.log" | head -n 5 | sed 's/^/   postfix: /' >&2 || true
        [ "$kind" = none ] || cat "$W"/{monban,opendkim,opendmarc}/"$RUN".log 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' |
            grep -vE ' INFO |^monban milter: listening' | head -n 5 | sed 's/^/   milter: /' >&2 || true
        PROBLEMS=1
    fi
    if [ "$kind" = monban-record ]; then
        # The milter has stopped (SIGTERM drains the journal): every message is recorded.
        local recorded
        recorded=$(record_count)
        say "   recorded $recorded evaluation(s) of $N messages"
        [ "$recorded" -eq "$N" ] || { say "   PROBLEM: $((N - recorded)) evaluation(s) not recorded"; PROBLEMS=1; }
    fi
    TABLE+=("$RUN $t0 $t1 $t2 $((pf1 - pf0)) $((ml1 - ml0)) $delivered $lost $misjudged $rejects")
    say "   sent in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, queue empty $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s later;" \
        "CPU ticks (1/$HZ s): postfix $((pf1 - pf0)), milters $((ml1 - ml0))${each:+ (${each# })}, nsd $((dns1 - dns0));" \
        "delivered $delivered, misjudged $misjudged; load average before: $load"
    # Nothing of this run may stay for the next one.
    postsuper -c "$W/etc" -d ALL >/dev/null 2>&1 || true
}

PROBLEMS=0
say "work directory: $W; monban: $("$MONBAN" --version); milters over $TRANSPORT sockets"
run postfix none "$W/msg/signed.eml"
run monban-verify monban-untrusted "$W/msg/signed.eml"
[ "$NULL" = 1 ] && run null-milter null "$W/msg/signed.eml"
if [ "$RECORD" = 1 ]; then
    run monban-record monban-record "$W/msg/signed.eml"
    # The same as monban-verify again: recording is compared with the mean of both.
    run monban-verify-again monban-untrusted "$W/msg/signed.eml"
fi
run opendkim-verify od-external "$W/msg/signed.eml"
if [ "$SIGN" = 1 ]; then
    run monban-sign monban-trusted "$W/msg/unsigned.eml"
    [ "$NULL" = 1 ] && run null-sign null-sign "$W/msg/unsigned.eml"
    run opendkim-sign od-internal "$W/msg/unsigned.eml"
fi
run postfix-again none "$W/msg/signed.eml"

# ---------------------------------------------------------------------------------------
# The table. CPU is in seconds per 1,000 messages; "added" is the total (Postfix and
# milters) minus Postfix alone's total; the ratios are monban's added CPU over OpenDKIM +
# OpenDMARC's, and the same for the milter processes' own CPU only.
printf '%s\n' "${TABLE[@]}" | awk -v n="$N" -v hz="$HZ" -v results="$RESULTS" '
    {
        name[NR] = $1; rate[NR] = n / ($4 - $2); drain[NR] = $4 - $3
        pf[NR] = $5 / hz * 1000 / n; ml[NR] = $6 / hz * 1000 / n; tot[NR] = pf[NR] + ml[NR]
        del[NR] = $7; lost[NR] = $8; mis[NR] = $9; rej[NR] = $10; idx[$1] = NR
    }
    END {
        # Postfix alone runs first and last: the baseline is their mean.
        base = tot[idx["postfix"]]; if (idx["postfix-again"]) base = (base + tot[idx["postfix-again"]]) / 2
        fmt = "%-16s %8s %7s %9s %9s %9s %9s %9s %6s %9s\n"
        printf fmt, "config", "msgs/s", "drain_s", "milter", "postfix", "total", "added", "delivered", "lost", "misjudged"
        if (results != "") printf "config\tmsgs_per_s\tdrain_s\tmilter_cpu_s_per_1000\tpostfix_cpu_s_per_1000\ttotal_cpu_s_per_1000\tadded_cpu_s_per_1000\tdelivered\tlost\tmisjudged\n" > results
        for (i = 1; i <= NR; i++) {
            added[i] = tot[i] - base
            printf "%-16s %8.0f %7.1f %9.3f %9.3f %9.3f %9.3f %9d %6d %9s\n", name[i], rate[i], drain[i], ml[i], pf[i], tot[i], added[i], del[i], lost[i], mis[i]
            if (results != "") printf "%s\t%.1f\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\n", name[i], rate[i], drain[i], ml[i], pf[i], tot[i], added[i], del[i], lost[i], mis[i] > results
        }
        print "(msgs/s: N over the time from the first message sent to an empty queue; drain_s: of that, the"
        print " time after smtp-source ended; CPU columns: seconds per 1,000 messages; added = total - Postfix alone"
        print " (the mean of its two runs))"
        v = idx["monban-verify"]; v2 = idx["monban-verify-again"]; r = idx["monban-record"]
        if (v && r && ml[v] > 0) {
            mv = ml[v]; av = added[v]
            if (v2) { mv = (ml[v] + ml[v2]) / 2; av = (added[v] + added[v2]) / 2 }
            printf "recording: milter CPU per 1,000 messages %.3f s with, %.3f s without (mean of the verify runs before and after): %+.1f%% (target <= +5%%); all CPU added %.3f s vs %.3f s\n", ml[r], mv, (ml[r] / mv - 1) * 100, added[r], av
        }
        z = idx["null-milter"]
        if (z) {
            floors["verify"] = pf[z] - base
            printf "floor: Postfix with a milter that judges nothing (benches/null-milter.py: monban'"'"'s steps and replies, one field added) spends %.3f s per 1,000 messages more than alone\n", floors["verify"]
        }
        zs = idx["null-sign"]
        if (zs) {
            floors["sign"] = pf[zs] - base
            printf "signing floor: the same null milter inserting a copy of monban'"'"'s DKIM-Signature field in the unsigned message: %.3f s per 1,000 messages more than alone\n", floors["sign"]
        }
        split("verify sign", kinds, " ")
        for (k = 1; k <= 2; k++) {
            m = idx["monban-" kinds[k]]; o = idx["opendkim-" kinds[k]]
            if (m && o && added[o] > 0)
            {
                printf "%s: added CPU per 1,000 messages, monban %.3f s, OpenDKIM+OpenDMARC %.3f s: ratio %.2f (target <= 0.33);\n   milter processes alone: %.3f s vs %.3f s: ratio %.2f\n", kinds[k], added[m], added[o], added[m] / added[o], ml[m], ml[o], (ml[o] > 0 ? ml[m] / ml[o] : 0)
                if (kinds[k] in floors) { floor = floors[kinds[k]]; printf "   with the floor: %.3f s of Postfix'"'"'s (%.2f of OpenDKIM+OpenDMARC'"'"'s added) + monban'"'"'s own %.3f s (%.2f) = %.2f\n", floor, floor / added[o], ml[m], ml[m] / added[o], (floor + ml[m]) / added[o] }
            }
        }
    }'
[ "$PROBLEMS" = 0 ] || { say "milter-load: some run lost, rejected or misjudged messages (see above)"; exit 1; }
