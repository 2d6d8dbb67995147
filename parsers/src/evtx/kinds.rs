//! Event IDs hvsleuth puts on its timeline.
//!
//! FailoverClustering IDs and meanings: WSD failover-clustering/system-events.md
//! as summarised in DOMAIN.md ("Windows event logs and cluster.log"). SMB
//! client IDs: 30701-30705 multichannel, 30800-30818 connectivity (DOMAIN.md).

/// Timeline meaning of a Windows event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterEventKind {
    /// 5120: CSV paused.
    CsvPaused,
    /// 5121: CSV no longer directly accessible, IO redirected.
    CsvRedirected,
    /// 5124 / 5125: a filter driver caused redirected access.
    CsvFilterRedirected,
    /// 5136: redirected access turned on.
    CsvRedirectedAccessOn,
    /// 5142: CSV no longer accessible.
    CsvNotAccessible,
    /// 5148: CSV IO mode change.
    CsvIoModeChange,
    /// 5157: CSV auto-paused.
    CsvAutoPaused,
    /// 1135: node removed from active membership.
    NodeRemoved,
    /// 1177: quorum lost.
    QuorumLost,
    /// 1125: cluster network interface unreachable.
    InterfaceUnreachable,
    /// 1127: cluster network interface failed.
    InterfaceFailed,
    /// 1129: cluster network partitioned.
    NetworkPartitioned,
    /// 1130: cluster network down.
    NetworkDown,
    /// 1672: node quarantined.
    NodeQuarantined,
    /// 1675 / 1676: quarantine events.
    Quarantine,
    /// 1673: node entered isolation.
    IsolationEntered,
    /// 1680: node left isolation.
    IsolationExited,
    /// 1681: VMs unmonitored (node isolated).
    VmsUnmonitored,
    /// 1682: VMs monitored again.
    VmsRemonitored,
    /// Other IDs in 1672..=1682.
    IsolationQuarantineOther,
    /// SMBClient 30701-30705.
    SmbMultichannel,
    /// SMBClient 30800-30818.
    SmbConnectivity,
    /// Any SMBServer event.
    SmbServer,
    /// Any SMBWitnessClient event.
    SmbWitness,
}

impl ClusterEventKind {
    /// Short human description for timelines.
    pub fn describe(self) -> &'static str {
        use ClusterEventKind::*;
        match self {
            CsvPaused => "CSV paused",
            CsvRedirected => "CSV no longer directly accessible: IO redirected",
            CsvFilterRedirected => "CSV redirected access caused by a filter driver",
            CsvRedirectedAccessOn => "CSV redirected access turned on",
            CsvNotAccessible => "CSV no longer accessible",
            CsvIoModeChange => "CSV IO mode changed",
            CsvAutoPaused => "CSV auto-paused",
            NodeRemoved => "node removed from active cluster membership",
            QuorumLost => "cluster quorum lost",
            InterfaceUnreachable => "cluster network interface unreachable",
            InterfaceFailed => "cluster network interface failed",
            NetworkPartitioned => "cluster network partitioned",
            NetworkDown => "cluster network down",
            NodeQuarantined => "node quarantined",
            Quarantine => "node quarantine event",
            IsolationEntered => "node entered isolation",
            IsolationExited => "node left isolation",
            VmsUnmonitored => "VMs unmonitored (node isolated)",
            VmsRemonitored => "VMs monitored again",
            IsolationQuarantineOther => "isolation/quarantine event",
            SmbMultichannel => "SMB client multichannel event",
            SmbConnectivity => "SMB client connectivity event",
            SmbServer => "SMB server event",
            SmbWitness => "SMB witness client event",
        }
    }
}

/// Classifies by provider name (case-insensitive, `Microsoft-Windows-` optional) and ID.
pub fn classify_event(provider: &str, event_id: u32) -> Option<ClusterEventKind> {
    use ClusterEventKind::*;
    let prefix = "microsoft-windows-";
    let p = match provider.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => &provider[prefix.len()..],
        _ => provider,
    };
    let starts = |name: &str| {
        p.get(..name.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(name))
    };
    if starts("failoverclustering") {
        return Some(match event_id {
            5120 => CsvPaused,
            5121 => CsvRedirected,
            5124 | 5125 => CsvFilterRedirected,
            5136 => CsvRedirectedAccessOn,
            5142 => CsvNotAccessible,
            5148 => CsvIoModeChange,
            5157 => CsvAutoPaused,
            1135 => NodeRemoved,
            1177 => QuorumLost,
            1125 => InterfaceUnreachable,
            1127 => InterfaceFailed,
            1129 => NetworkPartitioned,
            1130 => NetworkDown,
            1672 => NodeQuarantined,
            1675 | 1676 => Quarantine,
            1673 => IsolationEntered,
            1680 => IsolationExited,
            1681 => VmsUnmonitored,
            1682 => VmsRemonitored,
            1674..=1679 => IsolationQuarantineOther,
            _ => return None,
        });
    }
    if p.eq_ignore_ascii_case("smbclient") {
        match event_id {
            30701..=30705 => Some(SmbMultichannel),
            30800..=30818 => Some(SmbConnectivity),
            _ => None,
        }
    } else if p.eq_ignore_ascii_case("smbserver") {
        Some(SmbServer)
    } else if p.eq_ignore_ascii_case("smbwitnessclient") {
        Some(SmbWitness)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::ClusterEventKind::*;
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(
            classify_event("Microsoft-Windows-FailoverClustering", 5121),
            Some(CsvRedirected)
        );
        assert_eq!(
            classify_event("FailoverClustering", 1673),
            Some(IsolationEntered)
        );
        assert_eq!(
            classify_event("Microsoft-Windows-FailoverClustering", 1678),
            Some(IsolationQuarantineOther)
        );
        assert_eq!(
            classify_event("Microsoft-Windows-FailoverClustering", 1069),
            None
        );
        assert_eq!(
            classify_event("Microsoft-Windows-SMBClient", 30703),
            Some(SmbMultichannel)
        );
        assert_eq!(
            classify_event("Microsoft-Windows-SMBClient", 30810),
            Some(SmbConnectivity)
        );
        assert_eq!(classify_event("Microsoft-Windows-SMBClient", 31001), None);
        assert_eq!(
            classify_event("Microsoft-Windows-SMBServer", 1020),
            Some(SmbServer)
        );
        assert_eq!(
            classify_event("Microsoft-Windows-SMBWitnessClient", 8),
            Some(SmbWitness)
        );
        assert_eq!(
            classify_event("Microsoft-Windows-Security-Auditing", 5121),
            None
        );
    }
}
