//! The `DKIM2-Signature` and `Message-Instance` fields (draft-ietf-dkim-dkim2-spec-02
//! §6, §7): tag lists, parsing, and the canonical forms that are hashed and signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::recipe::Recipe;
use crate::dkim::Algorithm;

/// The most DKIM2 fields of each kind judged on a message (a hop adds one of each at
/// most; the draft sets no limit). More is refused as `permerror`.
pub const MAX_FIELDS: usize = 50;

/// The longest nonce (`n=`, §7.3).
pub const MAX_NONCE: usize = 64;

/// The most tags one field may have (the draft defines ten).
pub const MAX_TAGS: usize = 64;

/// The most signatures one `s=` may hold (one per algorithm in use is the draft's
/// intent; each costs a key lookup and a verification).
pub const MAX_SETS: usize = 8;

/// White space as the draft's tag lists and canonicalization see it.
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c)
}

/// `value` with every white-space byte removed.
pub(crate) fn squeeze(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| !is_ws(b)).collect()
}

/// Why a DKIM2 field does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A tag appears twice (names compared without case, §7: "only one of each kind").
    #[error("tag {0}= appears more than once")]
    Duplicate(String),
    /// A required tag is missing.
    #[error("required tag {0}= is missing")]
    Missing(&'static str),
    /// A tag value is malformed.
    #[error("tag {0}= is malformed: {1}")]
    Bad(&'static str, &'static str),
    /// More than [`MAX_TAGS`] tags, or more than [`MAX_SETS`] signatures in `s=`.
    #[error("too many tags or signatures in the field")]
    TooMany,
    /// The nonce is longer than [`MAX_NONCE`] (§7.3).
    #[error("the nonce n= is longer than {MAX_NONCE} characters")]
    NonceTooLong,
    /// The recipe does not parse.
    #[error("the recipe r= is malformed: {0}")]
    Recipe(String),
}

/// Parses a tag list: `;`-separated `name=value` items, names without case, all white
/// space removed from values; items without `=` and names that are not letters are
/// passed over; a name twice is an error.
pub(crate) fn tags(value: &[u8]) -> Result<Vec<(String, Vec<u8>)>, FieldError> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in value.split(|&b| b == b';') {
        let Some(eq) = item.iter().position(|&b| b == b'=') else {
            continue;
        };
        let name: String = squeeze(&item[..eq])
            .iter()
            .map(|b| b.to_ascii_lowercase() as char)
            .collect();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase()) {
            continue;
        }
        if !seen.insert(name.clone()) {
            return Err(FieldError::Duplicate(name));
        }
        if out.len() >= MAX_TAGS {
            return Err(FieldError::TooMany);
        }
        out.push((name, squeeze(&item[eq + 1..])));
    }
    Ok(out)
}

fn number(v: &[u8]) -> u64 {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn b64(tag: &'static str, v: &[u8]) -> Result<Vec<u8>, FieldError> {
    B64.decode(v)
        .map_err(|_| FieldError::Bad(tag, "not base64"))
}

fn b64_text(tag: &'static str, v: &[u8]) -> Result<String, FieldError> {
    String::from_utf8(b64(tag, v)?).map_err(|_| FieldError::Bad(tag, "not UTF-8 text"))
}

/// One signature of an `s=` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSet {
    /// The selector.
    pub selector: String,
    /// The algorithm (`rsa-sha256` or `ed25519-sha256`).
    pub algorithm: Algorithm,
    /// The signature.
    pub signature: Vec<u8>,
}

/// A parsed `DKIM2-Signature` (§7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dkim2Signature {
    /// `i=`: the hop's sequence number (0 when not a number).
    pub instance: u64,
    /// `m=`: the highest Message-Instance it covers.
    pub message_instance: u64,
    /// `t=`.
    pub timestamp: u64,
    /// `d=`, lowercase.
    pub domain: String,
    /// `mf=`, decoded (`<a@b>`, `<>`).
    pub mail_from: String,
    /// `rt=`, decoded.
    pub rcpt_to: Vec<String>,
    /// `s=`: the sets with a known algorithm (unknown ones are passed over).
    pub signatures: Vec<SignatureSet>,
    /// `n=`.
    pub nonce: Option<String>,
    /// `f=`.
    pub flags: Vec<String>,
    /// `nd=` (draft -03): the next hop's domain.
    pub next_domain: Option<String>,
    /// The raw value, for the signed form.
    pub raw: Vec<u8>,
}

