//! Stage 2, the global merge: what needs every capture at once. From the
//! per-file scan results ([`crate::pipeline::files::FileScan`], one per
//! shard): topology (nodes, interfaces, networks, inferred or from the
//! inventory), clock skew between captures, attribution (interface x role
//! x time bucket) and the reconciliation with perfmon counters. Findings
//! and reports come after it and import it; it imports neither.

pub mod attribute;
pub mod reconcile;
pub mod skew;
pub mod topology;
