//! The analyze summary: per interface, bytes and peak throughput per role and
//! the share of the link's capacity; what was inferred. Text and JSON.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use hvsleuth_reports::Role;
use serde::Serialize;

use crate::merge::attribute::Model;
use crate::merge::topology::Inferred;
use crate::units::{human_bps, human_bytes};

#[derive(Debug, Serialize)]
pub struct RoleFigures {
    pub bytes: u64,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    /// Highest throughput over one time bucket, bits per second.
    pub peak_bps: u64,
    /// `peak_bps` as a fraction of the link speed, when known.
    pub peak_utilisation: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct IfaceSummary {
    pub node: String,
    pub interface: String,
    pub capture: String,
    pub capture_interface: u32,
    pub addresses: Vec<String>,
    pub link_bps: Option<u64>,
    pub from_inventory: bool,
    pub wire_bytes: u64,
    /// Every role, including those with 0 bytes.
    pub roles: BTreeMap<Role, RoleFigures>,
    /// Highest total throughput over one bucket, bits per second.
    pub peak_bps: u64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    /// Some input was damaged or unreadable: the analysis covers what could be read.
    pub partial: bool,
    /// What was damaged, one line per place (file, byte offset, what was lost).
    pub damaged_inputs: Vec<String>,
    pub bucket_ns: i64,
    /// Findings, most severe first.
    pub findings: Vec<hvsleuth_reports::Finding>,
    pub interfaces: Vec<IfaceSummary>,
    pub inferred: Vec<Inferred>,
    /// Clock skew between captures, estimated from TCP segments seen in both
    /// (already applied to every time figure).
    pub skew: Vec<crate::merge::skew::Skew>,
    /// Per node and interface: perfmon NIC bytes against captured bytes.
    pub reconciliation: Vec<crate::merge::reconcile::Reconciled>,
    /// Captures whose conversation table was full (`--max-flows`, one budget
    /// for the captures read in parallel): evicted conversations keep their
    /// bytes, but one seen again restarts reassembly mid-stream.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flow_evictions: Vec<FlowEvictions>,
}

/// Conversations one capture had to evict before their idle timeout.
#[derive(Debug, Serialize)]
pub struct FlowEvictions {
    pub input: String,
    pub evicted: u64,
    /// Of them, forced by the budget shared with other captures.
    pub for_shared_budget: u64,
}

impl Summary {
    pub fn new(
        m: &Model,
        inferred: Vec<Inferred>,
        findings: Vec<hvsleuth_reports::Finding>,
    ) -> Summary {
        let bucket_s = m.bucket_ns as f64 / 1e9;
        let bps = |bytes: u64| (bytes as f64 * 8.0 / bucket_s).round() as u64;
        let interfaces = m
            .ifaces
            .iter()
            .map(|i| {
                let per_role = &m.series[i.id];
                let mut roles = BTreeMap::new();
                let mut totals: BTreeMap<i64, u64> = BTreeMap::new();
                for r in Role::ALL {
                    let s = &per_role[r.index()];
                    let tx: u64 = s.iter().map(|(_, c)| c.bytes[0]).sum();
                    let rx: u64 = s.iter().map(|(_, c)| c.bytes[1]).sum();
                    let peak = s
                        .iter()
                        .map(|(_, c)| c.bytes[0] + c.bytes[1])
                        .max()
                        .unwrap_or(0);
                    for (b, c) in s {
                        *totals.entry(*b).or_default() += c.bytes[0] + c.bytes[1];
                    }
                    roles.insert(
                        r,
                        RoleFigures {
                            bytes: tx + rx,
                            tx_bytes: tx,
                            rx_bytes: rx,
                            peak_bps: bps(peak),
                            peak_utilisation: i
                                .link_bps
                                .filter(|l| *l > 0)
                                .map(|l| bps(peak) as f64 / l as f64),
                        },
                    );
                }
                IfaceSummary {
                    node: i.node.clone(),
                    interface: i.interface.clone(),
                    capture: i.capture.clone(),
                    capture_interface: i.capture_index,
                    addresses: i.addresses.iter().map(|a| a.to_string()).collect(),
                    link_bps: i.link_bps,
                    from_inventory: i.from_inventory,
                    wire_bytes: m.iface_wire[i.id],
                    roles,
                    peak_bps: bps(totals.values().copied().max().unwrap_or(0)),
                }
            })
            .collect();
        Summary {
            partial: false,
            damaged_inputs: Vec::new(),
            bucket_ns: m.bucket_ns,
            findings,
            interfaces,
            inferred,
            skew: Vec::new(),
            reconciliation: Vec::new(),
            flow_evictions: Vec::new(),
        }
    }

