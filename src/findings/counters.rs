//! Perfmon reconciliation: RDMA bytes captures cannot see (HVS008) and CSV
//! redirected IO in the counters (HVS009), each compared with what the
//! captures of the same node show in the same window.

use std::collections::BTreeMap;

use hvsleuth_parsers::perfmon::CounterRole;
use hvsleuth_reports::{Finding, Role, Severity};

use super::Ctx;
use super::catalogue::{HVS008, HVS009};
use crate::evidence::Counter;
use crate::units::{human_bps, human_bytes};

/// Counter bytes below this are noise.
const MIN_BYTES: f64 = 1_000_000.0;

/// Captured bytes of `node`'s interfaces within [start, end] for the roles given
/// (all roles when empty), and whether any capture of the node covers the window.
fn captured(ctx: &Ctx<'_>, node: &str, start: i64, end: i64, roles: &[Role]) -> (u64, bool) {
    let bucket = ctx.model.bucket_ns;
    let mut bytes = 0;
    let mut covered = false;
    for i in ctx
        .model
        .ifaces
        .iter()
        .filter(|i| i.node.eq_ignore_ascii_case(node))
    {
        for r in Role::ALL {
            let series = &ctx.model.series[i.id][r.index()];
            if series
                .iter()
                .any(|(b, _)| b * bucket <= end && (b + 1) * bucket >= start)
            {
                covered = true;
            }
            if roles.is_empty() || roles.contains(&r) {
                bytes += series
                    .iter()
                    .filter(|(b, _)| b * bucket <= end && (b + 1) * bucket >= start)
                    .map(|(_, c)| c.bytes[0] + c.bytes[1])
                    .sum::<u64>();
            }
        }
    }
    (bytes, covered)
}

fn by_host<'a>(ctx: &'a Ctx<'_>, roles: &[CounterRole]) -> BTreeMap<String, Vec<&'a Counter>> {
    let mut m: BTreeMap<String, Vec<&Counter>> = BTreeMap::new();
    for c in &ctx.evidence.counters {
        if c.class.role.is_some_and(|r| roles.contains(&r)) && c.integral() >= MIN_BYTES {
            m.entry(c.path.host.clone()).or_default().push(c);
        }
    }
    m
}

/// One evidence line per counter: bytes over the capture and peak rate.
fn counter_evidence(cs: &[&Counter]) -> Vec<(String, String)> {
    cs.iter()
        .map(|c| {
            let v = format!(
                "{} (peak {})",
                human_bytes(c.integral() as u64),
                human_bps((c.peak() * 8.0) as u64)
            );
            (c.label(), v)
        })
        .collect()
}

fn window(cs: &[&Counter]) -> (i64, i64) {
    let w: Vec<(i64, i64)> = cs.iter().filter_map(|c| c.active_window(1.0)).collect();
    (
        w.iter().map(|x| x.0).min().unwrap_or(0),
        w.iter().map(|x| x.1).max().unwrap_or(0),
    )
}

/// Sum of the link speeds of a node's interfaces (inventory, else captured
/// interfaces), when every one is known.
fn node_capacity_bps(ctx: &Ctx<'_>, node: &str) -> Option<u64> {
    if let Some(n) = ctx
        .inv
        .and_then(|inv| inv.nodes.iter().find(|n| n.name.eq_ignore_ascii_case(node)))
    {
        let speeds: Option<Vec<u64>> = n.interfaces.iter().map(|i| i.link_speed_bps).collect();
        return speeds.filter(|v| !v.is_empty()).map(|v| v.iter().sum());
    }
    let ifaces: Vec<_> = ctx
        .model
        .ifaces
        .iter()
        .filter(|i| i.node.eq_ignore_ascii_case(node))
        .collect();
    let speeds: Option<Vec<u64>> = ifaces.iter().map(|i| i.link_bps).collect();
    speeds.filter(|v| !v.is_empty()).map(|v| v.iter().sum())
}

