//! Record batches end to end: building, viewing, iterating, splitting,
//! rewriting, and hostile input.

use bytes::{BufMut, Bytes};
use kafka_proto::record::{
    BatchRewrite, Compression, ControlRecordType, Entries, Entry, Header, Record, RecordBatch,
    RecordBatchBuilder, TimestampType,
};
use kafka_proto::{DecodeErrorKind, Records};
use proptest::prelude::*;

fn bytes(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

fn sample_records() -> Vec<Record> {
    vec![
        Record {
            offset_delta: 0,
            timestamp_delta: 0,
            key: None,
            value: Some(bytes(b"null key")),
            ..Record::default()
        },
        Record {
            offset_delta: 1,
            timestamp_delta: 17,
            key: Some(bytes(b"tombstone")),
            value: None,
            ..Record::default()
        },
        Record {
            offset_delta: 2,
            timestamp_delta: -3,
            key: Some(Bytes::new()),
            value: Some(Bytes::new()),
            headers: vec![
                Header::new("null-value", None),
                Header::new("empty", Some(Bytes::new())),
                Header::new("trace", Some(bytes(b"abc"))),
            ],
            ..Record::default()
        },
        Record {
            offset_delta: 5,
            timestamp_delta: 1_000,
            key: Some(bytes(b"large")),
            value: Some(Bytes::from(vec![0xab; 300_000])),
            ..Record::default()
        },
    ]
}

fn build(records: &[Record], configure: impl FnOnce(&mut RecordBatchBuilder)) -> RecordBatch {
    let mut builder = RecordBatchBuilder::new(1_000, 1_700_000_000_000);
    configure(&mut builder);
    for r in records {
        builder.push(r).unwrap();
    }
    RecordBatch::new(builder.build().unwrap()).unwrap()
}

#[test]
fn builder_round_trips_every_header_field() {
    let records = sample_records();
    let batch = build(&records, |b| {
        b.partition_leader_epoch(12)
            .producer(77, 3, 40)
            .transactional(true)
            .timestamp_type(TimestampType::CreateTime);
    });
    assert_eq!(batch.base_offset(), 1_000);
    assert_eq!(batch.batch_length() as usize + 12, batch.len());
    assert_eq!(batch.partition_leader_epoch(), 12);
    assert_eq!(batch.magic(), 2);
    assert_eq!(batch.attributes(), 0x10);
    assert_eq!(batch.compression(), Compression::None);
    assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
    assert!(batch.is_transactional());
    assert!(!batch.is_control());
    assert!(!batch.has_delete_horizon());
    assert_eq!(batch.delete_horizon(), None);
    assert_eq!(batch.last_offset_delta(), 5);
    assert_eq!(batch.base_timestamp(), 1_700_000_000_000);
    assert_eq!(batch.max_timestamp(), 1_700_000_001_000);
    assert_eq!(batch.producer_id(), 77);
    assert_eq!(batch.producer_epoch(), 3);
    assert_eq!(batch.base_sequence(), 40);
    assert_eq!(batch.records_count(), 4);
    assert_eq!(batch.last_offset(), 1_005);
    assert_eq!(batch.next_offset(), 1_006);
    assert_eq!(batch.records_section().len(), batch.len() - 61);
    assert_eq!(&batch.as_bytes()[61..], &batch.records_section()[..]);
    batch.verify_crc().unwrap();

    let back: Vec<Record> = batch.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(back, records);
}

#[test]
fn flags_and_overrides_round_trip() {
    let batch = build(&[], |b| {
        b.control(true)
            .delete_horizon(true)
            .timestamp_type(TimestampType::LogAppendTime)
            .max_timestamp(55)
            .last_offset_delta(9);
    });
    assert!(batch.is_control() && batch.has_delete_horizon());
    assert!(!batch.is_transactional());
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(batch.delete_horizon(), Some(1_700_000_000_000));
    assert_eq!(batch.max_timestamp(), 55);
    assert_eq!(batch.last_offset_delta(), 9);
    assert_eq!(batch.records_count(), 0);
    assert_eq!(batch.len(), RecordBatch::HEADER_LEN);
    assert_eq!(batch.records().count(), 0);
}

#[test]
fn record_values_are_zero_copy_with_absolute_positions() {
    let batch = build(&sample_records(), |_| {});
    let all = batch.as_bytes();
    let range = all.as_ptr() as usize..all.as_ptr() as usize + all.len();
    let records: Vec<Record> = batch.records().map(Result::unwrap).collect();
    let large = &records[3];
    let value = large.value.as_ref().unwrap();
    assert_eq!(value.len(), 300_000);
    assert!(range.contains(&(value.as_ptr() as usize)));
    let header_value = records[2].headers[2].value.as_ref().unwrap();
    assert!(range.contains(&(header_value.as_ptr() as usize)));
    assert_eq!(records[2].headers[0].key_str(), Ok("null-value"));

    assert_eq!(large.offset(&batch), 1_005);
    assert_eq!(large.timestamp(&batch), 1_700_000_001_000);
    assert_eq!(records[2].timestamp(&batch), 1_700_000_000_000 - 3);
}

#[test]
fn log_append_time_gives_every_record_the_max_timestamp() {
    let batch = build(&sample_records(), |b| {
        b.timestamp_type(TimestampType::LogAppendTime)
            .max_timestamp(42);
    });
    for r in batch.records() {
        assert_eq!(r.unwrap().timestamp(&batch), 42);
    }
}

#[test]
fn crc_matches_crc32c_over_attributes_to_end() {
    let batch = build(&sample_records(), |b| {
        b.producer(1, 1, 1);
    });
    let expected = crc32c::crc32c(&batch.as_bytes()[21..]);
    assert_eq!(batch.crc(), expected);
    assert_eq!(batch.compute_crc(), expected);
    assert_eq!(&batch.as_bytes()[17..21], &expected.to_be_bytes());
}

#[test]
fn corrupted_record_fails_crc_and_cannot_be_rewritten() {
    let batch = build(&sample_records(), |_| {});
    let mut raw = batch.as_bytes().to_vec();
    let last = raw.len() - 1;
    raw[last] ^= 0x40;
    let corrupt = RecordBatch::new(raw.into()).unwrap();
    let err = corrupt.verify().unwrap_err();
    assert_eq!(err.stored, batch.crc());
    assert_eq!(err.base_offset, 1_000);
}

#[test]
fn compressed_batches_are_not_iterated() {
    let batch = build(&sample_records(), |_| {});
    let mut raw = batch.as_bytes().to_vec();
    raw[22] |= 0x04; // zstd
    let zstd = RecordBatch::new(raw.into()).unwrap();
    assert_eq!(zstd.compression(), Compression::Zstd);
    let mut it = zstd.records();
    let err = it.next().unwrap().unwrap_err();
    assert_eq!(err.field, "RecordBatch.attributes");
    assert!(err.to_string().contains("compressed"));
    assert!(it.next().is_none());
}

#[test]
fn transaction_markers_round_trip() {
    for (kind, epoch) in [
        (ControlRecordType::Commit, 7),
        (ControlRecordType::Abort, 0),
    ] {
        let mut builder = RecordBatchBuilder::end_txn_marker(300, 99, 5, 2, kind, epoch);
        builder.partition_leader_epoch(4);
        let batch = RecordBatch::new(builder.build().unwrap()).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.producer_id(), 5);
        assert_eq!(batch.producer_epoch(), 2);
        let marker = batch.control_marker().unwrap().unwrap();
        assert_eq!(marker.offset, 300);
        assert_eq!(marker.record.kind, kind);
        assert_eq!(marker.end_txn.unwrap().coordinator_epoch, epoch);
    }
    let data = build(&sample_records(), |_| {});
    assert_eq!(data.control_marker().unwrap(), None);
}

