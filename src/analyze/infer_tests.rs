//! Inference on generated captures with names, addressing (IPv4-only,
//! IPv6-only, dual-stack), cadences and file names unlike the samples'
//! (issue 12's failure classes; issue 13's 100,000-interface capture).

#![allow(clippy::too_many_arguments)]

use std::net::IpAddr;
use std::path::PathBuf;

use hvsleuth_reports::{Finding, Role};

use super::{Analysis, AnalyzeOptions, analyze};
use hvsleuth_bench::writer::{CaptureWriter, Format, IfaceDesc};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

#[derive(Clone, Copy)]
struct Host {
    mac: [u8; 6],
    ip: IpAddr,
}

fn h(mac_last: u8, ip: &str) -> Host {
    Host {
        mac: [0x02, 0x15, 0x5d, 0x10, 0x00, mac_last],
        ip: ip.parse().unwrap(),
    }
}

/// One frame: UDP or TCP, `cap` bytes of payload captured, `wire` the length on the wire.
fn frame(
    src: &Host,
    dst: &Host,
    tcp: Option<(u32, u8)>,
    ports: (u16, u16),
    payload: usize,
) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(src.mac, dst.mac);
    let b = match (src.ip, dst.ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => b.ipv4(s.octets(), d.octets(), 128),
        (IpAddr::V6(s), IpAddr::V6(d)) => b.ipv6(s.octets(), d.octets(), 128),
        _ => panic!("mixed families"),
    };
    let data = vec![0x5au8; payload];
    let mut v = Vec::new();
    match tcp {
        Some((seq, flags)) => {
            let mut t = b.tcp(ports.0, ports.1, seq, 64000).ack(1);
            if flags & 0x08 != 0 {
                t = t.psh();
            }
            t.write(&mut v, &data).unwrap();
        }
        None => b.udp(ports.0, ports.1).write(&mut v, &data).unwrap(),
    }
    v
}

/// A capture being built: interfaces and (time, interface, frame, wire length).
struct Cap {
    name: String,
    ifaces: Vec<IfaceDesc>,
    frames: Vec<(i64, u32, Vec<u8>, u32)>,
}

impl Cap {
    fn new(name: &str, ifaces: &[(&str, Option<u64>)]) -> Cap {
        Cap {
            name: name.into(),
            ifaces: ifaces
                .iter()
                .map(|(n, sp)| IfaceDesc {
                    speed_bps: *sp,
                    ..IfaceDesc::ethernet(n)
                })
                .collect(),
            frames: Vec::new(),
        }
    }
    fn udp(&mut self, ts: i64, i: u32, s: &Host, d: &Host, ports: (u16, u16), len: usize) {
        let f = frame(s, d, None, ports, len);
        let w = f.len() as u32;
        self.frames.push((ts, i, f, w));
    }
    fn tcp(
        &mut self,
        ts: i64,
        i: u32,
        s: &Host,
        d: &Host,
        ports: (u16, u16),
        seq: u32,
        len: usize,
    ) {
        let f = frame(s, d, Some((seq, 0x18)), ports, len);
        let w = f.len() as u32;
        self.frames.push((ts, i, f, w));
    }
    /// A TCP frame of `wire` bytes on the wire, captured cut to its headers.
    fn tcp_cut(
        &mut self,
        ts: i64,
        i: u32,
        s: &Host,
        d: &Host,
        ports: (u16, u16),
        seq: u32,
        wire: u32,
    ) {
        let f = frame(s, d, Some((seq, 0x10)), ports, 0);
        self.frames.push((ts, i, f, wire));
    }
    /// Heartbeats both ways every `every` ns from `from` to `to`, skipping `silent` windows.
    fn heartbeats(
        &mut self,
        i: u32,
        a: &Host,
        b: &Host,
        from: i64,
        to: i64,
        every: i64,
        silent: &[(i64, i64)],
    ) {
        let mut t = from;
        while t < to {
            if !silent.iter().any(|(s, e)| t >= *s && t < *e) {
                self.udp(t, i, a, b, (3343, 3343), 92);
                self.udp(t + 3_000_000, i, b, a, (3343, 3343), 92);
            }
            t += every;
        }
    }
    /// Background traffic on interface `i` from `me` to several other stations (DNS), so its MAC is decided.
    fn chatter(&mut self, i: u32, me: &Host, others: &[Host], from: i64, to: i64) {
        let mut t = from;
        let mut k = 0;
        while t < to {
            let o = &others[k % others.len()];
            self.udp(t, i, me, o, (50000 + k as u16, 53), 40);
            self.udp(t + 1_000_000, i, o, me, (53, 50000 + k as u16), 80);
            t += 2 * S;
            k += 1;
        }
    }
    fn write(mut self, dir: &std::path::Path) -> PathBuf {
        self.frames.sort_by_key(|f| f.0);
        let p = dir.join(&self.name);
        let file = std::fs::File::create(&p).unwrap();
        let mut w = CaptureWriter::new(file, Format::PcapNg, &self.ifaces).unwrap();
        for (ts, i, f, wire) in &self.frames {
            w.packet(*i, *ts, *wire, &[f]).unwrap();
        }
        w.finish().unwrap();
        p
    }
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hvsleuth-infer-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(paths: &[PathBuf], bucket_ns: i64) -> Analysis {
    analyze(
        paths,
        &AnalyzeOptions {
            inventory: None,
            bucket_ns,
            max_flows: 1 << 16,
            no_progress: true,
            smb_keys: None,
        },
    )
    .unwrap_or_else(|_| panic!("analysis failed"))
}

/// The analysed interface whose capture interface is named `name`.
fn iface_named<'a>(a: &'a Analysis, name: &str) -> &'a crate::merge::topology::Iface {
    a.model
        .ifaces
        .iter()
        .find(|i| i.capture_if_name == name)
        .unwrap_or_else(|| panic!("no interface {name}"))
}

fn findings<'a>(a: &'a Analysis, id: &str) -> Vec<&'a Finding> {
    a.summary.findings.iter().filter(|f| f.id == id).collect()
}

fn role_bytes(a: &Analysis, iface: usize, role: Role) -> u64 {
    a.model.series[iface][role.index()]
        .iter()
        .map(|(_, c)| c.bytes[0] + c.bytes[1])
        .sum()
}

/// Bulk SMB (TCP 445) from `c` to `s`: `n` segments of 1448 bytes with ACKs.
fn smb_bulk(cap: &mut Cap, i: u32, c: &Host, s: &Host, from: i64, n: u32, gap: i64, port: u16) {
    for k in 0..n {
        let t = from + k as i64 * gap;
        cap.tcp(t, i, c, s, (port, 445), 1 + k * 1448, 1448);
        if k % 2 == 1 {
            cap.tcp(t + 10_000, i, s, c, (445, port), 1, 0);
        }
    }
}

// ---- class 1: a NIC's own address is not the busiest peer's ----

/// Three nodes (file names unrelated to their names), a management network
/// with heartbeats and a storage network (dual-stack or IPv6-only) without
/// any, where bravo writes to alpha and charlie: alpha's and charlie's
/// storage NICs each see one peer only. Bravo's MAC is the lowest, which
/// the old tie-break gave to every NIC.
fn class1(dir: &std::path::Path, v6_only: bool, files: &[usize]) -> Vec<PathBuf> {
    let ip = |v4: &str, v6: &str| {
        if v6_only {
            v6.to_string()
        } else {
            v4.to_string()
        }
    };
    let mgmt = [
        h(0x31, "192.168.77.21"),
        h(0x32, "192.168.77.22"),
        h(0x33, "192.168.77.23"),
    ];
    let stor = [
        h(0x21, &ip("172.20.9.1", "fd00:9::a1")),
        h(0x01, &ip("172.20.9.2", "fd00:9::b2")),
        h(0x22, &ip("172.20.9.3", "fd00:9::c3")),
    ];
    let dns = [h(0x90, "192.168.77.250"), h(0x91, "192.168.77.251")];
    let names = ["q7-0001.pcapng", "zz-trace.pcapng", "mon.pcapng"];
    let mut out = Vec::new();
    for &n in files {
        let mut c = Cap::new(names[n], &[("Ethernet 3", None), ("Ethernet 5", None)]);
        for m in 0..3 {
            if m != n {
                let (a, b) = if n < m {
                    (&mgmt[n], &mgmt[m])
                } else {
                    (&mgmt[m], &mgmt[n])
                };
                c.heartbeats(0, a, b, T0, T0 + 30 * S, S, &[]);
            }
        }
        c.chatter(0, &mgmt[n], &dns, T0, T0 + 30 * S);
        // bravo (1) writes to alpha (0) and charlie (2).
        if n == 0 || n == 1 {
            smb_bulk(
                &mut c,
                1,
                &stor[1],
                &stor[0],
                T0 + S,
                3000,
                2_000_000,
                50001,
            );
        }
        if n == 2 || n == 1 {
            smb_bulk(
                &mut c,
                1,
                &stor[1],
                &stor[2],
                T0 + 2 * S,
                3000,
                2_000_000,
                50002,
            );
        }
        out.push(c.write(dir));
    }
    out
}

