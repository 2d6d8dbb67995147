//! Link, network and transport decoding of one frame (a zero-copy view built on
//! etherparse's lax slicer, which keeps what it could parse of a cut frame).

use std::net::IpAddr;

use etherparse::{
    ArpPacketSlice, EtherType, Ethernet2Slice, Icmpv4Slice, Icmpv6Slice, LaxIpSlice,
    LaxMacsecPayloadSlice, LaxMacsecSlice, SingleVlanSlice, TcpSlice, UdpSlice,
};

use crate::link::LinkType;

/// TCP flag bits as in the header's 13th byte.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpView<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Captured payload bytes.
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture cut off (snaplen).
    pub missing: u32,
}

impl TcpView<'_> {
    #[inline]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
    /// Payload length on the wire (captured + cut).
    #[inline]
    pub fn payload_len(&self) -> u32 {
        self.payload.len() as u32 + self.missing
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpView<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    pub missing: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp(TcpView<'a>),
    Udp(UdpView<'a>),
    /// ICMP (`v6` false) or ICMPv6, with its message type.
    Icmp {
        v6: bool,
        icmp_type: u8,
    },
    /// A TCP segment the snaplen cut inside its first 20 bytes (4 or more
    /// captured): only the ports are known. It belongs to its conversation
    /// (its bytes count there, as tshark counts them), but has no sequence
    /// number, flags or data offset, so nothing of it may go to reassembly.
    /// (A segment cut inside its options is a [`Transport::Tcp`] with an
    /// empty payload and its payload length in `missing`.)
    TcpPorts {
        src_port: u16,
        dst_port: u16,
    },
    /// An IP fragment other than the first: no transport header.
    Fragment,
    /// Another IP protocol, a transport header cut by the snaplen before its
    /// ports, or a malformed TCP header (data offset below 5).
    Other(u8),
    None,
}

/// What one frame is, down to the transport layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    /// Outer VLAN id, if any.
    pub vlan: Option<u16>,
    /// Ethernet source and destination MAC addresses (Ethernet link type only).
    pub macs: Option<([u8; 6], [u8; 6])>,
    /// The IP packet is a fragment (first or later).
    pub ip_fragment: bool,
    pub arp: bool,
    pub transport: Transport<'a>,
}

impl Decoded<'_> {
    pub const NOTHING: Decoded<'static> = Decoded {
        src: None,
        dst: None,
        vlan: None,
        macs: None,
        ip_fragment: false,
        arp: false,
        transport: Transport::None,
    };
}

/// At most this many link extensions (VLAN tags, MACsec) are walked, as
/// etherparse's own sliced packet does.
const MAX_LINK_EXTS: usize = 3;

/// Decodes one frame of the given link type. Never fails: what cannot be
/// parsed is reported as absent layers.
///
/// The layers are walked here with etherparse's per-layer slices (each a
/// small view over the frame) rather than its all-layers `LaxSlicedPacket`,
/// whose several hundred bytes were copied on every step: the same parsers
/// and the same lax rules, without a tenth of the small-packet time in
/// `memcpy`.
pub fn decode(link: LinkType, data: &[u8]) -> Decoded<'_> {
    let mut d = Decoded::NOTHING;
    match link {
        LinkType::ETHERNET => {
            if let Ok(eth) = Ethernet2Slice::from_slice_without_fcs(data) {
                d.macs = Some((eth.source(), eth.destination()));
                ether(&mut d, data, eth.ether_type(), eth.payload_slice());
            }
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => ip(&mut d, data, data),
        // Native Wi-Fi (pktmon, ndiscap): data frames with LLC/SNAP.
        LinkType::IEEE802_11 => {
            if let Some(f) = crate::ieee80211::data_frame(data) {
                d.macs = Some((f.src, f.dst));
                ether(&mut d, data, EtherType(f.ether_type), &data[f.payload..]);
            }
        }
        // 4-byte address family, host byte order for NULL, network order for LOOP.
        LinkType::NULL | LinkType::LOOP => {
            if let Some(p) = data.get(4..) {
                ip(&mut d, data, p);
            }
        }
        LinkType::LINUX_SLL => {
            if let Some(p) = data.get(16..) {
                let t = EtherType(u16::from_be_bytes([data[14], data[15]]));
                ether(&mut d, data, t, p);
            }
        }
        LinkType::LINUX_SLL2 => {
            if let Some(p) = data.get(20..) {
                let t = EtherType(u16::from_be_bytes([data[0], data[1]]));
                ether(&mut d, data, t, p);
            }
        }
        _ => {}
    }
    d
}

