//! A bounded MIME walker (RFC 2045, RFC 2046, RFC 2231) for reading report mail: the
//! leaf parts of a message with their media type, name and decoded body.
//!
//! Reports arrive from many generators, so the walker is lenient: LF or CRLF line
//! endings, header lines without a colon skipped, a missing closing delimiter read as
//! the end of the part, base64 with stray characters. It is also bounded: nesting
//! ([`MAX_DEPTH`]) and parts ([`MAX_PARTS`]) are limited, and every step is linear in
//! the input, so a hostile message cannot make it work hard. A header past its bounds
//! (more than [`MAX_PART_FIELDS`] fields, a value over [`MAX_FIELD_VALUE`] bytes, more
//! than [`MAX_PARAMS`] parameters) is an error naming the bound, never read in part: a
//! `Content-Type` past a cut would be missed. `message/rfc822` parts are leaves (a
//! report's copy of the original message is not a report).

use memchr::memmem;

/// Multiparts nested this deep at most.
pub const MAX_DEPTH: usize = 8;
/// Leaf parts at most.
pub const MAX_PARTS: usize = 1_000;
/// Header fields of one part at most (a part with more is [`MimeError::TooManyFields`]).
pub const MAX_PART_FIELDS: usize = 200;
/// The longest value of one header field, unfolded, in bytes.
pub const MAX_FIELD_VALUE: usize = 64 * 1024;
/// Parameters of one `Content-Type` or `Content-Disposition` at most.
pub const MAX_PARAMS: usize = 64;

/// Why a message could not be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MimeError {
    /// Multiparts nested deeper than [`MAX_DEPTH`].
    #[error("MIME parts nested over {MAX_DEPTH} deep")]
    TooDeep,
    /// More than [`MAX_PARTS`] parts.
    #[error("over {MAX_PARTS} MIME parts")]
    TooManyParts,
    /// A decoded part would be larger than allowed.
    #[error("a MIME part decodes to over {0} bytes")]
    TooLarge(usize),
    /// A header with more fields than allowed ([`MAX_PART_FIELDS`] for a part).
    #[error("a header with over {0} fields")]
    TooManyFields(usize),
    /// A field value, unfolded, longer than [`MAX_FIELD_VALUE`] bytes; the field's
    /// name (cut to 80 characters).
    #[error("the header field {0:?} is over {MAX_FIELD_VALUE} bytes")]
    FieldTooLong(String),
    /// A `Content-Type` or `Content-Disposition` with more than [`MAX_PARAMS`]
    /// parameters.
    #[error("a Content-Type or Content-Disposition with over {MAX_PARAMS} parameters")]
    TooManyParams,
}

/// One leaf part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The media type, lower case (`application/gzip`); `text/plain` when none is given
    /// (RFC 2045 §5.2), `message/rfc822` inside `multipart/digest`.
    pub media_type: String,
    /// The Content-Type parameters, names in lower case (`report-type`, `name`).
    pub params: Vec<(String, String)>,
    /// The file name: Content-Disposition `filename`, else Content-Type `name`.
    pub filename: Option<String>,
    /// The Content-Transfer-Encoding, lower case (`7bit` when none).
    pub encoding: String,
    /// The part's header block, raw.
    pub header: &'a [u8],
    /// The part's body, still encoded.
    pub body: &'a [u8],
    /// The media type of the multipart this part is in (`multipart/report`), if any.
    pub parent: Option<String>,
    /// The last part of a multipart that has no close delimiter: it ran to the end of
    /// the input, which may have been cut inside it.
    pub cut: bool,
}

impl Part<'_> {
    /// A Content-Type parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body decoded from its transfer encoding (base64, quoted-printable; others as
    /// they are), at most `max` bytes.
    pub fn decoded(&self, max: usize) -> Result<Vec<u8>, MimeError> {
        let out = match self.encoding.as_str() {
            "base64" => decode_base64(self.body, max)?,
            "quoted-printable" => decode_qp(self.body, max)?,
            _ => {
                if self.body.len() > max {
                    return Err(MimeError::TooLarge(max));
                }
                self.body.to_vec()
            }
        };
        Ok(out)
    }
}

