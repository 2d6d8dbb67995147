//! Builds the report data (what charts and pages show) from the attributed
//! model, and stores it in the output directory for `report` and `diff`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use hvsleuth_reports::Role;
use hvsleuth_reports::model::{
    HeartbeatSeries, InterfaceData, ReportData, RoleTotal, TimelineEvent,
};

use super::summary::Summary;
use crate::merge::attribute::Model;

/// Name of the stored report data in an output directory.
pub const DATA_FILE: &str = "report_data.json";
/// Most heartbeat series drawn (the ones with the longest silences first).
const MAX_HB_SERIES: usize = 24;

pub fn build(
    model: &Model,
    summary: &Summary,
    inputs: &[String],
    evidence: &crate::evidence::Evidence,
) -> ReportData {
    let bucket_s = model.bucket_ns as f64 / 1e9;
    let interfaces = model
        .ifaces
        .iter()
        .zip(&summary.interfaces)
        .map(|(i, s)| {
            // Dense series from the interface's first to last bucket.
            let mut by_bucket: BTreeMap<i64, [f64; 6]> = BTreeMap::new();
            for r in Role::ALL {
                for (b, c) in &model.series[i.id][r.index()] {
                    by_bucket.entry(*b).or_default()[r.index()] +=
                        (c.bytes[0] + c.bytes[1]) as f64 * 8.0 / bucket_s;
                }
            }
            let series = match (by_bucket.keys().next(), by_bucket.keys().next_back()) {
                (Some(&first), Some(&last)) if last - first < 2_000_000 => (first..=last)
                    .map(|b| {
                        (
                            b * model.bucket_ns,
                            by_bucket.get(&b).copied().unwrap_or_default(),
                        )
                    })
                    .collect(),
                _ => by_bucket
                    .into_iter()
                    .map(|(b, v)| (b * model.bucket_ns, v))
                    .collect(),
            };
            InterfaceData {
                node: i.node.clone(),
                interface: i.interface.clone(),
                capture: format!("{}#{}", i.capture, i.capture_index),
                addresses: i.addresses.iter().map(|a| a.to_string()).collect(),
                link_bps: i.link_bps,
                wire_bytes: s.wire_bytes,
                roles: Role::ALL
                    .iter()
                    .map(|r| {
                        let f = &s.roles[r];
                        RoleTotal {
                            role: *r,
                            bytes: f.bytes,
                            peak_bps: f.peak_bps,
                        }
                    })
                    .collect(),
                series,
            }
        })
        .collect();

    let name_of = |ip: std::net::IpAddr| {
        model
            .ifaces
            .iter()
            .find(|i| i.addresses.contains(&ip))
            .map(|i| i.node.clone())
            .unwrap_or_else(|| ip.to_string())
    };
    let mut hb: Vec<(usize, HeartbeatSeries)> = model
        .heartbeats
        .iter()
        .map(|(iface, src, dst, t)| {
            let i = &model.ifaces[*iface];
            (
                t.gaps.len(),
                HeartbeatSeries {
                    from: name_of(*src),
                    to: name_of(*dst),
                    network: format!("{} / {}", i.node, i.interface),
                    arrivals_ns: t.arrivals.clone(),
                },
            )
        })
        .collect();
    hb.sort_by(|a, b| {
        b.0.cmp(&a.0).then_with(|| {
            (&a.1.from, &a.1.to, &a.1.network).cmp(&(&b.1.from, &b.1.to, &b.1.network))
        })
    });
    hb.truncate(MAX_HB_SERIES);

    let mut timeline: Vec<TimelineEvent> = summary
        .findings
        .iter()
        // Info findings are caveats (attribution, counters), not events: they
        // stay in the findings list, off the timeline.
        .filter(|f| f.severity < hvsleuth_reports::Severity::Info)
        .filter_map(|f| {
            Some(TimelineEvent {
                ts_ns: f.window_start_ns?,
                source: "finding".into(),
                node: f.node.clone(),
                text: format!("{} {} {}", f.severity.name().to_uppercase(), f.id, f.title),
            })
        })
        .collect();
    timeline.extend(evidence.events.iter().cloned());
    timeline.sort_by_key(|e| e.ts_ns);

    ReportData {
        title: format!("hvsleuth report: {} input file(s)", inputs.len()),
        generator: format!("hvsleuth {}", env!("CARGO_PKG_VERSION")),
        inputs: inputs.to_vec(),
        bucket_ns: model.bucket_ns,
        findings: summary.findings.clone(),
        interfaces,
        heartbeats: hb.into_iter().map(|x| x.1).collect(),
        timeline,
        inferred: summary
            .inferred
            .iter()
            .map(|f| {
                let fact = if f.conflict {
                    format!("CONFLICT: {}", f.fact)
                } else {
                    f.fact.clone()
                };
                (fact, f.reason.clone(), f.confidence)
            })
            .collect(),
        damaged_inputs: summary.damaged_inputs.clone(),
    }
}

/// Writes the report pages and the stored data into `dir`.
pub fn write(dir: &Path, data: &ReportData) -> Result<hvsleuth_reports::Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_string(data)?;
    std::fs::write(dir.join(DATA_FILE), json)
        .with_context(|| format!("{}", dir.join(DATA_FILE).display()))?;
    hvsleuth_reports::write_report_dir(dir, data)
}

/// Loads the report data stored by an earlier `analyze --out DIR`.
pub fn load(dir: &Path) -> Result<ReportData> {
    let p = dir.join(DATA_FILE);
    let text = std::fs::read_to_string(&p)
        .with_context(|| format!("{}: no stored analysis", p.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a hvsleuth report data file", p.display()))
}
