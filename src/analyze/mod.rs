//! `hvsleuth analyze`: captures -> scanner (parallel per file) -> topology ->
//! attribution (interface x role x time bucket) -> tables and summary.

pub mod attribute;
pub mod summary;
pub mod tables;
pub mod topology;

use std::path::{Path, PathBuf};

use hvsleuth_parsers::InputKind;
use hvsleuth_parsers::capture::{CaptureFormat, read_capture};
use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::cli::AnalyzeArgs;
use crate::exit::ExitCode;
use crate::inventory::Inventory;
use crate::pipeline::scan::{Scan, ScanConfig};
use crate::pipeline::{ProgressSink, display_name, expand_inputs, open_input};
use crate::progress::bytes_bar;

/// One input file after the scanner's pass.
pub struct FileScan {
    pub path: PathBuf,
    pub name: String,
    pub kind: InputKind,
    pub format: Option<CaptureFormat>,
    pub scan: Scan,
    /// Why reading stopped early (message with offset), and whether anything was read.
    pub error: Option<(String, bool)>,
}

fn scan_file(path: &Path, cfg: &ScanConfig, bar: &ProgressBar) -> FileScan {
    let name = display_name(path);
    let mut scan = Scan::new(cfg.clone());
    let mut out = FileScan {
        path: path.to_path_buf(),
        name: name.clone(),
        kind: InputKind::Unknown,
        format: None,
        scan: Scan::new(ScanConfig::default()),
        error: None,
    };
    match open_input(path) {
        Err(e) => out.error = Some((format!("{e:#}"), false)),
        Ok(input) => {
            out.kind = input.kind;
            let mut sink = ProgressSink::new(&mut scan, bar);
            let r = read_capture(input.reader, &name, &mut sink);
            scan.finish();
            out.format = r.format;
            out.error = r
                .error
                .map(|e| (format!("{}: {e}", path.display()), r.packets > 0));
        }
    }
    out.scan = scan;
    out
}

pub fn run(args: &AnalyzeArgs) -> ExitCode {
    let inventory = match args.inventory.as_deref().map(Inventory::load).transpose() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::Error;
        }
    };
    let all = expand_inputs(&args.inputs, |k| k != InputKind::Unknown);
    let (captures, others): (Vec<PathBuf>, Vec<PathBuf>) = all.into_iter().partition(|p| {
        open_input(p).is_ok_and(|i| {
            matches!(
                i.kind,
                InputKind::Pcap | InputKind::PcapNg | InputKind::Gzip
            )
        })
    });
    for p in &others {
        let kind = open_input(p).map(|i| i.kind).unwrap_or(InputKind::Unknown);
        match kind {
            InputKind::Unknown => eprintln!(
                "error: {}: not a recognised input (capture, perfmon CSV, ETL, EVTX, cluster.log)",
                p.display()
            ),
            k => eprintln!(
                "note: {}: {k:?} inputs are not analysed yet; skipped",
                p.display()
            ),
        }
    }
    if captures.is_empty() {
        eprintln!("error: no packet captures among the inputs");
        return ExitCode::NothingReadable;
    }
    let total: u64 = captures
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = bytes_bar(total, args.common.no_progress);
    let cfg = ScanConfig {
        max_flows: args.common.max_flows,
        bucket_ns: Some(args.bucket),
        ..ScanConfig::default()
    };
    let files: Vec<FileScan> = captures
        .par_iter()
        .map(|p| scan_file(p, &cfg, &bar))
        .collect();
    bar.finish_and_clear();
    for f in &files {
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
            .chain(others.iter().map(|_| (true, true))),
    );

    let (ifaces, topo, inferred) = topology::build(&files, inventory.as_ref());
    let model = attribute::attribute(&files, &ifaces, &topo, args.bucket);
    let summary = summary::Summary::new(&model, inferred);

    if let Some(dir) = &args.out {
        if let Err(e) = tables::write_all(dir, &model, &summary) {
            eprintln!("error: writing tables to {}: {e:#}", dir.display());
            return ExitCode::Error;
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
    use std::io::Write;
    if std::io::stdout().write_all(text.as_bytes()).is_err() {
        return ExitCode::Error;
    }
    code
}
