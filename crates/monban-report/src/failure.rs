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

/// At most this many `ruf` destinations per report (the first ones).
const MAX_DESTINATIONS: usize = 5;
/// Destinations whose hourly window is kept at most. Windows over an hour old are
/// dropped first; with [`MAX_PER_HOUR_TOTAL`] reports an hour there are never this many
/// live ones, so a new destination is refused only as a backstop.
const MAX_TRACKED: usize = 10_000;

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
/// are tracked, windows over an hour old dropped first).
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: HashMap<String, (i64, u32)>,
    total: (i64, u32),
}

impl RateLimiter {
    /// A limiter that starts from the failure reports the store holds from the hour
    /// before `now` (made by other processes, or by this host before a restart): a
    /// process per message (`monban verify --record` from a script) is limited as one
    /// long-running process is.
    pub async fn from_store(
        store: &dyn monban_store::Store,
        now: i64,
    ) -> Result<Self, monban_store::StoreError> {
        let mut limiter = Self::default();
        for (uri, count, first) in store.failure_reports_since(now - 3600, now).await? {
            let Some(address) = crate::send::mailto_address(&uri) else {
                continue;
            };
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            let mut one = Self::default();
            one.windows.insert(address, (first, count));
            one.total = (first, count);
            limiter.absorb(one);
        }
        Ok(limiter)
    }

