#![no_main]
//! Any bytes as a perfmon PDH-CSV/TSV export: header, every row, classification.
use hvsleuth_parsers::perfmon::{PerfmonReader, classify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = PerfmonReader::new(data) {
        for c in &r.header().counters {
            let _ = classify(c);
        }
        let n = r.header().counters.len();
        let _ = r.for_each_row(|_, v| assert_eq!(v.len(), n));
    }
});
