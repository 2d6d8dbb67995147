//! Unit and property tests of the reassembler, on hand-built segments.

use super::*;
use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use proptest::prelude::*;

const A: Direction = Direction::AtoB;
const B: Direction = Direction::BtoA;

/// Records what the handler was told, per direction, as readable text:
/// data as is, gaps as `<gN>`, snaplen cuts as `<cN>`, end as `<end>`.
#[derive(Default, Debug)]
struct Rec {
    text: [String; 2],
}

impl StreamHandler for Rec {
    fn data(&mut self, dir: Direction, _: i64, data: &[u8]) {
        self.text[dir.index()].push_str(&String::from_utf8_lossy(data));
    }
    fn gap(&mut self, dir: Direction, len: u64) {
        self.text[dir.index()].push_str(&format!("<g{len}>"));
    }
    fn cut(&mut self, dir: Direction, len: u64) {
        self.text[dir.index()].push_str(&format!("<c{len}>"));
    }
    fn end(&mut self, dir: Direction) {
        self.text[dir.index()].push_str("<end>");
    }
}

fn view(seq: u32, ack: u32, flags: u8, payload: &[u8], missing: u32) -> TcpView<'_> {
    TcpView {
        src_port: 1,
        dst_port: 2,
        seq,
        ack,
        flags,
        window: 100,
        payload,
        missing,
    }
}

/// A connection, its handler and counters, fed with a given config.
struct T {
    c: TcpConnection,
    h: Rec,
    n: TcpCounters,
    cfg: ReassemblyConfig,
}

impl T {
    fn new() -> Self {
        Self::with(ReassemblyConfig::default())
    }
    fn with(cfg: ReassemblyConfig) -> Self {
        T {
            c: TcpConnection::new(),
            h: Rec::default(),
            n: TcpCounters::default(),
            cfg,
        }
    }
    fn seg(&mut self, dir: Direction, seq: u32, flags: u8, payload: &[u8]) -> SegmentKind {
        self.seg_full(dir, seq, 0, flags, payload, 0)
    }
    fn seg_full(
        &mut self,
        dir: Direction,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
        missing: u32,
    ) -> SegmentKind {
        let v = view(seq, ack, flags, payload, missing);
        let k = self
            .c
            .segment(dir, 0, &v, &self.cfg, &mut self.h, &mut self.n);
        assert!(self.c.buffered_bytes() <= 2 * self.cfg.max_ooo_bytes);
        k
    }
    fn text(&self, dir: Direction) -> &str {
        &self.h.text[dir.index()]
    }
    fn finish(&mut self) {
        self.c.finish(&mut self.h, &mut self.n);
    }
}

#[test]
fn handshake_data_fin_in_order() {
    let mut t = T::new();
    assert_eq!(t.seg(A, 1000, SYN, b""), SegmentKind::InOrder);
    assert_eq!(t.seg(B, 5000, SYN | ACK, b""), SegmentKind::InOrder);
    assert_eq!(t.seg(A, 1001, ACK, b""), SegmentKind::ControlOnly);
    assert_eq!(t.seg(A, 1001, ACK | PSH, b"hello"), SegmentKind::InOrder);
    // Retransmitted SYN: a retransmission, not new data.
    assert_eq!(t.seg(A, 1000, SYN, b""), SegmentKind::Duplicate);
    assert_eq!(
        t.seg_full(A, 1000, 1, SYN, b"", 0),
        SegmentKind::Retransmission
    );
    // Keep-alives: 0 or 1 byte just before the next expected one.
    assert_eq!(t.seg(A, 1005, ACK, b"o"), SegmentKind::KeepAlive);
    assert_eq!(t.seg(A, 1005, ACK, b""), SegmentKind::KeepAlive);
    assert_eq!(t.n.keep_alives, 2);
    assert_eq!(t.seg(B, 5001, ACK | PSH, b"world"), SegmentKind::InOrder);
    assert_eq!(t.seg(A, 1006, ACK | FIN, b""), SegmentKind::InOrder);
    assert!(!t.c.is_closed());
    assert_eq!(t.seg(B, 5006, ACK | FIN, b"!"), SegmentKind::InOrder);
    assert!(t.c.is_closed());
    // The last ACK after both FINs consumes nothing.
    assert_eq!(t.seg(A, 1007, ACK, b""), SegmentKind::ControlOnly);
    assert_eq!(t.text(A), "hello<end>");
    assert_eq!(t.text(B), "world!<end>");
    assert_eq!(t.n.delivered_bytes, 11);
    assert_eq!(t.n.midstream, 0);
    // Retransmitted FIN: old.
    assert_eq!(t.seg(B, 5006, ACK | FIN, b"!"), SegmentKind::Duplicate);
    assert_eq!(
        t.seg_full(B, 5006, 1, ACK | FIN, b"!", 0),
        SegmentKind::Retransmission
    );
    assert_eq!((t.n.retransmissions, t.n.duplicates), (2, 2));
}

