//! The SMB session model across all connections and input files:
//! sessions (by SessionId) with their channels (TCP connections, i.e. SMB
//! Multichannel), dialect, encryption, tree connects, opened files and byte
//! counts, plus global command counts, server interface lists (FSCTL),
//! share redirects and VM storage files. [`SmbModel::report`] gives a
//! serialisable summary.

use crate::flowtable::FastMap;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::flow::Endpoint;

use super::commands::{
    SESSION_FLAG_BINDING, SESSION_FLAG_ENCRYPT_DATA, SESSION_FLAG_IS_GUEST, SESSION_FLAG_IS_NULL,
    SHARE_FLAG_ENCRYPT_DATA, dialect_name, share_capability_names, share_caps, share_type_name,
};
use super::crypto::{Decryption, KeyOrigin, SignatureCheck};
use super::events::*;
use super::wire::{COMMAND_NAMES, status};

/// Most files remembered per session.
pub const MAX_FILES_PER_SESSION: usize = 100_000;
/// Most trees remembered per session.
pub const MAX_TREES_PER_SESSION: usize = 4096;
/// READ/WRITE messages remembered by MessageId per model (beyond it, IO is
/// summed per capture, session and file, and merged by the larger figure).
pub const MAX_IO_RECORDS: usize = 1 << 18;
/// Most (capture, session, file) sums per connection.
pub const MAX_AGG_PER_CONN: usize = 4096;
/// Most sessions tracked.
pub const MAX_SESSIONS: usize = 100_000;
/// Most time-series buckets per channel (the bucket width doubles beyond it).
pub const MAX_BUCKETS: usize = 4096;
/// Most entries kept in each global list (interfaces, redirects, VM files).
pub const MAX_GLOBAL_LIST: usize = 10_000;

/// One TCP connection as the caller knows it: who is client and server, and
/// where it was captured.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ChannelInfo {
    pub client: Endpoint,
    pub server: Endpoint,
    /// Capture file name.
    pub capture: String,
    /// Capture interface name.
    pub interface: String,
}

/// Index of a channel in an [`SmbModel`].
pub type ChannelId = usize;

/// Bytes per time bucket; buckets widen (power-of-two multiples of a second)
/// to stay within [`MAX_BUCKETS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeSeries {
    bucket_ns: i64,
    buckets: BTreeMap<i64, u64>,
}

impl Default for TimeSeries {
    fn default() -> Self {
        TimeSeries {
            bucket_ns: 1_000_000_000,
            buckets: BTreeMap::new(),
        }
    }
}

impl TimeSeries {
    pub fn add(&mut self, ts_ns: i64, bytes: u64) {
        let k = ts_ns.div_euclid(self.bucket_ns);
        *self.buckets.entry(k).or_default() += bytes;
        while self.buckets.len() > MAX_BUCKETS {
            self.bucket_ns = self.bucket_ns.saturating_mul(2);
            let old = std::mem::take(&mut self.buckets);
            for (k, v) in old {
                *self.buckets.entry(k.div_euclid(2)).or_default() += v;
            }
        }
    }
    /// Bucket width in nanoseconds.
    pub fn bucket_ns(&self) -> i64 {
        self.bucket_ns
    }
    /// (bucket start ns, bytes) pairs in time order.
    pub fn points(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.buckets
            .iter()
            .map(|(&k, &v)| (k.saturating_mul(self.bucket_ns), v))
    }
}

/// Index of a connection (client, server endpoints, whatever captured it).
type ConnId = usize;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Channel {
    info: Option<ChannelInfo>,
    /// The TCP connection this capture of it belongs to.
    conn: ConnId,
    dialect: Option<u16>,
    read_bytes: u64,
    write_bytes: u64,
    encrypted_bytes: u64,
    /// All SMB session-message bytes (framing excluded).
    smb_bytes: u64,
    series: TimeSeries,
    bindings: u64,
    /// `info`'s client and server as text, made once for the records that keep them.
    #[serde(skip)]
    names: Option<(String, String)>,
}

/// The IO of one MessageId on one connection, the larger evidence of every
/// capture that saw it.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct IoRec {
    /// 0 when no capture showed the SessionId.
    session: u64,
    file: Option<FileId>,
    read: u64,
    write: u64,
    complete: bool,
}

impl IoRec {
    fn join(&mut self, o: &IoRec) {
        if self.session == 0 {
            self.session = o.session;
        }
        self.file = self.file.or(o.file);
        self.read = self.read.max(o.read);
        self.write = self.write.max(o.write);
        self.complete |= o.complete;
    }
}

/// IO summed within one capture of a connection (encrypted messages, which
/// show no MessageId, and IO beyond [`MAX_IO_RECORDS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Agg {
    read: u64,
    write: u64,
    encrypted: u64,
    incomplete: u64,
}

