//! Body hashing (RFC 6376 §3.7, "body hash"), streaming and shared: signatures that use
//! the same canonicalization, hash and length limit share one hasher.

use crate::crypto::{HashAlgorithm, Hasher};

use super::canonicalization::{BodyCanonicalizer, Canonicalization};
use super::signature::Algorithm;

/// What identifies a body hash: two signatures with the same key share the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyHashKey {
    /// `c=` body part.
    pub canonicalization: Canonicalization,
    /// SHA-1 for `rsa-sha1`, else SHA-256.
    pub sha1: bool,
    /// `l=`.
    pub length: Option<u64>,
}

impl BodyHashKey {
    /// The key for a signature's algorithm, body canonicalization and `l=`.
    pub fn new(
        algorithm: Algorithm,
        canonicalization: Canonicalization,
        length: Option<u64>,
    ) -> Self {
        Self {
            canonicalization,
            sha1: algorithm == Algorithm::RsaSha1,
            length,
        }
    }
}

/// One streaming body hash.
pub struct BodyHasher {
    key: BodyHashKey,
    canon: BodyCanonicalizer,
    ctx: Hasher,
    /// Canonical bytes hashed so far.
    hashed: u64,
    /// Canonical bytes seen so far (beyond `l=` too).
    total: u64,
}

impl std::fmt::Debug for BodyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyHasher")
            .field("key", &self.key)
            .field("hashed", &self.hashed)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

/// A finished body hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyHash {
    /// The digest.
    pub digest: Vec<u8>,
    /// The canonical body length, including anything past `l=`.
    pub canonical_length: u64,
}

impl BodyHasher {
    /// A hasher at the start of a body.
    pub fn new(key: BodyHashKey) -> Self {
        let alg = if key.sha1 {
            HashAlgorithm::Sha1
        } else {
            HashAlgorithm::Sha256
        };
        Self {
            key,
            canon: BodyCanonicalizer::new(key.canonicalization),
            ctx: Hasher::new(alg),
            hashed: 0,
            total: 0,
        }
    }

    /// What this hasher computes.
    pub fn key(&self) -> BodyHashKey {
        self.key
    }

    /// Feeds body bytes.
    pub fn update(&mut self, chunk: &[u8]) {
        let Self {
            key,
            canon,
            ctx,
            hashed,
            total,
            ..
        } = self;
        let limit = key.length;
        canon.update_with(chunk, &mut |s| absorb(ctx, limit, hashed, total, s));
    }

    /// Ends the body.
    pub fn finish(mut self) -> BodyHash {
        let Self {
            key,
            canon,
            ctx,
            hashed,
            total,
            ..
        } = &mut self;
        let limit = key.length;
        canon.finish_with(&mut |s| absorb(ctx, limit, hashed, total, s));
        BodyHash {
            digest: self.ctx.finish(),
            canonical_length: self.total,
        }
    }
}

/// Hashes canonical bytes up to the `l=` limit, counting all of them.
fn absorb(ctx: &mut Hasher, limit: Option<u64>, hashed: &mut u64, total: &mut u64, s: &[u8]) {
    *total += s.len() as u64;
    let take = match limit {
        Some(limit) => limit.saturating_sub(*hashed).min(s.len() as u64) as usize,
        None => s.len(),
    };
    if take > 0 {
        ctx.update(&s[..take]);
        *hashed += take as u64;
    }
}

/// Several body hashes computed in one pass.
#[derive(Debug, Default)]
pub struct BodyHashers {
    hashers: Vec<BodyHasher>,
}

impl BodyHashers {
    /// No hasher yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of the hasher for `key`, adding one if needed.
    pub fn index_for(&mut self, key: BodyHashKey) -> usize {
        if let Some(i) = self.hashers.iter().position(|h| h.key() == key) {
            return i;
        }
        self.hashers.push(BodyHasher::new(key));
        self.hashers.len() - 1
    }

    /// How many distinct hashes are computed.
    pub fn len(&self) -> usize {
        self.hashers.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.hashers.is_empty()
    }

    /// Feeds body bytes to every hasher.
    pub fn update(&mut self, chunk: &[u8]) {
        for h in &mut self.hashers {
            h.update(chunk);
        }
    }

    /// Ends the body; results in index order.
    pub fn finish(self) -> Vec<BodyHash> {
        self.hashers.into_iter().map(BodyHasher::finish).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// RFC 6376 §3.4.5 / App. A: the body hash of the example message, both
    /// canonicalizations (values from RFC 6376 A.2 and RFC 8463 A.3).
    #[test]
    fn rfc6376_example_body_hashes() {
        let body = b"Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n";
        for (c, want) in [
            (
                Canonicalization::Simple,
                "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
            ),
            (
                Canonicalization::Relaxed,
                "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
            ),
        ] {
            let mut h = BodyHasher::new(BodyHashKey::new(Algorithm::RsaSha256, c, None));
            h.update(body);
            let got = base64::engine::general_purpose::STANDARD.encode(h.finish().digest);
            assert_eq!(got, want, "{c}");
        }
    }

    #[test]
    fn length_limit_counts_the_rest() {
        let mut h = BodyHasher::new(BodyHashKey::new(
            Algorithm::RsaSha256,
            Canonicalization::Simple,
            Some(5),
        ));
        h.update(b"hello world\r\n");
        let r = h.finish();
        assert_eq!(r.canonical_length, 13);
        assert_eq!(
            r.digest,
            crate::crypto::hash(crate::crypto::HashAlgorithm::Sha256, b"hello")
        );
    }

    #[test]
    fn shared_hashers() {
        let mut hs = BodyHashers::new();
        let a = hs.index_for(BodyHashKey::new(
            Algorithm::RsaSha256,
            Canonicalization::Relaxed,
            None,
        ));
        let b = hs.index_for(BodyHashKey::new(
            Algorithm::Ed25519Sha256,
            Canonicalization::Relaxed,
            None,
        ));
        let c = hs.index_for(BodyHashKey::new(
            Algorithm::RsaSha256,
            Canonicalization::Simple,
            None,
        ));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(hs.len(), 2);
    }
}
