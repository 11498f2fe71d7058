//! `/analyze`: the header analyzer as a page. Paste or upload a message (or only its
//! header); the page shows the hops as a table and a chart, what the receivers recorded
//! beside monban's own verification, which recorded results can be trusted, every DKIM
//! signature tag by tag with the diagnosis of what changed, and how the From domain
//! aligns. The permalink carries the message itself (compressed, in the link): nothing is
//! stored on the server.

use std::io::{Read, Write};
use std::sync::Arc;

use axum::extract::Multipart;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use maud::{Markup, html};
use monban::dmarc::psl::PublicSuffixList;
use monban_diag::analyze::{self, Analysis, ResultsField};
use monban_diag::i18n::{Arg, Catalog};

use super::{Ctx, Page, copyable, duration, layout, respond};
use crate::AppState;

/// The longest permalink payload (compressed, base64url): longer messages get no link.
pub const MAX_PERMALINK: usize = 48 * 1024;

/// The largest message decompressed from a permalink.
const MAX_PERMALINK_MESSAGE: u64 = 4 * 1024 * 1024;

fn form(t: &Catalog, ctx: &Ctx, message: &str, verify: bool) -> Markup {
    html! {
        form method="post" action="/analyze" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            div.field {
                label for="message" { (t.get("analyze-message-label")) }
                p.note #message-help { (t.get("analyze-message-help")) }
                textarea.drop #message name="message" aria-describedby="message-help" spellcheck="false" { (message) }
            }
            div.field {
                label for="file" { (t.get("analyze-file-label")) }
                " "
                input #file type="file" name="file" accept=".eml,.txt,message/rfc822,text/plain";
            }
            div.field {
                input #verify type="checkbox" name="verify" value="true" checked[verify];
                " "
                label for="verify" { (t.get("analyze-verify-label")) }
                p.note { (t.get("analyze-verify-help")) }
            }
            button type="submit" { (t.get("analyze-submit")) }
        }
    }
}

/// `GET /analyze` (the form, or the analysis of a permalink's `m=`).
pub async fn get(state: Arc<AppState>, ctx: Ctx, params: Vec<(String, String)>) -> Response {
    let t = ctx.t();
    let verify = crate::flag(&params, "verify").unwrap_or(false);
    if let Some(m) = crate::one(&params, "m") {
        return match from_permalink(m) {
            Ok(message) => analysis_page(&state, &ctx, &message, verify).await,
            Err(why) => problem(&ctx, StatusCode::BAD_REQUEST, &t.get(why), "", verify),
        };
    }
    let title = t.get("analyze-title");
    let body = html! { h1 { (title) } (form(t, &ctx, "", false)) };
    respond(
        &ctx,
        StatusCode::OK,
        layout(&ctx, Page::Analyze, &title, body),
    )
}

fn problem(ctx: &Ctx, status: StatusCode, why: &str, message: &str, verify: bool) -> Response {
    let t = ctx.t();
    let title = t.get("analyze-title");
    let body = html! {
        h1 { (title) }
        p.error role="alert" { (why) }
        (form(t, ctx, message, verify))
    };
    respond(ctx, status, layout(ctx, Page::Analyze, &title, body))
}

