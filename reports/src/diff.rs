//! Before/after comparison of two analyses: per interface x role deltas as
//! rates and shares (captures of different lengths compare by rate, not by
//! totals), findings new / resolved / changed / unchanged, and "not
//! assessable" where B lacks the evidence to judge a finding of A.

use crate::Role;
use crate::model::{DiffData, Finding, InterfaceData, ReportData, RoleDelta};

/// First to last bucket end over every interface of an analysis (ns).
pub fn duration_ns(d: &ReportData) -> i64 {
    let first = d
        .interfaces
        .iter()
        .filter_map(|f| f.series.first())
        .map(|x| x.0)
        .min();
    let last = d
        .interfaces
        .iter()
        .filter_map(|f| f.series.last())
        .map(|x| x.0)
        .max();
    match (first, last) {
        (Some(a), Some(b)) => b - a + d.bucket_ns.max(1),
        _ => 0,
    }
}

/// The places of a finding: (node, interface) of its own and of `also`.
fn places(f: &Finding) -> Vec<(Option<String>, Option<String>)> {
    std::iter::once((f.node.clone(), f.interface.clone()))
        .chain(
            f.also
                .iter()
                .map(|p| (Some(p.node.clone()), p.interface.clone())),
        )
        .collect()
}

/// Same finding: same rule, and a place in common.
fn same(a: &Finding, b: &Finding) -> bool {
    a.id == b.id && places(a).iter().any(|p| places(b).contains(p))
}

/// Why B cannot judge finding `f` of A, if it cannot.
fn not_assessable(f: &Finding, after: &ReportData) -> Option<String> {
    let perfmon = after.timeline.iter().any(|e| e.source == "perfmon")
        || after.inputs.iter().any(|i| {
            i.to_ascii_lowercase().contains("perfmon") || i.to_ascii_lowercase().ends_with(".csv")
        });
    match f.id.as_str() {
        "HVS008" | "HVS009" if !perfmon => {
            return Some(
                "B has no perfmon counters: RDMA and CSV redirected IO counters cannot be judged"
                    .into(),
            );
        }
        "HVS006" if after.heartbeats.is_empty() => {
            return Some("B has no cluster heartbeats (UDP 3343) to judge silences by".into());
        }
        _ => {}
    }
    let captured = |node: &Option<String>, iface: &Option<String>| match (node, iface) {
        (Some(n), Some(i)) => after
            .interfaces
            .iter()
            .any(|x| &x.node == n && &x.interface == i),
        (Some(n), None) => after.interfaces.iter().any(|x| &x.node == n),
        _ => !after.interfaces.is_empty(),
    };
    if !places(f).iter().any(|(n, i)| captured(n, i)) {
        return Some(format!("B has no capture of {}", f.place()));
    }
    None
}

/// Matches interfaces by (node, interface) and roles; findings by id and a common place.
pub fn diff(before: ReportData, after: ReportData) -> DiffData {
    let dur = (duration_ns(&before), duration_ns(&after));
    let rate = |bytes: u64, ns: i64| {
        if ns > 0 {
            bytes as f64 * 8e9 / ns as f64
        } else {
            0.0
        }
    };
    let mut deltas = Vec::new();
    let get = |d: &ReportData, node: &str, name: &str| {
        d.interfaces
            .iter()
            .find(|f| f.node == node && f.interface == name)
            .cloned()
    };
    let mut keys: Vec<(String, String)> = Vec::new();
    for f in before.interfaces.iter().chain(&after.interfaces) {
        let k = (f.node.clone(), f.interface.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (node, name) in keys {
        let b = get(&before, &node, &name);
        let a = get(&after, &node, &name);
        for role in Role::ALL {
            let rt = |f: &Option<InterfaceData>| {
                f.as_ref().and_then(|f| {
                    f.roles
                        .iter()
                        .find(|r| r.role == role)
                        .map(|r| (r.bytes, r.peak_bps))
                })
            };
            let (bb, bp) = rt(&b).unwrap_or((0, 0));
            let (ab, ap) = rt(&a).unwrap_or((0, 0));
            if bb == 0 && ab == 0 {
                continue;
            }
            let wire =
                |f: &Option<InterfaceData>| f.as_ref().map_or(0, |f| f.wire_bytes).max(1) as f64;
            deltas.push(RoleDelta {
                avg_bps_before: rate(bb, dur.0),
                avg_bps_after: rate(ab, dur.1),
                share_before: bb as f64 / wire(&b),
                share_after: ab as f64 / wire(&a),
                node: node.clone(),
                interface: name.clone(),
                role,
                bytes_before: bb,
                bytes_after: ab,
                peak_bps_before: bp,
                peak_bps_after: ap,
                link_bps: a
                    .as_ref()
                    .and_then(|f| f.link_bps)
                    .or(b.as_ref().and_then(|f| f.link_bps)),
            });
        }
    }
    let findings_new = after
        .findings
        .iter()
        .filter(|f| !before.findings.iter().any(|g| same(g, f)))
        .cloned()
        .collect();
    let mut findings_resolved = Vec::new();
    let mut findings_not_assessable = Vec::new();
    for f in &before.findings {
        if after.findings.iter().any(|g| same(f, g)) {
            continue;
        }
        match not_assessable(f, &after) {
            Some(why) => findings_not_assessable.push((f.clone(), why)),
            None => findings_resolved.push(f.clone()),
        }
    }
    let mut findings_unchanged = Vec::new();
    let mut findings_changed = Vec::new();
    for f in &after.findings {
        let Some(g) = before.findings.iter().find(|g| same(g, f)) else {
            continue;
        };
        if g.title != f.title || g.severity != f.severity {
            findings_changed.push((g.clone(), f.clone()));
        } else {
            findings_unchanged.push(f.clone());
        }
    }
    DiffData {
        before,
        after,
        deltas,
        findings_new,
        findings_resolved,
        findings_unchanged,
        findings_changed,
        findings_not_assessable,
        duration_ns: dur,
    }
}
