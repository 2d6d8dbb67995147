//! The benchmark capture: node1 of a 4-node Hyper-V cluster, seen on its
//! three cluster networks.
//!
//! * Storage (iface 0, 10.10.1.0/24): 8 SMB 3.1.1 connections from node1 to
//!   node2..node4 on TCP 445 (multichannel), each set up with NEGOTIATE,
//!   TREE_CONNECT and CREATE, then READ/WRITE of 64 KiB..1 MiB (big frames:
//!   6 connections in 65160-byte TSO-like segments, 2 in 1448-byte MSS
//!   segments) and the occasional CLOSE + CREATE of another `.vhdx`.
//! * Live migration (iface 1, 10.10.2.0/24): TCP 6600 bulk node1 -> node2.
//! * Management (iface 2, 10.10.0.0/24): RDP (TLS records on 3389) and WinRM
//!   (HTTP SOAP on 5985) from an admin workstation.
//! * Every network: NetFT heartbeats (MSRCP over UDP 3343, IPv6, 134-byte
//!   frames), a request/response each way between node1 and each peer, once
//!   per second of capture time.
//!
//! `small_packets` switches to a frames-per-second mix (about 180 bytes a
//! frame): 512 B..1 KiB IOs, CLOSE/CREATE pairs, interactive RDP records,
//! 1448-byte segments and a pure ACK per segment. `mtu_1500` keeps the large
//! IOs but cuts every connection into 1448-byte segments with a delayed ACK
//! every second segment (about 1 KB a frame).

use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Context;

use super::frame::{Emitter, Host, TcpConn};
use super::rng::Rng;
use super::smb::{self, PduBuf, Smb2Session};
use super::writer::{CaptureWriter, Format, IfaceDesc};
use super::{BenchOpts, GenSummary};

const STORAGE: u32 = 0;
const LIVE_MIGRATION: u32 = 1;
const MANAGEMENT: u32 = 2;
const NET_NAMES: [&str; 3] = [
    "vEthernet (Storage)",
    "vEthernet (LiveMigration)",
    "vEthernet (Management)",
];
/// Third octet of each network's IPv4 subnet 10.10.x.0/24.
const NET_OCTET: [u8; 3] = [1, 2, 0];

/// 2026-01-01T00:00:00Z.
const START_NS: i64 = 1_767_225_600_000_000_000;
/// Seconds between 1601-01-01 and 1970-01-01 (Windows FILETIME epoch).
const FILETIME_EPOCH_S: u64 = 11_644_473_600;

const PATTERN_LEN: usize = 2 << 20;
const MAX_IO: usize = 1 << 20;

fn node(net: u32, n: u8) -> Host {
    Host {
        mac: [0x00, 0x15, 0x5d, net as u8, 0x00, n],
        ip: IpAddr::V4(Ipv4Addr::new(10, 10, NET_OCTET[net as usize], n)),
    }
}

fn node_v6(net: u32, n: u8) -> Host {
    Host {
        mac: [0x00, 0x15, 0x5d, net as u8, 0x00, n],
        ip: IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0x10,
            net as u16 + 1,
            0,
            0,
            0,
            0,
            n as u16,
        )),
    }
}

/// One SMB connection and the file it works on.
struct SmbConn {
    tcp: TcpConn,
    sess: Smb2Session,
    file_id: [u8; 16],
    file_no: u32,
}

/// One node pair exchanging heartbeats on one network.
struct HbPair {
    iface: u32,
    a: Host,
    b: Host,
    seq_a: u32,
    seq_b: u32,
}

struct Bench {
    e: Emitter<File>,
    rng: Rng,
    small: bool,
    pattern: Vec<u8>,
    pdu: PduBuf,
    smb: Vec<SmbConn>,
    lm: TcpConn,
    rdp: TcpConn,
    winrm: TcpConn,
    hb: Vec<HbPair>,
    next_hb_ns: u64,
    /// HTTP heads of the WinRM request and response.
    winrm_heads: (String, String),
    sum: GenSummary,
}

