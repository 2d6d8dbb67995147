//! Zero-copy wire views of the SMB framing layers: the 4-byte Direct-TCP /
//! NetBIOS session header, the SMB2 packet header (sync and async), the SMB 3
//! transform (encryption) header, the SMB 3.1.1 compression transform header
//! and the SMB1 header (only far enough to recognise a multi-protocol
//! NEGOTIATE). All parsers are nom 8 parsers over little-endian fields.

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{tag, take};
use nom::number::complete::{le_u8, le_u16, le_u32, le_u64};

/// Length of the Direct-TCP / NetBIOS session header.
pub const FRAMING_LEN: usize = 4;
/// Largest SMB message we accept when (re)synchronising (MS-SMB2 limits a
/// message to the 24-bit length field; real traffic stays below 8 MiB + headers).
pub const MAX_MESSAGE_LEN: u32 = 16 << 20;
/// Length of the SMB2 packet header.
pub const SMB2_HEADER_LEN: usize = 64;
/// Length of the SMB 3.x transform header.
pub const TRANSFORM_HEADER_LEN: usize = 52;
/// Length of the compression transform header (unchained form).
pub const COMPRESSION_HEADER_LEN: usize = 16;
/// Length of the SMB1 header.
pub const SMB1_HEADER_LEN: usize = 32;

/// SMB2 header flag bits (MS-SMB2 2.2.1.1).
pub mod flags {
    /// The message is a response (server to redirector).
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    /// The header is the async form (AsyncId instead of ProcessId/TreeId).
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    /// The message is a related operation in a compound chain.
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    pub const SIGNED: u32 = 0x0000_0008;
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// What the first four bytes of an SMB message are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// 0xFE 'SMB': an SMB2/3 packet header.
    Smb2,
    /// 0xFD 'SMB': an SMB 3.x transform header (encrypted message).
    Transform,
    /// 0xFC 'SMB': an SMB 3.1.1 compression transform header.
    Compression,
    /// 0xFF 'SMB': an SMB1 header.
    Smb1,
}

impl Protocol {
    /// Recognises the protocol id at the start of `b`.
    #[inline]
    pub fn of(b: &[u8]) -> Option<Protocol> {
        match b.get(..4)? {
            [0xFE, b'S', b'M', b'B'] => Some(Protocol::Smb2),
            [0xFD, b'S', b'M', b'B'] => Some(Protocol::Transform),
            [0xFC, b'S', b'M', b'B'] => Some(Protocol::Compression),
            [0xFF, b'S', b'M', b'B'] => Some(Protocol::Smb1),
            _ => None,
        }
    }

    /// Smallest message of this protocol.
    pub fn min_len(self) -> u32 {
        match self {
            Protocol::Smb2 => SMB2_HEADER_LEN as u32,
            Protocol::Transform => TRANSFORM_HEADER_LEN as u32,
            Protocol::Compression => COMPRESSION_HEADER_LEN as u32,
            Protocol::Smb1 => SMB1_HEADER_LEN as u32,
        }
    }
}

/// The 4-byte session header in front of every SMB message on TCP 445
/// (Direct TCP: 0x00 + 24-bit big-endian length) or TCP 139 (NetBIOS session
/// service: message type + flags/length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Type 0x00: a session message (an SMB message) of `len` bytes follows.
    Message { len: u32 },
    /// NetBIOS session control (0x81 request, 0x82 positive, 0x83 negative,
    /// 0x84 retarget, 0x85 keep-alive): `len` bytes that are not SMB follow.
    Control { kind: u8, len: u32 },
}

impl Framing {
    /// Reads the session header; `None` for an unknown message type.
    #[inline]
    pub fn parse(b: [u8; 4]) -> Option<Framing> {
        let len = u32::from_be_bytes([0, b[1], b[2], b[3]]);
        match b[0] {
            0x00 => Some(Framing::Message { len }),
            0x81..=0x85 if len <= 0xFFFF => Some(Framing::Control { kind: b[0], len }),
            _ => None,
        }
    }
}