#[test]
fn unknown_control_types_have_no_marker_value() {
    let key = kafka_proto::record::ControlRecord {
        version: 0,
        kind: ControlRecordType::Other(3),
    };
    let batch = build(
        &[Record {
            key: Some(key.to_bytes()),
            value: Some(bytes(b"kraft")),
            ..Record::default()
        }],
        |b| {
            b.control(true);
        },
    );
    let marker = batch.control_marker().unwrap().unwrap();
    assert_eq!(marker.record.kind, ControlRecordType::Other(3));
    assert_eq!(marker.end_txn, None);
}

/// A magic-0 or magic-1 entry, built by hand from the legacy layout.
fn legacy_entry(magic: i8, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    body.put_i8(magic);
    body.put_i8(0x01); // gzip wrapper bits; never decompressed here
    if magic == 1 {
        body.put_i64(1_600_000_000_000);
    }
    for part in [key, value] {
        match part {
            None => body.put_i32(-1),
            Some(p) => {
                body.put_i32(p.len() as i32);
                body.put_slice(p);
            }
        }
    }
    // The stored CRC covers magic..end.
    let crc = crc32_ieee_reference(&body);
    let mut out = Vec::new();
    out.put_i64(offset);
    out.put_i32(body.len() as i32 + 4);
    out.put_u32(crc);
    out.put_slice(&body);
    out
}

