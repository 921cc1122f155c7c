//! Capped exponential backoff with jitter, as Kafka clients reconnect
//! (`reconnect.backoff.ms`, `reconnect.backoff.max.ms`).

use std::time::Duration;

use rand::Rng;

/// Delays between attempts: `initial * 2^n`, capped at `max`, each scaled by
/// a random factor in `[0.8, 1.2]` (Kafka's jitter) so that many clients do
/// not retry in lockstep. The cap holds after jitter too.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

/// Relative jitter either side of the nominal delay.
const JITTER: f64 = 0.2;

impl Backoff {
    /// A backoff starting at `initial` and never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            failures: 0,
        }
    }

    /// The nominal delay (before jitter) for the next attempt.
    pub fn nominal(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// Records a failure and returns how long to wait before the next
    /// attempt.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.nominal();
        self.failures = self.failures.saturating_add(1);
        let factor = rand::rng().random_range((1.0 - JITTER)..=(1.0 + JITTER));
        nominal.mul_f64(factor).min(self.max)
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a success: the next failure starts from `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let expected = [100u64, 200, 400, 800, 1000, 1000];
        for nominal in expected {
            assert_eq!(b.nominal(), Duration::from_millis(nominal));
            let d = b.next_delay();
            let lo = Duration::from_millis(nominal).mul_f64(0.8);
            let hi = Duration::from_millis(nominal)
                .mul_f64(1.2)
                .min(Duration::from_secs(1));
            assert!(d >= lo && d <= hi, "{d:?} not in {lo:?}..={hi:?}");
        }
        assert_eq!(b.failures(), 6);
        b.reset();
        assert_eq!(b.nominal(), Duration::from_millis(100));
    }

    #[test]
    fn never_overflows() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(10));
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut b = Backoff::new(Duration::from_millis(1000), Duration::from_secs(5));
            seen.insert(b.next_delay());
        }
        assert!(seen.len() > 1, "no jitter: {seen:?}");
    }
}
