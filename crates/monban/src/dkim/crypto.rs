//! Keys and signatures for DKIM, on aws-lc-rs: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376
//! §3.3, RFC 8301) and Ed25519 over the SHA-256 of the header data (RFC 8463 §3).
//!
//! Private keys are read from PEM: PKCS#8 (`PRIVATE KEY`, RSA or Ed25519) or PKCS#1
//! (`RSA PRIVATE KEY`). Public keys in key records may be SubjectPublicKeyInfo or a bare
//! PKCS#1 `RSAPublicKey` (RFC 6376 §3.6.1 says SPKI; older signers publish PKCS#1).

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKey as RsaPublicKey};
use aws_lc_rs::signature::{
    self, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair, VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::key::{KeyRecord, KeyType};
use super::signature::Algorithm;

/// The smallest RSA key accepted when verifying (RFC 8301 §3.2) and when signing.
pub const MIN_RSA_BITS: usize = 1024;
/// The smallest RSA key monban generates or signs with by default (RFC 8301 §3.2:
/// "SHOULD use RSA keys of at least 2048 bits").
pub const MIN_RSA_SIGNING_BITS: usize = 2048;
/// The largest RSA key accepted when verifying.
pub const MAX_RSA_BITS: usize = 8192;

/// A key problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not PEM, or an unknown PEM label.
    #[error("not a PEM private key ({0})")]
    Pem(String),
    /// The key bytes were rejected.
    #[error("the key is not a valid {0} private key")]
    Rejected(&'static str),
    /// A key of an algorithm DKIM does not sign with (named from its PKCS#8 algorithm
    /// identifier or PEM label).
    #[error("{0}: DKIM signs with RSA (rsa-sha256) or Ed25519 (ed25519-sha256, RFC 8463) keys")]
    Unsupported(&'static str),
    /// An RSA key size monban will not sign with.
    #[error(
        "{0}-bit RSA keys are not used for signing: RFC 8301 section 3.2 asks for at least 2048 bits (and forbids less than 1024)"
    )]
    RsaSize(usize),
    /// An RSA key over [`MAX_RSA_BITS`]: monban's verifiers refuse such keys too, and
    /// the crypto library does not sign with them.
    #[error(
        "{0}-bit RSA keys are not used for signing: at most {MAX_RSA_BITS} bits (most verifiers take at most 4096, RFC 8301 section 3.1)"
    )]
    RsaTooLarge(usize),
    /// The crypto library failed.
    #[error("signing failed")]
    Sign,
}

/// A private key to sign with.
#[derive(Debug)]
pub enum SigningKey {
    /// RSA.
    Rsa(RsaKeyPair),
    /// Ed25519.
    Ed25519(Ed25519KeyPair),
}

fn pem_blocks(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError::Pem("no -----BEGIN line".into()))?;
    let rest = &text[begin + 11..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| KeyError::Pem("unterminated BEGIN line".into()))?;
    let label = rest[..label_end].to_owned();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let end = rest[body_start..]
        .find(&end_marker)
        .ok_or_else(|| KeyError::Pem(format!("no {end_marker} line")))?;
    let b64: String = rest[body_start..body_start + end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = B64
        .decode(b64.as_bytes())
        .map_err(|_| KeyError::Pem("the PEM body is not base64".into()))?;
    Ok((label, der))
}

/// Writes DER as PEM with the given label, 64 columns.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The key record (`k=` and `p=`) a PEM private key's public half makes, for a key
/// [`SigningKey::from_pem`] reads, and also for an RSA key too small to sign with (its
/// `RsaSize` error): checking whether a published record matches an old 1024-bit key
/// needs its public half, not a signature. With the key's size for such a key.
pub fn public_record_from_pem(text: &str) -> Result<(KeyRecord, Option<usize>), KeyError> {
    match SigningKey::from_pem(text) {
        Ok(k) => Ok((k.key_record()?, None)),
        Err(KeyError::RsaSize(bits)) => {
            let (label, der) = pem_blocks(text)?;
            let pkcs1 = match label.as_str() {
                "RSA PRIVATE KEY" => Some(der.as_slice()),
                _ => der::pkcs8_inner(&der),
            };
            let (modulus, exponent) = pkcs1
                .and_then(der::rsa_private_public_parts)
                .ok_or(KeyError::Rejected("RSA"))?;
            Ok((
                KeyRecord {
                    key_type: KeyType::Rsa,
                    hashes: Vec::new(),
                    public_key: der::rsa_spki(modulus, exponent),
                    services: Vec::new(),
                    flags: Vec::new(),
                    notes: None,
                    unknown: Vec::new(),
                },
                Some(bits),
            ))
        }
        Err(e) => Err(e),
    }
}

