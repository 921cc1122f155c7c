//! A record inside a magic-2 batch, and the lazy iterator over them.

use std::iter::FusedIterator;

use bytes::{BufMut, Bytes};

use super::batch::{RecordBatch, TimestampType};
use super::header::Header;
use crate::codec::varint::{put_varint, put_varlong, varint_len, varlong_len};
use crate::codec::Reader;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};

/// Fewest bytes a record occupies: a one-byte length, then attributes,
/// timestamp delta, offset delta, key length, value length and header count.
const MIN_RECORD_LEN: usize = 7;
/// Fewest bytes a header occupies: key length and value length.
const MIN_HEADER_LEN: usize = 2;
/// Headers reserved up front; more grow as they are parsed, so memory follows
/// the bytes present rather than the count on the wire.
const MAX_HEADER_PREALLOC: usize = 16;

/// One record. Key, value and header values are zero-copy slices of the batch.
///
/// Offsets and timestamps are stored relative to the batch; use
/// [`Record::offset`] and [`Record::timestamp`] for absolute values. The same
/// type is the input of [`RecordBatchBuilder::push`](super::RecordBatchBuilder::push).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Record {
    /// Unused attribute byte, 0 on the wire today.
    pub attributes: i8,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Key; `None` when null.
    pub key: Option<Bytes>,
    /// Value; `None` when null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
}

impl Record {
    /// Absolute offset of this record in `batch`.
    pub fn offset(&self, batch: &RecordBatch) -> i64 {
        batch
            .base_offset()
            .wrapping_add(i64::from(self.offset_delta))
    }

    /// Absolute timestamp of this record in `batch`: the batch's
    /// `maxTimestamp` under `LogAppendTime`, else base timestamp plus delta.
    pub fn timestamp(&self, batch: &RecordBatch) -> i64 {
        match batch.timestamp_type() {
            TimestampType::LogAppendTime => batch.max_timestamp(),
            TimestampType::CreateTime => batch.base_timestamp().wrapping_add(self.timestamp_delta),
        }
    }

    /// Parses one record (length prefix included) at the cursor.
    pub(crate) fn parse(cursor: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = cursor.position();
        let length = cursor.varint("Record.length")?;
        let Ok(length) = usize::try_from(length) else {
            return Err(DecodeError::new(
                "Record.length",
                at,
                DecodeErrorKind::InvalidLength(i64::from(length)),
            ));
        };
        if length > cursor.remaining() {
            return Err(DecodeError::new(
                "Record.length",
                at,
                DecodeErrorKind::LengthOutOfBounds {
                    length: length as i64,
                    available: cursor.remaining(),
                },
            ));
        }
        let mut body = cursor.sub("Record.length", length)?;
        let attributes = body.i8("Record.attributes")?;
        let timestamp_delta = body.varlong("Record.timestampDelta")?;
        let offset_delta = body.varint("Record.offsetDelta")?;
        let key = body.varint_bytes("Record.key")?;
        let value = body.varint_bytes("Record.value")?;
        let count = body.varint_count("Record.headersCount", MIN_HEADER_LEN)?;
        let mut headers = Vec::with_capacity(count.min(MAX_HEADER_PREALLOC));
        for _ in 0..count {
            headers.push(parse_header(&mut body)?);
        }
        if !body.is_empty() {
            return Err(DecodeError::new(
                "Record.length",
                body.position(),
                DecodeErrorKind::Invalid("record length runs past its last header"),
            ));
        }
        Ok(Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        })
    }

    /// Bytes of the record after its length prefix.
    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        let mut len = 1 + varlong_len(self.timestamp_delta) + varint_len(self.offset_delta);
        len = add(len, nullable_len("Record.key", self.key.as_ref())?)?;
        len = add(len, nullable_len("Record.value", self.value.as_ref())?)?;
        len = add(
            len,
            varint_len(wire_len("Record.headers", self.headers.len())?),
        )?;
        for header in &self.headers {
            len = add(len, nullable_len("Record.Header.key", Some(&header.key))?)?;
            len = add(
                len,
                nullable_len("Record.Header.value", header.value.as_ref())?,
            )?;
        }
        wire_len("Record", len)?;
        Ok(len)
    }

    /// Writes the record, length prefix included; returns the bytes written.
    pub(crate) fn write(&self, buf: &mut impl BufMut) -> Result<usize, EncodeError> {
        let body = self.body_len()?;
        let body_i32 = wire_len("Record", body)?;
        put_varint(buf, body_i32);
        buf.put_i8(self.attributes);
        put_varlong(buf, self.timestamp_delta);
        put_varint(buf, self.offset_delta);
        put_nullable(buf, self.key.as_ref());
        put_nullable(buf, self.value.as_ref());
        // Lengths were checked by `body_len`, so these casts cannot truncate.
        put_varint(buf, self.headers.len() as i32);
        for header in &self.headers {
            put_nullable(buf, Some(&header.key));
            put_nullable(buf, header.value.as_ref());
        }
        Ok(varint_len(body_i32) + body)
    }
}