fn check_class1(a: &Analysis, v6_only: bool) {
    let want = if v6_only {
        ["fd00:9::a1", "fd00:9::b2", "fd00:9::c3"]
    } else {
        ["172.20.9.1", "172.20.9.2", "172.20.9.3"]
    };
    let stor: Vec<_> = a
        .model
        .ifaces
        .iter()
        .filter(|i| i.capture_if_name == "Ethernet 5")
        .collect();
    assert_eq!(stor.len(), 3);
    for (i, w) in stor.iter().zip(want) {
        assert_eq!(
            i.addresses,
            vec![w.parse::<IpAddr>().unwrap()],
            "{} / {}",
            i.capture,
            i.interface
        );
    }
    // Node-to-node SMB on the storage network is redirected IO, not "storage".
    for i in &stor {
        assert!(
            role_bytes(a, i.id, Role::RedirectedIo) > 1_000_000,
            "{}",
            i.capture
        );
        assert_eq!(role_bytes(a, i.id, Role::Storage), 0, "{}", i.capture);
    }
    assert!(
        !a.summary.inferred.iter().any(|f| f.conflict),
        "{:#?}",
        a.summary.inferred
    );
}

#[test]
fn class1_own_address_from_evidence_dual_stack_and_v6() {
    for v6 in [false, true] {
        let d = tmpdir(&format!("c1-{v6}"));
        let a = run(&class1(&d, v6, &[0, 1, 2]), S);
        check_class1(&a, v6);
    }
}

#[test]
fn class1_undecided_is_a_conflict_not_the_peers_address() {
    // Only alpha's capture: its storage NIC has one peer and nothing decides.
    let d = tmpdir("c1-one");
    let a = run(&class1(&d, false, &[0]), S);
    let stor = iface_named(&a, "Ethernet 5");
    assert!(
        !stor.addresses.contains(&"172.20.9.2".parse().unwrap()),
        "took the peer's address: {:?}",
        stor.addresses
    );
    assert!(
        a.summary
            .inferred
            .iter()
            .any(|f| f.conflict && f.reason.contains("undecided"))
    );
    assert!(a.summary.render_text_styled(false).contains("CONFLICTS"));
}

/// A link between two nodes only, captured at both ends, with nothing but
/// their heartbeats on it (no direction flags, one peer each): the clocks
/// are `skew` apart and a frame takes 60 us on the wire, so each heartbeat
/// is in the sender's capture first. Each capture also has a NIC with two
/// peers (decided by its MAC). The first capture's node has the higher
/// address and MAC: an arbitrary "first end" pick gets it wrong.
fn two_ended(dir: &std::path::Path, v6: bool, cadence: i64, skew: i64) -> Vec<PathBuf> {
    let (x, y) = if v6 {
        (h(0xe2, "fd31:7:7::2c"), h(0xe1, "fd31:7:7::1b"))
    } else {
        (h(0xe2, "10.31.7.44"), h(0xe1, "10.31.7.27"))
    };
    let mgmt = [h(0xd1, "10.30.0.44"), h(0xd2, "10.30.0.27")];
    let dns = [h(0x90, "10.30.0.250"), h(0x91, "10.30.0.251")];
    let wire = 60_000;
    // Capture 0 is at x (clock = true time), capture 1 at y (clock + skew).
    let mut caps = [
        Cap::new("cap-0.pcapng", &[("m", None), ("l", None)]),
        Cap::new("cap-1.pcapng", &[("m", None), ("l", None)]),
    ];
    caps[0].chatter(0, &mgmt[0], &dns, T0, T0 + 60 * S);
    caps[1].chatter(0, &mgmt[1], &dns, T0 + skew, T0 + 60 * S + skew);
    let mut t = T0 + 100_000_000;
    while t < T0 + 60 * S {
        // x sends at t, y at t + 7 ms (true times).
        let ty = t + 7_000_000;
        caps[0].udp(t, 1, &x, &y, (3343, 3343), 92);
        caps[0].udp(ty + wire, 1, &y, &x, (3343, 3343), 92);
        caps[1].udp(t + wire + skew, 1, &x, &y, (3343, 3343), 92);
        caps[1].udp(ty + skew, 1, &y, &x, (3343, 3343), 92);
        t += cadence;
    }
    caps.into_iter().map(|c| c.write(dir)).collect()
}

#[test]
fn class1_two_ended_link_decided_by_the_one_way_delay() {
    for (n, (v6, cadence, skew)) in [
        (false, S, 1_370_000_000),
        (true, 2 * S, -2_810_000_000),
        (false, 2 * S, 45_000_000),
    ]
    .into_iter()
    .enumerate()
    {
        let d = tmpdir(&format!("c1-2e-{n}"));
        let a = run(&two_ended(&d, v6, cadence, skew), S);
        let want = |k: usize| -> IpAddr {
            match (v6, k) {
                (true, 0) => "fd31:7:7::2c",
                (true, _) => "fd31:7:7::1b",
                (false, 0) => "10.31.7.44",
                (false, _) => "10.31.7.27",
            }
            .parse()
            .unwrap()
        };
        for k in 0..2 {
            let i = a
                .model
                .ifaces
                .iter()
                .find(|i| i.capture == format!("cap-{k}.pcapng") && i.capture_if_name == "l")
                .unwrap();
            assert!(
                i.addresses.contains(&want(k)) && i.addresses.len() <= 2,
                "case {n}: cap-{k} took {:?}: {:#?}",
                i.addresses,
                a.summary.inferred
            );
        }
        assert!(
            !a.summary.inferred.iter().any(|f| f.conflict),
            "case {n}: {:#?}",
            a.summary.inferred
        );
    }
}

// ---- class 2: one peer, several addresses, one node ----

#[test]
fn class2_peer_addresses_merge_into_one_node() {
    // From one node's capture: the peer heartbeats on three networks (IPv4,
    // IPv6, IPv4) and falls silent on all of them at once, three times.
    let d = tmpdir("c2");
    let me = [
        h(0x41, "10.77.1.5"),
        h(0x42, "fd42::5"),
        h(0x43, "10.77.3.5"),
    ];
    let peer = [
        h(0x51, "10.77.1.9"),
        h(0x52, "fd42::9"),
        h(0x53, "10.77.3.9"),
    ];
    let dns = [h(0x90, "10.77.1.250"), h(0x91, "10.77.1.251")];
    let mut c = Cap::new(
        "capture-0817.pcapng",
        &[("nic-a", None), ("nic-b", None), ("nic-c", None)],
    );
    let silent = [
        (T0 + 100 * S, T0 + 125 * S),
        (T0 + 400 * S, T0 + 425 * S),
        (T0 + 700 * S, T0 + 725 * S),
    ];
    for i in 0..3 {
        // Only the peer's direction falls silent: my heartbeats go on.
        let mut t = T0;
        while t < T0 + 900 * S {
            c.udp(t, i, &me[i as usize], &peer[i as usize], (3343, 3343), 92);
            if !silent.iter().any(|(s, e)| t >= *s && t < *e) {
                c.udp(
                    t + 2_000_000,
                    i,
                    &peer[i as usize],
                    &me[i as usize],
                    (3343, 3343),
                    92,
                );
            }
            t += S;
        }
    }
    c.chatter(0, &me[0], &dns, T0, T0 + 900 * S);
    let a = run(&[c.write(&d)], S);
    let hb = findings(&a, "HVS006");
    let nodes: std::collections::BTreeSet<_> = hb.iter().filter_map(|f| f.node.clone()).collect();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    let quarantine: Vec<_> = hb
        .iter()
        .filter(|f| f.title.contains("quarantine"))
        .collect();
    assert_eq!(quarantine.len(), 1);
    for f in &hb {
        for r in &f.remediation {
            assert!(!r.contains("-Name fd42"), "an IPv6 address as -Name: {r}");
        }
    }
}

