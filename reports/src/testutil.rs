//! Test helpers: a tiny XML well-formedness checker (tags balance, attributes
//! quoted, entities valid, no raw control characters).

/// Checks `s` is a well-formed XML fragment; returns the element count.
pub(crate) fn check_xml(s: &str) -> Result<usize, String> {
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(format!("raw control char {:?}", c));
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut stack: Vec<&str> = Vec::new();
    let mut elements = 0;
    let check_text = |t: &str| -> Result<(), String> {
        let mut rest = t;
        while let Some(p) = rest.find('&') {
            let after = &rest[p + 1..];
            let end = after.find(';').ok_or("unterminated entity")?;
            let ent = &after[..end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || (ent.starts_with("#x")
                    && ent.len() > 2
                    && ent[2..].chars().all(|c| c.is_ascii_hexdigit()))
                || (ent.starts_with('#')
                    && ent.len() > 1
                    && ent[1..].chars().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(format!("bad entity &{ent};"));
            }
            rest = &after[end + 1..];
        }
        Ok(())
    };
    while i < b.len() {
        if b[i] == b'<' {
            let rest = &s[i..];
            if rest.starts_with("<?") {
                i += rest.find("?>").ok_or("unterminated PI")? + 2;
                continue;
            }
            if rest.starts_with("<!--") {
                i += rest.find("-->").ok_or("unterminated comment")? + 3;
                continue;
            }
            let end = rest.find('>').ok_or("unterminated tag")?;
            let tag = &rest[1..end];
            if tag.contains('<') {
                return Err(format!("'<' inside tag {tag:?}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().ok_or(format!("close without open: {name}"))?;
                if open != name.trim() {
                    return Err(format!("mismatched </{name}> for <{open}>"));
                }
            } else {
                let self_close = tag.ends_with('/');
                let body = tag.trim_end_matches('/');
                let name = body.split_whitespace().next().ok_or("empty tag")?;
                // Attributes: name="value" pairs.
                let mut attrs = body[name.len()..].trim();
                while !attrs.is_empty() {
                    let eq = attrs
                        .find("=\"")
                        .ok_or(format!("unquoted attribute in {tag:?}"))?;
                    let key = attrs[..eq].trim();
                    if key.is_empty() || key.contains(char::is_whitespace) {
                        return Err(format!("bad attribute name {key:?}"));
                    }
                    let v = &attrs[eq + 2..];
                    let close = v.find('"').ok_or("unterminated attribute")?;
                    check_text(&v[..close])?;
                    attrs = v[close + 1..].trim();
                }
                elements += 1;
                if !self_close {
                    stack.push(name);
                }
            }
            i += end + 1;
        } else {
            let next = s[i..].find('<').map_or(b.len(), |p| i + p);
            check_text(&s[i..next])?;
            i = next;
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("unclosed <{open}>"));
    }
    Ok(elements)
}
