//! The DKIM benchmark corpus and the monban side of the DKIM benchmarks, shared by
//! `benches/dkim_compare.rs` (monban against mail-auth) and, through `#[path]`, by the
//! in-workspace `crates/monban/benches/dkim.rs` (monban alone).
//!
//! This file uses std, monban, monban-dns and tokio only (never mail-auth), so that the
//! in-workspace bench can include it.
//!
//! - [`generate`]: a deterministic corpus (its own PRNG): one-third each of messages
//!   around 3 KB, 20 KB and 200 KB; 20 header fields each (some folded); wrapped
//!   English-like text with normal spacing, a few trailing spaces and tabs, the odd
//!   double space and the `-- ` signature separator; two messages in five
//!   `multipart/mixed` with a base64 attachment.
//! - [`MonbanDkim`]: an RSA-2048 and an Ed25519 key, their key records in a zone behind
//!   a warm [`CachingResolver`], and monban's whole-message sign and verify routines
//!   (the streaming API, the message in one chunk).
//! - [`interleave`] / [`Row`] / [`summary_table`]: the interleaved measurement behind
//!   the summary table printed after criterion, and the table.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use monban::dkim::{DkimConfig, DkimResult, DkimSigner, DkimVerifier, SignerConfig, SigningKey};
use monban::message::{MessageSplitter, Split};
use monban_dns::{CachingResolver, Record, Txt, ZoneResolver};

/// Messages in the corpus (one-third per size class).
pub const MESSAGES: usize = 999;
/// The seed of the corpus.
pub const SEED: u64 = 0x6d6f_6e62_616e_646b;
/// The signing domain (and the author's domain).
pub const DOMAIN: &str = "bench.example";
/// Header fields per generated message (before signing).
pub const HEADER_FIELDS: usize = 20;

/// The three body size classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SizeClass {
    /// Around 3 KB.
    Small,
    /// Around 20 KB.
    Medium,
    /// Around 200 KB.
    Large,
}

impl SizeClass {
    /// The class of message `i` (interleaved).
    pub fn of(i: usize) -> Self {
        match i % 3 {
            0 => Self::Small,
            1 => Self::Medium,
            _ => Self::Large,
        }
    }

    /// The target size of a whole message, in bytes.
    pub fn target(self) -> usize {
        match self {
            Self::Small => 3_000,
            Self::Medium => 20_000,
            Self::Large => 200_000,
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Small => "~3 KB",
            Self::Medium => "~20 KB",
            Self::Large => "~200 KB",
        }
    }
}

/// One generated message (CRLF line endings, unsigned).
#[derive(Debug, Clone)]
pub struct Message {
    /// The whole message.
    pub bytes: Vec<u8>,
    /// Its size class.
    pub class: SizeClass,
    /// Whether it is `multipart/mixed` with a base64 attachment.
    pub multipart: bool,
}

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: usize) -> bool {
        self.below(1000) < per_mille
    }

    /// One element.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for",
    "on", "are", "with", "as", "his", "they", "be", "at", "one", "have", "this", "from",
    "or", "had", "by", "hot", "word", "but", "what", "some", "we", "can", "out",
    "other", "were", "all", "there", "when", "up", "use", "your", "how", "said", "an",
    "each", "she", "which", "do", "their", "time", "if", "will", "way", "about", "many",
    "then", "them", "write", "would", "like", "so", "these", "her", "long", "make",
    "thing", "see", "him", "two", "has", "look", "more", "day", "could", "go", "come",
    "did", "number", "sound", "no", "most", "people", "my", "over", "know", "water",
    "than", "call", "first", "who", "may", "down", "side", "been", "now", "find",
    "meeting", "schedule", "invoice", "project", "release", "server", "attached",
    "please", "review", "thanks", "regards", "tomorrow", "quarter", "budget",
    "customer", "delivery", "update", "report", "question", "answer", "team", "office",
    "morning", "afternoon", "deadline", "proposal", "contract", "payment", "account",
    "password", "security", "network", "database", "backup", "migration", "performance",
    "measurement", "benchmark", "signature", "message", "header", "domain", "record",
    "configuration", "deployment", "incident", "ticket", "agenda", "minutes", "summary",
    "following", "discussed", "important", "available", "possible", "necessary",
    "previous", "different", "international", "information", "development",
    "environment", "department",
];

