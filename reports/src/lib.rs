//! hvsleuth's output side: the role vocabulary, charts (plotters) and the
//! HTML/Markdown/JSON report writers.

pub mod role;

pub use role::Role;
