//! The milter's configuration file (TOML). Every option is defined once, in
//! [`OPTIONS`], with its default and documentation; the sample file
//! ([`sample_config`]) is generated from that table, and a test checks that the sample
//! parses and that every option of [`RawConfig`] is in the table.
//!
//! The minimal keys of DESIGN §4 (`listen`, `authserv_id`, `trusted_networks`,
//! `[dns]`, `[[signing]]`) keep their names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use monban::dkim::{SignerConfig, SigningKey};
use serde::Deserialize;

use crate::server::{Limits, QuickAckMode};
use crate::session::{
    FilterConfig, Network, QuarantineMode, Refusal, SignErrorAction, SigningRule,
};

/// The largest configuration file read.
const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;
/// The largest private key file read.
const MAX_KEY_FILE_BYTES: u64 = 1024 * 1024;
/// The most DKIM signatures `max_signatures` may ask to evaluate per message (each is a
/// DNS lookup and a verification).
const MAX_SIGNATURES: usize = 50;

/// One documented option.
#[derive(Debug, Clone, Copy)]
pub struct OptionDoc {
    /// The key (dotted for tables).
    pub key: &'static str,
    /// The default, as TOML (empty: required or none).
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// Every option, once.
pub const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "listen",
        default: "\"inet:127.0.0.1:8891\"",
        doc: "Where to listen: inet:HOST:PORT or unix:/path/to/socket.",
    },
    OptionDoc {
        key: "authserv_id",
        default: "",
        doc: "The authserv-id written in Authentication-Results (required): this host's name.",
    },
    OptionDoc {
        key: "trusted_networks",
        default: "[\"127.0.0.0/8\", \"::1/128\"]",
        doc: "Clients whose mail is signed, not judged (SASL-authenticated clients are trusted too). The default is this host only; a list replaces it (keep 127.0.0.0/8 and ::1/128 in it to sign mail submitted here).",
    },
    OptionDoc {
        key: "listen_mode",
        default: "\"0660\"",
        doc: "With listen = unix:PATH: the socket's permission bits (octal).",
    },
    OptionDoc {
        key: "listen_owner",
        default: "",
        doc: "With listen = unix:PATH: the socket's owner (a user name; the milter must run as root to change it).",
    },
    OptionDoc {
        key: "listen_group",
        default: "",
        doc: "With listen = unix:PATH: the socket's group, e.g. \"postfix\" so that Postfix's smtpd can connect.",
    },
    OptionDoc {
        key: "enforce_reject",
        default: "true",
        doc: "Refuse mail whose DMARC disposition is reject with 550 5.7.1 during the SMTP session.",
    },
    OptionDoc {
        key: "quarantine",
        default: "\"hold\"",
        doc: "DMARC quarantine: \"hold\" (Postfix hold queue) or \"header\" (X-Monban-Quarantine).",
    },
    OptionDoc {
        key: "tempfail_on_dns_error",
        default: "true",
        doc: "Answer 451 4.7.5 when a DNS failure kept DMARC from concluding, so the sender retries.",
    },
    OptionDoc {
        key: "allow_domains",
        default: "[]",
        doc: "Author domains never rejected or quarantined (local override).",
    },
    OptionDoc {
        key: "allow_networks",
        default: "[]",
        doc: "Client networks never rejected or quarantined (local override).",
    },
    OptionDoc {
        key: "optout_recipient_domains",
        default: "[]",
        doc: "Recipient domains that opted out of enforcement: a message to them is delivered with its results instead of rejected or quarantined. Their recipients and others never share a transaction: the other kind is deferred with 452 4.5.3, and the client sends it again separately.",
    },
    OptionDoc {
        key: "reject_unparseable_from",
        default: "true",
        doc: "Reject (550 5.7.1) a message without exactly one From field whose addresses are readable and of one domain (RFC 5322 section 3.6; several addresses of one domain are judged as that domain): there is no author to judge, and its DMARC result is permerror (the log line's reason says why). false delivers it with that result, no DMARC policy applied: a spoofer then needs only a From that does not parse (an unclosed comment, a stray byte) to get past p=reject, so keep true unless such mail must get through.",
    },
    OptionDoc {
        key: "oversized_header",
        default: "\"reject\"",
        doc: "A header over 1 MiB or 5,000 fields is never judged in part: \"reject\" (552 5.3.4; a retry would not shrink it) or \"tempfail\" (451 4.3.4).",
    },
    OptionDoc {
        key: "malformed_header",
        default: "\"reject\"",
        doc: "A header field the MTA passes that cannot be a header field (bad name, a line break not followed by white space): \"reject\" (550 5.6.0) or \"tempfail\" (451 4.6.0).",
    },
    OptionDoc {
        key: "on_sign_error",
        default: "\"tempfail\"",
        doc: "A trusted client's message that cannot be signed (no From, two From fields, a key failure): \"tempfail\" (451 4.7.0; the client retries) or \"accept\" (delivered unsigned). Logged either way.",
    },
    OptionDoc {
        key: "trusted_arc_sealers",
        default: "[]",
        doc: "ARC sealers (domains, with their subdomains) trusted to vouch for forwarded mail: a message that fails DMARC is delivered (override trusted_forwarder) when its ARC chain passes and the oldest sealer whose signature still verifies is listed here and recorded dmarc=pass or an aligned dkim=pass (RFC 8617). E.g. [\"google.com\", \"lists.example.org\"]; a public suffix (com, co.uk, github.io) or a wildcard is refused.",
    },
    OptionDoc {
        key: "arc_seal_recipients",
        default: "[]",
        doc: "Inbound mail for these recipients (user@domain, *@domain or domain) is ARC-sealed once judged and accepted, with this host's results: this host forwards it (aliases, a list server). The key is the [[signing]] row matching the recipient (else default_signing), RSA.",
    },
    OptionDoc {
        key: "arc_seal_senders",
        default: "[]",
        doc: "Mail that clients in trusted_networks (not SASL-authenticated users) send from these senders (a list re-sending what it received) is ARC-sealed with the results this host recorded when the message came in (its Authentication-Results, kept by the list) and cv= from the arc= recorded then. The key is the [[signing]] row matching the sender, RSA.",
    },
    OptionDoc {
        key: "dkim2",
        default: "false",
        doc: "Also verify DKIM2 (draft-ietf-dkim-dkim2-spec-02) on inbound mail, the envelope included: dkim2= in Authentication-Results. Off while DKIM2 is a draft; it never counts for DMARC.",
    },
    OptionDoc {
        key: "sender_id",
        default: "true",
        doc: "Check Sender ID (RFC 4406, historic: the header's Purported Responsible Address against spf2.0/pra records, else v=spf1) and write sender-id= in Authentication-Results. It is recorded only: it never rejects and never counts for DMARC.",
    },
    OptionDoc {
        key: "iprev_fail",
        default: "\"record\"",
        doc: "At CONNECT, a client whose reverse DNS does not confirm its address (iprev=fail, or permerror when it has no reverse DNS name at all: RFC 8601 section 2.7.3): \"record\" (iprev= in Authentication-Results only), \"tag\" (X-Monban-Tag field), \"tempfail\" (451 4.7.1) or \"reject\" (554 5.7.1).",
    },
    OptionDoc {
        key: "iprev_temperror",
        default: "\"record\"",
        doc: "At CONNECT, a client whose reverse DNS could not be checked for now (iprev=temperror): the same choices.",
    },
    OptionDoc {
        key: "helo_invalid",
        default: "\"record\"",
        doc: "At HELO, a name that cannot be the client's (not a fully qualified domain name, or an address literal of another address): \"record\" (nothing), \"tag\", \"tempfail\" or \"reject\" (550 5.7.1).",
    },
    OptionDoc {
        key: "dnsbl_reject_score",
        default: "0",
        doc: "Refuse a client at CONNECT (554 5.7.1) when the weights of the [[dnsbl]] lists that list it add up to this much (0: no score; each list's action still applies).",
    },
    OptionDoc {
        key: "connect_timeout_seconds",
        default: "5",
        doc: "How long the CONNECT checks (iprev and the lists) may take (1 to 25: below Postfix's milter_command_timeout); past it they decide nothing and the mail goes on: a list that does not answer never blocks mail.",
    },
    OptionDoc {
        key: "allow_client_domains",
        default: "[]",
        doc: "Client host domains (with subdomains) trusted at CONNECT: a client whose forward-confirmed reverse name is in one skips the [[dnsbl]] block lists, e.g. [\"partner.example\"]. (allow_domains is about author domains.)",
    },
    OptionDoc {
        key: "adsp_discard",
        default: "\"record\"",
        doc: "A message the author domain's ADSP record (RFC 5617, historic) asks to discard (dkim=discardable, no author signature): \"record\" (dkim-adsp=discard in Authentication-Results) or \"reject\" (550 5.7.1; never silently dropped).",
    },
    OptionDoc {
        key: "reflector",
        default: "",
        doc: "A test-by-sending address, e.g. \"check-auth@mx.example.net\" (Postfix must accept it as a recipient): mail to it is judged as usual, never delivered or refused, and its envelope sender gets a report of every result, the header analysis and the checker's advice, in English and Japanese. Never to a null sender, an automatic message or a list; rate-limited.",
    },
    OptionDoc {
        key: "reflector_smtp",
        default: "\"127.0.0.1:25\"",
        doc: "The relay (HOST:PORT) the reflector's replies go through, sent with a null envelope sender.",
    },
    OptionDoc {
        key: "reflector_per_hour",
        default: "5",
        doc: "Replies to one sender per hour at most.",
    },
    OptionDoc {
        key: "max_connections",
        default: "500",
        doc: "MTA connections served at once; one more is closed at once (the MTA applies milter_default_action).",
    },
    OptionDoc {
        key: "idle_timeout_seconds",
        default: "600",
        doc: "How long a connection may wait between commands; keep it above the MTA's SMTP timeout (Postfix smtpd_timeout, 300 s).",
    },
    OptionDoc {
        key: "command_timeout_seconds",
        default: "30",
        doc: "How long the rest of a packet may take once it started, and a reply may take to be written.",
    },
    OptionDoc {
        key: "message_timeout_seconds",
        default: "120",
        doc: "How long the end of a message (DNS, verification, signing) may take; past it the message gets 451 4.4.3 and is retried.",
    },
    OptionDoc {
        key: "shutdown_grace_seconds",
        default: "30",
        doc: "On SIGTERM or SIGINT, how long messages under way may go on (0 to 3600); connections between messages close at once. Past it the rest are closed and the MTA applies milter_default_action (tempfail: the senders retry).",
    },
    OptionDoc {
        key: "tcp_quickack",
        default: "\"auto\"",
        doc: "With listen = inet:...: acknowledge the MTA's segments at once (Linux TCP_QUICKACK). Without it a message waits about 40 ms per burst of steps that get no reply (delayed ACKs against the MTA's Nagle): one SMTP session passes ~22 messages/s instead of ~350. true: always; false: never (fewer, fuller segments: less CPU); \"auto\": while fewer than 8 sessions per CPU are open, after which the waits are hidden and the CPU is saved.",
    },
    OptionDoc {
        key: "max_packet_bytes",
        default: "1048576",
        doc: "The largest milter packet kept (128 KiB to 1 MiB): what one connection can make monban hold. A header or body packet over it is read past and its message refused like an oversized header; keep it above Postfix's header_size_limit (100 KiB).",
    },
    OptionDoc {
        key: "metrics_listen",
        default: "",
        doc: "Serve Prometheus metrics at http://IP:PORT/metrics (off unless set).",
    },
    OptionDoc {
        key: "max_signatures",
        default: "5",
        doc: "DKIM signatures evaluated per message (1 to 50); the ones past it get neutral.",
    },
    OptionDoc {
        key: "dns.zone_file",
        default: "",
        doc: "Answer DNS from this zone file only (tests, offline demos).",
    },
    OptionDoc {
        key: "dns.server",
        default: "",
        doc: "Ask this DNS server (IP or IP:PORT) instead of the system resolver.",
    },
    OptionDoc {
        key: "dns.timeout_seconds",
        default: "3",
        doc: "The limit for one DNS answer (1 to 60).",
    },
    OptionDoc {
        key: "store.url",
        default: "",
        doc: "Record every judged message's evaluation for DMARC aggregate reports in this store: sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB (off unless set).",
    },
    OptionDoc {
        key: "store.record",
        default: "true",
        doc: "With url: record evaluations (false keeps the url for other commands but records nothing).",
    },
    OptionDoc {
        key: "store.journal",
        default: "",
        doc: "The local journal folder evaluations wait in until the store takes them (default: the SQLite file's name + .journal, or /var/lib/monban/journal for PostgreSQL). One folder serves one milter: a second milter given the same folder refuses to start (its lock file is held).",
    },
    OptionDoc {
        key: "store.max_journal_bytes",
        default: "1073741824",
        doc: "The most the journal holds while the store is down; past it evaluations are dropped (counted in monban_milter_record_lost_total), never the mail.",
    },
    OptionDoc {
        key: "store.batch_size",
        default: "500",
        doc: "Evaluations written per database transaction.",
    },
    OptionDoc {
        key: "store.failure_reports",
        default: "true",
        doc: "With url: make an RFC 9991 failure report when a policy's fo= asks for one (never for psd=y domains); report send delivers it to the ruf destinations.",
    },
    OptionDoc {
        key: "store.redact_failure_reports",
        default: "true",
        doc: "Replace the local parts of addresses in failure reports by \"redacted\" (RFC 9991 section 6).",
    },
    OptionDoc {
        key: "store.failure_reports_per_hour",
        default: "10",
        doc: "Failure reports made per ruf destination per hour at most.",
    },
    OptionDoc {
        key: "reports.org_name",
        default: "",
        doc: "Send DMARC reports from the milter itself (needs store.url): the reporting organization. Yesterday's aggregate reports are generated after 00:15 UTC and due reports sent every 5 minutes (as monban report generate and send do).",
    },
    OptionDoc {
        key: "reports.email",
        default: "",
        doc: "The reporting address (From); a [[signing]] row must match it, so reports pass DMARC.",
    },
    OptionDoc {
        key: "reports.smtp",
        default: "\"localhost:25\"",
        doc: "The SMTP relay for reports (HOST[:PORT]).",
    },
    OptionDoc {
        key: "reports.starttls",
        default: "\"opportunistic\"",
        doc: "STARTTLS with the relay: \"opportunistic\", \"required\" or \"never\".",
    },
    OptionDoc {
        key: "reports.max_per_hour",
        default: "60",
        doc: "Reports to one destination per hour at most (raise it for addresses that take reports for many domains).",
    },
    OptionDoc {
        key: "reports.out",
        default: "",
        doc: "A folder to also write the aggregate report files in (optional).",
    },
    OptionDoc {
        key: "dnsbl.zone",
        default: "",
        doc: "A DNS list asked about each client at CONNECT (RFC 5782): its zone, e.g. \"zen.spamhaus.org\" or \"list.dnswl.org\". At most 32 lists.",
    },
    OptionDoc {
        key: "dnsbl.kind",
        default: "\"block\"",
        doc: "\"block\" (a DNSBL) or \"allow\" (a DNSWL: a client it lists skips the block lists).",
    },
    OptionDoc {
        key: "dnsbl.codes",
        default: "[]",
        doc: "The return codes that count as a listing, e.g. [\"127.0.0.2\", \"127.0.0.4\"] (default: any 127.0.0.0/8 address but 127.0.0.1).",
    },
    OptionDoc {
        key: "dnsbl.mask",
        default: "0",
        doc: "Instead of codes: a bit mask on the last octet of the answer (e.g. 12 for 0x0c).",
    },
    OptionDoc {
        key: "dnsbl.action",
        default: "\"reject\"",
        doc: "What a listing on this block list does: \"reject\" (554 5.7.1 naming the list), \"tempfail\" (451 4.7.1), \"tag\" (X-Monban-Tag: dnsbl=ZONE) or \"record\" (x-dnsbl= in Authentication-Results only).",
    },
    OptionDoc {
        key: "dnsbl.weight",
        default: "0",
        doc: "Added to the client's score when this list lists it (see dnsbl_reject_score).",
    },
    OptionDoc {
        key: "dnsbl.message",
        default: "",
        doc: "Words added to the refusal when this list refuses the client, e.g. \"see https://www.spamhaus.org/query/\".",
    },
    OptionDoc {
        key: "signing.sender",
        default: "",
        doc: "A signing-table row: the sender address or pattern (user@example.com, *@example.com, example.com, *).",
    },
    OptionDoc {
        key: "signing.domain",
        default: "",
        doc: "The signing domain d= for that row.",
    },
    OptionDoc {
        key: "signing.selector",
        default: "",
        doc: "The selector s= for that row.",
    },
    OptionDoc {
        key: "signing.key",
        default: "",
        doc: "The private key file (PEM) for that row.",
    },
    OptionDoc {
        key: "default_signing.domain",
        default: "",
        doc: "A third-party signing domain for senders the table does not list (a mail service signing for its users).",
    },
    OptionDoc {
        key: "default_signing.selector",
        default: "",
        doc: "Its selector.",
    },
    OptionDoc {
        key: "default_signing.key",
        default: "",
        doc: "Its private key file.",
    },
];