#[rustfmt::skip]
const NAMES: &[&str] = &[
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor",
    "Walter",
];

#[rustfmt::skip]
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn hex_id(rng: &mut Rng, len: usize) -> String {
    const HEX: &[u8] = b"0123456789ABCDEF";
    (0..len).map(|_| HEX[rng.below(16)] as char).collect()
}

fn alnum_id(rng: &mut Rng, len: usize) -> String {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| ALNUM[rng.below(ALNUM.len())] as char)
        .collect()
}

fn date(rng: &mut Rng) -> String {
    format!(
        "{}, {} {} 2026 {:02}:{:02}:{:02} {}",
        rng.pick(DAYS),
        rng.range(1, 28),
        rng.pick(MONTHS),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.pick(&["+0000", "+0100", "-0500", "+0900"]),
    )
}

fn words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s
}

fn mailbox(rng: &mut Rng, domain: &str) -> (String, String) {
    let name = rng.pick(NAMES);
    let surname = rng.pick(&["Example", "Sender", "Receiver", "Smith", "Ng", "Okafor"]);
    (
        format!("{name} {surname}"),
        format!(
            "{}.{}@{domain}",
            name.to_ascii_lowercase(),
            surname.to_ascii_lowercase()
        ),
    )
}

/// The 20 header fields, each ending in CRLF, some folded.
fn header(rng: &mut Rng, i: usize, content_type: &str, cte: &str) -> String {
    let (from_name, from) = mailbox(rng, DOMAIN);
    let (to_name, to) = mailbox(rng, "receiver.example");
    let (_, to2) = mailbox(rng, "receiver.example");
    let (cc_name, cc) = mailbox(rng, "partner.example");
    let msg_id = format!("<{}.{}@{DOMAIN}>", alnum_id(rng, 16), i);
    let parent = format!("<{}@receiver.example>", alnum_id(rng, 20));
    let grand = format!("<{}@{DOMAIN}>", alnum_id(rng, 20));
    let d = date(rng);
    let subject_words = rng.range(3, 9);
    let client = format!("198.51.100.{}", rng.range(1, 254));
    let fields = [
        format!("Return-Path: <{from}>\r\n"),
        format!(
            "Received: from mail.{DOMAIN} (mail.{DOMAIN} [192.0.2.25])\r\n\tby mx.receiver.example (Postfix) with ESMTPS id {}\r\n\tfor <{to}>; {d}\r\n",
            hex_id(rng, 10)
        ),
        format!(
            "Received: from [10.0.{}.{}] (unknown [{client}])\r\n\t(Authenticated sender: {from})\r\n\tby mail.{DOMAIN} (Postfix) with ESMTPSA id {};\r\n\t{d}\r\n",
            rng.below(255),
            rng.range(1, 254),
            hex_id(rng, 10)
        ),
        format!("X-Originating-IP: [{client}]\r\n"),
        "MIME-Version: 1.0\r\n".to_owned(),
        format!("Date: {d}\r\n"),
        format!("Message-ID: {msg_id}\r\n"),
        format!("From: {from_name} <{from}>\r\n"),
        format!("To: {to_name} <{to}>, {to2}\r\n"),
        format!("Cc: \"{cc_name}\" <{cc}>\r\n"),
        format!("Subject: Re: {}\r\n", words(rng, subject_words)),
        format!("Reply-To: {from_name} <{from}>\r\n"),
        format!("In-Reply-To: {parent}\r\n"),
        format!("References: {grand}\r\n {parent}\r\n"),
        format!("Content-Type: {content_type}\r\n"),
        format!("Content-Transfer-Encoding: {cte}\r\n"),
        format!("List-Id: Bench discussion <bench.lists.{DOMAIN}>\r\n"),
        format!(
            "List-Unsubscribe: <mailto:unsubscribe@lists.{DOMAIN}?subject=unsubscribe>,\r\n <https://lists.{DOMAIN}/u/{}>\r\n",
            alnum_id(rng, 24)
        ),
        format!(
            "X-Mailer: {}\r\n",
            rng.pick(&[
                "Mozilla Thunderbird 128.5.0",
                "Apple Mail (2.3826.300.87)",
                "Microsoft Outlook 16.0",
                "Evolution 3.54.1",
            ])
        ),
        format!(
            "X-Spam-Status: No, score=-{}.{} required=5.0 tests=BAYES_00,DKIM_SIGNED,\r\n\tDKIM_VALID,SPF_PASS autolearn=ham autolearn_force=no version=4.0.1\r\n",
            rng.below(3),
            rng.below(10)
        ),
    ];
    debug_assert_eq!(fields.len(), HEADER_FIELDS);
    fields.concat()
}

