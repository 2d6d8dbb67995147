//! Wall clock and this thread's CPU time for the speed examples: on a
//! shared machine CPU time is the figure that does not depend on the load.

use std::time::Instant;

/// Wall clock and, where Linux tells it, this thread's CPU time.
pub struct Timer {
    wall: Instant,
    cpu_ns: Option<u64>,
}

pub fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

impl Timer {
    pub fn start() -> Timer {
        Timer {
            wall: Instant::now(),
            cpu_ns: thread_cpu_ns(),
        }
    }
    /// CPU seconds since `start` (wall seconds when CPU time is unknown).
    pub fn secs(&self) -> f64 {
        match (self.cpu_ns, thread_cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => self.wall_secs(),
        }
    }
    pub fn wall_secs(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }
}
