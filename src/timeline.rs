//! `hvsleuth timeline`: one time-ordered forensic timeline across captures
//! (finding windows, SMB witness operations), perfmon counters (activity of
//! redirected IO, RDMA, live migration, missed heartbeats), event logs and
//! cluster.log.

use hvsleuth_reports::model::TimelineEvent;

use crate::analyze::{AnalyzeOptions, analyze, report};
use crate::cli::TimelineArgs;
use crate::exit::ExitCode;
use crate::inventory::Inventory;

pub fn run(args: &TimelineArgs) -> ExitCode {
    let inventory = match Inventory::load_for_cli(args.inventory.as_deref()) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let o = AnalyzeOptions {
        inventory: inventory.as_ref(),
        bucket_ns: 1_000_000_000,
        max_flows: args.common.max_flows,
        no_progress: args.common.no_progress,
        smb_keys: args.common.smb_key_ring(),
    };
    let a = match analyze(&args.inputs, &o) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let data = report::build(&a.model, &a.summary, &a.inputs, &a.evidence);
    let events: Vec<&TimelineEvent> = data.timeline.iter().collect();
    let text = if args.json {
        serde_json::to_string_pretty(&serde_json::json!({ "events": events })).unwrap_or_default()
            + "\n"
    } else {
        let mut s = String::new();
        for e in &events {
            s += &format!(
                "{}  {:<11} {:<8} {}\n",
                crate::units::format_utc(e.ts_ns),
                hvsleuth_reports::escape::terminal(&e.source),
                hvsleuth_reports::escape::terminal(e.node.as_deref().unwrap_or("-")),
                hvsleuth_reports::escape::terminal(&e.text)
            );
        }
        s
    };
    if crate::exit::print_stdout(&text) == ExitCode::Error {
        return ExitCode::Error;
    }
    a.code
}