/// Appends wrapped text until `out` has grown by at least `len` bytes: paragraphs of
/// sentences, lines of at most 72 characters, a few trailing spaces or tabs, the odd
/// double space after a full stop, sometimes a quoted block.
fn text(rng: &mut Rng, len: usize, out: &mut String) {
    let start = out.len();
    let mut line = String::new();
    let end_line = |rng: &mut Rng, line: &mut String, out: &mut String, quoted: bool| {
        if quoted {
            out.push_str("> ");
        }
        out.push_str(line);
        // A few lines end in white space that relaxed canonicalization drops.
        if rng.chance(30) {
            out.push_str(rng.pick(&[" ", "\t", "  ", " \t"]));
        }
        out.push_str("\r\n");
        line.clear();
    };
    while out.len() - start < len {
        let quoted = rng.chance(100);
        let sentences = rng.range(2, 6);
        for _ in 0..sentences {
            if out.len() + line.len() - start >= len {
                break;
            }
            let n = rng.range(5, 18);
            for w in 0..n {
                let mut word = rng.pick(WORDS).to_owned();
                if w == 0 {
                    word[..1].make_ascii_uppercase();
                }
                if w + 1 == n {
                    word.push(if rng.chance(150) { '?' } else { '.' });
                } else if rng.chance(60) {
                    word.push(',');
                }
                if !line.is_empty() && line.len() + 1 + word.len() > 72 {
                    end_line(rng, &mut line, out, quoted);
                }
                if !line.is_empty() {
                    // Normal spacing; rarely two spaces after a full stop.
                    if line.ends_with('.') && rng.chance(20) {
                        line.push_str("  ");
                    } else {
                        line.push(' ');
                    }
                }
                line.push_str(&word);
            }
        }
        if !line.is_empty() {
            end_line(rng, &mut line, out, quoted);
        }
        out.push_str("\r\n");
    }
}

/// Base64 (RFC 2045 §6.8) of `n` random bytes, 76 characters a line.
fn base64_lines(rng: &mut Rng, n: usize, out: &mut String) {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut remaining = n;
    let mut line = String::with_capacity(78);
    while remaining > 0 {
        let take = remaining.min(57);
        remaining -= take;
        let bytes: Vec<u8> = (0..take).map(|_| rng.next_u64() as u8).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for k in 0..4 {
                if k <= chunk.len() {
                    line.push(B64[(v >> (18 - 6 * k)) as usize & 63] as char);
                } else {
                    line.push('=');
                }
            }
        }
        out.push_str(&line);
        out.push_str("\r\n");
        line.clear();
    }
}

