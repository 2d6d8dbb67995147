//! Every public corpus file (pcaps, ETL, EVTX, BLG, ...) fed to each text
//! reader of this crate: none may panic, and binary files must not produce
//! events. Sniffing must route the .evtx and .blg files correctly.
use std::path::PathBuf;

use hvsleuth_parsers::clusterlog::{ClusterLogOptions, read_cluster_log};
use hvsleuth_parsers::evtx::{read_event_csv, read_event_xml};
use hvsleuth_parsers::perfmon::{PerfmonError, PerfmonReader};
use hvsleuth_parsers::{InputKind, sniff};

fn corpus_files() -> Vec<PathBuf> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"));
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn text_readers_survive_every_corpus_file() {
    let files = corpus_files();
    assert!(files.len() > 20, "corpus present");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let name = f.display().to_string();
        let kind = sniff(&bytes[..bytes.len().min(4096)]);
        if name.ends_with(".evtx") {
            assert_eq!(kind, InputKind::Evtx, "{name}");
        }
        if name.ends_with(".blg") {
            assert_eq!(kind, InputKind::Blg, "{name}");
            assert!(
                matches!(PerfmonReader::new(&bytes[..]), Err(PerfmonError::Blg)),
                "{name}"
            );
        }
        let text_like = name.ends_with(".md")
            || name.ends_with(".txt")
            || name.ends_with(".csv")
            || name.ends_with(".xml");
        if let Ok(r) = PerfmonReader::new(&bytes[..]) {
            let _ = r.for_each_row(|_, _| {});
        }
        let mut n = 0;
        let opts = ClusterLogOptions {
            utc_offset_minutes: 0,
            keep_unclassified: true,
        };
        read_cluster_log(&bytes[..], &opts, |_| n += 1).unwrap();
        read_event_xml(&bytes[..], |_| n += 1).unwrap();
        read_event_csv(&bytes[..], 0, |_| n += 1).unwrap();
        if !text_like {
            assert_eq!(n, 0, "{name}: events from a binary file");
        }
    }
}