/// `tcp_quickack` as written: a boolean or "auto".
#[derive(Debug, Clone)]
enum RawQuickAck {
    Flag(bool),
    Word(String),
}

impl<'de> Deserialize<'de> for RawQuickAck {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawQuickAck;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tcp_quickack = true, false or \"auto\"")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawQuickAck, E> {
                Ok(RawQuickAck::Flag(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawQuickAck, E> {
                Ok(RawQuickAck::Word(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The configuration as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default = "default_listen")]
    listen: String,
    authserv_id: String,
    #[serde(default)]
    trusted_networks: Option<Vec<String>>,
    #[serde(default)]
    listen_mode: Option<String>,
    #[serde(default)]
    listen_owner: Option<String>,
    #[serde(default)]
    listen_group: Option<String>,
    #[serde(default = "yes")]
    enforce_reject: bool,
    #[serde(default = "default_quarantine")]
    quarantine: String,
    #[serde(default = "yes")]
    tempfail_on_dns_error: bool,
    #[serde(default)]
    allow_domains: Vec<String>,
    #[serde(default)]
    allow_networks: Vec<String>,
    #[serde(default)]
    optout_recipient_domains: Vec<String>,
    #[serde(default = "default_max_signatures")]
    max_signatures: usize,
    #[serde(default = "yes")]
    reject_unparseable_from: bool,
    #[serde(default = "default_refusal")]
    oversized_header: String,
    #[serde(default = "default_refusal")]
    malformed_header: String,
    #[serde(default = "default_on_sign_error")]
    on_sign_error: String,
    #[serde(default)]
    trusted_arc_sealers: Vec<String>,
    #[serde(default)]
    arc_seal_recipients: Vec<String>,
    #[serde(default)]
    arc_seal_senders: Vec<String>,
    #[serde(default)]
    dkim2: bool,
    #[serde(default = "yes")]
    sender_id: bool,
    #[serde(default = "default_record")]
    iprev_fail: String,
    #[serde(default = "default_record")]
    iprev_temperror: String,
    #[serde(default = "default_record")]
    helo_invalid: String,
    #[serde(default)]
    dnsbl_reject_score: u32,
    #[serde(default = "default_connect_timeout")]
    connect_timeout_seconds: u64,
    #[serde(default)]
    allow_client_domains: Vec<String>,
    #[serde(default)]
    reflector: Option<String>,
    #[serde(default = "default_reflector_smtp")]
    reflector_smtp: String,
    #[serde(default = "default_reflector_per_hour")]
    reflector_per_hour: u32,
    #[serde(default = "default_record")]
    adsp_discard: String,
    #[serde(default)]
    dnsbl: Vec<RawDnsbl>,
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    #[serde(default = "default_idle_timeout")]
    idle_timeout_seconds: u64,
    #[serde(default = "default_command_timeout")]
    command_timeout_seconds: u64,
    #[serde(default = "default_message_timeout")]
    message_timeout_seconds: u64,
    #[serde(default = "default_shutdown_grace")]
    shutdown_grace_seconds: u64,
    #[serde(default = "default_max_packet")]
    max_packet_bytes: usize,
    #[serde(default)]
    tcp_quickack: Option<RawQuickAck>,
    #[serde(default)]
    metrics_listen: Option<String>,
    #[serde(default)]
    dns: RawDns,
    #[serde(default)]
    store: Option<RawStore>,
    #[serde(default)]
    reports: Option<RawReports>,
    #[serde(default)]
    signing: Vec<RawSigning>,
    #[serde(default)]
    default_signing: Option<RawKey>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDns {
    zone_file: Option<PathBuf>,
    server: Option<String>,
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: Option<String>,
    record: Option<bool>,
    journal: Option<PathBuf>,
    #[serde(default = "default_max_journal_bytes")]
    max_journal_bytes: u64,
    #[serde(default = "default_batch_size")]
    batch_size: usize,
    #[serde(default = "yes")]
    failure_reports: bool,
    #[serde(default = "yes")]
    redact_failure_reports: bool,
    #[serde(default = "default_failure_per_hour")]
    failure_reports_per_hour: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReports {
    org_name: String,
    email: String,
    #[serde(default = "default_report_smtp")]
    smtp: String,
    #[serde(default = "default_starttls")]
    starttls: String,
    out: Option<PathBuf>,
    #[serde(default = "default_reports_per_hour")]
    max_per_hour: u64,
}

fn default_reports_per_hour() -> u64 {
    60
}

fn default_report_smtp() -> String {
    "localhost:25".into()
}
fn default_starttls() -> String {
    "opportunistic".into()
}

/// Reports sent by the milter itself (`[reports]`).
#[derive(Debug, Clone)]
pub struct ReportsConfig {
    /// The store (from `[store] url`).
    pub url: monban_store::StoreUrl,
    /// The reporting organization.
    pub org_name: String,
    /// The reporting address.
    pub email: String,
    /// The relay host.
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// STARTTLS.
    pub starttls: monban_report::send::StartTls,
    /// Where report files also go.
    pub out: Option<PathBuf>,
    /// Who signs (the `[[signing]]` row matching `email`).
    pub signer: SignerConfig,
    /// Reports to one destination per hour at most.
    pub max_per_hour: u64,
}

fn default_failure_per_hour() -> u32 {
    10
}

fn default_max_journal_bytes() -> u64 {
    1 << 30
}
fn default_batch_size() -> usize {
    500
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    sender: String,
    domain: String,
    selector: String,
    key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDnsbl {
    zone: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    mask: u8,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    weight: u32,
    #[serde(default)]
    message: Option<String>,
}

fn default_reflector_smtp() -> String {
    "127.0.0.1:25".into()
}

fn default_reflector_per_hour() -> u32 {
    5
}

fn default_record() -> String {
    "record".into()
}

fn default_connect_timeout() -> u64 {
    5
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    domain: String,
    selector: String,
    key: PathBuf,
}

fn default_listen() -> String {
    "inet:127.0.0.1:8891".into()
}
fn yes() -> bool {
    true
}
fn default_quarantine() -> String {
    "hold".into()
}
fn default_max_signatures() -> usize {
    5
}
fn default_refusal() -> String {
    "reject".into()
}
fn default_on_sign_error() -> String {
    "tempfail".into()
}
fn default_max_connections() -> usize {
    Limits::default().max_connections
}
fn default_idle_timeout() -> u64 {
    Limits::default().idle_timeout.as_secs()
}
fn default_command_timeout() -> u64 {
    Limits::default().command_timeout.as_secs()
}
fn default_message_timeout() -> u64 {
    Limits::default().message_timeout.as_secs()
}
fn default_shutdown_grace() -> u64 {
    Limits::default().shutdown_grace.as_secs()
}
fn default_max_packet() -> usize {
    Limits::default().max_packet
}

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// TCP.
    Inet(std::net::SocketAddr),
    /// A unix socket path.
    Unix(PathBuf),
}

/// Where DNS answers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsSource {
    /// The system resolver.
    System,
    /// A server.
    Server(std::net::SocketAddr),
    /// A zone file.
    ZoneFile(PathBuf),
}

/// A validated configuration: keys loaded, networks parsed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: Listen,
    /// DNS.
    pub dns: DnsSource,
    /// Per-query DNS timeout.
    pub dns_timeout: std::time::Duration,
    /// Where to serve `/metrics`, if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
    /// Connection limits and timeouts (applied at start; a reload does not change
    /// them).
    pub limits: Limits,
    /// The filter settings.
    pub filter: Arc<FilterConfig>,
    /// Recording evaluations (`[store]`), when on.
    pub record: Option<crate::recorder::RecordConfig>,
    /// Sending reports from the milter (`[reports]`), when on.
    pub reports: Option<ReportsConfig>,
    /// The Unix socket's permissions (`listen_mode`, `listen_owner`, `listen_group`).
    pub socket: SocketAccess,
    /// Settings that are valid but probably not what was meant, one sentence each
    /// (`--check-config` prints them; the daemon logs them).
    pub warnings: Vec<String>,
}

impl Config {
    /// The settings of `new` that differ from this running configuration and that a
    /// reload (SIGHUP) does not apply, by the names the file gives them: they are read
    /// once, at start. A reload applies the rest (`[filter]` keys, signing rows, keys,
    /// policies, lists).
    pub fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        // Compared through their Debug form: these are read once, and some hold types
        // without PartialEq (a key, a URL).
        fn differ(a: &impl std::fmt::Debug, b: &impl std::fmt::Debug) -> bool {
            format!("{a:?}") != format!("{b:?}")
        }
        let mut out = Vec::new();
        for (name, changed) in [
            ("listen", self.listen != new.listen),
            (
                "listen_mode/listen_owner/listen_group",
                self.socket != new.socket,
            ),
            (
                "[dns]",
                self.dns != new.dns || self.dns_timeout != new.dns_timeout,
            ),
            ("metrics_listen", self.metrics != new.metrics),
            (
                "the connection limits (max_connections, *_timeout_seconds)",
                differ(&self.limits, &new.limits),
            ),
            ("[store]", differ(&self.record, &new.record)),
            ("[reports]", differ(&self.reports, &new.reports)),
        ] {
            if changed {
                out.push(name);
            }
        }
        out
    }
}

/// Who may connect to the milter's Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketAccess {
    /// The permission bits (default 0660: the owner and the group).
    pub mode: u32,
    /// The owner (a user name, resolved through /etc/passwd), when set.
    pub owner: Option<String>,
    /// The group (a group name, resolved through /etc/group), when set: Postfix's
    /// `postfix` user must be in it.
    pub group: Option<String>,
}

impl Default for SocketAccess {
    fn default() -> Self {
        Self {
            mode: 0o660,
            owner: None,
            group: None,
        }
    }
}

/// The networks trusted when `trusted_networks` is not set: this host (mail submitted
/// with `sendmail` or by a local web mailer is signed, as OpenDKIM does by default).
pub const DEFAULT_TRUSTED: [&str; 2] = ["127.0.0.0/8", "::1/128"];

impl std::fmt::Display for Listen {
    /// As written in the configuration: `inet:IP:PORT` or `unix:PATH`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inet(a) => write!(f, "inet:{a}"),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A configuration problem: one sentence naming the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

/// Reads a private key; a key that users other than its owner (and group) can read or
/// replace is loaded with a warning in `warnings`.
fn load_key(
    base: &Path,
    path: &Path,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Arc<SigningKey>, ConfigError> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let err = |message: String| ConfigError {
        file: file.to_owned(),
        message,
    };
    let pem = monban_dns::file::read_text_limited(&full, MAX_KEY_FILE_BYTES)
        .map_err(|e| err(format!("cannot read the key {}: {e}", full.display())))?;
    if let Some(w) = monban_dns::file::secret_exposure(&full) {
        warnings.push(format!("the key {w}"));
    }
    SigningKey::from_pem(&pem)
        .map(Arc::new)
        .map_err(|e| err(format!("the key {}: {e}", full.display())))
}

impl Config {
    /// Reads and validates a file; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text =
            monban_dns::file::read_text_limited(path, MAX_CONFIG_FILE_BYTES).map_err(|e| {
                ConfigError {
                    file: file.clone(),
                    message: e.to_string(),
                }
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &file, base)
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError {
            file: file.to_owned(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            err(e.message().trim_end().to_owned()
                + &e.span()
                    .map(|s| {
                        let (line, column) = monban::text::line_column(text, s.start);
                        format!(" (line {line}, column {column})")
                    })
                    .unwrap_or_default())
        })?;
        let listen = if let Some(rest) = raw.listen.strip_prefix("inet:") {
            Listen::Inet(
                rest.parse()
                    .map_err(|_| err(format!("listen: {:?} is not inet:IP:PORT", raw.listen)))?,
            )
        } else if let Some(rest) = raw.listen.strip_prefix("unix:") {
            Listen::Unix(PathBuf::from(rest))
        } else {
            return Err(err(format!(
                "listen: {:?} must start with inet: or unix:",
                raw.listen
            )));
        };
        // Written bare in ARC-Authentication-Results (RFC 8617 §4.1.1): a token, as a
        // host name is.
        if !monban::authres::is_token(&raw.authserv_id) {
            return Err(err(format!(
                "authserv_id {:?} must be a host name (a token: no spaces or ()<>@,;:\\\"/[]?=)",
                raw.authserv_id
            )));
        }
        let networks = |key: &str, list: &[String]| -> Result<Vec<Network>, ConfigError> {
            list.iter()
                .map(|n| {
                    Network::parse(n)
                        .ok_or_else(|| err(format!("{key}: {n:?} is not an address or network")))
                })
                .collect()
        };
        let dns = match (&raw.dns.zone_file, &raw.dns.server) {
            (Some(_), Some(_)) => {
                return Err(err("dns: give zone_file or server, not both".into()));
            }
            (Some(z), None) => DnsSource::ZoneFile(if z.is_absolute() {
                z.clone()
            } else {
                base.join(z)
            }),
            (None, Some(s)) => DnsSource::Server(
                s.parse::<std::net::SocketAddr>()
                    .or_else(|_| {
                        s.parse::<std::net::IpAddr>()
                            .map(|ip| std::net::SocketAddr::new(ip, 53))
                    })
                    .map_err(|_| err(format!("dns.server: {s:?} is not IP or IP:PORT")))?,
            ),
            (None, None) => DnsSource::System,
        };
        let quarantine = match raw.quarantine.as_str() {
            "hold" => QuarantineMode::Hold,
            "header" => QuarantineMode::Header,
            other => {
                return Err(err(format!(
                    "quarantine: {other:?} must be \"hold\" or \"header\""
                )));
            }
        };
        if !(1..=MAX_SIGNATURES).contains(&raw.max_signatures) {
            return Err(err(format!(
                "max_signatures: {} must be from 1 to {MAX_SIGNATURES}",
                raw.max_signatures
            )));
        }
        let dns_timeout = match raw.dns.timeout_seconds.unwrap_or(3) {
            t @ 1..=60 => std::time::Duration::from_secs(t),
            t => {
                return Err(err(format!(
                    "dns.timeout_seconds: {t} must be from 1 to 60"
                )));
            }
        };
        let mut key_warnings = Vec::new();
        let mut signing = Vec::new();
        for row in &raw.signing {
            let key = load_key(base, &row.key, file, &mut key_warnings)?;
            signing.push(SigningRule {
                sender: row.sender.clone(),
                signer: SignerConfig::new(&row.domain, &row.selector, key),
            });
        }
        let default_signer = match &raw.default_signing {
            Some(k) => Some(SignerConfig::new(
                &k.domain,
                &k.selector,
                load_key(base, &k.key, file, &mut key_warnings)?,
            )),
            None => None,
        };
        let metrics = match &raw.metrics_listen {
            None => None,
            Some(m) => Some(
                m.parse()
                    .map_err(|_| err(format!("metrics_listen: {m:?} is not IP:PORT")))?,
            ),
        };
        let refusal = |key: &str, v: &str| match v {
            "reject" => Ok(Refusal::Reject),
            "tempfail" => Ok(Refusal::Tempfail),
            other => Err(err(format!(
                "{key}: {other:?} must be \"reject\" or \"tempfail\""
            ))),
        };
        let oversized_header = refusal("oversized_header", &raw.oversized_header)?;
        let malformed_header = refusal("malformed_header", &raw.malformed_header)?;
        let on_sign_error = match raw.on_sign_error.as_str() {
            "tempfail" => SignErrorAction::Tempfail,
            "accept" => SignErrorAction::Accept,
            other => {
                return Err(err(format!(
                    "on_sign_error: {other:?} must be \"tempfail\" or \"accept\""
                )));
            }
        };
        let seconds = |key: &str, v: u64, min: u64, max: u64| {
            if (min..=max).contains(&v) {
                Ok(std::time::Duration::from_secs(v))
            } else {
                Err(err(format!("{key}: {v} must be from {min} to {max}")))
            }
        };
        let quick_ack = match &raw.tcp_quickack {
            None => QuickAckMode::Auto,
            Some(RawQuickAck::Flag(true)) => QuickAckMode::Always,
            Some(RawQuickAck::Flag(false)) => QuickAckMode::Never,
            Some(RawQuickAck::Word(w)) if w == "auto" => QuickAckMode::Auto,
            Some(RawQuickAck::Word(w)) => {
                return Err(err(format!(
                    "tcp_quickack: {w:?} is not true, false or \"auto\""
                )));
            }
        };
        let limits = Limits {
            quick_ack,
            max_connections: if (1..=100_000).contains(&raw.max_connections) {
                raw.max_connections
            } else {
                return Err(err(format!(
                    "max_connections: {} must be from 1 to 100000",
                    raw.max_connections
                )));
            },
            idle_timeout: seconds("idle_timeout_seconds", raw.idle_timeout_seconds, 1, 86_400)?,
            command_timeout: seconds(
                "command_timeout_seconds",
                raw.command_timeout_seconds,
                1,
                3_600,
            )?,
            message_timeout: seconds(
                "message_timeout_seconds",
                raw.message_timeout_seconds,
                1,
                3_600,
            )?,
            shutdown_grace: seconds(
                "shutdown_grace_seconds",
                raw.shutdown_grace_seconds,
                0,
                3_600,
            )?,
            max_packet: if (131_072..=crate::protocol::MAX_PACKET).contains(&raw.max_packet_bytes) {
                raw.max_packet_bytes
            } else {
                return Err(err(format!(
                    "max_packet_bytes: {} must be from 131072 to {}",
                    raw.max_packet_bytes,
                    crate::protocol::MAX_PACKET
                )));
            },
        };
        let record = match &raw.store {
            None => None,
            Some(st) => match (&st.url, st.record) {
                (None, Some(true)) => {
                    return Err(err("store.record = true needs store.url".into()));
                }
                (None, _) | (Some(_), Some(false)) => None,
                (Some(url), _) => {
                    let url = monban_store::StoreUrl::parse(url)
                        .map_err(|e| err(format!("store.url: {e}")))?;
                    let url = match url {
                        monban_store::StoreUrl::Sqlite(p) if p.is_relative() => {
                            monban_store::StoreUrl::Sqlite(base.join(p))
                        }
                        other => other,
                    };
                    let journal = match (&st.journal, &url) {
                        (Some(j), _) if j.is_absolute() => j.clone(),
                        (Some(j), _) => base.join(j),
                        (None, monban_store::StoreUrl::Sqlite(p)) => {
                            let mut name = p.as_os_str().to_owned();
                            name.push(".journal");
                            PathBuf::from(name)
                        }
                        (None, monban_store::StoreUrl::Postgres(_)) => {
                            PathBuf::from("/var/lib/monban/journal")
                        }
                    };
                    if !(1..=100_000).contains(&st.batch_size) {
                        return Err(err(format!(
                            "store.batch_size: {} must be from 1 to 100000",
                            st.batch_size
                        )));
                    }
                    if st.max_journal_bytes < 1 << 20 {
                        return Err(err(format!(
                            "store.max_journal_bytes: {} must be at least 1048576",
                            st.max_journal_bytes
                        )));
                    }
                    Some(crate::recorder::RecordConfig {
                        url,
                        journal,
                        max_journal_bytes: st.max_journal_bytes,
                        batch: st.batch_size,
                        discovery_method: "treewalk",
                        failure: st.failure_reports.then(|| {
                            monban_report::failure::FailureOptions {
                                authserv_id: raw.authserv_id.clone(),
                                redact: st.redact_failure_reports,
                                per_hour: st.failure_reports_per_hour,
                            }
                        }),
                    })
                }
            },
        };
        let reports = match &raw.reports {
            None => None,
            Some(r) => {
                let url = match &raw.store {
                    Some(RawStore { url: Some(u), .. }) => monban_store::StoreUrl::parse(u)
                        .map_err(|e| err(format!("store.url: {e}")))?,
                    _ => return Err(err("[reports] needs [store] url".into())),
                };
                let url = match url {
                    monban_store::StoreUrl::Sqlite(p) if p.is_relative() => {
                        monban_store::StoreUrl::Sqlite(base.join(p))
                    }
                    other => other,
                };
                if monban_report::send::mailto_address(&format!("mailto:{}", r.email)).is_none() {
                    return Err(err(format!(
                        "reports.email: {:?} is not an address",
                        r.email
                    )));
                }
                let (smtp_host, smtp_port) = match r.smtp.rsplit_once(':') {
                    Some((h, p)) if !h.is_empty() => (
                        h.trim_start_matches('[').trim_end_matches(']').to_owned(),
                        p.parse().map_err(|_| {
                            err(format!("reports.smtp: {:?} is not HOST[:PORT]", r.smtp))
                        })?,
                    ),
                    _ if !r.smtp.is_empty() => (r.smtp.clone(), 25),
                    _ => return Err(err("reports.smtp: empty".into())),
                };
                let starttls = match r.starttls.as_str() {
                    "opportunistic" => monban_report::send::StartTls::Opportunistic,
                    "required" => monban_report::send::StartTls::Required,
                    "never" => monban_report::send::StartTls::Never,
                    other => {
                        return Err(err(format!(
                            "reports.starttls: {other:?} must be \"opportunistic\", \"required\" or \"never\""
                        )));
                    }
                };
                let signer = signing
                    .iter()
                    .find(|rule: &&SigningRule| rule.matches(&r.email))
                    .map(|rule| rule.signer.clone())
                    .ok_or_else(|| {
                        err(format!(
                            "reports.email: no [[signing]] row matches {}, so reports would fail DMARC",
                            r.email
                        ))
                    })?;
                Some(ReportsConfig {
                    url,
                    org_name: r.org_name.clone(),
                    email: r.email.clone(),
                    smtp_host,
                    smtp_port,
                    starttls,
                    out: r.out.as_ref().map(|o| {
                        if o.is_absolute() {
                            o.clone()
                        } else {
                            base.join(o)
                        }
                    }),
                    signer,
                    max_per_hour: r.max_per_hour.max(1),
                })
            }
        };
        let mut filter = FilterConfig::new(&raw.authserv_id);
        filter.verify.dkim.max_signatures = raw.max_signatures;
        if !raw.reject_unparseable_from {
            filter.verify.dmarc.permerror_disposition = monban::dmarc::Disposition::None;
        }
        // Sealers match with their subdomains: a public suffix (a TLD, co.uk, github.io)
        // would let anyone who registers a name under it seal away every domain's
        // DMARC policy.
        let psl = monban::dmarc::psl::PublicSuffixList::bundled_shared();
        for d in &raw.trusted_arc_sealers {
            if d.contains('*') || monban_dns::normalize_name(d).is_err() || d.contains('@') {
                return Err(err(format!(
                    "trusted_arc_sealers: {d:?} is not a domain name (sealers are listed by name, without wildcards)"
                )));
            }
            let name = d.trim_end_matches('.').to_ascii_lowercase();
            if psl.registrable_domain(&name).is_none() {
                return Err(err(format!(
                    "trusted_arc_sealers: {d:?} is a public suffix: anyone who registers a domain under it could seal mail past every DMARC policy; list the sealers' own domains"
                )));
            }
        }
        filter.verify.trusted_arc_sealers = raw.trusted_arc_sealers.clone();
        filter.verify.dkim2 = raw.dkim2.then(monban::dkim2::Dkim2Config::default);
        filter.verify.skip_sender_id = !raw.sender_id;
        filter.connect = connect_policy(&raw).map_err(err)?;
        filter.reflector = match &raw.reflector {
            None => None,
            Some(address) => {
                let ok = address
                    .rsplit_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && monban_dns::normalize_name(d).is_ok());
                if !ok {
                    return Err(err(format!("reflector: {address:?} is not an address")));
                }
                let (host, port) = raw
                    .reflector_smtp
                    .rsplit_once(':')
                    .and_then(|(h, p)| {
                        Some((
                            h.trim_matches(['[', ']']).to_owned(),
                            p.parse::<u16>().ok()?,
                        ))
                    })
                    .filter(|(h, _)| !h.is_empty())
                    .ok_or_else(|| {
                        err(format!(
                            "reflector_smtp: {:?} is not HOST:PORT",
                            raw.reflector_smtp
                        ))
                    })?;
                Some(crate::session::Reflector {
                    address: address.to_ascii_lowercase(),
                    smtp_host: host,
                    smtp_port: port,
                    per_hour: raw.reflector_per_hour.max(1),
                })
            }
        };
        filter.verify.dnsbl = filter.connect.zones();
        filter.adsp_discard = match raw.adsp_discard.as_str() {
            "record" => crate::connect::ConnectAction::Record,
            "reject" => crate::connect::ConnectAction::Reject,
            other => {
                return Err(err(format!(
                    "adsp_discard: {other:?} is not \"record\" or \"reject\""
                )));
            }
        };
        filter.signing = signing.clone();
        filter.default_signer = default_signer.clone();
        for (key, list) in [
            ("arc_seal_recipients", &raw.arc_seal_recipients),
            ("arc_seal_senders", &raw.arc_seal_senders),
        ] {
            for pattern in list {
                // A sample address of the pattern finds its key as a message would.
                let sample = match pattern.strip_prefix("*@") {
                    Some(d) => format!("postmaster@{d}"),
                    None => pattern.clone(),
                };
                let Some(c) = filter.sealer_for(&sample) else {
                    return Err(err(format!(
                        "{key}: no [[signing]] row (or default_signing) gives a key for {pattern}"
                    )));
                };
                if c.key.algorithm() != monban::dkim::Algorithm::RsaSha256 {
                    return Err(err(format!(
                        "{key}: the key for {pattern} ({}, s={}) is {}: ARC seals need an RSA key",
                        c.domain,
                        c.selector,
                        c.key.algorithm().as_str()
                    )));
                }
            }
        }
        filter.arc = crate::session::ArcSealing {
            recipients: raw.arc_seal_recipients.clone(),
            senders: raw.arc_seal_senders.clone(),
        };
        let trusted_given = raw.trusted_networks.is_some();
        let trusted_text: Vec<String> = raw
            .trusted_networks
            .clone()
            .unwrap_or_else(|| DEFAULT_TRUSTED.map(str::to_owned).to_vec());
        let trusted_networks = networks("trusted_networks", &trusted_text)?;
        let socket = socket_access(&raw).map_err(err)?;
        let mut warnings = key_warnings;
        let loopback_trusted = trusted_networks
            .iter()
            .any(|n| n.contains(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)));
        if trusted_given && !loopback_trusted {
            warnings.push(
                "trusted_networks does not include this host (127.0.0.0/8, ::1/128): mail submitted here (sendmail, a local web mailer) is judged as inbound mail, not signed".to_owned(),
            );
        }
        let non_local = trusted_networks.iter().any(|n| {
            !n.contains(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
                && !n.contains(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
        });
        if trusted_given && non_local && signing.is_empty() && default_signer.is_none() {
            warnings.push(
                "trusted_networks lists networks, but no [[signing]] row or default_signing signs for anyone: their mail passes through unsigned".to_owned(),
            );
        }
        for n in raw
            .allow_networks
            .iter()
            .filter(|n| crate::session::Network::parse(n).is_some_and(|n| n.is_vast()))
        {
            warnings.push(format!(
                "allow_networks: {n} spans a large part of the Internet: no DMARC policy is applied to mail from it"
            ));
        }
        let psl = monban::dmarc::psl::PublicSuffixList::bundled_shared();
        for (key, list, what) in [
            (
                "allow_domains",
                &raw.allow_domains,
                "no DMARC policy is applied to mail from any domain under it",
            ),
            (
                "optout_recipient_domains",
                &raw.optout_recipient_domains,
                "mail to any domain under it is delivered unenforced",
            ),
        ] {
            for d in list {
                let name = d.trim_end_matches('.').to_ascii_lowercase();
                if name.contains('*') || psl.registrable_domain(&name).is_none() {
                    warnings.push(format!(
                        "{key}: {d:?} is a public suffix or a wildcard, not one organization's domain: {what}, if it matches at all"
                    ));
                }
            }
        }
        if matches!(listen, Listen::Unix(_)) && socket.group.is_none() && socket.mode & 0o006 == 0 {
            warnings.push(format!(
                "listen: the socket is {:04o} without listen_group: Postfix (user postfix) cannot connect unless it runs as the milter's user; set listen_group = \"postfix\"",
                socket.mode
            ));
        }
        Ok(Self {
            socket,
            warnings,
            listen,
            dns,
            dns_timeout,
            metrics,
            limits,
            record,
            reports,
            filter: Arc::new(FilterConfig {
                trusted_networks,
                signing,
                default_signer,
                enforce_reject: raw.enforce_reject,
                quarantine,
                tempfail_on_dns_error: raw.tempfail_on_dns_error,
                allow_domains: raw.allow_domains,
                allow_networks: networks("allow_networks", &raw.allow_networks)?,
                optout_recipient_domains: raw.optout_recipient_domains,
                oversized_header,
                malformed_header,
                on_sign_error,
                ..filter
            }),
        })
    }
}

/// `listen_mode`, `listen_owner`, `listen_group`.
fn socket_access(raw: &RawConfig) -> Result<SocketAccess, String> {
    let mode = match &raw.listen_mode {
        None => 0o660,
        Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| format!("listen_mode: {m:?} is not an octal mode such as \"0660\""))?,
    };
    for (key, name) in [
        ("listen_owner", &raw.listen_owner),
        ("listen_group", &raw.listen_group),
    ] {
        if let Some(n) = name
            && (n.is_empty() || n.contains([':', '/', '\n']) || n.chars().any(char::is_whitespace))
        {
            return Err(format!("{key}: {n:?} is not a user or group name"));
        }
    }
    Ok(SocketAccess {
        mode,
        owner: raw.listen_owner.clone(),
        group: raw.listen_group.clone(),
    })
}

/// The largest `/etc/passwd` or `/etc/group` read (a wrong path must not be read whole).
const MAX_ACCOUNT_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The id of a user (`/etc/passwd`) or group (`/etc/group`) by name, or a number.
pub fn account_id(file: &Path, name: &str) -> Result<u32, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let text = monban_dns::file::read_text_limited(file, MAX_ACCOUNT_FILE_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let n = f.next()?;
            let _password = f.next()?;
            let id = f.next()?.parse::<u32>().ok()?;
            (n == name).then_some(id)
        })
        .next()
        .ok_or_else(|| format!("{name:?} is not in {}", file.display()))
}

