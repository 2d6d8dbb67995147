//! ETW trace logs (.etl) holding packet captures: `netsh trace capture=yes`
//! (Microsoft-Windows-NDIS-PacketCapture) and `pktmon` (Microsoft-Windows-
//! PktMon), decoded straight into the same [`PacketSink`] as pcap files.
//!
//! Reading is streaming, one ETL buffer at a time (bounded by
//! [`MAX_BUFFER_SIZE`]); single-fragment packets are handed to the sink as
//! slices of that buffer. Interfaces are announced as they first appear: one
//! per NDIS `LowerIfIndex` (`ifindex-N`, as microsoft/etl2pcapng does), one
//! per VMSwitch source port, one per pktmon interface. A packet logged at
//! several layers (NDIS filters, VMSwitch, pktmon components) is delivered
//! once, on the interface where it was first logged (pktmon frames logged
//! as dropped are counted, not delivered). ETL files without packet events
//! (kernel or application traces) read without error and report no packet
//! events. Compressed buffers (flag 0x40, what pktmon and `netsh trace`
//! write: the records after the buffer header are one MS-XCA plain LZ77
//! stream expanding to the header's filled bytes) are decoded into one
//! reused buffer; one that does not decode is reported (file offset, offset
//! of the damage) and skipped, and reading goes on at the next buffer.
//!
//! Modules: [`container`] (buffers, records, event headers), [`logfile`]
//! (logfile header, clock), [`ndis`] and [`pktmon`] (the two providers),
//! `dedupe` (one count per packet across layers), `reader` (the loop).

pub mod container;
mod dedupe;
pub mod logfile;
pub mod ndis;
pub mod pktmon;
mod reader;
pub mod tail;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod writer;

use std::io::{Cursor, Read, Seek, SeekFrom};

pub use container::{BUFFER_HEADER_LEN, Guid, MAX_BUFFER_SIZE};
pub use logfile::{ClockType, LogfileHeaderSummary, filetime_to_unix_ns};

use crate::capture::PacketSink;
#[cfg(test)]
use crate::capture::{InterfaceInfo, Packet};
#[cfg(test)]
use logfile::Clock;
use reader::{State, read_full};

/// Something odd that did not stop reading. Offsets count bytes of the
/// (decompressed) file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EtlWarning {
    #[error(
        "compressed buffer at byte offset {offset} does not decode (at byte {at}: {reason}): skipped"
    )]
    BadCompressedBuffer {
        offset: u64,
        at: u64,
        reason: &'static str,
    },
    #[error("damaged record at byte offset {offset} ({reason}): rest of its buffer skipped")]
    CorruptRecord { offset: u64, reason: &'static str },
    #[error("buffer at byte offset {offset} claims more filled bytes than it has")]
    FilledBeyondBuffer { offset: u64 },
    #[error("no logfile header in the first buffer: timestamps read as FILETIMEs")]
    MissingLogfileHeader,
    #[error("clock {clock:?} cannot be converted: timestamps read as FILETIMEs")]
    UnusableClock { clock: ClockType },
    #[error("event {id} of provider {provider} at byte offset {offset} does not decode")]
    UndecodableEvent {
        offset: u64,
        provider: Guid,
        id: u16,
    },
    #[error("pktmon packet type {packet_type} at byte offset {offset} is not supported")]
    UnsupportedPacketType { offset: u64, packet_type: u16 },
    #[error(
        "packet assembled at byte offset {offset} exceeds {} bytes: dropped",
        ndis::MAX_PACKET
    )]
    PacketTooLarge { offset: u64 },
    #[error("{count} multi-event packets were never completed")]
    IncompletePackets { count: u64 },
    #[error("more than {MAX_PROVIDERS} providers: {events} events not itemised")]
    ProvidersTruncated { events: u64 },
    #[error(
        "more than {MAX_INTERFACES} interfaces: {packets} packets put on interface \"{OVERFLOW_IFACE}\""
    )]
    TooManyInterfaces { packets: u64 },
}

/// Why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum EtlErrorKind {
    #[error("not an ETL file (starts with {0})")]
    NotEtl(String),
    #[error("file ends inside a buffer (truncated)")]
    Truncated,
    #[error("buffer of {0} bytes exceeds the {MAX_BUFFER_SIZE} byte limit")]
    BufferTooLarge(u32),
    #[error("buffer of {0} bytes is smaller than its header")]
    BufferTooSmall(u32),
    #[error("read error: {0}")]
    Io(String),
}

