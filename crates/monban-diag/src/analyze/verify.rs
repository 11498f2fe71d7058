//! monban's own verification beside the results recorded in the header.
//!
//! [`verify`] runs the [`monban::pipeline`] on the message (SPF with the envelope the
//! header records, unless one is given), fetches each signer's key to diagnose
//! DKIM failures, and lines monban's results up with every recorded
//! `Authentication-Results`, `ARC-Authentication-Results` and `Received-SPF` result
//! for the same method and identity, marking the differences.

use monban_dns::Resolver;

use super::diagnose::diagnose;
use super::{Analysis, MAX_DIAGNOSED, explain::related_domains};
use crate::i18n::{Lang, Msg};
use crate::msg;
use monban::message::Headers;
use monban::pipeline::{Envelope, MessageVerifier, Report, VerifyConfig};

/// The envelope monban verified with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnvelopeInfo {
    /// The client address.
    pub ip: Option<String>,
    /// The HELO name.
    pub helo: Option<String>,
    /// The MAIL FROM.
    pub mail_from: Option<String>,
    /// Where it came from (in English, as the JSON gives it).
    pub source: String,
    /// Where it came from, to word in the reader's language.
    #[serde(skip)]
    pub source_msg: crate::i18n::Msg,
}

/// One of monban's results.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MethodOutcome {
    /// `spf`, `dkim`, `dmarc`.
    pub method: &'static str,
    /// The result.
    pub result: String,
    /// What it is about (`d=` for DKIM, the domain for SPF, the From domain for DMARC).
    pub subject: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// A recorded result beside monban's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Comparison {
    /// `spf`, `dkim`, `dmarc`.
    pub method: String,
    /// What it is about (as for [`MethodOutcome::subject`]).
    pub subject: Option<String>,
    /// The recorded result (None: monban has a result nobody recorded).
    pub recorded: Option<String>,
    /// The field it was recorded in (`Authentication-Results`, ...).
    pub source: Option<&'static str>,
    /// Who recorded it (authserv-id or receiver).
    pub by: Option<String>,
    /// monban's result for the same thing (None: not comparable).
    pub monban: Option<String>,
    /// Whether they differ.
    pub differs: bool,
}

/// monban's verification and the comparison.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// The envelope used for SPF.
    pub envelope: EnvelopeInfo,
    /// The `Authentication-Results` value monban would add (one line).
    pub authentication_results: String,
    /// SPF (when the envelope allowed it).
    pub spf: Option<MethodOutcome>,
    /// DKIM, one per signature, in header order.
    pub dkim: Vec<MethodOutcome>,
    /// DMARC.
    pub dmarc: MethodOutcome,
    /// Recorded results beside monban's.
    pub comparison: Vec<Comparison>,
    /// How many rows differ.
    pub differences: usize,
    /// ARC: the chain, each hop, and what it tells of the message's path.
    pub arc: ArcAnalysis,
}

/// The ARC chain as the analyzer explains it (RFC 8617).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArcAnalysis {
    /// `none`, `pass` or `fail`.
    pub result: String,
    /// Why it failed.
    pub reason: Option<String>,
    /// The highest instance (0 without ARC).
    pub instances: u32,
    /// The oldest instance whose AMS still verifies (0: all do).
    pub oldest_pass: u32,
    /// Each sealer, instance 1 first.
    pub hops: Vec<ArcHop>,
    /// What the chain tells (English).
    pub notes: Vec<String>,
    /// The same in the catalogue's words.
    #[serde(skip)]
    pub notes_text: Vec<Msg>,
}

/// One ARC set as a hop of the path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArcHop {
    /// `i=`.
    pub instance: u32,
    /// The sealer (ARC-Seal `d=`).
    pub sealer: String,
    /// Who wrote the AAR (its authserv-id).
    pub authserv_id: String,
    /// The `cv=` the sealer wrote.
    pub cv: String,
    /// The seal's verification (absent when not reached).
    pub seal: Option<String>,
    /// The AMS verification (absent when not reached).
    pub message_signature: Option<String>,
    /// Whether the body is still the one this hop signed.
    pub body_intact: bool,
    /// What the sealer recorded (`method=result`, with `header.d` / `header.from`).
    pub recorded: Vec<String>,
}