impl Agg {
    fn max(&mut self, o: &Agg) {
        self.read = self.read.max(o.read);
        self.write = self.write.max(o.write);
        self.encrypted = self.encrypted.max(o.encrypted);
        self.incomplete = self.incomplete.max(o.incomplete);
    }
    fn add(&mut self, o: &Agg) {
        self.read += o.read;
        self.write += o.write;
        self.encrypted += o.encrypted;
        self.incomplete += o.incomplete;
    }
}

/// One TCP connection (an SMB channel) across every capture that saw it
/// (both ends captured: one connection, its bytes once).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Conn {
    /// The channels (capture, interface) that saw it, in order.
    seen: Vec<ChannelId>,
    ios: BTreeMap<u64, IoRec>,
    /// Keyed by (channel, session, file).
    #[serde(with = "pairs")]
    agg: BTreeMap<(ChannelId, u64, Option<FileId>), Agg>,
    sessions: BTreeSet<u64>,
}

impl Conn {
    fn agg_add(&mut self, key: (ChannelId, u64, Option<FileId>), a: &Agg) {
        let key = if self.agg.len() >= MAX_AGG_PER_CONN && !self.agg.contains_key(&key) {
            (key.0, key.1, None)
        } else {
            key
        };
        self.agg.entry(key).or_default().add(a);
    }

    /// The connection's IO per (session, file): MessageId records, plus
    /// the per-capture sums, the larger capture's figure where several saw it.
    /// Records without a SessionId go to the connection's only session.
    fn totals(&self) -> BTreeMap<(u64, Option<FileId>), Agg> {
        let only = if self.sessions.len() == 1 {
            self.sessions.first().copied().unwrap_or(0)
        } else {
            0
        };
        let pick = |s: u64| if s == 0 { only } else { s };
        let mut t: BTreeMap<(u64, Option<FileId>), Agg> = BTreeMap::new();
        for r in self.ios.values() {
            t.entry((pick(r.session), r.file)).or_default().add(&Agg {
                read: r.read,
                write: r.write,
                encrypted: 0,
                incomplete: u64::from(!r.complete),
            });
        }
        // Sum within a channel, then the larger channel's sum.
        let mut by_ch: BTreeMap<(u64, Option<FileId>, ChannelId), Agg> = BTreeMap::new();
        for (&(ch, s, f), a) in &self.agg {
            by_ch.entry((pick(s), f, ch)).or_default().add(a);
        }
        let mut per: BTreeMap<(u64, Option<FileId>), Agg> = BTreeMap::new();
        for (&(s, f, _), a) in &by_ch {
            per.entry((s, f)).or_default().max(a);
        }
        for (k, a) in per {
            t.entry(k).or_default().add(&a);
        }
        t
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Tree {
    share: String,
    share_type: u8,
    share_flags: u32,
    capabilities: u32,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FileRec {
    name: String,
    vm_storage: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Session {
    /// The connections (channels) the session was seen on.
    conns: BTreeSet<ConnId>,
    encrypted: bool,
    session_flags: u16,
    trees: BTreeMap<u32, Tree>,
    #[serde(with = "pairs")]
    files: FastMap<FileId, FileRec>,
    binding_requests: u64,
    decryption: DecryptionReport,
    #[serde(default)]
    key: Option<KeyOrigin>,
    #[serde(default)]
    signatures: SignatureReport,
}

/// Signed messages of a session checked with its key (all zero without one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignatureReport {
    pub verified: u64,
    /// The signature is not the key's (wrong key or damage).
    pub failed: u64,
    /// Not carried whole in the capture, so not checked.
    pub unchecked: u64,
}

impl SignatureReport {
    fn add(&mut self, o: &SignatureReport) {
        self.verified += o.verified;
        self.failed += o.failed;
        self.unchecked += o.unchecked;
    }
    /// Signed messages checked or seen with a key.
    pub fn total(&self) -> u64 {
        self.verified + self.failed + self.unchecked
    }
}

/// What decryption did to a session's encrypted messages (all zero without keys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecryptionReport {
    /// Decrypted with a supplied key (or one derived from a supplied password).
    pub decrypted_frames: u64,
    /// Authentic messages whose nonce was seen before in the session.
    pub replayed_nonces: u64,
    /// No supplied key fitted, or the tag did not verify (wrong key, damage).
    pub auth_failures: u64,
    /// Ciphertext incomplete in the capture.
    pub truncated: u64,
    /// OriginalMessageSize zero or beyond the message.
    pub bad_size: u64,
}

impl DecryptionReport {
    fn add(&mut self, o: &DecryptionReport) {
        self.decrypted_frames += o.decrypted_frames;
        self.replayed_nonces += o.replayed_nonces;
        self.auth_failures += o.auth_failures;
        self.truncated += o.truncated;
        self.bad_size += o.bad_size;
    }
    /// Whether decryption was attempted at all.
    pub fn attempted(&self) -> bool {
        *self != DecryptionReport::default()
    }
}

/// The session model (see the module doc).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SmbModel {
    channels: Vec<Channel>,
    /// Rebuilt from `channels` when read back ([`SmbModel::from_json`]).
    #[serde(skip)]
    index: FastMap<(Endpoint, Endpoint), Vec<ChannelId>>,
    conns: Vec<Conn>,
    #[serde(skip)]
    conn_index: FastMap<(Endpoint, Endpoint), ConnId>,
    /// Entries in every connection's `ios`.
    io_records: usize,
    sessions: BTreeMap<u64, Session>,
    commands: [u64; 19],
    unknown_commands: u64,
    server_interfaces: Vec<ServerInterfaces>,
    redirects: Vec<RedirectRecord>,
    vm_files: BTreeSet<VmFile>,
    smb1_negotiates: u64,
    smb1_offering_smb2: u64,
    encrypted_frames: u64,
    compressed_frames: u64,
    resyncs: u64,
    resync_skipped: u64,
}

/// An interface list a server returned (FSCTL_QUERY_NETWORK_INTERFACE_INFO).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerInterfaces {
    /// The server endpoint of the connection that carried the response.
    pub server: String,
    pub interfaces: Vec<InterfaceReport>,
}

