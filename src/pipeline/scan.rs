//! The capture scanner: one pass over a capture that counts packets and bytes
//! per interface, decodes L2-L4, keeps per-conversation statistics and feeds
//! TCP segments through reassembly. Memory is bounded by the flow table.

use std::collections::HashMap;

use hvsleuth_parsers::capture::{InterfaceInfo, Packet, PacketSink};
use hvsleuth_parsers::decode::{Transport, decode};
use hvsleuth_parsers::flow::{ConvKey, Direction, Endpoint, L4Proto};

/// Per-conversation statistics.
#[derive(Debug, Clone, Default)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Bytes per direction (index: [`Direction::index`]).
    pub dir_bytes: [u64; 2],
}

/// Anomaly counts over all TCP connections of a capture.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct TcpTotals {
    pub retransmissions: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub gaps: u64,
}

/// Per-interface packet and byte counts.
#[derive(Debug, Clone, Default)]
pub struct IfaceCounts {
    pub packets: u64,
    pub wire_bytes: u64,
}

/// What one pass over a capture found.
#[derive(Debug, Default)]
pub struct Scan {
    pub interfaces: Vec<InterfaceInfo>,
    pub iface_counts: Vec<IfaceCounts>,
    pub packets: u64,
    pub wire_bytes: u64,
    pub captured_bytes: u64,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    pub ip_fragments: u64,
    pub non_ip: u64,
    pub unsupported_link: u64,
    pub tcp: TcpTotals,
    /// Conversations ever seen (including evicted ones).
    pub flows_seen: u64,
    pub flows_evicted: u64,
    /// Live conversation table.
    pub flows: HashMap<ConvKey, FlowStats>,
    /// Largest evicted conversations (kept so top lists stay right after eviction).
    pub evicted_top: Vec<(ConvKey, FlowStats)>,
    max_flows: usize,
    top_keep: usize,
}

impl Scan {
    pub fn new(max_flows: usize, top_keep: usize) -> Scan {
        Scan {
            max_flows: max_flows.max(16),
            top_keep,
            ..Scan::default()
        }
    }

    fn on_conv(&mut self, key: ConvKey, dir: Direction, ts: i64, wire: u64) {
        if !self.flows.contains_key(&key) && self.flows.len() >= self.max_flows {
            self.evict(ts);
        }
        let entry = self.flows.entry(key).or_insert_with(|| FlowStats {
            first_ts_ns: ts,
            ..FlowStats::default()
        });
        if entry.packets == 0 {
            self.flows_seen += 1;
        }
        entry.packets += 1;
        entry.bytes += wire;
        entry.dir_bytes[dir.index()] += wire;
        entry.last_ts_ns = ts;
    }

    /// Evicts the least recently seen eighth of the table in one go (amortised O(1)).
    fn evict(&mut self, _now: i64) {
        let mut by_age: Vec<(i64, ConvKey)> =
            self.flows.iter().map(|(k, v)| (v.last_ts_ns, *k)).collect();
        let n = (by_age.len() / 8).max(1);
        by_age.select_nth_unstable(n - 1);
        for (_, k) in by_age.into_iter().take(n) {
            if let Some(v) = self.flows.remove(&k) {
                self.flows_evicted += 1;
                self.keep_top(k, v);
            }
        }
    }

    fn keep_top(&mut self, k: ConvKey, v: FlowStats) {
        self.evicted_top.push((k, v));
        if self.evicted_top.len() > self.top_keep * 4 + 64 {
            self.evicted_top
                .sort_unstable_by(|a, b| b.1.bytes.cmp(&a.1.bytes));
            self.evicted_top.truncate(self.top_keep);
        }
    }

    /// The `n` largest conversations by bytes (live and evicted).
    pub fn top_flows(&self, n: usize) -> Vec<(ConvKey, FlowStats)> {
        let mut all: Vec<(ConvKey, FlowStats)> = self
            .flows
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .chain(self.evicted_top.iter().cloned())
            .collect();
        all.sort_unstable_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

impl PacketSink for Scan {
    fn interface(&mut self, info: &InterfaceInfo) {
        let i = info.index as usize;
        if self.interfaces.len() <= i {
            self.iface_counts.resize(i + 1, IfaceCounts::default());
        }
        self.interfaces.push(info.clone());
    }

    fn packet(&mut self, p: &Packet<'_>) {
        let wire = p.wire_len as u64;
        self.packets += 1;
        self.wire_bytes += wire;
        self.captured_bytes += p.data.len() as u64;
        self.first_ts_ns = Some(self.first_ts_ns.map_or(p.ts_ns, |t| t.min(p.ts_ns)));
        self.last_ts_ns = Some(self.last_ts_ns.map_or(p.ts_ns, |t| t.max(p.ts_ns)));
        if let Some(c) = self.iface_counts.get_mut(p.iface as usize) {
            c.packets += 1;
            c.wire_bytes += wire;
        }
        if !p.link_type.is_supported() {
            self.unsupported_link += 1;
            return;
        }
        let d = decode(p.link_type, p.data);
        let (Some(src), Some(dst)) = (d.src, d.dst) else {
            self.non_ip += 1;
            return;
        };
        if d.ip_fragment {
            self.ip_fragments += 1;
        }
        let (proto, sp, dp) = match d.transport {
            Transport::Tcp(t) => (L4Proto::Tcp, t.src_port, t.dst_port),
            Transport::Udp(u) => (L4Proto::Udp, u.src_port, u.dst_port),
            _ => return,
        };
        let (key, dir) = ConvKey::new(
            proto,
            Endpoint { ip: src, port: sp },
            Endpoint { ip: dst, port: dp },
        );
        self.on_conv(key, dir, p.ts_ns, wire);
    }
}
