//! SMB Witness protocol (MS-SWN) stubs: registrations (what a client asks to
//! be told about) and AsyncNotify answers (where the server tells it to go).
//!
//! Layouts (MS-SWN 2.2.2, 3.1.4; cross-checked with Samba's witness.idl and
//! Wireshark's generated packet-dcerpc-witness.c, and with tshark on our own
//! fixtures, see the tests):
//! - WitnessrGetInterfaceList (opnum 0) out: unique pointer to
//!   WITNESS_INTERFACE_LIST { NumberOfInterfaces u32, `[size_is, unique]`
//!   WITNESS_INTERFACE_INFO* }, status u32; each WITNESS_INTERFACE_INFO is a
//!   260-unit UTF-16 group name, version u32, state u16, IPv4 (4 bytes, network
//!   order), IPv6 (16 bytes), flags u32.
//! - WitnessrRegister (opnum 1) in: Version u32, NetName, IpAddress,
//!   ClientComputerName, each `[string, unique] wchar_t*` (referent id, then
//!   max_count/offset/actual_count + UTF-16 units, 4-byte aligned).
//! - WitnessrRegisterEx (opnum 4) in: Version, NetName, ShareName, IpAddress,
//!   ClientComputerName, Flags u32, KeepAliveTimeout u32.
//! - Register/RegisterEx out: context handle (20 bytes), status u32.
//! - WitnessrUnRegister (2) / WitnessrAsyncNotify (3) in: context handle.
//! - AsyncNotify out: unique pointer to RESP_ASYNC_NOTIFY { MessageType u32,
//!   Length u32, NumberOfMessages u32, `[size_is(Length), unique] byte*`
//!   MessageBuffer }, status u32. The message buffer is little-endian whatever
//!   the PDU's byte order (MS-SWN 2.2.2): RESOURCE_CHANGE { Length u32,
//!   ChangeType u32, NUL-terminated UTF-16 name } or IPADDR_INFO_LIST { Length
//!   u32, Reserved u32, IPAddrInstances u32, IPADDR_INFO { Flags u32, IPV4 (4
//!   bytes, network order), IPV6 (16 bytes, network order) }[] }.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::ndr::{Ndr, NdrError, Repr, utf16_until_nul};
use super::uuid::Uuid;

pub const OP_GET_INTERFACE_LIST: u16 = 0;
pub const OP_REGISTER: u16 = 1;
pub const OP_UNREGISTER: u16 = 2;
pub const OP_ASYNC_NOTIFY: u16 = 3;
pub const OP_REGISTER_EX: u16 = 4;

/// Witness protocol versions carried in Register/RegisterEx.
pub const VERSION_1: u32 = 0x0001_0001;
pub const VERSION_2: u32 = 0x0002_0000;

/// IPADDR_INFO flags.
pub mod ipaddr_flags {
    pub const V4: u32 = 0x01;
    pub const V6: u32 = 0x02;
    pub const ONLINE: u32 = 0x08;
    pub const OFFLINE: u32 = 0x10;
}

/// Size of one IPADDR_INFO.
const IPADDR_INFO_LEN: usize = 24;

/// WITNESS_INTERFACE_INFO flags.
pub mod interface_flags {
    pub const IPV4_VALID: u32 = 0x01;
    pub const IPV6_VALID: u32 = 0x02;
    pub const WITNESS_IF: u32 = 0x04;
}

/// Size of one WITNESS_INTERFACE_INFO: group name (260 UTF-16 units),
/// version u32, state u16 + 2 pad, IPv4 (4), IPv6 (16), flags u32.
const INTERFACE_INFO_LEN: usize = 520 + 4 + 4 + 4 + 16 + 4;

/// One WITNESS_INTERFACE_INFO from GetInterfaceList (MS-SWN 2.2.2.5): an
/// interface group (cluster node) and whether it can serve as the witness.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WitnessInterface {
    pub group_name: String,
    pub version: u32,
    /// 0 unknown, 1 available, 0xFF unavailable.
    pub state: u16,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// IPv4 valid 0x1, IPv6 valid 0x2, witness interface 0x4.
    pub flags: u32,
}

/// One witness operation seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WitnessEvent {
    pub ts_ns: i64,
    pub kind: WitnessKind,
}

