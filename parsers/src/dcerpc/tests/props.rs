//! Property tests: hostile bytes never panic and stay bounded; the events do
//! not depend on where the TCP stream was split.

use proptest::prelude::*;

use super::{Events, fixtures, kinds};
use crate::dcerpc::testutil::Seg;
use crate::dcerpc::{RpcConnState, epm, is_dcerpc_start, parse_pdu, witness};
use crate::flow::Direction;

/// Both directions of a conversation, concatenated.
fn streams(segs: &[Seg]) -> [Vec<u8>; 2] {
    let mut s = [Vec::new(), Vec::new()];
    for g in segs {
        s[usize::from(!g.to_server)].extend_from_slice(&g.payload);
    }
    s
}

/// Feeds the client stream, then the server stream, cut at `cuts` (offsets
/// taken modulo the length); returns the events.
fn feed(st: &mut RpcConnState, s: &[Vec<u8>; 2], cuts: &[usize]) -> Events {
    let mut ev = Events::new();
    for (i, bytes) in s.iter().enumerate() {
        let dir = if i == 0 {
            Direction::AtoB
        } else {
            Direction::BtoA
        };
        let mut pts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        pts.push(0);
        pts.push(bytes.len());
        pts.sort_unstable();
        for w in pts.windows(2) {
            st.data(dir, 7, &bytes[w[0]..w[1]], &mut ev);
            assert!(st.buffered() <= 2 * 65536 + (1 << 20));
        }
        st.end(dir, &mut ev);
    }
    ev
}

fn mutate(mut s: [Vec<u8>; 2], muts: &[(usize, u8)]) -> [Vec<u8>; 2] {
    for (k, &(pos, val)) in muts.iter().enumerate() {
        let v = &mut s[k % 2];
        if !v.is_empty() {
            let n = v.len();
            v[pos % n] = val;
        }
    }
    s
}

/// Offset of the last PDU in a stream of well-formed PDUs.
fn fixtures_last_request_start(c: &[u8]) -> usize {
    let mut i = 0;
    let mut last = 0;
    while let Ok(p) = parse_pdu(&c[i..]) {
        last = i;
        i += usize::from(p.header.frag_len);
    }
    last
}

fn all_sessions() -> Vec<[Vec<u8>; 2]> {
    vec![
        streams(&fixtures::session_a()),
        streams(&fixtures::session_b()),
        streams(&fixtures::session_epm()),
        streams(&fixtures::session_d()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600), le: bool, op in 0u16..6) {
        let _ = parse_pdu(&b);
        let _ = is_dcerpc_start(&b);
        let _ = witness::decode_request(op, &b, le);
        let _ = witness::decode_response(op, &b, le);
        let _ = witness::decode_messages(u32::from(op), u32::MAX, &b);
        let _ = epm::decode_map_request(&b, le);
        let _ = epm::decode_map_response(&b, le);
        let _ = epm::parse_tower(&b);
        let mut st = RpcConnState::with_default_interface(crate::dcerpc::known::WITNESS);
        let _ = feed(&mut st, &[b.clone(), b], &[3, 17, 100]);
    }

    #[test]
    fn split_points_do_not_matter(which in 0usize..4, cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        let s = all_sessions().swap_remove(which);
        let whole = feed(&mut RpcConnState::new(), &s, &[]);
        let split = feed(&mut RpcConnState::new(), &s, &cuts);
        prop_assert_eq!(kinds(&whole), kinds(&split));
    }

    #[test]
    fn mutated_fixtures_never_panic_and_split_invariant(
        which in 0usize..4,
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let s = mutate(all_sessions().swap_remove(which), &muts);
        let mut a = RpcConnState::with_default_interface(crate::dcerpc::known::WITNESS);
        let mut b = a.clone();
        let whole = feed(&mut a, &s, &[]);
        let split = feed(&mut b, &s, &cuts);
        prop_assert_eq!(kinds(&whole), kinds(&split));
        prop_assert_eq!(a.stats, b.stats);
    }

    #[test]
    fn gaps_never_panic_and_resync(which in 0usize..4, at in any::<usize>(), len in 0usize..400) {
        let s = all_sessions().swap_remove(which);
        let c = &s[0];
        let at = at % (c.len() + 1);
        let end = (at + len).min(c.len());
        let mut st = RpcConnState::new();
        let mut ev = Events::new();
        st.data(Direction::AtoB, 0, &c[..at], &mut ev);
        st.gap(Direction::AtoB, (end - at) as u64);
        st.data(Direction::AtoB, 0, &c[end..], &mut ev);
        st.end(Direction::AtoB, &mut ev);
        prop_assert_eq!(st.stats.gaps, 1);
        prop_assert_eq!(st.buffered(), 0);
        // Whatever was lost, the last request of the stream is still seen
        // when the gap ended before it.
        let last = fixtures_last_request_start(c);
        if end <= last {
            let n = ev.iter().filter(|e| matches!(e.2, crate::dcerpc::RpcEvent::Request { .. })).count();
            prop_assert!(n >= 1);
        }
    }

    #[test]
    fn mutated_stubs_never_panic(muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), le: bool) {
        use crate::dcerpc::testutil::*;
        let mut stubs = vec![
            register_ex_stub(le, "SOFS", Some("VMS"), "10.0.0.5", "HV1", 1, 120),
            notify_stub(le, 2, 2, &ipaddr_list(&[(1, [10, 0, 0, 1], [0; 16]), (2, [0; 4], [1; 16])]), 0),
            notify_stub(le, 1, 1, &resource_change("SOFS", 1), 0),
            epm_map_response_stub(le, &[tcp_tower(crate::dcerpc::known::WITNESS, 1, 1, 49700, [10, 0, 0, 5])]),
        ];
        for s in &mut stubs {
            for &(pos, val) in &muts {
                let n = s.len();
                s[pos % n] = val;
            }
        }
        let _ = witness::decode_request(4, &stubs[0], le);
        let _ = witness::decode_response(3, &stubs[1], le);
        let _ = witness::decode_response(3, &stubs[2], le);
        let _ = epm::decode_map_response(&stubs[3], le);
    }
}
