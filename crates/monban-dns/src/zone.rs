//! [`ZoneResolver`]: answers from RFC 1035 master files held in memory.
//!
//! The master-file format is RFC 1035 §5.1: `$ORIGIN` and `$TTL` (RFC 2308 §4)
//! directives, `@` for the origin, names relative to the origin, a blank owner meaning
//! "the previous owner", optional TTL and class in either order, parentheses joining
//! lines, `;` comments, and `\X` / `\DDD` escapes. Supported types: A, AAAA, MX, TXT,
//! PTR, CNAME, NS, SOA, and the obsolete SPF type 99. Records of other types are skipped and listed by
//! [`ZoneResolver::skipped`]; anything malformed is an error naming the file and line.
//!
//! A name with no record but with names below it (an "empty non-terminal") exists:
//! asking it gives [`LookupError::NoData`], not NXDOMAIN, as a real server answers.
//! A wildcard owner (`*.example.com`) answers for the names below its parent that do
//! not exist, as RFC 4592 §3.3.1 synthesizes them: from the closest encloser's `*`
//! child only, never for a name that exists (an empty non-terminal included).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use crate::name::normalize_name;
use crate::{Answer, Lookup, LookupError, Record, RecordType, Resolver, Txt};

/// The TTL used when a zone file sets none.
const DEFAULT_TTL: u32 = 3600;
/// The negative-caching TTL used when the zone has no SOA.
const DEFAULT_NEGATIVE_TTL: u32 = 300;
/// The largest record data (RFC 1035 §3.2.1: RDLENGTH is 16 bits).
const MAX_RDATA: usize = 65_535;
/// How many CNAMEs a lookup follows before giving up (a loop or an absurd chain).
const MAX_CNAME_CHAIN: usize = 8;
/// The largest zone file read, so a wrong path (a disk image, /dev/zero) fails cleanly.
const MAX_ZONE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A zone file that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    /// The file (or the source name given to [`ZoneResolver::parse`]).
    pub source_name: String,
    /// The 1-based line where the problem is; 0 when it is about the file as a whole.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.source_name, self.message)
        } else {
            write!(f, "{}:{}: {}", self.source_name, self.line, self.message)
        }
    }
}

impl std::error::Error for ZoneError {}

/// A record of a type the resolver does not serve, passed over while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it was.
    pub source_name: String,
    /// The 1-based line.
    pub line: usize,
    /// Its type mnemonic as written.
    pub rtype: String,
}

#[derive(Debug, Clone)]
struct Entry {
    record: Record,
    ttl: u32,
}

/// An in-memory DNS built from zone files or record by record.
#[derive(Debug, Clone, Default)]
pub struct ZoneResolver {
    names: HashMap<String, Vec<Entry>>,
    /// Every owner name and each of its ancestors: names that exist.
    existing: HashSet<String>,
    negative_ttl: Option<u32>,
    skipped: Vec<Skipped>,
}

impl ZoneResolver {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads one zone file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ZoneError> {
        let mut zone = Self::new();
        zone.load_file(path)?;
        Ok(zone)
    }

    /// Adds the records of another zone file to this one.
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<(), ZoneError> {
        let path = path.as_ref();
        let source_name = path.display().to_string();
        let file_error = |message: String| ZoneError {
            source_name: source_name.clone(),
            line: 0,
            message,
        };
        let bytes = crate::file::read_limited(path, MAX_ZONE_FILE_BYTES).map_err(|e| {
            file_error(match e {
                crate::file::ReadError::Directory => "is a directory, not a zone file".into(),
                e => e.to_string(),
            })
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            ZoneError {
                source_name: source_name.clone(),
                line,
                message: "not valid UTF-8 (write other octets as \\DDD escapes)".into(),
            }
        })?;
        // The origin comes from `$ORIGIN` only; it is never guessed from the file name.
        self.load_str(&text, &source_name, None)
    }

    /// Parses zone-file text. `source_name` appears in errors; `origin` is the initial
    /// `$ORIGIN` (without one, names not ending in a dot are taken as absolute).
    pub fn parse(text: &str, source_name: &str, origin: Option<&str>) -> Result<Self, ZoneError> {
        let mut zone = Self::new();
        zone.load_str(text, source_name, origin)?;
        Ok(zone)
    }

