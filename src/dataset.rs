//! `analyze --dataset DIR`: appends one analysis (an "incident") to a
//! Hive-partitioned Parquet dataset that Spark, DuckDB, Trino or polars read
//! as tables across many incidents.
//!
//! Layout (`_schema.json` at the root describes every table):
//!
//! ```text
//! DIR/_schema.json
//! DIR/interface_roles/cluster=C/date=YYYY-MM-DD/node=N/part-<incident>.parquet
//! DIR/groups/cluster=C/date=D/node=N/part-<incident>.parquet
//! DIR/findings/cluster=C/date=D/node=N/part-<incident>.parquet
//! DIR/timeline/cluster=C/date=D/node=N/part-<incident>.parquet
//! DIR/counters/cluster=C/date=D/node=N/part-<incident>.parquet   (node = perfmon host)
//! DIR/smb_sessions/cluster=C/date=D/part-<incident>.parquet
//! DIR/incidents/cluster=C/part-<incident>.parquet
//! ```
//!
//! The incident id is derived from the inputs' content (size and SHA-256 of
//! the first MiB of each file), so re-exporting the same inputs replaces the
//! incident's parts instead of adding them twice, and two incidents appended
//! to one dataset stay apart (column `incident` in every table). Partition
//! columns live in the path only (as Hive does), values escaped like Hive
//! (`%XX`), a missing value is `__HIVE_DEFAULT_PARTITION__`. Timestamps are
//! TIMESTAMP(MICROS, UTC); every metric is additive across parts.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hvsleuth_reports::Role;
use hvsleuth_reports::model::TimelineEvent;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::analyze::summary::Summary;
use crate::analyze::tables;
use crate::merge::attribute::Model;

/// Bumped whenever a table's columns change meaning or type.
pub const SCHEMA_VERSION: u32 = 1;
/// What Hive writes for a missing partition value.
const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Everything one incident contributes.
pub struct Incident<'a> {
    pub cluster: Option<&'a str>,
    pub inputs: &'a [String],
    /// Per input, its (size, SHA-256 of the first MiB) when already known
    /// (from scan shards); else the inputs are read for the incident id.
    pub fingerprints: &'a [Option<(u64, [u8; 32])>],
    pub model: &'a Model,
    pub summary: &'a Summary,
    pub evidence: &'a crate::evidence::Evidence,
    pub smb: &'a hvsleuth_parsers::smb::model::SmbReport,
    pub timeline: &'a [TimelineEvent],
}

/// What [`append`] wrote.
#[derive(Debug)]
pub struct Appended {
    pub incident: String,
    pub files: usize,
    pub replaced: usize,
}

/// The incident id: SHA-256 over each input's size and the SHA-256 of its
/// first MiB, inputs in sorted order; 16 hex digits.
pub fn incident_id(inputs: &[String]) -> Result<String> {
    let mut parts: Vec<(u64, [u8; 32])> = Vec::with_capacity(inputs.len());
    for p in inputs {
        let mut f = File::open(p).with_context(|| format!("cannot open {p}"))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut head = Vec::with_capacity(1 << 20);
        (&mut f)
            .take(1 << 20)
            .read_to_end(&mut head)
            .with_context(|| format!("cannot read {p}"))?;
        parts.push((size, Sha256::digest(&head).into()));
    }
    Ok(incident_id_of(parts))
}

/// [`incident_id`] from each input's (size, SHA-256 of its first MiB), as a
/// scan shard's manifest records them (the inputs need not be readable here).
pub fn incident_id_of(mut parts: Vec<(u64, [u8; 32])>) -> String {
    parts.sort();
    let mut h = Sha256::new();
    for (size, d) in &parts {
        h.update(size.to_le_bytes());
        h.update(d);
    }
    hex(&h.finalize()[..8])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A partition value escaped as Hive does: bytes outside `[A-Za-z0-9._-]`
/// become `%XX`; empty is the default partition.
pub fn escape_partition(v: &str) -> String {
    if v.is_empty() {
        return DEFAULT_PARTITION.to_string();
    }
    let mut s = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    // "." and ".." are not directory names one can use.
    if s == "." || s == ".." {
        s = s.replace('.', "%2E");
    }
    s
}

/// `YYYY-MM-DD` (UTC) of a Unix-ns time.
pub fn utc_date(ns: i64) -> String {
    hvsleuth_reports::units::utc_date(ns)
}

/// Rows of one table with their partition values (in partition order).
struct Table {
    name: &'static str,
    df: DataFrame,
    /// Per row: the partition values (unescaped; `None` = default).
    keys: Vec<Vec<Option<String>>>,
    partitions: &'static [&'static str],
}

