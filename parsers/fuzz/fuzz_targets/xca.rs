#![no_main]
//! MS-XCA decoders (plain LZ77 for ETW buffers, LZ77+Huffman for SMB):
//! arbitrary input, output capped at a size taken from the first bytes;
//! never panics, never writes beyond the cap; what our encoders write
//! decodes back.
use hvsleuth_parsers::xca;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cap = u16::from_le_bytes([data[0], data[1]]) as usize;
    let input = &data[2..];
    let mut out = vec![0u8; cap];
    if let Ok(n) = xca::lz77_decompress(input, &mut out) {
        assert!(n <= cap);
    }
    if let Ok(n) = xca::huffman_decompress(input, &mut out) {
        assert!(n <= cap);
    }
    let mut back = vec![0u8; input.len()];
    assert_eq!(
        xca::lz77_decompress(&xca::lz77_compress(input), &mut back),
        Ok(input.len())
    );
    assert_eq!(back, input);
    assert_eq!(
        xca::huffman_decompress(&xca::huffman_compress(input), &mut back),
        Ok(input.len())
    );
    assert_eq!(back, input);
});
