//! The cluster inventory (TOML): nodes and their interfaces, networks, CSV
//! owners, SOFS names, SMB Multichannel constraints, and which capture file /
//! pcapng interface belongs to which node interface. Format: README.md and
//! the commented example in samples/inventory.toml.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// What an administrator means a network or NIC for (Network ATC-like intents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Intent {
    Management,
    /// CSV redirected IO is expected here (a cluster network chosen for CSV).
    RedirectedIo,
    Cluster,
    LiveMigration,
    Storage,
    Compute,
}

/// Windows' cluster network role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterRole {
    /// Not used by the cluster (role 0).
    None,
    /// Cluster communication only (role 1).
    ClusterOnly,
    /// Cluster and client (role 3).
    #[default]
    ClusterAndClient,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub networks: Vec<Network>,
    /// Cluster members.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Machines that are not cluster members (e.g. Hyper-V hosts using a SOFS).
    #[serde(default)]
    pub hosts: Vec<Node>,
    #[serde(default)]
    pub csv: Vec<CsvVolume>,
    #[serde(default)]
    pub sofs: Vec<Sofs>,
    /// SMB Multichannel constraints: server name -> interface aliases allowed.
    #[serde(default)]
    pub smb_constraints: std::collections::BTreeMap<String, Vec<String>>,
    /// Live migration settings.
    #[serde(default)]
    pub live_migration: LiveMigration,
    /// Finding thresholds (defaults documented in README and `hvsleuth rules`).
    #[serde(default)]
    pub thresholds: crate::findings::thresholds::Thresholds,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub name: String,
    /// One subnet, or use `subnets` for several (e.g. IPv4 and IPv6).
    #[serde(default)]
    pub subnet: Option<IpNet>,
    #[serde(default)]
    pub subnets: Vec<IpNet>,
    /// The network's IPv6 prefix, if it has one (same as listing it in `subnets`).
    #[serde(default)]
    pub ipv6_subnet: Option<IpNet>,
    #[serde(default)]
    pub cluster_role: ClusterRole,
    #[serde(default)]
    pub intended_roles: Vec<Intent>,
    /// Cluster network metric (lower is preferred for cluster/CSV traffic).
    #[serde(default)]
    pub metric: Option<u32>,
}

impl Network {
    pub fn all_subnets(&self) -> impl Iterator<Item = &IpNet> {
        self.subnet
            .iter()
            .chain(self.subnets.iter())
            .chain(self.ipv6_subnet.iter())
    }
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.all_subnets().any(|n| n.contains(&ip))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    #[serde(default)]
    pub interfaces: Vec<Interface>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// The Windows interface alias (e.g. "Management", "SMB1").
    pub alias: String,
    /// Name of the network (in `networks`) this NIC is on; else found by address.
    #[serde(default)]
    pub network: Option<String>,
    /// Addresses with prefix length, e.g. "10.10.0.11/24", "fd00:30::11/64".
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub link_speed_bps: Option<u64>,
    #[serde(default)]
    pub intended_roles: Vec<Intent>,
    #[serde(default)]
    pub rdma: Option<bool>,
    /// Where this interface's packets are in the captures.
    #[serde(default)]
    pub capture: Option<CaptureRef>,
}

