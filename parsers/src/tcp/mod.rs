//! TCP reassembly: per connection and direction, turns captured segments into
//! in-order byte streams for protocol analysers.
//!
//! CONTRACT (implemented in this module; other modules rely on it):
//! - [`StreamHandler`] receives in-order bytes, gap notices and stream ends.
//! - A connection's state lives in a [`TcpConnection`], owned by whoever owns the
//!   flow table; the handler is passed in on every call, so analysers and the
//!   reassembler stay separate types.
//!
//! How it works, per direction (submodule `half`): in-order bytes are handed
//! to the handler straight from the packet slice (no copy); only segments that
//! arrive ahead of a hole are copied into a bounded out-of-order buffer
//! (submodule `ooo`). The in-order fast path is a handful of comparisons and
//! one handler call, with no allocation.
//! Sequence numbers are compared mod 2^32 and then mapped to non-wrapping
//! stream offsets. Nothing is ever allocated by a length or sequence field:
//! a buffered copy is at most the captured payload, and the buffer is capped
//! by [`ReassemblyConfig`].
//!
//! Policies, chosen and documented here:
//! - **Mid-stream start**: with no SYN seen, the first segment of a direction
//!   (even a pure ACK) fixes its next expected sequence number; no gap is
//!   reported for the unknown bytes before it ([`TcpCounters::midstream`]).
//!   A segment that then arrives with older bytes is *late*
//!   ([`TcpCounters::late`]), not a retransmission: those bytes were never seen.
//! - **Retransmission vs reordering**: a retransmission re-sends sequence
//!   space already seen (delivered or buffered); a segment that brings bytes
//!   never seen is out of order (ahead of a hole), a hole filler, or late
//!   (behind the stream: before the capture's first segment, or in one of the
//!   last two holes given up). 100,000 segments in descending order are thus
//!   99,999 late segments and no retransmission, as tshark says.
//! - **Overlaps**: the first copy of a byte wins; a later copy of an already
//!   delivered or buffered byte is never delivered again.
//! - **Buffer cap**: when a segment ahead of a hole does not fit
//!   ([`ReassemblyConfig::max_ooo_bytes`] / `max_ooo_segments`), the earliest
//!   hole is given up: `gap()` is reported, the buffered data after it is
//!   delivered, and so on until the segment fits or becomes in-order
//!   ([`TcpCounters::ooo_overflow`]).
//! - **Window**: a segment starting more than [`ReassemblyConfig::max_ahead`]
//!   bytes after the next expected byte is dropped ([`SegmentKind::OutOfWindow`]);
//!   when the next segment continues it exactly, the stream is taken to have
//!   really moved on (a large capture loss): everything before is given up
//!   as a gap and reassembly resumes there ([`TcpCounters::resyncs`]). A
//!   single hostile jump thus costs one dropped segment, never memory. A jump
//!   of 2^31 bytes or more reads, mod 2^32, as old data (a retransmission).
//! - **Snaplen**: a cut segment delivers its captured part, then reports the
//!   cut bytes with `gap()`; the stream stays in sequence.
//! - **SYN, FIN** each consume one sequence number (a SYN only where its
//!   direction began with it: a SYN flag elsewhere is ignored). `end()` is reported once
//!   all data before the FIN has been delivered (or given up at
//!   [`TcpConnection::finish`]); bytes past a FIN are never delivered
//!   ([`SegmentKind::AfterClose`]). **RST** gives up all holes of both
//!   directions and ends both. A SYN on a closed connection starts a new one
//!   (port reuse): the handler sees new data after `end()`.
//! - **Keep-alives** (tshark's definition: 0 or 1 byte at next expected - 1)
//!   are counted, their byte never delivered.
//! - **Timestamps**: `data()` gets the time of the packet that made the bytes
//!   deliverable (the hole filler for buffered data); at `finish()` the
//!   arrival time of each buffered piece.
//! - TSO/GRO super-frames are ordinary (large) segments.

mod half;
mod ooo;

use std::ops::AddAssign;

use crate::decode::{TcpView, tcp_flags};
use crate::flow::Direction;
use half::HalfStream;

/// Receives one connection's reassembled byte streams (both directions).
pub trait StreamHandler {
    /// In-order bytes of direction `dir`, never delivered twice.
    fn data(&mut self, dir: Direction, ts_ns: i64, data: &[u8]);
    /// `len` bytes of direction `dir` will never be delivered (loss, snaplen cut,
    /// buffer cap, or a capture that started mid-stream). The next `data` call
    /// continues after them: the analyser must resynchronise.
    fn gap(&mut self, dir: Direction, len: u64);
    /// `len` bytes of direction `dir` that a segment seen in the capture carried
    /// but the capture's snaplen cut off: like [`StreamHandler::gap`] for the
    /// stream, but these bytes were on the wire (their sequence space is
    /// covered). Defaults to `gap`.
    fn cut(&mut self, dir: Direction, len: u64) {
        self.gap(dir, len);
    }
    /// Direction `dir` ended (FIN or RST seen and all data before it delivered).
    fn end(&mut self, _dir: Direction) {}
}