/// Message `i` of the corpus with seed `seed`.
pub fn message(i: usize, seed: u64) -> Message {
    let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let class = SizeClass::of(i);
    // Two messages in five carry an attachment.
    let multipart = (i / 3) % 5 < 2;
    let target = class.target() * rng.range(85, 115) / 100;
    let boundary = format!("----=_Part_{}_{}", i, alnum_id(&mut rng, 12));
    let (content_type, cte) = if multipart {
        (
            format!("multipart/mixed;\r\n\tboundary=\"{boundary}\""),
            "7bit",
        )
    } else {
        (
            "text/plain; charset=\"utf-8\"; format=flowed".to_owned(),
            "7bit",
        )
    };
    let mut out = header(&mut rng, i, &content_type, cte);
    out.push_str("\r\n");
    let body_len = target.saturating_sub(out.len()).max(200);
    let signature = format!("-- \r\n{}\r\nBench Example Ltd.\r\n", rng.pick(NAMES));
    if multipart {
        out.push_str("This is a multi-part message in MIME format.\r\n\r\n");
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        ));
        // A third of the body is text, the rest the attachment.
        text(&mut rng, body_len / 3, &mut out);
        out.push_str(&signature);
        let name = format!("{}-{}.pdf", rng.pick(WORDS), rng.below(1000));
        out.push_str(&format!(
            "\r\n--{boundary}\r\nContent-Type: application/pdf; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        let remaining = target.saturating_sub(out.len() + boundary.len() + 8);
        base64_lines(&mut rng, remaining * 57 / 78, &mut out);
        out.push_str(&format!("\r\n--{boundary}--\r\n"));
    } else {
        text(&mut rng, body_len.saturating_sub(signature.len()), &mut out);
        out.push_str(&signature);
    }
    Message {
        bytes: out.into_bytes(),
        class,
        multipart,
    }
}

/// The corpus: `count` messages from `seed`.
pub fn generate(count: usize, seed: u64) -> Vec<Message> {
    (0..count).map(|i| message(i, seed)).collect()
}

/// The benchmark corpus ([`MESSAGES`] messages from [`SEED`]).
pub fn corpus() -> Vec<Message> {
    generate(MESSAGES, SEED)
}

/// Total bytes.
pub fn total_bytes<T: AsRef<[u8]>>(messages: &[T]) -> u64 {
    messages.iter().map(|m| m.as_ref().len() as u64).sum()
}

impl AsRef<[u8]> for Message {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// A few lines describing the corpus.
pub fn describe(messages: &[Message]) -> String {
    let mut s = String::new();
    let total = total_bytes(messages);
    let _ = writeln!(
        s,
        "corpus: {} messages, {:.1} MB, {} multipart with a base64 attachment",
        messages.len(),
        total as f64 / 1e6,
        messages.iter().filter(|m| m.multipart).count()
    );
    for class in [SizeClass::Small, SizeClass::Medium, SizeClass::Large] {
        let sizes: Vec<usize> = messages
            .iter()
            .filter(|m| m.class == class)
            .map(|m| m.bytes.len())
            .collect();
        if sizes.is_empty() {
            continue;
        }
        let sum: usize = sizes.iter().sum();
        let _ = writeln!(
            s,
            "  {:>8}: {:4} messages, {:7} to {:7} bytes, mean {:7}",
            class.name(),
            sizes.len(),
            sizes.iter().min().unwrap_or(&0),
            sizes.iter().max().unwrap_or(&0),
            sum / sizes.len()
        );
    }
    s
}

/// The key type of a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA-2048, `rsa-sha256`.
    Rsa,
    /// Ed25519, `ed25519-sha256`.
    Ed25519,
}

impl KeyKind {
    /// Both.
    pub const ALL: [KeyKind; 2] = [KeyKind::Rsa, KeyKind::Ed25519];

    /// The kind a tool's argument names: `rsa` or `ed25519`.
    pub fn from_arg(arg: &str) -> Option<Self> {
        match arg {
            "rsa" => Some(Self::Rsa),
            "ed25519" => Some(Self::Ed25519),
            _ => None,
        }
    }

    /// The selector its key is published under.
    pub fn selector(self) -> &'static str {
        match self {
            Self::Rsa => "rsa2048",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The `a=` name.
    pub fn algorithm(self) -> &'static str {
        match self {
            Self::Rsa => "rsa-sha256",
            Self::Ed25519 => "ed25519-sha256",
        }
    }

    /// The key record name.
    pub fn key_name(self) -> String {
        format!("{}._domainkey.{DOMAIN}", self.selector())
    }
}

