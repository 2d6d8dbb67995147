//! Per-connection DCE/RPC state machine over TCP's reassembled byte streams.
//!
//! Framing: PDUs are cut by `frag_length`; a PDU complete in one `data()` call
//! is parsed in place, otherwise its bytes wait in a per-direction buffer
//! (bounded by the u16 frag_length). Bytes that do not start a plausible header
//! are skipped up to the next candidate (version byte 5) and reported as one
//! [`RpcEvent::Resync`] once a header is found: the framing decision depends on
//! the bytes only, so the events do not depend on how the stream was split.
//!
//! After a gap inside a PDU whose length is known, the rest of that PDU is
//! discarded and framing continues in step; otherwise it resynchronises
//! ("hunting"): then only a first fragment with zero reserved drep bytes is
//! taken as a header, as NDR data often looks like a header otherwise.

use crate::flow::Direction;
use crate::tcp::StreamHandler;

use super::tables::{Calls, Contexts, Reassembly};
use super::uuid::Uuid;
use super::wire::{self, HEADER_LEN, parse_header, pfc};
use super::{RpcEvent, RpcSink};

mod dispatch;

/// Counters of one connection (both directions).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RpcStats {
    pub pdus: u64,
    pub requests: u64,
    pub responses: u64,
    pub faults: u64,
    pub binds: u64,
    /// Framed PDUs whose body did not parse.
    pub malformed: u64,
    pub resyncs: u64,
    pub skipped_bytes: u64,
    pub gaps: u64,
    /// PDUs cut by a gap (their remainder was discarded).
    pub lost_pdus: u64,
    /// Calls whose reassembly was given up (budget, slots, or a gap).
    pub reassembly_dropped: u64,
    /// Middle/last fragments with no reassembly in progress.
    pub orphan_fragments: u64,
    /// Stubs not decoded because they are encrypted (packet privacy).
    pub encrypted_stubs: u64,
    /// EPM / Witness stubs that did not decode.
    pub decode_errors: u64,
}

/// Framing state of one direction.
#[derive(Debug, Default, Clone)]
struct DirState {
    partial: Vec<u8>,
    skipped: u64,
    discard: u64,
    /// Timestamp of the last data, for events raised at the stream's end.
    last_ts: i64,
    /// Looking for a header after a gap or garbage: stricter checks apply.
    hunting: bool,
}

/// All state of one connection; owned by the flow table, borrowed by [`RpcParser`].
#[derive(Debug, Default, Clone)]
pub struct RpcConnState {
    dirs: [DirState; 2],
    contexts: Contexts,
    calls: Calls,
    reasm: Reassembly,
    default_interface: Option<Uuid>,
    pub stats: RpcStats,
}

/// The framing decision for the bytes at the front of a buffer.
enum Step {
    /// Not decidable before this many bytes are buffered.
    Need(usize),
    /// Not a PDU start: skip this many bytes.
    Skip(usize),
    /// A complete PDU of this length.
    Pdu(usize),
}

/// Could `b` (< 16 bytes) be the start of a header?
fn prefix_ok(b: &[u8], hunting: bool) -> bool {
    let ok_type = |t: u8| matches!(t, 0 | 2 | 3 | 11..=19);
    let ok = match b {
        [] => true,
        [5] => true,
        [5, m] => *m <= 1,
        [5, m, t, ..] => *m <= 1 && ok_type(*t),
        _ => false,
    };
    ok && (!hunting || strict_ok(b))
}

/// The extra evidence asked for while hunting (NDR data is full of
/// `05 00 00 00`, a little-endian count of 5, that would otherwise pass for a
/// big-endian request header): a first fragment, reserved drep bytes zero.
fn strict_ok(b: &[u8]) -> bool {
    b.get(3).is_none_or(|f| f & pfc::FIRST_FRAG != 0)
        && b.get(6).is_none_or(|&x| x == 0)
        && b.get(7).is_none_or(|&x| x == 0)
}

fn skip_len(b: &[u8]) -> usize {
    1 + b
        .get(1..)
        .unwrap_or_default()
        .iter()
        .position(|&x| x == 5)
        .unwrap_or(b.len().saturating_sub(1))
}

fn step(b: &[u8], hunting: bool) -> Step {
    if b.len() < HEADER_LEN {
        return if prefix_ok(b, hunting) {
            Step::Need(HEADER_LEN)
        } else {
            Step::Skip(skip_len(b))
        };
    }
    match parse_header(b) {
        Ok(h) if h.plausible() && (!hunting || strict_ok(b)) => {
            let n = usize::from(h.frag_len);
            if b.len() < n {
                Step::Need(n)
            } else {
                Step::Pdu(n)
            }
        }
        _ => Step::Skip(skip_len(b)),
    }
}

impl RpcConnState {
    pub fn new() -> Self {
        Self::default()
    }

    /// A connection whose bind was not captured (e.g. a port learnt from the
    /// endpoint mapper): calls on unknown context ids are taken to be on `iface`.
    pub fn with_default_interface(iface: Uuid) -> Self {
        RpcConnState {
            default_interface: Some(iface),
            ..Self::default()
        }
    }

    /// Bytes waiting for the rest of their PDU, both directions.
    pub fn buffered(&self) -> usize {
        self.dirs.iter().map(|d| d.partial.len()).sum::<usize>() + self.reasm.buffered()
    }

