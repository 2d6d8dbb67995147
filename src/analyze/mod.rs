//! `hvsleuth analyze`: captures -> scanner (parallel per file) -> topology ->
//! attribution (interface x role x time bucket) -> tables and summary.

pub mod attribute;
pub mod reconcile;
pub mod report;
pub mod skew;
pub mod summary;
pub mod tables;
pub mod topology;

use std::path::{Path, PathBuf};

use hvsleuth_parsers::smb::model::SmbModel;

use hvsleuth_parsers::InputKind;
use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::cli::AnalyzeArgs;
use crate::exit::ExitCode;
use crate::inventory::Inventory;
use crate::pipeline::scan::{Scan, ScanConfig};
use crate::pipeline::{
    ProgressSink, display_name, expand_inputs, is_packet_input, open_input, read_packets,
};
use crate::progress::bytes_bar;

/// One input file after the scanner's pass.
pub struct FileScan {
    pub name: String,
    pub scan: Scan,
    /// Why reading stopped early (message with offset), and whether anything was read.
    pub error: Option<(String, bool)>,
    pub notes: Vec<String>,
}

/// Scans every packet input in parallel (rayon, one file per task) with a
/// progress bar over their total size; one SMB session model serves all files.
pub fn scan_all(
    paths: &[PathBuf],
    cfg: &ScanConfig,
    no_progress: bool,
) -> (Vec<FileScan>, SmbModel) {
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = bytes_bar(total, no_progress);
    // One SMB model per file, merged in file order afterwards: no lock shared
    // by the threads on every SMB message, and the same result whatever order
    // the files finish in.
    let mut files: Vec<FileScan> = paths.par_iter().map(|p| scan_file(p, cfg, &bar)).collect();
    bar.finish_and_clear();
    let mut smb = SmbModel::new();
    for f in &mut files {
        if let Some(m) = f.scan.smb_model.take() {
            smb.merge(m);
        }
    }
    (files, smb)
}

pub fn scan_file(path: &Path, cfg: &ScanConfig, bar: &ProgressBar) -> FileScan {
    let mut scan = Scan::new(cfg.clone());
    scan.capture_name = display_name(path);
    scan.smb_model = Some(SmbModel::new());
    let read = read_packets(path, &mut ProgressSink::new(&mut scan, bar));
    scan.finish();
    let (error, notes) = match read {
        Ok(r) => (r.error.map(|(_, m)| (m, r.packets > 0)), r.notes),
        Err(m) => (Some((m, false)), Vec::new()),
    };
    FileScan {
        name: display_name(path),
        scan,
        error,
        notes,
    }
}

/// What one analysis produced.
pub struct Analysis {
    pub model: attribute::Model,
    pub summary: summary::Summary,
    /// Every input used, as given.
    pub inputs: Vec<String>,
    /// Counters, event logs and cluster.log read beside the captures.
    pub evidence: crate::evidence::Evidence,
    /// SMB sessions across all captures.
    pub smb: hvsleuth_parsers::smb::model::SmbReport,
    pub code: ExitCode,
}

/// Options of an analysis.
pub struct AnalyzeOptions<'a> {
    pub inventory: Option<&'a Inventory>,
    pub bucket_ns: i64,
    pub max_flows: usize,
    pub no_progress: bool,
}

