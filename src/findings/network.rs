//! Network rules: bulk traffic on management (HVS001), saturation with
//! stalled management sessions (HVS002), TCP health (HVS007).

use hvsleuth_reports::{Finding, Role, Severity};

use super::catalogue::{HVS001, HVS002, HVS007};
use super::{Ctx, addr_filter, pct};
use crate::inventory::Intent;
use crate::units::{human_bps, human_bytes};

const BULK: [Role; 3] = [Role::RedirectedIo, Role::Storage, Role::LiveMigration];

/// HVS001: redirected IO, storage or live migration on a management interface.
pub fn management_bulk(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for iface in &ctx.model.ifaces {
        let (mgmt, why_mgmt) = ctx.is_management(iface.id);
        if !mgmt {
            continue;
        }
        let intents = ctx.intents(iface.id);
        for role in BULK {
            // Storage on a NIC that is also meant for storage is by design.
            if (role == Role::Storage && intents.contains(&Intent::Storage))
                || (role == Role::LiveMigration && intents.contains(&Intent::LiveMigration))
            {
                continue;
            }
            let bytes = ctx.role_bytes(iface.id, role);
            if bytes < ctx.th.mgmt_bulk_min_bytes {
                continue;
            }
            let peak = ctx.role_peak_bps(iface.id, role);
            let util = iface
                .link_bps
                .filter(|l| *l > 0)
                .map(|l| peak as f64 / l as f64);
            let (start, end) = ctx.window(iface.id, role).unwrap_or_default();
            // The largest group of that role names the node pair.
            let top = ctx
                .iface_groups(iface.id)
                .filter(|g| g.role == role)
                .max_by_key(|g| g.bytes);
            let (client, server) = top
                .map(|g| (g.key.client, g.key.server))
                .unwrap_or((None, None));
            let client_node = client.and_then(|c| ctx.node_of(c)).map(str::to_string);
            let server_node = server.and_then(|s| ctx.node_of(s)).map(str::to_string);
            let server_name = server_node
                .clone()
                .or_else(|| server.map(|s| s.to_string()))
                .unwrap_or_else(|| "<CSV owner>".into());
            let client_name = client_node
                .clone()
                .unwrap_or_else(|| "<non-owner node>".into());
            let severity = if util.is_some_and(|u| u >= ctx.th.saturation_utilisation) {
                Severity::Critical
            } else {
                Severity::High
            };
            let mut evidence = vec![
                (
                    format!("{role} bytes on this interface"),
                    human_bytes(bytes),
                ),
                ("peak throughput".into(), human_bps(peak)),
                (
                    "share of the interface's bytes".into(),
                    pct(bytes as f64 / ctx.model.iface_wire[iface.id].max(1) as f64),
                ),
                ("why this is a management interface".into(), why_mgmt.into()),
            ];
            if let Some(u) = util {
                evidence.push(("peak share of link capacity".into(), pct(u)));
            }
            if let (Some(c), Some(s)) = (client, server) {
                evidence.push((
                    "from -> to".into(),
                    format!("{client_name} ({c}) -> {server_name} ({s})"),
                ));
            }
            if let Some(g) = top {
                evidence.push(("classified as".into(), g.reason.clone()));
            }
            let filter = match (client, server) {
                (Some(c), Some(s)) => Some(format!(
                    "{} && {}{}",
                    addr_filter(c),
                    addr_filter(s),
                    top.map(|g| format!(" && tcp.port == {}", g.key.port))
                        .unwrap_or_default()
                )),
                _ => None,
            };
            let csv = super::remediation::csv_of(
                ctx,
                top.map(|g| g.shares.as_slice()).unwrap_or_default(),
                server_node.as_deref(),
            );
            let fix = super::remediation::hvs001(&super::remediation::Hvs001Facts {
                role,
                dialect: client
                    .zip(server)
                    .and_then(|(c, s)| super::remediation::dialect_between(ctx, c, s)),
                client_name: &client_name,
                server_name: &server_name,
                cluster_aliases: cluster_aliases(ctx, &client_name),
                mgmt_network: super::remediation::network_of_iface(ctx, iface.id),
                csv_network: super::remediation::csv_network(ctx),
                csv: csv.clone(),
                lm: super::remediation::lm_network(ctx),
            });
            evidence.extend(fix.evidence);
            out.push(Finding {
                id: HVS001.id.into(),
                severity,
                title: format!("Management interface {} carries {role} traffic", iface.interface),
                node: Some(iface.node.clone()),
                interface: Some(iface.interface.clone()),
                window_start_ns: Some(start),
                window_end_ns: Some(end),
                summary: format!(
                    "{client_name} sent {} of {} to {server_name}{} over {} / {}, an interface meant for \
                     management ({why_mgmt}), peaking at {}{}. SMB Multichannel spreads CSV redirected IO over \
                     every network between two nodes; when it fills the management NIC, RDP and remote \
                     management stall (as when a VM is restored onto a node that does not own its CSV).",
                    human_bytes(bytes),
                    match role {
                        Role::RedirectedIo => "CSV redirected IO",
                        Role::LiveMigration => "live migration",
                        _ => "storage traffic",
                    },
                    csv.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
                    iface.node,
                    iface.interface,
                    human_bps(peak),
                    util.map(|u| format!(" ({} of the link)", pct(u))).unwrap_or_default(),
                ),
                evidence,
                tshark_filter: filter,
                remediation: fix.remediation,
                note: Some(fix.note),
                also: Vec::new(),
            });
        }
    }
}

