//! The latency histogram every load worker records into: an
//! [`hdrhistogram::Histogram`] (3 significant digits, so a reported
//! percentile is within 1/1024 of a recorded value; it grows to the largest
//! value recorded) with the exact minimum, maximum and sum kept beside it.
//! Histograms merge by adding counts, so each load worker keeps its own and
//! the driver adds them up at the end.

use std::time::Duration;

type Hdr = hdrhistogram::Histogram<u64>;

/// Significant decimal digits the buckets keep.
const SIGFIG: u8 = 3;

/// The largest value the buckets track (larger ones are counted here; the
/// exact maximum is still kept): 2^62 ns, about 146 years.
const HIGHEST: u64 = 1 << 62;

fn empty_hdr() -> Hdr {
    match Hdr::new(SIGFIG) {
        Ok(h) => h,
        Err(e) => unreachable!("{SIGFIG} significant digits refused: {e:?}"),
    }
}

/// Counts of recorded values, in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    hdr: Hdr,
    min: u64,
    max: u64,
    sum: u128,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
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
            hdr: empty_hdr(),
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Records one value in nanoseconds.
    pub fn record(&mut self, nanos: u64) {
        if self.hdr.record(nanos.min(HIGHEST)).is_err() {
            // Only if growing the buckets failed: count it at the top.
            self.hdr.saturating_record(nanos);
        }
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
        if self.hdr.add(&other.hdr).is_err() {
            // Only if growing the buckets failed: add bucket by bucket,
            // each counted at its top at most.
            for v in other.hdr.iter_recorded() {
                self.hdr
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.hdr.len()
    }

    /// The smallest recorded value, exact (0 when empty).
    pub fn min(&self) -> u64 {
        if self.count() == 0 {
            0
        } else {
            self.min
        }
    }

    /// The largest recorded value, exact (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean of the recorded values, exact (0 when empty).
    pub fn mean(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum as f64 / n as f64,
        }
    }

    /// The value at quantile `q` (0.0..=1.0, NaN taken as 1.0): the
    /// smallest recorded value such that at least `q` of all values are at
    /// most it, to within the bucket width (hdrhistogram reports the
    /// bucket's top; it is clamped to the exact minimum and maximum). 0 when
    /// empty.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        if self.count() == 0 {
            return 0;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        self.hdr.value_at_quantile(q).clamp(self.min, self.max)
    }

    /// [`Self::value_at_quantile`] as a duration.
    pub fn quantile_duration(&self, q: f64) -> Duration {
        Duration::from_nanos(self.value_at_quantile(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_stay_within_the_precision_over_the_whole_range() {
        // Two values a decade apart, from nanoseconds to days: the median
        // is the lower one, to within 1/1024 (and never below it).
        let mut v = 1u64;
        while v < 1 << 50 {
            let mut h = Histogram::new();
            h.record(v);
            h.record(v * 10);
            let p50 = h.value_at_quantile(0.5);
            assert!(
                p50 >= v && (p50 - v) as f64 <= v as f64 / 1024.0,
                "{v}: {p50}"
            );
            assert_eq!(h.value_at_quantile(1.0), v * 10);
            v = v * 3 + 1;
        }
        // Beyond the tracked range a value counts at its top; the exact
        // extremes still hold.
        let mut h = Histogram::new();
        h.record_duration(Duration::MAX);
        h.record(7);
        assert_eq!(h.max(), u64::MAX);
        assert!(h.value_at_quantile(1.0) >= HIGHEST);
        assert_eq!(h.value_at_quantile(0.0), 7);
        assert_eq!(h.count(), 2);
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
        // Exact at this size (3 significant digits keep every value below
        // 2048 in a bucket of its own).
        assert_eq!(h.value_at_quantile(0.0), 1);
        assert_eq!(h.value_at_quantile(0.25), 250);
        assert_eq!(h.value_at_quantile(0.5), 500);
        let p99 = h.value_at_quantile(0.99);
        assert!((990..=993).contains(&p99), "p99 {p99}");
        let p999 = h.value_at_quantile(0.999);
        assert!((999..=1000).contains(&p999), "p999 {p999}");
        assert_eq!(h.value_at_quantile(1.0), 1000);
        assert_eq!(h.value_at_quantile(f64::NAN), 1000);
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
                got >= want && (got - want) as f64 <= want as f64 / 1024.0,
                "{got} vs {want}"
            )
        };
        close(h.value_at_quantile(0.5), 1_000_000);
        close(h.value_at_quantile(0.99), 1_000_000);
        // The fast value is not reported exactly: it is the top of its
        // bucket.
        assert_ne!(h.value_at_quantile(0.5), 1_000_000);
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
        assert_eq!(a.mean(), all.mean());
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
        assert_eq!(m.count(), 0);
    }
}
