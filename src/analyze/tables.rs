//! The analyze tables as polars DataFrames, written as CSV and Parquet:
//! `interface_roles` (interface x role x time bucket) and `groups` (one row
//! per service between two addresses on an interface, with role and reason).

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use hvsleuth_reports::Role;
use polars::prelude::*;

use super::summary::Summary;
use crate::merge::attribute::Model;

/// interface x role x bucket: bytes and packets sent and received.
pub fn interface_roles(m: &Model) -> PolarsResult<DataFrame> {
    let (mut node, mut iface, mut role, mut ts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut btx, mut brx, mut ptx, mut prx) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in &m.ifaces {
        for r in Role::ALL {
            for (bucket, c) in &m.series[i.id][r.index()] {
                node.push(i.node.clone());
                iface.push(i.interface.clone());
                role.push(r.name());
                ts.push(bucket * m.bucket_ns);
                btx.push(c.bytes[0]);
                brx.push(c.bytes[1]);
                ptx.push(c.packets[0]);
                prx.push(c.packets[1]);
            }
        }
    }
    let time = Series::new("bucket_start".into(), ts).cast(&DataType::Datetime(
        TimeUnit::Nanoseconds,
        Some(TimeZone::UTC),
    ))?;
    DataFrame::new_infer_height(vec![
        Column::new("node".into(), node),
        Column::new("interface".into(), iface),
        Column::new("role".into(), role),
        time.into(),
        Column::new("bytes_tx".into(), btx),
        Column::new("bytes_rx".into(), brx),
        Column::new("packets_tx".into(), ptx),
        Column::new("packets_rx".into(), prx),
    ])
}

/// One row per attributed group.
pub fn groups(m: &Model) -> PolarsResult<DataFrame> {
    let g = &m.groups;
    let col_s = |name: &str, f: &dyn Fn(&crate::merge::attribute::GroupRow) -> String| {
        Column::new(name.into(), g.iter().map(f).collect::<Vec<String>>())
    };
    let col_u = |name: &str, f: &dyn Fn(&crate::merge::attribute::GroupRow) -> u64| {
        Column::new(name.into(), g.iter().map(f).collect::<Vec<u64>>())
    };
    let ts = |name: &str,
              f: &dyn Fn(&crate::merge::attribute::GroupRow) -> i64|
     -> PolarsResult<Column> {
        Ok(
            Series::new(name.into(), g.iter().map(f).collect::<Vec<i64>>())
                .cast(&DataType::Datetime(
                    TimeUnit::Nanoseconds,
                    Some(TimeZone::UTC),
                ))?
                .into(),
        )
    };
    let ip = |a: Option<std::net::IpAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    DataFrame::new_infer_height(vec![
        col_s("node", &|r| m.ifaces[r.iface].node.clone()),
        col_s("interface", &|r| m.ifaces[r.iface].interface.clone()),
        col_s("proto", &|r| format!("{:?}", r.key.proto).to_lowercase()),
        col_s("client", &|r| ip(r.key.client)),
        col_s("server", &|r| ip(r.key.server)),
        col_u("port", &|r| r.key.port as u64),
        col_s("role", &|r| r.role.name().to_string()),
        col_s("reason", &|r| r.reason.clone()),
        col_u("bytes", &|r| r.bytes),
        col_u("bytes_tx", &|r| r.txrx[0]),
        col_u("bytes_rx", &|r| r.txrx[1]),
        col_u("packets", &|r| r.packets),
        col_u("connections", &|r| r.flows),
        ts("first_seen", &|r| r.first_ts_ns)?,
        ts("last_seen", &|r| r.last_ts_ns)?,
        col_u("tcp_retransmissions", &|r| r.tcp.retransmissions),
        col_u("tcp_duplicates", &|r| r.tcp.duplicates),
        col_u("tcp_out_of_order", &|r| r.tcp.out_of_order),
        col_u("tcp_gaps", &|r| r.tcp.gaps),
    ])
}