pub fn reconcile(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (host, cs) in by_host(ctx, &[CounterRole::Rdma, CounterRole::SmbDirect]) {
        let total: f64 = cs.iter().map(|c| c.integral()).sum();
        let (start, end) = window(&cs);
        let (cap, covered) = captured(ctx, &host, start, end, &[]);
        let mut evidence = counter_evidence(&cs);
        evidence.push((
            "captures of this node in the window".into(),
            if covered {
                human_bytes(cap)
            } else {
                "no capture of this node covers the window".into()
            },
        ));
        // More than the node's links could carry in the window: the counters
        // (units, instances, sampling) are not to be trusted as they stand.
        let secs = ((end - start) as f64 / 1e9).max(1.0);
        let capacity = node_capacity_bps(ctx, &host);
        let implausible = capacity.is_some_and(|c| total * 8.0 / secs > c as f64 * 1.05);
        if let Some(c) = capacity {
            evidence.push((
                "average rate against the node's link capacity".into(),
                format!(
                    "{} over {secs:.0} s against {} of links{}",
                    human_bps((total * 8.0 / secs) as u64),
                    human_bps(c),
                    if implausible {
                        ": more than the links can carry, check the counters"
                    } else {
                        ""
                    }
                ),
            ));
        }
        out.push(Finding {
            id: HVS008.id.into(),
            severity: if implausible { Severity::Info } else { Severity::Medium },
            title: format!("{host}: {} of RDMA traffic that captures cannot see", human_bytes(total as u64)),
            node: Some(host.clone()),
            interface: None,
            window_start_ns: Some(start),
            window_end_ns: Some(end),
            summary: format!(
                "Perfmon on {host} counts {} of RDMA / SMB Direct traffic. RDMA bypasses the host network stack, so \
                 packet captures on the host show none of it{}: attribute those NICs' storage, redirected IO and live \
                 migration from the counters.",
                human_bytes(total as u64),
                if covered { format!(" (they show {} in total in that window)", human_bytes(cap)) } else { String::new() }
            ),
            evidence,
            tshark_filter: None,
            remediation: vec![
                format!("Get-Counter -ComputerName {host} -Counter '\\RDMA Activity(*)\\RDMA Inbound Bytes/sec','\\RDMA Activity(*)\\RDMA Outbound Bytes/sec','\\SMB Direct Connection(*)\\*' -Continuous"),
                "Get-SmbMultichannelConnection | Format-Table ServerName, ClientInterfaceIndex, ClientRdmaCapable, ServerRdmaCapable".into(),
            ],
            note: None,
            also: Vec::new(),
        });
    }
    for (host, cs) in by_host(ctx, &[CounterRole::RedirectedIo]) {
        let total: f64 = cs.iter().map(|c| c.integral()).sum();
        let (start, end) = window(&cs);
        let (cap, covered) = captured(ctx, &host, start, end, &[Role::RedirectedIo]);
        // NIC counters of the same node that rose during the window.
        let nics: Vec<String> = ctx
            .evidence
            .counters
            .iter()
            .filter(|c| {
                c.path.host.eq_ignore_ascii_case(&host)
                    && c.class.role == Some(CounterRole::NicTotal)
            })
            .filter(|c| c.path.counter.to_ascii_lowercase().contains("total"))
            .filter_map(|c| {
                let during = c
                    .samples
                    .iter()
                    .filter(|s| s.0 >= start && s.0 <= end)
                    .map(|s| s.1)
                    .fold(0.0, f64::max);
                (during > 1e6).then(|| {
                    format!(
                        "{} peak {}",
                        c.path.instance.as_deref().unwrap_or("?"),
                        human_bps((during * 8.0) as u64)
                    )
                })
            })
            .collect();
        let mut evidence = counter_evidence(&cs);
        if !nics.is_empty() {
            evidence.push(("NICs busy during the window".into(), nics.join(", ")));
        }
        evidence.push((
            "captured redirected-io of this node in the window".into(),
            if covered {
                human_bytes(cap)
            } else {
                "no capture of this node covers the window".into()
            },
        ));
        let volumes: Vec<String> = cs
            .iter()
            .filter_map(|c| c.path.instance.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        out.push(Finding {
            id: HVS009.id.into(),
            severity: Severity::High,
            title: format!("{host}: {} of CSV redirected IO in perfmon ({})", human_bytes(total as u64), volumes.join(", ")),
            node: Some(host.clone()),
            interface: None,
            window_start_ns: Some(start),
            window_end_ns: Some(end),
            summary: format!(
                "The CSV counters on {host} show {} of redirected IO on {} over {:.0} s: every write went over SMB to the \
                 CSV owner{}.",
                human_bytes(total as u64),
                volumes.join(", "),
                (end - start) as f64 / 1e9,
                if nics.is_empty() { String::new() } else { format!(", over {}", nics.join("; ")) }
            ),
            evidence,
            tshark_filter: Some("tcp.port == 445".into()),
            remediation: vec![
                "Get-ClusterSharedVolumeState | Format-Table Name, Node, StateInfo, FileSystemRedirectedIOReason, BlockRedirectedIOReason".into(),
{
                    let (csv, find) = super::remediation::csv_for_node(ctx, &host, &volumes);
                    format!("# run the restore on the owner, or make {host} the owner first\n{find}Move-ClusterSharedVolume -Name {csv} -Node {host}")
                },
            ],
            note: None,
            also: Vec::new(),
        });
    }
}
