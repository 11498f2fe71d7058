//! ARC chain validation, RFC 8617 §5.2, staged like DKIM verification:
//! [`ArcVerifier::new`] groups and parses the ARC sets of the header and registers each
//! AMS body hash in the hashers DKIM shares ([`crate::dkim::body::BodyHashers`]), so the
//! body is read once for every signature of the message; [`ArcVerifier::finish`] takes
//! the finished hashes, fetches keys (the DKIM key policy, RFC 8617 §4.1.2/§4.1.3) and
//! runs the steps of §5.2 in order.

use std::sync::Arc;

use monban_dns::Resolver;

use super::fields::{self, ArcSeal, ChainValidation};
use super::{ArcField, ArcOutcome, ArcReason, ArcResult, ArcSetOutcome};
use crate::authres::AuthenticationResults;
use crate::dkim::body::{BodyHash, BodyHashKey, BodyHashers};
use crate::dkim::canonicalization::Canonicalization;
use crate::dkim::signature::{Algorithm, DkimSignature, MAX_ARC_INSTANCE};
use crate::dkim::verify::{check_signature, header_data, push_field, signature_field, usable_key};
use crate::dkim::{DkimConfig, DkimReason, DkimResult, KeyRecord};
use crate::message::{HeaderField, Headers};

/// Validation settings.
#[derive(Debug, Clone)]
pub struct ArcConfig {
    /// The signature verifier (default: aws-lc-rs), shared with DKIM.
    pub verifier: Arc<dyn crate::crypto::SignatureVerifier>,
    /// How long the chain's keys may take in all (default [`KEYS_TIME_LIMIT`]): past
    /// it a key not at hand is not looked up, and its set fails as `temperror`.
    pub time_limit: std::time::Duration,
}

impl Default for ArcConfig {
    fn default() -> Self {
        Self {
            verifier: Arc::new(crate::crypto::AwsLc),
            time_limit: KEYS_TIME_LIMIT,
        }
    }
}

/// The most distinct AMS body hashes (canonicalization, hash, `l=`) one chain may ask
/// for: each is a pass over the body, and real chains use one or two.
const MAX_BODY_HASHES: usize = 4;

/// Distinct keys fetched at once when finishing (the rest, in a hostile chain of many
/// sealers, are fetched one at a time as the steps reach them, so a failure stops them).
pub(super) const KEYS_AT_ONCE: usize = 8;

/// One ARC set, parsed.
#[derive(Debug)]
struct Set {
    seal: ArcSeal,
    /// Field positions in the header: AAR, AMS, AS.
    fields: [usize; 3],
    ams: DkimSignature,
    hasher: usize,
    authserv_id: String,
    results: Option<AuthenticationResults>,
}

#[derive(Debug)]
enum State {
    None,
    Decided(ArcOutcome),
    Chain { headers: Headers, sets: Vec<Set> },
}

/// The staged validator.
#[derive(Debug)]
pub struct ArcVerifier {
    state: State,
    /// Own hashers, for a validator used alone ([`ArcVerifier::new`]).
    hashers: BodyHashers,
    config: ArcConfig,
}

fn which(f: &HeaderField<'_>) -> Option<ArcField> {
    if f.is("ARC-Seal") {
        Some(ArcField::Seal)
    } else if f.is("ARC-Message-Signature") {
        Some(ArcField::MessageSignature)
    } else if f.is("ARC-Authentication-Results") {
        Some(ArcField::Results)
    } else {
        None
    }
}

fn slot(field: ArcField) -> usize {
    match field {
        ArcField::Results => 0,
        ArcField::MessageSignature => 1,
        ArcField::Seal => 2,
    }
}

impl ArcVerifier {
    /// Reads the ARC sets of the header, with its own body hashers (feed
    /// [`Self::body`], end with [`Self::finish`]).
    pub fn new(headers: &Headers, config: ArcConfig) -> Self {
        let mut hashers = BodyHashers::new();
        let state = Self::read(headers, &mut hashers);
        Self {
            state,
            hashers,
            config,
        }
    }

