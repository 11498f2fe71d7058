//! The one-call verification pipeline: a message (streamed), its SMTP envelope and a
//! resolver in; every method's result and the `Authentication-Results` field out. The
//! CLI, the milter and the web API all use it.
//!
//! SPF (MAIL FROM and HELO), the DKIM key lookups and DMARC policy discovery run
//! concurrently once the body has been read; DMARC alignment follows, since it depends
//! on all of them.

use std::future::Future;
use std::net::IpAddr;
use std::task::Poll;

use monban_dns::Resolver;

use crate::arc::{ArcConfig, ArcOutcome, ArcVerifier};
use crate::authres::{AuthenticationResults, ResInfo};
use crate::dkim::body::BodyHashers;
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
    /// The RCPT TO addresses (for DKIM2, which signs the envelope); may be empty.
    pub rcpt_to: Vec<String>,
}

impl Envelope {
    /// The envelope of a verification as a user gives it (CLI flags, API parameters):
    /// the address must parse; SPF needs the address and a MAIL FROM or HELO; a null
    /// MAIL FROM is checked as `postmaster@<HELO>`, so it needs the HELO. `name` words
    /// errors with the flag or parameter (`ip` → `--ip`).
    pub fn from_user(
        ip: Option<&str>,
        helo: Option<&str>,
        mail_from: Option<&str>,
        name: impl Fn(&str) -> String,
    ) -> Result<Self, String> {
        let Some(ip) = ip else {
            if helo.is_some() || mail_from.is_some() {
                return Err(format!(
                    "{} and {} need {}",
                    name("helo"),
                    name("mail_from"),
                    name("ip")
                ));
            }
            return Ok(Self::default());
        };
        let ip = check_ip(ip).map_err(|e| format!("{} {e}", name("ip")))?;
        if helo.is_none() && mail_from.is_none() {
            return Err(format!(
                "{} needs {}, {} or both to check SPF",
                name("ip"),
                name("mail_from"),
                name("helo")
            ));
        }
        if let Some(h) = helo {
            check_helo(h).map_err(|e| format!("{} {e}", name("helo")))?;
        }
        if let Some(m) = mail_from {
            check_mail_from(m).map_err(|e| format!("{} {e}", name("mail_from")))?;
            if m.trim().trim_matches(['<', '>']).is_empty() && helo.is_none() {
                return Err(format!(
                    "a null {} is checked as postmaster@<HELO>: give {} too",
                    name("mail_from"),
                    name("helo")
                ));
            }
        }
        Ok(Self {
            rcpt_to: Vec::new(),
            ip: Some(ip),
            helo: helo.map(str::to_owned),
            mail_from: mail_from.map(|m| {
                m.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            }),
        })
    }
}

/// A MAIL FROM a user gave: `local@domain`, `@domain` (no local part: SPF uses
/// `postmaster`, RFC 7208 §4.3), `<...>`, or empty for the null sender. The
/// error starts with the value (the caller puts the flag or parameter before it).
pub fn check_mail_from(addr: &str) -> Result<(), String> {
    let bare = addr.trim();
    let bare = bare
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(bare);
    if bare.is_empty() {
        return Ok(());
    }
    if bare.chars().any(|c| c.is_control() || c.is_whitespace()) && !bare.starts_with('"') {
        return Err(format!(
            "{addr:?} contains white space or control characters"
        ));
    }
    // "@domain" is a sender without a local part, which SPF checks as
    // postmaster@domain (RFC 7208 §4.3): taken, not refused.
    let Some((_, domain)) = bare.rsplit_once('@') else {
        return Err(format!(
            "{addr:?} is not an address: expected local-part@domain, or \"\" for the null sender"
        ));
    };
    if domain.starts_with('[') {
        return Ok(());
    }
    monban_dns::normalize_name(domain)
        .map(|_| ())
        .map_err(|e| format!("{addr:?}: the domain is invalid ({e})"))
}

/// A client address a user gave, white space around it allowed.
pub fn check_ip(ip: &str) -> Result<IpAddr, String> {
    ip.trim()
        .parse()
        .map_err(|_| format!("{ip:?} is not an IPv4 or IPv6 address"))
}

