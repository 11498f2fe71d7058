//! The `DKIM-Signature` header field, RFC 6376 §3.5: parse, check, format.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::canonicalization::Canonicalization;
use super::tags::{self, TagListError};

/// A signing algorithm (§3.3, RFC 8463 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `rsa-sha256` (§3.3.2).
    RsaSha256,
    /// `rsa-sha1` (§3.3.1): RFC 8301 forbids signing with it and verifiers must not
    /// accept it; parsed so the reason can be reported.
    RsaSha1,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
}

impl Algorithm {
    /// The `a=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa-sha256",
            Self::RsaSha1 => "rsa-sha1",
            Self::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// Parses an `a=` value (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::RsaSha256, Self::RsaSha1, Self::Ed25519Sha256]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The key type (`k=` of the key record).
    pub fn key_type(self) -> &'static str {
        match self {
            Self::RsaSha256 | Self::RsaSha1 => "rsa",
            Self::Ed25519Sha256 => "ed25519",
        }
    }

    /// The hash (`h=` of the key record).
    pub fn hash_name(self) -> &'static str {
        match self {
            Self::RsaSha1 => "sha1",
            Self::RsaSha256 | Self::Ed25519Sha256 => "sha256",
        }
    }
}

/// The most names `h=` may list (§3.5 sets no limit). Real signatures list a few
/// dozen, over-signing doubles that; a longer list is refused as `permerror` before any
/// work is done, so a hostile `h=` costs nothing.
pub const MAX_SIGNED_FIELDS: usize = 1_000;

/// What is wrong with a signature field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The field is not ASCII/UTF-8 text.
    #[error("the signature field is not text")]
    NotText,
    /// The tag-list does not parse.
    #[error(transparent)]
    TagList(#[from] TagListError),
    /// A required tag is missing (§3.5: v, a, b, bh, d, h, s).
    #[error("required tag {0}= is missing")]
    Missing(&'static str),
    /// `v=` is not `1`.
    #[error("unsupported version v={0}")]
    Version(String),
    /// Unknown `a=`.
    #[error("unsupported algorithm a={0}")]
    Algorithm(String),
    /// Bad base64 in `b=` or `bh=`.
    #[error("tag {0}= is not valid base64")]
    Base64(&'static str),
    /// Unknown `c=`.
    #[error("unsupported canonicalization c={0}")]
    Canonicalization(String),
    /// `d=` or `s=` is not a domain name.
    #[error("tag {0}= is not a valid domain name or selector")]
    Name(&'static str),
    /// `h=` lists more than [`MAX_SIGNED_FIELDS`] names.
    #[error("h= lists more than {MAX_SIGNED_FIELDS} header fields")]
    TooManySignedFields,
    /// `h=` does not include From (§5.4: "The From header field MUST be signed").
    #[error("h= does not include From")]
    FromNotSigned,
    /// `i=` is not in `d=` or one of its subdomains (§3.5).
    #[error("i= is not in the domain d= or a subdomain of it")]
    IdentityOutsideDomain,
    /// A `dkim-quoted-printable` value that does not decode (RFC 6376 §2.11).
    #[error("tag {0}= is not valid dkim-quoted-printable")]
    QuotedPrintable(&'static str),
    /// A number tag (`l=`, `t=`, `x=`) is not a number.
    #[error("tag {0}= is not a number")]
    Number(&'static str),
    /// `x=` is not after `t=` (§3.5).
    #[error("x= is not later than t=")]
    ExpiresBeforeSigned,
    /// `q=` has no method monban supports (`dns/txt`).
    #[error("unsupported query method q={0}")]
    QueryMethod(String),
    /// ARC: `i=` is not an instance number from 1 to 50 (RFC 8617 §4.2.1).
    #[error("i= is not an ARC instance number (1 to 50)")]
    Instance,
    /// ARC: an `ARC-Message-Signature` lists ARC-Seal in `h=` (RFC 8617 §4.1.2).
    #[error("h= lists ARC-Seal, which an ARC-Message-Signature must not sign")]
    SealSigned,
}

/// The most ARC sets a message may carry (RFC 8617 §4.2.1, §5.2 step 1).
pub const MAX_ARC_INSTANCE: u32 = 50;

/// Parses an ARC instance number (`i=` of every ARC header field, RFC 8617 §4.2.1):
/// digits only, 1 to [`MAX_ARC_INSTANCE`].
pub fn arc_instance(v: &str) -> Option<u32> {
    if v.is_empty() || v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u32>()
        .ok()
        .filter(|i| (1..=MAX_ARC_INSTANCE).contains(i))
}

/// Which field a signature is: they share the tags of RFC 6376 §3.5 with the
/// differences RFC 8617 §4.1.2 lists for the `ARC-Message-Signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dkim,
    ArcMessage,
}

/// The `h=` list of a signature (RFC 6376 §3.5): header field names as written, in
/// order, kept as one string (the names joined by `:`, no empty name): a signature
/// names twenty fields or so, and a string each cost an allocation each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedHeaders {
    joined: String,
    count: usize,
}

impl SignedHeaders {
    /// The list of `names`, in order. A field name holds no `:` (RFC 5322 §3.6.8); a
    /// name given with one counts as the names it separates, and empty names are left
    /// out, as in an `h=` value.
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        // Room for a usual list (about twenty names) without growing on the way.
        let mut list = Self {
            joined: String::with_capacity(320),
            count: 0,
        };
        for name in names {
            let name = name.as_ref();
            if memchr::memchr(b':', name.as_bytes()).is_none() {
                // The usual name: no splitting.
                if !name.is_empty() {
                    list.push(name);
                }
                continue;
            }
            for part in name.split(':').filter(|n| !n.is_empty()) {
                list.push(part);
            }
        }
        list
    }

    /// From an `h=` value as written (§3.5: names separated by `:`, white space
    /// anywhere in it ignored, as folding; empty names, as in `from::to`, passed over).
    /// One pass, one allocation: what splitting the value without its white space
    /// at each `:` gives.
    fn from_raw(value: &str) -> Self {
        // Bytes: only ASCII ones are left out or cut at, so the rest is still UTF-8.
        let mut joined = Vec::with_capacity(value.len());
        let mut count = 0;
        let mut in_name = false;
        for &b in value.as_bytes() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b':' => in_name = false,
                _ => {
                    if !in_name {
                        if count > 0 {
                            joined.push(b':');
                        }
                        count += 1;
                        in_name = true;
                    }
                    joined.push(b);
                }
            }
        }
        Self {
            joined: String::from_utf8(joined)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            count,
        }
    }

    fn push(&mut self, name: &str) {
        if !self.joined.is_empty() {
            self.joined.push(':');
        }
        self.joined.push_str(name);
        self.count += 1;
    }

    /// The names, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + Clone + '_ {
        Names { rest: &self.joined }
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The list as an `h=` value: the names joined by `:`.
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// Whether `name` is in the list (field names compare without regard to case).
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// The names of a [`SignedHeaders`]: its string cut at each `:` (empty names passed
/// over, though none is kept). A name is a dozen bytes, short enough that a plain loop
/// finds its end sooner than a searcher is set up (`str::split` cost about 150
/// instructions a name).
#[derive(Clone)]
struct Names<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Names<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            // ':' is ASCII: both cuts are character boundaries.
            let (name, rest) = match self.rest.bytes().position(|b| b == b':') {
                Some(i) => (self.rest.get(..i)?, self.rest.get(i + 1..)?),
                None => (self.rest, ""),
            };
            self.rest = rest;
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
}

