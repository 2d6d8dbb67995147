//! Who is who: capture interfaces mapped to nodes and NICs, cluster node
//! addresses, SOFS addresses — from the inventory where it says, otherwise
//! inferred from the traffic, each inferred fact with its reason and confidence.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use hvsleuth_parsers::capture::InterfaceInfo;

use serde::Serialize;

use crate::attribution::rules::Topology;
use crate::inventory::Inventory;

use super::facts::CaptureFacts;

/// One capture interface, placed in the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Iface {
    /// Index into `Model::ifaces`.
    pub id: usize,
    /// Capture file name and interface index within it.
    pub capture: String,
    pub capture_index: u32,
    /// The interface's name in the capture (pcapng `if_name`, or the file name).
    pub capture_if_name: String,
    pub node: String,
    /// Interface alias (inventory) or capture interface name.
    pub interface: String,
    pub link_bps: Option<u64>,
    /// Where `link_bps` came from (inventory, pcapng if_speed, SMB interface list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_from: Option<String>,
    /// The interface's own addresses.
    pub addresses: Vec<IpAddr>,
    /// Placed by the inventory (true) or inferred (false).
    pub from_inventory: bool,
}

/// A fact the tool inferred, with why and how sure it is.
#[derive(Debug, Clone, Serialize)]
pub struct Inferred {
    pub fact: String,
    pub reason: String,
    pub confidence: f32,
    /// The evidence disagrees or does not decide: shown as a conflict.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conflict: bool,
}

impl Inferred {
    pub fn new(fact: String, reason: String, confidence: f32) -> Inferred {
        Inferred {
            fact,
            reason,
            confidence,
            conflict: false,
        }
    }
}

/// Topology facts used by attribution.
#[derive(Debug, Default)]
pub struct Topo {
    pub node_addrs: BTreeSet<IpAddr>,
    pub sofs_addrs: BTreeSet<IpAddr>,
    pub lm_shares: BTreeSet<String>,
    /// Addresses no captured interface owns, placed on a node by evidence.
    pub peer_nodes: BTreeMap<IpAddr, String>,
}

impl Topology for Topo {
    fn is_node(&self, ip: IpAddr) -> bool {
        self.node_addrs.contains(&ip)
    }
    fn is_sofs(&self, ip: IpAddr) -> bool {
        self.sofs_addrs.contains(&ip)
    }
    fn is_lm_share(&self, share: &str) -> bool {
        self.lm_shares.contains(&share.to_ascii_lowercase())
    }
}

pub(crate) fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_multicast() || a.is_broadcast() || a.is_unspecified() || a.octets()[3] == 255)
        }
        IpAddr::V6(a) => !(a.is_multicast() || a.is_unspecified()),
    }
}

/// The node name a capture file suggests: its name up to the first '.'.
fn node_from_file(name: &str) -> String {
    name.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
        .to_string()
}

/// One end of an interface's traffic that may be the interface itself: a MAC
/// (when frames have one) and the unicast addresses sent from it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct End {
    mac: Option<[u8; 6]>,
    ips: Vec<IpAddr>,
}

