//! Remediation text: the PowerShell each finding proposes, with the names the
//! inventory, the captures or the inference know filled in. A placeholder is
//! left only where nothing knows the value, and then the block says which
//! `Get-` cmdlet finds it.
//!
//! HVS001's fix depends on the Windows version, which the negotiated SMB
//! dialect tells: on Windows Server 2012 (SMB 3.0) CSV traffic goes through
//! the Default SMB instance, so SMB Multichannel constraints govern it; from
//! 2012 R2 (SMB 3.0.2) and 2016 (SMB 3.1.1) CSV has its own SMB instance, which
//! constraints do not cover (New-SmbMultichannelConstraint documentation):
//! there the cluster network roles and metrics decide. Constraints stay the
//! fix for Hyper-V-over-SMB (SOFS) storage and SMB live migration, which use
//! the Default instance on every version.

use std::net::IpAddr;

use hvsleuth_reports::Role;

use super::Ctx;
use crate::inventory::Intent;

/// The Windows Server release a negotiated SMB dialect implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// SMB 2.x: Windows Server 2008 / 2008 R2 (no Multichannel).
    Pre2012,
    /// SMB 3.0: Windows Server 2012.
    Ws2012,
    /// SMB 3.0.2: Windows Server 2012 R2.
    Ws2012R2,
    /// SMB 3.1.1: Windows Server 2016 or later.
    Ws2016Plus,
}

impl Os {
    pub fn from_dialect(d: &str) -> Option<Os> {
        match d {
            "2.0.2" | "2.1" => Some(Os::Pre2012),
            "3.0" => Some(Os::Ws2012),
            "3.0.2" => Some(Os::Ws2012R2),
            "3.1.1" => Some(Os::Ws2016Plus),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Os::Pre2012 => "Windows Server 2008 R2 or earlier",
            Os::Ws2012 => "Windows Server 2012",
            Os::Ws2012R2 => "Windows Server 2012 R2",
            Os::Ws2016Plus => "Windows Server 2016 or later",
        }
    }

    /// Whether CSV node-to-node SMB runs in its own SMB instance (2012 R2+),
    /// out of reach of SMB Multichannel constraints.
    pub fn csv_instance(self) -> bool {
        matches!(self, Os::Ws2012R2 | Os::Ws2016Plus)
    }
}

/// "1.2.3.4:445" or "[fe80::1]:445" -> the address part.
fn host_of(endpoint: &str) -> &str {
    let h = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    h.trim_start_matches('[').trim_end_matches(']')
}

/// The SMB dialect negotiated between `client` and `server`: on a channel
/// between exactly these addresses, else between any addresses of the same
/// two nodes.
pub fn dialect_between(ctx: &Ctx<'_>, client: IpAddr, server: IpAddr) -> Option<String> {
    let smb = ctx.smb?;
    let same = |ep: &str, ip: IpAddr| host_of(ep).parse::<IpAddr>().ok() == Some(ip);
    let exact = smb
        .channels
        .iter()
        .filter(|c| same(&c.client, client) && same(&c.server, server))
        .find_map(|c| c.dialect.clone());
    if exact.is_some() {
        return exact;
    }
    let (cn, sn) = (ctx.node_of(client)?, ctx.node_of(server)?);
    let node = |ep: &str| {
        host_of(ep)
            .parse::<IpAddr>()
            .ok()
            .and_then(|ip| ctx.node_of(ip))
    };
    smb.channels
        .iter()
        .filter(|c| node(&c.client) == Some(cn) && node(&c.server) == Some(sn))
        .find_map(|c| c.dialect.clone())
}

/// The inventory network name of one captured interface.
pub fn network_of_iface(ctx: &Ctx<'_>, iface: usize) -> Option<String> {
    let inv = ctx.inv?;
    let i = &ctx.model.ifaces[iface];
    if let Some(r) = inv.interface_for_capture(&i.capture, &i.capture_if_name) {
        let ii = inv.interface(r);
        if let Some(n) = &ii.network {
            return Some(n.clone());
        }
        if let Some(n) = ii.addresses.iter().find_map(|a| inv.network_of(a.addr())) {
            return Some(n.name.clone());
        }
    }
    i.addresses
        .iter()
        .find_map(|a| inv.network_of(*a))
        .map(|n| n.name.clone())
}

