//! Sending aggregate reports (RFC 9990 §3.2 "Transport"): each due delivery of a
//! generated report goes as one message through an SMTP relay, DKIM-signed, after the
//! external-destination check (RFC 9990 "Verifying External Destinations"), within a
//! per-destination rate limit; transient failures are retried with backoff, a
//! destination that refuses permanently is suppressed for a while. A relay that
//! refuses the reporter itself (its sender, authentication, relaying) or stops
//! answering stops the run: no destination is blamed, the rest wait.

use std::time::Duration;

use lettre::AsyncTransport as _;
use lettre::Tokio1Executor;
use lettre::address::Envelope;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use monban::dkim::{DkimSigner, SignerConfig};
use monban::dmarc::PublicSuffixList;
use monban::message::Headers;
use monban_dns::{Record, RecordType, Resolver};
use monban_store::{Delivery, DeliveryUpdate, Store};

use crate::ReportError;
use crate::mail::{FailureMail, ReportMail};

/// STARTTLS with the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTls {
    /// When the relay offers it (certificates not checked, as SMTP does between MTAs).
    Opportunistic,
    /// Always, with a certificate valid for the relay's name.
    Required,
    /// Never (a local relay on loopback).
    Never,
}

/// How to send.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The relay host.
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// STARTTLS.
    pub starttls: StartTls,
    /// The EHLO name.
    pub hello: String,
    /// The reporting address: `From` and the envelope sender.
    pub from: String,
    /// The reporting organization (the `From` display name).
    pub org_name: String,
    /// The receiver's domain (the Subject's `Submitter`).
    pub submitter: String,
    /// Who signs (`d=` should align with `from` for a DMARC pass, RFC 9990 §3.2.1.1).
    pub signer: Option<SignerConfig>,
    /// Now (Unix seconds).
    pub now: i64,
    /// Reports to one destination per hour at most.
    pub max_per_hour: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// How long a destination that refused permanently is left alone.
    pub suppress_for: i64,
    /// How long one delivery may take with the relay (connection to the end of DATA;
    /// usually [`SMTP_TIMEOUT`]).
    pub timeout: Duration,
    /// At most this many deliveries in one run.
    pub limit: u32,
}

/// Deliveries one run takes at most (`report send --limit`, the milter's report
/// thread): the rest wait for the next run.
pub const DELIVERIES_PER_RUN: u32 = 10_000;

/// How long one delivery may take with the relay, connection to the end of DATA
/// (`report send`, the milter's report thread): past it the delivery is retried later.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// What came of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    /// The Report-ID.
    pub report_id: String,
    /// The policy domain.
    pub domain: String,
    /// The `rua` URI.
    pub destination: String,
    /// `sent`, `retry`, `failed`, `deferred`.
    pub status: &'static str,
    /// What happened, in words.
    pub detail: String,
}

/// The deliveries of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendSummary {
    /// One per delivery tried.
    pub deliveries: Vec<DeliveryOutcome>,
    /// Why the run stopped using the relay before its end, with the relay's answer: it
    /// refused the reporter itself (the sender at MAIL FROM, authentication required,
    /// relaying denied for every recipient) or stopped answering
    /// ([`RELAY_FAILURES_IN_A_ROW`]). The deliveries it did not try wait for a later
    /// run; nothing is given up or suppressed for it.
    pub relay_trouble: Option<String>,
}

impl SendSummary {
    /// How many have this status.
    pub fn count(&self, status: &str) -> usize {
        self.deliveries
            .iter()
            .filter(|d| d.status == status)
            .count()
    }
}

/// After this many deliveries in a row that found the relay unreachable or silent
/// (no connection, no answer within the timeout), a run stops trying it: a relay that
/// hangs costs a run at most this many timeouts, not one per delivery.
pub const RELAY_FAILURES_IN_A_ROW: u32 = 3;

/// The envelope sender of the reports, checked before any delivery is touched: a
/// sender SMTP cannot carry would fail every delivery, and that is no destination's
/// fault.
pub fn envelope_sender(from: &str) -> Result<lettre::Address, ReportError> {
    from.parse::<lettre::Address>().map_err(|e| {
        ReportError::Usage(format!(
            "the reporting address {from:?} is not an address SMTP can carry ({e})"
        ))
    })
}

/// Sends the deliveries that are due. `progress(done, total)` after each.
///
/// Each delivery's claim is renewed (compare and set) right before it is sent: one
/// whose claim ran out and that another sender took meanwhile is left to that sender
/// (RFC 9990 §3.2: a report goes once to each destination). The run's clock is `now`
/// plus the time the run has taken so far.
pub async fn send<R: Resolver>(
    store: &dyn Store,
    resolver: &R,
    opts: &SendOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<SendSummary, ReportError> {
    envelope_sender(&opts.from)?;
    let relay = Relay::new(opts)?;
    let due = store.due_deliveries(opts.now, opts.limit).await?;
    let psl = PublicSuffixList::bundled();
    let cx = Context {
        store,
        resolver,
        psl: &psl,
        relay: &relay,
    };
    let started = tokio::time::Instant::now();
    let mut summary = SendSummary::default();
    let mut failures_in_a_row = 0;
    // The addresses each report reached in this run.
    let mut reached: std::collections::HashMap<String, std::collections::HashSet<String>> =
        std::collections::HashMap::new();
    let total = due.len();
    for (i, d) in due.into_iter().enumerate() {
        let elapsed = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
        let opts = SendOptions {
            now: opts.now.saturating_add(elapsed),
            ..opts.clone()
        };
        progress(i, total);
        let until = if summary.relay_trouble.is_some() {
            opts.now + backoff(0)
        } else {
            opts.now + monban_store::CLAIM_SECONDS
        };
        if !store
            .claim_delivery(&d.report_id, &d.destination, &d.claim, until)
            .await?
        {
            summary.deliveries.push(DeliveryOutcome {
                report_id: d.report_id.clone(),
                domain: d.policy_domain.clone(),
                destination: d.destination.clone(),
                status: "skipped",
                detail: "taken by another sender after this run's claim ran out".into(),
            });
            continue;
        }
        if let Some(why) = &summary.relay_trouble {
            // Not tried: it waits for a later run, no attempt counted.
            let update = DeliveryUpdate::Defer {
                next_attempt: until,
                reason: format!("not tried: {why}"),
            };
            store
                .update_delivery(&d.report_id, &d.destination, &update)
                .await?;
            summary.deliveries.push(DeliveryOutcome {
                report_id: d.report_id.clone(),
                domain: d.policy_domain.clone(),
                destination: d.destination.clone(),
                status: "retry",
                detail: format!("not tried: {why}"),
            });
            continue;
        }
        let mut trouble = RelayState::NotContacted;
        let reached = reached.entry(d.report_id.clone()).or_default();
        let (update, outcome) = deliver(&cx, &opts, &d, &mut trouble, reached).await?;
        store
            .update_delivery(&d.report_id, &d.destination, &update)
            .await?;
        match trouble {
            RelayState::NotContacted => {}
            RelayState::Answered => failures_in_a_row = 0,
            RelayState::Silent => {
                failures_in_a_row += 1;
                if failures_in_a_row >= RELAY_FAILURES_IN_A_ROW {
                    summary.relay_trouble = Some(format!(
                        "the relay failed {failures_in_a_row} deliveries in a row ({})",
                        outcome.detail
                    ));
                }
            }
            RelayState::RefusedUs => summary.relay_trouble = Some(outcome.detail.clone()),
        }
        summary.deliveries.push(outcome);
    }
    progress(total, total);
    Ok(summary)
}

/// What a delivery found out about the relay itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelayState {
    /// Not contacted for this delivery (suppressed, over the rate, no address...):
    /// says nothing about the relay, so the count of failures in a row stands.
    NotContacted,
    /// It answered.
    Answered,
    /// No connection, or no answer in time.
    Silent,
    /// It refused the reporter, not the destination.
    RefusedUs,
}