/// One server interface in the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InterfaceReport {
    pub if_index: u32,
    pub addr: String,
    pub link_speed_bps: u64,
    pub rss: bool,
    pub rdma: bool,
}

/// A share redirect seen in an error response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RedirectRecord {
    pub client: String,
    pub server: String,
    pub session_id: String,
    pub resource_name: String,
    pub addresses: Vec<String>,
}

/// A Hyper-V VM storage/state file opened over SMB.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct VmFile {
    pub server: String,
    pub session_id: String,
    pub name: String,
}

/// Witness (MS-SWN) notification placeholder, filled by the DCE/RPC analyser.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WitnessEvent {
    pub kind: String,
    pub detail: String,
}

/// Serialisable summary of an [`SmbModel`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SmbReport {
    /// Cleartext SMB2 PDUs by command name (requests and responses, compound elements each).
    pub commands: BTreeMap<String, u64>,
    pub sessions: Vec<SessionReport>,
    pub server_interfaces: Vec<ServerInterfaces>,
    pub witness: Vec<WitnessEvent>,
    pub redirects: Vec<RedirectRecord>,
    pub vm_files: Vec<VmFile>,
    pub channels: Vec<ChannelReport>,
    pub encrypted_frames: u64,
    pub compressed_frames: u64,
    pub smb1_negotiates: u64,
    pub smb1_negotiates_offering_smb2: u64,
    pub resyncs: u64,
    pub resync_skipped_bytes: u64,
    /// READ/WRITE/encrypted messages of which no capture carried every
    /// declared byte (their bytes count what was carried).
    pub incomplete_messages: u64,
}

/// One session in the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionReport {
    pub session_id: String,
    pub dialect: Option<String>,
    pub encrypted: bool,
    /// Channels bound with SESSION_SETUP(BINDING) requests seen.
    pub binding_requests: u64,
    /// SessionFlags of successful SESSION_SETUP responses: "IS_GUEST", "IS_NULL", "ENCRYPT_DATA".
    pub session_flags: Vec<&'static str>,
    pub channels: Vec<SessionChannelReport>,
    pub trees: Vec<TreeReport>,
    pub files: Vec<FileReport>,
    /// A tree of this session has the SCALEOUT or CLUSTER capability.
    pub scaleout_or_cluster: bool,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub encrypted_bytes: u64,
    /// Decryption outcomes (all zero when no key was supplied for the session).
    pub decryption: DecryptionReport,
    /// How the session's key came (supplied, NTLMv2, Kerberos) or why it did
    /// not; `None` when no key source applied. Never the key.
    pub key: Option<KeyOrigin>,
    /// Signed messages checked with the session's key.
    pub signatures: SignatureReport,
    /// READ/WRITE/encrypted messages the captures carried only in part.
    pub incomplete_messages: u64,
}

/// A channel (TCP connection) of a session, with the session's bytes on it:
/// one entry however many captures saw the connection, its bytes once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionChannelReport {
    pub client: String,
    pub server: String,
    /// The first capture (file, interface) that saw it.
    pub capture: String,
    pub interface: String,
    /// Every capture that saw it, as "file/interface".
    pub seen_in: Vec<String>,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub encrypted_bytes: u64,
    pub incomplete_messages: u64,
}

/// A tree connect of a session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TreeReport {
    pub tree_id: String,
    pub share: String,
    pub share_type: &'static str,
    pub encrypt_data: bool,
    pub capabilities: Vec<&'static str>,
}

/// A file a session opened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileReport {
    pub name: String,
    pub vm_storage: bool,
    /// Successful CREATEs (distinct FileIds) seen for this name.
    pub opens: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// A channel (TCP connection) with all its SMB bytes and a time series.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChannelReport {
    pub client: String,
    pub server: String,
    pub capture: String,
    pub interface: String,
    pub dialect: Option<String>,
    pub smb_bytes: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub encrypted_bytes: u64,
    pub bucket_ns: i64,
    /// (bucket start ns, SMB bytes) pairs.
    pub series: Vec<(i64, u64)>,
}