impl<'a> DoubleEndedIterator for Names<'a> {
    fn next_back(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (rest, name) = match self.rest.bytes().rposition(|b| b == b':') {
                Some(i) => (self.rest.get(..i)?, self.rest.get(i + 1..)?),
                None => ("", self.rest),
            };
            self.rest = rest;
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for SignedHeaders {
    fn from_iter<I: IntoIterator<Item = S>>(names: I) -> Self {
        Self::new(names)
    }
}

impl From<Vec<String>> for SignedHeaders {
    fn from(names: Vec<String>) -> Self {
        Self::new(names)
    }
}

impl std::fmt::Display for SignedHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.joined)
    }
}

/// A list of header field names, however it is kept: what [`crate::dkim::verify::pick_fields`]
/// and the header-data builders take (an `h=` list, or names given by a caller).
pub trait FieldNames {
    /// How many names.
    fn count(&self) -> usize;
    /// The names, in order.
    fn names(&self) -> impl Iterator<Item = &str>;
}

impl FieldNames for SignedHeaders {
    fn count(&self) -> usize {
        self.count
    }
    fn names(&self) -> impl Iterator<Item = &str> {
        self.iter()
    }
}

impl<S: AsRef<str>> FieldNames for [S] {
    fn count(&self) -> usize {
        self.len()
    }
    fn names(&self) -> impl Iterator<Item = &str> {
        self.iter().map(AsRef::as_ref)
    }
}

impl<S: AsRef<str>> FieldNames for Vec<S> {
    fn count(&self) -> usize {
        self.len()
    }
    fn names(&self) -> impl Iterator<Item = &str> {
        self.iter().map(AsRef::as_ref)
    }
}

impl<S: AsRef<str>, const N: usize> FieldNames for [S; N] {
    fn count(&self) -> usize {
        N
    }
    fn names(&self) -> impl Iterator<Item = &str> {
        self.iter().map(AsRef::as_ref)
    }
}

