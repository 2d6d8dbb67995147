//! A capture of many one-packet TCP conversations (SYNs from distinct
//! client endpoints): the flow-state memory benchmark (issue 13). Each SYN
//! is its own conversation, so the flow table holds every one of them live
//! until the idle timeout; 1M flows make a 70 MB pcap (54-byte frames).

use std::fs::File;
use std::io;
use std::path::Path;

use crate::checksum::Csum;
use crate::rng::Rng;
use crate::writer::{CaptureWriter, Format, IfaceDesc};

/// Options of [`syn_flood`].
#[derive(Debug, Clone)]
pub struct SynFloodOpts {
    /// Conversations (one SYN each).
    pub flows: u64,
    /// Distinct server ports the SYNs go to (1 = all to 445; 65535 = a port scan).
    pub server_ports: u16,
    /// Time between SYNs.
    pub gap_ns: i64,
    pub seed: u64,
}

/// Writes `o.flows` SYNs into a legacy pcap at `out`; returns (packets, bytes written).
pub fn syn_flood(out: &Path, o: &SynFloodOpts) -> io::Result<(u64, u64)> {
    let iface = IfaceDesc::ethernet("eth0");
    let mut w = CaptureWriter::new(File::create(out)?, Format::Pcap, &[iface])?;
    let mut rng = Rng::new(o.seed);
    let server = [10u8, 255, 0, 1];
    let mut f = [0u8; 54];
    f[0..6].copy_from_slice(&[0x00, 0x15, 0x5d, 0x00, 0x00, 0x01]);
    f[6..12].copy_from_slice(&[0x00, 0x15, 0x5d, 0x00, 0x00, 0x02]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ports = o.server_ports.max(1);
    let mut ts = 1_700_000_000_000_000_000i64;
    for i in 0..o.flows {
        // Client i: a distinct (address, port) pair for every flow.
        let host = (i / 50_000) as u32;
        let client = (0x0a00_0001u32 + host % 0x00ff_fffe).to_be_bytes();
        let cport = 10_000 + (i % 50_000) as u16;
        let sport = if ports == 1 {
            445
        } else {
            1 + (rng.below(u64::from(ports)) as u16)
        };
        let ip = &mut f[14..34];
        ip.copy_from_slice(&[
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        ip[4..6].copy_from_slice(&(i as u16).to_be_bytes());
        ip[12..16].copy_from_slice(&client);
        ip[16..20].copy_from_slice(&server);
        let mut c = Csum::new();
        c.add(ip);
        let ck = c.finish();
        ip[10..12].copy_from_slice(&ck.to_be_bytes());
        let tcp = &mut f[34..54];
        tcp.fill(0);
        tcp[0..2].copy_from_slice(&cport.to_be_bytes());
        tcp[2..4].copy_from_slice(&sport.to_be_bytes());
        tcp[4..8].copy_from_slice(&rng.next_u32().to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x02; // SYN
        tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
        let mut c = Csum::new();
        c.add(&client);
        c.add(&server);
        c.add_u16(6);
        c.add_u16(20);
        c.add(tcp);
        let ck = c.finish();
        f[50..52].copy_from_slice(&ck.to_be_bytes());
        w.packet(0, ts, 54, &[&f])?;
        ts += o.gap_ns.max(1);
    }
    let packets = w.packets();
    let bytes = w.bytes();
    w.finish()?;
    Ok((packets, bytes))
}
