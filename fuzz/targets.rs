// The fuzz targets' bodies, shared by the fuzzers (fuzz/fuzz_targets/*.rs, nightly) and
// the stable replay of every input a fuzzer ever found
// (crates/monban-cli/tests/fuzz_regressions.rs): one implementation of each entry point.

#![allow(dead_code)] // each fuzz binary uses one entry point

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
            Step::Close | Step::Protocol(_) => break,
            Step::Reply(_) => {}
        }
    }
}

/// The example zone (examples/example.zone), parsed once: the DNS of the targets that
/// evaluate whole messages and SPF records.
fn example_zone() -> &'static monban_dns::ZoneResolver {
    static ZONE: std::sync::OnceLock<monban_dns::ZoneResolver> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| {
        let text = include_str!("../examples/example.zone");
        monban_dns::ZoneResolver::parse(text, "examples/example.zone", None).expect("the zone")
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
}

/// A whole message through `monban verify`'s pipeline (every method: SPF, Sender ID,
/// DKIM, DomainKeys, ARC, DKIM2, DMARC, A-R) against the example zone, with the
/// line-ending normalizer checked differentially (two chunks give what one gives).
pub fn verify_message(data: &[u8]) {
    use monban::message::CrlfNormalizer;
    use monban::pipeline::{Envelope, VerifyConfig, verify_message};
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut whole = Vec::new();
    CrlfNormalizer::new().normalize(data, &mut whole);
    let mut n = CrlfNormalizer::new();
    let mut parts = Vec::new();
    let mut out = Vec::new();
    for chunk in [&data[..split], &data[split..]] {
        n.normalize(chunk, &mut out);
        parts.extend_from_slice(&out);
    }
    assert_eq!(whole, parts, "CRLF normalizer split at {split}");
    let envelope = Envelope {
        ip: Some("192.0.2.25".parse().expect("an address")),
        helo: Some("mail.example.com".into()),
        mail_from: Some("alice@example.com".into()),
        rcpt_to: vec!["bob@example.org".into()],
    };
    let config = VerifyConfig {
        trusted_arc_sealers: vec!["lists.example.org".into()],
        dkim2: Some(Default::default()),
        ..Default::default()
    };
    let report = runtime().block_on(verify_message(
        data,
        envelope,
        config,
        1_795_000_000,
        example_zone(),
    ));
    let ar = report.authentication_results("mx.fuzz").to_value();
    let back = monban::authres::AuthenticationResults::parse(ar.as_bytes())
        .expect("monban reads the Authentication-Results it writes");
    assert_eq!(back.to_value(), ar, "A-R round trip");
}

/// DKIM key records (and their tag lists), DomainKeys key use, DKIM tag lists.
pub fn dkim_key(data: &[u8]) {
    if let Ok(k) = monban::dkim::KeyRecord::parse(data) {
        let _ = k.public_key.len();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = monban::dkim::tags::parse(text);
        let _ = monban::dkim::tags::parse_signature(text);
    }
}

/// SPF records (and Sender ID's `spf2.0/` ones), macro expansion of every
/// macro-string, and `check_host()` over the record: the first line is the TXT of
/// `fuzz.example.com`, the rest that of `more.example.com`, the example zone behind.
pub fn spf_record(data: &[u8]) {
    use monban::spf::macros::{MacroContext, MacroVars, expand};
    use monban::spf::{RecordScope, Spf, SpfRecord};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = SpfRecord::parse(text);
    let _ = SpfRecord::parse_sender_id(text);
    let vars = MacroVars {
        sender: "strong-bad@email.example.com",
        local_part: "strong-bad",
        sender_domain: "email.example.com",
        domain: "email.example.com",
        ip: "2001:db8::cb01".parse().expect("an address"),
        helo: "mx.example.org",
        receiver: "mx.fuzz",
        now: 1_795_000_000,
    };
    for ctx in [MacroContext::Domain, MacroContext::Explanation] {
        if let Ok(out) = expand(text, ctx, &vars, Some("mx.example.org"))
            && ctx == MacroContext::Explanation
        {
            assert!(
                out.len() <= monban::spf::macros::MAX_EXPLANATION_BYTES,
                "explanation over its bound"
            );
        }
    }
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let mut zone = example_zone().clone();
    let txt = |s: &str| monban_dns::Record::Txt(monban_dns::Txt::new([s.as_bytes()]));
    zone.insert("fuzz.example.com", txt(first), 300);
    if !rest.is_empty() {
        zone.insert("more.example.com", txt(rest), 300);
    }
    let spf = Spf::new(zone);
    let rt = runtime();
    for (ip, scope) in [
        ("192.0.2.25", RecordScope::Spf),
        ("2001:db8:25::25", RecordScope::SenderIdPra),
    ] {
        let o = rt.block_on(spf.check_host_scoped(
            ip.parse().expect("an address"),
            "fuzz.example.com",
            "user@fuzz.example.com",
            "mail.example.com",
            monban::spf::SpfIdentity::MailFrom,
            scope,
            1_795_000_000,
        ));
        let _ = monban::authres::ResInfo::from_spf(&o).to_text();
    }
}

