//! ETL reader tests: corpus traces (figures from independent decoders), and
//! packet captures built by the test writer from corpus pcaps, checked
//! packet-for-packet against the pcap.

use super::writer::{EtlWriter, WClock, WEvent, ndis_1001, pktmon_160};
use super::*;
use crate::capture::read_capture;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

#[derive(Default)]
struct Collect {
    ifaces: Vec<InterfaceInfo>,
    pkts: Vec<(u32, i64, u32, Vec<u8>)>,
    /// Per packet, the direction said just before it (`true` outbound).
    dirs: Vec<Option<bool>>,
    next_dir: Option<bool>,
}

impl PacketSink for Collect {
    fn next_direction(&mut self, outbound: bool) {
        self.next_dir = Some(outbound);
    }
    fn interface(&mut self, info: &InterfaceInfo) {
        assert_eq!(info.index as usize, self.ifaces.len());
        self.ifaces.push(info.clone());
    }
    fn packet(&mut self, p: &Packet<'_>) {
        assert!((p.iface as usize) < self.ifaces.len());
        assert!(p.wire_len as usize >= p.data.len());
        self.pkts
            .push((p.iface, p.ts_ns, p.wire_len, p.data.to_vec()));
        self.dirs.push(self.next_dir.take());
    }
}

impl Collect {
    fn iface_name(&self, i: u32) -> &str {
        &self.ifaces[i as usize].name
    }
}

fn read_file(rel: &str) -> (EtlReport, Collect) {
    let f = std::fs::File::open(format!("{CORPUS}/{rel}")).expect("corpus file");
    let mut c = Collect::default();
    let r = read_etl(std::io::BufReader::new(f), rel, &mut c);
    (r, c)
}

fn provider_count(r: &EtlReport, g: Guid) -> u64 {
    r.providers.iter().find(|p| p.0 == g).map_or(0, |p| p.1)
}

