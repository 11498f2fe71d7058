//! Reading aggregate reports (RFC 9990, and RFC 7489 Appendix C, with or without the
//! namespace) into the [`Feedback`] model, leniently where reporters are sloppy and
//! strictly where input is hostile (issue 12).
//!
//! Lenient: element names are matched by local name in any case; unknown elements
//! (extensions, an embedded `xs:schema`) are skipped; results are read in any case and
//! `hardfail` is `fail`; dates may be written as floats (`1337270400.0`); an empty
//! `reason` is ignored; a document in UTF-16 or in the encoding its XML declaration
//! names (ISO-8859-1, windows-1252...) is read in it ([`decode`]), other bytes that are
//! not UTF-8 become U+FFFD.
//!
//! Strict: no DTD (`<!DOCTYPE` is refused, so no entity can expand); only the five
//! predefined entities and character references; depth, element text, records and
//! signatures per record, and the metadata's errors are bounded ([`MAX_DEPTH`],
//! [`MAX_TEXT`], [`MAX_RECORDS`], [`MAX_AUTH_RESULTS`], [`MAX_ERRORS`]): past a bound
//! the report is refused, never read in part; a missing report id, policy domain or
//! source address is an error naming the element.

use quick_xml::events::Event;

use super::aggregate::{
    DkimAuth, Feedback, PolicyEvaluated, PolicyPublished, Reason, Record, ReportMetadata, SpfAuth,
};

/// The deepest element nesting accepted (a report needs 6).
pub const MAX_DEPTH: usize = 32;
/// The longest text of one element.
pub const MAX_TEXT: usize = 64 * 1024;
/// The most records in one report.
pub const MAX_RECORDS: usize = 1_000_000;
/// The most DKIM or SPF results, or reasons, in one record.
pub const MAX_AUTH_RESULTS: usize = 1_000;
/// The most `error` entries in the report's metadata.
pub const MAX_ERRORS: usize = 1_000;

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not XML, or broken XML.
    #[error("not well-formed XML at line {line}, column {column}: {why}")]
    Xml {
        /// Where: the byte offset in the (decompressed) document.
        at: u64,
        /// The line there, from 1.
        line: u64,
        /// The column there (characters), from 1.
        column: u64,
        /// What.
        why: String,
    },
    /// A document type declaration: refused (entity expansion, external entities).
    #[error("a DTD (<!DOCTYPE) is not accepted in a report")]
    Dtd,
    /// An entity other than the five XML ones.
    #[error("unknown entity &{0}; (no DTD is read)")]
    Entity(String),
    /// The root element is not `feedback`.
    #[error("not a DMARC aggregate report: the root element is <{0}>")]
    NotFeedback(String),
    /// A limit was reached.
    #[error("over the limit of {limit} {what}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A required element is missing or empty.
    #[error("no {0}")]
    Missing(&'static str),
    /// The document ends before the report does (a truncated file or attachment);
    /// what is said is where, or what is missing because of it.
    #[error("the report is cut short ({0})")]
    CutShort(&'static str),
    /// An element the report holds once appears twice: which one is meant cannot be
    /// told (readers that take the first and the last would see two reports).
    #[error("{0} appears more than once")]
    Duplicate(&'static str),
    /// Content after the report's `feedback` element: a second report or junk.
    #[error("content after the report ({0}): one report per document")]
    Trailing(&'static str),
    /// A value that cannot be read.
    #[error("{element}: {value:?} is not a {expected}")]
    Value {
        /// The element.
        element: &'static str,
        /// Its text (cut to 80 characters).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// One of the errors above, with where it was found: the line and column of the
    /// element or text (of the decompressed document) and, inside a record, which one
    /// (from 1), so that one bad record among thousands can be found.
    #[error("line {line}, column {column}{}: {error}", record.map(|n| format!(" (record {n})")).unwrap_or_default())]
    At {
        /// The line, from 1.
        line: u64,
        /// The column (characters), from 1.
        column: u64,
        /// The record it is in, from 1.
        record: Option<usize>,
        /// What.
        error: Box<ParseError>,
    },
}

impl ParseError {
    /// What went wrong, without where ([`ParseError::At`] taken off).
    pub fn kind(&self) -> &ParseError {
        match self {
            ParseError::At { error, .. } => error.kind(),
            other => other,
        }
    }

    /// [`Self::kind`], owned.
    pub fn into_kind(self) -> ParseError {
        match self {
            ParseError::At { error, .. } => error.into_kind(),
            other => other,
        }
    }
}

/// Reads an aggregate report.
pub fn parse_aggregate(xml: &[u8]) -> Result<Feedback, ParseError> {
    parse_aggregate_str(&decode(xml.to_vec()))
}

/// A report document as text, in the encoding it is written in (XML 1.0 §4.3.3 and
/// Appendix F): a byte order mark first; else UTF-16 told by its first bytes
/// (`<?` with zero bytes); else UTF-8 if it reads as UTF-8 (whatever the declaration
/// says: reporters declare ISO-8859-1 over UTF-8 text); else the encoding named in the
/// XML declaration (`encoding="ISO-8859-1"`, `windows-1252`, `Shift_JIS`: the WHATWG
/// labels); else UTF-8 with U+FFFD for what does not read. Never fails; text grows at
/// most threefold (each byte at most one U+FFFD).
pub fn decode(doc: Vec<u8>) -> String {
    use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};
    let (encoding, bom) = match Encoding::for_bom(&doc) {
        Some(found) => found,
        None if doc.starts_with(b"<\0?\0") => (UTF_16LE, 0),
        None if doc.starts_with(b"\0<\0?") => (UTF_16BE, 0),
        None => {
            let doc = match String::from_utf8(doc) {
                Ok(text) => return text,
                Err(e) => e.into_bytes(),
            };
            return match declared_encoding(&doc) {
                Some(encoding) if encoding != encoding_rs::UTF_8 => {
                    declare_utf8(encoding.decode_without_bom_handling(&doc).0.into_owned())
                }
                _ => String::from_utf8_lossy(&doc).into_owned(),
            };
        }
    };
    let text = encoding
        .decode_without_bom_handling(&doc[bom..])
        .0
        .into_owned();
    if encoding == encoding_rs::UTF_8 {
        text
    } else {
        declare_utf8(text)
    }
}

/// `text` with the encoding its XML declaration names (if any) made `UTF-8`, as it now
/// is: a kept copy must say what it is written in.
fn declare_utf8(text: String) -> String {
    let Some(decl) = text
        .strip_prefix("<?xml")
        .and_then(|d| d.split("?>").next())
    else {
        return text;
    };
    let Some(at) = decl.find("encoding") else {
        return text;
    };
    let after = &decl[at + "encoding".len()..];
    let Some(value) = after.trim_start().strip_prefix('=').map(str::trim_start) else {
        return text;
    };
    let Some(quote) = value.chars().next().filter(|q| *q == '"' || *q == '\'') else {
        return text;
    };
    let Some(len) = value[1..].find(quote) else {
        return text;
    };
    // Offsets within the declaration, which is the start of `text`.
    let start = "<?xml".len() + decl.len() - value.len() + 1;
    format!("{}UTF-8{}", &text[..start], &text[start + len..])
}

/// The encoding an XML declaration at the start of `doc` names, if it is one encoding
/// it knows (ASCII-compatible ones only: the declaration was found by reading ASCII).
fn declared_encoding(doc: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &doc[..doc.len().min(256)];
    let decl = head.strip_prefix(b"<?xml")?;
    let decl = &decl[..memchr::memmem::find(decl, b"?>")?];
    let at = memchr::memmem::find(decl, b"encoding")? + b"encoding".len();
    let rest = decl[at..]
        .trim_ascii_start()
        .strip_prefix(b"=")?
        .trim_ascii_start();
    let (&quote, rest) = rest.split_first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let label = &rest[..memchr::memchr(quote, rest)?];
    encoding_rs::Encoding::for_label(label).filter(|e| e.is_ascii_compatible())
}

/// [`parse_aggregate`] of text already decoded (invalid UTF-8 already replaced).
pub fn parse_aggregate_str(text: &str) -> Result<Feedback, ParseError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    // End tags are matched here, leniently (see Parser::end).
    reader.config_mut().check_end_names = false;
    let mut p = Parser::default();
    loop {
        // Where the next event starts and the record it is in, for placing what is
        // wrong with it.
        let from = reader.buffer_position();
        let record = p.record.as_ref().map(|_| p.records.len() + 1);
        let event = reader.read_event().map_err(|e| {
            let at = reader.error_position();
            let (line, column) =
                crate::text::line_column(text, usize::try_from(at).unwrap_or(usize::MAX));
            ParseError::Xml {
                at,
                line: line as u64,
                column: column as u64,
                why: e.to_string(),
            }
        })?;
        match p.event(event) {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                let (line, column) =
                    crate::text::line_column(text, usize::try_from(from).unwrap_or(usize::MAX));
                return Err(ParseError::At {
                    line: line as u64,
                    column: column as u64,
                    record,
                    error: Box::new(error),
                });
            }
        }
    }
    p.finish()
}

/// The elements a report uses, interned: paths are matched as small integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum N {
    Feedback,
    Version,
    ReportMetadata,
    OrgName,
    Email,
    ExtraContactInfo,
    ReportId,
    DateRange,
    Begin,
    End,
    Error,
    Generator,
    PolicyPublished,
    Domain,
    P,
    Sp,
    Np,
    Pct,
    Fo,
    Adkim,
    Aspf,
    DiscoveryMethod,
    Testing,
    Record,
    Row,
    SourceIp,
    Count,
    PolicyEvaluated,
    Disposition,
    Dkim,
    Spf,
    Reason,
    Type,
    Comment,
    Identifiers,
    HeaderFrom,
    EnvelopeFrom,
    EnvelopeTo,
    AuthResults,
    Selector,
    Result,
    HumanResult,
    Scope,
    /// Any other element.
    Other,
}

