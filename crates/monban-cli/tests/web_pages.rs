//! The pages of `monban serve` (issue 13): every page renders in English and Japanese,
//! the analyzer shows the bundled samples right, the forms refuse cross-site posts,
//! the dashboard can be closed with a password file, the limits hold, and nothing a
//! message or a report carries becomes markup (the XSS suite: `<script>`, `"onload=`,
//! CRLF and RFC 2047-encoded HTML in Subject, From display names, report org_name and
//! Authentication-Results comments). The real binary on a loopback port.

mod common;

use std::path::PathBuf;

use common::Dir;
use common::web::Server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("pages are UTF-8")
}

/// The checks every page passes: served as HTML with the security headers, nothing
/// loaded from elsewhere, no script but ours, no event-handler attribute.
fn sound_page(headers: &str, html: &str) {
    assert!(
        headers.contains("content-type: text/html; charset=utf-8"),
        "{headers}"
    );
    assert!(headers.contains("content-security-policy: default-src 'self'"));
    assert!(headers.contains("x-content-type-options: nosniff"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    no_markup_injected(html);
    for attr in ["src=\"", "href=\"", "action=\""] {
        for (i, _) in html.match_indices(attr) {
            let url = &html[i + attr.len()..];
            let url = &url[..url.find('"').unwrap()];
            assert!(
                url.starts_with('/') || url.starts_with('#') || url.starts_with('?'),
                "{attr}{url}: every link and resource is on this server"
            );
        }
    }
}

/// No element or attribute a message or report could have brought in.
fn no_markup_injected(html: &str) {
    let lower = html.to_ascii_lowercase();
    let scripts: Vec<_> = lower.match_indices("<script").collect();
    assert_eq!(scripts.len(), 1, "only monban.js: {html}");
    assert!(lower.contains("<script src=\"/static/monban.js\" defer></script>"));
    for bad in [
        "<img",
        "<iframe",
        "<svg onload",
        "javascript:",
        "<object",
        "<embed",
    ] {
        assert!(!lower.contains(bad), "{bad} in the page");
    }
    // An event handler is an attribute ` on...=` inside a tag.
    let mut in_tag = false;
    let b = lower.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            b' ' | b'\t' | b'\n' | b'/' | b'"' if in_tag => {
                let rest = &lower[i + 1..];
                if rest.starts_with("on") {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .collect();
                    assert!(
                        !rest[name.len()..].starts_with('='),
                        "an event handler attribute {name}= in a tag: {}",
                        &html[i.saturating_sub(80)..(i + 80).min(html.len())]
                    );
                }
            }
            _ => {}
        }
    }
}

/// The CSRF cookie and token of a fresh page.
fn token(server: &Server) -> String {
    let (_, h, _) = server.get("/analyze");
    let at = h.find("monban_csrf=").expect("the form sets its cookie");
    h[at + 12..at + 44].to_owned()
}

