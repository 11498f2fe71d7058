//! One milter connection's logic, without I/O: commands in, responses out. The end of a
//! message needs DNS, so [`Session::command`] returns [`Step::EndOfMessage`] and the
//! caller runs [`Session::end_of_message`] with a resolver.
//!
//! Inbound mail (client not trusted) is verified (SPF, DKIM, DMARC) and the DMARC
//! disposition is enforced during the SMTP session: reject → `550 5.7.1`, quarantine →
//! the milter quarantine action (Postfix: hold) or a header, a DNS temperror → `451
//! 4.7.5` so the sender retries. Outbound mail (trusted networks or SASL-authenticated)
//! is signed per the signing table.

use std::net::IpAddr;
use std::sync::Arc;

use monban::arc::{ArcConfig, ArcSealer, ArcVerifier, SealConfig};
use monban::authres::{ResInfo, fields_claiming};
use monban::dkim::{DkimSigner, SignerConfig};
use monban::dmarc::{Disposition, DmarcResult, OverrideKind, PolicyOverride};
use monban::message::{HeaderError, Headers, MAX_HEADER_BYTES, MAX_HEADER_FIELDS};
use monban::pipeline::{Envelope, MessageVerifier, Report, VerifyConfig};
use monban_dns::Resolver;

use crate::connect::{ConnectAction, ConnectPolicy, Verdict};
use crate::protocol::{Command, Family, Response, VERSION, actions, steps};

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `192.0.2.0/24`, `2001:db8::/32` or a bare address.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.trim().parse().ok()?
        };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether the network spans a large part of the Internet: wider than an IPv4 /8
    /// or an IPv6 /16 (no one site holds such a network; 10.0.0.0/8 is one site's).
    pub fn is_vast(&self) -> bool {
        self.prefix < if self.addr.is_ipv4() { 8 } else { 16 }
    }

    /// Whether the network contains `ip` (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(c)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(c) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(c)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(c) & mask
            }
            _ => false,
        }
    }
}

/// One row of the signing table.
#[derive(Debug, Clone)]
pub struct SigningRule {
    /// `user@example.com`, `*@example.com`, `example.com` or `*` (any sender).
    pub sender: String,
    /// The signature to add.
    pub signer: SignerConfig,
}

impl SigningRule {
    /// Whether the rule applies to a sender address.
    pub fn matches(&self, sender: &str) -> bool {
        address_matches(&self.sender, sender)
    }
}

/// Whether `addr` (an address or a bare domain) matches `pattern`: `user@example.com`,
/// `*@example.com`, `example.com` or `*`, without case.
pub fn address_matches(pattern: &str, addr: &str) -> bool {
    let addr = addr.to_ascii_lowercase();
    let domain = addr.rsplit_once('@').map_or(addr.as_str(), |(_, d)| d);
    let pattern = pattern.to_ascii_lowercase();
    match pattern.as_str() {
        "*" => true,
        p if p.starts_with("*@") => domain == &p[2..],
        p if p.contains('@') => addr == p,
        p => domain == p,
    }
}

/// ARC sealing (RFC 8617 §5.1) of forwarded and list traffic.
#[derive(Debug, Clone, Default)]
pub struct ArcSealing {
    /// Inbound mail for these recipients (patterns as in the signing table) is sealed
    /// after it is judged and accepted: this host forwards it (aliases, a list
    /// server behind it). The AAR holds this host's `Authentication-Results`.
    pub recipients: Vec<String>,
    /// Mail that clients in `trusted_networks` send from these senders is sealed (a
    /// list re-sending what it received): the AAR holds the results this host recorded
    /// when the message came in (its `Authentication-Results`, kept by the list), and
    /// `cv=` the `arc=` recorded then, while the seals still verify. Not for
    /// SASL-authenticated clients, whose mail may carry such fields made up.
    pub senders: Vec<String>,
}

/// What to do with DMARC quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineMode {
    /// The milter quarantine action (Postfix puts the message on hold).
    Hold,
    /// Deliver with an `X-Monban-Quarantine` header for the mail store to act on.
    Header,
}

/// Why a message was refused without being judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Its header is over a limit or does not split into fields.
    Header(HeaderError),
    /// A body packet was over the packet limit: the body cannot be hashed whole.
    BodyPacket,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header(e) => write!(f, "its header cannot be judged whole: {e}"),
            Self::BodyPacket => f.write_str("a body packet is over the packet limit"),
        }
    }
}

/// How a message is refused when monban will not judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A permanent `5xx` reply: the sender gets a bounce from its own server, and a
    /// retry would not change the message.
    Reject,
    /// A temporary `4xx` reply: the sender's server keeps the message and retries.
    Tempfail,
}

/// What to do with a trusted client's message that cannot be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignErrorAction {
    /// `451`: the client keeps the message and retries (the default).
    Tempfail,
    /// Deliver it unsigned (the failure is logged either way).
    Accept,
}

/// The session's settings, shared by all connections.
#[derive(Debug, Clone)]
pub struct FilterConfig {
    /// Our authserv-id.
    pub authserv_id: String,
    /// Clients whose mail is signed, not judged.
    pub trusted_networks: Vec<Network>,
    /// The signing table.
    pub signing: Vec<SigningRule>,
    /// Signs mail whose sender matches no row (a service signing for its users).
    pub default_signer: Option<SignerConfig>,
    /// Verification settings.
    pub verify: VerifyConfig,
    /// Enforce DMARC reject with `550` (else only record it).
    pub enforce_reject: bool,
    /// How to quarantine.
    pub quarantine: QuarantineMode,
    /// Answer a DNS temperror with `451` (else accept and record it).
    pub tempfail_on_dns_error: bool,
    /// Author domains never rejected or quarantined.
    pub allow_domains: Vec<String>,
    /// Clients never rejected or quarantined.
    pub allow_networks: Vec<Network>,
    /// Recipient domains that opted out of enforcement: a message with any recipient
    /// in them is delivered (with its results recorded) instead of rejected or
    /// quarantined, since refusing it would refuse it for that recipient too.
    pub optout_recipient_domains: Vec<String>,
    /// What to do with a header over [`MAX_HEADER_BYTES`] or [`MAX_HEADER_FIELDS`]:
    /// it is never judged in part (issue 9), so it is refused.
    pub oversized_header: Refusal,
    /// What to do with a header that does not split into fields.
    pub malformed_header: Refusal,
    /// What to do with a trusted client's message that cannot be signed.
    pub on_sign_error: SignErrorAction,
    /// ARC sealing; the keys are the signing table's.
    pub arc: ArcSealing,
    /// The checks at CONNECT and HELO (iprev, DNS lists, the HELO name).
    pub connect: ConnectPolicy,
    /// What an ADSP `discard` (RFC 5617) does: record only (the default; ADSP is
    /// historic), or reject.
    pub adsp_discard: ConnectAction,
    /// The test-by-sending address, when one is configured.
    pub reflector: Option<Reflector>,
}

/// The reflector (`reflector = "check-auth@mx.example.net"`): mail to it is judged as
/// usual, consumed (never delivered, never refused) and answered with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reflector {
    /// The address.
    pub address: String,
    /// The relay the replies go through.
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// Replies to one sender per hour at most.
    pub per_hour: u32,
}

