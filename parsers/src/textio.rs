//! Text inputs as Windows tools write them: UTF-8 with or without a BOM, or
//! UTF-16LE with a BOM (`relog`, PowerShell `Out-File`, Event Viewer exports
//! can all produce it). [`TextReader`] turns any of them into a UTF-8 byte
//! stream and reads it line by line into a caller-owned, reused buffer, with a
//! bound on the line length so a file without newlines cannot exhaust memory.

use std::io::{self, BufRead, BufReader, Read};

/// Encoding detected from the byte-order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
}

/// A line-oriented UTF-8 view over a text file in any of [`TextEncoding`].
pub struct TextReader<R: Read> {
    inner: Inner<R>,
    encoding: TextEncoding,
    /// Bytes of decoded text consumed so far (after BOM and transcoding).
    consumed: u64,
    /// The last line read ended at the end of the input without a line end
    /// (a file cut short, or one written without a final newline).
    unterminated: bool,
}

/// The first bytes read for BOM sniffing, put back in front of the rest.
type Src<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

enum Inner<R: Read> {
    Utf8(BufReader<Src<R>>),
    Utf16(BufReader<Utf16LeDecoder<Src<R>>>),
}

/// Outcome of [`TextReader::read_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A line is in the buffer, without its `\n` / `\r\n`.
    Line,
    /// The line exceeded the limit: the buffer holds its first `limit` bytes,
    /// the rest of the line was skipped.
    TooLong,
    Eof,
}

impl<R: Read> TextReader<R> {
    /// Sniffs the BOM of `r` and prepares decoding.
    pub fn new(mut r: R) -> io::Result<Self> {
        // Read up to 3 bytes even from a reader that returns one byte at a time.
        let mut head = [0u8; 3];
        let mut n = 0;
        while n < head.len() {
            match r.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let head = &head[..n];
        let (encoding, skip) = if head.starts_with(&[0xef, 0xbb, 0xbf]) {
            (TextEncoding::Utf8Bom, 3)
        } else if head.starts_with(&[0xff, 0xfe]) {
            (TextEncoding::Utf16LeBom, 2)
        } else {
            (TextEncoding::Utf8, 0)
        };
        let src = std::io::Cursor::new(head[skip..].to_vec()).chain(r);
        let inner = match encoding {
            TextEncoding::Utf16LeBom => Inner::Utf16(BufReader::with_capacity(
                256 * 1024,
                Utf16LeDecoder::new(src),
            )),
            _ => Inner::Utf8(BufReader::with_capacity(256 * 1024, src)),
        };
        Ok(Self {
            inner,
            encoding,
            consumed: 0,
            unterminated: false,
        })
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Whether the line just read had no line end: the input ended inside
    /// it (text formats written by Windows end every line, so this usually
    /// means the file was cut short).
    pub fn ended_mid_line(&self) -> bool {
        self.unterminated
    }

    /// Decoded bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    fn buf_read(&mut self) -> &mut dyn BufRead {
        match &mut self.inner {
            Inner::Utf8(b) => b,
            Inner::Utf16(b) => b,
        }
    }

    /// Reads the next line into `out` (cleared first), stripping `\n` and a
    /// trailing `\r`. At most `limit` bytes are kept.
    pub fn read_line(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
        out.clear();
        let mut too_long = false;
        let mut any = false;
        let mut consumed = 0u64;
        let result = loop {
            let src = self.buf_read();
            let buf = match src.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                self.unterminated = any;
                break if any { Line::Line } else { Line::Eof };
            }
            any = true;
            let (chunk, used, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], i + 1, true),
                None => (buf, buf.len(), false),
            };
            let room = limit.saturating_sub(out.len());
            if chunk.len() > room {
                too_long = true;
            }
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            src.consume(used);
            consumed += used as u64;
            if done {
                break Line::Line;
            }
        };
        self.consumed += consumed;
        if out.last() == Some(&b'\r') {
            out.pop();
        }
        Ok(if too_long && result == Line::Line {
            Line::TooLong
        } else {
            result
        })
    }
}

