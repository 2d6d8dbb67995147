//! Findings: rules over the attributed model that say what went wrong, the
//! evidence and the fix. Each rule has a stable id ([`catalogue`]).

pub mod catalogue;
mod counters;
mod heartbeat;
mod merge;
mod migration;
mod network;
mod remediation;
mod severity;
mod smb;
mod sofs;
pub mod thresholds;

use std::net::IpAddr;

use hvsleuth_reports::{Finding, Role};

use crate::inventory::{Intent, Inventory};
use crate::merge::attribute::{GroupRow, Model};
use thresholds::Thresholds;

/// What the rules look at.
pub struct Ctx<'a> {
    pub model: &'a Model,
    pub inv: Option<&'a Inventory>,
    pub th: &'a Thresholds,
    pub evidence: &'a crate::evidence::Evidence,
    /// The SMB session model's report, when captures had SMB.
    pub smb: Option<&'a hvsleuth_parsers::smb::model::SmbReport>,
    /// Node of every address an interface owns (first interface wins).
    addr_node: std::collections::HashMap<IpAddr, &'a str>,
}

impl Ctx<'_> {
    fn iface_groups(&self, iface: usize) -> impl Iterator<Item = &GroupRow> {
        self.model.iface_groups(iface).iter()
    }

    /// Intents of an interface: the inventory's (interface, then its network), else none.
    fn intents(&self, iface: usize) -> Vec<Intent> {
        let i = &self.model.ifaces[iface];
        let Some(inv) = self.inv else {
            return Vec::new();
        };
        let Some(r) = inv.interface_for_capture(&i.capture, &self.capture_if_name(iface)) else {
            return Vec::new();
        };
        let ii = inv.interface(r);
        if !ii.intended_roles.is_empty() {
            return ii.intended_roles.clone();
        }
        ii.addresses
            .iter()
            .find_map(|a| inv.network_of(a.addr()))
            .map(|n| n.intended_roles.clone())
            .unwrap_or_default()
    }

    fn capture_if_name(&self, iface: usize) -> String {
        self.model.ifaces[iface].capture_if_name.clone()
    }

    /// Whether an interface is for management: by inventory intent, else because
    /// interactive management protocols (RDP, WinRM, SSH) run on it.
    fn is_management(&self, iface: usize) -> (bool, &'static str) {
        let intents = self.intents(iface);
        if !intents.is_empty() {
            return (intents.contains(&Intent::Management), "inventory");
        }
        let interactive = self
            .iface_groups(iface)
            .any(|g| g.role == Role::Management && matches!(g.key.port, 3389 | 5985 | 5986 | 22));
        (interactive, "RDP/WinRM/SSH traffic on it")
    }

    /// The node name owning an address, if any interface has it.
    fn node_of(&self, ip: IpAddr) -> Option<&str> {
        if let Some(inv) = self.inv {
            if let Some(r) = inv.owner_of(ip) {
                return Some(inv.node(r).name.as_str());
            }
        }
        self.addr_node
            .get(&ip)
            .copied()
            .or_else(|| self.model.peer_nodes.get(&ip).map(String::as_str))
    }

    /// First and last signal bucket start (ns) where `role` has bytes on
    /// `iface`: at 1 s resolution whatever the chart bucket.
    fn window(&self, iface: usize, role: Role) -> Option<(i64, i64)> {
        let s = self.model.signal(iface, role);
        let b = self.model.signal_bucket_ns;
        let first = s.iter().find(|(_, c)| c.bytes[0] + c.bytes[1] > 0)?.0;
        let last = s.iter().rev().find(|(_, c)| c.bytes[0] + c.bytes[1] > 0)?.0;
        Some((first * b, (last + 1) * b))
    }

    fn role_bytes(&self, iface: usize, role: Role) -> u64 {
        self.model
            .signal(iface, role)
            .iter()
            .map(|(_, c)| c.bytes[0] + c.bytes[1])
            .sum()
    }

    /// Peak rate of a role over one signal bucket (1 s), not a chart bucket.
    fn role_peak_bps(&self, iface: usize, role: Role) -> u64 {
        let max = self
            .model
            .signal(iface, role)
            .iter()
            .map(|(_, c)| c.bytes[0] + c.bytes[1])
            .max()
            .unwrap_or(0);
        (max as f64 * 8e9 / self.model.signal_bucket_ns as f64) as u64
    }
}

