//! Per-connection SMB framing: [`SmbConnState`] turns the two reassembled
//! byte streams of one TCP connection into [`SmbEvent`]s, and [`SmbParser`]
//! plugs it into the TCP reassembler as a [`StreamHandler`].
//!
//! Only the bytes needed to decode headers and the bodies of interest are
//! copied into a bounded per-direction buffer ([`MAX_BUFFER`]); READ response
//! and WRITE request payloads (and everything else past the decoded prefix)
//! are skipped by counting. After a gap, or when a capture starts mid-stream,
//! the parser hunts for the next plausible Direct-TCP header followed by an
//! SMB protocol id and resynchronises there.

use std::sync::Arc;

use crate::flowtable::FastMap;

use crate::flow::Direction;
use crate::tcp::StreamHandler;

use super::commands::{READ_RESPONSE_FIXED, WRITE_REQUEST_FIXED, decode_body, fsctl, share_caps};
use super::crypto::{ConnCrypto, Decryption, KeyRing};
use super::events::*;
use super::wire::{
    self, FRAMING_LEN, Framing, MAX_MESSAGE_LEN, Protocol, SMB2_HEADER_LEN, TRANSFORM_HEADER_LEN,
    cmd, smb2_header, status,
};

/// Largest message prefix buffered per direction.
pub const MAX_BUFFER: usize = 64 << 10;
/// Buffer capacity kept between messages (larger buffers are shrunk back, so
/// idle connections hold little memory).
const IDLE_BUFFER: usize = 8 << 10;
/// The same on a connection whose keys have decrypted something: whole transform messages
/// (up to ~1 MiB each for 1 MiB IOs) are buffered there, and regrowing the
/// buffer from 8 KiB for every message (a dozen reallocations and copies,
/// fresh pages each time) cost more than the AES-GCM itself. The plaintext
/// buffer keeps as much ([`super::crypto`]'s idle size): at most a few MB per
/// connection that carried large encrypted messages, once the bytes came.
const IDLE_BUFFER_DECRYPTING: usize = 4 << 20;
/// Most outstanding requests remembered per connection (READ, CREATE, TREE_CONNECT).
pub const MAX_PENDING: usize = 4096;
/// Most PDUs decoded from one compound chain.
pub const MAX_COMPOUND: usize = 64;
/// Most sessions whose share capabilities a connection remembers.
const MAX_SESSION_CAPS: usize = 64;
/// Bytes of an SMB1 message kept (enough for a NEGOTIATE dialect list).
const SMB1_PREFIX: usize = 1024;
/// Bytes of a compression transform message kept: enough compressed input to
/// rebuild the SMB2 header and fixed body (see [`super::decompress`]).
const COMPRESSION_PREFIX: usize = 1024;
/// Bytes of look-ahead needed to validate a frame start while hunting.
const HUNT_WINDOW: usize = 24;

/// Counters of one connection's SMB parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SmbStats {
    /// Session messages (frames) parsed.
    pub frames: u64,
    /// Cleartext SMB2 PDUs (each compound element counted).
    pub pdus: u64,
    pub encrypted_frames: u64,
    pub compressed_frames: u64,
    pub smb1_frames: u64,
    /// NetBIOS session-service control messages.
    pub control_frames: u64,
    /// Times the parser found a frame start again after losing sync.
    pub resyncs: u64,
    /// Bytes discarded while hunting for a frame start.
    pub skipped_bytes: u64,
    /// Bytes announced missing by `gap()`.
    pub gap_bytes: u64,
    /// Gaps that fell entirely inside a skipped payload (sync kept).
    pub gaps_absorbed: u64,
    /// Message bytes skipped without copying (payloads and undecoded tails).
    pub payload_bytes_skipped: u64,
    /// Compound chains cut because the next element lies beyond the buffered prefix.
    pub compound_truncated: u64,
    /// Times the outstanding-request map was full and was cleared.
    pub pending_overflows: u64,
    /// SMB2 PDUs whose header the capture cut (decoded as far as present).
    pub partial_headers: u64,
    /// READ/WRITE/encrypted messages of which the stream carried less than declared.
    pub incomplete_io: u64,
}

/// What a direction's parser is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting the 4-byte session header.
    Framing,
    /// Collecting `need` bytes of a `len`-byte message.
    Prefix { len: u32, need: usize },
    /// Skipping `remaining` bytes of the current message.
    Skip { remaining: u64 },
    /// Lost sync: scanning for a frame start.
    Hunt,
}

/// The READ/WRITE payload of the current message, reported when it ends.
#[derive(Debug, Clone, Copy)]
struct IoPending {
    kind: IoKind,
    session_id: u64,
    message_id: Option<u64>,
    file_id: Option<FileId>,
    declared: u64,
    /// Offset of the payload in the message.
    data_start: u64,
    /// Inside a compression transform: the payload is carried compressed.
    compressed: bool,
}

/// The session message being parsed: what of it the stream carried.
#[derive(Debug, Clone, Copy)]
struct Cur {
    len: u32,
    /// Bytes delivered or cut by the snaplen (not lost) so far.
    covered: u64,
    io: Option<IoPending>,
    /// Transform header's SessionId: the message is encrypted.
    enc: Option<u64>,
}

