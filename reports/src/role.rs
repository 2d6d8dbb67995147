//! The roles bytes are attributed to, shared by attribution, tables, charts
//! and reports (so every chart uses the same colour for the same role).

use std::fmt;
use std::str::FromStr;

/// What a byte on an interface was doing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// CSV redirected IO: node-to-node SMB 3 (or NetFT-tunnelled) to the CSV owner.
    RedirectedIo,
    /// Live migration: TCP 6600 or SMB between hosts.
    LiveMigration,
    /// Storage: SMB to file servers / SOFS, iSCSI, SMB Direct.
    Storage,
    /// Cluster: heartbeats and cluster service (UDP/TCP 3343), cluster RPC.
    Cluster,
    /// Management: RDP, WinRM, DNS, Kerberos, LDAP, admin shares, ICMP.
    Management,
    /// Anything else.
    Other,
}

impl Role {
    /// All roles, in the stacking order used by charts (bottom first).
    pub const ALL: [Role; 6] = [
        Role::RedirectedIo,
        Role::LiveMigration,
        Role::Storage,
        Role::Cluster,
        Role::Management,
        Role::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::RedirectedIo => "redirected-io",
            Role::LiveMigration => "live-migration",
            Role::Storage => "storage",
            Role::Cluster => "cluster",
            Role::Management => "management",
            Role::Other => "other",
        }
    }

    /// Index into [`Role::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Chart colour (RGB), the same in every chart and report.
    pub fn color(self) -> (u8, u8, u8) {
        match self {
            Role::RedirectedIo => (214, 39, 40), // red: the incident colour
            Role::LiveMigration => (255, 127, 14), // orange
            Role::Storage => (31, 119, 180),     // blue
            Role::Cluster => (44, 160, 44),      // green
            Role::Management => (148, 103, 189), // purple
            Role::Other => (127, 127, 127),      // grey
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown role {s:?} (expected one of: redirected-io, live-migration, storage, cluster, management, other)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>().unwrap(), r);
            assert_eq!(Role::ALL[r.index()], r);
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.name())
            );
        }
        assert!("mgmt".parse::<Role>().is_err());
    }
}
