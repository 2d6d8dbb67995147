//! The capture scanner: one streaming pass over a capture that counts packets
//! and bytes per interface, decodes L2-L4, keeps per-conversation statistics
//! in a bounded flow table, feeds TCP segments through reassembly to the
//! application analysers, and (for `analyze`) folds every frame into a
//! per-interface service group with a time series.
//!
//! Memory is bounded by the flow table cap, the reassembly buffers and the
//! groups, never by packet count.

use hvsleuth_parsers::flowtable::FastMap;
use std::net::IpAddr;

use hvsleuth_parsers::capture::{InterfaceInfo, Packet, PacketSink};
use hvsleuth_parsers::decode::{Transport, decode, tcp_flags};
use hvsleuth_parsers::flow::{ConvKey, Direction, Endpoint, L4Proto};
use hvsleuth_parsers::flowtable::{FlowBudget, FlowTable};
use hvsleuth_parsers::tcp::{ReassemblyConfig, TcpConnection, TcpCounters};

use hvsleuth_parsers::smb::model::SmbModel;

use super::apps::{App, AppContext, AppHandler, decide};
use crate::attribution::groups::{GroupKey, Groups};
use crate::attribution::rules::Proto;

/// How a scan is set up.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Most conversations tracked at once.
    pub max_flows: usize,
    /// How many of the largest conversations to remember through eviction.
    pub top_keep: usize,
    /// Conversations idle this long are closed (their state freed).
    pub idle_timeout_ns: i64,
    pub reassembly: ReassemblyConfig,
    /// Time bucket for group series; `None` disables grouping (inspect).
    pub bucket_ns: Option<i64>,
    /// Most groups per capture before new services fold into overflow groups.
    pub max_groups: usize,
    /// Out-of-order bytes all connections may hold together; past it, the
    /// connection that grows the buffers gives up its holes (counted).
    pub max_buffered: usize,
    /// Run the application analysers (SMB, DCE/RPC) on reassembled streams.
    pub apps: bool,
    /// SMB 3 decryption keys (`--smb-key` and friends).
    pub smb_keys: Option<std::sync::Arc<hvsleuth_parsers::smb::crypto::KeyRing>>,
    /// The flow budget shared with the other captures scanned at the same
    /// time (see [`ScanConfig::shared_budget`]); `None`: `max_flows` is this
    /// scan's own.
    pub flow_budget: Option<std::sync::Arc<FlowBudget>>,
}

impl ScanConfig {
    /// This configuration with one flow budget of `max_flows` for every scan
    /// made from it (captures read in parallel share it: the memory bound is
    /// the budget, not a table per file times the threads).
    pub fn shared_budget(&self) -> ScanConfig {
        ScanConfig {
            flow_budget: Some(
                self.flow_budget
                    .clone()
                    .unwrap_or_else(|| FlowBudget::new(self.max_flows)),
            ),
            ..self.clone()
        }
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            max_flows: 1_000_000,
            top_keep: 10,
            idle_timeout_ns: 300 * 1_000_000_000,
            reassembly: ReassemblyConfig::default(),
            bucket_ns: None,
            max_groups: 200_000,
            max_buffered: 256 << 20,
            apps: true,
            smb_keys: None,
            flow_budget: None,
        }
    }
}

/// Per-conversation statistics.
#[derive(Debug, Clone, Default)]
pub struct FlowStats {
    pub packets: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Bytes per direction (index: [`Direction::index`]).
    pub dir_bytes: [u64; 2],
}

impl FlowStats {
    /// Wire bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.dir_bytes[0].saturating_add(self.dir_bytes[1])
    }
}

/// A conversation's live state. Kept small (a unit test holds it to its
/// size): a million of them must fit in a few hundred MB. Reassembly
/// anomaly counts are not kept per flow: they go straight into the flow's
/// group (or the scan's totals when there are no groups).
#[derive(Debug, Default)]
struct FlowState {
    stats: FlowStats,
    tcp: Option<TcpConnection>,
    /// The direction that goes from client to server.
    to_server: Option<Direction>,
    /// Capture interface and group of the flow (a flow may be seen on
    /// several interfaces; usually one).
    group: Option<(u32, u32)>,
    app: App,
    /// Answer times of the two ends (topology: which end is the captured machine).
    answer: AnswerTrack,
}

