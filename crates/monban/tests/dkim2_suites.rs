//! The DKIM2 draft's interoperability vectors (`mail-auth-resources/dkim2/`), one named
//! test each:
//!
//! - `dkim2_case::<name>`: the 47 cases of `cases.json` (envelope, time and strictness
//!   as given), the expected pass / fail / permerror;
//! - `dkim2_golden_verify::<file>`: the 16 further signed messages (single hops, and
//!   multi-hop chains whose recipes rebuild every earlier instance), verified with the
//!   latest hop's own envelope; those written without angle brackets non-strict;
//! - `dkim2_golden_sign::<file>`: signing the unsigned inputs with the vectors' keys
//!   reproduces the signed messages byte for byte (RSA PKCS#1 v1.5 and Ed25519 are
//!   deterministic).

#[path = "support/suites.rs"]
mod suites;

use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use monban::dkim::{SigningKey, split_message};
use monban::dkim2::{self, Dkim2Config, Dkim2Envelope, Dkim2SignConfig};
use monban_dns::{Record, Txt, ZoneResolver};
use suites::read;

const DIR: &str = "mail-auth-resources/dkim2";

fn zone() -> Arc<ZoneResolver> {
    let v: serde_json::Value = serde_json::from_slice(&read(&format!("{DIR}/dns.json"))).unwrap();
    let mut z = ZoneResolver::new();
    for (domain, names) in v.as_object().unwrap() {
        for (name, records) in names.as_object().unwrap() {
            for r in records.as_array().unwrap() {
                let r = r.as_array().unwrap();
                assert_eq!(r[0], "txt");
                let text = r[1].as_str().unwrap();
                let strings: Vec<Vec<u8>> =
                    text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect();
                z.insert(
                    &format!("{name}.{domain}"),
                    Record::Txt(Txt::new(strings)),
                    300,
                );
            }
        }
    }
    Arc::new(z)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// Verifies a vector file with an envelope, strictness and time.
fn run(
    zone: &ZoneResolver,
    message: &[u8],
    envelope: &Dkim2Envelope,
    strict: bool,
    now: u64,
) -> Result<dkim2::Dkim2Outcome, Failed> {
    let config = Dkim2Config {
        strict,
        ..Dkim2Config::default()
    };
    block_on(dkim2::verify_message(
        message,
        Some(envelope),
        now,
        &config,
        zone,
    ))
    .map_err(|e| e.to_string().into())
}

fn case_trials(zone: &Arc<ZoneResolver>) -> Vec<Trial> {
    let cases: serde_json::Value =
        serde_json::from_slice(&read(&format!("{DIR}/cases.json"))).unwrap();
    cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_owned();
            let file = c["file"].as_str().unwrap().to_owned();
            let want = c["expected"].as_str().unwrap().to_owned();
            let envelope = Dkim2Envelope {
                mail_from: c["mail_from"].as_str().unwrap().to_owned(),
                rcpt_to: c["rcpt_to"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
            };
            let now = c["now"].as_u64().unwrap();
            let strict = c["strict"].as_bool().unwrap_or(true);
            let zone = zone.clone();
            Trial::test(format!("dkim2_case::{name}"), move || {
                let message = read(&format!("{DIR}/expected/{file}"));
                let out = run(&zone, &message, &envelope, strict, now)?;
                if out.result.as_str() == want {
                    Ok(())
                } else {
                    Err(Failed::from(format!(
                        "expected {want}, got {} ({:?})",
                        out.result,
                        out.reason_text()
                    )))
                }
            })
        })
        .collect()
}

/// The latest hop's own envelope (`mf=`, `rt=` of the highest `i=`).
fn own_envelope(message: &[u8]) -> Dkim2Envelope {
    let (headers, _) = split_message(message).unwrap();
    let top = headers
        .get("DKIM2-Signature")
        .map(|f| dkim2::fields::Dkim2Signature::parse(f.value).unwrap())
        .max_by_key(|s| s.instance)
        .unwrap();
    Dkim2Envelope {
        mail_from: top.mail_from,
        rcpt_to: top.rcpt_to,
    }
}

