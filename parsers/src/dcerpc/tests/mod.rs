//! Stream-level tests over spec-built fixtures, checked against tshark, the
//! corpus, and property tests.

mod corpus;
mod fixtures;
mod props;
mod stream;
mod tshark;

use crate::dcerpc::testutil::Seg;
use crate::dcerpc::{RpcConnState, RpcEvent, RpcParser};
use crate::flow::Direction;
use crate::tcp::StreamHandler;

pub type Events = Vec<(Direction, i64, RpcEvent)>;

/// Feeds a conversation, one `data()` call per segment (client = AtoB).
pub fn run(segs: &[Seg]) -> (Events, RpcConnState) {
    let mut st = RpcConnState::new();
    let mut ev = Events::new();
    {
        let mut p = RpcParser::new(&mut st, &mut ev);
        for s in segs {
            let dir = if s.to_server {
                Direction::AtoB
            } else {
                Direction::BtoA
            };
            p.data(dir, s.ts_ns, &s.payload);
        }
        p.end(Direction::AtoB);
        p.end(Direction::BtoA);
    }
    (ev, st)
}

/// Only the events, without direction and time.
pub fn kinds(ev: &Events) -> Vec<RpcEvent> {
    ev.iter().map(|(_, _, e)| e.clone()).collect()
}