/// Interface aliases on `node` meant for (or carrying) cluster traffic, not management.
/// NICs meant for CSV redirected IO (`redirected-io` intent) win when the
/// inventory names any.
fn cluster_aliases(ctx: &Ctx<'_>, node: &str) -> Option<Vec<String>> {
    let on_node = || ctx.model.ifaces.iter().filter(|i| i.node == node);
    let redirected: Vec<String> = on_node()
        .filter(|i| ctx.intents(i.id).contains(&Intent::RedirectedIo))
        .map(|i| format!("\"{}\"", i.interface))
        .collect();
    if !redirected.is_empty() {
        return Some(redirected);
    }
    let mut v: Vec<String> = on_node()
        .filter(|i| {
            let intents = ctx.intents(i.id);
            if !intents.is_empty() {
                return intents.contains(&Intent::Cluster)
                    && !intents.contains(&Intent::Management);
            }
            !ctx.is_management(i.id).0 && ctx.role_bytes(i.id, Role::Cluster) > 0
        })
        .map(|i| format!("\"{}\"", i.interface))
        .collect();
    v.dedup();
    (!v.is_empty()).then_some(v)
}

/// Standard Ethernet speeds, for naming the link a throughput plateau fills.
const STANDARD_BPS: [u64; 10] = [
    10_000_000,
    100_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    25_000_000_000,
    40_000_000_000,
    50_000_000_000,
    100_000_000_000,
];

/// Longest run of consecutive signal buckets (1 s) at or above `limit` b/s:
/// (first bucket, last bucket).
fn longest_run(
    totals: &std::collections::BTreeMap<i64, u64>,
    bucket_s: f64,
    limit: f64,
) -> Option<(i64, i64)> {
    let mut best: Option<(i64, i64)> = None;
    let mut run: Option<(i64, i64)> = None;
    for (b, bytes) in totals {
        let bps = *bytes as f64 * 8.0 / bucket_s;
        if bps >= limit {
            run = match run {
                Some((s, e)) if e + 1 == *b => Some((s, *b)),
                _ => Some((*b, *b)),
            };
            if let Some((s, e)) = run {
                if best.is_none_or(|(bs, be)| e - s > be - bs) {
                    best = Some((s, e));
                }
            }
        } else {
            run = None;
        }
    }
    best
}

