//! The catalogue of finding rules: stable ids and what each is about.
//! `hvsleuth rules` prints it; README.md links to it.

/// One rule's documentation.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub detects: &'static str,
    pub why: &'static str,
    pub evidence: &'static str,
    pub fix: &'static str,
    /// The incident it comes from.
    #[serde(rename = "incident")]
    pub seed: &'static str,
}

pub const HVS001: RuleInfo = RuleInfo {
    id: "HVS001",
    title: "Management network carries CSV redirected IO, storage or live-migration traffic",
    detects: "Bytes attributed to redirected-io, storage or live-migration on an interface meant for management \
(inventory intent, or inferred from RDP/WinRM/SSH traffic on it).",
    why: "SMB Multichannel streams CSV redirected IO across every network between two nodes, including management: \
a VM restore onto a non-owner node filled a 2x1 GbE management team and admins lost RDP/remote management.",
    evidence: "bytes and peak per role on the interface, share of link capacity, time window, the node pair.",
    fix: "New-SmbMultichannelConstraint on the SMB client node limiting the server to the cluster NICs; prefer the \
cluster network for CSV (lowest cluster network metric); restore VMs on the CSV owner node.",
    seed: "a VM restore onto a non-owner node floods the management network",
};

pub const HVS002: RuleInfo = RuleInfo {
    id: "HVS002",
    title: "Network saturated while management sessions on it stall",
    detects: "An interface above the saturation utilisation for a sustained window, while management-role TCP \
connections on it show retransmissions, duplicates or gaps.",
    why: "A saturated NIC drops or queues everything on it: RDP and WinRM sessions stall, and administrators \
lose remote access exactly when they need it.",
    evidence: "utilisation over time, window length, the roles filling the link, management retransmissions.",
    fix: "Keep bulk traffic off the management NIC (HVS001 fix); reserve bandwidth for management with \
New-NetQosPolicy; cap SMB categories with Set-SmbBandwidthLimit.",
    seed: "a VM restore onto a non-owner node: administrators lose remote access",
};

pub const HVS003: RuleInfo = RuleInfo {
    id: "HVS003",
    title: "SOFS client connected to a node that does not own the CSV",
    detects: "SMB from a host that is not a cluster node to a node for a share whose CSV another node owns \
(inventory), while that node sends redirected IO to the owner; how long until the client moved to the owner, \
or that it never did. Also CSV ownership imbalance (a node owning several CSVs while another owns none).",
    why: "A Hyper-V host picks a random SOFS node; if it is not the CSV owner, every IO crosses the cluster network \
twice until SMB client redirection (witness) moves the client to the owner.",
    evidence: "client, first node, owner, share, bytes to the first node, redirected bytes node -> owner, time to move.",
    fix: "One CSV per SOFS node and VMs balanced across CSVs; check SMB Witness registrations \
(Get-SmbWitnessClient) and CSV owners (Get-ClusterSharedVolume).",
    seed: "a SOFS client connected to a node that does not own the CSV",
};

pub const HVS004: RuleInfo = RuleInfo {
    id: "HVS004",
    title: "Live migration on an unintended network",
    detects: "live-migration bytes on an interface whose network is not meant for live migration (inventory), or \
that carries management, storage (iSCSI/SMB) or heartbeat traffic.",
    why: "Live migration uses the second-lowest-metric cluster network by default and can land on the iSCSI or \
management network, or share the heartbeat network and starve it.",
    evidence: "live-migration bytes and peak on the interface, what else the interface carries.",
    fix: "Set-VMHost -UseAnyNetworkForMigration $false; Add-VMMigrationNetwork for the intended subnet; on \
clusters set MigrationExcludeNetworks on the Virtual Machine resource type.",
    seed: "live migration lands on the iSCSI or heartbeat network",
};

pub const HVS005: RuleInfo = RuleInfo {
    id: "HVS005",
    title: "Live migration far below link capacity (single TCP stream, or TCP on RDMA NICs)",
    detects: "A live migration lasting long enough whose peak throughput stays below a fraction of the link; one \
TCP connection doing it; TCP live migration on an interface marked RDMA-capable.",
    why: "A TCP migration is bound to one core (~4.5-5 Gbps); SMB Multichannel or SMB Direct migrates at line rate \
with less CPU.",
    evidence: "peak and average live-migration throughput, link speed, connection count, duration.",
    fix: "Set-VMHost -VirtualMachineMigrationPerformanceOption SMB (Multichannel / SMB Direct); \
Set-SmbBandwidthLimit -Category LiveMigration to protect other traffic.",
    seed: "live migration far below the link (one TCP stream, TCP on RDMA NICs)",
};

