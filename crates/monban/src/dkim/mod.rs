//! DomainKeys Identified Mail: RFC 6376, with RFC 8301 (crypto updates) and RFC 8463
//! (Ed25519).
//!
//! - [`tags`]: tag=value lists (§3.2);
//! - [`signature`]: the `DKIM-Signature` field (§3.5);
//! - [`key`]: key records (§3.6.1);
//! - [`canonicalization`]: simple and relaxed (§3.4);
//! - [`body`]: streaming, shared body hashes (§3.7);
//! - [`crypto`]: keys, signing and verification on aws-lc-rs;
//! - [`verify`]: the staged verifier (§6);
//! - [`sign`]: the staged signer (§5).

pub mod body;
pub mod canonicalization;
pub mod crypto;
pub mod key;
pub mod sign;
pub mod signature;
pub mod tags;
pub mod verify;

use std::fmt;

pub use canonicalization::Canonicalization;
pub use crypto::SigningKey;
pub use key::KeyRecord;
pub use sign::{DkimSigner, SignError, SignerConfig};
pub use signature::{Algorithm, DkimSignature, FieldNames, SignedHeaders};
pub use verify::{DkimConfig, DkimVerifier};

/// A DKIM result, named as RFC 8601 §2.7.1 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DkimResult {
    /// The message was not signed.
    None,
    /// The signature verified.
    Pass,
    /// The signature did not verify (body hash, signature, expiry).
    Fail,
    /// Signed, but not processable for a reason not covered elsewhere.
    Neutral,
    /// Signed, but something about the signature is not acceptable here (rsa-sha1, a
    /// short key, unsigned appended content).
    Policy,
    /// A transient error (DNS).
    Temperror,
    /// A permanent error (malformed signature or key, no key).
    Permerror,
}

impl DkimResult {
    /// The RFC 8601 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Neutral => "neutral",
            Self::Policy => "policy",
            Self::Temperror => "temperror",
            Self::Permerror => "permerror",
        }
    }
}

impl fmt::Display for DkimResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a signature got its result (RFC 6376 §6.1, RFC 8301), or what qualifies a pass:
/// typed, so that reports and the milter can act on it; [`fmt::Display`] gives the
/// text written into `Authentication-Results` comments and the JSON `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DkimReason {
    /// Beyond the configured number of signatures: not evaluated (`neutral`).
    NotEvaluated {
        /// The configured maximum.
        max: usize,
    },
    /// The signature field does not parse (§6.1.1).
    BadSignature(signature::SignatureError),
    /// `rsa-sha1`, which RFC 8301 §3.1 forbids (`policy`).
    Sha1Refused,
    /// `x=` is in the past (§3.5).
    Expired {
        /// The expiry time.
        x: u64,
    },
    /// `t=` is in the future beyond the allowed clock skew (§3.5).
    FutureTimestamp {
        /// The signing time.
        t: u64,
    },
    /// The key could not be had (§6.1.2).
    Key(key::KeyFetchError),
    /// The key is revoked: empty `p=` (§3.6.1).
    Revoked {
        /// The key's name.
        name: String,
    },
    /// The key's `s=` does not include email (§3.6.1).
    KeyNotForEmail,
    /// The key's `h=` does not allow the signature's hash (§3.6.1).
    HashNotAllowed {
        /// The hash.
        hash: &'static str,
    },
    /// The key type does not match `a=` (§3.6.1).
    KeyTypeMismatch {
        /// The key's `k=`.
        key: String,
        /// The signature's `a=`.
        algorithm: String,
    },
    /// The key has `t=s` but `i=` is a subdomain of `d=` (§3.6.1).
    StrictIdentity,
    /// The body hash does not match `bh=` (§6.1.3).
    BodyHashMismatch,
    /// The body is shorter than `l=` (§3.5).
    BodyShorterThanL {
        /// `l=`.
        l: u64,
    },
    /// The signature does not verify with the key (§6.1.3).
    SignatureMismatch,
    /// The key is refused by size (RFC 8301 §3.2: `policy`) or cannot be used.
    Crypto(crypto::VerifyError),
    /// `l=` leaves body content unsigned and that is not allowed (§8.2: `policy`).
    UnsignedBody {
        /// `l=`.
        l: u64,
        /// How many bytes of the body are not signed.
        unsigned: u64,
    },
    /// A pass with `l=` leaving content unsigned, allowed by configuration.
    UnsignedBodyAllowed {
        /// `l=`.
        l: u64,
        /// How many bytes of the body are not signed.
        unsigned: u64,
    },
    /// A pass of a legacy `rsa-sha1` signature, allowed by configuration.
    Sha1Accepted,
    /// A pass with a key in testing mode (`t=y`).
    Testing,
}