// Figures from dissect.etl 3.14 (fox-it), counting every record of every
// buffer:
//   python -c 'from dissect.etl.etl import ETL; e=ETL(open(P,"rb"));
//              print(sum(1 for b in e.buffers()), sum(1 for b in e.buffers() for r in b))'
// HTTP_Server.etl: 36 buffers, 2042 records (1 system header + 2041
// EVENT_HEADER of Microsoft-Windows-HttpService); KernelNetwork.etl: 129
// buffers, 8924 records (1 + 8923 of Microsoft-Windows-Kernel-Network);
// lxcore_kernel.etl: 3 buffers, 4 records (2 system + 2 events). airbus
// etl-parser 1.0.1 crashes (IndexError) on the first two and reports the 2
// events of lxcore_kernel.etl. Timestamps: dissect.etl's FILETIME for the
// second record (FILETIME - 116444736000000000) * 100 = Unix ns.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_http_server() {
    let (r, c) = read_file("microsoft-tx/HTTP_Server.etl");
    assert_eq!(r.error, None);
    assert_eq!((r.buffers, r.events), (36, 2042));
    assert!(!r.has_packet_events());
    assert!(r.summary().contains("no packet events"), "{}", r.summary());
    assert_eq!(r.packets, 0);
    assert!(c.pkts.is_empty() && c.ifaces.is_empty());
    assert_eq!(r.warnings, vec![]);
    let http = Guid::from_u128(0xdd5ef90a_6398_47a4_ad34_4dcecdef795f);
    assert_eq!(r.providers[0], (http, 2041));
    assert_eq!(http.known_name(), Some("Microsoft-Windows-HttpService"));
    let h = r.header.as_ref().unwrap();
    assert_eq!(h.clock, ClockType::Qpc);
    assert_eq!(
        (h.perf_freq, h.pointer_size, h.buffers_written),
        (1_818_300, 8, 36)
    );
    assert_eq!((h.os_version.as_str(), h.os_build), ("6.1", 7601));
    assert_eq!(h.logger_name, "DataCollector01");
    assert_eq!(
        h.log_file_name,
        r"C:\PerfLogs\Admin\HTTP\GEORGIS2_20110123-000005\DataCollector01.etl"
    );
    assert_eq!(
        h.start_ns,
        filetime_to_unix_ns(129_402_939_974_768_585) // dissect: start_time
    );
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_kernel_network() {
    let (r, _) = read_file("microsoft-tx/KernelNetwork.etl");
    assert_eq!(r.error, None);
    assert_eq!((r.buffers, r.events), (129, 8924));
    assert!(!r.has_packet_events());
    assert_eq!(r.warnings, vec![]);
    let kn = Guid::from_u128(0x7dd42a49_5329_4832_8dfd_43d979153a88);
    assert_eq!(provider_count(&r, kn), 8923);
    assert_eq!(r.header.as_ref().unwrap().perf_freq, 2_994_853);
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_lxcore() {
    let (r, _) = read_file("etl-parser/lxcore_kernel.etl");
    assert_eq!(r.error, None);
    assert_eq!((r.buffers, r.events, r.kernel_records), (3, 4, 1));
    assert!(!r.has_packet_events());
    let lx = Guid::from_u128(0x0cd1c309_0878_4515_83db_749843b3f5c9);
    assert_eq!(provider_count(&r, lx), 2);
    assert_eq!(r.header.as_ref().unwrap().logger_name, "lxcore_kernel");
}

/// Timestamps of the first events agree with dissect.etl (which scales with
/// floats: allow 1 µs).
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_timestamps_match_dissect() {
    struct Ts(Vec<i64>);
    for (rel, want) in [
        ("microsoft-tx/HTTP_Server.etl", 129_402_940_472_261_336u64),
        ("microsoft-tx/KernelNetwork.etl", 129_846_116_330_139_796),
    ] {
        let data = std::fs::read(format!("{CORPUS}/{rel}")).unwrap();
        // Find the second record of buffer 0/1 by hand and convert it.
        let mut ts = Ts(Vec::new());
        let first = &data[..0x2000];
        let h = container::Records::new(&first[..container::u32_at(first, 0x30).unwrap() as usize])
            .next()
            .unwrap()
            .unwrap();
        let (hdr, ref_raw) = logfile::parse_logfile_header(&h).unwrap();
        let clock = Clock::from_header(&hdr, ref_raw).unwrap();
        let second = &data[0x2000..0x4000];
        let filled = container::u32_at(second, 0x30).unwrap() as usize;
        for rec in container::Records::new(&second[..filled]).take(1) {
            ts.0.push(clock.to_unix_ns(rec.unwrap().raw_timestamp().unwrap()));
        }
        let expect = filetime_to_unix_ns(want);
        assert!(
            (ts.0[0] - expect).abs() <= 1000,
            "{rel}: {} vs {expect}",
            ts.0[0]
        );
    }
}

fn pcap_packets(rel: &str) -> Vec<(i64, u32, Vec<u8>)> {
    struct P(Vec<(i64, u32, Vec<u8>)>);
    impl PacketSink for P {
        fn interface(&mut self, _: &InterfaceInfo) {}
        fn packet(&mut self, p: &Packet<'_>) {
            self.0.push((p.ts_ns, p.wire_len, p.data.to_vec()));
        }
    }
    let f = std::fs::File::open(format!("{CORPUS}/{rel}")).unwrap();
    let mut p = P(Vec::new());
    let r = read_capture(f, rel, &mut p);
    assert_eq!(r.error, None);
    p.0
}

const HTTP: Guid = Guid::from_u128(0xdd5ef90a_6398_47a4_ad34_4dcecdef795f);

/// Builds a netsh-style capture from a pcap: every packet on miniport 7
/// (LowerIfIndex 7); every 3rd packet also logged by a filter above it
/// (LowerIfIndex 12; sends reach the filter first); every 5th split over 3
/// events; unrelated events, kernel records and a compressed buffer between.
/// Returns the file and, per pcap packet, the interface name expected.
fn ndis_capture(
    pkts: &[(i64, u32, Vec<u8>)],
    clock: WClock,
    compressed: bool,
) -> (Vec<u8>, Vec<&'static str>) {
    ndis_capture_with(pkts, clock, compressed, false)
}

/// [`ndis_capture`]; with `compress_all`, every buffer after the header is
/// MS-XCA compressed, as `netsh trace` writes them on current Windows.
fn ndis_capture_with(
    pkts: &[(i64, u32, Vec<u8>)],
    clock: WClock,
    compressed: bool,
    compress_all: bool,
) -> (Vec<u8>, Vec<&'static str>) {
    use ndis::kw;
    let host: Vec<u8> = pkts[0].2[6..12].to_vec();
    let start = (pkts[0].0 / 100 - 10_000_000) * 100;
    let mut w = EtlWriter::new(64 << 10, clock, start);
    w.compress = compress_all;
    let mut expect = Vec::new();
    for (i, (ts, _, data)) in pkts.iter().enumerate() {
        let send = data.get(6..12) == Some(&host[..]);
        let dir = if send { kw::SEND } else { kw::RECEIVE };
        let ev = |lower: u32, frag: &[u8], k: u64, tid: u32| {
            (
                lower,
                ndis_1001(7, lower, frag),
                kw::ETHERNET_8023 | dir | k,
                tid,
            )
        };
        let mut layers = vec![7u32];
        if i % 3 == 0 {
            if send {
                layers.insert(0, 12);
            } else {
                layers.push(12);
            }
        }
        expect.push(if layers[0] == 7 {
            "ifindex-7"
        } else {
            "ifindex-12"
        });
        for (n, &lower) in layers.iter().enumerate() {
            let tid = 100 + (i as u32 % 4) + n as u32;
            let events = if i % 5 == 0 && data.len() >= 3 {
                let a = data.len() / 3;
                vec![
                    ev(lower, &data[..a], kw::PACKET_START, tid),
                    ev(lower, &data[a..2 * a], 0, tid),
                    ev(lower, &data[2 * a..], kw::PACKET_END, tid),
                ]
            } else {
                vec![ev(lower, data, kw::PACKET_START | kw::PACKET_END, tid)]
            };
            for (k, (_, payload, keywords, tid)) in events.iter().enumerate() {
                w.event(&WEvent {
                    provider: ndis::NDIS_PROVIDER,
                    id: ndis::EVENT_FRAGMENT,
                    keywords: *keywords,
                    process_id: 4,
                    thread_id: *tid,
                    ts_ns: *ts,
                    payload,
                    extended: i % 7 == 0,
                });
                if k == 0 && i % 11 == 0 {
                    // Another provider's event in the middle of a packet.
                    w.event(&WEvent {
                        provider: HTTP,
                        id: 2,
                        keywords: 0,
                        process_id: 4,
                        thread_id: 999,
                        ts_ns: *ts,
                        payload: b"not a packet",
                        extended: true,
                    });
                }
            }
        }
        if i % 13 == 0 {
            w.system_record(0x0a23, *ts, &[1, 2, 3, 4, 5]);
        }
        if compressed && i == pkts.len() / 2 {
            w.compressed_buffer();
        }
    }
    (w.finish(), expect)
}

fn check_against_pcap(
    pkts: &[(i64, u32, Vec<u8>)],
    expect_if: &[&str],
    c: &Collect,
    tolerance_ns: i64,
) {
    assert_eq!(c.pkts.len(), pkts.len());
    for (n, ((ts, wire, data), got)) in pkts.iter().zip(&c.pkts).enumerate() {
        assert_eq!(&got.3, data, "packet {n} bytes");
        assert_eq!(got.2, *wire, "packet {n} wire length");
        assert!(
            (got.1 - ts).abs() <= tolerance_ns,
            "packet {n}: {} vs {ts}",
            got.1
        );
        assert_eq!(c.iface_name(got.0), expect_if[n], "packet {n} interface");
    }
}

/// smb3_multichannel.pcap: 1448 packets, 2594719 bytes on the wire
/// (capinfos; `tshark -r smb3_multichannel.pcap -T fields -e frame.len`
/// sums to 2594719), all Ethernet.
///
/// The writer's output was checked with independent readers
/// (`independent_check.py` beside this file; same capture without the
/// compressed buffer, which neither reader skips): dissect.etl 3.14 reads
/// 63 buffers, 2994 records, 2705 NDIS 1001 events (2028 at LowerIfIndex 7,
/// 677 at 12), and the LowerIfIndex-7 fragments joined at PacketEnd equal
/// the pcap's 1448 packets byte for byte, timestamps identical; airbus
/// etl-parser 1.0.1 decodes the same 2705 events with its own 1001 template,
/// 3439110 fragment bytes = 2594719 + 844391 (every 3rd packet, `tshark ...
/// -e frame.number -e frame.len`, frames 1, 4, 7, ...).
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn ndis_capture_matches_pcap_packet_for_packet() {
    let pkts = pcap_packets("zeek/smb3_multichannel.pcap");
    assert_eq!(pkts.len(), 1448);
    assert_eq!(pkts.iter().map(|p| p.1 as u64).sum::<u64>(), 2_594_719);
    let (etl, expect_if) = ndis_capture(&pkts, WClock::Qpc(10_000_000), true);
    if let Ok(out) = std::env::var("HVSLEUTH_ETL_OUT") {
        // For independent readers (which do not skip compressed buffers).
        let (plain, _) = ndis_capture(&pkts, WClock::Qpc(10_000_000), false);
        std::fs::write(out, plain).unwrap();
    }
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "lab.etl", &mut c);
    assert_eq!(r.error, None, "{}", r.summary());
    assert_eq!(r.packets, 1448);
    let dups = (0..1448).filter(|i| i % 3 == 0).count() as u64;
    assert_eq!(r.duplicates, dups);
    let frags = (0..1448usize).filter(|i| i % 5 == 0).count() as u64;
    assert_eq!(
        r.packet_events,
        1448 + dups + 2 * (frags + frags.div_ceil(3))
    );
    assert_eq!(r.compressed_buffers, 1);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(matches!(
        r.warnings[0],
        EtlWarning::BadCompressedBuffer { offset, at, .. } if at > offset
    ));
    assert_eq!(r.damaged_compressed_buffers, 1);
    assert_eq!(r.header.as_ref().unwrap().clock, ClockType::Qpc);
    check_against_pcap(&pkts, &expect_if, &c, 100);
    let names: Vec<&str> = c.ifaces.iter().map(|i| i.name.as_str()).collect();
    let mut first_seen: Vec<&str> = Vec::new();
    for e in &expect_if {
        if !first_seen.contains(e) {
            first_seen.push(e);
        }
    }
    assert_eq!(names, first_seen);
    let lwf = c.ifaces.iter().find(|i| i.name == "ifindex-12").unwrap();
    assert!(
        lwf.description
            .as_deref()
            .unwrap()
            .contains("over miniport ifindex-7")
    );
    let mp = c.ifaces.iter().find(|i| i.name == "ifindex-7").unwrap();
    assert_eq!(
        mp.description.as_deref(),
        Some("lab.etl: NDIS miniport ifindex-7")
    );
    assert_eq!(provider_count(&r, ndis::NDIS_PROVIDER), r.packet_events);
    assert!(provider_count(&r, HTTP) > 0);
    assert!(r.summary().contains("1448 packets"), "{}", r.summary());
}

