//! What the SMB stream parser reports: one [`SmbEvent`] per SMB2 PDU (each
//! element of a compound chain), per encrypted or compressed message, per
//! SMB1 negotiate and per resynchronisation. READ/WRITE events carry no heap
//! data; strings and lists appear only in rare PDUs (CREATE names, tree
//! paths, negotiate contexts, interface lists, redirects).

use std::net::{IpAddr, SocketAddr};

use crate::flow::Direction;

use super::wire::Smb2Header;

/// Something the SMB parser saw in one direction of one TCP connection.
#[derive(Debug, Clone, PartialEq)]
pub struct SmbEvent {
    pub dir: Direction,
    /// Timestamp of the `data` call that completed the event's bytes.
    pub ts_ns: i64,
    pub kind: SmbEventKind,
}

/// The kinds of [`SmbEvent`].
// `Pdu` is by far the most common variant: boxing it would allocate per PDU.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum SmbEventKind {
    /// A cleartext SMB2 PDU.
    Pdu(Pdu),
    /// An SMB 3.x TRANSFORM_HEADER message (encrypted).
    Encrypted {
        session_id: u64,
        /// OriginalMessageSize (the decrypted SMB2 message size).
        original_size: u32,
        /// Session-message length on the wire (transform header + ciphertext).
        wire_bytes: u32,
        /// Flags / EncryptionAlgorithm field.
        flags: u16,
        /// Whether it was decrypted (then its PDUs follow as `Pdu` events
        /// with `frame_len` 0: the frame's bytes are counted here).
        decryption: super::crypto::Decryption,
    },
    /// An SMB 3.1.1 compression transform message.
    Compressed {
        algorithm: u16,
        chained: bool,
        original_size: u32,
        /// Session-message length on the wire.
        len: u32,
        /// The SMB2 header was recovered (clear part or partial decompression: NONE,
        /// LZNT1, LZ77, Pattern_V1) and its PDU(s) reported as [`Pdu`] with `compressed`.
        header_visible: bool,
    },
    /// An SMB1 NEGOTIATE request (multi-protocol negotiate).
    Smb1Negotiate {
        /// The dialect list contains "SMB 2.002" or "SMB 2.???".
        dialects_offered_smb2: bool,
        dialect_count: u16,
    },
    /// Another SMB1 message.
    Smb1 { command: u8, len: u32 },
    /// What the TCP stream carried of a READ response, WRITE request or
    /// encrypted message (reported when the message ends, or when a WRITE
    /// response adds evidence the request's capture lacked).
    Io(Io),
    /// The parser found a plausible message start again after a gap or garbage.
    Resync {
        /// Bytes of delivered data discarded while hunting.
        skipped: u64,
    },
    /// How a session's key came, or why it did not (at its successful
    /// SESSION_SETUP response, when keys, credentials or a keytab were given).
    SessionKey {
        session_id: u64,
        origin: super::crypto::KeyOrigin,
    },
    /// A signed cleartext PDU checked with its session's key.
    Signature {
        session_id: u64,
        check: super::crypto::SignatureCheck,
    },
}

/// What an [`Io`] event counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum IoKind {
    /// READ response data.
    Read,
    /// WRITE request data.
    Write,
    /// A whole encrypted (transform) message, header included.
    Encrypted,
}

/// Bytes of one message as the TCP stream carried them: sequence space
/// covered by captured segments (snaplen-cut bytes included, capture losses
/// not), capped by the declared length. Never more than the message (framed
/// length) can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Io {
    pub kind: IoKind,
    /// SessionId of the SMB2 header or of the transform header (0 when not captured).
    pub session_id: u64,
    /// MessageId of the PDU (None for encrypted messages or when not captured).
    pub message_id: Option<u64>,
    /// The file (WRITE request, or the READ request matched by MessageId), when known.
    pub file_id: Option<FileId>,
    /// Payload bytes carried (for encrypted messages: message bytes carried).
    pub bytes: u64,
    /// What the message declared (DataLength / Length / Count; the framed
    /// length for encrypted messages, or for a READ/WRITE whose length field
    /// the capture cut).
    pub declared: u64,
    /// Every declared byte was carried.
    pub complete: bool,
}

/// One SMB2 PDU: header fields, position and decoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Pdu {
    pub header: Smb2Header,
    /// Bytes of the 64-byte SMB2 header captured (64 unless the snaplen cut
    /// it: then fields beyond it are 0, see [`super::wire::smb2_header_partial`]).
    pub header_len: u8,
    /// Session-message length on the wire of the frame carrying this PDU (for a
    /// compressed frame, its compressed length); count it once per frame, on
    /// `compound_index == 0`.
    pub frame_len: u32,
    /// Position in the compound chain (0 for the first or only PDU).
    pub compound_index: u16,
    /// The PDU was inside a compression transform (header rebuilt from its prefix).
    pub compressed: bool,
    pub body: Body,
}

impl Pdu {
    #[inline]
    pub fn is_response(&self) -> bool {
        self.header.is_response()
    }
    /// The MessageId was captured.
    #[inline]
    pub fn has_message_id(&self) -> bool {
        self.header_len >= 32
    }
    /// The SessionId was captured.
    #[inline]
    pub fn has_session_id(&self) -> bool {
        self.header_len >= 48
    }
    /// Command name as in the report ("NEGOTIATE", "READ", ...).
    pub fn command_name(&self) -> &'static str {
        super::wire::command_name(self.header.command)
    }
}

