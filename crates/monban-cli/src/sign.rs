//! `monban sign`: adds a `DKIM-Signature` (RFC 6376 §5) to a message.
//!
//! The body is hashed as it streams. The signature goes on top of the message, so the
//! message is read twice: a file from disk again, standard input from a spool file
//! written during the first pass. Memory stays constant whatever the size.

use std::io::{self, Read, Seek, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use monban::dkim::{Canonicalization, DkimSigner, SignError, SignerConfig, SigningKey};
use monban::message::{CrlfNormalizer, Headers, MessageSplitter, Split};

use crate::Failure;
use crate::input::{self, Source};

/// Flags of `monban sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The signing domain (d=): the author's domain, or the signing service's.
    #[arg(long, value_name = "D")]
    domain: String,
    /// The selector (s=).
    #[arg(long, value_name = "S")]
    selector: String,
    /// The private key (PEM: PKCS#8 RSA or Ed25519, or PKCS#1 RSA).
    #[arg(long, value_name = "FILE")]
    key: std::path::PathBuf,
    /// Header fields to sign, colon-separated, in order (default: From, To, Cc, Subject,
    /// Date, Reply-To and the Content-* fields oversigned, and other common fields).
    #[arg(long, value_name = "h1:h2")]
    headers: Option<String>,
    /// header/body canonicalization: relaxed/relaxed (default), simple/simple, ...
    #[arg(long, value_name = "HEADER/BODY", default_value = "relaxed/relaxed")]
    canonicalization: String,
    /// The AUID (i=), e.g. @sub.example.com or user@example.com.
    #[arg(long, value_name = "AUID")]
    identity: Option<String>,
    /// Add l= with the body length (lets others append content: not recommended).
    #[arg(long)]
    body_length: bool,
    /// Add x=: the signature expires this many seconds after signing.
    #[arg(long, value_name = "SECONDS")]
    expire: Option<u64>,
    /// Also sign with DKIM2 (draft-ietf-dkim-dkim2-spec-02; off while it is a draft):
    /// a DKIM2-Signature over the SMTP envelope (--mail-from, --rcpt-to) and, for a
    /// message not yet signed, Message-Instance m=1.
    #[arg(long, requires_all = ["mail_from", "rcpt_to"])]
    dkim2: bool,
    /// With --dkim2: the SMTP MAIL FROM the message is sent with ("" for the null sender).
    #[arg(long, value_name = "ADDR", requires = "dkim2")]
    mail_from: Option<String>,
    /// With --dkim2: an SMTP RCPT TO (repeatable).
    #[arg(long = "rcpt-to", value_name = "ADDR", requires = "dkim2")]
    rcpt_to: Vec<String>,
    /// With --dkim2: a nonce (n=, up to 64 printable characters without ';').
    #[arg(long, value_name = "TEXT", requires = "dkim2")]
    nonce: Option<String>,
    /// With --dkim2: for a message this hop changed, the recipe (a JSON file) that
    /// rebuilds the message it received.
    #[arg(long, value_name = "FILE", requires = "dkim2")]
    recipe: Option<std::path::PathBuf>,
    /// The message (default: standard input).
    #[arg(value_name = "FILE")]
    file: Option<String>,
}

fn parse_canonicalization(s: &str) -> Result<(Canonicalization, Canonicalization), Failure> {
    let (h, b) = s.split_once('/').unwrap_or((s, "simple"));
    match (
        Canonicalization::from_name(h),
        Canonicalization::from_name(b),
    ) {
        (Some(h), Some(b)) => Ok((h, b)),
        _ => Err(Failure::usage(format!(
            "--canonicalization {s:?}: expected HEADER/BODY with each simple or relaxed"
        ))),
    }
}