impl SigningKey {
    /// Reads a PEM private key: PKCS#8 RSA or Ed25519, or PKCS#1 RSA.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let (label, der) = pem_blocks(text)?;
        // aws-lc-rs rejects RSA keys under 2048 bits without saying why; read the
        // modulus size ourselves so the error can name RFC 8301.
        let size_error = |pkcs1: Option<&[u8]>| match pkcs1.and_then(der::rsa_private_modulus_bits)
        {
            Some(bits) if bits < MIN_RSA_SIGNING_BITS => KeyError::RsaSize(bits),
            Some(bits) if bits > MAX_RSA_BITS => KeyError::RsaTooLarge(bits),
            _ => KeyError::Rejected("RSA"),
        };
        let key = match label.as_str() {
            "RSA PRIVATE KEY" => {
                Self::Rsa(RsaKeyPair::from_der(&der).map_err(|_| size_error(Some(&der)))?)
            }
            "PRIVATE KEY" => match RsaKeyPair::from_pkcs8(&der) {
                Ok(k) => Self::Rsa(k),
                Err(_) => match Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der) {
                    Ok(k) => Self::Ed25519(k),
                    Err(_) => match (der::pkcs8_algorithm(&der), der::pkcs8_inner(&der)) {
                        (Some(Ok(other)), _) => return Err(KeyError::Unsupported(other)),
                        (Some(Err(der::Known::Ed25519)), _) => {
                            return Err(KeyError::Rejected("Ed25519"));
                        }
                        (_, Some(inner)) => return Err(size_error(Some(inner))),
                        (_, None) => return Err(KeyError::Rejected("PKCS#8 RSA or Ed25519")),
                    },
                },
            },
            "ENCRYPTED PRIVATE KEY" => {
                return Err(KeyError::Pem(
                    "the key is encrypted: decrypt it first (openssl pkcs8 -in KEY -out PLAIN.pem)"
                        .into(),
                ));
            }
            "EC PRIVATE KEY" => return Err(KeyError::Unsupported("an EC (ECDSA) key")),
            "DSA PRIVATE KEY" => return Err(KeyError::Unsupported("a DSA key")),
            "OPENSSH PRIVATE KEY" => {
                return Err(KeyError::Pem(
                    "an OpenSSH key file: DKIM keys are PEM (monban keygen makes one)".into(),
                ));
            }
            other => return Err(KeyError::Pem(format!("unsupported PEM label {other:?}"))),
        };
        if let Self::Rsa(k) = &key {
            let bits = k.public_modulus_len() * 8;
            if bits < MIN_RSA_BITS {
                return Err(KeyError::RsaSize(bits));
            }
        }
        Ok(key)
    }

    /// An Ed25519 key from its 32-byte seed (RFC 8032 §5.1.5).
    pub fn ed25519_from_seed(seed: &[u8]) -> Result<Self, KeyError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(Self::Ed25519)
            .map_err(|_| KeyError::Rejected("Ed25519 seed"))
    }

    /// Generates an RSA key of 2048, 3072 or 4096 bits.
    pub fn generate_rsa(bits: usize) -> Result<Self, KeyError> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            other => return Err(KeyError::RsaSize(other)),
        };
        RsaKeyPair::generate(size)
            .map(Self::Rsa)
            .map_err(|_| KeyError::Sign)
    }

    /// Generates an Ed25519 key.
    pub fn generate_ed25519() -> Result<Self, KeyError> {
        Ed25519KeyPair::generate()
            .map(Self::Ed25519)
            .map_err(|_| KeyError::Sign)
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der: Pkcs8V1Der<'static> = match self {
            Self::Rsa(k) => k.as_der().map_err(|_| KeyError::Sign)?,
            Self::Ed25519(k) => k.as_der().map_err(|_| KeyError::Sign)?,
        };
        Ok(to_pem("PRIVATE KEY", der.as_ref()))
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::RsaSha256,
            Self::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The key size in bits (256 for Ed25519).
    pub fn bits(&self) -> usize {
        match self {
            Self::Rsa(k) => k.public_modulus_len() * 8,
            Self::Ed25519(_) => 256,
        }
    }

    /// The key record to publish (RFC 6376 §3.6.1; RFC 8463 §4: `p=` is the raw
    /// 32-byte Ed25519 key; for RSA, SubjectPublicKeyInfo).
    pub fn key_record(&self) -> Result<KeyRecord, KeyError> {
        let (key_type, public_key) = match self {
            Self::Rsa(k) => {
                let der: PublicKeyX509Der<'static> =
                    k.public_key().as_der().map_err(|_| KeyError::Sign)?;
                (KeyType::Rsa, der.as_ref().to_vec())
            }
            Self::Ed25519(k) => (KeyType::Ed25519, k.public_key().as_ref().to_vec()),
        };
        Ok(KeyRecord {
            key_type,
            hashes: Vec::new(),
            public_key,
            services: Vec::new(),
            flags: Vec::new(),
            notes: None,
            unknown: Vec::new(),
        })
    }

    /// Signs the canonicalized header data (§3.7): RSA over the data with SHA-256;
    /// Ed25519 over the SHA-256 digest of the data (RFC 8463 §3).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    data,
                    &mut sig,
                )
                .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            Self::Ed25519(k) => {
                let hash = digest::digest(&digest::SHA256, data);
                Ok(k.sign(hash.as_ref()).as_ref().to_vec())
            }
        }
    }
}

