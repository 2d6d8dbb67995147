//! Test-only ETL writer: lays out buffers, the logfile header and
//! `EVENT_HEADER` records the way ETW writes them, so tests can build packet
//! captures (NDIS-PacketCapture, pktmon) from pcap files.

use super::container::Guid;
use super::logfile::FILETIME_UNIX_EPOCH;
use super::pktmon::Frame;

/// How timestamps tick in the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WClock {
    Qpc(u64),
    SystemTime,
}

/// One event to write.
#[derive(Debug, Clone)]
pub struct WEvent<'a> {
    pub provider: Guid,
    pub id: u16,
    pub keywords: u64,
    pub process_id: u32,
    pub thread_id: u32,
    /// Unix nanoseconds.
    pub ts_ns: i64,
    pub payload: &'a [u8],
    /// Add an extended data item (related activity id) before the payload.
    pub extended: bool,
}

pub struct EtlWriter {
    buffer_size: usize,
    out: Vec<u8>,
    cur: Vec<u8>,
    clock: WClock,
    start_ns: i64,
    ref_raw: u64,
    seq: u64,
    /// Write data buffers compressed (plain LZ77), as pktmon does.
    pub compress: bool,
}

const HDR: usize = 0x48;

impl EtlWriter {
    /// `start_ns` must be a multiple of 100 (a FILETIME).
    pub fn new(buffer_size: usize, clock: WClock, start_ns: i64) -> EtlWriter {
        assert_eq!(start_ns % 100, 0);
        let mut w = EtlWriter {
            buffer_size,
            out: Vec::new(),
            cur: Vec::new(),
            clock,
            start_ns,
            ref_raw: 0,
            seq: 0,
            compress: false,
        };
        w.ref_raw = match clock {
            WClock::Qpc(_) => 123_456_789_000,
            WClock::SystemTime => w.filetime(start_ns),
        };
        w.logfile_header();
        w
    }

    fn filetime(&self, ns: i64) -> u64 {
        (ns / 100 + FILETIME_UNIX_EPOCH as i64) as u64
    }

    /// Raw clock value for a Unix time.
    pub fn raw(&self, ns: i64) -> u64 {
        match self.clock {
            WClock::SystemTime => self.filetime(ns),
            WClock::Qpc(f) => {
                let d = (ns - self.start_ns) as i128 * f as i128;
                (self.ref_raw as i128 + (d + 500_000_000).div_euclid(1_000_000_000)) as u64
            }
        }
    }

    fn logfile_header(&mut self) {
        let (clock, freq) = match self.clock {
            WClock::Qpc(f) => (1u32, f),
            WClock::SystemTime => (2, 0),
        };
        let mut p = Vec::new();
        let put32 = |p: &mut Vec<u8>, v: u32| p.extend_from_slice(&v.to_le_bytes());
        put32(&mut p, self.buffer_size as u32);
        p.extend_from_slice(&[10, 0, 0, 0]); // Windows 10.0
        put32(&mut p, 19045);
        put32(&mut p, 2); // processors
        p.extend_from_slice(&0u64.to_le_bytes()); // EndTime
        put32(&mut p, 156_250);
        put32(&mut p, 0); // MaximumFileSize
        put32(&mut p, 0x24); // LogFileMode
        put32(&mut p, 0); // BuffersWritten (patched in finish)
        put32(&mut p, 1); // StartBuffers
        put32(&mut p, 8); // PointerSize
        put32(&mut p, 0); // EventsLost
        put32(&mut p, 2400); // CpuSpeedInMHz
        p.extend_from_slice(&[0u8; 16]); // LoggerName, LogFileName pointers
        p.resize(0x48 + 0xac, 0); // TIME_ZONE_INFORMATION
        p.resize(0xf8, 0);
        let boot = self.filetime(self.start_ns) - 36_000_000_000;
        p.extend_from_slice(&boot.to_le_bytes());
        p.extend_from_slice(&freq.to_le_bytes());
        p.extend_from_slice(&self.filetime(self.start_ns).to_le_bytes());
        put32(&mut p, clock);
        put32(&mut p, 0); // BuffersLost
        for s in ["hvsleuth-test", "C:\\test\\capture.etl"] {
            for u in s.encode_utf16().chain([0]) {
                p.extend_from_slice(&u.to_le_bytes());
            }
        }
        let mut rec = vec![0x02, 0x00, 0x02, 0xc0];
        rec.extend_from_slice(&((0x20 + p.len()) as u16).to_le_bytes());
        rec.extend_from_slice(&0u16.to_le_bytes()); // hook id 0: header
        rec.extend_from_slice(&4u32.to_le_bytes());
        rec.extend_from_slice(&8u32.to_le_bytes());
        rec.extend_from_slice(&self.ref_raw.to_le_bytes());
        rec.extend_from_slice(&[0u8; 8]);
        rec.extend_from_slice(&p);
        self.record(&rec);
        self.flush(0, 4);
    }