/// An odd QPC frequency and the system-time clock convert within one tick.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn ndis_capture_other_clocks() {
    let pkts = pcap_packets("zeek/smb2readwrite.pcap");
    for (clock, tol) in [
        (WClock::Qpc(2_994_853), 1_000_000_000 / 2_994_853 + 1),
        (WClock::SystemTime, 0),
    ] {
        let (etl, expect_if) = ndis_capture(&pkts, clock, true);
        let mut c = Collect::default();
        let r = read_etl(&etl[..], "x.etl", &mut c);
        assert_eq!(r.error, None);
        check_against_pcap(&pkts, &expect_if, &c, tol);
    }
}

/// pktmon: each packet logged at three components with one PktGroupId;
/// components 1 and 2 belong to interface 9, component 3 is unknown.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn pktmon_capture_counts_each_packet_once() {
    let pkts = pcap_packets("zeek/20-fids.pcap");
    assert_eq!(pkts.len(), 500); // capinfos: 500 packets
    let start = (pkts[0].0 / 100 - 10_000_000) * 100;
    let mut w = EtlWriter::new(32 << 10, WClock::Qpc(10_000_000), start);
    let prop = |comp: u16, ty: u16, v: u32| {
        let mut p = comp.to_le_bytes().to_vec();
        p.extend_from_slice(&ty.to_le_bytes());
        p.extend_from_slice(&v.to_le_bytes());
        p
    };
    for p in [prop(1, 2, 9), prop(2, 1, 9)] {
        w.event(&WEvent {
            provider: pktmon::PKTMON_PROVIDER,
            id: pktmon::EVENT_COMPONENT_PROP_UINT,
            keywords: 1,
            process_id: 4,
            thread_id: 1,
            ts_ns: start,
            payload: &p,
            extended: false,
        });
    }
    let mut expect = Vec::new();
    for (i, (ts, wire, data)) in pkts.iter().enumerate() {
        let order: [u16; 3] = if i % 4 == 3 { [3, 2, 1] } else { [1, 2, 3] };
        expect.push(if order[0] == 3 {
            "pktmon-component-3"
        } else {
            "ifindex-9"
        });
        for comp in order {
            let payload = pktmon_160(i as u64 * 2 + 1000, 1, comp, data, *wire as u16);
            w.event(&WEvent {
                provider: pktmon::PKTMON_PROVIDER,
                id: pktmon::EVENT_FRAME,
                keywords: 0x10,
                process_id: 4,
                thread_id: 1,
                ts_ns: *ts,
                payload: &payload,
                extended: false,
            });
        }
    }
    let drop = pktmon_160(1, 1, 2, &pkts[0].2, 60);
    w.event(&WEvent {
        provider: pktmon::PKTMON_PROVIDER,
        id: pktmon::EVENT_FRAME_DROP,
        keywords: 0x10,
        process_id: 4,
        thread_id: 1,
        ts_ns: pkts[0].0,
        payload: &drop,
        extended: false,
    });
    let etl = w.finish();
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "pktmon.etl", &mut c);
    assert_eq!(r.error, None);
    assert_eq!(r.warnings, vec![]);
    assert_eq!((r.packets, r.duplicates, r.dropped_frames), (500, 1000, 1));
    assert_eq!(r.packet_events, 1501);
    check_against_pcap(&pkts, &expect, &c, 100);
}

/// One Microsoft-Windows-PktMon event as the System process logs it.
fn pktmon_event(w: &mut EtlWriter, id: u16, ts_ns: i64, payload: &[u8]) {
    w.event(&WEvent {
        provider: pktmon::PKTMON_PROVIDER,
        id,
        keywords: 0x10,
        process_id: 4,
        thread_id: 1,
        ts_ns,
        payload,
        extended: false,
    })
}