/// A parsed `DKIM-Signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSignature {
    /// `a=`.
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// `bh=`, decoded.
    pub body_hash: Vec<u8>,
    /// `c=` header part.
    pub header_canonicalization: Canonicalization,
    /// `c=` body part.
    pub body_canonicalization: Canonicalization,
    /// `d=`, lowercase.
    pub domain: String,
    /// `h=`, names as written.
    pub signed_headers: SignedHeaders,
    /// `i=` as written, if present.
    pub identity: Option<String>,
    /// `l=`.
    pub body_length: Option<u64>,
    /// `s=`, lowercase.
    pub selector: String,
    /// `t=`.
    pub timestamp: Option<u64>,
    /// `x=`.
    pub expiration: Option<u64>,
    /// `z=`, as written.
    pub copied_headers: Option<String>,
    /// Tags monban does not know, kept in order (§3.2: unknown tags are ignored).
    pub unknown: Vec<(String, String)>,
}

/// Whether `s` is a plausible domain name or selector: dot-separated labels of letters,
/// digits, `-` and `_` (§3.5 `domain-name` / `selector`). Shared by DKIM and ARC
/// signing and verification.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A signing domain as DKIM publishes and writes it: lower case, without a final dot,
/// and an internationalized name (U-labels) in its A-label form (UTS #46), the form its
/// key records are published under (RFC 8616 §4). `None` when the name cannot be
/// converted; whether the result is a DNS name is [`is_dns_name`]'s to say.
pub fn ascii_domain(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.');
    if name.is_ascii() {
        return Some(name.to_ascii_lowercase());
    }
    idna::domain_to_ascii_strict(name).ok()
}

fn number(tag: &'static str, v: &str) -> Result<u64, SignatureError> {
    // §3.5: up to 12 digits for t/x, 76 for l: anything that does not fit u64 is absurd.
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Number(tag));
    }
    Ok(v.parse::<u64>().unwrap_or(u64::MAX))
}

/// The tags of §3.5 (`v=` first: an ARC-Message-Signature has all but it).
const KNOWN_TAGS: [&str; 14] = [
    "v", "a", "b", "bh", "c", "d", "h", "i", "l", "q", "s", "t", "x", "z",
];

/// The place of a tag name in [`KNOWN_TAGS`] (names are case-sensitive, §3.2).
fn known_tag(name: &str) -> Option<usize> {
    KNOWN_TAGS.iter().position(|k| *k == name)
}

impl DkimSignature {
    /// Parses the value of a `DKIM-Signature` field (§3.5), checking what §6.1.1 asks
    /// of a signature before any key is fetched.
    pub fn parse(value: &[u8]) -> Result<Self, SignatureError> {
        Self::parse_kind(value, Kind::Dkim).map(|(s, _)| s)
    }

    /// Parses the value of an `ARC-Message-Signature` (RFC 8617 §4.1.2): the
    /// `DKIM-Signature` tags without `v=`, with `i=` the instance number instead of an
    /// AUID, From not required in `h=` and ARC-Seal forbidden there. Gives the
    /// signature (with no [`DkimSignature::identity`]) and the instance.
    pub fn parse_arc_message(value: &[u8]) -> Result<(Self, u32), SignatureError> {
        Self::parse_kind(value, Kind::ArcMessage)
    }