/// The little DER reading needed to explain rejected keys (X.690 §8.1).
mod der {
    /// Reads one TLV at the start of `input`: (tag, contents, rest).
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// The modulus and public exponent of a PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2),
    /// as written (big-endian, leading zero octets kept).
    pub fn rsa_private_public_parts(pkcs1: &[u8]) -> Option<(&[u8], &[u8])> {
        let (0x30, seq, _) = tlv(pkcs1)? else {
            return None;
        };
        let (0x02, _version, rest) = tlv(seq)? else {
            return None;
        };
        let (0x02, modulus, rest) = tlv(rest)? else {
            return None;
        };
        let (0x02, exponent, _) = tlv(rest)? else {
            return None;
        };
        Some((modulus, exponent))
    }

    /// A DER element: `tag`, the definite length, `content`.
    fn element(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    /// The `SubjectPublicKeyInfo` (RFC 5280 §4.1, RFC 8017 A.1.1) of an RSA public key,
    /// the form a DKIM record's `p=` holds.
    pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
        const ALGORITHM: [u8; 15] = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let key = element(
            0x30,
            &[element(0x02, modulus), element(0x02, exponent)].concat(),
        );
        let bits = element(0x03, &[&[0u8][..], &key].concat());
        element(0x30, &[&ALGORITHM[..], &bits].concat())
    }