/// Answer-time tracking of one TCP connection, in 8 bytes (a flow table
/// slot stays small, issue 13): the newest segment that took its direction's
/// sequence space further, and when it was captured; a segment of the other
/// direction acknowledging it is its answer. An answer is causally after
/// its segment reached the answering end, so where the capture sits at one
/// end, that end's answers come within its own processing time and the far
/// end's take at least the round trip. Retransmitted data is not tracked
/// (Karn: an answer to it is ambiguous). One segment at a time: a segment of
/// the other direction replaces an unanswered one (fewer samples, none wrong).
#[derive(Debug, Default)]
struct AnswerTrack {
    /// Bit 31: direction of the tracked segment; bits 0-30: its capture time
    /// in us after the flow's first packet, plus 1 (0: nothing waits; `end`
    /// then keeps the direction's highest end). Flows older than 35 min are
    /// no longer tracked.
    at: u32,
    /// End sequence number of the tracked (or last tracked) segment.
    end: u32,
}

/// `a` is at or after `b` in sequence space (RFC 793 modular comparison).
fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

impl AnswerTrack {
    const DIR: u32 = 1 << 31;

    /// A segment in direction `d` (0 or 1) captured at `ts`, the flow's first
    /// packet at `base`: the answer time it gives (ns), if it answers one.
    fn segment(
        &mut self,
        d: usize,
        ts: i64,
        base: i64,
        t: &hvsleuth_parsers::decode::TcpView<'_>,
    ) -> Option<i64> {
        let rel = (ts - base) / 1_000 + 1;
        if !(1..i64::from(Self::DIR)).contains(&rel) {
            return None;
        }
        let rel = rel as u32;
        let dir = |a: u32| usize::from(a & Self::DIR != 0);
        let waiting = self.at & !Self::DIR;
        let mut out = None;
        if waiting != 0 && dir(self.at) != d && t.has(tcp_flags::ACK) && seq_ge(t.ack, self.end) {
            out = Some(i64::from(rel.saturating_sub(waiting)) * 1_000);
            self.at &= Self::DIR;
        }
        let len =
            t.payload_len() + u32::from(t.has(tcp_flags::SYN)) + u32::from(t.has(tcp_flags::FIN));
        if len > 0 && !t.has(tcp_flags::RST) {
            let end = t.seq.wrapping_add(len);
            let seen = self.at != 0 || self.end != 0;
            let old = seen && dir(self.at) == d && seq_ge(self.end, end);
            if !old {
                self.at = rel | if d == 1 { Self::DIR } else { 0 };
                self.end = end;
            }
        }
        out
    }
}

/// The smallest answer times one address gave on one capture interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerTimes {
    /// Answers seen.
    pub count: u64,
    /// The smallest answer times (ns), ascending; `i64::MAX` where fewer were seen.
    pub lowest: [i64; 4],
}

impl Default for AnswerTimes {
    fn default() -> Self {
        AnswerTimes {
            count: 0,
            lowest: [i64::MAX; 4],
        }
    }
}

impl AnswerTimes {
    pub fn add(&mut self, dt: i64) {
        self.count += 1;
        if dt < self.lowest[3] {
            self.lowest[3] = dt;
            self.lowest.sort_unstable();
        }
    }

    /// The answer time the end stays under, robust to two stray samples:
    /// the third smallest, with at least `min` answers seen.
    pub fn typical_low(&self, min: u64) -> Option<i64> {
        (self.count >= min && self.lowest[2] != i64::MAX).then_some(self.lowest[2])
    }
}

/// Arrivals of UDP 3343 datagrams from one address to another on one
/// interface: cluster heartbeats. Bounded: arrivals beyond the cap are not
/// kept, but gaps are always tracked.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatTrack {
    pub count: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Silences longer than [`HB_GAP_NS`]: (last arrival before, first arrival after).
    pub gaps: Vec<(i64, i64)>,
    /// Arrival times, up to [`HB_MAX_ARRIVALS`].
    pub arrivals: Vec<i64>,
}

/// Inter-arrival above which a heartbeat silence is recorded (heartbeats are sent every 1 s).
pub const HB_GAP_NS: i64 = 1_500_000_000;
pub(crate) const HB_MAX_ARRIVALS: usize = 200_000;
pub(crate) const HB_MAX_GAPS: usize = 100_000;
pub(crate) const HB_MAX_TRACKS: usize = 10_000;

impl HeartbeatTrack {
    fn add(&mut self, ts: i64) {
        if self.count == 0 {
            self.first_ts_ns = ts;
        } else if ts - self.last_ts_ns > HB_GAP_NS && self.gaps.len() < HB_MAX_GAPS {
            self.gaps.push((self.last_ts_ns, ts));
        }
        self.count += 1;
        self.last_ts_ns = self.last_ts_ns.max(ts);
        if self.arrivals.len() < HB_MAX_ARRIVALS {
            self.arrivals.push(ts);
        }
    }
}

/// Most (interface, address) answer-time entries a capture keeps.
pub(crate) const MAX_ANSWERS: usize = 65_536;
/// Most entries of each MAC table (frames, pairs, addresses, directions).
pub(crate) const MAX_MAC_ENTRIES: usize = 65_536;

