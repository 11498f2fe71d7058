//! The pages (issue 13): server-rendered HTML, autoescaped by maud, in the language the
//! reader asked for (`?lang=`, then the `monban_lang` cookie, then `Accept-Language`),
//! usable without JavaScript. Forms that send data are protected against cross-site
//! requests by a token bound to a cookie (double submit) and by the `Origin` check.

pub mod analyze;
pub mod check;
pub mod reports;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use monban_diag::i18n::{Catalog, Lang, catalog};

/// The stylesheet and the small script, embedded.
pub const CSS: &str = include_str!("../../static/monban.css");
/// See [`CSS`].
pub const JS: &str = include_str!("../../static/monban.js");
/// The icon.
pub const FAVICON: &str = include_str!("../../static/favicon.svg");

/// Which page is shown (for the navigation's `aria-current`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/`.
    Start,
    /// `/analyze`.
    Analyze,
    /// `/check`.
    Check,
    /// `/reports`.
    Reports,
}

impl Page {
    /// The page a path belongs to (for the menu of an error page).
    pub fn of_path(path: &str) -> Self {
        if path.starts_with("/analyze") {
            Self::Analyze
        } else if path.starts_with("/check") {
            Self::Check
        } else if path.starts_with("/reports") {
            Self::Reports
        } else {
            Self::Start
        }
    }
}

/// What a page needs of the request: the language and the anti-forgery token.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The language chosen.
    pub lang: Lang,
    /// The token forms carry (the `monban_csrf` cookie's value).
    pub csrf: String,
    /// Whether the token is new (the cookie must be set).
    pub new_csrf: bool,
    /// Whether the language came from `?lang=` (the cookie is then set).
    pub lang_chosen: bool,
    /// The path and query of the request, for the language switch.
    pub here: String,
    /// Whether the browser reached us over HTTPS through a proxy (`X-Forwarded-Proto:
    /// https`, or `proto=https` in `Forwarded`, RFC 7239 §5.4): the cookies are then
    /// `Secure`. Trusting the header costs nothing: a request that lies about it only
    /// gets cookies its own browser will not send back over plain HTTP.
    pub secure: bool,
}

impl Ctx {
    /// The catalogue of the chosen language.
    pub fn t(&self) -> &'static Catalog {
        catalog(self.lang)
    }

    /// Reads the language and the token from a request.
    pub fn from_request(headers: &HeaderMap, path: &str, query: Option<&str>) -> Ctx {
        let params = crate::params(query).unwrap_or_default();
        let asked = crate::one(&params, "lang")
            .and_then(Lang::parse)
            .or_else(|| crate::lang_in(query));
        let from_cookie = cookie(headers, "monban_lang").and_then(Lang::parse);
        let from_header = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept_language);
        let lang = asked.or(from_cookie).or(from_header).unwrap_or_default();
        let (csrf, new_csrf) = match cookie(headers, "monban_csrf").filter(|c| valid_token(c)) {
            Some(c) => (c.to_owned(), false),
            None => (new_token(), true),
        };
        // The switch keeps the other parameters, without `lang`.
        let rest: Vec<String> = params
            .iter()
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let here = if rest.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", rest.join("&"))
        };
        Ctx {
            lang,
            csrf,
            new_csrf,
            lang_chosen: asked.is_some(),
            here,
            secure: behind_https(headers),
        }
    }

    /// The link that shows this page in `lang`.
    fn switch_to(&self, lang: Lang) -> String {
        let sep = if self.here.contains('?') { '&' } else { '?' };
        format!("{}{sep}lang={}", self.here, lang.code())
    }
}

/// A cookie's value from the `Cookie` fields.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn valid_token(t: &str) -> bool {
    t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// 128 random bits, in hex.
fn new_token() -> String {
    let mut b = [0u8; 16];
    // A failing system random source leaves no safe token: the form is then refused
    // (the all-zero token is never accepted, see `csrf_ok`).
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return "0".repeat(32);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether a form post may be served: from a browser, the form's token matches the
/// cookie and `Origin` names the `Host` it was sent to; a client that is no browser
/// (no `Origin`, no `Sec-Fetch-Site`, no cookie: `curl -F message=@m.eml`) needs no
/// token, since forgery needs a victim's browser, and browsers send `Origin` and
/// `Sec-Fetch-Site` on every cross-site post.
pub fn csrf_ok(headers: &HeaderMap, form_token: &str) -> bool {
    let browser = headers.contains_key(header::ORIGIN)
        || headers.contains_key("sec-fetch-site")
        || headers.contains_key(header::COOKIE);
    if !browser {
        return true;
    }
    let Some(cookie) = cookie(headers, "monban_csrf") else {
        return false;
    };
    if !valid_token(cookie) || cookie.bytes().all(|b| b == b'0') {
        return false;
    }
    // Constant time is not needed against a token the attacker cannot read, but costs
    // nothing.
    let same = cookie.len() == form_token.len()
        && cookie
            .bytes()
            .zip(form_token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return false;
    }
    !foreign_origin(headers)
}

/// Whether the request has an `Origin` that does not name the `Host` it was sent to.
fn foreign_origin(headers: &HeaderMap) -> bool {
    headers.get(header::ORIGIN).is_some_and(|o| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin = o.to_str().unwrap_or("");
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        bare != Some(host)
    })
}

