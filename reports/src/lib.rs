//! hvsleuth's output side: the role vocabulary, charts (plotters) and the
//! HTML/Markdown/JSON report writers.

pub mod charts;
pub mod diff;
pub mod escape;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;
pub mod role;
pub mod sample;
pub mod units;
pub mod verdict;
pub mod writer;

#[cfg(test)]
mod testutil;

pub use html::{render_diff_html, render_html};
pub use json::findings_json;
pub use markdown::{render_diff_markdown, render_markdown};
pub use model::{DiffData, Finding, InterfaceData, Place, ReportData, Severity};
pub use role::Role;
pub use writer::{Written, write_diff_dir, write_report_dir};
