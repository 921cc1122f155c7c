//! A validated, zero-copy view over one magic-2 record batch.

use std::fmt;
use std::ops::Deref;

use bytes::{BufMut, Bytes};
use nom::IResult;

use super::compress::{decompress, CodecError};
use super::compression::Compression;
use super::control::ControlMarker;
use super::record::RecordIter;
use crate::codec::Reader;
use crate::error::{DecodeError, DecodeErrorKind};

/// Bytes before `batchLength` counts: baseOffset and batchLength itself.
pub(crate) const LOG_OVERHEAD: usize = 12;
/// Offset of the magic byte, the same in every message format.
pub(crate) const MAGIC_OFFSET: usize = 16;
/// First byte the CRC covers (attributes); it runs to the end of the batch.
pub(crate) const CRC_START: usize = 21;
/// Smallest valid `batchLength`: a header and no records.
pub(crate) const MIN_BATCH_LENGTH: i32 = (BatchHeader::LEN - LOG_OVERHEAD) as i32;

const TIMESTAMP_TYPE_BIT: i16 = 0x08;
pub(crate) const TRANSACTIONAL_BIT: i16 = 0x10;
pub(crate) const CONTROL_BIT: i16 = 0x20;
pub(crate) const DELETE_HORIZON_BIT: i16 = 0x40;

/// How a batch's timestamps were assigned (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the broker on append; every record then carries the batch's
    /// `maxTimestamp`.
    LogAppendTime,
}

/// The fixed 61-byte header of a magic-2 batch, field by field.
///
/// Fields are public so a header can be built or edited and then written
/// with [`BatchHeader::to_bytes`]; nothing here keeps them consistent with
/// any records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after this field: the batch is `batch_length + 12` bytes long.
    pub batch_length: i32,
    /// Leader epoch of the partition when the batch was appended.
    pub partition_leader_epoch: i32,
    /// Format version; 2 for every batch this module reads.
    pub magic: i8,
    /// CRC-32C of bytes 21 to the end of the batch.
    pub crc: u32,
    /// Codec, timestamp type and flag bits.
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp the record deltas are relative to (or the delete horizon).
    pub base_timestamp: i64,
    /// Largest record timestamp (the append time under `LogAppendTime`).
    pub max_timestamp: i64,
    /// Idempotent or transactional producer id, -1 for none.
    pub producer_id: i64,
    /// Producer epoch, -1 for none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 for none.
    pub base_sequence: i32,
    /// Number of records, stored uncompressed even when the records are not.
    pub records_count: i32,
}

impl BatchHeader {
    /// Encoded length of the header.
    pub const LEN: usize = 61;

    /// Parses the first 61 bytes of `input`. Checks nothing but length.
    pub(crate) fn parse(input: &[u8]) -> IResult<&[u8], BatchHeader> {
        match input.split_first_chunk::<{ Self::LEN }>() {
            Some((raw, rest)) => Ok((rest, Self::from_array(raw))),
            None => Err(nom::Err::Error(nom::error::Error::new(
                input,
                nom::error::ErrorKind::Eof,
            ))),
        }
    }

    /// Reads the fields of a header, fixed offsets, no checks.
    pub(crate) fn from_array(raw: &[u8; Self::LEN]) -> BatchHeader {
        // Fixed offsets straight from the array: no bounds checks left, and
        // this runs for every fetched batch.
        fn at<const N: usize>(raw: &[u8; BatchHeader::LEN], start: usize) -> [u8; N] {
            let mut out = [0u8; N];
            out.copy_from_slice(&raw[start..start + N]);
            out
        }
        BatchHeader {
            base_offset: i64::from_be_bytes(at(raw, 0)),
            batch_length: i32::from_be_bytes(at(raw, 8)),
            partition_leader_epoch: i32::from_be_bytes(at(raw, 12)),
            magic: raw[MAGIC_OFFSET] as i8,
            crc: u32::from_be_bytes(at(raw, 17)),
            attributes: i16::from_be_bytes(at(raw, 21)),
            last_offset_delta: i32::from_be_bytes(at(raw, 23)),
            base_timestamp: i64::from_be_bytes(at(raw, 27)),
            max_timestamp: i64::from_be_bytes(at(raw, 35)),
            producer_id: i64::from_be_bytes(at(raw, 43)),
            producer_epoch: i16::from_be_bytes(at(raw, 51)),
            base_sequence: i32::from_be_bytes(at(raw, 53)),
            records_count: i32::from_be_bytes(at(raw, 57)),
        }
    }