    fn parse_kind(value: &[u8], kind: Kind) -> Result<(Self, u32), SignatureError> {
        let text = std::str::from_utf8(value).map_err(|_| SignatureError::NotText)?;
        let list = tags::parse_signature(text)?;
        // Each known tag's value, found in one pass; the others kept in order (§3.2:
        // unknown tags are ignored). An ARC-Message-Signature has no `v=`.
        let mut known: [Option<&str>; KNOWN_TAGS.len()] = [None; KNOWN_TAGS.len()];
        let mut unknown = Vec::new();
        for t in &list {
            match known_tag(t.name) {
                Some(0) if kind == Kind::ArcMessage => unknown.push(t),
                Some(k) => known[k] = Some(t.value),
                None => unknown.push(t),
            }
        }
        let get = |name: &str| known_tag(name).and_then(|k| known[k]);
        let mut instance = 0;
        if kind == Kind::Dkim {
            let v = get("v").ok_or(SignatureError::Missing("v"))?;
            if v != "1" {
                return Err(SignatureError::Version(v.to_owned()));
            }
        } else {
            let i = get("i").ok_or(SignatureError::Missing("i"))?;
            instance = arc_instance(i).ok_or(SignatureError::Instance)?;
        }
        let a = get("a").ok_or(SignatureError::Missing("a"))?;
        let algorithm =
            Algorithm::from_name(a).ok_or_else(|| SignatureError::Algorithm(a.to_owned()))?;
        let signature = tags::base64_without_wsp(get("b").ok_or(SignatureError::Missing("b"))?)
            .ok_or(SignatureError::Base64("b"))?;
        let body_hash = tags::base64_without_wsp(get("bh").ok_or(SignatureError::Missing("bh"))?)
            .ok_or(SignatureError::Base64("bh"))?;
        let (header_canonicalization, body_canonicalization) = match get("c") {
            // ARC uses relaxed canonicalization (the ARC drafts; dkimpy and the ValiMail
            // suite's ams_fields_c_na read a missing c= so); DKIM's default is simple.
            None if kind == Kind::ArcMessage => {
                (Canonicalization::Relaxed, Canonicalization::Relaxed)
            }
            None => (Canonicalization::Simple, Canonicalization::Simple),
            Some(c) => {
                let lower = c.to_ascii_lowercase();
                let (h, b) = lower.split_once('/').unwrap_or((lower.as_str(), "simple"));
                match (
                    Canonicalization::from_name(h),
                    Canonicalization::from_name(b),
                ) {
                    (Some(h), Some(b)) => (h, b),
                    _ => return Err(SignatureError::Canonicalization(c.to_owned())),
                }
            }
        };
        let domain = get("d")
            .ok_or(SignatureError::Missing("d"))?
            .to_ascii_lowercase();
        if !is_dns_name(&domain) {
            return Err(SignatureError::Name("d"));
        }
        let selector = get("s")
            .ok_or(SignatureError::Missing("s"))?
            .to_ascii_lowercase();
        if !is_dns_name(&selector) {
            return Err(SignatureError::Name("s"));
        }
        let signed_headers = SignedHeaders::from_raw(get("h").ok_or(SignatureError::Missing("h"))?);
        if signed_headers.len() > MAX_SIGNED_FIELDS {
            return Err(SignatureError::TooManySignedFields);
        }
        if kind == Kind::Dkim && !signed_headers.contains("from") {
            return Err(SignatureError::FromNotSigned);
        }
        if kind == Kind::ArcMessage && signed_headers.contains("arc-seal") {
            return Err(SignatureError::SealSigned);
        }
        // i= is dkim-quoted-printable (RFC 6376 §3.5): `jlong@messiah=2Eedu` is
        // jlong@messiah.edu, whose domain is then checked.
        let identity = match kind {
            Kind::Dkim => get("i")
                .map(|v| {
                    tags::qp_decode(v)
                        .map(std::borrow::Cow::into_owned)
                        .ok_or(SignatureError::QuotedPrintable("i"))
                })
                .transpose()?,
            Kind::ArcMessage => None,
        };
        if let Some(i) = &identity {
            let idomain = i
                .rsplit_once('@')
                .map_or("", |(_, d)| d)
                .to_ascii_lowercase();
            let inside = idomain == domain
                || (idomain.len() > domain.len()
                    && idomain.ends_with(&domain)
                    && idomain.as_bytes()[idomain.len() - domain.len() - 1] == b'.');
            if !inside {
                return Err(SignatureError::IdentityOutsideDomain);
            }
        }
        let body_length = get("l").map(|v| number("l", v)).transpose()?;
        let timestamp = get("t").map(|v| number("t", v)).transpose()?;
        let expiration = get("x").map(|v| number("x", v)).transpose()?;
        if let (Some(t), Some(x)) = (timestamp, expiration)
            && x <= t
        {
            return Err(SignatureError::ExpiresBeforeSigned);
        }
        if let Some(q) = get("q")
            && !tags::strip_wsp(q)
                .split(':')
                .any(|m| m.eq_ignore_ascii_case("dns/txt"))
        {
            return Err(SignatureError::QueryMethod(q.to_owned()));
        }
        let sig = Self {
            algorithm,
            signature,
            body_hash,
            header_canonicalization,
            body_canonicalization,
            domain,
            signed_headers,
            identity,
            body_length,
            selector,
            timestamp,
            expiration,
            copied_headers: get("z").map(str::to_owned),
            unknown: unknown
                .iter()
                .map(|t| (t.name.to_owned(), t.value.to_owned()))
                .collect(),
        };
        Ok((sig, instance))
    }

    /// The AUID: `i=`, or `@d` when absent (§3.5).
    pub fn auid(&self) -> String {
        self.identity
            .clone()
            .unwrap_or_else(|| format!("@{}", self.domain))
    }

