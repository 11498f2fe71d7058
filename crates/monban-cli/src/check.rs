//! `monban check`: the domain checker (DESIGN §4 "JSON of monban check --json").

use std::io::IsTerminal as _;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use monban_diag::check::{self, CheckOptions, CheckReport, CheckView, SendingSetup, Severity};
use monban_diag::i18n::{Lang, catalog};

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
    /// A private key (PEM) to compare with what the first --selector publishes: does the
    /// record match the key, is it valid, is the key strong enough (the job of
    /// opendkim-testkey).
    #[arg(long, value_name = "FILE", requires = "selectors")]
    key: Option<std::path::PathBuf>,
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
    /// With --sending-ip: a DNS block list to look the IPs up in (repeatable; ZONE,
    /// ZONE=127.0.0.2,... or ZONE&MASK as for verify). The IPs' reverse DNS is always
    /// checked.
    #[arg(long = "dnsbl", value_name = "ZONE", requires = "sending_ips")]
    dnsbl: Vec<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Exit with status 3 when the domain's status is this colour or worse (red, or
    /// yellow for red and yellow), or when the lookup of its own records failed (the
    /// check could not be made), after printing the report: for cron and monitoring.
    #[arg(long = "fail-on", value_name = "COLOUR", value_parser = ["red", "yellow"])]
    fail_on: Option<String>,
    /// `nagios`: one line (`MONBAN CHECK CRITICAL - example.com: 1 red, 2 yellow (spf:
    /// ...) | red=1 yellow=2 green=5`, with the first finding of the worst colour) and
    /// the Nagios plugin exit status: 0 green, 1 yellow,
    /// 2 red, 3 (UNKNOWN) when the lookup of the domain's SPF, DMARC or MX records, or
    /// of a selector given, failed and nothing seen is red.
    #[arg(long, value_name = "FORMAT", value_parser = ["nagios"])]
    format: Option<String>,
    /// The language of the findings: en or ja (default: from LC_ALL, LC_MESSAGES or
    /// LANG for the text output; JSON is English unless --lang is given, so that
    /// scripts see the same words everywhere).
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    lang: Option<Lang>,
}

/// `--lang`: a language monban speaks.
pub fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?}: monban speaks en and ja"))
}

