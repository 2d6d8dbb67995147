//! A bounded map from conversation to per-flow state, with last-seen times.
//!
//! When it is full, inserting a new conversation first evicts the idle
//! entries (not seen for `idle_timeout_ns`), and at least the oldest eighth
//! of the table by last-seen time, in one batch found with a linear
//! selection (`select_nth_unstable`). Each such batch frees `cap / 8` slots
//! for one O(cap) pass: amortised O(1) per insert, nothing per lookup. The
//! evicted values go to a caller's callback (to flush their statistics).
//!
//! The hasher is foldhash's randomly seeded one: fast on small keys and not
//! predictable by whoever crafts the addresses and ports of a capture (no
//! hash-flooding of the table).
//!
//! Callbacks run in (last seen, key) order, so runs are reproducible although
//! the hash seed differs.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::flow::ConvKey;

type Hasher = foldhash::fast::RandomState;

/// A `HashMap` with the same randomly seeded foldhash: for per-packet and
/// per-message lookups on capture-derived keys (SipHash, the std default, cost
/// a fifth of the small-packet pipeline's instructions).
pub type FastMap<K, V> = HashMap<K, V, Hasher>;

#[derive(Debug)]
struct Slot<V> {
    last_seen: i64,
    value: V,
}

/// Bounded conversation table. See the module documentation.
#[derive(Debug)]
pub struct FlowTable<V> {
    map: HashMap<ConvKey, Slot<V>, Hasher>,
    cap: usize,
    idle_timeout_ns: i64,
    evictions: u64,
    /// Reused for eviction batches (no allocation per insert once grown).
    scratch: Vec<(i64, ConvKey)>,
}

