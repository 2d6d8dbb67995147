//! The report's sections: header, findings, per node → interface, timeline,
//! inferred facts.

use std::fmt::Write as _;

use super::chart_figure;
use super::page::{role_legend, swatch};
use crate::Role;
use crate::charts::{Chart, ChartKind};
use crate::escape::escape;
use crate::model::{Finding, InterfaceData, ReportData, Severity};
use crate::units::{format_bps, format_bytes, percent, utc_datetime, utc_window};

pub(crate) fn severity_name(s: Severity) -> &'static str {
    s.name()
}

/// Title, inputs, generator, capture period, severity counts, role legend.
pub(crate) fn header(h: &mut String, data: &ReportData) {
    let title = if data.title.is_empty() {
        "hvsleuth report"
    } else {
        &data.title
    };
    let _ = write!(
        h,
        "<header>\n<h1>{}</h1>\n<dl class=\"meta\">",
        escape(title)
    );
    let _ = write!(h, "<dt>Generator</dt><dd>{}</dd>", escape(&data.generator));
    let t0 = data
        .interfaces
        .iter()
        .flat_map(|f| f.series.first().map(|s| s.0))
        .min();
    let t1 = data
        .interfaces
        .iter()
        .flat_map(|f| {
            f.series
                .last()
                .map(|s| s.0.saturating_add(data.bucket_ns.max(0)))
        })
        .max();
    let _ = write!(h, "<dt>Period</dt><dd>{}</dd>", escape(&utc_window(t0, t1)));
    if data.bucket_ns > 0 {
        let _ = write!(
            h,
            "<dt>Bucket</dt><dd>{}</dd>",
            crate::units::format_duration(data.bucket_ns)
        );
    }
    let nodes = node_order(&data.interfaces);
    let _ = write!(
        h,
        "<dt>Scope</dt><dd>{} nodes, {} interfaces</dd>",
        nodes.len(),
        data.interfaces.len()
    );
    let _ = write!(h, "<dt>Inputs</dt><dd>");
    if data.inputs.len() > 6 {
        let _ = write!(h, "<details><summary>{} files</summary>", data.inputs.len());
    }
    for (i, inp) in data.inputs.iter().enumerate() {
        if i > 0 {
            h.push_str("<br/>");
        }
        let _ = write!(h, "<code>{}</code>", escape(inp));
    }
    if data.inputs.len() > 6 {
        h.push_str("</details>");
    }
    h.push_str("</dd></dl>\n<div class=\"counts\">");
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = data.findings.iter().filter(|f| f.severity == s).count();
        if n > 0 {
            let _ = write!(
                h,
                "<span class=\"badge sev-{0}\">{n} {0}</span>",
                severity_name(s)
            );
        }
    }
    if data.findings.is_empty() {
        h.push_str("<span class=\"muted\">No findings.</span>");
    }
    h.push_str("</div>\n");
    role_legend(h);
    // Table of contents.
    h.push_str("<nav class=\"toc\"><a href=\"#findings\">Findings</a>");
    for (i, n) in nodes.iter().enumerate() {
        let _ = write!(h, "<a href=\"#node-{i}\">{}</a>", escape(n));
    }
    if !data.heartbeats.is_empty() {
        h.push_str("<a href=\"#heartbeats\">Heartbeats</a>");
    }
    if !data.timeline.is_empty() {
        h.push_str("<a href=\"#timeline\">Timeline</a>");
    }
    if !data.inferred.is_empty() {
        h.push_str("<a href=\"#inferred\">Inferred facts</a>");
    }
    h.push_str("</nav>\n</header>\n");
}

/// Node names in first-seen order.
pub(crate) fn node_order(ifaces: &[InterfaceData]) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for f in ifaces {
        if !v.contains(&f.node.as_str()) {
            v.push(&f.node);
        }
    }
    v
}

/// Findings sorted by severity (stable within a severity).
pub(crate) fn findings(h: &mut String, list: &[Finding], heading: &str, id: &str) {
    let _ = writeln!(h, "<section id=\"{id}\"><h2>{}</h2>", escape(heading));
    if list.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
    }
    let mut sorted: Vec<&Finding> = list.iter().collect();
    sorted.sort_by_key(|f| f.severity);
    for f in sorted {
        finding(h, f, None);
    }
    h.push_str("</section>\n");
}