#[test]
fn out_of_order_is_buffered_then_delivered() {
    let mut t = T::new();
    t.seg(A, 0, SYN, b"");
    assert_eq!(t.seg(A, 11, ACK, b"three"), SegmentKind::OutOfOrder);
    assert_eq!(t.seg(A, 6, ACK, b"two, "), SegmentKind::OutOfOrder);
    assert_eq!(t.c.buffered_bytes(), 10);
    assert_eq!(t.text(A), "");
    assert_eq!(t.seg(A, 1, ACK, b"one, "), SegmentKind::InOrder);
    assert_eq!(t.text(A), "one, two, three");
    assert_eq!(t.c.buffered_bytes(), 0);
    assert_eq!((t.n.out_of_order, t.n.hole_fills, t.n.gaps), (2, 1, 0));
}

#[test]
fn retransmission_and_duplicate() {
    let mut t = T::new();
    t.seg(A, 0, SYN, b"");
    t.seg_full(A, 1, 7, ACK, b"hello", 0);
    // Identical copy: duplicate. Same bytes, new ack: retransmission.
    assert_eq!(
        t.seg_full(A, 1, 7, ACK, b"hello", 0),
        SegmentKind::Duplicate
    );
    assert_eq!(
        t.seg_full(A, 1, 9, ACK, b"hello", 0),
        SegmentKind::Retransmission
    );
    assert_eq!(
        t.seg_full(A, 3, 9, ACK, b"ll", 0),
        SegmentKind::Retransmission
    );
    // A retransmission of buffered (not yet delivered) bytes.
    t.seg_full(A, 10, 9, ACK, b"later", 0);
    assert_eq!(
        t.seg_full(A, 11, 11, ACK, b"ate", 0),
        SegmentKind::Retransmission
    );
    assert_eq!(t.text(A), "hello");
    assert_eq!((t.n.duplicates, t.n.retransmissions), (1, 3));
    // Duplicate pure ACKs are normal TCP, not duplicates.
    assert_eq!(t.seg_full(B, 1, 6, ACK, b"", 0), SegmentKind::ControlOnly);
    assert_eq!(t.seg_full(B, 1, 6, ACK, b"", 0), SegmentKind::ControlOnly);
    assert_eq!(t.n.duplicates, 1);
}

#[test]
fn overlaps_deliver_only_new_bytes() {
    let mut t = T::new();
    t.seg(A, 0, SYN, b"");
    t.seg(A, 1, ACK, b"hello");
    assert_eq!(t.seg(A, 4, ACK, b"loWOR"), SegmentKind::Overlap);
    assert_eq!(t.text(A), "helloWOR");
    // A segment ahead overlapping two buffered pieces stores only the holes.
    t.seg(A, 12, ACK, b"cd"); // [12,14)
    t.seg(A, 16, ACK, b"gh"); // [16,18)
    assert_eq!(t.seg(A, 11, ACK, b"bXXefXXi"), SegmentKind::OutOfOrder);
    assert_eq!(t.c.buffered_bytes(), 8);
    assert_eq!(t.seg(A, 9, ACK, b"-a"), SegmentKind::InOrder);
    assert_eq!(t.text(A), "helloWOR-abcdefghi");
    assert_eq!(t.n.overlaps, 1);
}

