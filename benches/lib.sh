# Shell functions shared by the bench scripts (milter-load.sh, faults.sh, soak.sh):
# process bookkeeping, ports, CPU ticks, the example zone for nsd, and the judging of
# the messages smtp-sink delivered. Sourced; expects W (the work directory) and BENCH
# (the script's name, for messages) to be set, and PIDS to be an array.

say() { printf '%s\n' "$*" >&2; }
die() { say "$BENCH: $*"; exit 1; }
port_busy() { ss -Hlnt "sport = :$1" | grep -q . || ss -Hlnu "sport = :$1" | grep -q .; }

# Starts a command in the background and remembers its pid for the cleanup.
spawn() { "$@" & PIDS+=($!); LAST_PID=$!; }
stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
# The EXIT trap every bench script sets (bench_traps): the script's own stop_services,
# when it defines one, stops what needs a graceful stop (Postfix, PostgreSQL); then every
# process spawn started is killed and reaped, and the work directory W is removed unless
# KEEP=1. The script's exit status is kept.
bench_cleanup() {
    local rc=$? p
    set +e
    if declare -F stop_services >/dev/null; then stop_services; fi
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then say "work directory kept: $W"; else rm -rf "$W"; fi
    exit "$rc"
}
bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
wait_listen() { # PORT [udp]
    local i
    for i in $(seq 100); do
        if [ "${2:-}" = udp ]; then ss -Hlnu "sport = :$1" | grep -q . && return 0
        else ss -Hlnt "sport = :$1" | grep -q . && return 0; fi
        sleep 0.1
    done
    die "nothing listens on port $1 (see the logs in $W; KEEP=1 keeps them)"
}

# CPU clock ticks (utime+stime+cutime+cstime) of the given processes and all their
# descendants: a finished child's time is in its parent's cutime once reaped.
tree_ticks() {
    # (cat fails for processes that end meanwhile: not an error here)
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v roots="$*" '
        {   # pid (comm) state ppid ... utime stime cutime cstime: comm may hold ") "
            pid = $1; p = 0
            while ((j = index(substr($0, p + 1), ")")) > 0) p += j
            split(substr($0, p + 2), a, " ")
            ppid[pid] = a[2]; t[pid] = a[12] + a[13] + a[14] + a[15]
        }
        END {
            n = split(roots, r, " "); for (i = 1; i <= n; i++) inside[r[i]] = 1
            do { more = 0; for (p in ppid) if (!(p in inside) && (ppid[p] in inside)) { inside[p] = 1; more = 1 } } while (more)
            sum = 0; for (p in inside) if (p in t) sum += t[p]; print sum
        }'
}
# The example zone for nsd (root_zone ZONE TTL > FILE). The file holds several zones
# ($ORIGIN sections); nsd
# gets one zone at the root with every owner made explicit and the sub-zones' SOA and NS
# records left out (an NS record below the apex would be a delegation), so that every name
# is answered authoritatively and absent names get NXDOMAIN.
root_zone() { # ZONE [TTL]: every TTL is TTL when given (faults.sh: 1 s, so caches expire)
    local ttl=${2:-}
    {
    printf '$ORIGIN .\n$TTL %s\n' "${ttl:-3600}"
    printf '@ IN SOA ns.bench.invalid. hostmaster.bench.invalid. 1 7200 900 1209600 300\n'
    printf '@ IN NS ns.bench.invalid.\n'
    awk -v ttl="$ttl" '
        function depth(s,   n, i, c, q) {
            n = 0; q = 0
            for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (c == "\"") q = !q
                else if (!q && c == ";") break
                else if (!q && c == "(") n++
                else if (!q && c == ")") n--
            }
            return n
        }
        open > 0 { open += depth($0); if (!skip) print; next }
        ttl != "" && /^\$TTL/ { next }
        /^[ \t]*(;|$)/ || /^\$/ { print; next }
        {
            line = $0
            if (line ~ /^[ \t]/) line = owner line; else owner = $1
            split(line, f, /[ \t]+/); skip = 0
            for (i = 2; i <= 4; i++) if (f[i] == "SOA" || f[i] == "NS") skip = 1
            open = depth(line)
            # An explicit TTL after the owner becomes the one asked for.
            if (ttl != "" && f[2] ~ /^[0-9]+$/) sub(/[ \t]+[0-9]+[ \t]/, " " ttl " ", line)
            if (!skip) print line
        }' "$1"
    }
}

count_delivered() { local c; c=$(grep -c '^X-Client-Addr: ' "$1" 2>/dev/null) || true; echo "${c:-0}"; }

# Verify runs: messages without dkim=pass (header.d=example.com) and dmarc=pass in the
# Authentication-Results of mx.test.
misjudged_verify() {
    awk '
        function finish() {
            if (!inmsg) return
            if (!(dkim && dmarc)) bad++
        }
        function judge(h,   l) {
            l = tolower(h); gsub(/\([^()]*\)/, "", l)   # comments may hold ";"
            if (l !~ /^authentication-results:[ \t]*mx\.test[ \t]*;/) return
            if (l ~ /dkim=pass[^;]*header\.d=example\.com/) dkim = 1
            if (l ~ /dmarc=pass/) dmarc = 1
        }
        /^X-Client-Addr: / { if (hdr != "") judge(hdr); finish(); inmsg = 1; inhead = 1; hdr = ""; dkim = dmarc = 0; next }
        inhead && /^$/ { if (hdr != "") judge(hdr); hdr = ""; inhead = 0; next }
        inhead && /^[ \t]/ { hdr = hdr " " $0; next }
        inhead { if (hdr != "") judge(hdr); hdr = $0; next }
        END { if (inhead && hdr != "") judge(hdr); finish(); print bad + 0 }' "$1"
}


