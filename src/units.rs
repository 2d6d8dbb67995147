//! Units as every report of hvsleuth prints them (a leaf: used by the
//! merge stage, findings, evidence and the commands alike).

/// Bytes in decimal units.
pub fn human_bytes(b: u64) -> String {
    hvsleuth_reports::units::format_bytes(b)
}

/// Bits per second in decimal units.
pub fn human_bps(b: u64) -> String {
    hvsleuth_reports::units::format_bps(b as f64)
}

/// A Unix-ns time as UTC date and time with microseconds.
pub fn format_utc(ns: i64) -> String {
    hvsleuth_reports::units::utc_datetime_micros(ns)
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {
        assert_eq!(super::human_bytes(999), "999 B");
        assert_eq!(super::human_bytes(1_500_000), "1.50 MB");
        assert_eq!(super::human_bps(10_000_000_000), "10.0 Gb/s");
    }
}