    /// Appends one record (its size already in its header), starting a new
    /// buffer when it does not fit.
    pub fn record(&mut self, rec: &[u8]) {
        let aligned = (rec.len() + 7) & !7;
        assert!(HDR + aligned <= self.buffer_size, "record too large");
        if self.cur.is_empty() {
            self.cur.resize(HDR, 0);
        }
        if self.cur.len() + aligned > self.buffer_size {
            self.flush(0, 0);
            self.cur.resize(HDR, 0);
        }
        self.cur.extend_from_slice(rec);
        self.cur.resize(self.cur.len() + aligned - rec.len(), 0);
    }

    /// Closes the current buffer with the given flags and type.
    fn flush(&mut self, flags: u16, buffer_type: u16) {
        if self.cur.is_empty() {
            return;
        }
        let filled = self.cur.len() as u32;
        let mut b = std::mem::take(&mut self.cur);
        b[0..4].copy_from_slice(&(self.buffer_size as u32).to_le_bytes());
        b[4..8].copy_from_slice(&filled.to_le_bytes());
        b[8..12].copy_from_slice(&filled.to_le_bytes());
        b[0x10..0x18].copy_from_slice(&self.ref_raw.to_le_bytes());
        b[0x18..0x20].copy_from_slice(&self.seq.to_le_bytes());
        b[0x28..0x2c].copy_from_slice(&[0, 8, 0x1f, 0]);
        b[0x2c..0x30].copy_from_slice(&3u32.to_le_bytes());
        b[0x30..0x34].copy_from_slice(&filled.to_le_bytes());
        b[0x34..0x36].copy_from_slice(&flags.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&buffer_type.to_le_bytes());
        if self.compress && buffer_type != 4 && flags & 0x40 == 0 {
            // As Windows writes them: header, then the records compressed;
            // the buffer is only as large as that.
            let c = crate::xca::lz77_compress(&b[HDR..]);
            b.truncate(HDR);
            b.extend_from_slice(&c);
            let size = b.len() as u32;
            b[0..4].copy_from_slice(&size.to_le_bytes());
            b[0x34..0x36].copy_from_slice(&(flags | 0x40).to_le_bytes());
        } else {
            b.resize(self.buffer_size, 0xff);
        }
        self.seq += 1;
        self.out.extend_from_slice(&b);
    }