/// Sequence numbers sampled for skew estimation: multiples of this.
pub const SKEW_SAMPLE_MOD: u32 = 61;
pub(crate) const MAX_SEG_SAMPLES: usize = 50_000;

/// Per-interface packet and byte counts.
#[derive(Debug, Clone, Default)]
pub struct IfaceCounts {
    pub packets: u64,
    pub wire_bytes: u64,
}

/// What one pass over a capture found.
pub struct Scan {
    cfg: ScanConfig,
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
    /// TCP reassembly counters of connections without a group (all of them
    /// when the scan has no groups); [`Scan::tcp_totals`] sums everything.
    tcp_direct: TcpCounters,
    /// Conversations ever seen (a conversation evicted and seen again counts twice).
    pub flows_seen: u64,
    /// Largest finished (evicted) conversations, kept for top lists.
    pub finished_top: Vec<(ConvKey, FlowStats)>,
    pub groups: Option<Groups>,
    /// Heartbeat tracks by (capture interface, source, destination).
    pub heartbeats: std::collections::BTreeMap<(u32, IpAddr, IpAddr), HeartbeatTrack>,
    /// Times the global reassembly budget forced a connection to give up its holes.
    pub budget_flushes: u64,
    /// The SMB session model, shared by every capture of a run.
    pub smb_model: Option<SmbModel>,
    /// What the application analysers learnt (EPM ports, witness events).
    pub apps: AppContext,
    /// Capture file name (for SMB channels).
    pub capture_name: String,
    /// Frames per (capture interface, unicast MAC seen as source or destination):
    /// the interface's own MAC is the one in most frames.
    pub mac_frames: FastMap<(u32, [u8; 6]), u64>,
    /// Frames per (capture interface, source MAC, source IP): the own MAC's
    /// addresses are the interface's own addresses.
    pub mac_ips: FastMap<(u32, [u8; 6], IpAddr), u64>,
    /// Frames per (capture interface, source MAC, destination MAC), both
    /// unicast: the interface's own MAC is the one in every such frame
    /// (topology inference), whatever the peer.
    pub mac_pairs: FastMap<(u32, [u8; 6], [u8; 6]), u64>,
    /// Frames per (capture interface, MAC) that the pcapng EPB direction
    /// flags say the interface sent (source MAC) or received (destination
    /// MAC): its own MAC, decided by the capture itself.
    pub dir_macs: FastMap<(u32, [u8; 6]), u64>,
    /// Direction of the next packet (EPB flags), consumed by `packet`.
    next_outbound: Option<bool>,
    /// A sample of TCP data segments (those whose sequence number is a multiple
    /// of [`SKEW_SAMPLE_MOD`], so every capture samples the same ones) with their
    /// first capture time: matched across captures to estimate clock skew.
    pub seg_samples: FastMap<(ConvKey, Direction, u32, u32), i64>,
    /// Per (capture interface, address): how fast the address answered TCP
    /// segments (SYN, data, FIN) sent to it ([`AnswerTrack`]), and ARP requests.
    pub answers: FastMap<(u32, IpAddr), AnswerTimes>,
    /// ARP requests waiting for their reply: (interface, asker, asked) -> time.
    arp_pending: FastMap<(u32, IpAddr, IpAddr), i64>,
    flows: FlowTable<FlowState>,
    /// Evictions of flow tables already drained by [`Scan::finish`].
    evicted_earlier: u64,
    budget_evicted_earlier: u64,
    /// Out-of-order bytes buffered by live connections.
    buffered: usize,
    next_expiry_ns: i64,
}

fn is_unicast_v4(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
        IpAddr::V6(_) => false,
    }
}

/// Well-known service ports: the side using one is the server when no SYN was seen.
fn is_service_port(p: u16) -> bool {
    matches!(
        p,
        22 | 53
            | 67
            | 68
            | 80
            | 88
            | 123
            | 135
            | 137
            | 138
            | 139
            | 161
            | 162
            | 389
            | 443
            | 445
            | 464
            | 546
            | 547
            | 636
            | 3260
            | 3268
            | 3269
            | 3343
            | 3389
            | 4791
            | 5353
            | 5355
            | 5445
            | 5985
            | 5986
            | 6600
    )
}

/// The direction from client to server, judged from the first packet seen.
fn guess_to_server(key: &ConvKey, dir: Direction, flags: Option<u8>) -> Direction {
    if let Some(f) = flags {
        if f & tcp_flags::SYN != 0 {
            return if f & tcp_flags::ACK == 0 {
                dir
            } else {
                dir.reverse()
            };
        }
    }
    let (a, b) = (key.a.port, key.b.port);
    match (is_service_port(a), is_service_port(b)) {
        (false, true) => Direction::AtoB,
        (true, false) => Direction::BtoA,
        // Both or neither well-known: the lower port is the service.
        _ if b <= a => Direction::AtoB,
        _ => Direction::BtoA,
    }
}

