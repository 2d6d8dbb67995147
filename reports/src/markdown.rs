//! The Markdown report: findings table and details, per-interface role
//! tables, PNG charts referenced as `charts/<slug>.png` (written by
//! [`crate::writer::write_report_dir`]). Every cell goes through
//! [`crate::escape::md_cell`], every code span through [`crate::escape::md_code`].

use std::fmt::Write as _;

use crate::Role;
use crate::charts::{ChartKind, diff_plan, report_plan, role_bytes};
use crate::escape::{md_cell, md_code};
use crate::model::{DiffData, Finding, InterfaceData, ReportData};
use crate::units::{format_bps, format_bytes, percent, utc_datetime, utc_window};

fn place(f: &Finding) -> String {
    f.place()
}

/// Findings summary table plus one detail block per finding (sorted by severity).
fn findings_md(m: &mut String, list: &[Finding], status: Option<&str>) {
    let mut sorted: Vec<&Finding> = list.iter().collect();
    sorted.sort_by_key(|f| f.severity);
    if sorted.is_empty() {
        m.push_str("None.\n\n");
        return;
    }
    m.push_str("| severity | id | title | where | window (UTC) |\n|---|---|---|---|---|\n");
    for f in &sorted {
        let _ = writeln!(
            m,
            "| **{}**{} | {} | {} | {} | {} |",
            f.severity.name(),
            status.map_or(String::new(), |s| format!(" ({s})")),
            md_cell(&f.id),
            md_cell(&f.title),
            md_cell(&place(f)),
            md_cell(&utc_window(f.window_start_ns, f.window_end_ns))
        );
    }
    m.push('\n');
    for f in sorted {
        let _ = writeln!(
            m,
            "### {} {}: {}\n",
            f.severity.name().to_uppercase(),
            md_cell(&f.id),
            md_cell(&f.title)
        );
        let _ = writeln!(
            m,
            "{} · {}\n",
            md_cell(&place(f)),
            md_cell(&utc_window(f.window_start_ns, f.window_end_ns))
        );
        let _ = writeln!(m, "{}\n", md_cell(&f.summary));
        if !f.evidence.is_empty() {
            m.push_str("| evidence | value |\n|---|---|\n");
            for (k, v) in &f.evidence {
                let _ = writeln!(m, "| {} | {} |", md_cell(k), md_cell(v));
            }
            m.push('\n');
        }
        if let Some(t) = &f.tshark_filter {
            let _ = writeln!(m, "Filter: {}\n", md_code(t));
        }
        if !f.remediation.is_empty() {
            // A fence longer than any backtick run in the commands.
            let longest = f
                .remediation
                .iter()
                .map(|r| longest_backticks(r))
                .max()
                .unwrap_or(0);
            let fence = "`".repeat(longest.max(2) + 1);
            let _ = writeln!(m, "{fence}powershell");
            for (i, r) in f.remediation.iter().enumerate() {
                if i > 0 {
                    m.push('\n');
                }
                let _ = writeln!(m, "{}", code_block_text(r));
            }
            let _ = writeln!(m, "{fence}\n");
        }
        if let Some(n) = &f.note {
            let _ = writeln!(m, "> {}\n", md_cell(n));
        }
    }
}

