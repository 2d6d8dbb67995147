//! SMB 2/3 analyser: wire views ([`wire`]), body decoders ([`commands`]),
//! the per-connection stream parser ([`stream`]) that emits [`events`], and
//! the cross-connection session model ([`model`]).
//!
//! Use: keep one [`SmbConnState`] per TCP connection beside the reassembler's
//! connection state and pass `SmbParser { state, sink }` as the
//! [`crate::tcp::StreamHandler`]; the sink ([`SmbSink`]) receives
//! [`SmbEvent`]s, typically forwarding them to one [`SmbModel`] for all
//! connections and files with the connection's [`ChannelInfo`] (client,
//! server, capture file, interface). [`SmbModel::report`] gives the
//! serialisable [`SmbReport`]. For role attribution,
//! [`SmbConnState::is_smb`], [`SmbConnState::dialect`],
//! [`SmbConnState::client_dir`] and
//! [`SmbConnState::session_scaleout_or_cluster`] (or the model's
//! [`SmbModel::session_scaleout_or_cluster`]) are cheap to query.

pub mod commands;
pub mod crypto;
pub mod decompress;
pub mod events;
pub mod model;
pub mod names;
pub mod stream;
pub mod wire;

pub use events::{
    Body, FileId, NetworkInterfaceInfo, Pdu, ShareRedirect, SmbEvent, SmbEventKind, SmbSink,
};
pub use model::{ChannelInfo, DecryptionReport, SignatureReport, SmbModel, SmbReport};
pub use stream::{SmbConnState, SmbParser, SmbStats};

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;
