//! Charts (plotters 0.3, no system fonts): every chart is drawn once per
//! requested format (SVG string for inline HTML, PNG bytes for files) from
//! the same drawing code, and the charts of a report render in parallel.
//!
//! Every label that came from data goes through [`crate::escape::chart_label`]
//! before plotters sees it, and every SVG through [`crate::escape::harden_svg`].

mod axis;
mod diff;
mod font;
mod heartbeat;
mod migration;
mod plan;
mod pngtext;
mod share;
mod stacked;
mod timeline;

use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Context as _, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use rayon::prelude::*;

use crate::escape::harden_svg;
use crate::model::{DiffData, InterfaceData, ReportData};

pub use axis::{TimeAxis, time_axis};
pub use plan::{
    ChartKind, ChartSpec, MAX_CHARTED_INTERFACES, charted_interfaces, diff_plan, report_plan,
    slugify,
};
pub use share::role_bytes;

/// Heartbeat thresholds and sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartOptions {
    /// Chart width in pixels.
    pub width: u32,
    /// Gap (s) drawn as the "late" line in heartbeat charts
    /// (SameSubnetDelay × a few missed beats).
    pub hb_warn_s: f64,
    /// Gap (s) drawn as the "route down" line (SameSubnetDelay × SameSubnetThreshold).
    pub hb_fail_s: f64,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            width: 1000,
            hb_warn_s: 5.0,
            hb_fail_s: 10.0,
        }
    }
}

/// Which outputs to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub svg: bool,
    pub png: bool,
}

impl Formats {
    pub const SVG: Formats = Formats {
        svg: true,
        png: false,
    };
    pub const PNG: Formats = Formats {
        svg: false,
        png: true,
    };
    pub const BOTH: Formats = Formats {
        svg: true,
        png: true,
    };
}

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File stem, unique within a report: `[a-z0-9-]+`.
    pub slug: String,
    /// Human title (raw data text: escape before use in HTML).
    pub title: String,
    pub kind: ChartKind,
    /// SVG document (well-formed XML), when requested.
    pub svg: Option<String>,
    /// PNG file bytes, when requested.
    pub png: Option<Vec<u8>>,
    /// Why the chart failed to render, if it did (the report shows this text).
    pub error: Option<String>,
}

/// A chart drawing: the same code draws to every backend.
pub(crate) trait Draw: Sync {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>;
}

/// Converts a plotters error (generic over the backend) into anyhow.
pub(crate) fn perr<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e:?}")
}

/// Renders one drawing to the requested formats. A panic inside plotters
/// becomes an error instead of taking the report down.
pub(crate) fn render<D: Draw>(
    d: &D,
    formats: Formats,
) -> anyhow::Result<(Option<String>, Option<Vec<u8>>)> {
    font::ensure()?;
    let (w, h) = d.size();
    let (w, h) = (w.clamp(16, 8000), h.clamp(16, 8000));
    let out = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<_> {
        let svg = if formats.svg {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
                d.draw(&root)?;
                root.present().map_err(perr)?;
            }
            Some(harden_svg(&s))
        } else {
            None
        };
        let png = if formats.png {
            let mut buf = vec![0u8; w as usize * h as usize * 3];
            {
                let root = pngtext::GlyphFix::new(BitMapBackend::with_buffer(&mut buf, (w, h)))
                    .into_drawing_area();
                d.draw(&root)?;
                root.present().map_err(perr)?;
            }
            Some(encode_png(&buf, w, h)?)
        } else {
            None
        };
        Ok((svg, png))
    }));
    match out {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(anyhow!("chart renderer panicked: {msg}"))
        }
    }
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut wr = enc.write_header().context("png header")?;
        wr.write_image_data(rgb).context("png data")?;
    }
    Ok(out)
}

/// Renders every chart of a report (per interface, role share, heartbeats,
/// live migration, timeline) in parallel, in [`report_plan`] order.
pub fn render_report_charts(
    data: &ReportData,
    opts: &ChartOptions,
    formats: Formats,
) -> Vec<Chart> {
    let plan = report_plan(data);
    plan.par_iter()
        .map(|spec| render_spec(spec, Source::Report(data), opts, formats))
        .collect()
}

/// Renders the before/after charts of a diff in parallel, in [`diff_plan`] order.
pub fn render_diff_charts(diff: &DiffData, opts: &ChartOptions, formats: Formats) -> Vec<Chart> {
    let plan = diff_plan(diff);
    plan.par_iter()
        .map(|spec| render_spec(spec, Source::Diff(diff), opts, formats))
        .collect()
}

