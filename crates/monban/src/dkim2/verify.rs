//! DKIM2 verification (draft-ietf-dkim-dkim2-spec-02 §9 to §11): every signature of the
//! chain, the SMTP envelope against the latest hop's `mf=`/`rt=`, the chain of custody
//! between hops, and every recorded Message-Instance's hashes, rebuilding each earlier
//! instance with its recipe. The first failure decides, in the draft's order.

use std::fmt;

use monban_dns::Resolver;

use super::canon::{body_hash, header_hash};
use super::fields::{
    Dkim2Signature, FieldError, MAX_FIELDS, MessageInstance, blank_signatures, signed_form,
};
use super::recipe::Instance;
use crate::dkim::verify::{check_signature, usable_key_with};
use crate::dkim::{DkimConfig, DkimReason, DkimResult};
use crate::message::Headers;

/// The result (RFC 8601 style names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dkim2Result {
    /// No DKIM2 signature (or a numbering gap, which the draft treats as unsigned).
    None,
    /// Every signature and hash verified.
    Pass,
    /// A signature or a hash does not verify.
    Fail,
    /// Something is malformed or not acceptable.
    Permerror,
    /// A key could not be fetched for now.
    Temperror,
}

impl Dkim2Result {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Permerror => "permerror",
            Self::Temperror => "temperror",
        }
    }
}

impl fmt::Display for Dkim2Result {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why, named after the draft's error texts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dkim2Reason {
    /// A field does not parse.
    Syntax {
        /// `DKIM2-Signature` or `Message-Instance`.
        field: &'static str,
        /// What is wrong.
        why: FieldError,
    },
    /// More fields than [`MAX_FIELDS`].
    TooManyFields,
    /// The body is larger than monban keeps whole for DKIM2.
    BodyTooLarge,
    /// The `i=` numbers are not 1, 2, ... (the message counts as unsigned).
    NumberingGap,
    /// A required tag is missing or empty.
    Missing {
        /// The signature's `i=`.
        instance: u64,
        /// The tag.
        tag: &'static str,
    },
    /// Neither `mf=` nor `rt=`.
    NoEnvelope {
        /// The signature's `i=`.
        instance: u64,
    },
    /// `mf=`/`rt=` without angle brackets (§7.5).
    Brackets {
        /// The signature's `i=`.
        instance: u64,
    },
    /// `t=` is older than the allowed age.
    Expired {
        /// The signature's `i=`.
        instance: u64,
    },
    /// The Message-Instance numbers are not 1, 2, ..., or there is none.
    InstanceNumbering,
    /// The latest signature does not cover the latest Message-Instance.
    InstanceNotSigned,
    /// `nd=` where it may not be.
    NextDomain {
        /// The signature's `i=`.
        instance: u64,
    },
    /// The SMTP MAIL FROM is not the latest hop's `mf=`.
    MailFrom,
    /// An SMTP RCPT TO is not in the latest hop's `rt=`.
    RcptTo {
        /// The recipient.
        rcpt: String,
    },
    /// The `mf=` domain is not `d=` or below it (§7.7).
    DomainMismatch {
        /// `d=`.
        domain: String,
    },
    /// A hop's MAIL FROM domain is not one the previous hop sent to.
    Custody {
        /// The signature's `i=`.
        instance: u64,
    },
    /// No signature with a known algorithm.
    NoKnownAlgorithm {
        /// The signature's `i=`.
        instance: u64,
    },
    /// The key cannot verify (missing, malformed, wrong type, too short) or the
    /// signature does not verify.
    Signature {
        /// The signature's `i=`.
        instance: u64,
        /// Why, as DKIM words it.
        why: DkimReason,
    },
    /// A recorded header hash does not match.
    HeaderHash {
        /// The Message-Instance `m=`.
        instance: u64,
    },
    /// A recorded body hash does not match.
    BodyHash {
        /// The Message-Instance `m=`.
        instance: u64,
    },
    /// An instance above 1 has no recipe.
    NoRecipe {
        /// The Message-Instance `m=`.
        instance: u64,
    },
    /// A later hop did what an earlier one's flag forbids (`donotmodify`,
    /// `donotexplode`).
    Flag {
        /// The flag.
        flag: &'static str,
        /// The instance (`m=` or `i=`) that broke it.
        instance: u64,
    },
    /// A recipe cannot rebuild the previous instance.
    Recipe {
        /// The Message-Instance `m=`.
        instance: u64,
        /// Why.
        why: &'static str,
    },
}

