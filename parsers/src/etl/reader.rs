//! The reading loop: buffers from the input, records from each buffer,
//! packet events to the sink (interfaces announced on first use), counts and
//! warnings into the report.

use std::collections::HashMap;
use std::io::{ErrorKind, Read};

use super::container::{
    self, BUFFER_HEADER_LEN, BufferHeader, EventView, Guid, MAX_BUFFER_SIZE, RecordKind, Records,
};
use super::dedupe::LayerDedupe;
use super::logfile::{self, Clock};
use super::ndis::{self, Assembler, FragKey, Push};
use super::pktmon::{self, Components, SeenKeys};
use super::{
    EtlError, EtlErrorKind, EtlReport, EtlWarning, MAX_INTERFACES, MAX_PROVIDERS, OVERFLOW_IFACE,
};
use crate::capture::{InterfaceInfo, Packet, PacketSink};
use crate::link::LinkType;
use crate::xca;

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(super) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
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

/// What is known of a new interface: a name (else one derived from its key),
/// a description, and the NIC's own MAC and addresses when the trace says.
struct Described {
    name: Option<String>,
    description: String,
    mac: Option<[u8; 6]>,
    addresses: Vec<std::net::IpAddr>,
}

impl Described {
    fn text(name: Option<String>, description: String) -> Described {
        Described {
            name,
            description,
            mac: None,
            addresses: Vec::new(),
        }
    }
}

