//! Flow-state memory (issue 13 item 2): resident memory grows with the live
//! conversations by a few hundred bytes each, and `--max-flows` is one budget
//! for the captures read in parallel, not a table per file.

use std::process::{Command, Stdio};

use hvsleuth_bench::synflood::{SynFloodOpts, syn_flood};

use crate::common::bin;
use crate::usage::tempdir;

/// Peak RSS (KiB) and exit code of one `hvsleuth` run, from wait4 on that
/// child alone (RUSAGE_CHILDREN would mix in the other tests' children).
// The child is reaped by wait4 below (which also gives its rusage), not by
// Child::wait, so clippy cannot see it.
#[allow(clippy::zombie_processes)]
fn peak_rss_kib(args: &[&std::ffi::OsStr]) -> (i64, Option<i32>) {
    let child = Command::new(bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers to locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(rc, pid);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (ru.ru_maxrss, code)
}

#[test]
fn live_flows_cost_hundreds_of_bytes_and_one_budget_covers_parallel_files() {
    let dir = tempdir();
    let small = dir.join("syn-1k.pcap");
    let big = dir.join("syn-200k.pcap");
    let big2 = dir.join("syn-200k-b.pcap");
    let opts = |flows| SynFloodOpts {
        flows,
        server_ports: 1,
        gap_ns: 10_000,
        seed: 7,
    };
    syn_flood(&small, &opts(1_000)).unwrap();
    syn_flood(&big, &opts(200_000)).unwrap();
    std::fs::copy(&big, &big2).unwrap();
    let os = |s: &str| std::ffi::OsString::from(s);
    let inspect = |files: &[&std::path::Path], extra: &[&str]| {
        let mut a: Vec<std::ffi::OsString> = vec![os("inspect"), os("--json")];
        a.extend(extra.iter().map(|s| os(s)));
        a.extend(files.iter().map(|p| p.as_os_str().to_owned()));
        let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        peak_rss_kib(&refs)
    };
    let (base, c0) = inspect(&[&small], &[]);
    let (one, c1) = inspect(&[&big], &[]);
    assert_eq!((c0, c1), (Some(0), Some(0)));
    // 200,000 live flows: at most 450 bytes each over the baseline (key,
    // last-seen time, state, index; the mapped input drops behind itself).
    let per_flow = (one - base) * 1024 / 200_000;
    assert!(
        per_flow <= 450,
        "{per_flow} bytes per live flow (RSS {one} KiB vs {base} KiB)"
    );
    // Two such files in parallel under a budget of 100,000 flows take about
    // the memory of one file under it (a table per file would double it).
    let (one_capped, c2) = inspect(&[&big], &["--max-flows", "100000"]);
    let (two, c3) = inspect(&[&big, &big2], &["--max-flows", "100000"]);
    assert_eq!((c2, c3), (Some(0), Some(0)));
    assert!(
        (two - base) * 2 < (one_capped - base) * 3,
        "two files, one 100k budget: {two} KiB; one file, same budget: {one_capped} KiB; \
         baseline {base} KiB"
    );
    // The evictions the budget forced are reported.
    let out = Command::new(bin())
        .args(["inspect", "--json", "--max-flows", "100000"])
        .arg(&big)
        .arg(&big2)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let evicted: u64 = v["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["flows_evicted"].as_u64().unwrap())
        .sum();
    assert!(evicted >= 200_000, "evicted {evicted}");
    for c in v["captures"].as_array().unwrap() {
        assert_eq!(c["flows"], 200_000, "every flow is still counted");
    }
}