    /// The modulus size of a PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2).
    pub fn rsa_private_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
        let (modulus, _) = rsa_private_public_parts(pkcs1)?;
        let m: &[u8] = match modulus.iter().position(|&b| b != 0) {
            Some(i) => &modulus[i..],
            None => return None,
        };
        Some((m.len() - 1) * 8 + (8 - m[0].leading_zeros() as usize))
    }

    /// The algorithm identifier and the private key inside a PKCS#8 `PrivateKeyInfo`
    /// (RFC 5208 §5, RFC 5958 §2).
    fn pkcs8_parts(pkcs8: &[u8]) -> Option<(&[u8], &[u8])> {
        let (0x30, seq, _) = tlv(pkcs8)? else {
            return None;
        };
        let (0x02, _version, rest) = tlv(seq)? else {
            return None;
        };
        let (0x30, alg, rest) = tlv(rest)? else {
            return None;
        };
        let (0x04, key, _) = tlv(rest)? else {
            return None;
        };
        Some((alg, key))
    }

    /// The algorithm of a PKCS#8 key by its identifier: `Ok(name)` for one DKIM does
    /// not sign with, `Err(Known)` for the two it does; `None` when the structure does
    /// not parse.
    pub fn pkcs8_algorithm(pkcs8: &[u8]) -> Option<Result<&'static str, Known>> {
        let (0x06, oid, _) = tlv(pkcs8_parts(pkcs8)?.0)? else {
            return None;
        };
        Some(match oid {
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => Err(Known::Rsa),
            [0x2b, 0x65, 0x70] => Err(Known::Ed25519),
            [0x2b, 0x65, 0x71] => Ok("an Ed448 key"),
            [0x2b, 0x65, 0x6e] => Ok("an X25519 key (for key agreement, not signing)"),
            [0x2b, 0x65, 0x6f] => Ok("an X448 key (for key agreement, not signing)"),
            [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => Ok("an EC (ECDSA) key"),
            [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01] => Ok("a DSA key"),
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a] => Ok("an RSA-PSS key"),
            _ => Ok("a key of an algorithm monban does not know"),
        })
    }

    /// The algorithms of [`pkcs8_algorithm`] DKIM signs with.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Known {
        /// `rsaEncryption`.
        Rsa,
        /// `id-Ed25519`.
        Ed25519,
    }

    /// The private key inside a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5).
    pub fn pkcs8_inner(pkcs8: &[u8]) -> Option<&[u8]> {
        Some(pkcs8_parts(pkcs8)?.1)
    }
}

impl crate::crypto::Signer for SigningKey {
    fn algorithm(&self) -> Algorithm {
        SigningKey::algorithm(self)
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        SigningKey::sign(self, data)
    }

    fn bits(&self) -> Option<usize> {
        Some(SigningKey::bits(self))
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The key's type does not match the algorithm.
    #[error("the key type does not match the signature algorithm")]
    KeyTypeMismatch,
    /// The public key does not parse.
    #[error("the public key is malformed")]
    BadKey,
    /// The RSA key is below [`MIN_RSA_BITS`] (RFC 8301 §3.2) or above [`MAX_RSA_BITS`].
    #[error("{0}-bit RSA key: RFC 8301 requires 1024 to 4096 bits (monban accepts up to 8192)")]
    KeySize(usize),
    /// The signature is wrong.
    #[error("the signature does not verify")]
    Mismatch,
}

/// Whether two public keys of a type are the same key, whatever their encoding (an RSA
/// key in SPKI or in PKCS#1 DER; Ed25519 keys as their 32 bytes). For checking that a
/// published record belongs to a private key.
pub fn same_public_key(key_type: KeyType, a: &[u8], b: &[u8]) -> bool {
    match key_type {
        KeyType::Rsa => match (RsaPublicKey::from_der(a), RsaPublicKey::from_der(b)) {
            (Ok(a), Ok(b)) => a.as_ref() == b.as_ref(),
            _ => false,
        },
        _ => a == b,
    }
}

/// Whether a published public key (`p=` decoded) is a key of its type as verifiers
/// read it: an RSA key in DER (SubjectPublicKeyInfo or PKCS#1, RFC 6376 §3.6.1), an
/// Ed25519 key as its 32 bytes (RFC 8463 §4). Its size in bits, or [`VerifyError::BadKey`].
/// [`verify`] refuses the same keys; the checker judges keys by it.
pub fn public_key_bits(key_type: KeyType, public_key: &[u8]) -> Result<usize, VerifyError> {
    match key_type {
        KeyType::Ed25519 if public_key.len() == ED25519_KEY_LEN => Ok(256),
        KeyType::Ed25519 => Err(VerifyError::BadKey),
        _ => rsa_bits(public_key).ok_or(VerifyError::BadKey),
    }
}

/// The length of an Ed25519 public key (RFC 8032 §5.1.5).
const ED25519_KEY_LEN: usize = 32;

/// The size of an RSA public key in bits (SPKI or PKCS#1 DER).
pub fn rsa_bits(public_key: &[u8]) -> Option<usize> {
    RsaPublicKey::from_der(public_key)
        .ok()
        .map(|k| modulus_bits(&k))
}

/// The bit length of a parsed RSA key's modulus.
fn modulus_bits(key: &RsaPublicKey) -> usize {
    let modulus = key.modulus();
    let bytes = modulus.big_endian_without_leading_zero();
    let lead = bytes.first().map_or(0, |b| 8 - b.leading_zeros() as usize);
    bytes.len().saturating_sub(1) * 8 + lead
}

/// Parsed public keys kept for reuse: parsing an RSA key (its Montgomery constants) costs
/// more than verifying with it, and the same few keys sign most mail (ARC validates six
/// signatures of often one key). Bounded: past [`PARSED_KEYS`] entries the cache starts
/// over, so keys an attacker publishes cost memory only up to that.
const PARSED_KEYS: usize = 512;

/// A public key ready to verify with, and its size in bits.
#[derive(Clone)]
struct Parsed {
    key: std::sync::Arc<ParsedPublicKey>,
    bits: usize,
}

/// Parsed keys by the key bytes as published (`p=`), one map per algorithm, so that a
/// key found again costs one hash of its bytes: no copy, no DER parse.
type ParsedKeys = [std::collections::HashMap<Box<[u8]>, Parsed>; 3];

fn slot(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::RsaSha256 => 0,
        Algorithm::RsaSha1 => 1,
        Algorithm::Ed25519Sha256 => 2,
    }
}

