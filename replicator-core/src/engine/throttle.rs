//! The throttle: a token bucket on fetched bytes.
//!
//! Tokens accrue at the configured rate up to one second's worth. A Fetch
//! is planned only while tokens remain, and asks for no more bytes than
//! remain; its reservation is taken at once and what it did not use comes
//! back when it is answered. A broker returns at least one batch whatever
//! the limit (KIP-74), so the bucket may go into debt; fetching then waits
//! until the debt is paid, which keeps the long-run rate exact.

use std::time::{Duration, Instant};

/// A token bucket on fetched bytes; time is passed in.
#[derive(Debug)]
pub(crate) struct Throttle {
    rate: u64,
    /// Bytes that may be fetched now; negative while in debt.
    tokens: f64,
    refilled: Instant,
    /// Since when fetching has waited for tokens, if it waits.
    waiting_since: Option<Instant>,
    waited: Duration,
}

impl Throttle {
    /// A full bucket of `rate` bytes per second (at least 1).
    pub fn new(rate: u64, now: Instant) -> Self {
        let rate = rate.max(1);
        Self {
            rate,
            tokens: rate as f64,
            refilled: now,
            waiting_since: None,
            waited: Duration::ZERO,
        }
    }

    /// The configured rate in bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + dt * self.rate as f64).min(self.rate as f64);
    }

    /// Bytes a Fetch may ask for now; 0 while the bucket is empty or in
    /// debt, counted as time spent throttled.
    pub fn available(&mut self, now: Instant) -> usize {
        self.refill(now);
        if self.tokens >= 1.0 {
            if let Some(since) = self.waiting_since.take() {
                self.waited += now.saturating_duration_since(since);
            }
            self.tokens as usize
        } else {
            self.waiting_since.get_or_insert(now);
            0
        }
    }

    /// A Fetch asked for `bytes`.
    pub fn reserve(&mut self, bytes: usize) {
        self.tokens -= bytes as f64;
    }

    /// A Fetch that reserved `reserved` bytes returned `fetched`.
    pub fn settle(&mut self, reserved: usize, fetched: usize) {
        self.tokens += reserved as f64 - fetched as f64;
    }

    /// When tokens will be there again, while there are none.
    pub fn ready_at(&self) -> Option<Instant> {
        (self.tokens < 1.0).then(|| {
            let missing = 1.0 - self.tokens;
            self.refilled + Duration::from_secs_f64(missing / self.rate as f64)
        })
    }

    /// Time fetching has waited for tokens, up to `now`.
    pub fn throttled_for(&self, now: Instant) -> Duration {
        self.waited
            + self
                .waiting_since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_second_then_the_rate() {
        let t0 = Instant::now();
        let mut t = Throttle::new(1_000, t0);
        assert_eq!(t.available(t0), 1_000);
        t.reserve(1_000);
        assert_eq!(t.available(t0), 0);
        let ready = t.ready_at().unwrap();
        assert_eq!(ready, t0 + Duration::from_millis(1));
        assert_eq!(t.available(t0 + Duration::from_millis(500)), 500);
        assert_eq!(
            t.throttled_for(t0 + Duration::from_millis(500)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn unused_reservation_comes_back_and_overshoot_is_debt() {
        let t0 = Instant::now();
        let mut t = Throttle::new(1_000, t0);
        t.reserve(800);
        t.settle(800, 300);
        assert_eq!(t.available(t0), 700);
        // A broker returned more than asked: one second of debt.
        t.reserve(700);
        t.settle(700, 1_700);
        assert_eq!(t.available(t0 + Duration::from_millis(999)), 0);
        assert!(t.available(t0 + Duration::from_millis(1_100)) >= 99);
    }

    #[test]
    fn the_bucket_holds_one_second_at_most() {
        let t0 = Instant::now();
        let mut t = Throttle::new(1_000, t0);
        assert_eq!(t.available(t0 + Duration::from_secs(60)), 1_000);
    }
}
