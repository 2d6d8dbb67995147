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
//! once, on the interface where it was first logged. ETL files without
//! packet events (kernel or application traces) read without error and
//! report no packet events.

pub mod container;
mod dedupe;
pub mod ndis;
pub mod pktmon;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod writer;

use std::collections::HashMap;
use std::io::{Cursor, ErrorKind, Read};

pub use container::{
    BUFFER_HEADER_LEN, ClockType, Guid, LogfileHeaderSummary, MAX_BUFFER_SIZE, filetime_to_unix_ns,
};

use crate::capture::{InterfaceInfo, Packet, PacketSink};
use crate::link::LinkType;
use container::{BufferHeader, Clock, EventView, RecordKind, Records};
use dedupe::LayerDedupe;
use ndis::{Assembler, FragKey, Push};
use pktmon::{Components, SeenKeys};

/// Something odd that did not stop reading. Offsets count bytes of the
/// (decompressed) file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EtlWarning {
    #[error("buffer at byte offset {offset} is compressed (not supported): skipped")]
    CompressedBuffer { offset: u64 },
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
    /// Events per provider GUID, most frequent first (bounded).
    pub providers: Vec<(Guid, u64)>,
    pub compressed_buffers: u64,
    /// Bytes of the file consumed.
    pub bytes_parsed: u64,
    /// The first warnings (see `warnings_dropped` for the rest).
    pub warnings: Vec<EtlWarning>,
    pub warnings_dropped: u64,
    /// `None` when the whole file was read.
    pub error: Option<EtlError>,
    pub header: Option<LogfileHeaderSummary>,
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
        }
        if self.compressed_buffers > 0 {
            s += &format!(", {} compressed buffers skipped", self.compressed_buffers);
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
/// interface descriptions.
pub fn read_etl<R: Read>(mut input: R, default_name: &str, sink: &mut dyn PacketSink) -> EtlReport {
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
    if head.starts_with(&[0x1f, 0x8b]) {
        st.report.gzip = true;
        let gz = flate2::read::MultiGzDecoder::new(Cursor::new(head).chain(input));
        st.run(gz);
    } else {
        st.run(Cursor::new(head).chain(input));
    }
    st.finish()
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Which interface a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IfKey {
    /// An NDIS layer (`LowerIfIndex`) or a pktmon interface index.
    IfIndex(u32),
    /// A VMSwitch source port on a layer.
    VmPort { lower: u32, port: u32 },
    /// A pktmon component whose interface is unknown.
    Component(u16),
    /// Everything beyond [`MAX_INTERFACES`].
    Overflow,
}

/// Announces interfaces and delivers packets.
struct Out<'s> {
    sink: &'s mut dyn PacketSink,
    default_name: String,
    ifaces: HashMap<(IfKey, LinkType), u32>,
    last: Option<(IfKey, LinkType, u32)>,
    packets: u64,
    /// Packets put on the overflow interface.
    overflowed: u64,
}

impl Out<'_> {
    fn iface(&mut self, key: IfKey, link: LinkType, describe: impl FnOnce() -> String) -> u32 {
        if let Some((k, l, i)) = self.last {
            if k == key && l == link {
                return i;
            }
        }
        let (key, describe): (IfKey, Box<dyn FnOnce() -> String>) =
            if self.ifaces.len() >= MAX_INTERFACES && !self.ifaces.contains_key(&(key, link)) {
                self.overflowed += 1;
                (
                    IfKey::Overflow,
                    Box::new(|| "interfaces beyond the limit".to_string()),
                )
            } else {
                (key, Box::new(describe))
            };
        if let Some(&i) = self.ifaces.get(&(key, link)) {
            self.last = Some((key, link, i));
            return i;
        }
        let index = self.ifaces.len() as u32;
        let name = match key {
            IfKey::IfIndex(n) => format!("ifindex-{n}"),
            IfKey::VmPort { lower, port } => format!("vmswitch-ifindex-{lower}-port-{port}"),
            IfKey::Component(c) => format!("pktmon-component-{c}"),
            IfKey::Overflow => OVERFLOW_IFACE.to_string(),
        };
        self.sink.interface(&InterfaceInfo {
            index,
            name,
            description: Some(format!("{}: {}", self.default_name, describe())),
            link_type: link,
            speed_bps: None,
            snaplen: 65535,
        });
        self.ifaces.insert((key, link), index);
        self.last = Some((key, link, index));
        index
    }

    fn emit(&mut self, iface: u32, link: LinkType, ts_ns: i64, wire_len: u32, data: &[u8]) {
        self.sink.packet(&Packet {
            iface,
            link_type: link,
            ts_ns,
            wire_len: wire_len.max(data.len() as u32),
            data,
        });
        self.packets += 1;
    }
}