impl<R: Read> Read for TextReader<R> {
    /// Reads decoded UTF-8 bytes (for consumers that are not line-oriented).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.buf_read().read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

/// Transcodes UTF-16LE bytes to UTF-8; unpaired surrogates become U+FFFD.
pub struct Utf16LeDecoder<R: Read> {
    inner: R,
    raw: Vec<u8>,
    /// A byte left over from the previous read (odd split).
    odd: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    out: Vec<u8>,
    pos: usize,
}

impl<R: Read> Utf16LeDecoder<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            raw: vec![0; 64 * 1024],
            odd: None,
            high: None,
            out: Vec::new(),
            pos: 0,
        }
    }

    fn push_unit(&mut self, u: u16) {
        let mut tmp = [0u8; 4];
        if let Some(h) = self.high.take() {
            if (0xdc00..0xe000).contains(&u) {
                let c = 0x10000 + ((u32::from(h) - 0xd800) << 10) + (u32::from(u) - 0xdc00);
                let ch = char::from_u32(c).unwrap_or('\u{fffd}');
                self.out
                    .extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                return;
            }
            self.out
                .extend_from_slice('\u{fffd}'.encode_utf8(&mut tmp).as_bytes());
        }
        if (0xd800..0xdc00).contains(&u) {
            self.high = Some(u);
            return;
        }
        let ch = char::from_u32(u32::from(u)).unwrap_or('\u{fffd}');
        self.out
            .extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
    }

    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        let n = loop {
            match self.inner.read(&mut self.raw) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            let mut tmp = [0u8; 4];
            if self.high.take().is_some() || self.odd.take().is_some() {
                self.out
                    .extend_from_slice('\u{fffd}'.encode_utf8(&mut tmp).as_bytes());
            }
            return Ok(!self.out.is_empty());
        }
        let mut i = 0;
        if let Some(lo) = self.odd.take() {
            let hi = self.raw[0];
            self.push_unit(u16::from_le_bytes([lo, hi]));
            i = 1;
        }
        let raw = std::mem::take(&mut self.raw);
        let mut pairs = raw[i..n].chunks_exact(2);
        for p in &mut pairs {
            self.push_unit(u16::from_le_bytes([p[0], p[1]]));
        }
        if let [b] = pairs.remainder() {
            self.odd = Some(*b);
        }
        self.raw = raw;
        Ok(true)
    }
}

impl<R: Read> Read for Utf16LeDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let avail = &self.out[self.pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8], limit: usize) -> (TextEncoding, Vec<(Line, String)>) {
        let mut r = TextReader::new(bytes).unwrap();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let l = r.read_line(&mut buf, limit).unwrap();
            if l == Line::Eof {
                break;
            }
            out.push((l, String::from_utf8_lossy(&buf).into_owned()));
        }
        (r.encoding(), out)
    }

    #[test]
    fn utf8_crlf_and_bom() {
        let (e, l) = lines(b"\xef\xbb\xbfa,b\r\nc\n\nd", 100);
        assert_eq!(e, TextEncoding::Utf8Bom);
        let texts: Vec<_> = l.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(texts, ["a,b", "c", "", "d"]);
    }

    #[test]
    fn utf16le_with_surrogates() {
        let text = "x\u{1F600}é\r\nzz\n";
        let mut bytes = vec![0xff, 0xfe];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let (e, l) = lines(&bytes, 100);
        assert_eq!(e, TextEncoding::Utf16LeBom);
        assert_eq!(l[0].1, "x\u{1F600}é");
        assert_eq!(l[1].1, "zz");
        assert_eq!(l.len(), 2);
    }

    /// Hands out one byte per read() call.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn bom_from_trickling_reader() {
        let mut bytes = vec![0xff, 0xfe];
        for u in "ab\ncd".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let mut r = TextReader::new(Trickle(&bytes)).unwrap();
        assert_eq!(r.encoding(), TextEncoding::Utf16LeBom);
        let mut buf = Vec::new();
        assert_eq!(r.read_line(&mut buf, 10).unwrap(), Line::Line);
        assert_eq!(buf, b"ab");
        assert_eq!(r.read_line(&mut buf, 10).unwrap(), Line::Line);
        assert_eq!(buf, b"cd");
        assert_eq!(r.read_line(&mut buf, 10).unwrap(), Line::Eof);
        let mut r = TextReader::new(Trickle(b"\xef\xbb")).unwrap();
        assert_eq!(r.encoding(), TextEncoding::Utf8);
        assert_eq!(r.read_line(&mut buf, 10).unwrap(), Line::Line);
        assert_eq!(buf, b"\xef\xbb");
    }

    #[test]
    fn long_lines_are_cut() {
        let (_, l) = lines(b"abcdefgh\nxy\n", 4);
        assert_eq!(l[0], (Line::TooLong, "abcd".to_string()));
        assert_eq!(l[1], (Line::Line, "xy".to_string()));
    }

    #[test]
    fn utf16_odd_and_lone_surrogate() {
        let (_, l) = lines(&[0xff, 0xfe, 0x00, 0xd8, 0x41, 0x00, 0x42], 100);
        assert_eq!(l[0].1, "\u{fffd}A\u{fffd}");
    }
}