/// `POST /analyze`: a multipart form (`csrf`, `message`, `file`, `verify`, as the page
/// sends it) or an urlencoded one (`message=...`, DESIGN §4).
pub async fn post(
    state: Arc<AppState>,
    ctx: Ctx,
    headers: &HeaderMap,
    req: axum::extract::Request,
) -> Response {
    use axum::extract::FromRequest as _;
    let t = ctx.t();
    let mut token = String::new();
    let mut message: Vec<u8> = Vec::new();
    let mut file: Vec<u8> = Vec::new();
    let mut verify = false;
    let bad = |why: String, status: StatusCode| {
        let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
            t.get("analyze-form-too-large")
        } else {
            t.text("analyze-bad-form", &[("why", why.into())])
        };
        problem(&ctx, status, &why, "", false)
    };
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let body = match axum::body::Bytes::from_request(req, &()).await {
            Ok(b) => b,
            Err(e) => return bad(e.body_text(), e.status()),
        };
        let text = String::from_utf8_lossy(&body);
        let fields = match crate::params(Some(&text)) {
            Ok(f) => f,
            Err(e) => return bad(e.text(ctx.lang), StatusCode::BAD_REQUEST),
        };
        for (k, v) in fields {
            match k.as_str() {
                "csrf" => token = v,
                "message" => message = v.into_bytes(),
                "verify" => verify = matches!(v.as_str(), "true" | "1" | "on"),
                _ => {}
            }
        }
    } else {
        let mut form = match Multipart::from_request(req, &()).await {
            Ok(f) => f,
            Err(e) => return bad(e.body_text(), e.status()),
        };
        loop {
            let field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return bad(e.body_text(), form_status(&e)),
            };
            let name = field.name().unwrap_or("").to_owned();
            let data = match field.bytes().await {
                Ok(d) => d,
                Err(e) => return bad(e.body_text(), form_status(&e)),
            };
            match name.as_str() {
                "csrf" => token = String::from_utf8_lossy(&data).into_owned(),
                "message" => message = data.to_vec(),
                "file" => file = data.to_vec(),
                "verify" => verify = true,
                _ => {}
            }
        }
    }
    if !super::csrf_ok(headers, &token) {
        return problem(
            &ctx,
            StatusCode::FORBIDDEN,
            &t.get("csrf-refused"),
            "",
            verify,
        );
    }
    // A file wins over the text area (the user chose it last).
    let message = if file.is_empty() { message } else { file };
    analysis_page(&state, &ctx, &message, verify).await
}

/// The status of a form that could not be read: 413 when the body went past
/// `--max-body` while it streamed in (a chunked upload, whose size is not known before:
/// axum's own mapping gave 500 "failed to read stream"), else axum's.
fn form_status(e: &axum::extract::multipart::MultipartError) -> StatusCode {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return StatusCode::PAYLOAD_TOO_LARGE;
        }
        source = s.source();
    }
    e.status()
}

/// The message carried by a permalink.
fn from_permalink(m: &str) -> Result<Vec<u8>, &'static str> {
    if m.len() > MAX_PERMALINK {
        return Err("permalink-bad");
    }
    let packed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(m)
        .map_err(|_| "permalink-bad")?;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&packed[..])
        .take(MAX_PERMALINK_MESSAGE + 1)
        .read_to_end(&mut out)
        .map_err(|_| "permalink-bad")?;
    if out.len() as u64 > MAX_PERMALINK_MESSAGE {
        return Err("permalink-bad");
    }
    Ok(out)
}

/// Messages larger than this get no permalink (they would not fit anyway: mail
/// compresses about fivefold, the link holds 48 KiB); nothing bigger is compressed.
const MAX_PERMALINK_INPUT: usize = 1024 * 1024;

/// The permalink of a message, when it is short enough.
pub fn permalink(message: &[u8], verify: bool) -> Option<String> {
    if message.len() > MAX_PERMALINK_INPUT {
        return None;
    }
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(message).ok()?;
    let packed = e.finish().ok()?;
    let m = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(packed);
    (m.len() <= MAX_PERMALINK).then(|| {
        if verify {
            format!("/analyze?m={m}&verify=true")
        } else {
            format!("/analyze?m={m}")
        }
    })
}

