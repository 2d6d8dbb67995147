//! The contract between the two stages of `analyze`: a **shard** is what the
//! per-file scan stage found in one input, exactly what the global merge
//! stage (topology, skew, attribution, findings, report) uses of it.
//!
//! `hvsleuth scan INPUT... --out SHARDS/` writes one shard directory per
//! input; `hvsleuth analyze --from SHARDS/` merges them. `analyze INPUTS`
//! builds the same shards in memory and hands them to the same merge, so
//! the two give the same result by construction; the on-disk form is
//! lossless (tested: byte-identical outputs on every sample scenario).
//! The merge reads a shard on disk in two passes ([`MergeShard`]): first
//! everything but the service groups' series (and the SMB model, folded at
//! once), then, one shard at a time, the groups with their series.
//!
//! On disk (`SHARDS/<file name>-<16 hex>/`):
//! - `manifest.json`: input path, size, SHA-256 of the first MiB, hvsleuth
//!   and schema versions, the scan settings, and the input's notes and errors;
//! - Parquet tables (see [`tables`]): interfaces, per-interface counts,
//!   service groups with their time series and application facts, heartbeat
//!   tracks (arrivals, gaps), MAC tables, TCP segment samples (clock skew),
//!   perfmon counters and samples, timeline events;
//! - `smb_model.json`: the capture's SMB session model (sessions, channels,
//!   per-MessageId IO, trees, files), which is nested and keyed by tuples, so
//!   JSON rather than a Parquet table.
//!
//! A shard is reused by `scan` when its manifest matches the input (size and
//! head hash), the hvsleuth and schema versions and the scan settings.

pub mod tables;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use hvsleuth_parsers::InputKind;
use rayon::prelude::*;

use crate::attribution::groups::Groups;
use crate::evidence::Evidence;
use crate::merge::facts::CaptureFacts;
use crate::pipeline::files::{FileScan, scan_files};
use crate::pipeline::scan::ScanConfig;
use crate::pipeline::{is_packet_input, open_input};
use hvsleuth_parsers::smb::model::SmbModel;

/// Version of the shard layout; a shard of another version is not read.
pub const SCHEMA_VERSION: u32 = 2;
/// Bytes of an input hashed for its fingerprint.
const HEAD_BYTES: u64 = 1 << 20;

/// The scan settings a shard was made with (a shard is reused only with the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSettings {
    /// The scan's time bucket (1 s for any whole-second chart bucket).
    pub bucket_ns: i64,
    pub max_flows: usize,
    pub max_groups: usize,
    /// SMB decryption keys were given (such shards are never reused: the keys
    /// are not recorded).
    pub smb_keys: bool,
}

impl ScanSettings {
    pub fn of(cfg: &ScanConfig) -> ScanSettings {
        ScanSettings {
            bucket_ns: cfg.bucket_ns.unwrap_or(0),
            max_flows: cfg.max_flows,
            max_groups: cfg.max_groups,
            smb_keys: cfg.smb_keys.is_some(),
        }
    }
}

/// Size and SHA-256 of the first MiB: an input unchanged has the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub size: u64,
    pub head_sha256: String,
}

impl Fingerprint {
    pub fn of(path: &Path) -> Option<Fingerprint> {
        let mut f = std::fs::File::open(path).ok()?;
        let size = f.metadata().ok()?.len();
        let mut head = Vec::with_capacity(HEAD_BYTES as usize);
        (&mut f).take(HEAD_BYTES).read_to_end(&mut head).ok()?;
        Some(Fingerprint {
            size,
            head_sha256: hex(&Sha256::digest(&head)),
        })
    }
}

