//! Where a partition's fetching starts, and where it goes when the source
//! log no longer holds its position, without IO.
//!
//! A partition starts at the group's committed offset when that lies in
//! the source log, else where the start policy says; in a backfill it also
//! gets an end offset, the last stable offset at start. A position outside
//! the log later (OFFSET_OUT_OF_RANGE, or a log that shrank below it)
//! resets the same way. The offsets skipped are counted as lost.
//!
//! The engine asks for the facts with a [`PositionRequest`]; the driver
//! reads them (OffsetFetch, ListOffsets) and answers with a
//! [`PositionAnswer`].

use std::collections::HashMap;
use std::time::Duration;

use super::state::PartitionKey;
use crate::model::StartFrom;

/// ListOffsets timestamps.
pub(crate) const LATEST: i64 = -1;
pub(crate) const EARLIEST: i64 = -2;

/// How long a backfill retries reading a partition's offsets before it
/// gives the partition up (FAILED): a backfill always ends. A continuous
/// mirror retries for as long as it runs.
pub(crate) const POSITION_TIMEOUT: Duration = Duration::from_secs(30);

/// Identifies a [`PositionRequest`] in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PositionId(pub(crate) u64);

/// Why positions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionPurpose {
    /// Where newly added (or not yet positioned) partitions start.
    Start,
    /// The source log no longer holds the fetch position `from`.
    Reset {
        /// The position the log does not hold.
        from: i64,
    },
}

/// Facts the engine needs to position partitions.
#[derive(Debug, Clone)]
pub struct PositionRequest {
    /// Answer with this id.
    pub id: PositionId,
    /// Why.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub purpose: PositionPurpose,
    /// The partitions.
    pub partitions: Vec<PartitionKey>,
    /// Read the consumer group's committed offsets (OffsetFetch).
    pub read_committed: bool,
    /// Read each partition's last stable offset too (a backfill's end).
    pub read_stable_end: bool,
}

/// A partition's log, as ListOffsets tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    /// The log start offset.
    pub earliest: i64,
    /// The high watermark: where the next record goes.
    pub latest: i64,
    /// The last stable offset, when asked for.
    pub stable_end: Option<i64>,
}

/// Why a fact could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionFailure {
    /// The broker asked (node id and address), or the group coordinator.
    pub broker: String,
    /// What failed.
    pub detail: String,
}

/// The facts a [`PositionRequest`] asked for.
#[derive(Debug, Clone)]
pub struct PositionAnswer {
    /// The group's committed offsets (offsets below 0: none), when asked
    /// for; `Ok` and empty when not.
    pub committed: Result<HashMap<PartitionKey, i64>, PositionFailure>,
    /// Each partition's log bounds (partitions left out failed too).
    pub bounds: Vec<(PartitionKey, Result<LogBounds, PositionFailure>)>,
}

/// Whether `offset` is a valid position in a log spanning
/// `[earliest, latest]` (latest: the high watermark, where the next record
/// goes).
pub(crate) fn in_log(offset: i64, earliest: i64, latest: i64) -> bool {
    (earliest..=latest).contains(&offset)
}

/// Where a position `from` outside the log goes per the start policy, and
/// how many offsets that skips: lost, since they were never mirrored.
pub(crate) fn reset_target(
    from: i64,
    earliest: i64,
    latest: i64,
    start_from: StartFrom,
) -> (i64, u64) {
    let to = match start_from {
        StartFrom::Earliest => earliest,
        StartFrom::Latest => latest,
    };
    (to, u64::try_from((to - from).max(0)).unwrap_or_default())
}

/// Where a partition with `committed` offset (if any) starts in a log of
/// `bounds`, and the offsets lost when the committed offset is outside it.
pub(crate) fn start_at(
    committed: Option<i64>,
    bounds: &LogBounds,
    policy: StartFrom,
) -> (i64, Option<u64>) {
    match committed {
        // Tansu answers a Fetch past its log end with no error and no
        // data, so a committed offset past the end would stall silently.
        Some(c) if in_log(c, bounds.earliest, bounds.latest) => (c, None),
        Some(c) => {
            let (to, lost) = reset_target(c, bounds.earliest, bounds.latest, policy);
            (to, Some(lost))
        }
        None => match policy {
            StartFrom::Earliest => (bounds.earliest, None),
            StartFrom::Latest => (bounds.latest, None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_offset_is_valid_only_within_the_log() {
        // A 40-record log whose first 10 offsets were deleted.
        assert!(in_log(10, 10, 40) && in_log(25, 10, 40));
        assert!(in_log(40, 10, 40), "the high watermark: nothing new yet");
        assert!(!in_log(41, 10, 40) && !in_log(1_000_000, 10, 40));
        assert!(!in_log(9, 10, 40));
    }

    #[test]
    fn a_reset_counts_only_the_offsets_it_skips() {
        use StartFrom::{Earliest, Latest};
        // Below the log start: the deleted offsets are lost either way;
        // the latest policy also skips what is still there.
        assert_eq!(reset_target(4, 10, 40, Earliest), (10, 6));
        assert_eq!(reset_target(4, 10, 40, Latest), (40, 36));
        // Past the end: nothing is skipped, going back loses nothing.
        assert_eq!(reset_target(1_000_000, 10, 40, Earliest), (10, 0));
        assert_eq!(reset_target(1_000_000, 10, 40, Latest), (40, 0));
    }

    #[test]
    fn a_start_uses_the_committed_offset_inside_the_log_else_the_policy() {
        use StartFrom::{Earliest, Latest};
        let b = LogBounds {
            earliest: 10,
            latest: 40,
            stable_end: None,
        };
        assert_eq!(start_at(Some(25), &b, Latest), (25, None));
        assert_eq!(start_at(None, &b, Earliest), (10, None));
        assert_eq!(start_at(None, &b, Latest), (40, None));
        assert_eq!(start_at(Some(4), &b, Earliest), (10, Some(6)));
        assert_eq!(start_at(Some(99), &b, Latest), (40, Some(0)));
    }
}