/// A bounded cache of parsed public keys (the process keeps one, [`parsed_key`]).
struct KeyCache {
    keys: std::sync::Mutex<ParsedKeys>,
    capacity: usize,
}

impl KeyCache {
    fn new(capacity: usize) -> Self {
        Self {
            keys: std::sync::Mutex::default(),
            capacity,
        }
    }

    /// The parsed key for `published`, from the cache or from `parse` (and kept: a full
    /// cache is emptied first, so it never holds more than its capacity). Keys that do
    /// not parse are not kept.
    fn get(
        &self,
        algorithm: Algorithm,
        published: &[u8],
        parse: impl FnOnce() -> Result<Parsed, VerifyError>,
    ) -> Result<Parsed, VerifyError> {
        let i = slot(algorithm);
        if let Some(k) = self
            .keys
            .lock()
            .ok()
            .and_then(|c| c[i].get(published).cloned())
        {
            return Ok(k);
        }
        let parsed = parse()?;
        if let Ok(mut c) = self.keys.lock() {
            if c.iter().map(|m| m.len()).sum::<usize>() >= self.capacity {
                c.iter_mut().for_each(|m| m.clear());
            }
            c[i].insert(published.into(), parsed.clone());
        }
        Ok(parsed)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys
            .lock()
            .map_or(0, |c| c.iter().map(|m| m.len()).sum())
    }
}

fn parsed_key(
    algorithm: Algorithm,
    published: &[u8],
    parse: impl FnOnce() -> Result<Parsed, VerifyError>,
) -> Result<Parsed, VerifyError> {
    static CACHE: std::sync::OnceLock<KeyCache> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| KeyCache::new(PARSED_KEYS))
        .get(algorithm, published, parse)
}

/// Parses a published RSA key (SubjectPublicKeyInfo, RFC 6376 §3.6.1) for
/// `verification`, refusing sizes outside [`MIN_RSA_BITS`]..=[`MAX_RSA_BITS`].
fn parse_rsa(
    published: &[u8],
    verification: &'static dyn VerificationAlgorithm,
) -> Result<Parsed, VerifyError> {
    let pkcs1 = RsaPublicKey::from_der(published).map_err(|_| VerifyError::BadKey)?;
    let bits = modulus_bits(&pkcs1);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(VerifyError::KeySize(bits));
    }
    let key =
        ParsedPublicKey::new(verification, pkcs1.as_ref()).map_err(|_| VerifyError::BadKey)?;
    Ok(Parsed {
        key: std::sync::Arc::new(key),
        bits,
    })
}

