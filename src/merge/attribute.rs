//! Attribution: each group of each capture gets one role (with its reason),
//! and its time series is added to its interface's role series. Every frame
//! is in exactly one group, so the sum over roles equals the interface's wire
//! bytes. UDP 3343 groups are split: the heartbeat baseline learnt from the
//! traffic is `cluster`, what NetFT carries beyond it is `redirected-io`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hvsleuth_parsers::tcp::TcpCounters;
use hvsleuth_reports::Role;

use crate::attribution::groups::{Cell, FrameLengths, GroupKey};
use crate::attribution::rules::{GroupView, Proto, classify};
use crate::pipeline::scan::HeartbeatTrack;

use super::facts::CaptureFacts;
use super::topology::{Iface, Topo};
use crate::attribution::groups::Groups;

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

/// One direction of a UDP 3343 group, as the split sees it.
#[derive(Clone, Copy)]
struct NetftDir<'a> {
    /// The sender's heartbeat interval.
    cadence_ns: i64,
    /// Every UDP 3343 -> 3343 arrival of the direction (the scan's heartbeat
    /// track), when it holds all of them.
    arrivals: Option<&'a [i64]>,
}

/// Most heartbeats one bucket can hold: the slots it spans plus one (jitter).
fn max_heartbeats_per_bucket(bucket_ns: i64, cadence_ns: i64) -> u64 {
    (bucket_ns.max(1) as u64).div_ceil(cadence_ns.max(1) as u64) + 1
}

/// The size of a direction's heartbeat frames. NetFT sends one heartbeat per
/// route and interval, a fixed structure: every heartbeat of one sender to
/// one peer has the same length. Learnt as the most common length of the
/// buckets that hold no more packets than heartbeats can fill, each of one
/// length (bytes a multiple of packets). `true` when that length is the
/// majority (exact); else the smallest mean packet size stands in for it.
fn heartbeat_size(buckets: &[(i64, Cell)], d: usize, max_per_bucket: u64) -> (u64, bool) {
    let mut lens: BTreeMap<u64, usize> = BTreeMap::new();
    let mut n = 0usize;
    for (_, c) in buckets {
        let (p, b) = (c.packets[d], c.bytes[d]);
        if p == 0 || p > max_per_bucket || b % p != 0 {
            continue;
        }
        n += 1;
        *lens.entry(b / p).or_default() += 1;
    }
    if let Some((len, k)) = lens
        .iter()
        .max_by_key(|(l, k)| (**k, std::cmp::Reverse(**l)))
    {
        if *k >= 3 && 2 * *k >= n {
            return (*len, true);
        }
    }
    let mut size = buckets
        .iter()
        .filter_map(|(_, c)| c.bytes[d].checked_div(c.packets[d]))
        .min()
        .unwrap_or(0);
    // No bucket small enough to be heartbeats alone (a conversation busy
    // throughout): NetFT heartbeats are ~150 B frames.
    if size > 300 {
        size = 150;
    }
    (size, false)
}

/// Heartbeats per bucket and direction from the frame lengths of a NetFT
/// group. A sender's heartbeats to one peer all have one length and come
/// once per interval for as long as the route is up; tunnelled ACKs and SMB
/// control messages come in bursts. So the heartbeat length of a direction
/// is the small length found in the most heartbeat intervals at no more
/// than one or two per interval, and the heartbeats of a bucket are its
/// frames of that length (counted per bucket; the caller caps them where
/// other frames share the bucket). `None` for a
/// direction where no length recurs (or the counts overflowed).
fn heartbeats_by_length(
    lengths: &FrameLengths,
    bucket_ns: i64,
    cadence_ns: [i64; 2],
) -> [Option<(u64, BTreeMap<i64, u64>)>; 2] {
    if lengths.overflowed {
        return [None, None];
    }
    let bucket_ns = bucket_ns.max(1);
    let window = cadence_ns.map(|c| c.max(bucket_ns));
    let mut counts: BTreeMap<(u8, u16, i64), u64> = BTreeMap::new();
    let mut per_window: BTreeMap<(u8, u16, i64), u64> = BTreeMap::new();
    for (b, d, len, n) in &lengths.entries {
        let w = (b.saturating_mul(bucket_ns)).div_euclid(window[usize::from(*d)]);
        *counts.entry((*d, *len, *b)).or_default() += u64::from(*n);
        *per_window.entry((*d, *len, w)).or_default() += u64::from(*n);
    }
    let mut score: BTreeMap<(u8, u16), u64> = BTreeMap::new();
    for ((d, len, _), n) in &per_window {
        let d_ = usize::from(*d);
        if *n <= max_heartbeats_per_bucket(window[d_], cadence_ns[d_]) {
            *score.entry((*d, *len)).or_default() += 1;
        }
    }
    let mut out = [None, None];
    for (d, slot) in out.iter_mut().enumerate() {
        let best = score
            .iter()
            .filter(|((dd, _), _)| usize::from(*dd) == d)
            .max_by_key(|((_, len), n)| (**n, std::cmp::Reverse(*len)));
        let Some(((_, len), n)) = best else { continue };
        if *n < 3 {
            continue;
        }
        let per: BTreeMap<i64, u64> = counts
            .range((d as u8, *len, i64::MIN)..=(d as u8, *len, i64::MAX))
            .map(|((_, _, b), n)| (*b, *n))
            .collect();
        *slot = Some((u64::from(*len), per));
    }
    out
}

