//! Adding an ARC set, RFC 8617 §5.1: the sealer records its own
//! `Authentication-Results` (AAR), signs the message (AMS) and seals every set so far
//! with its verdict on the chain it received (AS, `cv=`).
//!
//! Staged like DKIM signing: [`ArcSealer::new`] takes the header, [`ArcSealer::body`]
//! the body chunks (one streaming body hash), and [`ArcSealer::finish`] the validation
//! outcome of the chain that arrived and the results to record. A chain whose latest
//! seal already says `cv=fail` is never sealed again (§5.1.2), and a failed chain is
//! sealed `cv=fail`, never `cv=pass`.
//!
//! Tags are written in alphabetical order with one space after each `;`, the form the
//! ValiMail suite standardizes, so signatures are reproducible byte for byte.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::fields::{ChainValidation, fold_specs, split_results};
use super::{ArcOutcome, ArcReason};
use crate::crypto::Signer;
use crate::dkim::body::{BodyHashKey, BodyHasher};
use crate::dkim::canonicalization::Canonicalization;
use crate::dkim::crypto::KeyError;
use crate::dkim::sign::{DEFAULT_OVERSIGNED, DEFAULT_SIGNED, ListProblem, check_list};
use crate::dkim::signature::{MAX_ARC_INSTANCE, MAX_SIGNED_FIELDS, is_dns_name};
use crate::dkim::verify::{header_data, push_field, signature_field};
use crate::message::{HeaderField, Headers};

/// The sealer's settings.
#[derive(Debug, Clone)]
pub struct SealConfig {
    /// `d=` of the AMS and AS: the sealer's domain.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The private key; its type picks `a=`.
    pub key: Arc<dyn Signer>,
    /// The authserv-id written in the AAR (this host's, as in its own A-R).
    pub authserv_id: String,
    /// The AMS `h=`; `None` signs the DKIM defaults that are present, oversigned, and
    /// every `DKIM-Signature` (so a verifier can tell which of them a hop broke).
    pub headers: Option<Vec<String>>,
    /// Add `t=` (default true).
    pub timestamp: bool,
}

impl SealConfig {
    /// A sealer with the default header list and a timestamp.
    pub fn new(domain: &str, selector: &str, key: Arc<dyn Signer>, authserv_id: &str) -> Self {
        Self {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_ascii_lowercase(),
            key,
            authserv_id: authserv_id.to_owned(),
            headers: None,
            timestamp: true,
        }
    }

    /// Checks what the set will say before any message is read: `d=` and `s=` are DNS
    /// names, the key is RSA, the authserv-id is an RFC 2045 token (RFC 8601 §2.2:
    /// written bare in the AAR, so `(`, `;`, `=`, quotes and the like would change how
    /// it reads), and the AMS `h=` names are field names a tag can carry (no `:` or
    /// `;`), not ARC-Seal (RFC 8617 §4.1.2), with From among them (RFC 6376 §5.4, which
    /// the AMS follows).
    pub fn check(&self) -> Result<(), SealError> {
        if !is_dns_name(&self.domain) {
            return Err(SealError::Domain(self.domain.clone()));
        }
        if !is_dns_name(&self.selector) {
            return Err(SealError::Selector(self.selector.clone()));
        }
        if self.key.algorithm() != crate::dkim::Algorithm::RsaSha256 {
            return Err(SealError::Algorithm(self.key.algorithm().as_str()));
        }
        if !crate::authres::is_token(&self.authserv_id) {
            return Err(SealError::AuthservId(self.authserv_id.clone()));
        }
        if let Some(list) = &self.headers {
            check_list(list, &["arc-seal"]).map_err(|p| match p {
                ListProblem::Name(bad) => SealError::HeaderName(bad.to_owned()),
                ListProblem::NoFrom => SealError::FromNotListed,
                ListProblem::TooMany => SealError::TooManyHeaders,
            })?;
        }
        Ok(())
    }
}

