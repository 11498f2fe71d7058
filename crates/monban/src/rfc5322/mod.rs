//! The lexical layer of RFC 5322 that every header parser shares: comments (§3.2.2, with
//! a nesting bound), quoted-strings (§3.2.4), folding white space and CFWS, and the
//! date-time of §3.3 ([`datetime`]). The From parser (`address`), the
//! Authentication-Results parser (`authres`), the structure check of written fields
//! (`text::strip_quoted_and_comments`) and the header analyzer of monban-diag (clauses,
//! comments, Received fields, dates) all scan with these functions, so a comment or a
//! quoted-string is delimited the same way everywhere.
//!
//! Every function works on bytes and returns byte offsets; the delimiters are ASCII,
//! so an offset found here is always a character boundary of the `&str` it came from.

pub mod datetime;

/// The deepest nesting of comments accepted (§3.2.2 sets none; real fields nest one or
/// two levels). Deeper is an error, so hostile nesting costs nothing.
pub const MAX_COMMENT_DEPTH: usize = 32;

/// What is wrong with a comment or a quoted-string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LexError {
    /// A comment has no closing parenthesis.
    #[error("a comment is not closed")]
    UnterminatedComment,
    /// A quoted-string has no closing quote.
    #[error("a quoted-string is not closed")]
    UnterminatedQuoted,
    /// A backslash ends the text (a quoted-pair needs a character after it).
    #[error("a backslash ends the text")]
    EscapeAtEnd,
    /// Comments nest deeper than [`MAX_COMMENT_DEPTH`].
    #[error("comments nest deeper than {MAX_COMMENT_DEPTH}")]
    TooDeep,
}

/// A [`LexError`] and the byte offset where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexErrorAt {
    /// What.
    pub error: LexError,
    /// Where: the offset reached when it was found.
    pub offset: usize,
}

fn at(error: LexError, offset: usize) -> LexErrorAt {
    LexErrorAt { error, offset }
}

/// The comment that starts at `b[start]` (an opening parenthesis): the offset just past
/// its closing parenthesis. Quoted-pairs are honoured, nested comments counted.
pub fn comment_end(b: &[u8], start: usize) -> Result<usize, LexErrorAt> {
    debug_assert_eq!(b.get(start), Some(&b'('));
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        i += 1;
        match c {
            b'(' => {
                depth += 1;
                if depth > MAX_COMMENT_DEPTH {
                    return Err(at(LexError::TooDeep, i));
                }
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            b'\\' => {
                if i >= b.len() {
                    return Err(at(LexError::EscapeAtEnd, i));
                }
                i += 1;
            }
            _ => {}
        }
    }
    Err(at(LexError::UnterminatedComment, i))
}

/// The text of a comment given without its outer parentheses: quoted-pairs resolved,
/// line breaks (folding) dropped, nested parentheses kept.
pub fn comment_text(inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&c) = inner.get(i) {
        i += 1;
        match c {
            b'\\' => {
                if let Some(&n) = inner.get(i) {
                    out.push(n);
                    i += 1;
                }
            }
            b'\r' | b'\n' => {}
            _ => out.push(c),
        }
    }
    out
}

/// The quoted-string that starts at `b[start]` (a double quote): the offset just past
/// its closing quote and its content, quoted-pairs resolved and line breaks (folding)
/// dropped.
pub fn quoted_string(b: &[u8], start: usize) -> Result<(usize, Vec<u8>), LexErrorAt> {
    debug_assert_eq!(b.get(start), Some(&b'"'));
    let mut out = Vec::new();
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        i += 1;
        match c {
            b'"' => return Ok((i, out)),
            b'\\' => {
                let Some(&n) = b.get(i) else {
                    return Err(at(LexError::EscapeAtEnd, i));
                };
                out.push(n);
                i += 1;
            }
            b'\r' | b'\n' => {}
            _ => out.push(c),
        }
    }
    Err(at(LexError::UnterminatedQuoted, i))
}

