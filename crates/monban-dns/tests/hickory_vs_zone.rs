//! `HickoryResolver` against a real authoritative server must answer exactly what
//! `ZoneResolver` answers from the same zone text: the same record sets (order and TTL
//! aside) and the same kind of error, for positive answers, CNAME chains, NXDOMAIN,
//! no data and empty non-terminals. Then the server stops and the resolver must report a
//! temporary failure within its time limit.

use std::time::{Duration, Instant};

use monban_dns::{
    CacheStats, CachingResolver, HickoryConfig, HickoryResolver, Lookup, LookupError, Record,
    RecordType, Resolver, ZoneResolver, reverse_name,
};
use monban_testdns::TestDnsServer;

const ZONE: &str = r#"
$ORIGIN example.com.
$TTL 1h
@        IN SOA ns1 hostmaster ( 2026112201 ; serial
                  7200 900 1209600 300 )
         NS    ns1
         NS    ns2.example.net.
         MX    10 mx1
         MX    20 mx2.example.net.
         TXT   "v=spf1 " "ip4:192.0.2.0/24 " "include:_spf.example.net -all"
         A     192.0.2.1
         AAAA  2001:db8::1
ns1      A     192.0.2.53
mx1      A     192.0.2.10
         AAAA  2001:db8::10
www   60 CNAME web
web  300 CNAME @
alias    CNAME www
dangling CNAME gone
loop1    CNAME loop2
loop2    CNAME loop1
_dmarc   TXT   "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"
sel1._domainkey 600 TXT (
    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwq1nL1fJ8q6Z0yW3sZ6b7tC4xD5e"
    "F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6a7B8c9D0e1F2g3H4i5J6k7L8m9N0o1P2q3R4s5T6u7V8w9X0y1"
    "Z2a3B4c5D6e7F8g9H0i1J2k3L4m5N6o7P8q9R0s1T2u3V4w5X6y7Z8a9B0c1D2e3F4g5H6i7J8k9L0m1N2o3P4q5R6s7"
    "T8u9V0w1X2y3Z4a5B6c7D8e9F0g1H2i3J4k5L6m7N8o9P0q1R2s3T4u5V6w7X8y9Z0a1B2c3D4e5F6g7IDAQAB" )
multi    TXT   "first" "second"
         TXT   "another record"
nullmx   MX    0 .
user_name.exists A 127.0.0.2
first+tag.exists A 127.0.0.2
s_2024._domainkey TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
odd      MX    5 mail_in.example.com.
         PTR   host+x.example.com.
a.b.deep A     192.0.2.99

$ORIGIN example.net.
@        SOA   ns2 hostmaster 1 7200 900 1209600 600
ns2      A     198.51.100.53
mx2      A     198.51.100.25
         AAAA  2001:db8:100::25
_spf     TXT   "v=spf1 ip4:198.51.100.0/24 ~all"

$ORIGIN 2.0.192.in-addr.arpa.
1        PTR   example.com.
         PTR   www.example.com.
10       PTR   mx1.example.com.

$ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mx1.example.com.
"#;

/// What the zone is meant to answer, so that a typo in the zone cannot make a case
/// vacuous (both resolvers agreeing on NXDOMAIN where an answer was meant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Answer,
    NxDomain,
    NoData,
}