/// Event counts per provider, with a cache for runs of one provider.
#[derive(Default)]
struct Providers {
    list: Vec<(Guid, u64)>,
    index: HashMap<Guid, usize>,
    last: usize,
    overflow: u64,
}

impl Providers {
    #[inline]
    fn count(&mut self, g: Guid) {
        if let Some(e) = self.list.get_mut(self.last) {
            if e.0 == g {
                e.1 += 1;
                return;
            }
        }
        if let Some(&pos) = self.index.get(&g) {
            self.list[pos].1 += 1;
            self.last = pos;
        } else if self.list.len() < MAX_PROVIDERS {
            self.index.insert(g, self.list.len());
            self.list.push((g, 1));
            self.last = self.list.len() - 1;
        } else {
            self.overflow += 1;
        }
    }
}

/// The logfile-header pseudo provider (EventTraceGuid).
const EVENT_TRACE_GUID: Guid = Guid::from_u128(0x68fdd900_4a3e_11d1_84f4_0000f80464e3);
/// pktmon packet keys remembered for de-duplication.
const PKTMON_SEEN: usize = 1 << 16;

struct State<'s> {
    out: Out<'s>,
    report: EtlReport,
    clock: Clock,
    assembler: Assembler,
    layers: LayerDedupe,
    seen: SeenKeys,
    components: Components,
    providers: Providers,
}

impl<'s> State<'s> {
    fn new(default_name: &str, sink: &'s mut dyn PacketSink) -> State<'s> {
        State {
            out: Out {
                sink,
                default_name: default_name.to_string(),
                ifaces: HashMap::new(),
                last: None,
                packets: 0,
                overflowed: 0,
            },
            report: EtlReport::default(),
            clock: Clock::Filetime,
            assembler: Assembler::default(),
            layers: LayerDedupe::default(),
            seen: SeenKeys::new(PKTMON_SEEN),
            components: Components::default(),
            providers: Providers::default(),
        }
    }

    fn fail(&mut self, offset: u64, kind: EtlErrorKind) {
        self.report.error = Some(EtlError { offset, kind });
    }

    fn run(&mut self, mut input: impl Read) {
        let mut offset = 0u64;
        let mut hdr = [0u8; BUFFER_HEADER_LEN];
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let n = match read_full(&mut input, &mut hdr) {
                Ok(n) => n,
                Err(e) => return self.fail(offset, EtlErrorKind::Io(e.to_string())),
            };
            if n == 0 {
                if offset == 0 {
                    self.fail(0, EtlErrorKind::NotEtl("an empty file".into()));
                }
                return;
            }
            let bh = BufferHeader::parse(&hdr);
            if offset == 0 && (n < BUFFER_HEADER_LEN || !plausible_first(&bh)) {
                let shown: Vec<String> =
                    hdr[..n.min(8)].iter().map(|b| format!("{b:02x}")).collect();
                return self.fail(0, EtlErrorKind::NotEtl(shown.join(" ")));
            }
            if n < BUFFER_HEADER_LEN {
                return self.fail(offset, EtlErrorKind::Truncated);
            }
            if bh.size > MAX_BUFFER_SIZE {
                return self.fail(offset, EtlErrorKind::BufferTooLarge(bh.size));
            }
            if (bh.size as usize) < BUFFER_HEADER_LEN {
                return self.fail(offset, EtlErrorKind::BufferTooSmall(bh.size));
            }
            buf.clear();
            buf.extend_from_slice(&hdr);
            let want = bh.size as u64 - BUFFER_HEADER_LEN as u64;
            if let Err(e) = (&mut input).take(want).read_to_end(&mut buf) {
                return self.fail(offset, EtlErrorKind::Io(e.to_string()));
            }
            self.report.buffers += 1;
            if bh.compressed() {
                self.report.compressed_buffers += 1;
                self.report.warn(EtlWarning::CompressedBuffer { offset });
            } else {
                let mut filled = bh.filled as usize;
                if filled > buf.len() {
                    if buf.len() == bh.size as usize {
                        self.report.warn(EtlWarning::FilledBeyondBuffer { offset });
                    }
                    filled = buf.len();
                }
                self.buffer(&buf[..filled], offset);
            }
            if buf.len() < bh.size as usize {
                return self.fail(offset, EtlErrorKind::Truncated);
            }
            offset += bh.size as u64;
            self.report.bytes_parsed = offset;
            self.out.sink.progress(offset);
        }
    }