impl FilterConfig {
    /// The defaults of the configuration file for this authserv-id: inbound mail is
    /// judged (nothing trusted but what is listed), DMARC reject is enforced, a message
    /// without exactly one usable From is rejected (RFC 5322 §3.6), oversized and
    /// malformed headers are rejected.
    pub fn new(authserv_id: &str) -> Self {
        let mut verify = VerifyConfig::default();
        verify.spf.receiver = authserv_id.to_owned();
        verify.dmarc.permerror_disposition = Disposition::Reject;
        Self {
            authserv_id: authserv_id.to_owned(),
            trusted_networks: Vec::new(),
            signing: Vec::new(),
            default_signer: None,
            verify,
            enforce_reject: true,
            quarantine: QuarantineMode::Hold,
            tempfail_on_dns_error: true,
            allow_domains: Vec::new(),
            allow_networks: Vec::new(),
            optout_recipient_domains: Vec::new(),
            oversized_header: Refusal::Reject,
            malformed_header: Refusal::Reject,
            on_sign_error: SignErrorAction::Tempfail,
            arc: ArcSealing::default(),
            connect: ConnectPolicy::default(),
            adsp_discard: ConnectAction::Record,
            reflector: None,
        }
    }

    /// The sealer for an address (a recipient inbound, the sender outbound): the
    /// signing row that matches it, else the default signing key. ARC seals with RSA
    /// only (what ARC verifiers accept).
    pub fn sealer_for(&self, addr: &str) -> Option<SealConfig> {
        let signer = self
            .signing
            .iter()
            .find(|r| r.matches(addr))
            .map(|r| &r.signer)
            .or(self.default_signer.as_ref())?;
        let mut c = SealConfig::new(
            &signer.domain,
            &signer.selector,
            signer.key.clone(),
            &self.authserv_id,
        );
        c.timestamp = true;
        Some(c)
    }
}

/// What the milter did with a message: for logs, metrics and the store, typed (never
/// read back from a reply's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Delivered (possibly with headers added).
    Accept,
    /// Signed and delivered (outbound).
    Sign,
    /// Delivered to quarantine (hold, or the quarantine header).
    Quarantine,
    /// Refused with a 5xx reply.
    Reject,
    /// Refused with a 4xx reply: the sender retries.
    Tempfail,
}

impl Action {
    /// The name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Sign => "sign",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
            Self::Tempfail => "tempfail",
        }
    }
}

/// The end of a message: the responses to send, the verification report (inbound,
/// with the receiver's local overrides added) and what it amounts to.
#[derive(Debug)]
pub struct MessageOutcome {
    /// The milter responses, in order.
    pub responses: Vec<Response>,
    /// The results, for inbound mail that was verified.
    pub report: Option<Report>,
    /// The SMTP envelope of a verified message (for recording).
    pub envelope: Option<Envelope>,
    /// What was done.
    pub action: Action,
    /// The message was for the reflector: who gets the report (already checked with
    /// [`monban_diag::reflect::should_reply`]).
    pub reflect_to: Option<String>,
}

impl Refusal {
    /// The action a refusal of this kind amounts to.
    fn action(self) -> Action {
        match self {
            Self::Reject => Action::Reject,
            Self::Tempfail => Action::Tempfail,
        }
    }
}

/// What the caller must do after a command.
#[derive(Debug)]
pub enum Step {
    /// Send these responses (possibly none: the MTA expects no reply).
    Reply(Vec<Response>),
    /// The message is complete: run [`Session::end_of_message`].
    EndOfMessage,
    /// A client to check before it sends anything: run [`Session::connect_checks`].
    Connect,
    /// Close the connection.
    Close,
    /// The MTA broke the protocol (a command out of order, an option negotiation
    /// monban cannot work under): close the connection and log why. The MTA then
    /// applies its default action to the message (tempfail, as configured for monban):
    /// nothing is judged on part of what it sent.
    Protocol(String),
}

/// The most recipients of one message; the next ones get `452 4.5.3` (Postfix's own
/// `smtpd_recipient_limit` is 1,000 by default too).
pub const MAX_RECIPIENTS: usize = 1000;

/// The longest MAIL FROM or RCPT TO address (with its angle brackets and parameters
/// left out) taken: RFC 5321 §4.5.3.1.3 allows 256 octets for a path; eight times that
/// leaves room for the long ones of forwarders (SRS, VERP). A longer one is refused
/// (`501`): kept whole, a thousand recipients of 1 MiB each held 2 GB.
pub const MAX_ADDRESS: usize = 2048;

/// The longest HELO name kept (RFC 5321 §4.5.3.1.2: 255 octets for a domain); a
/// longer one is judged as an invalid name and not kept.
pub const MAX_HELO: usize = 1024;

/// The longest queue id kept from the MTA's macros (Postfix's are about 20 octets).
const MAX_QUEUE_ID: usize = 256;

#[derive(Debug, Default)]
struct Message {
    mail_from: Option<String>,
    /// The distinct domains of the recipients (a set: a recipient's membership test
    /// costs no walk over the others).
    recipient_domains: std::collections::HashSet<String>,
    /// The header is too large because one field's packet was over the packet limit
    /// (not the header as a whole): the refusal says so.
    field_over_packet_limit: bool,
    /// The recipients (at most [`MAX_RECIPIENTS`]), for DKIM2's envelope check.
    recipients: Vec<String>,
    /// Some recipient is the reflector.
    to_reflector: bool,
    /// Some recipient is not.
    to_others: bool,
    /// The deletions of incoming Authentication-Results that claim our authserv-id.
    forged: Vec<Response>,
    /// Whether the recipients accepted so far are of domains that opted out of DMARC
    /// enforcement (`Some(true)`) or not (`Some(false)`); never both.
    optout_class: Option<bool>,
    /// The header rebuilt from the MTA's fields, never more than [`MAX_HEADER_BYTES`].
    header_block: Vec<u8>,
    header_fields: usize,
    /// The first reason the header cannot be judged; once set, no more is kept.
    header_problem: Option<HeaderError>,
    /// The end-of-header step ran.
    header_done: bool,
    /// Why the signer for a trusted client's message could not be set up.
    sign_error: Option<String>,
    /// The reply that refused the header, and why; repeated at the end of the message
    /// should the MTA go on.
    refused: Option<(Response, Refused, Action)>,
    verifier: Option<MessageVerifier>,
    signer: Option<DkimSigner>,
    queue_id: Option<String>,
    /// The recipient that asks for an inbound ARC seal (the first that matches).
    seal_recipient: Option<String>,
    /// ARC sealing of this message: the sealer, and for outbound mail the validation
    /// of the chain as it is now and the results recorded on arrival.
    sealer: Option<ArcSealer>,
    outbound_arc: Option<(ArcSealer, ArcVerifier, Vec<String>)>,
}

/// A header at least this large is judged on the blocking pool (see
/// [`Session::is_heavy`]); smaller ones take tens of microseconds.
const HEAVY_HEADER_BYTES: usize = 32 * 1024;

/// The most signatures an end of message computes where the session runs
/// ([`Session::end_only_signs`]).
const LIGHT_SIGNATURES: usize = 2;

/// A body chunk at least this large is hashed on the blocking pool; smaller ones (all
/// of Postfix's, 64 KiB at most) cost less than the hand-over.
const LARGE_CHUNK: usize = 64 * 1024;

/// Whether a field as the MTA passed it can be part of a header that splits back into
/// the same fields: a name of printable ASCII without a colon (RFC 5322 §2.2), a value
/// whose line breaks are all followed by white space (a folded field, §2.2.3). Anything
/// else could turn into other fields when rebuilt.
fn well_formed(name: &str, value: &[u8]) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
        && value.iter().enumerate().all(|(i, &b)| match b {
            b'\n' => matches!(value.get(i + 1), Some(b' ' | b'\t')),
            b'\r' => value.get(i + 1) == Some(&b'\n'),
            _ => true,
        })
}