fn parse_header(body: &mut Reader<'_>) -> Result<Header, DecodeError> {
    let at = body.position();
    let Some(key) = body.varint_bytes("Record.Header.key")? else {
        return Err(DecodeError::new(
            "Record.Header.key",
            at,
            DecodeErrorKind::Invalid("record header key is null"),
        ));
    };
    let value = body.varint_bytes("Record.Header.value")?;
    Ok(Header { key, value })
}

/// A length as the varint the wire stores, or an error past `i32::MAX`.
fn wire_len(field: &'static str, len: usize) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::TooLong {
        field,
        length: len,
        max: i32::MAX as usize,
    })
}

fn nullable_len(field: &'static str, data: Option<&Bytes>) -> Result<usize, EncodeError> {
    match data {
        None => Ok(varint_len(-1)),
        Some(d) => Ok(varint_len(wire_len(field, d.len())?) + d.len()),
    }
}

fn add(a: usize, b: usize) -> Result<usize, EncodeError> {
    a.checked_add(b).ok_or(EncodeError::TooLong {
        field: "Record",
        length: usize::MAX,
        max: i32::MAX as usize,
    })
}

fn put_nullable(buf: &mut impl BufMut, data: Option<&Bytes>) {
    match data {
        None => put_varint(buf, -1),
        Some(d) => {
            put_varint(buf, d.len() as i32);
            buf.put_slice(d);
        }
    }
}

/// Lazy iterator over the records of a batch: of an uncompressed batch as
/// stored, or of a compressed one's records once decompressed (see
/// [`RecordBatch::decompressed_records`]).
///
/// Yields each record or the first error, then stops. Errors: a compressed
/// batch given without its decompressed records, a negative record count or
/// one the records section cannot hold, a malformed record, fewer records
/// than declared, or bytes after the last one. Error offsets count from the
/// start of the batch, or of the decompressed records.
#[derive(Debug, Clone)]
pub struct RecordIter {
    batch: RecordBatch,
    /// The bytes records are read from: the batch itself, or the
    /// decompressed records section.
    data: Bytes,
    decompressed: bool,
    pos: usize,
    left: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Reading,
    Done,
}

impl RecordIter {
    pub(crate) fn new(batch: RecordBatch) -> Self {
        Self {
            data: batch.as_bytes().clone(),
            batch,
            decompressed: false,
            pos: RecordBatch::HEADER_LEN,
            left: 0,
            state: State::Start,
        }
    }

    /// Iterates `records`, the decompressed records section of `batch`.
    pub(crate) fn decompressed(batch: RecordBatch, records: Bytes) -> Self {
        Self {
            batch,
            data: records,
            decompressed: true,
            pos: 0,
            left: 0,
            state: State::Start,
        }
    }

