//! The message catalogue shared by the CLI's `check` and `analyze` and the web pages
//! (issue 13): Fluent files (`locales/en/monban.ftl`, `locales/ja/monban.ftl`) that
//! translators edit without touching code, compiled into the binary.
//!
//! English is complete by construction (the code's messages come from it); a message
//! missing from another language falls back to English, never to an identifier. The
//! Unicode isolation marks Fluent puts around arguments by default are off: the texts go
//! to terminals and HTML, where those marks show as boxes or break copy and paste.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language monban speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// Every language, in the order the language switch shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// The BCP 47 tag (`en`, `ja`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language's own name, for a language switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ja => "日本語",
        }
    }

    /// A language tag or locale name (`ja`, `ja-JP`, `ja_JP.UTF-8`, `EN`), if monban
    /// speaks it.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The best language for an `Accept-Language` header (RFC 9110 §12.5.4): the
    /// highest `q` among those monban speaks, the first on a tie; English when none is.
    /// Reads at most 50 entries.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(Lang, u32)> = None;
        for item in header.split(',').take(50) {
            let mut parts = item.split(';');
            let Some(lang) = Lang::parse(parts.next().unwrap_or("")) else {
                continue;
            };
            let mut q = 1000u32;
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    q = parse_q(v).unwrap_or(0);
                }
            }
            if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map_or(Lang::En, |(l, _)| l)
    }

    /// The language of the environment, as gettext reads it: `LC_ALL`, then
    /// `LC_MESSAGES`, then `LANG` (the first that is set and not empty); English when
    /// that is not a language monban speaks (`C`, `POSIX`).
    pub fn from_env() -> Lang {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// [`Lang::from_env`] over any source of variables.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|k| var(k).filter(|v| !v.is_empty()))
            .and_then(|v| Lang::parse(&v))
            .unwrap_or_default()
    }
}

/// A `q` value in thousandths (`0.8` → 800); `None` when it is not one.
fn parse_q(v: &str) -> Option<u32> {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0u32;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u32::from(b - b'0') * [100, 10, 1][i];
    }
    let q = whole * 1000 + thousandths;
    (q <= 1000).then_some(q)
}

const EN: &str = include_str!("../locales/en/monban.ftl");
const JA: &str = include_str!("../locales/ja/monban.ftl");

/// The messages of one language.
pub struct Catalog {
    lang: Lang,
    bundle: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("lang", &self.lang).finish()
    }
}

fn build(lang: Lang) -> Catalog {
    let source = match lang {
        Lang::En => EN,
        Lang::Ja => JA,
    };
    // The files are ours and tested (`every_file_parses`): a syntax error would be a
    // build mistake, and the entries that parse are still used.
    let resource = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(r, _)| r);
    let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    bundle.set_use_isolating(false);
    let _ = bundle.add_resource(resource);
    Catalog { lang, bundle }
}

/// The catalogue of `lang`, built once.
pub fn catalog(lang: Lang) -> &'static Catalog {
    static EN_C: OnceLock<Catalog> = OnceLock::new();
    static JA_C: OnceLock<Catalog> = OnceLock::new();
    match lang {
        Lang::En => EN_C.get_or_init(|| build(Lang::En)),
        Lang::Ja => JA_C.get_or_init(|| build(Lang::Ja)),
    }
}

/// An argument of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Text, shown as it is.
    Text(String),
    /// A number (for plural forms).
    Number(i64),
    /// Messages, each in the language of the whole, joined by the language's list
    /// separator (`list-sep`).
    Msgs(Vec<Msg>),
}

/// A message to word later, in whatever language the reader wants: its identifier in
/// the catalogue and its arguments. The checker's findings are made of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The identifier (`spf-none`, ...).
    pub id: &'static str,
    /// The arguments.
    pub args: Vec<(&'static str, Arg)>,
}

impl Msg {
    /// A message with no arguments.
    pub fn new(id: &'static str) -> Msg {
        Msg {
            id,
            args: Vec::new(),
        }
    }

    /// The message in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        catalog(lang).text(self.id, &self.args)
    }
}