#[derive(Clone, Copy)]
enum Source<'a> {
    Report(&'a ReportData),
    Diff(&'a DiffData),
}

/// First bucket start and last bucket end over every interface of a report (ns).
fn window_of(d: &ReportData) -> Option<(i64, i64)> {
    let first = d
        .interfaces
        .iter()
        .filter_map(|f| f.series.first())
        .map(|x| x.0)
        .min()?;
    let last = d
        .interfaces
        .iter()
        .filter_map(|f| f.series.last())
        .map(|x| x.0)
        .max()?;
    Some((first, last.saturating_add(d.bucket_ns.max(1))))
}

/// The interface with zero points added at the window's first and last
/// bucket, so its chart spans the window (one time axis for every chart).
fn padded(f: &InterfaceData, window: Option<(i64, i64)>, bucket_ns: i64) -> InterfaceData {
    let mut g = f.clone();
    let Some((start, end)) = window else { return g };
    let last = end.saturating_sub(bucket_ns.max(1));
    if g.series.first().is_none_or(|x| x.0 > start) {
        g.series.insert(0, (start, [0.0; 6]));
    }
    if g.series.last().is_none_or(|x| x.0 < last) {
        g.series.push((last, [0.0; 6]));
    }
    g
}

fn render_spec(spec: &ChartSpec, src: Source<'_>, opts: &ChartOptions, formats: Formats) -> Chart {
    let res = match (&spec.kind, src) {
        (ChartKind::Interface(i), Source::Report(d)) => match d.interfaces.get(*i) {
            Some(iface) => render(
                &stacked::Stacked::new(
                    // Every interface chart of a report on one time axis.
                    &padded(iface, window_of(d), d.bucket_ns),
                    d.bucket_ns,
                    opts.width,
                    None,
                    &spec.title,
                    stacked::marks_for(&d.findings, iface),
                ),
                formats,
            ),
            None => Err(anyhow!("no interface {i}")),
        },
        (ChartKind::RoleShare, Source::Report(d)) => {
            render(&share::Share::new(&d.interfaces, opts.width), formats)
        }
        (ChartKind::Heartbeat { series }, Source::Report(d)) => {
            let s: Vec<_> = series.iter().filter_map(|&i| d.heartbeats.get(i)).collect();
            render(&heartbeat::Heartbeat::new(&s, &spec.title, opts), formats)
        }
        (ChartKind::LiveMigration, Source::Report(d)) => render(
            &migration::Migration::new(&d.interfaces, d.bucket_ns, opts.width),
            formats,
        ),
        (ChartKind::Timeline, Source::Report(d)) => {
            render(&timeline::Timeline::new(&d.timeline, opts.width), formats)
        }
        (ChartKind::DiffInterface { before, after }, Source::Diff(d)) => {
            // Both panels aligned at their capture's start, on one time scale
            // (the longer capture's length).
            let (wb, wa) = (window_of(&d.before), window_of(&d.after));
            let span = match (wb, wa) {
                (Some(x), Some(y)) => x.1.saturating_sub(x.0).max(y.1.saturating_sub(y.0)),
                (Some(x), None) | (None, Some(x)) => x.1.saturating_sub(x.0),
                (None, None) => 0,
            };
            let pb = before.and_then(|i| d.before.interfaces.get(i)).map(|f| {
                padded(
                    f,
                    wb.map(|w| (w.0, w.0.saturating_add(span))),
                    d.before.bucket_ns,
                )
            });
            let pa = after.and_then(|i| d.after.interfaces.get(i)).map(|f| {
                padded(
                    f,
                    wa.map(|w| (w.0, w.0.saturating_add(span))),
                    d.after.bucket_ns,
                )
            });
            let b = pb.as_ref();
            let a = pa.as_ref();
            let mut chart = diff::DiffStacked::new(
                b,
                d.before.bucket_ns,
                a,
                d.after.bucket_ns,
                &spec.title,
                opts.width,
            );
            chart.marks = (
                b.map(|f| stacked::marks_for(&d.before.findings, f))
                    .unwrap_or_default(),
                a.map(|f| stacked::marks_for(&d.after.findings, f))
                    .unwrap_or_default(),
            );
            render(&chart, formats)
        }
        _ => Err(anyhow!("chart kind does not apply to this source")),
    };
    let (svg, png, error) = match res {
        Ok((s, p)) => (s, p, None),
        Err(e) => (None, None, Some(format!("{e:#}"))),
    };
    Chart {
        slug: spec.slug.clone(),
        title: spec.title.clone(),
        kind: spec.kind.clone(),
        svg,
        png,
        error,
    }
}

/// Draws "no data" in the middle of an area (empty series).
pub(crate) fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    what: &str,
) -> anyhow::Result<()> {
    let (w, h) = area.dim_in_pixel();
    let style = TextStyle::from(("sans-serif", 18).into_font())
        .color(&RGBColor(120, 120, 120))
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    area.draw_text(what, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(perr)?;
    Ok(())
}

/// Finite, non-negative, else 0.
pub(crate) fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// Colour of a role as a plotters colour.
pub(crate) fn role_color(r: crate::Role) -> RGBColor {
    let (a, b, c) = r.color();
    RGBColor(a, b, c)
}

/// A small qualitative palette for series that are not roles (networks, interfaces).
pub(crate) fn palette(i: usize) -> RGBColor {
    const P: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
        RGBColor(188, 189, 34),
    ];
    P[i % P.len()]
}

#[cfg(test)]
mod tests;