/// What the operation says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WitnessKind {
    /// WitnessrRegister (v1, `share_name` None) or WitnessrRegisterEx (v2).
    Register {
        /// Version field as sent (0x00010001 or 0x00020000).
        version: u32,
        net_name: Option<String>,
        share_name: Option<String>,
        ip: Option<String>,
        client_name: Option<String>,
        /// RegisterEx only: Flags (0x1 WITNESS_REGISTER_IP_NOTIFICATION).
        flags: Option<u32>,
        /// RegisterEx only: KeepAliveTimeout in seconds.
        keep_alive_timeout: Option<u32>,
    },
    /// GetInterfaceList answer: the interface groups the client may register with.
    InterfaceList {
        interfaces: Vec<WitnessInterface>,
        status: u32,
    },
    /// Register/RegisterEx answer: the registration's context handle.
    Registered {
        context: Uuid,
        status: u32,
    },
    UnRegister {
        context: Uuid,
    },
    /// The client asks to be notified (a long-pending call).
    NotifyRequest {
        context: Uuid,
    },
    /// AsyncNotify answer.
    Notify {
        /// MessageType (1..4); kept raw so unknown types are visible.
        message_type: u32,
        messages: Vec<WitnessMessage>,
        status: u32,
    },
}

/// RESOURCE_CHANGE ChangeType (MS-SWN 2.2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceState {
    Unknown,
    Available,
    Unavailable,
    Other(u32),
}

impl ResourceState {
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => ResourceState::Unknown,
            1 => ResourceState::Available,
            0xFF => ResourceState::Unavailable,
            o => ResourceState::Other(o),
        }
    }
}

/// One IPADDR_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WitnessAddress {
    pub flags: u32,
    /// Present when IPADDR_V4 is set.
    pub ipv4: Option<Ipv4Addr>,
    /// Present when IPADDR_V6 is set.
    pub ipv6: Option<Ipv6Addr>,
}

impl WitnessAddress {
    pub fn online(&self) -> bool {
        self.flags & ipaddr_flags::ONLINE != 0
    }
    pub fn offline(&self) -> bool {
        self.flags & ipaddr_flags::OFFLINE != 0
    }
}

/// One notification in an AsyncNotify answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WitnessMessage {
    ResourceChange { name: String, change: ResourceState },
    ClientMove { addresses: Vec<WitnessAddress> },
    ShareMove { addresses: Vec<WitnessAddress> },
    IpChange { addresses: Vec<WitnessAddress> },
}

/// Decodes a witness request stub (`repr`: a `bool` for little/big-endian
/// NDR 2.0, or a [`Repr`]). `Ok(None)` for opnums without a payload we
/// report (GetInterfaceList).
pub fn decode_request(
    opnum: u16,
    stub: &[u8],
    repr: impl Into<Repr>,
) -> Result<Option<WitnessKind>, NdrError> {
    let mut r = Ndr::new(stub, repr);
    Ok(Some(match opnum {
        OP_REGISTER => {
            let version = r.u32("version")?;
            let net_name = r.unique_wstring()?;
            let ip = r.unique_wstring()?;
            let client_name = r.unique_wstring()?;
            WitnessKind::Register {
                version,
                net_name,
                share_name: None,
                ip,
                client_name,
                flags: None,
                keep_alive_timeout: None,
            }
        }
        OP_REGISTER_EX => {
            let version = r.u32("version")?;
            let net_name = r.unique_wstring()?;
            let share_name = r.unique_wstring()?;
            let ip = r.unique_wstring()?;
            let client_name = r.unique_wstring()?;
            let flags = r.u32("flags")?;
            let timeout = r.u32("keep alive timeout")?;
            WitnessKind::Register {
                version,
                net_name,
                share_name,
                ip,
                client_name,
                flags: Some(flags),
                keep_alive_timeout: Some(timeout),
            }
        }
        OP_UNREGISTER => WitnessKind::UnRegister {
            context: r.context_handle()?,
        },
        OP_ASYNC_NOTIFY => WitnessKind::NotifyRequest {
            context: r.context_handle()?,
        },
        _ => return Ok(None),
    }))
}

/// Decodes a witness response stub for the call's opnum.
pub fn decode_response(
    opnum: u16,
    stub: &[u8],
    repr: impl Into<Repr>,
) -> Result<Option<WitnessKind>, NdrError> {
    let mut r = Ndr::new(stub, repr);
    Ok(Some(match opnum {
        OP_GET_INTERFACE_LIST => {
            let mut interfaces = Vec::new();
            if r.referent()? != 0 {
                let num = r.u32("NumberOfInterfaces")?;
                if r.referent()? != 0 {
                    let max = r.count("interfaces max_count")?;
                    if max != u64::from(num) {
                        return Err(NdrError {
                            offset: r.pos(),
                            what: "interfaces size_is != NumberOfInterfaces",
                        });
                    }
                    let n = num as usize;
                    if n > r.remaining() / INTERFACE_INFO_LEN {
                        return Err(NdrError {
                            offset: r.pos(),
                            what: "interface count beyond stub",
                        });
                    }
                    interfaces.reserve(n);
                    for _ in 0..n {
                        interfaces.push(interface_info(&mut r)?);
                    }
                }
            }
            let status = r.u32("status")?;
            WitnessKind::InterfaceList { interfaces, status }
        }
        OP_REGISTER | OP_REGISTER_EX => {
            let context = r.context_handle()?;
            let status = r.u32("status")?;
            WitnessKind::Registered { context, status }
        }
        OP_ASYNC_NOTIFY => {
            let mut message_type = 0;
            let mut messages = Vec::new();
            if r.referent()? != 0 {
                message_type = r.u32("message type")?;
                let length = r.u32("length")?;
                let num = r.u32("number of messages")?;
                if r.referent()? != 0 {
                    let max = r.count("buffer max_count")?;
                    if max != u64::from(length) {
                        return Err(NdrError {
                            offset: r.pos(),
                            what: "buffer size_is != Length",
                        });
                    }
                    let n = usize::try_from(length).unwrap_or(usize::MAX);
                    let buf = r.bytes(n, "message buffer")?;
                    messages = decode_messages(message_type, num, buf)?;
                }
            }
            let status = r.u32("status")?;
            WitnessKind::Notify {
                message_type,
                messages,
                status,
            }
        }
        _ => return Ok(None),
    }))
}

