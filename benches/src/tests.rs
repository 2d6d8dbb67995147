//! End-to-end checks of the generators: read the output back with our
//! reader, and let tshark (when installed) judge its validity.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use hvsleuth_parsers::{InterfaceInfo, Packet, PacketSink, read_capture};

use super::writer::{CaptureWriter, Format, IfaceDesc};
use super::*;

const ZEEK_MULTICHANNEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/zeek/smb3_multichannel.pcap"
);

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hvsleuth-synth-{}-{name}", std::process::id()))
}

#[derive(Default)]
struct Back {
    ifaces: Vec<InterfaceInfo>,
    packets: u64,
    wire: u64,
    first_ts: Option<i64>,
    last_ts: i64,
    backwards: u64,
}

impl PacketSink for Back {
    fn interface(&mut self, info: &InterfaceInfo) {
        self.ifaces.push(info.clone());
    }
    fn packet(&mut self, p: &Packet<'_>) {
        self.packets += 1;
        self.wire += p.wire_len as u64;
        self.first_ts.get_or_insert(p.ts_ns);
        if p.ts_ns < self.last_ts {
            self.backwards += 1;
        }
        self.last_ts = p.ts_ns;
    }
}

fn read_back(p: &Path) -> Back {
    let mut b = Back::default();
    let r = read_capture(File::open(p).unwrap(), "synth", &mut b);
    assert_eq!(r.error, None, "{}", p.display());
    assert_eq!(r.packets, b.packets);
    b
}

fn have_tshark() -> bool {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("tshark not found: skipping the tshark checks");
    }
    ok
}

