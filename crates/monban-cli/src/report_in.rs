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
    /// "records_new", "failed": [{"source", "error"}], "conflicts": [{"source",
    /// "org_name", "report_id", "domain"}], "inputs_read"}.
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
    if args.move_to.is_some() {
        for i in &inputs {
            if let Input::Path(p) = i
                && !(p.join("cur").is_dir() && p.join("new").is_dir())
            {
                errln!(
                    "monban: --move-to moves Maildir and IMAP messages; {} is read in place",
                    t(&p.display().to_string())
                );
            }
        }
    }
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
            "{}, {}, {}, {} (kept aside), from {}",
            plural(summary.reports_new, "report stored", "reports stored"),
            plural(summary.records_new, "record", "records"),
            plural(summary.reports_duplicate, "duplicate", "duplicates"),
            plural(
                summary.reports_conflicting,
                "conflicting copy",
                "conflicting copies"
            ),
            plural(summary.inputs_read, "message or file", "messages or files"),
        );
        for c in &summary.conflicts {
            outln!(
                "conflict: {}: report {} of {} for {} differs from the stored one",
                t(&c.source),
                t(&c.report_id),
                t(&c.org_name),
                t(&c.domain)
            );
        }
        for f in &summary.failed {
            outln!("failed: {}: {}", t(&f.source), t(&f.error));
        }
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::other(format!(
            "{} could not be read or moved (the others are stored)",
            plural(summary.failed.len() as u64, "input", "inputs")
        )))
    }
}

/// Report text made safe for the terminal (reports are written by anyone).
fn t(s: &str) -> std::borrow::Cow<'_, str> {
    monban::text::for_terminal(s)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

async fn load(
    dns: &crate::dns::DnsArgs,
    args: &SummaryArgs,
    rdns_max: usize,
    policy_from_dns: bool,
) -> Result<Summary, Failure> {
    if args.domain.as_deref().is_some_and(|d| d.trim().is_empty()) {
        return Err(Failure::usage("--domain needs a domain name"));
    }
    let filter = summary::filter(
        args.domain.as_deref(),
        args.since.as_deref(),
        args.until.as_deref(),
        |f| format!("--{f}"),
    )
    .map_err(|e| Failure::usage(e.to_string()))?;
    // Reading commands never create a store: a mistyped path is an error.
    let store = args
        .store
        .open_existing("import reports first: monban report import --store URL ...")
        .await?;
    // --no-rdns skips reverse DNS only: the published policies are still asked.
    let resolver = if args.no_rdns && !policy_from_dns {
        None
    } else {
        Some(dns.build()?)
    };
    let rdns = resolver.as_ref().filter(|_| !args.no_rdns);
    let (mut s, stats) = summary::load(&*store, &filter, rdns.map(|r| (r, rdns_max)))
        .await
        .map_err(|e| Failure::other(e.to_string()))?;
    if stats.asked > 0 && stats.failed + stats.skipped == stats.asked {
        errln!(
            "monban: reverse DNS unavailable ({} lookups failed or timed out); sources are shown by address (--no-rdns skips the lookups)",
            stats.asked
        );
    } else if stats.skipped > 0 {
        errln!(
            "monban: reverse DNS: {} of {} addresses not looked up within {} s",
            stats.skipped,
            stats.asked,
            summary::RDNS_DEADLINE.as_secs()
        );
    }
    if policy_from_dns && let Some(r) = &resolver {
        summary::published_policies(&mut s, r).await;
    }
    Ok(s)
}

fn period(args: &SummaryArgs) -> String {
    let range = match (&args.since, &args.until) {
        (Some(s), Some(u)) => format!("from {s} to {u}"),
        (Some(s), None) => format!("since {s}"),
        (None, Some(u)) => format!("until {u}"),
        (None, None) => "in all stored reports".into(),
    };
    match &args.domain {
        Some(d) => format!("for {} {range}", t(d)),
        None => range,
    }
}