/// DMARC records, the tree walk's names, and the public suffix list (the input read
/// as a list too) asked about the same names.
pub fn dmarc_names(data: &[u8]) {
    use monban::dmarc::discovery::walk_names;
    use monban::dmarc::{DmarcRecord, PublicSuffixList};
    let _ = DmarcRecord::is_candidate(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = DmarcRecord::parse(text);
    let names = walk_names(text);
    assert!(names.len() <= monban::dmarc::discovery::MAX_WALK_QUERIES);
    static BUNDLED: std::sync::OnceLock<PublicSuffixList> = std::sync::OnceLock::new();
    let bundled = BUNDLED.get_or_init(PublicSuffixList::bundled);
    let own = PublicSuffixList::parse(text);
    for list in [bundled, &own] {
        for name in text.split(['\n', ' ']).take(16) {
            let Some(org) = list.registrable_domain(name) else {
                continue;
            };
            // The organizational domain is the name's public suffix and one label more.
            let name = name.strip_suffix('.').unwrap_or(name).to_lowercase();
            let suffix = list.public_suffix(&name);
            assert!(
                name == org || name.ends_with(&format!(".{org}")),
                "{org} of {name}"
            );
            let rest = if suffix.is_empty() {
                org.as_str()
            } else {
                org.strip_suffix(&format!(".{suffix}"))
                    .unwrap_or_else(|| panic!("{org} does not end in {suffix}"))
            };
            assert!(!rest.is_empty() && !rest.contains('.'), "{org} / {suffix}");
        }
    }
}

/// Authentication-Results: parse, then write what was read and read it again, which
/// must give the same (RFC 8601 §2.2; the writer's output is what other hops parse).
pub fn authres(data: &[u8]) {
    use monban::authres::AuthenticationResults;
    let Ok(ar) = AuthenticationResults::parse(data) else {
        return;
    };
    let written = ar.to_value();
    let back = AuthenticationResults::parse(written.as_bytes())
        .unwrap_or_else(|e| panic!("{written:?} does not parse: {e}"));
    assert_eq!(back, ar, "parse(write(x)) != x for {written:?}");
}

/// ARC fields (AS, AMS, AAR instances) and DKIM2's (DKIM2-Signature,
/// Message-Instance, recipes).
pub fn arc_dkim2_fields(data: &[u8]) {
    let _ = monban::arc::fields::ArcSeal::parse(data);
    let _ = monban::dkim::DkimSignature::parse_arc_message(data);
    let _ = monban::arc::fields::aar_instance(data);
    let _ = monban::arc::fields::split_results(data);
    let _ = monban::arc::fields::instance_of(data, true);
    let _ = monban::dkim2::fields::Dkim2Signature::parse(data);
    let _ = monban::dkim2::fields::MessageInstance::parse(data);
    let _ = monban::dkim2::recipe::Recipe::parse(data);
}

/// Dates (RFC 5322 §3.3) and Received fields as the analyzer reads them.
pub fn date_received(data: &[u8]) {
    let _ = monban_diag::analyze::received::parse(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(d) = monban::rfc5322::datetime::parse(text)
    {
        let _ = d.to_iso8601();
    }
}

/// The zone-file parser (the `--zone` files).
pub fn zone_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(z) = monban_dns::ZoneResolver::parse(text, "fuzz.zone", Some("example.com"))
    {
        let _ = z.records().count();
    }
}

/// The milter's configuration file.
pub fn milter_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = monban_milter::config::Config::parse(
            text,
            "fuzz.toml",
            std::path::Path::new("/nonexistent-fuzz-base"),
        );
    }
}

/// Report documents read directly: RFC 9990 aggregate XML, TLS-RPT JSON, ARF
/// feedback reports and RFC 9991 plain-text failure reports.
pub fn report_xml(data: &[u8]) {
    let _ = monban::report::parse::parse_aggregate(data);
    let _ = monban::report::tlsrpt::parse_tls_report(data);
    let _ = monban::report::arf::parse_plain_text(data);
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let _ = monban::report::arf::parse_feedback_report(
        &data[..split],
        data.get(split + 1..).filter(|o| !o.is_empty()),
    );
}

/// Reports as they arrive: a mail (MIME walk, attachments), or a file in gzip, zip, XML
/// or JSON, through the ingester with smaller bounds than the defaults.
pub fn report_mail(data: &[u8]) {
    let limits = monban_report::extract::Limits {
        max_input: 1 << 20,
        max_output: 8 << 20,
        max_ratio: 1000,
        ratio_floor: 64 << 10,
        max_depth: 3,
        max_members: 20,
    };
    let _ = monban_report::ingest::from_file(data, "fuzz", &limits);
    let _ = monban_report::ingest::from_mail(data, "fuzz", &limits);
}

/// IMAP: the report importer's session against a server that answers with the input
/// (after a secured connection): greeting, LOGIN, CAPABILITY, SELECT, SEARCH, FETCH
/// of each UID found, marking them done, LOGOUT.
pub fn imap_responses(data: &[u8]) {
    use monban_report::imap::{ImapSession, ImapUrl};
    let url = ImapUrl::parse("imaps://reports@imap.example.com/INBOX").expect("a URL");
    let server = std::io::Cursor::new(data.to_vec());
    let stream = tokio::io::join(server, tokio::io::sink());
    runtime().block_on(async {
        let Ok(mut s) = ImapSession::over_secured_stream(stream, &url, "secret").await else {
            return;
        };
        let Ok(uids) = s.unseen_uids().await else {
            return;
        };
        let mut done = Vec::new();
        for uid in uids.into_iter().take(8) {
            match s.fetch(uid, 64 << 10).await {
                Ok(_) => done.push(uid),
                Err(_) => return,
            }
        }
        let _ = s.mark_done(&done, Some("Done")).await;
        s.logout().await;
    });
}
