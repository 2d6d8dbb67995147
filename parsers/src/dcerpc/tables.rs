//! Bounded per-connection bookkeeping: presentation contexts (context id ->
//! interface), outstanding calls (call id -> opnum) and fragment reassembly.
//! Small linear tables: a connection has a handful of contexts and calls.

use super::uuid::{Uuid, known};
use super::wire::PacketType;

/// Bound contexts kept per connection.
pub const MAX_CONTEXTS: usize = 32;
/// Outstanding calls remembered per connection (oldest evicted).
pub const MAX_CALLS: usize = 64;
/// Calls being reassembled at once per connection.
pub const MAX_REASM: usize = 8;
/// Stub bytes buffered for reassembly per connection, all calls together.
pub const MAX_REASM_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    pub id: u16,
    pub interface: Uuid,
    pub version: u16,
    /// The transfer syntax is NDR64 (else NDR 2.0).
    pub ndr64: bool,
}

/// Context id -> interface, accepted and offered-but-not-yet-acknowledged.
#[derive(Debug, Default, Clone)]
pub struct Contexts {
    bound: Vec<Ctx>,
    offered: Vec<Ctx>,
}

impl Contexts {
    /// A bind / alter_context offered these (replaces the previous offer).
    pub fn offer(&mut self, ctxs: impl Iterator<Item = Ctx>) {
        self.offered.clear();
        self.offered.extend(ctxs.take(MAX_CONTEXTS));
    }

    /// The ack's results (result, accepted transfer syntax), positionally
    /// matching the offer. Returns (accepted, rejected).
    pub fn acknowledge(&mut self, results: impl Iterator<Item = (u16, Uuid)>) -> (u16, u16) {
        let (mut acc, mut rej) = (0u16, 0u16);
        let offered = std::mem::take(&mut self.offered);
        for (ctx, (result, transfer)) in offered.iter().zip(results) {
            match result {
                0 => {
                    acc = acc.saturating_add(1);
                    self.bind(Ctx {
                        ndr64: transfer == known::NDR64,
                        ..*ctx
                    });
                }
                // user / provider rejection; 3 (negotiate_ack, bind time
                // feature negotiation) is neither.
                1 | 2 => rej = rej.saturating_add(1),
                _ => {}
            }
        }
        (acc, rej)
    }

    fn bind(&mut self, ctx: Ctx) {
        if let Some(c) = self.bound.iter_mut().find(|c| c.id == ctx.id) {
            *c = ctx;
        } else {
            if self.bound.len() >= MAX_CONTEXTS {
                self.bound.remove(0);
            }
            self.bound.push(ctx);
        }
    }

    /// The context behind an id: accepted first, then still offered.
    pub fn lookup(&self, id: u16) -> Option<Ctx> {
        self.bound
            .iter()
            .chain(self.offered.iter())
            .find(|c| c.id == id)
            .copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub call_id: u32,
    pub opnum: u16,
    pub interface: Option<Uuid>,
    pub ndr64: bool,
}

/// Outstanding calls (requests without a response yet).
#[derive(Debug, Default, Clone)]
pub struct Calls(Vec<Call>);

impl Calls {
    pub fn insert(&mut self, call: Call) {
        if let Some(c) = self.0.iter_mut().find(|c| c.call_id == call.call_id) {
            *c = call;
            return;
        }
        if self.0.len() >= MAX_CALLS {
            self.0.remove(0);
        }
        self.0.push(call);
    }
    pub fn get(&self, call_id: u32) -> Option<Call> {
        self.0.iter().find(|c| c.call_id == call_id).copied()
    }
    pub fn remove(&mut self, call_id: u32) {
        self.0.retain(|c| c.call_id != call_id);
    }
}

/// What identifies and describes a fragmented call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallMeta {
    pub dir: usize,
    pub call_id: u32,
    pub ptype: PacketType,
    pub context_id: u16,
    pub opnum: u16,
    pub auth_level: Option<u8>,
    pub little_endian: bool,
    pub ndr64: bool,
}

/// One call being reassembled.
#[derive(Debug, Clone)]
pub struct Reasm {
    pub meta: CallMeta,
    pub fragments: u32,
    /// Stub bytes seen (kept counting after the data was given up).
    pub stub_len: u64,
    pub data: Vec<u8>,
    /// Data given up (budget exceeded): still counted, not decoded.
    pub overflowed: bool,
}

/// Reassembly slots with a shared byte budget.
#[derive(Debug, Default, Clone)]
pub struct Reassembly {
    slots: Vec<Reasm>,
    buffered: usize,
}

/// What appending a fragment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Append {
    Stored,
    /// This fragment made the call exceed the budget: its data was dropped.
    Overflowed,
    /// No call of that id is being reassembled in this direction.
    Orphan,
}