    /// Walks the records of one buffer (cut at its filled bytes).
    fn buffer(&mut self, buf: &[u8], base: u64) {
        let first_buffer = self.report.buffers == 1;
        for (n, r) in Records::new(buf).enumerate() {
            let rec = match r {
                Ok(rec) => rec,
                Err(e) => {
                    self.report.warn(EtlWarning::CorruptRecord {
                        offset: base + e.offset as u64,
                        reason: e.reason,
                    });
                    break;
                }
            };
            self.report.events += 1;
            let at = base + rec.offset as u64;
            if first_buffer && n == 0 {
                self.logfile_header(&rec);
            }
            match rec.kind {
                RecordKind::Event => match container::parse_event(&rec) {
                    Some(ev) => self.event(&ev, at),
                    None => self.report.warn(EtlWarning::CorruptRecord {
                        offset: at,
                        reason: "event header items overrun the record",
                    }),
                },
                RecordKind::Classic | RecordKind::Instance => {
                    if let Some(g) = rec.classic_provider() {
                        self.providers.count(g);
                    }
                }
                RecordKind::System | RecordKind::Compact | RecordKind::Perfinfo => {
                    if !(first_buffer && n == 0 && self.report.header.is_some()) {
                        self.report.kernel_records += 1;
                    }
                }
                RecordKind::Message | RecordKind::Other => {}
            }
        }
    }

    fn logfile_header(&mut self, rec: &container::Record<'_>) {
        match container::parse_logfile_header(rec) {
            Some((h, ref_raw)) => {
                self.providers.count(EVENT_TRACE_GUID);
                match Clock::from_header(&h, ref_raw) {
                    Some(c) => self.clock = c,
                    None => self
                        .report
                        .warn(EtlWarning::UnusableClock { clock: h.clock }),
                }
                self.report.header = Some(h);
            }
            None => self.report.warn(EtlWarning::MissingLogfileHeader),
        }
    }

    #[inline]
    fn event(&mut self, ev: &EventView<'_>, at: u64) {
        self.providers.count(ev.provider);
        if ev.provider == ndis::NDIS_PROVIDER {
            if matches!(ev.id, ndis::EVENT_FRAGMENT | ndis::EVENT_VMSWITCH_FRAGMENT) {
                self.ndis_fragment(ev, at);
            }
        } else if ev.provider == pktmon::PKTMON_PROVIDER {
            match ev.id {
                pktmon::EVENT_FRAME | pktmon::EVENT_FRAME_DROP => self.pktmon_frame(ev, at),
                pktmon::EVENT_COMPONENT_INFO | pktmon::EVENT_COMPONENT_PROP_UINT => {
                    self.components.learn(ev.id, ev.payload)
                }
                _ => {}
            }
        }
    }

