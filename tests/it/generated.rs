//! Generated scenarios (samples/generated/seed-*/, made by samples/lab/random_lab.py;
//! ground truth truth.json by samples/lab/random_truth.py with tshark display filters,
//! no hvsleuth code): random names, addressing, IPv4/IPv6 families, heartbeat cadence,
//! NetFT UDP 3343 tunnelling, snaplen, gzip, clock offsets and incidents.
//! benches/accuracy.py runs the same comparison over many more scenarios.

use crate::common::*;
use std::path::PathBuf;

const ROLES: [&str; 6] = [
    "redirected-io",
    "live-migration",
    "storage",
    "cluster",
    "management",
    "other",
];

fn scenarios() -> Vec<(PathBuf, serde_json::Value)> {
    let mut v: Vec<_> = std::fs::read_dir(repo().join("samples/generated"))
        .expect("samples/generated exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("truth.json").exists())
        .map(|p| {
            let t = serde_json::from_str(&std::fs::read_to_string(p.join("truth.json")).unwrap())
                .unwrap();
            (p, t)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() >= 3, "committed generated scenarios: {}", v.len());
    v
}

fn analyze(dir: &std::path::Path, truth: &serde_json::Value, inventory: bool) -> serde_json::Value {
    let files: Vec<String> = truth["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(|f| dir.join(f).to_string_lossy().into_owned())
        .collect();
    let inv = dir.join("inventory.toml").to_string_lossy().into_owned();
    let mut argv = vec!["analyze", "--json"];
    argv.extend(files.iter().map(String::as_str));
    if inventory {
        argv.extend(["--inventory", inv.as_str()]);
    }
    let (code, v) = run_json(&argv);
    assert_eq!(code, 0, "{}: exit code", dir.display());
    v
}

fn ours<'a>(out: &'a serde_json::Value, file: &str, iface: &str) -> Option<&'a serde_json::Value> {
    out["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["capture"] == file && x["interface"] == iface)
}

/// Every captured interface is listed with exactly the wire bytes tshark counts, and its
/// roles add up to them (holds today: byte totals do not depend on the inference).
#[test]
fn generated_interface_totals_match_truth_with_inventory() {
    let mut checked = 0;
    for (dir, truth) in scenarios() {
        let out = analyze(&dir, &truth, true);
        for (file, f) in truth["files"].as_object().unwrap() {
            for (iface, i) in f["interfaces"].as_object().unwrap() {
                let o = ours(&out, file, iface)
                    .unwrap_or_else(|| panic!("{}: {file} / {iface} missing", dir.display()));
                assert_eq!(
                    o["wire_bytes"],
                    i["bytes"],
                    "{}: {file} / {iface}: wire bytes",
                    dir.display()
                );
                let sum: u64 = ROLES
                    .iter()
                    .map(|r| o["roles"][r]["bytes"].as_u64().unwrap())
                    .sum();
                assert_eq!(
                    sum,
                    i["bytes"].as_u64().unwrap(),
                    "{}: {file} / {iface}: sum over roles",
                    dir.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "{checked} interfaces");
}

fn role_mismatches(inventory: bool) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut n = 0;
    for (dir, truth) in scenarios() {
        let out = analyze(&dir, &truth, inventory);
        for (file, f) in truth["files"].as_object().unwrap() {
            for (iface, i) in f["interfaces"].as_object().unwrap() {
                let o = ours(&out, file, iface);
                for r in ROLES {
                    let want = i["roles"][r]["bytes"].as_u64().unwrap_or(0);
                    let got = o.and_then(|o| o["roles"][r]["bytes"].as_u64()).unwrap_or(0);
                    n += 1;
                    if (got as f64 - want as f64).abs() > 0.005 * want.max(1) as f64 {
                        bad.push(format!(
                            "{} {file} {iface} {r}: hvsleuth {got} truth {want}",
                            dir.display()
                        ));
                    }
                }
            }
        }
    }
    (bad, n)
}

// Every interface x role within 0.5% of the truth (issue 12: the NetFT tunnel told from
// heartbeats frame by frame, address ownership, node merging).
#[test]
fn generated_roles_match_truth_with_inventory() {
    let (bad, n) = role_mismatches(true);
    assert!(
        bad.is_empty(),
        "{} of {n} differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

// The same without an inventory.
#[test]
fn generated_roles_match_truth_without_inventory() {
    let (bad, n) = role_mismatches(false);
    assert!(
        bad.is_empty(),
        "{} of {n} differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Every staged incident raises its finding without the inventory, and a scenario without
/// an incident raises nothing of severity medium or worse. Holds today on the committed
/// three (isolation x3 at a 2 s cadence, live migration on the management network, none);
/// benches/accuracy.py measures the incidents that do not (SOFS non-owner, saturation).
#[test]
fn generated_incidents_found_without_inventory() {
    let mut missed = Vec::new();
    for (dir, truth) in scenarios() {
        let out = analyze(&dir, &truth, false);
        let ids: Vec<&str> = out["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["id"].as_str())
            .collect();
        for inc in truth["incidents"].as_array().unwrap() {
            let want = inc["finding"].as_str().unwrap();
            if !ids.contains(&want) {
                missed.push(format!("{}: {} ({want})", dir.display(), inc["incident"]));
            }
        }
        if truth["incidents"].as_array().unwrap().is_empty() {
            for f in out["findings"].as_array().unwrap() {
                if ["critical", "high", "medium"].contains(&f["severity"].as_str().unwrap_or("")) {
                    missed.push(format!(
                        "{}: false alarm {} {}",
                        dir.display(),
                        f["id"],
                        f["title"]
                    ));
                }
            }
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
