//! RFC 9990 aggregate reports: the document model and its XML form (namespace
//! `urn:ietf:params:xml:ns:dmarc-2.0`, elements in the order of the RFC's XSD, Appendix
//! A), the attachment file name (§3.2.1.1 "Email") and the Subject (same section).
//!
//! Writing only; reading reports (issue 12) parses into the same model.

use std::fmt::Write as _;

/// The XML namespace of RFC 9990 reports.
pub const NAMESPACE: &str = "urn:ietf:params:xml:ns:dmarc-2.0";

/// At most this many DKIM results per record (RFC 9990 §3.1.3: "no more than 100
/// signatures for a given row").
pub const MAX_DKIM_PER_RECORD: usize = 100;

/// One aggregate report (the `feedback` element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// `report_metadata`.
    pub metadata: ReportMetadata,
    /// `policy_published`.
    pub policy: PolicyPublished,
    /// `record`s (at least one for a valid report).
    pub records: Vec<Record>,
}

/// `report_metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportMetadata {
    /// `org_name`.
    pub org_name: String,
    /// `email`.
    pub email: String,
    /// `extra_contact_info`.
    pub extra_contact_info: Option<String>,
    /// `report_id` (letters and digits for monban's own, so the file name can carry it).
    pub report_id: String,
    /// `date_range/begin` (Unix seconds).
    pub begin: i64,
    /// `date_range/end` (Unix seconds).
    pub end: i64,
    /// `error`s met while evaluating the policy.
    pub errors: Vec<String>,
    /// `generator`.
    pub generator: Option<String>,
}

/// `policy_published`: the record as the receiver found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyPublished {
    /// `domain`: where the record was found.
    pub domain: String,
    /// `p`.
    pub p: String,
    /// `sp`, when published.
    pub sp: Option<String>,
    /// `np`, when published.
    pub np: Option<String>,
    /// `adkim`.
    pub adkim: Option<String>,
    /// `aspf`.
    pub aspf: Option<String>,
    /// `discovery_method`: `psl` or `treewalk`.
    pub discovery_method: Option<String>,
    /// `fo`, when published.
    pub fo: Option<String>,
    /// `testing`: `t=y`.
    pub testing: bool,
}

/// One `record`: messages that share source, identifiers and results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// `row/source_ip`.
    pub source_ip: String,
    /// `row/count`.
    pub count: u64,
    /// `row/policy_evaluated`.
    pub evaluated: PolicyEvaluated,
    /// `identifiers/header_from`.
    pub header_from: String,
    /// `identifiers/envelope_from` (a domain), when there was one.
    pub envelope_from: Option<String>,
    /// `identifiers/envelope_to`, when known.
    pub envelope_to: Option<String>,
    /// `auth_results/dkim`, in RFC 9990 §3.1.3 order.
    pub dkim: Vec<DkimAuth>,
    /// `auth_results/spf`: at most one in RFC 9990 (RFC 7489 allowed several).
    pub spf: Vec<SpfAuth>,
}

/// `policy_evaluated`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyEvaluated {
    /// `disposition`: `none`, `pass`, `quarantine` or `reject`.
    pub disposition: String,
    /// `dkim`: the DMARC-aligned DKIM result, `pass` or `fail`.
    pub dkim_aligned: bool,
    /// `spf`: the DMARC-aligned SPF result.
    pub spf_aligned: bool,
    /// `reason`s: why the disposition is not the policy's.
    pub reasons: Vec<Reason>,
}

/// `reason` (RFC 9990 §3.1.6 "Policy Override Reason").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason {
    /// `type`: one of [`OVERRIDE_TYPES`].
    pub kind: String,
    /// `comment`.
    pub comment: Option<String>,
}

/// The `PolicyOverrideType` values of the XSD; another name is written as `other` with
/// the name in the comment.
pub const OVERRIDE_TYPES: &[&str] = &[
    "local_policy",
    "mailing_list",
    "other",
    "policy_test_mode",
    "trusted_forwarder",
];

/// One `auth_results/dkim`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DkimAuth {
    /// `domain` (`d=`).
    pub domain: String,
    /// `selector` (`s=`).
    pub selector: String,
    /// `result`.
    pub result: String,
    /// `human_result`.
    pub human_result: Option<String>,
}

