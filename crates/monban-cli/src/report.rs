//! `monban report generate|send` (DESIGN §4 "Reports").

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use monban::rfc5322::datetime::civil_from_days;
use monban_report::generate::DAY;
use std::sync::Arc;

use monban::dkim::SignerConfig;
use monban_report::send::{SendOptions, StartTls, send};
use monban_report::{GenerateOptions, generate};

use crate::Failure;

/// `monban report ...`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Write one RFC 9990 aggregate report per policy domain (and policy) for one UTC
    /// day from the recorded evaluations, and keep it in the store for `report send`.
    Generate(GenerateArgs),
    /// Send the generated reports that are due to each verified rua destination,
    /// through an SMTP relay, DKIM-signed; failures are retried on later runs.
    Send(SendArgs),
    /// Store received reports (aggregate, failure, TLS) from files, folders, Maildir,
    /// mbox or IMAP; each report once, duplicates and conflicts told apart.
    Import(crate::report_in::ImportArgs),
    /// What the stored aggregate reports say, per domain: pass rates, dispositions,
    /// reporters, sources (failing first) and likely forwarders.
    Summary(crate::report_in::SummaryArgs),
    /// For each domain: which sources the next policy step would hurt, what to do for
    /// each, and whether it is safe to move on.
    Advise(crate::report_in::SummaryArgs),
}

/// Flags of `monban report send`.
#[derive(Debug, Args)]
struct SendArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The SMTP relay that takes the reports (e.g. the local MTA: localhost:25).
    #[arg(long, value_name = "HOST[:PORT]")]
    smtp: String,
    /// STARTTLS with the relay: opportunistic (when offered), required, or never.
    #[arg(long, value_name = "MODE", default_value = "opportunistic")]
    starttls: String,
    /// The reporting address: From and the envelope sender (as --email of generate).
    #[arg(long, value_name = "ADDR")]
    from: String,
    /// The From display name (the reporting organization).
    #[arg(long, value_name = "NAME")]
    org_name: Option<String>,
    /// The EHLO name (default: this host's name).
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// Sign with this domain (d=): it should align with --from so the reports pass DMARC.
    #[arg(long, value_name = "DOMAIN", requires_all = ["dkim_selector", "dkim_key"])]
    dkim_domain: Option<String>,
    /// The selector (s=).
    #[arg(long, value_name = "SELECTOR", requires = "dkim_domain")]
    dkim_selector: Option<String>,
    /// The private key (PEM).
    #[arg(long, value_name = "FILE", requires = "dkim_domain")]
    dkim_key: Option<PathBuf>,
    /// Sign as the milter's signing table says for --from (its [[signing]] rows).
    #[arg(long, value_name = "FILE", conflicts_with = "dkim_domain")]
    milter_config: Option<PathBuf>,
    /// Send without a DKIM signature (the reports then cannot pass DMARC by DKIM).
    #[arg(long, conflicts_with_all = ["dkim_domain", "milter_config"])]
    unsigned: bool,
    /// Reports to one destination per hour at most.
    #[arg(long, value_name = "N", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..))]
    max_per_hour: u64,
    /// Attempts before a delivery is given up.
    #[arg(long, value_name = "N", default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Deliveries per run at most.
    #[arg(long, value_name = "N", default_value_t = monban_report::send::DELIVERIES_PER_RUN,
        value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Send as of this time instead of now (what is due then, signed with that time):
    /// Unix seconds, a date (2026-11-22) or an RFC 3339 date-time. A report is due once
    /// its day is over.
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_at)]
    at: Option<u64>,
    /// Print JSON: {"deliveries": [{"report_id", "domain", "destination", "status", "detail"}], ...}.
    #[arg(long)]
    json: bool,
}

/// The store flag shared by the report commands.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// The store: sqlite:PATH or postgres://... (default: $MONBAN_STORE, else
    /// sqlite:$XDG_DATA_HOME/monban/monban.db).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

impl StoreArg {
    /// The URL given, if any.
    pub fn url(&self) -> Option<&str> {
        self.store.as_deref()
    }

    pub async fn open(&self) -> Result<Box<dyn monban_store::Store>, Failure> {
        open_store(self.store.as_deref()).await
    }

