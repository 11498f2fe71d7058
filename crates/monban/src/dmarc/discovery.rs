//! Policy discovery and the organizational domain: RFC 9989 §4.10 (the DNS tree walk).
//!
//! The walk asks `_dmarc.<name>` for the domain itself, then, if it has more than
//! eight labels, for its last seven labels, and then one label fewer each time down to
//! the top-level domain: at most eight queries (§4.10.1).

use monban_dns::{LookupError, Record, RecordType, Resolver};

use super::record::{DmarcRecord, Psd};

/// The most queries a walk makes (RFC 9989 §4.10.1).
pub const MAX_WALK_QUERIES: usize = 8;

/// The names a tree walk asks, in order (without the `_dmarc.` prefix).
pub fn walk_names(domain: &str) -> Vec<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let mut names = vec![labels.join(".")];
    let start = if labels.len() > MAX_WALK_QUERIES {
        7
    } else {
        labels.len().saturating_sub(1)
    };
    for n in (1..=start).rev() {
        names.push(labels[labels.len() - n..].join("."));
    }
    names.dedup();
    names.truncate(MAX_WALK_QUERIES);
    names
}

/// What `_dmarc.<name>` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Exactly one valid DMARC record.
    Record(DmarcRecord),
    /// No record (or none valid, or several: RFC 9989 §4.10.1 says several = none).
    None,
}

/// Fetches and parses `_dmarc.<name>`. Temporary DNS failures are returned as errors.
pub async fn fetch<R: Resolver>(resolver: &R, name: &str) -> Result<Lookup, LookupError> {
    let answer = match resolver
        .lookup(&["_dmarc.", name].concat(), RecordType::Txt)
        .await
    {
        Ok(a) => a,
        Err(e) if e.is_temporary() => return Err(e),
        Err(_) => return Ok(Lookup::None),
    };
    let mut found: Option<DmarcRecord> = None;
    let mut candidates = 0;
    for r in &answer.records {
        let Record::Txt(t) = r else { continue };
        let joined = t.joined();
        if !DmarcRecord::is_candidate(&joined) {
            continue;
        }
        candidates += 1;
        if let Ok(text) = std::str::from_utf8(&joined)
            && let Ok(rec) = DmarcRecord::parse(text)
        {
            found = Some(rec);
        }
    }
    Ok(match (found, candidates) {
        (Some(rec), 1) => Lookup::Record(rec),
        _ => Lookup::None,
    })
}

/// The record that governs a domain, and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The record.
    pub record: DmarcRecord,
    /// The domain whose `_dmarc` name held it.
    pub domain: String,
}

/// RFC 9989 §4.10.1 policy discovery: the author domain's own record, else the first
/// record found walking up.
pub async fn discover<R: Resolver>(
    resolver: &R,
    author_domain: &str,
) -> Result<Option<Discovered>, LookupError> {
    for name in walk_names(author_domain) {
        if let Lookup::Record(record) = fetch(resolver, &name).await? {
            return Ok(Some(Discovered {
                record,
                domain: name,
            }));
        }
    }
    Ok(None)
}

/// RFC 7489 §6.6.3 policy discovery: the author domain's record, else its
/// organizational domain's (found with the Public Suffix List).
pub async fn discover_two<R: Resolver>(
    resolver: &R,
    author_domain: &str,
    org_domain: &str,
) -> Result<Option<Discovered>, LookupError> {
    for name in [author_domain, org_domain] {
        if let Lookup::Record(record) = fetch(resolver, name).await? {
            return Ok(Some(Discovered {
                record,
                domain: name.to_owned(),
            }));
        }
        if author_domain == org_domain {
            break;
        }
    }
    Ok(None)
}

/// RFC 9989 §4.10.2: the organizational domain of `domain` by tree walk.
///
/// A record with `psd=n` marks the organizational domain; a record with `psd=y` (not at
/// the starting name) marks a public suffix, whose child toward `domain` is the
/// organizational domain; otherwise the record with the fewest labels; with no record
/// at all, the domain itself.
pub async fn organizational_domain<R: Resolver>(
    resolver: &R,
    domain: &str,
) -> Result<String, LookupError> {
    let names = walk_names(domain);
    let mut shortest: Option<String> = None;
    for (i, name) in names.iter().enumerate() {
        if let Lookup::Record(rec) = fetch(resolver, name).await? {
            match rec.psd {
                Psd::No => return Ok(name.clone()),
                Psd::Yes if i > 0 => {
                    // One label below the public suffix, toward the domain.
                    let labels = name.split('.').count() + 1;
                    let full: Vec<&str> = names[0].split('.').collect();
                    return Ok(full[full.len().saturating_sub(labels)..].join("."));
                }
                _ => shortest = Some(name.clone()),
            }
        }
    }
    Ok(shortest.unwrap_or_else(|| names[0].clone()))
}

/// Whether a domain exists for `np` purposes (RFC 9989 §4.7 np: NXDOMAIN for A, AAAA
/// and MX means non-existent). Temporary failures are errors.
pub async fn domain_exists<R: Resolver>(resolver: &R, domain: &str) -> Result<bool, LookupError> {
    for rtype in [RecordType::A, RecordType::Aaaa, RecordType::Mx] {
        match resolver.lookup(domain, rtype).await {
            Ok(_) => return Ok(true),
            Err(LookupError::NoData { .. }) => return Ok(true),
            Err(e) if e.is_temporary() => return Err(e),
            Err(_) => {}
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9989_4_10_1_walk_names() {
        assert_eq!(
            walk_names("a.b.example.com"),
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        let long = walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com");
        assert_eq!(long.len(), 8);
        assert_eq!(long[0], "a.b.c.d.e.f.g.h.i.j.mail.example.com");
        assert_eq!(long[1], "g.h.i.j.mail.example.com");
        assert_eq!(long[7], "com");
        assert_eq!(walk_names("com"), ["com"]);
    }
}
