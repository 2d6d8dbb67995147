//! The before/after HTML page: findings new / resolved / unchanged, the
//! per-role deltas table, and one before/after chart per interface.

use std::fmt::Write as _;

use super::chart_figure;
use super::page::{foot, head, role_legend, swatch};
use super::sections::finding;
use crate::charts::{Chart, ChartOptions, Formats, render_diff_charts};
use crate::escape::escape;
use crate::model::{DiffData, RoleDelta};
use crate::units::{format_bps, format_bytes, percent};

/// Renders the diff with freshly rendered (SVG) charts.
pub fn render_diff_html(diff: &DiffData) -> String {
    let charts = render_diff_charts(diff, &ChartOptions::default(), Formats::SVG);
    render_diff_html_with_charts(diff, &charts)
}

/// `"+12.5%"`, `"−100%"`, `"new"`, `"±0"`.
pub fn change_label(before: f64, after: f64) -> (String, &'static str) {
    if before == after {
        ("±0".into(), "")
    } else if before <= 0.0 {
        ("new".into(), "inc")
    } else {
        let p = 100.0 * (after - before) / before;
        let class = if after > before { "inc" } else { "dec" };
        (
            format!("{}{:.1}%", if p > 0.0 { "+" } else { "−" }, p.abs()),
            class,
        )
    }
}

/// How a change reads for the operator: "good" (green), "bad" (red) or ""
/// (neutral). Bulk traffic (CSV redirected IO, storage, live migration) on an
/// interface that carries management sessions is bad, so less of it is good;
/// the same bulk traffic on its own network is neither. A peak that crosses
/// the saturation line (90% of the link) is bad upward and good downward.
/// More management, cluster or other traffic is not bad by itself.
pub fn judge(deltas: &[RoleDelta], d: &RoleDelta) -> &'static str {
    let sat = |p: u64| {
        d.link_bps
            .is_some_and(|l| l > 0 && p as f64 >= 0.9 * l as f64)
    };
    match (sat(d.peak_bps_before), sat(d.peak_bps_after)) {
        (false, true) => return "bad",
        (true, false) => return "good",
        _ => {}
    }
    let bulk = matches!(
        d.role,
        crate::Role::RedirectedIo | crate::Role::Storage | crate::Role::LiveMigration
    );
    let management_here = deltas.iter().any(|x| {
        x.node == d.node
            && x.interface == d.interface
            && x.role == crate::Role::Management
            && (x.bytes_before > 0 || x.bytes_after > 0)
    });
    if bulk && management_here && d.avg_bps_before != d.avg_bps_after {
        return if d.avg_bps_after < d.avg_bps_before {
            "good"
        } else {
            "bad"
        };
    }
    ""
}

/// Rate change label: `"+12.5%"`, `"−100%"`, `"new"`, `"±0"`.
pub fn rate_change(d: &RoleDelta) -> String {
    change_label(d.avg_bps_before, d.avg_bps_after).0
}

fn link_pct(v: u64, link: Option<u64>) -> String {
    percent(v as f64, link.unwrap_or(0) as f64)
}

/// The deltas table (bytes, peak, peak % of link; before → after, coloured).
pub(crate) fn deltas_table(h: &mut String, deltas: &[RoleDelta]) {
    if deltas.is_empty() {
        h.push_str("<p class=\"muted\">No per-role deltas.</p>");
        return;
    }
    h.push_str(
        "<div class=\"wrap\"><table><thead><tr><th>node / interface</th><th>role</th>\
         <th class=\"num\">average rate before → after</th><th class=\"num\">change</th>\
         <th class=\"num\">share of the interface before → after</th>\
         <th class=\"num\">peak before → after</th><th class=\"num\">peak % of link before → after</th>\
         <th class=\"num\">bytes before → after</th></tr></thead><tbody>",
    );
    for d in deltas {
        let class = judge(deltas, d);
        let _ = write!(
            h,
            "<tr><td>{} / {}</td><td>{}{}</td><td class=\"num\">{} → {}</td><td class=\"num {class}\">{}</td>\
             <td class=\"num\">{} → {}</td><td class=\"num\">{} → {}</td><td class=\"num {class}\">{} → {}</td>\
             <td class=\"num muted\">{} → {}</td></tr>",
            escape(&d.node),
            escape(&d.interface),
            swatch(d.role),
            d.role.name(),
            format_bps(d.avg_bps_before),
            format_bps(d.avg_bps_after),
            rate_change(d),
            percent(d.share_before, 1.0),
            percent(d.share_after, 1.0),
            format_bps(d.peak_bps_before as f64),
            format_bps(d.peak_bps_after as f64),
            link_pct(d.peak_bps_before, d.link_bps),
            link_pct(d.peak_bps_after, d.link_bps),
            format_bytes(d.bytes_before),
            format_bytes(d.bytes_after),
        );
    }
    h.push_str("</tbody></table></div>");
}