/// `auth_results/spf`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpfAuth {
    /// `domain`.
    pub domain: String,
    /// `scope`: only `mfrom` exists in RFC 9990; `None` writes no scope (a HELO check).
    pub scope: Option<String>,
    /// `result`.
    pub result: String,
    /// `human_result`.
    pub human_result: Option<String>,
}

/// The DKIM results of one message in RFC 9990 §3.1.3 order: passing and strictly
/// aligned with the author domain, passing and relaxed-aligned (same organizational
/// domain), other passes, then the rest; header order within each group; at most
/// [`MAX_DKIM_PER_RECORD`]. `org_domain` is the author's organizational domain.
pub fn order_dkim<T>(
    mut results: Vec<T>,
    header_from: &str,
    org_domain: Option<&str>,
    domain: impl Fn(&T) -> &str,
    passed: impl Fn(&T) -> bool,
) -> Vec<T> {
    let rank = |t: &T| {
        if !passed(t) {
            return 3;
        }
        let d = domain(t).trim_end_matches('.');
        if d.eq_ignore_ascii_case(header_from.trim_end_matches('.')) {
            0
        } else if org_domain.is_some_and(|o| same_org(d, o)) {
            1
        } else {
            2
        }
    };
    // A stable sort keeps header order within a rank.
    results.sort_by_key(|t| rank(t));
    results.truncate(MAX_DKIM_PER_RECORD);
    results
}

fn same_org(domain: &str, org: &str) -> bool {
    let org = org.trim_end_matches('.');
    let (d, o) = (domain.as_bytes(), org.as_bytes());
    d.eq_ignore_ascii_case(o)
        || (d.len() > o.len()
            && d[d.len() - o.len()..].eq_ignore_ascii_case(o)
            && d[d.len() - o.len() - 1] == b'.')
}

/// The attachment name (RFC 9990 §3.2.1.1): `receiver!policy-domain!begin!end!id.xml.gz`.
/// `unique_id` must be letters and digits ([`is_unique_id`]).
pub fn filename(receiver: &str, policy_domain: &str, begin: i64, end: i64, id: &str) -> String {
    format!("{receiver}!{policy_domain}!{begin}!{end}!{id}.xml.gz")
}

/// Whether `id` fits the file name's `unique-id = 1*(ALPHA / DIGIT)`.
pub fn is_unique_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The Subject (RFC 9990 §3.2.1.1): `Report Domain: D Submitter: S Report-ID: <id>`.
pub fn subject(policy_domain: &str, submitter: &str, report_id: &str) -> String {
    format!("Report Domain: {policy_domain} Submitter: {submitter} Report-ID: <{report_id}>")
}

impl Feedback {
    /// The XML document (UTF-8, with declaration), elements in XSD order.
    pub fn to_xml(&self) -> String {
        let mut w = Xml::default();
        w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        w.raw("<feedback xmlns=\"");
        w.raw(NAMESPACE);
        w.raw("\">\n");
        w.leaf(1, "version", "1.0");
        self.metadata.write(&mut w);
        self.policy.write(&mut w);
        for r in &self.records {
            r.write(&mut w);
        }
        w.raw("</feedback>\n");
        w.out
    }

    /// How many messages the report covers.
    pub fn messages(&self) -> u64 {
        self.records
            .iter()
            .fold(0u64, |a, r| a.saturating_add(r.count))
    }
}

impl ReportMetadata {
    fn write(&self, w: &mut Xml) {
        w.open(1, "report_metadata");
        w.leaf(2, "org_name", &self.org_name);
        w.leaf(2, "email", &self.email);
        if let Some(x) = &self.extra_contact_info {
            w.leaf(2, "extra_contact_info", x);
        }
        w.leaf(2, "report_id", &self.report_id);
        w.open(2, "date_range");
        w.leaf(3, "begin", &self.begin.to_string());
        w.leaf(3, "end", &self.end.to_string());
        w.close(2, "date_range");
        // The XSD allows one `error`: several are joined.
        if !self.errors.is_empty() {
            w.leaf(2, "error", &self.errors.join("; "));
        }
        if let Some(g) = &self.generator {
            w.leaf(2, "generator", g);
        }
        w.close(1, "report_metadata");
    }
}