/// The ARC section: the chain, and notes on where the body changed (each set's AMS
/// body hash against the body that arrived), which hop last saw each failing DKIM
/// signature pass, and why a DMARC failure was delivered (a trusted sealer).
fn arc_analysis(report: &Report) -> ArcAnalysis {
    use monban::arc::ArcResult;
    let arc = &report.arc;
    let hops: Vec<ArcHop> = arc
        .sets
        .iter()
        .map(|s| ArcHop {
            instance: s.instance,
            sealer: s.seal_domain.clone(),
            authserv_id: s.authserv_id.clone(),
            cv: s.cv.as_str().to_owned(),
            seal: s.seal.map(|r| r.as_str().to_owned()),
            message_signature: s.message.map(|r| r.as_str().to_owned()),
            body_intact: s.body_intact,
            recorded: s
                .results
                .iter()
                .flat_map(|r| &r.results)
                .take(20)
                .map(|r| {
                    let about = r
                        .property("header", "d")
                        .or_else(|| r.property("header", "from"))
                        .or_else(|| r.property("smtp", "mailfrom"));
                    match about {
                        Some(a) => format!("{}={} ({a})", r.method, r.result),
                        None => format!("{}={}", r.method, r.result),
                    }
                })
                .collect(),
        })
        .collect();
    let mut notes = Vec::new();
    if arc.result == ArcResult::Fail
        && let Some(r) = &arc.reason
    {
        notes.push(msg!("arc-fail", why = r.to_string()));
    }
    if !arc.sets.is_empty() {
        let n = arc.sets.len();
        match arc.sets.iter().rposition(|s| !s.body_intact) {
            None => notes.push(msg!("arc-body-intact", n = n as u64)),
            Some(k) if k + 1 == n => notes.push(msg!(
                "arc-body-changed-after-last",
                i = arc.sets[k].instance as u64,
                sealer = arc.sets[k].seal_domain.clone()
            )),
            Some(k) => notes.push(msg!(
                "arc-body-changed-between",
                before = arc.sets[k].instance as u64,
                sealer = arc.sets[k].seal_domain.clone(),
                after = arc.sets[k + 1].instance as u64,
                next = arc.sets[k + 1].seal_domain.clone()
            )),
        }
        // Each failing DKIM signature: the last hop that recorded it passing.
        for o in report
            .dkim
            .iter()
            .filter(|o| o.result != monban::dkim::DkimResult::Pass && !o.domain.is_empty())
        {
            let passed_at = arc.sets.iter().rev().find(|s| {
                s.results.iter().flat_map(|r| &r.results).any(|r| {
                    r.method == "dkim"
                        && r.result == "pass"
                        && r.property("header", "d")
                            .is_some_and(|d| d.eq_ignore_ascii_case(&o.domain))
                })
            });
            if let Some(s) = passed_at {
                notes.push(msg!(
                    "arc-dkim-passed-at",
                    d = o.domain.clone(),
                    i = s.instance as u64,
                    sealer = s.seal_domain.clone()
                ));
            }
        }
    }
    if let Some(monban::dmarc::DmarcReason::TrustedForwarder {
        sealer,
        instance,
        recorded,
    }) = &report.dmarc.reason
    {
        notes.push(msg!(
            "arc-override",
            policy = report
                .dmarc
                .policy
                .map_or("none", |p| p.as_str())
                .to_owned(),
            sealer = sealer.clone(),
            i = u64::from(*instance),
            recorded = recorded.clone()
        ));
    }
    ArcAnalysis {
        result: arc.result.as_str().to_owned(),
        reason: arc.reason_text(),
        instances: arc.instances,
        oldest_pass: arc.oldest_pass,
        hops,
        notes: notes.iter().map(|m| m.text(Lang::En)).collect(),
        notes_text: notes,
    }
}

/// Results that mean the same (`hardfail` is an old name for `fail`).
fn normalize(result: &str) -> String {
    match result.to_ascii_lowercase().as_str() {
        "hardfail" => "fail".into(),
        other => other.to_owned(),
    }
}

