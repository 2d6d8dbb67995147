//! The state machine over the fixture conversations: contexts, call tracking,
//! fragments, byte order, gaps, resync, bounds.

use std::net::Ipv4Addr;

use super::fixtures::{self, H1, H2};
use super::{Events, kinds, run};
use crate::dcerpc::testutil::*;
use crate::dcerpc::witness::{self, ResourceState, WitnessKind, WitnessMessage};
use crate::dcerpc::{EpmMapping, RpcConnState, RpcEvent, RpcParser, known};
use crate::flow::Direction;
use crate::tcp::StreamHandler;

fn witness(ev: &Events) -> Vec<WitnessKind> {
    ev.iter()
        .filter_map(|(_, _, e)| match e {
            RpcEvent::Witness(w) => Some(w.kind.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn session_a_events() {
    let (ev, st) = run(&fixtures::session_a());
    let k = kinds(&ev);
    // bind + ack
    let RpcEvent::Bind {
        call_id: 1,
        alter: false,
        contexts,
    } = &k[0]
    else {
        panic!("{:?}", k[0])
    };
    assert_eq!(contexts.len(), 1);
    assert_eq!(contexts[0].interface, known::WITNESS);
    assert_eq!((contexts[0].version, contexts[0].version_minor), (1, 1));
    assert_eq!(contexts[0].transfer, Some(known::NDR));
    assert_eq!(
        k[1],
        RpcEvent::BindAck {
            call_id: 1,
            alter: false,
            accepted: 1,
            rejected: 0,
            sec_addr: Some("49700".into())
        }
    );
    // RegisterEx request, then its witness event.
    let RpcEvent::Request {
        call_id: 2,
        opnum: 4,
        interface: Some(i),
        fragments: 1,
        ..
    } = &k[2]
    else {
        panic!("{:?}", k[2])
    };
    assert_eq!(*i, known::WITNESS);
    let w = witness(&ev);
    assert_eq!(
        w[0],
        WitnessKind::Register {
            version: witness::VERSION_2,
            net_name: Some("SOFS".into()),
            share_name: Some("VMS".into()),
            ip: Some("10.0.0.5".into()),
            client_name: Some("HV1.contoso.local".into()),
            flags: Some(1),
            keep_alive_timeout: Some(120),
        }
    );
    assert_eq!(
        w[1],
        WitnessKind::Registered {
            context: H1,
            status: 0
        }
    );
    assert_eq!(w[2], WitnessKind::NotifyRequest { context: H1 });
    let WitnessKind::Notify {
        message_type: 2,
        messages,
        status: 0,
    } = &w[3]
    else {
        panic!("{:?}", w[3])
    };
    assert_eq!(messages.len(), 2);
    let WitnessMessage::ClientMove { addresses } = &messages[0] else {
        panic!()
    };
    assert_eq!(addresses.len(), 2);
    assert_eq!(addresses[0].ipv4, Some(Ipv4Addr::new(10, 0, 0, 6)));
    assert_eq!(addresses[1].ipv6, Some(fixtures::V6.into()));
    let WitnessMessage::ClientMove { addresses } = &messages[1] else {
        panic!()
    };
    assert_eq!(addresses[0].ipv4, Some(Ipv4Addr::new(10, 0, 1, 6)));
    assert_eq!(w[4], WitnessKind::NotifyRequest { context: H1 });
    assert_eq!(
        w[5],
        WitnessKind::Notify {
            message_type: 1,
            messages: vec![
                WitnessMessage::ResourceChange {
                    name: "SOFS".into(),
                    change: ResourceState::Unavailable
                },
                WitnessMessage::ResourceChange {
                    name: "10.0.0.5".into(),
                    change: ResourceState::Available
                },
            ],
            status: 0,
        }
    );
    // The Register split over two fragments is reassembled.
    assert!(k.iter().any(|e| matches!(
        e,
        RpcEvent::Request {
            call_id: 5,
            opnum: 1,
            fragments: 2,
            stub_len: 92,
            ..
        }
    )));
    assert_eq!(
        w[6],
        WitnessKind::Register {
            version: witness::VERSION_1,
            net_name: Some("SOFS".into()),
            share_name: None,
            ip: Some("10.0.0.5".into()),
            client_name: Some("HV1".into()),
            flags: None,
            keep_alive_timeout: None,
        }
    );
    assert_eq!(
        w[7],
        WitnessKind::Registered {
            context: H2,
            status: 0
        }
    );
    assert_eq!(w[8], WitnessKind::UnRegister { context: H1 });
    assert_eq!(w[9], WitnessKind::NotifyRequest { context: H2 });
    assert!(
        matches!(&w[10], WitnessKind::Notify { message_type: 3, messages, .. }
        if matches!(&messages[..], [WitnessMessage::ShareMove { addresses }] if addresses[0].ipv4 == Some(Ipv4Addr::new(10, 0, 0, 7))))
    );
    assert_eq!(w[11], WitnessKind::NotifyRequest { context: H2 });
    let WitnessKind::InterfaceList {
        interfaces,
        status: 0,
    } = &w[12]
    else {
        panic!("{:?}", w[12])
    };
    assert_eq!(interfaces.len(), 2);
    assert_eq!(interfaces[0].group_name, "NODE1");
    assert_eq!(
        (
            interfaces[0].version,
            interfaces[0].state,
            interfaces[0].flags
        ),
        (0x0002_0000, 1, 5)
    );
    assert_eq!(interfaces[0].ipv4, Some(Ipv4Addr::new(10, 0, 0, 5)));
    assert_eq!(interfaces[0].ipv6, None);
    assert_eq!(interfaces[1].group_name, "NODE2");
    assert_eq!(interfaces[1].ipv6, Some(fixtures::V6.into()));
    assert_eq!(w.len(), 13);
    // The fault answers call 8 (AsyncNotify) and knows its opnum.
    assert_eq!(
        &k[k.len() - 4],
        &RpcEvent::Fault {
            call_id: 8,
            status: fixtures::FAULT_STATUS,
            opnum: Some(3),
            interface: Some(known::WITNESS)
        }
    );
    // Responses carry the request's opnum.
    assert!(k.iter().any(|e| matches!(
        e,
        RpcEvent::Response {
            call_id: 6,
            opnum: Some(2),
            stub_len: 4,
            ..
        }
    )));
    assert_eq!(st.stats.requests, 8);
    assert_eq!(st.stats.responses, 7);
    assert_eq!(st.stats.faults, 1);
    assert_eq!(st.stats.pdus, 19);
    assert_eq!(st.stats.decode_errors, 0);
    assert_eq!(st.stats.resyncs, 0);
    assert_eq!(st.buffered(), 0);
    // Witness events carry the segment's timestamp.
    let (_, ts, RpcEvent::Witness(we)) = ev
        .iter()
        .find(|e| matches!(e.2, RpcEvent::Witness(_)))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(*ts, we.ts_ns);
}

#[test]
fn session_b_big_endian() {
    let (ev, st) = run(&fixtures::session_b());
    let w = witness(&ev);
    assert!(
        matches!(&w[0], WitnessKind::Register { net_name: Some(n), ip: Some(ip), client_name: Some(c), version: witness::VERSION_1, .. }
        if n == "FS2" && ip == "10.0.0.8" && c == "HV2")
    );
    assert_eq!(
        w[1],
        WitnessKind::Registered {
            context: H2,
            status: 0
        }
    );
    let WitnessKind::Notify {
        message_type: 4,
        messages,
        ..
    } = &w[3]
    else {
        panic!("{:?}", w[3])
    };
    let WitnessMessage::IpChange { addresses } = &messages[0] else {
        panic!()
    };
    assert_eq!(addresses[0].ipv4, Some(Ipv4Addr::new(10, 0, 0, 8)));
    assert!(addresses[0].offline());
    assert_eq!(st.stats.decode_errors, 0);
}

#[test]
fn session_epm_learns_port() {
    let (ev, _) = run(&fixtures::session_epm());
    let k = kinds(&ev);
    assert!(k.contains(&RpcEvent::EpmMapRequest {
        call_id: 2,
        interface: Some(known::WITNESS),
        version: Some(1)
    }));
    assert!(k.contains(&RpcEvent::EpmMap(EpmMapping {
        interface: known::WITNESS,
        version: 1,
        port: fixtures::WITNESS_PORT,
        ip: Some(Ipv4Addr::new(10, 0, 0, 5)),
    })));
}

/// All PDUs of one direction, concatenated.
fn stream(segs: &[Seg], to_server: bool) -> Vec<u8> {
    segs.iter()
        .filter(|s| s.to_server == to_server)
        .flat_map(|s| s.payload.clone())
        .collect()
}

#[test]
fn one_byte_at_a_time_equals_whole() {
    let segs = fixtures::session_a();
    let (whole, _) = run(&segs);
    let mut st = RpcConnState::new();
    let mut ev = Events::new();
    for s in &segs {
        let dir = if s.to_server {
            Direction::AtoB
        } else {
            Direction::BtoA
        };
        for b in s.payload.chunks(1) {
            st.data(dir, s.ts_ns, b, &mut ev);
        }
    }
    st.end(Direction::AtoB, &mut ev);
    st.end(Direction::BtoA, &mut ev);
    assert_eq!(kinds(&whole), kinds(&ev));
}

#[test]
fn garbage_then_resync() {
    let mut bytes = vec![0x05, 0x00, 0x63, 0xde, 0xad, 0x05, 0x01];
    bytes.extend(bind(1, true, &[(0, known::WITNESS, 1, 1)]));
    bytes.extend([0x77; 5]);
    let mut st = RpcConnState::new();
    let mut ev = Events::new();
    st.data(Direction::AtoB, 0, &bytes, &mut ev);
    st.end(Direction::AtoB, &mut ev);
    let k = kinds(&ev);
    assert_eq!(k[0], RpcEvent::Resync { skipped: 7 });
    assert!(matches!(k[1], RpcEvent::Bind { .. }));
    assert_eq!(k[2], RpcEvent::Resync { skipped: 5 });
    assert_eq!(st.stats.skipped_bytes, 12);
}

#[test]
fn gap_inside_a_known_pdu_keeps_sync() {
    let segs = fixtures::session_a();
    let c = stream(&segs, true);
    let bind_len = bind(1, true, &[(0, known::WITNESS, 1, 1)]).len();
    // Deliver the bind, 10 bytes of the RegisterEx request, a gap of 30, the rest.
    let mut st = RpcConnState::new();
    let mut ev = Events::new();
    let mut p = RpcParser::new(&mut st, &mut ev);
    p.data(Direction::AtoB, 0, &c[..bind_len + 20]);
    p.gap(Direction::AtoB, 30);
    p.data(Direction::AtoB, 0, &c[bind_len + 50..]);
    let k = kinds(&ev);
    assert!(
        !k.iter().any(|e| matches!(e, RpcEvent::Resync { .. })),
        "{k:?}"
    );
    assert!(
        !k.iter()
            .any(|e| matches!(e, RpcEvent::Request { call_id: 2, .. }))
    );
    assert!(
        k.iter()
            .any(|e| matches!(e, RpcEvent::Request { call_id: 3, .. }))
    );
    assert_eq!(st.stats.lost_pdus, 1);
    assert_eq!(st.stats.requests, 7);
}

#[test]
fn gap_at_unknown_position_resyncs() {
    let segs = fixtures::session_a();
    let c = stream(&segs, true);
    let bind_len = bind(1, true, &[(0, known::WITNESS, 1, 1)]).len();
    assert_eq!(bind_len, 72);
    let mut st = RpcConnState::new();
    let mut ev = Events::new();
    st.gap(Direction::AtoB, 1000);
    // Start 3 bytes into the bind: the rest of it is skipped.
    st.data(Direction::AtoB, 0, &c[3..], &mut ev);
    let k = kinds(&ev);
    let RpcEvent::Resync { skipped } = k[0] else {
        panic!("{:?}", k[0])
    };
    assert_eq!(skipped, 72 - 3);
    // Without the bind the interface is unknown: requests still framed, not decoded.
    assert!(matches!(
        k[1],
        RpcEvent::Request {
            call_id: 2,
            interface: None,
            ..
        }
    ));
    assert!(witness(&ev).is_empty());
    // With the interface known from EPM, the same bytes decode.
    let mut st = RpcConnState::with_default_interface(known::WITNESS);
    let mut ev = Events::new();
    st.data(Direction::AtoB, 0, &c[bind_len..], &mut ev);
    assert_eq!(witness(&ev).len(), 7);
    assert_eq!(st.stats.requests, 8);
}

#[test]
fn fragment_after_gap_is_orphan() {
    let reg = register_stub(true, witness::VERSION_1, "SOFS", "10.0.0.5", "HV1");
    let f1 = request(9, true, FIRST, 0, 1, 0, &reg[..20]);
    let f2 = request(9, true, LAST, 0, 1, 0, &reg[20..]);
    let mut st = RpcConnState::with_default_interface(known::WITNESS);
    let mut ev = Events::new();
    st.data(Direction::AtoB, 0, &f1, &mut ev);
    st.gap(Direction::AtoB, 0);
    st.data(Direction::AtoB, 0, &f2, &mut ev);
    st.end(Direction::AtoB, &mut ev);
    assert_eq!(st.stats.reassembly_dropped, 1);
    // After a gap only a first fragment is taken as a header: the last
    // fragment is skipped, not framed.
    assert_eq!(st.stats.orphan_fragments, 0);
    assert_eq!(
        kinds(&ev).last(),
        Some(&RpcEvent::Resync {
            skipped: f2.len() as u64
        })
    );
    assert!(witness(&ev).is_empty());
    // In sync (no gap), a fragment of an unknown call is an orphan.
    let mut st = RpcConnState::with_default_interface(known::WITNESS);
    st.data(Direction::AtoB, 0, &f2, &mut ev);
    assert_eq!(st.stats.orphan_fragments, 1);
}

#[test]
fn reassembly_is_bounded() {
    // 20 fragments of 60000 stub bytes: 1.2 MB > 1 MiB budget.
    let mut st = RpcConnState::with_default_interface(known::WITNESS);
    let mut ev = Events::new();
    let chunk = vec![0u8; 60000];
    for i in 0..20 {
        let flags = match i {
            0 => FIRST,
            19 => LAST,
            _ => 0,
        };
        st.data(
            Direction::AtoB,
            0,
            &request(4, true, flags, 0, 1, 0, &chunk),
            &mut ev,
        );
        assert!(st.buffered() <= 1 << 20);
    }
    assert_eq!(st.stats.reassembly_dropped, 1);
    assert_eq!(
        kinds(&ev),
        vec![RpcEvent::Request {
            call_id: 4,
            context_id: 0,
            opnum: 1,
            interface: Some(known::WITNESS),
            stub_len: 1_200_000,
            fragments: 20,
            auth_level: None,
        }]
    );
    assert_eq!(st.buffered(), 0);
}

#[test]
fn privacy_stub_is_not_decoded() {
    // Request with an 8-byte sec_trailer (NTLM, level 6 privacy, pad 0) and a
    // 16-byte auth value; frag_length and auth_length patched in.
    let stub = handle_stub(true, H1);
    let mut p = request(3, true, FIRST_LAST, 0, 3, 20, &stub);
    p.extend_from_slice(&[10, 6, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(&[0xAA; 16]);
    let fl = p.len() as u16;
    p[8..10].copy_from_slice(&fl.to_le_bytes());
    p[10..12].copy_from_slice(&16u16.to_le_bytes());
    let mut st = RpcConnState::with_default_interface(known::WITNESS);
    let mut ev = Events::new();
    st.data(Direction::AtoB, 0, &p, &mut ev);
    assert_eq!(
        kinds(&ev),
        vec![RpcEvent::Request {
            call_id: 3,
            context_id: 0,
            opnum: 3,
            interface: Some(known::WITNESS),
            stub_len: 20,
            fragments: 1,
            auth_level: Some(6),
        }]
    );
    assert_eq!(st.stats.encrypted_stubs, 1);
    // Same with level 5 (integrity): decoded.
    let lvl = p.len() - 23;
    p[lvl] = 5;
    let mut ev = Events::new();
    st.data(Direction::AtoB, 0, &p, &mut ev);
    assert_eq!(
        witness(&ev),
        vec![WitnessKind::NotifyRequest { context: H1 }]
    );
}

#[test]
fn events_serialize() {
    let (ev, st) = run(&fixtures::session_a());
    let json = serde_json::to_string(&kinds(&ev)).unwrap();
    assert!(
        json.contains(r#""interface":"ccd8c074-d0e5-4a40-92b4-d074faa6ba28""#),
        "{json}"
    );
    assert!(json.contains(r#""ipv6":"fd00::5""#));
    assert!(json.contains(r#""change":"unavailable""#));
    assert!(json.contains(r#""op":"register""#));
    serde_json::to_string(&st.stats).unwrap();
}

#[test]
fn session_d_ndr64() {
    let (ev, st) = run(&fixtures::session_d());
    let w = witness(&ev);
    assert_eq!(
        w[0],
        WitnessKind::Register {
            version: witness::VERSION_2,
            net_name: Some("SOFS".into()),
            share_name: None,
            ip: Some("10.0.0.5".into()),
            client_name: Some("HV3".into()),
            flags: Some(0),
            keep_alive_timeout: Some(300),
        }
    );
    assert_eq!(
        w[1],
        WitnessKind::Registered {
            context: H1,
            status: 0
        }
    );
    assert_eq!(w[2], WitnessKind::NotifyRequest { context: H1 });
    let WitnessKind::Notify {
        message_type: 2,
        messages,
        status: 0,
    } = &w[3]
    else {
        panic!("{:?}", w[3])
    };
    let WitnessMessage::ClientMove { addresses } = &messages[0] else {
        panic!()
    };
    assert_eq!(addresses[0].ipv4, Some(Ipv4Addr::new(10, 0, 0, 9)));
    assert_eq!(addresses[1].ipv6, Some(fixtures::V6.into()));
    assert_eq!(st.stats.decode_errors, 0);
    // Read as NDR 2.0 the same stubs do not decode.
    let mut plain = RpcConnState::with_default_interface(known::WITNESS);
    let mut ev = Events::new();
    for s in fixtures::session_d().iter().skip(2) {
        let dir = if s.to_server {
            Direction::AtoB
        } else {
            Direction::BtoA
        };
        plain.data(dir, 0, &s.payload, &mut ev);
    }
    assert!(plain.stats.decode_errors > 0);
}

/// Throughput of framing + dispatch (run by hand: `cargo test -p
/// hvsleuth-parsers throughput -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput() {
    struct Count(u64);
    impl crate::dcerpc::RpcSink for Count {
        fn event(&mut self, _: Direction, _: i64, _: RpcEvent) {
            self.0 += 1;
        }
    }
    // ~64 MiB of 4280-byte request PDUs on some other interface.
    let mut bytes = bind(1, true, &[(0, crate::dcerpc::Uuid::from_u128(7), 1, 0)]);
    let stub = vec![0x5a; 4256];
    for i in 0..15_700u32 {
        bytes.extend(request(i + 2, true, FIRST_LAST, 0, 3, 0, &stub));
    }
    for seg in [bytes.len(), 1460] {
        let mut st = RpcConnState::new();
        let mut sink = Count(0);
        let t = std::time::Instant::now();
        for c in bytes.chunks(seg) {
            st.data(Direction::AtoB, 0, c, &mut sink);
        }
        let s = t.elapsed().as_secs_f64();
        eprintln!(
            "{} MB in {}-byte segments: {:.3} s, {:.0} MB/s, {} events",
            bytes.len() / 1_000_000,
            seg,
            s,
            bytes.len() as f64 / 1e6 / s,
            sink.0
        );
    }
    // Witness AsyncNotify round trips, decoded.
    let a = fixtures::session_a();
    let one: Vec<u8> = a[4..6].iter().flat_map(|s| s.payload.clone()).collect();
    let mut st = RpcConnState::with_default_interface(known::WITNESS);
    let mut sink = Count(0);
    let t = std::time::Instant::now();
    for _ in 0..100_000 {
        st.data(Direction::AtoB, 0, &a[4].payload, &mut sink);
        st.data(Direction::BtoA, 0, &a[5].payload, &mut sink);
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "100000 AsyncNotify calls ({} bytes each): {:.3} s, {:.0} calls/s",
        one.len(),
        s,
        1e5 / s
    );
}
