#![no_main]
//! Any bytes as an ETL file: read, decode every packet; must never panic.
use hvsleuth_parsers::etl::read_etl;
use hvsleuth_parsers::{InterfaceInfo, Packet, PacketSink, decode};
use libfuzzer_sys::fuzz_target;

struct Sink;
impl PacketSink for Sink {
    fn interface(&mut self, _: &InterfaceInfo) {}
    fn packet(&mut self, p: &Packet<'_>) {
        assert!(p.wire_len as usize >= p.data.len());
        let _ = decode(p.link_type, p.data);
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = read_etl(data, "fuzz", &mut Sink);
});