#[test]
fn sequence_numbers_wrap_around() {
    let mut t = T::new();
    let isn = u32::MAX - 3;
    t.seg(A, isn, SYN, b"");
    t.seg(A, isn.wrapping_add(1), ACK, b"abc"); // u32::MAX-2 ..= u32::MAX
    // Out of order across the wrap: [3, 6) then [0, 3).
    assert_eq!(t.seg(A, 3, ACK, b"ghi"), SegmentKind::OutOfOrder);
    assert_eq!(t.seg(A, 0, ACK, b"def"), SegmentKind::InOrder);
    assert_eq!(t.seg(A, u32::MAX, ACK, b"cd"), SegmentKind::Retransmission);
    assert_eq!(t.seg(A, u32::MAX, ACK, b"cdefghijk"), SegmentKind::Overlap);
    assert_eq!(t.seg(A, 8, ACK | FIN, b""), SegmentKind::InOrder);
    assert_eq!(t.text(A), "abcdefghijk<end>");
    assert_eq!((t.n.retransmissions, t.n.overlaps, t.n.gaps), (1, 1, 0));
}

#[test]
fn rst_gives_up_holes_and_ends_both_directions() {
    let mut t = T::new();
    t.seg(A, 100, SYN, b"");
    t.seg(B, 200, SYN | ACK, b"");
    t.seg(A, 101, ACK, b"ab");
    t.seg(A, 106, ACK, b"fg"); // hole [103,106)
    assert_eq!(t.seg(B, 201, RST | ACK, b""), SegmentKind::ControlOnly);
    assert!(t.c.is_closed());
    assert_eq!(t.text(A), "ab<g3>fg<end>");
    assert_eq!(t.text(B), "<end>");
    assert_eq!(t.seg(A, 108, ACK, b"late"), SegmentKind::AfterClose);
    // Port reuse: a new SYN starts a new connection.
    t.seg(A, 9000, SYN, b"");
    t.seg(A, 9001, ACK, b"new");
    assert!(!t.c.is_closed());
    assert_eq!(t.text(A), "ab<g3>fg<end>new");
    assert_eq!((t.n.gaps, t.n.gap_bytes, t.n.after_close), (1, 3, 1));
}

#[test]
fn mid_stream_start_syncs_on_first_segment() {
    let mut t = T::new();
    assert_eq!(t.seg(A, 123_456, ACK, b"abc"), SegmentKind::InOrder);
    // Bytes before the first captured segment were never seen: late, not resent.
    assert_eq!(t.seg(A, 123_450, ACK, b"older!"), SegmentKind::Late);
    // Its second copy is a retransmission.
    assert_eq!(
        t.seg_full(A, 123_450, 1, ACK, b"older!", 0),
        SegmentKind::Retransmission
    );
    assert_eq!(t.seg(A, 123_459, ACK, b"def"), SegmentKind::InOrder);
    // Starting before the sync point and going on past what we have.
    assert_eq!(
        t.seg(A, 123_450, ACK, b"123456abcdefgh"),
        SegmentKind::Overlap
    );
    // The other direction syncs on its first segment, even a pure ACK.
    assert_eq!(t.seg(B, 7, ACK, b""), SegmentKind::ControlOnly);
    assert_eq!(t.seg(B, 7, ACK, b"xy"), SegmentKind::InOrder);
    assert_eq!(t.text(A), "abcdefgh");
    assert_eq!(t.text(B), "xy");
    assert_eq!(t.n.midstream, 2);
}

#[test]
fn snaplen_cut_reports_gap_and_stays_in_sync() {
    let mut t = T::new();
    t.seg(A, 0, SYN, b"");
    assert_eq!(t.seg_full(A, 1, 0, ACK, b"abc", 5), SegmentKind::InOrder);
    assert_eq!(t.seg(A, 9, ACK, b"next"), SegmentKind::InOrder);
    // Cut and out of order: buffered with its cut tail, delivered in place.
    t.seg_full(A, 17, 0, ACK, b"XY", 3); // [17,22)
    t.seg(A, 13, ACK, b"ABCD");
    t.seg(A, 22, ACK, b"z");
    // Cut tails are reported as cuts (carried), not as losses.
    assert_eq!(t.text(A), "abc<c5>nextABCDXY<c3>z");
    assert_eq!((t.n.truncated, t.n.gap_bytes), (2, 8));
    // A retransmission overlapping a cut region delivers nothing twice.
    assert_eq!(t.seg(A, 3, ACK, b"cdefgh"), SegmentKind::Retransmission);
}

