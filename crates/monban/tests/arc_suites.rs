//! External ARC test data, one named test per case (`../shared/suites/`):
//!
//! - `arc_validation::<id>` (and `<id>#2` for the second of a duplicated id): the
//!   ValiMail validation suite, all 175 entries; the chain validation status must be the
//!   expected `cv`;
//! - `arc_sign::<id>`: the ValiMail signing suite; the new set's AAR, AMS and AS must
//!   have the expected tags (RSA PKCS#1 v1.5 is deterministic, so `b=` matches exactly
//!   only when canonicalization and the signed data are exactly right);
//! - `arc_mail_auth::<file>`: mail-auth's real-world chains (Gmail, ietf.org), which
//!   must pass.
//!
//! Cases whose expectation follows RFC 8617 rather than an older draft are named in
//! [`RFC_8617_CASES`] with the reason.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use monban::arc::{self, ArcConfig, ArcResult, ArcSealer, SealConfig};
use monban::crypto::Signer;
use monban::dkim::crypto::KeyError;
use monban::dkim::{self, Algorithm};
use monban_dns::{Record, Txt, ZoneResolver};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

/// Cases whose expected result is the RFC 8617 one (the suite's README and the
/// collector's notes list how they changed since the older copies):
const RFC_8617_CASES: &[(&str, &str)] = &[
    (
        "cv_fail_i1_as_cv_fail",
        "empty expected cv: the latest seal says cv=fail, so §5.2 step 2 gives fail",
    ),
    (
        "cv_fail_i2_as2_fail",
        "empty expected cv: the latest seal says cv=fail, so §5.2 step 2 gives fail",
    ),
    (
        "cv_fail_i2_as1_fail",
        "empty expected cv: a seal with cv=fail breaks the structure (§5.2 step 3.3): fail",
    ),
    (
        "ams_fields_a_sha1",
        "fail: rsa-sha1 is refused (RFC 8301 §3.1, the algorithms RFC 8617 uses); older copies said pass",
    ),
    (
        "as_fields_a_sha1",
        "fail: rsa-sha1 is refused (RFC 8301 §3.1); older copies said pass",
    ),
    (
        "ams_fields_c_na",
        "pass: c= is optional; an AMS without it is read as relaxed/relaxed, the only canonicalization of the ARC drafts (dkimpy does the same), not DKIM's simple/simple; older copies said fail",
    ),
    (
        "as_fields_b_512",
        "fail: a 512-bit key is refused (RFC 8301 §3.2)",
    ),
];

#[path = "support/suites.rs"]
mod suites;
use suites::read;

/// A map read as a list of entries, duplicates kept (four validation ids repeat).
struct Entries<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct ValidationScenario {
    description: String,
    tests: Entries<ValidationTest>,
    #[serde(rename = "txt-records", default)]
    txt_records: HashMap<String, String>,
}

#[derive(Deserialize)]
struct ValidationTest {
    message: String,
    cv: String,
}

#[derive(Deserialize)]
struct SignScenario {
    tests: Entries<SignTest>,
    domain: String,
    sel: String,
    privatekey: String,
    #[serde(rename = "txt-records")]
    txt_records: HashMap<String, String>,
}

#[derive(Deserialize)]
struct SignTest {
    message: String,
    t: u64,
    #[serde(rename = "sig-headers")]
    sig_headers: String,
    #[serde(rename = "srv-id")]
    srv_id: String,
    #[serde(rename = "AS")]
    seal: String,
    #[serde(rename = "AMS")]
    ams: String,
    #[serde(rename = "AAR")]
    aar: String,
}

fn zone_from(map: &HashMap<String, String>) -> ZoneResolver {
    let mut z = ZoneResolver::new();
    for (name, txt) in map {
        // YAML folding leaves spaces and newlines inside the base64: a DNS TXT value
        // carries what was published, and key records ignore white space in p=.
        let strings: Vec<Vec<u8>> = txt
            .trim()
            .as_bytes()
            .chunks(255)
            .map(<[u8]>::to_vec)
            .collect();
        z.insert(name, Record::Txt(Txt::new(strings)), 300);
    }
    z
}

