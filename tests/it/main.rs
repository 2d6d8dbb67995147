//! End-to-end tests of the `hvsleuth` binary (one test crate, so the big binary
//! is linked once).

mod analyze;
mod common;
mod corpus;
mod dataset;
mod evidence;
mod findings;
mod generated;
mod lab;
mod robustness;
mod smb;
mod usage;
