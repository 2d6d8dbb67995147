//! IEEE 802.11 data frames as Windows logs them (pktmon's native Wi-Fi
//! components, ndiscap's "native 802.11" media): MAC header, then LLC/SNAP
//! and the EtherType, then the network-layer packet. Only what attribution
//! needs: where the packet starts, its EtherType and the station addresses.
//! Management, control and null frames carry no packet and give `None`.
//! Windows logs received frames after decryption with the Protected bit
//! still set (seen in every Wi-Fi pktmon trace of the corpus): the LLC/SNAP
//! header right after the MAC header is what tells a readable body, and an
//! encrypted one (a CCMP/TKIP header there) gives `None`.

/// LINKTYPE_IEEE802_11 (no radio header).
pub const LINKTYPE: crate::link::LinkType = crate::link::LinkType(105);

/// An 802.11 data frame's packet: where it starts and its EtherType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame {
    /// Offset of the network-layer packet (after LLC/SNAP).
    pub payload: usize,
    pub ether_type: u16,
    /// Source and destination station (the frame's SA and DA).
    pub src: [u8; 6],
    pub dst: [u8; 6],
}

fn mac(d: &[u8], at: usize) -> Option<[u8; 6]> {
    d.get(at..at + 6)?.try_into().ok()
}

/// Reads `d` as an 802.11 data frame carrying an LLC/SNAP packet.
pub fn data_frame(d: &[u8]) -> Option<DataFrame> {
    let (&fc0, &fc1) = (d.first()?, d.get(1)?);
    // Protocol version 0, type 2 (data); subtypes with bit 2 set carry no data.
    if fc0 & 0x0f != 0x08 || fc0 & 0x40 != 0 {
        return None;
    }
    let (to_ds, from_ds) = (fc1 & 0x01 != 0, fc1 & 0x02 != 0);
    let mut h = 24;
    if to_ds && from_ds {
        h += 6;
    }
    if fc0 & 0x80 != 0 {
        // QoS data: QoS control, and an HT control field when Order is set.
        h += 2;
        if fc1 & 0x80 != 0 {
            h += 4;
        }
    }
    let llc = d.get(h..h + 8)?;
    if llc[..3] != [0xaa, 0xaa, 0x03] || !(llc[3..6] == [0, 0, 0] || llc[3..6] == [0, 0, 0xf8]) {
        return None;
    }
    let (a1, a2, a3) = (mac(d, 4)?, mac(d, 10)?, mac(d, 16)?);
    let (dst, src) = match (to_ds, from_ds) {
        (false, false) => (a1, a2),
        (true, false) => (a3, a2),
        (false, true) => (a1, a3),
        (true, true) => (a3, mac(d, 24)?),
    };
    Some(DataFrame {
        payload: h + 8,
        ether_type: u16::from_be_bytes([llc[6], llc[7]]),
        src,
        dst,
    })
}

/// Rewrites an 802.11 data frame as the Ethernet II frame the station's
/// stack sees (DA, SA, EtherType, then the packet) into `out` (cleared and
/// reused: no allocation once it has grown), so that a Wi-Fi NIC's received
/// and sent packets land on one interface. Returns the bytes the frame
/// shrank by (its 802.11 and LLC/SNAP headers less the 14-byte Ethernet
/// one), or `None` when `d` is no readable data frame (`out` untouched).
pub fn to_ethernet(d: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let f = data_frame(d)?;
    let body = d.get(f.payload..)?;
    out.clear();
    out.extend_from_slice(&f.dst);
    out.extend_from_slice(&f.src);
    out.extend_from_slice(&f.ether_type.to_be_bytes());
    out.extend_from_slice(body);
    Some(f.payload - 14)
}

/// Length of an Ethernet II header with up to two VLAN tags (whatever the
/// EtherType), cut to the frame.
pub fn ethernet_header_len(d: &[u8]) -> usize {
    let mut at = 12;
    while at < 20 && matches!(d.get(at..at + 2), Some([0x81, 0x00] | [0x88, 0xa8])) {
        at += 4;
    }
    (at + 2).min(d.len())
}

