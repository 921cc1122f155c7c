//! Re-encoding a batch with offset holes (what log compaction leaves) into
//! one a strict broker accepts: the same records, keys, values, headers and
//! timestamps, with offset deltas renumbered 0..n-1, compressed again with
//! the same codec, under a new header and CRC.

use bytes::Bytes;

use super::batch::{
    BatchHeader, CrcMismatch, VerifiedBatch, DELETE_HORIZON_BIT, TRANSACTIONAL_BIT,
};
use super::builder::RecordBatchBuilder;
use super::compress::CodecError;
use super::record::Record;
use crate::error::{DecodeError, EncodeError};

/// A batch could not be re-encoded or up-converted. Every variant names the
/// source offset of the batch (or legacy entry) it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranscodeError {
    /// Decompressing failed: corrupt data, or more than the cap.
    #[error("batch at offset {offset}: {source}")]
    Codec {
        /// Source offset of the batch or entry.
        offset: i64,
        /// The codec's error.
        source: CodecError,
    },
    /// The (decompressed) records do not parse.
    #[error("batch at offset {offset}: its records do not decode: {source}")]
    Records {
        /// Source offset of the batch or entry.
        offset: i64,
        /// Where parsing stopped.
        source: DecodeError,
    },
    /// A CRC check failed.
    #[error(transparent)]
    Crc(#[from] CrcMismatch),
    /// The batch cannot be re-encoded as asked.
    #[error("batch at offset {offset}: {reason}")]
    Unsupported {
        /// Source offset of the batch or entry.
        offset: i64,
        /// Why.
        reason: &'static str,
    },
    /// Writing the new batch failed.
    #[error("batch at offset {offset}: cannot write the converted batch: {source}")]
    Encode {
        /// Source offset of the batch or entry.
        offset: i64,
        /// The encoder's error.
        source: EncodeError,
    },
}

/// Re-encodes `batch` with dense offset deltas (0..n-1) and
/// `lastOffsetDelta = n - 1`, so that `recordsCount == lastOffsetDelta + 1`.
///
/// Kept: base offset, partition leader epoch, codec, timestamp type, the
/// transactional and delete-horizon flags, base and max timestamps, producer
/// id, epoch and base sequence, and every record's key, value, headers and
/// timestamp delta, in order. Decompression stops at `cap` bytes.
///
/// A control batch, one without records, and one whose offset deltas are not
/// increasing within `0..=lastOffsetDelta` (no broker writes such a batch) are
/// refused.
pub fn reencode(batch: &VerifiedBatch, cap: usize) -> Result<Bytes, TranscodeError> {
    let header = *batch.header();
    let offset = header.base_offset;
    let unsupported = |reason| TranscodeError::Unsupported { offset, reason };
    if header.is_control() {
        return Err(unsupported("control batches are not re-encoded"));
    }
    if header.records_count <= 0 {
        return Err(unsupported("the batch holds no records; skip it"));
    }
    let records = batch
        .decompressed_records(cap)
        .map_err(|source| TranscodeError::Codec { offset, source })?;
    let mut builder = builder_like(&header);
    let mut last_delta = -1i64;
    for (i, record) in records.enumerate() {
        let record = record.map_err(|source| TranscodeError::Records { offset, source })?;
        let delta = i64::from(record.offset_delta);
        if delta <= last_delta || delta > i64::from(header.last_offset_delta) {
            return Err(unsupported(
                "record offset deltas are not increasing within 0..=lastOffsetDelta",
            ));
        }
        last_delta = delta;
        let renumbered = Record {
            offset_delta: i32::try_from(i).map_err(|_| unsupported("too many records"))?,
            ..record
        };
        builder
            .push(&renumbered)
            .map_err(|source| TranscodeError::Encode { offset, source })?;
    }
    builder
        .finish()
        .map_err(|source| TranscodeError::Encode { offset, source })
}

