//! SMB session rules: encrypted sessions (attribution by session only,
//! HVS010) and RDMA-capable server interfaces while SMB runs over TCP (HVS011).

use std::collections::BTreeMap;

use hvsleuth_reports::{Finding, Role, Severity};

use super::Ctx;
use super::catalogue::{HVS010, HVS011};
use crate::units::{human_bps, human_bytes};

/// "1.2.3.4:445" or "[fe80::1]:445" -> the address part.
fn host_of(endpoint: &str) -> &str {
    let h = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    h.trim_start_matches('[').trim_end_matches(']')
}

pub fn sessions(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let Some(smb) = ctx.smb else { return };
    // Encrypted sessions whose role is ambiguous: between cluster nodes, SMB can be
    // CSV redirected IO or SMB live migration, which only the share name tells.
    let node_to_node = |c: &str, sv: &str| {
        ctx.model.groups.iter().any(|g| {
            matches!(g.role, Role::RedirectedIo | Role::LiveMigration)
                && g.key.client.is_some_and(|x| x.to_string() == host_of(c))
                && g.key.server.is_some_and(|x| x.to_string() == host_of(sv))
        })
    };
    let enc: Vec<_> = smb
        .sessions
        .iter()
        .filter(|s| s.encrypted_bytes > 0)
        .filter(|s| {
            s.channels
                .iter()
                .any(|c| node_to_node(&c.client, &c.server))
        })
        .collect();
    if !enc.is_empty() {
        // Each channel is one TCP connection with its bytes once, however many
        // captures saw it; only the node-to-node channels count.
        let node_bytes = |s: &hvsleuth_parsers::smb::model::SessionReport| -> u64 {
            s.channels
                .iter()
                .filter(|c| node_to_node(&c.client, &c.server))
                .map(|c| c.encrypted_bytes)
                .sum()
        };
        let bytes: u64 = enc.iter().map(|s| node_bytes(s)).sum();
        let (dec, opaque): (Vec<&&hvsleuth_parsers::smb::model::SessionReport>, Vec<_>) =
            enc.iter().partition(|s| s.decryption.decrypted_frames > 0);
        let dec_bytes: u64 = dec.iter().map(|s| node_bytes(s)).sum();
        let failures: u64 = enc.iter().map(|s| s.decryption.auth_failures).sum();
        let shares = |s: &hvsleuth_parsers::smb::model::SessionReport| {
            let v: Vec<&str> = s
                .trees
                .iter()
                .map(|t| t.share.as_str())
                .filter(|t| !t.is_empty())
                .collect();
            if v.is_empty() {
                "no tree connect seen".to_string()
            } else {
                format!("shares {}", v.join(", "))
            }
        };
        let title = if opaque.is_empty() {
            format!(
                "{} encrypted SMB session(s), {}: decrypted with a supplied key, attributed by their shares",
                enc.len(),
                human_bytes(bytes)
            )
        } else if dec.is_empty() {
            format!(
                "{} encrypted SMB session(s): {} attributed by session only",
                enc.len(),
                human_bytes(bytes)
            )
        } else {
            format!(
                "{} encrypted SMB session(s): {} decrypted with a supplied key, {} attributed by session only",
                enc.len(),
                human_bytes(dec_bytes),
                human_bytes(bytes - dec_bytes)
            )
        };
        let mut summary = format!(
            "{} of SMB 3 traffic between cluster nodes was encrypted (transform headers). ",
            human_bytes(bytes)
        );
        if !dec.is_empty() {
            summary += &format!(
                "{} session(s) ({}) were decrypted with a supplied key: their commands, shares and files were decoded \
                 like clear SMB and their role comes from the shares. ",
                dec.len(),
                human_bytes(dec_bytes)
            );
        }
        if !opaque.is_empty() {
            summary += &format!(
                "{} session(s) ({}) could not be decrypted: their bytes are attributed to their sessions and endpoints, \
                 but the share names that tell CSV redirected IO from SMB live migration are not visible, so the role \
                 rests on who talks to whom.",
                opaque.len(),
                human_bytes(bytes - dec_bytes)
            );
        }
        if failures > 0 {
            summary += &format!(
                " {failures} encrypted message(s) did not authenticate with the supplied keys (wrong key, or damaged)."
            );
        }
        out.push(Finding {
            id: HVS010.id.into(),
            severity: Severity::Info,
            title,
            node: None,
            interface: None,
            window_start_ns: None,
            window_end_ns: None,
            summary,
            evidence: enc
                .iter()
                .take(10)
                .map(|s| {
                    let ch = s.channels.first().map(|c| format!("{} -> {}", c.client, c.server)).unwrap_or_default();
                    // Say where a recovered key came from (Kerberos, NTLMv2); never the key.
                    let origin = s
                        .key
                        .as_ref()
                        .filter(|k| k.recovered && !k.how.starts_with("key supplied"))
                        .map(|k| format!(" ({})", k.how))
                        .unwrap_or_default();
                    let how = if s.decryption.decrypted_frames > 0 {
                        format!("decrypted with a supplied key{origin}, {}", shares(s))
                    } else if s.key.as_ref().is_some_and(|k| !k.recovered) {
                        format!("not decrypted ({})", s.key.as_ref().map(|k| k.how.as_str()).unwrap_or(""))
                    } else if s.decryption.auth_failures > 0 {
                        format!("not decrypted ({} messages failed authentication)", s.decryption.auth_failures)
                    } else {
                        "not decrypted (no key)".to_string()
                    };
                    (
                        format!("session {}", s.session_id),
                        format!("{} encrypted, {ch}; {how}", human_bytes(s.encrypted_bytes)),
                    )
                })
                .collect(),
            tshark_filter: Some("smb2.header.transform".into()),
            remediation: vec![
                "# expected when shares require encryption (Set-SmbShare -EncryptData $true); to look inside, give \
                 hvsleuth the session keys (--smb-key SESSIONID:KEY, --smb-keys FILE) or the account's password \
                 (--ntlm-password FILE) for NTLMv2 sessions"
                    .into(),
            ],
            note: None,
            also: Vec::new(),
        });
    }
    // Servers that advertise RDMA interfaces, and SMB bytes over TCP to them.
    let mut tcp_bytes: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &smb.channels {
        *tcp_bytes.entry(host_of(&c.server)).or_default() += c.smb_bytes;
    }
    for si in &smb.server_interfaces {
        let rdma: Vec<_> = si.interfaces.iter().filter(|i| i.rdma).collect();
        let server = host_of(&si.server);
        let bytes = tcp_bytes.get(server).copied().unwrap_or(0);
        if rdma.is_empty() || bytes == 0 {
            continue;
        }
        out.push(Finding {
            id: HVS011.id.into(),
            severity: Severity::Medium,
            title: format!("{server} advertises RDMA interfaces, but SMB to it runs over TCP"),
            node: ctx.node_of(server.parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into())).map(str::to_string),
            interface: None,
            window_start_ns: None,
            window_end_ns: None,
            summary: format!(
                "The SMB server {server} lists {} RDMA-capable interface(s) in FSCTL_QUERY_NETWORK_INTERFACE_INFO, yet {} \
                 of SMB went to it over TCP 445: SMB Direct was not used (client NIC without RDMA, RDMA disabled, or \
                 Multichannel constrained).",
                rdma.len(),
                human_bytes(bytes)
            ),
            evidence: rdma
                .iter()
                .map(|i| (format!("ifindex {}", i.if_index), format!("{} {}", i.addr, human_bps(i.link_speed_bps))))
                .chain(std::iter::once(("SMB bytes over TCP".into(), human_bytes(bytes))))
                .collect(),
            tshark_filter: Some(format!("ip.addr == {server} && tcp.port == 445")),
            remediation: vec![
                "Get-SmbClientNetworkInterface | Format-Table FriendlyName, RdmaCapable, RssCapable, Speed\n\
                 Get-NetAdapterRdma | Format-Table Name, Enabled\n\
                 Get-SmbMultichannelConnection | Format-Table ServerName, ClientRdmaCapable, ServerRdmaCapable"
                    .into(),
                super::remediation::rdma_adapters(ctx),
            ],
            note: None,
            also: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts() {
        assert_eq!(super::host_of("10.0.0.1:445"), "10.0.0.1");
        assert_eq!(super::host_of("[fe80::1]:445"), "fe80::1");
    }
}
