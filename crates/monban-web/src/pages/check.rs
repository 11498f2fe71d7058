//! `/check?domain=`: the domain checker as a page. The same findings as `monban check`,
//! a light per area, each fix in full and ready to paste.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use monban::spf::SpfCause;
use monban_diag::check::{
    self, Area, CheckOptions, CheckReport, Finding, NextStep, SendingSetup, SpfNode,
};
use monban_diag::i18n::{Catalog, Lang};
use monban_diag::msg;

use super::{Ctx, Page, copyable, layout, light, respond};
use crate::AppState;

/// The areas in the order shown.
const AREAS: [Area; 6] = [
    Area::Mx,
    Area::Spf,
    Area::Dmarc,
    Area::Dkim,
    Area::Adsp,
    Area::Sending,
];

/// What the form asked.
#[derive(Debug, Default)]
struct Form {
    domain: String,
    selectors: String,
    discover: bool,
    ips: String,
    /// "What if": an SPF record to check instead of the published one.
    what_if_spf: String,
    /// "What if": a DMARC record to check instead of the published one.
    what_if_dmarc: String,
}

/// The longest record the "what if" fields take, in characters.
const MAX_WHAT_IF: usize = 4096;

fn form(t: &Catalog, f: &Form) -> Markup {
    html! {
        form method="get" action="/check" {
            div.field {
                label for="domain" { (t.get("check-domain-label")) }
                " "
                input #domain type="text" name="domain" value=(f.domain) required autocomplete="off" spellcheck="false" placeholder="example.com";
            }
            div.field {
                label for="selector" { (t.get("check-selectors-label")) }
                " "
                input #selector type="text" name="selector" value=(f.selectors) autocomplete="off" spellcheck="false" aria-describedby="selector-help";
                p.note #selector-help { (t.get("check-selectors-help")) }
            }
            div.field {
                input #discover type="checkbox" name="discover" value="true" checked[f.discover];
                " "
                label for="discover" { (t.get("check-discover-label")) }
            }
            div.field {
                label for="ip" { (t.get("check-ips-label")) }
                " "
                input #ip type="text" name="ip" value=(f.ips) autocomplete="off" spellcheck="false" aria-describedby="ip-help";
                p.note #ip-help { (t.get("check-ips-help")) }
            }
            details open[!f.what_if_spf.is_empty() || !f.what_if_dmarc.is_empty()] {
                summary { (t.get("what-if-title")) }
                p.note #what-if-help { (t.get("what-if-help")) }
                div.field {
                    label for="what_if_spf" { (t.get("what-if-spf")) }
                    textarea #what_if_spf name="what_if_spf" rows="2" spellcheck="false" aria-describedby="what-if-help" { (f.what_if_spf) }
                }
                div.field {
                    label for="what_if_dmarc" { (t.get("what-if-dmarc")) }
                    textarea #what_if_dmarc name="what_if_dmarc" rows="2" spellcheck="false" aria-describedby="what-if-help" { (f.what_if_dmarc) }
                }
            }
            button type="submit" { (t.get("check-submit")) }
        }
    }
}

/// The resolver of a "what if": the proposed SPF record in place of the domain's SPF
/// records (its other TXT records kept), the proposed DMARC record in place of
/// `_dmarc.DOMAIN`'s; every other question goes to the real DNS.
struct WhatIf<'a> {
    inner: &'a monban_dns::SharedResolver,
    domain: String,
    spf: Option<String>,
    dmarc: Option<String>,
}

impl monban_dns::Resolver for WhatIf<'_> {
    async fn lookup(&self, name: &str, rtype: monban_dns::RecordType) -> monban_dns::Lookup {
        use monban_dns::{Answer, Record, RecordType, Txt};
        let name = monban_dns::normalize_name(name).unwrap_or_default();
        let txt = |v: &str| Record::Txt(Txt::new(v.as_bytes().chunks(255).map(|c| c.to_vec())));
        if rtype == RecordType::Txt {
            if let Some(spf) = &self.spf
                && name == self.domain
            {
                let mut records: Vec<Record> = match self.inner.lookup(&name, rtype).await {
                    Ok(a) => a
                        .records
                        .iter()
                        .filter(|r| !matches!(r, Record::Txt(t) if monban::spf::record::is_spf_record(&t.joined())))
                        .cloned()
                        .collect(),
                    Err(_) => Vec::new(),
                };
                records.push(txt(spf));
                return Ok(std::sync::Arc::new(Answer::new(records, 0)));
            }
            if let Some(dmarc) = &self.dmarc
                && name == format!("_dmarc.{}", self.domain)
            {
                return Ok(std::sync::Arc::new(Answer::new(vec![txt(dmarc)], 0)));
            }
        }
        self.inner.lookup(&name, rtype).await
    }
}

