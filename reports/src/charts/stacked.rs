//! THE chart: stacked area of throughput by role over time for one
//! interface, link speed as a dashed line, role legend on the right.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Ticked;
use super::{Draw, clean, perr, role_color, time_axis};
use crate::Role;
use crate::escape::chart_label;
use crate::model::{Finding, InterfaceData};
use crate::units::{format_bps, rate_unit};

/// Width of the legend strip right of the plot.
pub(crate) const LEGEND_W: u32 = 170;
/// At most this many bins are drawn; finer buckets are averaged.
const MAX_BINS: i128 = 720;

/// Series of one interface, binned for drawing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    pub t0_ns: i64,
    pub span_ns: i64,
    /// Width of one bin (ns): the bucket, or a multiple of it when averaged.
    pub bin_ns: i64,
    pub bucket_ns: i64,
    /// Mean b/s per role per bin, bin k covering `[k*bin_ns, (k+1)*bin_ns)` after t0.
    pub bins: Vec<[f64; 6]>,
    /// Largest stacked total of any bin.
    pub max_total: f64,
}

/// The bucket width: the given one, else the smallest gap between buckets, else 1 s.
pub(crate) fn bucket_of(series: &[(i64, [f64; 6])], bucket_ns: i64) -> i64 {
    if bucket_ns > 0 {
        return bucket_ns;
    }
    let mut ts: Vec<i64> = series.iter().map(|(t, _)| *t).collect();
    ts.sort_unstable();
    ts.windows(2)
        .filter_map(|w| w[1].checked_sub(w[0]))
        .filter(|d| *d > 0)
        .min()
        .unwrap_or(1_000_000_000)
}

/// Bins a series (any order, any timestamps) into at most ~MAX_BINS bins.
pub(crate) fn prepare(series: &[(i64, [f64; 6])], bucket_ns: i64) -> Option<Prepared> {
    let bucket = bucket_of(series, bucket_ns) as i128;
    let t0 = series.iter().map(|(t, _)| *t).min()? as i128;
    let t_last = series.iter().map(|(t, _)| *t).max()? as i128;
    let span = (t_last - t0 + bucket).max(1);
    let per_bin = (span + bucket * MAX_BINS - 1) / (bucket * MAX_BINS);
    let bin = bucket * per_bin.max(1);
    let n = ((span + bin - 1) / bin).clamp(1, MAX_BINS + 1) as usize;
    let mut bins = vec![[0f64; 6]; n];
    let weight = bucket as f64 / bin as f64;
    for (t, v) in series {
        let k = ((*t as i128 - t0) / bin) as usize;
        if let Some(b) = bins.get_mut(k) {
            for (acc, x) in b.iter_mut().zip(v) {
                *acc += clean(*x) * weight;
            }
        }
    }
    let max_total = bins
        .iter()
        .map(|b| b.iter().sum::<f64>())
        .fold(0.0, f64::max);
    Some(Prepared {
        t0_ns: t0 as i64,
        span_ns: i64::try_from(span).unwrap_or(i64::MAX),
        bin_ns: i64::try_from(bin).unwrap_or(i64::MAX),
        bucket_ns: i64::try_from(bucket).unwrap_or(i64::MAX),
        bins,
        max_total,
    })
}

/// The y maximum for a panel: the traffic peak with headroom, including the
/// link speed when it is within 4× of the peak (else it is reported as off scale).
pub(crate) fn y_max_for(max_total: f64, link_bps: Option<u64>) -> f64 {
    let link = link_bps.unwrap_or(0) as f64;
    let peak = clean(max_total);
    let m = if link > 0.0 && (peak == 0.0 || link <= 4.0 * peak) {
        peak.max(link)
    } else {
        peak
    };
    if m > 0.0 { m * 1.1 } else { 1000.0 }
}

/// A finding's time window, shaded on the interface chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mark {
    pub start_ns: i64,
    pub end_ns: i64,
    pub label: String,
}