/// The [`Finished`] collector over a scan's fields (a macro, because it
/// borrows fields other than the flow table it is used with).
macro_rules! finisher {
    ($s:ident) => {
        Finished::new(
            &mut $s.tcp_direct,
            &mut $s.finished_top,
            $s.cfg.top_keep,
            $s.groups.as_mut(),
            &mut $s.buffered,
            $s.smb_model.as_mut(),
            &mut $s.apps,
        )
    };
}

impl Scan {
    pub fn new(cfg: ScanConfig) -> Scan {
        let smb_keys = cfg.smb_keys.clone();
        Scan {
            flows: match &cfg.flow_budget {
                Some(b) => FlowTable::with_budget(
                    cfg.max_flows.max(16),
                    cfg.idle_timeout_ns,
                    std::sync::Arc::clone(b),
                ),
                None => FlowTable::new(cfg.max_flows.max(16), cfg.idle_timeout_ns),
            },
            groups: cfg.bucket_ns.map(|b| Groups::new(b, cfg.max_groups)),
            cfg,
            interfaces: Vec::new(),
            iface_counts: Vec::new(),
            packets: 0,
            wire_bytes: 0,
            captured_bytes: 0,
            first_ts_ns: None,
            last_ts_ns: None,
            ip_fragments: 0,
            non_ip: 0,
            unsupported_link: 0,
            tcp_direct: TcpCounters::default(),
            flows_seen: 0,
            finished_top: Vec::new(),
            heartbeats: std::collections::BTreeMap::new(),
            budget_flushes: 0,
            smb_model: None,
            apps: AppContext {
                smb_keys,
                ..AppContext::default()
            },
            capture_name: String::new(),
            mac_frames: FastMap::default(),
            mac_ips: FastMap::default(),
            mac_pairs: FastMap::default(),
            dir_macs: FastMap::default(),
            next_outbound: None,
            seg_samples: FastMap::default(),
            answers: FastMap::default(),
            arp_pending: FastMap::default(),
            evicted_earlier: 0,
            budget_evicted_earlier: 0,
            buffered: 0,
            next_expiry_ns: i64::MIN,
        }
    }

    /// TCP reassembly counters summed over all connections (complete after
    /// [`Scan::finish`]).
    pub fn tcp_totals(&self) -> TcpCounters {
        let mut t = self.tcp_direct;
        if let Some(g) = &self.groups {
            for g in &g.groups {
                t += g.tcp;
            }
        }
        t
    }

    pub fn flows_evicted(&self) -> u64 {
        self.evicted_earlier + self.flows.evictions()
    }

    /// Of [`Scan::flows_evicted`], those the shared flow budget forced
    /// (other captures scanned at the same time held the rest of it).
    pub fn flows_evicted_for_budget(&self) -> u64 {
        self.budget_evicted_earlier + self.flows.budget_evictions()
    }

    /// Ends the scan: flushes every live conversation.
    pub fn finish(&mut self) {
        let table = std::mem::replace(
            &mut self.flows,
            FlowTable::new(16, self.cfg.idle_timeout_ns),
        );
        self.evicted_earlier += table.evictions();
        self.budget_evicted_earlier += table.budget_evictions();
        let mut sink = finisher!(self);
        table.drain(&mut |k, v| sink.take(k, v));
    }

