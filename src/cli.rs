//! Command-line interface (clap derive). Help texts teach: every subcommand
//! says what it reads, what it prints and an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hvsleuth",
    version,
    about = "Offline analyser for Hyper-V failover-cluster traffic",
    long_about = "hvsleuth reads packet captures (pcap, pcapng, gzip-compressed) and Windows \
performance/ETW exports from the nodes of a Hyper-V cluster and tells which role every byte on \
every network interface served: CSV redirected IO, live migration, storage, cluster, management.",
    after_help = "Exit codes: 0 all inputs read; 1 runtime error; 2 usage error; \
3 some input damaged (everything before the damage was analysed); 4 nothing readable.\n\n\
Examples:\n  hvsleuth inspect node1.pcapng node2.pcap.gz\n  hvsleuth inspect --json capture.pcap | jq .captures[0].top_flows"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarise captures: packets, bytes, interfaces, conversations, TCP anomalies.
    ///
    /// Reads each capture once, in parallel across files. Byte counts use the
    /// length on the wire, so snaplen-truncated captures still count right.
    #[command(
        after_help = "Example:\n  hvsleuth inspect samples/restore-flood/node2.pcapng --top 5"
    )]
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Capture files (pcap, pcapng, optionally gzip-compressed; detected by content),
    /// or directories to search for them.
    #[arg(required = true, value_name = "CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// Print JSON (one object with a "captures" array) instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many of the largest conversations to list per capture.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by the commands that read inputs.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Never show a progress bar (it is shown only when stderr is a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Most conversations tracked at once per capture; beyond it the least recently
    /// seen are evicted (counted and reported).
    #[arg(long, default_value_t = 1_000_000, value_name = "N", global = true)]
    pub max_flows: usize,
}
