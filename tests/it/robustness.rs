//! Hostile input: 1,200 truncated and bit-flipped copies of corpus captures go
//! through `inspect`: no panic, no hang, bounded memory, sensible exit codes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::usage::tempdir;

/// Deterministic xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(src: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = src.to_vec();
    match rng.below(4) {
        0 => v.truncate(rng.below(v.len())),
        1 => {
            for _ in 0..1 + rng.below(16) {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            // Overwrite a 4-byte field with an extreme value (lengths, counts).
            let i = rng.below(v.len().saturating_sub(4));
            let val: u32 = [0xffff_ffff, 0x7fff_ffff, 0, 0x0100_0000][rng.below(4)];
            v[i..i + 4].copy_from_slice(&val.to_le_bytes());
        }
        _ => {
            let i = rng.below(v.len());
            v.truncate(i);
            let j = rng.below(64);
            for k in 0..j {
                v.push((k * 31) as u8);
            }
        }
    }
    v
}

#[test]
fn mutated_corpus_never_panics_hangs_or_balloons() {
    needs_corpus!();
    let sources: Vec<Vec<u8>> = corpus_captures()
        .iter()
        .filter(|p| {
            std::fs::metadata(p)
                .map(|m| m.len() < 4 << 20)
                .unwrap_or(false)
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(sources.len() >= 20);
    let dir = tempdir();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_batch = 100;
    let batches = 12;
    for b in 0..batches {
        let mut files = Vec::new();
        for i in 0..per_batch {
            let src = &sources[rng.below(sources.len())];
            let f = dir.join(format!("m{b}-{i}.bin"));
            std::fs::write(&f, mutate(src, &mut rng)).unwrap();
            files.push(f);
        }
        let start = Instant::now();
        let mut child = Command::new(bin())
            .arg("inspect")
            .arg("--json")
            .args(&files)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                panic!("batch {b} hung");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let code = status.code();
        assert!(
            matches!(code, Some(0) | Some(3) | Some(4)),
            "batch {b}: exit {code:?} (a panic exits 101); files in {}",
            dir.display()
        );
        for f in &files {
            let _ = std::fs::remove_file(f);
        }
    }
    // Peak resident memory of the largest child: bounded by buffers and state,
    // not by input (inputs here are < 4 MiB each).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we pass; RUSAGE_CHILDREN is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    assert_eq!(rc, 0);
    let max_rss_mb = ru.ru_maxrss / 1024;
    assert!(max_rss_mb < 512, "peak RSS {max_rss_mb} MiB");
}