/// An element's local name, matched in any case (no allocation per element).
fn local(name: &str) -> N {
    let b = name.as_bytes();
    if b.len() > 24 {
        return N::Other;
    }
    let mut low = [0u8; 24];
    for (d, s) in low.iter_mut().zip(b) {
        *d = s.to_ascii_lowercase();
    }
    // A match on constant byte strings: length checks and inlined compares.
    match &low[..b.len()] {
        b"feedback" => N::Feedback,
        b"version" => N::Version,
        b"report_metadata" => N::ReportMetadata,
        b"org_name" => N::OrgName,
        b"email" => N::Email,
        b"extra_contact_info" => N::ExtraContactInfo,
        b"report_id" => N::ReportId,
        b"date_range" => N::DateRange,
        b"begin" => N::Begin,
        b"end" => N::End,
        b"error" => N::Error,
        b"generator" => N::Generator,
        b"policy_published" => N::PolicyPublished,
        b"domain" => N::Domain,
        b"p" => N::P,
        b"sp" => N::Sp,
        b"np" => N::Np,
        b"pct" => N::Pct,
        b"fo" => N::Fo,
        b"adkim" => N::Adkim,
        b"aspf" => N::Aspf,
        b"discovery_method" => N::DiscoveryMethod,
        b"testing" => N::Testing,
        b"record" => N::Record,
        b"row" => N::Row,
        b"source_ip" => N::SourceIp,
        b"count" => N::Count,
        b"policy_evaluated" => N::PolicyEvaluated,
        b"disposition" => N::Disposition,
        b"dkim" => N::Dkim,
        b"spf" => N::Spf,
        b"reason" => N::Reason,
        b"type" => N::Type,
        b"comment" => N::Comment,
        b"identifiers" => N::Identifiers,
        b"header_from" => N::HeaderFrom,
        b"envelope_from" => N::EnvelopeFrom,
        b"envelope_to" => N::EnvelopeTo,
        b"auth_results" => N::AuthResults,
        b"selector" => N::Selector,
        b"result" => N::Result,
        b"human_result" => N::HumanResult,
        b"scope" => N::Scope,
        _ => N::Other,
    }
}

#[derive(Default)]
struct Parser {
    /// The elements open inside `feedback` (starting with it).
    path: Vec<N>,
    text: String,
    /// Elements open outside `feedback` (a wrapper such as an `xs:schema`).
    outer: usize,
    /// The first element of the document.
    root: Option<String>,
    seen_root: bool,
    done: bool,
    metadata: ReportMetadata,
    policy: PolicyPublished,
    policy_seen: bool,
    records: Vec<Record>,
    record: Option<Record>,
    /// The singular elements of the report met so far (bits of [`singular`]).
    seen: u64,
    /// The same for the current record.
    record_seen: u64,
    /// The same for the current DKIM or SPF result.
    auth_seen: u64,
}

/// Which count of singular elements an element is checked in: the report's, the
/// current record's or the current DKIM or SPF result's.
#[derive(Clone, Copy)]
enum Tally {
    Report,
    Record,
    Auth,
}