/// Newer pktmon builds (three Windows 11 traces from 2026 read here) write
/// AppearanceCount 0 and a new PktGroupId for every copy of a packet. A
/// Wi-Fi NIC (ifindex 14) logs a received packet at its miniport (13, as
/// 802.11), at the lower and upper edges of a native Wi-Fi filter (41, the
/// upper one with the Ethernet bytes but packet type 2, as those traces
/// show), at an Ethernet filter (40) and at TCPIP (80); a sent packet the
/// other way round. Each packet counts once, its first copy is the one
/// delivered, and the same bytes sent again 1 ms later (a retransmission,
/// seen again at the first component) count as a new packet.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn pktmon_copies_without_shared_group_count_once() {
    use super::writer::pktmon_frame;
    let mut pkts = pcap_packets("zeek/20-fids.pcap");
    // The same bytes again 1 ms after packet 100: a new packet.
    let again = (pkts[100].0 + 1_000_000, pkts[100].1, pkts[100].2.clone());
    pkts.insert(101, again);
    pkts.sort_by_key(|p| p.0);
    let start = (pkts[0].0 / 100 - 10_000_000) * 100;
    let mut w = EtlWriter::new(64 << 10, WClock::Qpc(10_000_000), start);
    let ev = pktmon_event;
    for (comp, ty, v) in [(13u16, 1u16, 14u32), (41, 2, 14), (40, 2, 14), (80, 2, 14)] {
        let mut p = comp.to_le_bytes().to_vec();
        p.extend_from_slice(&ty.to_le_bytes());
        p.extend_from_slice(&v.to_le_bytes());
        ev(&mut w, pktmon::EVENT_COMPONENT_PROP_UINT, start, &p);
    }
    let to_80211 = |eth: &[u8]| {
        let mut f = vec![0x88, 0x42, 0, 0]; // QoS data, FromDS, Protected (decrypted)
        f.extend_from_slice(&eth[..6]);
        f.extend_from_slice(&[9; 6]);
        f.extend_from_slice(&eth[6..12]);
        f.extend_from_slice(&[0, 0, 0, 0, 0xaa, 0xaa, 0x03, 0, 0, 0]);
        f.extend_from_slice(&eth[12..]);
        f
    };
    let mut group = 0u64;
    let (mut want_wire, mut want_first) = (0u64, Vec::new());
    for (i, (ts, wire, eth)) in pkts.iter().enumerate() {
        let wifi = to_80211(eth);
        let rx = i % 3 != 0;
        // (component, edge, packet type, 802.11 bytes?)
        let mut path = [
            (13u16, 1u16, 2u16, true),
            (41, 1, 2, true),
            (41, 2, 2, false),
            (40, 1, 1, false),
            (80, 1, 1, false),
        ];
        if !rx {
            path.reverse();
        }
        for (k, &(component, edge, packet_type, is_wifi)) in path.iter().enumerate() {
            let (bytes, original) = if is_wifi {
                (&wifi[..], *wire + 20)
            } else {
                (&eth[..], *wire)
            };
            if k == 0 {
                // An 802.11 copy is handed on as the Ethernet frame it
                // carries: its 34 header bytes (QoS data, LLC/SNAP) become
                // 14, on the wire as in what was logged.
                want_wire += *wire as u64;
                let logged = bytes.len().min(128);
                let cut = if is_wifi { logged - 20 } else { logged };
                want_first.push(eth[..cut].to_vec());
            }
            group += 1;
            let p = pktmon_frame(&pktmon::Frame {
                group,
                number: 1,
                appearance: 0,
                direction: if rx { 3 } else { 4 },
                packet_type,
                component,
                edge,
                original_size: original as u16,
                data: &bytes[..bytes.len().min(128)],
            });
            ev(&mut w, pktmon::EVENT_FRAME, ts + k as i64 * 3_000, &p);
        }
    }
    let etl = w.finish();
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "pktmon.etl", &mut c);
    assert_eq!(r.error, None);
    assert_eq!(r.warnings, vec![]);
    assert_eq!((r.packets, r.duplicates), (501, 4 * 501));
    let got: Vec<Vec<u8>> = c.pkts.iter().map(|p| p.3.clone()).collect();
    assert!(
        got == want_first,
        "the first copy of each packet is delivered"
    );
    assert_eq!(c.pkts.iter().map(|p| p.2 as u64).sum::<u64>(), want_wire);
    // Received packets (802.11 at the miniport) and sent ones (Ethernet)
    // arrive on one interface, the NIC's, and decode to the same segments.
    let names: Vec<&str> = c.ifaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["ifindex-14"]);
    for (p, (_, _, eth)) in c.pkts.iter().zip(&pkts) {
        let link = c.ifaces[p.0 as usize].link_type;
        let (a, b) = (
            crate::decode::decode(link, &p.3),
            crate::decode::decode(crate::link::LinkType::ETHERNET, eth),
        );
        let key = |t: crate::decode::Transport<'_>| match t {
            crate::decode::Transport::Tcp(t) => {
                Some((t.src_port, t.dst_port, t.seq, t.payload_len()))
            }
            crate::decode::Transport::Udp(u) => Some((
                u.src_port,
                u.dst_port,
                0,
                u.payload.len() as u32 + u.missing,
            )),
            _ => None,
        };
        assert!(key(b.transport).is_some());
        assert_eq!(key(a.transport), key(b.transport));
    }
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn gzip_compressed_etl() {
    use std::io::Write;
    let pkts = pcap_packets("zeek/smb2readwrite.pcap");
    let (etl, _) = ndis_capture(&pkts, WClock::Qpc(10_000_000), true);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&etl).unwrap();
    let z = gz.finish().unwrap();
    let mut c = Collect::default();
    let r = read_etl(&z[..], "x.etl.gz", &mut c);
    assert!(r.gzip);
    assert_eq!(r.error, None);
    assert_eq!(c.pkts.len(), pkts.len());
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn truncated_file_keeps_earlier_buffers() {
    let pkts = pcap_packets("zeek/smb2readwrite.pcap");
    let (etl, _) = ndis_capture(&pkts, WClock::Qpc(10_000_000), true);
    let cut = &etl[..etl.len() - 100];
    let mut c = Collect::default();
    let r = read_etl(cut, "x.etl", &mut c);
    let e = r.error.unwrap();
    assert_eq!(e.kind, EtlErrorKind::Truncated);
    assert_eq!(e.offset, (etl.len() - (64 << 10)) as u64);
    assert!(!c.pkts.is_empty());
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn not_etl_inputs() {
    let mut c = Collect::default();
    for bad in [
        &b""[..],
        b"hello world, this is plainly text and not a trace at all. ".as_slice(),
        &[0u8; 100],
    ] {
        let r = read_etl(bad, "t", &mut c);
        assert!(matches!(r.error.unwrap().kind, EtlErrorKind::NotEtl(_)));
    }
    // A plausible first header claiming a 1 GiB second buffer.
    let pkts = pcap_packets("zeek/smb2readwrite.pcap");
    let (mut etl, _) = ndis_capture(&pkts[..5], WClock::Qpc(10_000_000), true);
    etl.truncate(64 << 10);
    let mut h = [0u8; 0x48];
    h[0..4].copy_from_slice(&(1u32 << 30).to_le_bytes());
    etl.extend_from_slice(&h);
    let r = read_etl(&etl[..], "t", &mut c);
    assert_eq!(
        r.error.unwrap(),
        EtlError {
            offset: 64 << 10,
            kind: EtlErrorKind::BufferTooLarge(1 << 30)
        }
    );
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corrupt_record_skips_rest_of_buffer() {
    let pkts = pcap_packets("zeek/smb2readwrite.pcap");
    let (mut etl, _) = ndis_capture(&pkts[..20], WClock::Qpc(10_000_000), true);
    // Break the marker of buffer 1's first record.
    let at = (64 << 10) + 0x48 + 3;
    etl[at] = 0x00;
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "t", &mut c);
    assert_eq!(r.error, None);
    assert!(r.warnings.iter().any(|w| matches!(
        w,
        EtlWarning::CorruptRecord { offset, .. } if *offset == (at - 3) as u64
    )));
}

/// VMSwitch fragments (event 1003) get an interface per switch port; the
/// same packet seen again at the NIC's layer counts once.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn vmswitch_fragments() {
    use ndis::kw;
    let pkts = pcap_packets("zeek/smb2readwrite.pcap");
    let (a, b) = (&pkts[0].2, &pkts[1].2);
    let mut v = Vec::new();
    for x in [7u32, 12, 3] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for name in ["Port-A", "vm1", "Synthetic"] {
        for u in name.encode_utf16().chain([0]) {
            v.extend_from_slice(&u.to_le_bytes());
        }
    }
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&[5u8; 8]);
    v.extend_from_slice(&(a.len() as u32).to_le_bytes());
    v.extend_from_slice(a);
    v.extend_from_slice(&8u32.to_le_bytes());
    v.extend_from_slice(&[0u8; 8]);
    let start = 1_600_000_000_000_000_000;
    let mut w = EtlWriter::new(64 << 10, WClock::SystemTime, start);
    let one = kw::PACKET_START | kw::PACKET_END | kw::RECEIVE | kw::VMSWITCH;
    let a_nic = ndis_1001(7, 7, a);
    let b_nic = ndis_1001(7, 7, b);
    for (id, payload) in [
        (ndis::EVENT_VMSWITCH_FRAGMENT, &v),
        (ndis::EVENT_FRAGMENT, &a_nic),
        (ndis::EVENT_FRAGMENT, &b_nic),
    ] {
        w.event(&WEvent {
            provider: ndis::NDIS_PROVIDER,
            id,
            keywords: one,
            process_id: 4,
            thread_id: 1,
            ts_ns: start + 1000,
            payload,
            extended: false,
        });
    }
    let etl = w.finish();
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "x", &mut c);
    assert_eq!(r.warnings, vec![]);
    assert_eq!((r.packet_events, r.packets, r.duplicates), (3, 2, 1));
    let names: Vec<&str> = c.ifaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["vmswitch-ifindex-12-port-3", "ifindex-7"]);
    assert_eq!((&c.pkts[0].3, &c.pkts[1].3), (a, b));
}