    /// The terminal summary: the verdict, then one line per finding with its
    /// severity, place and time window and the first fix block in full
    /// (indented by [`FIX_INDENT`]), then the interfaces. `colour` adds ANSI
    /// colour to severities (only for a terminal, see [`colour_stdout`]).
    pub fn render_text_styled(&self, colour: bool) -> String {
        use hvsleuth_reports::escape::terminal as t;
        use std::fmt::Write;
        let paint = |sev: hvsleuth_reports::Severity, text: &str| -> String {
            if !colour {
                return text.to_string();
            }
            let code = match sev {
                hvsleuth_reports::Severity::Critical => "1;31",
                hvsleuth_reports::Severity::High => "31",
                hvsleuth_reports::Severity::Medium => "33",
                hvsleuth_reports::Severity::Low => "36",
                hvsleuth_reports::Severity::Info => "2",
            };
            format!("\x1b[{code}m{text}\x1b[0m")
        };
        let mut s = String::new();
        if self.partial {
            let _ = writeln!(
                s,
                "PARTIAL ANALYSIS: some inputs were damaged or unreadable:"
            );
            for d in &self.damaged_inputs {
                let _ = writeln!(s, "  {}", t(d));
            }
            let _ = writeln!(s);
        }
        for e in &self.flow_evictions {
            let _ = writeln!(
                s,
                "note: {}: {} conversations evicted from a full flow table ({} for the budget shared \
                 with captures read at the same time); their bytes are counted, reassembly restarts \
                 if they are seen again (raise --max-flows)\n",
                t(&e.input),
                e.evicted,
                e.for_shared_budget
            );
        }
        if self.findings.is_empty() {
            let _ = writeln!(s, "No findings.\n");
        } else {
            if let Some(v) = hvsleuth_reports::verdict::verdict(&self.findings) {
                let head = if colour {
                    "\x1b[1mVerdict:\x1b[0m"
                } else {
                    "Verdict:"
                };
                let _ = writeln!(s, "{head} {}\n", t(&v));
            }
            let _ = writeln!(s, "Findings ({}):", self.findings.len());
            for f in &self.findings {
                let sev = format!("{:<8}", f.severity.name().to_uppercase());
                let _ = writeln!(
                    s,
                    "  {} {} {} [{}] {}",
                    paint(f.severity, &sev),
                    f.id,
                    t(&f.title),
                    t(&f.place()),
                    hvsleuth_reports::units::utc_window(f.window_start_ns, f.window_end_ns)
                );
                if let Some(fix) = f.remediation.first() {
                    let mut lines = fix.lines();
                    if let Some(first) = lines.next() {
                        let _ = writeln!(s, "{FIX_HEAD}{}", t(first));
                    }
                    for l in lines {
                        let _ = writeln!(s, "{FIX_INDENT}{}", t(l));
                    }
                }
            }
            let _ = writeln!(s);
        }
        for i in &self.interfaces {
            let link = i
                .link_bps
                .map(human_bps)
                .unwrap_or_else(|| "link speed unknown".into());
            let _ = writeln!(
                s,
                "{} / {}  ({}#{}; {}; {} total, peak {})",
                t(&i.node),
                t(&i.interface),
                t(&i.capture),
                i.capture_interface,
                link,
                human_bytes(i.wire_bytes),
                human_bps(i.peak_bps)
            );
            for (r, f) in &i.roles {
                if f.bytes == 0 {
                    continue;
                }
                let share = 100.0 * f.bytes as f64 / i.wire_bytes.max(1) as f64;
                let util = f
                    .peak_utilisation
                    .map(|u| format!(" ({:.0}% of link)", u * 100.0))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {:<15} {:>10} {:>5.1}%  peak {}{}",
                    r.name(),
                    human_bytes(f.bytes),
                    share,
                    human_bps(f.peak_bps),
                    util
                );
            }
        }
        if !self.reconciliation.is_empty() {
            let _ = writeln!(s, "perfmon NIC bytes vs captured bytes (same window):");
            for r in &self.reconciliation {
                let ratio = r
                    .ratio
                    .map(|x| format!("{:.1}%", x * 100.0))
                    .unwrap_or_else(|| "-".into());
                let _ = writeln!(
                    s,
                    "  {} / {}: counters {}, capture {} ({ratio})",
                    t(&r.node),
                    t(&r.interface),
                    human_bytes(r.counter_bytes),
                    human_bytes(r.capture_bytes)
                );
            }
        }
        if !self.skew.is_empty() {
            let _ = writeln!(s, "clock skew (applied):");
            for k in &self.skew {
                let _ = writeln!(
                    s,
                    "  {} is {:+.3} ms from {} ({} segments{})",
                    t(&k.capture),
                    k.skew_ns as f64 / 1e6,
                    t(&k.reference),
                    k.samples,
                    k.one_way_delay_ns
                        .map(|d| format!(", one-way delay {:.3} ms", d as f64 / 1e6))
                        .unwrap_or_default()
                );
            }
        }
        let conflicts: Vec<_> = self.inferred.iter().filter(|f| f.conflict).collect();
        if !conflicts.is_empty() {
            let _ = writeln!(
                s,
                "CONFLICTS in what was inferred ({}): correct them in an inventory",
                conflicts.len()
            );
            for f in conflicts {
                let _ = writeln!(s, "  ! {} — {}", t(&f.fact), t(&f.reason));
            }
        }
        if !self.inferred.is_empty() {
            let _ = writeln!(s, "inferred:");
            for f in &self.inferred {
                let _ = writeln!(
                    s,
                    "  {} — {} (confidence {:.0}%)",
                    t(&f.fact),
                    t(&f.reason),
                    f.confidence * 100.0
                );
            }
        }
        s
    }
}

