#![no_main]
//! pktmon events from fuzz bytes, written as EVENT_HEADER records of the
//! Microsoft-Windows-PktMon provider into one compressed ETL buffer (as
//! Windows writes them), then read with the component-table first pass.
//! Chunks: [event selector, length, payload...]. Must never panic.
use hvsleuth_parsers::etl::{pktmon, read_etl_file, read_etl_with_components, scan_components};
use hvsleuth_parsers::{InterfaceInfo, Packet, PacketSink, decode, xca};
use libfuzzer_sys::fuzz_target;

struct Sink;
impl PacketSink for Sink {
    fn interface(&mut self, _: &InterfaceInfo) {}
    fn packet(&mut self, p: &Packet<'_>) {
        assert!(p.wire_len as usize >= p.data.len());
        let _ = decode(p.link_type, p.data);
    }
}

const IDS: [u16; 8] = [160, 160, 170, 20, 30, 65, 66, 70];

fuzz_target!(|data: &[u8]| {
    let mut records = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && records.len() < 60_000 {
        let id = IDS[(rest[0] & 7) as usize];
        let n = (rest[1] as usize).min(rest.len() - 2);
        let payload = &rest[2..2 + n];
        rest = &rest[2 + n..];
        let mut r = vec![0u8, 0, 0x13, 0xc0, 0, 0, 0, 0];
        r.extend_from_slice(&[0u8; 8]); // thread, process
        r.extend_from_slice(&(records.len() as u64).to_le_bytes()); // timestamp
        r.extend_from_slice(&pktmon::PKTMON_PROVIDER.0);
        r.extend_from_slice(&id.to_le_bytes());
        r.resize(0x50, 0);
        r.extend_from_slice(payload);
        let size = r.len() as u16;
        r[0..2].copy_from_slice(&size.to_le_bytes());
        records.extend_from_slice(&r);
        records.resize((records.len() + 7) & !7, 0);
    }
    // Header buffer (no logfile header: timestamps read as FILETIMEs).
    let mut file = vec![0u8; 0x100];
    file[0..4].copy_from_slice(&0x100u32.to_le_bytes());
    file[0x30..0x34].copy_from_slice(&0x48u32.to_le_bytes());
    let c = xca::lz77_compress(&records);
    let mut b = vec![0u8; 0x48];
    b.extend_from_slice(&c);
    let size = b.len() as u32;
    b[0..4].copy_from_slice(&size.to_le_bytes());
    b[0x30..0x34].copy_from_slice(&((0x48 + records.len()) as u32).to_le_bytes());
    b[0x34] = 0x40;
    file.extend_from_slice(&b);
    let comps = scan_components(&file[..]);
    let r = read_etl_with_components(&file[..], "fuzz", &mut Sink, Some(comps));
    assert!(r.packets <= r.packet_events);
    // What the CLI runs: the table looked up in the last buffers, one pass.
    let r2 = read_etl_file(std::io::Cursor::new(&file[..]), "fuzz", &mut Sink);
    assert_eq!(r2.packets, r.packets);
});
