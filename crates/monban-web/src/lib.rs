//! monban's web server (DESIGN §4 "The web server", issue 13), first part: the JSON API
//! (verify, analyze, the domain checker, the report summary) and its OpenAPI document, each answer
//! the same JSON the CLI prints for the same input (the models and their wording are
//! shared: `monban_diag::check::CheckView` with `check::worded`, `monban_report::summary`).
//!
//! Hardening from the start: it listens on 127.0.0.1 unless told otherwise; request
//! bodies are bounded ([`Config::max_body`]); every request has a deadline
//! ([`Config::timeout`]) and a concurrency limit ([`Config::concurrency`]); every answer
//! carries `Content-Security-Policy: default-src 'self'` and the other headers that keep
//! a browser from running or framing what it did not ask for; errors are JSON
//! `{"error": "..."}` with a 4xx/5xx status, never a page of the server's internals.
//!
//! The pages ([`pages`]): `/` (start), `/analyze`, `/check`, `/reports`, in English and
//! Japanese, server-rendered and usable without JavaScript; the dashboard and its API
//! behind optional access control ([`access`]).

pub mod access;
pub mod dashboard;
pub mod pages;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use monban::dkim::DkimConfig;
use monban::dmarc::DmarcConfig;
use monban::message::{CrlfNormalizer, Headers, MessageSplitter, Split};
use monban::pipeline::{Envelope, MessageVerifier, VerifyConfig};
use monban::spf::SpfConfig;
use monban::view::VerifyView;
use monban_diag::analyze;
use monban_diag::check::{self, CheckOptions, CheckView};
use monban_dns::SharedResolver;
use monban_store::Store;
use std::net::SocketAddr;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest request body (a message: 25 MB by default).
    pub max_body: usize,
    /// How long one request may take.
    pub timeout: Duration,
    /// Requests handled at once at most (others wait, within the deadline).
    pub concurrency: usize,
    /// The `Host` names the server answers to, besides loopback names (`localhost`,
    /// `127.0.0.1`, `[::1]`) and its own listening address; `*` for any. Anything else
    /// gets 421: a page of another site that renamed itself to this address (DNS
    /// rebinding) cannot read the reports.
    pub allowed_hosts: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_body: 25 * 1024 * 1024,
            timeout: Duration::from_secs(60),
            concurrency: 64,
            allowed_hosts: Vec::new(),
        }
    }
}

/// Requests that ask DNS (a check, a verification, an analysis) one client may have
/// under way at once; more get 429. Loopback clients (a reverse proxy on the host, whose
/// clients all come from its address) are not counted.
pub const DNS_REQUESTS_PER_CLIENT: usize = 4;

/// How long a connection may take to send a request head, at most (less when the
/// request timeout is shorter), and stay idle between requests.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request body (a message posted to verify or analyze) may take to arrive,
/// at most (less when the request timeout is shorter). It is read whole before the
/// request takes a turn to ask DNS: a body sent a few bytes at a time no longer holds a
/// turn (70 such uploads held every DNS turn for the request timeout, and the checker
/// answered nobody). Past it: 408.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The bytes of request bodies held at once, over every request, while they arrive
/// ([`BODY_TIMEOUT`]) and until their request is answered: reading a body before the
/// request takes a turn would otherwise let 512 connections hold `--max-body` each
/// (25 MB: 12.8 GB). A body whose next bytes find the budget spent waits for room,
/// within its time.
pub const BODY_BUDGET: usize = 256 * 1024 * 1024;

/// Connections open at once, at most: past it, a new connection is closed at once.
pub const MAX_CONNECTIONS: usize = 512;

/// Connections open at once from one client (one IPv4 address, one IPv6 /64), at most;
/// loopback clients (a reverse proxy on the host) count only towards
/// [`MAX_CONNECTIONS`].
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 32;

/// Who a peer is, for the per-client bounds: its IPv4 address, or its IPv6 /64 (one
/// host is given a whole /64 and may use any address in it); `None` for loopback,
/// which is not bounded per client.
fn client_of(ip: std::net::IpAddr) -> Option<std::net::IpAddr> {
    let net = network_of(ip);
    (!net.is_loopback()).then_some(net)
}

/// The network a peer speaks for: its IPv4 address (also when written IPv4-mapped), or
/// the /64 of its IPv6 address.
pub(crate) fn network_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None if v6.is_loopback() => ip,
            None => std::net::IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// Counts of what each client holds (connections, requests under way), bounded per
/// client; a [`Held`] gives its count back when dropped.
#[derive(Default)]
struct PerClient {
    counts: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

struct Held {
    of: Arc<PerClient>,
    client: std::net::IpAddr,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = self.of.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

impl PerClient {
    /// One more for `client`, unless it holds `max` already.
    fn take(self: &Arc<Self>, client: std::net::IpAddr, max: usize) -> Option<Held> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(client).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Held {
            of: self.clone(),
            client,
        })
    }
}

