//! Safe writing of header text: RFC 5322 quoted-strings, dot-atoms and comments
//! (§3.2.2, §3.2.3, §3.2.4), used by every header monban adds.
//!
//! Values come from attackers (MAIL FROM, HELO, `d=` tags). They are written so that
//! they cannot end a comment, close a quoted-string, add a `;`-separated clause, or
//! start a new header line: CR, LF and other control characters are replaced.
//!
//! Also [`line_column`]: where in a text an error is, as people read positions.

use std::borrow::Cow;

/// RFC 5322 §3.2.3 `atext`.
pub fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Whether `s` is an RFC 5322 `dot-atom-text`.
pub fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_atext))
}

/// Replaces control characters (CR, LF, NUL, DEL, ...) but the tab by a space, so the
/// text stays on one line.
fn no_controls(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\t';
    if s.chars().any(bad) {
        Cow::Owned(s.chars().map(|c| if bad(c) { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` as a quoted-string: `"` and `\` escaped, controls replaced.
pub fn quoted(s: &str) -> String {
    let s = no_controls(s);
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
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
    let s = no_controls(s);
    let mut out = String::with_capacity(s.len() + 2);
    out.push('(');
    for c in s.chars() {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(')');
    out
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

/// Text from outside (a header, a report) made safe to print on a terminal: control
/// characters (escape sequences above all) and the bidirectional formatting characters
/// that reorder what is shown (U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069)
/// become U+FFFD. Borrowed when nothing needs replacing.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    let bad = |c: char| {
        c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
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