#[derive(Debug, Clone)]
struct DirState {
    phase: Phase,
    cur: Option<Cur>,
    /// Bytes carried while out of sync (hunted through, or cut while hunting):
    /// what WRITE responses whose request was not seen may claim.
    unparsed: u64,
    /// Part of `unparsed` (and `discarded`) already claimed.
    claimed: u64,
    /// Session header bytes, message prefix, or (hunting) the undecided tail.
    buf: Vec<u8>,
    /// Bytes discarded in the current hunt.
    discarded: u64,
    /// Timestamp of the last `data` call.
    last_ts: i64,
}

impl Default for DirState {
    fn default() -> Self {
        DirState {
            phase: Phase::Framing,
            cur: None,
            unparsed: 0,
            claimed: 0,
            buf: Vec::new(),
            discarded: 0,
            last_ts: 0,
        }
    }
}

/// A request kept until its response arrives.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Read(ReadRequestInfo),
    Create(String),
    TreeConnect(String),
    /// A WRITE request and the payload bytes the stream carried of it.
    Write {
        counted: u64,
        declared: u64,
        file_id: Option<FileId>,
    },
}

/// The SMB state of one TCP connection (both directions).
#[derive(Debug, Clone, Default)]
pub struct SmbConnState {
    dirs: [DirState; 2],
    pending: FastMap<u64, Pending>,
    client_dir: Option<Direction>,
    dialect: Option<u16>,
    /// MaxWriteSize of the NEGOTIATE response.
    max_write: Option<u32>,
    /// Largest WRITE request length seen (stands in for MaxWriteSize when
    /// the NEGOTIATE response was not captured).
    largest_write: u64,
    smb: bool,
    /// (SessionId, OR of share capabilities of its trees) seen on this connection.
    session_caps: Vec<(u64, u32)>,
    stats: SmbStats,
    /// Decryption state, when keys were supplied (see [`super::crypto`]).
    crypto: Option<Box<ConnCrypto>>,
}

/// How many bytes of the current message to buffer.
enum Need {
    Bytes(usize),
    Bad,
}

impl SmbConnState {
    pub fn new() -> Self {
        Self::default()
    }

    /// A connection that decrypts SMB 3 with the keys of `ring` (none when it is empty).
    pub fn with_keys(ring: Option<&Arc<KeyRing>>) -> Self {
        SmbConnState {
            crypto: ring
                .filter(|r| !r.is_empty())
                .map(|r| Box::new(ConnCrypto::new(Arc::clone(r)))),
            ..Self::default()
        }
    }

    /// Decryption counters, when keys were supplied.
    pub fn crypto_stats(&self) -> Option<&super::crypto::CryptoStats> {
        self.crypto.as_deref().map(ConnCrypto::stats)
    }

    /// The connection carried at least one SMB2/3 message (clear, encrypted or compressed).
    pub fn is_smb(&self) -> bool {
        self.smb
    }

    /// The dialect from this connection's NEGOTIATE response (not 0x02FF).
    pub fn dialect(&self) -> Option<u16> {
        self.dialect
    }

    /// The direction the client sends in (from the first cleartext SMB2 PDU's flags).
    pub fn client_dir(&self) -> Option<Direction> {
        self.client_dir
    }

    /// Whether a tree connected by `session_id` on this connection reported the
    /// SCALEOUT or CLUSTER share capability.
    pub fn session_scaleout_or_cluster(&self, session_id: u64) -> bool {
        self.session_caps
            .iter()
            .any(|&(s, c)| s == session_id && c & (share_caps::SCALEOUT | share_caps::CLUSTER) != 0)
    }

    /// Whether any tree on this connection reported SCALEOUT or CLUSTER.
    pub fn any_scaleout_or_cluster(&self) -> bool {
        self.session_caps
            .iter()
            .any(|&(_, c)| c & (share_caps::SCALEOUT | share_caps::CLUSTER) != 0)
    }

