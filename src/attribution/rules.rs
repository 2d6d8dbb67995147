//! The attribution rules: which role a group of packets (one service between
//! two addresses on one interface) plays, and why. Pure functions over what the
//! decoders saw and what the topology (inventory + inference) knows.
//!
//! Order matters and follows DOMAIN.md: cluster ports first, then live
//! migration, then SMB by who talks to whom, then storage transports, then
//! management protocols; everything else is `other` with the port named.

use std::net::IpAddr;

use hvsleuth_reports::Role;

/// Transport of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    /// IP fragments without a transport header, other IP protocols.
    OtherIp,
    /// ARP, LLDP and other non-IP frames.
    NonIp,
}

/// What the application-layer decoders learnt about a group's connections.
#[derive(Debug, Clone, Default)]
pub struct AppFacts {
    /// SMB2/3 was seen on the connection(s).
    pub smb: bool,
    /// Share names (last path component, lower case) tree-connected.
    pub shares: Vec<String>,
    /// A tree connect response had SCALEOUT or CLUSTER capability.
    pub scaleout: bool,
    /// Bytes seen in SMB encryption transform headers.
    pub encrypted_bytes: u64,
    /// DCE/RPC was seen; the interface UUIDs bound.
    pub rpc_interfaces: Vec<String>,
    /// The SMB Witness interface was bound.
    pub witness: bool,
}

/// What the topology can say about addresses (inventory first, inference second).
pub trait Topology {
    /// The address belongs to a cluster node.
    fn is_node(&self, ip: IpAddr) -> bool;
    /// The address is a SOFS / scale-out file server access point.
    fn is_sofs(&self, ip: IpAddr) -> bool;
    /// Share names used for SMB live migration.
    fn is_lm_share(&self, share: &str) -> bool;
}

/// One group to classify.
#[derive(Debug, Clone)]
pub struct GroupView<'a> {
    pub proto: Proto,
    pub client: Option<IpAddr>,
    pub server: Option<IpAddr>,
    /// The service port (the server's); 0 when not applicable.
    pub port: u16,
    pub bytes: u64,
    /// Seconds the group was active (for rates).
    pub active_s: f64,
    pub app: &'a AppFacts,
}

/// Heartbeats are ~134-byte frames once a second per peer and network: a UDP
/// 3343 group far above that carries tunnelled cluster traffic (NetFT), which
/// CSV redirected IO may use. 64 KB/s average is ~500x the heartbeat rate.
pub const NETFT_BULK_BYTES_PER_S: f64 = 64_000.0;

const MANAGEMENT_TCP: &[(u16, &str)] = &[
    (3389, "RDP"),
    (5985, "WinRM (HTTP)"),
    (5986, "WinRM (HTTPS)"),
    (22, "SSH"),
    (53, "DNS"),
    (88, "Kerberos"),
    (389, "LDAP"),
    (636, "LDAPS"),
    (3268, "Global Catalog"),
    (3269, "Global Catalog (TLS)"),
    (464, "Kerberos password"),
    (135, "RPC endpoint mapper"),
    (80, "HTTP"),
    (443, "HTTPS"),
    (8530, "WSUS"),
    (8531, "WSUS (TLS)"),
];

const MANAGEMENT_UDP: &[(u16, &str)] = &[
    (3389, "RDP (UDP transport)"),
    (53, "DNS"),
    (88, "Kerberos"),
    (389, "CLDAP"),
    (464, "Kerberos password"),
    (123, "NTP"),
    (137, "NetBIOS name service"),
    (138, "NetBIOS datagram"),
    (161, "SNMP"),
    (162, "SNMP trap"),
    (67, "DHCP"),
    (68, "DHCP"),
    (546, "DHCPv6"),
    (547, "DHCPv6"),
    (5355, "LLMNR"),
    (5353, "mDNS"),
];

/// Administrative shares: SMB sessions that only touch these are management.
const ADMIN_SHARES: &[&str] = &["admin$", "c$", "ipc$", "d$", "e$"];

