//! The `ARC-Seal` (RFC 8617 §4.1.3) and `ARC-Authentication-Results` (§4.1.1) fields:
//! parse and format. The `ARC-Message-Signature` is a DKIM signature with the
//! differences of §4.1.2 ([`crate::dkim::DkimSignature::parse_arc_message`]).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::dkim::signature::{Algorithm, arc_instance, is_dns_name};
use crate::dkim::tags;

/// The chain validation status a sealer recorded (`cv=`, §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainValidation {
    /// `none`: the first set.
    None,
    /// `pass`.
    Pass,
    /// `fail`.
    Fail,
}

impl ChainValidation {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Fail => "fail",
        }
    }

    /// Parses a `cv=` value. The values are case-insensitive tokens (RFC 8617 §4.1.3
    /// `chain-status`, ABNF strings).
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "pass" => Some(Self::Pass),
            "fail" => Some(Self::Fail),
            _ => None,
        }
    }
}

impl fmt::Display for ChainValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `ARC-Seal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSeal {
    /// `i=`.
    pub instance: u32,
    /// `a=`.
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// `cv=`.
    pub cv: ChainValidation,
    /// `d=`, lowercase.
    pub domain: String,
    /// `s=`, lowercase.
    pub selector: String,
    /// `t=`.
    pub timestamp: Option<u64>,
}

/// What is wrong with an ARC field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// Not text.
    #[error("the field is not text")]
    NotText,
    /// The tag-list does not parse.
    #[error(transparent)]
    TagList(#[from] tags::TagListError),
    /// A required tag is missing.
    #[error("required tag {0}= is missing")]
    Missing(&'static str),
    /// `i=` is not 1 to 50.
    #[error("i= is not an instance number from 1 to 50")]
    Instance,
    /// Unknown `a=`.
    #[error("unsupported algorithm a={0}")]
    Algorithm(String),
    /// Bad base64.
    #[error("b= is not valid base64")]
    Base64,
    /// Unknown `cv=`.
    #[error("cv= is not none, pass or fail")]
    Cv,
    /// `d=` or `s=` is not a name.
    #[error("{0}= is not a valid domain name or selector")]
    Name(&'static str),
    /// `t=` is not a number.
    #[error("t= is not a number")]
    Number,
    /// `h=` on an ARC-Seal (§4.1.3: "MUST NOT" be present; a seal with it fails).
    #[error("an ARC-Seal must not have h=")]
    HeaderList,
    /// The AAR does not start with `i=N;`.
    #[error("the value does not start with i=<instance>;")]
    AarInstance,
}

impl ArcSeal {
    /// Parses an `ARC-Seal` value (§4.1.3).
    pub fn parse(value: &[u8]) -> Result<Self, FieldError> {
        let text = std::str::from_utf8(value).map_err(|_| FieldError::NotText)?;
        let list = tags::parse_signature(text)?;
        let get = |name: &str| list.iter().find(|t| t.name == name).map(|t| t.value);
        if get("h").is_some() {
            return Err(FieldError::HeaderList);
        }
        let instance =
            arc_instance(get("i").ok_or(FieldError::Missing("i"))?).ok_or(FieldError::Instance)?;
        let a = get("a").ok_or(FieldError::Missing("a"))?;
        let algorithm =
            Algorithm::from_name(a).ok_or_else(|| FieldError::Algorithm(a.to_owned()))?;
        let b = tags::strip_wsp(get("b").ok_or(FieldError::Missing("b"))?);
        let signature = B64.decode(b.as_bytes()).map_err(|_| FieldError::Base64)?;
        let cv = ChainValidation::from_name(get("cv").ok_or(FieldError::Missing("cv"))?)
            .ok_or(FieldError::Cv)?;
        let domain = get("d")
            .ok_or(FieldError::Missing("d"))?
            .to_ascii_lowercase();
        if !is_dns_name(&domain) {
            return Err(FieldError::Name("d"));
        }
        let selector = get("s")
            .ok_or(FieldError::Missing("s"))?
            .to_ascii_lowercase();
        if !is_dns_name(&selector) {
            return Err(FieldError::Name("s"));
        }
        let timestamp = match get("t") {
            None => None,
            Some(t) if !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()) => {
                Some(t.parse::<u64>().unwrap_or(u64::MAX))
            }
            Some(_) => return Err(FieldError::Number),
        };
        Ok(Self {
            instance,
            algorithm,
            signature,
            cv,
            domain,
            selector,
            timestamp,
        })
    }
}

/// Reads the instance of a field value of any ARC field without judging the rest (to
/// group fields into sets before each is parsed): the `i=` tag of a tag-list, or the
/// leading `i=N;` of an AAR.
pub fn instance_of(value: &[u8], aar: bool) -> Option<u32> {
    if aar {
        return aar_instance(value).ok().map(|(i, _)| i);
    }
    let text = std::str::from_utf8(value).ok()?;
    text.split(';').find_map(|spec| {
        let (name, v) = spec.split_once('=')?;
        (name.trim_matches(|c: char| c.is_ascii_whitespace()) == "i")
            .then(|| arc_instance(v.trim_matches(|c: char| c.is_ascii_whitespace())))
            .flatten()
    })
}

/// Splits an AAR value into its instance and the `Authentication-Results` value that
/// follows (§4.1.1: `i=` instance `;` then the A-R payload).
pub fn aar_instance(value: &[u8]) -> Result<(u32, &[u8]), FieldError> {
    let wsp = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = value
        .iter()
        .position(|c| !wsp(c))
        .ok_or(FieldError::AarInstance)?;
    let rest = &value[start..];
    let rest = rest.strip_prefix(b"i").ok_or(FieldError::AarInstance)?;
    let skip = |s: &[u8]| -> usize { s.iter().take_while(|c| wsp(c)).count() };
    let rest = &rest[skip(rest)..];
    let rest = rest.strip_prefix(b"=").ok_or(FieldError::AarInstance)?;
    let rest = &rest[skip(rest)..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let number = std::str::from_utf8(&rest[..digits]).map_err(|_| FieldError::AarInstance)?;
    let instance = arc_instance(number).ok_or(FieldError::Instance)?;
    let rest = &rest[digits..];
    let rest = &rest[skip(rest)..];
    let rest = rest.strip_prefix(b";").ok_or(FieldError::AarInstance)?;
    Ok((instance, rest))
}

/// Splits an `Authentication-Results` value into its top-level `;`-separated parts
/// (outside comments and quoted strings), each with its white space collapsed to single
/// spaces and trimmed: the authserv-id part first, then each result as written
/// (comments kept). Linear in the input; comment nesting is bounded by the input.
pub fn split_results(value: &[u8]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for &c in value {
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match c {
            b'\\' if quoted || depth > 0 => {
                escaped = true;
                current.push(c);
            }
            b'"' if depth == 0 => {
                quoted = !quoted;
                current.push(c);
            }
            b'(' if !quoted => {
                depth += 1;
                current.push(c);
            }
            b')' if !quoted && depth > 0 => {
                depth -= 1;
                current.push(c);
            }
            b';' if !quoted && depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| {
            String::from_utf8_lossy(&p)
                .split_ascii_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Joins tag specs (`name=value`) with "; ", folding before a spec that would pass
/// column 78 (the field name counts). Under relaxed canonicalization, the only one ARC
/// seals use, such a fold reads as the single space it replaces, so the signed form is
/// the one-line form the ValiMail suite standardizes and signatures are reproducible.
/// Values are not folded inside (white space inside `b=` of an AMS would be signed by
/// the seal), except `h=` longer than a line, which is broken after colons, and a value
/// too long for the 998-octet line limit of RFC 5322 §2.1.1 (the `b=` of an RSA key
/// over 4096 bits), which is broken every 72 characters.
pub(crate) fn fold_specs(name_len: usize, specs: &[String]) -> String {
    const LONG: usize = 900;
    let mut out = String::new();
    let mut col = name_len + 1;
    for (n, spec) in specs.iter().enumerate() {
        let piece = if n + 1 == specs.len() {
            spec.clone()
        } else {
            format!("{spec};")
        };
        if n > 0 && col + 1 + piece.len() > 78 {
            out.push_str("\r\n\t");
            col = 1;
        } else {
            out.push(' ');
            col += 1;
        }
        if piece.starts_with("h=") && piece.len() > 76 {
            let mut first = true;
            for name in piece.split_inclusive(':') {
                if !first && col + name.len() > 78 {
                    out.push_str("\r\n\t");
                    col = 1;
                }
                out.push_str(name);
                col += name.len();
                first = false;
            }
        } else if piece.len() > LONG {
            // Tag values are ASCII here (base64, names, colons).
            for (i, chunk) in piece.as_bytes().chunks(72).enumerate() {
                if i > 0 {
                    out.push_str("\r\n\t");
                }
                out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            }
            col = 1 + piece.len() % 72;
        } else {
            out.push_str(&piece);
            col += piece.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8617_4_1_3_seal_parse() {
        let s =
            ArcSeal::parse(b" i=1; a=rsa-sha256; cv=none; d=Example.ORG; s=dummy; t=12345; b=AAAA")
                .unwrap();
        assert_eq!(s.instance, 1);
        assert_eq!(s.cv, ChainValidation::None);
        assert_eq!(s.domain, "example.org");
        assert_eq!(
            ArcSeal::parse(b"i=1; a=rsa-sha256; cv=none; d=e.org; s=x; h=from; b=AAAA"),
            Err(FieldError::HeaderList)
        );
        assert_eq!(
            ArcSeal::parse(b"i=0; a=rsa-sha256; cv=none; d=e.org; s=x; b=AAAA"),
            Err(FieldError::Instance)
        );
        assert_eq!(
            ArcSeal::parse(b"i=1; a=rsa-sha256; cv=maybe; d=e.org; s=x; b=AAAA"),
            Err(FieldError::Cv)
        );
    }

    #[test]
    fn rfc8617_4_1_1_aar_instance() {
        let (i, rest) = aar_instance(b" i = 2 ; lists.example.org; spf=pass").unwrap();
        assert_eq!(i, 2);
        assert_eq!(rest, b" lists.example.org; spf=pass");
        assert!(aar_instance(b"lists.example.org; i=1; spf=pass").is_err());
        assert!(aar_instance(b"i=1 lists.example.org").is_err());
        assert!(aar_instance(b"i=51; x").is_err());
        assert_eq!(instance_of(b"a=1; i=3; b=2", false), Some(3));
    }

    #[test]
    fn split_results_keeps_comments_and_quotes() {
        let parts = split_results(
            b" lists.example.org;\r\n  spf=pass smtp.mfrom=jqd@d1.example;\r\n dkim=pass (1024-bit; key) header.i=\"@d1;x\";  dmarc=pass   ",
        );
        assert_eq!(
            parts,
            vec![
                "lists.example.org",
                "spf=pass smtp.mfrom=jqd@d1.example",
                "dkim=pass (1024-bit; key) header.i=\"@d1;x\"",
                "dmarc=pass"
            ]
        );
    }

    #[test]
    fn folding_keeps_lines_short() {
        let specs: Vec<String> = vec![
            "a=rsa-sha256".into(),
            format!("b={}", "A".repeat(344)),
            "cv=none".into(),
            "d=example.org".into(),
            "i=1".into(),
            "s=dummy".into(),
            "t=12345".into(),
        ];
        let v = fold_specs(8, &specs);
        // b= stays whole on its line; every other line is short.
        for line in v.split("\r\n") {
            assert!(line.len() <= 78 || line.starts_with("\tb="), "{line:?}");
        }
        let huge = vec![format!("b={}", "A".repeat(1368)), "i=1".into()];
        for line in fold_specs(8, &huge).split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        let unfolded: String = v.split("\r\n\t").collect::<Vec<_>>().join(" ");
        assert!(unfolded.contains("cv=none; d=example.org"));
    }
}
