//! Heartbeat inter-arrival gaps of one node pair over time (one colour per
//! direction and network), with the "late" and "route down" thresholds.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Ticked;
use super::{ChartOptions, Draw, perr, time_axis};
use crate::escape::chart_label;
use crate::model::HeartbeatSeries;

/// At most this many points per series are drawn (max gap per column kept).
const MAX_POINTS: usize = 1500;

pub(crate) struct Heartbeat<'a> {
    series: Vec<&'a HeartbeatSeries>,
    title: String,
    opts: ChartOptions,
}

impl<'a> Heartbeat<'a> {
    pub(crate) fn new(series: &[&'a HeartbeatSeries], title: &str, opts: &ChartOptions) -> Self {
        Heartbeat {
            series: series.to_vec(),
            title: title.to_string(),
            opts: *opts,
        }
    }
}

/// Gaps (arrival ns, gap s) of a series, sorted by arrival.
pub(crate) fn gaps(s: &HeartbeatSeries) -> Vec<(i64, f64)> {
    let mut a = s.arrivals_ns.clone();
    a.sort_unstable();
    a.windows(2)
        .map(|w| (w[1], (w[1] as i128 - w[0] as i128) as f64 / 1e9))
        .collect()
}

/// Keeps the largest gap per x column so long captures stay small.
fn decimate(g: Vec<(i64, f64)>, t0: i64, span: i64) -> Vec<(i64, f64)> {
    if g.len() <= MAX_POINTS {
        return g;
    }
    let col = (span as i128 / MAX_POINTS as i128).max(1);
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(MAX_POINTS + 1);
    let mut cur: Option<(i128, (i64, f64))> = None;
    for p in g {
        let c = (p.0 as i128 - t0 as i128) / col;
        match cur {
            Some((cc, best)) if cc == c => {
                if p.1 > best.1 {
                    cur = Some((c, p));
                }
            }
            Some((_, best)) => {
                out.push(best);
                cur = Some((c, p));
            }
            None => cur = Some((c, p)),
        }
    }
    if let Some((_, b)) = cur {
        out.push(b);
    }
    out
}

impl Draw for Heartbeat<'_> {
    fn size(&self) -> (u32, u32) {
        (self.opts.width, 320)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(perr)?;
        let caption = chart_label(&self.title, 90);
        let all: Vec<Vec<(i64, f64)>> = self.series.iter().map(|s| gaps(s)).collect();
        let t0 = self
            .series
            .iter()
            .flat_map(|s| s.arrivals_ns.iter().copied())
            .min();
        let t1 = self
            .series
            .iter()
            .flat_map(|s| s.arrivals_ns.iter().copied())
            .max();
        let (w, _) = root.dim_in_pixel();
        let (plot, legend) =
            root.split_horizontally(w.saturating_sub(super::stacked::LEGEND_W + 40).max(1));
        let (Some(t0), Some(t1)) = (t0, t1) else {
            let inner = plot.titled(&caption, ("sans-serif", 23)).map_err(perr)?;
            return super::no_data(&inner, "no heartbeats");
        };
        let span = i64::try_from((t1 as i128 - t0 as i128).max(1)).unwrap_or(i64::MAX);
        let all: Vec<Vec<(i64, f64)>> = all.into_iter().map(|g| decimate(g, t0, span)).collect();
        let warn = if self.opts.hb_warn_s.is_finite() {
            self.opts.hb_warn_s.max(0.0)
        } else {
            5.0
        };
        let fail = if self.opts.hb_fail_s.is_finite() {
            self.opts.hb_fail_s.max(0.0)
        } else {
            10.0
        };
        let max_gap = all
            .iter()
            .flatten()
            .map(|p| p.1)
            .filter(|g| g.is_finite())
            .fold(0.0, f64::max);
        let y_max = max_gap.max(fail).max(warn).max(1.0) * 1.15;
        let axis = time_axis(t0, span, plot.dim_in_pixel().0.saturating_sub(80));
        let x_fmt = |x: &f64| axis.label(*x);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&caption, ("sans-serif", 23))
            .margin(8)
            .margin_right(16)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d(
                Ticked::new(0f64..axis.span_s, axis.ticks.clone()),
                0f64..y_max,
            )
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_labels(6)
            .x_desc(format!("arrival time (UTC, {})", axis.date()))
            .y_desc("gap since previous (s)")
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 17))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .max_light_lines(1)
            .draw()
            .map_err(perr)?;
        for (v, color, name) in [
            (warn, RGBColor(255, 127, 14), "late"),
            (fail, RGBColor(214, 39, 40), "route down"),
        ] {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, v), (axis.span_s, v)],
                    8,
                    5,
                    ShapeStyle::from(&color).stroke_width(2),
                ))
                .map_err(perr)?;
            let style = TextStyle::from(("sans-serif", 18).into_font())
                .color(&color)
                .pos(Pos::new(HPos::Right, VPos::Bottom));
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{name} {v} s"),
                    (axis.span_s, v),
                    style,
                )))
                .map_err(perr)?;
        }
        let font = ("sans-serif", 18).into_font();
        for (i, (s, g)) in self.series.iter().zip(&all).enumerate() {
            let color = super::palette(i);
            let pts: Vec<(f64, f64)> = g
                .iter()
                .map(|(t, gap)| {
                    (
                        (*t as i128 - t0 as i128) as f64 / 1e9,
                        super::clean(*gap).min(y_max),
                    )
                })
                .collect();
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied(),
                    color.mix(0.5).stroke_width(1),
                ))
                .map_err(perr)?;
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 2, color.filled())))
                .map_err(perr)?;
            let y = 40 + 40 * i as i32;
            legend
                .draw(&Circle::new((12, y + 7), 4, color.filled()))
                .map_err(perr)?;
            legend
                .draw(&Text::new(
                    chart_label(&format!("{} → {}", s.from, s.to), 24),
                    (22, y),
                    font.clone(),
                ))
                .map_err(perr)?;
            legend
                .draw(&Text::new(
                    chart_label(&s.network, 26),
                    (22, y + 16),
                    font.clone().color(&RGBColor(90, 90, 90)),
                ))
                .map_err(perr)?;
        }
        Ok(())
    }
}
