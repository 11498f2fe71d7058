//! Reading received report mail and files into the store's form (issue 12).
//!
//! A mail is walked with [`monban::mime`]: a `message/feedback-report` part is a
//! failure report (RFC 6591), with the original message or header that comes with it;
//! attachments that hold gzip, zip, XML or JSON (whatever their declared type, since
//! reporters label them every which way) are extracted with the bounds of
//! [`crate::extract`] and read as aggregate (RFC 9990 / RFC 7489) or TLS (RFC 8460)
//! reports; Exim's text-only failure reports are read from their text. A report mail
//! forwarded as `message/rfc822` is looked into, [`MAX_FORWARDED`] levels deep. One
//! broken attachment does not lose the others: each problem is returned beside what was
//! read, and what is not read because of a bound is a problem too.

use monban::crypto::{HashAlgorithm, hash};
use monban::mime::{self, Part};
use monban::report::aggregate::{DkimAuth, Feedback, Reason, Record, SpfAuth};
use monban::report::arf::{self, FailureReport};
use monban::report::parse::parse_aggregate_str;
use monban::report::tlsrpt::{TlsReport, parse_tls_report};
use monban_store::{IncomingKind, IncomingRecord, IncomingReport, TlsPolicyRow};

use crate::extract::{Extracted, Format, Limits, extract_each};

/// The most messages (TLS: sessions) one report may count (sums over millions of
/// reports stay within the store's 64-bit integers); a report counting more is refused.
pub const MAX_REPORT_MESSAGES: u64 = 1_000_000_000_000;

/// Report mail forwarded as `message/rfc822` is looked into this many levels deep; a
/// copy deeper than that is a problem of the mail, not read.
pub const MAX_FORWARDED: usize = 2;

// A failure report's `Incidents` is stored as its messages, unclamped.
const _: () = assert!(arf::MAX_INCIDENTS <= MAX_REPORT_MESSAGES);

/// What one mail or file gave.
#[derive(Debug, Default)]
pub struct Found {
    /// The reports read.
    pub reports: Vec<IncomingReport>,
    /// What could not be read, each naming the part.
    pub errors: Vec<Problem>,
}

/// One thing that could not be read: where (file, message, part) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub source: String,
    /// Why.
    pub error: String,
    text: String,
}

impl Problem {
    /// A problem at `source`.
    pub fn new(source: impl Into<String>, error: impl Into<String>) -> Self {
        let (source, error) = (source.into(), error.into());
        let text = format!("{source}: {error}");
        Self {
            source,
            error,
            text,
        }
    }
}

/// The problem as one line, `source: error`.
impl std::ops::Deref for Problem {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Reads what a file holds: a mail (`.eml`), or a report in gzip, zip, XML or JSON.
pub fn from_file(bytes: &[u8], source: &str, limits: &Limits) -> Found {
    if looks_like_mail(bytes) {
        return from_mail(bytes, source, limits);
    }
    let mut found = Found::default();
    let mut budget = limits.max_output;
    documents(bytes, source, limits, &mut budget, &mut found);
    found
}

/// Whether the bytes start like a message header (a field name and a colon) rather
/// than a report document or an archive.
pub fn looks_like_mail(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or(b"");
    if first.starts_with(b"From ") {
        return true;
    }
    match memchr::memchr(b':', first) {
        Some(colon) if colon > 0 => first[..colon]
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b'<' && b != b'{'),
        _ => false,
    }
}

/// Reads the reports in one mail.
pub fn from_mail(mail: &[u8], source: &str, limits: &Limits) -> Found {
    let mut found = Found::default();
    // An mbox "From " line is not part of the message.
    let mail = match mail.strip_prefix(b"From ") {
        Some(rest) => match memchr::memchr(b'\n', rest) {
            Some(n) => &rest[n + 1..],
            None => rest,
        },
        None => mail,
    };
    // One output budget for the whole mail: a small mail with many attachments cannot
    // decompress to more than one report's bound.
    let mut budget = limits.max_output;
    walk_mail(mail, source, limits, 0, &mut budget, &mut found);
    if found.reports.is_empty() && found.errors.is_empty() {
        found.errors.push(Problem::new(
            source,
            "no DMARC or TLS report in this message",
        ));
    }
    found
}