    /// Largest buffer capacity of either direction (for memory-bound checks).
    pub fn max_buffer_capacity(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.buf.capacity())
            .max()
            .unwrap_or(0)
    }

    /// Timestamp of the last `data` call of direction `dir`.
    pub fn last_ts(&self, dir: Direction) -> i64 {
        self.dirs[dir.index()].last_ts
    }

    pub fn stats(&self) -> &SmbStats {
        &self.stats
    }

    /// Feeds in-order bytes of direction `dir`.
    pub fn data<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        mut data: &[u8],
        sink: &mut S,
    ) {
        let d = dir.index();
        self.dirs[d].last_ts = ts_ns;
        while !data.is_empty() {
            match self.dirs[d].phase {
                Phase::Skip { remaining } => {
                    let n = remaining.min(data.len() as u64);
                    data = &data[n as usize..];
                    self.stats.payload_bytes_skipped += n;
                    let r = remaining - n;
                    if let Some(c) = &mut self.dirs[d].cur {
                        c.covered += n;
                    }
                    if r == 0 {
                        self.dirs[d].phase = Phase::Framing;
                        self.finish(dir, ts_ns, sink);
                    } else {
                        self.dirs[d].phase = Phase::Skip { remaining: r };
                    }
                }
                Phase::Framing => {
                    let st = &mut self.dirs[d];
                    let fb: [u8; 4] = if st.buf.is_empty() && data.len() >= FRAMING_LEN {
                        let f = [data[0], data[1], data[2], data[3]];
                        data = &data[FRAMING_LEN..];
                        f
                    } else {
                        let take = (FRAMING_LEN - st.buf.len()).min(data.len());
                        st.buf.extend_from_slice(&data[..take]);
                        data = &data[take..];
                        if st.buf.len() < FRAMING_LEN {
                            return;
                        }
                        let f = [st.buf[0], st.buf[1], st.buf[2], st.buf[3]];
                        st.buf.clear();
                        f
                    };
                    match Framing::parse(fb) {
                        Some(Framing::Message { len: 0 }) => {}
                        Some(Framing::Message { len }) if len <= MAX_MESSAGE_LEN => {
                            st.cur = Some(Cur {
                                len,
                                covered: 0,
                                io: None,
                                enc: None,
                            });
                            st.phase = Phase::Prefix {
                                len,
                                need: (len as usize).min(4),
                            };
                        }
                        Some(Framing::Control { len, .. }) => {
                            self.stats.control_frames += 1;
                            if len > 0 {
                                st.phase = Phase::Skip {
                                    remaining: u64::from(len),
                                };
                            }
                        }
                        _ => self.lose_sync(dir, ts_ns, &fb, sink),
                    }
                }
                Phase::Prefix { len, need } => {
                    let st = &mut self.dirs[d];
                    let take = need.saturating_sub(st.buf.len()).min(data.len());
                    st.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if let Some(c) = &mut st.cur {
                        c.covered += take as u64;
                    }
                    if st.buf.len() < need {
                        return;
                    }
                    match required(&st.buf, len, self.crypto.as_deref()) {
                        Need::Bytes(n) if n > st.buf.len() => {
                            st.phase = Phase::Prefix { len, need: n };
                        }
                        Need::Bytes(_) => {
                            let used = st.buf.len() as u64;
                            let buf = std::mem::take(&mut st.buf);
                            self.message(dir, ts_ns, &buf, len, sink);
                            let st = &mut self.dirs[d];
                            st.buf = buf;
                            st.buf.clear();
                            // Only where keys have fitted: a session whose
                            // keys never fit is not buffered whole.
                            let idle = if self
                                .crypto
                                .as_deref()
                                .is_some_and(|c| c.stats().decrypted > 0)
                            {
                                IDLE_BUFFER_DECRYPTING
                            } else {
                                IDLE_BUFFER
                            };
                            let st = &mut self.dirs[d];
                            if st.buf.capacity() > idle {
                                st.buf.shrink_to(idle);
                            }
                            if u64::from(len) > used {
                                st.phase = Phase::Skip {
                                    remaining: u64::from(len) - used,
                                };
                            } else {
                                st.phase = Phase::Framing;
                                self.finish(dir, ts_ns, sink);
                            }
                        }
                        Need::Bad => {
                            st.cur = None;
                            let buf = std::mem::take(&mut st.buf);
                            // Re-scan what was taken for a message, minus the 4-byte header
                            // we already consumed: start from its first byte again.
                            let mut replay = Vec::with_capacity(buf.len() + 4);
                            let l = len.to_be_bytes();
                            replay.extend_from_slice(&[0, l[1], l[2], l[3]]);
                            replay.extend_from_slice(&buf);
                            self.lose_sync(dir, ts_ns, &replay, sink);
                        }
                    }
                }
                Phase::Hunt => {
                    let used = self.hunt(dir, ts_ns, data, sink);
                    data = &data[used..];
                }
            }
        }
    }

    /// `len` bytes of direction `dir` are missing (a capture loss, or a
    /// capture that started mid-stream). A message whose prefix was being
    /// collected is decoded as far as it goes; sync is kept when the gap ends
    /// inside the current message.
    pub fn gap<S: SmbSink + ?Sized>(&mut self, dir: Direction, len: u64, ts_ns: i64, sink: &mut S) {
        self.missing(dir, len, ts_ns, false, sink);
    }

    /// `len` bytes of direction `dir` were cut by the capture's snaplen: like
    /// [`SmbConnState::gap`], but the bytes count as carried (a READ/WRITE
    /// payload they belong to was on the wire).
    pub fn cut<S: SmbSink + ?Sized>(&mut self, dir: Direction, len: u64, ts_ns: i64, sink: &mut S) {
        self.missing(dir, len, ts_ns, true, sink);
    }

    fn missing<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        len: u64,
        ts_ns: i64,
        carried: bool,
        sink: &mut S,
    ) {
        self.stats.gap_bytes += len;
        let d = dir.index();
        let st = &mut self.dirs[d];
        let remaining = match st.phase {
            Phase::Skip { remaining } => Some(remaining),
            Phase::Prefix { len: msg_len, .. } => {
                // The session header gave the length: sync is kept whatever
                // part of the message the capture holds.
                let buf = std::mem::take(&mut st.buf);
                let rest = u64::from(msg_len).saturating_sub(buf.len() as u64);
                if Protocol::of(&buf).is_some() {
                    self.message(dir, ts_ns, &buf, msg_len, sink);
                }
                self.dirs[d].buf = buf;
                self.dirs[d].buf.clear();
                Some(rest)
            }
            _ => None,
        };
        let st = &mut self.dirs[d];
        if carried {
            if let (Some(c), Some(r)) = (&mut st.cur, remaining) {
                c.covered += len.min(r);
            }
            let beyond = remaining.map_or(len, |r| len.saturating_sub(r));
            st.unparsed += beyond;
        }
        match remaining {
            Some(r) if len < r => {
                st.phase = Phase::Skip { remaining: r - len };
                self.stats.gaps_absorbed += 1;
            }
            Some(r) if len == r => {
                st.phase = Phase::Framing;
                self.stats.gaps_absorbed += 1;
                self.finish(dir, ts_ns, sink);
            }
            _ => {
                let st = &mut self.dirs[d];
                st.discarded += st.buf.len() as u64;
                st.buf.clear();
                st.phase = Phase::Hunt;
                self.finish(dir, ts_ns, sink);
            }
        }
    }

    /// The current message ended (or sync was lost in it): reports what the
    /// stream carried of its READ/WRITE payload or encrypted bytes.
    fn finish<S: SmbSink + ?Sized>(&mut self, dir: Direction, ts_ns: i64, sink: &mut S) {
        let Some(c) = self.dirs[dir.index()].cur.take() else {
            return;
        };
        let complete_msg = c.covered >= u64::from(c.len);
        if let Some(session_id) = c.enc {
            let bytes = c.covered.min(u64::from(c.len));
            if !complete_msg {
                self.stats.incomplete_io += 1;
            }
            sink.event(&SmbEvent {
                dir,
                ts_ns,
                kind: SmbEventKind::Io(Io {
                    kind: IoKind::Encrypted,
                    session_id,
                    message_id: None,
                    file_id: None,
                    bytes,
                    declared: u64::from(c.len),
                    complete: complete_msg,
                }),
            });
        }
        if let Some(io) = c.io {
            let room = c
                .covered
                .min(u64::from(c.len))
                .saturating_sub(io.data_start);
            // A compressed payload is whole when its (shorter) message is.
            let bytes = if io.compressed && complete_msg {
                io.declared.min(u64::from(MAX_MESSAGE_LEN))
            } else {
                io.declared.min(room)
            };
            let complete = bytes >= io.declared;
            if !complete {
                self.stats.incomplete_io += 1;
            }
            if io.kind == IoKind::Write {
                if let Some(mid) = io.message_id {
                    self.remember(
                        mid,
                        Pending::Write {
                            counted: bytes,
                            declared: io.declared,
                            file_id: io.file_id,
                        },
                    );
                }
            }
            sink.event(&SmbEvent {
                dir,
                ts_ns,
                kind: SmbEventKind::Io(Io {
                    kind: io.kind,
                    session_id: io.session_id,
                    message_id: io.message_id,
                    file_id: io.file_id,
                    bytes,
                    declared: io.declared,
                    complete,
                }),
            });
        }
    }

    /// Direction `dir` ended: drop any partial message (reporting what was
    /// carried of its IO).
    pub fn end<S: SmbSink + ?Sized>(&mut self, dir: Direction, sink: &mut S) {
        let ts = self.dirs[dir.index()].last_ts;
        self.finish(dir, ts, sink);
        let st = &mut self.dirs[dir.index()];
        st.buf.clear();
        st.phase = Phase::Framing;
        st.discarded = 0;
    }

    /// The bytes `seen` (the start of what was taken for a frame) were not a
    /// valid frame: drop its first byte and hunt through the rest.
    fn lose_sync<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        seen: &[u8],
        sink: &mut S,
    ) {
        let st = &mut self.dirs[dir.index()];
        st.phase = Phase::Hunt;
        st.cur = None;
        st.buf.clear();
        st.discarded += 1;
        if let Some(rest) = seen.get(1..) {
            if !rest.is_empty() {
                self.data(dir, ts_ns, rest, sink);
            }
        }
    }

    /// Scans for a frame start; returns how many bytes of `data` it consumed.
    /// When it finds one, the phase becomes `Framing` and the caller continues
    /// with the rest of `data`.
    fn hunt<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        data: &[u8],
        sink: &mut S,
    ) -> usize {
        let d = dir.index();
        // Undecided bytes from the previous call come first.
        if !self.dirs[d].buf.is_empty() {
            let carry = std::mem::take(&mut self.dirs[d].buf);
            let mut window = carry.clone();
            let look = data.len().min(HUNT_WINDOW);
            window.extend_from_slice(&data[..look]);
            for p in 0..carry.len() {
                match wire::plausible_frame_start(&window[p..]) {
                    Some(true) => {
                        self.dirs[d].discarded += p as u64;
                        self.found(dir, ts_ns, sink);
                        let replay = carry[p..].to_vec();
                        self.data(dir, ts_ns, &replay, sink);
                        return 0;
                    }
                    Some(false) => {}
                    None => {
                        // Only possible when all of `data` is in the window.
                        self.dirs[d].discarded += p as u64;
                        self.dirs[d].buf = window[p..].to_vec();
                        return data.len();
                    }
                }
            }
            self.dirs[d].discarded += carry.len() as u64;
        }
        let mut p = 0;
        while p < data.len() {
            if data[p] == 0 {
                match wire::plausible_frame_start(&data[p..]) {
                    Some(true) => {
                        self.dirs[d].discarded += p as u64;
                        self.found(dir, ts_ns, sink);
                        return p;
                    }
                    Some(false) => {}
                    None => {
                        self.dirs[d].discarded += p as u64;
                        self.dirs[d].buf = data[p..].to_vec();
                        return data.len();
                    }
                }
            }
            p += 1;
        }
        self.dirs[d].discarded += data.len() as u64;
        data.len()
    }

    fn found<S: SmbSink + ?Sized>(&mut self, dir: Direction, ts_ns: i64, sink: &mut S) {
        let st = &mut self.dirs[dir.index()];
        let skipped = std::mem::take(&mut st.discarded);
        st.unparsed += skipped;
        st.phase = Phase::Framing;
        st.buf.clear();
        self.stats.resyncs += 1;
        self.stats.skipped_bytes += skipped;
        sink.event(&SmbEvent {
            dir,
            ts_ns,
            kind: SmbEventKind::Resync { skipped },
        });
    }

    /// One complete message prefix `msg` of a `len`-byte session message.
    fn message<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        msg: &[u8],
        len: u32,
        sink: &mut S,
    ) {
        self.stats.frames += 1;
        match Protocol::of(msg) {
            Some(Protocol::Smb2) => {
                self.smb = true;
                self.walk_smb2(dir, ts_ns, msg, len, false, sink);
            }
            Some(Protocol::Transform) => {
                if let Ok((_, h)) = wire::transform_header(msg) {
                    self.smb = true;
                    self.stats.encrypted_frames += 1;
                    if let Some(c) = &mut self.dirs[dir.index()].cur {
                        c.enc = Some(h.session_id);
                    }
                    let to_server = self.client_dir.map(|c| c == dir);
                    let (decryption, plain) = match self.crypto.as_deref_mut() {
                        Some(c) => c.decrypt(msg, len, dir.index(), to_server),
                        None => (Decryption::NoKey, None),
                    };
                    sink.event(&SmbEvent {
                        dir,
                        ts_ns,
                        kind: SmbEventKind::Encrypted {
                            session_id: h.session_id,
                            original_size: h.original_size,
                            wire_bytes: len,
                            flags: h.flags,
                            decryption,
                        },
                    });
                    if let Some(plain) = plain {
                        self.decrypted(dir, ts_ns, &plain, sink);
                        if let Some(c) = self.crypto.as_deref_mut() {
                            c.give_back(plain);
                        }
                    }
                }
            }
            Some(Protocol::Compression) => {
                if let Ok((_, h)) = wire::compression_header(msg) {
                    self.smb = true;
                    self.stats.compressed_frames += 1;
                    let clear = super::decompress::original_prefix(msg, &h);
                    let header_visible = smb2_header(&clear).is_ok();
                    if header_visible {
                        self.walk_smb2(dir, ts_ns, &clear, len, true, sink);
                    }
                    sink.event(&SmbEvent {
                        dir,
                        ts_ns,
                        kind: SmbEventKind::Compressed {
                            algorithm: h.algorithm,
                            chained: h.chained(),
                            original_size: h.original_size,
                            len,
                            header_visible,
                        },
                    });
                }
            }
            Some(Protocol::Smb1) => {
                self.stats.smb1_frames += 1;
                if let Ok((body, h)) = wire::smb1_header(msg) {
                    let kind = if h.command == wire::SMB1_COM_NEGOTIATE && h.flags & 0x80 == 0 {
                        let mut n = 0u16;
                        let mut smb2 = false;
                        for dl in wire::smb1_dialects(body) {
                            n += 1;
                            smb2 |= dl == b"SMB 2.002" || dl == b"SMB 2.???";
                        }
                        SmbEventKind::Smb1Negotiate {
                            dialects_offered_smb2: smb2,
                            dialect_count: n,
                        }
                    } else {
                        SmbEventKind::Smb1 {
                            command: h.command,
                            len,
                        }
                    };
                    sink.event(&SmbEvent { dir, ts_ns, kind });
                }
            }
            None => {}
        }
    }

    /// The plaintext of a decrypted message: SMB2 PDUs or a compression
    /// transform, walked like a clear message (frame bytes were counted by
    /// the `Encrypted` event, so `frame_len` is 0).
    fn decrypted<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        plain: &[u8],
        sink: &mut S,
    ) {
        match Protocol::of(plain) {
            Some(Protocol::Smb2) => self.walk_smb2(dir, ts_ns, plain, 0, false, sink),
            Some(Protocol::Compression) => {
                if let Ok((_, h)) = wire::compression_header(plain) {
                    self.stats.compressed_frames += 1;
                    let clear = super::decompress::original_prefix(plain, &h);
                    if smb2_header(&clear).is_ok() {
                        self.walk_smb2(dir, ts_ns, &clear, 0, true, sink);
                    }
                }
            }
            _ => {}
        }
    }

    /// Decodes the SMB2 PDUs of a (possibly compound) message prefix.
    fn walk_smb2<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        msg: &[u8],
        frame_len: u32,
        compressed: bool,
        sink: &mut S,
    ) {
        let mut off = 0usize;
        for idx in 0..MAX_COMPOUND {
            let Some(rest) = msg.get(off..) else { break };
            let Some((h, hlen)) = wire::smb2_header_partial(rest) else {
                if idx > 0 {
                    self.stats.compound_truncated += 1;
                }
                break;
            };
            let whole = hlen == SMB2_HEADER_LEN;
            let next = if whole { h.next_command as usize } else { 0 };
            let pdu = if next != 0 {
                rest.get(..next).unwrap_or(rest)
            } else {
                rest
            };
            let mut key_origin = None;
            let mut signature = None;
            let body = if whole {
                let b = decode_body(&h, pdu);
                if let Some(c) = self.crypto.as_deref_mut() {
                    if matches!(h.command, cmd::NEGOTIATE | cmd::SESSION_SETUP) && !compressed {
                        key_origin = c.observe(&h, pdu, &b);
                    }
                    if !compressed && frame_len != 0 {
                        let carried = if next != 0 {
                            rest.len() >= next
                        } else {
                            (off + rest.len()) as u64 >= u64::from(frame_len)
                        };
                        signature = c.check_signature(&h, pdu, carried);
                    }
                }
                self.enrich(&h, b)
            } else {
                self.stats.partial_headers += 1;
                Body::Other
            };
            if self.client_dir.is_none() && hlen >= 20 {
                self.client_dir = Some(if h.is_response() { dir.reverse() } else { dir });
            }
            self.stats.pdus += 1;
            let elem_len = if next != 0 {
                next as u64
            } else {
                u64::from(frame_len).saturating_sub(off as u64)
            };
            self.io_of(
                dir,
                ts_ns,
                &h,
                hlen,
                &body,
                off as u64,
                elem_len,
                next != 0,
                compressed,
                sink,
            );
            sink.event(&SmbEvent {
                dir,
                ts_ns,
                kind: SmbEventKind::Pdu(Pdu {
                    header: h,
                    header_len: hlen as u8,
                    frame_len,
                    compound_index: idx as u16,
                    compressed,
                    body,
                }),
            });
            if let Some(origin) = key_origin {
                sink.event(&SmbEvent {
                    dir,
                    ts_ns,
                    kind: SmbEventKind::SessionKey {
                        session_id: h.session_id,
                        origin,
                    },
                });
            }
            if let Some(check) = signature {
                sink.event(&SmbEvent {
                    dir,
                    ts_ns,
                    kind: SmbEventKind::Signature {
                        session_id: h.session_id,
                        check,
                    },
                });
            }
            if next < SMB2_HEADER_LEN {
                break;
            }
            off = off.saturating_add(next);
            if off >= msg.len() {
                if (off as u64) < u64::from(frame_len) {
                    self.stats.compound_truncated += 1;
                }
                break;
            }
        }
    }

    /// The READ/WRITE payload of one PDU (at `off` in its message, `elem_len`
    /// bytes long): reported at once for a compound element that ends inside
    /// the message (`bounded`), else when the message ends; a WRITE response
    /// adds what the carried stream shows of a request the capture lost.
    #[allow(clippy::too_many_arguments)]
    fn io_of<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        h: &wire::Smb2Header,
        hlen: usize,
        body: &Body,
        off: u64,
        elem_len: u64,
        bounded: bool,
        compressed: bool,
        sink: &mut S,
    ) {
        const WRITE_DATA: u64 = (SMB2_HEADER_LEN + WRITE_REQUEST_FIXED) as u64;
        const READ_DATA: u64 = (SMB2_HEADER_LEN + READ_RESPONSE_FIXED) as u64;
        let resp = h.is_response();
        let ok = matches!(h.status, status::SUCCESS | status::BUFFER_OVERFLOW);
        let known = |f: FileId| (f != FileId::default()).then_some(f);
        let (kind, declared, data_start, file_id) = match body {
            Body::WriteRequest {
                length,
                file_id,
                data_offset,
                ..
            } => (
                IoKind::Write,
                u64::from(*length),
                u64::from(*data_offset).max(WRITE_DATA),
                known(*file_id),
            ),
            Body::ReadResponse {
                data_length,
                request,
            } if ok => (
                IoKind::Read,
                u64::from(*data_length),
                READ_DATA,
                request.map(|r| r.file_id),
            ),
            // The length field was not captured: the framed length tells the payload.
            Body::Other if h.command == cmd::WRITE && !resp && hlen >= 20 => (
                IoKind::Write,
                elem_len.saturating_sub(WRITE_DATA),
                WRITE_DATA,
                None,
            ),
            Body::Other if h.command == cmd::READ && resp && ok && hlen >= 20 && !compressed => (
                IoKind::Read,
                elem_len.saturating_sub(READ_DATA),
                READ_DATA,
                None,
            ),
            Body::WriteResponse { count } if h.status == status::SUCCESS => {
                self.write_response(dir, ts_ns, h, u64::from(*count), true, sink);
                return;
            }
            // Count not captured: no more than the negotiated MaxWriteSize.
            Body::Other
                if h.command == cmd::WRITE
                    && resp
                    && hlen >= 32
                    && h.status == status::SUCCESS
                    && (self.max_write.is_some() || self.largest_write > 0) =>
            {
                let max = self.max_write.map_or(self.largest_write, u64::from);
                self.write_response(dir, ts_ns, h, max, false, sink);
                return;
            }
            _ => return,
        };
        if declared == 0 {
            return;
        }
        if kind == IoKind::Write {
            self.largest_write = self
                .largest_write
                .max(declared.min(u64::from(MAX_MESSAGE_LEN)));
        }
        let io = IoPending {
            kind,
            session_id: if hlen >= 48 { h.session_id } else { 0 },
            message_id: (hlen >= 32).then_some(h.message_id),
            file_id,
            declared,
            data_start: if compressed { 0 } else { off + data_start },
            compressed,
        };
        if bounded && !compressed {
            let bytes = declared.min(elem_len.saturating_sub(data_start));
            let complete = bytes >= declared;
            if !complete {
                self.stats.incomplete_io += 1;
            }
            sink.event(&SmbEvent {
                dir,
                ts_ns,
                kind: SmbEventKind::Io(Io {
                    kind,
                    session_id: io.session_id,
                    message_id: io.message_id,
                    file_id,
                    bytes,
                    declared,
                    complete,
                }),
            });
        } else if let Some(c) = &mut self.dirs[dir.index()].cur {
            c.io = Some(io);
        }
    }

    /// A successful WRITE response: when its request was not captured (or
    /// only in part), the bytes the client's direction carried out of sync
    /// back its Count, as far as they go.
    fn write_response<S: SmbSink + ?Sized>(
        &mut self,
        dir: Direction,
        ts_ns: i64,
        h: &wire::Smb2Header,
        count: u64,
        exact: bool,
        sink: &mut S,
    ) {
        let (counted, count, file_id) = match self.pending.remove(&h.message_id) {
            // Without the response's Count, the request's declared length caps it.
            Some(Pending::Write {
                counted,
                declared,
                file_id,
            }) => (counted, if exact { count } else { declared }, file_id),
            Some(other) => {
                self.pending.insert(h.message_id, other);
                return;
            }
            None => (0, count, None),
        };

        let want = count.saturating_sub(counted);
        let c = &mut self.dirs[dir.reverse().index()];
        let avail = (c.unparsed + c.discarded).saturating_sub(c.claimed);
        let extra = want.min(avail);
        if extra == 0 {
            return;
        }
        c.claimed += extra;
        sink.event(&SmbEvent {
            dir: dir.reverse(),
            ts_ns,
            kind: SmbEventKind::Io(Io {
                kind: IoKind::Write,
                session_id: h.session_id,
                message_id: Some(h.message_id),
                file_id,
                bytes: counted + extra,
                declared: count,
                complete: exact && counted + extra >= count,
            }),
        });
    }

    /// Matches responses with their requests and keeps connection facts.
    fn enrich(&mut self, h: &wire::Smb2Header, body: Body) -> Body {
        let mid = h.message_id;
        let interim = h.status == status::PENDING;
        match body {
            Body::ReadRequest {
                length,
                offset,
                file_id,
            } => {
                self.remember(
                    mid,
                    Pending::Read(ReadRequestInfo {
                        file_id,
                        offset,
                        length,
                    }),
                );
                body
            }
            Body::CreateRequest { ref name, .. } => {
                self.remember(mid, Pending::Create(name.clone()));
                body
            }
            Body::TreeConnectRequest { ref path, .. } => {
                self.remember(mid, Pending::TreeConnect(path.clone()));
                body
            }
            Body::ReadResponse { data_length, .. } => {
                let request = match self.pending.remove(&mid) {
                    Some(Pending::Read(r)) => Some(r),
                    _ => None,
                };
                Body::ReadResponse {
                    data_length,
                    request,
                }
            }
            Body::CreateResponse {
                file_id,
                end_of_file,
                ..
            } => {
                let name = match self.pending.remove(&mid) {
                    Some(Pending::Create(n)) => Some(n),
                    _ => None,
                };
                Body::CreateResponse {
                    file_id,
                    end_of_file,
                    name,
                }
            }
            Body::TreeConnectResponse {
                share_type,
                share_flags,
                capabilities,
                ..
            } => {
                let path = match self.pending.remove(&mid) {
                    Some(Pending::TreeConnect(p)) => Some(p),
                    _ => None,
                };
                self.note_caps(h.session_id, capabilities);
                Body::TreeConnectResponse {
                    share_type,
                    share_flags,
                    capabilities,
                    path,
                }
            }
            Body::NegotiateResponse(ref n) => {
                if n.dialect != 0x02FF {
                    self.dialect = Some(n.dialect);
                }
                if n.max_write > 0 {
                    self.max_write = Some(n.max_write);
                }
                body
            }
            Body::Error { .. } => {
                if !interim && h.is_response() {
                    self.pending.remove(&mid);
                }
                body
            }
            other => other,
        }
    }

    fn remember(&mut self, mid: u64, p: Pending) {
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&mid) {
            self.pending.clear();
            self.stats.pending_overflows += 1;
        }
        self.pending.insert(mid, p);
    }

    fn note_caps(&mut self, session_id: u64, caps: u32) {
        if let Some(e) = self.session_caps.iter_mut().find(|e| e.0 == session_id) {
            e.1 |= caps;
        } else if self.session_caps.len() < MAX_SESSION_CAPS {
            self.session_caps.push((session_id, caps));
        }
    }
}

