//! `monban report generate`: one RFC 9990 aggregate report per policy domain and
//! policy configuration for one UTC day, from the evaluations in the store.
//!
//! - Rows are grouped by (source IP, identifiers, results) in the database
//!   ([`Store::aggregate`]); groups that write the same `record` are merged here.
//! - A subdomain without its own record is in the report of the domain whose record
//!   applied (the store keeps where the record was found, RFC 9990 §3.1.2 "Handling
//!   Domains in Reports").
//! - No report is made only of report mail (loops between reporters), nor for a domain
//!   whose mail was all rejected and that sent nothing accepted in the last
//!   [`GenerateOptions::lookback`] (spammers' domains are not fed reports).
//! - The Report-ID is derived from the receiver, policy and period: generating the
//!   same day again gives the same ID and file name (RFC 9990 §3.2.1.1: a report sent
//!   again keeps its file name), and replaces the stored report while it is unsent.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use monban::crypto::{HashAlgorithm, hash};
use monban::report::aggregate::{
    DkimAuth, Feedback, PolicyEvaluated, PolicyPublished, Reason, Record, ReportMetadata, SpfAuth,
    filename,
};
use monban_store::{AggregateGroup, OutgoingReport, SaveOutcome, Store};

use crate::ReportError;

/// One UTC day in seconds.
pub const DAY: i64 = 86_400;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// `org_name`.
    pub org_name: String,
    /// `email`: the reporting address (its domain is the receiver in file names and
    /// the Subject).
    pub email: String,
    /// `extra_contact_info`.
    pub extra_contact_info: Option<String>,
    /// First second of the period (a UTC midnight for a day).
    pub begin: i64,
    /// Last second of the period (inclusive, as RFC 9990's `end`).
    pub end: i64,
    /// Now (the report's creation time).
    pub now: i64,
    /// How far back a domain's accepted mail makes its rejected-only day reportable.
    pub lookback: i64,
    /// Where to write the `.xml.gz` files (`None`: only into the store).
    pub out_dir: Option<PathBuf>,
}

impl GenerateOptions {
    /// The receiver's domain: the domain of [`GenerateOptions::email`], lower case.
    pub fn receiver(&self) -> Result<String, ReportError> {
        let domain = self
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| is_domain(d))
            .ok_or_else(|| {
                ReportError::Usage(format!(
                    "--email {:?} is not an address with a domain (e.g. dmarc-reports@mx.example.net)",
                    self.email
                ))
            })?;
        Ok(domain)
    }
}

/// One report written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedReport {
    /// The file name (RFC 9990 §3.2.1.1), also the name it has in `--out`.
    pub file: String,
    /// Where it was written, when `out_dir` was given.
    pub path: Option<PathBuf>,
    /// The policy domain.
    pub domain: String,
    /// The Report-ID.
    pub report_id: String,
    /// How many `record`s.
    pub records: u64,
    /// How many messages.
    pub messages: u64,
    /// The `rua` destinations it will be sent to.
    pub rua: Vec<String>,
    /// The `rua` URIs left out, each with the reason.
    pub ignored: Vec<String>,
    /// `new`, `regenerated`, `already_sent` or `sending` (a sender is sending it): the
    /// last two are left as they were, and `records`/`messages` are theirs.
    pub status: &'static str,
    /// Of a report left as it was: the messages recorded for its period since it was
    /// made (late evaluations), which no report counts.
    pub left_out: u64,
}

/// A policy domain that got no report, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The policy domain.
    pub domain: String,
    /// Messages it had.
    pub messages: u64,
    /// Why.
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Reports made.
    pub reports: Vec<GeneratedReport>,
    /// Domains skipped.
    pub skipped: Vec<Skipped>,
    /// Messages recorded without a client IP (e.g. `monban verify --record` without
    /// `--ip`): not reportable, counted here.
    pub without_ip: u64,
}