# The main.cf lines every bench Postfix shares: its own directories under DIR, logging to
# stdout, no local delivery, no DNS, everything relayed to 127.0.0.1:RELAY_PORT at
# concurrency SESSIONS, MILTERS (may be empty) on smtpd with a tempfail default, and
# quick retries. The caller appends what differs (timeouts, backoff, lifetimes).
postfix_main_cf() { # DIR HOSTNAME RELAY_PORT MILTERS
    cat <<END
compatibility_level = 3.6
config_directory = $1/etc
queue_directory = $1/queue
data_directory = $1/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = /dev/stdout
myhostname = $2
mydomain = $2
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.1/32
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtputf8_enable = no
relayhost = [127.0.0.1]:$3
default_destination_concurrency_limit = $SESSIONS
smtpd_milters = $4
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 5s
queue_run_delay = 1s
minimal_backoff_time = 1s
END
}

# A private Postfix instance under $W/NAME: smtpd on 127.0.0.1:PORT, everything relayed to
# 127.0.0.1:RELAY_PORT, with MILTERS (may be empty) on smtpd; quick retries. Started with
# spawn; its log is $W/NAME/postfix.log. SESSIONS sets the relay's concurrency.
postfix_instance() { # NAME PORT RELAY_PORT MILTERS [EXTRA main.cf LINES]
    local d="$W/$1"
    mkdir -p "$d/etc" "$d/queue" "$d/data"
    chown postfix "$d/data"
    {
        postfix_main_cf "$d" "$1.test" "$3" "$4"
        printf '%s\n' "milter_command_timeout = 30s" "maximal_backoff_time = 4s" \
            "bounce_queue_lifetime = 1h" "maximal_queue_lifetime = 1h" "${5:-}"
    } >"$d/etc/main.cf"
    {
        printf '127.0.0.1:%s inet n - n - - smtpd\n' "$2"
        postfix_services
    } >"$d/etc/master.cf"
    postfix -c "$d/etc" check >"$d/check.log" 2>&1 || { cat "$d/check.log" >&2; die "postfix check failed for $1"; }
    spawn postfix -c "$d/etc" start-fg >"$d/postfix.log" 2>&1
    wait_listen "$2"
}
queue_left() { # instance
    find "$W/$1/queue/incoming" "$W/$1/queue/active" "$W/$1/queue/deferred" \
        "$W/$1/queue/hold" "$W/$1/queue/maildrop" -type f 2>/dev/null | wc -l
}


# nsd serving $W/dns/root.zone (made by root_zone) on 127.0.0.1:PORT, started with spawn;
# sets NSD_PID.
start_nsd() { # PORT [an extra line for the server: section]
    cat >"$W/dns/nsd.conf" <<END
server:
  ip-address: 127.0.0.1@$1
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$W/dns"
  database: ""
  zonelistfile: "$W/dns/zone.list"
  xfrdfile: "$W/dns/xfrd.state"
  xfrdir: "$W/dns"
  pidfile: "$W/dns/nsd.pid"
  logfile: "$W/dns/nsd.log"
${2:-}
remote-control:
  control-enable: no
zone:
  name: "."
  zonefile: "$W/dns/root.zone"
END
    spawn nsd -d -c "$W/dns/nsd.conf"
    NSD_PID=$LAST_PID
    wait_listen "$1" udp
}

# The services of a private Postfix instance's master.cf (after its smtpd lines).
postfix_services() {
    cat <<'END'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
END
}

# The messages of the milter benchmarks (milter-load.sh, milter-scale.sh): a plain text
# message of about 3 KB from alice@example.com, as DIR/unsigned.eml, and the same signed
# once by `monban sign` with the example key, as DIR/signed.eml.
write_bench_messages() { # DIR MONBAN KEY
    {
        cat <<'EOF'
From: Alice Example <alice@example.com>
To: Bob <bob@example.net>
Subject: Quarterly report: figures for review
Date: Sun, 22 Nov 2026 10:00:00 +0900
Message-ID: <20261122100000.bench@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Hi Bob,

EOF
        for i in $(seq 1 36); do
            printf 'Line %02d of the report: revenue, costs and the forecast for the next quarter.\n' "$i"
        done
        printf '\nRegards,\nAlice\n'
    } >"$1/unsigned.eml"
    "$2" sign --domain example.com --selector s2026 --key "$3" "$1/unsigned.eml" >"$1/signed.eml"
    grep -q '^DKIM-Signature:' "$1/signed.eml" || die "monban sign produced no signature"
}

# The signing table of the milter benchmarks' monban configuration: example.com's mail
# signed with the example key (KEY), selector s2026.
example_signing_toml() { # KEY
    printf '[[signing]]\nsender = "*@example.com"\ndomain = "example.com"\nselector = "s2026"\nkey = "%s"\n' "$1"
}
