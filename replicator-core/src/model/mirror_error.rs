//! Errors of the mirror: what failed, on which topic and partition (and
//! source offset), and what to do.

use kafka_proto::ErrorCode;

use crate::error::Error;

/// Why a mirror could not start, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The builder was given an unusable setting.
    #[error("invalid mirror configuration: {what}. {hint}")]
    Config {
        /// What is wrong.
        what: String,
        /// How to fix it.
        hint: String,
    },

    /// A topic-selection regular expression does not compile.
    #[error("invalid topic regular expression {pattern:?}: {reason}")]
    InvalidRegex {
        /// The expression.
        pattern: String,
        /// The regex crate's message.
        reason: String,
    },

    /// Talking to the source cluster failed.
    #[error("source cluster: {0}")]
    Source(#[source] Error),

    /// Talking to the target cluster failed.
    #[error("target cluster: {0}")]
    Target(#[source] Error),

    /// A selected topic would be mirrored back onto its origin.
    #[error("refusing to mirror source topic {source_topic:?} to {target_topic:?}: {why}. Exclude the topic, or change the rename policy")]
    ReplicationLoop {
        /// The source topic.
        source_topic: String,
        /// The name it would get on the target.
        target_topic: String,
        /// Why this is a loop.
        why: String,
    },

    /// The target topic does not exist and topic creation is disabled.
    #[error("target topic {target_topic:?} (for source topic {source_topic:?}) does not exist on the target cluster and topic creation is disabled. Create it with at least {partitions} partitions, or enable creation with MirrorBuilder::create_topics(true)")]
    TargetTopicMissing {
        /// The source topic.
        source_topic: String,
        /// The missing target topic.
        target_topic: String,
        /// Partitions it needs.
        partitions: usize,
    },

    /// The target topic has fewer partitions than the source.
    #[error("target topic {target_topic:?} has {target_partitions} partitions but source topic {source_topic:?} has {source_partitions}; partition p is mirrored to partition p, so the target needs at least {source_partitions}. Add partitions to the target topic, or enable creation with MirrorBuilder::create_topics(true)")]
    TooFewTargetPartitions {
        /// The source topic.
        source_topic: String,
        /// The target topic.
        target_topic: String,
        /// Source partition count.
        source_partitions: usize,
        /// Target partition count.
        target_partitions: usize,
    },

    /// The target refused to create or grow a topic.
    #[error("could not {action} target topic {target_topic:?}: {code} ({message}). Check the target's ACLs and limits, or create the topic yourself")]
    TopicAdmin {
        /// "create" or "add partitions to".
        action: &'static str,
        /// The target topic.
        target_topic: String,
        /// The error code.
        code: ErrorCode,
        /// The broker's message.
        message: String,
    },

    /// Committing or reading the consumer group's offsets failed for good.
    #[error("consumer group {group:?}: {reason}")]
    Group {
        /// The group.
        group: String,
        /// What failed.
        reason: String,
    },

    /// The mirror's task panicked or was cancelled.
    #[error("the mirror task ended abnormally: {0}")]
    Task(String),
}

/// Why one partition stopped (state FAILED). Other partitions go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartitionError {
    /// A batch is larger than the target accepts.
    #[error("{topic}-{partition}: the target rejected the batch at source offset {offset} ({bytes} bytes) with {code} when producing to {target_topic}; the target topic's max.message.bytes is {}. Raise max.message.bytes on the target topic (and message.max.bytes on its brokers) to at least {bytes}, then resume the partition", max_message_bytes.map(|m| m.to_string()).unwrap_or_else(|| "unknown".into()))]
    BatchTooLarge {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Target topic.
        target_topic: String,
        /// Source offset of the batch.
        offset: i64,
        /// Batch size in bytes.
        bytes: usize,
        /// MESSAGE_TOO_LARGE or RECORD_LIST_TOO_LARGE.
        code: ErrorCode,
        /// The target topic's max.message.bytes, when it could be read.
        max_message_bytes: Option<i64>,
    },

    /// The target refused a batch for good.
    #[error("{topic}-{partition}: the target rejected the batch at source offset {offset} for {target_topic} with {code}: {message}. Fix the cause on the target, then resume the partition")]
    ProduceRejected {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Target topic.
        target_topic: String,
        /// Source offset of the batch.
        offset: i64,
        /// The error code.
        code: ErrorCode,
        /// The broker's message or the code's description.
        message: String,
    },

    /// The source holds magic 0/1 data, which is not forwarded yet.
    #[error("{topic}-{partition}: source offset {offset} holds a legacy magic-{magic} message set, which this mirror does not forward yet. Rewrite the topic with a current client, or start this partition past offset {offset}")]
    LegacyFormat {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset of the legacy entry.
        offset: i64,
        /// Its magic byte.
        magic: i8,
    },

    /// A fetched batch failed its CRC check repeatedly; it was not forwarded.
    #[error("{topic}-{partition}: the batch at source offset {offset} failed its CRC check {attempts} times ({detail}); it was not forwarded. The source log may be corrupt")]
    CorruptBatch {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset of the batch.
        offset: i64,
        /// How many fetches saw it corrupt.
        attempts: u32,
        /// The mismatch.
        detail: String,
    },

    /// Fetched data could not be parsed.
    #[error("{topic}-{partition}: undecodable data at source offset {offset}: {detail}")]
    Malformed {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Fetch offset.
        offset: i64,
        /// The decoder's message.
        detail: String,
    },

    /// The source refused to serve the partition for good.
    #[error("{topic}-{partition}: the source answered Fetch with {code}. {hint}")]
    FetchRejected {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The error code.
        code: ErrorCode,
        /// What to do.
        hint: String,
    },

    /// Fetching the partition on its own broke the connection every time:
    /// the broker cannot serve its data at that offset.
    #[error("{topic}-{partition}: {broker} broke the connection (closed it, or did not answer) each of the {attempts} times this partition was fetched on its own at source offset {offset}; last: {detail}. The other partitions on that broker go on. The broker seems unable to serve this partition's data at that offset (Tansu 0.6 with sqlite storage, for one, cannot serve snappy-compressed batches): check the broker's log, then resume the partition to retry")]
    FetchBreaksConnection {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The fetch offset.
        offset: i64,
        /// The source broker: node id and address.
        broker: String,
        /// Fetches in a row that broke the connection.
        attempts: u32,
        /// The last failure.
        detail: String,
    },

    /// A backfill could not read where the partition starts (or ends) for
    /// too long: it is given up so the backfill can end.
    #[error("{topic}-{partition}: the offsets to copy could not be read from {broker} for {waited:.1?} (last error: {detail}); the backfill gave the partition up so it could finish, and copied none of it. Check that the partition has a leader on the source and that the mirror's principal may Describe the topic and read its consumer group, then run the backfill again")]
    Unpositioned {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The source broker asked: node id and address, or the group
        /// coordinator.
        broker: String,
        /// How long attempts failed.
        waited: std::time::Duration,
        /// The last failure.
        detail: String,
    },

    /// The partition's target topic is missing or too small.
    #[error("{0}")]
    Target(String),
}
