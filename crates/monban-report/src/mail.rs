//! The report message (RFC 9990 §3.2.1.1 "Email"): an RFC 5322 / MIME message with a
//! short text part and the gzip attachment, `Auto-Submitted: auto-generated` (RFC 3834)
//! so that no auto-responder answers it, DKIM-signed by the caller.

use std::fmt::Write as _;

use base64::Engine as _;
use monban::report::aggregate::subject;

/// What goes into one report message.
#[derive(Debug, Clone)]
pub struct ReportMail<'a> {
    /// The reporting address (`From`, and the envelope sender).
    pub from: &'a str,
    /// The reporting organization.
    pub org_name: &'a str,
    /// The destination address (`To`).
    pub to: &'a str,
    /// The receiver's domain (the Subject's `Submitter`).
    pub submitter: &'a str,
    /// The policy domain.
    pub policy_domain: &'a str,
    /// The Report-ID (also the `Message-ID`'s left part).
    pub report_id: &'a str,
    /// Period start and end (Unix seconds).
    pub begin: i64,
    /// Period end.
    pub end: i64,
    /// The attachment name.
    pub filename: &'a str,
    /// The attachment (gzip).
    pub xml_gz: &'a [u8],
    /// `Date` (Unix seconds).
    pub date: i64,
}

impl ReportMail<'_> {
    /// The message, CRLF line endings, base64 lines of 76 characters.
    pub fn render(&self) -> Vec<u8> {
        let boundary = format!("=_monban_{}", self.report_id);
        let mut m = top_header(&TopHeader {
            from: self.from,
            org_name: self.org_name,
            to: self.to,
            subject: &fold(&subject(self.policy_domain, self.submitter, self.report_id)),
            date: self.date,
            report_id: self.report_id,
            submitter: self.submitter,
            content_type: &format!("multipart/mixed; boundary=\"{boundary}\""),
        });
        m.push_str("\r\n");
        let _ = write!(
            m,
            "This is a DMARC aggregate report (RFC 9990) in MIME format.\r\n\r\n--{boundary}\r\n"
        );
        m.push_str("Content-Type: text/plain; charset=us-ascii\r\n");
        m.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        let _ = write!(
            m,
            "DMARC aggregate report for {} from {} covering {} to {} (UTC).\r\nReport-ID: {}\r\n\r\n--{boundary}\r\n",
            self.policy_domain,
            self.submitter,
            monban::rfc5322::datetime::format_utc(self.begin),
            monban::rfc5322::datetime::format_utc(self.end),
            self.report_id,
        );
        let _ = write!(
            m,
            "Content-Type: application/gzip; name=\"{0}\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{0}\"\r\n\r\n",
            self.filename
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.xml_gz);
        for chunk in b64.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            m.push_str("\r\n");
        }
        let _ = write!(m, "--{boundary}--\r\n");
        m.into_bytes()
    }
}

/// A failure report message (RFC 9991 §3): the stored MIME body under a new header.
#[derive(Debug, Clone)]
pub struct FailureMail<'a> {
    /// `From` and the envelope sender.
    pub from: &'a str,
    /// The display name.
    pub org_name: &'a str,
    /// `To`.
    pub to: &'a str,
    /// The receiver's domain (the Message-ID's right part).
    pub submitter: &'a str,
    /// The report's id.
    pub report_id: &'a str,
    /// The Subject.
    pub subject: &'a str,
    /// The `Content-Type` (multipart/report).
    pub content_type: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// `Date`.
    pub date: i64,
}

impl FailureMail<'_> {
    /// The message, CRLF line endings.
    pub fn render(&self) -> Vec<u8> {
        let mut m = top_header(&TopHeader {
            from: self.from,
            org_name: self.org_name,
            to: self.to,
            subject: &one_line(self.subject),
            date: self.date,
            report_id: self.report_id,
            submitter: self.submitter,
            content_type: &one_line(self.content_type),
        })
        .into_bytes();
        m.extend_from_slice(b"\r\n");
        m.extend_from_slice(self.body);
        m
    }
}

/// The header both kinds of report message begin with (RFC 9990 §3.2.1.1, RFC 9991
/// §3): `Message-ID` from the report's id, `Auto-Submitted: auto-generated` (RFC 3834)
/// so that no auto-responder answers it.
struct TopHeader<'a> {
    from: &'a str,
    org_name: &'a str,
    to: &'a str,
    subject: &'a str,
    date: i64,
    report_id: &'a str,
    submitter: &'a str,
    content_type: &'a str,
}

fn top_header(h: &TopHeader<'_>) -> String {
    format!(
        "From: {} <{}>\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@{}>\r\n\
         Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: {}\r\n",
        mime_phrase(h.org_name),
        h.from,
        angle_list(h.to),
        h.subject,
        monban::rfc5322::datetime::format_rfc5322(h.date),
        h.report_id,
        h.submitter,
        h.content_type,
    )
}

/// Printable ASCII on one line (stored values go into header fields).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_control() {
                c
            } else {
                ' '
            }
        })
        .collect()
}

/// `a@x, b@y` as `<a@x>, <b@y>`.
fn angle_list(addresses: &str) -> String {
    addresses
        .split(',')
        .map(|a| format!("<{}>", a.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A display name as an RFC 5322 phrase: printable ASCII quoted; anything else as an
/// RFC 2047 encoded word.
fn mime_phrase(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() {
        monban::text::quoted(&clean)
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(clean.as_bytes())
        )
    }
}

/// Folds a Subject before its `Submitter:` and `Report-ID:` parts (RFC 9990's example
/// folds there; each line stays under 78 characters for ordinary domains).
fn fold(subject: &str) -> String {
    subject
        .replace(" Submitter:", "\r\n Submitter:")
        .replace(" Report-ID:", "\r\n Report-ID:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9990_report_message() {
        let m = ReportMail {
            from: "dmarc@receiver.example",
            org_name: "Receiver 門番",
            to: "agg@example.com",
            submitter: "receiver.example",
            policy_domain: "example.com",
            report_id: "abc123",
            begin: 0,
            end: 86_399,
            filename: "receiver.example!example.com!0!86399!abc123.xml.gz",
            xml_gz: &[0x1f, 0x8b, 1, 2, 3],
            date: 86_400,
        }
        .render();
        let text = String::from_utf8(m).unwrap();
        assert!(text.contains("Subject: Report Domain: example.com\r\n Submitter: receiver.example\r\n Report-ID: <abc123>\r\n"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(text.contains("Message-ID: <abc123@receiver.example>\r\n"));
        assert!(text.contains("From: =?utf-8?b?"), "{text}");
        assert!(text.contains("Content-Type: application/gzip; name=\"receiver.example!example.com!0!86399!abc123.xml.gz\""));
        assert!(!text.replace("\r\n", "").contains('\n'));
    }
}
