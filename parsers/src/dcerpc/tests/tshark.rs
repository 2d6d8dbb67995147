//! The fixtures checked against tshark.
use super::fixtures;

#[test]
fn write_fixture_pcap() {
    let path = std::env::temp_dir().join("hvsleuth-dcerpc-fixtures.pcap");
    std::fs::write(&path, fixtures::pcap()).unwrap();
}
