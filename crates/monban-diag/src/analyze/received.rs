//! The `Received` trace field: RFC 5321 §4.4 and RFC 5322 §3.6.7.
//!
//! ```text
//! Time-stamp-line = "Received:" FWS Stamp <CRLF>
//! Stamp           = From-domain By-domain Opt-info [CFWS] ";" FWS date-time
//! From-domain     = "FROM" FWS Extended-Domain
//! By-domain       = CFWS "BY" FWS Extended-Domain
//! Opt-info        = [Via] [With] [ID] [For] [Additional-Registered-Clauses]
//! Extended-Domain = Domain / ( Domain FWS "(" TCP-info ")" )
//!                 / ( address-literal FWS "(" TCP-info ")" )
//! ```
//!
//! Real fields stray far from this grammar (Exchange's `with Microsoft SMTP Server
//! (version=...)`, qmail's bare comments, Exim's words after a comment), so the parser
//! is lenient: the value is split into words, comments, quoted strings, `<...>` and
//! `[...]`; a clause keyword (`from`, `by`, `via`, `with`, `id`, `for`) starts a clause,
//! the words right after it are its value and the comments and stray words that follow
//! are its detail. The date is what follows the last `;` outside comments (or, when
//! there is none, the longest tail that parses as a date). Nothing here panics, and work
//! and stored text are bounded.

use std::net::IpAddr;

use super::datetime::{self, DateTime};

/// Tokens examined per field; the rest is ignored.
const MAX_TOKENS: usize = 512;
/// Characters kept of a clause value.
const MAX_VALUE: usize = 255;
/// Characters kept of a clause's detail.
const MAX_DETAIL: usize = 512;

/// One parsed `Received` field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// `from`: the name the client gave (HELO/EHLO) or an address literal.
    pub from: Option<String>,
    /// The comments after `from` (TCP-info: reverse DNS name, IP address, `helo=`).
    pub from_detail: Option<String>,
    /// The client's IP address, when the field records one.
    pub from_ip: Option<IpAddr>,
    /// `by`: the host that received the message.
    pub by: Option<String>,
    /// The comments after `by` (often the MTA's name).
    pub by_detail: Option<String>,
    /// `via`: the link type.
    pub via: Option<String>,
    /// `with`: the protocol (`ESMTPS`, `SMTP`, `LMTP`, `Microsoft SMTP Server`).
    pub with: Option<String>,
    /// The comments and words after `with` (TLS parameters).
    pub with_detail: Option<String>,
    /// `id`: the receiving host's queue id.
    pub id: Option<String>,
    /// `for`: the recipient.
    pub for_: Option<String>,
    /// The date text, as written (comments included).
    pub date_text: Option<String>,
    /// The parsed date, or why it does not parse.
    pub date: Option<Result<DateTime, datetime::DateError>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word, quoted string, `<...>` or `[...]`, with its byte range.
    Word(String, usize),
    /// A comment's text.
    Comment(String),
    /// A `;` outside comments, at this byte offset.
    Semicolon(usize),
}

fn truncate(mut s: String, max: usize) -> String {
    if s.chars().count() > max {
        s = s.chars().take(max).collect();
        s.push('\u{2026}');
    }
    s
}

