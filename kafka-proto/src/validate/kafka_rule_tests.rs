//! One test per Kafka rule, named after it (and after the test in Kafka's
//! `LogValidatorTest` that covers it, where there is one).

use bytes::{BufMut, Bytes};

use super::*;
use crate::record::{Compression, Record, RecordBatchBuilder};

const NOW: i64 = 1_700_000_000_000;
const V: i16 = 9;

fn kv(i: usize) -> (Option<Bytes>, Option<Bytes>) {
    (
        Some(Bytes::from(format!("key-{i}"))),
        Some(Bytes::from(format!("value-{i} ").repeat(8))),
    )
}

/// A client batch of `n` keyed records stamped `NOW`.
fn builder(n: usize) -> RecordBatchBuilder {
    let mut b = RecordBatchBuilder::new(0, NOW);
    for i in 0..n {
        let (k, v) = kv(i);
        b.append(k, v).unwrap();
    }
    b
}

fn build(b: &RecordBatchBuilder) -> Bytes {
    b.build().unwrap()
}

fn log() -> PartitionLog {
    PartitionLog::new("t", 0, TopicConfig::default())
}

fn refuse(records: &Bytes) -> Refusal {
    log().append(V, Some(records), NOW).unwrap_err()
}

/// Rewrites header fields in a built batch and fixes its CRC.
fn patched(batch: &Bytes, edit: impl FnOnce(&mut BatchHeader)) -> Bytes {
    let mut h = *crate::record::RecordBatch::new(batch.clone())
        .unwrap()
        .header();
    edit(&mut h);
    let mut raw = batch.to_vec();
    raw[..BatchHeader::LEN].copy_from_slice(&h.to_bytes());
    let crc = crc32c::crc32c(&raw[21..]);
    raw[17..21].copy_from_slice(&crc.to_be_bytes());
    raw.into()
}

use crate::record::BatchHeader;

fn idempotent(epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = builder(n);
    b.producer(42, epoch, seq);
    build(&b)
}

// --- ProduceRequest.validateRecords -------------------------------------

#[test]
fn produce_request_must_have_at_least_one_batch_per_partition() {
    let r = refuse(&Bytes::new());
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert_eq!(
        r.message,
        "Produce requests with version 9 must have at least one record batch per partition"
    );
    assert_eq!(r.error_message(), None);
}

#[test]
fn produce_request_allows_only_magic_2() {
    let mut msg = Vec::new();
    msg.put_i64(0);
    msg.put_i32(14);
    msg.put_u32(0);
    msg.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let r = refuse(&Bytes::from(msg));
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert!(r
        .message
        .contains("only allowed to contain record batches with magic version 2"));
}

#[test]
fn produce_request_allows_exactly_one_batch_per_partition() {
    let one = build(&builder(2));
    let two: Bytes = [one.clone(), one].concat().into();
    let r = refuse(&two);
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert!(r
        .message
        .ends_with("exactly one record batch per partition"));
}

#[test]
fn produce_request_refuses_zstd_before_v7() {
    let mut b = builder(3);
    b.compression(Compression::Zstd);
    let zstd = build(&b);
    let r = log().append(6, Some(&zstd), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::UNSUPPORTED_COMPRESSION_TYPE);
    log().append(7, Some(&zstd), NOW).unwrap();
}

#[test]
fn produce_request_trailing_partial_batch_is_trimmed() {
    let one = build(&builder(2));
    let blob: Bytes = [&one[..], &one[..30]].concat().into();
    assert_eq!(log().append(V, Some(&blob), NOW).unwrap().records, 2);
}

#[test]
fn produce_v0_to_v2_are_gone_in_kafka_4() {
    let r = log().append(2, Some(&build(&builder(1))), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::UNSUPPORTED_VERSION);
}

#[test]
fn null_records_fail_as_in_kafka() {
    assert_eq!(
        log().append(V, None, NOW).unwrap_err().error,
        ErrorCode::UNKNOWN_SERVER_ERROR
    );
}

