//! A bounded map from conversation to per-flow state, with last-seen times.
//!
//! When it is full, inserting a new conversation first evicts the idle
//! entries (not seen for `idle_timeout_ns`), and at least the oldest eighth
//! of the table by last-seen time, in one batch found with a linear
//! selection (`select_nth_unstable`). Each such batch frees `cap / 8` slots
//! for one O(cap) pass: amortised O(1) per insert, nothing per lookup. The
//! evicted values go to a caller's callback (to flush their statistics).
//!
//! Layout (memory is the point: a 1M-flow capture must fit in a few hundred
//! MB): the entries live in a slab (`Vec` of slots: key, last-seen time,
//! value, reused through a free list); the hash index holds only 4-byte slot
//! numbers (`hashbrown::HashTable<u32>`), so the index's spare capacity
//! costs 4 bytes a bucket instead of a whole entry, and no entry moves when
//! the index grows.
//!
//! **One budget across tables**: tables of captures scanned in parallel can
//! share a [`FlowBudget`] (a cap on the flows all of them hold together).
//! A table takes credits from it in chunks before it grows; when the budget
//! is spent, the table that wants to grow evicts its own oldest entries
//! (counted in [`FlowTable::budget_evictions`]) and flags the pressure, and
//! a table holding more than its fair share (budget / tables) gives its
//! oldest entries back at its next insert. The flows held together never
//! exceed the budget plus one entry per table.
//!
//! The hasher is foldhash's randomly seeded one: fast on small keys and not
//! predictable by whoever crafts the addresses and ports of a capture (no
//! hash-flooding of the table).
//!
//! Callbacks run in (last seen, key) order, so runs are reproducible although
//! the hash seed differs.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hashbrown::HashTable;

use crate::flow::ConvKey;

type Hasher = foldhash::fast::RandomState;

/// A `HashMap` with the same randomly seeded foldhash: for per-packet and
/// per-message lookups on capture-derived keys (SipHash, the std default, cost
/// a fifth of the small-packet pipeline's instructions).
pub type FastMap<K, V> = HashMap<K, V, Hasher>;

/// Most credits a table takes from a shared budget at a time (one atomic
/// operation per this many new flows); a small budget uses smaller chunks
/// (1/64 of it), so spare credits held by tables stay a small part of it.
const MAX_CHUNK: usize = 1024;

/// A cap on the flows several [`FlowTable`]s hold together (captures
/// scanned in parallel). See the module documentation.
#[derive(Debug)]
pub struct FlowBudget {
    cap: usize,
    /// Credits taken at a time.
    chunk: usize,
    /// Credits handed out (>= the flows the tables hold).
    used: AtomicUsize,
    /// Tables attached now.
    tables: AtomicUsize,
    /// A table below its fair share was refused credits.
    pressure: AtomicBool,
}

impl FlowBudget {
    /// A budget of `cap` flows (at least 1) for all tables together.
    pub fn new(cap: usize) -> Arc<FlowBudget> {
        Arc::new(FlowBudget {
            cap: cap.max(1),
            chunk: (cap / 64).clamp(1, MAX_CHUNK),
            used: AtomicUsize::new(0),
            tables: AtomicUsize::new(0),
            pressure: AtomicBool::new(false),
        })
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Credits held by the tables now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Up to `n` credits (0 when the budget is spent).
    fn take(&self, n: usize) -> usize {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let got = n.min(self.cap.saturating_sub(cur));
            if got == 0 {
                return 0;
            }
            match self.used.compare_exchange_weak(
                cur,
                cur + got,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return got,
                Err(now) => cur = now,
            }
        }
    }

