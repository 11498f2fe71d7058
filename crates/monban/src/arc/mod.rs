//! Authenticated Received Chain: RFC 8617.
//!
//! Each intermediary that handles a message (a mailing list, a forwarder) records what
//! it saw in an ARC set of three fields sharing an instance number `i=`:
//!
//! - `ARC-Authentication-Results` (AAR, §4.1.1): its `Authentication-Results`;
//! - `ARC-Message-Signature` (AMS, §4.1.2): a DKIM-like signature of the message;
//! - `ARC-Seal` (AS, §4.1.3): a signature over every ARC set so far, with `cv=`, its
//!   verdict on the chain it received.
//!
//! Modules:
//! - [`fields`]: the ARC-Seal and AAR fields (the AMS parses as a DKIM signature,
//!   [`crate::dkim::DkimSignature::parse_arc_message`]);
//! - [`verify`]: chain validation (§5.2), staged like DKIM verification and sharing its
//!   body hashes, key policy and crypto;
//! - [`seal`]: adding a set (§5.1).

pub mod fields;
pub mod seal;
pub mod verify;

use std::fmt;

use crate::dkim::{DkimReason, DkimResult};

pub use fields::ChainValidation;
pub use seal::{ArcSealer, SealConfig, SealError, SealedSet};
pub use verify::{ArcConfig, ArcVerifier};

/// The chain validation status (RFC 8617 §4.4, the `arc=` result of RFC 8601 §2.7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArcResult {
    /// No ARC set.
    None,
    /// The chain validated.
    Pass,
    /// The chain is present and does not validate.
    Fail,
}

impl ArcResult {
    /// The RFC 8601 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Fail => "fail",
        }
    }

    /// The `cv=` a sealer writes for a chain with this status (§5.1.1).
    pub fn cv(self) -> ChainValidation {
        match self {
            Self::None => ChainValidation::None,
            Self::Pass => ChainValidation::Pass,
            Self::Fail => ChainValidation::Fail,
        }
    }
}

impl fmt::Display for ArcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which ARC field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArcField {
    /// `ARC-Authentication-Results`.
    Results,
    /// `ARC-Message-Signature`.
    MessageSignature,
    /// `ARC-Seal`.
    Seal,
}

impl ArcField {
    /// The field name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Results => "ARC-Authentication-Results",
            Self::MessageSignature => "ARC-Message-Signature",
            Self::Seal => "ARC-Seal",
        }
    }
}

/// Why a chain failed (RFC 8617 §5.2, by step).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArcReason {
    /// Step 1: more ARC fields or sets than a chain may have.
    TooManySets {
        /// The most sets allowed.
        max: u32,
    },
    /// An ARC field does not parse (step 3: its form is invalid).
    Malformed {
        /// Which field.
        field: ArcField,
        /// Its instance, when one could be read.
        instance: Option<u32>,
        /// What is wrong.
        why: String,
    },
    /// Step 3.1: a set has this field twice.
    Duplicate {
        /// Which field.
        field: ArcField,
        /// The instance.
        instance: u32,
    },
    /// Step 3.1/3.2: a set lacks this field (a gap in the instances included).
    Missing {
        /// Which field.
        field: ArcField,
        /// The instance.
        instance: u32,
    },
    /// Step 2: the latest seal says the chain had already failed (`cv=fail`).
    LatestSealedFail {
        /// Its instance.
        instance: u32,
    },
    /// Step 3.3: a seal's `cv=` is not the one its position requires (`none` at 1,
    /// `pass` above).
    WrongCv {
        /// The instance.
        instance: u32,
        /// The `cv=` found.
        cv: ChainValidation,
    },
    /// Step 4: the latest AMS does not verify.
    MessageSignature {
        /// The instance.
        instance: u32,
        /// The DKIM-style result.
        result: DkimResult,
        /// Why.
        reason: DkimReason,
    },
    /// The chain failed when this host received the message (its own recorded
    /// `arc=fail`), whatever it looks like now.
    RecordedFail,
    /// Step 6: a seal does not verify.
    Seal {
        /// The instance.
        instance: u32,
        /// The DKIM-style result.
        result: DkimResult,
        /// Why.
        reason: DkimReason,
    },
}