impl Fingerprint {
    /// (size, SHA-256 bytes), as the dataset's incident id takes them.
    pub fn parts(&self) -> Option<(u64, [u8; 32])> {
        let h = self.head_sha256.as_bytes();
        if h.len() != 64 {
            return None;
        }
        let mut d = [0u8; 32];
        for (i, b) in d.iter_mut().enumerate() {
            *b = u8::from_str_radix(std::str::from_utf8(&h[2 * i..2 * i + 2]).ok()?, 16).ok()?;
        }
        Some((self.size, d))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `manifest.json` of a shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub hvsleuth_version: String,
    /// The input path as given to `scan`.
    pub input: String,
    /// `None` when the input could not be read at all.
    pub fingerprint: Option<Fingerprint>,
    /// "capture" or "evidence".
    pub kind: String,
    /// A Windows event log (.evtx): merged before other evidence, as it is read first.
    pub evtx: bool,
    pub settings: ScanSettings,
    /// Capture: the display name, the error (message, something was read) and notes.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub error: Option<(String, bool)>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// Capture: conversations evicted early, and of them for the shared flow budget.
    #[serde(default)]
    pub flows_evicted: (u64, u64),
    /// Capture groups: bucket, cap and folded services (the groups are in the tables).
    #[serde(default)]
    pub groups: Option<(i64, usize, u64)>,
    /// Evidence: the reason it could not be read at all.
    #[serde(default)]
    pub evidence_error: Option<String>,
    /// Evidence: remarks and damage.
    #[serde(default)]
    pub damaged: Vec<String>,
    /// Tables in this shard, with their row counts.
    #[serde(default)]
    pub tables: BTreeMap<String, usize>,
}

/// What a shard carries.
pub enum ShardBody {
    Capture(Box<FileScan>),
    /// Counters and events of one evidence file, or why it could not be read.
    Evidence(std::result::Result<Evidence, String>),
}

/// One input's scan result.
pub struct Shard {
    pub manifest: Manifest,
    pub body: ShardBody,
}

fn manifest(input: &Path, cfg: &ScanConfig, kind: &str, evtx: bool) -> Manifest {
    Manifest {
        schema_version: SCHEMA_VERSION,
        hvsleuth_version: env!("CARGO_PKG_VERSION").to_string(),
        input: input.display().to_string(),
        fingerprint: Fingerprint::of(input),
        kind: kind.to_string(),
        evtx,
        settings: ScanSettings::of(cfg),
        name: String::new(),
        error: None,
        notes: Vec::new(),
        flows_evicted: (0, 0),
        groups: None,
        evidence_error: None,
        damaged: Vec::new(),
        tables: BTreeMap::new(),
    }
}

impl Shard {
    pub fn capture(input: &Path, cfg: &ScanConfig, f: FileScan) -> Shard {
        Shard {
            manifest: manifest(input, cfg, "capture", false),
            body: ShardBody::Capture(Box::new(f)),
        }
    }

    pub fn evidence(
        input: &Path,
        cfg: &ScanConfig,
        evtx: bool,
        r: std::result::Result<Evidence, String>,
    ) -> Shard {
        Shard {
            manifest: manifest(input, cfg, "evidence", evtx),
            body: ShardBody::Evidence(r),
        }
    }
}

/// The directory name of an input's shard: its file name (made safe) and 16
/// hex digits of the SHA-256 of its path as given.
pub fn shard_dir_name(input: &str) -> String {
    let name: String = Path::new(input)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}-{}",
        name.trim_start_matches('.'),
        &hex(&Sha256::digest(input.as_bytes()))[..16]
    )
}

/// Writes `shard` as `root/<shard_dir_name>/` (replacing an older one; the
/// manifest is written last, into a directory renamed into place).
pub fn write(root: &Path, shard: &Shard) -> Result<PathBuf> {
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let dir = root.join(shard_dir_name(&shard.manifest.input));
    let tmp = root.join(format!(
        ".{}.tmp-{}",
        shard_dir_name(&shard.manifest.input),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut m = shard.manifest.clone();
    match &shard.body {
        ShardBody::Capture(f) => {
            m.name = f.name.clone();
            m.error = f.error.clone();
            m.notes = f.notes.clone();
            m.flows_evicted = f.flows_evicted;
            m.groups = f
                .scan
                .groups
                .as_ref()
                .map(|g| (g.bucket_ns, g.cap(), g.overflowed));
            m.tables = tables::write_capture(&tmp, &f.scan)?;
        }
        ShardBody::Evidence(Ok(e)) => {
            m.notes = e.notes.clone();
            m.damaged = e.damaged.clone();
            m.tables = tables::write_evidence(&tmp, e)?;
        }
        ShardBody::Evidence(Err(msg)) => m.evidence_error = Some(msg.clone()),
    }
    let json = serde_json::to_vec_pretty(&m)?;
    std::fs::write(tmp.join("manifest.json"), json)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), dir.display()))?;
    Ok(dir)
}

