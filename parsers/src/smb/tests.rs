//! Unit and property tests of the SMB decoders, stream parser and model,
//! over hand-built messages (see `fixtures.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use proptest::prelude::*;

use super::commands::*;
use super::events::*;
use super::fixtures::*;
use super::model::{ChannelInfo, SmbModel};
use super::stream::{MAX_BUFFER, SmbConnState};
use super::wire::{cmd, smb2_header, status};
use crate::flow::{Direction, Endpoint};

const C2S: Direction = Direction::AtoB;
const S2C: Direction = Direction::BtoA;

fn decode(msg: &[u8]) -> Body {
    let (_, h) = smb2_header(msg).unwrap();
    decode_body(&h, msg)
}

fn feed(chunks: &[(Direction, Vec<u8>)]) -> (Vec<SmbEvent>, SmbConnState) {
    let mut st = SmbConnState::new();
    let mut ev = Vec::new();
    for (i, (d, c)) in chunks.iter().enumerate() {
        st.data(*d, i as i64, c, &mut ev);
    }
    (ev, st)
}

fn pdus(ev: &[SmbEvent]) -> Vec<&Pdu> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            SmbEventKind::Pdu(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn negotiate_request_and_response() {
    let ctx = std_contexts(&[2, 1]);
    let m = pdu(
        H::req(cmd::NEGOTIATE, 0),
        &negotiate_request(&[0x0202, 0x0210, 0x0300, 0x0302, 0x0311], 0x7F, &ctx),
    );
    let Body::NegotiateRequest(n) = decode(&m) else {
        panic!()
    };
    assert_eq!(n.dialects, vec![0x0202, 0x0210, 0x0300, 0x0302, 0x0311]);
    assert_eq!(
        capability_names(n.capabilities),
        vec![
            "DFS",
            "LEASING",
            "LARGE_MTU",
            "MULTI_CHANNEL",
            "PERSISTENT_HANDLES",
            "DIRECTORY_LEASING",
            "ENCRYPTION"
        ]
    );
    assert_eq!(n.contexts.preauth_hashes, vec![1]);
    assert_eq!(n.contexts.ciphers, vec![2, 1]);
    assert_eq!(n.contexts.compression, vec![1, 4]);
    assert_eq!(n.contexts.signing, vec![2]);
    assert_eq!(n.contexts.types, vec![1, 2, 3, 8]);
    let m = pdu(
        H::resp(cmd::NEGOTIATE, 0),
        &negotiate_response(0x0311, 0x2F, &std_contexts(&[2])),
    );
    let Body::NegotiateResponse(n) = decode(&m) else {
        panic!()
    };
    assert_eq!(dialect_name(n.dialect), "3.1.1");
    assert_eq!(n.max_read, 8 << 20);
    assert_eq!(n.contexts.ciphers, vec![2]);
    // Without 3.1.1, contexts are not looked at.
    let m = pdu(
        H::resp(cmd::NEGOTIATE, 0),
        &negotiate_response(0x0302, 0, &[]),
    );
    let Body::NegotiateResponse(n) = decode(&m) else {
        panic!()
    };
    assert_eq!(n.contexts, NegotiateContexts::default());
    // A huge context count is bounded by the bytes present.
    let mut m = pdu(
        H::req(cmd::NEGOTIATE, 0),
        &negotiate_request(&[0x0311], 0, &ctx),
    );
    m[64 + 32] = 0xFF;
    m[64 + 33] = 0xFF;
    let Body::NegotiateRequest(n) = decode(&m) else {
        panic!()
    };
    assert_eq!(n.contexts.types.len(), 4);
}

#[test]
fn session_setup_and_tree_connect() {
    let m = pdu(
        H::req(cmd::SESSION_SETUP, 2),
        &session_setup_request(SESSION_FLAG_BINDING, 0),
    );
    assert_eq!(
        decode(&m),
        Body::SessionSetupRequest {
            flags: 1,
            previous_session_id: 0
        }
    );
    let m = pdu(
        H::resp(cmd::SESSION_SETUP, 2),
        &session_setup_response(SESSION_FLAG_ENCRYPT_DATA),
    );
    assert_eq!(decode(&m), Body::SessionSetupResponse { session_flags: 4 });
    // STATUS_MORE_PROCESSING_REQUIRED keeps the session setup body.
    let mut h = H::resp(cmd::SESSION_SETUP, 2);
    h.status = status::MORE_PROCESSING_REQUIRED;
    assert!(matches!(
        decode(&pdu(h, &session_setup_response(0))),
        Body::SessionSetupResponse { .. }
    ));
    let m = pdu(
        H::req(cmd::TREE_CONNECT, 3),
        &tree_connect_request(TREE_CONNECT_FLAG_REDIRECT_TO_OWNER, r"\\sofs\vms"),
    );
    assert_eq!(
        decode(&m),
        Body::TreeConnectRequest {
            flags: 2,
            path: r"\\sofs\vms".into()
        }
    );
    let caps = share_caps::CONTINUOUS_AVAILABILITY | share_caps::SCALEOUT | share_caps::CLUSTER;
    let m = pdu(
        H::resp(cmd::TREE_CONNECT, 3),
        &tree_connect_response(1, SHARE_FLAG_ENCRYPT_DATA, caps),
    );
    assert_eq!(
        decode(&m),
        Body::TreeConnectResponse {
            share_type: 1,
            share_flags: 0x8000,
            capabilities: caps,
            path: None
        }
    );
    assert_eq!(
        share_capability_names(caps),
        vec!["CA", "SCALEOUT", "CLUSTER"]
    );
    assert_eq!(
        share_capability_names(0x1F8),
        vec![
            "DFS",
            "CA",
            "SCALEOUT",
            "CLUSTER",
            "ASYMMETRIC",
            "REDIRECT_TO_OWNER"
        ]
    );
}

#[test]
fn create_read_write_close_oplock() {
    let m = pdu(
        H::req(cmd::CREATE, 4),
        &create_request(r"Hyper-V\Virtual Hard Disks\vm1.VHDX"),
    );
    assert_eq!(
        decode(&m),
        Body::CreateRequest {
            name: r"Hyper-V\Virtual Hard Disks\vm1.VHDX".into(),
            vm_storage: true
        }
    );
    for (n, vm) in [
        ("a.vhd", true),
        ("a.AVHDX", true),
        ("x.vmrs", true),
        ("x.vmgs", true),
        ("x.vmcx", true),
        ("x.avhd", true),
        ("vhdx.txt", false),
        ("", false),
    ] {
        assert_eq!(is_vm_storage(n), vm, "{n}");
    }
    let m = pdu(H::resp(cmd::CREATE, 4), &create_response(7, 9, 1 << 30));
    assert_eq!(
        decode(&m),
        Body::CreateResponse {
            file_id: FileId {
                persistent: 7,
                volatile: 9
            },
            end_of_file: 1 << 30,
            name: None
        }
    );
    let m = pdu(H::req(cmd::READ, 5), &read_request(65536, 4096, (7, 9)));
    assert_eq!(
        decode(&m),
        Body::ReadRequest {
            length: 65536,
            offset: 4096,
            file_id: FileId {
                persistent: 7,
                volatile: 9
            }
        }
    );
    let m = pdu(H::resp(cmd::READ, 5), &read_response(&[1; 100]));
    assert_eq!(
        decode(&m),
        Body::ReadResponse {
            data_length: 100,
            request: None
        }
    );
    let m = pdu(
        H::req(cmd::WRITE, 6),
        &write_request(8192, (7, 9), &[2; 10]),
    );
    assert_eq!(
        decode(&m),
        Body::WriteRequest {
            length: 10,
            offset: 8192,
            file_id: FileId {
                persistent: 7,
                volatile: 9
            },
            data_offset: 112
        }
    );
    let mut close = vec![24, 0, 0, 0, 0, 0, 0, 0];
    close.extend_from_slice(&7u64.to_le_bytes());
    close.extend_from_slice(&9u64.to_le_bytes());
    assert!(matches!(
        decode(&pdu(H::req(cmd::CLOSE, 7), &close)),
        Body::Close { .. }
    ));
    let mut ob = vec![24, 0, 1, 0, 0, 0, 0, 0];
    ob.extend_from_slice(&[0; 16]);
    assert_eq!(
        decode(&pdu(H::resp(cmd::OPLOCK_BREAK, u64::MAX), &ob)),
        Body::OplockBreak {
            oplock_level: 1,
            file_id: FileId::default()
        }
    );
    let mut lb = vec![44, 0, 1, 0, 1, 0, 0, 0];
    lb.extend_from_slice(&[0x33; 16]);
    lb.extend_from_slice(&7u32.to_le_bytes());
    lb.extend_from_slice(&1u32.to_le_bytes());
    lb.extend_from_slice(&[0; 12]);
    assert_eq!(
        decode(&pdu(H::resp(cmd::OPLOCK_BREAK, u64::MAX), &lb)),
        Body::LeaseBreak {
            lease_key: [0x33; 16],
            lease_state: 7,
            new_lease_state: 1
        }
    );
}

#[test]
fn ioctl_interface_list() {
    let v6: IpAddr = "fe80::582f:92c0:c9c1:9ba1".parse().unwrap();
    let v4: IpAddr = "172.17.0.189".parse().unwrap();
    let list = interface_list(&[(8, 1, 1_000_000_000, v6), (9, 3, 25_000_000_000, v4)]);
    let m = pdu(
        H::resp(cmd::IOCTL, 8),
        &ioctl_response(fsctl::QUERY_NETWORK_INTERFACE_INFO, &list),
    );
    let Body::IoctlResponse {
        ctl_code,
        interfaces,
        output_count,
        ..
    } = decode(&m)
    else {
        panic!()
    };
    assert_eq!(
        fsctl_name(ctl_code),
        Some("FSCTL_QUERY_NETWORK_INTERFACE_INFO")
    );
    assert_eq!(output_count, 304);
    assert_eq!(
        interfaces,
        vec![
            NetworkInterfaceInfo {
                if_index: 8,
                capability: 1,
                link_speed_bps: 1_000_000_000,
                addr: SocketAddr::new(v6, 0)
            },
            NetworkInterfaceInfo {
                if_index: 9,
                capability: 3,
                link_speed_bps: 25_000_000_000,
                addr: SocketAddr::new(v4, 0)
            },
        ]
    );
    assert!(interfaces[1].rdma() && interfaces[1].rss());
    // A self-referencing or truncated chain stays bounded.
    let mut looped = list.clone();
    looped[152..156].copy_from_slice(&0u32.to_le_bytes());
    looped[0..4].copy_from_slice(&152u32.to_le_bytes());
    assert_eq!(network_interfaces(&looped).len(), 2);
    assert_eq!(network_interfaces(&list[..200]).len(), 2); // the IPv4 sockaddr is complete
    assert_eq!(network_interfaces(&list[..172]).len(), 1);
    assert!(network_interfaces(&[]).is_empty());
    let m = pdu(
        H::req(cmd::IOCTL, 9),
        &ioctl_request(fsctl::VALIDATE_NEGOTIATE_INFO),
    );
    assert!(matches!(
        decode(&m),
        Body::IoctlRequest {
            ctl_code: fsctl::VALIDATE_NEGOTIATE_INFO,
            ..
        }
    ));
    assert_eq!(
        fsctl_name(fsctl::PIPE_TRANSCEIVE),
        Some("FSCTL_PIPE_TRANSCEIVE")
    );
    assert_eq!(fsctl_name(0x1234), None);
}

#[test]
fn error_response_with_share_redirect() {
    let a: IpAddr = Ipv4Addr::new(10, 0, 0, 7).into();
    let b: IpAddr = "fd00::7".parse().unwrap();
    let mut h = H::resp(cmd::TREE_CONNECT, 3);
    h.status = status::BAD_NETWORK_NAME;
    let m = pdu(h, &share_redirect_error(&[a, b], r"\\node2\vms"));
    assert_eq!(
        decode(&m),
        Body::Error {
            error_context_count: 1,
            byte_count: 8 + 24 + 48 + 22,
            share_redirect: Some(ShareRedirect {
                addresses: vec![a, b],
                resource_name: r"\\node2\vms".into()
            })
        }
    );
    // Zero-byte error body (zeek smb2-zero-byte-error-ioctl): still an error.
    let mut h = H::resp(cmd::IOCTL, 3);
    h.status = 0xC000_0010;
    assert!(matches!(decode(&header(h)), Body::Error { .. }));
    // STATUS_PENDING interim (async) responses are errors too.
    let mut h = H::resp(cmd::READ, 3);
    h.status = status::PENDING;
    h.async_id = Some(0x55);
    let m = pdu(h, &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(decode(&m), Body::Error { .. }));
}

/// A stream exercising most paths: negotiate, session setup, tree, create,
/// write, read (with payload), compound, async interim, transform, SMB1.
fn sample_stream() -> Vec<(Direction, Vec<u8>)> {
    let big = vec![0xEE; 70_000];
    let mut async_h = H::resp(cmd::READ, 11);
    async_h.status = status::PENDING;
    async_h.async_id = Some(77);
    let mut smb1 = vec![0xFF, b'S', b'M', b'B', 0x72];
    smb1.extend_from_slice(&[0; 27]);
    smb1.push(0);
    let dl = b"\x02NT LM 0.12\0\x02SMB 2.002\0";
    smb1.extend_from_slice(&(dl.len() as u16).to_le_bytes());
    smb1.extend_from_slice(dl);
    vec![
        (C2S, frame(&smb1)),
        (
            C2S,
            frame(&pdu(
                H::req(cmd::NEGOTIATE, 0),
                &negotiate_request(&[0x0300, 0x0311], 0x7F, &std_contexts(&[1])),
            )),
        ),
        (
            S2C,
            frame(&pdu(
                H::resp(cmd::NEGOTIATE, 0),
                &negotiate_response(0x0311, 0x2F, &std_contexts(&[1])),
            )),
        ),
        (
            C2S,
            frame(&pdu(
                H::req(cmd::TREE_CONNECT, 3),
                &tree_connect_request(0, r"\\sofs\vms"),
            )),
        ),
        (
            S2C,
            frame(&pdu(
                H::resp(cmd::TREE_CONNECT, 3),
                &tree_connect_response(
                    1,
                    0,
                    share_caps::SCALEOUT | share_caps::CONTINUOUS_AVAILABILITY,
                ),
            )),
        ),
        (
            C2S,
            frame(&pdu(H::req(cmd::CREATE, 4), &create_request("vm1.vhdx"))),
        ),
        (
            S2C,
            frame(&pdu(H::resp(cmd::CREATE, 4), &create_response(7, 9, 0))),
        ),
        (
            C2S,
            frame(&pdu(
                H::req(cmd::WRITE, 10),
                &write_request(0, (7, 9), &big),
            )),
        ),
        (
            C2S,
            frame(&pdu(
                H::req(cmd::READ, 11),
                &read_request(70_000, 0, (7, 9)),
            )),
        ),
        (S2C, frame(&pdu(async_h, &[9, 0, 0, 0, 0, 0, 0, 0, 0]))),
        (
            S2C,
            frame(&pdu(H::resp(cmd::READ, 11), &read_response(&big))),
        ),
        (
            C2S,
            frame(&compound(&[
                pdu(H::req(cmd::CREATE, 12), &create_request("a.txt")),
                pdu(H::req(cmd::QUERY_INFO, 13), &[41, 0, 0, 0]),
                pdu(H::req(cmd::CLOSE, 14), &[24, 0, 0, 0, 0, 0, 0, 0]),
            ])),
        ),
        (C2S, frame(&transform(0x1000_0000_0000_0041, 300))),
        (C2S, vec![0x85, 0, 0, 0]),
    ]
}

#[test]
fn stream_decodes_and_matches() {
    let (ev, st) = feed(&sample_stream());
    let p = pdus(&ev);
    let names: Vec<&str> = p.iter().map(|p| p.command_name()).collect();
    assert_eq!(
        names,
        vec![
            "NEGOTIATE",
            "NEGOTIATE",
            "TREE_CONNECT",
            "TREE_CONNECT",
            "CREATE",
            "CREATE",
            "WRITE",
            "READ",
            "READ",
            "READ",
            "CREATE",
            "QUERY_INFO",
            "CLOSE"
        ]
    );
    assert!(matches!(
        ev[0].kind,
        SmbEventKind::Smb1Negotiate {
            dialects_offered_smb2: true,
            dialect_count: 2
        }
    ));
    assert_eq!(st.dialect(), Some(0x0311));
    assert_eq!(st.client_dir(), Some(C2S));
    assert!(st.is_smb());
    assert!(st.session_scaleout_or_cluster(0x1000_0000_0000_0041));
    assert!(!st.session_scaleout_or_cluster(1));
    match &p[3].body {
        Body::TreeConnectResponse { path, .. } => assert_eq!(path.as_deref(), Some(r"\\sofs\vms")),
        b => panic!("{b:?}"),
    }
    match &p[5].body {
        Body::CreateResponse { name, .. } => assert_eq!(name.as_deref(), Some("vm1.vhdx")),
        b => panic!("{b:?}"),
    }
    assert!(p[8].header.is_async() && matches!(p[8].body, Body::Error { .. }));
    match &p[9].body {
        Body::ReadResponse {
            data_length,
            request,
        } => {
            assert_eq!(*data_length, 70_000);
            assert_eq!(request.map(|r| r.length), Some(70_000));
        }
        b => panic!("{b:?}"),
    }
    assert_eq!(
        p[10..].iter().map(|p| p.compound_index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(p[11].header.is_related());
    assert!(ev.iter().any(|e| matches!(
        e.kind,
        SmbEventKind::Encrypted {
            session_id: 0x1000_0000_0000_0041,
            original_size: 300,
            wire_bytes: 352,
            ..
        }
    )));
    let s = st.stats();
    assert_eq!(s.control_frames, 1);
    assert_eq!(s.resyncs, 0);
    // Payloads were skipped, not buffered.
    assert!(s.payload_bytes_skipped >= 140_000);
    assert!(st.max_buffer_capacity() <= MAX_BUFFER);
    assert!(st.max_buffer_capacity() < 4096);
}

#[test]
fn byte_by_byte_equals_one_chunk() {
    let stream = sample_stream();
    let (whole, _) = feed(&stream);
    let mut st = SmbConnState::new();
    let mut ev = Vec::new();
    for (i, (d, c)) in stream.iter().enumerate() {
        for b in c.chunks(1) {
            st.data(*d, i as i64, b, &mut ev);
        }
    }
    assert_eq!(ev, whole);
}

#[test]
fn gap_inside_payload_keeps_sync() {
    let big = vec![0xEE; 10_000];
    let w = frame(&pdu(
        H::req(cmd::WRITE, 10),
        &write_request(0, (7, 9), &big),
    ));
    let next = frame(&pdu(H::req(cmd::READ, 11), &read_request(10, 0, (7, 9))));
    let mut st = SmbConnState::new();
    let mut ev = Vec::new();
    st.data(C2S, 0, &w[..200], &mut ev);
    st.gap(C2S, 5000, 0, &mut ev);
    st.data(C2S, 1, &w[5200..], &mut ev);
    st.data(C2S, 2, &next, &mut ev);
    assert_eq!(pdus(&ev).len(), 2);
    assert_eq!(st.stats().gaps_absorbed, 1);
    assert_eq!(st.stats().resyncs, 0);
}

#[test]
fn gap_across_frames_resynchronises() {
    let big = vec![0x11; 3000];
    let w = frame(&pdu(
        H::req(cmd::WRITE, 10),
        &write_request(0, (7, 9), &big),
    ));
    let r = frame(&pdu(H::req(cmd::READ, 11), &read_request(10, 0, (7, 9))));
    let r2 = frame(&pdu(H::req(cmd::READ, 12), &read_request(10, 0, (7, 9))));
    let mut st = SmbConnState::new();
    let mut ev = Vec::new();
    st.data(C2S, 0, &w[..100], &mut ev);
    // The gap swallows the rest of the WRITE and the first 10 bytes of the READ.
    st.gap(C2S, (w.len() - 100 + 10) as u64, 0, &mut ev);
    let mut rest = r[10..].to_vec();
    rest.extend_from_slice(&r2);
    st.data(C2S, 1, &rest, &mut ev);
    let p = pdus(&ev);
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].header.message_id, 12);
    assert_eq!(st.stats().resyncs, 1);
    assert!(ev.iter().any(|e| e.kind
        == SmbEventKind::Resync {
            skipped: (r.len() - 10) as u64
        }));
}

#[test]
fn midstream_start_resynchronises() {
    let mut s = vec![0x42; 37];
    s.extend_from_slice(&[0, 0, 0]); // a lone zero run that is no header
    let f = frame(&pdu(H::req(cmd::ECHO, 1), &[4, 0, 0, 0]));
    s.extend_from_slice(&f);
    for split in [1usize, 3, 7, 39, 41, 45] {
        let mut st = SmbConnState::new();
        let mut ev = Vec::new();
        st.data(C2S, 0, &s[..split], &mut ev);
        st.data(C2S, 0, &s[split..], &mut ev);
        assert_eq!(pdus(&ev).len(), 1, "split {split}");
        assert_eq!(st.stats().skipped_bytes, 40, "split {split}");
    }
}

#[test]
fn compressed_with_clear_header() {
    let inner = pdu(H::resp(cmd::READ, 3), &read_response(&[]));
    let m = compressed_unchained(&inner, &[1, 2, 3, 4], 4176);
    let (ev, st) = feed(&[(S2C, frame(&m))]);
    let p = pdus(&ev);
    assert_eq!(p.len(), 1);
    assert!(p[0].compressed);
    assert!(matches!(
        ev[1].kind,
        SmbEventKind::Compressed {
            algorithm: 1,
            chained: false,
            original_size: 4176,
            header_visible: true,
            ..
        }
    ));
    assert_eq!(st.stats().compressed_frames, 1);
}

#[test]
fn model_multichannel_and_report() {
    let sid = 0x1000_0000_0000_0041u64;
    let ep = |s: &str| {
        let a: SocketAddr = s.parse().unwrap();
        Endpoint {
            ip: a.ip(),
            port: a.port(),
        }
    };
    let ch1 = ChannelInfo {
        client: ep("10.0.0.1:50000"),
        server: ep("10.0.0.2:445"),
        capture: "a.pcap".into(),
        interface: "eth0".into(),
    };
    let ch2 = ChannelInfo {
        client: ep("10.1.0.1:50001"),
        server: ep("10.1.0.2:445"),
        capture: "a.pcap".into(),
        interface: "eth1".into(),
    };
    let mut model = SmbModel::new();
    let (ev1, _) = feed(&sample_stream());
    for e in &ev1 {
        model.ingest(&ch1, e);
    }
    let v4: IpAddr = "10.1.0.2".parse().unwrap();
    let mut bad = H::resp(cmd::TREE_CONNECT, 22);
    bad.status = status::BAD_NETWORK_NAME;
    let second = vec![
        (
            S2C,
            frame(&pdu(
                H::resp(cmd::NEGOTIATE, 0),
                &negotiate_response(0x0311, 0x2F, &std_contexts(&[1])),
            )),
        ),
        (
            C2S,
            frame(&pdu(
                H::req(cmd::SESSION_SETUP, 1),
                &session_setup_request(SESSION_FLAG_BINDING, 0),
            )),
        ),
        (
            S2C,
            frame(&pdu(
                H::resp(cmd::SESSION_SETUP, 1),
                &session_setup_response(SESSION_FLAG_IS_GUEST | SESSION_FLAG_ENCRYPT_DATA),
            )),
        ),
        (
            S2C,
            frame(&pdu(
                H::resp(cmd::IOCTL, 2),
                &ioctl_response(
                    fsctl::QUERY_NETWORK_INTERFACE_INFO,
                    &interface_list(&[(3, 2, 100_000_000_000, v4)]),
                ),
            )),
        ),
        (
            C2S,
            frame(&pdu(
                H::req(cmd::WRITE, 20),
                &write_request(0, (7, 9), &[0; 500]),
            )),
        ),
        (
            S2C,
            frame(&pdu(bad, &share_redirect_error(&[v4], r"\\sofs\vms"))),
        ),
        (C2S, frame(&transform(sid, 1000))),
    ];
    let (ev2, _) = feed(&second);
    for e in &ev2 {
        model.ingest(&ch2, e);
    }
    assert!(model.session_scaleout_or_cluster(sid));
    let rep = model.report();
    // One model per channel (as per capture file), merged either way round:
    // the same report, the WRITE on channel 2 included in the file opened on
    // channel 1.
    let json = |m: &SmbModel| serde_json::to_string(&m.report()).unwrap();
    let (mut a, mut b) = (SmbModel::new(), SmbModel::new());
    for e in &ev1 {
        a.ingest(&ch1, e);
    }
    for e in &ev2 {
        b.ingest(&ch2, e);
    }
    let mut ab = a.clone();
    ab.merge(b.clone());
    assert_eq!(json(&ab), json(&model));
    let mut ba = b;
    ba.merge(a);
    let (x, y) = (ab.report(), ba.report());
    assert_eq!(x.sessions[0].files, y.sessions[0].files);
    assert_eq!(x.sessions[0].write_bytes, y.sessions[0].write_bytes);
    assert_eq!(rep.sessions.len(), 1);
    let s = &rep.sessions[0];
    assert_eq!(s.session_id, "0x1000000000000041");
    assert_eq!(s.dialect.as_deref(), Some("3.1.1"));
    assert_eq!(s.channels.len(), 2);
    assert_eq!(s.binding_requests, 1);
    assert_eq!(s.session_flags, vec!["IS_GUEST", "ENCRYPT_DATA"]);
    assert!(s.encrypted);
    assert_eq!(s.encrypted_bytes, 300 + 52 + 1000 + 52);
    assert_eq!(s.write_bytes, 70_500);
    assert_eq!(s.read_bytes, 70_000);
    assert_eq!(s.trees.len(), 1);
    assert_eq!(s.trees[0].share, r"\\sofs\vms");
    assert_eq!(s.trees[0].capabilities, vec!["CA", "SCALEOUT"]);
    assert!(s.scaleout_or_cluster);
    let f = s.files.iter().find(|f| f.name == "vm1.vhdx").unwrap();
    assert!(f.vm_storage);
    assert_eq!((f.read_bytes, f.write_bytes), (70_000, 70_500));
    assert_eq!(rep.vm_files.len(), 1);
    assert_eq!(rep.server_interfaces.len(), 1);
    assert_eq!(rep.server_interfaces[0].server, "10.1.0.2:445");
    assert!(rep.server_interfaces[0].interfaces[0].rdma);
    assert_eq!(rep.redirects.len(), 1);
    assert_eq!(rep.redirects[0].addresses, vec!["10.1.0.2".to_string()]);
    assert_eq!(rep.commands["READ"], 3);
    assert_eq!(rep.smb1_negotiates_offering_smb2, 1);
    let json = serde_json::to_value(&rep).unwrap();
    for k in [
        "commands",
        "sessions",
        "server_interfaces",
        "witness",
        "redirects",
    ] {
        assert!(json.get(k).is_some(), "{k}");
    }
    assert_eq!(json["sessions"][0]["channels"][1]["interface"], "eth1");
    assert_eq!(json["sessions"][0]["trees"][0]["share"], r"\\sofs\vms");
}

#[test]
fn time_series_is_bounded() {
    let mut t = super::model::TimeSeries::default();
    for s in 0..10_000i64 {
        t.add(s * 1_000_000_000, 10);
    }
    assert!(t.points().count() <= super::model::MAX_BUCKETS);
    assert_eq!(t.points().map(|p| p.1).sum::<u64>(), 100_000);
    assert_eq!(t.bucket_ns(), 4_000_000_000);
}

fn flat(stream: &[(Direction, Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let mut c = Vec::new();
    let mut s = Vec::new();
    for (d, b) in stream {
        if *d == C2S {
            c.extend_from_slice(b);
        } else {
            s.extend_from_slice(b);
        }
    }
    (c, s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..300), 0u64..5000), 0..20)
    ) {
        let mut st = SmbConnState::new();
        let mut ev = Vec::new();
        for (i, (dir, bytes, gap)) in chunks.iter().enumerate() {
            let d = if *dir { C2S } else { S2C };
            st.data(d, i as i64, bytes, &mut ev);
            if gap % 3 == 0 {
                st.gap(d, *gap, i as i64, &mut ev);
            }
        }
        prop_assert!(st.max_buffer_capacity() <= MAX_BUFFER);
    }

    #[test]
    fn mutated_stream_never_panics(muts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let (mut c, mut s) = flat(&sample_stream());
        for (i, (idx, b)) in muts.iter().enumerate() {
            let v = if i % 2 == 0 { &mut c } else { &mut s };
            let k = idx.index(v.len());
            v[k] = *b;
        }
        let mut st = SmbConnState::new();
        let mut ev = Vec::new();
        st.data(C2S, 0, &c, &mut ev);
        st.data(S2C, 0, &s, &mut ev);
        let mut model = SmbModel::new();
        let ch = ChannelInfo {
            client: Endpoint { ip: Ipv4Addr::LOCALHOST.into(), port: 1 },
            server: Endpoint { ip: Ipv4Addr::LOCALHOST.into(), port: 445 },
            capture: "x".into(),
            interface: "y".into(),
        };
        for e in &ev {
            model.ingest(&ch, e);
        }
        let _ = model.report();
    }

    #[test]
    fn split_point_invariance(cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let (c, s) = flat(&sample_stream());
        let mut one = Vec::new();
        let mut st = SmbConnState::new();
        st.data(C2S, 0, &c, &mut one);
        st.data(S2C, 0, &s, &mut one);
        let mut pos: Vec<usize> = cuts.iter().map(|i| i.index(c.len())).collect();
        pos.sort();
        pos.dedup();
        let mut many = Vec::new();
        let mut st2 = SmbConnState::new();
        let mut last = 0;
        for p in pos {
            st2.data(C2S, 0, &c[last..p], &mut many);
            last = p;
        }
        st2.data(C2S, 0, &c[last..], &mut many);
        for ch in s.chunks(97) {
            st2.data(S2C, 0, ch, &mut many);
        }
        prop_assert_eq!(one, many);
    }
}

