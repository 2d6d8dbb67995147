//! Perf-trace inputs: perfmon CSV, event log exports and cluster.log go on
//! one timeline; the RDMA-invisible and counter-redirected-IO rules fire on
//! their fixture; every public event log and ETL reads without a crash.

use crate::common::*;

#[test]
fn fixtures_make_one_timeline_and_fire_the_counter_rules() {
    let dir = repo().join("samples/fixtures");
    let (code, v) = run_json(&["timeline", "--json", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    let events = v["events"].as_array().unwrap();
    let sources: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    for s in ["perfmon", "eventlog", "cluster.log", "finding"] {
        assert!(sources.contains(s), "{s} missing from {sources:?}");
    }
    let ts: Vec<i64> = events
        .iter()
        .map(|e| e["ts_ns"].as_i64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "time-ordered");
    // FailoverClustering.xml: 5121 at 2026-03-10T13:00:40.0123456Z on node2.
    assert!(
        events
            .iter()
            .any(|e| e["ts_ns"] == 1_773_147_640_012_345_600i64
                && e["text"].as_str().unwrap().contains("5121"))
    );

    let (_, a) = run_json(&["analyze", "--json", dir.to_str().unwrap()]);
    let ids: Vec<(&str, &str)> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["node"].as_str().unwrap_or("")))
        .collect();
    // perfmon-restore-flood.csv: RDMA Activity(storage) bytes on every node, no capture at all.
    for n in ["node1", "node2", "node3"] {
        assert!(ids.contains(&("HVS008", n)), "{ids:?}");
    }
    // Redirected Write Bytes/sec ~845 MB/s on node2 for 30 s.
    assert!(ids.contains(&("HVS009", "node2")), "{ids:?}");
}

#[test]
fn public_event_logs_and_etl_read_without_error() {
    needs_corpus!();
    let dirs = [
        "evtx-rs",
        "evtx-attack-samples",
        "hayabusa-sample-evtx",
        "microsoft-tx",
        "etl-parser",
    ];
    let paths: Vec<String> = dirs
        .iter()
        .map(|d| corpus().join(d).display().to_string())
        .collect();
    let mut argv = vec!["timeline", "--json"];
    argv.extend(paths.iter().map(String::as_str));
    let out = run(&argv);
    // .blg files are recognised and refused with the relog hint: partial (3), never a crash.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("relog"), "{err}");
    assert!(err.contains("no packet events"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn counters_are_written_as_a_table() {
    let out = crate::usage::tempdir().join("fx");
    let dir = repo().join("samples/fixtures");
    let r = run(&[
        "analyze",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let csv = std::fs::read_to_string(out.join("counters.csv")).unwrap();
    // perfmon-restore-flood.csv: 60 counters, 120 rows, first row's rate counters blank.
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("host,object,instance,counter,role,time,value")
    );
    assert!(csv.contains(
        "node2,Cluster CSV File System,Volume1,Redirected Write Bytes/sec,RedirectedIo,"
    ));
    assert!(
        csv.contains(",Memory,\"\",Available MBytes,\"\","),
        "unknown counters are kept"
    );
    assert!(out.join("counters.parquet").is_file());
}

#[test]
fn restore_flood_counters_and_events_line_up_with_the_captures() {
    // samples/restore-flood holds lab/evidence.py's perfmon, event XML and cluster.log
    // beside the captures, on the restore's own window.
    let dir = repo().join("samples/restore-flood");
    let inv = repo().join("samples/inventory.toml");
    let (code, v) = run_json(&[
        "timeline",
        "--json",
        dir.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let ev = v["events"].as_array().unwrap();
    let at = |source: &str, needle: &str| {
        ev.iter()
            .find(|e| e["source"] == source && e["text"].as_str().unwrap().contains(needle))
            .map(|e| e["ts_ns"].as_i64().unwrap())
            .unwrap_or_else(|| panic!("{source} {needle}"))
    };
    let finding = at("finding", "HVS001");
    let counter = at("perfmon", "Redirected Write Bytes/sec");
    let event = at("eventlog", "5121");
    let log = at("cluster.log", "FileSystemRedirected");
    for (what, t) in [
        ("perfmon", counter),
        ("eventlog", event),
        ("cluster.log", log),
    ] {
        assert!(
            (t - finding).abs() < 3_000_000_000,
            "{what} {t} vs HVS001 window start {finding}"
        );
    }
    let (_, a) = run_json(&[
        "analyze",
        "--json",
        dir.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    let f = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "HVS009")
        .expect("HVS009");
    assert_eq!(f["node"], "node3");
    let ev = f["evidence"].as_array().unwrap();
    let line = |label: &str| {
        ev.iter()
            .find(|e| e[0].as_str().unwrap().starts_with(label))
            .map(|e| e[1].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{label} missing: {ev:?}"))
    };
    let captured = line("captured redirected-io");
    assert!(
        captured.ends_with("MB"),
        "the captures of node3 show the redirected IO too: {captured}"
    );
    // The 5121 event and the cluster.log state change corroborate it.
    assert!(line("corroborated by event").contains("node3"));
    let all = serde_json::to_string(ev).unwrap();
    assert!(
        all.contains("5121") && all.contains("FileSystemRedirected"),
        "{all}"
    );
}

#[test]
fn nic_counters_reconcile_with_captured_bytes() {
    // samples/lab/evidence.py derives the Network Interface counters from the captures
    // (tshark frame.len per second and NIC), so every NIC agrees within a few percent.
    let dir = repo().join("samples/restore-flood");
    let inv = repo().join("samples/inventory.toml");
    let (_, v) = run_json(&[
        "analyze",
        "--json",
        dir.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    let r = v["reconciliation"].as_array().unwrap();
    assert_eq!(r.len(), 6, "node1 and node3, three NICs each");
    for x in r {
        let ratio = x["ratio"].as_f64().unwrap();
        assert!((0.95..1.05).contains(&ratio), "{x}");
    }
}