/// A copy of `df` whose text cells cannot start a spreadsheet formula
/// ([`hvsleuth_reports::escape::csv_cell`]); Parquet keeps the raw values.
fn csv_safe(df: &DataFrame) -> PolarsResult<DataFrame> {
    let cols = df
        .columns()
        .iter()
        .map(|c| -> PolarsResult<Column> {
            if c.dtype() != &DataType::String {
                return Ok(c.clone());
            }
            let ca = c
                .str()?
                .apply_into_string_amortized(|v: &str, buf: &mut String| {
                    buf.push_str(&hvsleuth_reports::escape::csv_cell(v));
                });
            Ok(ca.with_name(c.name().clone()).into_column())
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new_infer_height(cols)
}

fn write(dir: &Path, name: &str, df: &mut DataFrame) -> Result<()> {
    let csv = dir.join(format!("{name}.csv"));
    let mut f = File::create(&csv).with_context(|| format!("{}", csv.display()))?;
    let mut safe = anyhow::Context::with_context(csv_safe(df), || format!("{}", csv.display()))?;
    anyhow::Context::with_context(CsvWriter::new(&mut f).finish(&mut safe), || {
        format!("{}", csv.display())
    })?;
    let pq = dir.join(format!("{name}.parquet"));
    let f = File::create(&pq).with_context(|| format!("{}", pq.display()))?;
    anyhow::Context::with_context(ParquetWriter::new(f).finish(df), || {
        format!("{}", pq.display())
    })?;
    Ok(())
}

/// Perfmon samples in long form: one row per counter and sample, with the
/// counter's role class; unknown counters are kept (role empty).
pub fn counters(ev: &crate::evidence::Evidence) -> PolarsResult<DataFrame> {
    let n: usize = ev.counters.iter().map(|c| c.samples.len()).sum();
    let (mut host, mut object, mut instance, mut counter, mut role) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut ts, mut value) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for c in &ev.counters {
        let r = c.class.role.map(|r| format!("{r:?}")).unwrap_or_default();
        for (t, v) in &c.samples {
            host.push(c.path.host.clone());
            object.push(c.path.object.clone());
            instance.push(c.path.instance.clone().unwrap_or_default());
            counter.push(c.path.counter.clone());
            role.push(r.clone());
            ts.push(*t);
            value.push(*v);
        }
    }
    let time = Series::new("time".into(), ts).cast(&DataType::Datetime(
        TimeUnit::Nanoseconds,
        Some(TimeZone::UTC),
    ))?;
    DataFrame::new_infer_height(vec![
        Column::new("host".into(), host),
        Column::new("object".into(), object),
        Column::new("instance".into(), instance),
        Column::new("counter".into(), counter),
        Column::new("role".into(), role),
        time.into(),
        Column::new("value".into(), value),
    ])
}

/// One row per SMB session: dialect, encryption, channels (Multichannel), shares, bytes.
pub fn smb_sessions(r: &hvsleuth_parsers::smb::model::SmbReport) -> PolarsResult<DataFrame> {
    let s = &r.sessions;
    let channels = |x: &hvsleuth_parsers::smb::model::SessionReport| {
        x.channels
            .iter()
            .map(|c| {
                let at = if c.seen_in.is_empty() {
                    format!("{}/{}", c.capture, c.interface)
                } else {
                    c.seen_in.join("+")
                };
                format!("{}>{}@{}", c.client, c.server, at)
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let shares = |x: &hvsleuth_parsers::smb::model::SessionReport| {
        x.trees
            .iter()
            .map(|t| t.share.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    DataFrame::new_infer_height(vec![
        Column::new(
            "session_id".into(),
            s.iter().map(|x| x.session_id.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "dialect".into(),
            s.iter()
                .map(|x| x.dialect.clone().unwrap_or_default())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "encrypted".into(),
            s.iter().map(|x| x.encrypted).collect::<Vec<_>>(),
        ),
        Column::new(
            "channel_count".into(),
            s.iter()
                .map(|x| x.channels.len() as u64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "channels".into(),
            s.iter().map(channels).collect::<Vec<_>>(),
        ),
        Column::new("shares".into(), s.iter().map(shares).collect::<Vec<_>>()),
        Column::new(
            "scaleout_or_cluster".into(),
            s.iter().map(|x| x.scaleout_or_cluster).collect::<Vec<_>>(),
        ),
        Column::new(
            "read_bytes".into(),
            s.iter().map(|x| x.read_bytes).collect::<Vec<_>>(),
        ),
        Column::new(
            "write_bytes".into(),
            s.iter().map(|x| x.write_bytes).collect::<Vec<_>>(),
        ),
        Column::new(
            "encrypted_bytes".into(),
            s.iter().map(|x| x.encrypted_bytes).collect::<Vec<_>>(),
        ),
        Column::new(
            "incomplete_messages".into(),
            s.iter().map(|x| x.incomplete_messages).collect::<Vec<_>>(),
        ),
        // How the session key came (never the key), and the signed messages it verified.
        Column::new(
            "key_source".into(),
            s.iter()
                .map(|x| x.key.as_ref().map(|k| k.how.clone()).unwrap_or_default())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "signatures_verified".into(),
            s.iter().map(|x| x.signatures.verified).collect::<Vec<_>>(),
        ),
        Column::new(
            "signatures_failed".into(),
            s.iter().map(|x| x.signatures.failed).collect::<Vec<_>>(),
        ),
    ])
}

/// Writes every table and `summary.json` into `dir` (created if needed).
pub fn write_all(
    dir: &Path,
    m: &Model,
    summary: &Summary,
    ev: &crate::evidence::Evidence,
    smb: &hvsleuth_parsers::smb::model::SmbReport,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write(dir, "interface_roles", &mut interface_roles(m)?)?;
    write(dir, "groups", &mut groups(m)?)?;
    if !ev.counters.is_empty() {
        write(dir, "counters", &mut counters(ev)?)?;
    }
    if !smb.sessions.is_empty() {
        write(dir, "smb_sessions", &mut smb_sessions(smb)?)?;
    }
    let json = serde_json::to_string_pretty(summary)?;
    std::fs::write(dir.join("summary.json"), json + "\n")?;
    Ok(())
}
