//! Black-box tests of the connection and historic methods in `monban verify`: iprev
//! (RFC 8601 §3), ADSP (RFC 5617), DNS block/allow lists (RFC 5782) and Sender ID
//! (RFC 4406).

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled zone plus a test zone written to a temporary file.
fn verify(extra_zone: &str, args: &[&str]) -> Value {
    let dir = std::env::temp_dir().join(format!("monban-cli-methods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: tests run in parallel and each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let extra = dir.join(format!("extra-{n}.zone"));
    std::fs::write(&extra, extra_zone).unwrap();
    let ex = root().join("examples/example.zone");
    let msg = root().join("examples/messages/alice-to-bob.eml");
    let mut a = vec![
        "--zone",
        ex.to_str().unwrap(),
        "--zone",
        extra.to_str().unwrap(),
        "verify",
        "--json",
    ];
    a.extend_from_slice(args);
    a.push(msg.to_str().unwrap());
    let out = common::run(&a, b"", &[]);
    let _ = std::fs::remove_file(&extra);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn iprev_pass_and_fail() {
    let env = [
        "--helo",
        "mail.example.com",
        "--mail-from",
        "alice@example.com",
    ];
    let mut a = vec!["--ip", "192.0.2.25"];
    a.extend_from_slice(&env);
    let v = verify("", &a);
    assert_eq!(v["iprev"]["result"], "pass");
    assert_eq!(v["iprev"]["names"][0], "mail.example.com");
    let ar = v["authentication_results"].as_str().unwrap();
    assert!(
        ar.contains("iprev=pass (mail.example.com) policy.iprev=192.0.2.25"),
        "{ar}"
    );

    // A PTR that points at a name without the address.
    let zone = "77.2.0.192.in-addr.arpa. 300 IN PTR mail.example.com.\n";
    let mut a = vec!["--ip", "192.0.2.77"];
    a.extend_from_slice(&env);
    let v = verify(zone, &a);
    assert_eq!(v["iprev"]["result"], "fail", "{v}");
    // No client address: iprev does not apply.
    let v = verify("", &[]);
    assert_eq!(v["iprev"]["result"], "none");
}

#[test]
fn adsp_practices() {
    let zone = "_adsp._domainkey.example.com. 300 IN TXT \"dkim=all\"\n";
    let v = verify(zone, &[]);
    // Signed by the author domain: pass, whatever the practice.
    assert_eq!(v["adsp"]["result"], "pass", "{v}");
    assert_eq!(v["adsp"]["practice"], "all");
    let ar = v["authentication_results"].as_str().unwrap();
    assert!(
        ar.contains("dkim-adsp=pass header.from=example.com"),
        "{ar}"
    );
}

#[test]
fn dns_lists() {
    let zone = "25.2.0.192.bl.example. 300 IN A 127.0.0.2\n25.2.0.192.mask.example. 300 IN A 127.0.0.4\n25.2.0.192.wl.example. 300 IN A 127.0.10.1\n";
    let base = [
        "--ip",
        "192.0.2.25",
        "--mail-from",
        "alice@example.com",
        "--dnsbl",
        "bl.example",
        "--dnsbl",
        "mask.example&0x02",
    ];
    let v = verify(zone, &base);
    let lists = v["dnsbl"].as_array().unwrap();
    assert_eq!(lists[0]["zone"], "bl.example");
    assert_eq!(lists[0]["listed"], true);
    assert_eq!(lists[0]["codes"][0], "127.0.0.2");
    assert_eq!(
        lists[1]["listed"], false,
        "mask 0x02 does not match 127.0.0.4"
    );
    let ar = v["authentication_results"].as_str().unwrap();
    assert!(
        ar.contains("x-dnsbl=listed policy.zone=bl.example policy.code=127.0.0.2"),
        "{ar}"
    );

    // An allow list that lists the client: the block lists are not asked.
    let mut a = base.to_vec();
    a.extend(["--dnswl", "wl.example"]);
    let v = verify(zone, &a);
    let lists = v["dnsbl"].as_array().unwrap();
    assert_eq!(lists[0]["kind"], "allow");
    assert_eq!(lists[0]["listed"], true);
    assert!(lists[1..].iter().all(|l| l["result"] == "skipped"), "{v}");
}

#[test]
fn sender_id_pra() {
    let env = [
        "--helo",
        "mail.example.com",
        "--mail-from",
        "alice@example.com",
    ];
    // example.com publishes only v=spf1 ("mx include:... ~all"): it stands for
    // spf2.0/mfrom,pra (RFC 4406 §3.4); 192.0.2.25 is its MX.
    let mut a = vec!["--ip", "192.0.2.25"];
    a.extend_from_slice(&env);
    let v = verify("", &a);
    assert_eq!(v["sender_id"]["result"], "pass", "{v}");
    assert_eq!(v["sender_id"]["pra"], "alice@example.com");
    assert_eq!(v["sender_id"]["scope"], "pra");
    assert_eq!(v["sender_id"]["field"], "From");
    let ar = v["authentication_results"].as_str().unwrap();
    assert!(
        ar.contains(
            "sender-id=pass (matched mx in the record of example.com) header.from=alice@example.com"
        ),
        "{ar}"
    );

    // An spf2.0/pra record replaces it for the PRA scope only.
    let zone = "example.com. 300 IN TXT \"spf2.0/pra ip4:198.51.100.7 -all\"\n";
    let v = verify(zone, &a);
    assert_eq!(v["sender_id"]["result"], "fail", "{v}");
    assert_eq!(v["spf"]["result"], "pass", "{v}");
    let mut b = vec!["--ip", "198.51.100.7"];
    b.extend_from_slice(&env);
    let v = verify(zone, &b);
    assert_eq!(v["sender_id"]["result"], "pass", "{v}");

    // Left out on request; not checked without a client address.
    let mut c = a.clone();
    c.push("--no-sender-id");
    let v = verify("", &c);
    assert_eq!(v["sender_id"]["result"], "none", "{v}");
    assert!(
        !v["authentication_results"]
            .as_str()
            .unwrap()
            .contains("sender-id=")
    );
    let v = verify("", &[]);
    assert_eq!(v["sender_id"]["result"], "none", "{v}");
    assert!(v["sender_id"]["pra"].is_null());
}
