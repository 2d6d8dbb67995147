//! hvsleuth's output side: the role vocabulary, charts (plotters) and the
//! HTML/Markdown/JSON report writers.

pub mod model;
pub mod role;

pub use model::{DiffData, Finding, InterfaceData, ReportData, Severity};
pub use role::Role;
