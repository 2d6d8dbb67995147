//! Microsoft-Windows-NDIS-PacketCapture (ndiscap, what `netsh trace
//! capture=yes` enables): event 1001 "Packet Fragment" = MiniportIfIndex u32,
//! LowerIfIndex u32, FragmentSize u32, `Fragment[FragmentSize]` (newer builds
//! append GFT fields after it); event 1003 "VMSwitch Packet Fragment" carries
//! the source switch port and names before its fragment. Keywords mark the
//! medium, the direction and, for packets split over several events (before
//! Windows 8.1), the first and last fragment. Layouts and keyword bits as
//! microsoft/etl2pcapng and the provider manifest give them.

use super::container::{u32_at, utf16z};
use crate::link::LinkType;

pub use super::container::NDIS_PROVIDER;
pub const EVENT_FRAGMENT: u16 = 1001;
pub const EVENT_METADATA: u16 = 1002;
pub const EVENT_VMSWITCH_FRAGMENT: u16 = 1003;

/// Keyword bits of the provider.
pub mod kw {
    pub const ETHERNET_8023: u64 = 0x1;
    pub const MEDIA_WIRELESS_WAN: u64 = 0x200;
    pub const MEDIA_NATIVE_802_11: u64 = 0x1_0000;
    pub const VMSWITCH: u64 = 0x100_0000;
    pub const PACKET_START: u64 = 0x4000_0000;
    pub const PACKET_END: u64 = 0x8000_0000;
    pub const SEND: u64 = 0x1_0000_0000;
    pub const RECEIVE: u64 = 0x2_0000_0000;
}

/// LINKTYPE_IEEE802_11.
pub const LINKTYPE_802_11: LinkType = LinkType::IEEE802_11;

/// One logged fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub miniport: u32,
    pub lower: u32,
    /// Source switch port of a VMSwitch fragment (event 1003).
    pub port: Option<u32>,
    pub data: &'a [u8],
}

/// Decodes the payload of event 1001 or 1003; `None` when it does not hold
/// together.
pub fn parse_fragment(id: u16, p: &[u8]) -> Option<Fragment<'_>> {
    let miniport = u32_at(p, 0)?;
    let lower = u32_at(p, 4)?;
    match id {
        EVENT_FRAGMENT => {
            let size = u32_at(p, 8)? as usize;
            let data = p.get(12..12usize.checked_add(size)?)?;
            Some(Fragment {
                miniport,
                lower,
                port: None,
                data,
            })
        }
        EVENT_VMSWITCH_FRAGMENT => parse_vmswitch(miniport, lower, p),
        _ => None,
    }
}

/// Event 1003: SourcePortId u32, SourcePortName, SourceNicName,
/// SourceNicType (NUL-terminated UTF-16), DestinationCount u32, the
/// destinations, FragmentSize u32, Fragment, OOBDataSize u32, OOBData. The
/// width of the destination list is not documented: we accept the reading
/// whose sizes account for the payload exactly.
fn parse_vmswitch(miniport: u32, lower: u32, p: &[u8]) -> Option<Fragment<'_>> {
    let port = u32_at(p, 8)?;
    let mut pos = 12;
    for _ in 0..3 {
        let (_, used) = utf16z(p.get(pos..)?, 1024);
        pos += used;
    }
    let dests = u32_at(p, pos)? as usize;
    pos += 4;
    for skip in [
        0usize,
        8,
        dests.saturating_mul(8),
        dests.saturating_mul(4),
        dests.saturating_mul(16),
    ] {
        let at = pos.saturating_add(skip);
        let Some(size) = u32_at(p, at) else { continue };
        let start = at + 4;
        let Some(end) = start.checked_add(size as usize) else {
            continue;
        };
        let Some(oob) = u32_at(p, end) else { continue };
        if end + 4 + oob as usize == p.len() {
            return Some(Fragment {
                miniport,
                lower,
                port: Some(port),
                data: p.get(start..end)?,
            });
        }
    }
    None
}

/// Link type the keywords announce (etl2pcapng's rule).
pub fn link_type(keywords: u64) -> LinkType {
    if keywords & kw::MEDIA_NATIVE_802_11 != 0 {
        LINKTYPE_802_11
    } else if keywords & kw::MEDIA_WIRELESS_WAN != 0 {
        LinkType::RAW
    } else {
        LinkType::ETHERNET
    }
}

