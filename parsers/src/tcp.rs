//! TCP reassembly: per connection and direction, turns captured segments into
//! in-order byte streams for protocol analysers.
//!
//! CONTRACT (implemented in this module; other modules rely on it):
//! - [`StreamHandler`] receives in-order bytes, gap notices and stream ends.
//! - A connection's state lives in a [`TcpConnection`], owned by whoever owns the
//!   flow table; the handler is passed in on every call, so analysers and the
//!   reassembler stay separate types.

use crate::flow::Direction;

/// Receives one connection's reassembled byte streams (both directions).
pub trait StreamHandler {
    /// In-order bytes of direction `dir`, never delivered twice.
    fn data(&mut self, dir: Direction, ts_ns: i64, data: &[u8]);
    /// `len` bytes of direction `dir` will never be delivered (loss, snaplen cut,
    /// buffer cap, or a capture that started mid-stream). The next `data` call
    /// continues after them: the analyser must resynchronise.
    fn gap(&mut self, dir: Direction, len: u64);
    /// Direction `dir` ended (FIN or RST seen and all data before it delivered).
    fn end(&mut self, _dir: Direction) {}
}

/// A handler that ignores the streams (byte accounting and anomaly counts only).
impl StreamHandler for () {
    fn data(&mut self, _: Direction, _: i64, _: &[u8]) {}
    fn gap(&mut self, _: Direction, _: u64) {}
}
