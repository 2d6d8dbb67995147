//! Time axes: tick positions aligned to round UTC times, spaced so labels
//! never overlap for the chart width (any span from 1 ms to days).

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

/// An f64 coordinate whose ticks are given (round UTC times, lane centres),
/// with plotters' default formatting so a custom label formatter applies.
#[derive(Clone)]
pub(crate) struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    pub(crate) fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Ticked {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;
    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
    fn axis_pixel_range(&self, limit: (i32, i32)) -> Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

/// A time axis: x values are seconds since `t0_ns`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeAxis {
    pub t0_ns: i64,
    /// Length of the axis in seconds (> 0).
    pub span_s: f64,
    /// Tick positions, seconds since `t0_ns`, inside `0..=span_s`.
    pub ticks: Vec<f64>,
    /// Labels need milliseconds (tick step below 1 s).
    pub millis: bool,
}

impl TimeAxis {
    /// Label of an x value (seconds since t0) as UTC time of day.
    pub fn label(&self, x: f64) -> String {
        let ns = self.t0_ns.saturating_add((x * 1e9).round() as i64);
        crate::units::utc_hms(ns, self.millis)
    }

    /// Date of t0 (UTC), for the axis description.
    pub fn date(&self) -> String {
        let s = crate::units::utc_datetime(self.t0_ns);
        s.get(..10).unwrap_or("").to_string()
    }
}

/// A y tick label with decimals fitting the axis maximum (same decimals on
/// every tick of an axis: "0.0, 0.5, 1.0").
pub(crate) fn tick_number(v: f64, max: f64) -> String {
    if max >= 10.0 {
        format!("{v:.0}")
    } else if max >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;
const STEPS: [i64; 27] = [
    MS,
    2 * MS,
    5 * MS,
    10 * MS,
    20 * MS,
    50 * MS,
    100 * MS,
    200 * MS,
    500 * MS,
    S,
    2 * S,
    5 * S,
    10 * S,
    15 * S,
    30 * S,
    60 * S,
    120 * S,
    300 * S,
    600 * S,
    900 * S,
    1800 * S,
    3600 * S,
    7200 * S,
    3 * 3600 * S,
    6 * 3600 * S,
    12 * 3600 * S,
    86_400 * S,
];

/// Builds an axis from `t0_ns` spanning `span_ns` (≤ 0 is taken as 1 s) for a
/// plot `plot_px` pixels wide: at most one label per ~110 px.
pub fn time_axis(t0_ns: i64, span_ns: i64, plot_px: u32) -> TimeAxis {
    let span_ns = if span_ns <= 0 { S } else { span_ns };
    let max_ticks = ((plot_px / 110).max(2)) as i128;
    let mut step = *STEPS.last().unwrap_or(&S) as i128;
    for &s in &STEPS {
        if (span_ns as i128) / (s as i128) < max_ticks {
            step = s as i128;
            break;
        }
    }
    // Spans beyond the table: multiples of a day.
    while (span_ns as i128) / step >= max_ticks {
        step *= 2;
    }
    let t0 = t0_ns as i128;
    let first = t0.div_euclid(step) * step + if t0.rem_euclid(step) == 0 { 0 } else { step };
    let end = t0 + span_ns as i128;
    let mut ticks = Vec::new();
    let mut t = first;
    while t <= end && ticks.len() < 64 {
        ticks.push((t - t0) as f64 / 1e9);
        t += step;
    }
    TimeAxis {
        t0_ns,
        span_s: span_ns as f64 / 1e9,
        ticks,
        millis: step < S as i128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_bounded() {
        let t0 = 1_374_588_309_500_000_000; // 14:05:09.5
        let a = time_axis(t0, 3600 * S, 900);
        assert!(a.ticks.len() <= 8 && a.ticks.len() >= 2, "{:?}", a.ticks);
        assert!(!a.millis);
        for &t in &a.ticks {
            let ns = t0 + (t * 1e9) as i64;
            assert_eq!(ns.rem_euclid(600 * S), 0);
        }
        let a = time_axis(t0, 3 * MS, 900);
        assert!(a.millis);
        assert!(!a.ticks.is_empty());
        let a = time_axis(t0, 0, 900);
        assert_eq!(a.span_s, 1.0);
        let a = time_axis(t0, 400 * 86_400 * S, 900);
        assert!(a.ticks.len() <= 8);
        let a = time_axis(i64::MAX - 10, i64::MAX, 10);
        assert!(a.ticks.len() <= 64);
    }
}