/// Whether a request comes from a page of another site, by what browsers send with
/// every cross-site request: `Sec-Fetch-Site` other than `same-origin` or `none`, or an
/// `Origin` that does not name the `Host` it was sent to. A client that is no browser
/// sends neither and is not "cross-site".
pub fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !matches!(v, "same-origin" | "none"));
    fetch_site || foreign_origin(headers)
}

/// `%`-encodes a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A whole page: the frame (navigation, language switch) around `body`.
pub fn layout(ctx: &Ctx, page: Page, title: &str, body: Markup) -> Markup {
    let t = ctx.t();
    let nav = [
        (Page::Analyze, "/analyze", "nav-analyze"),
        (Page::Check, "/check", "nav-check"),
        (Page::Reports, "/reports", "nav-reports"),
    ];
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — monban" }
                link rel="stylesheet" href="/static/monban.css";
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
                script src="/static/monban.js" defer {}
            }
            body {
                a.skip href="#main" { (t.get("skip-to-content")) }
                header.top {
                    a.brand href="/" { "monban 門番" }
                    nav aria-label=(t.get("nav-label")) {
                        ul {
                            @for (p, href, id) in nav {
                                li {
                                    @if p == page {
                                        a href=(href) aria-current="page" { (t.get(id)) }
                                    } @else {
                                        a href=(href) { (t.get(id)) }
                                    }
                                }
                            }
                        }
                    }
                    div.langs role="group" aria-label=(t.get("language")) {
                        @for l in Lang::ALL {
                            @if l == ctx.lang {
                                span lang=(l.code()) aria-current="true" { strong { (l.name()) } }
                            } @else {
                                a href=(ctx.switch_to(l)) lang=(l.code()) hreflang=(l.code()) { (l.name()) }
                            }
                        }
                    }
                }
                main #main { (body) }
                footer { (t.get("footer")) }
            }
        }
    }
}

/// Whether a proxy says the browser's request came over HTTPS (the first proxy's word,
/// as each appends its own).
fn behind_https(headers: &HeaderMap) -> bool {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    first("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"))
        || first("forwarded").is_some_and(|f| {
            f.split(';').any(|pair| {
                pair.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        })
}

/// A rendered page with the characters that would change what a reader sees made
/// visible: control characters but line ends and tabs, and the bidirectional
/// formatting characters (an org name with U+202E showed "evil" as "live") become
/// U+FFFD, as the CLI shows them ([`monban::text::for_terminal`]). The pages' own text
/// has none, so only what came from outside (reports, headers, DNS) changes.
fn shown(html: String) -> String {
    let bad = |c: char| {
        (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            || c == '\u{061C}'
            || monban::text::is_bidi_format(c)
    };
    if !html.contains(bad) {
        return html;
    }
    // A form's text area keeps what the reader gave (the analyzer's message, sent
    // again as it was): its content cannot hold `</textarea>` (maud escapes `<`).
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(start) = rest.find("<textarea") {
        let end = rest[start..]
            .find("</textarea>")
            .map_or(rest.len(), |e| start + e);
        out.extend(
            rest[..start]
                .chars()
                .map(|c| if bad(c) { '\u{FFFD}' } else { c }),
        );
        out.push_str(&rest[start..end]);
        rest = &rest[end..];
    }
    out.extend(rest.chars().map(|c| if bad(c) { '\u{FFFD}' } else { c }));
    out
}

/// An HTML answer with the cookies the context needs.
pub fn respond(ctx: &Ctx, status: StatusCode, page: Markup) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        shown(page.into_string()),
    )
        .into_response();
    if ctx.new_csrf
        && let Ok(v) = HeaderValue::from_str(&format!(
            "monban_csrf={}; Path=/; HttpOnly; SameSite=Strict{}",
            ctx.csrf,
            if ctx.secure { "; Secure" } else { "" }
        ))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    if ctx.lang_chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "monban_lang={}; Path=/; SameSite=Lax; Max-Age=31536000{}",
            ctx.lang.code(),
            if ctx.secure { "; Secure" } else { "" }
        ))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// An error page.
pub fn error_page(ctx: &Ctx, page: Page, status: StatusCode, why: &str) -> Response {
    let t = ctx.t();
    let title = t.get("error-title");
    let body = html! {
        h1 { (title) }
        p.error role="alert" { (why) }
        p { a href="/" { (t.get("back-to-start")) } }
    };
    respond(ctx, status, layout(ctx, page, &title, body))
}