    /// In-order bytes of one direction.
    pub fn data<S: RpcSink>(&mut self, dir: Direction, ts: i64, mut input: &[u8], sink: &mut S) {
        let d = dir.index();
        self.dirs[d].last_ts = ts;
        let discard = self.dirs[d].discard;
        if discard > 0 {
            let n = usize::try_from(discard)
                .unwrap_or(usize::MAX)
                .min(input.len());
            self.dirs[d].discard -= n as u64;
            input = &input[n..];
        }
        // Complete what is buffered, taking from `input` only what is needed.
        while !self.dirs[d].partial.is_empty() {
            let partial = &mut self.dirs[d].partial;
            match step(partial, self.dirs[d].hunting) {
                Step::Need(n) => {
                    let take = n.saturating_sub(partial.len()).min(input.len());
                    partial.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if partial.len() < n {
                        return;
                    }
                }
                Step::Skip(k) => {
                    partial.drain(..k);
                    self.dirs[d].skipped += k as u64;
                    self.dirs[d].hunting = true;
                }
                Step::Pdu(n) => {
                    self.dirs[d].hunting = false;
                    let mut buf = std::mem::take(&mut self.dirs[d].partial);
                    self.frame(dir, ts, &buf[..n], sink);
                    buf.clear();
                    // Keep a small buffer for the next straddling PDU; give
                    // big ones back (many idle connections).
                    if buf.capacity() <= 8192 {
                        self.dirs[d].partial = buf;
                    }
                }
            }
        }
        // Zero-copy over the rest.
        while !input.is_empty() {
            match step(input, self.dirs[d].hunting) {
                Step::Need(_) => {
                    self.dirs[d].partial.extend_from_slice(input);
                    return;
                }
                Step::Skip(k) => {
                    self.dirs[d].skipped += k as u64;
                    self.dirs[d].hunting = true;
                    input = &input[k..];
                }
                Step::Pdu(n) => {
                    self.dirs[d].hunting = false;
                    self.frame(dir, ts, &input[..n], sink);
                    input = &input[n..];
                }
            }
        }
    }

    /// `len` bytes of `dir` are missing.
    pub fn gap(&mut self, dir: Direction, len: u64) {
        let d = dir.index();
        self.stats.gaps += 1;
        let dropped = self.reasm.drop_dir(d) as u64;
        self.stats.reassembly_dropped += dropped;
        let st = &mut self.dirs[d];
        if st.discard > 0 {
            // Still inside a lost PDU: the gap may end within it.
            if len < st.discard {
                st.discard -= len;
                return;
            }
            st.discard = 0;
        } else if let Ok(h) = parse_header(&st.partial) {
            if h.plausible() {
                self.stats.lost_pdus += 1;
                let rest = u64::from(h.frag_len).saturating_sub(st.partial.len() as u64);
                st.partial.clear();
                if len < rest {
                    st.discard = rest - len;
                    return;
                }
            }
        }
        // Unknown position: resynchronise on the next plausible header.
        st.partial.clear();
        st.hunting = true;
    }

    /// `dir` ended: report bytes skipped at the end, drop what is buffered.
    pub fn end<S: RpcSink>(&mut self, dir: Direction, sink: &mut S) {
        let d = dir.index();
        let st = &mut self.dirs[d];
        st.skipped += st.partial.len() as u64;
        st.partial = Vec::new();
        st.discard = 0;
        let ts = st.last_ts;
        self.flush_resync(dir, ts, sink);
        let dropped = self.reasm.drop_dir(d) as u64;
        self.stats.reassembly_dropped += dropped;
    }

    fn flush_resync<S: RpcSink>(&mut self, dir: Direction, ts: i64, sink: &mut S) {
        let st = &mut self.dirs[dir.index()];
        if st.skipped > 0 {
            let skipped = std::mem::take(&mut st.skipped);
            self.stats.resyncs += 1;
            self.stats.skipped_bytes += skipped;
            sink.event(dir, ts, RpcEvent::Resync { skipped });
        }
    }

    /// One framed PDU (plausible header, `frag_len` bytes).
    fn frame<S: RpcSink>(&mut self, dir: Direction, ts: i64, bytes: &[u8], sink: &mut S) {
        self.flush_resync(dir, ts, sink);
        self.stats.pdus += 1;
        match wire::parse_pdu(bytes) {
            Ok(pdu) => self.pdu(dir, ts, &pdu, sink),
            Err(_) => self.stats.malformed += 1,
        }
    }
}

/// The [`StreamHandler`] for one DCE/RPC connection: borrows its state and the sink.
pub struct RpcParser<'a, S: RpcSink> {
    pub state: &'a mut RpcConnState,
    pub sink: &'a mut S,
}

impl<'a, S: RpcSink> RpcParser<'a, S> {
    pub fn new(state: &'a mut RpcConnState, sink: &'a mut S) -> Self {
        RpcParser { state, sink }
    }
}

impl<S: RpcSink> StreamHandler for RpcParser<'_, S> {
    fn data(&mut self, dir: Direction, ts_ns: i64, data: &[u8]) {
        self.state.data(dir, ts_ns, data, self.sink);
    }
    fn gap(&mut self, dir: Direction, len: u64) {
        self.state.gap(dir, len);
    }
    fn end(&mut self, dir: Direction) {
        self.state.end(dir, self.sink);
    }
}
