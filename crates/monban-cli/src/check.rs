//! `monban check`: the domain checker (DESIGN §4 "JSON of monban check --json").

use std::io::IsTerminal as _;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use monban_diag::check::{self, CheckOptions, CheckReport, CheckView, SendingSetup, Severity};

use crate::Failure;
use crate::dns::DnsArgs;

/// Flags of `monban check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The domain to check.
    #[arg(value_name = "DOMAIN")]
    domain: String,
    /// A DKIM selector to check (repeat for several).
    #[arg(long = "selector", value_name = "S")]
    selectors: Vec<String>,
    /// Also try widely used selector names.
    #[arg(long)]
    discover: bool,
    /// A sending setup to predict: an IP mail will come from (repeat for several).
    #[arg(long = "sending-ip", value_name = "IP")]
    sending_ips: Vec<String>,
    /// The sending setup's MAIL FROM (envelope) domain (default: DOMAIN).
    #[arg(long, value_name = "D")]
    mail_from_domain: Option<String>,
    /// The sending setup's DKIM signing domain, d= (default: unsigned).
    #[arg(long, value_name = "D")]
    signing_domain: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn valid_domain(flag: &str, d: &str) -> Result<String, Failure> {
    check::domain_argument(flag, d).map_err(Failure::usage)
}

pub async fn run(dns: &DnsArgs, args: CheckArgs) -> Result<(), Failure> {
    let domain = valid_domain("DOMAIN", &args.domain)?;
    let ips = args
        .sending_ips
        .iter()
        .map(|ip| {
            ip.trim()
                .parse::<IpAddr>()
                .map_err(|_| Failure::usage(format!("--sending-ip {ip:?} is not an IP address")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mail_from_domain = args
        .mail_from_domain
        .as_deref()
        .map(|d| valid_domain("--mail-from-domain", d))
        .transpose()?;
    let signing_domain = args
        .signing_domain
        .as_deref()
        .map(|d| valid_domain("--signing-domain", d))
        .transpose()?;
    let wanted = !ips.is_empty() || mail_from_domain.is_some() || signing_domain.is_some();
    let sending = wanted.then_some(SendingSetup {
        ips,
        mail_from_domain,
        signing_domain,
    });
    let resolver = dns.build()?;
    let options = CheckOptions {
        selectors: args.selectors.clone(),
        discover: args.discover,
        sending,
        now: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let report = check::check(&resolver, &domain, &options).await;
    if args.json {
        outln!("{}", to_json(&report));
    } else {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        out!("{}", render(&report, colour));
    }
    Ok(())
}

/// A finding in the CLI's words: its next step as flags and commands of `monban`.
fn to_json(r: &CheckReport) -> serde_json::Value {
    // The model is monban-diag's (DESIGN §4); the CLI words the next steps and encodes.
    serde_json::to_value(CheckView::new(r, check::worded)).unwrap_or(serde_json::Value::Null)
}

fn light(s: Severity, colour: bool) -> String {
    let (code, word) = match s {
        Severity::Green => ("32", "GREEN "),
        Severity::Yellow => ("33", "YELLOW"),
        Severity::Red => ("31", "RED   "),
    };
    if colour {
        format!("\x1b[1;{code}m{word}\x1b[0m")
    } else {
        word.to_owned()
    }
}

/// The terminal table: one line per finding, the fix indented below it.
pub fn render(r: &CheckReport, colour: bool) -> String {
    let mut out = format!("{}  {}\n", light(r.status, colour), r.domain);
    for f in &r.findings {
        let (message, fix) = check::worded(f);
        out.push_str(&format!(
            "  {}  {:<7} {}\n",
            light(f.severity, colour),
            f.area.as_str(),
            message
        ));
        if let Some(fix) = &fix {
            out.push_str(&format!("                  fix: {fix}\n"));
        }
    }
    if !r.spf_networks.is_empty() {
        out.push_str(&format!("  SPF allows: {}\n", r.spf_networks.join(" ")));
    }
    out
}