fn micros(col: &str, ns: Vec<Option<i64>>) -> PolarsResult<Column> {
    let us = Int64Chunked::from_iter_options(
        col.into(),
        ns.into_iter().map(|v| v.map(|n| n.div_euclid(1000))),
    );
    Ok(us
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series()
        .into())
}

/// Replaces a nanosecond datetime column by its microsecond form and
/// returns its raw ns values.
fn to_micros(df: &mut DataFrame, col: &str) -> PolarsResult<Vec<Option<i64>>> {
    let s = df.column(col)?.as_materialized_series().clone();
    let raw = s.cast(&DataType::Int64)?;
    let ns: Vec<Option<i64>> = raw.i64()?.iter().collect();
    df.with_column(micros(col, ns.clone())?)?;
    Ok(ns)
}

fn strings(df: &DataFrame, col: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(col)?
        .as_materialized_series()
        .str()?
        .iter()
        .map(|v| v.filter(|s| !s.is_empty()).map(str::to_string))
        .collect())
}

fn date_or(ns: Option<i64>, fallback: &Option<String>) -> Option<String> {
    ns.map(utc_date).or_else(|| fallback.clone())
}

/// A table with its per-row node and time (ns) for partitioning.
type Keyed = (DataFrame, Vec<Option<String>>, Vec<Option<i64>>);

fn interface_roles(m: &Model) -> PolarsResult<Keyed> {
    let mut df = tables::interface_roles(m)?;
    let ns = to_micros(&mut df, "bucket_start")?;
    let node = strings(&df, "node")?;
    let bytes = (df.column("bytes_tx")?.as_materialized_series()
        + df.column("bytes_rx")?.as_materialized_series())?;
    let packets = (df.column("packets_tx")?.as_materialized_series()
        + df.column("packets_rx")?.as_materialized_series())?;
    df.with_column(Column::from(bytes.with_name("bytes".into())))?;
    df.with_column(Column::from(packets.with_name("packets".into())))?;
    Ok((df, node, ns))
}

fn findings(s: &Summary) -> PolarsResult<DataFrame> {
    let f = &s.findings;
    let st = |g: &dyn Fn(&hvsleuth_reports::Finding) -> String| f.iter().map(g).collect::<Vec<_>>();
    DataFrame::new_infer_height(vec![
        Column::new("node".into(), st(&|x| x.node.clone().unwrap_or_default())),
        Column::new("id".into(), st(&|x| x.id.clone())),
        Column::new(
            "severity".into(),
            st(&|x| format!("{:?}", x.severity).to_lowercase()),
        ),
        Column::new("title".into(), st(&|x| x.title.clone())),
        Column::new(
            "interface".into(),
            st(&|x| x.interface.clone().unwrap_or_default()),
        ),
        micros(
            "window_start",
            f.iter().map(|x| x.window_start_ns).collect(),
        )?,
        micros("window_end", f.iter().map(|x| x.window_end_ns).collect())?,
        Column::new("summary".into(), st(&|x| x.summary.clone())),
        Column::new("count".into(), vec![1u64; f.len()]),
    ])
}

