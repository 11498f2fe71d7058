//! The one-call verification pipeline: a message (streamed), its SMTP envelope and a
//! resolver in; every method's result and the `Authentication-Results` field out. The
//! CLI, the milter and the web API all use it.
//!
//! SPF (MAIL FROM and HELO) and the DKIM key lookups run concurrently once the body has
//! been read; DMARC follows, since it depends on both.

use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;
use std::task::Poll;

use monban_dns::Resolver;

use crate::authres::{AuthenticationResults, ResInfo};
use crate::dkim::{DkimConfig, DkimOutcome, DkimVerifier};
use crate::dmarc::{self, DmarcConfig, DmarcOutcome};
use crate::message::{HeaderError, Headers, MessageSplitter, Split};
use crate::spf::{Spf, SpfConfig, SpfOutcome};

/// The SMTP envelope of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The client's address; without it, SPF is not evaluated.
    pub ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub helo: Option<String>,
    /// The MAIL FROM address, without angle brackets; `Some("")` is the null sender.
    pub mail_from: Option<String>,
}

/// Settings of every method.
#[derive(Debug, Clone, Default)]
pub struct VerifyConfig {
    /// SPF settings.
    pub spf: SpfConfig,
    /// DKIM settings.
    pub dkim: DkimConfig,
    /// DMARC settings.
    pub dmarc: DmarcConfig,
}

/// Every result for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// SPF for the MAIL FROM identity (the one DMARC aligns).
    pub spf: Option<SpfOutcome>,
    /// SPF for the HELO identity.
    pub helo: Option<SpfOutcome>,
    /// One outcome per `DKIM-Signature` (empty: unsigned).
    pub dkim: Vec<DkimOutcome>,
    /// DMARC.
    pub dmarc: DmarcOutcome,
}

impl Report {
    /// The `Authentication-Results` field this host adds.
    pub fn authentication_results(&self, authserv_id: &str) -> AuthenticationResults {
        let mut results = Vec::new();
        match (&self.spf, &self.helo) {
            (Some(s), _) => results.push(ResInfo::from_spf(s)),
            (None, Some(h)) => results.push(ResInfo::from_spf(h)),
            (None, None) => {}
        }
        if self.dkim.is_empty() {
            results.push(ResInfo::dkim_none());
        }
        results.extend(self.dkim.iter().map(ResInfo::from_dkim));
        results.push(ResInfo::from_dmarc(&self.dmarc));
        AuthenticationResults {
            authserv_id: authserv_id.to_owned(),
            version: None,
            results,
        }
    }
}

/// The staged verifier: [`MessageVerifier::push`] the message as it arrives (SMTP form,
/// CRLF), or give the header and body separately ([`MessageVerifier::headers`],
/// [`MessageVerifier::body`]) as a milter does; then [`MessageVerifier::finish`].
#[derive(Debug)]
pub struct MessageVerifier {
    envelope: Envelope,
    config: VerifyConfig,
    now: u64,
    splitter: MessageSplitter,
    headers: Option<Headers>,
    dkim: Option<DkimVerifier>,
}

impl MessageVerifier {
    /// Starts a message. `now` is the current time (Unix seconds).
    pub fn new(envelope: Envelope, config: VerifyConfig, now: u64) -> Self {
        Self {
            envelope,
            config,
            now,
            splitter: MessageSplitter::new(),
            headers: None,
            dkim: None,
        }
    }

    /// Feeds raw message bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), HeaderError> {
        match self.splitter.push(chunk)? {
            Split::Header => {}
            Split::HeaderDone(h, body) => {
                self.headers(h);
                self.body(body);
            }
            Split::Body(b) => self.body(b),
        }
        Ok(())
    }

    /// Sets the header (when it arrives apart from the body).
    pub fn headers(&mut self, headers: Headers) {
        self.dkim = Some(DkimVerifier::new(
            &headers,
            self.now,
            self.config.dkim.clone(),
        ));
        self.headers = Some(headers);
    }

    /// Feeds body bytes.
    pub fn body(&mut self, chunk: &[u8]) {
        if let Some(d) = self.dkim.as_mut() {
            d.body(chunk);
        }
    }

    /// Evaluates everything.
    pub async fn finish<R: Resolver>(mut self, resolver: &R) -> Result<Report, HeaderError> {
        if self.headers.is_none() {
            let h = self.splitter.finish()?.unwrap_or_default();
            self.headers(h);
        }
        let headers = self.headers.take().unwrap_or_default();
        let dkim_verifier = self.dkim.take().expect("set with the headers");
        let spf = Spf::with_config(resolver, self.config.spf.clone());
        let env = &self.envelope;
        let now = self.now;
        let mail_from = async {
            match (env.ip, &env.mail_from) {
                (Some(ip), Some(m)) => Some(
                    spf.verify_mail_from(ip, env.helo.as_deref().unwrap_or(""), m, now)
                        .await,
                ),
                _ => None,
            }
        };
        let helo = async {
            match (env.ip, &env.helo) {
                (Some(ip), Some(h)) => Some(spf.verify_helo(ip, h, now).await),
                _ => None,
            }
        };
        let dkim = dkim_verifier.finish(resolver);
        let (spf_result, helo_result, dkim_results) = join3(mail_from, helo, dkim).await;
        let dmarc = dmarc::evaluate(
            resolver,
            &headers,
            spf_result.as_ref(),
            &dkim_results,
            &self.config.dmarc,
        )
        .await;
        Ok(Report {
            spf: spf_result,
            helo: helo_result,
            dkim: dkim_results,
            dmarc,
        })
    }
}

/// Runs three futures concurrently (no runtime needed).
async fn join3<A: Future, B: Future, C: Future>(
    a: A,
    b: B,
    c: C,
) -> (A::Output, B::Output, C::Output) {
    let (mut a, mut b, mut c) = (pin!(a), pin!(b), pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if rc.is_none()
            && let Poll::Ready(v) = c.as_mut().poll(cx)
        {
            rc = Some(v);
        }
        if ra.is_some() && rb.is_some() && rc.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (ra.expect("ready"), rb.expect("ready"), rc.expect("ready"))
}

/// Verifies a whole message held in memory (any line endings).
pub async fn verify_message<R: Resolver>(
    message: &[u8],
    envelope: Envelope,
    config: VerifyConfig,
    now: u64,
    resolver: &R,
) -> Result<Report, HeaderError> {
    let mut normalized = Vec::new();
    crate::message::CrlfNormalizer::new().normalize(message, &mut normalized);
    let mut v = MessageVerifier::new(envelope, config, now);
    v.push(&normalized)?;
    v.finish(resolver).await
}
