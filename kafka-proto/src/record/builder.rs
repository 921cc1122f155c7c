//! Building magic-2 batches, uncompressed or with any of Kafka's codecs.

use bytes::{Bytes, BytesMut};

use super::batch::{
    BatchHeader, TimestampType, CONTROL_BIT, CRC_START, DELETE_HORIZON_BIT, MIN_BATCH_LENGTH,
    TRANSACTIONAL_BIT,
};
use super::compress::compress;
use super::compression::Compression;
use super::control::{ControlRecord, ControlRecordType, EndTxnMarker};
use super::record::Record;
use crate::error::EncodeError;

/// Builds one magic-2 batch.
///
/// Records are encoded as they are pushed. [`RecordBatchBuilder::build`]
/// compresses them when a codec is set ([`RecordBatchBuilder::compression`])
/// and fills in `batchLength`, `lastOffsetDelta`, `maxTimestamp`,
/// `recordsCount` and the CRC.
///
/// ```
/// use bytes::Bytes;
/// use kafka_proto::record::{Record, RecordBatch, RecordBatchBuilder};
///
/// let mut builder = RecordBatchBuilder::new(100, 1_700_000_000_000);
/// builder.producer(7, 0, 0);
/// builder.push(&Record {
///     offset_delta: 0,
///     key: Some(Bytes::from_static(b"k")),
///     value: Some(Bytes::from_static(b"v")),
///     ..Record::default()
/// })?;
/// let batch = RecordBatch::new(builder.build()?)?;
/// batch.verify_crc()?;
/// assert_eq!(batch.records_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    header: BatchHeader,
    /// Header space followed by the encoded records, so finishing writes the
    /// header in place instead of copying the records.
    buf: BytesMut,
    count: usize,
    max_offset_delta: Option<i32>,
    max_timestamp_delta: Option<i64>,
    last_offset_delta: Option<i32>,
    max_timestamp: Option<i64>,
}

impl RecordBatchBuilder {
    /// An empty, non-idempotent batch starting at `base_offset`, with record
    /// timestamps relative to `base_timestamp`.
    pub fn new(base_offset: i64, base_timestamp: i64) -> Self {
        let header = BatchHeader {
            base_offset,
            batch_length: MIN_BATCH_LENGTH,
            partition_leader_epoch: -1,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: 0,
            base_timestamp,
            max_timestamp: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: 0,
        };
        let mut buf = BytesMut::with_capacity(BatchHeader::LEN);
        buf.resize(BatchHeader::LEN, 0);
        Self {
            header,
            buf,
            count: 0,
            max_offset_delta: None,
            max_timestamp_delta: None,
            last_offset_delta: None,
            max_timestamp: None,
        }
    }

    /// A transaction marker batch: one control record of `kind` (normally
    /// ABORT or COMMIT) with an end-transaction value, flagged transactional
    /// and control, as a transaction coordinator writes it.
    pub fn end_txn_marker(
        base_offset: i64,
        timestamp: i64,
        producer_id: i64,
        producer_epoch: i16,
        kind: ControlRecordType,
        coordinator_epoch: i32,
    ) -> Self {
        let mut builder = Self::new(base_offset, timestamp);
        builder
            .producer(producer_id, producer_epoch, -1)
            .transactional(true)
            .control(true);
        let marker = Record {
            key: Some(ControlRecord { version: 0, kind }.to_bytes()),
            value: Some(
                EndTxnMarker {
                    version: 0,
                    coordinator_epoch,
                }
                .to_bytes(),
            ),
            ..Record::default()
        };
        builder
            .push(&marker)
            .expect("a 12-byte marker record is within every length limit");
        builder
    }

    /// Sets the partition leader epoch (default -1).
    pub fn partition_leader_epoch(&mut self, epoch: i32) -> &mut Self {
        self.header.partition_leader_epoch = epoch;
        self
    }

    /// Sets the producer id, epoch and first sequence number (default -1 each).
    pub fn producer(&mut self, id: i64, epoch: i16, base_sequence: i32) -> &mut Self {
        self.header.producer_id = id;
        self.header.producer_epoch = epoch;
        self.header.base_sequence = base_sequence;
        self
    }

