//! The verdict: one or two sentences at the top of the report and of the
//! terminal summary, built from the findings: the worst incident (its
//! first sentence, place and time), what happened at the same time, and the
//! first command of its fix. The cards follow it.

use crate::model::{Finding, Severity};
use crate::units::utc_window;

/// The first sentence of a paragraph (up to ". " or the end), without the full stop.
fn first_sentence(s: &str) -> &str {
    let end = s.find(". ").unwrap_or(s.len());
    s[..end].trim_end_matches('.')
}

/// The command a fix block leads with: its first line that changes something
/// (not a comment, not a `Get-` query), else its first non-comment line.
pub fn lead_command(block: &str) -> Option<&str> {
    let lines = || {
        block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    };
    lines()
        .find(|l| !l.starts_with("Get-"))
        .or_else(|| lines().next())
}

fn overlaps(a: &Finding, b: &Finding) -> bool {
    match (
        a.window_start_ns,
        a.window_end_ns,
        b.window_start_ns,
        b.window_end_ns,
    ) {
        (Some(s1), Some(e1), Some(s2), Some(e2)) => s1 <= e2 && s2 <= e1,
        _ => false,
    }
}

/// The verdict, or None without findings.
pub fn verdict(findings: &[Finding]) -> Option<String> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.severity);
    let lead = *sorted.first()?;
    let mut s = format!(
        "{} {}: {} ({}",
        lead.severity.name().to_uppercase(),
        lead.id,
        first_sentence(&lead.summary),
        utc_window(lead.window_start_ns, lead.window_end_ns),
    );
    if !lead.also.is_empty() {
        s.push_str("; seen on ");
        s.push_str(&lead.place());
    }
    s.push_str(").");
    let with: Vec<String> = sorted[1..]
        .iter()
        .filter(|f| f.severity <= Severity::High && overlaps(lead, f))
        .take(3)
        .map(|f| format!("{} {} ({})", f.id, f.title, f.place()))
        .collect();
    if !with.is_empty() {
        s.push_str(" At the same time: ");
        s.push_str(&with.join("; "));
        s.push('.');
    }
    if let Some(cmd) = lead.remediation.first().and_then(|b| lead_command(b)) {
        s.push_str(" Fix first: ");
        s.push_str(cmd);
    }
    let rest = sorted.len() - 1;
    if rest > 0 {
        s.push_str(&format!(
            " ({} finding{} in all, below.)",
            sorted.len(),
            if sorted.len() == 1 { "" } else { "s" }
        ));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_names_the_incident_its_time_and_the_fix() {
        let data = crate::sample::synthetic_report();
        let v = verdict(&data.findings).unwrap();
        assert!(v.starts_with("CRITICAL HVS001: "), "{v}");
        assert!(v.contains(" Fix first: "), "{v}");
        assert!(v.contains('→'), "the window: {v}");
        assert_eq!(verdict(&[]), None);
    }

    #[test]
    fn the_lead_command_is_the_first_that_changes_something() {
        let b = "# c\nGet-ClusterNetwork | Format-Table\n(Get-ClusterNetwork -Name \"Cluster\").Metric = 900";
        assert_eq!(
            lead_command(b),
            Some("(Get-ClusterNetwork -Name \"Cluster\").Metric = 900")
        );
        assert_eq!(lead_command("# x\nGet-Cluster"), Some("Get-Cluster"));
    }
}
