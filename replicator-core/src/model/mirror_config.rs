//! What a mirror is told to do: [`MirrorConfig`], with the start policy
//! and the mode it runs in.

use std::time::Duration;

use super::{RenamePolicy, TopicSelection};
use crate::cluster::ClusterConfig;

/// Where a partition starts when the group has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The log start offset: everything still on the source.
    #[default]
    Earliest,
    /// The end of the log: only new data.
    Latest,
}

/// How long a mirror runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Until stopped.
    #[default]
    Continuous,
    /// Capture the source end offsets (last stable offsets) at start,
    /// replicate up to them, commit, and finish with a summary.
    UntilCaughtUp,
}

/// A mirror's full configuration (built by [`MirrorBuilder`](crate::MirrorBuilder)).
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// The source cluster.
    pub source: ClusterConfig,
    /// The target cluster.
    pub target: ClusterConfig,
    /// Which source topics to mirror.
    pub selection: TopicSelection,
    /// Target topic names.
    pub rename: RenamePolicy,
    /// The target cluster's alias, for loop detection with the prefix policy.
    pub target_alias: Option<String>,
    /// The source-cluster consumer group holding the mirror's offsets.
    pub group_id: String,
    /// Start policy without a committed offset (and after OFFSET_OUT_OF_RANGE).
    pub start_from: StartFrom,
    /// Continuous or backfill.
    pub mode: Mode,
    /// Create missing target topics and add missing partitions.
    pub create_topics: bool,
    /// Copy the synced configs ([`crate::SYNCED_CONFIGS`]) to created topics.
    pub sync_configs: bool,
    /// Replication factor of created topics (-1: the target's default).
    pub replication_factor: i16,
    /// Bound on bytes fetched and not acknowledged, all partitions.
    pub max_bytes_in_flight: usize,
    /// The same bound per partition.
    pub max_partition_bytes_in_flight: usize,
    /// Produce batches in flight per partition (1 to 5).
    pub max_in_flight_per_partition: usize,
    /// Fetch `max_wait_ms`.
    pub fetch_max_wait: Duration,
    /// Fetch `max_bytes` per request.
    pub fetch_max_bytes: usize,
    /// Fetched bytes per second at most, all partitions; `None`: no limit.
    pub throttle_bytes_per_second: Option<u64>,
    /// How often acknowledged offsets are committed.
    pub commit_interval: Duration,
    /// How often new topics and partitions are looked for.
    pub topic_refresh_interval: Duration,
    /// How long [`MirrorHandle::stop`](crate::MirrorHandle::stop) waits for in-flight batches.
    pub drain_timeout: Duration,
}