/// The relay and how to talk to it.
struct Relay {
    host: String,
    port: u16,
    tls: Tls,
    hello: ClientId,
    timeout: Duration,
}

impl Relay {
    fn new(opts: &SendOptions) -> Result<Self, ReportError> {
        Ok(Self {
            host: opts.smtp_host.clone(),
            port: opts.smtp_port,
            tls: tls(&opts.smtp_host, opts.starttls)?,
            hello: ClientId::Domain(opts.hello.clone()),
            timeout: opts.timeout,
        })
    }

    /// One SMTP transaction, command by command, so that a refusal is known by where
    /// it came: the connection and MAIL FROM are about the reporter and its relay,
    /// RCPT about the destination (unless relaying was denied), DATA about the message.
    async fn transact(
        &self,
        from: &lettre::Address,
        rcpts: &[lettre::Address],
        message: &[u8],
    ) -> Result<Response, Refusal> {
        let at = |stage: Stage| {
            move |error: lettre::transport::smtp::Error| Refusal {
                stage,
                error,
                relay_denied: false,
            }
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            None,
            None,
        )
        .await
        .map_err(at(Stage::Connect))?;
        match &self.tls {
            Tls::Opportunistic(p) if conn.can_starttls() => {
                conn.starttls(p.clone(), &self.hello)
                    .await
                    .map_err(at(Stage::Connect))?;
            }
            Tls::Required(p) => conn
                .starttls(p.clone(), &self.hello)
                .await
                .map_err(at(Stage::Connect))?,
            _ => {}
        }
        let mut options = Vec::new();
        if !message.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if let Err(e) = conn.command(Mail::new(Some(from.clone()), options)).await {
            conn.abort().await;
            return Err(at(Stage::Mail)(e));
        }
        let mut refused = Vec::new();
        for to in rcpts {
            match conn.command(Rcpt::new(to.clone(), Vec::new())).await {
                Ok(_) => {}
                Err(e) if e.status().is_some() => refused.push(e),
                Err(e) => {
                    conn.abort().await;
                    return Err(at(Stage::Rcpt)(e));
                }
            }
        }
        // Taken by all of the destination's addresses or by none: a retry then sends
        // nothing twice.
        if !refused.is_empty() {
            conn.abort().await;
            let relay_denied = refused.len() == rcpts.len() && refused.iter().all(is_relay_denial);
            let error = refused.swap_remove(0);
            return Err(Refusal {
                stage: Stage::Rcpt,
                error,
                relay_denied,
            });
        }
        if let Err(e) = conn.command(Data).await {
            conn.abort().await;
            return Err(at(Stage::Data)(e));
        }
        let reply = match conn.message(message).await {
            Ok(r) => r,
            Err(e) => {
                conn.abort().await;
                return Err(at(Stage::Data)(e));
            }
        };
        let _ = conn.quit().await;
        Ok(reply)
    }
}

/// Where in the SMTP transaction a refusal came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The greeting, EHLO, STARTTLS.
    Connect,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA and the message.
    Data,
}

impl Stage {
    fn command(self) -> &'static str {
        match self {
            Self::Connect => "the greeting, EHLO or STARTTLS",
            Self::Mail => "MAIL FROM",
            Self::Rcpt => "RCPT TO",
            Self::Data => "DATA",
        }
    }
}

/// A transaction that did not end in a 2xx.
#[derive(Debug)]
struct Refusal {
    stage: Stage,
    error: lettre::transport::smtp::Error,
    /// Every recipient was refused as relaying denied.
    relay_denied: bool,
}

impl Refusal {
    /// Whether the relay refused the reporter, not the destination: a permanent answer
    /// to the connection or to MAIL FROM (a sender the relay does not accept), 530
    /// (authentication required, RFC 4954 §6) anywhere, or relaying denied for every
    /// recipient. Then no destination is to blame: nothing is given up or suppressed.
    fn is_about_us(&self) -> bool {
        if !self.error.is_permanent() {
            return false;
        }
        if self.error.status().is_some_and(|c| c.to_string() == "530") {
            return true;
        }
        match self.stage {
            Stage::Connect | Stage::Mail => true,
            Stage::Rcpt => self.relay_denied,
            Stage::Data => false,
        }
    }

    /// Whether nothing was heard from the relay (no connection, a broken one): the
    /// relay, not the destination, is unavailable.
    fn is_silence(&self) -> bool {
        self.error.status().is_none() && !self.error.is_client()
            || (self.stage == Stage::Connect && self.error.is_transient())
    }
}

/// A refusal that says relaying is denied (Postfix "Relay access denied", Exchange
/// "Unable to relay", Sendmail "Relaying denied"). Only these phrases count, with the
/// reply's `<address>` parts left out: a destination's own refusal can hold "relay"
/// ("User unknown in relay recipient table", `<relay@example.org>`), and taking that for
/// our relay's would stop every run and never settle the destination.
fn is_relay_denial(e: &lettre::transport::smtp::Error) -> bool {
    e.is_permanent() && says_relay_denied(&e.to_string())
}

