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
//! discarded and framing continues in step; otherwise it resynchronises.

use crate::flow::Direction;
use crate::tcp::StreamHandler;

use super::ndr::Repr;
use super::tables::{Append, Call, CallMeta, Calls, Contexts, Ctx, Reassembly};
use super::uuid::{Uuid, known};
use super::wire::{self, AUTH_LEVEL_PRIVACY, Body, HEADER_LEN, PacketType, Pdu, parse_header};
use super::witness::{self, WitnessEvent};
use super::{RpcEvent, RpcSink, epm};

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
fn prefix_ok(b: &[u8]) -> bool {
    let ok_type = |t: u8| matches!(t, 0 | 2 | 3 | 11..=19);
    match b {
        [] => true,
        [5] => true,
        [5, m] => *m <= 1,
        [5, m, t, ..] => *m <= 1 && ok_type(*t),
        _ => false,
    }
}

fn skip_len(b: &[u8]) -> usize {
    1 + b
        .get(1..)
        .unwrap_or_default()
        .iter()
        .position(|&x| x == 5)
        .unwrap_or(b.len().saturating_sub(1))
}

fn step(b: &[u8]) -> Step {
    if b.len() < HEADER_LEN {
        return if prefix_ok(b) {
            Step::Need(HEADER_LEN)
        } else {
            Step::Skip(skip_len(b))
        };
    }
    match parse_header(b) {
        Ok(h) if h.plausible() => {
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
            match step(partial) {
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
                }
                Step::Pdu(n) => {
                    let mut buf = std::mem::take(partial);
                    self.frame(dir, ts, &buf[..n], sink);
                    buf.clear();
                    self.dirs[d].partial = buf;
                }
            }
        }
        // Zero-copy over the rest.
        while !input.is_empty() {
            match step(input) {
                Step::Need(_) => {
                    self.dirs[d].partial.extend_from_slice(input);
                    return;
                }
                Step::Skip(k) => {
                    self.dirs[d].skipped += k as u64;
                    input = &input[k..];
                }
                Step::Pdu(n) => {
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

    fn interface_of(&self, context_id: u16) -> Option<Uuid> {
        self.contexts
            .lookup(context_id)
            .map(|c| c.interface)
            .or(self.default_interface)
    }

    /// Whether a context's stubs are NDR64 (unknown contexts: NDR 2.0).
    fn ndr64_of(&self, context_id: u16) -> bool {
        self.contexts.lookup(context_id).is_some_and(|c| c.ndr64)
    }

    fn pdu<S: RpcSink>(&mut self, dir: Direction, ts: i64, pdu: &Pdu<'_>, sink: &mut S) {
        let h = &pdu.header;
        let auth_level = pdu.auth.map(|a| a.auth_level);
        match &pdu.body {
            Body::Bind(b) | Body::AlterContext(b) => {
                self.stats.binds += 1;
                let contexts: Vec<_> = b.contexts().collect();
                self.contexts.offer(contexts.iter().map(|c| Ctx {
                    id: c.context_id,
                    interface: c.interface,
                    version: c.version,
                    ndr64: c.transfer == Some(known::NDR64),
                }));
                let alter = matches!(pdu.body, Body::AlterContext(_));
                sink.event(
                    dir,
                    ts,
                    RpcEvent::Bind {
                        call_id: h.call_id,
                        alter,
                        contexts,
                    },
                );
            }
            Body::BindAck(a) | Body::AlterContextResp(a) => {
                let (accepted, rejected) = self
                    .contexts
                    .acknowledge(a.results().map(|r| (r.result, r.transfer)));
                let sec = wire_text(a.sec_addr);
                sink.event(
                    dir,
                    ts,
                    RpcEvent::BindAck {
                        call_id: h.call_id,
                        alter: matches!(pdu.body, Body::AlterContextResp(_)),
                        accepted,
                        rejected,
                        sec_addr: (!sec.is_empty()).then_some(sec),
                    },
                );
            }
            Body::BindNak { reason } => sink.event(
                dir,
                ts,
                RpcEvent::BindNak {
                    call_id: h.call_id,
                    reason: *reason,
                },
            ),
            Body::Request(r) => {
                let meta = CallMeta {
                    dir: dir.index(),
                    call_id: h.call_id,
                    ptype: PacketType::Request,
                    context_id: r.context_id,
                    opnum: r.opnum,
                    auth_level,
                    little_endian: h.little_endian(),
                    ndr64: self.ndr64_of(r.context_id),
                };
                self.fragment(ts, dir, h, meta, r.stub, sink);
            }
            Body::Response(r) => {
                let call = self.calls.get(h.call_id);
                let meta = CallMeta {
                    dir: dir.index(),
                    call_id: h.call_id,
                    ptype: PacketType::Response,
                    context_id: r.context_id,
                    opnum: call.map_or(0, |c| c.opnum),
                    auth_level,
                    little_endian: h.little_endian(),
                    ndr64: call.map_or_else(|| self.ndr64_of(r.context_id), |c| c.ndr64),
                };
                self.fragment(ts, dir, h, meta, r.stub, sink);
            }
            Body::Fault(f) => {
                self.stats.faults += 1;
                let call = self.calls.get(h.call_id);
                self.calls.remove(h.call_id);
                self.reasm.remove(dir.reverse().index(), h.call_id);
                sink.event(
                    dir,
                    ts,
                    RpcEvent::Fault {
                        call_id: h.call_id,
                        status: f.status,
                        opnum: call.map(|c| c.opnum),
                        interface: call
                            .and_then(|c| c.interface)
                            .or_else(|| self.interface_of(f.context_id)),
                    },
                );
            }
            Body::Other => {}
        }
    }

    /// A request/response fragment: complete calls go to [`Self::call`].
    fn fragment<S: RpcSink>(
        &mut self,
        ts: i64,
        dir: Direction,
        h: &wire::Header,
        meta: CallMeta,
        stub: &[u8],
        sink: &mut S,
    ) {
        let d = dir.index();
        if meta.ptype == PacketType::Request && h.first_frag() {
            self.calls.insert(Call {
                call_id: meta.call_id,
                opnum: meta.opnum,
                interface: self.interface_of(meta.context_id),
                ndr64: meta.ndr64,
            });
        }
        match (h.first_frag(), h.last_frag()) {
            (true, true) => self.call(ts, dir, meta, Some(stub), stub.len() as u64, 1, sink),
            (true, false) => {
                if !self.reasm.start(meta, stub) {
                    self.stats.reassembly_dropped += 1;
                }
            }
            (false, last) => match self.reasm.append(d, meta.call_id, stub) {
                Append::Orphan => self.stats.orphan_fragments += 1,
                Append::Overflowed => self.stats.reassembly_dropped += 1,
                Append::Stored if last => {
                    if let Some(r) = self.reasm.finish(d, meta.call_id) {
                        let data = (!r.overflowed).then_some(r.data.as_slice());
                        // The first fragment's opnum/context describe the call.
                        self.call(ts, dir, r.meta, data, r.stub_len, r.fragments, sink);
                    }
                }
                Append::Stored => {}
            },
        }
    }

    /// A complete call PDU sequence; `stub` is None when reassembly gave up.
    #[allow(clippy::too_many_arguments)]
    fn call<S: RpcSink>(
        &mut self,
        ts: i64,
        dir: Direction,
        m: CallMeta,
        stub: Option<&[u8]>,
        stub_len: u64,
        fragments: u32,
        sink: &mut S,
    ) {
        let stub_len = u32::try_from(stub_len).unwrap_or(u32::MAX);
        let encrypted = m.auth_level.is_some_and(|l| l >= AUTH_LEVEL_PRIVACY);
        if encrypted {
            self.stats.encrypted_stubs += 1;
        }
        let stub = stub.filter(|_| !encrypted);
        if m.ptype == PacketType::Request {
            self.stats.requests += 1;
            let interface = self.interface_of(m.context_id);
            sink.event(
                dir,
                ts,
                RpcEvent::Request {
                    call_id: m.call_id,
                    context_id: m.context_id,
                    opnum: m.opnum,
                    interface,
                    stub_len,
                    fragments,
                    auth_level: m.auth_level,
                },
            );
            if let (Some(iface), Some(stub)) = (interface, stub) {
                self.decode_request(ts, dir, iface, &m, stub, sink);
            }
        } else {
            self.stats.responses += 1;
            let call = self.calls.get(m.call_id);
            self.calls.remove(m.call_id);
            let interface = call
                .and_then(|c| c.interface)
                .or_else(|| self.interface_of(m.context_id));
            sink.event(
                dir,
                ts,
                RpcEvent::Response {
                    call_id: m.call_id,
                    context_id: m.context_id,
                    opnum: call.map(|c| c.opnum),
                    interface,
                    stub_len,
                    fragments,
                    auth_level: m.auth_level,
                },
            );
            if let (Some(iface), Some(stub), Some(call)) = (interface, stub, call) {
                self.decode_response(ts, dir, iface, call.opnum, &m, stub, sink);
            }
        }
    }

    fn decode_request<S: RpcSink>(
        &mut self,
        ts: i64,
        dir: Direction,
        iface: Uuid,
        m: &CallMeta,
        stub: &[u8],
        sink: &mut S,
    ) {
        if iface == known::EPM && m.opnum == epm::OP_MAP {
            match epm::decode_map_request(stub, repr(m)) {
                Ok(t) => {
                    let i = t.and_then(|t| t.interface);
                    sink.event(
                        dir,
                        ts,
                        RpcEvent::EpmMapRequest {
                            call_id: m.call_id,
                            interface: i.map(|x| x.0),
                            version: i.map(|x| x.1),
                        },
                    );
                }
                Err(_) => self.stats.decode_errors += 1,
            }
        } else if iface == known::WITNESS {
            match witness::decode_request(m.opnum, stub, repr(m)) {
                Ok(Some(kind)) => {
                    sink.event(dir, ts, RpcEvent::Witness(WitnessEvent { ts_ns: ts, kind }))
                }
                Ok(None) => {}
                Err(_) => self.stats.decode_errors += 1,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_response<S: RpcSink>(
        &mut self,
        ts: i64,
        dir: Direction,
        iface: Uuid,
        opnum: u16,
        m: &CallMeta,
        stub: &[u8],
        sink: &mut S,
    ) {
        if iface == known::EPM && opnum == epm::OP_MAP {
            match epm::decode_map_response(stub, repr(m)) {
                Ok((maps, _status)) => {
                    for map in maps {
                        sink.event(dir, ts, RpcEvent::EpmMap(map));
                    }
                }
                Err(_) => self.stats.decode_errors += 1,
            }
        } else if iface == known::WITNESS {
            match witness::decode_response(opnum, stub, repr(m)) {
                Ok(Some(kind)) => {
                    sink.event(dir, ts, RpcEvent::Witness(WitnessEvent { ts_ns: ts, kind }))
                }
                Ok(None) => {}
                Err(_) => self.stats.decode_errors += 1,
            }
        }
    }
}

fn repr(m: &CallMeta) -> Repr {
    Repr {
        little_endian: m.little_endian,
        ndr64: m.ndr64,
    }
}

/// A secondary address / short ASCII field, NUL and non-printables dropped.
fn wire_text(b: &[u8]) -> String {
    b.iter()
        .take_while(|&&c| c != 0)
        .filter(|c| c.is_ascii_graphic())
        .map(|&c| char::from(c))
        .collect()
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
