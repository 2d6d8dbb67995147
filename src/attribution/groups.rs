//! Aggregation of packets into groups — one service between two addresses on
//! one capture interface — each with a per-time-bucket series. Attribution
//! classifies groups, not packets, so memory is bounded by groups x active
//! buckets, not by packet count.

use hvsleuth_parsers::flowtable::FastMap;
use std::net::IpAddr;

use hvsleuth_parsers::tcp::TcpCounters;

use super::rules::{AppFacts, Proto};

/// Bytes and packets in one time bucket, client->server and server->client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    pub bytes: [u64; 2],
    pub packets: [u64; 2],
}

impl Cell {
    pub fn add(&mut self, o: &Cell) {
        for i in 0..2 {
            self.bytes[i] += o.bytes[i];
            self.packets[i] += o.packets[i];
        }
    }
}

/// A time series of cells, sorted by bucket index. Appending in time order is
/// O(1); a late packet is merged by binary search.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub buckets: Vec<(i64, Cell)>,
}

impl Series {
    #[inline]
    pub fn add(&mut self, bucket: i64, to_server: bool, wire: u64) {
        let d = usize::from(!to_server);
        let cell = match self.buckets.last_mut() {
            Some((b, c)) if *b == bucket => c,
            Some((b, _)) if *b > bucket => {
                match self.buckets.binary_search_by_key(&bucket, |x| x.0) {
                    Ok(i) => &mut self.buckets[i].1,
                    Err(i) => {
                        self.buckets.insert(i, (bucket, Cell::default()));
                        &mut self.buckets[i].1
                    }
                }
            }
            _ => {
                self.buckets.push((bucket, Cell::default()));
                &mut self.buckets.last_mut().expect("just pushed").1
            }
        };
        cell.bytes[d] += wire;
        cell.packets[d] += 1;
    }
}

/// Frames of a NetFT (UDP 3343) group this long or shorter have their
/// length counted: heartbeats are small fixed-size frames, told from the
/// tunnelled packets around them by length.
pub const NETFT_SMALL_FRAME: u64 = 512;
/// At most 2 MB per NetFT group (16 B an entry): an hour of 1 s buckets with
/// 18 distinct small lengths per bucket and direction fits; past it the
/// split falls back to the cadence grid of the arrivals.
const MAX_LENGTH_ENTRIES: usize = 1 << 17;

/// Counts of a NetFT group's small frames by wire length, per bucket and
/// direction (0 = client->server). Bounded: past the cap `overflowed` is set
/// and the counts are incomplete.
#[derive(Debug, Clone, Default)]
pub struct FrameLengths {
    /// (bucket, direction, wire length, frames); a (bucket, direction,
    /// length) may appear more than once (late packets): sum them.
    pub entries: Vec<(i64, u8, u16, u32)>,
    pub overflowed: bool,
}

impl FrameLengths {
    #[inline]
    fn add(&mut self, bucket: i64, dir: u8, len: u16) {
        for e in self.entries.iter_mut().rev().take(32) {
            if e.0 != bucket {
                break;
            }
            if e.1 == dir && e.2 == len {
                e.3 += 1;
                return;
            }
        }
        if self.entries.len() >= MAX_LENGTH_ENTRIES {
            self.overflowed = true;
            return;
        }
        self.entries.push((bucket, dir, len, 1));
    }
}

/// Identity of a group within one capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// Capture interface index within the file.
    pub iface: u32,
    pub proto: Proto,
    pub client: Option<IpAddr>,
    pub server: Option<IpAddr>,
    /// The server's port; 0 where ports do not apply.
    pub port: u16,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub series: Series,
    pub bytes: u64,
    pub packets: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Conversations merged into this group.
    pub flows: u64,
    pub app: AppFacts,
    /// TCP reassembly counters of the group's connections.
    pub tcp: TcpCounters,
    /// UDP 3343 groups only: small frames by length ([`FrameLengths`]).
    pub lengths: Option<Box<FrameLengths>>,
}

/// All groups of one capture, bounded: past `cap` groups, new services on an
/// interface fold into one overflow group per interface and protocol.
#[derive(Debug)]
pub struct Groups {
    pub bucket_ns: i64,
    index: FastMap<GroupKey, usize>,
    pub keys: Vec<GroupKey>,
    pub groups: Vec<Group>,
    cap: usize,
    pub overflowed: u64,
}

