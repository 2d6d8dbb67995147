//! findings.json: the findings in a stable, documented schema
//! (reports/FINDINGS_SCHEMA.md), independent of the Rust model's serde shape.

use serde::Serialize;

use crate::model::Finding;
use crate::units::utc_datetime;

/// Schema identifier written at the top of the file.
pub const FINDINGS_SCHEMA: &str = "hvsleuth.findings/1";

#[derive(Serialize)]
struct File<'a> {
    schema: &'static str,
    count: usize,
    findings: Vec<JFinding<'a>>,
}

#[derive(Serialize)]
struct Evidence<'a> {
    label: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct JFinding<'a> {
    id: &'a str,
    severity: &'static str,
    title: &'a str,
    node: Option<&'a str>,
    interface: Option<&'a str>,
    window_start_ns: Option<i64>,
    window_end_ns: Option<i64>,
    window_start_utc: Option<String>,
    window_end_utc: Option<String>,
    summary: &'a str,
    evidence: Vec<Evidence<'a>>,
    tshark_filter: Option<&'a str>,
    remediation: &'a [String],
    note: Option<&'a str>,
    /// Other places of the same incident (node, interface).
    also: &'a [crate::model::Place],
}

/// The findings as pretty-printed JSON, sorted by severity (stable).
pub fn findings_json(findings: &[Finding]) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.severity);
    let file = File {
        schema: FINDINGS_SCHEMA,
        count: sorted.len(),
        findings: sorted
            .into_iter()
            .map(|f| JFinding {
                id: &f.id,
                severity: f.severity.name(),
                title: &f.title,
                node: f.node.as_deref(),
                interface: f.interface.as_deref(),
                window_start_ns: f.window_start_ns,
                window_end_ns: f.window_end_ns,
                window_start_utc: f.window_start_ns.map(utc_datetime),
                window_end_utc: f.window_end_ns.map(utc_datetime),
                summary: &f.summary,
                evidence: f
                    .evidence
                    .iter()
                    .map(|(l, v)| Evidence { label: l, value: v })
                    .collect(),
                tshark_filter: f.tshark_filter.as_deref(),
                remediation: &f.remediation,
                note: f.note.as_deref(),
                also: &f.also,
            })
            .collect(),
    };
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string_pretty(&file)
        .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_fields_and_order() {
        let data = crate::sample::synthetic_report();
        let j: serde_json::Value = serde_json::from_str(&findings_json(&data.findings)).unwrap();
        assert_eq!(j["schema"], FINDINGS_SCHEMA);
        assert_eq!(j["count"], 3);
        let f = &j["findings"][0];
        assert_eq!(f["id"], "HVS001");
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["interface"], "Management");
        assert_eq!(f["window_start_utc"], "2013-07-23 14:02:00.000Z");
        assert_eq!(f["evidence"][0]["label"], "redirected-io bytes");
        assert!(
            f["remediation"][0]
                .as_str()
                .unwrap()
                .starts_with("New-SmbMultichannelConstraint")
        );
        assert_eq!(j["findings"][2]["severity"], "info");
        // Hostile strings survive as JSON strings.
        let mut bad = data.findings[0].clone();
        bad.title = "\u{0}\"</script>".into();
        let j: serde_json::Value = serde_json::from_str(&findings_json(&[bad])).unwrap();
        assert_eq!(j["findings"][0]["title"], "\u{0}\"</script>");
        assert!(findings_json(&[]).contains("\"count\": 0"));
    }
}
