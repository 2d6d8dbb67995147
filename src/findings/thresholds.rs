//! Finding thresholds, with documented defaults; override them in the
//! inventory's `[thresholds]` table.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// HVS001: bytes of redirected IO, storage or live migration on a
    /// management network before it is a finding.
    pub mgmt_bulk_min_bytes: u64,
    /// HVS002: utilisation (0..1) of the link counted as saturated.
    pub saturation_utilisation: f64,
    /// HVS002: seconds of continuous saturation before it is a finding.
    pub saturation_min_s: f64,
    /// HVS004/HVS005: live-migration bytes before the live-migration rules look.
    pub lm_min_bytes: u64,
    /// HVS005: live migration at a peak below this fraction of the link is "far below capacity".
    pub lm_low_utilisation: f64,
    /// HVS005: seconds a migration must last before its throughput is judged.
    pub lm_min_duration_s: f64,
    /// HVS006: cluster heartbeat interval (SameSubnetDelay), seconds. Learnt
    /// per sender from the heartbeat arrivals unless the inventory sets it.
    pub heartbeat_delay_s: f64,
    /// The inventory set `heartbeat_delay_s` (else it is learnt from traffic).
    #[serde(skip)]
    pub heartbeat_delay_given: bool,
    /// HVS006: missed heartbeats before a node is removed, Windows Server 2012 R2 and
    /// earlier (SameSubnetThreshold 5).
    pub heartbeat_threshold_legacy: u32,
    /// HVS006: the same for Windows Server 2016 and later (SameSubnetThreshold 10).
    pub heartbeat_threshold: u32,
    /// HVS006: failures within `quarantine_window_s` that quarantine a node (3 per hour).
    pub quarantine_failures: u32,
    pub quarantine_window_s: f64,
    /// HVS007: retransmitted + duplicate segments per TCP packet of a role on an interface.
    pub tcp_bad_rate: f64,
    /// HVS007: TCP packets before a rate is judged.
    pub tcp_min_packets: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            mgmt_bulk_min_bytes: 1_000_000,
            saturation_utilisation: 0.9,
            saturation_min_s: 5.0,
            lm_min_bytes: 1_000_000,
            lm_low_utilisation: 0.5,
            lm_min_duration_s: 10.0,
            heartbeat_delay_s: 1.0,
            heartbeat_delay_given: false,
            heartbeat_threshold_legacy: 5,
            heartbeat_threshold: 10,
            quarantine_failures: 3,
            quarantine_window_s: 3600.0,
            tcp_bad_rate: 0.01,
            tcp_min_packets: 500,
        }
    }
}