impl PolicyPublished {
    fn write(&self, w: &mut Xml) {
        w.open(1, "policy_published");
        w.leaf(2, "domain", &self.domain);
        w.leaf(2, "p", &self.p);
        if let Some(sp) = &self.sp {
            w.leaf(2, "sp", sp);
        }
        if let Some(np) = &self.np {
            w.leaf(2, "np", np);
        }
        if let Some(a) = &self.adkim {
            w.leaf(2, "adkim", a);
        }
        if let Some(a) = &self.aspf {
            w.leaf(2, "aspf", a);
        }
        if let Some(d) = &self.discovery_method {
            w.leaf(2, "discovery_method", d);
        }
        if let Some(fo) = &self.fo {
            w.leaf(2, "fo", fo);
        }
        w.leaf(2, "testing", if self.testing { "y" } else { "n" });
        w.close(1, "policy_published");
    }
}

impl Record {
    fn write(&self, w: &mut Xml) {
        w.open(1, "record");
        w.open(2, "row");
        w.leaf(3, "source_ip", &self.source_ip);
        w.leaf(3, "count", &self.count.to_string());
        w.open(3, "policy_evaluated");
        let e = &self.evaluated;
        w.leaf(4, "disposition", &e.disposition);
        w.leaf(4, "dkim", pass_fail(e.dkim_aligned));
        w.leaf(4, "spf", pass_fail(e.spf_aligned));
        for r in &e.reasons {
            w.open(4, "reason");
            if OVERRIDE_TYPES.contains(&r.kind.as_str()) {
                w.leaf(5, "type", &r.kind);
                if let Some(c) = &r.comment {
                    w.leaf(5, "comment", c);
                }
            } else {
                w.leaf(5, "type", "other");
                let c = match &r.comment {
                    Some(c) => format!("{}: {c}", r.kind),
                    None => r.kind.clone(),
                };
                w.leaf(5, "comment", &c);
            }
            w.close(4, "reason");
        }
        w.close(3, "policy_evaluated");
        w.close(2, "row");
        w.open(2, "identifiers");
        w.leaf(3, "header_from", &self.header_from);
        if let Some(e) = &self.envelope_from {
            w.leaf(3, "envelope_from", e);
        }
        if let Some(e) = &self.envelope_to {
            w.leaf(3, "envelope_to", e);
        }
        w.close(2, "identifiers");
        w.open(2, "auth_results");
        for d in self.dkim.iter().take(MAX_DKIM_PER_RECORD) {
            w.open(3, "dkim");
            w.leaf(4, "domain", &d.domain);
            w.leaf(4, "selector", &d.selector);
            w.leaf(4, "result", &d.result);
            if let Some(h) = &d.human_result {
                w.leaf(4, "human_result", h);
            }
            w.close(3, "dkim");
        }
        for s in &self.spf {
            w.open(3, "spf");
            w.leaf(4, "domain", &s.domain);
            if let Some(scope) = &s.scope {
                w.leaf(4, "scope", scope);
            }
            w.leaf(4, "result", &s.result);
            if let Some(h) = &s.human_result {
                w.leaf(4, "human_result", h);
            }
            w.close(3, "spf");
        }
        w.close(2, "auth_results");
        w.close(1, "record");
    }
}

fn pass_fail(b: bool) -> &'static str {
    if b { "pass" } else { "fail" }
}

/// A small XML writer: two-space indentation, text escaped.
#[derive(Default)]
struct Xml {
    out: String,
}

impl Xml {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn open(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        let _ = writeln!(self.out, "<{name}>");
    }

    fn close(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        let _ = writeln!(self.out, "</{name}>");
    }

    fn leaf(&mut self, depth: usize, name: &str, text: &str) {
        self.indent(depth);
        let _ = write!(self.out, "<{name}>");
        escape_into(&mut self.out, text);
        let _ = writeln!(self.out, "</{name}>");
    }
}