    /// Sets or clears the transactional flag.
    pub fn transactional(&mut self, on: bool) -> &mut Self {
        self.set_flag(TRANSACTIONAL_BIT, on)
    }

    /// Sets or clears the control flag.
    pub fn control(&mut self, on: bool) -> &mut Self {
        self.set_flag(CONTROL_BIT, on)
    }

    /// Sets or clears the delete-horizon flag, which makes the base timestamp
    /// a delete horizon.
    pub fn delete_horizon(&mut self, on: bool) -> &mut Self {
        self.set_flag(DELETE_HORIZON_BIT, on)
    }

    /// Sets the timestamp type (default `CreateTime`). For `LogAppendTime`,
    /// also set [`RecordBatchBuilder::max_timestamp`] to the append time.
    pub fn timestamp_type(&mut self, ty: TimestampType) -> &mut Self {
        self.header.attributes = BatchHeader::with_timestamp_type(self.header.attributes, ty);
        self
    }

    /// Overrides `maxTimestamp`, otherwise the largest record timestamp (or
    /// -1 without records).
    pub fn max_timestamp(&mut self, timestamp: i64) -> &mut Self {
        self.max_timestamp = Some(timestamp);
        self
    }

    /// Overrides `lastOffsetDelta`, otherwise the largest record offset delta
    /// (or 0 without records); compaction keeps it when it removes records.
    pub fn last_offset_delta(&mut self, delta: i32) -> &mut Self {
        self.last_offset_delta = Some(delta);
        self
    }

    /// Sets the codec the records are compressed with (default none).
    pub fn compression(&mut self, codec: Compression) -> &mut Self {
        self.header.attributes =
            (self.header.attributes & !Compression::MASK) | i16::from(codec.id());
        self
    }

    fn set_flag(&mut self, bit: i16, on: bool) -> &mut Self {
        self.header.attributes = BatchHeader::with_flag(self.header.attributes, bit, on);
        self
    }

    /// Appends a record as given, deltas included.
    pub fn push(&mut self, record: &Record) -> Result<&mut Self, EncodeError> {
        // Check every length before writing, so a failed push changes nothing.
        let body = record.body_len()?;
        let total = self.buf.len() - BatchHeader::LEN;
        if body.saturating_add(5).saturating_add(total) > max_records_len() {
            return Err(too_long("RecordBatch", total.saturating_add(body)));
        }
        record.write(&mut self.buf)?;
        self.count += 1;
        self.max_offset_delta = Some(
            self.max_offset_delta
                .map_or(record.offset_delta, |d| d.max(record.offset_delta)),
        );
        self.max_timestamp_delta = Some(
            self.max_timestamp_delta
                .map_or(record.timestamp_delta, |d| d.max(record.timestamp_delta)),
        );
        Ok(self)
    }

    /// Appends a record at the next offset delta (0 for the first) with the
    /// base timestamp and no headers.
    pub fn append(
        &mut self,
        key: Option<Bytes>,
        value: Option<Bytes>,
    ) -> Result<&mut Self, EncodeError> {
        let offset_delta = self.max_offset_delta.map_or(0, |d| d.wrapping_add(1));
        self.push(&Record {
            offset_delta,
            key,
            value,
            ..Record::default()
        })
    }

    /// Records pushed so far.
    pub fn record_count(&self) -> usize {
        self.count
    }

    /// Size the batch would have if built now, before compression.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Encodes the batch, leaving the builder as it is.
    pub fn build(&self) -> Result<Bytes, EncodeError> {
        self.clone().finish()
    }