/// One finding card; `status` (new/resolved/unchanged) replaces the severity colour in diffs.
pub(crate) fn finding(h: &mut String, f: &Finding, status: Option<&str>) {
    let sev = severity_name(f.severity);
    let class = status.map_or(format!("sev-{sev}"), |s| format!("status-{s}"));
    let _ = write!(
        h,
        "<article class=\"finding {class}\" id=\"finding-{}\">",
        anchor(f)
    );
    let _ = write!(h, "<h3><span class=\"badge sev-{sev}\">{sev}</span> ");
    if let Some(s) = status {
        let _ = write!(h, "<span class=\"badge status-{s}\">{s}</span> ");
    }
    let _ = write!(
        h,
        "<span class=\"fid\">{}</span>{}</h3>",
        escape(&f.id),
        escape(&f.title)
    );
    let place = f.place();
    let _ = write!(
        h,
        "<div class=\"where\">{} · {}</div>",
        escape(&place),
        escape(&utc_window(f.window_start_ns, f.window_end_ns))
    );
    let _ = write!(h, "<p>{}</p>", escape(&f.summary));
    if !f.evidence.is_empty() {
        h.push_str("<div class=\"lbl\">Evidence</div><div class=\"wrap\"><table><tbody>");
        for (k, v) in &f.evidence {
            let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
        }
        h.push_str("</tbody></table></div>");
    }
    if let Some(t) = &f.tshark_filter {
        let _ = write!(
            h,
            "<div class=\"lbl\">tshark / Wireshark filter</div><code>{}</code>",
            escape(t)
        );
    }
    if !f.remediation.is_empty() {
        h.push_str("<div class=\"lbl\">Remediation (PowerShell)</div>");
        for r in &f.remediation {
            let _ = write!(h, "<pre class=\"fix\">{}</pre>", escape(r));
        }
    }
    if let Some(n) = &f.note {
        let _ = write!(h, "<p class=\"note\">{}</p>", escape(n));
    }
    h.push_str("</article>\n");
}

/// Anchor id of a finding: slug of id, node and interface (collisions only
/// make two links point at the first card).
pub(crate) fn anchor(f: &Finding) -> String {
    crate::charts::slugify(&format!(
        "{}-{}-{}",
        f.id,
        f.node.as_deref().unwrap_or(""),
        f.interface.as_deref().unwrap_or("")
    ))
}

/// Per node → per interface: chart and role table.
pub(crate) fn interfaces(h: &mut String, data: &ReportData, charts: &[Chart]) {
    let charted = crate::charts::charted_interfaces(data);
    let rest = charted.iter().filter(|c| !**c).count();
    for (ni, node) in node_order(&data.interfaces).into_iter().enumerate() {
        let _ = writeln!(
            h,
            "<section class=\"node\" id=\"node-{ni}\"><h2>Node {}</h2>",
            escape(node)
        );
        for (i, f) in data
            .interfaces
            .iter()
            .enumerate()
            .filter(|(i, f)| f.node == node && charted[*i])
        {
            let flagged: Vec<&Finding> = data
                .findings
                .iter()
                .filter(|x| x.is_at(node, &f.interface))
                .collect();
            let _ = write!(
                h,
                "<div class=\"iface{}\"><h3>{}</h3>",
                if flagged.iter().any(|x| x.severity <= Severity::High) {
                    " flagged"
                } else {
                    ""
                },
                escape(&f.interface)
            );
            let link = f
                .link_bps
                .filter(|l| *l > 0)
                .map_or("unknown".into(), |l| format_bps(l as f64));
            let _ = write!(
                h,
                "<div class=\"muted\">link {} · {} on the wire · capture <code>{}</code>",
                escape(&link),
                format_bytes(f.wire_bytes),
                escape(&f.capture)
            );
            if !f.addresses.is_empty() {
                let addrs: Vec<String> = f.addresses.iter().map(|a| escape(a)).collect();
                let _ = write!(h, " · {}", addrs.join(", "));
            }
            h.push_str("</div>");
            let mut flagged = flagged;
            flagged.sort_by_key(|x| x.severity);
            for x in &flagged {
                let _ = write!(
                    h,
                    "<div class=\"flag\"><a href=\"#finding-{3}\"><span class=\"badge sev-{0}\">{0}</span> {1} {2}</a></div>",
                    severity_name(x.severity),
                    escape(&x.id),
                    escape(&x.title),
                    anchor(x)
                );
            }
            if let Some(c) = charts.iter().find(|c| c.kind == ChartKind::Interface(i)) {
                chart_figure(h, c);
            }
            role_table(h, f);
            h.push_str("</div>\n");
        }
        h.push_str("</section>\n");
    }
    if rest > 0 {
        let _ = write!(
            h,
            "<section id=\"other-interfaces\"><h2>Other interfaces</h2><p class=\"muted\">Only the {} busiest of \
             {} interfaces are charted; the other {rest} are listed here, busiest first.</p>\
             <div class=\"wrap\"><table><thead><tr><th>node</th><th>interface</th><th>capture</th>\
             <th class=\"num\">bytes</th></tr></thead><tbody>",
            crate::charts::MAX_CHARTED_INTERFACES,
            data.interfaces.len()
        );
        let mut others: Vec<&InterfaceData> = data
            .interfaces
            .iter()
            .zip(&charted)
            .filter(|(_, c)| !**c)
            .map(|(f, _)| f)
            .collect();
        others.sort_by_key(|f| std::cmp::Reverse(f.wire_bytes));
        for f in others {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                escape(&f.node),
                escape(&f.interface),
                escape(&f.capture),
                format_bytes(f.wire_bytes)
            );
        }
        h.push_str("</tbody></table></div></section>\n");
    }
}