    /// The batch being iterated, for [`Record::offset`] and [`Record::timestamp`].
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Checks what the header says before any record is read.
    fn start(&mut self) -> Result<(), DecodeError> {
        if !self.decompressed && !self.batch.compression().is_none() {
            return Err(DecodeError::new(
                "RecordBatch.attributes",
                21,
                DecodeErrorKind::Invalid(
                    "record batch is compressed; use RecordBatch::decompressed_records",
                ),
            ));
        }
        let count = self.batch.records_count();
        let Ok(n) = usize::try_from(count) else {
            return Err(DecodeError::new(
                "RecordBatch.recordsCount",
                57,
                DecodeErrorKind::InvalidLength(i64::from(count)),
            ));
        };
        let available = self.data.len() - self.pos;
        if n.saturating_mul(MIN_RECORD_LEN) > available {
            return Err(DecodeError::new(
                "RecordBatch.recordsCount",
                57,
                DecodeErrorKind::LengthOutOfBounds {
                    length: i64::from(count),
                    available,
                },
            ));
        }
        self.left = n;
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Record>, DecodeError> {
        if self.state == State::Start {
            self.start()?;
            self.state = State::Reading;
        }
        let mut cursor = Reader::at(&self.data, self.pos);
        if self.left == 0 {
            if !cursor.is_empty() {
                return Err(DecodeError::new(
                    "RecordBatch.records",
                    self.pos,
                    DecodeErrorKind::Invalid("bytes remain after the declared number of records"),
                ));
            }
            return Ok(None);
        }
        let record = Record::parse(&mut cursor)?;
        self.pos = cursor.position();
        self.left -= 1;
        Ok(Some(record))
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state == State::Done {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.state {
            State::Done => (0, Some(0)),
            // Before the header is checked the count is only a claim.
            State::Start => (0, None),
            // One more item may be the trailing-bytes error.
            State::Reading => (0, self.left.checked_add(1)),
        }
    }
}

impl FusedIterator for RecordIter {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &'static [u8]) -> Result<Record, DecodeError> {
        let buf = Bytes::from_static(bytes);
        Record::parse(&mut Reader::new(&buf))
    }

    #[test]
    fn parses_minimal_record() {
        // length 6, attrs 0, ts 0, off 0, key null, value null, 0 headers.
        let r = parse(&[12, 0, 0, 0, 1, 1, 0]).unwrap();
        assert_eq!(r, Record::default());
    }

    #[test]
    fn write_then_parse() {
        let rec = Record {
            attributes: 0,
            timestamp_delta: -5,
            offset_delta: 300,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: vec![
                Header::new("a", None),
                Header::new("b", Some(Bytes::from_static(b"xyz"))),
            ],
        };
        let mut buf = Vec::new();
        let n = rec.write(&mut buf).unwrap();
        assert_eq!(n, buf.len());
        let buf = Bytes::from(buf);
        let mut c = Reader::new(&buf);
        assert_eq!(Record::parse(&mut c).unwrap(), rec);
        assert!(c.is_empty());
    }

    #[test]
    fn rejects_null_header_key_and_slack() {
        // One header whose key length is -1.
        let err = parse(&[16, 0, 0, 0, 1, 1, 2, 1, 1]).unwrap_err();
        assert_eq!(err.field, "Record.Header.key");
        // Declared length 7 but the body ends after 6 bytes of fields.
        let err = parse(&[14, 0, 0, 0, 1, 1, 0, 9]).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Invalid(_)));
    }

    #[test]
    fn huge_header_count_is_rejected_up_front() {
        // headersCount = i32::MAX in a 10-byte record.
        let err = parse(&[20, 0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
        assert_eq!(err.field, "Record.headersCount");
        assert!(matches!(
            err.kind,
            DecodeErrorKind::LengthOutOfBounds { .. }
        ));
    }
}
