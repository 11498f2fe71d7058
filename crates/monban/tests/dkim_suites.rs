//! External DKIM test data, one named test per case (`../shared/suites/`):
//!
//! - `dkim_rfc::<file>`: RFC 6376 App. A and RFC 8463 App. A messages, verified;
//! - `dkim_rfc8463::sign_ed25519`: signing the RFC 6376 A.1 message with the RFC 8463
//!   key and tags reproduces the published `b=` byte for byte;
//! - `dkim_dkimpy::*`: dkimpy's pre-signed messages, sign-then-verify inputs over the
//!   four canonicalizations, its key-record variants, and the no-From message;
//! - `dkim_mail_auth::<file>`: mail-auth's real-world messages (005 needs the fixed clock
//!   1667843664, before its `x=`).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use libtest_mimic::{Arguments, Failed, Trial};
use monban::dkim::{
    self, Canonicalization, DkimConfig, DkimOutcome, DkimResult, DkimSignature, SignerConfig,
    SigningKey,
};
use monban_dns::{Record, Txt, ZoneResolver};

#[path = "support/suites.rs"]
mod suites;
use suites::read;

fn zone_from(map: &HashMap<String, String>) -> ZoneResolver {
    let mut z = ZoneResolver::new();
    for (name, txt) in map {
        // Long values are split into 255-byte strings as DNS would carry them.
        let strings: Vec<Vec<u8>> = txt.as_bytes().chunks(255).map(<[u8]>::to_vec).collect();
        z.insert(name, Record::Txt(Txt::new(strings)), 300);
    }
    z
}

fn dns_json(rel: &str) -> HashMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(&read(rel)).expect("dns.json");
    v.as_object()
        .expect("object")
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
        .collect()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn verify(msg: &[u8], zone: &ZoneResolver, now: u64) -> Vec<DkimOutcome> {
    block_on(dkim::verify_message(msg, zone, now, DkimConfig::default())).expect("message parses")
}

fn expect_results(out: &[DkimOutcome], want: &[DkimResult]) -> Result<(), Failed> {
    let got: Vec<DkimResult> = out.iter().map(|o| o.result).collect();
    if got == want {
        Ok(())
    } else {
        let reasons: Vec<String> = out
            .iter()
            .map(|o| format!("{} ({:?})", o.result, o.reason))
            .collect();
        Err(format!("expected {want:?}, got {reasons:?}").into())
    }
}

const NOW: u64 = 1_900_000_000;

fn rfc_trials() -> Vec<Trial> {
    let zone = Arc::new(zone_from(&dns_json("dkim-rfc-examples/dns.json")));
    let cases: serde_json::Value =
        serde_json::from_slice(&read("dkim-rfc-examples/cases.json")).unwrap();
    let mut trials = Vec::new();
    for case in cases.as_array().unwrap() {
        let file = case["file"].as_str().unwrap().to_owned();
        let expect = case["expect"].as_str().unwrap();
        let want: Vec<DkimResult> = match (
            expect,
            case["checked_with_adhoc_python"].as_array().map(Vec::len),
        ) {
            ("pass", Some(n)) => vec![DkimResult::Pass; n],
            ("fail", _) => vec![DkimResult::Fail],
            other => panic!("unknown expectation {other:?}"),
        };
        let zone = zone.clone();
        trials.push(Trial::test(format!("dkim_rfc::{file}"), move || {
            let msg = read(&format!("dkim-rfc-examples/{file}"));
            expect_results(&verify(&msg, &zone, NOW), &want)
        }));
    }
    trials.push(Trial::test(
        "dkim_rfc8463::sign_ed25519_reproduces_b",
        || {
            let signed = read("dkim-rfc-examples/rfc8463-A.3-signed.eml");
            let unsigned = read("dkim-rfc-examples/rfc6376-A.1-unsigned.eml");
            let (headers, _) = dkim::split_message(&signed).unwrap();
            let field = headers
                .get("DKIM-Signature")
                .find(|f| String::from_utf8_lossy(f.value).contains("ed25519"))
                .unwrap();
            let published = DkimSignature::parse(field.value).unwrap();
            let template = String::from_utf8(dkim::signature::strip_b_value(field.value)).unwrap();
            let seed = base64::engine::general_purpose::STANDARD
                .decode(
                    String::from_utf8(read(
                        "dkim-rfc-examples/rfc8463-A.1-ed25519-private-seed.b64",
                    ))
                    .unwrap()
                    .trim(),
                )
                .unwrap();
            let key = SigningKey::ed25519_from_seed(&seed).unwrap();
            let (unsigned_headers, body) = dkim::split_message(&unsigned).unwrap();
            // The body hash must come out as published, then the signature.
            let mut hasher = dkim::body::BodyHasher::new(dkim::body::BodyHashKey::new(
                published.algorithm,
                Canonicalization::Relaxed,
                None,
            ));
            hasher.update(&body);
            if hasher.finish().digest != published.body_hash {
                return Err("body hash differs from RFC 8463 A.3".into());
            }
            let b = dkim::sign::sign_prepared(
                &unsigned_headers,
                &published.signed_headers,
                Canonicalization::Relaxed,
                &template,
                &key,
            )
            .map_err(|e| e.to_string())?;
            if b != published.signature {
                return Err("b= differs from RFC 8463 A.3".into());
            }
            Ok(())
        },
    ));
    trials.push(Trial::test(
        "dkim_rfc8463::rsa_1024_key_refused_for_signing",
        || {
            // The RFC 8463 RSA example key is 1024 bits: RFC 8301 §3.2 says signers SHOULD use
            // 2048, and monban refuses to sign with less. Its published signature still
            // verifies (dkim_rfc::rfc8463-A.3-signed.eml).
            let pem =
                String::from_utf8(read("dkim-rfc-examples/rfc8463-A.1-rsa-private.pem")).unwrap();
            match SigningKey::from_pem(&pem) {
                Err(dkim::crypto::KeyError::RsaSize(1024)) => Ok(()),
                other => Err(format!("expected a 1024-bit refusal, got {other:?}").into()),
            }
        },
    ));
    trials
}

