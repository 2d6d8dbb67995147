//! `hvsleuth diff A B` and `hvsleuth report DIR`: compare two analyses
//! (before/after a change), or re-render a stored one.

use std::path::Path;

use hvsleuth_reports::model::ReportData;
use hvsleuth_reports::{DiffData, Role};

use crate::analyze::{AnalyzeOptions, analyze, report};
use crate::cli::{DiffArgs, ReportArgs};
use crate::exit::ExitCode;
use crate::inventory::Inventory;
use crate::units::human_bps;

/// An earlier output directory (with stored report data), or inputs to analyse now.
fn load_or_analyze(
    path: &Path,
    o: &AnalyzeOptions<'_>,
) -> Result<(ReportData, ExitCode), ExitCode> {
    if path.join(report::DATA_FILE).is_file() {
        return report::load(path).map(|d| (d, ExitCode::Ok)).map_err(|e| {
            eprintln!("error: {e:#}");
            ExitCode::Error
        });
    }
    let a = analyze(&[path.to_path_buf()], o)?;
    let data = report::build(&a.model, &a.summary, &a.inputs, &a.evidence);
    Ok((data, a.code))
}

pub fn run_diff(args: &DiffArgs) -> ExitCode {
    let inventory = match Inventory::load_for_cli(args.inventory.as_deref()) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let o = AnalyzeOptions {
        inventory: inventory.as_ref(),
        bucket_ns: args.bucket,
        max_flows: args.common.max_flows,
        no_progress: args.common.no_progress,
        smb_keys: args.common.smb_key_ring(),
    };
    let (before, c1) = match load_or_analyze(&args.before, &o) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let (after, c2) = match load_or_analyze(&args.after, &o) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let diff = hvsleuth_reports::diff::diff(before, after);
    if let Some(dir) = &args.out {
        match hvsleuth_reports::write_diff_dir(dir, &diff) {
            Ok(w) => eprintln!("wrote {} (and diff.md, charts/)", w.html.display()),
            Err(e) => {
                eprintln!("error: writing the diff to {}: {e:#}", dir.display());
                return ExitCode::Error;
            }
        }
    }
    let text = if args.json {
        serde_json::to_string_pretty(&DiffJson::from(&diff)).unwrap_or_default() + "\n"
    } else {
        render_text(&diff)
    };
    if crate::exit::print_stdout(&text) == ExitCode::Error {
        return ExitCode::Error;
    }
    ExitCode::from_outcomes([
        (c1 != ExitCode::NothingReadable, c1 == ExitCode::Ok),
        (c2 != ExitCode::NothingReadable, c2 == ExitCode::Ok),
    ])
}

/// The JSON form of a diff: deltas and findings, without the full series.
#[derive(serde::Serialize)]
struct DiffJson<'a> {
    deltas: &'a [hvsleuth_reports::model::RoleDelta],
    findings_new: &'a [hvsleuth_reports::Finding],
    findings_resolved: &'a [hvsleuth_reports::Finding],
    findings_unchanged: &'a [hvsleuth_reports::Finding],
    findings_changed: &'a [(hvsleuth_reports::Finding, hvsleuth_reports::Finding)],
    findings_not_assessable: &'a [(hvsleuth_reports::Finding, String)],
    duration_ns: (i64, i64),
}

impl<'a> From<&'a DiffData> for DiffJson<'a> {
    fn from(d: &'a DiffData) -> Self {
        DiffJson {
            deltas: &d.deltas,
            findings_new: &d.findings_new,
            findings_resolved: &d.findings_resolved,
            findings_unchanged: &d.findings_unchanged,
            findings_changed: &d.findings_changed,
            findings_not_assessable: &d.findings_not_assessable,
            duration_ns: d.duration_ns,
        }
    }
}

fn render_text(d: &DiffData) -> String {
    use hvsleuth_reports::escape::terminal as t;
    use std::fmt::Write;
    let mut s = String::new();
    let list = |s: &mut String, title: &str, f: &[hvsleuth_reports::Finding]| {
        let _ = writeln!(s, "{title} ({}):", f.len());
        for x in f {
            let _ = writeln!(
                s,
                "  {} {} [{}] {}",
                x.id,
                t(&x.title),
                t(&x.place()),
                hvsleuth_reports::units::utc_window(x.window_start_ns, x.window_end_ns)
            );
        }
    };
    list(&mut s, "Findings resolved", &d.findings_resolved);
    list(&mut s, "Findings new", &d.findings_new);
    let _ = writeln!(s, "Findings changed ({}):", d.findings_changed.len());
    for (b, a) in &d.findings_changed {
        let _ = writeln!(
            s,
            "  {} [{}] before: {} ({}) -> after: {} ({})",
            a.id,
            a.place(),
            b.title,
            b.severity.name(),
            a.title,
            a.severity.name()
        );
    }
    list(&mut s, "Findings unchanged", &d.findings_unchanged);
    let _ = writeln!(s, "Not assessable ({}):", d.findings_not_assessable.len());
    for (f, why) in &d.findings_not_assessable {
        let _ = writeln!(s, "  {} {} [{}]: {why}", f.id, f.title, f.place());
    }
    let dur = |ns: i64| format!("{:.0} s", ns as f64 / 1e9);
    let _ = writeln!(
        s,
        "\nPer interface and role, average rate over each capture (before {}, after {}) and share of the interface:",
        dur(d.duration_ns.0),
        dur(d.duration_ns.1)
    );
    for r in &d.deltas {
        if r.bytes_before == r.bytes_after {
            continue;
        }
        let judged = match hvsleuth_reports::html::diff::judge(&d.deltas, r) {
            "good" => "  better",
            "bad" => "  worse",
            _ => "",
        };
        let _ = writeln!(
            s,
            "  {:<10} {:<12} {:<15} {:>10} -> {:<10} ({}) share {:.0}% -> {:.0}%  peak {} -> {}{judged}",
            t(&r.node),
            t(&r.interface),
            r.role.name(),
            human_bps(r.avg_bps_before as u64),
            human_bps(r.avg_bps_after as u64),
            hvsleuth_reports::html::diff::rate_change(r),
            r.share_before * 100.0,
            r.share_after * 100.0,
            human_bps(r.peak_bps_before),
            human_bps(r.peak_bps_after)
        );
    }
    let gone: Vec<_> = d
        .deltas
        .iter()
        .filter(|r| {
            r.role != Role::Management
                && r.role != Role::Other
                && r.bytes_before > 0
                && r.bytes_after == 0
        })
        .map(|r| format!("{} on {} / {}", r.role, t(&r.node), t(&r.interface)))
        .collect();
    if !gone.is_empty() {
        let _ = writeln!(s, "\nGone after the change: {}", gone.join("; "));
    }
    s
}

pub fn run_report(args: &ReportArgs) -> ExitCode {
    let data = match report::load(&args.dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::Error;
        }
    };
    let out = args.out.as_deref().unwrap_or(&args.dir);
    match report::write(out, &data) {
        Ok(w) => {
            eprintln!("wrote {}", w.html.display());
            ExitCode::Ok
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::Error
        }
    }
}
