#![no_main]
//! Any bytes as a Windows event XML export, as an Event Viewer CSV export, and
//! (prefixed with the evtx magic) as a binary .evtx image.
use hvsleuth_parsers::evtx::{Select, read_event_csv, read_event_xml, read_evtx_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_event_xml(data, |_| {});
    let _ = read_event_csv(data, 0, |_| {});
    if data.starts_with(b"ElfFile\0") {
        let _ = read_evtx_bytes(data.to_vec(), 1, Select::All, |_| {});
    }
});
