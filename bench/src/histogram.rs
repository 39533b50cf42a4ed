//! A log-bucketed latency histogram in the manner of HDR histograms.
//!
//! Values (nanoseconds) below 512 are kept exactly; above, every power of two
//! is split into 256 equal buckets, so a reported percentile is within 1/256
//! (0.4 %) of a recorded value, over the whole `u64` range, in a fixed
//! 117 KiB. Exact minimum, maximum and sum are kept beside the buckets.
//! Histograms merge by adding counts, so each load worker keeps its own and
//! the driver adds them up at the end.

use std::time::Duration;

/// Values below `1 << LINEAR_BITS` get a bucket each.
const LINEAR_BITS: u32 = 9;
const LINEAR: usize = 1 << LINEAR_BITS;
/// Buckets per power of two above the linear range.
const SUB: usize = 1 << (LINEAR_BITS - 1);
const BUCKETS: usize = LINEAR + (64 - LINEAR_BITS as usize) * SUB;

/// Bucket of a value.
fn index(v: u64) -> usize {
    if v < LINEAR as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= LINEAR_BITS
    let shift = msb - (LINEAR_BITS - 1);
    let sub = (v >> shift) as usize - SUB;
    LINEAR + (msb - LINEAR_BITS) as usize * SUB + sub
}

/// The smallest and largest value of a bucket.
fn bounds(i: usize) -> (u64, u64) {
    if i < LINEAR {
        return (i as u64, i as u64);
    }
    let j = i - LINEAR;
    let msb = (j / SUB) as u32 + LINEAR_BITS;
    let shift = msb - (LINEAR_BITS - 1);
    let lo = ((SUB + j % SUB) as u64) << shift;
    (lo, lo + ((1u64 << shift) - 1))
}

/// Counts of recorded values, in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("max", &self.max())
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Records one value in nanoseconds.
    pub fn record(&mut self, nanos: u64) {
        self.counts[index(nanos)] += 1;
        self.total += 1;
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
        self.sum += u128::from(nanos);
    }

    /// Records one duration (saturating at `u64::MAX` nanoseconds, 584 years).
    pub fn record_duration(&mut self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// How many values were recorded.
    #[allow(dead_code)] // for the full `synod bench` (Synod's cluster)
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The smallest recorded value (0 when empty).
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// The largest recorded value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean of the recorded values (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0.0..=1.0): the smallest recorded value
    /// such that at least `q` of all values are at most it, to within the
    /// bucket width (the bucket's top is reported, clamped to the exact
    /// minimum and maximum). 0 when empty.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bounds(i).1.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// [`Self::value_at_quantile`] as a duration.
    #[allow(dead_code)] // for the full `synod bench` (Synod's cluster)
    pub fn quantile_duration(&self, q: f64) -> Duration {
        Duration::from_nanos(self.value_at_quantile(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_whole_range() {
        assert_eq!(bounds(0), (0, 0));
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(bounds(BUCKETS - 1).1, u64::MAX);
        for i in 1..BUCKETS {
            assert_eq!(bounds(i).0, bounds(i - 1).1 + 1, "gap before bucket {i}");
            let (lo, hi) = bounds(i);
            assert_eq!(index(lo), i);
            assert_eq!(index(hi), i);
            // Relative width stays within 1/256.
            assert!((hi - lo) as f64 <= lo as f64 / 256.0 + 1.0, "bucket {i}");
        }
    }

    #[test]
    fn percentiles_of_one_to_a_thousand() {
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 1000);
        assert_eq!(h.min(), 1);
        assert_eq!(h.max(), 1000);
        assert!((h.mean() - 500.5).abs() < 1e-9);
        // Exact below 512, within a bucket (width 2 or 4 here) above.
        assert_eq!(h.value_at_quantile(0.0), 1);
        assert_eq!(h.value_at_quantile(0.25), 250);
        assert_eq!(h.value_at_quantile(0.5), 500);
        let p99 = h.value_at_quantile(0.99);
        assert!((990..=993).contains(&p99), "p99 {p99}");
        let p999 = h.value_at_quantile(0.999);
        assert!((999..=1000).contains(&p999), "p999 {p999}");
        assert_eq!(h.value_at_quantile(1.0), 1000);
    }

    #[test]
    fn percentiles_of_milliseconds_are_within_the_precision() {
        // 99 fast operations of 1 ms and one slow of 250 ms: p50 and p99 are
        // the fast value, p99.9 and max the slow one.
        let mut h = Histogram::new();
        for _ in 0..99 {
            h.record_duration(Duration::from_millis(1));
        }
        h.record_duration(Duration::from_millis(250));
        let close = |got: u64, want: u64| {
            assert!(
                got >= want && (got - want) as f64 <= want as f64 / 256.0,
                "{got} vs {want}"
            )
        };
        close(h.value_at_quantile(0.5), 1_000_000);
        close(h.value_at_quantile(0.99), 1_000_000);
        assert_eq!(h.value_at_quantile(0.999), 250_000_000);
        assert_eq!(h.max(), 250_000_000);
        assert_eq!(h.quantile_duration(1.0), Duration::from_millis(250));
    }

    #[test]
    fn merging_equals_recording_into_one() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        let mut all = Histogram::new();
        for v in 0..10_000u64 {
            let x = v * v * 37 % 5_000_000_007;
            if v.is_multiple_of(3) {
                a.record(x)
            } else {
                b.record(x)
            }
            all.record(x);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.min(), all.min());
        assert_eq!(a.max(), all.max());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(a.value_at_quantile(q), all.value_at_quantile(q));
        }
    }

    #[test]
    fn empty_histogram_answers_zero() {
        let h = Histogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.min(), 0);
        assert_eq!(h.max(), 0);
        assert_eq!(h.mean(), 0.0);
        assert_eq!(h.value_at_quantile(0.99), 0);
        let mut m = Histogram::new();
        m.merge(&h);
        assert_eq!(m.min(), 0);
    }
}