impl Dkim2Signature {
    /// Parses a field value.
    pub fn parse(value: &[u8]) -> Result<Self, FieldError> {
        let list = tags(value)?;
        let get = |n: &str| list.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_slice());
        let t = get("t").ok_or(FieldError::Missing("t"))?;
        let s = get("s").ok_or(FieldError::Missing("s"))?;
        if s.is_empty() {
            return Err(FieldError::Bad("s", "no signature"));
        }
        let mut signatures = Vec::new();
        for (k, set) in s.split(|&b| b == b',').enumerate() {
            if k >= MAX_SETS {
                return Err(FieldError::TooMany);
            }
            let mut parts = set.splitn(3, |&b| b == b':');
            let (Some(sel), Some(alg), Some(sig)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(FieldError::Bad(
                    "s",
                    "a set is not selector:algorithm:signature",
                ));
            };
            let alg = String::from_utf8_lossy(alg).to_ascii_lowercase();
            let algorithm = match alg.as_str() {
                "rsa-sha256" => Algorithm::RsaSha256,
                "ed25519-sha256" => Algorithm::Ed25519Sha256,
                // An algorithm from the future is passed over (§7.8).
                _ => continue,
            };
            signatures.push(SignatureSet {
                selector: String::from_utf8_lossy(sel).to_ascii_lowercase(),
                algorithm,
                signature: b64("s", sig)?,
            });
        }
        let nonce = match get("n") {
            Some(n) if n.len() > MAX_NONCE => return Err(FieldError::NonceTooLong),
            Some(n) => Some(String::from_utf8_lossy(n).into_owned()),
            None => None,
        };
        let rcpt_to = match get("rt") {
            Some(v) if !v.is_empty() => v
                .split(|&b| b == b',')
                .filter(|p| !p.is_empty())
                .map(|p| b64_text("rt", p))
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        Ok(Self {
            instance: number(get("i").unwrap_or_default()),
            message_instance: number(get("m").unwrap_or_default()),
            timestamp: number(t),
            domain: String::from_utf8_lossy(get("d").unwrap_or_default()).to_ascii_lowercase(),
            mail_from: get("mf")
                .map(|v| b64_text("mf", v))
                .transpose()?
                .unwrap_or_default(),
            rcpt_to,
            signatures,
            nonce,
            flags: get("f")
                .map(|f| {
                    f.split(|&b| b == b',')
                        .filter(|x| !x.is_empty())
                        .map(|x| String::from_utf8_lossy(x).to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default(),
            next_domain: get("nd").map(|v| String::from_utf8_lossy(v).to_ascii_lowercase()),
            raw: value.to_vec(),
        })
    }
}

/// A parsed `Message-Instance` (§6).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageInstance {
    /// `m=`.
    pub number: u64,
    /// The SHA-256 header and body hashes of `h=`, when it has a `sha256` set.
    pub sha256: Option<([u8; 32], [u8; 32])>,
    /// `r=`: how to rebuild the previous instance.
    pub recipe: Option<Recipe>,
    /// The raw value, for the signed form.
    pub raw: Vec<u8>,
}

impl MessageInstance {
    /// Parses a field value.
    pub fn parse(value: &[u8]) -> Result<Self, FieldError> {
        let list = tags(value)?;
        let get = |n: &str| list.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_slice());
        let mut sha256 = None;
        if let Some(h) = get("h") {
            for set in h.split(|&b| b == b',') {
                let mut parts = set.splitn(3, |&b| b == b':');
                let (Some(name), Some(hh), Some(bh)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(FieldError::Bad("h", "a set is not hash:header:body"));
                };
                let (hh, bh) = (b64("h", hh)?, b64("h", bh)?);
                if name.eq_ignore_ascii_case(b"sha256") && sha256.is_none() {
                    let (Ok(hh), Ok(bh)) = (hh.try_into(), bh.try_into()) else {
                        return Err(FieldError::Bad("h", "a SHA-256 hash is not 32 bytes"));
                    };
                    sha256 = Some((hh, bh));
                }
            }
        }
        let recipe = match get("r") {
            Some(r) => {
                let json = b64("r", r)?;
                Some(Recipe::parse(&json).map_err(FieldError::Recipe)?)
            }
            None => None,
        };
        Ok(Self {
            number: number(get("m").unwrap_or_default()),
            sha256,
            recipe,
            raw: value.to_vec(),
        })
    }
}

/// Appends a field in the signed form (§5): the name lowercase and without white
/// space, `:`, the value with every white-space byte removed, CRLF.
pub(crate) fn signed_form(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend(
        name.iter()
            .filter(|&&b| !is_ws(b))
            .map(u8::to_ascii_lowercase),
    );
    out.push(b':');
    out.extend(value.iter().filter(|&&b| !is_ws(b)));
    out.extend_from_slice(b"\r\n");
}

/// A signature's own value as it is signed: white space removed and the signature of
/// every `s=` set emptied (`sel:alg:`), everything else as written (tag order and case).
pub(crate) fn blank_signatures(value: &[u8]) -> Vec<u8> {
    let squeezed = squeeze(value);
    let items: Vec<Vec<u8>> = squeezed
        .split(|&b| b == b';')
        .map(|item| {
            let Some(eq) = item.iter().position(|&b| b == b'=') else {
                return item.to_vec();
            };
            if !item[..eq].eq_ignore_ascii_case(b"s") {
                return item.to_vec();
            }
            let mut out = item[..=eq].to_vec();
            for (k, set) in item[eq + 1..].split(|&b| b == b',').enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                let colons: Vec<usize> = set
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b':')
                    .map(|(i, _)| i)
                    .take(2)
                    .collect();
                match colons.as_slice() {
                    [_, second] => out.extend_from_slice(&set[..=*second]),
                    _ => out.extend_from_slice(set),
                }
            }
            out
        })
        .collect();
    items.join(&b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_without_case_and_white_space() {
        let t = tags(b" I=1; Mf = PD4= ;x-1=ignored; n=; s=a:b:c ").unwrap();
        let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["i", "mf", "n", "s"]);
        assert_eq!(t[1].1, b"PD4=");
        assert_eq!(tags(b"d=a; D=b"), Err(FieldError::Duplicate("d".into())));
    }

    #[test]
    fn blanking_keeps_everything_but_the_signatures() {
        assert_eq!(
            blank_signatures(b"S=a:rsa-sha256:AAAA, b:x:YY ; n=s=a:b:c; i=1;"),
            b"S=a:rsa-sha256:,b:x:;n=s=a:b:c;i=1;"
        );
    }
}
