//! RPC latencies, summarised in bounded memory: a log-scaled histogram (32 buckets per doubling,
//! so a quantile is within about 2 % of the true value) instead of every sample, because a
//! connection can carry millions of RPCs.

use std::collections::BTreeMap;

use serde::Serialize;

/// Buckets per doubling of the latency.
const PER_OCTAVE: f64 = 32.0;

/// Most (time, latency) points a connection keeps for a plot of its latency over time.
pub const MAX_SAMPLES: usize = 256;

/// Latency over time, for a plot: (seconds since the capture's first packet, latency in seconds)
/// of every `stride`-th answered request. Bounded: when full, every other point is dropped and the
/// stride doubled, so the points always span the whole connection evenly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    points: Vec<(f32, f32)>,
    stride: u64,
    seen: u64,
}

impl Samples {
    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.points.shrink_to_fit();
    }

    /// No points.
    pub const fn new() -> Samples {
        Samples {
            points: Vec::new(),
            stride: 1,
            seen: 0,
        }
    }

    /// One answered request, sent at `at`, answered `latency` seconds later.
    pub fn add(&mut self, at: f64, latency: f64) {
        let stride = self.stride.max(1);
        if self.seen % stride == 0 {
            if self.points.len() >= MAX_SAMPLES {
                let mut keep = false;
                self.points.retain(|_| {
                    keep = !keep;
                    keep
                });
                self.stride = stride * 2;
            }
            if self.seen % self.stride.max(1) == 0 {
                self.points.push((at as f32, latency.max(0.0) as f32));
            }
        }
        self.seen += 1;
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[(f32, f32)] {
        &self.points
    }
}

/// Latencies of one kind of RPC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Bucket (by the latency in nanoseconds) to count.
    buckets: BTreeMap<u16, u64>,
    count: u64,
    min: f64,
    max: f64,
}

fn bucket(seconds: f64) -> u16 {
    let ns = (seconds * 1e9).max(1.0);
    (ns.log2() * PER_OCTAVE).round().clamp(0.0, f64::from(u16::MAX)) as u16
}

fn seconds(bucket: u16) -> f64 {
    (f64::from(bucket) / PER_OCTAVE).exp2() / 1e9
}

impl Histogram {
    /// Adds one latency (seconds; a negative one, from capture timestamps out of order, counts as
    /// zero).
    pub fn add(&mut self, latency: f64) {
        let latency = if latency.is_finite() { latency.max(0.0) } else { 0.0 };
        *self.buckets.entry(bucket(latency)).or_default() += 1;
        self.min = if self.count == 0 {
            latency
        } else {
            self.min.min(latency)
        };
        self.count += 1;
        self.max = self.max.max(latency);
    }

    /// The latency below which a fraction `q` of the samples lie.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count.max(1));
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(seconds(*b).clamp(self.min, self.max));
            }
        }
        None
    }

    pub fn summary(&self) -> Option<Summary> {
        Some(Summary {
            count: self.count,
            p50: micros(self.quantile(0.5)?),
            p99: micros(self.quantile(0.99)?),
            max: micros(self.max),
        })
    }
}

/// Seconds rounded to the microsecond: what capture timestamps resolve.
pub fn micros(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}

/// What the report shows of one kind of RPC's latency, in seconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_stay_bounded_and_span_the_whole_connection() {
        let mut s = Samples::new();
        for i in 0..100_000u32 {
            s.add(f64::from(i), f64::from(i % 7) / 1000.0);
        }
        let points = s.points();
        assert!(
            points.len() <= MAX_SAMPLES && points.len() > MAX_SAMPLES / 2,
            "{}",
            points.len()
        );
        assert_eq!(points[0].0, 0.0, "the first request stays");
        assert!(points[points.len() - 1].0 > 99_000.0, "the last points are recent");
        let gaps: Vec<f32> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
        assert!(gaps.iter().all(|g| *g == gaps[0]), "evenly spread: {gaps:?}");
        let mut few = Samples::new();
        few.add(1.0, -0.5);
        assert_eq!(few.points(), &[(1.0, 0.0)], "a negative latency counts as zero");
    }

    #[test]
    fn quantiles_are_within_two_percent() {
        let mut h = Histogram::default();
        // 1 ms .. 100 ms in 1 ms steps, and one 2 s outlier.
        for i in 1..=100 {
            h.add(f64::from(i) / 1000.0);
        }
        h.add(2.0);
        let s = h.summary().unwrap_or_else(|| unreachable!());
        assert_eq!(s.count, 101);
        assert!((s.p50 - 0.051).abs() / 0.051 < 0.02, "p50 {}", s.p50);
        assert!((s.p99 - 0.100).abs() / 0.100 < 0.02, "p99 {}", s.p99);
        assert_eq!(s.max, 2.0);
        assert!(Histogram::default().summary().is_none());
    }

    #[test]
    fn a_single_sample_is_its_own_quantiles() {
        let mut h = Histogram::default();
        h.add(0.0003);
        let s = h.summary().unwrap_or_else(|| unreachable!());
        assert_eq!((s.p50, s.p99, s.max), (0.0003, 0.0003, 0.0003));
        h.add(-1.0);
        assert!(
            h.quantile(0.0).is_some_and(|q| q < 1e-8),
            "a zero latency is the lowest bucket"
        );
    }
}