/// A hostile file naming a new interface per packet: bounded interfaces.
#[test]
fn interfaces_are_bounded() {
    use ndis::kw;
    let mut w = EtlWriter::new(64 << 10, WClock::SystemTime, 1_600_000_000_000_000_000);
    let frame = [0u8; 60];
    for i in 0..5000u32 {
        let payload = ndis_1001(i, i, &frame);
        w.event(&WEvent {
            provider: ndis::NDIS_PROVIDER,
            id: ndis::EVENT_FRAGMENT,
            keywords: kw::PACKET_START | kw::PACKET_END | kw::SEND,
            process_id: 4,
            thread_id: 1,
            ts_ns: 1_600_000_000_000_000_000 + i as i64 * 1000,
            payload: &payload,
            extended: false,
        });
    }
    let etl = w.finish();
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "x", &mut c);
    assert_eq!(r.packets, 5000);
    assert_eq!(c.ifaces.len(), MAX_INTERFACES + 1);
    assert_eq!(c.ifaces[MAX_INTERFACES].name, OVERFLOW_IFACE);
    assert_eq!(
        r.warnings,
        vec![EtlWarning::TooManyInterfaces {
            packets: 5000 - MAX_INTERFACES as u64
        }]
    );
}

/// Without a usable logfile header the file still reads, with a warning.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn missing_logfile_header() {
    let pkts = pcap_packets("zeek/smb2readwrite.pcap");
    let (mut etl, _) = ndis_capture(&pkts[..10], WClock::SystemTime, false);
    etl[0x48 + 6] = 0x05; // hook id of the header record
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "t", &mut c);
    assert_eq!(r.error, None);
    assert_eq!(r.header, None);
    assert_eq!(r.warnings, vec![EtlWarning::MissingLogfileHeader]);
    // System-time stamps are FILETIMEs anyway.
    assert_eq!(c.pkts.len(), 10);
    assert_eq!(c.pkts[0].1, pkts[0].0);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    struct Null;
    impl PacketSink for Null {
        fn interface(&mut self, _: &InterfaceInfo) {}
        fn packet(&mut self, p: &Packet<'_>) {
            assert!(p.wire_len as usize >= p.data.len());
        }
    }

    fn sample() -> &'static [u8] {
        static S: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            let pkts = pcap_packets("zeek/smb2readwrite.pcap");
            let (etl, _) = ndis_capture(&pkts[..40], WClock::Qpc(10_000_000), true);
            // Small buffers keep mutation runs quick.
            etl
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = read_etl(&data[..], "p", &mut Null);
        }

        #[test]
        fn plausible_header_then_noise(size in 0x100u32..0x4000, noise in proptest::collection::vec(any::<u8>(), 0..20000)) {
            let mut f = vec![0u8; 0x48];
            f[0..4].copy_from_slice(&size.to_le_bytes());
            f[0x30..0x34].copy_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&noise);
            let _ = read_etl(&f[..], "p", &mut Null);
        }

        /// A reader handing out arbitrary small pieces gives the same result.
        #[test]
        #[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
        fn chunked_reads(sizes in proptest::collection::vec(1usize..5000, 1..50)) {
            struct Chunks<'a> { data: &'a [u8], sizes: Vec<usize>, i: usize }
            impl Read for Chunks<'_> {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.sizes[self.i % self.sizes.len()].min(buf.len()).min(self.data.len());
                    self.i += 1;
                    buf[..n].copy_from_slice(&self.data[..n]);
                    self.data = &self.data[n..];
                    Ok(n)
                }
            }
            let f = sample();
            let mut a = Collect::default();
            let ra = read_etl(f, "p", &mut a);
            let mut b = Collect::default();
            let rb = read_etl(Chunks { data: f, sizes, i: 0 }, "p", &mut b);
            prop_assert_eq!(ra, rb);
            prop_assert_eq!(a.pkts, b.pkts);
        }

        #[test]
        #[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
        fn mutated_capture_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..64)) {
            let mut f = sample().to_vec();
            let n = f.len();
            for (at, v) in edits {
                f[at % n] = v;
            }
            let r = read_etl(&f[..], "p", &mut Null);
            prop_assert!(r.warnings.len() <= MAX_WARNINGS);
        }
    }
}

