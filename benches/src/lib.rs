//! Synthetic captures for benchmarks (dev tooling, not analysis).
//!
//! * [`gen_bench`] writes a large, deterministic, tshark-valid capture that
//!   looks like a Hyper-V cluster node's traffic: SMB 3.1.1 READ/WRITE-heavy
//!   TCP 445 flows with TSO-sized segments, NetFT heartbeats (UDP 3343),
//!   live-migration bulk (TCP 6600) and management noise (RDP 3389, WinRM 5985).
//! * [`scale`] multiplies a real capture into a large one by re-addressing the
//!   flows of each copy and shifting (or interleaving) its time.
//!
//! Both write with the small buffered pcap/pcapng writer in [`writer`].

mod bench;
mod checksum;
mod frame;
mod readdr;
mod rng;
mod scale;
pub mod smb;
pub mod synflood;
pub mod writer;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};

pub use bench::gen_bench;
pub use scale::scale;

/// Options of [`gen_bench`].
#[derive(Debug, Clone)]
pub struct BenchOpts {
    /// Output file (overwritten).
    pub out: PathBuf,
    /// Stop once the file holds at least this many bytes.
    pub size_bytes: u64,
    /// Small-frame mix (1448-byte MSS, small IOs, per-segment ACKs) instead of
    /// large TSO segments: a packets-per-second benchmark.
    pub small_packets: bool,
    /// Large IOs in standard-MTU frames: 1448-byte segments on every
    /// connection and a delayed ACK every second segment (a capture from a
    /// switch port or a host without segmentation offload). Ignored with
    /// `small_packets`.
    pub mtu_1500: bool,
    /// Seed of the deterministic generator: same seed, same bytes.
    pub seed: u64,
    /// pcapng with one interface per cluster network (storage, live
    /// migration, management); `false` writes a one-interface pcap.
    pub pcapng: bool,
}

impl BenchOpts {
    /// Defaults: 1 GiB, big frames, seed 1, pcapng (the CLI sets every field itself).
    pub fn new(out: impl Into<PathBuf>) -> BenchOpts {
        BenchOpts {
            out: out.into(),
            size_bytes: 1 << 30,
            small_packets: false,
            mtu_1500: false,
            seed: 1,
            pcapng: true,
        }
    }
}

/// Options of [`scale`].
#[derive(Debug, Clone)]
pub struct ScaleOpts {
    /// Any pcap/pcapng (gzip allowed) that `hvsleuth_parsers::read_capture` reads.
    pub input: PathBuf,
    /// Output pcapng (overwritten).
    pub out: PathBuf,
    /// Stop once the output holds at least this many bytes.
    pub size_bytes: u64,
    /// Interleave the copies in time (copy k is shifted by k ns) instead of
    /// placing them one after the other.
    pub overlap: bool,
}

/// What a generator wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GenSummary {
    /// Frames written.
    pub packets: u64,
    /// Size of the output file in bytes.
    pub bytes: u64,
    /// Sum of the frames' wire lengths.
    pub wire_bytes: u64,
    /// Timestamps of the first and last frame (ns since the Unix epoch).
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Interfaces of the output.
    pub interfaces: u32,
    /// For `scale`: copies started (the last one may be cut at the size).
    pub copies: u32,
    /// For `scale`: frames whose addresses were rewritten (frames of copy 0
    /// and non-IP frames are written unchanged).
    pub readdressed: u64,
    /// SMB2 requests written, by command name (`gen_bench` only).
    pub smb2_requests: BTreeMap<&'static str, u64>,
    /// SMB2 responses written, by command name (`gen_bench` only).
    pub smb2_responses: BTreeMap<&'static str, u64>,
}

impl GenSummary {
    /// SMB2 PDUs (requests + responses) of one command.
    #[cfg(test)]
    pub fn smb2_pdus(&self, command: &str) -> u64 {
        self.smb2_requests.get(command).copied().unwrap_or(0)
            + self.smb2_responses.get(command).copied().unwrap_or(0)
    }
}

/// Parses a byte size: a plain number of bytes, or a number with a suffix
/// K/M/G/T (binary multiples, optionally written KiB/MiB/GiB/TiB or KB/MB/GB/TB
/// — all binary) and an optional fraction (`1.5G`).
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        bail!("size {s:?}: expected a number, e.g. 1G, 512M, 4GiB, 1000000");
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => bail!("size {s:?}: unknown unit {other:?} (use K, M, G, T)"),
    };
    let mult = 1u64 << shift;
    if let Some((int, frac)) = num.split_once('.') {
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse()
                .with_context(|| format!("size {s:?}: bad number"))?
        };
        if frac.contains('.') || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            bail!("size {s:?}: bad number");
        }
        let frac_val: u64 = if frac.is_empty() { 0 } else { frac.parse()? };
        let scale = 10u64.pow(frac.len() as u32);
        let whole = int
            .checked_mul(mult)
            .with_context(|| format!("size {s:?} overflows"))?;
        let part = (frac_val as u128 * mult as u128 / scale as u128) as u64;
        whole
            .checked_add(part)
            .with_context(|| format!("size {s:?} overflows"))
    } else {
        let n: u64 = num
            .parse()
            .with_context(|| format!("size {s:?}: bad number"))?;
        n.checked_mul(mult)
            .with_context(|| format!("size {s:?} overflows"))
    }
}
