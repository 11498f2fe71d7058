//! Encoded words (RFC 2047) in the fields the analyzer shows: `Subject` and display
//! names, decoded for reading. Japanese mail still uses ISO-2022-JP and Shift_JIS; the
//! charsets are those of the WHATWG Encoding Standard (encoding_rs), with RFC 2231's
//! `*language` suffix ignored. What does not decode stays as it was written: the reader
//! sees the raw text rather than a guess.
//!
//! Bounds: at most [`MAX_WORDS`] encoded words are decoded per field; the rest is left
//! as written. Each word is decoded once: no quadratic path.

use base64::Engine as _;

/// The most encoded words decoded in one field.
pub const MAX_WORDS: usize = 100;

/// `text` with its encoded words decoded (RFC 2047 §6.2: white space between two
/// adjacent encoded words is dropped).
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut words = 0;
    // Whether the last thing written was an encoded word.
    let mut after_word = false;
    loop {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            return out;
        };
        let (before, at) = rest.split_at(start);
        match (words < MAX_WORDS).then(|| word(at)).flatten() {
            Some((decoded, len)) => {
                if !(after_word && before.chars().all(char::is_whitespace)) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                words += 1;
                after_word = true;
                rest = &at[len..];
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                after_word = false;
                rest = &at[2..];
            }
        }
    }
}

/// One encoded word at the start of `s`: its text and the bytes it took.
fn word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, rest) = inner.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let payload = &rest[..end];
    if charset.is_empty()
        || charset.len() > 40
        || payload.len() > 1000
        || payload.contains(char::is_whitespace)
        || encoding.len() != 1
    {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(payload)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload))
            .ok()?,
        "Q" | "q" => q_decode(payload)?,
        _ => return None,
    };
    let label = charset.split('*').next().unwrap_or(charset);
    let enc = encoding_rs::Encoding::for_label(label.as_bytes())?;
    let (text, _, _) = enc.decode(&bytes);
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((text.into_owned(), len))
}

/// The Q encoding (RFC 2047 §4.2): `_` is a space, `=XX` a byte.
fn q_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn words_decode_in_their_charsets() {
        assert_eq!(
            decode("=?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?="),
            "日本語の件名"
        );
        assert_eq!(decode("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?="), "日本語");
        assert_eq!(decode("=?iso-8859-1?q?caf=E9_cr=E8me?="), "café crème");
        assert_eq!(decode("=?utf-8*ja?Q?=E6=97=A5?="), "日");
        // White space between adjacent words goes; elsewhere it stays.
        assert_eq!(decode("=?UTF-8?Q?a?= =?UTF-8?Q?b?="), "ab");
        assert_eq!(
            decode("Re: =?UTF-8?Q?a?= and =?UTF-8?Q?b?= end"),
            "Re: a and b end"
        );
        assert_eq!(decode("plain text"), "plain text");
    }

    #[test]
    fn what_does_not_decode_stays() {
        for s in [
            "=?",
            "=?x?B?",
            "=?no-such-charset?B?YQ==?=",
            "=?UTF-8?X?a?=",
            "=?UTF-8?Q?=Z1?=",
            "a =? b ?= c",
        ] {
            assert_eq!(decode(s), s, "{s}");
        }
        // Markup decodes to text; escaping it is the page's work.
        assert_eq!(decode("=?utf-8?b?PHNjcmlwdD4=?="), "<script>");
    }

    #[test]
    fn the_number_of_words_is_bounded() {
        let many = "=?UTF-8?Q?a?= ".repeat(super::MAX_WORDS + 5);
        let out = decode(&many);
        assert!(out.starts_with(&"a".repeat(super::MAX_WORDS)));
        assert!(out.contains("=?UTF-8?Q?a?="));
    }
}
