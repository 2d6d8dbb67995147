//! Attribution: each group of each capture gets one role (with its reason),
//! and its time series is added to its interface's role series. Every frame
//! is in exactly one group, so the sum over roles equals the interface's wire
//! bytes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hvsleuth_parsers::tcp::TcpCounters;
use hvsleuth_reports::Role;

use crate::attribution::groups::{Cell, GroupKey};
use crate::attribution::rules::{GroupView, classify};
use crate::pipeline::scan::HeartbeatTrack;

use super::FileScan;
use super::topology::{Iface, Topo};

/// One attributed group (a service between two addresses on one interface).
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub iface: usize,
    pub key: GroupKey,
    pub role: Role,
    pub reason: String,
    pub bytes: u64,
    pub packets: u64,
    pub flows: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub tcp: TcpCounters,
    /// Bytes per direction, from the interface's point of view: [tx, rx].
    pub txrx: [u64; 2],
    /// SMB shares tree-connected on the group's connections (lower case).
    pub shares: Vec<String>,
}

/// The attributed capture set.
pub struct Model {
    pub bucket_ns: i64,
    pub ifaces: Vec<Iface>,
    /// Per interface (index = `Iface::id`), per role (`Role::index`): sorted
    /// (bucket, cell) with cell.bytes = [tx, rx].
    pub series: Vec<Vec<Vec<(i64, Cell)>>>,
    pub groups: Vec<GroupRow>,
    /// Per interface: wire bytes as counted by the capture reader.
    pub iface_wire: Vec<u64>,
    /// Heartbeat tracks: (interface, source, destination, arrivals and gaps).
    pub heartbeats: Vec<(usize, IpAddr, IpAddr, HeartbeatTrack)>,
}

/// `offsets[i]`: ns added to file i's timestamps to align its clock (skew).
pub fn attribute(
    files: &[FileScan],
    ifaces: &[Iface],
    topo: &Topo,
    bucket_ns: i64,
    offsets: &[i64],
) -> Model {
    let mut series: Vec<Vec<BTreeMap<i64, Cell>>> =
        vec![vec![BTreeMap::new(); Role::ALL.len()]; ifaces.len()];
    let mut iface_wire = vec![0u64; ifaces.len()];
    let mut rows = Vec::new();
    let mut heartbeats = Vec::new();
    let mut base = 0usize;
    for (fi, f) in files.iter().enumerate() {
        let shift = offsets.get(fi).copied().unwrap_or(0);
        let bshift = (shift as f64 / bucket_ns as f64).round() as i64;
        for ((iface, src, dst), t) in &f.scan.heartbeats {
            let mut t = t.clone();
            t.arrivals.iter_mut().for_each(|a| *a += shift);
            t.gaps
                .iter_mut()
                .for_each(|g| *g = (g.0 + shift, g.1 + shift));
            t.first_ts_ns += shift;
            t.last_ts_ns += shift;
            heartbeats.push((base + *iface as usize, *src, *dst, t));
        }
        let n_ifaces = f.scan.interfaces.len();
        for (i, c) in f.scan.iface_counts.iter().enumerate().take(n_ifaces) {
            iface_wire[base + i] = c.wire_bytes;
        }
        if let Some(groups) = f.scan.groups.as_ref() {
            for (key, g) in groups.keys.iter().zip(&groups.groups) {
                let Some(iface) = ifaces.get(base + key.iface as usize) else {
                    continue;
                };
                let active_s = ((g.last_ts_ns - g.first_ts_ns) as f64 / 1e9).max(1.0);
                let view = GroupView {
                    proto: key.proto,
                    client: key.client,
                    server: key.server,
                    port: key.port,
                    bytes: g.bytes,
                    active_s,
                    app: &g.app,
                };
                let (role, reason) = classify(&view, topo);
                // Which side is this interface? cell index 0 = client->server.
                let client_is_me = key.client.is_some_and(|c| iface.addresses.contains(&c));
                let server_is_me = key.server.is_some_and(|s| iface.addresses.contains(&s));
                let swap = server_is_me && !client_is_me;
                let mut txrx = [0u64; 2];
                let dst = &mut series[iface.id][role.index()];
                for (bucket, cell) in &g.series.buckets {
                    let mut c = *cell;
                    if swap {
                        c.bytes.swap(0, 1);
                        c.packets.swap(0, 1);
                    }
                    txrx[0] += c.bytes[0];
                    txrx[1] += c.bytes[1];
                    dst.entry(*bucket + bshift).or_default().add(&c);
                }
                rows.push(GroupRow {
                    iface: iface.id,
                    key: *key,
                    role,
                    reason,
                    bytes: g.bytes,
                    packets: g.packets,
                    flows: g.flows,
                    first_ts_ns: g.first_ts_ns + shift,
                    last_ts_ns: g.last_ts_ns + shift,
                    tcp: g.tcp,
                    txrx,
                    shares: g.app.shares.clone(),
                });
            }
        }
        base += n_ifaces;
    }
    rows.sort_by(|a, b| a.iface.cmp(&b.iface).then(b.bytes.cmp(&a.bytes)));
    Model {
        bucket_ns,
        ifaces: ifaces.to_vec(),
        series: series
            .into_iter()
            .map(|roles| roles.into_iter().map(|m| m.into_iter().collect()).collect())
            .collect(),
        groups: rows,
        iface_wire,
        heartbeats,
    }
}