/// A HELO name a user gave: a host name or address literal without spaces.
pub fn check_helo(helo: &str) -> Result<(), String> {
    if helo.is_empty() || helo.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "{helo:?} must be a host name or address literal without spaces"
        ));
    }
    Ok(())
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
    /// ARC validation settings.
    pub arc: ArcConfig,
    /// ARC sealers trusted to vouch for mail that fails DMARC (domains; their
    /// subdomains too): [`crate::arc::trusted_forwarder`]. Empty: ARC is validated and
    /// reported, and changes no disposition.
    pub trusted_arc_sealers: Vec<String>,
    /// DKIM2 (a draft): verified when set, never counted for DMARC.
    pub dkim2: Option<crate::dkim2::Dkim2Config>,
    /// DNS block and allow lists to ask about the client (RFC 5782).
    pub dnsbl: Vec<crate::dnsbl::Zone>,
    /// Leaves Sender ID (RFC 4406, historic) out: no `sender-id=` and no lookups for
    /// it. By default it is checked whenever the client address is known.
    pub skip_sender_id: bool,
}

/// The largest body kept whole for DKIM2, whose recipes rebuild earlier instances from
/// it; a larger one gets DKIM2 `permerror` (it is never judged in part).
pub const MAX_DKIM2_BODY: usize = 64 * 1024 * 1024;

/// Every result for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// SPF for the MAIL FROM identity (the one DMARC aligns).
    pub spf: Option<SpfOutcome<'static>>,
    /// SPF for the HELO identity.
    pub helo: Option<SpfOutcome<'static>>,
    /// One outcome per `DKIM-Signature` (empty: unsigned).
    pub dkim: Vec<DkimOutcome>,
    /// DMARC.
    pub dmarc: DmarcOutcome,
    /// ARC (RFC 8617).
    pub arc: ArcOutcome,
    /// ADSP (RFC 5617, historic): what the author domain said of its mail.
    pub adsp: crate::adsp::AdspOutcome,
    /// Sender ID (RFC 4406, historic) for the PRA scope.
    pub sender_id: crate::senderid::SenderIdOutcome,
    /// One outcome per `DomainKey-Signature` (RFC 4870, historic; empty: none).
    pub domainkeys: Vec<crate::domainkeys::DomainKeysOutcome>,
    /// iprev (RFC 8601 §3): the client's forward-confirmed reverse name.
    pub iprev: crate::iprev::IprevOutcome,
    /// The DNS lists asked about the client ([`VerifyConfig::dnsbl`]).
    pub dnsbl: Vec<crate::dnsbl::DnsblOutcome>,
    /// DKIM2, when asked for ([`VerifyConfig::dkim2`]).
    pub dkim2: Option<crate::dkim2::Dkim2Outcome>,
    /// The client's address, for `smtp.remote-ip` of `arc=` (RFC 8617 §7.2).
    pub remote_ip: Option<IpAddr>,
    /// Set when the header could not be split into fields or exceeded a limit: then no
    /// method ran (`spf`/`helo` are `None`, `dkim` is empty) and DMARC is `permerror`,
    /// so the message still has a verdict (DESIGN §4) and is never judged in part.
    pub malformed: Option<HeaderError>,
    /// The message is itself a report or a bounce ([`crate::report::is_report_mail`]):
    /// it is counted in aggregate reports but never makes one be sent.
    pub report_mail: bool,
    /// The header that was judged (for failure reports, RFC 9991); `None` when it
    /// could not be parsed.
    pub header: Option<Headers>,
}

impl Report {
    /// Whether the message is report mail or a bounce that passed DMARC: the mail that
    /// never makes a report be sent (two reporters would feed each other a report for
    /// every report). Mail that only looks like it (a Subject `Report Domain: ...`,
    /// `multipart/report`) and fails DMARC may be forged to hide from the domain's
    /// reports: it is reported like any other.
    pub fn is_authenticated_report_mail(&self) -> bool {
        self.report_mail && self.dmarc.result == dmarc::DmarcResult::Pass
    }