impl Groups {
    pub fn new(bucket_ns: i64, cap: usize) -> Groups {
        Groups {
            bucket_ns: bucket_ns.max(1),
            index: FastMap::default(),
            keys: Vec::new(),
            groups: Vec::new(),
            cap: cap.max(16),
            overflowed: 0,
        }
    }

    /// Groups read back from a scan shard: the lookup index is rebuilt from `keys`.
    pub fn from_parts(
        bucket_ns: i64,
        cap: usize,
        keys: Vec<GroupKey>,
        groups: Vec<Group>,
        overflowed: u64,
    ) -> Groups {
        let index = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        Groups {
            bucket_ns,
            index,
            keys,
            groups,
            cap,
            overflowed,
        }
    }

    /// Most groups before new services fold into overflow groups.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The index of `key`'s group, creating it (or using the overflow group).
    pub fn id(&mut self, mut key: GroupKey) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        if self.keys.len() >= self.cap {
            self.overflowed += 1;
            key = GroupKey {
                client: None,
                server: None,
                port: 0,
                ..key
            };
            if let Some(&i) = self.index.get(&key) {
                return i;
            }
        }
        let i = self.groups.len();
        self.index.insert(key, i);
        self.keys.push(key);
        self.groups.push(Group {
            lengths: (key.proto == Proto::Udp && key.port == 3343).then(Box::default),
            ..Group::default()
        });
        i
    }

    /// Counts one packet into group `id`.
    #[inline]
    pub fn add(&mut self, id: usize, ts_ns: i64, to_server: bool, wire: u64) {
        let bucket = ts_ns.div_euclid(self.bucket_ns);
        let g = &mut self.groups[id];
        if g.packets == 0 {
            g.first_ts_ns = ts_ns;
        }
        g.first_ts_ns = g.first_ts_ns.min(ts_ns);
        g.last_ts_ns = g.last_ts_ns.max(ts_ns);
        g.bytes += wire;
        g.packets += 1;
        g.series.add(bucket, to_server, wire);
        if let Some(l) = g.lengths.as_mut() {
            if wire <= NETFT_SMALL_FRAME {
                l.add(bucket, u8::from(!to_server), wire as u16);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_in_and_out_of_order() {
        let mut s = Series::default();
        s.add(5, true, 100);
        s.add(5, false, 10);
        s.add(7, true, 1);
        s.add(6, true, 2); // late
        s.add(5, true, 3); // later still
        let b: Vec<i64> = s.buckets.iter().map(|x| x.0).collect();
        assert_eq!(b, vec![5, 6, 7]);
        assert_eq!(s.buckets[0].1.bytes, [103, 10]);
        assert_eq!(s.buckets[0].1.packets, [2, 1]);
    }

    #[test]
    fn overflow_folds() {
        let mut g = Groups::new(1_000_000_000, 16);
        let k = |p: u16| GroupKey {
            iface: 0,
            proto: Proto::Udp,
            client: Some([10, 0, 0, 1].into()),
            server: Some([10, 0, 0, 2].into()),
            port: p,
        };
        for p in 0..100 {
            let id = g.id(k(p));
            g.add(id, 0, true, 1);
        }
        assert_eq!(g.keys.len(), 17);
        assert_eq!(g.overflowed, 84);
        assert_eq!(g.groups.iter().map(|x| x.bytes).sum::<u64>(), 100);
    }

    #[test]
    fn netft_groups_count_small_frames_by_length() {
        let mut g = Groups::new(1_000_000_000, 16);
        let key = |port: u16| GroupKey {
            iface: 0,
            proto: Proto::Udp,
            client: Some([10, 0, 0, 1].into()),
            server: Some([10, 0, 0, 2].into()),
            port,
        };
        let n = g.id(key(3343));
        let other = g.id(key(53));
        for (ts, to_server, wire) in [
            (0, true, 134),
            (1, true, 134),
            (2, false, 98),
            (3, true, 1446),
        ] {
            g.add(n, ts, to_server, wire);
            g.add(other, ts, to_server, wire);
        }
        g.add(n, 1_500_000_000, true, 134);
        g.add(n, 10, true, 134); // late, after bucket 1 began
        let l = g.groups[n].lengths.as_ref().unwrap();
        assert_eq!(
            l.entries,
            vec![
                (0, 0, 134, 2),
                (0, 1, 98, 1),
                (1, 0, 134, 1),
                (0, 0, 134, 1)
            ]
        );
        assert!(g.groups[other].lengths.is_none());
    }
}
