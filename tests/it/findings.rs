//! Each finding rule fires on the lab scenario made for it, with the right
//! node, interface and time window; none fires on the baseline.

use crate::common::*;
use crate::usage::tempdir;

fn analyze(scenario: &str) -> serde_json::Value {
    let dir = repo().join("samples").join(scenario);
    let inv = repo().join("samples/inventory.toml");
    let (code, v) = run_json(&[
        "analyze",
        "--json",
        dir.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{scenario}");
    v
}

fn findings<'a>(v: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

/// "node/interface" of each finding, sorted.
fn places(f: &[&serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = f
        .iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["node"].as_str().unwrap(),
                f["interface"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

fn secs(f: &serde_json::Value) -> f64 {
    (f["window_end_ns"].as_i64().unwrap() - f["window_start_ns"].as_i64().unwrap()) as f64 / 1e9
}

#[test]
fn baseline_has_no_findings() {
    let v = analyze("baseline");
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        0,
        "{}",
        v["findings"]
    );
}

#[test]
fn restore_flood_names_the_management_nic_and_the_fix() {
    let v = analyze("restore-flood");
    let f = findings(&v, "HVS001");
    // Both ends of the restore: node3 (non-owner) sends, node1 (CSV1 owner) receives.
    let places = places(&f);
    assert_eq!(places, ["node1/mgmt", "node3/mgmt"]);
    for x in &f {
        assert_eq!(x["severity"], "critical");
        // samples/restore-flood/timeline.txt: the 6 MiB restore runs about 28 s.
        assert!((20.0..40.0).contains(&secs(x)), "window {}", secs(x));
        let fix = x["remediation"][0].as_str().unwrap();
        assert!(
            // The inventory means only the cluster NIC for redirected IO.
            fix.ends_with(
                "New-SmbMultichannelConstraint -ServerName node1 -InterfaceAlias \"cluster\""
            ),
            "{fix}"
        );
        assert!(x["note"].as_str().unwrap().contains("Default SMB instance"));
        assert!(
            x["tshark_filter"]
                .as_str()
                .unwrap()
                .contains("tcp.port == 445")
        );
    }
    // The management link was saturated while the RDP stand-in suffered.
    let sat = findings(&v, "HVS002");
    assert!(
        sat.iter()
            .any(|x| x["interface"] == "mgmt" && x["severity"] == "critical"),
        "{sat:?}"
    );
}

#[test]
fn restore_constrained_keeps_management_clean() {
    let v = analyze("restore-constrained");
    assert!(findings(&v, "HVS001").is_empty());
    assert!(
        !findings(&v, "HVS002")
            .iter()
            .any(|x| x["interface"] == "mgmt")
    );
}

#[test]
fn sofs_client_on_non_owner_is_found_with_time_to_move() {
    let v = analyze("sofs-redirect");
    let f = findings(&v, "HVS003");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["node"], "node2");
    let s = f[0]["summary"].as_str().unwrap();
    assert!(
        s.contains("host1") && s.contains("csv1") && s.contains("owned by node1"),
        "{s}"
    );
    // samples/sofs-redirect/timeline.txt: host1 -> node2 at t=5, host1 -> node1 at t~21-23.
    assert!(s.contains("moved to node1 after"), "{s}");
    assert!((10.0..25.0).contains(&secs(f[0])), "{}", secs(f[0]));
}

#[test]
fn live_migration_on_storage_network_is_found() {
    let v = analyze("live-migration");
    let f = findings(&v, "HVS004");
    let places = places(&f);
    // node2 -> node3 TCP 6600 over the storage network (timeline.txt).
    assert_eq!(places, ["node2/storage", "node3/storage"]);
    assert!(f.iter().all(|x| {
        x["remediation"][0]
            .as_str()
            .unwrap()
            .contains("Set-VMHost -UseAnyNetworkForMigration $false")
    }));
}

#[test]
fn heartbeat_loss_isolates_then_quarantines_node3() {
    let v = analyze("heartbeat-loss");
    let f = findings(&v, "HVS006");
    assert!(f.iter().all(|x| x["node"] == "node3"), "{f:?}");
    let quarantine: Vec<_> = f.iter().filter(|x| x["severity"] == "critical").collect();
    assert_eq!(quarantine.len(), 1);
    // timeline.txt: three outages of ~12 s (each above 10 x 1 s), one of 3 s (below every threshold).
    let isolations: Vec<_> = f.iter().filter(|x| x["severity"] == "high").collect();
    assert_eq!(isolations.len(), 3);
    for x in isolations {
        assert!((11.0..17.0).contains(&secs(x)), "{}", secs(x));
        assert!(x["title"].as_str().unwrap().contains("all networks"));
    }
}

#[test]
fn diff_shows_the_constrained_fix() {
    let a = repo().join("samples/restore-flood");
    let b = repo().join("samples/restore-constrained");
    let inv = repo().join("samples/inventory.toml");
    let out = tempdir().join("diff");
    let (code, v) = run_json(&[
        "diff",
        "--json",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let resolved: Vec<_> = v["findings_resolved"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "HVS001")
        .collect();
    assert_eq!(resolved.len(), 2);
    let d = v["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["node"] == "node1" && d["interface"] == "mgmt" && d["role"] == "redirected-io")
        .unwrap();
    assert!(d["bytes_before"].as_u64().unwrap() > 3_000_000);
    assert_eq!(d["bytes_after"], 0);
    let html = std::fs::read_to_string(out.join("diff.html")).unwrap();
    assert!(html.contains("HVS001"));
}

#[test]
fn report_html_shows_the_incident_self_contained() {
    let out = tempdir().join("report");
    let inv = repo().join("samples/inventory.toml");
    let dir = repo().join("samples/restore-flood");
    let r = run(&[
        "analyze",
        dir.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("HVS001") && html.contains("New-SmbMultichannelConstraint"));
    assert!(
        html.matches("<svg").count() >= 9,
        "one chart per interface at least"
    );
    assert!(!html.contains("<script") && !html.contains("<link"));
    // No external resources: the only URLs are SVG namespace names.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(
        urls,
        html.matches("http://www.w3.org/2000/svg").count()
            + html.matches("http://www.w3.org/1999/xlink").count()
    );
    let findings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap()).unwrap();
    assert!(findings.to_string().contains("HVS001"));
    // report re-renders from the stored data.
    let again = tempdir().join("again");
    let r = run(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(r.status.success());
    assert!(again.join("report.html").is_file());
}