async fn analysis_page(state: &AppState, ctx: &Ctx, message: &[u8], verify: bool) -> Response {
    let t = ctx.t();
    let text_back =
        || String::from_utf8_lossy(&message[..message.len().min(64 * 1024)]).into_owned();
    let header_len = header_length(message);
    if header_len > state.max_header {
        return problem(
            ctx,
            StatusCode::PAYLOAD_TOO_LARGE,
            &t.text(
                "analyze-header-too-large",
                &[("max", Arg::from(state.max_header as u64))],
            ),
            "",
            verify,
        );
    }
    let (headers, rest) = match crate::split_message(message) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return problem(
                ctx,
                StatusCode::BAD_REQUEST,
                &t.get("analyze-empty"),
                "",
                verify,
            );
        }
        Err(e) => {
            return problem(
                ctx,
                StatusCode::BAD_REQUEST,
                &t.text("analyze-unreadable", &[("why", e.into())]),
                &text_back(),
                verify,
            );
        }
    };
    let mut a = analyze::analyze(&headers, Some(&rest));
    if verify {
        crate::verify_analysis(state, &mut a, &headers, &rest).await;
    }
    let title = t.get("analyze-title");
    let link = permalink(message, verify);
    // The language switch shows this analysis again (through its permalink).
    let mut here = ctx.clone();
    if let Some(l) = &link {
        here.here = l.clone();
    }
    let ctx = &here;
    let body = html! {
        h1 { (title) }
        (overview(t, &a))
        @match &link {
            Some(l) => p { a #permalink href=(l) { (t.get("permalink")) } " " span.note { (t.get("permalink-help")) } },
            None => p.note { (t.get("permalink-too-long")) },
        }
        (alignment(t, &a))
        (hops(t, &a))
        (recorded(t, state, &a))
        @if let Some(v) = &a.verification { (verification(t, v)) }
        (signatures(t, &a))
        (warnings(t, &a))
        h2 { (t.get("analyze-again")) }
        (form(t, ctx, "", verify))
    };
    respond(
        ctx,
        StatusCode::OK,
        layout(ctx, Page::Analyze, &title, body),
    )
}

/// Bytes up to the end of the header (the empty line), or the whole input.
fn header_length(m: &[u8]) -> usize {
    let crlf = memchr_find(m, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr_find(m, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => m.len(),
    }
}

fn memchr_find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

fn overview(t: &Catalog, a: &Analysis) -> Markup {
    let id = &a.identities;
    let rows: Vec<(&str, Option<String>)> = vec![
        (
            "field-from",
            id.from.clone().map(|f| match &id.from_name {
                Some(n) => format!("{n} <{f}>"),
                None => f,
            }),
        ),
        ("field-subject", a.subject.clone()),
        (
            "field-date",
            a.date.as_ref().map(|d| match &d.time {
                Some(time) => format!("{} ({time})", d.text),
                None => d.text.clone(),
            }),
        ),
        ("field-message-id", a.message_id.clone()),
        ("field-return-path", id.return_path.clone()),
        ("field-sender", id.sender.clone()),
        ("field-reply-to", id.reply_to.clone()),
    ];
    html! {
        h2 { (t.get("analyze-overview")) }
        table {
            caption.note { (t.get("analyze-overview-caption")) }
            tbody {
                @for (k, v) in rows {
                    @if let Some(v) = v {
                        tr { th scope="row" { (t.get(k)) } td { (v) } }
                    }
                }
            }
        }
    }
}

fn psl() -> &'static PublicSuffixList {
    PublicSuffixList::bundled_shared()
}

/// Strict and relaxed alignment (RFC 9989 §3.2.2), organizational domains from the
/// bundled Public Suffix List.
fn aligned(from: &str, other: &str) -> (bool, bool) {
    let from = from.to_ascii_lowercase();
    let other = other.to_ascii_lowercase();
    let strict = from == other;
    let org = |d: &str| psl().registrable_domain(d).unwrap_or_else(|| d.to_owned());
    (strict, strict || org(&from) == org(&other))
}

fn alignment(t: &Catalog, a: &Analysis) -> Markup {
    let Some(from) = &a.identities.from_domain else {
        return html! { h2 { (t.get("analyze-alignment")) } p { (t.get("analyze-no-from-domain")) } };
    };
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(rp) = &a.identities.return_path_domain {
        rows.push((t.get("align-spf"), rp.clone()));
    }
    for s in &a.dkim_signatures {
        if let Some(d) = &s.d {
            rows.push((t.text("align-dkim", &[("n", s.number.into())]), d.clone()));
        }
    }
    html! {
        h2 { (t.get("analyze-alignment")) }
        p { (t.text("align-from", &[("domain", from.into())])) }
        @if rows.is_empty() {
            p { (t.get("align-nothing")) }
        } @else {
            table {
                caption.note { (t.get("align-caption")) }
                thead { tr {
                    th scope="col" { (t.get("col-identifier")) }
                    th scope="col" { (t.get("col-domain")) }
                    th scope="col" { (t.get("col-strict")) }
                    th scope="col" { (t.get("col-relaxed")) }
                } }
                tbody {
                    @for (what, d) in &rows {
                        @let (strict, relaxed) = aligned(from, d);
                        tr {
                            td { (what) }
                            td { code { (d) } }
                            td { (yes_no(t, strict)) }
                            td { (yes_no(t, relaxed)) }
                        }
                    }
                }
            }
        }
    }
}

