//! The sample lab (samples/): bytes per capture interface per role equal the
//! ground truth in samples/EXPECTED.json (tshark display filters, see
//! samples/EXPECTED.md) within 0.5%; inference without the inventory agrees.

use crate::common::*;

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("samples/EXPECTED.json")).unwrap())
        .unwrap()
}

/// (scenario, file, interface, role, ours, theirs) for every role byte count that differs by more than 0.5%.
fn compare(scenario: &str, with_inventory: bool) -> (Vec<String>, usize) {
    let exp = expected();
    let sc = &exp["scenarios"][scenario];
    let dir = repo().join("samples").join(scenario);
    let inv = repo().join("samples/inventory.toml");
    let mut argv = vec!["analyze", "--json", dir.to_str().unwrap()];
    if with_inventory {
        argv.extend(["--inventory", inv.to_str().unwrap()]);
    }
    let (code, v) = run_json(&argv);
    assert_eq!(code, 0, "{scenario}");
    let mut bad = Vec::new();
    let mut checked = 0;
    for (file, f) in sc["files"].as_object().unwrap() {
        for (iface, i) in f["interfaces"].as_object().unwrap() {
            let ours = v["interfaces"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["capture"] == file.as_str() && (x["interface"] == iface.as_str()))
                .unwrap_or_else(|| panic!("{scenario}: {file} / {iface} missing"));
            assert_eq!(
                ours["wire_bytes"], i["bytes"],
                "{scenario} {file} {iface}: wire bytes"
            );
            for role in [
                "redirected-io",
                "live-migration",
                "storage",
                "cluster",
                "management",
                "other",
            ] {
                let want = i["roles"][role]["bytes"].as_u64().unwrap_or(0);
                let got = ours["roles"][role]["bytes"].as_u64().unwrap();
                checked += 1;
                if (got as f64 - want as f64).abs() > 0.005 * want.max(1) as f64 {
                    bad.push(format!(
                        "{scenario} {file} {iface} {role}: ours {got} tshark {want}"
                    ));
                }
            }
        }
    }
    (bad, checked)
}

#[test]
fn roles_match_ground_truth_with_inventory() {
    let exp = expected();
    let mut all_bad = Vec::new();
    let mut checked = 0;
    for scenario in exp["scenarios"].as_object().unwrap().keys() {
        let (bad, n) = compare(scenario, true);
        all_bad.extend(bad);
        checked += n;
    }
    assert!(checked > 100, "{checked}");
    assert!(
        all_bad.is_empty(),
        "{} of {checked} differ:\n{}",
        all_bad.len(),
        all_bad.join("\n")
    );
}

#[test]
fn inference_without_inventory_agrees() {
    // Without an inventory, nodes come from heartbeat peers and capture file names,
    // interfaces from pcapng if_names. The one thing traffic cannot tell is that the
    // lab's node-to-node SMB to share "vmms-lm" is live migration (Hyper-V's SMB
    // live-migration share is undocumented): inferred, it counts as redirected IO.
    let exp = expected();
    let mut unexpected = Vec::new();
    for scenario in exp["scenarios"].as_object().unwrap().keys() {
        let (bad, _) = compare(scenario, false);
        unexpected.extend(bad.into_iter().filter(|b| {
            !(b.starts_with("live-migration ")
                && (b.contains(" redirected-io:") || b.contains(" live-migration:")))
        }));
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}

#[test]
fn clock_skew_is_estimated_and_applied() {
    // The lab's namespaces share one clock: the skew between node captures is ~0.
    let dir = repo().join("samples/restore-flood");
    let (_, v) = run_json(&["analyze", "--json", dir.to_str().unwrap()]);
    let s = &v["skew"][0];
    assert!(s["samples"].as_u64().unwrap() >= 10);
    assert!(s["skew_ns"].as_i64().unwrap().abs() < 1_000_000, "{s}");
    // Shift node3's capture 2.5 s into the future (editcap, from Wireshark): the
    // estimate finds it, and aligned findings windows agree again.
    if std::process::Command::new("editcap")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("editcap not installed: skipping the shifted-clock half");
        return;
    }
    let tmp = crate::usage::tempdir().join("skewed");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(dir.join("node1.pcapng"), tmp.join("node1.pcapng")).unwrap();
    let st = std::process::Command::new("editcap")
        .args(["-t", "2.5"])
        .arg(dir.join("node3.pcapng"))
        .arg(tmp.join("node3.pcapng"))
        .status()
        .unwrap();
    assert!(st.success());
    let inv = repo().join("samples/inventory.toml");
    let (_, v) = run_json(&[
        "analyze",
        "--json",
        tmp.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    let s = &v["skew"][0];
    let skew = s["skew_ns"].as_i64().unwrap();
    assert!((skew - 2_500_000_000).abs() < 1_000_000, "{s}");
    // Both ends' windows align once the skew is applied, so the flow is one
    // HVS001 with both interfaces (the merge needs starts within 2 s).
    let f: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "HVS001")
        .collect();
    assert_eq!(f.len(), 1, "windows aligned: {f:?}");
    assert_eq!(f[0]["also"].as_array().map(Vec::len), Some(1), "{}", f[0]);
}

#[test]
fn link_speed_from_the_smb_interface_list() {
    // samples/multichannel: smbtorture queried node1's interface list; Samba advertises
    // the speeds configured in the lab (1 Gb/s for mgmt and cluster).
    let dir = repo().join("samples/multichannel");
    let (_, v) = run_json(&["analyze", "--json", dir.to_str().unwrap()]);
    let i = v["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["node"] == "node1" && i["interface"] == "cluster")
        .unwrap();
    assert_eq!(i["link_bps"], 1_000_000_000u64);
    assert!(
        v["inferred"]
            .to_string()
            .contains("FSCTL_QUERY_NETWORK_INTERFACE_INFO")
    );
}
