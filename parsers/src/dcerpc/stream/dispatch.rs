//! What each framed PDU means: bind/ack bookkeeping, call tracking,
//! fragment reassembly, and handing complete stubs to the EPM and Witness
//! decoders.

use crate::flow::Direction;

use super::super::ndr::Repr;
use super::super::tables::{Append, Call, CallMeta, Ctx};
use super::super::uuid::{Uuid, known};
use super::super::wire::{self, AUTH_LEVEL_PRIVACY, Body, PacketType, Pdu};
use super::super::witness::{self, WitnessEvent};
use super::super::{RpcEvent, RpcSink, epm};
use super::RpcConnState;

impl RpcConnState {
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

    pub(super) fn pdu<S: RpcSink>(&mut self, dir: Direction, ts: i64, pdu: &Pdu<'_>, sink: &mut S) {
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
