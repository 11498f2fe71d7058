//! Getting the reports out of what reporters send (issue 12): gzip (also gzip inside
//! gzip, and concatenated members), zip (every member holding XML or JSON, whatever its
//! name, even empty: a reporter sends one, an archive kept by hand may hold many), or
//! plain XML or JSON. Every way to make a small input into a large output is bounded
//! ([`Limits`]): the input size, the output size (of all the reports of an input
//! together), the decompression ratio, the nesting of archives and the number of zip
//! members. A limit reached is an error naming it, and no report is returned cut.

use std::io::Read;

/// The bounds of one extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest input read.
    pub max_input: u64,
    /// The largest report produced.
    pub max_output: u64,
    /// Output bytes per input byte at most (ratio bombs), once past `ratio_floor`.
    pub max_ratio: u64,
    /// Below this output size the ratio is not checked (small reports compress well).
    pub ratio_floor: u64,
    /// Archives inside archives at most.
    pub max_depth: usize,
    /// Zip members looked at at most.
    pub max_members: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input: 64 << 20,
            max_output: 256 << 20,
            max_ratio: 1000,
            ratio_floor: 1 << 20,
            max_depth: 3,
            max_members: 100,
        }
    }
}

/// Why no report came out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The input is over [`Limits::max_input`].
    #[error("the input is over {0} bytes")]
    InputTooLarge(u64),
    /// The output would be over [`Limits::max_output`].
    #[error("it decompresses to over {0} bytes")]
    OutputTooLarge(u64),
    /// The output grows past [`Limits::max_ratio`] times the input.
    #[error("it decompresses over {0} times its size (a compression bomb)")]
    Ratio(u64),
    /// Everything decompressed from the input, at every level and in every member,
    /// report or not, would be over this many bytes: zip members that overlap (one
    /// compressed run read as hundreds of members) or that hold no report cost work
    /// all the same.
    #[error(
        "its archives decompress to over {0} bytes in all, reports or not (a compression bomb: overlapping or repeated members)"
    )]
    InflatedTooMuch(u64),
    /// Archives nested past [`Limits::max_depth`].
    #[error("archives nested over {0} deep")]
    TooDeep(usize),
    /// A zip with more members than [`Limits::max_members`] and no report among them.
    #[error("no report among the first {0} zip members")]
    TooManyMembers(usize),
    /// Broken gzip or zip.
    #[error("{kind}: {why}")]
    Archive {
        /// `gzip` or `zip`.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
    /// None of the known forms.
    #[error("not gzip, zip, XML or JSON")]
    Unknown,
    /// Nothing at all.
    #[error("empty: no report in it")]
    Empty,
    /// A zip with no XML or JSON member.
    #[error("the zip holds no XML or JSON report")]
    EmptyZip,
    /// A zip with more members than [`Limits::max_members`]: the rest were not read.
    #[error("the zip has {total} members: those after the first {max} were not read")]
    MembersNotRead {
        /// [`Limits::max_members`].
        max: usize,
        /// How many the zip has.
        total: usize,
    },
}

/// One report found in an input ([`extract_each`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The document.
    pub doc: Vec<u8>,
    /// What it is written in.
    pub format: Format,
    /// The zip member it came from (its name, or `#N` when it has none), when the input
    /// is a zip.
    pub member: Option<String>,
}

/// A zip member that could not be read: its name (or `#N`), and why.
pub type MemberError = (String, ExtractError);

/// What a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aggregate report (XML).
    Xml,
    /// A TLS report (RFC 8460, JSON).
    Json,
}

/// The report inside `bytes`, and its format: the first of [`extract_each`]'s, or the
/// first error.
pub fn extract(bytes: &[u8], limits: &Limits) -> Result<(Vec<u8>, Format), ExtractError> {
    match extract_each(bytes, limits)?.into_iter().next() {
        Some(Ok(found)) => Ok((found.doc, found.format)),
        Some(Err((_, e))) => Err(e),
        None => Err(ExtractError::EmptyZip),
    }
}

/// Every report inside `bytes`: one for plain XML or JSON and gzip, one per report
/// member of a zip, each member that holds something broken or over a limit as its
/// error (the others are still read; members that hold no report, a `readme.txt`, are
/// passed over). An input with no report at all, or one broken as a whole, is the
/// error. The reports of one input decompress to [`Limits::max_output`] bytes at most
/// together.
pub fn extract_each(
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<Result<Extracted, MemberError>>, ExtractError> {
    if bytes.len() as u64 > limits.max_input {
        return Err(ExtractError::InputTooLarge(limits.max_input));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ExtractError::Empty);
    }
    let mut out = Vec::new();
    let mut budget = limits.max_output;
    let at = At {
        limits,
        original: bytes.len() as u64,
        inflated: std::cell::Cell::new(0),
    };
    at.extract(bytes, 0, None, &mut budget, &mut out)?;
    Ok(out)
}

