//! The header analyzer: what a received message's header says about its journey and
//! its authentication, for people (`monban analyze`, the web analyzer).
//!
//! [`analyze`] reads a header (and optionally the body) and returns an [`Analysis`]:
//!
//! - the `Received` chain as hops, oldest first (RFC 5321 §4.4: each relay prepends
//!   its field, so the bottom one is the oldest), each with its delay since the
//!   previous hop (for the first hop: since the `Date` field) and warnings for clock
//!   skew and for hops out of order ([`received`], [`datetime`]);
//! - every `Authentication-Results` (RFC 8601), `ARC-Authentication-Results`
//!   (RFC 8617 §4.1.1) and `Received-SPF` (RFC 7208 §9.1) field with who wrote it;
//! - every `DKIM-Signature` tag explained in words, and whether `d=` makes it an
//!   author or a third-party signature ([`explain`](mod@explain)); with the body,
//!   whether the body hash still matches and, if not, whether a footer was appended
//!   ([`diagnose`](mod@diagnose));
//! - Return-Path, From, Sender, Reply-To, Message-ID and Date.
//!
//! [`verify`] adds monban's own verification beside the recorded results. Nothing here
//! does I/O except through the [`monban_dns::Resolver`] that [`verify`] is given; work
//! is bounded ([`MAX_RECEIVED`], [`MAX_SIGNATURES`], [`MAX_DIAGNOSED`],
//! [`MAX_RESULT_FIELDS`]).
//!
//! Every type serializes (serde) to the JSON of DESIGN §4 (`monban analyze --json`).

pub use monban::rfc5322::datetime;
use monban::rfc5322::take_comments;
pub mod diagnose;
pub mod explain;
pub mod received;
pub mod rfc2047;
mod verify;

use std::net::IpAddr;

pub use diagnose::{Diagnosis, Finding};
pub use verify::{
    ArcAnalysis, ArcHop, Comparison, EnvelopeInfo, MethodOutcome, Verification, verify,
};

use crate::i18n::{Lang, Msg};
use crate::msg;
use explain::{TagExplanation, explain, related_domains, tag_pairs};
use monban::address::parse_mailbox_list;
use monban::authres::AuthenticationResults;
use monban::dkim::DkimSignature;
use monban::message::{HeaderField, Headers};

/// The most `Received` fields analysed (the newest ones); more are counted only.
pub const MAX_RECEIVED: usize = 1_000;
/// The most `DKIM-Signature` fields explained.
pub const MAX_SIGNATURES: usize = 50;
/// The most signatures whose body hash is checked and failure diagnosed.
pub const MAX_DIAGNOSED: usize = 10;
/// The most fields read of each kind of result field (A-R, ARC-A-R, Received-SPF).
pub const MAX_RESULT_FIELDS: usize = 100;
/// Negative delays up to this many seconds are clock skew; beyond, the hops are
/// out of order.
pub const SKEW_TOLERANCE: i64 = 3_600;
/// A hop slower than this is worth a note.
pub const SLOW_HOP: i64 = 3_600;

/// Name/value pairs that serialize as a JSON object, in order (the first of duplicate
/// names wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    fn push(&mut self, k: impl Into<String>, v: impl Into<String>) {
        let k = k.into();
        if !self.0.iter().any(|(n, _)| *n == k) {
            self.0.push((k, v.into()));
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl serde::Serialize for Pairs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// One relay of the message, from its `Received` field.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Hop {
    /// 1 for the oldest hop.
    pub number: usize,
    /// `from`: the name the client gave.
    pub from: Option<String>,
    /// The client's IP address, when recorded.
    pub from_ip: Option<String>,
    /// The TCP-info comment after `from` (reverse DNS name, address, HELO).
    pub from_detail: Option<String>,
    /// Whether the receiving host found a reverse DNS name for the client: `false` when
    /// it wrote `unknown` where the name goes (`(unknown [192.0.2.1])`, Postfix and
    /// Sendmail); `None` when the field does not say.
    pub reverse_name: Option<bool>,
    /// `by`: the receiving host.
    pub by: Option<String>,
    /// The comment after `by` (often the MTA).
    pub by_detail: Option<String>,
    /// `via`.
    pub via: Option<String>,
    /// `with`: the protocol.
    pub with: Option<String>,
    /// The comment after `with` (TLS version and cipher).
    pub with_detail: Option<String>,
    /// `id`: the receiving host's queue id.
    pub id: Option<String>,
    /// `for`: the recipient.
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// When it was received, ISO 8601 with the offset as written.
    pub time: Option<String>,
    /// The same as a Unix time.
    pub timestamp: Option<i64>,
    /// The date as written.
    pub date_text: Option<String>,
    /// Why the date does not parse.
    pub date_error: Option<String>,
    /// Seconds since the previous hop with a time (the first hop: since `Date`);
    /// negative when the clocks disagree.
    pub delay_seconds: Option<i64>,
}

/// How serious a warning is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Something is wrong or suspicious.
    Warning,
}

/// Something odd about the header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// A stable name: `clock_skew`, `out_of_order`, `slow_hop`, `received_no_date`,
    /// `received_bad_date`, `too_many_received`, `results_before_first_hop`, `results_below_other_hop`,
    /// `unparseable_results`, `no_from`, `several_from`, `bad_from`, `display_name_address`,
    /// `sender_differs`, `bad_sender`, `return_path_unaligned`, `several_return_path`, `no_date`,
    /// `bad_date`, `obsolete_date`, `weekday_mismatch`, `no_message_id`,
    /// `bad_message_id`, `too_many_signatures`, `signatures_not_diagnosed`,
    /// `too_many_result_fields`, `too_many_results`.
    pub kind: &'static str,
    /// How serious.
    pub severity: Severity,
    /// The hop concerned, if any.
    pub hop: Option<usize>,
    /// In words (English).
    pub message: String,
    /// In the catalogue's words (any language).
    #[serde(skip)]
    pub text: Msg,
}

/// One method result in an `Authentication-Results`-like field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MethodResult {
    /// `dkim`, `spf`, `dmarc`, `arc`, ...
    pub method: String,
    /// `pass`, `fail`, ...
    pub result: String,
    /// `reason=`.
    pub reason: Option<String>,
    /// The comment after the result.
    pub comment: Option<String>,
    /// `ptype.property` → value (`header.d`, `smtp.mailfrom`, ...).
    pub properties: Pairs,
    /// What the method checks and what the result says, in words (English).
    pub meaning: String,
    /// The same in the catalogue's words (any language).
    #[serde(skip)]
    pub text: Msg,
}

impl MethodResult {
    fn new(
        method: String,
        result: String,
        reason: Option<String>,
        comment: Option<String>,
        properties: Pairs,
    ) -> Self {
        let text = explain::result_meaning(&method, &result);
        Self {
            meaning: text.text(Lang::En),
            text,
            method,
            result,
            reason,
            comment,
            properties,
        }
    }
}

/// One `Authentication-Results` or `ARC-Authentication-Results` field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResultsField {
    /// The field's place in the header, 1 for the top field.
    pub position: usize,
    /// ARC: the instance (`i=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
    /// Who evaluated: the authserv-id.
    pub authserv_id: Option<String>,
    /// The results.
    pub results: Vec<MethodResult>,
    /// Why the field is not valid RFC 8601 (it was then read leniently).
    pub error: Option<String>,
    /// Below every `Received` field and not from the first receiving host: probably in
    /// the message before its first hop (the `results_before_first_hop` warning); or
    /// below the Received field of a host that got the message before the one it names
    /// (`results_below_other_hop`). Not in the JSON, where the warning says it.
    #[serde(skip)]
    pub before_first_hop: bool,
}

