//! A minimal buffered capture writer: legacy pcap (nanosecond timestamps,
//! little endian, one link type) or pcapng (one section, any number of
//! interfaces with names, nanosecond `if_tsresol`, Enhanced Packet Blocks).
//!
//! Frames are given as a list of byte slices (headers, payload pieces) that
//! are written one after the other: no per-frame allocation or copy beyond
//! the buffered writer's memcpy.

use std::io::{self, BufWriter, Write};

/// How big the write buffer is: large writes keep the syscall count low.
const BUF_SIZE: usize = 8 << 20;

/// File format of a [`CaptureWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// One capture interface to declare in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceDesc {
    pub name: String,
    pub description: Option<String>,
    /// pcap LINKTYPE_ value.
    pub link_type: u16,
    pub snaplen: u32,
    pub speed_bps: Option<u64>,
}

impl IfaceDesc {
    /// An Ethernet interface named `name`, snaplen 65535, no description or speed.
    pub fn ethernet(name: &str) -> IfaceDesc {
        IfaceDesc {
            name: name.to_string(),
            description: None,
            link_type: 1,
            snaplen: 65535,
            speed_bps: None,
        }
    }
}

/// Writes frames into a pcap or pcapng stream.
pub struct CaptureWriter<W: Write> {
    out: BufWriter<W>,
    format: Format,
    interfaces: u32,
    bytes: u64,
    packets: u64,
    wire_bytes: u64,
}

const PAD: [u8; 4] = [0; 4];

impl<W: Write> CaptureWriter<W> {
    /// Starts the stream: writes the file header (pcap, which takes the link
    /// type and snaplen of `ifaces[0]`) or the section header and one
    /// interface description block per interface (pcapng).
    pub fn new(inner: W, format: Format, ifaces: &[IfaceDesc]) -> io::Result<Self> {
        let Some(first) = ifaces.first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a capture needs at least one interface",
            ));
        };
        let mut w = CaptureWriter {
            out: BufWriter::with_capacity(BUF_SIZE, inner),
            format,
            interfaces: 0,
            bytes: 0,
            packets: 0,
            wire_bytes: 0,
        };
        match format {
            Format::Pcap => {
                if ifaces.iter().any(|i| i.link_type != first.link_type) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "pcap holds one link type; use pcapng",
                    ));
                }
                let mut h = [0u8; 24];
                h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // ns resolution
                h[4..6].copy_from_slice(&2u16.to_le_bytes());
                h[6..8].copy_from_slice(&4u16.to_le_bytes());
                h[16..20].copy_from_slice(&first.snaplen.to_le_bytes());
                h[20..24].copy_from_slice(&(first.link_type as u32).to_le_bytes());
                w.put(&h)?;
                w.interfaces = 1;
            }
            Format::PcapNg => {
                let mut shb = [0u8; 28];
                shb[0..4].copy_from_slice(&0x0a0d_0d0au32.to_le_bytes());
                shb[4..8].copy_from_slice(&28u32.to_le_bytes());
                shb[8..12].copy_from_slice(&0x1a2b_3c4du32.to_le_bytes());
                shb[12..14].copy_from_slice(&1u16.to_le_bytes());
                shb[14..16].copy_from_slice(&0u16.to_le_bytes());
                shb[16..24].copy_from_slice(&(-1i64).to_le_bytes());
                shb[24..28].copy_from_slice(&28u32.to_le_bytes());
                w.put(&shb)?;
                for i in ifaces {
                    w.idb(i)?;
                }
            }
        }
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.bytes += b.len() as u64;
        Ok(())
    }

    fn idb(&mut self, i: &IfaceDesc) -> io::Result<()> {
        let mut opts: Vec<u8> = Vec::with_capacity(128);
        let mut opt = |code: u16, val: &[u8]| {
            opts.extend_from_slice(&code.to_le_bytes());
            opts.extend_from_slice(&(val.len() as u16).to_le_bytes());
            opts.extend_from_slice(val);
            opts.extend_from_slice(&PAD[..(4 - val.len() % 4) % 4]);
        };
        let name = truncate_utf8(&i.name, 1024);
        opt(2, name.as_bytes());
        if let Some(d) = &i.description {
            opt(3, truncate_utf8(d, 1024).as_bytes());
        }
        if let Some(s) = i.speed_bps {
            opt(8, &s.to_le_bytes());
        }
        opt(9, &[9]); // if_tsresol: 10^-9 s
        opt(0, &[]);
        let total = (16 + opts.len() + 4) as u32;
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&1u32.to_le_bytes());
        head[4..8].copy_from_slice(&total.to_le_bytes());
        head[8..10].copy_from_slice(&i.link_type.to_le_bytes());
        head[12..16].copy_from_slice(&i.snaplen.to_le_bytes());
        self.put(&head)?;
        self.put(&opts)?;
        self.put(&total.to_le_bytes())?;
        self.interfaces += 1;
        Ok(())
    }

    /// Writes one frame made of `parts` (concatenated), captured on
    /// interface `iface` at `ts_ns` (ns since the epoch; negative is clamped
    /// to 0). `wire_len` is raised to the captured length if smaller. In pcap
    /// output `iface` is ignored.
    pub fn packet(
        &mut self,
        iface: u32,
        ts_ns: i64,
        wire_len: u32,
        parts: &[&[u8]],
    ) -> io::Result<()> {
        let caplen: usize = parts.iter().map(|p| p.len()).sum();
        let Ok(cap32) = u32::try_from(caplen) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame too long",
            ));
        };
        let wire = wire_len.max(cap32);
        let ts = ts_ns.max(0) as u64;
        match self.format {
            Format::Pcap => {
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
                h[4..8].copy_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
                h[8..12].copy_from_slice(&cap32.to_le_bytes());
                h[12..16].copy_from_slice(&wire.to_le_bytes());
                self.put(&h)?;
                for p in parts {
                    self.put(p)?;
                }
            }
            Format::PcapNg => {
                if iface >= self.interfaces {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("interface {iface} was not declared"),
                    ));
                }
                let pad = (4 - caplen % 4) % 4;
                let total = (32 + caplen + pad) as u32;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&6u32.to_le_bytes());
                h[4..8].copy_from_slice(&total.to_le_bytes());
                h[8..12].copy_from_slice(&iface.to_le_bytes());
                h[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(ts as u32).to_le_bytes());
                h[20..24].copy_from_slice(&cap32.to_le_bytes());
                h[24..28].copy_from_slice(&wire.to_le_bytes());
                self.put(&h)?;
                for p in parts {
                    self.put(p)?;
                }
                self.put(&PAD[..pad])?;
                self.put(&total.to_le_bytes())?;
            }
        }
        self.packets += 1;
        self.wire_bytes += wire as u64;
        Ok(())
    }

    /// Bytes of the stream so far (buffered or written).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    pub fn packets(&self) -> u64 {
        self.packets
    }
    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