    /// Like [`Self::new`], with the AMS body hashes registered in `hashers`, which the
    /// caller feeds and finishes; end with [`Self::finish_hashed`].
    pub fn new_shared(headers: &Headers, config: ArcConfig, hashers: &mut BodyHashers) -> Self {
        let state = Self::read(headers, hashers);
        Self {
            state,
            hashers: BodyHashers::new(),
            config,
        }
    }

    /// Whether the message carries no ARC field.
    pub fn is_none(&self) -> bool {
        matches!(self.state, State::None)
    }

    /// The highest instance on the message (0 without ARC), known from the header.
    pub fn instances(&self) -> u32 {
        match &self.state {
            State::None => 0,
            State::Decided(o) => o.instances,
            State::Chain { sets, .. } => sets.len() as u32,
        }
    }

    /// Feeds body bytes (own hashers only).
    pub fn body(&mut self, chunk: &[u8]) {
        self.hashers.update(chunk);
    }

    /// Steps 1 to 3 of §5.2 (collection, the latest `cv=`, structure), which need only
    /// the header.
    fn read(headers: &Headers, hashers: &mut BodyHashers) -> State {
        let mut by_instance: Vec<[Option<usize>; 3]> = Vec::new();
        let mut count = 0usize;
        let mut n = 0u32;
        for (pos, f) in headers.fields().enumerate() {
            let Some(kind) = which(&f) else { continue };
            count += 1;
            if count > 3 * MAX_ARC_INSTANCE as usize {
                return State::Decided(ArcOutcome::fail(
                    n,
                    ArcReason::TooManySets {
                        max: MAX_ARC_INSTANCE,
                    },
                    Vec::new(),
                ));
            }
            let Some(i) = fields::instance_of(f.value, kind == ArcField::Results) else {
                return State::Decided(ArcOutcome::fail(
                    n,
                    ArcReason::Malformed {
                        field: kind,
                        instance: None,
                        why: "no valid instance tag i= (1 to 50)".into(),
                    },
                    Vec::new(),
                ));
            };
            n = n.max(i);
            if by_instance.len() < i as usize {
                by_instance.resize(i as usize, [None; 3]);
            }
            let cell = &mut by_instance[i as usize - 1][slot(kind)];
            if cell.is_some() {
                return State::Decided(ArcOutcome::fail(
                    n,
                    ArcReason::Duplicate {
                        field: kind,
                        instance: i,
                    },
                    Vec::new(),
                ));
            }
            *cell = Some(pos);
        }
        if count == 0 {
            return State::None;
        }
        let fields: Vec<HeaderField<'_>> = headers.fields().collect();
        let fail = |reason| State::Decided(ArcOutcome::fail(n, reason, Vec::new()));
        // Step 2: the latest seal's cv=, when it can be read.
        if let Some(pos) = by_instance[n as usize - 1][2]
            && let Ok(seal) = ArcSeal::parse(fields[pos].value)
            && seal.cv == ChainValidation::Fail
        {
            return fail(ArcReason::LatestSealedFail { instance: n });
        }
        // Step 3: exactly one of each field per instance, 1..N without gaps, cv= by
        // position; and every field must parse.
        let mut sets = Vec::with_capacity(n as usize);
        let mut body_keys: Vec<BodyHashKey> = Vec::new();
        for (idx, cells) in by_instance.iter().enumerate() {
            let instance = idx as u32 + 1;
            let mut pos = [0usize; 3];
            for (k, field) in [
                ArcField::Results,
                ArcField::MessageSignature,
                ArcField::Seal,
            ]
            .into_iter()
            .enumerate()
            {
                match cells[k] {
                    Some(p) => pos[k] = p,
                    None => return fail(ArcReason::Missing { field, instance }),
                }
            }
            let malformed = |field, why: String| {
                State::Decided(ArcOutcome::fail(
                    n,
                    ArcReason::Malformed {
                        field,
                        instance: Some(instance),
                        why,
                    },
                    Vec::new(),
                ))
            };
            let seal = match ArcSeal::parse(fields[pos[2]].value) {
                Ok(s) => s,
                Err(e) => return malformed(ArcField::Seal, e.to_string()),
            };
            let expected = if instance == 1 {
                ChainValidation::None
            } else {
                ChainValidation::Pass
            };
            if seal.cv != expected {
                return fail(ArcReason::WrongCv {
                    instance,
                    cv: seal.cv,
                });
            }
            let ams = match DkimSignature::parse_arc_message(fields[pos[1]].value) {
                Ok((s, _)) => s,
                Err(e) => return malformed(ArcField::MessageSignature, e.to_string()),
            };
            let payload = match fields::aar_instance(fields[pos[0]].value) {
                Ok((_, rest)) => rest,
                Err(e) => return malformed(ArcField::Results, e.to_string()),
            };
            let results = AuthenticationResults::parse(payload).ok();
            let authserv_id = results.as_ref().map_or_else(
                || {
                    fields::split_results(payload)
                        .into_iter()
                        .next()
                        .unwrap_or_default()
                },
                |r| r.authserv_id.clone(),
            );
            let key = BodyHashKey::new(ams.algorithm, ams.body_canonicalization, ams.body_length);
            if !body_keys.contains(&key) {
                if body_keys.len() >= MAX_BODY_HASHES {
                    return malformed(
                        ArcField::MessageSignature,
                        format!(
                            "the chain asks for more than {MAX_BODY_HASHES} different body hashes"
                        ),
                    );
                }
                body_keys.push(key);
            }
            let hasher = hashers.index_for(key);
            sets.push(Set {
                seal,
                fields: pos,
                ams,
                hasher,
                authserv_id,
                results,
            });
        }
        State::Chain {
            headers: headers.clone(),
            sets,
        }
    }

