//! `/check?domain=`: the domain checker as a page. The same findings as `monban check`,
//! a light per area, each fix in full and ready to paste.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use monban_diag::check::{self, Area, CheckOptions, CheckReport, Finding, NextStep, SendingSetup};
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
}

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
            button type="submit" { (t.get("check-submit")) }
        }
    }
}

/// `GET /check`.
pub async fn page(state: Arc<AppState>, ctx: Ctx, params: Vec<(String, String)>) -> Response {
    let t = ctx.t();
    let get = |k: &str| crate::one(&params, k).unwrap_or("").trim().to_owned();
    let f = Form {
        domain: get("domain"),
        // Several `selector=` parameters (the API's form) or one field of names.
        selectors: params
            .iter()
            .filter(|(k, _)| k == "selector")
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        discover: crate::flag(&params, "discover").unwrap_or(false)
            || crate::one(&params, "discover") == Some("on"),
        ips: get("ip"),
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
        Err(e) => return problem(e),
    };
    let selectors: Vec<String> = f
        .selectors
        .split([' ', ',', '\t'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Err(e) = crate::selectors_ok(&selectors) {
        return problem(e);
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
    let options = CheckOptions {
        selectors,
        discover: f.discover,
        sending: (!ips.is_empty()).then(|| SendingSetup {
            ips,
            ..SendingSetup::default()
        }),
        now: crate::now(),
    };
    let report = check::check(&state.resolver, &domain, &options).await;
    let body = html! {
        h1 { (title) ": " (report.domain) " " (light(t, report.status.as_str())) }
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
                    }
                    @if area == Area::Sending {
                        @if let Some(s) = &r.sending {
                            table {
                                caption { (t.get("check-sending-caption")) }
                                thead { tr { th scope="col" { (t.get("col-ip")) } th scope="col" { "SPF" } } }
                                tbody {
                                    @for (ip, res) in &s.spf_by_ip {
                                        tr { td { code { (ip) } } td { (res.as_str()) } }
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