/// A handler that ignores the streams (byte accounting and anomaly counts only).
impl StreamHandler for () {
    fn data(&mut self, _: Direction, _: i64, _: &[u8]) {}
    fn gap(&mut self, _: Direction, _: u64) {}
}

/// Limits of the reassembler, per connection direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Captured bytes that may wait in the out-of-order buffer (default 1 MiB).
    pub max_ooo_bytes: usize,
    /// Segments (pieces) that may wait in the out-of-order buffer (default 2048).
    pub max_ooo_segments: usize,
    /// Segments starting more than this many bytes after the next expected
    /// byte are out of window (default 32 MiB; values above 2^31 - 1 act as 2^31 - 1).
    pub max_ahead: u32,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_ooo_bytes: 1 << 20,
            max_ooo_segments: 2048,
            max_ahead: 32 << 20,
        }
    }
}

/// Anomaly and volume counts of reassembly, summed over whatever the caller
/// passes them for (a flow, an interface, a role). Each segment is counted in
/// at most one of `duplicates`, `keep_alives`, `retransmissions`, `overlaps`,
/// `out_of_order`, `late`, `out_of_window`, `after_close`.
///
/// Compared with tshark's `tcp.analysis.*` flags (packet-tcp.c,
/// `tcp_analyze_sequence_number`):
/// - tshark marks a segment with data, SYN or FIN that does not advance the
///   highest sequence number seen so far as one of `fast_retransmission` (2+
///   duplicate ACKs), `out_of_order` (came within the initial RTT, else 3 ms,
///   of the highest one), `spurious_retransmission` (already ACKed) or
///   `retransmission` (all of which also match the `tcp.analysis.retransmission`
///   filter except `out_of_order`). So tshark counts the late segment that
///   *fills* a hole, and flags the first segment *after* a hole as
///   `lost_segment` ("previous segment not captured"). We do not use time or
///   ACKs: our `out_of_order` counts every segment that arrives ahead of a hole
///   (tshark's `lost_segment` flags only the first), and `hole_fills` counts
///   the fillers, whatever tshark calls them.
/// - Our `retransmissions` are segments all of whose bytes were already
///   received (delivered or buffered), excluding exact copies (`duplicates`)
///   and partial ones (`overlaps`); on a capture without loss, reordering or
///   mirror duplicates this equals tshark's `tcp.analysis.retransmission`
///   count. tshark has no notion of an exact duplicate: it calls a
///   mirror-port copy a retransmission.
/// - `keep_alives` follows tshark's `keep_alive` (seq = next expected - 1,
///   0 or 1 byte, no SYN/FIN/RST); tshark still sums their byte in `tcp.len`.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TcpCounters {
    /// Payload bytes handed to [`StreamHandler::data`].
    pub delivered_bytes: u64,
    /// Segments carrying payload, SYN or FIN whose bytes (and SYN/FIN) were all
    /// received before, and that are not exact duplicates. Not delivered again.
    pub retransmissions: u64,
    /// Exact copies of one of the last 4 segments of the same direction: same
    /// seq, ack, payload length, flags and window (mirror/SPAN duplicates, or a
    /// retransmission identical in every header field, which a capture cannot
    /// tell apart without the IP id). Pure ACKs are never counted: identical
    /// pure ACKs are normal TCP (duplicate ACKs).
    pub duplicates: u64,
    /// Keep-alive probes: 0 or 1 byte at the sequence number just before the
    /// next expected byte, no SYN/FIN/RST (the byte is old, not delivered).
    pub keep_alives: u64,
    /// Segments that began with already received bytes and went on with new
    /// ones (partial retransmissions, repacketisation): only the new part is delivered.
    pub overlaps: u64,
    /// Segments that arrived ahead of a hole (beyond the next expected byte),
    /// and were buffered or, if the cap forced it, delivered after a gap.
    pub out_of_order: u64,
    /// Segments behind the next expected byte whose bytes were never seen
    /// (before the first captured segment of a mid-stream direction, or in a
    /// hole given up earlier): reordering, not a retransmission. Not
    /// delivered (the stream has moved past them). tshark flags them
    /// `out_of_order` when they come within an RTT (3 ms without one) of the
    /// highest segment, else `retransmission`.
    pub late: u64,
    /// In-order segments that brought new bytes while later data was waiting
    /// in the buffer: the late segment that (partly) closes a hole.
    pub hole_fills: u64,
    /// `gap()` reports: holes given up (buffer cap, window resync, RST, end of
    /// capture) and snaplen-cut payload.
    pub gaps: u64,
    /// Bytes reported by `gap()`.
    pub gap_bytes: u64,
    /// Segments whose payload the snaplen cut (their cut bytes are in `gap_bytes`).
    pub truncated: u64,
    /// Segments that found the out-of-order buffer full and forced a hole to be given up.
    pub ooo_overflow: u64,
    /// Segments dropped for starting more than `max_ahead` bytes ahead.
    pub out_of_window: u64,
    /// Times the stream was resynchronised after out-of-window segments.
    pub resyncs: u64,
    /// Segments with payload after the direction ended (beyond its FIN, or after RST).
    pub after_close: u64,
    /// Directions whose first segment was not a SYN (capture started mid-stream).
    pub midstream: u64,
}

