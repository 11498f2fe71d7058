//! A small IMAP4rev1 client (RFC 3501) for `report import imap://...`: log in over TLS
//! (implicit TLS for `imaps://`, STARTTLS for `imap://`, never a password in clear),
//! select a mailbox, list the messages not yet imported, fetch one at a time (bounded),
//! and after the store has committed their reports flag them `$MonbanImported` or move
//! them (MOVE, RFC 6851; else COPY, and UID EXPUNGE of RFC 4315 when offered).
//!
//! Only what the importer needs; every server line and literal is bounded.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The keyword set on imported messages.
pub const IMPORTED: &str = "$MonbanImported";
/// The longest server line read (without literals).
const MAX_LINE: usize = 64 * 1024;
/// The longest SEARCH answer line (a UID list: about 1.6 million UIDs).
const MAX_SEARCH_LINE: usize = 16 << 20;
/// The most untagged responses to one command.
const MAX_RESPONSES: usize = 1_000_000;
/// How long one server answer may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// `imap://USER@HOST[:PORT]/MAILBOX` (STARTTLS, port 143) or `imaps://...` (TLS, 993).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// Implicit TLS (`imaps`) rather than STARTTLS.
    pub implicit_tls: bool,
    /// The user.
    pub user: String,
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The mailbox (`INBOX` when none is given).
    pub mailbox: String,
}

impl ImapUrl {
    /// Parses the URL; the user and mailbox may be percent-encoded.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{s}: {why} (expected imap://USER@HOST[:PORT]/MAILBOX)");
        let (implicit_tls, rest) = if let Some(r) = s.strip_prefix("imaps://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("imap://") {
            (false, r)
        } else {
            return Err(bad("not an imap:// URL"));
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, hostport) = authority.rsplit_once('@').ok_or_else(|| bad("no user"))?;
        if user.contains(':') {
            return Err(bad(
                "the password does not go in the URL; set MONBAN_IMAP_PASSWORD",
            ));
        }
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (h, p) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                (h.to_string(), p.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            },
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None if implicit_tls => 993,
            None => 143,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let user = percent_decode(user).ok_or_else(|| bad("bad %-escape in the user"))?;
        let mailbox = percent_decode(path).ok_or_else(|| bad("bad %-escape in the mailbox"))?;
        let mailbox = if mailbox.is_empty() {
            "INBOX".to_string()
        } else {
            mailbox
        };
        if user.is_empty()
            || user.contains(['\r', '\n', '\0'])
            || mailbox.contains(['\r', '\n', '\0'])
        {
            return Err(bad("empty user, or a control character"));
        }
        Ok(Self {
            implicit_tls,
            user,
            host,
            port,
            mailbox,
        })
    }
}

impl fmt::Display for ImapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.implicit_tls { "imaps" } else { "imap" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "{scheme}://{}@{host}:{}/{}",
            self.user, self.port, self.mailbox
        )
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// Connecting, reading or writing failed.
    #[error("{place}: {why}")]
    Io {
        /// The server.
        place: String,
        /// Why.
        why: String,
    },
    /// The server said no.
    #[error("{place}: {command} refused: {answer}")]
    Refused {
        /// The server.
        place: String,
        /// The command (without arguments).
        command: String,
        /// The server's words.
        answer: String,
    },
    /// The server's answer cannot be read.
    #[error("{place}: unexpected answer: {answer}")]
    Protocol {
        /// The server.
        place: String,
        /// The start of the answer.
        answer: String,
    },
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One untagged response: its text (literals replaced by `{n}`) and its literals.
#[derive(Debug, Default)]
struct Response {
    text: Vec<u8>,
    literals: Vec<Vec<u8>>,
}

/// What [`ImapSession::fetch`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The message.
    Message(Vec<u8>),
    /// Over the size asked for.
    TooLarge,
    /// No such message (any more).
    Gone,
}

/// A logged-in session with the mailbox selected.
pub struct ImapSession {
    stream: BufReader<Box<dyn Io>>,
    place: String,
    tag: u32,
    capabilities: Vec<String>,
    max_literal: u64,
    max_line: usize,
}

impl fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSession")
            .field("place", &self.place)
            .finish()
    }
}