/// Damage that stopped reading; everything before `offset` was delivered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("at byte offset {offset}: {kind}")]
pub struct EtlError {
    pub offset: u64,
    pub kind: EtlErrorKind,
}

/// What reading an ETL file found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EtlReport {
    /// The input was gzip-compressed.
    pub gzip: bool,
    /// Buffers read (compressed ones included).
    pub buffers: u64,
    /// Records of every kind (events, kernel records, the logfile header).
    pub events: u64,
    /// Kernel records (system, compact, perfinfo headers: no provider GUID).
    pub kernel_records: u64,
    /// Packet-carrying events (NDIS 1001/1003, pktmon 160/170).
    pub packet_events: u64,
    /// Packets handed to the sink.
    pub packets: u64,
    /// Packets not handed on because another layer already logged them.
    pub duplicates: u64,
    /// pktmon frames logged as dropped by a component (counted, not delivered).
    pub dropped_frames: u64,
    /// pktmon packet events per component (ascending id, bounded by
    /// [`pktmon::MAX_COMPONENTS`]), as `pktmon etl2txt` lists them.
    pub pktmon_components: Vec<ComponentCount>,
    /// Events per provider GUID, most frequent first (bounded).
    pub providers: Vec<(Guid, u64)>,
    /// Compressed buffers (plain LZ77, decoded).
    pub compressed_buffers: u64,
    /// Compressed buffers that did not decode (skipped, with a warning).
    pub damaged_compressed_buffers: u64,
    /// Bytes of the file consumed.
    pub bytes_parsed: u64,
    /// The first warnings (see `warnings_dropped` for the rest).
    pub warnings: Vec<EtlWarning>,
    pub warnings_dropped: u64,
    /// `None` when the whole file was read.
    pub error: Option<EtlError>,
    pub header: Option<LogfileHeaderSummary>,
}

/// pktmon events logged by one component.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ComponentCount {
    pub component: u16,
    /// Packet events (160) and drop events (170).
    pub events: u64,
    pub drops: u64,
    /// Sums of OriginalSize and LoggedSize over its events.
    pub original_bytes: u64,
    pub logged_bytes: u64,
}

/// Warnings kept in the report.
pub const MAX_WARNINGS: usize = 64;
/// Distinct providers itemised.
pub const MAX_PROVIDERS: usize = 1024;
/// Interfaces announced; packets of further ones share [`OVERFLOW_IFACE`].
pub const MAX_INTERFACES: usize = 4096;
/// Name of the interface that takes packets beyond [`MAX_INTERFACES`].
pub const OVERFLOW_IFACE: &str = "etl-other-interfaces";

impl EtlReport {
    pub fn has_packet_events(&self) -> bool {
        self.packet_events > 0
    }

    /// One line for people, e.g. "36 buffers, 2042 events, no packet events".
    pub fn summary(&self) -> String {
        let mut s = format!("{} buffers, {} events, ", self.buffers, self.events);
        if self.has_packet_events() {
            s += &format!(
                "{} packet events, {} packets ({} duplicates across layers)",
                self.packet_events, self.packets, self.duplicates
            );
        } else {
            s += "no packet events";
            let pktmon = self
                .providers
                .iter()
                .any(|(p, n)| *p == pktmon::PKTMON_PROVIDER && *n > 0);
            if pktmon {
                s += ": pktmon wrote its component table but logged no packet (started \
                      with --counters-only or without --capture, or its packet filters \
                      matched nothing)";
            }
        }
        if self.damaged_compressed_buffers > 0 {
            s += &format!(
                ", {} of {} compressed buffers damaged and skipped",
                self.damaged_compressed_buffers, self.compressed_buffers
            );
        }
        if let Some(e) = &self.error {
            s += &format!("; stopped {e}");
        }
        s
    }

    fn warn(&mut self, w: EtlWarning) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.warnings_dropped += 1;
        }
    }
}

