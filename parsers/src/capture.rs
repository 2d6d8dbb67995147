//! Capture files: pcap (µs/ns, both byte orders), pcapng (several sections and
//! interfaces; EPB, SPB, OPB), transparently gzip-compressed.
//!
//! Reading is streaming: a bounded buffer is refilled from any [`Read`], every
//! packet is handed to a [`PacketSink`] as a borrowed view (no copy, no per
//! packet allocation). Damage stops reading with a [`CaptureError`] that names
//! the byte offset; everything before it has already been delivered.

use std::io::{BufRead, BufReader, Read};

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};

use crate::link::LinkType;
use crate::sniff::{InputKind, sniff};

/// One capture interface. A pcap file is one interface; pcapng numbers its
/// interfaces per section, we number them across the whole file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceInfo {
    /// Index across the whole file (sections concatenated).
    pub index: u32,
    /// `if_name`, else `if_description`, else a name derived from the file.
    pub name: String,
    pub description: Option<String>,
    pub link_type: LinkType,
    /// `if_speed` in bits per second, when recorded.
    pub speed_bps: Option<u64>,
    pub snaplen: u32,
    /// The NIC's own MAC as the capture tool recorded it: pcapng
    /// `if_MACaddr`, pktmon's component table.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "mac_as_text"
    )]
    pub mac: Option<[u8; 6]>,
    /// The NIC's own addresses as recorded: pcapng `if_IPv4addr` /
    /// `if_IPv6addr`, pktmon's component table (at most [`MAX_IF_ADDRESSES`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<std::net::IpAddr>,
}

/// Most addresses kept for one interface (options beyond are ignored).
pub const MAX_IF_ADDRESSES: usize = 32;

fn mac_as_text<S: serde::Serializer>(m: &Option<[u8; 6]>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )),
        None => s.serialize_none(),
    }
}

/// The NIC's own MAC and addresses from an IDB's options: `if_IPv4addr`
/// (code 4: address and netmask, 8 bytes), `if_IPv6addr` (5: address and
/// prefix length, 17 bytes), `if_MACaddr` (6: 6 bytes); each option may
/// repeat. Addresses are in network byte order whatever the section's byte
/// order. Malformed options are ignored.
pub fn idb_addressing<'o>(
    options: impl IntoIterator<Item = (u16, &'o [u8])>,
) -> (Option<[u8; 6]>, Vec<std::net::IpAddr>) {
    let mut mac = None;
    let mut addrs: Vec<std::net::IpAddr> = Vec::new();
    for (code, v) in options {
        let ip: Option<std::net::IpAddr> = match (code, v.len()) {
            (4, 8) => Some(std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3]).into()),
            (5, 17) => <[u8; 16]>::try_from(&v[..16])
                .ok()
                .map(|b| std::net::Ipv6Addr::from(b).into()),
            (6, 6) => {
                if mac.is_none() {
                    mac = <[u8; 6]>::try_from(v).ok();
                }
                None
            }
            _ => None,
        };
        if let Some(ip) = ip {
            if addrs.len() < MAX_IF_ADDRESSES && !ip.is_unspecified() && !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    (mac, addrs)
}

/// The name of a pcapng interface: `if_name`, else `if_description`. Npcap
/// (Wireshark on Windows) names interfaces `\Device\NPF_{GUID}`, which no
/// one recognises: its description ("Intel(R) Ethernet Connection ...", the
/// adapter's InterfaceDescription, which an inventory's `capture.interface`
/// can name) names it then.
pub fn interface_name(if_name: Option<String>, if_description: Option<&str>) -> Option<String> {
    match (if_name, if_description) {
        (Some(n), Some(d)) if n.starts_with("\\Device\\NPF_") && !d.trim().is_empty() => {
            Some(d.trim().to_string())
        }
        (Some(n), _) => Some(n),
        (None, d) => d.map(str::to_string),
    }
}

/// A captured frame as it appears in the file, borrowed from the read buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// [`InterfaceInfo::index`] of the interface it was captured on.
    pub iface: u32,
    pub link_type: LinkType,
    /// Nanoseconds since the Unix epoch (UTC).
    pub ts_ns: i64,
    /// Length of the frame on the wire (never less than `data.len()`).
    pub wire_len: u32,
    /// The captured bytes (possibly cut by the snaplen).
    pub data: &'a [u8],
}

