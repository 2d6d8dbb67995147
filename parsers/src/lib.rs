//! hvsleuth's decoders: bytes in, typed records out. No printing, no CLI, no
//! report logic. Every decoder treats its input as hostile: no panic, no
//! allocation sized by an unchecked length field.
#![forbid(unsafe_code)]

pub mod capture;
mod civil;
pub mod clusterlog;
pub mod dcerpc;
pub mod decode;
pub mod etl;
pub mod evtx;
pub mod flow;
pub mod flowtable;
pub mod ieee80211;
pub mod kerberos;
pub mod link;
pub mod perfmon;
pub mod pktmon_pcapng;
pub mod smb;
pub mod sniff;
pub mod tcp;
pub mod textio;
pub mod xca;

pub use capture::{
    InterfaceInfo, Packet, PacketSink, ReadReport, read_capture, read_capture_slice,
};
pub use decode::{Decoded, Transport, decode};
pub use flow::{ConvKey, Direction, Endpoint, L4Proto};
pub use link::LinkType;
pub use sniff::{InputKind, sniff};
