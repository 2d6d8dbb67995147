//! Repairs for pcapng files written by `pktmon etl2pcap` / `pktmon pcapng`
//! (section application "Packet Monitor"), applied as a [`PacketSink`]
//! wrapper between the capture reader and the analysis:
//!
//! * **Duplicates.** pktmon logs a packet once per stack component it
//!   crosses (miniport, filters, protocol), microseconds apart, and the
//!   pcapng keeps every copy on one interface with nothing to tell the
//!   components apart. A frame whose captured bytes and lengths equal a
//!   frame on the same interface less than [`DUP_WINDOW_NS`] earlier is one
//!   of these copies and is dropped (counted). A real retransmission is a
//!   new packet on the wire: TCP retransmits after at least an RTO or a
//!   round trip of duplicate ACKs, and an IPv4 retransmission carries a new
//!   IP identification, so it does not match.
//! * **Wi-Fi frames written as Ethernet** (MicrosoftDocs/windowsserverdocs
//!   issue 6696): an Ethernet-typed frame whose EtherType is no EtherType
//!   any stack sends and whose first bytes read as an 802.11 frame control
//!   is counted apart and not handed on (it would be attributed as bogus
//!   Ethernet traffic).
//!
//! Other captures pass through untouched (one branch per packet).

use crate::capture::{InterfaceInfo, Packet, PacketSink};
use crate::link::LinkType;

/// Copies of one packet further apart than this are different packets.
pub const DUP_WINDOW_NS: i64 = 500_000;
/// Recent frames compared against (pktmon logs at most tens of copies).
const RING: usize = 64;
/// The `shb_userappl` pktmon writes.
pub const PKTMON_APPLICATION: &str = "Packet Monitor";

#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    ts: i64,
    iface: u32,
    wire: u32,
    hash: u64,
}

/// What the filter removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PktmonRepairs {
    /// The input was written by pktmon (repairs active).
    pub pktmon: bool,
    /// Component copies dropped.
    pub duplicates_removed: u64,
    /// 802.11 frames mislabelled as Ethernet, not handed on.
    pub wifi_frames: u64,
}

/// The sink wrapper (see the module docs).
pub struct PktmonPcapngFilter<'s> {
    inner: &'s mut dyn PacketSink,
    active: bool,
    ring: [Seen; RING],
    next: usize,
    /// The direction flag of the next packet, forwarded only with a packet
    /// that is delivered (a dropped copy must not pass its flag on).
    direction: Option<bool>,
    pub repairs: PktmonRepairs,
}