/// What every level of an extraction shares: the limits and the input's size (for the
/// ratio).
struct At<'l> {
    limits: &'l Limits,
    original: u64,
    /// Bytes decompressed so far from this input, at every level and in every member
    /// (reports or not): at most [`At::inflate_cap`] in all.
    inflated: std::cell::Cell<u64>,
}

impl At<'_> {
    /// The most all decompression of the input may give together, at every level and
    /// in every member, reports or not: four times what one decompression may (the
    /// ratio to the input's size, at most [`Limits::max_output`]). Room for a report
    /// in a gzip in a zip, and for members that fail alone, while a zip of hundreds of
    /// members over one compressed run stops after four runs' worth.
    fn inflate_cap(&self) -> u64 {
        read_cap(self.limits, self.original).saturating_mul(4)
    }

    /// [`bounded_read`] within what is left of [`At::inflate_cap`], which it charges
    /// with what it read, also when the read failed at a bound.
    fn inflate(
        &self,
        reader: impl Read,
        kind: &'static str,
        budget: u64,
    ) -> Result<Vec<u8>, ExtractError> {
        let total = self.inflate_cap();
        let left = total.saturating_sub(self.inflated.get());
        let limits = self.limits;
        let one = read_cap(limits, self.original).min(budget);
        // Every byte the decompressor gives is charged, whether the read ends well,
        // at a bound, or at a broken stream.
        let counted = Counted {
            inner: reader,
            into: &self.inflated,
        };
        let result = bounded_read(counted, limits, self.original, kind, budget.min(left));
        match result {
            // The input's whole allowance, not this read's own bound, cut it.
            Err(ExtractError::OutputTooLarge(_) | ExtractError::Ratio(_)) if left < one => {
                Err(ExtractError::InflatedTooMuch(total))
            }
            other => other,
        }
    }

    /// The reports in `bytes` (at archive depth `depth`, inside zip member `member`)
    /// into `out`; `budget` is the output still allowed. An error is returned for the
    /// input as a whole; a zip member's own goes into `out`.
    fn extract(
        &self,
        bytes: &[u8],
        depth: usize,
        member: Option<&str>,
        budget: &mut u64,
        out: &mut Vec<Result<Extracted, MemberError>>,
    ) -> Result<(), ExtractError> {
        let limits = self.limits;
        if let Some(format) = plain(bytes) {
            if bytes.len() as u64 > *budget {
                return Err(ExtractError::OutputTooLarge(limits.max_output));
            }
            *budget -= bytes.len() as u64;
            out.push(Ok(Extracted {
                doc: bytes.to_vec(),
                format,
                member: member.map(str::to_owned),
            }));
            return Ok(());
        }
        if depth >= limits.max_depth {
            return Err(ExtractError::TooDeep(limits.max_depth));
        }
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let inner = self.inflate(
                GzMembers {
                    current: flate2::bufread::GzDecoder::new(bytes),
                },
                "gzip",
                *budget,
            )?;
            return self.extract(&inner, depth + 1, member, budget, out);
        }
        if bytes.starts_with(b"PK\x03\x04") {
            return self.zip(bytes, depth, budget, out);
        }
        Err(ExtractError::Unknown)
    }

    /// Every member of a zip ([`At::extract`]).
    fn zip(
        &self,
        bytes: &[u8],
        depth: usize,
        budget: &mut u64,
        out: &mut Vec<Result<Extracted, MemberError>>,
    ) -> Result<(), ExtractError> {
        let limits = self.limits;
        let broken = |e: zip::result::ZipError| ExtractError::Archive {
            kind: "zip",
            why: e.to_string(),
        };
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(broken)?;
        let members = zip.len();
        // Members that share a name are one name to the archive reader (the last one
        // wins): the others would be dropped unread. Refused, by the count of entries
        // its central directory holds.
        if zip.has_duplicate_names() {
            return Err(ExtractError::Archive {
                kind: "zip",
                why: "two or more of its members have the same name: which one holds the \
                      report cannot be told"
                    .into(),
            });
        }
        let before = out.len();
        let read = members.min(limits.max_members);
        for i in 0..read {
            // A member that cannot be opened (encrypted, a method not built in, a bad
            // local header) is its own failure: the others are still read.
            let member = match zip.by_index(i) {
                Ok(m) => m,
                Err(e) => {
                    out.push(Err((format!("#{}", i + 1), broken(e))));
                    continue;
                }
            };
            if member.is_dir() {
                continue;
            }
            // Named for errors and sources: its name as far as it reads (control
            // characters are replaced where it is shown), else its place.
            let name: String = match member.name().ok().filter(|n| !n.is_empty()) {
                Some(n) => n.chars().take(200).collect(),
                None => format!("#{}", i + 1),
            };
            // Whatever the member's name (some reporters leave it empty), what it holds
            // decides; one that holds no report is passed over.
            let spent = *budget < limits.max_output;
            let result = self
                .inflate(member, "zip", *budget)
                .and_then(|inner| self.extract(&inner, depth + 1, Some(&name), budget, out));
            match result {
                Ok(()) | Err(ExtractError::Unknown) => {}
                Err(e @ ExtractError::InflatedTooMuch(_)) => {
                    // No later member can be read: the whole input's work is spent.
                    out.push(Err((name, e.clone())));
                    if i + 1 < members {
                        out.push(Err((format!("members {} to {members}", i + 2), e)));
                    }
                    return Ok(());
                }
                Err(e) => {
                    // Past what the input's reports may take together (not one member
                    // too large by itself): no later member can be read either, and
                    // they are named as not read.
                    let stop = spent && matches!(e, ExtractError::OutputTooLarge(_));
                    out.push(Err((name, e)));
                    if stop && i + 1 < members {
                        out.push(Err((
                            format!("members {} to {members}", i + 2),
                            ExtractError::OutputTooLarge(limits.max_output),
                        )));
                        return Ok(());
                    }
                }
            }
        }
        if out.len() == before {
            return Err(if members > limits.max_members {
                ExtractError::TooManyMembers(limits.max_members)
            } else {
                ExtractError::EmptyZip
            });
        }
        if members > limits.max_members {
            out.push(Err((
                format!("members {} to {members}", limits.max_members + 1),
                ExtractError::MembersNotRead {
                    max: limits.max_members,
                    total: members,
                },
            )));
        }
        Ok(())
    }
}