/// One connection.
#[derive(Debug)]
pub struct Session {
    config: Arc<FilterConfig>,
    now: u64,
    client: Option<IpAddr>,
    helo: Option<String>,
    authenticated: bool,
    message: Message,
    /// iprev and the DNS lists as checked at CONNECT (`None`: not checked then).
    connection: Option<(
        monban::iprev::IprevOutcome,
        Vec<monban::dnsbl::DnsblOutcome>,
    )>,
    /// What the connect and HELO checks tag each message with.
    tags: Vec<String>,
    /// A refusal decided at CONNECT or HELO, given at MAIL FROM unless the client
    /// logged in by then (SASL is only known at MAIL: a roaming user on a listed
    /// network must still be able to submit).
    pending_refusal: Option<(String, Action, String)>,
    /// A refusal just given, for the server to log and count once.
    refusal_event: Option<(Action, String)>,
    /// The steps the MTA agreed not to wait for a reply to (`SMFIP_NR_*`).
    no_reply: u32,
    /// Options were negotiated on this connection.
    negotiated: bool,
    /// CONNECT was given (since the connection or QUIT_NC).
    connected: bool,
    /// MAIL FROM was taken and the message has not ended (end of message or abort):
    /// recipients, header fields and the body belong to it.
    in_transaction: bool,
}

