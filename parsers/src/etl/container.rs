//! The ETL container, per the public format: a file is a run of buffers, each a
//! 0x48-byte `WMI_BUFFER_HEADER` followed by trace records, 8-byte aligned, up
//! to the buffer's filled-bytes mark. Buffer 0 starts with the logger's own
//! record, a system header carrying `TRACE_LOGFILE_HEADER` (clock, frequency,
//! start time). Records come in several header kinds, told apart by the marker
//! in their first four bytes; we decode `EVENT_HEADER` records fully and read
//! the size of every other kind to skip it.
//!
//! Everything here works on borrowed slices and never indexes unchecked.

use std::fmt;

/// Size of `WMI_BUFFER_HEADER` on disk.
pub const BUFFER_HEADER_LEN: usize = 0x48;
/// Largest buffer we accept. ETW caps buffers at 16 MiB (`BufferSize` is in
/// KiB, max 16384); anything beyond is damage.
pub const MAX_BUFFER_SIZE: u32 = 64 << 20;
/// `ETW_BUFFER_FLAG_COMPRESSED` in the buffer header's flag word at 0x34.
pub const BUFFER_FLAG_COMPRESSED: u16 = 0x40;

#[inline]
pub(crate) fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    let s = b.get(o..o.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}
#[inline]
pub(crate) fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    let s = b.get(o..o.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
#[inline]
pub(crate) fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    let s: [u8; 8] = b.get(o..o.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(s))
}

/// A GUID as Windows lays it out in memory (Data1..3 little-endian), printed
/// in the canonical `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// From the canonical form written as one hex number,
    /// e.g. `Guid::from_u128(0x2ed6006e_4729_4609_b423_3ee7bcd678ef)`.
    pub const fn from_u128(v: u128) -> Guid {
        let b = v.to_be_bytes();
        Guid([
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
            b[14], b[15],
        ])
    }

    /// Reads 16 bytes at `o`.
    pub(crate) fn at(b: &[u8], o: usize) -> Option<Guid> {
        Some(Guid(b.get(o..o.checked_add(16)?)?.try_into().ok()?))
    }

    /// Name of a provider we know, for reports.
    pub fn known_name(&self) -> Option<&'static str> {
        KNOWN_PROVIDERS
            .iter()
            .find(|(g, _)| g == self)
            .map(|(_, n)| *n)
    }
}

/// Microsoft-Windows-NDIS-PacketCapture (`netsh trace`; decoded in `ndis`).
/// The provider GUIDs live here, in the container layer that names them,
/// so the decoders import the container and never the other way round.
pub const NDIS_PROVIDER: Guid = Guid::from_u128(0x2ed6006e_4729_4609_b423_3ee7bcd678ef);
/// Microsoft-Windows-PktMon (decoded in `pktmon`).
pub const PKTMON_PROVIDER: Guid = Guid::from_u128(0x4d4f80d9_c8bd_4d73_bb5b_19c90402c5ac);

const KNOWN_PROVIDERS: &[(Guid, &str)] = &[
    (NDIS_PROVIDER, "Microsoft-Windows-NDIS-PacketCapture"),
    (PKTMON_PROVIDER, "Microsoft-Windows-PktMon"),
    (
        Guid::from_u128(0x68fdd900_4a3e_11d1_84f4_0000f80464e3),
        "EventTraceEvent (logfile header)",
    ),
    (
        Guid::from_u128(0xdd5ef90a_6398_47a4_ad34_4dcecdef795f),
        "Microsoft-Windows-HttpService",
    ),
    (
        Guid::from_u128(0x7dd42a49_5329_4832_8dfd_43d979153a88),
        "Microsoft-Windows-Kernel-Network",
    ),
    (
        Guid::from_u128(0x2f07e2ee_15db_40f1_90ef_9d7ba282188a),
        "Microsoft-Windows-TCPIP",
    ),
    (
        Guid::from_u128(0xd84521f7_2235_4237_a7c0_14e3a9676286),
        "Microsoft-Windows-Ras-NdisWanPacketCapture",
    ),
];

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{self}}}")
    }
}

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The fields of a `WMI_BUFFER_HEADER` that reading needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferHeader {
    /// Bytes this buffer occupies in the file (offset 0x00).
    pub size: u32,
    /// Bytes of header plus records (offset 0x30, `Offset`/"FilledBytes").
    pub filled: u32,
    /// `ETW_BUFFER_FLAG_*` (offset 0x34).
    pub flags: u16,
    /// `ETW_BUFFER_TYPE` (offset 0x36): 4 = header buffer.
    pub buffer_type: u16,
    /// Processor that filled it (`ETW_BUFFER_CONTEXT`, offset 0x28).
    pub processor: u8,
}

