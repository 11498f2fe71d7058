//! DomainKeys (RFC 4870, historic), verification only.
//!
//! - [`DomainKeySignature`]: the `DomainKey-Signature` field (§3.3);
//! - [`canon`]: the `simple` and `nofws` canonicalizations (§3.4);
//! - [`DomainKeysVerifier`]: the verification (§3.2, §3.5), streaming the body once.
//!
//! A signature covers the header fields *below* it (all of them, or those `h=` names,
//! every occurrence), then the body, hashed with SHA-1 and signed with RSA. The signing
//! domain `d=` must be the domain of the sending address, or a parent of it: the
//! Sender field when the signature covers one, else the From field (§3.5 step 3); the
//! key's `g=` granularity must match that address's local part. Keys live where DKIM's
//! do (`<s>._domainkey.<d>`) and are fetched and checked by DKIM's key code.
//!
//! Results are RFC 8601's (`domainkeys=` in `Authentication-Results`); DomainKeys never
//! counts for DMARC. Keys shorter than 1024 bits get `policy` (RFC 8301 §3.2 holds
//! them unsafe), where 2000s implementations would have said `pass`.

pub mod canon;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use monban_dns::Resolver;

use crate::address::parse_mailbox_list;
use crate::dkim::crypto::VerifyError;
use crate::dkim::signature::is_dns_name;
use crate::dkim::tags::{self, TagListError};
use crate::dkim::{Algorithm, DkimReason, DkimResult};
use crate::message::Headers;

pub use canon::{BodyCanonicalizer, DkCanonicalization};

/// The most `DomainKey-Signature` fields evaluated per message; the rest are `neutral`.
pub const MAX_SIGNATURES: usize = 5;

/// What is wrong with a `DomainKey-Signature` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DkSignatureError {
    /// Not UTF-8 text.
    #[error("the signature is not text")]
    NotText,
    /// The tag-list does not parse.
    #[error(transparent)]
    TagList(#[from] TagListError),
    /// A required tag is missing or empty (`b=`, `d=`, `s=`).
    #[error("the signature has no {0}= tag")]
    Missing(&'static str),
    /// `a=` other than `rsa-sha1`.
    #[error("unsupported algorithm a={0}")]
    Algorithm(String),
    /// `c=` other than `simple` or `nofws`.
    #[error("unsupported canonicalization c={0}")]
    Canonicalization(String),
    /// `q=` other than `dns`.
    #[error("unsupported query method q={0}")]
    Query(String),
    /// `d=` or `s=` is not a domain name.
    #[error("{0}= is not a domain name")]
    BadName(&'static str),
    /// `b=` is not base64.
    #[error("b= is not valid base64")]
    Base64,
}

/// A parsed `DomainKey-Signature` (RFC 4870 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainKeySignature {
    /// `d=`, lowercase.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `c=`.
    pub canonicalization: DkCanonicalization,
    /// `h=`: the field names signed, lowercase; `None` when every field below the
    /// signature is.
    pub headers: Option<Vec<String>>,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// The first 8 characters of `b=`.
    pub header_b: String,
}

impl DomainKeySignature {
    /// Parses the value of a `DomainKey-Signature` field. Defaults (§3.3): `a=rsa-sha1`,
    /// `c=simple`, `q=dns`; unknown tags are ignored.
    pub fn parse(value: &[u8]) -> Result<Self, DkSignatureError> {
        let text = std::str::from_utf8(value).map_err(|_| DkSignatureError::NotText)?;
        let list = tags::parse(text)?;
        let get = |name: &str| list.iter().find(|t| t.name == name).map(|t| t.value);
        if let Some(a) = get("a")
            && !a.eq_ignore_ascii_case("rsa-sha1")
        {
            return Err(DkSignatureError::Algorithm(a.to_owned()));
        }
        let canonicalization = match get("c").map(str::to_ascii_lowercase).as_deref() {
            None | Some("simple") => DkCanonicalization::Simple,
            Some("nofws") => DkCanonicalization::Nofws,
            Some(other) => return Err(DkSignatureError::Canonicalization(other.to_owned())),
        };
        if let Some(q) = get("q")
            && !q.eq_ignore_ascii_case("dns")
        {
            return Err(DkSignatureError::Query(q.to_owned()));
        }
        let nonempty = |name: &'static str| -> Result<String, DkSignatureError> {
            match get(name).map(tags::strip_wsp) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(DkSignatureError::Missing(name)),
            }
        };
        let b = nonempty("b")?;
        let domain = nonempty("d")?.to_ascii_lowercase();
        let selector = nonempty("s")?;
        if !is_dns_name(&domain) {
            return Err(DkSignatureError::BadName("d"));
        }
        if !is_dns_name(&selector) {
            return Err(DkSignatureError::BadName("s"));
        }
        let signature = B64
            .decode(b.as_bytes())
            .map_err(|_| DkSignatureError::Base64)?;
        // An empty h= lists nothing: every field below is signed, as without h=.
        let headers = get("h")
            .map(|h| {
                tags::strip_wsp(h)
                    .split(':')
                    .filter(|n| !n.is_empty())
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>()
            })
            .filter(|names| !names.is_empty());
        Ok(Self {
            domain,
            selector,
            canonicalization,
            headers,
            signature,
            header_b: b.chars().take(8).collect(),
        })
    }
}