/// `GET /check`.
pub async fn page(state: Arc<AppState>, ctx: Ctx, params: Vec<(String, String)>) -> Response {
    let t = ctx.t();
    let get = |k: &str| crate::one(&params, k).unwrap_or("").trim().to_owned();
    // Several `k=` parameters (the API's form), or one field of words: one field.
    let joined = |k: &str| {
        params
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let f = Form {
        domain: get("domain"),
        selectors: joined("selector"),
        discover: crate::flag(&params, "discover").unwrap_or(false)
            || crate::one(&params, "discover") == Some("on"),
        ips: joined("ip"),
        what_if_spf: get("what_if_spf"),
        what_if_dmarc: get("what_if_dmarc"),
    };
    let title = t.get("check-title");
    if f.domain.is_empty() {
        let body = html! { h1 { (title) } (form(t, &f)) };
        return respond(
            &ctx,
            StatusCode::OK,
            layout(&ctx, Page::Check, &title, body),
        );
    }
    let problem = |why: String| {
        let body = html! {
            h1 { (title) }
            p.error role="alert" { (why) }
            (form(t, &f))
        };
        respond(
            &ctx,
            StatusCode::BAD_REQUEST,
            layout(&ctx, Page::Check, &title, body),
        )
    };
    let domain = match check::domain_argument("domain", &f.domain) {
        Ok(d) => d,
        Err(e) => return problem(e.0.text(ctx.lang)),
    };
    let selectors: Vec<String> = f
        .selectors
        .split([' ', ',', '\t'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Err(e) = crate::selectors_ok(&selectors) {
        return problem(e.text(ctx.lang));
    }
    let mut ips = Vec::new();
    for word in f.ips.split([' ', ',', '\t']).filter(|s| !s.is_empty()) {
        match word.parse::<IpAddr>() {
            Ok(ip) if ips.len() < 10 => ips.push(ip),
            Ok(_) => return problem(t.get("check-too-many-ips")),
            Err(_) => {
                return problem(t.text(
                    "check-bad-ip",
                    &[("ip", word.chars().take(60).collect::<String>().into())],
                ));
            }
        }
    }
    for (what, v) in [("SPF", &f.what_if_spf), ("DMARC", &f.what_if_dmarc)] {
        // Characters, as the message says (not bytes: a record in another script is
        // not cut shorter).
        if v.chars().count() > MAX_WHAT_IF || v.contains(['\r', '\n']) {
            return problem(t.text(
                "what-if-bad",
                &[("what", what.into()), ("max", MAX_WHAT_IF.into())],
            ));
        }
    }
    let options = CheckOptions {
        selectors,
        discover: f.discover,
        sending: (!ips.is_empty()).then(|| SendingSetup {
            ips,
            ..SendingSetup::default()
        }),
        now: crate::now(),
        dnsbl: Vec::new(),
        private_key: None,
    };
    let what_if = !f.what_if_spf.is_empty() || !f.what_if_dmarc.is_empty();
    let report = if what_if {
        let overlay = WhatIf {
            inner: &state.resolver,
            domain: domain.clone(),
            spf: (!f.what_if_spf.is_empty()).then(|| f.what_if_spf.clone()),
            dmarc: (!f.what_if_dmarc.is_empty()).then(|| f.what_if_dmarc.clone()),
        };
        check::check(&overlay, &domain, &options).await
    } else {
        check::check(&state.resolver, &domain, &options).await
    };
    let body = html! {
        h1 { (title) ": " (report.domain) " " (light(t, report.status.as_str())) }
        @if what_if { p.error role="status" { (t.get("what-if-banner")) } }
        (results(t, &report))
        h2 { (t.get("check-again")) }
        (form(t, &f))
    };
    respond(
        &ctx,
        StatusCode::OK,
        layout(&ctx, Page::Check, &format!("{title}: {domain}"), body),
    )
}

/// A finding in the page's words: the next step names the form's fields, not the
/// CLI's flags.
fn words(lang: Lang, f: &Finding) -> (String, Option<String>) {
    match &f.step {
        Some(NextStep::NameSelectors { discovered }) => {
            let what = f.text.clone();
            let m = if *discovered {
                msg!("web-step-name-selectors-discovered", what = what)
            } else {
                msg!("web-step-name-selectors", what = what)
            };
            (m.text(lang), None)
        }
        _ => check::worded_in(lang, f),
    }
}

fn results(t: &Catalog, r: &CheckReport) -> Markup {
    html! {
        @for area in AREAS {
            @let found: Vec<_> = r.findings.iter().filter(|f| f.area == area).collect();
            @if !found.is_empty() {
                @let worst = found.iter().map(|f| f.severity).max().map_or("green", |s| s.as_str());
                section aria-labelledby={"area-" (area.as_str())} {
                    h2 #{"area-" (area.as_str())} {
                        (t.get(&format!("area-{}", area.as_str()))) " " (light(t, worst))
                    }
                    ul {
                        @for f in found {
                            @let (message, fix) = words(t.lang(), f);
                            li {
                                (light(t, f.severity.as_str())) " " (message)
                                @if let Some(fix) = fix {
                                    div { strong { (t.get("check-fix")) } (copyable(t, &fix)) }
                                }
                            }
                        }
                    }
                    @if area == Area::Spf {
                        @if let Some(n) = r.spf_lookups {
                            p {
                                (t.text("check-spf-lookups", &[("n", n.into())]))
                            }
                        }
                        @if !r.spf_tree.is_empty() {
                            h3 { (t.get("check-spf-tree")) }
                            div.tree #spf-tree { (tree(t, &r.spf_tree, 0, 0)) }
                        }
                        @if !r.spf_networks.is_empty() {
                            details {
                                summary { (t.text("check-spf-networks", &[("n", r.spf_networks.len().into())])) }
                                ul { @for n in &r.spf_networks { li { code { (n) } } } }
                            }
                        }
                    }
                    @if area == Area::Dmarc {
                        @if let Some(d) = &r.dmarc_record_domain {
                            p { (t.text("check-dmarc-at", &[("domain", d.into())])) }
                        }
                        @if let Some(rec) = &r.dmarc_record { (dmarc_tags(t, rec)) }
                    }
                    @if area == Area::Sending {
                        @if let Some(s) = &r.sending {
                            table {
                                caption { (t.get("check-sending-caption")) }
                                thead { tr { th scope="col" { (t.get("col-ip")) } th scope="col" { "SPF" } th scope="col" { (t.get("col-why")) } } }
                                tbody {
                                    @for (ip, res) in &s.spf_by_ip {
                                        tr {
                                            td { code { (ip) } }
                                            td { (res.as_str()) }
                                            td {
                                                @if let Some((_, cause)) = s.spf_cause_by_ip.iter().find(|(i, _)| i == ip) {
                                                    (spf_cause(t, cause))
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                            p { "DMARC: " strong { (s.dmarc.as_str()) } " — " (t.get("check-disposition")) " " strong { (s.disposition.as_str()) } }
                        }
                    }
                }
            }
        }
    }
}

/// One node of the SPF include tree and what it includes, as nested `<details>`
/// (open for the first two levels); at most [`MAX_TREE_DEPTH`] deep.
fn tree(t: &Catalog, nodes: &[SpfNode], i: usize, depth: usize) -> Markup {
    let Some(n) = nodes.get(i) else {
        return html! {};
    };
    html! {
        details open[depth < 2] {
            summary {
                @if !n.via.is_empty() { code { (n.via) ":" } } code { (n.domain) } " — "
                (t.text("spf-node-lookups", &[("n", n.lookups.into())]))
                @if let Some(p) = &n.problem { " " span.fail { (p.text(t.lang())) } }
            }
            @if let Some(rec) = &n.record { pre { (rec) } }
            @if depth < MAX_TREE_DEPTH {
                @for c in &n.children { (tree(t, nodes, *c, depth + 1)) }
            } @else if !n.children.is_empty() {
                // Never cut silently: what is not shown is said.
                p { span.fail { (t.text("spf-walk-deep", &[("max", MAX_TREE_DEPTH.into()), ("domain", n.domain.as_str().into())])) } }
            }
        }
    }
}

/// The deepest level of the tree shown (the walk stops before: its deepest node, at
/// 13, says so); a deeper node's children are not shown, and the page says so.
const MAX_TREE_DEPTH: usize = 14;

/// Why SPF gave its result for an address: the mechanism that matched, in which record.
fn spf_cause(t: &Catalog, cause: &SpfCause) -> Markup {
    match cause {
        SpfCause::Matched(m) => html! {
            (t.text("spf-matched", &[("mechanism", m.mechanism().into()), ("domain", m.domain().into())]))
        },
        other => html! { (other.to_string()) },
    }
}

/// The DMARC record's tags: each value, whether it was written or is the default
/// (RFC 9989 §4.7), and what it does.
fn dmarc_tags(t: &Catalog, record: &str) -> Markup {
    let written: Vec<(String, String)> = record
        .split(';')
        .filter_map(|x| x.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .take(40)
        .collect();
    let get = |k: &str| written.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let p = get("p").unwrap_or_else(|| "none".into());
    let sp = get("sp").unwrap_or_else(|| p.clone());
    let defaults: [(&str, String); 10] = [
        ("p", "none".into()),
        ("sp", p.clone()),
        ("np", sp),
        ("adkim", "r".into()),
        ("aspf", "r".into()),
        ("fo", "0".into()),
        ("rua", "—".into()),
        ("ruf", "—".into()),
        ("t", "n".into()),
        ("psd", "u".into()),
    ];
    html! {
        table {
            caption { (t.get("dmarc-tags-caption")) }
            thead { tr {
                th scope="col" { (t.get("col-tag")) }
                th scope="col" { (t.get("col-value")) }
                th scope="col" { (t.get("col-source")) }
                th scope="col" { (t.get("col-meaning")) }
            } }
            tbody {
                @for (k, d) in &defaults {
                    @let v = get(k);
                    tr {
                        td { code { (k) } }
                        td { code { (v.clone().unwrap_or_else(|| d.clone())) } }
                        td { @if v.is_some() { (t.get("tag-explicit")) } @else { span.note { (t.get("tag-default")) } } }
                        td { (t.get(&format!("dmarc-tag-{k}"))) }
                    }
                }
                @for (k, v) in written.iter().filter(|(k, _)| k != "v" && !defaults.iter().any(|(d, _)| d == k)) {
                    tr { td { code { (k) } } td { code { (v) } } td { (t.get("tag-explicit")) } td { (t.get("dmarc-tag-other")) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_diag::i18n::catalog;

    /// An include chain `d0.example` → `d1.example` → … → `d{last}.example`.
    fn chain(last: usize) -> Vec<SpfNode> {
        (0..=last)
            .map(|i| SpfNode {
                domain: format!("d{i}.example"),
                via: if i == 0 { "" } else { "include" },
                children: if i < last { vec![i + 1] } else { Vec::new() },
                ..SpfNode::default()
            })
            .collect()
    }

    #[test]
    fn the_spf_tree_shows_14_levels_and_says_what_it_leaves_out() {
        let t = catalog(Lang::En);
        let shown = |html: &str, i: usize| html.contains(&format!("<code>d{i}.example</code>"));
        // The domain and 14 levels under it: all shown, nothing said.
        let html = tree(t, &chain(MAX_TREE_DEPTH), 0, 0).into_string();
        assert!((0..=MAX_TREE_DEPTH).all(|i| shown(&html, i)), "{html}");
        assert!(!html.contains("deep at"), "{html}");
        // One level more: not shown, and the page says so where it stops.
        let html = tree(t, &chain(MAX_TREE_DEPTH + 1), 0, 0).into_string();
        assert!(shown(&html, MAX_TREE_DEPTH));
        assert!(!shown(&html, MAX_TREE_DEPTH + 1), "{html}");
        assert!(html.contains("more than 14 deep at d14.example"), "{html}");
    }
}
