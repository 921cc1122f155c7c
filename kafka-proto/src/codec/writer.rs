//! An encoder that writes small fields into one buffer and keeps large byte
//! fields (record data) as shared chunks, for vectored writes without copying.

use bytes::{BufMut, Bytes, BytesMut};

use super::varint;
use crate::error::EncodeError;
use crate::records::Records;
use crate::uuid::Uuid;

/// Writes Kafka primitives.
///
/// The output is a list of chunks whose concatenation is the encoding:
/// see [`Writer::into_chunks`] and [`Writer::into_bytes`]. Small fields go
/// into one growing buffer; large shared byte fields are remembered with
/// the position they go at and are sliced in when the chunks are made, so
/// encoding allocates little whatever the number of record sets.
#[derive(Debug, Default)]
pub struct Writer {
    cur: Vec<u8>,
    /// Large chunks to pass through, each with the length of `cur` where it goes.
    shared: Vec<(usize, Bytes)>,
    shared_len: usize,
    size_prefix: bool,
}

impl Writer {
    /// Byte fields at least this long are passed through as their own chunk
    /// rather than copied; smaller ones are cheaper to copy than to send as
    /// an extra iovec.
    pub const SHARE_THRESHOLD: usize = 512;

    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer whose output starts with a 4-byte size prefix, filled in by
    /// [`Writer::into_chunks`] with the length of everything after it.
    pub fn with_size_prefix() -> Self {
        // Enough for the headers and small fields of most requests, so
        // encoding does not grow the buffer piecemeal.
        Self::with_size_prefix_and_capacity(256)
    }

    /// Like [`Writer::with_size_prefix`], reserving `capacity` bytes for
    /// the small fields (shared chunks take no room there).
    pub fn with_size_prefix_and_capacity(capacity: usize) -> Self {
        let mut w = Self {
            size_prefix: true,
            cur: Vec::with_capacity(capacity.max(4)),
            ..Self::default()
        };
        w.cur.extend_from_slice(&[0; 4]);
        w
    }

    /// Makes room for `n` more shared chunks, when the caller knows how many.
    pub fn reserve_shared(&mut self, n: usize) {
        self.shared.reserve(n);
    }

