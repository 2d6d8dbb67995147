//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hvsleuth")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The public corpus (`../shared/corpus` beside the repository).
pub fn corpus() -> PathBuf {
    repo().join("..").join("shared").join("corpus")
}

/// Whether `../shared/corpus` is there; when not, prints one line naming the test.
pub fn corpus_present(test: &str, line: u32) -> bool {
    let ok = corpus().is_dir();
    if !ok {
        eprintln!(
            "skipped {test} (line {line}): needs the public corpus at {}, which is absent",
            corpus().display()
        );
    }
    ok
}

/// Runs the binary; fails the test instead of hanging if it takes over 10 minutes.
pub fn run(args: &[&str]) -> Output {
    use std::io::Read;
    let mut child = Command::new(bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the hvsleuth binary runs");
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(600) {
            let _ = child.kill();
            panic!("hvsleuth {args:?} did not finish within 10 minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = run(args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// Every capture file in the corpus, relative to it, sorted.
pub fn corpus_captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                let n = p.to_string_lossy();
                if [".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"]
                    .iter()
                    .any(|x| n.ends_with(x))
                {
                    out.push(p);
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(&corpus(), &mut v);
    v.sort();
    v
}
