//! SPF records: parsing and formatting, RFC 7208 §4.5, §4.6, §5, §6 and the ABNF of §12.
//!
//! A record is parsed whole before any term is evaluated: a syntax error anywhere gives
//! `permerror` (§4.6). [`SpfRecord`] borrows from the record text and formats back to
//! an equivalent record ([`std::fmt::Display`]); unknown modifiers are kept.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::macros::{MacroContext, MacroError, check_macro_string, ends_with_macro_expand};

/// The qualifier of a directive (§4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `+`, the default.
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

impl Qualifier {
    fn from_char(c: u8) -> Option<Self> {
        Some(match c {
            b'+' => Self::Pass,
            b'-' => Self::Fail,
            b'~' => Self::SoftFail,
            b'?' => Self::Neutral,
            _ => return None,
        })
    }

    /// The character that writes this qualifier.
    pub fn as_char(self) -> char {
        match self {
            Self::Pass => '+',
            Self::Fail => '-',
            Self::SoftFail => '~',
            Self::Neutral => '?',
        }
    }
}

/// A domain-spec (§7.1): a macro-string ending in a domain-end, checked at parse time,
/// expanded at evaluation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DomainSpec<'a>(pub &'a str);

impl fmt::Display for DomainSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A mechanism (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism<'a> {
    /// `all` (§5.1).
    All,
    /// `include:<domain-spec>` (§5.2).
    Include(DomainSpec<'a>),
    /// `a[:<domain-spec>][/<cidr4>][//<cidr6>]` (§5.3).
    A {
        /// The target; the current domain when absent.
        domain: Option<DomainSpec<'a>>,
        /// IPv4 prefix length as written.
        cidr4: Option<u8>,
        /// IPv6 prefix length as written.
        cidr6: Option<u8>,
    },
    /// `mx[:<domain-spec>][/<cidr4>][//<cidr6>]` (§5.4).
    Mx {
        /// The target; the current domain when absent.
        domain: Option<DomainSpec<'a>>,
        /// IPv4 prefix length as written.
        cidr4: Option<u8>,
        /// IPv6 prefix length as written.
        cidr6: Option<u8>,
    },
    /// `ptr[:<domain-spec>]` (§5.5), "do not use".
    Ptr(Option<DomainSpec<'a>>),
    /// `ip4:<network>[/<len>]` (§5.6).
    Ip4 {
        /// The network address.
        addr: Ipv4Addr,
        /// The prefix length as written.
        prefix: Option<u8>,
    },
    /// `ip6:<network>[/<len>]` (§5.6).
    Ip6 {
        /// The network address.
        addr: Ipv6Addr,
        /// The prefix length as written.
        prefix: Option<u8>,
    },
    /// `exists:<domain-spec>` (§5.7).
    Exists(DomainSpec<'a>),
}

impl Mechanism<'_> {
    /// Whether evaluating this mechanism queries the DNS and so counts against the limit
    /// of 10 (§4.6.4).
    pub fn counts_as_lookup(&self) -> bool {
        matches!(
            self,
            Self::Include(_) | Self::A { .. } | Self::Mx { .. } | Self::Ptr(_) | Self::Exists(_)
        )
    }
}

fn fmt_dual_cidr(f: &mut fmt::Formatter<'_>, cidr4: Option<u8>, cidr6: Option<u8>) -> fmt::Result {
    if let Some(c) = cidr4 {
        write!(f, "/{c}")?;
    }
    if let Some(c) = cidr6 {
        write!(f, "//{c}")?;
    }
    Ok(())
}

impl fmt::Display for Mechanism<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Include(d) => write!(f, "include:{d}"),
            Self::A {
                domain,
                cidr4,
                cidr6,
            }
            | Self::Mx {
                domain,
                cidr4,
                cidr6,
            } => {
                f.write_str(if matches!(self, Self::A { .. }) {
                    "a"
                } else {
                    "mx"
                })?;
                if let Some(d) = domain {
                    write!(f, ":{d}")?;
                }
                fmt_dual_cidr(f, *cidr4, *cidr6)
            }
            Self::Ptr(d) => match d {
                Some(d) => write!(f, "ptr:{d}"),
                None => f.write_str("ptr"),
            },
            Self::Ip4 { addr, prefix } => {
                write!(f, "ip4:{addr}")?;
                prefix.map_or(Ok(()), |p| write!(f, "/{p}"))
            }
            Self::Ip6 { addr, prefix } => {
                write!(f, "ip6:{addr}")?;
                prefix.map_or(Ok(()), |p| write!(f, "/{p}"))
            }
            Self::Exists(d) => write!(f, "exists:{d}"),
        }
    }
}