    /// The `n` largest conversations by bytes (live and finished).
    pub fn top_flows(&self, n: usize) -> Vec<(ConvKey, FlowStats)> {
        let mut all = self.finished_top.clone();
        all.sort_unstable_by(|a, b| b.1.bytes().cmp(&a.1.bytes()).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    /// Counts MACs and (MAC, source IP) pairs, bounded.
    fn note_macs(&mut self, iface: u32, smac: [u8; 6], dmac: [u8; 6], src: IpAddr) {
        const MAX: usize = MAX_MAC_ENTRIES;
        for mac in [smac, dmac] {
            // Skip group (multicast/broadcast) addresses: bit 0 of the first octet.
            if mac[0] & 1 == 0
                && (self.mac_frames.len() < MAX || self.mac_frames.contains_key(&(iface, mac)))
            {
                *self.mac_frames.entry((iface, mac)).or_default() += 1;
            }
        }
        if smac[0] & 1 == 0
            && dmac[0] & 1 == 0
            && (self.mac_pairs.len() < MAX || self.mac_pairs.contains_key(&(iface, smac, dmac)))
        {
            *self.mac_pairs.entry((iface, smac, dmac)).or_default() += 1;
        }
        if smac[0] & 1 == 0
            && (self.mac_ips.len() < MAX || self.mac_ips.contains_key(&(iface, smac, src)))
        {
            *self.mac_ips.entry((iface, smac, src)).or_default() += 1;
        }
    }

    /// An answer of `who` on `iface` after `dt` ns (bounded table).
    fn note_answer(
        answers: &mut FastMap<(u32, IpAddr), AnswerTimes>,
        iface: u32,
        who: IpAddr,
        dt: i64,
    ) {
        const MAX: usize = MAX_ANSWERS;
        if answers.len() < MAX || answers.contains_key(&(iface, who)) {
            answers.entry((iface, who)).or_default().add(dt);
        }
    }

    /// ARP over Ethernet (untagged or one 802.1Q tag): the sender's MAC and
    /// address go with the IP frames' (`mac_ips`); a reply answers the
    /// request the capture saw from the address it is sent to.
    fn note_arp(&mut self, iface: u32, ts: i64, data: &[u8]) {
        const MAX_PENDING: usize = 4_096;
        let mut off = 12;
        let et = |o: usize| data.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        if et(off) == Some(0x8100) {
            off += 4;
        }
        if et(off) != Some(0x0806) {
            return;
        }
        let Some(a) = data.get(off + 2..off + 30) else {
            return;
        };
        // Ethernet / IPv4, hardware length 6, protocol length 4.
        if a[0..6] != [0, 1, 8, 0, 6, 4] {
            return;
        }
        let op = u16::from_be_bytes([a[6], a[7]]);
        let sha: [u8; 6] = [a[8], a[9], a[10], a[11], a[12], a[13]];
        let spa = IpAddr::from([a[14], a[15], a[16], a[17]]);
        let tpa = IpAddr::from([a[24], a[25], a[26], a[27]]);
        // The sender's MAC owns the sender's address (requests, replies and
        // gratuitous ARP alike; a probe's sender address is 0.0.0.0).
        if sha[0] & 1 == 0
            && is_unicast_v4(spa)
            && (self.mac_ips.len() < 65_536 || self.mac_ips.contains_key(&(iface, sha, spa)))
        {
            *self.mac_ips.entry((iface, sha, spa)).or_default() += 1;
        }
        if spa == tpa || !is_unicast_v4(spa) || !is_unicast_v4(tpa) {
            return; // gratuitous ARP or a probe: nothing to time
        }
        if op == 1
            && (self.arp_pending.len() < MAX_PENDING
                || self.arp_pending.contains_key(&(iface, spa, tpa)))
        {
            self.arp_pending.insert((iface, spa, tpa), ts);
        } else if op == 2 {
            if let Some(t0) = self
                .arp_pending
                .remove(&(iface, tpa, spa))
                .filter(|t0| ts >= *t0)
            {
                Self::note_answer(&mut self.answers, iface, spa, ts - t0);
            }
        }
    }

    fn group_frame(&mut self, key: GroupKey, ts: i64, wire: u64) {
        if let Some(g) = self.groups.as_mut() {
            let id = g.id(key);
            g.add(id, ts, true, wire);
        }
    }
}

/// Collects finished conversations: their counters and the largest ones.
struct Finished<'a> {
    tcp: &'a mut TcpCounters,
    top: &'a mut Vec<(ConvKey, FlowStats)>,
    keep: usize,
    groups: Option<&'a mut Groups>,
    buffered: &'a mut usize,
    model: Option<&'a mut SmbModel>,
    apps: &'a mut AppContext,
}

impl<'a> Finished<'a> {
    fn new(
        scan_tcp: &'a mut TcpCounters,
        top: &'a mut Vec<(ConvKey, FlowStats)>,
        keep: usize,
        groups: Option<&'a mut Groups>,
        buffered: &'a mut usize,
        model: Option<&'a mut SmbModel>,
        apps: &'a mut AppContext,
    ) -> Self {
        Finished {
            tcp: scan_tcp,
            top,
            keep,
            groups,
            buffered,
            model,
            apps,
        }
    }

