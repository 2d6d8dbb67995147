//! The HTML report: one self-contained file (inline CSS, inline SVG charts,
//! no scripts, no external resources — a Content-Security-Policy meta tag
//! forbids any), findings first by severity, then node → interface sections.
//! Every string from data goes through [`crate::escape::escape`].

pub mod diff;
mod page;
mod sections;

use std::fmt::Write as _;

use crate::charts::{Chart, ChartKind, ChartOptions, Formats, render_report_charts};
use crate::escape::escape;
use crate::model::ReportData;

pub use diff::{change_label, render_diff_html, render_diff_html_with_charts};

/// Renders the report with freshly rendered (SVG) charts.
pub fn render_html(data: &ReportData) -> String {
    let charts = render_report_charts(data, &ChartOptions::default(), Formats::SVG);
    render_html_with_charts(data, &charts)
}

/// Renders the report with charts already rendered (from
/// [`render_report_charts`], with `svg` requested; charts without SVG show
/// their error or a note).
pub fn render_html_with_charts(data: &ReportData, charts: &[Chart]) -> String {
    let mut h = String::with_capacity(
        64 * 1024
            + charts
                .iter()
                .map(|c| c.svg.as_ref().map_or(0, String::len))
                .sum::<usize>(),
    );
    page::head(&mut h, &data.title);
    sections::header(&mut h, data);
    if !data.damaged_inputs.is_empty() {
        h.push_str(
            "<section id=\"partial\" class=\"partial\"><h2>Partial analysis</h2>\
             <p>Some inputs were damaged: everything readable was analysed, the rest is missing from every figure below.</p><ul>",
        );
        for d in &data.damaged_inputs {
            let _ = write!(h, "<li>{}</li>", crate::escape::escape(d));
        }
        h.push_str("</ul></section>\n");
    }
    if let Some(v) = crate::verdict::verdict(&data.findings) {
        let _ = writeln!(
            h,
            "<section id=\"verdict\"><p class=\"verdict\"><b>Verdict.</b> {}</p></section>",
            escape(&v)
        );
    }
    sections::findings(&mut h, &data.findings, "Findings", "findings");
    sections::interfaces(&mut h, data, charts);
    let of = |pred: fn(&ChartKind) -> bool| -> Vec<&Chart> {
        charts.iter().filter(|c| pred(&c.kind)).collect()
    };
    let share = of(|k| matches!(k, ChartKind::RoleShare));
    if !share.is_empty() {
        h.push_str("<section id=\"role-share\"><h2>Share of bytes by role</h2>");
        for c in share {
            chart_figure(&mut h, c);
        }
        h.push_str("</section>\n");
    }
    let hb = of(|k| matches!(k, ChartKind::Heartbeat { .. }));
    if !data.heartbeats.is_empty() {
        h.push_str("<section id=\"heartbeats\"><h2>Cluster heartbeats</h2>");
        h.push_str(
            "<p class=\"muted\">Gap between consecutive heartbeats of each direction and network; \
                    dashed lines: late and route-down thresholds.</p>",
        );
        for c in hb {
            chart_figure(&mut h, c);
        }
        h.push_str("</section>\n");
    }
    for c in of(|k| matches!(k, ChartKind::LiveMigration)) {
        h.push_str("<section id=\"live-migration\"><h2>Live migration</h2>");
        chart_figure(&mut h, c);
        h.push_str("</section>\n");
    }
    sections::timeline(&mut h, data, charts);
    sections::inferred(&mut h, data);
    page::foot(&mut h, &data.generator);
    h
}

/// A chart as an inline SVG figure (or its error).
pub(crate) fn chart_figure(h: &mut String, c: &Chart) {
    let _ = write!(h, "<figure class=\"chart\" id=\"chart-{}\">", c.slug);
    match (&c.svg, &c.error) {
        (Some(svg), _) => {
            h.push_str(svg);
        }
        (None, Some(e)) => {
            let _ = write!(
                h,
                "<p class=\"chart-error\">Chart not rendered: {}</p>",
                escape(e)
            );
        }
        (None, None) => h.push_str("<p class=\"chart-error\">Chart not rendered.</p>"),
    }
    h.push_str("</figure>\n");
}

#[cfg(test)]
mod tests;