/// Whether a reply text is a relay denial ([`is_relay_denial`]).
fn says_relay_denied(reply: &str) -> bool {
    // The text without what stands between '<' and '>' (the echoed address).
    let mut text = String::with_capacity(reply.len());
    let mut depth = 0usize;
    for c in reply.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            c if depth == 0 => text.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    [
        "relay access denied",
        "unable to relay",
        "relaying denied",
        "relay not permitted",
        "relaying not permitted",
        "relay denied",
        "not permitted to relay",
    ]
    .iter()
    .any(|p| text.contains(p))
}

fn tls(host: &str, starttls: StartTls) -> Result<Tls, ReportError> {
    Ok(match starttls {
        StartTls::Never => Tls::None,
        StartTls::Opportunistic => Tls::Opportunistic(
            TlsParameters::builder(host.to_owned())
                .dangerous_accept_invalid_certs(true)
                .dangerous_accept_invalid_hostnames(true)
                .build_rustls()
                .map_err(|e| ReportError::Usage(format!("TLS: {e}")))?,
        ),
        StartTls::Required => Tls::Required(
            TlsParameters::builder(host.to_owned())
                .build_rustls()
                .map_err(|e| ReportError::Usage(format!("TLS: {e}")))?,
        ),
    })
}

fn relay_transport(
    host: &str,
    port: u16,
    starttls: StartTls,
    hello: &str,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, ReportError> {
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.to_owned())
            .port(port)
            .tls(tls(host, starttls)?)
            .hello_name(ClientId::Domain(hello.to_owned()))
            .timeout(Some(timeout))
            .build(),
    )
}

/// Sends one ready message through a relay with a null envelope sender (an automatic
/// reply that must never be answered or bounced, RFC 3834 §3.3): the relay's reply, or
/// why it failed.
pub async fn send_auto_reply(
    host: &str,
    port: u16,
    hello: &str,
    to: &str,
    message: &[u8],
) -> Result<String, String> {
    let transport = relay_transport(
        host,
        port,
        StartTls::Opportunistic,
        hello,
        Duration::from_secs(30),
    )
    .map_err(|e| e.to_string())?;
    let rcpt: lettre::Address = to
        .parse()
        .map_err(|_| format!("{to}: not an address SMTP can carry"))?;
    let envelope = Envelope::new(None, vec![rcpt]).map_err(|e| e.to_string())?;
    // The transport's timeout covers the connection only: a relay that stops
    // answering after it would hold the reply for ever.
    let timeout = Duration::from_secs(30);
    match tokio::time::timeout(timeout, transport.send_raw(&envelope, message)).await {
        Ok(sent) => sent
            .map(|r| format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")))
            .map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "no answer from the relay in {} s",
            timeout.as_secs()
        )),
    }
}

/// Backoff after `attempts` failed attempts: 15 min, 30 min, 1 h, ... at most 12 h.
fn backoff(attempts: u32) -> i64 {
    (900i64 << attempts.min(6)).min(12 * 3600)
}

/// What every delivery of a run uses.
struct Context<'a, R> {
    store: &'a dyn Store,
    resolver: &'a R,
    psl: &'a PublicSuffixList,
    relay: &'a Relay,
}

async fn deliver<R: Resolver>(
    cx: &Context<'_, R>,
    opts: &SendOptions,
    d: &Delivery,
    relay_state: &mut RelayState,
    reached: &mut std::collections::HashSet<String>,
) -> Result<(DeliveryUpdate, DeliveryOutcome), ReportError> {
    *relay_state = RelayState::NotContacted;
    let outcome = |status: &'static str, detail: String| DeliveryOutcome {
        report_id: d.report_id.clone(),
        domain: d.policy_domain.clone(),
        destination: d.destination.clone(),
        status,
        detail,
    };
    let failed = |why: String| {
        (
            DeliveryUpdate::Failed { error: why.clone() },
            outcome("failed", why),
        )
    };
    let Some(address) = mailto_address(&d.destination) else {
        return Ok(failed(format!(
            "{:?} is not a mailto: URI monban can send to",
            d.destination
        )));
    };
    // A report nobody could take for days is given up (RFC 9990 §3.2: a receiver MAY
    // discard data it cannot send).
    let max_age = if d.kind == "failure" {
        FAILURE_MAX_AGE
    } else {
        AGGREGATE_MAX_AGE
    };
    if opts.now - d.end > max_age {
        return Ok(failed(format!(
            "not delivered within {} days: given up",
            max_age / 86_400
        )));
    }
    if let Some(until) = cx.store.suppressed(&d.destination, opts.now).await? {
        let why = format!(
            "the destination refused earlier reports; suppressed until {}",
            monban::rfc5322::datetime::format_utc(until)
        );
        return Ok((
            DeliveryUpdate::Defer {
                next_attempt: until,
                reason: why.clone(),
            },
            outcome("deferred", why),
        ));
    }
    // The rate limit before any DNS work.
    let sent = cx.store.sent_since(&d.destination, opts.now - 3600).await?;
    if sent >= opts.max_per_hour {
        let why = format!(
            "{sent} report(s) went to this destination in the last hour (limit {})",
            opts.max_per_hour
        );
        return Ok((
            DeliveryUpdate::Defer {
                next_attempt: opts.now + 3600,
                reason: why.clone(),
            },
            outcome("deferred", why),
        ));
    }
    let retry = |why: String, next_attempt: i64| {
        if d.attempts + 1 >= opts.max_attempts {
            return failed(format!("{why} (gave up after {} attempts)", d.attempts + 1));
        }
        (
            DeliveryUpdate::Retry {
                next_attempt,
                error: why.clone(),
            },
            outcome("retry", why),
        )
    };
    let tag = if d.kind == "failure" { "ruf" } else { "rua" };
    let mut addresses = match authorize(cx.resolver, cx.psl, &d.policy_domain, &address, tag).await
    {
        Authorization::SameOrganization => vec![address],
        Authorization::Authorized(list) => list,
        Authorization::Refused(why) => return Ok(failed(why)),
        Authorization::TryLater(why) => return Ok(retry(why, opts.now + 3600)),
    };
    // Once to each address: two URIs that the destination's override turns into the
    // same address (or a list naming it twice) get the report once.
    let mut once = std::collections::HashSet::new();
    addresses.retain(|a| !reached.contains(a) && once.insert(a.clone()));
    if addresses.is_empty() {
        return Ok((
            DeliveryUpdate::Sent { at: opts.now },
            outcome(
                "duplicate",
                "its address(es) already got this report in this run: not sent again".into(),
            ),
        ));
    }
    // One message to every address of the destination, in one SMTP transaction: it is
    // taken by all of them or by none, so a retry sends nothing twice.
    let to = addresses.join(", ");
    let raw = if d.kind == "failure" {
        FailureMail {
            from: &opts.from,
            org_name: &opts.org_name,
            to: &to,
            submitter: &opts.submitter,
            report_id: &d.report_id,
            subject: d.subject.as_deref().unwrap_or("DMARC failure report"),
            content_type: d.content_type.as_deref().unwrap_or("text/plain"),
            body: &d.xml_gz,
            date: opts.now,
        }
        .render()
    } else {
        ReportMail {
            from: &opts.from,
            org_name: &opts.org_name,
            to: &to,
            submitter: &opts.submitter,
            policy_domain: &d.policy_domain,
            report_id: &d.report_id,
            begin: d.begin,
            end: d.end,
            filename: &d.filename,
            xml_gz: &d.xml_gz,
            date: opts.now,
        }
        .render()
    };
    let message = match sign(raw, opts) {
        Ok(m) => m,
        Err(why) => return Ok(failed(why)),
    };
    let from = envelope_sender(&opts.from)?;
    let Some(rcpts) = addresses
        .iter()
        .map(|a| a.parse().ok())
        .collect::<Option<Vec<lettre::Address>>>()
    else {
        return Ok(failed(format!("{to}: not an address SMTP can carry")));
    };
    // The connection's own timeout covers each read and write only: a relay that
    // answers slowly enough would hold the run for ever.
    let sent = match tokio::time::timeout(opts.timeout, cx.relay.transact(&from, &rcpts, &message))
        .await
    {
        Ok(sent) => {
            *relay_state = RelayState::Answered;
            sent
        }
        Err(_) => {
            *relay_state = RelayState::Silent;
            return Ok(retry(
                format!(
                    "{to}: no answer from the relay in {} s",
                    opts.timeout.as_secs()
                ),
                opts.now + backoff(d.attempts),
            ));
        }
    };
    let refusal = match sent {
        Ok(reply) => {
            reached.extend(addresses);
            return Ok((
                DeliveryUpdate::Sent { at: opts.now },
                outcome(
                    "sent",
                    format!(
                        "{to}: {} {}",
                        reply.code(),
                        reply.message().collect::<Vec<_>>().join(" ")
                    ),
                ),
            ));
        }
        Err(r) => r,
    };
    let e = &refusal.error;
    if refusal.is_about_us() {
        // The relay refused the reporter: the report waits, no attempt counted, no
        // destination blamed.
        *relay_state = RelayState::RefusedUs;
        let why = format!(
            "the relay refused the reporter, not the destination: {e} (at {}); \
             check --from and the relay's settings for it",
            refusal.stage.command()
        );
        return Ok((
            DeliveryUpdate::Defer {
                next_attempt: opts.now + backoff(0),
                reason: why.clone(),
            },
            outcome("retry", why),
        ));
    }
    if refusal.is_silence() {
        *relay_state = RelayState::Silent;
    }
    if e.is_permanent() {
        let why = format!("{to}: refused: {e}");
        // Only a refusal of the address at RCPT (550 mailbox unavailable, 551 not
        // local, 553 mailbox name not allowed) suppresses the destination: a message
        // too large says nothing about it.
        let code = e.status().map(|c| c.to_string());
        if refusal.stage == Stage::Rcpt && matches!(code.as_deref(), Some("550" | "551" | "553")) {
            cx.store
                .suppress(&d.destination, opts.now + opts.suppress_for, &why)
                .await?;
        }
        return Ok(failed(why));
    }
    Ok(retry(format!("{to}: {e}"), opts.now + backoff(d.attempts)))
}

