//! What a report shows: the data the binary hands to the chart and report
//! writers. Plain data, serialisable; every string that came from a capture
//! (node, interface, share and file names) must be escaped by the writers.

use serde::{Deserialize, Serialize};

use crate::Role;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    /// All severities, worst first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Lower-case name, as serialised: "critical", "high", ...
    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// One finding: what went wrong, the evidence, the fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. "HVS001".
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub node: Option<String>,
    pub interface: Option<String>,
    /// Time window (Unix ns, UTC) the evidence covers.
    pub window_start_ns: Option<i64>,
    pub window_end_ns: Option<i64>,
    /// One paragraph: what happened and why it matters.
    pub summary: String,
    /// Evidence figures as label/value pairs.
    pub evidence: Vec<(String, String)>,
    /// A tshark/Wireshark display filter that shows the packets.
    pub tshark_filter: Option<String>,
    /// PowerShell commands (real cmdlets and parameters) that fix it.
    pub remediation: Vec<String>,
    /// Caveats, e.g. what a fix does not cover.
    pub note: Option<String>,
    /// Other places the same incident was seen (the same flow captured at both
    /// ends, the same saturation on several nodes' NICs of one network).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Place>,
}

/// A node and, when the finding is about one, its interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub node: String,
    pub interface: Option<String>,
}

impl Finding {
    /// Where: "node1 / mgmt", several places joined with ", ", or "cluster-wide".
    pub fn place(&self) -> String {
        let one = |n: Option<&str>, i: Option<&str>| match (n, i) {
            (Some(n), Some(i)) => format!("{n} / {i}"),
            (Some(n), None) => n.to_string(),
            (None, Some(i)) => i.to_string(),
            (None, None) => "cluster-wide".into(),
        };
        let mut v = vec![one(self.node.as_deref(), self.interface.as_deref())];
        for p in &self.also {
            v.push(one(Some(&p.node), p.interface.as_deref()));
        }
        v.join(", ")
    }

    /// Whether the finding is about this node's interface (its own place or one of `also`).
    pub fn is_at(&self, node: &str, interface: &str) -> bool {
        (self.node.as_deref() == Some(node) && self.interface.as_deref() == Some(interface))
            || self
                .also
                .iter()
                .any(|p| p.node == node && p.interface.as_deref() == Some(interface))
    }
}

/// Throughput of one interface over time, per role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceData {
    pub node: String,
    pub interface: String,
    pub capture: String,
    pub addresses: Vec<String>,
    pub link_bps: Option<u64>,
    pub wire_bytes: u64,
    /// Per role: total bytes and peak bits/s (all six roles, chart order).
    pub roles: Vec<RoleTotal>,
    /// Time buckets: start (Unix ns) and bits per second per role, indexed by `Role::index`.
    pub series: Vec<(i64, [f64; 6])>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleTotal {
    pub role: Role,
    pub bytes: u64,
    pub peak_bps: u64,
}

/// Heartbeat arrivals between two nodes on one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatSeries {
    pub from: String,
    pub to: String,
    pub network: String,
    /// Arrival times (Unix ns) as seen in the capture.
    pub arrivals_ns: Vec<i64>,
}

/// A line of the forensic timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub ts_ns: i64,
    /// "capture", "perfmon", "eventlog", "cluster.log", "finding".
    pub source: String,
    pub node: Option<String>,
    pub text: String,
}

/// Everything one report shows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReportData {
    pub title: String,
    /// Tool name and version.
    pub generator: String,
    /// Input files, as given.
    pub inputs: Vec<String>,
    pub bucket_ns: i64,
    pub findings: Vec<Finding>,
    pub interfaces: Vec<InterfaceData>,
    pub heartbeats: Vec<HeartbeatSeries>,
    pub timeline: Vec<TimelineEvent>,
    /// Inferred facts: (fact, reason, confidence 0..1).
    pub inferred: Vec<(String, String, f32)>,
    /// Damaged inputs (file, offset, what was lost): when not empty the
    /// analysis is partial, and the page says so first.
    #[serde(default)]
    pub damaged_inputs: Vec<String>,
}

/// Before/after comparison of two analyses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiffData {
    pub before: ReportData,
    pub after: ReportData,
    /// Per (node, interface, role): bytes and peak before and after.
    pub deltas: Vec<RoleDelta>,
    pub findings_new: Vec<Finding>,
    pub findings_resolved: Vec<Finding>,
    pub findings_unchanged: Vec<Finding>,
    /// Same finding before and after with different figures: (before, after).
    #[serde(default)]
    pub findings_changed: Vec<(Finding, Finding)>,
    /// Findings of A that B lacks the evidence to judge (B without perfmon
    /// for HVS008/HVS009, without heartbeats for HVS006, without a capture of
    /// the interface), with the reason.
    #[serde(default)]
    pub findings_not_assessable: Vec<(Finding, String)>,
    /// Capture durations (first to last bucket, ns) of A and B: rates compare
    /// windows of different lengths.
    #[serde(default)]
    pub duration_ns: (i64, i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDelta {
    pub node: String,
    pub interface: String,
    pub role: Role,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub peak_bps_before: u64,
    pub peak_bps_after: u64,
    pub link_bps: Option<u64>,
    /// Average rate over each capture's duration (bits/s) and share of the
    /// interface's bytes: comparable across captures of different lengths.
    #[serde(default)]
    pub avg_bps_before: f64,
    #[serde(default)]
    pub avg_bps_after: f64,
    #[serde(default)]
    pub share_before: f64,
    #[serde(default)]
    pub share_after: f64,
}
