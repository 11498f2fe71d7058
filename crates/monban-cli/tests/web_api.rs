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
    // A misspelt parameter is refused, not ignored (the verdict would be judged without
    // the client's address), and so is a parameter given twice.
    for (query, says) in [
        (
            "ipp=192.0.2.25&mail_from=a%40example.com",
            "unknown query parameter \"ipp\" (this path takes ip, helo, mail_from)",
        ),
        (
            "ip=192.0.2.25&ip=192.0.2.26&mail_from=a%40example.com",
            "the query parameter ip is given more than once",
        ),
    ] {
        let (status, _, body) = server_id.request(
            "POST",
            &format!("/api/v1/verify?{query}"),
            "Content-Length: 3\r\n",
            b"a\r\n",
        );
        assert_eq!(status, 400, "{query}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], says, "{query}");
    }

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
    assert!(error("/api/v1/check/localhost", 400).contains("it has one label"));
    assert!(error("/api/v1/reports/summary?since=2026-02-30", 400).contains("YYYY-MM-DD"));
    assert!(
        error(
            "/api/v1/reports/summary?since=2026-02-01&until=2026-01-01",
            400
        )
        .contains("after")
    );
    assert!(error("/api/v1/reports/summary?domain=%zz", 400).contains("escape"));
    assert!(error("/api/v1/reports/summary?domian=example.com", 400).contains("domian"));
    assert!(error("/api/v1/check/example.com?selectr=s1", 400).contains("selector, discover"));
    assert!(
        error("/api/v1/check/example.com?discover=1&discover=0", 400).contains("more than once")
    );
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
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    // So is one whose length is not told (chunked), as it streams past the bound: a
    // JSON error too (it was text/plain).
    let (status, headers, body) = server.request(
        "POST",
        "/api/v1/analyze",
        "Transfer-Encoding: chunked\r\n",
        format!("1388\r\n{}\r\n0\r\n\r\n", "x".repeat(5000)).as_bytes(),
    );
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    // The limit named (the body limit's own words, "length limit exceeded", named none).
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("larger than 1000 bytes"),
        "{v}"
    );
    // A method the path does not take: a JSON error, with Allow (it was empty).
    let (status, headers, body) = server.request("DELETE", "/api/v1/check/example.com", "", b"");
    assert_eq!(status, 405);
    assert!(headers.contains("allow: get,head"), "{headers}");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"], "method not allowed");
    // An empty store still summarises (nothing).
    let (status, _, body) = server.get("/api/v1/reports/summary");
    assert_eq!(status, 200);
    assert_eq!(body, b"{\"domains\":[],\"tls\":[]}\n");
}

/// A connection to the server with a read deadline (a server that hangs fails the
/// test instead of holding it).
fn connect(server: &Server) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    s
}

/// Sends `bytes` as they are; the whole answer (the server closes the connection).
fn raw(server: &Server, bytes: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = connect(server);
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("an answer, not a hang");
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one answer's head (up to the empty line) from `s`.
fn read_head(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut b).expect("an answer within the read deadline");
        assert_eq!(n, 1, "closed after {}", String::from_utf8_lossy(&head));
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).to_ascii_lowercase()
}

/// A message whose header is `total` bytes (before the empty line), the From field
/// last, in `fields` fields at least (fewer bytes than asked for are not possible).
fn message_of(total: usize, fields: usize) -> Vec<u8> {
    let from = b"From: ceo@example.com\r\n";
    let mut m = Vec::with_capacity(total + 64);
    // The fields asked for, short; then filler up to the size.
    for _ in 1..fields {
        m.extend_from_slice(b"X-F: a\r\n");
    }
    while m.len() + from.len() < total {
        let room = total - from.len() - m.len();
        let n = room.min(1000);
        if n < 12 {
            m.extend_from_slice(b"X-F:");
            m.extend(std::iter::repeat_n(b'a', n - 6));
            m.extend_from_slice(b"\r\n");
            break;
        }
        m.extend_from_slice(b"X-Filler: ");
        m.extend(std::iter::repeat_n(b'a', n - 12));
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(from);
    assert!(total == 0 || m.len() == total, "{} != {total}", m.len());
    m.extend_from_slice(b"\r\nbody\r\n");
    m
}

/// The API takes a header of 1 MiB and 5,000 fields; one byte or one field more: verify
/// judges no method (`malformed`, DMARC `permerror`), analyze answers 400.
#[test]
fn api_header_limits_hold() {
    let server = Server::example(&["--authserv-id", "mx.example.org"]);
    let limit = 1024 * 1024;
    let post = |path: &str, m: &[u8]| {
        let (status, _, body) =
            server.request("POST", path, &format!("Content-Length: {}\r\n", m.len()), m);
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let verify = "/api/v1/verify?ip=192.0.2.25&mail_from=ceo%40example.com";
    for (m, over) in [
        (message_of(limit, 1), false),
        (message_of(limit + 1, 1), true),
        (message_of(0, 5_000), false),
        (message_of(0, 5_001), true),
    ] {
        let (status, body) = post(verify, &m);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["malformed"].is_string(), over, "{}: {v}", m.len());
        if over {
            assert_eq!(v["dmarc"]["result"], "permerror", "{v}");
        } else {
            // Judged whole: the From at the very end was seen.
            assert_eq!(v["dmarc"]["header_from"], "example.com", "{v}");
        }
        let (status, body) = post("/api/v1/analyze", &m);
        if over {
            assert_eq!(status, 400, "{body}");
            assert!(
                body.contains("the header is larger than 1048576 bytes")
                    || body.contains("the header has more than 5000 fields"),
                "{body}"
            );
        } else {
            assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);
        }
    }
}

