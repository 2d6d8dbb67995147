//! Compares reading .evtx files into `WinEvent`s with the evtx crate's own
//! record rendering (what `evtx_dump` does), all with the crate's rayon
//! parallelism. Each file is read `REPS` times (default 5) per mode.
//! Run with `cargo run --release -p hvsleuth-parsers --example evtx_speed FILE...`.
use hvsleuth_parsers::evtx::{Select, read_evtx_path};
use std::path::Path;
use std::time::Instant;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mb = reps as f64
        * files
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) as f64)
            .sum::<f64>()
        / 1e6;
    let time = |label: &str, read: &dyn Fn(&str) -> u64| {
        let t = Instant::now();
        let mut n = 0;
        for _ in 0..reps {
            for f in &files {
                n += read(f);
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{label:<46} {n:>9} records/events {s:>7.3} s {:>7.1} MB/s",
            mb / s
        );
    };
    println!("{} files x {reps} = {mb:.1} MB of .evtx", files.len());
    time("evtx crate: records() (XML strings)", &|f| {
        evtx::EvtxParser::from_path(f)
            .map(|mut p| p.records().filter(Result::is_ok).count() as u64)
            .unwrap_or(0)
    });
    time("evtx crate: records_bytes() (XML bytes)", &|f| {
        evtx::EvtxParser::from_path(f)
            .map(|mut p| p.records_bytes().filter(Result::is_ok).count() as u64)
            .unwrap_or(0)
    });
    time("hvsleuth: every record -> WinEvent", &|f| {
        let mut n = 0;
        let _ = read_evtx_path(Path::new(f), 0, Select::All, |_| n += 1);
        n
    });
    time("hvsleuth: tracked records -> WinEvent (timeline)", &|f| {
        let mut n = 0;
        let _ = read_evtx_path(Path::new(f), 0, Select::Tracked, |_| n += 1);
        n
    });
}