impl fmt::Display for Dkim2Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { field, why } => write!(f, "{field} syntax error: {why}"),
            Self::TooManyFields => write!(f, "more than {MAX_FIELDS} DKIM2 fields of one kind"),
            Self::BodyTooLarge => write!(
                f,
                "the body is larger than {} MiB, the most kept whole for DKIM2",
                crate::pipeline::MAX_DKIM2_BODY >> 20
            ),
            Self::NumberingGap => f.write_str("the DKIM2-Signature i= numbers have a gap"),
            Self::Missing { instance, tag } => {
                write!(f, "DKIM2-Signature i={instance}: tag {tag}= missing")
            }
            Self::NoEnvelope { instance } => {
                write!(f, "DKIM2-Signature i={instance}: neither mf= nor rt=")
            }
            Self::Brackets { instance } => write!(
                f,
                "DKIM2-Signature i={instance}: mf= and rt= must carry angle brackets"
            ),
            Self::Expired { instance } => {
                write!(f, "DKIM2-Signature i={instance}: signature expired")
            }
            Self::InstanceNumbering => {
                f.write_str("the Message-Instance m= numbers are missing or have a gap")
            }
            Self::InstanceNotSigned => f.write_str(
                "the latest Message-Instance is not the one the latest signature covers",
            ),
            Self::NextDomain { instance } => {
                write!(f, "DKIM2-Signature i={instance}: nd= is not allowed here")
            }
            Self::MailFrom => f.write_str("MAIL FROM did not match the latest signature's mf="),
            Self::RcptTo { rcpt } => {
                write!(f, "RCPT TO {rcpt} did not match the latest signature's rt=")
            }
            Self::DomainMismatch { domain } => {
                write!(f, "MAIL FROM and d={domain} do not match")
            }
            Self::Custody { instance } => write!(
                f,
                "DKIM2-Signature i={instance}: its MAIL FROM domain is not one the previous hop sent to"
            ),
            Self::NoKnownAlgorithm { instance } => {
                write!(
                    f,
                    "DKIM2-Signature i={instance}: no signature with a known algorithm"
                )
            }
            Self::Signature { instance, why } => {
                write!(f, "DKIM2-Signature i={instance}: {why}")
            }
            Self::HeaderHash { instance } => {
                write!(f, "Message-Instance m={instance} header hash mismatch")
            }
            Self::BodyHash { instance } => {
                write!(f, "Message-Instance m={instance} body hash mismatch")
            }
            Self::NoRecipe { instance } => {
                write!(f, "Message-Instance m={instance} has no recipe")
            }
            Self::Flag { flag, instance } => {
                write!(
                    f,
                    "{flag} was asked for, and instance {instance} does not respect it"
                )
            }
            Self::Recipe { instance, why } => {
                write!(f, "Message-Instance m={instance}: {why}")
            }
        }
    }
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dkim2Outcome {
    /// The result.
    pub result: Dkim2Result,
    /// Why, when not a pass.
    pub reason: Option<Dkim2Reason>,
    /// The signing domains, hop 1 first (those that parsed).
    pub domains: Vec<String>,
    /// The highest Message-Instance.
    pub instances: u64,
}

impl Dkim2Outcome {
    fn with(result: Dkim2Result, reason: Option<Dkim2Reason>, domains: Vec<String>) -> Self {
        Self {
            result,
            reason,
            domains,
            instances: 0,
        }
    }

    /// The outcome for a body too large to keep whole
    /// ([`crate::pipeline::MAX_DKIM2_BODY`]): `permerror`, never judged in part.
    pub fn too_large() -> Self {
        Self::with(
            Dkim2Result::Permerror,
            Some(Dkim2Reason::BodyTooLarge),
            Vec::new(),
        )
    }

    /// The reason as text.
    pub fn reason_text(&self) -> Option<String> {
        self.reason.as_ref().map(ToString::to_string)
    }
}

