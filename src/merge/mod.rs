//! Stage 2, the global merge: what needs every capture at once. Topology
//! (nodes, interfaces, networks, inferred or from the inventory), clock
//! skew between captures, attribution (interface x role x time bucket) and
//! the reconciliation with perfmon counters. Findings and reports come
//! after it and import it; it imports neither.
//!
//! It reads the per-file scan results (one shard each, in memory or on
//! disk: the same code) in two passes. The first takes every capture's
//! [`facts::CaptureFacts`] (what topology and skew need, bounded per
//! capture) and folds each SMB model into one as it is read (the merged
//! model's per-IO records capped at `MAX_IO_RECORDS` in all). The second
//! reads one capture's service groups with their series at a time,
//! attributes them into the interface x role x bucket tables and drops them
//! ([`attribute::Attribution`]). So the merge's memory grows with
//! interfaces x roles x buckets and the attributed groups' rows, not with
//! packets nor with every capture's series at once.

pub mod attribute;
pub mod facts;
pub mod reconcile;
pub mod skew;
pub mod topology;
