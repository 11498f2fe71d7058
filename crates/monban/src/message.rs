//! Raw message handling: the header block split into fields (RFC 5322 §2.2, §3.6) and a
//! streaming splitter that hands the body on in chunks.
//!
//! DKIM needs the header bytes exactly as received, so fields are kept raw: the name as
//! written, the value with its folding, and the line ending. Nothing is decoded here.
//!
//! Input is expected in SMTP form (CRLF line endings). [`CrlfNormalizer`] turns the bare
//! LF line endings of files on disk into CRLF as the bytes stream through.

use std::fmt;

/// The largest header block accepted (1 MiB): a message with more header than that is
/// refused rather than parsed.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;
/// The most header fields accepted.
pub const MAX_HEADER_FIELDS: usize = 5_000;

/// Why a header block was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// More than [`MAX_HEADER_BYTES`] before the blank line.
    #[error("the header is larger than {MAX_HEADER_BYTES} bytes")]
    TooLarge,
    /// More than [`MAX_HEADER_FIELDS`] fields.
    #[error("the header has more than {MAX_HEADER_FIELDS} fields")]
    TooManyFields,
    /// A line that is neither a field (`name:`) nor a continuation.
    #[error("header line {line} is not a header field (no colon, or an invalid name)")]
    NotAField {
        /// The 1-based line.
        line: usize,
    },
}

/// One header field, borrowed from the header block.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The field name as written (before the colon, without trailing white space).
    pub name: &'a [u8],
    /// The value: everything after the colon up to, not including, the final CRLF.
    pub value: &'a [u8],
    /// The whole field including the final CRLF (if the block had one).
    pub raw: &'a [u8],
}

impl HeaderField<'_> {
    /// Whether the name equals `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The name as text (lossy for non-UTF-8 bytes).
    pub fn name_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.name)
    }
}

impl fmt::Debug for HeaderField<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderField")
            .field("name", &String::from_utf8_lossy(self.name))
            .field("value", &String::from_utf8_lossy(self.value))
            .finish()
    }
}

/// A parsed header block: the bytes and where each field is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    raw: Vec<u8>,
    /// (name end, value start, field end) offsets for each field.
    fields: Vec<(usize, usize, usize, usize)>,
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fields()).finish()
    }
}

