//! Microsoft-Windows-PktMon (`pktmon start --capture`): event 160 "frame
//! payload" (170: the same for a dropped frame) = PktGroupId u64, PktNumber
//! u16, AppearanceCount u16, DirTag u16, PacketType u16, ComponentId u16,
//! EdgeId u16, FilterId u16, DropReason u32, DropLocation u32,
//! OriginalPayloadSize u16, LoggedPayloadSize u16, then the frame. One packet
//! is logged at every component it crosses, with the same PktGroupId and
//! PktNumber. Component events (20: info, 30: integer property) say which
//! interface a component belongs to. Layouts per Microsoft's NetMon parsers
//! for PacketMon.

use std::collections::{HashMap, HashSet, VecDeque};

use super::container::{u16_at, u32_at, utf16z_into};
use crate::link::LinkType;

pub use super::container::PKTMON_PROVIDER;
pub const EVENT_COMPONENT_INFO: u16 = 20;
pub const EVENT_COMPONENT_PROP_UINT: u16 = 30;
pub const EVENT_FRAME: u16 = 160;
pub const EVENT_FRAME_DROP: u16 = 170;

/// Bytes before the frame in events 160/170.
pub const FRAME_HEADER_LEN: usize = 34;

/// A frame logged by one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub group: u64,
    pub number: u16,
    /// The copy's place in the packet's path (1, 2, ...), or 0: newer
    /// pktmon builds write 0 and a new PktGroupId for every copy, so the
    /// copies of one packet can only be told by their bytes
    /// ([`copy_fingerprint`]).
    pub appearance: u16,
    /// 0 none, 1 in, 2 out, 3 rx, 4 tx, 5 ingress, 6 egress.
    pub direction: u16,
    /// 1 Ethernet, 2 Wi-Fi, 3 mobile broadband (IP).
    pub packet_type: u16,
    pub component: u16,
    /// Which side of the component (1 lower, 2 upper).
    pub edge: u16,
    pub original_size: u16,
    pub data: &'a [u8],
}

impl Frame<'_> {
    /// The direction as the pipeline takes it (`true` outbound): Tx/Out
    /// leave the host, Rx/In arrive (checked on `pktmon-vpn-capture`: 2,684
    /// events of 3 and 962 of 4, as etl2txt's 2,684 "Rx" and 962 "Tx").
    /// Ingress/egress (vSwitch ports, relative to the switch) and none: not said.
    pub fn outbound(&self) -> Option<bool> {
        match self.direction {
            1 | 3 => Some(false),
            2 | 4 => Some(true),
            _ => None,
        }
    }

    /// `None` for packet types we cannot hand on (unknown). A Wi-Fi copy
    /// (type 2) whose bytes are an Ethernet II frame and no 802.11 data
    /// frame is Ethernet: pktmon logs the Ethernet frame that native Wi-Fi
    /// filters pass up and down with type 2 at some of their edges (seen on
    /// two Windows 11 traces: a broadcast MAC, then EtherType 0x0800).
    pub fn link_type(&self) -> Option<LinkType> {
        match self.packet_type {
            1 => Some(LinkType::ETHERNET),
            2 if crate::ieee80211::data_frame(self.data).is_none()
                && crate::ieee80211::ethernet_payload(self.data).is_some() =>
            {
                Some(LinkType::ETHERNET)
            }
            2 => Some(super::ndis::LINKTYPE_802_11),
            3 => Some(LinkType::RAW),
            _ => None,
        }
    }

    /// The network-layer packet inside the frame, found by its bytes (not
    /// by the packet type, which pktmon also writes on Ethernet copies): an
    /// 802.11 data frame's body, else what follows an Ethernet II header;
    /// the whole frame for type 3 (IP).
    fn network_packet(&self) -> (usize, &[u8]) {
        let off = match self.packet_type {
            3 => 0,
            _ => crate::ieee80211::data_frame(self.data)
                .map(|f| f.payload)
                .unwrap_or_else(|| crate::ieee80211::ethernet_header_len(self.data)),
        };
        (off, self.data.get(off..).unwrap_or(&[]))
    }
}

/// Decodes the payload of event 160 or 170.
pub fn parse_frame(p: &[u8]) -> Option<Frame<'_>> {
    // One length check for the fixed part, then fixed-offset reads.
    let h: &[u8; FRAME_HEADER_LEN] = p.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
    let r16 = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let logged = r16(32) as usize;
    Some(Frame {
        group: u64::from_le_bytes(h[..8].try_into().expect("8 bytes")),
        number: r16(8),
        appearance: r16(10),
        direction: r16(12),
        packet_type: r16(14),
        component: r16(16),
        edge: r16(18),
        original_size: r16(30),
        data: p.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + logged)?,
    })
}

/// Most components we remember (a host has tens to hundreds).
pub const MAX_COMPONENTS: usize = 4096;
/// Addresses remembered per NIC.
const MAX_ADDRESSES: usize = 8;

