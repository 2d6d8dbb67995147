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
use super::crypto::Decryption;
use super::events::*;
use super::wire::{COMMAND_NAMES, status};

/// Most files remembered per session.
pub const MAX_FILES_PER_SESSION: usize = 100_000;
/// Most trees remembered per session.
pub const MAX_TREES_PER_SESSION: usize = 4096;
/// File ids with IO but no CREATE in this model that are remembered for a
/// merge (a capture that starts mid-session has many; the rest only count
/// towards the session's and channel's bytes).
pub const MAX_ORPHANS_PER_SESSION: usize = 4096;
/// Most sessions tracked.
pub const MAX_SESSIONS: usize = 100_000;
/// Most time-series buckets per channel (the bucket width doubles beyond it).
pub const MAX_BUCKETS: usize = 4096;
/// Most entries kept in each global list (interfaces, redirects, VM files).
pub const MAX_GLOBAL_LIST: usize = 10_000;

/// One TCP connection as the caller knows it: who is client and server, and
/// where it was captured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, Default)]
struct Channel {
    info: Option<ChannelInfo>,
    dialect: Option<u16>,
    read_bytes: u64,
    write_bytes: u64,
    encrypted_bytes: u64,
    /// All SMB session-message bytes (framing excluded).
    smb_bytes: u64,
    series: TimeSeries,
    bindings: u64,
    /// `info`'s client and server as text, made once for the records that keep them.
    names: Option<(String, String)>,
}

#[derive(Debug, Clone, Default)]
struct ChanBytes {
    read: u64,
    write: u64,
    encrypted: u64,
}

#[derive(Debug, Clone)]
struct Tree {
    share: String,
    share_type: u8,
    share_flags: u32,
    capabilities: u32,
}

#[derive(Debug, Clone)]
struct FileRec {
    name: String,
    vm_storage: bool,
    read_bytes: u64,
    write_bytes: u64,
}

#[derive(Debug, Clone, Default)]
struct Session {
    channels: BTreeMap<ChannelId, ChanBytes>,
    encrypted: bool,
    session_flags: u16,
    trees: BTreeMap<u32, Tree>,
    files: FastMap<FileId, FileRec>,
    /// (read, write) bytes on file ids this model saw no CREATE for (it may
    /// be in another capture's model: [`SmbModel::merge`] joins them).
    orphans: FastMap<FileId, (u64, u64)>,
    read_bytes: u64,
    write_bytes: u64,
    encrypted_bytes: u64,
    binding_requests: u64,
    decryption: DecryptionReport,
}

/// What decryption did to a session's encrypted messages (all zero without keys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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

impl Session {
    /// Counts IO on a file id without a known CREATE, within the bound.
    fn orphan_io(&mut self, fid: FileId, read: u64, write: u64) {
        if self.orphans.len() < MAX_ORPHANS_PER_SESSION || self.orphans.contains_key(&fid) {
            let t = self.orphans.entry(fid).or_default();
            t.0 += read;
            t.1 += write;
        }
    }
}

/// The session model (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct SmbModel {
    channels: Vec<Channel>,
    index: FastMap<(Endpoint, Endpoint), Vec<ChannelId>>,
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerInterfaces {
    /// The server endpoint of the connection that carried the response.
    pub server: String,
    pub interfaces: Vec<InterfaceReport>,
}

/// One server interface in the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceReport {
    pub if_index: u32,
    pub addr: String,
    pub link_speed_bps: u64,
    pub rss: bool,
    pub rdma: bool,
}

/// A share redirect seen in an error response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RedirectRecord {
    pub client: String,
    pub server: String,
    pub session_id: String,
    pub resource_name: String,
    pub addresses: Vec<String>,
}

/// A Hyper-V VM storage/state file opened over SMB.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
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
}

/// A channel of a session, with the session's bytes on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionChannelReport {
    pub client: String,
    pub server: String,
    pub capture: String,
    pub interface: String,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub encrypted_bytes: u64,
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

fn sid(s: u64) -> String {
    format!("0x{s:016x}")
}

