//! What a cluster.log entry is about, judged from its component and words.
//!
//! The cluster log has no stable message catalogue; phrasing changes between
//! Windows versions. We match keyword families, not exact sentences:
//! - Windows 2000 Resource Kit "Interpreting the Cluster Log" (public excerpt):
//!   `[NM] Communication was lost with interface ...`, `[ClMsg] Received
//!   interface unreachable event for node 1 network 1`, `[EP] Nodes down event
//!   received`, regroup entries tagged `[RGP]`.
//! - Windows Server 2016 "Failover Cluster Troubleshooting Enhancements -
//!   Cluster Log" (Microsoft clustering blog, 2015) and DOMAIN.md: isolation,
//!   quarantine, NetFT routes/heartbeats, GUM, CSV (`[DCM]`, `[CSVFS]`)
//!   redirected/paused state changes.
//! - Real Windows Server 2012+ cluster.log excerpts quoted in the public blog
//!   post "Prevent Unexpected Failovers When Patching AGs" (a two-node SQL AG
//!   cluster): `[IM] got event: Remote endpoint A:~3343~ unreachable from
//!   B:~3343~`, `[IM] Marking Route from A to B as down`, `[IM] got event:
//!   LocalEndpoint A has missed two consecutive heartbeats from B`, `[CHM]
//!   Received notification for two consecutive missed HBs ...`, `[NETFTAPI]
//!   Signaled NetftRemoteUnreachable / NetftRemoteReachable event`, `[SV] New
//!   real route: ...`, `[RGP] node 2: Node Disconnected 1 ...`, `[CORE] Node 2:
//!   New View is <ViewChanged joiners=() downers=(1) ...>`, `[NODE] Node 2: New
//!   join with n1: stage: 'Join Succeeded'`, `[GUM] Node 2: Executing locally
//!   gumId: 357, ...`, `ERR Quorum lost because failed to update witness epoch`.
//!
//! Words are matched case-insensitively; the first matching rule wins, from
//! the most specific (quarantine) to the broadest (any `[GUM]` line).

/// Kinds of cluster.log entries hvsleuth puts on its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterLogKind {
    /// A node was quarantined (or quarantine cleared).
    Quarantine,
    /// A node entered or left isolation.
    Isolation,
    /// A CSV volume went into redirected IO.
    CsvRedirected,
    /// A CSV volume was paused (or resumed).
    CsvPaused,
    /// Another CSV state change.
    CsvStateChange,
    /// Membership regroup.
    Regroup,
    /// A node left or was removed from membership.
    NodeDown,
    /// A node joined membership.
    NodeUp,
    /// A NetFT route / interface went down or became unreachable, a
    /// connection to a node broke, heartbeats were missed.
    RouteDown,
    /// A NetFT route / interface came (back) up.
    RouteUp,
    /// The node lost quorum (the cluster service stops on it).
    QuorumLost,
    /// Global Update Manager activity.
    Gum,
    /// Not classified (only delivered with `keep_unclassified`).
    Other,
}