/// Verification settings.
#[derive(Debug, Clone)]
pub struct Dkim2Config {
    /// Require angle brackets in `mf=`/`rt=` (§7.5; default true). Off for signatures
    /// of the pre-WG draft (draft-clayton-dkim2-spec-08), which wrote bare addresses.
    pub strict: bool,
    /// The oldest a signature may be, in seconds (default 14 days); 0: no limit.
    pub max_age: u64,
    /// The signature verifier (default: aws-lc-rs).
    pub verifier: std::sync::Arc<dyn crate::crypto::SignatureVerifier>,
}

impl Default for Dkim2Config {
    fn default() -> Self {
        Self {
            strict: true,
            max_age: 14 * 86_400,
            verifier: std::sync::Arc::new(crate::crypto::AwsLc),
        }
    }
}

/// The SMTP envelope the message arrived with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dkim2Envelope {
    /// MAIL FROM (with or without angle brackets; `<>` or empty for the null sender).
    pub mail_from: String,
    /// RCPT TO, each with or without angle brackets.
    pub rcpt_to: Vec<String>,
}

fn bracketed(a: &str) -> bool {
    a.starts_with('<') && a.ends_with('>')
}

/// (local part, domain) of an address, one pair of angle brackets stripped; split at the
/// last `@`.
fn parts(a: &str) -> (&str, &str) {
    let a = a.strip_prefix('<').unwrap_or(a);
    let a = a.strip_suffix('>').unwrap_or(a);
    a.rsplit_once('@').unwrap_or((a, ""))
}

/// The same address: local parts exactly, domains without case.
fn same_address(a: &str, b: &str) -> bool {
    let ((la, da), (lb, db)) = (parts(a), parts(b));
    la == lb && da.eq_ignore_ascii_case(db)
}