#[test]
fn cap_overflow_gives_up_the_first_hole() {
    let cfg = ReassemblyConfig {
        max_ooo_bytes: 10,
        ..Default::default()
    };
    let mut t = T::with(cfg);
    t.seg(A, 0, SYN, b"");
    t.seg(A, 1, ACK, b"ab");
    t.seg(A, 5, ACK, b"efghij"); // hole [3,5), 6 bytes buffered
    t.seg(A, 13, ACK, b"mnop"); // hole [11,13), 10 bytes buffered
    assert_eq!(t.c.buffered_bytes(), 10);
    assert_eq!(t.seg(A, 19, ACK, b"st"), SegmentKind::OutOfOrder);
    // The first hole was given up to make room.
    assert_eq!(t.text(A), "ab<g2>efghij");
    assert_eq!(t.c.buffered_bytes(), 6);
    // A segment larger than the whole cap: every hole before it is given up
    // and it is delivered straight from the packet.
    let big = [b'x'; 30];
    assert_eq!(t.seg(A, 40, ACK, &big), SegmentKind::OutOfOrder);
    assert_eq!(
        t.text(A),
        format!("ab<g2>efghij<g2>mnop<g2>st<g19>{}", "x".repeat(30))
    );
    assert_eq!(t.c.buffered_bytes(), 0);
    assert_eq!((t.n.ooo_overflow, t.n.gaps), (2, 4));
    // The fillers of the last two holes given up come late: never seen, so
    // not retransmissions...
    assert_eq!(t.seg(A, 17, ACK, b"qr"), SegmentKind::Late);
    assert_eq!(t.seg(A, 21, ACK, b"uvw"), SegmentKind::Late);
    // ... but their second copies are.
    assert_eq!(
        t.seg_full(A, 17, 1, ACK, b"qr", 0),
        SegmentKind::Retransmission
    );
    // Only the last two holes are remembered (compact state): an older one's
    // filler is taken for a retransmission.
    assert_eq!(t.seg(A, 3, ACK, b"cd"), SegmentKind::Retransmission);
    assert_eq!((t.n.late, t.n.retransmissions), (2, 2));
}

/// Segments of `size` bytes covering `[base, base + n * size)`, sent highest first.
fn descending(t: &mut T, base: u32, n: u32, size: u32) {
    let payload = vec![b'd'; size as usize];
    for i in (0..n).rev() {
        t.seg(A, base.wrapping_add(i * size), ACK, &payload);
    }
}

#[test]
fn descending_order_is_reordering_not_retransmission() {
    // Issue 13: 100,000 segments delivered highest first, none resent, gave
    // 97,951 "retransmissions". Mid-stream: everything before the first
    // segment is unseen, so every later one is late.
    let mut t = T::new();
    descending(&mut t, 4_000_000_000, 100_000, 100);
    assert_eq!(
        (t.n.retransmissions, t.n.duplicates, t.n.overlaps),
        (0, 0, 0)
    );
    assert_eq!(t.n.late, 99_999);
    // The same after a SYN: the buffer cap gives up the hole below the
    // segment that overflowed it, and the rest fill that hole late.
    let mut t = T::new();
    t.seg(A, 99, SYN, b"");
    descending(&mut t, 100, 100_000, 100);
    assert_eq!(
        (t.n.retransmissions, t.n.duplicates, t.n.overlaps),
        (0, 0, 0)
    );
    assert!(t.n.ooo_overflow >= 1, "{:?}", t.n);
    assert_eq!(t.n.out_of_order + t.n.late, 100_000, "{:?}", t.n);
    // Resending all of it now is 100,000 retransmissions.
    let mut t2 = T::new();
    descending(&mut t2, 0, 1000, 10);
    t2.n = TcpCounters::default();
    for i in 0..1000u32 {
        t2.seg_full(A, i * 10, 7, ACK, &[b'd'; 10], 0);
    }
    assert_eq!(t2.n.retransmissions, 1000, "{:?}", t2.n);
}

