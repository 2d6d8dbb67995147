//! `hvsleuth smb`: SMB 2/3 sessions across all captures — dialect,
//! encryption, channels (Multichannel) with their capture interfaces, shares
//! with capabilities, files, bytes; server interface lists, share redirects
//! and SMB Witness notifications.

use hvsleuth_parsers::smb::model::{SmbReport, WitnessEvent};

use crate::cli::SmbArgs;
use crate::exit::ExitCode;
use crate::pipeline::files::{FileScan, scan_all};
use crate::pipeline::scan::ScanConfig;
use crate::pipeline::{expand_inputs, is_packet_input};
use crate::units::human_bytes;

/// Runs the scanner with the application analysers on every input and returns
/// the SMB report (witness events included) and the per-file scans.
pub fn collect(
    inputs: &[std::path::PathBuf],
    max_flows: usize,
    no_progress: bool,
    smb_keys: Option<std::sync::Arc<hvsleuth_parsers::smb::crypto::KeyRing>>,
) -> (SmbReport, Vec<FileScan>) {
    let cfg = ScanConfig {
        max_flows,
        smb_keys,
        ..ScanConfig::default()
    };
    let (files, smb) = scan_all(inputs, &cfg, no_progress);
    let mut report = smb.report();
    for f in &files {
        for (client, server, w) in &f.scan.witness {
            report.witness.push(WitnessEvent {
                kind: witness_kind(&w.kind),
                detail: format!(
                    "{} {client} -> {server}: {}",
                    crate::units::format_utc(w.ts_ns),
                    serde_json::to_string(&w.kind).unwrap_or_default()
                ),
            });
        }
    }
    (report, files)
}

fn witness_kind(k: &hvsleuth_parsers::dcerpc::WitnessKind) -> String {
    let v = serde_json::to_value(k).unwrap_or_default();
    v.get("op")
        .and_then(|o| o.as_str())
        .unwrap_or("unknown")
        .to_string()
}

pub fn run(args: &SmbArgs) -> ExitCode {
    let inputs = expand_inputs(&args.inputs, is_packet_input);
    if inputs.is_empty() {
        eprintln!("error: no capture files found");
        return ExitCode::NothingReadable;
    }
    let (report, files) = collect(
        &inputs,
        args.common.max_flows,
        args.common.no_progress,
        args.common.smb_key_ring(),
    );
    for f in &files {
        if let Some((msg, partial)) = &f.error {
            let what = if *partial { "warning" } else { "error" };
            eprintln!("{what}: {}", hvsleuth_reports::escape::terminal_text(msg));
        }
    }
    let code = ExitCode::from_outcomes(
        files
            .iter()
            .map(|f| (f.error.as_ref().is_none_or(|e| e.1), f.error.is_none())),
    );
    // Nothing was read: the errors above say why; stdout stays empty rather
    // than printing an empty report that looks like "no SMB here".
    if code == ExitCode::NothingReadable {
        return code;
    }
    let text = if args.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        render_text(&report, args.top)
    };
    if crate::exit::print_stdout(&text) == ExitCode::Error {
        return ExitCode::Error;
    }
    code
}