pub fn run(args: SignArgs) -> Result<(), Failure> {
    let (hc, bc) = parse_canonicalization(&args.canonicalization)?;
    if args.expire == Some(0) {
        return Err(Failure::usage("--expire must be at least 1 second"));
    }
    if let Some(m) = &args.mail_from {
        monban::pipeline::check_mail_from(m)
            .map_err(|e| Failure::usage(format!("--mail-from {e}")))?;
    }
    for r in &args.rcpt_to {
        monban::pipeline::check_mail_from(r)
            .map_err(|e| Failure::usage(format!("--rcpt-to {e}")))?;
    }
    let key = read_key(&args.key)?;
    let domain = monban::dkim::signature::ascii_domain(&args.domain)
        .ok_or_else(|| not_a_name("--domain", &args.domain))?;
    let mut config = SignerConfig::new(&domain, &args.selector, Arc::new(key));
    config.header_canonicalization = hc;
    config.body_canonicalization = bc;
    // The AUID's domain in A-labels, as --domain's (its local part must be ASCII).
    // A trailing dot goes, as --domain's does (i= names the domain without it).
    config.identity = args.identity.as_ref().map(|i| match i.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => {
            match monban::dkim::signature::ascii_domain(domain) {
                Some(ascii) => format!("{local}@{ascii}"),
                None => i.clone(),
            }
        }
        Some((local, domain)) if domain.len() > 1 && domain.ends_with('.') => {
            format!("{local}@{}", domain.strip_suffix('.').unwrap_or(domain))
        }
        _ => i.clone(),
    });
    config.body_length = args.body_length;
    config.expire_after = args.expire;
    if let Some(h) = &args.headers {
        let list: Vec<String> = h
            .split(':')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        config.headers = Some(list);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // What the signature will say is checked before the message is read: a bad flag is
    // a usage error naming it, not a failure after reading.
    config.check(now).map_err(|e| sign_usage(e, &args))?;

    let source = Source::from_arg(args.file.as_deref());
    let dkim2 = match args.dkim2 {
        false => None,
        true => Some(monban::dkim2::Dkim2SignConfig {
            domain: config.domain.clone(),
            selector: config.selector.clone(),
            key: config.key.clone(),
            mail_from: args.mail_from.clone().unwrap_or_default(),
            rcpt_to: args.rcpt_to.clone(),
            nonce: args.nonce.clone(),
            flags: Vec::new(),
            recipe: match &args.recipe {
                None => None,
                Some(p) => Some(
                    monban_dns::file::read_text_limited(p, 1 << 20)
                        .map_err(|e| Failure::other(format!("--recipe {}: {e}", p.display())))?,
                ),
            },
        }),
    };
    struct Signing {
        config: Option<SignerConfig>,
        now: u64,
        label: String,
        signer: Option<DkimSigner>,
        /// For DKIM2: the header and the body (whole, bounded), when asked for.
        dkim2: Option<(Option<Headers>, Vec<u8>)>,
        too_large: bool,
    }
    impl MessageSink for Signing {
        fn header(&mut self, headers: Headers) -> Result<(), Failure> {
            if let Some(d) = self.dkim2.as_mut() {
                d.0 = Some(headers.clone());
            }
            self.signer = Some(start(headers, &mut self.config, self.now, &self.label)?);
            Ok(())
        }
        fn body(&mut self, chunk: &[u8]) {
            if let Some(s) = self.signer.as_mut() {
                s.body(chunk);
            }
            if let Some(d) = self.dkim2.as_mut() {
                if d.1.len() + chunk.len() > monban::pipeline::MAX_DKIM2_BODY {
                    self.too_large = true;
                } else {
                    d.1.extend_from_slice(chunk);
                }
            }
        }
    }
    let mut sink = Signing {
        config: Some(config),
        now,
        label: source.label(),
        signer: None,
        dkim2: dkim2.as_ref().map(|_| (None, Vec::new())),
        too_large: false,
    };
    let pass = first_pass(&source, &mut sink)?;
    let signer = sink.signer.expect("first_pass gives the header");
    let values = signer.finish().map_err(|e| Failure::other(e.to_string()))?;
    let mut prefix = String::new();
    if let (Some(c), Some((headers, body))) = (&dkim2, &sink.dkim2) {
        if sink.too_large {
            return Err(Failure::other(format!(
                "{}: the body is larger than {} MiB, the most signed with DKIM2",
                source.label(),
                monban::pipeline::MAX_DKIM2_BODY >> 20
            )));
        }
        let headers = headers.as_ref().expect("first_pass gives the header");
        prefix.push_str(
            &monban::dkim2::sign(headers, body, c, now)
                .map_err(|e| Failure::other(format!("DKIM2: {e}")))?,
        );
    }
    for v in &values {
        prefix.push_str(&format!("DKIM-Signature:{v}\r\n"));
    }
    pass.write_with(&prefix, &source)
}

/// What the first of the two passes over a message leaves for the second.
pub(crate) struct FirstPass {
    /// Where the second pass reads the message again.
    again: Again,
    /// The message uses bare LF line endings (its first line does).
    lf_only: bool,
}

/// How the second pass reads the message again.
enum Again {
    /// Input that cannot be read twice (standard input, a pipe given by name such as
    /// `/dev/stdin` or `<(...)`, a FIFO, a device), spooled while the first pass read it.
    Spool(std::fs::File),
    /// A regular file, read again through the handle the first pass read (not opened
    /// again by name: it may have been replaced), with its length and modification
    /// time when the first pass began.
    File {
        file: std::fs::File,
        stamp: (u64, Option<SystemTime>),
    },
}