/// A directive: an optional qualifier and a mechanism (§4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Directive<'a> {
    /// The qualifier as written (`None`: implicit `+`).
    pub qualifier: Option<Qualifier>,
    /// The mechanism.
    pub mechanism: Mechanism<'a>,
}

impl Directive<'_> {
    /// The effective qualifier.
    pub fn qualifier(&self) -> Qualifier {
        self.qualifier.unwrap_or(Qualifier::Pass)
    }
}

impl fmt::Display for Directive<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(q) = self.qualifier {
            write!(f, "{}", q.as_char())?;
        }
        write!(f, "{}", self.mechanism)
    }
}

/// A modifier (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Modifier<'a> {
    /// `redirect=<domain-spec>` (§6.1).
    Redirect(DomainSpec<'a>),
    /// `exp=<domain-spec>` (§6.2).
    Exp(DomainSpec<'a>),
    /// Any other `name=value`, kept and ignored (§6).
    Unknown {
        /// The name as written.
        name: &'a str,
        /// The macro-string value.
        value: &'a str,
    },
}

impl fmt::Display for Modifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redirect(d) => write!(f, "redirect={d}"),
            Self::Exp(d) => write!(f, "exp={d}"),
            Self::Unknown { name, value } => write!(f, "{name}={value}"),
        }
    }
}

/// A term of a record (§4.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Term<'a> {
    /// A directive.
    Directive(Directive<'a>),
    /// A modifier.
    Modifier(Modifier<'a>),
}

impl fmt::Display for Term<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directive(d) => d.fmt(f),
            Self::Modifier(m) => m.fmt(f),
        }
    }
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxErrorKind {
    /// The record has octets outside US-ASCII (§4.5 records are ASCII text).
    NotAscii,
    /// A mechanism name that §5 does not define.
    UnknownMechanism,
    /// A mechanism that needs an argument has none, or one that takes none has one.
    BadArgument,
    /// A domain-spec that does not end in a valid domain-end (§7.1, §12).
    BadDomainEnd,
    /// An address that does not parse.
    BadAddress,
    /// A prefix length out of range or with leading zeros (§5.6, §12).
    BadCidr,
    /// A macro-string error (§7.1).
    Macro(MacroError),
    /// `redirect=` or `exp=` appears more than once (§6).
    DuplicateModifier,
    /// A modifier name that is not `ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`.
    BadModifierName,
    /// A Sender ID version tag whose scope list is empty or malformed (RFC 4406 §3.3).
    BadScopeList,
}

impl fmt::Display for SyntaxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAscii => f.write_str("the record contains non-ASCII octets"),
            Self::UnknownMechanism => f.write_str("unknown mechanism"),
            Self::BadArgument => f.write_str("missing or unexpected argument"),
            Self::BadDomainEnd => {
                f.write_str("the domain must end in a valid top label or a macro")
            }
            Self::BadAddress => f.write_str("invalid IP address"),
            Self::BadCidr => f.write_str("invalid prefix length"),
            Self::Macro(m) => m.fmt(f),
            Self::DuplicateModifier => f.write_str("modifier given more than once"),
            Self::BadModifierName => f.write_str("invalid modifier name"),
            Self::BadScopeList => f.write_str("empty or malformed Sender ID scope list"),
        }
    }
}

/// A syntax error, with the term it is in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SPF syntax error in {term:?}: {kind}")]
pub struct SyntaxError {
    /// The offending term as written (truncated to 100 characters).
    pub term: String,
    /// What is wrong with it.
    pub kind: SyntaxErrorKind,
}

/// A parsed SPF record, borrowing its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpfRecord<'a> {
    terms: Vec<Term<'a>>,
}

/// The version tag (§4.5).
pub const VERSION: &str = "v=spf1";

/// Whether a TXT string is an SPF record: it starts with `v=spf1` (any case) followed by
/// a space or the end (§4.5).
pub fn is_spf_record(txt: &[u8]) -> bool {
    txt.len() >= VERSION.len()
        && txt[..VERSION.len()].eq_ignore_ascii_case(VERSION.as_bytes())
        && (txt.len() == VERSION.len() || txt[VERSION.len()] == b' ')
}

