//! Verification, RFC 6376 §6 with RFC 8301 and RFC 8463: a staged, streaming verifier.
//!
//! [`DkimVerifier::new`] takes the header (signatures are parsed and the header data
//! of each is canonicalized at once), [`DkimVerifier::body`] takes body chunks as they
//! arrive (each distinct body hash is computed once), and [`DkimVerifier::finish`]
//! fetches the keys, concurrently, and returns one [`DkimOutcome`] per signature.

use std::future::Future;
use std::pin::Pin;

use monban_dns::Resolver;

use super::body::{BodyHash, BodyHashKey, BodyHashers};
use super::canonicalization::{self, Canonicalization};
use super::crypto::VerifyError;
use super::signature::{self, Algorithm, DkimSignature, FieldNames};
use super::{DkimOutcome, DkimReason, DkimResult};
use crate::message::{HeaderField, Headers};

/// Verification settings; the defaults follow RFC 6376 and RFC 8301.
#[derive(Debug, Clone)]
pub struct DkimConfig {
    /// Signatures evaluated per message (default 5); the rest are reported `neutral`
    /// without any work, so a flood of signatures costs nothing.
    pub max_signatures: usize,
    /// Whether a signature whose `l=` leaves unsigned body content may pass (default
    /// false: such a signature is `policy`, the body-append attack, §8.2).
    pub allow_unsigned_body_content: bool,
    /// The legacy profile: accept `rsa-sha1` (default false, RFC 8301 §3.1).
    pub allow_sha1: bool,
    /// How far in the future `t=` may be, in seconds (default 300), for clock skew.
    pub max_clock_skew: u64,
    /// The signature verifier (default: aws-lc-rs).
    pub verifier: std::sync::Arc<dyn crate::crypto::SignatureVerifier>,
}

impl Default for DkimConfig {
    fn default() -> Self {
        Self {
            max_signatures: 5,
            allow_unsigned_body_content: false,
            allow_sha1: false,
            max_clock_skew: 300,
            verifier: std::sync::Arc::new(crate::crypto::AwsLc),
        }
    }
}

/// A signature being verified.
#[derive(Debug)]
struct Candidate {
    sig: DkimSignature,
    /// The canonicalized header data (§3.7), ready to verify.
    header_data: Vec<u8>,
    hasher: usize,
    header_b: String,
}

#[derive(Debug)]
enum Slot {
    Candidate(Box<Candidate>),
    Done(DkimOutcome),
}

/// The staged verifier.
#[derive(Debug)]
pub struct DkimVerifier {
    slots: Vec<Slot>,
    hashers: BodyHashers,
    now: u64,
    config: DkimConfig,
}