/// One `Received-SPF` field (RFC 7208 §9.1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReceivedSpf {
    /// The field's place in the header, 1 for the top field.
    pub position: usize,
    /// The result.
    pub result: String,
    /// Who evaluated: `receiver=`, or the name that starts the comment.
    pub receiver: Option<String>,
    /// The comment.
    pub comment: Option<String>,
    /// The key-value pairs (`client-ip`, `envelope-from`, `helo`, ...).
    pub properties: Pairs,
}

/// Whether a signature's `d=` aligns with the From domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signer {
    /// `d=` is the From domain, a parent or a subdomain of it.
    Author,
    /// Any other domain.
    ThirdParty,
}

/// One `DKIM-Signature`, explained.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignatureInfo {
    /// The field's place among the signatures, 1 for the top one.
    pub number: usize,
    /// The field's place in the header, 1 for the top field.
    pub position: usize,
    /// `d=`.
    pub d: Option<String>,
    /// `s=`.
    pub s: Option<String>,
    /// `a=`.
    pub a: Option<String>,
    /// Author or third-party signature.
    pub signer: Signer,
    /// Every tag as written (white space removed from `b`, `bh`, `h`, `z`).
    pub tags: Pairs,
    /// Every tag in words.
    pub explanations: Vec<TagExplanation>,
    /// Why the signature is invalid whatever the key (RFC 6376 §6.1.1), if it is.
    pub error: Option<String>,
    /// With the body: whether the body still matches, and what changed.
    pub diagnosis: Option<Diagnosis>,
}

/// Who the message says it is from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Identities {
    /// Return-Path: the MAIL FROM the last hop saw ("" for the null sender).
    pub return_path: Option<String>,
    /// The From address(es), comma-separated.
    pub from: Option<String>,
    /// The Sender address.
    pub sender: Option<String>,
    /// The From display name.
    pub from_name: Option<String>,
    /// The From domain (the DMARC author domain), when there is exactly one.
    pub from_domain: Option<String>,
    /// The Return-Path domain.
    pub return_path_domain: Option<String>,
    /// The Reply-To address(es).
    pub reply_to: Option<String>,
    /// Whether the Return-Path domain aligns (relaxed) with the From domain, so SPF
    /// can count for DMARC.
    pub return_path_aligned: Option<bool>,
}

/// The `Date` field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DateInfo {
    /// As written.
    pub text: String,
    /// ISO 8601, when it parses.
    pub time: Option<String>,
    /// Unix time, when it parses.
    pub timestamp: Option<i64>,
    /// Why it does not parse.
    pub error: Option<String>,
}

/// Everything the analyzer found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Analysis {
    /// The hops, oldest first.
    pub hops: Vec<Hop>,
    /// How many `Received` fields the message has (hops holds at most
    /// [`MAX_RECEIVED`]).
    pub received_count: usize,
    /// From `Date` (or the first hop) to the last hop, in seconds.
    pub total_delay_seconds: Option<i64>,
    /// `Authentication-Results`, top first.
    pub authentication_results: Vec<ResultsField>,
    /// `ARC-Authentication-Results`, top first.
    pub arc_authentication_results: Vec<ResultsField>,
    /// `Received-SPF`, top first.
    pub received_spf: Vec<ReceivedSpf>,
    /// `DKIM-Signature`, top first.
    pub dkim_signatures: Vec<SignatureInfo>,
    /// Return-Path, From, Sender.
    pub identities: Identities,
    /// `Message-ID`, as written.
    pub message_id: Option<String>,
    /// `Date`.
    pub date: Option<DateInfo>,
    /// `Subject` as written (unfolded, not decoded).
    pub subject: Option<String>,
    /// Everything odd, in the order found.
    pub warnings: Vec<Warning>,
    /// monban's own verification, when asked for ([`verify`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl Analysis {
    fn warn(&mut self, kind: &'static str, severity: Severity, hop: Option<usize>, text: Msg) {
        self.warnings.push(Warning {
            kind,
            severity,
            hop,
            message: text.text(Lang::En),
            text,
        });
    }
}

/// A field value on one line, trimmed and bounded.
fn one_line(value: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(value);
    let mut out: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > max {
        out = out.chars().take(max).collect();
        out.push('\u{2026}');
    }
    out
}

/// "hop N (name)".
fn hop_msg(n: usize, name: &str) -> Msg {
    msg!("what-hop", n = n, name = name)
}

fn hop_name(h: &Hop) -> String {
    h.by.clone().unwrap_or_else(|| format!("hop {}", h.number))
}

/// Analyses a header; with the body (CRLF form), signatures' body hashes are checked
/// too.
pub fn analyze(headers: &Headers, body: Option<&[u8]>) -> Analysis {
    let mut a = Analysis::default();
    let fields: Vec<HeaderField<'_>> = headers.fields().collect();

    identities(&mut a, headers);
    date_and_ids(&mut a, headers);
    hops(&mut a, &fields);
    results(&mut a, &fields);
    signatures(&mut a, headers, &fields, body);
    a
}

fn date_and_ids(a: &mut Analysis, headers: &Headers) {
    let dates: Vec<_> = headers.get("date").collect();
    match dates.first() {
        None => a.warn("no_date", Severity::Warning, None, msg!("warn-no-date")),
        Some(f) => {
            let text = one_line(f.value, 200);
            let parsed = datetime::parse(&text);
            if let Ok(d) = &parsed {
                if d.obsolete {
                    a.warn(
                        "obsolete_date",
                        Severity::Info,
                        None,
                        msg!("warn-obsolete-date", text = &text),
                    );
                }
                if d.weekday_mismatch {
                    a.warn(
                        "weekday_mismatch",
                        Severity::Warning,
                        None,
                        msg!("warn-weekday-mismatch", text = &text),
                    );
                }
            } else {
                a.warn(
                    "bad_date",
                    Severity::Warning,
                    None,
                    msg!("warn-bad-date", text = &text),
                );
            }
            a.date = Some(DateInfo {
                time: parsed.as_ref().ok().map(datetime::DateTime::to_iso8601),
                timestamp: parsed.as_ref().ok().map(|d| d.unix),
                error: parsed.err().map(|e| e.to_string()),
                text,
            });
        }
    }
    match headers.get("message-id").next() {
        None => a.warn(
            "no_message_id",
            Severity::Info,
            None,
            msg!("warn-no-message-id"),
        ),
        Some(f) => {
            let id = one_line(f.value, 400);
            let ok = id.starts_with('<')
                && id.ends_with('>')
                && id.contains('@')
                && !id.contains(char::is_whitespace);
            if !ok {
                a.warn(
                    "bad_message_id",
                    Severity::Info,
                    None,
                    msg!("warn-bad-message-id", id = &id),
                );
            }
            a.message_id = Some(id);
        }
    }
    // Encoded words decoded (RFC 2047), then bounded again: the decoded text may hold
    // line breaks of its own.
    a.subject = headers
        .get("subject")
        .next()
        .map(|f| one_line(rfc2047::decode(&one_line(f.value, 4000)).as_bytes(), 400));
}

/// The address of a `Return-Path` value: `<a@b>` → `a@b`, `<>` → "".
fn return_path(value: &[u8]) -> String {
    let s = one_line(value, 400);
    let s = s.trim();
    let inner = match (s.find('<'), s.rfind('>')) {
        (Some(i), Some(j)) if j > i => &s[i + 1..j],
        _ => s,
    };
    // A source route (`<@a,@b:user@c>`) is dropped.
    let inner = inner.rsplit_once(':').map_or(inner, |(_, a)| a);
    inner.trim().to_owned()
}