/// Bitwise CRC-32 (IEEE), independent of the crate's table-driven one.
fn crc32_ieee_reference(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn splits_mixed_legacy_and_v2_entries() {
    let v2a = build(&sample_records(), |_| {});
    let v2b = build(&sample_records()[..2], |_| {});
    let mut blob = Vec::new();
    blob.extend(legacy_entry(0, 10, None, Some(b"old")));
    blob.extend(legacy_entry(1, 11, Some(b"k"), None));
    blob.extend_from_slice(v2a.as_bytes());
    blob.extend_from_slice(v2b.as_bytes());
    let blob = Bytes::from(blob);

    let mut entries = Entries::new(blob.clone());
    let all: Vec<Entry> = entries.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(entries.truncated_bytes(), 0);
    assert_eq!(entries.position(), blob.len());
    assert_eq!(all.len(), 4);

    let Entry::Legacy(v0) = &all[0] else {
        panic!("expected legacy entry")
    };
    assert_eq!((v0.magic(), v0.offset(), v0.timestamp()), (0, 10, None));
    assert_eq!(v0.compression(), Compression::Gzip);
    assert_eq!(v0.value().unwrap(), &bytes(b"old"));
    v0.verify_crc().unwrap();

    let Entry::Legacy(v1) = &all[1] else {
        panic!("expected legacy entry")
    };
    assert_eq!((v1.magic(), v1.offset()), (1, 11));
    assert_eq!(v1.timestamp(), Some(1_600_000_000_000));
    assert_eq!(v1.key().unwrap(), &bytes(b"k"));
    assert_eq!(v1.value(), None);
    assert_eq!(v1.next_offset(), 12);
    v1.verify_crc().unwrap();

    assert_eq!(all[2], Entry::Batch(v2a.clone()));
    assert_eq!(all[3], Entry::Batch(v2b));
    assert_eq!(all[2].next_offset(), v2a.next_offset());
    // Entries share the blob's memory.
    assert_eq!(
        all[2].as_bytes().as_ptr(),
        blob[v0.len() + v1.len()..].as_ptr()
    );
}

#[test]
fn truncated_trailing_batch_is_dropped_at_every_cut() {
    let first = build(&sample_records()[..3], |_| {});
    let second = build(&sample_records()[..2], |_| {});
    let mut full = first.as_bytes().to_vec();
    full.extend_from_slice(second.as_bytes());
    for cut in 1..second.len() {
        let blob = Bytes::copy_from_slice(&full[..first.len() + cut]);
        let mut entries = Entries::new(blob);
        let got: Vec<Entry> = entries.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(got, vec![Entry::Batch(first.clone())], "cut at {cut}");
        assert_eq!(entries.truncated_bytes(), cut);
    }
}

#[test]
fn invalid_entry_after_valid_one_reports_blob_offset() {
    let first = build(&sample_records()[..1], |_| {});
    let mut blob = first.as_bytes().to_vec();
    let mut bad = vec![0u8; 70];
    bad[11] = 58; // batchLength 58 matches, but the magic is 9
    bad[16] = 9;
    blob.extend(bad);
    let mut entries = Entries::new(blob.into());
    assert!(entries.next().unwrap().is_ok());
    let err = entries.next().unwrap().unwrap_err();
    assert_eq!(err.field, "Entry.magic");
    assert_eq!(err.offset, first.len() + 16);
    assert!(entries.next().is_none());
}

#[test]
fn rewritten_batch_forwards_as_two_chunks() {
    let batch = build(&sample_records(), |b| {
        b.producer(1, 1, 100)
            .transactional(true)
            .partition_leader_epoch(8);
    })
    .verify()
    .unwrap();
    let out = batch.rewrite(&BatchRewrite {
        base_offset: 0,
        partition_leader_epoch: -1,
        producer_id: 4242,
        producer_epoch: 3,
        base_sequence: 0,
        transactional: false,
    });
    let mut records = Records::new();
    out.append_to(&mut records);
    assert_eq!(records.chunks().len(), 2);
    assert_eq!(records.len(), out.len());
    let sent = RecordBatch::new(records.to_bytes()).unwrap();
    sent.verify_crc().unwrap();
    assert_eq!((sent.base_offset(), sent.partition_leader_epoch()), (0, -1));
    assert_eq!(
        (
            sent.producer_id(),
            sent.producer_epoch(),
            sent.base_sequence()
        ),
        (4242, 3, 0)
    );
    assert!(!sent.is_transactional());
    assert_eq!(sent.max_timestamp(), batch.max_timestamp());
    let a: Vec<Record> = sent.records().map(Result::unwrap).collect();
    let b: Vec<Record> = batch.records().map(Result::unwrap).collect();
    assert_eq!(a, b);
}

/// A batch header followed by `tail`, with a correct CRC.
fn raw_batch(records_count: i32, tail: &[u8]) -> Bytes {
    let mut out = Vec::new();
    out.put_i64(0);
    out.put_i32(49 + tail.len() as i32);
    out.put_i32(0);
    out.put_i8(2);
    out.put_u32(0);
    out.put_i16(0);
    out.put_i32(0);
    out.put_i64(0);
    out.put_i64(0);
    out.put_i64(-1);
    out.put_i16(-1);
    out.put_i32(-1);
    out.put_i32(records_count);
    out.put_slice(tail);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out.into()
}

#[test]
fn hostile_counts_fail_fast_without_allocating() {
    // 2^31 - 1 records claimed with 10 bytes of records.
    let batch = RecordBatch::new(raw_batch(i32::MAX, &[0; 10])).unwrap();
    let err = batch.records().next().unwrap().unwrap_err();
    assert_eq!(err.field, "RecordBatch.recordsCount");
    assert!(matches!(
        err.kind,
        DecodeErrorKind::LengthOutOfBounds { .. }
    ));

    // Negative record count.
    let batch = RecordBatch::new(raw_batch(-5, &[])).unwrap();
    let err = batch.records().next().unwrap().unwrap_err();
    assert!(matches!(err.kind, DecodeErrorKind::InvalidLength(-5)));

    // One 10-byte record claiming 2^31 - 1 headers.
    let record = [20, 0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f];
    let batch = RecordBatch::new(raw_batch(1, &record)).unwrap();
    let err = batch.records().next().unwrap().unwrap_err();
    assert_eq!(err.field, "Record.headersCount");
    assert_eq!(err.offset, 61 + 6);

    // A record claiming a 2 GiB value.
    let record = [20, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0];
    let batch = RecordBatch::new(raw_batch(1, &record)).unwrap();
    let err = batch.records().next().unwrap().unwrap_err();
    assert_eq!(err.field, "Record.value");

    // A 10-byte blob and a 10-byte control key.
    assert!(Entries::new(Bytes::from_static(&[0x7f; 10]))
        .next()
        .is_none());
    let key = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let parsed = kafka_proto::record::ControlRecord::parse(&key).unwrap();
    assert_eq!(parsed.kind, ControlRecordType::Other(0x7fff));
}

#[test]
fn fewer_records_than_declared_or_trailing_bytes_are_errors() {
    let one = [12, 0, 0, 0, 1, 1, 0];
    let batch = RecordBatch::new(raw_batch(1, &[one, one].concat())).unwrap();
    let results: Vec<_> = batch.records().collect();
    assert!(results[0].is_ok());
    assert!(results[1].is_err());
    assert_eq!(results.len(), 2);

    // Two records fit the count check, but the second claims 10 bytes and has 6.
    let short = [20, 0, 0, 0, 1, 1, 0];
    let batch = RecordBatch::new(raw_batch(2, &[one, short].concat())).unwrap();
    let results: Vec<_> = batch.records().collect();
    assert!(results[0].is_ok());
    let err = results[1].as_ref().unwrap_err();
    assert_eq!((err.field, err.offset), ("Record.length", 61 + 7));
    assert!(matches!(
        err.kind,
        DecodeErrorKind::LengthOutOfBounds { .. }
    ));
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from))
}