/// A multipart form with the fields given.
fn multipart(fields: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "monbanTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if *name == "file" {
            body.extend_from_slice(
                b"Content-Disposition: form-data; name=\"file\"; filename=\"m.eml\"\r\nContent-Type: message/rfc822\r\n\r\n",
            );
        } else {
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts a message to the analyzer as the page's form does.
fn analyze(server: &Server, message: &[u8], verify: bool) -> (u16, String, String) {
    let token = token(server);
    let mut fields: Vec<(&str, &[u8])> = vec![("csrf", token.as_bytes()), ("message", message)];
    if verify {
        fields.push(("verify", b"true"));
    }
    let (ct, body) = multipart(&fields);
    let (status, h, b) = server.request(
        "POST",
        "/analyze",
        &format!(
            "Cookie: monban_csrf={token}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n",
            body.len()
        ),
        &body,
    );
    (status, h, text(&b))
}

fn serve(extra: &[&str]) -> Server {
    let mut args = vec!["--authserv-id", "mx.receiver.example"];
    args.extend_from_slice(extra);
    Server::example(&args)
}

#[test]
fn every_page_renders_in_english_and_japanese() {
    let dir = Dir::new("web-pages");
    let store = common::web::sample_store(&dir.0);
    let server = serve(&["--store", &store]);
    let pages = [
        "/",
        "/analyze",
        "/check",
        "/check?domain=example.com&selector=s2026",
        "/reports",
        "/reports?domain=example.com&since=2018-01-01",
    ];
    for path in pages {
        let (status, h, b) = server.get(path);
        let html = text(&b);
        assert_eq!(status, 200, "{path}: {html}");
        sound_page(&h, &html);
        assert!(html.contains("<html lang=\"en\">"), "{path}");
        // Japanese, by Accept-Language.
        let (status, h, b) = server.request(
            "GET",
            path,
            "Accept-Language: ja-JP,ja;q=0.9,en;q=0.5\r\n",
            b"",
        );
        let html = text(&b);
        assert_eq!(status, 200, "{path}");
        sound_page(&h, &html);
        assert!(html.contains("<html lang=\"ja\">"), "{path}");
        assert!(
            html.contains("ヘッダー解析"),
            "{path}: the navigation in Japanese"
        );
    }
    // The switch: ?lang=ja wins over the browser's English, and is remembered.
    let (_, h, b) = server.request("GET", "/check?lang=ja", "Accept-Language: en\r\n", b"");
    assert!(text(&b).contains("<html lang=\"ja\">"));
    assert!(h.contains("set-cookie: monban_lang=ja"), "{h}");
    assert!(!h.contains("secure"), "{h}");
    // Behind a TLS proxy, the cookies are Secure.
    for proxy in [
        "X-Forwarded-Proto: https\r\n",
        "Forwarded: for=192.0.2.1;proto=https, for=10.0.0.1;proto=http\r\n",
    ] {
        let (_, h, _) = server.request("GET", "/check?lang=ja", proxy, b"");
        let cookies: Vec<&str> = h.lines().filter(|l| l.starts_with("set-cookie:")).collect();
        assert!(
            cookies.len() == 2 && cookies.iter().all(|c| c.ends_with("; secure")),
            "{proxy}: {h}"
        );
    }
    let (_, _, b) = server.request(
        "GET",
        "/check",
        "Cookie: monban_lang=ja\r\nAccept-Language: en\r\n",
        b"",
    );
    assert!(text(&b).contains("<html lang=\"ja\">"));
    // The findings too, from the catalogue the CLI uses; the page words next steps
    // in its own fields, not the CLI's flags.
    let (_, _, b) = server.get("/check?domain=example.com&lang=ja");
    let html = text(&b);
    assert!(html.contains("詐称メールは拒否されます"), "{html}");
    assert!(html.contains("「DKIM セレクタ」欄"), "{html}");
    assert!(!html.contains("--selector"), "{html}");
    // The dashboard's advice too.
    let (_, _, b) = server.get("/reports?domain=example.com&lang=ja");
    let html = text(&b);
    assert!(html.contains("次のポリシー段階"), "{html}");
    assert!(html.contains("まだ早い"), "{html}");
    assert!(!html.contains("not yet:"), "{html}");
    // A field that is wrong is named in the reader's language too (these were built
    // as English strings, shown on Japanese pages).
    for (path, ja, en) in [
        (
            "/check?domain=localhost&lang=ja",
            "はドメイン名ではありません: ラベルが 1 つしかありません",
            "is not a domain name",
        ),
        (
            "/check?domain=example.com&selector=a%2Fb&lang=ja",
            "は DKIM セレクターではありません",
            "is not a DKIM selector",
        ),
        (
            "/reports?since=2026-13-01&lang=ja",
            "YYYY-MM-DD の形で指定してください",
            "expected YYYY-MM-DD",
        ),
        (
            "/reports?since=2026-11-02&until=2026-11-01&lang=ja",
            "since が until より後になっています",
            "is after",
        ),
    ] {
        let (status, _, b) = server.get(path);
        let html = text(&b);
        assert_eq!(status, 400, "{path}: {html}");
        assert!(html.contains(ja) && !html.contains(en), "{path}: {html}");
    }
    // The analyzer's verification says in Japanese where the envelope came from.
    let message = "Received: from mail.example.org (mail.example.org [93.184.216.34])\r\n\
        \tby mx.receiver.example with ESMTPS id 1; Mon, 30 Nov 2026 10:00:00 +0000\r\n\
        From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\n\r\nhi\r\n";
    let token = token(&server);
    let (ct, body) = multipart(&[
        ("csrf", token.as_bytes()),
        ("message", message.as_bytes()),
        ("verify", b"true"),
    ]);
    let head = format!(
        "Cookie: monban_csrf={token}; monban_lang=ja\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n",
        body.len()
    );
    let (status, _, b) = server.request("POST", "/analyze", &head, &body);
    let html = text(&b);
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("ホップ 1（mx.receiver.example が受信）"),
        "{html}"
    );
    assert!(!html.contains("received by"), "{html}");
    // The checker's page shows the lights and the full record to paste.
    let (_, _, b) = server.get("/check?domain=example.com&selector=s2026");
    let html = text(&b);
    assert!(html.contains("class=\"light "), "{html}");
    // The dashboard shows what was imported.
    let (_, _, b) = server.get("/reports");
    let html = text(&b);
    assert!(html.contains("<svg role=\"img\""), "charts");
    assert!(html.contains("<caption>"), "tables beside the charts");
    // Unknown paths: an HTML page for pages, JSON for the API.
    let (status, h, _) = server.get("/nope");
    assert_eq!(status, 404);
    assert!(h.contains("text/html"));
    let (status, h, _) = server.get("/api/v1/nope");
    assert_eq!(status, 404);
    assert!(h.contains("application/json"));
    // Assets are served from the binary.
    for (path, ct) in [
        ("/static/monban.css", "text/css"),
        ("/static/monban.js", "text/javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let (status, h, b) = server.get(path);
        assert_eq!(status, 200, "{path}");
        assert!(h.contains(ct) && !b.is_empty(), "{path}");
    }
}

#[test]
fn the_analyzer_shows_the_samples_right() {
    let server = serve(&[]);
    let sample = |name: &str| std::fs::read(root().join("examples/messages").join(name)).unwrap();

    // A mailing list added a Subject tag: proven, and named.
    let (status, h, html) = analyze(&server, &sample("via-mailing-list.eml"), true);
    assert_eq!(status, 200, "{html}");
    sound_page(&h, &html);
    assert!(html.contains("[lunch-club]"), "{html}");
    assert!(html.contains("Proven:"), "the diagnosis is graded");
    assert!(
        html.contains("monban&#39;s own verification")
            || html.contains("monban's own verification")
    );

    // In Japanese: the tags, the diagnosis and the warnings come from the catalogue.
    let marker = "id=\"permalink\" href=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let link = html[at..][..html[at..].find('"').unwrap()].replace("&amp;", "&");
    let (_, _, b) = server.get(&format!("{link}&lang=ja"));
    let ja = text(&b);
    assert!(ja.contains("DKIM-Signature バージョン 1"), "{ja}");
    assert!(
        ja.contains("署名後に件名へ [lunch-club] タグが追加されました"),
        "{ja}"
    );
    assert!(ja.contains("確定:"), "{ja}");
    // Every sample renders, with and without verification, and has its permalink,
    // which shows the same analysis again.
    for name in [
        "alice-to-bob.eml",
        "newsletter-via-mailer.eml",
        "spoofed-ceo.eml",
        "via-mailing-list.eml",
    ] {
        for verify in [false, true] {
            let (status, h, html) = analyze(&server, &sample(name), verify);
            assert_eq!(status, 200, "{name}");
            sound_page(&h, &html);
            let marker = "id=\"permalink\" href=\"";
            let at = html.find(marker).expect("a permalink");
            let link = &html[at + marker.len()..];
            let link = link[..link.find('"').unwrap()].replace("&amp;", "&");
            let (status, _, again) = server.get(&link);
            assert_eq!(status, 200, "{name}: {link}");
            let again = text(&again);
            let subject = |h: &str| {
                h.find("<th scope=\"row\">Subject</th>")
                    .map(|i| h[i..i + 200].to_owned())
            };
            assert_eq!(subject(&html), subject(&again), "{name}");
        }
    }

    // Recorded results are claimed unless this server trusts their writer.
    let forged = b"Received: from mx.receiver.example by mx.receiver.example; Sun, 22 Nov 2026 11:12:00 +0000\r\n\
Authentication-Results: mx.receiver.example; dkim=pass header.d=example.com\r\n\
Received: from evil.example ([203.0.113.5]) by mx.receiver.example; Sun, 22 Nov 2026 11:11:30 +0000\r\n\
Authentication-Results: mx.google.com; dkim=pass header.d=example.com; spf=pass\r\n\
From: ceo@example.com\r\nSubject: t\r\nDate: Sun, 22 Nov 2026 11:11:00 +0000\r\n\r\nbody\r\n";
    let (status, _, html) = analyze(&server, forged, false);
    assert_eq!(status, 200);
    let section = |id: &str| {
        let i = html
            .find(&format!("by {id}"))
            .unwrap_or_else(|| panic!("{id}: {html}"));
        html[i..i + 200].to_owned()
    };
    assert!(section("mx.receiver.example").contains("trusted"), "{html}");
    assert!(section("mx.google.com").contains("claimed"), "{html}");
    assert!(
        html.contains("pass (claimed)"),
        "a claimed pass is never shown as a pass"
    );

    // Clock skew is labelled as such, not shown as hours.
    let skewed = b"Received: from b.example by c.example; Sun, 22 Nov 2026 10:00:00 +0000\r\n\
Received: from a.example by b.example; Sun, 22 Nov 2026 12:00:05 +0000\r\n\
From: a@example.com\r\nSubject: t\r\n\r\n";
    let (_, _, html) = analyze(&server, skewed, false);
    assert!(html.contains("clock skew 2 h"), "{html}");
}

/// The checker page: the include tree with lookups per record, the mechanism that
/// matched an IP, the DMARC tags with their defaults, and "what if".
#[test]
fn the_checker_page_shows_the_tree_and_checks_what_if() {
    let check_zone = root().join("crates/monban-cli/tests/data/check.zone");
    let server = Server::start(&[
        "--zone",
        check_zone.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    let (status, h, b) = server.get("/check?domain=toomany.example&ip=192.0.2.1");
    let html = text(&b);
    assert_eq!(status, 200);
    sound_page(&h, &html);
    assert!(html.contains("id=\"spf-tree\""), "{html}");
    assert!(
        html.contains(
            "<code>include:</code><code>i1.toomany.example</code> — 3 lookup(s) in this record"
        ),
        "{html}"
    );
    assert!(
        html.contains("matched include:i1.toomany.example in the record of toomany.example"),
        "{html}"
    );
    // Over 10 lookups: the flattened record, whole.
    assert!(
        html.contains("toomany.example. TXT &quot;v=spf1 ip4:192.0.2.1 ip4:192.0.2.10 -all&quot;"),
        "{html}"
    );
    // What if: the records written are checked instead of the published ones.
    let (status, _, b) = server.get(
        "/check?domain=toomany.example&what_if_spf=v%3Dspf1+ip4%3A192.0.2.1+-all&what_if_dmarc=v%3DDMARC1%3B+p%3Dreject%3B+pct%3D50",
    );
    let html = text(&b);
    assert_eq!(status, 200);
    assert!(
        html.contains("What if: this check uses the records you wrote"),
        "{html}"
    );
    assert!(html.contains("0 DNS-querying terms"), "{html}");
    // pct=50: RFC 7489 receivers (monban too) apply the next milder policy.
    assert!(
        html.contains("p=reject, but with pct=50 receivers apply quarantine"),
        "{html}"
    );
    assert!(html.contains("<td><code>np</code></td><td><code>reject</code></td><td><span class=\"note\">default</span></td>"), "{html}");
    // A record with a line break is refused, not checked.
    let (status, _, _) = server.get("/check?domain=toomany.example&what_if_spf=v%3Dspf1%0d%0a-all");
    assert_eq!(status, 400);
}

/// DNS rebinding: a page of another site whose name now points at 127.0.0.1 gets no
/// answer; the names the server is reached by do.
#[test]
fn only_our_host_names_are_answered() {
    let server = serve(&["--allow-host", "monban.example.org"]);
    for host in ["127.0.0.1", "localhost", "[::1]", "monban.example.org:8443"] {
        assert_eq!(server.get_as_host(host, "/"), 200, "{host}");
    }
    for host in ["evil.example", "evil.example:80", "127.0.0.1.evil.example"] {
        assert_eq!(server.get_as_host(host, "/"), 421, "{host}");
        assert_eq!(
            server.get_as_host(host, "/api/v1/openapi.json"),
            421,
            "{host}"
        );
    }
    // Two Host fields are refused (the first was believed), and the name of an
    // absolute-form request must be ours too (it was not looked at).
    assert_eq!(
        server.get_as_host("127.0.0.1\r\nHost: evil.example", "/"),
        400
    );
    assert_eq!(server.get_as_host("127.0.0.1", "http://evil.example/"), 421);
    assert_eq!(server.get_as_host("127.0.0.1", "http://localhost/"), 200);
    // A proxy's header is trusted only when the proxy is the only way in.
    let out = common::run(
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--trust-proxy-header",
            "X-Remote-User",
        ],
        b"",
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    // An address other hosts reach needs a login for the reports, or the choice to
    // open them said out loud (a Host check is no access control).
    let out = common::run(&["serve", "--listen", "0.0.0.0:0"], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--password-file") && err.contains("--open-dashboard"),
        "{err}"
    );
}

#[test]
fn forms_refuse_cross_site_posts() {
    let server = serve(&[]);
    let token = token(&server);
    let (ct, body) = multipart(&[
        ("csrf", token.as_bytes()),
        ("message", b"From: a@example.com\r\n\r\n"),
    ]);
    let post = |extra: &str| {
        server.request(
            "POST",
            "/analyze",
            &format!(
                "{extra}Content-Type: {ct}\r\nContent-Length: {}\r\n",
                body.len()
            ),
            &body,
        )
    };
    // No cookie (another site's form cannot send it: SameSite=Strict).
    assert_eq!(post("Origin: http://evil.example\r\n").0, 403);
    assert_eq!(post("Sec-Fetch-Site: cross-site\r\n").0, 403);
    // No browser at all (curl): no forgery possible, served.
    assert_eq!(post("").0, 200);
    // The form of DESIGN §4, urlencoded: `message=...`.
    let body =
        b"message=From%3A+a%40example.com%0D%0ASubject%3A+urlencoded+form%0D%0A%0D%0Ahi%0D%0A";
    let (status, _, b) = server.request(
        "POST",
        "/analyze",
        &format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ),
        body,
    );
    assert_eq!(status, 200);
    assert!(text(&b).contains("urlencoded form"));
    // A cookie that does not match the form's token.
    assert_eq!(
        post("Cookie: monban_csrf=0123456789abcdef0123456789abcdef\r\n").0,
        403
    );
    // The right pair from another origin.
    assert_eq!(
        post(&format!(
            "Cookie: monban_csrf={token}\r\nOrigin: http://evil.example\r\n"
        ))
        .0,
        403
    );
    // The right pair from this page.
    let (status, _, b) = post(&format!(
        "Cookie: monban_csrf={token}\r\nOrigin: http://127.0.0.1\r\n"
    ));
    assert_eq!(status, 200, "{}", text(&b));
}

#[test]
fn the_dashboard_can_require_a_login() {
    let dir = Dir::new("web-login");
    let out = common::run(
        &["serve", "--hash-password", "alice"],
        b"s3cret password\n",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("alice:$argon2id$"), "{line}");
    let file = dir.file("passwords", line.as_bytes());
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let server = serve(&["--store", &store, "--password-file", &file]);
    let (status, h, _) = server.get("/reports");
    assert_eq!(status, 401);
    assert!(
        h.contains("www-authenticate: basic realm=\"monban reports\""),
        "{h}"
    );
    assert_eq!(server.get("/api/v1/reports/summary").0, 401);
    use base64::Engine as _;
    let auth = |u: &str, p: &str| {
        format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    assert_eq!(
        server
            .request("GET", "/reports", &auth("alice", "s3cret password"), b"")
            .0,
        200
    );
    assert_eq!(
        server
            .request(
                "GET",
                "/api/v1/reports/summary",
                &auth("alice", "s3cret password"),
                b""
            )
            .0,
        200
    );
    assert_eq!(
        server
            .request("GET", "/reports", &auth("alice", "wrong"), b"")
            .0,
        401
    );
    assert_eq!(
        server
            .request("GET", "/reports", &auth("mallory", "s3cret password"), b"")
            .0,
        401
    );
    // The analyzer and the checker need no login.
    assert_eq!(server.get("/analyze").0, 200);
    assert_eq!(server.get("/check").0, 200);
    // A bad password file stops the server before it listens, naming the line.
    let bad = dir.file("bad", b"alice:plaintext\n");
    let out = common::run(
        &["serve", "--listen", "127.0.0.1:0", "--password-file", &bad],
        b"",
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Behind a reverse proxy that authenticates: its header lets the request through.
    let server = serve(&["--store", &store, "--trust-proxy-header", "X-Remote-User"]);
    assert_eq!(server.get("/reports").0, 401);
    assert_eq!(
        server
            .request("GET", "/reports", "X-Remote-User: alice\r\n", b"")
            .0,
        200
    );
}

#[test]
fn the_analyzer_keeps_its_limits() {
    let server = serve(&["--max-header", "2000", "--max-body", "100000"]);
    let mut big_header = b"From: a@example.com\r\n".to_vec();
    while big_header.len() < 3000 {
        big_header.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    big_header.extend_from_slice(b"\r\nbody\r\n");
    let (status, _, html) = analyze(&server, &big_header, false);
    assert_eq!(status, 413, "{html}");
    assert!(html.contains("2000 bytes"), "{html}");
    // Over --max-body: refused before it is read, as a page in the reader's language
    // (it was axum's plain "length limit exceeded").
    let huge = vec![b'a'; 200_000];
    let (status, h, html) = analyze(&server, &huge, false);
    assert_eq!(status, 413);
    assert!(
        h.to_ascii_lowercase().contains("content-type: text/html"),
        "{h}"
    );
    assert!(html.contains("100000 bytes"), "{html}");
    let token = token(&server);
    let (ct, body) = multipart(&[("csrf", token.as_bytes()), ("message", &huge)]);
    let head = format!(
        "Cookie: monban_csrf={token}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n",
        body.len()
    );
    let (status, _, b) = server.request("POST", "/analyze?lang=ja", &head, &body);
    let html = text(&b);
    assert_eq!(status, 413);
    assert!(html.contains("100000 バイト"), "{html}");
    assert!(!html.contains("length limit"), "{html}");
    // Streamed in chunks, its size unknown until it is past the bound: the same.
    let mut chunked = Vec::new();
    for piece in body.chunks(16 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "Cookie: monban_csrf={token}\r\nContent-Type: {ct}\r\nTransfer-Encoding: chunked\r\n"
    );
    let (status, _, b) = server.request("POST", "/analyze?lang=ja", &head, &chunked);
    let html = text(&b);
    assert_eq!(status, 413, "{html}");
    assert!(html.contains("100000 バイト"), "{html}");
    // A method a page does not take: an error page too, keeping Allow.
    let (status, h, b) = server.request("DELETE", "/check?lang=ja", "", b"");
    assert_eq!(status, 405);
    assert!(h.to_ascii_lowercase().contains("allow:"), "{h}");
    assert!(text(&b).contains("405 Method Not Allowed"), "{}", text(&b));
    assert!(
        text(&b).contains("リクエストは拒否されました"),
        "{}",
        text(&b)
    );
    // A damaged permalink is a clear error, not a crash.
    let (status, _, b) = server.get("/analyze?m=%%%");
    assert!(status == 400, "{status}");
    let (status, _, b2) = server.get("/analyze?m=AAAA");
    assert_eq!(status, 400, "{}", text(&b2));
    drop(b);
}

/// The XSS suite: hostile text in every field a page shows.
#[test]
fn nothing_from_a_message_or_report_becomes_markup() {
    let dir = Dir::new("web-xss");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    // A report whose org_name, report id and reporter address are markup.
    let report = r#"<?xml version="1.0"?>
<feedback>
  <report_metadata>
    <org_name>&lt;script&gt;alert(1)&lt;/script&gt;" onload="alert(2)</org_name>
    <email>x@evil.example</email>
    <report_id>&lt;img src=x onerror=alert(3)&gt;</report_id>
    <date_range><begin>1795305600</begin><end>1795391999</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record>
    <row><source_ip>203.0.113.7</source_ip><count>5</count>
      <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf>
        <reason><type>other</type><comment>&lt;script&gt;alert(4)&lt;/script&gt;</comment></reason>
      </policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><spf><domain>&lt;b onmouseover=alert(5)&gt;x</domain><result>fail</result></spf></auth_results>
  </record>
</feedback>
"#;
    let server = serve_report(&dir, &store, "evil.xml", report);
    for path in ["/reports", "/reports?domain=example.com"] {
        let (status, h, b) = server.get(path);
        let html = text(&b);
        assert_eq!(status, 200, "{html}");
        sound_page(&h, &html);
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "the org_name is shown, as text: {html}"
        );
    }
    // The drill-down: the list, the report, its document as received (escaped in the
    // page, a plain-text download).
    let (status, h, b) = server.get("/reports/list?domain=example.com");
    let html = text(&b);
    assert_eq!(status, 200, "{html}");
    sound_page(&h, &html);
    let at = html
        .find("href=\"/reports/report/")
        .expect("a link to the report")
        + 6;
    let link = html[at..][..html[at..].find('"').unwrap()].to_owned();
    let (status, h, b) = server.get(&link);
    let html = text(&b);
    assert_eq!(status, 200, "{html}");
    sound_page(&h, &html);
    assert!(
        html.contains("&lt;org_name&gt;&amp;lt;script&amp;gt;alert(1)"),
        "the document, as text: {html}"
    );
    let (status, h, b) = server.get(&format!("{link}/raw"));
    assert_eq!(status, 200);
    assert!(h.contains("content-type: text/plain; charset=utf-8"), "{h}");
    assert!(
        h.contains("content-disposition: attachment; filename=\"report-"),
        "{h}"
    );
    assert_eq!(text(&b), report);
    assert_eq!(server.get("/reports/report/999999").0, 404);
    assert_eq!(server.get("/reports/report/x").0, 404);
    assert_eq!(server.get("/reports/list?page=-1").0, 400);
    assert_eq!(server.get("/reports/list?page=2001").0, 400);

    // A message with markup everywhere: Subject (raw and RFC 2047-encoded), the From
    // display name, Authentication-Results comments and reasons, a DKIM tag, a
    // Received clause.
    let message = b"Received: from <script>alert(6)</script> ([203.0.113.9]) by mx.receiver.example (\"onload=alert(7)); Sun, 22 Nov 2026 11:12:00 +0000\r\n\
Authentication-Results: mx.receiver.example; dkim=fail (<img src=x onerror=alert(8)>) header.d=example.com; spf=pass reason=\"<script>alert(9)</script>\" smtp.mailfrom=\"<svg onload=alert(10)>\"\r\n\
ARC-Authentication-Results: i=1; <b>arc</b>; dmarc=pass (\"onload=x)\r\n\
Received-SPF: pass (<script>alert(11)</script>) client-ip=203.0.113.9\r\n\
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=<script>; h=from; bh=<img>; b=\"onload=\r\n\
From: \"<script>alert(12)</script>\\\" onload=\\\"alert(13)\" <ceo@example.com>\r\n\
Subject: <script>alert(14)</script>\"onload=alert(15) =?utf-8?b?PHNjcmlwdD5hbGVydCgxNik8L3NjcmlwdD4=?=\r\n\
Reply-To: =?utf-8?q?=3Cimg_src=3Dx_onerror=3Dalert(17)=3E?= <r@example.com>\r\n\
Message-ID: <\"onload=alert(18)@x>\r\n\
Date: Sun, 22 Nov 2026 11:11:00 +0000\r\n\r\n<script>alert(19)</script>\r\n";
    for verify in [false, true] {
        let (status, h, html) = analyze(&server, message, verify);
        assert_eq!(status, 200, "{html}");
        sound_page(&h, &html);
        assert!(
            html.contains("&lt;script&gt;alert(14)&lt;/script&gt;"),
            "the Subject is shown, as text"
        );
        // The encoded word was decoded, and still is text.
        assert!(!html.contains("<script>alert(16)"));
    }
    // The same through a permalink.
    let (_, _, html) = analyze(&server, message, false);
    let marker = "id=\"permalink\" href=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let link = html[at..][..html[at..].find('"').unwrap()].replace("&amp;", "&");
    let (_, h, b) = server.get(&link);
    sound_page(&h, &text(&b));

    // CRLF in what ends up in a header (the language cookie, the check's domain):
    // never a second header line.
    for path in [
        "/check?lang=ja%0d%0aSet-Cookie:%20x=1",
        "/check?domain=a.example%0d%0aX-Injected:%201",
        "/analyze?lang=%0d%0aX-Injected:%201",
    ] {
        let (status, h, b) = server.get(path);
        assert!(status == 200 || status == 400, "{path}: {status}");
        assert!(
            !h.contains("x-injected") && !h.contains("set-cookie: x=1"),
            "{path}: {h}"
        );
        sound_page(&h, &text(&b));
    }
}

/// `+`-joined, %-escaped for a query value.
fn q(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The checker page's bounds: 10 sending addresses, a "what if" record of 4,096
/// characters on one line; the exact number is taken, one more refused with a reason.
#[test]
fn the_checker_page_keeps_its_limits() {
    let server = serve(&[]);
    let ips = |n: usize| {
        (1..=n)
            .map(|i| format!("192.0.2.{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (status, _, b) = server.get(&format!("/check?domain=example.com&ip={}", q(&ips(10))));
    assert_eq!(status, 200, "{}", text(&b));
    assert!(text(&b).contains("192.0.2.10"));
    let (status, _, b) = server.get(&format!("/check?domain=example.com&ip={}", q(&ips(11))));
    assert_eq!(status, 400);
    assert!(
        text(&b).contains("At most 10 IP addresses."),
        "{}",
        text(&b)
    );

    // A record of 4,096 characters: checked; one more: refused.
    let spf = |len: usize| format!("v=spf1{} -all", " ".repeat(len - 11));
    assert_eq!(spf(4096).chars().count(), 4096);
    let (status, _, b) = server.get(&format!(
        "/check?domain=example.com&what_if_spf={}",
        q(&spf(4096))
    ));
    assert_eq!(status, 200, "{}", text(&b));
    assert!(text(&b).contains("What if: this check uses the records you wrote"));
    let (status, _, b) = server.get(&format!(
        "/check?domain=example.com&what_if_spf={}",
        q(&spf(4097))
    ));
    assert_eq!(status, 400);
    assert!(
        text(&b).contains("must be one line of at most 4096 characters"),
        "{}",
        text(&b)
    );
    // Characters, not bytes: 4,096 characters of which many take two bytes are taken.
    let dmarc = |len: usize| format!("v=DMARC1; p=none; x={}", "é".repeat(len - 20));
    assert_eq!(dmarc(4096).chars().count(), 4096);
    assert!(dmarc(4096).len() > 8000);
    let (status, _, b) = server.get(&format!(
        "/check?domain=example.com&what_if_dmarc={}",
        q(&dmarc(4096))
    ));
    assert_eq!(status, 200, "{}", text(&b));
    let (status, _, _) = server.get(&format!(
        "/check?domain=example.com&what_if_dmarc={}",
        q(&dmarc(4097))
    ));
    assert_eq!(status, 400);
}

/// The include tree of a chain deeper than the checker walks: the levels walked are
/// shown, and the deepest says why the walk stopped there.
#[test]
fn the_checker_page_says_where_the_spf_tree_stops() {
    let dir = Dir::new("web-deep-spf");
    let mut zone = String::new();
    for i in 0..20 {
        zone.push_str(&format!(
            "d{i}.deep.example. TXT \"v=spf1 include:d{}.deep.example -all\"\n",
            i + 1
        ));
    }
    zone.push_str("d20.deep.example. TXT \"v=spf1 -all\"\n");
    let zone = dir.file("deep.zone", zone.as_bytes());
    let server = Server::start(&["--zone", &zone, "serve", "--listen", "127.0.0.1:0"]);
    let (status, h, b) = server.get("/check?domain=d0.deep.example");
    let html = text(&b);
    assert_eq!(status, 200, "{html}");
    sound_page(&h, &html);
    let node = |i: usize| format!("<code>d{i}.deep.example</code>");
    assert!((0..=13).all(|i| html.contains(&node(i))), "{html}");
    assert!(!html.contains(&node(14)), "{html}");
    assert!(
        html.contains("more than 12 deep at d13.deep.example"),
        "{html}"
    );
}

/// An aggregate report of example.com with `records` rows.
fn aggregate(id: &str, begin: u64, records: usize) -> String {
    let mut rows = String::new();
    for n in 0..records {
        rows.push_str(&format!(
            "  <record>\n    <row><source_ip>198.51.{}.{}</source_ip><count>1</count>\n      \
             <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>\n    \
             <identifiers><header_from>example.com</header_from></identifiers>\n    \
             <auth_results><spf><domain>example.com</domain><result>pass</result></spf></auth_results>\n  </record>\n",
            n / 250,
            n % 250 + 1
        ));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<feedback>\n  <report_metadata>\n    <org_name>reporter.example</org_name>\n    \
         <email>r@reporter.example</email>\n    <report_id>{id}</report_id>\n    \
         <date_range><begin>{begin}</begin><end>{}</end></date_range>\n  </report_metadata>\n  \
         <policy_published><domain>example.com</domain><p>none</p></policy_published>\n{rows}</feedback>\n",
        begin + 86_399
    )
}

/// The report list: 50 a page, pages 0 to 2,000; a report's document: its first 64 KiB
/// shown, with a note and the download for the rest.
#[test]
fn the_report_pages_keep_their_limits() {
    let dir = Dir::new("web-report-limits");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let reports = dir.0.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let day0 = 1_795_305_600;
    for n in 0..50u64 {
        std::fs::write(
            reports.join(format!("r{n}.xml")),
            aggregate(&format!("r{n}"), day0 + n * 86_400, 1),
        )
        .unwrap();
    }
    // The newest: a document of more than 64 KiB, its last row unlike the others.
    let big = aggregate("big", day0 + 60 * 86_400, 400)
        .replace("198.51.1.150</source_ip>", "203.0.113.250</source_ip>");
    assert!(big.len() > 100 * 1024);
    std::fs::write(reports.join("big.xml"), &big).unwrap();
    let out = common::run(
        &[
            "report",
            "import",
            "--store",
            &store,
            reports.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = serve(&["--store", &store]);
    let links = |html: &str| html.matches("href=\"/reports/report/").count();
    // 51 reports: 50 on the first page and a next one, 1 on the second.
    let (status, _, b) = server.get("/reports/list");
    let html = text(&b);
    assert_eq!(status, 200, "{html}");
    assert_eq!(links(&html), 50, "{html}");
    assert!(html.contains("rel=\"next\""));
    let at = html.find("href=\"/reports/report/").unwrap() + 6;
    let newest = html[at..][..html[at..].find('"').unwrap()].to_owned();
    let (status, _, b) = server.get("/reports/list?page=1");
    let html = text(&b);
    assert_eq!(status, 200);
    assert_eq!(links(&html), 1, "{html}");
    let at = html.find("href=\"/reports/report/").unwrap() + 6;
    let oldest = html[at..][..html[at..].find('"').unwrap()].to_owned();
    assert!(!html.contains("rel=\"next\"") && html.contains("rel=\"prev\""));
    // The last page there is, and one past it.
    assert_eq!(server.get("/reports/list?page=2000").0, 200);
    let (status, _, b) = server.get("/reports/list?page=2001");
    assert_eq!(status, 400);
    assert!(text(&b).contains("from 0 to 2000"), "{}", text(&b));
    // The large document: cut, with a note; the download has all of it.
    let (status, _, b) = server.get(&newest);
    let html = text(&b);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("its first 64 KiB are shown"), "{html}");
    assert!(html.contains("198.51.0.1&lt;/source_ip&gt;"));
    assert!(!html.contains("203.0.113.250"), "the end is not shown");
    let (_, _, b) = server.get(&format!("{newest}/raw"));
    assert_eq!(text(&b), big);
    // A small one: whole, no note.
    let (_, _, b) = server.get(&oldest);
    let html = text(&b);
    assert!(!html.contains("KiB are shown"), "{html}");
    assert!(html.contains("&lt;/feedback&gt;"), "{html}");
}

/// The server over `store`, after `report import` of `report` written to `dir/name`
/// (which must succeed).
fn serve_report(dir: &Dir, store: &str, name: &str, report: &str) -> Server {
    let file = dir.file(name, report.as_bytes());
    let out = common::run(&["report", "import", "--store", store, &file], b"", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import {name}: {err}");
    serve(&["--store", store])
}

/// A disposition outside none, quarantine and reject (some reporters write `pass`) is
/// counted in the dashboard's tables, in an "other" column, so that each row adds up to
/// its messages (the over-time table showed 123 messages and 0/0/0).
#[test]
fn dispositions_outside_the_three_are_counted() {
    let dir = Dir::new("web-other-disposition");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let report = r#"<feedback>
  <report_metadata><org_name>r</org_name><report_id>pass-1</report_id>
    <date_range><begin>1795305600</begin><end>1795391999</end></date_range></report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record><row><source_ip>192.0.2.1</source_ip><count>123</count>
    <policy_evaluated><disposition>pass</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers></record>
  <record><row><source_ip>192.0.2.2</source_ip><count>7</count>
    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers></record>
</feedback>
"#;
    let server = serve_report(&dir, &store, "pass.xml", report);
    for path in ["/reports", "/reports?domain=example.com"] {
        let (status, _, b) = server.get(path);
        let html = text(&b);
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(">other</th>"), "{path}: {html}");
        // 130 messages: 7 none, 0 quarantine, 0 reject, 123 other.
        let row = "<td class=\"num\">7</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">123</td>";
        assert!(html.contains(row), "{path}: {html}");
    }
}
