//! One mirrored partition, without IO: its condition, fetch position, the
//! produce window, the committable offset, backoff and counters. Its
//! fields are private: it changes only through these methods, and time
//! comes in as an argument.

use std::time::{Duration, Instant, SystemTime};

use super::commit::CommitGate;
use super::fetch::FetchId;
use super::producer::ProducerId;
use super::sorting::{Forward, SortStop, SortedFetch};
use super::window::{ProduceOutcome, Recovery, SequenceWindow, ToSend};
use crate::model::{PartitionError, PartitionState, PartitionStatus, Totals};

/// A corrupt batch is refetched this many times before the partition fails.
pub(crate) const CORRUPT_ATTEMPTS: u32 = 3;

/// Fetches in a row that answer no error and no data with a high watermark
/// below the fetch position before it is treated as out of range. One is
/// not enough: a new leader's high watermark may briefly lag the old one's.
pub(crate) const PAST_END_FETCHES: u32 = 3;

/// The reason a paused partition shows.
const PAUSED: &str = "paused by the user";

/// A partition's condition and, where it has one, the reason: the state
/// and reason of its status in one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Fetching and producing.
    Active,
    /// Paused by the user; in-flight data still drains.
    Paused,
    /// The source side fails; retried after a backoff.
    SourceUnavailable(String),
    /// The target side fails; retried after a backoff.
    TargetUnavailable(String),
    /// Stopped with this error until resumed.
    Failed(String),
    /// Backfill: done.
    CaughtUp,
}

impl Condition {
    fn state(&self) -> PartitionState {
        match self {
            Condition::Active => PartitionState::Active,
            Condition::Paused => PartitionState::Paused,
            Condition::SourceUnavailable(_) => PartitionState::SourceUnavailable,
            Condition::TargetUnavailable(_) => PartitionState::TargetUnavailable,
            Condition::Failed(_) => PartitionState::Failed,
            Condition::CaughtUp => PartitionState::CaughtUp,
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Condition::Active | Condition::CaughtUp => None,
            Condition::Paused => Some(PAUSED),
            Condition::SourceUnavailable(r)
            | Condition::TargetUnavailable(r)
            | Condition::Failed(r) => Some(r),
        }
    }
}

/// Which side a failure is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    Source,
    Target,
}

/// The partition's part in fetching: a partition is in at most one Fetch
/// at a time, so responses apply in offset order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchSlot {
    Idle,
    /// In this Fetch.
    InFlight(FetchId),
    /// The log does not hold the position `from`: waiting for its bounds.
    Resetting {
        from: i64,
        asked: bool,
    },
}

/// What applying a fetch asks of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// Bytes now held, for the budget.
    pub held: usize,
    /// The log no longer reaches the position: reset it.
    pub reset_from: Option<i64>,
}

/// What a produce answer asks of the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Answered {
    /// Bytes released, for the budget.
    pub released: usize,
    /// The target lost this producer generation's state.
    pub lost_generation: Option<u64>,
}

