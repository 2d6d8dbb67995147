//! Every finding shows the facts behind its severity: an evidence line
//! "severity" saying which figure put it there, first in its evidence.

use hvsleuth_reports::{Finding, Severity};

use super::pct;
use super::thresholds::Thresholds;

fn ev<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
    f.evidence
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Why `f` has its severity, from its own evidence and the thresholds.
pub fn reason(f: &Finding, th: &Thresholds) -> String {
    let sev = f.severity.name();
    let sat = pct(th.saturation_utilisation);
    let why = match (f.id.as_str(), f.severity) {
        ("HVS001", Severity::Critical) => format!(
            "peak {} of the link, at or above the {sat} saturation threshold: the management NIC was full",
            ev(f, "peak share of link capacity").unwrap_or("?")
        ),
        ("HVS001", _) => match ev(f, "peak share of link capacity") {
            Some(p) => format!("bulk traffic on a management NIC; peak {p} of the link, below the {sat} saturation threshold"),
            None => "bulk traffic on a management NIC; link speed unknown, so saturation cannot be judged".into(),
        },
        ("HVS002", Severity::Critical) => format!(
            "saturated and the management connections on it had {} retransmitted, duplicate or lost segments",
            ev(f, "management TCP retransmissions/duplicates/gaps").unwrap_or("?")
        ),
        ("HVS002", Severity::Low) => {
            "at capacity, but no management session uses this link: nothing on it to stall".into()
        }
        ("HVS002", _) => "saturated, but no management connection on it lost or repeated a segment".into(),
        ("HVS003", Severity::High) => "the client never moved to the CSV owner within the capture".into(),
        ("HVS003", Severity::Medium) => "the client moved to the owner; IO was redirected until then".into(),
        ("HVS003", _) => "ownership layout from the inventory; no traffic shows harm".into(),
        ("HVS004", Severity::High) => format!(
            "live migration where it is not meant to be: {}",
            ev(f, "why it is unintended").unwrap_or("see the evidence")
        ),
        ("HVS004", _) => "the network is meant for it, but heartbeats share it".into(),
        ("HVS005", _) => "a slow migration costs time, not availability".into(),
        ("HVS006", Severity::Critical) => format!(
            "{} node-wide failures within {:.0} min: the node is quarantined",
            th.quarantine_failures,
            th.quarantine_window_s / 60.0
        ),
        ("HVS006", Severity::High) => format!(
            "no peer heard the node for more than {} heartbeats (the 2016+ threshold): it leaves the membership",
            th.heartbeat_threshold
        ),
        ("HVS006", _) => format!(
            "more than {} heartbeats missed (the 2012 R2 threshold) but not {} (2016+), or one network only",
            th.heartbeat_threshold_legacy, th.heartbeat_threshold
        ),
        ("HVS007", Severity::High) => format!(
            "retransmitted or duplicated segments at 5x the {} threshold or more",
            pct(th.tcp_bad_rate)
        ),
        ("HVS007", _) => format!(
            "retransmitted or duplicated segments above the {} threshold",
            pct(th.tcp_bad_rate)
        ),
        ("HVS008", Severity::Info) => {
            "the counters claim more than the node's links can carry: a counter problem, not traffic".into()
        }
        ("HVS008", _) => "bytes no capture can see: the attribution is incomplete, not a fault by itself".into(),
        ("HVS009", _) => "every write of the volume went over the network to the CSV owner".into(),
        ("HVS010", _) => "a caveat on attribution, not a fault".into(),
        ("HVS011", _) => "performance: SMB over TCP where RDMA is available".into(),
        _ => return sev.into(),
    };
    format!("{sev}: {why}")
}

/// Puts the "severity" line first in every finding's evidence.
pub fn explain(list: &mut [Finding], th: &Thresholds) {
    for f in list {
        if f.evidence.iter().any(|(k, _)| k == "severity") {
            continue;
        }
        let r = reason(f, th);
        f.evidence.insert(0, ("severity".into(), r));
    }
}