    /// The `Authentication-Results` field this host adds.
    pub fn authentication_results(&self, authserv_id: &str) -> AuthenticationResults {
        let mut results = Vec::new();
        // The connection first (RFC 8601 §3), then the message's methods.
        if self.iprev.ip.is_some() {
            results.push(ResInfo::from_iprev(&self.iprev));
        }
        match (&self.spf, &self.helo) {
            (Some(s), _) => results.push(ResInfo::from_spf(s)),
            (None, Some(h)) => results.push(ResInfo::from_spf(h)),
            (None, None) => {}
        }
        if self.sender_id.spf.is_some() || self.sender_id.pra_error.is_some() {
            results.push(ResInfo::from_sender_id(&self.sender_id));
        }
        if self.dkim.is_empty() {
            results.push(ResInfo::dkim_none());
        }
        // The signatures past the limit: one result for them all.
        let mut not_evaluated = (0, 0);
        for o in &self.dkim {
            match o.reason {
                Some(crate::dkim::DkimReason::NotEvaluated { max }) => {
                    not_evaluated = (not_evaluated.0 + 1, max);
                }
                _ => results.push(ResInfo::from_dkim(o)),
            }
        }
        if not_evaluated.0 > 0 {
            results.push(ResInfo::dkim_not_evaluated(
                not_evaluated.0,
                not_evaluated.1,
            ));
        }
        let mut dk_not_evaluated = 0;
        for o in &self.domainkeys {
            match o.reason {
                Some(crate::domainkeys::DomainKeysReason::NotEvaluated) => dk_not_evaluated += 1,
                _ => results.push(ResInfo::from_domainkeys(o)),
            }
        }
        if dk_not_evaluated > 0 {
            results.push(ResInfo::not_evaluated(
                "domainkeys",
                dk_not_evaluated,
                crate::domainkeys::MAX_SIGNATURES,
            ));
        }
        // ADSP is historic: written only when the domain publishes a practice, or does
        // not exist, or the lookup failed (a plain author signature says nothing new).
        if self.adsp.practice.is_some()
            || matches!(
                self.adsp.result,
                crate::adsp::AdspResult::Nxdomain
                    | crate::adsp::AdspResult::Temperror
                    | crate::adsp::AdspResult::Permerror
            )
        {
            results.push(ResInfo::from_adsp(&self.adsp));
        }
        results.push(ResInfo::from_dmarc(&self.dmarc));
        results.push(ResInfo::from_arc(&self.arc, self.remote_ip, &self.dmarc));
        results.extend(
            self.dnsbl
                .iter()
                .filter(|o| o.result != crate::dnsbl::DnsblResult::Skipped)
                .map(ResInfo::from_dnsbl),
        );
        if let Some(d) = &self.dkim2 {
            results.push(ResInfo::from_dkim2(d));
        }
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
    arc: Option<ArcVerifier>,
    /// DomainKeys, when the message has a `DomainKey-Signature`.
    domainkeys: Option<crate::domainkeys::DomainKeysVerifier>,
    /// iprev and the DNS lists, when they were checked when the client connected.
    connection: Option<(crate::iprev::IprevOutcome, Vec<crate::dnsbl::DnsblOutcome>)>,
    /// The body hashes of DKIM and ARC, computed in one pass.
    hashers: BodyHashers,
    /// The body, kept for DKIM2 when it is on (`None` past [`MAX_DKIM2_BODY`]).
    dkim2_body: Option<Vec<u8>>,
    dkim2_too_large: bool,
    malformed: Option<HeaderError>,
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
            arc: None,
            domainkeys: None,
            connection: None,
            hashers: BodyHashers::new(),
            dkim2_body: None,
            dkim2_too_large: false,
            malformed: None,
        }
    }

    /// Feeds raw message bytes. An error means the header is malformed or too large:
    /// stop feeding (nothing more is read from the message); [`Self::finish`] still
    /// gives the verdict for such a message.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), HeaderError> {
        if let Some(e) = &self.malformed {
            return Err(e.clone());
        }
        let split = match self.splitter.push(chunk) {
            Ok(s) => s,
            Err(e) => {
                self.malformed = Some(e.clone());
                return Err(e);
            }
        };
        match split {
            Split::Header => {}
            Split::HeaderDone(h, body) => {
                self.headers(h);
                self.body(body);
            }
            Split::Body(b) => self.body(b),
        }
        Ok(())
    }

    /// Gives the results of iprev and of the DNS lists checked when the client
    /// connected (a milter does that at CONNECT): they are reported as they are, not
    /// asked again.
    pub fn connection_checked(
        &mut self,
        iprev: crate::iprev::IprevOutcome,
        dnsbl: Vec<crate::dnsbl::DnsblOutcome>,
    ) {
        self.connection = Some((iprev, dnsbl));
    }

    /// Marks the message malformed when its header could not be parsed apart from the
    /// verifier (as a milter does with the fields the MTA hands over).
    pub fn malformed(&mut self, why: HeaderError) {
        self.malformed = Some(why);
    }

    /// Sets the header (when it arrives apart from the body).
    pub fn headers(&mut self, headers: Headers) {
        self.dkim = Some(DkimVerifier::new_shared(
            &headers,
            self.now,
            self.config.dkim.clone(),
            &mut self.hashers,
        ));
        self.arc = Some(ArcVerifier::new_shared(
            &headers,
            self.config.arc.clone(),
            &mut self.hashers,
        ));
        if self.config.dkim2.is_some() {
            self.dkim2_body = Some(Vec::new());
        }
        self.domainkeys = headers
            .get("DomainKey-Signature")
            .next()
            .is_some()
            .then(|| crate::domainkeys::DomainKeysVerifier::new(&headers));
        self.headers = Some(headers);
    }

    /// Feeds body bytes: one pass for every DKIM and ARC body hash.
    pub fn body(&mut self, chunk: &[u8]) {
        self.hashers.update(chunk);
        if let Some(dk) = self.domainkeys.as_mut() {
            dk.body(chunk);
        }
        if let Some(b) = self.dkim2_body.as_mut() {
            if b.len() + chunk.len() > MAX_DKIM2_BODY {
                self.dkim2_body = None;
                self.dkim2_too_large = true;
            } else {
                b.extend_from_slice(chunk);
            }
        }
    }

    /// Evaluates everything. A malformed header gives a verdict too, without any DNS
    /// query: see [`Report::malformed`].
    pub async fn finish<R: Resolver>(mut self, resolver: &R) -> Report {
        if self.malformed.is_none() && self.headers.is_none() {
            match self.splitter.finish() {
                Ok(h) => self.headers(h.unwrap_or_default()),
                Err(e) => self.malformed = Some(e),
            }
        }
        if let Some(why) = self.malformed {
            return Report {
                spf: None,
                helo: None,
                dkim: Vec::new(),
                dmarc: DmarcOutcome::malformed(&why, &self.config.dmarc),
                arc: ArcOutcome::none(),
                iprev: crate::iprev::IprevOutcome::none(),
                adsp: crate::adsp::AdspOutcome::none(),
                sender_id: crate::senderid::SenderIdOutcome::none(),
                domainkeys: Vec::new(),
                dnsbl: Vec::new(),
                dkim2: None,
                remote_ip: self.envelope.ip,
                malformed: Some(why),
                report_mail: false,
                header: None,
            };
        }
        let headers = self.headers.take().unwrap_or_default();
        let dkim_verifier = self.dkim.take().expect("set with the headers");
        let arc_verifier = self.arc.take().expect("set with the headers");
        let hashes = std::mem::take(&mut self.hashers).finish();
        let spf = Spf::with_config(resolver, self.config.spf.clone());
        let env = &self.envelope;
        let now = self.now;
        let mail_from = async {
            match (env.ip, &env.mail_from) {
                (Some(ip), Some(m)) => Some(
                    spf.verify_mail_from(ip, env.helo.as_deref().unwrap_or(""), m, now)
                        .await
                        .into_owned(),
                ),
                _ => None,
            }
        };
        let helo = async {
            match (env.ip, &env.helo) {
                (Some(ip), Some(h)) => Some(spf.verify_helo(ip, h, now).await.into_owned()),
                _ => None,
            }
        };
        let lists = &self.config.dnsbl;
        let checked = self.connection.take();
        let iprev = async {
            match (checked, env.ip) {
                (Some(c), _) => c,
                (None, Some(ip)) => {
                    join(
                        crate::iprev::check(resolver, ip),
                        crate::dnsbl::check(resolver, ip, lists),
                    )
                    .await
                }
                (None, None) => (crate::iprev::IprevOutcome::none(), Vec::new()),
            }
        };
        // The From field is parsed once, for ADSP and DMARC.
        let author_result = dmarc::author_domain(&headers);
        let author = author_result.as_ref().ok().cloned();
        // ADSP asks about each author domain (RFC 5617 §2.3): the DMARC one, or, when
        // the From field names several domains (DMARC exempts it), each of them.
        let adsp_domains = match (&author, &author_result) {
            (Some(d), _) => vec![d.clone()],
            (None, Err(dmarc::FromError::Domains(_))) => {
                dmarc::author_domains(&headers, crate::adsp::MAX_AUTHORS)
            }
            (None, _) => Vec::new(),
        };
        let adsp = crate::pipeline::join_all(
            adsp_domains
                .iter()
                .map(|d| Box::pin(crate::adsp::lookup(resolver, d)))
                .collect(),
        );
        let skip_sender_id = self.config.skip_sender_id;
        let sender_id = async {
            match env.ip {
                Some(ip) if !skip_sender_id => {
                    let helo = env.helo.as_deref().unwrap_or("");
                    crate::senderid::check_pra(&spf, ip, helo, &headers, now).await
                }
                _ => crate::senderid::SenderIdOutcome::none(),
            }
        };
        let domainkeys_verifier = self.domainkeys.take();
        let domainkeys = async {
            match domainkeys_verifier {
                Some(v) => v.finish(resolver).await,
                None => Vec::new(),
            }
        };
        let dkim = dkim_verifier.finish_hashed(&hashes, resolver);
        let arc = arc_verifier.finish_hashed(&hashes, resolver);
        // DMARC policy discovery needs only the header: it runs alongside SPF, DKIM and
        // ARC.
        let discovery = dmarc::discover_for(resolver, author_result, &self.config.dmarc);
        let (
            ((spf_result, helo_result), (sender_id, domainkeys)),
            ((dkim_results, arc), (discovered, ((iprev, dnsbl), adsp))),
        ) = join(
            join(join(mail_from, helo), join(sender_id, domainkeys)),
            join(join(dkim, arc), join(discovery, join(iprev, adsp))),
        )
        .await;
        let adsp = crate::adsp::most_severe(
            adsp.into_iter()
                .map(|l| crate::adsp::conclude(l, &dkim_results))
                .collect(),
        );
        let mut dmarc = dmarc::conclude(
            resolver,
            discovered,
            spf_result.as_ref(),
            &dkim_results,
            &self.config.dmarc,
        )
        .await;
        apply_trusted_forwarder(&mut dmarc, &arc, &self.config.trusted_arc_sealers);
        let dkim2 = match &self.config.dkim2 {
            None => None,
            Some(_) if self.dkim2_too_large => Some(crate::dkim2::Dkim2Outcome::too_large()),
            Some(c) => {
                let envelope = env.mail_from.as_ref().map(|m| crate::dkim2::Dkim2Envelope {
                    mail_from: m.clone(),
                    rcpt_to: env.rcpt_to.clone(),
                });
                let body = self.dkim2_body.take().unwrap_or_default();
                Some(
                    crate::dkim2::verify(&headers, &body, envelope.as_ref(), now, c, resolver)
                        .await,
                )
            }
        };
        Report {
            spf: spf_result,
            helo: helo_result,
            dkim: dkim_results,
            dmarc,
            arc,
            iprev,
            adsp,
            sender_id,
            domainkeys,
            dnsbl,
            dkim2,
            remote_ip: self.envelope.ip,
            malformed: None,
            report_mail: crate::report::is_report_mail(&headers),
            header: Some(headers),
        }
    }
}