fn domain_of(addr: &str) -> Option<String> {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

fn identities(a: &mut Analysis, headers: &Headers) {
    let mut id = Identities::default();
    let rps: Vec<_> = headers.get("return-path").collect();
    if let Some(f) = rps.first() {
        let rp = return_path(f.value);
        id.return_path_domain = domain_of(&rp);
        id.return_path = Some(rp);
    }
    if rps.len() > 1 {
        a.warn(
            "several_return_path",
            Severity::Info,
            None,
            msg!("warn-several-return-path", n = rps.len()),
        );
    }
    let froms: Vec<_> = headers.get("from").collect();
    match froms.as_slice() {
        [] => a.warn("no_from", Severity::Warning, None, msg!("warn-no-from")),
        [_, _, ..] => a.warn(
            "several_from",
            Severity::Warning,
            None,
            msg!("warn-several-from", n = froms.len()),
        ),
        [_] => {}
    }
    if let Some(f) = froms.first() {
        match parse_mailbox_list(f.value) {
            Ok(list) => {
                id.from = Some(
                    list.iter()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                // Decoded before the check below: an address hidden in an encoded word
                // is still an address shown to the reader.
                id.from_name = list
                    .first()
                    .and_then(|m| m.display_name.as_deref())
                    .map(|n| one_line(rfc2047::decode(n).as_bytes(), 400));
                if let (Some(name), Some(m)) = (&id.from_name, list.first())
                    && let Some(shown) = name
                        .split(|c: char| c.is_whitespace() || "<>()\"',;".contains(c))
                        .find(|w| w.contains('@') && w.contains('.'))
                    && !shown.eq_ignore_ascii_case(&m.to_string())
                {
                    a.warn(
                        "display_name_address",
                        Severity::Warning,
                        None,
                        msg!(
                            "warn-display-name-address",
                            shown = shown,
                            from = m.to_string()
                        ),
                    );
                }
            }
            Err(e) => {
                id.from = Some(one_line(f.value, 400));
                a.warn(
                    "bad_from",
                    Severity::Warning,
                    None,
                    msg!("warn-bad-from", error = e.to_string()),
                );
            }
        }
    }
    id.from_domain = monban::dmarc::author_domain(headers).ok();
    if let Some(f) = headers.get("sender").next() {
        let sender = match parse_mailbox_list(f.value) {
            Ok(list) => list
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => one_line(f.value, 400),
        };
        if sender.trim().is_empty() {
            // RFC 5322 §3.6.2: Sender holds one mailbox; an empty one names nobody.
            a.warn(
                "bad_sender",
                Severity::Warning,
                None,
                msg!("warn-empty-sender"),
            );
        } else if id
            .from
            .as_deref()
            .is_some_and(|from| !from.eq_ignore_ascii_case(&sender))
        {
            a.warn(
                "sender_differs",
                Severity::Info,
                None,
                msg!(
                    "warn-sender-differs",
                    sender = &sender,
                    from = id.from.as_deref().unwrap_or("")
                ),
            );
        }
        id.sender = Some(sender);
    }
    if let Some(f) = headers.get("reply-to").next() {
        id.reply_to = Some(match parse_mailbox_list(f.value) {
            Ok(list) => list
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => one_line(f.value, 400),
        });
    }
    if let (Some(f), Some(rp)) = (&id.from_domain, &id.return_path_domain) {
        let aligned = related_domains(f, rp);
        id.return_path_aligned = Some(aligned);
        if !aligned {
            a.warn(
                "return_path_unaligned",
                Severity::Info,
                None,
                msg!("warn-return-path-unaligned", rp = rp, from = f),
            );
        }
    }
    a.identities = id;
}

/// Whether a `Received` field's TCP-info names the client's reverse DNS name: `(name
/// [address])` says yes, `(unknown [address])` no (RFC 5321 §4.4 TCP-info, as Postfix
/// and Sendmail write it: the name is what iprev found).
fn reverse_name_known(detail: Option<&str>) -> Option<bool> {
    let detail = detail?.trim().trim_start_matches('(');
    let (name, rest) = detail.split_once(char::is_whitespace)?;
    if !rest.trim_start().starts_with('[') {
        return None;
    }
    Some(!name.eq_ignore_ascii_case("unknown"))
}

fn hops(a: &mut Analysis, fields: &[HeaderField<'_>]) {
    let received: Vec<&HeaderField<'_>> = fields.iter().filter(|f| f.is("received")).collect();
    a.received_count = received.len();
    if received.len() > MAX_RECEIVED {
        a.warn(
            "too_many_received",
            Severity::Warning,
            None,
            msg!(
                "warn-too-many-received",
                n = received.len(),
                max = MAX_RECEIVED
            ),
        );
    }
    // Newest first in the header; keep the newest MAX_RECEIVED, then turn around.
    let mut hops: Vec<Hop> = received
        .iter()
        .take(MAX_RECEIVED)
        .map(|f| {
            let r = received::parse(f.value);
            let (time, timestamp, date_error) = match &r.date {
                Some(Ok(d)) => (Some(d.to_iso8601()), Some(d.unix), None),
                Some(Err(e)) => (None, None, Some(e.to_string())),
                None => (None, None, None),
            };
            let reverse_name = reverse_name_known(r.from_detail.as_deref());
            Hop {
                number: 0,
                from: r.from,
                from_ip: r.from_ip.map(|ip| ip.to_string()),
                from_detail: r.from_detail,
                reverse_name,
                by: r.by,
                by_detail: r.by_detail,
                via: r.via,
                with: r.with,
                with_detail: r.with_detail,
                id: r.id,
                for_: r.for_,
                time,
                timestamp,
                date_text: r.date_text,
                date_error,
                delay_seconds: None,
            }
        })
        .collect();
    hops.reverse();
    let date = a.date.as_ref().and_then(|d| d.timestamp);
    let mut previous: Option<(i64, Msg)> = date.map(|t| (t, msg!("what-date-field")));
    let origin = date.or_else(|| hops.iter().find_map(|h| h.timestamp));
    let mut last = None;
    let mut warnings = Vec::new();
    for (i, h) in hops.iter_mut().enumerate() {
        h.number = i + 1;
        let name = hop_name(h);
        if h.reverse_name == Some(false) {
            warnings.push((
                "no_reverse_name",
                Severity::Info,
                h.number,
                msg!(
                    "warn-no-reverse-name",
                    hop = hop_msg(h.number, &name),
                    ip = h.from_ip.clone().unwrap_or_else(|| "?".into())
                ),
            ));
        }
        match (&h.date_text, &h.date_error) {
            (None, _) => warnings.push((
                "received_no_date",
                Severity::Warning,
                h.number,
                msg!("warn-received-no-date", hop = hop_msg(h.number, &name)),
            )),
            (Some(t), Some(e)) => warnings.push((
                "received_bad_date",
                Severity::Warning,
                h.number,
                msg!(
                    "warn-received-bad-date",
                    hop = hop_msg(h.number, &name),
                    date = format!("{t:?}"),
                    error = e
                ),
            )),
            _ => {}
        }
        let Some(t) = h.timestamp else {
            continue;
        };
        if let Some((p, what)) = &previous {
            let delay = t - p;
            h.delay_seconds = Some(delay);
            let words = crate::i18n::duration(delay.abs());
            if delay < -SKEW_TOLERANCE {
                warnings.push((
                    "out_of_order",
                    Severity::Warning,
                    h.number,
                    msg!(
                        "warn-out-of-order",
                        hop = hop_msg(h.number, &name),
                        delay = words,
                        what = what.clone()
                    ),
                ));
            } else if delay < 0 {
                warnings.push((
                    "clock_skew",
                    Severity::Warning,
                    h.number,
                    msg!(
                        "warn-clock-skew",
                        hop = hop_msg(h.number, &name),
                        delay = words,
                        what = what.clone()
                    ),
                ));
            } else if delay > SLOW_HOP {
                warnings.push((
                    "slow_hop",
                    Severity::Info,
                    h.number,
                    msg!(
                        "warn-slow-hop",
                        hop = hop_msg(h.number, &name),
                        delay = words,
                        what = what.clone()
                    ),
                ));
            }
        }
        previous = Some((t, hop_msg(h.number, &name)));
        last = Some(t);
    }
    for (kind, severity, hop, msg) in warnings {
        a.warn(kind, severity, Some(hop), msg);
    }
    a.total_delay_seconds = match (origin, last) {
        (Some(o), Some(l)) if !hops.is_empty() => Some(l - o),
        _ => None,
    };
    a.hops = hops;
}

/// Splits at `;` outside comments and quoted strings (at most 256 clauses and the
/// rest).
fn split_clauses(s: &str) -> Vec<&str> {
    monban::rfc5322::split_outside(s, b';', 257)
}

/// Reads a results field leniently: `id; method=result key=value ...; ...`, for the
/// many fields that stray from RFC 8601 (`action=none`, `compauth=...`).
fn lenient_results(value: &str) -> (Option<String>, Vec<MethodResult>) {
    let clauses = split_clauses(value);
    let (_, head) = take_comments(clauses.first().copied().unwrap_or(""));
    let first = head.split_whitespace().next().unwrap_or("");
    // Some writers (Microsoft's) leave out the authserv-id: the first clause is then
    // already a result.
    let (id, skip) = if first.contains('=') {
        (None, 0)
    } else {
        (
            (!first.is_empty()).then(|| first.trim_matches('"').to_owned()),
            1,
        )
    };
    let mut results = Vec::new();
    // One more than kept, so the caller can tell the field had more.
    for clause in clauses.iter().skip(skip).take(MAX_RESULT_FIELDS + 1) {
        let (comment, text) = take_comments(clause);
        // "method = result" may be written with spaces around '='.
        let text = text.replace(" =", "=").replace("= ", "=");
        let mut words = text.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let mut reason = None;
        let mut properties = Pairs::default();
        for w in words.take(64) {
            if let Some((k, v)) = w.split_once('=') {
                let v = v.trim_matches('"');
                if k.eq_ignore_ascii_case("reason") {
                    reason = Some(v.to_owned());
                } else {
                    properties.push(k.to_ascii_lowercase(), v);
                }
            }
        }
        results.push(MethodResult::new(
            method.to_ascii_lowercase(),
            result.trim_matches('"').to_ascii_lowercase(),
            reason,
            comment,
            properties,
        ));
    }
    (id, results)
}

fn results_field(position: usize, value: &[u8], instance: Option<u32>) -> ResultsField {
    match AuthenticationResults::parse(value) {
        Ok(ar) => ResultsField {
            position,
            instance,
            authserv_id: Some(ar.authserv_id),
            results: ar
                .results
                .into_iter()
                .map(|r| {
                    let mut properties = Pairs::default();
                    for p in r.properties {
                        properties.push(format!("{}.{}", p.ptype, p.property), p.value);
                    }
                    MethodResult::new(r.method, r.result, r.reason, r.comment, properties)
                })
                .collect(),
            error: None,
            before_first_hop: false,
        },
        Err(e) => {
            let (authserv_id, results) = lenient_results(&String::from_utf8_lossy(value));
            ResultsField {
                position,
                instance,
                authserv_id,
                results,
                error: Some(e.to_string()),
                before_first_hop: false,
            }
        }
    }
}

fn received_spf(position: usize, value: &[u8]) -> ReceivedSpf {
    let text = String::from_utf8_lossy(value);
    let trimmed = text.trim_start();
    let result_len = trimmed
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(trimmed.len());
    let result = trimmed[..result_len].to_ascii_lowercase();
    let rest = &trimmed[result_len..];
    let (comment, pairs_text) = match rest.trim_start().strip_prefix('(') {
        // The comment right after the result.
        Some(_) => {
            let (c, without) = take_comments(rest);
            (c, without)
        }
        None => (None, rest.to_owned()),
    };
    let mut properties = Pairs::default();
    for clause in split_clauses(&pairs_text).into_iter().take(64) {
        if let Some((k, v)) = clause.split_once('=') {
            let k = k.trim().to_ascii_lowercase();
            if !k.is_empty() && !k.contains(char::is_whitespace) {
                properties.push(k, v.trim().trim_matches('"'));
            }
        }
    }
    let receiver = properties.get("receiver").map(str::to_owned).or_else(|| {
        comment.as_deref().and_then(|c| {
            let (who, _) = c.split_once(':')?;
            (!who.is_empty() && !who.contains(char::is_whitespace)).then(|| who.to_owned())
        })
    });
    ReceivedSpf {
        position,
        result,
        receiver,
        comment,
        properties,
    }
}

/// Whether an authserv-id plausibly names the host `by` or its operator: the same
/// name, a parent or subdomain, or a sibling (`mx1.example.net`, `mx2.example.net`).
fn same_operator(id: &str, by: &str) -> bool {
    let parent = |s: &str| {
        s.split_once('.')
            .map(|(_, p)| p.to_ascii_lowercase())
            .filter(|p| p.contains('.'))
    };
    related_domains(id, by) || parent(id).is_some_and(|p| parent(by) == Some(p))
}

/// The host whose Received field sits right above an Authentication-Results field of
/// `id` (at field index `at`), when that host is not `id`'s and a Received field of
/// `id`'s host stands higher up: the field was in the message when that other host got
/// it, before `id`'s host did, so `id`'s host did not write it (a sender or a relay
/// can write any authserv-id). `received` holds each Received field's index and `by`,
/// newest first. `None` when the field sits right under a Received field of `id`'s
/// host (where a receiver puts its own), or `id`'s host wrote no Received field.
fn written_before(id: &str, at: usize, received: &[(usize, Option<String>)]) -> Option<String> {
    let is_ids = |by: &Option<String>| by.as_deref().is_some_and(|b| same_operator(id, b));
    let above = received.iter().rposition(|(i, _)| *i < at)?;
    let (_, by) = &received[above];
    if is_ids(by) || !received[..above].iter().any(|(_, b)| is_ids(b)) {
        return None;
    }
    Some(by.clone().unwrap_or_else(|| "?".to_owned()))
}

/// Keeps the first [`MAX_RESULT_FIELDS`] results of a field, with a warning when it had
/// more (never a silent cut).
fn bound_results(a: &mut Analysis, r: &mut ResultsField, field: &str) {
    if r.results.len() > MAX_RESULT_FIELDS {
        r.results.truncate(MAX_RESULT_FIELDS);
        a.warn(
            "too_many_results",
            Severity::Warning,
            None,
            msg!(
                "warn-too-many-results",
                field = field,
                position = r.position,
                max = MAX_RESULT_FIELDS
            ),
        );
    }
}

fn results(a: &mut Analysis, fields: &[HeaderField<'_>]) {
    let oldest_received = fields.iter().rposition(|f| f.is("received"));
    // Where each Received field is and who wrote it (`by`), newest first: as many as
    // the hops read.
    let received_by: Vec<(usize, Option<String>)> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is("received"))
        .take(MAX_RECEIVED)
        .map(|(i, f)| (i, received::parse(f.value).by))
        .collect();
    for (name, lower) in [
        ("Authentication-Results", "authentication-results"),
        ("ARC-Authentication-Results", "arc-authentication-results"),
        ("Received-SPF", "received-spf"),
    ] {
        let n = fields.iter().filter(|f| f.is(lower)).count();
        if n > MAX_RESULT_FIELDS {
            a.warn(
                "too_many_result_fields",
                Severity::Warning,
                None,
                msg!(
                    "warn-too-many-result-fields",
                    n = n,
                    field = name,
                    max = MAX_RESULT_FIELDS
                ),
            );
        }
    }
    for (i, f) in fields.iter().enumerate() {
        let position = i + 1;
        if f.is("authentication-results") {
            if a.authentication_results.len() >= MAX_RESULT_FIELDS {
                continue;
            }
            let r = results_field(position, f.value, None);
            if let Some(e) = &r.error {
                a.warn(
                    "unparseable_results",
                    Severity::Info,
                    None,
                    match r.authserv_id.as_deref() {
                        Some(id) => msg!("warn-unparseable-results", id = id, error = e),
                        None => msg!("warn-unparseable-results-unnamed", error = e),
                    },
                );
            }
            // Below every Received field: either the first hop's receiver wrote it
            // under its own Received field (Postfix milters do), or the sender did.
            let first_by = a.hops.first().and_then(|h| h.by.as_deref());
            let first_hop_wrote = match (r.authserv_id.as_deref(), first_by) {
                (Some(id), Some(by)) => same_operator(id, by),
                _ => false,
            };
            let mut r = r;
            bound_results(a, &mut r, "Authentication-Results");
            if oldest_received.is_some_and(|o| i > o) && !first_hop_wrote {
                r.before_first_hop = true;
                a.warn(
                    "results_before_first_hop",
                    Severity::Warning,
                    None,
                    msg!(
                        "warn-results-before-first-hop",
                        id = r.authserv_id.as_deref().unwrap_or("?")
                    ),
                );
            } else if let Some(id) = r.authserv_id.as_deref()
                && let Some(other) = written_before(id, i, &received_by)
            {
                // RFC 8601 §5: a receiver removes fields that claim its authserv-id
                // and did not come from inside its trust boundary; one that survived
                // below another host's Received field was there before that host.
                r.before_first_hop = true;
                a.warn(
                    "results_below_other_hop",
                    Severity::Warning,
                    None,
                    msg!(
                        "warn-results-below-other-hop",
                        id = id,
                        position = position,
                        by = other
                    ),
                );
            }
            a.authentication_results.push(r);
        } else if f.is("arc-authentication-results") {
            if a.arc_authentication_results.len() >= MAX_RESULT_FIELDS {
                continue;
            }
            // "i=N;" precedes the authserv-id (RFC 8617 §4.1.1).
            let text = String::from_utf8_lossy(f.value);
            let (instance, rest) = match text.split_once(';') {
                Some((head, rest)) if head.trim().starts_with("i=") => {
                    (head.trim()[2..].trim().parse().ok(), rest.to_owned())
                }
                _ => (None, text.into_owned()),
            };
            let mut r = results_field(position, rest.as_bytes(), instance);
            bound_results(a, &mut r, "ARC-Authentication-Results");
            a.arc_authentication_results.push(r);
        } else if f.is("received-spf") {
            if a.received_spf.len() >= MAX_RESULT_FIELDS {
                continue;
            }
            a.received_spf.push(received_spf(position, f.value));
        }
    }
}

fn signatures(
    a: &mut Analysis,
    headers: &Headers,
    fields: &[HeaderField<'_>],
    body: Option<&[u8]>,
) {
    let from_domain = a.identities.from_domain.clone();
    let total = fields.iter().filter(|f| f.is("dkim-signature")).count();
    if total > MAX_SIGNATURES {
        a.warn(
            "too_many_signatures",
            Severity::Warning,
            None,
            msg!("warn-too-many-signatures", n = total, max = MAX_SIGNATURES),
        );
    }
    if body.is_some() && total.min(MAX_SIGNATURES) > MAX_DIAGNOSED {
        a.warn(
            "signatures_not_diagnosed",
            Severity::Info,
            None,
            msg!("warn-signatures-not-diagnosed", max = MAX_DIAGNOSED),
        );
    }
    for (n, (i, f)) in fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is("dkim-signature"))
        .take(MAX_SIGNATURES)
        .enumerate()
    {
        let (pairs, list_error) = tag_pairs(f.value);
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let d = get("d").map(|d| d.to_ascii_lowercase());
        let signer = match (&d, &from_domain) {
            (Some(d), Some(f)) if related_domains(d, f) => Signer::Author,
            _ => Signer::ThirdParty,
        };
        let error = match DkimSignature::parse(f.value) {
            Ok(_) => None,
            Err(e) => Some(list_error.unwrap_or_else(|| e.to_string())),
        };
        let diagnosis = body
            .filter(|_| n < MAX_DIAGNOSED && error.is_none())
            .map(|b| diagnose::diagnose(headers, b, n, None));
        a.dkim_signatures.push(SignatureInfo {
            number: n + 1,
            position: i + 1,
            s: get("s").map(|s| s.to_ascii_lowercase()),
            a: get("a").map(|s| s.to_ascii_lowercase()),
            d,
            signer,
            explanations: explain(&pairs, headers, from_domain.as_deref()),
            tags: Pairs(pairs),
            error,
            diagnosis,
        });
    }
}

/// Whether an address is one a public relay would have (not private, loopback,
/// link-local).
fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        // How a dual-stack socket records an IPv4 client (`[IPv6:::ffff:10.0.0.5]`).
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => v6
            .to_ipv4_mapped()
            .is_some_and(|v4| is_public(&IpAddr::V4(v4))),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The organizational domain of a host name (the bundled public suffix list), or the
/// name itself when it has none.
fn org_of(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    monban::dmarc::PublicSuffixList::bundled_shared()
        .registrable_domain(&name)
        .unwrap_or(name)
}

/// Whether a hop is a relay inside the organization `org`: the client named itself in
/// `org`, and the receiving host either wrote no name of its own for the client or
/// one in `org` (not `unknown`: a client's HELO is its own word, the reverse DNS name
/// the host found is not).
fn internal_hop(h: &Hop, org: &str) -> bool {
    let named_in =
        |n: &str| !n.starts_with('[') && n.parse::<IpAddr>().is_err() && org_of(n) == org;
    let helo_in_org = h.from.as_deref().is_some_and(named_in);
    let found_name = h.from_detail.as_deref().and_then(|d| {
        d.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .find(|w| !w.is_empty())
            .filter(|w| !w.starts_with('[') && w.parse::<IpAddr>().is_err())
    });
    helo_in_org && found_name.is_none_or(named_in)
}

impl Analysis {
    /// Whether the Received fields confirm a Received-SPF field's `client-ip`: it is
    /// the address of the newest hop from a public address (the last receiver's record
    /// of who connected, which a sender cannot write above), or of a hop received by a
    /// host of the field's receiver whose newer hops are all relays inside that
    /// receiver's organization (Microsoft's stamps: internal hops between public IPv6
    /// addresses above the one the field describes).
    fn confirms_received_spf(&self, r: &ReceivedSpf, ip: IpAddr) -> bool {
        let public = |h: &Hop| {
            h.from_ip
                .as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .filter(is_public)
        };
        let Some(newest) = self.hops.iter().rev().find_map(public) else {
            // No public hop recorded: nothing to hold the field against.
            return true;
        };
        if newest == ip {
            return true;
        }
        // The organization that received the message last: the newest stamp's `by`,
        // which that host wrote itself (the field's `receiver=` is the sender's to
        // write when the field is forged). The field must name it.
        let Some(org) = self.hops.last().and_then(|h| h.by.as_deref()).map(org_of) else {
            return false;
        };
        if r.receiver.as_deref().map(org_of).as_deref() != Some(org.as_str()) {
            return false;
        }
        // Newest first: every hop newer than the one of `ip` must be a relay inside
        // that organization; the one of `ip` received by one of its hosts.
        for h in self.hops.iter().rev() {
            if public(h) == Some(ip) {
                return h.by.as_deref().is_some_and(|b| org_of(b) == org);
            }
            if public(h).is_some() && !internal_hop(h, &org) {
                return false;
            }
        }
        false
    }

    /// The SMTP envelope of the last public hop, as the header records it, for
    /// re-running SPF: the top `Received-SPF` with a `client-ip`, else the newest hop
    /// from a public address with the Return-Path. Returns it with where it came from.
    pub fn derived_envelope(&self) -> (monban::pipeline::Envelope, String) {
        let (envelope, source) = self.derived_envelope_msg();
        (envelope, source.text(crate::i18n::Lang::En))
    }

    /// [`Analysis::derived_envelope`], with where it came from as a message to word in
    /// the reader's language.
    pub fn derived_envelope_msg(&self) -> (monban::pipeline::Envelope, crate::i18n::Msg) {
        use monban::pipeline::Envelope;
        let receiver_of = |r: &ReceivedSpf| match r.receiver.as_deref() {
            Some(name) => (name.to_owned(), "yes"),
            None => (String::new(), "no"),
        };
        let rp = self.identities.return_path.clone();
        // The newest hop from a public address: the receiving host's record of who
        // connected to it, written by that host (a sender can add fields below it,
        // never above).
        let newest_public = self.hops.iter().rev().find_map(|h| {
            let ip = h.from_ip.as_deref()?.parse::<IpAddr>().ok()?;
            is_public(&ip).then_some((h, ip))
        });
        // The topmost Received-SPF field that names a client: a receiver's own, when
        // the last receiver wrote one, is above any a sender wrote into the message.
        // It is used only when the header confirms it (`confirms_received_spf`): a
        // sender can write one (`client-ip=` an address its spoofed domain allows)
        // under a receiver that writes none.
        let mut passed_over = None;
        if let Some((r, ip)) = self.received_spf.iter().find_map(|r| {
            let ip = r.properties.get("client-ip")?.parse::<IpAddr>().ok()?;
            Some((r, ip))
        }) {
            if self.confirms_received_spf(r, ip) {
                let helo = r.properties.get("helo").map(str::to_owned);
                let mail_from = r
                    .properties
                    .get("envelope-from")
                    .map(|m| m.trim_matches(['<', '>']).to_owned())
                    .or_else(|| rp.clone())
                    .filter(|m| !m.is_empty() || helo.is_some());
                return (
                    Envelope {
                        ip: Some(ip),
                        helo,
                        mail_from,
                        rcpt_to: Vec::new(),
                    },
                    {
                        let (receiver, named) = receiver_of(r);
                        crate::msg!(
                            "envelope-from-received-spf",
                            receiver = receiver,
                            named = named
                        )
                    },
                );
            }
            passed_over = Some((receiver_of(r), ip));
        }
        if let Some((h, ip)) = newest_public {
            // The HELO name: Exim and qmail write it in the TCP-info, others as the
            // from value; an address literal is no name.
            let helo = h
                .from_detail
                .as_deref()
                .and_then(received::helo_in_detail)
                .map(str::to_owned)
                .or_else(|| h.from.clone())
                .filter(|f| !f.starts_with('[') && f.parse::<IpAddr>().is_err());
            let mail_from = rp.clone().filter(|m| !m.is_empty() || helo.is_some());
            return (
                Envelope {
                    ip: Some(ip),
                    helo,
                    mail_from,
                    rcpt_to: Vec::new(),
                },
                match passed_over {
                    None => crate::msg!("envelope-from-hop", hop = h.number, by = hop_name(h)),
                    Some(((receiver, named), ip)) => crate::msg!(
                        "envelope-from-hop-past-received-spf",
                        hop = h.number,
                        by = hop_name(h),
                        receiver = receiver,
                        named = named,
                        ip = ip.to_string()
                    ),
                },
            );
        }
        (Envelope::default(), crate::msg!("envelope-none"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(header: &str) -> Analysis {
        let h = Headers::parse(header.as_bytes()).unwrap();
        analyze(&h, None)
    }

    /// Every bound of the analyzer is said in a warning: result fields and results past
    /// 100, signatures past 50 (explained) and past 10 (diagnosed).
    #[test]
    fn analyzer_bounds_are_warned_not_silent() {
        let kinds = |a: &Analysis| a.warnings.iter().map(|w| w.kind).collect::<Vec<_>>();
        let mut h = String::new();
        for _ in 0..MAX_RESULT_FIELDS {
            h.push_str("Authentication-Results: mx.example.net; spf=pass\r\n");
        }
        let a = run(&h);
        assert_eq!(a.authentication_results.len(), MAX_RESULT_FIELDS);
        assert!(!kinds(&a).contains(&"too_many_result_fields"));
        h.push_str("Received-SPF: pass\r\nAuthentication-Results: mx.example.net; spf=fail\r\n");
        let a = run(&h);
        assert_eq!(a.authentication_results.len(), MAX_RESULT_FIELDS);
        assert!(
            kinds(&a).contains(&"too_many_result_fields"),
            "{:?}",
            kinds(&a)
        );
        // Results in one field: 100 kept silently, 101 (read strictly or leniently) said.
        for (n, broken) in [(100, ""), (101, ""), (101, " (")] {
            let mut f = String::from("Authentication-Results: mx.example.net");
            for _ in 0..n {
                f.push_str("; spf=pass");
            }
            f.push_str(broken);
            f.push_str("\r\n");
            let a = run(&f);
            assert_eq!(
                a.authentication_results[0].results.len(),
                100,
                "{n}{broken}"
            );
            assert_eq!(
                kinds(&a).contains(&"too_many_results"),
                n > 100,
                "{n}{broken}: {:?}",
                kinds(&a)
            );
        }
        // Signatures: with a body, the ones past 10 are explained, not diagnosed.
        let sig = "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n";
        for (n, said) in [(MAX_DIAGNOSED, false), (MAX_DIAGNOSED + 1, true)] {
            let text = format!("{}From: a@example.com\r\n", sig.repeat(n));
            let h = Headers::parse(text.as_bytes()).unwrap();
            let a = analyze(&h, Some(b"\r\n"));
            assert_eq!(kinds(&a).contains(&"signatures_not_diagnosed"), said, "{n}");
            let diagnosed = a.dkim_signatures.iter().filter(|s| s.diagnosis.is_some());
            assert_eq!(diagnosed.count(), MAX_DIAGNOSED.min(n));
        }
    }

    /// 50 DKIM-Signature fields are all explained; at 51 the first 50 are, and a
    /// warning says how many there were.
    #[test]
    fn signatures_explained_up_to_max_signatures() {
        let sig = |i: usize| {
            format!(
                "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s{i}; h=from; bh=AAAA; b=AAAA\r\n"
            )
        };
        for n in [MAX_SIGNATURES, MAX_SIGNATURES + 1] {
            let text: String = (0..n).map(sig).collect::<String>() + "From: a@example.com\r\n";
            let a = run(&text);
            assert_eq!(a.dkim_signatures.len(), MAX_SIGNATURES, "{n}");
            assert_eq!(
                a.dkim_signatures.last().and_then(|s| s.s.clone()),
                Some(format!("s{}", MAX_SIGNATURES - 1)),
                "the first ones, in header order"
            );
            let warned: Vec<_> = a
                .warnings
                .iter()
                .filter(|w| w.kind == "too_many_signatures")
                .collect();
            assert_eq!(warned.len(), usize::from(n > MAX_SIGNATURES), "{n}");
            if let Some(w) = warned.first() {
                assert!(w.message.contains("51"), "{}", w.message);
            }
        }
    }

    #[test]
    fn encoded_words_are_decoded_and_still_checked() {
        // "ceo@bank.example" hidden in an encoded display name.
        let a = run(
            "From: =?UTF-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <x@attacker.example>\r\nSubject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\r\n",
        );
        assert_eq!(a.identities.from_name.as_deref(), Some("ceo@bank.example"));
        assert_eq!(a.subject.as_deref(), Some("日本語"));
        assert!(a.warnings.iter().any(|w| w.kind == "display_name_address"));
    }

    #[test]
    fn hops_oldest_first_with_delays() {
        let a = run(
            "Received: from b.example (b.example [192.0.2.2]) by c.example with ESMTPS id 3; Sun, 22 Nov 2026 10:00:05 +0900\r\nReceived: from a.example by b.example with SMTP id 2; Sun, 22 Nov 2026 01:00:02 +0000\r\nDate: Sun, 22 Nov 2026 10:00:00 +0900\r\nFrom: a@example.com\r\n",
        );
        assert_eq!(a.hops.len(), 2);
        assert_eq!(a.hops[0].by.as_deref(), Some("b.example"));
        assert_eq!(a.hops[0].delay_seconds, Some(2));
        assert_eq!(a.hops[1].delay_seconds, Some(3));
        assert_eq!(a.hops[1].time.as_deref(), Some("2026-11-22T10:00:05+09:00"));
        assert_eq!(a.total_delay_seconds, Some(5));
        assert!(
            a.warnings.iter().all(|w| w.severity == Severity::Info),
            "{:?}",
            a.warnings
        );
    }

    #[test]
    fn skew_and_out_of_order() {
        let a = run(
            "Received: by c.example; Sun, 22 Nov 2026 03:00:00 +0000\r\nReceived: by b.example; Sun, 22 Nov 2026 05:00:00 +0000\r\nReceived: by a.example; Sun, 22 Nov 2026 05:00:30 +0000\r\n",
        );
        assert_eq!(a.hops[1].delay_seconds, Some(-30));
        assert_eq!(a.hops[2].delay_seconds, Some(-7200));
        let kinds: Vec<_> = a.warnings.iter().map(|w| (w.kind, w.hop)).collect();
        assert!(kinds.contains(&("clock_skew", Some(2))), "{kinds:?}");
        assert!(kinds.contains(&("out_of_order", Some(3))), "{kinds:?}");
        assert_eq!(a.total_delay_seconds, Some(-7230));
    }

    #[test]
    fn results_fields_and_who_wrote_them() {
        let a = run(
            "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=a@example.com; dkim=pass header.d=example.com\r\nARC-Authentication-Results: i=2; lists.example.org; dmarc=pass header.from=example.com\r\nAuthentication-Results: mx.microsoft.example; dkim=pass (signature was verified) header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100\r\nReceived-SPF: pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;\r\nReceived-SPF: softfail (mybox.example.org: domain of transitioning a@example.com does not designate 192.0.2.2 as permitted sender) receiver=mybox.example.org; client-ip=192.0.2.2; envelope-from=\"a@example.com\"; helo=foo.example.com;\r\n",
        );
        assert_eq!(a.authentication_results.len(), 2);
        let ar = &a.authentication_results[0];
        assert_eq!(ar.authserv_id.as_deref(), Some("mx.example.net"));
        assert_eq!(
            ar.results[1].properties.get("header.d"),
            Some("example.com")
        );
        let ms = &a.authentication_results[1];
        assert!(ms.error.is_some());
        assert_eq!(ms.authserv_id.as_deref(), Some("mx.microsoft.example"));
        assert_eq!(ms.results.len(), 3);
        assert_eq!(
            ms.results[0].comment.as_deref(),
            Some("signature was verified")
        );
        assert_eq!(ms.results[2].reason.as_deref(), Some("100"));
        let arc = &a.arc_authentication_results[0];
        assert_eq!(arc.instance, Some(2));
        assert_eq!(arc.authserv_id.as_deref(), Some("lists.example.org"));
        assert_eq!(a.received_spf[0].receiver.as_deref(), Some("google.com"));
        assert_eq!(
            a.received_spf[0].properties.get("client-ip"),
            Some("192.0.2.1")
        );
        assert_eq!(
            a.received_spf[1].receiver.as_deref(),
            Some("mybox.example.org")
        );
        assert_eq!(
            a.received_spf[1].properties.get("envelope-from"),
            Some("a@example.com")
        );
        let (env, from) = a.derived_envelope();
        assert_eq!(env.ip, Some("192.0.2.1".parse().unwrap()));
        assert!(from.contains("google.com"));
    }

    /// The envelope SPF is checked again with: a Received-SPF field the sender wrote
    /// (its client-ip one its spoofed domain allows) is not believed over the address
    /// the receiving host recorded; one that agrees is used; with no Received-SPF, the
    /// hop's address and its HELO name (where the stamp keeps it) are.
    #[test]
    fn rfc7208_9_1_a_received_spf_must_name_the_recorded_client() {
        let stamp = "Received: from [192.0.2.25] (unknown [198.51.100.66]) by mx.test (Postfix) with ESMTP id 1; Sun, 22 Nov 2026 10:00:02 +0000\r\n";
        let forged = run(&format!(
            "{stamp}Received-SPF: Pass (mx.test: domain of a@bank.example designates 192.0.2.25 as permitted sender) client-ip=192.0.2.25; envelope-from=a@bank.example; receiver=mx.test\r\nReturn-Path: <a@bank.example>\r\nFrom: a@bank.example\r\n"
        ));
        let (env, from) = forged.derived_envelope();
        assert_eq!(env.ip, Some("198.51.100.66".parse().unwrap()));
        assert_eq!(env.helo, None, "an address literal is no HELO name");
        assert!(
            from.contains("hop 1") && from.contains("not used"),
            "{from}"
        );
        let agreeing = run(&format!(
            "Received-SPF: Pass (mx.test: ...) client-ip=198.51.100.66; envelope-from=a@other.example; helo=mail.other.example; receiver=mx.test\r\n{stamp}From: a@bank.example\r\n"
        ));
        let (env, from) = agreeing.derived_envelope();
        assert_eq!(env.ip, Some("198.51.100.66".parse().unwrap()));
        assert_eq!(env.mail_from.as_deref(), Some("a@other.example"));
        assert!(from.contains("Received-SPF"), "{from}");
        // A forged Received under it to match, and a HELO in the receiver's domain:
        // the receiver found no such name for the client ("unknown").
        let matched = run(
            "Received: from relay.mx.test (unknown [198.51.100.66]) by mx.test (Postfix) with ESMTP id 1; Sun, 22 Nov 2026 10:00:02 +0000\r\nReceived-SPF: Pass (mx.test: ...) client-ip=192.0.2.25; envelope-from=a@bank.example; receiver=mx.test\r\nReceived: from mail.bank.example (mail.bank.example [192.0.2.25]) by mx.test (Postfix) with ESMTP id 0; Sun, 22 Nov 2026 10:00:00 +0000\r\nFrom: a@bank.example\r\n",
        );
        let (env, from) = matched.derived_envelope();
        assert_eq!(env.ip, Some("198.51.100.66".parse().unwrap()), "{from}");
        // The same with a receiver of the sender's own naming, its HELO in that
        // domain, and a stamp without a reverse DNS name (Gmail's, Microsoft's form).
        let own_receiver = run(
            "Received: from relay.evil.example ([198.51.100.66]) by mx.test with ESMTPS id 1; Sun, 22 Nov 2026 10:00:02 +0000\r\nReceived-SPF: Pass (mx.evil.example: ...) client-ip=192.0.2.25; envelope-from=a@bank.example; receiver=mx.evil.example\r\nReceived: from mail.bank.example (mail.bank.example [192.0.2.25]) by mx.evil.example with ESMTP id 0; Sun, 22 Nov 2026 10:00:00 +0000\r\nFrom: a@bank.example\r\n",
        );
        let (env, from) = own_receiver.derived_envelope();
        assert_eq!(env.ip, Some("198.51.100.66".parse().unwrap()), "{from}");
        let exim = run(
            "Received: from host.example ([198.51.100.66] helo=mail.other.example) by mx.test with esmtp (Exim 4.96) id 1; Sun, 22 Nov 2026 10:00:02 +0000\r\nReturn-Path: <a@other.example>\r\nFrom: a@bank.example\r\n",
        );
        let (env, _) = exim.derived_envelope();
        assert_eq!(env.ip, Some("198.51.100.66".parse().unwrap()));
        assert_eq!(env.helo.as_deref(), Some("mail.other.example"));
    }

    #[test]
    fn results_below_every_hop() {
        // The first receiver's own field under its Received (as Postfix milters add
        // it): fine. A field naming someone else: the sender's.
        let ok = run(
            "Received: from a.example by mx1.example.net; Sun, 22 Nov 2026 01:00:00 +0000\r\nAuthentication-Results: mx2.example.net; spf=pass smtp.mailfrom=a@a.example\r\nFrom: a@a.example\r\n",
        );
        assert!(
            !ok.warnings
                .iter()
                .any(|w| w.kind == "results_before_first_hop")
        );
        let forged = run(
            "Received: from a.example by mx1.example.net; Sun, 22 Nov 2026 01:00:00 +0000\r\nAuthentication-Results: mx.google.com; dkim=pass header.d=bank.example\r\nFrom: a@a.example\r\n",
        );
        assert!(
            forged
                .warnings
                .iter()
                .any(|w| w.kind == "results_before_first_hop")
        );
        assert!(!same_operator("example.com", "mx.example.net"));
    }

    /// An internal hop that a dual-stack socket recorded as an IPv4-mapped IPv6
    /// address (`[IPv6:::ffff:10.0.0.5]`) is internal like `10.0.0.5` (a trial's was
    /// taken for the SMTP client: spf=softfail, iprev=permerror).
    #[test]
    fn mapped_addresses_are_judged_as_their_ipv4_address() {
        for (ip, public) in [
            ("::ffff:10.0.0.5", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:192.168.1.1", false),
            ("::ffff:192.0.2.25", true),
            ("10.0.0.5", false),
            ("2001:db8::1", true),
            ("fe80::1", false),
        ] {
            assert_eq!(is_public(&ip.parse().unwrap()), public, "{ip}");
        }
    }

    /// RFC 8601 §5: a field claiming the receiver's authserv-id under the Received
    /// field of a relay that got the message before that receiver was in the message
    /// already (a trial's forged `mx.example.net; spf=pass; dkim=pass; dmarc=pass`
    /// under one fake Received was explained as "it passed"). Right under the
    /// receiver's own Received field, or with a later hop of the receiver's own above
    /// (an after-queue filter re-injecting), it is the receiver's.
    #[test]
    fn results_below_another_host_s_received_were_not_written_by_their_authserv_id() {
        let kinds = |a: &Analysis| a.warnings.iter().map(|w| w.kind).collect::<Vec<_>>();
        let ours = "Received: from relay.example.org (relay.example.org [192.0.2.150]) by mx.example.net with ESMTP id 1; Fri, 04 Dec 2026 13:00:05 +0000\r\n";
        let relay = "Received: from mail.attacker.example (mail.attacker.example [203.0.113.66]) by relay.example.org with ESMTP id 2; Fri, 04 Dec 2026 13:00:03 +0000\r\n";
        let origin = "Received: from localhost (localhost [127.0.0.1]) by mail.attacker.example with ESMTP id 3; Fri, 04 Dec 2026 13:00:00 +0000\r\n";
        let ar = "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=ceo@example.com; dkim=pass header.d=example.com\r\n";
        let from = "From: ceo@example.com\r\n";
        let forged = run(&format!("{ours}{relay}{ar}{origin}{from}"));
        assert!(
            kinds(&forged).contains(&"results_below_other_hop"),
            "{:?}",
            forged.warnings
        );
        assert!(forged.authentication_results[0].before_first_hop);
        let warned = forged
            .warnings
            .iter()
            .find(|w| w.kind == "results_below_other_hop")
            .map(|w| w.message.as_str());
        assert!(
            warned.is_some_and(|t| t.contains("relay.example.org")),
            "{warned:?}"
        );
        for legit in [
            format!("{ours}{ar}{relay}{origin}{from}"),
            format!("{ar}{ours}{relay}{origin}{from}"),
            // A filter on the receiver's host re-injected the message: its own hop
            // above the field, the receiver's first one right above it.
            format!(
                "Received: from localhost (localhost [127.0.0.1]) by mx.example.net with ESMTP id 9; Fri, 04 Dec 2026 13:00:06 +0000\r\nReceived: from localhost by amavis.internal; Fri, 04 Dec 2026 13:00:06 +0000\r\n{ours}{ar}{relay}{origin}{from}"
            ),
            // Another receiver's field under the relay: not about mx.example.net.
            format!(
                "{ours}{relay}Authentication-Results: relay.example.org; spf=pass smtp.mailfrom=ceo@example.com\r\n{origin}{from}"
            ),
        ] {
            let a = run(&legit);
            assert!(
                !kinds(&a).contains(&"results_below_other_hop"),
                "{legit}: {:?}",
                a.warnings
            );
        }
    }

    /// An empty Sender names nobody (a trial's gave "sent by  on behalf of ...").
    #[test]
    fn an_empty_sender_is_said_as_such() {
        let a = run("From: a@example.com\r\nSender: \r\n");
        let kinds: Vec<&str> = a.warnings.iter().map(|w| w.kind).collect();
        assert!(
            kinds.contains(&"bad_sender") && !kinds.contains(&"sender_differs"),
            "{kinds:?}"
        );
    }

    #[test]
    fn identities_and_alignment() {
        let a = run(
            "Return-Path: <bounce@mailer.example.net>\r\nFrom: \"ceo@example.com\" <ceo@attacker.example>\r\nSender: list@example.org\r\nMessage-ID: nonsense\r\n",
        );
        let id = &a.identities;
        assert_eq!(id.return_path.as_deref(), Some("bounce@mailer.example.net"));
        assert_eq!(id.from.as_deref(), Some("ceo@attacker.example"));
        assert_eq!(id.sender.as_deref(), Some("list@example.org"));
        assert_eq!(id.return_path_aligned, Some(false));
        let kinds: Vec<_> = a.warnings.iter().map(|w| w.kind).collect();
        for k in [
            "display_name_address",
            "sender_differs",
            "return_path_unaligned",
            "bad_message_id",
            "no_date",
        ] {
            assert!(kinds.contains(&k), "{k} in {kinds:?}");
        }
        assert_eq!(return_path(b" <>"), "");
        assert_eq!(return_path(b" <@relay.example:a@b.example>"), "a@b.example");
    }
}
