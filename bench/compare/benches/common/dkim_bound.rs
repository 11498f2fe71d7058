//! The crypto + hash bound of the DKIM benchmarks, with aws-lc-rs directly: per
//! message, one signature operation (RSA-2048 PKCS#1 v1.5 SHA-256 or Ed25519, sign or
//! verify, over 32 bytes, the public key parsed once) plus SHA-256 over the whole
//! message. No DKIM implementation can do less: each byte must be hashed once and one
//! signature computed or checked.
//!
//! How the bytes reach the hash is free to choose, and the bound takes the faster way
//! on the machine it runs on ([`Bound::new`] times both): SHA-256 straight over the
//! message, or a quick read of each 64-byte line first and then SHA-256 over bytes in
//! cache. On the project's VM (2026-12-03) the second took 51 µs for a cold 74 KiB
//! message against 69 µs for the first: SHA-256 alone waited on memory, and monban,
//! whose canonicalization scan reads each line before it is hashed, ran faster than a
//! bound that did not.
//!
//! Shared through `#[path]` by `bench/compare/benches/dkim_compare.rs` and
//! `crates/monban/benches/dkim.rs`; the including crate root must have `KeyKind` and
//! `MonbanDkim` (from `dkim_corpus`) in scope.

use std::hint::black_box;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey};
use monban::dkim::SigningKey;

use super::{KeyKind, MonbanDkim};

/// What the signature operation covers: 32 bytes, the size of the digest Ed25519 signs
/// in DKIM (RFC 8463 §3).
const SIGNED_DATA: [u8; 32] = [0x5a; 32];

/// The bound's keys (monban's, used through aws-lc-rs) and signatures.
pub struct Bound<'k> {
    rsa: &'k signature::RsaKeyPair,
    ed25519: &'k signature::Ed25519KeyPair,
    rsa_public: ParsedPublicKey,
    ed25519_public: ParsedPublicKey,
    rsa_sig: Vec<u8>,
    ed25519_sig: Vec<u8>,
    rng: SystemRandom,
    /// Whether each message is read once before it is hashed (the faster way here).
    touch_first: bool,
}

/// Reads one byte of each 64-byte line of `message`: the loads are independent, so the
/// CPU has many lines on their way at once, which SHA-256's sequential reads do not.
pub fn touch(message: &[u8]) {
    let mut acc = 0u8;
    for line in message.chunks(64) {
        acc ^= line[0];
    }
    black_box(acc);
}

/// Whether reading each line first and then hashing is faster than hashing alone on
/// this machine, for messages not in cache: 48 MiB of 64 KiB buffers (more than the
/// last-level caches of the machines this runs on), each way timed twice, alternately.
fn touching_is_faster() -> bool {
    use std::time::Instant;
    let buffers: Vec<Vec<u8>> = (0..768u32)
        .map(|i| (0..64 * 1024).map(|j| (i as usize + j) as u8).collect())
        .collect();
    let mut plain = f64::MAX;
    let mut touched = f64::MAX;
    for _ in 0..2 {
        let t = Instant::now();
        for b in &buffers {
            black_box(digest::digest(&digest::SHA256, black_box(b)));
        }
        plain = plain.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for b in &buffers {
            touch(black_box(b));
            black_box(digest::digest(&digest::SHA256, b));
        }
        touched = touched.min(t.elapsed().as_secs_f64());
    }
    touched < plain
}

impl<'k> Bound<'k> {
    /// The bound with monban's keys.
    pub fn new(monban: &'k MonbanDkim) -> Self {
        let SigningKey::Rsa(rsa) = &*monban.rsa else {
            unreachable!("an RSA key")
        };
        let SigningKey::Ed25519(ed25519) = &*monban.ed25519 else {
            unreachable!("an Ed25519 key")
        };
        let rng = SystemRandom::new();
        let mut rsa_sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(
            &signature::RSA_PKCS1_SHA256,
            &rng,
            &SIGNED_DATA,
            &mut rsa_sig,
        )
        .expect("RSA sign");
        let ed25519_sig = ed25519.sign(&SIGNED_DATA).as_ref().to_vec();
        let rsa_public = ParsedPublicKey::new(
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            rsa.public_key().as_ref(),
        )
        .expect("RSA public key");
        let ed25519_public =
            ParsedPublicKey::new(&signature::ED25519, ed25519.public_key().as_ref())
                .expect("Ed25519 public key");
        let bound = Self {
            rsa,
            ed25519,
            rsa_public,
            ed25519_public,
            rsa_sig,
            ed25519_sig,
            rng,
            touch_first: touching_is_faster(),
        };
        for kind in KeyKind::ALL {
            bound.verify_one(&[], kind);
        }
        bound
    }