    fn give_back(&self, n: usize) {
        if n > 0 {
            self.used.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// A table's fair share: the budget divided among the tables attached.
    fn fair_share(&self) -> usize {
        (self.cap / self.tables.load(Ordering::Relaxed).max(1)).max(1)
    }
}

#[derive(Debug)]
struct Slot<V> {
    key: ConvKey,
    last_seen: i64,
    value: V,
}

/// A table's hold on a shared budget.
#[derive(Debug)]
struct Lease {
    budget: Arc<FlowBudget>,
    /// Credits taken from the budget and not yet used by an entry.
    spare: usize,
    /// This table was refused credits below its fair share (and raised the
    /// budget's pressure flag).
    starved: bool,
}

/// Bounded conversation table. See the module documentation.
#[derive(Debug)]
pub struct FlowTable<V> {
    index: HashTable<u32>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<u32>,
    len: usize,
    hasher: Hasher,
    cap: usize,
    idle_timeout_ns: i64,
    evictions: u64,
    budget_evictions: u64,
    lease: Option<Lease>,
    /// Reused for eviction batches (no allocation per insert once grown).
    scratch: Vec<(i64, u32)>,
}

impl<V> FlowTable<V> {
    /// A table of at most `cap` entries (at least 1); entries not seen for
    /// `idle_timeout_ns` are the first to go.
    pub fn new(cap: usize, idle_timeout_ns: i64) -> Self {
        let cap = cap.max(1);
        FlowTable {
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            hasher: Hasher::default(),
            cap,
            idle_timeout_ns,
            evictions: 0,
            budget_evictions: 0,
            lease: None,
            scratch: Vec::new(),
        }
    }

    /// Like [`FlowTable::new`], and the table's entries also count against
    /// `budget`, shared with other tables.
    pub fn with_budget(cap: usize, idle_timeout_ns: i64, budget: Arc<FlowBudget>) -> Self {
        budget.tables.fetch_add(1, Ordering::AcqRel);
        let mut t = Self::new(cap, idle_timeout_ns);
        t.lease = Some(Lease {
            budget,
            spare: 0,
            starved: false,
        });
        t
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries removed by eviction or idle expiry so far (not by `remove`/`drain`).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Of [`FlowTable::evictions`], those forced by the shared budget.
    pub fn budget_evictions(&self) -> u64 {
        self.budget_evictions
    }

    fn hash(&self, key: &ConvKey) -> u64 {
        self.hasher.hash_one(key)
    }

    fn find(&self, key: &ConvKey) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hash(key), |&i| {
                slots[i as usize].as_ref().is_some_and(|s| s.key == *key)
            })
            .copied()
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
        if let Some(i) = self.find(&key) {
            let slot = self.slots[i as usize]
                .as_mut()
                .expect("the index points at live slots");
            slot.last_seen = slot.last_seen.max(ts_ns);
            return (&mut slot.value, false);
        }
        if self.len >= self.cap {
            self.evict_batch(ts_ns, evicted);
        }
        self.reserve_credit(ts_ns, evicted);
        let slot = Some(Slot {
            key,
            last_seen: ts_ns,
            value: make(),
        });
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let hash = self.hash(&key);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, i, |&j| {
            slots[j as usize]
                .as_ref()
                .map_or(0, |s| hasher.hash_one(s.key))
        });
        self.len += 1;
        let value = &mut self.slots[i as usize].as_mut().expect("just stored").value;
        (value, true)
    }

    /// Takes one credit from the shared budget for a new entry, evicting
    /// this table's oldest entries when the budget is spent.
    fn reserve_credit(&mut self, now_ns: i64, evicted: &mut impl FnMut(ConvKey, V)) {
        let Some(l) = self.lease.as_mut() else {
            return;
        };
        // Fast path (all but one insert in a chunk): a credit in hand and
        // nobody starved. No atomic write, no reference count touched.
        if l.spare > 0 && !l.budget.pressure.load(Ordering::Relaxed) {
            l.spare -= 1;
            return;
        }
        let budget = Arc::clone(&l.budget);
        self.rebalance(evicted);
        if self.lease_mut().spare == 0 {
            self.lease_mut().spare = budget.take(budget.chunk);
        }
        if self.lease_mut().spare == 0 {
            // The budget is spent: make room in this table, oldest first
            // (each freed slot's credit comes back to this table).
            if self.len < budget.fair_share() {
                budget.pressure.store(true, Ordering::Relaxed);
                self.lease_mut().starved = true;
            }
            if self.len > 0 {
                let n = idle_or_eighth(&self.slots, now_ns, self.idle_timeout_ns, self.len);
                self.evict_oldest(n, evicted);
            }
            if self.lease_mut().spare == 0 {
                // Every credit is held elsewhere and this table is empty:
                // overshoot by this one entry (at most one per table).
                budget.used.fetch_add(1, Ordering::AcqRel);
                self.lease_mut().spare = 1;
            }
        } else if self.lease_mut().starved {
            self.lease_mut().starved = false;
            budget.pressure.store(false, Ordering::Relaxed);
        }
        self.lease_mut().spare -= 1;
    }

    fn lease_mut(&mut self) -> &mut Lease {
        self.lease
            .as_mut()
            .expect("only called on a table with a budget")
    }