impl BufferHeader {
    pub fn parse(h: &[u8; BUFFER_HEADER_LEN]) -> BufferHeader {
        let r32 = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let r16 = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
        BufferHeader {
            size: r32(0),
            filled: r32(0x30),
            flags: r16(0x34),
            buffer_type: r16(0x36),
            processor: h[0x28],
        }
    }

    pub fn compressed(&self) -> bool {
        self.flags & BUFFER_FLAG_COMPRESSED != 0
    }
}

/// `TRACE_HEADER_TYPE_*`: the header type byte of a record's marker.
pub mod header_type {
    pub const SYSTEM32: u8 = 0x01;
    pub const SYSTEM64: u8 = 0x02;
    pub const COMPACT32: u8 = 0x03;
    pub const COMPACT64: u8 = 0x04;
    pub const FULL_HEADER32: u8 = 0x0a;
    pub const INSTANCE32: u8 = 0x0b;
    pub const MESSAGE: u8 = 0x0f;
    pub const PERFINFO32: u8 = 0x10;
    pub const PERFINFO64: u8 = 0x11;
    pub const EVENT_HEADER32: u8 = 0x12;
    pub const EVENT_HEADER64: u8 = 0x13;
    pub const FULL_HEADER64: u8 = 0x14;
    pub const INSTANCE64: u8 = 0x15;
}

/// What kind of header a record has (decides where its size and fields are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `SYSTEM_TRACE_HEADER` (kernel logger; also the logfile header record).
    System,
    /// Compact system header (no CPU times).
    Compact,
    /// `PERFINFO_TRACE_HEADER`.
    Perfinfo,
    /// Classic `EVENT_TRACE_HEADER` with a provider GUID.
    Classic,
    /// `EVENT_INSTANCE_GUID_HEADER`.
    Instance,
    /// Manifest/TraceLogging `EVENT_HEADER`.
    Event,
    /// WPP `MESSAGE_TRACE_HEADER`.
    Message,
    /// A header type we only skip (timed, error, WNODE, unknown).
    Other,
}

/// One record, borrowed from its buffer.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub kind: RecordKind,
    pub header_type: u8,
    /// The record's bytes (`size` of them, padding excluded).
    pub bytes: &'a [u8],
    /// Offset of the record inside its buffer.
    pub offset: usize,
}

impl Record<'_> {
    /// Whether the header is a 64-bit one (pointer-sized payload fields).
    pub fn is_64bit(&self) -> bool {
        use header_type::*;
        matches!(
            self.header_type,
            SYSTEM64 | COMPACT64 | PERFINFO64 | EVENT_HEADER64 | FULL_HEADER64 | INSTANCE64
        )
    }

    /// Hook id (group << 8 | type) of a system/compact/perfinfo record.
    pub fn hook_id(&self) -> Option<u16> {
        match self.kind {
            RecordKind::System | RecordKind::Compact | RecordKind::Perfinfo => {
                u16_at(self.bytes, 6)
            }
            _ => None,
        }
    }

    /// Raw timestamp (clock ticks) of the record, where its header has one.
    pub fn raw_timestamp(&self) -> Option<u64> {
        match self.kind {
            RecordKind::Perfinfo => u64_at(self.bytes, 8),
            RecordKind::Message | RecordKind::Other => None,
            _ => u64_at(self.bytes, 0x10),
        }
    }

    /// The provider GUID of classic and instance records.
    pub fn classic_provider(&self) -> Option<Guid> {
        match self.kind {
            RecordKind::Classic | RecordKind::Instance => Guid::at(self.bytes, 0x18),
            _ => None,
        }
    }

    /// Payload of a system record (after the 0x20-byte header and any
    /// extension the version word announces).
    pub fn system_payload(&self) -> Option<&[u8]> {
        if self.kind != RecordKind::System {
            return None;
        }
        let ver = u16_at(self.bytes, 0)?;
        let mut start = 0x20usize;
        if ver & 0x8000 != 0 {
            start += 8;
        }
        start += 8 * ((ver as usize >> 8) & 7);
        self.bytes.get(start..)
    }
}

