//! Lists what an ETL file holds: buffers (compressed or not), then every
//! (provider, event id, version) with its count and smallest/largest payload.
//! A first look at a trace the reader does not decode. With pktmon frames,
//! also each packet's path (component/packet type per copy, keyed by
//! PktGroupId and PktNumber); `ETL_EVENTS_FRAMES=1` prints every frame's
//! header fields and first bytes (`ETL_EVENTS_BYTES=N` of them),
//! `ETL_EVENTS_TABLE=1` the component table events.
//!
//! `cargo run --release -p hvsleuth-parsers --example etl_events FILE.etl`
use std::collections::BTreeMap;

use hvsleuth_parsers::etl::container::{BufferHeader, RecordKind, Records, parse_event};
use hvsleuth_parsers::etl::{BUFFER_HEADER_LEN, MAX_BUFFER_SIZE, pktmon};
use hvsleuth_parsers::xca;

/// Where one copy of a pktmon packet was logged: component, packet type, event id.
type CopyAt = (u16, u16, u16);

fn main() {
    let path = std::env::args().nth(1).expect("usage: etl_events FILE.etl");
    let d = std::fs::read(&path).expect("read the file");
    let mut off = 0usize;
    let mut events: BTreeMap<(String, u16, u8), (u64, usize, usize)> = BTreeMap::new();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut dbuf = Vec::new();
    // pktmon: per packet (PktGroupId, PktNumber), the components and packet types it was logged at.
    let mut groups: BTreeMap<(u64, u16), Vec<CopyAt>> = BTreeMap::new();
    while off + BUFFER_HEADER_LEN <= d.len() {
        let h: &[u8; BUFFER_HEADER_LEN] = d[off..off + BUFFER_HEADER_LEN].try_into().unwrap();
        let bh = BufferHeader::parse(h);
        let size = bh.size as usize;
        if size < BUFFER_HEADER_LEN || bh.size > MAX_BUFFER_SIZE || off + size > d.len() {
            println!("buffer at {off}: size {size}, stop");
            break;
        }
        let raw = &d[off..off + size];
        let buf: &[u8] = if bh.compressed() {
            let want = (bh.filled as usize).clamp(BUFFER_HEADER_LEN, MAX_BUFFER_SIZE as usize);
            dbuf.clear();
            dbuf.resize(want, 0);
            dbuf[..BUFFER_HEADER_LEN].copy_from_slice(&raw[..BUFFER_HEADER_LEN]);
            let n = xca::lz77_decompress(&raw[BUFFER_HEADER_LEN..], &mut dbuf[BUFFER_HEADER_LEN..])
                .unwrap_or(0);
            &dbuf[..BUFFER_HEADER_LEN + n]
        } else {
            &raw[..(bh.filled as usize).min(size)]
        };
        println!(
            "buffer at {off}: size {size} filled {} flags {:#x} type {} cpu {} compressed {}",
            bh.filled,
            bh.flags,
            bh.buffer_type,
            bh.processor,
            bh.compressed()
        );
        for r in Records::new(buf) {
            let Ok(rec) = r else { break };
            *kinds.entry(format!("{:?}", rec.kind)).or_default() += 1;
            if let Some(g) = rec.classic_provider() {
                let e = events
                    .entry((format!("classic {g}"), 0, 0))
                    .or_insert((0, usize::MAX, 0));
                e.0 += 1;
                e.1 = e.1.min(rec.bytes.len());
                e.2 = e.2.max(rec.bytes.len());
            }
            if rec.kind == RecordKind::Event {
                if let Some(ev) = parse_event(&rec) {
                    let e = events
                        .entry((format!("{}", ev.provider), ev.id, ev.version))
                        .or_insert((0, usize::MAX, 0));
                    e.0 += 1;
                    e.1 = e.1.min(ev.payload.len());
                    e.2 = e.2.max(ev.payload.len());
                    if ev.provider == pktmon::PKTMON_PROVIDER
                        && std::env::var_os("ETL_EVENTS_TABLE").is_some()
                        && matches!(
                            ev.id,
                            pktmon::EVENT_COMPONENT_INFO | pktmon::EVENT_COMPONENT_PROP_UINT
                        )
                    {
                        let p = ev.payload;
                        let comp = u16::from_le_bytes([p[0], p[1]]);
                        if ev.id == pktmon::EVENT_COMPONENT_INFO {
                            let w: Vec<u16> = p[4..]
                                .chunks_exact(2)
                                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                                .collect();
                            let t = String::from_utf16_lossy(&w).replace('\0', " | ");
                            println!("  comp {comp} info: {t}");
                        } else {
                            println!(
                                "  comp {comp} prop {} = {}",
                                u16::from_le_bytes([p[2], p[3]]),
                                u32::from_le_bytes([p[4], p[5], p[6], p[7]])
                            );
                        }
                    }
                    if ev.provider == pktmon::PKTMON_PROVIDER
                        && matches!(ev.id, pktmon::EVENT_FRAME | pktmon::EVENT_FRAME_DROP)
                    {
                        if let Some(f) = pktmon::parse_frame(ev.payload) {
                            if std::env::var_os("ETL_EVENTS_FRAMES").is_some() {
                                let h = &ev.payload[..pktmon::FRAME_HEADER_LEN];
                                println!(
                                    "  frame t={} group={:#x} num={} appear={} dir={} type={} comp={} edge={} filter={} orig={} data={:02x?}",
                                    ev.timestamp,
                                    f.group,
                                    f.number,
                                    u16::from_le_bytes([h[10], h[11]]),
                                    f.direction,
                                    f.packet_type,
                                    f.component,
                                    u16::from_le_bytes([h[18], h[19]]),
                                    u16::from_le_bytes([h[20], h[21]]),
                                    f.original_size,
                                    &f.data[..f.data.len().min(
                                        std::env::var("ETL_EVENTS_BYTES")
                                            .ok()
                                            .and_then(|v| v.parse().ok())
                                            .unwrap_or(24)
                                    )]
                                );
                            }
                            groups.entry((f.group, f.number)).or_default().push((
                                f.component,
                                f.packet_type,
                                ev.id,
                            ));
                        }
                    }
                }
            }
        }
        off += size;
    }
    println!("records by kind: {kinds:?}");
    for ((p, id, v), (n, lo, hi)) in events {
        println!("{p} id {id} v{v}: {n} events, payload {lo}..{hi} bytes");
    }
    if !groups.is_empty() {
        // How packets travel: the sequence of (component, packet type) per packet, most common first.
        let mut paths: BTreeMap<String, u64> = BTreeMap::new();
        for v in groups.values() {
            let key: Vec<String> = v
                .iter()
                .map(|(c, t, id)| {
                    format!(
                        "{c}/t{t}{}",
                        if *id == pktmon::EVENT_FRAME_DROP {
                            "D"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            *paths.entry(key.join(" ")).or_default() += 1;
        }
        let mut paths: Vec<_> = paths.into_iter().collect();
        paths.sort_by_key(|p| std::cmp::Reverse(p.1));
        println!(
            "pktmon packets (group, number): {}; paths (component/packet type, D dropped):",
            groups.len()
        );
        for (p, n) in paths.iter().take(25) {
            println!("  {n:>7}  {p}");
        }
    }
}
