//! A minimal, allocation-light XML pull scanner, enough for Windows event XML
//! (`<Event xmlns=...><System>...</System><EventData>...</EventData></Event>`)
//! as rendered by the `evtx` crate, by `wevtutil qe /f:xml` and by Event
//! Viewer's "Save All Events As... XML". Not a validating parser: it never
//! fails, malformed markup just yields fewer tokens. No DTD, no external
//! entities, only the five predefined entities and character references.

use std::borrow::Cow;

/// One token of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// `<name attrs>` (`empty` for `<name attrs/>`); `name` without namespace prefix.
    Start {
        name: &'a str,
        attrs: &'a str,
        empty: bool,
    },
    /// `</name>`.
    End { name: &'a str },
    /// Character data between tags (raw, entities not yet decoded).
    Text(&'a str),
}

/// Iterates the tokens of `doc`.
pub struct Scanner<'a> {
    doc: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(doc: &'a str) -> Self {
        Self { doc, pos: 0 }
    }
}

fn local_name(qname: &str) -> &str {
    match qname.rfind(':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let rest = self.doc.get(self.pos..)?;
            if rest.is_empty() {
                return None;
            }
            if !rest.starts_with('<') {
                let end = rest.find('<').unwrap_or(rest.len());
                self.pos += end;
                return Some(Token::Text(&rest[..end]));
            }
            // Markup declarations, comments, CDATA, processing instructions.
            for (open, close) in [
                ("<!--", "-->"),
                ("<?", "?>"),
                ("<![CDATA[", "]]>"),
                ("<!", ">"),
            ] {
                if let Some(body) = rest.strip_prefix(open) {
                    let end = body
                        .find(close)
                        .map_or(rest.len(), |i| open.len() + i + close.len());
                    self.pos += end;
                    if open == "<![CDATA[" {
                        let text = body
                            .get(..end.saturating_sub(open.len() + close.len()))
                            .unwrap_or(body);
                        return Some(Token::Text(text));
                    }
                    break;
                }
            }
            if rest.starts_with("<!") || rest.starts_with("<?") {
                continue;
            }
            let Some(gt) = find_tag_end(rest) else {
                // A stray '<': pass it on as text and resynchronise.
                self.pos += 1;
                return Some(Token::Text(&rest[..1]));
            };
            let inner = &rest[1..gt];
            self.pos += gt + 1;
            if let Some(name) = inner.strip_prefix('/') {
                return Some(Token::End {
                    name: local_name(name.trim()),
                });
            }
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let name_end = inner
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(inner.len());
            let name = local_name(&inner[..name_end]);
            if name.is_empty() {
                continue;
            }
            return Some(Token::Start {
                name,
                attrs: &inner[name_end..],
                empty,
            });
        }
    }
}

/// Index of the `>` closing the tag that starts `s` (quotes respected).
/// Works on bytes: the delimiters are ASCII, so they never occur inside a
/// multi-byte UTF-8 sequence and every index returned is a char boundary.
fn find_tag_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while let Some(off) = b
        .get(i..)?
        .iter()
        .position(|&c| matches!(c, b'>' | b'<' | b'"' | b'\''))
    {
        let at = i + off;
        match b[at] {
            b'>' => return Some(at),
            b'<' => return None,
            q => {
                // `<` cannot occur in an attribute value: it ends the search,
                // so each scan stops at the next `<` and a run of unclosed
                // quotes costs one pass, not one pass per `<`.
                let close = memchr::memchr2(q, b'<', b.get(at + 1..)?)?;
                if b[at + 1 + close] == b'<' {
                    return None;
                }
                i = at + 1 + close + 1;
            }
        }
    }
    None
}

/// Value of attribute `name` in a tag's attribute text, entities decoded.
pub fn attr<'a>(attrs: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start();
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let q = after.chars().next()?;
        if q != '"' && q != '\'' {
            return None;
        }
        let body = &after[1..];
        let end = body.find(q)?;
        if local_name(key) == name {
            return Some(decode(&body[..end]));
        }
        rest = &body[end + 1..];
    }
}

/// Decodes the predefined entities and character references.
pub fn decode(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(semi) = after.find(';').filter(|&n| n <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let ent = &after[..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let doc = r#"<?xml version="1.0"?><!-- c --><e:Event xmlns:e="x"><A n='1 > 2'/>t&amp;<B></B><![CDATA[<raw>]]></e:Event>"#;
        let t: Vec<_> = Scanner::new(doc).collect();
        assert_eq!(
            t,
            [
                Token::Start {
                    name: "Event",
                    attrs: r#" xmlns:e="x""#,
                    empty: false
                },
                Token::Start {
                    name: "A",
                    attrs: " n='1 > 2'",
                    empty: true
                },
                Token::Text("t&amp;"),
                Token::Start {
                    name: "B",
                    attrs: "",
                    empty: false
                },
                Token::End { name: "B" },
                Token::Text("<raw>"),
                Token::End { name: "Event" },
            ]
        );
    }

    #[test]
    fn attrs_and_entities() {
        assert_eq!(
            attr(r#" Name="a&lt;b" Guid='{x}'"#, "Guid").as_deref(),
            Some("{x}")
        );
        assert_eq!(attr(r#" Name="a&lt;b""#, "Name").as_deref(), Some("a<b"));
        assert_eq!(attr(r#" Name=x"#, "Name"), None);
        assert_eq!(decode("&#x41;&#66;&bogus;&"), "AB&bogus;&");
        assert_eq!(decode("&#xD800;"), "&#xD800;");
    }

    #[test]
    fn malformed_never_panics() {
        for doc in [
            "<",
            "<a",
            "<a b=\"",
            "</",
            "<!--",
            "<![CDATA[x",
            "<?x",
            "<>",
            "<a/><",
            "é<é>",
        ] {
            let _ = Scanner::new(doc).count();
        }
    }

    #[test]
    fn unclosed_quotes_stay_linear() {
        // Each `<` opened a tag whose quote search ran to the end of the
        // document: 1.5 MB of `<"` was 10^11 steps. `<` inside a quoted value
        // now ends the tag (it is not allowed there), so this is one pass.
        let doc = "<\"".repeat(750_000);
        let texts = Scanner::new(&doc)
            .filter(|t| matches!(t, Token::Text(_)))
            .count();
        assert_eq!(texts, 1_500_000);
        // A quoted `>` is still part of the value.
        let t: Vec<_> = Scanner::new("<a b='>'/>").collect();
        assert_eq!(
            t,
            [Token::Start {
                name: "a",
                attrs: " b='>'",
                empty: true
            }]
        );
    }
}