/// Framing-path throughput on MSS-sized (1448-byte) segments: 1 MiB READ
/// responses, and 4 KiB WRITE requests (per-PDU cost). Run with `cargo test
/// -p hvsleuth-parsers throughput -- --ignored --nocapture` (the crate builds
/// with opt-level 2 even in the dev profile).
#[test]
#[ignore]
fn throughput() {
    struct Count<'a>(&'a mut usize);
    impl SmbSink for Count<'_> {
        fn event(&mut self, _: &SmbEvent) {
            *self.0 += 1;
        }
    }
    let big = vec![0x5Au8; 1 << 20];
    let small = vec![0x5Au8; 4096];
    let mut reads = Vec::new();
    for mid in 0..64 {
        reads.extend_from_slice(&frame(&pdu(H::resp(cmd::READ, mid), &read_response(&big))));
    }
    let mut writes = Vec::new();
    for mid in 0..16384 {
        writes.extend_from_slice(&frame(&pdu(
            H::req(cmd::WRITE, mid),
            &write_request(0, (1, 2), &small),
        )));
    }
    for (name, s, dir, per) in [
        ("READ 1 MiB", &reads, S2C, 64),
        ("WRITE 4 KiB", &writes, C2S, 16384),
    ] {
        let mut st = SmbConnState::new();
        let mut n = 0usize;
        let t = std::time::Instant::now();
        for _ in 0..4 {
            for c in s.chunks(1448) {
                st.data(dir, 0, c, &mut Count(&mut n));
            }
        }
        let secs = t.elapsed().as_secs_f64();
        println!("{name}: {:.2} GB/s", (4 * s.len()) as f64 / 1e9 / secs);
        // One Pdu and one Io event per READ response / WRITE request.
        assert_eq!(n, 2 * 4 * per);
    }
    // The same WRITE stream with every event going into the model.
    struct ToModel<'a>(&'a mut SmbModel, usize);
    impl SmbSink for ToModel<'_> {
        fn event(&mut self, e: &SmbEvent) {
            self.0.ingest_on(self.1, e);
        }
    }
    let mut model = SmbModel::new();
    let id = model.channel_id(&ChannelInfo {
        client: Endpoint {
            ip: Ipv4Addr::LOCALHOST.into(),
            port: 1,
        },
        server: Endpoint {
            ip: Ipv4Addr::LOCALHOST.into(),
            port: 445,
        },
        capture: "x".into(),
        interface: "y".into(),
    });
    let mut st = SmbConnState::new();
    let t = std::time::Instant::now();
    for c in writes.chunks(1448) {
        st.data(C2S, 1_000_000, c, &mut ToModel(&mut model, id));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "WRITE 4 KiB + model: {:.2} GB/s",
        writes.len() as f64 / 1e9 / secs
    );
    assert_eq!(model.report().sessions[0].write_bytes, 16384 * 4096);
}