    fn load_str(
        &mut self,
        text: &str,
        source_name: &str,
        origin: Option<&str>,
    ) -> Result<(), ZoneError> {
        let mut parser = Parser {
            source_name,
            origin: match origin {
                Some(o) => Some(normalize_name(o).map_err(|e| ZoneError {
                    source_name: source_name.to_owned(),
                    line: 0,
                    message: format!("invalid origin {}: {e}", shown(o)),
                })?),
                None => None,
            },
            default_ttl: None,
            last_ttl: DEFAULT_TTL,
            last_owner: None,
        };
        // A byte order mark some editors write is not part of the first line.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for entry in logical_lines(text) {
            let line = entry.map_err(|(line, message)| ZoneError {
                source_name: source_name.to_owned(),
                line,
                message,
            })?;
            match parser.record(&line)? {
                Parsed::Record(owner, record, ttl) => {
                    // RFC 1034 §3.6.2, RFC 2181 §10.1: a name with a CNAME has no other
                    // data (nor a second CNAME); resolvers would answer unpredictably.
                    if let Some(existing) = self.names.get(&owner) {
                        let cname = matches!(record, Record::Cname(_));
                        if cname
                            || existing
                                .iter()
                                .any(|e| matches!(e.record, Record::Cname(_)))
                        {
                            return Err(ZoneError {
                                source_name: source_name.to_owned(),
                                line: line.number,
                                message: format!(
                                    "{} has a CNAME and other data; a CNAME must be the only record of its name",
                                    shown(&owner)
                                ),
                            });
                        }
                    }
                    self.insert(&owner, record, ttl);
                }
                Parsed::Skipped(rtype) => self.skipped.push(Skipped {
                    source_name: source_name.to_owned(),
                    line: line.number,
                    rtype,
                }),
                Parsed::Nothing => {}
            }
        }
        Ok(())
    }

    /// Adds one record. `name` is normalized; an invalid name is ignored (it could
    /// never be asked).
    pub fn insert(&mut self, name: &str, record: Record, ttl: u32) {
        let Ok(name) = normalize_name(name) else {
            return;
        };
        if let Record::Soa { minimum, .. } = &record {
            // RFC 2308 §5: the negative TTL is the lesser of the SOA TTL and MINIMUM.
            let neg = ttl.min(*minimum);
            self.negative_ttl = Some(self.negative_ttl.map_or(neg, |t| t.min(neg)));
        }
        let mut ancestor = name.as_str();
        loop {
            if !self.existing.insert(ancestor.to_owned()) {
                break;
            }
            match ancestor.split_once('.') {
                Some((_, rest)) => ancestor = rest,
                None => break,
            }
        }
        self.names
            .entry(name)
            .or_default()
            .push(Entry { record, ttl });
    }

    /// Records of unsupported types that were passed over while loading.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Every record held, as `(owner, record, ttl)`, in no particular order.
    pub fn records(&self) -> impl Iterator<Item = (&str, &Record, u32)> {
        self.names.iter().flat_map(|(name, entries)| {
            entries
                .iter()
                .map(move |e| (name.as_str(), &e.record, e.ttl))
        })
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.names.values().map(Vec::len).sum()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The records of the wildcard that synthesizes `name`, a name that does not exist
    /// (RFC 4592 §3.3.1): the `*` child of its closest encloser (the nearest ancestor
    /// that exists), if it has one. At most one look per label.
    fn wildcard_for(&self, name: &str) -> Option<&[Entry]> {
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            if self.existing.contains(parent) {
                // A `*` that is itself an empty non-terminal (only `a.*.parent` has
                // records) still matches: it synthesizes no data (RFC 4592 §4.2).
                let wildcard = format!("*.{parent}");
                return match self.names.get(&wildcard) {
                    Some(entries) => Some(entries.as_slice()),
                    None => self.existing.contains(&wildcard).then_some(&[][..]),
                };
            }
            rest = parent;
        }
        None
    }

    /// Answers a query synchronously; [`Resolver::lookup`] is this, made async.
    pub fn lookup_now(&self, name: &str, rtype: RecordType) -> Lookup {
        let asked = normalize_name(name).map_err(|reason| LookupError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        let negative_ttl = self.negative_ttl.unwrap_or(DEFAULT_NEGATIVE_TTL);
        let mut current = asked.clone();
        let mut min_ttl = u32::MAX;
        for _ in 0..=MAX_CNAME_CHAIN {
            // The name's own records, or those of the wildcard that stands for it.
            let (entries, synthesized) = match self.names.get(&current) {
                Some(own) => (own.as_slice(), false),
                None if !self.existing.contains(&current) => match self.wildcard_for(&current) {
                    Some(w) => (w, true),
                    None => (&[][..], false),
                },
                None => (&[][..], false),
            };
            let mut records = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut cname = None;
            for e in entries {
                // RFC 2181 §5: a record written twice is one record (as DNS servers
                // serve it), not two SPF or DMARC records.
                if e.record.record_type() == rtype && seen.insert(&e.record) {
                    min_ttl = min_ttl.min(e.ttl);
                    records.push(e.record.clone());
                } else if let Record::Cname(target) = &e.record {
                    cname = Some((target.clone(), e.ttl));
                }
            }
            if !records.is_empty() {
                return Ok(Arc::new(Answer::new(records, min_ttl)));
            }
            match cname {
                Some((target, ttl)) if rtype != RecordType::Cname => {
                    min_ttl = min_ttl.min(ttl);
                    current = target;
                }
                _ => {
                    return Err(if synthesized || self.existing.contains(&current) {
                        LookupError::NoData {
                            name: asked,
                            rtype,
                            ttl: negative_ttl,
                        }
                    } else {
                        LookupError::NxDomain {
                            name: asked,
                            ttl: negative_ttl,
                        }
                    });
                }
            }
        }
        Err(LookupError::ServFail {
            name: asked,
            detail: format!("CNAME chain longer than {MAX_CNAME_CHAIN} (a loop?)"),
        })
    }
}

