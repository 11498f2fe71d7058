//! Signing, RFC 6376 §5 (and RFC 8463): a staged, streaming signer that adds one or
//! more signatures in one pass over the body.

use std::sync::Arc;

use super::body::{BodyHashKey, BodyHashers};
use super::canonicalization::Canonicalization;
use super::crypto::KeyError;
#[allow(unused_imports)] // named in docs
use super::crypto::SigningKey;
use super::signature::{self, DkimSignature, FieldNames, SignedHeaders};
use super::verify::header_data;
use crate::crypto::Signer;
use crate::message::{HeaderField, Headers};

/// Header fields signed by default when present (RFC 6376 §5.4.1 recommendations).
pub const DEFAULT_SIGNED: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "to",
    "cc",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-id",
    "content-description",
    "content-disposition",
    "in-reply-to",
    "references",
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
];

/// Header fields oversigned by default: listed once more than they occur, so that an
/// added instance breaks the signature (§8.15). Sender and List-Unsubscribe (with its
/// RFC 8058 one-click companion) too: a replayed message with a Sender or an
/// unsubscribe link of the replayer's choosing must not verify.
pub const DEFAULT_OVERSIGNED: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "subject",
    "date",
    "reply-to",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "mime-version",
];

/// One signature to add.
#[derive(Debug, Clone)]
pub struct SignerConfig {
    /// `d=`: the signing domain (the author's domain, or a third party's).
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The private key (a [`crate::dkim::SigningKey`], or any [`Signer`]); its type picks
    /// `a=`.
    pub key: Arc<dyn Signer>,
    /// `h=`: the header names to sign, in order, as given; `None` signs
    /// [`DEFAULT_SIGNED`] and oversigns [`DEFAULT_OVERSIGNED`].
    pub headers: Option<Vec<String>>,
    /// `c=` header part (default relaxed).
    pub header_canonicalization: Canonicalization,
    /// `c=` body part (default relaxed).
    pub body_canonicalization: Canonicalization,
    /// `i=`, when wanted.
    pub identity: Option<String>,
    /// Add `l=` with the body length (not recommended: see §8.2).
    pub body_length: bool,
    /// Add `t=` (default true).
    pub timestamp: bool,
    /// Add `x=` this many seconds after `t=`.
    pub expire_after: Option<u64>,
}

impl SignerConfig {
    /// A relaxed/relaxed signature with the default header list and a timestamp.
    pub fn new(domain: &str, selector: &str, key: Arc<dyn Signer>) -> Self {
        Self {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_ascii_lowercase(),
            key,
            headers: None,
            header_canonicalization: Canonicalization::Relaxed,
            body_canonicalization: Canonicalization::Relaxed,
            identity: None,
            body_length: false,
            timestamp: true,
            expire_after: None,
        }
    }

    /// Checks what the signature will say before any message is read (RFC 6376 §3.5):
    /// `d=` and `s=` are DNS names, every `h=` name is a header field name a tag value
    /// can carry (printable ASCII without `:` or `;`, §3.2) and From is among them
    /// (§5.4), `i=` is in `d=` and can be written, and `x=`, `expire_after` seconds
    /// after `now`, fits its 12 digits.
    pub fn check(&self, now: u64) -> Result<(), SignError> {
        if !super::signature::is_dns_name(&self.domain) {
            return Err(SignError::Domain(self.domain.clone()));
        }
        if !super::signature::is_dns_name(&self.selector) {
            return Err(SignError::Selector(self.selector.clone()));
        }
        if let Some(list) = &self.headers {
            check_list(list, &[]).map_err(|p| match p {
                ListProblem::Name(bad) => SignError::HeaderName(bad.to_owned()),
                ListProblem::NoFrom => SignError::FromNotListed,
                ListProblem::TooMany => SignError::TooManyHeaders,
            })?;
        }
        if let Some(i) = &self.identity {
            if !i.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
                return Err(SignError::IdentityText(i.clone()));
            }
            // §3.5: i= is [ Local-part ] "@" domain-name; RFC 5321 §4.5.3.1.1 bounds
            // the local part at 64 octets.
            let (local, d) = i.rsplit_once('@').unwrap_or(("", i));
            let d = d.to_ascii_lowercase();
            if !i.contains('@') || !super::signature::is_dns_name(&d) || local.len() > 64 {
                return Err(SignError::IdentitySyntax(i.clone()));
            }
            if !(d == self.domain || d.ends_with(&format!(".{}", self.domain))) {
                return Err(SignError::Identity(i.clone()));
            }
        }
        if let Some(after) = self.expire_after
            && now.checked_add(after).is_none_or(|x| x > MAX_TIMESTAMP)
        {
            return Err(SignError::Expire(after));
        }
        Ok(())
    }
}

/// What is wrong with an `h=` list given by hand ([`check_list`]).
pub(crate) enum ListProblem<'a> {
    /// A name that is not a field name `h=` can carry, or one refused by the caller.
    Name(&'a str),
    /// From is not among them (§5.4).
    NoFrom,
    /// More than a verifier accepts.
    TooMany,
}