impl Out<'_> {
    /// The interface of `key`; `describe` says what is known of it, on first use.
    fn iface(&mut self, key: IfKey, link: LinkType, describe: impl FnOnce() -> Described) -> u32 {
        if let Some((k, l, i)) = self.last {
            if k == key && l == link {
                return i;
            }
        }
        type Describe<'d> = Box<dyn FnOnce() -> Described + 'd>;
        let (key, describe): (IfKey, Describe<'_>) =
            if self.ifaces.len() >= MAX_INTERFACES && !self.ifaces.contains_key(&(key, link)) {
                self.overflowed += 1;
                (
                    IfKey::Overflow,
                    Box::new(|| Described::text(None, "interfaces beyond the limit".to_string())),
                )
            } else {
                (key, Box::new(describe))
            };
        if let Some(&i) = self.ifaces.get(&(key, link)) {
            self.last = Some((key, link, i));
            return i;
        }
        let index = self.ifaces.len() as u32;
        let Described {
            name: given,
            description,
            mac,
            addresses,
        } = describe();
        let name = given.unwrap_or_else(|| match key {
            IfKey::IfIndex(n) => format!("ifindex-{n}"),
            IfKey::VmPort { lower, port } => format!("vmswitch-ifindex-{lower}-port-{port}"),
            IfKey::Component(c) => format!("pktmon-component-{c}"),
            IfKey::Overflow => OVERFLOW_IFACE.to_string(),
        });
        self.sink.interface(&InterfaceInfo {
            index,
            name,
            description: Some(format!("{}: {}", self.default_name, description)),
            link_type: link,
            speed_bps: None,
            snaplen: 65535,
            mac,
            addresses,
        });
        self.ifaces.insert((key, link), index);
        self.last = Some((key, link, index));
        index
    }

    /// Delivers one packet; `outbound` (when the trace says) goes first, as
    /// pcapng EPB direction flags do ([`PacketSink::next_direction`]).
    fn emit(
        &mut self,
        iface: u32,
        link: LinkType,
        ts_ns: i64,
        wire_len: u32,
        data: &[u8],
        outbound: Option<bool>,
    ) {
        if let Some(o) = outbound {
            self.sink.next_direction(o);
        }
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
    index: HashMap<Guid, usize, foldhash::fast::RandomState>,
    last: usize,
    overflow: u64,
}

impl Providers {
    #[inline(always)]
    fn count(&mut self, g: Guid) {
        if let Some(e) = self.list.get_mut(self.last) {
            if e.0 == g {
                e.1 += 1;
                return;
            }
        }
        self.count_slow(g);
    }

    #[inline(never)]
    fn count_slow(&mut self, g: Guid) {
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

/// Per-component event counts, indexed by component id (no hashing per
/// event): at most [`pktmon::MAX_COMPONENTS`] distinct components.
#[derive(Default)]
struct PerComponent {
    /// Component id -> 1 + its index in `list` (0: not seen); grown to the
    /// largest id seen (at most 65536 entries).
    slot: Vec<u32>,
    list: Vec<super::ComponentCount>,
}

impl PerComponent {
    #[inline]
    fn get(&mut self, component: u16) -> Option<&mut super::ComponentCount> {
        let id = component as usize;
        match self.slot.get(id) {
            Some(&s) if s > 0 => return Some(&mut self.list[s as usize - 1]),
            _ => {}
        }
        if self.list.len() >= pktmon::MAX_COMPONENTS {
            return None;
        }
        if self.slot.len() <= id {
            self.slot.resize(id + 1, 0);
        }
        self.list.push(super::ComponentCount {
            component,
            ..Default::default()
        });
        self.slot[id] = self.list.len() as u32;
        self.list.last_mut()
    }
}

/// The logfile-header pseudo provider (EventTraceGuid).
const EVENT_TRACE_GUID: Guid = Guid::from_u128(0x68fdd900_4a3e_11d1_84f4_0000f80464e3);
/// pktmon packet keys remembered for de-duplication.
const PKTMON_SEEN: usize = 1 << 16;

pub(super) struct State<'s> {
    pub(super) report: EtlReport,
    out: Out<'s>,
    clock: Clock,
    assembler: Assembler,
    layers: LayerDedupe,
    seen: SeenKeys,
    /// pktmon copies without a shared PktGroupId, told by their bytes.
    copies: LayerDedupe,
    components: Components,
    providers: Providers,
    /// The decompressed buffer (reused).
    dbuf: Vec<u8>,
    /// A Wi-Fi frame rewritten as Ethernet (reused).
    wifi: Vec<u8>,
    /// Per-component event counts.
    per_component: PerComponent,
    /// First pass: learn the pktmon component table only.
    pub(super) table_only: bool,
}

impl<'s> State<'s> {
    pub(super) fn new(default_name: &str, sink: &'s mut dyn PacketSink) -> State<'s> {
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
            copies: LayerDedupe::default(),
            components: Components::default(),
            providers: Providers::default(),
            dbuf: Vec::new(),
            wifi: Vec::new(),
            table_only: false,
            per_component: PerComponent::default(),
        }
    }

    fn fail(&mut self, offset: u64, kind: EtlErrorKind) {
        self.report.error = Some(EtlError { offset, kind });
    }

    pub(super) fn run(&mut self, mut input: impl Read) {
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
                if let Some(len) = self.decompress(&buf, &bh, offset) {
                    let data = std::mem::take(&mut self.dbuf);
                    self.buffer(&data[..len], offset);
                    self.dbuf = data;
                }
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
            if self.report.buffers == 1
                && self.report.header.is_none()
                && !self
                    .report
                    .warnings
                    .contains(&EtlWarning::MissingLogfileHeader)
            {
                self.report.warn(EtlWarning::MissingLogfileHeader);
            }
            if buf.len() < bh.size as usize {
                return self.fail(offset, EtlErrorKind::Truncated);
            }
            offset += bh.size as u64;
            self.report.bytes_parsed = offset;
            self.out.sink.progress(offset);
        }
    }

    /// Expands a compressed buffer (plain LZ77 after the header, to the
    /// filled bytes the header declares) into `self.dbuf`; returns its
    /// length, or `None` (with a warning) when it does not decode.
    fn decompress(&mut self, buf: &[u8], bh: &BufferHeader, offset: u64) -> Option<usize> {
        let want = bh.filled as usize;
        let bad = |this: &mut Self, at: u64, reason: &'static str| {
            this.report.damaged_compressed_buffers += 1;
            this.report
                .warn(EtlWarning::BadCompressedBuffer { offset, at, reason });
            None
        };
        if want < BUFFER_HEADER_LEN || want > MAX_BUFFER_SIZE as usize {
            return bad(self, offset + 0x30, "filled bytes out of range");
        }
        if self.dbuf.len() < want {
            self.dbuf.resize(want, 0);
        }
        self.dbuf[..BUFFER_HEADER_LEN].copy_from_slice(&buf[..BUFFER_HEADER_LEN]);
        let input = &buf[BUFFER_HEADER_LEN..];
        match xca::lz77_decompress(input, &mut self.dbuf[BUFFER_HEADER_LEN..want]) {
            Ok(n) if n + BUFFER_HEADER_LEN == want => Some(want),
            Ok(_) => bad(
                self,
                offset + buf.len() as u64,
                "compressed data ends before the declared size",
            ),
            Err(e) => bad(self, offset + (BUFFER_HEADER_LEN + e.at) as u64, e.reason),
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
        match logfile::parse_logfile_header(rec) {
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
        if self.table_only && ev.provider != pktmon::PKTMON_PROVIDER {
            return;
        }
        if ev.provider == ndis::NDIS_PROVIDER {
            if matches!(ev.id, ndis::EVENT_FRAGMENT | ndis::EVENT_VMSWITCH_FRAGMENT) {
                self.ndis_fragment(ev, at);
            }
        } else if ev.provider == pktmon::PKTMON_PROVIDER {
            match ev.id {
                pktmon::EVENT_FRAME | pktmon::EVENT_FRAME_DROP if !self.table_only => {
                    self.pktmon_frame(ev, at)
                }
                id if pktmon::is_component_event(id) => self.components.learn(ev.id, ev.payload),
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
            let port = frag.port;
            let iface = self.out.iface(key, link, || {
                let d = if let Some(p) = port {
                    format!("VMSwitch port {p} on ifindex-{lower} (miniport ifindex-{miniport})")
                } else if lower == miniport {
                    format!("NDIS miniport ifindex-{miniport}")
                } else {
                    format!("NDIS layer ifindex-{lower} over miniport ifindex-{miniport}")
                };
                Described::text(None, d)
            });
            let wire = ndis::infer_wire_len(link, data);
            // Send/receive as NDIS sees it: host-relative on a NIC's layers;
            // on a VMSwitch port it is the port's view, not said.
            let outbound = match (dir, port) {
                (1, None) => Some(true),
                (2, None) => Some(false),
                _ => None,
            };
            self.out.emit(iface, link, ts, wire, data, outbound);
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
        if let Some(c) = self.per_component.get(f.component) {
            c.events += 1;
            c.drops += (ev.id == pktmon::EVENT_FRAME_DROP) as u64;
            c.original_bytes += f.original_size as u64;
            c.logged_bytes += f.data.len() as u64;
        }
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
        let ts = self.clock.to_unix_ns(ev.timestamp);
        if f.appearance == 0 {
            // No appearance count: this pktmon gives every copy its own
            // PktGroupId. A copy is the same bytes at another component
            // edge of the same NIC, in the same direction, shortly after.
            let nic = match key {
                IfKey::IfIndex(i) => i as u64,
                _ => 1 << 40 | f.component as u64,
            };
            let fp = pktmon::copy_fingerprint(&f, nic);
            let layer = (f.component as u64) << 16 | f.edge as u64;
            if self.copies.is_duplicate_key(fp, layer, ts) {
                self.report.duplicates += 1;
                return;
            }
        }
        // A Wi-Fi NIC's received packets are 802.11 data frames at its
        // miniport, its sent ones Ethernet: one interface for both.
        // Its length is the Ethernet frame's, as pktmon logs the same
        // packet at the components above the native Wi-Fi filter.
        let mut link = link;
        let mut data = f.data;
        let mut shrink = 0;
        if link == super::ndis::LINKTYPE_802_11 {
            if let Some(n) = crate::ieee80211::to_ethernet(f.data, &mut self.wifi) {
                (link, data, shrink) = (LinkType::ETHERNET, &self.wifi[..], n);
            }
        }
        let component = f.component;
        let comps = &self.components;
        let iface = self.out.iface(key, link, || {
            let IfKey::IfIndex(i) = key else {
                let comp = comps.name(component).unwrap_or("");
                return Described::text(
                    None,
                    format!("pktmon component {component} {comp} (not in the component table)")
                        .replace("  ", " "),
                );
            };
            let nic = comps.nic(i);
            let mut d = format!("pktmon NIC ifindex {i}");
            if !nic.description.is_empty() {
                d += &format!(": {} ({})", nic.description, nic.driver);
            }
            if let Some(m) = nic.mac {
                d += &format!(
                    ", MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    m[0], m[1], m[2], m[3], m[4], m[5]
                );
            }
            if !nic.addresses.is_empty() {
                let a: Vec<String> = nic.addresses.iter().map(|a| a.to_string()).collect();
                d += &format!(", addresses {}", a.join(" "));
            }
            let mut name = if nic.description.is_empty() {
                format!("ifindex-{i}")
            } else {
                nic.description.clone()
            };
            if link == super::ndis::LINKTYPE_802_11 {
                name += " (802.11)";
            }
            Described {
                name: Some(name),
                description: d,
                mac: nic.mac,
                addresses: nic.addresses,
            }
        });
        let wire = if f.original_size > 0 {
            (f.original_size as u32)
                .saturating_sub(shrink as u32)
                .max(data.len() as u32)
        } else {
            ndis::infer_wire_len(link, data)
        };
        self.out.emit(iface, link, ts, wire, data, f.outbound());
    }

    pub(super) fn set_components(&mut self, c: Components) {
        self.components = c;
    }

    pub(super) fn take_components(&mut self) -> Components {
        std::mem::take(&mut self.components)
    }

    pub(super) fn finish(mut self) -> EtlReport {
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
        let mut comps = std::mem::take(&mut self.per_component.list);
        comps.sort_by_key(|c| c.component);
        self.report.pktmon_components = comps;
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