pub async fn run_summary(dns: &crate::dns::DnsArgs, args: SummaryArgs) -> Result<(), Failure> {
    // JSON lists every source: names for the first 200 of each domain; tables show
    // --top, and only those are looked up.
    let rdns_max = if args.json { 200 } else { args.top };
    let s = load(dns, &args, rdns_max, false).await?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&s).map_err(|e| Failure::other(e.to_string()))?
        );
        return Ok(());
    }
    if s.domains.is_empty() && s.tls.is_empty() {
        outln!("no aggregate reports {}", period(&args));
        return Ok(());
    }
    for d in &s.domains {
        let pc = |n: u64| summary_pct(n, d.messages);
        outln!(
            "{} (p={}{}): {}, {}",
            t(&d.domain),
            d.policy.as_deref().map_or("?".into(), t),
            // Where the policy comes from: the reports' policy_published (what the
            // reporters saw), or DNS now (`report advise`).
            if d.policy_source == "dns" {
                " in DNS"
            } else {
                " as reported"
            },
            plural(d.reports, "report", "reports"),
            plural(d.messages, "message", "messages"),
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
            .map(|(k, v)| format!("{} {v}", t(k)))
            .collect();
        outln!("  dispositions: {}", disp.join(", "));
        let mut rep: Vec<String> = d
            .reporters
            .iter()
            .take(8)
            .map(|r| {
                let name = if r.org_name.is_empty() {
                    "(no name)".into()
                } else {
                    t(&r.org_name)
                };
                format!("{name} {}", r.messages)
            })
            .collect();
        if d.reporters.len() > 8 {
            rep.push(format!("... {} more", d.reporters.len() - 8));
        }
        outln!("  reporters (messages): {}", rep.join(", "));
        outln!(
            "  {:<40} {:>9} {:>9} {:>9}  {}",
            "source",
            "messages",
            "pass",
            "fail",
            "reverse DNS / note"
        );
        for src in d.sources.iter().take(args.top) {
            let ptr = src.ptr.as_deref().map(t).unwrap_or_default();
            let note = if src.forwarder {
                format!("{ptr} (forwarder)").trim().to_string()
            } else {
                ptr.into_owned()
            };
            outln!(
                "  {:<40} {:>9} {:>9} {:>9}  {}",
                t(&src.ip),
                src.messages,
                src.dmarc_pass,
                src.dmarc_fail,
                note
            );
        }
        if d.sources.len() > args.top {
            outln!(
                "  ... {} more (--top N shows more; --json lists up to {} a domain)",
                plural(
                    (d.sources.len() - args.top) as u64 + d.sources_left_out,
                    "source",
                    "sources"
                ),
                monban_store::MAX_SUMMARY_SOURCES
            );
        } else if d.sources_left_out > 0 {
            outln!(
                "  ... {} more, with the least failing mail (counted above, not listed)",
                plural(d.sources_left_out, "source", "sources")
            );
        }
        outln!("");
    }
    for t_ in &s.tls {
        let total = t_.successful.saturating_add(t_.failed);
        outln!(
            "{}: TLS reports (RFC 8460): {} of {} sessions failed ({}%), policies {}, from {}",
            t(&t_.domain),
            t_.failed,
            total,
            summary_pct(t_.failed, total),
            t_.policy_types
                .iter()
                .map(|p| t(p).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
            t_.reporters
                .iter()
                .take(8)
                .map(|r| t(r).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for f in &t_.failures {
            outln!(
                "  {:<32} {:>9}  {}",
                t(&f.result_type),
                f.sessions,
                f.mx.iter()
                    .map(|m| t(m).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        outln!("");
    }
    if s.tls_rows_left_out {
        outln!(
            "TLS reports: only the newest {} policy rows of the period are counted; older ones are left out (narrow the period with --since/--until)",
            monban_store::MAX_TLS_ROWS
        );
    }
    Ok(())
}

fn summary_pct(n: u64, total: u64) -> String {
    if total == 0 {
        return "0".into();
    }
    format!("{:.1}", n as f64 * 100.0 / total as f64)
}

/// A share in percent as words: "<0.01" rather than "0" for a few messages.
fn share(p: f64, n: u64) -> String {
    if n > 0 && p < 0.01 {
        "<0.01".into()
    } else {
        format!("{p}")
    }
}

pub async fn run_advise(dns: &crate::dns::DnsArgs, args: SummaryArgs) -> Result<(), Failure> {
    let rdns_max = if args.json { 200 } else { args.top.max(50) };
    let s = load(dns, &args, rdns_max, true).await?;
    let advice: Vec<Advice> = summary::advise(&s);
    if args.json {
        outln!("{}", serde_json::json!({ "domains": advice }));
        return Ok(());
    }
    if advice.is_empty() {
        outln!(
            "no aggregate reports {}: nothing to judge yet",
            period(&args)
        );
        return Ok(());
    }
    for a in &advice {
        outln!(
            "{} (p={}{}, {})",
            t(&a.domain),
            a.policy.as_deref().map_or("?".into(), t),
            if a.policy_source == "dns" {
                " in DNS"
            } else {
                " as reported"
            },
            plural(a.messages, "message", "messages"),
        );
        for h in a.hurt.iter().take(args.top) {
            let ips = if h.ips.len() == 1 && h.ips[0] == h.sender {
                String::new()
            } else {
                let shown: Vec<_> = h.ips.iter().take(3).map(|i| t(i).into_owned()).collect();
                let more = if h.ips.len() > 3 { ", ..." } else { "" };
                format!("; {}{more}", shown.join(", "))
            };
            outln!(
                "  - {} ({} failing, {}% of mail{ips}): {}",
                t(&h.sender),
                h.failing,
                share(h.share, h.failing),
                t(&h.action)
            );
        }
        if a.hurt.len() > args.top {
            outln!(
                "  ... {} more (--top N, or --json for all)",
                plural((a.hurt.len() - args.top) as u64, "sender", "senders")
            );
        }
        for f in a.forwarders.iter().take(args.top) {
            outln!(
                "  - {} ({} failing, {}%): {}",
                t(&f.sender),
                f.failing,
                share(f.share, f.failing),
                t(&f.action)
            );
        }
        if a.unauthenticated.messages > 0 {
            let u = &a.unauthenticated;
            let known = u.messages - u.messages_without_reverse_dns.min(u.messages);
            if known > 0 {
                outln!(
                    "  - {} from {} nobody authenticated, without a reverse DNS name of the domain's: likely spoofing, which the policy is there to stop",
                    plural(known, "message", "messages"),
                    plural(
                        u.sources - u.sources_without_reverse_dns,
                        "source",
                        "sources"
                    ),
                );
            }
            if u.messages_without_reverse_dns > 0 {
                outln!(
                    "  - {} from {} nobody authenticated, whose reverse DNS is unknown: spoofing, or the domain's own servers",
                    plural(u.messages_without_reverse_dns, "message", "messages"),
                    plural(u.sources_without_reverse_dns, "source", "sources"),
                );
            }
        }
        outln!("  => {}", t(&a.verdict));
        outln!("");
    }
    Ok(())
}