/// The CONNECT and HELO checks of the configuration.
fn connect_policy(raw: &RawConfig) -> Result<crate::connect::ConnectPolicy, String> {
    use crate::connect::{ConnectAction, ConnectPolicy, ListRule};
    use monban::dnsbl::{CodeFilter, ListKind, Zone};
    if raw.dnsbl.len() > monban::dnsbl::MAX_ZONES {
        return Err(format!(
            "dnsbl: {} lists; at most {} are asked",
            raw.dnsbl.len(),
            monban::dnsbl::MAX_ZONES
        ));
    }
    let mut lists = Vec::new();
    for (i, d) in raw.dnsbl.iter().enumerate() {
        let at = format!("dnsbl[{}] ({})", i + 1, d.zone);
        let kind = match d.kind.as_deref() {
            None | Some("block") => ListKind::Block,
            Some("allow") => ListKind::Allow,
            Some(other) => {
                return Err(format!(
                    "{at}: kind {other:?} is not \"block\" or \"allow\""
                ));
            }
        };
        let mut zone = Zone::parse(&d.zone, kind).map_err(|e| format!("{at}: {e}"))?;
        if lists.iter().any(|l: &ListRule| l.zone.zone == zone.zone) {
            return Err(format!(
                "{at}: the zone is listed twice; give it once (its codes or mask say which answers count)"
            ));
        }
        if !d.codes.is_empty() && d.mask != 0 {
            return Err(format!("{at}: give codes or mask, not both"));
        }
        if !d.codes.is_empty() {
            let spec = format!("{}={}", zone.zone, d.codes.join(","));
            zone.filter = Zone::parse(&spec, kind)
                .map_err(|e| format!("{at}: codes: {e}"))?
                .filter;
        } else if d.mask != 0 {
            zone.filter = CodeFilter::Mask(d.mask);
        }
        let action = match &d.action {
            Some(a) => ConnectAction::parse(a, &format!("{at}: action"))?,
            None => ConnectAction::Reject,
        };
        if kind == ListKind::Allow && (d.action.is_some() || d.weight > 0) {
            return Err(format!(
                "{at}: an allow list takes no action or weight (it only makes the block lists count for nothing)"
            ));
        }
        lists.push(ListRule {
            zone,
            action,
            weight: d.weight,
            message: d.message.clone(),
        });
    }
    Ok(ConnectPolicy {
        lists,
        reject_score: raw.dnsbl_reject_score,
        iprev_fail: ConnectAction::parse(&raw.iprev_fail, "iprev_fail")?,
        iprev_temperror: ConnectAction::parse(&raw.iprev_temperror, "iprev_temperror")?,
        helo_invalid: ConnectAction::parse(&raw.helo_invalid, "helo_invalid")?,
        // Below Postfix's milter_command_timeout (30 s): past it the MTA would apply
        // its default action instead of monban deciding nothing.
        timeout: match raw.connect_timeout_seconds {
            t @ 1..=25 => std::time::Duration::from_secs(t),
            t => {
                return Err(format!(
                    "connect_timeout_seconds: {t} must be from 1 to 25 (below Postfix's milter_command_timeout)"
                ));
            }
        },
        allow_client_domains: raw
            .allow_client_domains
            .iter()
            .map(|d| {
                monban_dns::normalize_name(d)
                    .ok()
                    .filter(|n| !n.is_empty() && !n.contains('@'))
                    .ok_or_else(|| format!("allow_client_domains: {d:?} is not a domain name"))
            })
            .collect::<Result<_, _>>()?,
    })
}