/// Checks whether `b` starts with a plausible SMB message behind a Direct-TCP
/// header: type 0x00, length within bounds, a known protocol id and, for an
/// SMB2 header, StructureSize 64 and a defined command code. `b` must hold at
/// least 18 bytes for SMB2 (8 for the other protocol ids); returns `None` when
/// it is too short to tell.
pub fn plausible_frame_start(b: &[u8]) -> Option<bool> {
    if b.len() < 8 {
        return None;
    }
    if b[0] != 0 {
        return Some(false);
    }
    let len = u32::from_be_bytes([0, b[1], b[2], b[3]]);
    let Some(proto) = Protocol::of(&b[4..]) else {
        return Some(false);
    };
    if len < proto.min_len() || len > MAX_MESSAGE_LEN {
        return Some(false);
    }
    match proto {
        Protocol::Smb2 => {
            let ss = b.get(8..10)?;
            if ss != [64, 0] {
                return Some(false);
            }
            let c = b.get(16..18)?;
            Some(u16::from_le_bytes([c[0], c[1]]) < COMMAND_NAMES.len() as u16)
        }
        Protocol::Transform => Some(len > TRANSFORM_HEADER_LEN as u32),
        _ => Some(true),
    }
}

/// The SMB2 packet header (MS-SMB2 2.2.1.1 sync / 2.2.1.2 async).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Smb2Header {
    pub credit_charge: u16,
    /// NT status (responses); ChannelSequence/Reserved in requests.
    pub status: u32,
    pub command: u16,
    /// Credits requested (request) or granted (response).
    pub credits: u16,
    pub flags: u32,
    /// Offset from this header to the next one of a compound chain, 0 at the end.
    pub next_command: u32,
    pub message_id: u64,
    /// AsyncId when the ASYNC flag is set.
    pub async_id: Option<u64>,
    /// TreeId of the sync header (0 for the async form).
    pub tree_id: u32,
    pub session_id: u64,
}

impl Smb2Header {
    #[inline]
    pub fn is_response(&self) -> bool {
        self.flags & flags::SERVER_TO_REDIR != 0
    }
    #[inline]
    pub fn is_async(&self) -> bool {
        self.flags & flags::ASYNC_COMMAND != 0
    }
    #[inline]
    pub fn is_related(&self) -> bool {
        self.flags & flags::RELATED_OPERATIONS != 0
    }
}

/// Parses a 64-byte SMB2 header. Only the protocol id is checked: like
/// Wireshark, a framed message with an odd StructureSize is still decoded
/// (the resynchronisation scan, [`plausible_frame_start`], does require 64).
pub fn smb2_header(i: &[u8]) -> IResult<&[u8], Smb2Header> {
    let (i, _) = tag(&[0xFE, b'S', b'M', b'B'][..]).parse(i)?;
    let (i, _structure_size) = le_u16.parse(i)?;
    let (i, (credit_charge, status, command, credits, flags, next_command, message_id)) =
        (le_u16, le_u32, le_u16, le_u16, le_u32, le_u32, le_u64).parse(i)?;
    let (i, (w1, w2, session_id, _sig)) = (le_u32, le_u32, le_u64, take(16usize)).parse(i)?;
    let is_async = flags & flags::ASYNC_COMMAND != 0;
    let h = Smb2Header {
        credit_charge,
        status,
        command,
        credits,
        flags,
        next_command,
        message_id,
        async_id: is_async.then_some(u64::from(w1) | (u64::from(w2) << 32)),
        tree_id: if is_async { 0 } else { w2 },
        session_id,
    };
    Ok((i, h))
}

/// Fewest bytes of an SMB2 header [`smb2_header_partial`] decodes (up to and
/// including Command, like tshark on a snaplen-cut frame).
pub const SMB2_PARTIAL_MIN: usize = 14;

