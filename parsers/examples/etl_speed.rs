//! Benchmark: a large compressed pktmon ETL built from a corpus trace, read
//! by the ETL reader (decompression + records + pktmon decode + per-packet
//! delivery). Prints MB/s of ETL input, MB/s decompressed and packets/s.
//!
//! The file is the buffers of `pktmon-vpn-capture/PktMon.etl` (Windows'
//! own compression) decompressed, their PktGroupIds made distinct per copy
//! (so every copy's packets count as new packets) and recompressed with our
//! plain-LZ77 encoder, repeated up to the target size.
//!
//! Times are CPU time of the reading thread (Linux
//! `/proc/thread-self/schedstat`; wall time elsewhere): the targets are per
//! core, and on a shared machine wall time also counts waiting for one. The
//! wall time of the CLI's path is printed beside it.
//!
//! `cargo run --release -p hvsleuth-parsers --example etl_speed [MB] [out.etl]`
//! (with `out.etl`, the file is also written, to time `hvsleuth inspect` on it).
#[path = "common/timer.rs"]
mod timer;
use timer::Timer;

use hvsleuth_parsers::capture::{InterfaceInfo, Packet, PacketSink};
use hvsleuth_parsers::etl::container::{RecordKind, Records, parse_event};
use hvsleuth_parsers::etl::{self, BUFFER_HEADER_LEN, pktmon};
use hvsleuth_parsers::xca;

const SRC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/pktmon/pktmon-vpn-capture/PktMon.etl"
);
/// Distinct copies: more than the reader's 65536 remembered packet keys
/// divided by the 345 packets of one copy, so cycling them stays new.
const VARIANTS: u64 = 200;

struct Count {
    packets: u64,
    bytes: u64,
}
impl PacketSink for Count {
    fn interface(&mut self, _: &InterfaceInfo) {}
    fn packet(&mut self, p: &Packet<'_>) {
        self.packets += 1;
        self.bytes += p.wire_len as u64;
    }
}

fn u32_at(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
}