fn cases() -> Vec<(String, RecordType, Expect)> {
    use Expect::*;
    use RecordType::*;
    let mut cases: Vec<(String, RecordType, Expect)> = [
        // Positive answers, every type.
        ("example.com", A, Answer),
        ("Example.COM.", Aaaa, Answer),
        ("example.com", Mx, Answer),
        ("example.com", Txt, Answer),
        ("example.com", Ns, Answer),
        ("example.com", Soa, Answer),
        ("example.net", Soa, Answer),
        ("mx1.example.com", A, Answer),
        ("mx1.example.com", Aaaa, Answer),
        ("mx2.example.net", Aaaa, Answer),
        ("nullmx.example.com", Mx, Answer),
        ("_dmarc.example.com", Txt, Answer),
        ("_spf.example.net", Txt, Answer),
        ("sel1._domainkey.example.com", Txt, Answer),
        ("multi.example.com", Txt, Answer),
        // Labels that are not host names (SPF macro expansions, DKIM selectors).
        ("user_name.exists.example.com", A, Answer),
        ("first+tag.exists.example.com", A, Answer),
        ("s_2024._domainkey.example.com", Txt, Answer),
        ("odd.example.com", Mx, Answer),
        ("odd.example.com", Ptr, Answer),
        ("user_other.exists.example.com", A, NxDomain),
        ("1.2.0.192.in-addr.arpa", Ptr, Answer),
        ("10.2.0.192.in-addr.arpa", Ptr, Answer),
        // CNAMEs: asked for themselves, and followed (one and two hops).
        ("www.example.com", Cname, Answer),
        ("alias.example.com", Cname, Answer),
        ("dangling.example.com", Cname, Answer),
        ("web.example.com", Mx, Answer),
        ("www.example.com", A, Answer),
        ("www.example.com", Txt, Answer),
        ("alias.example.com", Mx, Answer),
        ("alias.example.com", Aaaa, Answer),
        ("alias.example.com", Ns, Answer),
        // NXDOMAIN, directly and at the end of a CNAME chain.
        ("nope.example.com", A, NxDomain),
        ("nope.example.com", Txt, NxDomain),
        ("_dmarc.nope.example.net", Txt, NxDomain),
        ("x.y.z.example.org", Mx, NxDomain),
        ("99.2.0.192.in-addr.arpa", Ptr, NxDomain),
        ("dangling.example.com", A, NxDomain),
        // No data, directly and at the end of a CNAME chain.
        ("mx1.example.com", Txt, NoData),
        ("_dmarc.example.com", A, NoData),
        ("ns1.example.com", Aaaa, NoData),
        ("example.net", Mx, NoData),
        ("example.net", Ns, NoData),
        ("www.example.com", Ptr, NoData),
        ("alias.example.com", Ptr, NoData),
        // Empty non-terminals: names with no records but names below them.
        ("deep.example.com", A, NoData),
        ("b.deep.example.com", Txt, NoData),
        ("_domainkey.example.com", Txt, NoData),
        ("2.0.192.in-addr.arpa", Ptr, NoData),
        ("in-addr.arpa", Ptr, NoData),
        ("com", Mx, NoData),
    ]
    .into_iter()
    .map(|(n, t, e)| (n.to_owned(), t, e))
    .collect();
    cases.push((reverse_name("2001:db8::10".parse().unwrap()), Ptr, Answer));
    cases.push((reverse_name("2001:db8::11".parse().unwrap()), Ptr, NxDomain));
    cases
}

fn zone() -> ZoneResolver {
    let zone = ZoneResolver::parse(ZONE, "hickory_vs_zone.zone", None).unwrap();
    assert!(zone.skipped().is_empty());
    zone
}

fn resolver(server: &TestDnsServer) -> HickoryResolver {
    HickoryResolver::new(&HickoryConfig {
        servers: vec![server.addr()],
        timeout: Duration::from_millis(500),
        attempts: 1,
    })
    .unwrap()
}

/// A lookup with TTLs and record order taken out.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Answer(Vec<String>),
    NxDomain,
    NoData(RecordType),
    Other(String),
}

fn shape(lookup: &Lookup) -> Shape {
    match lookup {
        Ok(answer) => {
            let mut records: Vec<String> =
                answer.records.iter().map(|r| format!("{r:?}")).collect();
            records.sort();
            Shape::Answer(records)
        }
        Err(LookupError::NxDomain { .. }) => Shape::NxDomain,
        Err(LookupError::NoData { rtype, .. }) => Shape::NoData(*rtype),
        Err(other) => Shape::Other(other.to_string()),
    }
}

fn expected(lookup: &Lookup) -> Expect {
    match lookup {
        Ok(_) => Expect::Answer,
        Err(LookupError::NxDomain { .. }) => Expect::NxDomain,
        Err(LookupError::NoData { .. }) => Expect::NoData,
        Err(e) => panic!("unexpected {e}"),
    }
}

/// The TTL of a lookup: the answer's, or the negative one.
fn ttl(lookup: &Lookup) -> Option<u32> {
    match lookup {
        Ok(answer) => Some(answer.ttl),
        Err(LookupError::NxDomain { ttl, .. } | LookupError::NoData { ttl, .. }) => Some(*ttl),
        Err(_) => None,
    }
}

