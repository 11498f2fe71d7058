//! DKIM2, a draft: draft-ietf-dkim-dkim2-spec-02 (the revision the interoperability
//! vectors in `mail-auth-resources/dkim2/` follow; the `interop_brong_*` vectors come
//! from draft-clayton-dkim2-spec-08 signers, which wrote `mf=`/`rt=` without angle
//! brackets: [`Dkim2Config::strict`] off accepts those).
//!
//! Each hop that handles a message signs it with a `DKIM2-Signature` (`i=` 1, 2, ...)
//! that covers the SMTP envelope it sent the message with (`mf=`, `rt=`) and the
//! `Message-Instance` fields so far; a hop that changes the message adds a new
//! `Message-Instance` (`m=`) with the hashes of what it sends and a recipe (`r=`) that
//! rebuilds what it received, so a verifier can check every earlier hop's hashes.
//!
//! Modules: the two fields and their signed forms in [`fields`], the header and body
//! hashes in [`canon`], rebuilding an earlier instance in [`recipe`], verification of
//! the whole chain in [`mod@verify`], signing in [`mod@sign`].
//!
//! While DKIM2 is a draft it is off unless asked for (`monban verify --dkim2`,
//! `monban sign --dkim2`) and never counts for DMARC.

pub mod canon;
pub mod fields;
pub mod recipe;
pub mod sign;
pub mod verify;

pub use sign::{Dkim2SignConfig, Dkim2SignError, sign};
pub use verify::{Dkim2Config, Dkim2Envelope, Dkim2Outcome, Dkim2Reason, Dkim2Result, verify};

/// Verifies a whole message held in memory (any line endings).
pub async fn verify_message<R: monban_dns::Resolver>(
    message: &[u8],
    envelope: Option<&Dkim2Envelope>,
    now: u64,
    config: &Dkim2Config,
    resolver: &R,
) -> Result<Dkim2Outcome, crate::dkim::MessageError> {
    let (headers, body) = crate::dkim::split_message(message)?;
    Ok(verify(&headers, &body, envelope, now, config, resolver).await)
}
