//! Who is who: capture interfaces mapped to nodes and NICs, cluster node
//! addresses, SOFS addresses — from the inventory where it says, otherwise
//! inferred from the traffic, each inferred fact with its reason and confidence.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use serde::Serialize;

use crate::attribution::rules::{Proto, Topology};
use crate::inventory::Inventory;

use super::FileScan;

/// One capture interface, placed in the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Iface {
    /// Index into `Model::ifaces`.
    pub id: usize,
    /// Capture file name and interface index within it.
    pub capture: String,
    pub capture_index: u32,
    /// The interface's name in the capture (pcapng `if_name`, or the file name).
    pub capture_if_name: String,
    pub node: String,
    /// Interface alias (inventory) or capture interface name.
    pub interface: String,
    pub link_bps: Option<u64>,
    /// The interface's own addresses.
    pub addresses: Vec<IpAddr>,
    /// Placed by the inventory (true) or inferred (false).
    pub from_inventory: bool,
}

/// A fact the tool inferred, with why and how sure it is.
#[derive(Debug, Clone, Serialize)]
pub struct Inferred {
    pub fact: String,
    pub reason: String,
    pub confidence: f32,
}

/// Topology facts used by attribution.
#[derive(Debug, Default)]
pub struct Topo {
    pub node_addrs: BTreeSet<IpAddr>,
    pub sofs_addrs: BTreeSet<IpAddr>,
    pub lm_shares: BTreeSet<String>,
}

impl Topology for Topo {
    fn is_node(&self, ip: IpAddr) -> bool {
        self.node_addrs.contains(&ip)
    }
    fn is_sofs(&self, ip: IpAddr) -> bool {
        self.sofs_addrs.contains(&ip)
    }
    fn is_lm_share(&self, share: &str) -> bool {
        self.lm_shares.contains(&share.to_ascii_lowercase())
    }
}

fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_multicast() || a.is_broadcast() || a.is_unspecified() || a.octets()[3] == 255)
        }
        IpAddr::V6(a) => !(a.is_multicast() || a.is_unspecified()),
    }
}

/// The node name a capture file suggests: its name up to the first '.'.
fn node_from_file(name: &str) -> String {
    name.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
        .to_string()
}

/// An interface's own addresses. With Ethernet: its own MAC is the unicast
/// MAC in most frames, and its addresses are the source IPs sent from that
/// MAC (per family, the most frequent). Without MACs: per family, the unicast
/// address present in most of that family's packets, if in at least half.
fn own_addresses(
    f: &FileScan,
    iface: u32,
    seen: &HashMap<u32, HashMap<IpAddr, u64>>,
    ip_packets: &HashMap<(u32, bool), u64>,
) -> Vec<IpAddr> {
    let own_mac = f
        .scan
        .mac_frames
        .iter()
        .filter(|((i, _), _)| *i == iface)
        .max_by_key(|((_, mac), n)| (**n, std::cmp::Reverse(*mac)))
        .map(|((_, mac), _)| *mac);
    let mut own = Vec::new();
    for v6 in [false, true] {
        let by_mac = own_mac.and_then(|m| {
            f.scan
                .mac_ips
                .iter()
                .filter(|((i, mac, ip), _)| {
                    *i == iface && *mac == m && ip.is_ipv6() == v6 && is_unicast(*ip)
                })
                .max_by_key(|((_, _, ip), n)| (**n, std::cmp::Reverse(*ip)))
                .map(|((_, _, ip), _)| *ip)
        });
        let by_count = || {
            let total = ip_packets.get(&(iface, v6)).copied().unwrap_or(0);
            seen.get(&iface)?
                .iter()
                .filter(|(ip, _)| ip.is_ipv6() == v6)
                .max_by_key(|(ip, n)| (**n, std::cmp::Reverse(**ip)))
                .filter(|(_, n)| **n * 2 >= total.max(1))
                .map(|(ip, _)| *ip)
        };
        if let Some(ip) = by_mac.or_else(by_count) {
            own.push(ip);
        }
    }
    own
}