    /// When another table sharing the budget is starved and this one holds
    /// more than its fair share, gives its oldest entries back (down to
    /// seven eighths of the share). Cheap when there is no pressure: call it
    /// now and then (inserts call it).
    pub fn rebalance(&mut self, evicted: &mut impl FnMut(ConvKey, V)) {
        let Some(l) = self.lease.as_ref() else {
            return;
        };
        if l.starved || !l.budget.pressure.load(Ordering::Relaxed) {
            return;
        }
        let fair = l.budget.fair_share();
        if self.len > fair {
            let keep = fair - fair / 8;
            self.evict_oldest(self.len - keep, evicted);
            self.release_spare();
        }
    }

    /// Gives unused credits beyond one chunk back to the budget.
    fn release_spare(&mut self) {
        if let Some(l) = self.lease.as_mut() {
            let chunk = l.budget.chunk;
            if l.spare > chunk {
                l.budget.give_back(l.spare - chunk);
                l.spare = chunk;
            }
        }
    }

    /// The entry of `key`, if present (its last-seen time is not changed).
    pub fn get_mut(&mut self, key: &ConvKey) -> Option<&mut V> {
        let i = self.find(key)?;
        self.slots[i as usize].as_mut().map(|s| &mut s.value)
    }

    /// Removes `key` (e.g. a closed connection), returning its value.
    pub fn remove(&mut self, key: &ConvKey) -> Option<V> {
        let i = self.find(key)?;
        let v = self.take_slot(i).map(|s| s.value);
        self.maybe_compact();
        v
    }

    /// Frees slot `i` (index entry, slab slot, credit).
    fn take_slot(&mut self, i: u32) -> Option<Slot<V>> {
        let slot = self.slots.get_mut(i as usize)?.take()?;
        let hash = self.hash(&slot.key);
        if let Ok(e) = self.index.find_entry(hash, |&j| j == i) {
            e.remove();
        }
        self.free.push(i);
        self.len -= 1;
        if let Some(l) = self.lease.as_mut() {
            l.spare += 1;
            let chunk = l.budget.chunk;
            if l.spare >= 2 * chunk {
                l.budget.give_back(chunk);
                l.spare -= chunk;
            }
        }
        Some(slot)
    }

    /// Fills the scratch list with (last seen, slot) of the live entries
    /// whose last-seen time passes `keep`.
    fn scratch_live(&mut self, keep: impl Fn(i64) -> bool) {
        self.scratch.clear();
        self.scratch.extend(
            self.slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.as_ref().map(|s| (s.last_seen, i as u32)))
                .filter(|&(t, _)| keep(t)),
        );
    }

    /// Evicts every entry not seen since `now_ns - idle_timeout_ns`. O(len):
    /// call it now and then (e.g. every few seconds of capture time).
    pub fn expire_idle(&mut self, now_ns: i64, evicted: &mut impl FnMut(ConvKey, V)) {
        let limit = now_ns.saturating_sub(self.idle_timeout_ns);
        self.scratch_live(|t| t < limit);
        sort_by_age(&mut self.scratch, &self.slots);
        self.evict_scratch(evicted, false);
    }

    /// Removes all entries, oldest first, giving each to `evicted`.
    pub fn drain(mut self, evicted: &mut impl FnMut(ConvKey, V)) {
        self.scratch_live(|_| true);
        sort_by_age(&mut self.scratch, &self.slots);
        let order = std::mem::take(&mut self.scratch);
        for (_, i) in order {
            if let Some(s) = self.slots[i as usize].take() {
                evicted(s.key, s.value);
            }
        }
        // Drop gives the drained entries' credits back.
        if let Some(l) = self.lease.as_mut() {
            l.spare += self.len;
        }
        self.len = 0;
    }

    /// Frees room: all idle entries, and at least the oldest `cap / 8` (or 1).
    fn evict_batch(&mut self, now_ns: i64, evicted: &mut impl FnMut(ConvKey, V)) {
        let n = idle_or_eighth(&self.slots, now_ns, self.idle_timeout_ns, self.cap);
        self.evict_oldest_inner(n, evicted, false);
    }

    /// Evicts the `n` oldest entries for the shared budget.
    fn evict_oldest(&mut self, n: usize, evicted: &mut impl FnMut(ConvKey, V)) {
        self.evict_oldest_inner(n, evicted, true);
    }

    fn evict_oldest_inner(
        &mut self,
        n: usize,
        evicted: &mut impl FnMut(ConvKey, V),
        for_budget: bool,
    ) {
        self.scratch_live(|_| true);
        let n = n.min(self.scratch.len());
        if n == 0 {
            return;
        }
        if n < self.scratch.len() {
            let slots = &self.slots;
            self.scratch
                .select_nth_unstable_by(n - 1, |a, b| age_cmp(slots, a, b));
            self.scratch.truncate(n);
        }
        sort_by_age(&mut self.scratch, &self.slots);
        self.evict_scratch(evicted, for_budget);
    }

    fn evict_scratch(&mut self, evicted: &mut impl FnMut(ConvKey, V), for_budget: bool) {
        let order = std::mem::take(&mut self.scratch);
        for &(_, i) in &order {
            if let Some(s) = self.take_slot(i) {
                self.evictions += 1;
                if for_budget {
                    self.budget_evictions += 1;
                }
                evicted(s.key, s.value);
            }
        }
        self.scratch = order;
        self.scratch.clear();
        self.maybe_compact();
    }

    /// Gives the memory of freed slots back when they are more than an
    /// eighth of the live entries (and more than a few thousand): a table
    /// that shrank for the shared budget must not keep the pages of its
    /// largest size, or the tables together would hold the sum of their
    /// peaks. Live entries move to the front, the slab is cut and the index
    /// rebuilt: O(len), after at least len / 8 removals.
    fn maybe_compact(&mut self) {
        if self.free.len() <= (self.len / 8).max(4096) {
            return;
        }
        let mut w = 0;
        for i in 0..self.slots.len() {
            if self.slots[i].is_some() {
                self.slots.swap(w, i);
                w += 1;
            }
        }
        self.slots.truncate(w);
        self.slots.shrink_to_fit();
        self.free = Vec::new();
        self.index.clear();
        self.index.shrink_to_fit(|_| 0);
        // Empty: the rehash callback is never called here.
        self.index.reserve(w, |_| 0);
        let (slots, hasher) = (&self.slots, &self.hasher);
        for (i, s) in slots.iter().enumerate() {
            if let Some(s) = s {
                self.index
                    .insert_unique(hasher.hash_one(s.key), i as u32, |&j| {
                        slots[j as usize]
                            .as_ref()
                            .map_or(0, |s| hasher.hash_one(s.key))
                    });
            }
        }
    }
}

