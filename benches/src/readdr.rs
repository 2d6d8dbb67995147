//! Re-addressing one frame in place for copy `k` of a capture: every IPv4
//! address gets `k` added to its third octet (carrying into the second, so
//! up to 65536 copies stay distinct), every IPv6 address gets `k` added to
//! its fourth 16-bit word (the subnet id of a /64). Multicast, broadcast,
//! loopback and unspecified addresses are left alone. The IPv4 header
//! checksum and the TCP/UDP/ICMPv6 checksums are updated incrementally
//! (RFC 1624), so a checksum that was right stays right (and one that was
//! wrong, e.g. left to offload, stays wrong the same way).
//!
//! Only what etherparse's lax slicer parses is touched; anything else (ARP,
//! unknown link types, damaged headers) is left as it is. Later IP fragments
//! get new addresses (and header checksum); first fragments also get their
//! transport checksum updated (IPv4 only: IPv6 fragments keep theirs).

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket};
use hvsleuth_parsers::LinkType;

use super::checksum;

/// Where the fields to rewrite are, as offsets into the frame.
#[derive(Debug, Clone, Copy)]
enum Layout {
    Ip(IpLayout),
    /// ARP for IPv4: offsets of the sender and target protocol addresses.
    Arp(usize, usize),
}

#[derive(Debug, Clone, Copy)]
struct IpLayout {
    /// Start of the IP header.
    ip: usize,
    v6: bool,
    /// Offset of the transport checksum field, when the transport header is
    /// there and its checksum covers the pseudo-header.
    l4_csum: Option<(usize, IpNumber)>,
}

fn offset_in(frame: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize)
}

fn layout(link: LinkType, frame: &[u8]) -> Option<Layout> {
    let p = match link {
        LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(frame).ok()?,
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => LaxSlicedPacket::from_ip(frame).ok()?,
        LinkType::NULL | LinkType::LOOP => LaxSlicedPacket::from_ip(frame.get(4..)?).ok()?,
        LinkType::LINUX_SLL => {
            let et = u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), frame.get(16..)?)
        }
        LinkType::LINUX_SLL2 => {
            let et = u16::from_be_bytes([*frame.first()?, *frame.get(1)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), frame.get(20..)?)
        }
        _ => return None,
    };
    let (ip, v6, payload, first_part) = match p.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let first = h.fragments_offset().value() == 0;
            (offset_in(frame, h.slice()), false, v4.payload(), first)
        }
        LaxNetSlice::Ipv6(v6) => {
            let pl = v6.payload();
            (
                offset_in(frame, v6.header().slice()),
                true,
                pl,
                !pl.fragmented,
            )
        }
        LaxNetSlice::Arp(a) => {
            if a.proto_addr_type() != EtherType::IPV4 || a.proto_addr_size() != 4 {
                return None;
            }
            return Some(Layout::Arp(
                offset_in(frame, a.sender_protocol_addr()),
                offset_in(frame, a.target_protocol_addr()),
            ));
        }
    };
    let field = match payload.ip_number {
        IpNumber::TCP => Some(16),
        IpNumber::UDP => Some(6),
        IpNumber::IPV6_ICMP => Some(2),
        _ => None,
    };
    let l4_csum = match field {
        Some(f) if first_part => {
            let at = offset_in(frame, payload.payload) + f;
            (at + 2 <= frame.len()).then_some((at, payload.ip_number))
        }
        _ => None,
    };
    Some(Layout::Ip(IpLayout { ip, v6, l4_csum }))
}

/// The IPv4 address of copy `k`.
pub fn map_v4(a: [u8; 4], k: u32) -> [u8; 4] {
    let ip = Ipv4Addr::from(a);
    if k == 0 || ip.is_multicast() || ip.is_broadcast() || ip.is_unspecified() || ip.is_loopback() {
        return a;
    }
    let low = u32::from_be_bytes([0, a[1], a[2], a[3]]);
    let low = low.wrapping_add(k.wrapping_mul(256)) & 0x00ff_ffff;
    let b = low.to_be_bytes();
    [a[0], b[1], b[2], b[3]]
}

/// The IPv6 address of copy `k`.
pub fn map_v6(a: [u8; 16], k: u32) -> [u8; 16] {
    let ip = Ipv6Addr::from(a);
    if k == 0 || ip.is_multicast() || ip.is_unspecified() || ip.is_loopback() {
        return a;
    }
    let mut out = a;
    let w = u16::from_be_bytes([a[6], a[7]]).wrapping_add(k as u16);
    out[6..8].copy_from_slice(&w.to_be_bytes());
    out
}

