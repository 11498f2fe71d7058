//! `monban analyze`: the header analyzer (DESIGN §4). Reads one received message and
//! prints its Received chain, the recorded authentication results, its DKIM
//! signatures in words and its identities, as tables (coloured on a terminal) or JSON;
//! with `--verify`, monban's own results beside the recorded ones.
//!
//! The analysis itself is [`monban_diag::analyze`]; this file reads the input and renders.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::ops::ControlFlow;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use monban::dkim::DkimConfig;
use monban::message::{CrlfNormalizer, Headers, MessageSplitter, Split};
use monban::pipeline::VerifyConfig;
use monban::spf::SpfConfig;
use monban_diag::analyze::{self, Analysis, Finding, Severity, Signer};

use crate::Failure;
use crate::dns::{DnsArgs, DnsSource};
use crate::input::{self, Messages, Source};

/// The largest message read (it is held in memory to diagnose DKIM failures).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// The widest a table cell is printed (the last column is never cut).
const MAX_CELL: usize = 44;

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Flags of `monban analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The message: a file (a single message or the first of an mbox), or - for
    /// standard input (the default).
    #[arg(value_name = "FILE")]
    file: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Also verify the message (SPF with the client the header records, DKIM, DMARC,
    /// DNS from --zone or --dns-server) and set monban's results beside the recorded
    /// ones; DKIM failures are diagnosed with the signer's key.
    #[arg(long)]
    verify: bool,
    /// With --verify: the authserv-id of monban's Authentication-Results (default:
    /// the host name).
    #[arg(long, value_name = "ID", requires = "verify")]
    authserv_id: Option<String>,
    /// With --verify: verify as of this time instead of now (Unix seconds, a date or an
    /// RFC 3339 date-time).
    #[arg(long, value_name = "TIME", requires = "verify", value_parser = crate::time::parse_at)]
    at: Option<u64>,
    /// With --verify: an ARC sealer to trust, as `verify --trusted-arc-sealer` does
    /// (repeatable); the analysis then says when it let a DMARC failure in.
    #[arg(
        long = "trusted-arc-sealer",
        value_name = "DOMAIN",
        requires = "verify"
    )]
    trusted_arc_sealers: Vec<String>,
    /// With --verify: the SMTP client's address (else the one the trusted Received field
    /// records).
    #[arg(long, value_name = "IP", requires = "verify")]
    ip: Option<String>,
    /// With --verify: the HELO name (else the recorded one).
    #[arg(long, value_name = "NAME", requires = "verify")]
    helo: Option<String>,
    /// With --verify: the MAIL FROM address, "" for the null sender (else Return-Path).
    #[arg(long, value_name = "ADDR", requires = "verify")]
    mail_from: Option<String>,
    /// Colour the tables: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// The language of the warnings, tag explanations and diagnosis: en or ja
    /// (default: from LC_ALL, LC_MESSAGES or LANG; --json is always English).
    #[arg(long, value_name = "LANG", value_parser = crate::check::parse_lang)]
    lang: Option<monban_diag::i18n::Lang>,
}

/// Reads the first message of the input: (header, body in CRLF form).
fn read(source: &Source) -> Result<(Headers, Vec<u8>, bool), Failure> {
    let label = source.label();
    let reader = input::open(source).map_err(|e| Failure::other(e.to_string()))?;
    // One message is analyzed: past its limit nothing more is read.
    let mut messages = Messages::new(reader).first_only();
    let mut raw = Vec::new();
    let mut too_big = false;
    let found = messages
        .next_message(|chunk| {
            if raw.len() + chunk.len() > MAX_MESSAGE {
                // Refused whole: nothing more is read, and nothing is analyzed in part.
                too_big = true;
                ControlFlow::Break(())
            } else {
                raw.extend_from_slice(chunk);
                ControlFlow::Continue(())
            }
        })
        .map_err(|e| Failure::other(format!("{label}: {e}")))?;
    if !found || raw.is_empty() {
        return Err(Failure::other(format!("{label}: no message")));
    }
    if too_big {
        return Err(Failure::other(format!(
            "{label}: the message is larger than {} MiB",
            MAX_MESSAGE / 1024 / 1024
        )));
    }
    // Is there another message after this one? (Known without reading it.)
    let more = messages.has_next();
    let mut normalized = Vec::with_capacity(raw.len() + raw.len() / 32);
    CrlfNormalizer::new().normalize(&raw, &mut normalized);
    let mut splitter = MessageSplitter::new();
    let bad = |e: monban::message::HeaderError| Failure::other(format!("{label}: {e}"));
    let (headers, body) = match splitter.push(&normalized).map_err(bad)? {
        Split::HeaderDone(h, body) => (h, body.to_vec()),
        _ => (
            splitter.finish().map_err(bad)?.unwrap_or_default(),
            Vec::new(),
        ),
    };
    Ok((headers, body, more))
}

pub async fn run(dns: &DnsArgs, args: AnalyzeArgs) -> Result<(), Failure> {
    let authserv_id = crate::authserv_id(args.authserv_id.as_deref())?;
    // The envelope flags, checked as `verify` checks them (with its words), each on its
    // own: what is not given comes from the header.
    let ip = args
        .ip
        .as_deref()
        .map(|ip| monban::pipeline::check_ip(ip).map_err(|e| Failure::usage(format!("--ip {e}"))))
        .transpose()?;
    if let Some(h) = &args.helo {
        monban::pipeline::check_helo(h).map_err(|e| Failure::usage(format!("--helo {e}")))?;
    }
    if let Some(m) = &args.mail_from {
        monban::pipeline::check_mail_from(m)
            .map_err(|e| Failure::usage(format!("--mail-from {e}")))?;
    }
    let source = match args.file.as_deref() {
        None | Some("-") => Source::Stdin,
        Some(f) => {
            let p = std::path::Path::new(f);
            if p.is_dir() {
                return Err(Failure::usage(format!(
                    "{f} is a folder: analyze takes one message"
                )));
            }
            Source::File(p.to_path_buf(), None)
        }
    };
    // Build the resolver first: a bad --zone is reported before any reading.
    let resolver: Option<DnsSource> = if args.verify {
        Some(dns.build()?)
    } else {
        None
    };
    let (headers, body, more) = read(&source)?;
    if more {
        errln!(
            "monban: {}: an mbox with several messages; only the first is analysed",
            source.label()
        );
    }
    let mut analysis = analyze::analyze(&headers, Some(&body));
    if let Some(resolver) = &resolver {
        let now = args.at.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let config = VerifyConfig {
            spf: SpfConfig {
                receiver: authserv_id.clone(),
                ..SpfConfig::default()
            },
            dkim: DkimConfig::default(),
            trusted_arc_sealers: args.trusted_arc_sealers.clone(),
            ..VerifyConfig::default()
        };
        // What was given overrides what the header records, field by field.
        let given = args.ip.is_some() || args.helo.is_some() || args.mail_from.is_some();
        let envelope = given.then(|| {
            let (mut e, _) = analysis.derived_envelope();
            if let Some(ip) = ip {
                e.ip = Some(ip);
            }
            if let Some(h) = &args.helo {
                e.helo = Some(h.clone());
            }
            if let Some(m) = &args.mail_from {
                e.mail_from = Some(
                    m.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned(),
                );
            }
            e
        });
        analyze::verify(
            &mut analysis,
            &headers,
            &body,
            envelope,
            config,
            now,
            &authserv_id,
            resolver,
        )
        .await;
    }
    if args.json {
        let mut v = serde_json::to_value(&analysis)
            .map_err(|e| Failure::other(format!("cannot write JSON: {e}")))?;
        v["file"] = serde_json::Value::String(source.label());
        let text = serde_json::to_string_pretty(&v)
            .map_err(|e| Failure::other(format!("cannot write JSON: {e}")))?;
        outln!("{text}");
    } else {
        let color = match args.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let lang = args.lang.unwrap_or_else(monban_diag::i18n::Lang::from_env);
        out!("{}", render(&analysis, color, lang));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Rendering

/// ANSI styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::Bold => "\x1b[1m",
            Self::Dim => "\x1b[2m",
            Self::Red => "\x1b[31m",
            Self::Green => "\x1b[32m",
            Self::Yellow => "\x1b[33m",
        }
    }
}

/// Header text is attacker-controlled: control characters (escape sequences above
/// all) never reach the terminal.
fn clean(s: &str) -> String {
    monban::text::for_terminal(s).into_owned()
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('\u{2026}');
        t
    }
}

/// The style of a result word.
fn result_style(result: &str) -> Style {
    match result.to_ascii_lowercase().as_str() {
        "pass" => Style::Green,
        "fail" | "hardfail" | "permerror" => Style::Red,
        "softfail" | "temperror" | "neutral" | "policy" => Style::Yellow,
        _ => Style::Plain,
    }
}

struct Out {
    text: String,
    color: bool,
    lang: monban_diag::i18n::Lang,
}

impl Out {
    fn paint(&self, s: &str, style: Style) -> String {
        if self.color && style != Style::Plain {
            format!("{}{}\x1b[0m", style.code(), s)
        } else {
            s.to_owned()
        }
    }

    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn title(&mut self, s: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        let t = self.paint(&clean(s), Style::Bold);
        self.line(&t);
    }

    /// A table: a header row and rows of (text, style); columns padded to their widest
    /// cell (at most [`MAX_CELL`]), the last one not cut.
    fn table(&mut self, head: &[&str], rows: &[Vec<(String, Style)>]) {
        let n = head.len();
        let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
        let rows: Vec<Vec<(String, Style)>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(i, (t, s))| {
                        let t = clean(t);
                        (if i + 1 < n { cut(&t, MAX_CELL) } else { t }, *s)
                    })
                    .collect()
            })
            .collect();
        for r in &rows {
            for (i, (t, _)) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(t.chars().count());
            }
        }
        let mut line = String::from("  ");
        for (i, h) in head.iter().enumerate() {
            let _ = write!(
                line,
                "{h:<w$}",
                w = if i + 1 < n { widths[i] + 2 } else { 0 }
            );
        }
        let l = self.paint(line.trim_end(), Style::Dim);
        self.line(&l);
        for r in &rows {
            let mut line = String::from("  ");
            for (i, (t, s)) in r.iter().enumerate().take(n) {
                let pad = if i + 1 < n {
                    (widths[i] + 2).saturating_sub(t.chars().count())
                } else {
                    0
                };
                line.push_str(&self.paint(t, *s));
                line.push_str(&" ".repeat(pad));
            }
            self.line(line.trim_end());
        }
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

fn delay(d: Option<i64>) -> String {
    match d {
        Some(d) if d >= 0 => format!("+{}", analyze::datetime::format_duration(d)),
        Some(d) => analyze::datetime::format_duration(d),
        None => "?".into(),
    }
}

fn finding_line(out: &Out, f: &Finding) -> String {
    let mark = if f.confirmed {
        out.paint("confirmed", Style::Bold)
    } else {
        out.paint("likely", Style::Yellow)
    };
    format!("    {mark}: {}", clean(&f.text.text(out.lang)))
}

/// Renders the analysis as text.
/// Each recorded result in words, under its table.
fn meanings(out: &mut Out, f: &analyze::ResultsField) {
    for r in &f.results {
        let text = clean(&r.text.text(out.lang));
        out.line(&format!("  {}={}: {text}", r.method, r.result));
    }
}

fn render(a: &Analysis, color: bool, lang: monban_diag::i18n::Lang) -> String {
    let mut out = Out {
        text: String::new(),
        color,
        lang,
    };

    // The Received chain.
    let mut title = format!("Received chain: {} hop(s), oldest first", a.hops.len());
    if let Some(t) = a.total_delay_seconds {
        let _ = write!(title, "; total {}", analyze::datetime::format_duration(t));
    }
    if a.received_count > a.hops.len() {
        let _ = write!(title, " (of {} Received fields)", a.received_count);
    }
    out.title(&title);
    if a.hops.is_empty() {
        out.line("  (no Received field)");
    } else {
        let rows: Vec<Vec<(String, Style)>> = a
            .hops
            .iter()
            .map(|h| {
                let from = match (&h.from, &h.from_ip) {
                    (Some(f), Some(ip)) if !f.contains(ip.as_str()) => format!("{f} [{ip}]"),
                    (Some(f), _) => f.clone(),
                    (None, Some(ip)) => format!("[{ip}]"),
                    (None, None) => "-".into(),
                };
                let delay_style = match h.delay_seconds {
                    Some(d) if d < 0 => Style::Red,
                    Some(d) if d > analyze::SLOW_HOP => Style::Yellow,
                    _ => Style::Plain,
                };
                let time = h
                    .time
                    .clone()
                    .or_else(|| h.date_text.as_ref().map(|t| format!("? {t}")))
                    .unwrap_or_else(|| "?".into());
                vec![
                    (h.number.to_string(), Style::Plain),
                    (
                        time,
                        if h.time.is_some() {
                            Style::Plain
                        } else {
                            Style::Red
                        },
                    ),
                    (delay(h.delay_seconds), delay_style),
                    (from, Style::Plain),
                    (opt(&h.by), Style::Plain),
                    (opt(&h.with), Style::Plain),
                    (opt(&h.id), Style::Plain),
                ]
            })
            .collect();
        out.table(&["#", "time", "delay", "from", "by", "with", "id"], &rows);
    }

    // Warnings.
    if !a.warnings.is_empty() {
        out.title(&format!("Warnings ({})", a.warnings.len()));
        for w in &a.warnings {
            let mark = match w.severity {
                Severity::Warning => out.paint("warning", Style::Yellow),
                Severity::Info => out.paint("note", Style::Dim),
            };
            out.line(&format!("  {mark}: {}", clean(&w.text.text(out.lang))));
        }
    }

    // Recorded results.
    let results_rows = |f: &analyze::ResultsField| -> Vec<Vec<(String, Style)>> {
        f.results
            .iter()
            .map(|r| {
                let props = r
                    .properties
                    .0
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut note = props;
                if let Some(reason) = &r.reason {
                    let _ = write!(note, " reason=\"{reason}\"");
                }
                if let Some(c) = &r.comment {
                    let _ = write!(note, " ({c})");
                }
                vec![
                    (r.method.clone(), Style::Plain),
                    (r.result.clone(), result_style(&r.result)),
                    (note.trim().to_owned(), Style::Plain),
                ]
            })
            .collect()
    };
    if a.authentication_results.is_empty()
        && a.arc_authentication_results.is_empty()
        && a.received_spf.is_empty()
    {
        out.title("Recorded results");
        out.line("  (no Authentication-Results, ARC-Authentication-Results or Received-SPF field)");
    }
    for f in &a.authentication_results {
        out.title(&format!(
            "Authentication-Results by {} (header field {})",
            f.authserv_id
                .as_deref()
                .unwrap_or("an unnamed writer (no authserv-id)"),
            f.position
        ));
        if let Some(e) = &f.error {
            out.line(&format!(
                "  (not valid RFC 8601, read leniently: {})",
                clean(e)
            ));
        }
        out.table(&["method", "result", "details"], &results_rows(f));
        meanings(&mut out, f);
    }
    for f in &a.arc_authentication_results {
        out.title(&format!(
            "ARC-Authentication-Results i={} by {} (header field {})",
            f.instance.map_or("?".into(), |i| i.to_string()),
            f.authserv_id.as_deref().unwrap_or("?"),
            f.position
        ));
        out.table(&["method", "result", "details"], &results_rows(f));
    }
    if !a.received_spf.is_empty() {
        out.title("Received-SPF");
        let rows: Vec<Vec<(String, Style)>> = a
            .received_spf
            .iter()
            .map(|r| {
                vec![
                    (opt(&r.receiver), Style::Plain),
                    (r.result.clone(), result_style(&r.result)),
                    (
                        r.properties
                            .0
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                        Style::Plain,
                    ),
                ]
            })
            .collect();
        out.table(&["by", "result", "details"], &rows);
    }

    // Signatures.
    if a.dkim_signatures.is_empty() {
        out.title("DKIM signatures");
        out.line("  (none: the message is not DKIM-signed)");
    }
    for s in &a.dkim_signatures {
        let signer = match s.signer {
            Signer::Author => out.paint("author signature", Style::Green),
            Signer::ThirdParty => out.paint("third-party signature", Style::Yellow),
        };
        out.title(&format!(
            "DKIM-Signature {}: d={} s={} a={}",
            s.number,
            opt(&s.d),
            opt(&s.s),
            opt(&s.a)
        ));
        out.line(&format!("  {signer}"));
        if let Some(e) = &s.error {
            let t = out.paint(&format!("  invalid: {}", clean(e)), Style::Red);
            out.line(&t);
        }
        let rows: Vec<Vec<(String, Style)>> = s
            .explanations
            .iter()
            .map(|e| {
                vec![
                    (e.tag.clone(), Style::Bold),
                    (cut(&e.value, 32), Style::Plain),
                    (e.text.text(out.lang), Style::Plain),
                ]
            })
            .collect();
        out.table(&["tag", "value", "meaning"], &rows);
        // With --verify, failures are diagnosed in the verification section below.
        if let Some(d) = s.diagnosis.as_ref().filter(|_| a.verification.is_none()) {
            out.line("  diagnosis (without the key; --verify checks the header signature):");
            for f in &d.findings {
                let l = finding_line(&out, f);
                out.line(&l);
            }
        }
    }

    // Identities.
    out.title("Identities");
    let id = &a.identities;
    let mut rows = vec![
        vec![
            ("Return-Path".to_owned(), Style::Plain),
            (
                match id.return_path.as_deref() {
                    Some("") => "<> (null sender: a bounce or auto-reply)".into(),
                    other => other.unwrap_or("-").to_owned(),
                },
                Style::Plain,
            ),
        ],
        vec![
            ("From".to_owned(), Style::Plain),
            (
                match (&id.from_name, &id.from) {
                    (Some(n), Some(f)) => format!("\"{n}\" <{f}>"),
                    (None, Some(f)) => f.clone(),
                    _ => "-".into(),
                },
                Style::Plain,
            ),
        ],
        vec![
            ("Sender".to_owned(), Style::Plain),
            (opt(&id.sender), Style::Plain),
        ],
    ];
    if let Some(r) = &id.reply_to {
        rows.push(vec![
            ("Reply-To".into(), Style::Plain),
            (r.clone(), Style::Plain),
        ]);
    }
    if let Some(aligned) = id.return_path_aligned {
        rows.push(vec![
            ("SPF alignment".into(), Style::Plain),
            (
                if aligned {
                    "Return-Path aligns with From".into()
                } else {
                    "Return-Path does not align with From".into()
                },
                if aligned { Style::Green } else { Style::Yellow },
            ),
        ]);
    }
    rows.push(vec![
        ("Message-ID".into(), Style::Plain),
        (opt(&a.message_id), Style::Plain),
    ]);
    rows.push(vec![
        ("Date".into(), Style::Plain),
        (
            match &a.date {
                Some(d) => match &d.time {
                    Some(t) => format!("{} ({t})", d.text),
                    None => format!("{} (does not parse)", d.text),
                },
                None => "-".into(),
            },
            Style::Plain,
        ),
    ]);
    rows.push(vec![
        ("Subject".into(), Style::Plain),
        (opt(&a.subject), Style::Plain),
    ]);
    out.table(&["field", "value"], &rows);

    // Verification.
    if let Some(v) = &a.verification {
        out.title("Verification by monban");
        let env = &v.envelope;
        match &env.ip {
            Some(ip) => out.line(&format!(
                "  SPF checked with the envelope from {}: ip={ip} helo={} mail-from={}",
                clean(&env.source),
                clean(&opt(&env.helo)),
                clean(
                    &env.mail_from
                        .as_deref()
                        .map_or("-".into(), |m| format!("<{m}>"))
                )
            )),
            None => out.line("  SPF not checked: the header records no client address"),
        }
        let rows: Vec<Vec<(String, Style)>> = v
            .comparison
            .iter()
            .map(|c| {
                let mark = match (&c.recorded, &c.monban) {
                    _ if c.differs => ("DIFFERS".to_owned(), Style::Red),
                    (Some(_), Some(_)) => ("same".to_owned(), Style::Green),
                    (Some(_), None) => ("not comparable".to_owned(), Style::Dim),
                    (None, _) => ("monban only".to_owned(), Style::Dim),
                };
                let recorded = c.recorded.clone().unwrap_or_else(|| "-".into());
                let monban = c.monban.clone().unwrap_or_else(|| "-".into());
                vec![
                    (c.method.clone(), Style::Plain),
                    (opt(&c.subject), Style::Plain),
                    (
                        match (c.source, &c.by) {
                            (Some(src), by) => format!("{} ({src})", opt(by)),
                            (None, _) => "-".into(),
                        },
                        Style::Plain,
                    ),
                    (recorded.clone(), result_style(&recorded)),
                    (monban.clone(), result_style(&monban)),
                    mark,
                ]
            })
            .collect();
        out.table(
            &["method", "about", "recorded by", "recorded", "monban", ""],
            &rows,
        );
        let summary = if v.differences == 0 {
            out.paint("  no difference from the recorded results", Style::Green)
        } else {
            out.paint(
                &format!(
                    "  {} difference(s) from the recorded results",
                    v.differences
                ),
                Style::Red,
            )
        };
        out.line(&summary);
        if v.differences > 0 {
            out.line(
                "  (a result recorded by an earlier hop differs when the message changed after that hop, at a mailing list for example)",
            );
        }
        for (o, s) in v.dkim.iter().zip(&a.dkim_signatures) {
            if o.result == "pass" {
                continue;
            }
            let r = out.paint(&o.result, result_style(&o.result));
            out.line(&format!(
                "  DKIM d={}: {r}{}",
                opt(&o.subject),
                o.reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(" ({})", clean(r)))
            ));
            if let Some(d) = &s.diagnosis {
                for f in d
                    .findings
                    .iter()
                    .filter(|f| !matches!(f.kind, "body_intact" | "headers_intact"))
                {
                    let l = finding_line(&out, f);
                    out.line(&l);
                }
            }
        }
        let arc = &v.arc;
        if arc.result != "none" {
            let r = out.paint(&arc.result, result_style(&arc.result));
            out.line(&format!(
                "  ARC: {r} ({} set(s){})",
                arc.instances,
                if arc.result == "pass" {
                    format!(", oldest-pass {}", arc.oldest_pass)
                } else {
                    String::new()
                }
            ));
            let rows: Vec<Vec<(String, Style)>> = arc
                .hops
                .iter()
                .map(|h| {
                    let verdict = |v: &Option<String>| {
                        let t = v.clone().unwrap_or_else(|| "-".into());
                        let st = result_style(&t);
                        (t, st)
                    };
                    vec![
                        (h.instance.to_string(), Style::Plain),
                        (clean(&h.sealer), Style::Plain),
                        (h.cv.clone(), Style::Plain),
                        verdict(&h.seal),
                        verdict(&h.message_signature),
                        if h.body_intact {
                            ("same".to_owned(), Style::Green)
                        } else {
                            ("changed".to_owned(), Style::Yellow)
                        },
                        (clean(&h.recorded.join(", ")), Style::Plain),
                    ]
                })
                .collect();
            // No sets (a chain whose structure is invalid): the note below says why;
            // a heading over no rows would say nothing.
            if !rows.is_empty() {
                out.table(
                    &["i", "sealer", "cv", "seal", "AMS", "body", "recorded"],
                    &rows,
                );
            }
        }
        for n in &arc.notes_text {
            out.line(&format!("  - {}", clean(&n.text(out.lang))));
        }
        out.line(&format!(
            "  Authentication-Results: {}",
            clean(&v.authentication_results)
        ));
    }
    out.text
}