fn walk_mail(
    mail: &[u8],
    source: &str,
    limits: &Limits,
    depth: usize,
    budget: &mut u64,
    found: &mut Found,
) {
    let parts = match mime::parts(mail) {
        Ok(p) => p,
        Err(e) => {
            found.errors.push(Problem::new(source, e.to_string()));
            return;
        }
    };
    let (header, _) = mime::split(mail);
    // The same bounds as the MIME walk above (which has already read this header).
    let fields = match mime::fields(header, mime::MAX_PART_FIELDS) {
        Ok(f) => f,
        Err(e) => {
            found.errors.push(Problem::new(source, e.to_string()));
            return;
        }
    };
    let max = limits.max_input as usize;
    let before = found.reports.len();
    // A failure report (ARF).
    if let Some(fb) = parts
        .iter()
        .find(|p| p.media_type == "message/feedback-report")
    {
        let original = parts.iter().find(|p| {
            matches!(
                p.media_type.as_str(),
                "message/rfc822" | "text/rfc822-headers" | "text/rfc822-header"
            )
        });
        let read = fb.decoded(max).map_err(|e| e.to_string()).and_then(|f| {
            // Never judged in part: a feedback part that runs to the end of the mail
            // (no close delimiter) may have been cut anywhere in its fields.
            if fb.cut {
                return Err(
                    "it is cut short: the multipart/report has no close delimiter after it"
                        .to_string(),
                );
            }
            let o = original
                .map(|o| o.decoded(max))
                .transpose()
                .map_err(|e| e.to_string())?;
            let r = arf::parse_feedback_report(&f, o.as_deref()).map_err(|e| e.to_string())?;
            // RFC 9991 §3: a DMARC failure report is of Feedback-Type auth-failure
            // (RFC 6591); abuse or fraud reports are something else.
            if r.feedback_type != "auth-failure" {
                return Err(format!(
                    "Feedback-Type {:?} is not a DMARC failure report (auth-failure)",
                    r.feedback_type.chars().take(80).collect::<String>()
                ));
            }
            Ok((r, f, o))
        });
        match read {
            Ok((r, f, o)) => {
                let mut report = failure(&r, &fields, &f, o.as_deref().unwrap_or(b""), source);
                match sanitize(&mut report) {
                    Ok(()) => found.reports.push(report),
                    Err(e) => found.errors.push(Problem::new(source, e)),
                }
            }
            Err(e) => found.errors.push(Problem::new(
                source,
                format!("the feedback report part: {e}"),
            )),
        }
    }
    let arf = parts
        .iter()
        .any(|p| p.media_type == "message/feedback-report");
    for (i, part) in parts.iter().enumerate() {
        // An ARF's text part is its note for people (RFC 5965 §2: the first part),
        // even when it starts with '<': not a report document to read.
        if !may_hold_report(part) || (arf && part.media_type.starts_with("text/plain")) {
            continue;
        }
        let where_ = format!(
            "{source}: part {} ({}{})",
            i + 1,
            part.media_type,
            part.filename
                .as_deref()
                .map(|n| format!(", {n:?}"))
                .unwrap_or_default()
        );
        let bytes = match part.decoded(max) {
            Ok(b) => b,
            Err(e) => {
                found.errors.push(Problem::new(&where_, e.to_string()));
                continue;
            }
        };
        // Text that is not a report (a cover note) is not an error.
        if part.media_type.starts_with("text/plain") && !starts_like_document(&bytes) {
            continue;
        }
        documents(&bytes, &where_, limits, budget, found);
    }
    if found.reports.len() > before {
        return;
    }
    // Exim: the failure report is the text.
    let subject = mime::field(&fields, "subject").unwrap_or("");
    if subject.to_ascii_lowercase().contains("dmarc")
        && let Some(text) = parts.iter().find(|p| p.media_type == "text/plain")
        && let Ok(body) = text.decoded(max)
    {
        match arf::parse_plain_text(&body) {
            Ok(r) => {
                let h = hash(HashAlgorithm::Sha256, &body);
                let mut report = failure_with_hash(&r, &fields, &body, &h, source);
                match sanitize(&mut report) {
                    Ok(()) => found.reports.push(report),
                    Err(e) => found.errors.push(Problem::new(source, e)),
                }
                return;
            }
            // Text that names no domain is not a failure report.
            Err(arf::ArfError::NoDomain) => {}
            Err(e) => {
                found.errors.push(Problem::new(
                    source,
                    format!("the failure report text: {e}"),
                ));
                return;
            }
        }
    }
    // A report mail forwarded as an attachment.
    for (i, part) in parts.iter().enumerate() {
        if part.media_type != "message/rfc822" {
            continue;
        }
        let where_ = format!("{source}: part {} (message/rfc822)", i + 1);
        if depth >= MAX_FORWARDED {
            found.errors.push(Problem::new(
                where_,
                format!("a forwarded message over {MAX_FORWARDED} levels deep; not read"),
            ));
            continue;
        }
        match part.decoded(max) {
            Ok(inner) => walk_mail(&inner, source, limits, depth + 1, budget, found),
            Err(e) => found.errors.push(Problem::new(where_, e.to_string())),
        }
    }
}

/// Whether a part can be a report: by type or name, or text that starts like one.
fn may_hold_report(part: &Part<'_>) -> bool {
    let t = part.media_type.as_str();
    let name = part.filename.as_deref().unwrap_or("").to_ascii_lowercase();
    if t.starts_with("multipart/") || t == "message/feedback-report" || t == "message/rfc822" {
        return false;
    }
    matches!(
        t,
        "application/gzip"
            | "application/x-gzip"
            | "application/zip"
            | "application/x-zip"
            | "application/x-zip-compressed"
            | "application/xml"
            | "text/xml"
            | "application/json"
            | "application/tlsrpt+json"
            | "application/tlsrpt+gzip"
            | "application/octet-stream"
    ) || [".xml", ".gz", ".zip", ".json", ".gzip"]
        .iter()
        .any(|e| name.ends_with(e))
        || t == "text/plain"
}

fn starts_like_document(b: &[u8]) -> bool {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let first = b.iter().find(|c| !c.is_ascii_whitespace());
    matches!(first, Some(b'<') | Some(b'{'))
}

/// Reads the report documents of one file or attachment (compressed or not; a zip may
/// hold several) into `found`: each report, or what is wrong with it, named by `source`
/// (and its zip member when the zip holds more than one).
fn documents(bytes: &[u8], source: &str, limits: &Limits, budget: &mut u64, found: &mut Found) {
    let each = match extract_each(bytes, limits) {
        Ok(each) => each,
        Err(e) => return found.errors.push(Problem::new(source, e.to_string())),
    };
    let several = each.len() > 1;
    for item in each {
        let (member, result) = match item {
            Ok(x) => (x.member.clone(), Ok(x)),
            Err((member, e)) => (Some(member), Err(e.to_string())),
        };
        let source = match member.filter(|_| several) {
            Some(m) => format!("{source}: zip member {m:?}"),
            None => source.to_owned(),
        };
        let report = result
            .map_err(|e| Problem::new(&source, e))
            .and_then(|x| document(x, &source, limits, budget));
        match report {
            Ok(r) => found.reports.push(r),
            Err(e) => found.errors.push(e),
        }
    }
}

