//! RFC 9991 failure reports: when the policy's `fo=` asks for one (RFC 9989 §4.7 `fo`,
//! RFC 9991 §3), and its body in the Abuse Reporting Format for authentication
//! failures (RFC 5965, RFC 6591): a human-readable part, the `message/feedback-report`
//! part with `Auth-Failure: dmarc`, `Identity-Alignment` and the DKIM/SPF fields RFC
//! 9991 §3.2 requires, and the failed message's header (`text/rfc822-headers`) with
//! local parts redacted by default (RFC 9991 §6 "Privacy Considerations").
//!
//! Pure: the caller gives the evaluation, the header, the SPF record it used (the
//! `SPF-DNS` field) and the time; sending is the reporting jobs' part.

use std::fmt::Write as _;

use crate::authres::AuthenticationResults;
use crate::dkim::DkimResult;
use crate::dmarc::{DmarcRecord, DmarcResult, Psd};
use crate::message::Headers;
use crate::pipeline::{Envelope, Report};
use crate::spf::SpfResult;

/// The header fields whose `@` are not addresses of people (message identifiers):
/// left as they are. In every other field each address's local part is redacted (RFC
/// 9991 §6): From, To, Cc, but also `Received: ... for <user@...>`, upstream
/// `Authentication-Results`, `Envelope-To` and the like.
const NOT_ADDRESSES: &[&str] = &[
    "message-id",
    "in-reply-to",
    "references",
    "content-id",
    "resent-message-id",
];

/// Signatures (tag lists, RFC 6376 §3.2): only their `i=` (the signing identity, an
/// address) and `z=` (copies of the signed fields) can quote the sender; those tags
/// are redacted, the others (base64 hashes, names) left as they are.
const SIGNATURES: &[&str] = &["dkim-signature", "arc-seal", "arc-message-signature"];

/// The largest header included (the rest is cut at a field boundary and said so).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Whether the record's `fo=` asks for a failure report on this evaluation (RFC 9989
/// §4.7): `0` (the default) when no mechanism produced an aligned pass, `1` when any
/// did not, `d` when a DKIM signature failed to verify, `s` when SPF failed. Never for a
/// public suffix domain's record (`psd=y`, RFC 9991 §3), nor without `ruf=`.
pub fn wanted(record: &DmarcRecord, report: &Report) -> bool {
    if record.psd == Psd::Yes || record.ruf.is_empty() {
        return false;
    }
    let d = &report.dmarc;
    let options: Vec<&str> = if record.fo.is_empty() {
        vec!["0"]
    } else {
        record.fo.iter().map(|s| s.trim()).collect()
    };
    options
        .iter()
        .any(|o| match o.to_ascii_lowercase().as_str() {
            "0" => d.result == DmarcResult::Fail && !d.dkim_aligned && !d.spf_aligned,
            "1" => !d.dkim_aligned || !d.spf_aligned,
            "d" => report.dkim.iter().any(|k| k.result == DkimResult::Fail),
            "s" => report
                .spf
                .as_ref()
                .is_some_and(|s| s.result == SpfResult::Fail),
            _ => false,
        })
}

/// The SPF record published at `domain` (for `SPF-DNS`), from the resolver (its cache
/// holds it: the evaluation just read it).
pub async fn spf_record<R: monban_dns::Resolver>(resolver: &R, domain: &str) -> Option<String> {
    let answer = resolver
        .lookup(domain, monban_dns::RecordType::Txt)
        .await
        .ok()?;
    answer
        .records
        .iter()
        .filter_map(|r| match r {
            monban_dns::Record::Txt(t) => Some(String::from_utf8_lossy(&t.joined()).into_owned()),
            _ => None,
        })
        .find(|t| {
            t.get(..6).is_some_and(|v| v.eq_ignore_ascii_case("v=spf1"))
                && (t.len() == 6 || t.as_bytes()[6] == b' ')
        })
}

