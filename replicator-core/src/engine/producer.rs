//! The target's idempotent producer, without IO: its id and epoch from
//! InitProducerId, with a generation that changes on every
//! (re-)initialisation, and when to ask for a new one.
//!
//! A partition's [`SequenceWindow`](super::window::SequenceWindow) numbers
//! batches within one generation; when the target has lost a generation's
//! state (UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER with nothing
//! before it failed), [`ProducerSession::lost`] asks for the next. A
//! transactional producer would extend this state machine with its
//! transaction states; the windows would not change.

use std::time::{Duration, Instant};

/// The target producer id and epoch from InitProducerId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerId {
    /// Producer id.
    pub id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Bumped on every (re-)initialisation; sequences belong to one generation.
    pub generation: u64,
}

/// First and longest wait between failed InitProducerId attempts.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The producer id in use and the one being asked for.
#[derive(Debug, Clone)]
pub struct ProducerSession {
    current: Option<ProducerId>,
    /// The generation to initialise next, when one is wanted.
    wanted: Option<u64>,
    /// Whether an InitProducerId for `wanted` is out.
    asking: bool,
    retry_at: Option<Instant>,
    failures: u32,
}

impl Default for ProducerSession {
    fn default() -> Self {
        Self::new()
    }
}

impl ProducerSession {
    /// No producer id yet; generation 0 is wanted.
    pub fn new() -> Self {
        Self {
            current: None,
            wanted: Some(0),
            asking: false,
            retry_at: None,
            failures: 0,
        }
    }

    /// The producer id to write with, if there is one.
    pub fn current(&self) -> Option<ProducerId> {
        self.current
    }

    /// The generation to ask an InitProducerId for now, if one is due.
    pub fn poll_init(&mut self, now: Instant) -> Option<u64> {
        let generation = self.wanted?;
        if self.asking || self.retry_at.is_some_and(|t| t > now) {
            return None;
        }
        self.asking = true;
        Some(generation)
    }

    /// When a failed InitProducerId is to be tried again.
    pub fn timeout(&self) -> Option<Instant> {
        self.retry_at
            .filter(|_| self.wanted.is_some() && !self.asking)
    }

    /// The answer to the InitProducerId for `generation`: the producer id
    /// and epoch, or why it failed (retried after a backoff).
    pub fn handle_init(
        &mut self,
        generation: u64,
        result: Result<(i64, i16), String>,
        now: Instant,
    ) {
        if self.wanted != Some(generation) || !self.asking {
            return;
        }
        self.asking = false;
        match result {
            Ok((id, epoch)) => {
                tracing::info!(
                    producer_id = id,
                    epoch,
                    generation,
                    "idempotent producer initialised on the target"
                );
                self.current = Some(ProducerId {
                    id,
                    epoch,
                    generation,
                });
                self.wanted = None;
                self.retry_at = None;
                self.failures = 0;
            }
            Err(e) => {
                let factor = 1u32 << self.failures.min(6);
                let wait = RETRY_FIRST.saturating_mul(factor).min(RETRY_MAX);
                self.failures = self.failures.saturating_add(1);
                tracing::warn!(error = %e, generation, retry_in = ?wait, "InitProducerId failed; retrying");
                self.retry_at = Some(now + wait);
            }
        }
    }

    /// The target lost the state of `generation`: the next is wanted, once
    /// (several partitions may report the same loss).
    pub fn lost(&mut self, generation: u64) {
        if self.current.is_some_and(|p| p.generation == generation) && self.wanted.is_none() {
            self.wanted = Some(generation + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialises_retries_with_backoff_and_reinitialises_once() {
        let t0 = Instant::now();
        let mut s = ProducerSession::new();
        assert_eq!(s.current(), None);
        assert_eq!(s.poll_init(t0), Some(0));
        assert_eq!(s.poll_init(t0), None, "one request at a time");
        s.handle_init(0, Err("COORDINATOR_NOT_AVAILABLE".into()), t0);
        assert_eq!(s.poll_init(t0), None, "backing off");
        let retry = s.timeout().unwrap();
        assert!(retry > t0);
        assert_eq!(s.poll_init(retry), Some(0));
        s.handle_init(0, Ok((42, 3)), retry);
        assert_eq!(
            s.current().map(|p| (p.id, p.epoch, p.generation)),
            Some((42, 3, 0))
        );
        assert_eq!(s.timeout(), None);
        s.lost(0);
        s.lost(0);
        assert_eq!(s.poll_init(retry), Some(1));
        s.lost(0);
        assert_eq!(s.poll_init(retry), None, "asked once");
        // A late answer for another generation changes nothing.
        s.handle_init(7, Ok((1, 1)), retry);
        assert_eq!(s.current().unwrap().generation, 0);
        s.handle_init(1, Ok((43, 0)), retry);
        assert_eq!(s.current().unwrap().id, 43);
    }
}