#[test]
fn segment_cap_counts_pieces() {
    let cfg = ReassemblyConfig {
        max_ooo_segments: 2,
        ..Default::default()
    };
    let mut t = T::with(cfg);
    t.seg(A, 0, SYN, b"");
    t.seg(A, 3, ACK, b"c");
    t.seg(A, 5, ACK, b"e");
    t.seg(A, 7, ACK, b"g");
    assert_eq!(t.text(A), "<g2>c");
    t.finish();
    assert_eq!(t.text(A), "<g2>c<g1>e<g1>g");
}

#[test]
fn hostile_sequence_jumps_cost_nothing() {
    let mut t = T::new();
    t.seg(A, 0, SYN, b"");
    t.seg(A, 1, ACK, b"ok");
    // 1 GB ahead: out of window, dropped, nothing buffered.
    assert_eq!(t.seg(A, 1 << 30, ACK, b"evil"), SegmentKind::OutOfWindow);
    assert_eq!(t.c.buffered_bytes(), 0);
    // 2^31 + 3 ahead reads as 2^31 - 3 behind: old data.
    assert_eq!(
        t.seg(A, 3u32.wrapping_add(1 << 31), ACK, b"evil"),
        SegmentKind::Retransmission
    );
    // The real stream goes on undisturbed.
    assert_eq!(t.seg(A, 3, ACK, b"fine"), SegmentKind::InOrder);
    assert_eq!(t.text(A), "okfine");
    // Two contiguous far-ahead segments: a real capture loss, resync.
    let far = 7 + (64 << 20);
    assert_eq!(t.seg(A, far, ACK, b"lost"), SegmentKind::OutOfWindow);
    assert_eq!(t.seg(A, far + 4, ACK, b"then"), SegmentKind::InOrder);
    assert_eq!(t.text(A), format!("okfine<g{}>then", (64 << 20) + 4));
    assert_eq!((t.n.out_of_window, t.n.resyncs), (2, 1));
}

#[test]
fn finish_reports_holes_then_buffered_data_and_pending_fin() {
    let mut t = T::new();
    t.seg(A, 0, SYN, b"");
    t.seg(A, 1, ACK, b"a");
    t.seg(A, 4, ACK, b"d");
    t.seg(A, 8, ACK | FIN, b"h"); // FIN at 9
    assert_eq!(t.text(A), "a");
    t.finish();
    assert_eq!(t.text(A), "a<g2>d<g3>h<end>");
    t.finish();
    assert_eq!(t.text(A), "a<g2>d<g3>h<end>");
    assert_eq!(t.c.buffered_bytes(), 0);
}

#[test]
fn fin_ahead_of_data_ends_after_the_data() {
    let mut t = T::new();
    t.seg(A, 0, SYN, b"");
    assert_eq!(t.seg(A, 6, FIN | ACK, b""), SegmentKind::OutOfOrder);
    assert_eq!(t.text(A), "");
    t.seg(A, 1, ACK, b"hello");
    assert_eq!(t.text(A), "hello<end>");
    assert_eq!(t.seg(A, 7, ACK, b"more"), SegmentKind::AfterClose);
}

#[test]
fn counters_add_up() {
    let mut a = TcpCounters {
        retransmissions: 2,
        gap_bytes: 5,
        ..Default::default()
    };
    a += TcpCounters {
        retransmissions: 1,
        midstream: 1,
        ..Default::default()
    };
    assert_eq!((a.retransmissions, a.gap_bytes, a.midstream), (3, 5, 1));
}

// ---------------------------------------------------------------------------
// Property test: a random stream, cut, shuffled, duplicated, dropped, cut by
// a snaplen; what is delivered must be the original bytes at their offsets.

/// Checks every delivery against the original stream; `pos` tracks the
/// stream offset through gaps.
struct Checker<'a> {
    stream: &'a [u8],
    pos: u64,
    delivered: u64,
    gap_bytes: u64,
    ended: bool,
}

impl StreamHandler for Checker<'_> {
    fn data(&mut self, dir: Direction, _: i64, data: &[u8]) {
        assert_eq!(dir, A);
        assert!(!self.ended, "data after end");
        let s = self.pos as usize;
        assert_eq!(
            Some(data),
            self.stream.get(s..s + data.len()),
            "wrong bytes at {s}"
        );
        self.pos += data.len() as u64;
        self.delivered += data.len() as u64;
    }
    fn gap(&mut self, dir: Direction, len: u64) {
        assert_eq!(dir, A);
        assert!(!self.ended, "gap after end");
        self.pos += len;
        self.gap_bytes += len;
        assert!(self.pos <= self.stream.len() as u64, "gap past the end");
    }
    fn end(&mut self, dir: Direction) {
        assert_eq!(dir, A);
        assert!(!self.ended, "ended twice");
        self.ended = true;
    }
}