    /// Encodes the batch; uncompressed, without copying the records.
    pub fn finish(mut self) -> Result<Bytes, EncodeError> {
        let codec = self.header.compression();
        if !codec.is_none() {
            let packed = compress(codec, &self.buf[BatchHeader::LEN..])?;
            self.buf.truncate(BatchHeader::LEN);
            self.buf.extend_from_slice(&packed);
        }
        let records_len = self.buf.len() - BatchHeader::LEN;
        if records_len > max_records_len() {
            return Err(too_long("RecordBatch", records_len));
        }
        let mut header = self.header;
        // Fits in an i32: checked just above.
        header.batch_length = MIN_BATCH_LENGTH + records_len as i32;
        header.records_count =
            i32::try_from(self.count).map_err(|_| too_long("RecordBatch.records", self.count))?;
        header.last_offset_delta = self
            .last_offset_delta
            .or(self.max_offset_delta)
            .unwrap_or(0);
        header.max_timestamp = self.max_timestamp.unwrap_or_else(|| {
            self.max_timestamp_delta
                .map_or(-1, |d| header.base_timestamp.wrapping_add(d))
        });
        let raw = header.to_bytes();
        let crc = crc32c::crc32c_append(
            crc32c::crc32c(&raw[CRC_START..]),
            &self.buf[BatchHeader::LEN..],
        );
        header.crc = crc;
        self.buf[..BatchHeader::LEN].copy_from_slice(&header.to_bytes());
        Ok(self.buf.freeze())
    }
}

/// Largest records section whose `batchLength` still fits an int32.
fn max_records_len() -> usize {
    (i32::MAX - MIN_BATCH_LENGTH) as usize
}

fn too_long(field: &'static str, length: usize) -> EncodeError {
    EncodeError::TooLong {
        field,
        length,
        max: max_records_len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordBatch;

    #[test]
    fn computes_derived_fields() {
        let mut b = RecordBatchBuilder::new(10, 1_000);
        b.push(&Record {
            offset_delta: 0,
            timestamp_delta: 5,
            ..Record::default()
        })
        .unwrap();
        b.push(&Record {
            offset_delta: 4,
            timestamp_delta: 2,
            ..Record::default()
        })
        .unwrap();
        let size = b.size_in_bytes();
        let batch = RecordBatch::new(b.build().unwrap()).unwrap();
        assert_eq!(batch.len(), size);
        assert_eq!(batch.last_offset_delta(), 4);
        assert_eq!(batch.max_timestamp(), 1_005);
        assert_eq!(batch.records_count(), 2);
        assert_eq!(batch.next_offset(), 15);
        batch.verify_crc().unwrap();
    }

    #[test]
    fn compressed_batches_read_back() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut b = RecordBatchBuilder::new(5, 1_000);
            b.compression(codec).producer(9, 1, 40);
            for i in 0..50u8 {
                b.append(
                    Some(Bytes::from(vec![i; 3])),
                    Some(Bytes::from(vec![b'v'; 200])),
                )
                .unwrap();
            }
            let batch = RecordBatch::new(b.finish().unwrap()).unwrap();
            batch.verify_crc().unwrap();
            assert_eq!(batch.compression(), codec);
            assert_eq!((batch.records_count(), batch.last_offset_delta()), (50, 49));
            assert!(batch.len() < 50 * 200, "{codec} did not compress");
            let records: Vec<Record> = batch
                .decompressed_records(1 << 20)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(records.len(), 50);
            assert_eq!(records[49].key.as_deref(), Some(&[49u8; 3][..]));
            assert_eq!(records[49].offset_delta, 49);
        }
    }

    #[test]
    fn append_numbers_offsets() {
        let mut b = RecordBatchBuilder::new(0, 0);
        b.append(None, Some(Bytes::from_static(b"a"))).unwrap();
        b.append(None, Some(Bytes::from_static(b"b"))).unwrap();
        let batch = RecordBatch::new(b.finish().unwrap()).unwrap();
        let deltas: Vec<i32> = batch.records().map(|r| r.unwrap().offset_delta).collect();
        assert_eq!(deltas, [0, 1]);
    }

    #[test]
    fn marker_batch_decodes() {
        let bytes = RecordBatchBuilder::end_txn_marker(50, 9, 4, 1, ControlRecordType::Abort, 3)
            .build()
            .unwrap();
        let batch = RecordBatch::new(bytes).unwrap();
        batch.verify_crc().unwrap();
        assert!(batch.is_control() && batch.is_transactional());
        let marker = batch.control_marker().unwrap().unwrap();
        assert_eq!(marker.offset, 50);
        assert_eq!(marker.record.kind, ControlRecordType::Abort);
        assert_eq!(marker.end_txn.unwrap().coordinator_epoch, 3);
    }
}
