//! Data-driven milter scenarios: `testdata/scenarios/*.toml`, each a message, an
//! envelope, local settings and the expected action, run through a session against
//! `examples/example.zone`. One named test per file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use monban::dkim::{SignerConfig, SigningKey};
use monban_dns::ZoneResolver;
use monban_milter::protocol::{Command, Family, Response};
use monban_milter::session::{FilterConfig, Network, QuarantineMode, Session, SigningRule, Step};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    message: PathBuf,
    client_ip: String,
    helo: String,
    mail_from: String,
    #[serde(default)]
    allow_domains: Vec<String>,
    #[serde(default)]
    quarantine: Option<String>,
    #[serde(default)]
    optout_recipient_domains: Vec<String>,
    expect_action: String,
    #[serde(default)]
    expect_reply: Option<String>,
    #[serde(default)]
    expect_results: Vec<String>,
    #[serde(default)]
    expect_deleted_results: usize,
    /// The RFC 9990 policy overrides the verdict records (`local_policy`, ...).
    #[serde(default)]
    expect_overrides: Vec<String>,
    /// `enforce_reject` (default true).
    #[serde(default)]
    enforce_reject: Option<bool>,
    /// The reason of the quarantine (hold) action.
    #[serde(default)]
    expect_hold_reason: Option<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(s: &Scenario, zone: &ZoneResolver) -> Result<(), Failed> {
    let key = Arc::new(
        SigningKey::from_pem(
            &std::fs::read_to_string(root().join("examples/keys/s2026.private")).unwrap(),
        )
        .unwrap(),
    );
    let config = Arc::new(FilterConfig {
        trusted_networks: vec![Network::parse("10.0.0.0/8").unwrap()],
        signing: vec![SigningRule {
            sender: "*@example.com".into(),
            signer: SignerConfig::new("example.com", "s2026", key),
        }],
        default_signer: None,
        enforce_reject: s.enforce_reject.unwrap_or(true),
        quarantine: if s.quarantine.as_deref() == Some("header") {
            QuarantineMode::Header
        } else {
            QuarantineMode::Hold
        },
        tempfail_on_dns_error: true,
        allow_domains: s.allow_domains.clone(),
        allow_networks: Vec::new(),
        optout_recipient_domains: s.optout_recipient_domains.clone(),
        ..FilterConfig::new("mx.example.net")
    });
    let raw = std::fs::read(root().join(&s.message))
        .map_err(|e| format!("{}: {e}", s.message.display()))?;
    let mut normalized = Vec::new();
    monban::message::CrlfNormalizer::new().normalize(&raw, &mut normalized);
    let (headers, body) = monban::dkim::split_message(&normalized).map_err(|e| e.to_string())?;
    let mut session = Session::new(config, 1_795_400_000);
    let mut cmds = vec![
        // What Postfix offers.
        Command::OptNeg {
            version: 6,
            actions: 0x1ff,
            protocol: 0x1f_ffff,
        },
        Command::Connect {
            hostname: s.helo.clone(),
            family: Family::Inet(s.client_ip.parse().unwrap(), 25),
        },
        Command::Helo(s.helo.clone()),
        Command::Mail(vec![format!("<{}>", s.mail_from)]),
        Command::Rcpt(vec!["<bob@example.net>".into()]),
        Command::Data,
    ];
    for f in headers.fields() {
        cmds.push(Command::Header {
            name: f.name_str().into_owned(),
            value: f.value.to_vec(),
        });
    }
    cmds.push(Command::EndOfHeaders);
    cmds.push(Command::Body(body));
    for c in cmds {
        match session.command(c) {
            Step::Reply(r) if r.iter().any(|x| matches!(x, Response::ReplyCode(_))) => {
                return Err(format!("early reply {r:?}").into());
            }
            Step::Protocol(why) => return Err(format!("protocol error: {why}").into()),
            _ => {}
        }
    }
    match session.command(Command::EndOfMessage) {
        Step::EndOfMessage => {}
        other => return Err(format!("end of message: {other:?}").into()),
    }
    let outcome = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(session.end_of_message(zone));
    let out = outcome.responses.clone();
    let action = match out.last() {
        Some(Response::ReplyCode(c)) if c.starts_with('5') => "reject",
        Some(Response::ReplyCode(_)) => "tempfail",
        _ if out.iter().any(|r| matches!(r, Response::Quarantine(_))) => "quarantine-hold",
        _ if out.iter().any(
            |r| matches!(r, Response::AddHeader { name, .. } if name == "X-Monban-Quarantine"),
        ) =>
        {
            "quarantine-header"
        }
        _ if out.iter().any(
            |r| matches!(r, Response::InsertHeader { name, .. } if name == "DKIM-Signature"),
        ) =>
        {
            "sign"
        }
        Some(Response::Accept) => "accept",
        other => return Err(format!("no final action: {other:?}").into()),
    };
    let mut errors = Vec::new();
    if action != s.expect_action {
        errors.push(format!("action {action}, expected {}", s.expect_action));
    }
    // The typed action the milter logs and counts says the same as the wire.
    let typed = outcome.action.as_str();
    if !action.starts_with(typed) {
        errors.push(format!("typed action {typed}, the responses say {action}"));
    }
    let overrides: Vec<&str> = outcome
        .report
        .as_ref()
        .map(|r| r.dmarc.overrides.iter().map(|o| o.kind.as_str()).collect())
        .unwrap_or_default();
    if let Some(want) = &s.expect_hold_reason
        && !out
            .iter()
            .any(|r| matches!(r, Response::Quarantine(why) if why == want))
    {
        errors.push(format!("no hold with reason {want:?}"));
    }
    if overrides != s.expect_overrides {
        errors.push(format!(
            "overrides {overrides:?}, expected {:?}",
            s.expect_overrides
        ));
    }
    if let Some(want) = &s.expect_reply
        && !matches!(out.last(), Some(Response::ReplyCode(c)) if c.starts_with(want.as_str()))
    {
        errors.push(format!("reply {:?}, expected {want}", out.last()));
    }
    let ar: String = out
        .iter()
        .filter_map(|r| match r {
            Response::InsertHeader { name, value, .. } if name == "Authentication-Results" => {
                Some(value.clone())
            }
            _ => None,
        })
        .collect();
    for want in &s.expect_results {
        if !ar.contains(want.as_str()) {
            errors.push(format!("A-R lacks {want:?}: {ar}"));
        }
    }
    let deleted = out
        .iter()
        .filter(|r| matches!(r, Response::ChangeHeader { value, .. } if value.is_empty()))
        .count();
    if deleted != s.expect_deleted_results {
        errors.push(format!(
            "{deleted} A-R field(s) deleted, expected {}",
            s.expect_deleted_results
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {out:?}", errors.join("; ")).into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let zone = Arc::new(
        ZoneResolver::from_file(root().join("examples/example.zone")).expect("example zone"),
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let trials = files
        .into_iter()
        .map(|path| {
            let zone = zone.clone();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(format!("milter_scenario::{name}"), move || {
                let text = std::fs::read_to_string(&path).unwrap();
                let s: Scenario =
                    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                run(&s, &zone)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
