//! One mirrored partition, without IO: fetch position, the produce window,
//! the committable offset, state and counters; and [`sift`], which turns a
//! fetched records blob into the batches to forward.

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use kafka_proto::messages::fetch_response::AbortedTransaction;
use kafka_proto::record::{Entries, Entry};

use super::aborted::{AbortedFilter, Verdict};
use super::producer::{Forward, SequenceWindow};
use crate::mirror::{PartitionError, PartitionState, PartitionStatus, Totals};

/// Why sifting stopped before the end of the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiftStop {
    /// A magic 0/1 entry at `offset`.
    Legacy {
        /// Its offset.
        offset: i64,
        /// Its magic.
        magic: i8,
    },
    /// A batch whose CRC does not match.
    Corrupt {
        /// Its base offset.
        offset: i64,
        /// The mismatch.
        detail: String,
    },
    /// Bytes that do not parse.
    Malformed {
        /// What failed.
        detail: String,
    },
}

/// The batches of one partition's fetched data, sorted out.
#[derive(Debug, Clone, Default)]
pub struct Sifted {
    /// Batches to forward, in order, CRC-checked.
    pub forwards: Vec<Forward>,
    /// Where the next fetch starts.
    pub next_position: i64,
    /// Batches dropped as aborted.
    pub aborted: u64,
    /// Control batches dropped.
    pub control: u64,
    /// Why sifting stopped early, if it did (`next_position` is then the
    /// offset of the offending entry).
    pub stop: Option<SiftStop>,
}

/// Splits `blob` (fetched from `position`) into batches to forward:
/// entries wholly before `position` are skipped, control batches and
/// aborted transactional batches dropped, every other batch's CRC checked.
/// Records are neither parsed nor copied (except a control batch's one
/// record).
pub fn sift(blob: Bytes, position: i64, aborted: Option<&[AbortedTransaction]>) -> Sifted {
    let mut out = Sifted {
        next_position: position,
        ..Sifted::default()
    };
    let mut filter = AbortedFilter::new(aborted);
    for entry in Entries::new(blob) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.stop = Some(SiftStop::Malformed {
                    detail: e.to_string(),
                });
                break;
            }
        };
        if entry.next_offset() <= out.next_position {
            continue;
        }
        let batch = match entry {
            Entry::Legacy(l) => {
                out.stop = Some(SiftStop::Legacy {
                    offset: l.offset(),
                    magic: l.magic(),
                });
                break;
            }
            Entry::Batch(b) => b,
        };
        match filter.verdict(&batch) {
            Ok(Verdict::Forward) => {}
            Ok(Verdict::Control) => {
                out.control += 1;
                out.next_position = batch.next_offset();
                continue;
            }
            Ok(Verdict::Aborted) => {
                out.aborted += 1;
                out.next_position = batch.next_offset();
                continue;
            }
            Err(e) => {
                out.stop = Some(SiftStop::Malformed {
                    detail: e.to_string(),
                });
                break;
            }
        }
        let offset = batch.base_offset();
        match batch.verify() {
            Ok(v) => {
                out.next_position = v.next_offset();
                out.forwards.push(Forward::new(v));
            }
            Err(e) => {
                out.stop = Some(SiftStop::Corrupt {
                    offset,
                    detail: e.to_string(),
                });
                break;
            }
        }
    }
    out
}

/// A corrupt batch is refetched this many times before the partition fails.
pub const CORRUPT_ATTEMPTS: u32 = 3;