fn main() {
    let target_mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let out_path = std::env::args().nth(2);
    let d = std::fs::read(SRC).expect("corpus pktmon-vpn-capture/PktMon.etl");
    // The header buffer, then the compressed buffers decompressed.
    let first = u32_at(&d, 0);
    let header = d[..first].to_vec();
    let mut plain: Vec<Vec<u8>> = Vec::new();
    let mut o = first;
    while o + BUFFER_HEADER_LEN <= d.len() {
        let size = u32_at(&d, o);
        let filled = u32_at(&d, o + 0x30);
        let mut b = d[o..o + BUFFER_HEADER_LEN].to_vec();
        b.resize(filled, 0);
        let n = xca::lz77_decompress(
            &d[o + BUFFER_HEADER_LEN..o + size],
            &mut b[BUFFER_HEADER_LEN..],
        )
        .expect("corpus buffer decodes");
        assert_eq!(n + BUFFER_HEADER_LEN, filled);
        plain.push(b);
        o += size;
    }
    // Variants: PktGroupIds offset per copy, recompressed.
    let t = Timer::start();
    let mut variants: Vec<Vec<u8>> = Vec::new();
    let mut plain_bytes_per_variant = 0usize;
    for v in 0..VARIANTS {
        let mut buffers = Vec::new();
        for b in &plain {
            let mut b = b.clone();
            let mut patches = Vec::new();
            for r in Records::new(&b).flatten() {
                if r.kind != RecordKind::Event {
                    continue;
                }
                let Some(ev) = parse_event(&r) else { continue };
                if ev.provider == pktmon::PKTMON_PROVIDER && ev.id == pktmon::EVENT_FRAME {
                    // Offset of the payload inside the buffer.
                    let at = ev.payload.as_ptr() as usize - b.as_ptr() as usize;
                    patches.push(at);
                }
            }
            for at in patches {
                let g = u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) ^ ((v + 1) << 52);
                b[at..at + 8].copy_from_slice(&g.to_le_bytes());
            }
            if v == 0 {
                plain_bytes_per_variant += b.len();
            }
            let c = xca::lz77_compress(&b[BUFFER_HEADER_LEN..]);
            let mut out = b[..BUFFER_HEADER_LEN].to_vec();
            out.extend_from_slice(&c);
            let size = out.len() as u32;
            out[0..4].copy_from_slice(&size.to_le_bytes());
            buffers.extend_from_slice(&out);
        }
        variants.push(buffers);
    }
    let enc_s = t.secs();
    let mut file = header;
    let mut copies = 0usize;
    while file.len() < target_mb * 1_000_000 {
        file.extend_from_slice(&variants[copies % variants.len()]);
        copies += 1;
    }
    let plain_total = plain_bytes_per_variant * copies;
    println!("times: CPU time of this thread, best of 3");
    println!(
        "built {:.1} MB of compressed ETL ({copies} copies of {} buffers; {:.1} MB decompressed; encoder {:.0} MB/s)",
        file.len() as f64 / 1e6,
        plain.len(),
        plain_total as f64 / 1e6,
        (plain_bytes_per_variant as f64 * VARIANTS as f64) / 1e6 / enc_s
    );
    if let Some(p) = &out_path {
        std::fs::write(p, &file).expect("write ETL");
        println!("wrote {p}");
    }
    // Decompression alone.
    let mut best_dec = f64::MAX;
    let mut scratch = vec![0u8; 1 << 20];
    for _ in 0..3 {
        let t = Timer::start();
        let mut o = header_len(&file);
        while o + BUFFER_HEADER_LEN <= file.len() {
            let size = u32_at(&file, o);
            let filled = u32_at(&file, o + 0x30);
            if scratch.len() < filled {
                scratch.resize(filled, 0);
            }
            xca::lz77_decompress(
                &file[o + BUFFER_HEADER_LEN..o + size],
                &mut scratch[..filled - BUFFER_HEADER_LEN],
            )
            .unwrap();
            o += size;
        }
        best_dec = best_dec.min(t.secs());
    }
    // The reader: one pass over a stream (no component table beforehand),
    // and what the CLI runs, `read_etl_file` (the table found in the last
    // buffers, then one pass).
    let mut best = f64::MAX;
    let mut best_file = f64::MAX;
    let mut best_file_wall = f64::MAX;
    let mut packets = 0;
    for _ in 0..3 {
        let mut c = Count {
            packets: 0,
            bytes: 0,
        };
        let t = Timer::start();
        let r = etl::read_etl(&file[..], "bench.etl", &mut c);
        best = best.min(t.secs());
        assert!(
            r.error.is_none() && r.warnings.is_empty(),
            "{}",
            r.summary()
        );
        packets = c.packets;
        let t = Timer::start();
        let mut c2 = Count {
            packets: 0,
            bytes: 0,
        };
        etl::read_etl_file(std::io::Cursor::new(&file[..]), "bench.etl", &mut c2);
        best_file = best_file.min(t.secs());
        best_file_wall = best_file_wall.min(t.wall_secs());
        assert_eq!(c2.packets, packets);
    }
    let t = Timer::start();
    let found = matches!(
        etl::tail::tail_components(std::io::Cursor::new(&file[..])),
        etl::tail::TailTable::Found(..)
    );
    let tail_s = t.wall_secs();
    let mb = file.len() as f64 / 1e6;
    println!(
        "packets {packets} (345 per copy: {})",
        packets == 345 * copies as u64
    );
    println!(
        "decompress only: {:.0} MB/s of ETL input, {:.0} MB/s decompressed",
        mb / best_dec,
        plain_total as f64 / 1e6 / best_dec
    );
    println!(
        "read_etl (one pass): {:.0} MB/s of ETL input, {:.0} MB/s decompressed, {:.2} Mpkt/s, {:.2} Mevents/s",
        mb / best,
        plain_total as f64 / 1e6 / best,
        packets as f64 / best / 1e6,
        (3646 * copies) as f64 / best / 1e6
    );
    println!(
        "read_etl_file (what the CLI runs: table from the last buffers, then one pass): {:.0} MB/s of ETL input ({:.0} MB/s wall), {:.2} Mpkt/s (table lookup alone {:.1} ms wall, found: {found})",
        mb / best_file,
        mb / best_file_wall,
        packets as f64 / best_file / 1e6,
        tail_s * 1e3
    );
    println!("(tshark cannot read ETL: no ratio to tshark on this file)");
}

fn header_len(f: &[u8]) -> usize {
    u32_at(f, 0)
}