/// Why a DomainKeys result is what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainKeysReason {
    /// Beyond [`MAX_SIGNATURES`]: not evaluated (`neutral`).
    NotEvaluated,
    /// The signature field does not parse (`permerror`).
    BadSignature(DkSignatureError),
    /// The signed fields hold no Sender or From address (§3.5 step 3: `permerror`).
    NoSendingAddress,
    /// `d=` is neither the sending address's domain nor a parent of it (`permerror`).
    DomainMismatch {
        /// The sending address.
        identity: String,
    },
    /// The key could not be had or may not be used (DKIM's key rules).
    Key(DkimReason),
    /// The key's `g=` does not match the sending address's local part (`permerror`).
    Granularity {
        /// The key's `g=`.
        g: String,
    },
    /// The key cannot verify (`permerror`), or is refused by size (`policy`).
    Crypto(VerifyError),
    /// The signature does not verify (`fail`).
    SignatureMismatch,
    /// A pass with a key in testing mode (`t=y`).
    Testing,
}

impl fmt::Display for DomainKeysReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEvaluated => write!(
                f,
                "not evaluated: more than {MAX_SIGNATURES} DomainKeys signatures"
            ),
            Self::BadSignature(e) => write!(f, "bad signature: {e}"),
            Self::NoSendingAddress => {
                f.write_str("the signed header has no Sender or From address")
            }
            Self::DomainMismatch { identity } => {
                write!(f, "d= is not the domain of the sending address {identity}")
            }
            Self::Key(e) => e.fmt(f),
            Self::Granularity { g } => {
                write!(f, "the key's g={g} does not match the sending address")
            }
            Self::Crypto(e) => e.fmt(f),
            Self::SignatureMismatch => f.write_str("signature did not verify"),
            Self::Testing => f.write_str("the key is in testing mode (t=y)"),
        }
    }
}

/// The outcome for one `DomainKey-Signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainKeysOutcome {
    /// The result (RFC 8601 names, as DKIM's).
    pub result: DkimResult,
    /// Why, when not a plain pass.
    pub reason: Option<DomainKeysReason>,
    /// `d=` (empty when the signature did not parse).
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `c=` (`simple` or `nofws`; empty when the signature did not parse).
    pub canonicalization: &'static str,
    /// The sending address the signature speaks for.
    pub identity: Option<String>,
    /// Which field it came from: `sender` or `from`.
    pub identity_field: Option<&'static str>,
    /// The first 8 characters of `b=`.
    pub header_b: String,
    /// The key size, when the key was used.
    pub key_bits: Option<usize>,
    /// The key says `t=y`.
    pub testing: bool,
}

impl DomainKeysOutcome {
    /// The reason as text.
    pub fn reason_text(&self) -> Option<String> {
        self.reason.as_ref().map(ToString::to_string)
    }

    fn unparsed(result: DkimResult, reason: DomainKeysReason) -> Self {
        Self {
            result,
            reason: Some(reason),
            domain: String::new(),
            selector: String::new(),
            canonicalization: "",
            identity: None,
            identity_field: None,
            header_b: String::new(),
            key_bits: None,
            testing: false,
        }
    }
}