/// Heartbeats per busy bucket, counted on the sender's cadence grid. The
/// arrivals in quiet buckets are heartbeats and anchor the grid; from the
/// last one, each interval later a heartbeat is due: the arrival closest to
/// that time (within a quarter interval) is counted as one, whatever else
/// NetFT tunnels around it, and re-anchors the grid; a slot with no arrival
/// is a missed heartbeat. Tunnelled packets between the slots are not
/// heartbeats, however small.
fn grid_heartbeats(
    arrivals: &[i64],
    bucket_ns: i64,
    cadence_ns: i64,
    quiet: &dyn Fn(i64) -> bool,
) -> BTreeMap<i64, u64> {
    let mut a = arrivals.to_vec();
    a.sort_unstable();
    let c = cadence_ns.max(1);
    let tol = c / 4;
    let bucket = |t: i64| t.div_euclid(bucket_ns.max(1));
    let mut out: BTreeMap<i64, u64> = BTreeMap::new();
    let mut anchor: Option<i64> = None;
    let mut i = 0;
    while i < a.len() {
        let t = a[i];
        if quiet(bucket(t)) {
            anchor = Some(t);
            i += 1;
            continue;
        }
        let Some(an) = anchor else {
            // Busy from the first arrival on: the grid starts there.
            *out.entry(bucket(t)).or_default() += 1;
            anchor = Some(t);
            i += 1;
            continue;
        };
        let mut due = an + c;
        if t > due + tol {
            // Slots without any arrival (missed heartbeats): move the grid on.
            due += ((t - due - tol) / c + 1) * c;
        }
        if t < due - tol {
            i += 1;
            continue;
        }
        let mut best = i;
        let mut j = i;
        while j < a.len() && a[j] <= due + tol {
            if (a[j] - due).abs() < (a[best] - due).abs() {
                best = j;
            }
            j += 1;
        }
        let kb = bucket(a[best]);
        if !quiet(kb) {
            *out.entry(kb).or_default() += 1;
        }
        anchor = Some(a[best]);
        i = best + 1;
    }
    out
}