/// An SMB2 FileId (persistent + volatile halves).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

/// Decoded body of an SMB2 PDU (only the commands this analyser needs).
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Not decoded (another command, or a truncated body).
    Other,
    NegotiateRequest(NegotiateRequest),
    NegotiateResponse(NegotiateResponse),
    SessionSetupRequest {
        /// Flags byte; 0x01 SMB2_SESSION_FLAG_BINDING.
        flags: u8,
        previous_session_id: u64,
    },
    SessionSetupResponse {
        /// SessionFlags: 0x1 IS_GUEST, 0x2 IS_NULL, 0x4 ENCRYPT_DATA.
        session_flags: u16,
    },
    TreeConnectRequest {
        /// Flags (3.1.1): 0x1 CLUSTER_RECONNECT, 0x2 REDIRECT_TO_OWNER, 0x4 EXTENSION_PRESENT.
        flags: u16,
        path: String,
    },
    TreeConnectResponse {
        share_type: u8,
        share_flags: u32,
        capabilities: u32,
        /// Share path from the matching request on this connection, if seen.
        path: Option<String>,
    },
    CreateRequest {
        name: String,
        vm_storage: bool,
    },
    CreateResponse {
        file_id: FileId,
        end_of_file: u64,
        /// Name from the matching request on this connection, if seen.
        name: Option<String>,
    },
    Close {
        file_id: FileId,
    },
    ReadRequest {
        length: u32,
        offset: u64,
        file_id: FileId,
    },
    ReadResponse {
        data_length: u32,
        /// The matching request (by MessageId on this connection), if seen.
        request: Option<ReadRequestInfo>,
    },
    WriteRequest {
        length: u32,
        offset: u64,
        file_id: FileId,
        data_offset: u16,
    },
    WriteResponse {
        count: u32,
    },
    IoctlRequest {
        ctl_code: u32,
        file_id: FileId,
        input_count: u32,
        max_output: u32,
    },
    IoctlResponse {
        ctl_code: u32,
        file_id: FileId,
        output_count: u32,
        /// Decoded FSCTL_QUERY_NETWORK_INTERFACE_INFO output (bounded).
        interfaces: Vec<NetworkInterfaceInfo>,
    },
    /// An SMB2 ERROR response (StructureSize 9 with a failure status).
    Error {
        error_context_count: u8,
        byte_count: u32,
        share_redirect: Option<ShareRedirect>,
    },
    OplockBreak {
        /// Oplock level (oplock break) — 0 for lease breaks.
        oplock_level: u8,
        file_id: FileId,
    },
    LeaseBreak {
        lease_key: [u8; 16],
        /// CurrentLeaseState (notification) or LeaseState (ack/response).
        lease_state: u32,
        /// NewLeaseState (notification only).
        new_lease_state: u32,
    },
}

/// The fields of a READ request kept to match its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequestInfo {
    pub file_id: FileId,
    pub offset: u64,
    pub length: u32,
}

/// Maximum number of dialects / contexts / ids kept from a NEGOTIATE.
pub const MAX_NEGOTIATE_ITEMS: usize = 32;

/// SMB2 NEGOTIATE request body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NegotiateRequest {
    pub dialects: Vec<u16>,
    pub capabilities: u32,
    pub contexts: NegotiateContexts,
}

/// SMB2 NEGOTIATE response body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NegotiateResponse {
    pub dialect: u16,
    pub capabilities: u32,
    pub max_read: u32,
    pub max_write: u32,
    pub contexts: NegotiateContexts,
}

/// The SMB 3.1.1 negotiate contexts this analyser decodes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NegotiateContexts {
    /// PREAUTH_INTEGRITY hash algorithm ids (1 = SHA-512).
    pub preauth_hashes: Vec<u16>,
    /// ENCRYPTION cipher ids (1 AES-128-CCM, 2 AES-128-GCM, 3 AES-256-CCM, 4 AES-256-GCM).
    pub ciphers: Vec<u16>,
    /// COMPRESSION algorithm ids.
    pub compression: Vec<u16>,
    /// SIGNING algorithm ids (0 HMAC-SHA256, 1 AES-CMAC, 2 AES-GMAC).
    pub signing: Vec<u16>,
    /// RDMA_TRANSFORM ids (0 none, 1 encryption, 2 signing).
    pub rdma_transforms: Vec<u16>,
    /// Context types seen (all, decoded or not).
    pub types: Vec<u16>,
}

/// One entry of an FSCTL_QUERY_NETWORK_INTERFACE_INFO response (MS-SMB2 2.2.32.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NetworkInterfaceInfo {
    pub if_index: u32,
    /// 0x1 RSS_CAPABLE, 0x2 RDMA_CAPABLE.
    pub capability: u32,
    pub link_speed_bps: u64,
    pub addr: SocketAddr,
}

impl NetworkInterfaceInfo {
    pub fn rss(&self) -> bool {
        self.capability & 1 != 0
    }
    pub fn rdma(&self) -> bool {
        self.capability & 2 != 0
    }
}

/// A share redirect error context (MS-SMB2 2.2.2.2.2): the share's owner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShareRedirect {
    pub addresses: Vec<IpAddr>,
    pub resource_name: String,
}

/// Sink for [`SmbEvent`]s.
pub trait SmbSink {
    fn event(&mut self, ev: &SmbEvent);
}

impl SmbSink for Vec<SmbEvent> {
    fn event(&mut self, ev: &SmbEvent) {
        self.push(ev.clone());
    }
}