impl SmbModel {
    pub fn new() -> Self {
        Self::default()
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
        self.channels.push(Channel {
            info: Some(ch.clone()),
            ..Channel::default()
        });
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
                    self.channels.push(Channel::default());
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
        for (sid, o) in other.sessions {
            let s = self.sessions.entry(sid).or_default();
            for (ch, b) in o.channels {
                if let Some(&id) = ids.get(ch) {
                    let t = s.channels.entry(id).or_default();
                    t.read += b.read;
                    t.write += b.write;
                    t.encrypted += b.encrypted;
                }
            }
            s.encrypted |= o.encrypted;
            s.session_flags |= o.session_flags;
            for (tid, tree) in o.trees {
                if s.trees.len() < MAX_TREES_PER_SESSION {
                    s.trees.entry(tid).or_insert(tree);
                }
            }
            for (fid, mut f) in o.files {
                // IO this model saw on the file before knowing it.
                if let Some((r, w)) = s.orphans.remove(&fid) {
                    f.read_bytes += r;
                    f.write_bytes += w;
                }
                if let Some(t) = s.files.get_mut(&fid) {
                    t.read_bytes += f.read_bytes;
                    t.write_bytes += f.write_bytes;
                } else if s.files.len() < MAX_FILES_PER_SESSION {
                    s.files.insert(fid, f);
                }
            }
            for (fid, (r, w)) in o.orphans {
                if let Some(t) = s.files.get_mut(&fid) {
                    t.read_bytes += r;
                    t.write_bytes += w;
                } else {
                    s.orphan_io(fid, r, w);
                }
            }
            s.read_bytes += o.read_bytes;
            s.write_bytes += o.write_bytes;
            s.encrypted_bytes += o.encrypted_bytes;
            s.binding_requests += o.binding_requests;
            s.decryption.add(&o.decryption);
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
                self.encrypted_frames += 1;
                let b = u64::from(*wire_bytes);
                let c = &mut self.channels[id];
                c.encrypted_bytes += b;
                c.smb_bytes += b;
                c.series.add(ev.ts_ns, b);
                if let Some(s) = self.session(*session_id, id) {
                    s.encrypted = true;
                    s.encrypted_bytes += b;
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
                    if let Some(cb) = s.channels.get_mut(&id) {
                        cb.encrypted += b;
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
        let s = self.sessions.entry(id).or_default();
        s.channels.entry(ch).or_default();
        Some(s)
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
            Body::WriteRequest { length, .. } => {
                let b = u64::from(*length);
                self.channels[id].write_bytes += b;
            }
            Body::ReadResponse { data_length, .. } => {
                let b = u64::from(*data_length);
                self.channels[id].read_bytes += b;
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
                        read_bytes: 0,
                        write_bytes: 0,
                    },
                );
            }
            Body::WriteRequest {
                length, file_id, ..
            } => {
                let b = u64::from(*length);
                s.write_bytes += b;
                if let Some(cb) = s.channels.get_mut(&id) {
                    cb.write += b;
                }
                if let Some(f) = s.files.get_mut(file_id) {
                    f.write_bytes += b;
                } else {
                    s.orphan_io(*file_id, 0, b);
                }
            }
            Body::ReadResponse {
                data_length,
                request,
            } => {
                let b = u64::from(*data_length);
                s.read_bytes += b;
                if let Some(cb) = s.channels.get_mut(&id) {
                    cb.read += b;
                }
                if let Some(r) = request {
                    if let Some(f) = s.files.get_mut(&r.file_id) {
                        f.read_bytes += b;
                    } else {
                        s.orphan_io(r.file_id, b, 0);
                    }
                }
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
        let sessions = self
            .sessions
            .iter()
            .map(|(&id, s)| {
                let dialect = s
                    .channels
                    .keys()
                    .find_map(|&c| self.channels.get(c).and_then(|c| c.dialect))
                    .map(|d| dialect_name(d).to_string());
                // One entry per file name (a name opened several times has several FileIds).
                let mut by_name: BTreeMap<&str, FileReport> = BTreeMap::new();
                for f in s.files.values() {
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
                    e.read_bytes += f.read_bytes;
                    e.write_bytes += f.write_bytes;
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
                    channels: s
                        .channels
                        .iter()
                        .filter_map(|(&c, b)| {
                            info(c).map(|i| SessionChannelReport {
                                client: i.client.to_string(),
                                server: i.server.to_string(),
                                capture: i.capture.clone(),
                                interface: i.interface.clone(),
                                read_bytes: b.read,
                                write_bytes: b.write,
                                encrypted_bytes: b.encrypted,
                            })
                        })
                        .collect(),
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
                    read_bytes: s.read_bytes,
                    write_bytes: s.write_bytes,
                    encrypted_bytes: s.encrypted_bytes,
                    decryption: s.decryption,
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
        }
    }
}