/// The scopes of a Sender ID record (RFC 4406 §3.3: `spf2.0/` followed by a
/// comma-separated scope list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SenderIdScopes {
    /// `mfrom`: the MAIL FROM identity (RFC 4406 §3.3, RFC 4408).
    pub mfrom: bool,
    /// `pra`: the Purported Responsible Address (RFC 4407).
    pub pra: bool,
}

/// The version tag of Sender ID records (RFC 4406 §3.3).
pub const SENDER_ID_VERSION: &str = "spf2.0/";

/// Whether a TXT string claims to be a Sender ID record: it starts with `spf2.0/` (any
/// case), whatever follows. Such a record counts as published even when its scope list
/// is malformed (RFC 4406 §3.4: the domain then has no usable record, and its `v=spf1`
/// record does not stand in for it).
pub fn is_sender_id_record(txt: &[u8]) -> bool {
    let v = SENDER_ID_VERSION.as_bytes();
    txt.len() >= v.len() && txt[..v.len()].eq_ignore_ascii_case(v)
}

/// Whether a TXT string is a Sender ID record, and for which scopes: it starts with
/// `spf2.0/` (any case), a scope list, then a space or the end (RFC 4406 §3.3). Scope
/// names other than `mfrom` and `pra` are allowed and ignored; a record whose scope
/// list is empty or malformed is no Sender ID record. The length of the version tag
/// is returned too, so that the terms can be parsed after it.
pub fn sender_id_scopes(txt: &[u8]) -> Option<(SenderIdScopes, usize)> {
    let v = SENDER_ID_VERSION.as_bytes();
    if txt.len() <= v.len() || !txt[..v.len()].eq_ignore_ascii_case(v) {
        return None;
    }
    let rest = &txt[v.len()..];
    let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
    let mut scopes = SenderIdScopes::default();
    for name in rest[..end].split(|&c| c == b',') {
        // scope = 1*( ALPHA / DIGIT / "-" / "_" / "." ), starting with a letter.
        let ok = name.first().is_some_and(u8::is_ascii_alphabetic)
            && name
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if !ok {
            return None;
        }
        if name.eq_ignore_ascii_case(b"mfrom") {
            scopes.mfrom = true;
        } else if name.eq_ignore_ascii_case(b"pra") {
            scopes.pra = true;
        }
    }
    Some((scopes, v.len() + end))
}

impl<'a> SpfRecord<'a> {
    /// Parses a whole record, version tag included.
    pub fn parse(text: &'a str) -> Result<Self, SyntaxError> {
        if !is_spf_record(text.as_bytes()) {
            return Err(SyntaxError {
                term: truncate(text),
                kind: SyntaxErrorKind::UnknownMechanism,
            });
        }
        Self::parse_terms(&text[VERSION.len()..])
    }

    /// Parses a Sender ID record (`spf2.0/<scopes> ...`, RFC 4406 §3.3): its scopes,
    /// and its terms, whose syntax and meaning are SPF's (RFC 4406 §3.3 refers to
    /// RFC 4408). `None` when the text does not start with `spf2.0/`; a malformed
    /// scope list is a syntax error.
    pub fn parse_sender_id(text: &'a str) -> Option<Result<(SenderIdScopes, Self), SyntaxError>> {
        if !is_sender_id_record(text.as_bytes()) {
            return None;
        }
        let Some((scopes, tag)) = sender_id_scopes(text.as_bytes()) else {
            return Some(Err(SyntaxError {
                term: truncate(text),
                kind: SyntaxErrorKind::BadScopeList,
            }));
        };
        // The tag is ASCII (checked byte by byte above), so `tag` is a char boundary.
        Some(Self::parse_terms(&text[tag..]).map(|r| (scopes, r)))
    }

