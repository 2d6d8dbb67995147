//! Number and time formatting shared by charts and reports: bit rates with
//! auto units, byte counts, UTC timestamps (no chrono: civil-from-days).

/// A unit for bit rates: divisor and suffix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateUnit {
    pub divisor: f64,
    pub suffix: &'static str,
}

/// The unit that shows `max_bps` as a number between 1 and 1000.
pub fn rate_unit(max_bps: f64) -> RateUnit {
    let m = if max_bps.is_finite() {
        max_bps.abs()
    } else {
        0.0
    };
    let (divisor, suffix) = if m >= 1e12 {
        (1e12, "Tb/s")
    } else if m >= 1e9 {
        (1e9, "Gb/s")
    } else if m >= 1e6 {
        (1e6, "Mb/s")
    } else if m >= 1e3 {
        (1e3, "Kb/s")
    } else {
        (1.0, "b/s")
    };
    RateUnit { divisor, suffix }
}

/// `1234567.0` → `"1.23 Mb/s"`.
pub fn format_bps(bps: f64) -> String {
    if !bps.is_finite() {
        return "n/a".to_string();
    }
    let u = rate_unit(bps);
    format!("{} {}", sig3(bps / u.divisor), u.suffix)
}

/// `1536` → `"1.54 KB"` (decimal units, as link speeds are).
pub fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    let (d, s) = if b >= 1e12 {
        (1e12, "TB")
    } else if b >= 1e9 {
        (1e9, "GB")
    } else if b >= 1e6 {
        (1e6, "MB")
    } else if b >= 1e3 {
        (1e3, "KB")
    } else {
        return format!("{bytes} B");
    };
    format!("{} {s}", sig3(b / d))
}

/// Three significant digits, no trailing zeros beyond what's needed.
fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A percentage with one decimal, `"n/a"` when the base is zero.
pub fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 && part.is_finite() {
        format!("{:.1}%", 100.0 * part / whole)
    } else {
        "n/a".to_string()
    }
}

/// `1_000_000_000` → `"1 s"`, `1_500_000` → `"1.5 ms"`, `3_600_000_000_000` → `"1 h"`.
pub fn format_duration(ns: i64) -> String {
    const H: i64 = 3_600_000_000_000;
    const M: i64 = 60_000_000_000;
    if ns >= H && ns % H == 0 {
        format!("{} h", ns / H)
    } else if ns >= M && ns % M == 0 {
        format!("{} min", ns / M)
    } else if ns >= 1_000_000_000 {
        format!("{} s", ns as f64 / 1e9)
    } else if ns >= 1_000_000 {
        format!("{} ms", ns as f64 / 1e6)
    } else {
        format!("{} µs", ns as f64 / 1e3)
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (H. Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Splits Unix ns into (days, seconds of day, ns of second).
fn split_ns(ns: i64) -> (i64, i64, i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let sub = ns.rem_euclid(1_000_000_000);
    (secs.div_euclid(86_400), secs.rem_euclid(86_400), sub)
}

/// `"2013-07-23"`: the UTC date of a Unix-ns time (dataset partitions).
pub fn utc_date(ns: i64) -> String {
    let (days, _, _) = split_ns(ns);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `"2013-07-23 14:05:09.123Z"` (UTC, milliseconds).
pub fn utc_datetime(ns: i64) -> String {
    let (days, sod, sub) = split_ns(ns);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        sub / 1_000_000
    )
}

/// `"2013-07-23 14:05:09.123456 UTC"` (microseconds), for command-line output.
pub fn utc_datetime_micros(ns: i64) -> String {
    let (days, sod, sub) = split_ns(ns);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06} UTC",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        sub / 1000
    )
}

/// `"14:05:09"`, or `"14:05:09.123"` with `millis`.
pub fn utc_hms(ns: i64, millis: bool) -> String {
    let (_, sod, sub) = split_ns(ns);
    if millis {
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            sub / 1_000_000
        )
    } else {
        format!("{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
    }
}

/// A UTC window `"start → end"` (end as time of day when on the same date).
pub fn utc_window(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) => {
            let (ds, _, _) = split_ns(s);
            let (de, _, _) = split_ns(e);
            if ds == de {
                format!("{} → {}Z", utc_datetime(s), utc_hms(e, true)).replacen("Z →", " →", 1)
            } else {
                format!("{} → {}", utc_datetime(s), utc_datetime(e))
            }
        }
        (Some(s), None) => format!("from {}", utc_datetime(s)),
        (None, Some(e)) => format!("until {}", utc_datetime(e)),
        (None, None) => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(format_bps(0.0), "0.00 b/s");
        assert_eq!(format_bps(999.0), "999 b/s");
        assert_eq!(format_bps(1_234_567.0), "1.23 Mb/s");
        assert_eq!(format_bps(10e9), "10.0 Gb/s");
        assert_eq!(format_bps(f64::NAN), "n/a");
        assert_eq!(rate_unit(5e8).suffix, "Mb/s");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_duration(1_000_000_000), "1 s");
        assert_eq!(format_duration(1_500_000), "1.5 ms");
        assert_eq!(format_duration(3_600_000_000_000), "1 h");
        assert_eq!(format_duration(90_000_000_000), "90 s");
        assert_eq!(format_bytes(500_000_000_000), "500 GB");
        assert_eq!(percent(1.0, 0.0), "n/a");
        assert_eq!(percent(1.0, 3.0), "33.3%");
    }

    #[test]
    fn utc() {
        // date -u -d @1374588309 → 2013-07-23 14:05:09
        let ns = 1_374_588_309_123_000_000;
        assert_eq!(utc_datetime(ns), "2013-07-23 14:05:09.123Z");
        assert_eq!(utc_hms(ns, false), "14:05:09");
        assert_eq!(utc_datetime(0), "1970-01-01 00:00:00.000Z");
        assert_eq!(utc_datetime(-1), "1969-12-31 23:59:59.999Z");
        assert_eq!(
            utc_datetime(951_782_400_000_000_000),
            "2000-02-29 00:00:00.000Z"
        );
        assert_eq!(
            utc_window(Some(ns), Some(ns + 30_000_000_000)),
            "2013-07-23 14:05:09.123 → 14:05:39.123Z"
        );
        // Extremes don't panic.
        let _ = utc_datetime(i64::MIN);
        let _ = utc_datetime(i64::MAX);
    }
}