/// A builder whose header fields are those of `header`, records to come.
fn builder_like(header: &BatchHeader) -> RecordBatchBuilder {
    let mut b = RecordBatchBuilder::new(header.base_offset, header.base_timestamp);
    b.partition_leader_epoch(header.partition_leader_epoch)
        .producer(
            header.producer_id,
            header.producer_epoch,
            header.base_sequence,
        )
        .transactional(header.attributes & TRANSACTIONAL_BIT != 0)
        .delete_horizon(header.attributes & DELETE_HORIZON_BIT != 0)
        .timestamp_type(header.timestamp_type())
        .compression(header.compression())
        .max_timestamp(header.max_timestamp);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Compression, Disposition, Header, RecordBatch, TimestampType};

    /// A compacted-looking batch: records at `deltas`, `lastOffsetDelta` 9.
    fn holey(codec: Compression, deltas: &[i32]) -> VerifiedBatch {
        let mut b = RecordBatchBuilder::new(1000, 1_700_000_000_000);
        b.compression(codec)
            .producer(7, 2, 100)
            .partition_leader_epoch(4)
            .last_offset_delta(9);
        for &d in deltas {
            b.push(&Record {
                offset_delta: d,
                timestamp_delta: i64::from(d) * 10,
                key: Some(Bytes::from(format!("k{d}"))),
                value: (d != 5).then(|| Bytes::from(format!("value {d} ").repeat(20))),
                headers: vec![Header::new("h", Some(Bytes::from(vec![d as u8])))],
                ..Record::default()
            })
            .unwrap();
        }
        RecordBatch::new(b.finish().unwrap())
            .unwrap()
            .verify()
            .unwrap()
    }

    #[test]
    fn holes_are_renumbered_and_everything_else_kept() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let src = holey(codec, &[1, 2, 5, 8]);
            assert_eq!(src.header().disposition(), Disposition::Reencode);
            let out = RecordBatch::new(reencode(&src, 1 << 20).unwrap()).unwrap();
            out.verify_crc().unwrap();
            assert_eq!(out.header().disposition(), Disposition::Forward, "{codec}");
            let (s, o) = (src.header(), out.header());
            assert_eq!((o.records_count, o.last_offset_delta), (4, 3));
            assert_eq!(
                (
                    o.base_offset,
                    o.partition_leader_epoch,
                    o.attributes,
                    o.base_timestamp
                ),
                (
                    s.base_offset,
                    s.partition_leader_epoch,
                    s.attributes,
                    s.base_timestamp
                )
            );
            assert_eq!(
                (
                    o.max_timestamp,
                    o.producer_id,
                    o.producer_epoch,
                    o.base_sequence
                ),
                (
                    s.max_timestamp,
                    s.producer_id,
                    s.producer_epoch,
                    s.base_sequence
                )
            );
            let before: Vec<Record> = src
                .decompressed_records(1 << 20)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let after: Vec<Record> = out
                .decompressed_records(1 << 20)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for (i, (a, b)) in before.iter().zip(&after).enumerate() {
                assert_eq!(b.offset_delta, i as i32);
                assert_eq!(
                    (&a.key, &a.value, &a.headers),
                    (&b.key, &b.value, &b.headers)
                );
                assert_eq!(a.timestamp(&src), b.timestamp(&out));
            }
        }
    }

    #[test]
    fn log_append_time_and_delete_horizon_survive() {
        let mut b = RecordBatchBuilder::new(0, 5_000);
        b.timestamp_type(TimestampType::LogAppendTime)
            .max_timestamp(9_999)
            .delete_horizon(true)
            .last_offset_delta(3);
        b.push(&Record {
            offset_delta: 3,
            key: Some(Bytes::from_static(b"k")),
            ..Record::default()
        })
        .unwrap();
        let src = RecordBatch::new(b.finish().unwrap())
            .unwrap()
            .verify()
            .unwrap();
        let out = RecordBatch::new(reencode(&src, 1024).unwrap()).unwrap();
        assert_eq!(out.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(out.max_timestamp(), 9_999);
        assert_eq!(out.delete_horizon(), Some(5_000));
        assert_eq!(out.last_offset_delta(), 0);
    }

    #[test]
    fn refuses_what_no_broker_writes() {
        let err = reencode(&holey(Compression::Gzip, &[4, 2]), 1 << 20).unwrap_err();
        assert!(
            matches!(err, TranscodeError::Unsupported { offset: 1000, .. }),
            "{err}"
        );
        let err = reencode(&holey(Compression::None, &[1, 12]), 1 << 20).unwrap_err();
        assert!(matches!(err, TranscodeError::Unsupported { .. }), "{err}");
        let err = reencode(&holey(Compression::Zstd, &[1, 2]), 10).unwrap_err();
        assert!(
            matches!(
                err,
                TranscodeError::Codec {
                    source: CodecError::TooLarge { .. },
                    ..
                }
            ),
            "{err}"
        );
        let marker = RecordBatchBuilder::end_txn_marker(
            0,
            1,
            1,
            0,
            crate::record::ControlRecordType::Commit,
            0,
        );
        let marker = RecordBatch::new(marker.finish().unwrap())
            .unwrap()
            .verify()
            .unwrap();
        assert!(reencode(&marker, 100).is_err());
    }
}
