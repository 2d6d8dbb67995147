#![no_main]
//! Any bytes as both directions of a DCE/RPC connection, split at points taken
//! from the input, with a gap in the middle; plus the one-shot decoders. Must
//! never panic, and the buffered state must stay bounded.
use hvsleuth_parsers::dcerpc::{RpcConnState, RpcEvent, epm, is_dcerpc_start, known, parse_pdu, witness};
use hvsleuth_parsers::flow::Direction;
use libfuzzer_sys::fuzz_target;

struct Sink(usize);
impl hvsleuth_parsers::dcerpc::RpcSink for Sink {
    fn event(&mut self, _: Direction, _: i64, _: RpcEvent) {
        self.0 += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_pdu(data);
    let _ = is_dcerpc_start(data);
    for le in [true, false] {
        for op in 0..5 {
            let _ = witness::decode_request(op, data, le);
            let _ = witness::decode_response(op, data, le);
        }
        let _ = epm::decode_map_request(data, le);
        let _ = epm::decode_map_response(data, le);
    }
    let _ = epm::parse_tower(data);

    let mut st = RpcConnState::with_default_interface(known::WITNESS);
    let mut sink = Sink(0);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    for (i, chunk) in data.chunks(step).enumerate() {
        let dir = if i % 3 == 2 { Direction::BtoA } else { Direction::AtoB };
        st.data(dir, i as i64, chunk, &mut sink);
        if i == 7 {
            st.gap(dir, u64::from(chunk.first().copied().unwrap_or(0)));
        }
        assert!(st.buffered() <= 2 * 65536 + (1 << 20));
    }
    st.end(Direction::AtoB, &mut sink);
    st.end(Direction::BtoA, &mut sink);
});
