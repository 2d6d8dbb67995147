//! Synthetic report data for tests, examples and demos: a 3-node cluster
//! (3 interfaces each) during the canonical incident, a VM restore to a
//! non-owner node whose CSV redirected IO floods every network including
//! management. Not measured data: shapes chosen to exercise the writers.

use crate::Role;
use crate::model::{
    DiffData, Finding, HeartbeatSeries, InterfaceData, ReportData, RoleTotal, Severity,
    TimelineEvent,
};

/// 2013-07-23 14:00:00 UTC.
pub const T0_NS: i64 = 1_374_588_000_000_000_000;
const S: i64 = 1_000_000_000;
/// Buckets (1 s) in the synthetic capture.
pub const BUCKETS: i64 = 300;
/// The redirected-io burst on HV02's management NIC: seconds [120, 150).
pub const BURST: (i64, i64) = (120, 150);

/// Deterministic noise in [0, 1).
fn noise(seed: u64) -> f64 {
    let x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let x = (x ^ (x >> 33)).wrapping_mul(0xff51afd7ed558ccd);
    ((x >> 11) as f64) / ((1u64 << 53) as f64)
}

fn iface(
    node: &str,
    name: &str,
    link: u64,
    addr: &str,
    f: impl Fn(i64, u64) -> [f64; 6],
) -> InterfaceData {
    let seed0 = node
        .bytes()
        .chain(name.bytes())
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    let series: Vec<(i64, [f64; 6])> = (0..BUCKETS)
        .map(|i| (T0_NS + i * S, f(i, seed0.wrapping_add(i as u64))))
        .collect();
    let roles = Role::ALL
        .into_iter()
        .map(|r| {
            let bits: f64 = series.iter().map(|(_, v)| v[r.index()]).sum();
            let peak = series.iter().map(|(_, v)| v[r.index()]).fold(0.0, f64::max);
            RoleTotal {
                role: r,
                bytes: (bits / 8.0) as u64,
                peak_bps: peak as u64,
            }
        })
        .collect::<Vec<_>>();
    let wire_bytes = roles.iter().map(|r| r.bytes).sum();
    InterfaceData {
        node: node.into(),
        interface: name.into(),
        capture: format!("{node}-{}.pcapng", name.to_lowercase()),
        addresses: vec![addr.into()],
        link_bps: Some(link),
        wire_bytes,
        roles,
        series,
    }
}

fn in_burst(i: i64) -> bool {
    (BURST.0..BURST.1).contains(&i)
}

