//! Calendar arithmetic shared by the text-log readers: civil date/time to
//! nanoseconds since the Unix epoch, and small fixed-width digit parsers.
//!
//! `days_from_civil` is Howard Hinnant's algorithm (public domain,
//! <https://howardhinnant.github.io/date_algorithms.html>): exact for the
//! proleptic Gregorian calendar, no tables, no time-zone database. We write our
//! own instead of pulling chrono/jiff because every input here carries either
//! UTC or an explicit fixed offset.

/// Days since 1970-01-01 of the civil date `y-m-d` (month 1..=12, day 1..=31).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(m);
    let d = i64::from(d);
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Number of days in `month` of `year`.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A validated civil timestamp with millisecond-or-finer fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
}

impl Civil {
    /// Checks ranges (a leap second 60 is accepted and folds into the next minute).
    pub(crate) fn valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.nanos < 1_000_000_000
            // i64 nanoseconds since 1970 span 1677-09-21 .. 2262-04-11.
            && (1678..=2261).contains(&self.year)
    }

    /// Nanoseconds since the epoch, reading the fields as UTC.
    pub(crate) fn to_unix_ns(self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        secs * 1_000_000_000 + i64::from(self.nanos)
    }
}

/// Parses exactly `s.len()` ASCII digits.
pub(crate) fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses a fraction of a second (`"5"` = 500 ms, `"678"` = 678 ms, up to 9 digits).
pub(crate) fn fraction_ns(s: &[u8]) -> Option<u32> {
    let v = digits(s)?;
    let mut scale = 1u32;
    for _ in s.len()..9 {
        scale *= 10;
    }
    Some(v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        // `date -u -d 2026-03-29 +%s` = 1774742400
        assert_eq!(days_from_civil(2026, 3, 29) * 86_400, 1_774_742_400);
    }

    #[test]
    fn month_lengths() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2026, 13), 0);
    }

    #[test]
    fn fractions() {
        assert_eq!(fraction_ns(b"5"), Some(500_000_000));
        assert_eq!(fraction_ns(b"678"), Some(678_000_000));
        assert_eq!(fraction_ns(b"1234567"), Some(123_456_700));
        assert_eq!(fraction_ns(b""), None);
        assert_eq!(fraction_ns(b"1x"), None);
    }

    proptest::proptest! {
        #[test]
        fn days_roundtrip_monotonic(y in 1600i64..9999, m in 1u32..=12, d in 1u32..=28) {
            let a = days_from_civil(y, m, d);
            proptest::prop_assert_eq!(days_from_civil(y, m, d + 1), a + 1);
        }

        #[test]
        fn valid_never_overflows(year in -100_000i64..100_000, month in 0u32..14, day in 0u32..33, hour in 0u32..25,
                                 minute in 0u32..61, second in 0u32..62, nanos in 0u32..1_000_000_001) {
            let c = Civil { year, month, day, hour, minute, second, nanos };
            if c.valid() {
                let _ = c.to_unix_ns();
            }
        }
    }
}