    /// Parses the terms after the version tag.
    fn parse_terms(body: &'a str) -> Result<Self, SyntaxError> {
        let mut terms = Vec::with_capacity(body.len() / 8 + 1);
        let mut redirect_seen = false;
        let mut exp_seen = false;
        // §12: terms are separated by 1*SP; only the space character separates.
        for raw in body.split(' ').filter(|t| !t.is_empty()) {
            let term = parse_term(raw).map_err(|kind| SyntaxError {
                term: truncate(raw),
                kind,
            })?;
            if let Term::Modifier(m) = &term {
                let seen = match m {
                    Modifier::Redirect(_) => &mut redirect_seen,
                    Modifier::Exp(_) => &mut exp_seen,
                    Modifier::Unknown { .. } => {
                        terms.push(term);
                        continue;
                    }
                };
                if *seen {
                    return Err(SyntaxError {
                        term: truncate(raw),
                        kind: SyntaxErrorKind::DuplicateModifier,
                    });
                }
                *seen = true;
            }
            terms.push(term);
        }
        Ok(Self { terms })
    }

    /// The terms in order.
    pub fn terms(&self) -> &[Term<'a>] {
        &self.terms
    }

    /// The directives in order.
    pub fn directives(&self) -> impl Iterator<Item = &Directive<'a>> {
        self.terms.iter().filter_map(|t| match t {
            Term::Directive(d) => Some(d),
            Term::Modifier(_) => None,
        })
    }

    /// The `redirect=` target.
    pub fn redirect(&self) -> Option<DomainSpec<'a>> {
        self.terms.iter().find_map(|t| match t {
            Term::Modifier(Modifier::Redirect(d)) => Some(*d),
            _ => None,
        })
    }

    /// The `exp=` target.
    pub fn exp(&self) -> Option<DomainSpec<'a>> {
        self.terms.iter().find_map(|t| match t {
            Term::Modifier(Modifier::Exp(d)) => Some(*d),
            _ => None,
        })
    }

    /// Whether an `all` mechanism is present (which makes `redirect=` ignored, §6.1).
    pub fn has_all(&self) -> bool {
        self.directives().any(|d| d.mechanism == Mechanism::All)
    }
}