    /// Ends the body (own hashers) and validates.
    pub async fn finish<R: Resolver>(mut self, resolver: &R) -> ArcOutcome {
        let hashes = std::mem::take(&mut self.hashers).finish();
        self.finish_hashed(&hashes, resolver).await
    }

    /// Validates, given the finished shared hashes (steps 4 to 7 of §5.2).
    pub async fn finish_hashed<R: Resolver>(self, hashes: &[BodyHash], resolver: &R) -> ArcOutcome {
        let (headers, sets, taken) = match self.state {
            State::None => return ArcOutcome::none(),
            State::Decided(o) => return o,
            State::Chain { headers, mut sets } => {
                // What only the outcome needs moves there (the steps below use the
                // signatures and positions).
                let taken: Vec<(String, Option<AuthenticationResults>)> = sets
                    .iter_mut()
                    .map(|s| (std::mem::take(&mut s.authserv_id), s.results.take()))
                    .collect();
                (headers, sets, taken)
            }
        };
        let n = sets.len() as u32;
        let dkim_config = DkimConfig {
            verifier: self.config.verifier.clone(),
            ..DkimConfig::default()
        };
        let fields: Vec<HeaderField<'_>> = headers.fields().collect();
        let mut keys = Keys {
            list: Vec::new(),
            started: None,
            limit: self.config.time_limit,
        };
        // The distinct keys of the latest sets, fetched together.
        let mut wanted = Vec::new();
        for s in sets.iter().rev() {
            for k in [
                (
                    s.ams.domain.as_str(),
                    s.ams.selector.as_str(),
                    s.ams.algorithm,
                ),
                (
                    s.seal.domain.as_str(),
                    s.seal.selector.as_str(),
                    s.seal.algorithm,
                ),
            ] {
                if !wanted.contains(&k) && wanted.len() < KEYS_AT_ONCE {
                    wanted.push(k);
                }
            }
        }
        keys.prefetch(resolver, &wanted).await;

        let mut outcomes: Vec<ArcSetOutcome> = sets
            .iter()
            .zip(taken)
            .map(|(s, (authserv_id, results))| ArcSetOutcome {
                instance: s.seal.instance,
                seal_domain: s.seal.domain.clone(),
                seal_selector: s.seal.selector.clone(),
                cv: s.seal.cv,
                seal: None,
                message_domain: s.ams.domain.clone(),
                message_selector: s.ams.selector.clone(),
                message: None,
                message_reason: None,
                body_intact: hashes[s.hasher].digest == s.ams.body_hash,
                signs_from: s.ams.signed_headers.contains("from"),
                authserv_id,
                results,
            })
            .collect();

        let mut data = Vec::with_capacity(4096);
        // Steps 4 and 5: the AMS from N down; the latest must pass, the first older one
        // that does not sets oldest-pass.
        let mut oldest_pass = 0;
        let mut latest_failed = None;
        for (idx, s) in sets.iter().enumerate().rev() {
            let instance = idx as u32 + 1;
            data.clear();
            header_data(
                &headers,
                &s.ams.signed_headers,
                s.ams.header_canonicalization,
                fields[s.fields[1]],
                &mut data,
            );
            let verdict = verify_ams(s, hashes, &data, resolver, &mut keys, &dkim_config).await;
            let o = &mut outcomes[idx];
            match verdict {
                Ok(()) => o.message = Some(DkimResult::Pass),
                Err((result, reason)) => {
                    o.message = Some(result);
                    o.message_reason = Some(reason.clone());
                    if instance == n {
                        // The chain fails (step 4); the seals are still checked, so a
                        // sealer that changed the message after it validated the chain
                        // can tell the chain it received was intact
                        // ([`ArcOutcome::as_received`]).
                        latest_failed = Some(ArcReason::MessageSignature {
                            instance,
                            result,
                            reason,
                        });
                    } else {
                        oldest_pass = instance + 1;
                    }
                    break;
                }
            }
        }
        // Step 6: every seal, from N down.
        for idx in (0..sets.len()).rev() {
            let instance = idx as u32 + 1;
            data.clear();
            seal_data(&fields, &sets[..=idx], &mut data);
            let s = &sets[idx];
            let verdict = verify_with(
                resolver,
                &mut keys,
                &dkim_config,
                (&s.seal.domain, &s.seal.selector, s.seal.algorithm),
                &data,
                &s.seal.signature,
            )
            .await;
            match verdict {
                Ok(()) => outcomes[idx].seal = Some(DkimResult::Pass),
                Err((result, reason)) => {
                    outcomes[idx].seal = Some(result);
                    let seal = ArcReason::Seal {
                        instance,
                        result,
                        reason,
                    };
                    return ArcOutcome::fail(n, latest_failed.unwrap_or(seal), outcomes);
                }
            }
        }
        if let Some(reason) = latest_failed {
            return ArcOutcome::fail(n, reason, outcomes);
        }
        // Step 7.
        ArcOutcome {
            result: ArcResult::Pass,
            reason: None,
            instances: n,
            oldest_pass,
            sets: outcomes,
        }
    }
}

