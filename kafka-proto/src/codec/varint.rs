//! Kafka's variable-length integers: unsigned LEB128-style groups of 7 bits,
//! low group first, and zigzag for the signed kinds.

use bytes::BufMut;
use nom::error::{Error as NomError, ErrorKind};
use nom::IResult;

pub(crate) const UVARINT: &str = "unsigned varint";
pub(crate) const VARINT: &str = "varint";
pub(crate) const VARLONG: &str = "varlong";

/// Widest encoding of each kind, for error messages.
pub(crate) fn max_len(kind: &str) -> u8 {
    if kind == VARLONG {
        10
    } else {
        5
    }
}

fn raw(input: &[u8], max_bytes: usize) -> IResult<&[u8], u64> {
    let mut value = 0u64;
    for (i, &b) in input.iter().enumerate().take(max_bytes) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((&input[i + 1..], value));
        }
    }
    let code = if input.len() >= max_bytes {
        ErrorKind::TooLarge
    } else {
        ErrorKind::Eof
    };
    Err(nom::Err::Error(NomError::new(input, code)))
}

/// Parses an `UNSIGNED_VARINT` (at most 5 bytes; bits past 32 are dropped as in the Java client).
pub fn unsigned_varint(input: &[u8]) -> IResult<&[u8], u32> {
    raw(input, 5).map(|(rest, v)| (rest, v as u32))
}

/// Parses a zigzag `VARINT`.
pub fn varint(input: &[u8]) -> IResult<&[u8], i32> {
    unsigned_varint(input).map(|(rest, v)| (rest, ((v >> 1) as i32) ^ -((v & 1) as i32)))
}

/// Parses a zigzag `VARLONG` (at most 10 bytes).
pub fn varlong(input: &[u8]) -> IResult<&[u8], i64> {
    raw(input, 10).map(|(rest, v)| (rest, ((v >> 1) as i64) ^ -((v & 1) as i64)))
}

/// Writes an `UNSIGNED_VARINT`.
pub fn put_unsigned_varint(buf: &mut impl BufMut, v: u32) {
    put_raw(buf, u64::from(v));
}

/// Writes a zigzag `VARINT`.
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_unsigned_varint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes a zigzag `VARLONG`.
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_raw(buf, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_raw(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Bytes an `UNSIGNED_VARINT` of `v` occupies.
pub fn unsigned_varint_len(v: u32) -> usize {
    raw_len(u64::from(v))
}

/// Bytes a zigzag `VARINT` of `v` occupies.
pub fn varint_len(v: i32) -> usize {
    unsigned_varint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Bytes a zigzag `VARLONG` of `v` occupies.
pub fn varlong_len(v: i64) -> usize {
    raw_len(((v << 1) ^ (v >> 63)) as u64)
}

fn raw_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trip(v in any::<i32>()) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), varint_len(v));
            let (rest, back) = varint(&buf).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, v);
        }

        #[test]
        fn varlong_round_trip(v in any::<i64>()) {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            prop_assert_eq!(buf.len(), varlong_len(v));
            let (rest, back) = varlong(&buf).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, v);
        }

        #[test]
        fn unsigned_varint_round_trip(v in any::<u32>()) {
            let mut buf = Vec::new();
            put_unsigned_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), unsigned_varint_len(v));
            let (_, back) = unsigned_varint(&buf).unwrap();
            prop_assert_eq!(back, v);
        }
    }

    #[test]
    fn known_encodings() {
        // Values from the protocol guide's zigzag table.
        for (v, bytes) in [
            (0i32, &[0x00u8][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf, bytes, "varint {v}");
        }
    }

    #[test]
    fn overlong_varint_is_rejected_not_looped() {
        let input = [0xffu8; 12];
        assert!(matches!(
            unsigned_varint(&input),
            Err(nom::Err::Error(NomError {
                code: ErrorKind::TooLarge,
                ..
            }))
        ));
        assert!(matches!(
            varlong(&input),
            Err(nom::Err::Error(NomError {
                code: ErrorKind::TooLarge,
                ..
            }))
        ));
        assert!(matches!(
            unsigned_varint(&[0x80, 0x80]),
            Err(nom::Err::Error(NomError {
                code: ErrorKind::Eof,
                ..
            }))
        ));
    }
}