    /// Writes the header in wire order.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let mut buf = &mut out[..];
        buf.put_i64(self.base_offset);
        buf.put_i32(self.batch_length);
        buf.put_i32(self.partition_leader_epoch);
        buf.put_i8(self.magic);
        buf.put_u32(self.crc);
        buf.put_i16(self.attributes);
        buf.put_i32(self.last_offset_delta);
        buf.put_i64(self.base_timestamp);
        buf.put_i64(self.max_timestamp);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        buf.put_i32(self.base_sequence);
        buf.put_i32(self.records_count);
        out
    }

    /// Compression codec (attribute bits 0–2).
    pub fn compression(&self) -> Compression {
        Compression::from_attributes(self.attributes)
    }

    /// Timestamp type (attribute bit 3).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch belongs to a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds a control record (attribute bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Whether `base_timestamp` holds a delete horizon (attribute bit 6).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    /// Attributes with the given flag bit set or cleared.
    pub(crate) fn with_flag(attributes: i16, bit: i16, on: bool) -> i16 {
        if on {
            attributes | bit
        } else {
            attributes & !bit
        }
    }

    /// Attributes with the timestamp type bit set from `ty`.
    pub(crate) fn with_timestamp_type(attributes: i16, ty: TimestampType) -> i16 {
        Self::with_flag(
            attributes,
            TIMESTAMP_TYPE_BIT,
            ty == TimestampType::LogAppendTime,
        )
    }
}

/// A CRC check failed: the batch (or legacy entry) is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("batch at offset {base_offset} has CRC {stored:#010x} but its bytes give {computed:#010x}")]
pub struct CrcMismatch {
    /// Base offset of the batch, to say which one.
    pub base_offset: i64,
    /// CRC stored in the header.
    pub stored: u32,
    /// CRC of the bytes as received.
    pub computed: u32,
}

/// One magic-2 record batch: a zero-copy view over exactly its bytes.
///
/// Construction checks the length, the magic byte and that `batchLength`
/// matches the bytes given. The CRC is not checked until
/// [`RecordBatch::verify_crc`] or [`RecordBatch::verify`], and records are
/// parsed only while iterating [`RecordBatch::records`].
#[derive(Clone, PartialEq, Eq)]
pub struct RecordBatch {
    bytes: Bytes,
    header: BatchHeader,
}

// A batch always has its 61-byte header, so `is_empty` would always be false.
#[allow(clippy::len_without_is_empty)]
impl RecordBatch {
    /// Length of the fixed header; records start here.
    pub const HEADER_LEN: usize = BatchHeader::LEN;

    /// Validates `bytes` as exactly one magic-2 batch.
    ///
    /// Error offsets count from the start of `bytes`.
    pub fn new(bytes: Bytes) -> Result<Self, DecodeError> {
        let mut cursor = Reader::new(&bytes);
        let header = cursor.parse("RecordBatch", "record batch header", BatchHeader::parse)?;
        if header.magic != 2 {
            return Err(DecodeError::new(
                "RecordBatch.magic",
                MAGIC_OFFSET,
                DecodeErrorKind::Invalid("record batch magic is not 2"),
            ));
        }
        check_batch_length(header.batch_length)?;
        check_exact_length("RecordBatch.batchLength", header.batch_length, bytes.len())?;
        Ok(Self { bytes, header })
    }

    /// The parsed header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    /// Bytes after the `batchLength` field.
    pub fn batch_length(&self) -> i32 {
        self.header.batch_length
    }

    /// Leader epoch stored by the broker.
    pub fn partition_leader_epoch(&self) -> i32 {
        self.header.partition_leader_epoch
    }

    /// Format version: always 2.
    pub fn magic(&self) -> i8 {
        self.header.magic
    }

    /// The stored CRC-32C.
    pub fn crc(&self) -> u32 {
        self.header.crc
    }

    /// Raw attribute bits.
    pub fn attributes(&self) -> i16 {
        self.header.attributes
    }

    /// Compression codec of the records section.
    pub fn compression(&self) -> Compression {
        self.header.compression()
    }

    /// Whether timestamps are producer- or broker-assigned.
    pub fn timestamp_type(&self) -> TimestampType {
        self.header.timestamp_type()
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.header.is_transactional()
    }

