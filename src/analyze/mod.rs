//! `hvsleuth analyze`: captures -> scanner (parallel per file) -> topology ->
//! attribution (interface x role x time bucket) -> tables and summary.

pub mod attribute;
#[cfg(test)]
mod infer_tests;
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
use crate::shard::{ScanOutput, Shard, ShardBody};

/// One input file after the scanner's pass: what the global stage uses of it.
pub struct FileScan {
    pub name: String,
    pub scan: ScanOutput,
    /// Why reading stopped early (message with offset), and whether anything was read.
    pub error: Option<(String, bool)>,
    pub notes: Vec<String>,
}

/// Scans every packet input in parallel (rayon, one file per task) with a
/// progress bar over their total size; each file keeps its own SMB model.
pub fn scan_files(paths: &[PathBuf], cfg: &ScanConfig, no_progress: bool) -> Vec<FileScan> {
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = bytes_bar(total, no_progress);
    let files: Vec<FileScan> = paths.par_iter().map(|p| scan_file(p, cfg, &bar)).collect();
    bar.finish_and_clear();
    files
}

/// The per-file SMB models joined in file order (one model per file, merged
/// afterwards: no lock shared by the threads on every SMB message, and the
/// same result whatever order the files finish in).
pub fn merge_smb(files: &mut [FileScan]) -> SmbModel {
    let mut smb = SmbModel::new();
    for f in files {
        if let Some(m) = f.scan.smb_model.take() {
            smb.merge(m);
        }
    }
    smb
}

/// [`scan_files`], then one SMB session model for all files.
pub fn scan_all(
    paths: &[PathBuf],
    cfg: &ScanConfig,
    no_progress: bool,
) -> (Vec<FileScan>, SmbModel) {
    let mut files = scan_files(paths, cfg, no_progress);
    let smb = merge_smb(&mut files);
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
        scan: ScanOutput::from(scan),
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
    /// SMB 3 decryption keys.
    pub smb_keys: Option<std::sync::Arc<hvsleuth_parsers::smb::crypto::KeyRing>>,
}

/// The scan's time bucket for a chart bucket: findings judge a 1 s signal
/// whatever the chart bucket, so a bucket of whole seconds is scanned at 1 s
/// and merged for the charts.
pub fn scan_bucket(bucket_ns: i64) -> i64 {
    const SECOND: i64 = 1_000_000_000;
    if bucket_ns > SECOND && bucket_ns % SECOND == 0 {
        SECOND
    } else {
        bucket_ns
    }
}

/// Reads the inputs (files or directories) and attributes and judges them:
/// the scan stage (one shard per input) then the merge stage, in one process.
/// `Err` carries the exit code when there is nothing to analyse.
pub fn analyze(paths: &[PathBuf], o: &AnalyzeOptions<'_>) -> Result<Analysis, ExitCode> {
    let all = expand_inputs(paths, |k| k != InputKind::Unknown);
    let shards = scan_inputs(&all, o);
    merge(shards, o)
}