/// An aggregate report not delivered within this many seconds of its period's end is
/// given up.
const AGGREGATE_MAX_AGE: i64 = 14 * 86_400;
/// A failure report, the same (it is about one message, and urgent or nothing).
const FAILURE_MAX_AGE: i64 = 3 * 86_400;

/// DKIM-signs the message when a signer is set (RFC 6376; the report must pass DMARC
/// aligned, RFC 9990 §3.2.1.1).
fn sign(message: Vec<u8>, opts: &SendOptions) -> Result<Vec<u8>, String> {
    let Some(signer) = &opts.signer else {
        return Ok(message);
    };
    let split = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the report message has no body")?;
    let headers = Headers::parse(&message[..split + 2]).map_err(|e| e.to_string())?;
    let mut s = DkimSigner::new(
        headers,
        vec![signer.clone()],
        u64::try_from(opts.now).unwrap_or(0),
    )
    .map_err(|e| e.to_string())?;
    s.body(&message[split + 4..]);
    let values = s.finish().map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(message.len() + 1024);
    for v in values {
        out.extend_from_slice(b"DKIM-Signature:");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&message);
    Ok(out)
}

/// What the external-destination check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The destination is in the policy domain's organization: no check needed.
    SameOrganization,
    /// The destination agreed (with its own `rua` override, when it has one).
    Authorized(Vec<String>),
    /// Not allowed: never send there.
    Refused(String),
    /// The DNS failed: try again later.
    TryLater(String),
}

