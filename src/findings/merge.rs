//! One finding per incident. The rules fire per interface or per silence; an
//! engineer wants one card per thing that happened:
//! - the same rule with the same title over overlapping windows on several
//!   places (the flow captured at both ends, one saturation on the NICs of one
//!   network) is one finding listing every place; evidence that differs
//!   between places is kept per place;
//! - repeated heartbeat silences of one node (same node, same kind) are one
//!   HVS006 listing each window with its time and length.

use hvsleuth_reports::{Finding, Place};

/// Whether two windows are the same incident's: starts and ends each within
/// 2 s or 5% of the shorter window (once clock skew is applied, both ends
/// of one flow see it within a bucket or two).
fn overlapping(a: &Finding, b: &Finding) -> bool {
    let (Some(s1), Some(e1), Some(s2), Some(e2)) = (
        a.window_start_ns,
        a.window_end_ns,
        b.window_start_ns,
        b.window_end_ns,
    ) else {
        return a.window_start_ns.is_none() && b.window_start_ns.is_none();
    };
    let tol = ((e1 - s1).min(e2 - s2) / 20).max(2_000_000_000);
    (s1 - s2).abs() <= tol && (e1 - e2).abs() <= tol
}

fn place_of(f: &Finding) -> String {
    match (&f.node, &f.interface) {
        (Some(n), Some(i)) => format!("{n} / {i}"),
        (Some(n), None) => n.clone(),
        _ => "cluster-wide".into(),
    }
}

/// The kind of a heartbeat silence: its title up to " for " ("No heartbeats
/// from node2 (all networks)"); None for other HVS006 findings (quarantine).
fn silence_kind(f: &Finding) -> Option<&str> {
    if f.id != "HVS006" || !f.title.starts_with("No heartbeats from ") {
        return None;
    }
    f.title.rsplit_once(" for ").map(|(k, _)| k)
}

/// Merges findings of one incident; `list` is sorted worst first, and the
/// first of a group (the worst) keeps its place.
pub fn merge(list: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(list.len());
    // Silences merged into out[i]: (start, end, length/missed text) each.
    let mut silences: Vec<Vec<(i64, i64, String)>> = Vec::new();
    for f in list {
        if let Some(kind) = silence_kind(&f) {
            if let Some(i) = out
                .iter()
                .position(|g| g.node == f.node && silence_kind(g) == Some(kind))
            {
                silences[i].push(silence_entry(&f));
                continue;
            }
            out.push(f);
            let e = silence_entry(out.last().expect("just pushed"));
            silences.push(vec![e]);
            continue;
        }
        let same = out.iter().position(|g| {
            g.id == f.id
                && g.title == f.title
                && place_of(g) != place_of(&f)
                && !g
                    .also
                    .iter()
                    .any(|p| Some(&p.node) == f.node.as_ref() && p.interface == f.interface)
                && overlapping(g, &f)
        });
        match same {
            Some(i) => absorb(&mut out[i], f),
            None => {
                out.push(f);
                silences.push(Vec::new());
            }
        }
    }
    for (f, s) in out.iter_mut().zip(silences) {
        if s.len() > 1 {
            fold_silences(f, s);
        }
    }
    into_quarantine(out)
}

/// A node's quarantine finding takes in its node-wide silences: one card
/// with every window, the quarantine's severity and both fixes.
fn into_quarantine(mut out: Vec<Finding>) -> Vec<Finding> {
    let mut i = 0;
    while i < out.len() {
        let f = &out[i];
        let is_node_wide = f.id == "HVS006"
            && f.title.starts_with("No heartbeats from ")
            && f.title.contains("(all networks)");
        let q = is_node_wide
            .then(|| {
                out.iter().position(|g| {
                    g.id == "HVS006" && g.node == f.node && g.title.contains("quarantine")
                })
            })
            .flatten();
        let Some(q) = q else {
            i += 1;
            continue;
        };
        let f = out.remove(i);
        let q = if q > i { q - 1 } else { q };
        let g = &mut out[q];
        let silences: Vec<_> = f
            .evidence
            .iter()
            .filter(|(k, _)| k.starts_with("silence") || k == "more silences")
            .cloned()
            .collect();
        if !silences.is_empty() {
            g.evidence.retain(|(k, _)| !k.starts_with("failure "));
            let rest = std::mem::take(&mut g.evidence);
            g.evidence = silences;
            g.evidence.extend(rest);
        }
        for r in f.remediation {
            if !g.remediation.contains(&r) {
                g.remediation.push(r);
            }
        }
        if let (Some(a), Some(b)) = (f.window_start_ns, g.window_start_ns) {
            g.window_start_ns = Some(a.min(b));
        }
        if let (Some(a), Some(b)) = (f.window_end_ns, g.window_end_ns) {
            g.window_end_ns = Some(a.max(b));
        }
    }
    out
}

