//! DomainKeys canonicalization, RFC 4870 §3.4: `simple` and `nofws`, for the header
//! fields a signature covers and, streaming, for the body.
//!
//! Both algorithms leave out the empty lines at the end of the body (§3.4.1, §3.4.2);
//! the empty line that separates the header from the body is the first body line in
//! that sense, so a message whose body is empty signs the header fields alone. `nofws`
//! also removes every space and tab, and every CR or LF that is not part of a CRLF
//! line end (§3.4.2.1); in header fields it removes the line breaks of folding too.
//! These are the rules Mail::DKIM applies, which the interop test checks.

/// A DomainKeys canonicalization (`c=`, RFC 4870 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkCanonicalization {
    /// `simple` (the default): nothing changes but the trailing empty lines (§3.4.1).
    Simple,
    /// `nofws`: no folding white space (§3.4.2).
    Nofws,
}

impl DkCanonicalization {
    /// The `c=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::Nofws => "nofws",
        }
    }
}

/// Appends one header field, canonicalized, to `out`. `raw` is the whole field as it
/// appears (name, colon, value with its folding), with or without the final CRLF.
pub fn header_field(raw: &[u8], canon: DkCanonicalization, out: &mut Vec<u8>) {
    let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    match canon {
        DkCanonicalization::Simple => out.extend_from_slice(raw),
        DkCanonicalization::Nofws => out.extend(
            raw.iter()
                .copied()
                .filter(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n')),
        ),
    }
    out.extend_from_slice(b"\r\n");
}

/// The streaming body canonicalizer. Its output is what the signature covers after the
/// header fields: it starts with the header/body separator.
#[derive(Debug, Clone)]
pub struct BodyCanonicalizer {
    nofws: bool,
    /// `nofws`: a CR was read; whether it is kept depends on the next byte.
    nofws_cr: bool,
    /// At the start of a line (after a CRLF).
    line_start: bool,
    /// At the start of a line, a CR was read: an empty line if LF follows.
    start_cr: bool,
    /// The last byte written was a CR.
    last_cr: bool,
    /// Empty lines read and not yet written: written only when a non-empty line
    /// follows.
    held: u64,
}

impl BodyCanonicalizer {
    /// A canonicalizer that has seen the header/body separator.
    pub fn new(canon: DkCanonicalization) -> Self {
        Self {
            nofws: canon == DkCanonicalization::Nofws,
            nofws_cr: false,
            line_start: true,
            start_cr: false,
            last_cr: false,
            held: 1,
        }
    }

    /// Canonicalizes one chunk of the body into `out` (cleared first).
    pub fn update(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.reserve(chunk.len());
        for &b in chunk {
            if !self.nofws {
                self.line(b, out);
                continue;
            }
            // nofws (§3.4.2.1): no space or tab; a CR only before an LF (white space
            // between them removed first); an LF only after a CR.
            match b {
                b' ' | b'\t' => {}
                b'\n' if self.nofws_cr => {
                    self.nofws_cr = false;
                    self.line(b'\r', out);
                    self.line(b'\n', out);
                }
                b'\n' => {}
                b'\r' => self.nofws_cr = true,
                _ => {
                    self.nofws_cr = false;
                    self.line(b, out);
                }
            }
        }
    }

    /// The end of the body: what is still held is written, except empty lines.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.clear();
        if self.start_cr {
            // A last line that is a lone CR is not empty.
            self.start_cr = false;
            self.flush_held(out);
            out.push(b'\r');
        }
        self.held = 0;
    }

    fn flush_held(&mut self, out: &mut Vec<u8>) {
        for _ in 0..self.held {
            out.extend_from_slice(b"\r\n");
        }
        self.held = 0;
    }

    /// One byte of (nofws-filtered) body: empty lines are held back.
    fn line(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.line_start {
            if self.start_cr {
                self.start_cr = false;
                if b == b'\n' {
                    self.held += 1;
                    return;
                }
                self.flush_held(out);
                out.push(b'\r');
                self.last_cr = true;
                self.line_start = false;
            } else if b == b'\r' {
                self.start_cr = true;
                return;
            } else {
                self.flush_held(out);
                self.line_start = false;
                self.last_cr = false;
            }
        }
        out.push(b);
        if self.last_cr && b == b'\n' {
            self.line_start = true;
        }
        self.last_cr = b == b'\r';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(canon: DkCanonicalization, chunks: &[&[u8]]) -> Vec<u8> {
        let mut c = BodyCanonicalizer::new(canon);
        let mut all = Vec::new();
        let mut out = Vec::new();
        for chunk in chunks {
            c.update(chunk, &mut out);
            all.extend_from_slice(&out);
        }
        c.finish(&mut out);
        all.extend_from_slice(&out);
        all
    }

    /// RFC 4870 §3.4.1: trailing empty lines go, the separator counting as one.
    #[test]
    fn rfc4870_3_4_1_simple_trailing_empty_lines() {
        let s = DkCanonicalization::Simple;
        assert_eq!(body(s, &[b""]), b"");
        assert_eq!(body(s, &[b"\r\n\r\n"]), b"");
        assert_eq!(body(s, &[b"Hi\r\n\r\n\r\n"]), b"\r\nHi\r\n");
        assert_eq!(
            body(s, &[b"\r\nHi \r\n\r\nthere\r\n"]),
            b"\r\n\r\nHi \r\n\r\nthere\r\n"
        );
        // However the chunks fall.
        assert_eq!(
            body(s, &[b"Hi\r", b"\n\r", b"\n", b"x\r\n\r", b"\n"]),
            b"\r\nHi\r\n\r\nx\r\n"
        );
        // No final line end.
        assert_eq!(body(s, &[b"Hi"]), b"\r\nHi");
    }

    /// RFC 4870 §3.4.2: no white space, no lone CR or LF, then as simple.
    #[test]
    fn rfc4870_3_4_2_nofws() {
        let n = DkCanonicalization::Nofws;
        assert_eq!(body(n, &[b"A b\tc \r\n  \r\n\r\n"]), b"\r\nAbc\r\n");
        assert_eq!(body(n, &[b"a\rb\nc\r \n"]), b"\r\nabc\r\n");
        assert_eq!(
            body(n, &[b"a\r", b"\n \r\n", b"b\r\n"]),
            b"\r\na\r\n\r\nb\r\n"
        );
        let mut h = Vec::new();
        header_field(b"Subject: a\r\n\tb c\r\n", n, &mut h);
        assert_eq!(h, b"Subject:abc\r\n");
        h.clear();
        header_field(
            b"Subject: a\r\n\tb c\r\n",
            DkCanonicalization::Simple,
            &mut h,
        );
        assert_eq!(h, b"Subject: a\r\n\tb c\r\n");
    }
}
