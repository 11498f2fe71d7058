//! `monban serve` for the tests: the real binary on a loopback port, plain HTTP/1.1
//! requests over a socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `monban serve` on a loopback port of its choosing, killed when dropped.
pub struct Server {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Server {
    /// Starts `monban ARGS` (which must end in `serve --listen 127.0.0.1:0 ...`).
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_monban"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut port = 0;
        for _ in 0..5 {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(rest) = line
                .trim()
                .strip_prefix("monban serve: listening on http://")
            {
                port = rest
                    .trim_end_matches('/')
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                break;
            }
        }
        assert!(port > 0, "the server did not start");
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = err.read_to_string(&mut sink);
        });
        Self { child, port }
    }

    /// `monban --zone examples/example.zone serve --listen 127.0.0.1:0` with `extra`
    /// flags after `serve`.
    pub fn example(extra: &[&str]) -> Self {
        let zone = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/example.zone")
            .display()
            .to_string();
        let mut args = vec!["--zone", zone.as_str(), "serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// (status, headers lower-cased, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        extra: &str,
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let headers = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
        let status: u16 = headers[9..12].parse().unwrap();
        let mut body = out[split + 4..].to_vec();
        if headers.contains("transfer-encoding: chunked") {
            body = unchunk(&body);
        }
        (status, headers, body)
    }

    pub fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.request("GET", path, "", b"")
    }

    /// The status of `GET path` sent with `Host: host`.
    pub fn get_as_host(&self, host: &str, path: &str) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out[..12.min(out.len())])[9..]
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SQLite store in `dir` with parsedmarc's sample aggregate reports imported; its URL.
pub fn sample_store(dir: &std::path::Path) -> String {
    let store = format!("sqlite:{}", dir.join("m.db").display());
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/suites/parsedmarc-samples/aggregate");
    let out = super::run(
        &[
            "report",
            "import",
            "--store",
            &store,
            samples.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    store
}
