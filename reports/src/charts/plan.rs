//! Which charts a report has, their titles and unique file slugs. Cheap (no
//! drawing), so the Markdown writer can name the PNG files the writer makes.

use std::collections::HashSet;

use crate::Role;
use crate::model::{DiffData, ReportData};

/// What a chart shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartKind {
    /// Stacked throughput by role of `interfaces[i]`.
    Interface(usize),
    /// Share of bytes by role, one bar per interface.
    RoleShare,
    /// Heartbeat gaps of one node pair: indexes into `heartbeats`.
    Heartbeat { series: Vec<usize> },
    /// Live-migration throughput of every interface that carried it.
    LiveMigration,
    /// Timeline strip of events.
    Timeline,
    /// Before/after panels of one (node, interface): indexes into
    /// `before.interfaces` / `after.interfaces`.
    DiffInterface {
        before: Option<usize>,
        after: Option<usize>,
    },
}

/// A planned chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSpec {
    pub slug: String,
    pub title: String,
    pub kind: ChartKind,
}

/// Series per heartbeat chart: the legend beside a 320 px chart holds six.
pub const HEARTBEAT_SERIES: usize = 6;

/// Lower-case ASCII letters and digits, everything else becomes `-` (runs
/// collapsed, trimmed), at most 60 characters, never empty.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(60));
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "x".to_string() } else { out }
}

/// Hands out unique slugs (`a`, `a-2`, `a-3`, ...).
#[derive(Default)]
struct Slugs(HashSet<String>);

impl Slugs {
    fn take(&mut self, raw: &str) -> String {
        let base = slugify(raw);
        if self.0.insert(base.clone()) {
            return base;
        }
        let mut n = 2usize;
        loop {
            let s = format!("{base}-{n}");
            if self.0.insert(s.clone()) {
                return s;
            }
            n += 1;
        }
    }
}

/// At most this many interfaces get a chart and a detail block: the busiest
/// by wire bytes. The rest are one table row each (the page says so), so a
/// capture with 10,000 interfaces writes a bounded report.
pub const MAX_CHARTED_INTERFACES: usize = 24;

/// Per interface of `data`: whether it is among the [`MAX_CHARTED_INTERFACES`]
/// busiest (ties: first listed).
pub fn charted_interfaces(data: &ReportData) -> Vec<bool> {
    let n = data.interfaces.len();
    let mut keep = vec![true; n];
    if n > MAX_CHARTED_INTERFACES {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(data.interfaces[i].wire_bytes), i));
        keep = vec![false; n];
        for &i in &order[..MAX_CHARTED_INTERFACES] {
            keep[i] = true;
        }
    }
    keep
}