/// LF → CRLF, as the suite's harnesses do.
fn crlf(message: &str) -> Vec<u8> {
    message
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn validate(message: &[u8], zone: &ZoneResolver) -> Result<arc::ArcOutcome, Failed> {
    block_on(arc::verify::verify_message(
        message,
        zone,
        ArcConfig::default(),
    ))
    .map_err(|e| format!("message does not parse: {e}").into())
}

fn validation_trials() -> Vec<Trial> {
    let text = String::from_utf8(read("arc-valimail/arc-draft-validation-tests.yml")).unwrap();
    let mut trials = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let scenario = ValidationScenario::deserialize(doc).expect("scenario");
        let zone = Arc::new(zone_from(&scenario.txt_records));
        for (id, test) in scenario.tests.0 {
            let n = seen.entry(id.clone()).or_default();
            *n += 1;
            let name = if *n == 1 {
                format!("arc_validation::{id}")
            } else {
                format!("arc_validation::{id}#{n}")
            };
            let want = match test.cv.trim().to_ascii_lowercase().as_str() {
                "pass" => ArcResult::Pass,
                "none" => ArcResult::None,
                // "" (three cases): RFC 8617 gives fail, see RFC_8617_CASES.
                "fail" | "" => ArcResult::Fail,
                other => panic!("{id}: unknown cv {other:?}"),
            };
            let zone = zone.clone();
            let scenario_name = scenario.description.clone();
            let message = crlf(&test.message);
            trials.push(Trial::test(name, move || {
                let out = validate(&message, &zone)?;
                if out.result == want {
                    Ok(())
                } else {
                    Err(format!(
                        "[{scenario_name}] expected {want}, got {} ({:?})",
                        out.result,
                        out.reason_text()
                    )
                    .into())
                }
            }));
        }
    }
    trials
}

