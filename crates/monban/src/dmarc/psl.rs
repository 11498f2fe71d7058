//! The Public Suffix List, for RFC 7489's organizational domain (§3.2): the registrable
//! domain is the public suffix plus one label.
//!
//! The algorithm is the list's own (publicsuffix.org "Formal Algorithm"): exception
//! rules (`!`) win, then the rule with the most labels, wildcards (`*.`) matching one
//! label; an unlisted TLD is its own public suffix. ICANN and PRIVATE rules are both
//! used, as the list's tests assume. A copy of the list (2026-08-19, MPL-2.0, see
//! `data/public_suffix_list.LICENSE`) is bundled; a newer file can be loaded at run
//! time with [`PublicSuffixList::from_file`].
//!
//! Rules are held in both their Unicode and ASCII (punycode) forms, so a domain is
//! answered in the form it was asked in.

use std::collections::HashMap;
use std::path::Path;

/// The bundled list.
const BUNDLED: &str = include_str!("../../data/public_suffix_list.dat");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Normal,
    Wildcard,
    Exception,
}

/// A loaded Public Suffix List.
#[derive(Debug, Clone)]
pub struct PublicSuffixList {
    /// Rule text (without `*.` / `!`) → kind; a name may carry a normal rule and a
    /// wildcard rule at once.
    rules: HashMap<String, Vec<Rule>>,
}

/// The largest list file read.
const MAX_PSL_FILE_BYTES: u64 = 16 * 1024 * 1024;

impl PublicSuffixList {
    /// The copy bundled with monban.
    pub fn bundled() -> Self {
        Self::parse(BUNDLED)
    }

    /// The bundled copy, parsed once per process and shared.
    pub fn bundled_shared() -> &'static Self {
        static SHARED: std::sync::OnceLock<PublicSuffixList> = std::sync::OnceLock::new();
        SHARED.get_or_init(Self::bundled)
    }

    /// Loads a list file (for a copy newer than the bundled one); files over 16 MiB
    /// are refused (the real list is about 300 KB).
    pub fn from_file(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let text = monban_dns::file::read_text_limited(path.as_ref(), MAX_PSL_FILE_BYTES)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        let list = Self::parse(&text);
        if list.rules.len() < 100 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} does not look like a Public Suffix List",
                    path.as_ref().display()
                ),
            ));
        }
        Ok(list)
    }

    /// Parses list text.
    pub fn parse(text: &str) -> Self {
        let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
        for line in text.lines() {
            let line = line.split_whitespace().next().unwrap_or("");
            if line.is_empty() || line.starts_with("//") {
                continue;
            }
            let (kind, name) = if let Some(n) = line.strip_prefix("!") {
                (Rule::Exception, n)
            } else if let Some(n) = line.strip_prefix("*.") {
                (Rule::Wildcard, n)
            } else {
                (Rule::Normal, line)
            };
            let lower = name.to_lowercase();
            let mut forms = vec![lower.clone()];
            if let Ok(ascii) = idna::domain_to_ascii(&lower)
                && ascii != lower
            {
                forms.push(ascii);
            }
            for f in forms {
                rules.entry(f).or_default().push(kind);
            }
        }
        Self { rules }
    }

    fn has(&self, name: &str, kind: Rule) -> bool {
        self.rules.get(name).is_some_and(|k| k.contains(&kind))
    }

    /// The public suffix of a (lowercase, dot-separated) domain.
    pub fn public_suffix(&self, domain: &str) -> String {
        let labels: Vec<&str> = domain.split('.').collect();
        let n = labels.len();
        // The number of labels of the prevailing rule's suffix.
        let mut best = 1; // the implicit "*" rule
        for i in (0..n).rev() {
            let suffix = labels[i..].join(".");
            let count = n - i;
            if self.has(&suffix, Rule::Exception) {
                return labels[i + 1..].join(".");
            }
            if self.has(&suffix, Rule::Normal) {
                best = best.max(count);
            }
            if i > 0 && self.has(&suffix, Rule::Wildcard) {
                // "*.suffix" matches one more label to the left.
                let wild = labels[i - 1..].join(".");
                if !self.has(&wild, Rule::Exception) {
                    best = best.max(count + 1);
                }
            }
        }
        labels[n - best.min(n)..].join(".")
    }

    /// The registrable (organizational) domain: the public suffix plus one label; `None`
    /// when the domain is itself a public suffix or malformed (leading dot, empty).
    pub fn registrable_domain(&self, domain: &str) -> Option<String> {
        let domain = domain.strip_suffix('.').unwrap_or(domain).to_lowercase();
        if domain.is_empty() || domain.starts_with('.') || domain.split('.').any(str::is_empty) {
            return None;
        }
        let suffix = self.public_suffix(&domain);
        if suffix == domain {
            return None;
        }
        // An exception rule on the last label leaves an empty suffix: no labels.
        let suffix_labels = if suffix.is_empty() {
            0
        } else {
            suffix.split('.').count()
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let start = labels.len().checked_sub(suffix_labels + 1)?;
        Some(labels[start..].join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exception rule on a single label (`!foo`) leaves an empty public suffix;
    /// a one-label name then has a registrable domain of itself, not a panic.
    #[test]
    fn exception_on_the_last_label_does_not_underflow() {
        let psl = PublicSuffixList::parse("!foo\ncom\n");
        assert_eq!(psl.registrable_domain("foo").as_deref(), Some("foo"));
        assert_eq!(psl.registrable_domain("a.foo").as_deref(), Some("foo"));
    }

    #[test]
    fn wildcards_and_exceptions() {
        let psl =
            PublicSuffixList::parse("com\n*.ck\n!www.ck\n*.kawasaki.jp\n!city.kawasaki.jp\njp\n");
        assert_eq!(
            psl.registrable_domain("a.b.example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(psl.registrable_domain("c.ck"), None);
        assert_eq!(psl.registrable_domain("b.c.ck").as_deref(), Some("b.c.ck"));
        assert_eq!(psl.registrable_domain("www.ck").as_deref(), Some("www.ck"));
        assert_eq!(
            psl.registrable_domain("a.www.ck").as_deref(),
            Some("www.ck")
        );
        assert_eq!(
            psl.registrable_domain("city.kawasaki.jp").as_deref(),
            Some("city.kawasaki.jp")
        );
        assert_eq!(
            psl.registrable_domain("example.unlisted").as_deref(),
            Some("example.unlisted")
        );
    }
}