impl Resolver for ZoneResolver {
    fn lookup(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl std::future::Future<Output = Lookup> + Send {
        std::future::ready(self.lookup_now(name, rtype))
    }

    /// Always at hand: the zone is in memory.
    fn cached(&self, name: &str, rtype: RecordType) -> Option<Lookup> {
        Some(self.lookup_now(name, rtype))
    }
}

// ---------------------------------------------------------------------------
// Lexing: RFC 1035 §5.1 entries, with parentheses joining physical lines.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    /// The octets, escapes resolved.
    bytes: Vec<u8>,
    /// Whether it was written in double quotes.
    quoted: bool,
}

impl Token {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

#[derive(Debug)]
struct LogicalLine {
    /// The line the entry starts on.
    number: usize,
    /// The entry began with white space: the owner is the previous one.
    inherits_owner: bool,
    tokens: Vec<Token>,
}

/// Splits zone text into entries. Errors carry the line number.
fn logical_lines(text: &str) -> impl Iterator<Item = Result<LogicalLine, (usize, String)>> + '_ {
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut line_no = 1usize;
    std::iter::from_fn(move || {
        loop {
            if pos >= bytes.len() {
                return None;
            }
            let start_line = line_no;
            let inherits_owner = matches!(bytes[pos], b' ' | b'\t');
            let mut tokens = Vec::new();
            let mut depth = 0usize;
            let mut paren_line = 0usize;
            loop {
                let Some(&b) = bytes.get(pos) else {
                    if depth > 0 {
                        return Some(Err((paren_line, "unclosed '('".into())));
                    }
                    break;
                };
                match b {
                    b'\n' => {
                        pos += 1;
                        line_no += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => pos += 1,
                    b';' => {
                        while pos < bytes.len() && bytes[pos] != b'\n' {
                            pos += 1;
                        }
                    }
                    b'(' => {
                        if depth > 0 {
                            // RFC 1035 §5.1: parentheses group lines; they do not nest.
                            return Some(Err((
                                line_no,
                                "nested '(' (parentheses do not nest)".into(),
                            )));
                        }
                        paren_line = line_no;
                        depth += 1;
                        pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            return Some(Err((line_no, "')' without '('".into())));
                        }
                        depth -= 1;
                        pos += 1;
                    }
                    b'"' => {
                        pos += 1;
                        let mut out = Vec::new();
                        loop {
                            match bytes.get(pos) {
                                None => {
                                    return Some(Err((
                                        line_no,
                                        "unterminated quoted string".into(),
                                    )));
                                }
                                Some(b'"') => {
                                    pos += 1;
                                    break;
                                }
                                Some(b'\\') => match unescape(bytes, &mut pos) {
                                    Ok(o) => out.push(o),
                                    Err(m) => return Some(Err((line_no, m))),
                                },
                                Some(b'\n') => {
                                    return Some(Err((
                                        line_no,
                                        "line break inside a quoted string".into(),
                                    )));
                                }
                                Some(&c) => {
                                    out.push(c);
                                    pos += 1;
                                }
                            }
                        }
                        tokens.push(Token {
                            bytes: out,
                            quoted: true,
                        });
                    }
                    _ => {
                        let mut out = Vec::new();
                        while let Some(&c) = bytes.get(pos) {
                            match c {
                                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                                b'\\' => match unescape(bytes, &mut pos) {
                                    Ok(o) => out.push(o),
                                    Err(m) => return Some(Err((line_no, m))),
                                },
                                _ => {
                                    out.push(c);
                                    pos += 1;
                                }
                            }
                        }
                        tokens.push(Token {
                            bytes: out,
                            quoted: false,
                        });
                    }
                }
            }
            if !tokens.is_empty() {
                return Some(Ok(LogicalLine {
                    number: start_line,
                    inherits_owner,
                    tokens,
                }));
            }
        }
    })
}

