//! What the global inference needs of one capture, read from every shard in
//! the merge's first pass and kept until the end of the merge: interfaces and
//! their counts, heartbeat tracks, MAC tables, the TCP segment sample (clock
//! skew) and, of the service groups, only the addresses and packet counts
//! topology infers from. The groups themselves (with their time series) are
//! not here: the second pass reads them one capture at a time
//! ([`super::attribute::Attribution::add`]).
//!
//! Every part is bounded per capture by the scan: interfaces by the capture
//! format, heartbeat tracks at 10,000 per capture with 200,000 arrivals and
//! 100,000 gaps each, each MAC table at 65,536 entries, segment samples at
//! 50,000, answer times at 65,536 (interface, address) entries, the group
//! addresses by the group cap.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use hvsleuth_parsers::capture::InterfaceInfo;
use hvsleuth_parsers::flow::{ConvKey, Direction};
use hvsleuth_parsers::flowtable::FastMap;

use crate::attribution::groups::Groups;
use crate::attribution::rules::Proto;
use crate::pipeline::files::{FileScan, ScanOutput};
use crate::pipeline::scan::{AnswerTimes, HeartbeatTrack, IfaceCounts};

/// One capture as the merge's inference sees it (see the module doc).
#[derive(Debug, Default)]
pub struct CaptureFacts {
    pub name: String,
    pub interfaces: Vec<InterfaceInfo>,
    /// Per interface index.
    pub iface_counts: Vec<IfaceCounts>,
    /// Heartbeat tracks by (capture interface, source, destination). Moved
    /// into the model by attribution.
    pub heartbeats: BTreeMap<(u32, IpAddr, IpAddr), HeartbeatTrack>,
    /// See [`crate::pipeline::scan::Scan::mac_ips`].
    pub mac_ips: FastMap<(u32, [u8; 6], IpAddr), u64>,
    /// See [`crate::pipeline::scan::Scan::mac_pairs`].
    pub mac_pairs: FastMap<(u32, [u8; 6], [u8; 6]), u64>,
    /// See [`crate::pipeline::scan::Scan::dir_macs`].
    pub dir_macs: FastMap<(u32, [u8; 6]), u64>,
    /// The sampled TCP segments, for clock skew and link ends.
    pub seg: SegSamples,
    /// See [`crate::pipeline::scan::Scan::answers`].
    pub answers: FastMap<(u32, IpAddr), AnswerTimes>,
    /// What topology infers from the service groups.
    pub hosts: GroupHosts,
    /// Why reading stopped early (message with offset), and whether anything was read.
    pub error: Option<(String, bool)>,
    pub notes: Vec<String>,
    /// Conversations evicted before their idle timeout, and of them those the
    /// shared flow budget forced.
    pub flows_evicted: (u64, u64),
}

impl CaptureFacts {
    /// The facts of a scan result held in memory; its groups are returned
    /// beside them (for the second pass) and its SMB model left in `f`.
    pub fn from_file(f: &mut FileScan) -> (CaptureFacts, Option<Groups>) {
        let s: &mut ScanOutput = &mut f.scan;
        let groups = s.groups.take();
        let hosts = GroupHosts::of(
            groups
                .iter()
                .flat_map(|g| g.keys.iter().zip(&g.groups))
                .map(|(k, g)| (k.iface, k.proto, k.client, k.server, k.port, g.packets)),
        );
        let facts = CaptureFacts {
            name: std::mem::take(&mut f.name),
            interfaces: std::mem::take(&mut s.interfaces),
            iface_counts: std::mem::take(&mut s.iface_counts),
            heartbeats: std::mem::take(&mut s.heartbeats),
            mac_ips: std::mem::take(&mut s.mac_ips),
            mac_pairs: std::mem::take(&mut s.mac_pairs),
            dir_macs: std::mem::take(&mut s.dir_macs),
            seg: SegSamples::from_rows(
                std::mem::take(&mut s.seg_samples)
                    .into_iter()
                    .map(|((k, d, seq, len), ts)| (k, d, seq, len, ts)),
            ),
            answers: std::mem::take(&mut s.answers),
            hosts,
            error: f.error.take(),
            notes: std::mem::take(&mut f.notes),
            flows_evicted: f.flows_evicted,
        };
        (facts, groups)
    }
}

