//! `hvsleuth scan` + `analyze --from` against the one-command `analyze`:
//! every output file (summary.json, findings.json, the CSV and Parquet
//! tables, report.md/html, charts) and the `--json` summary are byte for byte
//! the same on every sample scenario; unchanged inputs reuse their shards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{repo, run};

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hvsleuth-shards-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every file under `dir`, by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The sample scenarios: (inputs, inventory).
fn scenarios() -> Vec<(Vec<PathBuf>, Option<PathBuf>)> {
    let s = repo().join("samples");
    let inv = s.join("inventory.toml");
    let mut v = Vec::new();
    for name in [
        "baseline",
        "heartbeat-loss",
        "live-migration",
        "multichannel",
        "restore-constrained",
        "restore-flood",
        "sofs-redirect",
    ] {
        v.push((vec![s.join(name)], Some(inv.clone())));
    }
    // A capture scenario with the evidence fixtures beside it, and without an inventory.
    v.push((vec![s.join("restore-flood"), s.join("fixtures")], None));
    v.push((vec![s.join("encrypted")], None));
    v.push((vec![s.join("fixtures")], Some(inv)));
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(s.join("generated"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    seeds.sort();
    for g in seeds {
        let inv = g.join("inventory.toml");
        v.push((vec![g], inv.is_file().then_some(inv)));
    }
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn scan_then_merge_equals_analyze_on_every_sample() {
    let root = tmp("equal");
    let mut compared = 0usize;
    for (i, (inputs, inv)) in scenarios().into_iter().enumerate() {
        let direct = root.join(format!("{i}-direct"));
        let merged = root.join(format!("{i}-merged"));
        let shards = root.join(format!("{i}-shards"));
        let mut a: Vec<&str> = vec!["analyze", "--no-progress", "--json"];
        a.extend(inputs.iter().map(|p| s(p)));
        let mut m: Vec<&str> = vec!["analyze", "--no-progress", "--json", "--from", s(&shards)];
        if let Some(inv) = &inv {
            a.extend(["--inventory", s(inv)]);
            m.extend(["--inventory", s(inv)]);
        }
        a.extend(["--out", s(&direct)]);
        m.extend(["--out", s(&merged)]);
        let want = run(&a);
        let mut sc: Vec<&str> = vec!["scan", "--no-progress", "--out", s(&shards)];
        sc.extend(inputs.iter().map(|p| s(p)));
        let scanned = run(&sc);
        assert_eq!(
            scanned.status.code(),
            want.status.code(),
            "{inputs:?}: scan exit code\n{}",
            String::from_utf8_lossy(&scanned.stderr)
        );
        let printed = String::from_utf8_lossy(&scanned.stdout);
        assert!(
            printed.lines().count() >= 1
                && printed
                    .lines()
                    .all(|l| Path::new(l).join("manifest.json").is_file()),
            "{inputs:?}: scan prints its shard directories: {printed}"
        );
        let got = run(&m);
        assert_eq!(
            got.status.code(),
            want.status.code(),
            "{inputs:?}: exit code\n{}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert!(
            got.stdout == want.stdout,
            "{inputs:?}: --json summary differs"
        );
        let (fa, fb) = (files(&direct), files(&merged));
        assert_eq!(
            fa.keys().collect::<Vec<_>>(),
            fb.keys().collect::<Vec<_>>(),
            "{inputs:?}: the same files"
        );
        for name in ["summary.json", "findings.json", "interface_roles.csv"] {
            assert!(
                fa.contains_key(Path::new(name)),
                "{inputs:?}: {name} written"
            );
        }
        for (k, v) in &fa {
            assert!(fb[k] == *v, "{inputs:?}: {} differs", k.display());
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared} files compared");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn unchanged_inputs_reuse_their_shards() {
    let root = tmp("reuse");
    let inputs = root.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    let src = repo().join("samples/restore-flood");
    for f in ["node1.pcapng", "node2.pcapng", "perfmon-node1.csv"] {
        std::fs::copy(src.join(f), inputs.join(f)).unwrap();
    }
    let shards = root.join("shards");
    let first = run(&["scan", "--no-progress", "--out", s(&shards), s(&inputs)]);
    assert_eq!(first.status.code(), Some(0));
    let before = files(&shards);
    let again = run(&["scan", "--no-progress", "--out", s(&shards), s(&inputs)]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(err.matches("shard reused").count(), 3, "{err}");
    assert!(
        files(&shards) == before,
        "reused shards are left as they were"
    );
    assert_eq!(first.stdout, again.stdout, "the same shard directories");
    // A changed input is scanned again; the others are reused.
    let mut b = std::fs::read(inputs.join("node2.pcapng")).unwrap();
    b.truncate(b.len() / 2);
    std::fs::write(inputs.join("node2.pcapng"), b).unwrap();
    let third = run(&["scan", "--no-progress", "--out", s(&shards), s(&inputs)]);
    let err = String::from_utf8_lossy(&third.stderr);
    assert_eq!(err.matches("shard reused").count(), 2, "{err}");
    assert!(!err.contains("node2.pcapng: unchanged"), "{err}");
    // Another bucket needs other shards: the merge says so instead of mixing.
    let m = run(&[
        "analyze",
        "--no-progress",
        "--from",
        s(&shards),
        "--bucket",
        "100ms",
    ]);
    assert_eq!(m.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&m.stderr).contains("scan again with the same --bucket"),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// scale/spark_analyze.py with its process engine (the same tasks and merge
/// as under Spark, without a JVM): the same --json summary and output files
/// as analyze. The pyspark run itself is scale/test_spark.sh (HVSLEUTH_SPARK=1).
#[test]
fn spark_driver_tasks_and_merge_equal_analyze() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped spark_driver_tasks_and_merge_equal_analyze: no python3");
        return;
    }
    let root = tmp("driver");
    let samples = repo().join("samples");
    let inv = samples.join("inventory.toml");
    let inputs = [samples.join("restore-flood"), samples.join("fixtures")];
    let direct = root.join("direct");
    let mut a = vec!["analyze", "--no-progress", "--json", "--inventory", s(&inv)];
    a.extend(["--out", s(&direct)]);
    a.extend(inputs.iter().map(|p| s(p)));
    let want = run(&a);
    let via = root.join("via");
    let shards = root.join("shards");
    let script = repo().join("scale/spark_analyze.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(&script)
        .args(["--engine", "processes", "--hvsleuth", crate::common::bin()])
        .arg("--shards")
        .arg(&shards)
        .args(&inputs)
        .args(["--", "--json", "--inventory", s(&inv), "--out", s(&via)]);
    let got = cmd.output().expect("python3 runs the driver");
    assert_eq!(
        got.status.code(),
        want.status.code(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert!(
        got.stdout == want.stdout,
        "driver --json differs from analyze:\n{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let (fa, fb) = (files(&direct), files(&via));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(fb[k] == *v, "{} differs", k.display());
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `--dataset` from shards alone (the inputs gone, as on a Spark driver
/// without the captures): the same incident id, so the same part files,
/// as the direct analysis.
#[test]
fn dataset_from_shards_needs_no_inputs() {
    let root = tmp("dataset");
    let inputs = root.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    let src = repo().join("samples/restore-flood");
    for f in ["node1.pcapng", "node2.pcapng", "perfmon-node1.csv"] {
        std::fs::copy(src.join(f), inputs.join(f)).unwrap();
    }
    let (direct, merged) = (root.join("ds-direct"), root.join("ds-merged"));
    let shards = root.join("shards");
    let a = run(&[
        "analyze",
        "--no-progress",
        "--dataset",
        s(&direct),
        s(&inputs),
    ]);
    assert_eq!(a.status.code(), Some(0));
    let sc = run(&["scan", "--no-progress", "--out", s(&shards), s(&inputs)]);
    assert_eq!(sc.status.code(), Some(0));
    std::fs::remove_dir_all(&inputs).unwrap();
    let m = run(&[
        "analyze",
        "--no-progress",
        "--from",
        s(&shards),
        "--dataset",
        s(&merged),
    ]);
    assert_eq!(
        m.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    let (fa, fb) = (files(&direct), files(&merged));
    assert!(fa.keys().any(|k| k.to_string_lossy().contains("part-")));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(fb[k] == *v, "{} differs", k.display());
    }
    let _ = std::fs::remove_dir_all(&root);
}
