//! Test-only stand-in for the TCP reassembler: reads a capture, decodes each
//! frame and feeds TCP payloads of SMB ports (445, 139) in capture order to
//! an [`SmbConnState`] per connection, trimming retransmitted bytes by
//! sequence number and reporting holes and snaplen cuts as gaps. Replace
//! with the real reassembler once it lands.

use std::collections::HashMap;

use crate::capture::{InterfaceInfo, Packet, PacketSink, read_capture};
use crate::decode::{Transport, decode, tcp_flags};
use crate::flow::{ConvKey, Endpoint, L4Proto};

use super::events::{SmbEvent, SmbSink};
use super::model::{ChannelId, ChannelInfo, SmbModel};
use super::stream::{SmbConnState, SmbStats};

/// Forwards events to the model and keeps a copy for assertions.
struct ModelSink<'a> {
    model: &'a mut SmbModel,
    ch: ChannelId,
    events: &'a mut Vec<SmbEvent>,
}

impl SmbSink for ModelSink<'_> {
    fn event(&mut self, ev: &SmbEvent) {
        self.model.ingest_on(self.ch, ev);
        self.events.push(ev.clone());
    }
}

struct Conn {
    state: SmbConnState,
    ch: ChannelId,
    next_seq: [Option<u32>; 2],
    /// Bytes still to withhold at the start of each direction (simulated mid-stream start).
    withhold: [u64; 2],
}

/// How to distort the streams (to exercise resynchronisation on real data).
#[derive(Clone, Default)]
pub struct Opts {
    /// Keys to decrypt with.
    pub keys: Option<std::sync::Arc<super::crypto::KeyRing>>,
    /// Feed only frames numbered (from 1) at least this (a capture cut after SESSION_SETUP).
    pub from_frame: u64,
    /// Withhold the first `n` payload bytes of each direction and report them as a gap,
    /// as a reassembler does for a capture that starts mid-stream.
    pub drop_prefix: u64,
}

/// What a run produced.
pub struct Run {
    pub model: SmbModel,
    pub events: Vec<SmbEvent>,
    pub conns: Vec<(ConvKey, SmbStats, Option<u16>, bool)>,
}

struct Harness {
    name: String,
    ifaces: Vec<String>,
    model: SmbModel,
    conns: HashMap<ConvKey, Conn>,
    order: Vec<ConvKey>,
    events: Vec<SmbEvent>,
    opts: Opts,
    frame: u64,
}

impl PacketSink for Harness {
    fn interface(&mut self, info: &InterfaceInfo) {
        self.ifaces.push(info.name.clone());
    }
    fn packet(&mut self, pkt: &Packet<'_>) {
        self.frame += 1;
        if self.frame < self.opts.from_frame {
            return;
        }
        let d = decode(pkt.link_type, pkt.data);
        let (Some(src), Some(dst), Transport::Tcp(t)) = (d.src, d.dst, d.transport) else {
            return;
        };
        let smb_port = |p: u16| p == 445 || p == 139;
        if !smb_port(t.src_port) && !smb_port(t.dst_port) {
            return;
        }
        let s = Endpoint {
            ip: src,
            port: t.src_port,
        };
        let r = Endpoint {
            ip: dst,
            port: t.dst_port,
        };
        let (key, dir) = ConvKey::new(L4Proto::Tcp, s, r);
        let conn = match self.conns.get_mut(&key) {
            Some(c) => c,
            None => {
                let (client, server) = if smb_port(t.dst_port) { (s, r) } else { (r, s) };
                let iface = self
                    .ifaces
                    .get(pkt.iface as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("if{}", pkt.iface));
                let ch = self.model.channel_id(&ChannelInfo {
                    client,
                    server,
                    capture: self.name.clone(),
                    interface: iface,
                });
                self.order.push(key);
                self.conns.entry(key).or_insert(Conn {
                    state: SmbConnState::with_keys(self.opts.keys.as_ref()),
                    ch,
                    next_seq: [None; 2],
                    withhold: [self.opts.drop_prefix; 2],
                })
            }
        };
        let i = dir.index();
        let mut seq = t.seq;
        if t.has(tcp_flags::SYN) {
            seq = seq.wrapping_add(1);
            conn.next_seq[i] = Some(seq);
        }
        let total = t.payload.len() as u32 + t.missing;
        if total == 0 {
            return;
        }
        let mut payload = t.payload;
        let mut missing = t.missing;
        if let Some(exp) = conn.next_seq[i] {
            let delta = seq.wrapping_sub(exp) as i32;
            if delta < 0 {
                // Retransmitted bytes: keep only what is new.
                let old = delta.unsigned_abs();
                if old >= total {
                    return;
                }
                let cut = (old as usize).min(payload.len());
                payload = &payload[cut..];
                missing -= old - cut as u32;
                seq = exp;
            } else if delta > 0 {
                let mut sink = ModelSink {
                    model: &mut self.model,
                    ch: conn.ch,
                    events: &mut self.events,
                };
                conn.state.gap(dir, delta as u64, pkt.ts_ns, &mut sink);
            }
        }
        conn.next_seq[i] = Some(seq.wrapping_add(payload.len() as u32 + missing));
        let mut sink = ModelSink {
            model: &mut self.model,
            ch: conn.ch,
            events: &mut self.events,
        };
        if conn.withhold[i] > 0 {
            let w = conn.withhold[i].min(payload.len() as u64);
            conn.withhold[i] -= w;
            payload = &payload[w as usize..];
            conn.state.gap(dir, w, pkt.ts_ns, &mut sink);
        }
        conn.state.data(dir, pkt.ts_ns, payload, &mut sink);
        if missing > 0 {
            conn.state
                .gap(dir, u64::from(missing), pkt.ts_ns, &mut sink);
        }
    }
}

/// Runs one corpus capture (path relative to the corpus root).
pub fn run(rel: &str) -> Run {
    run_with(rel, Opts::default())
}

/// Runs one corpus capture with distortions.
pub fn run_with(rel: &str, opts: Opts) -> Run {
    let path = if rel.starts_with("samples/") {
        format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
    } else {
        format!("{}/../../shared/corpus/{rel}", env!("CARGO_MANIFEST_DIR"))
    };
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut h = Harness {
        name: rel.to_string(),
        ifaces: Vec::new(),
        model: SmbModel::new(),
        conns: HashMap::new(),
        order: Vec::new(),
        events: Vec::new(),
        opts,
        frame: 0,
    };
    let rep = read_capture(f, "eth0", &mut h);
    assert!(rep.error.is_none(), "{rel}: {:?}", rep.error);
    let conns = h
        .order
        .iter()
        .map(|k| {
            let c = &h.conns[k];
            (*k, *c.state.stats(), c.state.dialect(), c.state.is_smb())
        })
        .collect();
    Run {
        model: h.model,
        events: h.events,
        conns,
    }
}