fn domain_of(s: &str) -> String {
    s.rsplit_once('@')
        .map_or(s, |(_, d)| d)
        .trim_matches(['<', '>', '"'])
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Matches one recorded result to monban's; returns (subject, monban's result).
fn counterpart(
    method: &str,
    props: &dyn Fn(&str) -> Option<String>,
    report: &Report,
    envelope: &Envelope,
) -> (Option<String>, Option<String>) {
    match method {
        "dkim" => {
            let d = props("header.d").map(|d| d.to_ascii_lowercase());
            let s = props("header.s").map(|s| s.to_ascii_lowercase());
            let b = props("header.b");
            let matching = report.dkim.iter().find(|o| {
                d.as_deref().is_some_and(|d| d == o.domain)
                    && s.as_deref().is_none_or(|s| s == o.selector)
                    && b.as_deref().is_none_or(|b| {
                        !o.header_b.is_empty()
                            && (o.header_b.starts_with(b) || b.starts_with(&o.header_b))
                    })
            });
            let matching = matching.or_else(|| {
                // Without header.d, one signature is unambiguous.
                (d.is_none() && report.dkim.len() == 1).then(|| &report.dkim[0])
            });
            match matching {
                Some(o) => (Some(o.domain.clone()), Some(o.result.as_str().to_owned())),
                // No signature at all: whatever was recorded, there is none now.
                None if report.dkim.is_empty() => (d, Some("none".to_owned())),
                None => (d, None),
            }
        }
        "spf" => {
            let mailfrom = props("smtp.mailfrom")
                .or_else(|| props("envelope-from"))
                .map(|m| domain_of(&m));
            let ip = props("client-ip");
            let Some(ours) = &report.spf else {
                return (mailfrom, None);
            };
            let same_ip = ip
                .as_deref()
                .is_none_or(|ip| envelope.ip.is_some_and(|e| e.to_string() == ip));
            let same_domain = mailfrom.as_deref().is_none_or(|m| m == ours.domain());
            if same_ip && same_domain {
                (
                    Some(ours.domain().to_string()),
                    Some(ours.result.as_str().to_owned()),
                )
            } else {
                (mailfrom, None)
            }
        }
        "dmarc" => {
            let from = props("header.from").map(|f| domain_of(&f));
            let ours = &report.dmarc;
            let matches = match (&from, &ours.header_from) {
                (Some(f), Some(o)) => f.eq_ignore_ascii_case(o),
                (None, _) => true,
                (Some(_), None) => false,
            };
            if matches {
                (
                    ours.header_from.clone().or(from),
                    Some(ours.result.as_str().to_owned()),
                )
            } else {
                (from, None)
            }
        }
        // The chain as monban validates it now, against a result recorded by a hop
        // (which saw the chain before its own set was added).
        "arc" => (None, Some(report.arc.result.as_str().to_owned())),
        _ => (None, None),
    }
}

fn compare(analysis: &Analysis, report: &Report, envelope: &Envelope) -> Vec<Comparison> {
    let mut rows = Vec::new();
    let mut seen_dkim = vec![false; report.dkim.len()];
    let mut seen_spf = false;
    let mut seen_dmarc = false;
    let mut seen_arc = false;
    // A hop that sealed the message recorded the chain as it came in, before its own
    // set: its arc= result is not comparable with the chain validated now.
    let sealers: Vec<String> = analysis
        .arc_authentication_results
        .iter()
        .filter_map(|f| f.authserv_id.as_deref().map(str::to_ascii_lowercase))
        .collect();
    let mut add = |rows: &mut Vec<Comparison>,
                   method: &str,
                   recorded: &str,
                   source: &'static str,
                   by: Option<String>,
                   props: &dyn Fn(&str) -> Option<String>| {
        if !matches!(method, "spf" | "dkim" | "dmarc" | "arc") {
            return;
        }
        let (subject, monban) = counterpart(method, props, report, envelope);
        let monban = monban.filter(|_| {
            method != "arc"
                || by
                    .as_deref()
                    .is_none_or(|b| !sealers.contains(&b.to_ascii_lowercase()))
        });
        match method {
            "dkim" => {
                if let Some(i) = report
                    .dkim
                    .iter()
                    .position(|o| subject.as_deref() == Some(o.domain.as_str()))
                {
                    seen_dkim[i] = true;
                }
            }
            "spf" if monban.is_some() => seen_spf = true,
            "dmarc" if monban.is_some() => seen_dmarc = true,
            "arc" if monban.is_some() => seen_arc = true,
            _ => {}
        }
        let recorded = normalize(recorded);
        let differs = monban.as_deref().is_some_and(|m| m != recorded);
        rows.push(Comparison {
            method: method.to_owned(),
            subject,
            recorded: Some(recorded),
            source: Some(source),
            by,
            monban,
            differs,
        });
    };
    for (fields, source) in [
        (&analysis.authentication_results, "Authentication-Results"),
        (
            &analysis.arc_authentication_results,
            "ARC-Authentication-Results",
        ),
    ] {
        for f in fields.iter() {
            for r in &f.results {
                let props = |k: &str| r.properties.get(k).map(str::to_owned);
                add(
                    &mut rows,
                    &r.method,
                    &r.result,
                    source,
                    f.authserv_id.clone(),
                    &props,
                );
            }
        }
    }
    for r in &analysis.received_spf {
        let props = |k: &str| r.properties.get(k).map(str::to_owned);
        add(
            &mut rows,
            "spf",
            &r.result,
            "Received-SPF",
            r.receiver.clone(),
            &props,
        );
    }
    // monban's results that nobody recorded.
    if let Some(s) = &report.spf
        && !seen_spf
    {
        rows.push(Comparison {
            method: "spf".into(),
            subject: Some(s.domain().to_string()),
            recorded: None,
            source: None,
            by: None,
            monban: Some(s.result.as_str().to_owned()),
            differs: false,
        });
    }
    for (o, seen) in report.dkim.iter().zip(seen_dkim) {
        if !seen {
            rows.push(Comparison {
                method: "dkim".into(),
                subject: Some(o.domain.clone()),
                recorded: None,
                source: None,
                by: None,
                monban: Some(o.result.as_str().to_owned()),
                differs: false,
            });
        }
    }
    if !seen_arc && report.arc.instances > 0 {
        rows.push(Comparison {
            method: "arc".into(),
            subject: None,
            recorded: None,
            source: None,
            by: None,
            monban: Some(report.arc.result.as_str().to_owned()),
            differs: false,
        });
    }
    if !seen_dmarc {
        rows.push(Comparison {
            method: "dmarc".into(),
            subject: report.dmarc.header_from.clone(),
            recorded: None,
            source: None,
            by: None,
            monban: Some(report.dmarc.result.as_str().to_owned()),
            differs: false,
        });
    }
    rows
}

