//! DCE/RPC PDUs carried in SMB2 named pipes (FSCTL_PIPE_TRANSCEIVE) in the
//! public corpus, located by scanning each TCP payload for a plausible header
//! whose whole PDU fits, and parsed with [`parse_pdu`] (as the SMB layer will
//! hand pipe payloads over). Expected figures come from tshark 4.0.

use crate::dcerpc::wire::{Body, PacketType};
use crate::dcerpc::{Uuid, parse_pdu};
use crate::{InterfaceInfo, Packet, PacketSink, Transport, decode, read_capture};

/// One PDU found: frame number (1-based), type, call id, opnum, bound interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    frame: usize,
    ptype: PacketType,
    call_id: u32,
    opnum: Option<u16>,
    binds: Vec<(Uuid, u16, u16)>,
}

#[derive(Default)]
struct Scan {
    frame: usize,
    found: Vec<Found>,
}

impl PacketSink for Scan {
    fn interface(&mut self, _: &InterfaceInfo) {}
    fn packet(&mut self, p: &Packet<'_>) {
        self.frame += 1;
        let Transport::Tcp(t) = decode(p.link_type, p.data).transport else {
            return;
        };
        let b = t.payload;
        let mut i = 0;
        while i + 16 <= b.len() {
            match parse_pdu(&b[i..]) {
                Ok(pdu) => {
                    let (opnum, binds) = match &pdu.body {
                        Body::Request(r) => (Some(r.opnum), vec![]),
                        Body::Bind(x) | Body::AlterContext(x) => (
                            None,
                            x.contexts()
                                .map(|c| (c.interface, c.version, c.version_minor))
                                .collect(),
                        ),
                        _ => (None, vec![]),
                    };
                    self.found.push(Found {
                        frame: self.frame,
                        ptype: pdu.header.ptype,
                        call_id: pdu.header.call_id,
                        opnum,
                        binds,
                    });
                    i += usize::from(pdu.header.frag_len);
                }
                Err(_) => i += 1,
            }
        }
    }
}

fn scan(rel: &str) -> Option<Vec<Found>> {
    let path = format!("{}/../../shared/corpus/{rel}", env!("CARGO_MANIFEST_DIR"));
    let Ok(f) = std::fs::File::open(&path) else {
        eprintln!("corpus file {path} missing: skipped");
        return None;
    };
    let mut s = Scan::default();
    read_capture(f, "t", &mut s);
    Some(s.found)
}

fn count(f: &[Found], t: PacketType) -> usize {
    f.iter().filter(|x| x.ptype == t).count()
}

#[test]
fn zeek_20_fids_samr_over_pipes() {
    let Some(f) = scan("zeek/20-fids.pcap") else {
        return;
    };
    // tshark -r zeek/20-fids.pcap -Y dcerpc -T fields -e dcerpc.pkt_type | sort | uniq -c
    //   102 request, 102 response, 20 bind, 20 bind_ack, 20 auth3
    assert_eq!(count(&f, PacketType::Request), 102);
    assert_eq!(count(&f, PacketType::Response), 102);
    assert_eq!(count(&f, PacketType::Bind), 20);
    assert_eq!(count(&f, PacketType::BindAck), 20);
    assert_eq!(count(&f, PacketType::Auth3), 20);
    assert_eq!(f.len(), 264);
    // tshark ... -Y dcerpc.pkt_type==11 -e dcerpc.cn_bind_to_uuid -e dcerpc.cn_bind_if_ver
    //   -e dcerpc.cn_bind_if_ver_minor: every bind offers SAMR
    //   12345778-1234-abcd-ef00-0123456789ac 1.0, one context; first in frame 24.
    let samr = Uuid::from_u128(0x12345778_1234_abcd_ef00_0123456789ac);
    for b in f.iter().filter(|x| x.ptype == PacketType::Bind) {
        assert_eq!(b.binds, vec![(samr, 1, 0)], "frame {}", b.frame);
    }
    // tshark -Y "dcerpc && frame.number<=46" -e frame.number -e dcerpc.pkt_type
    //   -e dcerpc.cn_call_id -e dcerpc.opnum
    let head: Vec<_> = f
        .iter()
        .take_while(|x| x.frame <= 46)
        .map(|x| (x.frame, x.ptype, x.call_id, x.opnum))
        .collect();
    use PacketType::*;
    assert_eq!(
        head,
        vec![
            (24, Bind, 1, None),
            (26, BindAck, 1, None),
            (28, Auth3, 1, None),
            (32, Request, 2, Some(64)),
            (34, Response, 2, None),
            (36, Request, 3, Some(6)),
            (38, Response, 3, None),
            (40, Request, 4, Some(5)),
            (42, Response, 4, None),
            (44, Request, 5, Some(7)),
            (46, Response, 5, None),
        ]
    );
}

#[test]
fn zeek_smb2_srvsvc_bind_two_contexts() {
    let Some(f) = scan("zeek/smb2.pcap") else {
        return;
    };
    // tshark -r zeek/smb2.pcap -Y dcerpc.pkt_type==11 -e dcerpc.cn_bind_to_uuid
    //   -e dcerpc.cn_bind_if_ver: frame 18, srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188
    //   v3.0 offered twice (NDR and bind-time feature negotiation); ack in frame 21.
    let srvsvc = Uuid::from_u128(0x4b324fc8_1670_01d3_1278_5a47bf6ee188);
    let bind = f.iter().find(|x| x.ptype == PacketType::Bind).unwrap();
    assert_eq!(bind.frame, 18);
    assert_eq!(bind.binds, vec![(srvsvc, 3, 0), (srvsvc, 3, 0)]);
    assert_eq!(
        f.iter()
            .find(|x| x.ptype == PacketType::BindAck)
            .unwrap()
            .frame,
        21
    );
    // tshark: request opnum 16 (NetShareGetInfo) in frame 22.
    assert!(f.contains(&Found {
        frame: 22,
        ptype: PacketType::Request,
        call_id: 1,
        opnum: Some(16),
        binds: vec![]
    }));
}

#[test]
fn zeek_smb2_zero_byte_ioctl_lsarpc() {
    let Some(f) = scan("zeek/smb2-zero-byte-error-ioctl.pcapng") else {
        return;
    };
    // tshark ... -Y dcerpc -e dcerpc.pkt_type: 8 request, 8 response, 2 bind, 2 bind_ack;
    // binds: frame 53 srvsvc 3.0, frame 98 lsarpc 12345778-1234-abcd-ef00-0123456789ab 0.0.
    assert_eq!(count(&f, PacketType::Request), 8);
    assert_eq!(count(&f, PacketType::Response), 8);
    assert_eq!(count(&f, PacketType::Bind), 2);
    assert_eq!(count(&f, PacketType::BindAck), 2);
    let binds: Vec<_> = f
        .iter()
        .filter(|x| x.ptype == PacketType::Bind)
        .map(|x| (x.frame, x.binds[0]))
        .collect();
    assert_eq!(
        binds,
        vec![
            (
                53,
                (
                    Uuid::from_u128(0x4b324fc8_1670_01d3_1278_5a47bf6ee188),
                    3,
                    0
                )
            ),
            (
                98,
                (
                    Uuid::from_u128(0x12345778_1234_abcd_ef00_0123456789ab),
                    0,
                    0
                )
            ),
        ]
    );
}
