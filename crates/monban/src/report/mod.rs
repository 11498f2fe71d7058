//! DMARC reports: RFC 9990 aggregate reports ([`aggregate`]), RFC 9991 failure
//! reports ([`failure`]) and the test that keeps report mail from triggering reports of
//! its own ([`is_report_mail`]).

pub mod aggregate;
pub mod arf;
pub mod failure;
pub mod parse;
pub mod tlsrpt;

use crate::message::Headers;

/// Whether a message is itself a report or a bounce: an RFC 9990 aggregate report
/// (Subject `Report Domain: ...`), or any `multipart/report` (RFC 6522: failure
/// reports in ARF, delivery status notifications). Such mail is recorded and counted,
/// but never causes a report to be sent by itself, so two reporters cannot feed each
/// other a report for every report.
pub fn is_report_mail(headers: &Headers) -> bool {
    let subject = headers.get("subject").next().map(|f| f.value);
    if let Some(s) = subject {
        let s = s.trim_ascii();
        if s.len() >= 14 && s[..14].eq_ignore_ascii_case(b"Report Domain:") {
            return true;
        }
    }
    headers.get("content-type").next().is_some_and(|f| {
        let v = f.value.trim_ascii();
        v.len() >= 16 && v[..16].eq_ignore_ascii_case(b"multipart/report")
    })
}

/// An address as reports give it (`source_ip`, `Source-IP`), in its canonical form (so
/// that `2001:DB8::1` and `2001:db8:0::1` are one source); `None` when it is not one.
pub(crate) fn canonical_ip(v: &str) -> Option<String> {
    v.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_mail_is_recognised() {
        let h = |s: &str| Headers::parse(s.as_bytes()).unwrap();
        assert!(is_report_mail(&h(
            "Subject: Report Domain: example.com Submitter: r.example\r\n"
        )));
        assert!(is_report_mail(&h(
            "Content-Type: Multipart/Report; report-type=feedback-report\r\n"
        )));
        assert!(!is_report_mail(&h("Subject: Report\r\n")));
        assert!(!is_report_mail(&h(
            "Subject: hello\r\nContent-Type: text/plain\r\n"
        )));
    }
}