/// Role, bytes, share, peak, peak as % of link.
pub(crate) fn role_table(h: &mut String, f: &InterfaceData) {
    let bytes = crate::charts::role_bytes(f);
    let mut peaks = [0u64; 6];
    for r in &f.roles {
        peaks[r.role.index()] = peaks[r.role.index()].max(r.peak_bps);
    }
    let total: u64 = bytes.iter().fold(0u64, |a, b| a.saturating_add(*b));
    let link = f.link_bps.unwrap_or(0) as f64;
    h.push_str(
        "<div class=\"wrap\"><table><thead><tr><th>role</th><th class=\"num\">bytes</th><th class=\"num\">share</th>\
         <th class=\"num\">peak</th><th class=\"num\">peak % of link</th></tr></thead><tbody>",
    );
    for r in Role::ALL {
        let b = bytes[r.index()];
        let p = peaks[r.index()];
        if b == 0 && p == 0 {
            continue;
        }
        let pl = percent(p as f64, link);
        let hot = link > 0.0 && p as f64 >= 0.8 * link;
        let _ = write!(
            h,
            "<tr><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td></tr>",
            swatch(r),
            r.name(),
            format_bytes(b),
            percent(b as f64, total as f64),
            format_bps(p as f64),
            if hot { " inc" } else { "" },
            pl
        );
    }
    let _ = write!(
        h,
        "<tr><th>total</th><th class=\"num\">{}</th><th class=\"num\"></th><th class=\"num\"></th><th class=\"num\"></th></tr></tbody></table></div>",
        format_bytes(total)
    );
}

/// Timeline chart and the full event table.
pub(crate) fn timeline(h: &mut String, data: &ReportData, charts: &[Chart]) {
    if data.timeline.is_empty() {
        return;
    }
    h.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    for c in charts.iter().filter(|c| c.kind == ChartKind::Timeline) {
        chart_figure(h, c);
    }
    let mut ev: Vec<_> = data.timeline.iter().collect();
    ev.sort_by_key(|e| e.ts_ns);
    h.push_str("<div class=\"wrap\"><table><thead><tr><th>time (UTC)</th><th>source</th><th>node</th><th>event</th></tr></thead><tbody>");
    for e in ev {
        let _ = write!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&utc_datetime(e.ts_ns)),
            escape(&e.source),
            escape(e.node.as_deref().unwrap_or("")),
            escape(&e.text)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

/// Inferred facts with reason and confidence.
pub(crate) fn inferred(h: &mut String, data: &ReportData) {
    if data.inferred.is_empty() {
        return;
    }
    h.push_str("<section id=\"inferred\"><h2>Inferred facts</h2><div class=\"wrap\"><table><thead><tr><th>fact</th><th>reason</th><th class=\"num\">confidence</th></tr></thead><tbody>");
    for (fact, why, c) in &data.inferred {
        let c = if c.is_finite() {
            format!("{:.0}%", (c.clamp(0.0, 1.0)) * 100.0)
        } else {
            "n/a".into()
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{c}</td></tr>",
            escape(fact),
            escape(why)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}