/// What the handlers share.
pub struct AppState {
    /// DNS, as the CLI's DNS flags give it.
    pub resolver: SharedResolver,
    /// The authserv-id of monban's own results (the CLI's default: the host name).
    pub authserv_id: String,
    /// The store (reports), or why there is none.
    pub store: Result<Arc<dyn Store>, String>,
    /// The largest header the analyzer page takes (1 MB by default); the whole message
    /// is bounded by [`Config::max_body`].
    pub max_header: usize,
    /// The authserv-ids whose recorded results the analyzer trusts (this server's own
    /// and those configured); any other is shown as claimed.
    pub trusted_ids: Vec<String>,
    /// Who may see the reports.
    pub access: access::Access,
    /// The dashboard's views, computed once per filter and store generation.
    pub dashboards: Arc<dashboard::Cache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store.as_ref().map(|_| "open"))
            .finish()
    }
}

/// The OpenAPI 3 description of the API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// A JSON answer as the CLI prints it (one line and a line break).
fn json(status: StatusCode, v: &serde_json::Value) -> Response {
    json_text(status, v.to_string())
}

fn json_text(status: StatusCode, mut body: String) -> Response {
    body.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn error(status: StatusCode, why: impl Into<String>) -> Response {
    json(status, &serde_json::json!({ "error": why.into() }))
}

/// The most query parameters of one request.
const MAX_PARAMS: usize = 100;

/// Why a query (or a form body) could not be read: a catalogue message, in English
/// for the API and in the reader's language on a page.
#[derive(Debug, Clone)]
pub struct QueryError(monban_diag::i18n::Msg);

impl QueryError {
    /// The reason in `lang`.
    pub fn text(&self, lang: monban_diag::i18n::Lang) -> String {
        self.0.text(lang)
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.text(monban_diag::i18n::Lang::En))
    }
}

impl From<QueryError> for String {
    fn from(e: QueryError) -> String {
        e.to_string()
    }
}

/// The query's parameters, decoded (`+` is a space; repeated names kept in order).
fn params(raw: Option<&str>) -> Result<Vec<(String, String)>, QueryError> {
    let mut out = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        // Refused rather than cut: a parameter past the bound (a late `ip=`) would
        // otherwise be judged without.
        if out.len() == MAX_PARAMS {
            return Err(QueryError(monban_diag::msg!(
                "query-too-many-params",
                most = MAX_PARAMS
            )));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

/// An API path's query: [`params`], with each name checked against the ones the path
/// takes (`takes`, of which `repeatable` may come more than once). An unknown name is
/// refused rather than ignored: a script's misspelt `ipp=` would otherwise get a verdict
/// judged without the client's address (SPF `none`) and never know; a name taken once
/// and given twice is refused too, as nothing says which of the two was meant. Pages
/// keep ignoring what they do not know (a link may carry a tracking parameter).
fn api_params(
    raw: Option<&str>,
    takes: &[&str],
    repeatable: &[&str],
) -> Result<Params, QueryError> {
    let out = params(raw)?;
    for (i, (name, _)) in out.iter().enumerate() {
        if !takes.contains(&name.as_str()) {
            return Err(QueryError(monban_diag::msg!(
                "query-unknown-param",
                name = shown(name),
                takes = takes.join(", ")
            )));
        }
        if !repeatable.contains(&name.as_str()) && out[..i].iter().any(|(k, _)| k == name) {
            return Err(QueryError(monban_diag::msg!(
                "query-repeated-param",
                name = name.as_str()
            )));
        }
    }
    Ok(out)
}

/// A name from a request as an error message shows it: in quotes (an empty name, or
/// one ending in a space, stays visible), its first 40 characters with control
/// characters and quotes escaped, so that the message stays one line.
fn shown(name: &str) -> String {
    let mut out = String::from("\"");
    out.extend(name.chars().take(40).flat_map(char::escape_debug));
    if name.chars().nth(40).is_some() {
        out.push('…');
    }
    out.push('"');
    out
}

fn decode(s: &str) -> Result<String, QueryError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(QueryError(monban_diag::msg!("query-bad-escape")))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| QueryError(monban_diag::msg!("query-not-utf8")))
}

/// The `lang` of a query that may not read as a whole (a bad escape elsewhere): the
/// error page is then still in the language asked for.
fn lang_in(raw: Option<&str>) -> Option<monban_diag::i18n::Lang> {
    raw?.split('&')
        .filter_map(|pair| pair.strip_prefix("lang="))
        .find_map(monban_diag::i18n::Lang::parse)
}

/// A boolean parameter as the OpenAPI document has it: absent, `true`/`1` or
/// `false`/`0`; anything else is an error naming it.
fn flag(params: &[(String, String)], name: &str) -> Result<bool, String> {
    match one(params, name) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(format!(
            "{name} {:?}: expected true or false",
            other.chars().take(40).collect::<String>()
        )),
    }
}

fn one<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The selectors of a request: [`monban_diag::check::selectors_argument`].
fn selectors_ok(selectors: &[String]) -> Result<(), monban_diag::i18n::Msg> {
    monban_diag::check::selectors_argument(selectors)
}

