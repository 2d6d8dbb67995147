//! `hvsleuth inspect`: per capture, packets, bytes, interfaces, conversations,
//! TCP anomalies and the largest conversations.

use std::path::Path;

use indicatif::ProgressBar;
use rayon::prelude::*;
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::exit::ExitCode;
use crate::pipeline::scan::{Scan, ScanConfig};
use crate::pipeline::{ProgressSink, expand_inputs, is_packet_input, read_packets};
use crate::progress::bytes_bar;
use hvsleuth_parsers::flowtable::FlowBudget;
use hvsleuth_parsers::tcp::TcpCounters;

#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub captures: Vec<CaptureReport>,
}

#[derive(Debug, Serialize)]
pub struct CaptureReport {
    pub path: String,
    pub format: Option<&'static str>,
    pub gzip: bool,
    pub packets: u64,
    pub wire_bytes: u64,
    pub captured_bytes: u64,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    pub interfaces: Vec<IfaceReport>,
    pub flows: u64,
    pub flows_evicted: u64,
    /// Of `flows_evicted`, those forced by the flow budget shared with the
    /// captures read at the same time (`--max-flows` is one budget for all).
    pub flows_evicted_for_budget: u64,
    pub tcp: TcpCounters,
    pub ip_fragments: u64,
    pub non_ip_packets: u64,
    pub top_flows: Vec<FlowReport>,
    /// Set when reading stopped early: `{ "offset": N, "message": "..." }`.
    pub error: Option<ErrorReport>,
    /// Remarks on the input (e.g. an ETL trace without packet events).
    pub notes: Vec<String>,
    /// Copies of packets not counted again (pktmon components, NDIS layers).
    pub duplicates_removed: u64,
    /// 802.11 frames pktmon wrote as Ethernet (counted apart, not analysed).
    pub wifi_frames: u64,
    /// Frames logged as dropped by a pktmon component.
    pub dropped_frames: u64,
}

#[derive(Debug, Serialize)]
pub struct IfaceReport {
    pub index: u32,
    pub name: String,
    pub link_type: String,
    pub speed_bps: Option<u64>,
    /// The NIC's own MAC as the capture tool recorded it (pcapng
    /// `if_MACaddr`, pktmon's component table), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Its own addresses as recorded, when any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<std::net::IpAddr>,
    pub packets: u64,
    pub wire_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct FlowReport {
    pub proto: &'static str,
    pub a: String,
    pub b: String,
    pub bytes: u64,
    pub packets: u64,
}

#[derive(Debug, Serialize)]
pub struct ErrorReport {
    pub offset: u64,
    pub message: String,
    /// False when nothing at all could be read from the file.
    pub partial: bool,
}

/// Scans one capture file. Errors become a report with `error` set.
pub fn inspect_file(
    path: &Path,
    args: &InspectArgs,
    budget: &std::sync::Arc<FlowBudget>,
    bar: &ProgressBar,
) -> CaptureReport {
    let mut scan = Scan::new(ScanConfig {
        max_flows: args.common.max_flows,
        top_keep: args.top,
        apps: false,
        flow_budget: Some(std::sync::Arc::clone(budget)),
        ..ScanConfig::default()
    });
    let read = read_packets(path, &mut ProgressSink::new(&mut scan, bar));
    scan.finish();
    match read {
        Ok(r) => {
            let error = r.error.map(|(offset, message)| ErrorReport {
                offset,
                message,
                partial: r.packets > 0,
            });
            let mut rep = build_report(path, scan, r.format, r.gzip, error, args.top);
            rep.notes = r.notes;
            rep.duplicates_removed = r.duplicates_removed;
            rep.wifi_frames = r.wifi_frames;
            rep.dropped_frames = r.dropped_frames;
            rep
        }
        Err(message) => build_report(
            path,
            scan,
            None,
            false,
            Some(ErrorReport {
                offset: 0,
                message,
                partial: false,
            }),
            args.top,
        ),
    }
}

fn build_report(
    path: &Path,
    scan: Scan,
    format: Option<&'static str>,
    gzip: bool,
    error: Option<ErrorReport>,
    top: usize,
) -> CaptureReport {
    let top_flows = scan
        .top_flows(top)
        .into_iter()
        .map(|(k, v)| FlowReport {
            proto: k.proto.name(),
            a: k.a.to_string(),
            b: k.b.to_string(),
            bytes: v.bytes(),
            packets: v.packets,
        })
        .collect();
    let interfaces = scan
        .interfaces
        .iter()
        .map(|i| {
            let c = scan
                .iface_counts
                .get(i.index as usize)
                .cloned()
                .unwrap_or_default();
            IfaceReport {
                index: i.index,
                name: i.name.clone(),
                link_type: i.link_type.to_string(),
                speed_bps: i.speed_bps,
                mac: i.mac.map(|m| {
                    m.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":")
                }),
                addresses: i.addresses.clone(),
                packets: c.packets,
                wire_bytes: c.wire_bytes,
            }
        })
        .collect();
    CaptureReport {
        path: path.display().to_string(),
        format,
        gzip,
        packets: scan.packets,
        wire_bytes: scan.wire_bytes,
        captured_bytes: scan.captured_bytes,
        first_ts_ns: scan.first_ts_ns,
        last_ts_ns: scan.last_ts_ns,
        interfaces,
        flows: scan.flows_seen,
        flows_evicted: scan.flows_evicted(),
        flows_evicted_for_budget: scan.flows_evicted_for_budget(),
        tcp: scan.tcp_totals(),
        ip_fragments: scan.ip_fragments,
        non_ip_packets: scan.non_ip,
        top_flows,
        error,
        notes: Vec::new(),
        duplicates_removed: 0,
        wifi_frames: 0,
        dropped_frames: 0,
    }
}