/// A reader that adds what it gives to a count.
struct Counted<'c, R> {
    inner: R,
    into: &'c std::cell::Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.into.set(self.into.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// Concatenated gzip members (RFC 1952 §2.2) read as one stream; bytes after a member
/// that do not start another (a CRLF some mailers append) are ignored.
struct GzMembers<'a> {
    current: flate2::bufread::GzDecoder<&'a [u8]>,
}

impl Read for GzMembers<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let rest: &[u8] = self.current.get_ref();
            if !rest.starts_with(&[0x1f, 0x8b]) {
                return Ok(0);
            }
            self.current = flate2::bufread::GzDecoder::new(rest);
        }
    }
}

/// XML (after a BOM and white space: `<`) or JSON (`{`).
fn plain(bytes: &[u8]) -> Option<Format> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match b.iter().find(|c| !c.is_ascii_whitespace()) {
        Some(b'<') => Some(Format::Xml),
        Some(b'{') => Some(Format::Json),
        _ => None,
    }
}

/// The most one decompression of an input of `original` bytes may give: the ratio to
/// its size (past the floor), at most [`Limits::max_output`].
fn read_cap(limits: &Limits, original: u64) -> u64 {
    original
        .saturating_mul(limits.max_ratio)
        .max(limits.ratio_floor)
        .min(limits.max_output)
}