    /// SHA-256 over a whole message, the faster way on this machine.
    fn hash(&self, message: &[u8]) {
        if self.touch_first {
            touch(message);
        }
        black_box(digest::digest(&digest::SHA256, message));
    }

    /// How the bound hashes on this machine, in words, for the benchmarks to print.
    pub fn how(&self) -> &'static str {
        if self.touch_first {
            "the bound reads each message once before hashing it (faster on this machine)"
        } else {
            "the bound hashes each message straight from memory (faster on this machine)"
        }
    }

    /// Hashes a message and checks one signature.
    pub fn verify_one(&self, message: &[u8], kind: KeyKind) {
        self.hash(message);
        self.check(kind);
    }

    /// Checks one signature of `kind`.
    fn check(&self, kind: KeyKind) {
        let (key, sig) = match kind {
            KeyKind::Rsa => (&self.rsa_public, &self.rsa_sig),
            KeyKind::Ed25519 => (&self.ed25519_public, &self.ed25519_sig),
        };
        key.verify_sig(black_box(&SIGNED_DATA), sig)
            .expect("the bound's signature verifies");
    }

    /// The bound over one file read as `monban verify` reads its files: read(2) into
    /// `buf` (reused, the CLI's read size), each chunk hashed as it arrives (in cache
    /// after the kernel's copy, so not read first), then one signature checked. The
    /// bytes read.
    #[allow(dead_code)] // for `read_files --bound` alone
    pub fn verify_read(
        &self,
        file: &mut impl std::io::Read,
        buf: &mut [u8],
        kind: KeyKind,
    ) -> std::io::Result<u64> {
        let mut hash = digest::Context::new(&digest::SHA256);
        let mut bytes = 0u64;
        loop {
            match file.read(buf) {
                Ok(0) => break,
                Ok(n) => {
                    hash.update(&buf[..n]);
                    bytes += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        black_box(hash.finish());
        self.check(kind);
        Ok(bytes)
    }

    /// The bound of an ARC validation (RSA-2048): the message hashed once (the AMS body
    /// hashes share one pass when their canonicalization agrees, and the header data of
    /// each signature is small) plus `checks` signature verifications. A chain of `n`
    /// sets that passes needs `n + 1` of them (RFC 8617 §5.2 steps 4 and 6: the latest
    /// AMS and every seal), and `2n` with oldest-pass (step 5: every older AMS too).
    pub fn verify_arc_one(&self, message: &[u8], checks: usize) {
        self.hash(message);
        for _ in 0..checks {
            self.rsa_public
                .verify_sig(black_box(&SIGNED_DATA), &self.rsa_sig)
                .expect("the bound's signature verifies");
        }
    }

    /// [`Self::verify_arc_one`] over a corpus.
    pub fn verify_arc_corpus<T: AsRef<[u8]>>(&self, messages: &[T], checks: usize) {
        for m in messages {
            self.verify_arc_one(m.as_ref(), checks);
        }
    }

    /// Hashes a message and computes one signature; its length.
    pub fn sign_one(&self, message: &[u8], kind: KeyKind) -> usize {
        self.hash(message);
        match kind {
            KeyKind::Rsa => {
                let mut sig = vec![0; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(
                        &signature::RSA_PKCS1_SHA256,
                        &self.rng,
                        black_box(&SIGNED_DATA),
                        &mut sig,
                    )
                    .expect("RSA sign");
                black_box(sig).len()
            }
            KeyKind::Ed25519 => black_box(self.ed25519.sign(black_box(&SIGNED_DATA)))
                .as_ref()
                .len(),
        }
    }

    /// [`Self::verify_one`] over a corpus.
    pub fn verify_corpus<T: AsRef<[u8]>>(&self, messages: &[T], kind: KeyKind) {
        for m in messages {
            self.verify_one(m.as_ref(), kind);
        }
    }

    /// [`Self::sign_one`] over a corpus.
    pub fn sign_corpus<T: AsRef<[u8]>>(&self, messages: &[T], kind: KeyKind) -> usize {
        messages
            .iter()
            .map(|m| self.sign_one(m.as_ref(), kind))
            .sum()
    }
}
