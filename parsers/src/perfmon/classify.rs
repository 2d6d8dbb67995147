//! Maps perfmon counters to the traffic roles hvsleuth reports on.
//!
//! Object and counter display names come from /work/shared/DOMAIN.md
//! ("Perfmon"): Cluster CSV File System, Cluster CSV Volume Manager, Cluster
//! CSV Block Redirection, SMB Client/Server Shares, SMB Direct Connection, RDMA
//! Activity, Network Interface / Network Adapter, Hyper-V VM Live Migration,
//! Cluster NetFt Heartbeats, Processor. Matching is case-insensitive.
//!
//! "Hyper-V VM Live Migration" (instances `<VM>:VM Live Migration`): the
//! counter names were confirmed from a public PowerShell perf-collection
//! script listing them for WS2012R2/2016 (`TCP Transport: Bytes Sent/sec`,
//! `TCP Transport: Bytes Received/sec`, `SMB Transport: Bytes Sent/sec`,
//! `SMB Transport: Bytes Sent`, plus Memory Walker / Compressor / Receiver
//! pipeline counters). Only the transport byte counters are wire traffic and
//! classified as live migration; pipeline and "pending" byte counters would
//! double-count and are left unknown (kept, listed). With SMB transport the
//! wire bytes also appear in the SMB/RDMA counters.
//!
//! "SMB Direct Connection" counters are matched on "bytes" plus direction
//! words rather than exact names (not confirmed from documentation).

/// What a counter measures, for role attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CounterRole {
    /// CSV IO that went through the coordinator over SMB (redirected IO).
    RedirectedIo,
    /// CSV IO in total (direct and redirected), for ratios.
    CsvIo,
    /// CSV volume state / pause counters.
    CsvState,
    /// Live-migration transport bytes.
    LiveMigration,
    /// SMB share IO (per share instance).
    Storage,
    /// Bytes carried by SMB Direct (RDMA) connections.
    SmbDirect,
    /// RDMA adapter bytes (invisible to packet captures).
    Rdma,
    /// Per-NIC byte rates.
    NicTotal,
    /// Per-NIC link speed ("Current Bandwidth", bits per second).
    NicBandwidth,
    /// CPU utilisation.
    Cpu,
    /// Cluster heartbeats missed (NetFT).
    MissingHeartbeats,
}

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CounterDirection {
    Read,
    Write,
    Sent,
    Received,
    Total,
    None,
}

/// Unit of the sampled value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CounterUnit {
    BytesPerSec,
    /// A byte count (cumulative or per interval, not a rate).
    Bytes,
    /// Bits per second (link speed).
    BitsPerSec,
    Percent,
    Count,
    Other,
}

/// Classification of one counter column. `role == None` means unknown: the
/// column is kept and listed, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CounterClass {
    pub role: Option<CounterRole>,
    pub direction: CounterDirection,
    pub unit: CounterUnit,
}

impl CounterClass {
    const UNKNOWN: Self = Self {
        role: None,
        direction: CounterDirection::None,
        unit: CounterUnit::Other,
    };
}

fn unit_of(counter: &str) -> CounterUnit {
    if counter.starts_with('%') {
        CounterUnit::Percent
    } else if counter.contains("bytes") && (counter.contains("/sec") || counter.contains("per sec"))
    {
        // "Bytes/sec", "Bytes Sent/sec", "IO Read Bytes/sec - Redirected".
        CounterUnit::BytesPerSec
    } else if counter.contains("bytes") {
        CounterUnit::Bytes
    } else if counter.contains("/sec") || counter.contains("count") || counter.contains("missing") {
        CounterUnit::Count
    } else {
        CounterUnit::Other
    }
}

