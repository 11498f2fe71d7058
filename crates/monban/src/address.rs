//! Addresses in header fields: RFC 5322 §3.4 (with the obsolete syntax of §4.4), enough
//! to find the mailboxes of a `From` field exactly as a careful receiver must.
//!
//! The parser works on raw syntax: comments, quoted-strings, display names, route
//! addresses (`<@a,@b:user@example.com>`), domain literals and encoded words are all
//! recognised as what they are. An encoded word (RFC 2047) is only ever a word of a
//! display name; it is never decoded into an address. Anything that does not parse is
//! an error, never a guess.

use crate::rfc5322;
use std::fmt;

/// The most mailboxes read from one field.
pub const MAX_MAILBOXES: usize = 100;

/// One mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name as written (quotes and comments removed, words joined by single
    /// spaces), if any.
    pub display_name: Option<String>,
    /// The local part as written (a quoted local part keeps its quotes' content).
    pub local_part: String,
    /// The domain, lowercase (ASCII), without brackets for a domain literal.
    pub domain: String,
    /// Whether the domain was a domain literal (`[192.0.2.1]`).
    pub domain_literal: bool,
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain_literal {
            write!(f, "{}@[{}]", self.local_part, self.domain)
        } else {
            write!(f, "{}@{}", self.local_part, self.domain)
        }
    }
}

/// Why an address list does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing but white space and comments.
    #[error("no address")]
    Empty,
    /// A syntax error at a byte offset.
    #[error("unexpected {found} at offset {offset}")]
    Syntax {
        /// Where.
        offset: usize,
        /// What was found there.
        found: String,
    },
    /// A group (`name: a@b, c@d;`), which a From field must not contain for DMARC.
    #[error("a group (display-name ':' ... ';') is not a mailbox")]
    Group,
    /// Comments nested too deep, or too many mailboxes.
    #[error("the field is too complex (nesting or number of addresses)")]
    TooComplex,
    /// The value is not UTF-8, and its bytes could be read as another address by a
    /// reader taking them in a legacy charset.
    #[error("the field is not valid UTF-8")]
    NotUtf8,
    /// An escape character (ISO-2022-JP written raw): readers decoding it take the
    /// 7-bit bytes after it for parts of characters, quotes and brackets included.
    #[error("the field holds an escape character (a raw ISO-2022 text)")]
    Escape,
}