/// From an ether type and its payload: VLAN tags and MACsec (unencrypted)
/// down to ARP or IP.
fn ether<'a>(d: &mut Decoded<'a>, frame: &'a [u8], mut t: EtherType, mut p: &'a [u8]) {
    use etherparse::ether_type::*;
    let mut exts = 0;
    loop {
        match t {
            VLAN_TAGGED_FRAME | PROVIDER_BRIDGING | VLAN_DOUBLE_TAGGED_FRAME => {
                if exts == MAX_LINK_EXTS {
                    return;
                }
                let Ok(v) = SingleVlanSlice::from_slice(p) else {
                    return;
                };
                exts += 1;
                d.vlan.get_or_insert(v.vlan_identifier().value());
                t = v.ether_type();
                p = v.payload_slice();
            }
            MACSEC => {
                if exts == MAX_LINK_EXTS {
                    return;
                }
                let Ok(m) = LaxMacsecSlice::from_slice(p) else {
                    return;
                };
                exts += 1;
                let LaxMacsecPayloadSlice::Unmodified(e) = m.payload else {
                    return;
                };
                t = e.ether_type;
                p = e.payload;
            }
            ARP => {
                d.arp = ArpPacketSlice::from_slice(p).is_ok();
                return;
            }
            IPV4 | IPV6 => return ip(d, frame, p),
            _ => return,
        }
    }
}

/// From an IPv4 or IPv6 header (with IPv6 extension headers) to the transport.
fn ip<'a>(d: &mut Decoded<'a>, frame: &'a [u8], p: &'a [u8]) {
    let Ok((ip, stop)) = LaxIpSlice::from_slice(p) else {
        return;
    };
    // Bytes announced by the IP header beyond the end of the captured frame.
    let mut missing: u32 = 0;
    let frame_end = frame.as_ptr() as usize + frame.len();
    let payload = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            d.src = Some(IpAddr::V4(h.source_addr()));
            d.dst = Some(IpAddr::V4(h.destination_addr()));
            if v4.payload().incomplete {
                let start = h.slice().as_ptr() as usize;
                let end = start + h.total_len() as usize;
                missing = end.saturating_sub(frame_end) as u32;
            }
            v4.payload()
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            d.src = Some(IpAddr::V6(h.source_addr()));
            d.dst = Some(IpAddr::V6(h.destination_addr()));
            if v6.payload().incomplete && h.payload_length() > 0 {
                let start = h.slice().as_ptr() as usize;
                let end = start + 40 + h.payload_length() as usize;
                missing = end.saturating_sub(frame_end) as u32;
            }
            v6.payload()
        }
    };
    let other = Transport::Other(payload.ip_number.0);
    // Both versions' `is_payload_fragmented` is this flag.
    d.ip_fragment = payload.fragmented;
    if payload.fragmented {
        d.transport = Transport::Fragment;
        return;
    }
    if stop.is_some() {
        // An IPv6 extension header (or IPv4 AH) that could not be parsed.
        d.transport = other;
        return;
    }
    let body = payload.payload;
    d.transport = match payload.ip_number {
        etherparse::ip_number::TCP => match TcpSlice::from_slice(body) {
            Ok(t) => {
                let raw = t.slice();
                TcpView {
                    src_port: t.source_port(),
                    dst_port: t.destination_port(),
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    flags: raw.get(13).copied().unwrap_or(0),
                    window: t.window_size(),
                    payload: t.payload(),
                    missing,
                }
                .into()
            }
            Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => {
                tcp_header_cut(body, missing).unwrap_or(other)
            }
            Err(_) => other,
        },
        etherparse::ip_number::UDP => match UdpSlice::from_slice_lax(body) {
            Ok(u) => Transport::Udp(UdpView {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
                missing,
            }),
            // A UDP header cut after its ports: the datagram is in its
            // conversation, its payload (whatever the IP header announces
            // beyond the 8 header bytes) all cut.
            Err(_) => match body {
                [a, b, c, d, ..] => Transport::Udp(UdpView {
                    src_port: u16::from_be_bytes([*a, *b]),
                    dst_port: u16::from_be_bytes([*c, *d]),
                    payload: &[],
                    missing: (body.len() as u32 + missing).saturating_sub(8),
                }),
                _ => other,
            },
        },
        etherparse::ip_number::ICMP => match Icmpv4Slice::from_slice(body) {
            Ok(i) => Transport::Icmp {
                v6: false,
                icmp_type: i.slice().first().copied().unwrap_or(0),
            },
            Err(_) => other,
        },
        etherparse::ip_number::IPV6_ICMP => match Icmpv6Slice::from_slice(body) {
            Ok(i) => Transport::Icmp {
                v6: true,
                icmp_type: i.slice().first().copied().unwrap_or(0),
            },
            Err(_) => other,
        },
        _ => other,
    };
}

