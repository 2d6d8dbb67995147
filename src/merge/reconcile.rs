//! Reconciliation: per node and interface, the bytes the NIC's perfmon
//! counters ("Network Interface" / "Network Adapter" Bytes Total/sec) report
//! against the bytes the capture of that interface holds, over the counters'
//! window. Large differences point at RDMA (invisible to captures), capture
//! drops, or a capture that was not running.

use serde::Serialize;

use super::attribute::Model;
use crate::evidence::Evidence;
use hvsleuth_parsers::perfmon::CounterRole;
use hvsleuth_reports::Role;

#[derive(Debug, Clone, Serialize)]
pub struct Reconciled {
    pub node: String,
    pub interface: String,
    pub window_start_ns: i64,
    pub window_end_ns: i64,
    /// Integral of Bytes Total/sec over the window.
    pub counter_bytes: u64,
    /// Wire bytes of the matching capture interface in the window.
    pub capture_bytes: u64,
    /// capture / counter (None when the counter shows no bytes).
    pub ratio: Option<f64>,
}

pub fn reconcile(m: &Model, ev: &Evidence) -> Vec<Reconciled> {
    let mut out = Vec::new();
    for c in &ev.counters {
        if c.class.role != Some(CounterRole::NicTotal)
            || !c.path.counter.eq_ignore_ascii_case("Bytes Total/sec")
        {
            continue;
        }
        let Some(inst) = c.path.instance.as_deref() else {
            continue;
        };
        let Some(iface) = m.ifaces.iter().find(|i| {
            i.node.eq_ignore_ascii_case(&c.path.host) && i.interface.eq_ignore_ascii_case(inst)
        }) else {
            continue;
        };
        let (Some(first), Some(last)) = (c.samples.first(), c.samples.last()) else {
            continue;
        };
        // Counter value at t covers (previous sample, t]: the window starts one interval before the first.
        let start = first.0 - c.samples.get(1).map_or(1_000_000_000, |s| s.0 - first.0);
        let end = last.0;
        let counter_bytes = (c.integral() + first.1 * ((first.0 - start) as f64 / 1e9)) as u64;
        let b = m.bucket_ns;
        let capture_bytes: u64 = Role::ALL
            .iter()
            .flat_map(|r| &m.series[iface.id][r.index()])
            .filter(|(k, _)| k * b >= start && (k + 1) * b <= end)
            .map(|(_, cell)| cell.bytes[0] + cell.bytes[1])
            .sum();
        out.push(Reconciled {
            node: iface.node.clone(),
            interface: iface.interface.clone(),
            window_start_ns: start,
            window_end_ns: end,
            counter_bytes,
            capture_bytes,
            ratio: (counter_bytes > 0).then(|| capture_bytes as f64 / counter_bytes as f64),
        });
    }
    out
}
