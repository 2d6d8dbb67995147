//! Windows event logs: binary `.evtx` (through the `evtx` crate, chunks parsed
//! in parallel with rayon), the XML export (`wevtutil qe /f:xml`, Event
//! Viewer "Save as XML": `<Events><Event xmlns=...>...</Event></Events>` or a
//! bare sequence of `<Event>` elements) and Event Viewer's CSV export.
//!
//! Every record becomes a [`WinEvent`]; the ones we track (FailoverClustering
//! CSV/membership/isolation IDs, SMBClient/SMBServer/SMBWitnessClient) carry a
//! [`ClusterEventKind`]. Damaged input is reported and skipped, never fatal:
//! an evtx chunk that fails to parse is counted in [`EvtxReport`] and reading
//! continues with the next chunk.

mod csv;
mod event;
mod kinds;
pub mod xml;

use std::io::Read;
use std::path::Path;

pub use csv::{CsvExportStats, read_event_csv};
pub use event::{MAX_DATA_ITEMS, MAX_VALUE_LEN, WinEvent, parse_event_xml, parse_iso_time};
pub use kinds::{ClusterEventKind, classify_event};

use crate::textio::TextReader;

/// At most this many error messages are kept in a report (all are counted).
pub const MAX_ERROR_SAMPLES: usize = 20;

/// Outcome of reading an .evtx file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EvtxReport {
    /// Records the evtx crate rendered (the figure `evtx_dump` prints).
    pub records: u64,
    /// Rendered records without a usable `<Event>`/`EventID` (not delivered).
    pub unparsed_records: u64,
    /// With [`Select::Tracked`]: records of providers/IDs hvsleuth does not
    /// track (counted, not delivered).
    pub untracked: u64,
    /// Chunk- or record-level errors reported by the crate (reading continued).
    pub errors: u64,
    /// The first [`MAX_ERROR_SAMPLES`] error messages.
    pub error_samples: Vec<String>,
    /// A file cut inside a chunk: (offset, bytes) of the partial 64 KiB chunk
    /// at its end, whose records the evtx crate does not read.
    pub partial_chunk: Option<(u64, u64)>,
}

/// Size of the evtx file header and of each chunk.
const EVTX_HEADER: u64 = 4096;
const EVTX_CHUNK: u64 = 65536;

/// Where a file of `len` bytes ends inside a chunk.
fn partial_chunk(len: u64) -> Option<(u64, u64)> {
    let body = len.checked_sub(EVTX_HEADER)?;
    let rest = body % EVTX_CHUNK;
    (rest > 0).then_some((len - rest, rest))
}

impl EvtxReport {
    /// Records or chunks were lost (errors, or a partial chunk at the end).
    pub fn is_partial(&self) -> bool {
        self.errors > 0 || self.partial_chunk.is_some()
    }
}

impl EvtxReport {
    fn error(&mut self, msg: String) {
        self.errors += 1;
        if self.error_samples.len() < MAX_ERROR_SAMPLES {
            self.error_samples.push(msg);
        }
    }
}

/// Why an .evtx file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum EvtxOpenError {
    #[error("not a readable evtx file: {0}")]
    Open(String),
    #[error("the evtx decoder panicked: {0}")]
    Panicked(String),
}

/// Which records of an .evtx file become [`WinEvent`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Every record.
    All,
    /// Only records whose provider and ID [`classify_event`] knows. The
    /// provider and ID are read from the head of the rendered XML first, so
    /// the full extraction runs only for those; the rest are counted in
    /// [`EvtxReport::untracked`].
    Tracked,
}

/// Reads an .evtx file from disk. `threads == 0` lets rayon decide.
pub fn read_evtx_path(
    path: &Path,
    threads: usize,
    select: Select,
    f: impl FnMut(WinEvent),
) -> Result<EvtxReport, EvtxOpenError> {
    let parser =
        evtx::EvtxParser::from_path(path).map_err(|e| EvtxOpenError::Open(e.to_string()))?;
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut rep = drive(parser, threads, select, f)?;
    rep.partial_chunk = partial_chunk(len);
    Ok(rep)
}

/// Reads an .evtx image held in memory.
pub fn read_evtx_bytes(
    bytes: Vec<u8>,
    threads: usize,
    select: Select,
    f: impl FnMut(WinEvent),
) -> Result<EvtxReport, EvtxOpenError> {
    let len = bytes.len() as u64;
    let parser =
        evtx::EvtxParser::from_buffer(bytes).map_err(|e| EvtxOpenError::Open(e.to_string()))?;
    let mut rep = drive(parser, threads, select, f)?;
    rep.partial_chunk = partial_chunk(len);
    Ok(rep)
}

/// What a worker made of one record.
enum Extracted {
    Event(Box<WinEvent>),
    Unparsed,
    Untracked,
}

fn extract(xml: &[u8], select: Select) -> Extracted {
    if select == Select::Tracked
        && let Some((provider, id)) = peek_provider_id(xml)
        && classify_event(provider, id).is_none()
    {
        return Extracted::Untracked;
    }
    let ev = match std::str::from_utf8(xml) {
        Ok(s) => parse_event_xml(s),
        Err(_) => parse_event_xml(&String::from_utf8_lossy(xml)),
    };
    match ev {
        Some(ev) if select == Select::All || ev.kind.is_some() => Extracted::Event(Box::new(ev)),
        Some(_) => Extracted::Untracked,
        None => Extracted::Unparsed,
    }
}

