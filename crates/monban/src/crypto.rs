//! The cryptography every method needs, behind narrow traits: verifying a signature
//! with a published public key ([`SignatureVerifier`]), signing with a private key
//! ([`Signer`]), and hashing ([`Hasher`]). aws-lc-rs is the default implementation
//! ([`AwsLc`], [`crate::dkim::SigningKey`]); DKIM uses these today, and ARC, DKIM2
//! and report signing reuse them. Nothing else in the workspace names the crypto
//! library.

use std::fmt;

use aws_lc_rs::digest;

use crate::dkim::crypto::{KeyError, VerifyError};
use crate::dkim::key::KeyType;
use crate::dkim::signature::Algorithm;

/// Verifies signatures over data with a published public key.
pub trait SignatureVerifier: fmt::Debug + Send + Sync {
    /// Verifies `sig` over `data` (for RSA, the data is hashed as `algorithm` says; for
    /// Ed25519 the SHA-256 of the data is what was signed, RFC 8463 §3). On success,
    /// the key size in bits.
    fn verify(
        &self,
        key_type: KeyType,
        public_key: &[u8],
        algorithm: Algorithm,
        data: &[u8],
        sig: &[u8],
    ) -> Result<usize, VerifyError>;
}

/// Signs data with a private key.
pub trait Signer: fmt::Debug + Send + Sync {
    /// The algorithm the key signs with (`a=`).
    fn algorithm(&self) -> Algorithm;
    /// Signs `data` (hashed as [`Signer::algorithm`] says).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError>;
    /// The key size in bits when known (the RSA modulus; 256 for Ed25519), for callers
    /// that judge what a signature costs; `None` (the default) for a key whose cost is
    /// not known (one behind a hardware module, say).
    fn bits(&self) -> Option<usize> {
        None
    }
}

/// The default implementation: aws-lc-rs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLc;

impl SignatureVerifier for AwsLc {
    fn verify(
        &self,
        key_type: KeyType,
        public_key: &[u8],
        algorithm: Algorithm,
        data: &[u8],
        sig: &[u8],
    ) -> Result<usize, VerifyError> {
        crate::dkim::crypto::verify(key_type, public_key, algorithm, data, sig)
    }
}

/// A hash algorithm of mail authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1 (legacy `rsa-sha1` only, RFC 8301).
    Sha1,
    /// SHA-256.
    Sha256,
}

impl HashAlgorithm {
    fn aws(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
        }
    }
}

/// An incremental hash.
#[derive(Clone)]
pub struct Hasher(digest::Context);

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// A new hash.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        Self(digest::Context::new(algorithm.aws()))
    }

    /// Adds data.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

/// The digest of `data` in one call.
pub fn hash(algorithm: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    digest::digest(algorithm.aws(), data).as_ref().to_vec()
}