pub fn run(args: &InspectArgs) -> ExitCode {
    let inputs = expand_inputs(&args.inputs, is_packet_input);
    if inputs.is_empty() {
        eprintln!("error: no capture files found in the given directories");
        return ExitCode::NothingReadable;
    }
    let total: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = bytes_bar(total, args.common.no_progress);
    // One flow budget for the files read in parallel.
    let budget = FlowBudget::new(args.common.max_flows);
    let captures: Vec<CaptureReport> = inputs
        .par_iter()
        .map(|p| inspect_file(p, args, &budget, &bar))
        .collect();
    bar.finish_and_clear();
    for c in &captures {
        for n in &c.notes {
            eprintln!("note: {n}");
        }
        if let Some(e) = &c.error {
            if e.partial {
                eprintln!(
                    "warning: {} (reading stopped; {} packets before it were analysed)",
                    e.message, c.packets
                );
            } else {
                eprintln!("error: {}", e.message);
            }
        }
    }
    let code = ExitCode::from_outcomes(captures.iter().map(|c| {
        (
            c.error.as_ref().is_none_or(|e| e.partial),
            c.error.is_none(),
        )
    }));
    let report = InspectReport { captures };
    let out = if args.json {
        serde_json::to_string_pretty(&report)
            .map(|s| s + "\n")
            .map_err(anyhow::Error::from)
    } else {
        Ok(render_text(&report))
    };
    match out {
        Ok(s) => {
            if crate::exit::print_stdout(&s) == ExitCode::Error {
                return ExitCode::Error;
            }
            code
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::Error
        }
    }
}

fn fmt_ts(ns: Option<i64>) -> String {
    ns.map(format_utc).unwrap_or_else(|| "-".into())
}

/// `YYYY-MM-DD HH:MM:SS.ffffff UTC` from Unix nanoseconds.
pub use crate::units::format_utc;

fn render_text(r: &InspectReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for c in &r.captures {
        let _ = writeln!(s, "{}", c.path);
        if c.format.is_none() && c.packets == 0 {
            let _ = writeln!(
                s,
                "  unreadable: {}",
                c.error.as_ref().map_or("", |e| &e.message)
            );
            continue;
        }
        let _ = writeln!(
            s,
            "  format {}{}  packets {}  wire bytes {}  captured bytes {}",
            c.format.unwrap_or("?"),
            if c.gzip { " (gzip)" } else { "" },
            c.packets,
            c.wire_bytes,
            c.captured_bytes
        );
        let _ = writeln!(
            s,
            "  first {}  last {}",
            fmt_ts(c.first_ts_ns),
            fmt_ts(c.last_ts_ns)
        );
        for i in &c.interfaces {
            let speed = i
                .speed_bps
                .map(|b| format!("  {} Mb/s", b / 1_000_000))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  interface {} {:?} {}{}  packets {}  wire bytes {}",
                i.index, i.name, i.link_type, speed, i.packets, i.wire_bytes
            );
        }
        let _ = writeln!(
            s,
            "  conversations {} (evicted {}, {} for the shared flow budget)  tcp: retransmissions {} duplicates {} out-of-order {} late {} gaps {}",
            c.flows,
            c.flows_evicted,
            c.flows_evicted_for_budget,
            c.tcp.retransmissions,
            c.tcp.duplicates,
            c.tcp.out_of_order,
            c.tcp.late,
            c.tcp.gaps
        );
        if !c.top_flows.is_empty() {
            let _ = writeln!(s, "  top conversations by bytes:");
            for f in &c.top_flows {
                let _ = writeln!(
                    s,
                    "    {:<3} {:>24} <-> {:<24} {:>12} bytes {:>8} packets",
                    f.proto, f.a, f.b, f.bytes, f.packets
                );
            }
        }
        if let Some(e) = &c.error {
            let _ = writeln!(s, "  WARNING: {} (byte offset {})", e.message, e.offset);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00:00.000000 UTC");
        assert_eq!(
            super::format_utc(1_605_189_167_722_616_000),
            "2020-11-12 13:52:47.722616 UTC"
        );
    }
}
