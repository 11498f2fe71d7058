//! `monban seal`: adds an ARC set (RFC 8617 §5.1) to a message, as a mailing list or
//! forwarder does before passing it on.
//!
//! The message is verified as `monban verify` does (the ARC chain that arrived gives
//! `cv=`), and sealed in the same streaming pass; then it is printed with the new set on
//! top (read twice, as `monban sign` does: a file again, standard input from a spool).
//! A chain whose latest seal says `cv=fail` is never sealed again: the message is
//! printed unchanged and the reason goes to standard error.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use monban::arc::seal::{received_chain, results_recorded_by};
use monban::arc::{ArcSealer, SealConfig, SealError};
use monban::authres::ResInfo;
use monban::message::Headers;
use monban::pipeline::{Envelope, MessageVerifier, VerifyConfig};
use monban::spf::SpfConfig;

use crate::Failure;
use crate::dns::DnsArgs;
use crate::input::Source;
use crate::sign::{MessageSink, first_pass};

/// Flags of `monban seal`.
#[derive(Debug, Args)]
pub struct SealArgs {
    /// The sealer's domain (d= of the ARC-Message-Signature and ARC-Seal).
    #[arg(long, value_name = "D")]
    domain: String,
    /// The selector (s=).
    #[arg(long, value_name = "S")]
    selector: String,
    /// The private RSA key (PEM, PKCS#8 or PKCS#1): ARC verifiers in use accept rsa-sha256
    /// only.
    #[arg(long, value_name = "FILE")]
    key: std::path::PathBuf,
    /// The authserv-id of this host, written in the ARC-Authentication-Results.
    #[arg(long, value_name = "ID")]
    authserv_id: String,
    /// The SMTP client's IP address when the message arrived, to check SPF.
    #[arg(long, value_name = "IP")]
    ip: Option<String>,
    /// The HELO/EHLO name when it arrived.
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// The MAIL FROM address when it arrived ("" for the null sender).
    #[arg(long, value_name = "ADDR")]
    mail_from: Option<String>,
    /// Record the results this host already wrote in the message's
    /// Authentication-Results fields (those with --authserv-id) instead of verifying
    /// now, and take cv= from their arc= (while the seals still verify): what a list
    /// does when it changed the message after checking it on arrival. Use only when
    /// your MTA removes such fields from incoming mail (the milter does).
    #[arg(long)]
    recorded_results: bool,
    /// Header fields the ARC-Message-Signature signs, colon-separated (default: the
    /// DKIM defaults present, oversigned, and every DKIM-Signature).
    #[arg(long, value_name = "h1:h2")]
    headers: Option<String>,
    /// Seal as of this time (t=) instead of now: Unix seconds, a date or an RFC 3339
    /// date-time.
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_at)]
    at: Option<u64>,
    /// The message (default: standard input).
    #[arg(value_name = "FILE")]
    file: Option<String>,
}

pub async fn run(dns: &DnsArgs, args: SealArgs) -> Result<(), Failure> {
    let envelope = Envelope::from_user(
        args.ip.as_deref(),
        args.helo.as_deref(),
        args.mail_from.as_deref(),
        |n| format!("--{}", n.replace('_', "-")),
    )
    .map_err(Failure::usage)?;
    let id = &args.authserv_id;
    let key = crate::sign::read_key(&args.key)?;
    let domain = monban::dkim::signature::ascii_domain(&args.domain)
        .ok_or_else(|| crate::sign::not_a_name("--domain", &args.domain))?;
    let mut config = SealConfig::new(&domain, &args.selector, Arc::new(key), id);
    if let Some(h) = &args.headers {
        config.headers = Some(
            h.split(':')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    // What the set will say is checked before the message is read: a bad flag is a
    // usage error naming it.
    config.check().map_err(|e| seal_usage(e, &args))?;
    let now = args.at.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let resolver = dns.build()?;
    let verify_config = VerifyConfig {
        spf: SpfConfig {
            receiver: id.clone(),
            ..SpfConfig::default()
        },
        ..VerifyConfig::default()
    };

    let source = Source::from_arg(args.file.as_deref());
    let label = source.label();
    struct Sealing {
        label: String,
        verifier: MessageVerifier,
        config: Option<SealConfig>,
        now: u64,
        sealer: Option<(ArcSealer, Headers)>,
    }
    impl MessageSink for Sealing {
        fn header(&mut self, headers: Headers) -> Result<(), Failure> {
            // An empty input is no message: nothing to seal (as `sign` and `verify`
            // refuse it).
            if headers.fields().next().is_none() {
                return Err(Failure::other(format!(
                    "{}: no message (the input is empty or has no header)",
                    self.label
                )));
            }
            self.verifier.headers(headers.clone());
            let config = self.config.take().expect("one message, one start");
            let s = ArcSealer::new(headers.clone(), config, self.now)
                .map_err(|e| Failure::other(format!("{}: {e}", self.label)))?;
            self.sealer = Some((s, headers));
            Ok(())
        }
        fn body(&mut self, chunk: &[u8]) {
            if let Some((s, _)) = self.sealer.as_mut() {
                s.body(chunk);
            }
            self.verifier.body(chunk);
        }
    }
    let mut sink = Sealing {
        label: label.clone(),
        verifier: MessageVerifier::new(envelope, verify_config, now),
        config: Some(config),
        now,
        sealer: None,
    };
    let pass = first_pass(&source, &mut sink)?;
    let verifier = sink.verifier;
    let (sealer, headers) = sink.sealer.expect("first_pass gives the header");
    let report = verifier.finish(&resolver).await;
    let (results, chain) = if args.recorded_results {
        let mut recorded = results_recorded_by(&headers, id);
        if recorded.is_empty() {
            return Err(Failure::other(format!(
                "{label}: --recorded-results: the message has no Authentication-Results from {id}"
            )));
        }
        // cv= is the chain as this host received it: its recorded arc= result, kept
        // only while the seals still hold.
        let chain = received_chain(&report.arc, &mut recorded);
        (recorded, chain)
    } else {
        let results = report
            .authentication_results(id)
            .results
            .iter()
            .map(ResInfo::to_text)
            .collect();
        (results, report.arc.clone())
    };
    let sealed = match sealer.finish(&chain, &results) {
        Ok(set) => Some(set),
        Err(e @ (SealError::ChainFailed { .. } | SealError::TooManySets)) => {
            errln!("monban: {label}: not sealed: {e}");
            None
        }
        Err(e) => return Err(Failure::other(format!("{label}: {e}"))),
    };

    let prefix = sealed.map(|set| set.header_lines()).unwrap_or_default();
    pass.write_with(&prefix, &source)
}

/// A sealing setting refused by [`SealConfig::check`], as a usage error naming the
/// flag and the value as given (a key that is not RSA is not a usage error).
fn seal_usage(e: SealError, args: &SealArgs) -> Failure {
    match e {
        SealError::Domain(_) => crate::sign::not_a_name("--domain", &args.domain),
        SealError::Selector(_) => crate::sign::not_a_name("--selector", &args.selector),
        SealError::AuthservId(_) => Failure::usage(format!("--authserv-id: {e}")),
        SealError::HeaderName(_) | SealError::FromNotListed | SealError::TooManyHeaders => {
            Failure::usage(format!("--headers: {e}"))
        }
        e => Failure::other(format!("{}: {e}", args.key.display())),
    }
}