/// RFC 9990 "Verifying External Destinations" (and RFC 9991 for `ruf`): a
/// destination outside the policy domain's organizational domain must publish
/// `v=DMARC1` at `<policy-domain>._report._dmarc.<destination-host>`; the `tag` there
/// (`rua` or `ruf`) replaces the destination, and must stay on the same host.
pub async fn authorize<R: Resolver>(
    resolver: &R,
    psl: &PublicSuffixList,
    policy_domain: &str,
    address: &str,
    tag: &str,
) -> Authorization {
    let Some((_, host)) = address.rsplit_once('@') else {
        return Authorization::Refused(format!("{address}: no domain"));
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let policy = policy_domain.trim_end_matches('.').to_ascii_lowercase();
    let org = |d: &str| psl.registrable_domain(d).unwrap_or_else(|| d.to_owned());
    if org(&host) == org(&policy) {
        return Authorization::SameOrganization;
    }
    let name = format!("{policy}._report._dmarc.{host}");
    if name.len() > 253 || name.split('.').any(|l| l.len() > 63) {
        return Authorization::Refused(format!(
            "{name}: too long for DNS, so {host} cannot agree to take {policy}'s reports"
        ));
    }
    let answer = match resolver.lookup(&name, RecordType::Txt).await {
        Ok(a) => a,
        Err(e) if e.is_temporary() => {
            return Authorization::TryLater(format!("the check of {name} failed: {e}"));
        }
        Err(_) => {
            return Authorization::Refused(format!(
                "{host} did not agree to take reports for {policy} (no record at {name})"
            ));
        }
    };
    let mut agreed = false;
    let mut overrides: Vec<String> = Vec::new();
    for r in &answer.records {
        let Record::Txt(t) = r else { continue };
        let text = String::from_utf8_lossy(&t.joined()).into_owned();
        let mut tags = text.split(';').map(str::trim).filter(|t| !t.is_empty());
        let first = tags.next().map(|t| t.replace(' ', ""));
        if first.as_deref() != Some("v=DMARC1") {
            continue;
        }
        agreed = true;
        for part in tags {
            if let Some((k, v)) = part.split_once('=')
                && k.trim().eq_ignore_ascii_case(tag)
            {
                overrides.extend(v.split(',').map(|u| u.trim().to_owned()));
            }
        }
    }
    if !agreed {
        return Authorization::Refused(format!(
            "{host} did not agree to take reports for {policy} (no v=DMARC1 record at {name})"
        ));
    }
    if overrides.is_empty() {
        return Authorization::Authorized(vec![address.to_owned()]);
    }
    let mut list = Vec::new();
    for uri in overrides
        .iter()
        .take(monban::dmarc::record::MAX_REPORT_URIS)
    {
        let to = uri.split('!').next().unwrap_or(uri);
        match mailto_address(to) {
            Some(a) if a.rsplit_once('@').is_some_and(|(_, h)| h == host) => list.push(a),
            Some(a) => {
                return Authorization::Refused(format!(
                    "{host}'s override {a} is on another host: no report to either (RFC 9990)"
                ));
            }
            None => {}
        }
    }
    if list.is_empty() {
        return Authorization::Refused(format!("{host}'s override names no mailto: address"));
    }
    Authorization::Authorized(list)
}

/// The address of a `mailto:` report URI (RFC 6068), percent-decoded, without `?`
/// parameters; `None` for another scheme or an address that is not one.
pub fn mailto_address(uri: &str) -> Option<String> {
    let rest = uri
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("mailto:"))
        .and_then(|_| uri.get(7..))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.len() > 320 {
        return None;
    }
    let addr = percent_decode(rest)?;
    // One address: RFC 9989 allows one per URI (several URIs are comma-separated).
    let (local, domain) = addr.rsplit_once('@')?;
    let ok_local = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b',' | b'@' | b'"'));
    let domain = domain.trim_end_matches('.');
    let ok_domain = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    (ok_local && ok_domain).then(|| format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// The `mailto:` URI of an address [`mailto_address`] gave, which reads back as that
/// address: `%`, `?` and `#` are percent-encoded (`a%2541@x` decodes to `a%41@x`, which
/// written as is would be read again as `aA@x`).
pub fn mailto_uri(address: &str) -> String {
    let mut uri = String::with_capacity(address.len() + 7);
    uri.push_str("mailto:");
    for c in address.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3F"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailto_uris() {
        assert_eq!(
            mailto_address("mailto:dmarc@Example.COM").as_deref(),
            Some("dmarc@example.com")
        );
        assert_eq!(
            mailto_address("MAILTO:a%2Bb@example.com?subject=x").as_deref(),
            Some("a+b@example.com")
        );
        for bad in [
            "https://example.com/report",
            "mailto:",
            "mailto:noat",
            "mailto:a@b@",
            "mailto:a@exa mple.com",
            "mailto:%zz@example.com",
            "mailto:<a@example.com>",
        ] {
            assert_eq!(mailto_address(bad), None, "{bad}");
        }
        assert_eq!(
            mailto_address(&format!("mailto:a@{}.com", "x".repeat(400))),
            None
        );
    }

    fn zone(records: &[(&str, &str)]) -> monban_dns::ZoneResolver {
        let mut z = monban_dns::ZoneResolver::new();
        for (name, txt) in records {
            z.insert(
                name,
                Record::Txt(monban_dns::Txt::new([txt.as_bytes().to_vec()])),
                300,
            );
        }
        z
    }

    fn check(z: &monban_dns::ZoneResolver, policy: &str, addr: &str) -> Authorization {
        let psl = PublicSuffixList::bundled();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(authorize(z, &psl, policy, addr, "rua"))
    }

    /// A DNS that never answers: the external-destination check says "try later".
    struct Down;

    impl Resolver for Down {
        fn lookup(
            &self,
            name: &str,
            _: RecordType,
        ) -> impl std::future::Future<Output = monban_dns::Lookup> + Send {
            let name = name.to_owned();
            async move { Err(monban_dns::LookupError::Timeout { name }) }
        }
    }

    /// One delivery on its own (the DNS down): its update, outcome and what it found
    /// of the relay.
    async fn deliver_alone(
        store: &dyn Store,
        opts: &SendOptions,
        d: &Delivery,
    ) -> (DeliveryUpdate, DeliveryOutcome, RelayState) {
        let relay = Relay::new(opts).unwrap();
        let psl = PublicSuffixList::bundled();
        let mut state = RelayState::Answered;
        let cx = Context {
            store,
            resolver: &Down,
            psl: &psl,
            relay: &relay,
        };
        let (update, outcome) = deliver(&cx, opts, d, &mut state, &mut Default::default())
            .await
            .unwrap();
        (update, outcome, state)
    }

    /// One delivery tried at `now` (nothing reaches a network: the DNS is down and
    /// the relay is never contacted), with what it came to.
    fn attempt(kind: &str, end: i64, attempts: u32, now: i64) -> DeliveryOutcome {
        let dir = std::env::temp_dir().join(format!(
            "monban-send-{kind}-{end}-{attempts}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = monban_store::SqliteStore::open(&dir.join("m.db")).unwrap();
        let opts = SendOptions {
            timeout: Duration::from_secs(1),
            limit: 10,
            ..options(now)
        };
        let d = Delivery {
            report_id: "r1".into(),
            destination: "mailto:agg@reports.example.net".into(),
            attempts,
            policy_domain: "example.com".into(),
            begin: end - 86_400,
            end,
            filename: "r.xml.gz".into(),
            xml_gz: Vec::new(),
            kind: kind.into(),
            content_type: None,
            subject: None,
            claim: String::new(),
        };
        let out = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(deliver_alone(&store, &opts, &d));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        out.1
    }

    /// RFC 9990 §3.2: an aggregate report is tried for 14 days after its period, a
    /// failure report for 3; a second later it is given up.
    #[test]
    fn rfc9990_3_2_undelivered_reports_are_given_up_by_age() {
        let now = 100 * 86_400;
        for (kind, age, days) in [
            ("aggregate", AGGREGATE_MAX_AGE, 14),
            ("failure", FAILURE_MAX_AGE, 3),
        ] {
            let o = attempt(kind, now - age, 0, now);
            assert_eq!(o.status, "retry", "{kind}: {}", o.detail);
            let o = attempt(kind, now - age - 1, 0, now);
            assert_eq!(o.status, "failed", "{kind}");
            assert_eq!(
                o.detail,
                format!("not delivered within {days} days: given up")
            );
        }
    }

    /// The eighth failed attempt gives the delivery up; the seventh is retried.
    #[test]
    fn deliveries_are_given_up_after_max_attempts() {
        let now = 100 * 86_400;
        let o = attempt("aggregate", now, 6, now);
        assert_eq!(o.status, "retry", "{}", o.detail);
        let o = attempt("aggregate", now, 7, now);
        assert_eq!(o.status, "failed");
        assert!(
            o.detail.ends_with("(gave up after 8 attempts)"),
            "{}",
            o.detail
        );
    }

    fn options(now: i64) -> SendOptions {
        SendOptions {
            smtp_host: "127.0.0.1".into(),
            smtp_port: 9,
            starttls: StartTls::Never,
            hello: "receiver.example".into(),
            from: "dmarc@receiver.example".into(),
            org_name: "Receiver".into(),
            submitter: "receiver.example".into(),
            signer: None,
            now,
            max_per_hour: 60,
            max_attempts: 8,
            suppress_for: 86_400,
            timeout: SMTP_TIMEOUT,
            limit: DELIVERIES_PER_RUN,
        }
    }

    /// A run takes 10,000 deliveries; the 10,001st waits for the next run. (The
    /// destinations are not `mailto:`: each is settled at once, without a network.)
    #[test]
    fn a_run_takes_at_most_deliveries_per_run() {
        assert_eq!(DELIVERIES_PER_RUN, 10_000);
        let dir = std::env::temp_dir().join(format!("monban-send-limit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = monban_store::SqliteStore::open(&dir.join("m.db")).unwrap();
        let now = 100 * 86_400;
        let report = monban_store::OutgoingReport {
            report_id: "r1".into(),
            policy_domain: "example.com".into(),
            policy_key: "p=none".into(),
            // Yesterday's, generated today: due at once.
            begin: now - 2 * 86_400,
            end: now - 86_400 - 1,
            filename: "r.xml.gz".into(),
            xml_gz: Vec::new(),
            records: 1,
            messages: 1,
            rua: (0..=DELIVERIES_PER_RUN)
                .map(|i| format!("https://reports.example/{i}"))
                .collect(),
            created: now - 10,
        };
        let runs = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                store.save_report(&report).await.unwrap();
                let mut runs = Vec::new();
                for _ in 0..3 {
                    let s = send(&store, &Down, &options(now), &mut |_, _| {})
                        .await
                        .unwrap();
                    assert!(s.deliveries.iter().all(|d| d.status == "failed"));
                    runs.push(s.deliveries.len());
                }
                runs
            });
        assert_eq!(runs, [DELIVERIES_PER_RUN as usize, 1, 0]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A relay that accepts the connection and then says nothing: the delivery is
    /// given up for this run at 60 s and retried later (the transport's own timeout
    /// covers the connection only). In virtual time.
    #[tokio::test(start_paused = true)]
    async fn a_relay_that_does_not_answer_is_retried_later() {
        assert_eq!(SMTP_TIMEOUT, Duration::from_secs(60));
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = relay.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = relay.accept().await {
                held.push(s);
            }
        });
        let dir = std::env::temp_dir().join(format!("monban-send-stall-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = monban_store::SqliteStore::open(&dir.join("m.db")).unwrap();
        let now = 100 * 86_400;
        let mut opts = options(now);
        opts.smtp_port = port;
        let d = Delivery {
            report_id: "r1".into(),
            destination: "mailto:dmarc@example.com".into(),
            attempts: 0,
            policy_domain: "example.com".into(),
            begin: now - 86_400,
            end: now - 1,
            filename: "r.xml.gz".into(),
            xml_gz: Vec::new(),
            kind: "aggregate".into(),
            content_type: None,
            subject: None,
            claim: String::new(),
        };
        let start = tokio::time::Instant::now();
        let (update, outcome, state) = deliver_alone(&store, &opts, &d).await;
        assert_eq!(state, RelayState::Silent);
        assert_eq!(start.elapsed(), SMTP_TIMEOUT);
        assert_eq!(outcome.status, "retry", "{}", outcome.detail);
        assert!(matches!(update, DeliveryUpdate::Retry { .. }), "{update:?}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// What the in-test relay answers.
    #[derive(Clone, Copy)]
    struct Script {
        mail: &'static str,
        rcpt: &'static str,
        /// How long it takes to answer the end of DATA.
        data_delay: Duration,
        /// Says nothing after the connection.
        silent: bool,
    }

    const ACCEPTS: Script = Script {
        mail: "250 2.1.0 ok",
        rcpt: "250 2.1.5 ok",
        data_delay: Duration::ZERO,
        silent: false,
    };

    /// What the in-test relay saw: connections, and the recipients of each message
    /// it took.
    #[derive(Default)]
    struct Seen {
        connections: usize,
        messages: Vec<String>,
    }

    /// An SMTP relay on loopback, in the test's runtime (so that it keeps virtual time
    /// with the sender), answering as `script` says.
    async fn relay(script: Script) -> (u16, std::sync::Arc<std::sync::Mutex<Seen>>) {
        use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                log.lock().unwrap().connections += 1;
                let log = log.clone();
                tokio::spawn(async move {
                    let (r, mut w) = conn.into_split();
                    if script.silent {
                        let _held = (r, w);
                        std::future::pending::<()>().await;
                        return;
                    }
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 relay.test ESMTP\r\n").await;
                    let mut rcpts = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let answer = match verb.as_str() {
                            "EHLO" => "250-relay.test\r\n250 8BITMIME".to_owned(),
                            "MAIL" => script.mail.to_owned(),
                            "RCPT" => {
                                rcpts.push(line[8..].to_owned());
                                script.rcpt.to_owned()
                            }
                            "DATA" => {
                                let _ = w.write_all(b"354 go on\r\n").await;
                                while let Ok(Some(l)) = lines.next_line().await {
                                    if l == "." {
                                        break;
                                    }
                                }
                                tokio::time::sleep(script.data_delay).await;
                                log.lock().unwrap().messages.push(rcpts.join(","));
                                "250 2.0.0 queued".to_owned()
                            }
                            "QUIT" => "221 2.0.0 bye".to_owned(),
                            _ => "250 2.0.0 ok".to_owned(),
                        };
                        let _ = w.write_all(format!("{answer}\r\n").as_bytes()).await;
                        if verb == "QUIT" {
                            break;
                        }
                    }
                });
            }
        });
        (port, seen)
    }

    /// Report `i` (of `d{i}.example`) of yesterday, to `rua`, due at `now`.
    fn yesterdays(i: usize, rua: Vec<String>, now: i64) -> monban_store::OutgoingReport {
        monban_store::OutgoingReport {
            report_id: format!("r{i}"),
            policy_domain: format!("d{i}.example"),
            policy_key: "p=none".into(),
            begin: now - 2 * 86_400,
            end: now - 86_400 - 1,
            filename: format!("r{i}.xml.gz"),
            xml_gz: vec![0x1f, 0x8b],
            records: 1,
            messages: 1,
            rua,
            created: now - 10,
        }
    }

    /// One run at `now` through an in-test relay answering as `script` says: what it
    /// did, and what the relay saw.
    async fn send_through<R: Resolver>(
        store: &dyn Store,
        resolver: &R,
        script: Script,
        now: i64,
    ) -> (SendSummary, std::sync::Arc<std::sync::Mutex<Seen>>) {
        let (port, seen) = relay(script).await;
        let mut opts = options(now);
        opts.smtp_port = port;
        let s = send(store, resolver, &opts, &mut |_, _| {}).await.unwrap();
        (s, seen)
    }

    /// A store with `n` aggregate reports, each due at `now` to the policy domain's
    /// own address (no DNS needed).
    async fn store_with_reports(name: &str, n: usize, now: i64) -> TestStore {
        let dir = std::env::temp_dir().join(format!("monban-send-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = monban_store::SqliteStore::open(&dir.join("m.db")).unwrap();
        let reports: Vec<_> = (0..n)
            .map(|i| yesterdays(i, vec![format!("mailto:dmarc@d{i}.example")], now))
            .collect();
        store.save_reports(&reports).await.unwrap();
        TestStore {
            store: Some(store),
            dir,
        }
    }

    /// A store in a folder of its own, removed with it.
    struct TestStore {
        store: Option<monban_store::SqliteStore>,
        dir: std::path::PathBuf,
    }

    impl std::ops::Deref for TestStore {
        type Target = monban_store::SqliteStore;
        fn deref(&self) -> &Self::Target {
            self.store.as_ref().unwrap()
        }
    }

    impl Drop for TestStore {
        fn drop(&mut self) {
            self.store.take();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A trial's F1: a run that lasts longer than the claim, while a second sender
    /// starts after the claim ran out. The second sender's clock is set 901 s ahead
    /// (as the trial's `--at` did), the relay takes 1 s a message. Each report reaches
    /// its destination once: the first run renews its claim before each send (the one
    /// it is sending is not taken) and leaves what the second took.
    #[tokio::test]
    async fn rfc9990_3_2_a_long_run_and_a_second_sender_send_each_report_once() {
        let now = 100 * 86_400;
        let store = store_with_reports("claims", 4, now).await;
        let (port, seen) = relay(Script {
            data_delay: Duration::from_secs(1),
            ..ACCEPTS
        })
        .await;
        let mut opts = options(now);
        opts.smtp_port = port;
        let second = SendOptions {
            now: now + monban_store::CLAIM_SECONDS + 1,
            ..opts.clone()
        };
        let (mut pa, mut pb) = (|_, _| {}, |_, _| {});
        let (a, b) = tokio::join!(send(&*store, &Down, &opts, &mut pa), async {
            // While the first run sends its third report.
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            send(&*store, &Down, &second, &mut pb).await
        });
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut got = seen.lock().unwrap().messages.clone();
        got.sort();
        assert_eq!(
            got,
            [
                "<dmarc@d0.example>",
                "<dmarc@d1.example>",
                "<dmarc@d2.example>",
                "<dmarc@d3.example>"
            ],
            "{a:?} {b:?}"
        );
        assert_eq!((a.count("sent"), a.count("skipped")), (3, 1), "{a:?}");
        assert_eq!(b.count("sent"), 1, "{b:?}");
    }

    /// A relay that accepts connections and then says nothing: the run gives up on it
    /// after three deliveries (three timeouts), and the rest wait for a later run
    /// without an attempt counted (a trial's F1, `hang/`).
    #[tokio::test(start_paused = true)]
    async fn a_relay_that_hangs_is_given_up_for_the_run() {
        let now = 100 * 86_400;
        let store = store_with_reports("hang", 6, now).await;
        let (port, _seen) = relay(Script {
            silent: true,
            ..ACCEPTS
        })
        .await;
        let mut opts = options(now);
        opts.smtp_port = port;
        let start = tokio::time::Instant::now();
        let s = send(&*store, &Down, &opts, &mut |_, _| {}).await.unwrap();
        assert_eq!(start.elapsed(), SMTP_TIMEOUT * RELAY_FAILURES_IN_A_ROW);
        assert_eq!(s.count("retry"), 6, "{s:?}");
        assert!(
            s.relay_trouble
                .as_deref()
                .unwrap()
                .contains("3 deliveries in a row"),
            "{s:?}"
        );
        assert!(s.deliveries[3].detail.starts_with("not tried: "), "{s:?}");
        // Due again in 15 minutes; the untried ones with no attempt counted.
        let later = store.due_deliveries(now + 3_600, 10).await.unwrap();
        let attempts: Vec<u32> = later.iter().map(|d| d.attempts).collect();
        assert_eq!(attempts, [1, 1, 1, 0, 0, 0]);
    }

    /// An address read from a percent-encoded URI is written back so that it reads
    /// as itself (review finding: `a%2541@x` was stored as `mailto:a%41@x` and sent
    /// to `aA@x`; `a%3Fb@x` lost its address at the `?`).
    #[test]
    fn mailto_uris_read_back_as_their_address() {
        for uri in [
            "mailto:a%2541@x.example",
            "mailto:a%3Fb@x.example",
            "mailto:a%23b@x.example",
            "mailto:plain@X.example.",
        ] {
            let address = mailto_address(uri).unwrap();
            assert_eq!(
                mailto_address(&mailto_uri(&address)),
                Some(address),
                "{uri}"
            );
        }
        assert_eq!(
            mailto_address("mailto:a%2541@x.example").unwrap(),
            "a%41@x.example"
        );
    }

    /// Only a relay's own wording of a relay denial counts: a destination's refusal
    /// that mentions "relay" (its address, Postfix's relay recipient table) was taken
    /// for our relay's and would have stopped every run (review finding).
    #[test]
    fn only_relay_denials_are_relay_denials() {
        for yes in [
            "permanent error (554): 5.7.1 <a@d.example>: Relay access denied",
            "permanent error (550): 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
            "permanent error (550): 5.7.1 Relaying denied",
        ] {
            assert!(says_relay_denied(yes), "{yes}");
        }
        for no in [
            "permanent error (550): 5.1.1 <dmarc@relay.example>: no such user",
            "permanent error (550): 5.1.1 <x@d.example>: Recipient address rejected: User unknown in relay recipient table",
            "permanent error (556): 5.1.10 <relay@evil.example>: Recipient address rejected: Domain evil.example does not accept mail (nullMX)",
        ] {
            assert!(!says_relay_denied(no), "{no}");
        }
    }

    /// A trial's F2: a relay that refuses the reporter (its sender at MAIL FROM,
    /// authentication required, relaying denied for every recipient) blames no
    /// destination: nothing is given up or suppressed, no attempt is counted, the run
    /// stops at the first refusal and says the relay's answer. A refusal of the
    /// address at RCPT still gives the delivery up and suppresses the destination.
    #[tokio::test]
    async fn a_relay_that_refuses_the_reporter_blames_no_destination() {
        let now = 100 * 86_400;
        for (name, script, answer) in [
            (
                "553mail",
                Script {
                    mail: "553 5.7.1 <dmarc@receiver.example>: Sender address rejected: not owned by user",
                    ..ACCEPTS
                },
                "Sender address rejected",
            ),
            (
                "530",
                Script {
                    mail: "530 5.7.0 Authentication required",
                    ..ACCEPTS
                },
                "Authentication required",
            ),
            (
                "550relay",
                Script {
                    rcpt: "550 5.7.1 Unable to relay",
                    ..ACCEPTS
                },
                "Unable to relay",
            ),
        ] {
            let store = store_with_reports(name, 3, now).await;
            let (s, seen) = send_through(&*store, &Down, script, now).await;
            let trouble = s.relay_trouble.clone().unwrap_or_default();
            assert!(trouble.contains(answer), "{name}: {s:?}");
            assert!(
                trouble.contains("refused the reporter"),
                "{name}: {trouble}"
            );
            assert_eq!(s.count("retry"), 3, "{name}: {s:?}");
            assert_eq!(seen.lock().unwrap().connections, 1, "{name}");
            for i in 0..3 {
                let dest = format!("mailto:dmarc@d{i}.example");
                assert_eq!(store.suppressed(&dest, now).await.unwrap(), None, "{name}");
            }
            let later = store.due_deliveries(now + 900, 10).await.unwrap();
            assert_eq!(later.len(), 3, "{name}");
            assert!(later.iter().all(|d| d.attempts == 0), "{name}: {later:?}");
        }
        // The destination's own refusal, for contrast.
        let store = store_with_reports("550user", 1, now).await;
        let (s, _) = send_through(
            &*store,
            &Down,
            Script {
                rcpt: "550 5.1.1 <dmarc@d0.example>: no such user",
                ..ACCEPTS
            },
            now,
        )
        .await;
        assert_eq!(s.relay_trouble, None);
        assert_eq!(s.count("failed"), 1, "{s:?}");
        assert!(
            store
                .suppressed("mailto:dmarc@d0.example", now)
                .await
                .unwrap()
                .is_some()
        );
    }

    /// A trial's F4: two `rua` addresses that the destination's override turns into
    /// one address get the report once.
    #[tokio::test]
    async fn rfc9990_3_2_an_override_shared_by_two_uris_gets_the_report_once() {
        let now = 100 * 86_400;
        let store = store_with_reports("override", 0, now).await;
        let rua = vec![
            "mailto:a@reports.vendor.example".into(),
            "mailto:b@reports.vendor.example".into(),
        ];
        store.save_report(&yesterdays(0, rua, now)).await.unwrap();
        let z = zone(&[(
            "d0.example._report._dmarc.reports.vendor.example",
            "v=DMARC1; rua=mailto:collect@reports.vendor.example",
        )]);
        let (s, seen) = send_through(&*store, &z, ACCEPTS, now).await;
        assert_eq!(
            seen.lock().unwrap().messages,
            ["<collect@reports.vendor.example>"],
            "{s:?}"
        );
        let statuses: Vec<&str> = s.deliveries.iter().map(|d| d.status).collect();
        assert_eq!(statuses, ["sent", "duplicate"]);
    }

    /// A trial's F12: a reporting address SMTP cannot carry is refused before any
    /// delivery is touched (it used to fail every delivery for good).
    #[tokio::test]
    async fn a_bad_reporting_address_touches_no_delivery() {
        let now = 100 * 86_400;
        let store = store_with_reports("badfrom", 2, now).await;
        let mut opts = options(now);
        opts.from = "dmarc reports@receiver.example".into();
        let e = send(&*store, &Down, &opts, &mut |_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(e, ReportError::Usage(_)), "{e}");
        assert!(
            e.to_string().contains("dmarc reports@receiver.example"),
            "{e}"
        );
        assert_eq!(store.due_deliveries(now, 10).await.unwrap().len(), 2);
    }

    #[test]
    fn rfc9990_external_destinations() {
        let z = zone(&[
            ("example.com._report._dmarc.reports.example.net", "v=DMARC1"),
            (
                "other.example._report._dmarc.reports.example.net",
                "v=DMARC1; rua=mailto:other@reports.example.net",
            ),
            (
                "evil.example._report._dmarc.reports.example.net",
                "v=DMARC1; rua=mailto:victim@elsewhere.example",
            ),
            (
                "nope.example._report._dmarc.reports.example.net",
                "v=spf1 -all",
            ),
        ]);
        assert_eq!(
            check(&z, "example.com", "agg@mail.example.com"),
            Authorization::SameOrganization
        );
        assert_eq!(
            check(&z, "sub.example.com", "agg@example.com"),
            Authorization::SameOrganization
        );
        assert_eq!(
            check(&z, "example.com", "agg@reports.example.net"),
            Authorization::Authorized(vec!["agg@reports.example.net".into()])
        );
        assert_eq!(
            check(&z, "other.example", "x@reports.example.net"),
            Authorization::Authorized(vec!["other@reports.example.net".into()])
        );
        for (policy, addr) in [
            ("evil.example", "x@reports.example.net"),
            ("nope.example", "x@reports.example.net"),
            ("victim.example", "x@unrelated.example"),
        ] {
            assert!(
                matches!(check(&z, policy, addr), Authorization::Refused(_)),
                "{policy} {addr}"
            );
        }
        // A name over 253 octets cannot be asked: refused, not tried.
        let long = vec!["a".repeat(60); 4].join(".") + ".example";
        assert!(matches!(
            check(&z, &long, "x@reports.example.net"),
            Authorization::Refused(_)
        ));
    }
}
