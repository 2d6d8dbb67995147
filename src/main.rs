//! hvsleuth: offline analyser for Hyper-V failover-cluster traffic.
//!
//! Data flows one way, in two stages:
//! - scan, per file ([`pipeline`], [`evidence`]): decoders (parallel per
//!   file, streaming) -> per-file results, a [`shard`] each
//!   (`hvsleuth scan` writes them);
//! - merge, global ([`merge`]): topology, skew, attribution;
//!
//! then [`findings`], then the summary, tables and reports ([`analyze`],
//! [`dataset`]). [`units`] is a leaf every stage may use.

mod analyze;
mod attribution;
mod cli;
mod dataset;
mod diffcmd;
mod evidence;
mod exit;
mod findings;
mod inspect;
mod inventory;
mod merge;
mod pipeline;
mod progress;
mod shard;
mod smbcmd;
mod timeline;
mod units;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Inspect(args) => inspect::run(&args),
        cli::Command::Analyze(args) => analyze::run(&args),
        cli::Command::Scan(args) => shard::run(&args),
        cli::Command::Smb(args) => smbcmd::run(&args),
        cli::Command::Timeline(args) => timeline::run(&args),
        cli::Command::Diff(args) => diffcmd::run_diff(&args),
        cli::Command::Report(args) => diffcmd::run_report(&args),
        cli::Command::Rules { json } => findings::print_catalogue(json),
        cli::Command::Completions { shell } => cli::completions(shell),
        cli::Command::Man { out } => cli::man(out.as_deref()),
    };
    std::process::exit(code.into());
}