impl Headers {
    /// Splits a header block (without the blank line that ends it) into fields.
    ///
    /// A field starts at a line whose first character is not white space and which has
    /// a colon; the following lines that start with white space continue it (RFC 5322
    /// §2.2.3). Field names are printable US-ASCII except the colon (§2.2); white space
    /// between the name and the colon is accepted (obsolete syntax, §4.5) and excluded
    /// from the name.
    pub fn parse(block: &[u8]) -> Result<Self, HeaderError> {
        if block.len() > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLarge);
        }
        // About one field per 64 bytes of a real header: one allocation, not a series
        // of doublings.
        let mut fields: Vec<(usize, usize, usize, usize)> =
            Vec::with_capacity((block.len() / 64 + 8).min(MAX_HEADER_FIELDS));
        // One search over the block for the line ends, not one call per line.
        let mut ends = memchr::memchr_iter(b'\n', block).map(|i| i + 1);
        let mut pos = 0;
        let mut line_no = 0;
        while pos < block.len() {
            line_no += 1;
            let line_end = ends.next().unwrap_or(block.len());
            let line = &block[pos..line_end];
            if matches!(line[0], b' ' | b'\t') {
                match fields.last_mut() {
                    Some(last) => last.3 = line_end,
                    None => return Err(HeaderError::NotAField { line: line_no }),
                }
            } else {
                let colon = memchr(b':', line).ok_or(HeaderError::NotAField { line: line_no })?;
                let mut name_end = colon;
                while name_end > 0 && matches!(line[name_end - 1], b' ' | b'\t') {
                    name_end -= 1;
                }
                let name = &line[..name_end];
                if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
                    return Err(HeaderError::NotAField { line: line_no });
                }
                if fields.len() >= MAX_HEADER_FIELDS {
                    return Err(HeaderError::TooManyFields);
                }
                fields.push((pos, pos + name_end, pos + colon + 1, line_end));
            }
            pos = line_end;
        }
        Ok(Self {
            raw: block.to_vec(),
            fields,
        })
    }

    /// The fields, in order.
    pub fn fields(&self) -> impl DoubleEndedIterator<Item = HeaderField<'_>> + ExactSizeIterator {
        self.fields
            .iter()
            .map(|&(start, name_end, value_start, end)| {
                let raw = &self.raw[start..end];
                let mut value_end = end;
                if self.raw[..value_end].ends_with(b"\r\n") {
                    value_end -= 2;
                } else if self.raw[..value_end].ends_with(b"\n") {
                    value_end -= 1;
                }
                HeaderField {
                    name: &self.raw[start..name_end],
                    value: &self.raw[value_start..value_end.max(value_start)],
                    raw,
                }
            })
    }

    /// The fields with this name, in order.
    pub fn get<'a>(
        &'a self,
        name: &'a str,
    ) -> impl DoubleEndedIterator<Item = HeaderField<'a>> + 'a {
        self.fields().filter(move |f| f.is(name))
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The header block as given.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

/// Splits a message arriving in chunks into its header block and body chunks.
///
/// Feed bytes with [`MessageSplitter::push`]; once the blank line that ends the header
/// has arrived, it returns the parsed [`Headers`] and the body bytes of that chunk. All
/// later chunks are body. A message with no blank line has an empty body, which
/// [`MessageSplitter::finish`] reports.
#[derive(Debug, Default)]
pub struct MessageSplitter {
    header: Vec<u8>,
    done: bool,
    failed: Option<HeaderError>,
}

/// What a chunk contained.
#[derive(Debug)]
pub enum Split<'a> {
    /// Still in the header.
    Header,
    /// The header ended in this chunk: here it is, and the start of the body.
    HeaderDone(Headers, &'a [u8]),
    /// Body bytes.
    Body(&'a [u8]),
}

impl MessageSplitter {
    /// A splitter at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn push<'a>(&mut self, chunk: &'a [u8]) -> Result<Split<'a>, HeaderError> {
        if let Some(e) = &self.failed {
            // After an error the splitter stays failed: nothing is parsed in part.
            return Err(e.clone());
        }
        if self.done {
            return Ok(Split::Body(chunk));
        }
        let result = self.push_inner(chunk);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.header = Vec::new();
        }
        result
    }

    fn push_inner<'a>(&mut self, chunk: &'a [u8]) -> Result<Split<'a>, HeaderError> {
        // The header ends at CRLF CRLF (or LF LF for unnormalized input), or right away
        // if the message starts with a blank line.
        if self.header.is_empty()
            && let Some((block_end, body_start)) = find_header_end(chunk, 0)
        {
            // The whole header is in the first chunk: parse it in place rather than
            // copying the chunk (often the whole message) into the buffer first.
            let headers = Headers::parse(&chunk[..block_end])?;
            self.done = true;
            return Ok(Split::HeaderDone(headers, &chunk[body_start..]));
        }
        let already = self.header.len();
        self.header.extend_from_slice(chunk);
        let search_from = already.saturating_sub(3);
        if let Some(end) = find_header_end(&self.header, search_from) {
            let (block_end, body_start) = end;
            let body_offset = body_start - already;
            let headers = Headers::parse(&self.header[..block_end])?;
            self.done = true;
            self.header = Vec::new();
            return Ok(Split::HeaderDone(
                headers,
                &chunk[body_offset.min(chunk.len())..],
            ));
        }
        if self.header.len() > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLarge);
        }
        Ok(Split::Header)
    }

    /// Ends the message: if no blank line came, everything was header and the body is
    /// empty.
    pub fn finish(&mut self) -> Result<Option<Headers>, HeaderError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Ok(None);
        }
        self.done = true;
        let block = std::mem::take(&mut self.header);
        Headers::parse(&block).map(Some)
    }
}