/// Parses a published Ed25519 key (RFC 8463 §4: the 32 bytes of the key).
fn parse_ed25519(published: &[u8]) -> Result<Parsed, VerifyError> {
    let key =
        ParsedPublicKey::new(&signature::ED25519, published).map_err(|_| VerifyError::BadKey)?;
    Ok(Parsed {
        key: std::sync::Arc::new(key),
        bits: 256,
    })
}

/// Verifies a signature over the canonicalized header data; on success returns the
/// key size in bits (256 for Ed25519). Parsed keys are kept (at most 512).
pub fn verify(
    key_type: KeyType,
    public_key: &[u8],
    algorithm: Algorithm,
    data: &[u8],
    sig: &[u8],
) -> Result<usize, VerifyError> {
    match (key_type, algorithm) {
        (KeyType::Rsa, Algorithm::RsaSha256 | Algorithm::RsaSha1) => {
            let alg: &'static dyn VerificationAlgorithm = if algorithm == Algorithm::RsaSha1 {
                &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
            } else {
                &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            };
            let parsed = parsed_key(algorithm, public_key, || parse_rsa(public_key, alg))?;
            parsed
                .key
                .verify_sig(data, sig)
                .map(|()| parsed.bits)
                .map_err(|_| VerifyError::Mismatch)
        }
        (KeyType::Ed25519, Algorithm::Ed25519Sha256) => {
            public_key_bits(key_type, public_key)?;
            let hash = digest::digest(&digest::SHA256, data);
            parsed_key(algorithm, public_key, || parse_ed25519(public_key))?
                .key
                .verify_sig(hash.as_ref(), sig)
                .map(|()| 256)
                .map_err(|_| VerifyError::Mismatch)
        }
        _ => Err(VerifyError::KeyTypeMismatch),
    }
}