/// `--timeout`: a request not answered in time gets 503 and a JSON error. The request
/// is made slow for sure: its body is announced and never sent (the server asks for it
/// with `100 Continue`, so the handler is known to be running).
#[test]
fn a_request_past_the_timeout_gets_503() {
    use std::io::Write;
    let server = Server::example(&["--timeout", "1"]);
    // In time: answered.
    assert_eq!(server.get("/api/v1/openapi.json").0, 200);
    let mut s = connect(&server);
    s.write_all(
        b"POST /api/v1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
          Expect: 100-continue\r\nContent-Length: 100\r\n\r\n",
    )
    .unwrap();
    assert!(read_head(&mut s).starts_with("http/1.1 100 continue"));
    let started = std::time::Instant::now();
    let head = read_head(&mut s);
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let mut body = String::new();
    use std::io::Read;
    let _ = s.read_to_string(&mut body);
    assert!(body.contains("no answer within 1 s"), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// A page past `--timeout` gets an error page in the reader's language, not the API's
/// JSON (a browser showed raw JSON); an upload to a page that streams past
/// `--max-body` (chunked, its size not told) gets 413, not 500.
#[test]
fn pages_past_their_limits_get_pages() {
    use std::io::{Read, Write};
    let server = Server::example(&["--timeout", "1", "--max-body", "1000"]);
    let mut s = connect(&server);
    s.write_all(
        b"POST /analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
          Accept-Language: ja\r\nExpect: 100-continue\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
    )
    .unwrap();
    assert!(read_head(&mut s).starts_with("http/1.1 100 continue"));
    let head = read_head(&mut s);
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    let mut body = Vec::new();
    let _ = s.read_to_end(&mut body);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("1 秒以内に応答がありませんでした"), "{body}");
    // A multipart upload, chunked, past the bound.
    let boundary = "b0undary";
    let part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{}\r\n--{boundary}--\r\n",
        "x".repeat(1500)
    );
    let (status, headers, _) = server.request(
        "POST",
        "/analyze",
        &format!(
            "Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n"
        ),
        format!("{:x}\r\n{part}\r\n0\r\n\r\n", part.len()).as_bytes(),
    );
    assert_eq!(status, 413, "{headers}");
    assert!(headers.contains("content-type: text/html"), "{headers}");
}

/// A client that sends its request head slowly (slowloris) is cut off after
/// `--timeout`, whatever it sends meanwhile: the head must be whole in time.
#[test]
fn a_request_head_sent_slowly_is_cut_off() {
    use std::io::{Read, Write};
    let server = Server::example(&["--timeout", "1"]);
    let mut s = connect(&server);
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let started = std::time::Instant::now();
    s.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // One more header line every 300 ms, for up to 6 s: past the 1 s bound.
    let mut cut = false;
    for i in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        if s.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
            .is_err()
        {
            cut = true;
            break;
        }
    }
    // Whatever was written, the server ends the connection without serving the request.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("200 OK"), "{text}");
    assert!(
        cut || started.elapsed() < std::time::Duration::from_secs(15),
        "not cut off"
    );
    // The server still answers others.
    assert_eq!(server.get("/api/v1/openapi.json").0, 200);
}

/// `--concurrency`: over every route, at most N requests are handled at once; the
/// others wait for a turn. With N = 1, a check held by a DNS server that never answers
/// keeps a request for another path waiting until it is answered. The fixed files
/// (style, script, icon, the API description) are answered meanwhile: they do not wait
/// behind requests that wait on DNS.
#[test]
fn requests_wait_for_a_turn_across_routes() {
    use std::io::{Read, Write};
    // A DNS server that takes every query and answers none.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = silent.local_addr().unwrap().to_string();
    let server = Server::start(&[
        "--dns-server",
        &dns,
        "--dns-timeout",
        "3",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--concurrency",
        "1",
        "--timeout",
        "60",
    ]);
    let mut first = connect(&server);
    first
        .write_all(b"GET /api/v1/check/example.com HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Its first DNS query arrives: the check runs, holding the one turn.
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut query = [0u8; 512];
    silent.recv_from(&mut query).expect("the check asks DNS");
    for fixed in ["/static/monban.css", "/api/v1/openapi.json", "/favicon.ico"] {
        assert_eq!(server.get(fixed).0, 200, "{fixed}");
    }
    let mut second = connect(&server);
    second
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Not answered while the turn is held (without the bound it is answered at once).
    second
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let mut b = [0u8; 1];
    match second.read(&mut b) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("answered while the only turn was taken: {other:?}"),
    }
    // The check ends (its DNS timed out); then the second gets its turn.
    assert!(read_head(&mut first).starts_with("http/1.1 200"));
    second
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    assert!(read_head(&mut second).starts_with("http/1.1 200"));
}