/// Escapes text for an XML element. Characters XML 1.0 cannot carry at all (C0
/// controls other than tab, CR, LF; U+FFFE, U+FFFF) become U+FFFD: the values come
/// from mail and DNS, and one bad byte must not make the whole report unreadable.
/// Everything outside printable ASCII is written as a character reference, so the
/// document is ASCII: consumers that mishandle UTF-8 (parsedmarc 11 fails on a
/// non-ASCII report given as a file) still read it.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str("&#xFFFD;");
            }
            c if c.is_ascii() && c != '\u{7F}' => out.push(c),
            c => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Feedback {
        Feedback {
            metadata: ReportMetadata {
                org_name: "Receiver & Co 門番".into(),
                email: "dmarc@receiver.example".into(),
                extra_contact_info: None,
                report_id: "abc123".into(),
                begin: 1_700_000_000,
                end: 1_700_086_399,
                errors: vec![],
                generator: Some("monban".into()),
            },
            policy: PolicyPublished {
                domain: "example.com".into(),
                p: "reject".into(),
                sp: None,
                np: Some("reject".into()),
                adkim: Some("r".into()),
                aspf: Some("r".into()),
                discovery_method: Some("treewalk".into()),
                fo: None,
                testing: false,
            },
            records: vec![Record {
                source_ip: "192.0.2.1".into(),
                count: 3,
                evaluated: PolicyEvaluated {
                    disposition: "none".into(),
                    dkim_aligned: false,
                    spf_aligned: false,
                    reasons: vec![Reason {
                        kind: "sampled_out".into(),
                        comment: None,
                    }],
                },
                header_from: "example.com".into(),
                envelope_from: None,
                envelope_to: None,
                dkim: vec![],
                spf: vec![SpfAuth {
                    domain: "helo.example.com".into(),
                    scope: None,
                    result: "none".into(),
                    human_result: Some("<\u{1}>".into()),
                }],
            }],
        }
    }

    #[test]
    fn rfc9990_xml_escapes_and_maps_unknown_reasons_to_other() {
        let x = sample().to_xml();
        assert!(
            x.contains("<org_name>Receiver &amp; Co &#x9580;&#x756A;</org_name>"),
            "{x}"
        );
        assert!(x.contains("<type>other</type>"), "{x}");
        assert!(x.contains("<comment>sampled_out</comment>"), "{x}");
        assert!(
            x.contains("<human_result>&lt;&#xFFFD;&gt;</human_result>"),
            "{x}"
        );
        assert!(x.is_ascii());
        assert!(x.contains("<testing>n</testing>"), "{x}");
        assert!(!x.contains("<scope>"), "{x}");
        assert_eq!(sample().messages(), 3);
    }

    #[test]
    fn rfc9990_3_1_3_dkim_order() {
        let sigs = vec![
            ("other.example", false),
            ("third.example", true),
            ("mail.example.com", true),
            ("example.com", true),
            ("example.com", false),
        ];
        let ordered = order_dkim(sigs, "example.com", Some("example.com"), |s| s.0, |s| s.1);
        assert_eq!(
            ordered,
            vec![
                ("example.com", true),
                ("mail.example.com", true),
                ("third.example", true),
                ("other.example", false),
                ("example.com", false),
            ]
        );
        let many: Vec<usize> = (0..250).collect();
        assert_eq!(
            order_dkim(many, "x", None, |_| "y", |_| true).len(),
            MAX_DKIM_PER_RECORD
        );
        assert!(!same_org("notexample.com", "example.com"));
        assert!(same_org("a.example.com", "example.com"));
        // Bytes, never a str slice inside a character.
        assert!(!same_org("\u{e9}xample.com", "xample.com"));
        assert!(same_org("\u{e9}.example.com", "example.com"));
    }

    #[test]
    fn rfc9990_filename_and_subject() {
        assert_eq!(
            filename("receiver.example", "example.com", 1, 2, "ab12"),
            "receiver.example!example.com!1!2!ab12.xml.gz"
        );
        assert!(is_unique_id("ab12"));
        assert!(!is_unique_id("a-b") && !is_unique_id(""));
        assert_eq!(
            subject("example.com", "receiver.example", "ab12"),
            "Report Domain: example.com Submitter: receiver.example Report-ID: <ab12>"
        );
    }
}
