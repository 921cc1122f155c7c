//! Appending zeros to a CRC-32C without reading them, for the batch rewrite.
//!
//! In GF(2), appending `n` zero bytes to a message multiplies its (raw)
//! CRC by `x^(8n)` modulo the Castagnoli polynomial. Tables of those
//! operators per base-256 digit of `n` are computed at compile time, so a
//! shift is one 32-step multiplication per non-zero digit: a few hundred
//! instructions for any batch size. (The `crc32c` crate's combine squares
//! 32x32 bit matrices instead, about 300 times slower, which made it the
//! forward path's bottleneck.)

/// CRC-32C polynomial, bit-reflected.
const POLY: u32 = 0x82f6_3b78;

/// `a * b mod P`, both bit-reflected (bit 31 is `x^0`).
const fn mul(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    let mut m = 1u32 << 31;
    while m != 0 {
        if a & m != 0 {
            product ^= b;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        m >>= 1;
    }
    product
}

/// `x^(8 * j * 256^k) mod P` for every byte digit `j` of a length and
/// digit position `k < 4`: appending `len` zeros is then one multiplication
/// per non-zero base-256 digit of `len` (two for any batch under 64 KiB).
/// 4 KiB, computed at compile time.
const ZEROS: [[u32; 256]; 4] = {
    let mut table = [[0u32; 256]; 4];
    // x^8: one zero byte, reflected.
    let mut unit = 1u32 << 23;
    let mut k = 0;
    while k < 4 {
        table[k][0] = 1 << 31; // x^0
        let mut j = 1;
        while j < 256 {
            table[k][j] = mul(table[k][j - 1], unit);
            j += 1;
        }
        // The next digit's unit: x^(8 * 256^(k+1)).
        unit = mul(table[k][255], unit);
        k += 1;
    }
    table
};

/// The CRC-32C difference `d` of two equal-length prefixes, carried through
/// `len` more bytes that both share: `crc(A || T) ^ crc(B || T)` given
/// `d = crc(A) ^ crc(B)`. The shared bytes cancel, so they are never read.
///
/// `len` is below 2^31, as every batch length is (it is an `int32`).
pub(crate) fn shift_difference(mut d: u32, len: u32) -> u32 {
    for (k, digits) in ZEROS.iter().enumerate() {
        let digit = ((len >> (8 * k)) & 0xff) as usize;
        if digit != 0 {
            d = mul(digits[digit], d);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_the_crc32c_crate(a in any::<u32>(), len in prop_oneof![0u32..100_000, 0u32..(1 << 31)]) {
            prop_assert_eq!(shift_difference(a, len), crc32c::crc32c_combine(a, 0, len as usize));
        }

        #[test]
        fn carries_a_difference_through_shared_bytes(
            a in proptest::collection::vec(any::<u8>(), 40),
            b in proptest::collection::vec(any::<u8>(), 40),
            tail in proptest::collection::vec(any::<u8>(), 0..3000),
        ) {
            let whole = |h: &[u8]| crc32c::crc32c_append(crc32c::crc32c(h), &tail);
            let d = crc32c::crc32c(&a) ^ crc32c::crc32c(&b);
            prop_assert_eq!(whole(&a) ^ whole(&b), shift_difference(d, tail.len() as u32));
        }
    }
}