impl ArcReason {
    /// The instance the chain broke at, when one is known.
    pub fn instance(&self) -> Option<u32> {
        match self {
            Self::TooManySets { .. } | Self::RecordedFail => None,
            Self::Malformed { instance, .. } => *instance,
            Self::Duplicate { instance, .. }
            | Self::Missing { instance, .. }
            | Self::LatestSealedFail { instance }
            | Self::WrongCv { instance, .. }
            | Self::MessageSignature { instance, .. }
            | Self::Seal { instance, .. } => Some(*instance),
        }
    }
}

impl fmt::Display for ArcReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManySets { max } => write!(f, "more than {max} ARC sets"),
            Self::Malformed {
                field,
                instance: Some(i),
                why,
            } => write!(f, "{} i={i} is malformed: {why}", field.name()),
            Self::Malformed {
                field,
                instance: None,
                why,
            } => write!(f, "{} is malformed: {why}", field.name()),
            Self::Duplicate { field, instance } => {
                write!(f, "more than one {} with i={instance}", field.name())
            }
            Self::Missing { field, instance } => {
                write!(f, "no {} with i={instance}", field.name())
            }
            Self::RecordedFail => f.write_str("the chain had failed when this host received it"),
            Self::LatestSealedFail { instance } => {
                write!(
                    f,
                    "ARC-Seal i={instance} says the chain had failed (cv=fail)"
                )
            }
            Self::WrongCv { instance, cv } => write!(
                f,
                "ARC-Seal i={instance} has cv={cv}, expected cv={}",
                if *instance == 1 { "none" } else { "pass" }
            ),
            Self::MessageSignature {
                instance,
                result,
                reason,
            } => write!(
                f,
                "ARC-Message-Signature i={instance} did not verify ({result}: {reason})"
            ),
            Self::Seal {
                instance,
                result,
                reason,
            } => write!(
                f,
                "ARC-Seal i={instance} did not verify ({result}: {reason})"
            ),
        }
    }
}

/// What was found of one ARC set, for reports, the analyzer and trusted-forwarder
/// decisions. Filled for every set of a chain whose structure is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSetOutcome {
    /// `i=`.
    pub instance: u32,
    /// The sealer: the ARC-Seal's `d=`.
    pub seal_domain: String,
    /// The ARC-Seal's `s=`.
    pub seal_selector: String,
    /// The ARC-Seal's `cv=`.
    pub cv: ChainValidation,
    /// The ARC-Seal's verification, when it was evaluated (step 6 stops at the first
    /// failure).
    pub seal: Option<DkimResult>,
    /// The AMS's `d=`.
    pub message_domain: String,
    /// The AMS's `s=`.
    pub message_selector: String,
    /// The AMS's verification, when it was evaluated (steps 4 and 5).
    pub message: Option<DkimResult>,
    /// Why the AMS did not pass.
    pub message_reason: Option<DkimReason>,
    /// Whether the body that arrived still has the AMS's body hash (`bh=`): where it
    /// stops being so, a hop between this set and the next changed the body.
    pub body_intact: bool,
    /// Whether the AMS signs From (RFC 8617 does not require it; a set that does not
    /// cannot vouch for the author domain).
    pub signs_from: bool,
    /// The AAR's authserv-id.
    pub authserv_id: String,
    /// The AAR's results as the sealer wrote them (method, result, properties), when
    /// they parse.
    pub results: Option<crate::authres::AuthenticationResults>,
}

/// The outcome of ARC chain validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcOutcome {
    /// The chain validation status.
    pub result: ArcResult,
    /// Why it failed.
    pub reason: Option<ArcReason>,
    /// The highest instance number found (N; 0 without ARC).
    pub instances: u32,
    /// The oldest instance whose AMS still verifies (§5.2 step 5; 0 when all do, the
    /// `header.oldest-pass` of RFC 8617 §7.2). Meaningful on `pass`.
    pub oldest_pass: u32,
    /// The sets, instance 1 first (empty when the structure is invalid).
    pub sets: Vec<ArcSetOutcome>,
}

impl ArcOutcome {
    /// No ARC set on the message.
    pub fn none() -> Self {
        Self {
            result: ArcResult::None,
            reason: None,
            instances: 0,
            oldest_pass: 0,
            sets: Vec::new(),
        }
    }