/// Component table events (written at `pktmon start` and at stop):
/// 20 = ComponentId, type, name, description (UTF-16); 30 = integer
/// property (1 IfIndex, 2 MiniportIfIndex, 3 LowerIfIndex, ...); 65/66 =
/// IPv4/IPv6 address; 70 = physical address (length u32, bytes).
pub const EVENT_COMPONENT_IPV4: u16 = 65;
pub const EVENT_COMPONENT_IPV6: u16 = 66;
pub const EVENT_COMPONENT_PHYS_ADDR: u16 = 70;

/// Whether event `id` is one of the component table's.
pub fn is_component_event(id: u16) -> bool {
    matches!(
        id,
        EVENT_COMPONENT_INFO
            | EVENT_COMPONENT_PROP_UINT
            | EVENT_COMPONENT_IPV4
            | EVENT_COMPONENT_IPV6
            | EVENT_COMPONENT_PHYS_ADDR
    )
}

/// What the component events said about one component.
#[derive(Debug, Default, Clone)]
pub struct Component {
    pub if_index: Option<u32>,
    pub miniport_if_index: Option<u32>,
    /// Driver (e.g. `rtwlane02.sys`).
    pub name: String,
    /// e.g. "Realtek RTL8723BE 802.11 bgn Wi-Fi Adapter".
    pub description: String,
    pub mac: Option<[u8; 6]>,
    pub addresses: Vec<std::net::IpAddr>,
}

/// What the component events told about each component.
#[derive(Debug, Default, Clone)]
pub struct Components {
    map: HashMap<u16, Component, foldhash::fast::RandomState>,
}

impl Components {
    /// Takes in a component table event (see [`is_component_event`]).
    pub fn learn(&mut self, id: u16, p: &[u8]) {
        let Some(comp) = u16_at(p, 0) else { return };
        if self.map.len() >= MAX_COMPONENTS && !self.map.contains_key(&comp) {
            return;
        }
        let e = self.map.entry(comp).or_default();
        match id {
            EVENT_COMPONENT_INFO => {
                let rest = p.get(4..).unwrap_or(&[]);
                // In place: the table is logged again at every start/stop.
                let used = utf16z_into(rest, 256, &mut e.name);
                utf16z_into(rest.get(used..).unwrap_or(&[]), 256, &mut e.description);
            }
            EVENT_COMPONENT_PROP_UINT => {
                let (Some(ty), Some(v)) = (u16_at(p, 2), u32_at(p, 4)) else {
                    return;
                };
                match ty {
                    1 => e.if_index = Some(v),
                    2 => e.miniport_if_index = Some(v),
                    _ => {}
                }
            }
            EVENT_COMPONENT_IPV4 | EVENT_COMPONENT_IPV6 => {
                let a = if id == EVENT_COMPONENT_IPV4 {
                    p.get(4..8)
                        .map(|b| std::net::IpAddr::from([b[0], b[1], b[2], b[3]]))
                } else {
                    p.get(4..20).map(|b| {
                        let a: [u8; 16] = b.try_into().expect("16 bytes");
                        std::net::IpAddr::from(a)
                    })
                };
                if let Some(a) = a {
                    if e.addresses.len() < MAX_ADDRESSES && !e.addresses.contains(&a) {
                        e.addresses.push(a);
                    }
                }
            }
            EVENT_COMPONENT_PHYS_ADDR if u32_at(p, 4) == Some(6) => {
                if let Some(m) = p.get(8..14) {
                    e.mac = m.try_into().ok();
                }
            }
            _ => {}
        }
    }

    /// The NIC (interface index) a component's packets belong to: its
    /// miniport's, else its own.
    pub fn if_index(&self, comp: u16) -> Option<u32> {
        self.map
            .get(&comp)
            .and_then(|e| e.miniport_if_index.or(e.if_index))
    }

    pub fn name(&self, comp: u16) -> Option<&str> {
        self.map
            .get(&comp)
            .map(|e| e.name.as_str())
            .filter(|n| !n.is_empty())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The NIC with interface index `ifindex`: its miniport component
    /// (description, MAC) and the addresses of every component on it.
    pub fn nic(&self, ifindex: u32) -> Nic {
        let mut nic = Nic::default();
        let mut ids: Vec<&u16> = self.map.keys().collect();
        ids.sort();
        for id in ids {
            let c = &self.map[id];
            if c.miniport_if_index.is_none() && c.if_index == Some(ifindex) {
                if nic.description.is_empty() {
                    nic.description = c.description.clone();
                    nic.driver = c.name.clone();
                }
                nic.mac = nic.mac.or(c.mac);
            }
            if c.miniport_if_index.or(c.if_index) == Some(ifindex) {
                for a in &c.addresses {
                    if nic.addresses.len() < MAX_ADDRESSES && !nic.addresses.contains(a) {
                        nic.addresses.push(*a);
                    }
                }
            }
        }
        nic
    }
}

/// A NIC as the component table describes it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Nic {
    pub description: String,
    pub driver: String,
    pub mac: Option<[u8; 6]>,
    pub addresses: Vec<std::net::IpAddr>,
}

