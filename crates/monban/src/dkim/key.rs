//! DKIM key records, RFC 6376 §3.6.1 (and RFC 8463 §4 for Ed25519): parse and format.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::tags::{self, TagListError};

/// The key type (`k=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `k=rsa` (the default).
    Rsa,
    /// `k=ed25519` (RFC 8463).
    Ed25519,
}

impl KeyType {
    /// The `k=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ed25519 => "ed25519",
        }
    }
}

/// What is wrong with a key record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRecordError {
    /// Not text.
    #[error("the key record is not text")]
    NotText,
    /// The tag-list does not parse.
    #[error(transparent)]
    TagList(#[from] TagListError),
    /// `v=` present but not `DKIM1`, or not the first tag (§3.6.1).
    #[error("v= must be DKIM1 and come first")]
    Version,
    /// No `p=` tag.
    #[error("the key record has no p= tag")]
    MissingKey,
    /// `p=` is not base64.
    #[error("p= is not valid base64")]
    Base64,
    /// A `k=` value monban does not know.
    #[error("unsupported key type k={0}")]
    KeyType(String),
}

/// A parsed key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `k=`.
    pub key_type: KeyType,
    /// `h=`: acceptable hashes; empty means any.
    pub hashes: Vec<String>,
    /// `p=`, decoded; empty when the key is revoked (§3.6.1).
    pub public_key: Vec<u8>,
    /// `s=`: service types; empty means `*`.
    pub services: Vec<String>,
    /// `t=`: flags (`y` testing, `s` strict AUID).
    pub flags: Vec<String>,
    /// `n=`: notes.
    pub notes: Option<String>,
    /// Unknown tags, kept.
    pub unknown: Vec<(String, String)>,
}