/// Reads one report document, within what is left of the output `budget`.
fn document(
    x: Extracted,
    source: &str,
    limits: &Limits,
    budget: &mut u64,
) -> Result<IncomingReport, Problem> {
    if x.doc.len() as u64 > *budget {
        return Err(Problem::new(
            source,
            format!(
                "the reports of this message decompress to over {} bytes",
                limits.max_output
            ),
        ));
    }
    *budget -= x.doc.len() as u64;
    let mut report = read_document(x.doc, x.format, source)?;
    sanitize(&mut report).map_err(|e| Problem::new(source, e))?;
    Ok(report)
}

/// The longest period one aggregate report may cover (reports cover a day, some a week).
pub const MAX_PERIOD: i64 = 366 * 86_400;

/// What a report must say to be believed: a policy domain that is a domain name, and a
/// period that runs forward, from after 1970, over at most [`MAX_PERIOD`]. A report is
/// written by anyone who can send mail to `rua`; these keep one forged report from
/// standing for years or painting the terminal.
fn check_aggregate(f: &Feedback) -> Result<(), String> {
    let domain = f.policy.domain.trim().trim_end_matches('.');
    let ascii = if domain.is_ascii() {
        domain.to_string()
    } else {
        idna::domain_to_ascii(domain).map_err(|_| {
            format!(
                "policy_published/domain {:?} is not a domain name",
                domain.chars().take(80).collect::<String>()
            )
        })?
    };
    if ascii.is_empty()
        || !ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        || monban_dns::normalize_name(&ascii).is_err()
    {
        return Err(format!(
            "policy_published/domain {:?} is not a domain name",
            domain.chars().take(80).collect::<String>()
        ));
    }
    let (begin, end) = (f.metadata.begin, f.metadata.end);
    if begin < 0 || end < begin {
        return Err(format!(
            "date_range {begin} to {end} does not run forward from 1970"
        ));
    }
    if end - begin > MAX_PERIOD {
        return Err(format!(
            "date_range {begin} to {end} covers over {} days",
            MAX_PERIOD / 86_400
        ));
    }
    Ok(())
}

/// The longest org_name, report_id or domain stored (they identify the report).
pub const MAX_IDENTITY: usize = 1024;
/// The largest report text kept for a conflict (a larger one is described, not kept).
pub const MAX_KEPT: usize = 4 << 20;
/// The largest TLS report (JSON) read, and the most objects in it.
pub const MAX_TLS_JSON: usize = 16 << 20;
const MAX_TLS_OBJECTS: usize = 200_000;

/// What the store cannot take or should not keep: NUL characters (PostgreSQL text
/// refuses them) become U+FFFD, identity fields over [`MAX_IDENTITY`] are refused, a
/// report text over [`MAX_KEPT`] is replaced by its size.
fn sanitize(r: &mut IncomingReport) -> Result<(), String> {
    fn clean(s: &mut String) {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{FFFD}");
        }
    }
    fn clean_opt(s: &mut Option<String>) {
        if let Some(s) = s {
            clean(s);
        }
    }
    for (what, v) in [
        ("org_name", &r.org_name),
        ("report_id", &r.report_id),
        ("policy domain", &r.domain),
    ] {
        if v.len() > MAX_IDENTITY {
            return Err(format!("the {what} is over {MAX_IDENTITY} bytes"));
        }
    }
    for s in [
        &mut r.org_name,
        &mut r.report_id,
        &mut r.domain,
        &mut r.meta,
        &mut r.source,
    ] {
        clean(s);
    }
    clean_opt(&mut r.policy_p);
    if r.document.len() > MAX_KEPT {
        r.document = format!(
            "(not kept: {} bytes; content hash {})",
            r.document.len(),
            r.content_hash
        );
    } else {
        clean(&mut r.document);
    }
    for c in &mut r.records {
        for s in [&mut c.source_ip, &mut c.disposition, &mut c.header_from] {
            clean(s);
        }
        for s in [
            &mut c.envelope_from,
            &mut c.envelope_to,
            &mut c.dkim_domain,
            &mut c.dkim_selector,
            &mut c.dkim_result,
            &mut c.spf_domain,
            &mut c.spf_result,
            &mut c.reasons,
            &mut c.auth,
        ] {
            clean_opt(s);
        }
    }
    for p in &mut r.tls_policies {
        for s in [&mut p.policy_type, &mut p.policy_domain, &mut p.details] {
            clean(s);
        }
    }
    Ok(())
}

fn read_document(doc: Vec<u8>, format: Format, source: &str) -> Result<IncomingReport, Problem> {
    match format {
        Format::Xml => {
            // One UTF-8 check serves the parser and the kept copy.
            let text = text(doc);
            let feedback =
                parse_aggregate_str(&text).map_err(|e| Problem::new(source, e.to_string()))?;
            if feedback.messages() > MAX_REPORT_MESSAGES {
                return Err(Problem::new(
                    source,
                    format!("the report counts over {MAX_REPORT_MESSAGES} messages"),
                ));
            }
            check_aggregate(&feedback).map_err(|e| Problem::new(source, e))?;
            let content_hash = aggregate_digest(&feedback);
            Ok(aggregate(feedback, text, content_hash, source))
        }
        Format::Json => {
            // serde reads the whole document before the report's own counts are
            // checked: bound the document and its objects first.
            if doc.len() > MAX_TLS_JSON {
                return Err(Problem::new(
                    source,
                    format!("a TLS report over {MAX_TLS_JSON} bytes"),
                ));
            }
            if memchr::memchr_iter(b'{', &doc).count() > MAX_TLS_OBJECTS {
                return Err(Problem::new(
                    source,
                    format!("a TLS report with over {MAX_TLS_OBJECTS} objects"),
                ));
            }
            let report = parse_tls_report(&doc).map_err(|e| Problem::new(source, e.to_string()))?;
            if tls_sessions(&report) > MAX_REPORT_MESSAGES {
                return Err(Problem::new(
                    source,
                    format!("the report counts over {MAX_REPORT_MESSAGES} sessions"),
                ));
            }
            // What was read, not how it was written.
            let content_hash = hex(&hash(
                HashAlgorithm::Sha256,
                &serde_json::to_vec(&report).unwrap_or_default(),
            ));
            Ok(tls(report, text(doc), content_hash, source))
        }
    }
}