/// Marks for the findings about this interface that have a time window (at most 8).
pub(crate) fn marks_for(findings: &[Finding], f: &InterfaceData) -> Vec<Mark> {
    let mut v: Vec<&Finding> = findings
        .iter()
        .filter(|x| x.is_at(&f.node, &f.interface))
        .filter(|x| x.window_start_ns.is_some() && x.window_end_ns.is_some())
        .collect();
    v.sort_by_key(|x| x.severity);
    // Findings whose windows mostly overlap (by at least half of the shorter)
    // share one band (their union) and one label, so labels never collide.
    let mut marks: Vec<Mark> = Vec::new();
    for x in v {
        let (start_ns, end_ns) = (x.window_start_ns.unwrap_or(0), x.window_end_ns.unwrap_or(0));
        let label = chart_label(&x.id, 12);
        let mostly_same = |m: &Mark| {
            let overlap = m.end_ns.min(end_ns) - m.start_ns.max(start_ns);
            let shorter = (m.end_ns - m.start_ns).min(end_ns - start_ns).max(0);
            (m.start_ns == start_ns && m.end_ns == end_ns)
                || (overlap > 0 && 2 * overlap >= shorter)
        };
        if let Some(m) = marks.iter_mut().find(|m| mostly_same(m)) {
            m.start_ns = m.start_ns.min(start_ns);
            m.end_ns = m.end_ns.max(end_ns);
            if !m.label.split(", ").any(|l| l == label) {
                m.label.push_str(", ");
                m.label.push_str(&label);
            }
        } else if marks.len() < 8 {
            marks.push(Mark {
                start_ns,
                end_ns,
                label,
            });
        }
    }
    marks
}

/// One interface's stacked chart.
pub(crate) struct Stacked<'a> {
    marks: Vec<Mark>,
    iface: &'a InterfaceData,
    bucket_ns: i64,
    width: u32,
    y_max: Option<f64>,
    title: String,
}

impl<'a> Stacked<'a> {
    pub(crate) fn new(
        iface: &'a InterfaceData,
        bucket_ns: i64,
        width: u32,
        y_max: Option<f64>,
        title: &str,
        marks: Vec<Mark>,
    ) -> Self {
        Stacked {
            marks,
            iface,
            bucket_ns,
            width,
            y_max,
            title: title.to_string(),
        }
    }
}

impl Draw for Stacked<'_> {
    fn size(&self) -> (u32, u32) {
        (self.width, 380)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(perr)?;
        draw_panel(
            root,
            Some(self.iface),
            self.bucket_ns,
            self.y_max,
            &self.title,
            &self.marks,
        )
    }
}