/// `Provider/@Name` and `EventID` from the head of a rendered record, without
/// a full parse. `None` when either is not in its usual form (the caller then
/// parses the record fully), so this can only skip work, never change a result.
fn peek_provider_id(xml: &[u8]) -> Option<(&str, u32)> {
    const PROVIDER: &[u8] = b"<Provider Name=\"";
    let p = memchr::memmem::find(xml, PROVIDER)? + PROVIDER.len();
    let len = memchr::memchr(b'"', &xml[p..])?;
    let provider = std::str::from_utf8(&xml[p..p + len]).ok()?;
    if provider.contains('&') {
        return None;
    }
    let e = p + len + memchr::memmem::find(&xml[p + len..], b"<EventID")? + 8;
    let gt = e + memchr::memchr(b'>', &xml[e..])? + 1;
    let digits = xml[gt..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || xml.get(gt + digits) != Some(&b'<') {
        return None;
    }
    let id = std::str::from_utf8(&xml[gt..gt + digits])
        .ok()?
        .parse()
        .ok()?;
    Some((provider, id))
}

fn drive<T: std::io::Read + std::io::Seek>(
    parser: evtx::EvtxParser<T>,
    threads: usize,
    select: Select,
    mut f: impl FnMut(WinEvent),
) -> Result<EvtxReport, EvtxOpenError> {
    let settings = evtx::ParserSettings::new().num_threads(threads);
    let mut parser = parser.with_configuration(settings);
    let mut report = EvtxReport::default();
    // The crate forwards worker panics to this thread; keep them from taking the caller down.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // XML rendering and our extraction both run on the rayon workers.
        let records = parser.serialized_records(move |rec| {
            rec.and_then(|r| r.into_xml_bytes())
                .map(|x| extract(&x.data, select))
        });
        for item in records {
            match item {
                Ok(Extracted::Event(ev)) => {
                    report.records += 1;
                    f(*ev);
                }
                Ok(Extracted::Untracked) => {
                    report.records += 1;
                    report.untracked += 1;
                }
                Ok(Extracted::Unparsed) => {
                    report.records += 1;
                    report.unparsed_records += 1;
                }
                Err(e) => report.error(e.to_string()),
            }
        }
    }));
    match run {
        Ok(()) => Ok(report),
        Err(p) => Err(EvtxOpenError::Panicked(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        )),
    }
}

/// Outcome of reading an XML export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct XmlExportStats {
    /// `<Event>` elements found.
    pub events: u64,
    /// Of those, without a usable `EventID` (skipped).
    pub unparsed: u64,
    /// Elements larger than [`MAX_XML_EVENT`] (skipped).
    pub oversized: u64,
}

/// Largest single `<Event>` element we buffer.
pub const MAX_XML_EVENT: usize = 4 * 1024 * 1024;

/// Streams an XML export (UTF-8 or UTF-16LE with BOM), one `<Event>` at a time.
pub fn read_event_xml<R: Read>(
    r: R,
    mut f: impl FnMut(WinEvent),
) -> std::io::Result<XmlExportStats> {
    let mut text = TextReader::new(r)?;
    let mut stats = XmlExportStats::default();
    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut eof = false;
    // No `</Event>` starts in `buf[start..close_scan]`: the search for a close
    // resumes there, so each byte is searched once however the element is
    // split across reads or however many opens precede a missing close.
    let mut close_scan = 0;
    while !eof {
        let n = text.read(&mut chunk)?;
        if n == 0 {
            eof = true;
        }
        buf.extend_from_slice(&chunk[..n]);
        // Deliver every complete `<Event ...>...</Event>` in the buffer.
        let mut start = 0;
        loop {
            let hay = &buf[start..];
            let Some(open) = find_event_open(hay) else {
                // Keep a tail that may hold the start of `<Event`.
                start = buf.len().saturating_sub(8).max(start);
                break;
            };
            let from = start + open;
            let scan = close_scan.max(from);
            let Some(close) = memchr::memmem::find(&buf[scan..], EVENT_CLOSE) else {
                close_scan = buf.len().saturating_sub(EVENT_CLOSE.len() - 1).max(from);
                start = from;
                if buf.len() - from > MAX_XML_EVENT {
                    // No close anywhere after `from`: skip the whole run.
                    stats.oversized += 1;
                    start = close_scan.max(from + 6);
                    continue;
                }
                break;
            };
            let end = scan + close + EVENT_CLOSE.len();
            stats.events += 1;
            match parse_event_xml(&String::from_utf8_lossy(&buf[from..end])) {
                Some(ev) => f(ev),
                None => stats.unparsed += 1,
            }
            start = end;
        }
        buf.drain(..start);
        close_scan = close_scan.saturating_sub(start);
    }
    Ok(stats)
}

const EVENT_CLOSE: &[u8] = b"</Event>";

/// Offset of the next `<Event` followed by `>`, `/` or whitespace (not `<Events>`,
/// `<EventData>`, `<EventID>`).
fn find_event_open(hay: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(hay.get(from..)?, b"<Event") {
        let at = from + i;
        match hay.get(at + 6) {
            Some(b'>' | b' ' | b'\t' | b'\r' | b'\n') => return Some(at),
            None => return None,
            _ => from = at + 6,
        }
    }
    None
}

#[cfg(test)]
mod tests;