impl AddAssign for TcpCounters {
    fn add_assign(&mut self, o: TcpCounters) {
        let TcpCounters {
            delivered_bytes,
            retransmissions,
            duplicates,
            keep_alives,
            overlaps,
            out_of_order,
            late,
            hole_fills,
            gaps,
            gap_bytes,
            truncated,
            ooo_overflow,
            out_of_window,
            resyncs,
            after_close,
            midstream,
        } = o;
        self.delivered_bytes += delivered_bytes;
        self.retransmissions += retransmissions;
        self.duplicates += duplicates;
        self.keep_alives += keep_alives;
        self.overlaps += overlaps;
        self.out_of_order += out_of_order;
        self.late += late;
        self.hole_fills += hole_fills;
        self.gaps += gaps;
        self.gap_bytes += gap_bytes;
        self.truncated += truncated;
        self.ooo_overflow += ooo_overflow;
        self.out_of_window += out_of_window;
        self.resyncs += resyncs;
        self.after_close += after_close;
        self.midstream += midstream;
    }
}

/// What one segment was, relative to its direction's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// No payload, SYN or FIN (pure ACK, window update, bare RST).
    ControlOnly,
    /// Starts at the next expected byte (SYN and FIN included): delivered now.
    InOrder,
    /// Starts with bytes already received, ends with new ones ([`TcpCounters::overlaps`]).
    Overlap,
    /// Starts beyond the next expected byte ([`TcpCounters::out_of_order`]).
    OutOfOrder,
    /// Behind the stream, with bytes never seen ([`TcpCounters::late`]).
    Late,
    /// Everything in it was already received ([`TcpCounters::retransmissions`]).
    Retransmission,
    /// An exact copy of a recent segment ([`TcpCounters::duplicates`]).
    Duplicate,
    /// A keep-alive probe ([`TcpCounters::keep_alives`]).
    KeepAlive,
    /// Too far ahead: dropped ([`TcpCounters::out_of_window`]).
    OutOfWindow,
    /// New data after the direction ended ([`TcpCounters::after_close`]).
    AfterClose,
}

/// Reassembly state of one TCP connection: two half-streams indexed by
/// [`Direction::index`]. Memory: a few hundred bytes plus what the
/// out-of-order buffers hold (bounded by [`ReassemblyConfig`]).
#[derive(Debug, Default)]
pub struct TcpConnection {
    half: [HalfStream; 2],
    rst: bool,
}

impl TcpConnection {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one segment travelling in direction `dir`; delivers what becomes
    /// in-order to `handler` and counts anomalies into `counters`.
    pub fn segment<H: StreamHandler>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        tcp: &TcpView<'_>,
        cfg: &ReassemblyConfig,
        handler: &mut H,
        counters: &mut TcpCounters,
    ) -> SegmentKind {
        if tcp.has(tcp_flags::SYN) && !tcp.has(tcp_flags::ACK) && self.is_closed() {
            // A new connection on the same ports.
            *self = TcpConnection::new();
        }
        let kind = self.half[dir.index()].segment(dir, ts_ns, tcp, cfg, handler, counters);
        if tcp.has(tcp_flags::RST) && !self.rst && kind != SegmentKind::OutOfWindow {
            self.rst = true;
            for d in [dir, dir.reverse()] {
                self.half[d.index()].flush(d, true, handler, counters);
            }
        }
        kind
    }

    /// End of capture or eviction: gives up every hole, delivering all
    /// buffered data in order with `gap()` before each hole; reports `end()`
    /// for directions whose FIN was seen. Idempotent.
    pub fn finish<H: StreamHandler>(&mut self, handler: &mut H, counters: &mut TcpCounters) {
        for d in [Direction::AtoB, Direction::BtoA] {
            self.half[d.index()].flush(d, false, handler, counters);
        }
    }

    /// Captured bytes waiting in the out-of-order buffers of both directions.
    pub fn buffered_bytes(&self) -> usize {
        self.half[0].buffered_bytes() + self.half[1].buffered_bytes()
    }

    /// Both directions ended (FIN delivered) or a RST was seen.
    pub fn is_closed(&self) -> bool {
        self.rst || (self.half[0].ended() && self.half[1].ended())
    }
}

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;
