//! A shard's Parquet tables: each per-file structure the merge stage uses,
//! as flat tables (one row per group, bucket, arrival, sample ...), with
//! exact integer timestamps (ns, Int64) and counts (UInt64), so a shard
//! read back is the scan's result bit for bit.
//!
//! | table | one row per |
//! |---|---|
//! | `interfaces` | capture interface (index, name, description, link type, speed, snaplen, the MAC and addresses the capture tool recorded) |
//! | `iface_counts` | interface index: packets, wire bytes |
//! | `groups` | service group: key, totals, application facts, TCP counters |
//! | `group_facts` | share name or RPC interface of a group, in order |
//! | `series` | (group, time bucket): bytes and packets each way |
//! | `heartbeats`, `heartbeat_arrivals`, `heartbeat_gaps` | UDP 3343 track; its arrivals; its silences |
//! | `macs` | (table, interface, MAC, peer MAC or address): frames |
//! | `seg_samples` | sampled TCP segment: conversation, direction, seq, length, first time |
//! | `answers` | (interface, address): answers seen, the four smallest answer times |
//! | `counters`, `counter_samples` | perfmon counter column; its samples |
//! | `events` | timeline event |

use std::collections::BTreeMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use hvsleuth_parsers::capture::InterfaceInfo;
use hvsleuth_parsers::flow::{ConvKey, Direction, Endpoint, L4Proto};
use hvsleuth_parsers::link::LinkType;
use hvsleuth_parsers::perfmon::{CounterPath, classify};
use hvsleuth_parsers::smb::model::SmbModel;
use hvsleuth_parsers::tcp::TcpCounters;
use hvsleuth_reports::model::TimelineEvent;
use polars::prelude::*;

use crate::attribution::groups::{Cell, FrameLengths, Group, GroupKey};
use crate::attribution::rules::{AppFacts, Proto};
use crate::evidence::{Counter, Evidence};
use crate::merge::facts::{CaptureFacts, GroupHosts, SegSamples};
use crate::pipeline::files::ScanOutput;
use crate::pipeline::scan::{
    AnswerTimes, HB_MAX_ARRIVALS, HB_MAX_GAPS, HB_MAX_TRACKS, HeartbeatTrack, IfaceCounts,
    MAX_ANSWERS, MAX_MAC_ENTRIES, MAX_SEG_SAMPLES,
};

type Tables = BTreeMap<String, usize>;
/// A `macs` row: table, interface, MAC, peer MAC, address, frames.
type MacRow = (
    &'static str,
    u32,
    String,
    Option<String>,
    Option<String>,
    u64,
);
/// A sampled segment's key and first time.
type SegRow<'a> = (&'a (ConvKey, Direction, u32, u32), &'a i64);

fn put(dir: &Path, name: &str, cols: Vec<Column>, tables: &mut Tables) -> Result<()> {
    let mut df = DataFrame::new_infer_height(cols)?;
    let path = dir.join(format!("{name}.parquet"));
    let f = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    ParquetWriter::new(f)
        .finish(&mut df)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tables.insert(name.to_string(), df.height());
    Ok(())
}

fn get(dir: &Path, name: &str) -> Result<DataFrame> {
    read_table(dir, name, usize::MAX)
}

/// A table the merge keeps for every shard, refused (before its rows are
/// read) when it holds more rows than a scan writes: the merge's memory
/// bound must not rest on a shard's word.
fn get_bounded(dir: &Path, name: &str, max_rows: usize) -> Result<DataFrame> {
    read_table(dir, name, max_rows)
}

fn read_table(dir: &Path, name: &str, max_rows: usize) -> Result<DataFrame> {
    let path = dir.join(format!("{name}.parquet"));
    let f = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = ParquetReader::new(f);
    if max_rows < usize::MAX {
        let n = r
            .num_rows()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n > max_rows {
            bail!(
                "{}: {n} rows, more than a scan writes ({max_rows})",
                path.display()
            );
        }
    }
    r.finish()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot read {}", path.display()))
}

fn c<T, P: ?Sized>(name: &str, v: T) -> Column
where
    Series: NamedFrom<T, P>,
{
    Series::new(name.into(), v).into()
}

fn series<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Series> {
    Ok(df
        .column(name)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("column {name}"))?
        .as_materialized_series())
}

fn u64s(df: &DataFrame, name: &str) -> Result<Vec<u64>> {
    series(df, name)?
        .u64()?
        .iter()
        .map(|v| v.ok_or_else(|| anyhow!("{name}: null")))
        .collect()
}