/// One WITNESS_INTERFACE_INFO (addresses in network order, as Samba and
/// Wireshark read them).
fn interface_info(r: &mut Ndr<'_>) -> Result<WitnessInterface, NdrError> {
    r.align(4)?;
    let name = r.bytes(520, "group name")?;
    let group_name = utf16_until_nul(name, r.little_endian());
    let version = r.u32("version")?;
    let state = r.u16("state")?;
    r.align(4)?;
    let v4 = r.bytes(4, "ipv4")?;
    let v6 = r.bytes(16, "ipv6")?;
    let flags = r.u32("flags")?;
    let mut a6 = [0u8; 16];
    a6.copy_from_slice(v6);
    Ok(WitnessInterface {
        group_name,
        version,
        state,
        ipv4: (flags & interface_flags::IPV4_VALID != 0)
            .then_some(Ipv4Addr::new(v4[0], v4[1], v4[2], v4[3])),
        ipv6: (flags & interface_flags::IPV6_VALID != 0).then_some(Ipv6Addr::from(a6)),
        flags,
    })
}

/// Decodes `num` messages of `message_type` from a little-endian message buffer.
pub fn decode_messages(
    message_type: u32,
    num: u32,
    buf: &[u8],
) -> Result<Vec<WitnessMessage>, NdrError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    for _ in 0..num {
        let rest = buf.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            return Err(NdrError {
                offset: pos,
                what: "fewer messages than NumberOfMessages",
            });
        }
        let (msg, used) =
            decode_message(message_type, rest).map_err(|what| NdrError { offset: pos, what })?;
        out.push(msg);
        pos += used;
    }
    Ok(out)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// One message; returns it and the bytes it used.
fn decode_message(t: u32, b: &[u8]) -> Result<(WitnessMessage, usize), &'static str> {
    let len = le32(b, 0).ok_or("message length")? as usize;
    match t {
        1 => {
            if len < 8 || len > b.len() {
                return Err("RESOURCE_CHANGE length");
            }
            let change = ResourceState::from_u32(le32(b, 4).ok_or("change type")?);
            let name = utf16_until_nul(&b[8..len], true);
            Ok((WitnessMessage::ResourceChange { name, change }, len))
        }
        2..=4 => {
            let n = le32(b, 8).ok_or("IPADDR_INFO_LIST header")? as usize;
            if n > (b.len() - 12) / IPADDR_INFO_LEN {
                return Err("IPAddrInstances beyond buffer");
            }
            let natural = 12 + n * IPADDR_INFO_LEN;
            // Length should equal the natural size; accept larger (padding) if
            // it fits, fall back to the natural size otherwise.
            let used = if len >= natural && len <= b.len() {
                len
            } else {
                natural
            };
            let mut addresses = Vec::with_capacity(n);
            for e in b[12..natural].chunks_exact(IPADDR_INFO_LEN) {
                let flags = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
                let v4: [u8; 4] = [e[4], e[5], e[6], e[7]];
                let mut v6 = [0u8; 16];
                v6.copy_from_slice(&e[8..24]);
                addresses.push(WitnessAddress {
                    flags,
                    ipv4: (flags & ipaddr_flags::V4 != 0).then_some(Ipv4Addr::from(v4)),
                    ipv6: (flags & ipaddr_flags::V6 != 0).then_some(Ipv6Addr::from(v6)),
                });
            }
            let msg = match t {
                2 => WitnessMessage::ClientMove { addresses },
                3 => WitnessMessage::ShareMove { addresses },
                _ => WitnessMessage::IpChange { addresses },
            };
            Ok((msg, used))
        }
        _ => Err("unknown message type"),
    }
}

#[cfg(test)]
mod tests;