/// How much of a `len`-byte message (whose first bytes are `buf`) to buffer.
fn required(buf: &[u8], len: u32, crypto: Option<&ConnCrypto>) -> Need {
    let len = len as usize;
    let cap = |n: usize| Need::Bytes(n.min(len));
    if buf.len() < 4 {
        return if len < 4 { Need::Bad } else { Need::Bytes(4) };
    }
    let Some(proto) = Protocol::of(buf) else {
        return Need::Bad;
    };
    if (len as u32) < proto.min_len() {
        return Need::Bad;
    }
    match proto {
        // With a key for the session: the whole message (at most MAX_MESSAGE_LEN).
        Protocol::Transform => match (crypto, wire::transform_header(buf)) {
            (Some(c), Ok((_, h))) if c.wants(h.session_id) => Need::Bytes(len),
            _ => Need::Bytes(TRANSFORM_HEADER_LEN),
        },
        Protocol::Compression => cap(COMPRESSION_PREFIX),
        Protocol::Smb1 => cap(SMB1_PREFIX),
        Protocol::Smb2 => {
            if buf.len() < SMB2_HEADER_LEN {
                return Need::Bytes(SMB2_HEADER_LEN);
            }
            let Ok((_, h)) = smb2_header(buf) else {
                return Need::Bad;
            };
            // A signed message of a session whose key is known: whole, to check it.
            if h.flags & wire::flags::SIGNED != 0
                && crypto.is_some_and(|c| c.can_verify(h.session_id))
            {
                return Need::Bytes(len);
            }
            let full = cap(MAX_BUFFER);
            if h.next_command != 0 {
                return full;
            }
            let fixed = |n: usize| cap(SMB2_HEADER_LEN + n);
            let resp = h.is_response();
            if resp
                && !matches!(
                    h.status,
                    status::SUCCESS | status::BUFFER_OVERFLOW | status::MORE_PROCESSING_REQUIRED
                )
            {
                // Error bodies are small; keep them whole (bounded) for error contexts.
                return full;
            }
            match (h.command, resp) {
                (cmd::READ, true) => fixed(READ_RESPONSE_FIXED),
                (cmd::WRITE, false) => fixed(WRITE_REQUEST_FIXED),
                (cmd::READ, false) => fixed(48),
                (cmd::WRITE, true) => fixed(16),
                (cmd::IOCTL, false) => fixed(56),
                (cmd::IOCTL, true) => {
                    if buf.len() < SMB2_HEADER_LEN + 8 {
                        return fixed(8);
                    }
                    let c = &buf[SMB2_HEADER_LEN + 4..SMB2_HEADER_LEN + 8];
                    if u32::from_le_bytes([c[0], c[1], c[2], c[3]])
                        == fsctl::QUERY_NETWORK_INTERFACE_INFO
                    {
                        full
                    } else {
                        fixed(48)
                    }
                }
                (cmd::SESSION_SETUP, _) if crypto.is_some() => full,
                (cmd::SESSION_SETUP, _) => fixed(24),
                (cmd::CREATE, true) => fixed(88),
                (cmd::CLOSE, _) => fixed(24),
                (cmd::OPLOCK_BREAK, _) => fixed(44),
                (cmd::NEGOTIATE | cmd::TREE_CONNECT | cmd::CREATE, _) => full,
                _ => fixed(8),
            }
        }
    }
}

/// Adapter running an [`SmbConnState`] as the TCP reassembler's [`StreamHandler`].
pub struct SmbParser<'a, S: SmbSink + ?Sized> {
    pub state: &'a mut SmbConnState,
    pub sink: &'a mut S,
}

impl<'a, S: SmbSink + ?Sized> SmbParser<'a, S> {
    pub fn new(state: &'a mut SmbConnState, sink: &'a mut S) -> Self {
        SmbParser { state, sink }
    }
}

impl<S: SmbSink + ?Sized> StreamHandler for SmbParser<'_, S> {
    fn data(&mut self, dir: Direction, ts_ns: i64, data: &[u8]) {
        self.state.data(dir, ts_ns, data, self.sink);
    }
    fn gap(&mut self, dir: Direction, len: u64) {
        let ts = self.state.last_ts(dir);
        self.state.gap(dir, len, ts, self.sink);
    }
    fn cut(&mut self, dir: Direction, len: u64) {
        let ts = self.state.last_ts(dir);
        self.state.cut(dir, len, ts, self.sink);
    }
    fn end(&mut self, dir: Direction) {
        self.state.end(dir, self.sink);
    }
}