/// Maps whose keys are not strings (tuples, structs) as JSON lists of pairs.
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(m: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        s.collect_seq(m)
    }

    pub fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

fn sid(s: u64) -> String {
    format!("0x{s:016x}")
}

impl SmbModel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the lookup indexes of a model read back through serde (they
    /// are not serialised: a scan shard carries what [`SmbModel::merge`]
    /// needs of one capture's model).
    pub fn rebuild_indexes(&mut self) {
        self.index.clear();
        self.conn_index.clear();
        for (id, c) in self.channels.iter().enumerate() {
            if let Some(i) = &c.info {
                self.index.entry((i.client, i.server)).or_default().push(id);
                self.conn_index
                    .entry((i.client, i.server))
                    .or_insert(c.conn);
            }
        }
    }

    /// The id of a channel, created on first use.
    pub fn channel_id(&mut self, ch: &ChannelInfo) -> ChannelId {
        let ids = self.index.entry((ch.client, ch.server)).or_default();
        for &id in ids.iter() {
            if let Some(info) = &self.channels[id].info {
                if info.capture == ch.capture && info.interface == ch.interface {
                    return id;
                }
            }
        }
        let id = self.channels.len();
        ids.push(id);
        let conn = self.conn_of(ch.client, ch.server);
        self.conns[conn].seen.push(id);
        self.channels.push(Channel {
            info: Some(ch.clone()),
            conn,
            ..Channel::default()
        });
        id
    }

    fn conn_of(&mut self, client: Endpoint, server: Endpoint) -> ConnId {
        let n = self.conns.len();
        let id = *self.conn_index.entry((client, server)).or_insert(n);
        if id == n {
            self.conns.push(Conn::default());
        }
        id
    }

    /// Adds another model (e.g. one per capture file, built in parallel
    /// without a shared lock) into this one. Channels are matched by their
    /// [`ChannelInfo`], sessions by id: counters add up, trees and files
    /// join (bytes of a file both saw add up), lists are united within their
    /// bounds. Merging the per-file models in file order gives the same report
    /// whatever order the files were read in.
    pub fn merge(&mut self, other: SmbModel) {
        let mut ids = Vec::with_capacity(other.channels.len());
        for c in other.channels {
            let id = match &c.info {
                Some(info) => self.channel_id(info),
                None => {
                    let conn = self.conns.len();
                    self.conns.push(Conn::default());
                    self.channels.push(Channel {
                        conn,
                        ..Channel::default()
                    });
                    self.conns[conn].seen.push(self.channels.len() - 1);
                    self.channels.len() - 1
                }
            };
            let t = &mut self.channels[id];
            t.dialect = t.dialect.or(c.dialect);
            t.read_bytes += c.read_bytes;
            t.write_bytes += c.write_bytes;
            t.encrypted_bytes += c.encrypted_bytes;
            t.smb_bytes += c.smb_bytes;
            t.bindings += c.bindings;
            for (start, bytes) in c.series.points() {
                t.series.add(start, bytes);
            }
            ids.push(id);
        }
        // Connections: the other model's channels already joined theirs; its
        // IO joins per MessageId (larger evidence), per-capture sums move over.
        let mut conn_ids = vec![usize::MAX; other.conns.len()];
        for (oc, c) in other.conns.iter().enumerate() {
            if let Some(&ch) = c.seen.first().and_then(|&s| ids.get(s)) {
                conn_ids[oc] = self.channels[ch].conn;
            }
        }
        for (oc, c) in other.conns.into_iter().enumerate() {
            let cid = match conn_ids[oc] {
                usize::MAX => {
                    self.conns.push(Conn::default());
                    self.conns.len() - 1
                }
                x => x,
            };
            let room = MAX_IO_RECORDS.saturating_sub(self.io_records);
            let t = &mut self.conns[cid];
            let mut added = 0usize;
            for (mid, r) in c.ios {
                if let Some(x) = t.ios.get_mut(&mid) {
                    x.join(&r);
                } else if added < room {
                    t.ios.insert(mid, r);
                    added += 1;
                } else {
                    let a = Agg {
                        read: r.read,
                        write: r.write,
                        encrypted: 0,
                        incomplete: u64::from(!r.complete),
                    };
                    let ch = c
                        .seen
                        .first()
                        .and_then(|&s| ids.get(s))
                        .copied()
                        .unwrap_or(0);
                    t.agg_add((ch, r.session, r.file), &a);
                }
            }
            for ((ch, s, f), a) in c.agg {
                let ch = ids.get(ch).copied().unwrap_or(0);
                t.agg_add((ch, s, f), &a);
            }
            t.sessions.extend(c.sessions);
            self.io_records += added;
        }
        for (sid, o) in other.sessions {
            let s = self.sessions.entry(sid).or_default();
            for c in o.conns {
                if let Some(&id) = conn_ids.get(c) {
                    if id != usize::MAX {
                        s.conns.insert(id);
                    }
                }
            }
            s.encrypted |= o.encrypted;
            s.session_flags |= o.session_flags;
            for (tid, tree) in o.trees {
                if s.trees.len() < MAX_TREES_PER_SESSION {
                    s.trees.entry(tid).or_insert(tree);
                }
            }
            for (fid, f) in o.files {
                if s.files.len() < MAX_FILES_PER_SESSION {
                    s.files.entry(fid).or_insert(f);
                }
            }
            s.binding_requests += o.binding_requests;
            s.decryption.add(&o.decryption);
            s.signatures.add(&o.signatures);
            if s.key.as_ref().is_none_or(|k| !k.recovered) && o.key.is_some() {
                s.key = o.key;
            }
        }
        for (a, b) in self.commands.iter_mut().zip(other.commands) {
            *a += b;
        }
        self.unknown_commands += other.unknown_commands;
        for rec in other.server_interfaces {
            if !self.server_interfaces.contains(&rec)
                && self.server_interfaces.len() < MAX_GLOBAL_LIST
            {
                self.server_interfaces.push(rec);
            }
        }
        let room = MAX_GLOBAL_LIST.saturating_sub(self.redirects.len());
        self.redirects
            .extend(other.redirects.into_iter().take(room));
        for f in other.vm_files {
            if self.vm_files.len() >= MAX_GLOBAL_LIST {
                break;
            }
            self.vm_files.insert(f);
        }
        self.smb1_negotiates += other.smb1_negotiates;
        self.smb1_offering_smb2 += other.smb1_offering_smb2;
        self.encrypted_frames += other.encrypted_frames;
        self.compressed_frames += other.compressed_frames;
        self.resyncs += other.resyncs;
        self.resync_skipped += other.resync_skipped;
    }

    /// Takes one event of the connection `ch`.
    pub fn ingest(&mut self, ch: &ChannelInfo, ev: &SmbEvent) {
        let id = self.channel_id(ch);
        self.ingest_on(id, ev);
    }

    /// Sessions that sent encrypted messages of which none was tried: no key
    /// was known for them where they were read.
    pub fn sessions_without_key(&self) -> Vec<u64> {
        self.sessions
            .iter()
            .filter(|(_, s)| s.encrypted && !s.decryption.attempted())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Takes one event of channel `id` (from [`SmbModel::channel_id`]); unknown ids are ignored.
    pub fn ingest_on(&mut self, id: ChannelId, ev: &SmbEvent) {
        if id >= self.channels.len() {
            return;
        }
        match &ev.kind {
            SmbEventKind::Pdu(p) => self.pdu(id, ev.ts_ns, p),
            SmbEventKind::Encrypted {
                session_id,
                wire_bytes,
                decryption,
                ..
            } => {
                // Encrypted bytes count from the message's `Io` event (what was carried).
                self.encrypted_frames += 1;
                let b = u64::from(*wire_bytes);
                let c = &mut self.channels[id];
                c.smb_bytes += b;
                c.series.add(ev.ts_ns, b);
                if let Some(s) = self.session(*session_id, id) {
                    s.encrypted = true;
                    let d = &mut s.decryption;
                    match decryption {
                        Decryption::NoKey => {}
                        Decryption::Decrypted => d.decrypted_frames += 1,
                        Decryption::Replayed => {
                            d.decrypted_frames += 1;
                            d.replayed_nonces += 1;
                        }
                        Decryption::AuthFailed => d.auth_failures += 1,
                        Decryption::Truncated => d.truncated += 1,
                        Decryption::BadSize => d.bad_size += 1,
                    }
                }
            }
            SmbEventKind::Io(io) => self.io(id, io),
            SmbEventKind::SessionKey { session_id, origin } => {
                if let Some(s) = self.session(*session_id, id) {
                    // A recovered key is not replaced by a later failure (a channel's binding).
                    if s.key
                        .as_ref()
                        .is_none_or(|k| !k.recovered || origin.recovered)
                    {
                        s.key = Some(origin.clone());
                    }
                }
            }
            SmbEventKind::Signature { session_id, check } => {
                if let Some(s) = self.session(*session_id, id) {
                    let g = &mut s.signatures;
                    match check {
                        SignatureCheck::Verified => g.verified += 1,
                        SignatureCheck::Failed => g.failed += 1,
                        SignatureCheck::Unchecked => g.unchecked += 1,
                    }
                }
            }
            SmbEventKind::Compressed {
                len,
                header_visible,
                ..
            } => {
                self.compressed_frames += 1;
                if !header_visible {
                    let c = &mut self.channels[id];
                    c.smb_bytes += u64::from(*len);
                    c.series.add(ev.ts_ns, u64::from(*len));
                }
            }
            SmbEventKind::Smb1Negotiate {
                dialects_offered_smb2,
                ..
            } => {
                self.smb1_negotiates += 1;
                if *dialects_offered_smb2 {
                    self.smb1_offering_smb2 += 1;
                }
            }
            SmbEventKind::Smb1 { .. } => {}
            SmbEventKind::Resync { skipped } => {
                self.resyncs += 1;
                self.resync_skipped += skipped;
            }
        }
    }

    /// The session `id` (created if needed and room remains), joined to channel `ch`.
    fn session(&mut self, id: u64, ch: ChannelId) -> Option<&mut Session> {
        if id == 0 {
            return None;
        }
        if !self.sessions.contains_key(&id) && self.sessions.len() >= MAX_SESSIONS {
            return None;
        }
        let conn = self.channels[ch].conn;
        if let Some(c) = self.conns.get_mut(conn) {
            c.sessions.insert(id);
        }
        let s = self.sessions.entry(id).or_default();
        s.conns.insert(conn);
        Some(s)
    }

    /// What a capture's stream carried of one READ/WRITE/encrypted message.
    fn io(&mut self, id: ChannelId, io: &Io) {
        let c = &mut self.channels[id];
        match io.kind {
            IoKind::Read => c.read_bytes += io.bytes,
            IoKind::Write => c.write_bytes += io.bytes,
            IoKind::Encrypted => c.encrypted_bytes += io.bytes,
        }
        let conn = c.conn;
        if io.session_id != 0 {
            if let Some(s) = self.session(io.session_id, id) {
                if io.kind == IoKind::Encrypted {
                    s.encrypted = true;
                }
            }
        }
        let (read, write) = match io.kind {
            IoKind::Read => (io.bytes, 0),
            IoKind::Write => (0, io.bytes),
            IoKind::Encrypted => (0, 0),
        };
        let full = self.io_records >= MAX_IO_RECORDS;
        let t = &mut self.conns[conn];
        match io.message_id {
            Some(mid) if io.kind != IoKind::Encrypted && (!full || t.ios.contains_key(&mid)) => {
                let r = IoRec {
                    session: io.session_id,
                    file: io.file_id,
                    read,
                    write,
                    complete: io.complete,
                };
                match t.ios.entry(mid) {
                    std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().join(&r),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(r);
                        self.io_records += 1;
                    }
                }
            }
            _ => {
                let a = Agg {
                    read,
                    write,
                    encrypted: if io.kind == IoKind::Encrypted {
                        io.bytes
                    } else {
                        0
                    },
                    incomplete: u64::from(!io.complete),
                };
                t.agg_add((id, io.session_id, io.file_id), &a);
            }
        }
    }

    fn pdu(&mut self, id: ChannelId, ts_ns: i64, p: &Pdu) {
        let h = &p.header;
        match self.commands.get_mut(h.command as usize) {
            Some(c) => *c += 1,
            None => self.unknown_commands += 1,
        }
        if p.compound_index == 0 {
            let c = &mut self.channels[id];
            c.smb_bytes += u64::from(p.frame_len);
            c.series.add(ts_ns, u64::from(p.frame_len));
        }
        // Endpoint strings only for the rare records that keep them, formatted
        // once per channel.
        let endpoints = |m: &mut Self| {
            let c = &mut m.channels[id];
            let info = &c.info;
            c.names
                .get_or_insert_with(|| {
                    info.as_ref()
                        .map(|i| (i.client.to_string(), i.server.to_string()))
                        .unwrap_or_default()
                })
                .clone()
        };
        match &p.body {
            Body::NegotiateResponse(n) if n.dialect != 0x02FF => {
                self.channels[id].dialect = Some(n.dialect);
            }
            Body::IoctlResponse { interfaces, .. } if !interfaces.is_empty() => {
                let (_, server) = endpoints(self);
                let rec = ServerInterfaces {
                    server,
                    interfaces: interfaces
                        .iter()
                        .map(|i| InterfaceReport {
                            if_index: i.if_index,
                            addr: i.addr.ip().to_string(),
                            link_speed_bps: i.link_speed_bps,
                            rss: i.rss(),
                            rdma: i.rdma(),
                        })
                        .collect(),
                };
                if !self.server_interfaces.contains(&rec)
                    && self.server_interfaces.len() < MAX_GLOBAL_LIST
                {
                    self.server_interfaces.push(rec);
                }
            }
            Body::Error {
                share_redirect: Some(r),
                ..
            } if self.redirects.len() < MAX_GLOBAL_LIST => {
                let (client, server) = endpoints(self);
                self.redirects.push(RedirectRecord {
                    client,
                    server,
                    session_id: sid(h.session_id),
                    resource_name: r.resource_name.clone(),
                    addresses: r.addresses.iter().map(IpAddr::to_string).collect(),
                });
            }
            Body::CreateRequest {
                name,
                vm_storage: true,
            } if self.vm_files.len() < MAX_GLOBAL_LIST => {
                let (_, server) = endpoints(self);
                self.vm_files.insert(VmFile {
                    server,
                    session_id: sid(h.session_id),
                    name: name.clone(),
                });
            }
            _ => {}
        }
        let Some(s) = self.session(h.session_id, id) else {
            return;
        };
        match &p.body {
            Body::SessionSetupRequest { flags, .. } if flags & SESSION_FLAG_BINDING != 0 => {
                s.binding_requests += 1;
                self.channels[id].bindings += 1;
            }
            Body::SessionSetupResponse { session_flags } if h.status == status::SUCCESS => {
                s.session_flags |= session_flags;
                if session_flags & SESSION_FLAG_ENCRYPT_DATA != 0 {
                    s.encrypted = true;
                }
            }
            Body::TreeConnectResponse {
                share_type,
                share_flags,
                capabilities,
                path,
            } if h.status == status::SUCCESS => {
                if share_flags & SHARE_FLAG_ENCRYPT_DATA != 0 {
                    s.encrypted = true;
                }
                if s.trees.len() < MAX_TREES_PER_SESSION || s.trees.contains_key(&h.tree_id) {
                    s.trees.insert(
                        h.tree_id,
                        Tree {
                            share: path.clone().unwrap_or_default(),
                            share_type: *share_type,
                            share_flags: *share_flags,
                            capabilities: *capabilities,
                        },
                    );
                }
            }
            Body::CreateResponse {
                file_id,
                name: Some(name),
                ..
            } if h.status == status::SUCCESS
                && (s.files.len() < MAX_FILES_PER_SESSION || s.files.contains_key(file_id)) =>
            {
                s.files.insert(
                    *file_id,
                    FileRec {
                        name: name.clone(),
                        vm_storage: super::commands::is_vm_storage(name),
                    },
                );
            }
            _ => {}
        }
    }

    /// Whether any tree of session `session_id` has the SCALEOUT or CLUSTER capability.
    pub fn session_scaleout_or_cluster(&self, session_id: u64) -> bool {
        self.sessions.get(&session_id).is_some_and(|s| {
            s.trees
                .values()
                .any(|t| t.capabilities & (share_caps::SCALEOUT | share_caps::CLUSTER) != 0)
        })
    }

    /// Builds the serialisable summary.
    pub fn report(&self) -> SmbReport {
        let mut commands = BTreeMap::new();
        for (i, &n) in self.commands.iter().enumerate() {
            if n > 0 {
                commands.insert(COMMAND_NAMES[i].to_string(), n);
            }
        }
        if self.unknown_commands > 0 {
            commands.insert("UNKNOWN".to_string(), self.unknown_commands);
        }
        let info = |id: ChannelId| self.channels.get(id).and_then(|c| c.info.as_ref());
        // Each connection's IO once, per (session, file).
        let totals: Vec<BTreeMap<(u64, Option<FileId>), Agg>> =
            self.conns.iter().map(Conn::totals).collect();
        let incomplete_messages = totals
            .iter()
            .flat_map(|t| t.values())
            .map(|a| a.incomplete)
            .sum();
        let sessions = self
            .sessions
            .iter()
            .map(|(&id, s)| {
                let dialect = s
                    .conns
                    .iter()
                    .flat_map(|&c| self.conns[c].seen.iter())
                    .find_map(|&c| self.channels.get(c).and_then(|c| c.dialect))
                    .map(|d| dialect_name(d).to_string());
                let mut sum = Agg::default();
                let mut file_io: FastMap<FileId, (u64, u64)> = FastMap::default();
                let channels: Vec<SessionChannelReport> = s
                    .conns
                    .iter()
                    .filter_map(|&c| {
                        let conn = &self.conns[c];
                        let mut a = Agg::default();
                        for ((_, f), x) in totals[c].range(
                            (id, None)
                                ..=(
                                    id,
                                    Some(FileId {
                                        persistent: u64::MAX,
                                        volatile: u64::MAX,
                                    }),
                                ),
                        ) {
                            a.add(x);
                            if let Some(f) = f {
                                let e = file_io.entry(*f).or_default();
                                e.0 += x.read;
                                e.1 += x.write;
                            }
                        }
                        sum.add(&a);
                        let first = conn.seen.iter().find_map(|&ch| info(ch))?;
                        Some(SessionChannelReport {
                            client: first.client.to_string(),
                            server: first.server.to_string(),
                            capture: first.capture.clone(),
                            interface: first.interface.clone(),
                            seen_in: conn
                                .seen
                                .iter()
                                .filter_map(|&ch| info(ch))
                                .map(|i| format!("{}/{}", i.capture, i.interface))
                                .collect(),
                            read_bytes: a.read,
                            write_bytes: a.write,
                            encrypted_bytes: a.encrypted,
                            incomplete_messages: a.incomplete,
                        })
                    })
                    .collect();
                // One entry per file name (a name opened several times has several FileIds).
                let mut by_name: BTreeMap<&str, FileReport> = BTreeMap::new();
                for (fid, f) in &s.files {
                    let e = by_name
                        .entry(f.name.as_str())
                        .or_insert_with(|| FileReport {
                            name: f.name.clone(),
                            vm_storage: f.vm_storage,
                            opens: 0,
                            read_bytes: 0,
                            write_bytes: 0,
                        });
                    e.opens += 1;
                    if let Some(&(r, w)) = file_io.get(fid) {
                        e.read_bytes += r;
                        e.write_bytes += w;
                    }
                }
                let files: Vec<FileReport> = by_name.into_values().collect();
                SessionReport {
                    session_id: sid(id),
                    dialect,
                    encrypted: s.encrypted,
                    binding_requests: s.binding_requests,
                    session_flags: [
                        (SESSION_FLAG_IS_GUEST, "IS_GUEST"),
                        (SESSION_FLAG_IS_NULL, "IS_NULL"),
                        (SESSION_FLAG_ENCRYPT_DATA, "ENCRYPT_DATA"),
                    ]
                    .iter()
                    .filter(|(b, _)| s.session_flags & b != 0)
                    .map(|(_, n)| *n)
                    .collect(),
                    channels,
                    trees: s
                        .trees
                        .iter()
                        .map(|(&tid, t)| TreeReport {
                            tree_id: format!("0x{tid:08x}"),
                            share: t.share.clone(),
                            share_type: share_type_name(t.share_type),
                            encrypt_data: t.share_flags & SHARE_FLAG_ENCRYPT_DATA != 0,
                            capabilities: share_capability_names(t.capabilities),
                        })
                        .collect(),
                    files,
                    scaleout_or_cluster: self.session_scaleout_or_cluster(id),
                    read_bytes: sum.read,
                    write_bytes: sum.write,
                    encrypted_bytes: sum.encrypted,
                    incomplete_messages: sum.incomplete,
                    decryption: s.decryption,
                    key: s.key.clone(),
                    signatures: s.signatures,
                }
            })
            .collect();
        let channels = self
            .channels
            .iter()
            .filter_map(|c| {
                c.info.as_ref().map(|i| ChannelReport {
                    client: i.client.to_string(),
                    server: i.server.to_string(),
                    capture: i.capture.clone(),
                    interface: i.interface.clone(),
                    dialect: c.dialect.map(|d| dialect_name(d).to_string()),
                    smb_bytes: c.smb_bytes,
                    read_bytes: c.read_bytes,
                    write_bytes: c.write_bytes,
                    encrypted_bytes: c.encrypted_bytes,
                    bucket_ns: c.series.bucket_ns(),
                    series: c.series.points().collect(),
                })
            })
            .collect();
        SmbReport {
            commands,
            sessions,
            server_interfaces: self.server_interfaces.clone(),
            witness: Vec::new(),
            redirects: self.redirects.clone(),
            vm_files: self.vm_files.iter().cloned().collect(),
            channels,
            encrypted_frames: self.encrypted_frames,
            compressed_frames: self.compressed_frames,
            smb1_negotiates: self.smb1_negotiates,
            smb1_negotiates_offering_smb2: self.smb1_offering_smb2,
            resyncs: self.resyncs,
            resync_skipped_bytes: self.resync_skipped,
            incomplete_messages,
        }
    }
}

