//! Live-migration rules: unintended network (HVS004), throughput far below
//! the link, single stream, TCP on RDMA NICs (HVS005).

use hvsleuth_reports::{Finding, Role, Severity};

use super::catalogue::{HVS004, HVS005};
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
        // Sharing the heartbeat network: a note unless already unintended.
        // Sharing the heartbeat network, unless the inventory means it for live migration.
        let heartbeats = ctx
            .iface_groups(iface.id)
            .any(|g| g.role == Role::Cluster && g.key.port == 3343)
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
            evidence: vec![
                ("live-migration bytes".into(), human_bytes(lm)),
                ("peak".into(), human_bps(peak)),
                ("why it is unintended".into(), why),
                (
                    "classified as".into(),
                    top.map(|g| g.reason.clone()).unwrap_or_default(),
                ),
            ],
            tshark_filter: top.and_then(|g| {
                Some(format!(
                    "{} && tcp.port == {}",
                    addr_filter(g.key.server?),
                    g.key.port
                ))
            }),
            remediation: super::remediation::lm_only_on_intended(ctx),
            note: None,
            also: Vec::new(),
        });
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
