//! `/reports`: the dashboard over the reports received (issue 12's store): per domain,
//! pass rates and dispositions, reporters, top and failing sources, likely forwarders,
//! the policy as published or as reported, and the advice on the next policy step.
//! Every chart is an inline SVG with a table of the same numbers beside it.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use monban_diag::i18n::{Arg, Catalog};
use monban_report::summary::{self, Advice, DomainSummary, Source, Summary};
use monban_store::DailyCounts;

use super::{Ctx, Page, layout, percent, respond};
use crate::AppState;

/// Sources listed per table.
const TOP: usize = 20;

/// The filter fields of a report page, as given (trimmed; empty when absent).
struct Fields {
    domain: String,
    since: String,
    until: String,
}

impl Fields {
    fn read(params: &[(String, String)]) -> Self {
        let get = |k: &str| crate::one(params, k).unwrap_or("").trim().to_owned();
        Fields {
            domain: get("domain"),
            since: get("since"),
            until: get("until"),
        }
    }

    /// The store's filter, or why the fields are wrong.
    fn filter(&self) -> Result<monban_store::SummaryFilter, summary::FilterError> {
        fn nonempty(s: &str) -> Option<&str> {
            (!s.is_empty()).then_some(s)
        }
        summary::filter(
            nonempty(&self.domain),
            nonempty(&self.since),
            nonempty(&self.until),
            |n| n.to_string(),
        )
    }

