//! DMARC policy records: RFC 9989 §4.7 (tags) and §4.8 (formal definition), with the
//! RFC 7489 §6.3 tags `pct`, `rf` and `ri` parsed and reported as legacy.
//!
//! Decisions where the two RFCs (and implementations) differ:
//! - `v=DMARC1` must be the first tag and is case-sensitive; tag names are not.
//! - Tags may come in any order after `v` (RFC 9989; RFC 7489's ABNF wanted `p` second).
//! - A missing or invalid `p`, or an invalid `sp` or `np`, with a `rua` holding at least
//!   one valid URI makes the record a `p=none` record (RFC 7489 §6.6.3, kept by RFC 9989
//!   §4.10); without one the record is invalid, so the domain has no usable DMARC
//!   record.
//! - An invalid value of any other tag (`adkim`, `aspf`, `fo`, `t`, `psd`, `ruf`, the
//!   legacy `pct`, `ri`, `rf`) is discarded in favour of the tag's default (RFC 7489
//!   §6.3: "Syntax errors in the remainder of the record SHOULD be discarded in favor of
//!   default values (if any) or ignored outright"), and so is each invalid URI of `rua`
//!   and `ruf`: a typo in `ri=` does not take a domain's `p=reject` away. What was
//!   discarded is kept in [`DmarcRecord::discarded`].
//! - Unknown tags are ignored, and kept for display.

use std::fmt;

/// A requested handling (`p`, `sp`, `np`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `none`: monitoring only.
    None,
    /// `quarantine`: treat as suspicious.
    Quarantine,
    /// `reject`: refuse during the SMTP session.
    Reject,
}