/// Longer randomised soak (mutations, random chunking and gaps) beyond the
/// proptest budget: `cargo test -p hvsleuth-parsers soak -- --ignored`.
#[test]
#[ignore]
fn soak() {
    let (c, s) = flat(&sample_stream());
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let mut c = c.clone();
        let mut s = s.clone();
        for _ in 0..(rnd() % 8) {
            let v = if rnd() % 2 == 0 { &mut c } else { &mut s };
            let k = (rnd() as usize) % v.len();
            v[k] = rnd() as u8;
        }
        let mut st = SmbConnState::new();
        let mut ev = Vec::new();
        let (mut pc, mut ps) = (0usize, 0usize);
        while pc < c.len() || ps < s.len() {
            let (v, p, d) = if rnd() % 2 == 0 {
                (&c, &mut pc, C2S)
            } else {
                (&s, &mut ps, S2C)
            };
            let n = ((rnd() % 3000) as usize).min(v.len() - *p);
            st.data(d, 0, &v[*p..*p + n], &mut ev);
            *p += n;
            if rnd() % 10 == 0 {
                let g = ((rnd() % 2000) as usize).min(v.len() - *p);
                st.gap(d, g as u64, 0, &mut ev);
                *p += g;
            }
        }
        assert!(st.max_buffer_capacity() <= MAX_BUFFER);
        let mut model = SmbModel::new();
        let ch = ChannelInfo {
            client: Endpoint {
                ip: Ipv4Addr::LOCALHOST.into(),
                port: 1,
            },
            server: Endpoint {
                ip: Ipv4Addr::LOCALHOST.into(),
                port: 445,
            },
            capture: "x".into(),
            interface: "y".into(),
        };
        for e in &ev {
            model.ingest(&ch, e);
        }
        let _ = model.report();
    }
}

