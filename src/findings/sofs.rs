//! HVS003: a SOFS client on a node that does not own the CSV behind the
//! share (node-to-node redirected IO until it moves), and CSV ownership
//! imbalance. With the inventory's CSV owners and share names, or inferred
//! from the forwarding pattern without them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hvsleuth_reports::{Finding, Role, Severity};

use super::catalogue::HVS003;
use super::{Ctx, addr_filter};
use crate::attribution::rules::Proto;
use crate::merge::attribute::GroupRow;
use crate::units::human_bytes;

/// The node a redirected-IO group carries `a`'s forwarded IO to, if it does.
/// Over SMB (TCP) the non-owner is the SMB client of the owner, for reads
/// and writes alike. NetFT datagrams go UDP 3343 -> 3343 both ways: which
/// end the group key calls the client is only which packet came first, so
/// either end may be the forwarder.
fn forwarded_to<'c>(ctx: &'c Ctx<'_>, r: &GroupRow, a: &str) -> Option<&'c str> {
    let (c, s) = (r.key.client?, r.key.server?);
    let (cn, sn) = (ctx.node_of(c)?, ctx.node_of(s)?);
    let netft = r.key.proto == Proto::Udp && r.key.port == 3343;
    if cn.eq_ignore_ascii_case(a) && !sn.eq_ignore_ascii_case(a) {
        Some(sn)
    } else if netft && sn.eq_ignore_ascii_case(a) && !cn.eq_ignore_ascii_case(a) {
        Some(cn)
    } else {
        None
    }
}

pub fn non_owner(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    inferred_non_owner(ctx, out);
    let Some(inv) = ctx.inv else { return };
    // (client, server, share) seen from any capture, once.
    let mut seen: BTreeSet<(IpAddr, IpAddr, String)> = BTreeSet::new();
    for g in ctx.model.groups.iter().filter(|g| g.role == Role::Storage) {
        let (Some(client), Some(server)) = (g.key.client, g.key.server) else {
            continue;
        };
        let Some(server_node) = ctx.node_of(server) else {
            continue;
        };
        for share in &g.shares {
            let Some(csv) = inv.csv.iter().find(|c| {
                c.share
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(share))
            }) else {
                continue;
            };
            if csv.owner.eq_ignore_ascii_case(server_node)
                || !seen.insert((client, server, share.clone()))
            {
                continue;
            }
            let owner = csv.owner.as_str();
            let client_name = ctx
                .node_of(client)
                .map(str::to_string)
                .unwrap_or_else(|| client.to_string());
            // Redirected IO from the first node to the owner while the client used it.
            let redirected: u64 = ctx
                .model
                .groups
                .iter()
                .filter(|r| r.role == Role::RedirectedIo)
                .filter(|r| {
                    forwarded_to(ctx, r, server_node).is_some_and(|b| b.eq_ignore_ascii_case(owner))
                })
                .filter(|r| r.first_ts_ns <= g.last_ts_ns && r.last_ts_ns >= g.first_ts_ns)
                .map(|r| r.bytes)
                .max()
                .unwrap_or(0);
            // Did the client later talk to the owner for the same share?
            let moved = ctx
                .model
                .groups
                .iter()
                .filter(|r| r.key.client == Some(client) && r.shares.contains(share))
                .filter(|r| {
                    r.key
                        .server
                        .and_then(|s| ctx.node_of(s))
                        .is_some_and(|s| s.eq_ignore_ascii_case(owner))
                })
                .map(|r| r.first_ts_ns)
                .filter(|t| *t >= g.first_ts_ns)
                .min();
            let moved_text = match moved {
                Some(t) => format!(
                    "moved to {owner} after {:.1} s",
                    (t - g.first_ts_ns) as f64 / 1e9
                ),
                None => format!("never moved to {owner} within the capture"),
            };
            out.push(Finding {
                id: HVS003.id.into(),
                severity: if moved.is_some() { Severity::Medium } else { Severity::High },
                title: format!("{client_name} used share {share} through {server_node}, not its owner {owner}"),
                node: Some(server_node.to_string()),
                interface: None,
                window_start_ns: Some(g.first_ts_ns),
                window_end_ns: Some(moved.unwrap_or(g.last_ts_ns)),
                summary: format!(
                    "{client_name} connected to {server_node} for \\\\...\\{share}, whose CSV {} is owned by {owner}. \
                     {} of its IO went to {server_node}{}; the client {moved_text}.",
                    csv.name,
                    human_bytes(g.bytes),
                    if redirected > 0 {
                        format!(", which sent {} of redirected IO to {owner} meanwhile", human_bytes(redirected))
                    } else {
                        String::new()
                    }
                ),
                evidence: vec![
                    ("client".into(), format!("{client_name} ({client})")),
                    ("connected to".into(), format!("{server_node} ({server})")),
                    ("share / CSV / owner".into(), format!("{share} / {} / {owner}", csv.name)),
                    ("bytes to the non-owner".into(), human_bytes(g.bytes)),
                    ("redirected IO non-owner -> owner".into(), human_bytes(redirected)),
                    ("client redirection".into(), moved_text.clone()),
                ],
                tshark_filter: Some(format!("{} && {} && tcp.port == 445", addr_filter(client), addr_filter(server))),
                remediation: vec![
                    "Get-ClusterSharedVolume | Format-Table Name, OwnerNode\nGet-SmbWitnessClient | Format-Table ClientName, FileServerNodeName, NetworkName, ShareName".into(),
                    format!("# keep one CSV per SOFS node and the VMs balanced; or move the CSV to where its clients are\nMove-ClusterSharedVolume -Name \"{}\" -Node {server_node}", csv.name),
                ],
                note: Some("Clients move to the owner through SMB Witness / share redirection (SMB 3.02+ asymmetric shares); a client that never moves points at witness or share settings.".into()),
                also: Vec::new(),
            });
        }
    }
    imbalance(ctx, out);
}