fn tshark(args: &[&str]) -> String {
    let o = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        o.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts tshark's expert info has no error-severity item (Malformed
/// packets are errors), nor any warning when `no_warnings`; returns the
/// report. Two-pass (`-2`), so request/response matching sees the responses.
fn assert_no_expert_errors(p: &Path, no_warnings: bool) -> String {
    let out = tshark(&["-2", "-r", p.to_str().unwrap(), "-q", "-z", "expert"]);
    assert!(!out.contains("Malformed"), "{}:\n{out}", p.display());
    assert!(!out.contains("Errors ("), "{}:\n{out}", p.display());
    if no_warnings {
        assert!(!out.contains("Warns ("), "{}:\n{out}", p.display());
    }
    out
}

/// `tshark -T fields -e smb2.cmd | sort | uniq -c`: PDUs per command code.
fn tshark_smb2_cmds(p: &Path) -> BTreeMap<u16, u64> {
    let out = tshark(&["-r", p.to_str().unwrap(), "-T", "fields", "-e", "smb2.cmd"]);
    let mut m = BTreeMap::new();
    for v in out
        .lines()
        .flat_map(|l| l.split(','))
        .filter(|v| !v.is_empty())
    {
        *m.entry(v.trim().parse::<u16>().unwrap()).or_default() += 1;
    }
    m
}

/// Conversations listed by `tshark -q -z conv,tcp`.
fn tshark_tcp_convs(p: &Path) -> usize {
    tshark(&["-r", p.to_str().unwrap(), "-q", "-z", "conv,tcp"])
        .lines()
        .filter(|l| l.contains("<->"))
        .count()
}

#[test]
fn parse_sizes() {
    assert_eq!(parse_size("1000000").unwrap(), 1_000_000);
    assert_eq!(parse_size("1G").unwrap(), 1 << 30);
    assert_eq!(parse_size("512M").unwrap(), 512 << 20);
    assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
    assert_eq!(parse_size("64k").unwrap(), 64 << 10);
    assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
    assert_eq!(parse_size(" 2 TB ").unwrap(), 2 << 40);
    for bad in [
        "",
        "G",
        "1X",
        "1.2.3G",
        "-1",
        "99999999999999999999",
        "20000000T",
    ] {
        assert!(parse_size(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn writer_round_trip() {
    for format in [Format::Pcap, Format::PcapNg] {
        let ifaces = vec![
            IfaceDesc {
                name: "eth0".into(),
                description: Some("first".into()),
                link_type: 1,
                snaplen: 65535,
                speed_bps: Some(1_000_000_000),
            },
            IfaceDesc {
                name: "ëth1".into(),
                description: None,
                link_type: 1,
                snaplen: 65535,
                speed_bps: None,
            },
        ];
        let mut w = CaptureWriter::new(Vec::new(), format, &ifaces).unwrap();
        w.packet(0, 1_700_000_000_123_456_789, 60, &[b"abc", b"de"])
            .unwrap();
        w.packet(1, 1_700_000_001_000_000_001, 3, &[b"xyz"])
            .unwrap();
        assert_eq!(
            w.packet(2, 0, 0, &[b"x"]).is_err(),
            format == Format::PcapNg
        );
        let n = w.packets();
        let bytes = w.bytes();
        let buf = w.finish().unwrap();
        assert_eq!(bytes, buf.len() as u64);
        struct S(Vec<(u32, i64, u32, Vec<u8>)>, Vec<String>);
        impl PacketSink for S {
            fn interface(&mut self, i: &InterfaceInfo) {
                self.1.push(i.name.clone());
            }
            fn packet(&mut self, p: &Packet<'_>) {
                self.0.push((p.iface, p.ts_ns, p.wire_len, p.data.to_vec()));
            }
        }
        let mut s = S(Vec::new(), Vec::new());
        let r = read_capture(&buf[..], "pcapfile", &mut s);
        assert_eq!(r.error, None);
        assert_eq!(r.packets, n);
        assert_eq!(
            s.0[0],
            (0, 1_700_000_000_123_456_789, 60, b"abcde".to_vec())
        );
        let second_iface = if format == Format::PcapNg { 1 } else { 0 };
        assert_eq!(
            s.0[1],
            (second_iface, 1_700_000_001_000_000_001, 3, b"xyz".to_vec())
        );
        if format == Format::PcapNg {
            assert_eq!(s.1, ["eth0", "ëth1"]);
        } else {
            assert_eq!(s.1, ["pcapfile"]);
        }
    }
}

fn check_bench(o: &BenchOpts) -> GenSummary {
    let s = gen_bench(o).unwrap();
    assert_eq!(s.bytes, std::fs::metadata(&o.out).unwrap().len());
    assert!(s.bytes >= o.size_bytes && s.bytes < o.size_bytes + (4 << 20));
    let b = read_back(&o.out);
    assert_eq!(b.packets, s.packets);
    assert_eq!(b.wire, s.wire_bytes);
    assert_eq!(b.backwards, 0, "timestamps go forward");
    assert_eq!(b.first_ts, Some(s.first_ts_ns));
    assert_eq!(b.last_ts, s.last_ts_ns);
    assert_eq!(b.ifaces.len() as u32, s.interfaces);
    if have_tshark() {
        let expert = assert_no_expert_errors(&o.out, true);
        eprintln!("{expert}");
        let got = tshark_smb2_cmds(&o.out);
        let mut want = BTreeMap::new();
        for code in [
            smb::NEGOTIATE,
            smb::TREE_CONNECT,
            smb::CREATE,
            smb::CLOSE,
            smb::READ,
            smb::WRITE,
        ] {
            let n = s.smb2_pdus(smb::command_name(code));
            if n > 0 {
                want.insert(code, n);
            }
        }
        assert_eq!(got, want, "tshark smb2.cmd counts vs the generator's");
        // Every IPv4, TCP and UDP checksum is right.
        let f = o.out.to_str().unwrap();
        let bad = tshark(&[
            "-r",
            f,
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            "tcp.checksum.status == 0 || udp.checksum.status == 0 || ip.checksum.status == 0",
        ]);
        assert_eq!(bad.lines().count(), 0, "{bad}");
        // ...and verified: every frame is TCP or UDP.
        let good = tshark(&[
            "-r",
            f,
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "tcp.checksum.status == 1 || udp.checksum.status == 1",
        ]);
        assert_eq!(good.lines().count() as u64, s.packets);
        // SRT statistics see every request answered.
        let srt = tshark(&["-r", o.out.to_str().unwrap(), "-q", "-z", "smb2,srt"]);
        assert!(srt.contains("Write") && srt.contains("Read"), "{srt}");
    }
    s
}

#[test]
fn bench_big_frames_pcapng() {
    let mut o = BenchOpts::new(tmp("big.pcapng"));
    o.size_bytes = 6 << 20;
    let s = check_bench(&o);
    let b = read_back(&o.out);
    assert_eq!(
        b.ifaces.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        [
            "vEthernet (Storage)",
            "vEthernet (LiveMigration)",
            "vEthernet (Management)"
        ]
    );
    assert!(s.smb2_pdus("WRITE") > 0 && s.smb2_pdus("READ") > 0);
    // Big frames: on average several KiB per frame.
    assert!(s.wire_bytes / s.packets > 4000, "{s:?}");
    std::fs::remove_file(&o.out).unwrap();
}

#[test]
fn bench_small_packets_pcap() {
    let mut o = BenchOpts::new(tmp("small.pcap"));
    o.size_bytes = 3 << 20;
    o.small_packets = true;
    o.pcapng = false;
    o.seed = 7;
    let s = check_bench(&o);
    assert!(s.wire_bytes / s.packets < 1000, "{s:?}");
    std::fs::remove_file(&o.out).unwrap();
}

#[test]
fn bench_mtu_1500() {
    let mut o = BenchOpts::new(tmp("mtu.pcapng"));
    o.size_bytes = 4 << 20;
    o.mtu_1500 = true;
    let s = check_bench(&o);
    // Full-size segments and every other frame an ACK: about 1 KB a frame.
    let avg = s.wire_bytes / s.packets;
    assert!((800..1400).contains(&avg), "{avg} {s:?}");
    std::fs::remove_file(&o.out).unwrap();
}

#[test]
fn bench_is_deterministic() {
    let mut a = BenchOpts::new(tmp("det-a.pcapng"));
    a.size_bytes = 1 << 20;
    let mut b = a.clone();
    b.out = tmp("det-b.pcapng");
    let mut c = a.clone();
    c.out = tmp("det-c.pcapng");
    c.seed = 2;
    gen_bench(&a).unwrap();
    gen_bench(&b).unwrap();
    gen_bench(&c).unwrap();
    let (fa, fb, fc) = (
        std::fs::read(&a.out).unwrap(),
        std::fs::read(&b.out).unwrap(),
        std::fs::read(&c.out).unwrap(),
    );
    assert!(fa == fb, "same seed, same bytes");
    assert!(fa != fc, "another seed, other bytes");
    for p in [a.out, b.out, c.out] {
        std::fs::remove_file(p).unwrap();
    }
}

/// pcapng bytes of one copy of the input (EPB per frame).
fn epb_bytes(p: &Path) -> u64 {
    struct E(u64);
    impl PacketSink for E {
        fn interface(&mut self, _: &InterfaceInfo) {}
        fn packet(&mut self, p: &Packet<'_>) {
            self.0 += 32 + p.data.len().div_ceil(4) as u64 * 4;
        }
    }
    let mut e = E(0);
    read_capture(File::open(p).unwrap(), "x", &mut e);
    e.0
}

fn check_scale(overlap: bool) {
    let input = Path::new(ZEEK_MULTICHANNEL);
    // capinfos smb3_multichannel.pcap: Number of packets: 1448
    const PACKETS: u64 = 1448;
    // tshark -r smb3_multichannel.pcap -q -z conv,tcp: 4 conversations
    const CONVS: usize = 4;
    let copies = 3;
    let o = ScaleOpts {
        input: input.into(),
        out: tmp(if overlap {
            "scale-overlap.pcapng"
        } else {
            "scale.pcapng"
        }),
        // Exactly three whole copies: the file header pushes the third copy
        // past the limit and nothing more is written.
        size_bytes: copies * epb_bytes(input),
        overlap,
    };
    let s = scale(&o).unwrap();
    assert_eq!(s.copies, copies as u32);
    assert_eq!(s.packets, copies * PACKETS);
    // Copies 1 and 2 are IPv4 (1408 frames) and ARP (40 frames, tshark -T
    // fields -e frame.protocols): every frame re-addressed.
    assert_eq!(s.readdressed, (copies - 1) * PACKETS);
    let b = read_back(&o.out);
    assert_eq!(b.packets, copies * PACKETS);
    assert_eq!(b.backwards, 0);
    assert_eq!(b.ifaces.len(), 1);
    assert_eq!(b.ifaces[0].name, "smb3_multichannel");
    if have_tshark() {
        // The input has expert items of its own (ACKed unseen segment,
        // D-SACK, keep-alives, SYNs); every copy has the same ones:
        // tshark -2 -r smb3_multichannel.pcap -q -z expert: Warns (39), Notes (48), Chats (8).
        let expert = assert_no_expert_errors(&o.out, false);
        for (what, n) in [("Warns", 39), ("Notes", 48), ("Chats", 8)] {
            let want = format!("{what} ({})", copies * n);
            assert!(expert.contains(&want), "want {want}:\n{expert}");
        }
        assert_eq!(tshark_tcp_convs(&o.out), copies as usize * CONVS);
        // Checksums stay valid: tshark's validation finds no bad one.
        let bad = tshark(&[
            "-r",
            o.out.to_str().unwrap(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            "tcp.checksum.status == 0 || ip.checksum.status == 0",
        ]);
        assert_eq!(bad.lines().count(), 0, "{bad}");
        // tshark -r smb3_multichannel.pcap -o tcp.check_checksum:TRUE -Y "tcp.checksum.status == 1": 1407
        let good = tshark(&[
            "-r",
            o.out.to_str().unwrap(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-Y",
            "tcp.checksum.status == 1",
        ]);
        assert_eq!(good.lines().count() as u64, copies * 1407);
        // The copies' addresses: 172.17.0.x, 172.17.1.x, 172.17.2.x.
        let hosts = tshark(&[
            "-r",
            o.out.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "ip.src",
        ]);
        // (ARP frames have no ip.src.)
        let mut set: Vec<&str> = hosts.lines().filter(|l| !l.is_empty()).collect();
        set.sort();
        set.dedup();
        assert_eq!(
            set,
            [
                "172.17.0.184",
                "172.17.0.189",
                "172.17.1.184",
                "172.17.1.189",
                "172.17.2.184",
                "172.17.2.189"
            ]
        );
    }
    std::fs::remove_file(&o.out).unwrap();
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn scale_sequential() {
    check_scale(false);
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn scale_overlap() {
    check_scale(true);
}
