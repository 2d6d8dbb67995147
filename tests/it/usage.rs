//! Command-line behaviour: help, exit codes, error messages.

use crate::common::*;

#[test]
fn help_teaches() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("inspect") && s.contains("Exit codes"), "{s}");
    let out = run(&["inspect", "--help"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("--json") && s.contains("Example"), "{s}");
}

#[test]
fn not_a_capture_exits_4_naming_the_file() {
    needs_corpus!();
    let f = corpus().join("pal/SampleLog.blg");
    let out = run(&["inspect", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SampleLog.blg"), "{err}");
    assert!(err.contains("relog"), "a .blg gets the relog hint: {err}");
}

#[test]
fn missing_file_exits_4() {
    let out = run(&["inspect", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
}

#[test]
fn truncated_file_is_partial_exit_3_with_offset() {
    needs_corpus!();
    let src = std::fs::read(corpus().join("zeek/smb2.pcap")).unwrap();
    let dir = tempdir();
    let f = dir.join("cut.pcap");
    std::fs::write(&f, &src[..src.len() / 2]).unwrap();
    let out = run(&["inspect", "--json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["captures"][0];
    assert!(
        c["packets"].as_u64().unwrap() > 500,
        "packets before the cut are analysed"
    );
    let off = c["error"]["offset"].as_u64().unwrap();
    assert!(off > 0 && off <= (src.len() / 2) as u64);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.pcap") && err.contains(&format!("offset {off}")),
        "{err}"
    );
}

/// A fresh temporary directory under target/.
pub fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = repo().join("target").join("it-tmp").join(format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn etl_without_packets_reads_cleanly_with_a_note() {
    needs_corpus!();
    // dissect.etl 3.14 reads 36 buffers / 2042 records in HTTP_Server.etl, none of them packets.
    let f = corpus().join("microsoft-tx/HTTP_Server.etl");
    // No packet at all: nothing readable (exit 4), with the reason.
    let out = run(&["inspect", "--json", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["captures"][0];
    assert_eq!(c["format"], "etl");
    assert_eq!(c["packets"], 0);
    assert_eq!(c["error"]["partial"], false);
    assert!(c["notes"][0].as_str().unwrap().contains("no packet events"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no packet events"));
}

#[test]
fn flow_table_cap_evicts_and_reports() {
    // The first 4 MB of gen-bench hold more conversations (8 SMB, heartbeat pairs) than a cap of 16.
    let dir = tempdir();
    let f = dir.join("g.pcapng");
    let mut o = hvsleuth_bench::BenchOpts::new(&f);
    o.size_bytes = 4 << 20;
    hvsleuth_bench::gen_bench(&o).unwrap();
    let (code, v) = run_json(&[
        "inspect",
        "--json",
        "--max-flows",
        "16",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let c = &v["captures"][0];
    assert!(c["flows_evicted"].as_u64().unwrap() > 0, "{c}");
    assert!(
        c["flows"].as_u64().unwrap() > 16,
        "more conversations than the cap: {c}"
    );
}

#[test]
fn analyze_help_says_what_out_writes_report_html_first() {
    let out = run(&["analyze", "--help"]);
    let s = String::from_utf8_lossy(&out.stdout);
    let html = s.find("report.html").expect("--out names report.html");
    for later in [
        "report.md",
        "findings.json",
        "charts/",
        "Parquet",
        "summary.json",
    ] {
        let at = s
            .find(later)
            .unwrap_or_else(|| panic!("--out help lacks {later}: {s}"));
        assert!(html < at, "report.html comes first: {s}");
    }
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.contains("hvsleuth") && s.contains("analyze"),
            "{shell}: {s}"
        );
    }
    let out = run(&["man"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with(".ie") || s.contains(".TH hvsleuth"), "{s}");
    assert!(s.contains("analyze"));
    let dir = tempdir().join("man1");
    let out = run(&["man", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success());
    for page in [
        "hvsleuth.1",
        "hvsleuth-analyze.1",
        "hvsleuth-diff.1",
        "hvsleuth-completions.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
    assert!(
        !dir.join("hvsleuth-gen-bench.1").exists(),
        "hidden commands get no page"
    );
}

#[test]
fn a_missing_input_says_no_such_file() {
    for cmd in ["analyze", "inspect", "smb"] {
        let out = run(&[cmd, "/nonexistent/x.pcap"]);
        assert_eq!(out.status.code(), Some(4), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("/nonexistent/x.pcap") && err.contains("No such file or directory"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn a_directory_lists_what_it_skipped_and_why() {
    let dir = repo().join("samples/restore-flood");
    let out = run(&["inspect", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().any(|l| l.starts_with("skipped ")
            && l.contains("perfmon-node1.csv")
            && l.contains("not read by this command")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("timeline.txt") && l.contains("not a recognised input")),
        "{err}"
    );
}

/// `netsh trace ... report=yes` writes NetTrace.cab beside NetTrace.etl: a
/// cabinet archive ("MSCF") is set aside with a note, named or in a
/// directory, and is neither damage nor a reason to fail.
#[test]
fn a_netsh_report_cab_is_set_aside_with_a_note() {
    let dir = tempdir();
    let mut cab = b"MSCF\0\0\0\0".to_vec();
    cab.extend_from_slice(&[0x40, 0x02, 0, 0, 0, 0, 0, 0]);
    cab.extend(std::iter::repeat_n(0xa5u8, 512));
    std::fs::write(dir.join("NetTrace.cab"), &cab).unwrap();
    let pcap = repo().join("samples/restore-flood/node1.pcapng");
    std::fs::copy(&pcap, dir.join("node1.pcapng")).unwrap();
    let cab_path = dir.join("NetTrace.cab");
    for args in [
        vec!["inspect", dir.to_str().unwrap()],
        vec![
            "inspect",
            cab_path.to_str().unwrap(),
            pcap.to_str().unwrap(),
        ],
        vec!["analyze", "--json", dir.to_str().unwrap()],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().any(|l| l.starts_with("ignored ")
                && l.contains("NetTrace.cab")
                && l.contains("netsh trace")),
            "{args:?}: {err}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("NetTrace.cab"), "{args:?}: {stdout}");
    }
    // Only the archive: nothing to read, exit 4 as for any input without packets.
    let out = run(&["analyze", cab_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn smb_on_an_unreadable_file_prints_nothing_on_stdout() {
    let dir = tempdir();
    let f = dir.join("not-a-capture.pcap");
    std::fs::write(&f, b"hello, this is text").unwrap();
    for args in [
        vec!["smb", f.to_str().unwrap()],
        vec!["smb", "--json", f.to_str().unwrap()],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(4));
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn an_unwritable_out_still_prints_the_summary_first() {
    let dir = tempdir();
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let outdir = blocker.join("report");
    let inv = repo().join("samples/inventory.toml");
    let input = repo().join("samples/restore-flood");
    let out = run(&[
        "analyze",
        input.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--out",
        outdir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with("Verdict: CRITICAL HVS001"), "{s}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: writing") && err.contains("a-file/report"),
        "{err}"
    );
}

/// Colour only on a terminal (a pseudo-terminal from `script`), never with
/// NO_COLOR, never when piped.
#[test]
fn colour_only_on_a_terminal_without_no_color() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: needs script(1) (util-linux) for a pseudo-terminal");
        return;
    }
    let dir = repo().join("samples/restore-flood");
    let inv = repo().join("samples/inventory.toml");
    let cmd = format!(
        "{} analyze {} --inventory {} --no-progress",
        bin(),
        dir.display(),
        inv.display()
    );
    let tty = |no_color: bool| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]);
        c.env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    let coloured = tty(false);
    assert!(coloured.contains("\u{1b}[1;31mCRITICAL"), "{coloured}");
    assert!(!tty(true).contains('\u{1b}'), "NO_COLOR");
    let piped = run(&[
        "analyze",
        dir.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert!(!String::from_utf8_lossy(&piped.stdout).contains('\u{1b}'));
}