/// Throughput of `read_etl` on a netsh-style capture (single-fragment
/// events, as Windows 8.1+ writes them) built from smb3_multichannel.pcap
/// repeated to ~256 MiB, read 4 times from memory. Run: `cargo test -p
/// hvsleuth-parsers --lib etl::tests::bench_read_speed -- --ignored
/// --nocapture` (dev profile builds this crate at opt-level 2); set
/// ETL_BENCH_SMALL=1 for frames of at most 100 bytes only. Measured on the
/// shared 2-core box (load ~16, so CPU time, not wall time): full mix
/// ~8 GB/s, 4.4 Mpkt/s; small frames ~1.8 GB/s, 10.8 Mpkt/s (~92 ns per
/// packet: record walk, event decode, layer de-duplication, sink call).
#[test]
#[ignore]
fn bench_read_speed() {
    use ndis::kw;
    let mut pkts = pcap_packets("zeek/smb3_multichannel.pcap");
    if std::env::var("ETL_BENCH_SMALL").is_ok() {
        // Worst case: small frames only (per-event costs dominate).
        pkts.retain(|p| p.2.len() <= 100);
    }
    let start = (pkts[0].0 / 100 - 10_000_000) * 100;
    let mut w = EtlWriter::new(1 << 20, WClock::Qpc(10_000_000), start);
    let mut total = 0usize;
    let mut round = 0i64;
    while total < 256 << 20 {
        for (ts, _, data) in &pkts {
            let payload = ndis_1001(7, 7, data);
            w.event(&WEvent {
                provider: ndis::NDIS_PROVIDER,
                id: ndis::EVENT_FRAGMENT,
                keywords: kw::ETHERNET_8023 | kw::RECEIVE | kw::PACKET_START | kw::PACKET_END,
                process_id: 4,
                thread_id: 8,
                ts_ns: ts + round * 200_000_000_000,
                payload: &payload,
                extended: false,
            });
            total += payload.len() + 0x50;
        }
        round += 1;
    }
    let etl = w.finish();
    struct Count(u64, u64);
    impl PacketSink for Count {
        fn interface(&mut self, _: &InterfaceInfo) {}
        fn packet(&mut self, p: &Packet<'_>) {
            self.0 += 1;
            self.1 += p.data.len() as u64;
        }
    }
    // CPU time of this thread (the machine may be shared): utime + stime
    // from /proc, in clock ticks of 10 ms.
    let cpu = || -> f64 {
        let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let f: Vec<&str> = s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (t(11) + t(12)) / 100.0
    };
    for _ in 0..3 {
        let mut c = Count(0, 0);
        let (t, c0) = (std::time::Instant::now(), cpu());
        let mut r = EtlReport::default();
        for _ in 0..4 {
            r = read_etl(&etl[..], "bench", &mut c);
        }
        let (s, cs) = (t.elapsed().as_secs_f64(), cpu() - c0);
        assert_eq!(r.error, None);
        let bytes = 4.0 * etl.len() as f64;
        println!(
            "4 x {} MiB, {} packets: wall {:.3} s ({:.0} MB/s), cpu {:.2} s ({:.0} MB/s, {:.2} Mpkt/s)",
            etl.len() >> 20,
            c.0,
            s,
            bytes / s / 1e6,
            cs,
            bytes / cs / 1e6,
            c.0 as f64 / cs / 1e6
        );
    }
}

fn read_two_pass(rel: &str) -> (EtlReport, Collect) {
    let open = || std::io::BufReader::new(std::fs::File::open(format!("{CORPUS}/{rel}")).unwrap());
    let comps = scan_components(open());
    let mut c = Collect::default();
    let r = read_etl_with_components(open(), rel, &mut c, Some(comps));
    (r, c)
}

/// Microsoft's own decode (`pktmon etl2txt`, UTF-16LE, in the corpus beside
/// the ETL): per component, packet events and the sums of OriginalSize and
/// LoggedSize; per packet (PktGroupId, PktNumber) its first appearance.
struct Etl2Txt {
    events: u64,
    per_component: std::collections::BTreeMap<u16, (u64, u64, u64)>,
    /// First appearance per distinct packet: (component, original, logged).
    /// A packet first seen as an 802.11 frame counts as the Ethernet frame
    /// it carries, as we hand it on: the OriginalSize of its first Ethernet
    /// appearance, and its LoggedSize less the bytes the frame shrank by.
    packets: std::collections::HashMap<(u64, u16), (u16, u64, u64)>,
    /// Component -> MiniportIfIndex, else IfIndex.
    nic_of: std::collections::HashMap<u16, u32>,
}