/// One mirrored partition.
#[derive(Debug)]
pub(crate) struct Partition {
    source_topic: String,
    target_topic: String,
    partition: i32,
    condition: Condition,
    /// Its target topic could not be set up after start (missing, too few
    /// partitions, a loop): FAILED, not positioned, and set up again at
    /// every topic refresh until that works.
    target_setup_pending: bool,
    target_max_message_bytes: Option<i64>,
    /// Next source offset to fetch; `None` until positioned.
    position: Option<i64>,
    /// Last offset committed to the group.
    committed: Option<i64>,
    /// Backfill: stop once everything before this is committed.
    end_offset: Option<i64>,
    commit_gate: CommitGate,
    window: SequenceWindow,
    high_watermark: i64,
    /// The latest end of the source log seen, by positioning or by a
    /// fetch: what lag counts up to, even before the first fetch answers.
    latest_end: i64,
    /// -1 when unknown; a read_committed fetch returns nothing at or past it.
    last_stable_offset: i64,
    fetch: FetchSlot,
    /// A positioning request for it is out.
    positioning: bool,
    /// The target broker its in-flight batches went to: a partition is
    /// produced to one broker at a time, so a leader move cannot reorder.
    sent_to: Option<i32>,
    /// Not before this instant: resend, refetch or reposition after an error.
    not_before: Option<Instant>,
    failures: u32,
    /// The first failure of the current run of failed positioning attempts.
    unpositioned_since: Option<Instant>,
    corrupt_attempts: u32,
    past_end_fetches: u32,
    last_fetch: Option<Instant>,
    last_produce: Option<Instant>,
    totals: Totals,
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
            condition: Condition::Active,
            target_setup_pending: false,
            target_max_message_bytes: None,
            position: None,
            committed: None,
            end_offset: None,
            commit_gate: CommitGate::Open,
            window: SequenceWindow::new(max_in_flight),
            high_watermark: -1,
            latest_end: -1,
            last_stable_offset: -1,
            fetch: FetchSlot::Idle,
            positioning: false,
            sent_to: None,
            not_before: None,
            failures: 0,
            unpositioned_since: None,
            corrupt_attempts: 0,
            past_end_fetches: 0,
            last_fetch: None,
            last_produce: None,
            totals: Totals::default(),
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
        p.condition = Condition::Failed(reason);
        p.target_setup_pending = true;
        p
    }

    pub fn source_topic(&self) -> &str {
        &self.source_topic
    }

    pub fn target_topic(&self) -> &str {
        &self.target_topic
    }

    pub fn index(&self) -> i32 {
        self.partition
    }

    #[cfg(test)]
    pub fn condition(&self) -> &Condition {
        &self.condition
    }

    pub fn is_failed(&self) -> bool {
        matches!(self.condition, Condition::Failed(_))
    }

    pub fn target_setup_pending(&self) -> bool {
        self.target_setup_pending
    }

    /// A topic refresh found its target topic still missing.
    pub fn target_setup_failed_again(&mut self, reason: String) {
        self.totals.errors += 1;
        self.condition = Condition::Failed(reason);
    }

    /// Set up its target topic: its limits, and whether it starts paused.
    pub fn target_ready(&mut self, max_message_bytes: Option<i64>, paused: bool, errors: u64) {
        self.target_max_message_bytes = max_message_bytes;
        self.totals.errors = errors;
        if paused {
            self.condition = Condition::Paused;
        }
    }

    pub fn errors(&self) -> u64 {
        self.totals.errors
    }

    pub fn position(&self) -> Option<i64> {
        self.position
    }

    pub fn window(&self) -> &SequenceWindow {
        &self.window
    }

    pub fn fetch_slot(&self) -> FetchSlot {
        self.fetch
    }

    pub fn set_fetch_slot(&mut self, slot: FetchSlot) {
        self.fetch = slot;
    }

    pub fn sent_to(&self) -> Option<i32> {
        self.sent_to
    }

    pub fn not_before(&self) -> Option<Instant> {
        self.not_before
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// The offset to commit: everything before it is on the target (or was
    /// dropped as aborted or control).
    pub fn committable(&self) -> Option<i64> {
        self.window.first_unacknowledged().or(self.position)
    }

    /// The offset a commit may carry now: the committable offset, held
    /// back by the commit gate; `None` when it is already committed.
    pub fn commit_due(&self) -> Option<i64> {
        let c = self.commit_gate.limit(self.committable()?);
        (self.committed != Some(c)).then_some(c)
    }

    /// The group now holds `offset`.
    pub fn committed_at(&mut self, offset: i64) {
        self.committed = Some(offset);
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn set_commit_gate(&mut self, gate: CommitGate) {
        self.commit_gate = gate;
    }

    /// Records lag: what is still to copy, from the first offset the
    /// target does not have to the latest end of the source log seen.
    pub fn lag(&self) -> i64 {
        match self.committable() {
            Some(c) if self.latest_end >= 0 => (self.latest_end - c).max(0),
            _ => 0,
        }
    }

    /// The source log's end, as positioning read it (ListOffsets latest).
    pub fn saw_log_end(&mut self, latest: i64) {
        self.latest_end = latest;
    }

    /// Whether the partition is to be fetched at all: positioned, before
    /// its end, and in a condition that fetches.
    pub fn fetchable(&self) -> bool {
        let condition_ok = matches!(
            self.condition,
            Condition::Active | Condition::SourceUnavailable(_) | Condition::TargetUnavailable(_)
        );
        let before_end = match (self.end_offset, self.position) {
            (Some(end), Some(pos)) => pos < end,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        condition_ok && before_end
    }

    /// Whether a fetch for this partition may be sent now: fetchable, in no
    /// other fetch, and past its backoff.
    pub fn wants_fetch(&self, now: Instant) -> bool {
        self.fetchable()
            && self.fetch == FetchSlot::Idle
            && self.not_before.is_none_or(|t| t <= now)
    }

    /// Whether its start offset is still to be read (a positioning attempt
    /// failed, or none was made) and an attempt may be made now.
    pub fn needs_position(&self, now: Instant) -> bool {
        self.position.is_none()
            && !self.positioning
            && !self.target_setup_pending
            && !self.is_failed()
            && self.not_before.is_none_or(|t| t <= now)
    }

    pub fn set_positioning(&mut self, on: bool) {
        self.positioning = on;
    }

    /// Sets where fetching starts, the group's committed offset, and the
    /// backfill end; clears any positioning failure. `lost`: the committed
    /// offset was outside the log, and these offsets were skipped.
    pub fn positioned(
        &mut self,
        start: i64,
        committed: Option<i64>,
        end: Option<i64>,
        lost: Option<u64>,
    ) {
        self.positioning = false;
        self.position = Some(start);
        self.committed = committed;
        self.end_offset = end;
        self.unpositioned_since = None;
        if let Some(lost) = lost {
            self.totals.lost_offsets += lost;
            self.totals.errors += 1;
        }
        self.succeeded();
        if matches!(self.condition, Condition::SourceUnavailable(_)) {
            self.condition = Condition::Active;
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
        bound: Option<Duration>,
    ) -> Option<PartitionError> {
        self.positioning = false;
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
            Unavailable::Source,
            format!("cannot read the offset to start from on {broker}: {detail}; retrying"),
            now,
        );
        None
    }

    /// Moves the position per a reset from `from` to `to`, counting the
    /// offsets skipped; false when the position moved meanwhile.
    pub fn reset(&mut self, from: i64, to: i64, lost: u64) -> bool {
        if self.position != Some(from) {
            return false;
        }
        self.totals.lost_offsets += lost;
        self.totals.errors += 1;
        // Batches already fetched (before `from`) are still produced.
        self.position = Some(to);
        self.past_end_fetches = 0;
        true
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
        !self.is_failed() && self.not_before.is_none_or(|t| t <= now)
    }

    /// The next batch to produce with `producer`, routed to `node`.
    pub fn next_to_send(&mut self, producer: &ProducerId, node: i32) -> Option<ToSend> {
        let batch = self.window.next_to_send(producer)?;
        self.sent_to = Some(node);
        Some(batch)
    }

    /// Backfill: whether everything up to the end offset is acknowledged.
    pub fn reached_end(&self) -> bool {
        match (self.end_offset, self.committable()) {
            (Some(end), Some(c)) => c >= end && self.window.is_empty(),
            _ => false,
        }
    }

    /// Backfill: done, once everything before the end is committed.
    pub fn caught_up(&mut self) {
        if self.reached_end() && !self.is_failed() {
            self.condition = Condition::CaughtUp;
        }
    }

    /// Applies a fetch's sorted data, fetched at the position; `Err` is the
    /// error that fails the partition (the caller fails it).
    pub fn apply_fetch(
        &mut self,
        sorted: SortedFetch,
        high_watermark: i64,
        last_stable_offset: i64,
        now: Instant,
    ) -> Result<Fetched, PartitionError> {
        self.succeeded();
        self.last_fetch = Some(now);
        self.high_watermark = high_watermark;
        if high_watermark >= 0 {
            self.latest_end = high_watermark;
        }
        self.last_stable_offset = last_stable_offset;
        self.totals.aborted_batches += sorted.aborted;
        self.totals.control_batches += sorted.control;
        let fetch_offset = self.position.unwrap_or_default();
        let mut next_position = sorted.next_position;
        let past_end = sorted.forwards.is_empty()
            && high_watermark >= 0
            && fetch_offset > high_watermark
            && sorted.stop.is_none();
        if past_end {
            self.past_end_fetches = self.past_end_fetches.saturating_add(1);
        } else {
            self.past_end_fetches = 0;
        }
        let mut held = 0;
        for f in sorted.forwards {
            // Backfill: a batch that starts at or past the end offset holds
            // only data written after start; it is not copied, and the
            // partition is done. One that starts before it goes whole.
            if let Some(end) = self.end_offset.filter(|&end| f.base_offset >= end) {
                tracing::debug!(topic = %self.source_topic, partition = self.partition, end, base_offset = f.base_offset, "backfill: batches past the end offset are not copied");
                next_position = f.base_offset;
                break;
            }
            held += f.bytes();
            self.window.push(f);
        }
        self.position = Some(next_position);
        if matches!(self.condition, Condition::SourceUnavailable(_)) {
            self.condition = Condition::Active;
        }
        // What stopped sorting at or past a backfill's end is not needed.
        let stop = if self.end_offset.is_some_and(|end| next_position >= end) {
            None
        } else {
            sorted.stop
        };
        let reset_from = self.past_end().then_some(fetch_offset);
        match stop {
            None => {
                self.corrupt_attempts = 0;
                Ok(Fetched { held, reset_from })
            }
            Some(SortStop::Corrupt { offset, detail }) => {
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
                    Ok(Fetched {
                        held,
                        reset_from: None,
                    })
                }
            }
            Some(SortStop::Legacy { offset, magic }) => Err(PartitionError::LegacyFormat {
                topic: self.source_topic.clone(),
                partition: self.partition,
                offset,
                magic,
            }),
            Some(SortStop::Malformed { detail }) => Err(PartitionError::Malformed {
                topic: self.source_topic.clone(),
                partition: self.partition,
                offset: fetch_offset.max(self.position.unwrap_or_default()),
                detail,
            }),
        }
    }

    /// Marks the partition unavailable on one side, with a backoff before
    /// the next attempt. A paused or failed partition keeps its condition.
    pub fn unavailable(&mut self, side: Unavailable, reason: String, now: Instant) {
        self.totals.errors += 1;
        if !matches!(self.condition, Condition::Failed(_) | Condition::Paused) {
            self.condition = match side {
                Unavailable::Source => Condition::SourceUnavailable(reason),
                Unavailable::Target => Condition::TargetUnavailable(reason),
            };
        }
        self.back_off(now);
    }

    /// Clears the failure backoff after a success.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.not_before = None;
    }

    /// Backs off after a failure on one side, without a condition change.
    pub fn back_off(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.min(5);
        self.not_before = Some(now + Duration::from_millis(50u64 << exp));
    }

    /// Stops the partition with `error`; returns the bytes released.
    ///
    /// Batches fetched and never sent are dropped, and the position goes
    /// back to the first of them, so a resume fetches them again. Batches
    /// in flight stay until answered, and those to send again stay queued
    /// for the resume (see [`SequenceWindow::discard_pending`]).
    pub fn fail(&mut self, error: &PartitionError) -> usize {
        tracing::error!(topic = %self.source_topic, partition = self.partition, offset = ?self.committable(), error = %error, "partition failed");
        self.totals.errors += 1;
        self.condition = Condition::Failed(error.to_string());
        self.discard_pending()
    }

    fn discard_pending(&mut self) -> usize {
        match self.window.discard_pending() {
            Some((first, bytes)) => {
                self.position = Some(self.position.map_or(first, |p| p.min(first)));
                self.past_end_fetches = 0;
                bytes
            }
            None => 0,
        }
    }

    /// Applies the target's answer for the batch sent with `sequence`:
    /// acknowledgements, and once every batch in flight is answered after
    /// a failure, the recovery (resend, a new producer id, or failing the
    /// partition).
    pub fn answered(&mut self, sequence: i32, outcome: ProduceOutcome, now: Instant) -> Answered {
        let acked = self.window.on_outcome(sequence, outcome);
        let mut out = Answered {
            released: self.acknowledged(&acked, now),
            lost_generation: None,
        };
        if !acked.is_empty() {
            self.succeeded();
        }
        if self.window.in_flight() == 0 {
            self.sent_to = None;
        }
        match self.window.recover() {
            None => {}
            Some(Recovery::Resend) => self.unavailable(
                Unavailable::Target,
                "produce failed; resending from the first unacknowledged batch".into(),
                now,
            ),
            Some(Recovery::Reinit { generation }) => {
                tracing::warn!(topic = %self.source_topic, partition = self.partition, "target lost the producer state; re-initialising the producer id and resending from the first unacknowledged batch");
                self.totals.errors += 1;
                self.back_off(now);
                out.lost_generation = Some(generation);
            }
            Some(Recovery::Fatal {
                offset,
                bytes,
                code,
                message,
            }) => {
                let err = if matches!(
                    code,
                    kafka_proto::ErrorCode::MESSAGE_TOO_LARGE
                        | kafka_proto::ErrorCode::RECORD_LIST_TOO_LARGE
                ) {
                    PartitionError::BatchTooLarge {
                        topic: self.source_topic.clone(),
                        partition: self.partition,
                        target_topic: self.target_topic.clone(),
                        offset,
                        bytes,
                        code,
                        max_message_bytes: self.target_max_message_bytes,
                    }
                } else {
                    PartitionError::ProduceRejected {
                        topic: self.source_topic.clone(),
                        partition: self.partition,
                        target_topic: self.target_topic.clone(),
                        offset,
                        code,
                        message: message.unwrap_or_else(|| code.description().to_owned()),
                    }
                };
                out.released += self.fail(&err);
            }
        }
        out
    }

    /// Records acknowledged batches; returns their bytes.
    fn acknowledged(&mut self, forwards: &[Forward], now: Instant) -> usize {
        let mut bytes = 0;
        for f in forwards {
            bytes += f.bytes();
            self.totals.records += u64::try_from(f.records).unwrap_or_default();
            self.totals.bytes += f.bytes() as u64;
            self.totals.batches += 1;
        }
        if !forwards.is_empty() {
            self.last_produce = Some(now);
            if matches!(self.condition, Condition::TargetUnavailable(_)) {
                self.condition = Condition::Active;
            }
        }
        bytes
    }

    /// Paused by the user (a failed or finished partition stays so).
    pub fn pause(&mut self) {
        if !matches!(self.condition, Condition::Failed(_) | Condition::CaughtUp) {
            self.condition = Condition::Paused;
        }
    }

    /// Resumed by the user: a paused or failed partition becomes active
    /// (one whose target topic is not set up stays failed).
    pub fn resume(&mut self) {
        if self.target_setup_pending {
            return;
        }
        if matches!(self.condition, Condition::Paused | Condition::Failed(_)) {
            self.condition = Condition::Active;
            self.succeeded();
        }
    }

    /// The status snapshot; `now` and `wall` are the same moment on the
    /// monotonic and the wall clock.
    pub fn status(&self, now: Instant, wall: SystemTime) -> PartitionStatus {
        let to_end = match (self.end_offset, self.committable()) {
            (Some(end), Some(c)) => Some((end - c).max(0)),
            _ => None,
        };
        let at = |t: Option<Instant>| t.map(|t| wall - now.saturating_duration_since(t));
        PartitionStatus {
            source_topic: self.source_topic.clone(),
            target_topic: self.target_topic.clone(),
            partition: self.partition,
            state: self.condition.state(),
            reason: self.condition.reason().map(str::to_owned),
            high_watermark: self.high_watermark,
            position: self.position,
            committed_offset: self.committed,
            lag: self.lag(),
            end_offset: self.end_offset,
            to_end,
            bytes_in_flight: self.window.bytes(),
            last_fetch: at(self.last_fetch),
            last_produce: at(self.last_produce),
            totals: self.totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sorting::sort_fetched;
    use bytes::Bytes;
    use kafka_proto::record::RecordBatchBuilder;

    fn data(offset: i64, n: i32) -> Bytes {
        let mut b = RecordBatchBuilder::new(offset, 1_000);
        for i in 0..n {
            b.append(None, Some(Bytes::from(format!("v{i}")))).unwrap();
        }
        b.build().unwrap()
    }

    fn blob(parts: &[Bytes]) -> Bytes {
        parts.concat().into()
    }

    const PID: ProducerId = ProducerId {
        id: 1,
        epoch: 0,
        generation: 1,
    };

    fn at(start: i64) -> Partition {
        let mut p = Partition::new("t", "t", 0, 5);
        p.positioned(start, None, None, None);
        p
    }

    /// Applies `blob` fetched at the position, with high watermark `hw`.
    fn fetch(p: &mut Partition, blob: Bytes, hw: i64) -> Result<Fetched, PartitionError> {
        let sorted = sort_fetched(blob, p.position.unwrap(), None);
        p.apply_fetch(sorted, hw, -1, Instant::now())
    }

    /// Sends and acknowledges every batch held; their base offsets.
    fn ack_all(p: &mut Partition) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(f) = p.next_to_send(&PID, 1) {
            out.push(f.base_offset);
            p.answered(f.sequence, ProduceOutcome::Written, Instant::now());
        }
        out
    }

    #[test]
    fn committable_follows_acks_and_fetch_position() {
        let mut p = at(0);
        let held = fetch(&mut p, blob(&[data(0, 2), data(2, 2)]), 4).unwrap();
        assert!(held.held > 0);
        assert_eq!(p.committable(), Some(0));
        assert_eq!(p.lag(), 4);
        let a = p.next_to_send(&PID, 1).unwrap();
        assert!(
            p.next_to_send(&PID, 1).is_none(),
            "a new producer's first batch goes alone"
        );
        p.answered(a.sequence, ProduceOutcome::Written, Instant::now());
        assert_eq!(p.committable(), Some(2));
        let b = p.next_to_send(&PID, 1).unwrap();
        p.answered(b.sequence, ProduceOutcome::Written, Instant::now());
        assert_eq!(p.committable(), Some(4));
        assert_eq!(p.totals.records, 4);
        assert_eq!((p.lag(), p.sent_to()), (0, None));
    }

    #[test]
    fn lag_counts_from_the_log_end_read_at_positioning_before_any_fetch() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.positioned(100, Some(100), None, None);
        assert_eq!(p.lag(), 0, "nothing known about the log's end yet");
        p.saw_log_end(4_600);
        assert_eq!(
            p.lag(),
            4_500,
            "no fetch answered yet, the log end is known"
        );
        let held = fetch(&mut p, blob(&[data(100, 2)]), 4_700).unwrap();
        assert!(held.held > 0);
        assert_eq!(p.lag(), 4_600, "the fetch's high watermark is newer");
    }

    #[test]
    fn legacy_fails_the_partition_with_offset() {
        let mut p = Partition::new("t", "t", 3, 5);
        p.positioned(10, None, None, None);
        let err = p
            .apply_fetch(
                SortedFetch {
                    next_position: 10,
                    stop: Some(SortStop::Legacy {
                        offset: 10,
                        magic: 1,
                    }),
                    ..SortedFetch::default()
                },
                20,
                20,
                Instant::now(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("t-3"), "{err}");
        assert!(err.to_string().contains("offset 10"), "{err}");
    }

    #[test]
    fn a_partition_without_its_target_topic_is_failed_and_idle() {
        let p = Partition::target_setup_failed("t", "east.t", 1, "no target topic".into());
        assert!(p.is_failed() && p.target_setup_pending());
        assert!(!p.wants_fetch(Instant::now()) && !p.may_produce(Instant::now()));
        assert_eq!(p.committable(), None, "nothing to commit");
        let st = p.status(Instant::now(), SystemTime::now());
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
        p.positioned(4, None, None, None);
        assert!(p.wants_fetch(now) && p.has_data_ahead(), "never fetched");
        p.set_fetch_slot(FetchSlot::InFlight(FetchId(1)));
        assert!(!p.wants_fetch(now), "a fetch is outstanding");
        assert!(p.fetchable());
        p.set_fetch_slot(FetchSlot::Idle);
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
        p.positioned(0, None, Some(2), None);
        assert!(p.wants_fetch(Instant::now()));
        fetch(&mut p, data(0, 2), 2).unwrap();
        assert!(!p.wants_fetch(Instant::now()));
        assert!(!p.reached_end());
        assert_eq!(ack_all(&mut p), [0]);
        assert!(p.reached_end());
        p.caught_up();
        assert_eq!(p.condition(), &Condition::CaughtUp);
    }

    #[test]
    fn backfill_drops_batches_starting_at_or_past_the_end_offset() {
        // End 5 falls inside [3, 6): that batch goes whole; [6, 8) and
        // [8, 9) hold data written after start and are not copied.
        let mut p = Partition::new("t", "t", 0, 5);
        p.positioned(0, None, Some(5), None);
        let b = blob(&[data(0, 3), data(3, 3), data(6, 2), data(8, 1)]);
        let held = fetch(&mut p, b, 9).unwrap().held;
        assert_eq!(held, p.window.bytes(), "dropped batches hold no budget");
        assert_eq!(p.window.len(), 2);
        assert_eq!(p.position, Some(6), "the end of the last batch copied");
        assert!(!p.fetchable(), "done fetching");
        assert_eq!(ack_all(&mut p), [0, 3]);
        assert!(p.reached_end());
        assert_eq!((p.committable(), p.totals.records), (Some(6), 6));

        // A batch starting exactly at the end offset is dropped too, and
        // the position stops at it.
        let mut p = Partition::new("t", "t", 0, 5);
        p.positioned(0, None, Some(3), None);
        fetch(&mut p, blob(&[data(0, 3), data(3, 3)]), 6).unwrap();
        assert_eq!(p.position, Some(3));
        assert_eq!(ack_all(&mut p), [0]);
        assert!(p.reached_end());
        assert_eq!(p.committable(), Some(3), "commits the end, not past it");

        // Without an end offset (continuous) everything goes.
        let mut p = at(0);
        fetch(&mut p, blob(&[data(0, 3), data(3, 3)]), 6).unwrap();
        assert_eq!((p.window.len(), p.position), (2, Some(6)));
    }

    #[test]
    fn a_corrupt_batch_past_the_backfill_end_is_not_an_error() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.positioned(0, None, Some(2), None);
        let mut bad = data(2, 1).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        fetch(&mut p, blob(&[data(0, 2), Bytes::from(bad)]), 3).unwrap();
        assert_eq!(
            (p.window.len(), p.position, p.totals.errors),
            (1, Some(2), 0)
        );
    }

    #[test]
    fn a_high_watermark_below_the_position_counts_only_in_a_row() {
        let mut p = at(1_000_000);
        for i in 1..PAST_END_FETCHES {
            let f = fetch(&mut p, Bytes::new(), 40).unwrap();
            assert!(!p.past_end() && f.reset_from.is_none(), "after {i} fetches");
        }
        // A fetch that reaches the position again restarts the count.
        fetch(&mut p, Bytes::new(), 1_000_000).unwrap();
        for _ in 1..PAST_END_FETCHES {
            fetch(&mut p, Bytes::new(), 40).unwrap();
        }
        assert!(!p.past_end());
        let f = fetch(&mut p, Bytes::new(), 40).unwrap();
        assert!(p.past_end());
        assert_eq!(f.reset_from, Some(1_000_000), "the engine resets it");
        assert_eq!(p.position, Some(1_000_000));
        assert!(p.reset(1_000_000, 10, 0));
        assert!(!p.past_end() && p.position == Some(10));
        // An unknown high watermark (-1) says nothing.
        let mut p = at(7);
        for _ in 0..PAST_END_FETCHES {
            fetch(&mut p, Bytes::new(), -1).unwrap();
        }
        assert!(!p.past_end());
    }

    #[test]
    fn positioning_is_retried_with_backoff_then_given_up_in_a_backfill() {
        let bound = Some(Duration::from_secs(30));
        let t0 = Instant::now();
        let mut p = Partition::new("t", "t", 2, 5);
        assert!(p.needs_position(t0), "never positioned");
        p.set_positioning(true);
        assert!(!p.needs_position(t0), "one request at a time");
        assert!(p
            .position_failed("broker 1 at h:9092", "LEADER_NOT_AVAILABLE", t0, bound)
            .is_none());
        let st = p.status(t0, SystemTime::now());
        assert_eq!(st.state, PartitionState::SourceUnavailable);
        assert!(st.reason.as_deref().unwrap().contains("broker 1 at h:9092"));
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
        assert!(p.is_failed());
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
        assert!(matches!(p.condition, Condition::SourceUnavailable(_)));

        // Success clears the failure and the clock.
        p.positioned(5, Some(5), None, None);
        assert_eq!(p.condition, Condition::Active);
        assert!(p.unpositioned_since.is_none() && p.not_before.is_none());
        assert!(!p.needs_position(t0) && p.wants_fetch(t0));
    }

    #[test]
    fn a_paused_partition_is_positioned_but_stays_paused() {
        let mut p = Partition::new("t", "t", 0, 5);
        p.pause();
        assert!(p.needs_position(Instant::now()));
        assert!(p
            .position_failed("b", "down", Instant::now(), None)
            .is_none());
        assert_eq!(p.condition, Condition::Paused);
        p.positioned(0, None, Some(10), None);
        assert_eq!(p.condition, Condition::Paused);
        assert_eq!(p.end_offset, Some(10));
    }

    #[test]
    fn a_failed_partition_drops_unsent_batches_and_keeps_those_sent() {
        let now = Instant::now();
        let mut p = at(0);
        fetch(&mut p, blob(&[data(0, 2), data(2, 2), data(4, 2)]), 6).unwrap();
        let first = p.next_to_send(&PID, 1).unwrap();
        let err = PartitionError::Target("gone".into());
        let released = p.fail(&err);
        assert!(released > 0);
        assert_eq!(p.position, Some(2), "refetched from the first unsent batch");
        assert_eq!(p.committable(), Some(0));
        assert!(!p.may_produce(now) && !p.fetchable());
        // The batch in flight times out: the target may hold it, so it
        // stays queued with its sequence number for the resume.
        let a = p.answered(first.sequence, ProduceOutcome::Retry("x".into()), now);
        assert_eq!(a.lost_generation, None);
        assert_eq!((p.window.len(), p.position), (1, Some(2)));
        assert!(!p.may_produce(now), "not while failed");
        p.resume();
        assert!(p.fetchable());
        let again = p.next_to_send(&PID, 1).unwrap();
        assert_eq!(
            (again.sequence, again.base_offset),
            (first.sequence, 0),
            "the same batch with the same sequence"
        );
    }

    #[test]
    fn a_refused_batch_fails_the_partition_and_is_retried_on_resume() {
        let now = Instant::now();
        let mut p = at(0);
        fetch(&mut p, blob(&[data(0, 1), data(1, 2), data(3, 2)]), 5).unwrap();
        // The target holds the producer's state once a batch is written.
        let first = p.next_to_send(&PID, 1).unwrap();
        p.answered(first.sequence, ProduceOutcome::Written, now);
        let a = p.next_to_send(&PID, 1).unwrap();
        let b = p.next_to_send(&PID, 1).unwrap();
        p.answered(
            a.sequence,
            ProduceOutcome::Fatal(kafka_proto::ErrorCode::MESSAGE_TOO_LARGE, None),
            now,
        );
        p.answered(b.sequence, ProduceOutcome::OutOfOrder, now);
        assert!(p.is_failed());
        let st = p.status(now, SystemTime::now());
        assert!(st.reason.unwrap().contains("MESSAGE_TOO_LARGE"));
        assert_eq!(
            (p.position, p.window.len()),
            (Some(5), 2),
            "both kept to resend"
        );
        p.resume();
        let again = p.next_to_send(&PID, 1).unwrap();
        assert_eq!((again.sequence, again.base_offset), (a.sequence, 1));
    }
}
