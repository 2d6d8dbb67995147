//! Attribution: each group of each capture gets one role (with its reason),
//! and its time series is added to its interface's role series. Every frame
//! is in exactly one group, so the sum over roles equals the interface's wire
//! bytes. UDP 3343 groups are split: the heartbeat baseline learnt from the
//! traffic is `cluster`, what NetFT carries beyond it is `redirected-io`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hvsleuth_parsers::tcp::TcpCounters;
use hvsleuth_reports::Role;

use crate::attribution::groups::{Cell, GroupKey};
use crate::attribution::rules::{GroupView, Proto, classify};
use crate::pipeline::scan::HeartbeatTrack;

use super::topology::{Iface, Topo};
use crate::pipeline::files::FileScan;

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

/// Per interface, per role: sorted (bucket, cell).
pub type RoleSeries = Vec<Vec<Vec<(i64, Cell)>>>;

/// The attributed capture set.
pub struct Model {
    pub bucket_ns: i64,
    pub ifaces: Vec<Iface>,
    /// Per interface (index = `Iface::id`), per role (`Role::index`): sorted
    /// (bucket, cell) with cell.bytes = [tx, rx].
    pub series: RoleSeries,
    pub groups: Vec<GroupRow>,
    /// Per interface: wire bytes as counted by the capture reader.
    pub iface_wire: Vec<u64>,
    /// Heartbeat tracks: (interface, source, destination, arrivals and gaps).
    pub heartbeats: Vec<(usize, IpAddr, IpAddr, HeartbeatTrack)>,
    /// Resolution of the signal series findings judge on: 1 s whatever the
    /// chart bucket (or the chart bucket when it does not divide a second).
    pub signal_bucket_ns: i64,
    /// The series at `signal_bucket_ns`; `None` when it is `series` itself.
    signal: Option<RoleSeries>,
    /// Per interface: its range in `groups` (sorted by interface).
    group_ranges: Vec<(usize, usize)>,
    /// Addresses no captured interface owns, placed on a node by evidence.
    pub peer_nodes: BTreeMap<IpAddr, String>,
}

impl Model {
    /// One role's series of one interface at the signal resolution.
    pub fn signal(&self, iface: usize, role: Role) -> &[(i64, Cell)] {
        &self.signal.as_ref().unwrap_or(&self.series)[iface][role.index()]
    }

    /// The groups of one interface (constant time: no scan of every group).
    pub fn iface_groups(&self, iface: usize) -> &[GroupRow] {
        match self.group_ranges.get(iface) {
            Some(&(a, b)) => &self.groups[a..b],
            None => &[],
        }
    }
}

/// The interval at which a sender's heartbeats arrive (SameSubnetDelay or
/// CrossSubnetDelay: 1 s by default, 2 s on many stretched clusters), learnt
/// as the median inter-arrival between 0.25 s and 5 s: tunnelled bulk in the
/// same conversation arrives closer together and does not count.
pub fn heartbeat_cadence_ns(arrivals: &[i64]) -> Option<i64> {
    let mut d: Vec<i64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| (250_000_000..=5_000_000_000).contains(d))
        .collect();
    if d.len() < 3 {
        return None;
    }
    d.sort_unstable();
    Some(d[d.len() / 2])
}

/// Merges a series into coarser buckets (`factor` fine buckets per coarse one).
fn coarsen(s: &[(i64, Cell)], factor: i64) -> Vec<(i64, Cell)> {
    let mut out: Vec<(i64, Cell)> = Vec::new();
    for (b, c) in s {
        let k = b.div_euclid(factor);
        match out.last_mut() {
            Some((lk, lc)) if *lk == k => lc.add(c),
            _ => out.push((k, *c)),
        }
    }
    out
}

/// One part of a split UDP 3343 group.
struct Part {
    role: Role,
    reason: String,
    buckets: Vec<(i64, Cell)>,
}

/// A split of a UDP 3343 series: heartbeat cells, the rest, heartbeat size per direction.
type NetftSplit = (Vec<(i64, Cell)>, Vec<(i64, Cell)>, [u64; 2]);