/// The charts of a report, in display order: one per interface, role share,
/// one per heartbeat node pair, live migration, timeline.
pub fn report_plan(data: &ReportData) -> Vec<ChartSpec> {
    let mut slugs = Slugs::default();
    let mut plan = Vec::new();
    let charted = charted_interfaces(data);
    for (i, f) in data.interfaces.iter().enumerate() {
        if !charted[i] {
            continue;
        }
        plan.push(ChartSpec {
            slug: slugs.take(&format!("{}-{}", f.node, f.interface)),
            title: format!("{} / {}", f.node, f.interface),
            kind: ChartKind::Interface(i),
        });
    }
    if !data.interfaces.is_empty() {
        plan.push(ChartSpec {
            slug: slugs.take("role-share"),
            title: "Share of bytes by role".into(),
            kind: ChartKind::RoleShare,
        });
    }
    // Heartbeats grouped by unordered node pair, first-seen order.
    let mut pairs: Vec<((String, String), Vec<usize>)> = Vec::new();
    for (i, h) in data.heartbeats.iter().enumerate() {
        let key = if h.from <= h.to {
            (h.from.clone(), h.to.clone())
        } else {
            (h.to.clone(), h.from.clone())
        };
        match pairs.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => pairs.push((key, vec![i])),
        }
    }
    // At most HEARTBEAT_SERIES series per chart, so the legend fits beside it
    // and the colours stay apart: a pair with more is split, series sorted by
    // network so a chart tends to hold one network's directions.
    for ((a, b), mut series) in pairs {
        series.sort_by(|x, y| {
            let (hx, hy) = (&data.heartbeats[*x], &data.heartbeats[*y]);
            (&hx.network, &hx.from).cmp(&(&hy.network, &hy.from))
        });
        let parts = series.len().div_ceil(HEARTBEAT_SERIES).max(1);
        for (k, chunk) in series.chunks(HEARTBEAT_SERIES).enumerate() {
            let suffix = if parts > 1 {
                format!(" ({}/{parts})", k + 1)
            } else {
                String::new()
            };
            plan.push(ChartSpec {
                slug: slugs.take(&format!("hb-{a}-{b}")),
                title: format!("Heartbeat gaps {a} ↔ {b}{suffix}"),
                kind: ChartKind::Heartbeat {
                    series: chunk.to_vec(),
                },
            });
        }
    }
    let lm = Role::LiveMigration.index();
    if data.interfaces.iter().any(|f| {
        f.roles
            .iter()
            .any(|r| r.role == Role::LiveMigration && r.bytes > 0)
            || f.series.iter().any(|(_, v)| v[lm] > 0.0)
    }) {
        plan.push(ChartSpec {
            slug: slugs.take("live-migration"),
            title: "Live-migration throughput".into(),
            kind: ChartKind::LiveMigration,
        });
    }
    if !data.timeline.is_empty() {
        plan.push(ChartSpec {
            slug: slugs.take("timeline"),
            title: "Timeline".into(),
            kind: ChartKind::Timeline,
        });
    }
    plan
}

/// The charts of a diff: one before/after chart per (node, interface) in
/// either analysis (before's order, then interfaces only in after).
pub fn diff_plan(diff: &DiffData) -> Vec<ChartSpec> {
    let mut slugs = Slugs::default();
    let mut plan = Vec::new();
    let mut used_after = vec![false; diff.after.interfaces.len()];
    for (i, b) in diff.before.interfaces.iter().enumerate() {
        let a =
            diff.after.interfaces.iter().enumerate().position(|(j, a)| {
                !used_after[j] && a.node == b.node && a.interface == b.interface
            });
        if let Some(j) = a {
            used_after[j] = true;
        }
        plan.push(ChartSpec {
            slug: slugs.take(&format!("diff-{}-{}", b.node, b.interface)),
            title: format!("{} / {}", b.node, b.interface),
            kind: ChartKind::DiffInterface {
                before: Some(i),
                after: a,
            },
        });
    }
    for (j, a) in diff.after.interfaces.iter().enumerate() {
        if !used_after[j] {
            plan.push(ChartSpec {
                slug: slugs.take(&format!("diff-{}-{}", a.node, a.interface)),
                title: format!("{} / {}", a.node, a.interface),
                kind: ChartKind::DiffInterface {
                    before: None,
                    after: Some(j),
                },
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_clean_and_unique() {
        assert_eq!(slugify("HV01 / vEthernet (Mgmt)"), "hv01-vethernet-mgmt");
        assert_eq!(
            slugify("<script>alert(1)</script>"),
            "script-alert-1-script"
        );
        assert_eq!(slugify("../../etc/passwd"), "etc-passwd");
        assert_eq!(slugify("ÄÖÜ"), "x");
        assert_eq!(slugify(""), "x");
        assert!(slugify(&"a".repeat(500)).len() <= 60);
        let mut s = Slugs::default();
        assert_eq!(s.take("a b"), "a-b");
        assert_eq!(s.take("a-b"), "a-b-2");
        assert_eq!(s.take("A_B"), "a-b-3");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn slugs_are_safe_file_stems(names in proptest::collection::vec(any::<String>(), 0..20)) {
            let mut s = Slugs::default();
            let mut seen = HashSet::new();
            for n in &names {
                let slug = s.take(n);
                prop_assert!(!slug.is_empty());
                prop_assert!(slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
                prop_assert!(!slug.starts_with('-'));
                prop_assert!(seen.insert(slug));
            }
        }
    }
}
