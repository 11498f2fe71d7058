//! The reflector's reply (test-by-sending): a message sent to the configured reflector
//! address is judged as usual, and its sender gets back a report of every result, what
//! each means, the analyzer's warnings and the checker's advice for the sending domain,
//! in English and Japanese. Pure: the milter gathers the inputs and sends the bytes.
//!
//! The reply is an automatic one (RFC 3834): `Auto-Submitted: auto-replied`, sent with a
//! null envelope sender so that it is never answered or bounced in turn. [`should_reply`]
//! says when not to answer at all.

use std::fmt::Write as _;

use monban::authres::AuthenticationResults;
use monban::message::Headers;

use crate::analyze::Analysis;
use crate::check::{CheckReport, Severity};
use crate::i18n::Lang;
use crate::msg;

/// Whether a message to the reflector gets a reply (RFC 3834 §2): not to a null or
/// daemon sender, not to an automatic message or a list, never to the reflector.
pub fn should_reply(mail_from: &str, headers: &Headers, reflector: &str) -> Result<(), String> {
    let from = mail_from
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    if from.is_empty() {
        return Err("the envelope sender is null (a bounce)".into());
    }
    let local = from.rsplit_once('@').map_or(from, |(l, _)| l);
    if from.eq_ignore_ascii_case(reflector)
        || ["mailer-daemon", "postmaster", "nobody"]
            .iter()
            .any(|d| local.eq_ignore_ascii_case(d))
        || local.to_ascii_lowercase().ends_with("-request")
        || local.to_ascii_lowercase().starts_with("owner-")
    {
        return Err(format!("{from} is a daemon, list or reflector address"));
    }
    for f in headers.fields() {
        let value = String::from_utf8_lossy(f.value).trim().to_ascii_lowercase();
        if f.is("Auto-Submitted") && value != "no" {
            return Err("the message is automatic (Auto-Submitted)".into());
        }
        if f.is("Precedence") && matches!(value.as_str(), "bulk" | "list" | "junk") {
            return Err(format!("the message is Precedence: {value}"));
        }
        if f.is("List-Id") || f.is("List-Unsubscribe") {
            return Err("the message came through a list".into());
        }
    }
    Ok(())
}

/// What the reply says.
#[derive(Debug)]
pub struct Reply<'a> {
    /// The reflector address (the reply's From).
    pub reflector: &'a str,
    /// Who gets it: the message's envelope sender.
    pub to: &'a str,
    /// This host's authserv-id (for the Message-ID and the results).
    pub authserv_id: &'a str,
    /// The results, as written into the message.
    pub results: &'a AuthenticationResults,
    /// The analysis of the received message.
    pub analysis: &'a Analysis,
    /// The checker's report on the sending domain, with the setup the message came
    /// from.
    pub check: Option<&'a CheckReport>,
    /// The received message's Subject and Message-ID.
    pub subject: Option<&'a str>,
    /// Now, Unix seconds.
    pub now: i64,
}

fn section(r: &Reply<'_>, lang: Lang, out: &mut String) {
    let t = |m: crate::i18n::Msg| m.text(lang);
    let _ = writeln!(out, "{}\n", t(msg!("reflect-title")));
    let _ = writeln!(out, "{}", t(msg!("reflect-results")));
    for res in &r.results.results {
        let text = crate::analyze::explain::result_meaning(&res.method, &res.result);
        let _ = writeln!(out, "  {}", res.to_text());
        let _ = writeln!(out, "      {}", text.text(lang));
    }
    let warnings: Vec<_> = r.analysis.warnings.iter().collect();
    if !warnings.is_empty() {
        let _ = writeln!(out, "\n{}", t(msg!("reflect-warnings")));
        for w in warnings.iter().take(20) {
            let _ = writeln!(out, "  - {}", w.text.text(lang));
        }
    }
    if let Some(c) = r.check {
        let _ = writeln!(
            out,
            "\n{}",
            t(msg!("reflect-advice", domain = c.domain.as_str()))
        );
        let mut any = false;
        // "Name a selector" is advice for the checker's user, not for this sender.
        let relevant = |f: &&crate::check::Finding| {
            f.severity != Severity::Green
                && !matches!(f.step, Some(crate::check::NextStep::NameSelectors { .. }))
        };
        for f in c.findings.iter().filter(relevant) {
            any = true;
            let (message, fix) = crate::check::worded_in(lang, f);
            let mark = match f.severity {
                Severity::Red => "RED",
                _ => "YELLOW",
            };
            let _ = writeln!(out, "  [{mark}] {message}");
            if let Some(fix) = fix {
                let _ = writeln!(out, "      {}: {fix}", t(msg!("reflect-fix")));
            }
        }
        if !any {
            let _ = writeln!(out, "  {}", t(msg!("reflect-all-green")));
        }
    }
}