/// Splits a UDP 3343 series (cells client->server, server->client) into the
/// heartbeat baseline and the rest. Per direction: heartbeats come once per
/// `cadence` with a typical size (the smallest mean packet size of any
/// bucket); a token bucket allows that many heartbeat packets over time, so
/// the split does not depend on the bucket width. Buckets whose packets are
/// all heartbeat-sized and no more frequent than 4 per cadence are heartbeats
/// whatever the tokens (jitter).
fn split_netft(buckets: &[(i64, Cell)], bucket_ns: i64, cadence_ns: [i64; 2]) -> NetftSplit {
    let mut size = [u64::MAX; 2];
    for (_, c) in buckets {
        for (d, sz) in size.iter_mut().enumerate() {
            if let Some(m) = c.bytes[d].checked_div(c.packets[d]) {
                *sz = (*sz).min(m);
            }
        }
    }
    // No bucket small enough to be heartbeats alone (a conversation busy
    // throughout): NetFT heartbeats are ~150 B frames.
    for s in &mut size {
        if *s > 300 {
            *s = 150;
        }
    }
    let max_size = |d: usize| (size[d].saturating_mul(3) / 2).max(200);
    let mut hb = Vec::with_capacity(buckets.len());
    let mut rest = Vec::new();
    let mut tokens = [1.0f64; 2];
    let mut prev: Option<i64> = None;
    for (b, c) in buckets {
        let dt_s = prev.map_or(1.0, |p| (b - p) as f64 * bucket_ns as f64 / 1e9);
        prev = Some(*b);
        let mut h = Cell::default();
        let mut r = Cell::default();
        for d in 0..2 {
            let rate = 1e9 / cadence_ns[d].max(1) as f64;
            tokens[d] = (tokens[d] + dt_s * rate).min(2.0f64.max(2.0 * rate));
            let (p, by) = (c.packets[d], c.bytes[d]);
            if p == 0 {
                continue;
            }
            let bucket_s = bucket_ns as f64 / 1e9;
            let quiet = by / p <= max_size(d)
                && (p as f64) <= 4.0 * rate * bucket_s.max(cadence_ns[d] as f64 / 1e9);
            let hp = if quiet {
                p
            } else {
                p.min(tokens[d].floor() as u64)
            };
            tokens[d] = (tokens[d] - hp as f64).max(0.0);
            let hbytes = if quiet { by } else { by.min(hp * max_size(d)) };
            h.packets[d] = hp;
            h.bytes[d] = hbytes;
            r.packets[d] = p - hp;
            r.bytes[d] = by - hbytes;
        }
        if h.packets != [0, 0] {
            hb.push((*b, h));
        }
        if r.packets != [0, 0] || r.bytes != [0, 0] {
            rest.push((*b, r));
        }
    }
    (hb, rest, size.map(|s| if s == u64::MAX { 0 } else { s }))
}