/// Splits a UDP 3343 series (cells client->server, server->client) into the
/// heartbeat baseline and the rest (what NetFT tunnels). Per direction: the
/// heartbeat length is learnt ([`heartbeat_size`]); a bucket whose packets
/// all have that length, no more than heartbeats can fill, is heartbeats
/// alone. In the other buckets the heartbeats are counted on the cadence
/// grid of the arrivals ([`grid_heartbeats`]), or without the arrivals as
/// one per interval, and each counts its learnt length as `cluster`; the
/// rest is tunnelled traffic. Where the group has its small frames counted
/// by length ([`FrameLengths`]), the heartbeats are those frames of the
/// heartbeat length ([`heartbeats_by_length`]): exact, whatever the bucket.
fn split_netft(
    buckets: &[(i64, Cell)],
    bucket_ns: i64,
    dirs: [NetftDir<'_>; 2],
    lengths: Option<&FrameLengths>,
) -> NetftSplit {
    let mut hb: Vec<(i64, Cell)> = Vec::with_capacity(buckets.len());
    let mut rest: Vec<(i64, Cell)> = Vec::new();
    let mut out_size = [0u64; 2];
    let mut hcells: Vec<Cell> = vec![Cell::default(); buckets.len()];
    let max_q = dirs.map(|x| max_heartbeats_per_bucket(bucket_ns, x.cadence_ns));
    let cadence = dirs.map(|x| x.cadence_ns.max(1));
    let by_len = lengths.map_or([None, None], |l| {
        heartbeats_by_length(l, bucket_ns, cadence)
    });
    for (d, by_len) in by_len.into_iter().enumerate() {
        if let Some((size, per)) = by_len {
            // Exact: the heartbeat frames counted by length.
            out_size[d] = size;
            for (idx, (k, c)) in buckets.iter().enumerate() {
                // Frames of the heartbeat length alone in a bucket are all
                // heartbeats (a sender catching up sends several at once);
                // among other frames, no more than the interval allows.
                let n = per.get(k).copied().unwrap_or(0);
                let n = if n >= c.packets[d] {
                    c.packets[d]
                } else {
                    n.min(max_q[d])
                };
                hcells[idx].packets[d] = n;
                hcells[idx].bytes[d] = (n * size).min(c.bytes[d]);
            }
            continue;
        }
        let cad = dirs[d].cadence_ns.max(1);
        let max_q = max_q[d];
        let (size, exact) = heartbeat_size(buckets, d, max_q);
        out_size[d] = size;
        let loose_max = (size.saturating_mul(3) / 2).max(200);
        let rate = 1e9 / cad as f64;
        let bucket_s = bucket_ns as f64 / 1e9;
        let is_quiet = |c: &Cell| {
            let (p, b) = (c.packets[d], c.bytes[d]);
            if p == 0 {
                return false;
            }
            if exact {
                p <= max_q && b == p * size
            } else {
                b / p <= loose_max && (p as f64) <= 4.0 * rate * bucket_s.max(cad as f64 / 1e9)
            }
        };
        let quiet_at = |k: i64| {
            buckets
                .binary_search_by_key(&k, |x| x.0)
                .is_ok_and(|i| is_quiet(&buckets[i].1))
        };
        let grid = dirs[d]
            .arrivals
            .map(|a| grid_heartbeats(a, bucket_ns, cad, &quiet_at));
        let per_hb = if exact { size } else { loose_max };
        // Without the arrivals: one heartbeat per interval, the fraction
        // carried from bucket to bucket.
        let mut due = 0.0f64;
        for (idx, (k, c)) in buckets.iter().enumerate() {
            let (p, b) = (c.packets[d], c.bytes[d]);
            if p == 0 {
                continue;
            }
            due += rate * bucket_s;
            let (hp, hbytes) = if is_quiet(c) {
                (p, b)
            } else {
                let n = match &grid {
                    Some(g) => g.get(k).copied().unwrap_or(0),
                    None => due.floor() as u64,
                };
                let hp = p.min(n).min(b / per_hb.max(1));
                (hp, b.min(hp * per_hb))
            };
            due = (due - hp as f64).clamp(0.0, 1.0);
            hcells[idx].packets[d] = hp;
            hcells[idx].bytes[d] = hbytes;
        }
    }
    for ((k, c), h) in buckets.iter().zip(&hcells) {
        let r = Cell {
            bytes: [c.bytes[0] - h.bytes[0], c.bytes[1] - h.bytes[1]],
            packets: [c.packets[0] - h.packets[0], c.packets[1] - h.packets[1]],
        };
        if h.packets != [0, 0] {
            hb.push((*k, *h));
        }
        if r.packets != [0, 0] || r.bytes != [0, 0] {
            rest.push((*k, r));
        }
    }
    (hb, rest, out_size)
}

/// Attribution as it goes, one capture at a time (the merge's second
/// pass): each capture's groups are classified and their series added into
/// the interface x role x bucket tables, then the caller drops them. What
/// it keeps grows with interfaces x roles x buckets, plus one row per
/// attributed group and the heartbeat tracks.
pub struct Attribution<'a> {
    ifaces: &'a [Iface],
    topo: &'a Topo,
    /// The scan's bucket.
    bucket_ns: i64,
    series: Vec<Vec<BTreeMap<i64, Cell>>>,
    iface_wire: Vec<u64>,
    rows: Vec<GroupRow>,
    heartbeats: Vec<(usize, IpAddr, IpAddr, HeartbeatTrack)>,
    /// Interfaces of the captures added so far (the next capture's first id).
    base: usize,
}