/// Draws one panel (plot + legend strip) for an interface (None: "no data").
pub(crate) fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    iface: Option<&InterfaceData>,
    bucket_ns: i64,
    y_max_override: Option<f64>,
    title: &str,
    marks: &[Mark],
) -> anyhow::Result<()> {
    let (w, _) = area.dim_in_pixel();
    let (plot_area, legend) = area.split_horizontally(w.saturating_sub(LEGEND_W).max(1));
    let prepared = iface.and_then(|f| prepare(&f.series, bucket_ns));
    let link = iface.and_then(|f| f.link_bps).filter(|l| *l > 0);
    let caption = chart_label(title, 80);
    let Some(p) = prepared else {
        let inner = plot_area
            .titled(&caption, ("sans-serif", 23))
            .map_err(perr)?;
        super::no_data(&inner, "no traffic in this capture")?;
        return draw_legend(&legend, link, None, None);
    };
    let y_max = y_max_override
        .filter(|m| m.is_finite() && *m > 0.0)
        .unwrap_or_else(|| y_max_for(p.max_total, link));
    let unit = rate_unit(y_max);
    let plot_w = plot_area.dim_in_pixel().0.saturating_sub(90);
    let axis = time_axis(p.t0_ns, p.span_ns, plot_w);
    let span_s = axis.span_s;
    let date = axis.date();
    let x_fmt = |x: &f64| axis.label(*x);
    let y_fmt = |y: &f64| super::axis::tick_number(*y / unit.divisor, y_max / unit.divisor);

    let mut chart = ChartBuilder::on(&plot_area)
        .caption(&caption, ("sans-serif", 23))
        .margin(8)
        .margin_right(16)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(Ticked::new(0f64..span_s, axis.ticks.clone()), 0f64..y_max)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .y_labels(6)
        .x_desc(format!("time (UTC, {date})"))
        .y_desc(format!("throughput ({})", unit.suffix))
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 17))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245))
        .max_light_lines(1)
        .draw()
        .map_err(perr)?;

    // Finding windows: a light red band behind the data, labelled with the rule id.
    for m in marks {
        let x0 = ((m.start_ns as i128 - p.t0_ns as i128) as f64 / 1e9).clamp(0.0, span_s);
        let x1 = ((m.end_ns as i128 - p.t0_ns as i128) as f64 / 1e9).clamp(0.0, span_s);
        if x1 < x0 || (x1 == x0 && (x0 == 0.0 || x0 == span_s)) {
            continue;
        }
        let band = RGBColor(214, 39, 40).mix(0.10).filled();
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1.max(x0 + span_s / 500.0), y_max)],
                band,
            )))
            .map_err(perr)?;
        // Label right of the band, or left of it near the right edge.
        let (x_label, h) = if x1 < 0.75 * span_s {
            (x1, HPos::Left)
        } else {
            (x0, HPos::Right)
        };
        let style = TextStyle::from(("sans-serif", 15).into_font())
            .color(&RGBColor(150, 20, 20))
            .pos(Pos::new(h, VPos::Top));
        chart
            .draw_series(std::iter::once(Text::new(
                m.label.clone(),
                (x_label, y_max),
                style,
            )))
            .map_err(perr)?;
    }

    let bin_s = p.bin_ns as f64 / 1e9;
    let mut lower = vec![0f64; p.bins.len()];
    for role in Role::ALL {
        let i = role.index();
        if p.bins.iter().all(|b| b[i] <= 0.0) {
            continue;
        }
        let upper: Vec<f64> = lower
            .iter()
            .zip(&p.bins)
            .map(|(lo, b)| (lo + b[i]).min(y_max))
            .collect();
        let mut pts = Vec::with_capacity(p.bins.len() * 4);
        for (k, hi) in upper.iter().enumerate() {
            let x0 = (k as f64 * bin_s).min(span_s);
            let x1 = ((k + 1) as f64 * bin_s).min(span_s);
            pts.push((x0, *hi));
            pts.push((x1, *hi));
        }
        for (k, lo) in lower.iter().enumerate().rev() {
            let x0 = (k as f64 * bin_s).min(span_s);
            let x1 = ((k + 1) as f64 * bin_s).min(span_s);
            pts.push((x1, *lo));
            pts.push((x0, *lo));
        }
        chart
            .draw_series(std::iter::once(Polygon::new(
                pts,
                role_color(role).mix(0.85).filled(),
            )))
            .map_err(perr)?;
        lower = upper;
    }

    let link_on_scale = link.map(|l| (l as f64) <= y_max);
    if let (Some(l), Some(true)) = (link, link_on_scale) {
        let l = l as f64;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, l), (span_s, l)],
                9,
                6,
                ShapeStyle::from(&BLACK).stroke_width(2),
            ))
            .map_err(perr)?;
        let style = TextStyle::from(("sans-serif", 17).into_font())
            .pos(Pos::new(HPos::Right, VPos::Bottom));
        chart
            .draw_series(std::iter::once(Text::new(
                format!("link {}", format_bps(l)),
                (span_s, l),
                style,
            )))
            .map_err(perr)?;
    }
    let note = if p.bin_ns != p.bucket_ns {
        format!("mean per {}", crate::units::format_duration(p.bin_ns))
    } else {
        format!("bucket {}", crate::units::format_duration(p.bucket_ns))
    };
    draw_legend(&legend, link, link_on_scale, Some((note, p.max_total)))
}

