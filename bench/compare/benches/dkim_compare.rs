//! DKIM sign and verify throughput on the generated corpus of `src/dkim_corpus.rs`
//! (999 messages, ~74 MB: one-third each around 3 KB, 20 KB and 200 KB), relaxed/relaxed,
//! RSA-2048 and Ed25519, one core (a current-thread runtime), keys from warm caches:
//! monban against Stalwart's mail-auth, and both against the crypto + hash bound.
//!
//! The bound, per message: one signature operation with aws-lc-rs directly (RSA-2048
//! PKCS#1 v1.5 SHA-256 or Ed25519 sign or verify, over 32 bytes, the key parsed once)
//! plus SHA-256 (aws-lc-rs `digest`) over the whole message. No implementation can do
//! less: every byte must be hashed once and one signature computed or checked.
//!
//! Each criterion iteration goes over the whole corpus. Then the three contenders run
//! interleaved for `DKIM_ROUNDS` rounds (default 9), their order rotating, and a summary
//! table gives median corpus times and the medians (and ranges) of the per-round
//! ratios: on a shared machine a slow spell hits all three alike. A criterion filter
//! that matches nothing (`-- summary`) leaves the summary alone.
//!
//! Run (from bench/compare): `cargo bench --ignore-rust-version --bench dkim_compare`
//! (add `taskset -c 1` in front to pin it to one core).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use mail_auth::dkim::DomainKey;
use mail_auth::dns::TxtRecordParser;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult as MaResult, DnsCache, MessageAuthenticator, NoCache,
    Parameters, ResolverCache, TxtRecord,
};
use monban_bench_compare::dkim_corpus::{self as corpus, KeyKind, MonbanDkim, Row};
use monban_bench_compare::mail_auth_dkim::MailAuthSigners;

#[allow(dead_code)] // the ARC bound is for the ARC benchmark (crates/monban/benches/dkim.rs)
#[path = "common/dkim_bound.rs"]
mod dkim_bound;
use dkim_bound::Bound;

/// mail-auth: an authenticator that can reach nothing (127.0.0.1:53, no retries), a TXT
/// cache holding both parsed key records, and a signer per key.
struct MailAuth {
    auth: MessageAuthenticator,
    cache: KeyCache,
    signers: MailAuthSigners,
}

impl MailAuth {
    fn new(monban: &MonbanDkim) -> Self {
        let auth = {
            let _guard = monban.rt.enter();
            let config = ResolverConfig::from_name_servers(vec![NameServerConfig::udp(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            )]);
            let mut opts = ResolverOpts::default();
            opts.timeout = Duration::from_millis(100);
            opts.attempts = 0;
            MessageAuthenticator::new(config, opts).expect("hickory resolver")
        };
        let cache = KeyCache::default();
        let until = Instant::now() + Duration::from_secs(86_400);
        for kind in KeyKind::ALL {
            let record = monban.key_record(kind);
            let parsed = TxtRecord::from(DomainKey::parse_records(&[record.into_bytes()]));
            assert!(
                matches!(parsed, TxtRecord::DomainKey(_)),
                "mail-auth rejects the {} key record",
                kind.algorithm()
            );
            cache.insert(format!("{}.", kind.key_name()).into(), parsed, until);
        }
        Self {
            auth,
            cache,
            signers: MailAuthSigners::new(monban),
        }
    }

    /// Verifies one message; each signature's result.
    async fn verify(&self, message: &[u8]) -> Vec<MaResult> {
        let m = AuthenticatedMessage::parse(message).expect("mail-auth parses the message");
        self.auth
            .verify_dkim(Parameters::new(&m).with_cache(&self.cache))
            .await
            .into_iter()
            .map(|o| o.result().clone())
            .collect()
    }

    /// Verifies every message (one `block_on` for the lot); how many passed.
    fn verify_corpus<T: AsRef<[u8]>>(&self, rt: &tokio::runtime::Runtime, messages: &[T]) -> usize {
        rt.block_on(async {
            let mut pass = 0;
            for m in messages {
                if self.verify(m.as_ref()).await == [MaResult::Pass] {
                    pass += 1;
                }
            }
            pass
        })
    }

    /// Signs one message; the whole `DKIM-Signature` field (name, value, CRLF).
    fn sign(&self, message: &[u8], kind: KeyKind) -> String {
        self.signers.sign(message, kind)
    }

    /// Signs every message; the total length of the signature fields.
    fn sign_corpus<T: AsRef<[u8]>>(&self, messages: &[T], kind: KeyKind) -> usize {
        self.signers.sign_corpus(messages, kind)
    }
}

/// mail-auth's TXT cache: a map that counts misses (each would be a network query).
#[derive(Default)]
struct KeyCache {
    map: Mutex<HashMap<Box<str>, (TxtRecord, Instant)>>,
    misses: AtomicU64,
}

impl ResolverCache<Box<str>, TxtRecord> for KeyCache {
    fn get<Q>(&self, name: &Q) -> Option<TxtRecord>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.map.lock().unwrap();
        let hit = map
            .get(name)
            .and_then(|(v, until)| (*until > Instant::now()).then(|| v.clone()));
        if hit.is_none() {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    fn remove<Q>(&self, name: &Q) -> Option<TxtRecord>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.lock().unwrap().remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: Box<str>, value: TxtRecord, valid_until: Instant) {
        self.map.lock().unwrap().insert(key, (value, valid_until));
    }
}

impl DnsCache for KeyCache {
    type Txt = KeyCache;
    type Mx = NoCache;
    type Ipv4 = NoCache;
    type Ipv6 = NoCache;
    type Ptr = NoCache;