    /// A failed chain.
    pub(crate) fn fail(instances: u32, reason: ArcReason, sets: Vec<ArcSetOutcome>) -> Self {
        Self {
            result: ArcResult::Fail,
            reason: Some(reason),
            instances,
            oldest_pass: 0,
            sets,
        }
    }

    /// Whether the chain failed only for a temporary DNS failure (a key lookup): such a
    /// chain is not sealed `cv=fail`, which would end it for every later hop.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self.reason,
            Some(
                ArcReason::MessageSignature {
                    result: DkimResult::Temperror,
                    ..
                } | ArcReason::Seal {
                    result: DkimResult::Temperror,
                    ..
                }
            )
        )
    }

    /// The sealers' domains (each set's ARC-Seal `d=`), instance 1 first.
    pub fn sealers(&self) -> Vec<String> {
        self.sets.iter().map(|s| s.seal_domain.clone()).collect()
    }

    /// The reason as text (the `Authentication-Results` comment, the JSON `reason`).
    pub fn reason_text(&self) -> Option<String> {
        self.reason.as_ref().map(ToString::to_string)
    }

    /// The chain as this host found it on arrival, for a sealer that changed the message
    /// after validating it (a list tagging the subject): `recorded` is the `arc=` result
    /// this host wrote then in its own `Authentication-Results`.
    ///
    /// A recorded `pass` stands only while the chain still holds apart from the latest
    /// AMS, which the change may have broken: every seal verifies now and the latest AMS
    /// is the only failure. Anything else keeps this outcome; a recorded `fail` is a failure
    /// whatever the chain looks like now. `cv=pass` is never given to a chain whose
    /// seals do not verify.
    pub fn as_received(&self, recorded: Option<ArcResult>) -> ArcOutcome {
        let mut o = self.clone();
        match recorded {
            Some(ArcResult::Pass) => {
                let only_latest_ams = matches!(
                    self.reason,
                    Some(ArcReason::MessageSignature { instance, .. }) if instance == self.instances
                );
                let seals_hold = !self.sets.is_empty()
                    && self.sets.iter().all(|s| s.seal == Some(DkimResult::Pass));
                if self.result == ArcResult::Fail && only_latest_ams && seals_hold {
                    o.result = ArcResult::Pass;
                    o.reason = None;
                }
            }
            Some(ArcResult::Fail) if self.result != ArcResult::Fail => {
                o.result = ArcResult::Fail;
                o.reason = Some(ArcReason::RecordedFail);
            }
            _ => {}
        }
        o
    }
}