fn ios(ev: &[SmbEvent]) -> Vec<Io> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            SmbEventKind::Io(x) => Some(*x),
            _ => None,
        })
        .collect()
}

#[test]
fn snaplen_cut_header_is_decoded_as_far_as_present_and_sync_kept() {
    // A WRITE of 10,000 bytes whose segment the snaplen cut 40 bytes into the
    // SMB2 header: Command, Flags and MessageId are there, SessionId is not;
    // the cut tail is carried, so the WRITE counts its framed payload and the
    // next message (a CLOSE) is decoded in sync.
    let w = frame(&pdu(
        H::req(cmd::WRITE, 77),
        &write_request(0, (1, 2), &[7; 10_000]),
    ));
    let close = frame(&pdu(H::req(cmd::CLOSE, 78), &[24, 0, 0, 0, 0, 0, 0, 0]));
    let mut st = SmbConnState::new();
    let mut ev = Vec::new();
    st.data(C2S, 1, &w[..44], &mut ev);
    st.cut(C2S, (w.len() - 44) as u64, 1, &mut ev);
    st.data(C2S, 2, &close, &mut ev);
    let p = pdus(&ev);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].header_len, 40);
    assert_eq!(p[0].header.command, cmd::WRITE);
    assert_eq!(p[0].header.message_id, 77);
    assert!(p[0].has_message_id() && !p[0].has_session_id());
    assert_eq!(p[1].header.command, cmd::CLOSE);
    assert_eq!(p[1].header_len, 64);
    let io = ios(&ev);
    assert_eq!(io.len(), 1);
    assert_eq!(io[0].kind, IoKind::Write);
    assert_eq!(io[0].message_id, Some(77));
    assert_eq!((io[0].bytes, io[0].complete), (10_000, true));
    assert_eq!(st.stats().partial_headers, 1);
    assert_eq!(st.stats().resyncs, 0);
    // 13 bytes of header: too little to tell the command; the length still
    // keeps sync.
    let mut st = SmbConnState::new();
    let mut ev = Vec::new();
    st.data(C2S, 1, &w[..17], &mut ev);
    st.cut(C2S, (w.len() - 17) as u64, 1, &mut ev);
    st.data(C2S, 2, &close, &mut ev);
    assert_eq!(pdus(&ev).len(), 1);
    assert_eq!(st.stats().resyncs, 0);
}