/// `GET /api/v1/check/{domain}?selector=S` (repeatable): `monban check --json`.
async fn check_domain(
    State(state): State<Arc<AppState>>,
    Path(domain): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match api_params(query.as_deref(), &["selector", "discover"], &["selector"]) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let domain = match check::domain_argument("domain", &domain) {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let selectors: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "selector")
        .map(|(_, v)| v.clone())
        .collect();
    if let Err(e) = selectors_ok(&selectors) {
        return error(StatusCode::BAD_REQUEST, e.text(monban_diag::i18n::Lang::En));
    }
    let discover = match flag(&params, "discover") {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let options = CheckOptions {
        selectors,
        discover,
        sending: None,
        now: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        dnsbl: Vec::new(),
        private_key: None,
    };
    let report = check::check(&state.resolver, &domain, &options).await;
    match serde_json::to_value(CheckView::new(&report, check::worded)) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/v1/reports/summary?domain=D&since=...&until=...`: `monban report summary
/// --json`.
async fn reports_summary(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refusal) = state.access.check(&headers, peer.ip()).await {
        return refusal.json();
    }
    let params = match api_params(query.as_deref(), &["domain", "since", "until"], &[]) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let filter = match monban_report::summary::filter(
        one(&params, "domain"),
        one(&params, "since"),
        one(&params, "until"),
        |n| n.to_string(),
    ) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let store = match &state.store {
        Ok(s) => s,
        Err(why) => return error(StatusCode::SERVICE_UNAVAILABLE, why.clone()),
    };
    // The dashboard's view of the same filter (with reverse DNS, as the CLI's
    // default): computed once per store generation.
    let key = dashboard::Key {
        domain: filter.domain.clone(),
        since: filter.since,
        until: filter.until,
        rdns: true,
    };
    match state
        .dashboards
        .get(store.clone(), &state.resolver, &key)
        .await
    {
        // Serialized as the CLI does it (fields in the model's order).
        Ok(view) => match serde_json::to_string(&view.summary) {
            Ok(text) => json_text(StatusCode::OK, text),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The header and body (CRLF form) of one message; `None` for an empty body.
fn split_message(body: &[u8]) -> Result<Option<(Headers, Vec<u8>)>, String> {
    if body.is_empty() {
        return Ok(None);
    }
    let mut normalized = Vec::with_capacity(body.len() + body.len() / 32);
    CrlfNormalizer::new().normalize(body, &mut normalized);
    let mut splitter = MessageSplitter::new();
    let bad = |e: monban::message::HeaderError| e.to_string();
    Ok(Some(match splitter.push(&normalized).map_err(bad)? {
        Split::HeaderDone(h, rest) => (h, rest.to_vec()),
        _ => (
            splitter.finish().map_err(bad)?.unwrap_or_default(),
            Vec::new(),
        ),
    }))
}

/// `POST /api/v1/verify?ip=IP&helo=H&mail_from=A` (body: the raw message): `monban
/// verify --json` of the message on standard input.
async fn verify(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let params = match api_params(query.as_deref(), &["ip", "helo", "mail_from"], &[]) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let envelope = match Envelope::from_user(
        one(&params, "ip"),
        one(&params, "helo"),
        one(&params, "mail_from"),
        |n| n.to_string(),
    ) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "no message (the body is empty)");
    }
    let authserv_id = state.authserv_id.clone();
    let config = VerifyConfig {
        spf: SpfConfig {
            receiver: authserv_id.clone(),
            ..SpfConfig::default()
        },
        dkim: DkimConfig {
            max_signatures: 5,
            ..DkimConfig::default()
        },
        dmarc: DmarcConfig::default(),
        ..VerifyConfig::default()
    };
    let mut verifier = MessageVerifier::new(envelope.clone(), config, now());
    let mut normalizer = CrlfNormalizer::new();
    let mut buf = Vec::new();
    // As the CLI streams it: a header over its limits stops the reading and the verdict
    // says why.
    for chunk in body.chunks(64 * 1024) {
        if verifier.push(normalizer.apply(chunk, &mut buf)).is_err() {
            break;
        }
    }
    let report = verifier.finish(&state.resolver).await;
    // Straight to text, as the CLI writes it (the view's field order).
    match serde_json::to_string(&VerifyView::new(
        &report,
        &authserv_id,
        Some("-"),
        &envelope,
    )) {
        Ok(text) => json_text(StatusCode::OK, text),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// monban's own verification added to an analysis, as `monban analyze --verify`.
async fn verify_analysis(
    state: &AppState,
    analysis: &mut analyze::Analysis,
    headers: &Headers,
    body: &[u8],
) {
    let config = VerifyConfig {
        spf: SpfConfig {
            receiver: state.authserv_id.clone(),
            ..SpfConfig::default()
        },
        dkim: DkimConfig::default(),
        ..VerifyConfig::default()
    };
    analyze::verify(
        analysis,
        headers,
        body,
        None,
        config,
        now(),
        &state.authserv_id,
        &state.resolver,
    )
    .await;
}

/// `POST /api/v1/analyze?verify=true` (body: the raw message or header): `monban
/// analyze --json [--verify]` of the message on standard input.
async fn analyze_message(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let params = match api_params(query.as_deref(), &["verify"], &[]) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let (headers, rest) = match split_message(&body) {
        Ok(Some(m)) => m,
        Ok(None) => return error(StatusCode::BAD_REQUEST, "-: no message"),
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("-: {e}")),
    };
    let mut analysis = analyze::analyze(&headers, Some(&rest));
    let wanted = match flag(&params, "verify") {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if wanted {
        verify_analysis(&state, &mut analysis, &headers, &rest).await;
    }
    let mut v = match serde_json::to_value(&analysis) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    v["file"] = serde_json::Value::String("-".into());
    // Printed as the CLI prints it (indented).
    match serde_json::to_string_pretty(&v) {
        Ok(text) => json_text(StatusCode::OK, text),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        OPENAPI,
    )
        .into_response()
}

async fn not_found(headers: HeaderMap, uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return error(StatusCode::NOT_FOUND, "no such page or API path");
    }
    let ctx = pages::Ctx::from_request(&headers, "/", None);
    pages::error_page(
        &ctx,
        pages::Page::Start,
        StatusCode::NOT_FOUND,
        &ctx.t().get("not-found"),
    )
}

/// A query's parameters, decoded, in order.
type Params = Vec<(String, String)>;

/// A page's context and parameters; a query that cannot be read is an error page.
fn page_ctx(headers: &HeaderMap, uri: &Uri) -> Result<(pages::Ctx, Params), Box<Response>> {
    let ctx = pages::Ctx::from_request(headers, uri.path(), uri.query());
    match params(uri.query()) {
        Ok(p) => Ok((ctx, p)),
        Err(e) => Err(Box::new(pages::error_page(
            &ctx,
            pages::Page::Start,
            StatusCode::BAD_REQUEST,
            &e.text(ctx.lang),
        ))),
    }
}

async fn start_page(headers: HeaderMap, uri: Uri) -> Response {
    match page_ctx(&headers, &uri) {
        Ok((ctx, _)) => pages::start(&ctx),
        Err(r) => *r,
    }
}

async fn analyze_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (ctx, p) = match page_ctx(&headers, &uri) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    pages::analyze::get(state, ctx, p).await
}

async fn analyze_post(State(state): State<Arc<AppState>>, req: axum::extract::Request) -> Response {
    let headers = req.headers().clone();
    let uri = req.uri().clone();
    let (ctx, _) = match page_ctx(&headers, &uri) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    pages::analyze::post(state, ctx, &headers, req).await
}

async fn check_page(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Response {
    let (ctx, p) = match page_ctx(&headers, &uri) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    pages::check::page(state, ctx, p).await
}

/// A report page's context, once the access rule lets the request through.
async fn report_ctx(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(pages::Ctx, Params), Box<Response>> {
    if let Err(refusal) = state.access.check(headers, peer.ip()).await {
        let ctx = pages::Ctx::from_request(headers, uri.path(), uri.query());
        return Err(Box::new(refusal.page(&ctx)));
    }
    page_ctx(headers, uri)
}

async fn reports_list(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (ctx, p) = match report_ctx(&state, peer, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    pages::reports::list(state, ctx, p).await
}

async fn report_page(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (ctx, _) = match report_ctx(&state, peer, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    pages::reports::report(state, ctx, &id).await
}

async fn report_raw(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = state.access.check(&headers, peer.ip()).await {
        return refusal.json();
    }
    pages::reports::raw(state, &id).await
}

async fn reports_page(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (ctx, p) = match report_ctx(&state, peer, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    pages::reports::page(state, ctx, p).await
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", pages::CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", pages::JS)
}

async fn favicon() -> Response {
    asset("image/svg+xml", pages::FAVICON)
}

/// The application: routes, limits and headers.
pub fn router(state: Arc<AppState>, config: &Config) -> Router {
    use tower::ServiceBuilder;
    let max_body = config.max_body;
    use tower_http::set_header::SetResponseHeaderLayer;
    let headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            // Not no-referrer: with it, browsers send `Origin: null` on the pages' own
            // form posts, and the forgery check could not tell them from a sandboxed
            // frame's. Nothing is sent to other hosts either way: no page links out.
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let timeout = config.timeout;
    let allowed = Arc::new(config.allowed_hosts.clone());
    // One semaphore for the whole server: `Router::layer` wraps each route (and each
    // method) on its own, so tower's `ConcurrencyLimitLayer` there would give every
    // route its own `--concurrency` turns, not the server.
    let concurrency = config.concurrency.min(tokio::sync::Semaphore::MAX_PERMITS);
    let turns = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let dns_turns = Arc::new(tokio::sync::Semaphore::new(
        (concurrency - concurrency / 4).max(1),
    ));
    let clients = Arc::new(PerClient::default());
    let bodies = Arc::new(tokio::sync::Semaphore::new(BODY_BUDGET));
    Router::new()
        .route("/api/v1/verify", post(verify))
        .route("/api/v1/analyze", post(analyze_message))
        .route("/api/v1/check/{domain}", get(check_domain))
        .route("/api/v1/reports/summary", get(reports_summary))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/", get(start_page))
        .route("/analyze", get(analyze_form).post(analyze_post))
        .route("/check", get(check_page))
        .route("/reports", get(reports_page))
        .route("/reports/list", get(reports_list))
        .route("/reports/report/{id}", get(report_page))
        .route("/reports/report/{id}/raw", get(report_raw))
        .route("/static/monban.css", get(css))
        .route("/static/monban.js", get(js))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
        .fallback(not_found)
        // The bound is ours (--max-body), not the extractor's default of 2 MB.
        .layer(axum::extract::DefaultBodyLimit::max(config.max_body))
        .with_state(state)
        // The deadline is outside the concurrency limit: waiting for a turn counts.
        .layer(axum::middleware::from_fn(move |req, next| {
            one_turn(req, next, turns.clone())
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            dns_turn(
                req,
                next,
                dns_turns.clone(),
                clients.clone(),
                bodies.clone(),
                max_body,
            )
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            deadline(req, next, timeout)
        }))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            config.max_body,
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            errors_as_json_or_pages(req, next, max_body)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            host_check(req, next, allowed.clone())
        }))
        .layer(headers)
}

/// Whether `host` (a `Host` value, with or without port) is one the server answers to.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        // [::1]:8080
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1")
        || allowed
            .iter()
            .any(|a| a == "*" || a.trim_end_matches('.').eq_ignore_ascii_case(&name))
}

/// Refuses requests for a `Host` the server is not (421 Misdirected Request), and
/// requests with more than one `Host` field (400: RFC 9112 §3.2 says to). The name of
/// an absolute-form request (`GET http://name/...`) must be allowed too: RFC 9112
/// §3.2.2 has it replace `Host`.
async fn host_check(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    allowed: Arc<Vec<String>>,
) -> Response {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next().map(|h| h.to_str().unwrap_or("\u{0}"));
    if hosts.next().is_some() {
        return error(StatusCode::BAD_REQUEST, "more than one Host header field");
    }
    let authority = req.uri().authority().map(|a| a.as_str());
    let named: Vec<&str> = host.into_iter().chain(authority).collect();
    // No name at all (HTTP/1.0, a bare health check) is let in by `--allow-host '*'`
    // alone, as before.
    let ok = if named.is_empty() {
        allowed.iter().any(|a| a == "*")
    } else {
        named.iter().all(|h| host_allowed(h, &allowed))
    };
    if ok {
        next.run(req).await
    } else {
        error(
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not answer to that host name (monban serve --allow-host NAME)",
        )
    }
}

/// Whether a path is one of the fixed files (style, script, icon, the API's
/// description): answered at once from memory, so never made to wait for a turn behind
/// requests that wait on DNS.
fn is_fixed_file(path: &str) -> bool {
    path.starts_with("/static/") || path == "/favicon.ico" || path == "/api/v1/openapi.json"
}

/// Whether a request may ask DNS: every POST (verify, analyze), the checker's API, and
/// the pages that take parameters (the checker given a domain, a permalink verified,
/// the dashboard with reverse DNS). A page without a query (the start page, the forms,
/// the dashboard's default view) asks none. Whether a query holds `domain=` is not
/// looked at: its keys may be %-escaped.
fn asks_dns(req: &axum::extract::Request) -> bool {
    let path = req.uri().path();
    let query = req.uri().query().is_some_and(|q| !q.is_empty());
    req.method() == axum::http::Method::POST
        || path.starts_with("/api/v1/check/")
        || (query
            && (matches!(path, "/check" | "/analyze" | "/api/v1/reports/summary")
                || path.starts_with("/reports")))
}

/// The bounds on requests that ask DNS, which a slow or hostile DNS server can hold for
/// the whole request timeout: at most [`DNS_REQUESTS_PER_CLIENT`] from one client at
/// once (429 past it), and at most three quarters of [`Config::concurrency`] in all,
/// so that the other pages (the start page, the dashboard) always find a turn.
async fn dns_turn(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    turns: Arc<tokio::sync::Semaphore>,
    clients: Arc<PerClient>,
    bodies: Arc<tokio::sync::Semaphore>,
    max_body: usize,
) -> Response {
    if !asks_dns(&req) {
        return next.run(req).await;
    }
    // A page of another site may not make a visitor's browser post to the API (a
    // "simple" cross-site POST needs no preflight: its answer is unreadable there, but
    // the server did the work, DNS included). The pages' form has its own token check.
    if req.method() == axum::http::Method::POST
        && req.uri().path().starts_with("/api/")
        && pages::cross_site(req.headers())
    {
        return error(
            StatusCode::FORBIDDEN,
            "cross-site requests to the API are refused (Origin or Sec-Fetch-Site names another site)",
        );
    }
    // The body first, under its own time ([`BODY_TIMEOUT`]), holding no turn but its
    // bytes' share of [`BODY_BUDGET`] (kept until the answer).
    let mut _bytes_held = None;
    let req = if req.method() == axum::http::Method::POST {
        let (parts, body) = req.into_parts();
        match tokio::time::timeout(BODY_TIMEOUT, read_body(body, &bodies)).await {
            Ok(Ok((bytes, held))) => {
                _bytes_held = held;
                axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))
            }
            Ok(Err(e)) => {
                // The limit of `RequestBodyLimitLayer`, somewhere in the error's chain.
                let too_large =
                    std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                        e.source()
                    })
                    .any(|e| e.is::<http_body_util::LengthLimitError>());
                return if too_large {
                    error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the request body is larger than {max_body} bytes (monban serve --max-body)"
                        ),
                    )
                } else {
                    error(
                        StatusCode::BAD_REQUEST,
                        format!("the request body could not be read: {e}"),
                    )
                };
            }
            Err(_) => {
                return error(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_TIMEOUT.as_secs()
                    ),
                );
            }
        }
    } else {
        req
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let _held = match peer.and_then(client_of) {
        None => None,
        Some(client) => match clients.take(client, DNS_REQUESTS_PER_CLIENT) {
            Some(held) => Some(held),
            None => {
                let why = |lang| {
                    monban_diag::msg!("too-many-at-once", most = DNS_REQUESTS_PER_CLIENT).text(lang)
                };
                return if req.uri().path().starts_with("/api/") {
                    let mut r = error(
                        StatusCode::TOO_MANY_REQUESTS,
                        why(monban_diag::i18n::Lang::En),
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    r
                } else {
                    let ctx = pages::Ctx::from_request(
                        req.headers(),
                        req.uri().path(),
                        req.uri().query(),
                    );
                    let text = why(ctx.lang);
                    let mut r = pages::error_page(
                        &ctx,
                        pages::Page::of_path(req.uri().path()),
                        StatusCode::TOO_MANY_REQUESTS,
                        &text,
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    r
                };
            }
        },
    };
    match turns.acquire_owned().await {
        Ok(_turn) => next.run(req).await,
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping"),
    }
}

/// A request body, whole, each piece taking its bytes from `budget` as it arrives
/// ([`BODY_BUDGET`]); the bytes and what they hold of the budget.
async fn read_body(
    body: axum::body::Body,
    budget: &Arc<tokio::sync::Semaphore>,
) -> Result<(Vec<u8>, Option<tokio::sync::OwnedSemaphorePermit>), axum::Error> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut bytes = Vec::new();
    let mut held: Option<tokio::sync::OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        // A piece larger than the whole budget could never be given room.
        let n = u32::try_from(data.len().min(BODY_BUDGET)).unwrap_or(u32::MAX);
        let permit = budget
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(axum::Error::new)?;
        match held.as_mut() {
            Some(h) => h.merge(permit),
            None => held = Some(permit),
        }
        bytes.extend_from_slice(&data);
    }
    Ok((bytes, held))
}