fn arb_record() -> impl Strategy<Value = Record> {
    let header = (proptest::collection::vec(any::<u8>(), 0..8), arb_bytes(16))
        .prop_map(|(k, v)| Header::new(Bytes::from(k), v));
    (
        any::<i64>(),
        any::<i32>(),
        arb_bytes(64),
        arb_bytes(256),
        proptest::collection::vec(header, 0..4),
    )
        .prop_map(
            |(timestamp_delta, offset_delta, key, value, headers)| Record {
                attributes: 0,
                timestamp_delta,
                offset_delta,
                key,
                value,
                headers,
            },
        )
}

prop_compose! {
    fn arb_batch()(
        base_offset in any::<i64>(),
        base_timestamp in any::<i64>(),
        epoch in any::<i32>(),
        producer in (any::<i64>(), any::<i16>(), any::<i32>()),
        flags in (any::<bool>(), any::<bool>(), any::<bool>()),
        records in proptest::collection::vec(arb_record(), 0..6),
    ) -> RecordBatch {
        let mut b = RecordBatchBuilder::new(base_offset, base_timestamp);
        b.partition_leader_epoch(epoch)
            .producer(producer.0, producer.1, producer.2)
            .transactional(flags.0)
            .control(flags.1)
            .delete_horizon(flags.2);
        for r in &records {
            b.push(r).unwrap();
        }
        RecordBatch::new(b.build().unwrap()).unwrap()
    }
}