/// The cluster network meant for CSV traffic: the inventory network meant for
/// redirected IO, else one meant for cluster and not management.
pub fn csv_network(ctx: &Ctx<'_>) -> Option<String> {
    let inv = ctx.inv?;
    inv.networks
        .iter()
        .find(|n| n.intended_roles.contains(&Intent::RedirectedIo))
        .or_else(|| {
            inv.networks.iter().find(|n| {
                n.intended_roles.contains(&Intent::Cluster)
                    && !n.intended_roles.contains(&Intent::Management)
            })
        })
        .map(|n| n.name.clone())
}

/// The CSV behind a flow: by the shares tree-connected on it, else the only
/// CSV the server node owns (inventory).
pub fn csv_of(ctx: &Ctx<'_>, shares: &[String], server_node: Option<&str>) -> Option<String> {
    let inv = ctx.inv?;
    if let Some(c) = inv.csv.iter().find(|c| {
        c.share
            .as_deref()
            .is_some_and(|s| shares.iter().any(|x| x.eq_ignore_ascii_case(s)))
    }) {
        return Some(c.name.clone());
    }
    let owned: Vec<_> = inv
        .csv
        .iter()
        .filter(|c| server_node.is_some_and(|n| c.owner.eq_ignore_ascii_case(n)))
        .collect();
    (owned.len() == 1).then(|| owned[0].name.clone())
}

/// The live-migration network and its subnets: the inventory's
/// `[live_migration] networks`, else a network meant for live migration.
pub fn lm_network(ctx: &Ctx<'_>) -> Option<(String, Vec<String>)> {
    let inv = ctx.inv?;
    let net = inv
        .live_migration
        .networks
        .iter()
        .find_map(|n| inv.networks.iter().find(|x| &x.name == n))
        .or_else(|| {
            inv.networks
                .iter()
                .find(|n| n.intended_roles.contains(&Intent::LiveMigration))
        })?;
    Some((
        net.name.clone(),
        net.all_subnets().map(|s| s.trunc().to_string()).collect(),
    ))
}

/// Quotes a PowerShell argument in double quotes (an inner quote escaped with a backtick).
pub fn ps(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "`\""))
}

/// The CSV a node's redirected IO went to: by the shares on its captured
/// redirected-io flows, else the volume perfmon names (`volumes`), else none.
/// Returns the quoted name and, when it is not certain, a comment line on how to find it.
pub fn csv_for_node(ctx: &Ctx<'_>, node: &str, volumes: &[String]) -> (String, String) {
    let shares: Vec<String> = ctx
        .model
        .groups
        .iter()
        .filter(|g| g.role == Role::RedirectedIo)
        .filter(|g| {
            g.key
                .client
                .and_then(|c| ctx.node_of(c))
                .is_some_and(|n| n.eq_ignore_ascii_case(node))
        })
        .flat_map(|g| g.shares.iter().cloned())
        .collect();
    if !shares.is_empty() {
        if let Some(c) = csv_of(ctx, &shares, None) {
            return (ps(&c), String::new());
        }
    }
    if let Some(inv) = ctx.inv {
        if let Some(c) = inv
            .csv
            .iter()
            .find(|c| volumes.iter().any(|v| v.eq_ignore_ascii_case(&c.name)))
        {
            return (ps(&c.name), String::new());
        }
    }
    const FIND: &str = "Get-ClusterSharedVolume | Format-Table Name, OwnerNode, @{n='Volume';e={$_.SharedVolumeInfo.FriendlyVolumeName}}";
    match volumes.first() {
        Some(v) => (
            "\"<CSV>\"".into(),
            format!("# perfmon names the volume {v}; the CSV resource on it: {FIND}\n"),
        ),
        None => ("\"<CSV>\"".into(), format!("# the CSV's name: {FIND}\n")),
    }
}

