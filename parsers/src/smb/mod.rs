//! SMB 2/3 analyser: wire views ([`wire`]), body decoders ([`commands`]),
//! the per-connection stream parser ([`stream`]) that emits [`events`], and
//! the cross-connection session model ([`model`]).

pub mod commands;
pub mod events;
pub mod model;
pub mod stream;
pub mod wire;

pub use events::{
    Body, FileId, NetworkInterfaceInfo, Pdu, ShareRedirect, SmbEvent, SmbEventKind, SmbSink,
};
pub use model::{ChannelInfo, SmbModel, SmbReport};
pub use stream::{SmbConnState, SmbParser, SmbStats};

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;
