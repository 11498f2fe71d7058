// The fuzz targets' bodies, shared by the fuzzers (fuzz/fuzz_targets/*.rs, nightly) and
// the stable replay of every input a fuzzer ever found
// (crates/monban-cli/tests/fuzz_regressions.rs): one implementation of each entry point.

use std::sync::Arc;

use monban::dkim::body::{BodyHashKey, BodyHasher};
use monban::dkim::{Algorithm, Canonicalization};
use monban::domainkeys::{BodyCanonicalizer, DkCanonicalization};
use monban_milter::protocol::Framer;
use monban_milter::session::{FilterConfig, Session, Step};

/// The header splitter (in two chunks, as the milter and the CLI feed it), the header
/// analyzer, the PRA and the DomainKeys set-up over whatever header it yields.
pub fn header_analyze(data: &[u8]) {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut s = monban::message::MessageSplitter::new();
    let mut headers = None;
    for chunk in [&data[..split], &data[split..]] {
        match s.push(chunk) {
            Ok(monban::message::Split::HeaderDone(h, _)) => headers = Some(h),
            Ok(_) => {}
            Err(_) => return,
        }
    }
    let headers = match headers {
        Some(h) => h,
        None => match s.finish() {
            Ok(Some(h)) => h,
            _ => return,
        },
    };
    let a = monban_diag::analyze::analyze(&headers, Some(data));
    let _ = a.warnings.len();
    let _ = monban::senderid::pra(&headers);
    let _ = monban::domainkeys::DomainKeysVerifier::new(&headers);
}

/// RFC 5322 address lists and the DMARC author domain.
pub fn from_address(data: &[u8]) {
    let _ = monban::address::parse_mailbox_list(data);
    let mut field = b"From:".to_vec();
    field.extend_from_slice(data);
    field.extend_from_slice(b"\r\n");
    if let Ok(h) = monban::message::Headers::parse(&field) {
        let _ = monban::dmarc::author_domain(&h);
    }
}

/// DKIM-Signature and DomainKey-Signature parsing; body canonicalization checked
/// differentially: two chunks split anywhere give what one chunk gives.
pub fn dkim_canon(data: &[u8]) {
    let _ = monban::dkim::DkimSignature::parse(data);
    let _ = monban::domainkeys::DomainKeySignature::parse(data);
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
        let key = BodyHashKey::new(Algorithm::RsaSha256, c, None);
        let mut one = BodyHasher::new(key);
        one.update(data);
        let mut two = BodyHasher::new(key);
        two.update(&data[..split]);
        two.update(&data[split..]);
        assert_eq!(one.finish(), two.finish(), "{c:?} split at {split}");
    }
    for c in [DkCanonicalization::Simple, DkCanonicalization::Nofws] {
        let run = |chunks: &[&[u8]]| {
            let mut canon = BodyCanonicalizer::new(c);
            let mut all = Vec::new();
            let mut out = Vec::new();
            for ch in chunks {
                canon.update(ch, &mut out);
                all.extend_from_slice(&out);
            }
            canon.finish(&mut out);
            all.extend_from_slice(&out);
            all
        };
        assert_eq!(
            run(&[data]),
            run(&[&data[..split], &data[split..]]),
            "{c:?} split at {split}"
        );
    }
}

/// The milter: bytes framed into packets, decoded and driven through a session (DNS
/// from an empty zone), as an MTA would.
pub fn milter_session(data: &[u8]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let zone = monban_dns::ZoneResolver::new();
    let config = Arc::new(FilterConfig::new("mx.fuzz"));
    let mut session = Session::new(config, 1_795_000_000);
    let mut framer = Framer::with_limit(64 * 1024);
    framer.extend(data);
    let mut n = 0;
    while let Ok(Some(cmd)) = framer.next_command() {
        n += 1;
        if n > 2_000 {
            break;
        }
        match session.command(cmd) {
            Step::EndOfMessage => {
                let _ = rt.block_on(session.end_of_message(&zone));
            }
            Step::Connect => {
                let _ = rt.block_on(session.connect_checks(&zone));
            }
            Step::Close => break,
            Step::Reply(_) => {}
        }
    }
}
