//! A position-tracking reader over `Bytes`, built on `nom` parsers.

use bytes::Bytes;
use nom::error::{Error as NomError, ErrorKind};
use nom::number::complete as num;
use nom::IResult;

use super::varint;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::records::Records;
use crate::uuid::Uuid;

/// How many elements an array decoder reserves up front, whatever the count
/// on the wire claims. Larger arrays grow as their elements are decoded, so
/// memory follows the bytes actually present.
const MAX_PREALLOC: usize = 256;

/// Reads Kafka primitives from a `Bytes` buffer.
///
/// Byte fields come out as zero-copy slices of the buffer. Every length and
/// count is checked against the bytes that remain before anything is
/// allocated, and every error names the field and its absolute offset.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the whole of `buf`.
    pub fn new(buf: &'a Bytes) -> Self {
        Self::at(buf, 0)
    }

    /// A reader over `buf[pos..]`, reporting offsets from the start of
    /// `buf`; a `pos` past the end reads nothing.
    pub fn at(buf: &'a Bytes, pos: usize) -> Self {
        let end = buf.len();
        Self {
            buf,
            pos: pos.min(end),
            end,
        }
    }

    /// Offset of the next byte, from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left before the end of this reader.
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    fn truncated(&self, field: &'static str, expected: &'static str) -> DecodeError {
        DecodeError::new(
            field,
            self.pos,
            DecodeErrorKind::Truncated {
                expected,
                available: self.remaining(),
            },
        )
    }

    /// A length or count read at `at` that the remaining bytes cannot hold.
    fn out_of_bounds(&self, field: &'static str, at: usize, length: i64) -> DecodeError {
        DecodeError::new(
            field,
            at,
            DecodeErrorKind::LengthOutOfBounds {
                length,
                available: self.remaining(),
            },
        )
    }

    /// Runs a `nom` parser on the unread bytes and advances past what it consumed.
    pub fn parse<T>(
        &mut self,
        field: &'static str,
        expected: &'static str,
        parser: impl FnOnce(&[u8]) -> IResult<&[u8], T>,
    ) -> Result<T, DecodeError> {
        let input = &self.buf[self.pos..self.end];
        match parser(input) {
            Ok((rest, value)) => {
                self.pos = self.end - rest.len();
                Ok(value)
            }
            Err(nom::Err::Error(NomError {
                code: ErrorKind::TooLarge,
                ..
            }))
            | Err(nom::Err::Failure(NomError {
                code: ErrorKind::TooLarge,
                ..
            })) => Err(DecodeError::new(
                field,
                self.pos,
                DecodeErrorKind::VarintTooLong(varint::max_len(expected)),
            )),
            Err(_) => Err(self.truncated(field, expected)),
        }
    }

    /// Takes the next `len` bytes as a zero-copy slice.
    pub fn take(&mut self, field: &'static str, len: usize) -> Result<Bytes, DecodeError> {
        if len > self.remaining() {
            return Err(self.out_of_bounds(field, self.pos, len as i64));
        }
        let out = self.buf.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(out)
    }

    /// Splits off a reader over the next `len` bytes, keeping absolute offsets.
    pub fn sub(&mut self, field: &'static str, len: usize) -> Result<Reader<'a>, DecodeError> {
        if len > self.remaining() {
            return Err(self.out_of_bounds(field, self.pos, len as i64));
        }
        let sub = Reader {
            buf: self.buf,
            pos: self.pos,
            end: self.pos + len,
        };
        self.pos += len;
        Ok(sub)
    }

    /// Reads an `int8`.
    pub fn i8(&mut self, field: &'static str) -> Result<i8, DecodeError> {
        self.parse(field, "int8", |i| num::be_i8(i))
    }

    /// Reads an `int16`.
    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        self.parse(field, "int16", |i| num::be_i16(i))
    }

    /// Reads an `int32`.
    pub fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.parse(field, "int32", |i| num::be_i32(i))
    }

    /// Reads an `int64`.
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        self.parse(field, "int64", |i| num::be_i64(i))
    }

    /// Reads a `uint16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.parse(field, "uint16", |i| num::be_u16(i))
    }

    /// Reads a `uint32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.parse(field, "uint32", |i| num::be_u32(i))
    }

    /// Reads a `float64`.
    pub fn f64(&mut self, field: &'static str) -> Result<f64, DecodeError> {
        self.parse(field, "float64", |i| num::be_f64(i))
    }

    /// Reads a `bool`: any non-zero byte is true, as in the Java client.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        Ok(self.parse(field, "bool", |i| num::be_u8(i))? != 0)
    }

    /// Reads a 16-byte `uuid`.
    pub fn uuid(&mut self, field: &'static str) -> Result<Uuid, DecodeError> {
        let raw = self.parse(field, "uuid", |i| num::be_u128(i))?;
        Ok(Uuid::from_bytes(raw.to_be_bytes()))
    }

    /// Reads an `UNSIGNED_VARINT`.
    pub fn unsigned_varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.parse(field, varint::UVARINT, varint::unsigned_varint)
    }

    /// Reads a zigzag `VARINT`.
    pub fn varint(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.parse(field, varint::VARINT, varint::varint)
    }

    /// Reads a zigzag `VARLONG`.
    pub fn varlong(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        self.parse(field, varint::VARLONG, varint::varlong)
    }

    /// Reads a length or count prefix: `int16`/`int32` in classic encodings,
    /// `UNSIGNED_VARINT` of N+1 in compact ones. `None` is null.
    fn length(
        &mut self,
        field: &'static str,
        compact: bool,
        wide: bool,
    ) -> Result<Option<usize>, DecodeError> {
        let start = self.pos;
        let raw: i64 = if compact {
            i64::from(self.unsigned_varint(field)?) - 1
        } else if wide {
            i64::from(self.i32(field)?)
        } else {
            i64::from(self.i16(field)?)
        };
        match raw {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::new(
                field,
                start,
                DecodeErrorKind::InvalidLength(n),
            )),
            n => Ok(Some(n as usize)),
        }
    }

    fn length_within(
        &mut self,
        field: &'static str,
        compact: bool,
        wide: bool,
        unit: usize,
    ) -> Result<Option<usize>, DecodeError> {
        let start = self.pos;
        let len = self.length(field, compact, wide)?;
        if let Some(n) = len {
            // A count of elements each at least `unit` bytes long cannot exceed what is left.
            if n.saturating_mul(unit.max(1)) > self.remaining() {
                return Err(self.out_of_bounds(field, start, n as i64));
            }
        }
        Ok(len)
    }

    fn not_null<T>(
        &self,
        field: &'static str,
        start: usize,
        v: Option<T>,
    ) -> Result<T, DecodeError> {
        v.ok_or_else(|| DecodeError::new(field, start, DecodeErrorKind::UnexpectedNull))
    }

    /// Reads a nullable string, `STRING` or `COMPACT_STRING`.
    pub fn nullable_string(
        &mut self,
        field: &'static str,
        compact: bool,
    ) -> Result<Option<String>, DecodeError> {
        let Some(len) = self.length_within(field, compact, false, 1)? else {
            return Ok(None);
        };
        let start = self.pos;
        let raw = &self.buf[self.pos..self.pos + len];
        let s = std::str::from_utf8(raw)
            .map_err(|_| DecodeError::new(field, start, DecodeErrorKind::InvalidUtf8))?
            .to_owned();
        self.pos += len;
        Ok(Some(s))
    }

    /// Reads a non-null string.
    pub fn string(&mut self, field: &'static str, compact: bool) -> Result<String, DecodeError> {
        let start = self.pos;
        let v = self.nullable_string(field, compact)?;
        self.not_null(field, start, v)
    }

    /// Reads nullable `BYTES` or `COMPACT_BYTES` as a zero-copy slice.
    pub fn nullable_bytes(
        &mut self,
        field: &'static str,
        compact: bool,
    ) -> Result<Option<Bytes>, DecodeError> {
        match self.length_within(field, compact, true, 1)? {
            None => Ok(None),
            Some(len) => self.take(field, len).map(Some),
        }
    }

    /// Reads non-null bytes.
    pub fn bytes(&mut self, field: &'static str, compact: bool) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        let v = self.nullable_bytes(field, compact)?;
        self.not_null(field, start, v)
    }

    /// Reads a nullable `records` field as a zero-copy [`Records`].
    pub fn nullable_records(
        &mut self,
        field: &'static str,
        compact: bool,
    ) -> Result<Option<Records>, DecodeError> {
        Ok(self.nullable_bytes(field, compact)?.map(Records::from))
    }

    /// Reads a non-null `records` field.
    pub fn records(&mut self, field: &'static str, compact: bool) -> Result<Records, DecodeError> {
        Ok(Records::from(self.bytes(field, compact)?))
    }

    /// Reads an array count, checked so that `count * min_element_size`
    /// fits in the remaining bytes. `None` is a null array.
    pub fn array_len(
        &mut self,
        field: &'static str,
        compact: bool,
        min_element_size: usize,
    ) -> Result<Option<usize>, DecodeError> {
        self.length_within(field, compact, true, min_element_size)
    }

    /// Reads a non-null array with `element`, bounded as in [`Reader::array_len`].
    pub fn array<T>(
        &mut self,
        field: &'static str,
        compact: bool,
        min_element_size: usize,
        element: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let start = self.pos;
        let v = self.nullable_array(field, compact, min_element_size, element)?;
        self.not_null(field, start, v)
    }

    /// Reads a nullable array with `element`.
    pub fn nullable_array<T>(
        &mut self,
        field: &'static str,
        compact: bool,
        min_element_size: usize,
        mut element: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<T>>, DecodeError> {
        let Some(count) = self.array_len(field, compact, min_element_size)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(count.min(MAX_PREALLOC));
        for _ in 0..count {
            out.push(element(self)?);
        }
        Ok(Some(out))
    }

    /// Reads a tagged-field section, handing each `(tag, payload reader)` to
    /// `field` and checking that it consumed the payload exactly. `field`
    /// returns `false` for tags it does not know; those are kept in `unknown`.
    pub fn tagged_fields(
        &mut self,
        field: &'static str,
        unknown: &mut crate::tagged::UnknownTaggedFields,
        mut known: impl FnMut(u32, &mut Reader<'a>) -> Result<bool, DecodeError>,
    ) -> Result<(), DecodeError> {
        let start = self.pos;
        let count = self.unsigned_varint(field)? as usize;
        // Each tagged field takes at least two bytes: its tag and its size.
        if count.saturating_mul(2) > self.remaining() {
            return Err(self.out_of_bounds(field, start, count as i64));
        }
        for _ in 0..count {
            let tag = self.unsigned_varint(field)?;
            let size = self.unsigned_varint(field)? as usize;
            let mut payload = self.sub(field, size)?;
            if known(tag, &mut payload)? {
                if !payload.is_empty() {
                    return Err(DecodeError::new(
                        field,
                        payload.position(),
                        DecodeErrorKind::TaggedFieldSize {
                            tag,
                            declared: size,
                            used: size - payload.remaining(),
                        },
                    ));
                }
            } else {
                let rest = payload.remaining();
                unknown.push(tag, payload.take(field, rest)?);
            }
        }
        Ok(())
    }

    /// Reads a varint length, as record fields use, checked against the
    /// bytes that remain. Any negative length is null, as in the Java
    /// client's record reader.
    pub fn varint_len(&mut self, field: &'static str) -> Result<Option<usize>, DecodeError> {
        let at = self.pos;
        let len = self.varint(field)?;
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        if len > self.remaining() {
            return Err(self.out_of_bounds(field, at, len as i64));
        }
        Ok(Some(len))
    }

    /// Reads varint-length-prefixed bytes; a negative length is null.
    pub fn varint_bytes(&mut self, field: &'static str) -> Result<Option<Bytes>, DecodeError> {
        match self.varint_len(field)? {
            None => Ok(None),
            Some(len) => self.take(field, len).map(Some),
        }
    }

    /// Reads int32-length-prefixed bytes as legacy messages use; any
    /// negative length is null, as in the Java client's legacy reader.
    pub fn i32_bytes(&mut self, field: &'static str) -> Result<Option<Bytes>, DecodeError> {
        let at = self.pos;
        let len = self.i32(field)?;
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        if len > self.remaining() {
            return Err(self.out_of_bounds(field, at, len as i64));
        }
        self.take(field, len).map(Some)
    }

    /// Reads a varint count of items each at least `min_item` bytes long,
    /// rejecting negative counts and counts the remaining bytes cannot hold,
    /// so callers may size buffers from it.
    pub fn varint_count(
        &mut self,
        field: &'static str,
        min_item: usize,
    ) -> Result<usize, DecodeError> {
        let at = self.pos;
        let count = self.varint(field)?;
        let Ok(n) = usize::try_from(count) else {
            return Err(DecodeError::new(
                field,
                at,
                DecodeErrorKind::InvalidLength(i64::from(count)),
            ));
        };
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(self.out_of_bounds(field, at, i64::from(count)));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_absolute_offsets() {
        let buf = Bytes::from_static(&[0, 0, 0, 1, 0xff]);
        let mut c = Reader::at(&buf, 2);
        let mut sub = c.sub("sub", 2).unwrap();
        assert_eq!(sub.i16("x").unwrap(), 1);
        let err = sub.i8("y").unwrap_err();
        assert_eq!(err.offset, 4);
        assert!(matches!(err.kind, DecodeErrorKind::Truncated { .. }));
        assert_eq!(c.position(), 4);
    }

    #[test]
    fn lengths_are_checked_before_use() {
        // varint 100 (zigzag 200), then one byte.
        let buf = Bytes::from_static(&[0xc8, 0x01, 7]);
        let err = Reader::new(&buf).varint_bytes("k").unwrap_err();
        assert!(matches!(
            err.kind,
            DecodeErrorKind::LengthOutOfBounds {
                length: 100,
                available: 1
            }
        ));
    }

    #[test]
    fn taken_bytes_share_the_buffer() {
        let buf = Bytes::from_static(b"\x04abc");
        let got = Reader::new(&buf).varint_bytes("k").unwrap().unwrap();
        assert_eq!(&got[..], b"ab");
        assert_eq!(got.as_ptr(), buf[1..].as_ptr());
    }

    #[test]
    fn negative_lengths_are_null_and_counts_are_bounded() {
        let buf = Bytes::from_static(&[0x03, 0x01]);
        let mut c = Reader::new(&buf);
        assert_eq!(c.varint_bytes("k").unwrap(), None);
        let err = c.varint_count("n", 2).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::InvalidLength(-1)));
    }
}