/// A duration in words, as `monban::rfc5322::datetime::format_duration` writes it in
/// English (`42 s`, `3 min`, `3 min 5 s`, `2 h`, `2 h 4 min`, `3 d`, `3 d 2 h`).
pub fn duration(seconds: i64) -> Msg {
    let s = seconds.unsigned_abs();
    let m = match s {
        0..60 => Msg {
            id: "dur-s",
            args: vec![("s", Arg::from(s))],
        },
        60..3600 if s.is_multiple_of(60) => Msg {
            id: "dur-min",
            args: vec![("m", Arg::from(s / 60))],
        },
        60..3600 => Msg {
            id: "dur-min-s",
            args: vec![("m", Arg::from(s / 60)), ("s", Arg::from(s % 60))],
        },
        3600..86_400 if (s / 60).is_multiple_of(60) => Msg {
            id: "dur-h",
            args: vec![("h", Arg::from(s / 3600))],
        },
        3600..86_400 => Msg {
            id: "dur-h-min",
            args: vec![("h", Arg::from(s / 3600)), ("m", Arg::from(s / 60 % 60))],
        },
        _ if (s / 3600).is_multiple_of(24) => Msg {
            id: "dur-d",
            args: vec![("d", Arg::from(s / 86_400))],
        },
        _ => Msg {
            id: "dur-d-h",
            args: vec![
                ("d", Arg::from(s / 86_400)),
                ("h", Arg::from(s / 3600 % 24)),
            ],
        },
    };
    if seconds < 0 {
        Msg {
            id: "dur-negative",
            args: vec![("d", Arg::from(m))],
        }
    } else {
        m
    }
}

/// The message identifiers a Rust source names in `msg!(...)` (for the tests that
/// check every one is in each language's catalogue).
pub fn ids_named_in(src: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, _) in src.match_indices("msg!(") {
        // The identifier, on this line or the next.
        let Some(rest) = src[i + 5..].trim_start().strip_prefix('"') else {
            continue;
        };
        let Some(end) = rest.find('"') else { continue };
        let id = &rest[..end];
        if !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            out.push(id);
        }
    }
    out
}

