//! Reading failure reports: the `message/feedback-report` part of an ARF report
//! (RFC 5965 §3.1, with the authentication failure fields of RFC 6591 §3.1 that DMARC
//! failure reports use, RFC 9991 §3), and the copy of the original message or its header
//! that comes with it.
//!
//! Lenient: field names in any case, unknown fields kept, `Feedback-Type` values in any
//! case, dates in any RFC 5322 form. Some generators (Exim's DMARC module) send no ARF
//! part, only text with `Sender Domain:` and `Sender IP Address:` lines;
//! [`parse_plain_text`] reads those. Bounded: at most [`MAX_FIELDS`] fields, each value
//! cut at [`MAX_VALUE`] characters, the original header kept up to [`MAX_ORIGINAL`] bytes.

use serde::Serialize;

use crate::mime;

/// Fields read from the feedback part at most.
pub const MAX_FIELDS: usize = 500;
/// Characters kept of one value.
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
    /// `Incidents` (1 when absent).
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
    /// the original `From`, else of `Original-Mail-From`; lower case.
    pub fn domain(&self) -> Option<String> {
        let from_addr = |s: &str| {
            let s = s.rsplit_once('<').map_or(s, |(_, a)| a);
            let s = s.split('>').next().unwrap_or(s);
            s.rsplit_once('@').map(|(_, d)| d.trim().to_string())
        };
        self.reported_domain
            .first()
            .cloned()
            .or_else(|| self.original.from.as_deref().and_then(from_addr))
            .or_else(|| self.original_mail_from.as_deref().and_then(from_addr))
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
    }
}

fn cut(v: &str) -> String {
    v.chars().take(MAX_VALUE).collect()
}

/// Reads a `message/feedback-report` body, and the original message or header (a
/// `message/rfc822` or `text/rfc822-headers` body) when there is one.
pub fn parse_feedback_report(
    feedback: &[u8],
    original: Option<&[u8]>,
) -> Result<FailureReport, ArfError> {
    let fields = mime::fields(feedback, MAX_FIELDS);
    let mut r = FailureReport {
        incidents: 1,
        ..FailureReport::default()
    };
    let mut seen_type = false;
    for (name, value) in &fields {
        let value = cut(value);
        let lower = || value.to_ascii_lowercase();
        match name.to_ascii_lowercase().as_str() {
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
            "source-ip" => r.source_ip = Some(source_ip(&value)),
            "reporting-mta" => r.reporting_mta = Some(value),
            "reported-domain" => r.reported_domain.push(value.trim().to_ascii_lowercase()),
            "reported-uri" => r.reported_uri.push(value),
            "authentication-results" => r.authentication_results.push(value),
            "auth-failure" => r.auth_failure = Some(lower()),
            "delivery-result" => r.delivery_result = Some(lower()),
            "identity-alignment" => r.identity_alignment = Some(lower()),
            "dkim-domain" => r.dkim_domain = Some(value),
            "dkim-identity" => r.dkim_identity = Some(value),
            "dkim-selector" => r.dkim_selector = Some(value),
            "spf-dns" => r.spf_dns = Some(value),
            "incidents" => {
                r.incidents = value
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(1)
                    .clamp(1, MAX_INCIDENTS);
            }
            _ => {}
        }
    }
    if !seen_type || r.feedback_type.is_empty() {
        return Err(ArfError::NoFeedbackType);
    }
    if let Some(original) = original {
        read_original(&mut r, original);
    }
    Ok(r)
}

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
        let value = cut(value.trim());
        match name.trim().to_ascii_lowercase().as_str() {
            "sender domain" => r.reported_domain.push(value.to_ascii_lowercase()),
            "sender ip address" => r.source_ip = Some(source_ip(&value)),
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
        );
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

/// `Source-IP` is sometimes written `192.0.2.1 (host.example)` or `[192.0.2.1]`.
fn source_ip(v: &str) -> String {
    let first = v.split_whitespace().next().unwrap_or("");
    first.trim_matches(|c| c == '[' || c == ']').to_string()
}

fn read_original(r: &mut FailureReport, original: &[u8]) {
    let (header, _) = mime::split(original);
    let header = &header[..header.len().min(MAX_ORIGINAL)];
    let fields = mime::fields(header, MAX_FIELDS);
    let get = |n: &str| mime::field(&fields, n).map(cut);
    r.original = Original {
        from: get("from"),
        to: get("to"),
        subject: get("subject"),
        date: get("date"),
        message_id: get("message-id"),
    };
    if !header.is_empty() {
        r.original_headers = Some(String::from_utf8_lossy(header).into_owned());
    }
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