pub const HVS006: RuleInfo = RuleInfo {
    id: "HVS006",
    title: "Cluster heartbeats missing beyond the failure threshold (isolation, quarantine)",
    detects: "Silences in UDP 3343 heartbeats from a node address longer than delay x threshold (1 s x 5 on 2012 R2, \
1 s x 10 on 2016+); three such failures within an hour.",
    why: "A node that misses that many heartbeats is removed (Isolated); three failures in an hour quarantine it for \
7200 s by default, and block-storage VMs go Paused-Critical.",
    evidence: "each silence with start, end and length; count within the hour.",
    fix: "Find the cause of the loss on that network (NIC, driver, saturation); inspect SameSubnetDelay, \
SameSubnetThreshold, QuarantineThreshold, QuarantineDuration; Start-ClusterNode -ClearQuarantine once fixed.",
    seed: "node isolation and quarantine after missed heartbeats",
};

pub const HVS007: RuleInfo = RuleInfo {
    id: "HVS007",
    title: "TCP retransmissions or duplicate segments",
    detects: "Per interface and role, retransmitted plus duplicate TCP segments above a rate.",
    why: "Loss shows as retransmissions; duplicate segments (teaming, mirroring, offload bugs) once crashed hosts \
with stop 0xD1 (KB2905412) and always waste bandwidth.",
    evidence: "packets, retransmissions, duplicates, rate, the worst connections.",
    fix: "Check NIC teaming/offload settings and drivers (Get-NetAdapterStatistics, Get-NetAdapterAdvancedProperty); \
relieve saturation; apply KB2905412 on affected builds.",
    seed: "retransmissions on cluster (GUM) and SMB connections",
};

pub const HVS008: RuleInfo = RuleInfo {
    id: "HVS008",
    title: "RDMA / SMB Direct traffic that packet captures cannot see",
    detects: "Perfmon RDMA Activity or SMB Direct counters with bytes on a node, compared with what the captures of \
that node show in the same window.",
    why: "RDMA bypasses the host network stack: host captures (and Task Manager) do not see SMB Direct bytes, so \
capture-based attribution undercounts storage, redirected IO or live migration on RDMA NICs.",
    evidence: "RDMA bytes and peak per counter, the capture bytes of that node in the window.",
    fix: "Use the perfmon counters (RDMA Activity, SMB Direct Connection) for RDMA NICs; capture on the switch or \
with the NIC vendor's tools if packets are needed.",
    seed: "SMB Direct bytes visible only in perfmon",
};

pub const HVS009: RuleInfo = RuleInfo {
    id: "HVS009",
    title: "CSV redirected IO in perfmon counters",
    detects: "Cluster CSV File System / CSV Volume Manager redirected byte counters above zero on a node, with the \
window, volume and the NIC counters that rose with it; compared with the captures' redirected-io attribution.",
    why: "A CSV in redirected IO sends every write of the non-owner node over SMB to the owner; its counters name the \
volume and node even when no capture was running.",
    evidence: "redirected bytes and peak per volume, window, NIC byte rates during the window, captured redirected-io bytes.",
    fix: "Run metadata-heavy jobs (restores) on the CSV owner or move the CSV first (Move-ClusterSharedVolume); steer \
redirected IO to the cluster network (HVS001).",
    seed: "a VM restore onto a non-owner node floods the management network",
};

pub const HVS010: RuleInfo = RuleInfo {
    id: "HVS010",
    title: "Encrypted SMB sessions: attribution by session only",
    detects: "Encrypted SMB 3 sessions (transform headers) between cluster nodes.",
    why: "Between nodes, SMB is CSV redirected IO or SMB live migration, and only the share name (invisible when \
encrypted) tells them apart: the role rests on endpoints and ports.",
    evidence: "sessions, endpoints and encrypted bytes.",
    fix: "Nothing to fix when encryption is intended; decrypt in Wireshark with the session keys to look inside.",
    seed: "encrypted SMB between cluster nodes",
};

pub const HVS011: RuleInfo = RuleInfo {
    id: "HVS011",
    title: "RDMA-capable interfaces advertised while SMB runs over TCP",
    detects: "An SMB server whose FSCTL_QUERY_NETWORK_INTERFACE_INFO answer lists RDMA-capable interfaces, while SMB \
bytes to it travel over TCP 445.",
    why: "SMB Direct moves storage, redirected IO and live migration at line rate with little CPU; over TCP the same \
traffic costs CPU and competes on the wire.",
    evidence: "the RDMA interfaces advertised, the SMB bytes over TCP.",
    fix: "Check RDMA on both ends (Get-NetAdapterRdma, Get-SmbClientNetworkInterface) and Multichannel connections.",
    seed: "RDMA NICs advertised while SMB runs over TCP",
};

/// Every rule, in id order.
pub const ALL: &[RuleInfo] = &[
    HVS001, HVS002, HVS003, HVS004, HVS005, HVS006, HVS007, HVS008, HVS009, HVS010, HVS011,
];