/// A capture file name (a `*` matches any run of characters) and, for pcapng
/// files with several interfaces, the interface name (`if_name`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRef {
    pub file: String,
    #[serde(default)]
    pub interface: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvVolume {
    pub name: String,
    pub owner: String,
    /// SMB share name that exposes it (SOFS), if any.
    #[serde(default)]
    pub share: Option<String>,
    /// The share requires SMB encryption.
    #[serde(default)]
    pub encrypted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sofs {
    pub name: String,
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveMigration {
    /// "tcp", "compression" (both TCP 6600) or "smb".
    #[serde(default)]
    pub transport: Option<String>,
    /// Networks allowed for live migration (names of `networks`).
    #[serde(default)]
    pub networks: Vec<String>,
    /// Share names used by SMB live migration between hosts (not documented by
    /// Microsoft; set them when known).
    #[serde(default)]
    pub smb_shares: Vec<String>,
}

/// Where a capture interface sits: indexes into `nodes`/`hosts` and `interfaces`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfaceRef {
    pub member: bool,
    pub node: usize,
    pub iface: usize,
}

impl Inventory {
    /// Loads an optional inventory, printing the error for the command line.
    pub fn load_for_cli(
        path: Option<&Path>,
    ) -> std::result::Result<Option<Inventory>, crate::exit::ExitCode> {
        path.map(Inventory::load).transpose().map_err(|e| {
            eprintln!("error: {e:#}");
            crate::exit::ExitCode::Error
        })
    }

    pub fn load(path: &Path) -> Result<Inventory> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read inventory", path.display()))?;
        Self::parse(&text).with_context(|| format!("{}: invalid inventory", path.display()))
    }

    pub fn parse(text: &str) -> Result<Inventory> {
        let mut inv: Inventory = toml::from_str(text)?;
        // Given heartbeat delays override the cadence learnt from traffic.
        inv.thresholds.heartbeat_delay_given = toml::from_str::<toml::Table>(text)
            .ok()
            .and_then(|t| t.get("thresholds")?.get("heartbeat_delay_s").cloned())
            .is_some();
        inv.validate()?;
        Ok(inv)
    }

    fn validate(&self) -> Result<()> {
        let mut names = std::collections::HashSet::new();
        for n in self.nodes.iter().chain(&self.hosts) {
            if !names.insert(n.name.to_ascii_lowercase()) {
                bail!("node {:?} is listed twice", n.name);
            }
        }
        for c in &self.csv {
            if !self
                .nodes
                .iter()
                .any(|n| n.name.eq_ignore_ascii_case(&c.owner))
            {
                bail!("CSV {:?}: owner {:?} is not a node", c.name, c.owner);
            }
        }
        for n in &self.live_migration.networks {
            if !self.networks.iter().any(|x| &x.name == n) {
                bail!("live_migration.networks names unknown network {n:?}");
            }
        }
        Ok(())
    }

    fn machines(&self) -> impl Iterator<Item = (bool, usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (true, i, n))
            .chain(self.hosts.iter().enumerate().map(|(i, n)| (false, i, n)))
    }

    pub fn node(&self, r: IfaceRef) -> &Node {
        if r.member {
            &self.nodes[r.node]
        } else {
            &self.hosts[r.node]
        }
    }

    pub fn interface(&self, r: IfaceRef) -> &Interface {
        &self.node(r).interfaces[r.iface]
    }

    /// The inventory interface for a capture file's interface, if mapped.
    pub fn interface_for_capture(&self, file_name: &str, if_name: &str) -> Option<IfaceRef> {
        let mut fallback = None;
        for (member, ni, n) in self.machines() {
            for (ii, i) in n.interfaces.iter().enumerate() {
                let Some(c) = &i.capture else { continue };
                if !glob_match(&c.file, file_name) {
                    continue;
                }
                let r = IfaceRef {
                    member,
                    node: ni,
                    iface: ii,
                };
                match &c.interface {
                    Some(want) if want == if_name => return Some(r),
                    None => fallback = Some(r),
                    _ => {}
                }
            }
        }
        fallback
    }

    /// The machine (member or host) that owns address `ip`.
    pub fn owner_of(&self, ip: IpAddr) -> Option<IfaceRef> {
        for (member, ni, n) in self.machines() {
            for (ii, i) in n.interfaces.iter().enumerate() {
                if i.addresses.iter().any(|a| a.addr() == ip) {
                    return Some(IfaceRef {
                        member,
                        node: ni,
                        iface: ii,
                    });
                }
            }
        }
        None
    }

    pub fn network_of(&self, ip: IpAddr) -> Option<&Network> {
        self.networks.iter().find(|n| n.contains(ip))
    }
}

/// `*` matches any run of characters; everything else literally (case-sensitive).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
cluster = "LAB"
[[networks]]
name = "Management"
subnet = "10.10.0.0/24"
cluster_role = "cluster-and-client"
intended_roles = ["management"]
[[networks]]
name = "Cluster"
subnets = ["172.30.1.0/24", "fd00:30:1::/64"]
cluster_role = "cluster-only"
intended_roles = ["cluster", "live-migration"]

[[nodes]]
name = "node1"
[[nodes.interfaces]]
alias = "mgmt"
addresses = ["10.10.0.11/24"]
link_speed_bps = 1000000000
intended_roles = ["management"]
capture = { file = "node1*.pcapng", interface = "mgmt" }
[[nodes.interfaces]]
alias = "cluster"
addresses = ["172.30.1.11/24", "fd00:30:1::11/64"]
capture = { file = "node1*.pcapng", interface = "cluster" }

[[hosts]]
name = "host1"
[[hosts.interfaces]]
alias = "storage"
addresses = ["172.30.2.100/24"]
capture = { file = "host1.pcap" }

[[csv]]
name = "CSV1"
owner = "node1"
share = "csv1"

[[sofs]]
name = "SOFS1"
addresses = ["172.30.2.11"]

[smb_constraints]
node1 = ["cluster"]
"#;

    #[test]
    fn parses_and_looks_up() {
        let inv = Inventory::parse(EXAMPLE).unwrap();
        let r = inv
            .interface_for_capture("node1-restore.pcapng", "cluster")
            .unwrap();
        assert_eq!(inv.interface(r).alias, "cluster");
        assert!(
            inv.interface_for_capture("node1-restore.pcapng", "storage")
                .is_none()
        );
        let h = inv
            .interface_for_capture("host1.pcap", "host1.pcap")
            .unwrap();
        assert!(!h.member);
        let o = inv.owner_of("fd00:30:1::11".parse().unwrap()).unwrap();
        assert_eq!(inv.node(o).name, "node1");
        assert_eq!(
            inv.network_of("172.30.1.99".parse().unwrap()).unwrap().name,
            "Cluster"
        );
    }

    #[test]
    fn errors_teach() {
        let e = Inventory::parse("[[csv]]\nname = \"A\"\nowner = \"nope\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("not a node"));
        let e = Inventory::parse("nodez = []").unwrap_err();
        assert!(format!("{e:#}").contains("nodez"), "{e:#}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("node1*.pcapng", "node1-a.pcapng"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXcYb"));
        assert!(!glob_match("node1.pcapng", "node1.pcap"));
    }
}
