//! Timeline strip: one lane per event source, each event a tick; labels are
//! cut short and skipped where they would overlap (the HTML table has them all).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Ticked;
use super::{Draw, perr, time_axis};
use crate::escape::chart_label;
use crate::model::TimelineEvent;

pub(crate) struct Timeline<'a> {
    events: &'a [TimelineEvent],
    width: u32,
}

impl<'a> Timeline<'a> {
    pub(crate) fn new(events: &'a [TimelineEvent], width: u32) -> Self {
        Timeline { events, width }
    }
}

/// Lanes: distinct sources in first-seen order, at most 8 (the rest share "…").
fn lanes(events: &[TimelineEvent]) -> Vec<String> {
    let mut l: Vec<String> = Vec::new();
    for e in events {
        if !l.contains(&e.source) {
            if l.len() == 8 {
                l.push("…".into());
                break;
            }
            l.push(e.source.clone());
        }
    }
    l
}

impl Draw for Timeline<'_> {
    fn size(&self) -> (u32, u32) {
        (
            self.width,
            110 + 64 * lanes(self.events).len().max(1) as u32,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(perr)?;
        let lanes = lanes(self.events);
        let (Some(t0), Some(t1)) = (
            self.events.iter().map(|e| e.ts_ns).min(),
            self.events.iter().map(|e| e.ts_ns).max(),
        ) else {
            let inner = root.titled("Timeline", ("sans-serif", 23)).map_err(perr)?;
            return super::no_data(&inner, "no events");
        };
        let span = i64::try_from((t1 as i128 - t0 as i128).max(1)).unwrap_or(i64::MAX);
        // Pad the ends so first/last ticks are not on the frame.
        let pad = (span / 20).max(1);
        let t0p = t0.saturating_sub(pad);
        let spanp = span.saturating_add(pad.saturating_mul(2));
        let n = lanes.len().max(1);
        let (w, _) = root.dim_in_pixel();
        let plot_px = w.saturating_sub(140);
        let axis = time_axis(t0p, spanp, plot_px);
        let x_fmt = |x: &f64| axis.label(*x);
        let lane_names: Vec<String> = lanes.iter().map(|s| chart_label(s, 14)).collect();
        let keys: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        let y_fmt = |y: &f64| {
            let row = (*y - 0.5).round();
            if row < 0.0 {
                return String::new();
            }
            lane_names
                .get(n.saturating_sub(1).saturating_sub(row as usize))
                .cloned()
                .unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(root)
            .caption("Timeline", ("sans-serif", 23))
            .margin(8)
            .margin_right(24)
            .x_label_area_size(46)
            .y_label_area_size(110)
            .build_cartesian_2d(
                Ticked::new(0f64..axis.span_s, axis.ticks.clone()),
                Ticked::new(0f64..n as f64, keys),
            )
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(format!("time (UTC, {})", axis.date()))
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 17))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .max_light_lines(1)
            .draw()
            .map_err(perr)?;
        let px_per_s = plot_px as f64 / axis.span_s.max(1e-9);
        let mut sorted: Vec<&TimelineEvent> = self.events.iter().collect();
        sorted.sort_by_key(|e| e.ts_ns);
        // Right edge (px) of the last label per lane and sub-row.
        let mut last_end = vec![[f64::NEG_INFINITY; 2]; n];
        let font = ("sans-serif", 17).into_font();
        for e in sorted {
            let lane = lanes.iter().position(|l| *l == e.source).unwrap_or(n - 1);
            let row = (n - 1 - lane) as f64;
            let x = (e.ts_ns as i128 - t0p as i128) as f64 / 1e9;
            let color = super::palette(lane);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, row + 0.1), (x, row + 0.45)],
                    color.stroke_width(2),
                )))
                .map_err(perr)?;
            // The node first: which machine the event is about.
            let text = match &e.node {
                Some(n) => chart_label(&format!("{n}: {}", e.text), 40),
                None => chart_label(&e.text, 40),
            };
            let at = x * px_per_s;
            let width = 8.5 * text.chars().count() as f64;
            // Labels run right of the tick, or end at it near the right edge.
            let right_aligned = at + width > plot_px as f64;
            let start = if right_aligned { at - width } else { at };
            for (sub, end) in last_end[lane].iter_mut().enumerate() {
                if start > *end + 6.0 {
                    let y = row + 0.92 - 0.22 * sub as f64;
                    let style = if right_aligned {
                        TextStyle::from(font.clone()).pos(Pos::new(HPos::Right, VPos::Top))
                    } else {
                        TextStyle::from(font.clone())
                    };
                    chart
                        .draw_series(std::iter::once(Text::new(text.clone(), (x, y), style)))
                        .map_err(perr)?;
                    *end = start + width;
                    break;
                }
            }
        }
        Ok(())
    }
}
