//! Reports on a schedule, inside a long-running process (the milter's `[reports]`):
//! shortly after each UTC midnight, yesterday's aggregate reports are generated, and
//! every few minutes what is due is sent (new reports, failure reports, retries). The
//! same work as `monban report generate` and `monban report send`, for hosts without a
//! timer.

use std::time::Duration;

use monban_dns::Resolver;
use monban_store::StoreUrl;
use tokio::sync::watch;

use crate::generate::DAY;
use crate::send::SendOptions;
use crate::{GenerateOptions, generate};

/// How long after midnight UTC the day's reports are generated (late mail, clocks).
const AFTER_MIDNIGHT: i64 = 15 * 60;
/// How often due deliveries are sent.
const SEND_EVERY: Duration = Duration::from_secs(300);
/// Deliveries taken at a time (a stop waits for one batch at most).
const SEND_BATCH: u32 = 50;
/// Days generated each day: yesterday and those a stopped process missed.
const CATCH_UP_DAYS: i64 = 3;

/// Runs until `stop` turns true. `generate_options` and `send_options` are templates:
/// their times are set at each run.
pub async fn run<R: Resolver>(
    url: StoreUrl,
    resolver: &R,
    generate_options: GenerateOptions,
    send_options: SendOptions,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_day: Option<i64> = None;
    loop {
        let now = unix_now();
        match monban_store::open(&url).await {
            Ok(store) => {
                let yesterday = (now.div_euclid(DAY) - 1) * DAY;
                if now - (yesterday + DAY) >= AFTER_MIDNIGHT && last_day != Some(yesterday) {
                    // Yesterday, and the days before it that a stopped process missed
                    // (a day already sent stays as it was).
                    let mut ok = true;
                    for back in (0..CATCH_UP_DAYS).rev() {
                        let day = yesterday - back * DAY;
                        let opts = GenerateOptions {
                            begin: day,
                            end: day + DAY - 1,
                            now,
                            ..generate_options.clone()
                        };
                        match generate(&*store, &opts, &mut |_, _| {}).await {
                            Ok(s) => tracing::info!(
                                reports = s.reports.len(),
                                skipped = s.skipped.len(),
                                day,
                                "aggregate reports generated"
                            ),
                            Err(e) => {
                                ok = false;
                                tracing::error!(error = %e, day, "generating the aggregate reports failed; trying again later");
                            }
                        }
                        if *stop.borrow() {
                            return;
                        }
                    }
                    if ok {
                        last_day = Some(yesterday);
                    }
                }
                // Sent in small batches, so that a stop does not wait for a long queue.
                loop {
                    let opts = SendOptions {
                        now: unix_now(),
                        limit: SEND_BATCH,
                        ..send_options.clone()
                    };
                    match crate::send::send(&*store, resolver, &opts, &mut |_, _| {}).await {
                        Ok(s) => {
                            if !s.deliveries.is_empty() {
                                tracing::info!(
                                    sent = s.count("sent"),
                                    retry = s.count("retry"),
                                    deferred = s.count("deferred"),
                                    failed = s.count("failed"),
                                    "reports sent"
                                );
                            }
                            if let Some(why) = &s.relay_trouble {
                                tracing::error!(relay = %why, "the relay refused the reports or did not answer; they wait for the next round");
                                break;
                            }
                            if s.deliveries.len() < SEND_BATCH as usize || *stop.borrow() {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "sending reports failed; trying again later");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the store is unavailable for reports; trying again later");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(SEND_EVERY) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