impl fmt::Display for SpfRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(VERSION)?;
        for t in &self.terms {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )` (§12).
fn is_modifier_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn parse_term(raw: &str) -> Result<Term<'_>, SyntaxErrorKind> {
    if !raw.is_ascii() {
        return Err(SyntaxErrorKind::NotAscii);
    }
    // A modifier is `name=value`, where name is all name-characters.
    let name_end = raw
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(raw.len());
    if raw[name_end..].starts_with('=') {
        let name = &raw[..name_end];
        if !is_modifier_name(name) {
            return Err(SyntaxErrorKind::BadModifierName);
        }
        let value = &raw[name_end + 1..];
        return Ok(Term::Modifier(if name.eq_ignore_ascii_case("redirect") {
            Modifier::Redirect(domain_spec(value)?)
        } else if name.eq_ignore_ascii_case("exp") {
            Modifier::Exp(domain_spec(value)?)
        } else {
            check_macro_string(value, MacroContext::Domain).map_err(SyntaxErrorKind::Macro)?;
            Modifier::Unknown { name, value }
        }));
    }
    let (qualifier, rest) = match Qualifier::from_char(raw.as_bytes()[0]) {
        Some(q) => (Some(q), &raw[1..]),
        None => (None, raw),
    };
    let split = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, arg) = rest.split_at(split);
    let lower = name.to_ascii_lowercase();
    let mechanism = match lower.as_str() {
        "all" => {
            no_arg(arg)?;
            Mechanism::All
        }
        "include" => Mechanism::Include(domain_spec(required_arg(arg)?)?),
        "exists" => Mechanism::Exists(domain_spec(required_arg(arg)?)?),
        "ptr" => Mechanism::Ptr(match arg.strip_prefix(':') {
            Some(d) => Some(domain_spec(d)?),
            None if arg.is_empty() => None,
            None => return Err(SyntaxErrorKind::BadArgument),
        }),
        "a" | "mx" => {
            let (domain, cidr4, cidr6) = domain_and_dual_cidr(arg)?;
            if lower == "a" {
                Mechanism::A {
                    domain,
                    cidr4,
                    cidr6,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    cidr4,
                    cidr6,
                }
            }
        }
        "ip4" => {
            let net = required_arg(arg)?;
            let (addr, prefix) = match net.split_once('/') {
                Some((a, p)) => (a, Some(cidr(p, 32)?)),
                None => (net, None),
            };
            Mechanism::Ip4 {
                addr: parse_ip4(addr).ok_or(SyntaxErrorKind::BadAddress)?,
                prefix,
            }
        }
        "ip6" => {
            let net = required_arg(arg)?;
            let (addr, prefix) = match net.split_once('/') {
                Some((a, p)) => (a, Some(cidr(p, 128)?)),
                None => (net, None),
            };
            Mechanism::Ip6 {
                addr: addr.parse().map_err(|_| SyntaxErrorKind::BadAddress)?,
                prefix,
            }
        }
        _ => return Err(SyntaxErrorKind::UnknownMechanism),
    };
    Ok(Term::Directive(Directive {
        qualifier,
        mechanism,
    }))
}

/// Dotted-quad only: `Ipv4Addr::from_str` is already strict (no leading zeros, no
/// shorthand), which is what §5.6's ip4-network requires.
fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

fn no_arg(arg: &str) -> Result<(), SyntaxErrorKind> {
    if arg.is_empty() {
        Ok(())
    } else {
        Err(SyntaxErrorKind::BadArgument)
    }
}

fn required_arg(arg: &str) -> Result<&str, SyntaxErrorKind> {
    match arg.strip_prefix(':') {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(SyntaxErrorKind::BadArgument),
    }
}

/// `"0" / %x31-39 0*2DIGIT` within 0..=max (§12).
fn cidr(s: &str, max: u8) -> Result<u8, SyntaxErrorKind> {
    let ok_shape = !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !ok_shape {
        return Err(SyntaxErrorKind::BadCidr);
    }
    match s.parse::<u8>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(SyntaxErrorKind::BadCidr),
    }
}

type DualCidr<'a> = (Option<DomainSpec<'a>>, Option<u8>, Option<u8>);

/// `[ ":" domain-spec ] [ dual-cidr-length ]` for `a` and `mx`.
fn domain_and_dual_cidr(arg: &str) -> Result<DualCidr<'_>, SyntaxErrorKind> {
    let (domain_part, cidr_part) = match arg.strip_prefix(':') {
        Some(rest) => {
            // The dual-cidr is the suffix made of "/digits" and "//digits".
            let cut = dual_cidr_start(rest);
            let d = &rest[..cut];
            if d.is_empty() {
                return Err(SyntaxErrorKind::BadArgument);
            }
            (Some(domain_spec(d)?), &rest[cut..])
        }
        None => (None, arg),
    };
    let (cidr4, cidr6) = if cidr_part.is_empty() {
        (None, None)
    } else if let Some(six) = cidr_part.strip_prefix("//") {
        (None, Some(cidr(six, 128)?))
    } else if let Some(four) = cidr_part.strip_prefix('/') {
        match four.split_once("//") {
            Some((a, b)) => (Some(cidr(a, 32)?), Some(cidr(b, 128)?)),
            None => (Some(cidr(four, 32)?), None),
        }
    } else {
        return Err(SyntaxErrorKind::BadArgument);
    };
    Ok((domain_part, cidr4, cidr6))
}

/// Where a trailing `/n`, `//n` or `/n//n` begins in `a:`/`mx:` arguments.
fn dual_cidr_start(s: &str) -> usize {
    let b = s.as_bytes();
    // Walk back over "[/digits][//digits]".
    let digits_back = |end: usize| {
        let mut i = end;
        while i > 0 && b[i - 1].is_ascii_digit() {
            i -= 1;
        }
        i
    };
    let mut end = s.len();
    let mut start = s.len();
    for _ in 0..2 {
        let d = digits_back(end);
        if d == end || d == 0 || b[d - 1] != b'/' {
            break;
        }
        let mut slash = d - 1;
        if slash > 0 && b[slash - 1] == b'/' {
            slash -= 1;
        }
        start = slash;
        end = slash;
    }
    start
}