/// Whether the inventory names the CSV behind one of these shares.
fn inventory_knows(ctx: &Ctx<'_>, shares: &[String]) -> bool {
    ctx.inv.is_some_and(|inv| {
        inv.csv.iter().any(|c| {
            c.share
                .as_deref()
                .is_some_and(|s| shares.iter().any(|x| x.eq_ignore_ascii_case(s)))
        })
    })
}

/// HVS003 without the inventory's CSV owners: a host writes (SMB, storage)
/// to node A while A forwards about the same volume as node-to-node
/// redirected IO to node B at the same time: A does not own the volume, B
/// does (a CSV non-owner forwards the IO to the coordinator). Confidence from
/// how closely the volumes and the windows match.
fn inferred_non_owner(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mut seen: BTreeSet<(IpAddr, IpAddr)> = BTreeSet::new();
    let mut storage: Vec<&GroupRow> = ctx
        .model
        .groups
        .iter()
        .filter(|g| g.role == Role::Storage && g.bytes >= ctx.th.mgmt_bulk_min_bytes)
        .collect();
    storage.sort_by_key(|g| std::cmp::Reverse(g.bytes));
    for g in storage {
        let (Some(client), Some(server)) = (g.key.client, g.key.server) else {
            continue;
        };
        if inventory_knows(ctx, &g.shares) || !seen.insert((client, server)) {
            continue;
        }
        let Some(a) = ctx.node_of(server) else {
            continue;
        };
        if ctx.node_of(client) == Some(a) {
            continue;
        }
        // Redirected IO from A to another node, overlapping the client's window.
        let overlap = |r: &GroupRow| {
            let s = r.first_ts_ns.max(g.first_ts_ns);
            let e = r.last_ts_ns.min(g.last_ts_ns);
            (e - s).max(0) as f64 / (g.last_ts_ns - g.first_ts_ns).max(1) as f64
        };
        let mut fwd: BTreeMap<String, (u64, f64)> = BTreeMap::new();
        for r in ctx
            .model
            .groups
            .iter()
            .filter(|r| r.role == Role::RedirectedIo)
        {
            let Some(b) = forwarded_to(ctx, r, a) else {
                continue;
            };
            let o = overlap(r);
            if o < 0.5 {
                continue;
            }
            // The same connection may be in both nodes' captures: keep the largest.
            let e = fwd.entry(b.to_string()).or_default();
            if r.bytes > e.0 {
                *e = (r.bytes, o);
            }
        }
        let Some((owner, (fbytes, o))) = fwd.into_iter().max_by_key(|x| x.1.0) else {
            continue;
        };
        let ratio = fbytes as f64 / g.bytes.max(1) as f64;
        if !(0.5..=2.0).contains(&ratio) {
            continue;
        }
        let confidence = (0.5 + 0.3 * (1.0 - (1.0 - ratio).abs().min(1.0)) + 0.2 * o).min(0.95);
        let client_name = ctx
            .node_of(client)
            .map(str::to_string)
            .unwrap_or_else(|| client.to_string());
        out.push(Finding {
            id: HVS003.id.into(),
            severity: Severity::High,
            title: format!("{client_name} writes through {a}, which forwards it to {owner}: {a} is not the owner"),
            node: Some(a.to_string()),
            interface: None,
            window_start_ns: Some(g.first_ts_ns),
            window_end_ns: Some(g.last_ts_ns),
            summary: format!(
                "{client_name} sent {} of SMB to {a} while {a} sent {} of node-to-node redirected IO to {owner} in \
                 the same window: {a} forwards the IO, so it does not own the volume; {owner} does (inferred from the \
                 traffic, no CSV owner in the inventory; confidence {:.0}%).",
                human_bytes(g.bytes),
                human_bytes(fbytes),
                confidence * 100.0
            ),
            evidence: vec![
                ("client".into(), format!("{client_name} ({client})")),
                ("connected to".into(), format!("{a} ({server})")),
                ("bytes to the non-owner".into(), human_bytes(g.bytes)),
                (format!("redirected IO {a} -> {owner}"), human_bytes(fbytes)),
                ("forwarded / received".into(), format!("{:.2}", ratio)),
                ("window overlap".into(), format!("{:.0}%", o * 100.0)),
                ("owner inferred".into(), format!("{owner} (confidence {:.0}%)", confidence * 100.0)),
            ],
            also: Vec::new(),
            tshark_filter: Some(format!("{} && {} && tcp.port == 445", addr_filter(client), addr_filter(server))),
            remediation: vec![
                "Get-ClusterSharedVolume | Format-Table Name, OwnerNode\nGet-SmbWitnessClient | Format-Table ClientName, FileServerNodeName, NetworkName, ShareName".into(),
                format!("# keep one CSV per SOFS node and the VMs balanced; or move the CSV to where its clients are\nMove-ClusterSharedVolume -Name \"<CSV>\" -Node {a}"),
            ],
            note: Some("The owner is inferred from the forwarding pattern; the inventory's [[csv]] owner makes it certain.".into()),
        });
    }
}