/// At most [`Config::concurrency`] requests handled at once, over every route but the
/// fixed files ([`is_fixed_file`]): the others wait for a turn (within their deadline,
/// which is outside this).
async fn one_turn(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    turns: Arc<tokio::sync::Semaphore>,
) -> Response {
    if is_fixed_file(req.uri().path()) {
        return next.run(req).await;
    }
    match turns.acquire_owned().await {
        Ok(_turn) => next.run(req).await,
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping"),
    }
}

/// Every request within `timeout`: past it, 503, as a JSON error for the API and as an
/// error page, in the reader's language, for a page.
async fn deadline(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    timeout: Duration,
) -> Response {
    // What an error page needs, kept aside (its context is made only if it is needed).
    let page = (!req.uri().path().starts_with("/api/"))
        .then(|| (req.headers().clone(), req.uri().clone()));
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => match page {
            None => error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("no answer within {} s", timeout.as_secs()),
            ),
            Some((headers, uri)) => {
                let ctx = pages::Ctx::from_request(&headers, uri.path(), uri.query());
                let path = uri.path();
                let why = ctx.t().text(
                    "no-answer-in-time",
                    &[("seconds", timeout.as_secs().to_string().into())],
                );
                pages::error_page(
                    &ctx,
                    pages::Page::of_path(path),
                    StatusCode::SERVICE_UNAVAILABLE,
                    &why,
                )
            }
        },
    }
}

