//! Corpus tests: our figures against tshark 4.0's for every SMB capture of
//! the public corpus, through the test harness (see `harness.rs`).

use std::collections::BTreeMap;

use super::harness::run;

/// Expected figures per capture, from tshark 4.0.17:
/// commands: `tshark -r F -T fields -E occurrence=a -e smb2.cmd -e smb2.flags.response`
///   (every comma-separated element counted, mapped from the numeric code to the MS-SMB2 name);
/// write bytes: `tshark -r F -Y 'smb2.write_length && smb2.flags.response==0' -T fields
///   -E occurrence=a -e smb2.write_length` summed;
/// read bytes: `tshark -r F -Y 'smb2.cmd==8 && smb2.flags.response==1 && (smb2.nt_status==0 ||
///   smb2.nt_status==0x80000005)' -T fields -e smb2.olb.length` summed.
const EXPECTED: &[(&str, &str, u64, u64)] = &[
    ("zeek/smb3.pcap", "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=4", 0, 0),
    ("zeek/smb311.pcap", "NEGOTIATE=2 SESSION_SETUP=4", 0, 0),
    (
        "zeek/smb3_multichannel.pcap",
        "NEGOTIATE=8 SESSION_SETUP=120 TREE_CONNECT=2 CREATE=162 CLOSE=136 READ=74 WRITE=36 IOCTL=2 QUERY_DIRECTORY=8 QUERY_INFO=174 SET_INFO=128 OPLOCK_BREAK=1",
        1366632,
        1018212,
    ),
    ("zeek/smb3_negotiate_context.pcap", "NEGOTIATE=3", 0, 0),
    (
        "zeek/smb2readwrite.pcap",
        "CREATE=12 CLOSE=8 READ=2 WRITE=2 IOCTL=2 QUERY_DIRECTORY=8 CHANGE_NOTIFY=6 QUERY_INFO=14",
        7000,
        16,
    ),
    (
        "zeek/smb2.pcap",
        "NEGOTIATE=1 SESSION_SETUP=4 TREE_CONNECT=4 CREATE=12 CLOSE=8 READ=2 WRITE=50 IOCTL=2 QUERY_DIRECTORY=4 QUERY_INFO=8 SET_INFO=4",
        1509055,
        92,
    ),
    (
        "zeek/smb2.delete-on-close-perms-delete-existing.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=2 CREATE=18 CLOSE=12 QUERY_DIRECTORY=4 QUERY_INFO=4 SET_INFO=4",
        0,
        0,
    ),
    (
        "zeek/smb2-zero-byte-error-ioctl.pcapng",
        "NEGOTIATE=3 SESSION_SETUP=4 TREE_CONNECT=6 TREE_DISCONNECT=4 CREATE=12 CLOSE=12 IOCTL=24 QUERY_INFO=6",
        0,
        0,
    ),
    ("zeek/smb2-multiple-pdus.pcap", "CREATE=2 CLOSE=2 SET_INFO=2", 0, 0),
    ("zeek/smb2_fscontrol.pcap", "SET_INFO=1", 0, 0),
    ("zeek/SMBGhost.pcap", "NEGOTIATE=2", 0, 0),
    (
        "zeek/smb_many_open_files_500.pcap.gz",
        "NEGOTIATE=3 SESSION_SETUP=4 TREE_CONNECT=8 TREE_DISCONNECT=4 CREATE=83 CLOSE=76 READ=8 LOCK=8 IOCTL=24 QUERY_DIRECTORY=48 CHANGE_NOTIFY=2 QUERY_INFO=10",
        0,
        16392,
    ),
    ("zeek/cifs_negotiate_lanman.pcap", "", 0, 0),
    (
        "zeek/20-fids.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=2 TREE_DISCONNECT=2 CREATE=40 CLOSE=40 WRITE=40 IOCTL=244",
        9560,
        0,
    ),
    ("zeek/kerberos445_auth.pcapng", "NEGOTIATE=3 SESSION_SETUP=2", 0, 0),
    (
        "zeek/smb2_krb.pcap",
        "NEGOTIATE=3 SESSION_SETUP=2 TREE_CONNECT=4 CREATE=26 CLOSE=18 READ=2 WRITE=2 IOCTL=4 QUERY_DIRECTORY=31 CHANGE_NOTIFY=2 QUERY_INFO=6",
        160,
        68,
    ),
    (
        "suricata-verify/smb2-async-read/input.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=4 TREE_DISCONNECT=4 CREATE=2 CLOSE=2 READ=3 IOCTL=2 QUERY_INFO=2",
        0,
        3164140,
    ),
    (
        "suricata-verify/smb-length-5770/input.pcap",
        "NEGOTIATE=6 SESSION_SETUP=8 LOGOFF=6 TREE_CONNECT=4 CREATE=516 CLOSE=494 FLUSH=8 READ=54 WRITE=20 IOCTL=204 ECHO=64 QUERY_DIRECTORY=178 CHANGE_NOTIFY=16 QUERY_INFO=230 SET_INFO=42 OPLOCK_BREAK=27",
        77997,
        // tshark's first smb2.olb.length per frame gives 31060, but 10 frames are
        // CREATE+READ(+CLOSE) compounds whose first blob is the CREATE's; with the
        // READ's own blob (`-E occurrence=l`) tshark sums 31340.
        31340,
    ),
    (
        "suricata-verify/smb2-01/smb2-peter.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=2 CREATE=114 CLOSE=114 READ=76 WRITE=34 QUERY_DIRECTORY=8 QUERY_INFO=110",
        63061,
        306083,
    ),
    ("suricata-verify/smb3-02-midstream/input.pcap", "TREE_CONNECT=2", 0, 0),
    (
        "suricata-verify/smb2-async/input.pcap",
        "CREATE=3 CLOSE=2 QUERY_INFO=2 SET_INFO=2",
        0,
        0,
    ),
    (
        "ndpi/smb_deletefile.pcap",
        "CREATE=54 CLOSE=54 READ=2 QUERY_DIRECTORY=16 CHANGE_NOTIFY=3 QUERY_INFO=34 SET_INFO=2 OPLOCK_BREAK=3",
        0,
        0,
    ),
    ("wireshark/smb300-aes-128-ccm.pcap.gz", "NEGOTIATE=2 SESSION_SETUP=4", 0, 0),
    ("wireshark/smb311-aes-128-ccm.pcap.gz", "NEGOTIATE=2 SESSION_SETUP=4", 0, 0),
    ("wireshark/smb311-aes-128-gcm.pcap.gz", "NEGOTIATE=2 SESSION_SETUP=4", 0, 0),
    ("wireshark/smb311-aes-256-ccm.pcap.gz", "NEGOTIATE=2 SESSION_SETUP=4", 0, 0),
    ("wireshark/smb311-aes-256-gcm.pcap.gz", "NEGOTIATE=2 SESSION_SETUP=4", 0, 0),
];

fn commands_string(c: &BTreeMap<String, u64>) -> String {
    let order = super::wire::COMMAND_NAMES;
    let mut v: Vec<(usize, String)> = c
        .iter()
        .map(|(k, n)| {
            (
                order.iter().position(|o| o == k).unwrap_or(99),
                format!("{k}={n}"),
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join(" ")
}

#[test]
fn commands_and_bytes_match_tshark() {
    let mut failures = Vec::new();
    for &(file, cmds, write, read) in EXPECTED {
        let r = run(file);
        let rep = r.model.report();
        let got = commands_string(&rep.commands);
        let w: u64 = rep.channels.iter().map(|c| c.write_bytes).sum();
        let rd: u64 = rep.channels.iter().map(|c| c.read_bytes).sum();
        if got != cmds || w != write || rd != read {
            failures.push(format!(
                "{file}:\n  tshark {cmds} write={write} read={read}\n  ours   {got} write={w} read={rd}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