/// The content of an aggregate report as read, hashed (SHA-256, hex): two copies that
/// say the same are the same report however they are written (white space, namespace,
/// element case, compression, an added extension element). Each value is written with
/// its length, so no two different reports write the same bytes.
pub fn aggregate_digest(f: &Feedback) -> String {
    fn put(b: &mut Vec<u8>, s: &str) {
        b.extend_from_slice(&(s.len() as u64).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    fn opt(b: &mut Vec<u8>, s: &Option<String>) {
        match s {
            Some(s) => {
                b.push(1);
                put(b, s);
            }
            None => b.push(0),
        }
    }
    let m = &f.metadata;
    let p = &f.policy;
    let mut b = Vec::with_capacity(256 + f.records.len() * 128);
    b.extend_from_slice(b"monban aggregate v1\n");
    for s in [&m.org_name, &m.email, &m.report_id] {
        put(&mut b, s);
    }
    opt(&mut b, &m.extra_contact_info);
    opt(&mut b, &m.generator);
    b.extend_from_slice(&m.begin.to_le_bytes());
    b.extend_from_slice(&m.end.to_le_bytes());
    b.extend_from_slice(&(m.errors.len() as u64).to_le_bytes());
    for e in &m.errors {
        put(&mut b, e);
    }
    put(&mut b, &p.domain);
    put(&mut b, &p.p);
    for o in [&p.sp, &p.np, &p.adkim, &p.aspf, &p.discovery_method, &p.fo] {
        opt(&mut b, o);
    }
    b.push(u8::from(p.testing));
    b.extend_from_slice(&(f.records.len() as u64).to_le_bytes());
    for r in &f.records {
        put(&mut b, &r.source_ip);
        b.extend_from_slice(&r.count.to_le_bytes());
        put(&mut b, &r.evaluated.disposition);
        b.push(u8::from(r.evaluated.dkim_aligned) | u8::from(r.evaluated.spf_aligned) << 1);
        b.extend_from_slice(&(r.evaluated.reasons.len() as u64).to_le_bytes());
        for x in &r.evaluated.reasons {
            put(&mut b, &x.kind);
            opt(&mut b, &x.comment);
        }
        put(&mut b, &r.header_from);
        opt(&mut b, &r.envelope_from);
        opt(&mut b, &r.envelope_to);
        b.extend_from_slice(&(r.dkim.len() as u64).to_le_bytes());
        for d in &r.dkim {
            put(&mut b, &d.domain);
            put(&mut b, &d.selector);
            put(&mut b, &d.result);
            opt(&mut b, &d.human_result);
        }
        b.extend_from_slice(&(r.spf.len() as u64).to_le_bytes());
        for x in &r.spf {
            put(&mut b, &x.domain);
            opt(&mut b, &x.scope);
            put(&mut b, &x.result);
            opt(&mut b, &x.human_result);
        }
    }
    hex(&hash(HashAlgorithm::Sha256, &b))
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// The reporter's name; when a report leaves `org_name` empty, the domain of its
/// `email` (as parsedmarc does, so both name the reporter alike).
fn org_name(org: &str, email: &str) -> String {
    let org = org.trim();
    if !org.is_empty() {
        return org.to_string();
    }
    email
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
        .unwrap_or_default()
}

fn text(doc: Vec<u8>) -> String {
    monban::report::parse::decode(doc)
}

/// An aggregate report in the store's form.
pub fn aggregate(f: Feedback, doc: String, content_hash: String, source: &str) -> IncomingReport {
    let p = &f.policy;
    let meta = serde_json::json!({
        "email": f.metadata.email,
        "extra_contact_info": f.metadata.extra_contact_info,
        "errors": f.metadata.errors,
        "generator": f.metadata.generator,
        "policy_published": {
            "domain": p.domain, "p": p.p, "sp": p.sp, "np": p.np, "adkim": p.adkim,
            "aspf": p.aspf, "fo": p.fo, "testing": p.testing,
            "discovery_method": p.discovery_method,
        },
    })
    .to_string();
    let messages = f.messages();
    let org = org_name(&f.metadata.org_name, &f.metadata.email);
    let report_id = f.metadata.report_id.trim().to_string();
    let domain = p.domain.trim().trim_end_matches('.');
    let domain = idna::domain_to_ascii(domain)
        .unwrap_or_else(|_| domain.to_string())
        .to_ascii_lowercase();
    let policy_p = (!p.p.is_empty()).then(|| p.p.to_ascii_lowercase());
    let (begin, end) = (f.metadata.begin, f.metadata.end);
    let records: Vec<IncomingRecord> = f.records.into_iter().map(record).collect();
    IncomingReport {
        kind: IncomingKind::Aggregate,
        org_name: org,
        report_id,
        domain,
        begin,
        end,
        content_hash,
        document: doc,
        meta,
        source: source.to_string(),
        policy_p,
        messages,
        records,
        tls_policies: Vec::new(),
    }
}

/// All DKIM and SPF results and reasons of a row, as stored (JSON).
#[derive(serde::Serialize)]
struct Auth<'a> {
    #[serde(serialize_with = "dkim_json")]
    dkim: &'a [DkimAuth],
    #[serde(serialize_with = "spf_json")]
    spf: &'a [SpfAuth],
    #[serde(serialize_with = "reasons_json")]
    reasons: &'a [Reason],
}

#[derive(serde::Serialize)]
struct DkimJson<'a> {
    domain: &'a str,
    selector: &'a str,
    result: &'a str,
    human_result: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct SpfJson<'a> {
    domain: &'a str,
    scope: Option<&'a str>,
    result: &'a str,
    human_result: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct ReasonJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    comment: Option<&'a str>,
}

fn dkim_json<S: serde::Serializer>(v: &&[DkimAuth], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|d| DkimJson {
        domain: &d.domain,
        selector: &d.selector,
        result: &d.result,
        human_result: d.human_result.as_deref(),
    }))
}