/// The current time in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// monban's signer and verifier with both keys, published in a zone behind a warm
/// cache.
pub struct MonbanDkim {
    /// A current-thread runtime (one core).
    pub rt: tokio::runtime::Runtime,
    /// The warm cache over the zone of both key records.
    pub resolver: CachingResolver<ZoneResolver>,
    /// The RSA-2048 key.
    pub rsa: Arc<SigningKey>,
    /// The Ed25519 key.
    pub ed25519: Arc<SigningKey>,
    /// The time used for `t=` and for verifying.
    pub now: u64,
}

impl std::fmt::Debug for MonbanDkim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonbanDkim").finish_non_exhaustive()
    }
}

impl Default for MonbanDkim {
    fn default() -> Self {
        Self::new()
    }
}

impl MonbanDkim {
    /// Generates the keys, publishes them, warms the cache.
    pub fn new() -> Self {
        let rsa = Arc::new(SigningKey::generate_rsa(2048).expect("RSA key"));
        let ed25519 = Arc::new(SigningKey::generate_ed25519().expect("Ed25519 key"));
        let mut zone = ZoneResolver::new();
        for (kind, key) in [(KeyKind::Rsa, &rsa), (KeyKind::Ed25519, &ed25519)] {
            zone.insert(
                &kind.key_name(),
                Record::Txt(Txt::new(txt_strings(&key_record(key)))),
                86_400,
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        let resolver = CachingResolver::new(zone);
        let this = Self {
            rt,
            resolver,
            rsa,
            ed25519,
            now: unix_now(),
        };
        // Warm the cache.
        for kind in KeyKind::ALL {
            let _ = this.rt.block_on(monban_dns::Resolver::lookup(
                &this.resolver,
                &kind.key_name(),
                monban_dns::RecordType::Txt,
            ));
        }
        this
    }

    /// The key of a kind.
    pub fn key(&self, kind: KeyKind) -> &Arc<SigningKey> {
        match kind {
            KeyKind::Rsa => &self.rsa,
            KeyKind::Ed25519 => &self.ed25519,
        }
    }

    /// The TXT value of the key record of a kind.
    pub fn key_record(&self, kind: KeyKind) -> String {
        key_record(self.key(kind))
    }

    /// The signer configuration (relaxed/relaxed, default header list, `t=`).
    pub fn config(&self, kind: KeyKind) -> SignerConfig {
        SignerConfig::new(DOMAIN, kind.selector(), self.key(kind).clone())
    }

    /// Signs one whole message through the streaming API (one chunk); the
    /// `DKIM-Signature` field value.
    pub fn sign(&self, message: &[u8], kind: KeyKind) -> String {
        let mut splitter = MessageSplitter::new();
        let Ok(Split::HeaderDone(headers, body)) = splitter.push(message) else {
            panic!("the message has no header/body separator");
        };
        let mut signer =
            DkimSigner::new(headers, vec![self.config(kind)], self.now).expect("signer");
        signer.body(body);
        signer
            .finish()
            .expect("signing")
            .pop()
            .expect("one signature")
    }

    /// The message with its signature prepended.
    pub fn signed(&self, message: &[u8], kind: KeyKind) -> Vec<u8> {
        prepend_signature(&self.sign(message, kind), message)
    }

    /// Verifies one whole message through the streaming API (one chunk); the result of
    /// each signature.
    pub async fn verify(&self, message: &[u8]) -> Vec<DkimResult> {
        let mut splitter = MessageSplitter::new();
        let Ok(Split::HeaderDone(headers, body)) = splitter.push(message) else {
            panic!("the message has no header/body separator");
        };
        let mut verifier = DkimVerifier::new(&headers, self.now, DkimConfig::default());
        verifier.body(body);
        verifier
            .finish(&self.resolver)
            .await
            .into_iter()
            .map(|o| o.result)
            .collect()
    }

    /// Verifies every message (one `block_on` for the lot); how many have exactly one
    /// signature, which passed.
    pub fn verify_corpus<T: AsRef<[u8]>>(&self, messages: &[T]) -> usize {
        self.rt.block_on(async {
            let mut pass = 0;
            for m in messages {
                if self.verify(m.as_ref()).await == [DkimResult::Pass] {
                    pass += 1;
                }
            }
            pass
        })
    }

    /// Signs every message; the total length of the signatures.
    pub fn sign_corpus<T: AsRef<[u8]>>(&self, messages: &[T], kind: KeyKind) -> usize {
        messages
            .iter()
            .map(|m| self.sign(m.as_ref(), kind).len())
            .sum()
    }

    /// Panics unless every message verifies as one passing signature, and no key lookup
    /// missed the cache.
    pub fn check_all_pass<T: AsRef<[u8]>>(&self, messages: &[T], what: &str) {
        let misses = self.resolver.stats().misses;
        for (i, m) in messages.iter().enumerate() {
            let results = self.rt.block_on(self.verify(m.as_ref()));
            assert_eq!(
                results,
                [DkimResult::Pass],
                "{what}: monban does not pass message {i}"
            );
        }
        assert_eq!(
            self.resolver.stats().misses,
            misses,
            "{what}: a key lookup missed the warm cache"
        );
    }
}

/// The TXT value of a key's record.
pub fn key_record(key: &SigningKey) -> String {
    key.key_record().expect("key record").to_string()
}

/// A TXT value split into character-strings of at most 255 octets.
pub fn txt_strings(value: &str) -> Vec<Vec<u8>> {
    value.as_bytes().chunks(255).map(<[u8]>::to_vec).collect()
}

/// `DKIM-Signature:<value>CRLF` followed by the message.
pub fn prepend_signature(value: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + value.len() + 18);
    out.extend_from_slice(b"DKIM-Signature:");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(message);
    out
}

/// Rounds of the interleaved measurement behind the summary table: the
/// `DKIM_ROUNDS` environment variable, else 9; none (no summary) with criterion's
/// `--profile-time`.
pub fn rounds() -> usize {
    if std::env::args().any(|a| a == "--profile-time") {
        return 0;
    }
    std::env::var("DKIM_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9)
}

/// Times each routine (one pass over a corpus) once per round, the contenders
/// interleaved and their order rotated from round to round, after one untimed pass
/// each: on a shared machine, a slow spell then hits every contender alike, and
/// per-round ratios stay meaningful. Returns `times[contender][round]` in seconds.
pub fn interleave(rounds: usize, routines: &mut [&mut dyn FnMut()]) -> Vec<Vec<f64>> {
    for r in routines.iter_mut() {
        r();
    }
    let n = routines.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let start = Instant::now();
            routines[i]();
            times[i].push(start.elapsed().as_secs_f64());
        }
    }
    times
}