/// Generates the period's reports. `progress(done, total)` is called after each
/// policy domain.
pub async fn generate(
    store: &dyn Store,
    opts: &GenerateOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<GenerateSummary, ReportError> {
    let receiver = opts.receiver()?;
    if opts.end < opts.begin {
        return Err(ReportError::Usage(
            "the period ends before it begins".into(),
        ));
    }
    if let Some(dir) = &opts.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| ReportError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
    }
    let until = opts.end + 1;
    let groups = store.aggregate(opts.begin, until).await?;
    let mut summary = GenerateSummary::default();
    let mut by_policy: BTreeMap<PolicyPublished, Vec<AggregateGroup>> = BTreeMap::new();
    for g in groups {
        if g.source_ip.is_none() {
            summary.without_ip += g.count;
            continue;
        }
        by_policy.entry(published(&g)).or_default().push(g);
    }
    let total = by_policy.len();
    let mut pending: Vec<(GeneratedReport, OutgoingReport)> = Vec::new();
    for (done, (policy, groups)) in by_policy.into_iter().enumerate() {
        let messages: u64 = groups.iter().map(|g| g.count).sum();
        let skip = |reason: &str| Skipped {
            domain: policy.domain.clone(),
            messages,
            reason: reason.into(),
        };
        if groups.iter().all(|g| g.not_report_mail == 0) {
            summary.skipped.push(skip(
                "only report mail or bounces: never reported (no loops)",
            ));
            progress(done + 1, total);
            continue;
        }
        let accepted_today = groups
            .iter()
            .any(|g| g.disposition != "reject" && g.not_report_mail > 0);
        if !accepted_today
            && !store
                .has_accepted_mail(&policy.domain, opts.begin - opts.lookback, until)
                .await?
        {
            summary.skipped.push(skip(
                "all its mail was rejected and it sent nothing accepted in the lookback: no report",
            ));
            progress(done + 1, total);
            continue;
        }
        // The rua of the domain's newest evaluation in the period.
        let newest = groups
            .iter()
            .max_by_key(|g| g.last_time)
            .map(|g| g.policy.rua.clone())
            .unwrap_or_default();
        let (rua, ignored) = destinations(&newest);
        if rua.is_empty() {
            summary.skipped.push(skip(
                "the policy asks for no aggregate reports (no mailto: rua)",
            ));
            progress(done + 1, total);
            continue;
        }
        let key = policy_key(&policy);
        let report_id = report_id(&receiver, &policy.domain, &key, opts.begin, opts.end);
        let feedback = Feedback {
            metadata: ReportMetadata {
                org_name: opts.org_name.clone(),
                email: opts.email.clone(),
                extra_contact_info: opts.extra_contact_info.clone(),
                report_id: report_id.clone(),
                begin: opts.begin,
                end: opts.end,
                errors: Vec::new(),
                generator: Some(format!("monban {}", env!("CARGO_PKG_VERSION"))),
            },
            records: records(groups),
            policy: policy.clone(),
        };
        let file = filename(&receiver, &policy.domain, opts.begin, opts.end, &report_id);
        let xml_gz = gzip(feedback.to_xml().as_bytes())?;
        let outgoing = OutgoingReport {
            report_id: report_id.clone(),
            policy_domain: policy.domain.clone(),
            policy_key: key,
            begin: opts.begin,
            end: opts.end,
            filename: file.clone(),
            xml_gz,
            records: feedback.records.len() as u64,
            messages: feedback.messages(),
            rua: rua.clone(),
            created: opts.now,
        };
        pending.push((
            GeneratedReport {
                file,
                path: None,
                domain: policy.domain.clone(),
                report_id,
                records: outgoing.records,
                messages: outgoing.messages,
                rua,
                ignored,
                status: "new",
                left_out: 0,
            },
            outgoing,
        ));
        if pending.len() >= SAVE_BATCH {
            save(store, opts, &mut pending, &mut summary).await?;
        }
        progress(done + 1, total);
    }
    save(store, opts, &mut pending, &mut summary).await?;
    Ok(summary)
}

/// Reports saved per transaction.
const SAVE_BATCH: usize = 1000;

