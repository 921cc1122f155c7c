//! What Apache Kafka's broker answers to one partition of a Produce request:
//! the rules its request handler, log and `LogValidator` apply to a client's
//! records, and its idempotent producer bookkeeping, as a sans-io state
//! machine. The clock is passed in.
//!
//! Test peers that speak Kafka use it to refuse exactly what Kafka refuses,
//! with Kafka's error code and message; anything that writes batches can
//! check them against it.
//!
//! - [`check_batch`]: the stateless rules (one v2 batch per partition from
//!   Produce v3, no zstd before v7, base offset 0, `max.message.bytes`, the
//!   CRC, the offset range against the record count, no control batches, a
//!   sequence with every producer id, a key on compacted topics, the
//!   timestamp type and bounds).
//! - [`PartitionLog`]: one partition's offsets and producer state: duplicate
//!   batches, producer epochs and sequence numbers.
//! - [`partition_response`]: the outcome as a Produce response partition.
//! - [`StrictProduce`]: a whole Produce request over a set of partitions.
//!
//! ```
//! use bytes::Bytes;
//! use kafka_proto::record::{Record, RecordBatchBuilder};
//! use kafka_proto::validate::{PartitionLog, TopicConfig};
//! use kafka_proto::ErrorCode;
//!
//! let mut log = PartitionLog::new("orders", 0, TopicConfig::default());
//! let now = 1_700_000_000_000;
//!
//! let mut good = RecordBatchBuilder::new(0, now);
//! good.append(Some(Bytes::from_static(b"k")), Some(Bytes::from_static(b"v")))?;
//! let appended = log.append(9, Some(&good.build()?), now).unwrap();
//! assert_eq!(appended.base_offset, 0);
//!
//! // Compaction kept the record at delta 2 of a batch of three.
//! let mut holey = RecordBatchBuilder::new(0, now);
//! holey.last_offset_delta(2).push(&Record { offset_delta: 2, ..Record::default() })?;
//! let refusal = log.append(9, Some(&holey.build()?), now).unwrap_err();
//! assert_eq!(refusal.error, ErrorCode::INVALID_RECORD);
//! assert!(refusal.message.starts_with("Inconsistent batch offset range [0, 2]"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(test)]
mod kafka_rule_tests;
mod log_rules;
mod producer_state;
mod strict_produce;

use std::fmt;

use bytes::Bytes;

use crate::messages::produce_response::{BatchIndexAndErrorMessage, PartitionProduceResponse};
use crate::record::TimestampType;
use crate::ErrorCode;

pub use log_rules::{check_batch, CheckedBatch, MIN_PRODUCE_VERSION};
pub use producer_state::PartitionLog;
pub use strict_produce::{PartitionOutcome, StrictProduce};