    fn ndis_fragment(&mut self, ev: &EventView<'_>, at: u64) {
        self.report.packet_events += 1;
        let Some(frag) = ndis::parse_fragment(ev.id, ev.payload) else {
            return self.report.warn(EtlWarning::UndecodableEvent {
                offset: at,
                provider: ev.provider,
                id: ev.id,
            });
        };
        let key = FragKey {
            process_id: ev.process_id,
            thread_id: ev.thread_id,
            lower: frag.lower,
            port: frag.port,
        };
        let push = self.assembler.push(key, frag.data, ev.keywords);
        let data: &[u8] = match push {
            Push::Single => frag.data,
            Push::Assembled(i) => self.assembler.data(i),
            Push::Pending => return,
            Push::TooLarge => return self.report.warn(EtlWarning::PacketTooLarge { offset: at }),
        };
        let ts = self.clock.to_unix_ns(ev.timestamp);
        let dir = ndis::direction(ev.keywords);
        let layer = ((frag.port.map_or(0, |p| p as u64 + 1)) << 32) | frag.lower as u64;
        if self
            .layers
            .is_duplicate(frag.miniport, layer, dir, data, ts)
        {
            self.report.duplicates += 1;
        } else {
            let link = ndis::link_type(ev.keywords);
            let (key, miniport) = match frag.port {
                Some(port) => (
                    IfKey::VmPort {
                        lower: frag.lower,
                        port,
                    },
                    frag.miniport,
                ),
                None => (IfKey::IfIndex(frag.lower), frag.miniport),
            };
            let lower = frag.lower;
            let iface = self.out.iface(key, link, || {
                if lower == miniport {
                    format!("NDIS miniport ifindex-{miniport}")
                } else {
                    format!("NDIS layer ifindex-{lower} over miniport ifindex-{miniport}")
                }
            });
            let wire = ndis::infer_wire_len(link, data);
            self.out.emit(iface, link, ts, wire, data);
        }
        if let Push::Assembled(i) = push {
            self.assembler.release(i);
        }
    }

    fn pktmon_frame(&mut self, ev: &EventView<'_>, at: u64) {
        self.report.packet_events += 1;
        let Some(f) = pktmon::parse_frame(ev.payload) else {
            return self.report.warn(EtlWarning::UndecodableEvent {
                offset: at,
                provider: ev.provider,
                id: ev.id,
            });
        };
        if ev.id == pktmon::EVENT_FRAME_DROP {
            self.report.dropped_frames += 1;
            return;
        }
        if self.seen.seen(pktmon::packet_key(&f)) {
            self.report.duplicates += 1;
            return;
        }
        let Some(link) = f.link_type() else {
            return self.report.warn(EtlWarning::UnsupportedPacketType {
                offset: at,
                packet_type: f.packet_type,
            });
        };
        let key = match self.components.if_index(f.component) {
            Some(i) => IfKey::IfIndex(i),
            None => IfKey::Component(f.component),
        };
        let comp = self.components.name(f.component).unwrap_or("").to_string();
        let component = f.component;
        let iface = self.out.iface(key, link, || {
            format!("pktmon component {component} {comp}")
                .trim_end()
                .to_string()
        });
        let wire = ndis::infer_wire_len(link, f.data).max(f.original_size as u32);
        let ts = self.clock.to_unix_ns(ev.timestamp);
        self.out.emit(iface, link, ts, wire, f.data);
    }

    fn finish(mut self) -> EtlReport {
        let unfinished = self.assembler.pending() as u64 + self.assembler.abandoned;
        if unfinished > 0 {
            self.report
                .warn(EtlWarning::IncompletePackets { count: unfinished });
        }
        if self.providers.overflow > 0 {
            let events = self.providers.overflow;
            self.report.warn(EtlWarning::ProvidersTruncated { events });
        }
        if self.out.overflowed > 0 {
            let packets = self.out.overflowed;
            self.report.warn(EtlWarning::TooManyInterfaces { packets });
        }
        let mut list = std::mem::take(&mut self.providers.list);
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.report.providers = list;
        self.report.packets = self.out.packets;
        self.report
    }
}

/// Whether the first buffer header can start an ETL file.
fn plausible_first(bh: &BufferHeader) -> bool {
    (0x100..=MAX_BUFFER_SIZE).contains(&bh.size)
        && bh.filled as usize >= BUFFER_HEADER_LEN
        && bh.filled <= bh.size
}
