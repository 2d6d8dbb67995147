//! Pipeline stage 1: open inputs, recognise them by content, and drive the
//! streaming decoders over them — in parallel across files (rayon).

pub mod apps;
pub mod scan;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
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

/// What reading a packet input achieved, whatever its format.
#[derive(Debug, Clone, Default)]
pub struct PacketRead {
    /// "pcap", "pcapng" or "etl".
    pub format: Option<&'static str>,
    pub gzip: bool,
    pub packets: u64,
    /// Damage: byte offset and message (the file path included).
    pub error: Option<(u64, String)>,
    /// Things worth telling (ETL: no packet events, compressed buffers skipped).
    pub notes: Vec<String>,
}

/// The kind of a packet input, looking inside gzip.
fn packet_kind(path: &Path, kind: InputKind) -> InputKind {
    if kind != InputKind::Gzip {
        return kind;
    }
    let mut head = Vec::with_capacity(4096);
    if let Ok(f) = File::open(path) {
        let gz = flate2::read::MultiGzDecoder::new(f);
        let _ = std::io::Read::take(gz, 4096).read_to_end(&mut head);
    }
    match sniff(&head) {
        InputKind::Gzip => InputKind::Unknown,
        k => k,
    }
}

/// Maps a regular file read-only; `None` when it cannot be mapped (pipes,
/// special files, empty files), in which case the caller streams it.
fn map_file(path: &Path) -> Option<memmap2::Mmap> {
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    // SAFETY: the mapping is read-only and private to this process. If another
    // process truncates or rewrites the file while it is mapped, reads may see
    // the new bytes or fault (SIGBUS); captures under analysis are not expected
    // to change, and the parsers treat every byte as untrusted anyway.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(map)
}

/// Forwards to a sink and, as parsing advances through a memory-mapped file,
/// drops the pages already parsed from this process (they stay in the page
/// cache), so resident memory stays bounded by state, not by file size.
struct DropBehind<'a> {
    inner: &'a mut dyn PacketSink,
    map: &'a memmap2::Mmap,
    dropped: usize,
}

/// Parsed bytes released at a time (a multiple of every page size).
const DROP_CHUNK: usize = 64 << 20;

impl PacketSink for DropBehind<'_> {
    fn interface(&mut self, info: &InterfaceInfo) {
        self.inner.interface(info);
    }
    #[inline]
    fn packet(&mut self, pkt: &Packet<'_>) {
        self.inner.packet(pkt);
    }
    fn progress(&mut self, consumed: u64) {
        self.inner.progress(consumed);
        let end = (consumed as usize / DROP_CHUNK) * DROP_CHUNK;
        if end > self.dropped {
            #[cfg(unix)]
            // SAFETY: DONTNEED on a read-only private file mapping only drops the
            // page-table entries; a later access re-reads the same file bytes, so
            // every outstanding reference stays valid. The range is page-aligned
            // and inside the mapping.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.dropped,
                    end - self.dropped,
                )
            };
            self.dropped = end;
        }
    }
}

/// Whether `kind` (of a file as sniffed) may hold packets.
pub fn is_packet_input(kind: InputKind) -> bool {
    matches!(
        kind,
        InputKind::Pcap | InputKind::PcapNg | InputKind::Etl | InputKind::Gzip
    )
}

/// Reads the packets of a capture or ETL trace (gzip or not) into `sink`.
/// `Err` when the file is not a packet input at all (the message says what it is).
pub fn read_packets(
    path: &Path,
    sink: &mut dyn PacketSink,
) -> std::result::Result<PacketRead, String> {
    let input = open_input(path).map_err(|e| format!("{e:#}"))?;
    let name = display_name(path);
    let kind = packet_kind(path, input.kind);
    let is_blg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("blg"));
    match kind {
        InputKind::Pcap | InputKind::PcapNg => {
            // Uncompressed captures are memory-mapped and parsed in place (no copy);
            // anything that cannot be mapped is streamed.
            let r = match (input.kind, map_file(path)) {
                (InputKind::Pcap | InputKind::PcapNg, Some(map)) => {
                    let mut behind = DropBehind {
                        inner: sink,
                        map: &map,
                        dropped: 0,
                    };
                    hvsleuth_parsers::capture::read_capture_slice(&map, &name, &mut behind)
                }
                _ => hvsleuth_parsers::capture::read_capture(input.reader, &name, sink),
            };
            Ok(PacketRead {
                format: r.format.map(|f| match f {
                    hvsleuth_parsers::capture::CaptureFormat::Pcap => "pcap",
                    hvsleuth_parsers::capture::CaptureFormat::PcapNg => "pcapng",
                }),
                gzip: r.gzip,
                packets: r.packets,
                error: capture_damage(path, &r),
                notes: Vec::new(),
            })
        }
        InputKind::Etl if !is_blg => {
            let r = hvsleuth_parsers::etl::read_etl(input.reader, &name, sink);
            let mut notes = Vec::new();
            if !r.has_packet_events() {
                notes.push(format!(
                    "{}: ETL trace with no packet events ({})",
                    path.display(),
                    r.summary()
                ));
            }
            if r.compressed_buffers > 0 {
                notes.push(format!(
                    "{}: {} compressed ETL buffers skipped (compressed traces are not supported)",
                    path.display(),
                    r.compressed_buffers
                ));
            }
            Ok(PacketRead {
                format: Some("etl"),
                gzip: r.gzip,
                packets: r.packets,
                error: r
                    .error
                    .map(|e| (e.offset, format!("{}: {e}", path.display()))),
                notes,
            })
        }
        InputKind::Blg | InputKind::Etl => Err(format!(
            "{}: a binary perfmon log (.blg): convert it with `relog {} -f csv -o {}.csv`",
            path.display(),
            name,
            name.trim_end_matches(".blg")
        )),
        InputKind::Unknown => Err(format!(
            "{}: not a pcap, pcapng or ETL capture",
            path.display()
        )),
        k => Err(format!(
            "{}: a {k:?} file, not a packet capture (use `hvsleuth analyze`)",
            path.display()
        )),
    }
}

/// Where a capture read stopped or what it skipped, as (offset, message):
/// either makes the input partial.
fn capture_damage(path: &Path, r: &hvsleuth_parsers::capture::ReadReport) -> Option<(u64, String)> {
    let mut parts: Vec<String> = r.skipped.iter().map(|e| e.to_string()).collect();
    if r.skipped_count > r.skipped.len() as u64 {
        parts.push(format!(
            "and {} more damaged places",
            r.skipped_count - r.skipped.len() as u64
        ));
    }
    if let Some(e) = &r.error {
        parts.push(e.to_string());
    }
    let offset = r.skipped.first().or(r.error.as_ref())?.offset;
    Some((offset, format!("{}: {}", path.display(), parts.join("; "))))
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