/// Writes the benchmark capture described in the module docs.
pub fn gen_bench(o: &BenchOpts) -> anyhow::Result<GenSummary> {
    let file = File::create(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let ifaces: Vec<IfaceDesc> = if o.pcapng {
        NET_NAMES
            .iter()
            .map(|n| IfaceDesc {
                name: n.to_string(),
                description: Some(format!("hvsleuth gen-bench node1 {n}")),
                link_type: 1,
                snaplen: 262_144,
                speed_bps: Some(10_000_000_000),
            })
            .collect()
    } else {
        vec![IfaceDesc {
            name: "node1".into(),
            description: None,
            link_type: 1,
            snaplen: 262_144,
            speed_bps: None,
        }]
    };
    let format = if o.pcapng {
        Format::PcapNg
    } else {
        Format::Pcap
    };
    let w = CaptureWriter::new(file, format, &ifaces)?;
    let (rate, gap_ps) = if o.small_packets {
        (1_000_000_000, 2_000_000)
    } else {
        (2_500_000_000, 0)
    };
    let e = Emitter::new(w, START_NS, rate, gap_ps, o.pcapng);
    let mut b = Bench::new(e, o);
    b.setup()?;
    while b.e.w.bytes() < o.size_bytes {
        b.step()?;
    }
    let mut sum = std::mem::take(&mut b.sum);
    sum.packets = b.e.w.packets();
    sum.bytes = b.e.w.bytes();
    sum.wire_bytes = b.e.w.wire_bytes();
    sum.first_ts_ns = b.e.first_ts_ns.unwrap_or(START_NS);
    sum.last_ts_ns = b.e.last_ts_ns;
    sum.interfaces = ifaces.len() as u32;
    let mut f = b.e.w.finish()?;
    f.flush()?;
    Ok(sum)
}

impl Bench {
    fn new(e: Emitter<File>, o: &BenchOpts) -> Bench {
        let mut rng = Rng::new(o.seed);
        let mut pattern = vec![0u8; PATTERN_LEN];
        rng.fill(&mut pattern);
        let small = o.small_packets;
        let (big_seg, ack_every) = if small {
            (1448, 1)
        } else if o.mtu_1500 {
            (1448, 2)
        } else {
            (65_160, 1)
        };
        let smb = (0..8u8)
            .map(|i| {
                let peer = 2 + i % 3;
                let tso = i < 6;
                SmbConn {
                    tcp: TcpConn {
                        iface: STORAGE,
                        cli: node(STORAGE, 1),
                        srv: node(STORAGE, peer),
                        cport: 49_700 + i as u16,
                        sport: 445,
                        cseq: rng.next_u32(),
                        sseq: rng.next_u32(),
                        seg: if tso { big_seg } else { 1448 },
                        ack_every: if tso { ack_every } else { 2 },
                    },
                    sess: Smb2Session {
                        next_msg_id: 0,
                        session_id: 0x0000_1000_0000_0041 + (peer as u64) * 0x100,
                        tree_id: 1 + i as u32,
                    },
                    file_id: [0; 16],
                    file_no: i as u32,
                }
            })
            .collect();
        let mut conn =
            |iface: u32, cli: Host, srv: Host, cport: u16, sport: u16, seg: usize| TcpConn {
                iface,
                cli,
                srv,
                cport,
                sport,
                cseq: rng.next_u32(),
                sseq: rng.next_u32(),
                seg,
                ack_every: if seg > 1448 { 1 } else { 2 },
            };
        let lm = conn(
            LIVE_MIGRATION,
            node(LIVE_MIGRATION, 1),
            node(LIVE_MIGRATION, 2),
            51_000,
            6600,
            big_seg,
        );
        let admin = Host {
            mac: [0x00, 0x50, 0x56, 0x00, 0x00, 0xc8],
            ip: IpAddr::V4(Ipv4Addr::new(10, 10, 0, 200)),
        };
        let rdp = conn(MANAGEMENT, admin, node(MANAGEMENT, 1), 52_311, 3389, 1448);
        let winrm = conn(MANAGEMENT, admin, node(MANAGEMENT, 1), 52_400, 5985, 1448);
        let mut hb = Vec::new();
        for net in [STORAGE, LIVE_MIGRATION, MANAGEMENT] {
            for peer in 2..=4 {
                hb.push(HbPair {
                    iface: net,
                    a: node_v6(net, 1),
                    b: node_v6(net, peer),
                    seq_a: rng.next_u32() >> 8,
                    seq_b: rng.next_u32() >> 8,
                });
            }
        }
        Bench {
            e,
            rng,
            small,
            pattern,
            pdu: PduBuf::new(),
            smb,
            lm,
            rdp,
            winrm,
            hb,
            next_hb_ns: 0,
            winrm_heads: (
                format!(
                    "POST /wsman HTTP/1.1\r\nConnection: Keep-Alive\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nUser-Agent: Microsoft WinRM Client\r\nContent-Length: {}\r\nHost: node1:5985\r\n\r\n",
                    WSMAN_BODY.len()
                ),
                format!(
                    "HTTP/1.1 200 \r\nContent-Type: application/soap+xml;charset=UTF-8\r\nServer: Microsoft-HTTPAPI/2.0\r\nContent-Length: {}\r\n\r\n",
                    WSMAN_BODY.len()
                ),
            ),
            sum: GenSummary::default(),
        }
    }

    fn count(&mut self, cmd: u16, response: bool) {
        let m = if response {
            &mut self.sum.smb2_responses
        } else {
            &mut self.sum.smb2_requests
        };
        *m.entry(smb::command_name(cmd)).or_default() += 1;
    }

    fn filetime(&self) -> u64 {
        (self.e.now_ns() as u64 / 100) + FILETIME_EPOCH_S * 10_000_000
    }

    /// Connections and SMB sessions up; first file open on each.
    fn setup(&mut self) -> io::Result<()> {
        self.heartbeats_due()?;
        for i in 0..self.smb.len() {
            self.smb[i].tcp.handshake(&mut self.e)?;
            let mut guid = [0u8; 16];
            let mut salt = [0u8; 32];
            self.rng.fill(&mut guid);
            self.rng.fill(&mut salt);
            let ft = self.filetime();
            let c = &mut self.smb[i];
            let id = c.sess.next_msg_id;
            c.sess.next_msg_id += 1;
            let h = self.pdu.negotiate_req(&c.sess, id, &guid, &salt);
            c.tcp.send(&mut self.e, true, h, &[])?;
            self.rng.fill(&mut guid);
            self.rng.fill(&mut salt);
            let h = self.pdu.negotiate_resp(&c.sess, id, &guid, &salt, ft);
            c.tcp.send(&mut self.e, false, h, &[])?;
            let id = c.sess.next_msg_id;
            c.sess.next_msg_id += 1;
            let peer = match c.tcp.srv.ip {
                IpAddr::V4(v) => v.octets()[3],
                IpAddr::V6(_) => 0,
            };
            let path = format!("\\\\node{peer}\\ClusterStorage$");
            let h = self.pdu.tree_connect_req(&c.sess, id, &path);
            c.tcp.send(&mut self.e, true, h, &[])?;
            let h = self.pdu.tree_connect_resp(&c.sess, id);
            c.tcp.send(&mut self.e, false, h, &[])?;
            self.count(smb::NEGOTIATE, false);
            self.count(smb::NEGOTIATE, true);
            self.count(smb::TREE_CONNECT, false);
            self.count(smb::TREE_CONNECT, true);
            self.open(i)?;
        }
        Ok(())
    }

    /// CREATE of connection `i`'s current file.
    fn open(&mut self, i: usize) -> io::Result<()> {
        let ft = self.filetime();
        let mut fid = [0u8; 16];
        self.rng.fill(&mut fid);
        let service_ns = self.service_ns();
        let c = &mut self.smb[i];
        c.file_id = fid;
        let id = c.sess.next_msg_id;
        c.sess.next_msg_id += 1;
        let name = format!("Volume1\\vm{}\\disk.vhdx", c.file_no);
        let h = self.pdu.create_req(&c.sess, id, &name);
        c.tcp.send(&mut self.e, true, h, &[])?;
        self.e.idle(service_ns);
        let h = self.pdu.create_resp(&c.sess, id, &c.file_id, 40 << 30, ft);
        c.tcp.send(&mut self.e, false, h, &[])?;
        self.count(smb::CREATE, false);
        self.count(smb::CREATE, true);
        Ok(())
    }

    /// CLOSE the current file of connection `i` and open another.
    fn reopen(&mut self, i: usize) -> io::Result<()> {
        let service_ns = self.service_ns();
        let c = &mut self.smb[i];
        let id = c.sess.next_msg_id;
        c.sess.next_msg_id += 1;
        let h = self.pdu.close_req(&c.sess, id, &c.file_id);
        c.tcp.send(&mut self.e, true, h, &[])?;
        self.e.idle(service_ns);
        let h = self.pdu.close_resp(&c.sess, id);
        c.tcp.send(&mut self.e, false, h, &[])?;
        c.file_no += 8;
        self.count(smb::CLOSE, false);
        self.count(smb::CLOSE, true);
        self.open(i)
    }

    /// Server time between a request and its response: 20..300 µs.
    fn service_ns(&mut self) -> u64 {
        20_000 + self.rng.below(280_000)
    }

    fn io_len(&mut self) -> u32 {
        if self.small {
            self.rng.pick(&[512, 512, 1024])
        } else {
            self.rng
                .pick(&[65_536, 131_072, 262_144, 524_288, 1_048_576])
        }
    }

    fn data(&mut self, len: usize) -> (usize, usize) {
        let off = self.rng.below((PATTERN_LEN - MAX_IO) as u64) as usize & !63;
        (off, off + len)
    }

    fn smb_io(&mut self, i: usize, write: bool) -> io::Result<()> {
        let len = self.io_len();
        let (a, z) = self.data(len as usize);
        let offset = self.rng.below((40u64 << 30) / len as u64) * len as u64;
        let service_ns = self.service_ns();
        let c = &mut self.smb[i];
        let id = c.sess.next_msg_id;
        c.sess.next_msg_id += len.div_ceil(65_536) as u64;
        let data = &self.pattern[a..z];
        if write {
            let h = self.pdu.write_req(&c.sess, id, &c.file_id, offset, len);
            c.tcp.send(&mut self.e, true, h, data)?;
            self.e.idle(service_ns);
            let h = self.pdu.write_resp(&c.sess, id, len);
            c.tcp.send(&mut self.e, false, h, &[])?;
        } else {
            let h = self.pdu.read_req(&c.sess, id, &c.file_id, offset, len);
            c.tcp.send(&mut self.e, true, h, &[])?;
            self.e.idle(service_ns);
            let h = self.pdu.read_resp(&c.sess, id, len);
            c.tcp.send(&mut self.e, false, h, data)?;
        }
        let cmd = if write { smb::WRITE } else { smb::READ };
        self.count(cmd, false);
        self.count(cmd, true);
        Ok(())
    }

    fn live_migration(&mut self) -> io::Result<()> {
        let len = if self.small { 4096 } else { MAX_IO };
        let (a, z) = self.data(len);
        self.lm.send(&mut self.e, true, &[], &self.pattern[a..z])
    }

    /// RDP session traffic: TLS application-data records both ways.
    fn rdp(&mut self) -> io::Result<()> {
        let mut rec = [0u8; 5];
        for _ in 0..1 + self.rng.below(3) {
            let len = 64 + self.rng.below(1300) as usize;
            let (a, _) = self.data(len);
            rec.copy_from_slice(&[0x17, 0x03, 0x03, (len >> 8) as u8, len as u8]);
            self.rdp
                .send(&mut self.e, false, &rec, &self.pattern[a..a + len])?;
        }
        let len = 32 + self.rng.below(64) as usize;
        let (a, _) = self.data(len);
        rec.copy_from_slice(&[0x17, 0x03, 0x03, (len >> 8) as u8, len as u8]);
        self.rdp
            .send(&mut self.e, true, &rec, &self.pattern[a..a + len])
    }

    /// A WinRM (WS-Management over HTTP) request and its response.
    fn winrm(&mut self) -> io::Result<()> {
        let body = WSMAN_BODY.as_bytes();
        self.winrm
            .send(&mut self.e, true, self.winrm_heads.0.as_bytes(), body)?;
        self.winrm
            .send(&mut self.e, false, self.winrm_heads.1.as_bytes(), body)
    }

    /// Heartbeat rounds for every second of capture time that has begun.
    fn heartbeats_due(&mut self) -> io::Result<()> {
        while self.e.elapsed_ns() >= self.next_hb_ns {
            for k in 0..self.hb.len() {
                let p = &mut self.hb[k];
                p.seq_a = p.seq_a.wrapping_add(1);
                p.seq_b = p.seq_b.wrapping_add(1);
                let (iface, a, b, sa, sb) = (p.iface, p.a, p.b, p.seq_a, p.seq_b);
                self.heartbeat(iface, &a, &b, sa)?;
                self.heartbeat(iface, &b, &a, sb)?;
            }
            self.next_hb_ns += 1_000_000_000;
        }
        Ok(())
    }

    /// One MSRCP request from `a` and `b`'s response (72-byte payload, 134-byte frame).
    fn heartbeat(&mut self, iface: u32, a: &Host, b: &Host, seq: u32) -> io::Result<()> {
        for (src, dst, kind) in [(a, b, 0u16), (b, a, 1u16)] {
            let mut p = [0u8; 72];
            p[0..4].copy_from_slice(&0x5555_5555u32.to_be_bytes());
            p[4] = 1; // version
            p[6..8].copy_from_slice(&kind.to_le_bytes());
            p[8..10].copy_from_slice(&2u16.to_le_bytes()); // next: IPv6 pair
            p[10..12].copy_from_slice(&72u16.to_le_bytes());
            p[12..16].copy_from_slice(&seq.to_le_bytes());
            p[16..18].copy_from_slice(&3u16.to_le_bytes()); // next: signature
            p[18..20].copy_from_slice(&40u16.to_le_bytes());
            if let (IpAddr::V6(s), IpAddr::V6(d)) = (src.ip, dst.ip) {
                p[24..40].copy_from_slice(&s.octets());
                p[40..56].copy_from_slice(&d.octets());
            }
            p[58..60].copy_from_slice(&16u16.to_le_bytes());
            self.rng.fill(&mut p[64..72]);
            self.e.udp(iface, src, dst, (3343, 3343), &p)?;
        }
        Ok(())
    }

    /// One unit of traffic.
    fn step(&mut self) -> io::Result<()> {
        self.heartbeats_due()?;
        let r = self.rng.below(1000);
        let i = self.rng.below(self.smb.len() as u64) as usize;
        if self.small {
            // Frames of ~180 bytes on average: metadata-heavy SMB, small
            // IOs, interactive RDP.
            return match r {
                0..150 => self.smb_io(i, true),
                150..300 => self.smb_io(i, false),
                300..600 => self.reopen(i),
                600..985 => self.rdp_input(),
                985..995 => self.live_migration(),
                _ => self.winrm(),
            };
        }
        match r {
            0..440 => self.smb_io(i, true),
            440..880 => self.smb_io(i, false),
            880..900 => self.reopen(i),
            900..960 => self.live_migration(),
            960..985 => self.rdp(),
            _ => self.winrm(),
        }
    }

    /// Interactive RDP: small input records from the client, small updates back.
    fn rdp_input(&mut self) -> io::Result<()> {
        let mut rec = [0u8; 5];
        for from_client in [true, true, false] {
            let len = 24 + self.rng.below(if from_client { 40 } else { 120 }) as usize;
            let (a, _) = self.data(len);
            rec.copy_from_slice(&[0x17, 0x03, 0x03, 0, len as u8]);
            self.rdp
                .send(&mut self.e, from_client, &rec, &self.pattern[a..a + len])?;
        }
        Ok(())
    }
}

const WSMAN_BODY: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:To>http://node1:5985/wsman</a:To><w:ResourceURI s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><w:MaxEnvelopeSize s:mustUnderstand="true">512000</w:MaxEnvelopeSize><a:MessageID>uuid:5B1E8A51-6B7C-4E0C-9E8B-3A1D0C2F4E77</a:MessageID><w:OperationTimeout>PT60.000S</w:OperationTimeout></s:Header><s:Body/></s:Envelope>"#;
