//! Appending zeros to a CRC-32C without reading them, for the batch rewrite.
//!
//! In GF(2), appending `n` zero bytes to a message multiplies its (raw)
//! CRC by `x^(8n)` modulo the Castagnoli polynomial. `x^(2^k) mod P` for
//! every `k < 32` is computed at compile time, so `x^(8n)` takes one
//! multiplication per set bit of `n`, each 32 shift-and-xor steps: a few
//! hundred instructions for any batch size. (The `crc32c` crate's own
//! combine squares 32x32 bit matrices instead, about 300 times slower,
//! which made it the forward path's bottleneck.)

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

/// `X2N[k] = x^(2^k) mod P`.
const X2N: [u32; 32] = {
    let mut table = [0u32; 32];
    // x^1, reflected.
    table[0] = 1 << 30;
    let mut k = 1;
    while k < 32 {
        table[k] = mul(table[k - 1], table[k - 1]);
        k += 1;
    }
    table
};

/// `x^(8 * len) mod P`: the operator that appends `len` zero bytes.
fn zeros_operator(len: usize) -> u32 {
    let mut p = 1u32 << 31; // x^0
                            // 8 * len = len << 3, so bit i of len is bit i + 3 of the exponent.
    let mut k = 3;
    let mut n = len as u64;
    while n != 0 {
        if n & 1 != 0 {
            p = mul(X2N[k % 32], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// The CRC-32C difference `d` of two equal-length prefixes, carried through
/// `len` more bytes that both share: `crc(A || T) ^ crc(B || T)` given
/// `d = crc(A) ^ crc(B)`. The shared bytes cancel, so they are never read.
pub(crate) fn shift_difference(d: u32, len: usize) -> u32 {
    mul(zeros_operator(len), d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_the_crc32c_crate(a in any::<u32>(), len in 0usize..100_000) {
            prop_assert_eq!(shift_difference(a, len), crc32c::crc32c_combine(a, 0, len));
        }

        #[test]
        fn carries_a_difference_through_shared_bytes(
            a in proptest::collection::vec(any::<u8>(), 40),
            b in proptest::collection::vec(any::<u8>(), 40),
            tail in proptest::collection::vec(any::<u8>(), 0..3000),
        ) {
            let whole = |h: &[u8]| crc32c::crc32c_append(crc32c::crc32c(h), &tail);
            let d = crc32c::crc32c(&a) ^ crc32c::crc32c(&b);
            prop_assert_eq!(whole(&a) ^ whole(&b), shift_difference(d, tail.len()));
        }
    }
}