impl fmt::Display for DkimReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEvaluated { max } => write!(f, "not evaluated: more than {max} signatures"),
            Self::BadSignature(e) => write!(f, "bad signature: {e}"),
            Self::Sha1Refused => {
                f.write_str("rsa-sha1 signatures are not accepted (RFC 8301 section 3.1)")
            }
            Self::Expired { x } => write!(f, "signature expired at {x} (x=)"),
            Self::FutureTimestamp { t } => write!(f, "signature timestamp t={t} is in the future"),
            Self::Key(e) => write!(f, "{e}"),
            Self::Revoked { name } => write!(f, "key at {name} is revoked (empty p=)"),
            Self::KeyNotForEmail => f.write_str("key is not for email (s=)"),
            Self::HashNotAllowed { hash } => write!(f, "key does not allow {hash} (h=)"),
            Self::KeyTypeMismatch { key, algorithm } => {
                write!(f, "key type k={key} does not match a={algorithm}")
            }
            Self::StrictIdentity => f.write_str("key has t=s but i= is a subdomain of d="),
            Self::BodyHashMismatch => f.write_str("body hash did not verify"),
            Self::BodyShorterThanL { l } => write!(f, "the body is shorter than l={l}"),
            Self::SignatureMismatch => f.write_str("signature did not verify"),
            Self::Crypto(e) => write!(f, "{e}"),
            Self::UnsignedBody { l, unsigned } => write!(
                f,
                "l={l} leaves {unsigned} bytes of the body unsigned (content may have been appended)"
            ),
            Self::UnsignedBodyAllowed { l, unsigned } => {
                write!(f, "l={l}: {unsigned} bytes of the body are unsigned")
            }
            Self::Sha1Accepted => {
                f.write_str("legacy rsa-sha1 signature accepted by configuration")
            }
            Self::Testing => f.write_str("the key is in testing mode (t=y)"),
        }
    }
}

/// The outcome for one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimOutcome {
    /// The result.
    pub result: DkimResult,
    /// Why, when not a plain pass.
    pub reason: Option<DkimReason>,
    /// `d=` (empty when the signature did not parse).
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `a=`.
    pub algorithm: String,
    /// The AUID (`i=`, or `@d`).
    pub identity: String,
    /// The first 8 characters of `b=` (RFC 6008 `header.b`).
    pub header_b: String,
    /// The key size in bits, when the key was used.
    pub key_bits: Option<usize>,
    /// The key says the domain is testing DKIM (`t=y`).
    pub testing: bool,
}

impl DkimOutcome {
    /// The reason as text (the `Authentication-Results` comment, the JSON `reason`).
    pub fn reason_text(&self) -> Option<String> {
        self.reason.as_ref().map(ToString::to_string)
    }

    fn from_signature(
        sig: &DkimSignature,
        header_b: &str,
        result: DkimResult,
        reason: Option<DkimReason>,
    ) -> Self {
        Self {
            result,
            reason,
            domain: sig.domain.clone(),
            selector: sig.selector.clone(),
            algorithm: sig.algorithm.as_str().to_owned(),
            identity: sig.auid(),
            header_b: header_b.to_owned(),
            key_bits: None,
            testing: false,
        }
    }

    /// An outcome for a signature that could not be parsed: whatever `d=`, `s=`, `a=`
    /// can be read is kept for the report.
    fn unparsed(result: DkimResult, reason: DkimReason, value: &[u8]) -> Self {
        let text = String::from_utf8_lossy(value);
        let tag = |name: &str| -> String {
            text.split(';')
                .filter_map(|spec| spec.split_once('='))
                .find(|(n, _)| n.trim() == name)
                .map(|(_, v)| tags::strip_wsp(v))
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(255)
                .collect()
        };
        let domain = tag("d").to_ascii_lowercase();
        let identity = match tag("i") {
            i if i.is_empty() && !domain.is_empty() => format!("@{domain}"),
            i => match tags::qp_decode(&i) {
                Some(decoded) if decoded.chars().all(|c| c.is_ascii_graphic()) => {
                    decoded.into_owned()
                }
                _ => i,
            },
        };
        let mut header_b = tag("b");
        header_b.truncate(8);
        Self {
            result,
            reason: Some(reason),
            selector: tag("s").to_ascii_lowercase(),
            algorithm: tag("a").to_ascii_lowercase(),
            identity,
            domain,
            header_b,
            key_bits: None,
            testing: false,
        }
    }
}

/// Errors of the whole-message helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The header could not be split into fields.
    #[error(transparent)]
    Header(#[from] crate::message::HeaderError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] sign::SignError),
}

/// Splits a whole message (any line endings; bare LF becomes CRLF) into its header and
/// canonical-form body, through the same streaming path that large inputs take.
pub fn split_message(message: &[u8]) -> Result<(crate::message::Headers, Vec<u8>), MessageError> {
    use crate::message::{CrlfNormalizer, MessageSplitter, Split};
    let mut normalized = Vec::new();
    CrlfNormalizer::new().normalize(message, &mut normalized);
    let mut splitter = MessageSplitter::new();
    match splitter.push(&normalized)? {
        Split::HeaderDone(h, body) => Ok((h, body.to_vec())),
        _ => Ok((splitter.finish()?.unwrap_or_default(), Vec::new())),
    }
}

/// Verifies every signature of a whole message held in memory. For streams, drive a
/// [`DkimVerifier`] directly.
pub async fn verify_message<R: monban_dns::Resolver>(
    message: &[u8],
    resolver: &R,
    now: u64,
    config: DkimConfig,
) -> Result<Vec<DkimOutcome>, MessageError> {
    let (headers, body) = split_message(message)?;
    let mut v = DkimVerifier::new(&headers, now, config);
    v.body(&body);
    Ok(v.finish(resolver).await)
}

/// Signs a whole message held in memory; returns the `DKIM-Signature` values in the
/// order of `configs`.
pub fn sign_message(
    message: &[u8],
    configs: Vec<SignerConfig>,
    now: u64,
) -> Result<Vec<String>, MessageError> {
    let (headers, body) = split_message(message)?;
    let mut s = DkimSigner::new(headers, configs, now)?;
    s.body(&body);
    Ok(s.finish()?)
}
