//! Page skeleton: head with CSP and inline CSS, footer.

use std::fmt::Write as _;

use crate::Role;
use crate::escape::escape;

const CSS: &str = r#"
:root{--fg:#1d232a;--muted:#5f6b76;--line:#d9dee3;--bg:#fff;--soft:#f5f7f9}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;margin:34px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:17px;margin:22px 0 6px}
.muted{color:var(--muted)}
code,pre{font:13px/1.4 ui-monospace,"DejaVu Sans Mono",Consolas,monospace}
code{background:var(--soft);padding:1px 5px;border-radius:4px;word-break:break-all}
.verdict{font-size:15px;line-height:1.5;background:var(--soft);border-left:4px solid #d97706;padding:10px 14px;border-radius:4px;margin:12px 0}
pre.fix+pre.fix{margin-top:6px}
pre{background:#0f1720;color:#e6edf3;padding:10px 12px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:6px 0 12px;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.wrap{overflow-x:auto}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}
.meta dt{color:var(--muted)}.meta dd{margin:0;word-break:break-all}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:8px 0}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.counts{display:flex;gap:8px;flex-wrap:wrap;margin:10px 0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;vertical-align:2px}
.sev-critical{--sev:#b71c1c}.sev-high{--sev:#e65100}.sev-medium{--sev:#b08900}.sev-low{--sev:#1565c0}.sev-info{--sev:#607d8b}
.badge{background:var(--sev)}
.finding{border:1px solid var(--line);border-left:6px solid var(--sev);border-radius:6px;padding:10px 16px 6px;margin:12px 0;background:#fff}
.finding h3{margin:2px 0 4px;overflow-wrap:anywhere}.finding .fid{color:var(--muted);font-weight:500;margin-right:6px}
.finding .where{color:var(--muted);font-size:14px;overflow-wrap:anywhere}
.finding p{margin:6px 0;overflow-wrap:anywhere}
.finding .note{border-left:3px solid var(--line);padding-left:10px;color:var(--muted)}
.finding td,.finding th{overflow-wrap:anywhere}
.lbl{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em;margin:8px 0 2px}
figure.chart{margin:8px 0 14px;padding:0}
figure.chart svg{max-width:100%;height:auto;display:block}
.chart-error{color:#b71c1c;font-style:italic}
.iface{border-top:1px solid var(--line);padding-top:6px}
.iface.flagged{border-top:3px solid #d62728}
.iface h3{overflow-wrap:anywhere}.node h2{overflow-wrap:anywhere}
.flag{color:#b71c1c;font-weight:600}.flag a{color:inherit;text-decoration:none}
nav.toc{background:var(--soft);border-radius:6px;padding:8px 14px;margin:14px 0;font-size:14px}
nav.toc a{margin-right:14px;color:inherit}
details>summary{cursor:pointer;color:var(--muted)}
.inc{color:#b71c1c;font-weight:600}.dec{color:#1b5e20;font-weight:600}.bad{color:#b71c1c;font-weight:600}.good{color:#1b5e20;font-weight:600}
.status-new{--sev:#b71c1c}.status-resolved{--sev:#2e7d32}.status-unchanged{--sev:#607d8b}.status-changed{--sev:#d97706}.status-unassessable{--sev:#90a4ae}
footer{margin-top:40px;color:var(--muted);font-size:13px}
@media print{main{max-width:none}.finding{break-inside:avoid}figure.chart{break-inside:avoid}}
"#;

/// Opens the page: doctype, CSP (nothing external, no scripts), CSS, `<main>`.
pub(crate) fn head(h: &mut String, title: &str) {
    let title = if title.is_empty() {
        "hvsleuth report"
    } else {
        title
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(title)
    );
}

/// The role colour legend, the same colours as every chart.
pub(crate) fn role_legend(h: &mut String) {
    h.push_str("<div class=\"legend\">");
    for r in Role::ALL {
        let _ = write!(h, "<span>{}{}</span>", swatch(r), r.name());
    }
    h.push_str("</div>\n");
}

/// A colour swatch for a role.
pub(crate) fn swatch(r: Role) -> String {
    let (a, b, c) = r.color();
    format!("<span class=\"sw\" style=\"background:rgb({a},{b},{c})\"></span>")
}

/// Closes the page.
pub(crate) fn foot(h: &mut String, generator: &str) {
    let _ = write!(
        h,
        "<footer>Generated by {}. Times are UTC. Self-contained file: no scripts, no external resources.</footer>\n</main>\n</body>\n</html>\n",
        escape(if generator.is_empty() {
            "hvsleuth"
        } else {
            generator
        })
    );
}
