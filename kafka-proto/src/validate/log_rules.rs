//! The stateless checks Kafka applies to a client's records for one
//! partition, in Kafka's order: the request handler's
//! (`ProduceRequest.validateRecords`), the log's (`analyzeAndValidateRecords`)
//! and the `LogValidator`'s batch and record rules.

use bytes::Bytes;

use super::{RecordError, Refusal, TopicConfig};
use crate::record::{BatchHeader, Compression, Record, RecordBatch, RecordIter, TimestampType};
use crate::ErrorCode;

/// The oldest Produce version Kafka 4 accepts (KIP-896 removed v0–v2, and
/// with them magic 0 and 1 from clients).
pub const MIN_PRODUCE_VERSION: i16 = 3;
/// The first Produce version that may carry zstd batches.
const MIN_ZSTD_VERSION: i16 = 7;
/// Bytes before a batch's length field counts: offset and length.
const LOG_OVERHEAD: usize = 12;
/// Bytes up to and including the magic byte.
const HEADER_UP_TO_MAGIC: usize = 17;
/// The smallest entry Kafka's batch reader accepts (a magic-0 message).
const MIN_ENTRY_SIZE: i32 = 14;

/// A batch that passed every stateless check; [`super::PartitionLog`]
/// applies the producer rules and appends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBatch {
    pub(super) batch: RecordBatch,
    pub(super) topic_partition: String,
    /// The batch's max timestamp as Kafka recomputes it (CreateTime).
    pub(super) max_timestamp: i64,
}

impl CheckedBatch {
    /// The batch as the producer sent it.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }
}