#[test]
fn a_loss_inside_a_payload_counts_only_what_was_carried() {
    let w = frame(&pdu(
        H::req(cmd::WRITE, 5),
        &write_request(0, (1, 2), &[7; 10_000]),
    ));
    let (ev, _) = {
        let mut st = SmbConnState::new();
        let mut ev = Vec::new();
        st.data(C2S, 1, &w[..1000], &mut ev);
        st.gap(C2S, 4000, 1, &mut ev);
        st.data(C2S, 2, &w[5000..], &mut ev);
        (ev, st)
    };
    let io = ios(&ev);
    assert_eq!(io.len(), 1);
    assert_eq!(
        (io[0].bytes, io[0].declared, io[0].complete),
        (6_000, 10_000, false)
    );
    // A message that lies about its Length (0xFFFFFFFF in 200 bytes): capped by the frame.
    let mut body = write_request(0, (1, 2), &[1; 84]);
    body[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let (ev, st) = feed(&[(C2S, frame(&pdu(H::req(cmd::WRITE, 6), &body)))]);
    let io = ios(&ev);
    assert_eq!((io[0].bytes, io[0].complete), (84, false));
    assert_eq!(st.stats().incomplete_io, 1);
}

#[test]
fn one_connection_in_two_captures_merges_per_message_id() {
    let ep = |s: &str| {
        let a: SocketAddr = s.parse().unwrap();
        Endpoint {
            ip: a.ip(),
            port: a.port(),
        }
    };
    let at = |capture: &str| ChannelInfo {
        client: ep("10.0.0.1:50000"),
        server: ep("10.0.0.2:445"),
        capture: capture.into(),
        interface: "eth0".into(),
    };
    let io = |mid: u64, bytes: u64, complete: bool| SmbEvent {
        dir: C2S,
        ts_ns: 0,
        kind: SmbEventKind::Io(Io {
            kind: IoKind::Write,
            session_id: if mid == 3 { 0 } else { 9 },
            message_id: Some(mid),
            file_id: None,
            bytes,
            declared: 1000,
            complete,
        }),
    };
    // Capture a: MessageId 1 whole, 2 cut short; capture b: 2 whole, 3 whole
    // (its SessionId not captured: the connection's only session).
    let (mut a, mut b) = (SmbModel::new(), SmbModel::new());
    a.ingest(&at("a.pcapng"), &io(1, 1000, true));
    a.ingest(&at("a.pcapng"), &io(2, 500, false));
    b.ingest(&at("b.pcapng"), &io(2, 1000, true));
    b.ingest(&at("b.pcapng"), &io(3, 1000, true));
    let enc = |sid: u64, n: u64| SmbEvent {
        dir: C2S,
        ts_ns: 0,
        kind: SmbEventKind::Io(Io {
            kind: IoKind::Encrypted,
            session_id: sid,
            message_id: None,
            file_id: None,
            bytes: n,
            declared: n,
            complete: true,
        }),
    };
    a.ingest(&at("a.pcapng"), &enc(9, 300));
    b.ingest(&at("b.pcapng"), &enc(9, 200));
    // Through JSON (a scan shard's SMB part) and back, as `analyze --from` reads it.
    let through_json = |m: &SmbModel| {
        let mut r: SmbModel = serde_json::from_slice(&serde_json::to_vec(m).unwrap()).unwrap();
        r.rebuild_indexes();
        r
    };
    let mut ab_json = through_json(&a);
    ab_json.merge(through_json(&b));
    let mut ab = a.clone();
    ab.merge(b.clone());
    assert_eq!(
        serde_json::to_string(&ab_json.report()).unwrap(),
        serde_json::to_string(&ab.report()).unwrap()
    );
    // A model read back takes more events like the one it was written from.
    let mut again = through_json(&a);
    let mut orig = a.clone();
    again.ingest(&at("a.pcapng"), &io(4, 10, true));
    orig.ingest(&at("a.pcapng"), &io(4, 10, true));
    assert_eq!(
        serde_json::to_string(&again.report()).unwrap(),
        serde_json::to_string(&orig.report()).unwrap()
    );
    let mut ba = b;
    ba.merge(a);
    for m in [ab, ba] {
        let r = m.report();
        let s = &r.sessions[0];
        assert_eq!(s.write_bytes, 3000);
        assert_eq!(s.encrypted_bytes, 300, "the larger capture's figure");
        assert_eq!(s.incomplete_messages, 0);
        assert_eq!(s.channels.len(), 1);
        assert_eq!(s.channels[0].seen_in.len(), 2);
        assert_eq!(r.channels.len(), 2, "per-capture figures stay");
    }
}