/// The data an ARC-Seal signs (§5.1.1): every ARC set up to and including its own, in
/// instance order, each as AAR, AMS, AS in relaxed form; the last seal with `b=` empty
/// and no final CRLF.
fn seal_data(fields: &[HeaderField<'_>], sets: &[Set], out: &mut Vec<u8>) {
    let last = sets.len() - 1;
    for (i, s) in sets.iter().enumerate() {
        for (k, &pos) in s.fields.iter().enumerate() {
            let f = &fields[pos];
            if i == last && k == 2 {
                signature_field(*f, f.value, Canonicalization::Relaxed, out);
            } else {
                push_field(f, f.value, Canonicalization::Relaxed, out);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// A key ready to use, or the result and reason it cannot be.
type KeyOutcome = Result<Arc<KeyRecord>, (DkimResult, DkimReason)>;

/// Keys fetched during one validation, by (domain, selector, algorithm). A list: a
/// chain names a few keys (at most two per instance, 100 in all), and a lookup by
/// `&str` allocates nothing.
struct Keys {
    list: Vec<((String, String, Algorithm), KeyOutcome)>,
    /// When the first keys were asked for: past `limit` the keys not at hand are not
    /// looked up.
    started: Option<std::time::Instant>,
    limit: std::time::Duration,
}

/// How long one chain's keys may take in all by default: a hostile chain of 50 sets
/// with 100 selectors answered just within the DNS timeout took minutes, one key after
/// another. A key not at hand past it is a temporary failure (its set fails,
/// `temperror` named).
pub const KEYS_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

impl Keys {
    fn find(&self, (d, s, a): (&str, &str, Algorithm)) -> Option<&KeyOutcome> {
        self.list
            .iter()
            .find(|((kd, ks, ka), _)| *ka == a && kd == d && ks == s)
            .map(|(_, r)| r)
    }

    async fn prefetch<R: Resolver>(&mut self, resolver: &R, wanted: &[(&str, &str, Algorithm)]) {
        self.started.get_or_insert_with(std::time::Instant::now);
        let futures = wanted
            .iter()
            .map(|&(d, s, a)| Box::pin(usable_key(resolver, d, s, a, None)));
        let results = crate::pipeline::join_all(futures.collect()).await;
        for (&(d, s, a), r) in wanted.iter().zip(results) {
            self.list.push(((d.to_owned(), s.to_owned(), a), r));
        }
    }

    async fn get<R: Resolver>(&mut self, resolver: &R, key: (&str, &str, Algorithm)) -> KeyOutcome {
        if let Some(r) = self.find(key) {
            return r.clone();
        }
        let (d, s, a) = key;
        let started = *self.started.get_or_insert_with(std::time::Instant::now);
        let r = if started.elapsed() >= self.limit {
            Err((
                DkimResult::Temperror,
                DkimReason::Key(crate::dkim::key::KeyFetchError::Temporary(
                    monban_dns::LookupError::Timeout {
                        name: format!(
                            "{s}._domainkey.{d} (not looked up: the chain's keys took more than {:.1} s)",
                            self.limit.as_secs_f64()
                        ),
                    },
                )),
            ))
        } else {
            usable_key(resolver, d, s, a, None).await
        };
        self.list.push(((d.to_owned(), s.to_owned(), a), r.clone()));
        r
    }
}

/// Verifies a signature over `data` with the named key; rsa-sha1 is refused (RFC 8617
/// uses the algorithms of RFC 8301, which forbids it).
async fn verify_with<R: Resolver>(
    resolver: &R,
    keys: &mut Keys,
    config: &DkimConfig,
    key: (&str, &str, Algorithm),
    data: &[u8],
    signature: &[u8],
) -> Result<(), (DkimResult, DkimReason)> {
    if key.2 == Algorithm::RsaSha1 {
        return Err((DkimResult::Policy, DkimReason::Sha1Refused));
    }
    let record = keys.get(resolver, key).await?;
    check_signature(config, &record, key.2, data, signature).map(|_| ())
}

async fn verify_ams<R: Resolver>(
    s: &Set,
    hashes: &[BodyHash],
    data: &[u8],
    resolver: &R,
    keys: &mut Keys,
    config: &DkimConfig,
) -> Result<(), (DkimResult, DkimReason)> {
    let sig = &s.ams;
    if sig.algorithm == Algorithm::RsaSha1 {
        return Err((DkimResult::Policy, DkimReason::Sha1Refused));
    }
    let hash = &hashes[s.hasher];
    // The key first, as DKIM does (§6.1.2 before §6.1.3), so a missing key is named
    // as such even when the body changed too.
    let record = keys
        .get(resolver, (&sig.domain, &sig.selector, sig.algorithm))
        .await?;
    if hash.digest != sig.body_hash {
        return Err((DkimResult::Fail, DkimReason::BodyHashMismatch));
    }
    if let Some(l) = sig.body_length {
        if hash.canonical_length < l {
            return Err((DkimResult::Fail, DkimReason::BodyShorterThanL { l }));
        }
        // Content appended past l= is not vouched for: as DKIM's default (§8.2).
        if hash.canonical_length > l {
            return Err((
                DkimResult::Policy,
                DkimReason::UnsignedBody {
                    l,
                    unsigned: hash.canonical_length - l,
                },
            ));
        }
    }
    check_signature(config, &record, sig.algorithm, data, &sig.signature).map(|_| ())
}

/// Validates the ARC chain of a whole message held in memory (any line endings).
pub async fn verify_message<R: Resolver>(
    message: &[u8],
    resolver: &R,
    config: ArcConfig,
) -> Result<ArcOutcome, crate::dkim::MessageError> {
    let (headers, body) = crate::dkim::split_message(message)?;
    let mut v = ArcVerifier::new(&headers, config);
    v.body(&body);
    Ok(v.finish(resolver).await)
}