fn golden_verify_trials(zone: &Arc<ZoneResolver>) -> Vec<Trial> {
    let lax = [
        "simple-rsa1024.eml",
        "multihop-3hop-dup-headers.eml",
        "multihop-body-footer.eml",
        "multihop-dup-headers.eml",
        "multihop-header-add.eml",
        "multihop-header-replace.eml",
    ];
    let strict = [
        "dsn-ed25519.eml",
        "dupheaders-ed25519.eml",
        "emptybody-ed25519.eml",
        "multiheader-ed25519.eml",
        "multirecipient-ed25519.eml",
        "simple-ed25519.eml",
        "simple-rsa2048.eml",
        "simple-sel2.eml",
        "simple-sel3.eml",
        "trailingblank-ed25519.eml",
    ];
    lax.iter()
        .map(|f| (*f, false))
        .chain(strict.iter().map(|f| (*f, true)))
        .map(|(file, strict)| {
            let zone = zone.clone();
            Trial::test(format!("dkim2_golden_verify::{file}"), move || {
                let message = read(&format!("{DIR}/expected/{file}"));
                let envelope = own_envelope(&message);
                let out = run(&zone, &message, &envelope, strict, 1_740_002_100)?;
                match out.result {
                    dkim2::Dkim2Result::Pass => Ok(()),
                    r => Err(format!("expected pass, got {r} ({:?})", out.reason_text()).into()),
                }
            })
        })
        .collect()
}

fn golden_sign_trials() -> Vec<Trial> {
    /// input, domain, selector, MAIL FROM, RCPT TO, golden.
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static str,
    );
    let rows: &[Row] = &[
        (
            "simple.eml",
            "test1.dkim2.com",
            "ed25519",
            "sender@test1.dkim2.com",
            &["recipient@example.com"],
            "simple-ed25519.eml",
        ),
        (
            "simple.eml",
            "test1.dkim2.com",
            "sel1",
            "sender@test1.dkim2.com",
            &["recipient@example.com"],
            "simple-rsa2048.eml",
        ),
        (
            "simple.eml",
            "test1.dkim2.com",
            "sel2",
            "sender@test1.dkim2.com",
            &["recipient@example.com"],
            "simple-sel2.eml",
        ),
        (
            "simple.eml",
            "test1.dkim2.com",
            "sel3",
            "sender@test1.dkim2.com",
            &["recipient@example.com"],
            "simple-sel3.eml",
        ),
        (
            "multiheader.eml",
            "test2.dkim2.com",
            "ed25519",
            "sender@test2.dkim2.com",
            &["recipient@example.com"],
            "multiheader-ed25519.eml",
        ),
        (
            "trailingblank.eml",
            "test3.dkim2.com",
            "ed25519",
            "sender@test3.dkim2.com",
            &["recipient@example.com"],
            "trailingblank-ed25519.eml",
        ),
        (
            "emptybody.eml",
            "test4.dkim2.com",
            "ed25519",
            "sender@test4.dkim2.com",
            &["recipient@example.com"],
            "emptybody-ed25519.eml",
        ),
        (
            "multirecipient.eml",
            "test5.dkim2.com",
            "ed25519",
            "sender@test5.dkim2.com",
            &[
                "alice@example.com",
                "bob@example.com",
                "charlie@example.com",
            ],
            "multirecipient-ed25519.eml",
        ),
        (
            "simple.eml",
            "test1.dkim2.com",
            "ed25519",
            "<>",
            &["recipient@example.com"],
            "dsn-ed25519.eml",
        ),
        (
            "dupheaders.eml",
            "test1.dkim2.com",
            "ed25519",
            "sender@test1.dkim2.com",
            &["recipient@example.com"],
            "dupheaders-ed25519.eml",
        ),
    ];
    rows.iter()
        .map(|&(input, domain, selector, mail_from, rcpt_to, golden)| {
            Trial::test(format!("dkim2_golden_sign::{golden}"), move || {
                let pem = String::from_utf8(read(&format!(
                    "{DIR}/keys/{selector}._domainkey.{domain}.pem"
                )))
                .unwrap();
                let key = Arc::new(SigningKey::from_pem(&pem).map_err(|e| e.to_string())?);
                let message = read(&format!("{DIR}/emails/{input}"));
                let (headers, body) = split_message(&message).map_err(|e| e.to_string())?;
                let config = Dkim2SignConfig {
                    domain: domain.into(),
                    selector: selector.into(),
                    key,
                    mail_from: mail_from.into(),
                    rcpt_to: rcpt_to.iter().map(|r| (*r).to_owned()).collect(),
                    nonce: None,
                    flags: Vec::new(),
                    recipe: None,
                };
                let lines = dkim2::sign(&headers, &body, &config, 1_740_000_000)
                    .map_err(|e| e.to_string())?;
                // The message itself with CRLF line endings, as the golden has it.
                let text = String::from_utf8(message).unwrap();
                let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
                let got = lines + &crlf;
                let want = String::from_utf8(read(&format!("{DIR}/expected/{golden}"))).unwrap();
                if got == want {
                    Ok(())
                } else {
                    let first = got
                        .lines()
                        .zip(want.lines())
                        .find(|(a, b)| a != b)
                        .map(|(a, b)| format!("got  {a}\nwant {b}"));
                    Err(format!("differs from the golden:\n{}", first.unwrap_or_default()).into())
                }
            })
        })
        .collect()
}

