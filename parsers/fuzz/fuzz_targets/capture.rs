#![no_main]
//! Any bytes as a capture file: read, decode every packet; must never panic.
use hvsleuth_parsers::{InterfaceInfo, Packet, PacketSink, decode, read_capture};
use libfuzzer_sys::fuzz_target;

struct Sink;
impl PacketSink for Sink {
    fn interface(&mut self, _: &InterfaceInfo) {}
    fn packet(&mut self, p: &Packet<'_>) {
        let _ = decode(p.link_type, p.data);
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = read_capture(data, "fuzz", &mut Sink);
});