/// Checks an `h=` list given by hand, for a DKIM signature or an ARC-Message-Signature:
/// each name a header field name (RFC 5322 §2.2: printable ASCII without `:`) that a
/// tag value can carry (no `;`, which ends a tag: §3.2) and not one of `refused`; From
/// among them (§5.4); at most [`super::signature::MAX_SIGNED_FIELDS`].
pub(crate) fn check_list<'a>(list: &'a [String], refused: &[&str]) -> Result<(), ListProblem<'a>> {
    let bad = |h: &str| {
        h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':' && b != b';')
            || refused.iter().any(|r| h.eq_ignore_ascii_case(r))
    };
    if let Some(name) = list.iter().find(|h| bad(h)) {
        return Err(ListProblem::Name(name));
    }
    if !list.iter().any(|h| h.eq_ignore_ascii_case("from")) {
        return Err(ListProblem::NoFrom);
    }
    if list.len() > super::signature::MAX_SIGNED_FIELDS {
        return Err(ListProblem::TooMany);
    }
    Ok(())
}

/// The largest `t=` or `x=`: twelve digits (RFC 6376 §3.5, `1*12DIGIT`).
pub const MAX_TIMESTAMP: u64 = 999_999_999_999;

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// No From field: §5.4 requires From to be signed, and there is nothing to sign.
    #[error("the message has no From header field, which DKIM must sign")]
    NoFrom,
    /// More than one From field (the count): RFC 5322 §3.6 allows exactly one, and a
    /// receiver cannot tell which names the author; a signature would vouch for a
    /// message whose author is in doubt (RFC 6376 §8.15), and DMARC receivers typically
    /// reject such a message (RFC 7489 §6.6.1). One From field with several mailboxes is allowed.
    #[error(
        "the message has {0} From header fields; RFC 5322 allows exactly one, so it is not signed"
    )]
    SeveralFrom(usize),
    /// `h=` given without From.
    #[error("the header list must include From")]
    FromNotListed,
    /// The signing domain (`d=`) is not a domain name.
    #[error("the signing domain {0:?} is not a domain name")]
    Domain(String),
    /// The selector (`s=`) is not a domain name's labels.
    #[error("the selector {0:?} is not a valid selector (DNS labels)")]
    Selector(String),
    /// `x=` would fall past its twelve digits (§3.5).
    #[error("an expiry {0} seconds after signing is past what x= can say (12 digits)")]
    Expire(u64),
    /// `i=` is not in the signing domain.
    #[error("identity {0:?} is not in the signing domain")]
    Identity(String),
    /// `i=` is not `[local-part]@domain` with a domain name after the `@` and at most
    /// 64 octets before it (§3.5; RFC 5321 §4.5.3.1.1).
    #[error(
        "identity {0:?} must be [local-part]@domain: a domain name after the @, at most 64 characters before it"
    )]
    IdentitySyntax(String),
    /// `i=` has characters a tag value cannot carry (§3.2: printable ASCII without `;`
    /// and white space).
    #[error("identity {0:?} must be printable ASCII without ';' or white space")]
    IdentityText(String),
    /// A name for `h=` that is not a header field name (RFC 5322 §2.2) or that `h=`
    /// cannot carry (`;` ends a tag, §3.2).
    #[error("{0:?} is not a header field name DKIM can sign (printable ASCII without ':' or ';')")]
    HeaderName(String),
    /// More names for `h=` than a verifier accepts.
    #[error("more than {max} header fields to sign", max = super::signature::MAX_SIGNED_FIELDS)]
    TooManyHeaders,
    /// The key failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// `list` with the names `name` past the number of such fields in `headers` left out:
/// for the field a signature is being created as (`DKIM-Signature`, an ARC set's
/// `ARC-Message-Signature`), which `h=` must not name (RFC 6376 §3.5). An extra instance
/// is "oversigning" for any other name; for this one the verifier finds the new
/// signature there (the next instance from the bottom once it is added) and fails it,
/// while the signer hashed nothing. Other verifiers did; monban's passed.
pub(crate) fn without_itself<'a>(
    list: &'a [String],
    headers: &Headers,
    name: &str,
) -> impl Iterator<Item = &'a String> {
    let mut left = headers.get(name).count();
    list.iter().filter(move |n| {
        if !n.eq_ignore_ascii_case(name) {
            return true;
        }
        let keep = left > 0;
        left = left.saturating_sub(1);
        keep
    })
}