/// What one failure report says.
#[derive(Debug, Clone)]
pub struct FailureInput<'a> {
    /// The evaluation.
    pub report: &'a Report,
    /// The SMTP envelope.
    pub envelope: &'a Envelope,
    /// The failed message's header.
    pub header: &'a Headers,
    /// When it arrived (Unix seconds).
    pub arrival: i64,
    /// This receiver's authserv-id (the `Authentication-Results` field).
    pub authserv_id: &'a str,
    /// The SPF record that was evaluated, when there was one (`SPF-DNS`).
    pub spf_record: Option<&'a str>,
    /// Redact local parts (the default; RFC 9991 §6).
    pub redact: bool,
    /// The reporting software (`User-Agent`).
    pub user_agent: &'a str,
}

/// A rendered failure report: the `Content-Type` of the message and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureBody {
    /// The value of the top-level `Content-Type` (multipart/report).
    pub content_type: String,
    /// The body (CRLF line endings).
    pub body: String,
    /// A Subject (RFC 9991 leaves it free; the reported domain and the failure).
    pub subject: String,
}

impl FailureInput<'_> {
    /// The report body (RFC 6591 §3, RFC 9991 §3.2).
    pub fn render(&self, boundary: &str) -> FailureBody {
        let d = &self.report.dmarc;
        let domain = d.header_from.clone().unwrap_or_default();
        let mut alignment = Vec::new();
        if d.dkim_aligned {
            alignment.push("dkim");
        }
        if d.spf_aligned {
            alignment.push("spf");
        }
        let alignment = if alignment.is_empty() {
            "none".to_owned()
        } else {
            alignment.join(", ")
        };
        let ip = self
            .envelope
            .ip
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_canonical().to_string());
        let date = crate::rfc5322::datetime::format_rfc5322(self.arrival);
        let mut b = String::new();
        let _ = write!(
            b,
            "This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\n\
             A message claiming to be from {domain} {what} at this receiver.\r\n\
             It came from {ip} on {date}.\r\n\r\n--{boundary}\r\n\
             Content-Type: message/feedback-report\r\n\r\n",
            domain = ascii(&domain),
            what = if d.result == DmarcResult::Pass {
                // fo=1, d or s: DMARC passed, a mechanism did not give an aligned pass.
                format!(
                    "passed DMARC, but not every check its domain asks a report about \
                     (fo=) gave an aligned pass (aligned: {alignment})"
                )
            } else {
                format!("did not pass DMARC (DMARC {})", d.result.as_str())
            },
        );
        let mut field = |name: &str, value: &str| {
            let _ = write!(b, "{name}: {}\r\n", one_line(value));
        };
        field("Feedback-Type", "auth-failure");
        field("User-Agent", self.user_agent);
        field("Version", "1");
        if let Some(m) = &self.envelope.mail_from {
            field("Original-Mail-From", &format!("<{}>", self.address(m)));
        }
        field("Arrival-Date", &date);
        field("Source-IP", &ip);
        field("Reported-Domain", &ascii(&domain));
        // RFC 9991 §3.2 / RFC 6591 §3.2: `dmarc` when DMARC failed; with fo=1, d or s
        // on mail that passed DMARC, the mechanism that did not give an aligned pass:
        // `signature` for DKIM (a signature that failed, or none aligned that passed:
        // RFC 6591 has no value for a missing one), else `spf`. Never `dmarc` for mail
        // that passed it.
        let dkim_failed = self
            .report
            .dkim
            .iter()
            .any(|k| k.result == DkimResult::Fail);
        let spf_failed = self
            .report
            .spf
            .as_ref()
            .is_some_and(|s| s.result == SpfResult::Fail);
        let auth_failure = if d.result != DmarcResult::Pass {
            "dmarc"
        } else if dkim_failed || (!spf_failed && !d.dkim_aligned) {
            "signature"
        } else {
            "spf"
        };
        field("Auth-Failure", auth_failure);
        field("Identity-Alignment", &alignment);
        let mut results = self.report.authentication_results(self.authserv_id).results;
        for p in results.iter_mut().flat_map(|r| r.properties.iter_mut()) {
            if p.value.contains('@') {
                p.value = self.address(&p.value);
            }
        }
        let ar = AuthenticationResults {
            authserv_id: self.authserv_id.to_owned(),
            version: None,
            results,
        };
        field("Authentication-Results", &ar.to_value());
        // RFC 9991 §3.2: the DKIM fields for the signature that failed (else the first).
        let dkim = self
            .report
            .dkim
            .iter()
            .find(|k| k.result != DkimResult::Pass)
            .or_else(|| self.report.dkim.first());
        if let Some(k) = dkim {
            field("DKIM-Domain", &k.domain);
            if !k.identity.is_empty() {
                field("DKIM-Identity", &self.address(&k.identity));
            }
            field("DKIM-Selector", &k.selector);
        }
        let spf = self.report.spf.as_ref().or(self.report.helo.as_ref());
        if let Some(s) = spf {
            let record = self.spf_record.map_or_else(
                || "(none)".to_owned(),
                |r| crate::text::quoted(&one_line(r)),
            );
            field("SPF-DNS", &format!("txt : {} : {record}", s.domain()));
        }
        let _ = write!(
            b,
            "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{}\r\n--{boundary}--\r\n",
            self.header_text()
        );
        FailureBody {
            content_type: format!(
                "multipart/report; report-type=feedback-report; boundary=\"{boundary}\""
            ),
            body: b,
            subject: format!("DMARC failure report for {} from {ip}", ascii(&domain)),
        }
    }

    /// An address with its local part redacted, when redaction is on.
    fn address(&self, addr: &str) -> String {
        if !self.redact {
            return one_line(addr);
        }
        match addr.rsplit_once('@') {
            Some((_, domain)) => format!("redacted@{}", one_line(domain)),
            None if addr.is_empty() => String::new(),
            None => "redacted".to_owned(),
        }
    }

    /// The header as received, address fields redacted, at most
    /// [`MAX_HEADER_BYTES`]; CRLF line endings; non-ASCII bytes kept out (the part is
    /// 7bit).
    fn header_text(&self) -> String {
        let mut out = String::new();
        for f in self.header.fields() {
            let name = String::from_utf8_lossy(f.name).into_owned();
            let raw = String::from_utf8_lossy(f.value);
            let is = |list: &[&str]| list.iter().any(|n| name.eq_ignore_ascii_case(n));
            let value = if !self.redact || is(NOT_ADDRESSES) {
                raw.into_owned()
            } else if is(SIGNATURES) {
                redact_signature(&raw)
            } else {
                redact_addresses(&raw)
            };
            let line = format!("{}:{}\r\n", one_line(&name), header_lines(&value));
            if out.len() + line.len() > MAX_HEADER_BYTES {
                out.push_str("X-Monban-Truncated: the rest of the header is left out\r\n");
                break;
            }
            out.push_str(&line);
        }
        out
    }
}