/// A token as shown in an error: quoted, and cut after 60 characters, since a zone
/// line may hold anything (a 100 KB bad name is not echoed whole).
fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(60).collect();
    if chars.next().is_some() {
        format!("{head:?}... ({} bytes)", text.len())
    } else {
        format!("{head:?}")
    }
}

/// Resolves `\X` or `\DDD` at `bytes[*pos]` (the backslash).
fn unescape(bytes: &[u8], pos: &mut usize) -> Result<u8, String> {
    let rest = &bytes[*pos + 1..];
    match rest.first() {
        None => Err("backslash at end of file".into()),
        Some(d) if d.is_ascii_digit() => {
            let digits = rest
                .iter()
                .take(3)
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits != 3 {
                return Err("\\DDD escape needs exactly three digits".into());
            }
            let value: u32 = rest[..3]
                .iter()
                .fold(0, |v, &c| v * 10 + u32::from(c - b'0'));
            let byte = u8::try_from(value).map_err(|_| format!("\\{value} is not an octet"))?;
            *pos += 4;
            Ok(byte)
        }
        Some(b'\n') => Err("backslash before a line break".into()),
        Some(&c) => {
            *pos += 2;
            Ok(c)
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing entries.

enum Parsed {
    Record(String, Record, u32),
    Skipped(String),
    Nothing,
}

struct Parser<'a> {
    source_name: &'a str,
    origin: Option<String>,
    default_ttl: Option<u32>,
    last_ttl: u32,
    last_owner: Option<String>,
}

impl Parser<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> ZoneError {
        ZoneError {
            source_name: self.source_name.to_owned(),
            line,
            message: message.into(),
        }
    }

    /// Turns a name as written into a normalized absolute name.
    fn absolute(&self, line: usize, token: &Token) -> Result<String, ZoneError> {
        let written = token.text();
        if written == "@" {
            return self
                .origin
                .clone()
                .ok_or_else(|| self.err(line, "'@' used with no $ORIGIN set"));
        }
        if written == "." {
            return Ok(String::new());
        }
        let full = if written.ends_with('.') {
            written.clone()
        } else {
            match &self.origin {
                Some(origin) => format!("{written}.{origin}"),
                None => written.clone(),
            }
        };
        normalize_name(&full)
            .map_err(|e| self.err(line, format!("invalid name {}: {e}", shown(&written))))
    }

    fn record(&mut self, line: &LogicalLine) -> Result<Parsed, ZoneError> {
        let n = line.number;
        let tokens = &line.tokens;
        let first = tokens[0].text();
        if !line.inherits_owner && first.starts_with('$') {
            return self.directive(n, &first, &tokens[1..]);
        }
        let mut rest = tokens.as_slice();
        let owner = if line.inherits_owner {
            self.last_owner
                .clone()
                .ok_or_else(|| self.err(n, "record with no owner name and no previous owner"))?
        } else {
            let owner = self.absolute(n, &rest[0])?;
            rest = &rest[1..];
            owner
        };
        self.last_owner = Some(owner.clone());

        // [TTL] [class] or [class] [TTL], then the type.
        let mut ttl = None;
        let mut rtype = None;
        while let Some(tok) = rest.first() {
            let word = tok.text();
            rest = &rest[1..];
            if tok.quoted {
                return Err(self.err(n, format!("expected a record type, found {}", shown(&word))));
            }
            if ttl.is_none() && word.starts_with(|c: char| c.is_ascii_digit()) {
                ttl = Some(
                    parse_ttl(&word)
                        .ok_or_else(|| self.err(n, format!("invalid TTL {}", shown(&word))))?,
                );
                continue;
            }
            match word.to_ascii_uppercase().as_str() {
                "IN" => continue,
                "CH" | "HS" | "CS" => {
                    return Err(self.err(n, format!("class {word} is not supported; use IN")));
                }
                _ => {
                    rtype = Some(word);
                    break;
                }
            }
        }
        let Some(rtype) = rtype else {
            return Err(self.err(n, "record has no type"));
        };
        let ttl = ttl.or(self.default_ttl).unwrap_or(self.last_ttl);
        self.last_ttl = ttl;

        let Some(known) = RecordType::from_mnemonic(&rtype) else {
            if rtype.starts_with(|c: char| c.is_ascii_alphabetic())
                && rtype.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Ok(Parsed::Skipped(rtype.to_ascii_uppercase()));
            }
            return Err(self.err(n, format!("{} is not a record type", shown(&rtype))));
        };
        let record = self.rdata(n, known, rest)?;
        Ok(Parsed::Record(owner, record, ttl))
    }

    fn directive(&mut self, n: usize, name: &str, args: &[Token]) -> Result<Parsed, ZoneError> {
        match name.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let [arg] = args else {
                    return Err(self.err(n, "$ORIGIN takes one domain name"));
                };
                let written = arg.text();
                // The root (`$ORIGIN .`, as zone files written from a root zone have):
                // names under it are written absolute or relative to nothing.
                if written == "." {
                    self.origin = Some(String::new());
                    return Ok(Parsed::Nothing);
                }
                let origin = if written.ends_with('.') {
                    written.clone()
                } else if let Some(o) = &self.origin {
                    format!("{written}.{o}")
                } else {
                    written.clone()
                };
                self.origin = Some(normalize_name(&origin).map_err(|e| {
                    self.err(n, format!("invalid $ORIGIN {}: {e}", shown(&written)))
                })?);
            }
            "$TTL" => {
                let [arg] = args else {
                    return Err(self.err(n, "$TTL takes one TTL value"));
                };
                let ttl = parse_ttl(&arg.text())
                    .ok_or_else(|| self.err(n, format!("invalid $TTL {}", shown(&arg.text()))))?;
                self.default_ttl = Some(ttl);
            }
            "$INCLUDE" => {
                return Err(self.err(
                    n,
                    "$INCLUDE is not supported; pass each zone file with its own --zone",
                ));
            }
            _ => return Err(self.err(n, format!("unknown directive {}", shown(name)))),
        }
        Ok(Parsed::Nothing)
    }

    fn rdata(&self, n: usize, rtype: RecordType, args: &[Token]) -> Result<Record, ZoneError> {
        let want = |count: usize, shape: &str| -> Result<(), ZoneError> {
            if args.len() == count {
                Ok(())
            } else {
                Err(self.err(
                    n,
                    format!(
                        "{rtype} record takes {shape}, found {} field(s)",
                        args.len()
                    ),
                ))
            }
        };
        Ok(match rtype {
            RecordType::A => {
                want(1, "an IPv4 address")?;
                Record::A(args[0].text().parse::<Ipv4Addr>().map_err(|_| {
                    self.err(
                        n,
                        format!("{} is not an IPv4 address", shown(&args[0].text())),
                    )
                })?)
            }
            RecordType::Aaaa => {
                want(1, "an IPv6 address")?;
                Record::Aaaa(args[0].text().parse::<Ipv6Addr>().map_err(|_| {
                    self.err(
                        n,
                        format!("{} is not an IPv6 address", shown(&args[0].text())),
                    )
                })?)
            }
            RecordType::Mx => {
                want(2, "a preference and an exchange")?;
                let preference = args[0].text().parse::<u16>().map_err(|_| {
                    self.err(
                        n,
                        format!(
                            "MX preference {} is not a number 0-65535",
                            shown(&args[0].text())
                        ),
                    )
                })?;
                Record::Mx {
                    preference,
                    exchange: self.absolute(n, &args[1])?,
                }
            }
            RecordType::Txt | RecordType::Spf => {
                if args.is_empty() {
                    return Err(self.err(
                        n,
                        format!("{rtype} record needs at least one character-string"),
                    ));
                }
                for a in args {
                    if a.bytes.len() > 255 {
                        return Err(self.err(
                            n,
                            format!(
                                "a TXT character-string is {} octets; the limit is 255: split it into several quoted strings",
                                a.bytes.len()
                            ),
                        ));
                    }
                }
                // RFC 1035 §3.3.14: the strings, each with its length octet, form the
                // RDATA, which a 16-bit length bounds.
                let rdata: usize = args.iter().map(|a| 1 + a.bytes.len()).sum();
                if rdata > MAX_RDATA {
                    return Err(self.err(
                        n,
                        format!(
                            "the {rtype} record data is {rdata} octets; a record holds at most {MAX_RDATA}"
                        ),
                    ));
                }
                let txt = Txt::new(args.iter().map(|a| a.bytes.clone()));
                if rtype == RecordType::Spf {
                    Record::Spf(txt)
                } else {
                    Record::Txt(txt)
                }
            }
            RecordType::Ptr => {
                want(1, "a domain name")?;
                Record::Ptr(self.absolute(n, &args[0])?)
            }
            RecordType::Cname => {
                want(1, "a domain name")?;
                Record::Cname(self.absolute(n, &args[0])?)
            }
            RecordType::Ns => {
                want(1, "a domain name")?;
                Record::Ns(self.absolute(n, &args[0])?)
            }
            RecordType::Soa => {
                want(7, "mname rname serial refresh retry expire minimum")?;
                let num = |t: &Token| {
                    parse_ttl(&t.text()).ok_or_else(|| {
                        self.err(n, format!("SOA field {} is not a number", shown(&t.text())))
                    })
                };
                let serial = args[2].text().parse::<u32>().map_err(|_| {
                    self.err(
                        n,
                        format!("SOA serial {} is not a number", shown(&args[2].text())),
                    )
                })?;
                for t in &args[3..6] {
                    num(t)?;
                }
                Record::Soa {
                    mname: self.absolute(n, &args[0])?,
                    rname: self.absolute(n, &args[1])?,
                    serial,
                    minimum: num(&args[6])?,
                }
            }
        })
    }
}