/// HVS002: sustained saturation while management connections on the interface suffer.
/// Critical when they retransmit, medium when they are there and do not,
/// low when the link carries no management session at all.
/// Judged on the 1 s signal, whatever the chart bucket. Without a known link
/// speed, a sustained plateau of throughput while management connections on
/// the same interface retransmit is taken as the link's limit, said so.
pub fn saturation(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let bucket_ns = ctx.model.signal_bucket_ns;
    let bucket_s = bucket_ns as f64 / 1e9;
    for iface in &ctx.model.ifaces {
        // Total bytes per signal bucket over all roles.
        let mut totals: std::collections::BTreeMap<i64, u64> = Default::default();
        for role in Role::ALL {
            for (b, c) in ctx.model.signal(iface.id, role) {
                *totals.entry(*b).or_default() += c.bytes[0] + c.bytes[1];
            }
        }
        let mgmt_bad: u64 = ctx
            .iface_groups(iface.id)
            .filter(|g| g.role == Role::Management)
            .map(|g| g.tcp.retransmissions + g.tcp.duplicates + g.tcp.gaps + g.tcp.overlaps)
            .sum();
        let (link, link_from) = match iface.link_bps.filter(|l| *l > 0) {
            Some(l) => (l, iface.link_from.clone().unwrap_or_else(|| "given".into())),
            None => {
                // A plateau: the busiest second's rate held (within 10%) for
                // the minimum window, with management retransmitting.
                let peak = totals.values().copied().max().unwrap_or(0) as f64 * 8.0 / bucket_s;
                if mgmt_bad == 0 || peak < 1e6 {
                    continue;
                }
                let Some((s, e)) = longest_run(&totals, bucket_s, 0.9 * peak) else {
                    continue;
                };
                if ((e - s + 1) as f64) * bucket_s < ctx.th.saturation_min_s {
                    continue;
                }
                let level: f64 = (s..=e)
                    .map(|b| totals.get(&b).copied().unwrap_or(0) as f64)
                    .sum::<f64>()
                    * 8.0
                    / ((e - s + 1) as f64 * bucket_s);
                let std = STANDARD_BPS.iter().copied().find(|x| *x as f64 >= level);
                let link = match std {
                    Some(x) if level >= 0.85 * x as f64 => x,
                    _ => (peak as u64).max(1),
                };
                (
                    link,
                    format!(
                        "inferred: throughput held at {} for {:.0} s while management connections retransmitted \
                         (no inventory, if_speed or SMB interface list gave it)",
                        human_bps(level as u64),
                        (e - s + 1) as f64 * bucket_s
                    ),
                )
            }
        };
        let limit = ctx.th.saturation_utilisation * link as f64;
        let Some((s, e)) = longest_run(&totals, bucket_s, limit) else {
            continue;
        };
        let secs = (e - s + 1) as f64 * bucket_s;
        if secs < ctx.th.saturation_min_s {
            continue;
        }
        let mgmt: Vec<_> = ctx
            .iface_groups(iface.id)
            .filter(|g| g.role == Role::Management)
            .collect();
        let bad: u64 = mgmt
            .iter()
            .map(|g| g.tcp.retransmissions + g.tcp.duplicates + g.tcp.gaps + g.tcp.overlaps)
            .sum();
        let stalled = bad > 0;
        let fillers: Vec<String> = Role::ALL
            .iter()
            .map(|r| (*r, ctx.role_bytes(iface.id, *r)))
            .filter(|(_, b)| *b > 0)
            .map(|(r, b)| format!("{r} {}", human_bytes(b)))
            .collect();
        let mgmt_flows: u64 = mgmt.iter().map(|g| g.flows).sum();
        // What HVS002 is about is the management sessions a full link
        // stalls. A link with none on it that runs at capacity is a bulk
        // transfer using what it was given (TCP fills any link): worth
        // knowing, not a warning.
        out.push(Finding {
            id: HVS002.id.into(),
            severity: if stalled {
                Severity::Critical
            } else if mgmt_flows > 0 {
                Severity::Medium
            } else {
                Severity::Low
            },
            title: if stalled {
                format!("{} saturated for {secs:.0} s while management sessions stalled", iface.interface)
            } else if mgmt_flows > 0 {
                format!("{} saturated for {secs:.0} s", iface.interface)
            } else {
                format!("{} ran at capacity for {secs:.0} s (no management session on it)", iface.interface)
            },
            node: Some(iface.node.clone()),
            interface: Some(iface.interface.clone()),
            window_start_ns: Some(s * bucket_ns),
            window_end_ns: Some((e + 1) * bucket_ns),
            summary: format!(
                "{} / {} ran above {} of its {} link for {secs:.0} s{}.",
                iface.node,
                iface.interface,
                pct(ctx.th.saturation_utilisation),
                human_bps(link),
                if stalled {
                    format!(
                        "; management connections on it had {bad} retransmitted, duplicate or lost segments: \
                         administrators lose remote access in such windows"
                    )
                } else {
                    String::new()
                }
            ),
            evidence: vec![
                ("saturated window".into(), format!("{secs:.0} s at >= {}", pct(ctx.th.saturation_utilisation))),
                ("link speed".into(), human_bps(link)),
                ("link speed from".into(), link_from.clone()),
                ("traffic on the interface".into(), fillers.join(", ")),
                ("management connections".into(), mgmt_flows.to_string()),
                ("management TCP retransmissions/duplicates/gaps".into(), bad.to_string()),
            ],
            tshark_filter: iface.addresses.first().map(|a| {
                format!("{} && (tcp.analysis.retransmission || tcp.analysis.lost_segment)", addr_filter(*a))
            }),
            remediation: vec![
"# throttle SMB bulk and give remote management priority on the host\n\
                 New-NetQosPolicy -Name \"SMB bulk\" -SMB -ThrottleRateActionBitsPerSecond 500MB\n\
                 New-NetQosPolicy -Name \"RDP\" -IPProtocolMatchCondition TCP -IPDstPortMatchCondition 3389 -PriorityValue8021Action 5"
                    .into(),
                "# cap SMB bulk categories so they cannot fill a link\n\
                 Set-SmbBandwidthLimit -Category Default -BytesPerSecond 500MB\n\
                 Set-SmbBandwidthLimit -Category LiveMigration -BytesPerSecond 1GB"
                    .into(),
            ],
            note: None,
            also: Vec::new(),
        });
    }
}