/// The trusted-forwarder decision (RFC 8617 §7.2.1, RFC 9989 §5.3: a receiver may
/// deliver mail that fails DMARC when a sealer it trusts vouches for it).
///
/// Applies when the chain passes and the sealer of the oldest set whose AMS still
/// verifies (instance `oldest-pass`, or 1 when every AMS does) is in `trusted` (the
/// domain or a subdomain of it), its AMS signs From, and it recorded in its AAR either
/// `dmarc=pass` with `header.from` the author domain, or a `dkim=pass` whose `header.d`
/// (or the domain of `header.i`) is aligned with it (`org` is the From domain's
/// organizational domain for relaxed alignment; `None` asks for the author domain
/// itself, as `adkim=s` does). A sealer that recorded any other DMARC result for the
/// author domain vouches for nothing: its record contradicts itself (a sealer that
/// does not quote what it copies could be made to write both). Returns the sealer, its
/// instance and what it recorded.
pub fn trusted_forwarder(
    arc: &ArcOutcome,
    trusted: &[String],
    from_domain: &str,
    org: Option<&str>,
) -> Option<(String, u32, String)> {
    if arc.result != ArcResult::Pass || trusted.is_empty() {
        return None;
    }
    let set = arc.sets.get(arc.oldest_pass.max(1) as usize - 1)?;
    if !trusted
        .iter()
        .any(|t| monban_dns::is_same_or_subdomain(&set.seal_domain, t))
        || !set.signs_from
    {
        return None;
    }
    let results = set.results.as_ref()?;
    // Relaxed alignment (RFC 9989 §4.4): the same organizational domain.
    let aligned = |d: &str| {
        d.eq_ignore_ascii_case(from_domain)
            || org.is_some_and(|o| monban_dns::is_same_or_subdomain(d, o))
    };
    let about_author = |r: &&crate::authres::ResInfo| {
        r.method == "dmarc"
            && r.property("header", "from")
                .is_some_and(|f| f.eq_ignore_ascii_case(from_domain))
    };
    if results
        .results
        .iter()
        .filter(about_author)
        .any(|r| r.result != "pass")
    {
        return None;
    }
    let passes = || results.results.iter().filter(|r| r.result == "pass");
    // dmarc=pass for this author domain first: it is the sealer's own verdict, and it
    // must name the domain (a bare dmarc=pass could be about any).
    if passes().any(|r| {
        r.method == "dmarc"
            && r.property("header", "from")
                .is_some_and(|f| f.eq_ignore_ascii_case(from_domain))
    }) {
        let recorded = format!("dmarc=pass header.from={from_domain}");
        return Some((set.seal_domain.clone(), set.instance, recorded));
    }
    if let Some((r, d)) = passes().find_map(|r| {
        let d = r.property("header", "d").map(str::to_owned).or_else(|| {
            r.property("header", "i")
                .and_then(|i| i.rsplit_once('@'))
                .map(|(_, d)| d.to_owned())
        })?;
        (r.method == "dkim" && aligned(&d)).then_some((r, d))
    }) {
        let recorded = format!("{}=pass header.d={d}", r.method);
        return Some((set.seal_domain.clone(), set.instance, recorded));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::{SigningKey, split_message};
    use monban_dns::{Record, Txt, ZoneResolver};
    use std::sync::Arc as Shared;

    fn zone(keys: &[(&str, &SigningKey)]) -> ZoneResolver {
        let mut z = ZoneResolver::new();
        for (name, key) in keys {
            let record = key.key_record().unwrap().to_string();
            let strings: Vec<Vec<u8>> = record.as_bytes().chunks(255).map(<[u8]>::to_vec).collect();
            z.insert(name, Record::Txt(Txt::new(strings)), 300);
        }
        z
    }

    /// A message before any hop seals it.
    const UNSEALED: &[u8] =
        b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n";

    /// One RSA key (ARC signs with RSA only: RFC 8617 uses RFC 8301's algorithms)
    /// published for the sealers `{prefix}{i}.example`, `i` in `hops`.
    fn hops_zone(
        prefix: &str,
        hops: std::ops::RangeInclusive<usize>,
    ) -> (Shared<SigningKey>, ZoneResolver) {
        let key = Shared::new(SigningKey::generate_rsa(2048).unwrap());
        let names: Vec<String> = hops
            .map(|i| format!("arc._domainkey.{prefix}{i}.example"))
            .collect();
        let z = zone(
            &names
                .iter()
                .map(|n| (n.as_str(), &*key))
                .collect::<Vec<_>>(),
        );
        (key, z)
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Validates `message` as it arrives at `domain`, appends `footer` to its body (as a
    /// list does), seals it and returns it with the new set on top.
    fn seal(
        message: &[u8],
        footer: &[u8],
        domain: &str,
        key: &Shared<SigningKey>,
        z: &ZoneResolver,
    ) -> Vec<u8> {
        let chain = run(verify::verify_message(message, z, ArcConfig::default())).unwrap();
        let mut message = message.to_vec();
        message.extend_from_slice(footer);
        let (headers, body) = split_message(&message).unwrap();
        let config = SealConfig::new(domain, "arc", key.clone(), &format!("mx.{domain}"));
        let mut s = ArcSealer::new(headers, config, 1_700_000_000).unwrap();
        s.body(&body);
        let set = s
            .finish(&chain, &["spf=pass smtp.mailfrom=a@example.com".to_owned()])
            .unwrap();
        let mut out = set.header_lines().into_bytes();
        out.extend_from_slice(&message);
        out
    }

    /// A chain's keys take at most [`ArcConfig::time_limit`] in all: past it the keys
    /// not at hand are not looked up and the chain fails, `temperror` named (a chain of
    /// 50 sets and 100 selectors answered just within the DNS timeout took minutes).
    /// Here 12 sealers, each key answered after 60 ms: the first 8 keys are fetched
    /// together (480 ms here: this resolver blocks), past a limit of 100 ms; the rest
    /// are not looked up. With the default limit the same chain passes.
    #[test]
    fn a_chain_s_keys_stop_at_the_time_limit() {
        struct Slow(ZoneResolver, std::sync::atomic::AtomicUsize);
        impl monban_dns::Resolver for Slow {
            async fn lookup(
                &self,
                name: &str,
                rtype: monban_dns::RecordType,
            ) -> monban_dns::Lookup {
                self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(60));
                self.0.lookup_now(name, rtype)
            }
        }
        let (key, z) = hops_zone("h", 0..=11);
        let mut message = UNSEALED.to_vec();
        for i in 0..12 {
            message = seal(&message, b"", &format!("h{i}.example"), &key, &z);
        }
        let slow = Slow(z, std::sync::atomic::AtomicUsize::new(0));
        let config = ArcConfig {
            time_limit: std::time::Duration::from_millis(100),
            ..ArcConfig::default()
        };
        let v = run(verify::verify_message(&message, &slow, config)).unwrap();
        assert_eq!(v.result, ArcResult::Fail, "{v:?}");
        assert!(format!("{v:?}").contains("took more than 0.1 s"), "{v:?}");
        assert_eq!(
            slow.1.load(std::sync::atomic::Ordering::SeqCst),
            verify::KEYS_AT_ONCE
        );
        let slow = Slow(slow.0, std::sync::atomic::AtomicUsize::new(0));
        let v = run(verify::verify_message(
            &message,
            &slow,
            ArcConfig::default(),
        ))
        .unwrap();
        assert_eq!((v.result, v.instances), (ArcResult::Pass, 12), "{v:?}");
        assert_eq!(slow.1.load(std::sync::atomic::Ordering::SeqCst), 12);
    }

    /// The AMS `h=` never names the ARC-Message-Signature being created (RFC 8617
    /// §4.1.2 follows RFC 6376 §3.5; a trial's `--headers from:arc-message-signature`
    /// passed monban and failed dkimpy and Mail::DKIM), and the default list names at
    /// most [`seal::MAX_SEALED_DKIM`] DKIM signatures (a sender's thousand made the
    /// list too long to seal at all). Both chains validate.
    #[test]
    fn the_ams_names_neither_itself_nor_every_dkim_signature() {
        let (key, z) = hops_zone("l", 1..=1);
        // The AMS's h=, as monban reads it.
        let h_of = |sealed: &[u8]| {
            let (headers, _) = split_message(sealed).unwrap();
            let ams = headers.get("arc-message-signature").next().unwrap();
            let (sig, _) = crate::dkim::DkimSignature::parse_arc_message(ams.value).unwrap();
            sig.signed_headers
                .iter()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        };
        let seal_with = |message: &[u8], headers: Option<Vec<String>>| {
            let (hdrs, body) = split_message(message).unwrap();
            let mut config = SealConfig::new("l1.example", "arc", key.clone(), "mx.l1.example");
            config.headers = headers;
            let mut s = ArcSealer::new(hdrs, config, 1_700_000_000).unwrap();
            s.body(&body);
            let chain = run(verify::verify_message(message, &z, ArcConfig::default())).unwrap();
            let mut out = s.finish(&chain, &[]).unwrap().header_lines().into_bytes();
            out.extend_from_slice(message);
            out
        };
        let listed = seal_with(
            UNSEALED,
            Some(vec!["from".into(), "arc-message-signature".into()]),
        );
        assert_eq!(h_of(&listed), ["from"]);
        let v = run(verify::verify_message(&listed, &z, ArcConfig::default())).unwrap();
        assert_eq!(v.result, ArcResult::Pass, "{v:?}");
        let flood = [
            "DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\n"
                .repeat(990)
                .as_bytes(),
            UNSEALED,
        ]
        .concat();
        let sealed = seal_with(&flood, None);
        let dkim = h_of(&sealed)
            .iter()
            .filter(|n| *n == "dkim-signature")
            .count();
        assert_eq!(dkim, seal::MAX_SEALED_DKIM);
        let v = run(verify::verify_message(&sealed, &z, ArcConfig::default())).unwrap();
        assert_eq!(v.result, ArcResult::Pass, "{v:?}");
    }

    /// Several recorded `arc=` results count as the worst, which alone goes on to the
    /// AAR (a trial's `arc=pass` and `arc=fail` both went in, while cv= said pass).
    #[test]
    fn several_recorded_arc_results_count_as_the_worst() {
        let mut now = ArcOutcome::none();
        now.result = ArcResult::Pass;
        now.instances = 1;
        let mut recorded: Vec<String> = [
            "spf=pass smtp.mailfrom=a@example.com",
            "arc=pass",
            "dkim=pass header.d=example.com",
            "arc=fail (seal)",
        ]
        .map(str::to_owned)
        .to_vec();
        let chain = seal::received_chain(&now, &mut recorded);
        assert_eq!(chain.result, ArcResult::Fail);
        assert_eq!(
            recorded,
            [
                "spf=pass smtp.mailfrom=a@example.com",
                "dkim=pass header.d=example.com",
                "arc=fail (seal)"
            ]
        );
        let mut one = vec!["arc=pass".to_owned()];
        assert_eq!(seal::received_chain(&now, &mut one).result, ArcResult::Pass);
        assert_eq!(one, ["arc=pass"]);
    }

    /// RFC 8617 §5.1 and §5.2 together: what monban seals, monban validates; a body
    /// changed between two sealers moves oldest-pass; a change after the last seal
    /// fails the chain; a failed chain is sealed cv=fail over its own set only, and never
    /// sealed again after that.
    #[test]
    fn rfc8617_seal_then_validate() {
        let rsa = Shared::new(SigningKey::generate_rsa(2048).unwrap());
        let fwd = Shared::new(SigningKey::generate_rsa(2048).unwrap());
        let z = zone(&[
            ("arc._domainkey.list.example", &rsa),
            ("arc._domainkey.fwd.example", &fwd),
        ]);
        let msg = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n";
        let one = seal(msg, b"", "list.example", &rsa, &z);
        let v = run(verify::verify_message(&one, &z, ArcConfig::default())).unwrap();
        assert_eq!(
            (v.result, v.instances, v.oldest_pass),
            (ArcResult::Pass, 1, 0),
            "{v:?}"
        );
        assert_eq!(v.sealers(), vec!["list.example"]);

        // The next hop adds a footer before sealing: pass, oldest-pass 2.
        let two = seal(&one, b"-- \r\nfooter\r\n", "fwd.example", &fwd, &z);
        let v = run(verify::verify_message(&two, &z, ArcConfig::default())).unwrap();
        assert_eq!(
            (v.result, v.instances, v.oldest_pass),
            (ArcResult::Pass, 2, 2),
            "{v:?}"
        );
        assert!(!v.sets[0].body_intact && v.sets[1].body_intact);
        assert_eq!(v.sealers(), vec!["list.example", "fwd.example"]);

        // A change after the last seal: the latest AMS fails.
        let mut broken = two.clone();
        broken.extend_from_slice(b"more\r\n");
        let v = run(verify::verify_message(&broken, &z, ArcConfig::default())).unwrap();
        assert_eq!(v.result, ArcResult::Fail);
        assert!(matches!(
            v.reason,
            Some(ArcReason::MessageSignature { instance: 2, .. })
        ));

        // Sealing the broken chain gives cv=fail; the result is still a failed chain,
        // and nobody may seal after it.
        let three = seal(&broken, b"", "list.example", &rsa, &z);
        assert!(String::from_utf8_lossy(&three).contains("cv=fail"));
        let v = run(verify::verify_message(&three, &z, ArcConfig::default())).unwrap();
        assert_eq!(v.result, ArcResult::Fail);
        assert_eq!(v.reason, Some(ArcReason::LatestSealedFail { instance: 3 }));
        let (headers, _) = split_message(&three).unwrap();
        let s = ArcSealer::new(
            headers,
            SealConfig::new("list.example", "arc", rsa.clone(), "mx"),
            0,
        )
        .unwrap();
        assert_eq!(
            s.finish(&v, &[]).unwrap_err(),
            SealError::ChainFailed { instance: 3 }
        );

        // Ed25519 seals are refused: ARC verifiers in use accept rsa-sha256 only.
        let ed = Shared::new(SigningKey::generate_ed25519().unwrap());
        let (headers, _) = split_message(msg).unwrap();
        assert_eq!(
            ArcSealer::new(headers, SealConfig::new("x.example", "s", ed, "mx"), 0).unwrap_err(),
            SealError::Algorithm("ed25519-sha256")
        );

        // Settings that would write a set its readers cannot parse are refused before
        // any message: an authserv-id that is not a token (written bare in the AAR, a
        // `(` opened a comment that never ended), a `;` in an AMS `h=` name (it would
        // end the tag), a list without From.
        let config = |id: &str, headers: Option<&[&str]>| {
            let mut c = SealConfig::new("list.example", "arc", rsa.clone(), id);
            c.headers = headers.map(|h| h.iter().map(|n| (*n).to_owned()).collect());
            c.check()
        };
        for id in ["a(b", "a=b", "\"q\"", "a@b", "a b", "", "a;b"] {
            assert_eq!(
                config(id, None),
                Err(SealError::AuthservId(id.into())),
                "{id:?}"
            );
        }
        assert_eq!(config("mx.list.example", None), Ok(()));
        assert_eq!(
            config("mx", Some(&["from", "to;x=1"])),
            Err(SealError::HeaderName("to;x=1".into()))
        );
        assert_eq!(
            config("mx", Some(&["subject"])),
            Err(SealError::FromNotListed)
        );
        assert_eq!(config("mx", Some(&[])), Err(SealError::FromNotListed));
        assert_eq!(config("mx", Some(&["from", "subject"])), Ok(()));
    }

    /// A chain of nine sealers, each with its own key: the keys of the latest eight
    /// (`KEYS_AT_ONCE`) are fetched together, the ninth alone when its step comes; the
    /// chain passes as it would with every key fetched at once.
    #[test]
    fn keys_fetched_at_once_are_bounded() {
        use monban_dns::{Lookup, RecordType};
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Counting {
            zone: ZoneResolver,
            in_flight: AtomicUsize,
            most: AtomicUsize,
            asked: AtomicUsize,
        }
        impl monban_dns::Resolver for Counting {
            async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(now, Ordering::SeqCst);
                self.asked.fetch_add(1, Ordering::SeqCst);
                // Lets the lookups started together all begin before any ends.
                tokio::task::yield_now().await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                self.zone.lookup_now(name, rtype)
            }
        }
        let (key, z) = hops_zone("hop", 1..=9);
        let mut message = UNSEALED.to_vec();
        let mut chains = Vec::new();
        for i in 1..=9 {
            message = seal(&message, b"", &format!("hop{i}.example"), &key, &z);
            chains.push(message.clone());
        }
        for sealers in [8u32, 9] {
            let counting = Counting {
                zone: z.clone(),
                in_flight: AtomicUsize::new(0),
                most: AtomicUsize::new(0),
                asked: AtomicUsize::new(0),
            };
            let v = run(verify::verify_message(
                &chains[sealers as usize - 1],
                &counting,
                ArcConfig::default(),
            ))
            .unwrap();
            assert_eq!((v.result, v.instances), (ArcResult::Pass, sealers), "{v:?}");
            assert_eq!(counting.asked.load(Ordering::SeqCst), sealers as usize);
            assert_eq!(
                counting.most.load(Ordering::SeqCst),
                sealers.min(verify::KEYS_AT_ONCE as u32) as usize
            );
        }
    }

    /// Hostile chains are judged without work beyond the bounds: 51 instances, a
    /// flood of ARC fields, gaps and duplicates all fail before any DNS query.
    #[test]
    fn rfc8617_5_2_structure_limits() {
        let z = ZoneResolver::new();
        let check = |header: String| {
            let msg = format!("{header}From: a@example.com\r\n\r\nx\r\n");
            run(verify::verify_message(
                msg.as_bytes(),
                &z,
                ArcConfig::default(),
            ))
            .unwrap()
        };
        let set = |i: u32| {
            format!(
                "ARC-Seal: i={i}; a=rsa-sha256; cv={}; d=x.example; s=s; b=AAAA\r\nARC-Message-Signature: i={i}; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i={i}; x.example; none\r\n",
                if i == 1 { "none" } else { "pass" }
            )
        };
        let v = check((1..=51).map(set).collect());
        assert!(matches!(
            v.reason,
            Some(ArcReason::TooManySets { .. } | ArcReason::Malformed { .. })
        ));
        let v = check(format!("{}{}", set(1), set(3)));
        assert_eq!(
            v.reason,
            Some(ArcReason::Missing {
                field: ArcField::Results,
                instance: 2
            })
        );
        let v = check(format!("{}{}", set(1), set(1)));
        assert!(matches!(v.reason, Some(ArcReason::Duplicate { .. })));
        let v = check("ARC-Authentication-Results: x.example; none\r\n".into());
        assert!(matches!(v.reason, Some(ArcReason::Malformed { .. })));
        assert_eq!(check(String::new()).result, ArcResult::None);
    }
}

#[cfg(test)]
mod trusted_forwarder_tests {
    use super::*;

    fn chain(aar: &str, signs_from: bool) -> ArcOutcome {
        ArcOutcome {
            result: ArcResult::Pass,
            reason: None,
            instances: 1,
            oldest_pass: 0,
            sets: vec![ArcSetOutcome {
                instance: 1,
                seal_domain: "lists.example.org".into(),
                seal_selector: "s".into(),
                cv: ChainValidation::None,
                seal: Some(DkimResult::Pass),
                message_domain: "lists.example.org".into(),
                message_selector: "s".into(),
                message: Some(DkimResult::Pass),
                message_reason: None,
                body_intact: true,
                signs_from,
                authserv_id: "lists.example.org".into(),
                results: crate::authres::AuthenticationResults::parse(aar.as_bytes()).ok(),
            }],
        }
    }

    /// RFC 8617 §7.2.1 as monban applies it: the sealer must be trusted (on a label
    /// boundary), its AMS must sign From, and its verdict must name the author domain.
    #[test]
    fn rfc8617_7_2_1_what_a_trusted_sealer_must_have_recorded() {
        let trusted = vec!["example.org".to_owned()];
        let from = "example.com";
        let org = Some("example.com");
        let good = chain(
            "lists.example.org; dmarc=pass header.from=example.com",
            true,
        );
        assert!(trusted_forwarder(&good, &trusted, from, org).is_some());
        // Not trusted: another domain, or one that only ends with the same letters.
        assert!(trusted_forwarder(&good, &["other.org".into()], from, org).is_none());
        assert!(trusted_forwarder(&good, &["ample.org".into()], from, org).is_none());
        // A dmarc=pass about no domain, or another domain.
        let bare = chain("lists.example.org; dmarc=pass", true);
        assert!(trusted_forwarder(&bare, &trusted, from, org).is_none());
        let other = chain(
            "lists.example.org; dmarc=pass header.from=example.net",
            true,
        );
        assert!(trusted_forwarder(&other, &trusted, from, org).is_none());
        // The AMS did not sign From: the author could have been swapped.
        let unsigned = chain(
            "lists.example.org; dmarc=pass header.from=example.com",
            false,
        );
        assert!(trusted_forwarder(&unsigned, &trusted, from, org).is_none());
        // An aligned DKIM pass counts; an unaligned one does not.
        let dkim = chain(
            "lists.example.org; dkim=pass header.d=mail.example.com",
            true,
        );
        assert!(trusted_forwarder(&dkim, &trusted, from, org).is_some());
        let third = chain(
            "lists.example.org; dkim=pass header.d=mailer.example.net",
            true,
        );
        assert!(trusted_forwarder(&third, &trusted, from, org).is_none());
        // Under adkim=s (no organizational domain given) only the author domain itself.
        assert!(trusted_forwarder(&dkim, &trusted, from, None).is_none());
        let exact = chain("lists.example.org; dkim=pass header.d=example.com", true);
        assert!(trusted_forwarder(&exact, &trusted, from, None).is_some());
        // A record that says both, in either order, vouches for nothing; a fail about
        // another domain does not matter.
        for both in [
            "lists.example.org; dmarc=fail header.from=example.com; dmarc=pass header.from=example.com",
            "lists.example.org; dmarc=pass header.from=example.com; dmarc=fail header.from=EXAMPLE.com",
            "lists.example.org; dmarc=permerror header.from=example.com; dkim=pass header.d=example.com",
        ] {
            assert!(
                trusted_forwarder(&chain(both, true), &trusted, from, org).is_none(),
                "{both}"
            );
        }
        let elsewhere = chain(
            "lists.example.org; dmarc=fail header.from=example.net; dmarc=pass header.from=example.com",
            true,
        );
        assert!(trusted_forwarder(&elsewhere, &trusted, from, org).is_some());
        // A chain that does not pass vouches for nothing.
        let mut failed = good.clone();
        failed.result = ArcResult::Fail;
        assert!(trusted_forwarder(&failed, &trusted, from, org).is_none());
    }
}
