//! Before/after comparison of two analyses: per interface x role deltas,
//! findings new / resolved / unchanged.

use crate::Role;
use crate::model::{DiffData, Finding, InterfaceData, ReportData, RoleDelta};

/// Matches interfaces by (node, interface) and roles; findings by id + node + interface.
pub fn diff(before: ReportData, after: ReportData) -> DiffData {
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
            deltas.push(RoleDelta {
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
    let key = |f: &Finding| (f.id.clone(), f.node.clone(), f.interface.clone());
    let findings_new = after
        .findings
        .iter()
        .filter(|f| !before.findings.iter().any(|g| key(g) == key(f)))
        .cloned()
        .collect();
    let findings_resolved = before
        .findings
        .iter()
        .filter(|f| !after.findings.iter().any(|g| key(g) == key(f)))
        .cloned()
        .collect();
    let findings_unchanged = after
        .findings
        .iter()
        .filter(|f| before.findings.iter().any(|g| key(g) == key(f)))
        .cloned()
        .collect();
    DiffData {
        before,
        after,
        deltas,
        findings_new,
        findings_resolved,
        findings_unchanged,
    }
}