/// One `Add-VMMigrationNetwork` line per subnet: its `-Subnet` takes one
/// string (PowerShell would join a list into one "a b" string).
fn add_migration_networks(subnets: &[String]) -> String {
    subnets
        .iter()
        .map(|s| format!("Add-VMMigrationNetwork {s}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// HVS004's fix: live migration only on the intended network.
pub fn lm_only_on_intended(ctx: &Ctx<'_>) -> Vec<String> {
    match lm_network(ctx) {
        Some((name, subnets)) if !subnets.is_empty() => vec![
            format!(
                "# on every node: live migration only on the {name} network\n\
                 Set-VMHost -UseAnyNetworkForMigration $false\n\
                 Get-VMMigrationNetwork | Remove-VMMigrationNetwork\n\
                 {}",
                add_migration_networks(&subnets)
            ),
            format!(
                "# failover clusters: exclude every cluster network but {name} from live migration\n\
                 Get-ClusterResourceType -Name \"Virtual Machine\" | Set-ClusterParameter -Name MigrationExcludeNetworks \
                 -Value ([String]::Join(\";\", (Get-ClusterNetwork | Where-Object {{ $_.Name -ne {} }}).ID))",
                ps(&name)
            ),
        ],
        _ => vec![
            "# the live-migration network's name and subnet: Get-ClusterNetwork | Format-Table Name, Role, Address, AddressMask\n\
             Set-VMHost -UseAnyNetworkForMigration $false\n\
             Add-VMMigrationNetwork \"<live-migration subnet>\""
                .into(),
            "# failover clusters: exclude every cluster network but the live-migration one\n\
             Get-ClusterResourceType -Name \"Virtual Machine\" | Set-ClusterParameter -Name MigrationExcludeNetworks \
             -Value ([String]::Join(\";\", (Get-ClusterNetwork | Where-Object { $_.Name -ne \"<live-migration network>\" }).ID))"
                .into(),
        ],
    }
}

/// HVS004's fix when the live migration's network was found by its lack of
/// heartbeats (no inventory): confirm its cluster role, exclude the
/// role-None networks from live migration, or on each host list only the
/// networks that carry heartbeats (`cluster`: the node's addresses there).
pub fn lm_off_role_none_networks(address: &str, cluster: &[std::net::IpAddr]) -> Vec<String> {
    let subnets = if cluster.is_empty() {
        "\"<subnet of a cluster network>\"".to_string()
    } else {
        cluster
            .iter()
            .map(|a| format!("\"<subnet of {a}>\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Add-VMMigrationNetwork takes one subnet per call.
    vec![
        format!(
            "# the network of {address} carries no heartbeats: check that its role is None (0), and its name\n\
             Get-ClusterNetworkInterface | Format-Table Node, Network, Address\n\
             Get-ClusterNetwork | Format-Table Name, Role, Address, AddressMask"
        ),
        "# failover clusters: exclude every role-None network from live migration (Live Migration Settings); \
         the current list: Get-ClusterResourceType -Name \"Virtual Machine\" | Get-ClusterParameter -Name MigrationExcludeNetworks\n\
         Get-ClusterResourceType -Name \"Virtual Machine\" | Set-ClusterParameter -Name MigrationExcludeNetworks \
         -Value ([String]::Join(\";\", (Get-ClusterNetwork | Where-Object { $_.Role -eq \"None\" }).ID))"
            .into(),
        format!(
            "# or on every node: live migration only on networks that carry heartbeats (management ones left out when others do)\n\
             Set-VMHost -UseAnyNetworkForMigration $false\n\
             {subnets} | ForEach-Object {{ Add-VMMigrationNetwork $_ }}"
        ),
    ]
}

/// The client-side adapters an RDMA fix applies to: inventory interfaces
/// marked `rdma = true`, else none (and a comment on how to find them).
pub fn rdma_adapters(ctx: &Ctx<'_>) -> String {
    let names: Vec<String> = ctx
        .inv
        .map(|inv| {
            inv.nodes
                .iter()
                .flat_map(|n| n.interfaces.iter())
                .filter(|i| i.rdma == Some(true))
                .map(|i| ps(&i.alias))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        "# the RDMA-capable adapters: Get-NetAdapterRdma | Format-Table Name, InterfaceDescription, Enabled\n\
         Enable-NetAdapterRdma -Name \"<adapter>\""
            .into()
    } else {
        format!("Enable-NetAdapterRdma -Name {}", names.join(", "))
    }
}

/// What HVS001 proposes for one flow.
pub struct Hvs001Fix {
    pub remediation: Vec<String>,
    pub note: String,
    /// Evidence lines: the dialect and what it implies.
    pub evidence: Vec<(String, String)>,
}

/// The facts HVS001's fix is built from.
pub struct Hvs001Facts<'a> {
    pub role: Role,
    pub dialect: Option<String>,
    pub client_name: &'a str,
    pub server_name: &'a str,
    /// Quoted aliases of the client's cluster NICs, or None when nothing names them.
    pub cluster_aliases: Option<Vec<String>>,
    pub mgmt_network: Option<String>,
    pub csv_network: Option<String>,
    pub csv: Option<String>,
    pub lm: Option<(String, Vec<String>)>,
}

pub fn hvs001(f: &Hvs001Facts<'_>) -> Hvs001Fix {
    let os = f.dialect.as_deref().and_then(Os::from_dialect);
    let mut evidence = Vec::new();
    let os_text = match (&f.dialect, os) {
        (Some(d), Some(o)) => format!("SMB {d} negotiated: {}", o.name()),
        (Some(d), None) => format!("SMB {d} negotiated: Windows version not implied"),
        (None, _) => "no SMB NEGOTIATE seen for this flow: Windows version unknown".into(),
    };
    evidence.push(("SMB dialect".into(), os_text.clone()));
    let constraint = {
        let aliases = match &f.cluster_aliases {
            Some(a) => a.join(", "),
            None => "\"<cluster NIC aliases>\"".into(),
        };
        let find = if f.cluster_aliases.is_none() {
            format!(
                "# the aliases of {}'s cluster NICs: Get-NetAdapter | Format-Table Name, InterfaceDescription, LinkSpeed\n",
                f.client_name
            )
        } else {
            String::new()
        };
        format!(
            "# on {}: let SMB Multichannel reach {} only through the cluster NICs\n{find}\
             New-SmbMultichannelConstraint -ServerName {} -InterfaceAlias {aliases}",
            f.client_name, f.server_name, f.server_name
        )
    };
    let net = |n: &Option<String>, what: &str| match n {
        Some(n) => (ps(n), String::new()),
        None => (
            format!("\"<{what}>\""),
            format!(
                "# the {what}'s name: Get-ClusterNetwork | Format-Table Name, Role, Metric, Address\n"
            ),
        ),
    };
    let (csv_net, csv_net_find) = net(&f.csv_network, "cluster network");
    let metric = format!(
        "# CSV and cluster traffic prefer the cluster network with the lowest metric\n{csv_net_find}\
         Get-ClusterNetwork | Format-Table Name, Role, Metric, AutoMetric, Address\n\
         (Get-ClusterNetwork -Name {csv_net}).Metric = 900"
    );
    let (mgmt_net, mgmt_find) = net(&f.mgmt_network, "management network");
    let role_off = format!(
        "# keep cluster and CSV traffic off the management network entirely (Role 0 = None; only when no\n\
         # cluster IP address resource depends on it: Get-ClusterResource | Where-Object ResourceType -eq \"IP Address\" | Get-ClusterParameter Network)\n{mgmt_find}\
         (Get-ClusterNetwork -Name {mgmt_net}).Role = 0\n\
         Get-SmbMultichannelConnection -SmbInstance CSV   # check: which interfaces CSV uses now"
    );
    let move_csv = {
        let (csv, find) = match &f.csv {
            Some(c) => (ps(c), String::new()),
            None => (
                "\"<CSV>\"".into(),
                "# the CSV's name and owner: Get-ClusterSharedVolume | Format-Table Name, OwnerNode\n"
                    .into(),
            ),
        };
        format!(
            "# run restores and other metadata-heavy jobs on the CSV owner ({}), or move the CSV to {} first\n{find}\
             Move-ClusterSharedVolume -Name {csv} -Node {}",
            f.server_name, f.client_name, f.client_name
        )
    };
    let mut remediation = Vec::new();
    let note;
    match f.role {
        Role::RedirectedIo => match os {
            Some(Os::Ws2012) => {
                remediation.push(constraint);
                remediation.push(metric);
                remediation.push(move_csv);
                note = format!(
                    "{os_text}. On Windows Server 2012, CSV node-to-node SMB uses the Default SMB instance, so the \
                     Multichannel constraint above does govern CSV redirected IO. From 2012 R2 on, CSV has its own \
                     SMB instance and constraints no longer apply to it (New-SmbMultichannelConstraint: Default \
                     instance only, not CSV, S2D/SBL or Storage Replica)."
                );
            }
            Some(o) if o.csv_instance() => {
                remediation.push(metric);
                remediation.push(role_off);
                remediation.push(move_csv);
                note = format!(
                    "{os_text}. Since Windows Server 2012 R2, CSV redirected IO runs in the CSV SMB instance, which \
                     SMB Multichannel constraints do not cover (New-SmbMultichannelConstraint applies to the \
                     Default instance only, not CSV, S2D/SBL or Storage Replica): the cluster network roles and \
                     metrics decide which networks carry it, so the fix is on the cluster networks, not a constraint."
                );
            }
            _ => {
                remediation.push(metric);
                remediation.push(role_off);
                remediation.push(move_csv);
                remediation.push(format!(
                    "# only on Windows Server 2012 (SMB 3.0; check: Get-SmbConnection | Format-Table ServerName, Dialect)\n\
                     # do constraints govern CSV traffic:\n{constraint}"
                ));
                note = format!(
                    "{os_text}. On Windows Server 2012 R2 and later CSV uses its own SMB instance, which Multichannel \
                     constraints do not cover: the cluster network roles and metrics decide. Constraints govern CSV \
                     only on Windows Server 2012 (SMB 3.0)."
                );
            }
        },
        Role::LiveMigration => {
            remediation.push(constraint);
            let (name, subnet) = match &f.lm {
                Some((n, s)) if !s.is_empty() => (Some(n.clone()), add_migration_networks(s)),
                _ => (None, String::new()),
            };
            remediation.push(match name {
                Some(n) => format!(
                    "# live migration only on the {n} network\n\
                     Set-VMHost -UseAnyNetworkForMigration $false\n\
                     {subnet}"
                ),
                None => "# live migration only on the intended network; its subnet: Get-ClusterNetwork | Format-Table Name, Address, AddressMask\n\
                     Set-VMHost -UseAnyNetworkForMigration $false\n\
                     Add-VMMigrationNetwork \"<live-migration subnet>\""
                    .into(),
            });
            note = format!(
                "{os_text}. SMB live migration uses the Default SMB instance on every Windows version, so the \
                 Multichannel constraint governs it."
            );
        }
        _ => {
            remediation.push(constraint);
            remediation.push(metric);
            note = format!(
                "{os_text}. Hyper-V-over-SMB (SOFS) storage uses the Default SMB instance on every Windows version, \
                 so the Multichannel constraint governs it."
            );
        }
    }
    Hvs001Fix {
        remediation,
        note,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(dialect: Option<&str>, role: Role) -> Hvs001Facts<'static> {
        Hvs001Facts {
            role,
            dialect: dialect.map(str::to_string),
            client_name: "node3",
            server_name: "node1",
            cluster_aliases: Some(vec!["\"cluster\"".into()]),
            mgmt_network: Some("Management".into()),
            csv_network: Some("Cluster".into()),
            csv: Some("CSV1".into()),
            lm: Some(("Cluster".into(), vec!["172.30.1.0/24".into()])),
        }
    }

    #[test]
    fn dialect_chooses_the_fix() {
        let f = hvs001(&facts(Some("3.0"), Role::RedirectedIo));
        assert!(f.remediation[0].contains(
            "New-SmbMultichannelConstraint -ServerName node1 -InterfaceAlias \"cluster\""
        ));
        assert!(f.note.contains("Windows Server 2012."), "{}", f.note);
        for d in ["3.0.2", "3.1.1"] {
            let f = hvs001(&facts(Some(d), Role::RedirectedIo));
            assert!(
                f.remediation[0].contains("(Get-ClusterNetwork -Name \"Cluster\").Metric = 900")
            );
            assert!(
                f.remediation
                    .iter()
                    .all(|r| !r.contains("New-SmbMultichannelConstraint")),
                "{d}: a constraint does not govern the CSV instance"
            );
            assert!(f.note.contains("CSV SMB instance"));
        }
        assert!(
            hvs001(&facts(Some("3.0.2"), Role::RedirectedIo))
                .note
                .contains("2012 R2")
        );
        assert!(
            hvs001(&facts(Some("3.1.1"), Role::RedirectedIo))
                .note
                .contains("2016 or later")
        );
        // Storage and SMB live migration: constraints on every version.
        for role in [Role::Storage, Role::LiveMigration] {
            let f = hvs001(&facts(Some("3.1.1"), role));
            assert!(f.remediation[0].contains("New-SmbMultichannelConstraint"));
        }
        let f = hvs001(&facts(Some("3.1.1"), Role::LiveMigration));
        assert!(f.remediation[1].contains("Add-VMMigrationNetwork 172.30.1.0/24"));
    }

    #[test]
    fn known_names_fill_in_unknown_ones_say_how_to_find_them() {
        let f = hvs001(&facts(Some("3.1.1"), Role::RedirectedIo));
        let all = f.remediation.join("\n");
        assert!(!all.contains('<'), "{all}");
        assert!(all.contains("Move-ClusterSharedVolume -Name \"CSV1\" -Node node3"));
        let mut none = facts(None, Role::RedirectedIo);
        none.csv = None;
        none.csv_network = None;
        none.cluster_aliases = None;
        let f = hvs001(&none);
        let all = f.remediation.join("\n");
        assert!(
            all.contains("\"<CSV>\"")
                && all.contains("Get-ClusterSharedVolume | Format-Table Name, OwnerNode")
        );
        assert!(
            all.contains("\"<cluster network>\"")
                && all.contains("Get-ClusterNetwork | Format-Table Name")
        );
        assert!(all.contains("Get-NetAdapter"));
        assert!(f.note.contains("unknown"));
    }
}