    /// Whether the batch is a control batch (a transaction marker or a KRaft record).
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    /// Whether `base_timestamp` holds a delete horizon.
    pub fn has_delete_horizon(&self) -> bool {
        self.header.has_delete_horizon()
    }

    /// The delete horizon in milliseconds, when the flag is set.
    pub fn delete_horizon(&self) -> Option<i64> {
        self.has_delete_horizon()
            .then_some(self.header.base_timestamp)
    }

    /// Offset of the last record relative to the base offset.
    pub fn last_offset_delta(&self) -> i32 {
        self.header.last_offset_delta
    }

    /// Timestamp the record timestamp deltas are relative to.
    pub fn base_timestamp(&self) -> i64 {
        self.header.base_timestamp
    }

    /// Largest record timestamp, or the append time under `LogAppendTime`.
    pub fn max_timestamp(&self) -> i64 {
        self.header.max_timestamp
    }

    /// Producer id, -1 for none.
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    /// Producer epoch, -1 for none.
    pub fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }

    /// Sequence number of the first record, -1 for none.
    pub fn base_sequence(&self) -> i32 {
        self.header.base_sequence
    }

    /// Number of records the header declares.
    pub fn records_count(&self) -> i32 {
        self.header.records_count
    }

    /// Offset of the last record. Compaction may have removed it, but the
    /// offset still counts as used.
    pub fn last_offset(&self) -> i64 {
        self.header
            .base_offset
            .wrapping_add(i64::from(self.header.last_offset_delta))
    }

    /// The offset after this batch: where a fetch continues.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Size of the whole batch in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The batch exactly as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Gives back the batch's bytes.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Everything after the header: the records, compressed or not (zero-copy).
    pub fn records_section(&self) -> Bytes {
        self.bytes.slice(Self::HEADER_LEN..)
    }

    /// CRC-32C of bytes 21 to the end, as the header should store it.
    pub fn compute_crc(&self) -> u32 {
        crc32c::crc32c(&self.bytes[CRC_START..])
    }

    /// Checks the stored CRC against the bytes.
    pub fn verify_crc(&self) -> Result<(), CrcMismatch> {
        let computed = self.compute_crc();
        if computed == self.header.crc {
            Ok(())
        } else {
            Err(CrcMismatch {
                base_offset: self.header.base_offset,
                stored: self.header.crc,
                computed,
            })
        }
    }

    /// Checks the CRC and returns a batch that may be rewritten.
    pub fn verify(self) -> Result<VerifiedBatch, CrcMismatch> {
        self.verify_crc()?;
        Ok(VerifiedBatch(self))
    }

    /// Iterates the records of an uncompressed batch, parsing lazily.
    ///
    /// For a compressed batch the first item is an error; use
    /// [`RecordBatch::decompressed_records`].
    pub fn records(&self) -> RecordIter {
        RecordIter::new(self.clone())
    }

    /// Iterates the records of any batch, decompressing its records section
    /// first (to at most `cap` bytes) when it is compressed.
    pub fn decompressed_records(&self, cap: usize) -> Result<RecordIter, CodecError> {
        let codec = self.compression();
        if codec.is_none() {
            return Ok(self.records());
        }
        let plain = decompress(codec, &self.bytes[Self::HEADER_LEN..], cap)?;
        Ok(RecordIter::decompressed(self.clone(), plain.into()))
    }

    /// For a control batch, its control record and, for a transaction
    /// marker, the marker's value. `None` for a data batch.
    pub fn control_marker(&self) -> Result<Option<ControlMarker>, DecodeError> {
        ControlMarker::from_batch(self)
    }
}

/// Rejects a `batchLength` too small to hold the v2 header.
pub(crate) fn check_batch_length(batch_length: i32) -> Result<(), DecodeError> {
    if batch_length < MIN_BATCH_LENGTH {
        return Err(DecodeError::new(
            "RecordBatch.batchLength",
            8,
            DecodeErrorKind::Invalid("batchLength is smaller than the record batch header"),
        ));
    }
    Ok(())
}

/// Checks that a length field (bytes after offset and length) matches the
/// `total` bytes given for one entry.
pub(crate) fn check_exact_length(
    field: &'static str,
    length: i32,
    total: usize,
) -> Result<(), DecodeError> {
    // `total` is at least a header long, so this cannot underflow.
    let available = total - LOG_OVERHEAD;
    let length = i64::from(length);
    let kind = match length.cmp(&(available as i64)) {
        std::cmp::Ordering::Equal => return Ok(()),
        std::cmp::Ordering::Greater => DecodeErrorKind::LengthOutOfBounds { length, available },
        std::cmp::Ordering::Less => {
            DecodeErrorKind::Invalid("bytes follow the entry; split a blob with Entries")
        }
    };
    Err(DecodeError::new(field, 8, kind))
}

