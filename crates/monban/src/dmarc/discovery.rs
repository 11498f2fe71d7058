//! Policy discovery and the organizational domain: RFC 9989 §4.10 (the DNS tree walk).
//!
//! The walk asks `_dmarc.<name>` for the domain itself, then, if it has more than
//! eight labels, for its last seven labels, and then one label fewer each time down to
//! the top-level domain: at most eight queries (§4.10.1).

use monban_dns::{LookupError, Record, RecordType, Resolver};

use super::record::{DmarcRecord, Psd};

/// The most queries a walk makes (RFC 9989 §4.10.1).
pub const MAX_WALK_QUERIES: usize = 8;

/// The names a tree walk asks (§4.10.1), in order, without the `_dmarc.` prefix: the
/// domain itself (in lower case, without empty labels or a final dot) and then its
/// shorter suffixes, each borrowed from that one string (one allocation per walk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkNames {
    domain: String,
    /// Where each name starts in `domain`: 0 first, then later label starts.
    starts: [usize; MAX_WALK_QUERIES],
    len: usize,
}

impl WalkNames {
    /// How many names the walk asks (1 to [`MAX_WALK_QUERIES`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a walk asks at least the domain itself.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The domain itself, the walk's first name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The `i`th name asked.
    pub fn get(&self, i: usize) -> Option<&str> {
        let start = *self.starts[..self.len].get(i)?;
        self.domain.get(start..)
    }

    /// The names in the order asked.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.starts[..self.len]
            .iter()
            .filter_map(|&start| self.domain.get(start..))
    }
}

/// The names a tree walk asks for `domain`, in order (without the `_dmarc.` prefix).
pub fn walk_names(domain: &str) -> WalkNames {
    let mut normal = String::with_capacity(domain.len());
    for label in domain.split('.').filter(|l| !l.is_empty()) {
        if !normal.is_empty() {
            normal.push('.');
        }
        normal.push_str(label);
    }
    normal.make_ascii_lowercase();
    let labels = if normal.is_empty() {
        0
    } else {
        normal.bytes().filter(|&b| b == b'.').count() + 1
    };
    // After the domain itself: its last seven labels when it has more than eight, else
    // all but its first; then one label fewer each time, down to the last one.
    let start = if labels > MAX_WALK_QUERIES {
        MAX_WALK_QUERIES - 1
    } else {
        labels.saturating_sub(1)
    };
    let mut starts = [0; MAX_WALK_QUERIES];
    // The suffix of `k` labels starts after the `k`th dot from the end.
    for (k, (dot, _)) in normal.rmatch_indices('.').take(start).enumerate() {
        starts[start - k] = dot + 1;
    }
    WalkNames {
        domain: normal,
        starts,
        len: start + 1,
    }
}

/// What `_dmarc.<name>` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Exactly one valid DMARC record.
    Record(DmarcRecord),
    /// No DMARC record.
    None,
    /// Records that cannot be used: several, or one that is not valid. RFC 9989's tree
    /// walk goes on past them as past no record (§4.10.1); RFC 7489 §6.6.3 stops there
    /// (steps 5 and 6: DMARC is not applied).
    Unusable,
}