/// CSV ownership imbalance: a node owns several CSVs while a node owns none.
fn imbalance(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let Some(inv) = ctx.inv else { return };
    if inv.csv.len() < 2 || inv.nodes.len() < 2 {
        return;
    }
    let mut owned: BTreeMap<&str, Vec<&str>> = inv
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), Vec::new()))
        .collect();
    for c in &inv.csv {
        if let Some(v) = owned
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&c.owner))
        {
            v.1.push(c.name.as_str());
        }
    }
    let heavy: Vec<_> = owned.iter().filter(|(_, v)| v.len() > 1).collect();
    let idle: Vec<_> = owned
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(n, _)| *n)
        .collect();
    if heavy.is_empty() || idle.is_empty() {
        return;
    }
    out.push(Finding {
        id: HVS003.id.into(),
        severity: Severity::Low,
        title: "CSV ownership is unbalanced".into(),
        node: None,
        interface: None,
        window_start_ns: None,
        window_end_ns: None,
        summary: format!(
            "{} own{} several CSVs while {} own{} none: clients of the busy owners' CSVs that land on other nodes are \
             redirected node to node.",
            heavy.iter().map(|(n, _)| **n).collect::<Vec<_>>().join(", "),
            if heavy.len() == 1 { "s" } else { "" },
            idle.join(", "),
            if idle.len() == 1 { "s" } else { "" }
        ),
        evidence: heavy.iter().map(|(n, v)| (n.to_string(), v.join(", "))).collect(),
        tshark_filter: None,
        remediation: vec![format!(
            "# give {} one of {}'s CSVs\nMove-ClusterSharedVolume -Name {} -Node {}",
            idle[0],
            heavy[0].0,
            super::remediation::ps(heavy[0].1.last().copied().unwrap_or_default()),
            idle[0]
        )],
        note: None,
        also: Vec::new(),
    });
}