/// CFWS (§3.2.2) from `pos`: white space, line breaks and comments. Returns the offset
/// after them and the text ([`comment_text`]) of the last comment, if any.
pub fn skip_cfws(b: &[u8], mut pos: usize) -> Result<(usize, Option<Vec<u8>>), LexErrorAt> {
    let mut last = None;
    loop {
        match b.get(pos) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => pos += 1,
            Some(b'(') => {
                let end = comment_end(b, pos)?;
                last = Some(comment_text(&b[pos + 1..end - 1]));
                pos = end;
            }
            _ => return Ok((pos, last)),
        }
    }
}

/// One lexical piece of header text, for the lenient readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text outside comments (and, when quoted-strings are recognized, outside them).
    Text(&'a str),
    /// A comment: what is between its outer parentheses, as written.
    Comment(&'a str),
    /// A quoted-string, with its quotes, as written.
    Quoted(&'a str),
    /// The rest of the text after a comment or quoted-string that does not end (or
    /// nests too deep).
    Broken(&'a str),
}

/// Splits text into [`Piece`]s. With `quotes`, quoted-strings are pieces of their own
/// (a parenthesis inside one is text); without, a double quote is ordinary text.
pub fn pieces(s: &str, quotes: bool) -> Pieces<'_> {
    Pieces { s, pos: 0, quotes }
}

/// The iterator of [`pieces`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    s: &'a str,
    pos: usize,
    quotes: bool,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let b = self.s.as_bytes();
        let start = self.pos;
        match b.get(start)? {
            b'(' => match comment_end(b, start) {
                Ok(end) => {
                    self.pos = end;
                    Some(Piece::Comment(&self.s[start + 1..end - 1]))
                }
                Err(_) => {
                    self.pos = b.len();
                    Some(Piece::Broken(&self.s[start..]))
                }
            },
            b'"' if self.quotes => match quoted_string(b, start) {
                Ok((end, _)) => {
                    self.pos = end;
                    Some(Piece::Quoted(&self.s[start..end]))
                }
                Err(_) => {
                    self.pos = b.len();
                    Some(Piece::Broken(&self.s[start..]))
                }
            },
            _ => {
                let end = b[start..]
                    .iter()
                    .position(|&c| c == b'(' || (self.quotes && c == b'"'))
                    .map_or(b.len(), |n| start + n);
                self.pos = end;
                Some(Piece::Text(&self.s[start..end]))
            }
        }
    }
}

