//! Reading `Authentication-Results` (RFC 8601 §2.2):
//!
//! ```text
//! authres-header = "Authentication-Results:" [CFWS] authserv-id
//!          [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS] CRLF
//! no-result = [CFWS] ";" [CFWS] "none"
//! resinfo   = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//! methodspec = [CFWS] method [CFWS] "=" [CFWS] result
//! reasonspec = "reason" [CFWS] "=" [CFWS] value
//! propspec  = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//! ```

use super::{AuthenticationResults, Property, ResInfo};
use crate::rfc5322;

/// The most results read from one field.
const MAX_RESULTS: usize = 256;

/// Why a field does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Authentication-Results does not parse at offset {offset}: {what}")]
pub struct ParseError {
    /// Byte offset in the value.
    pub offset: usize,
    /// What was expected.
    pub what: &'static str,
}

struct P<'a> {
    s: &'a [u8],
    pos: usize,
    /// The text of the last comment skipped.
    last_comment: Option<String>,
}

impl P<'_> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError {
            offset: self.pos,
            what,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// CFWS (RFC 5322 §3.2.2) with the shared lexer; keeps the last comment's text.
    fn cfws(&mut self) -> Result<(), ParseError> {
        self.last_comment = None;
        match rfc5322::skip_cfws(self.s, self.pos) {
            Ok((pos, last)) => {
                self.pos = pos;
                self.last_comment = last.map(|t| String::from_utf8_lossy(&t).into_owned());
                Ok(())
            }
            Err(e) => Err(self.lex_error(e)),
        }
    }

    fn lex_error(&mut self, e: rfc5322::LexErrorAt) -> ParseError {
        self.pos = e.offset;
        self.err(match e.error {
            rfc5322::LexError::TooDeep => "less nesting",
            rfc5322::LexError::EscapeAtEnd => "an escaped character",
            rfc5322::LexError::UnterminatedQuoted => "the end of a quoted-string",
            _ => "end of a comment",
        })
    }

    /// A quoted-string (RFC 5322 §3.2.4): its content.
    fn quoted(&mut self) -> Result<String, ParseError> {
        match rfc5322::quoted_string(self.s, self.pos) {
            Ok((end, content)) => {
                self.pos = end;
                Ok(String::from_utf8_lossy(&content).into_owned())
            }
            Err(e) => Err(self.lex_error(e)),
        }
    }

    /// A token (RFC 2045), stopping also at `.` when `dot_stops`.
    fn token(&mut self, dot_stops: bool) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let special = c <= b' '
                || c >= 0x7f
                || b"()<>@,;:\\\"/[]?=".contains(&c)
                || (dot_stops && c == b'.');
            if special {
                break;
            }
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    /// `value = token / quoted-string`.
    fn value(&mut self, dot_stops: bool) -> Result<String, ParseError> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let t = self.token(dot_stops);
        if t.is_empty() {
            return Err(self.err("a token or a quoted-string"));
        }
        Ok(t)
    }

    /// `pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]`.
    fn pvalue(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some(b'"') {
            // A quoted local part may be followed by @domain.
            let q = self.quoted()?;
            if self.peek() == Some(b'@') {
                self.pos += 1;
                let d = self.token(false);
                return Ok(format!("{}@{d}", crate::text::quoted(&q)));
            }
            return Ok(q);
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c <= b' ' || c >= 0x7f || b"();\"".contains(&c) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("a property value"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }
}

pub(super) fn parse(value: &[u8]) -> Result<AuthenticationResults, ParseError> {
    let mut p = P {
        s: value,
        pos: 0,
        last_comment: None,
    };
    p.cfws()?;
    let authserv_id = p.value(false)?;
    p.cfws()?;
    let mut version = None;
    if p.peek().is_some_and(|c| c.is_ascii_digit()) {
        let v = p.token(false);
        version = Some(v.parse().map_err(|_| p.err("a version number"))?);
        p.cfws()?;
    }
    let mut results = Vec::new();
    loop {
        p.cfws()?;
        match p.peek() {
            None => break,
            Some(b';') => p.pos += 1,
            Some(_) => return Err(p.err("';'")),
        }
        p.cfws()?;
        if p.peek().is_none() {
            // A trailing ";" is tolerated.
            break;
        }
        let method = p.value(false)?.to_ascii_lowercase();
        p.cfws()?;
        if method == "none" && matches!(p.peek(), None | Some(b';')) && results.is_empty() {
            continue;
        }
        if p.peek() == Some(b'/') {
            p.pos += 1;
            p.cfws()?;
            p.token(false);
            p.cfws()?;
        }
        p.expect(b'=', "'=' after the method")?;
        p.cfws()?;
        let result = p.value(false)?.to_ascii_lowercase();
        p.cfws()?;
        let mut info = ResInfo::new(&method, &result);
        info.comment = p.last_comment.take();
        loop {
            p.cfws()?;
            match p.peek() {
                None | Some(b';') => break,
                _ => {}
            }
            let ptype = p.value(true)?;
            p.cfws()?;
            if ptype.eq_ignore_ascii_case("reason") && p.peek() == Some(b'=') {
                p.pos += 1;
                p.cfws()?;
                info.reason = Some(p.value(false)?);
                continue;
            }
            p.expect(b'.', "'.' in a property")?;
            p.cfws()?;
            let property = p.value(true)?;
            p.cfws()?;
            p.expect(b'=', "'=' in a property")?;
            p.cfws()?;
            let value = p.pvalue()?;
            info.properties.push(Property {
                ptype: ptype.to_ascii_lowercase(),
                property: property.to_ascii_lowercase(),
                value,
            });
        }
        if results.len() >= MAX_RESULTS {
            return Err(p.err("fewer results"));
        }
        results.push(info);
    }
    Ok(AuthenticationResults {
        authserv_id,
        version,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of RFC 8601 Appendix B.
    #[test]
    fn rfc8601_appendix_b() {
        let ar = AuthenticationResults::parse(b"example.org 1; none").unwrap();
        assert_eq!(ar.authserv_id, "example.org");
        assert_eq!(ar.version, Some(1));
        assert!(ar.results.is_empty());

        let ar = AuthenticationResults::parse(
            b"example.com;\r\n          spf=pass smtp.mailfrom=example.net",
        )
        .unwrap();
        assert_eq!(
            ar.results[0].property("smtp", "mailfrom"),
            Some("example.net")
        );

        let ar = AuthenticationResults::parse(
            b"example.com;\r\n    auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n    spf=pass smtp.mailfrom=example.net",
        )
        .unwrap();
        assert_eq!(ar.results.len(), 2);
        assert_eq!(ar.results[0].comment.as_deref(), Some("cram-md5"));
        assert_eq!(
            ar.results[0].property("smtp", "auth"),
            Some("sender@example.net")
        );

        let ar = AuthenticationResults::parse(
            b"example.com;\r\n    sender-id=fail header.from=example.com;\r\n    dkim=pass (good signature) header.d=example.com",
        )
        .unwrap();
        assert_eq!(ar.results[0].method, "sender-id");
        assert_eq!(ar.results[1].property("header", "d"), Some("example.com"));

        let ar = AuthenticationResults::parse(
            b"mail-router.example.net;\r\n    dkim=pass (good signature) header.d=newyork.example.com\r\n          header.b=oINEO8hg;\r\n    dkim=fail (bad signature) header.d=newyork.example.com\r\n          header.b=EToRSuvU",
        )
        .unwrap();
        assert_eq!(ar.results[1].property("header", "b"), Some("EToRSuvU"));
    }

    #[test]
    fn real_world_shapes() {
        let gmail = b"mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=AbCdEf12;\r\n       spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com";
        let ar = AuthenticationResults::parse(gmail).unwrap();
        assert_eq!(ar.results.len(), 3);
        assert_eq!(
            ar.results[2].comment.as_deref(),
            Some("p=REJECT sp=REJECT dis=NONE")
        );
        let ar = AuthenticationResults::parse(
            b"mx.example; spf=pass reason=\"good\" smtp.mailfrom=a@b.example",
        )
        .unwrap();
        assert_eq!(ar.results[0].reason.as_deref(), Some("good"));
    }

    #[test]
    fn malformed() {
        for bad in [
            &b""[..],
            b"; spf=pass",
            b"mx; spf",
            b"mx; spf=pass header",
            b"mx; spf=pass (open",
            b"mx; spf=\"x",
        ] {
            assert!(
                AuthenticationResults::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