/// Why record iteration stopped early inside a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Offset of the bad record inside its buffer.
    pub offset: usize,
    pub reason: &'static str,
}

/// Iterates the records of one buffer, `buf` being the buffer cut at its
/// filled-bytes mark (header included).
pub struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Records<'a> {
    pub fn new(buf: &'a [u8]) -> Records<'a> {
        Records {
            buf,
            pos: BUFFER_HEADER_LEN,
        }
    }
}

/// Reads the kind and size of the record starting at `rec`.
pub fn classify(rec: &[u8]) -> Result<(RecordKind, u8, usize, usize), &'static str> {
    use header_type::*;
    let (Some(b2), Some(b3)) = (rec.get(2), rec.get(3)) else {
        return Err("record header cut short");
    };
    let (ht, flags) = (*b2, *b3);
    if flags & 0xd0 == 0x90 {
        // TRACE_HEADER_FLAG | TRACE_MESSAGE: WPP message, size first.
        let size = u16_at(rec, 0).ok_or("record header cut short")? as usize;
        return Ok((RecordKind::Message, MESSAGE, size, 8));
    }
    if flags & 0xc0 != 0xc0 {
        return Err("unknown record marker");
    }
    let (kind, size_at, min) = match ht {
        SYSTEM32 | SYSTEM64 => (RecordKind::System, 4, 0x20),
        COMPACT32 | COMPACT64 => (RecordKind::Compact, 4, 0x18),
        PERFINFO32 | PERFINFO64 => (RecordKind::Perfinfo, 4, 0x10),
        FULL_HEADER32 | FULL_HEADER64 => (RecordKind::Classic, 0, 0x30),
        INSTANCE32 | INSTANCE64 => (RecordKind::Instance, 0, 0x48),
        EVENT_HEADER32 | EVENT_HEADER64 => (RecordKind::Event, 0, 0x50),
        MESSAGE => (RecordKind::Message, 0, 8),
        0x0c..=0x0e => (RecordKind::Other, 0, 8),
        _ => return Err("unknown record header type"),
    };
    let size = u16_at(rec, size_at).ok_or("record header cut short")? as usize;
    Ok((kind, ht, size, min))
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..)?;
        if rest.len() < 4 || u32_at(rest, 0) == Some(u32::MAX) {
            self.pos = self.buf.len();
            return None;
        }
        let offset = self.pos;
        let fail = |this: &mut Self, reason| {
            this.pos = this.buf.len();
            Some(Err(RecordError { offset, reason }))
        };
        let (kind, header_type, size, min) = match classify(rest) {
            Ok(k) => k,
            Err(reason) => return fail(self, reason),
        };
        if size < min {
            return fail(self, "record smaller than its header");
        }
        let Some(bytes) = rest.get(..size) else {
            return fail(self, "record runs past the buffer's filled bytes");
        };
        self.pos = offset + ((size + 7) & !7);
        Some(Ok(Record {
            kind,
            header_type,
            bytes,
            offset,
        }))
    }
}

/// `EVENT_HEADER_FLAG_EXTENDED_INFO`.
const EVENT_FLAG_EXTENDED_INFO: u16 = 0x0001;
const EVENT_HEADER_LEN: usize = 0x50;

/// A decoded `EVENT_HEADER` record: header fields and the user payload.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub flags: u16,
    pub thread_id: u32,
    pub process_id: u32,
    /// Raw clock ticks; see [`super::logfile::Clock`].
    pub timestamp: u64,
    pub provider: Guid,
    pub id: u16,
    pub version: u8,
    pub opcode: u8,
    pub keywords: u64,
    /// The event's user data (extended data items skipped).
    pub payload: &'a [u8],
}