/// One mirrored partition.
#[derive(Debug)]
pub struct Partition {
    /// Source topic.
    pub source_topic: String,
    /// Target topic.
    pub target_topic: String,
    /// Partition number on both sides.
    pub partition: i32,
    /// State.
    pub state: PartitionState,
    /// Why the state is not ACTIVE.
    pub reason: Option<String>,
    /// Next source offset to fetch; `None` until initialised.
    pub position: Option<i64>,
    /// Fetched batches waiting for, or in, Produce.
    pub window: SequenceWindow,
    /// Source high watermark from the last fetch.
    pub high_watermark: i64,
    /// Source last stable offset from the last fetch (-1: unknown); a
    /// read_committed fetch returns nothing at or past it.
    pub last_stable_offset: i64,
    /// The source node with a Fetch for this partition outstanding: a
    /// partition is in at most one Fetch at a time, so responses apply in
    /// offset order.
    pub fetching: Option<i32>,
    /// Last committed offset.
    pub committed: Option<i64>,
    /// Backfill: stop once everything before this is committed.
    pub end_offset: Option<i64>,
    /// Not before this instant: resend or refetch after an error.
    pub not_before: Option<Instant>,
    /// Consecutive failures, for backoff.
    pub failures: u32,
    /// The target topic's max.message.bytes, when known.
    pub target_max_message_bytes: Option<i64>,
    /// Time of the last fetch.
    pub last_fetch: Option<SystemTime>,
    /// Time of the last acknowledged produce.
    pub last_produce: Option<SystemTime>,
    /// Counters.
    pub totals: Totals,
    /// The target broker its in-flight batches went to: a partition is
    /// produced to one broker at a time, so a leader move cannot reorder.
    pub sent_to: Option<i32>,
    /// Its target topic could not be set up after start (missing, too few
    /// partitions, a loop): FAILED, not positioned, and set up again at
    /// every topic refresh until that works.
    pub target_setup_pending: bool,
    corrupt_attempts: u32,
}

impl Partition {
    /// A partition not yet positioned.
    pub fn new(
        source_topic: &str,
        target_topic: &str,
        partition: i32,
        max_in_flight: usize,
    ) -> Self {
        Self {
            source_topic: source_topic.to_owned(),
            target_topic: target_topic.to_owned(),
            partition,
            state: PartitionState::Active,
            reason: None,
            position: None,
            window: SequenceWindow::new(max_in_flight),
            high_watermark: -1,
            last_stable_offset: -1,
            fetching: None,
            committed: None,
            end_offset: None,
            not_before: None,
            failures: 0,
            target_max_message_bytes: None,
            last_fetch: None,
            last_produce: None,
            totals: Totals::default(),
            sent_to: None,
            target_setup_pending: false,
            corrupt_attempts: 0,
        }
    }

    /// A partition whose target topic could not be set up: FAILED with
    /// `reason`, not positioned, nothing to fetch or produce.
    pub fn target_setup_failed(
        source_topic: &str,
        target_topic: &str,
        partition: i32,
        reason: String,
    ) -> Self {
        let mut p = Self::new(source_topic, target_topic, partition, 1);
        p.state = PartitionState::Failed;
        p.reason = Some(reason);
        p.target_setup_pending = true;
        p
    }

    /// The offset to commit: everything before it is on the target (or was
    /// dropped as aborted or control).
    pub fn committable(&self) -> Option<i64> {
        self.window.first_unacknowledged().or(self.position)
    }