    /// The store, which must exist already (a SQLite file): commands that work on what
    /// was recorded never create one, so a mistyped path is an error, not an empty
    /// store and "nothing to do". `fill` says what creates it.
    pub async fn open_existing(&self, fill: &str) -> Result<Box<dyn monban_store::Store>, Failure> {
        let url = match self.url() {
            Some(u) => {
                monban_store::StoreUrl::parse(u).map_err(|e| Failure::usage(e.to_string()))?
            }
            None => monban_store::StoreUrl::default_from_env()
                .map_err(|e| Failure::other(e.to_string()))?,
        };
        if let monban_store::StoreUrl::Sqlite(path) = &url
            && !path.exists()
        {
            return Err(Failure::other(format!(
                "no store at {} ({fill})",
                path.display()
            )));
        }
        self.open().await
    }
}

/// The store of `--store URL`, else `$MONBAN_STORE`, else the default file (DESIGN §4
/// "The store"), opened and migrated; a bad URL is a usage error.
pub async fn open_store(url: Option<&str>) -> Result<Box<dyn monban_store::Store>, Failure> {
    let url = match url {
        Some(u) => monban_store::StoreUrl::parse(u).map_err(|e| Failure::usage(e.to_string()))?,
        None => {
            monban_store::StoreUrl::default_from_env().map_err(|e| Failure::other(e.to_string()))?
        }
    };
    monban_store::open(&url)
        .await
        .map_err(|e| Failure::other(e.to_string()))
}

/// Flags of `monban report generate`.
#[derive(Debug, Args)]
struct GenerateArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The reporting organization (`org_name`), e.g. "Example Mail".
    #[arg(long, value_name = "NAME")]
    org_name: String,
    /// The reporting address (`email`); its domain names the receiver in file names.
    #[arg(long, value_name = "ADDR")]
    email: String,
    /// More contact details (`extra_contact_info`), e.g. a web page.
    #[arg(long, value_name = "TEXT")]
    extra_contact_info: Option<String>,
    /// The UTC day to report (default: yesterday; today gives what was recorded so
    /// far).
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// Where to write the .xml.gz files.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print JSON: {"date", "begin", "end", "sent_from" (when `report send` first takes
    /// new reports: now, or an hour after the day's end for a day not over),
    /// "reports": [{"file", "domain", "report_id", "records",
    /// "messages", "rua", "ignored_rua", "status", "left_out"}], "skipped",
    /// "messages_without_ip"}.
    #[arg(long)]
    json: bool,
}

pub async fn run(dns: &crate::dns::DnsArgs, args: ReportArgs) -> Result<(), Failure> {
    match args.command {
        ReportCommand::Generate(g) => run_generate(g).await,
        ReportCommand::Send(s) => run_send(dns, s).await,
        ReportCommand::Import(i) => crate::report_in::run_import(i).await,
        ReportCommand::Summary(s) => crate::report_in::run_summary(dns, s).await,
        ReportCommand::Advise(s) => crate::report_in::run_advise(dns, s).await,
    }
}

/// The signer of report mail: explicit flags, or the milter's signing table.
fn report_signer(args: &SendArgs) -> Result<Option<SignerConfig>, Failure> {
    if let Some(domain) = &args.dkim_domain {
        let (Some(selector), Some(key)) = (&args.dkim_selector, &args.dkim_key) else {
            return Err(Failure::usage(
                "--dkim-domain needs --dkim-selector and --dkim-key",
            ));
        };
        // A key a timer signs with for good, so its exposure is said (a one-shot
        // `monban sign` leaves the user's own file to the user).
        if let Some(w) = monban_dns::file::secret_exposure(key) {
            errln!("monban: warning: the key {w}");
        }
        let key = crate::sign::read_key(key)?;
        return Ok(Some(SignerConfig::new(
            domain.trim_end_matches('.'),
            selector,
            Arc::new(key),
        )));
    }
    if let Some(path) = &args.milter_config {
        let cfg =
            monban_milter::config::Config::load(path).map_err(|e| Failure::other(e.to_string()))?;
        let rule = cfg
            .filter
            .signing
            .iter()
            .find(|r| r.matches(&args.from))
            .ok_or_else(|| {
                Failure::usage(format!(
                    "{}: no [[signing]] row matches --from {}",
                    path.display(),
                    args.from
                ))
            })?;
        return Ok(Some(rule.signer.clone()));
    }
    if args.unsigned {
        return Ok(None);
    }
    Err(Failure::usage(
        "reports must be DKIM-signed to pass DMARC: give --dkim-domain/--dkim-selector/--dkim-key or --milter-config (or --unsigned)",
    ))
}