/// Receives what a capture holds, in file order.
pub trait PacketSink {
    /// A new interface was described; packets refer to it by index.
    fn interface(&mut self, info: &InterfaceInfo);
    fn packet(&mut self, pkt: &Packet<'_>);
    /// The next packet's direction from the pcapng EPB flags (`epb_flags`
    /// bits 0-1): `true` outbound, `false` inbound. Called just before
    /// [`PacketSink::packet`], only when the capture says.
    fn next_direction(&mut self, _outbound: bool) {}
    /// Bytes of the (decompressed) file read so far; called every buffer refill.
    fn progress(&mut self, _consumed: u64) {}
    /// A pcapng section began; `application` is its `shb_userappl` (e.g.
    /// "Packet Monitor" for `pktmon etl2pcap`). Wrappers pass it on.
    fn section(&mut self, _application: Option<&str>) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureFormat {
    Pcap,
    PcapNg,
}

/// Why reading stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureErrorKind {
    #[error("not a pcap or pcapng capture (starts with {0})")]
    NotACapture(String),
    #[error("file ends inside a record (truncated)")]
    Truncated,
    #[error("corrupted block: {0}")]
    Corrupt(String),
    #[error("record of {0} bytes exceeds the {1} byte limit")]
    RecordTooLarge(u64, u64),
    #[error("packet refers to undeclared interface {0}")]
    UnknownInterface(u32),
    #[error("read error: {0}")]
    Io(String),
    /// Damage that reading went past (see [`ReadReport::skipped`]).
    #[error("{0}")]
    Skipped(String),
}

/// Damage found while reading; `offset` counts bytes of the decompressed stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte offset {offset}{}: {kind}", if *.compressed { " (of the decompressed data)" } else { "" })]
pub struct CaptureError {
    pub offset: u64,
    pub compressed: bool,
    pub kind: CaptureErrorKind,
}

/// What a read achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReport {
    pub format: Option<CaptureFormat>,
    pub gzip: bool,
    pub packets: u64,
    /// Bytes of the decompressed stream that were parsed successfully.
    pub bytes_parsed: u64,
    /// `None` when the whole file was read.
    pub error: Option<CaptureError>,
    /// Damage that reading went past (a pcapng block skipped by its length
    /// field or by resynchronising on the next sound block, an unusable
    /// `if_tsresol`, saturated timestamps): the first [`MAX_SKIPPED`] of them.
    pub skipped: Vec<CaptureError>,
    /// How many damaged places were skipped in all (`skipped` holds the first ones).
    pub skipped_count: u64,
}

/// How many skipped damaged places a [`ReadReport`] lists one by one.
pub const MAX_SKIPPED: usize = 64;

impl ReadReport {
    fn skip(&mut self, e: CaptureError) {
        self.skipped_count += 1;
        if self.skipped.len() < MAX_SKIPPED {
            self.skipped.push(e);
        }
    }

    /// The file was not read completely: reading stopped early or skipped damage.
    pub fn is_partial(&self) -> bool {
        self.error.is_some() || self.skipped_count > 0
    }
}

const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// Block types a resynchronisation accepts: SHB, IDB, OPB, SPB, NRB, ISB,
/// EPB, the obsolete big-endian OPB and PIB (systemd-journal and custom blocks
/// are left to the next sound block).
const NG_TYPES: [u32; 9] = [0x0a0d_0d0a, 1, 2, 3, 4, 5, 6, 0x0200_0000, 0x8000_0001];