fn timeline(t: &[TimelineEvent]) -> PolarsResult<DataFrame> {
    DataFrame::new_infer_height(vec![
        micros("time", t.iter().map(|e| Some(e.ts_ns)).collect())?,
        Column::new(
            "source".into(),
            t.iter().map(|e| e.source.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "node".into(),
            t.iter()
                .map(|e| e.node.clone().unwrap_or_default())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "text".into(),
            t.iter().map(|e| e.text.clone()).collect::<Vec<_>>(),
        ),
        Column::new("count".into(), vec![1u64; t.len()]),
    ])
}

fn build(inc: &Incident<'_>, id: &str) -> Result<Vec<Table>> {
    let cluster = inc.cluster.map(str::to_string);
    let (ir, ir_node, ir_ns) = interface_roles(inc.model)?;
    // The incident's date: its first bucket (tables without their own time).
    let first = ir_ns.iter().flatten().min().copied();
    let day = first.map(utc_date);
    let mut out = Vec::new();
    let keyed = |node: &[Option<String>], ns: &[Option<i64>]| -> Vec<Vec<Option<String>>> {
        node.iter()
            .zip(ns)
            .map(|(n, t)| vec![cluster.clone(), date_or(*t, &day), n.clone()])
            .collect()
    };
    out.push(Table {
        name: "interface_roles",
        keys: keyed(&ir_node, &ir_ns),
        df: ir,
        partitions: &["cluster", "date", "node"],
    });

    let mut g = tables::groups(inc.model)?;
    let g_ns = to_micros(&mut g, "first_seen")?;
    to_micros(&mut g, "last_seen")?;
    let g_node = strings(&g, "node")?;
    out.push(Table {
        name: "groups",
        keys: keyed(&g_node, &g_ns),
        df: g,
        partitions: &["cluster", "date", "node"],
    });

    let f = findings(inc.summary)?;
    let f_ns: Vec<Option<i64>> = inc
        .summary
        .findings
        .iter()
        .map(|x| x.window_start_ns)
        .collect();
    let f_node = strings(&f, "node")?;
    out.push(Table {
        name: "findings",
        keys: keyed(&f_node, &f_ns),
        df: f,
        partitions: &["cluster", "date", "node"],
    });

    let t = timeline(inc.timeline)?;
    let t_ns: Vec<Option<i64>> = inc.timeline.iter().map(|e| Some(e.ts_ns)).collect();
    let t_node = strings(&t, "node")?;
    out.push(Table {
        name: "timeline",
        keys: keyed(&t_node, &t_ns),
        df: t,
        partitions: &["cluster", "date", "node"],
    });

    if !inc.evidence.counters.is_empty() {
        let mut c = tables::counters(inc.evidence)?;
        let c_ns = to_micros(&mut c, "time")?;
        let c_host = strings(&c, "host")?;
        c.rename("host", "host_name".into())?;
        out.push(Table {
            name: "counters",
            keys: keyed(&c_host, &c_ns),
            df: c,
            partitions: &["cluster", "date", "node"],
        });
    }

    if !inc.smb.sessions.is_empty() {
        let s = tables::smb_sessions(inc.smb)?;
        let keys = (0..s.height())
            .map(|_| vec![cluster.clone(), day.clone()])
            .collect();
        out.push(Table {
            name: "smb_sessions",
            keys,
            df: s,
            partitions: &["cluster", "date"],
        });
    }

    let i = DataFrame::new_infer_height(vec![
        Column::new("inputs".into(), vec![inc.inputs.join("\n")]),
        Column::new("input_files".into(), vec![inc.inputs.len() as u64]),
        micros("first_bucket", vec![first])?,
        Column::new(
            "generator".into(),
            vec![format!("hvsleuth {}", env!("CARGO_PKG_VERSION"))],
        ),
        Column::new("count".into(), vec![1u64]),
    ])?;
    out.push(Table {
        name: "incidents",
        keys: vec![vec![cluster.clone()]],
        df: i,
        partitions: &["cluster"],
    });

    for t in &mut out {
        let n = t.df.height();
        t.df.with_column(Column::new("incident".into(), vec![id.to_string(); n]))?;
        // Partition columns are in the path only.
        for p in t.partitions {
            if t.df.column(p).is_ok() {
                t.df = t.df.drop(p)?;
            }
        }
    }
    Ok(out)
}

/// Removes every `part-<id>.parquet` below `dir` (an earlier export of the
/// same incident); returns how many.
fn remove_parts(dir: &Path, file: &str) -> Result<usize> {
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            n += remove_parts(&p, file)?;
        } else if ft.is_file() && e.file_name() == file {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
            n += 1;
        }
    }
    Ok(n)
}

fn schema_json(tables: &[Table]) -> serde_json::Value {
    let mut t = serde_json::Map::new();
    for table in tables {
        let cols: Vec<serde_json::Value> = table
            .df
            .columns()
            .iter()
            .map(
                |c| serde_json::json!({ "name": c.name().as_str(), "type": c.dtype().to_string() }),
            )
            .collect();
        t.insert(
            table.name.to_string(),
            serde_json::json!({ "partitions": table.partitions, "columns": cols }),
        );
    }
    serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "generator": format!("hvsleuth {}", env!("CARGO_PKG_VERSION")),
        "roles": Role::ALL.iter().map(|r| r.name()).collect::<Vec<_>>(),
        "timestamps": "TIMESTAMP(MICROS, UTC)",
        "incident": "16 hex digits of SHA-256 over the inputs' sizes and first-MiB SHA-256s; part files are named part-<incident>.parquet",
        "tables": t,
    })
}