/// Finds the end of the header block: returns (end of the last field including its line
/// ending, start of the body). The header ends at its first empty line, CRLF or bare LF
/// (`from`: where the search resumes; a blank line found must start after it).
fn find_header_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    if buf.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if buf.starts_with(b"\n") {
        return Some((0, 1));
    }
    static CRLF_BLANK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\r\n"));
    static LF_BLANK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\n"));
    let hay = buf.get(from..)?;
    // Two searches over the whole header rather than one per line: the CRLF blank
    // line, then a bare-LF one before it (which would end the header first).
    let crlf = CRLF_BLANK.find(hay);
    let before = crlf.map_or(hay.len(), |p| p + 1);
    if let Some(q) = LF_BLANK.find(&hay[..before]) {
        return Some((from + q + 1, from + q + 2));
    }
    crlf.map(|p| (from + p + 1, from + p + 3))
}

/// Converts bare LF line endings into CRLF as bytes stream through (files on disk often
/// use LF; DKIM is defined on CRLF). Existing CRLFs are kept.
#[derive(Debug, Default)]
pub struct CrlfNormalizer {
    last_was_cr: bool,
}

impl CrlfNormalizer {
    /// A normalizer at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Normalizes one chunk into `out` (cleared first).
    pub fn normalize(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let normalized = self.apply(chunk, out);
        if normalized.len() == chunk.len() {
            // No bare LF: the chunk as it is (`apply` left `out` alone).
            out.clear();
            out.extend_from_slice(chunk);
        }
    }

    /// Normalizes one chunk: the chunk itself when every LF in it already follows a CR
    /// (no copy: the common case, as SMTP and most stores keep CRLF), else the
    /// normalized bytes, written to `out` (cleared first). The check looks at eight
    /// bytes at a time (`has_bare_lf`); only a chunk that needs it is copied.
    pub fn apply<'a>(&mut self, chunk: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
        let Some(&last) = chunk.last() else {
            return chunk;
        };
        let bare = |i: usize, last_was_cr: bool| {
            if i == 0 {
                !last_was_cr
            } else {
                chunk[i - 1] != b'\r'
            }
        };
        let last_was_cr = self.last_was_cr;
        self.last_was_cr = last == b'\r';
        if !has_bare_lf(chunk, last_was_cr) {
            return chunk;
        }
        let mut lfs = memchr::memchr_iter(b'\n', chunk);
        let Some(first) = lfs.by_ref().find(|&i| bare(i, last_was_cr)) else {
            return chunk;
        };
        out.clear();
        out.reserve(chunk.len() + chunk.len() / 32 + 2);
        out.extend_from_slice(&chunk[..first]);
        out.extend_from_slice(b"\r\n");
        let mut start = first + 1;
        for i in lfs {
            if chunk[i - 1] != b'\r' {
                out.extend_from_slice(&chunk[start..i]);
                out.extend_from_slice(b"\r\n");
                start = i + 1;
            }
        }
        out.extend_from_slice(&chunk[start..]);
        out
    }
}