    /// Total bytes written so far, including any size prefix.
    pub fn len(&self) -> usize {
        self.cur.len() + self.shared_len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends raw bytes by copying.
    pub fn put_slice(&mut self, b: &[u8]) {
        self.cur.extend_from_slice(b);
    }

    /// Appends shared bytes: large ones become their own chunk, untouched.
    pub fn put_shared(&mut self, b: &Bytes) {
        if b.len() < Self::SHARE_THRESHOLD {
            self.put_slice(b);
            return;
        }
        self.shared_len += b.len();
        self.shared.push((self.cur.len(), b.clone()));
    }

    /// Writes an `int8`.
    pub fn i8(&mut self, v: i8) {
        self.cur.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes an `int16`.
    pub fn i16(&mut self, v: i16) {
        self.cur.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes an `int32`.
    pub fn i32(&mut self, v: i32) {
        self.cur.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes an `int64`.
    pub fn i64(&mut self, v: i64) {
        self.cur.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a `uint16`.
    pub fn u16(&mut self, v: u16) {
        self.cur.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a `uint32`.
    pub fn u32(&mut self, v: u32) {
        self.cur.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a `float64`.
    pub fn f64(&mut self, v: f64) {
        self.cur.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a `bool`.
    pub fn bool(&mut self, v: bool) {
        self.i8(v as i8);
    }

    /// Writes a `uuid`.
    pub fn uuid(&mut self, v: &Uuid) {
        self.put_slice(v.as_bytes());
    }

    /// Writes an `UNSIGNED_VARINT`.
    pub fn unsigned_varint(&mut self, v: u32) {
        varint::put_unsigned_varint(&mut self.cur, v);
    }

    /// Writes a zigzag `VARINT`.
    pub fn varint(&mut self, v: i32) {
        varint::put_varint(&mut self.cur, v);
    }

    /// Writes a zigzag `VARLONG`.
    pub fn varlong(&mut self, v: i64) {
        varint::put_varlong(&mut self.cur, v);
    }

    /// Writes a length or count prefix; `None` is null.
    fn length(
        &mut self,
        field: &'static str,
        len: Option<usize>,
        compact: bool,
        wide: bool,
    ) -> Result<(), EncodeError> {
        let max = match (compact, wide) {
            (true, _) => u32::MAX as usize - 1,
            (false, true) => i32::MAX as usize,
            (false, false) => i16::MAX as usize,
        };
        match len {
            Some(n) if n > max => Err(EncodeError::TooLong {
                field,
                length: n,
                max,
            }),
            Some(n) if compact => {
                self.unsigned_varint(n as u32 + 1);
                Ok(())
            }
            None if compact => {
                self.unsigned_varint(0);
                Ok(())
            }
            Some(n) if wide => {
                self.i32(n as i32);
                Ok(())
            }
            Some(n) => {
                self.i16(n as i16);
                Ok(())
            }
            None if wide => {
                self.i32(-1);
                Ok(())
            }
            None => {
                self.i16(-1);
                Ok(())
            }
        }
    }

    /// Writes a nullable string, `STRING` or `COMPACT_STRING`.
    pub fn nullable_string(
        &mut self,
        field: &'static str,
        v: Option<&str>,
        compact: bool,
    ) -> Result<(), EncodeError> {
        self.length(field, v.map(str::len), compact, false)?;
        if let Some(s) = v {
            self.put_slice(s.as_bytes());
        }
        Ok(())
    }

    /// Writes a non-null string.
    pub fn string(
        &mut self,
        field: &'static str,
        v: &str,
        compact: bool,
    ) -> Result<(), EncodeError> {
        self.nullable_string(field, Some(v), compact)
    }

    /// Writes nullable `BYTES` or `COMPACT_BYTES`.
    pub fn nullable_bytes(
        &mut self,
        field: &'static str,
        v: Option<&Bytes>,
        compact: bool,
    ) -> Result<(), EncodeError> {
        self.length(field, v.map(Bytes::len), compact, true)?;
        if let Some(b) = v {
            self.put_shared(b);
        }
        Ok(())
    }

    /// Writes non-null bytes.
    pub fn bytes(
        &mut self,
        field: &'static str,
        v: &Bytes,
        compact: bool,
    ) -> Result<(), EncodeError> {
        self.nullable_bytes(field, Some(v), compact)
    }

    /// Writes a nullable `records` field, passing each chunk through.
    pub fn nullable_records(
        &mut self,
        field: &'static str,
        v: Option<&Records>,
        compact: bool,
    ) -> Result<(), EncodeError> {
        self.length(field, v.map(Records::len), compact, true)?;
        if let Some(r) = v {
            for chunk in r.chunks() {
                self.put_shared(chunk);
            }
        }
        Ok(())
    }

    /// Writes a non-null `records` field.
    pub fn records(
        &mut self,
        field: &'static str,
        v: &Records,
        compact: bool,
    ) -> Result<(), EncodeError> {
        self.nullable_records(field, Some(v), compact)
    }

    /// Writes an array count; `None` is null.
    pub fn array_len(
        &mut self,
        field: &'static str,
        len: Option<usize>,
        compact: bool,
    ) -> Result<(), EncodeError> {
        self.length(field, len, compact, true)
    }

    /// Writes one tagged field: its tag, its size and the value `encode` writes.
    pub fn tagged_field(
        &mut self,
        tag: u32,
        encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        let mut inner = Writer::new();
        encode(&mut inner)?;
        let body = inner.into_bytes();
        self.unsigned_varint(tag);
        self.unsigned_varint(body.len() as u32);
        self.put_slice(&body);
        Ok(())
    }

    /// The output as chunks, with the size prefix filled in if there is one.
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        if self.size_prefix {
            let size = (self.len() - 4) as i32;
            self.cur[..4].copy_from_slice(&size.to_be_bytes());
        }
        let owned = Bytes::from(self.cur);
        if self.shared.is_empty() {
            return if owned.is_empty() {
                Vec::new()
            } else {
                vec![owned]
            };
        }
        let mut chunks = Vec::with_capacity(2 * self.shared.len() + 1);
        let mut done = 0;
        for (at, chunk) in self.shared {
            if at > done {
                chunks.push(owned.slice(done..at));
                done = at;
            }
            chunks.push(chunk);
        }
        if done < owned.len() {
            chunks.push(owned.slice(done..));
        }
        chunks
    }

    /// The output as one contiguous buffer; copies only when there are several chunks.
    pub fn into_bytes(self) -> Bytes {
        let len = self.len();
        let mut chunks = self.into_chunks();
        match chunks.len() {
            0 => Bytes::new(),
            1 => chunks.pop().unwrap_or_default(),
            _ => {
                let mut out = BytesMut::with_capacity(len);
                for c in &chunks {
                    out.put_slice(c);
                }
                out.freeze()
            }
        }
    }
}