/// RFC 5322 §3.2.3 atext.
fn is_atext(c: char) -> bool {
    crate::text::is_atext(c) || (!c.is_ascii() && !c.is_control())
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

/// A word of a phrase or local part: an atom or a quoted string.
#[derive(Debug)]
enum Word {
    Atom(String),
    Quoted(String),
    Dot,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn err(&self) -> AddressError {
        match self.peek() {
            None => AddressError::Syntax {
                offset: self.pos,
                found: "end of field".into(),
            },
            Some(c) => AddressError::Syntax {
                offset: self.pos,
                found: format!("{c:?}"),
            },
        }
    }

    /// Skips white space and comments (CFWS, §3.2.2), with the shared lexer.
    fn cfws(&mut self) -> Result<(), AddressError> {
        match rfc5322::skip_cfws(self.s.as_bytes(), self.pos) {
            Ok((pos, _)) => {
                self.pos = pos;
                Ok(())
            }
            Err(e) => Err(self.lex_error(e)),
        }
    }

    /// A comment or quoted-string that does not end is an error at the end of the
    /// field; one nested too deep makes the field too complex.
    fn lex_error(&mut self, e: rfc5322::LexErrorAt) -> AddressError {
        match e.error {
            rfc5322::LexError::TooDeep => AddressError::TooComplex,
            _ => {
                self.pos = self.s.len();
                self.err()
            }
        }
    }

    /// A quoted-string (§3.2.4): its content.
    fn quoted(&mut self) -> Result<String, AddressError> {
        match rfc5322::quoted_string(self.s.as_bytes(), self.pos) {
            Ok((end, content)) => {
                self.pos = end;
                Ok(String::from_utf8_lossy(&content).into_owned())
            }
            Err(e) => Err(self.lex_error(e)),
        }
    }

    fn atom(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_atext) {
            self.bump();
        }
        self.s[start..self.pos].to_owned()
    }

    /// Words until something that is not a word or a dot (obs-phrase allows dots).
    fn words(&mut self) -> Result<Vec<Word>, AddressError> {
        let mut words = Vec::new();
        loop {
            self.cfws()?;
            match self.peek() {
                Some('"') => words.push(Word::Quoted(self.quoted()?)),
                Some('.') => {
                    self.bump();
                    words.push(Word::Dot);
                }
                Some(c) if is_atext(c) => words.push(Word::Atom(self.atom())),
                _ => return Ok(words),
            }
        }
    }

    /// `domain = dot-atom / domain-literal / obs-domain`; returns (domain, literal).
    fn domain(&mut self) -> Result<(String, bool), AddressError> {
        self.cfws()?;
        if self.peek() == Some('[') {
            self.bump();
            let start = self.pos;
            loop {
                match self.bump() {
                    Some(']') => break,
                    Some('[' | '\\') | None => return Err(self.err()),
                    Some(_) => {}
                }
            }
            let lit = self.s[start..self.pos - 1].trim().to_owned();
            self.cfws()?;
            return Ok((lit, true));
        }
        let mut labels = Vec::new();
        loop {
            self.cfws()?;
            let a = self.atom();
            if a.is_empty() {
                return Err(self.err());
            }
            labels.push(a);
            self.cfws()?;
            if self.peek() == Some('.') {
                self.bump();
            } else {
                break;
            }
        }
        Ok((labels.join(".").to_ascii_lowercase(), false))
    }

    /// Joins words into a local part; quoted words keep their content.
    fn local_part(words: &[Word]) -> Option<String> {
        let mut out = String::new();
        let mut expect_word = true;
        for w in words {
            match w {
                Word::Dot if !expect_word => {
                    out.push('.');
                    expect_word = true;
                }
                Word::Atom(a) if expect_word => {
                    out.push_str(a);
                    expect_word = false;
                }
                Word::Quoted(q) if expect_word => {
                    out.push('"');
                    out.push_str(q);
                    out.push('"');
                    expect_word = false;
                }
                _ => return None,
            }
        }
        (!out.is_empty() && !expect_word).then_some(out)
    }

    fn phrase(words: &[Word]) -> String {
        words
            .iter()
            .map(|w| match w {
                Word::Atom(a) | Word::Quoted(a) => a.as_str(),
                Word::Dot => ".",
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `angle-addr` after the `<`, with `obs-route`.
    fn angle_addr(&mut self) -> Result<(String, String, bool), AddressError> {
        self.cfws()?;
        // obs-route = obs-domain-list ":" ; obs-domain-list = *(CFWS / ",") "@" domain ...
        if matches!(self.peek(), Some('@' | ',')) {
            loop {
                self.cfws()?;
                match self.peek() {
                    Some(',') => {
                        self.bump();
                    }
                    Some('@') => {
                        self.bump();
                        self.domain()?;
                    }
                    Some(':') => {
                        self.bump();
                        break;
                    }
                    _ => return Err(self.err()),
                }
            }
        }
        let words = self.words()?;
        let local = Self::local_part(&words).ok_or_else(|| self.err())?;
        if self.bump() != Some('@') {
            return Err(self.err());
        }
        let (domain, literal) = self.domain()?;
        self.cfws()?;
        if self.bump() != Some('>') {
            return Err(self.err());
        }
        Ok((local, domain, literal))
    }

    fn mailbox(&mut self) -> Result<Mailbox, AddressError> {
        let words = self.words()?;
        self.cfws()?;
        match self.peek() {
            Some('<') => {
                self.bump();
                let (local_part, domain, domain_literal) = self.angle_addr()?;
                let name = Self::phrase(&words);
                Ok(Mailbox {
                    display_name: (!name.is_empty()).then_some(name),
                    local_part,
                    domain,
                    domain_literal,
                })
            }
            Some('@') => {
                self.bump();
                let local_part = Self::local_part(&words).ok_or_else(|| self.err())?;
                let (domain, domain_literal) = self.domain()?;
                Ok(Mailbox {
                    display_name: None,
                    local_part,
                    domain,
                    domain_literal,
                })
            }
            Some(':') if !words.is_empty() => Err(AddressError::Group),
            _ => Err(self.err()),
        }
    }
}

/// Parses a `mailbox-list` (the value of a `From` field). Empty list elements
/// (`a@b, , c@d`, obsolete syntax) are skipped.
///
/// A value that is not UTF-8 (a display name in ISO-8859-1 or Shift_JIS written raw,
/// as old mailers do) is read with each invalid byte sequence as U+FFFD, so that such a
/// name judges by its plain address, unless a byte of 0x80 or more stands right before
/// `@`, `[`, `\\` or `]` ([`AddressError::NotUtf8`]). Those are the structural ASCII
/// bytes within the second-byte range (0x40 to 0x7E) of Shift_JIS, GBK, Big5 and UHC: a
/// reader of such a charset would take the pair for one character, ending a quoted
/// string or comment early or losing an `@`, and could see another address than
/// monban. The rest of that range are letters and signs that change no structure.
/// Any byte counts, also the last of a valid UTF-8 character (`め` ends in 0x81, a
/// Shift_JIS lead byte). An escape character anywhere is refused
/// ([`AddressError::Escape`]).
pub fn parse_mailbox_list(value: &[u8]) -> Result<Vec<Mailbox>, AddressError> {
    if value.contains(&0x1b) {
        return Err(AddressError::Escape);
    }
    if let Ok(s) = std::str::from_utf8(value) {
        return parse_mailbox_list_str(s);
    }
    if value
        .windows(2)
        .any(|w| w[0] >= 0x80 && matches!(w[1], b'@' | b'[' | b'\\' | b']'))
    {
        return Err(AddressError::NotUtf8);
    }
    parse_mailbox_list_str(&String::from_utf8_lossy(value)).map_err(|_| AddressError::NotUtf8)
}

fn parse_mailbox_list_str(s: &str) -> Result<Vec<Mailbox>, AddressError> {
    let mut p = Parser { s, pos: 0 };
    let mut out = Vec::new();
    loop {
        p.cfws()?;
        match p.peek() {
            None => break,
            Some(',') => {
                p.bump();
                continue;
            }
            _ => {}
        }
        if out.len() >= MAX_MAILBOXES {
            return Err(AddressError::TooComplex);
        }
        out.push(p.mailbox()?);
        p.cfws()?;
        match p.peek() {
            None => break,
            Some(',') => {
                p.bump();
            }
            _ => return Err(p.err()),
        }
    }
    if out.is_empty() {
        return Err(AddressError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Mailbox {
        let v = parse_mailbox_list(s.as_bytes()).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v.into_iter().next().unwrap()
    }

    /// A trial's legitimate mail (SPF and DKIM passing for bank.test) was refused 550 for
    /// `From: Andr\xe9 <andre@bank.test>`: one raw ISO-8859-1 byte in the display name made
    /// the whole field unreadable. A name in a legacy charset now judges by its address;
    /// a high byte right before `@`, `[`, `\\` or `]`, which a double-byte charset reads
    /// as one character with it, could show a reader another address, and stays an
    /// error (a review found the first version, which compared two readings, let a
    /// valid UTF-8 character's last byte pair with a backslash).
    #[test]
    fn a_display_name_in_a_legacy_charset_judges_by_its_address() {
        let domain_of = |v: &[u8]| parse_mailbox_list(v).map(|l| l[0].domain.clone());
        let (read, unreadable) = (true, false);
        // Shift_JIS 0x81 0x5C is one character: to such a reader the quoted name of the
        // first refused value ends early and the address is ceo@bank.test, to a
        // byte-wise one attacker@evil.test.
        for (v, want) in [
            (&b"Andr\xe9 <andre@bank.test>"[..], read),
            (b"\"Andr\xe9 Dupont\" <andre@bank.test>", read),
            (b"andre@bank.test (Andr\xe9 D.)", read),
            (b"\x93\xfa\x96\x7b <ceo@bank.test>", read),
            (b"\xe9\xe9 <a@bank.test>, B\xf6b <b@bank.test>", read),
            (
                b"\"\x81\\\" <ceo@bank.test>\" <attacker@evil.test>",
                unreadable,
            ),
            // 0x22, 0x3C, 0x29 and letters are no second bytes that change structure.
            (b"\"\x81\" <ceo@bank.test>", read),
            (b"Andr\xe9<andre@bank.test>", read),
            (b"andre@bank.test (Andr\xe9)", read),
            (b"ceo\xe9x@bank.test", read),
            (b"ceo\xe9@bank.test", unreadable),
            (b"[\x81] <ceo@bank.test>", unreadable),
            // A valid UTF-8 character whose last byte is a Shift_JIS lead byte (め is
            // E3 82 81), once one invalid byte makes a reader fall back to a legacy
            // charset: 81 5C is one character there, and the first address ceo@.
            (
                b"B\xe9b \"\xe3\x82\x81\\\" <ceo@bank.test>\" <attacker@evil.test>",
                unreadable,
            ),
            (
                b"\"\x81\xc3\xa9\\\" <ceo@bank.test>\" <attacker@evil.test>",
                unreadable,
            ),
            (b"ceo\x81@bank.test", unreadable),
        ] {
            let want = if want {
                Ok("bank.test")
            } else {
                Err(&AddressError::NotUtf8)
            };
            assert_eq!(
                domain_of(v).as_deref(),
                want,
                "{}",
                String::from_utf8_lossy(v)
            );
        }
        // Bytes after the domain are kept: the domain is then not a usable one, which
        // DMARC reports as such. An escape character (raw ISO-2022-JP) is refused.
        assert_eq!(
            domain_of(b"ceo@bank.test\xe9").as_deref(),
            Ok("bank.test\u{fffd}")
        );
        assert_eq!(
            domain_of(b"\x1b$B$3\x1b(B <ceo@bank.test>"),
            Err(AddressError::Escape)
        );
    }

    #[test]
    fn rfc5322_3_4_forms() {
        assert_eq!(one("alice@Example.COM").domain, "example.com");
        let m = one("\"Alice Smith\" <alice@example.com>");
        assert_eq!(m.display_name.as_deref(), Some("Alice Smith"));
        let m = one("Alice (the boss) <alice@example.com> (work)");
        assert_eq!(m.display_name.as_deref(), Some("Alice"));
        assert_eq!(one("\"a@b\"@example.com").local_part, "\"a@b\"");
        assert_eq!(one("a.b.c@example.com").local_part, "a.b.c");
        let m = one("user@[192.0.2.1]");
        assert!(m.domain_literal);
        assert_eq!(m.domain, "192.0.2.1");
        assert_eq!(
            one("John Q. Public <jqp@example.com>")
                .display_name
                .as_deref(),
            Some("John Q . Public")
        );
        assert_eq!(one("Folded\r\n <a@example\r\n .com>").domain, "example.com");
    }

    #[test]
    fn rfc5322_4_4_obsolete_route() {
        let m = one("<@relay.example,@other.example:user@victim.example>");
        assert_eq!(m.domain, "victim.example");
        assert_eq!(one("user @ example . com").domain, "example.com");
    }

    #[test]
    fn encoded_words_are_display_names_only() {
        let m = one("=?utf-8?q?admin=40bank.example?= <attacker@evil.example>");
        assert_eq!(m.domain, "evil.example");
        assert!(parse_mailbox_list(b"=?utf-8?b?YWRtaW5AYmFuay5leGFtcGxl?=").is_err());
    }

    #[test]
    fn several_and_groups() {
        assert_eq!(
            parse_mailbox_list(b"a@x.example, b@y.example")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_mailbox_list(b"a@x.example,, b@y.example")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_mailbox_list(b"Friends: a@x.example, b@y.example;"),
            Err(AddressError::Group)
        );
    }

    #[test]
    fn malformed_is_an_error() {
        for bad in [
            "",
            "   (comment only) ",
            "victim@bank.example <attacker@evil.example>",
            "<attacker@evil.example>victim@bank.example",
            "alice",
            "alice@",
            "@example.com",
            "<alice@example.com",
            "\"unterminated <a@example.com>",
            "a@example.com (unterminated",
            "a@b.example c@d.example",
            "a@[1.2.3.4",
        ] {
            assert!(parse_mailbox_list(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let deep = format!("{}a@b.example", "(".repeat(100));
        assert!(parse_mailbox_list(deep.as_bytes()).is_err());
    }
}