fn ng_u32(b: &[u8], be: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// The length of the pcapng block at the start of `d` when its outer frame is
/// sound (length >= 12, a multiple of 4, within `d` and [`MAX_RECORD`], the
/// trailing copy equal), whatever its content.
fn ng_outer(d: &[u8], be: bool) -> Option<usize> {
    if d.len() < 12 {
        return None;
    }
    let len = ng_u32(&d[4..8], be) as usize;
    if len < 12 || len % 4 != 0 || len > d.len() || len > MAX_RECORD {
        return None;
    }
    (ng_u32(&d[len - 4..len], be) as usize == len).then_some(len)
}

/// A block length no block can have (< 12 or not a multiple of 4). Checked
/// before pcap-parser sees the block: pcap-parser 0.17.0 subtracts 12 from
/// a Process Information Block's length of 4-11 without a check
/// (`pcapng/block.rs:162`: overflow panic in debug builds, a 4 GiB read in release).
fn ng_impossible_len(d: &[u8], be: bool) -> Option<u32> {
    if d.len() < 8 || d.starts_with(&SHB_MAGIC) {
        return None;
    }
    let len = ng_u32(&d[4..8], be);
    (len < 12 || len % 4 != 0).then_some(len)
}

/// Offset (> 0) of the next block in `d` with a known type and a sound outer frame.
fn ng_resync(d: &[u8], be: bool) -> Option<usize> {
    (1..d.len().saturating_sub(11))
        .find(|&p| NG_TYPES.contains(&ng_u32(&d[p..p + 4], be)) && ng_outer(&d[p..], be).is_some())
}

/// Largest single record we agree to buffer (a pcapng block or pcap record).
/// Real frames, even 64 KiB TSO super-frames, are far below it; a hostile
/// length field beyond it is reported, never allocated.
pub const MAX_RECORD: usize = 16 << 20;
const INITIAL_BUFFER: usize = 1 << 20;

/// Reads a capture from `input`, detecting gzip, pcap and pcapng by content.
/// `default_name` names the interface of a pcap file (or an unnamed pcapng one).
pub fn read_capture<R: Read + Send>(
    input: R,
    default_name: &str,
    sink: &mut dyn PacketSink,
) -> ReadReport {
    let mut buffered = BufReader::with_capacity(64 << 10, input);
    let head = match buffered.fill_buf() {
        Ok(h) => h,
        Err(e) => return failed(false, CaptureErrorKind::Io(e.to_string())),
    };
    if sniff(head) == InputKind::Gzip {
        let gz = flate2::bufread::MultiGzDecoder::new(buffered);
        read_plain(gz, true, default_name, sink)
    } else {
        read_plain(buffered, false, default_name, sink)
    }
}

fn failed(gzip: bool, kind: CaptureErrorKind) -> ReadReport {
    ReadReport {
        format: None,
        gzip,
        packets: 0,
        bytes_parsed: 0,
        error: Some(CaptureError {
            offset: 0,
            compressed: gzip,
            kind,
        }),
        skipped: Vec::new(),
        skipped_count: 0,
    }
}

/// Per-interface state needed to turn raw timestamps into nanoseconds.
#[derive(Clone, Copy)]
struct TsConv {
    /// Units per second.
    resolution: u64,
    offset_s: i64,
}

impl TsConv {
    /// Nanoseconds since the epoch; `None` when the value does not fit an
    /// `i64` (beyond the year 2262), which the caller reports.
    #[inline]
    fn to_ns(self, raw: u64) -> Option<i64> {
        let ns = match self.resolution {
            1_000_000_000 => raw as i128,
            1_000_000 => raw as i128 * 1000,
            0 => 0,
            r => raw as i128 * 1_000_000_000 / r as i128,
        };
        let t = i128::from(self.offset_s) * 1_000_000_000 + ns;
        i64::try_from(t).ok()
    }
}

struct NgState {
    /// Global index of the first interface of the current section.
    section_base: u32,
    ifaces: Vec<(InterfaceInfo, TsConv)>,
    big_endian: bool,
    last_ts: i64,
    /// Damage noticed inside sound blocks (unusable `if_tsresol`, the first
    /// saturated timestamp), for the reader to report.
    notes: Vec<String>,
    saturated: u64,
}

fn read_plain<R: Read + Send>(
    input: R,
    gzip: bool,
    default_name: &str,
    sink: &mut dyn PacketSink,
) -> ReadReport {
    let mut report = ReadReport {
        format: None,
        gzip,
        packets: 0,
        bytes_parsed: 0,
        error: None,
        skipped: Vec::new(),
        skipped_count: 0,
    };
    let err = |offset: u64, kind| CaptureError {
        offset,
        compressed: gzip,
        kind,
    };
    let mut reader = match pcap_parser::create_reader(INITIAL_BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            report.error = Some(err(
                0,
                CaptureErrorKind::NotACapture("an empty file".into()),
            ));
            return report;
        }
        Err(PcapError::ReadError) => {
            report.error = Some(err(0, CaptureErrorKind::Io("cannot read".into())));
            return report;
        }
        Err(_) => {
            report.error = Some(err(
                0,
                CaptureErrorKind::NotACapture("unknown magic".into()),
            ));
            return report;
        }
    };

    let mut offset: u64 = 0;
    let mut buf_size = INITIAL_BUFFER;
    // Legacy pcap state.
    let mut legacy: Option<(LinkType, bool)> = None; // (link, nanosecond)
    let mut ng = NgState {
        section_base: 0,
        ifaces: Vec::new(),
        big_endian: false,
        last_ts: 0,
        notes: Vec::new(),
        saturated: 0,
    };
    let mut stalled = false;

    loop {
        let is_ng = report.format == Some(CaptureFormat::PcapNg);
        if is_ng && let Some(len) = ng_impossible_len(reader.data(), ng.big_endian) {
            // Never handed to pcap-parser (see `ng_impossible_len`).
            let d = reader.data();
            let n = match ng_resync(d, ng.big_endian) {
                Some(p) => p,
                None if reader.reader_exhausted() => {
                    report.error = Some(err(
                        offset,
                        CaptureErrorKind::Corrupt(format!("block length {len}")),
                    ));
                    return report;
                }
                // Nothing sound in the buffer: drop all but a possible block start.
                None => d.len().saturating_sub(11).max(1),
            };
            report.skip(err(offset, CaptureErrorKind::Skipped(format!(
                "pcapng block of impossible length {len}: {n} bytes skipped towards the next sound block"
            ))));
            offset += n as u64;
            reader.consume(n);
            if reader.data().len() < 12 && !reader.reader_exhausted() {
                let _ = reader.refill();
            }
            continue;
        }
        let mut res = reader.next();
        // A pcapng block whose outer frame is sound but whose content is
        // damaged: skipped by its length field; a damaged frame: skipped to
        // the next sound block; reading goes on.
        let tag = match &res {
            Err(PcapError::Incomplete(_)) if is_ng => 1,
            Err(PcapError::NomError(..)) | Err(PcapError::OwnedNomError(..)) if is_ng => 2,
            _ => 0,
        };
        if tag > 0 {
            drop(res);
            let d = reader.data();
            let step = ng_outer(d, ng.big_endian)
                .map(|n| (n, "by its length field"))
                .or_else(|| {
                    (tag == 2)
                        .then(|| ng_resync(d, ng.big_endian))
                        .flatten()
                        .map(|p| (p, "to the next sound block"))
                });
            if let Some((n, how)) = step {
                report.skip(err(
                    offset,
                    CaptureErrorKind::Skipped(format!(
                        "damaged pcapng block: {n} bytes skipped {how}"
                    )),
                ));
                offset += n as u64;
                reader.consume(n);
                continue;
            }
            // Not skippable: the usual handling below (same result again).
            res = reader.next();
        }
        match res {
            Ok((len, block)) => {
                stalled = false;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        report.format = Some(CaptureFormat::Pcap);
                        let info = legacy_interface(&h, default_name);
                        sink.interface(&info);
                        legacy = Some((info.link_type, h.is_nanosecond_precision()));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let (link, nano) =
                            legacy.expect("pcap-parser yields the header before records");
                        sink.packet(&legacy_packet(&b, link, nano));
                        report.packets += 1;
                    }
                    PcapBlockOwned::NG(block) => {
                        report.format = Some(CaptureFormat::PcapNg);
                        let r = ng_block(&block, &mut ng, default_name, sink, &mut report.packets);
                        for n in ng.notes.drain(..) {
                            report.skip(err(offset, CaptureErrorKind::Skipped(n)));
                        }
                        if let Err(kind) = r {
                            report.skip(err(
                                offset,
                                CaptureErrorKind::Skipped(format!(
                                    "pcapng block of {len} bytes skipped: {kind}"
                                )),
                            ));
                        }
                    }
                }
                offset += len as u64;
                report.bytes_parsed = offset;
                reader.consume(len);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) | Err(PcapError::BufferTooSmall) => {
                if reader.reader_exhausted() {
                    // Nothing more to read but a record is unfinished.
                    if reader.data().is_empty() {
                        break;
                    }
                    report.error = Some(err(offset, CaptureErrorKind::Truncated));
                    return report;
                }
                let before = reader.data().len();
                if stalled || before >= buf_size {
                    // The record does not fit: grow, within the limit.
                    if buf_size >= MAX_RECORD {
                        let claimed = claimed_record_len(reader.data(), &ng, legacy.is_some());
                        report.error = Some(err(
                            offset,
                            CaptureErrorKind::RecordTooLarge(claimed, MAX_RECORD as u64),
                        ));
                        return report;
                    }
                    buf_size = (buf_size * 2).min(MAX_RECORD);
                    reader.grow(buf_size);
                }
                if let Err(e) = reader.refill() {
                    report.error = Some(err(offset, CaptureErrorKind::Io(format!("{e:?}"))));
                    return report;
                }
                sink.progress(offset);
                stalled = reader.data().len() == before;
            }
            Err(PcapError::UnexpectedEof) => {
                report.error = Some(err(offset, CaptureErrorKind::Truncated));
                return report;
            }
            Err(e) => {
                let kind = match e {
                    PcapError::ReadError => CaptureErrorKind::Io("read failed".into()),
                    PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
                        CaptureErrorKind::Corrupt(format!("{k:?}"))
                    }
                    other => CaptureErrorKind::Corrupt(format!("{other:?}")),
                };
                report.error = Some(err(offset, kind));
                return report;
            }
        }
    }
    sink.progress(offset);
    report
}