/// The sample configuration, generated from [`OPTIONS`].
pub fn sample_config() -> String {
    let mut out = String::from(
        "# monban milter configuration (generated from the option table; every key is optional\n# unless marked required).\n\n",
    );
    let mut section = "";
    for o in OPTIONS {
        let (table, key) = o.key.split_once('.').unwrap_or(("", o.key));
        if table != section {
            section = table;
            out.push_str(&match table {
                "signing" => {
                    "\n# One [[signing]] table per row of the signing table.\n[[signing]]\n"
                        .to_owned()
                }
                "default_signing" => "\n#[default_signing]\n".to_owned(),
                "reports" => "\n# Reports sent by the milter itself (optional; needs [store] url).\n#[reports]\n".to_owned(),
                "dnsbl" => "\n# DNS lists asked at CONNECT (optional; one [[dnsbl]] table per list).\n#[[dnsbl]]\n".to_owned(),
                t => format!("\n[{t}]\n"),
            });
        }
        out.push_str(&format!("# {}\n", o.doc));
        let value = match (o.key, o.default) {
            ("authserv_id", _) => "\"mx.example.net\"  # required".to_owned(),
            ("dns.zone_file", _) => "# zone_file = \"examples/example.zone\"".to_owned(),
            ("dns.server", _) => "# server = \"127.0.0.1:53\"".to_owned(),
            ("metrics_listen", _) => "# metrics_listen = \"127.0.0.1:9891\"".to_owned(),
            ("listen_owner", _) => "# listen_owner = \"monban\"".to_owned(),
            ("reflector", _) => "# reflector = \"check-auth@mx.example.net\"".to_owned(),
            ("listen_group", _) => "# listen_group = \"postfix\"".to_owned(),
            ("store.url", _) => "# url = \"sqlite:/var/lib/monban/monban.db\"".to_owned(),
            ("store.record", _) => "# record = true".to_owned(),
            ("store.journal", _) => "# journal = \"/var/lib/monban/journal\"".to_owned(),
            ("reports.org_name", _) => "# org_name = \"Example Mail\"".to_owned(),
            ("reports.email", _) => "# email = \"dmarc-reports@example.com\"".to_owned(),
            ("reports.smtp", _) => "# smtp = \"localhost:25\"".to_owned(),
            ("reports.starttls", _) => "# starttls = \"opportunistic\"".to_owned(),
            ("reports.out", _) => "# out = \"/var/lib/monban/reports\"".to_owned(),
            ("reports.max_per_hour", _) => "# max_per_hour = 60".to_owned(),
            ("signing.sender", _) => "\"*@example.com\"".to_owned(),
            ("signing.domain", _) => "\"example.com\"".to_owned(),
            ("signing.selector", _) => "\"s2026\"".to_owned(),
            ("signing.key", _) => "\"keys/s2026.private\"".to_owned(),
            (k, _) if k.starts_with("default_signing.") => String::new(),
            ("dnsbl.zone", _) => "# zone = \"bl.example.net\"".to_owned(),
            ("dnsbl.message", _) => "# message = \"see https://bl.example.net/lookup\"".to_owned(),
            (k, d) if let Some(name) = k.strip_prefix("dnsbl.") => format!("# {name} = {d}"),
            (_, d) => d.to_owned(),
        };
        if value.starts_with('#') {
            out.push_str(&value);
            out.push('\n');
        } else if value.is_empty() {
            out.push_str(&format!("#{key} = \"...\"\n"));
        } else {
            out.push_str(&format!("{key} = {value}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_minimal_config() {
        let dir = std::env::temp_dir().join(format!("monban-milter-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        let key = SigningKey::generate_ed25519().unwrap();
        std::fs::write(dir.join("keys/s2026.private"), key.to_pkcs8_pem().unwrap()).unwrap();
        let text = r#"
listen = "inet:127.0.0.1:8891"
authserv_id = "mx.example.net"
trusted_networks = ["10.0.0.0/8"]
[dns]
zone_file = "example.zone"
[[signing]]
sender = "*@example.com"
domain = "example.com"
selector = "s2026"
key = "keys/s2026.private"
"#;
        let c = Config::parse(text, "monban.toml", &dir).unwrap();
        assert_eq!(c.listen, Listen::Inet("127.0.0.1:8891".parse().unwrap()));
        assert_eq!(c.dns, DnsSource::ZoneFile(dir.join("example.zone")));
        assert_eq!(c.filter.signing.len(), 1);
        assert!(c.filter.enforce_reject);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn design_store_and_reports_sections() {
        let dir =
            std::env::temp_dir().join(format!("monban-milter-config-r-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        let key = SigningKey::generate_ed25519().unwrap();
        std::fs::write(dir.join("keys/s.private"), key.to_pkcs8_pem().unwrap()).unwrap();
        let base = "authserv_id = \"mx.example.net\"\n[[signing]]\nsender = \"*@example.com\"\n\
                    domain = \"example.com\"\nselector = \"s\"\nkey = \"keys/s.private\"\n";
        let parse = |extra: &str| Config::parse(&format!("{base}{extra}"), "m.toml", &dir);
        // The DESIGN §4 store: recording on, the journal beside the SQLite file.
        let c = parse("[store]\nurl = \"sqlite:db/monban.db\"\nrecord = true\n").unwrap();
        let r = c.record.unwrap();
        assert_eq!(r.journal, dir.join("db/monban.db.journal"));
        assert!(r.failure.as_ref().is_some_and(|f| f.redact));
        assert!(
            parse("[store]\nurl = \"sqlite:x.db\"\nrecord = false\n")
                .unwrap()
                .record
                .is_none()
        );
        assert!(parse("[store]\nrecord = true\n").is_err());
        assert!(parse("[store]\nurl = \"mysql://x\"\n").is_err());
        // Reports from the milter need the store and a signing row for their address.
        let reports = "[reports]\norg_name = \"Example\"\nemail = \"dmarc@example.com\"\n";
        let e = parse(reports).unwrap_err().to_string();
        assert!(e.contains("[store] url"), "{e}");
        let c = parse(&format!("[store]\nurl = \"sqlite:x.db\"\n{reports}")).unwrap();
        let rc = c.reports.unwrap();
        assert_eq!((rc.smtp_host.as_str(), rc.smtp_port), ("localhost", 25));
        assert_eq!(rc.signer.domain, "example.com");
        let e = parse(
            "[store]\nurl = \"sqlite:x.db\"\n[reports]\norg_name = \"E\"\nemail = \"d@other.example\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no [[signing]] row"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("authserv_id = \"mx\"\nlisten = \"tcp:1\"", "listen"),
            (
                "authserv_id = \"mx\"\ntrusted_networks = [\"10.0.0.0/40\"]",
                "trusted_networks",
            ),
            ("authserv_id = \"mx\"\nquarantine = \"drop\"", "quarantine"),
            ("authserv_id = \"mx\"\nbogus = 1", "bogus"),
            ("listen = \"inet:127.0.0.1:1\"", "authserv_id"),
            (
                "authserv_id = \"mx\"\n[[signing]]\nsender=\"*\"\ndomain=\"e.com\"\nselector=\"s\"\nkey=\"/nonexistent\"",
                "cannot read the key",
            ),
        ];
        for (text, needle) in cases {
            let e = Config::parse(text, "m.toml", Path::new("/tmp")).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
            assert!(e.to_string().starts_with("m.toml: "));
        }
    }

    /// Issue 17: this host is trusted by default; settings that are valid but probably
    /// unintended are warned about; errors give a line and column.
    /// Settings with a range are refused outside it, never clamped in silence.
    #[test]
    fn ranges_are_refused_not_clamped() {
        let parse = |text: &str| Config::parse(text, "m.toml", Path::new("/tmp"));
        for (ok, bad) in [
            (
                "connect_timeout_seconds = 25",
                "connect_timeout_seconds = 26",
            ),
            ("connect_timeout_seconds = 1", "connect_timeout_seconds = 0"),
            ("max_signatures = 50", "max_signatures = 51"),
            ("[dns]\ntimeout_seconds = 60", "[dns]\ntimeout_seconds = 61"),
            ("[dns]\ntimeout_seconds = 1", "[dns]\ntimeout_seconds = 0"),
        ] {
            assert!(
                parse(&format!("authserv_id = \"mx\"\n{ok}")).is_ok(),
                "{ok}"
            );
            let e = parse(&format!("authserv_id = \"mx\"\n{bad}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("must be from"), "{bad}: {e}");
        }
    }

    #[test]
    fn safe_defaults_and_warnings() {
        let parse = |text: &str| Config::parse(text, "m.toml", Path::new("/tmp"));
        let c = parse("authserv_id = \"mx\"").unwrap();
        let trusted = &c.filter.trusted_networks;
        assert!(
            trusted
                .iter()
                .any(|n| n.contains("127.0.0.1".parse().unwrap()))
        );
        assert!(trusted.iter().any(|n| n.contains("::1".parse().unwrap())));
        assert!(
            !trusted
                .iter()
                .any(|n| n.contains("10.0.0.1".parse().unwrap()))
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.listen.to_string(), "inet:127.0.0.1:8891");

        let c = parse("authserv_id = \"mx\"\ntrusted_networks = [\"10.0.0.0/8\"]").unwrap();
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("does not include this host"))
        );
        assert!(c.warnings.iter().any(|w| w.contains("no [[signing]] row")));

        let c = parse("authserv_id = \"mx\"\nlisten = \"unix:/tmp/m.sock\"").unwrap();
        assert_eq!(c.socket.mode, 0o660);
        assert!(
            c.warnings.iter().any(|w| w.contains("listen_group")),
            "{:?}",
            c.warnings
        );
        assert_eq!(c.listen.to_string(), "unix:/tmp/m.sock");
        let c = parse(
            "authserv_id = \"mx\"\nlisten = \"unix:/tmp/m.sock\"\nlisten_mode = \"0666\"\nlisten_group = \"postfix\"",
        )
        .unwrap();
        assert_eq!(c.socket.mode, 0o666);
        assert_eq!(c.socket.group.as_deref(), Some("postfix"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);

        let e = parse("authserv_id = \"mx\"\nlisten_mode = \"rw\"").unwrap_err();
        assert!(e.to_string().contains("listen_mode"), "{e}");
        let e = parse("authserv_id = \"mx\"\n\nenforce_reject = maybe\n").unwrap_err();
        assert!(e.to_string().contains("line 3, column"), "{e}");
        assert!(!e.to_string().contains("byte"), "{e}");
    }

    /// A trial listed `trusted_arc_sealers = ["test"]` and its own ARC seal from
    /// evil.test then carried a spoof of bank.test past p=reject: public suffixes and
    /// wildcards are refused there, and overrides that span everyone are warned about.
    #[test]
    fn sealers_and_overrides_that_span_everyone() {
        let parse = |text: &str| Config::parse(text, "m.toml", Path::new("/tmp"));
        for bad in ["test", "com", "co.uk", "github.io", "*", "*.example.org"] {
            let e = parse(&format!(
                "authserv_id = \"mx\"\ntrusted_arc_sealers = [\"{bad}\"]"
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains("trusted_arc_sealers"), "{bad}: {e}");
        }
        let c = parse(
            "authserv_id = \"mx\"\ntrusted_arc_sealers = [\"lists.example.org\", \"google.com\"]",
        )
        .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = parse(
            "authserv_id = \"mx\"\nallow_networks = [\"0.0.0.0/0\", \"::/0\", \"192.0.2.0/24\", \"10.0.0.0/8\"]\n\
             allow_domains = [\"*\", \"partner.example\"]\noptout_recipient_domains = [\"com\"]",
        )
        .unwrap();
        let about = |key: &str| c.warnings.iter().filter(|w| w.starts_with(key)).count();
        assert_eq!(about("allow_networks"), 2, "{:?}", c.warnings);
        assert_eq!(about("allow_domains"), 1, "{:?}", c.warnings);
        assert_eq!(about("optout_recipient_domains"), 1, "{:?}", c.warnings);
    }

    /// `tcp_quickack` is "auto" unless set; true, false and "auto" are accepted, and any
    /// other value is refused naming the key.
    #[test]
    fn tcp_quickack_is_auto_unless_set() {
        let mode = |text: &str| {
            Config::parse(text, "m.toml", Path::new("/tmp")).map(|c| c.limits.quick_ack)
        };
        assert_eq!(mode("authserv_id = \"mx\"").unwrap(), QuickAckMode::Auto);
        for (value, want) in [
            ("true", QuickAckMode::Always),
            ("false", QuickAckMode::Never),
            ("\"auto\"", QuickAckMode::Auto),
        ] {
            let got = mode(&format!("authserv_id = \"mx\"\ntcp_quickack = {value}")).unwrap();
            assert_eq!(got, want, "{value}");
        }
        for bad in ["\"no\"", "1"] {
            let e = mode(&format!("authserv_id = \"mx\"\ntcp_quickack = {bad}")).unwrap_err();
            assert!(e.to_string().contains("tcp_quickack"), "{bad}: {e}");
        }
    }

    /// A key file of 1 MiB is read (and judged as a key); one byte more is refused
    /// unread, naming the file.
    #[test]
    fn key_files_are_read_up_to_1_mib() {
        assert_eq!(MAX_KEY_FILE_BYTES, 1 << 20);
        let dir = std::env::temp_dir().join(format!("monban-keysize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = SigningKey::generate_ed25519()
            .unwrap()
            .to_pkcs8_pem()
            .unwrap();
        // The key, then blank lines up to the size.
        let padded = |len: usize| {
            let mut text = pem.clone().into_bytes();
            text.resize(len, b'\n');
            text
        };
        std::fs::write(dir.join("at.pem"), padded(1 << 20)).unwrap();
        std::fs::write(dir.join("over.pem"), padded((1 << 20) + 1)).unwrap();
        let at = load_key(&dir, Path::new("at.pem"), "m.toml", &mut Vec::new());
        let e = load_key(&dir, Path::new("over.pem"), "m.toml", &mut Vec::new()).unwrap_err();
        assert!(e.message.contains("cannot read the key"), "{}", e.message);
        assert!(e.message.contains("1048576"), "{}", e.message);
        assert!(at.is_ok(), "{:?}", at.err().map(|e| e.message));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A private key that any user can read, or others can replace, loads with a
    /// warning naming the file and its mode (as OpenDKIM's `RequireSafeKeys` checks);
    /// 0600 and 0640 load quietly.
    #[test]
    fn keys_others_can_read_are_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("monban-keymode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = SigningKey::generate_ed25519()
            .unwrap()
            .to_pkcs8_pem()
            .unwrap();
        let key = dir.join("k.pem");
        std::fs::write(&key, pem).unwrap();
        let text = "authserv_id = \"mx\"\n[default_signing]\ndomain = \"example.com\"\nselector = \"s\"\nkey = \"k.pem\"\n";
        for (mode, warned) in [(0o600, false), (0o640, false), (0o644, true), (0o660, true)] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
            let c = Config::parse(text, "m.toml", &dir).unwrap();
            let named = c
                .warnings
                .iter()
                .any(|w| w.contains("k.pem") && w.contains(&format!("mode {mode:04o}")));
            assert_eq!(named, warned, "{mode:o}: {:?}", c.warnings);
            assert!(c.filter.default_signer.is_some());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `/etc/passwd` and `/etc/group` are read up to 16 MiB; one byte more is refused.
    #[test]
    fn account_files_are_read_up_to_16_mib() {
        assert_eq!(MAX_ACCOUNT_FILE_BYTES, 16 << 20);
        let dir = std::env::temp_dir().join(format!("monban-acctsize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("group");
        let mut text = b"postfix:x:112:\n".to_vec();
        text.resize(16 << 20, b'\n');
        std::fs::write(&file, &text).unwrap();
        assert_eq!(account_id(&file, "postfix"), Ok(112));
        text.push(b'\n');
        std::fs::write(&file, &text).unwrap();
        let e = account_id(&file, "postfix").unwrap_err();
        assert!(e.contains("cannot read") && e.contains("16777216"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn account_ids_by_name() {
        let dir = std::env::temp_dir().join(format!("monban-accounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let group = dir.join("group");
        std::fs::write(&group, "root:x:0:\npostfix:x:112:\n").unwrap();
        assert_eq!(account_id(&group, "postfix"), Ok(112));
        assert_eq!(account_id(&group, "113"), Ok(113));
        assert!(account_id(&group, "nobody").unwrap_err().contains("not in"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn connect_checks_config() {
        let text = r#"
authserv_id = "mx"
iprev_fail = "tempfail"
helo_invalid = "reject"
dnsbl_reject_score = 3
adsp_discard = "reject"
[[dnsbl]]
zone = "list.dnswl.example"
kind = "allow"
[[dnsbl]]
zone = "zen.example"
codes = ["127.0.0.2", "127.0.0.4"]
action = "tag"
weight = 2
message = "see https://zen.example/"
[[dnsbl]]
zone = "bits.example"
mask = 12
action = "record"
weight = 1
"#;
        let c = Config::parse(text, "m.toml", Path::new("/tmp")).unwrap();
        let p = &c.filter.connect;
        assert_eq!(p.lists.len(), 3);
        assert_eq!(p.reject_score, 3);
        assert_eq!(p.iprev_fail, crate::connect::ConnectAction::Tempfail);
        assert_eq!(p.helo_invalid, crate::connect::ConnectAction::Reject);
        assert_eq!(p.lists[1].action, crate::connect::ConnectAction::Tag);
        assert_eq!(p.lists[2].zone.filter, monban::dnsbl::CodeFilter::Mask(12));
        assert_eq!(c.filter.verify.dnsbl.len(), 3);
        assert_eq!(c.filter.adsp_discard, crate::connect::ConnectAction::Reject);
        for (bad, needle) in [
            ("[[dnsbl]]\nzone = \"bl..example\"", "dnsbl[1]"),
            (
                "[[dnsbl]]\nzone = \"bl.example\"\naction = \"drop\"",
                "action",
            ),
            (
                "[[dnsbl]]\nzone = \"bl.example\"\ncodes = [\"10.0.0.1\"]",
                "codes",
            ),
            (
                "[[dnsbl]]\nzone = \"bl.example\"\ncodes = [\"127.0.0.2\"]\nmask = 2",
                "not both",
            ),
            (
                "[[dnsbl]]\nzone = \"wl.example\"\nkind = \"allow\"\nweight = 1",
                "allow list",
            ),
            (
                "[[dnsbl]]\nzone = \"bl.example\"\n[[dnsbl]]\nzone = \"BL.example.\"\ncodes = [\"127.0.0.10\"]",
                "listed twice",
            ),
            ("iprev_fail = \"maybe\"", "iprev_fail"),
            ("adsp_discard = \"discard\"", "adsp_discard"),
            ("allow_client_domains = [\"a@b\"]", "allow_client_domains"),
        ] {
            let text = format!("authserv_id = \"mx\"\n{bad}");
            let e = Config::parse(&text, "m.toml", Path::new("/tmp")).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn sample_parses_and_lists_every_option() {
        let sample = sample_config();
        // The sample's [[signing]] row names a key file that does not exist here: parse
        // it without that table to check the rest.
        let without_signing: String = sample
            .split("\n# One [[signing]]")
            .next()
            .unwrap()
            .to_owned();
        let c = Config::parse(&without_signing, "sample", Path::new("/tmp")).unwrap();
        assert_eq!(c.filter.authserv_id, "mx.example.net");
        for key in [
            "listen",
            "authserv_id",
            "trusted_networks",
            "enforce_reject",
            "quarantine",
            "tempfail_on_dns_error",
            "allow_domains",
            "allow_networks",
            "max_signatures",
            "optout_recipient_domains",
            "reject_unparseable_from",
            "oversized_header",
            "malformed_header",
            "max_connections",
            "idle_timeout_seconds",
            "command_timeout_seconds",
            "message_timeout_seconds",
            "shutdown_grace_seconds",
            "max_packet_bytes",
            "tcp_quickack",
            "on_sign_error",
        ] {
            assert!(OPTIONS.iter().any(|o| o.key == key), "{key} undocumented");
            assert!(
                sample.contains(&format!("{key} = ")),
                "{key} missing from the sample"
            );
        }
    }
}
