//! `monban report import|summary|advise` (issue 12, DESIGN §4 "Reports"): the domain
//! owner's side, reports received.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::Args;
use monban_report::import::{ImportOptions, ImportProgress, Input, import};
use monban_report::summary::{self, Advice, Summary};

use crate::Failure;
use crate::report::{StoreArg, now};

/// Flags of `monban report import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Files (.xml, .xml.gz, .zip, .json, .eml), folders, Maildir folders, mbox files,
    /// or imap://USER@HOST[:PORT]/MAILBOX (STARTTLS; imaps:// for TLS on connect; the
    /// password from MONBAN_IMAP_PASSWORD, a private CA from MONBAN_IMAP_CA).
    #[arg(value_name = "PATH|URL", required = true)]
    inputs: Vec<String>,
    /// Once a message's reports are stored, move it to this Maildir folder (IMAP: this
    /// mailbox). Without it, Maildir folders are only read, and IMAP messages are
    /// flagged $MonbanImported.
    #[arg(long, value_name = "DIR|MAILBOX")]
    move_to: Option<PathBuf>,
    /// Print JSON: {"reports_new", "reports_duplicate", "reports_conflicting",
    /// "records_new", "failed": [{"source", "error"}]}.
    #[arg(long)]
    json: bool,
}

/// Flags of `monban report summary` and `advise`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only this policy domain.
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// Reports whose period ends on or after this UTC day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    since: Option<String>,
    /// Reports whose period begins on or before this UTC day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    until: Option<String>,
    /// Do not look up reverse DNS names of sources.
    #[arg(long)]
    no_rdns: bool,
    /// Sources per domain shown in tables (JSON lists all).
    #[arg(long, value_name = "N", default_value_t = 15)]
    top: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A progress bar for imports (terminal only).
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(quiet: bool) -> Self {
        let shown = !quiet && std::io::stderr().is_terminal();
        Self(shown.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} {msg} ({elapsed}, {eta} left)",
            ) {
                bar.set_style(style);
            }
            bar
        }))
    }
}

impl ImportProgress for Bar {
    fn total(&self, units: u64, what: &'static str) {
        if let Some(b) = &self.0 {
            b.set_position(0);
            b.set_length(units);
            b.set_message(what);
        }
    }
    fn advance(&self, units: u64) {
        if let Some(b) = &self.0 {
            b.inc(units);
        }
    }
}

pub async fn run_import(args: ImportArgs) -> Result<(), Failure> {
    let inputs = args
        .inputs
        .iter()
        .map(|s| Input::parse(s).map_err(|e| Failure::usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let store = args.store.open().await?;
    let opts = ImportOptions {
        move_to: args.move_to.clone(),
        now: now(),
        ..ImportOptions::default()
    };
    let bar = Bar::new(args.json);
    let summary = import(&*store, &inputs, &opts, &bar)
        .await
        .map_err(|e| Failure::other(e.to_string()))?;
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&summary).map_err(|e| Failure::other(e.to_string()))?
        );
    } else {
        outln!(
            "{} reports stored ({} records), {} duplicates, {} conflicting (kept aside), from {} messages or files",
            summary.reports_new,
            summary.records_new,
            summary.reports_duplicate,
            summary.reports_conflicting,
            summary.inputs_read
        );
        for f in &summary.failed {
            outln!("failed: {}: {}", f.source, f.error);
        }
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::other(format!(
            "{} input{} could not be read (the others are stored)",
            summary.failed.len(),
            if summary.failed.len() == 1 { "" } else { "s" }
        )))
    }
}

async fn load(dns: &crate::dns::DnsArgs, args: &SummaryArgs) -> Result<Summary, Failure> {
    let filter = summary::filter(
        args.domain.as_deref(),
        args.since.as_deref(),
        args.until.as_deref(),
        |f| format!("--{f}"),
    )
    .map_err(Failure::usage)?;
    let store = args.store.open().await?;
    let resolver = if args.no_rdns {
        None
    } else {
        Some(dns.build()?)
    };
    summary::load(&*store, &filter, resolver.as_ref())
        .await
        .map_err(|e| Failure::other(e.to_string()))
}

fn period(args: &SummaryArgs) -> String {
    match (&args.since, &args.until) {
        (Some(s), Some(u)) => format!("{s} to {u}"),
        (Some(s), None) => format!("since {s}"),
        (None, Some(u)) => format!("until {u}"),
        (None, None) => "all stored reports".into(),
    }
}