// ---- class 3: NetFT on UDP 3343 split by the heartbeat baseline ----

#[test]
fn class3_netft_burst_and_busy_conversation() {
    for bucket in [S, S / 10] {
        let d = tmpdir(&format!("c3-{bucket}"));
        let (a1, b1) = (h(0x61, "fe80::1:61"), h(0x62, "fe80::1:62"));
        let dns = [h(0x90, "fe80::99"), h(0x91, "fe80::98")];
        // A quiet 60 s conversation with a 1 MB burst of tunnelled IO.
        let mut c = Cap::new("n.pcapng", &[("vEthernet (Cluster)", None)]);
        c.heartbeats(0, &a1, &b1, T0, T0 + 60 * S, S, &[]);
        c.chatter(0, &a1, &dns, T0, T0 + 60 * S);
        for k in 0..700 {
            c.udp(
                T0 + 30 * S + 5_000_000 + k * 1_000_000,
                0,
                &a1,
                &b1,
                (3343, 3343),
                1400,
            );
        }
        let a = run(&[c.write(&d)], bucket);
        let redirected = role_bytes(&a, 0, Role::RedirectedIo);
        let cluster = role_bytes(&a, 0, Role::Cluster);
        let burst = 700 * (1400 + 8 + 40 + 14) as u64;
        assert!(
            redirected + 1000 >= burst && redirected <= burst,
            "redirected {redirected} of {burst}"
        );
        assert!(cluster >= 110 * 146, "cluster {cluster}");
        assert!(
            a.model.groups.iter().any(|g| g.role == Role::RedirectedIo
                && g.reason.contains("beyond the heartbeat baseline"))
        );

        // A busy conversation: 60 s of tunnelled IO around the heartbeats.
        let d = tmpdir(&format!("c3b-{bucket}"));
        let mut c = Cap::new("n.pcapng", &[("vEthernet (Cluster)", None)]);
        c.heartbeats(0, &a1, &b1, T0, T0 + 60 * S, S, &[]);
        c.chatter(0, &a1, &dns, T0, T0 + 60 * S);
        for k in 0..60_000 {
            c.udp(
                T0 + 500_000 + k * 1_000_000,
                0,
                &a1,
                &b1,
                (3343, 3343),
                1400,
            );
        }
        let a = run(&[c.write(&d)], bucket);
        let cluster = role_bytes(&a, 0, Role::Cluster);
        let hb = 120 * (92 + 8 + 40 + 14) as u64;
        assert!(
            cluster >= hb / 2 && cluster <= 2 * hb,
            "cluster {cluster}, heartbeats {hb}"
        );
    }
}

/// Heartbeats are told from tunnelled packets frame by frame: tunnelled
/// TCP ACKs and SMB control messages are smaller than (or as small as) a
/// heartbeat, a heartbeat the sender skips in a burst is not counted, a
/// sender catching up sends four in one bucket, and
/// the tunnel's handshake and close arrive alone in otherwise quiet
/// buckets. IPv4 and IPv6 tunnels, 1 s and 2 s cadence, 10 ms to 1 min
/// buckets: `cluster` is exactly the heartbeats, `redirected-io` the rest.
/// (A tunnelled packet of exactly the heartbeat's length, where a heartbeat
/// may be due, is counted as one: length and cadence cannot tell them apart.)
#[test]
fn class3_heartbeats_exact_among_small_tunnelled_packets() {
    let cases = [
        ("10.77.3.5", "10.77.3.9", S, S),
        ("fd5e:1:2:3::5", "fd5e:1:2:3::9", 2 * S, S),
        ("192.168.201.17", "192.168.201.4", 2 * S, S / 100),
        ("fd5e:1:2:3::5", "fd5e:1:2:3::9", S, 60 * S),
    ];
    for (n, (ip_a, ip_b, cadence, bucket)) in cases.into_iter().enumerate() {
        let d = tmpdir(&format!("c3x-{n}"));
        let (a1, b1) = (h(0x65, ip_a), h(0x66, ip_b));
        let v6 = a1.ip.is_ipv6();
        let hdr = if v6 { 62u64 } else { 42 };
        let dns = if v6 {
            [h(0x90, "fd5e:1:2:3::99"), h(0x91, "fd5e:1:2:3::98")]
        } else {
            [h(0x90, "10.77.3.250"), h(0x91, "10.77.3.251")]
        };
        let mut c = Cap::new("q7.pcapng", &[("pci4p0", None)]);
        c.chatter(0, &a1, &dns, T0, T0 + 90 * S);
        // Heartbeats of 134 B frames both ways; b1 skips one in the burst.
        let hb_payload = (134 - hdr) as usize;
        let mut hb_bytes = 0u64;
        let mut t = T0 + 300_000_000;
        let mut k = 0;
        while t < T0 + 90 * S {
            c.udp(t, 0, &a1, &b1, (3343, 3343), hb_payload);
            hb_bytes += 134;
            if !(t > T0 + 40 * S && k % 7 == 3) || k > 40 {
                c.udp(t + 2_000_000, 0, &b1, &a1, (3343, 3343), hb_payload);
                hb_bytes += 134;
            }
            t += cadence;
            k += 1;
        }
        // A sender catching up after a stall: three more heartbeats within 3 ms.
        for j in 1..=3 {
            c.udp(
                T0 + 10 * S + 300_000_000 + j * 1_000_000,
                0,
                &a1,
                &b1,
                (3343, 3343),
                hb_payload,
            );
            hb_bytes += 134;
        }
        // The tunnel: a handshake alone in quiet seconds (20 s, 21 s), a 25 s
        // burst from 40 s (1446 B segments, 98/118 B ACKs back, 126-170 B SMB
        // replies), a close at 75 s. Inner packets ride in the tunnel whole.
        let mut tun = 0u64;
        let mut tunnel = |c: &mut Cap, t: i64, from: &Host, to: &Host, wire: u64| {
            c.udp(t, 0, from, to, (3343, 3343), (wire - hdr) as usize);
            tun += wire;
        };
        tunnel(&mut c, T0 + 20 * S + 600_000_000, &a1, &b1, 106);
        tunnel(&mut c, T0 + 20 * S + 600_400_000, &b1, &a1, 106);
        tunnel(&mut c, T0 + 21 * S + 700_000_000, &a1, &b1, 138);
        for j in 0..20_000i64 {
            let t = T0 + 40 * S + j * 1_250_000;
            tunnel(&mut c, t, &a1, &b1, 1446);
            if j % 2 == 1 {
                tunnel(&mut c, t + 300_000, &b1, &a1, if v6 { 118 } else { 98 });
            }
            if j % 97 == 0 {
                tunnel(&mut c, t + 600_000, &b1, &a1, 126 + (j as u64 % 3) * 22);
            }
        }
        tunnel(&mut c, T0 + 75 * S + 500_000_000, &a1, &b1, 98);
        tunnel(&mut c, T0 + 75 * S + 500_300_000, &b1, &a1, 98);
        let a = run(&[c.write(&d)], bucket);
        let cluster = role_bytes(&a, 0, Role::Cluster);
        let redirected = role_bytes(&a, 0, Role::RedirectedIo);
        assert_eq!(
            (cluster, redirected),
            (hb_bytes, tun),
            "case {n}: cluster {cluster} (heartbeats {hb_bytes}), redirected {redirected} (tunnel {tun})"
        );
    }
}

// ---- class 4: heartbeat cadence learnt ----

