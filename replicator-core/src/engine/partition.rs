//! One mirrored partition, without IO: fetch position, the produce window,
//! the committable offset, state and counters; and [`sift`], which turns a
//! fetched records blob into the batches to forward.

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use kafka_proto::messages::fetch_response::AbortedTransaction;
use kafka_proto::record::{Entries, Entry};

use super::aborted::{AbortedFilter, Verdict};
use super::producer::{Forward, SequenceWindow};
use crate::model::{PartitionError, PartitionState, PartitionStatus, Totals};

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

/// Fetches in a row that answer no error and no data with a high watermark
/// below the fetch position before it is treated as out of range. One is
/// not enough: a new leader's high watermark may briefly lag the old one's.
pub const PAST_END_FETCHES: u32 = 3;

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
    /// The first failure of the current run of failed positioning attempts.
    pub unpositioned_since: Option<Instant>,
    corrupt_attempts: u32,
    /// Fetches in a row that found the position past the high watermark.
    past_end_fetches: u32,
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
            unpositioned_since: None,
            corrupt_attempts: 0,
            past_end_fetches: 0,
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

    /// Whether its start offset is still to be read (a positioning attempt
    /// failed, or none was made) and an attempt may be made now.
    pub fn needs_position(&self, now: Instant) -> bool {
        self.position.is_none()
            && !self.target_setup_pending
            && self.state != PartitionState::Failed
            && self.not_before.is_none_or(|t| t <= now)
    }

    /// Sets where fetching starts, the group's committed offset, and the
    /// backfill end; clears any positioning failure.
    pub fn positioned(&mut self, start: i64, committed: Option<i64>, end: Option<i64>) {
        self.position = Some(start);
        self.committed = committed;
        self.end_offset = end;
        self.unpositioned_since = None;
        self.succeeded();
        if self.state == PartitionState::SourceUnavailable {
            self.state = PartitionState::Active;
            self.reason = None;
        }
    }

    /// A positioning attempt failed at `now`: SOURCE_UNAVAILABLE and retried
    /// after a backoff. With a `bound` (backfill), once attempts have failed
    /// for that long, returns the error to fail the partition with, so the
    /// backfill can end.
    pub fn position_failed(
        &mut self,
        broker: &str,
        detail: &str,
        now: Instant,
        bound: Option<std::time::Duration>,
    ) -> Option<PartitionError> {
        let since = *self.unpositioned_since.get_or_insert(now);
        let waited = now.saturating_duration_since(since);
        if bound.is_some_and(|b| waited >= b) {
            // A resume starts the clock afresh.
            self.unpositioned_since = None;
            return Some(PartitionError::Unpositioned {
                topic: self.source_topic.clone(),
                partition: self.partition,
                broker: broker.to_owned(),
                waited,
                detail: detail.to_owned(),
            });
        }
        self.unavailable(
            PartitionState::SourceUnavailable,
            format!("cannot read the offset to start from on {broker}: {detail}; retrying"),
            now,
        );
        None
    }

    /// Whether the last [`PAST_END_FETCHES`] fetches answered a high
    /// watermark below the position, with no error: the log no longer
    /// reaches the position (Tansu answers so where Kafka answers
    /// OFFSET_OUT_OF_RANGE).
    pub fn past_end(&self) -> bool {
        self.past_end_fetches >= PAST_END_FETCHES
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
        let fetch_offset = self.position.unwrap_or_default();
        let mut next_position = sifted.next_position;
        let past_end = sifted.forwards.is_empty()
            && high_watermark >= 0
            && fetch_offset > high_watermark
            && sifted.stop.is_none();
        if past_end {
            self.past_end_fetches = self.past_end_fetches.saturating_add(1);
        } else {
            self.past_end_fetches = 0;
        }
        let mut bytes = 0;
        for f in sifted.forwards {
            // Backfill: a batch that starts at or past the end offset holds
            // only data written after start; it is not copied, and the
            // partition is done. One that starts before it goes whole.
            if let Some(end) = self.end_offset.filter(|&end| f.base_offset >= end) {
                tracing::debug!(topic = %self.source_topic, partition = self.partition, end, base_offset = f.base_offset, "backfill: batches past the end offset are not copied");
                next_position = f.base_offset;
                break;
            }
            bytes += f.bytes();
            self.window.push(f);
        }
        self.position = Some(next_position);
        if !matches!(self.state, PartitionState::TargetUnavailable) {
            self.set_active_if_unavailable();
        }
        // What stopped sifting at or past a backfill's end is not needed.
        let stop = if self.end_offset.is_some_and(|end| next_position >= end) {
            None
        } else {
            sifted.stop
        };
        match stop {
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

    /// Sends and acknowledges every batch held; their base offsets.
    fn ack_all(p: &mut Partition) -> Vec<i64> {
        let pid = ProducerId {
            id: 1,
            epoch: 0,
            generation: 1,
        };
        let mut out = Vec::new();
        while let Some(f) = p.window.next_to_send(&pid) {
            let acked = p.window.on_outcome(f.sequence, Outcome::Written);
            out.extend(acked.iter().map(|f| f.base_offset));
            p.acknowledged(&acked);
        }
        out
    }

    #[test]
    fn backfill_drops_batches_starting_at_or_past_the_end_offset() {
        // End 5 falls inside [3, 6): that batch goes whole; [6, 8) and
        // [8, 9) hold data written after start and are not copied.
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(0);
        p.end_offset = Some(5);
        let b = blob(&[
            data(0, -1, false, 3),
            data(3, -1, false, 3),
            data(6, -1, false, 2),
            data(8, -1, false, 1),
        ]);
        let bytes = p.apply_fetch(sift(b, 0, None), 9).unwrap();
        assert_eq!(bytes, p.window.bytes(), "dropped batches hold no budget");
        assert_eq!(p.window.len(), 2);
        assert_eq!(p.position, Some(6), "the end of the last batch copied");
        assert!(!p.fetchable(), "done fetching");
        assert_eq!(ack_all(&mut p), [0, 3]);
        assert!(p.reached_end());
        assert_eq!((p.committable(), p.totals.records), (Some(6), 6));

        // A batch starting exactly at the end offset is dropped too, and
        // the position stops at it.
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(0);
        p.end_offset = Some(3);
        let b = blob(&[data(0, -1, false, 3), data(3, -1, false, 3)]);
        p.apply_fetch(sift(b, 0, None), 6).unwrap();
        assert_eq!(p.position, Some(3));
        assert_eq!(ack_all(&mut p), [0]);
        assert!(p.reached_end());
        assert_eq!(p.committable(), Some(3), "commits the end, not past it");

        // Without an end offset (continuous) everything goes.
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(0);
        let b = blob(&[data(0, -1, false, 3), data(3, -1, false, 3)]);
        p.apply_fetch(sift(b, 0, None), 6).unwrap();
        assert_eq!((p.window.len(), p.position), (2, Some(6)));
    }

    #[test]
    fn a_corrupt_batch_past_the_backfill_end_is_not_an_error() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(0);
        p.end_offset = Some(2);
        let mut bad = data(2, -1, false, 1).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let b = blob(&[data(0, -1, false, 2), Bytes::from(bad)]);
        p.apply_fetch(sift(b, 0, None), 3).unwrap();
        assert_eq!(
            (p.window.len(), p.position, p.totals.errors),
            (1, Some(2), 0)
        );
    }

    #[test]
    fn a_high_watermark_below_the_position_counts_only_in_a_row() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(1_000_000);
        for i in 1..PAST_END_FETCHES {
            p.apply_fetch(sift(Bytes::new(), 1_000_000, None), 40)
                .unwrap();
            assert!(!p.past_end(), "after {i} fetches");
        }
        // A fetch that reaches the position again restarts the count.
        p.apply_fetch(sift(Bytes::new(), 1_000_000, None), 1_000_000)
            .unwrap();
        for _ in 1..PAST_END_FETCHES {
            p.apply_fetch(sift(Bytes::new(), 1_000_000, None), 40)
                .unwrap();
        }
        assert!(!p.past_end());
        p.apply_fetch(sift(Bytes::new(), 1_000_000, None), 40)
            .unwrap();
        assert!(p.past_end());
        assert_eq!(p.position, Some(1_000_000), "the fetcher resets it");
        // An unknown high watermark (-1) says nothing.
        let mut p = Partition::new("t", "t", 0, 5);
        p.position = Some(7);
        for _ in 0..PAST_END_FETCHES {
            p.apply_fetch(sift(Bytes::new(), 7, None), -1).unwrap();
        }
        assert!(!p.past_end());
    }

    #[test]
    fn positioning_is_retried_with_backoff_then_given_up_in_a_backfill() {
        use std::time::Duration;
        let bound = Some(Duration::from_secs(30));
        let t0 = Instant::now();
        let mut p = Partition::new("t", "t", 2, 5);
        assert!(p.needs_position(t0), "never positioned");
        assert!(p
            .position_failed("broker 1 at h:9092", "LEADER_NOT_AVAILABLE", t0, bound)
            .is_none());
        assert_eq!(p.state, PartitionState::SourceUnavailable);
        assert!(p.reason.as_deref().unwrap().contains("broker 1 at h:9092"));
        assert!(!p.needs_position(t0), "backs off");
        let later = p.not_before.unwrap();
        assert!(later > t0 && p.needs_position(later));
        assert!(!p.wants_fetch(later), "nothing to fetch without a position");
        assert!(!p.reached_end(), "a backfill waits for it");

        // Still failing 30 s after the first failure: FAILED, and says why.
        let t1 = t0 + Duration::from_secs(31);
        let err = p
            .position_failed("broker 1 at h:9092", "LEADER_NOT_AVAILABLE", t1, bound)
            .expect("given up");
        let text = err.to_string();
        for part in [
            "t-2",
            "broker 1 at h:9092",
            "LEADER_NOT_AVAILABLE",
            "run the backfill again",
        ] {
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }
        p.fail(&err);
        assert_eq!(p.state, PartitionState::Failed);
        assert!(
            !p.needs_position(t1),
            "a FAILED partition waits for a resume"
        );
        assert_eq!(p.position, None);

        // Continuous mode (no bound) retries for ever.
        let mut p = Partition::new("t", "t", 0, 5);
        for s in [0, 100, 10_000] {
            let now = t0 + Duration::from_secs(s);
            assert!(p.position_failed("b", "down", now, None).is_none());
        }
        assert_eq!(p.state, PartitionState::SourceUnavailable);

        // Success clears the failure and the clock.
        p.positioned(5, Some(5), None);
        assert_eq!(
            (p.state, p.reason.as_deref()),
            (PartitionState::Active, None)
        );
        assert!(p.unpositioned_since.is_none() && p.not_before.is_none());
        assert!(!p.needs_position(t0) && p.wants_fetch(t0));
    }

    #[test]
    fn a_paused_partition_is_positioned_but_stays_paused() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.state = PartitionState::Paused;
        assert!(p.needs_position(Instant::now()));
        assert!(p
            .position_failed("b", "down", Instant::now(), None)
            .is_none());
        assert_eq!(p.state, PartitionState::Paused);
        p.positioned(0, None, Some(10));
        assert_eq!(p.state, PartitionState::Paused);
        assert_eq!(p.end_offset, Some(10));
    }
}