/// Splits a message (or part) into its header block and body at the first empty line.
/// A line of only spaces and tabs also ends the header (Lotus Notes writes those). A
/// message with no empty line is all header.
pub fn split(message: &[u8]) -> (&[u8], &[u8]) {
    let mut line_start = 0;
    loop {
        let end = match memchr::memchr(b'\n', &message[line_start..]) {
            Some(i) => line_start + i + 1,
            None => return (message, &[]),
        };
        let line = &message[line_start..end];
        if line
            .iter()
            .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return (&message[..line_start], &message[end..]);
        }
        line_start = end;
    }
}

/// The header fields of a block, unfolded: (name, value) in order, values trimmed.
/// Lines that are not fields are skipped. More than `limit` fields is
/// [`MimeError::TooManyFields`], a value over [`MAX_FIELD_VALUE`] bytes
/// [`MimeError::FieldTooLong`]: a field past a cut could be the one that matters.
pub fn fields(header: &[u8], limit: usize) -> Result<Vec<(String, String)>, MimeError> {
    let too_long = |name: &str| MimeError::FieldTooLong(name.chars().take(80).collect());
    let mut out: Vec<(String, String)> = Vec::new();
    for line in header.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(last) = out.last_mut() {
                let more = String::from_utf8_lossy(line);
                let more = more.trim();
                if last.1.len() + 1 + more.len() > MAX_FIELD_VALUE {
                    return Err(too_long(&last.0));
                }
                last.1.push(' ');
                last.1.push_str(more);
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_string();
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        if out.len() >= limit {
            return Err(MimeError::TooManyFields(limit));
        }
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_string();
        if value.len() > MAX_FIELD_VALUE {
            return Err(too_long(&name));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// The first field named `name` (any case) among `fields`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A Content-Type or Content-Disposition value: the lower-cased token before the
/// first `;` and the parameters (RFC 2045 §5.1), with RFC 2231 extended values
/// (`filename*=utf-8''a%20b`) decoded and continuations (`name*0`, `name*1`) joined.
/// More than [`MAX_PARAMS`] parameters is [`MimeError::TooManyParams`].
pub fn parse_content_type(value: &str) -> Result<(String, Vec<(String, String)>), MimeError> {
    let value = super::rfc5322::strip_comments(value);
    let mut pieces = split_params(&value);
    let kind = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut continued: Vec<(String, u32, String)> = Vec::new();
    let mut count = 0;
    for piece in pieces {
        let Some((name, val)) = piece.split_once('=') else {
            continue;
        };
        count += 1;
        if count > MAX_PARAMS {
            return Err(MimeError::TooManyParams);
        }
        let name = name.trim().to_ascii_lowercase();
        let val = unquote(val.trim());
        if let Some((base, rest)) = name.split_once('*') {
            let extended = rest.ends_with('*') || rest.is_empty();
            let index: u32 = rest.trim_end_matches('*').parse().unwrap_or(0);
            let text = if extended {
                decode_2231(&val, index == 0)
            } else {
                val
            };
            continued.push((base.to_string(), index, text));
        } else {
            params.push((name, val));
        }
    }
    continued.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    // The pieces of one value together are no longer than the field (bounded above).
    for (name, _, text) in continued {
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push_str(&text),
            None => params.push((name, text)),
        }
    }
    Ok((kind, params))
}

/// `;`-separated pieces, not splitting inside quoted strings.
fn split_params(s: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = s.chars().peekable();
    std::iter::from_fn(move || {
        chars.peek()?;
        let mut piece = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    quoted = !quoted;
                    piece.push(c);
                }
                '\\' if quoted => {
                    piece.push(c);
                    if let Some(n) = chars.next() {
                        piece.push(n);
                    }
                }
                ';' if !quoted => break,
                _ => piece.push(c),
            }
        }
        Some(piece)
    })
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"') {
        Some(inner) => {
            let inner = inner.strip_suffix('"').unwrap_or(inner);
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => v.to_string(),
    }
}

/// RFC 2231 §4: `charset'language'percent-encoded` (the charset part only on the first
/// piece). Bytes are read as UTF-8, lossily.
fn decode_2231(v: &str, first: bool) -> String {
    let encoded = if first {
        v.splitn(3, '\'').nth(2).unwrap_or(v)
    } else {
        v
    };
    let b = encoded.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The leaf parts of a message, in order.
pub fn parts(message: &[u8]) -> Result<Vec<Part<'_>>, MimeError> {
    let mut out = Vec::new();
    walk(message, None, false, false, 0, &mut out)?;
    Ok(out)
}