/// The median of some numbers (NaN for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One line of the summary: an operation, a key type, and the corpus times of each
/// contender per round (seconds), with the target share of the bound's throughput.
#[derive(Debug, Clone)]
pub struct Row {
    /// `verify` or `sign`.
    pub op: &'static str,
    /// The key type.
    pub kind: KeyKind,
    /// The bytes of the corpus the operation went over.
    pub bytes: u64,
    /// The target: monban's throughput as a share of the bound's.
    pub target: f64,
    /// monban, per round.
    pub monban: Vec<f64>,
    /// mail-auth, per round (empty when not measured).
    pub mail_auth: Vec<f64>,
    /// The crypto + hash bound, per round.
    pub bound: Vec<f64>,
}

impl Row {
    /// The per-round ratios `a[i] / b[i]`: median, min, max.
    fn ratio(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
        let r: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
        if r.is_empty() {
            return None;
        }
        let min = r.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((median(&r), min, max))
    }

    /// monban's throughput as a share of the bound's (median of the rounds).
    pub fn monban_share(&self) -> Option<f64> {
        Self::ratio(&self.bound, &self.monban).map(|r| r.0)
    }
}

fn ms(t: &[f64]) -> String {
    if t.is_empty() {
        "-".to_owned()
    } else {
        format!("{:.1}", median(t) * 1e3)
    }
}

