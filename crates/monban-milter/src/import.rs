//! Migrating from OpenDKIM and OpenDMARC: their configuration files read and written as
//! an equivalent `monban.toml`, with everything that could not be translated listed.
//!
//! Read from `opendkim.conf(5)`: `Socket`, `Domain`, `Selector`, `KeyFile`, `KeyTable`,
//! `SigningTable` (`file:` or `refile:` datasets, or a plain path), `InternalHosts`,
//! `ExternalIgnoreList`, `Mode`, `Canonicalization`, `SignHeaders`, `OversignHeaders`,
//! `AuthservID`; from `opendmarc.conf(5)`: `AuthservID`, `TrustedAuthservIDs`,
//! `RejectFailures`, `IgnoreHosts`, `SPFSelfValidate`. Reading the files is the caller's
//! ([`Files`]); this module is pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How the importer reads the files the configuration names (key tables, host lists).
pub trait Files {
    /// The text of a file, or why it cannot be read.
    fn read(&self, path: &str) -> Result<String, String>;
}

/// The result: the configuration text and what was not translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The `monban.toml` text.
    pub toml: String,
    /// One sentence per setting that was not (or not exactly) translated.
    pub untranslated: Vec<String>,
}

/// A parsed `opendkim.conf` or `opendmarc.conf`: `Name value` lines, `#` comments.
/// Names are case-insensitive; a name given twice keeps its last value.
fn parse_conf(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(n, v)| (n, v.trim()));
        out.insert(name.to_ascii_lowercase(), value.to_owned());
    }
    out
}