/// Reads a shard's manifest only.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let p = dir.join("manifest.json");
    let b = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
    let m: Manifest = serde_json::from_slice(&b)
        .with_context(|| format!("{}: not a shard manifest", p.display()))?;
    if m.schema_version != SCHEMA_VERSION {
        bail!(
            "{}: shard schema version {} (this hvsleuth reads {SCHEMA_VERSION}): scan again",
            dir.display(),
            m.schema_version
        );
    }
    Ok(m)
}

/// A shard as the merge takes it: in memory (`analyze INPUTS`, which has
/// them anyway) or still in its directory (`analyze --from`), read in two
/// passes ([`MergeShard::first_pass`], then [`GroupsAt::load`]).
pub enum MergeShard {
    Memory(Shard),
    Dir { dir: PathBuf, manifest: Manifest },
}

/// What the merge's first pass takes of a shard.
pub enum FirstPass {
    Capture {
        facts: Box<CaptureFacts>,
        /// Folded into the merged model at once, then dropped.
        smb: Option<Box<SmbModel>>,
        groups: GroupsAt,
    },
    /// Counters and events of one evidence file, or why it could not be read.
    Evidence(std::result::Result<Evidence, String>),
}

/// Where the merge's second pass finds a capture's service groups.
pub enum GroupsAt {
    Memory(Option<Groups>),
    /// A shard directory, with the manifest's (bucket, cap, folded services).
    Dir(PathBuf, Option<(i64, usize, u64)>),
}

impl GroupsAt {
    /// The groups (read from the shard now, for a shard on disk).
    pub fn load(self) -> Result<Option<Groups>> {
        match self {
            GroupsAt::Memory(g) => Ok(g),
            GroupsAt::Dir(dir, Some((bucket, cap, overflowed))) => {
                let (keys, groups) = tables::read_capture_groups(&dir)
                    .with_context(|| format!("{}: damaged shard", dir.display()))?;
                Ok(Some(Groups::from_parts(
                    bucket, cap, keys, groups, overflowed,
                )))
            }
            GroupsAt::Dir(_, None) => Ok(None),
        }
    }
}

impl MergeShard {
    pub fn is_capture(&self) -> bool {
        match self {
            MergeShard::Memory(s) => matches!(s.body, ShardBody::Capture(_)),
            MergeShard::Dir { manifest, .. } => manifest.kind == "capture",
        }
    }

    /// The shard's manifest and what the first pass needs of it (for a
    /// capture on disk: every table but the groups' series, facts and frame
    /// lengths, and the SMB model).
    pub fn first_pass(self) -> Result<(Manifest, FirstPass)> {
        match self {
            MergeShard::Memory(s) => {
                let pass = match s.body {
                    ShardBody::Capture(mut f) => {
                        let smb = f.scan.smb_model.take().map(Box::new);
                        let (facts, groups) = CaptureFacts::from_file(&mut f);
                        FirstPass::Capture {
                            facts: Box::new(facts),
                            smb,
                            groups: GroupsAt::Memory(groups),
                        }
                    }
                    ShardBody::Evidence(r) => FirstPass::Evidence(r),
                };
                Ok((s.manifest, pass))
            }
            MergeShard::Dir { dir, manifest: m } => {
                let pass = match m.kind.as_str() {
                    "capture" => {
                        let (mut facts, smb) = tables::read_capture_facts(&dir)
                            .with_context(|| format!("{}: damaged shard", dir.display()))?;
                        facts.name = m.name.clone();
                        facts.error = m.error.clone();
                        facts.notes = m.notes.clone();
                        facts.flows_evicted = m.flows_evicted;
                        FirstPass::Capture {
                            facts: Box::new(facts),
                            smb: smb.map(Box::new),
                            groups: GroupsAt::Dir(dir, m.groups),
                        }
                    }
                    "evidence" => FirstPass::Evidence(match &m.evidence_error {
                        Some(e) => Err(e.clone()),
                        None => {
                            let mut e = tables::read_evidence(&dir)
                                .with_context(|| format!("{}: damaged shard", dir.display()))?;
                            e.notes = m.notes.clone();
                            e.damaged = m.damaged.clone();
                            Ok(e)
                        }
                    }),
                    k => bail!("{}: unknown shard kind {k:?}", dir.display()),
                };
                Ok((m, pass))
            }
        }
    }
}