fn etl2txt(rel: &str) -> Etl2Txt {
    let raw = std::fs::read(format!("{CORPUS}/{rel}")).unwrap();
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16_lossy(&units);
    let field = |l: &str, k: &str| -> u64 {
        let at = l.find(k).unwrap_or_else(|| panic!("{k} in {l}")) + k.len();
        l[at..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut t = Etl2Txt {
        events: 0,
        per_component: Default::default(),
        packets: Default::default(),
        nic_of: Default::default(),
    };
    let mut own_if = std::collections::HashMap::new();
    let mut first = std::collections::HashMap::new();
    for l in text.lines() {
        if l.contains("[Microsoft-Windows-PktMon] PktGroupId ") {
            t.events += 1;
            let comp = field(l, "Component ") as u16;
            let (o, g) = (field(l, "OriginalSize "), field(l, "LoggedSize "));
            let e = t.per_component.entry(comp).or_default();
            *e = (e.0 + 1, e.1 + o, e.2 + g);
            let key = (field(l, "PktGroupId "), field(l, "PktNumber ") as u16);
            let wifi = l.contains(", Type WiFi ,");
            let e = first.entry(key).or_insert((comp, o, g, wifi, None));
            if !wifi && e.4.is_none() {
                e.4 = Some(o);
            }
        } else if l.contains("] Property: Component ") {
            let comp = field(l, "Component ") as u16;
            if l.contains("MiniportIfIndex  =") {
                t.nic_of.insert(comp, field(l, "MiniportIfIndex  =") as u32);
            } else if l.contains(" IfIndex  =") {
                own_if.insert(comp, field(l, " IfIndex  =") as u32);
            }
        }
    }
    for (c, i) in own_if {
        t.nic_of.entry(c).or_insert(i);
    }
    for (key, (comp, o, g, wifi, eth)) in first {
        let v = match eth {
            Some(e) if wifi => (comp, e, g - (o - e)),
            _ => (comp, o, g),
        };
        t.packets.insert(key, v);
    }
    t
}

/// The ifindex an interface of ours stands for (from its description).
fn nic_index(i: &InterfaceInfo) -> u32 {
    let d = i.description.as_deref().unwrap();
    let at = d.find("ifindex ").unwrap() + 8;
    d[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// pktmon-vpn-capture/PktMon.etl against Microsoft's etl2txt decode of it:
/// the same packet events per component with the same sizes, one packet
/// per PktGroupId/PktNumber, on the NIC the component table gives.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn pktmon_vpn_capture_matches_etl2txt() {
    let want = etl2txt("pktmon/pktmon-vpn-capture/PktMon.txt");
    assert_eq!(want.events, 3646);
    assert_eq!(want.packets.len(), 345);
    let (r, c) = read_two_pass("pktmon/pktmon-vpn-capture/PktMon.etl");
    assert_eq!(r.error, None);
    assert_eq!(r.warnings, vec![]);
    assert_eq!((r.buffers, r.compressed_buffers, r.events), (5, 4, 4601)); // summary.txt: 5 buffers, 4601 events
    assert_eq!(r.packet_events, want.events);
    let ours: std::collections::BTreeMap<u16, (u64, u64, u64)> = r
        .pktmon_components
        .iter()
        .map(|c| (c.component, (c.events, c.original_bytes, c.logged_bytes)))
        .collect();
    assert_eq!(ours, want.per_component);
    assert_eq!(r.packets, 345);
    assert_eq!(r.duplicates, 3646 - 345);
    // Per NIC: packets, wire bytes (OriginalSize), captured bytes (LoggedSize).
    let mut per_nic: std::collections::BTreeMap<u32, (u64, u64, u64)> = Default::default();
    for (comp, o, g) in want.packets.values() {
        let e = per_nic.entry(want.nic_of[comp]).or_default();
        *e = (e.0 + 1, e.1 + o, e.2 + g);
    }
    assert_eq!(per_nic.len(), 2);
    let mut got: std::collections::BTreeMap<u32, (u64, u64, u64)> = Default::default();
    for p in &c.pkts {
        let e = got.entry(nic_index(&c.ifaces[p.0 as usize])).or_default();
        *e = (e.0 + 1, e.1 + p.2 as u64, e.2 + p.3.len() as u64);
    }
    assert_eq!(got, per_nic);
    let names: Vec<&str> = c.ifaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Realtek RTL8723BE 802.11 bgn Wi-Fi Adapter",
            "VMware Virtual Ethernet Adapter for VMnet8"
        ]
    );
    assert!(
        c.ifaces[0]
            .description
            .as_deref()
            .unwrap()
            .contains("MAC 54:8c:a0:98:0e:25, addresses 192.168.0.111")
    );
}

/// demikernel/PktMon.etl: 38 packets on the wire (19 echo requests, 19
/// replies, the .cap beside it shows each request twice and each reply four
/// times: 114 frames), 98 bytes each, on one NIC.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn pktmon_demikernel_gives_38_packets() {
    let (r, c) = read_two_pass("pktmon/demikernel/PktMon.etl");
    assert_eq!(r.error, None);
    assert_eq!(r.warnings, vec![]);
    assert_eq!((r.packet_events, r.packets, r.duplicates), (114, 38, 76));
    assert_eq!(c.pkts.iter().map(|p| p.2 as u64).sum::<u64>(), 38 * 98);
    let icmp_type = |p: &(u32, i64, u32, Vec<u8>)| p.3[14 + 20];
    assert_eq!(c.pkts.iter().filter(|p| icmp_type(p) == 8).count(), 19);
    assert_eq!(c.pkts.iter().filter(|p| icmp_type(p) == 0).count(), 19);
    assert_eq!(c.ifaces.len(), 1);
    assert_eq!(c.ifaces[0].name, "Microsoft Hyper-V Network Adapter #3");
    // Direction from the pktmon event (Rx/Tx of the copy delivered): this
    // host (10.9.1.22 per the .cap) received the 19 requests and sent the
    // 19 replies.
    for (p, d) in c.pkts.iter().zip(&c.dirs) {
        let want = if icmp_type(p) == 8 {
            Some(false)
        } else {
            Some(true)
        };
        assert_eq!(*d, want, "ICMP type {}", icmp_type(p));
    }
    // Without the first pass the packets still count once, on components.
    let (r1, _) = read_file("pktmon/demikernel/PktMon.etl");
    assert_eq!(r1.packets, 38);
}

/// gdn/PktMon.etl: a pktmon session with counters and filters (TCP 80, 443)
/// but no packet events: read without error, nothing delivered.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn pktmon_gdn_has_no_packet_events() {
    let (r, c) = read_two_pass("pktmon/gdn/PktMon.etl");
    assert_eq!(r.error, None);
    assert_eq!((r.buffers, r.compressed_buffers, r.events), (3, 2, 939));
    assert_eq!((r.packet_events, r.packets), (0, 0));
    assert!(c.pkts.is_empty());
    // The note says why a pktmon trace can hold no packet.
    assert!(
        r.summary()
            .contains("pktmon wrote its component table but logged no packet"),
        "{}",
        r.summary()
    );
    assert_eq!(
        scan_components(std::fs::File::open(format!("{CORPUS}/pktmon/gdn/PktMon.etl")).unwrap())
            .len(),
        126
    );
}

/// Compressed buffers written by our encoder read back packet for packet;
/// a damaged one is reported with its offset and the next buffers still read.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn compressed_buffers_round_trip_and_damage_is_local() {
    let pkts = pcap_packets("zeek/20-fids.pcap");
    let start = (pkts[0].0 / 100 - 10_000_000) * 100;
    let mut w = EtlWriter::new(64 << 10, WClock::Qpc(10_000_000), start);
    w.compress = true;
    for (i, (ts, wire, data)) in pkts.iter().enumerate() {
        let payload = pktmon_160(i as u64 + 1, 1, 7, data, *wire as u16);
        w.event(&WEvent {
            provider: pktmon::PKTMON_PROVIDER,
            id: pktmon::EVENT_FRAME,
            keywords: 0x10,
            process_id: 4,
            thread_id: 1,
            ts_ns: *ts,
            payload: &payload,
            extended: false,
        });
    }
    let etl = w.finish();
    let mut c = Collect::default();
    let r = read_etl(&etl[..], "c.etl", &mut c);
    assert_eq!(r.error, None);
    assert_eq!(r.warnings, vec![]);
    assert!(r.compressed_buffers >= 3, "{}", r.summary());
    check_against_pcap(&pkts, &vec!["pktmon-component-7"; pkts.len()], &c, 100);
    // Damage the second compressed buffer's stream.
    let second = {
        let first = u32::from_le_bytes(etl[0..4].try_into().unwrap()) as usize;
        let s1 = u32::from_le_bytes(etl[first..first + 4].try_into().unwrap()) as usize;
        first + s1
    };
    let mut bad = etl.clone();
    for b in &mut bad[second + 0x48..second + 0x60] {
        *b = 0xff;
    }
    let mut c2 = Collect::default();
    let r2 = read_etl(&bad[..], "c.etl", &mut c2);
    assert_eq!(r2.error, None);
    assert_eq!(r2.damaged_compressed_buffers, 1);
    assert!(
        matches!(r2.warnings[..], [EtlWarning::BadCompressedBuffer { offset, .. }] if offset == second as u64)
    );
    assert!(
        c2.pkts.len() < 500 && c2.pkts.len() > 100,
        "{}",
        c2.pkts.len()
    );
}