/// Saves the pending reports in one transaction, then writes the files of those that
/// are new or regenerated (a report already sent stays as it was).
async fn save(
    store: &dyn Store,
    opts: &GenerateOptions,
    pending: &mut Vec<(GeneratedReport, OutgoingReport)>,
    summary: &mut GenerateSummary,
) -> Result<(), ReportError> {
    if pending.is_empty() {
        return Ok(());
    }
    let outgoing: Vec<OutgoingReport> = pending.iter().map(|(_, o)| o.clone()).collect();
    let outcomes = store.save_reports(&outgoing).await?;
    for ((mut report, out), outcome) in pending.drain(..).zip(outcomes) {
        let kept = match outcome {
            SaveOutcome::New => {
                report.status = "new";
                None
            }
            SaveOutcome::Replaced => {
                report.status = "regenerated";
                None
            }
            SaveOutcome::AlreadySent(k) => {
                report.status = "already_sent";
                Some(k)
            }
            SaveOutcome::Sending(k) => {
                report.status = "sending";
                Some(k)
            }
            SaveOutcome::Fuller(k) => {
                report.status = "fuller_stored";
                Some(k)
            }
        };
        // A report left as it was is described by its own figures; what was recorded
        // since it was made is in no report, and said so.
        if let Some(k) = kept {
            report.left_out = report.messages.saturating_sub(k.messages);
            report.records = k.records;
            report.messages = k.messages;
        }
        if let (Some(dir), "new" | "regenerated") = (&opts.out_dir, report.status) {
            report.path = Some(write_atomic(dir, &report.file, &out.xml_gz)?);
        }
        summary.reports.push(report);
    }
    Ok(())
}

/// The destinations of a report (`mailto:` and the address) for the `rua` URIs, each
/// address once, and the URIs left out with the reason. RFC 9990 §3.2: a report goes
/// once to each destination, so `mailto:a@x?subject=y`, `mailto:a%40x` spellings and
/// `mailto:a@X.` are one (the domain compared without case, the local part as it is:
/// RFC 5321 §2.4 lets it be case-sensitive).
fn destinations(uris: &[String]) -> (Vec<String>, Vec<String>) {
    let mut rua: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut ignored = Vec::new();
    for u in uris {
        if let Some(address) = crate::send::mailto_address(u) {
            if seen.insert(address.clone()) {
                rua.push(crate::send::mailto_uri(&address));
            }
        } else {
            let shown: String = u.chars().take(80).collect();
            let more = if shown.len() < u.len() { "..." } else { "" };
            ignored.push(format!(
                "{shown}{more}: not a mailto: URI with one usable address"
            ));
        }
    }
    (rua, ignored)
}

/// The `policy_published` of a group.
fn published(g: &AggregateGroup) -> PolicyPublished {
    let p = &g.policy;
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    PolicyPublished {
        domain: p.domain.to_ascii_lowercase(),
        p: p.p.clone(),
        sp: p.sp.clone(),
        np: p.np.clone(),
        adkim: opt(&p.adkim),
        aspf: opt(&p.aspf),
        discovery_method: opt(&p.discovery_method),
        fo: p.fo.clone(),
        testing: p.testing,
    }
}

/// The policy configuration as one line (one report per domain and configuration).
fn policy_key(p: &PolicyPublished) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    format!(
        "p={};sp={};np={};adkim={};aspf={};fo={};t={};discovery={}",
        p.p,
        o(&p.sp),
        o(&p.np),
        o(&p.adkim),
        o(&p.aspf),
        o(&p.fo),
        if p.testing { "y" } else { "n" },
        o(&p.discovery_method)
    )
}

/// Letters and digits, the same for the same receiver, policy domain, policy and
/// period (and different for any other).
fn report_id(receiver: &str, domain: &str, key: &str, begin: i64, end: i64) -> String {
    let digest = hash(
        HashAlgorithm::Sha256,
        format!("{receiver}\n{domain}\n{key}\n{begin}\n{end}").as_bytes(),
    );
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// The records: groups that write the same `record` merged, the largest first. A
/// record's count is set aside while it serves as its own key.
fn records(groups: Vec<AggregateGroup>) -> Vec<Record> {
    // Record (its count zero) → (first seen, messages); first seen keeps the order
    // stable between runs.
    let mut counts: std::collections::HashMap<Record, (usize, u64)> = Default::default();
    for g in groups {
        let mut r = record(&g);
        let n = std::mem::take(&mut r.count);
        let next = counts.len();
        counts.entry(r).or_insert((next, 0)).1 += n;
    }
    let mut merged: Vec<(usize, Record)> = counts
        .into_iter()
        .map(|(mut r, (first, n))| {
            r.count = n;
            (first, r)
        })
        .collect();
    merged.sort_by(|(fa, a), (fb, b)| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.source_ip.cmp(&b.source_ip))
            .then_with(|| a.header_from.cmp(&b.header_from))
            .then_with(|| fa.cmp(fb))
    });
    merged.into_iter().map(|(_, r)| r).collect()
}

