//! Summaries of timing samples: median, min, max and nearest-rank percentiles.

use std::time::Duration;

/// A summary of one series of samples, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The nearest-rank `p`th percentile of sorted `v` (NaN when empty): the
/// smallest sample with at least p% of the samples at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of sorted `v`: the middle sample, or the mean of the two middle
/// ones for an even count (NaN when empty).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

impl Summary {
    /// Summarises samples given in milliseconds (any order; NaNs dropped).
    pub fn of_ms(samples: &[f64]) -> Summary {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        Summary {
            n: v.len(),
            median: median(&v),
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
            p95: percentile(&v, 95.0),
            p99: percentile(&v, 99.0),
        }
    }

    /// Summarises durations.
    pub fn of(samples: &[Duration]) -> Summary {
        Self::of_ms(&samples.iter().map(|d| ms(*d)).collect::<Vec<_>>())
    }
}

/// A number for a table: `-` for NaN, fewer decimals as it grows.
pub fn fmt(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_count() {
        let s = Summary::of_ms(&[5.0, 1.0, 3.0]);
        assert_eq!((s.n, s.median, s.min, s.max), (3, 3.0, 1.0, 5.0));
        assert_eq!((s.p95, s.p99), (5.0, 5.0));
    }

    #[test]
    fn even_count_median_is_the_mean_of_the_middle_two() {
        let s = Summary::of_ms(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        // 95% of 20 is rank 19; 99% rounds up to rank 20; 50% is rank 10.
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&v, 99.0), 20.0);
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 20.0);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
    }

    #[test]
    fn empty_and_nan() {
        let s = Summary::of_ms(&[]);
        assert_eq!(s.n, 0);
        assert!(s.median.is_nan() && s.min.is_nan() && s.p95.is_nan());
        let s = Summary::of_ms(&[f64::NAN, 2.0]);
        assert_eq!((s.n, s.median), (1, 2.0));
    }

    #[test]
    fn durations_in_ms() {
        let s = Summary::of(&[Duration::from_micros(1500), Duration::from_millis(3)]);
        assert_eq!((s.min, s.max, s.median), (1.5, 3.0, 2.25));
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt(f64::NAN), "-");
        assert_eq!(fmt(0.0912), "0.091");
        assert_eq!(fmt(4.512), "4.51");
        assert_eq!(fmt(25.06), "25.1");
        assert_eq!(fmt(259.4), "259");
    }
}