/// Runs monban's verification on the message and sets [`Analysis::verification`];
/// DKIM diagnoses are redone with each signer's key. `envelope` overrides the one the
/// header records ([`Analysis::derived_envelope`]); `now` is the time to verify at.
#[allow(clippy::too_many_arguments)]
pub async fn verify<R: Resolver>(
    analysis: &mut Analysis,
    headers: &Headers,
    body: &[u8],
    envelope: Option<Envelope>,
    config: VerifyConfig,
    now: u64,
    authserv_id: &str,
    resolver: &R,
) {
    let (envelope, source_msg) = match envelope {
        Some(e) => (e, crate::msg!("envelope-given")),
        None => analysis.derived_envelope_msg(),
    };
    let mut v = MessageVerifier::new(envelope.clone(), config, now);
    v.headers(headers.clone());
    v.body(body);
    let report = v.finish(resolver).await;
    for (i, o) in report.dkim.iter().enumerate().take(MAX_DIAGNOSED) {
        if i >= analysis.dkim_signatures.len() || analysis.dkim_signatures[i].error.is_some() {
            continue;
        }
        // A revoked key cannot confirm anything: no diagnosis with it.
        let key = monban::dkim::key::fetch(resolver, &o.domain, &o.selector)
            .await
            .ok()
            .filter(|k| !k.is_revoked());
        analysis.dkim_signatures[i].diagnosis = Some(diagnose(headers, body, i, key.as_ref()));
    }
    let comparison = compare(analysis, &report, &envelope);
    let differences = comparison.iter().filter(|c| c.differs).count();
    let from = analysis.identities.from_domain.clone();
    analysis.verification = Some(Verification {
        envelope: EnvelopeInfo {
            ip: envelope.ip.map(|i| i.to_string()),
            helo: envelope.helo.clone(),
            mail_from: envelope.mail_from.clone(),
            source: source_msg.text(crate::i18n::Lang::En),
            source_msg,
        },
        authentication_results: report
            .authentication_results(authserv_id)
            .to_value()
            .replace("\r\n\t", " "),
        spf: report.spf.as_ref().map(|s| MethodOutcome {
            method: "spf",
            result: s.result.as_str().to_owned(),
            subject: Some(s.domain().to_string()),
            reason: Some(s.cause.to_string()),
        }),
        dkim: report
            .dkim
            .iter()
            .map(|o| MethodOutcome {
                method: "dkim",
                result: o.result.as_str().to_owned(),
                subject: Some(o.domain.clone()).filter(|d| !d.is_empty()),
                reason: o.reason_text().or_else(|| {
                    from.as_deref()
                        .filter(|f| !related_domains(f, &o.domain))
                        .map(|f| format!("third-party signature: d={} is not {f}", o.domain))
                }),
            })
            .collect(),
        dmarc: MethodOutcome {
            method: "dmarc",
            result: report.dmarc.result.as_str().to_owned(),
            subject: report.dmarc.header_from.clone(),
            reason: {
                let d = &report.dmarc;
                let mut parts = Vec::new();
                if let Some(p) = d.policy {
                    parts.push(format!(
                        "p={} disposition={}",
                        p.as_str(),
                        d.disposition.as_str()
                    ));
                }
                if let Some(r) = &d.reason {
                    parts.push(r.to_string());
                }
                (!parts.is_empty()).then(|| parts.join(": "))
            },
        },
        comparison,
        differences,
        arc: arc_analysis(&report),
    });
}
