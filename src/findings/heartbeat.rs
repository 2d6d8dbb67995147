//! HVS006: cluster heartbeat silences beyond the failure threshold, and
//! repeated failures that quarantine a node.
//!
//! A node is cut off only when no peer hears it on any network: its
//! addresses' silences are intersected. Silences of one address while the
//! node's other networks still carry heartbeats are a network problem and are
//! reported per address.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hvsleuth_reports::{Finding, Severity};

use super::catalogue::HVS006;
use super::{Ctx, addr_filter};
use crate::merge::attribute::heartbeat_cadence_ns;

/// A silence: (last heartbeat before, first after).
type Silence = (i64, i64);

/// Silences of each sender address, from the union of its heartbeats to every
/// peer on every captured interface, with the sender's cadence: (first, last,
/// silences, cadence ns). A silence is at least `min_missed` + 1 cadences long.
/// Tracks whose arrival list was capped use the scanner's recorded gaps.
#[allow(clippy::type_complexity)]
fn silences(ctx: &Ctx<'_>, min_missed: u32) -> BTreeMap<IpAddr, (i64, i64, Vec<Silence>, i64)> {
    let mut arrivals: BTreeMap<IpAddr, (Vec<i64>, Vec<Silence>, Vec<i64>)> = BTreeMap::new();
    for (_, src, _, t) in &ctx.model.heartbeats {
        let e = arrivals.entry(*src).or_default();
        if (t.arrivals.len() as u64) < t.count {
            // Capped: the scanner's gaps and the track's ends.
            e.0.push(t.first_ts_ns);
            e.0.push(t.last_ts_ns);
            e.1.extend(&t.gaps);
        } else {
            e.0.extend(&t.arrivals);
        }
        if let Some(c) = heartbeat_cadence_ns(&t.arrivals) {
            e.2.push(c);
        }
    }
    let given = ctx
        .th
        .heartbeat_delay_given
        .then_some((ctx.th.heartbeat_delay_s * 1e9) as i64);
    arrivals
        .into_iter()
        .filter_map(|(src, (mut a, extra, mut cads))| {
            a.sort_unstable();
            cads.sort_unstable();
            let cadence = given
                .or_else(|| cads.get(cads.len() / 2).copied())
                .unwrap_or((ctx.th.heartbeat_delay_s * 1e9) as i64)
                .max(1);
            let min_ns = cadence * (min_missed as i64 + 1) - cadence / 2;
            let (first, last) = (*a.first()?, *a.last()?);
            let mut gaps: Vec<Silence> = a
                .windows(2)
                .filter(|w| w[1] - w[0] >= min_ns)
                .map(|w| (w[0], w[1]))
                .chain(extra.into_iter().filter(|g| g.1 - g.0 >= min_ns))
                .collect();
            gaps.sort_unstable();
            gaps.dedup();
            Some((src, (first, last, gaps, cadence)))
        })
        .collect()
}

/// Intersection of two sorted silence lists.
fn intersect(a: &[Silence], b: &[Silence]) -> Vec<Silence> {
    let mut out = Vec::new();
    for &(s1, e1) in a {
        for &(s2, e2) in b {
            let (s, e) = (s1.max(s2), e1.min(e2));
            if s < e {
                out.push((s, e));
            }
        }
    }
    out
}

/// Heartbeats missed in a silence: arrivals at `a` and `b` with a heartbeat every `delay`.
fn missed(a: i64, b: i64, delay_ns: i64) -> i64 {
    ((b - a) as f64 / delay_ns.max(1) as f64).round() as i64 - 1
}