/// Which field each `h=` name selects (§5.4.2): instances of a name are taken from the
/// bottom of the header up, one per listing; a name listed more often than it occurs
/// selects nothing (the "null string", which is how over-signing works).
///
/// Linear in the number of fields plus the number of names: the positions of every
/// name are gathered once in a map, so a hostile `h=` of many distinct names costs no
/// more than a scan of the header (issue 9: a search per name was quadratic). Small
/// cases (at most `DIRECT_PICKS` comparisons, as nearly every real signature) compare
/// names directly, without the map's allocations.
pub fn pick_fields(
    fields: &[HeaderField<'_>],
    signed: &(impl FieldNames + ?Sized),
) -> Vec<Option<usize>> {
    pick_fields_from(fields, signed, 0)
}

/// [`pick_fields`] among the fields at position `first` and below only (the header
/// analyzer asks which fields a signature would cover without those added above it).
pub fn pick_fields_from(
    fields: &[HeaderField<'_>],
    signed: &(impl FieldNames + ?Sized),
    first: usize,
) -> Vec<Option<usize>> {
    let candidates = fields.len().saturating_sub(first);
    if candidates.saturating_mul(signed.count()) <= DIRECT_PICKS {
        pick_fields_direct(fields, signed, first)
    } else {
        pick_fields_mapped(fields, signed, first)
    }
}

/// [`pick_fields_from`] with the positions of every name gathered once in a map.
fn pick_fields_mapped(
    fields: &[HeaderField<'_>],
    signed: &(impl FieldNames + ?Sized),
    first: usize,
) -> Vec<Option<usize>> {
    use std::collections::HashMap;
    // Lowercased name → (positions, top to bottom; how many were taken).
    let mut by_name: HashMap<Vec<u8>, (Vec<usize>, usize)> = HashMap::new();
    for (i, f) in fields.iter().enumerate().skip(first) {
        by_name
            .entry(f.name.to_ascii_lowercase())
            .or_default()
            .0
            .push(i);
    }
    let mut key = Vec::new();
    signed
        .names()
        .map(|name| {
            key.clear();
            key.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
            let (positions, taken) = by_name.get_mut(key.as_slice())?;
            let pick = positions
                .len()
                .checked_sub(*taken + 1)
                .map(|i| positions[i]);
            *taken += 1;
            pick
        })
        .collect()
}

/// Up to this many (field, `h=` name) comparisons, [`pick_fields_from`] compares names
/// directly instead of building a map: a usual header and `h=` list are far below it,
/// and it bounds the work a hostile one can ask for.
const DIRECT_PICKS: usize = 4096;

/// The last position of `want` in `briefs`: eight at a time from the end, each eight
/// compared whole into a bit mask (no exit inside, so the compiler makes it one vector
/// compare), then the rest one by one.
fn last_of(briefs: &[u32], want: u32) -> Option<usize> {
    const BLOCK: usize = 8;
    let mut end = briefs.len();
    while end >= BLOCK {
        let block: &[u32; BLOCK] = briefs[end - BLOCK..end].try_into().ok()?;
        let mask = block
            .iter()
            .enumerate()
            .fold(0u32, |m, (k, &b)| m | (u32::from(b == want) << k));
        if mask != 0 {
            return Some(end - BLOCK + (31 - mask.leading_zeros()) as usize);
        }
        end -= BLOCK;
    }
    briefs[..end].iter().rposition(|&b| b == want)
}

/// [`pick_fields_from`] by comparing each `h=` name with the fields from the bottom up:
/// each name takes the lowest field of that name not yet taken (§5.4.2).
fn pick_fields_direct(
    fields: &[HeaderField<'_>],
    signed: &(impl FieldNames + ?Sized),
    first: usize,
) -> Vec<Option<usize>> {
    // Each field's name in brief (its length, first and last byte, case folded), so
    // that most comparisons are one of integers; a field taken is marked TAKEN.
    const TAKEN: u32 = 0;
    let brief = |name: &[u8]| -> u32 {
        let end = |b: Option<&u8>| u32::from(b.map_or(0, u8::to_ascii_lowercase));
        // Never TAKEN: the length's top bit is set.
        (name.len().min(0x7fff) as u32 | 0x8000) | end(name.first()) << 16 | end(name.last()) << 24
    };
    let mut briefs: Vec<u32> = fields.iter().map(|f| brief(f.name)).collect();
    let first = first.min(fields.len());
    signed
        .names()
        .map(|name| {
            let name = name.as_bytes();
            let want = brief(name);
            let mut end = briefs.len();
            let i = loop {
                let i = first + last_of(&briefs[first..end], want)?;
                if fields[i].name.eq_ignore_ascii_case(name) {
                    break i;
                }
                end = i;
            };
            briefs[i] = TAKEN;
            Some(i)
        })
        .collect()
}

/// The header data a signature covers (§3.7, §5.4.2): the `h=` fields, each picked from
/// the bottom of the header up ([`pick_fields`]), then the signature field itself with
/// `b=` emptied and no trailing CRLF.
///
/// The signature field is not among the fields its own `h=` picks from: "the
/// DKIM-Signature header field MUST NOT be included in its own h= tag" (§3.7), and a
/// signer could not have seen it, as it did not exist yet. A `dkim-signature` in `h=`
/// (or `arc-message-signature` in an AMS's) means the other fields of that name, as
/// the signer saw them.
pub fn header_data(
    headers: &Headers,
    signed: &(impl FieldNames + ?Sized),
    canon: Canonicalization,
    sig_field: HeaderField<'_>,
    out: &mut Vec<u8>,
) {
    // Sized once: the filter leaves the collect no size to go by.
    let mut fields: Vec<HeaderField<'_>> = Vec::with_capacity(headers.len());
    fields.extend(
        headers
            .fields()
            .filter(|f| !std::ptr::eq(f.raw, sig_field.raw)),
    );
    let picks = pick_fields(&fields, signed);
    for f in picks.into_iter().flatten().map(|i| &fields[i]) {
        push_field(f, f.value, canon, out);
        out.extend_from_slice(b"\r\n");
    }
    signature_field(sig_field, sig_field.value, canon, out);
}

/// Appends one selected field in `canon` form with `value` as its value (the field's
/// own, or an edited one when the header analyzer tries what an intermediary may have
/// changed), without the final CRLF: the one header-hash builder of verification,
/// signing and the failure diagnosis.
pub fn push_field(f: &HeaderField<'_>, value: &[u8], canon: Canonicalization, out: &mut Vec<u8>) {
    match canon {
        // §3.4.1: the field as it is: what precedes its value, then the value.
        Canonicalization::Simple => {
            out.extend_from_slice(&f.raw[..field_prefix_len(f)]);
            out.extend_from_slice(value);
        }
        // §3.4.2.
        Canonicalization::Relaxed => canonicalization::relaxed_header(f.name, value, out),
    }
}

/// How many bytes of `raw` come before the value (the name, the colon). The value is a
/// part of `raw` for every field [`Headers`] gives; for any other field the name and
/// a colon are assumed.
fn field_prefix_len(f: &HeaderField<'_>) -> usize {
    let raw = f.raw.as_ptr() as usize;
    let value = f.value.as_ptr() as usize;
    if value >= raw && value - raw <= f.raw.len() {
        value - raw
    } else {
        (f.name.len() + 1).min(f.raw.len())
    }
}

/// Appends the signature field itself with `value` as its value, `b=` emptied, without
/// CRLF (§3.7).
pub fn signature_field(
    sig_field: HeaderField<'_>,
    value: &[u8],
    canon: Canonicalization,
    out: &mut Vec<u8>,
) {
    let stripped = signature::strip_b(value);
    push_field(&sig_field, &stripped, canon, out);
}

/// Which signatures are evaluated when there are more than `max`: those whose `d=` is
/// the author's domain, a parent or a subdomain of it (the ones DMARC may count, RFC
/// 9989 §4.4.1; a one-label parent such as `com` never aligns and is not one of them)
/// first, then the others, each in header order (RFC 6376 §6.1 leaves the choice of
/// signatures to the verifier). Signatures of other domains put above a sender's valid
/// one can then not crowd it out; forged ones naming the author's own domain still can,
/// since telling them from the genuine one is the work the bound limits. A signature
/// that does not parse costs nothing to report and is always "evaluated".
fn chosen(
    headers: &Headers,
    parsed: &[Result<DkimSignature, signature::SignatureError>],
    max: usize,
) -> Vec<bool> {
    // A signature that does not parse is reported as such, whatever the budget.
    let mut chosen: Vec<bool> = parsed.iter().map(Result::is_err).collect();
    if parsed.iter().filter(|p| p.is_ok()).count() <= max {
        chosen.fill(true);
        return chosen;
    }
    let author = crate::dmarc::author_domain(headers).ok();
    let related = |sig: &DkimSignature| {
        author.as_deref().is_some_and(|a| {
            sig.domain.contains('.')
                && (monban_dns::is_same_or_subdomain(a, &sig.domain)
                    || monban_dns::is_same_or_subdomain(&sig.domain, a))
        })
    };
    let mut left = max;
    for first in [true, false] {
        for (c, p) in chosen.iter_mut().zip(parsed) {
            if left == 0 {
                break;
            }
            if let Ok(sig) = p
                && !*c
                && related(sig) == first
            {
                *c = true;
                left -= 1;
            }
        }
    }
    chosen
}

impl DkimVerifier {
    /// Parses every `DKIM-Signature` of the header. `now` is the current time (Unix
    /// seconds) for `t=` and `x=`.
    pub fn new(headers: &Headers, now: u64, config: DkimConfig) -> Self {
        let mut hashers = BodyHashers::new();
        let slots = Self::candidates(headers, &config, &mut hashers);
        Self {
            slots,
            hashers,
            now,
            config,
        }
    }

    /// Like [`Self::new`], with the body hashes registered in `hashers`, which the
    /// caller feeds and finishes (one pass over the body for DKIM and ARC, whose
    /// signatures often share a hash); end with [`Self::finish_hashed`].
    pub fn new_shared(
        headers: &Headers,
        now: u64,
        config: DkimConfig,
        hashers: &mut BodyHashers,
    ) -> Self {
        let slots = Self::candidates(headers, &config, hashers);
        Self {
            slots,
            hashers: BodyHashers::new(),
            now,
            config,
        }
    }

    fn candidates(headers: &Headers, config: &DkimConfig, hashers: &mut BodyHashers) -> Vec<Slot> {
        let fields: Vec<_> = headers.get("DKIM-Signature").collect();
        // Parsing is linear in the header; what the bound limits is the key lookups and
        // the signature checks.
        let parsed: Vec<_> = fields
            .iter()
            .map(|f| DkimSignature::parse(f.value))
            .collect();
        let chosen = chosen(headers, &parsed, config.max_signatures);
        let mut slots = Vec::new();
        for ((&field, parsed), chosen) in fields.iter().zip(parsed).zip(chosen) {
            if !chosen {
                slots.push(Slot::Done(DkimOutcome::unparsed(
                    DkimResult::Neutral,
                    DkimReason::NotEvaluated {
                        max: config.max_signatures,
                    },
                    field.value,
                )));
                continue;
            }
            let sig = match parsed {
                Ok(s) => s,
                Err(e) => {
                    slots.push(Slot::Done(DkimOutcome::unparsed(
                        DkimResult::Permerror,
                        DkimReason::BadSignature(e),
                        field.value,
                    )));
                    continue;
                }
            };
            let mut data = Vec::with_capacity(1024);
            header_data(
                headers,
                &sig.signed_headers,
                sig.header_canonicalization,
                field,
                &mut data,
            );
            let hasher = hashers.index_for(BodyHashKey::new(
                sig.algorithm,
                sig.body_canonicalization,
                sig.body_length,
            ));
            // The first 8 base64 characters encode the first 6 bytes: encode only those.
            let header_b = signature::short_b(&sig.signature[..sig.signature.len().min(6)]);
            slots.push(Slot::Candidate(Box::new(Candidate {
                sig,
                header_data: data,
                hasher,
                header_b,
            })));
        }
        slots
    }

    /// The key names (`selector._domainkey.domain`) that [`Self::finish`] will ask, so a
    /// caller may start the lookups early (a cache makes them free later).
    pub fn key_names(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::Candidate(c) => {
                    Some(format!("{}._domainkey.{}", c.sig.selector, c.sig.domain))
                }
                Slot::Done(_) => None,
            })
            .collect()
    }

    /// Whether the message has no signature at all.
    pub fn is_unsigned(&self) -> bool {
        self.slots.is_empty()
    }

    /// Feeds a body chunk.
    pub fn body(&mut self, chunk: &[u8]) {
        self.hashers.update(chunk);
    }

    /// Ends the body, fetches keys and returns one outcome per signature, in header
    /// order. An unsigned message gives an empty list (the `none` result, RFC 8601).
    pub async fn finish<R: Resolver>(mut self, resolver: &R) -> Vec<DkimOutcome> {
        let hashes = std::mem::take(&mut self.hashers).finish();
        self.finish_hashed(&hashes, resolver).await
    }

    /// Ends a verifier made with [`Self::new_shared`], given the finished shared hashes.
    pub async fn finish_hashed<R: Resolver>(
        self,
        hashes: &[BodyHash],
        resolver: &R,
    ) -> Vec<DkimOutcome> {
        let now = self.now;
        let config = &self.config;
        let futures: Vec<Pin<Box<dyn Future<Output = DkimOutcome> + Send + '_>>> = self
            .slots
            .into_iter()
            .map(
                |slot| -> Pin<Box<dyn Future<Output = DkimOutcome> + Send + '_>> {
                    match slot {
                        Slot::Done(o) => Box::pin(std::future::ready(o)),
                        Slot::Candidate(c) => {
                            Box::pin(verify_one(*c, hashes, resolver, now, config))
                        }
                    }
                },
            )
            .collect();
        crate::pipeline::join_all(futures).await
    }
}

async fn verify_one<R: Resolver>(
    c: Candidate,
    hashes: &[BodyHash],
    resolver: &R,
    now: u64,
    config: &DkimConfig,
) -> DkimOutcome {
    let sig = &c.sig;
    let out = |result: DkimResult, reason: DkimReason| {
        DkimOutcome::from_signature(sig, &c.header_b, result, Some(reason))
    };
    if sig.algorithm == Algorithm::RsaSha1 && !config.allow_sha1 {
        return out(DkimResult::Policy, DkimReason::Sha1Refused);
    }
    if let Some(x) = sig.expiration
        && now > x
    {
        return out(DkimResult::Fail, DkimReason::Expired { x });
    }
    if let Some(t) = sig.timestamp
        && t > now.saturating_add(config.max_clock_skew)
    {
        return out(DkimResult::Fail, DkimReason::FutureTimestamp { t });
    }

    // §6.1.2: fetch the key and check it fits the signature; §6.1.3: body hash, then
    // the signature.
    let key = match usable_key(
        resolver,
        &sig.domain,
        &sig.selector,
        sig.algorithm,
        Some(&sig.auid()),
    )
    .await
    {
        Ok(k) => k,
        Err((result, reason)) => return out(result, reason),
    };
    let hash = &hashes[c.hasher];
    if hash.digest != sig.body_hash {
        return out(DkimResult::Fail, DkimReason::BodyHashMismatch);
    }
    if let Some(l) = sig.body_length
        && hash.canonical_length < l
    {
        return out(DkimResult::Fail, DkimReason::BodyShorterThanL { l });
    }
    let bits = match check_signature(config, &key, sig.algorithm, &c.header_data, &sig.signature) {
        Ok(bits) => bits,
        Err((result, reason)) => return out(result, reason),
    };
    let mut outcome = DkimOutcome::from_signature(sig, &c.header_b, DkimResult::Pass, None);
    outcome.key_bits = Some(bits);
    outcome.testing = key.is_testing();
    if let Some(l) = sig.body_length
        && hash.canonical_length > l
    {
        let unsigned = hash.canonical_length - l;
        if !config.allow_unsigned_body_content {
            outcome.result = DkimResult::Policy;
            outcome.reason = Some(DkimReason::UnsignedBody { l, unsigned });
            return outcome;
        }
        outcome.reason = Some(DkimReason::UnsignedBodyAllowed { l, unsigned });
    }
    if sig.algorithm == Algorithm::RsaSha1 {
        outcome.reason = Some(DkimReason::Sha1Accepted);
    } else if outcome.testing && outcome.reason.is_none() {
        outcome.reason = Some(DkimReason::Testing);
    }
    outcome
}

/// Fetches the key a signature names and checks that it may verify it (RFC 6376 §6.1.2,
/// §3.6.1): not revoked, for email, allowing the hash, of the algorithm's type, and,
/// with `t=s`, an AUID in `d=` itself (`auid` is `None` for ARC, which has no AUID). The
/// one key policy of DKIM and ARC (RFC 8617 §4.1.2, §4.1.3 reuse it).
pub(crate) async fn usable_key<R: Resolver>(
    resolver: &R,
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
    auid: Option<&str>,
) -> Result<std::sync::Arc<super::KeyRecord>, (DkimResult, DkimReason)> {
    usable_key_with(resolver, domain, selector, algorithm, auid, true).await
}

/// [`usable_key`], with the DKIM1 record tags `s=` and `h=` applied or not (DKIM2's
/// draft §6 says they are ignored).
pub(crate) async fn usable_key_with<R: Resolver>(
    resolver: &R,
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
    auid: Option<&str>,
    dkim1_tags: bool,
) -> Result<std::sync::Arc<super::KeyRecord>, (DkimResult, DkimReason)> {
    let key = match super::key::fetch_shared(resolver, domain, selector).await {
        Ok(k) => k,
        Err(e) if e.is_temporary() => return Err((DkimResult::Temperror, DkimReason::Key(e))),
        Err(e) => return Err((DkimResult::Permerror, DkimReason::Key(e))),
    };
    if key.is_revoked() {
        let name = [selector, "._domainkey.", domain].concat();
        return Err((DkimResult::Permerror, DkimReason::Revoked { name }));
    }
    if dkim1_tags && !key.allows_email() {
        return Err((DkimResult::Permerror, DkimReason::KeyNotForEmail));
    }
    if dkim1_tags && !key.allows_hash(algorithm.hash_name()) {
        return Err((
            DkimResult::Permerror,
            DkimReason::HashNotAllowed {
                hash: algorithm.hash_name(),
            },
        ));
    }
    if key.key_type.as_str() != algorithm.key_type() {
        return Err((
            DkimResult::Permerror,
            DkimReason::KeyTypeMismatch {
                key: key.key_type.as_str().to_owned(),
                algorithm: algorithm.as_str().to_owned(),
            },
        ));
    }
    if key.is_strict()
        && let Some(auid) = auid
    {
        let idomain = auid.rsplit_once('@').map_or("", |(_, d)| d);
        if !idomain.eq_ignore_ascii_case(domain) {
            return Err((DkimResult::Permerror, DkimReason::StrictIdentity));
        }
    }
    Ok(key)
}

/// Verifies `signature` over the canonicalized header `data` with `key` (RFC 6376
/// §6.1.3 step 4), mapping the crypto outcome to a result: a wrong signature is
/// `fail`, a key refused by size `policy` (RFC 8301 §3.2), an unusable key `permerror`.
/// On success, the key size in bits.
pub(crate) fn check_signature(
    config: &DkimConfig,
    key: &super::KeyRecord,
    algorithm: Algorithm,
    data: &[u8],
    signature: &[u8],
) -> Result<usize, (DkimResult, DkimReason)> {
    match config
        .verifier
        .verify(key.key_type, &key.public_key, algorithm, data, signature)
    {
        Ok(bits) => Ok(bits),
        Err(VerifyError::Mismatch) => Err((DkimResult::Fail, DkimReason::SignatureMismatch)),
        Err(e @ VerifyError::KeySize(_)) => Err((DkimResult::Policy, DkimReason::Crypto(e))),
        Err(e) => Err((DkimResult::Permerror, DkimReason::Crypto(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quadratic selection that [`pick_fields`] replaced, kept as the reference.
    fn naive(fields: &[HeaderField<'_>], signed: &[String]) -> Vec<Option<usize>> {
        let mut cursors: Vec<(String, usize)> = Vec::new();
        signed
            .iter()
            .map(|name| {
                let lower = name.to_ascii_lowercase();
                let idx = match cursors.iter().position(|(n, _)| *n == lower) {
                    Some(i) => i,
                    None => {
                        cursors.push((lower.clone(), fields.len()));
                        cursors.len() - 1
                    }
                };
                let cursor = cursors[idx].1;
                let pick = fields[..cursor]
                    .iter()
                    .rposition(|f| f.name.eq_ignore_ascii_case(lower.as_bytes()));
                cursors[idx].1 = pick.unwrap_or(0);
                pick
            })
            .collect()
    }

    /// RFC 6376 §5.4.2: bottom-up selection, over-signing selects nothing, names
    /// compared without case; the same picks as the straightforward search, on
    /// pseudo-random headers and lists.
    #[test]
    fn rfc6376_5_4_2_pick_fields_matches_the_reference() {
        // (X-A and XbA: one length, first and last byte, told apart by the rest.)
        let names = [
            "From", "to", "Subject", "X-A", "x-a", "XbA", "Received", "DATE",
        ];
        let mut random = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| (random() % n as u64) as usize;
        for _ in 0..500 {
            let mut block = Vec::new();
            // Up to 40 fields: several of `last_of`'s blocks of eight, and a rest.
            for _ in 0..next(40) {
                block.extend_from_slice(names[next(names.len())].as_bytes());
                block.extend_from_slice(b": v\r\n");
            }
            let headers = Headers::parse(&block).unwrap();
            let fields: Vec<HeaderField<'_>> = headers.fields().collect();
            let signed: Vec<String> = (0..next(15))
                .map(|_| names[next(names.len())].to_owned())
                .collect();
            let want = naive(&fields, &signed);
            assert_eq!(pick_fields(&fields, &signed), want);
            // Both ways of picking, whichever the size chooses.
            assert_eq!(pick_fields_direct(&fields, &signed, 0), want);
            assert_eq!(pick_fields_mapped(&fields, &signed, 0), want);
            let first = next(fields.len() + 1);
            assert_eq!(
                pick_fields_direct(&fields, &signed, first),
                pick_fields_mapped(&fields, &signed, first)
            );
        }
    }

    /// The block-wise search finds what `rposition` finds, for every length to 40 and
    /// every place of the last match (and none).
    #[test]
    fn last_of_is_rposition() {
        for len in 0..40 {
            for hits in 0..=len {
                // Matches at 0, 3, 6, ... below `hits`; the rest differ by one bit.
                let briefs: Vec<u32> = (0..len)
                    .map(|i| {
                        if i < hits && i % 3 == 0 {
                            7
                        } else {
                            7 ^ (1 << (i % 32))
                        }
                    })
                    .collect();
                assert_eq!(
                    last_of(&briefs, 7),
                    briefs.iter().rposition(|&b| b == 7),
                    "{briefs:?}"
                );
            }
        }
    }

    #[test]
    fn rfc6376_5_4_2_oversigned_names_select_nothing() {
        let headers = Headers::parse(b"From: a\r\nSubject: 1\r\nsubject: 2\r\n").unwrap();
        let fields: Vec<HeaderField<'_>> = headers.fields().collect();
        let signed: Vec<String> = ["subject", "SUBJECT", "Subject", "from", "from"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            pick_fields(&fields, &signed),
            vec![Some(2), Some(1), None, Some(0), None]
        );
    }
}
