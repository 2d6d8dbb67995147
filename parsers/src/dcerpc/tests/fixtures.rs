//! The fixture conversations shared by the stream, tshark and property tests.
//! Every PDU comes from the spec-written builders in `testutil`.

use crate::dcerpc::ndr::Repr;
use crate::dcerpc::testutil::*;
use crate::dcerpc::uuid::{Uuid, known};
use crate::dcerpc::witness::{VERSION_1, ipaddr_flags};

/// Server port of the witness fixtures (a dynamic port, as handed out by EPM).
pub const WITNESS_PORT: u16 = 49700;
pub const H1: Uuid = Uuid::from_u128(0x11111111_2222_3333_4444_555555555555);
pub const H2: Uuid = Uuid::from_u128(0xaaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee);
pub const V6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05];
/// RPC_X_BAD_STUB_DATA
pub const FAULT_STATUS: u32 = 0x0000_06f7;

fn seg(ts_ns: i64, to_server: bool, payload: Vec<u8>) -> Seg {
    Seg {
        ts_ns,
        to_server,
        payload,
    }
}

/// Session A, little-endian: bind witness 1.1, RegisterEx, two AsyncNotify
/// answers (CLIENT_MOVE with 2 messages incl. IPv6, RESOURCE_CHANGE with 2),
/// a Register split in two fragments, UnRegister, a SHARE_MOVE, a fault,
/// GetInterfaceList.
pub fn session_a() -> Vec<Seg> {
    let le = true;
    let t = 1_700_000_000_000_000_000i64;
    let ms = 1_000_000i64;
    let reg1 = register_stub(le, VERSION_1, "SOFS", "10.0.0.5", "HV1");
    let (r1a, r1b) = reg1.split_at(20);
    let move_buf = {
        let mut b = ipaddr_list(&[
            (
                ipaddr_flags::V4 | ipaddr_flags::ONLINE,
                [10, 0, 0, 6],
                [0; 16],
            ),
            (ipaddr_flags::V6 | ipaddr_flags::ONLINE, [0; 4], V6),
        ]);
        b.extend(ipaddr_list(&[(ipaddr_flags::V4, [10, 0, 1, 6], [0; 16])]));
        b
    };
    let mut rc = resource_change("SOFS", 0xff);
    rc.extend(resource_change("10.0.0.5", 1));
    let share_move = ipaddr_list(&[(
        ipaddr_flags::V4 | ipaddr_flags::ONLINE,
        [10, 0, 0, 7],
        [0; 16],
    )]);
    vec![
        seg(t, true, bind(1, le, &[(0, known::WITNESS, 1, 1)])),
        seg(t + ms, false, bind_ack(1, le, b"49700\0", &[0])),
        seg(
            t + 2 * ms,
            true,
            request(
                2,
                le,
                FIRST_LAST,
                0,
                4,
                0,
                &register_ex_stub(
                    le,
                    "SOFS",
                    Some("VMS"),
                    "10.0.0.5",
                    "HV1.contoso.local",
                    1,
                    120,
                ),
            ),
        ),
        seg(
            t + 3 * ms,
            false,
            response(2, le, FIRST_LAST, 0, 24, &registered_stub(le, H1, 0)),
        ),
        seg(
            t + 4 * ms,
            true,
            request(3, le, FIRST_LAST, 0, 3, 20, &handle_stub(le, H1)),
        ),
        seg(
            t + 5 * ms,
            false,
            response(
                3,
                le,
                FIRST_LAST,
                0,
                0,
                &notify_stub(le, 2, 2, &move_buf, 0),
            ),
        ),
        seg(
            t + 6 * ms,
            true,
            request(4, le, FIRST_LAST, 0, 3, 20, &handle_stub(le, H1)),
        ),
        seg(
            t + 7 * ms,
            false,
            response(4, le, FIRST_LAST, 0, 0, &notify_stub(le, 1, 2, &rc, 0)),
        ),
        seg(
            t + 8 * ms,
            true,
            request(5, le, FIRST, 0, 1, reg1.len() as u32, r1a),
        ),
        seg(
            t + 9 * ms,
            true,
            request(5, le, LAST, 0, 1, r1b.len() as u32, r1b),
        ),
        seg(
            t + 10 * ms,
            false,
            response(5, le, FIRST_LAST, 0, 24, &registered_stub(le, H2, 0)),
        ),
        seg(
            t + 11 * ms,
            true,
            request(6, le, FIRST_LAST, 0, 2, 20, &handle_stub(le, H1)),
        ),
        seg(
            t + 12 * ms,
            false,
            response(6, le, FIRST_LAST, 0, 4, &[0, 0, 0, 0]),
        ),
        seg(
            t + 13 * ms,
            true,
            request(7, le, FIRST_LAST, 0, 3, 20, &handle_stub(le, H2)),
        ),
        seg(
            t + 14 * ms,
            false,
            response(
                7,
                le,
                FIRST_LAST,
                0,
                0,
                &notify_stub(le, 3, 1, &share_move, 0),
            ),
        ),
        seg(
            t + 15 * ms,
            true,
            request(8, le, FIRST_LAST, 0, 3, 20, &handle_stub(le, H2)),
        ),
        seg(t + 16 * ms, false, fault(8, le, FAULT_STATUS)),
        seg(t + 17 * ms, true, request(9, le, FIRST_LAST, 0, 0, 0, &[])),
        seg(
            t + 18 * ms,
            false,
            response(
                9,
                le,
                FIRST_LAST,
                0,
                0,
                &interface_list_stub(le, &interfaces()),
            ),
        ),
    ]
}

