//! Black-box tests of `monban check` against a zone of deliberately broken domains.

use std::path::Path;
use std::process::{Command, Output};

fn monban(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(args)
        .output()
        .expect("run monban")
}

fn check(domain: &str, extra: &[&str]) -> serde_json::Value {
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/check.zone");
    let mut args = vec!["check", "--zone", zone.to_str().unwrap(), "--json", domain];
    args.extend_from_slice(extra);
    let out = monban(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// (area, severity, a piece of the message)
fn has(v: &serde_json::Value, area: &str, severity: &str, needle: &str) -> bool {
    v["findings"].as_array().unwrap().iter().any(|f| {
        f["area"] == area
            && f["severity"] == severity
            && f["message"].as_str().unwrap().contains(needle)
    })
}

#[test]
fn good_domain_is_green_with_the_contract_keys() {
    let v = check("good.example", &["--selector", "ed"]);
    assert_eq!(v["status"], "green", "{v:#}");
    assert_eq!(v["domain"], "good.example");
    for f in v["findings"].as_array().unwrap() {
        for k in ["area", "severity", "message", "fix"] {
            assert!(f.get(k).is_some(), "{f}");
        }
    }
    assert!(v.get("sending").is_none());
    let nets: Vec<&str> = v["spf_networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(nets, ["192.0.2.10/32", "198.51.100.0/24"]);
}

#[test]
fn dkim_key_sizes_and_flags() {
    let v = check(
        "good.example",
        &[
            "--selector",
            "old",
            "--selector",
            "tiny",
            "--selector",
            "gone",
            "--selector",
            "test",
            "--selector",
            "missing",
        ],
    );
    assert!(has(&v, "dkim", "yellow", "RSA 1024 bits"), "{v:#}");
    assert!(has(&v, "dkim", "red", "RSA 512 bits"), "{v:#}");
    assert!(has(&v, "dkim", "yellow", "revoked"), "{v:#}");
    assert!(has(&v, "dkim", "yellow", "t=y"), "{v:#}");
    assert!(
        has(
            &v,
            "dkim",
            "red",
            "no DKIM key at missing._domainkey.good.example"
        ),
        "{v:#}"
    );
    assert_eq!(v["status"], "red");
    let v = check("good.example", &["--discover"]);
    assert!(
        has(&v, "dkim", "green", "Ed25519") || has(&v, "dkim", "yellow", "no DKIM key found"),
        "{v:#}"
    );
}

#[test]
fn spf_problems() {
    let v = check("plusall.example", &[]);
    assert!(has(&v, "spf", "red", "+all"), "{v:#}");
    assert!(has(&v, "spf", "yellow", "ptr"), "{v:#}");
    let v = check("twospf.example", &[]);
    assert!(has(&v, "spf", "red", "2 SPF records"), "{v:#}");
    assert!(has(&v, "spf", "yellow", "SPF-type (99)"), "{v:#}");
    let v = check("toomany.example", &[]);
    assert_eq!(v["spf_lookups"], 11, "{v:#}");
    assert!(has(&v, "spf", "red", "11 DNS-querying terms"), "{v:#}");
    assert!(has(&v, "spf", "red", "do not exist"), "{v:#}");
}

#[test]
fn dmarc_problems() {
    let v = check("plusall.example", &[]);
    assert!(has(&v, "dmarc", "yellow", "p=none"), "{v:#}");
    assert!(has(&v, "dmarc", "yellow", "t=y"), "{v:#}");
    // pct=50 is not "removed": RFC 7489 receivers (monban too) apply a milder policy.
    assert!(
        has(
            &v,
            "dmarc",
            "yellow",
            "pct=50: receivers that follow RFC 7489"
        ),
        "{v:#}"
    );
    assert!(has(&v, "dmarc", "yellow", "ri= was removed"), "{v:#}");
    assert!(
        has(&v, "dmarc", "red", "elsewhere.example has not authorized"),
        "{v:#}"
    );
    // good.example's external destination is authorized: no red.
    let v = check("good.example", &[]);
    assert!(!has(&v, "dmarc", "red", "authorized"), "{v:#}");
    let v = check("adsp.example", &[]);
    assert!(has(&v, "dmarc", "red", "no DMARC record"), "{v:#}");
    assert!(has(&v, "adsp", "yellow", "discardable"), "{v:#}");
}

/// Whether a fix of the check contains `needle`.
fn offers(v: &serde_json::Value, needle: &str) -> bool {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["fix"].as_str())
        .any(|f| f.contains(needle))
}

#[test]
fn a_domain_without_mail_is_told_to_lock_down() {
    let v = check("nomail.example", &[]);
    assert!(has(&v, "mx", "yellow", "no MX"), "{v:#}");
    assert!(offers(&v, "\"v=DMARC1; p=reject\""), "{v:#}");
}

/// A trial's finding F9: a domain without MX receives its mail at its A record (RFC
/// 5321 §5.1); it was told it cannot receive mail and to lock down as sending none.
#[test]
fn regression_trial_f9_no_mx_but_an_address_is_not_locked_down() {
    let v = check("aonly.example", &[]);
    assert!(has(&v, "mx", "yellow", "implicit MX"), "{v:#}");
    assert!(offers(&v, "\"v=spf1 a -all\""), "{v:#}");
    assert!(offers(&v, "p=none; rua="), "{v:#}");
    assert!(!offers(&v, "\"v=DMARC1; p=reject\""), "{v:#}");
}

#[test]
fn sending_setup_prediction() {
    // Third-party signer, an IP outside SPF: refused.
    let v = check(
        "good.example",
        &[
            "--sending-ip",
            "203.0.113.7",
            "--signing-domain",
            "mailer.example",
        ],
    );
    assert_eq!(v["sending"]["dmarc"], "fail", "{v:#}");
    assert_eq!(v["sending"]["disposition"], "reject");
    assert_eq!(v["sending"]["dkim_aligned"], false);
    assert!(
        has(
            &v,
            "sending",
            "red",
            "DKIM d=mailer.example does not align with good.example"
        ),
        "{v:#}"
    );
    assert!(has(&v, "sending", "red", "will be refused"), "{v:#}");
    // The same IP listed in SPF: SPF aligns, DMARC passes.
    let v = check(
        "good.example",
        &[
            "--sending-ip",
            "198.51.100.20",
            "--signing-domain",
            "mailer.example",
        ],
    );
    assert_eq!(v["sending"]["dmarc"], "pass", "{v:#}");
    assert_eq!(v["sending"]["spf"], "pass");
    // Aligned DKIM alone is enough.
    let v = check(
        "good.example",
        &[
            "--sending-ip",
            "203.0.113.7",
            "--signing-domain",
            "news.good.example",
        ],
    );
    assert_eq!(v["sending"]["dmarc"], "pass", "{v:#}");
    assert_eq!(v["sending"]["dkim_aligned"], true);
}

#[test]
fn human_output_and_errors() {
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/check.zone");
    let out = monban(&["check", "--zone", zone.to_str().unwrap(), "plusall.example"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("RED     plusall.example\n"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    assert!(text.contains("fix: "), "{text}");
    for (args, needle) in [
        (vec!["check", "localhost"], "not a domain name"),
        (
            vec!["check", "good.example", "--sending-ip", "1.2.3"],
            "not an IP address",
        ),
        (vec!["check", "a..b"], "not a domain name"),
    ] {
        let out = monban(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle));
    }
}

/// `--sending-ip` of an address no receiver sees mail come from (loopback, private,
/// link-local, unspecified, as an IPv4-mapped address too) is refused with a usage
/// error naming it: a trial's 127.0.0.1 got "add ip4:127.0.0.1 to the SPF record".
/// The documentation ranges the examples use stay accepted.
#[test]
fn sending_ips_no_receiver_sees_are_refused() {
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/check.zone");
    let zone = zone.to_str().unwrap();
    for (ip, what) in [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("::ffff:192.168.1.1", "private"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("fd00::1", "unique local"),
    ] {
        let out = monban(&["check", "--zone", zone, "good.example", "--sending-ip", ip]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{ip}: {err}");
        assert!(err.contains(ip) && err.contains(what), "{ip}: {err}");
    }
    let out = monban(&[
        "check",
        "--zone",
        zone,
        "good.example",
        "--sending-ip",
        "192.0.2.10",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
