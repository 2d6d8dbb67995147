//! One direction of a TCP connection: where its byte stream stands, what is
//! buffered ahead of a hole, and the classification of each new segment.
//!
//! Positions are kept twice: `next_seq` (the TCP sequence number of the next
//! expected byte, wrapping mod 2^32) and `next_off` (the same position as a
//! non-wrapping stream offset counted from the sync point, SYN and FIN
//! included). A segment's sequence number is turned into an offset by the
//! signed 32-bit distance to `next_seq` (RFC 1982 serial arithmetic), so
//! everything after that is plain `i64`/`u64` arithmetic with no wrap-around.

use super::ooo::{OooBuffer, Piece, Range};
use super::{ReassemblyConfig, SegmentKind, StreamHandler, TcpCounters};
use crate::decode::{TcpView, tcp_flags};
use crate::flow::Direction;

/// What identifies an exact copy of a segment (SPAN/mirror duplicates): the
/// whole TCP header state that matters, not only `seq`. Kept as 8 bytes:
/// the sequence number exactly, and a 32-bit mix of acknowledgement number,
/// length, flags and window (16 bytes a signature would cost a million live
/// flows 128 MB). Two segments with the same sequence number whose other
/// fields differ look alike with probability 2^-32; 0 marks an empty slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Sig(u64);

impl Sig {
    fn new(seq: u32, ack: u32, len: u32, flags: u8, window: u16) -> Sig {
        let x = (u64::from(ack) << 32 | u64::from(len))
            ^ (u64::from(window) << 8 | u64::from(flags)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // splitmix64's finaliser: every input bit reaches the low 32 bits.
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let mix = (z as u32).max(1);
        Sig(u64::from(seq) << 32 | u64::from(mix))
    }
}

/// "No offset" in the `u64`/`i64` offset fields (`Option` would double them).
const NO_OFF: u64 = u64::MAX;
const NO_END: i64 = i64::MIN;

/// How many recent segments of a direction the duplicate filter remembers.
const RECENT: usize = 4;

#[derive(Debug)]
pub(super) struct HalfStream {
    /// A first segment (SYN or not) has fixed the sequence space.
    synced: bool,
    /// That first segment was a SYN (offset 0 is the SYN's sequence number).
    syn_start: bool,
    next_seq: u32,
    next_off: u64,
    /// Offset of the FIN, once seen.
    fin_off: u64,
    /// `end()` was reported: nothing more is delivered.
    ended: bool,
    ooo: OooBuffer,
    recent: [Sig; RECENT],
    recent_pos: u8,
    /// End offset of the last out-of-window segment: the next one starting
    /// exactly there makes us resynchronise (see [`SegmentKind::OutOfWindow`]).
    oow_end: i64,
    /// Lowest offset whose bytes may have been seen: everything below was
    /// never captured. 0 for a mid-stream start (bytes before the first
    /// segment are unseen), `i64::MIN` after a SYN (nothing lies before it).
    seen_lo: i64,
    /// The most recent holes given up as gaps (`[start, end)` offsets, empty
    /// when start == end): their bytes were never seen, so a segment carrying
    /// them later is late, not a retransmission.
    /// Kept as starts and lengths (24 bytes, not 32: a million flows).
    hole_start: [u64; HOLES],
    hole_len: [u32; HOLES],
    holes_pos: u8,
}

/// How many given-up holes a direction remembers to tell late segments from
/// retransmissions.
const HOLES: usize = 2;

impl Default for HalfStream {
    fn default() -> Self {
        HalfStream {
            synced: false,
            syn_start: false,
            next_seq: 0,
            next_off: 0,
            fin_off: NO_OFF,
            ended: false,
            ooo: OooBuffer::default(),
            recent: [Sig::default(); RECENT],
            recent_pos: 0,
            oow_end: NO_END,
            seen_lo: 0,
            hole_start: [0; HOLES],
            hole_len: [0; HOLES],
            holes_pos: 0,
        }
    }
}

impl HalfStream {
    /// Offset of the FIN, once seen.
    #[inline]
    fn fin(&self) -> Option<u64> {
        (self.fin_off != NO_OFF).then_some(self.fin_off)
    }