/// Why no set was added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The latest seal already says the chain failed: no set may follow (§5.1.2).
    #[error(
        "the ARC chain had already failed (ARC-Seal i={instance} has cv=fail): not sealed again"
    )]
    ChainFailed {
        /// The instance of that seal.
        instance: u32,
    },
    /// The chain could not be validated for now (a key lookup failed): sealing it
    /// `cv=fail` would end it for good.
    #[error("the ARC chain could not be validated for now (DNS): not sealed")]
    Temporary,
    /// The chain already has the most sets allowed.
    #[error("the message already has {MAX_ARC_INSTANCE} ARC sets, the most allowed")]
    TooManySets,
    /// The sealing domain (`d=`) is not a domain name.
    #[error("the sealing domain {0:?} is not a domain name")]
    Domain(String),
    /// The selector (`s=`) is not a valid selector.
    #[error("the selector {0:?} is not a valid selector (DNS labels)")]
    Selector(String),
    /// The authserv-id is not a token (RFC 2045 §5.1: printable ASCII without spaces
    /// or `()<>@,;:\"/[]?=`), as a host name is.
    #[error(
        "the authserv-id {0:?} must be a host name or another token (no spaces or ()<>@,;:\\\"/[]?=)"
    )]
    AuthservId(String),
    /// A name for `h=` that is not a field name, or ARC-Seal (§4.1.2).
    #[error("{0:?} cannot be signed by an ARC-Message-Signature")]
    HeaderName(String),
    /// `h=` given without From.
    #[error("the header list must include From")]
    FromNotListed,
    /// More `h=` names than a verifier accepts.
    #[error("more than {MAX_SIGNED_FIELDS} header fields to sign")]
    TooManyHeaders,
    /// The key failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The key is not RSA: the ARC verifiers in use (dkimpy, OpenARC and the large
    /// receivers' implementations) accept `rsa-sha256` only, so an Ed25519 seal would
    /// fail everywhere else.
    #[error("ARC sealing needs an RSA key (rsa-sha256): ARC verifiers in use do not accept {0}")]
    Algorithm(&'static str),
    /// The new header block could not be read back (it is too large).
    #[error(transparent)]
    Header(#[from] crate::message::HeaderError),
}

/// The three fields of a new set (values, without the field names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSet {
    /// `i=`.
    pub instance: u32,
    /// The `cv=` written.
    pub cv: ChainValidation,
    /// The `ARC-Authentication-Results` value.
    pub results: String,
    /// The `ARC-Message-Signature` value.
    pub message_signature: String,
    /// The `ARC-Seal` value.
    pub seal: String,
}

impl SealedSet {
    /// The three fields as header lines to put on top of the message, ARC-Seal first.
    pub fn header_lines(&self) -> String {
        format!(
            "ARC-Seal:{}\r\nARC-Message-Signature:{}\r\nARC-Authentication-Results:{}\r\n",
            self.seal, self.message_signature, self.results
        )
    }
}

/// The staged sealer.
pub struct ArcSealer {
    headers: Headers,
    config: SealConfig,
    hasher: BodyHasher,
    now: u64,
}

impl std::fmt::Debug for ArcSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArcSealer")
            .field("domain", &self.config.domain)
            .finish_non_exhaustive()
    }
}

/// The default AMS `h=` for a header: each present instance of the DKIM defaults and of
/// `DKIM-Signature`, then one more of each oversigned name.
/// The most `DKIM-Signature` fields the default AMS `h=` names: a message carries a
/// handful; more are a sender's attempt to make the list too long to seal.
pub const MAX_SEALED_DKIM: usize = 50;

fn default_list(headers: &Headers) -> Vec<String> {
    let mut out = Vec::new();
    for name in DEFAULT_SIGNED {
        for _ in headers.get(name) {
            out.push((*name).to_owned());
        }
    }
    // The DKIM signatures, up to a bound: a sender's thousand of them made the list
    // too long to seal at all (the bottom-most are signed, as a verifier picks them).
    let dkim = headers.get("dkim-signature").count().min(MAX_SEALED_DKIM);
    out.extend(std::iter::repeat_n("dkim-signature".to_owned(), dkim));
    out.extend(DEFAULT_OVERSIGNED.iter().map(|n| (*n).to_owned()));
    out
}

impl ArcSealer {
    /// Starts sealing a message whose header is `headers`. `now` is the time for `t=`.
    pub fn new(headers: Headers, config: SealConfig, now: u64) -> Result<Self, SealError> {
        config.check()?;
        // A given list was counted by `check`; the default one depends on the message.
        if config.headers.is_none() && default_list(&headers).len() > MAX_SIGNED_FIELDS {
            return Err(SealError::TooManyHeaders);
        }
        let hasher = BodyHasher::new(BodyHashKey::new(
            config.key.algorithm(),
            Canonicalization::Relaxed,
            None,
        ));
        Ok(Self {
            headers,
            config,
            hasher,
            now,
        })
    }