/// Reads a capture held in memory (e.g. a memory-mapped file) without copying:
/// every packet handed to `sink` borrows `data`. Same results as
/// [`read_capture`] for uncompressed pcap and pcapng; gzip must go through
/// [`read_capture`].
pub fn read_capture_slice(
    data: &[u8],
    default_name: &str,
    sink: &mut dyn PacketSink,
) -> ReadReport {
    use nom::Err as NomErr;
    use pcap_parser::pcap::{
        parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    };
    use pcap_parser::pcapng::{parse_block_be, parse_block_le, parse_sectionheaderblock};

    let mut report = ReadReport {
        format: None,
        gzip: false,
        packets: 0,
        bytes_parsed: 0,
        error: None,
        skipped: Vec::new(),
        skipped_count: 0,
    };
    let err = |offset: usize, kind| CaptureError {
        offset: offset as u64,
        compressed: false,
        kind,
    };
    // A nom failure at `pos`: truncated when the input ran out, else corrupt.
    let fail = |pos: usize, e: NomErr<PcapError<&[u8]>>| match e {
        NomErr::Incomplete(_) => err(pos, CaptureErrorKind::Truncated),
        NomErr::Error(e) | NomErr::Failure(e) => err(
            pos,
            match e {
                PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
                    CaptureErrorKind::Corrupt(format!("{k:?}"))
                }
                other => CaptureErrorKind::Corrupt(format!("{other:?}")),
            },
        ),
    };
    let mut pos = 0usize;
    let mut last_progress = 0usize;
    match sniff(data) {
        InputKind::Pcap => {
            let (rest, h) = match parse_pcap_header(data) {
                Ok(x) => x,
                Err(e) => {
                    report.error = Some(fail(0, e));
                    return report;
                }
            };
            report.format = Some(CaptureFormat::Pcap);
            let info = legacy_interface(&h, default_name);
            sink.interface(&info);
            let link = info.link_type;
            let nano = h.is_nanosecond_precision();
            let parse = if h.is_modified_format() {
                parse_pcap_frame_modified
            } else if h.is_bigendian() {
                parse_pcap_frame_be
            } else {
                parse_pcap_frame
            };
            pos = data.len() - rest.len();
            while pos < data.len() {
                match parse(&data[pos..]) {
                    Ok((rest, b)) => {
                        sink.packet(&legacy_packet(&b, link, nano));
                        report.packets += 1;
                        pos = data.len() - rest.len();
                    }
                    Err(e) => {
                        report.error = Some(fail(pos, e));
                        break;
                    }
                }
                if pos - last_progress >= INITIAL_BUFFER {
                    sink.progress(pos as u64);
                    last_progress = pos;
                }
            }
        }
        InputKind::PcapNg => {
            report.format = Some(CaptureFormat::PcapNg);
            let mut ng = NgState {
                section_base: 0,
                ifaces: Vec::new(),
                big_endian: false,
                last_ts: 0,
                notes: Vec::new(),
                saturated: 0,
            };
            while pos < data.len() {
                let i = &data[pos..];
                let be = ng.big_endian;
                if let Some(len) = ng_impossible_len(i, be) {
                    // Never handed to pcap-parser (see `ng_impossible_len`).
                    let Some(p) = ng_resync(i, be) else {
                        report.error = Some(err(
                            pos,
                            CaptureErrorKind::Corrupt(format!("block length {len}")),
                        ));
                        break;
                    };
                    report.skip(err(pos, CaptureErrorKind::Skipped(format!(
                        "pcapng block of impossible length {len}: {p} bytes skipped to the next sound block"
                    ))));
                    pos += p;
                    continue;
                }
                let parsed = if i.starts_with(&SHB_MAGIC) {
                    parse_sectionheaderblock(i).map(|(r, shb)| (r, Block::SectionHeader(shb)))
                } else if be {
                    parse_block_be(i)
                } else {
                    parse_block_le(i)
                };
                match parsed {
                    Ok((rest, block)) => {
                        let used = data.len() - rest.len() - pos;
                        let r = ng_block(&block, &mut ng, default_name, sink, &mut report.packets);
                        for n in ng.notes.drain(..) {
                            report.skip(err(pos, CaptureErrorKind::Skipped(n)));
                        }
                        if let Err(kind) = r {
                            report.skip(err(
                                pos,
                                CaptureErrorKind::Skipped(format!(
                                    "pcapng block of {used} bytes skipped: {kind}"
                                )),
                            ));
                        }
                        pos += used;
                    }
                    Err(e) => {
                        // A block whose outer frame is sound is skipped by its
                        // length; otherwise reading resumes at the next sound
                        // block; a block cut by the end of the file stops it.
                        let whole = ng_outer(i, be);
                        let incomplete = matches!(e, NomErr::Incomplete(_));
                        let kind = fail(pos, e).kind;
                        let step =
                            whole
                                .map(|n| (n, "skipped by its length field"))
                                .or_else(|| {
                                    (!incomplete)
                                        .then(|| ng_resync(i, be))
                                        .flatten()
                                        .map(|p| (p, "skipped to the next sound block"))
                                });
                        let Some((n, how)) = step else {
                            report.error = Some(err(pos, kind));
                            break;
                        };
                        report.skip(err(
                            pos,
                            CaptureErrorKind::Skipped(format!(
                                "damaged pcapng block ({kind}): {n} bytes {how}"
                            )),
                        ));
                        pos += n;
                    }
                }
                if pos - last_progress >= INITIAL_BUFFER {
                    sink.progress(pos as u64);
                    last_progress = pos;
                }
            }
        }
        _ => {
            report.error = Some(err(
                0,
                CaptureErrorKind::NotACapture(if data.is_empty() {
                    "an empty file".into()
                } else {
                    "unknown magic".into()
                }),
            ));
            return report;
        }
    }
    report.bytes_parsed = pos as u64;
    sink.progress(pos as u64);
    report
}