    pub fn buffered_bytes(&self) -> usize {
        self.ooo.bytes()
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Moves the next expected position forward to `off` (never backward).
    #[inline]
    fn advance_to(&mut self, off: u64) {
        if off > self.next_off {
            // Offsets advance by at most 2^32 per step (one segment or hole).
            self.next_seq = self.next_seq.wrapping_add((off - self.next_off) as u32);
            self.next_off = off;
        }
    }

    /// Gives up the bytes up to `to`: a hole (never seen) or, for a
    /// snaplen-cut tail (`hole == false`), bytes seen but not captured.
    fn gap_kind<H: StreamHandler>(
        &mut self,
        dir: Direction,
        to: u64,
        hole: bool,
        h: &mut H,
        c: &mut TcpCounters,
    ) {
        if to > self.next_off {
            let len = to - self.next_off;
            if hole {
                self.remember_hole(self.next_off, to);
            }
            h.gap(dir, len);
            c.gaps += 1;
            c.gap_bytes += len;
            self.advance_to(to);
        }
    }

    fn gap<H: StreamHandler>(&mut self, dir: Direction, to: u64, h: &mut H, c: &mut TcpCounters) {
        self.gap_kind(dir, to, true, h, c);
    }

    fn remember_hole(&mut self, from: u64, to: u64) {
        let last = (usize::from(self.holes_pos) + HOLES - 1) % HOLES;
        let (lo, hi) = self.hole(last);
        if hi == from && lo < from {
            // Extend the last hole while its length fits 32 bits (a hole of
            // 4 GiB or more is remembered as a new one).
            if let Ok(len) = u32::try_from(to - lo) {
                self.hole_len[last] = len;
                return;
            }
        }
        let i = usize::from(self.holes_pos);
        self.set_hole(i, from, to);
        self.holes_pos = ((i + 1) % HOLES) as u8;
    }

    /// Hole `i` as `[start, end)` offsets.
    #[inline]
    fn hole(&self, i: usize) -> (u64, u64) {
        let lo = self.hole_start[i];
        (lo, lo + u64::from(self.hole_len[i]))
    }

    /// Stores `[from, to)` as hole `i` (a hole longer than 32 bits keeps its
    /// last 4 GiB: the part a late segment can still be in).
    #[inline]
    fn set_hole(&mut self, i: usize, from: u64, to: u64) {
        let len = to.saturating_sub(from).min(u64::from(u32::MAX));
        self.hole_start[i] = to - len;
        self.hole_len[i] = len as u32;
    }

    /// Whether `[start, end)` (entirely before the next expected byte)
    /// carries bytes never seen: before the first captured segment, or in a
    /// given-up hole. The unseen region shrinks by what this segment brings.
    fn carries_unseen(&mut self, start: i64, end: i64) -> bool {
        if start < self.seen_lo {
            self.seen_lo = start;
            return true;
        }
        for i in 0..HOLES {
            let (lo, hi) = self.hole(i);
            let (lo, hi) = (lo as i64, hi as i64);
            if lo < hi && start < hi && end > lo {
                if end >= hi {
                    self.set_hole(i, lo as u64, start.max(lo) as u64);
                } else if start <= lo {
                    self.set_hole(i, end as u64, hi as u64);
                }
                return true;
            }
        }
        false
    }

    /// Delivers the part of a range at or after `next_off`, its cut tail as a gap.
    fn deliver<H: StreamHandler>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        r: &Range<'_>,
        h: &mut H,
        c: &mut TcpCounters,
    ) {
        // Nothing is delivered past a FIN (a hostile segment may straddle it).
        let end = r.end().min(self.fin_off);
        if end <= self.next_off {
            return;
        }
        // Callers pass ranges starting at or before `next_off`; a later
        // start would be a hole, reported as such.
        self.gap(dir, r.start, h, c);
        let (data, _) = r.sub(self.next_off, end);
        if !data.is_empty() {
            h.data(dir, ts_ns, data);
            c.delivered_bytes += data.len() as u64;
            self.advance_to(self.next_off + data.len() as u64);
        }
        // The rest of the range was cut by the snaplen, not lost.
        if end > self.next_off {
            let len = end - self.next_off;
            h.cut(dir, len);
            c.gaps += 1;
            c.gap_bytes += len;
            self.advance_to(end);
        }
    }

    fn deliver_piece<H: StreamHandler>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        off: u64,
        pc: &Piece,
        h: &mut H,
        c: &mut TcpCounters,
    ) {
        let r = Range {
            start: off,
            payload: &pc.data,
            missing: pc.missing,
        };
        self.deliver(dir, ts_ns, &r, h, c);
    }

