//! Name tables and flag constants of SMB2/3: dialects, capabilities, share
//! capabilities and flags, session flags, FSCTL codes, and the Hyper-V VM
//! storage file-name test.

/// Human name of a dialect revision ("3.1.1", "2.???" for 0x02FF).
pub fn dialect_name(d: u16) -> &'static str {
    match d {
        0x0202 => "2.0.2",
        0x0210 => "2.1",
        0x0222 => "2.2.2",
        0x0224 => "2.2.4",
        0x02FF => "2.???",
        0x0300 => "3.0",
        0x0302 => "3.0.2",
        0x0310 => "3.1",
        0x0311 => "3.1.1",
        _ => "unknown",
    }
}

/// Names of the global capability bits (NEGOTIATE Capabilities).
pub fn capability_names(c: u32) -> Vec<&'static str> {
    const T: [(u32, &str); 8] = [
        (0x01, "DFS"),
        (0x02, "LEASING"),
        (0x04, "LARGE_MTU"),
        (0x08, "MULTI_CHANNEL"),
        (0x10, "PERSISTENT_HANDLES"),
        (0x20, "DIRECTORY_LEASING"),
        (0x40, "ENCRYPTION"),
        (0x80, "NOTIFICATIONS"),
    ];
    T.iter()
        .filter(|(b, _)| c & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Share capability bits (TREE_CONNECT response).
pub mod share_caps {
    pub const DFS: u32 = 0x08;
    pub const CONTINUOUS_AVAILABILITY: u32 = 0x10;
    pub const SCALEOUT: u32 = 0x20;
    pub const CLUSTER: u32 = 0x40;
    pub const ASYMMETRIC: u32 = 0x80;
    pub const REDIRECT_TO_OWNER: u32 = 0x100;
}

/// Short names of share capability bits: "DFS", "CA", "SCALEOUT", "CLUSTER",
/// "ASYMMETRIC", "REDIRECT_TO_OWNER".
pub fn share_capability_names(c: u32) -> Vec<&'static str> {
    const T: [(u32, &str); 6] = [
        (share_caps::DFS, "DFS"),
        (share_caps::CONTINUOUS_AVAILABILITY, "CA"),
        (share_caps::SCALEOUT, "SCALEOUT"),
        (share_caps::CLUSTER, "CLUSTER"),
        (share_caps::ASYMMETRIC, "ASYMMETRIC"),
        (share_caps::REDIRECT_TO_OWNER, "REDIRECT_TO_OWNER"),
    ];
    T.iter()
        .filter(|(b, _)| c & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// ShareFlags bit: the share requires encryption.
pub const SHARE_FLAG_ENCRYPT_DATA: u32 = 0x8000;
/// SESSION_SETUP request flag: bind this connection to an existing session.
pub const SESSION_FLAG_BINDING: u8 = 0x01;
/// SessionFlags bits of the SESSION_SETUP response.
pub const SESSION_FLAG_IS_GUEST: u16 = 0x1;
pub const SESSION_FLAG_IS_NULL: u16 = 0x2;
pub const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x4;
/// TREE_CONNECT request flag (3.1.1) asking for a share redirect.
pub const TREE_CONNECT_FLAG_REDIRECT_TO_OWNER: u16 = 0x0002;

/// Share type name (TREE_CONNECT response).
pub fn share_type_name(t: u8) -> &'static str {
    match t {
        1 => "DISK",
        2 => "PIPE",
        3 => "PRINT",
        _ => "unknown",
    }
}

/// FSCTL / IOCTL codes the analyser names.
pub mod fsctl {
    pub const DFS_GET_REFERRALS: u32 = 0x0006_0194;
    pub const DFS_GET_REFERRALS_EX: u32 = 0x0006_01B0;
    pub const PIPE_PEEK: u32 = 0x0011_400C;
    pub const PIPE_WAIT: u32 = 0x0011_0018;
    pub const PIPE_TRANSCEIVE: u32 = 0x0011_C017;
    pub const SRV_COPYCHUNK: u32 = 0x0014_40F2;
    pub const SRV_COPYCHUNK_WRITE: u32 = 0x0014_80F2;
    pub const SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    pub const SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    pub const SRV_READ_HASH: u32 = 0x0014_41BB;
    pub const LMR_REQUEST_RESILIENCY: u32 = 0x0014_01D4;
    pub const QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01FC;
    pub const VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
    pub const SET_REPARSE_POINT: u32 = 0x0009_00A4;
    pub const GET_REPARSE_POINT: u32 = 0x0009_00A8;
    pub const SET_SPARSE: u32 = 0x0009_00C4;
    pub const SET_ZERO_DATA: u32 = 0x0009_80C8;
    pub const QUERY_ALLOCATED_RANGES: u32 = 0x0009_40CF;
    pub const FILE_LEVEL_TRIM: u32 = 0x0009_8208;
    pub const OFFLOAD_READ: u32 = 0x0009_4264;
    pub const OFFLOAD_WRITE: u32 = 0x0009_8268;
    pub const DUPLICATE_EXTENTS_TO_FILE: u32 = 0x0009_8344;
    pub const SET_INTEGRITY_INFORMATION: u32 = 0x0009_C280;
    pub const QUERY_SHARED_VIRTUAL_DISK_SUPPORT: u32 = 0x0009_0300;
    pub const SVHDX_SYNC_TUNNEL_REQUEST: u32 = 0x0009_0304;
    pub const SVHDX_ASYNC_TUNNEL_REQUEST: u32 = 0x0009_0364;
}

/// Name of an FSCTL code ("FSCTL_0x........" style names are left to callers: `None`).
pub fn fsctl_name(code: u32) -> Option<&'static str> {
    use fsctl::*;
    Some(match code {
        DFS_GET_REFERRALS => "FSCTL_DFS_GET_REFERRALS",
        DFS_GET_REFERRALS_EX => "FSCTL_DFS_GET_REFERRALS_EX",
        PIPE_PEEK => "FSCTL_PIPE_PEEK",
        PIPE_WAIT => "FSCTL_PIPE_WAIT",
        PIPE_TRANSCEIVE => "FSCTL_PIPE_TRANSCEIVE",
        SRV_COPYCHUNK => "FSCTL_SRV_COPYCHUNK",
        SRV_COPYCHUNK_WRITE => "FSCTL_SRV_COPYCHUNK_WRITE",
        SRV_ENUMERATE_SNAPSHOTS => "FSCTL_SRV_ENUMERATE_SNAPSHOTS",
        SRV_REQUEST_RESUME_KEY => "FSCTL_SRV_REQUEST_RESUME_KEY",
        SRV_READ_HASH => "FSCTL_SRV_READ_HASH",
        LMR_REQUEST_RESILIENCY => "FSCTL_LMR_REQUEST_RESILIENCY",
        QUERY_NETWORK_INTERFACE_INFO => "FSCTL_QUERY_NETWORK_INTERFACE_INFO",
        VALIDATE_NEGOTIATE_INFO => "FSCTL_VALIDATE_NEGOTIATE_INFO",
        SET_REPARSE_POINT => "FSCTL_SET_REPARSE_POINT",
        GET_REPARSE_POINT => "FSCTL_GET_REPARSE_POINT",
        SET_SPARSE => "FSCTL_SET_SPARSE",
        SET_ZERO_DATA => "FSCTL_SET_ZERO_DATA",
        QUERY_ALLOCATED_RANGES => "FSCTL_QUERY_ALLOCATED_RANGES",
        FILE_LEVEL_TRIM => "FSCTL_FILE_LEVEL_TRIM",
        OFFLOAD_READ => "FSCTL_OFFLOAD_READ",
        OFFLOAD_WRITE => "FSCTL_OFFLOAD_WRITE",
        DUPLICATE_EXTENTS_TO_FILE => "FSCTL_DUPLICATE_EXTENTS_TO_FILE",
        SET_INTEGRITY_INFORMATION => "FSCTL_SET_INTEGRITY_INFORMATION",
        QUERY_SHARED_VIRTUAL_DISK_SUPPORT => "FSCTL_QUERY_SHARED_VIRTUAL_DISK_SUPPORT",
        SVHDX_SYNC_TUNNEL_REQUEST => "FSCTL_SVHDX_SYNC_TUNNEL_REQUEST",
        SVHDX_ASYNC_TUNNEL_REQUEST => "FSCTL_SVHDX_ASYNC_TUNNEL_REQUEST",
        _ => return None,
    })
}

/// File name suffixes of Hyper-V VM storage and state files.
const VM_SUFFIXES: [&str; 7] = [
    ".vhd", ".vhdx", ".avhd", ".avhdx", ".vmrs", ".vmgs", ".vmcx",
];

/// Whether a file name is Hyper-V VM storage/state (case-insensitive suffix match).
pub fn is_vm_storage(name: &str) -> bool {
    let name = name.trim_end_matches('\0').as_bytes();
    VM_SUFFIXES.iter().any(|s| {
        name.len() >= s.len() && name[name.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
    })
}
