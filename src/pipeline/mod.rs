//! Pipeline stage 1: open inputs, recognise them by content, and drive the
//! streaming decoders over them — in parallel across files (rayon).

pub mod scan;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hvsleuth_parsers::capture::{InterfaceInfo, Packet, PacketSink};
use hvsleuth_parsers::{InputKind, sniff};
use indicatif::ProgressBar;

/// An input file opened for streaming, with its kind judged by content.
pub struct OpenInput {
    pub kind: InputKind,
    pub reader: BufReader<File>,
}

/// Opens `path` and sniffs its first bytes (a gzip file is reported as `Gzip`;
/// the capture reader looks inside it).
pub fn open_input(path: &Path) -> Result<OpenInput> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let head = reader
        .fill_buf()
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let kind = sniff(head);
    Ok(OpenInput { kind, reader })
}

/// A short display name for a file (its file name).
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Expands the command line's inputs: files stay as given; directories are
/// walked recursively (sorted; hidden entries skipped), and of their files only
/// those whose content `keep` accepts are used.
pub fn expand_inputs(inputs: &[PathBuf], keep: impl Fn(InputKind) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, keep: &dyn Fn(InputKind) -> bool, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, keep, out);
            } else if open_input(&p).is_ok_and(|i| keep(i.kind)) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            walk(p, &keep, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// Forwards to another sink and advances a shared progress bar.
pub struct ProgressSink<'a, S> {
    inner: &'a mut S,
    bar: &'a ProgressBar,
    last: u64,
}

impl<'a, S> ProgressSink<'a, S> {
    pub fn new(inner: &'a mut S, bar: &'a ProgressBar) -> Self {
        ProgressSink {
            inner,
            bar,
            last: 0,
        }
    }
}

impl<S: PacketSink> PacketSink for ProgressSink<'_, S> {
    fn interface(&mut self, info: &InterfaceInfo) {
        self.inner.interface(info);
    }
    #[inline]
    fn packet(&mut self, pkt: &Packet<'_>) {
        self.inner.packet(pkt);
    }
    fn progress(&mut self, consumed: u64) {
        self.bar.inc(consumed.saturating_sub(self.last));
        self.last = consumed;
    }
}
