#![no_main]
//! The SMB 3 decrypt path: a connection with keys for one session (GCM
//! derived keys given, in either order) and an NTLM credential. The input's
//! first byte picks the mode: even, the rest is sealed as the plaintext of
//! valid transform messages (so the decoders run on decrypted bytes, split
//! at every 0xFF byte), followed by a damaged copy; odd, the rest is raw
//! stream bytes (transform headers with any sizes, nonces and tags).
//! Must never panic and must stay within the message bound.
use std::sync::Arc;

use hvsleuth_parsers::Direction;
use hvsleuth_parsers::smb::crypto::cipher::{AES_128_GCM, Cipher, transform_message};
use hvsleuth_parsers::smb::crypto::keys::{self, KeyRing};
use hvsleuth_parsers::smb::wire::MAX_MESSAGE_LEN;
use hvsleuth_parsers::flow::Endpoint;
use hvsleuth_parsers::smb::{ChannelInfo, SmbConnState, SmbEvent, SmbModel, SmbSink};
use libfuzzer_sys::fuzz_target;

const SID: u64 = 0x0000_4000_0000_0039;
const KEY: [u8; 16] = [0x42; 16];

struct Sink<'a>(&'a mut SmbModel);
impl SmbSink for Sink<'_> {
    fn event(&mut self, ev: &SmbEvent) {
        let ch = ChannelInfo {
            client: Endpoint { ip: [10, 0, 0, 1].into(), port: 50000 },
            server: Endpoint { ip: [10, 0, 0, 2].into(), port: 445 },
            capture: "fuzz".into(),
            interface: "eth0".into(),
        };
        self.0.ingest(&ch, ev);
    }
}

fn ring() -> Arc<KeyRing> {
    let mut r = KeyRing::new();
    let hexkey: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    r.add_session(keys::parse_key_spec(&format!("3900000000400000:{}:{hexkey}", "11".repeat(16))).unwrap());
    for c in keys::parse_password_file("LAB\\user:password\n").unwrap() {
        r.add_credential(c);
    }
    Arc::new(r)
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let l = (msg.len() as u32).to_be_bytes();
    let mut v = vec![0, l[1], l[2], l[3]];
    v.extend_from_slice(msg);
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut model = SmbModel::new();
    let mut st = SmbConnState::with_keys(Some(&ring()));
    let dir = if mode & 2 == 0 { Direction::AtoB } else { Direction::BtoA };
    if mode & 1 == 0 {
        let c = Cipher::new(AES_128_GCM, &KEY).unwrap();
        for (i, plain) in rest.split(|&b| b == 0xFF).enumerate() {
            if plain.is_empty() {
                continue;
            }
            let mut nonce = [0u8; 16];
            nonce[0] = i as u8;
            let m = transform_message(&c, SID, nonce, plain);
            st.data(dir, 0, &framed(&m), &mut Sink(&mut model));
            let mut bad = m.clone();
            let n = bad.len();
            bad[n - 1] ^= mode;
            st.data(dir, 0, &framed(&bad[..n - (mode as usize >> 4).min(n - 52)]), &mut Sink(&mut model));
        }
    } else {
        st.data(dir, 0, rest, &mut Sink(&mut model));
        st.gap(dir, u64::from(mode), 0, &mut Sink(&mut model));
    }
    assert!(st.max_buffer_capacity() <= MAX_MESSAGE_LEN as usize + 64);
    let _ = model.report();
});
