//! `hvsleuth analyze`: inputs -> scan stage (one shard per input, in
//! parallel; [`crate::shard::scan_inputs`]) -> merge stage (topology, skew,
//! attribution: [`crate::merge`]) -> findings -> summary, tables, report.

#[cfg(test)]
mod infer_tests;
pub mod report;
pub mod summary;
pub mod tables;

use std::path::PathBuf;

use hvsleuth_parsers::InputKind;

use crate::cli::AnalyzeArgs;
use crate::exit::ExitCode;
use crate::inventory::Inventory;
use crate::merge::facts::CaptureFacts;
use crate::merge::{attribute, reconcile, skew, topology};
use crate::pipeline::expand_inputs;
use crate::pipeline::files::scan_bucket;
use crate::pipeline::scan::ScanConfig;
use crate::shard::{FirstPass, GroupsAt, MergeShard};
use hvsleuth_parsers::smb::model::SmbModel;

/// The scanner's configuration for an analysis.
pub fn scan_config(o: &AnalyzeOptions<'_>) -> ScanConfig {
    crate::pipeline::files::scan_config(o.bucket_ns, o.max_flows, o.smb_keys.clone())
}

/// An input's size and the SHA-256 of its first MiB.
pub type HeadHash = (u64, [u8; 32]);

/// What one analysis produced.
pub struct Analysis {
    pub model: attribute::Model,
    pub summary: summary::Summary,
    /// Every input used, as given.
    pub inputs: Vec<String>,
    /// Per input: (size, SHA-256 of its first MiB), as its shard recorded them.
    pub fingerprints: Vec<Option<HeadHash>>,
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

/// Reads the inputs (files or directories) and attributes and judges them:
/// the scan stage (one shard per input) then the merge stage, in one process.
/// `Err` carries the exit code when there is nothing to analyse.
pub fn analyze(paths: &[PathBuf], o: &AnalyzeOptions<'_>) -> Result<Analysis, ExitCode> {
    let all = expand_inputs(paths, |k| k != InputKind::Unknown);
    let shards = crate::shard::scan_inputs(&all, &scan_config(o), o.no_progress);
    merge(shards.into_iter().map(MergeShard::Memory).collect(), o)
}

/// The merge stage: topology, skew, attribution, findings and the summary
/// from the shards (captures first, then the other inputs, as
/// [`scan_inputs`] orders them), in memory or on disk: one code path, in two
/// passes (see [`crate::merge`]). `Err` carries the exit code when there is
/// nothing to analyse or a shard cannot be read.
pub fn merge(shards: Vec<MergeShard>, o: &AnalyzeOptions<'_>) -> Result<Analysis, ExitCode> {
    merge_shards(shards, o).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        Err(ExitCode::Error)
    })
}

fn merge_shards(
    shards: Vec<MergeShard>,
    o: &AnalyzeOptions<'_>,
) -> anyhow::Result<Result<Analysis, ExitCode>> {
    // Pass 1: what inference needs of every capture; the SMB models folded
    // in one by one (file order), each dropped once folded.
    let mut files: Vec<CaptureFacts> = Vec::new();
    let mut groups_at: Vec<GroupsAt> = Vec::new();
    let mut smb = SmbModel::new();
    let mut capture_inputs: Vec<(String, Option<HeadHash>)> = Vec::new();
    let mut other_inputs: Vec<(String, Option<HeadHash>)> = Vec::new();
    // Event logs were read first, then the other evidence: merged in that order.
    let mut evtx_read: Vec<Result<crate::evidence::Evidence, String>> = Vec::new();
    let mut rest_read: Vec<Result<crate::evidence::Evidence, String>> = Vec::new();
    for sh in shards {
        let (manifest, pass) = sh.first_pass()?;
        let fp = manifest.fingerprint.as_ref().and_then(|f| f.parts());
        match pass {
            FirstPass::Capture {
                facts,
                smb: model,
                groups,
            } => {
                capture_inputs.push((manifest.input, fp));
                if let Some(m) = model {
                    smb.merge(*m);
                }
                files.push(*facts);
                groups_at.push(groups);
            }
            FirstPass::Evidence(r) => {
                other_inputs.push((manifest.input, fp));
                if manifest.evtx {
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
            return Ok(Err(ExitCode::NothingReadable));
        }
        // Read fine, but nothing hvsleuth tracks (e.g. a Security log): an
        // empty result, not an error.
        eprintln!("note: the inputs were read but hold no packets, counters or tracked events");
    }
    let scan_bucket = scan_bucket(o.bucket_ns);
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
    // The segment samples served topology and skew: not needed any more.
    for f in &mut files {
        f.seg = Default::default();
    }
    // Pass 2: one capture's groups at a time, attributed, then dropped.
    let mut attribution = attribute::Attribution::new(&ifaces, &topo, scan_bucket);
    for (fi, (f, at)) in files.iter_mut().zip(groups_at).enumerate() {
        let groups = at.load()?;
        attribution.add(f, groups.as_ref(), offsets.get(fi).copied().unwrap_or(0));
    }
    let model = attribution.finish(o.bucket_ns);
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
    summary.flow_evictions = files
        .iter()
        .filter(|f| f.flows_evicted.0 > 0)
        .map(|f| summary::FlowEvictions {
            input: f.name.clone(),
            evicted: f.flows_evicted.0,
            for_shared_budget: f.flows_evicted.1,
        })
        .collect();
    summary.reconciliation = reconcile::reconcile(&model, &evidence);
    let (inputs, fingerprints) = capture_inputs.into_iter().chain(other_inputs).unzip();
    Ok(Ok(Analysis {
        model,
        summary,
        inputs,
        fingerprints,
        evidence,
        smb: smb_report,
        code,
    }))
}

/// `analyze INPUTS` (scan + merge) or `analyze --from SHARDS` (merge).
fn analyze_or_merge(args: &AnalyzeArgs, o: &AnalyzeOptions<'_>) -> Result<Analysis, ExitCode> {
    if args.from.is_empty() {
        return analyze(&args.inputs, o);
    }
    match crate::shard::open_for_merge(&args.from, scan_bucket(o.bucket_ns)) {
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
        fingerprints,
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
            fingerprints: &fingerprints,
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