/// The one interface of a legacy pcap file, named after the file.
fn legacy_interface(h: &pcap_parser::PcapHeader, name: &str) -> InterfaceInfo {
    InterfaceInfo {
        index: 0,
        name: name.to_string(),
        description: None,
        link_type: LinkType(h.network.0 as u16),
        speed_bps: None,
        snaplen: h.snaplen,
        mac: None,
        addresses: Vec::new(),
    }
}

/// A legacy pcap record as a packet (µs or ns timestamps; caplen bounded by the data).
#[inline]
fn legacy_packet<'a>(
    b: &pcap_parser::LegacyPcapBlock<'a>,
    link: LinkType,
    nano: bool,
) -> Packet<'a> {
    let frac = if nano {
        b.ts_usec as i64
    } else {
        b.ts_usec as i64 * 1000
    };
    let data = &b.data[..(b.caplen as usize).min(b.data.len())];
    Packet {
        iface: 0,
        link_type: link,
        ts_ns: b.ts_sec as i64 * 1_000_000_000 + frac,
        wire_len: b.origlen.max(data.len() as u32),
        data,
    }
}

/// Length a damaged record claims, for the error message.
fn claimed_record_len(data: &[u8], ng: &NgState, legacy: bool) -> u64 {
    let rd = |o: usize, be: bool| -> Option<u32> {
        let b: [u8; 4] = data.get(o..o + 4)?.try_into().ok()?;
        Some(if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    if legacy {
        rd(8, false).unwrap_or(0) as u64
    } else {
        rd(4, ng.big_endian).unwrap_or(0) as u64
    }
}

fn ng_block(
    block: &Block<'_>,
    ng: &mut NgState,
    default_name: &str,
    sink: &mut dyn PacketSink,
    packets: &mut u64,
) -> Result<(), CaptureErrorKind> {
    match block {
        Block::SectionHeader(shb) => {
            ng.section_base = ng.ifaces.len() as u32;
            ng.big_endian = shb.big_endian();
            sink.section(shb.shb_userappl().and_then(|r| r.ok()));
        }
        Block::InterfaceDescription(idb) => {
            let index = ng.ifaces.len() as u32;
            let name = idb.if_name().and_then(|r| r.ok()).map(str::to_string);
            let description = idb
                .if_description()
                .and_then(|r| r.ok())
                .map(str::to_string);
            let (mac, addresses) = idb_addressing(
                idb.options
                    .iter()
                    .filter_map(|o| Some((o.code.0, o.as_bytes().ok()?))),
            );
            let info = InterfaceInfo {
                index,
                name: interface_name(name, description.as_deref())
                    .unwrap_or_else(|| format!("{default_name}#{index}")),
                description,
                link_type: LinkType(idb.linktype.0 as u16),
                speed_bps: idb.if_speed().and_then(|r| r.ok()),
                snaplen: idb.snaplen,
                mac,
                addresses,
            };
            let resolution = match idb.ts_resolution() {
                Some(r) if r > 0 => r,
                _ => {
                    let t = idb.if_tsresol;
                    let what = if t & 0x80 != 0 {
                        format!("2^-{}", t & 0x7f)
                    } else {
                        format!("10^-{t}")
                    };
                    ng.notes.push(format!(
                        "interface {index}: if_tsresol {what} cannot be represented; its timestamps are read as microseconds"
                    ));
                    1_000_000
                }
            };
            let conv = TsConv {
                resolution,
                offset_s: idb.ts_offset(),
            };
            sink.interface(&info);
            ng.ifaces.push((info, conv));
        }
        Block::EnhancedPacket(epb) => {
            let raw = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
            // epb_flags (option 2, 4 bytes): direction in bits 0-1 (1 in, 2 out).
            if let Some(o) = epb
                .options
                .iter()
                .find(|o| o.code.0 == 2 && o.value.len() >= 4)
            {
                let b = [o.value[0], o.value[1], o.value[2], o.value[3]];
                let flags = if ng.big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                };
                match flags & 3 {
                    1 => sink.next_direction(false),
                    2 => sink.next_direction(true),
                    _ => {}
                }
            }
            emit_ng(
                ng,
                epb.if_id,
                Some(raw),
                epb.caplen,
                epb.origlen,
                epb.data,
                sink,
            )?;
            *packets += 1;
        }
        Block::SimplePacket(spb) => {
            // No caplen field: the captured part is the block body, cut to origlen / snaplen.
            let snap = ng
                .ifaces
                .get(ng.section_base as usize)
                .map(|(i, _)| i.snaplen)
                .unwrap_or(0);
            let mut cap = spb.origlen;
            if snap > 0 {
                cap = cap.min(snap);
            }
            emit_ng(ng, 0, None, cap, spb.origlen, spb.data, sink)?;
            *packets += 1;
        }
        Block::Unknown(u) if u.block_type == 2 || u.block_type == 0x0200_0000 => {
            // Obsolete Packet Block: if_id u16, drops u16, ts_high, ts_low, caplen, origlen, data.
            let d = u.data;
            if d.len() < 20 {
                return Err(CaptureErrorKind::Corrupt(
                    "short obsolete packet block".into(),
                ));
            }
            let be = ng.big_endian;
            let r16 = |o: usize| {
                let b = [d[o], d[o + 1]];
                if be {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                }
            };
            let r32 = |o: usize| {
                let b = [d[o], d[o + 1], d[o + 2], d[o + 3]];
                if be {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            };
            let raw = ((r32(4) as u64) << 32) | r32(8) as u64;
            emit_ng(
                ng,
                r16(0) as u32,
                Some(raw),
                r32(12),
                r32(16),
                &d[20..],
                sink,
            )?;
            *packets += 1;
        }
        _ => {}
    }
    Ok(())
}

fn emit_ng(
    ng: &mut NgState,
    if_id: u32,
    raw_ts: Option<u64>,
    caplen: u32,
    origlen: u32,
    body: &[u8],
    sink: &mut dyn PacketSink,
) -> Result<(), CaptureErrorKind> {
    let global = ng.section_base.checked_add(if_id);
    let Some((info, conv)) = global.and_then(|g| ng.ifaces.get(g as usize)) else {
        return Err(CaptureErrorKind::UnknownInterface(if_id));
    };
    let data = &body[..(caplen as usize).min(body.len())];
    let ts_ns = match raw_ts.map(|raw| conv.to_ns(raw)) {
        Some(Some(t)) => t,
        Some(None) => {
            // Kept at the last good time, so the timeline stays ordered; counted and reported.
            ng.saturated += 1;
            if ng.saturated == 1 {
                ng.notes.push(format!(
                    "interface {}: a timestamp beyond the year 2262 (raw {}); such packets keep the previous time",
                    info.index,
                    raw_ts.unwrap_or(0)
                ));
            }
            ng.last_ts
        }
        None => ng.last_ts,
    };
    ng.last_ts = ts_ns;
    sink.packet(&Packet {
        iface: info.index,
        link_type: info.link_type,
        ts_ns,
        wire_len: origlen.max(data.len() as u32),
        data,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        ifaces: Vec<InterfaceInfo>,
        pkts: Vec<(u32, i64, u32, usize)>,
    }
    impl PacketSink for Collect {
        fn interface(&mut self, info: &InterfaceInfo) {
            self.ifaces.push(info.clone());
        }
        fn packet(&mut self, p: &Packet<'_>) {
            self.pkts.push((p.iface, p.ts_ns, p.wire_len, p.data.len()));
        }
    }

    fn pcap_le(nano: bool, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut v = Vec::new();
        let magic: u32 = if nano { 0xa1b23c4d } else { 0xa1b2c3d4 };
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (s, frac, data, orig) in records {
            v.extend_from_slice(&s.to_le_bytes());
            v.extend_from_slice(&frac.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&orig.to_le_bytes());
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn pcap_micro_and_nano() {
        for nano in [false, true] {
            let f = pcap_le(nano, &[(10, 5, &[0u8; 20], 1500), (11, 0, &[1u8; 4], 4)]);
            let mut c = Collect::default();
            let r = read_capture(&f[..], "x.pcap", &mut c);
            assert_eq!(r.error, None);
            assert_eq!(r.format, Some(CaptureFormat::Pcap));
            assert_eq!(c.ifaces[0].name, "x.pcap");
            let frac = if nano { 5 } else { 5000 };
            assert_eq!(
                c.pkts,
                vec![
                    (0, 10_000_000_000 + frac, 1500, 20),
                    (0, 11_000_000_000, 4, 4)
                ]
            );
        }
    }

    #[test]
    fn truncated_pcap_keeps_earlier_packets() {
        let f = pcap_le(false, &[(1, 0, &[0u8; 60], 60), (2, 0, &[0u8; 60], 60)]);
        let cut = &f[..f.len() - 10];
        let mut c = Collect::default();
        let r = read_capture(cut, "t", &mut c);
        assert_eq!(c.pkts.len(), 1);
        let e = r.error.unwrap();
        assert_eq!(e.kind, CaptureErrorKind::Truncated);
        assert_eq!(e.offset, 24 + 16 + 60);
    }

    #[test]
    fn hostile_length_is_not_allocated() {
        let mut f = pcap_le(false, &[(1, 0, &[0u8; 60], 60)]);
        // second record claims 4 GiB
        f.extend_from_slice(&[
            0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        f.extend_from_slice(&[0u8; 100]);
        let mut c = Collect::default();
        let r = read_capture(&f[..], "t", &mut c);
        assert_eq!(c.pkts.len(), 1);
        assert!(r.error.is_some());
    }

    #[test]
    fn not_a_capture() {
        let mut c = Collect::default();
        let r = read_capture(&b"hello world, this is text"[..], "t", &mut c);
        assert!(matches!(
            r.error.unwrap().kind,
            CaptureErrorKind::NotACapture(_)
        ));
        let r = read_capture(&b""[..], "t", &mut c);
        assert!(r.error.is_some());
    }

    #[test]
    fn gzip_detected_by_magic() {
        use std::io::Write;
        let f = pcap_le(false, &[(1, 0, &[0u8; 60], 60)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&f).unwrap();
        let z = gz.finish().unwrap();
        let mut c = Collect::default();
        let r = read_capture(&z[..], "t", &mut c);
        assert!(r.gzip);
        assert_eq!(r.error, None);
        assert_eq!(c.pkts.len(), 1);
    }

    #[test]
    #[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
    fn slice_reader_agrees_with_stream_reader() {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/");
        for f in [
            "zeek/smb3_multichannel.pcap",
            "zeek/kerberos445_auth.pcapng",
            "zeek/smb2-zero-byte-error-ioctl.pcapng",
            "suricata-verify/smb-length-5770/input.pcap",
        ] {
            let data = std::fs::read(format!("{corpus}{f}")).unwrap();
            let (mut a, mut b) = (Collect::default(), Collect::default());
            let ra = read_capture(&data[..], "x", &mut a);
            let rb = read_capture_slice(&data, "x", &mut b);
            assert_eq!(
                (ra.packets, ra.error.clone(), ra.format),
                (rb.packets, rb.error.clone(), rb.format),
                "{f}"
            );
            assert_eq!(a.pkts, b.pkts, "{f}");
            assert_eq!(a.ifaces, b.ifaces, "{f}");
            // Cut anywhere: both stop at the same record with the same error.
            for cut in [data.len() / 3, data.len() - 7] {
                let (mut a, mut b) = (Collect::default(), Collect::default());
                let ra = read_capture(&data[..cut], "x", &mut a);
                let rb = read_capture_slice(&data[..cut], "x", &mut b);
                assert_eq!(ra.packets, rb.packets, "{f} cut {cut}");
                assert_eq!(
                    ra.error.map(|e| e.offset),
                    rb.error.map(|e| e.offset),
                    "{f} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn ts_conversion() {
        let c = TsConv {
            resolution: 1 << 10,
            offset_s: 2,
        };
        assert_eq!(c.to_ns(1024), Some(3_000_000_000));
        let c = TsConv {
            resolution: 1_000_000,
            offset_s: 0,
        };
        assert_eq!(c.to_ns(1), Some(1000));
        assert_eq!(c.to_ns(u64::MAX), None);
    }

    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = 12 + body.len().div_ceil(4) * 4;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (len - 12 - body.len()), 0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }

    fn shb() -> Vec<u8> {
        let mut v = Vec::new();
        let mut b = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        b.extend_from_slice(&[1, 0, 0, 0]);
        b.extend_from_slice(&(-1i64).to_le_bytes());
        block(&mut v, 0x0a0d_0d0a, &b);
        v
    }

    /// An IDB, optionally with an `if_tsresol` option.
    fn idb(out: &mut Vec<u8>, tsresol: Option<u8>) {
        let mut b = vec![1, 0, 0, 0];
        b.extend_from_slice(&65535u32.to_le_bytes());
        if let Some(t) = tsresol {
            b.extend_from_slice(&[9, 0, 1, 0, t, 0, 0, 0]);
        }
        b.extend_from_slice(&[0; 4]);
        block(out, 1, &b);
    }

    fn epb(out: &mut Vec<u8>, ts: u64, caplen: u32, data: &[u8]) {
        let mut b = 0u32.to_le_bytes().to_vec();
        b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ts as u32).to_le_bytes());
        b.extend_from_slice(&caplen.to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        block(out, 6, &b);
    }

    /// The NIC's MAC and addresses from IDB options (Npcap and other tools
    /// write if_MACaddr / if_IPv4addr / if_IPv6addr), through both readers;
    /// malformed, repeated and unspecified ones are ignored.
    #[test]
    fn idb_addressing_options() {
        let mut f = shb();
        let mut b = vec![1, 0, 0, 0];
        b.extend_from_slice(&65535u32.to_le_bytes());
        let mut opt = |code: u16, v: &[u8]| {
            b.extend_from_slice(&code.to_le_bytes());
            b.extend_from_slice(&(v.len() as u16).to_le_bytes());
            b.extend_from_slice(v);
            b.resize(b.len().div_ceil(4) * 4, 0);
        };
        opt(6, &[0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]);
        opt(6, &[0xaa; 6]); // a second MAC: the first stays
        opt(4, &[10, 1, 2, 3, 255, 255, 255, 0]);
        opt(4, &[10, 1, 2, 3, 255, 255, 0, 0]); // the same address again
        opt(4, &[0, 0, 0, 0, 0, 0, 0, 0]); // unspecified
        opt(4, &[10, 9, 9]); // too short
        let mut v6 = [0u8; 17];
        v6[0] = 0xfe;
        v6[1] = 0x80;
        v6[15] = 7;
        v6[16] = 64;
        opt(5, &v6);
        opt(5, &v6[..16]); // no prefix length
        b.extend_from_slice(&[0; 4]);
        block(&mut f, 1, &b);
        idb(&mut f, None);
        for (r, c) in both(&f) {
            assert!(r.error.is_none());
            assert_eq!(c.ifaces[0].mac, Some([0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]));
            assert_eq!(
                c.ifaces[0].addresses,
                vec![
                    "10.1.2.3".parse::<std::net::IpAddr>().unwrap(),
                    "fe80::7".parse().unwrap()
                ]
            );
            assert_eq!((c.ifaces[1].mac, c.ifaces[1].addresses.len()), (None, 0));
        }
        // Bounded however many are given.
        let many: Vec<(u16, Vec<u8>)> = (0..1000u32)
            .map(|i| (4, [i.to_be_bytes(), [255; 4]].concat()))
            .collect();
        let (_, a) = idb_addressing(many.iter().map(|(c, v)| (*c, &v[..])));
        assert_eq!(a.len(), MAX_IF_ADDRESSES);
    }

    /// Both readers: (report, packets).
    fn both(f: &[u8]) -> [(ReadReport, Collect); 2] {
        let mut a = Collect::default();
        let ra = read_capture(f, "t", &mut a);
        let mut b = Collect::default();
        let rb = read_capture_slice(f, "t", &mut b);
        [(ra, a), (rb, b)]
    }

    /// The minimal file that makes pcap-parser 0.17.0 subtract with overflow
    /// (`pcapng/block.rs:162`): a section header, then a Process Information
    /// Block (type 0x80000001) whose length field says 8.
    pub(crate) fn pib_overflow_minimal() -> Vec<u8> {
        let mut f = shb();
        f.extend_from_slice(&[0x01, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00]);
        f
    }

    #[test]
    fn pib_of_length_4_to_11_is_guarded_and_reading_resumes() {
        // The minimal file: no panic, reported as damage.
        for (r, c) in both(&pib_overflow_minimal()) {
            assert!(c.pkts.is_empty());
            assert!(r.is_partial(), "{r:?}");
        }
        // 1 packet, the bad PIB (lengths 4..=11), 5 more: all 6 read.
        for len in 4u32..=11 {
            let mut f = shb();
            idb(&mut f, None);
            epb(&mut f, 1, 4, b"abcd");
            f.extend_from_slice(&0x8000_0001u32.to_le_bytes());
            f.extend_from_slice(&len.to_le_bytes());
            for k in 0..5 {
                epb(&mut f, 2 + k, 4, b"efgh");
            }
            for (r, c) in both(&f) {
                assert_eq!(c.pkts.len(), 6, "len {len}: {r:?}");
                assert_eq!((r.error.clone(), r.skipped_count), (None, 1), "len {len}");
            }
        }
    }

    #[test]
    fn damaged_block_is_skipped_by_its_length_and_reading_resumes() {
        // An EPB whose caplen exceeds its block (impossible), then 10 good ones.
        let mut f = shb();
        idb(&mut f, None);
        epb(&mut f, 1, 4, b"abcd");
        epb(&mut f, 2, 60_000, b"xxxx");
        for k in 0..10 {
            epb(&mut f, 3 + k, 4, b"efgh");
        }
        // A frame of impossible length (13) in the middle: resynchronised.
        f.extend_from_slice(&6u32.to_le_bytes());
        f.extend_from_slice(&13u32.to_le_bytes());
        f.extend_from_slice(&[0xee; 9]);
        epb(&mut f, 20, 4, b"ijkl");
        for (r, c) in both(&f) {
            assert_eq!(c.pkts.len(), 12, "{r:?}");
            assert_eq!(r.error, None);
            assert_eq!(r.skipped_count, 2, "{:?}", r.skipped);
            assert!(r.is_partial());
            let off = (shb().len() + 24 + 36) as u64;
            assert_eq!(r.skipped[0].offset, off, "{:?}", r.skipped);
        }
    }

    #[test]
    fn unusable_tsresol_and_saturated_timestamps_are_reported() {
        for t in [0x80 | 127u8, 100u8] {
            let mut f = shb();
            idb(&mut f, Some(t));
            epb(&mut f, 5_000_000, 4, b"abcd");
            for (r, c) in both(&f) {
                // Read as microseconds (the pcapng default), not all zero.
                assert_eq!(c.pkts[0].1, 5_000_000_000);
                assert_eq!(r.skipped_count, 1, "{r:?}");
                assert!(r.skipped[0].to_string().contains("if_tsresol"));
            }
        }
        let mut f = shb();
        idb(&mut f, Some(9));
        epb(&mut f, 1_000_000_000, 4, b"abcd");
        epb(&mut f, u64::MAX, 4, b"abcd");
        epb(&mut f, u64::MAX - 1, 4, b"abcd");
        for (r, c) in both(&f) {
            assert_eq!(
                c.pkts[1].1, 1_000_000_000,
                "saturated keeps the previous time"
            );
            assert_eq!(r.skipped_count, 1, "{r:?}");
            assert!(r.skipped[0].to_string().contains("2262"));
        }
    }
}