/// A TTL in seconds, or BIND's unit form (`1h30m`, `2d`, `1w`).
fn parse_ttl(s: &str) -> Option<u32> {
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    let mut seen_digit = false;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            current = current.checked_mul(10)?.checked_add(u64::from(d))?;
            seen_digit = true;
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        if !seen_digit {
            return None;
        }
        total = total.checked_add(current.checked_mul(unit)?)?;
        current = 0;
        seen_digit = false;
    }
    if seen_digit {
        return None;
    }
    u32::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = r#"
$ORIGIN example.com.
$TTL 1h
@        IN SOA ns1 hostmaster ( 2026112201 ; serial
                  7200 900 1209600 300 )
         NS   ns1
         MX   10 mx1
         MX   20 mx2.example.net.
         TXT  "v=spf1 " "mx -all"
mx1      A    192.0.2.10
         AAAA 2001:db8::10
www   60 CNAME @
loop1    CNAME loop2
loop2    CNAME loop1
a.b.deep A    192.0.2.99
esc      TXT  "semi\;colon" "quote\"d" "\065\066C" unquoted\ word
"#;

    fn zone() -> ZoneResolver {
        ZoneResolver::parse(ZONE, "test.zone", None).unwrap()
    }

    /// `$ORIGIN .` (the root), as zone files written from a root zone begin: it was
    /// refused as an empty name (a trial's zone would not load).
    #[test]
    fn rfc1035_5_1_the_root_as_origin() {
        let z = ZoneResolver::parse(
            "$ORIGIN .\n$TTL 300\n@ IN SOA ns.trial.invalid. h.trial.invalid. 1 2 3 4 5\n\
             bank.test. IN TXT \"v=spf1 -all\"\nrelative IN A 192.0.2.1\n\
             $ORIGIN bank.test.\nwww IN A 192.0.2.2\n",
            "root",
            None,
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (name, rtype) in [
            ("bank.test", RecordType::Txt),
            ("relative", RecordType::A),
            ("www.bank.test", RecordType::A),
        ] {
            let a = rt.block_on(z.lookup(name, rtype)).unwrap();
            assert_eq!(a.records.len(), 1, "{name}");
        }
    }

    #[test]
    fn rfc1035_5_1_origin_ttl_owner_inheritance() {
        let z = zone();
        let mx = z.lookup_now("Example.COM.", RecordType::Mx).unwrap();
        assert_eq!(mx.records.len(), 2);
        assert_eq!(mx.ttl, 3600);
        assert!(mx.records.contains(&Record::Mx {
            preference: 20,
            exchange: "mx2.example.net".into()
        }));
        let aaaa = z.lookup_now("mx1.example.com", RecordType::Aaaa).unwrap();
        assert_eq!(
            aaaa.records,
            vec![Record::Aaaa("2001:db8::10".parse().unwrap())]
        );
    }

    #[test]
    fn txt_keeps_character_strings() {
        let z = zone();
        let txt = z.lookup_now("example.com", RecordType::Txt).unwrap();
        let Record::Txt(t) = &txt.records[0] else {
            panic!()
        };
        assert_eq!(t.strings().count(), 2);
        assert_eq!(t.joined(), b"v=spf1 mx -all");
    }

    #[test]
    fn escapes() {
        let z = zone();
        let txt = z.lookup_now("esc.example.com", RecordType::Txt).unwrap();
        let Record::Txt(t) = &txt.records[0] else {
            panic!()
        };
        let strings: Vec<&[u8]> = t.strings().collect();
        assert_eq!(
            strings,
            vec![&b"semi;colon"[..], b"quote\"d", b"ABC", b"unquoted word"]
        );
    }

    /// RFC 2181 §5: a record written twice in the zone is served once.
    #[test]
    fn rfc2181_5_a_repeated_record_is_one() {
        let z = ZoneResolver::parse(
            "$ORIGIN example.\nd IN TXT \"v=spf1 -all\"\nd IN TXT \"v=spf1 -all\"\nd IN TXT other\n",
            "dup.zone",
            None,
        )
        .unwrap();
        let got = z.lookup_now("d.example", RecordType::Txt).unwrap();
        assert_eq!(got.records.len(), 2, "{got:?}");
    }

    #[test]
    fn cname_followed_with_smallest_ttl() {
        let z = zone();
        let a = z.lookup_now("www.example.com", RecordType::Mx).unwrap();
        assert_eq!(a.ttl, 60);
        let c = z.lookup_now("www.example.com", RecordType::Cname).unwrap();
        assert_eq!(c.records, vec![Record::Cname("example.com".into())]);
        assert!(matches!(
            z.lookup_now("loop1.example.com", RecordType::A),
            Err(LookupError::ServFail { .. })
        ));
    }

    #[test]
    fn nxdomain_nodata_and_empty_non_terminal() {
        let z = zone();
        assert!(matches!(
            z.lookup_now("nope.example.com", RecordType::A),
            Err(LookupError::NxDomain { ttl: 300, .. })
        ));
        assert!(matches!(
            z.lookup_now("mx1.example.com", RecordType::Txt),
            Err(LookupError::NoData { .. })
        ));
        assert!(matches!(
            z.lookup_now("b.deep.example.com", RecordType::A),
            Err(LookupError::NoData { .. })
        ));
    }

    /// RFC 4592 §3.3.1 and its §2.2.1 examples: a wildcard answers for names below its
    /// parent that do not exist, any number of labels down; not for names that exist
    /// (with records or as empty non-terminals), nor below a name that exists.
    #[test]
    fn rfc4592_wildcards() {
        let z = ZoneResolver::parse(
            "$ORIGIN example.\n\
             * TXT \"this is a wildcard\"\n\
             *._report._dmarc.w TXT \"v=DMARC1\"\n\
             host1 A 192.0.2.1\n\
             sub.*.x TXT \"not a wildcard\"\n\
             _ssh._tcp.host1 TXT \"srv\"\n",
            "z",
            None,
        )
        .unwrap();
        let txt = |name: &str| match z.lookup_now(name, RecordType::Txt) {
            Ok(a) => Ok(a
                .records
                .iter()
                .map(|r| match r {
                    Record::Txt(t) => String::from_utf8_lossy(&t.joined()).into_owned(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()),
            Err(LookupError::NxDomain { .. }) => Err("nxdomain"),
            Err(LookupError::NoData { .. }) => Err("nodata"),
            Err(_) => Err("other"),
        };
        // Synthesized: one label or several below the closest encloser.
        assert_eq!(txt("host3.example"), Ok(vec!["this is a wildcard".into()]));
        assert_eq!(
            txt("foo.bar.example"),
            Ok(vec!["this is a wildcard".into()])
        );
        assert_eq!(
            txt("d.test._report._dmarc.w.example"),
            Ok(vec!["v=DMARC1".into()])
        );
        // Another type at a synthesized name: it exists, so no data, not NXDOMAIN.
        assert!(matches!(
            z.lookup_now("host3.example", RecordType::A),
            Err(LookupError::NoData { .. })
        ));
        // Names that exist are never synthesized: host1 (no TXT), _tcp.host1 (an empty
        // non-terminal), x (the parent of `*.x`); below host1 the closest encloser is
        // host1, which has no `*` child.
        assert_eq!(txt("host1.example"), Err("nodata"));
        assert_eq!(txt("_tcp.host1.example"), Err("nodata"));
        assert_eq!(txt("x.example"), Err("nodata"));
        // Below x, the wildcard `*.x` exists only as the parent of `sub.*.x`: it
        // matches, with no data (RFC 4592 §4.2).
        assert_eq!(txt("foo.x.example"), Err("nodata"));
        assert_eq!(txt("_foo._tcp.host1.example"), Err("nxdomain"));
        assert_eq!(txt("y.host1.example"), Err("nxdomain"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            (
                "$ORIGIN example.com.\nfoo A 300.1.1.1\n",
                2,
                "not an IPv4 address",
            ),
            (
                "$ORIGIN example.com.\n\nfoo MX ten mx\n",
                3,
                "MX preference",
            ),
            ("foo TXT \"open\n", 1, "line break inside"),
            ("foo TXT ( \"a\"\n", 1, "unclosed"),
            ("$INCLUDE other\n", 1, "$INCLUDE"),
            ("@ A 192.0.2.1\n", 1, "no $ORIGIN"),
            ("  A 192.0.2.1\n", 1, "no previous owner"),
            ("a..b A 192.0.2.1\n", 1, "zero-length label"),
            ("x TXT \"\\300\"\n", 1, "not an octet"),
        ];
        for (text, line, needle) in cases {
            let err = ZoneResolver::parse(text, "bad.zone", None).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(
                err.to_string().starts_with(&format!("bad.zone:{line}: ")),
                "{err}"
            );
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
        let long = format!("x TXT \"{}\"\n", "a".repeat(256));
        assert!(
            ZoneResolver::parse(&long, "z", None)
                .unwrap_err()
                .message
                .contains("255")
        );
    }

    /// Issue 9: what the zone parser accepted or refused wrongly.
    #[test]
    fn regression_issue9_zone_parser_hostile_input() {
        let err = |text: &str| ZoneResolver::parse(text, "z", None).unwrap_err();
        // CNAME beside other data, in either order, and two CNAMEs.
        for text in [
            "a.example. CNAME b.example.\na.example. TXT \"x\"\n",
            "a.example. A 192.0.2.1\na.example. CNAME b.example.\n",
            "a.example. CNAME b.example.\na.example. CNAME c.example.\n",
        ] {
            let e = err(text);
            assert_eq!(e.line, 2, "{text:?}");
            assert!(e.message.contains("CNAME and other data"), "{e}");
        }
        // Nested parentheses.
        let e = err("a.example. TXT ( ( \"x\" ) )\n");
        assert!(e.message.contains("nested"), "{e}");
        // RDATA over 65,535 octets: 300 strings of 255 octets (256 each with the length).
        let big = format!(
            "a.example. TXT {}\n",
            vec![format!("\"{}\"", "a".repeat(255)); 300].join(" ")
        );
        assert!(err(&big).message.contains("at most 65535"));
        // 255 strings of 255 octets is 65,280: accepted.
        let fits = format!(
            "a.example. TXT {}\n",
            vec![format!("\"{}\"", "a".repeat(255)); 255].join(" ")
        );
        ZoneResolver::parse(&fits, "z", None).unwrap();
        // A byte order mark is not part of the first line.
        let z =
            ZoneResolver::parse("\u{feff}$ORIGIN example.\na A 192.0.2.1\n", "z", None).unwrap();
        assert!(z.lookup_now("a.example", RecordType::A).is_ok());
        // A 100 KB bad name is not echoed whole.
        let e = err(&format!("{}..x A 192.0.2.1\n", "b".repeat(100_000)));
        assert!(e.to_string().len() < 300, "{} bytes", e.to_string().len());
        assert!(e.message.contains("100003 bytes"), "{e}");
    }

    #[test]
    fn unknown_types_are_skipped_and_listed() {
        let z = ZoneResolver::parse(
            "x.example. CAA 0 issue \"ca\"\nx.example. A 192.0.2.1\n",
            "z",
            None,
        )
        .unwrap();
        assert_eq!(z.skipped().len(), 1);
        assert_eq!(z.skipped()[0].rtype, "CAA");
        assert_eq!(z.len(), 1);
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("2d"), Some(172_800));
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("5x"), None);
        assert_eq!(parse_ttl("99999999999"), None);
    }
}