/// The elements a report (RFC 9990 Appendix A, RFC 7489 Appendix C) holds at most once
/// where they are: (scope, bit, name). A second one is refused, not resolved.
fn singular(path: &[N]) -> Option<(Tally, u32, &'static str)> {
    use N::*;
    use Tally::{Auth, Record as Rec, Report};
    Some(match path {
        [Feedback, Version] => (Report, 0, "version"),
        [Feedback, ReportMetadata] => (Report, 1, "report_metadata"),
        [Feedback, ReportMetadata, OrgName] => (Report, 2, "report_metadata/org_name"),
        [Feedback, ReportMetadata, Email] => (Report, 3, "report_metadata/email"),
        [Feedback, ReportMetadata, ExtraContactInfo] => {
            (Report, 4, "report_metadata/extra_contact_info")
        }
        [Feedback, ReportMetadata, ReportId] => (Report, 5, "report_metadata/report_id"),
        [Feedback, ReportMetadata, Generator] => (Report, 6, "report_metadata/generator"),
        [Feedback, ReportMetadata, DateRange] => (Report, 7, "report_metadata/date_range"),
        [Feedback, ReportMetadata, DateRange, Begin] => {
            (Report, 8, "report_metadata/date_range/begin")
        }
        [Feedback, ReportMetadata, DateRange, End] => (Report, 9, "report_metadata/date_range/end"),
        [Feedback, PolicyPublished] => (Report, 10, "policy_published"),
        [Feedback, PolicyPublished, Domain] => (Report, 11, "policy_published/domain"),
        [Feedback, PolicyPublished, P] => (Report, 12, "policy_published/p"),
        [Feedback, PolicyPublished, Sp] => (Report, 13, "policy_published/sp"),
        [Feedback, PolicyPublished, Np] => (Report, 14, "policy_published/np"),
        [Feedback, PolicyPublished, Pct] => (Report, 15, "policy_published/pct"),
        [Feedback, PolicyPublished, Fo] => (Report, 16, "policy_published/fo"),
        [Feedback, PolicyPublished, Adkim] => (Report, 17, "policy_published/adkim"),
        [Feedback, PolicyPublished, Aspf] => (Report, 18, "policy_published/aspf"),
        [Feedback, PolicyPublished, DiscoveryMethod] => {
            (Report, 19, "policy_published/discovery_method")
        }
        [Feedback, PolicyPublished, Testing] => (Report, 20, "policy_published/testing"),
        [Feedback, Record, Row] => (Rec, 0, "record/row"),
        [Feedback, Record, Row, SourceIp] => (Rec, 1, "record/row/source_ip"),
        [Feedback, Record, Row, Count] => (Rec, 2, "record/row/count"),
        [Feedback, Record, Row, PolicyEvaluated] => (Rec, 3, "record/row/policy_evaluated"),
        [Feedback, Record, Row, PolicyEvaluated, Disposition] => {
            (Rec, 4, "record/row/policy_evaluated/disposition")
        }
        [Feedback, Record, Row, PolicyEvaluated, Dkim] => {
            (Rec, 5, "record/row/policy_evaluated/dkim")
        }
        [Feedback, Record, Row, PolicyEvaluated, Spf] => {
            (Rec, 6, "record/row/policy_evaluated/spf")
        }
        [Feedback, Record, Identifiers] => (Rec, 7, "record/identifiers"),
        [Feedback, Record, Identifiers, HeaderFrom] => (Rec, 8, "record/identifiers/header_from"),
        [Feedback, Record, Identifiers, EnvelopeFrom] => {
            (Rec, 9, "record/identifiers/envelope_from")
        }
        [Feedback, Record, Identifiers, EnvelopeTo] => (Rec, 10, "record/identifiers/envelope_to"),
        [Feedback, Record, AuthResults] => (Rec, 11, "record/auth_results"),
        [Feedback, Record, AuthResults, Dkim, Domain] => {
            (Auth, 0, "record/auth_results/dkim/domain")
        }
        [Feedback, Record, AuthResults, Dkim, Selector] => {
            (Auth, 1, "record/auth_results/dkim/selector")
        }
        [Feedback, Record, AuthResults, Dkim, Result] => {
            (Auth, 2, "record/auth_results/dkim/result")
        }
        [Feedback, Record, AuthResults, Dkim, HumanResult] => {
            (Auth, 3, "record/auth_results/dkim/human_result")
        }
        [Feedback, Record, AuthResults, Spf, Domain] => (Auth, 0, "record/auth_results/spf/domain"),
        [Feedback, Record, AuthResults, Spf, Scope] => (Auth, 1, "record/auth_results/spf/scope"),
        [Feedback, Record, AuthResults, Spf, Result] => (Auth, 2, "record/auth_results/spf/result"),
        [Feedback, Record, AuthResults, Spf, HumanResult] => {
            (Auth, 3, "record/auth_results/spf/human_result")
        }
        _ => return None,
    })
}

fn empty_record() -> Record {
    Record {
        source_ip: String::new(),
        count: 0,
        evaluated: PolicyEvaluated {
            disposition: String::new(),
            dkim_aligned: false,
            spf_aligned: false,
            reasons: Vec::new(),
        },
        header_from: String::new(),
        envelope_from: None,
        envelope_to: None,
        dkim: Vec::new(),
        spf: Vec::new(),
    }
}