/// The topic settings Kafka's checks depend on, with Kafka 4's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub compact: bool,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms` (default: no bound).
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms` (default: one hour).
    pub timestamp_after_max_ms: i64,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: i32,
    /// Not a Kafka setting: the most this validator decompresses of one
    /// batch. Kafka has no such bound; a batch beyond it is refused with
    /// `UNKNOWN_SERVER_ERROR` and a message that says so.
    pub decompression_cap: usize,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            compact: false,
            timestamp_type: TimestampType::CreateTime,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3_600_000,
            max_message_bytes: 1_048_588,
            decompression_cap: 128 << 20,
        }
    }
}

impl TopicConfig {
    /// Applies one topic config entry as Kafka names it (`cleanup.policy`,
    /// `message.timestamp.type`, `message.timestamp.before.max.ms`,
    /// `message.timestamp.after.max.ms`, `max.message.bytes`). Returns
    /// whether the name was one of those and the value parsed.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        match name {
            "cleanup.policy" => {
                self.compact = value.split(',').any(|p| p.trim() == "compact");
                true
            }
            "message.timestamp.type" => match value {
                "CreateTime" => {
                    self.timestamp_type = TimestampType::CreateTime;
                    true
                }
                "LogAppendTime" => {
                    self.timestamp_type = TimestampType::LogAppendTime;
                    true
                }
                _ => false,
            },
            "message.timestamp.before.max.ms" => {
                parse_into(value, &mut self.timestamp_before_max_ms)
            }
            "message.timestamp.after.max.ms" => parse_into(value, &mut self.timestamp_after_max_ms),
            "max.message.bytes" => parse_into(value, &mut self.max_message_bytes),
            _ => false,
        }
    }
}

fn parse_into<T: std::str::FromStr>(value: &str, into: &mut T) -> bool {
    match value.trim().parse() {
        Ok(v) => {
            *into = v;
            true
        }
        Err(_) => false,
    }
}

/// Kafka refused a partition's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The partition's error code.
    pub error: ErrorCode,
    /// The message of the exception Kafka raised, as its broker logs it.
    pub message: String,
    /// Whether Kafka also sends [`Refusal::message`] as the response's
    /// `ErrorMessage` (Produce v8+): only for record-level errors.
    pub in_response: bool,
    /// Per-record errors (Produce v8+ `RecordErrors`).
    pub record_errors: Vec<RecordError>,
}

impl Refusal {
    /// A refusal whose message Kafka only logs.
    pub(crate) fn logged(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            in_response: false,
            record_errors: Vec::new(),
        }
    }

    /// The response's `ErrorMessage`, as Kafka fills it.
    pub fn error_message(&self) -> Option<&str> {
        self.in_response.then_some(self.message.as_str())
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.name(), self.message)
    }
}

impl std::error::Error for Refusal {}

/// One record Kafka refused, by its index in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the record in its batch.
    pub batch_index: i32,
    /// Why.
    pub message: String,
}

impl fmt::Display for RecordError {
    /// As Kafka prints it inside an exception message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RecordError(batchIndex={}, message='{}')",
            self.batch_index, self.message
        )
    }
}

/// A batch Kafka accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Offset of its first record (for a duplicate, that of the original).
    pub base_offset: i64,
    /// Records it holds.
    pub records: i32,
    /// `LogAppendTimeMs` of the response: the broker's time on a
    /// `LogAppendTime` topic, else -1 (for a duplicate, Kafka sends the
    /// original batch's max timestamp).
    pub log_append_time_ms: i64,
    /// Whether it repeated one of the producer's last five batches: Kafka
    /// answers with the original's offsets and appends nothing.
    pub duplicate: bool,
    /// The batch as the log stores it (base offset, leader epoch and, on a
    /// `LogAppendTime` topic, the time set; new CRC); `None` for a duplicate.
    pub stored: Option<Bytes>,
    /// Producer id, -1 for none.
    pub producer_id: i64,
}

/// The Produce response partition Kafka sends for `outcome` at `api_version`
/// (fields that version lacks stay at their defaults).
pub fn partition_response(
    index: i32,
    api_version: i16,
    outcome: &Result<Appended, Refusal>,
    log_start_offset: i64,
) -> PartitionProduceResponse {
    let mut r = PartitionProduceResponse {
        index,
        base_offset: -1,
        log_append_time_ms: -1,
        ..PartitionProduceResponse::default()
    };
    match outcome {
        Ok(a) => {
            r.base_offset = a.base_offset;
            r.log_append_time_ms = a.log_append_time_ms;
            if api_version >= 5 {
                r.log_start_offset = log_start_offset;
            }
        }
        Err(refusal) => {
            r.error_code = refusal.error.code();
            if api_version >= 8 {
                r.error_message = refusal.error_message().map(str::to_owned);
                r.record_errors = refusal
                    .record_errors
                    .iter()
                    .map(|e| BatchIndexAndErrorMessage {
                        batch_index: e.batch_index,
                        batch_index_error_message: Some(e.message.clone()),
                        ..BatchIndexAndErrorMessage::default()
                    })
                    .collect();
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_config_reads_kafka_names() {
        let mut c = TopicConfig::default();
        assert!(c.set("cleanup.policy", "compact,delete"));
        assert!(c.compact);
        assert!(c.set("message.timestamp.type", "LogAppendTime"));
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        assert!(c.set("max.message.bytes", "2000"));
        assert_eq!(c.max_message_bytes, 2000);
        assert!(!c.set("max.message.bytes", "lots"));
        assert!(!c.set("retention.ms", "1"));
    }

    #[test]
    fn response_fields_follow_the_version() {
        let refusal = Err(Refusal {
            error: ErrorCode::INVALID_RECORD,
            message: "m".into(),
            in_response: true,
            record_errors: vec![RecordError {
                batch_index: 2,
                message: "no key".into(),
            }],
        });
        let v7 = partition_response(3, 7, &refusal, 0);
        assert_eq!((v7.error_code, v7.error_message.as_deref()), (87, None));
        assert!(v7.record_errors.is_empty());
        let v8 = partition_response(3, 8, &refusal, 0);
        assert_eq!(v8.error_message.as_deref(), Some("m"));
        assert_eq!(v8.record_errors[0].batch_index, 2);
    }
}
