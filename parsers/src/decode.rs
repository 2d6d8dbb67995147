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
    /// An IP fragment other than the first: no transport header.
    Fragment,
    /// Another IP protocol, or a transport header cut by the snaplen.
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
            Err(_) => other,
        },
        etherparse::ip_number::UDP => match UdpSlice::from_slice_lax(body) {
            Ok(u) => Transport::Udp(UdpView {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
                missing,
            }),
            Err(_) => other,
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
        d
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
