//! Reading SMTP TLS reports (RFC 8460 §4, JSON).
//!
//! Lenient where reporters differ: `mx-host` as one string or a list, counts missing
//! (zero), unknown members ignored, dates with or without fractional seconds and with
//! any offset. Bounded: the document size is bounded by the caller (the extractor);
//! here policies ([`MAX_POLICIES`]) and failure details per policy
//! ([`MAX_FAILURE_DETAILS`]) are counted, and JSON nesting is bounded by serde_json.

use serde::{Deserialize, Serialize};

/// Policies in one report at most.
pub const MAX_POLICIES: usize = 10_000;
/// Failure details of one policy at most.
pub const MAX_FAILURE_DETAILS: usize = 100_000;
/// The largest session count believed (sums of hostile counts must not overflow).
pub const MAX_SESSIONS: u64 = 1_000_000_000_000;

/// Why a TLS report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsRptError {
    /// Not JSON, or not the report's shape.
    #[error("not an RFC 8460 TLS report: {0}")]
    Json(String),
    /// A date that cannot be read.
    #[error("{field}: {value:?} is not an RFC 3339 date-time")]
    Date {
        /// Which.
        field: &'static str,
        /// The text (cut to 80 characters).
        value: String,
    },
    /// A limit was reached.
    #[error("over the limit of {limit} {what}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A required member is missing or empty.
    #[error("not an RFC 8460 TLS report: no {0}")]
    Missing(&'static str),
}

/// One TLS report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsReport {
    /// `organization-name`.
    pub organization_name: String,
    /// `date-range/start-datetime` (Unix seconds).
    pub begin: i64,
    /// `date-range/end-datetime` (Unix seconds).
    pub end: i64,
    /// `contact-info`.
    pub contact_info: Option<String>,
    /// `report-id`.
    pub report_id: String,
    /// `policies`.
    pub policies: Vec<Policy>,
}

/// One `policies` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `policy/policy-type`: `tlsa`, `sts`, `no-policy-found`.
    pub policy_type: String,
    /// `policy/policy-string`.
    pub policy_string: Vec<String>,
    /// `policy/policy-domain` (lower case; empty when the reporter left it out).
    pub policy_domain: String,
    /// `policy/mx-host`.
    pub mx_host: Vec<String>,
    /// `summary/total-successful-session-count`.
    pub successful: u64,
    /// `summary/total-failure-session-count`.
    pub failed: u64,
    /// `failure-details`.
    pub failure_details: Vec<FailureDetail>,
}

/// One `failure-details` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct FailureDetail {
    /// `result-type`.
    pub result_type: String,
    /// `sending-mta-ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_mta_ip: Option<String>,
    /// `receiving-mx-hostname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-mx-helo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_mx_helo: Option<String>,
    /// `receiving-ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_ip: Option<String>,
    /// `failed-session-count`.
    pub failed_session_count: u64,
    /// `additional-information`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_information: Option<String>,
    /// `failure-reason-code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason_code: Option<String>,
}