fn walk<'a>(
    entity: &'a [u8],
    parent: Option<&str>,
    digest: bool,
    cut: bool,
    depth: usize,
    out: &mut Vec<Part<'a>>,
) -> Result<(), MimeError> {
    if out.len() >= MAX_PARTS {
        return Err(MimeError::TooManyParts);
    }
    let (header, body) = split(entity);
    let fields = fields(header, MAX_PART_FIELDS)?;
    let (media_type, params) = match field(&fields, "content-type") {
        Some(v) => {
            let (t, p) = parse_content_type(v)?;
            // A type without a subtype is not a type (RFC 2045 §5.2: use the default).
            if t.contains('/') {
                (t, p)
            } else {
                (default_type(digest), p)
            }
        }
        None => (default_type(digest), Vec::new()),
    };
    if media_type.starts_with("multipart/")
        && let Some(boundary) = params
            .iter()
            .find(|(n, _)| n == "boundary")
            .map(|(_, v)| v.clone())
        && !boundary.is_empty()
    {
        if depth >= MAX_DEPTH {
            return Err(MimeError::TooDeep);
        }
        let is_digest = media_type == "multipart/digest";
        for (child, cut) in multipart_bodies(body, boundary.as_bytes()) {
            walk(child, Some(&media_type), is_digest, cut, depth + 1, out)?;
        }
        return Ok(());
    }
    let disposition = field(&fields, "content-disposition")
        .map(parse_content_type)
        .transpose()?;
    let filename = disposition
        .as_ref()
        .and_then(|(_, p)| p.iter().find(|(n, _)| n == "filename"))
        .or_else(|| params.iter().find(|(n, _)| n == "name"))
        .map(|(_, v)| v.clone());
    let encoding = field(&fields, "content-transfer-encoding")
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "7bit".to_string());
    out.push(Part {
        media_type,
        params,
        filename,
        encoding,
        header,
        body,
        parent: parent.map(str::to_string),
        cut,
    });
    Ok(())
}

fn default_type(digest: bool) -> String {
    if digest {
        "message/rfc822".into()
    } else {
        "text/plain".into()
    }
}

/// The bodies between the delimiter lines `--boundary` (RFC 2046 §5.1.1): the preamble
/// and epilogue are dropped; a missing close delimiter ends the last part at the end.
/// The line break before a delimiter belongs to the delimiter. Each body comes with
/// whether it is such a last part, run to the end (cut, perhaps).
fn multipart_bodies<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<(&'a [u8], bool)> {
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delim);
    // (start of delimiter incl. preceding line break, end of delimiter line, is close).
    let mut delims: Vec<(usize, usize, bool)> = Vec::new();
    let mut pos = 0;
    while let Some(i) = finder.find(&body[pos..]) {
        let at = pos + i;
        pos = at + delim.len();
        let at_line_start = at == 0 || body[at - 1] == b'\n';
        if !at_line_start {
            continue;
        }
        let mut start = at;
        if start > 0 && body[start - 1] == b'\n' {
            start -= 1;
            if start > 0 && body[start - 1] == b'\r' {
                start -= 1;
            }
        }
        let after = &body[pos..];
        let close = after.starts_with(b"--");
        let line_end = match memchr::memchr(b'\n', after) {
            Some(n) => pos + n + 1,
            None => body.len(),
        };
        // `--abc-1` is not a delimiter of boundary `abc`: only `--` or white space
        // (transport padding, RFC 2046 §5.1.1) may follow on the line.
        if !close
            && !body[pos..line_end]
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            continue;
        }
        delims.push((start, line_end, close));
        if close {
            break;
        }
        pos = line_end;
        if delims.len() > MAX_PARTS {
            break;
        }
    }
    let mut out = Vec::new();
    for w in delims.windows(2) {
        let (_, body_start, close) = w[0];
        if close {
            break;
        }
        out.push((&body[body_start..w[1].0.max(body_start)], false));
    }
    if let Some(&(_, body_start, false)) = delims.last() {
        out.push((&body[body_start..], true));
    }
    out
}

/// Base64 values of bytes: 0..=63 in the alphabet, [`PAD`] for `=`, [`SKIP`] otherwise.
const B64: [u8; 256] = {
    let mut t = [SKIP; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'=' as usize] = PAD;
    t
};
const SKIP: u8 = 0xff;
const PAD: u8 = 0xfe;

