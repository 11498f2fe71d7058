//! Safe writing of header text: RFC 5322 quoted-strings, dot-atoms and comments
//! (§3.2.2, §3.2.3, §3.2.4), used by every header monban adds.
//!
//! Values come from attackers (MAIL FROM, HELO, `d=` tags). They are written so that
//! they cannot end a comment, close a quoted-string, add a `;`-separated clause, or
//! start a new header line: CR, LF and other control characters are replaced.
//!
//! Also [`line_column`]: where in a text an error is, as people read positions.

use std::borrow::Cow;

/// A set of bytes as a table: the ASCII letters and digits when `alphanumeric`, and
/// `others`. The tests below run on every byte of the values monban writes into each
/// `Authentication-Results` field, so they are a look-up, not a search of a string.
pub(crate) const fn byte_set(alphanumeric: bool, others: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut b = 0;
    while b < 256 {
        set[b] = alphanumeric && (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < others.len() {
        set[others[i] as usize] = true;
        i += 1;
    }
    set
}

/// RFC 5322 §3.2.3 `atext` (ASCII).
const ATEXT: [bool; 256] = byte_set(true, b"!#$%&'*+-/=?^_`{|}~");

/// Whether byte `b` is RFC 5322 §3.2.3 `atext` (ASCII).
pub fn is_atext_byte(b: u8) -> bool {
    ATEXT[usize::from(b)]
}

/// RFC 5322 §3.2.3 `atext`.
pub fn is_atext(c: char) -> bool {
    u8::try_from(c).is_ok_and(is_atext_byte)
}

/// Whether `s` is an RFC 5322 `dot-atom-text`: atext runs joined by single dots.
pub fn is_dot_atom(s: &str) -> bool {
    let b = s.as_bytes();
    // Bytes, not characters: atext is ASCII, so a byte of a multi-byte character fails
    // as the character would.
    !b.is_empty()
        && b.first() != Some(&b'.')
        && b.last() != Some(&b'.')
        && b.iter().all(|&c| c == b'.' || is_atext_byte(c))
        && memchr::memmem::find(b, b"..").is_none()
}

/// `s` as a quoted-string: `"` and `\` escaped, controls replaced.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted(&mut out, s);
    out
}

/// [`quoted`], appended to `out`.
pub fn push_quoted(out: &mut String, s: &str) {
    push_escaped(out, s, '"', '"', |c| c == '"' || c == '\\');
}

/// `s` between `open` and `close`, a backslash before each character `escape` names,
/// controls but the tab replaced by spaces (so the text stays on one line).
fn push_escaped(out: &mut String, s: &str, open: char, close: char, escape: fn(char) -> bool) {
    out.reserve(s.len() + 2);
    out.push(open);
    for c in s.chars() {
        if escape(c) {
            out.push('\\');
        }
        out.push(if c.is_control() && c != '\t' { ' ' } else { c });
    }
    out.push(close);
}

/// `s` as a dot-atom when it is one, else as a quoted-string.
pub fn dot_atom_or_quoted(s: &str) -> Cow<'_, str> {
    if is_dot_atom(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(quoted(s))
    }
}

/// `s` inside parentheses as an RFC 5322 comment: `(`, `)` and `\` escaped, controls
/// replaced.
pub fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_comment(&mut out, s);
    out
}

/// [`comment`], appended to `out`.
pub fn push_comment(out: &mut String, s: &str) {
    push_escaped(out, s, '(', ')', |c| matches!(c, '(' | ')' | '\\'));
}

/// Removes quoted-strings and comments: what is left is the structure a parser acts
/// on (the lexer of [`crate::rfc5322`]). For tests of the functions above.
pub use crate::rfc5322::strip_quoted_and_comments;

/// The line and column (both from 1; columns in characters) of a byte offset in
/// `text`, for messages that place an error: never a byte offset. An offset inside a
/// character counts as that character; one past the end as the end.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables agree with the definitions as written in RFC 5322 §3.2.3, for every
    /// character of the first planes and for dot-atoms built from them.
    #[test]
    fn atext_and_dot_atom_tables_match_the_definition() {
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
        let dot_atom =
            |s: &str| !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(atext));
        for c in (0..0x3_0000).filter_map(char::from_u32) {
            assert_eq!(is_atext(c), atext(c), "{c:?}");
            for s in [
                format!("{c}"),
                format!("a{c}b"),
                format!("a.{c}"),
                format!("{c}.b"),
                format!("a{c}.b"),
            ] {
                assert_eq!(is_dot_atom(&s), dot_atom(&s), "{s:?}");
            }
        }
        for s in [
            "", ".", "a..b", "a.b.", ".a", "a.b.c", "a", "é.com", "a\u{0}",
        ] {
            assert_eq!(is_dot_atom(s), dot_atom(s), "{s:?}");
        }
    }

    #[test]
    fn rfc5322_3_2_3_dot_atom() {
        assert!(is_dot_atom("example.com"));
        assert!(is_dot_atom("a+b=c"));
        assert!(!is_dot_atom("a..b"));
        assert!(!is_dot_atom(".a"));
        assert!(!is_dot_atom("a b"));
        assert!(!is_dot_atom("a;b"));
        assert!(!is_dot_atom(""));
    }

    #[test]
    fn quoting_and_comments() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted("a\r\nb"), "\"a  b\"");
        assert_eq!(comment("a) b (c\\"), r"(a\) b \(c\\)");
        assert_eq!(
            strip_quoted_and_comments(r#"x "a\"; y" (c \) d) z"#),
            "x   z"
        );
    }
}

/// Whether `c` is a bidirectional formatting character that reorders what is shown
/// around it: U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069.
pub fn is_bidi_format(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text from outside (a header, a report) made safe to print on a terminal: control
/// characters (escape sequences above all) and the bidirectional formatting characters
/// that reorder what is shown (U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069)
/// become U+FFFD. Borrowed when nothing needs replacing.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || is_bidi_format(c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if bad(c) { '\u{FFFD}' } else { c })
            .collect(),
    )
}

#[cfg(test)]
mod terminal_tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_never_reach_the_terminal() {
        assert_eq!(for_terminal("ex\u{1b}[2Jample"), "ex\u{FFFD}[2Jample");
        assert_eq!(for_terminal("a\u{202E}b\u{9b}c"), "a\u{FFFD}b\u{FFFD}c");
        assert!(matches!(for_terminal("日本 ok"), Cow::Borrowed(_)));
    }
}