    fn take(&mut self, k: ConvKey, mut v: FlowState) {
        if let Some(conn) = v.tcp.as_mut() {
            *self.buffered = self.buffered.saturating_sub(conn.buffered_bytes());
            let to_server = v.to_server.unwrap_or(Direction::AtoB);
            let (facts, counters) = match (self.groups.as_deref_mut(), v.group) {
                (Some(g), Some((_, id))) => {
                    let g = &mut g.groups[id as usize];
                    (Some(&mut g.app), &mut g.tcp)
                }
                _ => (None, &mut *self.tcp),
            };
            let mut h = AppHandler {
                app: &mut v.app,
                facts,
                model: self.model.as_deref_mut(),
                ctx: self.apps,
                client: k.source(to_server),
                server: k.source(to_server.reverse()),
            };
            conn.finish(&mut h, counters);
            h.finish_smb();
        }
        self.top.push((k, v.stats));
        if self.top.len() > self.keep * 4 + 64 {
            self.top
                .sort_unstable_by(|a, b| b.1.bytes().cmp(&a.1.bytes()).then(a.0.cmp(&b.0)));
            self.top.truncate(self.keep);
        }
    }
}

impl PacketSink for Scan {
    fn interface(&mut self, info: &InterfaceInfo) {
        let i = info.index as usize;
        if self.iface_counts.len() <= i {
            self.iface_counts.resize(i + 1, IfaceCounts::default());
        }
        self.interfaces.push(info.clone());
    }

    fn next_direction(&mut self, outbound: bool) {
        self.next_outbound = Some(outbound);
    }