#[derive(Debug, Clone)]
struct Case {
    stream: Vec<u8>,
    isn: u32,
    syn: bool,
    fin: bool,
    /// Without SYN, keep the first segment first (else whatever comes first
    /// fixes the sequence space and earlier bytes count as old).
    pin_first: bool,
    /// (length, displacement, copy (0 none, 1 exact, 2 other ack), drop,
    /// captured eighths, bytes of the previous segment it starts with)
    cuts: Vec<(usize, usize, u8, bool, u8, usize)>,
    max_ooo_bytes: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(any::<u8>(), 1..6000),
        prop_oneof![any::<u32>(), (u32::MAX - 3000)..=u32::MAX],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(
            (
                1usize..1500,
                0usize..6,
                prop_oneof![16 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
                proptest::bool::weighted(0.05),
                prop_oneof![8 => Just(8u8), 1 => 0u8..8],
                prop_oneof![8 => Just(0usize), 1 => 1usize..300],
            ),
            1..64,
        ),
        prop_oneof![Just(1usize << 20), 500usize..4000],
    )
        .prop_map(
            |(stream, isn, syn, fin, pin_first, cuts, max_ooo_bytes)| Case {
                stream,
                isn,
                syn,
                fin,
                pin_first,
                cuts,
                max_ooo_bytes,
            },
        )
}