/// RFC 9989 §5.3 with RFC 8617 §7.2.1: a DMARC failure whose ARC chain passes and
/// whose oldest-pass sealer is trusted and vouched for the message is delivered
/// (disposition `none`, override `trusted_forwarder`); the result stays `fail`, as
/// reports must say.
fn apply_trusted_forwarder(dmarc: &mut DmarcOutcome, arc: &ArcOutcome, trusted: &[String]) {
    if dmarc.result != dmarc::DmarcResult::Fail {
        return;
    }
    let Some(from) = dmarc.header_from.as_deref() else {
        return;
    };
    // Under adkim=s a recorded DKIM pass must be of the author domain itself (RFC
    // 9989 §4.4): no organizational domain to align with.
    let strict = dmarc
        .record
        .as_ref()
        .is_some_and(|r| r.adkim == dmarc::AlignmentMode::Strict);
    let org = if strict {
        None
    } else {
        dmarc.organizational_domain.as_deref()
    };
    let Some((sealer, instance, recorded)) = crate::arc::trusted_forwarder(arc, trusted, from, org)
    else {
        return;
    };
    let why = dmarc::DmarcReason::TrustedForwarder {
        sealer,
        instance,
        recorded,
    };
    dmarc.disposition = dmarc::Disposition::None;
    dmarc.overrides.push(dmarc::PolicyOverride {
        kind: dmarc::OverrideKind::TrustedForwarder,
        comment: Some(why.to_string()),
    });
    dmarc.reason = Some(why);
}