    /// Formats the field value with `b=` last and empty, folded to lines of about 78
    /// characters; [`append_b`] adds the signature. Formatting then parsing gives back
    /// the same signature (with `b=` filled in).
    pub fn format_unsigned(&self) -> String {
        let mut list = TagText::default();
        list.push(format_args!("v=1"));
        list.push(format_args!("a={}", self.algorithm.as_str()));
        list.push(format_args!(
            "c={}/{}",
            self.header_canonicalization, self.body_canonicalization
        ));
        list.push(format_args!("d={}", self.domain));
        if let Some(i) = &self.identity {
            list.push(format_args!("i={}", tags::qp_encode(i)));
        }
        list.push(format_args!("s={}", self.selector));
        if let Some(t) = self.timestamp {
            list.push(format_args!("t={t}"));
        }
        if let Some(x) = self.expiration {
            list.push(format_args!("x={x}"));
        }
        if let Some(l) = self.body_length {
            list.push(format_args!("l={l}"));
        }
        for (k, v) in &self.unknown {
            list.push(format_args!("{k}={v}"));
        }
        list.push(format_args!("h={}", self.signed_headers));
        if let Some(z) = &self.copied_headers {
            list.push(format_args!("z={z}"));
        }
        list.text.push_str("bh=");
        B64.encode_string(&self.body_hash, &mut list.text);
        list.end();
        list.push(format_args!("b="));
        list.fold()
    }
}

/// The tags of a field value being written, each followed by `;`, in one string (a
/// signature has a dozen tags: one allocation, not one each), and where each ends.
#[derive(Default)]
struct TagText {
    text: String,
    /// The end of each tag in `text`, its `;` included.
    ends: Vec<usize>,
}

impl TagText {
    /// Appends a tag.
    fn push(&mut self, tag: std::fmt::Arguments<'_>) {
        let _ = self.text.write_fmt(tag);
        self.end();
    }

    /// Ends the tag written into `text` since the last one.
    fn end(&mut self) {
        self.text.push(';');
        self.ends.push(self.text.len());
    }

    /// Joins the tags with "; " (the last without its `;`), starting a new line (CRLF
    /// TAB) before a tag that would pass column 78, and breaking long values at colons
    /// (h=) or anywhere (base64).
    fn fold(&self) -> String {
        // The field starts as "DKIM-Signature: " (16 characters).
        // A space per tag, and a fold (CRLF TAB) every 60 to 75 characters.
        let room = self.text.len() + self.text.len() / 16 + self.ends.len() + 8;
        let mut out = String::with_capacity(room);
        out.push(' ');
        let mut col = 16usize;
        let mut start = 0;
        for (n, &end) in self.ends.iter().enumerate() {
            let last = n + 1 == self.ends.len();
            let piece = &self.text[start..if last { end - 1 } else { end }];
            start = end;
            if col + piece.len() > 78 && col > 1 {
                out.push_str("\r\n\t");
                col = 1;
            } else if n > 0 {
                out.push(' ');
                col += 1;
            }
            // Values longer than a line are folded inside where §3.5's grammar allows
            // FWS in the value: h= at its colons, z= after its bars, bh= and b= (base64)
            // anywhere. Elsewhere white space inside a value is part of it (§3.2): a long
            // d=, s= or i= stays whole on its line (folded, a trial's 116-character d=
            // became a name with CRLF TAB inside, and every verifier failed it).
            // Where a cut may go: after this character, or anywhere (`None`).
            let at = match piece.split_once('=').map(|(name, _)| name) {
                Some("h") => Some(Some(':')),
                Some("z") => Some(Some('|')),
                Some("bh" | "b") => Some(None),
                _ => None,
            };
            let mut rest = piece;
            while let Some(at) = at
                && col + rest.len() > 78
                && rest.len() > 40
            {
                let room = 78usize.saturating_sub(col).max(20);
                // Tag values are ASCII (checked before signing); should one not be, the
                // cut moves back to a character boundary rather than split a character.
                let mut limit = room.min(rest.len());
                while !rest.is_char_boundary(limit) {
                    limit -= 1;
                }
                let cut = match at {
                    Some(sep) => rest[..limit].rfind(sep).map_or(0, |c| c + 1),
                    None => limit,
                };
                if cut == 0 {
                    break;
                }
                out.push_str(&rest[..cut]);
                out.push_str("\r\n\t");
                col = 1;
                rest = &rest[cut..];
            }
            out.push_str(rest);
            col += rest.len();
        }
        out
    }
}

/// Appends the base64 signature to a value from [`DkimSignature::format_unsigned`],
/// folded.
pub fn append_b(unsigned: &str, signature: &[u8]) -> String {
    let b = B64.encode(signature);
    let mut out = String::with_capacity(unsigned.len() + b.len() + b.len() / 24 + 8);
    out.push_str(unsigned);
    let col = unsigned.rsplit("\r\n").next().map_or(0, str::len);
    // Base64 is ASCII: the text is cut at any byte. The first line fills up to column
    // 76, each next one holds 75 characters after its tab.
    let mut rest = b.as_str();
    let mut room = 76usize.saturating_sub(col);
    while rest.len() > room {
        let (line, after) = rest.split_at(room);
        out.push_str(line);
        out.push_str("\r\n\t");
        rest = after;
        room = 75;
    }
    out.push_str(rest);
    out
}