/// Of a capture's service groups, what topology needs: packets per address
/// per capture interface, IP packets per (interface, family), and the
/// addresses that exchange UDP 3343 (cluster heartbeats). Bounded by the
/// groups' distinct addresses.
#[derive(Debug, Default)]
pub struct GroupHosts {
    /// Packets per unicast address (client or server of an IP group) per
    /// capture interface.
    pub seen: HashMap<u32, HashMap<IpAddr, u64>>,
    /// IP packets per (capture interface, is IPv6).
    pub ip_packets: HashMap<(u32, bool), u64>,
    /// Unicast addresses of UDP 3343 groups, in group order (client, then
    /// server), each once.
    pub heartbeat_addrs: Vec<IpAddr>,
}

impl GroupHosts {
    /// From the groups in order: (interface, protocol, client, server,
    /// port, packets).
    pub fn of(
        groups: impl Iterator<Item = (u32, Proto, Option<IpAddr>, Option<IpAddr>, u16, u64)>,
    ) -> GroupHosts {
        let mut h = GroupHosts::default();
        let mut hb_seen = std::collections::HashSet::new();
        for (iface, proto, client, server, port, packets) in groups {
            if matches!(proto, Proto::NonIp) {
                continue;
            }
            let v6 = client.or(server).is_some_and(|a| a.is_ipv6());
            *h.ip_packets.entry((iface, v6)).or_default() += packets;
            let m = h.seen.entry(iface).or_default();
            for ip in [client, server].into_iter().flatten() {
                if super::topology::is_unicast(ip) {
                    *m.entry(ip).or_default() += packets;
                }
            }
            if proto == Proto::Udp && port == 3343 {
                for ip in [client, server].into_iter().flatten() {
                    if super::topology::is_unicast(ip) && hb_seen.insert(ip) {
                        h.heartbeat_addrs.push(ip);
                    }
                }
            }
        }
        h
    }
}

/// One sampled segment: its conversation (index into
/// [`SegSamples::convs`]), direction, sequence number, length and first
/// capture time. 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Sample {
    conv: u32,
    /// [`Direction::BtoA`].
    b_to_a: bool,
    seq: u32,
    len: u32,
    ts: i64,
}

impl Sample {
    fn key(&self) -> (u32, bool, u32, u32) {
        (self.conv, self.b_to_a, self.seq, self.len)
    }
}

/// A capture's TCP segment sample (the scan's `seg_samples`), compact and
/// sorted: the conversations once each, the samples by (conversation,
/// direction, sequence number, length). Two captures' samples are matched
/// by one merge-join, exactly as a lookup of every key would.
#[derive(Debug, Default)]
pub struct SegSamples {
    /// Distinct conversations, sorted.
    convs: Vec<ConvKey>,
    /// Sorted by [`Sample::key`], each key once.
    samples: Vec<Sample>,
}