/// The whole reply, an RFC 5322 message with CRLF line ends.
pub fn render(r: &Reply<'_>) -> Vec<u8> {
    let mut body = String::new();
    section(r, Lang::En, &mut body);
    body.push_str("\n----------------------------------------------------------------\n\n");
    section(r, Lang::Ja, &mut body);
    let _ = writeln!(
        body,
        "\n--\nmonban ({}): Authentication-Results: {}",
        r.authserv_id,
        r.results.to_value().replace("\r\n\t", " ")
    );
    let subject = r
        .subject
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(120)
                .collect::<String>()
        })
        .unwrap_or_default();
    let encoded_subject = encode_words(&format!("Authentication report: {subject} / 認証結果"));
    let mut msg = String::new();
    let _ = write!(
        msg,
        "From: monban reflector <{from}>\r\nTo: <{to}>\r\nSubject: {encoded_subject}\r\n\
         Date: {date}\r\nMessage-ID: <reflect.{now}.{hash:x}@{host}>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        from = r.reflector,
        to = r.to,
        date = monban::rfc5322::datetime::format_rfc5322(r.now),
        now = r.now,
        hash = fxhash(r.to),
        host = r.authserv_id,
    );
    for line in body.lines() {
        msg.push_str(line);
        msg.push_str("\r\n");
    }
    msg.into_bytes()
}

/// RFC 2047 encoded words of at most 36 UTF-8 bytes each (never split inside a
/// character), folded onto lines of their own.
fn encode_words(s: &str) -> String {
    use base64::Engine as _;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 36 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3834 §2: automatic messages, lists, bounces and daemons get no reply.
    #[test]
    fn rfc3834_2_when_not_to_reply() {
        let h = |t: &str| Headers::parse(t.as_bytes()).unwrap();
        let plain = h("From: a@example.com\r\nSubject: test\r\n");
        let r = "check-auth@mx.example.net";
        assert!(should_reply("a@example.com", &plain, r).is_ok());
        assert!(should_reply("<a@example.com>", &plain, r).is_ok());
        for (from, headers) in [
            ("", "From: a@example.com\r\n"),
            ("<>", "From: a@example.com\r\n"),
            ("MAILER-DAEMON@example.com", "From: a@example.com\r\n"),
            ("list-request@example.com", "From: a@example.com\r\n"),
            ("owner-list@example.com", "From: a@example.com\r\n"),
            ("Check-Auth@mx.example.net", "From: a@example.com\r\n"),
            ("a@example.com", "Auto-Submitted: auto-replied\r\n"),
            ("a@example.com", "Precedence: bulk\r\n"),
            ("a@example.com", "List-Id: <x.example.com>\r\n"),
        ] {
            assert!(
                should_reply(from, &h(headers), r).is_err(),
                "{from} {headers}"
            );
        }
        assert!(should_reply("a@example.com", &h("Auto-Submitted: no\r\n"), r).is_ok());
    }

    #[test]
    fn encoded_subject_words_stay_short() {
        let s = encode_words(&"認証結果".repeat(30));
        for w in s.split("\r\n ") {
            assert!(w.len() <= 75, "{w}");
            assert!(w.starts_with("=?utf-8?b?") && w.ends_with("?="));
        }
    }
}