/// Removes the value of the `b=` tag from a raw field value, keeping every other byte
/// (§3.7: the signature field is hashed "with the value of the b= tag ... deleted").
pub fn strip_b_value(value: &[u8]) -> Vec<u8> {
    strip_b(value).into_owned()
}

/// [`strip_b_value`], borrowing `value` when no `b=` in it has a value to remove (as in
/// the field a signer has just formatted): no copy then.
pub(crate) fn strip_b(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // Everything is copied as it is but the value of a `b` tag: the specs are found
    // with memchr, and the bytes between two `b=` values go over in one copy.
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut start = 0;
    loop {
        let end = memchr::memchr(b';', &value[start..]).map_or(value.len(), |i| start + i);
        let spec = &value[start..end];
        if let Some(eq) = memchr::memchr(b'=', spec)
            && start + eq + 1 < end
            && spec[..eq]
                .iter()
                .filter(|c| !c.is_ascii_whitespace())
                .eq(b"b".iter())
        {
            out.get_or_insert_with(|| Vec::with_capacity(value.len()))
                .extend_from_slice(&value[copied..=start + eq]);
            copied = end;
        }
        if end == value.len() {
            break;
        }
        start = end + 1;
    }
    match out {
        None => std::borrow::Cow::Borrowed(value),
        Some(mut out) => {
            out.extend_from_slice(&value[copied..]);
            std::borrow::Cow::Owned(out)
        }
    }
}

/// The `header.b` value of RFC 6008: the first 8 characters of `b=`.
pub fn short_b(signature: &[u8]) -> String {
    let mut s = B64.encode(signature);
    s.truncate(8);
    s
}

