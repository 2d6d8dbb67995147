//! Flow-state memory (issue 13 item 2): resident memory grows with the live
//! conversations by a few hundred bytes each, and `--max-flows` is one budget
//! for the captures read in parallel, not a table per file. The merge
//! (issue 16 item 4) reads shards streaming: its memory does not grow with
//! each shard's series.

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
    peak_rss_kib_of(bin().as_ref(), args)
}

/// [`peak_rss_kib`] of another binary. Through GNU time where it is
/// installed: a child spawned straight from this test process starts its
/// life in this process's memory (vfork), and Linux records that memory's
/// high-water mark in the child's peak when it execs, so the figure would
/// be this (large, many-test) process's peak. GNU time is small, so the
/// child it forks carries no such inheritance.
#[allow(clippy::zombie_processes)]
fn peak_rss_kib_of(bin: &std::ffi::OsStr, args: &[&std::ffi::OsStr]) -> (i64, Option<i32>) {
    let time = std::path::Path::new("/usr/bin/time");
    if time.exists() {
        let dir = tempdir();
        let out = dir.join("rss");
        let st = Command::new(time)
            .args(["-f", "%M %x", "-o"])
            .arg(&out)
            .arg(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let last = text.lines().last().unwrap_or_default().to_string();
        let mut f = last.split_whitespace();
        let kib = f
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{text}"));
        let code = f
            .next()
            .and_then(|v| v.parse().ok())
            .filter(|_| st.code().is_some());
        return (kib, code);
    }
    let child = Command::new(bin)
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

/// A one-interface pcap of `groups` UDP services (10.1.0.1:50000 to
/// 10.1.1.1, ports 7000..), each sending one 60-byte frame every second for
/// `seconds` s: `groups` x `seconds` (group, bucket) cells in a shard.
fn udp_services(out: &std::path::Path, groups: u16, seconds: i64) {
    use hvsleuth_bench::writer::{CaptureWriter, Format, IfaceDesc};
    let iface = IfaceDesc::ethernet("eth0");
    let f = std::fs::File::create(out).unwrap();
    let mut w = CaptureWriter::new(f, Format::Pcap, &[iface]).unwrap();
    let mut frame = [0u8; 60];
    frame[0..6].copy_from_slice(&[0x00, 0x15, 0x5d, 0x00, 0x00, 0x02]);
    frame[6..12].copy_from_slice(&[0x00, 0x15, 0x5d, 0x00, 0x00, 0x01]);
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let start = 1_700_000_000_000_000_000i64;
    for s in 0..seconds {
        for k in 0..groups {
            let ip = &mut frame[14..34];
            ip.copy_from_slice(&[
                0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 1, 1, 1,
            ]);
            ip[4..6].copy_from_slice(&k.to_be_bytes());
            // IPv4 header checksum.
            let sum: u32 = ip
                .chunks(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                .sum();
            let sum = (sum & 0xffff) + (sum >> 16);
            let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
            let udp = &mut frame[34..42];
            udp[0..2].copy_from_slice(&50_000u16.to_be_bytes());
            udp[2..4].copy_from_slice(&(7000 + k).to_be_bytes());
            udp[4..6].copy_from_slice(&26u16.to_be_bytes());
            // UDP checksum 0: none (IPv4).
            udp[6..8].copy_from_slice(&[0, 0]);
            let ts = start + s * 1_000_000_000 + i64::from(k) * 1_000_000;
            w.packet(0, ts, 60, &[&frame]).unwrap();
        }
    }
    w.finish().unwrap();
}

/// The merge (`analyze --from`) holds one shard's service groups and series
/// at a time: what it keeps of each shard is its interface x role x bucket
/// series and a row per group, not the shard's per-group series. Eight
/// shards of 200 services x 600 one-second buckets (120,000 series cells,
/// 4.8 MB as the merge held them before, 40 bytes a cell) may cost at most
/// 1 MB of peak RSS per shard beyond two of them. Measured (dev profile):
/// 167 KiB per shard; 5,932 KiB with the merge that read every shard's
/// tables first (`HVSLEUTH_MERGE_BIN` runs the same check on another
/// binary, such as that older build).
#[test]
fn merge_memory_does_not_grow_with_each_shards_series() {
    let dir = tempdir();
    let cap = dir.join("services.pcap");
    udp_services(&cap, 200, 600);
    // Eight inputs: the same capture under eight names (each its own
    // node, interface and shard).
    let mut inputs = Vec::new();
    for n in 0..8 {
        let p = dir.join(format!("node{n:02}.pcap"));
        std::os::unix::fs::symlink(&cap, &p).unwrap();
        inputs.push(p);
    }
    let shards = dir.join("shards");
    let mut scan = Command::new(bin());
    scan.args(["scan", "--no-progress", "--out"])
        .arg(&shards)
        .args(&inputs);
    let out = scan.output().unwrap();
    assert!(
        out.status.success(),
        "scan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The shard directories, in input order (`scan` prints them).
    let dirs: Vec<std::ffi::OsString> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(std::ffi::OsString::from)
        .collect();
    assert_eq!(dirs.len(), 8);
    let series: usize =
        std::fs::read_to_string(std::path::Path::new(&dirs[0]).join("manifest.json"))
            .ok()
            .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
            .and_then(|m| m["tables"]["series"].as_u64())
            .unwrap() as usize;
    assert_eq!(series, 200 * 600, "one series cell per service and second");
    let merge_bin = std::env::var_os("HVSLEUTH_MERGE_BIN").unwrap_or_else(|| bin().into());
    let merge = |n: usize| {
        let mut a: Vec<std::ffi::OsString> = ["analyze", "--json", "--no-progress"]
            .iter()
            .map(std::ffi::OsString::from)
            .collect();
        for d in &dirs[..n] {
            a.push("--from".into());
            a.push(d.clone());
        }
        let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        peak_rss_kib_of(&merge_bin, &refs)
    };
    let (two, c2) = merge(2);
    let (eight, c8) = merge(8);
    assert_eq!((c2, c8), (Some(0), Some(0)));
    let per_shard_kib = (eight - two) / 6;
    assert!(
        per_shard_kib <= 1024,
        "{per_shard_kib} KiB of peak RSS per shard (2 shards: {two} KiB, 8: {eight} KiB)"
    );
    // The bound does not rest on a shard's word: a table the merge keeps for
    // every shard, holding more rows than a scan writes, is refused before
    // its rows are read (here 120,000 segment samples; a scan keeps 50,000).
    let bad = std::path::Path::new(&dirs[1]);
    std::fs::copy(bad.join("series.parquet"), bad.join("seg_samples.parquet")).unwrap();
    let out = Command::new(bin())
        .args(["analyze", "--json", "--no-progress", "--from"])
        .arg(&dirs[0])
        .arg("--from")
        .arg(bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("damaged shard")
            && err.contains("120000 rows, more than a scan writes (50000)"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