    /// Feeds a body chunk.
    pub fn body(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    /// Ends the body and makes the set. `chain` is the validation of the chain that
    /// arrived ([`super::ArcVerifier`] on the same message); `results` are the results
    /// to record in the AAR, each as written in an `Authentication-Results` field
    /// (`spf=pass smtp.mailfrom=...`), usually this host's own.
    pub fn finish(self, chain: &ArcOutcome, results: &[String]) -> Result<SealedSet, SealError> {
        // The latest seal on the message, whatever else the validation found: after a
        // cv=fail nothing may be added, and the new instance follows the highest.
        let (top, top_failed) = latest_seal(&self.headers);
        if top_failed {
            return Err(SealError::ChainFailed { instance: top });
        }
        if let Some(ArcReason::LatestSealedFail { instance }) = chain.reason {
            return Err(SealError::ChainFailed { instance });
        }
        if chain.is_temporary() {
            return Err(SealError::Temporary);
        }
        let instance = top.max(chain.instances) + 1;
        if instance > MAX_ARC_INSTANCE {
            return Err(SealError::TooManySets);
        }
        let cv = chain.result.cv();
        let c = &self.config;
        let algorithm = c.key.algorithm();

        // The AAR (§4.1.1): i=, the authserv-id, then each result on its own line.
        let mut aar = format!(" i={instance}; {}", c.authserv_id);
        let results: Vec<String> = results
            .iter()
            .map(|r| r.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|r| !r.is_empty())
            .collect();
        if results.is_empty() {
            aar.push_str("; none");
        } else {
            for r in &results {
                aar.push_str(";\r\n\t");
                aar.push_str(r);
            }
        }
        let mut block = format!("ARC-Authentication-Results:{aar}\r\n").into_bytes();
        block.extend_from_slice(self.headers.as_bytes());
        let with_aar = Headers::parse(&block)?;

        // The AMS (§4.1.2), over the header with the new AAR on top.
        let signed: Vec<String> = match &c.headers {
            Some(list) => {
                crate::dkim::sign::without_itself(list, &self.headers, "arc-message-signature")
                    .cloned()
                    .collect()
            }
            None => default_list(&self.headers),
        };
        let body_hash = self.hasher.finish().digest;
        let mut specs = vec![
            format!("a={}", algorithm.as_str()),
            "b=".to_owned(),
            format!("bh={}", B64.encode(&body_hash)),
            "c=relaxed/relaxed".to_owned(),
            format!("d={}", c.domain),
            format!("h={}", signed.join(":")),
            format!("i={instance}"),
            format!("s={}", c.selector),
        ];
        if c.timestamp {
            specs.push(format!("t={}", self.now));
        }
        let ams_unsigned = fold_specs("ARC-Message-Signature".len(), &specs);
        let raw = format!("ARC-Message-Signature:{ams_unsigned}");
        let field = HeaderField {
            name: b"ARC-Message-Signature",
            value: &raw.as_bytes()["ARC-Message-Signature:".len()..],
            raw: raw.as_bytes(),
        };
        let mut data = Vec::with_capacity(2048);
        header_data(
            &with_aar,
            &signed,
            Canonicalization::Relaxed,
            field,
            &mut data,
        );
        specs[1] = format!("b={}", B64.encode(c.key.sign(&data)?));
        let ams = fold_specs("ARC-Message-Signature".len(), &specs);

        // The AS (§4.1.3): over every set, this one last with b= empty.
        let mut specs = vec![
            format!("a={}", algorithm.as_str()),
            "b=".to_owned(),
            format!("cv={cv}"),
            format!("d={}", c.domain),
            format!("i={instance}"),
            format!("s={}", c.selector),
        ];
        if c.timestamp {
            specs.push(format!("t={}", self.now));
        }
        let as_unsigned = fold_specs("ARC-Seal".len(), &specs);
        let mut block =
            format!("ARC-Seal:{as_unsigned}\r\nARC-Message-Signature:{ams}\r\n").into_bytes();
        block.extend_from_slice(with_aar.as_bytes());
        let all = Headers::parse(&block)?;
        data.clear();
        // A seal of a failed chain covers only its own set (RFC 8617 §5.1.1): what came
        // before cannot be vouched for.
        let first = if cv == ChainValidation::Fail {
            instance
        } else {
            1
        };
        seal_input(&all, first, instance, &mut data);
        specs[1] = format!("b={}", B64.encode(c.key.sign(&data)?));
        let seal = fold_specs("ARC-Seal".len(), &specs);
        Ok(SealedSet {
            instance,
            cv,
            results: aar,
            message_signature: ams,
            seal,
        })
    }
}

/// The seal input for the set `last` (on top of `headers`): for each instance
/// `first..=last` (1, or `last` alone when sealing a failed chain),
/// the first AAR, AMS and AS found with it (a chain that failed may have gaps or
/// duplicates; what is signed is then at least deterministic), relaxed; the last AS
/// with `b=` empty and no CRLF.
fn seal_input(headers: &Headers, first: u32, last: u32, out: &mut Vec<u8>) {
    let fields: Vec<HeaderField<'_>> = headers.fields().collect();
    let find = |name: &str, i: u32| {
        fields.iter().find(|f| {
            f.is(name)
                && super::fields::instance_of(f.value, name == "ARC-Authentication-Results")
                    == Some(i)
        })
    };
    for i in first..=last {
        for name in [
            "ARC-Authentication-Results",
            "ARC-Message-Signature",
            "ARC-Seal",
        ] {
            let Some(f) = find(name, i) else { continue };
            if i == last && name == "ARC-Seal" {
                signature_field(*f, f.value, Canonicalization::Relaxed, out);
            } else {
                push_field(f, f.value, Canonicalization::Relaxed, out);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// The highest instance among the ARC fields of a header, and whether an ARC-Seal with
/// that instance says `cv=fail`.
fn latest_seal(headers: &Headers) -> (u32, bool) {
    let mut top = 0;
    let mut failed = false;
    for f in headers.fields() {
        let aar = f.is("ARC-Authentication-Results");
        if !(aar || f.is("ARC-Message-Signature") || f.is("ARC-Seal")) {
            continue;
        }
        let Some(i) = super::fields::instance_of(f.value, aar) else {
            continue;
        };
        if i > top {
            top = i;
            failed = false;
        }
        if i == top
            && f.is("ARC-Seal")
            && super::fields::ArcSeal::parse(f.value).is_ok_and(|s| s.cv == ChainValidation::Fail)
        {
            failed = true;
        }
    }
    (top, failed)
}

/// The chain as this host received the message, for a sealer that changed it after
/// validating (RFC 8617 §5.1 with [`ArcOutcome::as_received`]): the `arc=` among the
/// `recorded` results (this host's own, from arrival) decides, while the seals still
/// hold; when they hold none, the chain found `now` is used and its `arc=` added to them.
///
/// Several `arc=` results (two fields of this host, or one field saying two things)
/// count as the worst of them (fail, then none, then pass), which alone stays among the
/// results: a trial's `arc=pass` and `arc=fail` both went into the AAR, which other
/// verifiers read as a failure, while cv= said pass.
pub fn received_chain(now: &ArcOutcome, recorded: &mut Vec<String>) -> ArcOutcome {
    use super::ArcResult;
    let arc_of = |r: &str| match r.strip_prefix("arc=")?.split([' ', '(']).next()? {
        "pass" => Some(ArcResult::Pass),
        "fail" => Some(ArcResult::Fail),
        "none" => Some(ArcResult::None),
        _ => None,
    };
    let rank = |a: ArcResult| match a {
        ArcResult::Fail => 0,
        ArcResult::None => 1,
        _ => 2,
    };
    let worst = recorded
        .iter()
        .enumerate()
        .filter_map(|(i, r)| arc_of(r).map(|a| (rank(a), i, a)))
        .min_by_key(|&(rank, i, _)| (rank, i));
    if let Some((_, keep, _)) = worst {
        let mut i = 0;
        recorded.retain(|r| {
            let stays = i == keep || !r.starts_with("arc=");
            i += 1;
            stays
        });
    }
    let arc = worst.map(|(_, _, a)| a);
    let chain = now.as_received(arc);
    if arc.is_none() {
        recorded.push(match chain.result {
            super::ArcResult::Pass => format!("arc=pass header.oldest-pass={}", chain.oldest_pass),
            r => format!("arc={r}"),
        });
    }
    chain
}

/// The results recorded by `authserv_id` in the message's `Authentication-Results`
/// fields, in order, each as written (RFC 8617 §4.1.1; the consolidation the ValiMail
/// suite describes): what a sealer copies into its AAR when another process of the same
/// ADMD did the checks.
pub fn results_recorded_by(headers: &Headers, authserv_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in headers.get("Authentication-Results") {
        let mut parts = split_results(f.value).into_iter();
        let Some(id) = parts.next() else { continue };
        let id = id.split_ascii_whitespace().next().unwrap_or("");
        if id.eq_ignore_ascii_case(authserv_id) {
            out.extend(parts.filter(|p| !p.eq_ignore_ascii_case("none")));
        }
    }
    out
}