/// `domain-spec = macro-string domain-end` (§7.1, §12), where
/// `domain-end = ( "." toplabel [ "." ] ) / macro-expand`.
fn domain_spec(s: &str) -> Result<DomainSpec<'_>, SyntaxErrorKind> {
    if s.is_empty() {
        return Err(SyntaxErrorKind::BadArgument);
    }
    check_macro_string(s, MacroContext::Domain).map_err(SyntaxErrorKind::Macro)?;
    if ends_with_macro_expand(s, MacroContext::Domain) {
        return Ok(DomainSpec(s));
    }
    let trimmed = s.strip_suffix('.').unwrap_or(s);
    let Some(dot) = trimmed.rfind('.') else {
        return Err(SyntaxErrorKind::BadDomainEnd);
    };
    let toplabel = &trimmed[dot + 1..];
    // The text before the final "." must not itself end with a dot (no empty label
    // right before the top label), and the top label must be valid.
    if is_toplabel(toplabel) {
        Ok(DomainSpec(s))
    } else {
        Err(SyntaxErrorKind::BadDomainEnd)
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
fn is_toplabel(l: &str) -> bool {
    let b = l.as_bytes();
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return false;
    }
    if !l.contains('-') {
        return b.iter().any(u8::is_ascii_alphabetic);
    }
    b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7208_4_5_version_selection() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SPF1 -all"));
        assert!(!is_spf_record(b"v=spf10"));
        assert!(!is_spf_record(b"v=spf1-all"));
        assert!(!is_spf_record(b"spf2.0/pra"));
    }

    #[test]
    fn round_trip() {
        let texts = [
            "v=spf1 +a mx/24 ~ptr:example.org ?ip4:192.0.2.0/24 -ip6:2001:db8::/32 include:_spf.example.com exists:%{ir}.%{v}._spf.%{d2} a:example.com/24//64 mx//64 redirect=_spf.example.net exp=explain._spf.%{d} custom-mod=%{l} -all",
            "v=spf1",
        ];
        for t in texts {
            let r = SpfRecord::parse(t).unwrap();
            assert_eq!(r.to_string(), t);
            assert_eq!(SpfRecord::parse(&r.to_string()).unwrap(), r);
        }
        let r = SpfRecord::parse("V=SPF1   A   MX  -ALL ").unwrap();
        assert_eq!(r.to_string(), "v=spf1 a mx -all");
    }

    #[test]
    fn rfc7208_12_syntax_errors() {
        let bad = [
            ("v=spf1 foo", SyntaxErrorKind::UnknownMechanism),
            ("v=spf1 include", SyntaxErrorKind::BadArgument),
            ("v=spf1 include:", SyntaxErrorKind::BadArgument),
            ("v=spf1 all:foo", SyntaxErrorKind::BadArgument),
            ("v=spf1 ip4:192.0.2.1/33", SyntaxErrorKind::BadCidr),
            ("v=spf1 ip4:192.0.2.1/024", SyntaxErrorKind::BadCidr),
            ("v=spf1 ip6:::1/129", SyntaxErrorKind::BadCidr),
            ("v=spf1 ip4:1.2.3", SyntaxErrorKind::BadAddress),
            ("v=spf1 a:foo", SyntaxErrorKind::BadDomainEnd),
            ("v=spf1 a:foo.123", SyntaxErrorKind::BadDomainEnd),
            ("v=spf1 a:foo.-bar", SyntaxErrorKind::BadDomainEnd),
            (
                "v=spf1 redirect=a.example redirect=b.example",
                SyntaxErrorKind::DuplicateModifier,
            ),
            (
                "v=spf1 exists:%{x}.example.com",
                SyntaxErrorKind::Macro(MacroError::BadLetter('x')),
            ),
            (
                "v=spf1 -redirect=a.example",
                SyntaxErrorKind::BadModifierName,
            ),
            ("v=spf1 1foo=bar", SyntaxErrorKind::BadModifierName),
            ("v=spf1 a:exa\u{e9}mple.com", SyntaxErrorKind::NotAscii),
        ];
        for (text, kind) in bad {
            let err = SpfRecord::parse(text).unwrap_err();
            assert_eq!(err.kind, kind, "{text}");
        }
    }

    #[test]
    fn dual_cidr_forms() {
        let r =
            SpfRecord::parse("v=spf1 a/24 a//64 a/24//64 a:x.example/0 mx:x.example//0").unwrap();
        let got: Vec<(Option<u8>, Option<u8>)> = r
            .directives()
            .map(|d| match d.mechanism {
                Mechanism::A { cidr4, cidr6, .. } | Mechanism::Mx { cidr4, cidr6, .. } => {
                    (cidr4, cidr6)
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(24), None),
                (None, Some(64)),
                (Some(24), Some(64)),
                (Some(0), None),
                (None, Some(0))
            ]
        );
    }

    #[test]
    fn domain_end_accepts_macros_and_trailing_dot() {
        for ok in [
            "a:%{d}",
            "a:example.com.",
            "a:%{ir}.example.com",
            "a:foo-bar.x-1",
            "a:%%",
        ] {
            SpfRecord::parse(&format!("v=spf1 {ok}")).unwrap();
        }
    }
}
