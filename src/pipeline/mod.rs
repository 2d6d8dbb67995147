//! Pipeline stage 1: open inputs, recognise them by content, and drive the
//! streaming decoders over them — in parallel across files (rayon).

pub mod scan;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use hvsleuth_parsers::{InputKind, sniff};

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