#[tokio::test]
async fn hickory_resolver_answers_like_zone_resolver() {
    let zone = zone();
    let server = TestDnsServer::start(&zone).await.unwrap();
    let hickory = resolver(&server);

    let mut mismatches = Vec::new();
    for (name, rtype, expect) in cases() {
        let from_zone = zone.lookup_now(&name, rtype);
        assert_eq!(
            expected(&from_zone),
            expect,
            "zone text: {name} {rtype}: {from_zone:?}"
        );
        let from_dns = hickory.lookup(&name, rtype).await;
        if shape(&from_dns) != shape(&from_zone) {
            mismatches.push(format!(
                "{name} {rtype}:\n  zone:    {from_zone:?}\n  hickory: {from_dns:?}"
            ));
            continue;
        }
        // TTLs may have aged by a second in hickory's own cache, never grown, and a
        // negative answer must carry the SOA's negative TTL, not 0.
        let (z, h) = (ttl(&from_zone).unwrap(), ttl(&from_dns).unwrap());
        if h > z || h + 2 < z {
            mismatches.push(format!(
                "{name} {rtype}: TTL {h} from DNS, {z} from the zone"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // A CNAME loop is a failure to resolve for both: ZoneResolver sees it in its zone;
    // hickory-resolver follows the loop to its depth limit and then reports "no
    // records" with NOERROR and no SOA, which HickoryResolver checks (the last name
    // still has a CNAME) and reports as a server failure, not as no data.
    for rtype in [RecordType::A, RecordType::Txt] {
        let from_zone = zone.lookup_now("loop1.example.com", rtype);
        let from_dns = hickory.lookup("loop1.example.com", rtype).await;
        assert!(
            matches!(from_zone, Err(LookupError::ServFail { .. })),
            "{from_zone:?}"
        );
        assert!(
            matches!(from_dns, Err(LookupError::ServFail { .. })),
            "{from_dns:?}"
        );
    }

    // Character-strings survive the wire one by one, the long DKIM key included.
    let dkim = hickory
        .lookup("sel1._domainkey.example.com", RecordType::Txt)
        .await
        .unwrap();
    let Record::Txt(txt) = &dkim.records[0] else {
        panic!("{dkim:?}")
    };
    assert_eq!(txt.strings().count(), 4);
    assert!(txt.joined().len() > 255);

    // Once the server is gone, a fresh question is a temporary failure, within the
    // resolver's limit (500 ms, one attempt).
    server.stop().await;
    let started = Instant::now();
    let after = hickory
        .lookup("after-stop.example.com", RecordType::A)
        .await;
    let elapsed = started.elapsed();
    match &after {
        Err(e) => assert!(e.is_temporary(), "{e:?}"),
        Ok(a) => panic!("answer from a stopped server: {a:?}"),
    }
    assert!(
        elapsed < Duration::from_secs(2),
        "took {elapsed:?}: {after:?}"
    );
}

#[tokio::test]
async fn caching_resolver_over_hickory_serves_repeats_from_cache() {
    let zone = zone();
    let server = TestDnsServer::start(&zone).await.unwrap();
    let cache = CachingResolver::new(resolver(&server));

    let first = cache.lookup("mx1.example.com", RecordType::A).await;
    assert_eq!(cache.stats(), CacheStats { hits: 0, misses: 1 });
    let second = cache.lookup("MX1.example.com.", RecordType::A).await;
    assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 1 });
    assert_eq!(first, second);
    assert_eq!(
        shape(&first),
        shape(&zone.lookup_now("mx1.example.com", RecordType::A))
    );

    // Negative answers are cached too, with the SOA's negative TTL.
    let nx = cache.lookup("nope.example.com", RecordType::Txt).await;
    assert!(
        matches!(nx, Err(LookupError::NxDomain { ttl, .. }) if ttl > 0),
        "{nx:?}"
    );
    let _ = cache.lookup("nope.example.com", RecordType::Txt).await;
    assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 2 });

    // The cache answers with the server gone; a new question reaches the (dead) DNS.
    server.stop().await;
    let third = cache.lookup("mx1.example.com", RecordType::A).await;
    assert_eq!(third, first);
    assert_eq!(cache.stats(), CacheStats { hits: 3, misses: 2 });
    let miss = cache.lookup("ns1.example.com", RecordType::A).await;
    assert!(
        miss.as_ref().is_err_and(LookupError::is_temporary),
        "{miss:?}"
    );
    assert_eq!(cache.stats(), CacheStats { hits: 3, misses: 3 });
}
