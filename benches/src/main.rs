//! `hvsleuth-bench`: writes the synthetic captures the benchmarks read
//! (benches/throughput.sh). Dev tooling, kept out of the `hvsleuth` binary.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hvsleuth-bench",
    version,
    about = "Synthetic captures for hvsleuth's benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a large synthetic capture for benchmarks (SMB2 READ/WRITE over TCP 445,
    /// UDP 3343 heartbeats, TCP 6600 live migration, management noise). Deterministic.
    GenBench(GenBenchArgs),
    /// Multiply a capture into a large one by re-addressing flows and shifting time
    /// (benchmarks; tshark reads the output without malformed packets).
    Scale(ScaleArgs),
    /// Write a pcap of N one-SYN TCP conversations from distinct clients: the
    /// flow-state memory benchmark (benches/memory.sh). 1M flows = 70 MB.
    SynFlood(SynFloodArgs),
}

#[derive(Debug, Args)]
struct SynFloodArgs {
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    flows: u64,
    /// Distinct server ports (1 = all to 445).
    #[arg(long, default_value_t = 1)]
    server_ports: u16,
    /// Microseconds between SYNs.
    #[arg(long, default_value_t = 10)]
    gap_us: i64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn parse_size_arg(s: &str) -> Result<u64, String> {
    hvsleuth_bench::parse_size(s).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
struct GenBenchArgs {
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Target size: 1G, 512M, 4GiB or bytes.
    #[arg(long, default_value = "1G", value_parser = parse_size_arg)]
    size: u64,
    /// Small frames (packets-per-second benchmark) instead of large segments.
    #[arg(long)]
    small_packets: bool,
    /// Large IOs in 1448-byte segments with a delayed ACK every second one
    /// (no segmentation offload): about 1 KB a frame.
    #[arg(long, conflicts_with = "small_packets")]
    mtu_1500: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write a one-interface pcap instead of pcapng.
    #[arg(long)]
    pcap: bool,
}

#[derive(Debug, Args)]
struct ScaleArgs {
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, default_value = "4G", value_parser = parse_size_arg)]
    size: u64,
    /// Interleave the copies in time instead of placing them one after another.
    #[arg(long)]
    overlap: bool,
}

fn main() {
    let cli = Cli::parse();
    if let Command::SynFlood(a) = &cli.command {
        let o = hvsleuth_bench::synflood::SynFloodOpts {
            flows: a.flows,
            server_ports: a.server_ports,
            gap_ns: a.gap_us.saturating_mul(1000),
            seed: a.seed,
        };
        match hvsleuth_bench::synflood::syn_flood(&a.out, &o) {
            Ok((p, b)) => println!("{{\"packets\": {p}, \"bytes\": {b}}}"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let r = match cli.command {
        Command::GenBench(a) => hvsleuth_bench::gen_bench(&hvsleuth_bench::BenchOpts {
            out: a.out,
            size_bytes: a.size,
            small_packets: a.small_packets,
            mtu_1500: a.mtu_1500,
            seed: a.seed,
            pcapng: !a.pcap,
        }),
        Command::Scale(a) => hvsleuth_bench::scale(&hvsleuth_bench::ScaleOpts {
            input: a.input,
            out: a.out,
            size_bytes: a.size,
            overlap: a.overlap,
        }),
        Command::SynFlood(_) => unreachable!("handled above"),
    };
    match r {
        Ok(s) => println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default()),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
