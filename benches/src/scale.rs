//! Multiplying a real capture: N re-addressed copies (see [`super::readdr`])
//! written into one pcapng with the input's interfaces, either one after the
//! other in time (copy k shifted by k x (duration + 1 s)) or interleaved
//! (`overlap`: frame i of every copy in turn, copy k shifted by k ns and kept
//! monotonic). Output stops at the requested size. The input is streamed
//! (held in memory only when it is at most [`IN_MEMORY_MAX`] bytes), so any
//! input and output size works in bounded memory.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use hvsleuth_parsers::{InterfaceInfo, Packet, PacketSink, ReadReport, read_capture};

use super::readdr::readdress;
use super::writer::{CaptureWriter, Format, IfaceDesc};
use super::{GenSummary, ScaleOpts};

/// Inputs up to this size are read once into memory and replayed from there.
const IN_MEMORY_MAX: u64 = 512 << 20;
/// IPv4 re-addressing carries into the second octet: 65536 distinct copies.
const MAX_COPIES: u64 = 65_536;

/// The input, re-readable for every pass.
enum Source<'a> {
    Memory(Vec<u8>),
    File(&'a Path),
}

impl Source<'_> {
    fn read(&self, name: &str, sink: &mut dyn PacketSink) -> anyhow::Result<ReadReport> {
        Ok(match self {
            Source::Memory(b) => read_capture(&b[..], name, sink),
            Source::File(p) => {
                let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
                read_capture(f, name, sink)
            }
        })
    }
}

/// First pass: interfaces, packet count, time span, EPB bytes per copy.
#[derive(Default)]
struct Survey {
    ifaces: Vec<InterfaceInfo>,
    packets: u64,
    min_ts: i64,
    max_ts: i64,
    epb_bytes: u64,
}

impl PacketSink for Survey {
    fn interface(&mut self, info: &InterfaceInfo) {
        self.ifaces.push(info.clone());
    }
    fn packet(&mut self, p: &Packet<'_>) {
        if self.packets == 0 {
            self.min_ts = p.ts_ns;
            self.max_ts = p.ts_ns;
        }
        self.min_ts = self.min_ts.min(p.ts_ns);
        self.max_ts = self.max_ts.max(p.ts_ns);
        self.packets += 1;
        self.epb_bytes += 32 + p.data.len().div_ceil(4) as u64 * 4;
    }
}

/// Writing pass: the copies `copies` of every packet, in turn.
struct Copier<'w> {
    w: &'w mut CaptureWriter<File>,
    copies: std::ops::Range<u32>,
    /// Time shift of copy k: k * step_ns.
    step_ns: i64,
    /// Keep timestamps non-decreasing (overlap mode).
    monotonic: bool,
    limit: u64,
    buf: Vec<u8>,
    last_ts: i64,
    first_ts: Option<i64>,
    readdressed: u64,
    err: Option<io::Error>,
}

impl PacketSink for Copier<'_> {
    fn interface(&mut self, _info: &InterfaceInfo) {}

    fn packet(&mut self, p: &Packet<'_>) {
        for k in self.copies.clone() {
            if self.err.is_some() || self.w.bytes() >= self.limit {
                return;
            }
            self.buf.clear();
            self.buf.extend_from_slice(p.data);
            if k > 0 && readdress(p.link_type, &mut self.buf, k) {
                self.readdressed += 1;
            }
            let mut ts = p
                .ts_ns
                .saturating_add(self.step_ns.saturating_mul(k as i64));
            if self.monotonic {
                ts = ts.max(self.last_ts);
            }
            if let Err(e) = self.w.packet(p.iface, ts, p.wire_len, &[&self.buf]) {
                self.err = Some(e);
                return;
            }
            self.first_ts.get_or_insert(ts);
            self.last_ts = ts;
        }
    }
}

/// Writes the scaled capture described in the module docs.
pub fn scale(o: &ScaleOpts) -> anyhow::Result<GenSummary> {
    let meta =
        std::fs::metadata(&o.input).with_context(|| format!("reading {}", o.input.display()))?;
    let src = if meta.len() <= IN_MEMORY_MAX {
        let mut v = Vec::with_capacity(meta.len() as usize);
        File::open(&o.input)?.read_to_end(&mut v)?;
        Source::Memory(v)
    } else {
        Source::File(&o.input)
    };
    let name = o
        .input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capture".into());

    let mut survey = Survey::default();
    let report = src.read(&name, &mut survey)?;
    if survey.packets == 0 {
        match report.error {
            Some(e) => bail!("{}: {e}", o.input.display()),
            None => bail!("{}: no packets to copy", o.input.display()),
        }
    }
    // A damaged tail is dropped; every pass stops at the same place.
    let ifaces: Vec<IfaceDesc> = survey
        .ifaces
        .iter()
        .map(|i| IfaceDesc {
            name: i.name.clone(),
            description: i.description.clone(),
            link_type: i.link_type.0,
            snaplen: i.snaplen,
            speed_bps: i.speed_bps,
        })
        .collect();
    let out = File::create(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let mut w = CaptureWriter::new(out, Format::PcapNg, &ifaces)?;

    let span = survey.max_ts - survey.min_ts;
    let per_copy = survey.epb_bytes.max(1);
    let wanted = o
        .size_bytes
        .saturating_sub(w.bytes())
        .div_ceil(per_copy)
        .clamp(1, MAX_COPIES);
    let mut sum = GenSummary {
        interfaces: ifaces.len() as u32,
        ..GenSummary::default()
    };
    let mut first_ts = None;
    let mut last_ts = 0;
    let mut run = |w: &mut CaptureWriter<File>,
                   copies: std::ops::Range<u32>,
                   step_ns: i64,
                   monotonic: bool,
                   sum: &mut GenSummary|
     -> anyhow::Result<()> {
        let mut c = Copier {
            w,
            copies,
            step_ns,
            monotonic,
            limit: o.size_bytes,
            buf: Vec::with_capacity(64 << 10),
            last_ts,
            first_ts: None,
            readdressed: 0,
            err: None,
        };
        src.read(&name, &mut c)?;
        if let Some(e) = c.err {
            return Err(e).context("writing the output");
        }
        sum.readdressed += c.readdressed;
        if first_ts.is_none() {
            first_ts = c.first_ts;
        }
        last_ts = c.last_ts;
        Ok(())
    };
    if o.overlap {
        run(&mut w, 0..wanted as u32, 1, true, &mut sum)?;
        sum.copies = wanted as u32;
    } else {
        let step = span.saturating_add(1_000_000_000);
        for k in 0..wanted as u32 {
            if w.bytes() >= o.size_bytes && k > 0 {
                break;
            }
            run(&mut w, k..k + 1, step, false, &mut sum)?;
            sum.copies = k + 1;
        }
    }
    sum.first_ts_ns = first_ts.unwrap_or(0);
    sum.last_ts_ns = last_ts;
    sum.packets = w.packets();
    sum.bytes = w.bytes();
    sum.wire_bytes = w.wire_bytes();
    let mut f = w.finish()?;
    f.flush()?;
    Ok(sum)
}