/// Reads a decompressor to its end, never past the output limit, the ratio, nor the
/// output still allowed to the input (`budget`: the reports of one input share
/// [`Limits::max_output`], so memory stays within it).
fn bounded_read(
    reader: impl Read,
    limits: &Limits,
    original: u64,
    kind: &'static str,
    budget: u64,
) -> Result<Vec<u8>, ExtractError> {
    let cap = read_cap(limits, original).min(budget);
    // Reports compress about tenfold: room for that up front saves regrowing.
    let mut out = Vec::with_capacity((original.saturating_mul(12)).min(cap).min(64 << 20) as usize);
    reader
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| ExtractError::Archive {
            kind,
            why: e.to_string(),
        })?;
    if out.len() as u64 > cap {
        return Err(if cap == limits.max_output || cap == budget {
            ExtractError::OutputTooLarge(limits.max_output)
        } else {
            ExtractError::Ratio(limits.max_ratio)
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in members {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const XML: &[u8] = b"<?xml version=\"1.0\"?><feedback/>";

    #[test]
    fn gzip_with_trailing_bytes_and_two_members() {
        let mut g = gzip(b"<feedback>");
        g.extend_from_slice(&gzip(b"</feedback>"));
        g.extend_from_slice(b"\r\n");
        let (out, f) = extract(&g, &Limits::default()).unwrap();
        assert_eq!(
            (out.as_slice(), f),
            (&b"<feedback></feedback>"[..], Format::Xml)
        );
    }

    #[test]
    fn issue12_forms_plain_gzip_gzip_in_gzip_zip_with_an_empty_name() {
        let l = Limits::default();
        assert_eq!(extract(XML, &l).unwrap(), (XML.to_vec(), Format::Xml));
        assert_eq!(extract(b" {\"a\":1}", &l).unwrap().1, Format::Json);
        assert_eq!(extract(&gzip(XML), &l).unwrap().0, XML);
        assert_eq!(extract(&gzip(&gzip(XML)), &l).unwrap().0, XML);
        // A member with an empty name, after one that holds no report.
        let z = zip(&[("readme.txt", b"hello"), ("", XML)]);
        assert_eq!(extract(&z, &l).unwrap().0, XML);
        assert_eq!(extract(b"unused", &l), Err(ExtractError::Unknown));
        assert_eq!(
            extract(&zip(&[("a.txt", b"text")]), &l),
            Err(ExtractError::EmptyZip)
        );
    }

    #[test]
    fn issue12_bomb_output_size() {
        let l = Limits {
            max_output: 1 << 20,
            max_ratio: u64::MAX / 4,
            ..Limits::default()
        };
        let bomb = gzip(&vec![b' '; 2 << 20]);
        assert_eq!(
            extract(&bomb, &l),
            Err(ExtractError::OutputTooLarge(1 << 20))
        );
    }

    #[test]
    fn issue12_bomb_ratio() {
        let l = Limits {
            ratio_floor: 64 << 10,
            ..Limits::default()
        };
        // 4 MiB of spaces compress about 1000:1 (deflate's best).
        let bomb = gzip(&vec![b' '; 4 << 20]);
        assert!(bomb.len() < 4200, "{}", bomb.len());
        assert_eq!(extract(&bomb, &l), Err(ExtractError::Ratio(1000)));
    }

    #[test]
    fn issue12_bomb_nesting_and_input_size() {
        let l = Limits::default();
        let mut nested = XML.to_vec();
        for _ in 0..5 {
            nested = gzip(&nested);
        }
        assert_eq!(extract(&nested, &l), Err(ExtractError::TooDeep(3)));
        let small = Limits {
            max_input: 10,
            ..Limits::default()
        };
        assert_eq!(extract(XML, &small), Err(ExtractError::InputTooLarge(10)));
    }

    /// Members that hold no report cost their decompression all the same: a zip of
    /// many such members (or of members overlapping one compressed run, the same to the
    /// reader) stops once the input's whole allowance, four times one decompression's,
    /// is spent, instead of inflating each member in turn (10 GB from a 118 KB file).
    #[test]
    fn decompression_of_every_member_is_charged() {
        let l = Limits {
            max_output: 4 << 20,
            max_members: 1000,
            ..Limits::default()
        };
        let pad = vec![b' '; 1 << 20];
        let mut members: Vec<(String, &[u8])> = (0..40)
            .map(|i| (format!("pad{i}.txt"), pad.as_slice()))
            .collect();
        members.push(("a.xml".into(), XML));
        let named: Vec<(&str, &[u8])> = members.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        let z = zip(&named);
        let each = extract_each(&z, &l).unwrap();
        let cap = 16 << 20;
        assert!(
            matches!(&each[..], [Err((_, ExtractError::InflatedTooMuch(c))), Err((rest, ExtractError::InflatedTooMuch(_)))] if *c == cap && rest.ends_with("to 41")),
            "{each:?}"
        );
        // Within the allowance, the same members are passed over and the report read.
        let few = zip(&named[named.len() - 6..]);
        let each = extract_each(&few, &l).unwrap();
        assert_eq!(each.len(), 1);
        assert!(each[0].is_ok(), "{each:?}");
    }

    /// Two members with one name: the archive reader keeps the last; the zip is
    /// refused rather than one report dropped unread.
    #[test]
    fn zip_members_sharing_a_name_are_refused() {
        let mut z = zip(&[("a.xml", XML), ("b.xml", XML)]);
        // The second name, in its local header and in the central directory, made "a".
        for at in memchr::memmem::find_iter(&z.clone(), b"b.xml").collect::<Vec<_>>() {
            z[at] = b'a';
        }
        let err = extract(&z, &Limits::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("two or more of its members have the same name"),
            "{err}"
        );
        // Distinct names are read as before.
        assert!(extract(&zip(&[("a.xml", XML), ("b.xml", XML)]), &Limits::default()).is_ok());
    }

    /// A zip's every report member is read, each member's failure is its own, and
    /// members past the limit are named as not read; the reports of one input share one
    /// output bound.
    #[test]
    fn every_report_member_of_a_zip() {
        let l = Limits {
            max_members: 4,
            ..Limits::default()
        };
        let bomb = gzip(&vec![b' '; 4 << 20]);
        let z = zip(&[
            ("a.xml", XML),
            ("notes.txt", b"hello"),
            ("bomb.gz", &bomb),
            ("", XML),
            ("late.xml", XML),
        ]);
        let each = extract_each(&z, &l).unwrap();
        let got: Vec<Result<Option<String>, (String, ExtractError)>> =
            each.into_iter().map(|r| r.map(|x| x.member)).collect();
        assert_eq!(
            got,
            [
                Ok(Some("a.xml".into())),
                Err(("bomb.gz".into(), ExtractError::Ratio(1000))),
                Ok(Some("#4".into())),
                Err((
                    "members 5 to 5".into(),
                    ExtractError::MembersNotRead { max: 4, total: 5 }
                )),
            ]
        );
        // Two members of 600 bytes under a bound of 1,000 for the whole input.
        let tight = Limits {
            max_output: 1000,
            ratio_floor: 1000,
            ..Limits::default()
        };
        let big = format!("<feedback>{}</feedback>", "x".repeat(580));
        let z = zip(&[
            ("1.xml", big.as_bytes()),
            ("2.xml", big.as_bytes()),
            ("3.xml", big.as_bytes()),
        ]);
        let each = extract_each(&z, &tight).unwrap();
        assert!(each[0].is_ok());
        assert_eq!(
            each[1..],
            [
                Err(("2.xml".into(), ExtractError::OutputTooLarge(1000))),
                // The rest are named as not read.
                Err(("members 3 to 3".into(), ExtractError::OutputTooLarge(1000))),
            ]
        );
    }

    /// A member that cannot be opened or read (here: a compression method monban is
    /// not built with) is that member's failure; the zip's other reports are read (the
    /// whole zip failed).
    #[test]
    fn a_member_that_cannot_be_read_fails_alone() {
        let mut z = zip(&[("a.xml", XML), ("b.xml", XML), ("c.xml", XML)]);
        // The second member's method, in its local header (offset 8) and its central
        // directory entry (offset 10), set to 12 (bzip2).
        let at = |sig: &[u8], nth: usize| {
            z.windows(4)
                .enumerate()
                .filter(|(_, w)| *w == sig)
                .nth(nth)
                .map(|(i, _)| i)
                .unwrap()
        };
        let (local, central) = (at(b"PK\x03\x04", 1), at(b"PK\x01\x02", 1));
        z[local + 8] = 12;
        z[central + 10] = 12;
        let each = extract_each(&z, &Limits::default()).unwrap();
        assert_eq!(each.len(), 3, "{each:?}");
        assert_eq!(each[0].as_ref().unwrap().member.as_deref(), Some("a.xml"));
        assert!(each[1].is_err(), "{each:?}");
        assert_eq!(each[2].as_ref().unwrap().member.as_deref(), Some("c.xml"));
    }

    #[test]
    fn issue12_bomb_zip_members() {
        let l = Limits {
            max_members: 3,
            ..Limits::default()
        };
        let many: Vec<(String, Vec<u8>)> = (0..10)
            .map(|i| (format!("{i}.txt"), b"x".to_vec()))
            .collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        assert_eq!(
            extract(&zip(&refs), &l),
            Err(ExtractError::TooManyMembers(3))
        );
        assert!(matches!(
            extract(b"PK\x03\x04garbage", &l),
            Err(ExtractError::Archive { kind: "zip", .. })
        ));
    }
}
