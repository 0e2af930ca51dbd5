//! Locale-free date handling: the RFC 2822 `X-Duo-Date` string and HTTP dates in
//! `Retry-After` (docs/BEHAVIOUR.md §1.5, §1.10).

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Civil date (year, month 1–12, day 1–31) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day count since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `Tue, 21 Aug 2012 17:29:18 +0000` for a UNIX time (English names, fixed zone).
pub fn rfc2822(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `YYYY-MM-DDThh:mm:ssZ` (RFC 3339, UTC) for seconds since the epoch.
pub fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2012-08-21T17:29:18.042Z` (RFC 3339, UTC, milliseconds) for a time since the UNIX epoch.
pub fn rfc3339_millis(since_epoch: std::time::Duration) -> String {
    let secs = rfc3339(i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX));
    let whole = secs.strip_suffix('Z').unwrap_or(&secs);
    format!("{whole}.{:03}Z", since_epoch.subsec_millis())
}

/// Parse an HTTP date `Dow, DD Mon YYYY HH:MM:SS GMT` into a UNIX time. Numbers are plain
/// digits of fixed width (the day may have one digit), so every result is in years 0–9999 and
/// no arithmetic on it can overflow; the day name is not checked.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let rest = s.trim().split_once(", ")?.1;
    let f: Vec<&str> = rest.split(' ').collect();
    if f.len() != 5 || f[4] != "GMT" {
        return None;
    }
    let num = |t: &str, widths: std::ops::RangeInclusive<usize>| -> Option<i64> {
        if !widths.contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(t.bytes().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let d = num(f[0], 1..=2)?;
    let m = MONTHS.iter().position(|x| *x == f[1])? as u32 + 1;
    let y = num(f[2], 4..=4)?;
    let t: Vec<i64> = f[3]
        .split(':')
        .map(|x| num(x, 2..=2))
        .collect::<Option<_>>()?;
    if t.len() != 3 || !(1..=31).contains(&d) || t[0] > 23 || t[1] > 59 || t[2] > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d as u32) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2])
}

/// An HTTP date (`Dow, DD Mon YYYY HH:MM:SS GMT`) for a UNIX time in years 0–9999.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn http_date(unix_secs: i64) -> Option<String> {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_547_200 + 3_723), "2025-12-01T01:02:03Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn formats_the_reference_date() {
        assert_eq!(rfc2822(1_345_570_158), "Tue, 21 Aug 2012 17:29:18 +0000");
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_795_333_072), "Sun, 22 Nov 2026 07:37:52 +0000");
        assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn formats_rfc3339() {
        use std::time::Duration;
        assert_eq!(
            rfc3339_millis(Duration::from_millis(1_345_570_158_042)),
            "2012-08-21T17:29:18.042Z"
        );
        assert_eq!(rfc3339_millis(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(Duration::from_secs(951_782_400 + 86_399)),
            "2000-02-29T23:59:59.000Z"
        );
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Tue, 21 Aug 2012 17:29:18 GMT"),
            Some(1_345_570_158)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Tue, 21 Aug 2012 17:29:18 +0000"), None);
        assert_eq!(parse_http_date("soon"), None);
        assert_eq!(parse_http_date("Tue, 21 Foo 2012 17:29:18 GMT"), None);
        // Fixed-width digits only: signs, long years (which would overflow the day count) and
        // short fields are refused.
        for bad in [
            "Tue, +21 Aug 2012 17:29:18 GMT",
            "Tue, 21 Aug +2012 17:29:18 GMT",
            "Tue, 21 Aug -2012 17:29:18 GMT",
            "Tue, 21 Aug 9223372036854775807 17:29:18 GMT",
            "Tue, 21 Aug 12 17:29:18 GMT",
            "Tue, 21 Aug 2012 7:29:18 GMT",
            "Tue, 21 Aug 2012 17:29:+8 GMT",
            "Tue, 021 Aug 2012 17:29:18 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
        assert_eq!(parse_http_date("Thu, 1 Jan 1970 00:00:01 GMT"), Some(1));
    }

    #[test]
    fn http_dates_round_trip() {
        for t in [0, 1_345_570_158, -62_167_219_200, 253_402_300_799] {
            let s = http_date(t).expect("in range");
            assert_eq!(parse_http_date(&s), Some(t), "{s}");
        }
        assert_eq!(http_date(253_402_300_800), None);
        assert_eq!(http_date(-62_167_219_201), None);
    }

    #[test]
    fn round_trips_many_days() {
        for day in (-800..30_000).step_by(37) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }
}