/// Fetches and parses `_dmarc.<name>`. Temporary DNS failures are returned as errors.
pub async fn fetch<R: Resolver>(resolver: &R, name: &str) -> Result<Lookup, LookupError> {
    // `_dmarc.<name>`, put together on the stack when it has a DNS name's length (a
    // walk asks up to eight of them per message), else in a string.
    const PREFIX: &str = "_dmarc.";
    let mut stack = [0u8; PREFIX.len() + 255];
    let owned;
    let qname = match stack.get_mut(..PREFIX.len() + name.len()) {
        Some(q) => {
            let (prefix, rest) = q.split_at_mut(PREFIX.len());
            prefix.copy_from_slice(PREFIX.as_bytes());
            rest.copy_from_slice(name.as_bytes());
            std::str::from_utf8(q).unwrap_or_default()
        }
        None => {
            owned = [PREFIX, name].concat();
            owned.as_str()
        }
    };
    let answer = match resolver.lookup(qname, RecordType::Txt).await {
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
        (_, 0) => Lookup::None,
        _ => Lookup::Unusable,
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
    for name in walk_names(author_domain).iter() {
        if let Lookup::Record(record) = fetch(resolver, name).await? {
            return Ok(Some(Discovered {
                record,
                domain: name.to_owned(),
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
        match fetch(resolver, name).await? {
            Lookup::Record(record) => {
                return Ok(Some(Discovered {
                    record,
                    domain: name.to_owned(),
                }));
            }
            // Step 3 goes to the organizational domain only when the set is empty;
            // several records, or an invalid one, end discovery (steps 5 and 6).
            Lookup::Unusable => return Ok(None),
            Lookup::None => {}
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
    let mut shortest: Option<&str> = None;
    for (i, name) in names.iter().enumerate() {
        if let Lookup::Record(rec) = fetch(resolver, name).await? {
            match rec.psd {
                Psd::No => return Ok(name.to_owned()),
                Psd::Yes if i > 0 => {
                    // One label below the public suffix, toward the domain.
                    let labels = name.split('.').count() + 1;
                    let full: Vec<&str> = names.domain().split('.').collect();
                    return Ok(full[full.len().saturating_sub(labels)..].join("."));
                }
                _ => shortest = Some(name),
            }
        }
    }
    Ok(shortest.unwrap_or(names.domain()).to_owned())
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

    /// RFC 7489 §6.6.3: several records (or an invalid one) at the author domain end
    /// discovery with no DMARC applied; only an empty set goes on to the organizational
    /// domain (a trial found `--psl` applying the organization's p=reject instead).
    /// The RFC 9989 tree walk goes on past them.
    #[test]
    fn rfc7489_6_6_3_several_records_end_discovery() {
        let zone = crate::testing::example_zone(
            "_dmarc TXT \"v=DMARC1; p=reject\"\n\
             _dmarc.two TXT \"v=DMARC1; p=none; rua=mailto:a@example\"\n\
             _dmarc.two TXT \"v=DMARC1; p=none; rua=mailto:b@example\"\n\
             _dmarc.bad TXT \"v=DMARC1; p=bogus\"\n",
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let two = |author: &str| {
            rt.block_on(discover_two(&zone, author, "example"))
                .unwrap()
                .map(|d| d.domain)
        };
        assert_eq!(two("two.example"), None);
        assert_eq!(two("bad.example"), None);
        assert_eq!(two("none.example").as_deref(), Some("example"));
        let walk = |author: &str| {
            rt.block_on(discover(&zone, author))
                .unwrap()
                .map(|d| d.domain)
        };
        assert_eq!(walk("two.example").as_deref(), Some("example"));
        assert_eq!(
            rt.block_on(fetch(&zone, "two.example")).unwrap(),
            Lookup::Unusable
        );
    }

    #[test]
    fn rfc9989_4_10_1_walk_names() {
        let names = |d: &str| walk_names(d).iter().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            names("a.b.example.com"),
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        let long = walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com");
        assert_eq!(long.len(), 8);
        assert_eq!(long.get(0), Some("a.b.c.d.e.f.g.h.i.j.mail.example.com"));
        assert_eq!(long.get(1), Some("g.h.i.j.mail.example.com"));
        assert_eq!(long.get(7), Some("com"));
        assert_eq!(long.get(8), None);
        assert_eq!(names("com"), ["com"]);
        // Case, empty labels and a final dot are not names of their own.
        assert_eq!(
            names("Mail..Example.COM."),
            ["mail.example.com", "example.com", "com"]
        );
        assert_eq!(names(""), [""]);
        assert_eq!(names("..."), [""]);
        // Exactly eight labels: every suffix; nine: the domain, then seven labels down.
        assert_eq!(names("a.b.c.d.e.f.g.h").len(), 8);
        let nine = walk_names("z.a.b.c.d.e.f.g.h");
        assert_eq!(nine.get(1), Some("b.c.d.e.f.g.h"));
        assert_eq!(nine.len(), 8);
    }

    /// The walk written as §4.10.1 reads (a list of joined label lists), against
    /// [`walk_names`]'s borrowed suffixes, on every number of labels up to twelve and
    /// odd spellings.
    #[test]
    fn walk_names_match_the_label_lists() {
        fn reference(domain: &str) -> Vec<String> {
            let domain = domain.to_ascii_lowercase();
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
            names
        }
        let all = [
            "l0",
            "L1",
            "",
            "xn--r8jz45g",
            "日本",
            "l5",
            "a-b",
            "l7",
            "l8",
            "L9",
            "l10",
            "l11",
        ];
        for n in 0..=all.len() {
            for dots in ["", ".", ".."] {
                let domain =
                    [all[..n].join(dots.get(..1).unwrap_or(".")), dots.to_owned()].concat();
                let got: Vec<String> = walk_names(&domain).iter().map(str::to_owned).collect();
                assert_eq!(got, reference(&domain), "{domain:?}");
                assert_eq!(walk_names(&domain).len(), got.len());
            }
        }
    }
}