    /// Delivers buffered pieces that have become contiguous, then the FIN.
    fn drain<H: StreamHandler>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        h: &mut H,
        c: &mut TcpCounters,
    ) {
        while let Some((off, pc)) = self.ooo.pop_ready(self.next_off) {
            self.deliver_piece(dir, ts_ns, off, &pc, h, c);
        }
        self.maybe_end(dir, h);
    }

    fn maybe_end<H: StreamHandler>(&mut self, dir: Direction, h: &mut H) {
        if let Some(f) = self.fin()
            && !self.ended
            && self.next_off >= f
        {
            self.advance_to(f + 1);
            self.end(dir, h);
        }
    }

    /// Reports the end; whatever is still buffered lies beyond the FIN and is dropped.
    fn end<H: StreamHandler>(&mut self, dir: Direction, h: &mut H) {
        self.ended = true;
        self.ooo.clear();
        h.end(dir);
    }

    /// Gives up every hole: delivers all buffered data in order, reporting the
    /// holes before it (and before a FIN) as gaps. `end()` follows when a FIN
    /// was seen, or always when `force_end` (RST).
    pub fn flush<H: StreamHandler>(
        &mut self,
        dir: Direction,
        force_end: bool,
        h: &mut H,
        c: &mut TcpCounters,
    ) {
        if self.ended {
            return;
        }
        while let Some((off, pc)) = self.ooo.pop_first() {
            if self.fin().is_some_and(|f| off >= f) {
                break;
            }
            self.gap(dir, off, h, c);
            self.deliver_piece(dir, pc.ts_ns, off, &pc, h, c);
        }
        if let Some(f) = self.fin() {
            self.gap(dir, f, h, c);
            self.maybe_end(dir, h);
        }
        if force_end && !self.ended {
            self.end(dir, h);
        }
    }

    /// Classifies one segment of this direction and delivers what it makes deliverable.
    pub fn segment<H: StreamHandler>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        tcp: &TcpView<'_>,
        cfg: &ReassemblyConfig,
        h: &mut H,
        c: &mut TcpCounters,
    ) -> SegmentKind {
        let syn_flag = tcp.has(tcp_flags::SYN);
        let fin = tcp.has(tcp_flags::FIN);
        let len = tcp.payload_len();
        if !self.synced {
            self.synced = true;
            self.syn_start = syn_flag;
            self.next_seq = tcp.seq;
            self.next_off = 0;
            self.seen_lo = if syn_flag { i64::MIN } else { 0 };
            if !syn_flag {
                c.midstream += 1;
            }
        }
        let n0 = self.next_off as i64;
        let start = n0 + i64::from(tcp.seq.wrapping_sub(self.next_seq) as i32);
        // A SYN takes a sequence number only where the stream began with one;
        // elsewhere (bogus) the flag is ignored.
        let syn = syn_flag && self.syn_start && start == 0;
        if len <= 1
            && !syn_flag
            && !fin
            && !tcp.has(tcp_flags::RST)
            && tcp.seq == self.next_seq.wrapping_sub(1)
        {
            // tshark's keep-alive: one byte (or none) just before the next
            // expected one. Its byte, if any, is old: never delivered.
            c.keep_alives += 1;
            return SegmentKind::KeepAlive;
        }
        if len == 0 && !syn && !fin {
            return SegmentKind::ControlOnly;
        }
        let sig = Sig::new(tcp.seq, tcp.ack, len, tcp.flags, tcp.window);
        if self.recent.contains(&sig) {
            c.duplicates += 1;
            return SegmentKind::Duplicate;
        }
        self.recent[usize::from(self.recent_pos)] = sig;
        self.recent_pos = (self.recent_pos + 1) % RECENT as u8;
        if tcp.missing > 0 {
            c.truncated += 1;
        }

        let d0 = start + i64::from(syn);
        let d_end = d0 + i64::from(len);
        let end = d_end + i64::from(fin);
        if end <= n0 {
            if self.carries_unseen(start, end) {
                c.late += 1;
                return SegmentKind::Late;
            }
            c.retransmissions += 1;
            return SegmentKind::Retransmission;
        }
        let beyond_fin = self.fin().is_some_and(|f| d0 >= f as i64 && len > 0);
        if self.ended || beyond_fin {
            c.after_close += 1;
            return SegmentKind::AfterClose;
        }
        let max_ahead = i64::from(cfg.max_ahead.min(i32::MAX as u32));
        if d0 - n0 > max_ahead {
            if self.oow_end != start || self.oow_end == NO_END {
                self.oow_end = end;
                c.out_of_window += 1;
                return SegmentKind::OutOfWindow;
            }
            // Two contiguous segments far ahead: the stream really moved on
            // (a big capture loss). Give up everything before this one.
            c.resyncs += 1;
            self.flush_to(dir, start as u64, h, c);
        }
        self.oow_end = NO_END;
        if fin && self.fin().is_none() {
            self.fin_off = d_end as u64;
        }

        let mut arrived_ahead = false;
        let mut overflowed = false;
        loop {
            let n = self.next_off as i64;
            if end <= n {
                // Forced delivery of buffered data (cap overflow) covered it.
                return SegmentKind::OutOfOrder;
            }
            if start <= n {
                // In order, possibly starting with bytes we already had.
                let had_hole = !self.ooo.is_empty();
                let overlap = start < n;
                // A SYN at `n` takes one sequence number before the data.
                if d0 > n {
                    self.advance_to(d0 as u64);
                }
                let n = self.next_off as i64;
                let skip = (n - d0) as u64;
                let payload = usize::try_from(skip)
                    .ok()
                    .and_then(|s| tcp.payload.get(s..))
                    .unwrap_or(&[]);
                let rest = u64::from(len).saturating_sub(skip);
                let r = Range {
                    start: n as u64,
                    payload,
                    missing: rest.saturating_sub(payload.len() as u64) as u32,
                };
                self.deliver(dir, ts_ns, &r, h, c);
                if had_hole && rest > 0 && !arrived_ahead {
                    c.hole_fills += 1;
                }
                self.drain(dir, ts_ns, h, c);
                return if arrived_ahead {
                    SegmentKind::OutOfOrder
                } else if overlap {
                    c.overlaps += 1;
                    SegmentKind::Overlap
                } else {
                    SegmentKind::InOrder
                };
            }
            // Ahead of a hole.
            if len == 0 {
                // A bare FIN (or SYN) ahead: its offset is noted, nothing to store.
                if !arrived_ahead {
                    c.out_of_order += 1;
                }
                return SegmentKind::OutOfOrder;
            }
            let r = Range {
                start: d0 as u64,
                payload: tcp.payload,
                missing: tcp.missing,
            };
            let (pieces, bytes) = self.ooo.cost(&r);
            if pieces == 0 {
                if arrived_ahead {
                    return SegmentKind::OutOfOrder;
                }
                // Every byte is already buffered.
                c.retransmissions += 1;
                return SegmentKind::Retransmission;
            }
            if !arrived_ahead {
                arrived_ahead = true;
                c.out_of_order += 1;
            }
            if self.ooo.bytes() + bytes <= cfg.max_ooo_bytes
                && self.ooo.pieces() + pieces <= cfg.max_ooo_segments
            {
                self.ooo.insert(&r, ts_ns);
                return SegmentKind::OutOfOrder;
            }
            // No room: give up the first hole (the one before the earliest
            // buffered piece or before this segment, whichever comes first),
            // then try again. Each round removes a piece or reaches `d0`.
            if !overflowed {
                overflowed = true;
                c.ooo_overflow += 1;
            }
            match self.ooo.first_start() {
                Some(f) if f < r.start => {
                    if let Some((off, pc)) = self.ooo.pop_first() {
                        self.gap(dir, off, h, c);
                        self.deliver_piece(dir, ts_ns, off, &pc, h, c);
                        self.drain(dir, ts_ns, h, c);
                    }
                }
                _ => self.gap(dir, r.start, h, c),
            }
        }
    }

    /// Delivers (with gaps) everything buffered before `to`, then skips to it.
    fn flush_to<H: StreamHandler>(
        &mut self,
        dir: Direction,
        to: u64,
        h: &mut H,
        c: &mut TcpCounters,
    ) {
        while let Some(off) = self.ooo.first_start().filter(|o| *o < to) {
            if let Some((_, pc)) = self.ooo.pop_first() {
                self.gap(dir, off, h, c);
                self.deliver_piece(dir, pc.ts_ns, off, &pc, h, c);
            }
        }
        self.gap(dir, to, h, c);
    }
}