/// A regular file's length and modification time: when they differ after the second
/// pass, the file changed while it was signed.
fn stamp(meta: &std::fs::Metadata) -> (u64, Option<SystemTime>) {
    (meta.len(), meta.modified().ok())
}

/// Where [`first_pass`] sends a message: the header once, then the body chunks.
pub(crate) trait MessageSink {
    /// The header, CRLF-normalized.
    fn header(&mut self, headers: Headers) -> Result<(), Failure>;
    /// A body chunk (CRLF).
    fn body(&mut self, chunk: &[u8]);
}

/// Reads a message once, streaming, into `sink`, spooling standard input for the second
/// pass. Constant memory whatever the size; a header over the limits is an error naming
/// the input.
pub(crate) fn first_pass(
    source: &Source,
    sink: &mut dyn MessageSink,
) -> Result<FirstPass, Failure> {
    let spool_file =
        || tempfile().map_err(|e| Failure::other(format!("cannot create a spool file: {e}")));
    // Only a regular file can be read twice: anything else is spooled while hashed (a
    // pipe given by name was read empty the second time, and the message lost).
    let (mut reader, again): (Box<dyn Read>, Again) = match source {
        Source::Stdin => (Box::new(io::stdin().lock()), Again::Spool(spool_file()?)),
        Source::File(p, _) => {
            let named = |e: io::Error| Failure::other(format!("{}: {e}", p.display()));
            let file = input::open_file(p).map_err(named)?;
            let meta = file.metadata().map_err(named)?;
            if meta.is_file() {
                let again = Again::File {
                    file: file.try_clone().map_err(named)?,
                    stamp: stamp(&meta),
                };
                (Box::new(file), again)
            } else {
                (Box::new(file), Again::Spool(spool_file()?))
            }
        }
        Source::Unlisted(_, why) => return Err(Failure::other(why.clone())),
    };
    let mut spool = match &again {
        Again::Spool(f) => Some(f),
        Again::File { .. } => None,
    };
    let mut normalizer = CrlfNormalizer::new();
    let mut splitter = MessageSplitter::new();
    let mut buf = vec![0u8; input::CHUNK];
    let mut norm = Vec::with_capacity(input::CHUNK + 1024);
    let mut lf_only: Option<bool> = None;
    let mut seen_header = false;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::other(format!("{}: {e}", source.label()))),
        };
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if lf_only.is_none()
            && let Some(i) = chunk.iter().position(|&b| b == b'\n')
        {
            lf_only = Some(i == 0 || chunk[i - 1] != b'\r');
        }
        if let Some(s) = spool.as_mut() {
            s.write_all(chunk)
                .map_err(|e| Failure::other(format!("spool: {e}")))?;
        }
        match splitter
            .push(normalizer.apply(chunk, &mut norm))
            .map_err(|e| Failure::other(format!("{}: {e}", source.label())))?
        {
            Split::Header => {}
            Split::HeaderDone(headers, b) => {
                sink.header(headers)?;
                seen_header = true;
                sink.body(b);
            }
            Split::Body(b) => sink.body(b),
        }
    }
    if !seen_header {
        let headers = splitter
            .finish()
            .map_err(|e| Failure::other(format!("{}: {e}", source.label())))?
            .unwrap_or_default();
        sink.header(headers)?;
    }
    Ok(FirstPass {
        again,
        lf_only: lf_only == Some(true),
    })
}

impl FirstPass {
    /// The second pass: writes `prefix` (header lines, CRLF) in the message's own line
    /// endings, then the message as it came, to standard output.
    ///
    /// A reader of the output that goes away (`| head`) ends the command quietly, as it
    /// ends the others; another write error is named.
    pub(crate) fn write_with(self, prefix: &str, source: &Source) -> Result<(), Failure> {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let eol = if self.lf_only { "\n" } else { "\r\n" };
        let written = |r: io::Result<()>| -> Result<bool, Failure> {
            match r {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
                Err(e) => Err(Failure::other(format!("cannot write the output: {e}"))),
            }
        };
        if !written(out.write_all(prefix.replace("\r\n", eol).as_bytes()))? {
            return Ok(());
        }
        let (mut again, stamped) = match self.again {
            Again::Spool(f) => (f, None),
            Again::File { file, stamp } => (file, Some(stamp)),
        };
        again
            .rewind()
            .map_err(|e| Failure::other(format!("{}: {e}", source.label())))?;
        let mut buf = vec![0u8; input::CHUNK];
        loop {
            let n = match again.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::other(format!("{}: {e}", source.label()))),
            };
            if !written(out.write_all(&buf[..n]))? {
                return Ok(());
            }
        }
        written(out.flush())?;
        // A file written to meanwhile: what was copied is not what was signed.
        if let Some(before) = stamped {
            let now = again
                .metadata()
                .map_err(|e| Failure::other(format!("{}: {e}", source.label())))?;
            if stamp(&now) != before {
                return Err(Failure::other(format!(
                    "{} changed while it was being signed: the output does not match its signature; sign it again once nothing writes to it",
                    source.label()
                )));
            }
        }
        Ok(())
    }
}