async fn run_send(dns: &crate::dns::DnsArgs, args: SendArgs) -> Result<(), Failure> {
    let (host, port) = match args.smtp.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']').to_owned(),
            p.parse::<u16>()
                .map_err(|_| Failure::usage(format!("--smtp {:?}: bad port", args.smtp)))?,
        ),
        _ => (args.smtp.clone(), 25),
    };
    if host.is_empty() {
        return Err(Failure::usage("--smtp needs a host"));
    }
    let starttls = match args.starttls.as_str() {
        "opportunistic" => StartTls::Opportunistic,
        "required" => StartTls::Required,
        "never" => StartTls::Never,
        other => {
            return Err(Failure::usage(format!(
                "--starttls {other:?}: expected opportunistic, required or never"
            )));
        }
    };
    let submitter = args
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| Failure::usage(format!("--from {:?} is not an address", args.from)))?;
    // Checked before any delivery is touched: a sender SMTP cannot carry fails every
    // delivery, and that is no destination's fault.
    monban_report::send::envelope_sender(&args.from)
        .map_err(|e| Failure::usage(format!("--from: {e}")))?;
    let signer = report_signer(&args)?;
    let resolver = dns.build()?;
    let store = args
        .store
        .open_existing("generate reports first: monban report generate")
        .await?;
    let opts = SendOptions {
        smtp_host: host,
        smtp_port: port,
        starttls,
        hello: args.helo.clone().unwrap_or_else(crate::host_name),
        from: args.from.clone(),
        org_name: args.org_name.clone().unwrap_or_else(|| submitter.clone()),
        submitter,
        signer,
        now: args
            .at
            .map_or_else(now, |t| i64::try_from(t).unwrap_or(i64::MAX)),
        max_per_hour: args.max_per_hour,
        max_attempts: args.max_attempts.max(1),
        suppress_for: 7 * DAY,
        timeout: monban_report::send::SMTP_TIMEOUT,
        limit: args.limit,
    };
    let mut bar = crate::progress::Progress::new("deliveries", args.json);
    let summary = send(&*store, &resolver, &opts, &mut |d, t| bar.set(d, t))
        .await
        .map_err(|e| Failure::other(e.to_string()))?;
    bar.finish();
    if args.json {
        let deliveries: Vec<serde_json::Value> = summary
            .deliveries
            .iter()
            .map(|d| {
                serde_json::json!({
                    "report_id": d.report_id,
                    "domain": d.domain,
                    "destination": d.destination,
                    "status": d.status,
                    "detail": d.detail,
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "sent": summary.count("sent"),
                "retry": summary.count("retry"),
                "deferred": summary.count("deferred"),
                "failed": summary.count("failed"),
                "skipped": summary.count("skipped"),
                "relay_trouble": summary.relay_trouble,
                "deliveries": deliveries,
            })
        );
    } else {
        if summary.deliveries.is_empty() {
            outln!("no reports due");
        }
        for d in &summary.deliveries {
            outln!(
                "{} {} -> {}: {} ({})",
                d.domain,
                d.report_id,
                d.destination,
                d.status,
                d.detail
            );
        }
    }
    // Exit 1 when a delivery of this run waits for a retry (the relay or the DNS down, a
    // temporary refusal), as `report import` does for an input that failed: a timer or
    // cron job shows it. Permanent outcomes (a destination that did not agree, an
    // address refused, a report given up) are printed but are no fault of this run: a
    // receiver reporting for many domains meets some every day. Deferred ones (rate
    // limit, a destination resting) wait as planned.
    // A relay that refused the reporter itself (its sender, authentication, relaying)
    // or stopped answering: nothing was blamed on a destination, and nothing goes
    // until it is fixed.
    if let Some(why) = &summary.relay_trouble {
        return Err(Failure::other(format!(
            "stopped using the relay {}:{}: {why}; {} delivery(ies) wait for a later run",
            opts.smtp_host,
            opts.smtp_port,
            summary.count("retry")
        )));
    }
    let retry = summary.count("retry");
    if retry > 0 {
        return Err(Failure::other(format!(
            "{retry} delivery(ies) will be retried on a later run (the lines above say why)"
        )));
    }
    Ok(())
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DD` → the Unix time of that day's UTC midnight.
pub(crate) fn parse_day(s: &str) -> Result<i64, Failure> {
    monban_report::summary::parse_day(s).ok_or_else(|| {
        Failure::usage(format!(
            "--date {s:?}: expected YYYY-MM-DD, e.g. 2026-11-29"
        ))
    })
}

pub(crate) fn day_name(begin: i64) -> String {
    let (y, m, d) = civil_from_days(begin.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

async fn run_generate(args: GenerateArgs) -> Result<(), Failure> {
    // RFC 9990's org_name is required, and an empty extra_contact_info says nothing.
    if args.org_name.trim().is_empty() {
        return Err(Failure::usage(
            "--org-name needs the reporting organization's name",
        ));
    }
    if args
        .extra_contact_info
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        return Err(Failure::usage(
            "--extra-contact-info is empty: give a web page or an address, or leave it out",
        ));
    }
    let now = now();
    let begin = match &args.date {
        Some(d) => parse_day(d)?,
        None => (now.div_euclid(DAY) - 1) * DAY,
    };
    if begin > now {
        return Err(Failure::usage(format!(
            "--date {}: that day has not begun",
            day_name(begin)
        )));
    }
    crate::out_folder("--out", &args.out)?;
    let opts = GenerateOptions {
        org_name: args.org_name,
        email: args.email,
        extra_contact_info: args.extra_contact_info,
        begin,
        end: begin + DAY - 1,
        now,
        lookback: 30 * DAY,
        out_dir: Some(args.out.clone()),
    };
    opts.receiver().map_err(|e| Failure::usage(e.to_string()))?;
    let store = args
        .store
        .open_existing("record evaluations first: the milter's [store], or monban verify --record")
        .await?;
    let mut bar = crate::progress::Progress::new("reports", args.json);
    let summary = generate(&*store, &opts, &mut |done, total| bar.set(done, total))
        .await
        .map_err(|e| Failure::other(e.to_string()))?;
    bar.finish();
    // When `report send` first takes this day's new reports (monban_store::first_attempt).
    let sent_from = if opts.end >= now {
        opts.end + 1 + monban_store::REGENERATE_GRACE
    } else {
        now
    };
    if args.json {
        let reports: Vec<serde_json::Value> = summary
            .reports
            .iter()
            .map(|r| {
                serde_json::json!({
                    "file": r.path.as_ref().map_or_else(
                        || r.file.clone(),
                        |p| p.display().to_string()
                    ),
                    "domain": r.domain,
                    "report_id": r.report_id,
                    "records": r.records,
                    "messages": r.messages,
                    "rua": r.rua,
                    "ignored_rua": r.ignored,
                    "status": r.status,
                    "left_out": r.left_out,
                })
            })
            .collect();
        let skipped: Vec<serde_json::Value> = summary
            .skipped
            .iter()
            .map(|s| {
                serde_json::json!({"domain": s.domain, "messages": s.messages, "reason": s.reason})
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "date": day_name(begin),
                "begin": opts.begin,
                "end": opts.end,
                "sent_from": sent_from,
                "reports": reports,
                "skipped": skipped,
                "messages_without_ip": summary.without_ip,
            })
        );
    } else {
        let day = day_name(begin);
        if summary.reports.is_empty() {
            outln!("no reports for {day}");
        }
        for r in &summary.reports {
            let what = match r.status {
                "already_sent" => "already sent, kept as it was",
                "sending" => "being sent, kept as it was",
                "fuller_stored" => "another run stored it counting more, kept as it was",
                "regenerated" => "regenerated",
                _ => "new",
            };
            outln!(
                "{}: {} record(s), {} message(s) ({what}) -> {}",
                r.domain,
                r.records,
                r.messages,
                r.path
                    .as_ref()
                    .map_or_else(|| r.file.clone(), |p| p.display().to_string())
            );
        }
        for r in summary.reports.iter().filter(|r| r.left_out > 0) {
            outln!(
                "{}: {} message(s) recorded since its report was made are in no report",
                r.domain,
                r.left_out
            );
        }
        for r in &summary.reports {
            for why in &r.ignored {
                outln!("{}: rua ignored: {why}", r.domain);
            }
        }
        for s in &summary.skipped {
            outln!(
                "{}: no report ({} message(s)): {}",
                s.domain,
                s.messages,
                s.reason
            );
        }
        if summary.without_ip > 0 {
            outln!(
                "{} message(s) were recorded without a client IP and are not reportable",
                summary.without_ip
            );
        }
        if opts.end >= now && !summary.reports.is_empty() {
            outln!(
                "{day} is not over: generate {day} again after it ends for the whole day; what is kept now is sent as it is from {} on",
                monban::rfc5322::datetime::format_utc(sent_from)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(parse_day("1970-01-02").ok(), Some(DAY));
        assert_eq!(
            day_name(parse_day("2026-11-29").ok().unwrap()),
            "2026-11-29"
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-11-29",
            "2026-11-29x",
            "",
            "2026/11/29",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }
}