/// Adds `f`'s place to `g` and the evidence figures that differ, labelled with the place.
fn absorb(g: &mut Finding, f: Finding) {
    let place = place_of(&f);
    name_every_node(g, &f);
    if let Some(node) = f.node.clone() {
        g.also.push(Place {
            node,
            interface: f.interface.clone(),
        });
    }
    let first = place_of(g);
    let mut extra = Vec::new();
    for (k, v) in f.evidence {
        if k.starts_with("corroborated by event") {
            if !g.evidence.iter().any(|(_, gv)| *gv == v) {
                extra.push((k, v));
            }
            continue;
        }
        match g.evidence.iter().position(|(gk, _)| *gk == k) {
            Some(p) if g.evidence[p].1 == v => {}
            Some(p) => {
                // Label the first place's value too, once.
                if g.evidence[p].0 == k {
                    g.evidence[p].0 = format!("{k} ({first})");
                }
                extra.push((format!("{k} ({place})"), v));
            }
            None => extra.push((format!("{k} ({place})"), v)),
        }
    }
    g.evidence.extend(extra);
    g.window_start_ns = match (g.window_start_ns, f.window_start_ns) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    g.window_end_ns = match (g.window_end_ns, f.window_end_ns) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    // The sentence is closed by [`finish`] once every place is in.
    if g.summary.contains("The same was seen on") {
        g.summary.push_str(", ");
    } else {
        g.summary.push_str(" The same was seen on ");
    }
    g.summary.push_str(&place);
}

/// A fix block that is the same command for each node but starts with
/// `# on NODE:` names every node it now covers (`# on node1, node3:`).
fn name_every_node(g: &mut Finding, f: &Finding) {
    let (Some(gn), Some(fnode)) = (g.node.as_deref(), f.node.as_deref()) else {
        return;
    };
    if gn == fnode {
        return;
    }
    let body = |b: &str| {
        b.split_once('\n')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default()
    };
    for fb in &f.remediation {
        let Some(frest) = fb.strip_prefix(&format!("# on {fnode}")) else {
            continue;
        };
        let Some((_, ftail)) = frest.split_once(':') else {
            continue;
        };
        let ftail = ftail.split('\n').next().unwrap_or_default();
        for gb in &mut g.remediation {
            let Some((head, _)) = gb.split_once('\n') else {
                continue;
            };
            let Some((nodes, gtail)) = head.strip_prefix("# on ").and_then(|h| h.split_once(':'))
            else {
                continue;
            };
            if gtail != ftail || body(gb) != body(fb) || nodes.split(", ").any(|n| n == fnode) {
                continue;
            }
            if nodes.split(", ").any(|n| n == gn) {
                *gb = format!("# on {nodes}, {fnode}:{gtail}\n{}", body(gb));
            }
            break;
        }
    }
}

fn silence_entry(f: &Finding) -> (i64, i64, String) {
    let what = f
        .title
        .rsplit_once(" for ")
        .map(|(_, w)| w.to_string())
        .unwrap_or_default();
    (
        f.window_start_ns.unwrap_or(0),
        f.window_end_ns.unwrap_or(0),
        what,
    )
}

/// Turns one silence finding into the finding of all the node's silences of that kind.
fn fold_silences(f: &mut Finding, mut s: Vec<(i64, i64, String)>) {
    s.sort_by_key(|x| x.0);
    let kind = silence_kind(f).unwrap_or("No heartbeats").to_string();
    let longest = s
        .iter()
        .max_by_key(|x| x.1 - x.0)
        .map(|x| (x.1 - x.0) as f64 / 1e9)
        .unwrap_or(0.0);
    f.title = format!("{kind}: {} silences, longest {longest:.1} s", s.len());
    f.window_start_ns = s.first().map(|x| x.0);
    f.window_end_ns = s.iter().map(|x| x.1).max();
    f.evidence.retain(|(k, _)| {
        !matches!(
            k.as_str(),
            "last heartbeat before" | "first heartbeat after" | "silence"
        )
    });
    let listed: Vec<(String, String)> = s
        .iter()
        .take(50)
        .enumerate()
        .map(|(i, (a, b, what))| {
            (
                format!("silence {}", i + 1),
                format!(
                    "{}: {what}",
                    hvsleuth_reports::units::utc_window(Some(*a), Some(*b))
                ),
            )
        })
        .collect();
    let more = s.len().saturating_sub(50);
    let mut ev = listed;
    if more > 0 {
        ev.push(("more silences".into(), format!("{more} not listed")));
    }
    ev.append(&mut f.evidence);
    f.evidence = ev;
    f.summary = format!(
        "{} {} times (listed below with their times). The first: {}",
        kind,
        s.len(),
        f.summary
    );
}