    /// Whether the partition is to be fetched at all: positioned, before
    /// its end, and in a state that fetches.
    pub fn fetchable(&self) -> bool {
        let state_ok = matches!(
            self.state,
            PartitionState::Active
                | PartitionState::SourceUnavailable
                | PartitionState::TargetUnavailable
        );
        let before_end = match (self.end_offset, self.position) {
            (Some(end), Some(pos)) => pos < end,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        state_ok && before_end
    }

    /// Whether a fetch for this partition may be sent now: fetchable, in no
    /// other fetch, and past its backoff.
    pub fn wants_fetch(&self, now: Instant) -> bool {
        self.fetchable() && self.fetching.is_none() && self.not_before.is_none_or(|t| t <= now)
    }

    /// Whether the last fetch showed committed data past the position (or
    /// nothing is known yet), so a Fetch that does not wait would return
    /// some.
    pub fn has_data_ahead(&self) -> bool {
        let end = if self.last_stable_offset >= 0 {
            self.last_stable_offset
        } else {
            self.high_watermark
        };
        match self.position {
            Some(p) => self.high_watermark < 0 || p < end,
            None => false,
        }
    }

    /// Whether its batches may be produced now.
    pub fn may_produce(&self, now: Instant) -> bool {
        !matches!(self.state, PartitionState::Failed) && self.not_before.is_none_or(|t| t <= now)
    }

    /// Backfill: whether everything up to the end offset is acknowledged.
    pub fn reached_end(&self) -> bool {
        match (self.end_offset, self.committable()) {
            (Some(end), Some(c)) => c >= end && self.window.is_empty(),
            _ => false,
        }
    }

    /// Applies sifted fetch data taken at `position`; returns the bytes
    /// now held, for the budget, or the error that fails the partition.
    pub fn apply_fetch(
        &mut self,
        sifted: Sifted,
        high_watermark: i64,
    ) -> Result<usize, PartitionError> {
        self.last_fetch = Some(SystemTime::now());
        self.high_watermark = high_watermark;
        self.totals.aborted_batches += sifted.aborted;
        self.totals.control_batches += sifted.control;
        let mut bytes = 0;
        for f in sifted.forwards {
            bytes += f.bytes();
            self.window.push(f);
        }
        let fetch_offset = self.position.unwrap_or_default();
        self.position = Some(sifted.next_position);
        if !matches!(self.state, PartitionState::TargetUnavailable) {
            self.set_active_if_unavailable();
        }
        match sifted.stop {
            None => {
                self.corrupt_attempts = 0;
                Ok(bytes)
            }
            Some(SiftStop::Corrupt { offset, detail }) => {
                self.totals.errors += 1;
                self.corrupt_attempts += 1;
                if self.corrupt_attempts >= CORRUPT_ATTEMPTS {
                    Err(PartitionError::CorruptBatch {
                        topic: self.source_topic.clone(),
                        partition: self.partition,
                        offset,
                        attempts: self.corrupt_attempts,
                        detail,
                    })
                } else {
                    Ok(bytes)
                }
            }
            Some(SiftStop::Legacy { offset, magic }) => Err(PartitionError::LegacyFormat {
                topic: self.source_topic.clone(),
                partition: self.partition,
                offset,
                magic,
            }),
            Some(SiftStop::Malformed { detail }) => Err(PartitionError::Malformed {
                topic: self.source_topic.clone(),
                partition: self.partition,
                offset: fetch_offset.max(self.position.unwrap_or_default()),
                detail,
            }),
        }
    }

    fn set_active_if_unavailable(&mut self) {
        if matches!(
            self.state,
            PartitionState::SourceUnavailable | PartitionState::TargetUnavailable
        ) {
            self.state = PartitionState::Active;
            self.reason = None;
        }
    }

    /// Marks the partition unavailable on one side, with a backoff before
    /// the next attempt.
    pub fn unavailable(&mut self, state: PartitionState, reason: String, now: Instant) {
        self.totals.errors += 1;
        self.failures = self.failures.saturating_add(1);
        if !matches!(self.state, PartitionState::Failed | PartitionState::Paused) {
            self.state = state;
            self.reason = Some(reason);
        }
        let exp = self.failures.min(5);
        self.not_before = Some(now + std::time::Duration::from_millis(50u64 << exp));
    }

    /// Clears the failure backoff after a success.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.not_before = None;
    }

    /// Backs off after a failure on one side, without a state change.
    pub fn back_off(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.min(5);
        self.not_before = Some(now + std::time::Duration::from_millis(50u64 << exp));
    }

    /// Stops the partition; returns the bytes it held.
    pub fn fail(&mut self, error: &PartitionError) -> usize {
        tracing::error!(topic = %self.source_topic, partition = self.partition, error = %error, "partition failed");
        self.totals.errors += 1;
        // Resuming refetches from the first batch not acknowledged.
        if let Some(c) = self.committable() {
            self.position = Some(c);
        }
        self.sent_to = None;
        self.state = PartitionState::Failed;
        self.reason = Some(error.to_string());
        self.window.clear()
    }

