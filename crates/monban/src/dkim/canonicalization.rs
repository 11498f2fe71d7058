//! Canonicalization, RFC 6376 §3.4: "simple" and "relaxed", for header fields and for
//! the body. Body canonicalizers are streaming state machines: chunks go in, canonical
//! bytes come out, and a chunk boundary anywhere (even between CR and LF) changes
//! nothing.

use std::fmt;

/// A canonicalization algorithm (§3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Canonicalization {
    /// §3.4.1 / §3.4.3: almost no change.
    #[default]
    Simple,
    /// §3.4.2 / §3.4.4: white space and header-name case normalized.
    Relaxed,
}

impl Canonicalization {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::Relaxed => "relaxed",
        }
    }

    /// Parses `simple` or `relaxed`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "simple" => Some(Self::Simple),
            "relaxed" => Some(Self::Relaxed),
            _ => None,
        }
    }
}

impl fmt::Display for Canonicalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Appends the canonical form of one header field, with a trailing CRLF.
///
/// `raw` is the field as received (name, colon, value, line ending); `name` and `value`
/// are its parts as split by [`crate::message::Headers`].
pub fn header(c: Canonicalization, name: &[u8], value: &[u8], raw: &[u8], out: &mut Vec<u8>) {
    match c {
        // §3.4.1: "MUST NOT be changed in any way".
        Canonicalization::Simple => out.extend_from_slice(raw),
        Canonicalization::Relaxed => {
            relaxed_header(name, value, out);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// §3.4.2 without the CRLF: lowercase name, unfold, collapse WSP runs to one SP, trim.
pub fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        match b {
            b' ' | b'\t' => pending_space = true,
            // Unfolding: CRLF disappears (the WSP after it becomes a space).
            b'\r' | b'\n' => {}
            _ => {
                if pending_space && started {
                    out.push(b' ');
                }
                pending_space = false;
                started = true;
                out.push(b);
            }
        }
    }
}

/// A streaming body canonicalizer (§3.4.3, §3.4.4). CRLF ends a line; a lone CR or LF
/// is ordinary data.
#[derive(Debug, Clone)]
pub struct BodyCanonicalizer {
    c: Canonicalization,
    /// A CR at the end of the previous chunk, not yet known to start a CRLF.
    pending_cr: bool,
    /// White space seen in the current line and not yet written (relaxed only).
    pending_wsp: bool,
    /// CRLFs seen and not yet written: written once non-empty content follows, so that
    /// empty lines at the end disappear.
    pending_crlf: u64,
    /// Whether any content has been written (relaxed: an all-empty body stays empty).
    wrote: bool,
}

impl BodyCanonicalizer {
    /// A canonicalizer at the start of a body.
    pub fn new(c: Canonicalization) -> Self {
        Self {
            c,
            pending_cr: false,
            pending_wsp: false,
            pending_crlf: 0,
            wrote: false,
        }
    }

    fn flush_lines(&mut self, out: &mut Vec<u8>) {
        for _ in 0..self.pending_crlf {
            out.extend_from_slice(b"\r\n");
        }
        self.pending_crlf = 0;
    }

    /// Writes the content byte(s) `data` (no CR/LF handling inside), flushing held
    /// line breaks and white space first.
    fn content(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.flush_lines(out);
        if self.pending_wsp {
            out.push(b' ');
            self.pending_wsp = false;
        }
        out.extend_from_slice(data);
        self.wrote = true;
    }

    /// Canonicalizes one chunk, appending to `out`.
    pub fn update(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            if chunk.first() == Some(&b'\n') {
                self.end_line();
                chunk = &chunk[1..];
            } else {
                self.content(b"\r", out);
            }
        }
        let relaxed = self.c == Canonicalization::Relaxed;
        let mut start = 0;
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            let special = b == b'\r' || (relaxed && (b == b' ' || b == b'\t'));
            if !special {
                i += 1;
                continue;
            }
            self.content(&chunk[start..i], out);
            if b == b'\r' {
                match chunk.get(i + 1) {
                    Some(b'\n') => {
                        self.end_line();
                        i += 2;
                    }
                    Some(_) => {
                        self.content(b"\r", out);
                        i += 1;
                    }
                    None => {
                        self.pending_cr = true;
                        i += 1;
                    }
                }
            } else {
                // Relaxed: a run of WSP becomes one SP if content follows on the line.
                self.pending_wsp = true;
                i += 1;
            }
            start = i;
        }
        if start < chunk.len() {
            self.content(&chunk[start..], out);
        }
    }

    fn end_line(&mut self) {
        // Relaxed: white space at the end of a line is dropped.
        self.pending_wsp = false;
        self.pending_crlf += 1;
    }

    /// Ends the body, appending what is still held.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            self.content(b"\r", out);
        }
        self.pending_wsp = false;
        match self.c {
            // §3.4.3: trailing empty lines removed; an empty body becomes one CRLF; a
            // body without a final CRLF gets one.
            Canonicalization::Simple => out.extend_from_slice(b"\r\n"),
            // §3.4.4: the same, but an empty body stays empty.
            Canonicalization::Relaxed => {
                if self.wrote {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        self.pending_crlf = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(c: Canonicalization, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = BodyCanonicalizer::new(c);
        b.update(input, &mut out);
        b.finish(&mut out);
        out
    }

    fn chunked(c: Canonicalization, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = BodyCanonicalizer::new(c);
        for byte in input.chunks(1) {
            b.update(byte, &mut out);
        }
        b.finish(&mut out);
        out
    }

    /// The example of RFC 6376 §3.4.5.
    #[test]
    fn rfc6376_3_4_5_example() {
        let mut h = Vec::new();
        relaxed_header(b"A", b" X", &mut h);
        assert_eq!(h, b"a:X");
        // "B :" - the splitter already drops the white space before the colon.
        h.clear();
        relaxed_header(b"B", b" Y\t\r\n\tZ  ", &mut h);
        assert_eq!(h, b"b:Y Z");
        let input = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(body(Canonicalization::Relaxed, input), b" C\r\nD E\r\n");
        assert_eq!(body(Canonicalization::Simple, input), b" C \r\nD \t E\r\n");
    }

    #[test]
    fn rfc6376_3_4_3_and_3_4_4_empty_bodies() {
        assert_eq!(body(Canonicalization::Simple, b""), b"\r\n");
        assert_eq!(body(Canonicalization::Simple, b"\r\n\r\n"), b"\r\n");
        assert_eq!(body(Canonicalization::Relaxed, b""), b"");
        assert_eq!(body(Canonicalization::Relaxed, b"\r\n \r\n\t\r\n"), b"");
        assert_eq!(body(Canonicalization::Simple, b"abc"), b"abc\r\n");
        assert_eq!(body(Canonicalization::Relaxed, b"abc  "), b"abc\r\n");
    }

    #[test]
    fn lone_cr_and_lf_are_data() {
        assert_eq!(
            body(Canonicalization::Simple, b"a\rb\nc\r"),
            b"a\rb\nc\r\r\n"
        );
        assert_eq!(body(Canonicalization::Relaxed, b"a \r b"), b"a \r b\r\n");
    }

    #[test]
    fn chunking_changes_nothing() {
        let inputs: [&[u8]; 5] = [
            b" C \r\nD \t E\r\n\r\n\r\n",
            b"line1\r\n\r\n  \r\nline4 \t\r\n\r\n",
            b"a\r\rb\r\n\r",
            b"\r\n\r\nx",
            b"trailing wsp \t ",
        ];
        for input in inputs {
            for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
                assert_eq!(chunked(c, input), body(c, input), "{c} {input:?}");
            }
        }
    }
}