/// Reads an ETL file (optionally gzip-compressed) from `input` and hands its
/// packets to `sink`. `default_name` (usually the file name) goes into the
/// interface descriptions. pktmon writes its component table (which NIC
/// each component belongs to, names, MACs, addresses) when the capture
/// stops, i.e. usually after the packets: to name interfaces per NIC from
/// the first packet, use [`read_etl_file`] (the table looked up in the last
/// buffers, then one pass), or run [`scan_components`] over the same input
/// first and use [`read_etl_with_components`] (two passes, for streams).
pub fn read_etl<R: Read>(input: R, default_name: &str, sink: &mut dyn PacketSink) -> EtlReport {
    read_etl_with_components(input, default_name, sink, None)
}

/// Reads an ETL file that can be read again from its start (a `File`, a
/// `Cursor`; unbuffered is best, see [`tail::tail_components`]), naming
/// pktmon NICs from the component table from the first packet on: one pass
/// over the file plus the few buffers at its end that hold the table. A
/// gzipped file, and a pktmon trace whose table is not in its last buffers,
/// take the two passes of [`scan_components`] + [`read_etl_with_components`].
pub fn read_etl_file<R: Read + Seek>(
    mut r: R,
    default_name: &str,
    sink: &mut dyn PacketSink,
) -> EtlReport {
    let io_error = |e: std::io::Error| EtlReport {
        error: Some(EtlError {
            offset: 0,
            kind: EtlErrorKind::Io(e.to_string()),
        }),
        ..EtlReport::default()
    };
    let mut magic = [0u8; 2];
    let got = match read_full(&mut r, &mut magic) {
        Ok(n) => n,
        Err(e) => return io_error(e),
    };
    let rewind = |r: &mut R| r.seek(SeekFrom::Start(0)).map(|_| ());
    let mut full_scan = got == 2 && magic == [0x1f, 0x8b];
    let mut comps = None;
    if !full_scan {
        if let Err(e) = rewind(&mut r) {
            return io_error(e);
        }
        match tail::tail_components(&mut r) {
            tail::TailTable::Found(c, _) => comps = Some(c),
            tail::TailTable::NotAtTail => full_scan = true,
            tail::TailTable::NoPktmon => {}
        }
    }
    if full_scan {
        if let Err(e) = rewind(&mut r) {
            return io_error(e);
        }
        comps = Some(scan_components(&mut r));
    }
    if let Err(e) = rewind(&mut r) {
        return io_error(e);
    }
    let comps = comps.filter(|c| !c.is_empty());
    read_etl_with_components(r, default_name, sink, comps)
}

/// First pass: the pktmon component table of an ETL file (empty for other
/// traces). Memory: one buffer plus the (bounded) table.
pub fn scan_components<R: Read>(input: R) -> pktmon::Components {
    struct Null;
    impl PacketSink for Null {
        fn interface(&mut self, _: &crate::capture::InterfaceInfo) {}
        fn packet(&mut self, _: &crate::capture::Packet<'_>) {}
    }
    let mut null = Null;
    let mut comps = pktmon::Components::default();
    read_inner(input, "", &mut null, None, Some(&mut comps));
    comps
}

/// [`read_etl`] with a component table learnt beforehand.
pub fn read_etl_with_components<R: Read>(
    input: R,
    default_name: &str,
    sink: &mut dyn PacketSink,
    components: Option<pktmon::Components>,
) -> EtlReport {
    read_inner(input, default_name, sink, components, None)
}

fn read_inner<R: Read>(
    mut input: R,
    default_name: &str,
    sink: &mut dyn PacketSink,
    components: Option<pktmon::Components>,
    table_out: Option<&mut pktmon::Components>,
) -> EtlReport {
    let mut head = [0u8; BUFFER_HEADER_LEN];
    let n = match read_full(&mut input, &mut head) {
        Ok(n) => n,
        Err(e) => {
            return EtlReport {
                error: Some(EtlError {
                    offset: 0,
                    kind: EtlErrorKind::Io(e.to_string()),
                }),
                ..EtlReport::default()
            };
        }
    };
    let head = &head[..n];
    let mut st = State::new(default_name, sink);
    if let Some(c) = components {
        st.set_components(c);
    }
    st.table_only = table_out.is_some();
    if head.starts_with(&[0x1f, 0x8b]) {
        st.report.gzip = true;
        let gz = flate2::read::MultiGzDecoder::new(Cursor::new(head).chain(input));
        st.run(gz);
    } else {
        st.run(Cursor::new(head).chain(input));
    }
    if let Some(t) = table_out {
        *t = st.take_components();
    }
    st.finish()
}