/// A field value as lines of the `text/rfc822-headers` part: CRLF only where the
/// field was folded (a line break followed by white space); a bare CR or LF, or a
/// break that would start a new field, becomes a space (RFC 5321 §2.3.8: CR and LF
/// only together, as CRLF).
fn header_lines(value: &str) -> String {
    let value = ascii(value).replace("\r\n", "\n");
    let mut out = String::with_capacity(value.len() + 16);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' if matches!(chars.peek(), Some(' ' | '\t')) => out.push_str("\r\n"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A signature's tag list with the local part of `i=` redacted and `z=` (the signed
/// fields as copied by the signer, addresses and all) replaced.
fn redact_signature(value: &str) -> String {
    value
        .split(';')
        .map(|tag| {
            let Some((name, v)) = tag.split_once('=') else {
                return tag.to_owned();
            };
            match name.trim() {
                "i" if v.contains('@') => format!("{name}={}", redact_addresses(v)),
                "z" => format!("{name}=redacted"),
                _ => tag.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Every `local@domain` in a field value becomes `redacted@domain`, and so does a
/// percent-encoded `local%40domain` (in a URL: `List-Unsubscribe`); display names
/// stay (they are what the recipient saw).
fn redact_addresses(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '%' && chars.get(i + 1) == Some(&'4') && chars.get(i + 2) == Some(&'0') {
            // An address in a URL: its local part runs back to the URL's delimiters.
            let mut cut = out.len();
            for (pos, c) in out.char_indices().rev() {
                if matches!(
                    c,
                    '<' | ' '
                        | '\t'
                        | ','
                        | ':'
                        | '\n'
                        | '\r'
                        | '('
                        | '"'
                        | '?'
                        | '&'
                        | '='
                        | '/'
                        | ';'
                ) {
                    break;
                }
                cut = pos;
            }
            if cut < out.len() {
                out.truncate(cut);
                out.push_str("redacted");
            }
        } else if chars[i] == '@' && out.ends_with('"') {
            // A quoted local part ("a b"@example.com): back to its opening quote.
            let body = &out[..out.len() - 1];
            if let Some(open) = body.rfind('"') {
                out.truncate(open);
                out.push_str("redacted");
            }
        } else if chars[i] == '@' {
            // Drop the local part already written: back to the last delimiter.
            let mut cut = out.len();
            for (pos, c) in out.char_indices().rev() {
                if matches!(c, '<' | ' ' | '\t' | ',' | ':' | '\n' | '\r' | '(' | '"') {
                    break;
                }
                cut = pos;
            }
            if cut < out.len() {
                out.truncate(cut);
                out.push_str("redacted");
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Printable ASCII only (the report parts are 7bit): anything else becomes `?`.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && (c >= ' ' || c == '\t' || c == '\r' || c == '\n') {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// One line: line breaks and controls become spaces (a field value from the message
/// must not start a new field).
fn one_line(s: &str) -> String {
    ascii(s)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{VerifyConfig, verify_message};
    use monban_dns::{Record, Txt, ZoneResolver};

    fn evaluate(dmarc: &str, ip: &str) -> (Report, Envelope, ZoneResolver) {
        let mut z = ZoneResolver::new();
        let txt = |s: &str| Record::Txt(Txt::new([s.as_bytes().to_vec()]));
        z.insert("example.com", txt("v=spf1 ip4:192.0.2.0/24 -all"), 300);
        z.insert("_dmarc.example.com", txt(dmarc), 300);
        let env = Envelope {
            ip: Some(ip.parse().unwrap()),
            helo: Some("client.example".into()),
            mail_from: Some("alice@example.com".into()),
            rcpt_to: Vec::new(),
        };
        let msg = b"From: Alice <alice@example.com>\r\nTo: bob@example.net, \"Carol\" <carol@example.org>\r\nSubject: hi\r\n\r\nbody\r\n";
        let report = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(verify_message(
                msg,
                env.clone(),
                VerifyConfig::default(),
                1_795_946_400,
                &z,
            ));
        (report, env, z)
    }

    #[test]
    fn rfc9991_fo_options_psd_and_ruf() {
        let wants = |dmarc: &str, ip: &str| {
            let (r, _, _) = evaluate(dmarc, ip);
            wanted(r.dmarc.record.as_ref().unwrap(), &r)
        };
        let ruf = "v=DMARC1; p=reject; ruf=mailto:ruf@example.com";
        // fo=0 (default): only when nothing aligned passed.
        assert!(wants(ruf, "203.0.113.9"));
        assert!(!wants(ruf, "192.0.2.10"));
        // fo=1: any mechanism without an aligned pass (here DKIM: unsigned).
        assert!(wants(&format!("{ruf}; fo=1"), "192.0.2.10"));
        // fo=s: SPF failed; fo=d: no DKIM signature failed.
        assert!(wants(&format!("{ruf}; fo=s"), "203.0.113.9"));
        assert!(!wants(&format!("{ruf}; fo=d"), "203.0.113.9"));
        // No ruf, or a public suffix domain's record: never.
        assert!(!wants("v=DMARC1; p=reject; fo=1", "203.0.113.9"));
        assert!(!wants(&format!("{ruf}; psd=y"), "203.0.113.9"));
    }

    #[test]
    fn rfc9991_3_2_report_fields_and_redaction() {
        let (r, env, _) = evaluate(
            "v=DMARC1; p=reject; ruf=mailto:ruf@example.com",
            "203.0.113.9",
        );
        let header = r.header.clone().unwrap();
        let body = FailureInput {
            report: &r,
            envelope: &env,
            header: &header,
            arrival: 1_795_946_400,
            authserv_id: "mx.receiver.example",
            spf_record: Some("v=spf1 ip4:192.0.2.0/24 -all"),
            redact: true,
            user_agent: "monban/test",
        }
        .render("b1");
        let b = &body.body;
        for want in [
            "Content-Type: message/feedback-report\r\n",
            "Feedback-Type: auth-failure\r\n",
            "Version: 1\r\n",
            "Auth-Failure: dmarc\r\n",
            "Identity-Alignment: none\r\n",
            "Original-Mail-From: <redacted@example.com>\r\n",
            "Source-IP: 203.0.113.9\r\n",
            "Reported-Domain: example.com\r\n",
            "Arrival-Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n",
            "SPF-DNS: txt : example.com : \"v=spf1 ip4:192.0.2.0/24 -all\"\r\n",
            "Content-Type: text/rfc822-headers\r\n",
            "From: Alice <redacted@example.com>\r\n",
            "To: redacted@example.net, \"Carol\" <redacted@example.org>\r\n",
            "Subject: hi\r\n",
            "--b1--\r\n",
        ] {
            assert!(b.contains(want), "no {want:?} in\n{b}");
        }
        assert!(
            b.contains("Authentication-Results: mx.receiver.example;"),
            "{b}"
        );
        assert!(!b.contains("alice@"), "{b}");
        assert!(
            body.content_type
                .starts_with("multipart/report; report-type=feedback-report")
        );
        assert!(b.is_ascii());
    }

    /// The report body for an evaluation and a header, without an SPF record.
    fn rendered(r: &Report, env: &Envelope, header: &[u8]) -> String {
        let header = Headers::parse(header).unwrap();
        FailureInput {
            report: r,
            envelope: env,
            header: &header,
            arrival: 1_795_946_400,
            authserv_id: "mx.receiver.example",
            spf_record: None,
            redact: true,
            user_agent: "monban/test",
        }
        .render("b1")
        .body
    }

    /// A trial's F5 and F6: the failed message's signature named its sender in `i=`
    /// (the report's `DKIM-Identity` said `redacted@`), and a Subject with a bare CR
    /// reached the report as is.
    #[test]
    fn rfc9991_6_signature_identity_redacted_and_rfc5321_2_3_8_no_bare_cr() {
        let (r, env, _) = evaluate(
            "v=DMARC1; p=reject; ruf=mailto:ruf@example.com",
            "203.0.113.9",
        );
        let b = rendered(
            &r,
            &env,
            b"From: john.doe@example.com\r\nDKIM-Signature: v=1; d=example.com; s=s1;\r\n i=john.doe@example.com; bh=x=; b=y\r\nSubject: evil\rX-Injected: yes\r\n",
        );
        assert!(!b.contains("john.doe"), "{b}");
        assert!(b.contains("i=redacted@example.com;"), "{b}");
        assert!(b.contains("Subject: evil X-Injected: yes\r\n"), "{b}");
        let bytes = b.as_bytes();
        for (i, &c) in bytes.iter().enumerate() {
            match c {
                b'\r' => assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
                b'\n' => assert_eq!(bytes[i - 1], b'\r', "bare LF at {i}"),
                _ => {}
            }
        }
    }

    /// The header included is at most 64 KiB, cut at a field and said so.
    #[test]
    fn rfc9991_3_2_header_is_bounded_and_a_cut_is_said() {
        let (r, env, _) = evaluate(
            "v=DMARC1; p=reject; ruf=mailto:ruf@example.com",
            "203.0.113.9",
        );
        let render = |lines: usize| {
            // 64 bytes a line: 1024 lines are exactly the bound.
            let block: String = (0..lines)
                .map(|i| format!("X-Pad-{i:04}: {}\r\n", "a".repeat(50)))
                .collect();
            rendered(&r, &env, block.as_bytes())
        };
        assert_eq!(MAX_HEADER_BYTES, 1024 * 64);
        let whole = render(1024);
        assert!(whole.contains("X-Pad-1023: "));
        assert!(!whole.contains("X-Monban-Truncated"));
        let cut = render(1025);
        assert!(cut.contains("X-Pad-1023: "));
        assert!(!cut.contains("X-Pad-1024"));
        assert!(cut.contains("X-Monban-Truncated: the rest of the header is left out\r\n"));
    }

    /// fo=1 on mail that passed DMARC by SPF alone (no signature): a report is wanted,
    /// and it does not say DMARC failed (it said `Auth-Failure: dmarc`).
    #[test]
    fn fo_1_on_mail_that_passed_dmarc_names_the_mechanism() {
        let (r, env, _) = evaluate(
            "v=DMARC1; p=reject; fo=1; ruf=mailto:ruf@example.com",
            "192.0.2.10",
        );
        assert_eq!(r.dmarc.result, DmarcResult::Pass);
        let record = r.dmarc.record.clone().unwrap();
        assert!(wanted(&record, &r));
        let body = rendered(&r, &env, b"From: alice@example.com\r\n");
        assert!(body.contains("Auth-Failure: signature\r\n"), "{body}");
        assert!(body.contains("Identity-Alignment: spf\r\n"), "{body}");
        assert!(body.contains("passed DMARC, but not every check"), "{body}");
        assert!(!body.contains("Auth-Failure: dmarc"), "{body}");
    }

    #[test]
    fn rfc9991_6_addresses_are_redacted() {
        assert_eq!(
            redact_addresses(" Alice Example <alice@example.com>, bob@example.net"),
            " Alice Example <redacted@example.com>, redacted@example.net"
        );
        assert_eq!(
            redact_addresses(" undisclosed-recipients:;"),
            " undisclosed-recipients:;"
        );
        assert_eq!(one_line("a\r\nInjected: x"), "a  Injected: x");
        // A trial's F5: the signing identity and the copied fields of a signature,
        // and an address percent-encoded in a URL.
        assert_eq!(
            redact_signature(
                " v=1; a=rsa-sha256; d=example.org; s=s1;\r\n\ti=john.doe@example.org; z=From:john.doe=40example.org; bh=ab=; b=cd=="
            ),
            " v=1; a=rsa-sha256; d=example.org; s=s1;\r\n\ti=redacted@example.org; z=redacted; bh=ab=; b=cd=="
        );
        assert_eq!(redact_signature(" i=1; a=rsa-sha256"), " i=1; a=rsa-sha256");
        assert_eq!(
            redact_addresses(" <https://l.example/u?list=x&e=bob.smith%40receiver.example>"),
            " <https://l.example/u?list=x&e=redacted%40receiver.example>"
        );
        // A trial's F6: a bare CR or LF never reaches the report; folding stays.
        assert_eq!(
            header_lines(" evil\rX-Injected: yes"),
            " evil X-Injected: yes"
        );
        assert_eq!(
            header_lines(" evil\nX-Injected: yes"),
            " evil X-Injected: yes"
        );
        assert_eq!(header_lines(" a,\r\n b\n\tc"), " a,\r\n b\r\n\tc");
        assert_eq!(ascii("日本"), "??");
    }
}
