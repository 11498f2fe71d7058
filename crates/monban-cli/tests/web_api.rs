//! `monban serve` (issue 13, first part): the JSON API answers with the same bytes the
//! CLI prints for the same input (DESIGN §4), errors are JSON with a 4xx status, every
//! answer carries the security headers, and the limits hold. The server is the real
//! binary on a loopback port; requests are plain HTTP/1.1 over a socket.

mod common;

use std::path::PathBuf;

use common::Dir;
use common::web::Server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn secure_headers(h: &str) {
    for want in [
        "content-security-policy: default-src 'self'",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy: same-origin",
    ] {
        assert!(h.contains(want), "{want} missing in {h}");
    }
}

#[test]
fn api_answers_as_the_cli_does() {
    let dir = Dir::new("web-api");
    let store = common::web::sample_store(&dir.0);
    let zone = root().join("examples/example.zone");
    let zone = zone.to_str().unwrap();
    let server = Server::example(&["--store", &store]);

    // The checker: byte for byte what `monban check --json` prints.
    let cli = common::run(
        &["check", "--zone", zone, "--json", "example.com"],
        b"",
        &[],
    );
    let (status, headers, body) = server.get("/api/v1/check/example.com");
    assert_eq!(status, 200);
    assert!(headers.contains("content-type: application/json"));
    secure_headers(&headers);
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&cli.stdout)
    );
    let cli = common::run(
        &[
            "check",
            "--zone",
            zone,
            "--json",
            "--selector",
            "s1",
            "--selector",
            "s2",
            "example.com",
        ],
        b"",
        &[],
    );
    let (_, _, body) = server.get("/api/v1/check/Example.COM.?selector=s1&selector=s2");
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&cli.stdout)
    );

    // The report summary: what `monban report summary --json` prints (same DNS).
    for (query, flags) in [
        ("", vec![]),
        ("?domain=example.com", vec!["--domain", "example.com"]),
        (
            "?since=2018-10-01&until=2018-10-31",
            vec!["--since", "2018-10-01", "--until", "2018-10-31"],
        ),
    ] {
        let mut args = vec![
            "--zone", zone, "report", "summary", "--store", &store, "--json",
        ];
        args.extend(flags);
        let cli = common::run(&args, b"", &[]);
        assert!(cli.status.success());
        let (status, _, body) = server.get(&format!("/api/v1/reports/summary{query}"));
        assert_eq!(status, 200, "{query}");
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&cli.stdout),
            "{query}"
        );
    }

    // verify and analyze: what the CLI prints for the message on standard input.
    let messages = root().join("examples/messages");
    let server_id = Server::example(&["--authserv-id", "mx.example.org"]);
    for name in [
        "alice-to-bob.eml",
        "newsletter-via-mailer.eml",
        "spoofed-ceo.eml",
        "via-mailing-list.eml",
    ] {
        let message = std::fs::read(messages.join(name)).unwrap();
        let cli = common::run(
            &[
                "verify",
                "--zone",
                zone,
                "--json",
                "--authserv-id",
                "mx.example.org",
                "--ip",
                "192.0.2.25",
                "--helo",
                "mail.example.com",
                "--mail-from",
                "alice@example.com",
            ],
            &message,
            &[],
        );
        let (status, headers, body) = server_id.request(
            "POST",
            "/api/v1/verify?ip=192.0.2.25&helo=mail.example.com&mail_from=alice%40example.com",
            &format!("Content-Length: {}\r\n", message.len()),
            &message,
        );
        assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
        secure_headers(&headers);
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&cli.stdout),
            "verify {name}"
        );
        for (query, verify) in [("", false), ("?verify=true", true)] {
            let mut args = vec!["--zone", zone, "analyze", "--json"];
            if verify {
                args.extend(["--verify", "--authserv-id", "mx.example.org"]);
            }
            let cli = common::run(&args, &message, &[]);
            let (status, _, body) = server_id.request(
                "POST",
                &format!("/api/v1/analyze{query}"),
                &format!("Content-Length: {}\r\n", message.len()),
                &message,
            );
            assert_eq!(status, 200);
            assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&cli.stdout),
                "analyze {name} {query}"
            );
        }
    }
    // A message over axum's default bound of 2 MB and under --max-body (25 MB) is read.
    let mut big = b"From: a@example.com\r\nSubject: big\r\n\r\n".to_vec();
    big.extend(
        std::iter::repeat_n(b"0123456789abcdef0123456789abcdef\r\n".as_slice(), 100_000).flatten(),
    );
    let (status, _, body) = server_id.request(
        "POST",
        "/api/v1/analyze",
        &format!("Content-Length: {}\r\n", big.len()),
        &big,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // The envelope is checked as the CLI checks its flags.
    let (status, _, body) = server_id.request(
        "POST",
        "/api/v1/verify?ip=192.0.2.25",
        "Content-Length: 3\r\n",
        b"a\r\n",
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("ip needs mail_from, helo or both"));
    let (status, _, _) = server_id.request("POST", "/api/v1/verify", "Content-Length: 0\r\n", b"");
    assert_eq!(status, 400);

    // The OpenAPI document names every path served.
    let (status, _, body) = server.get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for p in [
        "/api/v1/check/{domain}",
        "/api/v1/reports/summary",
        "/api/v1/openapi.json",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
}

#[test]
fn errors_are_json_and_limits_hold() {
    let dir = Dir::new("web-errors");
    let store = format!("sqlite:{}", dir.0.join("m.db").display());
    let server = Server::example(&["--store", &store, "--max-body", "1000"]);
    let error = |path: &str, status: u16| {
        let (got, headers, body) = server.get(path);
        assert_eq!(got, status, "{path}: {}", String::from_utf8_lossy(&body));
        secure_headers(&headers);
        assert!(headers.contains("content-type: application/json"), "{path}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["error"].as_str().unwrap().to_string()
    };
    // Markup in a path comes back as a JSON string, never as HTML.
    let e = error(
        "/api/v1/check/%3Cscript%3Ealert(1)%3C%2Fscript%3E.example",
        400,
    );
    assert!(e.contains("not a domain name"), "{e}");
    assert!(error("/api/v1/check/localhost", 400).contains("one label"));
    assert!(error("/api/v1/reports/summary?since=2026-02-30", 400).contains("YYYY-MM-DD"));
    assert!(
        error(
            "/api/v1/reports/summary?since=2026-02-01&until=2026-01-01",
            400
        )
        .contains("after")
    );
    assert!(error("/api/v1/reports/summary?domain=%zz", 400).contains("escape"));
    assert!(error("/api/v1/nothing/here", 404).contains("no such"));
    // A body over --max-body is refused before it is read.
    let (status, headers, _) = server.request(
        "POST",
        "/api/v1/check/example.com",
        "Content-Length: 5000\r\n",
        &[b'x'; 5000],
    );
    assert_eq!(status, 413);
    secure_headers(&headers);
    // An empty store still summarises (nothing).
    let (status, _, body) = server.get("/api/v1/reports/summary");
    assert_eq!(status, 200);
    assert_eq!(body, b"{\"domains\":[],\"tls\":[]}\n");
}