/// The prefix of a finding's first fix line in the terminal summary, and of the lines after it.
pub const FIX_HEAD: &str = "           fix: ";
pub const FIX_INDENT: &str = "                ";

/// Colour on stdout: only when it is a terminal and NO_COLOR is unset or empty
/// (https://no-color.org).
pub fn colour_stdout() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Writes what was placed and inferred as an inventory to correct and re-use.
pub fn write_inventory(path: &Path, m: &Model, inferred: &[Inferred]) -> Result<()> {
    use crate::inventory::{CaptureRef, Interface, Inventory, Node};
    let mut inv = Inventory::default();
    for i in &m.ifaces {
        let node = match inv.nodes.iter_mut().position(|n| n.name == i.node) {
            Some(p) => &mut inv.nodes[p],
            None => {
                inv.nodes.push(Node {
                    name: i.node.clone(),
                    interfaces: Vec::new(),
                });
                inv.nodes.last_mut().expect("just pushed")
            }
        };
        node.interfaces.push(Interface {
            alias: i.interface.clone(),
            network: None,
            addresses: i
                .addresses
                .iter()
                .filter_map(|a| ipnet::IpNet::new(*a, if a.is_ipv4() { 24 } else { 64 }).ok())
                .collect(),
            mac: None,
            link_speed_bps: i.link_bps,
            intended_roles: Vec::new(),
            rdma: None,
            capture: Some(CaptureRef {
                file: i.capture.clone(),
                interface: Some(i.interface.clone()),
            }),
        });
    }
    // Conflicts and undecided facts first, as comments to resolve by hand.
    let mut marks = String::new();
    for f in inferred.iter().filter(|f| f.conflict) {
        marks += &format!("# CONFLICT: {} ({})\n", f.fact, f.reason)
            .replace('\n', " ")
            .replace("  ", " ");
        marks.push('\n');
    }
    let text = format!(
        "# Inferred by hvsleuth analyze: prefixes (/24, /64) and roles are guesses; correct them\n# and re-run with --inventory.\n{marks}{}",
        toml::to_string_pretty(&inv).context("serialising the inventory")?
    );
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {}
}