fn spf_json<S: serde::Serializer>(v: &&[SpfAuth], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| SpfJson {
        domain: &x.domain,
        scope: x.scope.as_deref(),
        result: &x.result,
        human_result: x.human_result.as_deref(),
    }))
}

fn reasons_json<S: serde::Serializer>(v: &&[Reason], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| ReasonJson {
        kind: &x.kind,
        comment: x.comment.as_deref(),
    }))
}

/// A domain as stored: no surrounding white space, no final dot, lower case (in place
/// when it already is: no copy).
fn domain_owned(mut s: String) -> String {
    let t = s.trim().trim_end_matches('.');
    if t.len() != s.len() {
        s = t.to_string();
    }
    s.make_ascii_lowercase();
    s
}

fn record(mut r: Record) -> IncomingRecord {
    let header_from = domain_owned(std::mem::take(&mut r.header_from));
    // The DKIM result that speaks for the row: an aligned pass, else any pass, else
    // the first (reporters do not all order them as RFC 9990 §3.1.3 asks).
    let under = |a: &str, b: &str| {
        a.len() > b.len()
            && a.as_bytes()[a.len() - b.len() - 1] == b'.'
            && a[a.len() - b.len()..].eq_ignore_ascii_case(b)
    };
    let aligned = |d: &str| {
        let d = d.trim().trim_end_matches('.');
        d.eq_ignore_ascii_case(&header_from) || under(d, &header_from) || under(&header_from, d)
    };
    let best = r
        .dkim
        .iter()
        .position(|d| d.result == "pass" && aligned(&d.domain))
        .or_else(|| r.dkim.iter().position(|d| d.result == "pass"))
        .or((!r.dkim.is_empty()).then_some(0));
    let spf = r
        .spf
        .iter()
        .position(|s| s.scope.as_deref().is_none_or(|x| x == "mfrom"))
        .or((!r.spf.is_empty()).then_some(0));
    // The reason types, plus `arc` and `forwarded` when a comment says so (Google
    // writes `local_policy` with "arc=pass"; RFC 7489's `forwarded` is read as `other`).
    let mut kinds: Vec<&str> = Vec::new();
    for x in &r.evaluated.reasons {
        let comment = x.comment.as_deref().unwrap_or("").to_ascii_lowercase();
        for k in [
            Some(x.kind.as_str()),
            comment.contains("arc=pass").then_some("arc"),
            comment.contains("forward").then_some("forwarded"),
        ]
        .into_iter()
        .flatten()
        {
            if !kinds.contains(&k) && kinds.len() < 10 {
                kinds.push(k);
            }
        }
    }
    let reasons = (!kinds.is_empty()).then(|| kinds.join(","));
    // The whole of the results, kept only when the columns do not already say it all
    // (several signatures, human results, reason comments, a HELO check).
    let needs_auth = r.dkim.len() > 1
        || r.spf.len() > 1
        || r.dkim.iter().any(|d| d.human_result.is_some())
        || r.spf
            .iter()
            .any(|s| s.human_result.is_some() || s.scope.as_deref() != Some("mfrom"))
        || r.evaluated.reasons.iter().any(|x| x.comment.is_some());
    let auth = needs_auth.then(|| {
        serde_json::to_string(&Auth {
            dkim: &r.dkim,
            spf: &r.spf,
            reasons: &r.evaluated.reasons,
        })
        .unwrap_or_default()
    });
    let dkim_any_pass = r.dkim.iter().any(|d| d.result == "pass");
    let best = best.map(|i| r.dkim.swap_remove(i));
    let spf = spf.map(|i| r.spf.swap_remove(i));
    // One address, one spelling (`2001:DB8:0:0::1` is `2001:db8::1`); what is not an
    // address is kept as written (the report says it).
    let source_ip = match r.source_ip.trim().parse::<std::net::IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => {
            let t = r.source_ip.trim();
            if t.len() == r.source_ip.len() {
                r.source_ip
            } else {
                t.to_string()
            }
        }
    };
    let mut disposition = r.evaluated.disposition;
    disposition.make_ascii_lowercase();
    let (dkim_domain, dkim_selector, dkim_result) = match best {
        Some(d) => (
            Some(domain_owned(d.domain)),
            Some(d.selector),
            Some(d.result),
        ),
        None => (None, None, None),
    };
    let (spf_domain, spf_result) = match spf {
        Some(x) => (
            Some(domain_owned(x.domain)).filter(|s| !s.is_empty()),
            Some(x.result),
        ),
        None => (None, None),
    };
    IncomingRecord {
        source_ip,
        count: r.count,
        disposition,
        dkim_aligned: r.evaluated.dkim_aligned,
        spf_aligned: r.evaluated.spf_aligned,
        header_from,
        envelope_from: r.envelope_from.map(domain_owned).filter(|s| !s.is_empty()),
        envelope_to: r.envelope_to.map(domain_owned).filter(|s| !s.is_empty()),
        dkim_domain,
        dkim_selector,
        dkim_result,
        dkim_any_pass,
        spf_domain,
        spf_result,
        reasons,
        auth,
    }
}