impl KeyRecord {
    /// Parses a key record (TXT strings already joined).
    pub fn parse(text: &[u8]) -> Result<Self, KeyRecordError> {
        let text = std::str::from_utf8(text).map_err(|_| KeyRecordError::NotText)?;
        let list = tags::parse(text)?;
        if let Some(pos) = list.iter().position(|t| t.name == "v")
            && (pos != 0 || list[pos].value != "DKIM1")
        {
            return Err(KeyRecordError::Version);
        }
        let get = |name: &str| list.iter().find(|t| t.name == name).map(|t| t.value);
        let colon_list = |v: Option<&str>| -> Vec<String> {
            v.map(|v| {
                tags::strip_wsp(v)
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default()
        };
        let key_type = match get("k").map(str::to_ascii_lowercase).as_deref() {
            None | Some("rsa") => KeyType::Rsa,
            Some("ed25519") => KeyType::Ed25519,
            Some(other) => return Err(KeyRecordError::KeyType(other.to_owned())),
        };
        let p = get("p").ok_or(KeyRecordError::MissingKey)?;
        let public_key = B64
            .decode(tags::strip_wsp(p).as_bytes())
            .map_err(|_| KeyRecordError::Base64)?;
        let known = ["v", "h", "k", "n", "p", "s", "t"];
        Ok(Self {
            key_type,
            hashes: colon_list(get("h")),
            public_key,
            services: colon_list(get("s")),
            flags: colon_list(get("t")),
            notes: get("n").map(str::to_owned),
            unknown: list
                .iter()
                .filter(|t| !known.contains(&t.name))
                .map(|t| (t.name.to_owned(), t.value.to_owned()))
                .collect(),
        })
    }

    /// Whether the key was revoked (`p=` empty).
    pub fn is_revoked(&self) -> bool {
        self.public_key.is_empty()
    }

    /// Whether `t=y`: the domain is testing DKIM (§3.6.1).
    pub fn is_testing(&self) -> bool {
        self.flags.iter().any(|f| f == "y")
    }

    /// Whether `t=s`: the AUID domain must equal `d=` exactly (§3.6.1).
    pub fn is_strict(&self) -> bool {
        self.flags.iter().any(|f| f == "s")
    }

    /// Whether the key may sign email (`s=` absent, `*` or `email`).
    pub fn allows_email(&self) -> bool {
        self.services.is_empty() || self.services.iter().any(|s| s == "*" || s == "email")
    }

    /// Whether the key allows this hash (`h=` absent, or listing it).
    pub fn allows_hash(&self, hash: &str) -> bool {
        self.hashes.is_empty() || self.hashes.iter().any(|h| h == hash)
    }
}

impl fmt::Display for KeyRecord {
    /// `v=DKIM1; k=...; [h=...; s=...; t=...; n=...;] p=...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v=DKIM1; k={}", self.key_type.as_str())?;
        if !self.hashes.is_empty() {
            write!(f, "; h={}", self.hashes.join(":"))?;
        }
        if !self.services.is_empty() {
            write!(f, "; s={}", self.services.join(":"))?;
        }
        if !self.flags.is_empty() {
            write!(f, "; t={}", self.flags.join(":"))?;
        }
        if let Some(n) = &self.notes {
            write!(f, "; n={n}")?;
        }
        for (k, v) in &self.unknown {
            write!(f, "; {k}={v}")?;
        }
        write!(f, "; p={}", B64.encode(&self.public_key))
    }
}

/// Splits a record into TXT character-strings of at most 255 octets (RFC 1035
/// §3.3.14), quoted for a zone file.
pub fn zone_strings(record: &str) -> String {
    record
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why no key record could be had for a selector (RFC 6376 §6.1.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFetchError {
    /// The DNS failed for now (SERVFAIL, timeout): `temperror`.
    #[error("key lookup failed: {0}")]
    Temporary(monban_dns::LookupError),
    /// `selector._domainkey.domain` is not a valid name.
    #[error("{name} is not a valid key name")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// Nothing is published there (NXDOMAIN, or no TXT record).
    #[error("no key published at {name}")]
    NotFound {
        /// The name.
        name: String,
    },
    /// TXT records are published, and none is a key record.
    #[error("bad key record at {name}: {why}")]
    Syntax {
        /// The name.
        name: String,
        /// Why the last of them does not parse (or "no key record").
        why: String,
    },
}

impl KeyFetchError {
    /// Whether a later try may succeed (`temperror` rather than `permerror`).
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Temporary(_))
    }
}

/// Fetches the key of `selector._domainkey.domain` (RFC 6376 §3.6.2, §6.1.2): the one
/// policy of every part of monban that needs a key (verification, the checker, the
/// failure diagnosis). Of several TXT records, the first that is a key record is taken;
/// a revoked key (empty `p=`) is a key record and is returned as such, for the caller
/// to judge.
pub async fn fetch<R: monban_dns::Resolver>(
    resolver: &R,
    domain: &str,
    selector: &str,
) -> Result<KeyRecord, KeyFetchError> {
    fetch_shared(resolver, domain, selector)
        .await
        .map(std::sync::Arc::unwrap_or_clone)
}

/// What DKIM keeps with a key's TXT answer ([`monban_dns::Answer::memo`]): the first
/// key record in it, parsed, or why none parses. It depends on nothing but the answer,
/// so an answer served again from a cache is not parsed again.
struct KeyMemo(Result<std::sync::Arc<KeyRecord>, String>);

impl KeyMemo {
    fn new(answer: &monban_dns::Answer) -> Self {
        let mut last_error = None;
        for r in &answer.records {
            if let monban_dns::Record::Txt(t) = r {
                match KeyRecord::parse(&t.joined()) {
                    Ok(k) => return Self(Ok(std::sync::Arc::new(k))),
                    Err(e) => last_error = Some(e),
                }
            }
        }
        Self(Err(last_error.map_or_else(
            || "no key record".to_owned(),
            |e| e.to_string(),
        )))
    }
}

/// [`fetch`], the record shared with the answer it came from (parsed once per answer).
pub async fn fetch_shared<R: monban_dns::Resolver>(
    resolver: &R,
    domain: &str,
    selector: &str,
) -> Result<std::sync::Arc<KeyRecord>, KeyFetchError> {
    use monban_dns::{LookupError, RecordType};
    let name = [selector, "._domainkey.", domain].concat();
    let answer = match resolver.lookup(&name, RecordType::Txt).await {
        Ok(a) => a,
        Err(e) if e.is_temporary() => return Err(KeyFetchError::Temporary(e)),
        Err(LookupError::InvalidName { .. }) => {
            return Err(KeyFetchError::InvalidName { name });
        }
        Err(_) => return Err(KeyFetchError::NotFound { name }),
    };
    let fresh;
    let memo = match answer.memo.get_or_init(|| KeyMemo::new(&answer)) {
        Some(m) => m,
        // Another consumer keeps its own value with this answer.
        None => {
            fresh = KeyMemo::new(&answer);
            &fresh
        }
    };
    match &memo.0 {
        Ok(k) => Ok(k.clone()),
        Err(why) => Err(KeyFetchError::Syntax {
            name,
            why: why.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key record is parsed once per cached answer and shared; a bad one gives the
    /// same error every time; fetching through the cache or not gives the same record.
    #[test]
    fn key_records_kept_with_cached_answers() {
        let zone = crate::testing::example_zone(
            r#"
s1._domainkey     TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
bad._domainkey    TXT "v=DKIM1; k=rsa; p=@@@"
"#,
        );
        let cached = monban_dns::CachingResolver::new(zone.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let a = rt.block_on(fetch_shared(&cached, "example", "s1")).unwrap();
        let b = rt.block_on(fetch_shared(&cached, "example", "s1")).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b), "parsed once, shared");
        let plain = rt.block_on(fetch(&zone, "example", "s1")).unwrap();
        assert_eq!(*a, plain);
        assert_eq!(plain.key_type, KeyType::Ed25519);
        for _ in 0..2 {
            let e = rt
                .block_on(fetch_shared(&cached, "example", "bad"))
                .unwrap_err();
            assert!(
                matches!(&e, KeyFetchError::Syntax { name, .. } if name == "bad._domainkey.example"),
                "{e}"
            );
        }
    }

    #[test]
    fn rfc6376_3_6_1_parse_and_round_trip() {
        let r = KeyRecord::parse(
            b"v=DKIM1; k=rsa; h=sha256; t=y:s; s=email; n=hi; x_extra=1; p=MIGfMA0G CSqGSIb3",
        )
        .unwrap();
        assert_eq!(r.key_type, KeyType::Rsa);
        assert!(r.is_testing() && r.is_strict() && r.allows_email());
        assert!(r.allows_hash("sha256") && !r.allows_hash("sha1"));
        assert_eq!(r.unknown, vec![("x_extra".into(), "1".into())]);
        let again = KeyRecord::parse(r.to_string().as_bytes()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn rfc6376_3_6_1_defaults_and_errors() {
        let r = KeyRecord::parse(b"p=").unwrap();
        assert!(r.is_revoked());
        assert_eq!(r.key_type, KeyType::Rsa);
        assert!(r.allows_email() && r.allows_hash("sha1"));
        assert_eq!(
            KeyRecord::parse(b"v=DKIM1: p=AAAA"),
            Err(KeyRecordError::Version)
        );
        assert_eq!(
            KeyRecord::parse(b"k=rsa; v=DKIM1; p=AAAA"),
            Err(KeyRecordError::Version)
        );
        assert_eq!(
            KeyRecord::parse(b"v=DKIM1; k=ed25519-sha256; p=AAAA"),
            Err(KeyRecordError::KeyType("ed25519-sha256".into()))
        );
        assert_eq!(
            KeyRecord::parse(b"v=DKIM1; k=rsa"),
            Err(KeyRecordError::MissingKey)
        );
        assert_eq!(
            KeyRecord::parse(b"v=DKIM1; p=!!!"),
            Err(KeyRecordError::Base64)
        );
        assert!(!KeyRecord::parse(b"s=tlsrpt; p=").unwrap().allows_email());
    }

    #[test]
    fn zone_strings_split_at_255() {
        let long = "p=".to_string() + &"A".repeat(600);
        let z = zone_strings(&long);
        assert_eq!(z.matches('"').count(), 6);
    }

    /// RFC 6376 §6.1.2: the one key-fetch policy: the first TXT record that is a key
    /// record (a revoked one included), the last parse error when none is, and DNS
    /// outcomes told apart.
    #[test]
    fn rfc6376_6_1_2_one_key_fetch_policy() {
        use monban_dns::{Record, Txt, ZoneResolver};
        let mut z = ZoneResolver::new();
        let txt = |v: &str| Record::Txt(Txt::new([v.as_bytes().to_vec()]));
        let ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        z.insert("two._domainkey.d.test", txt("not a key; x"), 300);
        z.insert("two._domainkey.d.test", txt(ed), 300);
        z.insert("rev._domainkey.d.test", txt("v=DKIM1; p="), 300);
        z.insert("rev._domainkey.d.test", txt(ed), 300);
        z.insert("bad._domainkey.d.test", txt("v=DKIM1; p=!!!"), 300);
        z.insert(
            "other._domainkey.d.test",
            Record::A("192.0.2.1".parse().unwrap()),
            300,
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let f = |sel: &str| rt.block_on(fetch(&z, "d.test", sel));
        assert!(!f("two").unwrap().is_revoked());
        assert!(f("rev").unwrap().is_revoked());
        assert!(matches!(f("bad"), Err(KeyFetchError::Syntax { .. })));
        assert!(matches!(f("none"), Err(KeyFetchError::NotFound { .. })));
        assert!(matches!(f("other"), Err(KeyFetchError::NotFound { .. })));
        assert_eq!(
            f("none").unwrap_err().to_string(),
            "no key published at none._domainkey.d.test"
        );
    }
}