#[test]
fn class4_two_second_cadence() {
    let d = tmpdir("c4");
    let a1 = h(0x71, "10.44.0.1");
    let b1 = h(0x72, "10.44.0.2");
    let dns = [h(0x90, "10.44.0.250"), h(0x91, "10.44.0.251")];
    let mut c = Cap::new("east-dc-02.pcapng", &[("clu", None)]);
    // SameSubnetDelay 2 s; one 9 s silence of b1 (4 heartbeats missed: no failure).
    c.heartbeats(
        0,
        &a1,
        &b1,
        T0,
        T0 + 200 * S,
        2 * S,
        &[(T0 + 100 * S, T0 + 107 * S)],
    );
    c.chatter(0, &a1, &dns, T0, T0 + 200 * S);
    let a = run(&[c.write(&d)], S);
    assert!(
        findings(&a, "HVS006").is_empty(),
        "{:#?}",
        findings(&a, "HVS006")
    );
    // Last heartbeat at 98 s, next at 124 s: 12 missed at 2 s, beyond 10: isolation
    // (at an assumed 1 s it would be 25).
    let d = tmpdir("c4b");
    let mut c = Cap::new("east-dc-02.pcapng", &[("clu", None)]);
    c.heartbeats(
        0,
        &a1,
        &b1,
        T0,
        T0 + 200 * S,
        2 * S,
        &[(T0 + 100 * S, T0 + 123 * S)],
    );
    c.chatter(0, &a1, &dns, T0, T0 + 200 * S);
    let a = run(&[c.write(&d)], S);
    let f = findings(&a, "HVS006");
    assert!(
        !f.is_empty() && f.iter().all(|f| f.title.contains("12 missed")),
        "{f:#?}"
    );
}

// ---- class 5, 6, 7: SOFS owner, saturation without a link speed, buckets ----

/// A node (capture file unrelated to its name) with a front NIC where a host
/// writes SMB to it and a back NIC where it forwards the same to another node.
fn sofs(dir: &std::path::Path) -> PathBuf {
    let host = h(0x81, "10.5.0.100");
    let a_front = h(0x82, "10.5.0.11");
    let a_back = h(0x83, "10.6.0.11");
    let b_back = h(0x84, "10.6.0.12");
    let c_back = h(0x85, "10.6.0.13");
    let dns = [h(0x90, "10.5.0.250"), h(0x91, "10.5.0.251")];
    let mut c = Cap::new("sample-A.pcapng", &[("front", None), ("back", None)]);
    c.chatter(0, &a_front, &dns, T0, T0 + 40 * S);
    c.heartbeats(1, &a_back, &b_back, T0, T0 + 40 * S, S, &[]);
    c.heartbeats(1, &a_back, &c_back, T0, T0 + 40 * S, S, &[]);
    smb_bulk(
        &mut c,
        0,
        &host,
        &a_front,
        T0 + 5 * S,
        4000,
        5_000_000,
        50010,
    );
    smb_bulk(
        &mut c,
        1,
        &a_back,
        &b_back,
        T0 + 5 * S + 1_000_000,
        4000,
        5_000_000,
        50011,
    );
    c.write(dir)
}

#[test]
fn class5_sofs_non_owner_without_inventory() {
    let d = tmpdir("c5");
    let a = run(&[sofs(&d)], S);
    let f = findings(&a, "HVS003");
    let dbg: Vec<_> = a
        .model
        .groups
        .iter()
        .map(|g| (g.iface, g.role, g.key.client, g.key.server, g.bytes))
        .collect();
    assert_eq!(
        f.len(),
        1,
        "{:#?} {dbg:#?} {:#?}",
        a.summary.findings,
        a.summary.inferred
    );
    assert_eq!(f[0].node.as_deref(), Some("sample-A"));
    assert!(
        f[0].evidence
            .iter()
            .any(|(k, v)| k == "owner inferred" && v.contains("10.6.0.12"))
    );
}

/// The SOFS non-owner forwards through NetFT: UDP 3343 datagrams both ways,
/// the first of them from the owner (its heartbeat), whose address is also
/// the lower: whichever rule orients a 3343 <-> 3343 group, its "client" is
/// the owner. IPv6 front, IPv4 back, 2 s cadence.
fn sofs_netft(dir: &std::path::Path) -> PathBuf {
    let host = h(0x81, "fd90:5::64");
    let a_front = h(0x82, "fd90:5::b");
    let a_back = h(0x83, "172.31.6.41");
    let b_back = h(0x84, "172.31.6.12");
    let c_back = h(0x85, "172.31.6.13");
    let dns = [h(0x90, "fd90:5::fa"), h(0x91, "fd90:5::fb")];
    let mut c = Cap::new("0001.pcapng", &[("nicA", None), ("nicB", None)]);
    c.chatter(0, &a_front, &dns, T0, T0 + 40 * S);
    c.udp(T0, 1, &b_back, &a_back, (3343, 3343), 92);
    c.heartbeats(1, &a_back, &b_back, T0 + S / 2, T0 + 40 * S, 2 * S, &[]);
    c.heartbeats(1, &a_back, &c_back, T0 + S / 2, T0 + 40 * S, 2 * S, &[]);
    smb_bulk(
        &mut c,
        0,
        &host,
        &a_front,
        T0 + 5 * S,
        4000,
        5_000_000,
        50010,
    );
    for k in 0..4000i64 {
        let t = T0 + 5 * S + 1_000_000 + k * 5_000_000;
        c.udp(t, 1, &a_back, &b_back, (3343, 3343), 1404);
        if k % 2 == 1 {
            c.udp(t + 20_000, 1, &b_back, &a_back, (3343, 3343), 56);
        }
    }
    c.write(dir)
}

#[test]
fn class5_sofs_non_owner_forwarding_through_netft() {
    let d = tmpdir("c5n");
    let a = run(&[sofs_netft(&d)], S);
    let f = findings(&a, "HVS003");
    assert_eq!(f.len(), 1, "{:#?}", a.summary.findings);
    assert_eq!(f[0].node.as_deref(), Some("0001"));
    assert!(
        f[0].evidence
            .iter()
            .any(|(k, v)| k == "owner inferred" && v.contains("172.31.6.12")),
        "{:#?}",
        f[0].evidence
    );
}

/// A management NIC (RDP from an admin host) carrying node-to-node SMB at
/// ~95 Mb/s for 12 s on a 100 Mb/s link; RDP retransmits meanwhile.
fn flood(dir: &std::path::Path, if_speed: Option<u64>) -> PathBuf {
    let me = h(0xa1, "10.9.0.1");
    let peer = h(0xa2, "10.9.0.2");
    let admin = h(0xa3, "10.9.0.200");
    let mut c = Cap::new("x.pcapng", &[("Mgmt", if_speed)]);
    c.heartbeats(0, &me, &peer, T0, T0 + 40 * S, S, &[]);
    // RDP: a segment every 50 ms, each second one resent.
    for k in 0..800u32 {
        let t = T0 + k as i64 * 50_000_000;
        c.tcp(t, 0, &admin, &me, (51000, 3389), 1 + k * 100, 100);
        c.tcp(t + 400_000, 0, &me, &admin, (3389, 51000), 1 + k * 100, 100);
        if k % 20 == 10 {
            c.tcp(t + 800_000, 0, &me, &admin, (3389, 51000), 1 + k * 100, 100);
        }
    }
    // 12 s at ~95 Mb/s: 1514-byte frames (captured cut) every 127.5 us.
    let n = 12 * 7_843u32;
    for k in 0..n {
        let t = T0 + 10 * S + k as i64 * 127_500;
        c.tcp_cut(
            t,
            0,
            &me,
            &peer,
            (50100, 445),
            1 + k.wrapping_mul(1460),
            1514,
        );
    }
    c.write(dir)
}

#[test]
fn class6_saturation_without_link_speed() {
    let d = tmpdir("c6");
    let a = run(&[flood(&d, None)], S);
    let f = findings(&a, "HVS002");
    assert_eq!(f.len(), 1, "{:#?}", a.summary.findings);
    let from = f[0]
        .evidence
        .iter()
        .find(|(k, _)| k == "link speed from")
        .unwrap();
    assert!(from.1.contains("inferred"), "{from:?}");
    assert!(
        f[0].evidence
            .iter()
            .any(|(k, v)| k == "link speed" && v.contains("100"))
    );
}