/// Reads the inputs (files or directories) and attributes and judges them.
/// `Err` carries the exit code when there is nothing to analyse.
pub fn analyze(paths: &[PathBuf], o: &AnalyzeOptions<'_>) -> Result<Analysis, ExitCode> {
    let all = expand_inputs(paths, |k| k != InputKind::Unknown);
    let (captures, others): (Vec<PathBuf>, Vec<PathBuf>) = all
        .into_iter()
        .partition(|p| open_input(p).is_ok_and(|i| is_packet_input(i.kind)));
    // .evtx files one after another on this thread, each with the evtx
    // crate's own parallelism; every other evidence file in parallel (one
    // thread each). Nesting the evtx pool inside ours deadlocked.
    let kind_of = |p: &PathBuf| open_input(p).map(|i| i.kind).unwrap_or(InputKind::Unknown);
    let (evtx, rest): (Vec<&PathBuf>, Vec<&PathBuf>) =
        others.iter().partition(|p| kind_of(p) == InputKind::Evtx);
    let mut read: Vec<Result<crate::evidence::Evidence, String>> = evtx
        .iter()
        .map(|p| crate::evidence::read(p, InputKind::Evtx, 0))
        .collect();
    let parallel: Vec<Result<crate::evidence::Evidence, String>> = rest
        .par_iter()
        .map(|p| {
            let kind = kind_of(p);
            if crate::evidence::is_evidence(kind) {
                crate::evidence::read(p, kind, 1)
            } else {
                Err(format!(
                    "{}: not a recognised input (capture, ETL, perfmon CSV, event log, cluster.log)",
                    p.display()
                ))
            }
        })
        .collect();
    read.extend(parallel);
    let mut evidence = crate::evidence::Evidence::default();
    let mut evidence_ok = Vec::new();
    for r in read {
        match r {
            Ok(e) => {
                for d in &e.damaged {
                    eprintln!("warning: {d}");
                }
                evidence_ok.push((true, e.damaged.is_empty()));
                evidence.merge(e);
            }
            Err(msg) => {
                eprintln!("error: {msg}");
                evidence_ok.push((false, false));
            }
        }
    }
    for n in &evidence.notes {
        eprintln!("note: {n}");
    }
    if captures.is_empty() && evidence.counters.is_empty() && evidence.events.is_empty() {
        if !evidence_ok.iter().any(|&(readable, _)| readable) {
            eprintln!("error: nothing to analyse among the inputs");
            return Err(ExitCode::NothingReadable);
        }
        // Read fine, but nothing hvsleuth tracks (e.g. a Security log): an
        // empty result, not an error.
        eprintln!("note: the inputs were read but hold no packets, counters or tracked events");
    }
    let cfg = ScanConfig {
        max_flows: o.max_flows,
        bucket_ns: Some(o.bucket_ns),
        ..ScanConfig::default()
    };
    let (files, smb) = scan_all(&captures, &cfg, o.no_progress);
    for f in &files {
        for n in &f.notes {
            eprintln!("note: {n}");
        }
        if let Some((msg, partial)) = &f.error {
            if *partial {
                eprintln!("warning: {msg} (reading stopped; everything before it was analysed)");
            } else {
                eprintln!("error: {msg}");
            }
        }
    }
    let code = ExitCode::from_outcomes(
        files
            .iter()
            .map(|f| (f.error.as_ref().is_none_or(|e| e.1), f.error.is_none()))
            .chain(evidence_ok),
    );
    let (mut ifaces, topo, mut inferred) = topology::build(&files, o.inventory);
    let smb_report = smb.report();
    topology::speeds_from_smb(&mut ifaces, &smb_report, &mut inferred);
    let (offsets, skews) = skew::align(&files);
    let model = attribute::attribute(&files, &ifaces, &topo, o.bucket_ns, &offsets);
    let thresholds = o
        .inventory
        .map(|i| i.thresholds.clone())
        .unwrap_or_default();
    let findings = crate::findings::evaluate(
        &model,
        o.inventory,
        &thresholds,
        &evidence,
        Some(&smb_report),
    );
    let mut summary = summary::Summary::new(&model, inferred, findings);
    summary.damaged_inputs = files
        .iter()
        .filter_map(|f| f.error.as_ref().map(|(m, _)| m.clone()))
        .chain(evidence.damaged.iter().cloned())
        .collect();
    summary.partial = !summary.damaged_inputs.is_empty() || code != ExitCode::Ok;
    summary.skew = skews;
    summary.reconciliation = reconcile::reconcile(&model, &evidence);
    let inputs = captures
        .iter()
        .chain(&others)
        .map(|p| p.display().to_string())
        .collect();
    Ok(Analysis {
        model,
        summary,
        inputs,
        evidence,
        smb: smb_report,
        code,
    })
}

pub fn run(args: &AnalyzeArgs) -> ExitCode {
    let inventory = match Inventory::load_for_cli(args.inventory.as_deref()) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let opts = AnalyzeOptions {
        inventory: inventory.as_ref(),
        bucket_ns: args.bucket,
        max_flows: args.common.max_flows,
        no_progress: args.common.no_progress,
    };
    let Analysis {
        model,
        summary,
        inputs,
        evidence,
        smb,
        code,
    } = match analyze(&args.inputs, &opts) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Some(dir) = &args.out {
        if let Err(e) = tables::write_all(dir, &model, &summary, &evidence, &smb) {
            eprintln!("error: writing tables to {}: {e:#}", dir.display());
            return ExitCode::Error;
        }
        let data = report::build(&model, &summary, &inputs, &evidence);
        match report::write(dir, &data) {
            Ok(w) => {
                for (chart, err) in &w.chart_errors {
                    eprintln!("warning: chart {chart}: {err}");
                }
                eprintln!(
                    "wrote {} (and report.md, findings.json, tables, charts/)",
                    w.html.display()
                );
            }
            Err(e) => {
                eprintln!("error: writing the report to {}: {e:#}", dir.display());
                return ExitCode::Error;
            }
        }
    }
    if let Some(path) = &args.write_inventory {
        if let Err(e) = summary::write_inventory(path, &model) {
            eprintln!("error: {e:#}");
            return ExitCode::Error;
        }
    }
    let text = if args.json {
        serde_json::to_string_pretty(&summary)
            .map(|s| s + "\n")
            .unwrap_or_default()
    } else {
        summary.render_text()
    };
    if crate::exit::print_stdout(&text) == ExitCode::Error {
        return ExitCode::Error;
    }
    code
}