fn direction_of(counter: &str) -> CounterDirection {
    if counter.contains("read") {
        CounterDirection::Read
    } else if counter.contains("write") || counter.contains("written") {
        CounterDirection::Write
    } else if counter.contains("sent") || counter.contains("outbound") || counter.contains("send") {
        CounterDirection::Sent
    } else if counter.contains("received")
        || counter.contains("inbound")
        || counter.contains("receive")
    {
        CounterDirection::Received
    } else if counter.contains("total") || counter.contains("data bytes") {
        CounterDirection::Total
    } else {
        CounterDirection::None
    }
}

/// Classifies a counter path by its object and counter names.
pub fn classify(path: &super::CounterPath) -> CounterClass {
    let object = path.object.to_ascii_lowercase();
    let counter = path.counter.to_ascii_lowercase();
    let unit = unit_of(&counter);
    let direction = direction_of(&counter);
    let with = |role| CounterClass {
        role: Some(role),
        direction,
        unit,
    };
    let bytes = counter.contains("bytes");
    match object.as_str() {
        "cluster csv file system"
        | "cluster csv volume manager"
        | "cluster csv block redirection" => {
            if bytes && counter.contains("redirect") {
                with(CounterRole::RedirectedIo)
            } else if object == "cluster csv block redirection" && bytes {
                // Every byte counted by Block Redirection is redirected by definition.
                with(CounterRole::RedirectedIo)
            } else if bytes {
                with(CounterRole::CsvIo)
            } else if counter.contains("redirect") {
                // Redirected operation rates (e.g. "Redirected Writes/sec").
                CounterClass {
                    role: Some(CounterRole::RedirectedIo),
                    direction,
                    unit: CounterUnit::Count,
                }
            } else if counter.contains("state") || counter.contains("pause") {
                CounterClass {
                    role: Some(CounterRole::CsvState),
                    direction: CounterDirection::None,
                    unit: CounterUnit::Count,
                }
            } else {
                CounterClass::UNKNOWN
            }
        }
        "smb client shares" | "smb server shares" if bytes => {
            if counter.contains("smb direct") || counter.contains("rdma") {
                with(CounterRole::SmbDirect)
            } else {
                with(CounterRole::Storage)
            }
        }
        "smb direct connection" if bytes => with(CounterRole::SmbDirect),
        "rdma activity" if bytes => with(CounterRole::Rdma),
        "network interface" | "network adapter" => {
            if counter == "current bandwidth" {
                CounterClass {
                    role: Some(CounterRole::NicBandwidth),
                    direction: CounterDirection::None,
                    unit: CounterUnit::BitsPerSec,
                }
            } else if bytes {
                with(CounterRole::NicTotal)
            } else {
                CounterClass::UNKNOWN
            }
        }
        "processor" | "processor information" if counter == "% processor time" => CounterClass {
            role: Some(CounterRole::Cpu),
            direction: CounterDirection::None,
            unit: CounterUnit::Percent,
        },
        "cluster netft heartbeats" if counter.contains("missing heartbeats") => CounterClass {
            role: Some(CounterRole::MissingHeartbeats),
            direction: CounterDirection::None,
            unit: CounterUnit::Count,
        },
        o if o.contains("live migration")
            && bytes
            && (counter.starts_with("tcp transport:") || counter.starts_with("smb transport:"))
            && !counter.contains("pending") =>
        {
            with(CounterRole::LiveMigration)
        }
        _ => CounterClass::UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::super::CounterPath;
    use super::*;

    fn c(p: &str) -> CounterClass {
        classify(&CounterPath::parse(p))
    }

    #[test]
    fn roles() {
        let r = c(r"\\n2\Cluster CSV File System(Volume1)\Redirected Write Bytes/sec");
        assert_eq!(
            (r.role, r.direction, r.unit),
            (
                Some(CounterRole::RedirectedIo),
                CounterDirection::Write,
                CounterUnit::BytesPerSec
            )
        );
        let r = c(r"\\n2\Cluster CSV Volume Manager(Volume1)\IO Read Bytes/sec - Redirected");
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::RedirectedIo), CounterDirection::Read)
        );
        let r = c(r"\\n2\Cluster CSV File System(Volume1)\IO Read Bytes/sec");
        assert_eq!(r.role, Some(CounterRole::CsvIo));
        let r = c(r"\\n2\Cluster CSV File System(Volume1)\Volume State");
        assert_eq!(r.role, Some(CounterRole::CsvState));
        let r = c(r"\\n1\RDMA Activity(Mellanox ConnectX-4)\RDMA Outbound Bytes/sec");
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::Rdma), CounterDirection::Sent)
        );
        let r = c(r"\\n1\Network Interface(storage)\Bytes Received/sec");
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::NicTotal), CounterDirection::Received)
        );
        let r = c(r"\\n1\Network Adapter(storage)\Bytes Total/sec");
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::NicTotal), CounterDirection::Total)
        );
        let r = c(r"\\n1\Network Interface(mgmt)\Current Bandwidth");
        assert_eq!(
            (r.role, r.unit),
            (Some(CounterRole::NicBandwidth), CounterUnit::BitsPerSec)
        );
        let r = c(r"\\n1\SMB Client Shares(\\sofs\vms)\Write Bytes/sec");
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::Storage), CounterDirection::Write)
        );
        let r = c(
            r"\\n1\Hyper-V VM Live Migration(vm1:VM Live Migration)\TCP Transport: Bytes Sent/sec",
        );
        assert_eq!(
            (r.role, r.direction, r.unit),
            (
                Some(CounterRole::LiveMigration),
                CounterDirection::Sent,
                CounterUnit::BytesPerSec
            )
        );
        let r = c(
            r"\\n1\Hyper-V VM Live Migration(vm1:VM Live Migration)\TCP Transport: Bytes Received/sec",
        );
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::LiveMigration), CounterDirection::Received)
        );
        assert_eq!(c(r"\\n1\Hyper-V VM Live Migration(vm1:VM Live Migration)\TCP Transport: Bytes Pending Send").role, None);
        assert_eq!(c(r"\\n1\Hyper-V VM Live Migration(vm1:VM Live Migration)\Compressor: Compressed Bytes Sent/sec").role, None);
        let r =
            c(r"\\n1\Hyper-V VM Live Migration(vm1:VM Live Migration)\SMB Transport: Bytes Sent");
        assert_eq!(
            (r.role, r.direction, r.unit),
            (
                Some(CounterRole::LiveMigration),
                CounterDirection::Sent,
                CounterUnit::Bytes
            )
        );
        let r = c(r"\\n1\Processor(_Total)\% Processor Time");
        assert_eq!(
            (r.role, r.unit),
            (Some(CounterRole::Cpu), CounterUnit::Percent)
        );
        let r = c(r"\\n1\Cluster NetFt Heartbeats(Node3)\Missing heartbeats");
        assert_eq!(r.role, Some(CounterRole::MissingHeartbeats));
        let r = c(r"\\n2\Cluster CSV File System(Volume1)\Redirected Writes/sec");
        assert_eq!(
            (r.role, r.direction, r.unit),
            (
                Some(CounterRole::RedirectedIo),
                CounterDirection::Write,
                CounterUnit::Count
            )
        );
        let r = c(r"\\n1\SMB Direct Connection(_Total)\Bytes RDMA Written/sec");
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::SmbDirect), CounterDirection::Write)
        );
        let r = c(r"\\n1\SMB Client Shares(\\sofs\vms)\Write Bytes transmitted via SMB Direct/sec");
        assert_eq!(r.role, Some(CounterRole::SmbDirect));
        let r = c(r"\\n1\SMB Server Shares(\\n1\vms)\Data Bytes/sec");
        assert_eq!(
            (r.role, r.direction),
            (Some(CounterRole::Storage), CounterDirection::Total)
        );
        assert_eq!(c(r"\\n1\Memory\Available MBytes").role, None);
        assert_eq!(c(r"\\n1\Network Interface(x)\Packets/sec").role, None);
    }
}
