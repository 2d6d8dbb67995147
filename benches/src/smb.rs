//! SMB2/3 PDUs as they travel over Direct TCP (MS-SMB2 2.1: a 4-byte
//! transport header with a 24-bit length, then the 64-byte SMB2 header and
//! the command's fixed part). Bulk data (WRITE request, READ response) is not
//! copied here: the caller sends it as a second piece after the head.

pub const NEGOTIATE: u16 = 0;
pub const SESSION_SETUP: u16 = 1;
pub const TREE_CONNECT: u16 = 3;
pub const CREATE: u16 = 5;
pub const CLOSE: u16 = 6;
pub const READ: u16 = 8;
pub const WRITE: u16 = 9;

/// The command's name as tshark's `smb2.cmd` value string spells it (in
/// upper case, as our summaries key it).
pub fn command_name(cmd: u16) -> &'static str {
    match cmd {
        NEGOTIATE => "NEGOTIATE",
        SESSION_SETUP => "SESSION_SETUP",
        TREE_CONNECT => "TREE_CONNECT",
        CREATE => "CREATE",
        CLOSE => "CLOSE",
        READ => "READ",
        WRITE => "WRITE",
        _ => "OTHER",
    }
}

const FLAG_RESPONSE: u32 = 0x0000_0001;

/// Per-connection SMB2 state of the client: ids and credits.
#[derive(Debug, Clone)]
pub struct Smb2Session {
    pub next_msg_id: u64,
    pub session_id: u64,
    pub tree_id: u32,
}

/// Builds PDU heads into a reusable buffer.
#[derive(Debug, Default)]
pub struct PduBuf {
    pub buf: Vec<u8>,
}

impl PduBuf {
    pub fn new() -> PduBuf {
        PduBuf {
            buf: Vec::with_capacity(512),
        }
    }

    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Starts a PDU: transport header placeholder and SMB2 header.
    fn start(&mut self, s: &Smb2Session, cmd: u16, msg_id: u64, response: bool, charge: u16) {
        self.buf.clear();
        self.u32(0); // Direct TCP header, set by `finish`
        self.bytes(&[0xfe, b'S', b'M', b'B']);
        self.u16(64); // StructureSize
        self.u16(charge); // CreditCharge
        self.u32(0); // Status / ChannelSequence
        self.u16(cmd);
        self.u16(if response { charge.max(1) } else { 64 }); // credits
        self.u32(if response { FLAG_RESPONSE } else { 0 });
        self.u32(0); // NextCommand
        self.u64(msg_id);
        self.u32(0xfeff); // Reserved (process id)
        self.u32(if cmd == NEGOTIATE || (cmd == TREE_CONNECT && !response) {
            0
        } else {
            s.tree_id
        });
        self.u64(if cmd == NEGOTIATE { 0 } else { s.session_id });
        self.zeros(16); // Signature
    }

    /// Sets the Direct TCP length to head + `data_len` bytes after the
    /// 4-byte transport header; returns the head.
    fn finish(&mut self, data_len: usize) -> &[u8] {
        let len = (self.buf.len() - 4 + data_len) as u32;
        debug_assert!(len < 1 << 24);
        self.buf[0..4].copy_from_slice(&len.to_be_bytes());
        &self.buf
    }

    /// NEGOTIATE request offering 3.0.2 and 3.1.1 with a preauth-integrity
    /// context (SHA-512).
    pub fn negotiate_req(
        &mut self,
        s: &Smb2Session,
        msg_id: u64,
        guid: &[u8; 16],
        salt: &[u8; 32],
    ) -> &[u8] {
        self.start(s, NEGOTIATE, msg_id, false, 0);
        let dialects = [0x0302u16, 0x0311];
        self.u16(36);
        self.u16(dialects.len() as u16);
        self.u16(1); // SecurityMode: signing enabled
        self.u16(0);
        self.u32(0x7f); // Capabilities
        self.bytes(guid);
        // Contexts start 8-aligned after header (64) + 36 + dialects (4) = 104.
        self.u32(104);
        self.u16(1);
        self.u16(0);
        for d in dialects {
            self.u16(d);
        }
        self.preauth_context(salt);
        self.finish(0)
    }

    /// NEGOTIATE response selecting 3.1.1.
    pub fn negotiate_resp(
        &mut self,
        s: &Smb2Session,
        msg_id: u64,
        guid: &[u8; 16],
        salt: &[u8; 32],
        now_ft: u64,
    ) -> &[u8] {
        self.start(s, NEGOTIATE, msg_id, true, 0);
        self.u16(65);
        self.u16(1); // SecurityMode
        self.u16(0x0311);
        self.u16(1); // NegotiateContextCount
        self.bytes(guid);
        self.u32(0x2f); // Capabilities
        self.u32(8 << 20); // MaxTransactSize
        self.u32(8 << 20); // MaxReadSize
        self.u32(8 << 20); // MaxWriteSize
        self.u64(now_ft);
        self.u64(now_ft - 36_000_000_000);
        self.u16(0x80); // SecurityBufferOffset
        self.u16(0); // SecurityBufferLength
        self.u32(128); // NegotiateContextOffset: header 64 + fixed 64
        self.preauth_context(salt);
        self.finish(0)
    }

    fn preauth_context(&mut self, salt: &[u8; 32]) {
        self.u16(1); // SMB2_PREAUTH_INTEGRITY_CAPABILITIES
        self.u16(6 + 32);
        self.u32(0);
        self.u16(1); // HashAlgorithmCount
        self.u16(32); // SaltLength
        self.u16(1); // SHA-512
        self.bytes(salt);
    }