/// Reads a PEM private key file (bounded), with errors that name the file.
pub(crate) fn read_key(path: &std::path::Path) -> Result<SigningKey, Failure> {
    let pem = read_key_text(path)?;
    let key = SigningKey::from_pem(&pem)
        .map_err(|e| Failure::other(format!("{}: {e}", path.display())))?;
    // RFC 8301 §3.2: verifiers must handle RSA keys up to 4,096 bits; a longer one signs,
    // and some verifiers fail what it signs (keygen makes none).
    if key.bits() > 4096 {
        errln!(
            "monban: warning: {} is an RSA key of {} bits: verifiers need only handle up to 4096 (RFC 8301 §3.2), so some will fail these signatures",
            path.display(),
            key.bits()
        );
    }
    Ok(key)
}

/// The text of a key file (bounded). A binary file that starts as DER does (an ASN.1
/// SEQUENCE) is named as a DER key, with the command that makes it PEM, rather than as
/// "not valid UTF-8".
pub(crate) fn read_key_text(path: &std::path::Path) -> Result<String, Failure> {
    use monban_dns::file::ReadError;
    let bytes =
        monban_dns::file::read_limited(path, crate::MAX_KEY_FILE_BYTES).map_err(|e| match e {
            ReadError::Io(e) => {
                Failure::other(format!("cannot read the key {}: {e}", path.display()))
            }
            e => Failure::other(format!("the key {} {e}", path.display())),
        })?;
    String::from_utf8(bytes).map_err(|e| {
        let p = path.display();
        if e.as_bytes().first() == Some(&0x30) {
            Failure::other(format!(
                "the key {p} is binary (DER); monban reads PEM keys: openssl pkey -inform DER \
                 -in {p} -out {p}.pem"
            ))
        } else {
            Failure::other(format!(
                "the key {p} is not a PEM file (not text: not valid UTF-8)"
            ))
        }
    })
}

fn start(
    headers: Headers,
    config: &mut Option<SignerConfig>,
    now: u64,
    label: &str,
) -> Result<DkimSigner, Failure> {
    let config = config.take().expect("one message, one start");
    DkimSigner::new(headers, vec![config], now).map_err(|e| Failure::other(format!("{label}: {e}")))
}

/// `--domain` or `--selector` that is not a DNS name, as a usage error with the value
/// as given (before it was lower-cased).
pub(crate) fn not_a_name(flag: &str, value: &str) -> Failure {
    let what = match flag {
        "--domain" => "a domain name",
        _ => "a valid selector (DNS labels: letters, digits, hyphens)",
    };
    Failure::usage(format!("{flag} {value:?} is not {what}"))
}

/// A signing setting refused by [`SignerConfig::check`], as a usage error naming the
/// flag and the value as given.
fn sign_usage(e: SignError, args: &SignArgs) -> Failure {
    match e {
        SignError::Domain(_) => not_a_name("--domain", &args.domain),
        SignError::Selector(_) => not_a_name("--selector", &args.selector),
        SignError::HeaderName(_) | SignError::FromNotListed | SignError::TooManyHeaders => {
            Failure::usage(format!("--headers: {e}"))
        }
        SignError::Identity(_) | SignError::IdentityText(_) | SignError::IdentitySyntax(_) => {
            Failure::usage(format!("--identity: {e}"))
        }
        SignError::Expire(_) => Failure::usage(format!("--expire: {e}")),
        e => Failure::other(e.to_string()),
    }
}

/// An anonymous spool file in the temporary directory (removed at once; the open handle
/// keeps it until exit). Created readable by its owner only: another user who opens the
/// name before it is removed must not read the message.
pub(crate) fn tempfile() -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::temp_dir();
    for n in 0..100u32 {
        let path = dir.join(format!("monban-sign-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&path);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        }
    }
    Err(io::Error::other(format!(
        "no free spool file name in {}",
        dir.display()
    )))
}