/// Runs every rule; findings sorted by severity, then id, node, interface.
pub fn evaluate(
    model: &Model,
    inv: Option<&Inventory>,
    th: &Thresholds,
    evidence: &crate::evidence::Evidence,
    smb: Option<&hvsleuth_parsers::smb::model::SmbReport>,
) -> Vec<Finding> {
    let mut addr_node = std::collections::HashMap::new();
    for i in &model.ifaces {
        for a in &i.addresses {
            addr_node.entry(*a).or_insert(i.node.as_str());
        }
    }
    let ctx = Ctx {
        model,
        inv,
        th,
        evidence,
        smb,
        addr_node,
    };
    let mut out = Vec::new();
    network::management_bulk(&ctx, &mut out);
    network::saturation(&ctx, &mut out);
    network::tcp_health(&ctx, &mut out);
    sofs::non_owner(&ctx, &mut out);
    migration::unintended_network(&ctx, &mut out);
    migration::throughput(&ctx, &mut out);
    heartbeat::gaps(&ctx, &mut out);
    counters::reconcile(&ctx, &mut out);
    smb::sessions(&ctx, &mut out);
    corroborate(&mut out, evidence);
    severity::explain(&mut out, th);
    out.sort_by(|a, b| {
        (a.severity, &a.id, &a.node, &a.interface, a.window_start_ns).cmp(&(
            b.severity,
            &b.id,
            &b.node,
            &b.interface,
            b.window_start_ns,
        ))
    });
    let mut out = merge::merge(out);
    merge::finish(&mut out);
    out
}

/// Event-log and cluster.log entries that corroborate a finding: same kind of
/// event (by words), within a minute of its window, same node when both say.
fn corroborate(out: &mut [Finding], evidence: &crate::evidence::Evidence) {
    const SLACK_NS: i64 = 60_000_000_000;
    for f in out.iter_mut() {
        let words: &[&str] = match f.id.as_str() {
            "HVS001" | "HVS003" | "HVS009" => &["redirect"],
            "HVS006" => &[
                "isolat",
                "quarantin",
                "removed from",
                "nodedown",
                "routedown",
                "heartbeat",
            ],
            _ => continue,
        };
        let (Some(start), Some(end)) = (f.window_start_ns, f.window_end_ns) else {
            continue;
        };
        let hits: Vec<String> = evidence
            .events
            .iter()
            .filter(|e| {
                e.source != "perfmon" && e.ts_ns >= start - SLACK_NS && e.ts_ns <= end + SLACK_NS
            })
            .filter(|e| {
                let t = e.text.to_ascii_lowercase();
                words.iter().any(|w| t.contains(w))
            })
            .take(3)
            .map(|e| {
                format!(
                    "{} {}: {}",
                    crate::units::format_utc(e.ts_ns),
                    e.node.as_deref().unwrap_or("-"),
                    e.text
                )
            })
            .collect();
        for (i, h) in hits.into_iter().enumerate() {
            f.evidence
                .push((format!("corroborated by event {}", i + 1), h));
        }
    }
}

/// A display filter matching an address as source or destination.
pub fn addr_filter(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("ip.addr == {a}"),
        IpAddr::V6(a) => format!("ipv6.addr == {a}"),
    }
}

pub fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// `hvsleuth rules`: the catalogue, as text or JSON, with the default thresholds.
pub fn print_catalogue(json: bool) -> crate::exit::ExitCode {
    let text = if json {
        let v = serde_json::json!({ "rules": catalogue::ALL, "default_thresholds": Thresholds::default() });
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    } else {
        let mut s = String::new();
        for r in catalogue::ALL {
            s += &format!(
                "{}  {}\n  detects:  {}\n  why:      {}\n  evidence: {}\n  fix:      {}\n  incident: {}\n\n",
                r.id, r.title, r.detects, r.why, r.evidence, r.fix, r.seed
            );
        }
        s += "Default thresholds (override in the inventory's [thresholds] table):\n";
        s += &toml::to_string_pretty(&Thresholds::default()).unwrap_or_default();
        s
    };
    crate::exit::print_stdout(&text)
}