impl<'s> PktmonPcapngFilter<'s> {
    pub fn new(inner: &'s mut dyn PacketSink) -> PktmonPcapngFilter<'s> {
        PktmonPcapngFilter {
            inner,
            active: false,
            ring: [Seen::default(); RING],
            next: 0,
            direction: None,
            repairs: PktmonRepairs::default(),
        }
    }

    /// Whether `p` repeats a frame seen within the window; remembers it.
    fn duplicate(&mut self, p: &Packet<'_>) -> bool {
        let hash = hash(p.data);
        for s in &self.ring {
            if s.hash == hash
                && s.iface == p.iface
                && s.wire == p.wire_len
                && p.ts_ns >= s.ts
                && p.ts_ns - s.ts <= DUP_WINDOW_NS
            {
                return true;
            }
        }
        self.ring[self.next] = Seen {
            ts: p.ts_ns,
            iface: p.iface,
            wire: p.wire_len,
            hash,
        };
        self.next = (self.next + 1) % RING;
        false
    }
}

/// FNV-1a over the captured bytes (pktmon copies are byte-identical).
fn hash(d: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ d.len() as u64;
    let mut chunks = d.chunks_exact(8);
    for c in &mut chunks {
        h ^= u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = h.wrapping_mul(0x0000_0100_0000_01b3).rotate_left(23);
    }
    for &b in chunks.remainder() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | 1
}

/// EtherTypes (and 802.3 lengths) real stacks send.
fn plausible_ethertype(t: u16) -> bool {
    t <= 1500
        || matches!(
            t,
            0x0800
                | 0x0806
                | 0x86dd
                | 0x8100
                | 0x88a8
                | 0x9100
                | 0x8035
                | 0x8137
                | 0x809b
                | 0x80f3
                | 0x8808
                | 0x8809
                | 0x8847
                | 0x8848
                | 0x8863
                | 0x8864
                | 0x886f
                | 0x888e
                | 0x8892
                | 0x889a
                | 0x88b5
                | 0x88b6
                | 0x88b7
                | 0x88cc
                | 0x88e1
                | 0x88e3
                | 0x88e5
                | 0x88f7
                | 0x8902
                | 0x8906
                | 0x8914
                | 0x8915
                | 0x891d
                | 0x893a
                | 0x894f
                | 0x9000
                | 0x22f0
                | 0x22ea
                | 0x22f3
                | 0x0842
                | 0x6002
                | 0x6003
                | 0x6004
                | 0x8874
                | 0x8870
                | 0x88c7
                | 0x86df
                | 0x8819
        )
}

/// Whether an Ethernet-typed frame is really an 802.11 frame: an EtherType
/// no stack uses, and a first byte that is an 802.11 frame control (version
/// 0, type management/control/data) with a plausible subtype for its type.
pub fn looks_like_wifi(data: &[u8]) -> bool {
    let (Some(&fc0), Some(et)) = (data.first(), data.get(12..14)) else {
        return false;
    };
    let et = u16::from_be_bytes([et[0], et[1]]);
    if plausible_ethertype(et) {
        return false;
    }
    let version = fc0 & 3;
    let ty = (fc0 >> 2) & 3;
    let subtype = fc0 >> 4;
    version == 0
        && match ty {
            0 => !matches!(subtype, 6 | 7 | 15), // management (reserved excluded)
            1 => subtype >= 4,                   // control
            2 => !matches!(subtype, 13),         // data
            _ => false,
        }
}

impl PacketSink for PktmonPcapngFilter<'_> {
    fn interface(&mut self, info: &InterfaceInfo) {
        self.inner.interface(info);
    }

    fn next_direction(&mut self, outbound: bool) {
        self.direction = Some(outbound);
    }

    #[inline]
    fn packet(&mut self, p: &Packet<'_>) {
        let direction = self.direction.take();
        if self.active {
            if self.duplicate(p) {
                self.repairs.duplicates_removed += 1;
                return;
            }
            if p.link_type == LinkType::ETHERNET && looks_like_wifi(p.data) {
                self.repairs.wifi_frames += 1;
                return;
            }
        }
        if let Some(d) = direction {
            self.inner.next_direction(d);
        }
        self.inner.packet(p);
    }

    fn progress(&mut self, consumed: u64) {
        self.inner.progress(consumed);
    }

    fn section(&mut self, application: Option<&str>) {
        self.active = application.is_some_and(|a| a.trim() == PKTMON_APPLICATION);
        self.repairs.pktmon |= self.active;
        self.inner.section(application);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count(Vec<(i64, usize)>);
    impl PacketSink for Count {
        fn interface(&mut self, _: &InterfaceInfo) {}
        fn packet(&mut self, p: &Packet<'_>) {
            self.0.push((p.ts_ns, p.data.len()));
        }
    }

    fn pkt(ts: i64, data: &[u8]) -> Packet<'_> {
        Packet {
            iface: 0,
            link_type: LinkType::ETHERNET,
            ts_ns: ts,
            wire_len: data.len() as u32,
            data,
        }
    }