/// Remembers recently seen packet keys, to count a packet once however many
/// components logged it. Bounded: the oldest keys are forgotten first.
#[derive(Debug)]
pub struct SeenKeys {
    set: HashSet<u64, foldhash::fast::RandomState>,
    order: VecDeque<u64>,
    cap: usize,
    /// The last [`RECENT`] keys inserted (all still in `set` when `cap >=
    /// RECENT`): pktmon logs a packet's copies microseconds apart, so most
    /// duplicates are found here without hashing.
    recent: [u64; RECENT],
    recent_len: usize,
    recent_at: usize,
}

const RECENT: usize = 8;

impl SeenKeys {
    pub fn new(cap: usize) -> SeenKeys {
        SeenKeys {
            set: HashSet::with_capacity_and_hasher(cap.min(1 << 16) + 1, Default::default()),
            order: VecDeque::new(),
            cap: cap.max(1),
            recent: [0; RECENT],
            recent_len: 0,
            recent_at: 0,
        }
    }

    /// True when `key` was seen before (a duplicate).
    #[inline]
    pub fn seen(&mut self, key: u64) -> bool {
        if self.recent[..self.recent_len].contains(&key) {
            return true;
        }
        if !self.set.insert(key) {
            return true;
        }
        if self.cap >= RECENT {
            self.recent[self.recent_at] = key;
            self.recent_at = (self.recent_at + 1) % RECENT;
            self.recent_len = (self.recent_len + 1).min(RECENT);
        }
        self.order.push_back(key);
        if self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        false
    }
}

/// What the copies of one packet logged by components of one NIC share,
/// whatever their link layer (802.11 at the miniport, Ethernet above the
/// native Wi-Fi filter, Ethernet alone on a wired NIC): the direction, the
/// network-layer packet's declared length (OriginalSize less the link header)
/// and its first 40 bytes (every copy holds them unless pktmon was told to
/// log fewer than about 90 bytes: it logs 128 by default). For IPv4 these
/// include the identification, so a retransmitted segment differs. Packets
/// that share all of this (IPv6 segments of one size) stay countable: the
/// caller counts a packet seen again at the same component edge as new, so
/// a collision swaps copies between packets without losing one.
pub fn copy_fingerprint(f: &Frame<'_>, nic: u64) -> u64 {
    let (off, l3) = f.network_packet();
    let declared = if f.original_size > 0 {
        (f.original_size as usize).saturating_sub(off)
    } else {
        l3.len()
    };
    let dir = match f.outbound() {
        None => 0u64,
        Some(false) => 1,
        Some(true) => 2,
    };
    let mix = |h: u64, v: u64| (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    let mut h = mix(mix(nic, dir << 32 | declared as u64), 0x5bd1_e995);
    let head = &l3[..l3.len().min(40)];
    let mut chunks = head.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    for &b in chunks.remainder() {
        h = mix(h, b as u64);
    }
    h
}

/// Key of one packet: its group and number within the group.
pub fn packet_key(f: &Frame<'_>) -> u64 {
    f.group.rotate_left(16) ^ f.number as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn frame_payload(group: u64, number: u16, comp: u16, data: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&group.to_le_bytes());
        for v in [number, 1, 1, 1, comp, 0, 0] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p.extend_from_slice(&[0u8; 8]);
        p.extend_from_slice(&(data.len() as u16).to_le_bytes());
        p.extend_from_slice(&(data.len() as u16).to_le_bytes());
        p.extend_from_slice(data);
        p
    }

    #[test]
    fn frame_layout() {
        let p = frame_payload(42, 3, 9, b"frame");
        let f = parse_frame(&p).unwrap();
        assert_eq!(
            (f.group, f.number, f.component, f.data),
            (42, 3, 9, &b"frame"[..])
        );
        assert_eq!(f.link_type(), Some(LinkType::ETHERNET));
        assert_eq!(parse_frame(&p[..p.len() - 1]), None);
    }

    #[test]
    fn keys_are_bounded() {
        let mut s = SeenKeys::new(4);
        assert!(!s.seen(1));
        assert!(s.seen(1));
        for k in 2..10 {
            assert!(!s.seen(k));
        }
        assert!(!s.seen(1), "forgotten after cap");
        assert!(s.set.len() <= 4 + 1);
    }

    #[test]
    fn components() {
        let mut c = Components::default();
        let mut p = 5u16.to_le_bytes().to_vec();
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&17u32.to_le_bytes());
        c.learn(EVENT_COMPONENT_PROP_UINT, &p);
        assert_eq!(c.if_index(5), Some(17));
        assert_eq!(c.if_index(6), None);
    }
}
