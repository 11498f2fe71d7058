//! Failure reports (RFC 9991) made where a message is judged (the milter, `monban
//! verify --record`): whether the policy asks for one, the report itself
//! ([`monban::report::failure`]), and a per-destination rate limit so that a flood of
//! forged mail does not become a flood of reports.

use std::collections::HashMap;

use monban::crypto::{HashAlgorithm, hash};
use monban::pipeline::{Envelope, Report};
use monban::report::failure::{FailureInput, spf_record, wanted};
use monban_dns::Resolver;
use monban_store::FailureReport;

/// At most this many `ruf` destinations per report.
const MAX_DESTINATIONS: usize = 5;

/// How failure reports are made.
#[derive(Debug, Clone)]
pub struct FailureOptions {
    /// This receiver's authserv-id.
    pub authserv_id: String,
    /// Redact local parts (RFC 9991 §6); on by default.
    pub redact: bool,
    /// Reports per destination per hour at most.
    pub per_hour: u32,
}

/// Failure reports made per hour at most, all destinations together: a flood of
/// forged mail naming many domains does not become a flood of stored reports.
pub const MAX_PER_HOUR_TOTAL: u32 = 1000;

/// Counts reports per destination per hour (in memory; at most 10,000 destinations
/// are tracked, the oldest windows dropped first).
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: HashMap<String, (i64, u32)>,
    total: (i64, u32),
}

impl RateLimiter {
    /// Whether one more report may go to `destination` (the address, lower case) at
    /// `now`; counts it if so. At most `per_hour` per destination and
    /// [`MAX_PER_HOUR_TOTAL`] in all.
    pub fn allow(&mut self, destination: &str, now: i64, per_hour: u32) -> bool {
        if now - self.total.0 >= 3600 {
            self.total = (now, 0);
        }
        if self.total.1 >= MAX_PER_HOUR_TOTAL {
            return false;
        }
        if self.windows.len() >= 10_000 {
            self.windows.retain(|_, (start, _)| now - *start < 3600);
        }
        if self.windows.len() >= 10_000 {
            return false;
        }
        let w = self
            .windows
            .entry(destination.to_owned())
            .or_insert((now, 0));
        if now - w.0 >= 3600 {
            *w = (now, 0);
        }
        if w.1 >= per_hour {
            return false;
        }
        w.1 += 1;
        self.total.1 += 1;
        true
    }
}

/// The failure report for a judged message, when its policy asks for one (`fo=`, a
/// `ruf` with a `mailto:` URI, not `psd=y`), the message is not itself report mail,
/// and the rate limit leaves room for at least one destination. `uid` is the
/// evaluation's id (the report's id is derived from it).
pub async fn build<R: Resolver>(
    report: &Report,
    envelope: &Envelope,
    resolver: &R,
    uid: &str,
    arrival: i64,
    options: &FailureOptions,
    limiter: &std::sync::Mutex<RateLimiter>,
) -> Option<FailureReport> {
    if report.report_mail || report.malformed.is_some() {
        return None;
    }
    let record = report.dmarc.record.as_ref()?;
    if !wanted(record, report) {
        return None;
    }
    let header = report.header.as_ref()?;
    let destinations: Vec<String> = {
        let mut limiter = limiter.lock().unwrap_or_else(|p| p.into_inner());
        record
            .ruf
            .iter()
            .filter_map(|u| Some((u.uri.clone(), crate::send::mailto_address(&u.uri)?)))
            .take(MAX_DESTINATIONS)
            // Counted by address, so that `MAILTO:A@x` and `mailto:a@x?subject=1` are one.
            .filter(|(_, address)| limiter.allow(address, arrival, options.per_hour))
            .map(|(uri, _)| uri)
            .collect()
    };
    if destinations.is_empty() {
        return None;
    }
    let spf_domain = report
        .spf
        .as_ref()
        .or(report.helo.as_ref())
        .map(|s| s.domain.clone());
    let spf_text = match &spf_domain {
        Some(d) => spf_record(resolver, d).await,
        None => None,
    };
    let id: String = hash(HashAlgorithm::Sha256, uid.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let body = FailureInput {
        report,
        envelope,
        header,
        arrival,
        authserv_id: &options.authserv_id,
        spf_record: spf_text.as_deref(),
        redact: options.redact,
        user_agent: concat!("monban/", env!("CARGO_PKG_VERSION")),
    }
    .render(&format!("=_monban_{id}"));
    Some(FailureReport {
        report_id: id,
        policy_domain: report.dmarc.record_domain.clone().unwrap_or_default(),
        destinations,
        subject: body.subject,
        content_type: body.content_type,
        body: body.body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_per_destination_and_hour() {
        let mut r = RateLimiter::default();
        assert!(r.allow("a", 0, 2));
        assert!(r.allow("a", 10, 2));
        assert!(!r.allow("a", 20, 2));
        assert!(r.allow("b", 20, 2));
        assert!(r.allow("a", 3600, 2));
        // All destinations together.
        let mut r = RateLimiter::default();
        for i in 0..MAX_PER_HOUR_TOTAL {
            assert!(r.allow(&format!("d{i}"), 0, 10));
        }
        assert!(!r.allow("another", 10, 10));
        assert!(r.allow("another", 3600, 10));
    }
}
