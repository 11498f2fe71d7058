//! `monban spf`: one check_host() evaluation (RFC 7208).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use monban::spf::received::received_spf;
use monban::spf::{Spf, SpfConfig, SpfOutcome};
use monban::view::SpfView;

use crate::dns::DnsArgs;
use crate::{Failure, SpfArgs, host_name};

/// Checks an address given on the command line: `local@domain`, or empty / `<>`.
pub(crate) fn check_mail_from(addr: &str) -> Result<(), Failure> {
    monban::pipeline::check_mail_from(addr).map_err(|e| Failure::usage(format!("--mail-from {e}")))
}

pub(crate) fn check_helo(helo: &str) -> Result<(), Failure> {
    monban::pipeline::check_helo(helo).map_err(|e| Failure::usage(format!("--helo {e}")))
}

pub async fn run(dns: &DnsArgs, args: SpfArgs) -> Result<(), Failure> {
    let ip: IpAddr = args.ip.trim().parse().map_err(|_| {
        Failure::usage(format!("--ip {:?} is not an IPv4 or IPv6 address", args.ip))
    })?;
    if let Some(h) = &args.helo {
        check_helo(h)?;
    }
    if let Some(m) = &args.mail_from {
        check_mail_from(m)?;
    }
    if args.mail_from.is_none() && args.helo.is_none() {
        return Err(Failure::usage("give --mail-from, --helo, or both"));
    }
    let receiver = args.receiver.clone().unwrap_or_else(host_name);
    let resolver = dns.build()?;
    let spf = Spf::with_config(
        resolver,
        SpfConfig {
            receiver: receiver.clone(),
            ..SpfConfig::default()
        },
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let outcome = match (&args.mail_from, &args.helo) {
        (Some(mail_from), helo) => {
            let null = mail_from
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .is_empty();
            if null && helo.is_none() {
                return Err(Failure::usage(
                    "a null --mail-from is checked as postmaster@<HELO>: give --helo too",
                ));
            }
            spf.verify_mail_from(ip, helo.as_deref().unwrap_or(""), mail_from, now)
                .await
        }
        (None, Some(helo)) => spf.verify_helo(ip, helo, now).await,
        (None, None) => unreachable!("checked above"),
    };
    if args.json {
        outln!("{}", to_json(&outcome, &receiver));
    } else {
        outln!("Received-SPF: {}", received_spf(&outcome, &receiver));
        if let Some(exp) = &outcome.explanation {
            outln!("Explanation: {exp}");
        }
    }
    Ok(())
}

fn to_json(o: &SpfOutcome, receiver: &str) -> serde_json::Value {
    // The model is the library's (DESIGN §4); the CLI only encodes it.
    serde_json::to_value(SpfView::new(o, receiver)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_from_validation() {
        for ok in [
            "user@example.com",
            "",
            "<>",
            "<user@example.com>",
            "user@[192.0.2.1]",
            // No local part: postmaster (RFC 7208 §4.3; trial finding F14).
            "@example.com",
        ] {
            assert!(check_mail_from(ok).is_ok(), "{ok}");
        }
        for bad in [
            "example.com",
            "@",
            "a b@example.com",
            "user@a..b",
            "user@exa\nmple.com",
        ] {
            assert!(
                matches!(check_mail_from(bad), Err(Failure::Usage(_))),
                "{bad}"
            );
        }
    }
}