/// A 100 Mb/s NIC (if_speed in the capture) filled for 12 s by SMB from a
/// host; `rdp`: an admin's RDP session on it, `Some(true)` retransmitting.
fn full_link(dir: &std::path::Path, v6: bool, rdp: Option<bool>) -> PathBuf {
    let (me, peer, host, admin) = if v6 {
        (
            h(0xb1, "fd17:9::21"),
            h(0xb2, "fd17:9::22"),
            h(0xb3, "fd17:9::80"),
            h(0xb4, "fd17:9::c8"),
        )
    } else {
        (
            h(0xb1, "172.20.14.21"),
            h(0xb2, "172.20.14.22"),
            h(0xb3, "172.20.14.80"),
            h(0xb4, "172.20.14.200"),
        )
    };
    let mut c = Cap::new("trace-0417.pcapng", &[("slot3", Some(100_000_000))]);
    c.heartbeats(0, &me, &peer, T0, T0 + 40 * S, 2 * S, &[]);
    if let Some(resend) = rdp {
        for k in 0..800u32 {
            let t = T0 + k as i64 * 50_000_000;
            c.tcp(t, 0, &admin, &me, (51000, 3389), 1 + k * 100, 100);
            c.tcp(t + 400_000, 0, &me, &admin, (3389, 51000), 1 + k * 100, 100);
            if resend && k % 20 == 10 {
                c.tcp(t + 800_000, 0, &me, &admin, (3389, 51000), 1 + k * 100, 100);
            }
        }
    }
    let n = 12 * 7_843u32;
    for k in 0..n {
        let t = T0 + 10 * S + k as i64 * 127_500;
        c.tcp_cut(
            t,
            0,
            &host,
            &me,
            (50200, 445),
            1 + k.wrapping_mul(1460),
            1514,
        );
    }
    c.write(dir)
}

/// HVS002 is a warning when a full link stalls (or could stall) management
/// sessions on it; a link with no management session that runs at
/// capacity is a bulk transfer using its link: low, not a warning.
#[test]
fn class6_saturation_severity_follows_management_on_the_link() {
    use hvsleuth_reports::Severity;
    for (n, (v6, rdp, want)) in [
        (false, None, Severity::Low),
        (true, None, Severity::Low),
        (true, Some(false), Severity::Medium),
        (false, Some(true), Severity::Critical),
    ]
    .into_iter()
    .enumerate()
    {
        let d = tmpdir(&format!("c6s-{n}"));
        let a = run(&[full_link(&d, v6, rdp)], S);
        let f = findings(&a, "HVS002");
        assert_eq!(f.len(), 1, "case {n}: {:#?}", a.summary.findings);
        assert_eq!(f[0].severity, want, "case {n}: {:#?}", f[0]);
    }
}

#[test]
fn class7_findings_do_not_depend_on_the_bucket() {
    let d = tmpdir("c7");
    let p = flood(&d, Some(100_000_000));
    let mut sev = Vec::new();
    for bucket in [S / 100, S, 60 * S] {
        let a = run(std::slice::from_ref(&p), bucket);
        let f2 = findings(&a, "HVS002");
        assert_eq!(f2.len(), 1, "bucket {bucket}: {:#?}", a.summary.findings);
        let f1 = findings(&a, "HVS001");
        assert_eq!(f1.len(), 1, "bucket {bucket}");
        sev.push((f1[0].severity, f2[0].severity));
    }
    assert!(sev.windows(2).all(|w| w[0] == w[1]), "{sev:?}");
}

// ---- issue 13: 100,000 interfaces analyse in seconds ----

/// A capture with `n` interfaces, each with one UDP and one TCP packet
/// between two stations of its own (the shape of issue 13's hostile file).
fn many_interfaces(dir: &std::path::Path, n: u32) -> PathBuf {
    let names: Vec<String> = (0..n).map(|i| format!("if{i}")).collect();
    let specs: Vec<(&str, Option<u64>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    let mut c = Cap::new(&format!("many-{n}.pcapng"), &specs);
    for i in 0..n {
        let a = h(
            (i % 200) as u8,
            &format!("10.{}.{}.1", i >> 8 & 255, i & 255),
        );
        let b = h(
            (i % 200 + 1) as u8,
            &format!("10.{}.{}.2", i >> 8 & 255, i & 255),
        );
        c.udp(T0 + i as i64 * 1000, i, &a, &b, (40000, 9999), 20);
        c.tcp(T0 + i as i64 * 1000 + 1, i, &b, &a, (40001, 445), 1, 20);
    }
    c.write(dir)
}

#[test]
fn hundred_thousand_interfaces_analyse_in_seconds() {
    let d = tmpdir("many");
    let mut secs = Vec::new();
    for n in [10_000u32, 100_000] {
        let p = many_interfaces(&d, n);
        let t = std::time::Instant::now();
        let a = run(&[p], S);
        secs.push(t.elapsed().as_secs_f64());
        assert_eq!(a.model.ifaces.len(), n as usize);
    }
    eprintln!(
        "interfaces 10,000: {:.1} s, 100,000: {:.1} s (debug build)",
        secs[0], secs[1]
    );
    // Linear: 10x the interfaces, about 10x the time (quadratic would be
    // 100x: the 481 s of issue 13). Wall time on a shared machine, so with
    // slack; debug build, the release binary is several times faster.
    assert!(secs[1] < 25.0 * secs[0] + 5.0, "{secs:?}");
    assert!(secs[1] < 300.0, "{secs:?}");
}

// ---- class 1: pcapng EPB direction flags decide a one-peer link ----

/// Writes `cap` as pcapng by hand, with `epb_flags` on every packet:
/// outbound when its source MAC is `me`, inbound otherwise.
fn write_with_flags(cap: Cap, me: [u8; 6], dir: &std::path::Path) -> PathBuf {
    write_pcapng(cap, Some(me), &[], dir)
}

/// Writes `cap` as pcapng by hand: `epb_flags` on every packet when `flags_for`
/// is given (outbound when its source MAC is it), and `idb_options` (code,
/// value) on every interface.
fn write_pcapng(
    cap: Cap,
    flags_for: Option<[u8; 6]>,
    idb_options: &[(u16, Vec<u8>)],
    dir: &std::path::Path,
) -> PathBuf {
    let mut frames = cap.frames;
    frames.sort_by_key(|f| f.0);
    let mut v: Vec<u8> = Vec::new();
    let block = |v: &mut Vec<u8>, ty: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&len.to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut v, 0x0A0D_0D0A, &shb);
    for _ in &cap.ifaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&65535u32.to_le_bytes());
        // if_tsresol = 9 (ns), the options asked for, end of options.
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]);
        for (code, value) in idb_options {
            idb.extend_from_slice(&code.to_le_bytes());
            idb.extend_from_slice(&(value.len() as u16).to_le_bytes());
            idb.extend_from_slice(value);
            idb.resize(idb.len().div_ceil(4) * 4, 0);
        }
        idb.extend_from_slice(&[0, 0, 0, 0]);
        block(&mut v, 1, &idb);
    }
    for (ts, i, f, wire) in &frames {
        let mut epb = Vec::new();
        epb.extend_from_slice(&i.to_le_bytes());
        epb.extend_from_slice(&((*ts as u64 >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*ts as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&wire.to_le_bytes());
        epb.extend_from_slice(f);
        epb.resize(epb.len().div_ceil(4) * 4, 0);
        if let Some(me) = flags_for {
            let out = f[6..12] == me;
            epb.extend_from_slice(&2u16.to_le_bytes());
            epb.extend_from_slice(&4u16.to_le_bytes());
            epb.extend_from_slice(&(if out { 2u32 } else { 1u32 }).to_le_bytes());
            epb.extend_from_slice(&[0, 0, 0, 0]);
        }
        block(&mut v, 6, &epb);
    }
    let p = dir.join(&cap.name);
    std::fs::write(&p, v).unwrap();
    p
}

#[test]
fn class1_epb_direction_flags_decide_a_one_peer_link() {
    // The receiving NIC of a bulk write, its only peer the writer whose MAC
    // is the lower: without flags undecided, with them its own.
    let d = tmpdir("c1-epb");
    let me = h(0x30, "fd77::30");
    let peer = h(0x02, "fd77::2");
    let mut c = Cap::new("recv-side.pcapng", &[("Slot 4 Port 1", None)]);
    smb_bulk(&mut c, 0, &peer, &me, T0, 2000, 1_000_000, 50200);
    let a = run(&[write_with_flags(c, me.mac, &d)], S);
    assert_eq!(a.model.ifaces[0].addresses, vec![me.ip]);
    assert!(
        a.summary
            .inferred
            .iter()
            .any(|f| f.reason.contains("capture direction flags"))
    );
}

#[test]
fn class1_interface_options_decide_a_one_peer_link() {
    // The same one-peer link without direction flags: the capture tool's
    // if_MACaddr, or only its if_IPv6addr / if_IPv4addr, says which end is
    // the NIC (Npcap, pktmon's component table).
    for (v6, opt) in [
        (true, "mac"),
        (true, "addr"),
        (false, "addr"),
        (false, "mac"),
    ] {
        let d = tmpdir(&format!("c1-idb-{v6}-{opt}"));
        let (me, peer) = if v6 {
            (h(0x30, "fd77::30"), h(0x02, "fd77::2"))
        } else {
            (h(0x30, "10.77.0.30"), h(0x02, "10.77.0.2"))
        };
        let mut c = Cap::new("recv-side.pcapng", &[("\\Device\\NPF_{5E1B}", None)]);
        smb_bulk(&mut c, 0, &peer, &me, T0, 2000, 1_000_000, 50200);
        let value = match (opt, me.ip) {
            ("mac", _) => (6u16, me.mac.to_vec()),
            (_, IpAddr::V4(a)) => (4u16, [a.octets(), [255, 255, 255, 0]].concat()),
            (_, IpAddr::V6(a)) => (5u16, [&a.octets()[..], &[64]].concat()),
        };
        let a = run(&[write_pcapng(c, None, &[value], &d)], S);
        assert_eq!(a.model.ifaces[0].addresses, vec![me.ip], "{v6} {opt}");
        assert!(
            a.summary
                .inferred
                .iter()
                .any(|f| f.reason.contains("capture tool recorded") && !f.conflict),
            "{v6} {opt}"
        );
    }
}

// ---- class 2: nodes named by the best name seen ----

fn frame_data(src: &Host, dst: &Host, ports: (u16, u16), seq: u32, data: &[u8]) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(src.mac, dst.mac);
    let b = match (src.ip, dst.ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => b.ipv4(s.octets(), d.octets(), 128),
        (IpAddr::V6(s), IpAddr::V6(d)) => b.ipv6(s.octets(), d.octets(), 128),
        _ => panic!("mixed families"),
    };
    let mut v = Vec::new();
    b.tcp(ports.0, ports.1, seq, 64000)
        .ack(1)
        .psh()
        .write(&mut v, data)
        .unwrap();
    v
}

