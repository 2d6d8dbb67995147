//! Zero-copy views of bind / alter_context (offered presentation contexts)
//! and bind_ack / alter_context_resp (positional results).

use nom::IResult;
use nom::Parser;
use nom::number::complete::{u8 as nu8, u16 as nu16};

use super::super::uuid::Uuid;
use super::{NomErr, endian, syntax};

/// One presentation context offered in a bind / alter_context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PresContext {
    pub context_id: u16,
    /// The interface (abstract syntax).
    pub interface: Uuid,
    pub version: u16,
    pub version_minor: u16,
    /// Number of transfer syntaxes offered.
    pub n_transfer: u8,
    /// First transfer syntax offered (usually NDR or NDR64), if any.
    pub transfer: Option<Uuid>,
}

/// bind / alter_context body: a zero-copy view over the context list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind<'a> {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group: u32,
    pub n_contexts: u8,
    pub(super) list: &'a [u8],
    pub(super) little_endian: bool,
}

impl<'a> Bind<'a> {
    /// The offered contexts; stops early at a truncated element.
    pub fn contexts(&self) -> ContextIter<'a> {
        ContextIter {
            rest: self.list,
            left: self.n_contexts,
            little_endian: self.little_endian,
        }
    }
}

/// Iterator over `p_cont_elem_t` entries.
#[derive(Debug, Clone)]
pub struct ContextIter<'a> {
    rest: &'a [u8],
    left: u8,
    little_endian: bool,
}

impl Iterator for ContextIter<'_> {
    type Item = PresContext;
    fn next(&mut self) -> Option<PresContext> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let e = endian(self.little_endian);
        let r: IResult<&[u8], _, NomErr<'_>> =
            (nu16(e), nu8, nu8, syntax(self.little_endian)).parse(self.rest);
        let Ok((rest, (context_id, n_transfer, _, (interface, version, version_minor)))) = r else {
            self.left = 0;
            return None;
        };
        let tlen = usize::from(n_transfer) * 20;
        let Some(transfers) = rest.get(..tlen) else {
            self.left = 0;
            return None;
        };
        let transfer = Uuid::from_wire_slice(transfers, self.little_endian);
        self.rest = &rest[tlen..];
        Some(PresContext {
            context_id,
            interface,
            version,
            version_minor,
            n_transfer,
            transfer,
        })
    }
}

/// One entry of a bind_ack's result list (positional: the i-th result answers
/// the i-th offered context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ContextResult {
    /// 0 acceptance, 1 user rejection, 2 provider rejection, 3 negotiate_ack.
    pub result: u16,
    pub reason: u16,
    pub transfer: Uuid,
}

/// bind_ack / alter_context_resp body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindAck<'a> {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group: u32,
    /// Secondary address (e.g. the server port as an ASCII string, NUL included).
    pub sec_addr: &'a [u8],
    pub n_results: u8,
    pub(super) list: &'a [u8],
    pub(super) little_endian: bool,
}

impl<'a> BindAck<'a> {
    pub fn results(&self) -> ResultIter<'a> {
        ResultIter {
            rest: self.list,
            left: self.n_results,
            little_endian: self.little_endian,
        }
    }
}

/// Iterator over `p_result_t` entries.
#[derive(Debug, Clone)]
pub struct ResultIter<'a> {
    rest: &'a [u8],
    left: u8,
    little_endian: bool,
}

impl Iterator for ResultIter<'_> {
    type Item = ContextResult;
    fn next(&mut self) -> Option<ContextResult> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let e = endian(self.little_endian);
        let r: IResult<&[u8], _, NomErr<'_>> =
            (nu16(e), nu16(e), syntax(self.little_endian)).parse(self.rest);
        let Ok((rest, (result, reason, (transfer, _, _)))) = r else {
            self.left = 0;
            return None;
        };
        self.rest = rest;
        Some(ContextResult {
            result,
            reason,
            transfer,
        })
    }
}
