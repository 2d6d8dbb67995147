#![no_main]
//! Any bytes as a cluster.log: every line parsed and classified.
use hvsleuth_parsers::clusterlog::{ClusterLogOptions, read_cluster_log};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = ClusterLogOptions { utc_offset_minutes: -90, keep_unclassified: true };
    let _ = read_cluster_log(data, &opts, |_| {});
});
