//! Reading failure reports: the `message/feedback-report` part of an ARF report
//! (RFC 5965 §3.1, with the authentication failure fields of RFC 6591 §3.1 that DMARC
//! failure reports use, RFC 9991 §3), and the copy of the original message or its header
//! that comes with it.
//!
//! Lenient: field names in any case, unknown fields kept, `Feedback-Type` values in any
//! case, dates in any RFC 5322 form. Some generators (Exim's DMARC module) send no ARF
//! part, only text with `Sender Domain:` and `Sender IP Address:` lines;
//! [`parse_plain_text`] reads those.
//!
//! Bounded, and never judged in part: more than [`MAX_FIELDS`] fields, a value that
//! identifies or counts something (a domain, an address, `Incidents`, the reporter's
//! `User-Agent`) over [`MAX_VALUE`] characters, or an `Incidents` that is not a count
//! from 1 to [`MAX_INCIDENTS`] is an [`ArfError`]. Only text that is shown and never
//! matched (`Authentication-Results`, `SPF-DNS`, the original's `To`, `Subject`, `Date`,
//! `Message-ID`) is cut at [`MAX_VALUE`] characters, ending in "…" to say so. The
//! original header is read and kept up to [`MAX_ORIGINAL`] bytes.

use serde::Serialize;

use crate::mime;

/// Fields of the feedback part at most.
pub const MAX_FIELDS: usize = 500;
/// The longest value read, in characters (longer display text is cut).
pub const MAX_VALUE: usize = 4096;
/// The largest `Incidents` count believed.
pub const MAX_INCIDENTS: u64 = 1_000_000_000_000;
/// Bytes kept of the original message's header.
pub const MAX_ORIGINAL: usize = 64 * 1024;

/// Why a failure report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArfError {
    /// The feedback part has no `Feedback-Type`.
    #[error("the feedback report has no Feedback-Type field")]
    NoFeedbackType,
    /// The plain-text form names no domain.
    #[error("the failure report names no domain")]
    NoDomain,
    /// More than [`MAX_FIELDS`] fields in the feedback part.
    #[error("the feedback report has over {MAX_FIELDS} fields")]
    TooManyFields,
    /// A value that identifies or counts something is over [`MAX_VALUE`] characters;
    /// the field's name (cut to 80 characters).
    #[error("the {0} field is over {MAX_VALUE} characters")]
    ValueTooLong(String),
    /// `Incidents` is not a count from 1 to [`MAX_INCIDENTS`]; its text (cut to 80
    /// characters).
    #[error("Incidents: {0:?} is not a count from 1 to {MAX_INCIDENTS}")]
    Incidents(String),
    /// A field that names something (`Source-IP`, `Reported-Domain`) does not name
    /// one: the field, its text (cut to 80 characters), what it should be.
    #[error("{field}: {value:?} is not {expected}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Its text.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The header of the feedback part or of the original cannot be read.
    #[error("{0}")]
    Mime(mime::MimeError),
}

impl From<mime::MimeError> for ArfError {
    fn from(e: mime::MimeError) -> Self {
        match e {
            mime::MimeError::TooManyFields(_) => Self::TooManyFields,
            mime::MimeError::FieldTooLong(name) => Self::ValueTooLong(name),
            other => Self::Mime(other),
        }
    }
}