/// A dataset value (`opendkim(8)` "DATA SETS"): `file:PATH`, `refile:PATH`, a plain
/// path, or `csl:a,b` / a comma-separated list.
enum Dataset<'a> {
    File(&'a str),
    Refile(&'a str),
    List(Vec<&'a str>),
    Other(&'a str),
}

fn dataset(value: &str) -> Dataset<'_> {
    if let Some(p) = value.strip_prefix("file:") {
        Dataset::File(p)
    } else if let Some(p) = value.strip_prefix("refile:") {
        Dataset::Refile(p)
    } else if let Some(l) = value.strip_prefix("csl:") {
        Dataset::List(
            l.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect(),
        )
    } else if value.starts_with('/') {
        Dataset::File(value)
    } else if value.contains(':') {
        Dataset::Other(value)
    } else {
        Dataset::List(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }
}

/// The entries of a dataset: its lines (comments removed) or its list.
fn entries(value: &str, key: &str, files: &dyn Files, notes: &mut Vec<String>) -> Vec<String> {
    let lines = |text: String| -> Vec<String> {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    match dataset(value) {
        Dataset::File(p) | Dataset::Refile(p) => match files.read(p) {
            Ok(t) => lines(t),
            Err(e) => {
                notes.push(format!("{key} {value}: cannot read {p}: {e}"));
                Vec::new()
            }
        },
        Dataset::List(l) => l.into_iter().map(str::to_owned).collect(),
        Dataset::Other(v) => {
            notes.push(format!(
                "{key} {v}: only file:, refile:, csl: and plain lists are read (databases are not)"
            ));
            Vec::new()
        }
    }
}

/// A TOML string: the toml crate's own quoting and escapes.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| quote(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `Socket` (`inet:PORT@HOST`, `inet:PORT`, `inet6:...`, `local:PATH`, `unix:PATH`).
fn socket(value: &str) -> Result<String, String> {
    if let Some(p) = value
        .strip_prefix("local:")
        .or_else(|| value.strip_prefix("unix:"))
    {
        return Ok(format!("unix:{p}"));
    }
    if let Some(v) = value
        .strip_prefix("inet:")
        .or_else(|| value.strip_prefix("inet6:"))
    {
        let (port, host) = v.split_once('@').unwrap_or((v, "127.0.0.1"));
        let port: u16 = port
            .parse()
            .map_err(|_| format!("Socket {value}: {port:?} is not a port"))?;
        let host = match host.trim_matches(['[', ']']) {
            "localhost" | "" => "127.0.0.1".to_owned(),
            "*" | "0.0.0.0" => "0.0.0.0".to_owned(),
            h if h.parse::<std::net::Ipv6Addr>().is_ok() => format!("[{h}]"),
            h if h.parse::<std::net::Ipv4Addr>().is_ok() => h.to_owned(),
            h => {
                return Err(format!(
                    "Socket {value}: give an address, not the name {h:?}"
                ));
            }
        };
        return Ok(format!("inet:{host}:{port}"));
    }
    Err(format!(
        "Socket {value}: not inet:, inet6:, local: or unix:"
    ))
}

/// A host list entry as a network, if it is one (names and `!` negations are not).
fn network(entry: &str) -> Option<String> {
    let e = entry.trim();
    if e.starts_with('!') {
        return None;
    }
    let (addr, prefix) = e.split_once('/').map_or((e, None), |(a, p)| (a, Some(p)));
    let addr = addr.trim_matches(['[', ']']);
    let ip: std::net::IpAddr = addr.parse().ok()?;
    Some(match prefix {
        Some(p) => {
            let p: u8 = p.parse().ok()?;
            format!("{ip}/{p}")
        }
        None if ip.is_ipv4() => format!("{ip}/32"),
        None => format!("{ip}/128"),
    })
}

/// Networks from a host list; what is not a network is noted.
fn networks(value: &str, key: &str, files: &dyn Files, notes: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for e in entries(value, key, files, notes) {
        match network(&e) {
            Some(n) => out.push(n),
            None if e.eq_ignore_ascii_case("localhost") => {
                out.extend(["127.0.0.0/8".to_owned(), "::1/128".to_owned()]);
            }
            None => notes.push(format!(
                "{key}: {e:?} is not an address or network (host names and ! exclusions are not translated)"
            )),
        }
    }
    // Each once, in the order given (localhost and ::1 both listed gave ::1/128
    // twice: `dedup` drops neighbours only).
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// A signing-table pattern as a monban sender pattern, if it can be one.
fn sender_pattern(p: &str, refile: bool) -> Option<String> {
    let p = p.trim().to_ascii_lowercase();
    if p == "*" {
        return Some(p);
    }
    if !refile {
        // file: tables match the address, then its domain, exactly.
        return (!p.contains('*')).then_some(p);
    }
    if let Some(domain) = p.strip_prefix("*@") {
        return (!domain.contains('*')).then(|| format!("*@{domain}"));
    }
    (!p.contains('*')).then_some(p)
}

/// Translates `opendkim.conf` (and `opendmarc.conf` when given).
pub fn import(
    opendkim: &str,
    opendmarc: Option<&str>,
    files: &dyn Files,
    hostname: &str,
) -> Imported {
    let dkim = parse_conf(opendkim);
    let dmarc = opendmarc.map(parse_conf).unwrap_or_default();
    let mut notes = Vec::new();
    let mut top = String::new();
    let mut tables = String::new();

    // Where to listen.
    if let Some(s) = dkim.get("socket") {
        match socket(s) {
            Ok(l) => {
                let _ = writeln!(top, "listen = {}", quote(&l));
            }
            Err(e) => notes.push(e),
        }
    }
    let authserv = dmarc
        .get("authservid")
        .or_else(|| dkim.get("authservid"))
        .filter(|v| !v.eq_ignore_ascii_case("HOSTNAME"))
        .cloned()
        .unwrap_or_else(|| hostname.to_owned());
    let _ = writeln!(top, "authserv_id = {}", quote(&authserv));

    // Who is trusted (signed, not judged): InternalHosts, default 127.0.0.1 as OpenDKIM.
    let trusted = match dkim.get("internalhosts") {
        Some(v) => networks(v, "InternalHosts", files, &mut notes),
        None => vec!["127.0.0.0/8".to_owned(), "::1/128".to_owned()],
    };
    let _ = writeln!(top, "trusted_networks = {}", list(&trusted));

    // Hosts whose mail is let through: ExternalIgnoreList, IgnoreHosts.
    let mut allow = Vec::new();
    for (conf, key, name) in [
        (&dkim, "externalignorelist", "ExternalIgnoreList"),
        (&dmarc, "ignorehosts", "IgnoreHosts"),
    ] {
        if let Some(v) = conf.get(key) {
            allow.extend(networks(v, name, files, &mut notes));
        }
    }
    allow.sort();
    allow.dedup();
    if !allow.is_empty() {
        let _ = writeln!(top, "allow_networks = {}", list(&allow));
        notes.push(
            "ExternalIgnoreList / IgnoreHosts: their clients are translated to allow_networks (judged and recorded, never refused), not skipped".to_owned(),
        );
    }
    if let Some(v) = dmarc.get("rejectfailures") {
        let on = matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1");
        let _ = writeln!(top, "enforce_reject = {on}");
    } else if opendmarc.is_some() {
        // OpenDMARC's default: failures are not rejected.
        let _ = writeln!(top, "enforce_reject = false");
    }
    if let Some(v) = dmarc.get("trustedauthservids") {
        notes.push(format!(
            "TrustedAuthservIDs {v}: monban judges for itself and does not read others' Authentication-Results (except ARC, see trusted_arc_sealers)"
        ));
    }
    if dmarc.contains_key("spfselfvalidate") {
        notes.push("SPFSelfValidate: monban always checks SPF itself".to_owned());
    }

    // Signing.
    let mode = dkim
        .get("mode")
        .map_or("sv".to_owned(), |m| m.to_ascii_lowercase());
    let signs = mode.contains('s');
    if !mode.contains('v') {
        notes.push(format!(
            "Mode {mode}: monban always verifies what untrusted clients send; only signing was asked for"
        ));
    }
    for key in ["canonicalization", "signheaders", "oversignheaders"] {
        if let Some(v) = dkim.get(key) {
            notes.push(format!(
                "{key} {v}: monban signs relaxed/relaxed with its own header list (From, To, Cc, Subject, Date, Reply-To, Content-* oversigned)"
            ));
        }
    }
    let mut rows: Vec<(String, String, String, String)> = Vec::new(); // sender, d, s, key
    let mut catch_all: Option<(String, String, String)> = None;
    if signs {
        let keys: BTreeMap<String, (String, String, String)> = match dkim.get("keytable") {
            Some(v) => entries(v, "KeyTable", files, &mut notes)
                .into_iter()
                .filter_map(|l| {
                    let (name, spec) = l.split_once(char::is_whitespace)?;
                    let mut p = spec.trim().splitn(3, ':');
                    let (d, s, k) = (p.next()?, p.next()?, p.next()?);
                    if k.starts_with("-----") || !k.starts_with('/') {
                        notes.push(format!(
                            "KeyTable {name}: the key must be a file path (an inline key is not read)"
                        ));
                        return None;
                    }
                    Some((name.to_owned(), (d.to_owned(), s.to_owned(), k.to_owned())))
                })
                .collect(),
            None => BTreeMap::new(),
        };
        if let Some(v) = dkim.get("signingtable") {
            let refile = matches!(dataset(v), Dataset::Refile(_));
            for l in entries(v, "SigningTable", files, &mut notes) {
                let Some((pattern, name)) = l.split_once(char::is_whitespace) else {
                    continue;
                };
                let name = name.trim();
                let Some((d, s, k)) = keys.get(name) else {
                    notes.push(format!(
                        "SigningTable {pattern}: the key {name:?} is not in the KeyTable"
                    ));
                    continue;
                };
                match sender_pattern(pattern, refile) {
                    Some(p) if p == "*" => {
                        catch_all.get_or_insert_with(|| (d.clone(), s.clone(), k.clone()));
                    }
                    Some(p) => rows.push((p, d.clone(), s.clone(), k.clone())),
                    None => notes.push(format!(
                        "SigningTable {pattern}: monban's patterns are user@domain, *@domain, domain and * (no other wildcards)"
                    )),
                }
            }
        } else if !keys.is_empty() {
            notes.push(
                "KeyTable without SigningTable: nothing says who signs with which key".to_owned(),
            );
        }
        if let (Some(domains), Some(selector), Some(keyfile)) = (
            dkim.get("domain"),
            dkim.get("selector"),
            dkim.get("keyfile"),
        ) {
            for d in entries(domains, "Domain", files, &mut notes) {
                rows.push((
                    format!("*@{d}"),
                    d.clone(),
                    selector.clone(),
                    keyfile.clone(),
                ));
            }
        }
    }
    for (sender, d, s, k) in &rows {
        let _ = write!(
            tables,
            "\n[[signing]]\nsender = {}\ndomain = {}\nselector = {}\nkey = {}\n",
            quote(sender),
            quote(d),
            quote(s),
            quote(k)
        );
    }
    if let Some((d, s, k)) = &catch_all {
        // OpenDKIM takes the first matching row; "*" last stands for everyone else,
        // which is what default_signing means.
        let _ = write!(
            tables,
            "\n[default_signing]\ndomain = {}\nselector = {}\nkey = {}\n",
            quote(d),
            quote(s),
            quote(k)
        );
    }
    if signs && rows.is_empty() && catch_all.is_none() {
        notes.push("no signing key found (Domain/Selector/KeyFile or KeyTable/SigningTable): nothing will be signed".to_owned());
    }

    let mut toml = String::from(
        "# Translated from OpenDKIM/OpenDMARC by `monban milter import-opendkim`.\n# Check it with: monban milter --check-config --config FILE\n",
    );
    if !notes.is_empty() {
        toml.push_str("#\n# Not translated (or not exactly):\n");
        for n in &notes {
            let _ = writeln!(toml, "#   - {}", n.replace('\n', " "));
        }
    }
    toml.push('\n');
    toml.push_str(&top);
    toml.push_str(&tables);
    Imported {
        toml,
        untranslated: notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Mem(HashMap<&'static str, &'static str>);

    impl Files for Mem {
        fn read(&self, path: &str) -> Result<String, String> {
            self.0
                .get(path)
                .map(|s| (*s).to_owned())
                .ok_or_else(|| "no such file".to_owned())
        }
    }

    /// opendkim.conf(5) and opendmarc.conf(5) as their manuals describe them.
    #[test]
    fn opendkim_key_and_signing_tables() {
        let conf = "# from opendkim.conf(5)\nSyslog yes\nMode sv\nSocket inet:8891@localhost\n\
            Canonicalization relaxed/simple\nKeyTable refile:/etc/opendkim/KeyTable\n\
            SigningTable refile:/etc/opendkim/SigningTable\nInternalHosts /etc/opendkim/TrustedHosts\n\
            ExternalIgnoreList refile:/etc/opendkim/TrustedHosts\n";
        let files = Mem(HashMap::from([
            (
                "/etc/opendkim/KeyTable",
                "# name domain:selector:key\nk1 example.com:s2026:/etc/opendkim/keys/s2026.private\nk2 example.org:m1:/etc/opendkim/keys/m1.private\n",
            ),
            (
                "/etc/opendkim/SigningTable",
                "*@example.com k1\n*@example.org k2\n*@*.example.net k1\n* k1\n",
            ),
            (
                "/etc/opendkim/TrustedHosts",
                "127.0.0.1\n::1\n10.0.0.0/8\nmail.example.com\n::1\n127.0.0.1\n",
            ),
        ]));
        let dmarc =
            "AuthservID mx.example.net\nRejectFailures true\nTrustedAuthservIDs mx.example.net\n";
        let r = import(conf, Some(dmarc), &files, "host.example");
        let t = &r.toml;
        assert!(t.contains("listen = \"inet:127.0.0.1:8891\""), "{t}");
        assert!(t.contains("authserv_id = \"mx.example.net\""), "{t}");
        assert!(
            t.contains("trusted_networks = [\"127.0.0.1/32\", \"::1/128\", \"10.0.0.0/8\"]"),
            "{t}"
        );
        assert!(t.contains("enforce_reject = true"), "{t}");
        assert!(
            t.contains(
                "sender = \"*@example.com\"\ndomain = \"example.com\"\nselector = \"s2026\""
            ),
            "{t}"
        );
        assert!(
            t.contains("[default_signing]\ndomain = \"example.com\""),
            "{t}"
        );
        let notes = r.untranslated.join("\n");
        for n in [
            "*@*.example.net",
            "mail.example.com",
            "canonicalization",
            "TrustedAuthservIDs",
        ] {
            assert!(notes.contains(n), "{n} not noted: {notes}");
        }
        // The result parses as TOML.
        let _: toml::Value = toml::from_str(t).unwrap();
    }

    #[test]
    fn single_key_sockets_and_failures() {
        let conf = "Domain example.com,example.org\nSelector s1\nKeyFile /keys/s1.private\nSocket local:/run/opendkim/opendkim.sock\nKeyTable dsn:mysql://x\nMode s\n";
        let r = import(conf, None, &Mem(HashMap::new()), "h.example");
        assert!(
            r.toml
                .contains("listen = \"unix:/run/opendkim/opendkim.sock\"")
        );
        assert!(r.toml.contains("authserv_id = \"h.example\""));
        assert!(
            r.toml
                .contains("trusted_networks = [\"127.0.0.0/8\", \"::1/128\"]")
        );
        assert_eq!(r.toml.matches("[[signing]]").count(), 2);
        assert!(r.untranslated.iter().any(|n| n.contains("databases")));
        assert!(r.untranslated.iter().any(|n| n.contains("Mode s")));
        assert_eq!(socket("inet:12345"), Ok("inet:127.0.0.1:12345".into()));
        assert_eq!(socket("inet6:8891@[::1]"), Ok("inet:[::1]:8891".into()));
        assert!(socket("inet:8891@mail.example.com").is_err());
        // A missing table is said, not fatal.
        let r = import(
            "KeyTable /nope\nSigningTable /nope2\n",
            None,
            &Mem(HashMap::new()),
            "h",
        );
        assert!(
            r.untranslated
                .iter()
                .any(|n| n.contains("cannot read /nope"))
        );
        assert!(
            r.untranslated
                .iter()
                .any(|n| n.contains("nothing will be signed"))
        );
    }
}