/// What the traffic of one capture interface says about its own end.
#[derive(Debug, Clone)]
struct Guess {
    file: usize,
    /// Index into the file's `interfaces`.
    info: usize,
    own: Option<End>,
    /// When undecided: the ends either of which may be this interface.
    undecided: Vec<End>,
    reason: String,
    confidence: f32,
    conflict: bool,
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn end_str(e: &End) -> String {
    let ips = e
        .ips
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match e.mac {
        Some(m) if ips.is_empty() => mac_str(&m),
        Some(m) => format!("{} ({ips})", mac_str(&m)),
        None => ips,
    }
}

/// Per file, in one pass over its tables: unicast (src, dst) MAC pairs per
/// interface and the unicast source addresses per (interface, MAC). Linear in
/// the table sizes, whatever the number of interfaces.
type Mac = [u8; 6];
/// Per capture interface: (source MAC, destination MAC, frames).
type PairTable = HashMap<u32, Vec<(Mac, Mac, u64)>>;
/// Per (capture interface, MAC): (source address, frames), most first.
type IpTable = HashMap<(u32, Mac), Vec<(IpAddr, u64)>>;

struct MacTables {
    pairs: PairTable,
    ips: IpTable,
    /// Per capture interface: (MAC, frames) the EPB direction flags give as its own.
    dir: HashMap<u32, Vec<(Mac, u64)>>,
    /// Per capture interface: the MACs `ips` has addresses for.
    macs: HashMap<u32, Vec<Mac>>,
}

impl MacTables {
    fn new(f: &CaptureFacts) -> MacTables {
        let mut pairs: PairTable = HashMap::new();
        for ((i, s, d), n) in &f.mac_pairs {
            pairs.entry(*i).or_default().push((*s, *d, *n));
        }
        let mut ips: IpTable = HashMap::new();
        for ((i, m, ip), n) in &f.mac_ips {
            if is_unicast(*ip) {
                ips.entry((*i, *m)).or_default().push((*ip, *n));
            }
        }
        let mut macs: HashMap<u32, Vec<Mac>> = HashMap::new();
        for (i, m) in ips.keys() {
            macs.entry(*i).or_default().push(*m);
        }
        for v in ips.values_mut() {
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        let mut dir: HashMap<u32, Vec<(Mac, u64)>> = HashMap::new();
        for ((i, m), n) in &f.dir_macs {
            dir.entry(*i).or_default().push((*m, *n));
        }
        MacTables {
            pairs,
            ips,
            dir,
            macs,
        }
    }

    fn end(&self, iface: u32, mac: [u8; 6]) -> End {
        let mut ips: Vec<IpAddr> = self
            .ips
            .get(&(iface, mac))
            .map(|v| v.iter().map(|x| x.0).collect())
            .unwrap_or_default();
        ips.sort();
        End {
            mac: Some(mac),
            ips,
        }
    }
}

/// An interface's own end as the capture tool recorded it: the MAC and
/// addresses of pcapng `if_MACaddr` / `if_IPv4addr` / `if_IPv6addr` options
/// or of pktmon's component table. With addresses but no MAC, the MAC that
/// sent from one of them is taken with them. Direction flags that give
/// another MAC make it a conflict, said so.
fn declared_end(file: usize, info: usize, d: &InterfaceInfo, t: &MacTables) -> Option<Guess> {
    if d.mac.is_none() && d.addresses.is_empty() {
        return None;
    }
    let mac = d.mac.or_else(|| {
        let mut sent: Vec<[u8; 6]> = t
            .macs
            .get(&d.index)
            .into_iter()
            .flatten()
            .filter(|m| {
                t.ips
                    .get(&(d.index, **m))
                    .is_some_and(|v| v.iter().any(|(ip, _)| d.addresses.contains(ip)))
            })
            .copied()
            .collect();
        sent.sort();
        sent.dedup();
        (sent.len() == 1).then(|| sent[0])
    });
    let mut own = match mac {
        Some(m) => t.end(d.index, m),
        None => End {
            mac: None,
            ips: Vec::new(),
        },
    };
    for a in &d.addresses {
        if is_unicast(*a) && !own.ips.contains(a) {
            own.ips.push(*a);
        }
    }
    own.ips.sort();
    let what = match (d.mac, d.addresses.is_empty()) {
        (Some(m), true) => format!("MAC {}", mac_str(&m)),
        (Some(m), false) => format!("MAC {} and addresses", mac_str(&m)),
        (None, _) => "addresses".to_string(),
    };
    let source = if d
        .description
        .as_deref()
        .is_some_and(|x| x.contains("pktmon NIC"))
    {
        "pktmon's component table"
    } else {
        "pcapng interface options"
    };
    let mut reason = format!("the capture tool recorded this NIC's {what} ({source})");
    let flagged = t.dir.get(&d.index).and_then(|v| {
        v.iter()
            .max_by_key(|x| (x.1, std::cmp::Reverse(x.0)))
            .map(|x| x.0)
    });
    let conflict = matches!((flagged, mac), (Some(f), Some(m)) if f != m);
    if let (true, Some(f)) = (conflict, flagged) {
        reason = format!(
            "conflict: {reason}, but the capture direction flags give {} as its own",
            mac_str(&f)
        );
    }
    Some(Guess {
        file,
        info,
        own: Some(own),
        undecided: Vec::new(),
        reason,
        confidence: if conflict { 0.5 } else { 0.99 },
        conflict,
    })
}

/// An interface's own end: the pcapng EPB direction flags when the capture
/// has them (its own word), else [`own_end_frames`].
fn own_end(
    file: usize,
    info: usize,
    iface: u32,
    t: &MacTables,
    seen: &HashMap<u32, HashMap<IpAddr, u64>>,
    ip_packets: &HashMap<(u32, bool), u64>,
) -> Guess {
    if let Some(d) = t.dir.get(&iface) {
        let n: u64 = d.iter().map(|x| x.1).sum();
        if let Some((m, k)) = d.iter().max_by_key(|x| (x.1, std::cmp::Reverse(x.0))) {
            if *k * 100 >= n * 99 {
                return Guess {
                    file,
                    info,
                    own: Some(t.end(iface, *m)),
                    undecided: Vec::new(),
                    reason: format!(
                        "capture direction flags (pcapng EPB flags or ETL send/receive): {k} frames sent from or received at {}",
                        mac_str(m)
                    ),
                    confidence: 0.99,
                    conflict: false,
                };
            }
            let mut g = own_end_frames(file, info, iface, t, seen, ip_packets);
            g.conflict = true;
            g.reason = format!(
                "conflict: the capture direction flags give {} MACs as this NIC's; {}",
                d.len(),
                g.reason
            );
            return g;
        }
    }
    own_end_frames(file, info, iface, t, seen, ip_packets)
}

/// An interface's own end, from evidence that decides it: the MAC present in
/// every unicast frame of the interface (whatever peer it talks to) is its
/// own; its addresses are the source addresses sent from that MAC. With a
/// single peer both MACs are in every frame: undecided here, left to
/// cross-capture evidence. Without MACs: per family, the address present in
/// (nearly) every packet, undecided likewise when two are.
fn own_end_frames(
    file: usize,
    info: usize,
    iface: u32,
    t: &MacTables,
    seen: &HashMap<u32, HashMap<IpAddr, u64>>,
    ip_packets: &HashMap<(u32, bool), u64>,
) -> Guess {
    let mut g = Guess {
        file,
        info,
        own: None,
        undecided: Vec::new(),
        reason: String::new(),
        confidence: 0.3,
        conflict: false,
    };
    if let Some(pairs) = t.pairs.get(&iface).filter(|p| !p.is_empty()) {
        let total: u64 = pairs.iter().map(|p| p.2).sum();
        let mut count: HashMap<[u8; 6], (u64, BTreeSet<[u8; 6]>)> = HashMap::new();
        for (s, d, n) in pairs {
            let e = count.entry(*s).or_default();
            e.0 += n;
            e.1.insert(*d);
            let e = count.entry(*d).or_default();
            e.0 += n;
            e.1.insert(*s);
        }
        // In every frame, allowing 0.1% of frames between other stations
        // (flooded unicast).
        let mut cands: Vec<([u8; 6], usize)> = count
            .iter()
            .filter(|(_, (n, _))| *n * 1000 >= total * 999)
            .map(|(m, (_, peers))| (*m, peers.len()))
            .collect();
        cands.sort();
        match cands.as_slice() {
            [(m, peers)] => {
                g.own = Some(t.end(iface, *m));
                g.reason = format!(
                    "MAC {} is in every unicast frame ({total} frames, {peers} peer MAC{})",
                    mac_str(m),
                    if *peers == 1 { "" } else { "s" }
                );
                g.confidence = 0.95;
            }
            [(a, _), (b, _)] => {
                g.undecided = vec![t.end(iface, *a), t.end(iface, *b)];
            }
            _ => {
                // No MAC in every frame (a mirror port, a bridge): the most
                // frequent one, weakly.
                if let Some((m, _)) = count
                    .iter()
                    .max_by_key(|(m, (n, _))| (*n, std::cmp::Reverse(**m)))
                {
                    g.own = Some(t.end(iface, *m));
                    g.reason = format!(
                        "no MAC is in every frame (mirror port?): the most frequent, {}",
                        mac_str(m)
                    );
                    g.confidence = 0.4;
                }
            }
        }
        return g;
    }
    // Without MACs: per family.
    let mut own = Vec::new();
    for v6 in [false, true] {
        let total = ip_packets.get(&(iface, v6)).copied().unwrap_or(0);
        if total == 0 {
            continue;
        }
        let mut c: Vec<IpAddr> = seen
            .get(&iface)
            .into_iter()
            .flatten()
            .filter(|(ip, n)| ip.is_ipv6() == v6 && **n * 1000 >= total * 999)
            .map(|(ip, _)| *ip)
            .collect();
        c.sort();
        match c.as_slice() {
            [ip] => own.push(*ip),
            [a, b] if g.undecided.is_empty() => {
                g.undecided = vec![
                    End {
                        mac: None,
                        ips: vec![*a],
                    },
                    End {
                        mac: None,
                        ips: vec![*b],
                    },
                ];
            }
            _ => {}
        }
    }
    if !own.is_empty() {
        g.reason = format!(
            "address{} in every packet of {} family",
            if own.len() > 1 { "es" } else { "" },
            if own.len() > 1 { "each" } else { "its" }
        );
        g.confidence = if g.undecided.is_empty() { 0.8 } else { 0.6 };
        g.own = Some(End {
            mac: None,
            ips: own,
        });
        g.undecided.clear();
    }
    g
}

/// Decides undecided interfaces from the other captures: an address (or MAC)
/// belongs to one NIC of one node, so the end another capture owns is not
/// this one; the addresses an SMB server lists for itself
/// (FSCTL_QUERY_NETWORK_INTERFACE_INFO) belong to one node. When both ends of
/// a link were captured and nothing decides, the two captures take one end
/// each, said to be arbitrary; what stays undecided is marked a conflict.
fn resolve(
    guesses: &mut [Guess],
    names: &[String],
    smb_groups: &[BTreeSet<IpAddr>],
    files: &[CaptureFacts],
) {
    let owned = |gs: &[Guess]| {
        let mut ip: HashMap<IpAddr, usize> = HashMap::new();
        let mut mac: HashMap<[u8; 6], usize> = HashMap::new();
        for g in gs {
            if let Some(e) = &g.own {
                for i in &e.ips {
                    ip.entry(*i).or_insert(g.file);
                }
                if let Some(m) = e.mac {
                    mac.entry(m).or_insert(g.file);
                }
            }
        }
        (ip, mac)
    };
    let other_owner = |ip: &HashMap<IpAddr, usize>, mac: &HashMap<[u8; 6], usize>, e: &End, f| {
        e.mac
            .and_then(|m| mac.get(&m).copied())
            .filter(|o| *o != f)
            .or_else(|| {
                e.ips
                    .iter()
                    .find_map(|i| ip.get(i).copied().filter(|o| *o != f))
            })
    };
    for _ in 0..8 {
        let (ip, mac) = owned(guesses);
        let reference = machine_answer_times(guesses, files);
        let mut changed = false;
        for g in guesses
            .iter_mut()
            .filter(|g| g.own.is_none() && g.undecided.len() == 2)
        {
            let gf = g.file;
            let by_other: Vec<Option<usize>> = g
                .undecided
                .iter()
                .map(|e| other_owner(&ip, &mac, e, gf))
                .collect();
            // The SMB server's own list: same node as this capture, or another.
            let smb_side = |e: &End| -> Option<bool> {
                let grp = smb_groups
                    .iter()
                    .find(|s| e.ips.iter().any(|i| s.contains(i)))?;
                grp.iter().find_map(|i| ip.get(i).map(|o| *o == gf))
            };
            const ONE_NIC: &str = " (an address belongs to one NIC)";
            let pick = match (by_other[0], by_other[1]) {
                (Some(o), None) => Some((1, 0, format!("its peer {} is {}'s NIC", end_str(&g.undecided[0]), names[o]), 0.85, ONE_NIC)),
                (None, Some(o)) => Some((0, 1, format!("its peer {} is {}'s NIC", end_str(&g.undecided[1]), names[o]), 0.85, ONE_NIC)),
                (Some(_), Some(_)) => {
                    g.conflict = true;
                    g.reason = format!(
                        "conflict: both ends {} and {} belong to NICs of other captures",
                        end_str(&g.undecided[0]),
                        end_str(&g.undecided[1])
                    );
                    g.undecided.clear();
                    None
                }
                (None, None) => match (smb_side(&g.undecided[0]), smb_side(&g.undecided[1])) {
                    (Some(true), _) | (_, Some(false)) => Some((0, 1, "the SMB server listing it as its interface (FSCTL_QUERY_NETWORK_INTERFACE_INFO) also lists this capture's own address".to_string(), 0.85, ONE_NIC)),
                    (_, Some(true)) | (Some(false), _) => Some((1, 0, "the SMB server listing it as its interface (FSCTL_QUERY_NETWORK_INTERFACE_INFO) also lists this capture's own address".to_string(), 0.85, ONE_NIC)),
                    _ => {
                        let iface = files
                            .get(gf)
                            .and_then(|f| Some((f, f.interfaces.get(g.info)?.index)));
                        match iface.map(|(f, i)| end_by_answer_time(f, i, &g.undecided, reference.get(&gf).copied())) {
                            Some(AnswerVerdict::Own(own, why, conf)) => Some((own, 1 - own, why, conf, "")),
                            Some(AnswerVerdict::Disagrees(why)) => {
                                g.conflict = true;
                                g.reason = format!(
                                    "conflict: {} and {} are in every frame (one peer) and {why}",
                                    end_str(&g.undecided[0]),
                                    end_str(&g.undecided[1])
                                );
                                None
                            }
                            _ => None,
                        }
                    }
                },
            };
            if let Some((own, peer, why, confidence, suffix)) = pick {
                let e = g.undecided[own].clone();
                g.reason = format!(
                    "{} and {} are in every frame (one peer); {} is its own: {why}{suffix}",
                    end_str(&g.undecided[own]),
                    end_str(&g.undecided[peer]),
                    end_str(&e),
                );
                g.own = Some(e);
                g.undecided.clear();
                g.conflict = false;
                g.confidence = confidence;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Both ends captured and still undecided: one end each, arbitrarily.
    // Undecided interfaces indexed by their pair of ends (linear, not a
    // search per interface).
    let key = |e: &End| {
        (
            e.mac,
            if e.mac.is_some() {
                None
            } else {
                e.ips.first().copied()
            },
        )
    };
    let pair_key = |g: &Guess| {
        let (a, b) = (key(&g.undecided[0]), key(&g.undecided[1]));
        if a <= b { (a, b) } else { (b, a) }
    };
    let mut by_pair: HashMap<_, Vec<usize>> = HashMap::new();
    for (i, g) in guesses.iter().enumerate() {
        if g.own.is_none() && g.undecided.len() == 2 {
            by_pair.entry(pair_key(g)).or_default().push(i);
        }
    }
    for i in 0..guesses.len() {
        if guesses[i].own.is_some() || guesses[i].undecided.len() != 2 {
            continue;
        }
        let twin = by_pair.get(&pair_key(&guesses[i])).and_then(|v| {
            v.iter().copied().find(|&j| {
                j > i
                    && guesses[j].own.is_none()
                    && guesses[j].file != guesses[i].file
                    && guesses[j].undecided.len() == 2
            })
        });
        if let Some(j) = twin {
            let (mut a, mut b) = (
                guesses[i].undecided[0].clone(),
                guesses[i].undecided[1].clone(),
            );
            // The one-way delay decides: of TCP segments between the two ends
            // captured at both, else of their heartbeats.
            let (fi, fj) = (guesses[i].file, guesses[j].file);
            let (ii, ij) = (guesses[i].info, guesses[j].info);
            let decided = files.get(fi).zip(files.get(fj)).and_then(|(f1, f2)| {
                end_by_delay(f1, f2, &a, &b)
                    .map(|(x, n)| {
                        (
                            x,
                            format!(
                                "each of {n} TCP segments between them reached the other capture later when this \
                                 end sent it than any the other end sent did"
                            ),
                        )
                    })
                    .or_else(|| {
                        let i1 = f1.interfaces.get(ii)?.index;
                        let i2 = f2.interfaces.get(ij)?.index;
                        end_by_answers_at_both(f1, i1, f2, i2, &a, &b)
                    })
                    .or_else(|| {
                        let i1 = f1.interfaces.get(ii)?.index;
                        let i2 = f2.interfaces.get(ij)?.index;
                        end_by_heartbeat_phase(f1, i1, f2, i2, &a, &b).map(|(x, n, d)| {
                            (
                                x,
                                format!(
                                    "their heartbeats ({n} matched) reach the other capture {:.0} us later one way \
                                     than the other, the way from this end",
                                    d.abs() as f64 / 1e3
                                ),
                            )
                        })
                    })
            });
            if let Some((false, _)) = decided {
                std::mem::swap(&mut a, &mut b);
            }
            // In capture j, the end that is `b` (its own copy, which may list other addresses).
            let bj = guesses[j]
                .undecided
                .iter()
                .find(|e| same_end(e, &b))
                .cloned()
                .unwrap_or_else(|| b.clone());
            for (k, mine, other) in [(i, &a, &b), (j, &bj, &a)] {
                let peer = if k == i { j } else { i };
                let (here, there) = (&names[guesses[k].file], &names[guesses[peer].file]);
                let g = &mut guesses[k];
                match &decided {
                    Some((_, why)) => {
                        g.reason = format!(
                            "only {} and {} talk on this link, captured at both ends ({here} and {there}); {why} (a frame is \
                             captured where it is sent before where it arrives): {} is this NIC's",
                            end_str(mine),
                            end_str(other),
                            end_str(mine)
                        );
                        g.confidence = 0.85;
                    }
                    None => {
                        g.reason = format!(
                            "ambiguous: only {} and {} talk on this link, captured at both ends ({here} and {there}); nothing \
                             in the traffic tells which end is which: {} taken as this NIC's, arbitrarily",
                            end_str(mine),
                            end_str(other),
                            end_str(mine)
                        );
                        g.confidence = 0.5;
                        g.conflict = true;
                    }
                }
                g.own = Some(mine.clone());
                g.undecided.clear();
            }
        }
    }
    for g in guesses
        .iter_mut()
        .filter(|g| g.own.is_none() && g.undecided.len() == 2)
    {
        if g.conflict && g.reason.starts_with("conflict:") {
            // The evidence disagreed (said above): no own address taken.
            g.reason += ": no own address taken";
            g.confidence = 0.3;
            continue;
        }
        g.reason = format!(
            "undecided: {} and {} are in every frame (one peer) and no other evidence says which is this NIC: \
             no own address taken",
            end_str(&g.undecided[0]),
            end_str(&g.undecided[1])
        );
        g.conflict = true;
        g.confidence = 0.3;
    }
}

/// What answer times say about a one-peer link.
enum AnswerVerdict {
    /// This end (index into the two) is the captured machine's: why, confidence.
    Own(usize, String, f32),
    /// The times do not fit the captured machine's own answers on its other NICs.
    Disagrees(String),
    Undecided,
}

/// Fewest answers an end must have given for its answer time to count.
const MIN_ANSWERS: u64 = 5;

/// The lowest typical answer time of any of an end's addresses on one capture interface.
fn answer_low(f: &CaptureFacts, iface: u32, e: &End) -> Option<(i64, u64)> {
    e.ips
        .iter()
        .filter_map(|ip| f.answers.get(&(iface, *ip)))
        .filter_map(|a| a.typical_low(MIN_ANSWERS).map(|t| (t, a.count)))
        .min()
}

/// Per capture file: how fast the captured machine answers on the NICs whose
/// own end is decided without a conflict (the fastest of them): one machine
/// per capture, so an undecided NIC's own end answers about as fast.
fn machine_answer_times(guesses: &[Guess], files: &[CaptureFacts]) -> HashMap<usize, i64> {
    let mut out: HashMap<usize, i64> = HashMap::new();
    for g in guesses.iter().filter(|g| !g.conflict) {
        let (Some(e), Some(f)) = (&g.own, files.get(g.file)) else {
            continue;
        };
        let Some(info) = f.interfaces.get(g.info) else {
            continue;
        };
        if let Some((t, _)) = answer_low(f, info.index, e) {
            let v = out.entry(g.file).or_insert(t);
            *v = (*v).min(t);
        }
    }
    out
}

fn us(ns: i64) -> String {
    format!("{:.0} us", ns as f64 / 1e3)
}

/// Which of the two ends of a one-peer link is the captured machine, from
/// how fast each answered the other within this capture (TCP segments
/// acknowledged, SYNs and FINs included; ARP requests replied to): the
/// captured end answers within its own processing time, the far end's
/// answers take the round trip on top of it (an answer is causally after
/// its request reached the answering end). Decided only on a clear margin
/// (the slower at least 3 times and 10 us above the faster, each from at
/// least [`MIN_ANSWERS`] answers, robust to two stray ones); checked against
/// the machine's answer time on its other, decided NICs (`reference`) when
/// there is one.
fn end_by_answer_time(
    f: &CaptureFacts,
    iface: u32,
    ends: &[End],
    reference: Option<i64>,
) -> AnswerVerdict {
    let (ta, tb) = (
        answer_low(f, iface, &ends[0]),
        answer_low(f, iface, &ends[1]),
    );
    // Only one end answers (data flows one way): it is the far end when it
    // answers much slower than this machine does on its other NICs.
    match (ta, tb, reference) {
        (Some((t, n)), None, Some(r)) | (None, Some((t, n)), Some(r))
            if t >= 3 * r.max(1) && t - r >= 10_000 =>
        {
            let far = usize::from(tb.is_some());
            return AnswerVerdict::Own(
                1 - far,
                format!(
                    "within this capture only {} answers, in {} ({n} answers), and this machine answers in {} on its \
                     other NICs: the round trip is in it, so {} is the far end",
                    end_str(&ends[far]),
                    us(t),
                    us(r),
                    end_str(&ends[far]),
                ),
                0.7,
            );
        }
        _ => {}
    }
    let (Some((ta, na)), Some((tb, nb))) = (ta, tb) else {
        return AnswerVerdict::Undecided;
    };
    let (own, fast, slow, nf, ns) = if ta <= tb {
        (0, ta, tb, na, nb)
    } else {
        (1, tb, ta, nb, na)
    };
    if slow < 3 * fast.max(1) || slow - fast < 10_000 {
        return AnswerVerdict::Undecided;
    }
    let why = format!(
        "within this capture {} answers in {} ({nf} answers: its own processing) and {} in {} ({ns} answers: the round trip \
         to the far end on top), so the capture is at {}",
        end_str(&ends[own]),
        us(fast),
        end_str(&ends[1 - own]),
        us(slow),
        end_str(&ends[own]),
    );
    match reference {
        // The machine's own answers on its other NICs: the fast end must be
        // like them (the slow one may be too, where the round trip is short).
        Some(r) if fast <= 3 * r.max(1) + 20_000 => AnswerVerdict::Own(
            own,
            format!("{why}; this machine answers in {} on its other NICs", us(r)),
            0.85,
        ),
        Some(r) => AnswerVerdict::Disagrees(format!(
            "the answer times do not fit the captured machine: the faster end {} answers in {}, this machine in {} on its \
             other NICs",
            end_str(&ends[own]),
            us(fast),
            us(r)
        )),
        None => AnswerVerdict::Own(own, why, 0.75),
    }
}

/// Which end of a two-station link captured at both ends (`fi` on interface
/// `ii`, `fj` on `ij`) capture `fi` sits at, from one end's answers timed in
/// both captures: where the capture is at the answering end they take its
/// processing time, at the other end the round trip on top (clear margin:
/// 3 times and 10 us). (`fi` is at `a`, why.)
fn end_by_answers_at_both(
    fi: &CaptureFacts,
    ii: u32,
    fj: &CaptureFacts,
    ij: u32,
    a: &End,
    b: &End,
) -> Option<(bool, String)> {
    for (x, x_is_a) in [(a, true), (b, false)] {
        let (Some((ti, ni)), Some((tj, nj))) = (answer_low(fi, ii, x), answer_low(fj, ij, x))
        else {
            continue;
        };
        let clear = |fast: i64, slow: i64| slow >= 3 * fast.max(1) && slow - fast >= 10_000;
        let at_x_is_i = if clear(ti, tj) {
            true
        } else if clear(tj, ti) {
            false
        } else {
            continue;
        };
        let (near, far) = if at_x_is_i {
            ((ti, ni), (tj, nj))
        } else {
            ((tj, nj), (ti, ni))
        };
        return Some((
            at_x_is_i == x_is_a,
            format!(
                "{} answers in {} ({} answers) in one capture and {} ({} answers) in the other: the round trip is in \
                 the slower, so the faster capture is at {}",
                end_str(x),
                us(near.0),
                near.1,
                us(far.0),
                far.1,
                end_str(x)
            ),
        ));
    }
    None
}

/// Which end of a two-station link capture `fi` sits at, when the link was
/// captured at both ends (`fi`, `fj`): a frame is captured where it is sent
/// before where it arrives, so for TCP segments captured in both, the
/// offset (time in `fj` - time in `fi`) is skew + delay for segments sent
/// from `fi`'s end and skew - delay for the others. Decided only when every
/// segment of one direction has a larger offset than every segment of the
/// other (queueing only adds delay), with at least 5 each way: (`fi` is at
/// `a`, segments matched).
fn end_by_delay(fi: &CaptureFacts, fj: &CaptureFacts, a: &End, b: &End) -> Option<(bool, usize)> {
    const MIN_EACH: usize = 5;
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    for (k, dir, ti, tj) in fi.seg.matches(&fj.seg) {
        let (src, dst) = match dir {
            hvsleuth_parsers::flow::Direction::AtoB => (k.a.ip, k.b.ip),
            hvsleuth_parsers::flow::Direction::BtoA => (k.b.ip, k.a.ip),
        };
        if a.ips.contains(&src) && b.ips.contains(&dst) {
            from_a.push(tj - ti);
        } else if b.ips.contains(&src) && a.ips.contains(&dst) {
            from_b.push(tj - ti);
        }
    }
    if from_a.len() < MIN_EACH || from_b.len() < MIN_EACH {
        return None;
    }
    let n = from_a.len() + from_b.len();
    let (amin, amax) = (*from_a.iter().min()?, *from_a.iter().max()?);
    let (bmin, bmax) = (*from_b.iter().min()?, *from_b.iter().max()?);
    if amin > bmax {
        Some((true, n))
    } else if bmin > amax {
        Some((false, n))
    } else {
        None
    }
}

/// Arrivals with no other within a quarter interval: heartbeats in quiet
/// times (tunnelled bursts come many to an interval).
fn isolated_arrivals(arrivals: &[i64], cadence_ns: i64) -> Vec<i64> {
    let mut a = arrivals.to_vec();
    a.sort_unstable();
    let q = cadence_ns / 4;
    (0..a.len())
        .filter(|&k| (k == 0 || a[k] - a[k - 1] >= q) && (k + 1 == a.len() || a[k + 1] - a[k] >= q))
        .map(|k| a[k])
        .collect()
}

/// Maps `x` into (-c/2, c/2].
fn wrap(x: i64, c: i64) -> i64 {
    let h = c / 2;
    (x + h - 1).rem_euclid(c) - h + 1
}

/// The offset, modulo the heartbeat interval, from one capture's arrivals of
/// a periodic heartbeat to another's (each paired with its nearest), with
/// its median absolute deviation and the pairs used.
fn phase_offset(t: &[i64], u: &[i64], c: i64) -> Option<(i64, i64, usize)> {
    if u.is_empty() {
        return None;
    }
    let mut v: Vec<i64> = t
        .iter()
        .map(|x| {
            let k = u.partition_point(|y| y < x);
            let near = [k.checked_sub(1), Some(k)]
                .into_iter()
                .flatten()
                .filter_map(|k| u.get(k))
                .min_by_key(|y| (**y - x).abs())
                .copied()
                .unwrap_or(u[0]);
            near - x
        })
        .collect();
    if v.len() < 5 {
        return None;
    }
    let r = v[0];
    for x in &mut v {
        *x = r + wrap(*x - r, c);
    }
    v.sort_unstable();
    let m = v[v.len() / 2];
    let mut dev: Vec<i64> = v.iter().map(|x| (x - m).abs()).collect();
    dev.sort_unstable();
    Some((wrap(m, c), dev[dev.len() / 2], v.len()))
}

/// Which end of a two-station link capture `fi` sits at, from the heartbeats
/// both ends send each other, captured at both (interfaces `ii` of `fi`,
/// `ij` of `fj`). A heartbeat is in `fj` (skew + delay) after `fi` when
/// `fi`'s end sent it and (skew - delay) when the other did: the two
/// offsets, modulo the interval (the clocks may be seconds apart), differ by
/// twice the delay, positive when `fi` is at `a`. Decided only when that
/// difference stands well above the spread of the offsets: (`fi` is at `a`,
/// heartbeats matched, difference ns).
fn end_by_heartbeat_phase(
    fi: &CaptureFacts,
    ii: u32,
    fj: &CaptureFacts,
    ij: u32,
    a: &End,
    b: &End,
) -> Option<(bool, usize, i64)> {
    for x in &a.ips {
        for y in &b.ips {
            let (Some(ab_i), Some(ab_j), Some(ba_i), Some(ba_j)) = (
                fi.heartbeats.get(&(ii, *x, *y)),
                fj.heartbeats.get(&(ij, *x, *y)),
                fi.heartbeats.get(&(ii, *y, *x)),
                fj.heartbeats.get(&(ij, *y, *x)),
            ) else {
                continue;
            };
            let c1 = super::attribute::heartbeat_cadence_ns(&ab_i.arrivals)?;
            let c2 = super::attribute::heartbeat_cadence_ns(&ba_i.arrivals)?;
            if (c1 - c2).abs() > c1 / 10 {
                return None;
            }
            let iso =
                |t: &crate::pipeline::scan::HeartbeatTrack, c| isolated_arrivals(&t.arrivals, c);
            let (d_ab, s_ab, n_ab) = phase_offset(&iso(ab_i, c1), &iso(ab_j, c1), c1)?;
            let (d_ba, s_ba, n_ba) = phase_offset(&iso(ba_i, c2), &iso(ba_j, c2), c1)?;
            let delta = wrap(d_ab - d_ba, c1);
            let noise = 4 * (s_ab + s_ba);
            if delta.abs() > noise.max(2_000) && delta.abs() < c1 / 4 {
                return Some((delta > 0, n_ab + n_ba, delta));
            }
            return None;
        }
    }
    None
}

/// Two ends are the same station: the same MAC, or (without MACs) a shared address.
fn same_end(a: &End, b: &End) -> bool {
    match (a.mac, b.mac) {
        (Some(x), Some(y)) => x == y,
        _ => a.ips.iter().any(|i| b.ips.contains(i)),
    }
}

/// Groups of addresses SMB servers advertised for themselves (one node each).
fn smb_groups(smb: Option<&hvsleuth_parsers::smb::model::SmbReport>) -> Vec<BTreeSet<IpAddr>> {
    smb.map(|s| {
        s.server_interfaces
            .iter()
            .map(|x| {
                x.interfaces
                    .iter()
                    .filter_map(|i| i.addr.parse::<IpAddr>().ok())
                    .collect::<BTreeSet<_>>()
            })
            .filter(|g| !g.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Places every capture interface and builds the topology.
pub fn build(
    files: &[CaptureFacts],
    inv: Option<&Inventory>,
    smb: Option<&hvsleuth_parsers::smb::model::SmbReport>,
) -> (Vec<Iface>, Topo, Vec<Inferred>) {
    let mut ifaces = Vec::new();
    let mut inferred = Vec::new();
    let mut topo = Topo::default();
    if let Some(inv) = inv {
        for n in &inv.nodes {
            for i in &n.interfaces {
                topo.node_addrs.extend(i.addresses.iter().map(|a| a.addr()));
            }
        }
        for s in &inv.sofs {
            topo.sofs_addrs.extend(s.addresses.iter().copied());
        }
        topo.lm_shares.extend(
            inv.live_migration
                .smb_shares
                .iter()
                .map(|s| s.to_ascii_lowercase()),
        );
    }

    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    // Per file and capture interface not placed by the inventory: a guess.
    let mut guesses: Vec<Guess> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        // Packets per address per capture interface, for own-address
        // inference; heartbeat peers: UDP 3343 on both sides.
        for &ip in &f.hosts.heartbeat_addrs {
            if topo.node_addrs.insert(ip) {
                inferred.push(Inferred::new(
                    format!("{ip} is a cluster node address"),
                    format!("exchanges UDP 3343 (cluster heartbeats) in {}", f.name),
                    0.9,
                ));
            }
        }
        let (seen, ip_packets) = (&f.hosts.seen, &f.hosts.ip_packets);
        let tables = MacTables::new(f);
        for (ii, info) in f.interfaces.iter().enumerate() {
            let mapped =
                inv.is_some_and(|inv| inv.interface_for_capture(&f.name, &info.name).is_some());
            if !mapped {
                let g = declared_end(fi, ii, info, &tables)
                    .unwrap_or_else(|| own_end(fi, ii, info.index, &tables, seen, ip_packets));
                guesses.push(g);
            }
        }
    }
    resolve(&mut guesses, &names, &smb_groups(smb), files);
    let mut gi = guesses.into_iter().peekable();
    for (fi, f) in files.iter().enumerate() {
        for (ii, info) in f.interfaces.iter().enumerate() {
            let mapped = inv.and_then(|inv| {
                inv.interface_for_capture(&f.name, &info.name)
                    .map(|r| (inv, r))
            });
            let id = ifaces.len();
            let iface = if let Some((inv, r)) = mapped {
                let ii = inv.interface(r);
                Iface {
                    id,
                    capture: f.name.clone(),
                    capture_index: info.index,
                    capture_if_name: info.name.clone(),
                    node: inv.node(r).name.clone(),
                    interface: ii.alias.clone(),
                    link_bps: ii.link_speed_bps.or(info.speed_bps),
                    link_from: if ii.link_speed_bps.is_some() {
                        Some("inventory".into())
                    } else {
                        info.speed_bps.map(|_| "pcapng if_speed".into())
                    },
                    addresses: ii.addresses.iter().map(|a| a.addr()).collect(),
                    from_inventory: true,
                }
            } else {
                let Some(g) = gi.next_if(|g| g.file == fi && g.info == ii) else {
                    continue;
                };
                let own: Vec<IpAddr> = g.own.as_ref().map(|e| e.ips.clone()).unwrap_or_default();
                let node = inv
                    .and_then(|inv| {
                        own.iter()
                            .find_map(|ip| inv.owner_of(*ip))
                            .map(|r| inv.node(r).name.clone())
                    })
                    .unwrap_or_else(|| node_from_file(&f.name));
                let mut fact = Inferred::new(
                    format!(
                        "capture interface {:?} of {} is {}'s NIC {:?}{}",
                        info.name,
                        f.name,
                        node,
                        info.name,
                        if own.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " with address{} {}",
                                if own.len() > 1 { "es" } else { "" },
                                own.iter()
                                    .map(|i| i.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ),
                    if g.reason.is_empty() {
                        "named after the capture file and interface".into()
                    } else {
                        g.reason.clone()
                    },
                    g.confidence,
                );
                fact.conflict = g.conflict;
                inferred.push(fact);
                Iface {
                    id,
                    capture: f.name.clone(),
                    capture_index: info.index,
                    capture_if_name: info.name.clone(),
                    node,
                    interface: info.name.clone(),
                    link_bps: info.speed_bps,
                    link_from: info.speed_bps.map(|_| "pcapng if_speed".into()),
                    addresses: own,
                    from_inventory: false,
                }
            };
            ifaces.push(iface);
        }
    }
    // An address belongs to one NIC of one node: report every address two
    // nodes claim (never resolved silently).
    let mut claims: HashMap<IpAddr, Vec<usize>> = HashMap::new();
    for i in &ifaces {
        for a in &i.addresses {
            claims.entry(*a).or_default().push(i.id);
        }
    }
    let mut conflicts: Vec<(IpAddr, Vec<usize>)> = claims
        .into_iter()
        .filter(|(_, v)| v.iter().any(|&x| ifaces[x].node != ifaces[v[0]].node))
        .collect();
    conflicts.sort();
    for (a, v) in conflicts {
        let mut f = Inferred::new(
            format!(
                "conflict: {a} is claimed by {}",
                v.iter()
                    .map(|&x| format!(
                        "{} / {} ({})",
                        ifaces[x].node, ifaces[x].interface, ifaces[x].capture
                    ))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            "an address belongs to one NIC of one node; check the inventory or the captures".into(),
            0.0,
        );
        f.conflict = true;
        inferred.push(f);
    }
    // A node's addresses: every own address of an interface on a node that has
    // heartbeat addresses is a node address too (e.g. its management NIC).
    let hb_nodes: BTreeSet<String> = ifaces
        .iter()
        .filter(|i| i.addresses.iter().any(|a| topo.node_addrs.contains(a)))
        .map(|i| i.node.clone())
        .collect();
    let mut by_node: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for i in &ifaces {
        if hb_nodes.contains(&i.node) {
            by_node
                .entry(i.node.clone())
                .or_default()
                .extend(i.addresses.iter().copied());
        }
    }
    for (node, addrs) in by_node {
        for a in addrs {
            if topo.node_addrs.insert(a) {
                inferred.push(Inferred::new(
                    format!("{a} is a cluster node address ({node})"),
                    format!("own address of a NIC captured on {node}, which exchanges heartbeats"),
                    0.7,
                ));
            }
        }
    }
    (ifaces, topo, inferred)
}

/// Heartbeat silences of each sender address (at least 3 cadences missed),
/// with its cadence, over every capture.
fn sender_silences(files: &[CaptureFacts]) -> BTreeMap<IpAddr, Vec<(i64, i64)>> {
    let mut by: BTreeMap<IpAddr, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for f in files {
        for ((_, src, _), t) in &f.heartbeats {
            let e = by.entry(*src).or_default();
            e.0.extend(&t.arrivals);
            if let Some(c) = super::attribute::heartbeat_cadence_ns(&t.arrivals) {
                e.1.push(c);
            }
        }
    }
    by.into_iter()
        .map(|(ip, (mut a, mut c))| {
            a.sort_unstable();
            c.sort_unstable();
            let cad = c.get(c.len() / 2).copied().unwrap_or(1_000_000_000);
            let sil = a
                .windows(2)
                .filter(|w| w[1] - w[0] >= 4 * cad - cad / 2)
                .map(|w| (w[0], w[1]))
                .collect();
            (ip, sil)
        })
        .collect()
}

/// Places peer addresses (heartbeat senders no captured interface owns) on
/// nodes: addresses one SMB server lists for itself are one node; addresses
/// whose heartbeats fell silent at the same moments, every time, are one
/// node; the inventory names its own. A group with an address a captured
/// interface owns joins that interface's node. The name: the inventory's,
/// the capture's node, else the group's first IPv4 address (no name known).
pub fn place_peers(
    files: &[CaptureFacts],
    ifaces: &[Iface],
    topo: &mut Topo,
    inv: Option<&Inventory>,
    smb: Option<&hvsleuth_parsers::smb::model::SmbReport>,
    inferred: &mut Vec<Inferred>,
) {
    let owned: HashMap<IpAddr, &str> = ifaces
        .iter()
        .flat_map(|i| i.addresses.iter().map(move |a| (*a, i.node.as_str())))
        .collect();
    let sil = sender_silences(files);
    let mut addrs: Vec<IpAddr> = sil.keys().copied().collect();
    let groups = smb_groups(smb);
    for g in &groups {
        addrs.extend(g.iter().copied());
    }
    addrs.sort();
    addrs.dedup();
    if addrs.len() > 20_000 {
        return;
    }
    let idx: HashMap<IpAddr, usize> = addrs.iter().enumerate().map(|(i, a)| (*a, i)).collect();
    let mut parent: Vec<usize> = (0..addrs.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut why: BTreeMap<usize, BTreeSet<&'static str>> = BTreeMap::new();
    let mut union = |p: &mut Vec<usize>, a: usize, b: usize, w: &'static str| {
        let (ra, rb) = (find(p, a), find(p, b));
        if ra != rb {
            p[rb] = ra;
        }
        why.entry(a).or_default().insert(w);
        why.entry(b).or_default().insert(w);
    };
    for g in &groups {
        let v: Vec<usize> = g.iter().filter_map(|a| idx.get(a).copied()).collect();
        for w in v.windows(2) {
            union(&mut parent, w[0], w[1], "listed together by one SMB server");
        }
    }
    // Same silences: every silence of one matches one of the other within 2
    // s. Silences the captured nodes' own addresses share are the capture
    // side's (it heard nobody), not evidence about the peers.
    let close = |x: &(i64, i64), y: &(i64, i64)| {
        (x.0 - y.0).abs() <= 2_000_000_000 && (x.1 - y.1).abs() <= 2_000_000_000
    };
    let own_sil: Vec<(i64, i64)> = sil
        .iter()
        .filter(|(a, _)| owned.contains_key(a))
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    let peer_sil: Vec<(IpAddr, Vec<(i64, i64)>)> = sil
        .iter()
        .map(|(a, s)| {
            let v: Vec<(i64, i64)> = s
                .iter()
                .filter(|x| owned.contains_key(a) || !own_sil.iter().any(|y| close(x, y)))
                .copied()
                .collect();
            (*a, v)
        })
        .filter(|(_, s)| !s.is_empty())
        .take(2000)
        .collect();
    let with_sil: Vec<(&IpAddr, &Vec<(i64, i64)>)> = peer_sil.iter().map(|(a, s)| (a, s)).collect();
    for (i, (a, sa)) in with_sil.iter().enumerate() {
        for (b, sb) in &with_sil[i + 1..] {
            let (na, nb) = (owned.get(*a), owned.get(*b));
            if na.is_some() && nb.is_some() {
                continue;
            }
            if sa.len() == sb.len() && sa.iter().all(|x| sb.iter().any(|y| close(x, y))) {
                union(
                    &mut parent,
                    idx[*a],
                    idx[*b],
                    "its heartbeats fell silent at the same moments",
                );
            }
        }
    }
    let mut sets: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..addrs.len() {
        let r = find(&mut parent, i);
        sets.entry(r).or_default().push(i);
    }
    let names = smb_server_names(smb);
    // A name is a node's only when every address it was used for is in one
    // set (a SOFS or cluster name spans nodes: not a node name).
    let set_of: HashMap<IpAddr, usize> = sets
        .iter()
        .flat_map(|(r, m)| {
            let addrs = &addrs;
            m.iter().map(move |&i| (addrs[i], *r))
        })
        .collect();
    let mut name_sets: HashMap<&str, BTreeSet<Option<usize>>> = HashMap::new();
    for (ip, ns) in &names {
        for n in ns {
            name_sets
                .entry(n.as_str())
                .or_default()
                .insert(set_of.get(ip).copied());
        }
    }
    for members in sets.values() {
        let ips: Vec<IpAddr> = members.iter().map(|&i| addrs[i]).collect();
        if ips.iter().all(|a| owned.contains_key(a)) {
            continue;
        }
        let (name, source) = if let Some(n) = ips.iter().find_map(|a| owned.get(a)) {
            (
                n.to_string(),
                "a captured NIC of that node owns one of them",
            )
        } else if let Some(n) = inv.and_then(|inv| {
            ips.iter()
                .find_map(|a| inv.owner_of(*a))
                .map(|r| inv.node(r).name.clone())
        }) {
            (n, "the inventory")
        } else if let Some(n) = {
            let r = set_of.get(&ips[0]).copied();
            let mut ns: BTreeSet<&str> = BTreeSet::new();
            for a in &ips {
                ns.extend(names.get(a).into_iter().flatten().map(String::as_str));
            }
            let only = ns.len() == 1;
            ns.into_iter().next().filter(|n| {
                only && name_sets
                    .get(n)
                    .is_some_and(|s| s.len() == 1 && s.contains(&r))
            })
        } {
            (
                n.to_string(),
                "the SMB tree connects to it (\\\\NAME\\share)",
            )
        } else {
            let first = ips
                .iter()
                .find(|a| a.is_ipv4())
                .or(ips.first())
                .map(|a| a.to_string())
                .unwrap_or_default();
            (first, "no name seen: named after its first address")
        };
        let mut reasons: BTreeSet<&str> = BTreeSet::new();
        for m in members {
            if let Some(w) = why.get(m) {
                reasons.extend(w.iter().copied());
            }
        }
        let peer_ips: Vec<IpAddr> = ips
            .iter()
            .copied()
            .filter(|a| !owned.contains_key(a))
            .collect();
        for a in &peer_ips {
            topo.peer_nodes.insert(*a, name.clone());
        }
        if ips.len() > 1 || source != "no name seen: named after its first address" {
            inferred.push(Inferred::new(
                format!(
                    "{} {} node {name}",
                    peer_ips
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if peer_ips.len() > 1 { "are one" } else { "is" }
                ),
                format!(
                    "{}; name from {source}",
                    if reasons.is_empty() {
                        "one address".to_string()
                    } else {
                        reasons.into_iter().collect::<Vec<_>>().join("; ")
                    }
                ),
                if ips.len() > 1 { 0.8 } else { 0.6 },
            ));
        }
    }
}

/// Server names SMB clients used (`\\\\NAME\\share` in tree connects), per
/// server address (upper case; addresses as names skipped).
fn smb_server_names(
    smb: Option<&hvsleuth_parsers::smb::model::SmbReport>,
) -> HashMap<IpAddr, BTreeSet<String>> {
    let mut out: HashMap<IpAddr, BTreeSet<String>> = HashMap::new();
    let Some(smb) = smb else { return out };
    for s in &smb.sessions {
        let hosts: BTreeSet<String> = s
            .trees
            .iter()
            .filter_map(|t| {
                let h = t.share.trim_start_matches('\\').split('\\').next()?;
                let h = h.trim();
                (!h.is_empty() && h.parse::<IpAddr>().is_err() && !h.contains(':'))
                    .then(|| h.to_ascii_uppercase())
            })
            .collect();
        if hosts.len() != 1 {
            continue;
        }
        for c in &s.channels {
            let addr = c.server.rsplit_once(':').map_or(c.server.as_str(), |x| x.0);
            if let Ok(ip) = addr
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
            {
                out.entry(ip).or_default().extend(hosts.iter().cloned());
            }
        }
    }
    out
}

/// Link speeds an SMB server advertised for its own interfaces
/// (FSCTL_QUERY_NETWORK_INTERFACE_INFO), for capture interfaces whose speed
/// neither the inventory nor the capture gives.
pub fn speeds_from_smb(
    ifaces: &mut [Iface],
    smb: &hvsleuth_parsers::smb::model::SmbReport,
    inferred: &mut Vec<Inferred>,
) {
    for i in ifaces.iter_mut().filter(|i| i.link_bps.is_none()) {
        let hit = smb
            .server_interfaces
            .iter()
            .flat_map(|s| &s.interfaces)
            .find(|x| {
                // `addr` is the advertised IP address (no port).
                x.link_speed_bps > 0
                    && x.addr
                        .parse::<IpAddr>()
                        .is_ok_and(|a| i.addresses.contains(&a))
            });
        if let Some(x) = hit {
            i.link_bps = Some(x.link_speed_bps);
            i.link_from = Some("SMB interface list (FSCTL_QUERY_NETWORK_INTERFACE_INFO)".into());
            inferred.push(Inferred::new(
                format!("{} / {} runs at {} b/s", i.node, i.interface, x.link_speed_bps),
                "the SMB server advertised this speed for its interface (FSCTL_QUERY_NETWORK_INTERFACE_INFO)".into(),
                0.8,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_names_from_files() {
        assert_eq!(super::node_from_file("node1.pcapng"), "node1");
        assert_eq!(super::node_from_file("HV-N2.pcap.gz"), "HV-N2");
    }
}