/// One failure report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FailureReport {
    /// `Feedback-Type`, lower case (`auth-failure`, `abuse`, ...).
    pub feedback_type: String,
    /// `Version`.
    pub version: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Original-Mail-From`.
    pub original_mail_from: Option<String>,
    /// `Original-Rcpt-To` (any number).
    pub original_rcpt_to: Vec<String>,
    /// `Original-Envelope-Id`.
    pub original_envelope_id: Option<String>,
    /// `Arrival-Date` as Unix seconds, when it could be read.
    pub arrival_date: Option<i64>,
    /// `Source-IP`.
    pub source_ip: Option<String>,
    /// `Reporting-MTA`.
    pub reporting_mta: Option<String>,
    /// `Reported-Domain` (any number).
    pub reported_domain: Vec<String>,
    /// `Reported-URI` (any number).
    pub reported_uri: Vec<String>,
    /// `Authentication-Results` (any number).
    pub authentication_results: Vec<String>,
    /// `Auth-Failure` (RFC 6591: `adsp`, `bodyhash`, `revoked`, `signature`, `spf`,
    /// `dmarc`), lower case.
    pub auth_failure: Option<String>,
    /// `Delivery-Result` (`delivered`, `spam`, `policy`, `reject`, `other`), lower case.
    pub delivery_result: Option<String>,
    /// `Identity-Alignment` (RFC 9991: `none`, `spf`, `dkim`, `dkim, spf`).
    pub identity_alignment: Option<String>,
    /// `DKIM-Domain`.
    pub dkim_domain: Option<String>,
    /// `DKIM-Identity`.
    pub dkim_identity: Option<String>,
    /// `DKIM-Selector`.
    pub dkim_selector: Option<String>,
    /// `SPF-DNS`.
    pub spf_dns: Option<String>,
    /// `Incidents` (1 when absent, RFC 5965 §3.2).
    pub incidents: u64,
    /// The original message's header fields that identify it.
    pub original: Original,
    /// The original message's header block as received (cut at [`MAX_ORIGINAL`]).
    pub original_headers: Option<String>,
}

/// What the original message's header says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Original {
    /// `From`.
    pub from: Option<String>,
    /// `To`.
    pub to: Option<String>,
    /// `Subject`.
    pub subject: Option<String>,
    /// `Date`.
    pub date: Option<String>,
    /// `Message-ID`.
    pub message_id: Option<String>,
}

impl FailureReport {
    /// The domain the report is about: the first `Reported-Domain`, else the domain of
    /// the original `From`, else of `Original-Mail-From`; lower case; `None` when that
    /// is not a domain name.
    pub fn domain(&self) -> Option<String> {
        let from_addr = |s: &str| {
            let s = s.rsplit_once('<').map_or(s, |(_, a)| a);
            let s = s.split('>').next().unwrap_or(s);
            // The domain ends where the address does (`a@example.com (comment)`).
            s.rsplit_once('@').and_then(|(_, d)| {
                d.split(|c: char| c.is_whitespace() || matches!(c, '(' | '>' | ',' | ';'))
                    .next()
                    .map(str::to_string)
            })
        };
        self.reported_domain
            .first()
            .cloned()
            .or_else(|| self.original.from.as_deref().and_then(from_addr))
            .or_else(|| self.original_mail_from.as_deref().and_then(from_addr))
            .and_then(|d| domain_name("the domain", &d).ok())
    }
}

/// A value that identifies or counts something: whole, or an error naming the field.
fn whole(name: &str, v: &str) -> Result<String, ArfError> {
    if v.chars().nth(MAX_VALUE).is_some() {
        return Err(ArfError::ValueTooLong(name.chars().take(80).collect()));
    }
    Ok(v.to_string())
}

/// Text that is only shown: cut at [`MAX_VALUE`] characters, ending in "…" when cut.
fn shown(v: &str) -> String {
    match v.char_indices().nth(MAX_VALUE) {
        Some((at, _)) => format!("{}…", &v[..at]),
        None => v.to_string(),
    }
}

/// `Incidents`: a positive count (RFC 5965 §3.2), at most [`MAX_INCIDENTS`].
fn incidents(v: &str) -> Result<u64, ArfError> {
    match v.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_INCIDENTS).contains(&n) => Ok(n),
        _ => Err(ArfError::Incidents(v.chars().take(80).collect())),
    }
}

/// Reads a `message/feedback-report` body, and the original message or header (a
/// `message/rfc822` or `text/rfc822-headers` body) when there is one.
pub fn parse_feedback_report(
    feedback: &[u8],
    original: Option<&[u8]>,
) -> Result<FailureReport, ArfError> {
    let fields = mime::fields(feedback, MAX_FIELDS)?;
    let mut r = FailureReport {
        incidents: 1,
        ..FailureReport::default()
    };
    let mut seen_type = false;
    for (name, value) in &fields {
        let key = name.to_ascii_lowercase();
        // Free text, only shown: cut. Everything else read is whole or an error.
        if key == "authentication-results" {
            r.authentication_results.push(shown(value));
            continue;
        }
        if key == "spf-dns" {
            r.spf_dns = Some(shown(value));
            continue;
        }
        if !KNOWN.contains(&key.as_str()) {
            continue;
        }
        let value = whole(name, value)?;
        let lower = || value.to_ascii_lowercase();
        match key.as_str() {
            "feedback-type" => {
                seen_type = true;
                r.feedback_type = lower();
            }
            "version" => r.version = Some(value),
            "user-agent" => r.user_agent = Some(value),
            "original-mail-from" => r.original_mail_from = Some(strip_angle(&value)),
            "original-rcpt-to" => r.original_rcpt_to.push(strip_angle(&value)),
            "original-envelope-id" => r.original_envelope_id = Some(value),
            "arrival-date" | "received-date" => {
                r.arrival_date = crate::rfc5322::datetime::parse(&value).ok().map(|d| d.unix);
            }
            "source-ip" => r.source_ip = Some(source_ip(&value)?),
            "reporting-mta" => r.reporting_mta = Some(value),
            "reported-domain" => r
                .reported_domain
                .push(domain_name("Reported-Domain", &value)?),
            "reported-uri" => r.reported_uri.push(value),
            "auth-failure" => r.auth_failure = Some(lower()),
            "delivery-result" => r.delivery_result = Some(lower()),
            "identity-alignment" => r.identity_alignment = Some(lower()),
            "dkim-domain" => r.dkim_domain = Some(value),
            "dkim-identity" => r.dkim_identity = Some(value),
            "dkim-selector" => r.dkim_selector = Some(value),
            "incidents" => r.incidents = incidents(&value)?,
            _ => {}
        }
    }
    if !seen_type || r.feedback_type.is_empty() {
        return Err(ArfError::NoFeedbackType);
    }
    if let Some(original) = original {
        read_original(&mut r, original)?;
    }
    Ok(r)
}

/// The feedback fields read whole (lower case); `Authentication-Results` and `SPF-DNS`
/// are read as display text.
const KNOWN: &[&str] = &[
    "feedback-type",
    "version",
    "user-agent",
    "original-mail-from",
    "original-rcpt-to",
    "original-envelope-id",
    "arrival-date",
    "received-date",
    "source-ip",
    "reporting-mta",
    "reported-domain",
    "reported-uri",
    "auth-failure",
    "delivery-result",
    "identity-alignment",
    "dkim-domain",
    "dkim-identity",
    "dkim-selector",
    "incidents",
];

/// Reads the text-only form some generators send instead of ARF (`Sender Domain:`,
/// `Sender IP Address:`, `Received date:`, then a copy of the header).
pub fn parse_plain_text(text: &[u8]) -> Result<FailureReport, ArfError> {
    let text = String::from_utf8_lossy(text);
    let mut r = FailureReport {
        feedback_type: "auth-failure".into(),
        incidents: 1,
        ..FailureReport::default()
    };
    let mut header_start = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim();
        if trimmed.starts_with("------") && trimmed.to_ascii_lowercase().contains("header") {
            header_start = Some(offset);
            break;
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            continue;
        };
        let key = name.trim().to_ascii_lowercase();
        if !matches!(
            key.as_str(),
            "sender domain" | "sender ip address" | "received date" | "dmarc results"
        ) {
            continue;
        }
        let value = whole(name.trim(), value.trim())?;
        match key.as_str() {
            "sender domain" => r
                .reported_domain
                .push(domain_name("Sender Domain", &value)?),
            "sender ip address" => r.source_ip = Some(source_ip(&value)?),
            "received date" => {
                r.arrival_date = crate::rfc5322::datetime::parse(&value).ok().map(|d| d.unix);
            }
            "dmarc results" => r.delivery_result = Some(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    if let Some(start) = header_start {
        read_original(
            &mut r,
            text[start..].trim_start_matches(['\r', '\n']).as_bytes(),
        )?;
    }
    if r.domain().is_none() {
        return Err(ArfError::NoDomain);
    }
    Ok(r)
}

fn strip_angle(v: &str) -> String {
    v.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// `Source-IP` (RFC 5965 §3.2: an IPv4 or IPv6 address), sometimes written
/// `192.0.2.1 (host.example)` or `[192.0.2.1]`: kept in its canonical form.
fn source_ip(v: &str) -> Result<String, ArfError> {
    let first = v.split_whitespace().next().unwrap_or("");
    let bare = first.trim_matches(|c| c == '[' || c == ']');
    let bare = bare.strip_prefix("IPv6:").unwrap_or(bare);
    super::canonical_ip(bare).ok_or_else(|| ArfError::Invalid {
        field: "Source-IP",
        value: v.chars().take(80).collect(),
        expected: "an IP address",
    })
}

/// A domain name field (`Reported-Domain`): lower case, without a trailing dot, within
/// RFC 1035 §2.3.4's sizes and of the characters a host name or a DKIM/DMARC name
/// uses (letters, digits, `-`, `_`; an internationalized name in its A-labels).
fn domain_name(field: &'static str, v: &str) -> Result<String, ArfError> {
    let bad = || ArfError::Invalid {
        field,
        value: v.chars().take(80).collect(),
        expected: "a domain name",
    };
    let d = v.trim();
    // An internationalized name in its A-labels, as the aggregate reports' names.
    let ascii;
    let d = if d.is_ascii() {
        d
    } else {
        ascii = idna::domain_to_ascii(d).map_err(|_| bad())?;
        ascii.as_str()
    };
    if !d
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad());
    }
    monban_dns::normalize_name(d).map_err(|_| bad())
}

/// The original's header, up to [`MAX_ORIGINAL`] bytes: every field in them is read
/// (no count beyond the bytes; a field cannot be longer than they are). Its `From` can
/// name the domain, so it is read whole; the other fields are shown only.
fn read_original(r: &mut FailureReport, original: &[u8]) -> Result<(), ArfError> {
    let (header, _) = mime::split(original);
    let header = &header[..header.len().min(MAX_ORIGINAL)];
    let fields = mime::fields(header, usize::MAX)?;
    let get = |n: &str| mime::field(&fields, n).map(shown);
    r.original = Original {
        from: mime::field(&fields, "from")
            .map(|v| whole("original From", v))
            .transpose()?,
        to: get("to"),
        subject: get("subject"),
        date: get("date"),
        message_id: get("message-id"),
    };
    if !header.is_empty() {
        r.original_headers = Some(String::from_utf8_lossy(header).into_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6591_example() {
        let f = b"Feedback-Type: auth-failure\r\nUser-Agent: X/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <a@b.example>\r\nArrival-Date: 8 Oct 2011 20:15:58 +0000 (GMT)\r\nSource-IP: 192.0.2.1 (mail.example)\r\nReported-Domain: B.example\r\nAuth-Failure: BodyHash\r\nAuthentication-Results: mx.example;\r\n  dkim=fail header.d=b.example\r\nDKIM-Domain: b.example\r\n";
        let o = b"From: Someone <x@b.example>\r\nSubject: hi\r\nMessage-ID: <1@b>\r\n\r\nbody";
        let r = parse_feedback_report(f, Some(o)).unwrap();
        assert_eq!(r.feedback_type, "auth-failure");
        assert_eq!(r.source_ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(r.arrival_date, Some(1_318_104_958));
        assert_eq!(r.auth_failure.as_deref(), Some("bodyhash"));
        assert_eq!(
            r.authentication_results,
            ["mx.example; dkim=fail header.d=b.example"]
        );
        assert_eq!(r.original.subject.as_deref(), Some("hi"));
        assert_eq!(r.domain().as_deref(), Some("b.example"));
        assert_eq!(r.incidents, 1);
    }

    #[test]
    fn no_feedback_type_is_an_error() {
        assert_eq!(
            parse_feedback_report(b"Version: 1\r\n", None),
            Err(ArfError::NoFeedbackType)
        );
    }

    /// Every bound gives an error naming it, or (display text only) a cut that says so;
    /// exactly the bound is read, one more is not.
    #[test]
    fn bounds_are_refused_or_marked_never_cut_silently() {
        let base = "Feedback-Type: auth-failure\r\n";
        // Fields: 500 are read, 501 are an error.
        let fields = |n: usize| {
            let mut f = base.to_string();
            for i in 1..n {
                f.push_str(&format!("X-Extension-{i}: x\r\n"));
            }
            f
        };
        assert!(parse_feedback_report(fields(MAX_FIELDS).as_bytes(), None).is_ok());
        assert_eq!(
            parse_feedback_report(fields(MAX_FIELDS + 1).as_bytes(), None),
            Err(ArfError::TooManyFields)
        );
        // An identity of 4096 characters is read whole; one more is an error.
        let id = |n: usize| format!("{base}Original-Envelope-Id: {}\r\n", "a".repeat(n));
        let r = parse_feedback_report(id(MAX_VALUE).as_bytes(), None).unwrap();
        assert_eq!(r.original_envelope_id.unwrap().len(), MAX_VALUE);
        assert_eq!(
            parse_feedback_report(id(MAX_VALUE + 1).as_bytes(), None),
            Err(ArfError::ValueTooLong("Original-Envelope-Id".into()))
        );
        // Fields that name something name it, or the report is refused by the field:
        // an address that is not one, a label over 63 octets, a name with a space.
        for (field, value) in [
            ("Source-IP", "300.1.1.1"),
            ("Source-IP", "mail.example"),
            ("Reported-Domain", &format!("{}.com", "a".repeat(300))),
            ("Reported-Domain", "a..b"),
            ("Reported-Domain", "exa mple.com"),
        ] {
            let f = format!("{base}{field}: {value}\r\n");
            assert!(
                matches!(
                    parse_feedback_report(f.as_bytes(), None),
                    Err(ArfError::Invalid { field: f, .. }) if f == field
                ),
                "{field}: {value}"
            );
        }
        let f =
            format!("{base}Source-IP: [IPv6:2001:DB8::1] (x)\r\nReported-Domain: Example.COM.\r\n");
        let r = parse_feedback_report(f.as_bytes(), None).unwrap();
        assert_eq!(r.source_ip.as_deref(), Some("2001:db8::1"));
        assert_eq!(r.reported_domain, ["example.com"]);
        let f = format!("{base}Reported-Domain: b\u{fc}cher.example\r\n");
        let r = parse_feedback_report(f.as_bytes(), None).unwrap();
        assert_eq!(r.reported_domain, ["xn--bcher-kva.example"]);
        let f = format!("{base}Original-Mail-From: <a@Example.COM> (via x)\r\n");
        let r = parse_feedback_report(f.as_bytes(), None).unwrap();
        assert_eq!(r.domain().as_deref(), Some("example.com"));
        let agent = format!("{base}User-Agent: {}\r\n", "u".repeat(MAX_VALUE + 1));
        assert_eq!(
            parse_feedback_report(agent.as_bytes(), None),
            Err(ArfError::ValueTooLong("User-Agent".into()))
        );
        // Display text is cut, and says so.
        let ar = |n: usize| format!("{base}Authentication-Results: {}\r\n", "r".repeat(n));
        let r = parse_feedback_report(ar(MAX_VALUE).as_bytes(), None).unwrap();
        assert_eq!(r.authentication_results[0], "r".repeat(MAX_VALUE));
        let r = parse_feedback_report(ar(MAX_VALUE + 1).as_bytes(), None).unwrap();
        assert_eq!(
            r.authentication_results[0],
            format!("{}…", "r".repeat(MAX_VALUE))
        );
        // Incidents: absent is 1 (RFC 5965 §3.2); 1 to 10^12 are read; the rest refused.
        let count =
            |v: &str| parse_feedback_report(format!("{base}Incidents: {v}\r\n").as_bytes(), None);
        assert_eq!(count("1000000000000").unwrap().incidents, MAX_INCIDENTS);
        for bad in [
            "1000000000001",
            "0",
            "many",
            "-3",
            "99999999999999999999999",
        ] {
            assert_eq!(count(bad), Err(ArfError::Incidents(bad.into())), "{bad}");
        }
        // The original: its From is read whole, the shown fields are cut with a mark.
        let from = format!("From: x@{}\r\n\r\n", "b".repeat(MAX_VALUE));
        assert_eq!(
            parse_feedback_report(base.as_bytes(), Some(from.as_bytes())),
            Err(ArfError::ValueTooLong("original From".into()))
        );
        let subject = format!("Subject: {}\r\n\r\n", "s".repeat(MAX_VALUE + 1));
        let r = parse_feedback_report(base.as_bytes(), Some(subject.as_bytes())).unwrap();
        assert!(r.original.subject.unwrap().ends_with("s…"));
        // The plain-text form: an identity over the bound is an error.
        let text = format!("Sender Domain: {}.example\n", "d".repeat(MAX_VALUE));
        assert_eq!(
            parse_plain_text(text.as_bytes()),
            Err(ArfError::ValueTooLong("Sender Domain".into()))
        );
    }

    /// The original header is read and kept up to 64 KiB: a field after that is not seen.
    #[test]
    fn original_header_is_kept_up_to_its_bound() {
        let mut header = String::new();
        while header.len() < MAX_ORIGINAL {
            header.push_str("Received: from a.example by b.example\r\n");
        }
        let original = format!("From: a@example.com\r\n{header}Subject: late\r\n\r\nbody");
        let r = parse_feedback_report(
            b"Feedback-Type: auth-failure\r\n",
            Some(original.as_bytes()),
        )
        .unwrap();
        assert_eq!(r.original_headers.unwrap().len(), MAX_ORIGINAL);
        assert_eq!(r.original.from.as_deref(), Some("a@example.com"));
        assert_eq!(r.original.subject, None);
    }

    #[test]
    fn exim_plain_text() {
        let t = b"A message claiming to be from you has failed.\n\n  Sender Domain: Example.com\n  Sender IP Address: 203.0.113.68\n  Received date: Mon, 07 Apr 2025 23:16:09 +0200\n\n------ This is a copy of the headers that were received before the error was detected.\n\nFrom: a@example.com\nSubject: s\n";
        let r = parse_plain_text(t).unwrap();
        assert_eq!(r.domain().as_deref(), Some("example.com"));
        assert_eq!(r.source_ip.as_deref(), Some("203.0.113.68"));
        assert_eq!(r.original.subject.as_deref(), Some("s"));
        assert_eq!(parse_plain_text(b"hello\n"), Err(ArfError::NoDomain));
    }
}
