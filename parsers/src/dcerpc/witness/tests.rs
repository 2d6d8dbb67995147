use super::*;
use crate::dcerpc::testutil::*;

/// WitnessrRegister request, written out byte by byte (little-endian NDR).
#[rustfmt::skip]
const REGISTER_V1: &[u8] = &[
    0x01, 0x00, 0x01, 0x00,             // Version 0x00010001 (WITNESS_V1)
    0x00, 0x00, 0x02, 0x00,             // NetName: unique referent 0x00020000
    0x05, 0x00, 0x00, 0x00,             //   max_count 5
    0x00, 0x00, 0x00, 0x00,             //   offset 0
    0x05, 0x00, 0x00, 0x00,             //   actual_count 5
    b'S', 0, b'O', 0, b'F', 0, b'S', 0, 0, 0, // "SOFS\0" UTF-16LE (10 bytes)
    0x00, 0x00,                         //   pad to 4
    0x04, 0x00, 0x02, 0x00,             // IpAddress: referent 0x00020004
    0x09, 0x00, 0x00, 0x00,             //   max_count 9
    0x00, 0x00, 0x00, 0x00,             //   offset 0
    0x09, 0x00, 0x00, 0x00,             //   actual_count 9
    b'1', 0, b'0', 0, b'.', 0, b'0', 0, b'.', 0, b'0', 0, b'.', 0, b'5', 0, 0, 0, // "10.0.0.5\0"
    0x00, 0x00,                         //   pad to 4
    0x08, 0x00, 0x02, 0x00,             // ClientComputerName: referent 0x00020008
    0x04, 0x00, 0x00, 0x00,             //   max_count 4
    0x00, 0x00, 0x00, 0x00,             //   offset 0
    0x04, 0x00, 0x00, 0x00,             //   actual_count 4
    b'H', 0, b'V', 0, b'1', 0, 0, 0,    // "HV1\0"
];

#[test]
fn register_v1_hand_written() {
    assert_eq!(
        REGISTER_V1,
        register_stub(true, VERSION_1, "SOFS", "10.0.0.5", "HV1").as_slice()
    );
    let k = decode_request(OP_REGISTER, REGISTER_V1, true)
        .unwrap()
        .unwrap();
    assert_eq!(
        k,
        WitnessKind::Register {
            version: VERSION_1,
            net_name: Some("SOFS".into()),
            share_name: None,
            ip: Some("10.0.0.5".into()),
            client_name: Some("HV1".into()),
            flags: None,
            keep_alive_timeout: None,
        }
    );
    // Every truncation fails cleanly.
    for n in 0..REGISTER_V1.len() {
        assert!(
            decode_request(OP_REGISTER, &REGISTER_V1[..n], true).is_err(),
            "{n}"
        );
    }
}

/// AsyncNotify response with one RESOURCE_CHANGE, byte by byte.
#[rustfmt::skip]
const NOTIFY_RESOURCE: &[u8] = &[
    0x00, 0x00, 0x02, 0x00,             // *pResp: unique referent 0x00020000
    0x01, 0x00, 0x00, 0x00,             // MessageType 1 RESOURCE_CHANGE_NOTIFICATION
    0x12, 0x00, 0x00, 0x00,             // Length 18
    0x01, 0x00, 0x00, 0x00,             // NumberOfMessages 1
    0x04, 0x00, 0x02, 0x00,             // MessageBuffer: referent 0x00020004
    0x12, 0x00, 0x00, 0x00,             //   conformance (size_is Length) 18
    0x12, 0x00, 0x00, 0x00,             //   RESOURCE_CHANGE.Length 18
    0xff, 0x00, 0x00, 0x00,             //   ChangeType 0xFF RESOURCE_STATE_UNAVAILABLE
    b'S', 0, b'O', 0, b'F', 0, b'S', 0, 0, 0, // ResourceName "SOFS\0"
    0x00, 0x00,                         // pad to 4
    0x00, 0x00, 0x00, 0x00,             // return value ERROR_SUCCESS
];