    /// Writes an `EVENT_HEADER` record.
    pub fn event(&mut self, e: &WEvent<'_>) {
        let mut r = Vec::with_capacity(0x50 + e.payload.len() + 32);
        r.extend_from_slice(&[0, 0, 0x13, 0xc0]);
        let flags: u16 = if e.extended { 0x0001 | 0x0040 } else { 0x0040 };
        r.extend_from_slice(&flags.to_le_bytes());
        r.extend_from_slice(&0u16.to_le_bytes());
        r.extend_from_slice(&e.thread_id.to_le_bytes());
        r.extend_from_slice(&e.process_id.to_le_bytes());
        r.extend_from_slice(&self.raw(e.ts_ns).to_le_bytes());
        r.extend_from_slice(&e.provider.0);
        r.extend_from_slice(&e.id.to_le_bytes());
        r.extend_from_slice(&[0, 0x10, 4, 0]); // version, channel, level, opcode
        r.extend_from_slice(&0u16.to_le_bytes()); // task
        r.extend_from_slice(&e.keywords.to_le_bytes());
        r.extend_from_slice(&0u64.to_le_bytes()); // processor time
        r.extend_from_slice(&[0u8; 16]); // activity id
        if e.extended {
            // Two items: a related activity id (linked), then a session id.
            r.extend_from_slice(&[0, 0, 1, 0, 1, 0, 16, 0]);
            r.extend_from_slice(&[0xaa; 16]);
            r.extend_from_slice(&[0, 0, 3, 0, 0, 0, 4, 0]);
            r.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0]);
        }
        r.extend_from_slice(e.payload);
        let size = r.len() as u16;
        assert_eq!(size as usize, r.len(), "event too large");
        r[0..2].copy_from_slice(&size.to_le_bytes());
        self.record(&r);
    }

    /// Writes a kernel (system64) record with the given hook id.
    pub fn system_record(&mut self, hook: u16, ts_ns: i64, payload: &[u8]) {
        let mut r = vec![0x02, 0x00, 0x02, 0xc0];
        r.extend_from_slice(&((0x20 + payload.len()) as u16).to_le_bytes());
        r.extend_from_slice(&hook.to_le_bytes());
        r.extend_from_slice(&[0u8; 8]);
        r.extend_from_slice(&self.raw(ts_ns).to_le_bytes());
        r.extend_from_slice(&[0u8; 8]);
        r.extend_from_slice(payload);
        self.record(&r);
    }

    /// Appends a buffer flagged compressed whose content is noise (damage).
    pub fn compressed_buffer(&mut self) {
        self.flush(0, 0);
        self.cur.resize(HDR, 0);
        self.cur.extend((0..200u32).map(|i| (i * 37 % 251) as u8));
        self.flush(0x40, 0);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.flush(0x1, 0);
        let n = self.seq as u32;
        // BuffersWritten sits at payload offset 0x24 of the header record.
        let at = HDR + 0x20 + 0x24;
        self.out[at..at + 4].copy_from_slice(&n.to_le_bytes());
        self.out
    }
}

/// Payload of NDIS-PacketCapture event 1001.
pub fn ndis_1001(miniport: u32, lower: u32, frag: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + frag.len() + 16);
    p.extend_from_slice(&miniport.to_le_bytes());
    p.extend_from_slice(&lower.to_le_bytes());
    p.extend_from_slice(&(frag.len() as u32).to_le_bytes());
    p.extend_from_slice(frag);
    p.extend_from_slice(&[0u8; 16]); // GftFlowEntryId, GftOffloadInformation
    p
}

/// Payload of pktmon event 160.
pub fn pktmon_160(group: u64, number: u16, component: u16, frame: &[u8], original: u16) -> Vec<u8> {
    pktmon_frame(&Frame {
        group,
        number,
        appearance: 1,
        direction: 1,
        packet_type: 1,
        component,
        edge: 0,
        original_size: original,
        data: frame,
    })
}

/// Payload of pktmon event 160/170 with every header field chosen (the
/// reader's own [`Frame`], so what is written is what it parses).
pub fn pktmon_frame(h: &Frame<'_>) -> Vec<u8> {
    let mut p = Vec::with_capacity(34 + h.data.len());
    p.extend_from_slice(&h.group.to_le_bytes());
    for v in [
        h.number,
        h.appearance,
        h.direction,
        h.packet_type,
        h.component,
        h.edge,
        0,
    ] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&[0u8; 8]);
    p.extend_from_slice(&h.original_size.to_le_bytes());
    p.extend_from_slice(&(h.data.len() as u16).to_le_bytes());
    p.extend_from_slice(h.data);
    p
}
