//! DKIM2 signing (draft-ietf-dkim-dkim2-spec-02 §8): an originator adds Message-Instance
//! m=1 and signature i=1; a hop that changed nothing adds only its signature over the
//! latest instance; a hop that changed the message adds a new instance with the recipe
//! that undoes its change, given by the caller.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::canon::{body_hash, header_hash};
use super::fields::{Dkim2Signature, FieldError, MessageInstance, blank_signatures, signed_form};
use crate::crypto::Signer;
use crate::dkim::Algorithm;
use crate::dkim::crypto::KeyError;
use crate::message::Headers;

/// What to sign with.
#[derive(Debug, Clone)]
pub struct Dkim2SignConfig {
    /// `d=`.
    pub domain: String,
    /// The selector.
    pub selector: String,
    /// The key (RSA or Ed25519).
    pub key: Arc<dyn Signer>,
    /// The SMTP MAIL FROM of this hop's delivery (`<>` or empty: the null sender).
    pub mail_from: String,
    /// The SMTP RCPT TO of this hop's delivery.
    pub rcpt_to: Vec<String>,
    /// `n=`, when wanted.
    pub nonce: Option<String>,
    /// `f=`.
    pub flags: Vec<String>,
    /// The recipe (JSON) that rebuilds the message this hop received from the one it
    /// sends, when it changed the message.
    pub recipe: Option<String>,
}

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Dkim2SignError {
    /// A DKIM2 field already on the message does not parse.
    #[error("a DKIM2 field on the message is malformed: {0}")]
    Existing(FieldError),
    /// The message changed since the latest instance and no recipe was given.
    #[error(
        "the message differs from its latest Message-Instance: give the recipe that undoes this hop's change"
    )]
    NeedsRecipe,
    /// The given recipe is not valid.
    #[error("the recipe is not valid: {0}")]
    Recipe(String),
    /// No RCPT TO.
    #[error("DKIM2 signs the envelope: give at least one RCPT TO")]
    NoRecipient,
    /// A value that cannot go into a tag.
    #[error("{0} cannot be written in the signature")]
    Value(&'static str),
    /// The key's algorithm is not one DKIM2 defines.
    #[error("DKIM2 signs with rsa-sha256 or ed25519-sha256")]
    Algorithm,
    /// The key failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn bracket(a: &str) -> String {
    let a = a.trim();
    if a.starts_with('<') && a.ends_with('>') {
        a.to_owned()
    } else {
        format!("<{a}>")
    }
}

