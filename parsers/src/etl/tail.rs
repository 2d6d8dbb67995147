//! Finding pktmon's component table without reading the whole trace.
//!
//! pktmon writes its component table (events 20/30/65/66/70: which NIC each
//! component belongs to, names, MACs, addresses) when the capture stops, so
//! it lands in the buffers ETW flushes last: in the corpus, the last buffer
//! of one processor, after that processor's packets (`pktmon-vpn-capture`),
//! or a flush-marker buffer of its own (`demikernel`, `gdn`). Reading the
//! whole file once just to learn it doubled the cost of every pktmon ETL.
//!
//! Instead: walk the buffer headers only (72 bytes each, seeking over the
//! bodies), remember the last [`TAIL_BUFFERS_PER_CPU`] buffers of each
//! processor, and decode, newest first, each processor's last buffer, going
//! back to that processor's previous buffer while the one just read holds
//! component events and begins with one (the table may have started
//! earlier). The buffers holding the table are then learnt in file order,
//! as a full pass would learn them. When the tail holds pktmon packet events
//! but no table, the caller falls back to the full pass
//! ([`super::scan_components`]); when it holds no pktmon event at all (an
//! NDIS or kernel trace), there is no table to look for.
//!
//! Memory: one buffer, its decompressed copy and the bounded offset rings.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};

use super::container::{BUFFER_HEADER_LEN, BufferHeader, MAX_BUFFER_SIZE, RecordKind, Records};
use super::pktmon::{self, Components};
use super::reader::read_full;
use crate::xca;

/// Buffers remembered per processor (a table longer than this many buffers
/// on one processor is learnt in part; the full pass still learns the rest
/// as it reaches it).
pub const TAIL_BUFFERS_PER_CPU: usize = 64;

/// What the tail of a trace told about pktmon's component table.
#[derive(Debug)]
pub enum TailTable {
    /// The table, learnt from these many buffers.
    Found(Components, usize),
    /// pktmon events at the end of the file but no table there.
    NotAtTail,
    /// No pktmon event in the last buffers: not a pktmon capture.
    NoPktmon,
}

/// What one buffer holds of pktmon's.
#[derive(Default)]
struct Look {
    pktmon_events: u64,
    component_events: u64,
    starts_with_component: bool,
}

/// Reads, and expands if compressed, the buffer at `offset` into `buf` /
/// `dbuf`; returns its records (header included) or `None` when it is
/// damaged (the full pass reports the damage).
fn load<'b, R: Read + Seek>(
    r: &mut R,
    offset: u64,
    size: u32,
    buf: &'b mut Vec<u8>,
    dbuf: &'b mut Vec<u8>,
) -> Option<&'b [u8]> {
    r.seek(SeekFrom::Start(offset)).ok()?;
    buf.resize(size as usize, 0);
    if read_full(r, buf).ok()? < size as usize {
        return None;
    }
    let hdr: &[u8; BUFFER_HEADER_LEN] = buf[..BUFFER_HEADER_LEN].try_into().ok()?;
    let bh = BufferHeader::parse(hdr);
    let filled = bh.filled as usize;
    if filled < BUFFER_HEADER_LEN || filled > MAX_BUFFER_SIZE as usize {
        return None;
    }
    if !bh.compressed() {
        return buf.get(..filled);
    }
    dbuf.resize(filled, 0);
    dbuf[..BUFFER_HEADER_LEN].copy_from_slice(&buf[..BUFFER_HEADER_LEN]);
    let n = xca::lz77_decompress(&buf[BUFFER_HEADER_LEN..], &mut dbuf[BUFFER_HEADER_LEN..]).ok()?;
    (n + BUFFER_HEADER_LEN == filled).then_some(&dbuf[..])
}

/// The pktmon events of one expanded buffer, each handed to `f` (event id,
/// payload).
fn pktmon_events(b: &[u8], mut f: impl FnMut(u16, &[u8])) {
    for rec in Records::new(b) {
        let Ok(rec) = rec else { break };
        if rec.kind != RecordKind::Event {
            continue;
        }
        let Some(ev) = super::container::parse_event(&rec) else {
            continue;
        };
        if ev.provider == pktmon::PKTMON_PROVIDER {
            f(ev.id, ev.payload);
        }
    }
}

fn look(b: &[u8]) -> Look {
    let mut l = Look::default();
    pktmon_events(b, |id, _| {
        let comp = pktmon::is_component_event(id);
        if l.pktmon_events == 0 {
            l.starts_with_component = comp;
        }
        l.pktmon_events += 1;
        l.component_events += comp as u64;
    });
    l
}

/// Looks for pktmon's component table at the end of the (uncompressed, not
/// gzipped) ETL file `r`; leaves `r` at an unspecified position. Pass an
/// unbuffered reader (a `File`, a `Cursor`): every header is one seek and
/// one 72-byte read.
pub fn tail_components<R: Read + Seek>(mut r: R) -> TailTable {
    // Buffer headers: per processor, the offsets and sizes of its last buffers.
    let mut rings: HashMap<u8, VecDeque<(u64, u32)>> = HashMap::new();
    let mut offset = 0u64;
    let mut hdr = [0u8; BUFFER_HEADER_LEN];
    loop {
        if r.seek(SeekFrom::Start(offset)).is_err() {
            break;
        }
        match read_full(&mut r, &mut hdr) {
            Ok(n) if n == BUFFER_HEADER_LEN => {}
            _ => break,
        }
        let bh = BufferHeader::parse(&hdr);
        if (bh.size as usize) < BUFFER_HEADER_LEN || bh.size > MAX_BUFFER_SIZE {
            break;
        }
        let ring = rings.entry(bh.processor).or_default();
        if ring.len() == TAIL_BUFFERS_PER_CPU {
            ring.pop_front();
        }
        ring.push_back((offset, bh.size));
        offset += bh.size as u64;
    }
    // Newest first on each processor: which buffers hold the table.
    let (mut buf, mut dbuf) = (Vec::new(), Vec::new());
    let mut chosen: Vec<(u64, u32)> = Vec::new();
    let mut pktmon_seen = false;
    for ring in rings.values() {
        for &(off, size) in ring.iter().rev() {
            let Some(b) = load(&mut r, off, size, &mut buf, &mut dbuf) else {
                break;
            };
            let l = look(b);
            pktmon_seen |= l.pktmon_events > 0;
            if l.component_events == 0 {
                break;
            }
            chosen.push((off, size));
            if !l.starts_with_component {
                break;
            }
        }
    }
    if chosen.is_empty() {
        return if pktmon_seen {
            TailTable::NotAtTail
        } else {
            TailTable::NoPktmon
        };
    }
    // Learnt in file order, as a pass over the whole file would.
    chosen.sort_unstable();
    let mut comps = Components::default();
    for &(off, size) in &chosen {
        if let Some(b) = load(&mut r, off, size, &mut buf, &mut dbuf) {
            pktmon_events(b, |id, p| {
                if pktmon::is_component_event(id) {
                    comps.learn(id, p);
                }
            });
        }
    }
    TailTable::Found(comps, chosen.len())
}