/// Decodes an `EVENT_HEADER` record (`rec.kind == RecordKind::Event`).
pub fn parse_event<'a>(rec: &Record<'a>) -> Option<EventView<'a>> {
    let b = rec.bytes;
    let flags = u16_at(b, 4)?;
    let mut start = EVENT_HEADER_LEN;
    if flags & EVENT_FLAG_EXTENDED_INFO != 0 {
        // Items: reserved u16, type u16, linkage u16 (bit 0: another follows),
        // data size u16, data; each padded to 8 bytes.
        for _ in 0..64 {
            let linkage = u16_at(b, start + 4)?;
            let data_size = u16_at(b, start + 6)? as usize;
            start += (8 + data_size + 7) & !7;
            if start > b.len() {
                return None;
            }
            if linkage & 1 == 0 {
                break;
            }
        }
    }
    // One length check for the fixed header, then fixed-offset reads.
    let h: &[u8; 0x38] = b.get(..0x38)?.try_into().ok()?;
    let r16 = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let r32 = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let r64 = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().expect("8 bytes"));
    let provider: [u8; 16] = h[0x18..0x28].try_into().expect("16 bytes");
    Some(EventView {
        flags,
        thread_id: r32(8),
        process_id: r32(12),
        timestamp: r64(0x10),
        provider: Guid(provider),
        id: r16(0x28),
        version: h[0x2a],
        opcode: h[0x2d],
        keywords: r64(0x30),
        payload: b.get(start..)?,
    })
}

/// A NUL-terminated UTF-16LE string of at most `max` units; returns it and
/// the bytes consumed (terminator included).
pub(crate) fn utf16z(b: &[u8], max: usize) -> (String, usize) {
    let mut units = Vec::new();
    let mut used = 0;
    for c in b.chunks_exact(2).take(max) {
        used += 2;
        let u = u16::from_le_bytes([c[0], c[1]]);
        if u == 0 {
            break;
        }
        units.push(u);
    }
    (String::from_utf16_lossy(&units), used)
}