/// A remediation block as it goes into a fenced code block: byte for byte,
/// newlines kept (each command on its own line, so the block pastes into
/// PowerShell as is); carriage returns and other control characters, which
/// only a hostile capture name can bring, become `?`.
pub fn code_block_text(r: &str) -> String {
    r.chars()
        .map(|c| {
            if c.is_control() && c != '\t' && c != '\n' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn longest_backticks(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Role table of one interface.
fn role_table_md(m: &mut String, f: &InterfaceData) {
    let bytes = role_bytes(f);
    let mut peaks = [0u64; 6];
    for r in &f.roles {
        peaks[r.role.index()] = peaks[r.role.index()].max(r.peak_bps);
    }
    let total: u64 = bytes.iter().fold(0u64, |a, b| a.saturating_add(*b));
    let link = f.link_bps.unwrap_or(0) as f64;
    m.push_str("| role | bytes | share | peak | peak % of link |\n|---|--:|--:|--:|--:|\n");
    for r in Role::ALL {
        let (b, p) = (bytes[r.index()], peaks[r.index()]);
        if b == 0 && p == 0 {
            continue;
        }
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} |",
            r.name(),
            format_bytes(b),
            percent(b as f64, total as f64),
            format_bps(p as f64),
            percent(p as f64, link)
        );
    }
    let _ = writeln!(m, "| **total** | {} | | | |\n", format_bytes(total));
}

/// The report as Markdown.
pub fn render_markdown(data: &ReportData) -> String {
    let plan = report_plan(data);
    let mut m = String::with_capacity(16 * 1024);
    let title = if data.title.is_empty() {
        "hvsleuth report"
    } else {
        &data.title
    };
    let _ = writeln!(m, "# {}\n", md_cell(title));
    let _ = writeln!(
        m,
        "Generated by {}. Times are UTC.\n",
        md_cell(&data.generator)
    );
    if !data.damaged_inputs.is_empty() {
        m.push_str(
            "**Partial analysis**: some inputs were damaged; everything readable was analysed.\n\n",
        );
        for d in &data.damaged_inputs {
            let _ = writeln!(m, "- {}", md_code(d));
        }
        m.push('\n');
    }
    if let Some(v) = crate::verdict::verdict(&data.findings) {
        let _ = writeln!(m, "**Verdict.** {}\n", md_cell(&v));
    }
    if !data.inputs.is_empty() {
        m.push_str("Inputs:\n\n");
        for i in &data.inputs {
            let _ = writeln!(m, "- {}", md_code(i));
        }
        m.push('\n');
    }
    m.push_str("## Findings\n\n");
    findings_md(&mut m, &data.findings, None);
    let mut nodes: Vec<&str> = Vec::new();
    for f in &data.interfaces {
        if !nodes.contains(&f.node.as_str()) {
            nodes.push(&f.node);
        }
    }
    for node in nodes {
        let _ = writeln!(m, "## Node {}\n", md_cell(node));
        for (i, f) in data
            .interfaces
            .iter()
            .enumerate()
            .filter(|(_, f)| f.node == node)
        {
            let _ = writeln!(m, "### {}\n", md_cell(&f.interface));
            let link = f
                .link_bps
                .filter(|l| *l > 0)
                .map_or("unknown".into(), |l| format_bps(l as f64));
            let _ = writeln!(
                m,
                "Link {link} · {} on the wire · capture {}\n",
                format_bytes(f.wire_bytes),
                md_code(&f.capture)
            );
            if let Some(spec) = plan.iter().find(|s| s.kind == ChartKind::Interface(i)) {
                let _ = writeln!(m, "![{}](charts/{}.png)\n", md_cell(&spec.title), spec.slug);
            }
            role_table_md(&mut m, f);
        }
    }
    let others: Vec<_> = plan
        .iter()
        .filter(|s| !matches!(s.kind, ChartKind::Interface(_)))
        .collect();
    if !others.is_empty() {
        m.push_str("## Other charts\n\n");
        for s in others {
            let _ = writeln!(m, "![{}](charts/{}.png)\n", md_cell(&s.title), s.slug);
        }
    }
    if !data.timeline.is_empty() {
        m.push_str("## Timeline\n\n| time (UTC) | source | node | event |\n|---|---|---|---|\n");
        let mut ev: Vec<_> = data.timeline.iter().collect();
        ev.sort_by_key(|e| e.ts_ns);
        for e in ev {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} |",
                utc_datetime(e.ts_ns),
                md_cell(&e.source),
                md_cell(e.node.as_deref().unwrap_or("")),
                md_cell(&e.text)
            );
        }
        m.push('\n');
    }
    if !data.inferred.is_empty() {
        m.push_str("## Inferred facts\n\n| fact | reason | confidence |\n|---|---|--:|\n");
        for (f, r, c) in &data.inferred {
            let c = if c.is_finite() {
                format!("{:.0}%", c.clamp(0.0, 1.0) * 100.0)
            } else {
                "n/a".into()
            };
            let _ = writeln!(m, "| {} | {} | {c} |", md_cell(f), md_cell(r));
        }
        m.push('\n');
    }
    m
}