fn has(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// Classifies an entry; `None` = not one of the kinds we track.
pub fn classify(component: Option<&str>, text: &str) -> Option<ClusterLogKind> {
    use ClusterLogKind::*;
    let t = text.to_ascii_lowercase();
    let comp = component
        .and_then(|c| c.split_whitespace().next())
        .unwrap_or("")
        .to_ascii_uppercase();
    let comp = comp.as_str();
    if t.contains("quarantin") || comp == "QUARANTINE" {
        return Some(Quarantine);
    }
    if t.contains("isolat") {
        return Some(Isolation);
    }
    let csv_comp = matches!(comp, "DCM" | "CSVFS" | "CSVFLT" | "CSVVBUS" | "CSV" | "CAM");
    if csv_comp || has(&t, &["csv", "cluster shared volume"]) {
        // "state change ... Direct -> FileSystemRedirected" and back: a
        // transition either way; lines that only announce redirection: CsvRedirected.
        if t.contains("state change") {
            return Some(CsvStateChange);
        }
        if t.contains("redirect") {
            return Some(CsvRedirected);
        }
        if has(&t, &["paused", "pause ", "resum"]) {
            return Some(CsvPaused);
        }
        if has(&t, &["state", "draining", "set down", "setdown"]) {
            return Some(CsvStateChange);
        }
    }
    if comp == "RGP" || t.contains("regroup") {
        return Some(Regroup);
    }
    if has(&t, &["quorum lost", "lost quorum"]) {
        return Some(QuorumLost);
    }
    // `New View is <ViewChanged joiners=(2) downers=() .../>`: the accepted view.
    if t.contains("new view is") && t.contains("<viewchanged") {
        let nonempty = |key: &str| {
            t.find(key)
                .and_then(|i| t.as_bytes().get(i + key.len()))
                .is_some_and(|&c| c != b')')
        };
        if nonempty("downers=(") {
            return Some(NodeDown);
        }
        if nonempty("joiners=(") {
            return Some(NodeUp);
        }
    }
    let net_comp = matches!(
        comp,
        "NETFT" | "NETFTAPI" | "IM" | "TM" | "CHANNEL" | "CLMSG" | "CHM" | "SV" | "NETINTERFACE"
    );
    let route_words = has(
        &t,
        &[
            "route",
            "heartbeat",
            "missed hbs",
            "interface",
            "connection to node",
            "endpoint",
        ],
    );
    // Strong words mark a loss on their own under a network component; weak ones
    // only with a route word (`[NETFTAPI] Failed to query parameters` is not a route loss).
    let strong_down = has(
        &t,
        &[
            "unreachable",
            "missed",
            " lost",
            "as down",
            "is down",
            "broken",
        ],
    );
    let weak_down = has(&t, &["failure", "failed", "timed out", "timeout", " down"]);
    if (net_comp || route_words) && strong_down || route_words && weak_down {
        return Some(RouteDown);
    }
    if (net_comp || route_words)
        && has(
            &t,
            &[
                "as up",
                "is up",
                "reachable",
                "restored",
                "established",
                "recovered",
                "new real route",
            ],
        )
    {
        return Some(RouteUp);
    }
    let node_comp = matches!(comp, "NM" | "NODE" | "MM" | "EP" | "JPM" | "QUORUM");
    if node_comp || t.contains("node") {
        if has(
            &t,
            &[
                "node down",
                "nodes down",
                "node is down",
                "removed from the active",
                "removed from membership",
                "declared down",
                "leaving membership",
            ],
        ) {
            return Some(NodeDown);
        }
        if has(
            &t,
            &[
                "node up",
                "nodes up",
                "node is up",
                "joined the cluster",
                "has joined",
                "join succeeded",
            ],
        ) {
            return Some(NodeUp);
        }
    }
    if comp == "GUM" {
        return Some(Gum);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::ClusterLogKind::*;
    use super::*;

    #[test]
    fn rules() {
        let c = |comp: Option<&str>, t: &str| classify(comp, t);
        assert_eq!(
            c(
                Some("NODE"),
                "Node 2 was quarantined until 2026/03/10-15:02:04"
            ),
            Some(Quarantine)
        );
        assert_eq!(
            c(Some("NODE"), "Node 2 has entered the Isolated state"),
            Some(Isolation)
        );
        assert_eq!(
            c(Some("DCM"), "Volume1 is now in redirected access"),
            Some(CsvRedirected)
        );
        assert_eq!(c(None, "CSV volume Volume1 paused"), Some(CsvPaused));
        assert_eq!(
            c(Some("CSVFS"), "volume state change to Draining"),
            Some(CsvStateChange)
        );
        assert_eq!(c(Some("RGP"), "node 1: Node Disconnected 2"), Some(Regroup));
        assert_eq!(c(Some("EP"), "Nodes down event received"), Some(NodeDown));
        assert_eq!(
            c(
                Some("NM"),
                "Communication was lost with interface 0bd6 (node: NODE1, network: interconnect)"
            ),
            Some(RouteDown)
        );
        assert_eq!(
            c(
                Some("ClMsg"),
                "Received interface unreachable event for node 1 network 1"
            ),
            Some(RouteDown)
        );
        assert_eq!(
            c(
                Some("IM"),
                "Route from local 10.0.1.11:~3343~ to remote 10.0.1.12:~3343~ is up"
            ),
            Some(RouteUp)
        );
        assert_eq!(
            c(Some("GUM"), "Node 1: Processing RequestLock 2:123"),
            Some(Gum)
        );
        assert_eq!(
            c(Some("RES"), "Physical Disk <Cluster Disk 1>: Online"),
            None
        );
        assert_eq!(c(None, ""), None);
    }
}