/// Closes the "The same was seen on ..." sentences the merge opened.
pub fn finish(list: &mut [Finding]) {
    for f in list {
        if f.summary.contains("The same was seen on") && !f.summary.ends_with('.') {
            f.summary.push('.');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvsleuth_reports::Severity;

    fn f(id: &str, title: &str, node: &str, iface: Option<&str>, w: (i64, i64)) -> Finding {
        Finding {
            id: id.into(),
            severity: Severity::High,
            title: title.into(),
            node: Some(node.into()),
            interface: iface.map(str::to_string),
            window_start_ns: Some(w.0),
            window_end_ns: Some(w.1),
            summary: "s.".into(),
            evidence: vec![
                ("bytes".into(), format!("{node} bytes")),
                ("same".into(), "x".into()),
            ],
            tshark_filter: None,
            remediation: vec![],
            note: None,
            also: Vec::new(),
        }
    }

    #[test]
    fn a_per_node_fix_names_every_node_it_covers() {
        let s = 1_000_000_000;
        let fix = |n: &str| {
            vec![format!(
                "# on {n}: NIC errors\nGet-NetAdapterStatistics -Name \"mgmt\""
            )]
        };
        let mut a = f("HVS007", "t", "node1", Some("mgmt"), (0, 30 * s));
        a.remediation = fix("node1");
        let mut b = f("HVS007", "t", "node3", Some("mgmt"), (0, 30 * s));
        b.remediation = fix("node3");
        let mut c = f("HVS007", "t", "node2", Some("mgmt"), (0, 30 * s));
        c.remediation = vec!["# on node2: something else\nGet-NetAdapter".into()];
        let v = merge(vec![a, b, c]);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].remediation,
            vec![
                "# on node1, node3: NIC errors\nGet-NetAdapterStatistics -Name \"mgmt\""
                    .to_string()
            ]
        );
    }

    #[test]
    fn both_ends_of_one_flow_are_one_finding() {
        let s = 1_000_000_000;
        let v = merge(vec![
            f("HVS001", "t", "node1", Some("mgmt"), (0, 30 * s)),
            f("HVS001", "t", "node3", Some("mgmt"), (s, 30 * s)),
            f("HVS001", "t", "node2", Some("mgmt"), (100 * s, 130 * s)),
        ]);
        assert_eq!(v.len(), 2, "a later window is another incident");
        assert_eq!(v[0].place(), "node1 / mgmt, node3 / mgmt");
        assert!(v[0].is_at("node3", "mgmt"));
        let ev: Vec<_> = v[0]
            .evidence
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            ev,
            [
                "bytes (node1 / mgmt)=node1 bytes",
                "same=x",
                "bytes (node3 / mgmt)=node3 bytes"
            ]
        );
    }

    #[test]
    fn repeated_silences_are_one_finding_with_each_window() {
        let s = 1_000_000_000;
        let mk = |a: i64| {
            let mut x = f(
                "HVS006",
                "No heartbeats from node2 (all networks) for 7.0 s (6 missed)",
                "node2",
                None,
                (a * s, (a + 7) * s),
            );
            x.evidence = vec![("silence".into(), "7.0 s".into())];
            x
        };
        let v = merge(vec![mk(0), mk(100), mk(200)]);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].title,
            "No heartbeats from node2 (all networks): 3 silences, longest 7.0 s"
        );
        let listed: Vec<_> = v[0]
            .evidence
            .iter()
            .filter(|(k, _)| k.starts_with("silence "))
            .collect();
        assert_eq!(listed.len(), 3);
        assert!(
            listed[1].1.ends_with("Z: 7.0 s (6 missed)"),
            "{:?}",
            listed[1]
        );
        assert_ne!(listed[0].1, listed[1].1, "each window carries its own time");
        assert_eq!(v[0].window_end_ns, Some(207 * s));
    }
}