/// Re-addresses `frame` for copy `k`; returns whether it was an IP or ARP
/// frame whose addresses were considered (they may map to themselves).
pub fn readdress(link: LinkType, frame: &mut [u8], k: u32) -> bool {
    let l = match layout(link, frame) {
        None => return false,
        Some(_) if k == 0 => return true,
        Some(Layout::Arp(spa, tpa)) => {
            for at in [spa, tpa] {
                if let Some(a) = frame.get_mut(at..at + 4) {
                    let old: [u8; 4] = [a[0], a[1], a[2], a[3]];
                    a.copy_from_slice(&map_v4(old, k));
                }
            }
            return true;
        }
        Some(Layout::Ip(l)) => l,
    };
    let (alen, src_at) = if l.v6 { (16, l.ip + 8) } else { (4, l.ip + 12) };
    let span = src_at..src_at + 2 * alen;
    let Some(old) = frame.get(span.clone()) else {
        return false;
    };
    let mut old_buf = [0u8; 32];
    old_buf[..2 * alen].copy_from_slice(old);
    let old = &old_buf[..2 * alen];
    let mut new_buf = [0u8; 32];
    if l.v6 {
        for (i, chunk) in old.chunks_exact(16).enumerate() {
            let a: [u8; 16] = chunk.try_into().unwrap_or([0; 16]);
            new_buf[i * 16..i * 16 + 16].copy_from_slice(&map_v6(a, k));
        }
    } else {
        for (i, chunk) in old.chunks_exact(4).enumerate() {
            let a: [u8; 4] = chunk.try_into().unwrap_or([0; 4]);
            new_buf[i * 4..i * 4 + 4].copy_from_slice(&map_v4(a, k));
        }
    }
    let new = &new_buf[..2 * alen];
    if old == new {
        return true;
    }
    frame[span].copy_from_slice(new);
    if !l.v6 {
        patch(frame, l.ip + 10, old, new, false);
    }
    if let Some((at, proto)) = l.l4_csum {
        patch(frame, at, old, new, proto == IpNumber::UDP);
    }
    true
}

/// Incrementally updates the checksum stored at `at`. For UDP a zero
/// checksum means "none" and stays zero; a computed zero is sent as 0xffff.
fn patch(frame: &mut [u8], at: usize, old: &[u8], new: &[u8], udp: bool) {
    let Some(f) = frame.get_mut(at..at + 2) else {
        return;
    };
    let hc = u16::from_be_bytes([f[0], f[1]]);
    if udp && hc == 0 {
        return;
    }
    let mut v = checksum::update(hc, old, new);
    if udp && v == 0 {
        v = 0xffff;
    }
    f.copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::Csum;

    /// Ethernet + IPv4 + UDP frame with correct checksums.
    fn udp4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let ulen = 8 + payload.len();
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
        ip[2..4].copy_from_slice(&((20 + ulen) as u16).to_be_bytes());
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let mut c = Csum::new();
        c.add(&ip);
        let v = c.finish();
        ip[10..12].copy_from_slice(&v.to_be_bytes());
        f.extend_from_slice(&ip);
        let mut u = vec![0x0d, 0x0f, 0x0d, 0x0f, 0, 0, 0, 0];
        u[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
        u.extend_from_slice(payload);
        let mut c = Csum::new();
        c.add(&src);
        c.add(&dst);
        c.add_u16(17);
        c.add_u16(ulen as u16);
        c.add(&u);
        let v = c.finish();
        u[6..8].copy_from_slice(&v.to_be_bytes());
        f.extend_from_slice(&u);
        f
    }

    #[test]
    fn ipv4_udp_readdressed_with_valid_checksums() {
        let mut f = udp4([172, 17, 0, 184], [172, 17, 0, 189], b"hello, cluster");
        assert!(readdress(LinkType::ETHERNET, &mut f, 3));
        let want = udp4([172, 17, 3, 184], [172, 17, 3, 189], b"hello, cluster");
        assert_eq!(f, want);
    }

    #[test]
    fn carry_into_second_octet_and_specials_kept() {
        assert_eq!(map_v4([10, 0, 255, 7], 1), [10, 1, 0, 7]);
        assert_eq!(map_v4([255, 255, 255, 255], 5), [255, 255, 255, 255]);
        assert_eq!(map_v4([224, 0, 0, 251], 5), [224, 0, 0, 251]);
        let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 1, 2, 3, 4).octets();
        assert_eq!(
            Ipv6Addr::from(map_v6(ll, 2)),
            Ipv6Addr::new(0xfe80, 0, 0, 2, 1, 2, 3, 4)
        );
        let mc = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets();
        assert_eq!(map_v6(mc, 2), mc);
    }

    #[test]
    fn arp_readdressed() {
        let mut arp = vec![0xffu8; 14];
        arp[12] = 0x08;
        arp[13] = 0x06;
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[2, 2, 2, 2, 2, 2, 10, 0, 0, 1]);
        arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        let mut want = arp.clone();
        want[28..32].copy_from_slice(&[10, 0, 4, 1]);
        want[38..42].copy_from_slice(&[10, 0, 4, 2]);
        assert!(readdress(LinkType::ETHERNET, &mut arp, 4));
        assert_eq!(arp, want);
    }

    #[test]
    fn non_ip_untouched() {
        let mut f = vec![0xffu8; 14];
        f[12] = 0x88;
        f[13] = 0xcc; // LLDP
        f.extend_from_slice(&[1u8; 40]);
        let before = f.clone();
        assert!(!readdress(LinkType::ETHERNET, &mut f, 4));
        assert_eq!(f, before);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(mut data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
                        k in 0u32..70000, link in proptest::sample::select(vec![0u16, 1, 101, 113, 228, 229, 276])) {
            readdress(LinkType(link), &mut data, k);
        }
    }
}
