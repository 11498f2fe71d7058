//! The RFC 5322 §3.3 `date-time`, with the obsolete forms of §4.3, and ISO 8601 output.
//!
//! ```text
//! date-time   = [ day-of-week "," ] date time [CFWS]
//! date        = day month year
//! time        = time-of-day zone
//! time-of-day = hour ":" minute [ ":" second ]
//! zone        = FWS ( "+" / "-" ) 4DIGIT
//! obs-zone    = "UT" / "GMT" / "EST" / "EDT" / "CST" / "CDT" / "MST" / "MDT" / "PST"
//!             / "PDT" / %d65-73 / %d75-90 / %d97-105 / %d107-122   ; military
//! ```
//!
//! §4.3: a two-digit year is 2000+ below 50 and 1900+ otherwise, a three-digit year is
//! 1900+; the military zones "SHOULD all be considered equivalent to -0000". Comments
//! (`(JST)`) are skipped anywhere. Leniently, the day-of-week may lack its comma, the
//! zone may be missing or `UTC`, and the asctime layout (`Sun Nov 22 10:00:00 2026`)
//! that some software writes is accepted; each such date is marked [`DateTime::obsolete`].
//!
//! No clock and no calendar crate: days are counted with the proleptic Gregorian
//! arithmetic of [`days_from_civil`] and [`civil_from_days`].

use std::fmt;

/// Longest text read as a date (a real one is under 64 characters with its comment).
const MAX_DATE_LEN: usize = 512;

/// A point in time as a header wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// The zone offset as written, in minutes east of UTC (0 for unknown zones).
    pub offset_minutes: i32,
    /// The zone was `-0000`, a military letter or missing: the local time's offset is
    /// unknown (§3.3); the instant is still taken as UTC.
    pub zone_unknown: bool,
    /// Obsolete or lenient syntax was needed (§4.3, or the deviations described in the
    /// module documentation).
    pub obsolete: bool,
    /// The day-of-week given does not match the date.
    pub weekday_mismatch: bool,
}

/// Why a text is not a date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 5322 date-time: {0}")]
pub struct DateError(pub &'static str);

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn month_of(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    if w.len() < 3 || !w.is_char_boundary(3) {
        return None;
    }
    let position = MONTHS.iter().position(|m| w.starts_with(m))?;
    // "Nov" or "November", not "Novxyz".
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ][position];
    (w.len() == 3 || full == w || (position == 8 && w == "sept")).then_some(position as u32 + 1)
}