/// The sessions a TLS report counts (saturating; the reader refuses a report over
/// [`MAX_REPORT_MESSAGES`]).
fn tls_sessions(r: &TlsReport) -> u64 {
    r.policies
        .iter()
        .map(|p| p.successful.saturating_add(p.failed))
        .fold(0u64, u64::saturating_add)
}

/// A TLS report in the store's form.
pub fn tls(r: TlsReport, doc: String, content_hash: String, source: &str) -> IncomingReport {
    let policies: Vec<TlsPolicyRow> = r
        .policies
        .iter()
        .map(|p| TlsPolicyRow {
            policy_type: p.policy_type.clone(),
            policy_domain: p.policy_domain.clone(),
            successful: p.successful,
            failed: p.failed,
            details: serde_json::json!({
                "policy_string": p.policy_string,
                "mx_host": p.mx_host,
                "failure_details": p.failure_details,
            })
            .to_string(),
        })
        .collect();
    let messages = tls_sessions(&r);
    IncomingReport {
        kind: IncomingKind::Tls,
        org_name: r.organization_name.trim().to_string(),
        report_id: r.report_id.trim().to_string(),
        domain: r.domain(),
        begin: r.begin,
        end: r.end,
        content_hash,
        document: doc,
        meta: serde_json::json!({"contact_info": r.contact_info}).to_string(),
        source: source.to_string(),
        policy_p: None,
        messages,
        records: Vec::new(),
        tls_policies: policies,
    }
}

fn failure(
    r: &FailureReport,
    mail_fields: &[(String, String)],
    feedback: &[u8],
    original: &[u8],
    source: &str,
) -> IncomingReport {
    // Line endings do not make another report (the same report arrives with LF from
    // one mailbox and CRLF from another).
    let mut both = Vec::with_capacity(feedback.len() + original.len() + 1);
    both.extend(feedback.iter().filter(|&&b| b != b'\r'));
    both.push(0);
    let original = &original[..original.len().min(arf::MAX_ORIGINAL)];
    both.extend(original.iter().filter(|&&b| b != b'\r'));
    let h = hash(HashAlgorithm::Sha256, &both);
    failure_with_hash(r, mail_fields, &both, &h, source)
}