impl TlsReport {
    /// The policy domain the report is filed under: the first non-empty one.
    pub fn domain(&self) -> String {
        self.policies
            .iter()
            .map(|p| p.policy_domain.as_str())
            .find(|d| !d.is_empty())
            .unwrap_or("")
            .to_string()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawReport {
    #[serde(default)]
    organization_name: Option<String>,
    date_range: Option<RawRange>,
    #[serde(default)]
    contact_info: Option<String>,
    #[serde(default)]
    report_id: Option<String>,
    #[serde(default)]
    policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawRange {
    start_datetime: String,
    end_datetime: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPolicy {
    policy: RawPolicyDesc,
    #[serde(default)]
    summary: RawSummary,
    #[serde(default)]
    failure_details: Vec<FailureDetail>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPolicyDesc {
    #[serde(default)]
    policy_type: String,
    #[serde(default)]
    policy_string: OneOrMany,
    #[serde(default)]
    policy_domain: String,
    #[serde(default)]
    mx_host: OneOrMany,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct RawSummary {
    total_successful_session_count: u64,
    total_failure_session_count: u64,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// Reads a TLS report.
pub fn parse_tls_report(json: &[u8]) -> Result<TlsReport, TlsRptError> {
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    let raw: RawReport = serde_json::from_slice(json)
        .map_err(|e| TlsRptError::Json(e.to_string().chars().take(200).collect::<String>()))?;
    let range = raw.date_range.ok_or(TlsRptError::Missing("date-range"))?;
    let report_id = raw
        .report_id
        .filter(|s| !s.trim().is_empty())
        .ok_or(TlsRptError::Missing("report-id"))?;
    if raw.policies.len() > MAX_POLICIES {
        return Err(TlsRptError::Limit {
            what: "policies",
            limit: MAX_POLICIES,
        });
    }
    let mut policies = Vec::with_capacity(raw.policies.len());
    for p in raw.policies {
        let counts = [
            p.summary.total_successful_session_count,
            p.summary.total_failure_session_count,
        ];
        if counts
            .iter()
            .chain(p.failure_details.iter().map(|d| &d.failed_session_count))
            .any(|&n| n > MAX_SESSIONS)
        {
            return Err(TlsRptError::Limit {
                what: "sessions in one count",
                limit: MAX_SESSIONS as usize,
            });
        }
        if p.failure_details.len() > MAX_FAILURE_DETAILS {
            return Err(TlsRptError::Limit {
                what: "failure details in a policy",
                limit: MAX_FAILURE_DETAILS,
            });
        }
        policies.push(Policy {
            policy_type: p.policy.policy_type.to_ascii_lowercase(),
            policy_string: p.policy.policy_string.into_vec(),
            policy_domain: p
                .policy
                .policy_domain
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase(),
            mx_host: p.policy.mx_host.into_vec(),
            successful: p.summary.total_successful_session_count,
            failed: p.summary.total_failure_session_count,
            failure_details: p.failure_details,
        });
    }
    Ok(TlsReport {
        organization_name: raw.organization_name.unwrap_or_default(),
        begin: rfc3339("start-datetime", &range.start_datetime)?,
        end: rfc3339("end-datetime", &range.end_datetime)?,
        contact_info: raw.contact_info,
        report_id,
        policies,
    })
}

/// RFC 3339 §5.6 `date-time` to Unix seconds (fractions dropped; `z` and a space for
/// `T` accepted).
pub fn rfc3339(field: &'static str, v: &str) -> Result<i64, TlsRptError> {
    let bad = || TlsRptError::Date {
        field,
        value: v.chars().take(80).collect(),
    };
    let s = v.trim().as_bytes();
    if s.len() < 19 || s.len() > 40 {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, TlsRptError> {
        let t = &s[r];
        if !t.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(t.iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0')))
    };
    if s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if s[13] != b':' || s[16] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return Err(bad());
    }
    let mut i = 19;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset: i64 = match s.get(i) {
        Some(b'Z' | b'z') if i + 1 == s.len() => 0,
        None => 0,
        Some(&sign @ (b'+' | b'-')) if s.len() == i + 6 && s[i + 3] == b':' => {
            let oh = i64::from(num(i + 1..i + 3)?);
            let om = i64::from(num(i + 4..i + 6)?);
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return Err(bad()),
    };
    let days = crate::rfc5322::datetime::days_from_civil(i64::from(year), month, day);
    Ok(days * 86_400 + i64::from(h * 3600 + m * 60 + sec) - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8460_example_with_a_string_mx_host() {
        let j = br#"{"organization-name":"X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59.5+00:00"},"report-id":"r1","policies":[{"policy":{"policy-type":"STS","policy-domain":"Y.example","mx-host":"*.y.example"},"summary":{"total-failure-session-count":3},"failure-details":[{"result-type":"certificate-expired","failed-session-count":3,"x":1}]}]}"#;
        let r = parse_tls_report(j).unwrap();
        assert_eq!(r.begin, 1_459_468_800);
        assert_eq!(r.end, 1_459_555_199);
        assert_eq!(r.domain(), "y.example");
        assert_eq!(r.policies[0].policy_type, "sts");
        assert_eq!(r.policies[0].mx_host, ["*.y.example"]);
        assert_eq!(r.policies[0].successful, 0);
        assert_eq!(r.policies[0].failure_details[0].failed_session_count, 3);
    }

    fn report(policies: &str) -> String {
        format!(
            r#"{{"organization-name":"X","date-range":{{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-02T00:00:00Z"}},"report-id":"r1","policies":[{policies}]}}"#
        )
    }

    fn policy(successful: u64, failed: u64, details: &str) -> String {
        format!(
            r#"{{"policy":{{"policy-type":"sts","policy-domain":"y.example"}},"summary":{{"total-successful-session-count":{successful},"total-failure-session-count":{failed}}},"failure-details":[{details}]}}"#
        )
    }

    fn limit(r: Result<TlsReport, TlsRptError>) -> Option<&'static str> {
        match r {
            Err(TlsRptError::Limit { what, .. }) => Some(what),
            _ => None,
        }
    }

    /// Policies, failure details and session counts: exactly the bound is read, one
    /// more refuses the report.
    #[test]
    fn rfc8460_4_bounds_are_refused_by_name() {
        let p = policy(1, 0, "");
        let policies = |n: usize| vec![p.as_str(); n].join(",");
        let r = parse_tls_report(report(&policies(MAX_POLICIES)).as_bytes()).unwrap();
        assert_eq!(r.policies.len(), MAX_POLICIES);
        let r = parse_tls_report(report(&policies(MAX_POLICIES + 1)).as_bytes());
        assert_eq!(limit(r), Some("policies"));

        let details = |n: usize| vec!["{}"; n].join(",");
        let r = parse_tls_report(report(&policy(0, 0, &details(MAX_FAILURE_DETAILS))).as_bytes())
            .unwrap();
        assert_eq!(r.policies[0].failure_details.len(), MAX_FAILURE_DETAILS);
        let r =
            parse_tls_report(report(&policy(0, 0, &details(MAX_FAILURE_DETAILS + 1))).as_bytes());
        assert_eq!(limit(r), Some("failure details in a policy"));

        let most = MAX_SESSIONS;
        let detail = |n: u64| format!(r#"{{"result-type":"x","failed-session-count":{n}}}"#);
        let r = parse_tls_report(report(&policy(most, most, &detail(most))).as_bytes()).unwrap();
        assert_eq!(
            (r.policies[0].successful, r.policies[0].failed),
            (most, most)
        );
        for over in [
            policy(most + 1, 0, ""),
            policy(0, most + 1, ""),
            policy(0, 0, &detail(most + 1)),
        ] {
            let r = parse_tls_report(report(&over).as_bytes());
            assert_eq!(limit(r), Some("sessions in one count"), "{over}");
        }
    }

    /// JSON nesting is serde_json's bound: 128 levels where a value is read (here four
    /// enclosing levels and 124 arrays are refused, 123 reach the value); an unknown
    /// member is skipped without recursion at any depth.
    #[test]
    fn json_nesting_is_bounded() {
        let read = |n: usize| {
            let deep = format!(
                r#""policy-string":{}{},"policy-type""#,
                "[".repeat(n),
                "]".repeat(n)
            );
            let json = report(&policy(1, 0, "")).replacen(r#""policy-type""#, &deep, 1);
            match parse_tls_report(json.as_bytes()) {
                Err(TlsRptError::Json(why)) => why,
                other => panic!("{other:?}"),
            }
        };
        assert!(!read(123).contains("recursion limit"), "{}", read(123));
        assert!(read(124).contains("recursion limit exceeded"));
        let skipped = report(&policy(1, 0, "")).replacen(
            '{',
            &format!(r#"{{"x":{}{},"#, "[".repeat(100_000), "]".repeat(100_000)),
            1,
        );
        assert!(parse_tls_report(skipped.as_bytes()).is_ok());
    }

    #[test]
    fn broken_reports_name_what_is_wrong() {
        assert!(matches!(
            parse_tls_report(b"{\"report-id\":\"a\"}"),
            Err(TlsRptError::Missing("date-range"))
        ));
        assert!(matches!(
            parse_tls_report(b"[1,2"),
            Err(TlsRptError::Json(_))
        ));
        assert!(matches!(
            rfc3339("x", "2016-13-01T00:00:00Z"),
            Err(TlsRptError::Date { .. })
        ));
        assert_eq!(
            rfc3339("x", "2016-04-01T09:00:00+09:00").unwrap(),
            1_459_468_800
        );
    }
}