struct Pending {
    sig: DomainKeySignature,
    identity: String,
    outcome: DomainKeysOutcome,
    hash: digest::Context,
}

enum Slot {
    Done(DomainKeysOutcome),
    Pending(Box<Pending>),
}

/// Verifies every `DomainKey-Signature` of a message: [`Self::new`] with the header,
/// [`Self::body`] for each chunk of the body, then [`Self::finish`].
pub struct DomainKeysVerifier {
    slots: Vec<Slot>,
    simple: Option<BodyCanonicalizer>,
    nofws: Option<BodyCanonicalizer>,
    out: Vec<u8>,
}

impl fmt::Debug for DomainKeysVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainKeysVerifier")
            .field("signatures", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl DomainKeysVerifier {
    /// Parses the signatures and hashes the header fields each covers.
    pub fn new(headers: &Headers) -> Self {
        let fields: Vec<_> = headers.fields().collect();
        let mut slots = Vec::new();
        let mut seen = 0;
        for (pos, field) in fields.iter().enumerate() {
            if !field.is("DomainKey-Signature") {
                continue;
            }
            seen += 1;
            if seen > MAX_SIGNATURES {
                slots.push(Slot::Done(DomainKeysOutcome::unparsed(
                    DkimResult::Neutral,
                    DomainKeysReason::NotEvaluated,
                )));
                continue;
            }
            let sig = match DomainKeySignature::parse(field.value) {
                Ok(s) => s,
                Err(e) => {
                    slots.push(Slot::Done(DomainKeysOutcome::unparsed(
                        DkimResult::Permerror,
                        DomainKeysReason::BadSignature(e),
                    )));
                    continue;
                }
            };
            slots.push(Self::prepare(sig, &fields[pos + 1..]));
        }
        let wants = |c| {
            slots.iter().any(|s| match s {
                Slot::Pending(p) => p.sig.canonicalization == c,
                Slot::Done(_) => false,
            })
        };
        let simple = wants(DkCanonicalization::Simple)
            .then(|| BodyCanonicalizer::new(DkCanonicalization::Simple));
        let nofws = wants(DkCanonicalization::Nofws)
            .then(|| BodyCanonicalizer::new(DkCanonicalization::Nofws));
        Self {
            slots,
            simple,
            nofws,
            out: Vec::new(),
        }
    }

    /// Whether the message has no `DomainKey-Signature` (nothing to do).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The fields below the signature that it covers (§3.3 `h=`, §3.4), the sending
    /// address among them, and the hash of them so far.
    fn prepare(sig: DomainKeySignature, below: &[crate::message::HeaderField<'_>]) -> Slot {
        let mut outcome = DomainKeysOutcome {
            result: DkimResult::Permerror,
            reason: None,
            domain: sig.domain.clone(),
            selector: sig.selector.clone(),
            canonicalization: sig.canonicalization.as_str(),
            identity: None,
            identity_field: None,
            header_b: sig.header_b.clone(),
            key_bits: None,
            testing: false,
        };
        let signed = signed_fields(below, sig.headers.as_deref());
        let mut data = Vec::new();
        let (mut sender, mut from) = (None, None);
        for &i in &signed {
            let f = &below[i];
            canon::header_field(f.raw, sig.canonicalization, &mut data);
            if f.is("Sender") {
                sender = Some(f.value);
            } else if f.is("From") {
                from = Some(f.value);
            }
        }
        // §3.5 step 3: the sending address is the Sender's when a Sender field is
        // signed (an unusable one is no address, not a reason to look at From).
        let first = |v: &[u8]| {
            parse_mailbox_list(v)
                .ok()
                .and_then(|l| l.into_iter().next())
                .filter(|m| !m.domain.is_empty() && !m.domain_literal)
        };
        let found = match (sender, from) {
            (Some(s), _) => first(s).map(|m| (m, "sender")),
            (None, Some(f)) => first(f).map(|m| (m, "from")),
            (None, None) => None,
        };
        let Some((mailbox, field)) = found else {
            outcome.reason = Some(DomainKeysReason::NoSendingAddress);
            return Slot::Done(outcome);
        };
        let identity = format!("{}@{}", mailbox.local_part, mailbox.domain);
        outcome.identity = Some(identity.clone());
        outcome.identity_field = Some(field);
        if !monban_dns::is_same_or_subdomain(&mailbox.domain, &sig.domain) {
            outcome.reason = Some(DomainKeysReason::DomainMismatch { identity });
            return Slot::Done(outcome);
        }
        let mut hash = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
        hash.update(&data);
        Slot::Pending(Box::new(Pending {
            sig,
            identity,
            outcome,
            hash,
        }))
    }

    /// Feeds a chunk of the body: canonicalized once per algorithm, hashed for every
    /// signature that uses it.
    pub fn body(&mut self, chunk: &[u8]) {
        for (canon, c) in [
            (DkCanonicalization::Simple, self.simple.as_mut()),
            (DkCanonicalization::Nofws, self.nofws.as_mut()),
        ] {
            let Some(c) = c else { continue };
            c.update(chunk, &mut self.out);
            feed(&mut self.slots, canon, &self.out);
        }
    }

    /// Finishes the body, fetches the keys and checks every signature.
    pub async fn finish<R: Resolver>(mut self, resolver: &R) -> Vec<DomainKeysOutcome> {
        for (canon, c) in [
            (DkCanonicalization::Simple, self.simple.as_mut()),
            (DkCanonicalization::Nofws, self.nofws.as_mut()),
        ] {
            let Some(c) = c else { continue };
            c.finish(&mut self.out);
            feed(&mut self.slots, canon, &self.out);
        }
        type Check<'r> = Pin<Box<dyn Future<Output = DomainKeysOutcome> + Send + 'r>>;
        let futures: Vec<Check<'_>> = self
            .slots
            .into_iter()
            .map(|slot| -> Check<'_> {
                match slot {
                    Slot::Done(o) => Box::pin(std::future::ready(o)),
                    Slot::Pending(p) => Box::pin(check(*p, resolver)),
                }
            })
            .collect();
        crate::pipeline::join_all(futures).await
    }
}

fn feed(slots: &mut [Slot], canon: DkCanonicalization, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    for slot in slots {
        if let Slot::Pending(p) = slot
            && p.sig.canonicalization == canon
        {
            p.hash.update(data);
        }
    }
}

/// The indexes (into `below`) of the fields a signature covers, in the order they are
/// hashed (RFC 4870 §3.3 `h=`): without `h=`, every field below the signature; with
/// it, each name's fields in the order of `h=`, a name listed once standing for every
/// field of that name, a name listed n times for its last n fields (as Mail::DKIM
/// reads the rule). Linear in the fields and names.
fn signed_fields(below: &[crate::message::HeaderField<'_>], h: Option<&[String]>) -> Vec<usize> {
    let Some(names) = h else {
        return (0..below.len()).collect();
    };
    use std::collections::HashMap;
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, f) in below.iter().enumerate() {
        by_name
            .entry(f.name_str().to_ascii_lowercase())
            .or_default()
            .push(i);
    }
    let mut listed: HashMap<&str, usize> = HashMap::new();
    for n in names {
        *listed.entry(n.as_str()).or_default() += 1;
    }
    // Walk h= from the end, taking fields from the end of each name's list.
    let mut picked: Vec<Vec<usize>> = Vec::with_capacity(names.len());
    for n in names.iter().rev() {
        let left = listed.get_mut(n.as_str()).expect("counted above");
        *left -= 1;
        let fields = by_name.get_mut(n.as_str());
        let take = match fields {
            None => Vec::new(),
            Some(v) if *left > 0 => v.pop().into_iter().collect(),
            Some(v) => std::mem::take(v),
        };
        picked.push(take);
    }
    picked.into_iter().rev().flatten().collect()
}

/// The key checks and the signature (§3.5 steps 4 and 5).
async fn check<R: Resolver>(p: Pending, resolver: &R) -> DomainKeysOutcome {
    let Pending {
        sig,
        identity,
        mut outcome,
        hash,
    } = p;
    let key = match crate::dkim::verify::usable_key(
        resolver,
        &sig.domain,
        &sig.selector,
        Algorithm::RsaSha1,
        Some(&identity),
    )
    .await
    {
        Ok(k) => k,
        Err((result, reason)) => {
            outcome.result = result;
            outcome.reason = Some(DomainKeysReason::Key(reason));
            return outcome;
        }
    };
    outcome.testing = key.is_testing();
    // g= (RFC 4870 §3.2.3): absent or empty matches every local part.
    let g = key
        .unknown
        .iter()
        .find(|(n, _)| n == "g")
        .map_or("", |(_, v)| v.as_str());
    let local = identity.rsplit_once('@').map_or("", |(l, _)| l);
    if !granularity_matches(g, local) {
        outcome.result = DkimResult::Permerror;
        outcome.reason = Some(DomainKeysReason::Granularity { g: g.to_owned() });
        return outcome;
    }
    let digest = hash.finish();
    match crate::dkim::crypto::verify_rsa_sha1_digest(&key.public_key, &digest, &sig.signature) {
        Ok(bits) => {
            outcome.key_bits = Some(bits);
            outcome.result = DkimResult::Pass;
            outcome.reason = outcome.testing.then_some(DomainKeysReason::Testing);
        }
        Err(VerifyError::Mismatch) => {
            outcome.result = DkimResult::Fail;
            outcome.reason = Some(DomainKeysReason::SignatureMismatch);
        }
        Err(e @ VerifyError::KeySize(bits)) => {
            outcome.key_bits = Some(bits);
            outcome.result = DkimResult::Policy;
            outcome.reason = Some(DomainKeysReason::Crypto(e));
        }
        Err(e) => {
            outcome.result = DkimResult::Permerror;
            outcome.reason = Some(DomainKeysReason::Crypto(e));
        }
    }
    outcome
}

/// Whether a key's `g=` matches a local part (RFC 4870 §3.2.3): one `*` matches any
/// run of characters; without one the local part must be `g` itself; empty matches
/// all (DomainKeys, unlike DKIM's old `g=`).
fn granularity_matches(g: &str, local: &str) -> bool {
    if g.is_empty() {
        return true;
    }
    match g.split_once('*') {
        Some((begin, end)) => {
            local.len() >= begin.len() + end.len()
                && local.as_bytes().starts_with(begin.as_bytes())
                && local.as_bytes().ends_with(end.as_bytes())
        }
        None => local == g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4870_3_3_signature_tags() {
        let s = DomainKeySignature::parse(
            b"a=rsa-sha1; q=dns; c=nofws; s=brisbane; d=Example.net;\r\n h=Received:From:To:Subject; b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb",
        )
        .unwrap();
        assert_eq!(s.domain, "example.net");
        assert_eq!(s.canonicalization, DkCanonicalization::Nofws);
        assert_eq!(
            s.headers.as_deref().unwrap(),
            ["received", "from", "to", "subject"]
        );
        // Defaults.
        let s = DomainKeySignature::parse(b"s=x; d=example.net; b=AAAA").unwrap();
        assert_eq!(s.canonicalization, DkCanonicalization::Simple);
        assert!(s.headers.is_none());
        for (bad, want) in [
            (
                &b"a=rsa-sha256; s=x; d=e.net; b=AAAA"[..],
                "unsupported algorithm",
            ),
            (b"c=relaxed; s=x; d=e.net; b=AAAA", "canonicalization"),
            (b"q=http; s=x; d=e.net; b=AAAA", "query"),
            (b"s=x; d=e.net", "no b="),
            (b"s=x; b=AAAA", "no d="),
            (b"d=e.net; b=AAAA", "no s="),
            (b"s=x; d=e..net; b=AAAA", "not a domain"),
            (b"s=x; d=e.net; b=A*A", "base64"),
            (b"s=x; d=e.net; b=AAAA; d=f.net", "more than once"),
        ] {
            let e = DomainKeySignature::parse(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{e} for {}", String::from_utf8_lossy(bad));
        }
    }

    /// Hostile signatures: bounded work, a clear result for each, never a pass.
    #[test]
    fn hostile_signatures() {
        let mut h = String::new();
        // A huge h= (every name unknown), a tag list over the limit, non-UTF-8 bytes,
        // then more signatures than are evaluated.
        h.push_str("DomainKey-Signature: s=x; d=example.com; b=AAAA; h=");
        h.push_str(&"x-a:".repeat(100_000));
        h.push_str("\r\n");
        h.push_str("DomainKey-Signature: s=x; d=example.com; b=AAAA");
        for i in 0..100 {
            h.push_str(&format!("; t{i}=1"));
        }
        h.push_str("\r\n");
        let mut raw = h.into_bytes();
        raw.extend_from_slice(b"DomainKey-Signature: s=x; d=ex\xffample.com; b=AAAA\r\n");
        for _ in 0..4 {
            raw.extend_from_slice(b"DomainKey-Signature: s=x; d=example.com; b=AAAA\r\n");
        }
        raw.extend_from_slice(b"From: a@example.com\r\n");
        let headers = Headers::parse(&raw).unwrap();
        let v = DomainKeysVerifier::new(&headers);
        let out = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(v.finish(&monban_dns::ZoneResolver::new()));
        assert_eq!(out.len(), 7);
        // The huge h= names no field: no sending address is signed.
        assert_eq!(out[0].reason, Some(DomainKeysReason::NoSendingAddress));
        assert!(matches!(
            out[1].reason,
            Some(DomainKeysReason::BadSignature(DkSignatureError::TagList(
                TagListError::TooMany
            )))
        ));
        assert!(matches!(
            out[2].reason,
            Some(DomainKeysReason::BadSignature(DkSignatureError::NotText))
        ));
        // No key published for the rest but the sixth and seventh: not evaluated.
        assert_eq!(out[3].result, DkimResult::Permerror);
        assert_eq!(out[5].result, DkimResult::Neutral);
        assert_eq!(out[6].reason, Some(DomainKeysReason::NotEvaluated));
        assert!(out.iter().all(|o| o.result != DkimResult::Pass));
    }

    /// An empty h= signs every field, as no h= does; a signed Sender that holds no
    /// usable address is no sending address (From is not looked at instead).
    #[test]
    fn empty_h_and_unusable_sender() {
        let s = DomainKeySignature::parse(b"s=x; d=example.com; h=; b=AAAA").unwrap();
        assert!(s.headers.is_none());
        let headers = Headers::parse(
            b"DomainKey-Signature: s=x; d=example.com; b=AAAA\r\nSender: postmaster\r\nFrom: a@example.com\r\n",
        )
        .unwrap();
        let out = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(DomainKeysVerifier::new(&headers).finish(&monban_dns::ZoneResolver::new()));
        assert_eq!(out[0].reason, Some(DomainKeysReason::NoSendingAddress));
    }

    #[test]
    fn rfc4870_3_2_3_granularity() {
        assert!(granularity_matches("", "anyone"));
        assert!(granularity_matches("*", "anyone"));
        assert!(granularity_matches("bob", "bob"));
        assert!(!granularity_matches("bob", "bobby"));
        assert!(granularity_matches("bob*", "bobby"));
        assert!(granularity_matches("*-list", "news-list"));
        assert!(!granularity_matches("a*a", "a"));
        assert!(granularity_matches("a*a", "aa"));
    }

    #[test]
    fn rfc4870_3_3_h_tag_selection() {
        let h = Headers::parse(
            b"Received: 1\r\nFrom: a@b.example\r\nReceived: 2\r\nTo: c@d.example\r\nSubject: s\r\n",
        )
        .unwrap();
        let below: Vec<_> = h.fields().collect();
        assert_eq!(signed_fields(&below, None), [0, 1, 2, 3, 4]);
        let names = |s: &str| s.split(':').map(str::to_owned).collect::<Vec<_>>();
        // A name listed once stands for all its fields, in h= order.
        assert_eq!(
            signed_fields(&below, Some(&names("from:received:subject"))),
            [1, 0, 2, 4]
        );
        // Listed twice: the last field for the later entry, the rest for the first.
        assert_eq!(
            signed_fields(&below, Some(&names("received:to:received"))),
            [0, 3, 2]
        );
        // Names with no field add nothing.
        assert_eq!(signed_fields(&below, Some(&names("x-none:to"))), [3]);
    }
}
