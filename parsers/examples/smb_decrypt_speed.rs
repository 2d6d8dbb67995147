//! Encrypted SMB 3 throughput: writes a capture of one SMB 3.1.1 connection
//! whose WRITE requests (1 MiB each) and responses are AES-128-GCM or
//! AES-256-GCM encrypted (transform headers, 1448-byte TCP segments), then
//! reads it back through the capture reader, L2-L4 decode and the SMB stream
//! parser with the keys (decryption, authentication, decoding), on one core,
//! and prints GB/s of capture bytes; then times tshark decrypting the same file
//! (`-o uat:smb2_seskey_list:...`) when tshark is installed, and the ratio.
//!
//!     cargo run --release -p hvsleuth-parsers --example smb_decrypt_speed [-- MIB [gcm128|gcm256]]
//!
//! With `SMB_DECRYPT_KEEP` set, the capture is left in the temporary directory.
use std::sync::Arc;
use std::time::Instant;

#[path = "common/timer.rs"]
mod timer;
use timer::Timer;

use hvsleuth_parsers::capture::{InterfaceInfo, Packet, PacketSink, read_capture_slice};
use hvsleuth_parsers::decode::{Transport, decode};
use hvsleuth_parsers::flow::Direction;
use hvsleuth_parsers::smb::crypto::cipher::{AES_128_GCM, AES_256_GCM, Cipher, transform_message};
use hvsleuth_parsers::smb::crypto::keys::{KeyRing, parse_key_spec};
use hvsleuth_parsers::smb::events::{Body, SmbEvent, SmbEventKind, SmbSink};
use hvsleuth_parsers::smb::stream::SmbConnState;

const SID: u64 = 0x0000_4000_0000_0039;

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn smb2_header(cmd: u16, resp: bool, mid: u64) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\xfeSMB");
    h[4] = 64;
    h[12..14].copy_from_slice(&cmd.to_le_bytes());
    if resp {
        h[16] = 1;
    }
    h[24..32].copy_from_slice(&mid.to_le_bytes());
    h[36..40].copy_from_slice(&1u32.to_le_bytes());
    h[40..48].copy_from_slice(&SID.to_le_bytes());
    h
}

struct Pcap {
    out: Vec<u8>,
    seq: [u32; 2],
    ts: u64,
}

impl Pcap {
    fn new() -> Pcap {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        Pcap {
            out,
            seq: [1000, 5000],
            ts: 1_700_000_000_000_000,
        }
    }
    /// One SMB session message, client-to-server (`c2s`) or back, in segments.
    fn message(&mut self, c2s: bool, msg: &[u8]) {
        let l = (msg.len() as u32).to_be_bytes();
        let mut stream = vec![0, l[1], l[2], l[3]];
        stream.extend_from_slice(msg);
        for seg in stream.chunks(1448) {
            self.segment(c2s, seg);
        }
    }
    fn segment(&mut self, c2s: bool, payload: &[u8]) {
        let (src, dst, sp, dp) = if c2s {
            ([10, 0, 0, 1], [10, 0, 0, 2], 50000u16, 445u16)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], 445, 50000)
        };
        let d = usize::from(!c2s);
        let mut f = Vec::with_capacity(54 + payload.len());
        f.extend_from_slice(&[2, 0, 0, 0, 0, if c2s { 2 } else { 1 }]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, if c2s { 1 } else { 2 }]);
        f.extend_from_slice(&[0x08, 0x00]);
        let tot = (40 + payload.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (tot >> 8) as u8,
            tot as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&self.seq[d].to_be_bytes());
        f.extend_from_slice(&self.seq[1 - d].to_be_bytes());
        f.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.seq[d] = self.seq[d].wrapping_add(payload.len() as u32);
        self.ts += 10;
        self.out
            .extend_from_slice(&((self.ts / 1_000_000) as u32).to_le_bytes());
        self.out
            .extend_from_slice(&((self.ts % 1_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&f);
    }
}

struct Counter {
    writes: u64,
    write_bytes: u64,
    decrypted: u64,
}
impl SmbSink for Counter {
    fn event(&mut self, ev: &SmbEvent) {
        match &ev.kind {
            SmbEventKind::Pdu(p) => {
                if let Body::WriteRequest { length, .. } = p.body {
                    self.writes += 1;
                    self.write_bytes += u64::from(length);
                }
            }
            SmbEventKind::Encrypted {
                decryption: hvsleuth_parsers::smb::crypto::Decryption::Decrypted,
                ..
            } => self.decrypted += 1,
            _ => {}
        }
    }
}