/// Offset of the network-layer packet of an Ethernet II frame carrying IPv4,
/// IPv6 or ARP (one or two VLAN tags allowed), or `None` when the bytes do
/// not read as such a frame.
pub fn ethernet_payload(d: &[u8]) -> Option<usize> {
    let mut at = 12;
    for _ in 0..3 {
        match u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]) {
            0x0800 | 0x86dd | 0x0806 => return Some(at + 2),
            0x8100 | 0x88a8 => at += 4,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FromDS data frame (AP to station) with LLC/SNAP and IPv4, as pktmon
    /// logged it at a Wi-Fi miniport.
    pub(crate) fn from_ds_ipv4() -> Vec<u8> {
        let mut f = vec![0x08, 0x02, 0, 0];
        f.extend_from_slice(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0x66]); // a1 = DA
        f.extend_from_slice(&[0x28, 0x6f, 0x7f, 0xb0, 0x0c, 0xc9]); // a2 = BSSID
        f.extend_from_slice(&[0x00, 0x00, 0x0c, 0x9f, 0xf0, 0x82]); // a3 = SA
        f.extend_from_slice(&[0x70, 0x84]);
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0xc0, 0x00, 0x64]);
        f
    }

    #[test]
    fn as_ethernet() {
        let f = from_ds_ipv4();
        let mut out = vec![0xee; 3];
        assert_eq!(to_ethernet(&f, &mut out), Some(32 - 14));
        assert_eq!(&out[..6], &f[4..10]); // DA = a1
        assert_eq!(&out[6..12], &f[16..22]); // SA = a3
        assert_eq!(&out[12..], &[0x08, 0x00, 0x45, 0xc0, 0x00, 0x64]);
        assert_eq!(ethernet_payload(&out), Some(14));
        let mut n = f.clone();
        n[0] = 0x48;
        assert_eq!(to_ethernet(&n, &mut out), None);
        assert_eq!(out.len(), 18, "left as it was");
    }

    #[test]
    fn data_frames() {
        let f = from_ds_ipv4();
        let d = data_frame(&f).unwrap();
        assert_eq!((d.payload, d.ether_type), (32, 0x0800));
        assert_eq!(d.dst, [0x01, 0x00, 0x5e, 0x00, 0x00, 0x66]);
        assert_eq!(d.src, [0x00, 0x00, 0x0c, 0x9f, 0xf0, 0x82]);
        // QoS data with HT control, ToDS: SA = a2, DA = a3.
        let mut q = f.clone();
        q[0] = 0x88;
        q[1] = 0x81;
        q.splice(24..24, [0u8; 6]);
        let d = data_frame(&q).unwrap();
        assert_eq!(
            (d.payload, d.src, d.dst),
            (
                38,
                f[10..16].try_into().unwrap(),
                f[16..22].try_into().unwrap()
            )
        );
        // Protected but decrypted (as Windows logs it): read; still
        // encrypted (a CCMP header where LLC/SNAP would be): nothing.
        let mut p = f.clone();
        p[1] |= 0x40;
        assert_eq!(data_frame(&p).map(|d| d.payload), Some(32));
        p.splice(24..24, [0x12, 0x34, 0, 0x20, 0, 0, 0, 0]);
        assert_eq!(data_frame(&p), None);
        // Null, management, cut: nothing.
        let mut n = f.clone();
        n[0] = 0x48;
        assert_eq!(data_frame(&n), None);
        let mut m = f.clone();
        m[0] = 0x80;
        assert_eq!(data_frame(&m), None);
        assert_eq!(data_frame(&f[..31]), None);
        // Ethernet bytes are not an 802.11 data frame, and the other way round.
        let eth = [&f[4..10], &f[16..22], &[0x08, 0x00, 0x45][..]].concat();
        assert_eq!(data_frame(&eth), None);
        assert_eq!(ethernet_payload(&eth), Some(14));
        assert_eq!(ethernet_payload(&f), None);
    }

    #[test]
    fn ethernet_vlan() {
        let mut e = vec![0u8; 12];
        e.extend_from_slice(&[0x81, 0x00, 0, 5, 0x86, 0xdd, 0x60]);
        assert_eq!(ethernet_payload(&e), Some(18));
        assert_eq!(ethernet_header_len(&e), 18);
        e[16] = 0x12;
        assert_eq!(ethernet_payload(&e), None);
        assert_eq!(ethernet_header_len(&e), 18);
        assert_eq!(ethernet_header_len(&e[..5]), 5);
    }
}