/// Classifies a group. Returns the role and a human reason.
pub fn classify(g: &GroupView<'_>, topo: &dyn Topology) -> (Role, String) {
    let node = |ip: Option<IpAddr>| ip.is_some_and(|i| topo.is_node(i));
    let node_to_node = node(g.client) && node(g.server);
    match (g.proto, g.port) {
        (Proto::NonIp, _) => return (Role::Other, "non-IP frames (ARP, LLDP, ...)".into()),
        (Proto::Icmp, 1) => return (Role::Management, "ICMP echo (ping)".into()),
        (Proto::Icmp, _) => {
            return (
                Role::Other,
                "ICMP / ICMPv6 control (neighbour discovery, MLD, errors)".into(),
            );
        }
        (Proto::OtherIp, _) => return (Role::Other, "IP fragments or other IP protocols".into()),
        (Proto::Udp, 3343) => {
            let rate = g.bytes as f64 / g.active_s.max(1.0);
            if rate > NETFT_BULK_BYTES_PER_S {
                return (
                    Role::RedirectedIo,
                    format!(
                        "UDP 3343 at {:.0} KB/s, far above heartbeat rate: NetFT-tunnelled cluster traffic (CSV redirected IO)",
                        rate / 1000.0
                    ),
                );
            }
            return (Role::Cluster, "UDP 3343: cluster heartbeats (NetFT)".into());
        }
        (Proto::Tcp, 3343) => return (Role::Cluster, "TCP 3343: cluster service".into()),
        (Proto::Tcp, 6600) => {
            return (
                Role::LiveMigration,
                "TCP 6600: live migration (TCP/Compression transport)".into(),
            );
        }
        (Proto::Tcp, 3260) => return (Role::Storage, "TCP 3260: iSCSI".into()),
        (Proto::Tcp, 5445) => {
            return if node_to_node {
                (
                    Role::RedirectedIo,
                    "TCP 5445 node-to-node: SMB Direct (iWARP) between cluster nodes".into(),
                )
            } else {
                (Role::Storage, "TCP 5445: SMB Direct (iWARP)".into())
            };
        }
        (Proto::Udp, 4791) => {
            return if node_to_node {
                (
                    Role::RedirectedIo,
                    "UDP 4791 node-to-node: RoCE v2 between cluster nodes".into(),
                )
            } else {
                (Role::Storage, "UDP 4791: RoCE v2 (SMB Direct)".into())
            };
        }
        _ => {}
    }
    if g.app.smb || (g.proto == Proto::Tcp && matches!(g.port, 445 | 139)) {
        return classify_smb(g, topo, node_to_node);
    }
    if g.app.witness {
        return (
            Role::Storage,
            "SMB Witness (DCE/RPC): SOFS client registration".into(),
        );
    }
    if g.proto == Proto::Tcp && g.port == 135 && node_to_node {
        return (Role::Cluster, "TCP 135 node-to-node: cluster RPC".into());
    }
    let table = if g.proto == Proto::Tcp {
        MANAGEMENT_TCP
    } else {
        MANAGEMENT_UDP
    };
    if let Some((_, name)) = table.iter().find(|(p, _)| *p == g.port) {
        let proto = if g.proto == Proto::Tcp { "TCP" } else { "UDP" };
        return (Role::Management, format!("{proto} {}: {name}", g.port));
    }
    if !g.app.rpc_interfaces.is_empty() {
        return if node_to_node {
            (Role::Cluster, "DCE/RPC between cluster nodes".into())
        } else {
            (Role::Management, "DCE/RPC (dynamic port)".into())
        };
    }
    let proto = if g.proto == Proto::Tcp { "TCP" } else { "UDP" };
    (Role::Other, format!("{proto} {}: no rule matches", g.port))
}