    /// The fields given, as a query (`domain=...&since=...`; empty when none).
    fn query(&self) -> String {
        [
            ("domain", &self.domain),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", super::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The query with `extra` (`k=v`) after it.
    fn query_with(&self, extra: &str) -> String {
        let q = self.query();
        if q.is_empty() {
            extra.to_owned()
        } else {
            format!("{q}&{extra}")
        }
    }

    fn form(&self, t: &Catalog, action: &str) -> Markup {
        filters_for(t, action, &self.domain, &self.since, &self.until)
    }
}

/// `GET /reports?domain=&since=&until=&rdns=true`.
pub async fn page(state: Arc<AppState>, ctx: Ctx, params: Vec<(String, String)>) -> Response {
    let t = ctx.t();
    let title = t.get("reports-title");
    let fields = Fields::read(&params);
    let fail = |status: StatusCode, why: String| {
        let body = html! {
            h1 { (title) }
            p.error role="alert" { (why) }
            (fields.form(t, "/reports"))
        };
        respond(&ctx, status, layout(&ctx, Page::Reports, &title, body))
    };
    let filter = match fields.filter() {
        Ok(f) => f,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e.0.text(ctx.lang)),
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
    let key = crate::dashboard::Key {
        domain: filter.domain.clone(),
        since: filter.since,
        until: filter.until,
        rdns,
    };
    let view = match state
        .dashboards
        .get(store.clone(), &state.resolver, &key)
        .await
    {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let s = &view.summary;
    let advice = &view.advice;
    let query = fields.query();
    // Several domains and none chosen: an overview, each domain one click away.
    let overview = filter.domain.is_none() && s.domains.len() > 1;
    let here = format!("/reports?{}", fields.query_with("rdns=true"));
    let body = html! {
        h1 { (title) }
        (fields.form(t, "/reports"))
        @if !rdns { p.note { a href=(here) { (t.get("reports-with-rdns")) } } }
        @if s.domains.is_empty() && s.tls.is_empty() {
            p { (t.get("reports-none")) }
        }
        @if !view.daily.is_empty() { (daily_chart(t, &view.daily)) }
        (left_out_notes(t, &view, rdns))
        p { a href={"/reports/list" @if !query.is_empty() { "?" (query) }} { (t.get("reports-list-link")) } }
        @if overview {
            (overview_table(t, s, &query))
        } @else {
            @for d in &s.domains {
                (domain_section(t, d, advice.iter().find(|a| a.domain == d.domain)))
            }
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

/// What the view leaves out, said: days past [`monban_store::MAX_DAYS`], TLS rows past
/// [`monban_store::MAX_TLS_ROWS`], sources whose reverse DNS was not looked up.
fn left_out_notes(t: &Catalog, view: &crate::dashboard::Dashboard, rdns: bool) -> Markup {
    let s = &view.summary;
    html! {
        @if view.daily_left_out {
            p.note role="status" { (t.text("reports-daily-left-out", &[("days", monban_store::MAX_DAYS.into())])) }
        }
        @if s.tls_rows_left_out {
            p.note role="status" { (t.text("reports-tls-left-out", &[("rows", monban_store::MAX_TLS_ROWS.into())])) }
        }
        @if rdns && s.rdns_not_looked_up > 0 {
            p.note role="status" { (t.text("reports-rdns-not-looked-up", &[
                ("n", s.rdns_not_looked_up.into()),
                ("each", crate::dashboard::RDNS_LOOKUPS.into()),
                ("total", summary::MAX_RDNS_TOTAL.into()),
                ("seconds", summary::RDNS_DEADLINE.as_secs().into()),
            ])) }
        }
    }
}

fn domain_section(t: &Catalog, d: &DomainSummary, advice: Option<&Advice>) -> Markup {
    let m = d.messages;
    let bars = [
        (t.get("stat-dmarc-pass"), d.dmarc_pass),
        (t.get("stat-dkim-aligned"), d.dkim_aligned_pass),
        (t.get("stat-spf-aligned"), d.spf_aligned_pass),
    ];
    // The most mail first (the summary lists failing sources first).
    let mut top: Vec<&Source> = d.sources.iter().collect();
    top.sort_by_key(|s| std::cmp::Reverse(s.messages));
    top.truncate(TOP);
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
                    ("source", Arg::from(t.get(if d.policy_source == "dns" { "policy-source-dns" } else { "policy-source-reports" }))),
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
            (sources(t, top))
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
                " " (a.verdict_text.text(t.lang()))
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
                            tr { td { (h.sender) } td.num { (h.failing) } td.num { (format!("{:.1} %", h.share)) } td { (h.action_text.text(t.lang())) } }
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

/// Every domain in one table: messages, pass rate, dispositions, and a link to it.
fn overview_table(t: &Catalog, s: &Summary, query: &str) -> Markup {
    let rest = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("domain="))
        .collect::<Vec<_>>()
        .join("&");
    html! {
        table {
            caption { (t.get("reports-overview")) }
            thead { tr {
                th scope="col" { (t.get("col-domain")) }
                th scope="col" class="num" { (t.get("col-messages")) }
                th scope="col" class="num" { (t.get("col-dmarc-pass")) " %" }
                th scope="col" class="num" { "none" }
                th scope="col" class="num" { "quarantine" }
                th scope="col" class="num" { "reject" }
                th scope="col" class="num" title=(t.get("col-other-disposition-title")) { (t.get("col-other-disposition")) }
                th scope="col" class="num" { (t.get("col-reports")) }
            } }
            tbody {
                @for d in &s.domains {
                    tr {
                        td { a href={"/reports?domain=" (super::encode(&d.domain)) @if !rest.is_empty() { "&" (rest) }} { (d.domain) } }
                        td.num { (d.messages) }
                        td.num { (percent(d.dmarc_pass, d.messages)) }
                        @for k in ["none", "quarantine", "reject"] {
                            td.num { (d.disposition.get(k).copied().unwrap_or(0)) }
                        }
                        td.num { (other_dispositions(d.messages, ["none", "quarantine", "reject"].map(|k| d.disposition.get(k).copied().unwrap_or(0)))) }
                        td.num { (d.reports) }
                    }
                }
            }
        }
    }
}

/// The messages whose disposition is none of the three standard ones (some reporters
/// write `pass`): without this column a row's dispositions did not add up to its
/// messages.
fn other_dispositions(messages: u64, standard: [u64; 3]) -> u64 {
    messages.saturating_sub(standard.iter().sum())
}

/// Messages over time: a bar per period (a day, a week or 30 days, so that there are
/// at most about 60 bars), the part that passed DMARC darker; the numbers in a table
/// below.
fn daily_chart(t: &Catalog, days: &[DailyCounts]) -> Markup {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return html! {};
    };
    let span = last.day - first.day + 1;
    let bucket: i64 = if span <= 62 {
        1
    } else if span <= 434 {
        7
    } else {
        30
    };
    let mut buckets: Vec<DailyCounts> = Vec::new();
    for d in days {
        let start = first.day + (d.day - first.day) / bucket * bucket;
        match buckets.last_mut() {
            Some(b) if b.day == start => {
                b.messages += d.messages;
                b.dmarc_pass += d.dmarc_pass;
                b.none += d.none;
                b.quarantine += d.quarantine;
                b.reject += d.reject;
            }
            _ => buckets.push(DailyCounts {
                day: start,
                ..d.clone()
            }),
        }
    }
    let max = buckets.iter().map(|b| b.messages).max().unwrap_or(1).max(1);
    let (w, h, left, bottom) = (760usize, 180usize, 60usize, 24usize);
    // Bars at their place in time (a gap is a gap), each as wide as its period.
    let width = (w - left - 4) as f64;
    let span_days = (last.day + bucket - first.day).max(1) as f64;
    let bar = ((bucket as f64 / span_days * width).floor() as usize).clamp(2, 40);
    let x_of = |day: i64| left + ((day - first.day) as f64 / span_days * width) as usize;
    let date = |day: i64| {
        let (y, m, d) = monban::rfc5322::datetime::civil_from_days(day);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let caption = t.get(match bucket {
        1 => "reports-daily-caption-day",
        7 => "reports-daily-caption-week",
        _ => "reports-daily-caption-month",
    });
    html! {
        h2 { (t.get("reports-over-time")) }
        figure {
            svg role="img" aria-labelledby="daily-caption" width=(w) height=(h + bottom)
                viewBox=(format!("0 0 {w} {}", h + bottom)) xmlns="http://www.w3.org/2000/svg" {
                text x="0" y="12" { (max) }
                text x="0" y=(h) { "0" }
                @for b in &buckets {
                    @let x = x_of(b.day);
                    @let total = (b.messages as f64 / max as f64 * (h - 10) as f64).round() as usize;
                    @let pass = (b.dmarc_pass as f64 / max as f64 * (h - 10) as f64).round() as usize;
                    rect x=(x) y=(h - total) width=(bar.saturating_sub(1).max(1)) height=(total) fill="#a4161a" {}
                    rect x=(x) y=(h - pass) width=(bar.saturating_sub(1).max(1)) height=(pass) fill="#1d4f91" {}
                }
                text x=(left) y=(h + 18) { (date(first.day)) }
                text x=(w - 80) y=(h + 18) { (date(buckets.last().map_or(last.day, |b| b.day))) }
            }
            figcaption #daily-caption { (caption) }
        }
        details {
            summary { (t.get("reports-daily-table")) }
            table {
                thead { tr {
                    th scope="col" { (t.get("col-period")) }
                    th scope="col" class="num" { (t.get("col-messages")) }
                    th scope="col" class="num" { (t.get("col-dmarc-pass")) }
                    th scope="col" class="num" { "%" }
                    th scope="col" class="num" { "none" }
                    th scope="col" class="num" { "quarantine" }
                    th scope="col" class="num" { "reject" }
                    th scope="col" class="num" title=(t.get("col-other-disposition-title")) { (t.get("col-other-disposition")) }
                } }
                tbody {
                    @for b in &buckets {
                        tr {
                            td { (date(b.day)) }
                            td.num { (b.messages) }
                            td.num { (b.dmarc_pass) }
                            td.num { (percent(b.dmarc_pass, b.messages)) }
                            td.num { (b.none) }
                            td.num { (b.quarantine) }
                            td.num { (b.reject) }
                            td.num { (other_dispositions(b.messages, [b.none, b.quarantine, b.reject])) }
                        }
                    }
                }
            }
        }
    }
}

/// Reports per page of the list.
const PAGE: u64 = 50;
/// The last page (offsets past 100,000 reports cost a scan each; filter by domain or
/// period to go further back).
const MAX_PAGE: u64 = 2_000;

/// `GET /reports/list?domain=&since=&until=&page=N`: the stored reports, newest first.
pub async fn list(state: Arc<AppState>, ctx: Ctx, params: Vec<(String, String)>) -> Response {
    let t = ctx.t();
    let title = t.get("reports-list-title");
    let fields = Fields::read(&params);
    let fail = |status: StatusCode, why: String| {
        let body = html! { h1 { (title) } p.error role="alert" { (why) } };
        respond(&ctx, status, layout(&ctx, Page::Reports, &title, body))
    };
    let filter = match fields.filter() {
        Ok(f) => f,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e.0.text(ctx.lang)),
    };
    let page: u64 = match crate::one(&params, "page").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(p)) if p <= MAX_PAGE => p,
        Some(_) => return fail(StatusCode::BAD_REQUEST, t.get("reports-bad-page")),
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
    // One more than a page, to know whether there is a next one.
    let mut rows = match store
        .incoming_report_list(&filter, page * PAGE, PAGE + 1)
        .await
    {
        Ok(r) => r,
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let more = rows.len() as u64 > PAGE;
    rows.truncate(PAGE as usize);
    let page_link = |n: u64| format!("/reports/list?{}", fields.query_with(&format!("page={n}")));
    let time = |s: i64| monban::rfc5322::datetime::format_utc(s);
    let body = html! {
        h1 { (title) }
        (fields.form(t, "/reports/list"))
        @if rows.is_empty() { p { (t.get("reports-none")) } } @else {
            table {
                caption { (t.text("reports-list-caption", &[("from", (page * PAGE + 1).into()), ("to", (page * PAGE + rows.len() as u64).into())])) }
                thead { tr {
                    th scope="col" { (t.get("col-kind")) }
                    th scope="col" { (t.get("col-reporter")) }
                    th scope="col" { (t.get("col-domain")) }
                    th scope="col" { (t.get("col-period")) }
                    th scope="col" class="num" { (t.get("col-messages")) }
                    th scope="col" class="num" { (t.get("col-rows")) }
                } }
                tbody {
                    @for e in &rows {
                        tr {
                            td { (e.kind) }
                            td { a href={"/reports/report/" (e.id)} { (e.org_name) } }
                            td { (e.domain) }
                            td { (time(e.begin)) " – " (time(e.end)) }
                            td.num { (e.messages) }
                            td.num { (e.records) }
                        }
                    }
                }
            }
        }
        nav aria-label=(t.get("reports-pages")) {
            @if page > 0 { a href=(page_link(page - 1)) rel="prev" { (t.get("previous")) } " " }
            @if more { a href=(page_link(page + 1)) rel="next" { (t.get("next")) } }
        }
    };
    respond(
        &ctx,
        StatusCode::OK,
        layout(&ctx, Page::Reports, &title, body),
    )
}

fn filters_for(t: &Catalog, action: &str, domain: &str, since: &str, until: &str) -> Markup {
    html! {
        form method="get" action=(action) {
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

/// `GET /reports/report/{id}`: one report, what it says, and its document as received.
pub async fn report(state: Arc<AppState>, ctx: Ctx, id: &str) -> Response {
    let t = ctx.t();
    let title = t.get("reports-report-title");
    let fail = |status: StatusCode, why: String| {
        let body = html! { h1 { (title) } p.error role="alert" { (why) } };
        respond(&ctx, status, layout(&ctx, Page::Reports, &title, body))
    };
    let Ok(id) = id.parse::<i64>() else {
        return fail(StatusCode::NOT_FOUND, t.get("reports-no-such-report"));
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
    let r = match store.incoming_report(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return fail(StatusCode::NOT_FOUND, t.get("reports-no-such-report")),
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let e = &r.entry;
    let time = |s: i64| monban::rfc5322::datetime::format_utc(s);
    let meta = serde_json::from_str::<serde_json::Value>(&r.meta)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| r.meta.clone());
    let body = html! {
        h1 { (title) ": " (e.org_name) }
        table {
            tbody {
                tr { th scope="row" { (t.get("col-kind")) } td { (e.kind) } }
                tr { th scope="row" { (t.get("col-reporter")) } td { (e.org_name) } }
                tr { th scope="row" { "report_id" } td { code { (e.report_id) } } }
                tr { th scope="row" { (t.get("col-domain")) } td { a href={"/reports?domain=" (super::encode(&e.domain))} { (e.domain) } } }
                tr { th scope="row" { (t.get("col-period")) } td { (time(e.begin)) " – " (time(e.end)) } }
                tr { th scope="row" { (t.get("col-messages")) } td { (e.messages) } }
                tr { th scope="row" { (t.get("col-rows")) } td { (e.records) } }
                tr { th scope="row" { (t.get("col-source")) } td { code { (r.source) } } }
            }
        }
        h2 { (t.get("reports-meta")) }
        pre { (meta) }
        h2 { (t.get("reports-document")) }
        @match &r.document {
            Some(doc) => {
                p { a href={"/reports/report/" (e.id) "/raw"} download { (t.get("reports-download")) } }
                @let shown = head(doc, SHOWN_DOCUMENT);
                @if shown.len() < doc.len() {
                    p.note { (t.text("reports-document-large", &[("kib", (SHOWN_DOCUMENT / 1024).into())])) }
                }
                pre { (shown) }
            }
            None => p.note { (t.get("reports-no-document")) },
        }
    };
    respond(
        &ctx,
        StatusCode::OK,
        layout(&ctx, Page::Reports, &format!("{title} {id}"), body),
    )
}

/// The most of a document shown in its page (the rest is in the download).
const SHOWN_DOCUMENT: usize = 64 * 1024;

/// The first `max` bytes of `s`, cut at a character boundary.
fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// `GET /reports/report/{id}/raw`: the document as received, as a download (plain text:
/// a browser never renders it as markup).
pub async fn raw(state: Arc<AppState>, id: &str) -> Response {
    use axum::response::IntoResponse as _;
    let Ok(id) = id.parse::<i64>() else {
        return crate::error(StatusCode::NOT_FOUND, "no such report");
    };
    let store = match &state.store {
        Ok(s) => s,
        Err(why) => return crate::error(StatusCode::SERVICE_UNAVAILABLE, why.clone()),
    };
    match store.incoming_report(id).await {
        Ok(Some(r)) => match r.document {
            Some(doc) => {
                let ext = match r.entry.kind.as_str() {
                    "tls" => "json",
                    "failure" => "txt",
                    _ => "xml",
                };
                (
                    StatusCode::OK,
                    [
                        (
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; charset=utf-8".to_owned(),
                        ),
                        (
                            axum::http::header::CONTENT_DISPOSITION,
                            format!("attachment; filename=\"report-{id}.{ext}\""),
                        ),
                    ],
                    doc,
                )
                    .into_response()
            }
            None => crate::error(StatusCode::NOT_FOUND, "this report's document was not kept"),
        },
        Ok(None) => crate::error(StatusCode::NOT_FOUND, "no such report"),
        Err(e) => crate::error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view's cuts are said on the page, in both languages: days and TLS rows left
    /// out, and the count of sources not looked up in the reverse DNS (when names were
    /// asked for); nothing is said of a view cut nowhere.
    #[test]
    fn what_a_view_leaves_out_is_said() {
        use monban_diag::i18n::{Lang, catalog};
        let view = |cut: bool| crate::dashboard::Dashboard {
            summary: Summary {
                rdns_not_looked_up: if cut { 17 } else { 0 },
                tls_rows_left_out: cut,
                ..Summary::default()
            },
            advice: Vec::new(),
            daily: Vec::new(),
            daily_left_out: cut,
            generation: 1,
            at: std::time::Instant::now(),
        };
        let text = |lang: Lang, cut: bool, rdns: bool| {
            left_out_notes(catalog(lang), &view(cut), rdns).into_string()
        };
        let en = text(Lang::En, true, true);
        assert!(
            en.contains("Sources not looked up in the reverse DNS: 17"),
            "{en}"
        );
        assert!(en.contains("the first 200 of each domain"), "{en}");
        assert!(en.contains("TLS policy rows"), "{en}");
        assert!(en.contains("days are shown"), "{en}");
        let ja = text(Lang::Ja, true, true);
        assert!(ja.contains("逆引き DNS を引かなかった送信元: 17"), "{ja}");
        assert!(
            ja.contains("TLS ポリシー行") && ja.contains("日分だけ"),
            "{ja}"
        );
        assert!(!text(Lang::En, true, false).contains("reverse DNS"));
        assert_eq!(text(Lang::En, false, true), "");
    }

    #[test]
    fn a_document_is_shown_up_to_64_kib_cut_at_a_character() {
        assert_eq!(SHOWN_DOCUMENT, 65_536);
        let exact = "a".repeat(SHOWN_DOCUMENT);
        assert_eq!(head(&exact, SHOWN_DOCUMENT), exact);
        let over = "a".repeat(SHOWN_DOCUMENT + 1);
        assert_eq!(head(&over, SHOWN_DOCUMENT).len(), SHOWN_DOCUMENT);
        // A character across the bound is left out whole.
        let across = format!("{}é", "a".repeat(SHOWN_DOCUMENT - 1));
        assert_eq!(head(&across, SHOWN_DOCUMENT), &across[..SHOWN_DOCUMENT - 1]);
    }
}