#[test]
fn notify_resource_change_hand_written() {
    assert_eq!(
        NOTIFY_RESOURCE,
        notify_stub(true, 1, 1, &resource_change("SOFS", 0xff), 0).as_slice()
    );
    let k = decode_response(OP_ASYNC_NOTIFY, NOTIFY_RESOURCE, true)
        .unwrap()
        .unwrap();
    assert_eq!(
        k,
        WitnessKind::Notify {
            message_type: 1,
            messages: vec![WitnessMessage::ResourceChange {
                name: "SOFS".into(),
                change: ResourceState::Unavailable,
            }],
            status: 0,
        }
    );
    for n in 0..NOTIFY_RESOURCE.len() {
        assert!(
            decode_response(OP_ASYNC_NOTIFY, &NOTIFY_RESOURCE[..n], true).is_err(),
            "{n}"
        );
    }
}

#[test]
fn client_move_ipv4_and_ipv6() {
    let v6: [u8; 16] = "fd00::5".parse::<Ipv6Addr>().unwrap().octets();
    let mut buf = ipaddr_list(&[
        (
            ipaddr_flags::V4 | ipaddr_flags::ONLINE,
            [10, 0, 0, 6],
            [0; 16],
        ),
        (ipaddr_flags::V6 | ipaddr_flags::OFFLINE, [0; 4], v6),
    ]);
    buf.extend(ipaddr_list(&[(
        ipaddr_flags::V4,
        [192, 168, 1, 7],
        [0; 16],
    )]));
    let stub = notify_stub(true, 2, 2, &buf, 0);
    let Some(WitnessKind::Notify {
        message_type,
        messages,
        status,
    }) = decode_response(OP_ASYNC_NOTIFY, &stub, true).unwrap()
    else {
        panic!("not a notify");
    };
    assert_eq!((message_type, status), (2, 0));
    assert_eq!(messages.len(), 2);
    let WitnessMessage::ClientMove { addresses } = &messages[0] else {
        panic!()
    };
    assert_eq!(addresses[0].ipv4, Some(Ipv4Addr::new(10, 0, 0, 6)));
    assert!(addresses[0].online());
    assert_eq!(addresses[0].ipv6, None);
    assert_eq!(addresses[1].ipv6, Some("fd00::5".parse().unwrap()));
    assert!(addresses[1].offline());
    let WitnessMessage::ClientMove { addresses } = &messages[1] else {
        panic!()
    };
    assert_eq!(addresses[0].ipv4, Some(Ipv4Addr::new(192, 168, 1, 7)));
}

#[test]
fn big_endian_stub_little_endian_buffer() {
    // The NDR scalars follow the PDU (big-endian here); the message buffer
    // stays little-endian (MS-SWN 2.2.2).
    let buf = ipaddr_list(&[(ipaddr_flags::V4, [10, 0, 0, 9], [0; 16])]);
    let stub = notify_stub(false, 4, 1, &buf, 0);
    assert_eq!(&stub[4..8], &[0, 0, 0, 4]);
    let Some(WitnessKind::Notify { messages, .. }) =
        decode_response(OP_ASYNC_NOTIFY, &stub, false).unwrap()
    else {
        panic!()
    };
    assert!(
        matches!(&messages[0], WitnessMessage::IpChange { addresses } if addresses[0].ipv4 == Some(Ipv4Addr::new(10, 0, 0, 9)))
    );
    let reg = register_ex_stub(false, "SOFS", Some("VMS"), "10.0.0.5", "HV2", 1, 120);
    let Some(WitnessKind::Register {
        share_name,
        keep_alive_timeout,
        ..
    }) = decode_request(OP_REGISTER_EX, &reg, false).unwrap()
    else {
        panic!()
    };
    assert_eq!(share_name.as_deref(), Some("VMS"));
    assert_eq!(keep_alive_timeout, Some(120));
}

#[test]
fn hostile_counts_are_bounded() {
    // NumberOfMessages huge, buffer tiny: error, no big allocation.
    let stub = notify_stub(true, 2, u32::MAX, &ipaddr_list(&[]), 0);
    assert!(decode_response(OP_ASYNC_NOTIFY, &stub, true).is_err());
    // IPAddrInstances beyond the buffer.
    let mut l = ipaddr_list(&[]);
    l[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let stub = notify_stub(true, 3, 1, &l, 0);
    assert!(decode_response(OP_ASYNC_NOTIFY, &stub, true).is_err());
    // NULL response pointer: a notify without messages.
    let stub = [0u8, 0, 0, 0, 0x90, 0x04, 0, 0];
    assert_eq!(
        decode_response(OP_ASYNC_NOTIFY, &stub, true).unwrap(),
        Some(WitnessKind::Notify {
            message_type: 0,
            messages: vec![],
            status: 0x490
        })
    );
}