fn yes_no(t: &Catalog, b: bool) -> Markup {
    if b {
        html! { span.pass { "✓ " (t.get("yes")) } }
    } else {
        html! { span.fail { "✗ " (t.get("no")) } }
    }
}

/// The hops as a chart (bars for delays; a negative delay is clock skew, drawn as a
/// mark and labelled, never as a long bar) and as a table.
fn hops(t: &Catalog, a: &Analysis) -> Markup {
    if a.hops.is_empty() {
        return html! { h2 { (t.get("analyze-hops")) } p { (t.get("analyze-no-hops")) } };
    }
    let max = a
        .hops
        .iter()
        .filter_map(|h| h.delay_seconds)
        .filter(|d| *d > 0)
        .max()
        .unwrap_or(1)
        .max(1);
    let row_h = 24;
    let label_w = 260;
    let bar_w = 360;
    let height = row_h * a.hops.len() + 8;
    html! {
        h2 { (t.get("analyze-hops")) }
        @if let Some(total) = a.total_delay_seconds {
            p { (t.text("analyze-total-delay", &[("delay", duration(t, total).into())])) }
        }
        figure {
            svg role="img" aria-labelledby="hops-caption" width=(label_w + bar_w + 140) height=(height)
                viewBox=(format!("0 0 {} {height}", label_w + bar_w + 140)) xmlns="http://www.w3.org/2000/svg" {
                @for (i, h) in a.hops.iter().enumerate() {
                    @let y = i * row_h + 4;
                    @let name = h.by.clone().unwrap_or_else(|| format!("#{}", h.number));
                    text x="0" y=(y + 15) { (short(&format!("{}. {name}", h.number), 36)) }
                    @match h.delay_seconds {
                        Some(d) if d < 0 => {
                            rect x=(label_w) y=(y + 4) width="6" height="12" fill="#7a4d00" {}
                            text x=(label_w + 12) y=(y + 15) { (t.text("clock-skew", &[("delay", duration(t, d).into())])) }
                        }
                        Some(d) => {
                            @let w = ((d as f64 / max as f64) * bar_w as f64).round().max(1.0) as i64;
                            rect x=(label_w) y=(y + 4) width=(w) height="12" fill="#1d4f91" {}
                            text x=(label_w as i64 + w + 6) y=(y + 15) { (duration(t, d)) }
                        }
                        None => {
                            text x=(label_w) y=(y + 15) { (t.get("delay-unknown")) }
                        }
                    }
                }
            }
            figcaption #hops-caption { (t.get("analyze-hops-caption")) }
        }
        table {
            caption.note { (t.get("analyze-hops-table")) }
            thead { tr {
                th scope="col" class="num" { "#" }
                th scope="col" { (t.get("col-from")) }
                th scope="col" { (t.get("col-by")) }
                th scope="col" { (t.get("col-with")) }
                th scope="col" { (t.get("col-time")) }
                th scope="col" class="num" { (t.get("col-delay")) }
            } }
            tbody {
                @for h in &a.hops {
                    tr {
                        td.num { (h.number) }
                        td {
                            (h.from.as_deref().unwrap_or("—"))
                            @if let Some(ip) = &h.from_ip { " " code { "[" (ip) "]" } }
                        }
                        td { (h.by.as_deref().unwrap_or("—")) }
                        td { (h.with.as_deref().unwrap_or("—")) }
                        td { (h.time.as_deref().unwrap_or("—")) }
                        td.num {
                            @match h.delay_seconds {
                                Some(d) if d < 0 => span.claimed { (t.text("clock-skew", &[("delay", duration(t, d).into())])) },
                                Some(d) => (duration(t, d)),
                                None => "—",
                            }
                        }
                    }
                }
            }
        }
    }
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut o: String = s.chars().take(max - 1).collect();
        o.push('…');
        o
    }
}