impl SegSamples {
    /// From (conversation, direction, sequence number, length, first time)
    /// rows in any order; of rows with the same key the last is kept (as a
    /// map insert would).
    pub fn from_rows(rows: impl Iterator<Item = (ConvKey, Direction, u32, u32, i64)>) -> Self {
        let rows: Vec<(ConvKey, Direction, u32, u32, i64)> = rows.collect();
        let mut convs: Vec<ConvKey> = rows.iter().map(|r| r.0).collect();
        convs.sort_unstable();
        convs.dedup();
        let mut samples: Vec<Sample> = rows
            .iter()
            .map(|(k, d, seq, len, ts)| Sample {
                // Present: every row's conversation is in `convs`.
                conv: convs.binary_search(k).unwrap_or(0) as u32,
                b_to_a: *d == Direction::BtoA,
                seq: *seq,
                len: *len,
                ts: *ts,
            })
            .collect();
        drop(rows);
        // Stable: of equal keys the last row ends last; keep it.
        samples.sort_by_key(Sample::key);
        let mut out: Vec<Sample> = Vec::with_capacity(samples.len());
        for s in samples {
            match out.last_mut() {
                Some(l) if l.key() == s.key() => *l = s,
                _ => out.push(s),
            }
        }
        out.shrink_to_fit();
        convs.shrink_to_fit();
        SegSamples {
            convs,
            samples: out,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.samples.len()
    }

    /// Every segment sampled in both `self` and `other`: (conversation,
    /// direction, time here, time there), in key order.
    pub fn matches<'a>(
        &'a self,
        other: &'a SegSamples,
    ) -> impl Iterator<Item = (&'a ConvKey, Direction, i64, i64)> + 'a {
        // Conversation index here -> index there (both lists sorted).
        let mut map: Vec<Option<u32>> = vec![None; self.convs.len()];
        let (mut i, mut j) = (0, 0);
        while i < self.convs.len() && j < other.convs.len() {
            match self.convs[i].cmp(&other.convs[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    map[i] = Some(j as u32);
                    i += 1;
                    j += 1;
                }
            }
        }
        // The map is monotone, so keys mapped keep their order: merge-join.
        let mut a = self.samples.iter().peekable();
        let mut b = other.samples.iter().peekable();
        std::iter::from_fn(move || {
            loop {
                let x = *a.peek()?;
                let Some(c) = map[x.conv as usize] else {
                    a.next();
                    continue;
                };
                let kx = (c, x.b_to_a, x.seq, x.len);
                let y = *b.peek()?;
                match kx.cmp(&y.key()) {
                    std::cmp::Ordering::Less => {
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        a.next();
                        b.next();
                        let dir = if x.b_to_a {
                            Direction::BtoA
                        } else {
                            Direction::AtoB
                        };
                        return Some((&self.convs[x.conv as usize], dir, x.ts, y.ts));
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvsleuth_parsers::flow::{Endpoint, L4Proto};

    fn conv(n: u8) -> ConvKey {
        ConvKey::new(
            L4Proto::Tcp,
            Endpoint {
                ip: IpAddr::from([10, 0, 0, n]),
                port: 445,
            },
            Endpoint {
                ip: IpAddr::from([10, 0, 1, n]),
                port: 50_000,
            },
        )
        .0
    }

    /// The merge-join finds exactly the keys a map lookup finds, with both times.
    #[test]
    fn matches_equal_map_lookups() {
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        type Key = (ConvKey, Direction, u32, u32);
        let mut maps: Vec<FastMap<Key, i64>> = Vec::new();
        for _ in 0..2 {
            let mut m = FastMap::default();
            for _ in 0..3000 {
                let r = next();
                let d = if r & 1 == 0 {
                    Direction::AtoB
                } else {
                    Direction::BtoA
                };
                let k = (
                    conv((r >> 1) as u8 % 9),
                    d,
                    ((r >> 8) % 400) as u32 * 61,
                    1448,
                );
                m.insert(k, (r >> 20) as i64 % 1_000_000);
            }
            maps.push(m);
        }
        let segs: Vec<SegSamples> = maps
            .iter()
            .map(|m| SegSamples::from_rows(m.iter().map(|(k, t)| (k.0, k.1, k.2, k.3, *t))))
            .collect();
        let mut want: Vec<(ConvKey, bool, u32, i64, i64)> = maps[0]
            .iter()
            .filter_map(|(k, t)| {
                maps[1]
                    .get(k)
                    .map(|u| (k.0, k.1 == Direction::BtoA, k.2, *t, *u))
            })
            .collect();
        want.sort_by_key(|w| (w.0, w.1, w.2));
        let got: Vec<(ConvKey, bool, u32, i64, i64)> = segs[0]
            .matches(&segs[1])
            .map(|(k, d, t, u)| (*k, d == Direction::BtoA, 0, t, u))
            .collect();
        assert!(want.len() > 100, "{} matches", want.len());
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((g.0, g.1, g.3, g.4), (w.0, w.1, w.3, w.4));
        }
        assert_eq!(segs[0].len(), maps[0].len());
    }

    #[test]
    fn last_row_of_a_key_wins() {
        let k = conv(1);
        let s = SegSamples::from_rows(
            [
                (k, Direction::AtoB, 61, 10, 5),
                (k, Direction::AtoB, 61, 10, 7),
            ]
            .into_iter(),
        );
        let t = SegSamples::from_rows([(k, Direction::AtoB, 61, 10, 100)].into_iter());
        assert_eq!(s.len(), 1);
        let m: Vec<_> = s.matches(&t).map(|x| (x.2, x.3)).collect();
        assert_eq!(m, vec![(7, 100)]);
    }
}
