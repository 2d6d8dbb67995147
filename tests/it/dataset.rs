//! `analyze --dataset`: the Hive-partitioned Parquet dataset, read back by
//! an engine that shares no code with hvsleuth (DuckDB's Python wheel,
//! installed by .ci/run) and compared with `analyze --json`.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::{repo, run_json};

fn duckdb_available() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// (incident, node, interface, role) -> bytes, as DuckDB sums them.
fn duckdb_sums(dataset: &std::path::Path) -> BTreeMap<(String, String, String, String), u64> {
    let q = format!(
        "import duckdb, json\n\
         rows = duckdb.sql(\"\"\"SELECT incident, node, interface, role, SUM(bytes)::UBIGINT,\n\
           SUM(bytes_tx + bytes_rx)::UBIGINT FROM read_parquet('{}/interface_roles/**/*.parquet',\n\
           hive_partitioning = true) GROUP BY ALL\"\"\").fetchall()\n\
         print(json.dumps(rows))\n",
        dataset.display()
    );
    let out = Command::new("python3").args(["-c", &q]).output().unwrap();
    assert!(
        out.status.success(),
        "duckdb query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, String, String, String, u64, u64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    rows.into_iter()
        .map(|(i, n, f, r, b, txrx)| {
            assert_eq!(b, txrx, "bytes = bytes_tx + bytes_rx");
            ((i, n, f, r), b)
        })
        .collect()
}

fn duckdb_scalar(q: &str) -> String {
    let py = format!("import duckdb\nprint(duckdb.sql(\"\"\"{q}\"\"\").fetchall()[0][0])\n");
    let out = Command::new("python3").args(["-c", &py]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// node, interface, role -> bytes from `analyze --json`.
fn json_sums(v: &serde_json::Value) -> BTreeMap<(String, String, String), u64> {
    let mut m = BTreeMap::new();
    for i in v["interfaces"].as_array().unwrap() {
        let node = i["node"].as_str().unwrap().to_string();
        let iface = i["interface"].as_str().unwrap().to_string();
        for (role, r) in i["roles"].as_object().unwrap() {
            let b = r["bytes"].as_u64().unwrap();
            if b > 0 {
                m.insert((node.clone(), iface.clone(), role.clone()), b);
            }
        }
    }
    m
}

#[test]
fn dataset_sums_equal_analyze_json_and_incidents_stay_apart() {
    if !duckdb_available() {
        eprintln!("skipped: python3 module duckdb not installed (.ci/run installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("hvs-dataset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let ds = dir.join("ds");
    let ds_s = ds.to_str().unwrap();
    let inv = repo().join("samples/inventory.toml");
    let inv = inv.to_str().unwrap();
    let mut expected = BTreeMap::new();
    let mut incidents = Vec::new();
    for scenario in ["restore-flood", "restore-constrained"] {
        let input = repo().join("samples").join(scenario);
        let (code, v) = run_json(&[
            "analyze",
            input.to_str().unwrap(),
            "--inventory",
            inv,
            "--json",
            "--no-progress",
            "--dataset",
            ds_s,
        ]);
        assert_eq!(code, 0);
        incidents.push(json_sums(&v));
    }
    // Re-exporting an incident replaces its parts: nothing counted twice.
    let (code, _) = run_json(&[
        "analyze",
        repo().join("samples/restore-flood").to_str().unwrap(),
        "--inventory",
        inv,
        "--json",
        "--no-progress",
        "--dataset",
        ds_s,
    ]);
    assert_eq!(code, 0);

    let got = duckdb_sums(&ds);
    let ids: std::collections::BTreeSet<&String> = got.keys().map(|k| &k.0).collect();
    assert_eq!(
        ids.len(),
        2,
        "two incidents, separable by the incident column"
    );
    // Each incident's sums are exactly one of the analyses.
    for id in ids {
        let mine: BTreeMap<(String, String, String), u64> = got
            .iter()
            .filter(|(k, b)| &k.0 == id && **b > 0)
            .map(|(k, b)| ((k.1.clone(), k.2.clone(), k.3.clone()), *b))
            .collect();
        let matches = incidents.iter().filter(|e| **e == mine).count();
        assert_eq!(matches, 1, "incident {id}: {mine:?}");
        expected.insert(id.clone(), mine);
    }
    // Timestamps are TIMESTAMP(MICROS, UTC) and the schema file names the roles.
    let ty = duckdb_scalar(&format!(
        "SELECT typeof(bucket_start) FROM read_parquet('{ds_s}/interface_roles/**/*.parquet', hive_partitioning = true) LIMIT 1"
    ));
    assert_eq!(ty, "TIMESTAMP WITH TIME ZONE");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("_schema.json")).unwrap()).unwrap();
    assert_eq!(schema["schema_version"], 1);
    assert!(
        schema["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "redirected-io")
    );
    // Findings of both incidents are there, by incident.
    let n = duckdb_scalar(&format!(
        "SELECT COUNT(DISTINCT incident) FROM read_parquet('{ds_s}/findings/**/*.parquet', hive_partitioning = true)"
    ));
    assert_eq!(n, "2");
    let _ = std::fs::remove_dir_all(&dir);
}