/// `msg!("id")` or `msg!("id", name = value, ...)`: a [`Msg`].
#[macro_export]
macro_rules! msg {
    ($id:literal) => {
        $crate::i18n::Msg::new($id)
    };
    ($id:literal, $($k:ident = $v:expr),+ $(,)?) => {
        $crate::i18n::Msg { id: $id, args: vec![$((stringify!($k), $crate::i18n::Arg::from($v))),+] }
    };
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_owned())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}
impl From<std::borrow::Cow<'_, str>> for Arg {
    fn from(s: std::borrow::Cow<'_, str>) -> Self {
        Arg::Text(s.into_owned())
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Text(s.clone())
    }
}
impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Number(n)
    }
}
impl From<u64> for Arg {
    fn from(n: u64) -> Self {
        Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<usize> for Arg {
    fn from(n: usize) -> Self {
        Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<Vec<Msg>> for Arg {
    fn from(m: Vec<Msg>) -> Self {
        Arg::Msgs(m)
    }
}
impl From<Msg> for Arg {
    fn from(m: Msg) -> Self {
        Arg::Msgs(vec![m])
    }
}
impl From<u8> for Arg {
    fn from(n: u8) -> Self {
        Arg::Number(i64::from(n))
    }
}
impl From<u32> for Arg {
    fn from(n: u32) -> Self {
        Arg::Number(i64::from(n))
    }
}

impl Catalog {
    /// The language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Message `id` with no arguments.
    pub fn get(&self, id: &str) -> String {
        self.text(id, &[])
    }

    /// Message `id` (or its attribute, `id.attr`) with `args`; English when this
    /// language lacks it; the identifier itself only when English lacks it too (a bug
    /// the tests catch).
    pub fn text(&self, id: &str, args: &[(&str, Arg)]) -> String {
        if let Some(s) = self.try_text(id, args) {
            return s;
        }
        if self.lang != Lang::En
            && let Some(s) = catalog(Lang::En).try_text(id, args)
        {
            return s;
        }
        id.to_owned()
    }

    /// Whether this language has message `id` itself (no fallback).
    pub fn has(&self, id: &str) -> bool {
        let (msg, attr) = id.split_once('.').map_or((id, None), |(m, a)| (m, Some(a)));
        self.bundle.get_message(msg).is_some_and(|m| match attr {
            Some(a) => m.get_attribute(a).is_some(),
            None => m.value().is_some(),
        })
    }

    fn try_text(&self, id: &str, args: &[(&str, Arg)]) -> Option<String> {
        let (msg, attr) = id.split_once('.').map_or((id, None), |(m, a)| (m, Some(a)));
        let message = self.bundle.get_message(msg)?;
        let pattern = match attr {
            Some(a) => message.get_attribute(a)?.value(),
            None => message.value()?,
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            match v {
                Arg::Text(s) => fargs.set(*k, FluentValue::from(s.as_str())),
                Arg::Number(n) => fargs.set(*k, FluentValue::from(*n)),
                Arg::Msgs(list) => {
                    let sep = self.text("list-sep", &[]);
                    let joined: Vec<String> =
                        list.iter().map(|m| self.text(m.id, &m.args)).collect();
                    fargs.set(*k, FluentValue::from(joined.join(&sep)));
                }
            }
        }
        let mut errors = Vec::new();
        let out = self
            .bundle
            .format_pattern(pattern, Some(&fargs), &mut errors);
        Some(out.into_owned())
    }

    /// The identifiers of every message of this language, for the tests.
    pub fn ids(&self) -> Vec<String> {
        let source = match self.lang {
            Lang::En => EN,
            Lang::Ja => JA,
        };
        message_ids(source)
    }
}

/// The message identifiers a Fluent file defines (lines `id = ...` at the start).
fn message_ids(source: &str) -> Vec<String> {
    source
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once('=').map(|(id, _)| id.trim().to_owned()))
        .collect()
}

/// `tr!(cat, "id")` or `tr!(cat, "id", name = value, ...)`: message `id` of catalogue
/// `cat` with its arguments.
#[macro_export]
macro_rules! tr {
    ($cat:expr, $id:expr) => {
        $cat.text($id, &[])
    };
    ($cat:expr, $id:expr, $($k:ident = $v:expr),+ $(,)?) => {
        $cat.text($id, &[$((stringify!($k), $crate::i18n::Arg::from($v))),+])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_parses() {
        for (name, src) in [("en", EN), ("ja", JA)] {
            if let Err((_, errors)) = FluentResource::try_new(src.to_owned()) {
                panic!("locales/{name}/monban.ftl: {errors:?}");
            }
        }
    }

    #[test]
    fn japanese_has_every_english_message_and_no_other() {
        let en = catalog(Lang::En).ids();
        let ja = catalog(Lang::Ja).ids();
        let missing: Vec<_> = en.iter().filter(|i| !ja.contains(i)).collect();
        let extra: Vec<_> = ja.iter().filter(|i| !en.contains(i)).collect();
        assert!(missing.is_empty(), "missing in ja: {missing:?}");
        assert!(extra.is_empty(), "only in ja: {extra:?}");
    }

    #[test]
    fn every_message_the_code_names_is_in_the_catalogue() {
        let sources = [
            include_str!("check.rs"),
            include_str!("analyze/mod.rs"),
            include_str!("analyze/explain.rs"),
            include_str!("analyze/diagnose.rs"),
            include_str!("reflect.rs"),
        ];
        let mut named = 0;
        for src in sources {
            for id in ids_named_in(src) {
                named += 1;
                assert!(
                    catalog(Lang::En).has(id),
                    "{id} is not in locales/en/monban.ftl"
                );
                assert!(
                    catalog(Lang::Ja).has(id),
                    "{id} is not in locales/ja/monban.ftl"
                );
            }
        }
        assert!(named > 50, "{named}");
    }

    #[test]
    fn languages_are_chosen_as_asked() {
        assert_eq!(Lang::from_accept_language("ja,en;q=0.8"), Lang::Ja);
        assert_eq!(Lang::from_accept_language("en-US,ja;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr, ja-JP;q=0.5"), Lang::Ja);
        assert_eq!(Lang::from_accept_language("ja;q=0, en;q=0.1"), Lang::En);
        assert_eq!(Lang::from_accept_language("de"), Lang::En);
        assert_eq!(Lang::from_accept_language("ja;q=2"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Lang::from_env_with(env(&[("LANG", "ja_JP.UTF-8")])),
            Lang::Ja
        );
        assert_eq!(
            Lang::from_env_with(env(&[("LC_ALL", "C"), ("LANG", "ja_JP.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_env_with(env(&[("LC_ALL", ""), ("LANG", "ja_JP.UTF-8")])),
            Lang::Ja
        );
    }

    #[test]
    fn arguments_are_placed_without_isolation_marks() {
        let c = catalog(Lang::En);
        let s = tr!(c, "nav-analyze");
        assert!(!s.contains('\u{2068}'));
        assert_eq!(c.text("no-such-message", &[]), "no-such-message");
    }
}