/// A finding's words in a Nagios status line: one line, no `|` (it starts the
/// performance data), at most 200 characters.
fn nagios_text(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if text.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

fn valid_domain(flag: &str, d: &str) -> Result<String, Failure> {
    check::domain_argument(flag, d).map_err(|e| Failure::usage(e.to_string()))
}

pub async fn run(dns: &DnsArgs, args: CheckArgs) -> Result<(), Failure> {
    let domain = valid_domain("DOMAIN", &args.domain)?;
    check::selectors_argument(&args.selectors)
        .map_err(|m| Failure::usage(format!("--selector: {}", m.text(Lang::En))))?;
    let ips = args
        .sending_ips
        .iter()
        .map(|ip| {
            let addr = ip
                .trim()
                .parse::<IpAddr>()
                .map_err(|_| Failure::usage(format!("--sending-ip {ip:?} is not an IP address")))?;
            match not_seen_by_receivers(addr) {
                Some(what) => Err(Failure::usage(format!(
                    "--sending-ip {ip}: {what}, which no receiver on the Internet sees mail come from; give the public address your mail leaves from"
                ))),
                None => Ok(addr),
            }
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
        private_key: match &args.key {
            None => None,
            Some(path) => {
                let pem = crate::sign::read_key_text(path)?;
                // A key too small to sign with is still compared with its record (the
                // record's own finding says it is weak): checking an old key before
                // replacing it is what --key is for.
                let parsed = monban::dkim::crypto::public_record_from_pem(&pem);
                // Only a private key is a secret, whatever its kind and whether monban
                // can use it (an EC or encrypted key is refused below, and may still be
                // readable by all): told by its PEM label. A public key given by mistake
                // gets the error alone.
                if pem.contains("PRIVATE KEY-----")
                    && let Some(w) = monban_dns::file::secret_exposure(path)
                {
                    errln!("monban: warning: the key {w}");
                }
                let (record, _) =
                    parsed.map_err(|e| Failure::other(format!("--key {}: {e}", path.display())))?;
                Some((
                    args.selectors[0].to_ascii_lowercase(),
                    path.display().to_string(),
                    record,
                ))
            }
        },
        dnsbl: args
            .dnsbl
            .iter()
            .map(|z| {
                monban::dnsbl::Zone::parse(z, monban::dnsbl::ListKind::Block)
                    .map_err(|e| Failure::usage(format!("--dnsbl {z:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let report = check::check(&resolver, &domain, &options).await;
    // A lookup that failed (timeout, SERVFAIL) leaves the check undone: Nagios's
    // UNKNOWN, and a failure for --fail-on, unless what was seen is bad enough already.
    // The domain's own records (SPF, DMARC, MX) and the selectors given; not the
    // common selectors the checker tries on its own.
    let given = |name: &str| {
        args.selectors.iter().any(|s| {
            name.to_ascii_lowercase()
                .starts_with(&format!("{}._domainkey.", s.to_ascii_lowercase()))
        })
    };
    let failed_lookup =
        |f: &&monban_diag::check::Finding| match f.text.id {
            "spf-lookup-failed" | "dmarc-lookup-failed" | "mx-lookup-failed" => true,
            "dkim-lookup-failed" => f.text.args.iter().any(|(k, v)| {
                *k == "name" && matches!(v, monban_diag::i18n::Arg::Text(n) if given(n))
            }),
            _ => false,
        };
    let failed = report.findings.iter().filter(failed_lookup).count();
    if args.format.as_deref() == Some("nagios") {
        let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
        let (red, yellow, green) = (
            count(Severity::Red),
            count(Severity::Yellow),
            count(Severity::Green),
        );
        let (word, code) = match report.status {
            Severity::Red => ("CRITICAL", 2),
            _ if failed > 0 => ("UNKNOWN", 3),
            Severity::Green => ("OK", 0),
            Severity::Yellow => ("WARNING", 1),
        };
        let lookups = if failed > 0 && code == 3 {
            format!(" ({failed} DNS lookup(s) failed)")
        } else {
            String::new()
        };
        // The first finding of the worst colour, so that the alert says what to look
        // at (a monitoring screen shows this line only); for UNKNOWN, the first lookup
        // that failed.
        let worst: Vec<_> = if code == 3 {
            report.findings.iter().filter(failed_lookup).collect()
        } else {
            report
                .findings
                .iter()
                .filter(|f| f.severity == report.status && f.severity != Severity::Green)
                .collect()
        };
        let first = worst.first().map_or(String::new(), |f| {
            let lang = args.lang.unwrap_or_default();
            let more = match worst.len() - 1 {
                0 => String::new(),
                n => format!("; and {n} more"),
            };
            format!(
                " ({}: {}{more})",
                f.area.as_str(),
                nagios_text(&f.text.text(lang))
            )
        });
        outln!(
            "MONBAN CHECK {word} - {}: {red} red, {yellow} yellow{lookups}{first} | red={red} yellow={yellow} green={green}",
            report.domain
        );
        return if code == 0 {
            Ok(())
        } else {
            Err(Failure::Status(code))
        };
    }
    if args.json {
        outln!("{}", to_json(&report, args.lang.unwrap_or_default()));
    } else {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let lang = args.lang.unwrap_or_else(Lang::from_env);
        out!("{}", render(&report, colour, lang));
    }
    let threshold = match args.fail_on.as_deref() {
        Some("yellow") => Some(Severity::Yellow),
        Some(_) => Some(Severity::Red),
        None => None,
    };
    match threshold {
        Some(t) if report.status >= t => Err(Failure::Status(3)),
        // A resolver that answers nothing would make every record's lookup fail and
        // the domain only yellow: a cron job must hear that the check was not made.
        Some(_) if failed > 0 => {
            errln!(
                "monban: {failed} DNS lookup(s) of {}'s records failed: the check could not be made",
                report.domain
            );
            Err(Failure::Status(3))
        }
        _ => Ok(()),
    }
}

/// A finding in the CLI's words: its next step as flags and commands of `monban`.
fn to_json(r: &CheckReport, lang: Lang) -> serde_json::Value {
    // The model is monban-diag's (DESIGN §4); the CLI words the next steps and encodes.
    serde_json::to_value(CheckView::new(r, |f| check::worded_in(lang, f)))
        .unwrap_or(serde_json::Value::Null)
}

/// Columns a terminal gives a text: two for East Asian wide characters, one for others.
fn columns(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            let wide = (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c);
            if wide { 2 } else { 1 }
        })
        .sum()
}

fn light(s: Severity, colour: bool, lang: Lang) -> String {
    let (code, word) = match (s, lang) {
        (Severity::Green, Lang::En) => ("32", "GREEN".to_owned()),
        (Severity::Yellow, Lang::En) => ("33", "YELLOW".to_owned()),
        (Severity::Red, Lang::En) => ("31", "RED".to_owned()),
        (s, l) => (
            match s {
                Severity::Green => "32",
                Severity::Yellow => "33",
                Severity::Red => "31",
            },
            catalog(l).get(&format!("cli-light-{}", s.as_str())),
        ),
    };
    let width: usize = match lang {
        Lang::En => 6,
        Lang::Ja => 8,
    };
    let pad = " ".repeat(width.saturating_sub(columns(&word)));
    if colour {
        format!("\x1b[1;{code}m{word}\x1b[0m{pad}")
    } else {
        format!("{word}{pad}")
    }
}

/// The terminal table: one line per finding, the fix indented below it.
pub fn render(r: &CheckReport, colour: bool, lang: Lang) -> String {
    let t = catalog(lang);
    let mut out = format!("{}  {}\n", light(r.status, colour, lang), r.domain);
    let indent = " ".repeat(match lang {
        Lang::En => 18,
        Lang::Ja => 20,
    });
    for f in &r.findings {
        let (message, fix) = check::worded_in(lang, f);
        out.push_str(&format!(
            "  {}  {:<7} {}\n",
            light(f.severity, colour, lang),
            f.area.as_str(),
            message
        ));
        if let Some(fix) = &fix {
            out.push_str(&format!("{indent}{} {fix}\n", t.get("cli-fix")));
        }
    }
    if !r.spf_networks.is_empty() {
        out.push_str(&format!(
            "  {} {}\n",
            t.get("cli-spf-allows"),
            r.spf_networks.join(" ")
        ));
    }
    out
}

/// What kind of address `ip` is when no receiver on the Internet sees mail come from
/// it (the checker would advise listing it in SPF): unspecified, loopback, link-local,
/// multicast, broadcast, private (RFC 1918, RFC 4193) or shared (RFC 6598). `None` for
/// the rest, the documentation ranges included (examples use them).
fn not_seen_by_receivers(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_unspecified() {
                Some("the unspecified address")
            } else if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.is_multicast() || v4.is_broadcast() {
                Some("a multicast or broadcast address")
            } else if v4.is_private() {
                Some("a private address (RFC 1918)")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a shared address (RFC 6598, carrier-grade NAT)")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a unique local address (RFC 4193)")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding's words in the Nagios line: one line, no `|` but the performance
    /// data's, cut at 200 characters (not bytes: Japanese text is three bytes a
    /// character).
    #[test]
    fn nagios_text_is_one_line_without_a_bar() {
        assert_eq!(nagios_text("a | b\nc\td"), "a / b c d");
        let long = "あ".repeat(250);
        let cut = nagios_text(&long);
        assert_eq!(cut.chars().count(), 201, "{cut}");
        assert!(cut.ends_with("あ…"));
        assert_eq!(nagios_text(&"x".repeat(200)), "x".repeat(200));
    }
}