/// 1 = send, 2 = receive, 0 = not said.
pub fn direction(keywords: u64) -> u8 {
    if keywords & kw::SEND != 0 {
        1
    } else if keywords & kw::RECEIVE != 0 {
        2
    } else {
        0
    }
}

/// Length on the wire, inferred from the IP header when the logged bytes
/// were cut (ndiscap records no original length). Never below `data.len()`;
/// LSO frames (IP length 0) keep their logged length.
pub fn infer_wire_len(link: LinkType, data: &[u8]) -> u32 {
    let cap = data.len() as u32;
    let ip_len = |ip: &[u8]| -> Option<u32> {
        match ip.first()? >> 4 {
            4 => Some(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as u32),
            6 => Some(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]) as u32 + 40),
            _ => None,
        }
    };
    let inferred = match link {
        LinkType::ETHERNET => {
            let mut off = 12;
            let mut ty = u16_at_be(data, off);
            if ty == Some(0x8100) || ty == Some(0x88a8) {
                off += 4;
                ty = u16_at_be(data, off);
            }
            match ty {
                Some(0x0800) | Some(0x86dd) => data
                    .get(off + 2..)
                    .and_then(ip_len)
                    .map(|l| l + off as u32 + 2),
                _ => None,
            }
        }
        LinkType::RAW => ip_len(data),
        _ => None,
    };
    inferred.map_or(cap, |l| l.max(cap))
}

fn u16_at_be(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

/// Largest packet we assemble from fragments.
pub const MAX_PACKET: usize = 256 << 10;
/// Packets being assembled at once (one per logging thread).
const MAX_SLOTS: usize = 16;

/// Who logs the fragments of one packet: they arrive in order from one
/// thread, at one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragKey {
    pub process_id: u32,
    pub thread_id: u32,
    pub lower: u32,
    pub port: Option<u32>,
}

#[derive(Debug)]
struct Slot {
    key: FragKey,
    active: bool,
    age: u64,
    data: Vec<u8>,
}

/// Result of offering one fragment to the [`Assembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// The fragment is a whole packet: use it as is.
    Single,
    /// A packet completed in slot `n`: read it with [`Assembler::data`],
    /// then [`Assembler::release`] it.
    Assembled(usize),
    /// Stored, waiting for more.
    Pending,
    /// Dropped: the packet would exceed [`MAX_PACKET`].
    TooLarge,
}

/// Joins multi-event packets (PacketStart ... PacketEnd keywords) per
/// logging thread and layer. Memory: at most `MAX_SLOTS` x [`MAX_PACKET`].
#[derive(Debug, Default)]
pub struct Assembler {
    slots: Vec<Slot>,
    clock: u64,
    /// Unfinished packets thrown away (restarted, evicted).
    pub abandoned: u64,
}

impl Assembler {
    fn find(&self, key: &FragKey) -> Option<usize> {
        self.slots.iter().position(|s| s.active && s.key == *key)
    }

    /// Offers a fragment with its event's keywords.
    pub fn push(&mut self, key: FragKey, frag: &[u8], keywords: u64) -> Push {
        let start = keywords & kw::PACKET_START != 0;
        let end = keywords & kw::PACKET_END != 0;
        let mut slot = self.find(&key);
        if start {
            if let Some(i) = slot.take() {
                self.slots[i].active = false;
                self.abandoned += 1;
            }
        }
        if end && slot.is_none() {
            return Push::Single;
        }
        let i = match slot {
            Some(i) => i,
            None => self.open(key),
        };
        self.clock += 1;
        let s = &mut self.slots[i];
        s.age = self.clock;
        if s.data.len() + frag.len() > MAX_PACKET {
            s.active = false;
            return Push::TooLarge;
        }
        s.data.extend_from_slice(frag);
        if end {
            Push::Assembled(i)
        } else {
            Push::Pending
        }
    }