    fn txt(&self) -> Option<&Self::Txt> {
        Some(self)
    }
    fn mx(&self) -> Option<&Self::Mx> {
        None
    }
    fn ipv4(&self) -> Option<&Self::Ipv4> {
        None
    }
    fn ipv6(&self) -> Option<&Self::Ipv6> {
        None
    }
    fn ptr(&self) -> Option<&Self::Ptr> {
        None
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();

    let t0 = Instant::now();
    let messages = corpus::corpus();
    print!("{}", corpus::describe(&messages));
    let unsigned: Vec<&[u8]> = messages.iter().map(|m| m.bytes.as_slice()).collect();
    let monban = MonbanDkim::new();
    let mail_auth = MailAuth::new(&monban);
    let bound = Bound::new(&monban);

    // The verification corpora: every message signed once by monban, per key type. Both
    // libraries verify the same bytes, and must pass every message before measuring.
    let signed: Vec<(KeyKind, Vec<Vec<u8>>)> = KeyKind::ALL
        .iter()
        .map(|&kind| {
            let s: Vec<Vec<u8>> = unsigned.iter().map(|m| monban.signed(m, kind)).collect();
            (kind, s)
        })
        .collect();
    for (kind, s) in &signed {
        monban.check_all_pass(s, kind.algorithm());
        assert_eq!(
            mail_auth.verify_corpus(&monban.rt, s),
            s.len(),
            "{}: mail-auth does not pass every message monban signed",
            kind.algorithm()
        );
        // And the other way round: what mail-auth signs, both verify (every 7th
        // message).
        let cross: Vec<Vec<u8>> = unsigned
            .iter()
            .step_by(7)
            .map(|m| {
                let mut v = mail_auth.sign(m, *kind).into_bytes();
                v.extend_from_slice(m);
                v
            })
            .collect();
        monban.check_all_pass(&cross, &format!("{} signed by mail-auth", kind.algorithm()));
        assert_eq!(mail_auth.verify_corpus(&monban.rt, &cross), cross.len());
    }
    assert_eq!(
        mail_auth.cache.misses.load(Ordering::Relaxed),
        0,
        "mail-auth missed its cache: it would have queried the network"
    );
    println!(
        "setup and agreement checks: {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let rt = &monban.rt;
    let verify_monban = |s: &[Vec<u8>]| assert_eq!(monban.verify_corpus(black_box(s)), s.len());
    let verify_mail_auth =
        |s: &[Vec<u8>]| assert_eq!(mail_auth.verify_corpus(rt, black_box(s)), s.len());
    let verify_bound = |s: &[Vec<u8>], kind| bound.verify_corpus(black_box(s), kind);
    let sign_monban = |kind| {
        black_box(monban.sign_corpus(black_box(&unsigned), kind));
    };
    let sign_mail_auth = |kind| {
        black_box(mail_auth.sign_corpus(black_box(&unsigned), kind));
    };
    let sign_bound = |kind| {
        black_box(bound.sign_corpus(black_box(&unsigned), kind));
    };

    for (kind, s) in &signed {
        let mut g = c.benchmark_group(format!("dkim_verify/{}", kind.algorithm()));
        g.sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Bytes(corpus::total_bytes(s)));
        g.bench_function("monban", |b| b.iter(|| verify_monban(s)));
        g.bench_function("mail-auth", |b| b.iter(|| verify_mail_auth(s)));
        g.bench_function("bound", |b| b.iter(|| verify_bound(s, *kind)));
        g.finish();
    }
    for kind in KeyKind::ALL {
        let mut g = c.benchmark_group(format!("dkim_sign/{}", kind.algorithm()));
        g.sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Bytes(corpus::total_bytes(&unsigned)));
        g.bench_function("monban", |b| b.iter(|| sign_monban(kind)));
        g.bench_function("mail-auth", |b| b.iter(|| sign_mail_auth(kind)));
        g.bench_function("bound", |b| b.iter(|| sign_bound(kind)));
        g.finish();
    }
    c.final_summary();

    // The summary: the three contenders interleaved, round after round.
    let rounds = corpus::rounds();
    if rounds == 0 {
        return;
    }
    let mut rows = Vec::new();
    for (kind, s) in &signed {
        let t = corpus::interleave(
            rounds,
            &mut [
                &mut || verify_monban(s),
                &mut || verify_mail_auth(s),
                &mut || verify_bound(s, *kind),
            ],
        );
        rows.push(Row {
            op: "verify",
            kind: *kind,
            bytes: corpus::total_bytes(s),
            target: 0.85,
            monban: t[0].clone(),
            mail_auth: t[1].clone(),
            bound: t[2].clone(),
        });
    }
    for kind in KeyKind::ALL {
        let t = corpus::interleave(
            rounds,
            &mut [
                &mut || sign_monban(kind),
                &mut || sign_mail_auth(kind),
                &mut || sign_bound(kind),
            ],
        );
        rows.push(Row {
            op: "sign",
            kind,
            bytes: corpus::total_bytes(&unsigned),
            target: 0.95,
            monban: t[0].clone(),
            mail_auth: t[1].clone(),
            bound: t[2].clone(),
        });
    }
    assert_eq!(
        mail_auth.cache.misses.load(Ordering::Relaxed),
        0,
        "mail-auth missed its cache while measuring"
    );
    println!(
        "\nDKIM corpus times ({} messages, {:.1} MB unsigned; one core; median of {rounds} interleaved rounds; total run {:.0} s):\n",
        messages.len(),
        corpus::total_bytes(&unsigned) as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    print!("{}", corpus::summary_table(&rows, true));
}