fn failure_with_hash(
    r: &FailureReport,
    mail_fields: &[(String, String)],
    document: &[u8],
    digest: &[u8],
    source: &str,
) -> IncomingReport {
    // The reporter: the domain of the report mail's From, else its User-Agent.
    let reporter = mime::field(mail_fields, "from")
        .and_then(|f| {
            let a = f.rsplit_once('<').map_or(f, |(_, a)| a);
            let a = a.split('>').next().unwrap_or(a);
            a.rsplit_once('@')
                .map(|(_, d)| d.trim().to_ascii_lowercase())
        })
        .or_else(|| r.user_agent.clone())
        .unwrap_or_default();
    let date = mime::field(mail_fields, "date")
        .and_then(|d| monban::rfc5322::datetime::parse(d).ok())
        .map(|d| d.unix);
    let at = r.arrival_date.or(date).unwrap_or(0);
    let content_hash = hex(digest);
    IncomingReport {
        kind: IncomingKind::Failure,
        org_name: reporter,
        report_id: content_hash[..32].to_string(),
        domain: r.domain().unwrap_or_default(),
        begin: at,
        end: at,
        content_hash,
        document: String::from_utf8_lossy(document).into_owned(),
        meta: serde_json::to_string(r).unwrap_or_default(),
        source: source.to_string(),
        policy_p: None,
        // At most arf::MAX_INCIDENTS (the reader refuses more), MAX_REPORT_MESSAGES.
        messages: r.incidents,
        records: Vec::new(),
        tls_policies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ARF's note for people that starts with '<' is not read as an aggregate
    /// report: the failure report is stored and no error is said (it said "not a DMARC
    /// aggregate report: the root element is <script>", and the import exited 1).
    #[test]
    fn an_arf_note_starting_with_markup_is_not_a_report_document() {
        let mail = "From: reporter@example.net\r\nTo: dmarc@example.com\r\n\
            Subject: Report\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\n<script>alert(1)</script> a failure report\r\n\
            --b\r\nContent-Type: message/feedback-report\r\n\r\n\
            Feedback-Type: auth-failure\r\nUser-Agent: test/1\r\nVersion: 1\r\n\
            Auth-Failure: dmarc\r\nReported-Domain: example.com\r\nSource-IP: 192.0.2.1\r\n\r\n\
            --b\r\nContent-Type: text/rfc822-headers\r\n\r\n\
            From: a@example.com\r\nSubject: x\r\n\r\n--b--\r\n";
        let found = from_mail(mail.as_bytes(), "arf.eml", &Limits::default());
        assert!(found.errors.is_empty(), "{:?}", found.errors);
        assert_eq!(found.reports.len(), 1);
    }

    /// A failure report whose feedback part runs to the end of the mail (cut in
    /// transit: no close delimiter), or whose Feedback-Type is not auth-failure, is
    /// refused with the reason; never stored in part or as a DMARC failure report.
    #[test]
    fn trial_cut_or_other_feedback_types_are_refused() {
        let head = "From: reporter@example.net\r\nTo: dmarc@example.com\r\n\
            Subject: Report\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nA failure report\r\n\
            --b\r\nContent-Type: message/feedback-report\r\n\r\n\
            Feedback-Type: auth-failure\r\nUser-Agent: test/1\r\nVersion: 1\r\n\
            Auth-Failure: dmarc\r\nReported-Domain: example.com\r\nSource-IP: 192.0.2.1\r\n\
            Authentication-Results: rep.example; d";
        let found = from_mail(head.as_bytes(), "cut.eml", &Limits::default());
        assert!(found.reports.is_empty());
        assert!(found.errors[0].contains("cut short"), "{:?}", found.errors);
        let whole = format!("{head}marc=fail header.from=example.com\r\n\r\n--b--\r\n");
        let found = from_mail(whole.as_bytes(), "whole.eml", &Limits::default());
        assert!(found.errors.is_empty(), "{:?}", found.errors);
        assert_eq!(found.reports.len(), 1);
        let abuse = whole.replace("Feedback-Type: auth-failure", "Feedback-Type: abuse");
        let found = from_mail(abuse.as_bytes(), "abuse.eml", &Limits::default());
        assert!(found.reports.is_empty());
        assert!(
            found.errors[0].contains("Feedback-Type \"abuse\" is not a DMARC failure report"),
            "{:?}",
            found.errors
        );
    }

    #[test]
    fn same_content_written_differently_is_the_same_report() {
        let a = "<feedback><report_metadata><org_name>r</org_name><report_id>1</report_id>\
            <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
            <policy_published><domain>example.com</domain><p>none</p></policy_published>\
            <record><row><source_ip>192.0.2.1</source_ip><count>2</count></row>\
            <identifiers><header_from>example.com</header_from></identifiers></record></feedback>";
        let b = format!(
            "<?xml version=\"1.0\"?>\n<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n  {}",
            &a["<feedback>".len()..]
        )
        .replace("<count>2</count>", "<COUNT> 2 </COUNT><x-ext>1</x-ext>");
        let l = Limits::default();
        let ra = from_file(a.as_bytes(), "a", &l).reports.remove(0);
        let rb = from_file(b.as_bytes(), "b", &l).reports.remove(0);
        assert_eq!(ra.content_hash, rb.content_hash);
        let c = a.replace("<count>2</count>", "<count>3</count>");
        let rc = from_file(c.as_bytes(), "c", &l).reports.remove(0);
        assert_ne!(ra.content_hash, rc.content_hash);
    }

    #[test]
    fn nul_characters_and_long_identities() {
        let l = Limits::default();
        let nul = "<feedback><report_metadata><org_name>r\u{0}x</org_name><report_id>1</report_id>\
            <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
            <policy_published><domain>example.com</domain><p>none</p></policy_published>\
            <record><row><source_ip>192.0.2.1\u{0}</source_ip><count>2</count></row>\
            <identifiers><header_from>example.com</header_from></identifiers></record></feedback>";
        let f = from_file(nul.as_bytes(), "nul.xml", &l);
        if let Some(r) = f.reports.first() {
            assert!(!r.org_name.contains('\0') && !r.document.contains('\0'));
            assert!(!r.records[0].source_ip.contains('\0'));
        }
        let long = nul
            .replace("r\u{0}x", &"o".repeat(MAX_IDENTITY + 1))
            .replace("192.0.2.1\u{0}", "192.0.2.1");
        let f = from_file(long.as_bytes(), "long.xml", &l);
        assert!(f.reports.is_empty());
        assert!(
            f.errors[0].starts_with("long.xml: the org_name is over"),
            "{:?}",
            f.errors
        );
    }

    #[test]
    fn tls_json_with_too_many_objects() {
        let mut j = String::from("{\"report-id\":\"x\",\"policies\":[");
        for _ in 0..MAX_TLS_OBJECTS {
            j.push_str("{},");
        }
        j.push_str("{}]}");
        let f = from_file(j.as_bytes(), "t.json", &Limits::default());
        assert!(f.errors[0].contains("objects"), "{:?}", f.errors);
    }

    /// An aggregate report whose rows count `counts`, padded with a comment to `len`
    /// bytes when given.
    fn aggregate_xml(counts: &[u64], len: Option<usize>) -> String {
        let mut x = String::from(
            "<feedback><report_metadata><org_name>r</org_name><report_id>1</report_id>\
            <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
            <policy_published><domain>example.com</domain><p>none</p></policy_published>",
        );
        for c in counts {
            x.push_str(&format!(
                "<record><row><source_ip>192.0.2.1</source_ip><count>{c}</count></row>\
                <identifiers><header_from>example.com</header_from></identifiers></record>"
            ));
        }
        if let Some(len) = len {
            let pad = len - x.len() - "<!---->".len() - "</feedback>".len();
            x.push_str(&format!("<!--{}-->", " ".repeat(pad)));
        }
        x.push_str("</feedback>");
        x
    }

    fn tls_json(counts: &[(u64, u64)], len: Option<usize>) -> String {
        let policies: Vec<String> = counts
            .iter()
            .map(|(s, f)| {
                format!(
                    r#"{{"policy":{{"policy-type":"sts","policy-domain":"example.com"}},"summary":{{"total-successful-session-count":{s},"total-failure-session-count":{f}}}}}"#
                )
            })
            .collect();
        let mut j = format!(
            r#"{{"organization-name":"r","date-range":{{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-02T00:00:00Z"}},"report-id":"t1","policies":[{}]"#,
            policies.join(",")
        );
        if let Some(len) = len {
            j.push_str(&" ".repeat(len - j.len() - 1));
        }
        j.push('}');
        j
    }

    /// Counts over 10^12 messages (aggregate) or sessions (TLS) are refused, never
    /// clamped: exactly the bound is stored.
    #[test]
    fn reports_counting_over_the_bound_are_refused() {
        let l = Limits::default();
        let half = MAX_REPORT_MESSAGES / 2;
        let f = from_file(aggregate_xml(&[half, half], None).as_bytes(), "a.xml", &l);
        assert_eq!(f.reports[0].messages, MAX_REPORT_MESSAGES, "{:?}", f.errors);
        let f = from_file(
            aggregate_xml(&[half, half + 1], None).as_bytes(),
            "b.xml",
            &l,
        );
        assert!(f.reports.is_empty());
        assert_eq!(
            f.errors[0].to_string(),
            format!("b.xml: the report counts over {MAX_REPORT_MESSAGES} messages")
        );
        let f = from_file(
            tls_json(&[(half, 0), (0, half)], None).as_bytes(),
            "a.json",
            &l,
        );
        assert_eq!(f.reports[0].messages, MAX_REPORT_MESSAGES, "{:?}", f.errors);
        let f = from_file(
            tls_json(&[(half, 1), (0, half)], None).as_bytes(),
            "b.json",
            &l,
        );
        assert!(f.reports.is_empty());
        assert_eq!(
            f.errors[0].to_string(),
            format!("b.json: the report counts over {MAX_REPORT_MESSAGES} sessions")
        );
    }

    /// A TLS report of 16 MiB is read; one byte more is refused before serde reads it.
    #[test]
    fn tls_json_over_its_size_is_refused() {
        let l = Limits::default();
        let f = from_file(
            tls_json(&[(1, 0)], Some(MAX_TLS_JSON)).as_bytes(),
            "a.json",
            &l,
        );
        assert_eq!(f.reports.len(), 1, "{:?}", f.errors);
        let f = from_file(
            tls_json(&[(1, 0)], Some(MAX_TLS_JSON + 1)).as_bytes(),
            "b.json",
            &l,
        );
        assert_eq!(
            f.errors[0].to_string(),
            format!("b.json: a TLS report over {MAX_TLS_JSON} bytes")
        );
    }

    /// A report text of 4 MiB is kept; a longer one is stored described, not kept.
    #[test]
    fn report_text_over_its_size_is_described_not_kept() {
        let l = Limits::default();
        let xml = aggregate_xml(&[1], Some(MAX_KEPT));
        assert_eq!(xml.len(), MAX_KEPT);
        let r = from_file(xml.as_bytes(), "a.xml", &l).reports.remove(0);
        assert_eq!(r.document, xml);
        let xml = aggregate_xml(&[1], Some(MAX_KEPT + 1));
        let r = from_file(xml.as_bytes(), "b.xml", &l).reports.remove(0);
        assert_eq!(
            r.document,
            format!(
                "(not kept: {} bytes; content hash {})",
                MAX_KEPT + 1,
                r.content_hash
            )
        );
        assert_eq!(r.messages, 1);
    }

    fn forwarded(inner: &str, levels: usize) -> String {
        let mut mail = inner.to_string();
        for i in 0..levels {
            mail = format!(
                "Subject: Fwd\nContent-Type: multipart/mixed; boundary=f{i}\n\n--f{i}\n\
                 Content-Type: text/plain\n\nsee attached\n--f{i}\n\
                 Content-Type: message/rfc822\n\n{mail}\n--f{i}--\n"
            );
        }
        mail
    }

    /// Forwarded report mail is read 2 levels deep; a deeper copy, or one that does not
    /// decode, is a problem of the mail, not dropped.
    #[test]
    fn forwarded_mail_beyond_its_depth_is_a_problem() {
        let l = Limits::default();
        let report = format!(
            "Subject: Report domain: example.com\nContent-Type: text/xml\n\n{}\n",
            aggregate_xml(&[3], None)
        );
        let f = from_mail(forwarded(&report, MAX_FORWARDED).as_bytes(), "m", &l);
        assert_eq!((f.reports.len(), f.errors.len()), (1, 0), "{:?}", f.errors);
        let f = from_mail(forwarded(&report, MAX_FORWARDED + 1).as_bytes(), "m", &l);
        assert!(f.reports.is_empty());
        assert_eq!(
            f.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            ["m: part 2 (message/rfc822): a forwarded message over 2 levels deep; not read"]
        );
        // A copy over the input bound does not decode.
        let small = Limits {
            max_input: 100,
            ..Limits::default()
        };
        let f = from_mail(forwarded(&report, 1).as_bytes(), "m", &small);
        assert_eq!(
            f.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            ["m: part 2 (message/rfc822): a MIME part decodes to over 100 bytes"]
        );
    }

    /// The mail's own header has the bounds of a MIME part's: a report mail with 200
    /// fields is read, with 201 it is refused by name (its Content-Type could be past a
    /// cut).
    #[test]
    fn mail_header_over_its_field_count_is_refused() {
        let l = Limits::default();
        let mail = |fields: usize| {
            let mut m: String = (2..fields)
                .map(|i| format!("Received: hop {i}\n"))
                .collect();
            m.push_str("Subject: Report domain: example.com\nContent-Type: text/xml\n\n");
            m.push_str(&aggregate_xml(&[1], None));
            m
        };
        let f = from_mail(mail(monban::mime::MAX_PART_FIELDS).as_bytes(), "m", &l);
        assert_eq!(f.reports.len(), 1, "{:?}", f.errors);
        let f = from_mail(mail(monban::mime::MAX_PART_FIELDS + 1).as_bytes(), "m", &l);
        assert!(f.reports.is_empty());
        assert_eq!(f.errors[0].to_string(), "m: a header with over 200 fields");
    }

    #[test]
    fn mail_or_document() {
        assert!(looks_like_mail(b"Return-Path: <a@b>\n"));
        assert!(looks_like_mail(b"From a@b Mon Jan 1 00:00:00 2024\n"));
        assert!(!looks_like_mail(b"<?xml version=\"1.0\"?>\n<feedback>"));
        assert!(!looks_like_mail(b"{\"report-id\": 1}"));
        assert!(!looks_like_mail(b"\x1f\x8b\x08"));
    }
}