/// A header value as a set of tags: white space removed, split at `;`.
fn tag_set(value: &str) -> BTreeSet<String> {
    let squeezed: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The suite's 1024-bit RSA key as a [`Signer`]. monban refuses to sign with less than
/// 2048 bits (RFC 8301 §3.2) and aws-lc-rs cannot load such a key, so the test signs
/// with its own small RSA (RFC 8017 §8.2.1 RSASSA-PKCS1-v1_5: EMSA encoding, then
/// m^d mod n by Montgomery multiplication). Its signatures are checked by aws-lc-rs
/// verification below, and the suite's `b=` values are the reference.
#[derive(Debug)]
struct LegacyRsa {
    n: Vec<u64>,
    d: Vec<u64>,
}

/// Reads DER INTEGERs from a PKCS#1 RSAPrivateKey (RFC 8017 A.1.2): version, n, e, d.
fn der_integers(der: &[u8]) -> Vec<Vec<u8>> {
    fn element(data: &[u8], pos: usize) -> (u8, usize, usize) {
        let tag = data[pos];
        let mut len = data[pos + 1] as usize;
        let mut start = pos + 2;
        if len & 0x80 != 0 {
            let n = len & 0x7f;
            len = data[start..start + n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            start += n;
        }
        (tag, start, start + len)
    }
    let (tag, mut pos, end) = element(der, 0);
    assert_eq!(tag, 0x30, "PKCS#1: not a SEQUENCE");
    let mut out = Vec::new();
    while pos < end && out.len() < 4 {
        let (tag, start, stop) = element(der, pos);
        assert_eq!(tag, 0x02, "PKCS#1: not an INTEGER");
        out.push(der[start..stop].to_vec());
        pos = stop;
    }
    out
}

/// Big-endian bytes → little-endian 64-bit limbs, `limbs` long.
fn limbs(bytes: &[u8], limbs: usize) -> Vec<u64> {
    let mut out = vec![0u64; limbs];
    for (i, &b) in bytes.iter().rev().enumerate() {
        if b != 0 {
            out[i / 8] |= (b as u64) << (8 * (i % 8));
        }
    }
    out
}

/// a >= b, both `len` limbs.
fn ge(a: &[u64], b: &[u64]) -> bool {
    for i in (0..a.len()).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

fn sub_in_place(a: &mut [u64], b: &[u64]) {
    let mut borrow = 0u64;
    for i in 0..a.len() {
        let (x, b1) = a[i].overflowing_sub(b[i]);
        let (y, b2) = x.overflowing_sub(borrow);
        a[i] = y;
        borrow = u64::from(b1 || b2);
    }
}

/// Montgomery product a·b·R⁻¹ mod n (CIOS), with n0 = -n⁻¹ mod 2^64.
fn mont_mul(a: &[u64], b: &[u64], n: &[u64], n0: u64) -> Vec<u64> {
    let s = n.len();
    let mut t = vec![0u64; s + 2];
    for &ai in a {
        let mut carry = 0u128;
        for j in 0..s {
            let v = t[j] as u128 + ai as u128 * b[j] as u128 + carry;
            t[j] = v as u64;
            carry = v >> 64;
        }
        let v = t[s] as u128 + carry;
        t[s] = v as u64;
        t[s + 1] = (v >> 64) as u64;
        let m = t[0].wrapping_mul(n0);
        let mut carry = (t[0] as u128 + m as u128 * n[0] as u128) >> 64;
        for j in 1..s {
            let v = t[j] as u128 + m as u128 * n[j] as u128 + carry;
            t[j - 1] = v as u64;
            carry = v >> 64;
        }
        let v = t[s] as u128 + carry;
        t[s - 1] = v as u64;
        t[s] = t[s + 1] + (v >> 64) as u64;
    }
    let mut r: Vec<u64> = t[..s].to_vec();
    if t[s] != 0 || ge(&r, n) {
        sub_in_place(&mut r, n);
    }
    r
}

impl LegacyRsa {
    fn from_pem(pem: &str) -> Self {
        use base64::Engine as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .expect("PEM base64");
        let ints = der_integers(&der);
        let n_bytes: &[u8] = {
            let n = &ints[1];
            let zeros = n.iter().take_while(|&&b| b == 0).count();
            &n[zeros..]
        };
        let len = n_bytes.len().div_ceil(8);
        Self {
            n: limbs(n_bytes, len),
            d: limbs(&ints[3], len),
        }
    }

    fn modulus_bytes(&self) -> usize {
        let top = self.n.iter().rposition(|&l| l != 0).unwrap_or(0);
        top * 8 + (64 - self.n[top].leading_zeros() as usize).div_ceil(8)
    }

    /// m^d mod n.
    fn private(&self, m: &[u64]) -> Vec<u64> {
        let n = &self.n;
        let s = n.len();
        // n0 = -n⁻¹ mod 2^64 by Newton's iteration.
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        let n0 = inv.wrapping_neg();
        // R² mod n, by doubling 1 2·64·s times.
        let mut r2 = vec![0u64; s];
        r2[0] = 1;
        for _ in 0..2 * 64 * s {
            let top = r2[s - 1] >> 63;
            for i in (1..s).rev() {
                r2[i] = (r2[i] << 1) | (r2[i - 1] >> 63);
            }
            r2[0] <<= 1;
            if top == 1 || ge(&r2, n) {
                sub_in_place(&mut r2, n);
            }
        }
        let mut one = vec![0u64; s];
        one[0] = 1;
        let base = mont_mul(m, &r2, n, n0);
        let mut acc = mont_mul(&one, &r2, n, n0);
        for i in (0..s * 64).rev() {
            acc = mont_mul(&acc, &acc, n, n0);
            if (self.d[i / 64] >> (i % 64)) & 1 == 1 {
                acc = mont_mul(&acc, &base, n, n0);
            }
        }
        mont_mul(&acc, &one, n, n0)
    }
}

impl Signer for LegacyRsa {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha256
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        // EMSA-PKCS1-v1_5 (RFC 8017 §9.2) with the SHA-256 DigestInfo.
        const PREFIX: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        let k = self.modulus_bytes();
        let digest = monban::crypto::hash(monban::crypto::HashAlgorithm::Sha256, data);
        let mut em = vec![0xffu8; k];
        em[0] = 0;
        em[1] = 1;
        let t_len = PREFIX.len() + digest.len();
        em[k - t_len - 1] = 0;
        em[k - t_len..k - digest.len()].copy_from_slice(&PREFIX);
        em[k - digest.len()..].copy_from_slice(&digest);
        let s = self.private(&limbs(&em, self.n.len()));
        let mut out = vec![0u8; k];
        for (i, byte) in out.iter_mut().rev().enumerate() {
            *byte = (s[i / 8] >> (8 * (i % 8))) as u8;
        }
        Ok(out)
    }
}

fn sign_trials() -> Vec<Trial> {
    let text = String::from_utf8(read("arc-valimail/arc-draft-sign-tests.yml")).unwrap();
    let mut trials = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let scenario = SignScenario::deserialize(doc).expect("scenario");
        let zone = Arc::new(zone_from(&scenario.txt_records));
        let key: Arc<LegacyRsa> = Arc::new(LegacyRsa::from_pem(&scenario.privatekey));
        for (id, test) in scenario.tests.0 {
            let zone = zone.clone();
            let key = key.clone();
            let domain = scenario.domain.clone();
            let sel = scenario.sel.clone();
            trials.push(Trial::test(format!("arc_sign::{id}"), move || {
                let message = crlf(&test.message);
                let chain = validate(&message, &zone)?;
                let (headers, body) = dkim::split_message(&message).map_err(|e| e.to_string())?;
                let results = arc::seal::results_recorded_by(&headers, &test.srv_id);
                let mut config = SealConfig::new(&domain, &sel, key, &test.srv_id);
                config.headers = Some(test.sig_headers.split(':').map(str::to_owned).collect());
                let mut sealer =
                    ArcSealer::new(headers, config, test.t).map_err(|e| e.to_string())?;
                sealer.body(&body);
                let expect_nothing = test.seal.trim().is_empty();
                match sealer.finish(&chain, &results) {
                    Err(e) if expect_nothing => {
                        let _ = e;
                        Ok(())
                    }
                    Err(e) => Err(format!("sealing failed: {e}").into()),
                    Ok(set) if expect_nothing => {
                        Err(format!("expected no new set, got i={}", set.instance).into())
                    }
                    Ok(set) => {
                        let mut problems = Vec::new();
                        for (what, got, want) in [
                            ("AAR", &set.results, &test.aar),
                            ("AMS", &set.message_signature, &test.ams),
                            ("AS", &set.seal, &test.seal),
                        ] {
                            let (g, w) = (tag_set(got), tag_set(want));
                            if g != w {
                                let extra: Vec<_> = g.difference(&w).collect();
                                let missing: Vec<_> = w.difference(&g).collect();
                                problems.push(format!(
                                    "{what}: unexpected {extra:?}, missing {missing:?}"
                                ));
                            }
                        }
                        if problems.is_empty() {
                            Ok(())
                        } else {
                            Err(problems.join("\n").into())
                        }
                    }
                }
            }));
        }
    }
    trials
}

/// mail-auth's format: `name TXT-value` lines, a blank line, the message (LF).
fn mail_auth_trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for file in ["001.txt", "002.txt"] {
        trials.push(Trial::test(format!("arc_mail_auth::{file}"), move || {
            let text = String::from_utf8(read(&format!("mail-auth-resources/arc/{file}")))
                .map_err(|e| e.to_string())?;
            let (dns, message) = text.split_once("\n\n").ok_or("no blank line")?;
            let mut map = HashMap::new();
            for line in dns.lines() {
                let (name, value) = line.split_once(' ').ok_or("bad DNS line")?;
                map.insert(name.to_owned(), value.to_owned());
            }
            let zone = zone_from(&map);
            let message = crlf(message);
            let out = validate(&message, &zone)?;
            if out.result != ArcResult::Pass {
                return Err(format!(
                    "expected pass, got {} ({:?})",
                    out.result,
                    out.reason_text()
                )
                .into());
            }
            // At least one DKIM signature passes too (upstream's check, at a time after
            // every t=; the stalw.art signature of 001 is broken by the hops).
            let dkim = block_on(dkim::verify_message(
                &message,
                &zone,
                1_674_200_000,
                dkim::DkimConfig::default(),
            ))
            .map_err(|e| e.to_string())?;
            if !dkim.iter().any(|o| o.result == dkim::DkimResult::Pass) {
                return Err(format!(
                    "no DKIM signature passes: {:?}",
                    dkim.iter()
                        .map(|o| (o.domain.clone(), o.reason_text()))
                        .collect::<Vec<_>>()
                )
                .into());
            }
            Ok(())
        }));
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    // The named RFC 8617 cases must exist in the suite (a renamed case would silently
    // lose its note).
    let text = String::from_utf8(read("arc-valimail/tests-index.tsv")).unwrap();
    for (id, _) in RFC_8617_CASES {
        assert!(
            text.lines().any(|l| l.split('\t').nth(2) == Some(id)),
            "{id} is not in the suite"
        );
    }
    let mut trials = validation_trials();
    trials.extend(sign_trials());
    trials.extend(mail_auth_trials());
    libtest_mimic::run(&args, trials).exit();
}
