//! Command-line behaviour: help, exit codes, error messages.

use crate::common::*;

#[test]
fn help_teaches() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("inspect") && s.contains("Exit codes"), "{s}");
    let out = run(&["inspect", "--help"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("--json") && s.contains("Example"), "{s}");
}

#[test]
fn not_a_capture_exits_4_naming_the_file() {
    let f = corpus().join("pal/SampleLog.blg");
    let out = run(&["inspect", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SampleLog.blg"), "{err}");
    assert!(err.contains("relog"), "a .blg gets the relog hint: {err}");
}

#[test]
fn missing_file_exits_4() {
    let out = run(&["inspect", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
}

#[test]
fn truncated_file_is_partial_exit_3_with_offset() {
    let src = std::fs::read(corpus().join("zeek/smb2.pcap")).unwrap();
    let dir = tempdir();
    let f = dir.join("cut.pcap");
    std::fs::write(&f, &src[..src.len() / 2]).unwrap();
    let out = run(&["inspect", "--json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["captures"][0];
    assert!(
        c["packets"].as_u64().unwrap() > 500,
        "packets before the cut are analysed"
    );
    let off = c["error"]["offset"].as_u64().unwrap();
    assert!(off > 0 && off <= (src.len() / 2) as u64);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.pcap") && err.contains(&format!("offset {off}")),
        "{err}"
    );
}

/// A fresh temporary directory under target/.
pub fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = repo().join("target").join("it-tmp").join(format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn etl_without_packets_reads_cleanly_with_a_note() {
    // dissect.etl 3.14 reads 36 buffers / 2042 records in HTTP_Server.etl, none of them packets.
    let f = corpus().join("microsoft-tx/HTTP_Server.etl");
    // No packet at all: nothing readable (exit 4), with the reason.
    let out = run(&["inspect", "--json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["captures"][0];
    assert_eq!(c["format"], "etl");
    assert_eq!(c["packets"], 0);
    assert_eq!(c["error"]["partial"], false);
    assert!(c["notes"][0].as_str().unwrap().contains("no packet events"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no packet events"));
}

#[test]
fn flow_table_cap_evicts_and_reports() {
    // The first 4 MB of gen-bench hold more conversations (8 SMB, heartbeat pairs) than a cap of 16.
    let dir = tempdir();
    let f = dir.join("g.pcapng");
    let mut o = hvsleuth_bench::BenchOpts::new(&f);
    o.size_bytes = 4 << 20;
    hvsleuth_bench::gen_bench(&o).unwrap();
    let (code, v) = run_json(&[
        "inspect",
        "--json",
        "--max-flows",
        "16",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let c = &v["captures"][0];
    assert!(c["flows_evicted"].as_u64().unwrap() > 0, "{c}");
    assert!(
        c["flows"].as_u64().unwrap() > 16,
        "more conversations than the cap: {c}"
    );
}