    /// Adds the counts of `other` (a limiter read from the store) to this one's.
    pub fn absorb(&mut self, other: RateLimiter) {
        for (address, (start, count)) in other.windows {
            let w = self.windows.entry(address).or_insert((start, 0));
            w.0 = w.0.min(start);
            w.1 = w.1.saturating_add(count);
        }
        if other.total.1 > 0 {
            self.total.0 = if self.total.1 == 0 {
                other.total.0
            } else {
                self.total.0.min(other.total.0)
            };
            self.total.1 = self.total.1.saturating_add(other.total.1);
        }
    }

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
        if self.windows.len() >= MAX_TRACKED {
            self.windows.retain(|_, (start, _)| now - *start < 3600);
        }
        if self.windows.len() >= MAX_TRACKED {
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
    if report.is_authenticated_report_mail() || report.malformed.is_some() {
        return None;
    }
    let record = report.dmarc.record.as_ref()?;
    if !wanted(record, report) {
        return None;
    }
    let header = report.header.as_ref()?;
    let destinations: Vec<String> = {
        let mut limiter = limiter.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = std::collections::HashSet::new();
        record
            .ruf
            .iter()
            .filter_map(|u| crate::send::mailto_address(&u.uri))
            // One report per address, counted once: `mailto:a@X.` and
            // `mailto:a@x?subject=1` are one destination (RFC 9991 §3: one report per
            // message to each destination).
            .filter(|address| seen.insert(address.clone()))
            .take(MAX_DESTINATIONS)
            .filter(|address| limiter.allow(address, arrival, options.per_hour))
            .map(|address| crate::send::mailto_uri(&address))
            .collect()
    };
    if destinations.is_empty() {
        return None;
    }
    let spf_domain = report
        .spf
        .as_ref()
        .or(report.helo.as_ref())
        .map(|s| s.domain().to_owned());
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
        per_hour: options.per_hour,
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

    /// Counts read from the store add to those already made (the milter seeds its
    /// limiter when the store opens, after reports may have been counted).
    #[test]
    fn absorbed_counts_add_up() {
        let mut live = RateLimiter::default();
        assert!(live.allow("a", 1000, 3));
        let mut stored = RateLimiter::default();
        assert!(stored.allow("a", 500, 3));
        assert!(stored.allow("a", 600, 3));
        live.absorb(stored);
        assert!(
            !live.allow("a", 1100, 3),
            "1 + 2 made: the third is the limit"
        );
        // The window starts at the first report: an hour after it, a new one.
        assert!(live.allow("a", 500 + 3600, 3));
    }

    /// The table of destinations stays within 10,000 however many there are: a day of
    /// 1,000 new destinations an hour keeps every new one allowed and the table bounded.
    #[test]
    fn tracked_destinations_are_bounded() {
        let mut r = RateLimiter::default();
        let mut most = 0;
        for hour in 0..24 {
            for i in 0..MAX_PER_HOUR_TOTAL {
                assert!(r.allow(&format!("d{hour}-{i}"), hour * 3600, 10));
                most = most.max(r.windows.len());
            }
        }
        assert_eq!(most, MAX_TRACKED);
        // The backstop: a full table of live windows takes no new destination (only
        // reachable with nothing allowed, as with `per_hour` 0, which counts nothing).
        let mut r = RateLimiter::default();
        for i in 0..MAX_TRACKED {
            assert!(!r.allow(&format!("d{i}"), 0, 0));
        }
        assert_eq!(r.windows.len(), MAX_TRACKED);
        assert!(!r.allow("new", 1, 10));
        assert!(r.allow("new", 3600, 10));
    }

    /// The destinations of the failure report made for a forged message, when the
    /// policy's `ruf` is `ruf`.
    fn destinations_for(ruf: &[String]) -> Vec<String> {
        destinations_for_message(
            ruf,
            b"From: alice@example.com\r\nSubject: hi\r\n\r\nbody\r\n",
        )
        .unwrap()
    }

    /// The destinations of the failure report made for `msg`, forged (SPF fails, no
    /// signature), when the policy's `ruf` is `ruf`; `None` when none is made.
    fn destinations_for_message(ruf: &[String], msg: &[u8]) -> Option<Vec<String>> {
        use monban::pipeline::{VerifyConfig, verify_message};
        use monban_dns::{Record, Txt, ZoneResolver};
        let mut z = ZoneResolver::new();
        let txt = |s: &str| Record::Txt(Txt::new([s.as_bytes().to_vec()]));
        z.insert("example.com", txt("v=spf1 -all"), 300);
        let dmarc = format!("v=DMARC1; p=reject; ruf={}", ruf.join(","));
        z.insert("_dmarc.example.com", txt(&dmarc), 300);
        let env = Envelope {
            ip: Some("203.0.113.9".parse().unwrap()),
            helo: Some("client.example".into()),
            mail_from: Some("alice@example.com".into()),
            rcpt_to: Vec::new(),
        };
        let options = FailureOptions {
            authserv_id: "mx.example.net".into(),
            redact: true,
            per_hour: 10,
        };
        let limiter = std::sync::Mutex::new(RateLimiter::default());
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                let report =
                    verify_message(msg, env.clone(), VerifyConfig::default(), 1_795_946_400, &z)
                        .await;
                build(
                    &report,
                    &env,
                    &z,
                    "uid-1",
                    1_795_946_400,
                    &options,
                    &limiter,
                )
                .await
            })
            .map(|f| f.destinations)
    }

    /// A trial's F8: forged mail that looks like report mail (a Subject `Report
    /// Domain: ...`, `multipart/report`) escaped failure reports; it fails DMARC, so
    /// it is reported like any other.
    #[test]
    fn rfc9991_forged_mail_looking_like_report_mail_is_reported() {
        let ruf = ["mailto:ruf@example.com".to_owned()];
        for msg in [
            &b"From: alice@example.com\r\nSubject: Report Domain: pay this invoice\r\n\r\nx\r\n"[..],
            b"From: alice@example.com\r\nContent-Type: multipart/report; boundary=b\r\n\r\nx\r\n",
        ] {
            assert_eq!(
                destinations_for_message(&ruf, msg),
                Some(vec!["mailto:ruf@example.com".to_owned()]),
                "{}",
                String::from_utf8_lossy(msg)
            );
        }
    }

    /// A report goes to the first 5 `ruf` destinations of the record, never more.
    #[test]
    fn rfc9991_ruf_destinations_are_bounded() {
        let run = |n: usize| {
            let ruf: Vec<String> = (1..=n)
                .map(|i| format!("mailto:f{i}@example.com"))
                .collect();
            destinations_for(&ruf)
        };
        let five: Vec<String> = (1..=5)
            .map(|i| format!("mailto:f{i}@example.com"))
            .collect();
        assert_eq!(run(5), five);
        assert_eq!(run(6), five);
    }

    /// A trial's F4: URIs that name one address (a `?` parameter, percent-encoding,
    /// the domain's case or its trailing dot) are one destination, reported to once
    /// and counted once by the hourly limit. The local part keeps its case (RFC 5321
    /// §2.4: it may be significant).
    #[test]
    fn rfc9991_one_report_per_destination_address() {
        let ruf: Vec<String> = [
            "mailto:ruf@example.com",
            "mailto:ruf@EXAMPLE.COM",
            "mailto:ruf@example.com?x=1",
            "mailto:r%75f@example.com",
            "mailto:ruf@example.com.",
            "mailto:RUF@example.com",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            destinations_for(&ruf),
            ["mailto:ruf@example.com", "mailto:RUF@example.com"]
        );
    }
}