#[cfg(test)]
mod merge_cap {
    use super::*;

    fn channel(n: u8) -> ChannelInfo {
        let ep = |ip: [u8; 4], port| Endpoint {
            ip: IpAddr::from(ip),
            port,
        };
        ChannelInfo {
            client: ep([10, 0, 0, n], 50_000),
            server: ep([10, 0, 1, 1], 445),
            capture: format!("node{n}.pcapng"),
            interface: "eth0".into(),
        }
    }

    /// Models merged one after another (one per capture, as the merge folds
    /// shards) keep at most MAX_IO_RECORDS per-IO records in all, not per
    /// model merged; the IO beyond them is summed, so no byte is lost.
    #[test]
    fn merged_models_share_one_cap_on_io_records() {
        const PER: usize = MAX_IO_RECORDS / 2 + 1000;
        let mut merged = SmbModel::new();
        for n in 0..3u8 {
            let mut m = SmbModel::new();
            let id = m.channel_id(&channel(n));
            for mid in 0..PER as u64 {
                m.io(
                    id,
                    &Io {
                        kind: IoKind::Read,
                        session_id: 7,
                        message_id: Some(mid),
                        file_id: None,
                        bytes: 10,
                        declared: 10,
                        complete: true,
                    },
                );
            }
            assert_eq!(m.io_records, PER);
            merged.merge(m);
            assert!(merged.io_records <= MAX_IO_RECORDS);
        }
        assert_eq!(merged.io_records, MAX_IO_RECORDS);
        let stored: usize = merged.conns.iter().map(|c| c.ios.len()).sum();
        assert_eq!(stored, MAX_IO_RECORDS);
        let r = merged.report();
        assert_eq!(r.sessions.len(), 1);
        assert_eq!(r.sessions[0].read_bytes, 3 * PER as u64 * 10);
    }
}