/// The text with comments and quoted-strings removed: the structure a parser acts on.
/// A comment or quoted-string that does not end takes the rest of the text with it.
pub fn strip_quoted_and_comments(s: &str) -> String {
    pieces(s, true)
        .filter_map(|p| match p {
            Piece::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// The text with each comment replaced by a space and line breaks by spaces (for
/// reading a date-time, §3.3); a comment that does not end takes the rest with it.
pub fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for p in pieces(s, false) {
        match p {
            Piece::Text(t) => out.extend(t.chars().map(|c| match c {
                '\r' | '\n' => ' ',
                c => c,
            })),
            Piece::Comment(_) => out.push(' '),
            Piece::Quoted(_) | Piece::Broken(_) => {}
        }
    }
    out
}

/// The text without its comments (each becomes a space) and the first comment's text,
/// its white space collapsed; a comment that does not end takes the rest with it.
pub fn take_comments(s: &str) -> (Option<String>, String) {
    let mut first = None;
    let mut rest = String::with_capacity(s.len());
    for p in pieces(s, false) {
        match p {
            Piece::Text(t) => rest.push_str(t),
            Piece::Comment(c) => {
                if first.is_none() {
                    // Line breaks inside are white space here (collapsed below).
                    let spaced = c.replace(['\r', '\n'], " ");
                    let text =
                        String::from_utf8_lossy(&comment_text(spaced.as_bytes())).into_owned();
                    first = Some(text.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                rest.push(' ');
            }
            Piece::Quoted(_) | Piece::Broken(_) => {}
        }
    }
    (first, rest)
}

/// Splits at `sep` outside comments and quoted-strings, into at most `max` parts (the
/// last part keeps the rest of the text).
pub fn split_outside(s: &str, sep: u8, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for p in pieces(s, true) {
        let len = match p {
            Piece::Text(t) | Piece::Comment(t) | Piece::Quoted(t) | Piece::Broken(t) => t.len(),
        };
        // Comment pieces omit their two parentheses.
        let len = if matches!(p, Piece::Comment(_)) {
            len + 2
        } else {
            len
        };
        if let Piece::Text(t) = p {
            for (i, &c) in t.as_bytes().iter().enumerate() {
                if c == sep && out.len() + 1 < max {
                    out.push(&s[start..offset + i]);
                    start = offset + i + 1;
                }
            }
        }
        offset += len;
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5322_3_2_2_comments_nest_and_escape() {
        let b = br"(a (b) \) c) rest";
        assert_eq!(comment_end(b, 0), Ok(12));
        assert_eq!(comment_text(&b[1..11]), b"a (b) ) c");
        assert_eq!(
            comment_end(b"(open", 0).unwrap_err().error,
            LexError::UnterminatedComment
        );
        assert_eq!(
            comment_end(b"(a\\", 0).unwrap_err().error,
            LexError::EscapeAtEnd
        );
        let deep = "(".repeat(MAX_COMMENT_DEPTH + 1);
        assert_eq!(
            comment_end(deep.as_bytes(), 0).unwrap_err(),
            LexErrorAt {
                error: LexError::TooDeep,
                offset: MAX_COMMENT_DEPTH + 1
            }
        );
        let ok = format!(
            "{}{}",
            "(".repeat(MAX_COMMENT_DEPTH),
            ")".repeat(MAX_COMMENT_DEPTH)
        );
        assert_eq!(comment_end(ok.as_bytes(), 0), Ok(ok.len()));
    }

    #[test]
    fn rfc5322_3_2_4_quoted_strings() {
        assert_eq!(
            quoted_string(br#""a\"b\\c" x"#, 0),
            Ok((9, br#"a"b\c"#.to_vec()))
        );
        assert_eq!(quoted_string(b"\"a\r\n b\"", 0), Ok((7, b"a b".to_vec())));
        assert_eq!(
            quoted_string(b"\"open", 0).unwrap_err().error,
            LexError::UnterminatedQuoted
        );
    }

    #[test]
    fn cfws_and_the_last_comment() {
        let b = b" \r\n (one) (t\\)wo) x";
        assert_eq!(skip_cfws(b, 0), Ok((18, Some(b"t)wo".to_vec()))));
        assert_eq!(skip_cfws(b"x", 0), Ok((0, None)));
    }

    #[test]
    fn lenient_readers() {
        assert_eq!(
            strip_quoted_and_comments(r#"x "a\"; y" (c \) d) z"#),
            "x   z"
        );
        assert_eq!(strip_comments("a (b) c\r\n d"), "a   c   d");
        assert_eq!(
            take_comments("x (first  one) y (second)"),
            (Some("first one".to_owned()), "x   y  ".to_owned())
        );
        assert_eq!(take_comments("(a\rb)").0.as_deref(), Some("a b"));
        assert_eq!(
            split_outside(r#"a; b (c; d) "e; f"; g"#, b';', 10),
            vec!["a", r#" b (c; d) "e; f""#, " g"]
        );
        assert_eq!(split_outside("a;b;c", b';', 2), vec!["a", "b;c"]);
        // Multi-byte text around the delimiters is never cut.
        assert_eq!(
            split_outside("\u{e9}(\u{e9});\u{e9}", b';', 10),
            vec!["\u{e9}(\u{e9})", "\u{e9}"]
        );
    }
}