/// Every error the API answers is `{"error": "..."}` JSON, as documented, also those
/// made before a handler runs (a body over `--max-body`, a body that cannot be read, a
/// method the path does not take): their text (or the status's reason) becomes the
/// error, and the status is kept.
///
/// Such an error on a page (not under `/api/`) becomes an error page in the reader's
/// language instead of axum's plain English text.
async fn errors_as_json_or_pages(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    max_body: usize,
) -> Response {
    let api = req.uri().path().starts_with("/api/");
    // What an error page needs, kept aside (its context is made only if it is needed).
    let page = (!api).then(|| (req.headers().clone(), req.uri().clone()));
    let response = next.run(req).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ours = if api {
        content_type.starts_with("application/json")
    } else {
        content_type.starts_with("text/html")
    };
    if ours || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if let Some((headers, uri)) = page {
        let ctx = pages::Ctx::from_request(&headers, uri.path(), uri.query());
        let allow = response.headers().get(header::ALLOW).cloned();
        let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ctx.t()
                .text("request-too-large", &[("max", (max_body as u64).into())])
        } else {
            let reason = status.canonical_reason().unwrap_or("error");
            ctx.t().text(
                "request-refused",
                &[("status", format!("{} {reason}", status.as_u16()).into())],
            )
        };
        let mut out = pages::error_page(&ctx, pages::Page::of_path(uri.path()), status, &why);
        if let Some(allow) = allow {
            out.headers_mut().insert(header::ALLOW, allow);
        }
        return out;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    // The text of such an answer is short (axum's rejection messages).
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The body limit's own words ("length limit exceeded") name no limit.
        format!("the request body is larger than {max_body} bytes (monban serve --max-body)")
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut out = error(status, why);
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

/// Serves until `shutdown` completes. Each connection must send a whole request head
/// within `head_timeout` or [`HEAD_TIMEOUT`], whichever is shorter (a client that sends
/// its head slowly would otherwise hold a connection as long as it likes); the request
/// itself is then bound by the app's own timeout. At most [`MAX_CONNECTIONS`] are open
/// at once, [`MAX_CONNECTIONS_PER_CLIENT`] from one client: past either, a new
/// connection is closed at once, and the first refusal of a client is logged.
/// Connections still open at shutdown are let finish their request.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    head_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let head_timeout = head_timeout.min(HEAD_TIMEOUT);
    let open = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let clients = Arc::new(PerClient::default());
    let mut last_refusal: Option<(std::net::IpAddr, std::time::Instant)> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let held = match client_of(peer.ip()) {
            None => None,
            Some(client) => match clients.take(client, MAX_CONNECTIONS_PER_CLIENT) {
                Some(h) => Some(h),
                None => {
                    refused(&mut last_refusal, peer.ip(), "connections from one client");
                    continue;
                }
            },
        };
        let Ok(slot) = open.clone().try_acquire_owned() else {
            refused(&mut last_refusal, peer.ip(), "connections in all");
            continue;
        };
        let service =
            app.clone()
                .map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    req
                });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(head_timeout)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop((slot, held));
        });
    }
    drop(listener);
    // Requests under way get the app's own time to finish.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
    Ok(())
}