impl fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The records can be megabytes: show the header only.
        f.debug_struct("RecordBatch")
            .field("len", &self.bytes.len())
            .field("header", &self.header)
            .finish()
    }
}

/// A [`RecordBatch`] whose CRC has been checked.
///
/// Rewriting ([`VerifiedBatch::rewrite`]) updates the CRC from the old one
/// without reading the records again, which is only correct when the old CRC
/// was right; this type records that it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBatch(RecordBatch);

impl VerifiedBatch {
    /// Wraps a batch whose CRC the caller has just checked.
    pub(super) fn checked(batch: RecordBatch) -> Self {
        Self(batch)
    }

    /// The underlying batch.
    pub fn batch(&self) -> &RecordBatch {
        &self.0
    }

    /// Gives back the underlying batch.
    pub fn into_batch(self) -> RecordBatch {
        self.0
    }
}

impl Deref for VerifiedBatch {
    type Target = RecordBatch;

    fn deref(&self) -> &RecordBatch {
        &self.0
    }
}

impl TryFrom<RecordBatch> for VerifiedBatch {
    type Error = CrcMismatch;

    fn try_from(batch: RecordBatch) -> Result<Self, CrcMismatch> {
        batch.verify()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> BatchHeader {
        BatchHeader {
            base_offset: 100,
            batch_length: MIN_BATCH_LENGTH,
            partition_leader_epoch: 3,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: 0,
            base_timestamp: 1,
            max_timestamp: 1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: 0,
        }
    }

    fn with_crc(mut h: BatchHeader) -> Bytes {
        let raw = h.to_bytes();
        h.crc = crc32c::crc32c(&raw[CRC_START..]);
        Bytes::copy_from_slice(&h.to_bytes())
    }

    #[test]
    fn header_round_trips() {
        let h = BatchHeader {
            attributes: 0x7b,
            producer_id: 42,
            ..header()
        };
        let raw = h.to_bytes();
        let (rest, back) = BatchHeader::parse(&raw).unwrap();
        assert!(rest.is_empty());
        assert_eq!(back, h);
    }

    #[test]
    fn empty_batch_is_valid_and_verifies() {
        let batch = RecordBatch::new(with_crc(header())).unwrap();
        assert_eq!(batch.len(), 61);
        assert_eq!(batch.next_offset(), 101);
        assert!(batch.records_section().is_empty());
        batch.verify_crc().unwrap();
    }

    #[test]
    fn rejects_short_wrong_magic_and_bad_length() {
        let err = RecordBatch::new(Bytes::from_static(&[0; 60])).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Truncated { .. }));

        let err = RecordBatch::new(with_crc(BatchHeader {
            magic: 1,
            ..header()
        }))
        .unwrap_err();
        assert_eq!(err.field, "RecordBatch.magic");

        let err = RecordBatch::new(with_crc(BatchHeader {
            batch_length: 50,
            ..header()
        }))
        .unwrap_err();
        assert_eq!(err.field, "RecordBatch.batchLength");

        let mut long = with_crc(header()).to_vec();
        long.push(0);
        let err = RecordBatch::new(long.into()).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Invalid(_)));

        let err = RecordBatch::new(with_crc(BatchHeader {
            batch_length: -1,
            ..header()
        }))
        .unwrap_err();
        assert_eq!(err.field, "RecordBatch.batchLength");
    }

    #[test]
    fn flipped_bit_fails_crc() {
        let mut raw = with_crc(header()).to_vec();
        raw[40] ^= 1;
        let batch = RecordBatch::new(Bytes::from(raw)).unwrap();
        let err = batch.verify().unwrap_err();
        assert_eq!(err.base_offset, 100);
        assert_ne!(err.stored, err.computed);
    }

    #[test]
    fn crc_ignores_offset_and_epoch() {
        let a = with_crc(header());
        let b = with_crc(BatchHeader {
            base_offset: 7,
            partition_leader_epoch: 9,
            ..header()
        });
        // Same stored CRC (bytes 17..21) despite different offset and epoch.
        assert_eq!(a[17..CRC_START], b[17..CRC_START]);
    }
}
