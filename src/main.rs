//! hvsleuth: offline analyser for Hyper-V failover-cluster traffic.
//!
//! Data flows one way: files -> decoders (parallel per file, streaming) ->
//! typed events -> attribution -> tables -> findings -> reports.

mod analyze;
mod attribution;
mod cli;
mod diffcmd;
mod evidence;
mod exit;
mod findings;
mod inspect;
mod inventory;
mod pipeline;
mod progress;
mod smbcmd;
mod synth;
mod timeline;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Inspect(args) => inspect::run(&args),
        cli::Command::Analyze(args) => analyze::run(&args),
        cli::Command::Smb(args) => smbcmd::run(&args),
        cli::Command::Timeline(args) => timeline::run(&args),
        cli::Command::Diff(args) => diffcmd::run_diff(&args),
        cli::Command::Report(args) => diffcmd::run_report(&args),
        cli::Command::Rules { json } => findings::print_catalogue(json),
        cli::Command::Completions { shell } => cli::completions(shell),
        cli::Command::Man { out } => cli::man(out.as_deref()),
        cli::Command::GenBench(args) => synth_run(|| {
            synth::gen_bench(&synth::BenchOpts {
                out: args.out.clone(),
                size_bytes: args.size,
                small_packets: args.small_packets,
                mtu_1500: args.mtu_1500,
                seed: args.seed,
                pcapng: !args.pcap,
            })
        }),
        cli::Command::Scale(args) => synth_run(|| {
            synth::scale(&synth::ScaleOpts {
                input: args.input.clone(),
                out: args.out.clone(),
                size_bytes: args.size,
                overlap: args.overlap,
            })
        }),
    };
    std::process::exit(code.into());
}

/// Runs a generator and prints its summary as JSON.
fn synth_run(f: impl FnOnce() -> anyhow::Result<synth::GenSummary>) -> exit::ExitCode {
    match f() {
        Ok(s) => exit::print_stdout(&(serde_json::to_string_pretty(&s).unwrap_or_default() + "\n")),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::ExitCode::Error
        }
    }
}