/// `/`: what monban's pages do, and the three ways in.
pub fn start(ctx: &Ctx) -> Response {
    let t = ctx.t();
    let body = html! {
        h1 { (t.get("start-title")) }
        p { (t.get("start-intro")) }
        div.grid {
            section {
                h2 { a href="/analyze" { (t.get("nav-analyze")) } }
                p { (t.get("start-analyze")) }
            }
            section {
                h2 { a href="/check" { (t.get("nav-check")) } }
                p { (t.get("start-check")) }
                form method="get" action="/check" {
                    div.field {
                        label for="start-domain" { (t.get("check-domain-label")) }
                        " "
                        input #start-domain type="text" name="domain" autocomplete="off" spellcheck="false" placeholder="example.com";
                    }
                    button type="submit" { (t.get("check-submit")) }
                }
            }
            section {
                h2 { a href="/reports" { (t.get("nav-reports")) } }
                p { (t.get("start-reports")) }
            }
        }
        p.note { (t.get("start-privacy")) }
    };
    respond(
        ctx,
        StatusCode::OK,
        layout(ctx, Page::Start, &t.get("start-title"), body),
    )
}

/// A light: a coloured word, never colour alone.
pub fn light(t: &Catalog, severity: &str) -> Markup {
    let class = match severity {
        "green" | "yellow" | "red" => severity,
        _ => "grey",
    };
    html! { span class={"light " (class)} { (t.get(&format!("light-{class}"))) } }
}

/// A pre-formatted block with a copy button (added by the script).
pub fn copyable(t: &Catalog, text: &str) -> Markup {
    html! {
        pre data-copy=(t.get("copy")) data-copied=(t.get("copied")) { (text) }
    }
}

/// Text for a duration in seconds (its absolute value): `42 s`, `3 min 5 s`, `2 h`.
pub fn duration(t: &Catalog, secs: i64) -> String {
    monban_diag::i18n::duration(secs.abs()).text(t.lang())
}

/// Marks a percentage of `part` in `whole` (one decimal).
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "—".into();
    }
    format!("{:.1} %", part as f64 * 100.0 / whole as f64)
}

/// A raw string known to be safe markup (used only for our own SVG numbers).
pub fn raw(s: String) -> PreEscaped<String> {
    PreEscaped(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What came from outside cannot reorder or hide text on a page: bidirectional
    /// formatting and control characters are shown as U+FFFD; line ends and tabs stay.
    #[test]
    fn pages_show_bidi_and_control_characters_as_replacements() {
        let org = "Bidi \u{202e}evil\u{202c} org \u{1b}[31m\u{9b}";
        let page = html! { p { (org) } pre { "a\tb\r\nc" } textarea { (org) } p { (org) } };
        let r = respond(
            &Ctx::from_request(&HeaderMap::new(), "/", None),
            StatusCode::OK,
            page,
        );
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(r.into_body(), 1 << 20))
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains("Bidi \u{FFFD}evil\u{FFFD} org \u{FFFD}[31m\u{FFFD}"),
            "{body}"
        );
        assert!(body.contains("a\tb\r\nc"), "{body}");
        // A text area gives back what it was given.
        assert!(
            body.contains(&format!("<textarea>{org}</textarea>")),
            "{body}"
        );
        assert_eq!(body.matches("Bidi \u{FFFD}evil").count(), 2, "{body}");
    }

    #[test]
    fn csrf_needs_the_cookie_the_token_and_this_origin() {
        let mut h = HeaderMap::new();
        let token = "0123456789abcdef0123456789abcdef";
        assert!(
            csrf_ok(&h, ""),
            "no browser (no Origin, Sec-Fetch-Site or cookie)"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!csrf_ok(&h, token), "a browser, no cookie");
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(
            !csrf_ok(&h, token),
            "a browser that sent no Origin, no cookie"
        );
        h.remove("sec-fetch-site");
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; monban_csrf={token}")).unwrap(),
        );
        assert!(csrf_ok(&h, token));
        assert!(!csrf_ok(&h, "0123456789abcdef0123456789abcdee"));
        assert!(!csrf_ok(&h, ""));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(csrf_ok(&h, token));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!csrf_ok(&h, token));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!csrf_ok(&h, token));
        let zero = "0".repeat(32);
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("monban_csrf={zero}")).unwrap(),
        );
        h.remove(header::ORIGIN);
        assert!(!csrf_ok(&h, &zero), "the token of a failed random source");
    }

    #[test]
    fn the_language_switch_keeps_the_query() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("ja-JP,ja;q=0.9"),
        );
        let c = Ctx::from_request(&h, "/check", Some("domain=a.example&lang=en"));
        assert_eq!(c.lang, Lang::En, "?lang= wins over Accept-Language");
        assert_eq!(c.switch_to(Lang::Ja), "/check?domain=a.example&lang=ja");
        let c = Ctx::from_request(&h, "/", None);
        assert_eq!(c.lang, Lang::Ja);
        assert!(c.new_csrf && valid_token(&c.csrf));
    }
}