#[test]
fn class2_peer_named_by_the_smb_name_not_an_address() {
    use hvsleuth_bench::smb::{PduBuf, Smb2Session};
    let d = tmpdir("c2n");
    let me = [h(0x41, "10.88.1.5"), h(0x42, "fd88::5")];
    let peer = [h(0x51, "10.88.1.9"), h(0x52, "fd88::9")];
    let dns = [h(0x90, "10.88.1.250"), h(0x91, "10.88.1.251")];
    let mut c = Cap::new("tr-55.pcapng", &[("nic-a", None), ("nic-b", None)]);
    let silent = [
        (T0 + 100 * S, T0 + 125 * S),
        (T0 + 400 * S, T0 + 425 * S),
        (T0 + 700 * S, T0 + 725 * S),
    ];
    for i in 0..2u32 {
        let mut t = T0;
        while t < T0 + 900 * S {
            c.udp(t, i, &me[i as usize], &peer[i as usize], (3343, 3343), 92);
            if !silent.iter().any(|(s, e)| t >= *s && t < *e) {
                c.udp(
                    t + 2_000_000,
                    i,
                    &peer[i as usize],
                    &me[i as usize],
                    (3343, 3343),
                    92,
                );
            }
            t += 2 * S;
        }
    }
    c.chatter(0, &me[0], &dns, T0, T0 + 900 * S);
    // SMB from me to the peer: \\WEST-07\vols.
    let sess = Smb2Session {
        next_msg_id: 0,
        session_id: 0x0000_1000_0000_0077,
        tree_id: 5,
    };
    let mut pdu = PduBuf::new();
    let (mut cs, mut ss) = (1u32, 1u32);
    let mut t = T0 + 10 * S;
    let mut send = |c: &mut Cap, to_server: bool, data: Vec<u8>| {
        let (s, dd, ports, seq) = if to_server {
            (&me[0], &peer[0], (50300, 445), &mut cs)
        } else {
            (&peer[0], &me[0], (445, 50300), &mut ss)
        };
        let f = frame_data(s, dd, ports, *seq, &data);
        *seq = seq.wrapping_add(data.len() as u32);
        let w = f.len() as u32;
        c.frames.push((t, 0, f, w));
        t += 1_000_000;
    };
    let (guid, salt) = ([7u8; 16], [9u8; 32]);
    send(
        &mut c,
        true,
        pdu.negotiate_req(&sess, 0, &guid, &salt).to_vec(),
    );
    send(
        &mut c,
        false,
        pdu.negotiate_resp(&sess, 0, &guid, &salt, 133_000_000_000_000_000)
            .to_vec(),
    );
    send(
        &mut c,
        true,
        pdu.tree_connect_req(&sess, 1, "\\\\WEST-07\\vols").to_vec(),
    );
    send(&mut c, false, pdu.tree_connect_resp(&sess, 1).to_vec());
    let a = run(&[c.write(&d)], S);
    let hb = findings(&a, "HVS006");
    assert!(!hb.is_empty());
    for f in &hb {
        assert_eq!(
            f.node.as_deref(),
            Some("WEST-07"),
            "{:#?}",
            a.summary.inferred
        );
    }
    let q = hb.iter().find(|f| f.title.contains("quarantine")).unwrap();
    assert!(q.remediation.iter().any(|r| r.contains("-Name WEST-07")));
}

// ---- class 1: one-peer links decided by answer times within the capture ----

/// A TCP segment with real sequence and acknowledgement numbers (`ack`
/// None: no ACK flag), SYN when `syn`, `len` bytes of payload.
fn seg(
    src: &Host,
    dst: &Host,
    ports: (u16, u16),
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    len: usize,
) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(src.mac, dst.mac);
    let b = match (src.ip, dst.ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => b.ipv4(s.octets(), d.octets(), 128),
        (IpAddr::V6(s), IpAddr::V6(d)) => b.ipv6(s.octets(), d.octets(), 128),
        _ => panic!("mixed families"),
    };
    let mut t = b.tcp(ports.0, ports.1, seq, 64000);
    if syn {
        t = t.syn();
    }
    if let Some(a) = ack {
        t = t.ack(a);
    }
    if len > 0 {
        t = t.psh();
    }
    let mut v = Vec::new();
    t.write(&mut v, &vec![0x3cu8; len]).unwrap();
    v
}

/// An SMB-like conversation from `c` to `s` on interface `i` as a capture at
/// one end sees it: a handshake, then `n` requests of 1448 bytes every `gap`
/// ns, each acknowledged by the server `s_ans` ns after it is captured; every
/// 10th also gets a 100-byte response, which the client acknowledges
/// `c_ans` ns after it is captured.
fn exchange(
    cap: &mut Cap,
    i: u32,
    c: &Host,
    s: &Host,
    port: u16,
    from: i64,
    n: u32,
    gap: i64,
    c_ans: i64,
    s_ans: i64,
) {
    exchange_every(cap, i, c, s, port, from, n, gap, c_ans, s_ans, 10);
}

/// [`exchange`] with a response to every `resp`-th request (0: none, data one way only).
fn exchange_every(
    cap: &mut Cap,
    i: u32,
    c: &Host,
    s: &Host,
    port: u16,
    from: i64,
    n: u32,
    gap: i64,
    c_ans: i64,
    s_ans: i64,
    resp: u32,
) {
    let ports = (port, 445);
    let back = (445, port);
    let mut push = |ts: i64, f: Vec<u8>| {
        let w = f.len() as u32;
        cap.frames.push((ts, i, f, w));
    };
    let (mut cs, mut ss) = (1000u32, 9000u32);
    push(from, seg(c, s, ports, cs, None, true, 0));
    push(from + s_ans, seg(s, c, back, ss, Some(cs + 1), true, 0));
    cs += 1;
    ss += 1;
    push(
        from + s_ans + c_ans,
        seg(c, s, ports, cs, Some(ss), false, 0),
    );
    for k in 0..n {
        let t = from + S / 10 + k as i64 * gap;
        push(t, seg(c, s, ports, cs, Some(ss), false, 1448));
        cs += 1448;
        push(t + s_ans, seg(s, c, back, ss, Some(cs), false, 0));
        if resp > 0 && k % resp == resp - 1 {
            let r = t + s_ans + 40_000;
            push(r, seg(s, c, back, ss, Some(cs), false, 100));
            ss += 100;
            push(r + c_ans, seg(c, s, ports, cs, Some(ss), false, 0));
        }
    }
}

