//! Clock skew between captures of different hosts, from TCP segments seen in
//! both: a segment from X to Y is captured later on Y by the path delay plus
//! the skew, one from Y to X earlier by the delay minus the skew. The skew
//! lies between the two directions' offsets; the least-delayed segment of each
//! direction (queueing only adds delay) bounds it tightly, and half the
//! distance between the bounds is the one-way delay.

use serde::Serialize;

use super::facts::CaptureFacts;
use hvsleuth_parsers::flow::Direction;

/// Matched segments needed before an estimate is trusted.
const MIN_SAMPLES: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct Skew {
    /// The capture whose clock is the reference.
    pub reference: String,
    pub capture: String,
    /// How far `capture`'s clock is ahead of `reference`'s, ns; subtracted when aligning.
    pub skew_ns: i64,
    /// Estimated one-way path delay, when segments in both directions matched.
    pub one_way_delay_ns: Option<i64>,
    /// Matched segments.
    pub samples: usize,
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable(mid).1)
}

/// (skew of b relative to a, delay, samples), if enough segments match.
fn estimate(a: &CaptureFacts, b: &CaptureFacts) -> Option<(i64, Option<i64>, usize)> {
    let (mut fwd, mut back) = (Vec::new(), Vec::new());
    for (_, dir, ta, tb) in a.seg.matches(&b.seg) {
        if dir == Direction::AtoB {
            fwd.push(tb - ta)
        } else {
            back.push(tb - ta)
        }
    }
    let n = fwd.len() + back.len();
    if n < MIN_SAMPLES {
        return None;
    }
    Some(match (median(&mut fwd), median(&mut back)) {
        // The direction whose offsets are larger runs towards `b` (skew + delay),
        // the other away from it (skew - delay). Queueing only adds delay, so
        // the smallest of the first and the largest of the second bound the
        // skew most tightly (as NTP's minimum filter does).
        (Some(f), Some(r)) => {
            let (plus, minus) = if f >= r { (&fwd, &back) } else { (&back, &fwd) };
            let lo = *minus.iter().max()?;
            let hi = *plus.iter().min()?;
            ((lo + hi) / 2, Some((hi - lo).abs() / 2), n)
        }
        (Some(x), None) | (None, Some(x)) => (x, None, n),
        (None, None) => return None,
    })
}

/// Per-file offsets (ns to add to each file's timestamps) that align every
/// capture reachable through matched segments with the first capture of its
/// group, and the estimates behind them.
pub fn align(files: &[CaptureFacts]) -> (Vec<i64>, Vec<Skew>) {
    let mut offset: Vec<Option<i64>> = vec![None; files.len()];
    let mut found = Vec::new();
    for root in 0..files.len() {
        if offset[root].is_some() {
            continue;
        }
        offset[root] = Some(0);
        // Only captures of `root`'s group are tried as references: those of
        // the groups before it were tried against every capture still
        // unaligned and matched none (without this the search is cubic in
        // the captures when few align).
        let mut in_group = vec![false; files.len()];
        in_group[root] = true;
        // Grow the aligned set from `root` until no capture joins.
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..files.len() {
                if offset[i].is_some() {
                    continue;
                }
                let best = (0..files.len())
                    .filter(|&j| in_group[j])
                    .filter_map(|j| Some((j, offset[j]?)))
                    .filter_map(|(j, oj)| estimate(&files[j], &files[i]).map(|e| (j, oj, e)))
                    .max_by_key(|(_, _, e)| e.2);
                if let Some((j, oj, (skew, delay, n))) = best {
                    offset[i] = Some(oj - skew);
                    in_group[i] = true;
                    found.push(Skew {
                        reference: files[j].name.clone(),
                        capture: files[i].name.clone(),
                        skew_ns: skew,
                        one_way_delay_ns: delay,
                        samples: n,
                    });
                    progress = true;
                }
            }
        }
    }
    (offset.into_iter().map(|o| o.unwrap_or(0)).collect(), found)
}

#[cfg(test)]
mod tests {
    #[test]
    fn medians() {
        assert_eq!(super::median(&mut [5, 1, 3]), Some(3));
        assert_eq!(super::median(&mut []), None);
    }
}