/// The diff as Markdown: findings new/resolved/unchanged, deltas, charts
/// referenced as `charts/<slug>.png` (slugs from [`diff_plan`]).
pub fn render_diff_markdown(diff: &DiffData) -> String {
    let name = |t: &str| {
        if t.is_empty() {
            "(untitled)".to_string()
        } else {
            t.to_string()
        }
    };
    let mut m = String::with_capacity(16 * 1024);
    let _ = writeln!(
        m,
        "# Before / after: {} → {}\n",
        md_cell(&name(&diff.before.title)),
        md_cell(&name(&diff.after.title))
    );
    let _ = writeln!(
        m,
        "{} new, {} resolved, {} changed, {} unchanged, {} not assessable findings. Captures: before {}, after {}; \
         rates are averages over each capture.\n",
        diff.findings_new.len(),
        diff.findings_resolved.len(),
        diff.findings_changed.len(),
        diff.findings_unchanged.len(),
        diff.findings_not_assessable.len(),
        crate::units::format_duration(diff.duration_ns.0),
        crate::units::format_duration(diff.duration_ns.1)
    );
    for (h, list, s) in [
        ("New findings", &diff.findings_new, "new"),
        ("Resolved findings", &diff.findings_resolved, "resolved"),
        ("Unchanged findings", &diff.findings_unchanged, "unchanged"),
    ] {
        let _ = writeln!(m, "## {h}\n");
        findings_md(&mut m, list, Some(s));
    }
    m.push_str("## Changed findings\n\n");
    if diff.findings_changed.is_empty() {
        m.push_str("None.\n\n");
    }
    for (b, a) in &diff.findings_changed {
        let _ = writeln!(
            m,
            "- {}: before “{}” ({}), after “{}” ({})",
            md_cell(&a.id),
            md_cell(&b.title),
            b.severity.name(),
            md_cell(&a.title),
            a.severity.name()
        );
    }
    m.push_str("\n## Not assessable\n\n");
    if diff.findings_not_assessable.is_empty() {
        m.push_str("None.\n\n");
    }
    for (f, why) in &diff.findings_not_assessable {
        let _ = writeln!(
            m,
            "- {} {}: {}",
            md_cell(&f.id),
            md_cell(&f.title),
            md_cell(why)
        );
    }
    m.push('\n');
    m.push_str("## Per-role changes\n\n");
    if diff.deltas.is_empty() {
        m.push_str("None.\n\n");
    } else {
        m.push_str("| node / interface | role | average rate before → after | change | share before → after | peak % of link | bytes before → after |\n|---|---|--:|--:|--:|--:|--:|\n");
        for d in &diff.deltas {
            let mark = match crate::html::diff::judge(&diff.deltas, d) {
                "good" => " (better)",
                "bad" => " (worse)",
                _ => "",
            };
            let link = d.link_bps.unwrap_or(0) as f64;
            let _ = writeln!(
                m,
                "| {} / {} | {} | {} → {} | {}{mark} | {} → {} | {} → {} | {} → {} |",
                md_cell(&d.node),
                md_cell(&d.interface),
                d.role.name(),
                format_bps(d.avg_bps_before),
                format_bps(d.avg_bps_after),
                crate::html::diff::rate_change(d),
                percent(d.share_before, 1.0),
                percent(d.share_after, 1.0),
                percent(d.peak_bps_before as f64, link),
                percent(d.peak_bps_after as f64, link),
                format_bytes(d.bytes_before),
                format_bytes(d.bytes_after),
            );
        }
        m.push('\n');
    }
    let plan = diff_plan(diff);
    if !plan.is_empty() {
        m.push_str("## Interfaces before (top) and after (bottom)\n\n");
        for s in plan {
            let _ = writeln!(m, "![{}](charts/{}.png)\n", md_cell(&s.title), s.slug);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_has_tables_and_chart_paths() {
        let data = crate::sample::synthetic_report();
        let m = render_markdown(&data);
        assert!(m.contains("| **critical** | HVS001 | CSV redirected IO saturates the management network | HV02 / Management |"));
        assert!(m.contains("![HV02 / Management](charts/hv02-management.png)"));
        assert!(
            m.contains("New-SmbMultichannelConstraint -ServerName HV01 -InterfaceAlias Cluster")
        );
        assert!(m.contains("| redirected-io |"));
        let d = render_diff_markdown(&crate::sample::synthetic_diff());
        assert!(d.contains("## Resolved findings"));
        assert!(d.contains("HVS001"));
        assert!(d.contains("| HV02 / Management | redirected-io |"), "{d}");
        assert!(d.contains("−100.0% (better)"), "{d}");
    }

    #[test]
    fn hostile_cells_do_not_break_tables() {
        let mut data = crate::sample::synthetic_report();
        data.findings[0].title = "a|b\nc`d<script>".into();
        data.findings[0].remediation = vec!["```\nrm -rf /".into()];
        let m = render_markdown(&data);
        assert!(m.contains("a\\|b<br>c\\`d&lt;script&gt;"));
        assert!(!m.contains("<script"));
        assert!(m.contains("````powershell"));
    }
}
