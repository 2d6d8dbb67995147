#![no_main]
//! Any bytes as the two directions of an SMB connection, cut into chunks
//! with gaps and snaplen cuts by the first bytes; every event goes into the session model.
//! Must never panic and must stay within the parser's buffer bound.
use hvsleuth_parsers::Direction;
use hvsleuth_parsers::flow::Endpoint;
use hvsleuth_parsers::smb::stream::MAX_BUFFER;
use hvsleuth_parsers::smb::{ChannelInfo, SmbConnState, SmbEvent, SmbModel, SmbSink};
use libfuzzer_sys::fuzz_target;

struct Sink<'a> {
    model: &'a mut SmbModel,
    ch: &'a ChannelInfo,
}

impl SmbSink for Sink<'_> {
    fn event(&mut self, ev: &SmbEvent) {
        self.model.ingest(self.ch, ev);
    }
}

fuzz_target!(|data: &[u8]| {
    let ch = ChannelInfo {
        client: Endpoint { ip: [10, 0, 0, 1].into(), port: 50000 },
        server: Endpoint { ip: [10, 0, 0, 2].into(), port: 445 },
        capture: "fuzz".into(),
        interface: "eth0".into(),
    };
    let mut model = SmbModel::new();
    let mut st = SmbConnState::new();
    let mut rest = data;
    let mut ts = 0i64;
    // Each chunk: 1 control byte (direction, gap flag, length class) then bytes.
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 { Direction::AtoB } else { Direction::BtoA };
        let len = ((ctl >> 2) as usize * 37).min(tail.len());
        let (chunk, after) = tail.split_at(len);
        let mut sink = Sink { model: &mut model, ch: &ch };
        st.data(dir, ts, chunk, &mut sink);
        if ctl & 2 != 0 {
            // Bit 6: a snaplen cut (bytes carried) rather than a loss.
            if ctl & 0x40 != 0 {
                st.cut(dir, u64::from(ctl) * 13, ts, &mut sink);
            } else {
                st.gap(dir, u64::from(ctl) * 13, ts, &mut sink);
            }
        }
        ts += 1_000_000;
        rest = after;
        if len == 0 && !tail.is_empty() {
            // Zero-length class: feed the rest as one chunk.
            st.data(dir, ts, tail, &mut sink);
            break;
        }
    }
    let mut sink = Sink { model: &mut model, ch: &ch };
    st.end(Direction::AtoB, &mut sink);
    st.end(Direction::BtoA, &mut sink);
    assert!(st.max_buffer_capacity() <= MAX_BUFFER);
    let _ = model.report();
});