/// Verifies the DKIM2 fields of a message (`body` as received; CRLF or LF).
pub async fn verify<R: Resolver>(
    headers: &Headers,
    body: &[u8],
    envelope: Option<&Dkim2Envelope>,
    now: u64,
    config: &Dkim2Config,
    resolver: &R,
) -> Dkim2Outcome {
    use Dkim2Result::{Fail, None as Unsigned, Permerror};
    // Step 0: every field parses.
    let mut sigs: Vec<(Vec<u8>, Dkim2Signature)> = Vec::new();
    let mut instances: Vec<(Vec<u8>, MessageInstance)> = Vec::new();
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    for f in headers.fields() {
        let name = String::from_utf8_lossy(f.name).trim().to_owned();
        fields.push((name.clone(), f.value.to_vec()));
        if name.eq_ignore_ascii_case("DKIM2-Signature") {
            if sigs.len() >= MAX_FIELDS {
                return Dkim2Outcome::with(Permerror, Some(Dkim2Reason::TooManyFields), vec![]);
            }
            match Dkim2Signature::parse(f.value) {
                Ok(s) => sigs.push((f.name.to_vec(), s)),
                Err(why) => {
                    return Dkim2Outcome::with(
                        Permerror,
                        Some(Dkim2Reason::Syntax {
                            field: "DKIM2-Signature",
                            why,
                        }),
                        vec![],
                    );
                }
            }
        } else if name.eq_ignore_ascii_case("Message-Instance") {
            if instances.len() >= MAX_FIELDS {
                return Dkim2Outcome::with(Permerror, Some(Dkim2Reason::TooManyFields), vec![]);
            }
            match MessageInstance::parse(f.value) {
                Ok(m) => instances.push((f.name.to_vec(), m)),
                Err(why) => {
                    return Dkim2Outcome::with(
                        Permerror,
                        Some(Dkim2Reason::Syntax {
                            field: "Message-Instance",
                            why,
                        }),
                        vec![],
                    );
                }
            }
        }
    }
    if sigs.is_empty() {
        return Dkim2Outcome::with(Unsigned, None, vec![]);
    }
    // Step 1.
    sigs.sort_by_key(|(_, s)| s.instance);
    instances.sort_by_key(|(_, m)| m.number);
    let domains: Vec<String> = sigs.iter().map(|(_, s)| s.domain.clone()).collect();
    let out = |result, reason| {
        let mut o = Dkim2Outcome::with(result, Some(reason), domains.clone());
        o.instances = instances.last().map_or(0, |(_, m)| m.number);
        o
    };
    // Step 2: each signature on its own.
    for (k, (_, s)) in sigs.iter().enumerate() {
        let i = s.instance;
        if i != k as u64 + 1 {
            return out(Unsigned, Dkim2Reason::NumberingGap);
        }
        if s.message_instance == 0 {
            return out(
                Permerror,
                Dkim2Reason::Missing {
                    instance: i,
                    tag: "m",
                },
            );
        }
        if s.domain.is_empty() {
            return out(
                Permerror,
                Dkim2Reason::Missing {
                    instance: i,
                    tag: "d",
                },
            );
        }
        if s.next_domain.is_none() {
            if s.mail_from.is_empty() && s.rcpt_to.is_empty() {
                return out(Permerror, Dkim2Reason::NoEnvelope { instance: i });
            }
            if config.strict && !(bracketed(&s.mail_from) && s.rcpt_to.iter().all(|r| bracketed(r)))
            {
                return out(Permerror, Dkim2Reason::Brackets { instance: i });
            }
        }
        if config.max_age > 0 && now > s.timestamp && now - s.timestamp > config.max_age {
            return out(Permerror, Dkim2Reason::Expired { instance: i });
        }
    }
    // Step 3: instances 1..M, the latest signed by the latest signature.
    let top = &sigs[sigs.len() - 1].1;
    if instances.is_empty()
        || instances
            .iter()
            .enumerate()
            .any(|(k, (_, m))| m.number != k as u64 + 1)
    {
        return out(Permerror, Dkim2Reason::InstanceNumbering);
    }
    if instances[instances.len() - 1].1.number != top.message_instance {
        return out(Permerror, Dkim2Reason::InstanceNotSigned);
    }
    // Step 4: the envelope of this delivery is the latest hop's.
    if top.next_domain.is_some() {
        return out(
            Permerror,
            Dkim2Reason::NextDomain {
                instance: top.instance,
            },
        );
    }
    if let Some(env) = envelope {
        if !same_address(&env.mail_from, &top.mail_from) {
            return out(Permerror, Dkim2Reason::MailFrom);
        }
        // One set of the signed recipients (local part exact, domain without case), so
        // many recipients against a long rt= stay linear.
        let key = |a: &str| {
            let (l, d) = parts(a);
            (l.to_owned(), d.to_ascii_lowercase())
        };
        let signed: std::collections::HashSet<(String, String)> =
            top.rcpt_to.iter().map(|t| key(t)).collect();
        if let Some(r) = env.rcpt_to.iter().find(|r| !signed.contains(&key(r))) {
            return out(Permerror, Dkim2Reason::RcptTo { rcpt: r.clone() });
        }
    }
    // Step 5: the latest MAIL FROM is the signer's domain or below it (§7.7).
    if top.mail_from != "<>"
        && !monban_dns::is_same_or_subdomain(parts(&top.mail_from).1, &top.domain)
    {
        return out(
            Permerror,
            Dkim2Reason::DomainMismatch {
                domain: top.domain.clone(),
            },
        );
    }
    // Step 6: each hop received the message from the one before.
    for pair in sigs.windows(2) {
        let (prev, cur) = (&pair[0].1, &pair[1].1);
        let ok = match &prev.next_domain {
            Some(nd) => cur.domain.eq_ignore_ascii_case(nd),
            None => {
                cur.next_domain.is_none()
                    && prev.rcpt_to.iter().any(|r| {
                        monban_dns::is_same_or_subdomain(parts(&cur.mail_from).1, parts(r).1)
                    })
            }
        };
        if !ok {
            return out(
                Permerror,
                Dkim2Reason::Custody {
                    instance: cur.instance,
                },
            );
        }
    }
    // Step 7: every signature.
    let dkim_config = DkimConfig {
        verifier: config.verifier.clone(),
        ..DkimConfig::default()
    };
    let mut data = Vec::with_capacity(2048);
    // Keys fetched once per message.
    type Key = Result<std::sync::Arc<crate::dkim::KeyRecord>, (DkimResult, DkimReason)>;
    let mut keys: std::collections::HashMap<(String, String, crate::dkim::Algorithm), Key> =
        Default::default();
    for (k, (name, s)) in sigs.iter().enumerate() {
        let i = s.instance;
        if s.signatures.is_empty() {
            return out(Fail, Dkim2Reason::NoKnownAlgorithm { instance: i });
        }
        data.clear();
        for (n, m) in instances
            .iter()
            .filter(|(_, m)| m.number <= s.message_instance)
        {
            signed_form(n, &m.raw, &mut data);
        }
        for (n, earlier) in &sigs[..k] {
            signed_form(n, &earlier.raw, &mut data);
        }
        signed_form(name, &blank_signatures(&s.raw), &mut data);
        for set in &s.signatures {
            let id = (s.domain.clone(), set.selector.clone(), set.algorithm);
            let fetched = match keys.get(&id) {
                Some(k) => k.clone(),
                None => {
                    let k = usable_key_with(
                        resolver,
                        &s.domain,
                        &set.selector,
                        set.algorithm,
                        None,
                        false,
                    )
                    .await;
                    keys.insert(id, k.clone());
                    k
                }
            };
            let key = match fetched {
                Ok(k) => k,
                Err((r, why)) => {
                    let result = if r == DkimResult::Temperror {
                        Dkim2Result::Temperror
                    } else {
                        Permerror
                    };
                    return out(result, Dkim2Reason::Signature { instance: i, why });
                }
            };
            if let Err((r, why)) =
                check_signature(&dkim_config, &key, set.algorithm, &data, &set.signature)
            {
                let result = if r == DkimResult::Fail {
                    Fail
                } else {
                    Permerror
                };
                return out(result, Dkim2Reason::Signature { instance: i, why });
            }
        }
    }
    // Step 8: the recorded hashes, instance by instance down, each earlier one rebuilt
    // with the recipe of the one above.
    let mut cur = Instance {
        fields,
        body: std::borrow::Cow::Borrowed(body),
    };
    for (_, m) in instances.iter().rev() {
        let Some((hh, bh)) = m.sha256 else { continue };
        if header_hash(&cur.fields) != hh {
            return out(Fail, Dkim2Reason::HeaderHash { instance: m.number });
        }
        if body_hash(&cur.body) != bh {
            return out(Fail, Dkim2Reason::BodyHash { instance: m.number });
        }
        if m.number > 1 {
            let Some(recipe) = &m.recipe else {
                return out(Permerror, Dkim2Reason::NoRecipe { instance: m.number });
            };
            cur = match recipe.apply(&cur) {
                Ok(prev) => prev,
                Err(why) => {
                    return out(
                        Fail,
                        Dkim2Reason::Recipe {
                            instance: m.number,
                            why,
                        },
                    );
                }
            };
        }
    }
    // Step 9: the flags. donotmodify: no instance after the one that hop signed may
    // differ from it; donotexplode: no later hop may say it exploded the message.
    if let Some(p) = sigs
        .iter()
        .filter(|(_, s)| s.flags.iter().any(|f| f == "donotmodify"))
        .map(|(_, s)| s.message_instance)
        .min()
    {
        let at = |m: u64| {
            instances
                .iter()
                .find(|(_, i)| i.number == m)
                .and_then(|(_, i)| i.sha256)
        };
        let fixed = at(p);
        if let Some((_, changed)) = instances
            .iter()
            .find(|(_, i)| i.number > p && i.sha256.is_some() && i.sha256 != fixed)
        {
            return out(
                Fail,
                Dkim2Reason::Flag {
                    flag: "donotmodify",
                    instance: changed.number,
                },
            );
        }
    }
    if let Some(q) = sigs
        .iter()
        .filter(|(_, s)| s.flags.iter().any(|f| f == "donotexplode"))
        .map(|(_, s)| s.instance)
        .min()
        && let Some((_, later)) = sigs
            .iter()
            .find(|(_, s)| s.instance > q && s.flags.iter().any(|f| f == "exploded"))
    {
        return out(
            Fail,
            Dkim2Reason::Flag {
                flag: "donotexplode",
                instance: later.instance,
            },
        );
    }
    let mut o = Dkim2Outcome::with(Dkim2Result::Pass, None, domains.clone());
    o.instances = top.message_instance;
    o
}