/// One pass plus the table at the tail names every pktmon NIC as the two
/// full passes do, on every pktmon ETL of the corpus; the table is found in
/// one buffer of each.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn pktmon_table_found_at_the_tail_as_two_passes_find_it() {
    for rel in [
        "pktmon/demikernel/PktMon.etl",
        "pktmon/pktmon-vpn-capture/PktMon.etl",
        "pktmon/gdn/PktMon.etl",
    ] {
        let path = format!("{CORPUS}/{rel}");
        let tail = tail::tail_components(std::fs::File::open(&path).unwrap());
        let full = scan_components(std::fs::File::open(&path).unwrap());
        match tail {
            tail::TailTable::Found(c, buffers) => {
                assert_eq!(buffers, 1, "{rel}");
                assert_eq!(c.len(), full.len(), "{rel}");
                for i in 0..200 {
                    assert_eq!(c.nic(i), full.nic(i), "{rel} ifindex {i}");
                }
            }
            other => panic!("{rel}: {other:?}"),
        }
        let (r2, c2) = read_two_pass(rel);
        let mut c1 = Collect::default();
        let r1 = read_etl_file(std::fs::File::open(&path).unwrap(), rel, &mut c1);
        assert_eq!(r1, r2, "{rel}");
        assert_eq!(c1.ifaces, c2.ifaces, "{rel}");
        assert_eq!(c1.pkts, c2.pkts, "{rel}");
        // Cut inside its last buffer (where the table is): the tail lookup
        // cannot read it and the two passes run, with the same result.
        let whole = std::fs::read(&path).unwrap();
        let cut = &whole[..whole.len() - 100];
        let comps = scan_components(cut);
        let mut c2 = Collect::default();
        let r2 = read_etl_with_components(cut, rel, &mut c2, Some(comps).filter(|c| !c.is_empty()));
        let mut c1 = Collect::default();
        let r1 = read_etl_file(std::io::Cursor::new(cut), rel, &mut c1);
        assert!(r1.error.is_some(), "{rel}");
        assert_eq!(r1, r2, "{rel} cut");
        assert_eq!(c1.ifaces, c2.ifaces, "{rel} cut");
        assert_eq!(c1.pkts, c2.pkts, "{rel} cut");
    }
}

/// A synthetic pktmon trace (one processor, 2 KiB buffers) whose component
/// table spans several buffers after the packets, or comes only before them:
/// `read_etl_file` names the NIC as the two passes do in both, from the tail
/// in the first case and by falling back to the full pass in the second.
#[test]
fn pktmon_table_over_several_tail_buffers_or_only_at_the_start() {
    let frame = {
        let mut f = vec![0u8; 60];
        f[12] = 0x08;
        f
    };
    let ev = pktmon_event;
    let table = |w: &mut EtlWriter, ts: i64| {
        for comp in 1..40u16 {
            let mut p = comp.to_le_bytes().to_vec();
            p.extend_from_slice(&[0, 0]);
            let name = format!("driver{comp}.sys");
            let desc = format!("Synthetic adapter number {comp} with a long description");
            for s in [name, desc] {
                for u in s.encode_utf16().chain([0]) {
                    p.extend_from_slice(&u.to_le_bytes());
                }
            }
            ev(w, pktmon::EVENT_COMPONENT_INFO, ts, &p);
            // Components 1..39 all on the NIC of ifindex 7 (7's own miniport).
            let mut q = comp.to_le_bytes().to_vec();
            if comp == 7 {
                q.extend_from_slice(&1u16.to_le_bytes());
            } else {
                q.extend_from_slice(&2u16.to_le_bytes());
            }
            q.extend_from_slice(&7u32.to_le_bytes());
            ev(w, pktmon::EVENT_COMPONENT_PROP_UINT, ts, &q);
        }
    };
    for table_at_end in [true, false] {
        let start = 1_600_000_000_000_000_000i64;
        let mut w = EtlWriter::new(2 << 10, WClock::Qpc(10_000_000), start);
        w.compress = true;
        if !table_at_end {
            table(&mut w, start + 1000);
        }
        for i in 0..60u64 {
            let p = pktmon_160(i + 1, 1, 3 + (i % 5) as u16, &frame, 60);
            ev(
                &mut w,
                pktmon::EVENT_FRAME,
                start + 10_000 + i as i64 * 1000,
                &p,
            );
        }
        if table_at_end {
            table(&mut w, start + 1_000_000);
        }
        let etl = w.finish();
        let t = tail::tail_components(std::io::Cursor::new(&etl[..]));
        if table_at_end {
            assert!(
                matches!(t, tail::TailTable::Found(ref c, n) if n >= 3 && c.len() == 39),
                "{t:?}"
            );
        } else {
            assert!(matches!(t, tail::TailTable::NotAtTail), "{t:?}");
        }
        let mut c1 = Collect::default();
        let r1 = read_etl_file(std::io::Cursor::new(&etl[..]), "s.etl", &mut c1);
        let comps = scan_components(&etl[..]);
        let mut c2 = Collect::default();
        let r2 = read_etl_with_components(&etl[..], "s.etl", &mut c2, Some(comps));
        assert_eq!(r1, r2);
        assert_eq!(r1.packets, 60);
        assert_eq!(c1.ifaces, c2.ifaces);
        assert_eq!(c1.pkts, c2.pkts);
        assert_eq!(c1.ifaces.len(), 1, "{:?}", c1.ifaces);
        assert!(c1.ifaces[0].name.starts_with("Synthetic adapter number 7"));
    }
}

/// A netsh-style trace (NDIS-PacketCapture 1001, several layers, fragments)
/// with every buffer compressed reads packet for packet as the pcap it was
/// built from, through `read_etl_file` (no pktmon table: no extra pass), and
/// NDIS send/receive reach the sink as directions (sends are the packets
/// from the pcap's first source MAC).
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn compressed_netsh_trace_matches_pcap() {
    let pkts = pcap_packets("zeek/smb3_multichannel.pcap");
    let (etl, expect_if) = ndis_capture_with(&pkts, WClock::Qpc(10_000_000), false, true);
    assert!(matches!(
        tail::tail_components(std::io::Cursor::new(&etl[..])),
        tail::TailTable::NoPktmon
    ));
    let mut c = Collect::default();
    let r = read_etl_file(std::io::Cursor::new(&etl[..]), "netsh.etl", &mut c);
    assert_eq!(r.error, None, "{}", r.summary());
    assert_eq!(r.warnings, vec![]);
    assert_eq!(r.compressed_buffers, r.buffers - 1, "{}", r.summary());
    assert!(r.compressed_buffers > 30, "{}", r.summary());
    assert_eq!(r.packets, 1448);
    check_against_pcap(&pkts, &expect_if, &c, 100);
    let host = &pkts[0].2[6..12];
    for (p, d) in c.pkts.iter().zip(&c.dirs) {
        assert_eq!(*d, Some(&p.3[6..12] == host));
    }
}