impl Reassembly {
    /// Starts a call with its first fragment; `false` when every slot is
    /// taken (the call is not reassembled).
    pub fn start(&mut self, meta: CallMeta, first: &[u8]) -> bool {
        self.remove(meta.dir, meta.call_id);
        if self.slots.len() >= MAX_REASM {
            return false;
        }
        self.slots.push(Reasm {
            meta,
            fragments: 0,
            stub_len: 0,
            data: Vec::new(),
            overflowed: false,
        });
        self.append_at(self.slots.len() - 1, first);
        true
    }

    fn append_at(&mut self, idx: usize, stub: &[u8]) -> Append {
        let Some(slot) = self.slots.get_mut(idx) else {
            return Append::Orphan;
        };
        slot.fragments = slot.fragments.saturating_add(1);
        slot.stub_len = slot.stub_len.saturating_add(stub.len() as u64);
        if slot.overflowed {
            return Append::Stored;
        }
        if self.buffered + stub.len() > MAX_REASM_BYTES {
            self.buffered -= slot.data.len();
            slot.data = Vec::new();
            slot.overflowed = true;
            return Append::Overflowed;
        }
        slot.data.extend_from_slice(stub);
        self.buffered += stub.len();
        Append::Stored
    }

    /// Appends a middle or last fragment.
    pub fn append(&mut self, dir: usize, call_id: u32, stub: &[u8]) -> Append {
        match self.position(dir, call_id) {
            Some(i) => self.append_at(i, stub),
            None => Append::Orphan,
        }
    }

    fn position(&self, dir: usize, call_id: u32) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.meta.dir == dir && s.meta.call_id == call_id)
    }

    /// Takes a call out (after its last fragment).
    pub fn finish(&mut self, dir: usize, call_id: u32) -> Option<Reasm> {
        let i = self.position(dir, call_id)?;
        let r = self.slots.remove(i);
        self.buffered -= r.data.len();
        Some(r)
    }

    pub fn remove(&mut self, dir: usize, call_id: u32) -> bool {
        self.finish(dir, call_id).is_some()
    }

    /// Drops every call of a direction (after a gap); returns how many.
    pub fn drop_dir(&mut self, dir: usize) -> usize {
        let before = self.slots.len();
        let mut freed = 0;
        self.slots.retain(|s| {
            let keep = s.meta.dir != dir;
            if !keep {
                freed += s.data.len();
            }
            keep
        });
        self.buffered -= freed;
        before - self.slots.len()
    }

    pub fn buffered(&self) -> usize {
        self.buffered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(call_id: u32) -> CallMeta {
        CallMeta {
            dir: 0,
            call_id,
            ptype: PacketType::Request,
            context_id: 0,
            opnum: 1,
            auth_level: None,
            little_endian: true,
            ndr64: false,
        }
    }

    #[test]
    fn budget_and_slots() {
        let mut r = Reassembly::default();
        assert!(r.start(meta(1), &[1, 2, 3]));
        assert_eq!(r.append(0, 1, &[4]), Append::Stored);
        assert_eq!(r.append(1, 1, &[4]), Append::Orphan);
        let big = vec![0u8; MAX_REASM_BYTES];
        assert_eq!(r.append(0, 1, &big), Append::Overflowed);
        assert_eq!(r.buffered(), 0);
        assert_eq!(r.append(0, 1, &[5]), Append::Stored);
        let done = r.finish(0, 1).unwrap();
        assert!(done.overflowed);
        assert_eq!(done.fragments, 4);
        assert_eq!(done.stub_len, 4 + MAX_REASM_BYTES as u64 + 1);
        for i in 0..MAX_REASM as u32 {
            assert!(r.start(meta(10 + i), &[0; 10]));
        }
        assert!(!r.start(meta(99), &[]));
        assert_eq!(r.buffered(), 10 * MAX_REASM);
        assert_eq!(r.drop_dir(0), MAX_REASM);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn contexts_ack_positional() {
        let mut c = Contexts::default();
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        c.offer(
            [
                Ctx {
                    id: 0,
                    interface: a,
                    version: 1,
                    ndr64: false,
                },
                Ctx {
                    id: 1,
                    interface: b,
                    version: 1,
                    ndr64: false,
                },
            ]
            .into_iter(),
        );
        assert_eq!(c.lookup(1).map(|c| c.interface), Some(b));
        assert_eq!(
            c.acknowledge([(2u16, Uuid::NIL), (0, known::NDR64)].into_iter()),
            (1, 1)
        );
        assert_eq!(c.lookup(0), None);
        assert_eq!(c.lookup(1).map(|c| (c.interface, c.ndr64)), Some((b, true)));
    }
}