#[test]
fn batch_reader_refuses_tiny_sizes_and_unknown_magic() {
    let mut raw = build(&builder(1)).to_vec();
    raw[8..12].copy_from_slice(&13i32.to_be_bytes());
    let r = refuse(&raw.into());
    assert_eq!(r.error, ErrorCode::CORRUPT_MESSAGE);
    assert_eq!(
        r.message,
        "Record size 13 is less than the minimum record overhead (14)"
    );
    let mut raw = build(&builder(1)).to_vec();
    raw[16] = 3;
    assert_eq!(
        refuse(&raw.into()).message,
        "Invalid magic found in record: 3"
    );
}

// --- UnifiedLog.analyzeAndValidateRecords -------------------------------

#[test]
fn client_batch_base_offset_must_be_zero() {
    let b = patched(&build(&builder(1)), |h| h.base_offset = 7);
    let r = refuse(&b);
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert_eq!(
        r.message,
        "The baseOffset of the record batch in the append to t-0 should be 0, but it is 7"
    );
}

#[test]
fn batch_over_max_message_bytes_is_message_too_large() {
    let mut log = PartitionLog::new(
        "t",
        0,
        TopicConfig {
            max_message_bytes: 100,
            ..TopicConfig::default()
        },
    );
    let r = log.append(V, Some(&build(&builder(3))), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::MESSAGE_TOO_LARGE);
    assert!(
        r.message
            .ends_with("exceeds the maximum configured value of 100."),
        "{}",
        r.message
    );
}

#[test]
fn crc_mismatch_is_corrupt_message() {
    let mut raw = build(&builder(2)).to_vec();
    let last = raw.len() - 1;
    raw[last] ^= 0x40;
    let r = refuse(&raw.into());
    assert_eq!(r.error, ErrorCode::CORRUPT_MESSAGE);
    assert!(r.message.starts_with("Record is corrupt (stored crc = "));
}

// --- LogValidator.validateBatch ------------------------------------------

#[test]
fn test_batch_without_records_not_allowed() {
    let mut b = RecordBatchBuilder::new(0, NOW);
    b.producer(1324, 10, 984)
        .transactional(true)
        .last_offset_delta(5);
    let r = refuse(&build(&b));
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert_eq!(
        r.message,
        "Invalid reported count for record batch: 0 in topic partition t-0"
    );
}

#[test]
fn test_inconsistent_count_and_offset() {
    for (delta, count) in [(0, 3), (15, 3), (-3, 3)] {
        let b = patched(&build(&builder(3)), |h| {
            h.last_offset_delta = delta;
            h.records_count = count;
        });
        let r = refuse(&b);
        assert_eq!(r.error, ErrorCode::INVALID_RECORD, "{delta}/{count}");
        if delta < 0 {
            assert_eq!(
                r.message,
                "Batch has an invalid offset range: [0, -3] in topic partition t-0"
            );
        } else {
            assert_eq!(
                r.message,
                format!("Inconsistent batch offset range [0, {delta}] and count of records 3 in topic partition t-0")
            );
        }
    }
}

#[test]
fn test_unmatched_number_of_records() {
    for (delta, count) in [(5, 6), (1, 2)] {
        let b = patched(&build(&builder(3)), |h| {
            h.last_offset_delta = delta;
            h.records_count = count;
        });
        let r = refuse(&b);
        assert_eq!(r.error, ErrorCode::INVALID_RECORD, "{delta}/{count}");
        assert!(
            r.message.starts_with("Found invalid record structure"),
            "{}",
            r.message
        );
    }
}

#[test]
fn test_record_batch_with_count_overrides() {
    let b = patched(&build(&builder(3)), |h| {
        h.last_offset_delta = 2;
        h.records_count = 3;
    });
    log().append(V, Some(&b), NOW).unwrap();
}

#[test]
fn test_validation_of_batches_with_non_sequential_inner_offsets() {
    // Twenty records all at offset 0, gzip, as Kafka's test builds them.
    let mut b = RecordBatchBuilder::new(0, NOW);
    b.compression(Compression::Gzip);
    for i in 0..20 {
        b.push(&Record {
            value: Some(Bytes::from(i.to_string())),
            ..Record::default()
        })
        .unwrap();
    }
    let r = refuse(&build(&b));
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert!(r
        .message
        .starts_with("Inconsistent batch offset range [0, 0] and count of records 20"));
}

