//! RPC latencies, summarised in bounded memory: a log-scaled histogram (32 buckets per doubling,
//! so a quantile is within about 2 % of the true value) instead of every sample, because a
//! connection can carry millions of RPCs.

use std::collections::BTreeMap;

use serde::Serialize;

/// Buckets per doubling of the latency.
const PER_OCTAVE: f64 = 32.0;

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