/// SOFS node alpha's capture (the seed-28 class): its front NIC's only peer
/// is a Hyper-V host (not captured) writing to it, no direction flags; its
/// back NIC heartbeats with beta and gamma and forwards the writes to beta.
/// Alpha answers in `me_ans` ns, the host in `host_ans`. The host's MAC and
/// address are the lower ones.
fn one_peer_front(dir: &std::path::Path, v6: bool, me_ans: i64, host_ans: i64) -> PathBuf {
    let (host, front) = if v6 {
        (h(0x01, "fd5e:10::7"), h(0x40, "fd5e:10::2b"))
    } else {
        (h(0x01, "10.77.4.7"), h(0x40, "10.77.4.43"))
    };
    let (a, b, c) = if v6 {
        (
            h(0x41, "fd5e:20::2b"),
            h(0x42, "fd5e:20::2c"),
            h(0x43, "fd5e:20::2d"),
        )
    } else {
        (
            h(0x41, "10.78.4.43"),
            h(0x42, "10.78.4.44"),
            h(0x43, "10.78.4.45"),
        )
    };
    let mut cap = Cap::new("node-a.pcapng", &[("SLOT 2", None), ("SLOT 3", None)]);
    cap.heartbeats(1, &a, &b, T0, T0 + 40 * S, S, &[]);
    cap.heartbeats(1, &a, &c, T0, T0 + 40 * S, S, &[]);
    exchange(
        &mut cap,
        0,
        &host,
        &front,
        50300,
        T0 + 5 * S,
        4000,
        5_000_000,
        host_ans,
        me_ans,
    );
    smb_bulk(
        &mut cap,
        1,
        &a,
        &b,
        T0 + 5 * S + 3_000_000,
        4000,
        5_000_000,
        50301,
    );
    cap.write(dir)
}

#[test]
fn class1_one_peer_link_decided_by_answer_times_v4_and_v6() {
    for v6 in [false, true] {
        let d = tmpdir(&format!("c1-ans-{v6}"));
        // Alpha answers in 15 us, the host (a round trip away) in 250 us.
        let a = run(&[one_peer_front(&d, v6, 15_000, 250_000)], S);
        let front = iface_named(&a, "SLOT 2");
        let want: IpAddr = if v6 { "fd5e:10::2b" } else { "10.77.4.43" }
            .parse()
            .unwrap();
        assert_eq!(
            front.addresses,
            vec![want],
            "v6 {v6}: {:#?}",
            a.summary.inferred
        );
        let fact = a
            .summary
            .inferred
            .iter()
            .find(|f| f.fact.contains("\"SLOT 2\""))
            .unwrap();
        assert!(
            !fact.conflict && fact.reason.contains("answers in 15 us"),
            "{fact:?}"
        );
        // The SMB server is placed on alpha, so the SOFS forwarding
        // correlation runs without an inventory.
        let f = findings(&a, "HVS003");
        assert_eq!(f.len(), 1, "v6 {v6}: {:#?}", a.summary.findings);
        assert_eq!(f[0].node.as_deref(), Some("node-a"));
    }
}

#[test]
fn class1_answer_times_that_do_not_decide_keep_the_conflict() {
    // Both ends answer alike: nothing to tell them apart.
    let d = tmpdir("c1-ans-same");
    let a = run(&[one_peer_front(&d, false, 40_000, 45_000)], S);
    let front = iface_named(&a, "SLOT 2");
    assert!(front.addresses.is_empty(), "{:?}", front.addresses);
    assert!(
        a.summary
            .inferred
            .iter()
            .any(|f| f.conflict && f.fact.contains("\"SLOT 2\"") && f.reason.contains("undecided"))
    );
    // The faster end is far slower than this machine answers on its other
    // NIC (a capture point away from both ends, a tap): disagreement.
    let d = tmpdir("c1-ans-tap");
    let mut cap = Cap::new("tap.pcapng", &[("p0", None), ("p1", None)]);
    let (x, y) = (h(0x01, "10.9.9.1"), h(0x02, "10.9.9.2"));
    let (me, p1, p2) = (
        h(0x50, "10.8.8.5"),
        h(0x51, "10.8.8.6"),
        h(0x52, "10.8.8.7"),
    );
    exchange(
        &mut cap, 0, &x, &y, 50400, T0, 200, 10_000_000, 2_000_000, 400_000,
    );
    exchange(
        &mut cap, 1, &p1, &me, 50401, T0, 200, 10_000_000, 300_000, 8_000,
    );
    exchange(
        &mut cap, 1, &p2, &me, 50402, T0, 200, 10_000_000, 300_000, 8_000,
    );
    let a = run(&[cap.write(&d)], S);
    let p0 = iface_named(&a, "p0");
    let p1i = iface_named(&a, "p1");
    assert_eq!(p1i.addresses, vec![me.ip]);
    assert!(p0.addresses.is_empty(), "{:?}", p0.addresses);
    let fact = a
        .summary
        .inferred
        .iter()
        .find(|f| f.fact.contains("\"p0\""))
        .unwrap();
    assert!(
        fact.conflict && fact.reason.contains("do not fit the captured machine"),
        "{fact:?}"
    );
}

/// An ARP request from `who` asking for `whom`, or (`reply`) the answer.
fn arp(src: &Host, dst_mac: [u8; 6], tpa: &Host, reply: bool) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(t)) = (src.ip, tpa.ip) else {
        panic!("ARP is IPv4")
    };
    let mut v = Vec::new();
    v.extend_from_slice(&dst_mac);
    v.extend_from_slice(&src.mac);
    v.extend_from_slice(&[
        0x08,
        0x06,
        0,
        1,
        0x08,
        0,
        6,
        4,
        0,
        if reply { 2 } else { 1 },
    ]);
    v.extend_from_slice(&src.mac);
    v.extend_from_slice(&s.octets());
    v.extend_from_slice(&if reply { tpa.mac } else { [0; 6] });
    v.extend_from_slice(&t.octets());
    v.resize(60, 0);
    v
}

#[test]
fn class1_arp_replies_time_the_ends_of_a_udp_only_link() {
    // A backup link with UDP only (no TCP to time) and ARP both ways: the
    // captured NIC replies in 20 us, the peer in 300 us.
    let d = tmpdir("c1-arp");
    let (me, peer) = (h(0x60, "192.168.40.20"), h(0x03, "192.168.40.3"));
    let mgmt = h(0x61, "192.168.41.20");
    let dns = [h(0x90, "192.168.41.250"), h(0x91, "192.168.41.251")];
    let mut cap = Cap::new("bk.pcapng", &[("mgmt", None), ("backup", None)]);
    cap.chatter(0, &mgmt, &dns, T0, T0 + 30 * S);
    for k in 0..20i64 {
        let t = T0 + k * S;
        for (ts, f) in [
            (t, arp(&me, [0xff; 6], &peer, false)),
            (t + 300_000, arp(&peer, me.mac, &me, true)),
            (t + S / 2, arp(&peer, [0xff; 6], &me, false)),
            (t + S / 2 + 20_000, arp(&me, peer.mac, &peer, true)),
        ] {
            let w = f.len() as u32;
            cap.frames.push((ts, 1, f, w));
        }
        for j in 0..5 {
            cap.udp(
                t + 100_000_000 + j * 1_000_000,
                1,
                &peer,
                &me,
                (40000, 9000),
                1000,
            );
        }
    }
    let a = run(&[cap.write(&d)], S);
    let bk = iface_named(&a, "backup");
    assert_eq!(bk.addresses, vec![me.ip], "{:#?}", a.summary.inferred);
}

// ---- HVS004 without an inventory: a network the cluster does not use ----