/// HVS007: retransmissions and duplicate segments per interface and role.
pub fn tcp_health(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for iface in &ctx.model.ifaces {
        for role in Role::ALL {
            let groups: Vec<_> = ctx
                .iface_groups(iface.id)
                .filter(|g| g.role == role && g.key.proto == crate::attribution::rules::Proto::Tcp)
                .collect();
            let packets: u64 = groups.iter().map(|g| g.packets).sum();
            if packets < ctx.th.tcp_min_packets {
                continue;
            }
            let rtx: u64 = groups
                .iter()
                .map(|g| g.tcp.retransmissions + g.tcp.overlaps)
                .sum();
            let dup: u64 = groups.iter().map(|g| g.tcp.duplicates).sum();
            let rate = (rtx + dup) as f64 / packets as f64;
            if rate < ctx.th.tcp_bad_rate {
                continue;
            }
            let worst = groups
                .iter()
                .max_by_key(|g| g.tcp.retransmissions + g.tcp.duplicates + g.tcp.overlaps)
                .copied();
            let (start, end) = ctx.window(iface.id, role).unwrap_or_default();
            let adapter = super::remediation::ps(&iface.interface);
            let mut remediation = vec![format!(
                "# on {}: NIC errors and discards, then the offload settings\n\
                 Get-NetAdapterStatistics -Name {adapter} | Format-List *Errors*, *Discarded*\n\
                 Get-NetAdapterAdvancedProperty -Name {adapter}",
                iface.node
            )];
            if dup > 0 {
                remediation.push(
                    "# duplicate segments: check NIC teaming/port mirroring; on WS2012-era hosts apply KB2905412 \
                     (stop 0xD1 when duplicate TCP segments arrive on different processors)"
                        .into(),
                );
            }
            out.push(Finding {
                id: HVS007.id.into(),
                severity: if rate >= 5.0 * ctx.th.tcp_bad_rate { Severity::High } else { Severity::Medium },
                title: format!("{} {role} TCP: {} of segments retransmitted or duplicated", iface.interface, pct(rate)),
                node: Some(iface.node.clone()),
                interface: Some(iface.interface.clone()),
                window_start_ns: Some(start),
                window_end_ns: Some(end),
                summary: format!(
                    "Of {packets} TCP packets attributed to {role} on {} / {}, {rtx} were retransmissions and \
                     {dup} exact duplicates ({}).",
                    iface.node,
                    iface.interface,
                    pct(rate)
                ),
                evidence: vec![
                    ("TCP packets".into(), packets.to_string()),
                    ("retransmissions (incl. partial)".into(), rtx.to_string()),
                    ("duplicate segments".into(), dup.to_string()),
                    (
                        "worst connection group".into(),
                        worst
                            .map(|g| {
                                format!(
                                    "{} -> {}:{} ({} retransmissions, {} duplicates)",
                                    g.key.client.map(|c| c.to_string()).unwrap_or_default(),
                                    g.key.server.map(|c| c.to_string()).unwrap_or_default(),
                                    g.key.port,
                                    g.tcp.retransmissions + g.tcp.overlaps,
                                    g.tcp.duplicates
                                )
                            })
                            .unwrap_or_default(),
                    ),
                ],
                tshark_filter: worst.and_then(|g| {
                    g.key.server.map(|s| {
                        format!(
                            "{} && tcp.port == {} && (tcp.analysis.retransmission || tcp.analysis.duplicate_ack)",
                            addr_filter(s),
                            g.key.port
                        )
                    })
                }),
                remediation,
                note: None,
                also: Vec::new(),
            });
        }
    }
}