#[test]
fn compacted_batch_with_offset_holes_is_refused() {
    // What the log cleaner leaves: survivors at deltas 10, 11, 14 of 15.
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut b = RecordBatchBuilder::new(0, NOW);
        b.compression(codec).last_offset_delta(14);
        for d in [10, 11, 14] {
            b.push(&Record {
                offset_delta: d,
                key: Some(Bytes::from_static(b"k")),
                ..Record::default()
            })
            .unwrap();
        }
        let r = refuse(&build(&b));
        assert_eq!(r.error, ErrorCode::INVALID_RECORD, "{codec}");
        assert_eq!(
            r.message,
            "Inconsistent batch offset range [0, 14] and count of records 3 in topic partition t-0"
        );
    }
}

#[test]
fn test_control_records_not_allowed_from_clients() {
    let marker = RecordBatchBuilder::end_txn_marker(
        0,
        NOW,
        5,
        0,
        crate::record::ControlRecordType::Commit,
        1,
    );
    let r = refuse(&build(&marker));
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert_eq!(
        r.message,
        "Clients are not allowed to write control records in topic partition t-0"
    );
}

#[test]
fn check_invalid_sequence() {
    let b = patched(&idempotent(0, 0, 1), |h| h.base_sequence = -2);
    let r = refuse(&b);
    assert_eq!(r.error, ErrorCode::INVALID_RECORD);
    assert_eq!(
        r.message,
        "Invalid sequence number -2 in record batch with producerId 42 in topic partition t-0"
    );
}

// --- LogValidator.validateRecord -----------------------------------------

#[test]
fn check_no_key_compacted_topic() {
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Lz4,
        Compression::Snappy,
        Compression::Zstd,
    ] {
        let mut log = PartitionLog::new(
            "t",
            0,
            TopicConfig {
                compact: true,
                ..TopicConfig::default()
            },
        );
        let mut b = RecordBatchBuilder::new(0, NOW);
        b.compression(codec);
        for i in 0..5 {
            let key = (i == 1).then(|| Bytes::from_static(b"k"));
            b.append(key, Some(Bytes::from_static(b"v"))).unwrap();
        }
        let r = log.append(V, Some(&build(&b)), NOW).unwrap_err();
        assert_eq!(r.error, ErrorCode::INVALID_RECORD);
        assert!(r.in_response);
        assert_eq!(r.record_errors.len(), 4);
        assert_eq!(r.record_errors[1].batch_index, 2);
        let each = "Compacted topic cannot accept message without key in topic partition t-0";
        assert_eq!(r.record_errors[0].message, each);
        assert_eq!(
            r.message,
            format!(
                "One or more records have been rejected due to 4 record errors in total, and only showing the first three errors at most: [RecordError(batchIndex=0, message='{each}'), RecordError(batchIndex=2, message='{each}'), RecordError(batchIndex=3, message='{each}')]"
            )
        );
        let resp = partition_response(0, 8, &Err(r), 0);
        assert_eq!(resp.record_errors.len(), 4);
        assert!(resp.error_message.is_some());
    }
}

fn stamped(timestamps: &[i64]) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, timestamps[0]);
    for (i, &ts) in timestamps.iter().enumerate() {
        b.push(&Record {
            offset_delta: i as i32,
            timestamp_delta: ts - timestamps[0],
            key: Some(Bytes::from_static(b"k")),
            ..Record::default()
        })
        .unwrap();
    }
    build(&b)
}

#[test]
fn test_record_with_past_timestamp_is_rejected() {
    let config = TopicConfig {
        timestamp_before_max_ms: 1000,
        ..TopicConfig::default()
    };
    let mut log = PartitionLog::new("t", 0, config);
    let r = log
        .append(V, Some(&stamped(&[NOW, NOW - 1001])), NOW)
        .unwrap_err();
    assert_eq!(r.error, ErrorCode::INVALID_TIMESTAMP);
    assert_eq!(
        r.message,
        "One or more records have been rejected due to invalid timestamp"
    );
    assert_eq!(r.record_errors.len(), 1);
    assert_eq!(r.record_errors[0].batch_index, 1);
    assert_eq!(
        r.record_errors[0].message,
        format!(
            "Timestamp {} of message with offset 1 is out of range. The timestamp should be within [{}, {}]",
            NOW - 1001,
            NOW - 1000,
            NOW + 3_600_000
        )
    );
}