/// Changed copies of a six-hop chain: a body line, the Subject, the envelope, an earlier
/// instance's recipe: each must stop being a pass.
fn tamper_trials(zone: &Arc<ZoneResolver>) -> Vec<Trial> {
    type Change = fn(String) -> String;
    let cases: [(&str, Change); 3] = [
        ("body_line", |m| {
            m.replacen("\r\n\r\n", "\r\n\r\nInserted line.\r\n", 1)
        }),
        ("subject", |m| m.replacen("Subject: ", "Subject: Re: ", 1)),
        ("recipe_of_instance_2", |m| {
            // Drop the recipe of m=2: the earlier instance cannot be rebuilt.
            let start = m.find("m=2;").expect("m=2");
            let r = start + m[start..].find("r=").expect("r=");
            let end = r + m[r..].find(';').expect(";");
            format!("{}{}", &m[..r], &m[end + 1..])
        }),
    ];
    let mut trials: Vec<Trial> = cases
        .into_iter()
        .map(|(name, change)| {
            let zone = zone.clone();
            Trial::test(format!("dkim2_tamper::{name}"), move || {
                let message = read(&format!("{DIR}/expected/interop_brong_chain_hop6.eml"));
                let envelope = own_envelope(&message);
                let changed = change(String::from_utf8(message).unwrap());
                let config = Dkim2Config {
                    strict: false,
                    max_age: 0,
                    ..Dkim2Config::default()
                };
                let out = block_on(dkim2::verify_message(
                    changed.as_bytes(),
                    Some(&envelope),
                    0,
                    &config,
                    &*zone,
                ))
                .map_err(|e| e.to_string())?;
                if out.result == dkim2::Dkim2Result::Pass {
                    return Err("a changed message still passes".into());
                }
                Ok(())
            })
        })
        .collect();
    let zone = zone.clone();
    trials.push(Trial::test("dkim2_tamper::envelope", move || {
        let message = read(&format!("{DIR}/expected/interop_brong_chain_hop6.eml"));
        let mut envelope = own_envelope(&message);
        envelope.rcpt_to = vec!["<someone-else@example.net>".into()];
        let config = Dkim2Config {
            strict: false,
            max_age: 0,
            ..Dkim2Config::default()
        };
        let out = block_on(dkim2::verify_message(
            &message,
            Some(&envelope),
            0,
            &config,
            &*zone,
        ))
        .map_err(|e| e.to_string())?;
        match out.result {
            dkim2::Dkim2Result::Permerror => Ok(()),
            r => Err(format!("expected permerror (a replayed copy), got {r}").into()),
        }
    }));
    trials
}

fn main() {
    let args = Arguments::from_args();
    let zone = zone();
    let mut trials = case_trials(&zone);
    trials.extend(golden_verify_trials(&zone));
    trials.extend(golden_sign_trials());
    trials.extend(tamper_trials(&zone));
    libtest_mimic::run(&args, trials).exit();
}
