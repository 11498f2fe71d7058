//! `/reports`: the dashboard over the reports received (issue 12's store): per domain,
//! pass rates and dispositions, reporters, top and failing sources, likely forwarders,
//! the policy as published or as reported, and the advice on the next policy step.
//! Every chart is an inline SVG with a table of the same numbers beside it.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use monban_diag::i18n::{Arg, Catalog};
use monban_report::summary::{self, Advice, DomainSummary, Source};

use super::{Ctx, Page, layout, percent, respond};
use crate::AppState;

/// Sources listed per table.
const TOP: usize = 20;

fn filters(t: &Catalog, domain: &str, since: &str, until: &str) -> Markup {
    html! {
        form method="get" action="/reports" {
            div.field {
                label for="domain" { (t.get("reports-domain-label")) } " "
                input #domain type="text" name="domain" value=(domain) autocomplete="off" spellcheck="false";
            }
            div.field {
                label for="since" { (t.get("reports-since-label")) } " "
                input #since type="date" name="since" value=(since);
                " "
                label for="until" { (t.get("reports-until-label")) } " "
                input #until type="date" name="until" value=(until);
            }
            button type="submit" { (t.get("reports-submit")) }
        }
    }
}

/// `GET /reports?domain=&since=&until=&rdns=true`.
pub async fn page(state: Arc<AppState>, ctx: Ctx, params: Vec<(String, String)>) -> Response {
    let t = ctx.t();
    let title = t.get("reports-title");
    let get = |k: &str| crate::one(&params, k).unwrap_or("").trim().to_owned();
    let (domain, since, until) = (get("domain"), get("since"), get("until"));
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let fail = |status: StatusCode, why: String| {
        let body = html! {
            h1 { (title) }
            p.error role="alert" { (why) }
            (filters(t, &domain, &since, &until))
        };
        respond(&ctx, status, layout(&ctx, Page::Reports, &title, body))
    };
    let filter = match summary::filter(
        nonempty(&domain).as_deref(),
        nonempty(&since).as_deref(),
        nonempty(&until).as_deref(),
        |n| n.to_string(),
    ) {
        Ok(f) => f,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let store = match &state.store {
        Ok(s) => s,
        Err(why) => {
            return fail(
                StatusCode::SERVICE_UNAVAILABLE,
                t.text("reports-no-store", &[("why", why.into())]),
            );
        }
    };
    let rdns = crate::flag(&params, "rdns").unwrap_or(false);
    let loaded = summary::load(&**store, &filter, rdns.then_some((&state.resolver, 200))).await;
    let (s, _) = match loaded {
        Ok(x) => x,
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let advice = summary::advise(&s);
    let here = {
        let mut q = Vec::new();
        for (k, v) in [("domain", &domain), ("since", &since), ("until", &until)] {
            if !v.is_empty() {
                q.push(format!("{k}={}", super::encode(v)));
            }
        }
        q.push("rdns=true".into());
        format!("/reports?{}", q.join("&"))
    };
    let body = html! {
        h1 { (title) }
        (filters(t, &domain, &since, &until))
        @if !rdns { p.note { a href=(here) { (t.get("reports-with-rdns")) } } }
        @if s.domains.is_empty() && s.tls.is_empty() {
            p { (t.get("reports-none")) }
        }
        @if s.domains.len() > 1 {
            nav aria-label=(t.get("reports-domains")) {
                ul { @for d in &s.domains { li { a href={"#d-" (d.domain)} { (d.domain) } } } }
            }
        }
        @for d in &s.domains {
            (domain_section(t, d, advice.iter().find(|a| a.domain == d.domain)))
        }
        @if !s.tls.is_empty() {
            h2 { (t.get("reports-tls")) }
            table {
                thead { tr {
                    th scope="col" { (t.get("col-domain")) }
                    th scope="col" class="num" { (t.get("col-successful")) }
                    th scope="col" class="num" { (t.get("col-failed")) }
                    th scope="col" { (t.get("col-reporters")) }
                    th scope="col" { (t.get("col-failures")) }
                } }
                tbody {
                    @for x in &s.tls {
                        tr {
                            td { (x.domain) }
                            td.num { (x.successful) }
                            td.num { (x.failed) }
                            td { (x.reporters.join(", ")) }
                            td { @for f in &x.failures { code { (f.result_type) } " ×" (f.sessions) " " } }
                        }
                    }
                }
            }
        }
    };
    respond(
        &ctx,
        StatusCode::OK,
        layout(&ctx, Page::Reports, &title, body),
    )
}

fn domain_section(t: &Catalog, d: &DomainSummary, advice: Option<&Advice>) -> Markup {
    let m = d.messages;
    let bars = [
        (t.get("stat-dmarc-pass"), d.dmarc_pass),
        (t.get("stat-dkim-aligned"), d.dkim_aligned_pass),
        (t.get("stat-spf-aligned"), d.spf_aligned_pass),
    ];
    let mut failing: Vec<&Source> = d.sources.iter().filter(|s| s.dmarc_fail > 0).collect();
    failing.sort_by_key(|s| std::cmp::Reverse(s.dmarc_fail));
    html! {
        section aria-labelledby={"d-" (d.domain)} {
            h2 #{"d-" (d.domain)} { (d.domain) }
            p {
                (t.text("reports-counts", &[("reports", d.reports.into()), ("messages", m.into())]))
                " — "
                (t.text("reports-policy", &[
                    ("policy", Arg::from(d.policy.clone().unwrap_or_else(|| "—".into()))),
                    ("source", Arg::from(t.get(&format!("policy-source-{}", d.policy_source)))),
                ]))
            }
            @if let Some(a) = advice { (advice_box(t, a)) }
            div.grid {
                figure {
                    (bar_chart(&format!("rates-{}", d.domain), &bars.iter().map(|(l, v)| (l.clone(), *v)).collect::<Vec<_>>(), m))
                    figcaption #{"rates-" (d.domain) "-caption"} { (t.get("reports-rates-caption")) }
                }
                table {
                    caption { (t.get("reports-rates-table")) }
                    thead { tr { th scope="col" { (t.get("col-measure")) } th scope="col" class="num" { (t.get("col-messages")) } th scope="col" class="num" { "%" } } }
                    tbody { @for (l, v) in &bars { tr { td { (l) } td.num { (v) } td.num { (percent(*v, m)) } } } }
                }
                @let dispositions: Vec<(String, u64)> = d.disposition.iter().map(|(k, v)| (k.clone(), *v)).collect();
                figure {
                    (bar_chart(&format!("disp-{}", d.domain), &dispositions, m))
                    figcaption #{"disp-" (d.domain) "-caption"} { (t.get("reports-disposition-caption")) }
                }
                table {
                    caption { (t.get("reports-disposition-table")) }
                    thead { tr { th scope="col" { (t.get("col-disposition")) } th scope="col" class="num" { (t.get("col-messages")) } th scope="col" class="num" { "%" } } }
                    tbody { @for (k, v) in &dispositions { tr { td { (k) } td.num { (v) } td.num { (percent(*v, m)) } } } }
                }
            }
            h3 { (t.get("reports-reporters")) }
            table {
                thead { tr { th scope="col" { (t.get("col-reporter")) } th scope="col" class="num" { (t.get("col-reports")) } th scope="col" class="num" { (t.get("col-messages")) } } }
                tbody { @for r in &d.reporters { tr { td { (r.org_name) } td.num { (r.reports) } td.num { (r.messages) } } } }
            }
            h3 { (t.get("reports-top-sources")) }
            (sources(t, d.sources.iter().take(TOP).collect()))
            h3 { (t.get("reports-failing-sources")) }
            @if failing.is_empty() { p { (t.get("reports-no-failing")) } } @else { (sources(t, failing.into_iter().take(TOP).collect())) }
            @if !d.forwarders.is_empty() {
                h3 { (t.get("reports-forwarders")) }
                ul { @for f in &d.forwarders { li { (f) } } }
            }
        }
    }
}

fn sources(t: &Catalog, list: Vec<&Source>) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { (t.get("col-ip")) }
                th scope="col" { (t.get("col-rdns")) }
                th scope="col" { (t.get("col-org-domain")) }
                th scope="col" class="num" { (t.get("col-messages")) }
                th scope="col" class="num" { (t.get("col-dmarc-pass")) }
                th scope="col" class="num" { (t.get("col-dmarc-fail")) }
                th scope="col" { (t.get("col-auth")) }
            } }
            tbody {
                @for s in list {
                    tr {
                        td { code { (s.ip) } }
                        td { (s.ptr.as_deref().unwrap_or("—")) }
                        td { (s.org_domain.as_deref().unwrap_or("—")) @if s.forwarder { " " span.note { (t.get("forwarder")) } } }
                        td.num { (s.messages) }
                        td.num { (s.dmarc_pass) }
                        td.num { (s.dmarc_fail) }
                        td {
                            @for (d, r, n) in s.spf.iter().take(3) { code { "spf " (d) "=" (r) } " ×" (n) " " }
                            @for (d, sel, r, n) in s.dkim.iter().take(3) { code { "dkim " (d) "/" (sel) "=" (r) } " ×" (n) " " }
                        }
                    }
                }
            }
        }
    }
}