/// A TCP header the capture cut (`body` is what was captured of the IP
/// payload, `missing` the bytes the IP header announces beyond it):
/// - 20 bytes or more (a valid data offset whose options are cut): every
///   fixed field, an empty payload and the payload's whole length (the IP
///   payload less the header length) as `missing`, as a snaplen cut right
///   after the header would give;
/// - 4 to 19 bytes: the ports only ([`Transport::TcpPorts`]);
/// - fewer: `None` (not known to be TCP of any conversation).
fn tcp_header_cut(body: &[u8], missing: u32) -> Option<Transport<'_>> {
    let be16 = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    if body.len() < 4 {
        return None;
    }
    let (src_port, dst_port) = (be16(0), be16(2));
    if body.len() < 20 {
        return Some(Transport::TcpPorts { src_port, dst_port });
    }
    let header_len = u32::from(body[12] >> 4) * 4;
    if header_len < 20 {
        return None;
    }
    let wire = body.len() as u32 + missing;
    Some(Transport::Tcp(TcpView {
        src_port,
        dst_port,
        seq: be32(4),
        ack: be32(8),
        flags: body[13],
        window: be16(14),
        payload: &[],
        missing: wire.saturating_sub(header_len),
    }))
}

impl<'a> From<TcpView<'a>> for Transport<'a> {
    fn from(t: TcpView<'a>) -> Self {
        Transport::Tcp(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(etherparse::VlanId::try_new(42).unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(50000, 445, 1000, 65535)
            .ack(7)
            .psh();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// The frame an 802.11 station receives for `eth` (Ethernet II, no VLAN):
    /// FromDS data header, LLC/SNAP, then the same packet.
    fn as_80211(eth: &[u8]) -> Vec<u8> {
        let mut f = vec![0x88, 0x02, 0, 0];
        f.extend_from_slice(&eth[..6]); // a1 = DA
        f.extend_from_slice(&[9; 6]); // a2 = BSSID
        f.extend_from_slice(&eth[6..12]); // a3 = SA
        f.extend_from_slice(&[0, 0, 0, 0]); // sequence, QoS control
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
        f.extend_from_slice(&eth[12..]);
        f
    }

    #[test]
    fn wifi_data_frame_decodes_as_its_ethernet_twin() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(50000, 445, 1000, 64);
        let mut eth = Vec::new();
        b.write(&mut eth, b"smb").unwrap();
        let w = as_80211(&eth);
        let (de, dw) = (
            decode(LinkType::ETHERNET, &eth),
            decode(LinkType::IEEE802_11, &w),
        );
        assert_eq!(dw.macs, Some(([1; 6], [2; 6])));
        assert_eq!((dw.transport, dw.vlan), (de.transport, de.vlan));
        assert!(matches!(dw.transport, Transport::Tcp(_)));
        // A management frame, or an encrypted one, decodes to nothing.
        let mut m = w.clone();
        m[0] = 0x80;
        assert_eq!(decode(LinkType::IEEE802_11, &m), Decoded::NOTHING);
        let mut p = w.clone();
        p[1] |= 0x40;
        p.splice(26..26, [0x12, 0x34, 0, 0x20, 0, 0, 0, 0]);
        assert_eq!(decode(LinkType::IEEE802_11, &p), Decoded::NOTHING);
    }

    #[test]
    fn ethernet_vlan_tcp() {
        let f = tcp_frame(b"hello");
        let d = decode(LinkType::ETHERNET, &f);
        assert_eq!(d.vlan, Some(42));
        assert_eq!(d.macs, Some(([1; 6], [2; 6])));
        let Transport::Tcp(t) = d.transport else {
            panic!("{d:?}")
        };
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack),
            (50000, 445, 1000, 7)
        );
        assert!(t.has(tcp_flags::ACK) && t.has(tcp_flags::PSH) && !t.has(tcp_flags::SYN));
        assert_eq!(t.payload, b"hello");
        assert_eq!(t.missing, 0);
    }

    #[test]
    fn snaplen_cut_payload_is_counted_missing() {
        let f = tcp_frame(&[7u8; 1000]);
        let cut = &f[..200];
        let d = decode(LinkType::ETHERNET, cut);
        let Transport::Tcp(t) = d.transport else {
            panic!("{d:?}")
        };
        assert_eq!(t.payload_len(), 1000);
        assert_eq!(t.payload.len() as u32 + t.missing, 1000);
    }

    #[test]
    fn ipv6_udp_raw_and_sll() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).udp(3343, 3343);
        let mut v = Vec::new();
        b.write(&mut v, &[0u8; 92]).unwrap();
        let d = decode(LinkType::RAW, &v);
        let Transport::Udp(u) = d.transport else {
            panic!()
        };
        assert_eq!((u.src_port, u.payload.len()), (3343, 92));
        // SLL: 16-byte header, protocol at 14..16
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&0x86ddu16.to_be_bytes());
        sll.extend_from_slice(&v);
        assert!(matches!(
            decode(LinkType::LINUX_SLL, &sll).transport,
            Transport::Udp(_)
        ));
        // SLL2: 20-byte header, protocol at 0..2
        let mut sll2 = 0x86ddu16.to_be_bytes().to_vec();
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&v);
        assert!(matches!(
            decode(LinkType::LINUX_SLL2, &sll2).transport,
            Transport::Udp(_)
        ));
        // NULL: 4-byte family
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64).icmpv4_echo_request(1, 2);
        let mut ping = Vec::new();
        b.write(&mut ping, b"x").unwrap();
        assert_eq!(
            decode(LinkType::IPV4, &ping).transport,
            Transport::Icmp {
                v6: false,
                icmp_type: 8
            }
        );
        let mut null = 24u32.to_le_bytes().to_vec();
        null.extend_from_slice(&v);
        assert!(matches!(
            decode(LinkType::NULL, &null).transport,
            Transport::Udp(_)
        ));
    }

    /// The decoder as it was written on etherparse's all-layers
    /// `LaxSlicedPacket`: the oracle the per-layer walk must agree with.
    fn reference(link: LinkType, data: &[u8]) -> Decoded<'_> {
        use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
        let sliced = match link {
            LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
            LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => LaxSlicedPacket::from_ip(data).ok(),
            LinkType::NULL | LinkType::LOOP => data
                .get(4..)
                .and_then(|ip| LaxSlicedPacket::from_ip(ip).ok()),
            LinkType::LINUX_SLL => data.get(16..).map(|p| {
                LaxSlicedPacket::from_ether_type(
                    EtherType(u16::from_be_bytes([data[14], data[15]])),
                    p,
                )
            }),
            LinkType::LINUX_SLL2 => data.get(20..).map(|p| {
                LaxSlicedPacket::from_ether_type(
                    EtherType(u16::from_be_bytes([data[0], data[1]])),
                    p,
                )
            }),
            _ => None,
        };
        let Some(p) = sliced else {
            return Decoded::NOTHING;
        };
        let mut d = Decoded::NOTHING;
        d.vlan = p.vlan_ids().first().map(|v| v.value());
        if let Some(etherparse::LinkSlice::Ethernet2(e)) = &p.link {
            d.macs = Some((e.source(), e.destination()));
        }
        let mut missing: u32 = 0;
        let frame_end = data.as_ptr() as usize + data.len();
        let ip_number = match &p.net {
            Some(LaxNetSlice::Ipv4(v4)) => {
                let h = v4.header();
                d.src = Some(IpAddr::V4(h.source_addr()));
                d.dst = Some(IpAddr::V4(h.destination_addr()));
                d.ip_fragment = v4.is_payload_fragmented();
                if v4.payload().incomplete {
                    let end = h.slice().as_ptr() as usize + h.total_len() as usize;
                    missing = end.saturating_sub(frame_end) as u32;
                }
                v4.payload().ip_number.0
            }
            Some(LaxNetSlice::Ipv6(v6)) => {
                let h = v6.header();
                d.src = Some(IpAddr::V6(h.source_addr()));
                d.dst = Some(IpAddr::V6(h.destination_addr()));
                d.ip_fragment = v6.is_payload_fragmented();
                if v6.payload().incomplete && h.payload_length() > 0 {
                    let end = h.slice().as_ptr() as usize + 40 + h.payload_length() as usize;
                    missing = end.saturating_sub(frame_end) as u32;
                }
                v6.payload().ip_number.0
            }
            Some(LaxNetSlice::Arp(_)) => {
                d.arp = true;
                return d;
            }
            None => return d,
        };
        d.transport = match &p.transport {
            Some(TransportSlice::Tcp(t)) => Transport::Tcp(TcpView {
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: t.slice().get(13).copied().unwrap_or(0),
                window: t.window_size(),
                payload: t.payload(),
                missing,
            }),
            Some(TransportSlice::Udp(u)) => Transport::Udp(UdpView {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
                missing,
            }),
            Some(TransportSlice::Icmpv4(i)) => Transport::Icmp {
                v6: false,
                icmp_type: i.slice().first().copied().unwrap_or(0),
            },
            Some(TransportSlice::Icmpv6(i)) => Transport::Icmp {
                v6: true,
                icmp_type: i.slice().first().copied().unwrap_or(0),
            },
            Some(_) => Transport::Other(ip_number),
            None if d.ip_fragment => Transport::Fragment,
            None => Transport::Other(ip_number),
        };
        // A TCP or UDP header the capture cut (a length error at that
        // layer): read by hand from the captured IP payload.
        if let (
            Transport::Other(n @ (6 | 17)),
            Some((etherparse::err::packet::SliceError::Len(_), layer)),
        ) = (d.transport, &p.stop_err)
            && matches!(
                layer,
                etherparse::err::Layer::TcpHeader | etherparse::err::Layer::UdpHeader
            )
        {
            let body = match &p.net {
                Some(LaxNetSlice::Ipv4(v4)) => v4.payload().payload,
                Some(LaxNetSlice::Ipv6(v6)) => v6.payload().payload,
                _ => &[],
            };
            d.transport = reference_cut(n, body, missing);
        }
        d
    }

    /// The reference's reading of a cut TCP or UDP header.
    fn reference_cut(ip_number: u8, body: &[u8], missing: u32) -> Transport<'_> {
        let Some(ports) = body.get(..4) else {
            return Transport::Other(ip_number);
        };
        let src_port = u16::from_be_bytes([ports[0], ports[1]]);
        let dst_port = u16::from_be_bytes([ports[2], ports[3]]);
        let on_wire = body.len() as u32 + missing;
        if ip_number == 17 {
            return Transport::Udp(UdpView {
                src_port,
                dst_port,
                payload: &[],
                missing: on_wire.saturating_sub(8),
            });
        }
        let Some(h) = body.get(..20) else {
            return Transport::TcpPorts { src_port, dst_port };
        };
        let hl = u32::from(h[12] & 0xf0) >> 2;
        if hl < 20 {
            return Transport::Other(ip_number);
        }
        Transport::Tcp(TcpView {
            src_port,
            dst_port,
            seq: u32::from_be_bytes(h[4..8].try_into().unwrap()),
            ack: u32::from_be_bytes(h[8..12].try_into().unwrap()),
            flags: h[13],
            window: u16::from_be_bytes([h[14], h[15]]),
            payload: &[],
            missing: on_wire.saturating_sub(hl),
        })
    }

    /// Every frame of every corpus capture decodes as the reference does.
    #[test]
    #[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
    fn agrees_with_reference_on_corpus() {
        struct Check(u64);
        impl crate::capture::PacketSink for Check {
            fn interface(&mut self, _: &crate::capture::InterfaceInfo) {}
            fn packet(&mut self, p: &crate::capture::Packet<'_>) {
                assert_eq!(
                    decode(p.link_type, p.data),
                    reference(p.link_type, p.data),
                    "frame {} ({:?})",
                    self.0,
                    p.link_type
                );
                self.0 += 1;
            }
        }
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/");
        let mut frames = 0;
        let mut stack = vec![std::path::PathBuf::from(corpus)];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
                {
                    let data = std::fs::read(&path).unwrap();
                    let mut c = Check(0);
                    crate::capture::read_capture_slice(&data, "c", &mut c);
                    frames += c.0;
                }
            }
        }
        assert!(frames > 10_000, "{frames}");
    }

    proptest::proptest! {
        /// Mutated real-looking frames (VLAN, IPv4/IPv6, TCP/UDP) of every link
        /// type: the per-layer walk agrees with the reference.
        #[test]
        fn agrees_with_reference_on_mutations(
            lt in proptest::sample::select(vec![1u16, 101, 0, 108, 113, 276, 228, 229]),
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            flips in proptest::collection::vec((0usize..120, proptest::num::u8::ANY), 0..6),
            cut in 0usize..140,
            v6 in proptest::bool::ANY,
        ) {
            let b = PacketBuilder::ethernet2([1; 6], [2; 6]).single_vlan(etherparse::VlanId::try_new(7).unwrap());
            let mut f = Vec::new();
            if v6 {
                b.ipv6([1; 16], [2; 16], 9).udp(1, 2).write(&mut f, &payload).unwrap();
            } else {
                b.ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 4).write(&mut f, &payload).unwrap();
            }
            for (i, x) in flips {
                if let Some(b) = f.get_mut(i) {
                    *b ^= x;
                }
            }
            f.truncate(cut);
            let link = LinkType(lt);
            // Non-Ethernet link types see the frame from the IP header (or
            // with a pseudo header in front, as the link type says).
            let frame: &[u8] = if lt == 1 { &f } else { f.get(18..).unwrap_or(&[]) };
            proptest::prop_assert_eq!(decode(link, frame), reference(link, frame));
        }
    }

    /// A TCP segment with timestamps and two SACK blocks (32 option bytes,
    /// as during retransmissions) or none, over IPv4 (with or without a
    /// 4-byte IP option) or IPv6 (with or without a hop-by-hop header).
    fn tcp_with_options(v6: bool, ip_opts: bool, tcp_opts: bool, payload: &[u8]) -> Vec<u8> {
        use etherparse::{TcpHeader, TcpOptionElement as O};
        let mut tcp = TcpHeader::new(50000, 445, 0x0102_0304, 4096);
        tcp.ack = true;
        tcp.acknowledgment_number = 0x0a0b_0c0d;
        if tcp_opts {
            tcp.set_options(&[
                O::Noop,
                O::Noop,
                O::Timestamp(1, 2),
                O::Noop,
                O::Noop,
                O::SelectiveAcknowledgement((10, 20), [Some((30, 40)), None, None]),
            ])
            .unwrap();
        }
        let eth = PacketBuilder::ethernet2([1; 6], [2; 6]);
        let mut f = Vec::new();
        if v6 {
            let mut h = etherparse::Ipv6Header {
                source: [1; 16],
                destination: [2; 16],
                hop_limit: 64,
                ..Default::default()
            };
            let mut exts = etherparse::Ipv6Extensions::default();
            if ip_opts {
                h.next_header = etherparse::ip_number::IPV6_HOP_BY_HOP;
                exts.hop_by_hop_options = Some(
                    etherparse::Ipv6RawExtHeader::new_raw(
                        etherparse::ip_number::TCP,
                        &[1, 4, 0, 0, 0, 0],
                    )
                    .unwrap(),
                );
            } else {
                h.next_header = etherparse::ip_number::TCP;
            }
            eth.ip(etherparse::IpHeaders::Ipv6(h, exts))
                .tcp_header(tcp)
                .write(&mut f, payload)
                .unwrap();
        } else {
            let mut h = etherparse::Ipv4Header::new(
                0,
                64,
                etherparse::ip_number::TCP,
                [10, 0, 0, 1],
                [10, 0, 0, 2],
            )
            .unwrap();
            if ip_opts {
                h.options = [1u8, 1, 1, 0][..].try_into().unwrap();
            }
            eth.ip(etherparse::IpHeaders::Ipv4(h, Default::default()))
                .tcp_header(tcp)
                .write(&mut f, payload)
                .unwrap();
        }
        f
    }

    /// Frames cut at every length from 34 to 74 bytes: the IP header is read
    /// when complete; from 4 TCP bytes on, the ports are; from 20, every
    /// fixed field with the cut payload counted missing; never a panic.
    #[test]
    fn tcp_header_cut_at_every_length_keeps_ports() {
        let payload = [9u8; 100];
        for v6 in [false, true] {
            for ip_opts in [false, true] {
                for tcp_opts in [false, true] {
                    let f = tcp_with_options(v6, ip_opts, tcp_opts, &payload);
                    let ip_len = match (v6, ip_opts) {
                        (false, false) => 20,
                        (false, true) => 24,
                        (true, false) => 40,
                        (true, true) => 48,
                    };
                    let tcp_start = 14 + ip_len;
                    let hl = if tcp_opts { 52 } else { 20 };
                    assert_eq!(f.len(), tcp_start + hl + payload.len());
                    for cut in 34..=74 {
                        let what =
                            format!("v6 {v6} ip_opts {ip_opts} tcp_opts {tcp_opts} cut {cut}");
                        let d = decode(LinkType::ETHERNET, &f[..cut]);
                        assert_eq!(d, reference(LinkType::ETHERNET, &f[..cut]), "{what}");
                        if cut < 14 + if v6 { 40 } else { ip_len } {
                            assert_eq!(d.src, None, "{what}");
                            assert_eq!(d.transport, Transport::None, "{what}");
                            continue;
                        }
                        if cut < tcp_start {
                            // The IPv6 hop-by-hop header cut: as before.
                            assert_eq!(d.transport, Transport::Other(0), "{what}");
                            continue;
                        }
                        let got = cut - tcp_start;
                        match d.transport {
                            Transport::Other(6) => assert!(got < 4, "{what}"),
                            Transport::TcpPorts { src_port, dst_port } => {
                                assert!((4..20).contains(&got), "{what}");
                                assert_eq!((src_port, dst_port), (50000, 445), "{what}");
                            }
                            Transport::Tcp(t) => {
                                assert!(got >= 20, "{what}");
                                assert_eq!(
                                    (t.src_port, t.dst_port, t.seq, t.ack, t.window),
                                    (50000, 445, 0x0102_0304, 0x0a0b_0c0d, 4096),
                                    "{what}"
                                );
                                assert!(t.has(tcp_flags::ACK), "{what}");
                                assert_eq!(t.payload_len(), 100, "{what}");
                                assert_eq!(t.payload.len(), got.saturating_sub(hl), "{what}");
                            }
                            other => panic!("{what}: {other:?}"),
                        }
                    }
                }
            }
        }
    }

    /// UDP over IPv6 cut inside its header: from the ports on (4 bytes),
    /// ports kept, the payload counted missing.
    #[test]
    fn udp_header_cut_keeps_ports() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([1; 16], [2; 16], 64)
            .udp(3343, 3344)
            .write(&mut f, &[0u8; 50])
            .unwrap();
        for cut in 54..f.len() {
            let d = decode(LinkType::ETHERNET, &f[..cut]);
            assert_eq!(d, reference(LinkType::ETHERNET, &f[..cut]), "cut {cut}");
            match d.transport {
                Transport::Other(17) => assert!(cut < 58, "cut {cut}"),
                Transport::Udp(u) => {
                    assert!(cut >= 58, "cut {cut}");
                    assert_eq!((u.src_port, u.dst_port), (3343, 3344));
                    assert_eq!(u.payload.len() as u32 + u.missing, 50, "cut {cut}");
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    /// Segments of one stream whose options the snaplen cut go to the
    /// reassembler as fully cut payloads: no byte of them (nor of their
    /// options) is delivered as data, their sequence space is reported cut,
    /// and the stream goes on in order after them.
    #[test]
    fn options_cut_segments_reassemble_as_cut_bytes() {
        use crate::flow::Direction;
        use crate::tcp::{ReassemblyConfig, StreamHandler, TcpConnection, TcpCounters};
        #[derive(Default)]
        struct Rec {
            data: Vec<u8>,
            cut: u64,
        }
        impl StreamHandler for Rec {
            fn data(&mut self, _: Direction, _: i64, d: &[u8]) {
                self.data.extend_from_slice(d);
            }
            fn gap(&mut self, _: Direction, len: u64) {
                panic!("gap of {len}");
            }
            fn cut(&mut self, _: Direction, len: u64) {
                self.cut += len;
            }
        }
        let mut c = TcpConnection::new();
        let (mut h, mut n) = (Rec::default(), TcpCounters::default());
        let cfg = ReassemblyConfig::default();
        let mut seq = 0x0102_0304u32;
        // Three segments of 100 bytes: with SACK options cut at 60 bytes,
        // without options whole.
        for (opts, cut) in [(true, 60), (false, 1000), (true, 70)] {
            let mut f = tcp_with_options(false, false, opts, &[b'x'; 100]);
            let hl = if opts { 52 } else { 20 };
            f[14 + 20 + 4..14 + 20 + 8].copy_from_slice(&seq.to_be_bytes());
            let f = &f[..cut.min(f.len())];
            let Transport::Tcp(t) = decode(LinkType::ETHERNET, f).transport else {
                panic!("cut {cut}");
            };
            assert_eq!(t.payload_len(), 100);
            assert!(t.payload.len() <= f.len().saturating_sub(14 + 20 + hl));
            c.segment(Direction::AtoB, 0, &t, &cfg, &mut h, &mut n);
            seq = seq.wrapping_add(100);
        }
        c.finish(&mut h, &mut n);
        assert_eq!(h.data, vec![b'x'; 100]);
        assert_eq!(h.cut, 200);
        assert_eq!(n.truncated, 2);
    }

    /// A TCP header whose data offset is below 5 stays "other", cut or not.
    #[test]
    fn malformed_data_offset_is_not_tcp() {
        let mut f = tcp_with_options(false, false, false, &[1; 10]);
        f[14 + 20 + 12] = 0x40;
        for cut in [f.len(), 14 + 20 + 20] {
            assert_eq!(
                decode(LinkType::ETHERNET, &f[..cut]).transport,
                Transport::Other(6)
            );
        }
    }

    proptest::proptest! {
        /// Any truncation of a valid TCP frame (any options, IP options or
        /// not, IPv4 or IPv6) never panics and gives the right ports (and
        /// the right payload length on the wire when the fixed header is
        /// there) or no transport.
        #[test]
        fn truncated_tcp_keeps_ports_or_nothing(
            v6 in proptest::bool::ANY,
            ip_opts in proptest::bool::ANY,
            tcp_opts in proptest::bool::ANY,
            plen in 0usize..200,
            cut in 0usize..400,
        ) {
            let f = tcp_with_options(v6, ip_opts, tcp_opts, &vec![5u8; plen]);
            let f = &f[..cut.min(f.len())];
            let d = decode(LinkType::ETHERNET, f);
            proptest::prop_assert_eq!(d, reference(LinkType::ETHERNET, f));
            match d.transport {
                Transport::Tcp(t) => {
                    proptest::prop_assert_eq!((t.src_port, t.dst_port, t.seq), (50000, 445, 0x0102_0304));
                    proptest::prop_assert_eq!(t.payload_len() as usize, plen);
                }
                Transport::TcpPorts { src_port, dst_port } => {
                    proptest::prop_assert_eq!((src_port, dst_port), (50000, 445));
                }
                Transport::Other(6) | Transport::None => {}
                // A cut IPv6 hop-by-hop header.
                Transport::Other(0) if v6 && ip_opts => {}
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            for lt in [0u16, 1, 101, 108, 113, 228, 229, 276, 999] {
                let _ = decode(LinkType(lt), &junk);
            }
        }
    }
}
