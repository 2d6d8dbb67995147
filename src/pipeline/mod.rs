//! Pipeline stage 1: open inputs, recognise them by content, and drive the
//! streaming decoders over them — in parallel across files (rayon).

pub mod apps;
pub mod files;
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
    /// Copies of one packet not counted again: pktmon components (ETL:
    /// same PktGroupId; pktmon pcapng: same bytes microseconds apart) and
    /// NDIS layers.
    pub duplicates_removed: u64,
    /// 802.11 frames that pktmon wrote as Ethernet (counted, not analysed).
    pub wifi_frames: u64,
    /// Frames a pktmon component logged as dropped (ETL event 170).
    pub dropped_frames: u64,
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

/// Parsed bytes released at a time (a multiple of every page size): small
/// enough that a mapped capture adds only a few MB to the resident set.
const DROP_CHUNK: usize = 8 << 20;

impl PacketSink for DropBehind<'_> {
    fn interface(&mut self, info: &InterfaceInfo) {
        self.inner.interface(info);
    }
    #[inline]
    fn packet(&mut self, pkt: &Packet<'_>) {
        self.inner.packet(pkt);
    }
    fn section(&mut self, application: Option<&str>) {
        self.inner.section(application);
    }

    fn next_direction(&mut self, outbound: bool) {
        self.inner.next_direction(outbound);
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
/// pktmon-written pcapng is repaired on the way (see
/// [`hvsleuth_parsers::pktmon_pcapng`]). A file that yields no packet at all
/// comes back with an error at offset 0 (nothing readable: exit code 4).
pub fn read_packets(
    path: &Path,
    sink: &mut dyn PacketSink,
) -> std::result::Result<PacketRead, String> {
    let mut filter = hvsleuth_parsers::pktmon_pcapng::PktmonPcapngFilter::new(sink);
    let mut r = read_packets_inner(path, &mut filter)?;
    let fix = filter.repairs;
    if fix.duplicates_removed > 0 {
        r.notes.push(format!(
            "{}: written by pktmon: {} copies of packets logged again by other stack components removed (same bytes on the same interface within {} us)",
            path.display(),
            fix.duplicates_removed,
            hvsleuth_parsers::pktmon_pcapng::DUP_WINDOW_NS / 1000
        ));
    }
    if fix.wifi_frames > 0 {
        r.notes.push(format!(
            "{}: written by pktmon: {} 802.11 frames labelled as Ethernet (bogus EtherTypes) counted apart, not analysed",
            path.display(),
            fix.wifi_frames
        ));
    }
    r.duplicates_removed += fix.duplicates_removed;
    r.wifi_frames += fix.wifi_frames;
    r.packets = r
        .packets
        .saturating_sub(fix.duplicates_removed + fix.wifi_frames);
    if r.packets == 0 && r.error.is_none() {
        r.error = Some((
            0,
            format!("{}: no packet could be read from it", path.display()),
        ));
    }
    Ok(r)
}

fn read_packets_inner(
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
                ..PacketRead::default()
            })
        }
        InputKind::Etl if !is_blg => {
            // pktmon's component table (NIC names) comes at the end of the
            // trace: read_etl_file finds it in the last buffers first (a full
            // first pass only when it is not there, or for gzip). Unbuffered:
            // it seeks from buffer header to buffer header.
            drop(input);
            let file =
                File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
            let r = hvsleuth_parsers::etl::read_etl_file(file, &name, sink);
            let mut notes = Vec::new();
            if !r.has_packet_events() {
                notes.push(format!(
                    "{}: ETL trace with no packet events ({})",
                    path.display(),
                    r.summary()
                ));
            }
            if r.damaged_compressed_buffers > 0 {
                notes.push(format!(
                    "{}: {} of {} compressed ETL buffers did not decode and were skipped",
                    path.display(),
                    r.damaged_compressed_buffers,
                    r.compressed_buffers
                ));
            }
            if r.dropped_frames > 0 {
                notes.push(format!(
                    "{}: {} frames logged as dropped by a pktmon component (counted, not analysed)",
                    path.display(),
                    r.dropped_frames
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
                duplicates_removed: r.duplicates,
                wifi_frames: 0,
                dropped_frames: r.dropped_frames,
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
            } else {
                match open_input(&p) {
                    Ok(i) if i.kind == InputKind::Cab => eprintln!("{}", companion_note(&p)),
                    Ok(i) if keep(i.kind) => out.push(p),
                    // Say what was left out of a directory, and why.
                    Ok(i) if i.kind == InputKind::Unknown => {
                        eprintln!("skipped {}: not a recognised input", p.display())
                    }
                    Ok(i) => eprintln!(
                        "skipped {}: {:?} input, not read by this command",
                        p.display(),
                        i.kind
                    ),
                    Err(e) => eprintln!("skipped {}: {e:#}", p.display()),
                }
            }
        }
    }
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            walk(p, &keep, &mut out);
        } else if open_input(p).is_ok_and(|i| i.kind == InputKind::Cab) {
            eprintln!("{}", companion_note(p));
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// What is said of a cabinet archive among the inputs, named or found in a
/// directory: `netsh trace ... report=yes` writes one (NetTrace.cab) beside
/// the trace; it holds configuration reports and logs, not packets.
pub fn companion_note(p: &Path) -> String {
    format!(
        "ignored {}: a cabinet archive (.cab), the report companion `netsh trace` writes beside its .etl (configuration reports and logs, no packets); the .etl is the capture. To use the event logs inside, extract them (`expand {} -F:*.evtx DIR`) and pass DIR",
        hvsleuth_reports::escape::terminal(&p.display().to_string()),
        hvsleuth_reports::escape::terminal(&display_name(p)),
    )
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
    fn next_direction(&mut self, outbound: bool) {
        self.inner.next_direction(outbound);
    }
    fn section(&mut self, application: Option<&str>) {
        self.inner.section(application);
    }
    fn progress(&mut self, consumed: u64) {
        self.bar.inc(consumed.saturating_sub(self.last));
        self.last = consumed;
    }
}