/// Appends (or replaces) one incident in the dataset at `root`.
pub fn append(root: &Path, inc: &Incident<'_>) -> Result<Appended> {
    let known: Option<Vec<(u64, [u8; 32])>> = inc.fingerprints.iter().copied().collect();
    let id = match known {
        Some(parts) if parts.len() == inc.inputs.len() => incident_id_of(parts),
        _ => incident_id(inc.inputs)?,
    };
    let schema_path = root.join("_schema.json");
    if let Ok(old) = std::fs::read_to_string(&schema_path) {
        let v: serde_json::Value = serde_json::from_str(&old)
            .with_context(|| format!("{} is not JSON", schema_path.display()))?;
        let ver = v.get("schema_version").and_then(|x| x.as_u64());
        if ver != Some(SCHEMA_VERSION as u64) {
            bail!(
                "{} has schema version {:?}, this hvsleuth writes {SCHEMA_VERSION}: use a new dataset directory",
                schema_path.display(),
                ver
            );
        }
    }
    let mut tables = build(inc, &id)?;
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let file = format!("part-{id}.parquet");
    let mut replaced = 0;
    let mut files = 0;
    for t in &mut tables {
        replaced += remove_parts(&root.join(t.name), &file)?;
        // Rows grouped by partition, in first-seen order of the sorted keys.
        let mut parts: BTreeMap<&Vec<Option<String>>, Vec<IdxSize>> = BTreeMap::new();
        for (row, k) in t.keys.iter().enumerate() {
            parts.entry(k).or_default().push(row as IdxSize);
        }
        for (key, rows) in parts {
            let mut dir: PathBuf = root.join(t.name);
            for (name, v) in t.partitions.iter().zip(key) {
                dir.push(format!(
                    "{name}={}",
                    escape_partition(v.as_deref().unwrap_or(""))
                ));
            }
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let idx = IdxCa::from_vec("idx".into(), rows);
            let mut part = t.df.take(&idx)?;
            let path = dir.join(&file);
            let f = File::create(&path).with_context(|| format!("{}", path.display()))?;
            anyhow::Context::with_context(ParquetWriter::new(f).finish(&mut part), || {
                format!("{}", path.display())
            })?;
            files += 1;
        }
    }
    let schema = serde_json::to_string_pretty(&schema_json(&tables))? + "\n";
    std::fs::write(&schema_path, schema)
        .with_context(|| format!("cannot write {}", schema_path.display()))?;
    Ok(Appended {
        incident: id,
        files,
        replaced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(-1), "1969-12-31");
        // 2026-11-22T10:00:00Z
        assert_eq!(utc_date(1_795_341_600_000_000_000), "2026-11-22");
        // 2024-02-29 (leap day) and 2000-03-01.
        assert_eq!(utc_date(1_709_164_800_000_000_000), "2024-02-29");
        assert_eq!(utc_date(951_868_800_000_000_000), "2000-03-01");
    }

    #[test]
    fn partition_values_are_escaped() {
        assert_eq!(escape_partition("node1"), "node1");
        assert_eq!(escape_partition(""), DEFAULT_PARTITION);
        assert_eq!(escape_partition("a/b=c d"), "a%2Fb%3Dc%20d");
        assert_eq!(escape_partition(".."), "%2E%2E");
        assert_eq!(escape_partition("fe80::1"), "fe80%3A%3A1");
        assert_eq!(escape_partition("é"), "%C3%A9");
    }

    #[test]
    fn incident_id_depends_on_content_not_order() {
        let d = std::env::temp_dir().join(format!("hvs-ds-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let a = d.join("a");
        let b = d.join("b");
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        let (a, b) = (a.display().to_string(), b.display().to_string());
        let ab = incident_id(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(ab, incident_id(&[b.clone(), a.clone()]).unwrap());
        assert_eq!(ab.len(), 16);
        assert_ne!(ab, incident_id(std::slice::from_ref(&a)).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