    /// Records acknowledged batches.
    pub fn acknowledged(&mut self, forwards: &[Forward]) -> usize {
        let mut bytes = 0;
        for f in forwards {
            bytes += f.bytes();
            self.totals.records += u64::try_from(f.records).unwrap_or_default();
            self.totals.bytes += f.bytes() as u64;
            self.totals.batches += 1;
        }
        if !forwards.is_empty() {
            self.last_produce = Some(SystemTime::now());
            if self.state == PartitionState::TargetUnavailable {
                self.state = PartitionState::Active;
                self.reason = None;
            }
        }
        bytes
    }

    /// The status snapshot.
    pub fn status(&self) -> PartitionStatus {
        let lag = match self.committable() {
            Some(c) if self.high_watermark >= 0 => (self.high_watermark - c).max(0),
            _ => 0,
        };
        let to_end = match (self.end_offset, self.committable()) {
            (Some(end), Some(c)) => Some((end - c).max(0)),
            _ => None,
        };
        PartitionStatus {
            source_topic: self.source_topic.clone(),
            target_topic: self.target_topic.clone(),
            partition: self.partition,
            state: self.state,
            reason: self.reason.clone(),
            high_watermark: self.high_watermark,
            position: self.position,
            committed_offset: self.committed,
            lag,
            end_offset: self.end_offset,
            to_end,
            bytes_in_flight: self.window.bytes(),
            last_fetch: self.last_fetch,
            last_produce: self.last_produce,
            totals: self.totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::producer::{Outcome, ProducerId};
    use kafka_proto::record::{ControlRecordType, RecordBatchBuilder};

    fn data(offset: i64, pid: i64, txn: bool, n: i32) -> Bytes {
        let mut b = RecordBatchBuilder::new(offset, 1_000);
        b.producer(pid, 0, 0).transactional(txn);
        for i in 0..n {
            b.append(None, Some(Bytes::from(format!("v{i}")))).unwrap();
        }
        b.build().unwrap()
    }

    fn blob(parts: &[Bytes]) -> Bytes {
        parts.concat().into()
    }

    fn marker(offset: i64, pid: i64, kind: ControlRecordType) -> Bytes {
        RecordBatchBuilder::end_txn_marker(offset, 1_000, pid, 0, kind, 0)
            .build()
            .unwrap()
    }

    #[test]
    fn sift_skips_old_drops_control_and_aborted() {
        let b = blob(&[
            data(0, -1, false, 2),
            data(2, 7, true, 2),
            marker(4, 7, ControlRecordType::Abort),
            data(5, -1, false, 1),
        ]);
        let aborted = [AbortedTransaction {
            producer_id: 7,
            first_offset: 2,
            ..Default::default()
        }];
        let s = sift(b, 1, Some(&aborted));
        assert_eq!(
            s.forwards.iter().map(|f| f.base_offset).collect::<Vec<_>>(),
            [0, 5],
            "a batch straddling the position is forwarded whole"
        );
        assert_eq!((s.aborted, s.control, s.next_position), (1, 1, 6));
        assert!(s.stop.is_none());
        let s = sift(blob(&[data(0, -1, false, 2)]), 2, None);
        assert!(s.forwards.is_empty());
        assert_eq!(s.next_position, 2);
    }

    #[test]
    fn sift_stops_at_corrupt_batch_and_keeps_what_came_before() {
        let good = data(0, -1, false, 1);
        let mut bad = data(1, -1, false, 1).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let s = sift(blob(&[good, Bytes::from(bad)]), 0, None);
        assert_eq!(s.forwards.len(), 1);
        assert_eq!(s.next_position, 1);
        assert!(matches!(s.stop, Some(SiftStop::Corrupt { offset: 1, .. })));
    }

    #[test]
    fn truncated_trailing_batch_is_left_for_the_next_fetch() {
        let b2 = data(3, -1, false, 2);
        let s = sift(
            blob(&[data(0, -1, false, 3), b2.slice(..b2.len() - 5)]),
            0,
            None,
        );
        assert_eq!((s.forwards.len(), s.next_position), (1, 3));
    }

    #[test]
    fn committable_follows_acks_and_fetch_position() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(0);
        let bytes = p
            .apply_fetch(
                sift(
                    blob(&[data(0, -1, false, 2), data(2, -1, false, 2)]),
                    0,
                    None,
                ),
                4,
            )
            .unwrap();
        assert!(bytes > 0);
        assert_eq!(p.committable(), Some(0));
        assert_eq!(p.status().lag, 4);
        let pid = ProducerId {
            id: 1,
            epoch: 0,
            generation: 1,
        };
        let a = p.window.next_to_send(&pid).unwrap();
        let b = p.window.next_to_send(&pid).unwrap();
        let acked = p.window.on_outcome(a.sequence, Outcome::Written);
        p.acknowledged(&acked);
        assert_eq!(p.committable(), Some(2));
        let acked = p.window.on_outcome(b.sequence, Outcome::Written);
        p.acknowledged(&acked);
        assert_eq!(p.committable(), Some(4));
        assert_eq!(p.totals.records, 4);
        assert_eq!(p.status().lag, 0);
    }

    #[test]
    fn legacy_fails_the_partition_with_offset() {
        let mut p = Partition::new("t", "t", 3, 5);
        p.position = Some(10);
        let err = p
            .apply_fetch(
                Sifted {
                    next_position: 10,
                    stop: Some(SiftStop::Legacy {
                        offset: 10,
                        magic: 1,
                    }),
                    ..Sifted::default()
                },
                20,
            )
            .unwrap_err();
        assert!(err.to_string().contains("t-3"), "{err}");
        assert!(err.to_string().contains("offset 10"), "{err}");
    }

    #[test]
    fn a_partition_without_its_target_topic_is_failed_and_idle() {
        let p = Partition::target_setup_failed("t", "east.t", 1, "no target topic".into());
        assert_eq!(p.state, PartitionState::Failed);
        assert!(p.target_setup_pending);
        assert!(!p.wants_fetch(Instant::now()) && !p.may_produce(Instant::now()));
        assert_eq!(p.committable(), None, "nothing to commit");
        let st = p.status();
        assert_eq!(
            (st.reason.as_deref(), st.target_topic.as_str()),
            (Some("no target topic"), "east.t")
        );
    }

    #[test]
    fn one_fetch_at_a_time_and_data_ahead_from_the_last_stable_offset() {
        let now = Instant::now();
        let mut p = Partition::new("t", "t", 0, 5);
        assert!(!p.has_data_ahead(), "not positioned");
        p.position = Some(4);
        assert!(p.wants_fetch(now) && p.has_data_ahead(), "never fetched");
        p.fetching = Some(1);
        assert!(!p.wants_fetch(now), "a fetch is outstanding");
        assert!(p.fetchable());
        p.fetching = None;
        p.high_watermark = 10;
        assert!(p.has_data_ahead());
        // An open transaction at 4: read_committed returns nothing past it.
        p.last_stable_offset = 4;
        assert!(!p.has_data_ahead());
        p.last_stable_offset = -1;
        p.position = Some(10);
        assert!(!p.has_data_ahead(), "caught up with the high watermark");
    }

    #[test]
    fn backfill_end_is_reached_only_when_acknowledged() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(0);
        p.end_offset = Some(2);
        assert!(p.wants_fetch(Instant::now()));
        p.apply_fetch(sift(data(0, -1, false, 2), 0, None), 2)
            .unwrap();
        assert!(!p.wants_fetch(Instant::now()));
        assert!(!p.reached_end());
        let pid = ProducerId {
            id: 1,
            epoch: 0,
            generation: 1,
        };
        let a = p.window.next_to_send(&pid).unwrap();
        let acked = p.window.on_outcome(a.sequence, Outcome::Written);
        p.acknowledged(&acked);
        assert!(p.reached_end());
    }
}