fn mbps(bytes: u64, t: &[f64]) -> String {
    if t.is_empty() {
        "-".to_owned()
    } else {
        format!("{:.0}", bytes as f64 / median(t) / 1e6)
    }
}

fn share(bound: &[f64], t: &[f64]) -> String {
    Row::ratio(bound, t).map_or_else(
        || "-".to_owned(),
        |(m, lo, hi)| format!("{:.1}% ({:.0}–{:.0})", m * 100.0, lo * 100.0, hi * 100.0),
    )
}

/// The summary as a Markdown table: median corpus times (ms) and throughputs (MB/s);
/// monban's and mail-auth's throughput as a share of the bound's and monban's speedup
/// over mail-auth, each the median (and range) of the per-round ratios.
pub fn summary_table(rows: &[Row], with_mail_auth: bool) -> String {
    let mut s = String::new();
    if with_mail_auth {
        s.push_str("| operation | key | monban ms | mail-auth ms | bound ms | monban MB/s | mail-auth MB/s | bound MB/s | monban / bound (range) | target | met | mail-auth / bound (range) | monban speedup vs mail-auth |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|---:|\n");
    } else {
        s.push_str("| operation | key | monban ms | bound ms | monban MB/s | bound MB/s | monban / bound (range) | target | met |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|:-:|\n");
    }
    for r in rows {
        let met = match r.monban_share() {
            Some(x) if x >= r.target => "yes",
            Some(_) => "**no**",
            None => "-",
        };
        let target = format!("≥ {:.0}%", r.target * 100.0);
        if with_mail_auth {
            let speedup = Row::ratio(&r.mail_auth, &r.monban).map_or_else(
                || "-".to_owned(),
                |(m, lo, hi)| format!("{m:.2}× ({lo:.2}–{hi:.2})"),
            );
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.op,
                r.kind.algorithm(),
                ms(&r.monban),
                ms(&r.mail_auth),
                ms(&r.bound),
                mbps(r.bytes, &r.monban),
                mbps(r.bytes, &r.mail_auth),
                mbps(r.bytes, &r.bound),
                share(&r.bound, &r.monban),
                target,
                met,
                share(&r.bound, &r.mail_auth),
                speedup,
            );
        } else {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.op,
                r.kind.algorithm(),
                ms(&r.monban),
                ms(&r.bound),
                mbps(r.bytes, &r.monban),
                mbps(r.bytes, &r.bound),
                share(&r.bound, &r.monban),
                target,
                met,
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    // Unused where a harness-less bench includes this file (it compiles with cfg(test)
    // but drops the #[test] functions).
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn corpus_shape() {
        let messages = generate(30, SEED);
        for m in &messages {
            let text = String::from_utf8(m.bytes.clone()).expect("ASCII");
            let (head, _) = text.split_once("\r\n\r\n").expect("a body");
            let fields = head
                .split("\r\n")
                .filter(|l| !l.starts_with([' ', '\t']))
                .count();
            assert_eq!(fields, HEADER_FIELDS);
            assert!(
                !text.replace("\r\n", "").contains(['\r', '\n']),
                "bare CR or LF"
            );
            let target = m.class.target();
            assert!(
                m.bytes.len() > target * 8 / 10 && m.bytes.len() < target * 12 / 10,
                "{} bytes for {}",
                m.bytes.len(),
                m.class.name()
            );
        }
        assert_eq!(generate(3, SEED)[2].bytes, messages[2].bytes);
    }

    #[test]
    fn monban_signs_and_verifies_the_corpus() {
        let messages = generate(9, SEED);
        let dkim = MonbanDkim::new();
        for kind in KeyKind::ALL {
            let signed: Vec<Vec<u8>> = messages
                .iter()
                .map(|m| dkim.signed(&m.bytes, kind))
                .collect();
            dkim.check_all_pass(&signed, kind.algorithm());
            assert_eq!(dkim.verify_corpus(&signed), signed.len());
        }
    }
}