/// Where a Produce partition is going, for messages: Kafka's
/// `TopicPartition` prints as `topic-partition`.
pub(super) fn topic_partition(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

/// Checks one partition's `records` from a Produce request of
/// `api_version` against `config`, at broker time `now_ms`, as Kafka does
/// before it looks at producer state. `None` is a null `records` field.
pub fn check_batch(
    topic: &str,
    partition: i32,
    api_version: i16,
    config: &TopicConfig,
    records: Option<&Bytes>,
    now_ms: i64,
) -> Result<CheckedBatch, Refusal> {
    let tp = topic_partition(topic, partition);
    if api_version < MIN_PRODUCE_VERSION {
        return Err(Refusal::logged(
            ErrorCode::UNSUPPORTED_VERSION,
            format!("Produce v{api_version} is not supported: Kafka 4 brokers accept v{MIN_PRODUCE_VERSION} and later"),
        ));
    }
    let Some(records) = records else {
        // Kafka passes a null records field on and fails on it.
        return Err(Refusal::logged(
            ErrorCode::UNKNOWN_SERVER_ERROR,
            "null records (Kafka fails with a NullPointerException)",
        ));
    };
    let batch = request_rules(api_version, records)?;
    log_rules(&tp, config, &batch)?;
    let max_timestamp = validator_rules(&tp, config, &batch, now_ms)?;
    Ok(CheckedBatch {
        batch,
        topic_partition: tp,
        max_timestamp,
    })
}

/// The size of the entry at `pos`, as Kafka's batch reader finds it: `None`
/// when too few bytes remain (Kafka then ends the iteration quietly and trims
/// them), an error for a size or magic it cannot read.
fn next_entry(records: &[u8], pos: usize) -> Result<Option<(usize, i8)>, Refusal> {
    let rest = &records[pos..];
    if rest.len() < LOG_OVERHEAD {
        return Ok(None);
    }
    let size = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
    if size < MIN_ENTRY_SIZE {
        return Err(Refusal::logged(
            ErrorCode::CORRUPT_MESSAGE,
            format!(
                "Record size {size} is less than the minimum record overhead ({MIN_ENTRY_SIZE})"
            ),
        ));
    }
    if rest.len() < HEADER_UP_TO_MAGIC {
        return Ok(None);
    }
    let magic = rest[16] as i8;
    if !(0..=2).contains(&magic) {
        return Err(Refusal::logged(
            ErrorCode::CORRUPT_MESSAGE,
            format!("Invalid magic found in record: {magic}"),
        ));
    }
    // Positive after the check above.
    let total = LOG_OVERHEAD + size as usize;
    Ok((rest.len() >= total).then_some((total, magic)))
}

/// `ProduceRequest.validateRecords` (v3+): exactly one v2 batch, and zstd
/// only from v7.
fn request_rules(api_version: i16, records: &Bytes) -> Result<RecordBatch, Refusal> {
    let invalid = |m: String| Refusal::logged(ErrorCode::INVALID_RECORD, m);
    let Some((len, magic)) = next_entry(records, 0)? else {
        return Err(invalid(format!(
            "Produce requests with version {api_version} must have at least one record batch per partition"
        )));
    };
    if magic != 2 {
        return Err(invalid(format!(
            "Produce requests with version {api_version} are only allowed to contain record batches with magic version 2"
        )));
    }
    if len < BatchHeader::LEN {
        // Kafka reads header fields past such a batch's end and fails.
        return Err(Refusal::logged(
            ErrorCode::CORRUPT_MESSAGE,
            format!(
                "Record batch is corrupt (the size {len} is smaller than the minimum allowed overhead {})",
                BatchHeader::LEN
            ),
        ));
    }
    let bytes = records.slice(..len);
    let batch = RecordBatch::new(bytes).map_err(|e| {
        Refusal::logged(
            ErrorCode::CORRUPT_MESSAGE,
            format!("Record batch is corrupt: {e}"),
        )
    })?;
    if api_version < MIN_ZSTD_VERSION && batch.compression() == Compression::Zstd {
        return Err(Refusal::logged(
            ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
            format!("Produce requests with version {api_version} are not allowed to use ZStandard compression"),
        ));
    }
    if next_entry(records, len)?.is_some() {
        return Err(invalid(format!(
            "Produce requests with version {api_version} are only allowed to contain exactly one record batch per partition"
        )));
    }
    Ok(batch)
}

/// The log's checks before validation: base offset 0, size, CRC.
fn log_rules(tp: &str, config: &TopicConfig, batch: &RecordBatch) -> Result<(), Refusal> {
    if batch.base_offset() != 0 {
        return Err(Refusal::logged(
            ErrorCode::INVALID_RECORD,
            format!(
                "The baseOffset of the record batch in the append to {tp} should be 0, but it is {}",
                batch.base_offset()
            ),
        ));
    }
    let size = batch.len();
    if i64::try_from(size).unwrap_or(i64::MAX) > i64::from(config.max_message_bytes) {
        return Err(Refusal::logged(
            ErrorCode::MESSAGE_TOO_LARGE,
            format!(
                "The record batch size in the append to {tp} is {size} bytes which exceeds the maximum configured value of {}.",
                config.max_message_bytes
            ),
        ));
    }
    if batch.verify_crc().is_err() {
        return Err(Refusal::logged(
            ErrorCode::CORRUPT_MESSAGE,
            format!(
                "Record is corrupt (stored crc = {}) in topic partition {tp}.",
                batch.crc()
            ),
        ));
    }
    Ok(())
}

/// `LogValidator`: the batch rules for client appends, then every record.
/// Returns the batch's max record timestamp.
fn validator_rules(
    tp: &str,
    config: &TopicConfig,
    batch: &RecordBatch,
    now_ms: i64,
) -> Result<i64, Refusal> {
    let invalid = |m: String| Refusal::logged(ErrorCode::INVALID_RECORD, m);
    let h = batch.header();
    let (base, last) = (h.base_offset, batch.last_offset());
    let count_from_offsets = i64::from(h.last_offset_delta) + 1;
    if count_from_offsets <= 0 {
        return Err(invalid(format!(
            "Batch has an invalid offset range: [{base}, {last}] in topic partition {tp}"
        )));
    }
    let count = h.records_count;
    if count <= 0 {
        return Err(invalid(format!(
            "Invalid reported count for record batch: {count} in topic partition {tp}"
        )));
    }
    if count_from_offsets != i64::from(count) {
        return Err(invalid(format!(
            "Inconsistent batch offset range [{base}, {last}] and count of records {count} in topic partition {tp}"
        )));
    }
    if h.is_control() {
        return Err(invalid(format!(
            "Clients are not allowed to write control records in topic partition {tp}"
        )));
    }
    if h.producer_id >= 0 && h.base_sequence < 0 {
        return Err(invalid(format!(
            "Invalid sequence number {} in record batch with producerId {} in topic partition {tp}",
            h.base_sequence, h.producer_id
        )));
    }
    let records = batch
        .decompressed_records(config.decompression_cap)
        .map_err(|e| {
            Refusal::logged(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                format!("Failed to decompress record stream ({e})"),
            )
        })?;
    check_records(tp, config, batch, records, now_ms)
}

/// Every record's key and timestamp; a record that does not parse ends the
/// check at once, as Kafka's iterator throws.
fn check_records(
    tp: &str,
    config: &TopicConfig,
    batch: &RecordBatch,
    records: RecordIter,
    now_ms: i64,
) -> Result<i64, Refusal> {
    let mut errors = Vec::new();
    let mut bad_timestamp = false;
    let mut max_timestamp = -1i64;
    for (index, record) in records.enumerate() {
        let record = record.map_err(|e| {
            Refusal::logged(
                ErrorCode::INVALID_RECORD,
                format!("Found invalid record structure: {e}"),
            )
        })?;
        let index = i32::try_from(index).unwrap_or(i32::MAX);
        let timestamp = record.timestamp(batch);
        max_timestamp = max_timestamp.max(timestamp);
        if config.compact && record.key.is_none() {
            errors.push(RecordError {
                batch_index: index,
                message: format!(
                    "Compacted topic cannot accept message without key in topic partition {tp}"
                ),
            });
        } else if let Some(message) = timestamp_error(config, batch, &record, timestamp, now_ms) {
            bad_timestamp = true;
            errors.push(RecordError {
                batch_index: index,
                message,
            });
        }
    }
    if errors.is_empty() {
        return Ok(max_timestamp);
    }
    let (error, message) = if bad_timestamp {
        (
            ErrorCode::INVALID_TIMESTAMP,
            "One or more records have been rejected due to invalid timestamp".to_owned(),
        )
    } else {
        let shown: Vec<String> = errors.iter().take(3).map(ToString::to_string).collect();
        (
            ErrorCode::INVALID_RECORD,
            format!(
                "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
                errors.len(),
                shown.join(", ")
            ),
        )
    };
    Err(Refusal {
        error,
        message,
        in_response: true,
        record_errors: errors,
    })
}

/// Kafka's timestamp rule for one record: bounds on a `CreateTime` topic
/// (records without a timestamp pass), and no `LogAppendTime` batches from
/// producers otherwise.
fn timestamp_error(
    config: &TopicConfig,
    batch: &RecordBatch,
    record: &Record,
    timestamp: i64,
    now_ms: i64,
) -> Option<String> {
    let offset = record.offset(batch);
    if config.timestamp_type == TimestampType::CreateTime && timestamp != -1 {
        // Java's long arithmetic, overflow included.
        let diff = now_ms.wrapping_sub(timestamp);
        let out = diff > config.timestamp_before_max_ms
            || diff.wrapping_neg() > config.timestamp_after_max_ms;
        out.then(|| {
            format!(
                "Timestamp {timestamp} of message with offset {offset} is out of range. The timestamp should be within [{}, {}]",
                now_ms.wrapping_sub(config.timestamp_before_max_ms),
                now_ms.wrapping_add(config.timestamp_after_max_ms)
            )
        })
    } else if batch.timestamp_type() == TimestampType::LogAppendTime {
        Some(format!(
            "Invalid timestamp type in message DefaultRecord(offset={offset}, timestamp={timestamp}, key={} bytes, value={} bytes). Producer should not set timestamp type to LogAppendTime.",
            record.key.as_ref().map_or(0, Bytes::len),
            record.value.as_ref().map_or(0, Bytes::len)
        ))
    } else {
        None
    }
}