/// The incident report (`constrained = false`) or the same cluster after
/// SMB Multichannel constraints (`true`: redirected IO stays on the cluster network).
pub fn synthetic_report_with(constrained: bool) -> ReportData {
    let mut interfaces = Vec::new();
    for (n, node) in ["HV01", "HV02", "HV03"].iter().enumerate() {
        let restore_node = *node == "HV02";
        let owner = *node == "HV01";
        let redirected = move |i: i64, share: f64| {
            if (restore_node || owner) && in_burst(i) {
                1.05e9 * share
            } else {
                0.0
            }
        };
        interfaces.push(iface(
            node,
            "Management",
            1_000_000_000,
            &format!("10.0.0.1{}", n + 1),
            |i, s| {
                let mut v = [0.0; 6];
                v[Role::RedirectedIo.index()] = if constrained { 0.0 } else { redirected(i, 1.0) };
                v[Role::Cluster.index()] = 40e3 + 20e3 * noise(s);
                v[Role::Management.index()] = 2e6 + 3e6 * noise(s ^ 0x55);
                v[Role::Other.index()] = 3e5 * noise(s ^ 0x99);
                v
            },
        ));
        interfaces.push(iface(
            node,
            "Cluster",
            10_000_000_000,
            &format!("172.16.0.1{}", n + 1),
            |i, s| {
                let mut v = [0.0; 6];
                v[Role::RedirectedIo.index()] = redirected(i, if constrained { 3.2 } else { 2.2 });
                v[Role::Cluster.index()] = 60e3 + 30e3 * noise(s);
                v[Role::Storage.index()] = 4e8 + 2e8 * noise(s ^ 0x33);
                v
            },
        ));
        interfaces.push(iface(
            node,
            "LiveMigration",
            10_000_000_000,
            &format!("172.16.1.1{}", n + 1),
            |i, s| {
                let mut v = [0.0; 6];
                v[Role::RedirectedIo.index()] = if constrained { 0.0 } else { redirected(i, 1.0) };
                if (*node == "HV01" || *node == "HV03") && (200..260).contains(&i) {
                    v[Role::LiveMigration.index()] = 6e9 + 1.5e9 * noise(s);
                }
                v[Role::Cluster.index()] = 30e3 + 10e3 * noise(s);
                v
            },
        ));
    }
    let win = (Some(T0_NS + BURST.0 * S), Some(T0_NS + BURST.1 * S));
    let mut findings = vec![
        Finding {
            id: "HVS003".into(),
            severity: Severity::High,
            title: "Cluster heartbeats late on the management network".into(),
            node: Some("HV02".into()),
            interface: Some("Management".into()),
            window_start_ns: win.0,
            window_end_ns: win.1,
            summary: "Heartbeats between HV01 and HV02 arrived up to 7 s apart while the management NIC was saturated; \
                      with SameSubnetThreshold 10 the route was close to being declared down."
                .into(),
            evidence: vec![("largest gap".into(), "7.0 s".into()), ("threshold".into(), "10 × 1 s".into())],
            tshark_filter: Some("udp.port == 3343 && ip.addr == 10.0.0.12".into()),
            remediation: vec!["Get-Cluster | Format-List SameSubnetDelay, SameSubnetThreshold".into()],
            note: None,
            also: Vec::new(),
        },
        Finding {
            id: "HVS001".into(),
            severity: Severity::Critical,
            title: "CSV redirected IO saturates the management network".into(),
            node: Some("HV02".into()),
            interface: Some("Management".into()),
            window_start_ns: win.0,
            window_end_ns: win.1,
            summary: "HV02 (not the CSV owner) sent redirected IO to the CSV owner HV01 over SMB Multichannel on every \
                      network, including management: 105% of the 1 Gb/s link for 30 s, so remote management was lost."
                .into(),
            evidence: vec![
                ("redirected-io bytes".into(), "3.94 GB".into()),
                ("peak".into(), "1.05 Gb/s (105% of link)".into()),
                ("SMB server".into(), "HV01 (10.0.0.11:445)".into()),
                ("duration".into(), "30 s".into()),
            ],
            tshark_filter: Some("tcp.port == 445 && ip.src == 10.0.0.12 && ip.dst == 10.0.0.11".into()),
            remediation: vec![
                "New-SmbMultichannelConstraint -ServerName HV01 -InterfaceAlias Cluster".into(),
                "Get-SmbMultichannelConnection".into(),
                "Get-ClusterSharedVolume | Move-ClusterSharedVolume -Node HV02".into(),
            ],
            note: Some(
                "Constraints are per server name: create them on every node for every other node. \
                 Restoring to the CSV owner avoids redirected IO altogether."
                    .into(),
            ),
            also: Vec::new(),
        },
    ];
    if constrained {
        findings.retain(|f| f.id != "HVS001" && f.id != "HVS003");
    }
    findings.push(Finding {
        id: "HVS010".into(),
        severity: Severity::Info,
        title: "Live migration HV01 → HV03 used the live-migration network".into(),
        node: Some("HV01".into()),
        interface: Some("LiveMigration".into()),
        window_start_ns: Some(T0_NS + 200 * S),
        window_end_ns: Some(T0_NS + 260 * S),
        summary: "One live migration of 55 GB over TCP 6600.".into(),
        evidence: vec![("bytes".into(), "55 GB".into())],
        tshark_filter: Some("tcp.port == 6600".into()),
        remediation: vec![],
        note: None,
        also: Vec::new(),
    });
    let hb = |from: &str, to: &str, network: &str, gap_at: i64, gap_s: i64| HeartbeatSeries {
        from: from.into(),
        to: to.into(),
        network: network.into(),
        arrivals_ns: (0..BUCKETS)
            .filter(|i| constrained || !(gap_at..gap_at + gap_s - 1).contains(i))
            .map(|i| T0_NS + i * S + (noise(i as u64) * 5e7) as i64)
            .collect(),
    };
    let heartbeats = vec![
        hb("HV01", "HV02", "Management", 125, 7),
        hb("HV02", "HV01", "Management", 131, 5),
        hb("HV01", "HV02", "Cluster", 0, 0),
        hb("HV01", "HV03", "Cluster", 0, 0),
    ];
    let ev = |s: i64, source: &str, node: Option<&str>, text: &str| TimelineEvent {
        ts_ns: T0_NS + s * S,
        source: source.into(),
        node: node.map(Into::into),
        text: text.into(),
    };
    let timeline = vec![
        ev(
            118,
            "eventlog",
            Some("HV02"),
            "Restore job started (VM SQL01)",
        ),
        ev(120, "capture", Some("HV02"), "SMB to HV01 on 3 interfaces"),
        ev(121, "cluster.log", Some("HV02"), "CSV Volume1 redirected"),
        ev(
            125,
            "finding",
            Some("HV02"),
            "HVS001 redirected IO on Management",
        ),
        ev(127, "eventlog", Some("HV02"), "RDP session disconnected"),
        ev(150, "capture", Some("HV02"), "redirected IO ends"),
        ev(
            200,
            "capture",
            Some("HV01"),
            "Live migration HV01 → HV03 starts",
        ),
        ev(260, "capture", Some("HV01"), "Live migration ends"),
    ];
    ReportData {
        title: if constrained {
            "restore-constrained".into()
        } else {
            "restore-flood".into()
        },
        generator: "hvsleuth 0.1.0 (synthetic sample)".into(),
        inputs: vec![
            "HV01.pcapng".into(),
            "HV02.pcapng".into(),
            "HV03.pcapng".into(),
            "inventory.toml".into(),
        ],
        bucket_ns: S,
        findings,
        interfaces,
        heartbeats,
        timeline,
        inferred: vec![
            (
                "HV01 owns CSV Volume1".into(),
                "all nodes' SMB writes to the CSV go to HV01:445".into(),
                0.9,
            ),
            (
                "Management is 10.0.0.0/24".into(),
                "RDP and WinRM terminate there".into(),
                0.8,
            ),
        ],
        damaged_inputs: Vec::new(),
    }
}

/// The incident report.
pub fn synthetic_report() -> ReportData {
    synthetic_report_with(false)
}

pub use crate::diff::diff as diff_of;

/// restore-flood vs restore-constrained.
pub fn synthetic_diff() -> DiffData {
    diff_of(synthetic_report_with(false), synthetic_report_with(true))
}
