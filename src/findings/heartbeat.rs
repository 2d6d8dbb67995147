//! HVS006: cluster heartbeat silences beyond the failure threshold, and
//! repeated failures that quarantine a node.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hvsleuth_reports::{Finding, Severity};

use super::catalogue::HVS006;
use super::{Ctx, addr_filter};

/// A silence from one sender: (last heartbeat before, first after).
type Silence = (i64, i64);

/// Silences of each sender address, from the union of its heartbeats to every
/// peer on every captured interface (a node is silent only if no one hears it).
fn silences(ctx: &Ctx<'_>, min_ns: i64) -> BTreeMap<IpAddr, Vec<Silence>> {
    let mut arrivals: BTreeMap<IpAddr, Vec<i64>> = BTreeMap::new();
    for (_, src, _, t) in &ctx.model.heartbeats {
        arrivals.entry(*src).or_default().extend(&t.arrivals);
    }
    arrivals
        .into_iter()
        .map(|(src, mut a)| {
            a.sort_unstable();
            let gaps = a
                .windows(2)
                .filter(|w| w[1] - w[0] >= min_ns)
                .map(|w| (w[0], w[1]))
                .collect();
            (src, gaps)
        })
        .filter(|(_, g): &(IpAddr, Vec<Silence>)| !g.is_empty())
        .collect()
}

pub fn gaps(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let th = ctx.th;
    let delay_ns = (th.heartbeat_delay_s * 1e9) as i64;
    let legacy_ns = delay_ns * th.heartbeat_threshold_legacy as i64;
    let modern_ns = delay_ns * th.heartbeat_threshold as i64;
    for (src, list) in silences(ctx, legacy_ns) {
        let node = ctx.node_of(src).map(str::to_string);
        let who = node
            .clone()
            .map(|n| format!("{n} ({src})"))
            .unwrap_or_else(|| src.to_string());
        let filter = Some(format!(
            "udp.port == 3343 && {}",
            addr_filter(src).replace(".addr", ".src")
        ));
        for &(a, b) in &list {
            let len = (b - a) as f64 / 1e9;
            let beyond_modern = b - a >= modern_ns;
            out.push(Finding {
                id: HVS006.id.into(),
                severity: if beyond_modern { Severity::High } else { Severity::Medium },
                title: format!("No heartbeats from {who} for {len:.1} s"),
                node: node.clone(),
                interface: None,
                window_start_ns: Some(a),
                window_end_ns: Some(b),
                summary: format!(
                    "Heartbeats from {who} stopped for {len:.1} s. With a {:.0} s delay, that exceeds the \
                     threshold of {} missed heartbeats{}: the cluster removes the node from membership (Isolated) \
                     and block-storage VMs on it go Paused-Critical (seed 003).",
                    th.heartbeat_delay_s,
                    if beyond_modern { th.heartbeat_threshold } else { th.heartbeat_threshold_legacy },
                    if beyond_modern {
                        " (Windows Server 2016+ default SameSubnetThreshold)"
                    } else {
                        " of Windows Server 2012 R2 and earlier (2016+ tolerates up to 10)"
                    }
                ),
                evidence: vec![
                    ("last heartbeat before".into(), fmt_ts(a)),
                    ("first heartbeat after".into(), fmt_ts(b)),
                    ("silence".into(), format!("{len:.1} s")),
                ],
                tshark_filter: filter.clone(),
                remediation: vec![
                    "Get-Cluster | Format-List SameSubnetDelay, SameSubnetThreshold, CrossSubnetDelay, CrossSubnetThreshold, ResiliencyDefaultPeriod, QuarantineThreshold, QuarantineDuration".into(),
                    "Get-ClusterLog -TimeSpan 60 -UseLocalTime   # then look for [NETFT] route loss around the window".into(),
                ],
                note: None,
            });
        }
        // Quarantine: `quarantine_failures` silences within the window.
        let win_ns = (th.quarantine_window_s * 1e9) as i64;
        let k = th.quarantine_failures.max(1) as usize;
        if let Some(i) =
            (0..list.len().saturating_sub(k - 1)).find(|&i| list[i + k - 1].0 - list[i].0 <= win_ns)
        {
            let (start, end) = (list[i].0, list[i + k - 1].1);
            out.push(Finding {
                id: HVS006.id.into(),
                severity: Severity::Critical,
                title: format!("{who} failed {k} times within {:.0} min: quarantine", th.quarantine_window_s / 60.0),
                node: node.clone(),
                interface: None,
                window_start_ns: Some(start),
                window_end_ns: Some(end),
                summary: format!(
                    "{who} lost heartbeats {} times within {:.0} minutes. A node that fails {k} times within an hour \
                     is Quarantined: kept out of the cluster for QuarantineDuration (default 7200 s) and drained of \
                     its VMs (seed 003).",
                    list.len(),
                    th.quarantine_window_s / 60.0
                ),
                evidence: list
                    .iter()
                    .take(10)
                    .enumerate()
                    .map(|(n, (a, b))| (format!("silence {}", n + 1), format!("{} for {:.1} s", fmt_ts(*a), (b - a) as f64 / 1e9)))
                    .collect(),
                tshark_filter: filter.clone(),
                remediation: vec![
                    "# after fixing the network path\nStart-ClusterNode -Name <node> -ClearQuarantine".into(),
                    "(Get-Cluster).QuarantineThreshold; (Get-Cluster).QuarantineDuration".into(),
                ],
                note: None,
            });
        }
    }
}

fn fmt_ts(ns: i64) -> String {
    crate::inspect::format_utc(ns)
}