impl Policy {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "quarantine" => Some(Self::Quarantine),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment mode (`adkim`, `aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlignmentMode {
    /// `r`: organizational domains must match (the default).
    #[default]
    Relaxed,
    /// `s`: the domains must be identical.
    Strict,
}

impl AlignmentMode {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relaxed => "r",
            Self::Strict => "s",
        }
    }
}

/// The `psd` tag (RFC 9989 §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Psd {
    /// `y`: the record is a public suffix domain's.
    Yes,
    /// `n`: the domain is an organizational domain.
    No,
    /// `u` or absent.
    #[default]
    Unknown,
}

/// A report destination (`rua`, `ruf`): a URI and an optional size limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportUri {
    /// The URI, e.g. `mailto:dmarc@example.com`.
    pub uri: String,
    /// The size limit in bytes (`!10m`), when given.
    pub max_bytes: Option<u64>,
}

impl ReportUri {
    /// The address of a `mailto:` URI, if it is one.
    pub fn mailto(&self) -> Option<&str> {
        let rest = self
            .uri
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("mailto:"))
            .map(|_| &self.uri[7..])?;
        Some(rest.split('?').next().unwrap_or(rest))
    }
}

/// What was wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The first tag is not exactly `v=DMARC1`.
    #[error("the record does not start with v=DMARC1")]
    NotDmarc,
    /// A tag without `=`.
    #[error("malformed tag {0:?}")]
    Malformed(String),
    /// A tag given twice.
    #[error("tag {0} appears more than once")]
    Duplicate(String),
    /// A tag with a value it cannot take.
    #[error("invalid value for {tag}: {value:?}")]
    Value {
        /// The tag.
        tag: &'static str,
        /// The value as written.
        value: String,
    },
    /// No usable `p` and no valid `rua` (RFC 7489 §6.6.3).
    #[error("no valid p= tag (and no valid rua= to fall back to p=none)")]
    NoPolicy,
}

/// A parsed DMARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcRecord {
    /// `p`.
    pub p: Policy,
    /// `sp` as given.
    pub sp: Option<Policy>,
    /// `np` as given (RFC 9989).
    pub np: Option<Policy>,
    /// `adkim`.
    pub adkim: AlignmentMode,
    /// `aspf`.
    pub aspf: AlignmentMode,
    /// `fo`, default `["0"]`.
    pub fo: Vec<String>,
    /// `rua`.
    pub rua: Vec<ReportUri>,
    /// `ruf`.
    pub ruf: Vec<ReportUri>,
    /// URIs of `rua` and `ruf` past [`MAX_REPORT_URIS`] each, not kept (RFC 7489 §6.2
    /// lets receivers limit them; a hostile record may list thousands).
    pub uris_ignored: usize,
    /// `t=y`: testing (RFC 9989).
    pub testing: bool,
    /// `psd`.
    pub psd: Psd,
    /// `pct` (RFC 7489, removed by RFC 9989), when given.
    pub pct: Option<u8>,
    /// `rf` (RFC 7489, removed by RFC 9989), when given.
    pub rf: Option<Vec<String>>,
    /// `ri` (RFC 7489, removed by RFC 9989), when given.
    pub ri: Option<u32>,
    /// Unknown tags, as written.
    pub unknown: Vec<(String, String)>,
    /// Problems that made the record fall back to `p=none` (RFC 7489 §6.6.3), if any.
    pub fallback: Option<String>,
    /// Invalid tag values and report URIs that were discarded for the tags' defaults
    /// (RFC 7489 §6.3), each a [`RecordError::Value`] naming the tag.
    pub discarded: Vec<RecordError>,
}

impl DmarcRecord {
    /// The policy for subdomains that exist (`sp`, else `p`).
    pub fn subdomain_policy(&self) -> Policy {
        self.sp.unwrap_or(self.p)
    }

    /// The policy for subdomains that do not exist (`np`, else `sp`, else `p`).
    pub fn nonexistent_policy(&self) -> Policy {
        self.np.or(self.sp).unwrap_or(self.p)
    }

    /// Whether a TXT string is a DMARC record candidate: starts with a `v` tag whose
    /// value is exactly `DMARC1` (RFC 9989 §4.10.1: records not starting with the
    /// current version are discarded; §4.7: the value must match precisely). The value
    /// ends at a `;`, white space or the end: `v=DMARC10` is another version, and was
    /// counted as a second record beside a valid one, so that neither applied. White
    /// space before the `v` is allowed, as DKIM's tag-spec allows it (RFC 6376 §3.2),
    /// though RFC 9989's ABNF has none; the checker warns about it.
    pub fn is_candidate(txt: &[u8]) -> bool {
        let t = txt.trim_ascii_start();
        t.len() >= 2 && t[0].eq_ignore_ascii_case(&b'v') && {
            let rest = t[1..].trim_ascii_start();
            rest.first() == Some(&b'=')
                && rest[1..]
                    .trim_ascii_start()
                    .strip_prefix(b"DMARC1")
                    .is_some_and(|after| matches!(after.first(), None | Some(b';' | b' ' | b'\t')))
        }
    }

    /// Parses a record.
    pub fn parse(text: &str) -> Result<Self, RecordError> {
        let mut specs = text.split(';');
        let first = specs.next().unwrap_or_default();
        match first.split_once('=') {
            Some((n, v)) if n.trim().eq_ignore_ascii_case("v") && v.trim() == "DMARC1" => {}
            _ => return Err(RecordError::NotDmarc),
        }
        let mut seen: std::collections::HashSet<String> =
            std::collections::HashSet::from(["v".into()]);
        let mut p = None;
        let mut rec = Self {
            p: Policy::None,
            sp: None,
            np: None,
            adkim: AlignmentMode::Relaxed,
            aspf: AlignmentMode::Relaxed,
            fo: vec!["0".into()],
            rua: Vec::new(),
            ruf: Vec::new(),
            uris_ignored: 0,
            testing: false,
            psd: Psd::Unknown,
            pct: None,
            rf: None,
            ri: None,
            unknown: Vec::new(),
            fallback: None,
            discarded: Vec::new(),
        };
        let mut rua_valid = false;
        // Problems with p, sp or np: these make the record p=none or invalid.
        let mut policy_problems: Vec<String> = Vec::new();
        for spec in specs {
            if spec.trim().is_empty() {
                continue;
            }
            // A spec that is no tag is a syntax error in the remainder of the record:
            // discarded (RFC 7489 §6.3), like a second value of a tag; only a second
            // p, sp or np, whose meaning cannot be told, makes the record invalid.
            let malformed = || RecordError::Malformed(spec.trim().chars().take(40).collect());
            let Some((name, value)) = spec.split_once('=') else {
                push_bounded(&mut rec.discarded, malformed());
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                push_bounded(&mut rec.discarded, malformed());
                continue;
            }
            if seen.contains(&name) {
                if matches!(name.as_str(), "p" | "sp" | "np") {
                    return Err(RecordError::Duplicate(name));
                }
                push_bounded(&mut rec.discarded, RecordError::Duplicate(name));
                continue;
            }
            seen.insert(name.clone());
            let bad = |tag: &'static str| RecordError::Value {
                tag,
                value: value.chars().take(60).collect(),
            };
            let result: Result<(), RecordError> = (|| {
                match name.as_str() {
                    "p" => p = Some(Policy::parse(value).ok_or_else(|| bad("p"))?),
                    "sp" => rec.sp = Some(Policy::parse(value).ok_or_else(|| bad("sp"))?),
                    "np" => rec.np = Some(Policy::parse(value).ok_or_else(|| bad("np"))?),
                    "adkim" | "aspf" => {
                        let mode = match value.to_ascii_lowercase().as_str() {
                            "r" => AlignmentMode::Relaxed,
                            "s" => AlignmentMode::Strict,
                            _ => return Err(bad(if name == "adkim" { "adkim" } else { "aspf" })),
                        };
                        if name == "adkim" {
                            rec.adkim = mode;
                        } else {
                            rec.aspf = mode;
                        }
                    }
                    "fo" => {
                        let opts: Vec<String> = value
                            .split(':')
                            .map(|o| o.trim().to_ascii_lowercase())
                            .collect();
                        if opts
                            .iter()
                            .any(|o| !matches!(o.as_str(), "0" | "1" | "d" | "s"))
                        {
                            return Err(bad("fo"));
                        }
                        rec.fo = opts;
                    }
                    "rua" | "ruf" => {
                        let tag = if name == "rua" { "rua" } else { "ruf" };
                        let list = parse_uris(value);
                        for bad_uri in &list.invalid {
                            push_bounded(
                                &mut rec.discarded,
                                RecordError::Value {
                                    tag,
                                    value: bad_uri.chars().take(60).collect(),
                                },
                            );
                        }
                        rec.uris_ignored += list.ignored;
                        if tag == "rua" {
                            rua_valid = !list.uris.is_empty();
                            rec.rua = list.uris;
                        } else {
                            rec.ruf = list.uris;
                        }
                    }
                    "t" => {
                        rec.testing = match value.to_ascii_lowercase().as_str() {
                            "y" => true,
                            "n" => false,
                            _ => return Err(bad("t")),
                        }
                    }
                    "psd" => {
                        rec.psd = match value.to_ascii_lowercase().as_str() {
                            "y" => Psd::Yes,
                            "n" => Psd::No,
                            "u" => Psd::Unknown,
                            _ => return Err(bad("psd")),
                        }
                    }
                    "pct" => {
                        rec.pct = Some(
                            value
                                .parse::<u8>()
                                .ok()
                                .filter(|v| *v <= 100 && value.bytes().all(|b| b.is_ascii_digit()))
                                .ok_or_else(|| bad("pct"))?,
                        )
                    }
                    "ri" => {
                        rec.ri = Some(
                            value
                                .parse::<u32>()
                                .ok()
                                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                                .ok_or_else(|| bad("ri"))?,
                        )
                    }
                    "rf" => {
                        let formats: Vec<String> = value
                            .split(':')
                            .map(|o| o.trim().to_ascii_lowercase())
                            .collect();
                        let token_ok = |t: &str| {
                            !t.is_empty()
                                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                                && !t.ends_with('-')
                                && !t.starts_with('-')
                        };
                        if !formats.iter().all(|f| token_ok(f)) {
                            return Err(bad("rf"));
                        }
                        rec.rf = Some(formats);
                    }
                    _ if rec.unknown.len() < MAX_UNKNOWN => {
                        rec.unknown.push((name.clone(), value.to_owned()));
                    }
                    _ => {}
                }
                Ok(())
            })();
            match result {
                Err(e) if matches!(name.as_str(), "p" | "sp" | "np") => {
                    policy_problems.push(e.to_string());
                }
                Err(e) => push_bounded(&mut rec.discarded, e),
                Ok(()) => {}
            }
        }
        let problems = policy_problems;
        match (p, problems.is_empty()) {
            (Some(p), true) => rec.p = p,
            _ if rua_valid => {
                // RFC 7489 §6.6.3: a record with a usable rua but no usable policy is
                // treated as p=none, everything else at its default.
                let why = if problems.is_empty() {
                    "no p= tag".to_owned()
                } else {
                    problems.join("; ")
                };
                let rua = std::mem::take(&mut rec.rua);
                let uris_ignored = rec.uris_ignored;
                let discarded = std::mem::take(&mut rec.discarded);
                rec = Self::parse("v=DMARC1; p=none").expect("a valid record");
                rec.rua = rua;
                rec.uris_ignored = uris_ignored;
                rec.discarded = discarded;
                rec.fallback = Some(why);
            }
            (None, true) => return Err(RecordError::NoPolicy),
            _ => {
                return Err(RecordError::Value {
                    tag: "record",
                    value: problems.join("; "),
                });
            }
        }
        Ok(rec)
    }
}

/// The most problems kept in [`DmarcRecord::discarded`] (a hostile record may hold
/// thousands); the record is read whole all the same.
pub const MAX_DISCARDED: usize = 16;

/// The most unknown tags kept in [`DmarcRecord::unknown`] for display; the others are
/// ignored as the first are.
pub const MAX_UNKNOWN: usize = 32;

fn push_bounded(list: &mut Vec<RecordError>, e: RecordError) {
    if list.len() < MAX_DISCARDED {
        list.push(e);
    }
}

/// `dmarc-uri *(*WSP "," *WSP dmarc-uri)` with `dmarc-uri = URI [ "!" 1*DIGIT [ "k" /
/// "m" / "g" / "t" ] ]` (RFC 9989 §4.8). Spaces around `!` and inside the number are
/// tolerated; `%20` in an address is decoded.
/// The most report URIs kept of `rua` and of `ruf` (RFC 7489 §6.2: receivers may limit
/// them, to no fewer than two).
pub const MAX_REPORT_URIS: usize = 10;

/// A `rua` or `ruf` list: the first [`MAX_REPORT_URIS`] valid URIs, how many valid ones
/// past those were left out, and the invalid ones (the first [`MAX_REPORT_URIS`], each as
/// written), which are discarded alone (RFC 7489 §6.3).
struct UriList {
    uris: Vec<ReportUri>,
    ignored: usize,
    invalid: Vec<String>,
}

fn parse_uris(value: &str) -> UriList {
    let mut list = UriList {
        uris: Vec::new(),
        ignored: 0,
        invalid: Vec::new(),
    };
    for item in value.split(',') {
        let item = item.trim();
        match parse_uri(item) {
            Some(uri) if list.uris.len() < MAX_REPORT_URIS => list.uris.push(uri),
            Some(_) => list.ignored += 1,
            None if list.invalid.len() < MAX_REPORT_URIS => list.invalid.push(item.to_owned()),
            None => {}
        }
    }
    list
}

/// Whether one item of a `rua` or `ruf` list (between commas) is a valid `dmarc-uri`.
pub fn is_valid_report_uri(item: &str) -> bool {
    parse_uri(item.trim()).is_some()
}

/// One `dmarc-uri`, or `None` when it is not one.
fn parse_uri(item: &str) -> Option<ReportUri> {
    let (uri, limit) = match item.split_once('!') {
        Some((u, l)) => (u.trim(), Some(l)),
        None => (item, None),
    };
    let colon = uri.find(':')?;
    let scheme = &uri[..colon];
    let rest = &uri[colon + 1..];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        || rest.is_empty()
        || rest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let uri = uri.replace("%20", "");
    let max_bytes = match limit {
        None => None,
        Some(l) => {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            let digits = l.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let n: u64 = l[..digits].parse().ok()?;
            let mult: u64 = match l[digits..].to_ascii_lowercase().as_str() {
                "" => 1,
                "k" => 1 << 10,
                "m" => 1 << 20,
                "g" => 1 << 30,
                "t" => 1 << 40,
                _ => return None,
            };
            Some(n.checked_mul(mult)?)
        }
    };
    Some(ReportUri { uri, max_bytes })
}

impl fmt::Display for DmarcRecord {
    /// The record with every tag that differs from its default, in RFC 9989 order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v=DMARC1; p={}", self.p)?;
        if let Some(sp) = self.sp {
            write!(f, "; sp={sp}")?;
        }
        if let Some(np) = self.np {
            write!(f, "; np={np}")?;
        }
        if self.adkim == AlignmentMode::Strict {
            f.write_str("; adkim=s")?;
        }
        if self.aspf == AlignmentMode::Strict {
            f.write_str("; aspf=s")?;
        }
        let uris = |list: &[ReportUri]| {
            list.iter()
                .map(|u| match u.max_bytes {
                    Some(b) => format!("{}!{b}", u.uri),
                    None => u.uri.clone(),
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        if !self.rua.is_empty() {
            write!(f, "; rua={}", uris(&self.rua))?;
        }
        if !self.ruf.is_empty() {
            write!(f, "; ruf={}", uris(&self.ruf))?;
        }
        if self.fo != ["0"] {
            write!(f, "; fo={}", self.fo.join(":"))?;
        }
        if self.testing {
            f.write_str("; t=y")?;
        }
        match self.psd {
            Psd::Yes => f.write_str("; psd=y")?,
            Psd::No => f.write_str("; psd=n")?,
            Psd::Unknown => {}
        }
        if let Some(pct) = self.pct {
            write!(f, "; pct={pct}")?;
        }
        if let Some(rf) = &self.rf {
            write!(f, "; rf={}", rf.join(":"))?;
        }
        if let Some(ri) = self.ri {
            write!(f, "; ri={ri}")?;
        }
        for (k, v) in &self.unknown {
            write!(f, "; {k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9989_4_7_defaults_and_inheritance() {
        let r = DmarcRecord::parse("v=DMARC1; p=reject").unwrap();
        assert_eq!(r.subdomain_policy(), Policy::Reject);
        assert_eq!(r.nonexistent_policy(), Policy::Reject);
        let r = DmarcRecord::parse("v=DMARC1; p=reject; sp=quarantine").unwrap();
        assert_eq!(r.nonexistent_policy(), Policy::Quarantine);
        let r = DmarcRecord::parse("v=DMARC1; p=reject; sp=quarantine; np=none").unwrap();
        assert_eq!(r.nonexistent_policy(), Policy::None);
    }

    #[test]
    fn round_trip() {
        let r = DmarcRecord::parse(
            "v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; aspf=s; rua=mailto:a@example.com!10m,mailto:b@example.net; ruf=mailto:f@example.com; fo=1:d; t=y; psd=n; pct=50; rf=afrf; ri=3600; ext=1",
        )
        .unwrap();
        let again = DmarcRecord::parse(&r.to_string()).unwrap();
        assert_eq!(again, r);
        assert_eq!(r.rua[0].max_bytes, Some(10 << 20));
        assert_eq!(r.rua[0].mailto(), Some("a@example.com"));
    }

    /// A hostile record listing thousands of report URIs: the first ten of each tag
    /// are kept and the rest counted, so nothing downstream (the checker's
    /// authorization lookups, report sending) does work per URI without bound.
    #[test]
    fn rfc7489_6_2_report_uris_are_bounded() {
        let many: Vec<String> = (0..5_000)
            .map(|i| format!("mailto:r{i}@example.net"))
            .collect();
        let text = format!(
            "v=DMARC1; p=reject; rua={}; ruf={}",
            many.join(","),
            many[..3].join(",")
        );
        let r = DmarcRecord::parse(&text).unwrap();
        assert_eq!(r.rua.len(), MAX_REPORT_URIS);
        assert_eq!(r.ruf.len(), 3);
        assert_eq!(r.uris_ignored, 5_000 - MAX_REPORT_URIS);
        assert_eq!(r.rua[0].mailto(), Some("r0@example.net"));
    }

    #[test]
    fn rfc7489_6_6_3_fallback_to_none() {
        let r = DmarcRecord::parse("v=DMARC1; p=bogus; rua=mailto:a@example.com").unwrap();
        assert_eq!(r.p, Policy::None);
        assert!(r.fallback.is_some());
        assert!(DmarcRecord::parse("v=DMARC1; p=bogus").is_err());
        assert_eq!(DmarcRecord::parse("v=DMARC1;"), Err(RecordError::NoPolicy));
    }

    /// RFC 9989 §4.7: the version must match precisely. `v=DMARC10` beside a valid
    /// record made two candidates, so neither applied (OpenDMARC's and checkdmarc's
    /// cases, run against monban).
    #[test]
    fn rfc9989_4_7_only_dmarc1_exactly_is_a_candidate() {
        for yes in [
            "v=DMARC1; p=reject",
            "v=DMARC1",
            "v=DMARC1;p=none",
            "V = DMARC1 ; p=none",
            " v=DMARC1; p=reject",
            "v=DMARC1\tp=reject",
        ] {
            assert!(DmarcRecord::is_candidate(yes.as_bytes()), "{yes}");
        }
        for no in [
            "v=DMARC10; p=none",
            "v=DMARC1x; p=none",
            "v=DMARC12",
            "v=dmarc1; p=none",
            "x=1; v=DMARC1; p=none",
            "v=spf1 -all",
        ] {
            assert!(!DmarcRecord::is_candidate(no.as_bytes()), "{no}");
        }
    }

    /// A trial found `p=reject` records taken for `p=none` (or for no record) because of
    /// a typo in another tag: forged mail got through. Invalid values of the other tags
    /// are discarded for their defaults (RFC 7489 §6.3), each invalid report URI alone.
    #[test]
    fn rfc7489_6_3_invalid_values_of_other_tags_are_discarded() {
        for (record, discarded) in [
            ("v=DMARC1; p=reject; ri=1d; rua=mailto:r@e.test", "ri"),
            ("v=DMARC1; p=reject; adkim=x; rua=mailto:r@e.test", "adkim"),
            ("v=DMARC1; p=reject; aspf=relaxed", "aspf"),
            ("v=DMARC1; p=reject; fo=2; rua=mailto:r@e.test", "fo"),
            ("v=DMARC1; p=reject; pct=100.0", "pct"),
            ("v=DMARC1; p=reject; rf=afrf-", "rf"),
            ("v=DMARC1; p=reject; t=maybe", "t"),
            ("v=DMARC1; p=reject; psd=x", "psd"),
            (
                "v=DMARC1; p=reject; rua=mailto:a@g.test; ruf=forensics@g.test",
                "ruf",
            ),
            (
                "v=DMARC1; p=reject; rua=mailto:a@g.test,dmarc@g.test",
                "rua",
            ),
            ("v=DMARC1; p=reject; rua=", "rua"),
        ] {
            let r = DmarcRecord::parse(record).unwrap_or_else(|e| panic!("{record}: {e}"));
            assert_eq!(r.p, Policy::Reject, "{record}");
            assert_eq!(r.fallback, None, "{record}");
            assert_eq!(r.discarded.len(), 1, "{record}: {:?}", r.discarded);
            assert!(
                r.discarded[0]
                    .to_string()
                    .contains(&format!("invalid value for {discarded}:")),
                "{record}: {:?}",
                r.discarded
            );
        }
        // The defaults stand in for what was discarded; the valid URIs stay.
        let r = DmarcRecord::parse(
            "v=DMARC1; p=quarantine; adkim=x; aspf=s; pct=200; rua=mailto:a@g.test,dmarc@g.test,mailto:b@g.test",
        )
        .unwrap();
        assert_eq!(r.adkim, AlignmentMode::Relaxed);
        assert_eq!(r.aspf, AlignmentMode::Strict);
        assert_eq!(r.pct, None);
        let kept: Vec<_> = r.rua.iter().filter_map(ReportUri::mailto).collect();
        assert_eq!(kept, ["a@g.test", "b@g.test"]);
        // Problems of p, sp and np still make the record p=none, keeping the rest known.
        let r =
            DmarcRecord::parse("v=DMARC1; p=reject; sp=bogus; ri=x; rua=mailto:a@g.test").unwrap();
        assert_eq!(r.p, Policy::None);
        assert!(r.fallback.as_deref().is_some_and(|f| f.contains("sp")));
        assert_eq!(r.discarded.len(), 1);
        // A rua of invalid URIs alone is no rua: no p, no record.
        assert!(DmarcRecord::parse("v=DMARC1; p=bogus; rua=bogus").is_err());
        // Syntax errors in the remainder are discarded too; a second p is not.
        let r = DmarcRecord::parse(
            "v=DMARC1; p=reject; foo; rua=mailto:a@g.test; rua=mailto:b@g.test; =x",
        )
        .unwrap();
        assert_eq!(r.p, Policy::Reject);
        assert_eq!(r.rua.len(), 1);
        assert_eq!(r.discarded.len(), 3, "{:?}", r.discarded);
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=reject; p=none"),
            Err(RecordError::Duplicate("p".into()))
        );
        // Thousands of unknown or broken tags: read in one pass, a few kept.
        let many: String = (0..8_000).map(|i| format!("x{i}=1; y{i}; ")).collect();
        let r = DmarcRecord::parse(&format!("v=DMARC1; p=reject; {many}")).unwrap();
        assert_eq!(r.unknown.len(), MAX_UNKNOWN);
        assert_eq!(r.discarded.len(), MAX_DISCARDED);
        // Hostile lists: at most ten invalid URIs are named.
        let junk = vec!["x"; 5_000].join(",");
        let r = DmarcRecord::parse(&format!("v=DMARC1; p=reject; rua={junk}")).unwrap();
        assert_eq!(r.discarded.len(), MAX_REPORT_URIS);
        assert!(r.rua.is_empty());
    }

    #[test]
    fn version_rules() {
        assert!(DmarcRecord::is_candidate(b"v=DMARC1; p=none"));
        assert!(DmarcRecord::is_candidate(b"V = DMARC1 ; p=none"));
        assert!(!DmarcRecord::is_candidate(b"v=spf1 -all"));
        assert_eq!(
            DmarcRecord::parse("v=dmarc1; p=none"),
            Err(RecordError::NotDmarc)
        );
        assert_eq!(
            DmarcRecord::parse("p=none; v=DMARC1"),
            Err(RecordError::NotDmarc)
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1 p=none"),
            Err(RecordError::NotDmarc)
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=none; p=reject"),
            Err(RecordError::Duplicate("p".into()))
        );
    }
}