/// A page of another site cannot make a visitor's browser post to the API (a
/// "simple" cross-site POST needs no preflight; a trial's ran a whole verification
/// with DNS): a foreign `Origin` or a cross-site `Sec-Fetch-Site` gets 403. Clients
/// that are no browser (no Origin) and same-origin pages are served.
#[test]
fn cross_site_posts_to_the_api_are_refused() {
    let server = Server::example(&[]);
    let message = b"From: a@example.com\r\n\r\nbody\r\n";
    for (extra, status) in [
        ("", 200),
        ("Origin: http://127.0.0.1\r\n", 200),
        ("Sec-Fetch-Site: same-origin\r\n", 200),
        (
            "Origin: http://evil.example\r\nContent-Type: text/plain\r\n",
            403,
        ),
        ("Sec-Fetch-Site: cross-site\r\n", 403),
        ("Origin: null\r\n", 403),
    ] {
        let extra = format!("{extra}Content-Length: {}\r\n", message.len());
        let (got, headers, body) = server.request("POST", "/api/v1/analyze", &extra, message);
        assert_eq!(got, status, "{extra:?}: {}", String::from_utf8_lossy(&body));
        if status == 403 {
            assert!(
                headers.contains("content-type: application/json"),
                "{headers}"
            );
        }
    }
}

/// A request body is read whole before its request takes a turn: an upload sent
/// slowly (here: announced and held back) holds none. 70 slow uploads had held every
/// DNS turn for the request timeout, and the checker answered nobody (a trial's).
/// With one turn, a check is answered while an upload is still pending; the upload is
/// answered once its body arrives.
#[test]
fn a_slow_upload_holds_no_turn() {
    use std::io::Write;
    let server = Server::example(&["--concurrency", "1", "--timeout", "60"]);
    let mut upload = connect(&server);
    let message = b"From: a@example.com\r\n\r\nbody\r\n";
    upload
        .write_all(
            format!(
                "POST /api/v1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
                 Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                message.len()
            )
            .as_bytes(),
        )
        .unwrap();
    // The server asks for the body: the request is under way.
    assert!(read_head(&mut upload).starts_with("http/1.1 100 continue"));
    let (status, _, _) = server.get("/check?domain=example.com");
    assert_eq!(status, 200);
    upload.write_all(message).unwrap();
    assert!(read_head(&mut upload).starts_with("http/1.1 200"));
}

/// hyper's bounds on the request head: 100 fields are read, 101 get 431; a head of
/// 417,792 bytes without its end gets 431 too, never a hang.
#[test]
fn an_oversized_request_head_gets_431() {
    let server = Server::example(&[]);
    let head = |fields: usize| {
        // Host and Connection are two of the fields.
        let mut h = String::from(
            "GET /api/v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
        );
        for n in 2..fields {
            h.push_str(&format!("X-Field-{n}: {n}\r\n"));
        }
        h.push_str("\r\n");
        h
    };
    let answer = raw(&server, head(100).as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = raw(&server, head(101).as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A long field within the buffer is read.
    let mut big = head(3).into_bytes();
    big.truncate(big.len() - 2);
    big.extend_from_slice(b"X-Big: ");
    big.extend(std::iter::repeat_n(b'a', 400_000));
    big.extend_from_slice(b"\r\n\r\n");
    let answer = raw(&server, &big);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    // The buffer filled (417,792 bytes, exactly what is sent: nothing is left unread
    // for a reset to lose the answer) without the head's end: 431.
    let mut endless = head(3).into_bytes();
    endless.truncate(endless.len() - 2);
    endless.extend_from_slice(b"X-Big: ");
    endless.resize(8192 + 4096 * 100, b'a');
    let answer = raw(&server, &endless);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

/// At most 20 selectors, at most 100 query parameters: the exact number is read (and
/// then judged by name), one more refused with a JSON error that says so.
#[test]
fn selectors_and_query_parameters_are_bounded() {
    let server = Server::example(&[]);
    let selectors = |n: usize| {
        (1..=n)
            .map(|i| format!("selector=s{i}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let (status, _, body) = server.get(&format!("/api/v1/check/example.com?{}", selectors(20)));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = server.get(&format!("/api/v1/check/example.com?{}", selectors(21)));
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("at most 20 selectors"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let params = |n: usize| {
        (0..n)
            .map(|i| format!("x{i}=1"))
            .collect::<Vec<_>>()
            .join("&")
    };
    // Within the bound the names are read, and a name the path does not take is
    // refused by name; past it, the query is refused as a whole.
    let (status, _, body) = server.get(&format!("/api/v1/check/example.com?{}", params(100)));
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains(r#"unknown query parameter \"x0\""#),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, _, body) = server.get(&format!("/api/v1/check/example.com?{}", params(101)));
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("too many query parameters (at most 100)"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}