impl Parser {
    /// Takes one event of the document; whether it was the end of it.
    fn event(&mut self, event: Event<'_>) -> Result<bool, ParseError> {
        // After the report: white space, comments and the end tags of a wrapper (an
        // unclosed one is fine too); a second report or any other content is refused,
        // not dropped unread.
        if self.done {
            return match event {
                Event::Eof => Ok(true),
                Event::Start(e) | Event::Empty(e) => Err(ParseError::Trailing(
                    if local(e.local_name().as_ref()) == N::Feedback {
                        "a second feedback element"
                    } else {
                        "an element"
                    },
                )),
                // NUL padding (left by some decompression paths) is no content.
                Event::Text(t)
                    if !t
                        .xml10_content()
                        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
                        .is_empty() =>
                {
                    Err(ParseError::Trailing("text"))
                }
                Event::CData(_) | Event::GeneralRef(_) => Err(ParseError::Trailing("text")),
                _ => Ok(false),
            };
        }
        match event {
            Event::Start(e) => self.start(e.local_name().as_ref())?,
            Event::Empty(e) => {
                let name = e.local_name();
                self.start(name.as_ref())?;
                self.end(local(name.as_ref()))?;
            }
            Event::End(e) => self.end(local(e.local_name().as_ref()))?,
            Event::Text(t) => self.text(&t.xml10_content())?,
            Event::CData(c) => self.text(&c)?,
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => self.text(c.encode_utf8(&mut [0; 4]))?,
                        _ => return Err(ParseError::Entity(r.chars().take(80).collect())),
                    }
                } else {
                    let name: String = r.chars().take(80).collect();
                    let c = match name.as_str() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "apos" => "'",
                        "quot" => "\"",
                        _ => return Err(ParseError::Entity(name)),
                    };
                    self.text(c)?;
                }
            }
            Event::DocType(_) => return Err(ParseError::Dtd),
            Event::Eof => return Ok(true),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        Ok(false)
    }

    fn start(&mut self, raw: &str) -> Result<(), ParseError> {
        let name = local(raw);
        if self.root.is_none() {
            self.root = Some(raw.to_ascii_lowercase().chars().take(80).collect());
        }
        if !self.seen_root {
            // Outside the report: a wrapper around it (seen: an unclosed xs:schema).
            if name != N::Feedback {
                self.outer += 1;
                if self.outer >= MAX_DEPTH {
                    return Err(ParseError::Limit {
                        what: "nested elements",
                        limit: MAX_DEPTH,
                    });
                }
                return Ok(());
            }
            self.seen_root = true;
        }
        if self.path.len() + self.outer >= MAX_DEPTH {
            return Err(ParseError::Limit {
                what: "nested elements",
                limit: MAX_DEPTH,
            });
        }
        self.path.push(name);
        self.text.clear();
        match self.path.as_slice() {
            [N::Feedback, N::Record] => {
                if self.records.len() >= MAX_RECORDS {
                    return Err(ParseError::Limit {
                        what: "records",
                        limit: MAX_RECORDS,
                    });
                }
                self.record = Some(empty_record());
                self.record_seen = 0;
            }
            [N::Feedback, N::Record, N::AuthResults, N::Dkim] => {
                self.auth_seen = 0;
                if let Some(r) = &mut self.record {
                    if r.dkim.len() >= MAX_AUTH_RESULTS {
                        return Err(ParseError::Limit {
                            what: "DKIM results in a record",
                            limit: MAX_AUTH_RESULTS,
                        });
                    }
                    r.dkim.push(DkimAuth {
                        domain: String::new(),
                        selector: String::new(),
                        result: String::new(),
                        human_result: None,
                    });
                }
            }
            [N::Feedback, N::Record, N::AuthResults, N::Spf] => {
                self.auth_seen = 0;
                if let Some(r) = &mut self.record {
                    if r.spf.len() >= MAX_AUTH_RESULTS {
                        return Err(ParseError::Limit {
                            what: "SPF results in a record",
                            limit: MAX_AUTH_RESULTS,
                        });
                    }
                    r.spf.push(SpfAuth {
                        domain: String::new(),
                        scope: None,
                        result: String::new(),
                        human_result: None,
                    });
                }
            }
            [
                N::Feedback,
                N::Record,
                N::Row,
                N::PolicyEvaluated,
                N::Reason,
            ] => {
                if let Some(r) = &mut self.record {
                    if r.evaluated.reasons.len() >= MAX_AUTH_RESULTS {
                        return Err(ParseError::Limit {
                            what: "reasons in a record",
                            limit: MAX_AUTH_RESULTS,
                        });
                    }
                    r.evaluated.reasons.push(Reason {
                        kind: String::new(),
                        comment: None,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, t: &str) -> Result<(), ParseError> {
        if self.text.len() + t.len() > MAX_TEXT {
            return Err(ParseError::Limit {
                what: "bytes of text in one element",
                limit: MAX_TEXT,
            });
        }
        self.text.push_str(t);
        Ok(())
    }

    /// An end tag. Reporters write broken XML (`<email><a@b.example></email>`): an end
    /// tag closes the elements opened after its own start, as an HTML parser would; a
    /// stray end tag is ignored.
    fn end(&mut self, name: N) -> Result<(), ParseError> {
        if !self.seen_root || self.done {
            self.outer = self.outer.saturating_sub(1);
            return Ok(());
        }
        let Some(at) = self.path.iter().rposition(|n| *n == name) else {
            return Ok(());
        };
        while self.path.len() > at + 1 {
            self.close()?;
        }
        self.close()?;
        if self.path.is_empty() {
            self.done = true;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        if let Some((scope, bit, name)) = singular(&self.path) {
            let seen = match scope {
                Tally::Report => &mut self.seen,
                Tally::Record => &mut self.record_seen,
                Tally::Auth => &mut self.auth_seen,
            };
            if *seen & (1 << bit) != 0 {
                return Err(ParseError::Duplicate(name));
            }
            *seen |= 1 << bit;
        }
        // Containers hold only white space: no allocation for them.
        let trimmed = self.text.trim();
        let value = if trimmed.is_empty() {
            String::new()
        } else {
            trimmed.to_owned()
        };
        self.text.clear();
        let m = &mut self.metadata;
        match self.path.as_slice() {
            [N::Feedback, N::ReportMetadata, N::OrgName] => m.org_name = value,
            [N::Feedback, N::ReportMetadata, N::Email] => m.email = value,
            [N::Feedback, N::ReportMetadata, N::ExtraContactInfo] => {
                m.extra_contact_info = non_empty(value);
            }
            [N::Feedback, N::ReportMetadata, N::ReportId] => m.report_id = value,
            [N::Feedback, N::ReportMetadata, N::Error] if !value.is_empty() => {
                if m.errors.len() >= MAX_ERRORS {
                    return Err(ParseError::Limit {
                        what: "errors in the report metadata",
                        limit: MAX_ERRORS,
                    });
                }
                m.errors.push(value);
            }
            [N::Feedback, N::ReportMetadata, N::Generator] => m.generator = non_empty(value),
            [N::Feedback, N::ReportMetadata, N::DateRange, N::Begin] => {
                m.begin = timestamp("date_range/begin", &value)?;
            }
            [N::Feedback, N::ReportMetadata, N::DateRange, N::End] => {
                m.end = timestamp("date_range/end", &value)?;
            }
            [N::Feedback, N::PolicyPublished, field] if !self.policy_seen => {
                let v = non_empty(value.to_ascii_lowercase());
                let pp = &mut self.policy;
                match *field {
                    N::Domain => pp.domain = value.to_ascii_lowercase(),
                    N::P => pp.p = policy("policy_published/p", v)?.unwrap_or_default(),
                    N::Sp => pp.sp = policy("policy_published/sp", v)?,
                    N::Np => pp.np = policy("policy_published/np", v)?,
                    N::Adkim => pp.adkim = v,
                    N::Aspf => pp.aspf = v,
                    N::Fo => pp.fo = non_empty(value),
                    N::DiscoveryMethod => pp.discovery_method = v,
                    N::Testing => pp.testing = matches!(v.as_deref(), Some("y" | "yes" | "true")),
                    _ => {}
                }
            }
            [N::Feedback, N::PolicyPublished] => self.policy_seen = true,
            [N::Feedback, N::Record] => {
                if let Some(mut r) = self.record.take() {
                    if r.source_ip.is_empty() {
                        return Err(ParseError::Missing("record/row/source_ip"));
                    }
                    // No disposition (no policy_evaluated): none, as parsedmarc reads
                    // it; never an empty name in the summary's dispositions.
                    if r.evaluated.disposition.is_empty() {
                        r.evaluated.disposition = "none".into();
                    }
                    self.records.push(r);
                }
            }
            [N::Feedback, N::Record, rest @ ..] => {
                if let Some(r) = &mut self.record {
                    record_field(r, rest, value)?;
                }
            }
            _ => {}
        }
        self.path.pop();
        Ok(())
    }

    fn finish(mut self) -> Result<Feedback, ParseError> {
        if !self.seen_root {
            return Err(match self.root {
                Some(root) => ParseError::NotFeedback(root),
                None => ParseError::Missing("feedback element (the document is empty)"),
            });
        }
        // An unclosed report: kept when only its own end tag is missing (a quirk of
        // some reporters); cut inside an element, the text at the cut (a domain cut to
        // "example.co", a count cut short) and all that follows it are unknown: refused.
        if !self.done && self.path.len() > 1 {
            return Err(ParseError::CutShort(match self.path.get(1) {
                Some(N::Record) => "it ends inside a record",
                Some(N::ReportMetadata) => "it ends inside report_metadata",
                Some(N::PolicyPublished) => "it ends inside policy_published",
                _ => "it ends inside an element",
            }));
        }
        let cut = !self.done;
        while !self.path.is_empty() && !self.done {
            self.close()?;
        }
        let missing = |what, cut_what| {
            if cut {
                ParseError::CutShort(cut_what)
            } else {
                ParseError::Missing(what)
            }
        };
        if self.metadata.report_id.is_empty() {
            return Err(missing(
                "report_metadata/report_id",
                "no report_metadata/report_id before the end",
            ));
        }
        if self.policy.domain.is_empty() {
            return Err(missing(
                "policy_published/domain",
                "no policy_published/domain before the end",
            ));
        }
        Ok(Feedback {
            metadata: self.metadata,
            policy: self.policy,
            records: self.records,
        })
    }
}

fn record_field(r: &mut Record, path: &[N], value: String) -> Result<(), ParseError> {
    match path {
        [N::Row, N::SourceIp] => r.source_ip = source_ip(&value)?,
        [N::Row, N::Count] => {
            r.count = count(&value)?;
        }
        [N::Row, N::PolicyEvaluated, N::Disposition] => {
            let d = lower(value);
            // RFC 9990 Appendix A, ActionDispositionType (`pass`: no policy applied);
            // an empty one is as none given (read as none at the record's end).
            if !matches!(d.as_str(), "" | "none" | "pass" | "quarantine" | "reject") {
                return Err(ParseError::Value {
                    element: "record/row/policy_evaluated/disposition",
                    value: d.chars().take(80).collect(),
                    expected: "disposition (none, pass, quarantine or reject)",
                });
            }
            r.evaluated.disposition = d;
        }
        [N::Row, N::PolicyEvaluated, N::Dkim] => {
            r.evaluated.dkim_aligned = result(&value) == "pass";
        }
        [N::Row, N::PolicyEvaluated, N::Spf] => {
            r.evaluated.spf_aligned = result(&value) == "pass";
        }
        [N::Row, N::PolicyEvaluated, N::Reason, N::Type] => {
            if let Some(last) = r.evaluated.reasons.last_mut() {
                last.kind = lower(value);
            }
        }
        [N::Row, N::PolicyEvaluated, N::Reason, N::Comment] => {
            if let Some(last) = r.evaluated.reasons.last_mut() {
                last.comment = non_empty(value);
            }
        }
        // An empty <reason/> says nothing.
        [N::Row, N::PolicyEvaluated, N::Reason]
            if r.evaluated
                .reasons
                .last()
                .is_some_and(|x| x.kind.is_empty()) =>
        {
            r.evaluated.reasons.pop();
        }
        [N::Identifiers, N::HeaderFrom] => r.header_from = lower(value),
        [N::Identifiers, N::EnvelopeFrom] => r.envelope_from = non_empty(lower(value)),
        [N::Identifiers, N::EnvelopeTo] => r.envelope_to = non_empty(lower(value)),
        [N::AuthResults, N::Dkim, field] => {
            if let Some(d) = r.dkim.last_mut() {
                match *field {
                    N::Domain => d.domain = lower(value),
                    N::Selector => d.selector = value,
                    N::Result => d.result = result(&value),
                    N::HumanResult => d.human_result = non_empty(value),
                    _ => {}
                }
            }
        }
        [N::AuthResults, N::Spf, field] => {
            if let Some(s) = r.spf.last_mut() {
                match *field {
                    N::Domain => s.domain = lower(value),
                    N::Scope => s.scope = non_empty(lower(value)),
                    N::Result => s.result = result(&value),
                    N::HumanResult => s.human_result = non_empty(value),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn lower(mut s: String) -> String {
    s.make_ascii_lowercase();
    s
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A result as RFC 8601 names it: lower case; `hardfail` is `fail`.
fn result(v: &str) -> String {
    let v = v.trim().to_ascii_lowercase();
    match v.as_str() {
        "hardfail" => "fail".into(),
        _ => v,
    }
}

/// A published policy (RFC 9990 Appendix A, DispositionType), lowercased already;
/// absent or empty stays `None`.
fn policy(element: &'static str, v: Option<String>) -> Result<Option<String>, ParseError> {
    match v.as_deref() {
        None | Some("none" | "quarantine" | "reject") => Ok(v),
        Some(other) => Err(ParseError::Value {
            element,
            value: other.chars().take(80).collect(),
            expected: "policy (none, quarantine or reject)",
        }),
    }
}

/// `source_ip`: an IPv4 or IPv6 address, kept in its canonical form.
fn source_ip(v: &str) -> Result<String, ParseError> {
    super::canonical_ip(v).ok_or_else(|| ParseError::Value {
        element: "record/row/source_ip",
        value: v.chars().take(80).collect(),
        expected: "valid IP address",
    })
}

/// Seconds since the epoch, written as an integer or a float (`1337270400.0`).
fn timestamp(element: &'static str, v: &str) -> Result<i64, ParseError> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f.abs() < 1e15 => Ok(f.trunc() as i64),
        _ => Err(ParseError::Value {
            element,
            value: v.chars().take(80).collect(),
            expected: "time in seconds",
        }),
    }
}

/// A message count: a non-negative integer (a float with no fraction is accepted).
/// The largest `count` of one row believed (no receiver sees a trillion messages from
/// one source in a report; sums of hostile counts must not overflow).
pub const MAX_COUNT: u64 = 1_000_000_000_000;

fn count(v: &str) -> Result<u64, ParseError> {
    if let Ok(n) = v.parse::<u64>()
        && n <= MAX_COUNT
    {
        return Ok(n);
    }
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= MAX_COUNT as f64 => {
            Ok(f as u64)
        }
        _ => Err(ParseError::Value {
            element: "record/row/count",
            value: v.chars().take(80).collect(),
            expected: "count",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is wrong, without where: most tests say what; `errors_say_where` says where.
    fn parse_aggregate(xml: &[u8]) -> Result<Feedback, ParseError> {
        super::parse_aggregate(xml).map_err(ParseError::into_kind)
    }

    #[test]
    fn errors_say_where_and_in_which_record() {
        let record = |ip: &str, count: &str| {
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{count}</count>\
                 <policy_evaluated><disposition>none</disposition></policy_evaluated></row>\
                 <identifiers><header_from>example.com</header_from></identifiers></record>\n"
            )
        };
        let head = "<feedback>\n<report_metadata><org_name>r</org_name><report_id>1</report_id>\
            <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\n\
            <policy_published><domain>example.com</domain><p>none</p></policy_published>\n";
        let doc = format!(
            "{head}{}{}{}</feedback>",
            record("192.0.2.1", "1"),
            record("192.0.2.2", "1"),
            record("192.0.2.3", "many")
        );
        let err = super::parse_aggregate(doc.as_bytes()).unwrap_err();
        // A value is read at its end tag, which is where it is placed.
        let column = record("192.0.2.3", "many")
            .find("</count>")
            .map_or(0, |c| c as u64);
        assert_eq!(
            err,
            ParseError::At {
                line: 6,
                column: column + 1,
                record: Some(3),
                error: Box::new(ParseError::Value {
                    element: "record/row/count",
                    value: "many".into(),
                    expected: "count",
                }),
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "line 6, column {} (record 3): record/row/count: \"many\" is not a count",
                column + 1
            )
        );
        // A record that ends without what it needs is placed at its end tag.
        let doc = format!(
            "{head}{}<record><row><count>1</count></row></record></feedback>",
            record("192.0.2.1", "1")
        );
        let err = super::parse_aggregate(doc.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, ParseError::At { line: 5, record: Some(2), error, .. }
                if **error == ParseError::Missing("record/row/source_ip")),
            "{err:?}"
        );
        // Outside a record: no record number.
        let doc = head.replace("<p>none</p>", "<p>none</p><p>reject</p>");
        let err = super::parse_aggregate(format!("{doc}</feedback>").as_bytes()).unwrap_err();
        assert!(
            matches!(
                &err,
                ParseError::At {
                    line: 3,
                    record: None,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), &ParseError::Duplicate("policy_published/p"));
    }

    const MINIMAL: &str = "<feedback><report_metadata><org_name>r</org_name>\
        <report_id>1</report_id><date_range><begin>1337270400.0</begin><end>1337356799</end>\
        </date_range></report_metadata><policy_published><domain>Example.com</domain>\
        <p>Reject</p></policy_published><record><row><source_ip>192.0.2.1</source_ip>\
        <count>2</count><policy_evaluated><disposition>none</disposition><dkim>Pass</dkim>\
        <spf>hardfail</spf><reason/></policy_evaluated></row><identifiers>\
        <header_from>example.com</header_from></identifiers><auth_results><spf>\
        <domain></domain><scope>helo</scope><result>HardFail</result></spf></auth_results>\
        </record></feedback>";

    #[test]
    fn issue12_quirks_are_read() {
        let f = parse_aggregate(MINIMAL.as_bytes()).unwrap();
        assert_eq!(f.metadata.begin, 1_337_270_400);
        assert_eq!(f.policy.domain, "example.com");
        assert_eq!(f.policy.p, "reject");
        let r = &f.records[0];
        assert!(r.evaluated.dkim_aligned && !r.evaluated.spf_aligned);
        assert!(r.evaluated.reasons.is_empty(), "an empty reason is ignored");
        assert_eq!(r.spf[0].result, "fail");
        assert_eq!(r.spf[0].scope.as_deref(), Some("helo"));
        assert_eq!(r.spf[0].domain, "");
        assert_eq!(f.messages(), 2);
    }

    /// Reports written in another encoding than UTF-8 are read in theirs: UTF-16 with
    /// or without a byte order mark, a declared ISO-8859-1 or windows-1252 or Shift_JIS;
    /// a declaration that UTF-8 text contradicts loses to the text; undeclared bytes that
    /// are not UTF-8 become U+FFFD.
    #[test]
    fn reports_are_read_in_their_encoding() {
        let named = |org: &str| {
            MINIMAL.replace(
                "<org_name>r</org_name>",
                &format!("<org_name>{org}</org_name>"),
            )
        };
        let org_of = |doc: &[u8]| parse_aggregate(doc).map(|f| f.metadata.org_name);
        let decl = |enc: &str| format!("<?xml version=\"1.0\" encoding=\"{enc}\"?>\n");
        let latin1 = |text: &str| -> Vec<u8> {
            text.chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap())
                .collect()
        };
        let doc = decl("ISO-8859-1") + &named("Soci\u{e9}t\u{e9} G\u{e9}n\u{e9}rale");
        assert_eq!(org_of(&latin1(&doc)).unwrap(), "Société Générale");
        let doc = decl("windows-1252") + &named("Caf\u{e9}");
        let mut bytes = latin1(&doc);
        let at = bytes.windows(3).position(|w| w == b"Caf").unwrap() + 4;
        bytes.insert(at, 0x80);
        assert_eq!(org_of(&bytes).unwrap(), "Café€");
        let doc = decl("Shift_JIS") + &named("X");
        let mut bytes = doc.into_bytes();
        let at = bytes.windows(3).position(|w| w == b">X<").unwrap() + 1;
        bytes.splice(at..at + 1, [0x93, 0xfa, 0x96, 0x7b]);
        assert_eq!(org_of(&bytes).unwrap(), "日本");
        // Declared Latin-1, written in UTF-8: the text wins.
        let doc = decl("ISO-8859-1") + &named("Société");
        assert_eq!(org_of(doc.as_bytes()).unwrap(), "Société");
        let doc = decl("UTF-16") + &named("Société 日本");
        let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(org_of(&le).unwrap(), "Société 日本");
        assert_eq!(org_of(&be).unwrap(), "Société 日本");
        let bom_le: Vec<u8> = [0xff, 0xfe].into_iter().chain(le.iter().copied()).collect();
        let bom_be: Vec<u8> = [0xfe, 0xff].into_iter().chain(be.iter().copied()).collect();
        assert_eq!(org_of(&bom_le).unwrap(), "Société 日本");
        assert_eq!(org_of(&bom_be).unwrap(), "Société 日本");
        let bom8 = [&[0xef, 0xbb, 0xbf][..], named("Société").as_bytes()].concat();
        assert_eq!(org_of(&bom8).unwrap(), "Société");
        // What is kept is UTF-8 and says so.
        let kept = decode(latin1(&(decl("ISO-8859-1") + &named("Soci\u{e9}t\u{e9}"))));
        assert!(
            kept.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>"),
            "{kept}"
        );
        assert!(kept.contains("<org_name>Société</org_name>"), "{kept}");
        let kept = decode(le.clone());
        assert!(
            kept.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{kept}"
        );
        assert_eq!(
            decode(doc.clone().into_bytes()),
            doc,
            "UTF-8 is kept as it is"
        );
        // Undeclared, not UTF-8, or an encoding nobody knows: U+FFFD.
        assert_eq!(org_of(&latin1(&named("Caf\u{e9}"))).unwrap(), "Caf\u{fffd}");
        let doc = decl("x-no-such") + &named("Caf\u{e9}");
        assert_eq!(org_of(&latin1(&doc)).unwrap(), "Caf\u{fffd}");
    }

    /// Issue 17: a broken report is placed by line and column, never by byte.
    /// A report cut short says so, wherever it is cut (a trial found "no the end of
    /// the report" and, cut early, "no report_metadata/report_id").
    #[test]
    fn a_report_cut_short_says_so() {
        let inside_record = MINIMAL.find("192.0.2.1").expect("a record");
        for (at, says) in [
            (
                MINIMAL.find("<org_name>").unwrap() + 11,
                "it ends inside report_metadata",
            ),
            (
                MINIMAL.find("Example.com").unwrap() + 10,
                "it ends inside policy_published",
            ),
            (inside_record + 5, "it ends inside a record"),
        ] {
            let e = parse_aggregate(&MINIMAL.as_bytes()[..at]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("the report is cut short ({says})"),
                "{at}"
            );
        }
        let e = parse_aggregate(
            b"<feedback><policy_published><domain>a.example</domain></policy_published></feedback>",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "no report_metadata/report_id");
        // Only the last end tag missing: the report is whole, and kept.
        let whole = MINIMAL.strip_suffix("</feedback>").unwrap();
        assert_eq!(parse_aggregate(whole.as_bytes()).unwrap().records.len(), 1);
        // Cut between elements of the root: what follows is unknown, but nothing read is
        // cut; without an id it is refused by name.
        let e = parse_aggregate(
            b"<feedback><policy_published><domain>a.example</domain></policy_published>",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the report is cut short (no report_metadata/report_id before the end)"
        );
    }

    #[test]
    fn broken_xml_is_placed_by_line_and_column() {
        let e = parse_aggregate("<feedback>\n  <report_metadata>\n  <é <<\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("at line 3, column"), "{e}");
        assert!(!e.contains("byte"), "{e}");
        assert_eq!(crate::text::line_column("ab\ncé\nd", 5), (2, 2));
        assert_eq!(crate::text::line_column("é", 1), (1, 1));
    }

    #[test]
    fn issue12_hostile_input_is_refused_by_name() {
        let dtd = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><feedback/>";
        assert_eq!(parse_aggregate(dtd.as_bytes()), Err(ParseError::Dtd));
        let entity = MINIMAL.replace("<org_name>r</org_name>", "<org_name>&lol;</org_name>");
        assert_eq!(
            parse_aggregate(entity.as_bytes()),
            Err(ParseError::Entity("lol".into()))
        );
        let deep = format!(
            "<feedback>{}{}</feedback>",
            "<x>".repeat(100),
            "</x>".repeat(100)
        );
        assert!(matches!(
            parse_aggregate(deep.as_bytes()),
            Err(ParseError::Limit {
                what: "nested elements",
                ..
            })
        ));
        let long = MINIMAL.replace(
            "<org_name>r",
            &format!("<org_name>{}", "a".repeat(MAX_TEXT + 1)),
        );
        assert!(matches!(
            parse_aggregate(long.as_bytes()),
            Err(ParseError::Limit { .. })
        ));
        assert!(matches!(
            parse_aggregate(b"<html/>"),
            Err(ParseError::NotFeedback(_))
        ));
        assert!(matches!(parse_aggregate(b""), Err(ParseError::Missing(_))));
        assert!(matches!(
            parse_aggregate(b"unused"),
            Err(ParseError::Missing(_)) | Err(ParseError::Xml { .. })
        ));
        let no_ip = MINIMAL.replace("<source_ip>192.0.2.1</source_ip>", "");
        assert_eq!(
            parse_aggregate(no_ip.as_bytes()),
            Err(ParseError::Missing("record/row/source_ip"))
        );
        // Character references are fine; invalid UTF-8 is replaced.
        let ok = MINIMAL.replace("<org_name>r", "<org_name>&#x9580;\u{0}");
        let _ = parse_aggregate(ok.as_bytes());
        let mut bad_utf8 = MINIMAL.as_bytes().to_vec();
        let at = MINIMAL.find("<org_name>r").unwrap() + "<org_name>".len();
        bad_utf8[at] = 0xff;
        assert_eq!(
            parse_aggregate(&bad_utf8).unwrap().metadata.org_name,
            "\u{FFFD}"
        );
    }

    /// What two readers could read two ways is refused by name: an element the report
    /// holds once given twice, a second report after the first, content after it; so
    /// are values outside RFC 9990's vocabulary (a disposition or policy it does not
    /// name, an address that is not one). A record without a disposition reads as
    /// `none` (as parsedmarc reads it), never as an empty one.
    #[test]
    fn trial_ambiguous_and_unknown_content_is_refused_by_name() {
        let dup = |from: &str, to: &str| parse_aggregate(MINIMAL.replacen(from, to, 1).as_bytes());
        assert_eq!(
            dup("<count>2</count>", "<count>2</count><count>2000</count>"),
            Err(ParseError::Duplicate("record/row/count"))
        );
        assert_eq!(
            dup("<p>Reject</p>", "<p>Reject</p><p>none</p>"),
            Err(ParseError::Duplicate("policy_published/p"))
        );
        assert_eq!(
            dup(
                "<report_id>1</report_id>",
                "<report_id>1</report_id><report_id>2</report_id>"
            ),
            Err(ParseError::Duplicate("report_metadata/report_id"))
        );
        assert_eq!(
            dup(
                "<header_from>example.com</header_from>",
                "<header_from>example.com</header_from><header_from>evil.example</header_from>"
            ),
            Err(ParseError::Duplicate("record/identifiers/header_from"))
        );
        assert_eq!(
            dup(
                "</policy_published>",
                "</policy_published><policy_published><domain>evil.example</domain><p>none</p></policy_published>"
            ),
            Err(ParseError::Duplicate("policy_published/domain"))
        );
        assert_eq!(
            dup(
                "<result>HardFail</result>",
                "<result>HardFail</result><result>pass</result>"
            ),
            Err(ParseError::Duplicate("record/auth_results/spf/result"))
        );
        // Two DKIM results, each with its own domain, are fine.
        let two = MINIMAL.replace(
            "<auth_results>",
            "<auth_results><dkim><domain>a.example</domain><result>pass</result></dkim>\
             <dkim><domain>b.example</domain><result>fail</result></dkim>",
        );
        assert_eq!(
            parse_aggregate(two.as_bytes()).unwrap().records[0]
                .dkim
                .len(),
            2
        );
        // After the report.
        let second = format!("{MINIMAL}{MINIMAL}");
        assert_eq!(
            parse_aggregate(second.as_bytes()),
            Err(ParseError::Trailing("a second feedback element"))
        );
        assert_eq!(
            parse_aggregate(format!("{MINIMAL}garbage").as_bytes()),
            Err(ParseError::Trailing("text"))
        );
        assert!(parse_aggregate(format!("{MINIMAL}\n<!-- c -->\n").as_bytes()).is_ok());
        assert!(parse_aggregate(format!("{MINIMAL}\0\0\0").as_bytes()).is_ok());
        assert_eq!(
            dup("<disposition>none</disposition>", "<disposition/>")
                .unwrap()
                .records[0]
                .evaluated
                .disposition,
            "none"
        );
        // A wrapper left open, or closed, after the report is fine.
        assert!(parse_aggregate(format!("<wrap>{MINIMAL}").as_bytes()).is_ok());
        assert!(parse_aggregate(format!("<wrap>{MINIMAL}</wrap>").as_bytes()).is_ok());
        // Vocabulary.
        assert!(matches!(
            dup(
                "<disposition>none</disposition>",
                "<disposition>deliver</disposition>"
            ),
            Err(ParseError::Value {
                element: "record/row/policy_evaluated/disposition",
                ..
            })
        ));
        assert_eq!(
            dup(
                "<disposition>none</disposition>",
                "<disposition>Pass</disposition>"
            )
            .unwrap()
            .records[0]
                .evaluated
                .disposition,
            "pass"
        );
        assert_eq!(
            dup("<disposition>none</disposition>", "").unwrap().records[0]
                .evaluated
                .disposition,
            "none"
        );
        assert!(matches!(
            dup("<p>Reject</p>", "<p>bogus</p>"),
            Err(ParseError::Value {
                element: "policy_published/p",
                ..
            })
        ));
        assert!(matches!(
            dup("<p>Reject</p>", "<p>reject</p><sp>maybe</sp>"),
            Err(ParseError::Value {
                element: "policy_published/sp",
                ..
            })
        ));
        for bad in [
            "300.1.1.1",
            "192.0.2.1/24",
            "example.com",
            "01.2.3.4",
            "1.2.3",
        ] {
            assert!(
                matches!(
                    dup("192.0.2.1", bad),
                    Err(ParseError::Value {
                        element: "record/row/source_ip",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        let v6 = dup("192.0.2.1", " 2001:DB8:0::1 ").unwrap();
        assert_eq!(v6.records[0].source_ip, "2001:db8::1");
    }

    /// Results, reasons, metadata errors and counts: exactly the bound is read, one
    /// more refuses the report (never a report read in part).
    #[test]
    fn issue12_bounds_per_record_and_metadata_are_refused_by_name() {
        let with = |inner: &str, n: usize, what: &str| {
            let many = inner.repeat(n);
            let xml = match what {
                "errors" => MINIMAL.replace(
                    "<org_name>r</org_name>",
                    &format!("<org_name>r</org_name>{many}"),
                ),
                "reasons" => MINIMAL.replace("<reason/>", &many),
                _ => MINIMAL.replace("<auth_results>", &format!("<auth_results>{many}")),
            };
            parse_aggregate(xml.as_bytes())
        };
        let dkim = "<dkim><domain>example.com</domain><result>pass</result></dkim>";
        let spf = "<spf><domain>example.com</domain><result>pass</result></spf>";
        let reason = "<reason><type>forwarded</type></reason>";
        let error = "<error>a reporter's note</error>";
        for (inner, what, limit, message) in [
            (dkim, "dkim", MAX_AUTH_RESULTS, "DKIM results in a record"),
            (spf, "spf", MAX_AUTH_RESULTS - 1, "SPF results in a record"),
            (reason, "reasons", MAX_AUTH_RESULTS, "reasons in a record"),
            (error, "errors", MAX_ERRORS, "errors in the report metadata"),
        ] {
            // MINIMAL has one SPF result of its own.
            let f = with(inner, limit, what).unwrap();
            let r = &f.records[0];
            let n = match what {
                "dkim" => r.dkim.len(),
                "spf" => r.spf.len(),
                "reasons" => r.evaluated.reasons.len(),
                _ => f.metadata.errors.len(),
            };
            assert_eq!(n, if what == "spf" { limit + 1 } else { limit }, "{what}");
            assert_eq!(
                with(inner, limit + 1, what),
                Err(ParseError::Limit {
                    what: message,
                    limit: if what == "errors" {
                        MAX_ERRORS
                    } else {
                        MAX_AUTH_RESULTS
                    },
                }),
                "{what}"
            );
        }
        // A row's count: 10^12 is read, one more (or its float) is refused.
        let count = |v: &str| {
            parse_aggregate(
                MINIMAL
                    .replace("<count>2</count>", &format!("<count>{v}</count>"))
                    .as_bytes(),
            )
        };
        assert_eq!(count("1000000000000").unwrap().records[0].count, MAX_COUNT);
        assert_eq!(
            count("1000000000000.0").unwrap().records[0].count,
            MAX_COUNT
        );
        for bad in ["1000000000001", "1000000000001.0", "-1", "1.5"] {
            assert!(
                matches!(
                    count(bad),
                    Err(ParseError::Value {
                        element: "record/row/count",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn round_trip_with_the_writer() {
        let f = parse_aggregate(MINIMAL.as_bytes()).unwrap();
        let again = parse_aggregate(f.to_xml().as_bytes()).unwrap();
        assert_eq!(again.records, f.records);
        assert_eq!(again.metadata.report_id, "1");
    }
}