crate::wide::widest! {
    /// Whether `chunk` holds an LF that does not follow a CR (`cr_before`: the byte before
    /// the chunk was a CR). Each byte is paired with the one before it and the pairs are
    /// tested in blocks with no branch inside, a loop the compiler turns into vector
    /// instructions: no line-by-line search.
    fn has_bare_lf(chunk: &[u8], cr_before: bool) -> bool {
        const BLOCK: usize = 512;
        let Some(&first) = chunk.first() else {
            return false;
        };
        if first == b'\n' && !cr_before {
            return true;
        }
        let (before, at) = (&chunk[..chunk.len() - 1], &chunk[1..]);
        before
            .chunks(BLOCK)
            .zip(at.chunks(BLOCK))
            .any(|(before, at)| {
                let bare = before.iter().zip(at).fold(0u8, |acc, (&b, &a)| {
                    acc | (u8::from(a == b'\n') & u8::from(b != b'\r'))
                });
                bare != 0
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `Headers::parse` must give, written as a definition over the lines (RFC
    /// 5322 §2.2, §2.2.3): a line starting with white space continues the field before;
    /// any other line is `name:value`, the name printable ASCII without white space
    /// before the colon. Fields are (start, name end, value start, end) offsets.
    fn reference_fields(block: &[u8]) -> Result<Vec<(usize, usize, usize, usize)>, HeaderError> {
        let mut fields: Vec<(usize, usize, usize, usize)> = Vec::new();
        let mut start = 0;
        for (n, line) in block.split_inclusive(|&b| b == b'\n').enumerate() {
            let bad = HeaderError::NotAField { line: n + 1 };
            let end = start + line.len();
            if line.starts_with(b" ") || line.starts_with(b"\t") {
                fields.last_mut().ok_or(bad)?.3 = end;
            } else {
                let colon = line.iter().position(|&b| b == b':').ok_or(bad.clone())?;
                let name = line[..colon]
                    .iter()
                    .rposition(|&b| b != b' ' && b != b'\t')
                    .map_or(&line[..0], |k| &line[..=k]);
                if name.is_empty() || name.iter().any(|b| !b.is_ascii_graphic()) {
                    return Err(bad);
                }
                if fields.len() == MAX_HEADER_FIELDS {
                    return Err(HeaderError::TooManyFields);
                }
                fields.push((start, start + name.len(), start + colon + 1, end));
            }
            start = end;
        }
        Ok(fields)
    }

    /// Generated header blocks (fields, folds, bare LFs, no final line end, lines that
    /// are not fields) split as the line-by-line definition splits them.
    #[test]
    fn header_parse_agrees_with_the_line_by_line_definition() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let pieces: [&[u8]; 9] = [
            b"From: a@example.com\r\n",
            b"Subject: hi\n",
            b" folded\r\n",
            b"\tfolded tab\r\n",
            b"X-A : spaced\r\n",
            b"no colon here\r\n",
            b"To:\r\n",
            b"\r\n",
            b"Bad Name: x\r\n",
        ];
        for _ in 0..20_000 {
            let mut block = Vec::new();
            for _ in 0..next() % 8 {
                block.extend_from_slice(pieces[(next() % 9) as usize]);
            }
            if next().is_multiple_of(3) && !block.is_empty() {
                let cut = (next() as usize) % block.len();
                block.truncate(cut.max(1));
            }
            let got = Headers::parse(&block).map(|h| h.fields);
            assert_eq!(
                got,
                reference_fields(&block),
                "{:?}",
                String::from_utf8_lossy(&block)
            );
        }
    }

    /// The two searches against the line-by-line definition (the first line end
    /// followed by an empty line), for every start of the search, on random mixes of
    /// CRLF, bare LF, CR and text.
    #[test]
    fn header_end_agrees_with_the_line_by_line_definition() {
        fn line_by_line(buf: &[u8], from: usize) -> Option<(usize, usize)> {
            if buf.starts_with(b"\r\n") {
                return Some((0, 2));
            }
            if buf.starts_with(b"\n") {
                return Some((0, 1));
            }
            let mut i = from;
            while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
                let nl = i + off;
                let next = &buf[nl + 1..];
                if next.starts_with(b"\r\n") {
                    return Some((nl + 1, nl + 3));
                }
                if next.starts_with(b"\n") {
                    return Some((nl + 1, nl + 2));
                }
                i = nl + 1;
            }
            None
        }
        let pieces: [&[u8]; 6] = [b"\r\n", b"\n", b"\r", b"a: b", b"x", b"\r\n "];
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let n = (next() % 16) as usize;
            let buf: Vec<u8> = (0..n)
                .flat_map(|_| pieces[(next() % 6) as usize].iter().copied())
                .collect();
            for from in 0..=buf.len() {
                assert_eq!(
                    find_header_end(&buf, from),
                    line_by_line(&buf, from),
                    "{buf:?} from {from}"
                );
            }
        }
        assert_eq!(find_header_end(b"a: b", 9), None);
    }

    /// The block test, in each build, agrees with a byte-by-byte one, for every position
    /// of a bare LF, a CRLF and a CR LF split over a vector or block boundary, and bytes
    /// that differ from LF or CR in one bit.
    #[test]
    fn bare_lf_detection_agrees_with_bytewise() {
        fn bytewise(c: &[u8], cr_before: bool) -> bool {
            (0..c.len()).any(|i| {
                c[i] == b'\n'
                    && if i == 0 {
                        !cr_before
                    } else {
                        c[i - 1] != b'\r'
                    }
            })
        }
        let fill = [b'a', 0x0b, 0x8a, 0x0c, 0x8d, 0x0e, 0x00, 0xff, b'\r'];
        // Every build (`crate::wide`), at lengths around a vector and the block size.
        for (build, has_bare_lf) in has_bare_lf::builds() {
            for len in (0..70).chain([511, 512, 513, 527]) {
                for f in fill {
                    let base = vec![f; len];
                    for cr_before in [false, true] {
                        assert_eq!(has_bare_lf(&base, cr_before), bytewise(&base, cr_before));
                        for i in 0..len {
                            let mut c = base.clone();
                            c[i] = b'\n';
                            assert_eq!(
                                has_bare_lf(&c, cr_before),
                                bytewise(&c, cr_before),
                                "{build}: {c:?}"
                            );
                            if i > 0 {
                                c[i - 1] = b'\r';
                                assert_eq!(
                                    has_bare_lf(&c, cr_before),
                                    bytewise(&c, cr_before),
                                    "{build}: {c:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rfc5322_2_2_3_folded_fields() {
        let h = Headers::parse(b"From: a@example.com\r\nSubject: hello\r\n  world\r\nX-Empty:\r\nTo : b@example.com\r\n").unwrap();
        let f: Vec<_> = h.fields().collect();
        assert_eq!(f.len(), 4);
        assert_eq!(f[1].name, b"Subject");
        assert_eq!(f[1].value, b" hello\r\n  world");
        assert_eq!(f[1].raw, b"Subject: hello\r\n  world\r\n");
        assert_eq!(f[2].value, b"");
        assert_eq!(f[3].name, b"To");
        assert!(f[3].is("to"));
    }

    #[test]
    fn malformed_header_lines() {
        assert_eq!(
            Headers::parse(b"From: a\r\nno colon here\r\n"),
            Err(HeaderError::NotAField { line: 2 })
        );
        assert_eq!(
            Headers::parse(b" leading: x\r\n"),
            Err(HeaderError::NotAField { line: 1 })
        );
        assert_eq!(
            Headers::parse(b": empty name\r\n"),
            Err(HeaderError::NotAField { line: 1 })
        );
    }

    #[test]
    fn splitter_finds_the_blank_line_across_chunks() {
        let msg = b"From: a\r\nTo: b\r\n\r\nbody\r\n";
        for cut in 0..msg.len() {
            let mut s = MessageSplitter::new();
            let mut body = Vec::new();
            let mut headers = None;
            for part in [&msg[..cut], &msg[cut..]] {
                match s.push(part).unwrap() {
                    Split::Header => {}
                    Split::HeaderDone(h, b) => {
                        headers = Some(h);
                        body.extend_from_slice(b);
                    }
                    Split::Body(b) => body.extend_from_slice(b),
                }
            }
            let h = headers.expect("header found");
            assert_eq!(h.len(), 2, "cut {cut}");
            assert_eq!(body, b"body\r\n", "cut {cut}");
        }
    }

    /// After a refused header the splitter stays refused: a later chunk is never taken
    /// as the start of a body (the offset arithmetic of a second push used to
    /// underflow).
    #[test]
    fn a_refused_header_stays_refused() {
        let mut s = MessageSplitter::new();
        assert!(s.push(b"bad\n\nx").is_err());
        assert!(s.push(b"From: a\r\n\r\nbody").is_err());
        assert!(s.finish().is_err());
    }

    #[test]
    fn header_only_message() {
        let mut s = MessageSplitter::new();
        assert!(matches!(s.push(b"From: a\r\n").unwrap(), Split::Header));
        assert_eq!(s.finish().unwrap().unwrap().len(), 1);
    }

    #[test]
    fn oversized_header_is_refused() {
        let mut s = MessageSplitter::new();
        let line =
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        let mut err = None;
        for _ in 0..20_000 {
            if let Err(e) = s.push(line) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(HeaderError::TooLarge));
    }

    #[test]
    fn crlf_normalization_across_chunks() {
        let mut n = CrlfNormalizer::new();
        let mut out = Vec::new();
        let mut all = Vec::new();
        for chunk in [&b"a\nb\r"[..], b"\nc\n", b"\n"] {
            n.normalize(chunk, &mut out);
            all.extend_from_slice(&out);
        }
        assert_eq!(all, b"a\r\nb\r\nc\r\n\r\n");
    }

    /// `apply` borrows a chunk without a bare LF, and gives the same bytes as a
    /// byte-by-byte reference for any split of any input.
    #[test]
    fn crlf_apply_borrows_crlf_input_and_agrees_with_the_reference() {
        let mut n = CrlfNormalizer::new();
        let mut out = Vec::new();
        let crlf = b"a\r\nb\r\n\r\nc";
        let got = n.apply(crlf, &mut out);
        assert!(std::ptr::eq(got, &crlf[..]));
        assert!(out.is_empty());
        fn reference(input: &[u8]) -> Vec<u8> {
            let mut v = Vec::new();
            for (i, &b) in input.iter().enumerate() {
                if b == b'\n' && (i == 0 || input[i - 1] != b'\r') {
                    v.push(b'\r');
                }
                v.push(b);
            }
            v
        }
        let inputs: [&[u8]; 6] = [
            b"\n\n\r\n\r\r\n\n",
            b"From: a\nTo: b\r\n\nbody\n",
            b"\r",
            b"",
            b"x\r\n\ny\r\r\n",
            b"\n",
        ];
        for input in inputs {
            for split in 0..=input.len() {
                for split2 in split..=input.len() {
                    let mut n = CrlfNormalizer::new();
                    let mut all = Vec::new();
                    for part in [&input[..split], &input[split..split2], &input[split2..]] {
                        all.extend_from_slice(n.apply(part, &mut out));
                    }
                    assert_eq!(all, reference(input), "{input:?} at {split}, {split2}");
                }
            }
        }
        // Long inputs, dense in CRs and LFs, cut at random places (a CR ending one
        // piece, its LF starting the next), with bytes a word-at-a-time search could take
        // for an LF: 0x0B (one above) and 0x8A (the high bit set).
        let mut random = crate::testing::xorshift(0x51_7cc1_b727_220a);
        for _ in 0..3000 {
            let len = (random() % 400) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| match random() % 10 {
                    0 | 1 => b'\n',
                    2 => b'\r',
                    3 => 0x0b,
                    4 => 0x8a,
                    _ => b'a',
                })
                .collect();
            let cuts = [
                (random() % (len as u64 + 1)) as usize,
                (random() % (len as u64 + 1)) as usize,
            ];
            let (a, b) = (cuts[0].min(cuts[1]), cuts[0].max(cuts[1]));
            let mut n = CrlfNormalizer::new();
            let mut all = Vec::new();
            for part in [&input[..a], &input[a..b], &input[b..]] {
                all.extend_from_slice(n.apply(part, &mut out));
            }
            assert_eq!(all, reference(&input), "{input:?} cut at {a}, {b}");
        }
        // Lines of every length (0 to 99 bytes), ending
        // in LF, CRLF or CR, many to a chunk, with one buffer reused across chunks that
        // shrink and grow, and `normalize` over the same pieces.
        let mut out = Vec::new();
        for _ in 0..300 {
            let mut input = Vec::new();
            for _ in 0..(random() % 60) {
                let len = (random() % 100) as usize;
                input.extend((0..len).map(|k| b'a' + (k % 26) as u8));
                input.extend_from_slice(match random() % 4 {
                    0 => &b"\r\n"[..],
                    1 => b"\r",
                    _ => b"\n",
                });
            }
            let len = input.len() as u64 + 1;
            let mut cuts = [random() % len, random() % len, random() % len].map(|c| c as usize);
            cuts.sort_unstable();
            let parts = [
                &input[..cuts[0]],
                &input[cuts[0]..cuts[1]],
                &input[cuts[1]..cuts[2]],
                &input[cuts[2]..],
            ];
            let (mut n, mut m) = (CrlfNormalizer::new(), CrlfNormalizer::new());
            let (mut all, mut all2, mut whole) = (Vec::new(), Vec::new(), Vec::new());
            for part in parts {
                all.extend_from_slice(n.apply(part, &mut out));
                m.normalize(part, &mut whole);
                all2.extend_from_slice(&whole);
            }
            assert_eq!(all, reference(&input), "cut at {cuts:?}");
            assert_eq!(all2, all, "normalize, cut at {cuts:?}");
        }
    }
}