fn record(g: &AggregateGroup) -> Record {
    let applied = g.policy_applied.as_deref().unwrap_or(&g.policy.p);
    // RFC 9990 `ActionDispositionType`: "pass" is no action on a message that passed
    // DMARC under an enforcing policy.
    let disposition = if g.dmarc == "pass" && g.disposition == "none" && applied != "none" {
        "pass".to_owned()
    } else {
        g.disposition.clone()
    };
    let mut reasons: Vec<Reason> = g
        .overrides
        .iter()
        .map(|o| Reason {
            kind: o.kind.clone(),
            comment: o.comment.clone(),
        })
        .collect();
    // RFC 9990 §3.1.6: the reason MUST be given whenever the applied disposition is not
    // the policy's; an evaluation recorded without one still says so.
    if reasons.is_empty() && g.dmarc != "pass" && g.disposition != applied {
        reasons.push(Reason {
            kind: "other".into(),
            comment: Some(format!(
                "{} applied where the policy asks for {applied} (result {})",
                g.disposition, g.dmarc
            )),
        });
    }
    Record {
        source_ip: g.source_ip.clone().unwrap_or_default(),
        count: g.count,
        evaluated: PolicyEvaluated {
            disposition,
            dkim_aligned: g.dkim_aligned,
            spf_aligned: g.spf_aligned,
            reasons,
        },
        header_from: g.header_from.clone().unwrap_or_default(),
        envelope_from: g.envelope_domain.clone(),
        envelope_to: None,
        dkim: g
            .dkim
            .iter()
            .map(|d| DkimAuth {
                domain: d.domain.clone(),
                selector: d.selector.clone(),
                result: dkim_result(&d.result),
                human_result: d.human_result.clone(),
            })
            .collect(),
        spf: g
            .spf
            .iter()
            .map(|s| SpfAuth {
                domain: s.domain.clone(),
                // The XSD knows only "mfrom"; a HELO check is written without a scope.
                scope: (s.scope == "mfrom").then(|| "mfrom".to_owned()),
                result: spf_result(&s.result),
                human_result: (s.scope == "helo").then(|| "HELO identity".to_owned()),
            })
            .collect(),
    }
}

/// DKIM results as the XSD names them (RFC 8601 §2.7.1).
fn dkim_result(r: &str) -> String {
    match r {
        "none" | "pass" | "fail" | "policy" | "neutral" | "temperror" | "permerror" => r.into(),
        _ => "neutral".into(),
    }
}

/// SPF results as the XSD names them (RFC 8601 §2.7.2).
fn spf_result(r: &str) -> String {
    match r {
        "none" | "pass" | "fail" | "softfail" | "policy" | "neutral" | "temperror"
        | "permerror" => r.into(),
        _ => "neutral".into(),
    }
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, ReportError> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|e| ReportError::Io {
            path: "gzip".into(),
            source: e,
        })
}

/// The longest file name written (the temporary name adds 5 bytes; most file systems
/// take 255).
pub const MAX_FILE_NAME: usize = 240;

/// The name a report is written under: its RFC 9990 §3.2.1.1 name, or, when that is
/// longer than [`MAX_FILE_NAME`] (a policy domain of 200 characters is a valid
/// domain, and any sender can make one), the name cut to fit with a hash of the whole
/// name after a `~`, so that one long domain cannot stop the run for every other.
pub fn disk_name(name: &str) -> String {
    const SUFFIX: &str = ".xml.gz";
    if name.len() <= MAX_FILE_NAME {
        return name.to_owned();
    }
    let digest = monban::crypto::hash(monban::crypto::HashAlgorithm::Sha256, name.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let room = MAX_FILE_NAME - SUFFIX.len() - 1 - tag.len();
    let cut = name
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|end| *end <= room)
        .last()
        .unwrap_or(0);
    format!("{}~{tag}{SUFFIX}", &name[..cut])
}