fn weekday_of(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    let position = WEEKDAYS.iter().position(|d| w.starts_with(d))?;
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ][position];
    (w.len() == 3 || w == full).then_some(position as u32)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    (s.len() >= min && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `hh:mm[:ss]`.
fn time_of_day(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split(':');
    let h = digits(parts.next()?, 1, 2)?;
    let m = digits(parts.next()?, 1, 2)?;
    let sec = match parts.next() {
        Some(p) => digits(p, 1, 2)?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some((h, m, sec))
}

/// A zone: (offset minutes, unknown, obsolete).
fn zone(s: &str) -> Option<(i32, bool, bool)> {
    if let Some(sign) = s.strip_prefix(['+', '-']).map(|_| s.as_bytes()[0]) {
        let body: String = s[1..].chars().filter(|&c| c != ':').collect();
        // Only ASCII digits may follow the sign: checked before the byte positions
        // below are used, so a non-ASCII character can never be cut in two.
        if !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (hh, mm) = match body.len() {
            4 => (digits(&body[..2], 2, 2)?, digits(&body[2..], 2, 2)?),
            2 => (digits(&body, 2, 2)?, 0),
            _ => return None,
        };
        if mm > 59 {
            return None;
        }
        let minutes = (hh * 60 + mm) as i32;
        let lenient = body.len() != 4 || s.contains(':');
        return Some(if sign == b'-' {
            (-minutes, minutes == 0, lenient)
        } else {
            (minutes, false, lenient)
        });
    }
    let hours = match s.to_ascii_uppercase().as_str() {
        "UT" | "GMT" | "UTC" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        one if one.len() == 1 && one.as_bytes()[0].is_ascii_alphabetic() && one != "J" => {
            // Military zones: their signs were defined backwards in RFC 822, so §4.3
            // says to treat them all as -0000.
            return Some((0, true, true));
        }
        _ => return None,
    };
    Some((hours * 60, false, true))
}

fn year_of(s: &str) -> Option<(i64, bool)> {
    let y = digits(s, 2, 4)?;
    Some(match s.len() {
        2 if y < 50 => (i64::from(y) + 2000, true),
        2 => (i64::from(y) + 1900, true),
        3 => (i64::from(y) + 1900, true),
        _ => (i64::from(y), false),
    })
}

/// Parses a date-time.
pub fn parse(text: &str) -> Result<DateTime, DateError> {
    if text.len() > MAX_DATE_LEN {
        return Err(DateError("too long"));
    }
    let clean = super::strip_comments(text);
    let mut words: Vec<&str> = clean
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Err(DateError("empty"));
    }
    if words.len() > 8 {
        return Err(DateError("too many words"));
    }
    let mut obsolete = false;
    let mut weekday = None;
    if let Some(w) = weekday_of(words[0]) {
        weekday = Some(w);
        // The RFC form has a comma right after the day name.
        let after = clean.trim_start().get(words[0].len()..).unwrap_or("");
        if !after.trim_start().starts_with(',') {
            obsolete = true;
        }
        words.remove(0);
    }
    // RFC layout: day month year time [zone]; asctime: month day time year [zone].
    let (day, month, year, time, rest) = if words.len() >= 4
        && let Some(day) = digits(words[0], 1, 2)
        && let Some(month) = month_of(words[1])
    {
        let (year, y_obs) = year_of(words[2]).ok_or(DateError("bad year"))?;
        obsolete |= y_obs || words[1].len() != 3;
        let time = time_of_day(words[3]).ok_or(DateError("bad time of day"))?;
        (day, month, year, time, &words[4..])
    } else if words.len() >= 4
        && let Some(month) = month_of(words[0])
        && let Some(day) = digits(words[1], 1, 2)
    {
        obsolete = true;
        let time = time_of_day(words[2]).ok_or(DateError("bad time of day"))?;
        let (year, _) = year_of(words[3]).ok_or(DateError("bad year"))?;
        (day, month, year, time, &words[4..])
    } else {
        return Err(DateError("expected day month year time zone"));
    };
    if !(1900..=9999).contains(&year) {
        return Err(DateError("year out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(DateError("no such day in that month"));
    }
    let (offset, zone_unknown, z_obs) = match rest.first() {
        None => (0, true, true),
        Some(z) => zone(z).ok_or(DateError("bad zone"))?,
    };
    // One trailing zone name after a numeric zone ("+0000 UTC") is tolerated.
    if rest.len() > 2 || (rest.len() == 2 && zone(rest[1]).is_none()) {
        return Err(DateError("unexpected text after the zone"));
    }
    obsolete |= z_obs || rest.len() == 2;
    let (h, m, s) = time;
    let days = days_from_civil(year, month, day);
    let unix = days * 86_400 + i64::from(h * 3600 + m * 60 + s) - i64::from(offset) * 60;
    // 1970-01-01 was a Thursday (index 3 counting from Monday).
    let weekday_mismatch = weekday.is_some_and(|w| i64::from(w) != (days + 3).rem_euclid(7));
    Ok(DateTime {
        unix,
        offset_minutes: offset,
        zone_unknown,
        obsolete,
        weekday_mismatch,
    })
}

impl DateTime {
    /// ISO 8601 / RFC 3339 with the offset as written (`2026-11-22T10:00:00+09:00`);
    /// an unknown zone is written `-00:00` (RFC 3339 §4.3).
    pub fn to_iso8601(&self) -> String {
        let local = self.unix + i64::from(self.offset_minutes) * 60;
        let mut s = format_naive(local);
        if self.zone_unknown {
            s.push_str("-00:00");
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let abs = self.offset_minutes.unsigned_abs();
            s.push_str(&format!("{sign}{:02}:{:02}", abs / 60, abs % 60));
        }
        s
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

fn format_naive(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A Unix time as ISO 8601 in UTC (`2026-11-22T01:00:00Z`), for `t=` and `x=`.
pub fn format_utc(unix: i64) -> String {
    let mut s = format_naive(unix);
    s.push('Z');
    s
}

/// The RFC 5322 §3.3 form of a Unix time, in UTC: `Sun, 29 Nov 2026 10:00:00 +0000`.
pub fn format_rfc5322(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d} {} {y:04} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m as usize).clamp(1, 12) - 1],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A duration in words: `5 s`, `3 min 2 s`, `2 h 5 min`, `3 d 4 h`, keeping the sign.
pub fn format_duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let text = match s {
        0..60 => format!("{s} s"),
        60..3600 if s.is_multiple_of(60) => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 if (s / 60).is_multiple_of(60) => format!("{} h", s / 3600),
        3600..86_400 => format!("{} h {} min", s / 3600, s / 60 % 60),
        _ if (s / 3600).is_multiple_of(24) => format!("{} d", s / 86_400),
        _ => format!("{} d {} h", s / 86_400, s / 3600 % 24),
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {

    #[test]
    fn rfc5322_3_3_formatted_dates_parse_back() {
        let t = 1_795_946_400; // 2026-11-29 10:00:00 UTC, a Sunday
        assert_eq!(format_rfc5322(t), "Sun, 29 Nov 2026 10:00:00 +0000");
        assert_eq!(format_rfc5322(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        for t in [0, 951_782_400, 1_795_946_400, -86_400] {
            let d = parse(&format_rfc5322(t)).unwrap();
            assert_eq!(
                (d.unix, d.weekday_mismatch, d.obsolete),
                (t, false, false),
                "{t}"
            );
        }
    }
    use super::*;

    /// Issue 9: `+a\u{e9}1` sliced the zone at byte 2, inside the two-byte `\u{e9}`, and
    /// `monban analyze` exited 101.
    #[test]
    fn regression_issue9_non_ascii_zone_does_not_panic() {
        assert!(parse("Mon, 1 Jan 2024 10:00:00 +a\u{e9}1").is_err());
        assert!(parse("Mon, 1 Jan 2024 10:00:00 -\u{e9}\u{e9}").is_err());
        assert!(parse("Mon, 1 Jan 2024 10:00:00 +\u{1f600}").is_err());
    }

    /// Every date with a multi-byte character put at every position, and cut at every
    /// character boundary, parses or fails without a panic.
    #[test]
    fn multibyte_characters_anywhere_never_panic() {
        let base = "Mon, 1 Jan 2024 10:00:00 +0900 (JST)";
        for extra in ["\u{e9}", "\u{3042}", "\u{1f600}", "\u{0}"] {
            for (i, _) in base.char_indices() {
                let mut s = base.to_owned();
                s.insert_str(i, extra);
                let _ = parse(&s);
                let mut t = base.to_owned();
                t.replace_range(i..i + 1, extra);
                let _ = parse(&t);
            }
        }
        for (i, _) in base.char_indices() {
            let _ = parse(&base[..i]);
        }
    }

    #[test]
    fn civil_arithmetic_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1900, 1, 1), -25_567);
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }

    #[test]
    fn rfc5322_3_3_date_time() {
        let d = parse("Sun, 22 Nov 2026 10:00:02 +0900 (JST)").unwrap();
        assert_eq!(d.unix, 1_795_309_202);
        assert_eq!(d.offset_minutes, 540);
        assert!(!d.obsolete && !d.zone_unknown && !d.weekday_mismatch);
        assert_eq!(d.to_iso8601(), "2026-11-22T10:00:02+09:00");
        let d = parse("22 Nov 2026 01:00:02 -0130").unwrap();
        assert_eq!(d.to_iso8601(), "2026-11-22T01:00:02-01:30");
        assert_eq!(d.unix, 1_795_309_202 + 90 * 60);
        // Seconds are optional.
        assert_eq!(parse("Sun, 22 Nov 2026 10:00 +0900").unwrap().unix % 60, 0);
    }

    #[test]
    fn rfc5322_4_3_obsolete_date_time() {
        let d = parse("Sunday 22 Nov 26 01:00:02 GMT").unwrap();
        assert!(d.obsolete);
        assert_eq!(d.to_iso8601(), "2026-11-22T01:00:02+00:00");
        assert_eq!(parse("1 Jan 99 00:00:00 EST").unwrap().unix, 915_166_800);
        assert_eq!(
            parse("Sat, 1 Jan 100 00:00:00 +0000").unwrap().to_iso8601(),
            "2000-01-01T00:00:00+00:00"
        );
        for (z, h) in [
            ("EDT", -4),
            ("CST", -6),
            ("MDT", -6),
            ("PDT", -7),
            ("PST", -8),
        ] {
            assert_eq!(
                parse(&format!("22 Nov 2026 10:00:00 {z}"))
                    .unwrap()
                    .offset_minutes,
                h * 60
            );
        }
        let d = parse("22 Nov 2026 10:00:00 Q").unwrap();
        assert!(d.zone_unknown);
        assert_eq!(d.to_iso8601(), "2026-11-22T10:00:00-00:00");
        assert!(parse("22 Nov 2026 10:00:00 -0000").unwrap().zone_unknown);
        // Folded, with comments in odd places.
        let d = parse(" Sun, 22 Nov 2026\r\n\t10:00:02 (x) +0900").unwrap();
        assert_eq!(d.unix, 1_795_309_202);
    }

    #[test]
    fn lenient_forms() {
        let d = parse("Sun Nov 22 10:00:02 2026").unwrap();
        assert!(d.obsolete && d.zone_unknown);
        assert_eq!(d.unix, 1_795_309_202 + 9 * 3600);
        assert!(
            parse("Mon, 22 Nov 2026 10:00:00 +0000")
                .unwrap()
                .weekday_mismatch
        );
        assert!(parse("22 Nov 2026 10:00:00 +0000 UTC").is_ok());
        assert!(parse("22 November 2026 10:00:00 +0000").unwrap().obsolete);
    }

    #[test]
    fn malformed_dates_are_errors() {
        for bad in [
            "",
            "yesterday",
            "31 Nov 2026 10:00:00 +0000",
            "29 Feb 2026 10:00:00 +0000",
            "22 Nov 2026 24:00:00 +0000",
            "22 Nov 2026 10:61:00 +0000",
            "22 Foo 2026 10:00:00 +0000",
            "22 Nov 2026 10:00:00 +9",
            "22 Nov 2026 10:00:00 +0960",
            "22 Nov 2026 10:00:00 +0000 and then some",
            "22 Nov 12026 10:00:00 +0000",
            "Sun, 22 Nov 2026",
            "\u{e9}\u{e9}\u{e9} 22 Nov 2026 10:00:00 +0000",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&"9".repeat(10_000)).is_err());
        assert!(parse("29 Feb 2024 10:00:00 +0000").is_ok());
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(format_duration(5), "5 s");
        assert_eq!(format_duration(-125), "-2 min 5 s");
        assert_eq!(format_duration(7200), "2 h");
        assert_eq!(format_duration(90_000), "1 d 1 h");
        assert_eq!(format_utc(1_795_365_306), "2026-11-22T16:35:06Z");
    }
}
