//! Legacy message-set entries (magic 0 and 1), recognised so that fetched
//! data from old log segments can be skipped or forwarded, never parsed as v2.

use std::fmt;

use bytes::Bytes;

use super::batch::{check_exact_length, CrcMismatch, TimestampType};
use super::compression::Compression;
use crate::codec::Reader;
use crate::error::{DecodeError, DecodeErrorKind};

/// Smallest `size` of a magic-0 entry: crc, magic, attributes, key and value lengths.
pub(crate) const MIN_SIZE_V0: i32 = 14;
/// Smallest `size` of a magic-1 entry: v0 plus the timestamp.
pub(crate) const MIN_SIZE_V1: i32 = 22;
/// First byte the legacy CRC covers: the magic byte.
const CRC_START: usize = 16;
const TIMESTAMP_TYPE_BIT: i8 = 0x08;

/// One magic-0 or magic-1 entry: a zero-copy view over exactly its bytes.
///
/// A compressed entry is a wrapper whose value holds an inner message set;
/// its offset is that of the last inner message. This crate does not
/// decompress it.
#[derive(Clone, PartialEq, Eq)]
pub struct LegacyEntry {
    bytes: Bytes,
    offset: i64,
    size: i32,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: Option<i64>,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

// An entry always has its header, so `is_empty` would always be false.
#[allow(clippy::len_without_is_empty)]
impl LegacyEntry {
    /// Validates `bytes` as exactly one legacy entry. Error offsets count from
    /// the start of `bytes`.
    ///
    /// A negative key or value length is null, as in the Java client; bytes
    /// after the value are tolerated.
    pub fn new(bytes: Bytes) -> Result<Self, DecodeError> {
        let mut c = Reader::new(&bytes);
        let offset = c.i64("LegacyEntry.offset")?;
        let size = c.i32("LegacyEntry.size")?;
        let crc = c.u32("LegacyEntry.crc")?;
        let magic = c.i8("LegacyEntry.magic")?;
        check_size(magic, size)?;
        check_exact_length("LegacyEntry.size", size, bytes.len())?;
        let attributes = c.i8("LegacyEntry.attributes")?;
        let timestamp = if magic == 1 {
            Some(c.i64("LegacyEntry.timestamp")?)
        } else {
            None
        };
        let key = c.i32_bytes("LegacyEntry.key")?;
        let value = c.i32_bytes("LegacyEntry.value")?;
        Ok(Self {
            bytes,
            offset,
            size,
            crc,
            magic,
            attributes,
            timestamp,
            key,
            value,
        })
    }

    /// Offset of the message (of the last inner message, for a wrapper).
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Bytes after the size field.
    pub fn size(&self) -> i32 {
        self.size
    }

    /// The stored CRC-32 (IEEE), over the magic byte to the end.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// Format version: 0 or 1.
    pub fn magic(&self) -> i8 {
        self.magic
    }

    /// Raw attribute bits.
    pub fn attributes(&self) -> i8 {
        self.attributes
    }

    /// Compression codec (attribute bits 0–2).
    pub fn compression(&self) -> Compression {
        Compression::from_attributes(i16::from(self.attributes))
    }

    /// Timestamp type (attribute bit 3); `None` for magic 0, which has no timestamps.
    pub fn timestamp_type(&self) -> Option<TimestampType> {
        self.timestamp.map(|_| {
            if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            }
        })
    }

    /// Timestamp (magic 1 only).
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// Key; `None` when null. A zero-copy slice of the entry.
    pub fn key(&self) -> Option<&Bytes> {
        self.key.as_ref()
    }

    /// Value (a compressed inner message set, for a wrapper); `None` when null.
    pub fn value(&self) -> Option<&Bytes> {
        self.value.as_ref()
    }

    /// Last offset this entry covers.
    pub fn last_offset(&self) -> i64 {
        self.offset
    }

    /// The offset after this entry.
    pub fn next_offset(&self) -> i64 {
        self.offset.wrapping_add(1)
    }

