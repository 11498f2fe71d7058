//! ADSP, Author Domain Signing Practices (RFC 5617), a historic method: what the author
//! domain said of its own mail before DMARC. Read and reported (`dkim-adsp=` and the
//! `adsp` JSON key); it changes no disposition unless a receiver is configured to act
//! on `discard`, and it never counts for DMARC.
//!
//! RFC 5617 §4.2: the author domain must exist (else `nxdomain`); a valid signature
//! whose `d=` is the author domain itself is `pass`; otherwise the record at
//! `_adsp._domainkey.<author domain>` says `unknown`, `all` (→ `fail`) or `discardable`
//! (→ `discard`); no record is `none`.

use std::fmt;

use monban_dns::{LookupError, Record, RecordType, Resolver};

use crate::dkim::{DkimOutcome, DkimResult};

/// The ADSP result (RFC 5617 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdspResult {
    /// No ADSP record (or no author domain to ask about).
    None,
    /// An author domain signature verified.
    Pass,
    /// The domain says "unknown": it may sign some mail.
    Unknown,
    /// The domain says "all" is signed, and nothing signed by it verified.
    Fail,
    /// The domain says "discardable", and nothing signed by it verified.
    Discard,
    /// The author domain does not exist.
    Nxdomain,
    /// A DNS failure.
    Temperror,
    /// The record is malformed.
    Permerror,
}

impl AdspResult {
    /// The RFC 5617 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Unknown => "unknown",
            Self::Fail => "fail",
            Self::Discard => "discard",
            Self::Nxdomain => "nxdomain",
            Self::Temperror => "temperror",
            Self::Permerror => "permerror",
        }
    }
}

impl fmt::Display for AdspResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdspOutcome {
    /// The result.
    pub result: AdspResult,
    /// The author domain.
    pub domain: Option<String>,
    /// The record's `dkim=` value, when one was found.
    pub practice: Option<String>,
    /// Why, for errors.
    pub reason: Option<String>,
}

impl AdspOutcome {
    /// No author domain to ask about.
    pub fn none() -> Self {
        Self {
            result: AdspResult::None,
            domain: None,
            practice: None,
            reason: None,
        }
    }
}

/// What DNS says of an author domain, looked up while the message is still being read
/// (the decision also needs the DKIM results: [`conclude`]).
#[derive(Debug, Clone)]
pub struct Lookup {
    domain: String,
    exists: Result<bool, LookupError>,
    record: Result<Option<String>, LookupError>,
}

/// Looks up the author domain's existence (RFC 5617 §4.2.1, an MX query) and its ADSP
/// record, concurrently.
pub async fn lookup<R: Resolver>(resolver: &R, author_domain: &str) -> Lookup {
    let exists = async {
        match resolver.lookup(author_domain, RecordType::Mx).await {
            Ok(_) => Ok(true),
            Err(LookupError::NxDomain { .. }) => Ok(false),
            Err(e) if e.is_empty_answer() => Ok(true),
            Err(e) => Err(e),
        }
    };
    let record = async {
        match resolver
            .lookup(
                &["_adsp._domainkey.", author_domain].concat(),
                RecordType::Txt,
            )
            .await
        {
            // §4.1: records not in the record syntax (tags that do not parse, no
            // dkim= tag) "MUST be ignored (considered equivalent to a NODATA
            // result)"; the first that complies is used.
            Ok(answer) => Ok(answer.records.iter().find_map(|r| match r {
                Record::Txt(t) => {
                    let text = String::from_utf8_lossy(&t.joined()).into_owned();
                    practice_of(&text).map(|_| text)
                }
                _ => None,
            })),
            Err(e) if e.is_empty_answer() => Ok(None),
            Err(e) => Err(e),
        }
    };
    let (exists, record) = crate::pipeline::join(exists, record).await;
    Lookup {
        domain: author_domain.to_owned(),
        exists,
        record,
    }
}

/// The `dkim=` value of an ADSP record (lower case), or `None` when the text is not a
/// record that complies with RFC 5617 §4.1 (tag=value list, a `dkim=` tag).
fn practice_of(text: &str) -> Option<String> {
    let tags = crate::dkim::tags::parse(text).ok()?;
    tags.iter()
        .find(|t| t.name == "dkim")
        .map(|t| t.value.to_ascii_lowercase())
}

/// The most author domains of one message ADSP looks up (RFC 5617 §2.3 asks for each;
/// a From field may list many).
pub const MAX_AUTHORS: usize = 8;

/// Of the outcomes for several author domains (RFC 5617 §2.3: each checked on its
/// own), the one a receiver acts on: the most severe (discard, fail, nxdomain,
/// temperror, permerror, unknown, pass, none), the first of equals. A message from
/// `a@unknown.example, b@discardable.example` is judged by the second domain's
/// practice: checking one author only let the other's practice be dodged.
pub fn most_severe(outcomes: Vec<AdspOutcome>) -> AdspOutcome {
    let rank = |r: AdspResult| match r {
        AdspResult::Discard => 0,
        AdspResult::Fail => 1,
        AdspResult::Nxdomain => 2,
        AdspResult::Temperror => 3,
        AdspResult::Permerror => 4,
        AdspResult::Unknown => 5,
        AdspResult::Pass => 6,
        AdspResult::None => 7,
    };
    outcomes
        .into_iter()
        .min_by_key(|o| rank(o.result))
        .unwrap_or_else(AdspOutcome::none)
}