#[test]
fn test_record_with_future_timestamp_is_rejected() {
    // Kafka 4's default message.timestamp.after.max.ms is one hour.
    let r = refuse(&stamped(&[NOW + 3_600_001]));
    assert_eq!(r.error, ErrorCode::INVALID_TIMESTAMP);
    log()
        .append(V, Some(&stamped(&[NOW + 3_600_000])), NOW)
        .unwrap();
}

#[test]
fn records_without_timestamp_skip_the_bounds() {
    let config = TopicConfig {
        timestamp_before_max_ms: 0,
        ..TopicConfig::default()
    };
    let mut log = PartitionLog::new("t", 0, config);
    log.append(V, Some(&stamped(&[-1, -1])), NOW).unwrap();
}

#[test]
fn producer_log_append_time_is_refused_on_log_append_time_topic() {
    let mut b = builder(2);
    b.timestamp_type(TimestampType::LogAppendTime)
        .max_timestamp(NOW);
    let lat = build(&b);
    // A CreateTime topic only checks the (batch) timestamp's bounds.
    log().append(V, Some(&lat), NOW).unwrap();
    let config = TopicConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..TopicConfig::default()
    };
    let r = PartitionLog::new("t", 0, config)
        .append(V, Some(&lat), NOW)
        .unwrap_err();
    assert_eq!(r.error, ErrorCode::INVALID_TIMESTAMP);
    assert!(r.record_errors[0]
        .message
        .starts_with("Invalid timestamp type in message DefaultRecord(offset=0, timestamp="));
    assert!(r.record_errors[0]
        .message
        .ends_with("Producer should not set timestamp type to LogAppendTime."));
}

#[test]
fn test_batch_with_invalid_records_and_invalid_timestamp() {
    // Key errors and a timestamp error: INVALID_TIMESTAMP wins.
    let config = TopicConfig {
        compact: true,
        timestamp_before_max_ms: 10,
        ..TopicConfig::default()
    };
    let mut b = RecordBatchBuilder::new(0, NOW);
    b.append(None, Some(Bytes::from_static(b"v"))).unwrap();
    b.push(&Record {
        offset_delta: 1,
        timestamp_delta: -100,
        key: Some(Bytes::from_static(b"k")),
        ..Record::default()
    })
    .unwrap();
    let r = PartitionLog::new("t", 0, config)
        .append(V, Some(&build(&b)), NOW)
        .unwrap_err();
    assert_eq!(r.error, ErrorCode::INVALID_TIMESTAMP);
    assert_eq!(r.record_errors.len(), 2);
}

#[test]
fn log_append_time_topic_stamps_the_broker_time() {
    let config = TopicConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..TopicConfig::default()
    };
    let mut log = PartitionLog::new("t", 0, config);
    log.set_leader_epoch(3);
    let a = log.append(V, Some(&build(&builder(2))), NOW + 5).unwrap();
    assert_eq!(a.log_append_time_ms, NOW + 5);
    let stored = crate::record::RecordBatch::new(a.stored.unwrap()).unwrap();
    stored.verify_crc().unwrap();
    assert_eq!(stored.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(
        (stored.max_timestamp(), stored.partition_leader_epoch()),
        (NOW + 5, 3)
    );
}

#[test]
fn decompression_beyond_the_cap_is_refused() {
    let mut b = builder(50);
    b.compression(Compression::Gzip);
    let config = TopicConfig {
        decompression_cap: 100,
        ..TopicConfig::default()
    };
    let r = PartitionLog::new("t", 0, config)
        .append(V, Some(&build(&b)), NOW)
        .unwrap_err();
    assert_eq!(r.error, ErrorCode::UNKNOWN_SERVER_ERROR);
    assert!(r.message.contains("decompression cap"), "{}", r.message);
}