    fn open(&mut self, key: FragKey) -> usize {
        let i = if let Some(i) = self.slots.iter().position(|s| !s.active) {
            i
        } else if self.slots.len() < MAX_SLOTS {
            self.slots.push(Slot {
                key,
                active: false,
                age: 0,
                data: Vec::new(),
            });
            self.slots.len() - 1
        } else {
            // Evict the stalest unfinished packet.
            self.abandoned += 1;
            self.slots
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.age)
                .map_or(0, |(i, _)| i)
        };
        let s = &mut self.slots[i];
        s.key = key;
        s.active = true;
        s.data.clear();
        i
    }

    /// Bytes of a completed packet.
    pub fn data(&self, i: usize) -> &[u8] {
        self.slots.get(i).map_or(&[], |s| &s.data)
    }

    pub fn release(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            s.active = false;
            s.data.clear();
        }
    }

    /// Packets still unfinished (at the end of the file).
    pub fn pending(&self) -> usize {
        self.slots.iter().filter(|s| s.active).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: u32) -> FragKey {
        FragKey {
            process_id: 4,
            thread_id: t,
            lower: 7,
            port: None,
        }
    }

    #[test]
    fn fragments_join_per_thread() {
        let mut a = Assembler::default();
        let (s, e) = (kw::PACKET_START, kw::PACKET_END);
        assert_eq!(a.push(key(1), b"ab", s | e), Push::Single);
        assert_eq!(a.push(key(1), b"ab", s), Push::Pending);
        assert_eq!(a.push(key(2), b"xy", s), Push::Pending);
        assert_eq!(a.push(key(1), b"cd", 0), Push::Pending);
        let Push::Assembled(i) = a.push(key(1), b"ef", e) else {
            panic!()
        };
        assert_eq!(a.data(i), b"abcdef");
        a.release(i);
        // Restarting thread 2's packet abandons the first one.
        assert_eq!(a.push(key(2), b"12", s), Push::Pending);
        assert_eq!(a.abandoned, 1);
        let Push::Assembled(i) = a.push(key(2), b"34", e) else {
            panic!()
        };
        assert_eq!(a.data(i), b"1234");
        a.release(i);
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn oversized_packets_are_dropped() {
        let mut a = Assembler::default();
        let big = vec![0u8; MAX_PACKET];
        assert_eq!(a.push(key(1), &big, kw::PACKET_START), Push::Pending);
        assert_eq!(a.push(key(1), b"x", kw::PACKET_END), Push::TooLarge);
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn slots_are_bounded() {
        let mut a = Assembler::default();
        for t in 0..100 {
            a.push(key(t), b"zz", kw::PACKET_START);
        }
        assert!(a.pending() <= MAX_SLOTS);
        assert_eq!(a.abandoned, 100 - MAX_SLOTS as u64);
    }

    #[test]
    fn fragment_layouts() {
        let mut p = Vec::new();
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(&12u32.to_le_bytes());
        p.extend_from_slice(&3u32.to_le_bytes());
        p.extend_from_slice(b"abc");
        p.extend_from_slice(&[0u8; 16]); // GFT fields of newer builds
        let f = parse_fragment(EVENT_FRAGMENT, &p).unwrap();
        assert_eq!((f.miniport, f.lower, f.data), (7, 12, &b"abc"[..]));
        // FragmentSize beyond the payload.
        p[8] = 200;
        assert_eq!(parse_fragment(EVENT_FRAGMENT, &p), None);

        let mut v = Vec::new();
        for x in [7u32, 12, 3] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        for s in ["Port", "Nic", "Emulated"] {
            for u in s.encode_utf16().chain([0]) {
                v.extend_from_slice(&u.to_le_bytes());
            }
        }
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&[9u8; 8]); // one destination
        v.extend_from_slice(&2u32.to_le_bytes());
        v.extend_from_slice(b"hi");
        v.extend_from_slice(&4u32.to_le_bytes());
        v.extend_from_slice(&[0u8; 4]);
        let f = parse_fragment(EVENT_VMSWITCH_FRAGMENT, &v).unwrap();
        assert_eq!((f.port, f.data), (Some(3), &b"hi"[..]));
        assert_eq!(
            parse_fragment(EVENT_VMSWITCH_FRAGMENT, &v[..v.len() - 1]),
            None
        );
    }

    #[test]
    fn wire_length_from_ip_header() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0x05, 0xdc]); // IPv4 total 1500
        f.resize(64, 0);
        assert_eq!(infer_wire_len(LinkType::ETHERNET, &f), 1514);
        f[16] = 0;
        f[17] = 20; // shorter than captured (padding): keep captured
        assert_eq!(infer_wire_len(LinkType::ETHERNET, &f), 64);
        assert_eq!(infer_wire_len(LinkType::RAW, &[0x60, 0, 0, 0, 0, 10]), 50);
        assert_eq!(infer_wire_len(LinkType::ETHERNET, &[1, 2, 3]), 3);
    }
}