/// Places every capture interface and builds the topology.
pub fn build(files: &[FileScan], inv: Option<&Inventory>) -> (Vec<Iface>, Topo, Vec<Inferred>) {
    let mut ifaces = Vec::new();
    let mut inferred = Vec::new();
    let mut topo = Topo::default();
    if let Some(inv) = inv {
        for n in &inv.nodes {
            for i in &n.interfaces {
                topo.node_addrs.extend(i.addresses.iter().map(|a| a.addr()));
            }
        }
        for s in &inv.sofs {
            topo.sofs_addrs.extend(s.addresses.iter().copied());
        }
        topo.lm_shares.extend(
            inv.live_migration
                .smb_shares
                .iter()
                .map(|s| s.to_ascii_lowercase()),
        );
    }

    for f in files {
        // Packets per address per capture interface, for own-address inference.
        let mut seen: HashMap<u32, HashMap<IpAddr, u64>> = HashMap::new();
        // IP packets per (capture interface, is IPv6).
        let mut ip_packets: HashMap<(u32, bool), u64> = HashMap::new();
        let groups = f.scan.groups.as_ref();
        let pairs = groups
            .into_iter()
            .flat_map(|g| g.keys.iter().zip(&g.groups));
        for (k, g) in pairs {
            if matches!(k.proto, Proto::NonIp) {
                continue;
            }
            let v6 = k.client.or(k.server).is_some_and(|a| a.is_ipv6());
            *ip_packets.entry((k.iface, v6)).or_default() += g.packets;
            let m = seen.entry(k.iface).or_default();
            for ip in [k.client, k.server].into_iter().flatten() {
                if is_unicast(ip) {
                    *m.entry(ip).or_default() += g.packets;
                }
            }
            // Heartbeat peers: UDP 3343 on both sides.
            if k.proto == Proto::Udp && k.port == 3343 {
                for ip in [k.client, k.server].into_iter().flatten() {
                    if is_unicast(ip) && topo.node_addrs.insert(ip) {
                        inferred.push(Inferred {
                            fact: format!("{ip} is a cluster node address"),
                            reason: format!(
                                "exchanges UDP 3343 (cluster heartbeats) in {}",
                                f.name
                            ),
                            confidence: 0.9,
                        });
                    }
                }
            }
        }
        for info in &f.scan.interfaces {
            let mapped = inv.and_then(|inv| {
                inv.interface_for_capture(&f.name, &info.name)
                    .map(|r| (inv, r))
            });
            let id = ifaces.len();
            let iface = if let Some((inv, r)) = mapped {
                let ii = inv.interface(r);
                Iface {
                    id,
                    capture: f.name.clone(),
                    capture_index: info.index,
                    capture_if_name: info.name.clone(),
                    node: inv.node(r).name.clone(),
                    interface: ii.alias.clone(),
                    link_bps: ii.link_speed_bps.or(info.speed_bps),
                    addresses: ii.addresses.iter().map(|a| a.addr()).collect(),
                    from_inventory: true,
                }
            } else {
                let own = own_addresses(f, info.index, &seen, &ip_packets);
                let node = inv
                    .and_then(|inv| {
                        own.iter()
                            .find_map(|ip| inv.owner_of(*ip))
                            .map(|r| inv.node(r).name.clone())
                    })
                    .unwrap_or_else(|| node_from_file(&f.name));
                inferred.push(Inferred {
                    fact: format!(
                        "capture interface {:?} of {} is {}'s NIC {:?}",
                        info.name, f.name, node, info.name
                    ),
                    reason: if own.is_empty() {
                        "named after the capture file and interface".into()
                    } else {
                        format!(
                            "its own address{} {} appear{} in most of its packets",
                            if own.len() > 1 { "es" } else { "" },
                            own.iter()
                                .map(|i| i.to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                            if own.len() > 1 { "" } else { "s" }
                        )
                    },
                    confidence: if own.is_empty() { 0.3 } else { 0.7 },
                });
                Iface {
                    id,
                    capture: f.name.clone(),
                    capture_index: info.index,
                    capture_if_name: info.name.clone(),
                    node,
                    interface: info.name.clone(),
                    link_bps: info.speed_bps,
                    addresses: own,
                    from_inventory: false,
                }
            };
            ifaces.push(iface);
        }
    }
    // A node's addresses: every own address of an interface on a node that has
    // heartbeat addresses is a node address too (e.g. its management NIC).
    let hb_nodes: BTreeSet<String> = ifaces
        .iter()
        .filter(|i| i.addresses.iter().any(|a| topo.node_addrs.contains(a)))
        .map(|i| i.node.clone())
        .collect();
    let mut by_node: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for i in &ifaces {
        if hb_nodes.contains(&i.node) {
            by_node
                .entry(i.node.clone())
                .or_default()
                .extend(i.addresses.iter().copied());
        }
    }
    for (node, addrs) in by_node {
        for a in addrs {
            if topo.node_addrs.insert(a) {
                inferred.push(Inferred {
                    fact: format!("{a} is a cluster node address ({node})"),
                    reason: format!(
                        "own address of a NIC captured on {node}, which exchanges heartbeats"
                    ),
                    confidence: 0.7,
                });
            }
        }
    }
    (ifaces, topo, inferred)
}

/// Link speeds an SMB server advertised for its own interfaces
/// (FSCTL_QUERY_NETWORK_INTERFACE_INFO), for capture interfaces whose speed
/// neither the inventory nor the capture gives.
pub fn speeds_from_smb(
    ifaces: &mut [Iface],
    smb: &hvsleuth_parsers::smb::model::SmbReport,
    inferred: &mut Vec<Inferred>,
) {
    for i in ifaces.iter_mut().filter(|i| i.link_bps.is_none()) {
        let hit = smb
            .server_interfaces
            .iter()
            .flat_map(|s| &s.interfaces)
            .find(|x| {
                // `addr` is the advertised IP address (no port).
                x.link_speed_bps > 0
                    && x.addr
                        .parse::<IpAddr>()
                        .is_ok_and(|a| i.addresses.contains(&a))
            });
        if let Some(x) = hit {
            i.link_bps = Some(x.link_speed_bps);
            inferred.push(Inferred {
                fact: format!("{} / {} runs at {} b/s", i.node, i.interface, x.link_speed_bps),
                reason: "the SMB server advertised this speed for its interface (FSCTL_QUERY_NETWORK_INTERFACE_INFO)".into(),
                confidence: 0.8,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_names_from_files() {
        assert_eq!(super::node_from_file("node1.pcapng"), "node1");
        assert_eq!(super::node_from_file("HV-N2.pcap.gz"), "HV-N2");
    }
}