/// The legend strip: one swatch per role (all six, chart order top = last
/// stacked), the link line, the bucket and peak.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    link: Option<u64>,
    link_on_scale: Option<bool>,
    info: Option<(String, f64)>,
) -> anyhow::Result<()> {
    let font = ("sans-serif", 17).into_font();
    let mut y = 40;
    for role in Role::ALL.iter().rev() {
        area.draw(&Rectangle::new(
            [(6, y), (22, y + 14)],
            role_color(*role).mix(0.85).filled(),
        ))
        .map_err(perr)?;
        area.draw(&Text::new(role.name(), (28, y), font.clone()))
            .map_err(perr)?;
        y += 22;
    }
    y += 6;
    match (link, link_on_scale) {
        (Some(l), Some(false)) => {
            area.draw(&Text::new(
                format!("link {}", format_bps(l as f64)),
                (6, y),
                font.clone(),
            ))
            .map_err(perr)?;
            area.draw(&Text::new("(off scale)", (6, y + 18), font.clone()))
                .map_err(perr)?;
            y += 18;
        }
        (Some(l), _) => {
            area.draw(&PathElement::new(
                vec![(6, y + 7), (14, y + 7)],
                BLACK.stroke_width(2),
            ))
            .map_err(perr)?;
            area.draw(&PathElement::new(
                vec![(17, y + 7), (22, y + 7)],
                BLACK.stroke_width(2),
            ))
            .map_err(perr)?;
            area.draw(&Text::new(
                format!("link {}", format_bps(l as f64)),
                (28, y),
                font.clone(),
            ))
            .map_err(perr)?;
        }
        (None, _) => {
            area.draw(&Text::new("link speed unknown", (6, y), font.clone()))
                .map_err(perr)?;
        }
    }
    y += 26;
    if let Some((note, peak)) = info {
        let grey = font.clone().color(&RGBColor(90, 90, 90));
        area.draw(&Text::new(note, (6, y), grey.clone()))
            .map_err(perr)?;
        area.draw(&Text::new(
            format!("peak {}", format_bps(peak)),
            (6, y + 18),
            grey,
        ))
        .map_err(perr)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_bins_and_averages() {
        let s: Vec<(i64, [f64; 6])> = (0..10)
            .map(|i| (i * 1_000_000_000, [8.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
            .collect();
        let p = prepare(&s, 1_000_000_000).unwrap();
        assert_eq!(p.bins.len(), 10);
        assert_eq!(p.max_total, 8.0);
        // 1 ms buckets over 10 s: averaged into ≤ 721 bins, mean preserved.
        let s: Vec<(i64, [f64; 6])> = (0..10_000)
            .map(|i| (i * 1_000_000, [8.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
            .collect();
        let p = prepare(&s, 1_000_000).unwrap();
        assert!(p.bins.len() <= 721);
        assert!((p.max_total - 8.0).abs() < 1e-9, "{}", p.max_total);
        assert!(prepare(&[], 1).is_none());
        // Hostile timestamps and values.
        let s = vec![
            (i64::MIN, [f64::NAN, -1.0, f64::INFINITY, 1.0, 0.0, 0.0]),
            (i64::MAX, [1.0; 6]),
        ];
        let p = prepare(&s, 0).unwrap();
        assert!(p.bins.len() <= 721);
        assert!(p.max_total.is_finite());
    }

    #[test]
    fn y_max_includes_link_when_close() {
        assert_eq!(y_max_for(900e6, Some(1_000_000_000)), 1.1e9);
        assert_eq!(y_max_for(1e6, Some(10_000_000_000)), 1.1e6);
        assert_eq!(y_max_for(0.0, Some(0)), 1000.0);
        assert_eq!(y_max_for(0.0, Some(1_000_000_000)), 1.1e9);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn prepare_is_bounded_and_finite(
            series in proptest::collection::vec((any::<i64>(), proptest::array::uniform6(any::<f64>())), 0..200),
            bucket in any::<i64>(),
        ) {
            if let Some(p) = prepare(&series, bucket) {
                prop_assert!(!p.bins.is_empty() && p.bins.len() <= MAX_BINS as usize + 1);
                prop_assert!(p.max_total.is_finite() || p.max_total == f64::INFINITY);
                prop_assert!(p.span_ns > 0 && p.bin_ns > 0);
            } else {
                prop_assert!(series.is_empty());
            }
        }
    }
}
