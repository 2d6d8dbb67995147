#![no_main]
//! Arbitrary segment sequences through a TcpConnection. The payload byte at
//! sequence number x is always `byte_at(x)`, so the handler, which follows
//! each direction's position through data and gaps, detects any byte that is
//! delivered twice, out of place or invented. Must never panic otherwise.
use hvsleuth_parsers::decode::{TcpView, tcp_flags};
use hvsleuth_parsers::flow::Direction;
use hvsleuth_parsers::tcp::{ReassemblyConfig, StreamHandler, TcpConnection, TcpCounters};
use libfuzzer_sys::fuzz_target;

fn byte_at(x: u32) -> u8 {
    (x.wrapping_mul(2_654_435_761) >> 24) as u8
}

/// Follows each direction's sequence position (set by the harness on sync)
/// and, like the reassembler, its non-wrapping stream offset (0 = the
/// sequence number the direction synced on), which decides whether a SYN
/// takes a sequence number: a 32-bit comparison with the first sequence
/// number goes wrong once the stream has carried 2^32 bytes.
struct Check {
    pos: [Option<u32>; 2],
    off: [i64; 2],
    ended: [bool; 2],
}

impl StreamHandler for Check {
    fn data(&mut self, dir: Direction, _: i64, data: &[u8]) {
        let i = dir.index();
        assert!(!self.ended[i], "data after end");
        let p = self.pos[i].expect("data before sync");
        for (k, b) in data.iter().enumerate() {
            assert_eq!(*b, byte_at(p.wrapping_add(k as u32)), "wrong byte");
        }
        self.pos[i] = Some(p.wrapping_add(data.len() as u32));
        self.off[i] += data.len() as i64;
    }
    fn gap(&mut self, dir: Direction, len: u64) {
        let i = dir.index();
        assert!(!self.ended[i], "gap after end");
        let p = self.pos[i].expect("gap before sync");
        self.pos[i] = Some(p.wrapping_add(len as u32));
        self.off[i] += len as i64;
    }
    fn end(&mut self, dir: Direction) {
        assert!(!self.ended[dir.index()], "ended twice");
        self.ended[dir.index()] = true;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let cfg = ReassemblyConfig {
        max_ooo_bytes: [1 << 20, 64, 1000, 4096][usize::from(sel & 3)],
        max_ooo_segments: [2048, 2, 8, 64][usize::from((sel >> 2) & 3)],
        max_ahead: [32 << 20, 1000, 1 << 16, u32::MAX][usize::from((sel >> 4) & 3)],
    };
    let mut conn = TcpConnection::new();
    let mut h = Check {
        pos: [None; 2],
        off: [0; 2],
        ended: [false; 2],
    };
    let mut n = TcpCounters::default();
    let mut next = [0u32; 2];
    // Per direction: (sequence number it synced on, that was a SYN).
    let mut isn: [Option<(u32, bool)>; 2] = [None; 2];
    let mut payload = Vec::new();
    let mut t = 0i64;
    while let Some((rec, tail)) = rest.split_first_chunk::<8>() {
        rest = tail;
        let dir = if rec[0] & 0x80 != 0 { Direction::BtoA } else { Direction::AtoB };
        let flags = rec[0] & 0x1f;
        let raw = u32::from_le_bytes([rec[1], rec[2], rec[3], rec[4]]);
        let seq = if rec[0] & 0x40 != 0 {
            raw
        } else {
            next[dir.index()].wrapping_add(i32::from(raw as u16 as i16) as u32)
        };
        let len = usize::from(rec[5]) * 6;
        let missing = u32::from(rec[6] & 0x0f) * u32::from(rec[6] >> 4);
        let cap = len.saturating_sub(missing as usize);
        let missing = (len - cap) as u32;
        // Mirror the reassembler's sync rules so the checker knows where
        // each stream starts: a SYN on a closed connection starts anew; a
        // direction syncs on its first segment; a SYN takes a sequence
        // number only as that first segment (or a copy of it).
        let syn = flags & tcp_flags::SYN != 0;
        if syn && flags & tcp_flags::ACK == 0 && conn.is_closed() {
            h.pos = [None; 2];
            h.off = [0; 2];
            h.ended = [false; 2];
            isn = [None; 2];
        }
        let i = dir.index();
        let (_, syn_start) = *isn[i].get_or_insert((seq, syn));
        if h.pos[i].is_none() {
            h.pos[i] = Some(seq.wrapping_add(u32::from(syn)));
            h.off[i] = i64::from(syn);
        }
        // The segment's stream offset, mapped as the reassembler maps it
        // (signed 32-bit distance from the next expected byte).
        let pos = h.pos[i].unwrap_or(seq);
        let seg_off = h.off[i] + i64::from(seq.wrapping_sub(pos) as i32);
        let data_seq = seq.wrapping_add(u32::from(syn && syn_start && seg_off == 0));
        payload.clear();
        payload.extend((0..cap).map(|k| byte_at(data_seq.wrapping_add(k as u32))));
        let v = TcpView {
            src_port: 1,
            dst_port: 2,
            seq,
            ack: u32::from(rec[7]),
            flags,
            window: 0,
            payload: &payload,
            missing,
        };
        conn.segment(dir, t, &v, &cfg, &mut h, &mut n);
        assert!(conn.buffered_bytes() <= 2 * cfg.max_ooo_bytes);
        next[dir.index()] = seq.wrapping_add(len as u32);
        t += 1;
    }
    conn.finish(&mut h, &mut n);
    assert_eq!(conn.buffered_bytes(), 0);
});