fn opt_u64s(df: &DataFrame, name: &str) -> Result<Vec<Option<u64>>> {
    Ok(series(df, name)?.u64()?.iter().collect())
}

fn u32s(df: &DataFrame, name: &str) -> Result<Vec<u32>> {
    series(df, name)?
        .u32()?
        .iter()
        .map(|v| v.ok_or_else(|| anyhow!("{name}: null")))
        .collect()
}

fn opt_u32s(df: &DataFrame, name: &str) -> Result<Vec<Option<u32>>> {
    Ok(series(df, name)?.u32()?.iter().collect())
}

fn i64s(df: &DataFrame, name: &str) -> Result<Vec<i64>> {
    series(df, name)?
        .i64()?
        .iter()
        .map(|v| v.ok_or_else(|| anyhow!("{name}: null")))
        .collect()
}

fn f64s(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    series(df, name)?
        .f64()?
        .iter()
        .map(|v| v.ok_or_else(|| anyhow!("{name}: null")))
        .collect()
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<bool>> {
    series(df, name)?
        .bool()?
        .iter()
        .map(|v| v.ok_or_else(|| anyhow!("{name}: null")))
        .collect()
}

fn opt_strs(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    Ok(series(df, name)?
        .str()?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn strs(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    opt_strs(df, name)?
        .into_iter()
        .map(|v| v.ok_or_else(|| anyhow!("{name}: null")))
        .collect()
}

fn ip(s: &str) -> Result<IpAddr> {
    s.parse().map_err(|_| anyhow!("not an address: {s:?}"))
}

fn opt_ip(s: Option<String>) -> Result<Option<IpAddr>> {
    s.map(|s| ip(&s)).transpose()
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(s: &str) -> Result<[u8; 6]> {
    let mut m = [0u8; 6];
    if s.len() != 12 {
        bail!("not a MAC: {s:?}");
    }
    for (i, b) in m.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
            .map_err(|_| anyhow!("not a MAC: {s:?}"))?;
    }
    Ok(m)
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Icmp => "icmp",
        Proto::OtherIp => "other-ip",
        Proto::NonIp => "non-ip",
    }
}

fn proto_of(s: &str) -> Result<Proto> {
    Ok(match s {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "icmp" => Proto::Icmp,
        "other-ip" => Proto::OtherIp,
        "non-ip" => Proto::NonIp,
        _ => bail!("unknown group protocol {s:?}"),
    })
}

/// The TCP counters' fields as columns `tcp_<field>` (a struct literal on
/// the way back, so a new counter fails to compile here until it is added).
macro_rules! tcp_fields {
    ($m:ident) => {
        $m!(
            delivered_bytes,
            retransmissions,
            duplicates,
            keep_alives,
            overlaps,
            out_of_order,
            late,
            hole_fills,
            gaps,
            gap_bytes,
            truncated,
            ooo_overflow,
            out_of_window,
            resyncs,
            after_close,
            midstream
        )
    };
}

fn tcp_columns(groups: &[Group], cols: &mut Vec<Column>) {
    macro_rules! cols {
        ($($f:ident),*) => {
            $(cols.push(c(
                concat!("tcp_", stringify!($f)),
                groups.iter().map(|g| g.tcp.$f).collect::<Vec<u64>>(),
            ));)*
        };
    }
    tcp_fields!(cols);
}

fn tcp_read(df: &DataFrame) -> Result<Vec<TcpCounters>> {
    macro_rules! read {
        ($($f:ident),*) => {{
            $(let $f = u64s(df, concat!("tcp_", stringify!($f)))?;)*
            (0..df.height())
                .map(|i| TcpCounters { $($f: $f[i]),* })
                .collect()
        }};
    }
    Ok(tcp_fields!(read))
}

/// Writes a capture's tables (and `smb_model.json`) into `dir`.
pub fn write_capture(dir: &Path, s: &ScanOutput) -> Result<Tables> {
    let mut t = Tables::new();
    let ifs = &s.interfaces;
    put(
        dir,
        "interfaces",
        vec![
            c("index", ifs.iter().map(|i| i.index).collect::<Vec<u32>>()),
            c(
                "name",
                ifs.iter().map(|i| i.name.clone()).collect::<Vec<String>>(),
            ),
            c(
                "description",
                ifs.iter()
                    .map(|i| i.description.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
            c(
                "link_type",
                ifs.iter()
                    .map(|i| u32::from(i.link_type.0))
                    .collect::<Vec<u32>>(),
            ),
            c(
                "speed_bps",
                ifs.iter()
                    .map(|i| i.speed_bps)
                    .collect::<Vec<Option<u64>>>(),
            ),
            c(
                "snaplen",
                ifs.iter().map(|i| i.snaplen).collect::<Vec<u32>>(),
            ),
            c(
                "mac",
                ifs.iter()
                    .map(|i| i.mac.as_ref().map(mac_str))
                    .collect::<Vec<Option<String>>>(),
            ),
            c(
                "addresses",
                ifs.iter()
                    .map(|i| {
                        let a: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
                        (!a.is_empty()).then(|| a.join(" "))
                    })
                    .collect::<Vec<Option<String>>>(),
            ),
        ],
        &mut t,
    )?;
    let ic = &s.iface_counts;
    put(
        dir,
        "iface_counts",
        vec![
            c(
                "packets",
                ic.iter().map(|i| i.packets).collect::<Vec<u64>>(),
            ),
            c(
                "wire_bytes",
                ic.iter().map(|i| i.wire_bytes).collect::<Vec<u64>>(),
            ),
        ],
        &mut t,
    )?;
    let empty = crate::attribution::groups::Groups::new(1, 16);
    let g = s.groups.as_ref().unwrap_or(&empty);
    let keys = &g.keys;
    let gs = &g.groups;
    let mut cols = vec![
        c("iface", keys.iter().map(|k| k.iface).collect::<Vec<u32>>()),
        c(
            "proto",
            keys.iter()
                .map(|k| proto_name(k.proto))
                .collect::<Vec<&str>>(),
        ),
        c(
            "client",
            keys.iter()
                .map(|k| k.client.map(|a| a.to_string()))
                .collect::<Vec<Option<String>>>(),
        ),
        c(
            "server",
            keys.iter()
                .map(|k| k.server.map(|a| a.to_string()))
                .collect::<Vec<Option<String>>>(),
        ),
        c(
            "port",
            keys.iter().map(|k| u32::from(k.port)).collect::<Vec<u32>>(),
        ),
        c("bytes", gs.iter().map(|g| g.bytes).collect::<Vec<u64>>()),
        c(
            "packets",
            gs.iter().map(|g| g.packets).collect::<Vec<u64>>(),
        ),
        c(
            "first_ts_ns",
            gs.iter().map(|g| g.first_ts_ns).collect::<Vec<i64>>(),
        ),
        c(
            "last_ts_ns",
            gs.iter().map(|g| g.last_ts_ns).collect::<Vec<i64>>(),
        ),
        c("flows", gs.iter().map(|g| g.flows).collect::<Vec<u64>>()),
        c("smb", gs.iter().map(|g| g.app.smb).collect::<Vec<bool>>()),
        c(
            "scaleout",
            gs.iter().map(|g| g.app.scaleout).collect::<Vec<bool>>(),
        ),
        c(
            "encrypted_bytes",
            gs.iter()
                .map(|g| g.app.encrypted_bytes)
                .collect::<Vec<u64>>(),
        ),
        c(
            "witness",
            gs.iter().map(|g| g.app.witness).collect::<Vec<bool>>(),
        ),
        // NetFT groups count their small frames by length (frame_lengths).
        c(
            "has_lengths",
            gs.iter()
                .map(|g| g.lengths.is_some())
                .collect::<Vec<bool>>(),
        ),
        c(
            "lengths_overflowed",
            gs.iter()
                .map(|g| g.lengths.as_ref().is_some_and(|l| l.overflowed))
                .collect::<Vec<bool>>(),
        ),
    ];
    tcp_columns(gs, &mut cols);
    put(dir, "groups", cols, &mut t)?;
    let (mut fg, mut fk, mut fv) = (Vec::new(), Vec::new(), Vec::<String>::new());
    for (i, g) in gs.iter().enumerate() {
        for v in &g.app.shares {
            fg.push(i as u64);
            fk.push("share");
            fv.push(v.clone());
        }
        for v in &g.app.rpc_interfaces {
            fg.push(i as u64);
            fk.push("rpc_interface");
            fv.push(v.clone());
        }
    }
    put(
        dir,
        "group_facts",
        vec![c("group", fg), c("kind", fk), c("value", fv)],
        &mut t,
    )?;
    let n: usize = gs.iter().map(|g| g.series.buckets.len()).sum();
    let mut sg = Vec::with_capacity(n);
    let mut sb = Vec::with_capacity(n);
    let mut cols4: [Vec<u64>; 4] = std::array::from_fn(|_| Vec::with_capacity(n));
    for (i, g) in gs.iter().enumerate() {
        for (b, cell) in &g.series.buckets {
            sg.push(i as u64);
            sb.push(*b);
            cols4[0].push(cell.bytes[0]);
            cols4[1].push(cell.bytes[1]);
            cols4[2].push(cell.packets[0]);
            cols4[3].push(cell.packets[1]);
        }
    }
    let [b0, b1, p0, p1] = cols4;
    put(
        dir,
        "series",
        vec![
            c("group", sg),
            c("bucket", sb),
            c("bytes_to_server", b0),
            c("bytes_to_client", b1),
            c("packets_to_server", p0),
            c("packets_to_client", p1),
        ],
        &mut t,
    )?;
    let (mut lg, mut lb) = (Vec::<u64>::new(), Vec::<i64>::new());
    let (mut ld, mut ll, mut lf) = (Vec::<u32>::new(), Vec::<u32>::new(), Vec::<u32>::new());
    for (i, g) in gs.iter().enumerate() {
        for &(b, d, len, n) in g.lengths.iter().flat_map(|l| &l.entries) {
            lg.push(i as u64);
            lb.push(b);
            ld.push(u32::from(d));
            ll.push(u32::from(len));
            lf.push(n);
        }
    }
    put(
        dir,
        "frame_lengths",
        vec![
            c("group", lg),
            c("bucket", lb),
            c("direction", ld),
            c("wire_len", ll),
            c("frames", lf),
        ],
        &mut t,
    )?;
    // Heartbeat tracks, in key order.
    let hb = &s.heartbeats;
    put(
        dir,
        "heartbeats",
        vec![
            c("iface", hb.keys().map(|k| k.0).collect::<Vec<u32>>()),
            c(
                "src",
                hb.keys().map(|k| k.1.to_string()).collect::<Vec<String>>(),
            ),
            c(
                "dst",
                hb.keys().map(|k| k.2.to_string()).collect::<Vec<String>>(),
            ),
            c("count", hb.values().map(|t| t.count).collect::<Vec<u64>>()),
            c(
                "first_ts_ns",
                hb.values().map(|t| t.first_ts_ns).collect::<Vec<i64>>(),
            ),
            c(
                "last_ts_ns",
                hb.values().map(|t| t.last_ts_ns).collect::<Vec<i64>>(),
            ),
        ],
        &mut t,
    )?;
    let (mut at, mut av) = (Vec::new(), Vec::new());
    let (mut gt, mut g0, mut g1) = (Vec::new(), Vec::new(), Vec::new());
    for (i, tr) in hb.values().enumerate() {
        for a in &tr.arrivals {
            at.push(i as u64);
            av.push(*a);
        }
        for (x, y) in &tr.gaps {
            gt.push(i as u64);
            g0.push(*x);
            g1.push(*y);
        }
    }
    put(
        dir,
        "heartbeat_arrivals",
        vec![c("track", at), c("ts_ns", av)],
        &mut t,
    )?;
    put(
        dir,
        "heartbeat_gaps",
        vec![
            c("track", gt),
            c("last_before_ns", g0),
            c("first_after_ns", g1),
        ],
        &mut t,
    )?;
    // MAC tables (sorted: the maps' own order is random).
    let mut rows: Vec<MacRow> = Vec::new();
    for ((i, m, a), n) in &s.mac_ips {
        rows.push(("mac_ips", *i, mac_str(m), None, Some(a.to_string()), *n));
    }
    for ((i, m, p), n) in &s.mac_pairs {
        rows.push(("mac_pairs", *i, mac_str(m), Some(mac_str(p)), None, *n));
    }
    for ((i, m), n) in &s.dir_macs {
        rows.push(("dir_macs", *i, mac_str(m), None, None, *n));
    }
    rows.sort();
    put(
        dir,
        "macs",
        vec![
            c("table", rows.iter().map(|r| r.0).collect::<Vec<&str>>()),
            c("iface", rows.iter().map(|r| r.1).collect::<Vec<u32>>()),
            c(
                "mac",
                rows.iter().map(|r| r.2.clone()).collect::<Vec<String>>(),
            ),
            c(
                "peer_mac",
                rows.iter()
                    .map(|r| r.3.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
            c(
                "address",
                rows.iter()
                    .map(|r| r.4.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
            c("frames", rows.iter().map(|r| r.5).collect::<Vec<u64>>()),
        ],
        &mut t,
    )?;
    let mut seg: Vec<SegRow<'_>> = s.seg_samples.iter().collect();
    seg.sort_by_key(|(k, _)| (k.0, k.1.index(), k.2, k.3));
    put(
        dir,
        "seg_samples",
        vec![
            c(
                "proto",
                seg.iter()
                    .map(|(k, _)| k.0.proto.name())
                    .collect::<Vec<&str>>(),
            ),
            c(
                "a_ip",
                seg.iter()
                    .map(|(k, _)| k.0.a.ip.to_string())
                    .collect::<Vec<String>>(),
            ),
            c(
                "a_port",
                seg.iter()
                    .map(|(k, _)| u32::from(k.0.a.port))
                    .collect::<Vec<u32>>(),
            ),
            c(
                "b_ip",
                seg.iter()
                    .map(|(k, _)| k.0.b.ip.to_string())
                    .collect::<Vec<String>>(),
            ),
            c(
                "b_port",
                seg.iter()
                    .map(|(k, _)| u32::from(k.0.b.port))
                    .collect::<Vec<u32>>(),
            ),
            c(
                "b_to_a",
                seg.iter()
                    .map(|(k, _)| k.1 == Direction::BtoA)
                    .collect::<Vec<bool>>(),
            ),
            c("seq", seg.iter().map(|(k, _)| k.2).collect::<Vec<u32>>()),
            c("len", seg.iter().map(|(k, _)| k.3).collect::<Vec<u32>>()),
            c("ts_ns", seg.iter().map(|(_, v)| **v).collect::<Vec<i64>>()),
        ],
        &mut t,
    )?;
    let mut ans: Vec<_> = s.answers.iter().collect();
    ans.sort_by_key(|(k, _)| **k);
    let low = |j: usize| ans.iter().map(|(_, v)| v.lowest[j]).collect::<Vec<i64>>();
    put(
        dir,
        "answers",
        vec![
            c("iface", ans.iter().map(|(k, _)| k.0).collect::<Vec<u32>>()),
            c(
                "address",
                ans.iter()
                    .map(|(k, _)| k.1.to_string())
                    .collect::<Vec<String>>(),
            ),
            c(
                "count",
                ans.iter().map(|(_, v)| v.count).collect::<Vec<u64>>(),
            ),
            c("low0_ns", low(0)),
            c("low1_ns", low(1)),
            c("low2_ns", low(2)),
            c("low3_ns", low(3)),
        ],
        &mut t,
    )?;
    if let Some(m) = &s.smb_model {
        std::fs::write(dir.join("smb_model.json"), serde_json::to_vec(m)?)?;
    }
    Ok(t)
}

/// Reads what the merge's first pass needs of a capture shard (everything
/// but the groups' series, facts and frame lengths: [`read_capture_groups`]),
/// and its SMB model. The name, error and notes are the manifest's.
pub fn read_capture_facts(dir: &Path) -> Result<(CaptureFacts, Option<SmbModel>)> {
    let mut s = CaptureFacts::default();
    let df = get(dir, "interfaces")?;
    let (index, name, desc, lt, speed, snap) = (
        u32s(&df, "index")?,
        strs(&df, "name")?,
        opt_strs(&df, "description")?,
        u32s(&df, "link_type")?,
        opt_u64s(&df, "speed_bps")?,
        u32s(&df, "snaplen")?,
    );
    let (macs, addrs) = (opt_strs(&df, "mac")?, opt_strs(&df, "addresses")?);
    for i in 0..df.height() {
        s.interfaces.push(InterfaceInfo {
            index: index[i],
            name: name[i].clone(),
            description: desc[i].clone(),
            link_type: LinkType(u16::try_from(lt[i]).context("link type")?),
            speed_bps: speed[i],
            snaplen: snap[i],
            mac: macs[i].as_deref().map(mac).transpose()?,
            addresses: match &addrs[i] {
                Some(a) => a.split(' ').map(ip).collect::<Result<Vec<_>>>()?,
                None => Vec::new(),
            },
        });
    }
    let df = get(dir, "iface_counts")?;
    s.iface_counts = u64s(&df, "packets")?
        .into_iter()
        .zip(u64s(&df, "wire_bytes")?)
        .map(|(packets, wire_bytes)| IfaceCounts {
            packets,
            wire_bytes,
        })
        .collect();
    // Of the groups, only what topology infers from (their series, facts
    // and frame lengths are other tables, read in the second pass).
    let df = get(dir, "groups")?;
    let (iface, proto, client, server, port, packets) = (
        u32s(&df, "iface")?,
        strs(&df, "proto")?,
        opt_strs(&df, "client")?,
        opt_strs(&df, "server")?,
        u32s(&df, "port")?,
        u64s(&df, "packets")?,
    );
    let mut keys = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        keys.push((
            iface[i],
            proto_of(&proto[i])?,
            opt_ip(client[i].clone())?,
            opt_ip(server[i].clone())?,
            u16::try_from(port[i]).context("port")?,
            packets[i],
        ));
    }
    drop(df);
    s.hosts = GroupHosts::of(keys.into_iter());
    let df = get_bounded(dir, "heartbeats", HB_MAX_TRACKS)?;
    let (iface, src, dst, count, first, last) = (
        u32s(&df, "iface")?,
        strs(&df, "src")?,
        strs(&df, "dst")?,
        u64s(&df, "count")?,
        i64s(&df, "first_ts_ns")?,
        i64s(&df, "last_ts_ns")?,
    );
    let mut tracks: Vec<((u32, IpAddr, IpAddr), HeartbeatTrack)> = Vec::new();
    for i in 0..df.height() {
        tracks.push((
            (iface[i], ip(&src[i])?, ip(&dst[i])?),
            HeartbeatTrack {
                count: count[i],
                first_ts_ns: first[i],
                last_ts_ns: last[i],
                gaps: Vec::new(),
                arrivals: Vec::new(),
            },
        ));
    }
    let df = get_bounded(
        dir,
        "heartbeat_arrivals",
        tracks.len().saturating_mul(HB_MAX_ARRIVALS),
    )?;
    for (tr, ts) in u64s(&df, "track")?.into_iter().zip(i64s(&df, "ts_ns")?) {
        tracks
            .get_mut(tr as usize)
            .ok_or_else(|| anyhow!("heartbeat_arrivals: no track {tr}"))?
            .1
            .arrivals
            .push(ts);
    }
    let df = get_bounded(
        dir,
        "heartbeat_gaps",
        tracks.len().saturating_mul(HB_MAX_GAPS),
    )?;
    for ((tr, a), b) in u64s(&df, "track")?
        .into_iter()
        .zip(i64s(&df, "last_before_ns")?)
        .zip(i64s(&df, "first_after_ns")?)
    {
        tracks
            .get_mut(tr as usize)
            .ok_or_else(|| anyhow!("heartbeat_gaps: no track {tr}"))?
            .1
            .gaps
            .push((a, b));
    }
    s.heartbeats = tracks.into_iter().collect();
    // Three tables of at most MAX_MAC_ENTRIES each.
    let df = get_bounded(dir, "macs", 3 * MAX_MAC_ENTRIES)?;
    let (table, iface, m, peer, addr, frames) = (
        strs(&df, "table")?,
        u32s(&df, "iface")?,
        strs(&df, "mac")?,
        opt_strs(&df, "peer_mac")?,
        opt_strs(&df, "address")?,
        u64s(&df, "frames")?,
    );
    for i in 0..df.height() {
        let mm = mac(&m[i])?;
        match table[i].as_str() {
            "mac_ips" => {
                let a = opt_ip(addr[i].clone())?.ok_or_else(|| anyhow!("macs: no address"))?;
                s.mac_ips.insert((iface[i], mm, a), frames[i]);
            }
            "mac_pairs" => {
                let p = mac(peer[i].as_deref().unwrap_or(""))?;
                s.mac_pairs.insert((iface[i], mm, p), frames[i]);
            }
            "dir_macs" => {
                s.dir_macs.insert((iface[i], mm), frames[i]);
            }
            t => bail!("macs: unknown table {t:?}"),
        }
    }
    let df = get_bounded(dir, "seg_samples", MAX_SEG_SAMPLES)?;
    let (proto, a_ip, a_port, b_ip, b_port, b_to_a, seq, len, ts) = (
        strs(&df, "proto")?,
        strs(&df, "a_ip")?,
        u32s(&df, "a_port")?,
        strs(&df, "b_ip")?,
        u32s(&df, "b_port")?,
        bools(&df, "b_to_a")?,
        u32s(&df, "seq")?,
        u32s(&df, "len")?,
        i64s(&df, "ts_ns")?,
    );
    let mut seg = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let key = ConvKey {
            proto: match proto[i].as_str() {
                "tcp" => L4Proto::Tcp,
                "udp" => L4Proto::Udp,
                p => bail!("seg_samples: unknown protocol {p:?}"),
            },
            a: Endpoint {
                ip: ip(&a_ip[i])?,
                port: u16::try_from(a_port[i]).context("port")?,
            },
            b: Endpoint {
                ip: ip(&b_ip[i])?,
                port: u16::try_from(b_port[i]).context("port")?,
            },
        };
        let dir = if b_to_a[i] {
            Direction::BtoA
        } else {
            Direction::AtoB
        };
        seg.push((key, dir, seq[i], len[i], ts[i]));
    }
    drop(df);
    s.seg = SegSamples::from_rows(seg.into_iter());
    let df = get_bounded(dir, "answers", MAX_ANSWERS)?;
    let (iface, addr, count) = (
        u32s(&df, "iface")?,
        strs(&df, "address")?,
        u64s(&df, "count")?,
    );
    let lows = [
        i64s(&df, "low0_ns")?,
        i64s(&df, "low1_ns")?,
        i64s(&df, "low2_ns")?,
        i64s(&df, "low3_ns")?,
    ];
    for i in 0..df.height() {
        let a: IpAddr = addr[i]
            .parse()
            .map_err(|_| anyhow!("answers: bad address {:?}", addr[i]))?;
        s.answers.insert(
            (iface[i], a),
            AnswerTimes {
                count: count[i],
                lowest: [lows[0][i], lows[1][i], lows[2][i], lows[3][i]],
            },
        );
    }
    let path = dir.join("smb_model.json");
    let mut smb = None;
    if path.is_file() {
        let b = std::fs::read(&path)?;
        let mut m: SmbModel = serde_json::from_slice(&b).context("smb_model.json")?;
        m.rebuild_indexes();
        smb = Some(m);
    }
    Ok((s, smb))
}

/// Reads a capture shard's service groups with their series, facts and
/// frame lengths (the merge's second pass, one shard at a time): the keys
/// and groups, which the caller assembles with the manifest's settings.
pub fn read_capture_groups(dir: &Path) -> Result<(Vec<GroupKey>, Vec<Group>)> {
    let df = get(dir, "groups")?;
    let (iface, proto, client, server, port) = (
        u32s(&df, "iface")?,
        strs(&df, "proto")?,
        opt_strs(&df, "client")?,
        opt_strs(&df, "server")?,
        u32s(&df, "port")?,
    );
    let (bytes, packets, first, last, flows) = (
        u64s(&df, "bytes")?,
        u64s(&df, "packets")?,
        i64s(&df, "first_ts_ns")?,
        i64s(&df, "last_ts_ns")?,
        u64s(&df, "flows")?,
    );
    let (smb, scaleout, enc, witness) = (
        bools(&df, "smb")?,
        bools(&df, "scaleout")?,
        u64s(&df, "encrypted_bytes")?,
        bools(&df, "witness")?,
    );
    let (has_len, len_over) = (
        bools(&df, "has_lengths")?,
        bools(&df, "lengths_overflowed")?,
    );
    let tcp = tcp_read(&df)?;
    let mut keys = Vec::with_capacity(df.height());
    let mut groups = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        keys.push(GroupKey {
            iface: iface[i],
            proto: proto_of(&proto[i])?,
            client: opt_ip(client[i].clone())?,
            server: opt_ip(server[i].clone())?,
            port: u16::try_from(port[i]).context("port")?,
        });
        groups.push(Group {
            series: Default::default(),
            bytes: bytes[i],
            packets: packets[i],
            first_ts_ns: first[i],
            last_ts_ns: last[i],
            flows: flows[i],
            app: AppFacts {
                smb: smb[i],
                shares: Vec::new(),
                scaleout: scaleout[i],
                encrypted_bytes: enc[i],
                rpc_interfaces: Vec::new(),
                witness: witness[i],
            },
            tcp: tcp[i],
            lengths: has_len[i].then(|| {
                Box::new(FrameLengths {
                    entries: Vec::new(),
                    overflowed: len_over[i],
                })
            }),
        });
    }
    let df = get(dir, "group_facts")?;
    for ((g, k), v) in u64s(&df, "group")?
        .into_iter()
        .zip(strs(&df, "kind")?)
        .zip(strs(&df, "value")?)
    {
        let g = groups
            .get_mut(g as usize)
            .ok_or_else(|| anyhow!("group_facts: no group {g}"))?;
        match k.as_str() {
            "share" => g.app.shares.push(v),
            "rpc_interface" => g.app.rpc_interfaces.push(v),
            _ => bail!("group_facts: unknown kind {k:?}"),
        }
    }
    let df = get(dir, "series")?;
    let (sg, sb) = (u64s(&df, "group")?, i64s(&df, "bucket")?);
    let (b0, b1, p0, p1) = (
        u64s(&df, "bytes_to_server")?,
        u64s(&df, "bytes_to_client")?,
        u64s(&df, "packets_to_server")?,
        u64s(&df, "packets_to_client")?,
    );
    for i in 0..df.height() {
        let g = groups
            .get_mut(sg[i] as usize)
            .ok_or_else(|| anyhow!("series: no group {}", sg[i]))?;
        g.series.buckets.push((
            sb[i],
            Cell {
                bytes: [b0[i], b1[i]],
                packets: [p0[i], p1[i]],
            },
        ));
    }
    let df = get(dir, "frame_lengths")?;
    let (lg, lb) = (u64s(&df, "group")?, i64s(&df, "bucket")?);
    let (ld, ll, lf) = (
        u32s(&df, "direction")?,
        u32s(&df, "wire_len")?,
        u32s(&df, "frames")?,
    );
    for i in 0..df.height() {
        let l = groups
            .get_mut(lg[i] as usize)
            .and_then(|g| g.lengths.as_mut())
            .ok_or_else(|| anyhow!("frame_lengths: no NetFT group {}", lg[i]))?;
        l.entries.push((
            lb[i],
            u8::try_from(ld[i]).context("direction")?,
            u16::try_from(ll[i]).context("wire length")?,
            lf[i],
        ));
    }
    Ok((keys, groups))
}

/// Writes an evidence file's counters and events into `dir`.
pub fn write_evidence(dir: &Path, e: &Evidence) -> Result<Tables> {
    let mut t = Tables::new();
    let cs = &e.counters;
    put(
        dir,
        "counters",
        vec![
            c(
                "host",
                cs.iter()
                    .map(|c| c.path.host.clone())
                    .collect::<Vec<String>>(),
            ),
            c(
                "object",
                cs.iter()
                    .map(|c| c.path.object.clone())
                    .collect::<Vec<String>>(),
            ),
            c(
                "instance",
                cs.iter()
                    .map(|c| c.path.instance.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
            c(
                "instance_index",
                cs.iter()
                    .map(|c| c.path.instance_index)
                    .collect::<Vec<Option<u32>>>(),
            ),
            c(
                "counter",
                cs.iter()
                    .map(|c| c.path.counter.clone())
                    .collect::<Vec<String>>(),
            ),
        ],
        &mut t,
    )?;
    let (mut ci, mut ts, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for (i, k) in cs.iter().enumerate() {
        for (t, x) in &k.samples {
            ci.push(i as u64);
            ts.push(*t);
            v.push(*x);
        }
    }
    put(
        dir,
        "counter_samples",
        vec![c("counter", ci), c("ts_ns", ts), c("value", v)],
        &mut t,
    )?;
    let ev = &e.events;
    put(
        dir,
        "events",
        vec![
            c("ts_ns", ev.iter().map(|e| e.ts_ns).collect::<Vec<i64>>()),
            c(
                "source",
                ev.iter().map(|e| e.source.clone()).collect::<Vec<String>>(),
            ),
            c(
                "node",
                ev.iter()
                    .map(|e| e.node.clone())
                    .collect::<Vec<Option<String>>>(),
            ),
            c(
                "text",
                ev.iter().map(|e| e.text.clone()).collect::<Vec<String>>(),
            ),
        ],
        &mut t,
    )?;
    Ok(t)
}

/// Reads an evidence file's counters and events (notes and damage are in the manifest).
pub fn read_evidence(dir: &Path) -> Result<Evidence> {
    let mut e = Evidence::default();
    let df = get(dir, "counters")?;
    let (host, object, inst, idx, counter) = (
        strs(&df, "host")?,
        strs(&df, "object")?,
        opt_strs(&df, "instance")?,
        opt_u32s(&df, "instance_index")?,
        strs(&df, "counter")?,
    );
    for i in 0..df.height() {
        let path = CounterPath {
            host: host[i].clone(),
            object: object[i].clone(),
            instance: inst[i].clone(),
            instance_index: idx[i],
            counter: counter[i].clone(),
        };
        e.counters.push(Counter {
            class: classify(&path),
            path,
            samples: Vec::new(),
        });
    }
    let df = get(dir, "counter_samples")?;
    for ((ci, ts), v) in u64s(&df, "counter")?
        .into_iter()
        .zip(i64s(&df, "ts_ns")?)
        .zip(f64s(&df, "value")?)
    {
        e.counters
            .get_mut(ci as usize)
            .ok_or_else(|| anyhow!("counter_samples: no counter {ci}"))?
            .samples
            .push((ts, v));
    }
    let df = get(dir, "events")?;
    let (ts, source, node, text) = (
        i64s(&df, "ts_ns")?,
        strs(&df, "source")?,
        opt_strs(&df, "node")?,
        strs(&df, "text")?,
    );
    for i in 0..df.height() {
        e.events.push(TimelineEvent {
            ts_ns: ts[i],
            source: source[i].clone(),
            node: node[i].clone(),
            text: text[i].clone(),
        });
    }
    Ok(e)
}