/// Writes `DKIM-Signature: <value>\r\n`.
pub fn header_line(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 20);
    let _ = write!(s, "DKIM-Signature:{value}\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC6376_A2: &str = " v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n      h=Received : From : To : Subject : Date : Message-ID;\r\n      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n      4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n      KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n      4bmp/YzhwvcubU4=;";

    /// The names, from the front, the back or both in turn, are those of splitting at
    /// ':' and passing over empty names, for strings of names, colons and non-ASCII.
    #[test]
    fn names_are_the_colon_separated_parts() {
        const PIECES: [&str; 5] = ["from", ":", "é", "x", "::"];
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let joined: String = (0..next() % 9)
                .map(|_| PIECES[(next() % 5) as usize])
                .collect();
            let want: Vec<&str> = joined.split(':').filter(|n| !n.is_empty()).collect();
            let names = Names { rest: &joined };
            assert_eq!(names.clone().collect::<Vec<_>>(), want, "{joined:?}");
            let mut back: Vec<&str> = names.clone().rev().collect();
            back.reverse();
            assert_eq!(back, want, "{joined:?}");
            // Alternating ends meet in the middle without losing or repeating a name.
            let mut names = names;
            let (mut front, mut tail) = (Vec::new(), Vec::new());
            for turn in 0.. {
                let name = if turn % 2 == 0 {
                    names.next()
                } else {
                    names.next_back()
                };
                match name {
                    Some(n) if turn % 2 == 0 => front.push(n),
                    Some(n) => tail.push(n),
                    None => break,
                }
            }
            tail.reverse();
            front.extend(tail);
            assert_eq!(front, want, "{joined:?}");
        }
    }

    /// An `h=` value read in one pass is the list of its names once white space is
    /// removed: folding inside and between names, empty names, non-ASCII.
    #[test]
    fn h_read_in_one_pass_is_split_without_white_space() {
        const PIECES: [&str; 8] = ["from", ":", " ", "\r\n\t", "é", "To", "::", "x"];
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let raw: String = (0..next() % 12)
                .map(|_| PIECES[(next() % 8) as usize])
                .collect();
            let want = SignedHeaders::new([tags::strip_wsp(&raw)]);
            let got = SignedHeaders::from_raw(&raw);
            assert_eq!(got, want, "{raw:?}");
            assert_eq!(got.len(), got.iter().count(), "{raw:?}");
        }
    }

    #[test]
    fn rfc6376_3_5_parse() {
        let s = DkimSignature::parse(RFC6376_A2.as_bytes()).unwrap();
        assert_eq!(s.algorithm, Algorithm::RsaSha256);
        assert_eq!(s.domain, "example.com");
        assert_eq!(s.selector, "brisbane");
        assert_eq!(s.signed_headers.len(), 6);
        assert_eq!(s.auid(), "joe@football.example.com");
        assert_eq!(s.signature.len(), 128);
        assert_eq!(short_b(&s.signature), "AuUoFEfD");
    }

    /// RFC 6376 §3.5: i= is dkim-quoted-printable (§2.11). Mail::DKIM's corpus signs
    /// `i=jlong@messiah=2Eedu` and `i=jlong=40messiah.edu`; read raw, both were
    /// permerror "i= is not in the domain d=". Written back, `=` and `;` are encoded.
    #[test]
    fn rfc6376_3_5_i_is_dkim_quoted_printable() {
        for (i, want) in [
            ("jlong@messiah=2Eedu", "jlong@messiah.edu"),
            ("jlong=40messiah.edu", "jlong@messiah.edu"),
            ("=6Along@messiah.edu", "jlong@messiah.edu"),
            ("jlong@ messiah.edu", "jlong@messiah.edu"),
        ] {
            let field =
                format!("v=1; a=rsa-sha256; d=messiah.edu; i={i}; s=s1; h=from; bh=AAAA; b=AAAA");
            let sig = DkimSignature::parse(field.as_bytes()).unwrap();
            assert_eq!(sig.identity.as_deref(), Some(want), "{i}");
        }
        let mut sig = DkimSignature::parse(
            b"v=1; a=rsa-sha256; d=example.com; i=a=3Db=3Bc@example.com; s=s1; h=from; bh=AAAA; b=AAAA",
        )
        .unwrap();
        assert_eq!(sig.identity.as_deref(), Some("a=b;c@example.com"));
        let text = sig.format_unsigned();
        assert!(text.contains("i=a=3Db=3Bc@example.com;"), "{text}");
        sig = DkimSignature::parse(text.as_bytes()).unwrap();
        assert_eq!(sig.identity.as_deref(), Some("a=b;c@example.com"));
    }

    #[test]
    fn rfc6376_3_5_errors() {
        let base = "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA";
        assert!(DkimSignature::parse(base.as_bytes()).is_ok());
        let cases = [
            (
                "v=2; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::Version("2".into()),
            ),
            (
                "v=1; a=rsa-md5; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::Algorithm("rsa-md5".into()),
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; s=s1; h=to; bh=AAAA; b=AAAA",
                SignatureError::FromNotSigned,
            ),
            (
                "v=1; a=rsa-sha256; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::Missing("d"),
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=A!AA",
                SignatureError::Base64("b"),
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; i=@evil.com; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::IdentityOutsideDomain,
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; i=@badexample.com; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::IdentityOutsideDomain,
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; i=@evil=2Ecom; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::IdentityOutsideDomain,
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; i=a=ZZ@example.com; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::QuotedPrintable("i"),
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA; t=10; x=5",
                SignatureError::ExpiresBeforeSigned,
            ),
            (
                "v=1; a=rsa-sha256; d=exa\"mple.com; s=s1; h=from; bh=AAAA; b=AAAA",
                SignatureError::Name("d"),
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; s=s1\u{0}x; h=from; bh=AAAA; b=AAAA",
                SignatureError::TagList(TagListError::BadValue("s".into())),
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA; c=fancy",
                SignatureError::Canonicalization("fancy".into()),
            ),
            (
                "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA; l=-1",
                SignatureError::Number("l"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(DkimSignature::parse(text.as_bytes()), Err(want), "{text}");
        }
    }

    /// `strip_b_value` as first written (spec by spec, each one copied): what the
    /// one-copy version must give.
    fn strip_b_reference(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(value.len());
        let mut pos = 0;
        while pos <= value.len() {
            let end = value[pos..]
                .iter()
                .position(|&c| c == b';')
                .map_or(value.len(), |i| pos + i);
            let spec = &value[pos..end];
            let eq = spec.iter().position(|&c| c == b'=');
            let is_b = eq.is_some_and(|eq| {
                spec[..eq]
                    .iter()
                    .filter(|c| !c.is_ascii_whitespace())
                    .eq(b"b".iter())
            });
            match (is_b, eq) {
                (true, Some(eq)) => out.extend_from_slice(&spec[..=eq]),
                _ => out.extend_from_slice(spec),
            }
            if end < value.len() {
                out.push(b';');
            }
            pos = end + 1;
        }
        out
    }

    #[test]
    fn strip_b_matches_the_reference() {
        let pieces: [&[u8]; 12] = [
            b"b", b"=", b";", b" ", b"\r\n\t", b"bh", b"x", b"abc/+=", b"B", b" b ", b"=;", b"b=",
        ];
        let mut random = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5000 {
            let mut value = Vec::new();
            for _ in 0..(random() % 12) {
                value.extend_from_slice(pieces[(random() % pieces.len() as u64) as usize]);
            }
            assert_eq!(
                strip_b_value(&value),
                strip_b_reference(&value),
                "{value:?}"
            );
        }
    }

    #[test]
    fn strip_b_keeps_everything_else() {
        let stripped = strip_b_value(RFC6376_A2.as_bytes());
        let s = String::from_utf8(stripped).unwrap();
        assert!(s.ends_with("\r\n      b=;"), "{s}");
        assert!(s.contains("bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"));
        assert_eq!(strip_b_value(b"a=1; b = xyz"), b"a=1; b =");
        assert_eq!(strip_b_value(b"b=xyz; bh=abc"), b"b=; bh=abc");
        // Nothing to remove: no copy.
        for empty in [&b"a=1; b="[..], b"b=; bh=abc", b"a=1; b =", b"bh=abc", b""] {
            assert!(
                matches!(strip_b(empty), std::borrow::Cow::Borrowed(_)),
                "{empty:?}"
            );
        }
        assert_eq!(&*strip_b(b"b=; b=x"), b"b=; b=");
    }

    /// §3.5 `h=`: names as written, in order, duplicates kept (oversigning), empty
    /// names between colons passed over; the same list however it was built.
    #[test]
    fn rfc6376_3_5_signed_header_list() {
        let parse = |h: &str| {
            let v = format!("v=1; a=rsa-sha256; d=example.com; s=s; bh=AAAA; b=AAAA; h={h}");
            DkimSignature::parse(v.as_bytes()).map(|s| s.signed_headers)
        };
        let list = parse("From : To:\r\n\tSubject:from").unwrap();
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            ["From", "To", "Subject", "from"]
        );
        assert_eq!((list.len(), list.as_str()), (4, "From:To:Subject:from"));
        assert!(list.contains("FROM") && list.contains("subject") && !list.contains("cc"));
        assert_eq!(list.iter().next_back(), Some("from"));
        for messy in [
            ":From::To:Subject:from:",
            "From:To::Subject:from",
            "::From:To:Subject:from",
        ] {
            let other = parse(messy).unwrap();
            assert_eq!(other, list, "{messy}");
            assert_eq!(other.to_string(), "From:To:Subject:from");
        }
        assert_eq!(SignedHeaders::new(["From", "", "To:Subject", "from"]), list);
        assert_eq!(list.iter().collect::<SignedHeaders>(), list);
        assert_eq!(parse(":from"), parse("from"));
        // No name at all: an empty list, which a DKIM signature may not have (From).
        assert!(SignedHeaders::new([""; 3]).is_empty());
        assert_eq!(SignedHeaders::new([":"]).iter().count(), 0);
        assert_eq!(parse(":::"), Err(SignatureError::FromNotSigned));
        // The limit counts names, not colons.
        let at = vec!["x"; MAX_SIGNED_FIELDS - 1].join("::") + "::from";
        assert_eq!(parse(&at).unwrap().len(), MAX_SIGNED_FIELDS);
        let over = at + ":y";
        assert_eq!(parse(&over), Err(SignatureError::TooManySignedFields));
    }

    #[test]
    fn format_round_trip() {
        let mut s = DkimSignature::parse(RFC6376_A2.as_bytes()).unwrap();
        s.signed_headers = [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Content-Type",
            "MIME-Version",
            "Reply-To",
            "Cc",
            "From",
            "To",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        s.timestamp = Some(1_700_000_000);
        s.expiration = Some(1_700_086_400);
        let value = append_b(&s.format_unsigned(), &s.signature);
        for line in value.split("\r\n") {
            assert!(line.len() <= 80, "{line:?}");
        }
        assert_eq!(DkimSignature::parse(value.as_bytes()).unwrap(), s);
    }

    /// §3.2, §3.5: white space inside a d=, s= or i= value is part of it, so a long one
    /// is never folded inside (a trial's 116-character d= and 83-character i= were cut
    /// with CRLF TAB: other verifiers looked up a name with a line break in it, or
    /// found i= outside d=). h= folds only at its colons, b= and bh= anywhere.
    #[test]
    fn long_values_fold_only_where_the_grammar_allows_white_space() {
        let mut s = DkimSignature::parse(RFC6376_A2.as_bytes()).unwrap();
        s.domain = format!("{}.{}.example.com", "d".repeat(63), "e".repeat(40));
        s.selector = format!("sel{}", "s".repeat(60));
        s.identity = Some(format!("{}@{}", "u".repeat(30), s.domain));
        let names: Vec<String> = (0..30).map(|i| format!("X-Header-Name-{i}")).collect();
        s.signed_headers = std::iter::once("From".to_owned()).chain(names).collect();
        s.signature = vec![7; 256];
        let value = append_b(&s.format_unsigned(), &s.signature);
        let tags: Vec<&str> = value.split(';').map(str::trim).collect();
        for name in ["d=", "s=", "i="] {
            let tag = tags.iter().find(|t| t.starts_with(name)).unwrap();
            assert!(!tag.contains(['\r', '\n', '\t', ' ']), "{tag:?} in {value}");
        }
        let h = tags.iter().find(|t| t.starts_with("h=")).unwrap();
        for line in h.split("\r\n\t").take_while(|l| !l.is_empty()) {
            assert!(line.ends_with(':') || h.ends_with(line), "{line:?} in {h}");
        }
        assert_eq!(DkimSignature::parse(value.as_bytes()).unwrap(), s);
    }
}
