//! Sending aggregate reports (RFC 9990 §3.2 "Transport"): each due delivery of a
//! generated report goes as one message through an SMTP relay, DKIM-signed, after the
//! external-destination check (RFC 9990 "Verifying External Destinations"), within a
//! per-destination rate limit; transient failures are retried with backoff, a
//! destination that refuses permanently is suppressed for a while.

use std::time::Duration;

use lettre::AsyncTransport as _;
use lettre::Tokio1Executor;
use lettre::address::Envelope;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
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

/// Sends the deliveries that are due. `progress(done, total)` after each.
pub async fn send<R: Resolver>(
    store: &dyn Store,
    resolver: &R,
    opts: &SendOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<SendSummary, ReportError> {
    let due = store.due_deliveries(opts.now, opts.limit).await?;
    let psl = PublicSuffixList::bundled();
    let transport = transport(opts)?;
    let mut summary = SendSummary::default();
    let total = due.len();
    for (i, d) in due.into_iter().enumerate() {
        let (update, outcome) = deliver(store, resolver, &psl, &transport, opts, &d).await?;
        store
            .update_delivery(&d.report_id, &d.destination, &update)
            .await?;
        summary.deliveries.push(outcome);
        progress(i + 1, total);
    }
    Ok(summary)
}

fn transport(opts: &SendOptions) -> Result<AsyncSmtpTransport<Tokio1Executor>, ReportError> {
    relay_transport(
        &opts.smtp_host,
        opts.smtp_port,
        opts.starttls,
        &opts.hello,
        opts.timeout,
    )
}

fn relay_transport(
    host: &str,
    port: u16,
    starttls: StartTls,
    hello: &str,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, ReportError> {
    let tls = match starttls {
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
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.to_owned())
            .port(port)
            .tls(tls)
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

async fn deliver<R: Resolver>(
    store: &dyn Store,
    resolver: &R,
    psl: &PublicSuffixList,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    opts: &SendOptions,
    d: &Delivery,
) -> Result<(DeliveryUpdate, DeliveryOutcome), ReportError> {
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
    if let Some(until) = store.suppressed(&d.destination, opts.now).await? {
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
    let sent = store.sent_since(&d.destination, opts.now - 3600).await?;
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
    let addresses = match authorize(resolver, psl, &d.policy_domain, &address, tag).await {
        Authorization::SameOrganization => vec![address],
        Authorization::Authorized(list) => list,
        Authorization::Refused(why) => return Ok(failed(why)),
        Authorization::TryLater(why) => return Ok(retry(why, opts.now + 3600)),
    };
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
    let from = opts.from.parse().ok();
    let rcpts: Option<Vec<lettre::Address>> = addresses.iter().map(|a| a.parse().ok()).collect();
    let envelope = match (from, rcpts) {
        (Some(from), Some(rcpts)) => Envelope::new(Some(from), rcpts),
        _ => return Ok(failed(format!("{to}: not an address SMTP can carry"))),
    };
    let envelope = match envelope {
        Ok(e) => e,
        Err(e) => return Ok(failed(format!("{to}: {e}"))),
    };
    // The transport's own timeout covers the connection only: a relay that stops
    // answering after it would hold the run for ever.
    let sent =
        match tokio::time::timeout(opts.timeout, transport.send_raw(&envelope, &message)).await {
            Ok(sent) => sent,
            Err(_) => {
                return Ok(retry(
                    format!(
                        "{to}: no answer from the relay in {} s",
                        opts.timeout.as_secs()
                    ),
                    opts.now + backoff(d.attempts),
                ));
            }
        };
    match sent {
        Ok(reply) => Ok((
            DeliveryUpdate::Sent { at: opts.now },
            outcome(
                "sent",
                format!(
                    "{to}: {} {}",
                    reply.code(),
                    reply.message().collect::<Vec<_>>().join(" ")
                ),
            ),
        )),
        Err(e) if e.is_permanent() => {
            let why = format!("{to}: refused: {e}");
            // Only a refusal of the address (550 mailbox unavailable, 551 not local,
            // 553 mailbox name not allowed) suppresses the destination: a relay that
            // refuses to relay, or a message too large, says nothing about it.
            let code = e.status().map(|c| c.to_string());
            if matches!(code.as_deref(), Some("550" | "551" | "553")) {
                store
                    .suppress(&d.destination, opts.now + opts.suppress_for, &why)
                    .await?;
            }
            Ok(failed(why))
        }
        Err(e) => Ok(retry(format!("{to}: {e}"), opts.now + backoff(d.attempts))),
    }
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
        };
        let out = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let t = transport(&opts).unwrap();
                let psl = PublicSuffixList::bundled();
                deliver(&store, &Down, &psl, &t, &opts, &d).await.unwrap()
            });
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
        };
        let psl = PublicSuffixList::bundled();
        let start = tokio::time::Instant::now();
        let (update, outcome) = deliver(&store, &Down, &psl, &transport(&opts).unwrap(), &opts, &d)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), SMTP_TIMEOUT);
        assert_eq!(outcome.status, "retry", "{}", outcome.detail);
        assert!(matches!(update, DeliveryUpdate::Retry { .. }), "{update:?}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
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