/// Logs refused connections: the first, then at most one line every 10 s, with how
/// many were refused meanwhile (a flood, from one address or many, is not logged line
/// by line).
fn refused(
    last: &mut Option<(std::net::IpAddr, std::time::Instant)>,
    ip: std::net::IpAddr,
    what: &str,
) {
    static SINCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::Instant::now();
    if last.is_some_and(|(_, when)| now.duration_since(when) < Duration::from_secs(10)) {
        SINCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return;
    }
    *last = Some((ip, now));
    let more = SINCE.swap(0, std::sync::atomic::Ordering::Relaxed);
    let more = if more > 0 {
        format!(" ({more} more refused in the last seconds)")
    } else {
        String::new()
    };
    tracing::warn!(client = %ip, "connection refused: too many {what}{more} (limits: {MAX_CONNECTIONS} in all, {MAX_CONNECTIONS_PER_CLIENT} per client)");
    // Not eprintln!, which panics when standard error cannot be written (a reader that
    // went away, a full disk).
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr().lock(),
        format_args!(
            "monban serve: closed a connection from {ip}: too many {what}{more} (at most {MAX_CONNECTIONS} in all, {MAX_CONNECTIONS_PER_CLIENT} per client)\n"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver whose answers never come: a DNS server that holds every request.
    struct Never;
    impl monban_dns::Resolver for Never {
        async fn lookup(&self, _: &str, _: monban_dns::RecordType) -> monban_dns::Lookup {
            std::future::pending().await
        }
    }

    /// Requests that wait on DNS are bounded per client (429 past
    /// [`DNS_REQUESTS_PER_CLIENT`], other clients and loopback unaffected), and never
    /// take every turn: the start page is served while the checker's turns are all held.
    /// A body takes its bytes from the budget while it is held and gives them back
    /// when dropped; one that finds the budget spent waits (here: past a short time).
    #[tokio::test]
    async fn bodies_hold_their_bytes_of_the_budget() {
        let budget = Arc::new(tokio::sync::Semaphore::new(10));
        let (bytes, held) = read_body(axum::body::Body::from("hello"), &budget)
            .await
            .unwrap();
        assert_eq!(bytes, b"hello");
        assert_eq!(budget.available_permits(), 5);
        let waiting = tokio::time::timeout(
            Duration::from_millis(200),
            read_body(axum::body::Body::from("0123456789"), &budget),
        )
        .await;
        assert!(waiting.is_err(), "no room: it waits");
        drop(held);
        assert_eq!(budget.available_permits(), 10);
        let (bytes, _held) = read_body(axum::body::Body::from("0123456789"), &budget)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 10);
        assert_eq!(budget.available_permits(), 0);
    }

    #[tokio::test]
    async fn requests_that_wait_on_dns_are_bounded() {
        use tower::ServiceExt as _;
        let state = Arc::new(AppState {
            resolver: SharedResolver::new(Never),
            authserv_id: "mx.test".into(),
            store: Err("none".into()),
            max_header: 1 << 20,
            trusted_ids: Vec::new(),
            access: access::Access::Open,
            dashboards: Arc::default(),
        });
        let config = Config {
            concurrency: 8,
            ..Config::default()
        };
        let app = router(state, &config);
        let send = |ip: &str, path: &str| {
            let req = axum::http::Request::get(path)
                .header(header::HOST, "127.0.0.1")
                .extension(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 1)))
                .body(axum::body::Body::empty())
                .unwrap();
            let app = app.clone();
            tokio::spawn(async move { app.oneshot(req).await.unwrap().status() })
        };
        let settle = || tokio::time::sleep(Duration::from_millis(50));
        let held: Vec<_> = (0..DNS_REQUESTS_PER_CLIENT)
            .map(|i| send("192.0.2.1", &format!("/api/v1/check/d{i}.example")))
            .collect();
        settle().await;
        assert!(held.iter().all(|h| !h.is_finished()));
        // One more from the same client, as an API call and as a page: refused at once.
        let more = send("192.0.2.1", "/api/v1/check/more.example");
        assert_eq!(more.await.unwrap(), StatusCode::TOO_MANY_REQUESTS);
        let page = send("192.0.2.1", "/check?domain=more.example");
        assert_eq!(page.await.unwrap(), StatusCode::TOO_MANY_REQUESTS);
        // A %-escaped key is the same parameter.
        let page = send("192.0.2.1", "/check?%64omain=more.example");
        assert_eq!(page.await.unwrap(), StatusCode::TOO_MANY_REQUESTS);
        // Another client, and loopback (a proxy's clients), are not refused; with the
        // 6 turns of 8 that DNS may take all held, they wait.
        let other = send("192.0.2.2", "/api/v1/check/other.example");
        let proxied: Vec<_> = (0..3)
            .map(|i| send("127.0.0.1", &format!("/api/v1/check/p{i}.example")))
            .collect();
        settle().await;
        assert!(!other.is_finished());
        assert!(proxied.iter().all(|h| !h.is_finished()));
        // The pages that ask no DNS still find a turn.
        assert_eq!(send("192.0.2.1", "/").await.unwrap(), StatusCode::OK);
        // The checker's form, without a domain, asks nothing either.
        assert_eq!(send("192.0.2.1", "/check").await.unwrap(), StatusCode::OK);
        for h in held.into_iter().chain(proxied).chain([other]) {
            h.abort();
        }
    }

    #[test]
    fn clients_are_addresses_and_ipv6_slash_64s() {
        let c = |s: &str| client_of(s.parse().unwrap());
        assert_eq!(c("127.0.0.1"), None);
        assert_eq!(c("::1"), None);
        assert_eq!(c("::ffff:127.0.0.1"), None);
        assert_eq!(c("192.0.2.7"), c("::ffff:192.0.2.7"));
        assert_ne!(c("192.0.2.7"), c("192.0.2.8"));
        assert_eq!(c("2001:db8:1:2::1"), c("2001:db8:1:2:ffff::9"));
        assert_ne!(c("2001:db8:1:2::1"), c("2001:db8:1:3::1"));
        let clients = Arc::new(PerClient::default());
        let ip = c("192.0.2.7").unwrap();
        let held: Vec<_> = (0..3).map(|_| clients.take(ip, 3).unwrap()).collect();
        assert!(clients.take(ip, 3).is_none());
        assert!(clients.take(c("192.0.2.8").unwrap(), 3).is_some());
        drop(held);
        assert!(clients.counts.lock().unwrap().is_empty());
        assert!(clients.take(ip, 3).is_some());
    }

    #[test]
    fn only_our_host_names_are_answered() {
        let none: Vec<String> = Vec::new();
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "localhost:1",
            "[::1]:8080",
            "LOCALHOST.",
        ] {
            assert!(host_allowed(ok, &none), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "",
            "127.0.0.1.evil.example",
        ] {
            assert!(!host_allowed(bad, &none), "{bad}");
        }
        let named = vec!["monban.example.org".to_string()];
        assert!(host_allowed("monban.example.org:443", &named));
        assert!(host_allowed("anything", &["*".to_string()]));
    }

    #[test]
    fn query_parameters() {
        let p = params(Some("selector=s1&selector=s%322&domain=a+b&x")).unwrap();
        assert_eq!(p[1], ("selector".into(), "s22".into()));
        assert_eq!(one(&p, "domain"), Some("a b"));
        assert_eq!(one(&p, "x"), Some(""));
        assert!(params(Some("a=%zz")).is_err());
        assert!(params(Some("a=%ff")).is_err(), "not UTF-8");
        // Refused past the bound, never cut (a late `ip=` would be lost).
        let mut q = "a=1&".repeat(MAX_PARAMS);
        assert_eq!(params(Some(&q)).unwrap().len(), MAX_PARAMS);
        q.push_str("ip=192.0.2.1");
        assert!(
            params(Some(&q))
                .unwrap_err()
                .to_string()
                .contains("too many")
        );
        // An API path refuses what it does not take, and a name it takes once given
        // twice; a repeatable name may repeat.
        let takes = ["ip", "helo", "mail_from"];
        let e = api_params(Some("ipp=192.0.2.1&helo=h"), &takes, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown query parameter \"ipp\" (this path takes ip, helo, mail_from)"
        );
        let e = api_params(Some("ip=192.0.2.1&ip=192.0.2.2"), &takes, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the query parameter ip is given more than once"
        );
        let p = api_params(Some("selector=a&selector=b"), &["selector"], &["selector"]);
        assert_eq!(p.unwrap().len(), 2);
        assert_eq!(api_params(None, &takes, &[]).unwrap().len(), 0);
        // A hostile name is shown short and on one line.
        let long = format!("{}\n{}", "x".repeat(30), "y".repeat(100));
        let e = api_params(Some(&long.replace('\n', "%0A")), &takes, &[]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("\"{}\\n{}…\"", "x".repeat(30), "y".repeat(9))),
            "{text}"
        );
        assert!(!text.contains('\n'));
        let e = api_params(Some("=1"), &takes, &[]).unwrap_err();
        assert!(
            e.to_string().starts_with("unknown query parameter \"\" "),
            "{e}"
        );
        // The language of a query that does not read as a whole.
        assert_eq!(
            lang_in(Some("domain=%zz&lang=ja")),
            Some(monban_diag::i18n::Lang::Ja)
        );
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
    }
}