/// The scan stage: every input read on its own (captures in parallel, one
/// per task; event logs one after another with the evtx crate's own threads;
/// other evidence in parallel), one shard each, captures first, then the
/// other inputs, each in the order given.
pub fn scan_inputs(all: &[PathBuf], o: &AnalyzeOptions<'_>) -> Vec<Shard> {
    let (captures, others): (Vec<PathBuf>, Vec<PathBuf>) = all
        .iter()
        .cloned()
        .partition(|p| open_input(p).is_ok_and(|i| is_packet_input(i.kind)));
    // .evtx files one after another on this thread, each with the evtx
    // crate's own parallelism; every other evidence file in parallel (one
    // thread each). Nesting the evtx pool inside ours deadlocked.
    let kind_of = |p: &PathBuf| open_input(p).map(|i| i.kind).unwrap_or(InputKind::Unknown);
    let kinds: Vec<InputKind> = others.iter().map(kind_of).collect();
    let mut read: Vec<Option<Result<crate::evidence::Evidence, String>>> =
        (0..others.len()).map(|_| None).collect();
    for (i, p) in others.iter().enumerate() {
        if kinds[i] == InputKind::Evtx {
            read[i] = Some(crate::evidence::read(p, InputKind::Evtx, 0));
        }
    }
    let parallel: Vec<(usize, Result<crate::evidence::Evidence, String>)> = others
        .par_iter()
        .enumerate()
        .filter(|(i, _)| kinds[*i] != InputKind::Evtx)
        .map(|(i, p)| {
            let kind = kinds[i];
            let r = if crate::evidence::is_evidence(kind) {
                crate::evidence::read(p, kind, 1)
            } else if let Err(e) = open_input(p) {
                // "cannot open: No such file or directory (os error 2)"
                Err(format!("{e:#}"))
            } else {
                Err(format!(
                    "{}: not a recognised input (capture, ETL, perfmon CSV, event log, cluster.log)",
                    p.display()
                ))
            };
            (i, r)
        })
        .collect();
    for (i, r) in parallel {
        read[i] = Some(r);
    }
    let cfg = scan_config(o);
    let files = scan_files(&captures, &cfg, o.no_progress);
    let mut shards: Vec<Shard> = captures
        .iter()
        .zip(files)
        .map(|(p, f)| Shard::capture(p, &cfg, f))
        .collect();
    for ((p, kind), r) in others.iter().zip(kinds).zip(read) {
        let r = r.unwrap_or_else(|| Err(format!("{}: not read", p.display())));
        shards.push(Shard::evidence(p, &cfg, kind == InputKind::Evtx, r));
    }
    shards
}

/// The scanner's configuration for an analysis.
pub fn scan_config(o: &AnalyzeOptions<'_>) -> ScanConfig {
    ScanConfig {
        max_flows: o.max_flows,
        bucket_ns: Some(scan_bucket(o.bucket_ns)),
        smb_keys: o.smb_keys.clone(),
        ..ScanConfig::default()
    }
}

