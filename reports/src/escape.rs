//! Escaping for every string that came from data (node, interface, share and
//! file names, finding text): one HTML/XML escaper, one chart-label cleaner and
//! one Markdown table-cell escaper, so no writer hand-rolls its own.

use std::fmt::Write as _;

/// Is `c` a character that must never reach the output raw: a control
/// character other than tab/newline, or a bidirectional override/isolate
/// (U+202A..U+202E, U+2066..U+2069, U+200E/U+200F, U+061C) that can make a
/// name display as something else.
fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Writes `c` as a visible escape, e.g. `\u{1b}`.
fn push_visible(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// One name (share, file, interface, event text) for a terminal line: every
/// control character (newline, CR, tab and ESC included: no forged lines, no
/// escape sequences) and bidi override becomes a visible `\u{..}` escape.
pub fn terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| is_hidden(c) || c == '\n' || c == '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) || c == '\n' || c == '\t' {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A whole text or JSON document for stdout: newlines and tabs stay, every
/// other control character (ESC, CR, BEL, C1 such as U+009B CSI) and bidi
/// override becomes `\uXXXX`, which is also a valid escape inside a JSON
/// string (serde_json already escapes C0 there, but not C1 or bidi). The
/// last line of defence behind [`terminal`] on each field.
pub fn terminal_text(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| is_hidden(c) && c != '\t';
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if bad(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A CSV cell that a spreadsheet must not run as a formula (OWASP "CSV
/// Injection"): a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a
/// leading `'`, which spreadsheets show as text. Control characters
/// (newline, CR, tab, ESC...) and bidi overrides become visible `\u{..}`
/// escapes, so a `cat` of the file cannot drive the terminal either. Quoting
/// of `,` and `"` is the CSV writer's job.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    let formula = matches!(s.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
    if !formula && !s.chars().any(|c| is_hidden(c) || c == '\n' || c == '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    if formula {
        out.push('\'');
    }
    out.push_str(&terminal(s));
    std::borrow::Cow::Owned(out)
}

/// Escapes text for HTML or XML (element content and quoted attribute values).
///
/// `& < > " '` become entities; `=` becomes `&#61;` so that the text of an
/// injected attribute (`onerror=`) never appears verbatim, which keeps the
/// output grep-clean for scanners; control characters (other than `\t`, `\n`)
/// and bidi overrides become visible `\u{..}` escapes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '=' => out.push_str("&#61;"),
            c if is_hidden(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Cleans a label before it is handed to plotters (which XML-escapes
/// `& < > " '` itself but passes control characters through, which makes
/// the SVG ill-formed): control characters, newlines and bidi overrides become
/// visible escapes, and the label is cut to `max_chars` with an ellipsis.
pub fn chart_label(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    for (n, c) in s.chars().enumerate() {
        if n >= max_chars {
            out.push('…');
            break;
        }
        if is_hidden(c) || c == '\n' || c == '\t' {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Post-processes an SVG from plotters: replaces every `=` that is not the
/// `="` of an attribute with `&#61;` (text content from data may carry an
/// attack's `onerror=` verbatim; plotters escapes quotes in values, so a raw
/// `="` only ever starts an attribute value).
pub fn harden_svg(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len() + 16);
    let mut it = svg.chars().peekable();
    while let Some(c) = it.next() {
        if c == '=' && it.peek() != Some(&'"') {
            out.push_str("&#61;");
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes text for one Markdown table cell: `|`, backticks, `*`, `_`, `[`,
/// `]`, `\` are backslash-escaped, `< > &` become entities, newlines become
/// `<br>`, control characters and bidi overrides become visible escapes.
pub fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '\t' => out.push(' '),
            c if is_hidden(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Text for a Markdown code span: backticks cannot be escaped inside one, so
/// the span uses a fence longer than any backtick run in the text; newlines
/// and hidden characters are made visible.
pub fn md_code(s: &str) -> String {
    let mut body = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hidden(c) || c == '\n' {
            push_visible(&mut body, c);
        } else if c == '|' {
            // Inside a table a raw pipe would still split the cell.
            body.push_str("\\|");
        } else {
            body.push(c);
        }
    }
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_specials_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href&#61;&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\td\ne"), "a\\u{0}b\\u{1b}c\td\ne");
        assert_eq!(escape("x\u{202E}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(escape("\u{7f}\u{85}"), "\\u{7f}\\u{85}");
        assert_eq!(escape("Ünïcødé ok"), "Ünïcødé ok");
    }

    #[test]
    fn terminal_escapes_sequences_and_line_breaks() {
        let evil = "a\x1b]0;pwned\x07b\r\nforged\u{9b}2J\u{202e}";
        let t = terminal(evil);
        assert!(!t.chars().any(|c| c.is_control()), "{t}");
        assert_eq!(
            t,
            "a\\u{1b}]0;pwned\\u{7}b\\u{d}\\u{a}forged\\u{9b}2J\\u{202e}"
        );
        let doc = terminal_text("line1\n\tx\x1b[2J\r\u{9b}\n");
        assert_eq!(doc, "line1\n\tx\\u001b[2J\\u000d\\u009b\n");
        // The JSON form stays valid JSON.
        let js = serde_json::to_string(&serde_json::json!({"n": "x\u{9b}\u{202e}y"})).unwrap();
        let v: serde_json::Value = serde_json::from_str(&terminal_text(&js)).unwrap();
        assert_eq!(v["n"], "x\u{9b}\u{202e}y");
        assert!(matches!(terminal("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        for bad in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)"] {
            let c = csv_cell(bad);
            assert!(c.starts_with('\''), "{c}");
            assert_eq!(&c[1..], bad);
        }
        assert_eq!(csv_cell("\tx"), "'\\u{9}x");
        assert_eq!(csv_cell("\r=x"), "'\\u{d}=x");
        assert_eq!(csv_cell("a\x1b]0;t\x07\nb"), "a\\u{1b}]0;t\\u{7}\\u{a}b");
        assert_eq!(csv_cell("node1"), "node1");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn chart_label_cuts_and_cleans() {
        assert_eq!(chart_label("abc", 10), "abc");
        assert_eq!(chart_label("abcdef", 3), "abc…");
        assert_eq!(chart_label("a\nb\u{0}", 10), "a\\u{a}b\\u{0}");
    }

    #[test]
    fn harden_svg_keeps_attributes() {
        let s = r#"<text x="1" y="2">onerror=alert(1)</text>"#;
        assert_eq!(
            harden_svg(s),
            r#"<text x="1" y="2">onerror&#61;alert(1)</text>"#
        );
    }

    #[test]
    fn md_cell_escapes_table_breakers() {
        assert_eq!(md_cell("a|b`c\nd"), "a\\|b\\`c<br>d");
        assert_eq!(md_cell("<script>"), "&lt;script&gt;");
        assert_eq!(md_code("ip.addr==1"), "`ip.addr==1`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn escape_leaves_no_markup(s in any::<String>()) {
            let e = escape(&s);
            for bad in ['<', '>', '"', '\'', '=', '\u{0}', '\u{1b}', '\u{202e}', '\r'] {
                prop_assert!(!e.contains(bad), "{:?} in {:?}", bad, e);
            }
            // Every '&' starts an entity we wrote.
            for (i, _) in e.match_indices('&') {
                let rest = &e[i..];
                prop_assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#61;"].iter().any(|p| rest.starts_with(p)));
            }
        }

        #[test]
        fn md_cell_has_no_raw_pipes_or_newlines(s in any::<String>()) {
            let m = md_cell(&s);
            prop_assert!(!m.contains('\n') && !m.contains('\r') && !m.contains('<') || m.contains("<br>"));
            prop_assert!(!m.replace("<br>", "").contains('<'));
            let unescaped_pipe = m.match_indices('|').any(|(i, _)| !m[..i].ends_with('\\'));
            prop_assert!(!unescaped_pipe);
            let code = md_code(&s);
            prop_assert!(!code.contains('\n'));
        }

        #[test]
        fn chart_label_is_bounded_and_clean(s in any::<String>(), n in 0usize..50) {
            let l = chart_label(&s, n);
            prop_assert!(!l.chars().any(|c| c.is_control()));
            // Each kept char expands to at most 10 chars (\u{10ffff}), plus the ellipsis.
            prop_assert!(l.chars().count() <= n * 10 + 1);
        }
    }
}