/// Splits a field value into tokens (at most [`MAX_TOKENS`]).
fn tokenize(s: &str) -> Vec<Token> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < MAX_TOKENS {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b';' => {
                out.push(Token::Semicolon(i));
                i += 1;
            }
            b'(' => {
                // The shared lexer finds the end; a comment that does not end (or
                // nests too deep) takes the rest of the field.
                let start = i;
                let (inner_end, next) = match monban::rfc5322::comment_end(b, start) {
                    Ok(end) => (end - 1, end),
                    Err(_) => (b.len(), b.len()),
                };
                // The text between the outer parentheses, as written (every delimiter is
                // ASCII, so the offsets are character boundaries).
                let text = s[start + 1..inner_end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push(Token::Comment(text));
                i = next;
            }
            open @ (b'"' | b'<' | b'[') => {
                let close = match open {
                    b'"' => b'"',
                    b'<' => b'>',
                    _ => b']',
                };
                let start = i;
                let mut j = i + 1;
                while j < b.len() && b[j] != close {
                    if open == b'"' && b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let end = (j + 1).min(b.len());
                out.push(Token::Word(s[start..end].to_owned(), start));
                i = end;
            }
            _ => {
                let start = i;
                while i < b.len() && !b" \t\r\n;(\"<[".contains(&b[i]) {
                    i += 1;
                }
                out.push(Token::Word(s[start..i].to_owned(), start));
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clause {
    From,
    By,
    Via,
    With,
    Id,
    For,
}

fn clause_of(word: &str) -> Option<Clause> {
    Some(match word.to_ascii_lowercase().as_str() {
        "from" => Clause::From,
        "by" => Clause::By,
        "via" => Clause::Via,
        "with" => Clause::With,
        "id" => Clause::Id,
        "for" => Clause::For,
        _ => return None,
    })
}

/// An IP address in a word: `[192.0.2.1]`, `[IPv6:2001:db8::1]`, or bare.
fn ip_in(word: &str) -> Option<IpAddr> {
    let w = word.trim_matches(|c: char| "[](),;".contains(c));
    let w = w
        .strip_prefix("IPv6:")
        .or_else(|| w.strip_prefix("ipv6:"))
        .unwrap_or(w);
    // A trailing ":port" on an IPv4 address (`192.0.2.1:25`).
    let w = match w.rsplit_once(':') {
        Some((a, p)) if a.contains('.') && p.bytes().all(|b| b.is_ascii_digit()) => a,
        _ => w,
    };
    w.parse().ok()
}

/// Finds the date in a stamp with no `;`: the longest tail of up to 8 words that
/// parses. Returns the byte offset where it starts.
fn trailing_date(s: &str, words: &[(usize, &str)]) -> Option<(usize, DateTime)> {
    let n = words.len();
    (n.saturating_sub(8)..n).find_map(|k| {
        let start = words[k].0;
        datetime::parse(&s[start..]).ok().map(|d| (start, d))
    })
}

/// Parses a `Received` field value. Never fails: what cannot be read stays `None`.
pub fn parse(value: &[u8]) -> Received {
    let s = String::from_utf8_lossy(value);
    let s = s.as_ref();
    let tokens = tokenize(s);
    let mut r = Received::default();

    // The date: after the last top-level ';'.
    let last_semi = tokens
        .iter()
        .rposition(|t| matches!(t, Token::Semicolon(_)));
    let (stamp, date_start) = match last_semi {
        Some(k) => {
            let Token::Semicolon(at) = tokens[k] else {
                unreachable!("rposition found a semicolon")
            };
            (&tokens[..k], Some(at + 1))
        }
        None => {
            let words: Vec<(usize, &str)> = tokens
                .iter()
                .filter_map(|t| match t {
                    Token::Word(w, at) => Some((*at, w.as_str())),
                    _ => None,
                })
                .collect();
            match trailing_date(s, &words) {
                Some((at, _)) => {
                    let cut = tokens
                        .iter()
                        .position(|t| matches!(t, Token::Word(_, p) if *p >= at))
                        .unwrap_or(tokens.len());
                    (&tokens[..cut], Some(at))
                }
                None => (&tokens[..], None),
            }
        }
    };
    if let Some(at) = date_start {
        let text = s[at..].split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() {
            r.date = Some(datetime::parse(&text));
            r.date_text = Some(truncate(text, MAX_VALUE));
        }
    }

    // The clauses.
    let mut current: Option<Clause> = None;
    let mut value: Vec<&str> = Vec::new();
    let mut detail: Vec<&str> = Vec::new();
    let mut value_closed = false;
    let finish = |r: &mut Received, clause: Option<Clause>, value: &[&str], detail: &[&str]| {
        let Some(clause) = clause else {
            return;
        };
        let v = (!value.is_empty()).then(|| truncate(value.join(" "), MAX_VALUE));
        let d = (!detail.is_empty()).then(|| truncate(detail.join(" "), MAX_DETAIL));
        // The first occurrence of a clause wins.
        let (slot, detail_slot) = match clause {
            Clause::From => (&mut r.from, Some(&mut r.from_detail)),
            Clause::By => (&mut r.by, Some(&mut r.by_detail)),
            Clause::Via => (&mut r.via, None),
            Clause::With => (&mut r.with, Some(&mut r.with_detail)),
            Clause::Id => (&mut r.id, None),
            Clause::For => (&mut r.for_, None),
        };
        if slot.is_none() && v.is_some() {
            *slot = v;
            if let Some(ds) = detail_slot {
                *ds = d;
            }
        }
    };
    for t in stamp {
        match t {
            Token::Word(w, _) => {
                if let Some(c) = clause_of(w) {
                    // A keyword ends the previous clause, unless it is that clause's
                    // missing value.
                    if current.is_none() || !value.is_empty() || value_closed {
                        finish(&mut r, current, &value, &detail);
                        current = Some(c);
                        value.clear();
                        detail.clear();
                        value_closed = false;
                        continue;
                    }
                }
                if current.is_some() && !value_closed {
                    value.push(w);
                } else {
                    detail.push(w);
                }
            }
            Token::Comment(c) => {
                if current.is_some() && !value.is_empty() {
                    value_closed = true;
                }
                detail.push(c);
            }
            Token::Semicolon(_) => {
                value_closed = true;
            }
        }
    }
    finish(&mut r, current, &value, &detail);

    // The client's address: the TCP-info's, which the receiving host took from the
    // connection (RFC 5321 §4.4: `Extended-Domain = ... Domain FWS "(" TCP-info ")"`),
    // before the from value, which is what the client said in HELO (an address
    // literal there is the client's word, and a spoofer's choice). The from value is
    // the address only when the TCP-info holds none (Exim's `from [192.0.2.1]
    // (helo=...)`).
    r.from_ip = r
        .from_detail
        .as_deref()
        .and_then(tcp_info_ip)
        .or_else(|| r.from.as_deref().and_then(ip_in));
    r
}

/// The words of a TCP-info comment, split as stamps write them.
fn detail_words(detail: &str) -> impl Iterator<Item = &str> {
    detail
        .split(|c: char| c.is_whitespace() || c == '=' || c == ',')
        .filter(|w| !w.is_empty())
}

fn is_helo_word(w: &str) -> bool {
    let w = w.trim_matches(|c: char| "[](),;".contains(c));
    w.eq_ignore_ascii_case("helo") || w.eq_ignore_ascii_case("ehlo")
}

/// The connection's address in a TCP-info comment: the last address in it that is not
/// the HELO argument (qmail's `(HELO [10.0.0.1]) (192.0.2.25)`, Exim's
/// `([192.0.2.1] helo=[10.0.0.1])`, Postfix's `(name [192.0.2.1])`).
fn tcp_info_ip(detail: &str) -> Option<IpAddr> {
    let mut after_helo = false;
    let mut found = None;
    for w in detail_words(detail) {
        if is_helo_word(w) {
            after_helo = true;
            continue;
        }
        if !after_helo && let Some(ip) = ip_in(w) {
            found = Some(ip);
        }
        after_helo = false;
    }
    found
}

/// The HELO argument a TCP-info comment records (`helo=name`, `HELO name`), if any:
/// Exim and qmail write the reverse DNS name as the from value and the HELO here.
pub fn helo_in_detail(detail: &str) -> Option<&str> {
    let mut words = detail_words(detail);
    while let Some(w) = words.next() {
        if is_helo_word(w) {
            return words
                .next()
                .map(|h| h.trim_matches(|c: char| "(),;".contains(c)))
                .filter(|h| !h.is_empty());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's address is the one the receiving host saw (the TCP-info), not an
    /// address literal the client gave in HELO (the from value), as Postfix, Gmail,
    /// qmail and Exim write their stamps; and the HELO name is found where each puts it.
    #[test]
    fn rfc5321_4_4_the_connection_address_not_the_helo_literal() {
        for (stamp, ip, helo) in [
            (
                " from [192.0.2.25] (unknown [198.51.100.66]) by mx.test (Postfix) with ESMTP id 1; Sun, 22 Nov 2026 10:00:02 +0000",
                "198.51.100.66",
                None,
            ),
            (
                " from [192.0.2.25] ([198.51.100.66]) by mx.google.com with ESMTPS id x; Sun, 22 Nov 2026 10:00:02 -0800 (PST)",
                "198.51.100.66",
                None,
            ),
            (
                " from unknown (HELO [192.0.2.25]) (198.51.100.66) by mx.test with SMTP; 22 Nov 2026 10:00:02 -0000",
                "198.51.100.66",
                Some("[192.0.2.25]"),
            ),
            (
                " from host.example ([198.51.100.66] helo=[192.0.2.25]) by mx.test with esmtp (Exim 4.96) id 1; Sun, 22 Nov 2026 10:00:02 +0000",
                "198.51.100.66",
                Some("[192.0.2.25]"),
            ),
            (
                " from [198.51.100.66] (helo=mail.example.org) by mx.test with esmtp (Exim 4.96) id 1; Sun, 22 Nov 2026 10:00:02 +0000",
                "198.51.100.66",
                Some("mail.example.org"),
            ),
            (
                " from unknown (HELO mail.example.org) (198.51.100.66) by mx.test with SMTP; 22 Nov 2026 10:00:02 -0000",
                "198.51.100.66",
                Some("mail.example.org"),
            ),
        ] {
            let r = parse(stamp.as_bytes());
            assert_eq!(r.from_ip, Some(ip.parse().unwrap()), "{stamp}");
            assert_eq!(
                r.from_detail.as_deref().and_then(helo_in_detail),
                helo,
                "{stamp}"
            );
        }
    }

    #[test]
    fn rfc5321_4_4_postfix_stamp() {
        let r = parse(b" from mail.example.com (mail.example.com [192.0.2.25])\r\n\tby mx.example.net (Postfix) with ESMTPS id 4XyzAbC123\r\n\tfor <bob@example.net>; Sun, 22 Nov 2026 10:00:02 +0900 (JST)");
        assert_eq!(r.from.as_deref(), Some("mail.example.com"));
        assert_eq!(
            r.from_detail.as_deref(),
            Some("mail.example.com [192.0.2.25]")
        );
        assert_eq!(r.from_ip, Some("192.0.2.25".parse().unwrap()));
        assert_eq!(r.by.as_deref(), Some("mx.example.net"));
        assert_eq!(r.by_detail.as_deref(), Some("Postfix"));
        assert_eq!(r.with.as_deref(), Some("ESMTPS"));
        assert_eq!(r.id.as_deref(), Some("4XyzAbC123"));
        assert_eq!(r.for_.as_deref(), Some("<bob@example.net>"));
        assert_eq!(
            r.date.unwrap().unwrap().to_iso8601(),
            "2026-11-22T10:00:02+09:00"
        );
    }

    /// A clause value of 255 characters and a detail of 512 are kept whole; one more
    /// character and they are cut there, with "…" (characters, not bytes).
    #[test]
    fn values_and_details_are_cut_with_an_ellipsis() {
        for extra in [0, 1] {
            let value = "é".repeat(MAX_VALUE + extra);
            let detail = "d".repeat(MAX_DETAIL + extra);
            let r = parse(
                format!(
                    " from {value} ({detail}) by mx.example.net; Sun, 22 Nov 2026 10:00:02 +0900"
                )
                .as_bytes(),
            );
            let (from, from_detail) = (r.from.unwrap(), r.from_detail.unwrap());
            if extra == 0 {
                assert_eq!(
                    (from.as_str(), from_detail.as_str()),
                    (value.as_str(), detail.as_str())
                );
            } else {
                assert_eq!(from, format!("{}\u{2026}", "é".repeat(MAX_VALUE)));
                assert_eq!(from_detail, format!("{}\u{2026}", "d".repeat(MAX_DETAIL)));
            }
            assert_eq!(r.by.as_deref(), Some("mx.example.net"));
        }
    }

    #[test]
    fn exchange_stamp() {
        let r = parse(b" from TYAPR01MB1234.jpnprd01.prod.outlook.com (2603:1096:404:8034::21)\r\n by OS3PR01MB5678.jpnprd01.prod.outlook.com (2603:1096:604:31::10) with\r\n Microsoft SMTP Server (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8207.18; Sun, 22 Nov\r\n 2026 01:00:03 +0000");
        assert_eq!(r.with.as_deref(), Some("Microsoft SMTP Server"));
        assert_eq!(r.id.as_deref(), Some("15.20.8207.18"));
        assert_eq!(r.from_ip, Some("2603:1096:404:8034::21".parse().unwrap()));
        assert!(r.with_detail.unwrap().contains("TLS1_2"));
        assert_eq!(r.date.unwrap().unwrap().unix, 1_795_309_203);
    }

    #[test]
    fn exim_and_qmail_stamps() {
        let r = parse(b" from [198.51.100.7] (port=51234 helo=laptop)\r\n\tby mail.example.org with esmtpsa (TLS1.3) tls TLS_AES_256_GCM_SHA384\r\n\t(Exim 4.96) (envelope-from <a@example.org>) id 1tAbCd-000123-Xy; Sun, 22 Nov 2026 01:00:00 +0000");
        assert_eq!(r.from.as_deref(), Some("[198.51.100.7]"));
        assert_eq!(r.from_ip, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(r.with.as_deref(), Some("esmtpsa"));
        assert!(r.with_detail.unwrap().contains("Exim 4.96"));
        assert_eq!(r.id.as_deref(), Some("1tAbCd-000123-Xy"));
        let q = parse(b" (qmail 12345 invoked by uid 89); 22 Nov 2026 01:00:00 -0000");
        assert_eq!(q.from, None);
        assert_eq!(q.by, None);
        assert!(q.date.unwrap().unwrap().zone_unknown);
    }

    #[test]
    fn stamp_without_semicolon() {
        let r =
            parse(b" from a.example by b.example with SMTP id 42 Sun, 22 Nov 2026 01:00:00 +0000");
        assert_eq!(r.id.as_deref(), Some("42"));
        assert_eq!(r.date.unwrap().unwrap().unix, 1_795_309_200);
        let r = parse(b" from a.example by b.example");
        assert_eq!(r.by.as_deref(), Some("b.example"));
        assert!(r.date.is_none());
    }

    #[test]
    fn hostile_stamps_do_not_panic() {
        for v in [
            &b""[..],
            b";",
            b"(((((",
            b")))) from",
            b"from from from by by",
            b"[ < \" ( \\",
            b"from \xff\xfe by \xc3; \xe9",
            b"from x (a \\",
        ] {
            let _ = parse(v);
        }
        let deep = format!("from x {}; 1 Jan 2026 00:00 +0000", "(".repeat(100_000));
        let _ = parse(deep.as_bytes());
        let many = "from a ".repeat(100_000);
        let r = parse(many.as_bytes());
        assert_eq!(r.from.as_deref(), Some("a"));
    }
}