    /// An IPv6 TCP segment (no IP id: a retransmission is byte-identical).
    fn tcp6() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 20 + 100];
        f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        f[14] = 0x60;
        f[20] = 6;
        f[60] = 7;
        f
    }

    #[test]
    fn component_copies_go_retransmissions_stay() {
        let mut c = Count::default();
        let mut f = PktmonPcapngFilter::new(&mut c);
        f.section(Some("Packet Monitor"));
        let seg = tcp6();
        // One packet logged at 4 components, 2-5 µs apart.
        for (i, dt) in [0, 2_000, 4_000, 9_000].iter().enumerate() {
            f.packet(&pkt(1_000_000_000 + dt, &seg));
            assert_eq!(f.repairs.duplicates_removed, i as u64);
        }
        // Its TCP retransmission after a 200 ms RTO (and its copies).
        f.packet(&pkt(1_200_000_000, &seg));
        f.packet(&pkt(1_200_003_000, &seg));
        // A fast retransmit one millisecond later.
        f.packet(&pkt(1_201_000_000, &seg));
        assert_eq!(f.repairs.duplicates_removed, 4);
        assert_eq!(c.0.len(), 3);
    }

    #[test]
    fn other_captures_pass_untouched() {
        let mut c = Count::default();
        let mut f = PktmonPcapngFilter::new(&mut c);
        f.section(Some("Dumpcap (Wireshark) 4.0"));
        let seg = tcp6();
        f.packet(&pkt(0, &seg));
        f.packet(&pkt(1, &seg));
        let mut wifi = seg.clone();
        wifi[0] = 0x88;
        wifi[12] = 0x15;
        wifi[13] = 0x8f;
        f.packet(&pkt(2, &wifi));
        assert_eq!(f.repairs, PktmonRepairs::default());
        assert_eq!(c.0.len(), 3);
    }

    #[test]
    fn wifi_as_ethernet_is_counted_apart() {
        // QoS data frame control 0x88 0x41, bogus "EtherType" 0x158f (the
        // value from the public report).
        let mut w = vec![0u8; 128];
        w[0] = 0x88;
        w[1] = 0x41;
        w[12] = 0x15;
        w[13] = 0x8f;
        assert!(looks_like_wifi(&w));
        let mut ip = w.clone();
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(!looks_like_wifi(&ip));
        assert!(!looks_like_wifi(&w[..10]));
        let mut c = Count::default();
        let mut f = PktmonPcapngFilter::new(&mut c);
        f.section(Some("Packet Monitor"));
        f.packet(&pkt(0, &w));
        f.packet(&pkt(10_000_000, &ip));
        assert_eq!(f.repairs.wifi_frames, 1);
        assert_eq!(c.0.len(), 1);
    }

    /// demikernel/PktMon.cap (`pktmon etl2pcap` of PktMon.etl): 114 frames
    /// (tshark), 38 on the wire: the same figures as the ETL decode.
    #[test]
    #[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
    fn demikernel_cap_gives_38_packets() {
        #[derive(Default)]
        struct Keep(Vec<Vec<u8>>);
        impl PacketSink for Keep {
            fn interface(&mut self, _: &InterfaceInfo) {}
            fn packet(&mut self, p: &Packet<'_>) {
                self.0.push(p.data.to_vec());
            }
        }
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/pktmon/demikernel/PktMon.cap"
        );
        let mut k = Keep::default();
        let mut f = PktmonPcapngFilter::new(&mut k);
        let r = crate::capture::read_capture(std::fs::File::open(path).unwrap(), "cap", &mut f);
        assert_eq!(r.packets, 114);
        assert_eq!(
            f.repairs,
            PktmonRepairs {
                pktmon: true,
                duplicates_removed: 76,
                wifi_frames: 0
            }
        );
        assert_eq!(k.0.len(), 38);
        assert_eq!(k.0.iter().map(|d| d.len()).sum::<usize>(), 38 * 98);
        assert_eq!(k.0.iter().filter(|d| d[34] == 8).count(), 19);
        assert_eq!(k.0.iter().filter(|d| d[34] == 0).count(), 19);
    }

    #[test]
    fn npcap_device_paths_give_way_to_descriptions() {
        use crate::capture::interface_name;
        let npf = "\\Device\\NPF_{6E3A8F0B-1C2D-4E5F-8A9B-0C1D2E3F4A5B}".to_string();
        assert_eq!(
            interface_name(
                Some(npf.clone()),
                Some("Intel(R) Ethernet Connection I219-LM")
            ),
            Some("Intel(R) Ethernet Connection I219-LM".to_string())
        );
        assert_eq!(interface_name(Some(npf.clone()), None), Some(npf));
        assert_eq!(
            interface_name(Some("eth0".into()), Some("x")),
            Some("eth0".to_string())
        );
        assert_eq!(interface_name(None, Some("d")), Some("d".to_string()));
    }
}