/// In-order capture: decode each frame and feed its TCP payload (no reassembly needed).
struct Feed {
    st: SmbConnState,
    sink: Counter,
}
impl PacketSink for Feed {
    fn interface(&mut self, _: &InterfaceInfo) {}
    fn packet(&mut self, pkt: &Packet<'_>) {
        let d = decode(pkt.link_type, pkt.data);
        if let Transport::Tcp(t) = d.transport {
            let dir = if t.dst_port == 445 {
                Direction::AtoB
            } else {
                Direction::BtoA
            };
            self.st.data(dir, pkt.ts_ns, t.payload, &mut self.sink);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(512);
    let c256 = args.get(2).is_some_and(|a| a == "gcm256");
    let (id, klen) = if c256 {
        (AES_256_GCM, 32)
    } else {
        (AES_128_GCM, 16)
    };
    let c2s_key: Vec<u8> = (0..klen as u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(1))
        .collect();
    let s2c_key: Vec<u8> = (0..klen as u8)
        .map(|i| i.wrapping_mul(11).wrapping_add(5))
        .collect();
    let c2s = Cipher::new(id, &c2s_key).unwrap();
    let s2c = Cipher::new(id, &s2c_key).unwrap();
    let mut pcap = Pcap::new();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7) as u8).collect();
    for i in 0..mib as u64 {
        let mut w = smb2_header(9, false, i + 10);
        let mut body = [0u8; 48];
        body[0] = 49;
        body[2] = 0x70;
        body[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        body[8..16].copy_from_slice(&(i << 20).to_le_bytes());
        w.extend_from_slice(&body);
        w.extend_from_slice(&data);
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&(2 * i + 1).to_le_bytes());
        pcap.message(true, &transform_message(&c2s, SID, nonce, &w));
        let mut r = smb2_header(9, true, i + 10);
        r.extend_from_slice(&[17, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        nonce[..8].copy_from_slice(&(2 * i + 2).to_le_bytes());
        pcap.message(false, &transform_message(&s2c, SID, nonce, &r));
    }
    let bytes = pcap.out;
    let path = std::env::temp_dir().join(format!(
        "hvsleuth-smb-encrypted-{mib}mib-{}.pcap",
        if c256 { "gcm256" } else { "gcm128" }
    ));
    std::fs::write(&path, &bytes).unwrap();
    let spec = format!("3900000000400000:{}:{}", hexs(&s2c_key), hexs(&c2s_key));
    let mut ring = KeyRing::new();
    ring.add_session(parse_key_spec(&spec).unwrap());
    let ring = Arc::new(ring);
    let mut best = f64::MAX;
    let mut best_wall = f64::MAX;
    let mut writes = 0;
    for _ in 0..5 {
        let mut feed = Feed {
            st: SmbConnState::with_keys(Some(&ring)),
            sink: Counter {
                writes: 0,
                write_bytes: 0,
                decrypted: 0,
            },
        };
        let t = Timer::start();
        let rep = read_capture_slice(&bytes, "eth0", &mut feed);
        let (s, w) = (t.secs(), t.wall_secs());
        assert!(rep.error.is_none());
        assert_eq!(
            feed.sink.writes, mib as u64,
            "every WRITE decrypted and decoded"
        );
        assert_eq!(feed.sink.decrypted, 2 * mib as u64);
        writes = feed.sink.writes;
        best = best.min(s);
        best_wall = best_wall.min(w);
    }
    let gbs = bytes.len() as f64 / best / 1e9;
    println!(
        "hvsleuth-parsers: {} ({} MB, {} encrypted WRITEs of 1 MiB + responses, {}): best of 5 {:.3} s CPU = {:.2} GB/s on one core (wall {:.3} s)",
        path.display(),
        bytes.len() / 1_000_000,
        writes,
        if c256 { "AES-256-GCM" } else { "AES-128-GCM" },
        best,
        gbs,
        best_wall
    );
    // The cipher alone (the ceiling): authenticated decryption of 1 MiB buffers.
    let mut buf = data.clone();
    let nonce = [3u8; 16];
    let tag = c2s.seal(&nonce, &[0; 32], &mut buf);
    let t = Timer::start();
    let mut n = 0u64;
    let mut b2 = buf.clone();
    while t.wall_secs() < 0.5 {
        b2.copy_from_slice(&buf);
        assert!(c2s.open(&nonce, &[0; 32], &mut b2, &tag));
        n += 1;
    }
    println!(
        "cipher alone (open 1 MiB incl. copy): {:.2} GB/s CPU",
        (n << 20) as f64 / t.secs() / 1e9
    );
    // tshark on the same file with the same keys.
    let uat = format!(
        "uat:smb2_seskey_list:3900000000400000,\"\",{},{}",
        hexs(&s2c_key),
        hexs(&c2s_key)
    );
    let t = Instant::now();
    let out = std::process::Command::new("tshark")
        .args([
            "-n",
            "-r",
            path.to_str().unwrap(),
            "-o",
            &uat,
            "-T",
            "fields",
            "-e",
            "smb2.write_length",
            "-Y",
            "smb2.cmd == 9 && smb2.flags.response == 0",
        ])
        .output();
    let ts = t.elapsed().as_secs_f64();
    match out {
        Ok(o) if o.status.success() => {
            let n = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .count();
            println!(
                "tshark: {ts:.2} s wall = {:.3} GB/s, {n} WRITE requests decrypted; tshark wall / hvsleuth wall = {:.0}x",
                bytes.len() as f64 / ts / 1e9,
                ts / best_wall
            );
        }
        _ => println!("tshark: not run (not installed or failed)"),
    }
    // benches/decrypt.sh times the hvsleuth binary on the same file.
    if std::env::var_os("SMB_DECRYPT_KEEP").is_none() {
        let _ = std::fs::remove_file(&path);
    }
}
