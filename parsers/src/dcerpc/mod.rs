//! DCE/RPC over TCP (connection-oriented, C706 ch. 12 / MS-RPCE): PDU framing
//! and the bits the analyser needs from it: which interface a connection talks
//! to, the endpoint mapper's answers (dynamic ports), and the SMB Witness
//! protocol (MS-SWN), where a scale-out file server tells clients to move.
//!
//! - [`wire`]: zero-copy PDU views ([`parse_pdu`], [`is_dcerpc_start`]).
//! - [`stream`]: the per-connection state machine ([`RpcParser`] implements
//!   [`crate::tcp::StreamHandler`]) emitting [`RpcEvent`]s to an [`RpcSink`].
//! - [`epm`], [`witness`]: stub decoders; [`ndr`]: the NDR reader they share.
//!
//! Use in the pipeline: run an [`RpcParser`] on TCP 135 and on any connection
//! whose first client bytes pass [`is_dcerpc_start`]; [`RpcEvent::EpmMap`]
//! gives (interface, port, address) so a later connection to that port can be
//! parsed even when its bind was not captured
//! ([`RpcConnState::with_default_interface`]). DCE/RPC carried in SMB named
//! pipes can be fed through the same state machine (pipe writes as one
//! direction, reads as the other) or parsed PDU by PDU with [`parse_pdu`].
//! Stubs protected with packet privacy (auth level 6) are not decoded: only
//! opnums, sizes and timing are reported for them.

pub mod epm;
pub mod ndr;
pub mod stream;
mod tables;
pub mod uuid;
pub mod wire;
pub mod witness;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use crate::flow::Direction;

pub use epm::EpmMapping;
pub use stream::{RpcConnState, RpcParser, RpcStats};
pub use uuid::{Uuid, known};
pub use wire::{Body, Header, PacketType, Pdu, PresContext, WireError, is_dcerpc_start, parse_pdu};
pub use witness::{
    ResourceState, WitnessAddress, WitnessEvent, WitnessInterface, WitnessKind, WitnessMessage,
};

/// What the DCE/RPC layer reports about one connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RpcEvent {
    /// bind (`alter` false) or alter_context (`alter` true): interfaces offered.
    Bind {
        call_id: u32,
        alter: bool,
        contexts: Vec<PresContext>,
    },
    /// bind_ack / alter_context_resp: how many offered contexts were accepted.
    BindAck {
        call_id: u32,
        alter: bool,
        accepted: u16,
        rejected: u16,
        /// Secondary address (server port as text, e.g. "49700"), if any.
        sec_addr: Option<String>,
    },
    BindNak {
        call_id: u32,
        reason: u16,
    },
    /// A complete request (all fragments seen, or the last one of a call whose
    /// reassembly was given up: then `stub_len` still counts every fragment).
    Request {
        call_id: u32,
        context_id: u16,
        opnum: u16,
        interface: Option<Uuid>,
        stub_len: u32,
        fragments: u32,
        /// Authentication level from the sec_trailer (6 = privacy: the stub is
        /// encrypted and was not decoded).
        auth_level: Option<u8>,
    },
    /// A complete response; opnum and interface come from the matching request.
    Response {
        call_id: u32,
        context_id: u16,
        opnum: Option<u16>,
        interface: Option<Uuid>,
        stub_len: u32,
        fragments: u32,
        auth_level: Option<u8>,
    },
    Fault {
        call_id: u32,
        status: u32,
        opnum: Option<u16>,
        interface: Option<Uuid>,
    },
    /// ept_map request: which interface the client looks for.
    EpmMapRequest {
        call_id: u32,
        interface: Option<Uuid>,
        version: Option<u16>,
    },
    /// ept_map answer: one TCP endpoint per event.
    EpmMap(EpmMapping),
    Witness(WitnessEvent),
    /// `skipped` bytes did not frame as PDUs (after a gap or garbage) before a
    /// plausible header was found again (or the stream ended).
    Resync {
        skipped: u64,
    },
}

/// Receives the events of one connection.
pub trait RpcSink {
    fn event(&mut self, dir: Direction, ts_ns: i64, event: RpcEvent);
}

/// Collects events (handy in tests and small tools).
impl RpcSink for Vec<(Direction, i64, RpcEvent)> {
    fn event(&mut self, dir: Direction, ts_ns: i64, event: RpcEvent) {
        self.push((dir, ts_ns, event));
    }
}