/// Base64 (RFC 2045 §6.8), skipping characters outside the alphabet (line breaks,
/// stray characters); `=` padding ends a quantum (a concatenation of encoded pieces
/// goes on); at most `max` bytes out.
pub fn decode_base64(input: &[u8], max: usize) -> Result<Vec<u8>, MimeError> {
    let mut out = Vec::with_capacity((input.len() / 4 * 3).min(max));
    let mut acc: u32 = 0;
    let mut n = 0u32;
    for &b in input {
        let v = B64[b as usize];
        if v >= PAD {
            if v == PAD && n >= 2 {
                // A padded quantum: 2 or 3 characters give 1 or 2 bytes.
                flush_partial(&mut out, acc, n, max)?;
                acc = 0;
                n = 0;
            }
            continue;
        }
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            if out.len() + 3 > max {
                return Err(MimeError::TooLarge(max));
            }
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    // A final quantum without padding.
    flush_partial(&mut out, acc, n, max)?;
    Ok(out)
}

/// The bytes of an incomplete quantum: 2 or 3 characters give 1 or 2 bytes.
fn flush_partial(out: &mut Vec<u8>, acc: u32, n: u32, max: usize) -> Result<(), MimeError> {
    let tail: &[u8] = match n {
        2 => &[(acc >> 4) as u8],
        3 => &[(acc >> 10) as u8, (acc >> 2) as u8],
        _ => &[],
    };
    if out.len() + tail.len() > max {
        return Err(MimeError::TooLarge(max));
    }
    out.extend_from_slice(tail);
    Ok(())
}

/// Quoted-printable (RFC 2045 §6.7); malformed escapes are kept as they are.
pub fn decode_qp(input: &[u8], max: usize) -> Result<Vec<u8>, MimeError> {
    let mut out = Vec::with_capacity(input.len().min(max));
    let mut i = 0;
    while i < input.len() {
        if out.len() >= max {
            return Err(MimeError::TooLarge(max));
        }
        let b = input[i];
        if b == b'=' {
            match (input.get(i + 1), input.get(i + 2)) {
                (Some(b'\r'), Some(b'\n')) => {
                    i += 3;
                    continue;
                }
                (Some(b'\n'), _) => {
                    i += 2;
                    continue;
                }
                (Some(&h), Some(&l)) => {
                    if let (Some(h), Some(l)) = (hex(h), hex(l)) {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_multipart_with_lf_endings() {
        let m = b"Content-Type: multipart/mixed; boundary=\"a b\"\n\npreamble\n--a b\nContent-Type: text/plain\n\nhello\n--a b\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: application/gzip; name=\"r.xml.gz\"\nContent-Transfer-Encoding: base64\n\naGVs\nbG8=\n--inner--\n--a b--\nepilogue\n";
        let p = parts(m).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].body, b"hello");
        assert_eq!(p[1].media_type, "application/gzip");
        assert_eq!(p[1].filename.as_deref(), Some("r.xml.gz"));
        assert_eq!(p[1].decoded(100).unwrap(), b"hello");
        assert_eq!(p[1].parent.as_deref(), Some("multipart/alternative"));
    }

    #[test]
    fn a_longer_boundary_is_not_a_delimiter() {
        let m = b"Content-Type: multipart/mixed; boundary=abc\n\n--abc\nContent-Type: multipart/mixed; boundary=abc-1\n\n--abc-1\n\ninner\n--abc-1--\n--abc \n\nsecond\n--abc--\n";
        let p = parts(m).unwrap();
        let bodies: Vec<&[u8]> = p.iter().map(|p| p.body).collect();
        assert_eq!(bodies, [&b"inner"[..], &b"second"[..]]);
    }

    #[test]
    fn missing_close_delimiter_and_crlf() {
        let m = b"Content-Type: multipart/report; report-type=feedback-report;\r\n boundary=XX\r\n\r\n--XX\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\n";
        let p = parts(m).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].media_type, "message/feedback-report");
        assert_eq!(p[0].body, b"Feedback-Type: auth-failure\r\n");
        // It ran to the end of the input: marked, for a reader that must not judge a
        // part that may have been cut. With its close delimiter, it is not.
        assert!(p[0].cut);
        let closed = [&m[..], b"--XX--\r\n"].concat();
        assert!(!parts(&closed).unwrap()[0].cut);
    }

    #[test]
    fn rfc2231_names_and_defaults() {
        let (t, p) = parse_content_type(
            "Application/ZIP; name*0*=utf-8''a%20b; name*1=\".zip\" (comment); x=\"q\\\"\"",
        )
        .unwrap();
        assert_eq!(t, "application/zip");
        assert_eq!(p[0], ("x".into(), "q\"".into()));
        assert_eq!(p[1], ("name".into(), "a b.zip".into()));
        let p = parts(b"Subject: x\n\nbody").unwrap();
        assert_eq!(p[0].media_type, "text/plain");
    }

    #[test]
    fn white_space_line_ends_the_header() {
        assert_eq!(
            split(b"A: 1\r\n \r\nbody"),
            (&b"A: 1\r\n"[..], &b"body"[..])
        );
        assert_eq!(split(b"\nbody"), (&b""[..], &b"body"[..]));
        assert_eq!(split(b"A: 1\n"), (&b"A: 1\n"[..], &b""[..]));
    }

    #[test]
    fn depth_and_part_bombs_are_refused() {
        let mut m = Vec::new();
        for i in 0..20 {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
            );
        }
        assert_eq!(parts(&m), Err(MimeError::TooDeep));
        let mut m = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
        for _ in 0..MAX_PARTS + 5 {
            m.extend_from_slice(b"--b\n\nx\n");
        }
        assert_eq!(parts(&m), Err(MimeError::TooManyParts));
    }

    /// A part header past a bound is refused by name, never read in part: exactly the
    /// bound is read, one more is an error.
    #[test]
    fn header_bounds_are_refused_not_cut() {
        // Fields: the Content-Type as field 200 is read; a field more is an error.
        let mut header = String::new();
        for i in 1..MAX_PART_FIELDS {
            header.push_str(&format!("X-F{i}: v\n"));
        }
        header.push_str("Content-Type: application/gzip\nnot a field\n");
        let at_limit = format!("{header}\nbody");
        assert_eq!(
            parts(at_limit.as_bytes()).unwrap()[0].media_type,
            "application/gzip"
        );
        let over = format!("X-One-More: v\n{header}\nbody");
        assert_eq!(
            parts(over.as_bytes()),
            Err(MimeError::TooManyFields(MAX_PART_FIELDS))
        );
        // A folded value of exactly 64 KiB is read; one byte more is an error.
        let folded = |first: usize| {
            let mut h = format!("X-Long: {}\n", "a".repeat(first));
            for _ in 0..65 {
                h.push_str(&format!(" {}\n", "b".repeat(999)));
            }
            h
        };
        let f = fields(folded(536).as_bytes(), 10).unwrap();
        assert_eq!(f[0].1.len(), MAX_FIELD_VALUE);
        assert_eq!(
            fields(folded(537).as_bytes(), 10),
            Err(MimeError::FieldTooLong("X-Long".into()))
        );
        let unfolded = format!("X-Long: {}\n", "a".repeat(MAX_FIELD_VALUE + 1));
        assert_eq!(
            fields(unfolded.as_bytes(), 10),
            Err(MimeError::FieldTooLong("X-Long".into()))
        );
        // Parameters: 64 are read (the last one too); 65 are an error.
        let params = |n: usize| {
            (1..n)
                .map(|i| format!("; x{i}=1"))
                .chain(std::iter::once("; name=r.xml.gz".to_string()))
                .collect::<String>()
        };
        let (_, p) =
            parse_content_type(&format!("application/gzip{}", params(MAX_PARAMS))).unwrap();
        assert_eq!(p.len(), MAX_PARAMS);
        assert_eq!(p[MAX_PARAMS - 1], ("name".into(), "r.xml.gz".into()));
        let over = format!(
            "Content-Disposition: attachment{}\n\nbody",
            params(MAX_PARAMS + 1)
        );
        assert_eq!(parts(over.as_bytes()), Err(MimeError::TooManyParams));
    }

    #[test]
    fn decoders_are_bounded_and_lenient() {
        assert_eq!(decode_base64(b"aGVs bG8=\r\n!!", 100).unwrap(), b"hello");
        assert_eq!(decode_base64(b"aGVsbG8=", 3), Err(MimeError::TooLarge(3)));
        assert_eq!(decode_base64(b"aGk=aGk", 100).unwrap(), b"hihi");
        assert_eq!(decode_base64(b"YQ==", 100).unwrap(), b"a");
        assert_eq!(decode_base64(b"YWI", 100).unwrap(), b"ab");
        assert_eq!(decode_qp(b"a=3Db=\r\nc=ZZ", 100).unwrap(), b"a=bc=ZZ");
    }
}