    /// TREE_CONNECT request for `path` (UTF-16LE).
    pub fn tree_connect_req(&mut self, s: &Smb2Session, msg_id: u64, path: &str) -> &[u8] {
        self.start(s, TREE_CONNECT, msg_id, false, 1);
        let n = utf16_len(path);
        self.u16(9);
        self.u16(0);
        self.u16(64 + 8);
        self.u16(n as u16);
        self.utf16(path);
        self.finish(0)
    }

    pub fn tree_connect_resp(&mut self, s: &Smb2Session, msg_id: u64) -> &[u8] {
        self.start(s, TREE_CONNECT, msg_id, true, 1);
        self.u16(16);
        self.u8(1); // DISK
        self.u8(0);
        self.u32(0x0000_0800); // ShareFlags: no caching... (SMB2_SHAREFLAG_NO_CACHING)
        self.u32(0x0000_0040); // Capabilities: continuous availability... (CLUSTER)
        self.u32(0x001f_01ff); // MaximalAccess
        self.finish(0)
    }

    /// CREATE request opening `name` (relative to the share).
    pub fn create_req(&mut self, s: &Smb2Session, msg_id: u64, name: &str) -> &[u8] {
        self.start(s, CREATE, msg_id, false, 1);
        let n = utf16_len(name);
        self.u16(57);
        self.u8(0); // SecurityFlags
        self.u8(0); // RequestedOplockLevel
        self.u32(2); // Impersonation
        self.u64(0);
        self.u64(0);
        self.u32(0x0012_019f); // DesiredAccess: read/write
        self.u32(0x80); // FileAttributes: NORMAL
        self.u32(7); // ShareAccess: read|write|delete
        self.u32(1); // CreateDisposition: OPEN
        self.u32(0x0000_0040); // CreateOptions: NON_DIRECTORY_FILE
        self.u16(64 + 56); // NameOffset
        self.u16(n as u16);
        self.u32(0);
        self.u32(0);
        self.utf16(name);
        self.finish(0)
    }

    pub fn create_resp(
        &mut self,
        s: &Smb2Session,
        msg_id: u64,
        file_id: &[u8; 16],
        size: u64,
        ft: u64,
    ) -> &[u8] {
        self.start(s, CREATE, msg_id, true, 1);
        self.u16(89);
        self.u8(0); // OplockLevel
        self.u8(0);
        self.u32(1); // CreateAction: OPENED
        for _ in 0..4 {
            self.u64(ft);
        }
        self.u64(size); // AllocationSize
        self.u64(size); // EndofFile
        self.u32(0x20); // ARCHIVE
        self.u32(0);
        self.bytes(file_id);
        self.u32(0);
        self.u32(0);
        self.finish(0)
    }

    pub fn close_req(&mut self, s: &Smb2Session, msg_id: u64, file_id: &[u8; 16]) -> &[u8] {
        self.start(s, CLOSE, msg_id, false, 1);
        self.u16(24);
        self.u16(0);
        self.u32(0);
        self.bytes(file_id);
        self.finish(0)
    }

    pub fn close_resp(&mut self, s: &Smb2Session, msg_id: u64) -> &[u8] {
        self.start(s, CLOSE, msg_id, true, 1);
        self.u16(60);
        self.u16(0);
        self.u32(0);
        self.zeros(56);
        self.finish(0)
    }

    /// WRITE request head; `len` data bytes follow it.
    pub fn write_req(
        &mut self,
        s: &Smb2Session,
        msg_id: u64,
        file_id: &[u8; 16],
        offset: u64,
        len: u32,
    ) -> &[u8] {
        self.start(s, WRITE, msg_id, false, credit_charge(len));
        self.u16(49);
        self.u16(64 + 48); // DataOffset
        self.u32(len);
        self.u64(offset);
        self.bytes(file_id);
        self.u32(0); // Channel
        self.u32(0); // RemainingBytes
        self.u16(0);
        self.u16(0);
        self.u32(0); // Flags
        self.finish(len as usize)
    }

    pub fn write_resp(&mut self, s: &Smb2Session, msg_id: u64, len: u32) -> &[u8] {
        self.start(s, WRITE, msg_id, true, credit_charge(len));
        self.u16(17);
        self.u16(0);
        self.u32(len); // Count
        self.u32(0);
        self.u16(0);
        self.u16(0);
        self.finish(0)
    }

    pub fn read_req(
        &mut self,
        s: &Smb2Session,
        msg_id: u64,
        file_id: &[u8; 16],
        offset: u64,
        len: u32,
    ) -> &[u8] {
        self.start(s, READ, msg_id, false, credit_charge(len));
        self.u16(49);
        self.u8(0x50); // Padding: data offset in the response
        self.u8(0);
        self.u32(len);
        self.u64(offset);
        self.bytes(file_id);
        self.u32(0); // MinimumCount
        self.u32(0); // Channel
        self.u32(0); // RemainingBytes
        self.u16(0);
        self.u16(0);
        self.u8(0); // Buffer
        self.finish(0)
    }

    /// READ response head; `len` data bytes follow it.
    pub fn read_resp(&mut self, s: &Smb2Session, msg_id: u64, len: u32) -> &[u8] {
        self.start(s, READ, msg_id, true, credit_charge(len));
        self.u16(17);
        self.u8(0x50); // DataOffset
        self.u8(0);
        self.u32(len);
        self.u32(0);
        self.u32(0);
        self.finish(len as usize)
    }

    fn utf16(&mut self, s: &str) {
        for u in s.encode_utf16() {
            self.u16(u);
        }
    }
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

/// MS-SMB2 3.1.5.2: one credit per 64 KiB.
fn credit_charge(len: u32) -> u16 {
    (len.saturating_sub(1) / 65536 + 1) as u16
}