/// The TLS client configuration: the Mozilla roots, plus the PEM certificates of
/// `$MONBAN_IMAP_CA` when set (a private CA, or a test server's own certificate).
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = std::env::var_os("MONBAN_IMAP_CA").filter(|p| !p.is_empty()) {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("MONBAN_IMAP_CA {}: {e}", path.to_string_lossy()))?;
        for c in certs {
            let c = c.map_err(|e| format!("MONBAN_IMAP_CA {}: {e}", path.to_string_lossy()))?;
            roots
                .add(c)
                .map_err(|e| format!("MONBAN_IMAP_CA {}: {e}", path.to_string_lossy()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

async fn timed<T>(
    place: &str,
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ImapError::Io {
            place: place.to_string(),
            why: e.to_string(),
        }),
        Err(_) => Err(ImapError::Io {
            place: place.to_string(),
            why: format!("no answer in {} s", TIMEOUT.as_secs()),
        }),
    }
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

async fn tls_wrap(tcp: Box<dyn Io>, host: &str, place: &str) -> Result<Box<dyn Io>, ImapError> {
    let io_err = |why: String| ImapError::Io {
        place: place.to_string(),
        why,
    };
    let config = tls_config().map_err(io_err)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| io_err(format!("bad host name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = match tokio::time::timeout(TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return Err(io_err(format!("TLS: {e}"))),
        Err(_) => return Err(io_err("TLS: no handshake in time".into())),
    };
    Ok(Box::new(tls))
}

impl ImapSession {
    /// Connects, secures the connection, logs in and selects the mailbox.
    pub async fn connect(url: &ImapUrl, password: &str) -> Result<Self, ImapError> {
        let place = url.to_string();
        if password.contains(['\r', '\n', '\0']) {
            return Err(ImapError::Io {
                place,
                why: "the password has a line break or NUL".into(),
            });
        }
        let tcp = timed(&place, TcpStream::connect((url.host.as_str(), url.port))).await?;
        let mut io: Box<dyn Io> = Box::new(tcp);
        if url.implicit_tls {
            io = tls_wrap(io, &url.host, &place).await?;
        }
        Self::start(io, url, password, place, !url.implicit_tls).await
    }

    /// The conversation of [`Self::connect`] over a connection the caller secured: the
    /// greeting, LOGIN, CAPABILITY and SELECT, with the same bounds. For tests and the
    /// fuzzer (fuzz/targets.rs), which feed it a server's answers from memory.
    pub async fn over_secured_stream<S>(
        stream: S,
        url: &ImapUrl,
        password: &str,
    ) -> Result<Self, ImapError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::start(Box::new(stream), url, password, url.to_string(), false).await
    }

    async fn start(
        io: Box<dyn Io>,
        url: &ImapUrl,
        password: &str,
        place: String,
        starttls: bool,
    ) -> Result<Self, ImapError> {
        if password.contains(['\r', '\n', '\0']) {
            return Err(ImapError::Io {
                place,
                why: "the password has a line break or NUL".into(),
            });
        }
        let mut s = Self {
            stream: BufReader::new(io),
            place,
            tag: 0,
            capabilities: Vec::new(),
            max_literal: 1 << 20,
            max_line: MAX_LINE,
        };
        let greeting = s.line().await?;
        if !greeting.starts_with(b"* OK") && !greeting.starts_with(b"* PREAUTH") {
            return Err(s.protocol(&greeting));
        }
        if starttls {
            s.command("STARTTLS", "STARTTLS")
                .await
                .map_err(|e| match e {
                    ImapError::Refused { place, .. } => ImapError::Io {
                        place,
                        why: "the server offers no STARTTLS; the password is not sent in clear"
                            .into(),
                    },
                    other => other,
                })?;
            let plain = std::mem::replace(
                &mut s.stream,
                BufReader::new(
                    Box::new(tokio::io::join(tokio::io::empty(), tokio::io::sink())) as Box<dyn Io>,
                ),
            );
            if !plain.buffer().is_empty() {
                return Err(s.protocol(b"data after the STARTTLS answer"));
            }
            let io = tls_wrap(plain.into_inner(), &url.host, &s.place).await?;
            s.stream = BufReader::new(io);
        }
        s.command(
            &format!("LOGIN {} {}", quote(&url.user), quote(password)),
            "LOGIN",
        )
        .await?;
        let caps = s.command("CAPABILITY", "CAPABILITY").await?;
        for r in caps {
            if let Some(rest) = r.text.strip_prefix(b"* CAPABILITY ") {
                s.capabilities = String::from_utf8_lossy(rest)
                    .split_whitespace()
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
            }
        }
        s.command(&format!("SELECT {}", quote(&url.mailbox)), "SELECT")
            .await?;
        Ok(s)
    }

    fn protocol(&self, answer: &[u8]) -> ImapError {
        ImapError::Protocol {
            place: self.place.clone(),
            answer: String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned(),
        }
    }

    /// One line (CRLF stripped), bounded.
    async fn line(&mut self) -> Result<Vec<u8>, ImapError> {
        let mut buf = Vec::new();
        let place = self.place.clone();
        let n = timed(&place, async {
            (&mut self.stream)
                .take(self.max_line as u64 + 2)
                .read_until(b'\n', &mut buf)
                .await
        })
        .await?;
        if n == 0 {
            return Err(ImapError::Io {
                place,
                why: "the server closed the connection".into(),
            });
        }
        if !buf.ends_with(b"\n") {
            return Err(self.protocol(b"a line over its bound"));
        }
        buf.truncate(buf.len() - 1);
        if buf.ends_with(b"\r") {
            buf.truncate(buf.len() - 1);
        }
        Ok(buf)
    }

    /// Sends a command and reads up to its tagged answer.
    async fn command(&mut self, command: &str, name: &str) -> Result<Vec<Response>, ImapError> {
        self.tag += 1;
        let tag = format!("m{}", self.tag);
        let place = self.place.clone();
        let wire = format!("{tag} {command}\r\n");
        timed(&place, async {
            self.stream.get_mut().write_all(wire.as_bytes()).await?;
            self.stream.get_mut().flush().await
        })
        .await?;
        let mut responses = Vec::new();
        // All untagged data of one answer: the literal asked for and 16 MiB besides.
        let budget = self.max_literal.saturating_add(16 << 20);
        let mut total: u64 = 0;
        loop {
            let mut r = Response::default();
            let mut line = self.line().await?;
            total += line.len() as u64;
            // Literals: a line ending `{n}` is followed by n bytes, then the rest.
            loop {
                let Some(n) = literal_size(&line) else {
                    r.text.extend_from_slice(&line);
                    break;
                };
                if n > self.max_literal {
                    return Err(self.protocol(b"a literal over the size asked for"));
                }
                r.text.extend_from_slice(&line);
                let mut lit = vec![0u8; n as usize];
                timed(&place, self.stream.read_exact(&mut lit)).await?;
                r.literals.push(lit);
                total += n;
                line = self.line().await?;
                total += line.len() as u64;
                if total > budget {
                    return Err(self.protocol(b"an answer larger than its bound"));
                }
            }
            if total > budget {
                return Err(self.protocol(b"an answer larger than its bound"));
            }
            if r.text.starts_with(tag.as_bytes()) && r.text.get(tag.len()) == Some(&b' ') {
                let status = &r.text[tag.len() + 1..];
                if status.starts_with(b"OK") {
                    return Ok(responses);
                }
                return Err(ImapError::Refused {
                    place,
                    command: name.to_string(),
                    answer: String::from_utf8_lossy(&status[..status.len().min(200)]).into_owned(),
                });
            }
            if responses.len() >= MAX_RESPONSES {
                return Err(self.protocol(b"too many responses"));
            }
            responses.push(r);
        }
    }

    /// The UIDs of messages not flagged [`IMPORTED`], in order.
    pub async fn unseen_uids(&mut self) -> Result<Vec<u32>, ImapError> {
        self.max_line = MAX_SEARCH_LINE;
        let rs = self
            .command(&format!("UID SEARCH UNKEYWORD {IMPORTED}"), "SEARCH")
            .await;
        self.max_line = MAX_LINE;
        let rs = rs?;
        let mut uids = Vec::new();
        for r in rs {
            if let Some(rest) = r.text.strip_prefix(b"* SEARCH") {
                for w in String::from_utf8_lossy(rest).split_whitespace() {
                    if let Ok(u) = w.parse::<u32>() {
                        uids.push(u);
                    }
                }
            }
        }
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The whole message with this UID, without setting `\Seen` (only `max + 1` bytes
    /// are transferred: more is [`Fetched::TooLarge`]).
    pub async fn fetch(&mut self, uid: u32, max: u64) -> Result<Fetched, ImapError> {
        self.max_literal = max + 1;
        let rs = self
            .command(
                &format!("UID FETCH {uid} (UID BODY.PEEK[]<0.{}>)", max + 1),
                "FETCH",
            )
            .await?;
        let want = format!("UID {uid}");
        for mut r in rs {
            let is_fetch = r.text.starts_with(b"* ") && contains(&r.text, b"FETCH");
            // Servers may add unsolicited FETCH answers (flag changes) for other UIDs.
            if !is_fetch || !has_word(&r.text, want.as_bytes()) {
                continue;
            }
            let Some(body) = r.literals.pop() else {
                continue;
            };
            if body.len() as u64 > max {
                return Ok(Fetched::TooLarge);
            }
            return Ok(Fetched::Message(body));
        }
        // Expunged by another client since the search.
        Ok(Fetched::Gone)
    }

    /// Marks messages done: moved to `move_to`, or flagged [`IMPORTED`].
    pub async fn mark_done(
        &mut self,
        uids: &[u32],
        move_to: Option<&str>,
    ) -> Result<(), ImapError> {
        for chunk in uids.chunks(500) {
            let set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let Some(dest) = move_to else {
                self.command(
                    &format!("UID STORE {set} +FLAGS.SILENT ({IMPORTED})"),
                    "STORE",
                )
                .await?;
                continue;
            };
            if self.capabilities.iter().any(|c| c == "MOVE") {
                self.command(&format!("UID MOVE {set} {}", quote(dest)), "MOVE")
                    .await?;
            } else {
                self.command(&format!("UID COPY {set} {}", quote(dest)), "COPY")
                    .await?;
                // Copied; flagged too, so no later run copies them again.
                self.command(
                    &format!("UID STORE {set} +FLAGS.SILENT ({IMPORTED})"),
                    "STORE",
                )
                .await?;
                if self.capabilities.iter().any(|c| c == "UIDPLUS") {
                    self.command(
                        &format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"),
                        "STORE",
                    )
                    .await?;
                    self.command(&format!("UID EXPUNGE {set}"), "EXPUNGE")
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Logs out (errors ignored: the work is done).
    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT", "LOGOUT").await;
    }
}

/// Whether `word` stands in `hay` as a whole word (`UID 5` is not in `UID 51`).
fn has_word(hay: &[u8], word: &[u8]) -> bool {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&hay[from..], word) {
        let at = from + i;
        let end = at + word.len();
        let before = at == 0 || !hay[at - 1].is_ascii_alphanumeric();
        let after = end == hay.len() || !hay[end].is_ascii_alphanumeric();
        if before && after {
            return true;
        }
        from = at + 1;
    }
    false
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// `{n}` (or `{n+}`) at the end of a line.
fn literal_size(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', inner)?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ImapUrl::parse("imap://dmarc%40example.com@127.0.0.1:1143/Reports%20In").unwrap();
        assert_eq!(
            (
                u.user.as_str(),
                u.host.as_str(),
                u.port,
                u.mailbox.as_str(),
                u.implicit_tls
            ),
            ("dmarc@example.com", "127.0.0.1", 1143, "Reports In", false)
        );
        let u = ImapUrl::parse("imaps://a@[::1]").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.mailbox.as_str()),
            ("::1", 993, "INBOX")
        );
        assert_eq!(u.to_string(), "imaps://a@[::1]:993/INBOX");
        for bad in [
            "imap://host/INBOX",
            "imap://a:pw@h/",
            "imap://a@h:x/",
            "http://a@h/",
        ] {
            assert!(ImapUrl::parse(bad).is_err(), "{bad}");
        }
    }

    type Answer = Box<dyn Fn(&str) -> Option<Vec<u8>> + Send>;

    /// A server on the other end of a pipe: a greeting, then for each command the
    /// untagged data `answer` gives for it (by its text), and `<tag> OK`.
    async fn serve(io: tokio::io::DuplexStream, answer: Answer) {
        let (r, mut w) = tokio::io::split(io);
        let mut r = BufReader::new(r);
        if w.write_all(b"* OK test\r\n").await.is_err() {
            return;
        }
        let mut line = String::new();
        loop {
            line.clear();
            if !matches!(r.read_line(&mut line).await, Ok(n) if n > 0) {
                return;
            }
            let (tag, command) = line.trim_end().split_once(' ').unwrap_or(("", ""));
            let mut out = answer(command).unwrap_or_default();
            out.extend_from_slice(format!("{tag} OK\r\n").as_bytes());
            if w.write_all(&out).await.is_err() {
                return;
            }
        }
    }

    /// Runs `test` against a session with a server answering with `answer` (commands
    /// m1 LOGIN, m2 CAPABILITY, m3 SELECT, then the test's from m4).
    fn with_server<T>(
        answer: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static,
        test: impl AsyncFnOnce(Result<ImapSession, ImapError>) -> T,
    ) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, server) = tokio::io::duplex(1 << 16);
            tokio::spawn(serve(server, Box::new(answer)));
            let url = ImapUrl::parse("imaps://reports@imap.example.com/INBOX").unwrap();
            test(ImapSession::over_secured_stream(client, &url, "secret").await).await
        })
    }

    fn refused(r: Result<impl fmt::Debug, ImapError>) -> String {
        match r {
            Err(ImapError::Protocol { answer, .. }) => answer,
            other => panic!("{other:?}"),
        }
    }

    /// Answers commands starting with `prefix` with `data`.
    fn on(prefix: &str, data: Vec<u8>) -> impl Fn(&str) -> Option<Vec<u8>> + Send + use<> {
        let prefix = prefix.to_string();
        move |c: &str| c.starts_with(&prefix).then(|| data.clone())
    }

    /// A server silent for 119 s is waited for; one that never answers ends the
    /// session at 120 s, by name. In virtual time: the waits are exact and cost nothing.
    #[tokio::test(start_paused = true)]
    async fn a_server_that_does_not_answer_is_given_up_at_120_s() {
        assert_eq!(TIMEOUT, Duration::from_secs(120));
        let url = ImapUrl::parse("imaps://reports@imap.example.com/INBOX").unwrap();
        let (client, server) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(119)).await;
            serve(server, Box::new(|_: &str| None)).await;
        });
        let start = tokio::time::Instant::now();
        let session = ImapSession::over_secured_stream(client, &url, "secret").await;
        assert!(session.is_ok(), "{session:?}");
        assert_eq!(start.elapsed(), Duration::from_secs(119));
        // Never a greeting.
        let (client, _server) = tokio::io::duplex(1 << 16);
        let start = tokio::time::Instant::now();
        match ImapSession::over_secured_stream(client, &url, "secret").await {
            Err(ImapError::Io { why, .. }) => assert_eq!(why, "no answer in 120 s"),
            other => panic!("{other:?}"),
        }
        assert_eq!(start.elapsed(), TIMEOUT);
    }

    /// A server line of 64 KiB is read; one byte more ends the session by name.
    #[test]
    fn a_server_line_over_its_bound_is_refused() {
        let line = |n: usize| format!("* {}\r\n", "x".repeat(n - 2)).into_bytes();
        with_server(on("SELECT", line(MAX_LINE)), async |s| assert!(s.is_ok()));
        with_server(on("SELECT", line(MAX_LINE + 1)), async |s| {
            assert_eq!(refused(s), "a line over its bound");
        });
    }

    /// The SEARCH answer may be 16 MiB long; one byte more is refused.
    #[test]
    fn a_search_line_over_its_bound_is_refused() {
        let line = |n: usize| {
            let mut l = b"* SEARCH 1 2 3".to_vec();
            l.resize(n, b' ');
            l.extend_from_slice(b"\r\n");
            l
        };
        let uids = with_server(on("UID SEARCH", line(MAX_SEARCH_LINE)), async |s| {
            s.unwrap().unseen_uids().await
        });
        assert_eq!(uids.unwrap(), [1, 2, 3]);
        let r = with_server(on("UID SEARCH", line(MAX_SEARCH_LINE + 1)), async |s| {
            s.unwrap().unseen_uids().await
        });
        assert_eq!(refused(r), "a line over its bound");
    }

    /// 1,000,000 untagged responses to one command are read; one more is refused.
    #[test]
    fn too_many_responses_are_refused() {
        let many = |n: usize| b"* A\r\n".repeat(n);
        let r = with_server(on("UID SEARCH", many(MAX_RESPONSES)), async |s| {
            s.unwrap().unseen_uids().await
        });
        assert!(r.unwrap().is_empty());
        let r = with_server(on("UID SEARCH", many(MAX_RESPONSES + 1)), async |s| {
            s.unwrap().unseen_uids().await
        });
        assert_eq!(refused(r), "too many responses");
    }

    /// Literals: 1 MiB outside FETCH, the size asked for plus one in FETCH (more than
    /// the message bound is `TooLarge`); one byte more ends the session by name.
    #[test]
    fn literals_over_the_size_asked_for_are_refused() {
        let literal = |n: usize| {
            let mut l = format!("* 1 X {{{n}}}\r\n").into_bytes();
            l.resize(l.len() + n, b'x');
            l.extend_from_slice(b"\r\n");
            l
        };
        with_server(on("SELECT", literal(1 << 20)), async |s| assert!(s.is_ok()));
        with_server(on("SELECT", literal((1 << 20) + 1)), async |s| {
            assert_eq!(refused(s), "a literal over the size asked for");
        });
        let fetched = |n: usize| {
            let mut l = format!("* 1 FETCH (UID 5 BODY[]<0> {{{n}}}\r\n").into_bytes();
            l.resize(l.len() + n, b'x');
            l.extend_from_slice(b")\r\n");
            l
        };
        let fetch = |n: usize| {
            with_server(on("UID FETCH", fetched(n)), async |s| {
                s.unwrap().fetch(5, 100).await
            })
        };
        assert_eq!(fetch(100).unwrap(), Fetched::Message(vec![b'x'; 100]));
        assert_eq!(fetch(101).unwrap(), Fetched::TooLarge);
        assert_eq!(refused(fetch(102)), "a literal over the size asked for");
    }

    /// All untagged data of one answer: the literal asked for and 16 MiB besides,
    /// exactly; one byte more is refused.
    #[test]
    fn an_answer_over_its_bound_is_refused() {
        let answer = |extra: usize| {
            let head = b"* 1 FETCH (UID 5 BODY[]<0> {100}".to_vec();
            // Counted: lines without their CRLF, literals, and the tagged "m4 OK".
            let budget = 101 + (16 << 20);
            let mut left = budget + extra - head.len() - 100 - 1 - "m4 OK".len();
            let mut out = head;
            out.extend_from_slice(b"\r\n");
            out.resize(out.len() + 100, b'x');
            out.extend_from_slice(b")\r\n");
            while left > 0 {
                // Lines of 2 bytes ("* ") at least: never leave 1 for the last.
                let mut n = left.min(MAX_LINE);
                if left - n == 1 {
                    n -= 1;
                }
                out.extend_from_slice(b"* ");
                out.resize(out.len() + n - 2, b'y');
                out.extend_from_slice(b"\r\n");
                left -= n;
            }
            out
        };
        let fetch = |extra: usize| {
            with_server(on("UID FETCH", answer(extra)), async |s| {
                s.unwrap().fetch(5, 100).await
            })
        };
        assert_eq!(fetch(0).unwrap(), Fetched::Message(vec![b'x'; 100]));
        assert_eq!(refused(fetch(1)), "an answer larger than its bound");
    }

    #[test]
    fn literals_and_quotes() {
        assert_eq!(literal_size(b"* 1 FETCH (UID 5 BODY[]<0> {123}"), Some(123));
        assert_eq!(literal_size(b"* 1 FETCH {12+}"), Some(12));
        assert_eq!(literal_size(b"* OK {x}"), None);
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
