//! Control records: transaction markers and other broker-written records
//! that occupy an offset but are never handed to applications.

use bytes::{BufMut, Bytes};

use super::batch::RecordBatch;
use crate::codec::Reader;
use crate::error::{DecodeError, DecodeErrorKind};

/// The type in a control record's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// Transaction aborted (type 0).
    Abort,
    /// Transaction committed (type 1).
    Commit,
    /// Any other type, such as the KRaft-internal types 2–6; ignore it.
    Other(i16),
}

impl ControlRecordType {
    /// Decodes a type id.
    pub fn from_id(id: i16) -> Self {
        match id {
            0 => Self::Abort,
            1 => Self::Commit,
            other => Self::Other(other),
        }
    }

    /// The type id on the wire.
    pub fn id(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::Other(id) => id,
        }
    }

    /// Whether this type ends a transaction (ABORT or COMMIT).
    pub fn is_transaction_marker(self) -> bool {
        matches!(self, Self::Abort | Self::Commit)
    }
}

/// The key of a control record: `int16 version, int16 type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Key schema version; 0 today.
    pub version: i16,
    /// What the record marks.
    pub kind: ControlRecordType,
}

impl ControlRecord {
    /// Encoded length of a version-0 key.
    pub const LEN: usize = 4;

    /// Parses a control record key. Bytes past the type (a newer version)
    /// are ignored; a negative version is corrupt.
    pub fn parse(key: &Bytes) -> Result<Self, DecodeError> {
        let mut c = Reader::new(key);
        let version = c.i16("ControlRecord.version")?;
        if version < 0 {
            return Err(DecodeError::new(
                "ControlRecord.version",
                0,
                DecodeErrorKind::Invalid("control record key version is negative"),
            ));
        }
        let kind = ControlRecordType::from_id(c.i16("ControlRecord.type")?);
        Ok(Self { version, kind })
    }

    /// Encodes the key.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(Self::LEN);
        out.put_i16(self.version);
        out.put_i16(self.kind.id());
        out.into()
    }
}

/// The value of an ABORT or COMMIT record: `int16 version, int32 coordinatorEpoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    /// Value schema version; 0 today.
    pub version: i16,
    /// Epoch of the transaction coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    /// Encoded length of a version-0 value.
    pub const LEN: usize = 6;

    /// Parses a marker value. Bytes past the epoch (a newer version) are
    /// ignored; a negative version is corrupt.
    pub fn parse(value: &Bytes) -> Result<Self, DecodeError> {
        let mut c = Reader::new(value);
        let version = c.i16("EndTxnMarker.version")?;
        if version < 0 {
            return Err(DecodeError::new(
                "EndTxnMarker.version",
                0,
                DecodeErrorKind::Invalid("transaction marker version is negative"),
            ));
        }
        let coordinator_epoch = c.i32("EndTxnMarker.coordinatorEpoch")?;
        Ok(Self {
            version,
            coordinator_epoch,
        })
    }

    /// Encodes the value.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(Self::LEN);
        out.put_i16(self.version);
        out.put_i32(self.coordinator_epoch);
        out.into()
    }
}

/// The control record of a control batch, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlMarker {
    /// Absolute offset of the control record.
    pub offset: i64,
    /// The record's key.
    pub record: ControlRecord,
    /// The marker value, for ABORT and COMMIT only.
    pub end_txn: Option<EndTxnMarker>,
}

impl ControlMarker {
    /// Decodes the first record of `batch` if it is a control batch.
    pub(crate) fn from_batch(batch: &RecordBatch) -> Result<Option<Self>, DecodeError> {
        if !batch.is_control() {
            return Ok(None);
        }
        let Some(first) = batch.records().next() else {
            return Err(DecodeError::new(
                "RecordBatch.recordsCount",
                57,
                DecodeErrorKind::Invalid("control batch holds no record"),
            ));
        };
        let first = first?;
        let Some(key) = &first.key else {
            return Err(DecodeError::new(
                "ControlRecord",
                RecordBatch::HEADER_LEN,
                DecodeErrorKind::Invalid("control record key is null"),
            ));
        };
        let record = ControlRecord::parse(key).map_err(|e| at_slice(e, batch, key))?;
        let end_txn = if record.kind.is_transaction_marker() {
            let Some(value) = &first.value else {
                return Err(DecodeError::new(
                    "EndTxnMarker",
                    RecordBatch::HEADER_LEN,
                    DecodeErrorKind::Invalid("transaction marker value is null"),
                ));
            };
            Some(EndTxnMarker::parse(value).map_err(|e| at_slice(e, batch, value))?)
        } else {
            None
        };
        Ok(Some(ControlMarker {
            offset: first.offset(batch),
            record,
            end_txn,
        }))
    }
}

/// Moves an error's offset from the start of `part` (a zero-copy slice of
/// the batch) to the start of the batch.
fn at_slice(mut err: DecodeError, batch: &RecordBatch, part: &Bytes) -> DecodeError {
    let base = batch.as_bytes().as_ptr() as usize;
    let start = (part.as_ptr() as usize)
        .checked_sub(base)
        .filter(|&at| at <= batch.len())
        // An empty slice need not point into the batch; blame the records.
        .unwrap_or(RecordBatch::HEADER_LEN);
    err.offset = err.offset.saturating_add(start);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_round_trip() {
        for kind in [
            ControlRecordType::Abort,
            ControlRecordType::Commit,
            ControlRecordType::Other(5),
        ] {
            let key = ControlRecord { version: 0, kind };
            assert_eq!(ControlRecord::parse(&key.to_bytes()), Ok(key));
        }
        let value = EndTxnMarker {
            version: 0,
            coordinator_epoch: 77,
        };
        assert_eq!(EndTxnMarker::parse(&value.to_bytes()), Ok(value));
    }

    #[test]
    fn short_or_negative_keys_fail() {
        assert!(ControlRecord::parse(&Bytes::from_static(&[0, 0, 1])).is_err());
        assert!(ControlRecord::parse(&Bytes::from_static(&[0xff, 0xff, 0, 1])).is_err());
        assert!(EndTxnMarker::parse(&Bytes::from_static(&[0, 0, 0, 0, 1])).is_err());
    }

    #[test]
    fn newer_versions_may_append_fields() {
        let key = ControlRecord::parse(&Bytes::from_static(&[0, 1, 0, 1, 9, 9])).unwrap();
        assert_eq!(key.version, 1);
        assert_eq!(key.kind, ControlRecordType::Commit);
    }
}