/// Signs a message (`body` as it will be sent); returns the header lines to put on top
/// (`DKIM2-Signature`, then a new `Message-Instance` when one is made), CRLF-ended.
pub fn sign(
    headers: &Headers,
    body: &[u8],
    config: &Dkim2SignConfig,
    now: u64,
) -> Result<String, Dkim2SignError> {
    let alg = match config.key.algorithm() {
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
        _ => return Err(Dkim2SignError::Algorithm),
    };
    if config.rcpt_to.is_empty() {
        return Err(Dkim2SignError::NoRecipient);
    }
    let printable = |s: &str| s.bytes().all(|b| b.is_ascii_graphic() && b != b';');
    if !crate::dkim::signature::is_dns_name(&config.domain)
        || !crate::dkim::signature::is_dns_name(&config.selector)
    {
        return Err(Dkim2SignError::Value("the domain or selector"));
    }
    if config
        .nonce
        .as_ref()
        .is_some_and(|n| n.len() > super::fields::MAX_NONCE || !printable(n))
    {
        return Err(Dkim2SignError::Value("the nonce"));
    }
    if !config
        .flags
        .iter()
        .all(|f| !f.is_empty() && printable(f) && !f.contains(','))
    {
        return Err(Dkim2SignError::Value("a flag"));
    }
    let mut instances: Vec<(Vec<u8>, MessageInstance)> = Vec::new();
    let mut sigs: Vec<(Vec<u8>, Dkim2Signature)> = Vec::new();
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    for f in headers.fields() {
        let name = String::from_utf8_lossy(f.name).trim().to_owned();
        fields.push((name.clone(), f.value.to_vec()));
        if name.eq_ignore_ascii_case("DKIM2-Signature") {
            sigs.push((
                f.name.to_vec(),
                Dkim2Signature::parse(f.value).map_err(Dkim2SignError::Existing)?,
            ));
        } else if name.eq_ignore_ascii_case("Message-Instance") {
            instances.push((
                f.name.to_vec(),
                MessageInstance::parse(f.value).map_err(Dkim2SignError::Existing)?,
            ));
        }
    }
    instances.sort_by_key(|(_, m)| m.number);
    sigs.sort_by_key(|(_, s)| s.instance);
    let (hh, bh) = (header_hash(&fields), body_hash(body));
    let latest = instances.last().map(|(_, m)| (m.number, m.sha256));
    let new_instance = match latest {
        None => Some((1, None)),
        Some((_, Some((h, b)))) if h == hh && b == bh => None,
        Some((m, _)) => {
            let Some(recipe) = &config.recipe else {
                return Err(Dkim2SignError::NeedsRecipe);
            };
            super::recipe::Recipe::parse(recipe.as_bytes()).map_err(Dkim2SignError::Recipe)?;
            let next = m
                .checked_add(1)
                .ok_or(Dkim2SignError::Value("m= (at its maximum)"))?;
            Some((next, Some(B64.encode(recipe.as_bytes()))))
        }
    };
    let m = new_instance
        .as_ref()
        .map_or_else(|| latest.map_or(1, |(m, _)| m), |(m, _)| *m);
    let instance_value = new_instance.as_ref().map(|(m, r)| {
        let mut v = format!(" m={m}; h=sha256:{}:{};", B64.encode(hh), B64.encode(bh));
        if let Some(r) = r {
            v.push_str(&format!(" r={r};"));
        }
        v
    });
    let i = sigs
        .last()
        .map_or(0, |(_, s)| s.instance)
        .checked_add(1)
        .ok_or(Dkim2SignError::Value("i= (at its maximum)"))?;
    let rt: Vec<String> = config
        .rcpt_to
        .iter()
        .map(|r| B64.encode(bracket(r)))
        .collect();
    let mf = B64.encode(
        if config.mail_from.trim().trim_matches(['<', '>']).is_empty() {
            "<>".to_owned()
        } else {
            bracket(&config.mail_from)
        },
    );
    let mut tail = String::new();
    if let Some(n) = &config.nonce {
        tail.push_str(&format!(" n={n};"));
    }
    if !config.flags.is_empty() {
        tail.push_str(&format!(" f={};", config.flags.join(",")));
    }
    let unsigned = format!(
        " i={i}; m={m}; t={now}; d={}; mf={mf}; rt={}; s={}:{alg}:;{tail}",
        config.domain,
        rt.join(","),
        config.selector
    );
    let mut data = Vec::with_capacity(2048);
    for (n, mi) in &instances {
        signed_form(n, &mi.raw, &mut data);
    }
    if let Some(v) = &instance_value {
        signed_form(b"Message-Instance", v.as_bytes(), &mut data);
    }
    for (n, s) in &sigs {
        signed_form(n, &s.raw, &mut data);
    }
    signed_form(
        b"DKIM2-Signature",
        &blank_signatures(unsigned.as_bytes()),
        &mut data,
    );
    let sig = B64.encode(config.key.sign(&data)?);
    let signed = unsigned.replacen(
        &format!("s={}:{alg}:;", config.selector),
        &format!("s={}:{alg}:{sig};", config.selector),
        1,
    );
    let mut out = format!("DKIM2-Signature:{signed}\r\n");
    if let Some(v) = instance_value {
        out.push_str(&format!("Message-Instance:{v}\r\n"));
    }
    Ok(out)
}