impl<'a> Attribution<'a> {
    /// `bucket_ns` is the scan's bucket.
    pub fn new(ifaces: &'a [Iface], topo: &'a Topo, bucket_ns: i64) -> Attribution<'a> {
        Attribution {
            ifaces,
            topo,
            bucket_ns,
            series: vec![vec![BTreeMap::new(); Role::ALL.len()]; ifaces.len()],
            iface_wire: vec![0u64; ifaces.len()],
            rows: Vec::new(),
            heartbeats: Vec::new(),
            base: 0,
        }
    }

    /// Adds the next capture (captures in the order topology placed their
    /// interfaces) with its groups; `shift` (ns) aligns its clock (skew).
    /// Its heartbeat tracks move into the model.
    pub fn add(&mut self, f: &mut CaptureFacts, groups: Option<&Groups>, shift: i64) {
        let (ifaces, topo, bucket_ns, base) = (self.ifaces, self.topo, self.bucket_ns, self.base);
        let (series, iface_wire, rows) = (&mut self.series, &mut self.iface_wire, &mut self.rows);
        let bshift = (shift as f64 / bucket_ns as f64).round() as i64;
        let n_ifaces = f.interfaces.len();
        for (i, c) in f.iface_counts.iter().enumerate().take(n_ifaces) {
            iface_wire[base + i] = c.wire_bytes;
        }
        let cadence = |iface: u32, s: Option<IpAddr>, d: Option<IpAddr>| -> i64 {
            s.zip(d)
                .and_then(|(s, d)| f.heartbeats.get(&(iface, s, d)))
                .and_then(|t| heartbeat_cadence_ns(&t.arrivals))
                .unwrap_or(1_000_000_000)
        };
        if let Some(groups) = groups {
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
                    let track = |s: Option<IpAddr>, d: Option<IpAddr>| {
                        s.zip(d)
                            .and_then(|(s, d)| f.heartbeats.get(&(key.iface, s, d)))
                    };
                    let dir = |s: Option<IpAddr>, d: Option<IpAddr>| NetftDir {
                        cadence_ns: cadence(key.iface, s, d),
                        arrivals: track(s, d)
                            .filter(|t| t.arrivals.len() as u64 == t.count)
                            .map(|t| t.arrivals.as_slice()),
                    };
                    let dirs = [dir(key.client, key.server), dir(key.server, key.client)];
                    let cad = [dirs[0].cadence_ns, dirs[1].cadence_ns];
                    let (hb, rest, size) =
                        split_netft(&g.series.buckets, bucket_ns, dirs, g.lengths.as_deref());
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
        for ((iface, src, dst), mut t) in std::mem::take(&mut f.heartbeats) {
            t.arrivals.iter_mut().for_each(|a| *a += shift);
            t.gaps
                .iter_mut()
                .for_each(|g| *g = (g.0 + shift, g.1 + shift));
            t.first_ts_ns += shift;
            t.last_ts_ns += shift;
            self.heartbeats.push((base + iface as usize, src, dst, t));
        }
        self.base += n_ifaces;
    }

    /// The attributed model; `chart_bucket_ns` is a multiple of the scan's bucket.
    pub fn finish(self, chart_bucket_ns: i64) -> Model {
        let Attribution {
            ifaces,
            topo,
            bucket_ns,
            series,
            iface_wire,
            mut rows,
            heartbeats,
            ..
        } = self;
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

    fn dirs(cad: i64, arrivals: Option<&[i64]>) -> [NetftDir<'_>; 2] {
        [
            NetftDir {
                cadence_ns: cad,
                arrivals,
            },
            NetftDir {
                cadence_ns: cad,
                arrivals: None,
            },
        ]
    }

    #[test]
    fn netft_split_keeps_heartbeats_and_takes_bursts() {
        // 1 s buckets, a 134 B heartbeat each second, a 1 MB burst in second 30
        // with 98 B tunnelled ACKs among the 1500 B segments.
        let mut b: Vec<(i64, Cell)> = (0..60).map(|s| (s, cell(1, 134))).collect();
        b[30].1 = cell(1 + 700 + 300, 134 + 700 * 1500 + 300 * 98);
        let tunnel = 700 * 1500 + 300 * 98;
        // Without the arrivals (token bucket) and with them (cadence grid).
        let mut arr: Vec<i64> = (0..60).map(|s| s * 1_000_000_000 + 400_000_000).collect();
        arr.extend((0..1000).map(|k| 30_000_000_000 + k * 900_000));
        for a in [None, Some(arr.as_slice())] {
            let (hb, rest, size) = split_netft(&b, 1_000_000_000, dirs(1_000_000_000, a), None);
            assert_eq!(size[0], 134);
            let hbb: u64 = hb.iter().map(|x| x.1.bytes[0]).sum();
            let rb: u64 = rest.iter().map(|x| x.1.bytes[0]).sum();
            assert_eq!(hbb, 60 * 134, "arrivals {}", a.is_some());
            assert_eq!(rb, tunnel);
            assert_eq!(hb.len(), 60);
        }
    }

    #[test]
    fn cadence_ignores_bulk_arrivals() {
        let mut a: Vec<i64> = (0..30).map(|i| i * 2_000_000_000).collect();
        a.extend((0..1000).map(|i| 10_000_000_000 + i * 1000));
        a.sort_unstable();
        assert_eq!(heartbeat_cadence_ns(&a), Some(2_000_000_000));
    }
}