/// `offsets[i]`: ns added to file i's timestamps to align its clock (skew).
/// `bucket_ns` is the scan's bucket; `chart_bucket_ns` a multiple of it.
pub fn attribute(
    files: &[FileScan],
    ifaces: &[Iface],
    topo: &Topo,
    bucket_ns: i64,
    chart_bucket_ns: i64,
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
        let cadence = |iface: u32, s: Option<IpAddr>, d: Option<IpAddr>| -> i64 {
            s.zip(d)
                .and_then(|(s, d)| f.scan.heartbeats.get(&(iface, s, d)))
                .and_then(|t| heartbeat_cadence_ns(&t.arrivals))
                .unwrap_or(1_000_000_000)
        };
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
                let parts: Vec<Part> = if key.proto == Proto::Udp && key.port == 3343 {
                    let cad = [
                        cadence(key.iface, key.client, key.server),
                        cadence(key.iface, key.server, key.client),
                    ];
                    let (hb, rest, size) = split_netft(&g.series.buckets, bucket_ns, cad);
                    let base_txt = format!(
                        "~{} B every {:.1} s{}",
                        size[0].max(size[1]),
                        cad[0].max(cad[1]) as f64 / 1e9,
                        ", learnt from the traffic"
                    );
                    let mut v = vec![Part {
                        role: Role::Cluster,
                        reason: format!(
                            "UDP 3343: cluster heartbeats (NetFT), baseline {base_txt}"
                        ),
                        buckets: hb,
                    }];
                    if !rest.is_empty() {
                        v.push(Part {
                            role: Role::RedirectedIo,
                            reason: format!(
                                "UDP 3343 beyond the heartbeat baseline ({base_txt}): NetFT-tunnelled cluster traffic (CSV redirected IO)"
                            ),
                            buckets: rest,
                        });
                    }
                    v
                } else {
                    let (role, reason) = classify(&view, topo);
                    vec![Part {
                        role,
                        reason,
                        buckets: g.series.buckets.clone(),
                    }]
                };
                // Which side is this interface? cell index 0 = client->server.
                let client_is_me = key.client.is_some_and(|c| iface.addresses.contains(&c));
                let server_is_me = key.server.is_some_and(|s| iface.addresses.contains(&s));
                let swap = server_is_me && !client_is_me;
                let n_parts = parts.len();
                for part in parts {
                    if part.buckets.is_empty() && n_parts > 1 {
                        continue;
                    }
                    let mut txrx = [0u64; 2];
                    let (mut bytes, mut packets) = (0u64, 0u64);
                    let dst = &mut series[iface.id][part.role.index()];
                    for (bucket, cell) in &part.buckets {
                        let mut c = *cell;
                        if swap {
                            c.bytes.swap(0, 1);
                            c.packets.swap(0, 1);
                        }
                        txrx[0] += c.bytes[0];
                        txrx[1] += c.bytes[1];
                        bytes += c.bytes[0] + c.bytes[1];
                        packets += c.packets[0] + c.packets[1];
                        dst.entry(*bucket + bshift).or_default().add(&c);
                    }
                    let (first, last) = if n_parts == 1 {
                        (g.first_ts_ns, g.last_ts_ns)
                    } else {
                        (
                            part.buckets
                                .first()
                                .map_or(g.first_ts_ns, |b| (b.0 * bucket_ns).max(g.first_ts_ns)),
                            part.buckets.last().map_or(g.last_ts_ns, |b| {
                                ((b.0 + 1) * bucket_ns - 1).min(g.last_ts_ns)
                            }),
                        )
                    };
                    rows.push(GroupRow {
                        iface: iface.id,
                        key: *key,
                        role: part.role,
                        reason: part.reason,
                        bytes: if n_parts == 1 { g.bytes } else { bytes },
                        packets: if n_parts == 1 { g.packets } else { packets },
                        flows: g.flows,
                        first_ts_ns: first + shift,
                        last_ts_ns: last + shift,
                        tcp: g.tcp,
                        txrx,
                        shares: g.app.shares.clone(),
                    });
                }
            }
        }
        base += n_ifaces;
    }
    rows.sort_by(|a, b| a.iface.cmp(&b.iface).then(b.bytes.cmp(&a.bytes)));
    let mut group_ranges = vec![(0usize, 0usize); ifaces.len()];
    let mut i = 0;
    while i < rows.len() {
        let mut j = i;
        while j < rows.len() && rows[j].iface == rows[i].iface {
            j += 1;
        }
        if let Some(r) = group_ranges.get_mut(rows[i].iface) {
            *r = (i, j);
        }
        i = j;
    }
    let fine: RoleSeries = series
        .into_iter()
        .map(|roles| roles.into_iter().map(|m| m.into_iter().collect()).collect())
        .collect();
    let coarse = |s: &RoleSeries, factor: i64| -> RoleSeries {
        s.iter()
            .map(|roles| roles.iter().map(|r| coarsen(r, factor)).collect())
            .collect()
    };
    const SECOND: i64 = 1_000_000_000;
    let chart_factor = (chart_bucket_ns / bucket_ns.max(1)).max(1);
    let (chart, signal, signal_bucket_ns) = if chart_factor > 1 {
        // Scanned at 1 s for the signal, merged for the charts.
        (coarse(&fine, chart_factor), Some(fine), bucket_ns)
    } else if bucket_ns < SECOND && SECOND % bucket_ns == 0 {
        let s = coarse(&fine, SECOND / bucket_ns);
        (fine, Some(s), SECOND)
    } else {
        (fine, None, bucket_ns)
    };
    Model {
        bucket_ns: chart_bucket_ns.max(bucket_ns),
        ifaces: ifaces.to_vec(),
        series: chart,
        groups: rows,
        iface_wire,
        heartbeats,
        signal_bucket_ns,
        signal,
        group_ranges,
        peer_nodes: topo.peer_nodes.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(p: u64, b: u64) -> Cell {
        Cell {
            bytes: [b, 0],
            packets: [p, 0],
        }
    }

    #[test]
    fn netft_split_keeps_heartbeats_and_takes_bursts() {
        // 1 s buckets, a 134 B heartbeat each second, a 1 MB burst in second 30.
        let mut b: Vec<(i64, Cell)> = (0..60).map(|s| (s, cell(1, 134))).collect();
        b[30].1 = cell(1 + 700, 134 + 700 * 1500);
        let (hb, rest, size) = split_netft(&b, 1_000_000_000, [1_000_000_000; 2]);
        assert_eq!(size[0], 134);
        let hbb: u64 = hb.iter().map(|x| x.1.bytes[0]).sum();
        let rb: u64 = rest.iter().map(|x| x.1.bytes[0]).sum();
        assert_eq!(hbb + rb, 60 * 134 + 700 * 1500);
        // At most two heartbeat allowances (201 B each) of the burst bucket stay cluster.
        assert!((700 * 1500 - 402..=700 * 1500).contains(&rb), "{rb}");
        assert_eq!(hb.len(), 60);
    }

    #[test]
    fn cadence_ignores_bulk_arrivals() {
        let mut a: Vec<i64> = (0..30).map(|i| i * 2_000_000_000).collect();
        a.extend((0..1000).map(|i| 10_000_000_000 + i * 1000));
        a.sort_unstable();
        assert_eq!(heartbeat_cadence_ns(&a), Some(2_000_000_000));
    }
}