/// The merge stage: topology, skew, attribution, findings and the summary
/// from the shards (captures first, then the other inputs, as
/// [`scan_inputs`] orders them). `Err` carries the exit code when there is
/// nothing to analyse.
pub fn merge(shards: Vec<Shard>, o: &AnalyzeOptions<'_>) -> Result<Analysis, ExitCode> {
    let mut files: Vec<FileScan> = Vec::new();
    let mut capture_inputs: Vec<String> = Vec::new();
    let mut other_inputs: Vec<String> = Vec::new();
    // Event logs were read first, then the other evidence: merged in that order.
    let mut evtx_read: Vec<Result<crate::evidence::Evidence, String>> = Vec::new();
    let mut rest_read: Vec<Result<crate::evidence::Evidence, String>> = Vec::new();
    for sh in shards {
        match sh.body {
            ShardBody::Capture(f) => {
                capture_inputs.push(sh.manifest.input);
                files.push(*f);
            }
            ShardBody::Evidence(r) => {
                other_inputs.push(sh.manifest.input);
                if sh.manifest.evtx {
                    evtx_read.push(r);
                } else {
                    rest_read.push(r);
                }
            }
        }
    }
    let mut evidence = crate::evidence::Evidence::default();
    let mut evidence_ok = Vec::new();
    for r in evtx_read.into_iter().chain(rest_read) {
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
    if files.is_empty() && evidence.counters.is_empty() && evidence.events.is_empty() {
        if !evidence_ok.iter().any(|&(readable, _)| readable) {
            eprintln!("error: nothing to analyse among the inputs");
            return Err(ExitCode::NothingReadable);
        }
        // Read fine, but nothing hvsleuth tracks (e.g. a Security log): an
        // empty result, not an error.
        eprintln!("note: the inputs were read but hold no packets, counters or tracked events");
    }
    let scan_bucket = scan_bucket(o.bucket_ns);
    let smb = merge_smb(&mut files);
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
    let smb_report = smb.report();
    let (mut ifaces, mut topo, mut inferred) =
        topology::build(&files, o.inventory, Some(&smb_report));
    topology::speeds_from_smb(&mut ifaces, &smb_report, &mut inferred);
    topology::place_peers(
        &files,
        &ifaces,
        &mut topo,
        o.inventory,
        Some(&smb_report),
        &mut inferred,
    );
    let (offsets, skews) = skew::align(&files);
    let model = attribute::attribute(&files, &ifaces, &topo, scan_bucket, o.bucket_ns, &offsets);
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
    let inputs = capture_inputs.into_iter().chain(other_inputs).collect();
    Ok(Analysis {
        model,
        summary,
        inputs,
        evidence,
        smb: smb_report,
        code,
    })
}

/// `analyze INPUTS` (scan + merge) or `analyze --from SHARDS` (merge).
fn analyze_or_merge(args: &AnalyzeArgs, o: &AnalyzeOptions<'_>) -> Result<Analysis, ExitCode> {
    if args.from.is_empty() {
        return analyze(&args.inputs, o);
    }
    match crate::shard::read_for_merge(&args.from, scan_bucket(o.bucket_ns)) {
        Ok(shards) => merge(shards, o),
        Err(e) => {
            eprintln!("error: {e:#}");
            Err(ExitCode::Error)
        }
    }
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
        smb_keys: args.common.smb_key_ring(),
    };
    let Analysis {
        model,
        summary,
        inputs,
        evidence,
        smb,
        code,
    } = match analyze_or_merge(args, &opts) {
        Ok(a) => a,
        Err(code) => return code,
    };
    // The terminal summary is printed even when writing --out fails: the
    // analysis is done, and the engineer should see it before the error.
    let mut failed: Vec<String> = Vec::new();
    if let Some(dir) = &args.out {
        if let Err(e) = tables::write_all(dir, &model, &summary, &evidence, &smb) {
            failed.push(format!("error: writing tables to {}: {e:#}", dir.display()));
        } else {
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
                    failed.push(format!(
                        "error: writing the report to {}: {e:#}",
                        dir.display()
                    ));
                }
            }
        }
    }
    if let Some(root) = &args.dataset {
        let data = report::build(&model, &summary, &inputs, &evidence);
        let inc = crate::dataset::Incident {
            cluster: inventory.as_ref().and_then(|i| i.cluster.as_deref()),
            inputs: &inputs,
            model: &model,
            summary: &summary,
            evidence: &evidence,
            smb: &smb,
            timeline: &data.timeline,
        };
        match crate::dataset::append(root, &inc) {
            Ok(a) => eprintln!(
                "dataset {}: incident {} ({} part files{})",
                root.display(),
                a.incident,
                a.files,
                if a.replaced > 0 {
                    format!(", {} earlier parts of it replaced", a.replaced)
                } else {
                    String::new()
                }
            ),
            Err(e) => {
                eprintln!("error: writing the dataset {}: {e:#}", root.display());
                return ExitCode::Error;
            }
        }
    }
    if let Some(path) = &args.write_inventory {
        if let Err(e) = summary::write_inventory(path, &model, &summary.inferred) {
            failed.push(format!("error: {e:#}"));
        }
    }
    let colour = !args.json && summary::colour_stdout();
    let text = if args.json {
        serde_json::to_string_pretty(&summary)
            .map(|s| s + "\n")
            .unwrap_or_default()
    } else {
        summary.render_text_styled(colour)
    };
    // With colour, the summary escaped every capture-derived field itself and
    // its own SGR codes must reach the terminal.
    let printed = if colour {
        crate::exit::print_stdout_styled(&text)
    } else {
        crate::exit::print_stdout(&text)
    };
    if printed == ExitCode::Error {
        return ExitCode::Error;
    }
    if !failed.is_empty() {
        for e in &failed {
            eprintln!("{e}");
        }
        return ExitCode::Error;
    }
    code
}