fn advice_box(t: &Catalog, a: &Advice) -> Markup {
    html! {
        div role="status" {
            p {
                strong { (t.get("reports-advice")) } " "
                @if a.safe { span.pass { (t.get("advice-safe")) } } @else { span.fail { (t.get("advice-not-yet")) } }
                " " (a.verdict)
            }
            @if !a.hurt.is_empty() {
                table {
                    caption { (t.get("reports-hurt")) }
                    thead { tr {
                        th scope="col" { (t.get("col-sender")) }
                        th scope="col" class="num" { (t.get("col-failing")) }
                        th scope="col" class="num" { "%" }
                        th scope="col" { (t.get("col-action")) }
                    } }
                    tbody {
                        @for h in &a.hurt {
                            tr { td { (h.sender) } td.num { (h.failing) } td.num { (format!("{:.1} %", h.share)) } td { (h.action) } }
                        }
                    }
                }
            }
        }
    }
}

/// Horizontal bars, each labelled with its count and share of `whole`.
fn bar_chart(id: &str, bars: &[(String, u64)], whole: u64) -> Markup {
    let label_w = 170usize;
    let bar_w = 260usize;
    let row = 26usize;
    let height = row * bars.len().max(1) + 6;
    let width = label_w + bar_w + 110;
    html! {
        svg role="img" aria-labelledby={(id) "-caption"} width=(width) height=(height)
            viewBox=(format!("0 0 {width} {height}")) xmlns="http://www.w3.org/2000/svg" {
            @for (i, (label, v)) in bars.iter().enumerate() {
                @let y = i * row + 4;
                @let w = if whole == 0 { 0 } else { ((*v as f64 / whole as f64) * bar_w as f64).round() as usize };
                text x="0" y=(y + 15) { (label) }
                rect x=(label_w) y=(y + 3) width=(bar_w) height="14" fill="#e6e8eb" {}
                rect x=(label_w) y=(y + 3) width=(w) height="14" fill="#1d4f91" {}
                text x=(label_w + bar_w + 6) y=(y + 15) { (v) " (" (percent(*v, whole)) ")" }
            }
        }
    }
}