/// GetInterfaceList answer of session A: (group, version, state, IPv4, IPv6, flags).
pub fn interfaces() -> Vec<IfInfo> {
    vec![
        ("NODE1", 0x0002_0000, 1, [10, 0, 0, 5], [0; 16], 0x5),
        ("NODE2", 0xFFFF_FFFF, 0xFF, [10, 0, 0, 6], V6, 0x3),
    ]
}

/// Session B, big-endian data representation: bind, Register v1, an
/// IP_CHANGE notify (NDR scalars big-endian, message buffer little-endian).
pub fn session_b() -> Vec<Seg> {
    let le = false;
    let t = 1_700_000_001_000_000_000i64;
    let ms = 1_000_000i64;
    let ipc = ipaddr_list(&[(
        ipaddr_flags::V4 | ipaddr_flags::OFFLINE,
        [10, 0, 0, 8],
        [0; 16],
    )]);
    vec![
        seg(t, true, bind(1, le, &[(0, known::WITNESS, 1, 1)])),
        seg(t + ms, false, bind_ack(1, le, b"49700\0", &[0])),
        seg(
            t + 2 * ms,
            true,
            request(
                2,
                le,
                FIRST_LAST,
                0,
                1,
                0,
                &register_stub(le, VERSION_1, "FS2", "10.0.0.8", "HV2"),
            ),
        ),
        seg(
            t + 3 * ms,
            false,
            response(2, le, FIRST_LAST, 0, 24, &registered_stub(le, H2, 0)),
        ),
        seg(
            t + 4 * ms,
            true,
            request(3, le, FIRST_LAST, 0, 3, 20, &handle_stub(le, H2)),
        ),
        seg(
            t + 5 * ms,
            false,
            response(3, le, FIRST_LAST, 0, 0, &notify_stub(le, 4, 1, &ipc, 0)),
        ),
    ]
}

/// Session C, endpoint mapper on TCP 135: bind EPM 3.0, ept_map for the
/// witness interface, answer with a TCP tower 10.0.0.5:49700.
pub fn session_epm() -> Vec<Seg> {
    let le = true;
    let t = 1_699_999_999_000_000_000i64;
    let ms = 1_000_000i64;
    let ask = tcp_tower(known::WITNESS, 1, 1, 0, [0, 0, 0, 0]);
    let answer = tcp_tower(known::WITNESS, 1, 1, WITNESS_PORT, [10, 0, 0, 5]);
    vec![
        seg(t, true, bind(1, le, &[(0, known::EPM, 3, 0)])),
        seg(t + ms, false, bind_ack(1, le, b"135\0", &[0])),
        seg(
            t + 2 * ms,
            true,
            request(2, le, FIRST_LAST, 0, 3, 0, &epm_map_request_stub(le, &ask)),
        ),
        seg(
            t + 3 * ms,
            false,
            response(
                2,
                le,
                FIRST_LAST,
                0,
                0,
                &epm_map_response_stub(le, &[answer]),
            ),
        ),
    ]
}

/// Session D, NDR64 (little-endian): bind witness 1.1 offering NDR64 v1.0,
/// accepted; RegisterEx, its answer, AsyncNotify and a CLIENT_MOVE answer,
/// all with 8-byte referent ids and counts.
pub fn session_d() -> Vec<Seg> {
    let r = Repr {
        little_endian: true,
        ndr64: true,
    };
    let le = true;
    let t = 1_700_000_002_000_000_000i64;
    let ms = 1_000_000i64;
    let mv = ipaddr_list(&[
        (
            ipaddr_flags::V4 | ipaddr_flags::ONLINE,
            [10, 0, 0, 9],
            [0; 16],
        ),
        (ipaddr_flags::V6 | ipaddr_flags::ONLINE, [0; 4], V6),
    ]);
    vec![
        seg(
            t,
            true,
            bind_with(1, le, &[(0, known::WITNESS, 1, 1)], known::NDR64, 1),
        ),
        seg(
            t + ms,
            false,
            bind_ack_with(1, le, b"49700\0", &[0], known::NDR64, 1),
        ),
        seg(
            t + 2 * ms,
            true,
            request(
                2,
                le,
                FIRST_LAST,
                0,
                4,
                0,
                &register_ex_stub(r, "SOFS", None, "10.0.0.5", "HV3", 0, 300),
            ),
        ),
        seg(
            t + 3 * ms,
            false,
            response(2, le, FIRST_LAST, 0, 24, &registered_stub(r, H1, 0)),
        ),
        seg(
            t + 4 * ms,
            true,
            request(3, le, FIRST_LAST, 0, 3, 20, &handle_stub(r, H1)),
        ),
        seg(
            t + 5 * ms,
            false,
            response(3, le, FIRST_LAST, 0, 0, &notify_stub(r, 2, 1, &mv, 0)),
        ),
    ]
}

/// All conversations as one pcap (tcp.stream 0: C 50002->135, 1: A
/// 50000->49700, 2: B 50001->49700, 3: D 50003->49700).
pub fn pcap() -> Vec<u8> {
    let mut out = Vec::new();
    pcap_conversation(&mut out, 50002, 135, &session_epm());
    pcap_conversation(&mut out, 50000, WITNESS_PORT, &session_a());
    pcap_conversation(&mut out, 50001, WITNESS_PORT, &session_b());
    pcap_conversation(&mut out, 50003, WITNESS_PORT, &session_d());
    out
}