/// The file in a directory of shards that lists them in scan order.
pub const ORDER_FILE: &str = "_order.json";

/// The shard directories named by `paths`, in order: each a shard, or a
/// directory of shards (its subdirectories holding a manifest.json), taken
/// in the order `scan` listed them in its `_order.json` (inputs in the
/// order scanned; shards of later runs after those of earlier ones), then
/// any others by name.
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.join("manifest.json").is_file() {
            out.push(p.clone());
            continue;
        }
        let rd = std::fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))?;
        let mut v: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|d| {
                !d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    && d.join("manifest.json").is_file()
            })
            .collect();
        if v.is_empty() {
            bail!(
                "{}: no shards in it (made by `hvsleuth scan --out`)",
                p.display()
            );
        }
        let order = read_order(p);
        let rank = |d: &PathBuf| {
            let name = d.file_name().map(|n| n.to_string_lossy().into_owned());
            name.and_then(|n| order.iter().position(|o| *o == n))
                .unwrap_or(usize::MAX)
        };
        v.sort_by_cached_key(|d| (rank(d), d.clone()));
        out.extend(v);
    }
    Ok(out)
}

fn read_order(root: &Path) -> Vec<String> {
    std::fs::read(root.join(ORDER_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Adds `names` (shard directory names, in scan order) to the directory's
/// order: names already listed keep their place, new ones go last.
fn update_order(root: &Path, names: &[String]) -> Result<()> {
    let mut order = read_order(root);
    for n in names {
        if !order.contains(n) {
            order.push(n.clone());
        }
    }
    let tmp = root.join(format!(".{ORDER_FILE}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&order)?)?;
    std::fs::rename(&tmp, root.join(ORDER_FILE))?;
    Ok(())
}

/// The shards for a merge, in the order [`find`] gives, captures first (as
/// `analyze` orders its inputs); each must have been scanned with
/// `bucket_ns` as its scan bucket. Only the manifests are read here: the
/// merge reads the tables as it goes.
pub fn open_for_merge(paths: &[PathBuf], bucket_ns: i64) -> Result<Vec<MergeShard>> {
    let dirs = find(paths)?;
    let mut shards = Vec::with_capacity(dirs.len());
    for d in dirs {
        let m = read_manifest(&d)?;
        if m.settings.bucket_ns != bucket_ns {
            bail!(
                "{}: scanned with a {} ns bucket, this analysis needs {bucket_ns} ns (scan again with the same --bucket)",
                d.display(),
                m.settings.bucket_ns
            );
        }
        if !matches!(m.kind.as_str(), "capture" | "evidence") {
            bail!("{}: unknown shard kind {:?}", d.display(), m.kind);
        }
        shards.push(MergeShard::Dir {
            dir: d,
            manifest: m,
        });
    }
    // Captures first, then the other inputs, each in scan order.
    let (mut caps, rest): (Vec<MergeShard>, Vec<MergeShard>) =
        shards.into_iter().partition(MergeShard::is_capture);
    caps.extend(rest);
    Ok(caps)
}

/// Whether the shard in `dir` can stand for `input` scanned with `settings`.
pub fn reusable(dir: &Path, input: &Path, settings: &ScanSettings) -> bool {
    let Ok(m) = read_manifest(dir) else {
        return false;
    };
    !settings.smb_keys
        && m.hvsleuth_version == env!("CARGO_PKG_VERSION")
        && m.input == input.display().to_string()
        && &m.settings == settings
        && m.fingerprint.is_some()
        && m.fingerprint == Fingerprint::of(input)
}

/// The scan stage: every input read on its own (captures in parallel, one
/// per task; event logs one after another with the evtx crate's own threads;
/// other evidence in parallel), one shard each, captures first, then the
/// other inputs, each in the order given.
pub fn scan_inputs(all: &[PathBuf], cfg: &ScanConfig, no_progress: bool) -> Vec<Shard> {
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
    let files = scan_files(&captures, cfg, no_progress);
    let mut shards: Vec<Shard> = captures
        .iter()
        .zip(files)
        .map(|(p, f)| Shard::capture(p, cfg, f))
        .collect();
    for ((p, kind), r) in others.iter().zip(kinds).zip(read) {
        let r = r.unwrap_or_else(|| Err(format!("{}: not read", p.display())));
        shards.push(Shard::evidence(p, cfg, kind == InputKind::Evtx, r));
    }
    shards
}

/// `hvsleuth scan`.
pub fn run(args: &crate::cli::ScanArgs) -> crate::exit::ExitCode {
    use crate::exit::ExitCode;
    let cfg = crate::pipeline::files::scan_config(
        args.bucket,
        args.common.max_flows,
        args.common.smb_key_ring(),
    );
    let all =
        crate::pipeline::expand_inputs(&args.inputs, |k| k != hvsleuth_parsers::InputKind::Unknown);
    let all: Vec<PathBuf> = if args.skip_unrecognised {
        all.into_iter()
            .filter(|p| match crate::pipeline::open_input(p) {
                Ok(i) if i.kind != hvsleuth_parsers::InputKind::Unknown => true,
                Ok(_) => {
                    eprintln!("skipped {}: not a recognised input", p.display());
                    false
                }
                Err(e) => {
                    eprintln!("skipped {}: {e:#}", p.display());
                    false
                }
            })
            .collect()
    } else {
        all
    };
    if all.is_empty() {
        if args.skip_unrecognised {
            return ExitCode::Ok;
        }
        eprintln!("error: nothing to scan among the inputs");
        return ExitCode::NothingReadable;
    }
    let settings = ScanSettings::of(&cfg);
    let names: Vec<String> = all
        .iter()
        .map(|p| shard_dir_name(&p.display().to_string()))
        .collect();
    let (reused, todo): (Vec<PathBuf>, Vec<PathBuf>) = all.into_iter().partition(|p| {
        reusable(
            &args.out.join(shard_dir_name(&p.display().to_string())),
            p,
            &settings,
        )
    });
    for p in &reused {
        eprintln!("{}: unchanged, shard reused", p.display());
    }
    let shards = scan_inputs(&todo, &cfg, args.common.no_progress);
    let mut outcomes = Vec::new();
    for s in &shards {
        outcomes.push(match &s.body {
            ShardBody::Capture(f) => {
                if let Some((msg, partial)) = &f.error {
                    let level = if *partial { "warning" } else { "error" };
                    eprintln!("{level}: {msg}");
                }
                (f.error.as_ref().is_none_or(|e| e.1), f.error.is_none())
            }
            ShardBody::Evidence(Ok(e)) => {
                for d in &e.damaged {
                    eprintln!("warning: {d}");
                }
                (true, e.damaged.is_empty())
            }
            ShardBody::Evidence(Err(msg)) => {
                eprintln!("error: {msg}");
                (false, false)
            }
        });
        match write(&args.out, s) {
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: writing the shard of {}: {e:#}", s.manifest.input);
                return ExitCode::Error;
            }
        }
    }
    let _ = std::fs::create_dir_all(&args.out);
    if let Err(e) = update_order(&args.out, &names) {
        eprintln!(
            "error: writing {}: {e:#}",
            args.out.join(ORDER_FILE).display()
        );
        return ExitCode::Error;
    }
    let out: String = names
        .iter()
        .map(|n| format!("{}\n", args.out.join(n).display()))
        .collect();
    if crate::exit::print_stdout(&out) == ExitCode::Error {
        return ExitCode::Error;
    }
    ExitCode::from_outcomes(outcomes)
}