pub fn gaps(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let th = ctx.th;
    // Candidate silences: at least `legacy` heartbeats missed, at each
    // sender's own cadence (learnt, or the inventory's heartbeat_delay_s).
    let by_addr = silences(ctx, th.heartbeat_threshold_legacy);
    // Group addresses by node (addresses of unknown nodes stand alone).
    let mut nodes: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for ip in by_addr.keys() {
        let node = ctx
            .node_of(*ip)
            .map(str::to_string)
            .unwrap_or_else(|| ip.to_string());
        nodes.entry(node).or_default().push(*ip);
    }
    // Every address that heartbeats, per node (to intersect only over addresses that had heartbeats).
    for (node, addrs) in nodes {
        let mut all_addrs: Vec<IpAddr> = ctx
            .model
            .heartbeats
            .iter()
            .map(|h| h.1)
            .filter(|ip| {
                ctx.node_of(*ip)
                    .map(str::to_string)
                    .unwrap_or_else(|| ip.to_string())
                    == node
            })
            .collect();
        all_addrs.sort();
        all_addrs.dedup();
        // The node's cadence: the slowest of its addresses'.
        let delay_ns = all_addrs
            .iter()
            .filter_map(|ip| by_addr.get(ip).map(|x| x.3))
            .max()
            .unwrap_or((th.heartbeat_delay_s * 1e9) as i64);
        // Node-wide silences: intersect over every heartbeating address of the node.
        let mut node_sil: Option<Vec<Silence>> = None;
        for ip in &all_addrs {
            let s = by_addr.get(ip).map(|x| x.2.clone()).unwrap_or_default();
            node_sil = Some(match node_sil {
                None => s,
                Some(acc) => intersect(&acc, &s),
            });
        }
        let node_sil: Vec<Silence> = node_sil
            .unwrap_or_default()
            .into_iter()
            .filter(|(a, b)| missed(*a, *b, delay_ns) >= th.heartbeat_threshold_legacy as i64)
            .collect();
        let filter = Some(format!(
            "udp.port == 3343 && ({})",
            all_addrs
                .iter()
                .map(|a| addr_filter(*a).replace(".addr", ".src"))
                .collect::<Vec<_>>()
                .join(" || ")
        ));
        for &(a, b) in &node_sil {
            out.push(silence_finding(
                ctx,
                &node,
                None,
                (a, b),
                delay_ns,
                filter.clone(),
            ));
        }
        // Per-address silences not inside a node-wide one: one network lost.
        for ip in &addrs {
            for &(a, b) in &by_addr[ip].2 {
                let covered = node_sil
                    .iter()
                    .any(|(s, e)| *s <= a + delay_ns && *e + delay_ns >= b);
                if !covered && missed(a, b, delay_ns) >= th.heartbeat_threshold_legacy as i64 {
                    let f = Some(format!(
                        "udp.port == 3343 && {}",
                        addr_filter(*ip).replace(".addr", ".src")
                    ));
                    out.push(silence_finding(ctx, &node, Some(*ip), (a, b), delay_ns, f));
                }
            }
        }
        // Quarantine: `quarantine_failures` node-wide failures within the window.
        let win_ns = (th.quarantine_window_s * 1e9) as i64;
        let k = th.quarantine_failures.max(1) as usize;
        if let Some(i) = (0..node_sil.len().saturating_sub(k - 1))
            .find(|&i| node_sil[i + k - 1].0 - node_sil[i].0 <= win_ns)
        {
            let (start, end) = (node_sil[i].0, node_sil[i + k - 1].1);
            out.push(Finding {
                id: HVS006.id.into(),
                severity: Severity::Critical,
                title: format!("{node} failed {k} times within {:.0} min: quarantine", th.quarantine_window_s / 60.0),
                node: Some(node.clone()),
                interface: None,
                window_start_ns: Some(start),
                window_end_ns: Some(end),
                summary: format!(
                    "No peer heard {node} on any network {} times within {:.0} minutes. A node that fails {k} times \
                     within an hour is Quarantined: kept out of the cluster for QuarantineDuration (default 7200 s) \
                     and drained of its VMs.",
                    node_sil.len(),
                    th.quarantine_window_s / 60.0
                ),
                evidence: node_sil
                    .iter()
                    .take(10)
                    .enumerate()
                    .map(|(n, (a, b))| {
                        (format!("failure {}", n + 1), format!("{} for {:.1} s", fmt_ts(*a), (b - a) as f64 / 1e9))
                    })
                    .collect(),
                tshark_filter: filter.clone(),
                remediation: vec![
                    format!("# after fixing the cause\nStart-ClusterNode -Name {node} -ClearQuarantine"),
                    "Get-Cluster | Format-List QuarantineThreshold, QuarantineDuration, ResiliencyDefaultPeriod".into(),
                ],
                note: None,
                also: Vec::new(),
            });
        }
    }
}

fn silence_finding(
    ctx: &Ctx<'_>,
    node: &str,
    addr: Option<IpAddr>,
    (a, b): Silence,
    delay_ns: i64,
    filter: Option<String>,
) -> Finding {
    let th = ctx.th;
    let len = (b - a) as f64 / 1e9;
    let n = missed(a, b, delay_ns);
    let modern = n >= th.heartbeat_threshold as i64;
    let (what, severity) = match addr {
        None => (
            format!("{node} (all networks)"),
            if modern {
                Severity::High
            } else {
                Severity::Medium
            },
        ),
        Some(ip) => (format!("{node} on {ip}"), Severity::Medium),
    };
    Finding {
        id: HVS006.id.into(),
        severity,
        title: format!("No heartbeats from {what} for {len:.1} s ({n} missed)"),
        node: Some(node.to_string()),
        interface: None,
        window_start_ns: Some(a),
        window_end_ns: Some(b),
        summary: match addr {
            None => format!(
                "No peer heard {node} on any network for {len:.1} s: {n} heartbeats missed at a {:.1} s delay (learnt from the arrivals unless the inventory sets heartbeat_delay_s). \
                 That exceeds the threshold of {}{}: the cluster removes the node from membership (Isolated) and \
                 block-storage VMs on it go Paused-Critical.",
                delay_ns as f64 / 1e9,
                if modern { th.heartbeat_threshold } else { th.heartbeat_threshold_legacy },
                if modern {
                    " (Windows Server 2016+ default SameSubnetThreshold)"
                } else {
                    " of Windows Server 2012 R2 and earlier (2016+ tolerates 10)"
                }
            ),
            Some(ip) => format!(
                "Heartbeats from {ip} ({node}) stopped for {len:.1} s ({n} missed) while its other networks still \
                 carried heartbeats: that network path failed (Event 1126/1127 on Windows)."
            ),
        },
        evidence: vec![
            ("last heartbeat before".into(), fmt_ts(a)),
            ("first heartbeat after".into(), fmt_ts(b)),
            ("silence".into(), format!("{len:.1} s, {n} heartbeats missed")),
        ],
        tshark_filter: filter,
        remediation: vec![
            "Get-Cluster | Format-List SameSubnetDelay, SameSubnetThreshold, CrossSubnetDelay, CrossSubnetThreshold, QuarantineThreshold, QuarantineDuration".into(),
            "Get-ClusterLog -TimeSpan 60 -UseLocalTime   # look for [NETFT] route loss around the window".into(),
        ],
        note: None,
        also: Vec::new(),
    }
}

fn fmt_ts(ns: i64) -> String {
    crate::units::format_utc(ns)
}
