//! Micro benchmark: parse a ~200 MB PDH-CSV generated in memory and print MB/s.
//! Run with `cargo run --release -p hvsleuth-parsers --example perfmon_speed [MB]`.
use std::fmt::Write as _;
use std::time::Instant;

use hvsleuth_parsers::perfmon::PerfmonReader;

fn main() {
    let target_mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let counters = 120;
    let mut csv = String::with_capacity(target_mb * 1_050_000);
    csv.push_str("\"(PDH-CSV 4.0) (W. Europe Standard Time)(-60)\"");
    for i in 0..counters {
        let node = i % 3 + 1;
        let _ = write!(
            csv,
            ",\"\\\\node{node}\\Network Interface(nic{i})\\Bytes Total/sec\""
        );
    }
    csv.push_str("\r\n");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut row = 0u64;
    while csv.len() < target_mb * 1_000_000 {
        let s = row % 86_400;
        let _ = write!(
            csv,
            "\"03/10/2026 {:02}:{:02}:{:02}.000\"",
            s / 3600,
            s / 60 % 60,
            s % 60
        );
        for c in 0..counters {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (c + row as usize) % 97 == 0 {
                csv.push_str(",\" \"");
            } else {
                let _ = write!(csv, ",\"{}.{:06}\"", x % 1_000_000_000, x % 1_000_000);
            }
        }
        csv.push_str("\r\n");
        row += 1;
    }
    let bytes = csv.into_bytes();
    let start = Instant::now();
    let reader = PerfmonReader::new(&bytes[..]).expect("header");
    let mut sum = 0.0f64;
    let stats = reader
        .for_each_row(|_, v| sum += v.iter().flatten().sum::<f64>())
        .expect("rows");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} bytes, {} rows x {counters} counters, {} missing: {:.3} s, {:.0} MB/s (checksum {sum:.3e})",
        bytes.len(),
        stats.rows,
        stats.missing_values,
        secs,
        bytes.len() as f64 / 1e6 / secs
    );
}