fn reconstruct(name: &str, value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    // Postfix separates folded lines with a bare LF; DKIM needs CRLF.
    let mut prev = 0u8;
    for &b in value {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out.extend_from_slice(b"\r\n");
}

impl Session {
    /// Sets the current time (Unix seconds) for DKIM `t=`/`x=` checks and signing; the
    /// server calls it before every command, so a long connection never signs with a
    /// stale `t=`.
    pub fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// A new connection. `now` is used for DKIM `t=`/`x=` and signing times until
    /// [`Session::set_now`] moves it.
    pub fn new(config: Arc<FilterConfig>, now: u64) -> Self {
        Self {
            config,
            now,
            client: None,
            helo: None,
            authenticated: false,
            message: Message::default(),
            connection: None,
            tags: Vec::new(),
            pending_refusal: None,
            refusal_event: None,
            no_reply: 0,
            negotiated: false,
            connected: false,
            in_transaction: false,
        }
    }

    /// Why `cmd` cannot come now, if it cannot: the order of the milter protocol
    /// (option negotiation, CONNECT, then per message MAIL, RCPT, header fields, end
    /// of header, body chunks, end of message). A body chunk before the end of the
    /// header or a field after it would otherwise be dropped or judged apart from the
    /// rest: the message would be judged on part of what the MTA has.
    fn out_of_order(&self, cmd: &Command) -> Option<String> {
        let what = match cmd {
            Command::OptNeg { .. } if self.negotiated => {
                return Some("option negotiation a second time".into());
            }
            Command::OptNeg { .. } | Command::Macro { .. } | Command::Quit | Command::Abort => {
                return None;
            }
            Command::Connect { .. } => "CONNECT",
            Command::QuitNewConnection => "QUIT_NC",
            Command::Helo(_) => "HELO",
            Command::Mail(_) => "MAIL",
            Command::Rcpt(_) => "RCPT",
            Command::Data => "DATA",
            Command::Unknown(_) => "an unknown SMTP command",
            Command::Header { .. } | Command::Oversized { code: b'L', .. } => "a header field",
            Command::EndOfHeaders => "the end of the header",
            Command::Body(_) | Command::Oversized { .. } => "a body chunk",
            Command::EndOfMessage => "the end of the message",
        };
        if !self.negotiated {
            return Some(format!("{what} before option negotiation"));
        }
        let message_step = matches!(
            cmd,
            Command::Rcpt(_)
                | Command::Header { .. }
                | Command::Oversized { .. }
                | Command::EndOfHeaders
                | Command::Body(_)
                | Command::EndOfMessage
        );
        if !self.connected && (message_step || matches!(cmd, Command::Mail(_) | Command::Helo(_))) {
            return Some(format!("{what} before CONNECT"));
        }
        if message_step && !self.in_transaction {
            return Some(format!(
                "{what} outside a message (no MAIL FROM since the last one ended)"
            ));
        }
        let header_done = self.message.header_done;
        match cmd {
            Command::Header { .. } | Command::Oversized { code: b'L', .. } if header_done => {
                Some(format!("{what} after the end of the header"))
            }
            Command::EndOfHeaders if header_done => Some(format!("{what} a second time")),
            Command::Body(_) | Command::Oversized { code: b'B', .. } if !header_done => {
                Some(format!("{what} before the end of the header"))
            }
            _ => None,
        }
    }

    /// A refusal of the client given by the last command (once), for logs and metrics.
    pub fn take_refusal_event(&mut self) -> Option<(Action, String)> {
        self.refusal_event.take()
    }

    /// Keeps a connect or HELO refusal for MAIL FROM; the stronger one wins.
    fn defer_refusal(&mut self, reply: String, action: Action, reason: String) {
        let stronger = match &self.pending_refusal {
            Some((_, Action::Reject, _)) => false,
            Some(_) => action == Action::Reject,
            None => true,
        };
        if stronger {
            self.pending_refusal = Some((reply, action, reason));
        }
    }

    /// Whether the client is exempt from the connect and HELO checks: trusted, in
    /// `allow_networks`, or this host itself (loopback: a content filter re-injecting,
    /// or the MTA before XCLIENT names the real client).
    fn exempt_at_connect(&self) -> bool {
        self.is_trusted()
            || self.client.is_some_and(|ip| {
                ip.to_canonical().is_loopback()
                    || self.config.allow_networks.iter().any(|n| n.contains(ip))
            })
    }

    /// The checks at CONNECT ([`Step::Connect`]): iprev and the DNS lists, at once,
    /// within the policy's time; then what they decide ([`crate::connect::decide`]).
    /// A refusal is given at MAIL FROM, before any message is sent, unless the client
    /// logs in first. The responses to send now.
    pub async fn connect_checks<R: Resolver>(&mut self, resolver: &R) -> Vec<Response> {
        let cont = if self.no_reply & steps::NR_CONNECT == 0 {
            vec![Response::Continue]
        } else {
            Vec::new()
        };
        let Some(ip) = self.client else {
            return cont;
        };
        let policy = &self.config.connect;
        let zones = policy.zones();
        let checks = async {
            tokio::join!(
                monban::iprev::check(resolver, ip),
                monban::dnsbl::check(resolver, ip, &zones),
            )
        };
        let Ok((iprev, lists)) = tokio::time::timeout(policy.timeout, checks).await else {
            // Out of time: nothing is decided now; the message's checks run again.
            tracing::info!(client = %ip, "connect checks timed out: not applied");
            return cont;
        };
        let allowed_name = iprev.names.iter().any(|n| {
            policy
                .allow_client_domains
                .iter()
                .any(|d| monban_dns::is_same_or_subdomain(n, d))
        });
        let verdict = crate::connect::decide(policy, ip, &iprev, &lists, allowed_name);
        self.connection = Some((iprev, lists));
        match verdict {
            Verdict::Continue { tags } => self.tags.extend(tags),
            Verdict::Refuse {
                reply,
                action,
                reason,
            } => self.defer_refusal(reply, action, reason),
        }
        cont
    }

    /// Adds one field as the MTA passed it to the rebuilt header, or records why the
    /// header cannot be judged (then nothing more is kept: memory stays bounded).
    fn add_field(&mut self, name: &str, value: &[u8]) {
        let m = &mut self.message;
        if m.header_problem.is_some() {
            return;
        }
        m.header_fields += 1;
        if !well_formed(name, value) {
            m.header_problem = Some(HeaderError::NotAField {
                line: m.header_fields,
            });
            return;
        }
        if m.header_fields > MAX_HEADER_FIELDS {
            m.header_problem = Some(HeaderError::TooManyFields);
            return;
        }
        let before = m.header_block.len();
        reconstruct(name, value, &mut m.header_block);
        if m.header_block.len() > MAX_HEADER_BYTES {
            m.header_block.truncate(before);
            m.header_problem = Some(HeaderError::TooLarge);
        }
    }

    /// The answer when a trusted client's message cannot be signed: logged, and
    /// tempfailed (the client retries, nothing leaves unsigned) or accepted unsigned, as
    /// `on_sign_error` says.
    fn sign_failed(&self, why: &str, queue_id: Option<&str>) -> (Vec<Response>, Action) {
        tracing::warn!(
            queue_id = queue_id.unwrap_or("-"),
            error = why,
            action = match self.config.on_sign_error {
                SignErrorAction::Tempfail => "tempfail",
                SignErrorAction::Accept => "accept unsigned",
            },
            "the message cannot be signed"
        );
        match self.config.on_sign_error {
            SignErrorAction::Tempfail => (
                vec![Response::ReplyCode(format!(
                    "451 4.7.0 the message cannot be signed: {why}"
                ))],
                Action::Tempfail,
            ),
            SignErrorAction::Accept => (vec![Response::Accept], Action::Accept),
        }
    }

    /// The reply refusing a header that cannot be judged.
    fn refuse(&self, why: &HeaderError) -> (Response, Action) {
        let (action, code, what) = match why {
            HeaderError::TooLarge | HeaderError::TooManyFields => {
                (self.config.oversized_header, "3.4", "is too large")
            }
            _ => (self.config.malformed_header, "6.0", "is malformed"),
        };
        let (class, status) = match action {
            Refusal::Reject if code == "3.4" => ("552", "5"),
            Refusal::Reject => ("550", "5"),
            Refusal::Tempfail => ("451", "4"),
        };
        let why = if self.message.field_over_packet_limit && *why == HeaderError::TooLarge {
            "a header field is larger than the milter packet limit".to_owned()
        } else {
            why.to_string()
        };
        (
            Response::ReplyCode(format!(
                "{class} {status}.{code} the message header {what} ({why}); it was not accepted"
            )),
            action.action(),
        )
    }

    /// The header is complete: refuse it, or set up verification (inbound) or
    /// signing (trusted clients).
    fn end_of_headers(&mut self) -> Step {
        self.message.header_done = true;
        let parsed = match self.message.header_problem.take() {
            Some(problem) => Err(problem),
            None => Headers::parse(&self.message.header_block),
        };
        // The block is not needed any more (the parsed copy is kept).
        self.message.header_block = Vec::new();
        let headers = match parsed {
            Ok(h) => h,
            // A header that cannot be judged whole is refused, never judged in
            // part: past a limit a From, a second From or a forged
            // Authentication-Results could hide (issue 9).
            Err(e) => {
                let (refusal, action) = self.refuse(&e);
                self.message.refused = Some((refusal.clone(), Refused::Header(e), action));
                return Step::Reply(vec![refusal]);
            }
        };
        if self.is_trusted() {
            let sender = self.message.mail_from.clone().unwrap_or_default();
            let from_domain = monban::dmarc::author_domain(&headers).ok();
            let mut signers: Vec<SignerConfig> = self
                .config
                .signing
                .iter()
                .filter(|r| {
                    r.matches(&sender) || from_domain.as_deref().is_some_and(|d| r.matches(d))
                })
                .map(|r| r.signer.clone())
                .collect();
            if signers.is_empty()
                && let Some(d) = &self.config.default_signer
            {
                signers.push(d.clone());
            }
            // Only for list software on a trusted host: a SASL-authenticated user could
            // carry Authentication-Results of ours that this host never wrote (they are
            // stripped from inbound mail only), and we would seal their claims.
            let from_trusted_host = self
                .client
                .is_some_and(|ip| self.config.trusted_networks.iter().any(|n| n.contains(ip)));
            let list_resend = from_trusted_host
                && self
                    .config
                    .arc
                    .senders
                    .iter()
                    .any(|p| address_matches(p, &sender));
            if list_resend {
                self.start_outbound_seal(&headers, &sender);
            } else {
                // Results under our authserv-id (and our tag) in mail from a trusted
                // client or a SASL user are not ours either: deleted as from inbound
                // mail (RFC 8601 §5), so that a local mailbox, or list software that
                // later resends the message to be sealed, never sees them as ours.
                // Only list software's resend keeps them: they are what it records.
                self.message.forged = Self::forged_results(&headers, &self.config.authserv_id);
            }
            if !signers.is_empty() {
                match DkimSigner::new(headers, signers, self.now) {
                    Ok(s) => self.message.signer = Some(s),
                    // Never sent on unsigned in silence: the end of the message answers
                    // as `on_sign_error` says, and the failure is logged.
                    Err(e) => self.message.sign_error = Some(e.to_string()),
                }
            }
        } else {
            let envelope = Envelope {
                ip: self.client,
                helo: self.helo.clone(),
                mail_from: self.message.mail_from.clone(),
                rcpt_to: self.message.recipients.clone(),
            };
            let mut v = MessageVerifier::new(envelope, self.config.verify.clone(), self.now);
            if let Some((iprev, lists)) = self.connection.clone() {
                v.connection_checked(iprev, lists);
            }
            // The deletions of forged results are known now: the header itself is not
            // kept twice until the end of the message.
            self.message.forged = Self::forged_results(&headers, &self.config.authserv_id);
            if let Some(r) = self.message.seal_recipient.clone() {
                match self.config.sealer_for(&r) {
                    Some(c) => match ArcSealer::new(headers.clone(), c, self.now) {
                        Ok(s) => self.message.sealer = Some(s),
                        Err(e) => tracing::warn!("ARC: not sealing the message for {r}: {e}"),
                    },
                    None => tracing::warn!("ARC: no signing key for {r}: not sealed"),
                }
            }
            v.headers(headers);
            self.message.verifier = Some(v);
        }
        Step::Reply(vec![Response::Continue])
    }

    /// Whether a recipient's domain is in `optout_recipient_domains`.
    fn opted_out(&self, recipient: &str) -> bool {
        recipient.rsplit_once('@').is_some_and(|(_, d)| {
            self.config
                .optout_recipient_domains
                .iter()
                .any(|o| o.eq_ignore_ascii_case(d))
        })
    }

    /// Whether the client is trusted (its mail is signed, not judged).
    pub fn is_trusted(&self) -> bool {
        self.authenticated
            || self
                .client
                .is_some_and(|ip| self.config.trusted_networks.iter().any(|n| n.contains(ip)))
    }

    /// Whether options were negotiated on this connection.
    pub fn negotiated(&self) -> bool {
        self.negotiated
    }

    /// Whether a message is under way (MAIL FROM seen, end of message not yet): a
    /// stopping server lets it finish before closing the connection.
    pub fn in_message(&self) -> bool {
        self.in_transaction
    }

    /// Why the current message was refused without being judged, and what that
    /// amounts to, if it was.
    pub fn refused(&self) -> Option<(&Refused, Action)> {
        self.message.refused.as_ref().map(|(_, why, a)| (why, *a))
    }

    /// Whether `cmd` may cost enough CPU to run off the runtime's workers: the end of a
    /// large header (signatures parsed, header data canonicalized: linear in its
    /// size), and the end of a message whose header was never ended (judged then).
    /// The end of a usual header costs less than the hand-over to another thread (two
    /// thread wake-ups), and the end of the message proper is handed over by the
    /// server anyway ([`Step::EndOfMessage`]).
    pub fn is_heavy(&self, cmd: &Command) -> bool {
        match cmd {
            Command::EndOfHeaders => self.message.header_block.len() >= HEAVY_HEADER_BYTES,
            Command::EndOfMessage => !self.message.header_done,
            Command::Body(chunk) => chunk.len() >= LARGE_CHUNK,
            _ => false,
        }
    }

    /// Whether the end of the message only signs, with at most
    /// [`LIGHT_SIGNATURES`] quick signatures ([`DkimSigner::quick_to_finish`]: Ed25519
    /// or RSA up to 2,048 bits): nothing to verify, seal or look up. Such an end costs
    /// well under a millisecond, less than the hand-over to the blocking pool and back,
    /// so it runs where the session runs.
    pub fn end_only_signs(&self) -> bool {
        let m = &self.message;
        m.header_done
            && m.refused.is_none()
            && m.sign_error.is_none()
            && m.outbound_arc.is_none()
            && m.verifier.is_none()
            && m.sealer.is_none()
            && m.signer
                .as_ref()
                .is_some_and(|s| s.quick_to_finish(LIGHT_SIGNATURES))
    }

    /// The queue id the MTA gave the current message (macro `i`), for logs.
    pub fn queue_id(&self) -> Option<&str> {
        self.message.queue_id.as_deref()
    }

    /// Handles one command.
    pub fn command(&mut self, cmd: Command) -> Step {
        // The steps whose reply was negotiated away: they always continue, so the MTA
        // goes on without waiting for a reply, and none is sent.
        let unanswered = match &cmd {
            Command::Connect { .. } => steps::NR_CONNECT,
            Command::Helo(_) => steps::NR_HELO,
            Command::Header { .. } | Command::Oversized { code: b'L', .. } => steps::NR_HEADER,
            Command::Body(_) | Command::Oversized { code: b'B', .. } => steps::NR_BODY,
            _ => 0,
        };
        let step = self.command_answered(cmd);
        if self.no_reply & unanswered == 0 {
            return step;
        }
        match step {
            Step::Reply(r) if r == [Response::Continue] => Step::Reply(Vec::new()),
            Step::Reply(r) => {
                // Unreachable by construction; a reply now would be read as the answer
                // to the MTA's next command.
                tracing::error!(replies = ?r, "milter: a reply for a step negotiated without one was dropped");
                Step::Reply(Vec::new())
            }
            other => other,
        }
    }

    /// The steps monban never answers with anything but "continue", whose replies it
    /// asks the MTA not to wait for (SMFIP_NR_*): CONNECT (a refusal decided there is
    /// given at MAIL FROM), HELO (likewise), each header field and each body chunk (a
    /// header or body that cannot be judged is refused at its end). MAIL, RCPT and
    /// end-of-headers keep their replies: they can refuse.
    const NO_REPLY: u32 = steps::NR_CONNECT | steps::NR_HELO | steps::NR_HEADER | steps::NR_BODY;

    /// The steps monban does not need at all: DATA (nothing to decide there) and
    /// unknown SMTP commands.
    const NO_STEP: u32 = steps::NO_DATA | steps::NO_UNKNOWN;

    fn command_answered(&mut self, cmd: Command) -> Step {
        let cont = || Step::Reply(vec![Response::Continue]);
        if let Some(why) = self.out_of_order(&cmd) {
            return Step::Protocol(why);
        }
        match cmd {
            Command::OptNeg {
                version,
                actions: offered,
                protocol: offered_steps,
            } => {
                if version < VERSION {
                    return Step::Protocol(format!(
                        "the MTA offers milter protocol version {version}; monban needs {VERSION} (Sendmail 8.14 or Postfix 2.6 and later)"
                    ));
                }
                // What monban must be allowed: adding its Authentication-Results (and
                // signatures, seals), removing forged ones that claim its authserv-id,
                // and, when quarantine is the hold action, that action.
                let mut needed = actions::ADD_HEADERS | actions::CHANGE_HEADERS;
                if self.config.quarantine == QuarantineMode::Hold {
                    needed |= actions::QUARANTINE;
                }
                if offered & needed != needed {
                    let missing: Vec<&str> = [
                        (actions::ADD_HEADERS, "SMFIF_ADDHDRS"),
                        (actions::CHANGE_HEADERS, "SMFIF_CHGHDRS"),
                        (actions::QUARANTINE, "SMFIF_QUARANTINE"),
                    ]
                    .into_iter()
                    .filter(|(bit, _)| needed & bit != 0 && offered & bit == 0)
                    .map(|(_, name)| name)
                    .collect();
                    return Step::Protocol(format!(
                        "the MTA does not allow {}: monban adds Authentication-Results, removes forged ones and holds quarantined mail with them",
                        missing.join(", ")
                    ));
                }
                // Header values as written, with the space after the colon: without
                // it, simple header canonicalization could not be checked.
                if offered_steps & steps::HEADER_LEADING_SPACE == 0 {
                    return Step::Protocol(
                        "the MTA does not offer SMFIP_HDR_LEADSPC (header values with their leading space), which DKIM's simple header canonicalization needs".into(),
                    );
                }
                self.negotiated = true;
                let wanted = actions::ADD_HEADERS | actions::CHANGE_HEADERS | actions::QUARANTINE;
                // Only what the MTA offers: one that does not offer a step's "no reply"
                // waits for the reply, and gets it.
                self.no_reply = Self::NO_REPLY & offered_steps;
                Step::Reply(vec![Response::OptNeg {
                    version: VERSION,
                    actions: wanted & offered,
                    protocol: steps::HEADER_LEADING_SPACE
                        | (offered_steps & (Self::NO_STEP | Self::NO_REPLY)),
                }])
            }
            Command::Macro { pairs, .. } => {
                for (name, value) in pairs {
                    match name.trim_matches(['{', '}']) {
                        "auth_authen" if !value.is_empty() => self.authenticated = true,
                        "i" if value.len() <= MAX_QUEUE_ID => self.message.queue_id = Some(value),
                        _ => {}
                    }
                }
                Step::Reply(Vec::new())
            }
            Command::Connect { family, .. } => {
                self.connected = true;
                self.in_transaction = false;
                self.client = match family {
                    Family::Inet(ip, _) => Some(ip),
                    _ => None,
                };
                self.connection = None;
                self.tags.clear();
                self.pending_refusal = None;
                if self.client.is_some()
                    && self.config.connect.acts_at_connect()
                    && !self.exempt_at_connect()
                {
                    return Step::Connect;
                }
                cont()
            }
            Command::Helo(h) => {
                let action = self.config.connect.helo_invalid;
                let too_long = h.len() > MAX_HELO;
                let problem = (action != ConnectAction::Record && !self.exempt_at_connect())
                    .then(|| {
                        if too_long {
                            Some(format!("the HELO name is longer than {MAX_HELO} octets"))
                        } else {
                            crate::connect::helo_problem(&h)
                        }
                    })
                    .flatten();
                // Not kept when too long: no name, as if none was given.
                self.helo = (!too_long).then_some(h);
                // Each greeting replaces the last one's judgement (EHLO again after
                // STARTTLS).
                self.tags.retain(|t| t != "helo=invalid");
                match (problem, action) {
                    (Some(why), ConnectAction::Reject) => {
                        self.defer_refusal(format!("550 5.7.1 {why}"), Action::Reject, why);
                    }
                    (Some(why), ConnectAction::Tempfail) => self.defer_refusal(
                        format!("451 4.7.1 {why}; please try again later"),
                        Action::Tempfail,
                        why,
                    ),
                    (Some(_), _) => self.tags.push("helo=invalid".into()),
                    (None, _) => {}
                }
                cont()
            }
            Command::Mail(args) => {
                // SASL is known now ({auth_authen} comes with MAIL): a logged-in user
                // is never refused for where they connect from.
                if !self.authenticated
                    && let Some((reply, action, reason)) = self.pending_refusal.clone()
                {
                    self.refusal_event = Some((action, reason));
                    return Step::Reply(vec![Response::ReplyCode(reply)]);
                }
                self.message = Message {
                    queue_id: self.message.queue_id.take(),
                    ..Message::default()
                };
                self.in_transaction = true;
                let addr = args.first().map(|a| {
                    a.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                });
                if addr.as_ref().is_some_and(|a| a.len() > MAX_ADDRESS) {
                    self.in_transaction = false;
                    return Step::Reply(vec![Response::ReplyCode(format!(
                        "501 5.1.7 the sender address is longer than {MAX_ADDRESS} octets"
                    ))]);
                }
                self.message.mail_from = addr;
                cont()
            }
            Command::Rcpt(args) => {
                let recipient = args
                    .first()
                    .map(|a| a.trim().trim_start_matches('<').trim_end_matches('>'));
                if recipient.is_some_and(|r| r.len() > MAX_ADDRESS) {
                    return Step::Reply(vec![Response::ReplyCode(format!(
                        "501 5.1.3 the recipient address is longer than {MAX_ADDRESS} octets"
                    ))]);
                }
                // Every recipient is kept for DKIM2's envelope check, so past the bound
                // the next ones are deferred (RFC 5321 §4.5.3.1.10: the client sends
                // them in another transaction) rather than left unchecked.
                if self.message.recipients.len() >= MAX_RECIPIENTS {
                    return Step::Reply(vec![Response::ReplyCode(format!(
                        "452 4.5.3 Too many recipients: at most {MAX_RECIPIENTS} per message"
                    ))]);
                }
                // A recipient whose domain opted out of DMARC enforcement and one whose
                // domain did not are never in one transaction: the exemption is the
                // message's, so one opted-out address among the recipients would lift
                // the policy for all of them. The other kind is deferred (RFC 5321
                // §4.5.3.1.10: the client sends it in another transaction).
                if let Some(r) = recipient
                    && !self.is_trusted()
                    && !self.config.optout_recipient_domains.is_empty()
                {
                    let opted = self.opted_out(r);
                    match self.message.optout_class {
                        Some(class) if class != opted => {
                            return Step::Reply(vec![Response::ReplyCode(format!(
                                "452 4.5.3 send to <{}> in another transaction: its domain's DMARC enforcement differs from the other recipients'",
                                crate::connect::shown_up_to(r, 320)
                            ))]);
                        }
                        _ => self.message.optout_class = Some(opted),
                    }
                }
                if let Some(r) = recipient {
                    self.message.recipients.push(r.to_owned());
                }
                if let Some(r) = recipient {
                    let reflector = self
                        .config
                        .reflector
                        .as_ref()
                        .is_some_and(|f| f.address.eq_ignore_ascii_case(r));
                    if reflector {
                        self.message.to_reflector = true;
                    } else {
                        self.message.to_others = true;
                    }
                }
                if self.message.seal_recipient.is_none()
                    && let Some(r) = recipient
                    && self
                        .config
                        .arc
                        .recipients
                        .iter()
                        .any(|p| address_matches(p, r))
                {
                    self.message.seal_recipient = Some(r.to_owned());
                }
                if let Some(addr) = args.first()
                    && let Some((_, domain)) = addr
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .rsplit_once('@')
                {
                    // Distinct domains only (a message to many people of a few domains
                    // stays small). At most one per recipient, so every accepted
                    // recipient's domain is kept: past MAX_RECIPIENTS the recipient
                    // itself is deferred above.
                    let domain = domain.to_ascii_lowercase();
                    let known = &mut self.message.recipient_domains;
                    if known.len() < MAX_RECIPIENTS {
                        known.insert(domain);
                    }
                }
                cont()
            }
            Command::Data | Command::Unknown(_) => cont(),
            Command::Oversized { code, .. } => {
                // A header packet over the limit: the header is too large. A body packet:
                // the body cannot be hashed whole. Either way the message is refused.
                let m = &mut self.message;
                if m.header_problem.is_none() && !m.header_done {
                    m.header_problem = Some(HeaderError::TooLarge);
                    m.field_over_packet_limit = true;
                } else if code == b'B' && m.refused.is_none() {
                    let refusal = match self.config.oversized_header {
                        Refusal::Reject => "552 5.3.4",
                        Refusal::Tempfail => "451 4.3.4",
                    };
                    m.refused = Some((
                        Response::ReplyCode(format!(
                            "{refusal} a body chunk is larger than the milter packet limit; the message was not accepted"
                        )),
                        Refused::BodyPacket,
                        self.config.oversized_header.action(),
                    ));
                }
                cont()
            }
            Command::Header { name, value } => {
                self.add_field(&name, &value);
                cont()
            }
            Command::EndOfHeaders => self.end_of_headers(),
            Command::Body(chunk) => {
                if let Some(v) = self.message.verifier.as_mut() {
                    v.body(&chunk);
                }
                if let Some(s) = self.message.signer.as_mut() {
                    s.body(&chunk);
                }
                if let Some(s) = self.message.sealer.as_mut() {
                    s.body(&chunk);
                }
                if let Some((s, v, _)) = self.message.outbound_arc.as_mut() {
                    s.body(&chunk);
                    v.body(&chunk);
                }
                cont()
            }
            Command::EndOfMessage => {
                // An MTA that skipped the end-of-header step: the header is judged (or
                // refused) now, so a message is never accepted unseen.
                if !self.message.header_done {
                    let _ = self.end_of_headers();
                }
                self.in_transaction = false;
                Step::EndOfMessage
            }
            Command::Abort => {
                self.message = Message::default();
                self.in_transaction = false;
                Step::Reply(Vec::new())
            }
            Command::Quit => Step::Close,
            Command::QuitNewConnection => {
                // A new SMTP connection on the same milter connection: the options
                // negotiated stay.
                let no_reply = self.no_reply;
                *self = Self::new(self.config.clone(), self.now);
                self.no_reply = no_reply;
                self.negotiated = true;
                Step::Reply(Vec::new())
            }
        }
    }

    /// Finishes the message: the modifications, the final verdict, and what it amounts
    /// to ([`Action`]), typed.
    pub async fn end_of_message<R: Resolver>(&mut self, resolver: &R) -> MessageOutcome {
        let mut message = std::mem::take(&mut self.message);
        // The deletions of forged results go first in every answer that lets the
        // message through (signed, sealed or passed on).
        let forged = std::mem::take(&mut message.forged);
        let plain = |responses: Vec<Response>, action| MessageOutcome {
            responses,
            report: None,
            envelope: None,
            action,
            reflect_to: None,
        };
        if let Some((refusal, _, action)) = message.refused {
            return plain(vec![refusal], action);
        }
        if let Some(e) = message.sign_error {
            let (responses, action) = self.sign_failed(&e, message.queue_id.as_deref());
            return plain(responses, action);
        }
        let outbound_seal = match message.outbound_arc {
            Some((sealer, verifier, recorded)) => {
                Self::seal_outbound(sealer, verifier, recorded, resolver).await
            }
            None => Vec::new(),
        };
        if message.signer.is_none() && !outbound_seal.is_empty() {
            let mut out = forged;
            out.extend(outbound_seal);
            out.push(Response::Accept);
            return plain(out, Action::Accept);
        }
        if let Some(signer) = message.signer {
            return match signer.finish() {
                Ok(values) => {
                    let mut out: Vec<Response> = forged;
                    out.extend(outbound_seal);
                    out.extend(values.into_iter().map(|v| Response::InsertHeader {
                        index: 0,
                        name: "DKIM-Signature".into(),
                        // With SMFIP_HDR_LEADSPC negotiated, Postfix writes the value
                        // right after the colon: keep the signed leading space.
                        value: format!(" {}", v.trim_start()),
                    }));
                    out.push(Response::Accept);
                    plain(out, Action::Sign)
                }
                Err(e) => {
                    let (responses, action) =
                        self.sign_failed(&e.to_string(), message.queue_id.as_deref());
                    plain(responses, action)
                }
            };
        }
        let Some(verifier) = message.verifier else {
            // Trusted but nothing to sign, or no header: pass through.
            let mut out = forged;
            out.push(Response::Accept);
            return plain(out, Action::Accept);
        };
        let envelope = Envelope {
            ip: self.client,
            helo: self.helo.clone(),
            mail_from: message.mail_from.clone(),
            rcpt_to: message.recipients.clone(),
        };
        let mut report = verifier.finish(resolver).await;
        let mut out = forged;
        // The first in order of the opted-out recipient domains (a set has none of its
        // own): the same one named every time.
        let opted_out = message
            .recipient_domains
            .iter()
            .filter(|d| {
                self.config
                    .optout_recipient_domains
                    .iter()
                    .any(|o| o.eq_ignore_ascii_case(d))
            })
            .min();
        let (mut responses, mut action) = self.verdict(&mut report, opted_out.map(String::as_str));
        if self.config.adsp_discard == ConnectAction::Reject
            && report.adsp.result == monban::adsp::AdspResult::Discard
            && matches!(action, Action::Accept | Action::Quarantine)
            && self
                .exemption(&report, opted_out.map(String::as_str))
                .is_none()
        {
            // RFC 5617 §4.2.2: the author domain asks that unsigned mail be discarded;
            // refused during the session instead, so nothing is lost in silence.
            responses.retain(|r| matches!(r, Response::InsertHeader { .. }));
            responses.push(Response::ReplyCode(format!(
                "550 5.7.1 the ADSP policy of {} (dkim=discardable) asks that this unsigned message be discarded",
                report.adsp.domain.as_deref().unwrap_or("the author domain")
            )));
            action = Action::Reject;
        }
        if !self.tags.is_empty() && matches!(action, Action::Accept | Action::Quarantine) {
            // At the end of the header, before the final reply: apart from the fields
            // inserted on top (A-R, an ARC set).
            let at = responses
                .iter()
                .rposition(|r| !matches!(r, Response::Accept | Response::ReplyCode(_)))
                .map_or(0, |p| p + 1);
            responses.insert(
                at,
                Response::AddHeader {
                    name: "X-Monban-Tag".into(),
                    value: format!(" {}", self.tags.join("; ")),
                },
            );
        }
        if let Some(sealer) = message.sealer
            && matches!(action, Action::Accept | Action::Quarantine)
        {
            // Our own results go into the AAR; the set goes on top of the A-R (written
            // first, at index 0), before the final accept.
            let results: Vec<String> = report
                .authentication_results(&self.config.authserv_id)
                .results
                .iter()
                .map(ResInfo::to_text)
                .collect();
            match sealer.finish(&report.arc, &results) {
                Ok(set) => {
                    let at = responses
                        .iter()
                        .position(|r| matches!(r, Response::InsertHeader { .. }))
                        .map_or(0, |p| p + 1);
                    for (i, r) in Self::set_headers(&set).into_iter().enumerate() {
                        responses.insert(at + i, r);
                    }
                }
                Err(e) => tracing::info!("ARC: not sealed: {e}"),
            }
        }
        out.extend(responses);
        let mut reflect_to = None;
        if message.to_reflector
            && let Some(reflector) = &self.config.reflector
        {
            let mail_from = message.mail_from.clone().unwrap_or_default();
            let headers = report.header.clone().unwrap_or_default();
            match monban_diag::reflect::should_reply(&mail_from, &headers, &reflector.address) {
                Ok(()) => reflect_to = Some(mail_from),
                Err(why) => tracing::info!("reflector: no reply: {why}"),
            }
            if !message.to_others {
                // A test message: consumed here, neither delivered nor refused (its
                // verdict is what the reply reports).
                out.retain(|r| {
                    !matches!(
                        r,
                        Response::Accept | Response::ReplyCode(_) | Response::Quarantine(_)
                    )
                });
                out.push(Response::Discard);
                action = Action::Accept;
            }
        }
        MessageOutcome {
            responses: out,
            report: Some(report),
            envelope: Some(envelope),
            action,
            reflect_to,
        }
    }

    /// Sets up the outbound seal of a trusted client's message (a list re-sending):
    /// the chain is validated as it is now, and the results this host recorded on
    /// arrival are kept for the AAR. Without such results nothing is sealed (the message
    /// did not come through this host).
    fn start_outbound_seal(&mut self, headers: &Headers, sender: &str) {
        let recorded = monban::arc::seal::results_recorded_by(headers, &self.config.authserv_id);
        if recorded.is_empty() {
            tracing::info!(
                "ARC: {sender}: no Authentication-Results of ours to record: not sealed"
            );
            return;
        }
        let Some(config) = self.config.sealer_for(sender) else {
            tracing::warn!("ARC: no signing key for {sender}: not sealed");
            return;
        };
        match ArcSealer::new(headers.clone(), config, self.now) {
            Ok(s) => {
                let v = ArcVerifier::new(headers, ArcConfig::default());
                self.message.outbound_arc = Some((s, v, recorded));
            }
            Err(e) => tracing::warn!("ARC: not sealing the message from {sender}: {e}"),
        }
    }

    /// Finishes an outbound seal: `cv=` is the `arc=` recorded on arrival while the seals
    /// still hold ([`monban::arc::ArcOutcome::as_received`]).
    async fn seal_outbound<R: Resolver>(
        sealer: ArcSealer,
        verifier: ArcVerifier,
        mut recorded: Vec<String>,
        resolver: &R,
    ) -> Vec<Response> {
        let now = verifier.finish(resolver).await;
        let chain = monban::arc::seal::received_chain(&now, &mut recorded);
        match sealer.finish(&chain, &recorded) {
            Ok(set) => Self::set_headers(&set),
            Err(e) => {
                tracing::info!("ARC: not sealed: {e}");
                Vec::new()
            }
        }
    }

    /// The insertions that put an ARC set on top, ARC-Seal first.
    fn set_headers(set: &monban::arc::SealedSet) -> Vec<Response> {
        [
            ("ARC-Seal", &set.seal),
            ("ARC-Message-Signature", &set.message_signature),
            ("ARC-Authentication-Results", &set.results),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (name, value))| Response::InsertHeader {
            index: u32::try_from(i).unwrap_or(0),
            name: name.into(),
            // The leading space: see SMFIP_HDR_LEADSPC above.
            value: format!(" {}", value.trim_start()),
        })
        .collect()
    }

    /// The verdict on a verified message. The receiver's own decisions that change what
    /// the evaluation asks for (allow lists, a recipient's opt-out, enforcement off) are
    /// added to the report as `local_policy` overrides (RFC 9990), and the report's
    /// disposition becomes the one actually applied. The `Authentication-Results` field,
    /// written first, states the evaluation (`dis=` as the policy asks), as before.
    /// Why the local settings exempt this message from refusal, if they do:
    /// `allow_domains`, `allow_networks`, or a recipient domain that opted out.
    fn exemption(&self, report: &Report, opted_out: Option<&str>) -> Option<String> {
        let allowed_domain = report.dmarc.header_from.as_deref().is_some_and(|f| {
            self.config
                .allow_domains
                .iter()
                .any(|a| a.eq_ignore_ascii_case(f))
        });
        let allowed_network = self
            .client
            .is_some_and(|ip| self.config.allow_networks.iter().any(|n| n.contains(ip)));
        if allowed_domain {
            Some("the author domain is in allow_domains".to_owned())
        } else if allowed_network {
            Some("the client is in allow_networks".to_owned())
        } else {
            opted_out.map(|r| format!("the recipient domain {r} opted out of enforcement"))
        }
    }

    fn verdict(&self, report: &mut Report, opted_out: Option<&str>) -> (Vec<Response>, Action) {
        let mut out = Vec::new();
        let ar = report
            .authentication_results(&self.config.authserv_id)
            .to_value();
        out.push(Response::InsertHeader {
            index: 0,
            name: "Authentication-Results".into(),
            // The leading space: see SMFIP_HDR_LEADSPC above.
            value: format!(" {ar}"),
        });
        let exemption = self.exemption(report, opted_out);
        let d = &mut report.dmarc;
        if d.result == DmarcResult::Temperror
            && self.config.tempfail_on_dns_error
            && exemption.is_none()
        {
            out.push(Response::ReplyCode(
                "451 4.7.5 DMARC evaluation hit a temporary DNS error; please try again later"
                    .into(),
            ));
            return (out, Action::Tempfail);
        }
        // A policy disposition not applied for a local reason: said in the report.
        let local = |d: &mut monban::dmarc::DmarcOutcome, applied: Disposition, why: String| {
            d.overrides.push(PolicyOverride {
                kind: OverrideKind::LocalPolicy,
                comment: Some(why),
            });
            d.disposition = applied;
        };
        if let Some(why) = exemption {
            if d.disposition != Disposition::None {
                local(d, Disposition::None, why);
            }
            out.push(Response::Accept);
            return (out, Action::Accept);
        }
        match d.disposition {
            // RFC 5322 §3.6 requires exactly one From; without it, or with addresses
            // that do not parse or are of several domains, there is no author domain
            // to judge (DMARC permerror), and a receiver that accepted such mail could
            // be made to show one sender while judging none.
            Disposition::Reject
                if self.config.enforce_reject && d.result == DmarcResult::Permerror =>
            {
                // The detail (which may quote the sender's From) goes to the log and the
                // Authentication-Results comment, not into the SMTP reply.
                out.push(Response::ReplyCode(
                    "550 5.7.1 the message must have exactly one From field, its addresses readable and of one domain (RFC 5322 section 3.6, DMARC)"
                        .into(),
                ));
                return (out, Action::Reject);
            }
            Disposition::Reject if self.config.enforce_reject => {
                // The domain whose record holds the policy (an organizational domain's
                // sp=, a tree walk's find), and the From domain when that is another.
                let from = d.header_from.as_deref().unwrap_or("the sender's domain");
                // A reply line is at most 512 octets (RFC 5321 §4.5.3.1.5): with two long
                // names, the owner's alone.
                let text = match d.record_domain.as_deref() {
                    Some(owner) if !owner.eq_ignore_ascii_case(from) => {
                        let both =
                            format!("550 5.7.1 rejected by the DMARC policy of {owner} for {from}");
                        if both.len() <= 510 {
                            both
                        } else {
                            format!("550 5.7.1 rejected by the DMARC policy of {owner}")
                        }
                    }
                    _ => format!("550 5.7.1 rejected by the DMARC policy of {from}"),
                };
                out.push(Response::ReplyCode(text));
                return (out, Action::Reject);
            }
            Disposition::Quarantine | Disposition::Reject => {
                // The hold reason names what the evaluation asked for.
                let asked = d.disposition;
                if asked == Disposition::Reject {
                    local(
                        d,
                        Disposition::Quarantine,
                        "enforce_reject = false: quarantined instead".to_owned(),
                    );
                }
                match self.config.quarantine {
                    QuarantineMode::Hold => out.push(Response::Quarantine(format!(
                        "DMARC {} for {}",
                        asked.as_str(),
                        d.header_from.as_deref().unwrap_or("?")
                    ))),
                    QuarantineMode::Header => out.push(Response::AddHeader {
                        name: "X-Monban-Quarantine".into(),
                        value: format!(
                            " DMARC policy of {}",
                            d.header_from.as_deref().unwrap_or("?")
                        ),
                    }),
                }
                out.push(Response::Accept);
                return (out, Action::Quarantine);
            }
            Disposition::None => {}
        }
        out.push(Response::Accept);
        (out, Action::Accept)
    }

    /// The `ChangeHeader` deletions for incoming `Authentication-Results` fields that
    /// claim our authserv-id (RFC 8601 §5), given the message's header.
    pub fn forged_results(headers: &Headers, authserv_id: &str) -> Vec<Response> {
        let claimed = fields_claiming(headers, authserv_id);
        let mut out = Vec::new();
        // The index of ChangeHeader counts fields of that name, 1-based.
        let ar_positions: Vec<usize> = headers
            .fields()
            .enumerate()
            .filter(|(_, f)| f.is("Authentication-Results"))
            .map(|(i, _)| i)
            .collect();
        // Deleted last first: the MTA renumbers the fields after each deletion (Postfix
        // does), so deleting the first of two forged fields ascending would make the
        // second deletion hit the field after it, keeping a forgery and deleting a
        // genuine field.
        for (occurrence, pos) in ar_positions.iter().enumerate().rev() {
            if claimed.contains(pos) {
                out.push(Response::ChangeHeader {
                    index: u32::try_from(occurrence + 1).unwrap_or(u32::MAX),
                    name: "Authentication-Results".into(),
                    value: String::new(),
                });
            }
        }
        // Our tag and quarantine fields are ours alone: a sender's copy would fool the
        // filters and mail stores that read them. Deleted last first, so the indexes
        // stay right.
        for name in ["X-Monban-Tag", "X-Monban-Quarantine"] {
            let copies = headers.get(name).count();
            for occurrence in (1..=copies).rev() {
                out.push(Response::ChangeHeader {
                    index: u32::try_from(occurrence).unwrap_or(u32::MAX),
                    name: name.into(),
                    value: String::new(),
                });
            }
        }
        out
    }
}