/// The result, given the DKIM outcomes of the message (RFC 5617 §4.2).
pub fn conclude(lookup: Lookup, dkim: &[DkimOutcome]) -> AdspOutcome {
    let domain = lookup.domain;
    let out = |result, practice: Option<String>, reason: Option<String>| AdspOutcome {
        result,
        domain: Some(domain.clone()),
        practice,
        reason,
    };
    match lookup.exists {
        Ok(false) => return out(AdspResult::Nxdomain, None, None),
        Err(e) => return out(AdspResult::Temperror, None, Some(e.to_string())),
        Ok(true) => {}
    }
    // The practice, when one is published (reported even on a pass).
    let practice: Result<Option<String>, (AdspResult, String)> = match lookup.record {
        Ok(None) => Ok(None),
        Err(e) => Err((AdspResult::Temperror, e.to_string())),
        // Only complying records are kept by [`lookup`].
        Ok(Some(text)) => Ok(practice_of(&text)),
    };
    // §2.7: an Author Domain Signature has d= equal to the author domain.
    if dkim
        .iter()
        .any(|o| o.result == DkimResult::Pass && o.domain.eq_ignore_ascii_case(&domain))
    {
        return out(AdspResult::Pass, practice.ok().flatten(), None);
    }
    match practice {
        Err((result, why)) => out(result, None, Some(why)),
        Ok(None) => out(AdspResult::None, None, None),
        Ok(Some(p)) => {
            // §4.2.1: an unknown value is treated as "unknown".
            let result = match p.as_str() {
                "all" => AdspResult::Fail,
                "discardable" => AdspResult::Discard,
                _ => AdspResult::Unknown,
            };
            out(result, Some(p), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_dns::ZoneResolver;

    fn adsp(zone: &str, domain: &str, signed_by: Option<&str>) -> AdspOutcome {
        let z = ZoneResolver::parse(zone, "z", None).unwrap();
        let l = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(lookup(&z, domain));
        let dkim: Vec<DkimOutcome> = signed_by
            .map(|d| DkimOutcome {
                result: DkimResult::Pass,
                reason: None,
                domain: d.to_owned(),
                selector: "s".into(),
                algorithm: "rsa-sha256".into(),
                identity: format!("@{d}"),
                header_b: String::new(),
                key_bits: Some(2048),
                testing: false,
            })
            .into_iter()
            .collect();
        conclude(l, &dkim)
    }

    /// RFC 5617 §4.2 and §5.4: each result.
    #[test]
    fn rfc5617_4_2_results() {
        let zone = "a.example. MX 10 mx.a.example.\n_adsp._domainkey.a.example. TXT \"dkim=all\"\nb.example. A 192.0.2.1\n_adsp._domainkey.b.example. TXT \"dkim=discardable\"\nc.example. A 192.0.2.1\n_adsp._domainkey.c.example. TXT \"dkim=whatever\"\nd.example. A 192.0.2.1\n_adsp._domainkey.d.example. TXT \"t=y\"\ne.example. A 192.0.2.1\n";
        assert_eq!(adsp(zone, "a.example", None).result, AdspResult::Fail);
        assert_eq!(
            adsp(zone, "a.example", Some("a.example")).result,
            AdspResult::Pass
        );
        // A signature by another domain (a subdomain too) is not an author signature.
        assert_eq!(
            adsp(zone, "a.example", Some("x.a.example")).result,
            AdspResult::Fail
        );
        assert_eq!(adsp(zone, "b.example", None).result, AdspResult::Discard);
        assert_eq!(adsp(zone, "c.example", None).result, AdspResult::Unknown);
        assert_eq!(adsp(zone, "d.example", None).result, AdspResult::None);
        assert_eq!(adsp(zone, "e.example", None).result, AdspResult::None);
        assert_eq!(
            adsp(zone, "gone.example", None).result,
            AdspResult::Nxdomain
        );
    }

    /// RFC 5617 §4.1: a record that does not comply with the syntax "MUST be ignored
    /// (considered equivalent to a NODATA result)"; a complying one beside it is used.
    /// A trial found such records giving permerror.
    #[test]
    fn rfc5617_4_1_records_that_do_not_comply_are_ignored() {
        let zone = "a.example. A 192.0.2.1\n_adsp._domainkey.a.example. TXT \"dkimfoo=all\"\nb.example. A 192.0.2.1\n_adsp._domainkey.b.example. TXT \"dkim=all; =x\"\nc.example. A 192.0.2.1\n_adsp._domainkey.c.example. TXT \"dkim=all; =x\"\n_adsp._domainkey.c.example. TXT \"dkim=discardable\"\n";
        for domain in ["a.example", "b.example"] {
            let outcome = adsp(zone, domain, None);
            assert_eq!(outcome.result, AdspResult::None, "{domain}: {outcome:?}");
            assert_eq!(outcome.reason, None, "{domain}");
        }
        assert_eq!(adsp(zone, "c.example", None).result, AdspResult::Discard);
    }
}
