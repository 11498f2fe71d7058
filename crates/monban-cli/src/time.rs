//! `--at`: a moment given as Unix seconds or as an RFC 3339 date.

use monban::rfc5322::datetime::days_from_civil;

/// Parses `--at`: Unix seconds (`1795400000`), a date (`2026-11-22`, midnight UTC), or
/// an RFC 3339 date-time (`2026-11-22T10:00:00Z`, `2026-11-22 10:00:00+09:00`; a space
/// may stand for the `T`, fractions of a second are ignored).
/// The latest time `--at` takes: 9999-12-31T23:59:59Z.
pub const MAX_AT: u64 = 253_402_300_799;

pub fn parse_at(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "{s:?} is not a time: give Unix seconds (1795400000), a date (2026-11-22) or an RFC 3339 date-time (2026-11-22T10:00:00Z)"
        )
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // At most the end of year 9999, as the date forms: times past it only overflow
        // what is computed from them (an expiry, a retry time).
        return s
            .parse()
            .ok()
            .filter(|&t: &u64| t <= MAX_AT)
            .ok_or_else(|| format!("{} (at most {MAX_AT}, the end of 9999)", bad()));
    }
    if !s.is_ascii() {
        return Err(bad());
    }
    let num = |t: &str, len: usize| -> Option<u32> {
        (t.len() == len && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    // The string is ASCII: byte offsets are character boundaries.
    let (date, rest) = s.split_at(s.len().min(10));
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (
        parts.next().and_then(|p| num(p, 4)),
        parts.next().and_then(|p| num(p, 2)),
        parts.next().and_then(|p| num(p, 2)),
        parts.next(),
    ) else {
        return Err(bad());
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month[(m - 1) as usize] {
        return Err(bad());
    }
    let mut seconds = days_from_civil(i64::from(y), m, d) * 86_400;
    if !rest.is_empty() {
        let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(bad)?;
        if rest.len() < 8 {
            return Err(bad());
        }
        let (clock, mut zone) = rest.split_at(8);
        let mut c = clock.split(':');
        let (Some(hh), Some(mm), Some(ss), None) = (
            c.next().and_then(|p| num(p, 2)),
            c.next().and_then(|p| num(p, 2)),
            c.next().and_then(|p| num(p, 2)),
            c.next(),
        ) else {
            return Err(bad());
        };
        if hh > 23 || mm > 59 || ss > 60 {
            return Err(bad());
        }
        if let Some(frac) = zone.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            zone = &frac[digits..];
        }
        let offset = match zone {
            "Z" | "z" => 0,
            _ => {
                let sign = match zone.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                let (Some(oh), Some(om)) = (
                    zone.get(1..3).and_then(|p| num(p, 2)),
                    zone.get(4..6).and_then(|p| num(p, 2)),
                ) else {
                    return Err(bad());
                };
                if zone.len() != 6 || zone.as_bytes()[3] != b':' || oh > 23 || om > 59 {
                    return Err(bad());
                }
                sign * i64::from(oh * 3600 + om * 60)
            }
        };
        seconds += i64::from(hh * 3600 + mm * 60 + ss.min(59)) - offset;
    }
    u64::try_from(seconds).map_err(|_| format!("{s:?} is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_dates_and_rfc3339() {
        assert_eq!(parse_at("1795400000"), Ok(1_795_400_000));
        assert_eq!(parse_at("2026-11-22"), Ok(1_795_305_600));
        assert_eq!(parse_at("2026-11-22T10:00:00Z"), Ok(1_795_341_600));
        assert_eq!(parse_at("2026-11-22 19:00:00+09:00"), Ok(1_795_341_600));
        assert_eq!(parse_at("2026-11-22T10:00:00.123Z"), Ok(1_795_341_600));
        assert_eq!(parse_at("2026-11-22T05:00:00-05:00"), Ok(1_795_341_600));
        assert_eq!(parse_at("9999-12-31T23:59:59Z"), Ok(MAX_AT));
        assert_eq!(parse_at("253402300799"), Ok(MAX_AT));
        assert!(parse_at("253402300800").is_err());
        assert!(parse_at("18446744073709551615").is_err());
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2026-11-22T25:00:00Z",
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:00+0900",
            "1969-12-31",
            "２０２６-11-22",
        ] {
            assert!(parse_at(bad).is_err(), "{bad:?}");
        }
    }
}
