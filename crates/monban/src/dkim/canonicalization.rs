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
///
/// Unfolding removes line breaks, and only those: a CRLF (or the bare LF a file on disk
/// ends its lines with; [`crate::message::Headers`] splits lines there, so a LF in a
/// value always starts a continuation line). A CR that does not start a CRLF is data and
/// stays, as every other byte: were it removed, a CR put into a signed field (`hel\rlo`)
/// would leave the signature valid.
pub fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.reserve(name.len() + 1 + value.len());
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    // White space (and folding) at either end goes.
    let start = gap_end(value, 0);
    let mut end = value.len();
    while end > start {
        match value[end - 1] {
            b' ' | b'\t' => end -= 1,
            b'\n' => {
                end -= 1;
                if end > start && value[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            _ => break,
        }
    }
    let v = &value[start..end];
    // The value is copied in spans, from one place the canonical form differs to the
    // next (found a block of bytes at a time): usually a fold or two.
    let mut pos = 0;
    while let Some(at) = next_match::<HEADER_BLOCK>(&v[pos..], header_may_change).map(|o| pos + o) {
        // A run of white space and line breaks starts here (a space before it would
        // have been found first) and ends before content (`v` ends with content):
        // one space if it holds any WSP; a bare line break just disappears (unfolding).
        let run_end = gap_end(v, at);
        if run_end == at {
            // A CR that starts no line break: data.
            out.extend_from_slice(&v[pos..=at]);
            pos = at + 1;
            continue;
        }
        out.extend_from_slice(&v[pos..at]);
        if v[at..run_end].iter().any(|&b| b == b' ' || b == b'\t') {
            out.push(b' ');
        }
        pos = run_end;
    }
    out.extend_from_slice(&v[pos..]);
}

/// The end of the run of white space and line breaks (CRLF, or a bare LF) that starts at
/// `at` in `v`: `at` itself if none starts there.
fn gap_end(v: &[u8], mut at: usize) -> usize {
    while let Some(&b) = v.get(at) {
        match b {
            b' ' | b'\t' | b'\n' => at += 1,
            b'\r' if v.get(at + 1) == Some(&b'\n') => at += 2,
            _ => break,
        }
    }
    at
}

/// Whether relaxed header canonicalization may change a value at byte `b` followed by
/// `next`: a tab, CR or LF, or a space before white space or a line break. A CR is
/// found whether or not a LF follows it (two bytes are all this sees); the caller keeps
/// one that starts no line break.
#[inline(always)]
fn header_may_change(b: u8, next: u8) -> bool {
    let gap = |c: u8| (c == b' ') | (c == b'\t') | (c == b'\r') | (c == b'\n');
    (b == b'\t') | (b == b'\r') | (b == b'\n') | ((b == b' ') & gap(next))
}

/// A streaming body canonicalizer (§3.4.3, §3.4.4). CRLF ends a line; a lone CR or LF
/// is ordinary data.
///
/// Output goes to a sink as slices of the input wherever the canonical form is the
/// input itself, which is almost everywhere: the middle of each chunk is scanned, a
/// block of bytes at a time (`next_change`), for the few places relaxed
/// canonicalization changes (a tab, two spaces, white space before CRLF) and passed on
/// untouched; only chunk edges and those places go through the byte-by-byte state
/// machine.
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

/// Bytes per block of [`next_change`]: a block is judged as a whole, which the compiler
/// turns into a few vector compares and one OR-reduction. 64 bytes cost about a fifth
/// less per byte than 32 on a body (the reduction and the loop shared by more bytes).
const BODY_BLOCK: usize = 64;
/// The same for header field values, which are short: a smaller last block.
const HEADER_BLOCK: usize = 32;

/// Whether relaxed body canonicalization may change the input at byte `b` followed by
/// `next`: a tab, or a space before a space, a tab or a CR (a run of white space, or
/// white space that may end a line). The test is any byte up to a space after a space
/// (one comparison fewer per block than naming them): a space before a lone CR or LF or
/// another control character is found too, and left as it is by the caller (§3.4.4
/// changes only runs and white space before CRLF).
#[inline(always)]
fn may_change(b: u8, next: u8) -> bool {
    (b == b'\t') | ((b == b' ') & (next <= b' '))
}

crate::wide::widest! {
    /// The first place in `m` where relaxed body canonicalization may change the input,
    /// in one pass (rather than one search per pattern). The last byte is paired with 0,
    /// so a space there is found too (the callers' regions end with content). Most of
    /// what canonicalization costs beyond the hash: built for the widest vector unit
    /// (`crate::wide`).
    fn next_change(m: &[u8]) -> Option<usize> {
        next_match::<BODY_BLOCK>(m, may_change)
    }
}

/// The first place in `m` where `hit(byte, next byte)` holds (the last byte is paired
/// with 0; `hit(0, 0)` must be false), judged a block at a time: whether a block holds
/// one is an OR over its bytes, which the compiler turns into a few vector compares, and
/// only a block that does is looked into. The last bytes (a block or fewer) are judged
/// as one block padded with zeros, not byte by byte: every search ends on them.
#[inline(always)]
fn next_match<const N: usize>(m: &[u8], hit: impl Fn(u8, u8) -> bool) -> Option<usize> {
    const {
        assert!(
            N <= BODY_BLOCK,
            "the padded block holds BODY_BLOCK bytes and one"
        )
    };
    let mut i = 0;
    // The widest block and the byte after it (`N` is at most [`BODY_BLOCK`]).
    let mut padded = [0u8; BODY_BLOCK + 1];
    loop {
        // Each byte and the one after it, as two arrays: two loads per block.
        let (this, next, last) = match (m.get(i..i + N), m.get(i + 1..i + 1 + N)) {
            (Some(this), Some(next)) => (this, next, false),
            _ => {
                let rest = m.get(i..).unwrap_or_default();
                let n = rest.len().min(N);
                padded[..n].copy_from_slice(&rest[..n]);
                (&padded[..N], &padded[1..=N], true)
            }
        };
        let (Ok(this), Ok(next)) = (<&[u8; N]>::try_from(this), <&[u8; N]>::try_from(next)) else {
            return None;
        };
        let mut any = 0u8;
        for k in 0..N {
            any |= u8::from(hit(this[k], next[k]));
        }
        if any != 0 {
            return (0..N).find(|&k| hit(this[k], next[k])).map(|k| i + k);
        }
        if last {
            return None;
        }
        i += N;
    }
}

/// How much of a chunk relaxed canonicalization scans ahead before hashing what it
/// scanned: small enough that the hash finds the bytes still in cache.
const WINDOW: usize = 16 * 1024;

const CRLF: &[u8] = b"\r\n";

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
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

    /// Writes content (no line ending inside), flushing held line breaks and white
    /// space first.
    fn content(&mut self, data: &[u8], sink: &mut impl FnMut(&[u8])) {
        if data.is_empty() {
            return;
        }
        for _ in 0..self.pending_crlf {
            sink(CRLF);
        }
        self.pending_crlf = 0;
        if self.pending_wsp {
            sink(b" ");
            self.pending_wsp = false;
        }
        sink(data);
        self.wrote = true;
    }

    fn end_line(&mut self) {
        // Relaxed: white space at the end of a line is dropped.
        self.pending_wsp = false;
        self.pending_crlf += 1;
    }

    /// The byte-by-byte state machine, for chunk edges.
    fn slow(&mut self, chunk: &[u8], sink: &mut impl FnMut(&[u8])) {
        let relaxed = self.c == Canonicalization::Relaxed;
        for (i, &b) in chunk.iter().enumerate() {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.end_line();
                    continue;
                }
                self.content(b"\r", sink);
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else if relaxed && is_wsp(b) {
                self.pending_wsp = true;
            } else {
                self.content(&chunk[i..=i], sink);
            }
        }
    }

    /// Canonicalizes one chunk into the sink.
    pub fn update_with(&mut self, chunk: &[u8], sink: &mut impl FnMut(&[u8])) {
        let relaxed = self.c == Canonicalization::Relaxed;
        // The tail that may need context from the next chunk: trailing CR, LF (and, for
        // relaxed, white space) go through the state machine.
        let tail = chunk.len()
            - chunk
                .iter()
                .rev()
                .take_while(|&&b| b == b'\r' || b == b'\n' || (relaxed && is_wsp(b)))
                .count();
        // The head: resolve what the previous chunk left pending, one byte at a time,
        // until the state is clean.
        let mut i = 0;
        while i < tail && (self.pending_cr || self.pending_wsp) {
            self.slow(&chunk[i..=i], sink);
            i += 1;
        }
        let middle = &chunk[i..tail];
        if !middle.is_empty() {
            // The middle ends with content, so every white-space run in it is followed
            // by something on the same chunk.
            if relaxed {
                self.relaxed_windows(middle, sink);
            } else {
                self.content(middle, sink);
            }
        }
        self.slow(&chunk[tail.max(i)..], sink);
    }

    /// Relaxed canonicalization of a region that starts in a clean state and ends with
    /// a content byte, a window of about [`WINDOW`] bytes at a time: each window is
    /// scanned by [`Self::relaxed_middle`] and hashed while its bytes are still in cache.
    /// A window is cut at the first content byte from [`WINDOW`] on, so that each starts
    /// and ends clean, as the region does. The region is read front to back only: a
    /// look-ahead (an earlier version checked the byte 2 KiB ahead for white space first)
    /// defeats the CPU's sequential prefetch and waits on memory at every jump.
    fn relaxed_windows(&mut self, region: &[u8], sink: &mut impl FnMut(&[u8])) {
        let mut rest = region;
        while !rest.is_empty() {
            let cut = match rest.get(WINDOW - 1..) {
                Some(after) => after
                    .iter()
                    .position(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                    .map_or(rest.len(), |k| WINDOW + k),
                None => rest.len(),
            };
            let (window, after) = rest.split_at(cut);
            self.relaxed_middle(window, sink);
            rest = after;
        }
    }

    /// Relaxed canonicalization of a region that starts in a clean state and ends with
    /// a content byte.
    fn relaxed_middle(&mut self, m: &[u8], sink: &mut impl FnMut(&[u8])) {
        let mut pos = 0;
        loop {
            // The next place where the canonical form may differ from the input.
            let Some(a) = next_change(&m[pos..]).map(|o| pos + o) else {
                self.content(&m[pos..], sink);
                return;
            };
            // The white-space run around the anomaly.
            let mut run_start = a;
            while run_start > pos && m[run_start - 1] == b' ' {
                run_start -= 1;
            }
            let mut run_end = a;
            while run_end < m.len() && is_wsp(m[run_end]) {
                run_end += 1;
            }
            self.content(&m[pos..run_start], sink);
            if m[run_end..].starts_with(CRLF) {
                // Trailing white space: dropped; the CRLF is emitted as content would be.
                self.end_line();
                pos = run_end + 2;
            } else {
                self.pending_wsp = true;
                pos = run_end;
            }
            if pos >= m.len() {
                return;
            }
            // A CRLF right after? Let the next content flush it (pending_crlf).
            while m[pos..].starts_with(CRLF) {
                self.end_line();
                pos += 2;
            }
        }
    }

    /// Canonicalizes one chunk, appending to `out`.
    pub fn update(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.update_with(chunk, &mut |s| out.extend_from_slice(s));
    }

    /// Ends the body into the sink.
    pub fn finish_with(&mut self, sink: &mut impl FnMut(&[u8])) {
        if self.pending_cr {
            self.pending_cr = false;
            self.content(b"\r", sink);
        }
        self.pending_wsp = false;
        match self.c {
            // §3.4.3: trailing empty lines removed; an empty body becomes one CRLF; a
            // body without a final CRLF gets one.
            Canonicalization::Simple => sink(CRLF),
            // §3.4.4: the same, but an empty body stays empty.
            Canonicalization::Relaxed => {
                if self.wrote {
                    sink(CRLF);
                }
            }
        }
        self.pending_crlf = 0;
    }

    /// Ends the body, appending what is still held.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.finish_with(&mut |s| out.extend_from_slice(s));
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

    /// `input` canonicalized in chunks of `size` bytes.
    fn chunked(c: Canonicalization, input: &[u8], size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = BodyCanonicalizer::new(c);
        for part in input.chunks(size) {
            b.update(part, &mut out);
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

    /// §3.4.2 unfolds CRLF (and a file's bare LF) followed by WSP, and nothing else: a CR
    /// that starts no line break is data in a header value, at either end too.
    #[test]
    fn rfc6376_3_4_2_a_lone_cr_in_a_header_is_data() {
        let canon = |v: &[u8]| {
            let mut h = Vec::new();
            relaxed_header(b"Subject", v, &mut h);
            h
        };
        assert_eq!(canon(b" hel\rlo"), b"subject:hel\rlo");
        assert_ne!(canon(b" hel\rlo"), canon(b" hello"));
        assert_eq!(canon(b" a \r b"), b"subject:a \r b");
        assert_eq!(canon(b"\rx\r"), b"subject:\rx\r");
        assert_eq!(canon(b" x\r\r\n y"), b"subject:x\r y");
        assert_eq!(canon(b" x \r\n\t"), b"subject:x");
        assert_eq!(canon(b"\r\n\tx\n y"), b"subject:x y");
        assert_eq!(canon(b" x\r\r\n "), b"subject:x\r");
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

    /// A direct transcription of §3.4.3 / §3.4.4 on a whole body, to check the
    /// streaming implementation against.
    fn reference(c: Canonicalization, body: &[u8]) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut rest = body;
        loop {
            match rest.windows(2).position(|w| w == b"\r\n") {
                Some(i) => {
                    lines.push(rest[..i].to_vec());
                    rest = &rest[i + 2..];
                }
                None => {
                    if !rest.is_empty() {
                        lines.push(rest.to_vec());
                    }
                    break;
                }
            }
        }
        if c == Canonicalization::Relaxed {
            for l in &mut lines {
                let mut out = Vec::new();
                let mut ws = false;
                for &b in l.iter() {
                    if b == b' ' || b == b'\t' {
                        ws = true;
                    } else {
                        if ws {
                            out.push(b' ');
                        }
                        ws = false;
                        out.push(b);
                    }
                }
                *l = out;
            }
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let mut out = Vec::new();
        for l in &lines {
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
        if out.is_empty() && c == Canonicalization::Simple {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn matches_the_reference_on_random_bodies_and_chunkings() {
        // A small deterministic generator (xorshift) over an alphabet rich in the
        // characters that matter.
        // (A control byte too: a space before one is a place the scan looks at and
        // leaves as it is.)
        let alphabet = b"ab \t\r\n.\x01aaa  ";
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..20_000 {
            // Short bodies, and bodies of several blocks of the scan.
            let len = (next() % if round % 2 == 0 { 40 } else { 200 }) as usize;
            let body: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
                let want = reference(c, &body);
                let cut1 = (next() as usize) % (len + 1);
                let cut2 = cut1 + (next() as usize) % (len - cut1 + 1);
                let mut out = Vec::new();
                let mut b = BodyCanonicalizer::new(c);
                for part in [&body[..cut1], &body[cut1..cut2], &body[cut2..]] {
                    b.update(part, &mut out);
                }
                b.finish(&mut out);
                assert_eq!(out, want, "{c} {body:?} cut at {cut1},{cut2}");
            }
        }
    }

    /// Bodies longer than the scanning window, with white-space runs and line ends
    /// around the window edges, whole and in chunks.
    #[test]
    fn large_bodies_match_the_reference() {
        let mut next = crate::testing::xorshift(0x853c_49e6_748f_ea9b);
        let pieces: [&[u8]; 9] = [
            b"word", b" ", b"  ", b"\t", b" \t ", b"\r\n", b" \r\n", b"\r", b"\n",
        ];
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for _ in 0..6 {
            let mut body = Vec::new();
            while body.len() < 3 * WINDOW + 100 {
                body.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            bodies.push(body);
        }
        // A white-space run across the first window edge, and a long one.
        let mut edge = vec![b'x'; WINDOW - 3];
        edge.extend_from_slice(b"      \r\n\t y");
        edge.extend(std::iter::repeat_n(b' ', 2 * WINDOW));
        edge.extend_from_slice(b"z \r\n\r\n");
        bodies.push(edge);
        // Windows without any white space (a base64 attachment), between text.
        let mut attachment = b"Some text,  then\t an attachment: \r\n\r\n".to_vec();
        while attachment.len() < 3 * WINDOW {
            attachment.extend_from_slice(
                b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n",
            );
        }
        attachment.extend_from_slice(b"\r\n-- \r\nend  of  it \t\r\n");
        bodies.push(attachment);
        for body in &bodies {
            for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
                let want = reference(c, body);
                assert_eq!(self::body(c, body), want, "{c}, whole");
                for size in [1000, WINDOW - 1, WINDOW + 7] {
                    assert_eq!(chunked(c, body, size), want, "{c}, chunks of {size}");
                }
            }
        }
    }

    /// Runs without white space (base64 lines) of lengths around 2 KiB between bits of
    /// text, over several windows, so that stretches with and without white space
    /// follow one another in every order and windows are cut in each, whole and in
    /// chunks.
    #[test]
    fn runs_with_and_without_white_space_match_the_reference() {
        const PROBE: usize = 2048;
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let text: [&[u8]; 6] = [b"a b", b"  ", b"\t", b" \r\n", b"\r\n\r\n", b"x \t y"];
        for _ in 0..300 {
            let mut body = Vec::new();
            while body.len() < 2 * WINDOW + WINDOW / 4 {
                if next().is_multiple_of(3) {
                    body.extend_from_slice(text[(next() % text.len() as u64) as usize]);
                } else {
                    let n = PROBE - 8 + (next() % 16) as usize;
                    body.extend(std::iter::repeat_n(b'Q', n));
                    body.extend_from_slice(b"\r\n");
                }
            }
            for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
                let want = reference(c, &body);
                assert_eq!(self::body(c, &body), want, "{c}, whole");
                let size = 1 + (next() % (2 * PROBE as u64)) as usize;
                assert_eq!(chunked(c, &body, size), want, "{c}, chunks of {size}");
            }
        }
    }

    /// Each build of the scan (portable, AVX2, AVX-512BW: whichever this CPU runs)
    /// finds the same first place as a byte-by-byte search, at every length and
    /// alignment around the block size, with the place near the start, the end and a
    /// block edge.
    #[test]
    fn every_build_of_the_scan_finds_the_same_place() {
        fn bytewise(m: &[u8]) -> Option<usize> {
            (0..m.len()).find(|&i| may_change(m[i], m.get(i + 1).copied().unwrap_or(0)))
        }
        let builds = next_change::builds();
        assert!(!builds.is_empty());
        let mut next = crate::testing::xorshift(0x1234_5678_9abc_def1);
        let backing = vec![b'a'; 4 * BODY_BLOCK + 8];
        for len in 0..3 * BODY_BLOCK + 3 {
            for start in 0..4 {
                let mut m = backing[start..start + len].to_vec();
                // No change, then one or two planted at random places.
                for plants in 0..3 {
                    if plants > 0 && !m.is_empty() {
                        let at = (next() as usize) % m.len();
                        let what: &[u8] = [b"\t".as_slice(), b"  ", b" \r", b" \n", b" \x01", b" "]
                            [(next() % 6) as usize];
                        let end = (at + what.len()).min(m.len());
                        m[at..end].copy_from_slice(&what[..end - at]);
                    }
                    let want = bytewise(&m);
                    for (name, build) in &builds {
                        assert_eq!(build(&m), want, "{name}: {m:?}");
                    }
                }
            }
        }
    }

    /// `relaxed_header` copies runs; check it against the byte-by-byte definition.
    #[test]
    fn relaxed_header_matches_the_bytewise_definition() {
        // RFC 6376 §3.4.2 step by step: unfold (remove CRLF, and the bare LF a file's
        // lines end with), collapse WSP runs, trim WSP at both ends.
        fn bytewise(name: &[u8], value: &[u8]) -> Vec<u8> {
            let mut unfolded = Vec::new();
            let mut i = 0;
            while i < value.len() {
                match (value[i], value.get(i + 1)) {
                    (b'\r', Some(b'\n')) => i += 2,
                    (b'\n', _) => i += 1,
                    (b, _) => {
                        unfolded.push(b);
                        i += 1;
                    }
                }
            }
            let mut collapsed: Vec<u8> = Vec::new();
            for b in unfolded {
                if b == b' ' || b == b'\t' {
                    if collapsed.last() != Some(&b' ') {
                        collapsed.push(b' ');
                    }
                } else {
                    collapsed.push(b);
                }
            }
            let trimmed = collapsed.strip_suffix(b" ").unwrap_or(&collapsed);
            let trimmed = trimmed.strip_prefix(b" ").unwrap_or(trimmed);
            let mut out: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
            out.push(b':');
            out.extend_from_slice(trimmed);
            out
        }
        let alphabet = b"aB \t\r\n:;aaaa    ";
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..20_000 {
            // Short values, and values long enough for whole blocks of the scan.
            let len = (next() % if round % 2 == 0 { 24 } else { 160 }) as usize;
            let value: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let mut out = b"prefix".to_vec();
            relaxed_header(b"X-Name", &value, &mut out);
            assert_eq!(out[6..], bytewise(b"X-Name", &value)[..], "{value:?}");
        }
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
                assert_eq!(chunked(c, input, 1), body(c, input), "{c} {input:?}");
            }
        }
    }
}