/// Node alpha's capture: NIC 0 heartbeats with beta and gamma; NIC 1 (a
/// backup network, its MAC decided by two backup servers) carries a live
/// migration to beta; `hb_on_lm` puts heartbeats there too, `hb` none anywhere.
fn lm_capture(dir: &std::path::Path, v6: bool, hb: bool, hb_on_lm: bool) -> PathBuf {
    let ip = |v4: &str, v6s: &str| if v6 { v6s.to_string() } else { v4.to_string() };
    let a = h(0x71, &ip("10.40.1.11", "fd40:1::11"));
    let b = h(0x72, &ip("10.40.1.12", "fd40:1::12"));
    let c = h(0x73, &ip("10.40.1.13", "fd40:1::13"));
    let a2 = h(0x74, &ip("10.41.1.11", "fd41:1::11"));
    let b2 = h(0x75, &ip("10.41.1.12", "fd41:1::12"));
    let bk = [
        h(0x76, &ip("10.41.1.200", "fd41:1::c8")),
        h(0x77, &ip("10.41.1.201", "fd41:1::c9")),
    ];
    let mut cap = Cap::new("hv-a.pcapng", &[("NIC1", None), ("NIC2", None)]);
    if hb {
        cap.heartbeats(0, &a, &b, T0, T0 + 40 * S, S, &[]);
        cap.heartbeats(0, &a, &c, T0, T0 + 40 * S, S, &[]);
    } else {
        cap.chatter(0, &a, &[b, c], T0, T0 + 40 * S);
    }
    if hb_on_lm {
        cap.heartbeats(1, &a2, &b2, T0, T0 + 40 * S, S, &[]);
    }
    cap.chatter(1, &a2, &bk, T0, T0 + 40 * S);
    // 8 MB of live migration from alpha to beta over 8 s.
    for k in 0..5600u32 {
        let t = T0 + 10 * S + k as i64 * 1_400_000;
        cap.tcp(t, 1, &a2, &b2, (50600, 6600), 1 + k * 1448, 1448);
        if k % 2 == 1 {
            cap.tcp(t + 200_000, 1, &b2, &a2, (6600, 50600), 1, 0);
        }
    }
    cap.write(dir)
}

#[test]
fn hvs004_lm_on_a_network_without_heartbeats_v4_and_v6() {
    for v6 in [false, true] {
        let d = tmpdir(&format!("lm-nohb-{v6}"));
        let a = run(&[lm_capture(&d, v6, true, false)], S);
        let f = findings(&a, "HVS004");
        assert_eq!(f.len(), 1, "v6 {v6}: {:#?}", a.summary.findings);
        assert_eq!(f[0].severity, hvsleuth_reports::Severity::High);
        assert_eq!(f[0].interface.as_deref(), Some("NIC2"));
        assert!(
            f[0].summary
                .contains("no cluster heartbeats on this network"),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].evidence
                .iter()
                .any(|(k, v)| k.starts_with("inferred") && v.contains("confidence")),
            "{:?}",
            f[0].evidence
        );
        assert!(
            f[0].remediation
                .iter()
                .any(|r| r.contains("MigrationExcludeNetworks")
                    && r.contains("$_.Role -eq \"None\""))
        );
        // The per-host fix lists the heartbeat network's address, not the backup one.
        let want = if v6 { "fd40:1::11" } else { "10.40.1.11" };
        assert!(
            f[0].remediation
                .iter()
                .any(|r| r.contains(&format!("<subnet of {want}>"))),
            "{:?}",
            f[0].remediation
        );

        // Heartbeats on the migration network too: at most the low note.
        let d = tmpdir(&format!("lm-hb-{v6}"));
        let a = run(&[lm_capture(&d, v6, true, true)], S);
        assert!(
            findings(&a, "HVS004")
                .iter()
                .all(|f| f.severity == hvsleuth_reports::Severity::Low),
            "{:#?}",
            a.summary.findings
        );
        // No heartbeats anywhere: nothing says these are cluster nodes.
        let d = tmpdir(&format!("lm-none-{v6}"));
        let a = run(&[lm_capture(&d, v6, false, false)], S);
        assert!(
            findings(&a, "HVS004").is_empty(),
            "{:#?}",
            a.summary.findings
        );
    }
}

/// A migration-like link between nodes alpha and beta, data one way (alpha
/// to beta, so only beta answers), nothing else on it; each node's other
/// NIC has two peers (its MAC decided), with TCP answers on it when
/// `tcp_elsewhere`. Alpha's capture sees beta answer in 180 us, beta's in 12 us.
fn one_way_link(
    dir: &std::path::Path,
    v6: bool,
    which: &[usize],
    tcp_elsewhere: bool,
) -> Vec<PathBuf> {
    let ip = |v4: &str, v6s: &str| if v6 { v6s.to_string() } else { v4.to_string() };
    let link = [
        h(0xa1, &ip("10.62.0.31", "fd62::31")),
        h(0x0a, &ip("10.62.0.4", "fd62::4")),
    ];
    let other = [
        h(0xb1, &ip("10.61.0.31", "fd61::31")),
        h(0xb2, &ip("10.61.0.4", "fd61::4")),
    ];
    let peers = [
        h(0xc1, &ip("10.61.0.200", "fd61::c8")),
        h(0xc2, &ip("10.61.0.201", "fd61::c9")),
    ];
    let names = ["cap-x.pcapng", "cap-y.pcapng"];
    let mut out = Vec::new();
    for &n in which {
        let mut cap = Cap::new(names[n], &[("eth0", None), ("eth1", None)]);
        if tcp_elsewhere {
            exchange(
                &mut cap, 0, &peers[0], &other[n], 50700, T0, 100, 20_000_000, 200_000, 6_000,
            );
            exchange(
                &mut cap, 0, &peers[1], &other[n], 50701, T0, 100, 20_000_000, 200_000, 6_000,
            );
        } else {
            cap.chatter(0, &other[n], &peers, T0, T0 + 20 * S);
        }
        let (c_ans, s_ans) = if n == 0 {
            (5_000, 180_000)
        } else {
            (190_000, 12_000)
        };
        exchange_every(
            &mut cap,
            1,
            &link[0],
            &link[1],
            50702,
            T0 + S,
            2000,
            5_000_000,
            c_ans,
            s_ans,
            0,
        );
        out.push(cap.write(dir));
    }
    out
}

#[test]
fn class1_one_way_link_decided_by_who_answers_v4_and_v6() {
    for v6 in [false, true] {
        let (x, y): (IpAddr, IpAddr) = if v6 {
            ("fd62::31".parse().unwrap(), "fd62::4".parse().unwrap())
        } else {
            ("10.62.0.31".parse().unwrap(), "10.62.0.4".parse().unwrap())
        };
        let own = |a: &Analysis, cap: &str| {
            a.model
                .ifaces
                .iter()
                .find(|i| i.capture == cap && i.capture_if_name == "eth1")
                .unwrap()
                .addresses
                .clone()
        };
        // Captured at both ends, no answer times elsewhere: beta's answers
        // are fast in beta's capture and slow in alpha's.
        let d = tmpdir(&format!("c1-oneway-both-{v6}"));
        let a = run(&one_way_link(&d, v6, &[0, 1], false), S);
        assert_eq!(
            own(&a, "cap-x.pcapng"),
            vec![x],
            "v6 {v6}: {:#?}",
            a.summary.inferred
        );
        assert_eq!(
            own(&a, "cap-y.pcapng"),
            vec![y],
            "v6 {v6}: {:#?}",
            a.summary.inferred
        );
        assert!(
            !a.summary.inferred.iter().any(|f| f.conflict),
            "{:#?}",
            a.summary.inferred
        );
        // Alpha's capture alone: only beta answers, far slower than alpha
        // answers on its other NIC.
        let d = tmpdir(&format!("c1-oneway-x-{v6}"));
        let a = run(&one_way_link(&d, v6, &[0], true), S);
        assert_eq!(
            own(&a, "cap-x.pcapng"),
            vec![x],
            "v6 {v6}: {:#?}",
            a.summary.inferred
        );
        // Beta's capture alone: only beta answers, as fast as beta does
        // elsewhere: that alone does not say which end it is.
        let d = tmpdir(&format!("c1-oneway-y-{v6}"));
        let a = run(&one_way_link(&d, v6, &[1], true), S);
        assert!(
            own(&a, "cap-y.pcapng").is_empty(),
            "v6 {v6}: {:#?}",
            a.summary.inferred
        );
    }
}