pub async fn run_summary(dns: &crate::dns::DnsArgs, args: SummaryArgs) -> Result<(), Failure> {
    let s = load(dns, &args).await?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&s).map_err(|e| Failure::other(e.to_string()))?
        );
        return Ok(());
    }
    if s.domains.is_empty() {
        outln!("no aggregate reports stored for {}", period(&args));
        return Ok(());
    }
    for d in &s.domains {
        let pc = |n: u64| summary_pct(n, d.messages);
        outln!(
            "{} (p={}) — {}: {} reports, {} messages",
            d.domain,
            d.policy.as_deref().unwrap_or("?"),
            period(&args),
            d.reports,
            d.messages
        );
        outln!(
            "  DMARC pass {} ({}%)   aligned DKIM pass {} ({}%)   aligned SPF pass {} ({}%)",
            d.dmarc_pass,
            pc(d.dmarc_pass),
            d.dkim_aligned_pass,
            pc(d.dkim_aligned_pass),
            d.spf_aligned_pass,
            pc(d.spf_aligned_pass)
        );
        let disp: Vec<String> = d
            .disposition
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        outln!("  dispositions: {}", disp.join(", "));
        let rep: Vec<String> = d
            .reporters
            .iter()
            .take(8)
            .map(|r| format!("{} {}", r.org_name, r.messages))
            .collect();
        outln!("  reporters: {}", rep.join(", "));
        outln!(
            "  {:<40} {:>9} {:>9} {:>9}  {}",
            "source",
            "messages",
            "pass",
            "fail",
            "reverse DNS / note"
        );
        for src in d.sources.iter().take(args.top) {
            let note = match (&src.ptr, src.forwarder) {
                (Some(p), true) => format!("{p} (forwarder)"),
                (Some(p), false) => p.clone(),
                (None, true) => "(forwarder)".into(),
                (None, false) => String::new(),
            };
            outln!(
                "  {:<40} {:>9} {:>9} {:>9}  {}",
                src.ip,
                src.messages,
                src.dmarc_pass,
                src.dmarc_fail,
                note
            );
        }
        if d.sources.len() > args.top {
            outln!(
                "  ... {} more sources (--top N, or --json for all)",
                d.sources.len() - args.top
            );
        }
        outln!("");
    }
    Ok(())
}

fn summary_pct(n: u64, total: u64) -> String {
    if total == 0 {
        return "0".into();
    }
    format!("{:.1}", n as f64 * 100.0 / total as f64)
}

pub async fn run_advise(dns: &crate::dns::DnsArgs, args: SummaryArgs) -> Result<(), Failure> {
    let s = load(dns, &args).await?;
    let advice: Vec<Advice> = summary::advise(&s);
    if args.json {
        outln!("{}", serde_json::json!({ "domains": advice }));
        return Ok(());
    }
    if advice.is_empty() {
        outln!(
            "no aggregate reports stored{} for {}: nothing to judge yet",
            args.domain
                .as_deref()
                .map(|d| format!(" for {d}"))
                .unwrap_or_default(),
            period(&args)
        );
        return Ok(());
    }
    for a in &advice {
        outln!(
            "{} (p={}, {} messages, {})",
            a.domain,
            a.policy.as_deref().unwrap_or("?"),
            a.messages,
            period(&args)
        );
        for h in &a.hurt {
            outln!(
                "  - {} ({} failing, {}% of mail; {}): {}",
                h.sender,
                h.failing,
                h.share,
                h.ips.join(", "),
                h.action
            );
        }
        for f in &a.forwarders {
            outln!(
                "  - {} ({} failing, {}%): {}",
                f.sender,
                f.failing,
                f.share,
                f.action
            );
        }
        if a.unauthenticated.messages > 0 {
            outln!(
                "  - {} message{} ({}%) from {} source{} nobody authenticated: likely spoofing, which the policy is there to stop",
                a.unauthenticated.messages,
                if a.unauthenticated.messages == 1 {
                    ""
                } else {
                    "s"
                },
                a.unauthenticated.share,
                a.unauthenticated.sources,
                if a.unauthenticated.sources == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
        outln!("  => {}", a.verdict);
        outln!("");
    }
    Ok(())
}
