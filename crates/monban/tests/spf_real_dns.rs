//! SPF through a real DNS server: the same zone served by hickory-server on 127.0.0.1
//! and read by `HickoryResolver` must give the same SPF verdicts as `ZoneResolver`;
//! once the server stops, SPF must say `temperror`, never a verdict.

use std::net::IpAddr;
use std::time::Duration;

use monban::spf::{Spf, SpfOutcome, SpfResult};
use monban_dns::{HickoryConfig, HickoryResolver, Resolver, ZoneResolver};
use monban_testdns::TestDnsServer;

/// The bundled example zone plus policies that exercise every mechanism.
const EXTRA: &str = r#"
$ORIGIN spf.test.
@           SOA   ns hostmaster 1 7200 900 1209600 300
a-mech      TXT   "v=spf1 a a:host.spf.test/24 -all"
            A     192.0.2.1
host        A     198.51.100.7
            AAAA  2001:db8::7
mx-mech     TXT   "v=spf1 mx//64 -all"
            MX    10 host
            MX    20 host2
host2       A     203.0.113.9
ptr-mech    TXT   "v=spf1 ptr:spf.test -all"
exists-mech TXT   "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"
1.2.0.192.jack._spf.exists-mech A 127.0.0.2
include     TXT   "v=spf1 include:a-mech.spf.test include:mx-mech.spf.test ?all"
redirect    TXT   "v=spf1 redirect=a-mech.spf.test"
voids       TXT   "v=spf1 a:n1.spf.test a:n2.spf.test a:n3.spf.test +all"
twice       TXT   "v=spf1 -all"
            TXT   "v=spf1 +all"
bad         TXT   "v=spf1 ip4:192.0.2.300 -all"
cname       CNAME a-mech
exp         TXT   "v=spf1 -all exp=why.spf.test"
why         TXT   "%{i} may not send for %{d}"
six         TXT   "v=spf1 ip6:2001:db8:1::/48 -all"

$ORIGIN 2.0.192.in-addr.arpa.
1           PTR   host.spf.test.
7           PTR   other.example.
"#;

fn zone() -> ZoneResolver {
    let mut z = ZoneResolver::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/example.zone"
    ))
    .expect("example zone");
    let extra = ZoneResolver::parse(EXTRA, "extra", None).expect("extra zone");
    for (name, record, ttl) in extra.records() {
        z.insert(name, record.clone(), ttl);
    }
    z
}

/// (client ip, MAIL FROM, HELO)
const CASES: &[(&str, &str, &str)] = &[
    ("192.0.2.25", "alice@example.com", "mail.example.com"),
    ("203.0.113.200", "alice@example.com", "out.example.net"),
    ("2001:db8:100::9", "alice@example.com", "out.example.net"),
    ("192.0.2.99", "alice@example.com", "x.example"),
    ("192.0.2.99", "bob@example.org", "x.example"),
    ("192.0.2.150", "bob@example.org", "mx.example.org"),
    ("192.0.2.99", "x@noreply.example.com", "x.example"),
    ("192.0.2.99", "x@nowhere.example", "x.example"),
    ("192.0.2.1", "a@a-mech.spf.test", "h.example"),
    ("198.51.100.200", "a@a-mech.spf.test", "h.example"),
    ("198.52.100.1", "a@a-mech.spf.test", "h.example"),
    ("2001:db8::7:1", "a@mx-mech.spf.test", "h.example"),
    ("203.0.113.9", "a@mx-mech.spf.test", "h.example"),
    ("192.0.2.1", "a@ptr-mech.spf.test", "h.example"),
    ("192.0.2.7", "a@ptr-mech.spf.test", "h.example"),
    ("192.0.2.1", "jack@exists-mech.spf.test", "h.example"),
    ("192.0.2.1", "jill@exists-mech.spf.test", "h.example"),
    ("203.0.113.9", "a@include.spf.test", "h.example"),
    ("192.0.2.200", "a@include.spf.test", "h.example"),
    ("192.0.2.1", "a@redirect.spf.test", "h.example"),
    ("192.0.2.1", "a@voids.spf.test", "h.example"),
    ("192.0.2.1", "a@twice.spf.test", "h.example"),
    ("192.0.2.1", "a@bad.spf.test", "h.example"),
    ("192.0.2.1", "a@cname.spf.test", "h.example"),
    ("192.0.2.5", "a@exp.spf.test", "h.example"),
    ("2001:db8:1::1", "a@six.spf.test", "h.example"),
    ("::ffff:192.0.2.1", "a@six.spf.test", "h.example"),
    ("192.0.2.1", "", "mail.example.com"),
];

async fn run<'a, R: Resolver>(
    spf: &'a Spf<R>,
    (ip, mail_from, helo): (&str, &'a str, &'a str),
) -> SpfOutcome<'a> {
    let ip: IpAddr = ip.parse().unwrap();
    spf.verify_mail_from(ip, helo, mail_from, 1_700_000_000)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_verdicts_through_a_real_dns_server() {
    let zone = zone();
    let server = TestDnsServer::start(&zone).await.expect("start DNS server");
    let net = HickoryResolver::new(&HickoryConfig {
        servers: vec![server.addr()],
        timeout: Duration::from_millis(500),
        attempts: 1,
    })
    .expect("resolver");
    let local = Spf::new(&zone);
    let remote = Spf::new(&net);
    let mut results = std::collections::BTreeMap::new();
    for case in CASES {
        let a = run(&local, *case).await;
        let b = run(&remote, *case).await;
        assert_eq!(
            (a.result, &a.cause, &a.explanation),
            (b.result, &b.cause, &b.explanation),
            "{case:?}"
        );
        *results.entry(a.result.as_str()).or_insert(0) += 1;
    }
    // The cases must cover the verdicts, or the comparison proves little.
    for r in ["pass", "fail", "softfail", "neutral", "none", "permerror"] {
        assert!(results.contains_key(r), "no case gave {r}: {results:?}");
    }

    // Stop the server: names not asked before now fail, and SPF says temperror.
    server.stop().await;
    let out = run(
        &remote,
        ("192.0.2.1", "a@never-asked.spf.test", "h.example"),
    )
    .await;
    assert_eq!(out.result, SpfResult::Temperror, "{out:?}");
    let out = run(&remote, ("192.0.2.1", "a@mx-mech.example.org", "h.example")).await;
    assert_eq!(out.result, SpfResult::Temperror, "{out:?}");
}