fn dkimpy_trials() -> Vec<Trial> {
    let dns = dns_json("dkimpy-testdata/dns.json");
    let zone = Arc::new(zone_from(&dns));
    let mut trials = Vec::new();
    for (file, n) in [
        ("test2.message", 1),
        ("ed25519test2.msg", 1),
        ("rfc6376.signed.msg", 2),
    ] {
        let zone = zone.clone();
        trials.push(Trial::test(
            format!("dkim_dkimpy::presigned::{file}"),
            move || {
                let msg = read(&format!("dkimpy-testdata/{file}"));
                expect_results(&verify(&msg, &zone, NOW), &vec![DkimResult::Pass; n])
            },
        ));
    }
    // Sign with the suite's Ed25519 keys over every canonicalization, verify with its DNS.
    let seeds = [
        ("ed25519test.msg", "ed25519test.key", "example.net", "test"),
        (
            "rfc6376.msg",
            "rfc8032_7_1.key",
            "football.example.com",
            "brisbane",
        ),
    ];
    for (msg_file, key_file, domain, selector) in seeds {
        for hc in [Canonicalization::Simple, Canonicalization::Relaxed] {
            for bc in [Canonicalization::Simple, Canonicalization::Relaxed] {
                let zone = zone.clone();
                trials.push(Trial::test(
                    format!("dkim_dkimpy::sign_verify::{msg_file}::{hc}_{bc}"),
                    move || {
                        let seed = base64::engine::general_purpose::STANDARD
                            .decode(
                                String::from_utf8(read(&format!("dkimpy-testdata/{key_file}")))
                                    .unwrap()
                                    .trim(),
                            )
                            .unwrap();
                        let key = Arc::new(SigningKey::ed25519_from_seed(&seed).unwrap());
                        let mut cfg = SignerConfig::new(domain, selector, key);
                        cfg.header_canonicalization = hc;
                        cfg.body_canonicalization = bc;
                        let msg = read(&format!("dkimpy-testdata/{msg_file}"));
                        let sigs = dkim::sign_message(&msg, vec![cfg], 1_700_000_000)
                            .map_err(|e| e.to_string())?;
                        let signed =
                            [format!("DKIM-Signature:{}\r\n", sigs[0]).into_bytes(), msg].concat();
                        expect_results(&verify(&signed, &zone, 1_700_000_100), &[DkimResult::Pass])
                    },
                ));
            }
        }
    }
    // Key-record variants, applied to the pre-signed RSA signature (made with the suite's
    // 1024-bit test key) of rfc6376.signed.msg.
    for (variant, want) in [
        ("test.txt", DkimResult::Pass),
        ("test2.txt", DkimResult::Pass),
        ("test_bad.txt", DkimResult::Permerror),
        ("badversion.txt", DkimResult::Permerror),
        ("badk.txt", DkimResult::Permerror),
        ("test_tlsrpt.txt", DkimResult::Permerror),
    ] {
        let mut dns = dns.clone();
        trials.push(Trial::test(
            format!("dkim_dkimpy::key_record::{variant}"),
            move || {
                let record =
                    String::from_utf8(read(&format!("dkimpy-testdata/{variant}"))).unwrap();
                dns.insert(
                    "test._domainkey.football.example.com".into(),
                    record.trim().to_owned(),
                );
                let zone = zone_from(&dns);
                let msg = read("dkimpy-testdata/rfc6376.signed.msg");
                let out = verify(&msg, &zone, NOW);
                let rsa = out
                    .iter()
                    .find(|o| o.selector == "test")
                    .ok_or("no rsa signature")?;
                if rsa.result == want {
                    Ok(())
                } else {
                    Err(format!("expected {want}, got {} ({:?})", rsa.result, rsa.reason).into())
                }
            },
        ));
    }
    trials.push(Trial::test("dkim_dkimpy::test_nofrom_refused", || {
        let key = Arc::new(SigningKey::generate_ed25519().unwrap());
        let msg = read("dkimpy-testdata/test_nofrom.message");
        match dkim::sign_message(&msg, vec![SignerConfig::new("example.com", "s1", key)], 0) {
            Err(dkim::MessageError::Sign(dkim::sign::SignError::NoFrom)) => Ok(()),
            other => Err(format!("expected NoFrom, got {other:?}").into()),
        }
    }));
    trials
}

fn mail_auth_trials() -> Vec<Trial> {
    (1..=6)
        .map(|n| {
            let file = format!("{n:03}.txt");
            Trial::test(format!("dkim_mail_auth::{file}"), move || {
                let text = read(&format!("mail-auth-resources/dkim/{file}"));
                let text = String::from_utf8(text).map_err(|e| e.to_string())?;
                let (dns, message) = text
                    .split_once("\n\n")
                    .ok_or("no blank line after the DNS lines")?;
                let map = dns
                    .lines()
                    .filter_map(|l| l.split_once(' '))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let zone = zone_from(&map);
                let now = if n == 5 { 1_667_843_664 } else { NOW };
                let out = verify(message.as_bytes(), &zone, now);
                if out.is_empty() {
                    return Err("no signature found".into());
                }
                expect_results(&out, &vec![DkimResult::Pass; out.len()])
            })
        })
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = rfc_trials();
    trials.extend(dkimpy_trials());
    trials.extend(mail_auth_trials());
    libtest_mimic::run(&args, trials).exit();
}
