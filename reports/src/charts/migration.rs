//! Live-migration throughput over time, one line per interface that carried it.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::Ticked;
use super::stacked::prepare;
use super::{Draw, perr, time_axis};
use crate::Role;
use crate::escape::chart_label;
use crate::model::InterfaceData;
use crate::units::rate_unit;

pub(crate) struct Migration<'a> {
    ifaces: Vec<&'a InterfaceData>,
    bucket_ns: i64,
    width: u32,
}

impl<'a> Migration<'a> {
    pub(crate) fn new(ifaces: &'a [InterfaceData], bucket_ns: i64, width: u32) -> Self {
        let lm = Role::LiveMigration.index();
        let ifaces = ifaces
            .iter()
            .filter(|f| f.series.iter().any(|(_, v)| super::clean(v[lm]) > 0.0))
            .collect();
        Migration {
            ifaces,
            bucket_ns,
            width,
        }
    }
}

impl Draw for Migration<'_> {
    fn size(&self) -> (u32, u32) {
        (self.width, 340)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(perr)?;
        let lm = Role::LiveMigration.index();
        let prepared: Vec<_> = self
            .ifaces
            .iter()
            .filter_map(|f| prepare(&f.series, self.bucket_ns).map(|p| (*f, p)))
            .collect();
        let (w, _) = root.dim_in_pixel();
        let (plot, legend) =
            root.split_horizontally(w.saturating_sub(super::stacked::LEGEND_W + 40).max(1));
        let t0 = prepared.iter().map(|(_, p)| p.t0_ns).min();
        let t1 = prepared
            .iter()
            .map(|(_, p)| p.t0_ns.saturating_add(p.span_ns))
            .max();
        let (Some(t0), Some(t1)) = (t0, t1) else {
            let inner = plot
                .titled("Live-migration throughput", ("sans-serif", 23))
                .map_err(perr)?;
            return super::no_data(&inner, "no live-migration traffic");
        };
        let span = i64::try_from((t1 as i128 - t0 as i128).max(1)).unwrap_or(i64::MAX);
        let max = prepared
            .iter()
            .flat_map(|(_, p)| p.bins.iter().map(|b| b[lm]))
            .fold(0.0, f64::max);
        let y_max = if max > 0.0 { max * 1.1 } else { 1000.0 };
        let unit = rate_unit(y_max);
        let axis = time_axis(t0, span, plot.dim_in_pixel().0.saturating_sub(90));
        let x_fmt = |x: &f64| axis.label(*x);
        let y_fmt = |y: &f64| super::axis::tick_number(*y / unit.divisor, y_max / unit.divisor);
        let mut chart = ChartBuilder::on(&plot)
            .caption("Live-migration throughput", ("sans-serif", 23))
            .margin(8)
            .margin_right(16)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .build_cartesian_2d(
                Ticked::new(0f64..axis.span_s, axis.ticks.clone()),
                0f64..y_max,
            )
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .y_labels(6)
            .x_desc(format!("time (UTC, {})", axis.date()))
            .y_desc(format!("live migration ({})", unit.suffix))
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 17))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .max_light_lines(1)
            .draw()
            .map_err(perr)?;
        let font = ("sans-serif", 18).into_font();
        for (i, (f, p)) in prepared.iter().enumerate() {
            let color = super::palette(i);
            let off = (p.t0_ns as i128 - t0 as i128) as f64 / 1e9;
            let bin_s = p.bin_ns as f64 / 1e9;
            let mut pts = Vec::with_capacity(p.bins.len() * 2);
            for (k, b) in p.bins.iter().enumerate() {
                let v = b[lm].min(y_max);
                pts.push(((off + k as f64 * bin_s).min(axis.span_s), v));
                pts.push(((off + (k + 1) as f64 * bin_s).min(axis.span_s), v));
            }
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(perr)?;
            let y = 40 + 40 * i as i32;
            legend
                .draw(&Rectangle::new([(6, y + 5), (20, y + 9)], color.filled()))
                .map_err(perr)?;
            legend
                .draw(&Text::new(chart_label(&f.node, 24), (26, y), font.clone()))
                .map_err(perr)?;
            legend
                .draw(&Text::new(
                    chart_label(&f.interface, 26),
                    (26, y + 16),
                    font.clone().color(&RGBColor(90, 90, 90)),
                ))
                .map_err(perr)?;
        }
        Ok(())
    }
}