    /// Size of the whole entry in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The entry exactly as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Gives back the entry's bytes.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// CRC-32 (IEEE) of the magic byte to the end, as the entry should store it.
    pub fn compute_crc(&self) -> u32 {
        crc32_ieee(&self.bytes[CRC_START..])
    }

    /// Checks the stored CRC against the bytes.
    pub fn verify_crc(&self) -> Result<(), CrcMismatch> {
        let computed = self.compute_crc();
        if computed == self.crc {
            Ok(())
        } else {
            Err(CrcMismatch {
                base_offset: self.offset,
                stored: self.crc,
                computed,
            })
        }
    }
}

impl fmt::Debug for LegacyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyEntry")
            .field("offset", &self.offset)
            .field("size", &self.size)
            .field("magic", &self.magic)
            .field("attributes", &self.attributes)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// Rejects a `size` below the fixed fields of `magic`'s format.
pub(crate) fn check_size(magic: i8, size: i32) -> Result<(), DecodeError> {
    let min = match magic {
        0 => MIN_SIZE_V0,
        1 => MIN_SIZE_V1,
        _ => {
            return Err(DecodeError::new(
                "LegacyEntry.magic",
                16,
                DecodeErrorKind::Invalid("legacy entry magic is not 0 or 1"),
            ))
        }
    };
    if size < min {
        return Err(DecodeError::new(
            "LegacyEntry.size",
            8,
            DecodeErrorKind::Invalid("legacy entry size is smaller than its fixed fields"),
        ));
    }
    Ok(())
}

/// Table for the reflected CRC-32 (IEEE 802.3) polynomial, built at compile time.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE), the checksum of legacy entries. Legacy data is rare, so a
/// byte-at-a-time table is fast enough and saves a dependency.
pub(crate) fn crc32_ieee(data: &[u8]) -> u32 {
    let crc = data.iter().fold(!0u32, |c, &b| {
        CRC32_TABLE[usize::from((c as u8) ^ b)] ^ (c >> 8)
    });
    !crc
}

/// One legacy message as a broker stores it, CRC included (`timestamp` is
/// written for magic 1 only); for tests here and in the up-converter's.
#[cfg(test)]
pub(crate) fn test_message(
    magic: i8,
    offset: i64,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    use bytes::BufMut;
    let mut body = Vec::new();
    body.put_i8(magic);
    body.put_i8(attributes);
    if magic == 1 {
        body.put_i64(timestamp);
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
    let mut out = Vec::new();
    out.put_i64(offset);
    out.put_i32(body.len() as i32 + 4);
    out.put_u32(crc32_ieee(&body));
    out.put_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32_ieee(b"123456789"), 0xcbf4_3926);
    }

    fn entry(magic: i8, key: Option<&[u8]>, value: Option<&[u8]>) -> Bytes {
        test_message(magic, 9, 0, 1_000, key, value).into()
    }

    #[test]
    fn parses_both_magics() {
        let v0 = LegacyEntry::new(entry(0, None, Some(b"hello"))).unwrap();
        assert_eq!((v0.magic(), v0.offset(), v0.timestamp()), (0, 9, None));
        assert_eq!(v0.key(), None);
        assert_eq!(v0.value().map(|v| &v[..]), Some(&b"hello"[..]));
        v0.verify_crc().unwrap();

        let v1 = LegacyEntry::new(entry(1, Some(b"k"), None)).unwrap();
        assert_eq!(v1.timestamp(), Some(1_000));
        assert_eq!(v1.timestamp_type(), Some(TimestampType::CreateTime));
        assert_eq!(v1.size(), 22 + 1);
        v1.verify_crc().unwrap();
    }

    #[test]
    fn rejects_bad_sizes_and_lengths() {
        let mut raw = entry(1, None, None).to_vec();
        raw[11] = 13;
        assert_eq!(
            LegacyEntry::new(raw.into()).unwrap_err().field,
            "LegacyEntry.size"
        );
        let mut raw = entry(0, Some(b"k"), None).to_vec();
        raw[21] = 50; // key length larger than the entry
        assert_eq!(
            LegacyEntry::new(raw.into()).unwrap_err().field,
            "LegacyEntry.key"
        );
    }
}