#[test]
fn accepted_batches_get_consecutive_offsets() {
    let mut log = log();
    assert_eq!(
        log.append(V, Some(&build(&builder(3))), NOW)
            .unwrap()
            .base_offset,
        0
    );
    let a = log.append(V, Some(&build(&builder(2))), NOW).unwrap();
    assert_eq!((a.base_offset, log.log_end_offset()), (3, 5));
    let stored = crate::record::RecordBatch::new(a.stored.unwrap()).unwrap();
    assert_eq!(stored.base_offset(), 3);
    stored.verify_crc().unwrap();
}

// --- ProducerAppendInfo / ProducerStateEntry ------------------------------

#[test]
fn duplicate_of_one_of_last_five_batches_gets_the_original_offsets() {
    let mut log = log();
    let first = log.append(V, Some(&idempotent(0, 0, 3)), NOW).unwrap();
    log.append(V, Some(&idempotent(0, 3, 2)), NOW).unwrap();
    let again = log.append(V, Some(&idempotent(0, 0, 3)), NOW).unwrap();
    assert!(again.duplicate);
    assert_eq!((again.base_offset, again.stored), (first.base_offset, None));
    assert_eq!(log.log_end_offset(), 5);
}

#[test]
fn duplicate_older_than_five_batches_is_out_of_order() {
    let mut log = log();
    for i in 0..6 {
        log.append(V, Some(&idempotent(0, i, 1)), NOW).unwrap();
    }
    let r = log.append(V, Some(&idempotent(0, 0, 1)), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(
        r.message,
        "Out of order sequence number for producer 42 at offset 6 in partition t-0: 0 (incoming seq. number), 5 (current end sequence number)"
    );
}

#[test]
fn sequence_gap_is_out_of_order() {
    let mut log = log();
    log.append(V, Some(&idempotent(0, 0, 2)), NOW).unwrap();
    let r = log.append(V, Some(&idempotent(0, 5, 1)), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
}

#[test]
fn older_producer_epoch_is_invalid_producer_epoch() {
    let mut log = log();
    log.append(V, Some(&idempotent(3, 0, 1)), NOW).unwrap();
    let r = log.append(V, Some(&idempotent(2, 1, 1)), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::INVALID_PRODUCER_EPOCH);
    assert_eq!(
        r.message,
        "Epoch of producer 42 at offset 1 in t-0 is 2, which is smaller than the last seen epoch 3"
    );
}

#[test]
fn new_epoch_must_start_at_sequence_zero() {
    let mut log = log();
    log.append(V, Some(&idempotent(0, 0, 1)), NOW).unwrap();
    let r = log.append(V, Some(&idempotent(1, 1, 1)), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert!(r
        .message
        .starts_with("Invalid sequence number for new epoch of producer 42at offset 1"));
    log.append(V, Some(&idempotent(1, 0, 1)), NOW).unwrap();
}

#[test]
fn unknown_producer_may_start_at_any_sequence() {
    log().append(V, Some(&idempotent(4, 1000, 2)), NOW).unwrap();
}

#[test]
fn sequence_wraps_after_int_max() {
    let mut log = log();
    log.append(V, Some(&idempotent(0, i32::MAX - 1, 2)), NOW)
        .unwrap();
    log.append(V, Some(&idempotent(0, 0, 1)), NOW).unwrap();
}

#[test]
fn non_transactional_write_inside_open_transaction_is_invalid_txn_state() {
    let mut log = log();
    let mut b = builder(1);
    b.producer(42, 0, 0).transactional(true);
    log.append(V, Some(&build(&b)), NOW).unwrap();
    let r = log.append(V, Some(&idempotent(0, 1, 1)), NOW).unwrap_err();
    assert_eq!(r.error, ErrorCode::INVALID_TXN_STATE);
    log.end_transaction(42);
    log.append(V, Some(&idempotent(0, 1, 1)), NOW).unwrap();
}

#[test]
fn undo_takes_back_the_last_append() {
    let mut log = log();
    log.append(V, Some(&idempotent(0, 0, 2)), NOW).unwrap();
    let a = log.append(V, Some(&idempotent(0, 2, 2)), NOW).unwrap();
    log.undo(&a);
    assert_eq!(log.log_end_offset(), 2);
    // The same batch is new again, not a duplicate.
    assert!(
        !log.append(V, Some(&idempotent(0, 2, 2)), NOW)
            .unwrap()
            .duplicate
    );
}
