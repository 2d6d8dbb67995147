//! Stage 1 over files: each capture scanned on its own (rayon, one file per
//! task) into a [`FileScan`], what the global merge stage uses of it (the
//! part a scan shard carries, see [`crate::shard`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hvsleuth_parsers::capture::InterfaceInfo;
use hvsleuth_parsers::flow::{ConvKey, Direction, Endpoint};
use hvsleuth_parsers::flowtable::FastMap;
use hvsleuth_parsers::smb::crypto::KeyRing;
use hvsleuth_parsers::smb::crypto::keys::LearnedKeys;
use hvsleuth_parsers::smb::model::SmbModel;
use indicatif::ProgressBar;
use rayon::prelude::*;

use super::scan::{HeartbeatTrack, IfaceCounts, Scan, ScanConfig};
use super::{ProgressSink, display_name, read_packets};
use crate::attribution::groups::Groups;
use crate::progress::bytes_bar;

/// What one capture's scan hands to the global stage.
#[derive(Default)]
pub struct ScanOutput {
    pub interfaces: Vec<InterfaceInfo>,
    /// Per interface index.
    pub iface_counts: Vec<IfaceCounts>,
    pub groups: Option<Groups>,
    /// Heartbeat tracks by (capture interface, source, destination).
    pub heartbeats: BTreeMap<(u32, IpAddr, IpAddr), HeartbeatTrack>,
    /// See [`Scan::mac_ips`].
    pub mac_ips: FastMap<(u32, [u8; 6], IpAddr), u64>,
    /// See [`Scan::mac_pairs`].
    pub mac_pairs: FastMap<(u32, [u8; 6], [u8; 6]), u64>,
    /// See [`Scan::dir_macs`].
    pub dir_macs: FastMap<(u32, [u8; 6]), u64>,
    /// See [`Scan::seg_samples`].
    pub seg_samples: FastMap<(ConvKey, Direction, u32, u32), i64>,
    /// See [`Scan::answers`].
    pub answers: FastMap<(u32, IpAddr), super::scan::AnswerTimes>,
    /// This capture's SMB session model (merged across files by the global stage).
    pub smb_model: Option<SmbModel>,
    /// SMB Witness operations (for `hvsleuth smb`; not part of a shard).
    pub witness: Vec<(Endpoint, Endpoint, hvsleuth_parsers::dcerpc::WitnessEvent)>,
}

impl From<Scan> for ScanOutput {
    fn from(s: Scan) -> ScanOutput {
        ScanOutput {
            interfaces: s.interfaces,
            iface_counts: s.iface_counts,
            groups: s.groups,
            heartbeats: s.heartbeats,
            mac_ips: s.mac_ips,
            mac_pairs: s.mac_pairs,
            dir_macs: s.dir_macs,
            seg_samples: s.seg_samples,
            answers: s.answers,
            smb_model: s.smb_model,
            witness: s.apps.witness,
        }
    }
}

/// One input file after the scanner's pass: what the global stage uses of it.
pub struct FileScan {
    pub name: String,
    pub scan: ScanOutput,
    /// Why reading stopped early (message with offset), and whether anything was read.
    pub error: Option<(String, bool)>,
    pub notes: Vec<String>,
    /// Conversations evicted before their idle timeout, and of them those the
    /// flow budget shared with the other files forced.
    pub flows_evicted: (u64, u64),
}

/// Scans every packet input in parallel (rayon, one file per task) with a
/// progress bar over their total size; each file keeps its own SMB model.
pub fn scan_files(paths: &[PathBuf], cfg: &ScanConfig, no_progress: bool) -> Vec<FileScan> {
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = bytes_bar(total, no_progress);
    // One flow budget for the files read in parallel.
    let cfg = &cfg.shared_budget();
    let files = match &cfg.smb_keys {
        None => paths.par_iter().map(|p| scan_file(p, cfg, &bar)).collect(),
        Some(ring) => scan_files_keyed(paths, cfg, ring, &bar),
    };
    bar.finish_and_clear();
    files
}

/// [`scan_files`] with SMB keys. Each file learns session keys (from
/// SESSION_SETUP with a supplied password) into a ring of its own, so the
/// result never depends on which file a thread reached first. A session's
/// channels may lie in other captures than its SESSION_SETUP (Multichannel:
/// one capture per NIC or node): a file that met encrypted messages of a
/// session without a key, whose keys another file learnt, is read again
/// with them.
fn scan_files_keyed(
    paths: &[PathBuf],
    cfg: &ScanConfig,
    ring: &Arc<KeyRing>,
    bar: &ProgressBar,
) -> Vec<FileScan> {
    let with = |r: KeyRing| ScanConfig {
        smb_keys: Some(Arc::new(r)),
        ..cfg.clone()
    };
    let rings: Vec<ScanConfig> = paths.iter().map(|_| with(ring.fresh())).collect();
    let mut files: Vec<FileScan> = paths
        .par_iter()
        .zip(&rings)
        .map(|(p, c)| scan_file(p, c, bar))
        .collect();
    let learnt_in = |c: &ScanConfig| {
        c.smb_keys
            .as_ref()
            .map(|r| r.learned_all())
            .unwrap_or_default()
    };
    // Session id -> (keys, index of the first file that learnt them).
    let mut learnt: BTreeMap<u64, (LearnedKeys, usize)> = BTreeMap::new();
    for (i, c) in rings.iter().enumerate() {
        for (sid, k) in learnt_in(c) {
            learnt.entry(sid).or_insert((k, i));
        }
    }
    let again: Vec<(usize, Vec<u64>)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let missing: Vec<u64> = f
                .scan
                .smb_model
                .as_ref()?
                .sessions_without_key()
                .into_iter()
                .filter(|s| learnt.get(s).is_some_and(|(_, j)| *j != i))
                .collect();
            (!missing.is_empty()).then_some((i, missing))
        })
        .collect();
    if again.is_empty() {
        return files;
    }
    bar.inc_length(
        again
            .iter()
            .map(|(i, _)| std::fs::metadata(&paths[*i]).map(|m| m.len()).unwrap_or(0))
            .sum(),
    );
    let redone: Vec<(usize, FileScan)> = again
        .par_iter()
        .map(|(i, missing)| {
            let r = ring.fresh();
            for (sid, (k, _)) in &learnt {
                r.learn(*sid, k.clone(), false);
            }
            let mut f = scan_file(&paths[*i], &with(r), bar);
            let from: BTreeSet<&str> = missing
                .iter()
                .filter_map(|s| learnt.get(s))
                .map(|(_, j)| files[*j].name.as_str())
                .collect();
            f.notes.push(format!(
                "read a second time: {} encrypted SMB session{} here set up in {} (the keys derived there from its SESSION_SETUP)",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                from.into_iter().collect::<Vec<_>>().join(", ")
            ));
            (*i, f)
        })
        .collect();
    for (i, f) in redone {
        files[i] = f;
    }
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
        flows_evicted: (scan.flows_evicted(), scan.flows_evicted_for_budget()),
        scan: ScanOutput::from(scan),
        error,
        notes,
    }
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

/// The scanner's configuration for an analysis with chart bucket `bucket_ns`.
pub fn scan_config(
    bucket_ns: i64,
    max_flows: usize,
    smb_keys: Option<std::sync::Arc<hvsleuth_parsers::smb::crypto::KeyRing>>,
) -> ScanConfig {
    ScanConfig {
        max_flows,
        bucket_ns: Some(scan_bucket(bucket_ns)),
        smb_keys,
        ..ScanConfig::default()
    }
}