/// Polls futures to completion concurrently (no runtime needed); results in order.
/// Futures that are not `Unpin` are given boxed (`Box::pin`).
pub async fn join_all<F: Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, r) in futures.iter_mut().zip(results.iter_mut()) {
            if r.is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    Poll::Ready(v) => *r = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(|r| r.expect("all ready")).collect()
}

/// Runs two futures concurrently (no runtime needed); both outputs, in order.
///
/// A combinator rather than an `async fn`: an `async fn` keeps its arguments and the
/// pinned copies it polls side by side, so every level of nesting doubled the size of
/// what it holds (a whole message's checks came to 73 KB, copied at each move). Each
/// side's output takes the place of its future ([`Slot`]), so nested joins do not
/// keep their outputs at every level either.
pub(crate) fn join<A: Future, B: Future>(a: A, b: B) -> Join<A, B> {
    Join {
        a: Slot::Running { future: a },
        b: Slot::Running { future: b },
    }
}

pin_project_lite::pin_project! {
    /// The future of [`join`].
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Join<A: Future, B: Future> {
        #[pin]
        a: Slot<A>,
        #[pin]
        b: Slot<B>,
    }
}

pin_project_lite::pin_project! {
    /// One side of a [`Join`]: its future, then its output, then nothing once given.
    #[project = SlotProj]
    #[project_replace = SlotReplace]
    pub(crate) enum Slot<F: Future> {
        Running { #[pin] future: F },
        Done { output: F::Output },
        Given,
    }
}

impl<F: Future> Slot<F> {
    /// Polls the future if it is still running; whether the output is there.
    fn poll_done(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> bool {
        match self.as_mut().project() {
            SlotProj::Running { future } => match future.poll(cx) {
                Poll::Ready(output) => {
                    // The finished future is dropped in place; its output stays.
                    self.set(Slot::Done { output });
                    true
                }
                Poll::Pending => false,
            },
            SlotProj::Done { .. } => true,
            SlotProj::Given => false,
        }
    }

    /// The output, once (after [`Slot::poll_done`] said it is there).
    fn take(self: std::pin::Pin<&mut Self>) -> Option<F::Output> {
        match self.project_replace(Slot::Given) {
            SlotReplace::Done { output } => Some(output),
            SlotReplace::Running { .. } | SlotReplace::Given => None,
        }
    }
}

impl<A: Future, B: Future> Future for Join<A, B> {
    type Output = (A::Output, B::Output);

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let a = this.a.as_mut().poll_done(cx);
        let b = this.b.as_mut().poll_done(cx);
        if a && b
            && let (Some(a), Some(b)) = (this.a.take(), this.b.take())
        {
            return Poll::Ready((a, b));
        }
        // Pending; or polled again after it was ready, which a caller must not do (as
        // for any future): it then stays pending rather than panicking.
        Poll::Pending
    }
}

/// Verifies a whole message held in memory (any line endings). A malformed header
/// gives a [`Report`] with [`Report::malformed`] set, never an error.
pub async fn verify_message<R: Resolver>(
    message: &[u8],
    envelope: Envelope,
    config: VerifyConfig,
    now: u64,
    resolver: &R,
) -> Report {
    let mut normalized = Vec::new();
    crate::message::CrlfNormalizer::new().normalize(message, &mut normalized);
    let mut v = MessageVerifier::new(envelope, config, now);
    // An error is remembered by the verifier and reported by finish.
    let _ = v.push(&normalized);
    v.finish(resolver).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_dns::{Lookup, RecordType, ZoneResolver};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts how many lookups are in flight at once; each lookup yields to the
    /// executor a few times before answering, as a network lookup would.
    struct Overlap {
        zone: ZoneResolver,
        now: AtomicUsize,
        max: AtomicUsize,
    }

    impl Resolver for Overlap {
        async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(n, Ordering::SeqCst);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            self.now.fetch_sub(1, Ordering::SeqCst);
            self.zone.lookup_now(name, rtype)
        }
    }

    #[test]
    fn spf_dkim_and_dmarc_discovery_overlap() {
        let zone = ZoneResolver::parse(
            "example.com. TXT \"v=spf1 -all\"\nmail.example.com. TXT \"v=spf1 -all\"\n_dmarc.example.com. TXT \"v=DMARC1; p=none\"\n",
            "z",
            None,
        )
        .unwrap();
        let r = Overlap {
            zone,
            now: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        };
        let msg = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=AAAA; b=AAAA\r\nFrom: a@example.com\r\n\r\nhi\r\n";
        let env = Envelope {
            ip: Some("192.0.2.1".parse().unwrap()),
            helo: Some("mail.example.com".into()),
            mail_from: Some("a@example.com".into()),
            rcpt_to: Vec::new(),
        };
        let report = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(verify_message(msg, env, VerifyConfig::default(), 0, &r));
        assert_eq!(report.spf.unwrap().result.as_str(), "fail");
        // MAIL FROM SPF, HELO SPF, the DKIM key and DMARC discovery: four at once.
        assert!(
            r.max.load(Ordering::SeqCst) >= 4,
            "max in flight {}",
            r.max.load(Ordering::SeqCst)
        );
    }

    /// Signatures past the limit (DKIM and DomainKeys) are one `neutral` result each
    /// in Authentication-Results, not one per signature: 4,990 signatures had made a
    /// 729 KB field, past the 1 MiB header bound with the message, and past the 256
    /// results a reader takes.
    #[test]
    fn signatures_past_the_limit_are_one_result() {
        let zone = ZoneResolver::new();
        let mut msg = Vec::new();
        for i in 0..1_000 {
            msg.extend_from_slice(
                format!("DKIM-Signature: v=1; a=rsa-sha256; d=e{i}.example; s=s; h=from; bh=AAAA; b=AAAA\r\nDomainKey-Signature: a=rsa-sha1; d=e{i}.example; s=s; b=AAAA\r\n").as_bytes(),
            );
        }
        msg.extend_from_slice(b"From: a@example.com\r\n\r\nhi\r\n");
        let report = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(verify_message(
                &msg,
                Envelope::default(),
                VerifyConfig::default(),
                0,
                &zone,
            ));
        assert_eq!(report.dkim.len(), 1_000);
        let text = report.authentication_results("mx.test").to_value();
        assert_eq!(text.matches("dkim=").count(), 6, "{text}");
        assert!(
            text.contains("dkim=neutral (995 more signatures not evaluated: more than 5)"),
            "{text}"
        );
        assert!(text.contains("domainkeys=neutral ("), "{text}");
        assert!(text.len() < 4_000, "{}", text.len());
    }

    /// A future ready on its `n`th poll, waking itself until then; what it gives.
    fn ready_after(n: usize, value: &'static str) -> impl Future<Output = &'static str> {
        let mut polls = 0;
        std::future::poll_fn(move |cx| {
            polls += 1;
            if polls >= n {
                Poll::Ready(value)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    }

    #[test]
    fn join_runs_both_sides_and_keeps_their_order() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Either side may finish first; the outputs come in argument order.
        for (a, b) in [(1, 5), (5, 1), (3, 3)] {
            let out = rt.block_on(join(ready_after(a, "a"), ready_after(b, "b")));
            assert_eq!(out, ("a", "b"), "{a} and {b} polls");
        }
        // Nested, as `MessageVerifier::finish` joins its checks.
        let out = rt.block_on(join(
            join(ready_after(4, "1"), ready_after(1, "2")),
            join(
                ready_after(2, "3"),
                join(ready_after(6, "4"), ready_after(1, "5")),
            ),
        ));
        assert_eq!(out, (("1", "2"), ("3", ("4", "5"))));
        // Both sides run at once: a side that waits does not hold the other back.
        let log = std::cell::RefCell::new(Vec::new());
        let side = |name: &'static str, n: usize| {
            let log = &log;
            async move {
                for i in 0..n {
                    log.borrow_mut().push((name, i));
                    tokio::task::yield_now().await;
                }
            }
        };
        rt.block_on(join(side("a", 3), side("b", 3)));
        assert_eq!(
            *log.borrow(),
            [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
        );
    }

    /// What `finish` keeps while it runs is moved whole at least once (where a runtime
    /// pins it): it was 73 KB when `join` was an `async fn`, whose nesting doubled it
    /// at each level. A guard against that coming back, with room for new checks.
    #[test]
    fn finish_future_stays_small() {
        let resolver = ZoneResolver::default();
        let v = MessageVerifier::new(Envelope::default(), VerifyConfig::default(), 0);
        let size = std::mem::size_of_val(&v.finish(&resolver));
        assert!(size <= 16 * 1024, "MessageVerifier::finish is {size} bytes");
    }
}
