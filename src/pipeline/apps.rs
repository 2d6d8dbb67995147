//! Application analysers on reassembled TCP streams: which analyser a
//! connection gets (SMB 2/3 or DCE/RPC), and the handler that feeds it and
//! folds what it learns into the connection's group facts and the SMB model.

use hvsleuth_parsers::flowtable::FastMap;
use std::net::IpAddr;

use hvsleuth_parsers::dcerpc::{self, RpcConnState, RpcEvent, RpcSink, Uuid};
use hvsleuth_parsers::flow::{Direction, Endpoint};
use hvsleuth_parsers::smb::events::{Body, SmbEvent, SmbEventKind, SmbSink};
use hvsleuth_parsers::smb::model::{ChannelId, ChannelInfo, SmbModel};
use hvsleuth_parsers::smb::stream::SmbConnState;
use hvsleuth_parsers::tcp::StreamHandler;

use crate::attribution::rules::AppFacts;

/// Most share names / RPC interfaces remembered per group.
const MAX_FACTS: usize = 16;
/// Most witness events kept per capture.
const MAX_WITNESS: usize = 100_000;

/// The analyser a TCP connection runs.
#[derive(Debug, Default)]
pub enum App {
    /// No payload seen yet.
    #[default]
    Undecided,
    /// Not a protocol we analyse.
    Off,
    Smb(Box<SmbConnState>, ChannelId),
    Rpc(Box<RpcConnState>),
}

/// What the application analysers learnt across one capture, beyond group facts.
#[derive(Debug, Default)]
pub struct AppContext {
    /// Dynamic DCE/RPC ports learnt from the endpoint mapper: (server, port) -> interface.
    pub rpc_ports: FastMap<(Option<IpAddr>, u16), Uuid>,
    /// SMB Witness operations seen (time, client endpoint, server endpoint, event).
    pub witness: Vec<(Endpoint, Endpoint, dcerpc::WitnessEvent)>,
    /// SMB 3 decryption keys shared by every connection.
    pub smb_keys: Option<std::sync::Arc<hvsleuth_parsers::smb::crypto::KeyRing>>,
}

/// Starts an SMB 2 frame: Direct TCP / NetBIOS session header then a protocol id.
fn looks_like_smb(p: &[u8]) -> bool {
    p.len() >= 8 && p[0] == 0 && matches!(p[4], 0xFC..=0xFF) && &p[5..8] == b"SMB"
}

/// Chooses the analyser from the server port and the first payload bytes.
pub fn decide(
    server: Endpoint,
    client: Endpoint,
    payload: &[u8],
    ctx: &AppContext,
    model: Option<&mut SmbModel>,
    capture: &str,
    interface: &str,
) -> App {
    let rpc_iface = ctx
        .rpc_ports
        .get(&(Some(server.ip), server.port))
        .or_else(|| ctx.rpc_ports.get(&(None, server.port)))
        .copied();
    if matches!(server.port, 445 | 139) || looks_like_smb(payload) {
        let id = model.map_or(0, |m| {
            m.channel_id(&ChannelInfo {
                client,
                server,
                capture: capture.to_string(),
                interface: interface.to_string(),
            })
        });
        return App::Smb(Box::new(SmbConnState::with_keys(ctx.smb_keys.as_ref())), id);
    }
    if let Some(uuid) = rpc_iface {
        return App::Rpc(Box::new(RpcConnState::with_default_interface(uuid)));
    }
    if server.port == 135 || dcerpc::is_dcerpc_start(payload) {
        return App::Rpc(Box::new(RpcConnState::new()));
    }
    App::Off
}

/// Feeds one connection's streams to its analyser.
pub struct AppHandler<'a> {
    pub app: &'a mut App,
    pub facts: Option<&'a mut AppFacts>,
    pub model: Option<&'a mut SmbModel>,
    pub ctx: &'a mut AppContext,
    pub client: Endpoint,
    pub server: Endpoint,
}

struct SmbFacts<'a> {
    facts: Option<&'a mut AppFacts>,
    model: Option<&'a mut SmbModel>,
    channel: ChannelId,
}

fn push_fact(list: &mut Vec<String>, v: String) {
    if list.len() < MAX_FACTS && !list.contains(&v) {
        list.push(v);
    }
}

/// The share name of a UNC path, lower case: `\\server\Share` -> `share`.
fn share_of(path: &str) -> String {
    path.trim_end_matches('\\')
        .rsplit('\\')
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase()
}