    fn packet(&mut self, p: &Packet<'_>) {
        let outbound = self.next_outbound.take();
        let wire = p.wire_len as u64;
        let ts = p.ts_ns;
        self.packets += 1;
        self.wire_bytes += wire;
        self.captured_bytes += p.data.len() as u64;
        self.first_ts_ns = Some(self.first_ts_ns.map_or(ts, |t| t.min(ts)));
        self.last_ts_ns = Some(self.last_ts_ns.map_or(ts, |t| t.max(ts)));
        if let Some(c) = self.iface_counts.get_mut(p.iface as usize) {
            c.packets += 1;
            c.wire_bytes += wire;
        }
        let non_ip = GroupKey {
            iface: p.iface,
            proto: Proto::NonIp,
            client: None,
            server: None,
            port: 0,
        };
        if !p.link_type.is_supported() {
            self.unsupported_link += 1;
            self.group_frame(non_ip, ts, wire);
            return;
        }
        let d = decode(p.link_type, p.data);
        let (Some(src), Some(dst)) = (d.src, d.dst) else {
            if self.groups.is_some() && p.link_type == hvsleuth_parsers::link::LinkType::ETHERNET {
                self.note_arp(p.iface, ts, p.data);
            }
            self.non_ip += 1;
            self.group_frame(non_ip, ts, wire);
            return;
        };
        if d.ip_fragment {
            self.ip_fragments += 1;
        }
        if let (Some((smac, dmac)), true) = (d.macs, self.groups.is_some()) {
            self.note_macs(p.iface, smac, dmac, src);
            if let Some(out) = outbound {
                let mac = if out { smac } else { dmac };
                if mac[0] & 1 == 0
                    && (self.dir_macs.len() < MAX_MAC_ENTRIES
                        || self.dir_macs.contains_key(&(p.iface, mac)))
                {
                    *self.dir_macs.entry((p.iface, mac)).or_default() += 1;
                }
            }
        }
        let (proto, sp, dp, tcp) = match d.transport {
            Transport::Tcp(t) => (L4Proto::Tcp, t.src_port, t.dst_port, Some(t)),
            // Header cut before its sequence number: counted in its
            // conversation, nothing given to reassembly.
            Transport::TcpPorts { src_port, dst_port } => (L4Proto::Tcp, src_port, dst_port, None),
            Transport::Udp(u) => {
                if u.src_port == 3343 && u.dst_port == 3343 && self.groups.is_some() {
                    let k = (p.iface, src, dst);
                    if self.heartbeats.len() < HB_MAX_TRACKS || self.heartbeats.contains_key(&k) {
                        self.heartbeats.entry(k).or_default().add(ts);
                    }
                }
                (L4Proto::Udp, u.src_port, u.dst_port, None)
            }
            Transport::Icmp { v6, icmp_type } => {
                // Echo request/reply (ping) is told apart from control messages
                // (neighbour discovery, errors) by a pseudo-port of 1.
                let echo = if v6 {
                    matches!(icmp_type, 128 | 129)
                } else {
                    matches!(icmp_type, 0 | 8)
                };
                self.group_frame(
                    GroupKey {
                        iface: p.iface,
                        proto: Proto::Icmp,
                        client: Some(src),
                        server: Some(dst),
                        port: u16::from(echo),
                    },
                    ts,
                    wire,
                );
                return;
            }
            _ => {
                self.group_frame(
                    GroupKey {
                        iface: p.iface,
                        proto: Proto::OtherIp,
                        client: Some(src),
                        server: Some(dst),
                        port: 0,
                    },
                    ts,
                    wire,
                );
                return;
            }
        };
        let (key, dir) = ConvKey::new(
            proto,
            Endpoint { ip: src, port: sp },
            Endpoint { ip: dst, port: dp },
        );

        if ts >= self.next_expiry_ns {
            // Close idle conversations about once a minute of capture time.
            if self.next_expiry_ns != i64::MIN {
                let mut sink = finisher!(self);
                self.flows.expire_idle(ts, &mut |k, v| sink.take(k, v));
                self.flows.rebalance(&mut |k, v| sink.take(k, v));
            }
            self.next_expiry_ns = ts.saturating_add(60 * 1_000_000_000);
        }

        let mut sink = finisher!(self);
        let (flow, new) =
            self.flows
                .get_or_insert_with(key, ts, FlowState::default, &mut |k, v| sink.take(k, v));
        if new {
            self.flows_seen += 1;
            flow.stats.first_ts_ns = ts;
            flow.to_server = Some(guess_to_server(&key, dir, tcp.map(|t| t.flags)));
        }
        flow.stats.packets += 1;
        flow.stats.dir_bytes[dir.index()] += wire;
        flow.stats.last_ts_ns = ts;
        let to_server = flow.to_server.unwrap_or(Direction::AtoB);

        let gid = if let Some(groups) = self.groups.as_mut() {
            let gid = match flow.group {
                Some((iface, id)) if iface == p.iface => id as usize,
                _ => {
                    let server = key.source(to_server.reverse());
                    let client = key.source(to_server);
                    let gproto = if proto == L4Proto::Tcp {
                        Proto::Tcp
                    } else {
                        Proto::Udp
                    };
                    let id = groups.id(GroupKey {
                        iface: p.iface,
                        proto: gproto,
                        client: Some(client.ip),
                        server: Some(server.ip),
                        port: server.port,
                    });
                    if flow.group.is_none() {
                        groups.groups[id].flows += 1;
                    }
                    // Group ids are below `max_groups` (fits 32 bits).
                    flow.group = Some((p.iface, id as u32));
                    id
                }
            };
            groups.add(gid, ts, dir == to_server, wire);
            Some(gid)
        } else {
            None
        };

        if let Some(t) = tcp {
            if self.groups.is_some()
                && !t.payload.is_empty()
                && t.seq % SKEW_SAMPLE_MOD == 0
                && self.seg_samples.len() < MAX_SEG_SAMPLES
            {
                self.seg_samples
                    .entry((key, dir, t.seq, t.payload_len()))
                    .or_insert(ts);
            }
            if self.groups.is_some() {
                if let Some(dt) = flow
                    .answer
                    .segment(dir.index(), ts, flow.stats.first_ts_ns, &t)
                {
                    Self::note_answer(&mut self.answers, p.iface, src, dt);
                }
            }
            let client = key.source(to_server);
            let server = key.source(to_server.reverse());
            if matches!(flow.app, App::Undecided) && !t.payload.is_empty() {
                flow.app = if self.cfg.apps {
                    // Interfaces are described in index order: look up by
                    // position first (a search per flow is quadratic with
                    // many interfaces).
                    let iface_name = self
                        .interfaces
                        .get(p.iface as usize)
                        .filter(|i| i.index == p.iface)
                        .or_else(|| self.interfaces.iter().find(|i| i.index == p.iface))
                        .map(|i| i.name.as_str())
                        .unwrap_or("");
                    decide(
                        server,
                        client,
                        t.payload,
                        &self.apps,
                        self.smb_model.as_mut(),
                        &self.capture_name,
                        iface_name,
                    )
                } else {
                    App::Off
                };
            }
            let conn = flow.tcp.get_or_insert_with(TcpConnection::new);
            let before = conn.buffered_bytes();
            let (facts, counters) = match (self.groups.as_mut(), gid) {
                (Some(g), Some(id)) => {
                    let g = &mut g.groups[id];
                    (Some(&mut g.app), &mut g.tcp)
                }
                _ => (None, &mut self.tcp_direct),
            };
            let mut h = AppHandler {
                app: &mut flow.app,
                facts,
                model: self.smb_model.as_mut(),
                ctx: &mut self.apps,
                client,
                server,
            };
            conn.segment(dir, ts, &t, &self.cfg.reassembly, &mut h, counters);
            let after = conn.buffered_bytes();
            self.buffered = (self.buffered + after).saturating_sub(before);
            if after > before && self.buffered > self.cfg.max_buffered {
                // Global reassembly budget exceeded: give up this connection's holes now.
                conn.finish(&mut h, counters);
                self.buffered = self.buffered.saturating_sub(after);
                self.budget_flushes += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvsleuth_parsers::link::LinkType;

    fn frame(port: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(port, 445, seq, 65535)
            .ack(1);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn global_reassembly_budget_bounds_buffers() {
        // 200 connections each leave a hole and buffer 60 KB after it: 12 MB
        // would wait without a global budget; with 1 MiB it stays bounded.
        let mut scan = Scan::new(ScanConfig {
            max_buffered: 1 << 20,
            ..ScanConfig::default()
        });
        let payload = vec![0u8; 1400];
        for port in 0..200u16 {
            for i in 0..44u32 {
                let seq = if i == 0 { 1000 } else { 1000 + 1400 * (i + 1) };
                let f = frame(10_000 + port, seq, &payload);
                scan.packet(&Packet {
                    iface: 0,
                    link_type: LinkType::ETHERNET,
                    ts_ns: i as i64,
                    wire_len: f.len() as u32,
                    data: &f,
                });
                assert!(
                    scan.buffered <= (1 << 20) + (2 << 20),
                    "buffered {}",
                    scan.buffered
                );
            }
        }
        assert!(
            scan.budget_flushes > 0,
            "buffered {} tcp {:?}",
            scan.buffered,
            scan.tcp_totals()
        );
        scan.finish();
        assert_eq!(scan.buffered, 0);
        assert_eq!(scan.flows_seen, 200);
    }

    #[test]
    fn answer_times_follow_acknowledgements_not_retransmissions() {
        let view = |seq: u32, ack: u32, flags: u8, payload: &'static [u8]| {
            hvsleuth_parsers::decode::TcpView {
                src_port: 1,
                dst_port: 2,
                seq,
                ack,
                flags,
                window: 1000,
                payload,
                missing: 0,
            }
        };
        const A: u8 = tcp_flags::ACK;
        let mut t = AnswerTrack::default();
        // SYN at 0, SYN/ACK 300 us later, ACK 10 us after that.
        assert_eq!(
            t.segment(0, 1_000, 0, &view(100, 0, tcp_flags::SYN, b"")),
            None
        );
        assert_eq!(
            t.segment(1, 301_000, 0, &view(900, 101, tcp_flags::SYN | A, b"")),
            Some(300_000)
        );
        assert_eq!(
            t.segment(0, 311_000, 0, &view(101, 901, A, b"")),
            Some(10_000)
        );
        // Data, then its retransmission: the ACK answers the first send (Karn:
        // the retransmission is not tracked, so no 5 us sample).
        t.segment(0, 1_000_000, 0, &view(101, 901, A, b"abcd"));
        t.segment(0, 1_400_000, 0, &view(101, 901, A, b"abcd"));
        assert_eq!(
            t.segment(1, 1_405_000, 0, &view(901, 105, A, b"")),
            Some(405_000)
        );
        // An ACK short of the tracked end answers nothing.
        t.segment(0, 2_000_000, 0, &view(105, 901, A, b"efgh"));
        assert_eq!(t.segment(1, 2_001_000, 0, &view(901, 107, A, b"")), None);
        assert_eq!(
            t.segment(1, 2_002_000, 0, &view(901, 109, A, b"")),
            Some(2_000)
        );
        let mut a = AnswerTimes::default();
        for d in [50, 7, 9, 400, 8, 3] {
            a.add(d);
        }
        assert_eq!(a.lowest, [3, 7, 8, 9]);
        assert_eq!(a.typical_low(5), Some(8));
        assert_eq!(a.typical_low(7), None);
    }

    #[test]
    fn flow_state_stays_compact() {
        // A million live flows must fit in a few hundred MB (issue 13): the
        // table's slot is key + last-seen time + this state.
        let flow = std::mem::size_of::<FlowState>();
        let tcp = std::mem::size_of::<TcpConnection>();
        let key = std::mem::size_of::<ConvKey>();
        eprintln!("FlowState {flow} B, TcpConnection {tcp} B, ConvKey {key} B");
        assert!(flow <= 320, "FlowState {flow} B (TcpConnection {tcp} B)");
        assert!(flow + key + 8 <= 376);
    }

    #[test]
    fn client_side_from_syn_or_ports() {
        let e = |o: u8, port| Endpoint {
            ip: [10, 0, 0, o].into(),
            port,
        };
        let (k, d) = ConvKey::new(L4Proto::Tcp, e(1, 50000), e(2, 445));
        assert_eq!(guess_to_server(&k, d, Some(tcp_flags::SYN)), d);
        assert_eq!(
            guess_to_server(&k, d.reverse(), Some(tcp_flags::SYN | tcp_flags::ACK)),
            d
        );
        assert_eq!(
            k.source(guess_to_server(&k, d, Some(tcp_flags::ACK))),
            e(1, 50000)
        );
        let (k, d) = ConvKey::new(L4Proto::Udp, e(1, 3343), e(2, 3343));
        let to = guess_to_server(&k, d, None);
        assert_eq!(k.source(to.reverse()).port, 3343);
    }
}