fn classify_smb(g: &GroupView<'_>, topo: &dyn Topology, node_to_node: bool) -> (Role, String) {
    let shares = &g.app.shares;
    if shares.iter().any(|s| topo.is_lm_share(s)) {
        return (
            Role::LiveMigration,
            format!("SMB to live-migration share {}", shares.join(", ")),
        );
    }
    if !shares.is_empty() && shares.iter().all(|s| ADMIN_SHARES.contains(&s.as_str())) {
        return (
            Role::Management,
            format!("SMB to administrative shares only ({})", shares.join(", ")),
        );
    }
    if node_to_node {
        return (
            Role::RedirectedIo,
            "SMB 3 between cluster nodes: CSV redirected IO".into(),
        );
    }
    if g.app.scaleout || g.server.is_some_and(|s| topo.is_sofs(s)) {
        return (
            Role::Storage,
            "SMB 3 to a scale-out file server (SOFS)".into(),
        );
    }
    (Role::Storage, "SMB to a file server".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T;
    impl Topology for T {
        fn is_node(&self, ip: IpAddr) -> bool {
            matches!(ip, IpAddr::V4(a) if a.octets()[3] < 20)
        }
        fn is_sofs(&self, ip: IpAddr) -> bool {
            ip == IpAddr::from([10, 0, 0, 50])
        }
        fn is_lm_share(&self, s: &str) -> bool {
            s == "vmms-lm"
        }
    }

    fn g(proto: Proto, c: [u8; 4], s: [u8; 4], port: u16, app: &AppFacts) -> GroupView<'_> {
        GroupView {
            proto,
            client: Some(c.into()),
            server: Some(s.into()),
            port,
            bytes: 1000,
            active_s: 10.0,
            app,
        }
    }

    #[test]
    fn rules() {
        let none = AppFacts::default();
        let n1 = [10, 0, 0, 11];
        let n2 = [10, 0, 0, 12];
        let host = [10, 0, 0, 100];
        assert_eq!(
            classify(&g(Proto::Tcp, n1, n2, 445, &none), &T).0,
            Role::RedirectedIo
        );
        assert_eq!(
            classify(&g(Proto::Tcp, host, n2, 445, &none), &T).0,
            Role::Storage
        );
        assert_eq!(
            classify(&g(Proto::Tcp, n1, n2, 6600, &none), &T).0,
            Role::LiveMigration
        );
        assert_eq!(
            classify(&g(Proto::Udp, n1, n2, 3343, &none), &T).0,
            Role::Cluster
        );
        assert_eq!(
            classify(&g(Proto::Tcp, host, n1, 3389, &none), &T).0,
            Role::Management
        );
        assert_eq!(
            classify(&g(Proto::Tcp, host, n1, 5985, &none), &T).0,
            Role::Management
        );
        assert_eq!(
            classify(&g(Proto::Tcp, host, n1, 3260, &none), &T).0,
            Role::Storage
        );
        assert_eq!(
            classify(&g(Proto::Tcp, host, n1, 12345, &none), &T).0,
            Role::Other
        );
        let lm = AppFacts {
            smb: true,
            shares: vec!["vmms-lm".into()],
            ..AppFacts::default()
        };
        assert_eq!(
            classify(&g(Proto::Tcp, n1, n2, 445, &lm), &T).0,
            Role::LiveMigration
        );
        let admin = AppFacts {
            smb: true,
            shares: vec!["ipc$".into(), "admin$".into()],
            ..AppFacts::default()
        };
        assert_eq!(
            classify(&g(Proto::Tcp, host, n1, 445, &admin), &T).0,
            Role::Management
        );
        let mut bulk = g(Proto::Udp, n1, n2, 3343, &none);
        bulk.bytes = 100_000_000;
        assert_eq!(classify(&bulk, &T).0, Role::RedirectedIo);
        let sofs = AppFacts {
            smb: true,
            scaleout: true,
            ..AppFacts::default()
        };
        let (r, why) = classify(&g(Proto::Tcp, host, n2, 445, &sofs), &T);
        assert_eq!(r, Role::Storage);
        assert!(why.contains("SOFS"));
    }
}