impl SmbSink for SmbFacts<'_> {
    fn event(&mut self, ev: &SmbEvent) {
        if let Some(m) = self.model.as_deref_mut() {
            m.ingest_on(self.channel, ev);
        }
        let Some(f) = self.facts.as_deref_mut() else {
            return;
        };
        f.smb = true;
        match &ev.kind {
            SmbEventKind::Pdu(p) => match &p.body {
                Body::TreeConnectRequest { path, .. } => push_fact(&mut f.shares, share_of(path)),
                Body::TreeConnectResponse {
                    capabilities, path, ..
                } => {
                    // SCALEOUT 0x20, CLUSTER 0x40 (MS-SMB2 2.2.10).
                    if capabilities & 0x60 != 0 {
                        f.scaleout = true;
                    }
                    if let Some(p) = path {
                        push_fact(&mut f.shares, share_of(p));
                    }
                }
                _ => {}
            },
            SmbEventKind::Encrypted { wire_bytes, .. } => f.encrypted_bytes += *wire_bytes as u64,
            _ => {}
        }
    }
}

struct RpcFacts<'a> {
    facts: Option<&'a mut AppFacts>,
    ctx: &'a mut AppContext,
    client: Endpoint,
    server: Endpoint,
}

impl RpcSink for RpcFacts<'_> {
    fn event(&mut self, _dir: Direction, _ts: i64, ev: RpcEvent) {
        match ev {
            RpcEvent::Bind { contexts, .. } => {
                if let Some(f) = self.facts.as_deref_mut() {
                    for c in contexts {
                        if c.interface == dcerpc::known::WITNESS {
                            f.witness = true;
                        }
                        push_fact(&mut f.rpc_interfaces, c.interface.to_string());
                    }
                }
            }
            RpcEvent::EpmMap(m) if self.ctx.rpc_ports.len() < 65_536 => {
                let ip = m.ip.map(IpAddr::V4).or(Some(self.server.ip));
                self.ctx.rpc_ports.insert((ip, m.port), m.interface);
            }
            RpcEvent::Witness(w) => {
                if let Some(f) = self.facts.as_deref_mut() {
                    f.witness = true;
                }
                if self.ctx.witness.len() < MAX_WITNESS {
                    self.ctx.witness.push((self.client, self.server, w));
                }
            }
            _ => {}
        }
    }
}

impl AppHandler<'_> {
    /// The connection is finished (end of capture or eviction): an SMB message
    /// still in progress reports what its streams carried.
    pub fn finish_smb(&mut self) {
        if let App::Smb(st, ch) = self.app {
            let mut sink = SmbFacts {
                facts: self.facts.as_deref_mut(),
                model: self.model.as_deref_mut(),
                channel: *ch,
            };
            for d in [Direction::AtoB, Direction::BtoA] {
                st.end(d, &mut sink);
            }
        }
    }
}

impl StreamHandler for AppHandler<'_> {
    fn data(&mut self, dir: Direction, ts_ns: i64, data: &[u8]) {
        match self.app {
            App::Smb(st, ch) => {
                let mut sink = SmbFacts {
                    facts: self.facts.as_deref_mut(),
                    model: self.model.as_deref_mut(),
                    channel: *ch,
                };
                st.data(dir, ts_ns, data, &mut sink);
            }
            App::Rpc(st) => {
                let mut sink = RpcFacts {
                    facts: self.facts.as_deref_mut(),
                    ctx: self.ctx,
                    client: self.client,
                    server: self.server,
                };
                st.data(dir, ts_ns, data, &mut sink);
            }
            App::Undecided | App::Off => {}
        }
    }

    fn gap(&mut self, dir: Direction, len: u64) {
        match self.app {
            App::Smb(st, ch) => {
                let ts = st.last_ts(dir);
                let mut sink = SmbFacts {
                    facts: self.facts.as_deref_mut(),
                    model: self.model.as_deref_mut(),
                    channel: *ch,
                };
                st.gap(dir, len, ts, &mut sink);
            }
            App::Rpc(st) => st.gap(dir, len),
            App::Undecided | App::Off => {}
        }
    }

    fn cut(&mut self, dir: Direction, len: u64) {
        match self.app {
            App::Smb(st, ch) => {
                let ts = st.last_ts(dir);
                let mut sink = SmbFacts {
                    facts: self.facts.as_deref_mut(),
                    model: self.model.as_deref_mut(),
                    channel: *ch,
                };
                st.cut(dir, len, ts, &mut sink);
            }
            _ => self.gap(dir, len),
        }
    }

    fn end(&mut self, dir: Direction) {
        match self.app {
            App::Smb(st, ch) => {
                let mut sink = SmbFacts {
                    facts: self.facts.as_deref_mut(),
                    model: self.model.as_deref_mut(),
                    channel: *ch,
                };
                st.end(dir, &mut sink);
            }
            App::Rpc(st) => {
                let mut sink = RpcFacts {
                    facts: self.facts.as_deref_mut(),
                    ctx: self.ctx,
                    client: self.client,
                    server: self.server,
                };
                st.end(dir, &mut sink);
            }
            App::Undecided | App::Off => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares() {
        assert_eq!(super::share_of("\\\\node1\\CSV1"), "csv1");
        assert_eq!(super::share_of("\\\\node1\\IPC$\\"), "ipc$");
        assert!(super::looks_like_smb(&[
            0, 0, 0, 64, 0xfe, b'S', b'M', b'B'
        ]));
    }
}