/// Feeds one case and checks (a)-(d); returns the counters.
fn run_case(c: &Case) -> TcpCounters {
    // Cut the stream into segments (the last one takes the rest).
    struct Seg {
        off: usize,
        len: usize,
        cap: usize,
        fin: bool,
        key: usize,
        copy: u8,
        drop: bool,
    }
    let mut segs = Vec::new();
    let mut off = 0;
    for (i, &(len, disp, copy, drop, frac, back)) in c.cuts.iter().enumerate() {
        if off >= c.stream.len() {
            break;
        }
        let last = i + 1 == c.cuts.len();
        let len = if last {
            c.stream.len() - off
        } else {
            len.min(c.stream.len() - off)
        };
        let end = off + len == c.stream.len();
        let start = off.saturating_sub(back);
        let len = off + len - start;
        let cap = len * usize::from(frac) / 8;
        segs.push(Seg {
            off: start,
            len,
            cap,
            fin: c.fin && end,
            key: i * 4 + disp,
            copy,
            drop,
        });
        off = start + len;
    }
    if c.syn || c.pin_first {
        segs[0].key = 0;
    }
    let mut order: Vec<usize> = (0..segs.len()).collect();
    order.sort_by_key(|&i| segs[i].key);
    // (segment, ack): a copy with another ack is a retransmission, not a duplicate.
    let mut feed: Vec<(usize, u32)> = Vec::new();
    for &i in &order {
        if segs[i].drop {
            continue;
        }
        feed.push((i, 0));
        if segs[i].copy > 0 {
            feed.push((i, u32::from(segs[i].copy) - 1));
        }
    }
    let cfg = ReassemblyConfig {
        max_ooo_bytes: c.max_ooo_bytes,
        ..Default::default()
    };
    let mut conn = TcpConnection::new();
    let mut n = TcpCounters::default();
    // Without SYN, the stream starts where the first segment fed starts.
    let first = if c.syn {
        0
    } else {
        feed.first().map_or(0, |&(i, _)| segs[i].off)
    };
    let mut h = Checker {
        stream: &c.stream,
        pos: first as u64,
        delivered: 0,
        gap_bytes: 0,
        ended: false,
    };
    let base = c.isn.wrapping_add(u32::from(c.syn));
    if c.syn {
        conn.segment(A, 0, &view(c.isn, 0, SYN, b"", 0), &cfg, &mut h, &mut n);
    }
    let mut max_end = first;
    for (t, &(i, ack)) in feed.iter().enumerate() {
        let s = &segs[i];
        let flags = ACK | if s.fin { FIN } else { 0 };
        let v = view(
            base.wrapping_add(s.off as u32),
            ack,
            flags,
            &c.stream[s.off..s.off + s.cap],
            (s.len - s.cap) as u32,
        );
        conn.segment(A, t as i64, &v, &cfg, &mut h, &mut n);
        // (d) the buffer respects its cap.
        assert!(conn.buffered_bytes() <= c.max_ooo_bytes);
        max_end = max_end.max(s.off + s.len);
        // Pure ACKs of the other direction interleave harmlessly.
        conn.segment(B, t as i64, &view(9, 0, ACK, b"", 0), &cfg, &mut h, &mut n);
    }
    conn.finish(&mut h, &mut n);
    // (a)+(c) are checked by the handler at every call; (b): delivered bytes
    // and gaps cover exactly the stream from its start to the last byte fed.
    assert_eq!(h.pos, max_end as u64);
    assert_eq!(h.delivered + h.gap_bytes, (max_end - first) as u64);
    assert_eq!(n.delivered_bytes, h.delivered);
    assert_eq!(n.gap_bytes, h.gap_bytes);
    let fin_fed = feed.iter().any(|&(i, _)| segs[i].fin);
    assert_eq!(h.ended, fin_fed);
    // Nothing lost, cut or capped: everything is delivered.
    let pristine = segs.iter().all(|s| !s.drop && s.cap == s.len)
        && c.max_ooo_bytes >= c.stream.len()
        && (c.syn || c.pin_first);
    if pristine {
        assert_eq!(h.delivered, c.stream.len() as u64);
        assert_eq!(n.gaps, 0);
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn reassembly_delivers_each_byte_once_in_place(c in case()) {
        run_case(&c);
    }
}

/// The generated cases do reach every path the property is meant to cover.
#[test]
fn property_cases_exercise_every_path() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut sum = TcpCounters::default();
    for _ in 0..300 {
        let c = case().new_tree(&mut runner).expect("case").current();
        sum += run_case(&c);
    }
    eprintln!("300 generated cases: {sum:?}");
    assert!(sum.out_of_order > 0 && sum.hole_fills > 0, "{sum:?}");
    assert!(sum.duplicates > 0 && sum.retransmissions > 0, "{sum:?}");
    assert!(sum.overlaps > 0, "{sum:?}");
    assert!(sum.ooo_overflow > 0 && sum.truncated > 0, "{sum:?}");
    assert!(sum.gaps > 0 && sum.midstream > 0, "{sum:?}");
}

// ---------------------------------------------------------------------------
// The fuzz target's harness (parsers/fuzz/fuzz_targets/tcp_reassembly.rs),
// run here on random bytes: hostile flags, seq jumps, tiny caps. Keep in sync.

mod hostile {
    use super::*;

    fn byte_at(x: u32) -> u8 {
        (x.wrapping_mul(2_654_435_761) >> 24) as u8
    }

    /// Follows each direction's sequence position (set by the harness on sync).
    struct Check {
        pos: [Option<u32>; 2],
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
        }
        fn gap(&mut self, dir: Direction, len: u64) {
            let i = dir.index();
            assert!(!self.ended[i], "gap after end");
            let p = self.pos[i].expect("gap before sync");
            self.pos[i] = Some(p.wrapping_add(len as u32));
        }
        fn end(&mut self, dir: Direction) {
            assert!(!self.ended[dir.index()], "ended twice");
            self.ended[dir.index()] = true;
        }
    }

    pub fn run(data: &[u8]) {
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
            let dir = if rec[0] & 0x80 != 0 {
                Direction::BtoA
            } else {
                Direction::AtoB
            };
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
                h.ended = [false; 2];
                isn = [None; 2];
            }
            let (first, syn_start) = *isn[dir.index()].get_or_insert((seq, syn));
            if h.pos[dir.index()].is_none() {
                h.pos[dir.index()] = Some(seq.wrapping_add(u32::from(syn)));
            }
            let data_seq = seq.wrapping_add(u32::from(syn && syn_start && seq == first));
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
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn hostile_segment_sequences_never_deliver_wrong_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..800)
    ) {
        hostile::run(&data);
    }
}