fn render_text(r: &SmbReport, top: usize) -> String {
    use hvsleuth_reports::escape::terminal as t;
    use std::fmt::Write;
    let mut s = String::new();
    let cmds: Vec<String> = r
        .commands
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let _ = writeln!(
        s,
        "SMB2 commands: {}",
        if cmds.is_empty() {
            "none".into()
        } else {
            cmds.join(", ")
        }
    );
    let idle = |x: &&hvsleuth_parsers::smb::model::SessionReport| {
        x.trees.is_empty()
            && x.files.is_empty()
            && x.read_bytes + x.write_bytes + x.encrypted_bytes == 0
    };
    let quiet = r.sessions.iter().filter(idle).count();
    let _ = writeln!(
        s,
        "{} sessions ({quiet} without tree connects or IO, not listed; see --json)",
        r.sessions.len()
    );
    for x in r.sessions.iter().filter(|x| !idle(x)) {
        let _ = writeln!(
            s,
            "\nsession {}  dialect {}  {}{}  read {}  written {}{}",
            x.session_id,
            t(x.dialect.as_deref().unwrap_or("?")),
            if x.encrypted {
                "ENCRYPTED"
            } else {
                "cleartext"
            },
            if x.scaleout_or_cluster {
                "  scale-out/cluster share"
            } else {
                ""
            },
            human_bytes(x.read_bytes),
            human_bytes(x.write_bytes),
            if x.encrypted_bytes > 0 {
                format!("  encrypted {}", human_bytes(x.encrypted_bytes))
            } else {
                String::new()
            }
        );
        if let Some(k) = &x.key {
            let g = &x.signatures;
            let sig = if g.total() > 0 {
                let mut v = format!(", {} of {} signature(s) verified", g.verified, g.total());
                if g.failed > 0 {
                    v += &format!(" ({} did not verify: wrong key or damaged)", g.failed);
                }
                if g.unchecked > 0 {
                    v += &format!(" ({} not carried whole, unchecked)", g.unchecked);
                }
                v
            } else {
                String::new()
            };
            let _ = writeln!(s, "  {}{sig}", k.how);
            if let Some(d) = &k.detail {
                let _ = writeln!(s, "    ({d})");
            }
        }
        let d = &x.decryption;
        if d.attempted() {
            let mut parts = Vec::new();
            if d.decrypted_frames > 0 {
                parts.push(format!(
                    "{} message(s) decrypted with a supplied key",
                    d.decrypted_frames
                ));
            }
            for (n, what) in [
                (
                    d.auth_failures,
                    "failed authentication (wrong key or damaged)",
                ),
                (d.truncated, "truncated in the capture"),
                (d.bad_size, "with an impossible size"),
                (d.replayed_nonces, "with a replayed nonce"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            let _ = writeln!(s, "  decryption: {}", parts.join(", "));
        }
        let _ = writeln!(
            s,
            "  {} channel(s){}{}",
            x.channels.len(),
            if x.channels.len() > 1 {
                " (SMB Multichannel)"
            } else {
                ""
            },
            if x.incomplete_messages > 0 {
                format!(
                    "  {} READ/WRITE/encrypted message(s) only partly captured (bytes count what was carried)",
                    x.incomplete_messages
                )
            } else {
                String::new()
            }
        );
        for c in &x.channels {
            let seen = if c.seen_in.is_empty() {
                format!("{} / {}", c.capture, c.interface)
            } else {
                c.seen_in
                    .iter()
                    .map(|w| w.replacen('/', " / ", 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                s,
                "    {} -> {}  on {}  read {} written {}",
                c.client,
                c.server,
                t(&seen),
                human_bytes(c.read_bytes),
                human_bytes(c.write_bytes)
            );
        }
        for tr in &x.trees {
            let _ = writeln!(
                s,
                "  share {}  {}{}{}",
                t(&tr.share),
                tr.share_type,
                if tr.capabilities.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", t(&tr.capabilities.join(", ")))
                },
                if tr.encrypt_data {
                    "  encrypt-data"
                } else {
                    ""
                }
            );
        }
        let mut files: Vec<_> = x.files.iter().collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.read_bytes + f.write_bytes));
        for f in files.iter().take(top) {
            if f.read_bytes + f.write_bytes == 0 && !f.vm_storage {
                continue;
            }
            let _ = writeln!(
                s,
                "  file {}{}  read {} written {}",
                t(&f.name),
                if f.vm_storage { " (VM storage)" } else { "" },
                human_bytes(f.read_bytes),
                human_bytes(f.write_bytes)
            );
        }
    }
    for si in &r.server_interfaces {
        let _ = writeln!(
            s,
            "\nserver {} advertises {} interface(s):",
            si.server,
            si.interfaces.len()
        );
        for i in &si.interfaces {
            let _ = writeln!(
                s,
                "  ifindex {} {} {}{}{}",
                i.if_index,
                i.addr,
                crate::units::human_bps(i.link_speed_bps),
                if i.rss { " RSS" } else { "" },
                if i.rdma { " RDMA" } else { "" }
            );
        }
    }
    for rd in &r.redirects {
        let _ = writeln!(
            s,
            "\nshare redirect: {} -> {} session {} resource {:?} to {}",
            rd.client,
            rd.server,
            rd.session_id,
            rd.resource_name,
            rd.addresses.join(", ")
        );
    }
    for w in &r.witness {
        let _ = writeln!(s, "witness {}: {}", t(&w.kind), t(&w.detail));
    }
    s
}
