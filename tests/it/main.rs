//! End-to-end tests of the `hvsleuth` binary (one test crate, so the big binary
//! is linked once).

/// Returns from a test that needs the public corpus when it is absent, saying
/// so in one line (`cargo test -- --nocapture` shows it; stderr otherwise).
macro_rules! needs_corpus {
    () => {
        if !crate::common::corpus_present(module_path!(), line!()) {
            return;
        }
    };
}

mod analyze;
mod common;
mod corpus;
mod csv_cluster;
mod dataset;
mod evidence;
mod findings;
mod generated;
mod kerberos;
mod lab;
mod memory;
mod robustness;
mod shards;
mod smb;
mod usage;