/// Verifies an `rsa-sha1` signature over data already hashed (`digest`, SHA-1), for
/// DomainKeys (RFC 4870 §3.2), whose signature covers the whole message and is hashed
/// as it streams. Keys are held to the sizes [`verify`] accepts.
pub fn verify_rsa_sha1_digest(
    public_key: &[u8],
    digest: &digest::Digest,
    sig: &[u8],
) -> Result<usize, VerifyError> {
    if digest.algorithm() != &digest::SHA1_FOR_LEGACY_USE_ONLY {
        return Err(VerifyError::KeyTypeMismatch);
    }
    let parsed = parsed_key(Algorithm::RsaSha1, public_key, || {
        parse_rsa(
            public_key,
            &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        )
    })?;
    parsed
        .key
        .verify_digest_sig(digest, sig)
        .map(|()| parsed.bits)
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public record of a key too small to sign with is still read (for `check
    /// --key` on an old key): the SubjectPublicKeyInfo built from the private key's
    /// modulus and exponent is the one `openssl pkey -pubout` writes for this throwaway
    /// 1024-bit key, and for a 2048-bit key the one aws-lc gives.
    #[test]
    fn the_public_record_of_a_weak_key_is_read() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBALjG9h5OIraBrP0I\nznDGLT86oGpgil3IbO++cT51CK6zht0HoTczARIZvAdlRwqmN24ppwD4/9EFz6s+\nNQ1RNhxu5gge4i1J49XRurBZaGUDPGPvXa1BeUNsHSym0M0bf95C9KvWbY6Dui3x\n9/CVzqMEcg1Zef91RFLUuzV659dLAgMBAAECgYEAh5+JsK67Leg6d7NKC156gYlf\nixT3GmTtCH9pEWXHjKs61ustup1WMNnwuCDvJvLfhp1N9hnNcrdoORG80NyF8NK9\nCwGdJncq6ZlUiMDuGF5izzf1LfVbCp7Tf8RvfLjX4Kfxq4PkdVHEfSFGMS3hktaF\n7imNir6SLr/B3sOCePECQQDoeuEGV1huvhohdeFZ1sn7LbaMz3ty3b+T04Kjeacx\n/1TSTT0by3oHfGRl3KBggqINN9cs74VfZ7L1Ww3EYNIJAkEAy3iaQNVsSLk8jrEu\n/3J5460AQPTCSJSWBRj993HQu6671usOPr03H9v59OjPrv/tsywHx8GP/AY5ZOTP\nyv/jswJAXaRRS5qXNlRAdkXjNaq8xP4Oz/0q/oOvjT3fGzX/ULZGVkdiW/XD+4vx\nbM5Hk1hLKgPaGnGISXudrBK3IujU8QJBALNVDo+KC7BlIwyY+dVHbkrO1eRqVTpn\nS3oetuh6tgBVV1VrQtjlKEq6NSo4b6PMChLbAdh7r43vZnKYgNRoiKUCQCQsktOV\nKi1XrUP/RWcdeef72afFCw9higmqEFmlYALxbEDw3O2ucYnC/vH5xbZFq+uuwsUo\npgVnbqAaS3kb3G0=\n-----END PRIVATE KEY-----\n";
        let openssl = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC4xvYeTiK2gaz9CM5wxi0/OqBqYIpdyGzvvnE+dQius4bdB6E3MwESGbwHZUcKpjduKacA+P/RBc+rPjUNUTYcbuYIHuItSePV0bqwWWhlAzxj712tQXlDbB0sptDNG3/eQvSr1m2Og7ot8ffwlc6jBHINWXn/dURS1Ls1eufXSwIDAQAB";
        assert!(matches!(
            SigningKey::from_pem(pem),
            Err(KeyError::RsaSize(1024))
        ));
        let (record, bits) = public_record_from_pem(pem).unwrap();
        assert_eq!(bits, Some(1024));
        assert_eq!(B64.encode(&record.public_key), openssl);
        let strong = SigningKey::generate_rsa(2048).unwrap();
        let pem = strong.to_pkcs8_pem().unwrap();
        let (record, bits) = public_record_from_pem(&pem).unwrap();
        assert_eq!(bits, None);
        assert_eq!(record.public_key, strong.key_record().unwrap().public_key);
        let (_, der) = pem_blocks(&pem).unwrap();
        let (n, e) = der::pkcs8_inner(&der)
            .and_then(der::rsa_private_public_parts)
            .unwrap();
        assert_eq!(der::rsa_spki(n, e), record.public_key);
    }

    /// An RSA key over [`MAX_RSA_BITS`] is refused by its size (it said "not a valid RSA
    /// private key", while the README said larger keys sign). The key is a PKCS#1
    /// structure with a 16,384-bit modulus, enough for the size to be read.
    #[test]
    fn rsa_keys_over_the_maximum_are_refused_by_size() {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let len = content.len();
            let mut out = vec![tag];
            if len < 0x80 {
                out.push(len as u8);
            } else {
                out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
            }
            out.extend_from_slice(content);
            out
        }
        let mut modulus = vec![0u8; 2049];
        modulus[1] = 0x80;
        modulus[2048] = 1;
        let body = [
            tlv(0x02, &[0]),
            tlv(0x02, &modulus),
            tlv(0x02, &[1, 0, 1]),
            tlv(0x02, &[1]),
        ]
        .concat();
        let der = tlv(0x30, &body);
        let pem = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
            B64.encode(&der)
        );
        let err = SigningKey::from_pem(&pem).unwrap_err();
        assert!(matches!(err, KeyError::RsaTooLarge(16384)), "{err}");
        assert!(err.to_string().contains("at most 8192 bits"), "{err}");
    }

    /// Keys DKIM does not sign with are named for what they are (they all said "not a
    /// valid RSA private key"), and an encrypted one says to decrypt it first. The keys
    /// are throwaway ones made by `openssl genpkey` for this test.
    #[test]
    fn keys_of_other_algorithms_are_named() {
        let ed448 = "-----BEGIN PRIVATE KEY-----\nMEcCAQAwBQYDK2VxBDsEObzRTd1H9UUJYQLBrgvLUVcshbGh+JsmxyG2vZQqVJJf\njgYB1h+ha7ExXgkmJWSh1L12TQgkVcHnBg==\n-----END PRIVATE KEY-----\n";
        let x25519 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIAjzBY13KS+FW6Nq9RwudFzcfPuYh5X9Jpt/wfobvLBk\n-----END PRIVATE KEY-----\n";
        let p256 = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFIgvbKGr64ZDAh6o\nD9pUqFdahkioJLcSkgIBiv3vjI2hRANCAASSz7Mj2EhrOzDKmGZ9g/ojnuDqjATQ\nvlDO+9M4lN/0laVaFehsFQ0v0xXfcKAJzchtbEyZ2v9NnTGeEFnHqSab\n-----END PRIVATE KEY-----\n";
        for (pem, says) in [
            (ed448, "an Ed448 key: DKIM signs with RSA"),
            (x25519, "an X25519 key (for key agreement, not signing)"),
            (p256, "an EC (ECDSA) key"),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "the key is encrypted: decrypt it first",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nMAA=\n-----END OPENSSH PRIVATE KEY-----\n",
                "an OpenSSH key file",
            ),
        ] {
            let err = SigningKey::from_pem(pem).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn sign_verify_round_trip_both_algorithms() {
        for key in [
            SigningKey::generate_ed25519().unwrap(),
            SigningKey::generate_rsa(2048).unwrap(),
        ] {
            let record = key.key_record().unwrap();
            let sig = key.sign(b"header data").unwrap();
            verify(
                record.key_type,
                &record.public_key,
                key.algorithm(),
                b"header data",
                &sig,
            )
            .unwrap();
            assert_eq!(
                verify(
                    record.key_type,
                    &record.public_key,
                    key.algorithm(),
                    b"other data",
                    &sig
                ),
                Err(VerifyError::Mismatch)
            );
            let pem = key.to_pkcs8_pem().unwrap();
            let again = SigningKey::from_pem(&pem).unwrap();
            assert_eq!(
                again.sign(b"x").unwrap().len(),
                key.sign(b"x").unwrap().len()
            );
        }
    }

    /// PARSED_KEYS keys are kept; the next one empties the cache and is kept alone,
    /// and a key parsed again gives the same results.
    #[test]
    fn parsed_keys_are_bounded_and_results_unchanged() {
        let cache = KeyCache::new(PARSED_KEYS);
        let keys: Vec<Ed25519KeyPair> = (0..=PARSED_KEYS)
            .map(|_| Ed25519KeyPair::generate().unwrap())
            .collect();
        let check = |k: &Ed25519KeyPair| {
            let public = k.public_key().as_ref();
            let hash = digest::digest(&digest::SHA256, b"header data");
            let sig = k.sign(hash.as_ref());
            let parsed = cache
                .get(Algorithm::Ed25519Sha256, public, || parse_ed25519(public))
                .unwrap();
            assert!(parsed.key.verify_sig(hash.as_ref(), sig.as_ref()).is_ok());
            assert!(parsed.key.verify_sig(b"other", sig.as_ref()).is_err());
        };
        for k in &keys[..PARSED_KEYS] {
            check(k);
        }
        assert_eq!(cache.len(), PARSED_KEYS);
        // Kept: asked again, nothing is added.
        check(&keys[0]);
        assert_eq!(cache.len(), PARSED_KEYS);
        // One more: the cache starts over with it.
        check(&keys[PARSED_KEYS]);
        assert_eq!(cache.len(), 1);
        // A key that was dropped is parsed again, with the same result.
        check(&keys[0]);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn rsa_bits_of_spki() {
        let key = SigningKey::generate_rsa(2048).unwrap();
        assert_eq!(rsa_bits(&key.key_record().unwrap().public_key), Some(2048));
        assert_eq!(key.bits(), 2048);
    }

    #[test]
    fn bad_pem() {
        assert!(matches!(
            SigningKey::from_pem("hello"),
            Err(KeyError::Pem(_))
        ));
        assert!(matches!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(KeyError::Rejected(_))
        ));
        assert!(matches!(
            SigningKey::generate_rsa(1024),
            Err(KeyError::RsaSize(1024))
        ));
    }
}