impl<V> FlowTable<V> {
    /// A table of at most `cap` entries (at least 1); entries not seen for
    /// `idle_timeout_ns` are the first to go.
    pub fn new(cap: usize, idle_timeout_ns: i64) -> Self {
        let cap = cap.max(1);
        FlowTable {
            map: HashMap::with_hasher(Hasher::default()),
            cap,
            idle_timeout_ns,
            evictions: 0,
            scratch: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries removed by eviction or idle expiry so far (not by `remove`/`drain`).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The entry of `key`, created with `make` if absent (evicting first if
    /// the table is full). Its last-seen time becomes `ts_ns` (never moves
    /// back). Returns the value and whether it was created now.
    pub fn get_or_insert_with(
        &mut self,
        key: ConvKey,
        ts_ns: i64,
        make: impl FnOnce() -> V,
        evicted: &mut impl FnMut(ConvKey, V),
    ) -> (&mut V, bool) {
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.evict_batch(ts_ns, evicted);
        }
        match self.map.entry(key) {
            Entry::Occupied(o) => {
                let slot = o.into_mut();
                slot.last_seen = slot.last_seen.max(ts_ns);
                (&mut slot.value, false)
            }
            Entry::Vacant(v) => {
                let slot = v.insert(Slot {
                    last_seen: ts_ns,
                    value: make(),
                });
                (&mut slot.value, true)
            }
        }
    }

    /// The entry of `key`, if present (its last-seen time is not changed).
    pub fn get_mut(&mut self, key: &ConvKey) -> Option<&mut V> {
        self.map.get_mut(key).map(|s| &mut s.value)
    }

    /// Removes `key` (e.g. a closed connection), returning its value.
    pub fn remove(&mut self, key: &ConvKey) -> Option<V> {
        self.map.remove(key).map(|s| s.value)
    }

    /// Evicts every entry not seen since `now_ns - idle_timeout_ns`. O(len):
    /// call it now and then (e.g. every few seconds of capture time).
    pub fn expire_idle(&mut self, now_ns: i64, evicted: &mut impl FnMut(ConvKey, V)) {
        let limit = now_ns.saturating_sub(self.idle_timeout_ns);
        self.scratch.clear();
        self.scratch.extend(
            self.map
                .iter()
                .filter(|(_, s)| s.last_seen < limit)
                .map(|(k, s)| (s.last_seen, *k)),
        );
        self.scratch.sort_unstable();
        self.evict_scratch(evicted);
    }

    /// Removes all entries, oldest first, giving each to `evicted`.
    pub fn drain(mut self, evicted: &mut impl FnMut(ConvKey, V)) {
        let mut all: Vec<(i64, ConvKey, V)> = self
            .map
            .drain()
            .map(|(k, s)| (s.last_seen, k, s.value))
            .collect();
        all.sort_unstable_by_key(|a| (a.0, a.1));
        for (_, k, v) in all {
            evicted(k, v);
        }
    }

    /// Frees room: all idle entries, and at least the oldest `cap / 8` (or 1).
    fn evict_batch(&mut self, now_ns: i64, evicted: &mut impl FnMut(ConvKey, V)) {
        let limit = now_ns.saturating_sub(self.idle_timeout_ns);
        self.scratch.clear();
        self.scratch
            .extend(self.map.iter().map(|(k, s)| (s.last_seen, *k)));
        let idle = self.scratch.iter().filter(|(t, _)| *t < limit).count();
        let n = idle.max(self.cap / 8).max(1).min(self.scratch.len());
        if n == 0 {
            return;
        }
        if n < self.scratch.len() {
            self.scratch.select_nth_unstable(n - 1);
            self.scratch.truncate(n);
        }
        self.scratch.sort_unstable();
        self.evict_scratch(evicted);
    }

    fn evict_scratch(&mut self, evicted: &mut impl FnMut(ConvKey, V)) {
        for (_, k) in self.scratch.drain(..) {
            if let Some(s) = self.map.remove(&k) {
                self.evictions += 1;
                evicted(k, s.value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Endpoint, L4Proto};

    fn key(i: u16) -> ConvKey {
        let a = Endpoint {
            ip: [10, 0, 0, 1].into(),
            port: i,
        };
        let b = Endpoint {
            ip: [10, 0, 0, 2].into(),
            port: 445,
        };
        ConvKey::new(L4Proto::Tcp, a, b).0
    }

    #[test]
    fn lookup_and_insert() {
        let mut t: FlowTable<u32> = FlowTable::new(4, 1_000);
        let mut gone = Vec::new();
        let mut ev = |k: ConvKey, v: u32| gone.push((k.a.port, v));
        let (v, new) = t.get_or_insert_with(key(1), 10, || 7, &mut ev);
        assert!(new);
        *v += 1;
        let (v, new) = t.get_or_insert_with(key(1), 5, || 0, &mut ev);
        assert!(!new);
        assert_eq!(*v, 8);
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove(&key(1)), Some(8));
        assert!(t.is_empty() && gone.is_empty());
    }

    #[test]
    fn full_table_evicts_idle_then_oldest_in_bulk() {
        let mut t: FlowTable<u16> = FlowTable::new(16, 1_000);
        let mut gone: Vec<u16> = Vec::new();
        // 16 entries seen at times 100..=115 (port = value).
        for i in 0..16u16 {
            t.get_or_insert_with(key(i), 100 + i64::from(i), || i, &mut |_, v| gone.push(v));
        }
        assert_eq!(t.len(), 16);
        // Touch entry 0 late: no longer the oldest.
        t.get_or_insert_with(key(0), 500, || 99, &mut |_, v| gone.push(v));
        // Full, none idle at t=600: the oldest 16/8 = 2 go (1 and 2).
        t.get_or_insert_with(key(100), 600, || 100, &mut |_, v| gone.push(v));
        assert_eq!(gone, vec![1, 2]);
        assert_eq!((t.len(), t.evictions()), (15, 2));
        // Fill again; at t=1_112 every entry last seen before 112 is idle:
        // 3..=11 (9 entries, more than the bulk minimum of 2) go, oldest first.
        t.get_or_insert_with(key(101), 700, || 101, &mut |_, v| gone.push(v));
        gone.clear();
        t.get_or_insert_with(key(102), 1_112, || 102, &mut |_, v| gone.push(v));
        assert_eq!(gone, (3..=11).collect::<Vec<u16>>());
        assert_eq!(t.len(), 16 - 9 + 1);
        assert_eq!(t.evictions(), 11);
    }

    #[test]
    fn expire_idle_and_drain() {
        let mut t: FlowTable<u16> = FlowTable::new(100, 50);
        for i in 0..10u16 {
            t.get_or_insert_with(key(i), i64::from(i) * 10, || i, &mut |_, _| {});
        }
        let mut gone = Vec::new();
        // now 100, timeout 50: last seen < 50 expires (0..=4).
        t.expire_idle(100, &mut |_, v| gone.push(v));
        assert_eq!(gone, vec![0, 1, 2, 3, 4]);
        assert_eq!((t.len(), t.evictions()), (5, 5));
        gone.clear();
        t.drain(&mut |_, v| gone.push(v));
        assert_eq!(gone, vec![5, 6, 7, 8, 9]);
    }

    #[test]
    fn cap_one_and_many_inserts_stay_bounded() {
        let mut t: FlowTable<u16> = FlowTable::new(0, i64::MAX);
        let mut n = 0;
        for i in 0..1000u16 {
            t.get_or_insert_with(key(i), i64::from(i), || i, &mut |_, _| n += 1);
            assert!(t.len() <= 1);
        }
        assert_eq!(n, 999);
        let mut t: FlowTable<u16> = FlowTable::new(64, i64::MAX);
        for i in 0..10_000u16 {
            t.get_or_insert_with(key(i), i64::from(i), || i, &mut |_, _| {});
            assert!(t.len() <= 64);
        }
        assert_eq!(t.evictions(), 10_000 - t.len() as u64);
    }
}