/// Writes `dir/name` ([`disk_name`]) through a temporary file and a rename: a reader
/// never sees half a report.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf, ReportError> {
    let name = &disk_name(name);
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let io = |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(&tmp, data).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_store::{DkimRow, OverrideRow, PublishedPolicy, SpfRow};

    /// A trial's sender made a policy domain of 195 characters: its report's name was
    /// past 255 bytes, the write failed and the whole run stopped, for every domain.
    #[test]
    fn a_name_too_long_for_the_file_system_is_cut_with_a_hash() {
        let short = monban::report::aggregate::filename("rx.example", "example.com", 1, 2, "abc");
        assert_eq!(disk_name(&short), short);
        let label = "a".repeat(63);
        let long_domain = format!("{label}.{label}.{label}.{}.example", "b".repeat(40));
        let long = monban::report::aggregate::filename("rx.example", &long_domain, 1, 2, "abc");
        assert!(long.len() > 255);
        let other = long.replace("abc.xml", "abd.xml");
        let (a, b) = (disk_name(&long), disk_name(&other));
        assert!(a.len() <= MAX_FILE_NAME && a.ends_with(".xml.gz"), "{a}");
        assert!(a.starts_with("rx.example!aaa"), "{a}");
        assert_ne!(a, b, "names cut alike still differ by their hash");
        let dir = std::env::temp_dir().join(format!("monban-longname-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = write_atomic(&dir, &long, b"x").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        assert_eq!(path.file_name().unwrap().to_str(), Some(a.as_str()));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A trial's F4: one report was mailed to one mailbox several times, once per
    /// spelling of its address in `rua`.
    #[test]
    fn rfc9990_3_2_one_delivery_per_destination_address() {
        let uris: Vec<String> = [
            "mailto:agg@example.org",
            "mailto:agg@example.org?subject=x",
            "mailto:agg@Example.ORG.",
            "mailto:%61gg@example.org",
            "mailto:AGG@example.org",
            "https://example.org/r",
        ]
        .map(String::from)
        .to_vec();
        let (rua, ignored) = destinations(&uris);
        assert_eq!(rua, ["mailto:agg@example.org", "mailto:AGG@example.org"]);
        assert_eq!(ignored.len(), 1, "{ignored:?}");
    }

    fn group(disposition: &str, dmarc: &str, overrides: Vec<OverrideRow>) -> AggregateGroup {
        AggregateGroup {
            policy: PublishedPolicy {
                domain: "example.com".into(),
                p: "reject".into(),
                sp: None,
                np: None,
                adkim: "r".into(),
                aspf: "r".into(),
                testing: false,
                discovery_method: "treewalk".into(),
                fo: None,
                rua: vec![],
                ruf: vec![],
                psd: false,
            },
            source_ip: Some("192.0.2.1".into()),
            header_from: Some("example.com".into()),
            envelope_domain: None,
            dkim: vec![DkimRow {
                domain: "example.com".into(),
                selector: "s".into(),
                result: "pass".into(),
                human_result: None,
            }],
            spf: Some(SpfRow {
                domain: "helo.example.com".into(),
                scope: "helo".into(),
                result: "pass".into(),
            }),
            dmarc: dmarc.into(),
            disposition: disposition.into(),
            policy_applied: Some("reject".into()),
            dkim_aligned: dmarc == "pass",
            spf_aligned: false,
            overrides,
            count: 2,
            not_report_mail: 2,
            last_time: 0,
        }
    }

    #[test]
    fn rfc9990_disposition_pass_and_reason_when_policy_not_applied() {
        let r = record(&group("none", "pass", vec![]));
        assert_eq!(r.evaluated.disposition, "pass");
        assert!(r.evaluated.reasons.is_empty());
        assert_eq!(r.spf[0].scope, None);
        let r = record(&group("none", "fail", vec![]));
        assert_eq!(r.evaluated.reasons.len(), 1);
        assert_eq!(r.evaluated.reasons[0].kind, "other");
        let r = record(&group(
            "quarantine",
            "fail",
            vec![OverrideRow {
                kind: "local_policy".into(),
                comment: None,
            }],
        ));
        assert_eq!(r.evaluated.reasons[0].kind, "local_policy");
        let r = record(&group("reject", "fail", vec![]));
        assert!(r.evaluated.reasons.is_empty());
    }

    #[test]
    fn identical_records_merge_and_ids_are_stable() {
        let rs = records(vec![
            group("none", "pass", vec![]),
            group("none", "pass", vec![]),
        ]);
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].count, 4);
        let a = report_id("r.example", "a.example", "k", 0, 86_399);
        assert_eq!(a, report_id("r.example", "a.example", "k", 0, 86_399));
        assert_ne!(a, report_id("r.example", "a.example", "k", 86_400, 172_799));
        // The same policy at two domains: two reports, two IDs.
        assert_ne!(a, report_id("r.example", "b.example", "k", 0, 86_399));
        assert_ne!(a, report_id("r.example", "a.example", "k2", 0, 86_399));
        assert!(monban::report::aggregate::is_unique_id(&a));
    }
}