impl<V> Drop for FlowTable<V> {
    fn drop(&mut self) {
        if let Some(l) = self.lease.take() {
            l.budget.give_back(self.len + l.spare);
            l.budget.tables.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// How many entries a full table gives up at once: every idle one, and at
/// least an eighth of `size` (or 1).
fn idle_or_eighth<V>(slots: &[Option<Slot<V>>], now_ns: i64, idle_ns: i64, size: usize) -> usize {
    let limit = now_ns.saturating_sub(idle_ns);
    let idle = slots
        .iter()
        .flatten()
        .filter(|s| s.last_seen < limit)
        .count();
    idle.max(size / 8).max(1)
}

/// (last seen, key) order of two slot references.
fn age_cmp<V>(slots: &[Option<Slot<V>>], a: &(i64, u32), b: &(i64, u32)) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then_with(|| {
        let ka = slots[a.1 as usize].as_ref().map(|s| s.key);
        let kb = slots[b.1 as usize].as_ref().map(|s| s.key);
        ka.cmp(&kb)
    })
}

fn sort_by_age<V>(v: &mut [(i64, u32)], slots: &[Option<Slot<V>>]) {
    v.sort_unstable_by(|a, b| age_cmp(slots, a, b));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Endpoint, L4Proto};

    /// A TCP conversation from `client` to 10.255.0.1:445.
    fn conv(client: std::net::Ipv4Addr, port: u16) -> ConvKey {
        let a = Endpoint {
            ip: client.into(),
            port,
        };
        let b = Endpoint {
            ip: [10, 255, 0, 1].into(),
            port: 445,
        };
        ConvKey::new(L4Proto::Tcp, a, b).0
    }

    fn key(i: u16) -> ConvKey {
        conv([10, 0, 0, 1].into(), i)
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

    fn wide_key(i: u32) -> ConvKey {
        conv(std::net::Ipv4Addr::from(0x0a00_0000 | i), 40_000)
    }

    #[test]
    fn shared_budget_bounds_tables_together() {
        // Budget 5,000 across two tables whose own caps are 1M each.
        let budget = FlowBudget::new(5_000);
        let mut a: FlowTable<u32> = FlowTable::with_budget(1_000_000, i64::MAX, budget.clone());
        let mut b: FlowTable<u32> = FlowTable::with_budget(1_000_000, i64::MAX, budget.clone());
        let (mut gone_a, mut gone_b) = (0u64, 0u64);
        for i in 0..50_000u32 {
            a.get_or_insert_with(wide_key(i), i64::from(i), || i, &mut |_, _| gone_a += 1);
            b.get_or_insert_with(wide_key(i), i64::from(i), || i, &mut |_, _| gone_b += 1);
            assert!(a.len() + b.len() <= 5_000 + 2, "{} + {}", a.len(), b.len());
            assert!(budget.used() <= 5_000 + 2);
        }
        // Both kept a fair part, and every eviction was counted.
        assert!(
            a.len() >= 1_000 && b.len() >= 1_000,
            "{} {}",
            a.len(),
            b.len()
        );
        assert_eq!(a.evictions(), gone_a);
        assert_eq!(gone_a + a.len() as u64, 50_000);
        assert!(a.budget_evictions() > 0 && b.budget_evictions() > 0);
        // Dropping and draining give every credit back.
        drop(a);
        b.drain(&mut |_, _| {});
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_late_table_gets_its_share_back_from_a_full_one() {
        let budget = FlowBudget::new(4_000);
        let mut a: FlowTable<u32> = FlowTable::with_budget(1_000_000, i64::MAX, budget.clone());
        for i in 0..10_000u32 {
            a.get_or_insert_with(wide_key(i), i64::from(i), || i, &mut |_, _| {});
        }
        assert!(a.len() <= 4_000 && a.len() > 3_000, "{}", a.len());
        let mut b: FlowTable<u32> = FlowTable::with_budget(1_000_000, i64::MAX, budget.clone());
        for i in 0..3_000u32 {
            b.get_or_insert_with(wide_key(i), i64::from(i), || i, &mut |_, _| {});
            // A keeps inserting new flows: it gives back when B is starved.
            a.get_or_insert_with(
                wide_key(100_000 + i),
                20_000 + i64::from(i),
                || i,
                &mut |_, _| {},
            );
            assert!(a.len() + b.len() <= 4_002);
        }
        assert!(b.len() >= 1_500, "late table kept only {}", b.len());
        // Rebalance without inserts works too.
        let mut c: FlowTable<u32> = FlowTable::with_budget(1_000_000, i64::MAX, budget.clone());
        for i in 0..3_000u32 {
            c.get_or_insert_with(wide_key(i), i64::from(i), || i, &mut |_, _| {});
            if i % 100 == 0 {
                // A and B see no new flow (only rebalance, as at idle expiry).
                a.rebalance(&mut |_, _| {});
                b.rebalance(&mut |_, _| {});
            }
            assert!(a.len() + b.len() + c.len() <= 4_003);
        }
        assert!(c.len() >= 1_000, "third table kept only {}", c.len());
        assert!(
            a.len() <= 4_000 / 3 + 1 && b.len() <= 4_000 / 3 + 1,
            "{} {}",
            a.len(),
            b.len()
        );
    }

    #[test]
    fn slots_are_reused_and_lookups_stay_right() {
        let mut t: FlowTable<u32> = FlowTable::new(1_000, i64::MAX);
        for round in 0..5u32 {
            for i in 0..1_000u32 {
                t.get_or_insert_with(
                    wide_key(round * 1_000 + i),
                    i64::from(round * 1_000 + i),
                    || i,
                    &mut |_, _| {},
                );
            }
            for i in 0..500u32 {
                assert_eq!(t.remove(&wide_key(round * 1_000 + i)), Some(i));
            }
            for i in 500..1_000u32 {
                assert_eq!(t.get_mut(&wide_key(round * 1_000 + i)).copied(), Some(i));
            }
        }
        assert!(t.slots.len() <= 1_000, "slab grew to {}", t.slots.len());
    }

    #[test]
    fn a_shrunken_table_gives_its_slab_back() {
        let mut t: FlowTable<u32> = FlowTable::new(1_000_000, 100);
        for i in 0..100_000u32 {
            t.get_or_insert_with(wide_key(i), i64::from(i), || i, &mut |_, _| {});
        }
        // All but the last 10,000 go idle.
        t.expire_idle(90_100, &mut |_, _| {});
        assert_eq!(t.len(), 10_000);
        assert!(
            t.slots.len() <= 10_000 + 4096,
            "slab kept {}",
            t.slots.len()
        );
        for i in 90_000..100_000u32 {
            assert_eq!(t.get_mut(&wide_key(i)).copied(), Some(i));
        }
        assert!(t.get_mut(&wide_key(5)).is_none());
    }
}