/// Whether a recorded field can be trusted: written by a host this server trusts (its
/// own authserv-id or one configured) and not placed before the first hop.
fn trusted(state: &AppState, r: &ResultsField) -> bool {
    !r.before_first_hop
        && r.authserv_id
            .as_deref()
            .is_some_and(|id| state.trusted_ids.iter().any(|t| t.eq_ignore_ascii_case(id)))
}

fn recorded(t: &Catalog, state: &AppState, a: &Analysis) -> Markup {
    html! {
        h2 { (t.get("analyze-recorded")) }
        p.note { (t.get("analyze-trust-help")) }
        @if a.authentication_results.is_empty() && a.arc_authentication_results.is_empty() && a.received_spf.is_empty() {
            p { (t.get("analyze-nothing-recorded")) }
        }
        @for (field, list) in [("Authentication-Results", &a.authentication_results), ("ARC-Authentication-Results", &a.arc_authentication_results)] {
            @for r in list {
                @let trust = trusted(state, r);
                section {
                    h3 {
                        code { (field) } " "
                        @if let Some(i) = r.instance { "i=" (i) " " }
                        (t.text("recorded-by", &[("id", r.authserv_id.clone().unwrap_or_else(|| "?".into()).into())]))
                        " "
                        @if trust {
                            span.pass { (t.get("trusted")) }
                        } @else {
                            span.claimed { (t.get("claimed")) }
                        }
                    }
                    @if !trust {
                        p.note {
                            @if r.before_first_hop { (t.get("claimed-before-first-hop")) } @else { (t.get("claimed-unknown-id")) }
                        }
                    }
                    @if let Some(e) = &r.error { p.note { (t.text("recorded-unparseable", &[("why", e.into())])) } }
                    table {
                        thead { tr {
                            th scope="col" { (t.get("col-method")) }
                            th scope="col" { (t.get("col-result")) }
                            th scope="col" { (t.get("col-details")) }
                        } }
                        tbody {
                            @for m in &r.results {
                                tr {
                                    td { (m.method) }
                                    td {
                                        @if trust { (m.result) } @else { span.claimed { (t.text("claimed-result", &[("result", (&m.result).into())])) } }
                                    }
                                    td {
                                        @for (k, v) in &m.properties.0 { code { (k) "=" (v) } " " }
                                        @if let Some(reason) = &m.reason { span.note { "reason=\"" (reason) "\" " } }
                                        @if let Some(c) = &m.comment { span.note { "(" (c) ")" } }
                                        br;
                                        span.meaning { (m.text.text(t.lang())) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @for r in &a.received_spf {
            section {
                h3 { code { "Received-SPF" } " " (t.text("recorded-by", &[("id", r.receiver.clone().unwrap_or_else(|| "?".into()).into())])) " " span.claimed { (t.get("claimed")) } }
                p { "spf=" (r.result) @if let Some(c) = &r.comment { " " span.note { "(" (c) ")" } } }
            }
        }
    }
}

fn verification(t: &Catalog, v: &analyze::Verification) -> Markup {
    html! {
        h2 { (t.get("analyze-verification")) }
        p.note {
            (t.text("verify-envelope", &[
                ("ip", v.envelope.ip.clone().unwrap_or_else(|| "—".into()).into()),
                ("helo", v.envelope.helo.clone().unwrap_or_else(|| "—".into()).into()),
                ("from", v.envelope.mail_from.clone().unwrap_or_else(|| "—".into()).into()),
                ("source", v.envelope.source_msg.text(t.lang()).into()),
            ]))
        }
        (copyable(t, &format!("Authentication-Results: {}", v.authentication_results)))
        table {
            caption { (t.text("verify-differences", &[("n", v.differences.into())])) }
            thead { tr {
                th scope="col" { (t.get("col-method")) }
                th scope="col" { (t.get("col-about")) }
                th scope="col" { (t.get("col-recorded")) }
                th scope="col" { (t.get("col-monban")) }
                th scope="col" { (t.get("col-why")) }
            } }
            tbody {
                @for c in &v.comparison {
                    tr class=[c.differs.then_some("differs")] {
                        td { (c.method) }
                        td { (c.subject.as_deref().unwrap_or("—")) }
                        td {
                            @match &c.recorded {
                                Some(r) => { (r) @if let Some(by) = &c.by { span.note { " (" (by) ")" } } },
                                None => "—",
                            }
                        }
                        td { (c.monban.as_deref().unwrap_or("—")) }
                        td { (difference(t, c)) }
                    }
                }
            }
        }
        (arc_chain(t, &v.arc))
    }
}

/// The ARC chain: each sealer's set, and what it tells of the path.
fn arc_chain(t: &Catalog, arc: &analyze::ArcAnalysis) -> Markup {
    html! {
        @if arc.result != "none" {
            h3 { (t.text("arc-title", &[("result", arc.result.clone().into()), ("n", u64::from(arc.instances).into())])) }
            table {
                thead { tr {
                    th scope="col" { "i" }
                    th scope="col" { (t.get("col-sealer")) }
                    th scope="col" { "cv" }
                    th scope="col" { (t.get("col-seal")) }
                    th scope="col" { (t.get("col-ams")) }
                    th scope="col" { (t.get("col-body")) }
                    th scope="col" { (t.get("col-recorded")) }
                } }
                tbody {
                    @for h in &arc.hops {
                        tr {
                            td { (h.instance) }
                            td { (h.sealer) span.note { " (" (h.authserv_id) ")" } }
                            td { (h.cv) }
                            td { (h.seal.as_deref().unwrap_or("—")) }
                            td { (h.message_signature.as_deref().unwrap_or("—")) }
                            td { (t.get(if h.body_intact { "arc-body-same" } else { "arc-body-changed" })) }
                            td { (h.recorded.join(", ")) }
                        }
                    }
                }
            }
        }
        @if !arc.notes_text.is_empty() {
            ul { @for n in &arc.notes_text { li { (n.text(t.lang())) } } }
        }
    }
}

/// Why a recorded result and monban's differ, in words.
fn difference(t: &Catalog, c: &analyze::Comparison) -> String {
    if !c.differs {
        return t.get("diff-same");
    }
    let key = match (
        c.method.as_str(),
        c.recorded.as_deref(),
        c.monban.as_deref(),
    ) {
        (_, None, _) => "diff-not-recorded",
        (_, _, None) => "diff-not-comparable",
        ("dkim", Some("pass"), Some(_)) => "diff-dkim-changed",
        ("dkim", Some(_), Some("pass")) => "diff-dkim-now-passes",
        ("spf", _, _) => "diff-spf-envelope",
        ("dmarc", _, _) => "diff-dmarc-follows",
        _ => "diff-other",
    };
    t.get(key)
}

fn signatures(t: &Catalog, a: &Analysis) -> Markup {
    html! {
        h2 { (t.get("analyze-signatures")) }
        @if a.dkim_signatures.is_empty() { p { (t.get("analyze-no-signatures")) } }
        @for s in &a.dkim_signatures {
            section {
                h3 {
                    (t.text("signature-title", &[("n", s.number.into()), ("d", s.d.clone().unwrap_or_else(|| "?".into()).into()), ("s", s.s.clone().unwrap_or_else(|| "?".into()).into())]))
                    " — "
                    (t.get(match s.signer { analyze::Signer::Author => "signer-author", analyze::Signer::ThirdParty => "signer-third-party" }))
                }
                @if let Some(e) = &s.error { p.error { (e) } }
                details {
                    summary { (t.text("signature-tags", &[("n", s.explanations.len().into())])) }
                    table {
                        thead { tr {
                            th scope="col" { (t.get("col-tag")) }
                            th scope="col" { (t.get("col-value")) }
                            th scope="col" { (t.get("col-meaning")) }
                        } }
                        tbody {
                            @for e in &s.explanations {
                                tr { td { code { (e.tag) } } td { code { (e.value) } } td { (e.text.text(t.lang())) } }
                            }
                        }
                    }
                }
                @if let Some(d) = &s.diagnosis {
                    h3 { (t.get("diagnosis-title")) }
                    ul {
                        @for f in &d.findings {
                            li {
                                @if f.confirmed {
                                    span.pass { (t.get("grade-proven")) }
                                } @else {
                                    span.claimed { (t.get("grade-likely")) }
                                }
                                " " (f.text.text(t.lang()))
                            }
                        }
                        @if d.findings.is_empty() { li { span.note { (t.get("grade-unknown")) } " " (t.get("diagnosis-nothing")) } }
                    }
                }
            }
        }
    }
}

fn warnings(t: &Catalog, a: &Analysis) -> Markup {
    html! {
        @if !a.warnings.is_empty() {
            h2 { (t.get("analyze-warnings")) }
            ul {
                @for w in &a.warnings {
                    li {
                        @match w.severity {
                            analyze::Severity::Warning => span.fail { (t.get("warning")) },
                            analyze::Severity::Info => span.note { (t.get("info")) },
                        }
                        " " (w.text.text(t.lang()))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permalink_carries_the_message_and_refuses_bombs() {
        let m = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
        let link = permalink(m, true).unwrap();
        assert!(link.ends_with("&verify=true"), "{link}");
        let payload = link.split("m=").nth(1).unwrap().split('&').next().unwrap();
        assert_eq!(from_permalink(payload).unwrap(), m);
        assert!(from_permalink("!!!").is_err());
        // 8 MiB of zeros compress into a short link: refused when opened.
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; 8 << 20]).unwrap();
        let bomb = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(e.finish().unwrap());
        assert!(bomb.len() < MAX_PERMALINK);
        assert!(from_permalink(&bomb).is_err());
    }

    /// A permalink payload of `data` bytes: one stored deflate block (5 bytes of
    /// framing), base64url.
    fn stored(data: usize) -> String {
        let len = u16::try_from(data).unwrap();
        let mut raw = vec![1u8];
        raw.extend_from_slice(&len.to_le_bytes());
        raw.extend_from_slice(&(!len).to_le_bytes());
        raw.extend(std::iter::repeat_n(b'a', data));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    #[test]
    fn a_permalink_of_48_kib_is_read_and_a_longer_one_refused() {
        assert_eq!(MAX_PERMALINK, 49_152);
        // 36,864 bytes are 49,152 base64 characters exactly: read.
        let exact = stored(36_859);
        assert_eq!(exact.len(), MAX_PERMALINK);
        assert_eq!(from_permalink(&exact).unwrap(), vec![b'a'; 36_859]);
        // One byte more of message: a valid link, but longer: refused unread.
        let over = stored(36_860);
        assert!(over.len() > MAX_PERMALINK);
        assert_eq!(from_permalink(&over), Err("permalink-bad"));
    }

    #[test]
    fn only_messages_up_to_1_mib_get_a_permalink() {
        assert_eq!(MAX_PERMALINK_INPUT, 1 << 20);
        // Zeros compress into a short link: only the input bound stops them.
        let link = permalink(&vec![0u8; MAX_PERMALINK_INPUT], false).unwrap();
        let payload = link.strip_prefix("/analyze?m=").unwrap();
        assert_eq!(from_permalink(payload).unwrap().len(), MAX_PERMALINK_INPUT);
        assert_eq!(permalink(&vec![0u8; MAX_PERMALINK_INPUT + 1], false), None);
        // A message whose link would pass 48 KiB gets none either.
        let mut noise = Vec::with_capacity(100_000);
        let mut x: u32 = 1;
        for _ in 0..100_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            noise.push((x >> 16) as u8);
        }
        assert_eq!(permalink(&noise, false), None);
    }

    #[test]
    fn alignment_is_strict_and_relaxed() {
        assert_eq!(aligned("example.com", "EXAMPLE.com"), (true, true));
        assert_eq!(aligned("example.com", "mail.example.com"), (false, true));
        assert_eq!(aligned("example.co.uk", "other.co.uk"), (false, false));
    }
}
