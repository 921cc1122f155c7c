//! What [`crate::MirrorHandle::status`] reports: per-partition state, lag
//! and times, and mirror-wide totals.

use std::time::{Duration, SystemTime};

/// The state of one mirrored partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionState {
    /// Fetching and producing.
    Active,
    /// Paused by the user; in-flight data still drains.
    Paused,
    /// The source leader is unreachable or reports errors; retrying.
    SourceUnavailable,
    /// The target leader is unreachable or reports errors; retrying.
    TargetUnavailable,
    /// Stopped with an error (see [`PartitionStatus::reason`]); other
    /// partitions go on.
    Failed,
    /// Backfill mode: everything up to the end offset captured at start is
    /// on the target and committed.
    CaughtUp,
}

impl PartitionState {
    /// Upper-case name, as in logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionState::Active => "ACTIVE",
            PartitionState::Paused => "PAUSED",
            PartitionState::SourceUnavailable => "SOURCE_UNAVAILABLE",
            PartitionState::TargetUnavailable => "TARGET_UNAVAILABLE",
            PartitionState::Failed => "FAILED",
            PartitionState::CaughtUp => "CAUGHT_UP",
        }
    }
}

impl std::fmt::Display for PartitionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters, per partition and in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Records acknowledged by the target.
    pub records: u64,
    /// Batch bytes acknowledged by the target.
    pub bytes: u64,
    /// Batches acknowledged by the target.
    pub batches: u64,
    /// Errors seen (retried or not).
    pub errors: u64,
    /// Batches of aborted transactions dropped.
    pub aborted_batches: u64,
    /// Control batches dropped.
    pub control_batches: u64,
    /// Source offsets skipped after OFFSET_OUT_OF_RANGE (data lost on the
    /// source before it was mirrored).
    pub lost_offsets: u64,
}

impl Totals {
    pub(crate) fn add(&mut self, o: &Totals) {
        self.records += o.records;
        self.bytes += o.bytes;
        self.batches += o.batches;
        self.errors += o.errors;
        self.aborted_batches += o.aborted_batches;
        self.control_batches += o.control_batches;
        self.lost_offsets += o.lost_offsets;
    }
}

/// One partition's status.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionStatus {
    /// Topic on the source.
    pub source_topic: String,
    /// Topic on the target.
    pub target_topic: String,
    /// Partition (the same number on both sides).
    pub partition: i32,
    /// State.
    pub state: PartitionState,
    /// Why it is not ACTIVE, when there is a reason.
    pub reason: Option<String>,
    /// Source high watermark, as of the last fetch (-1 before one).
    pub high_watermark: i64,
    /// Next source offset to fetch, once known.
    pub position: Option<i64>,
    /// Last offset committed to the source consumer group.
    pub committed_offset: Option<i64>,
    /// Records on the source not yet acknowledged by the target.
    pub lag: i64,
    /// Backfill ([`crate::Mode::UntilCaughtUp`]): the source end offset
    /// (last stable offset) captured when the partition joined the mirror;
    /// the partition is done once everything before it is acknowledged.
    /// `None` in continuous mode, and before the partition is positioned.
    pub end_offset: Option<i64>,
    /// Backfill: source offsets from the first one not yet acknowledged by
    /// the target up to [`PartitionStatus::end_offset`], 0 once there.
    /// Unlike [`PartitionStatus::lag`] it does not grow with new writes.
    /// `None` when `end_offset` is.
    pub to_end: Option<i64>,
    /// Bytes fetched and not yet acknowledged.
    pub bytes_in_flight: usize,
    /// Time of the last fetch that returned data or reached the end.
    pub last_fetch: Option<SystemTime>,
    /// Time of the last acknowledged produce.
    pub last_produce: Option<SystemTime>,
    /// This partition's counters.
    pub totals: Totals,
}

/// A snapshot of the whole mirror.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Every partition, by source topic then partition.
    pub partitions: Vec<PartitionStatus>,
    /// Sums over partitions.
    pub totals: Totals,
    /// Bytes fetched and not yet acknowledged, all partitions.
    pub bytes_in_flight: usize,
    /// The throttle on fetched bytes, when one is set.
    pub throttle: Option<ThrottleStatus>,
}

/// The throttle on fetched bytes ([`MirrorBuilder::throttle`](crate::MirrorBuilder::throttle)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleStatus {
    /// The configured rate.
    pub bytes_per_second: u64,
    /// Time fetching has waited for the rate so far.
    pub throttled: Duration,
}

impl Status {
    /// The status of `topic` (source name) partition `partition`.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionStatus> {
        self.partitions
            .iter()
            .find(|p| p.source_topic == topic && p.partition == partition)
    }

    /// Total lag in records.
    pub fn lag(&self) -> i64 {
        self.partitions.iter().map(|p| p.lag.max(0)).sum()
    }

    /// Backfill: offsets left before every partition's end offset (0 with
    /// no partition), or `None` while some partition's end offset is not
    /// known, which is always the case in continuous mode.
    pub fn to_end(&self) -> Option<i64> {
        self.partitions
            .iter()
            .map(|p| p.to_end.map(|n| n.max(0)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(p: i32, end: Option<i64>, to_end: Option<i64>) -> PartitionStatus {
        PartitionStatus {
            source_topic: "t".into(),
            target_topic: "t".into(),
            partition: p,
            state: PartitionState::Active,
            reason: None,
            high_watermark: 12,
            position: Some(3),
            committed_offset: None,
            lag: 9,
            end_offset: end,
            to_end,
            bytes_in_flight: 0,
            last_fetch: None,
            last_produce: None,
            totals: Totals::default(),
        }
    }

    #[test]
    fn offsets_to_end_add_up_only_when_every_partition_has_an_end() {
        let mut status = Status {
            partitions: vec![part(0, Some(10), Some(0)), part(1, Some(4), Some(4))],
            totals: Totals::default(),
            bytes_in_flight: 0,
            throttle: None,
        };
        assert_eq!(status.to_end(), Some(4));
        assert_eq!(status.lag(), 18);
        assert_eq!(status.partition("t", 1).map(|p| p.to_end), Some(Some(4)));
        // Continuous mode: a partition without an end offset.
        status.partitions.push(part(2, None, None));
        assert_eq!(status.to_end(), None);
        status.partitions.clear();
        assert_eq!(status.to_end(), Some(0));
    }
}