/// Decodes the captured start of an SMB2 header that the snaplen cut: the
/// fields wholly present are filled in, the others are 0 (Flags is read when
/// its 4 bytes are there). Returns the header and how many of its 64 bytes
/// were present; `None` without the protocol id or below [`SMB2_PARTIAL_MIN`].
/// Field presence: Status from 12 bytes, Command 14, Flags 20, MessageId 32,
/// TreeId and AsyncId 40, SessionId 48.
pub fn smb2_header_partial(i: &[u8]) -> Option<(Smb2Header, usize)> {
    if let Ok((_, h)) = smb2_header(i) {
        return Some((h, SMB2_HEADER_LEN));
    }
    if i.len() < SMB2_PARTIAL_MIN || i[..4] != [0xFE, b'S', b'M', b'B'] {
        return None;
    }
    let n = i.len().min(SMB2_HEADER_LEN);
    let u16_at = |o: usize| {
        i.get(o..o + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        i.get(o..o + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        i.get(o..o + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let flags = u32_at(16);
    let is_async = flags & flags::ASYNC_COMMAND != 0;
    let h = Smb2Header {
        credit_charge: u16_at(6),
        status: u32_at(8),
        command: u16_at(12),
        credits: u16_at(14),
        flags,
        next_command: u32_at(20),
        message_id: u64_at(24),
        async_id: (is_async && n >= 40).then(|| u64_at(32)),
        tree_id: if is_async { 0 } else { u32_at(36) },
        session_id: u64_at(40),
    };
    Some((h, n))
}

/// The SMB 3.x TRANSFORM_HEADER (MS-SMB2 2.2.41): an encrypted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformHeader {
    /// Size of the SMB2 message once decrypted.
    pub original_size: u32,
    /// Flags (3.1.1: 0x0001 encrypted) / EncryptionAlgorithm (3.0: 0x0001 AES-128-CCM).
    pub flags: u16,
    pub session_id: u64,
}

/// Parses the 52-byte transform header.
pub fn transform_header(i: &[u8]) -> IResult<&[u8], TransformHeader> {
    let (i, _) = tag(&[0xFD, b'S', b'M', b'B'][..]).parse(i)?;
    let (i, (_sig, _nonce, original_size, _res, flags, session_id)) =
        (take(16usize), take(16usize), le_u32, le_u16, le_u16, le_u64).parse(i)?;
    Ok((
        i,
        TransformHeader {
            original_size,
            flags,
            session_id,
        },
    ))
}

/// Compression algorithm ids (MS-SMB2 2.2.3.1.3).
pub fn compression_algorithm_name(id: u16) -> &'static str {
    match id {
        0 => "NONE",
        1 => "LZNT1",
        2 => "LZ77",
        3 => "LZ77+Huffman",
        4 => "Pattern_V1",
        5 => "LZ4",
        _ => "unknown",
    }
}

/// The compression transform header (MS-SMB2 2.2.42). In the chained form
/// the fields after OriginalCompressedSegmentSize are the first payload
/// header (AlgorithmId, Flags, Length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionHeader {
    /// Size of the uncompressed message.
    pub original_size: u32,
    pub algorithm: u16,
    /// 0x0001: chained.
    pub flags: u16,
    /// Unchained: Offset (uncompressed bytes after this header); chained: Length of the first payload.
    pub offset_or_length: u32,
}

impl CompressionHeader {
    #[inline]
    pub fn chained(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// Parses the 16-byte compression transform header.
pub fn compression_header(i: &[u8]) -> IResult<&[u8], CompressionHeader> {
    let (i, _) = tag(&[0xFC, b'S', b'M', b'B'][..]).parse(i)?;
    let (i, (original_size, algorithm, flags, offset_or_length)) =
        (le_u32, le_u16, le_u16, le_u32).parse(i)?;
    Ok((
        i,
        CompressionHeader {
            original_size,
            algorithm,
            flags,
            offset_or_length,
        },
    ))
}

/// SMB1 NEGOTIATE command code.
pub const SMB1_COM_NEGOTIATE: u8 = 0x72;

/// The fields of an SMB1 header this analyser uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Header {
    pub command: u8,
    /// Flags byte; 0x80 marks a reply.
    pub flags: u8,
}

/// Parses the 32-byte SMB1 header.
pub fn smb1_header(i: &[u8]) -> IResult<&[u8], Smb1Header> {
    let (i, _) = tag(&[0xFF, b'S', b'M', b'B'][..]).parse(i)?;
    let (i, (command, _status, flags, _rest)) = (le_u8, le_u32, le_u8, take(22usize)).parse(i)?;
    Ok((i, Smb1Header { command, flags }))
}

/// Iterates the dialect strings of an SMB1 NEGOTIATE request body
/// (WordCount 0, ByteCount, then 0x02 "dialect\0" entries).
pub fn smb1_dialects(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let bytes: &[u8] = match (le_u8::<_, nom::error::Error<&[u8]>>, le_u16).parse(body) {
        Ok((rest, (0, bc))) => rest.get(..(bc as usize).min(rest.len())).unwrap_or(&[]),
        _ => &[],
    };
    bytes
        .split(|&b| b == 0)
        .filter_map(|s| s.strip_prefix(&[0x02][..]))
        .take(64)
}

/// The SMB2 command names (MS-SMB2 2.2.1.2 Command), as the report uses them.
pub const COMMAND_NAMES: [&str; 19] = [
    "NEGOTIATE",
    "SESSION_SETUP",
    "LOGOFF",
    "TREE_CONNECT",
    "TREE_DISCONNECT",
    "CREATE",
    "CLOSE",
    "FLUSH",
    "READ",
    "WRITE",
    "LOCK",
    "IOCTL",
    "CANCEL",
    "ECHO",
    "QUERY_DIRECTORY",
    "CHANGE_NOTIFY",
    "QUERY_INFO",
    "SET_INFO",
    "OPLOCK_BREAK",
];

/// SMB2 command codes.
pub mod cmd {
    pub const NEGOTIATE: u16 = 0;
    pub const SESSION_SETUP: u16 = 1;
    pub const LOGOFF: u16 = 2;
    pub const TREE_CONNECT: u16 = 3;
    pub const TREE_DISCONNECT: u16 = 4;
    pub const CREATE: u16 = 5;
    pub const CLOSE: u16 = 6;
    pub const FLUSH: u16 = 7;
    pub const READ: u16 = 8;
    pub const WRITE: u16 = 9;
    pub const LOCK: u16 = 10;
    pub const IOCTL: u16 = 11;
    pub const CANCEL: u16 = 12;
    pub const ECHO: u16 = 13;
    pub const QUERY_DIRECTORY: u16 = 14;
    pub const CHANGE_NOTIFY: u16 = 15;
    pub const QUERY_INFO: u16 = 16;
    pub const SET_INFO: u16 = 17;
    pub const OPLOCK_BREAK: u16 = 18;
}

/// The name of an SMB2 command code ("UNKNOWN" beyond the 19 defined).
pub fn command_name(command: u16) -> &'static str {
    COMMAND_NAMES
        .get(command as usize)
        .copied()
        .unwrap_or("UNKNOWN")
}

/// NT status codes the analyser distinguishes.
pub mod status {
    pub const SUCCESS: u32 = 0;
    pub const PENDING: u32 = 0x0000_0103;
    pub const BUFFER_OVERFLOW: u32 = 0x8000_0005;
    pub const MORE_PROCESSING_REQUIRED: u32 = 0xC000_0016;
    pub const BAD_NETWORK_NAME: u32 = 0xC000_00CC;
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn header(cmd: u16, flags: u32, mid: u64, next: u32) -> Vec<u8> {
        let mut h = vec![0xFE, b'S', b'M', b'B', 64, 0, 1, 0];
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&cmd.to_le_bytes());
        h.extend_from_slice(&31u16.to_le_bytes());
        h.extend_from_slice(&flags.to_le_bytes());
        h.extend_from_slice(&next.to_le_bytes());
        h.extend_from_slice(&mid.to_le_bytes());
        h.extend_from_slice(&0xFEFFu32.to_le_bytes());
        h.extend_from_slice(&7u32.to_le_bytes());
        h.extend_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        h.extend_from_slice(&[0; 16]);
        h
    }

    #[test]
    fn sync_and_async_header() {
        let h = header(cmd::READ, flags::SERVER_TO_REDIR, 9, 0);
        let (rest, p) = smb2_header(&h).unwrap();
        assert!(rest.is_empty());
        assert_eq!(p.command, cmd::READ);
        assert!(p.is_response() && !p.is_async());
        assert_eq!(p.tree_id, 7);
        assert_eq!(p.credits, 31);
        assert_eq!(p.message_id, 9);
        assert_eq!(p.session_id, 0x1122_3344_5566_7788);
        let h = header(
            cmd::CREATE,
            flags::SERVER_TO_REDIR | flags::ASYNC_COMMAND,
            9,
            0,
        );
        let (_, p) = smb2_header(&h).unwrap();
        assert!(p.is_async());
        assert_eq!(p.async_id, Some(0x0000_0007_0000_FEFF));
        assert_eq!(p.tree_id, 0);
        assert!(smb2_header(&h[..63]).is_err());
        let mut odd = h.clone();
        odd[4] = 63;
        assert!(smb2_header(&odd).is_ok());
        odd[0] = 0xFD;
        assert!(smb2_header(&odd).is_err());
    }

    #[test]
    fn transform_and_compression_headers() {
        let mut t = vec![0xFD, b'S', b'M', b'B'];
        t.extend_from_slice(&[0xAA; 32]);
        t.extend_from_slice(&146u32.to_le_bytes());
        t.extend_from_slice(&[0, 0, 1, 0]);
        t.extend_from_slice(&0x0000_4800_9400_003Du64.to_le_bytes());
        let (_, h) = transform_header(&t).unwrap();
        assert_eq!(h.original_size, 146);
        assert_eq!(h.flags, 1);
        assert_eq!(h.session_id, 0x0000_4800_9400_003D);
        assert!(transform_header(&t[..51]).is_err());

        let c = [
            0xFC, b'S', b'M', b'B', 0x70, 1, 0, 0, 1, 0, 1, 0, 0x58, 0, 0, 0,
        ];
        let (_, h) = compression_header(&c).unwrap();
        assert_eq!(h.original_size, 368);
        assert_eq!(compression_algorithm_name(h.algorithm), "LZNT1");
        assert!(h.chained());
        assert_eq!(h.offset_or_length, 0x58);
    }

    #[test]
    fn framing_and_plausibility() {
        assert_eq!(
            Framing::parse([0, 1, 0, 0]),
            Some(Framing::Message { len: 65536 })
        );
        assert_eq!(
            Framing::parse([0x85, 0, 0, 0]),
            Some(Framing::Control { kind: 0x85, len: 0 })
        );
        assert_eq!(Framing::parse([0x42, 0, 0, 0]), None);
        let mut f = vec![0, 0, 0, 100];
        f.extend_from_slice(&header(0, 0, 0, 0));
        assert_eq!(plausible_frame_start(&f), Some(true));
        assert_eq!(plausible_frame_start(&f[..6]), None);
        assert_eq!(plausible_frame_start(&f[..17]), None);
        let mut bad_cmd = f.clone();
        bad_cmd[16] = 19;
        assert_eq!(plausible_frame_start(&bad_cmd), Some(false));
        f[3] = 10;
        assert_eq!(plausible_frame_start(&f), Some(false));
    }

    #[test]
    fn smb1_negotiate_dialects() {
        let mut body = vec![0u8];
        let list = b"\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0";
        body.extend_from_slice(&(list.len() as u16).to_le_bytes());
        body.extend_from_slice(list);
        let d: Vec<&[u8]> = smb1_dialects(&body).collect();
        assert_eq!(d, vec![&b"NT LM 0.12"[..], b"SMB 2.002", b"SMB 2.???"]);
        assert_eq!(smb1_dialects(&[1, 2]).count(), 0);
        assert_eq!(command_name(18), "OPLOCK_BREAK");
        assert_eq!(command_name(19), "UNKNOWN");
    }
}
