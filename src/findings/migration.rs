//! Live-migration rules: unintended network (HVS004), throughput far below
//! the link, single stream, TCP on RDMA NICs (HVS005).

use hvsleuth_reports::{Finding, Role, Severity};

use super::catalogue::{HVS004, HVS005};
use std::collections::BTreeSet;
use std::net::IpAddr;

use super::{Ctx, addr_filter, pct};
use crate::inventory::Intent;
use crate::units::{human_bps, human_bytes};

/// HVS004: live migration where it should not be.
pub fn unintended_network(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for iface in &ctx.model.ifaces {
        let lm = ctx.role_bytes(iface.id, Role::LiveMigration);
        if lm < ctx.th.lm_min_bytes {
            continue;
        }
        let intents = ctx.intents(iface.id);
        let mut reasons = Vec::new();
        let allowed_net = ctx.inv.and_then(|inv| {
            if inv.live_migration.networks.is_empty() {
                return None;
            }
            let net = iface.addresses.iter().find_map(|a| inv.network_of(*a))?;
            Some((
                inv.live_migration.networks.contains(&net.name),
                net.name.clone(),
            ))
        });
        match &allowed_net {
            Some((false, net)) => reasons.push(format!(
                "network {net} is not among the live-migration networks"
            )),
            Some((true, _)) => {}
            None if !intents.is_empty() && !intents.contains(&Intent::LiveMigration) => reasons
                .push(format!(
                    "the inventory means this interface for {}",
                    intents
                        .iter()
                        .map(|i| format!("{i:?}").to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            None => {}
        }
        if intents.is_empty() {
            let (mgmt, _) = ctx.is_management(iface.id);
            if mgmt {
                reasons.push("it carries interactive management (RDP/WinRM/SSH)".into());
            }
            let iscsi = ctx
                .iface_groups(iface.id)
                .any(|g| g.role == Role::Storage && g.key.port == 3260);
            let storage = ctx.role_bytes(iface.id, Role::Storage);
            if iscsi {
                reasons.push("it carries iSCSI storage".into());
            } else if storage > lm / 10 {
                reasons.push(format!(
                    "it carries {} of storage traffic",
                    human_bytes(storage)
                ));
            }
        }
        // Cluster communication on this network: heartbeats (UDP 3343) or the
        // cluster service (TCP 3343).
        let cluster_here = ctx
            .iface_groups(iface.id)
            .any(|g| g.role == Role::Cluster && g.key.port == 3343);
        // Without an inventory: a network the cluster does not use for itself.
        let mut inferred = None;
        if reasons.is_empty() && intents.is_empty() && allowed_net.is_none() && !cluster_here {
            inferred = off_cluster_network(ctx, iface.id);
            if let Some(off) = &inferred {
                reasons.push(off.why.clone());
            }
        }
        // Sharing the heartbeat network, unless the inventory means it for live migration.
        let heartbeats = cluster_here
            && !intents.contains(&Intent::LiveMigration)
            && !matches!(allowed_net, Some((true, _)));
        if reasons.is_empty() && !heartbeats {
            continue;
        }
        let peak = ctx.role_peak_bps(iface.id, Role::LiveMigration);
        let (start, end) = ctx
            .window(iface.id, Role::LiveMigration)
            .unwrap_or_default();
        let top = ctx
            .iface_groups(iface.id)
            .filter(|g| g.role == Role::LiveMigration)
            .max_by_key(|g| g.bytes);
        let severity = if reasons.is_empty() {
            Severity::Low
        } else {
            Severity::High
        };
        let why = if reasons.is_empty() {
            "it shares the cluster heartbeat network: a migration that fills it delays heartbeats"
                .to_string()
        } else {
            reasons.join("; ")
        };
        out.push(Finding {
            id: HVS004.id.into(),
            severity,
            title: if severity == Severity::Low {
                format!(
                    "Live migration shares the heartbeat network on {}",
                    iface.interface
                )
            } else {
                format!("Live migration on unintended interface {}", iface.interface)
            },
            node: Some(iface.node.clone()),
            interface: Some(iface.interface.clone()),
            window_start_ns: Some(start),
            window_end_ns: Some(end),
            summary: format!(
                "{} of live migration went over {} / {} (peak {}): {why}. Live migration takes the \
                 second-lowest-metric cluster network unless restricted.",
                human_bytes(lm),
                iface.node,
                iface.interface,
                human_bps(peak)
            ),
            evidence: {
                let mut e = vec![
                    ("live-migration bytes".into(), human_bytes(lm)),
                    ("peak".into(), human_bps(peak)),
                    ("why it is unintended".into(), why),
                    (
                        "classified as".into(),
                        top.map(|g| g.reason.clone()).unwrap_or_default(),
                    ),
                ];
                if let Some(off) = &inferred {
                    e.push((
                        "inferred (no inventory)".into(),
                        format!(
                            "confidence {}: {}",
                            pct(f64::from(off.confidence)),
                            off.evidence
                        ),
                    ));
                }
                e
            },
            tshark_filter: top.and_then(|g| {
                Some(format!(
                    "{} && tcp.port == {}",
                    addr_filter(g.key.server?),
                    g.key.port
                ))
            }),
            remediation: match &inferred {
                Some(off) => super::remediation::lm_off_role_none_networks(
                    &off.address,
                    &off.cluster_addresses,
                ),
                None => super::remediation::lm_only_on_intended(ctx),
            },
            note: None,
            also: Vec::new(),
        });
    }
}

/// Why a live migration's network is not one the cluster uses for itself.
struct OffCluster {
    why: String,
    evidence: String,
    confidence: f32,
    /// An address of the interface on that network (to find it by).
    address: String,
    /// The node's addresses on networks that carry its heartbeats.
    cluster_addresses: Vec<IpAddr>,
}

/// A live migration on a network without cluster communication, inferred
/// from the traffic (no inventory). A failover cluster sends heartbeats
/// (UDP 3343, every 1-2 s to every peer) on every network it uses for
/// cluster communication (role Cluster or ClusterAndClient); a network with
/// role None carries none: administrators set None for networks meant for
/// other traffic (iSCSI, backup, storage), yet the cluster's live-migration
/// network list includes it unless it is excluded, so migrations land there
/// (DOMAIN.md incident 3). Decided when the same capture shows the node
/// exchanging heartbeats on its other networks over several intervals,
/// the migration within them, and none on this one; more sure when the
/// migration's peer is a node it heartbeats with elsewhere.
fn off_cluster_network(ctx: &Ctx<'_>, iface: usize) -> Option<OffCluster> {
    let me = &ctx.model.ifaces[iface];
    let (start, end) = ctx.window(iface, Role::LiveMigration)?;
    // The node's heartbeats on its other interfaces of the same capture file
    // (captured over the same time as this one): peers, networks, cadence, span.
    let mut hb_peers: BTreeSet<String> = BTreeSet::new();
    let mut hb_ifaces: BTreeSet<usize> = BTreeSet::new();
    let mut cluster_addresses: BTreeSet<IpAddr> = BTreeSet::new();
    let mut cadence = 0i64;
    let mut span = (i64::MAX, i64::MIN);
    let mut mgmt_addresses: BTreeSet<IpAddr> = BTreeSet::new();
    for (i, src, dst, track) in &ctx.model.heartbeats {
        let other = &ctx.model.ifaces[*i];
        if *i == iface || other.capture != me.capture || track.count < 3 {
            continue;
        }
        span.0 = span.0.min(track.first_ts_ns);
        span.1 = span.1.max(track.last_ts_ns);
        let peer = if other.addresses.contains(src) {
            dst
        } else {
            src
        };
        if let Some(n) = ctx.node_of(*peer).filter(|n| *n != me.node) {
            hb_peers.insert(n.to_string());
        }
        hb_ifaces.insert(*i);
        // Networks for the fix: those with heartbeats, management ones last resort.
        if !ctx.is_management(*i).0 {
            cluster_addresses.extend(other.addresses.iter().filter(|a| !is_link_local(**a)));
        } else {
            mgmt_addresses.extend(other.addresses.iter().filter(|a| !is_link_local(**a)));
        }
        if let Some(c) = crate::merge::attribute::heartbeat_cadence_ns(&track.arrivals) {
            cadence = cadence.max(c);
        }
    }
    if hb_ifaces.is_empty() {
        return None; // no heartbeats anywhere: not shown to be a cluster node
    }
    if cluster_addresses.is_empty() {
        cluster_addresses = mgmt_addresses;
    }
    let cadence = if cadence > 0 { cadence } else { 1_000_000_000 };
    // Heartbeats go out every interval all the time, not only during the
    // migration: over the span they were seen elsewhere in this capture
    // (several intervals, covering the migration), this network would carry
    // them too if the cluster used it.
    if span.1 - span.0 < 5 * cadence || start > span.1 || end < span.0 {
        return None;
    }
    // The migration's peers on this interface, as nodes.
    let lm_peers: BTreeSet<String> = ctx
        .iface_groups(iface)
        .filter(|g| g.role == Role::LiveMigration)
        .flat_map(|g| [g.key.client, g.key.server])
        .flatten()
        .filter(|a| !me.addresses.contains(a))
        .filter_map(|a| ctx.node_of(a).map(str::to_string))
        .filter(|n| *n != me.node)
        .collect();
    let shared: Vec<&String> = lm_peers.intersection(&hb_peers).collect();
    let nets: Vec<String> = hb_ifaces
        .iter()
        .map(|i| ctx.model.ifaces[*i].interface.clone())
        .collect();
    let (with, confidence) = if shared.is_empty() {
        (
            format!("{} exchanges them on {}", me.node, nets.join(", ")),
            0.65,
        )
    } else {
        (
            format!(
                "{} exchanges them with {} on {}",
                me.node,
                shared
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                nets.join(", ")
            ),
            0.8,
        )
    };
    let address = me
        .addresses
        .iter()
        .find(|a| !is_link_local(**a))
        .or(me.addresses.first())
        .map(|a| a.to_string())
        .unwrap_or_else(|| format!("<address of {}>", me.interface));
    Some(OffCluster {
        why: format!(
            "no cluster heartbeats on this network while {with}: the cluster does not use it for its own \
             communication (cluster role None, which is set for iSCSI, backup or other storage networks), \
             yet live migration uses it"
        ),
        evidence: format!(
            "not one UDP/TCP 3343 packet on {} in the {:.0} s the capture shows heartbeats (every {:.0} s) on the \
             node's other NICs, {:.0} s of live migration included; {with}",
            me.interface,
            (span.1 - span.0) as f64 / 1e9,
            cadence as f64 / 1e9,
            (end - start) as f64 / 1e9,
        ),
        confidence,
        address,
        cluster_addresses: cluster_addresses.into_iter().collect(),
    })
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_link_local(),
        IpAddr::V6(v) => (v.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// HVS005: slow live migration, single TCP stream, TCP migration on RDMA NICs.
pub fn throughput(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for iface in &ctx.model.ifaces {
        let lm = ctx.role_bytes(iface.id, Role::LiveMigration);
        if lm < ctx.th.lm_min_bytes {
            continue;
        }
        let Some((start, end)) = ctx.window(iface.id, Role::LiveMigration) else {
            continue;
        };
        let secs = (end - start) as f64 / 1e9;
        let peak = ctx.role_peak_bps(iface.id, Role::LiveMigration);
        let avg = (lm as f64 * 8.0 / secs.max(1e-9)) as u64;
        let tcp_groups: Vec<_> = ctx
            .iface_groups(iface.id)
            .filter(|g| g.role == Role::LiveMigration && g.key.port == 6600)
            .collect();
        let streams: u64 = tcp_groups.iter().map(|g| g.flows).sum();
        let rdma = ctx.inv.and_then(|inv| {
            inv.interface_for_capture(&iface.capture, &iface.capture_if_name)
                .and_then(|r| inv.interface(r).rdma)
        }) == Some(true);
        let link = iface.link_bps.filter(|l| *l > 0);
        let slow = link.is_some_and(|l| (peak as f64) < ctx.th.lm_low_utilisation * l as f64)
            && secs >= ctx.th.lm_min_duration_s;
        let tcp_on_rdma = rdma && !tcp_groups.is_empty();
        if !slow && !tcp_on_rdma {
            continue;
        }
        let mut causes = Vec::new();
        if !tcp_groups.is_empty() && streams <= 1 {
            causes.push(
                "one TCP connection: a TCP migration is bound to one core (about 4.5-5 Gb/s)"
                    .to_string(),
            );
        }
        if tcp_on_rdma {
            causes.push("TCP transport on an RDMA-capable interface: SMB Direct would migrate at line rate with little CPU".into());
        }
        let mut evidence = vec![
            ("peak".into(), human_bps(peak)),
            ("average".into(), human_bps(avg)),
            ("duration".into(), format!("{secs:.0} s")),
            ("TCP 6600 connections".into(), streams.to_string()),
        ];
        if let Some(l) = link {
            evidence.push(("link speed".into(), human_bps(l)));
            evidence.push(("peak share of link".into(), pct(peak as f64 / l as f64)));
        }
        out.push(Finding {
            id: HVS005.id.into(),
            severity: Severity::Medium,
            title: format!(
                "Live migration on {} well below link capacity",
                iface.interface
            ),
            node: Some(iface.node.clone()),
            interface: Some(iface.interface.clone()),
            window_start_ns: Some(start),
            window_end_ns: Some(end),
            summary: format!(
                "Live migration on {} / {} peaked at {}{} over {secs:.0} s.{}",
                iface.node,
                iface.interface,
                human_bps(peak),
                link.map(|l| format!(" of a {} link", human_bps(l)))
                    .unwrap_or_default(),
                if causes.is_empty() {
                    String::new()
                } else {
                    format!(" Likely cause: {}.", causes.join("; "))
                }
            ),
            evidence,
            tshark_filter: Some("tcp.port == 6600".into()),
            remediation: vec![
                "Set-VMHost -VirtualMachineMigrationPerformanceOption SMB".into(),
                "Set-SmbBandwidthLimit -Category LiveMigration -BytesPerSecond 1GB".into(),
            ],
            note: None,
            also: Vec::new(),
        });
    }
}