fn arb_rewrite() -> impl Strategy<Value = BatchRewrite> {
    (
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        any::<i16>(),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                base_offset,
                partition_leader_epoch,
                producer_id,
                producer_epoch,
                base_sequence,
                transactional,
            )| {
                BatchRewrite {
                    base_offset,
                    partition_leader_epoch,
                    producer_id,
                    producer_epoch,
                    base_sequence,
                    transactional,
                }
            },
        )
}

/// Every way the crate reads untrusted bytes, run to completion.
fn exercise(blob: Bytes) {
    for entry in Entries::new(blob.clone()) {
        let Ok(entry) = entry else { break };
        if let Entry::Batch(batch) = entry {
            let _ = batch.verify_crc();
            for record in batch.records() {
                let _ = record;
            }
            let _ = batch.control_marker();
        }
    }
    if let Ok(batch) = RecordBatch::new(blob.clone()) {
        let _ = batch.records().count();
        let _ = batch.control_marker();
    }
    let _ = kafka_proto::record::ControlRecord::parse(&blob);
    let _ = kafka_proto::record::EndTxnMarker::parse(&blob);
    let _ = kafka_proto::record::LegacyEntry::new(blob);
}

proptest! {
    #[test]
    fn rewrite_crc_equals_full_recompute(batch in arb_batch(), new in arb_rewrite()) {
        let verified = batch.clone().verify().unwrap();
        let out = verified.rewrite(&new);
        let whole = out.to_bytes();
        prop_assert_eq!(out.header.len(), 61);
        let recomputed = crc32c::crc32c(&whole[21..]);
        let sent = RecordBatch::new(whole).unwrap();
        prop_assert_eq!(sent.crc(), recomputed);
        prop_assert_eq!(sent.base_offset(), new.base_offset);
        prop_assert_eq!(sent.partition_leader_epoch(), new.partition_leader_epoch);
        prop_assert_eq!(sent.producer_id(), new.producer_id);
        prop_assert_eq!(sent.producer_epoch(), new.producer_epoch);
        prop_assert_eq!(sent.base_sequence(), new.base_sequence);
        prop_assert_eq!(sent.is_transactional(), new.transactional);
        prop_assert_eq!(sent.is_control(), batch.is_control());
        prop_assert_eq!(sent.records_section(), batch.records_section());
    }

    #[test]
    fn built_batches_round_trip(batch in arb_batch()) {
        prop_assert_eq!(batch.crc(), crc32c::crc32c(&batch.as_bytes()[21..]));
        let records: Result<Vec<Record>, _> = batch.records().collect();
        prop_assert!(records.is_ok());
        prop_assert_eq!(records.unwrap().len() as i32, batch.records_count());
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(Bytes::from(raw));
    }

    #[test]
    fn mutated_batches_never_panic(
        batch in arb_batch(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut raw = batch.as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(raw.len());
            raw[i] = byte;
        }
        exercise(Bytes::from(raw.clone()));
        // The same with a consistent batchLength and CRC, to get past the checks.
        let len = raw.len() - 12;
        raw[8..12].copy_from_slice(&(len as i32).to_be_bytes());
        raw[16] = 2;
        let crc = crc32c::crc32c(&raw[21..]);
        raw[17..21].copy_from_slice(&crc.to_be_bytes());
        exercise(Bytes::from(raw.clone()));
        // And truncated anywhere.
        raw.truncate(cut.index(raw.len() + 1));
        exercise(Bytes::from(raw));
    }
}