/// The `h=` list for a message under a config.
pub fn signed_header_list(config: &SignerConfig, headers: &Headers) -> SignedHeaders {
    if let Some(list) = &config.headers {
        return SignedHeaders::new(without_itself(list, headers, "dkim-signature"));
    }
    // Every present instance first, then one more of each oversigned name. One pass
    // over the fields counts the instances of each default name.
    let mut counts = [0usize; DEFAULT_SIGNED.len()];
    for field in headers.fields() {
        if let Some(i) = DEFAULT_SIGNED.iter().position(|n| field.is(n)) {
            counts[i] += 1;
        }
    }
    let present = DEFAULT_SIGNED
        .iter()
        .zip(counts)
        .flat_map(|(name, count)| std::iter::repeat_n(*name, count));
    SignedHeaders::new(present.chain(DEFAULT_OVERSIGNED.iter().copied()))
}

struct Pending {
    config: SignerConfig,
    hasher: usize,
    /// The `h=` list, made once from the header.
    signed: SignedHeaders,
}

/// The staged signer: header, body chunks, finish.
pub struct DkimSigner {
    headers: Headers,
    pending: Vec<Pending>,
    hashers: BodyHashers,
    now: u64,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("signatures", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Starts signing a message with one or more signatures. `now` is the time for `t=`.
    pub fn new(headers: Headers, configs: Vec<SignerConfig>, now: u64) -> Result<Self, SignError> {
        match headers.get("from").count() {
            0 => return Err(SignError::NoFrom),
            1 => {}
            n => return Err(SignError::SeveralFrom(n)),
        }
        let mut hashers = BodyHashers::new();
        let mut pending = Vec::new();
        for config in configs {
            config.check(now)?;
            // A message with very many To/Cc/... fields would get a default list that
            // verifiers refuse (monban's own included): refuse to sign it instead.
            let signed = signed_header_list(&config, &headers);
            if config.headers.is_none() && signed.len() > super::signature::MAX_SIGNED_FIELDS {
                return Err(SignError::TooManyHeaders);
            }
            let hasher = hashers.index_for(BodyHashKey::new(
                config.key.algorithm(),
                config.body_canonicalization,
                None,
            ));
            pending.push(Pending {
                config,
                hasher,
                signed,
            });
        }
        Ok(Self {
            headers,
            pending,
            hashers,
            now,
        })
    }

    /// Feeds a body chunk.
    pub fn body(&mut self, chunk: &[u8]) {
        self.hashers.update(chunk);
    }

    /// Whether [`Self::finish`] costs little: at most `most` signatures, each with an
    /// Ed25519 key or an RSA key of at most 2,048 bits (about 0.2 ms a signature on
    /// one core; 4,096 bits take about seven times as long, and a key of unknown size
    /// is not counted as quick).
    pub fn quick_to_finish(&self, most: usize) -> bool {
        self.pending.len() <= most
            && self
                .pending
                .iter()
                .all(|p| p.config.key.bits().is_some_and(|b| b <= 2048))
    }

    /// Ends the body and returns the `DKIM-Signature` field values (without the field
    /// name), in the order of the configs. Prepend them as `DKIM-Signature:<value>`.
    pub fn finish(self) -> Result<Vec<String>, SignError> {
        let hashes = self.hashers.finish();
        let mut out = Vec::with_capacity(self.pending.len());
        for p in self.pending {
            let c = &p.config;
            let hash = &hashes[p.hasher];
            let sig = DkimSignature {
                algorithm: c.key.algorithm(),
                signature: Vec::new(),
                body_hash: hash.digest.clone(),
                header_canonicalization: c.header_canonicalization,
                body_canonicalization: c.body_canonicalization,
                domain: c.domain.clone(),
                signed_headers: p.signed,
                identity: c.identity.clone(),
                body_length: c.body_length.then_some(hash.canonical_length),
                selector: c.selector.clone(),
                timestamp: c.timestamp.then_some(self.now),
                // Within MAX_TIMESTAMP: `check` refused a later one.
                expiration: c.expire_after.map(|s| self.now.saturating_add(s)),
                copied_headers: None,
                unknown: Vec::new(),
            };
            let unsigned = sig.format_unsigned();
            let b = sign_prepared(
                &self.headers,
                &sig.signed_headers,
                c.header_canonicalization,
                &unsigned,
                &*c.key,
            )?;
            out.push(signature::append_b(&unsigned, &b));
        }
        Ok(out)
    }
}

/// Signs a prepared signature field value (`unsigned` must end with an empty `b=`), over
/// the given header list. This is the low-level step behind [`DkimSigner::finish`];
/// it reproduces published test vectors, whose tag order and folding are fixed.
pub fn sign_prepared(
    headers: &Headers,
    signed: &(impl FieldNames + ?Sized),
    canon: Canonicalization,
    unsigned: &str,
    key: &dyn Signer,
) -> Result<Vec<u8>, SignError> {
    // The field is not in `headers` (nothing there to leave out); its name and colon
    // are all `raw` needs to give (simple canonicalization).
    let field = HeaderField {
        name: b"DKIM-Signature",
        value: unsigned.as_bytes(),
        raw: b"DKIM-Signature:",
    };
    let mut data = Vec::with_capacity(1024);
    header_data(headers, signed, canon, field, &mut data);
    Ok(key.sign(&data)?)
}
