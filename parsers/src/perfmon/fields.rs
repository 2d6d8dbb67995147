//! Splitting one PDH-CSV / PDH-TSV line into fields without allocating.
//!
//! PDH writes every cell double-quoted (`"a","b"`), a quote inside a cell is
//! doubled (RFC 4180). Unquoted cells are accepted too (some tools re-save the
//! file that way). Quoted cells may contain the delimiter, e.g. a network
//! adapter instance `Intel[R] Ethernet, #2`.

/// Iterator over the raw cells of a line. A quoted cell is returned without its
/// outer quotes; doubled quotes inside are left doubled (see [`unescape`]).
pub struct Fields<'a> {
    rest: &'a [u8],
    delim: u8,
    done: bool,
}

impl<'a> Fields<'a> {
    pub fn new(line: &'a [u8], delim: u8) -> Self {
        Self {
            rest: line,
            delim,
            done: false,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        let s = self.rest;
        if let Some(body) = s.strip_prefix(b"\"") {
            // Find the closing quote that is not doubled.
            let mut i = 0;
            let end = loop {
                match body.get(i..).and_then(|t| memchr::memchr(b'"', t)) {
                    None => break None,
                    Some(p) => {
                        let q = i + p;
                        if body.get(q + 1) == Some(&b'"') {
                            i = q + 2;
                        } else {
                            break Some(q);
                        }
                    }
                }
            };
            match end {
                None => {
                    // Unterminated quote: the rest of the line is the cell.
                    self.done = true;
                    Some(body)
                }
                Some(q) => {
                    let cell = &body[..q];
                    let after = &body[q + 1..];
                    match memchr::memchr(self.delim, after) {
                        Some(d) => self.rest = &after[d + 1..],
                        None => self.done = true,
                    }
                    Some(cell)
                }
            }
        } else {
            match memchr::memchr(self.delim, s) {
                Some(d) => {
                    self.rest = &s[d + 1..];
                    Some(&s[..d])
                }
                None => {
                    self.done = true;
                    Some(s)
                }
            }
        }
    }
}

/// Decodes a raw cell to text, undoubling `""` (lossy UTF-8).
pub fn unescape(cell: &[u8]) -> String {
    String::from_utf8_lossy(cell).replace("\"\"", "\"")
}

/// Delimiter of a PDH export, judged from the header line: `"(PDH-TSV` means tab.
pub fn delimiter_of(header: &[u8]) -> u8 {
    if memchr::memmem::find(header, b"(PDH-TSV").is_some() {
        b'\t'
    } else {
        b','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str, d: u8) -> Vec<String> {
        Fields::new(s.as_bytes(), d)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    #[test]
    fn quoted_with_commas() {
        assert_eq!(
            split(r#""a","b, #2","""q""",x,"#, b','),
            ["a", "b, #2", r#"""q"""#, "x", ""]
        );
        assert_eq!(unescape(br#"""q"""#), "\"q\"");
    }

    #[test]
    fn tsv_and_edge_cases() {
        assert_eq!(split("\"a\"\t\" \"\t\"\"", b'\t'), ["a", " ", ""]);
        assert_eq!(split("\"open", b','), ["open"]);
        assert_eq!(split("", b','), [""]);
    }
}