/// Renders the diff with charts from [`render_diff_charts`].
pub fn render_diff_html_with_charts(diff: &DiffData, charts: &[Chart]) -> String {
    let name = |t: &str| {
        if t.is_empty() {
            "(untitled)".to_string()
        } else {
            t.to_string()
        }
    };
    let title = format!("{} → {}", name(&diff.before.title), name(&diff.after.title));
    let mut h = String::with_capacity(64 * 1024);
    head(&mut h, &format!("hvsleuth diff: {title}"));
    let _ = write!(
        h,
        "<header><h1>Before / after: {}</h1><dl class=\"meta\">",
        escape(&title)
    );
    for (label, d) in [("Before", &diff.before), ("After", &diff.after)] {
        let inputs: Vec<String> = d
            .inputs
            .iter()
            .map(|i| format!("<code>{}</code>", escape(i)))
            .collect();
        let _ = write!(
            h,
            "<dt>{label}</dt><dd>{} — {} findings, {} interfaces<br/>{}</dd>",
            escape(&name(&d.title)),
            d.findings.len(),
            d.interfaces.len(),
            inputs.join(" ")
        );
    }
    let _ = write!(
        h,
        "</dl><div class=\"counts\"><span class=\"badge status-new\">{} new</span>\
         <span class=\"badge status-resolved\">{} resolved</span><span class=\"badge status-changed\">{} changed</span>\
         <span class=\"badge status-unchanged\">{} unchanged</span>\
         <span class=\"badge status-unassessable\">{} not assessable</span></div>",
        diff.findings_new.len(),
        diff.findings_resolved.len(),
        diff.findings_changed.len(),
        diff.findings_unchanged.len(),
        diff.findings_not_assessable.len()
    );
    let _ = write!(
        h,
        "<p class=\"muted\">Captures: before {}, after {}; rates are averages over each capture, \
         so captures of different lengths compare.</p>",
        crate::units::format_duration(diff.duration_ns.0),
        crate::units::format_duration(diff.duration_ns.1)
    );
    role_legend(&mut h);
    h.push_str("</header>\n<section id=\"findings\"><h2>Findings</h2>");
    for (list, status) in [
        (&diff.findings_new, "new"),
        (&diff.findings_resolved, "resolved"),
        (&diff.findings_unchanged, "unchanged"),
    ] {
        let mut sorted: Vec<_> = list.iter().collect();
        sorted.sort_by_key(|f| f.severity);
        for f in sorted {
            finding(&mut h, f, Some(status));
        }
    }
    for (before, after) in &diff.findings_changed {
        let _ = write!(
            h,
            "<p class=\"changed\"><b>changed</b> {}: before “{}” ({}), after “{}” ({})</p>",
            escape(&after.id),
            escape(&before.title),
            before.severity.name(),
            escape(&after.title),
            after.severity.name()
        );
        finding(&mut h, after, Some("changed"));
    }
    for (f, why) in &diff.findings_not_assessable {
        let _ = write!(
            h,
            "<p class=\"muted\"><b>not assessable</b> {} {}: {}</p>",
            escape(&f.id),
            escape(&f.title),
            escape(why)
        );
    }
    if diff.findings_new.is_empty()
        && diff.findings_resolved.is_empty()
        && diff.findings_unchanged.is_empty()
        && diff.findings_changed.is_empty()
        && diff.findings_not_assessable.is_empty()
    {
        h.push_str("<p class=\"muted\">No findings before or after.</p>");
    }
    h.push_str("</section>\n<section id=\"deltas\"><h2>Per-role changes</h2>");
    h.push_str(
        "<p class=\"muted\">Green: better for the operator (less CSV redirected IO, a peak back under 90% of the link); \
         red: worse; uncoloured: a change that is neither by itself (more management traffic is not bad).</p>",
    );
    deltas_table(&mut h, &diff.deltas);
    h.push_str("</section>\n<section id=\"charts\"><h2>Interfaces before and after</h2>");
    h.push_str(
        "<p class=\"muted\">Each chart: before (top) and after (bottom) on the same y scale and the same time scale, each aligned at its own capture's start (the clock labels are each capture's own).</p>",
    );
    for c in charts {
        let _ = write!(h, "<h3>{}</h3>", escape(&c.title));
        chart_figure(&mut h, c);
    }
    h.push_str("</section>\n");
    foot(&mut h, &diff.after.generator);
    h
}
