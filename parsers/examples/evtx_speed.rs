//! Compares reading .evtx files into `WinEvent`s with the evtx crate's own
//! record rendering (what `evtx_dump` does), both with rayon.
//! Run with `cargo run --release -p hvsleuth-parsers --example evtx_speed FILE...`.
use std::path::Path;
use std::time::Instant;

fn main() {
    for f in std::env::args().skip(1) {
        let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        let t = Instant::now();
        let mut p = evtx::EvtxParser::from_path(&f).expect("open");
        let raw = p.records().filter(Result::is_ok).count();
        let raw_s = t.elapsed().as_secs_f64();
        let xmls: Vec<String> = evtx::EvtxParser::from_path(&f)
            .expect("open")
            .records()
            .filter_map(Result::ok)
            .map(|r| r.data)
            .collect();
        let t = Instant::now();
        let parsed = xmls
            .iter()
            .filter_map(|x| hvsleuth_parsers::evtx::parse_event_xml(x))
            .count();
        let xml_bytes: usize = xmls.iter().map(String::len).sum();
        println!(
            "  XML extraction alone (1 thread): {parsed} events, {xml_bytes} bytes of XML in {:.3} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let mut n = 0;
        let rep =
            hvsleuth_parsers::evtx::read_evtx_path(Path::new(&f), 0, |_| n += 1).expect("read");
        let ours_s = t.elapsed().as_secs_f64();
        println!(
            "{f}: {size} bytes; evtx records(): {raw} in {raw_s:.3} s ({:.1} MB/s); hvsleuth: {} in {ours_s:.3} s ({:.1} MB/s)",
            size as f64 / 1e6 / raw_s,
            rep.records,
            size as f64 / 1e6 / ours_s
        );
    }
}