/// [`utf16z`] into `dst`, left untouched (no allocation) when it already
/// holds that string; returns the bytes consumed.
pub(crate) fn utf16z_into(b: &[u8], max: usize, dst: &mut String) -> usize {
    let units = b
        .chunks_exact(2)
        .take(max)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let total = (b.len() / 2).min(max);
    let n = units.clone().take_while(|&u| u != 0).count();
    if !dst.encode_utf16().eq(units.clone().take(n)) {
        *dst = char::decode_utf16(units.take(n))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
    }
    if n < total { (n + 1) * 2 } else { total * 2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16z_into_matches_utf16z() {
        let enc = |s: &str, z: bool| {
            let mut v: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            if z {
                v.extend_from_slice(&[0, 0]);
            }
            v
        };
        for (b, max) in [
            (enc("abc", true), 256),
            (enc("abc", false), 256),
            (enc("abcdef", true), 3),
            (vec![0x00, 0xd8, 0x41, 0x00, 0, 0], 256),
            (vec![0x41], 256),
            (vec![], 256),
        ] {
            let (want, used) = utf16z(&b, max);
            for start in ["", "abc", "other"] {
                let mut s = start.to_string();
                assert_eq!(utf16z_into(&b, max, &mut s), used);
                assert_eq!(s, want);
            }
        }
    }

    /// A buffer with one record of each kind we skip, then an event.
    fn buffer() -> Vec<u8> {
        let mut b = vec![0u8; BUFFER_HEADER_LEN];
        let rec = |b: &mut Vec<u8>, r: Vec<u8>| {
            b.extend_from_slice(&r);
            b.resize((b.len() + 7) & !7, 0);
        };
        // Perfinfo64: size 0x14 at 4.
        let mut r = vec![0x02, 0x00, 0x11, 0xc0, 0x14, 0x00, 0x2e, 0x0f];
        r.extend_from_slice(&77u64.to_le_bytes());
        r.extend_from_slice(&[1, 2, 3, 4]);
        rec(&mut b, r);
        // Compact64: size 0x18.
        let mut r = vec![0x02, 0x00, 0x04, 0xc0, 0x18, 0x00, 0x24, 0x05];
        r.resize(0x18, 0);
        rec(&mut b, r);
        // Classic 64-bit (FULL_HEADER64): size at 0, GUID at 0x18.
        let mut r = vec![0x33, 0x00, 0x14, 0xc0];
        r.resize(0x18, 0);
        r.extend_from_slice(&Guid::from_u128(0x1234).0);
        r.resize(0x33, 9);
        rec(&mut b, r);
        // WPP message: flags 0x90, size first.
        let mut r = vec![0x0c, 0x00, 0x00, 0x90];
        r.resize(0x0c, 0);
        rec(&mut b, r);
        // EVENT_HEADER32 with no payload.
        let mut r = vec![0x50, 0x00, 0x12, 0xc0];
        r.resize(0x18, 0);
        r.extend_from_slice(&Guid::from_u128(0x5678).0);
        r.resize(0x50, 0);
        rec(&mut b, r);
        b
    }

    #[test]
    fn record_kinds_and_sizes() {
        let b = buffer();
        let recs: Vec<Record<'_>> = Records::new(&b).map(|r| r.unwrap()).collect();
        let kinds: Vec<RecordKind> = recs.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                RecordKind::Perfinfo,
                RecordKind::Compact,
                RecordKind::Classic,
                RecordKind::Message,
                RecordKind::Event
            ]
        );
        let sizes: Vec<usize> = recs.iter().map(|r| r.bytes.len()).collect();
        assert_eq!(sizes, [0x14, 0x18, 0x33, 0x0c, 0x50]);
        assert_eq!(recs[0].raw_timestamp(), Some(77));
        assert_eq!(recs[0].hook_id(), Some(0x0f2e));
        assert_eq!(recs[2].classic_provider(), Some(Guid::from_u128(0x1234)));
        assert!(!recs[4].is_64bit());
        let ev = parse_event(&recs[4]).unwrap();
        assert_eq!(
            (ev.provider, ev.payload.len()),
            (Guid::from_u128(0x5678), 0)
        );
    }

    #[test]
    fn damaged_records_stop_the_buffer() {
        let mut b = buffer();
        // Padding marker ends the buffer early.
        let mut cut = b[..BUFFER_HEADER_LEN + 0x18].to_vec();
        cut.extend_from_slice(&[0xff; 16]);
        assert_eq!(Records::new(&cut).count(), 1);
        // A size beyond the filled bytes.
        b[BUFFER_HEADER_LEN + 4] = 0xff;
        let first = Records::new(&b).next().unwrap();
        assert_eq!(
            first.unwrap_err(),
            RecordError {
                offset: BUFFER_HEADER_LEN,
                reason: "record runs past the buffer's filled bytes"
            }
        );
        // A size below the header's.
        b[BUFFER_HEADER_LEN + 4] = 0x08;
        assert!(Records::new(&b).next().unwrap().is_err());
        // Exactly one error, then the iterator ends.
        assert_eq!(Records::new(&b).count(), 1);
    }

    #[test]
    fn extended_items_are_skipped() {
        let mut r = vec![0u8, 0, 0x13, 0xc0, 0x01, 0x00];
        r.resize(0x50, 0);
        r.extend_from_slice(&[0, 0, 1, 0, 1, 0, 3, 0, 7, 7, 7, 0, 0, 0, 0, 0]); // linked
        r.extend_from_slice(&[0, 0, 3, 0, 0, 0, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        r.extend_from_slice(b"payload");
        let n = r.len() as u16;
        r[0..2].copy_from_slice(&n.to_le_bytes());
        let rec = Record {
            kind: RecordKind::Event,
            header_type: header_type::EVENT_HEADER64,
            bytes: &r,
            offset: 0,
        };
        assert_eq!(parse_event(&rec).unwrap().payload, b"payload");
        // The second item's size running past the record.
        let mut bad = r.clone();
        bad[0x50 + 16 + 6] = 0xff;
        let rec = Record { bytes: &bad, ..rec };
        assert!(parse_event(&rec).is_none());
    }

    #[test]
    fn guid_text() {
        let g = Guid::from_u128(0x2ed6006e_4729_4609_b423_3ee7bcd678ef);
        assert_eq!(g.to_string(), "2ed6006e-4729-4609-b423-3ee7bcd678ef");
        assert_eq!(&g.0[..4], &[0x6e, 0x00, 0xd6, 0x2e]);
    }
}
