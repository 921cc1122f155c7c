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

/// For each `positions[i]` and byte value `v`: the CRC-32C, zero initial
/// value and no final xor, of a `window`-byte message that is all zeros but
/// `v` at `positions[i]`. The CRC is linear in the message, so the CRC of
/// the difference of two windows that differ only at these positions is
/// the xor of one entry per position: a few loads instead of a pass.
pub(crate) const fn single_byte_crcs<const N: usize>(
    positions: [usize; N],
    window: usize,
) -> [[u32; 256]; N] {
    let mut table = [[0u32; 256]; N];
    let mut i = 0;
    while i < N {
        let mut v = 0;
        while v < 256 {
            let mut crc = v as u32;
            // The byte itself, then the zeros after it: 8 bit steps each.
            let mut steps = 8 * (window - positions[i]);
            while steps > 0 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
                steps -= 1;
            }
            table[i][v] = crc;
            v += 1;
        }
        i += 1;
    }
    table
}

/// `x^4 * n mod P` for the nibble `n` that multiplying by `x^4` shifts out
/// of the low end of a reflected value.
const REDUCE4: [u32; 16] = {
    let mut table = [0u32; 16];
    let mut n = 0;
    while n < 16 {
        let mut v = n as u32;
        let mut i = 0;
        while i < 4 {
            v = if v & 1 != 0 { (v >> 1) ^ POLY } else { v >> 1 };
            i += 1;
        }
        table[n] = v;
        n += 1;
    }
    table
};

/// `v * x mod P`, branch-free.
fn times_x(v: u32) -> u32 {
    (v >> 1) ^ (POLY & 0u32.wrapping_sub(v & 1))
}

/// `a * b mod P` at run time, four bits of `a` per step: the same product
/// as [`mul`], in about a quarter of the instructions and with no
/// data-dependent branches (those mispredict on CRC values).
fn mul_fast(a: u32, b: u32) -> u32 {
    // multiples[n] = n * b, with bit 3 of n the x^0 coefficient.
    let mut multiples = [0u32; 16];
    multiples[8] = b;
    multiples[4] = times_x(b);
    multiples[2] = times_x(multiples[4]);
    multiples[1] = times_x(multiples[2]);
    for n in [3usize, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15] {
        let low = n & n.wrapping_neg();
        multiples[n] = multiples[low] ^ multiples[n ^ low];
    }
    // Horner over a's nibbles, highest powers of x first.
    let mut acc = multiples[(a & 0xf) as usize];
    let mut shift = 4;
    while shift < 32 {
        acc = (acc >> 4) ^ REDUCE4[(acc & 0xf) as usize] ^ multiples[((a >> shift) & 0xf) as usize];
        shift += 4;
    }
    acc
}

/// The CRC-32C difference `d` of two equal-length prefixes, carried through
/// `len` more bytes that both share: `crc(A || T) ^ crc(B || T)` given
/// `d = crc(A) ^ crc(B)`. The shared bytes cancel, so they are never read.
///
/// `len` is below 2^31, as every batch length is (it is an `int32`).
pub(crate) fn shift_difference(mut d: u32, len: u32) -> u32 {
    for (k, digits) in ZEROS.iter().enumerate() {
        let digit = ((len >> (8 * k)) & 0xff) as usize;
        if digit != 0 {
            d = mul_fast(digits[digit], d);
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
        fn single_byte_tables_give_the_crc_of_a_sparse_window(
            window in proptest::collection::vec(any::<u8>(), 40),
        ) {
            const AT: [usize; 5] = [0, 1, 17, 38, 39];
            const TABLE: [[u32; 256]; 5] = single_byte_crcs(AT, 40);
            let mut sparse = [0u8; 40];
            let mut expected = 0;
            for (i, &at) in AT.iter().enumerate() {
                sparse[at] = window[at];
                expected ^= TABLE[i][window[at] as usize];
            }
            // Zero initial value, no final xor.
            prop_assert_eq!(!crc32c::crc32c_append(u32::MAX, &sparse), expected);
        }

        #[test]
        fn fast_product_agrees_with_the_bitwise_one(a in any::<u32>(), b in any::<u32>()) {
            prop_assert_eq!(mul_fast(a, b), mul(a, b));
        }

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
