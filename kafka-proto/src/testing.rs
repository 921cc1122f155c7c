//! Random message values for property tests (feature `proptest`).
//!
//! Every generated struct implements [`Arbitrary`], producing values that
//! are valid for a given version: fields the version lacks stay at their
//! defaults, nulls appear only where the version allows them, and topics are
//! named or identified as the version requires. A value and a version in,
//! the same value back out of encode-then-decode.

use bytes::Bytes;
use proptest::strategy::Strategy;

use crate::records::Records;
use crate::uuid::Uuid;

/// A value that can be generated at random for a message version.
pub trait Arbitrary: Sized {
    /// A random value valid for `version`.
    fn arbitrary(g: &mut Gen, version: i16) -> Self;
}

/// A small deterministic generator (SplitMix64), seeded by proptest.
#[derive(Debug, Clone)]
pub struct Gen(u64);

impl Gen {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Gen(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Picks edge values often, since those are where codecs break.
    fn edgy(&mut self, edges: &[u64]) -> u64 {
        if self.below(4) == 0 {
            edges[self.below(edges.len() as u64) as usize]
        } else {
            self.next()
        }
    }

    /// A random `bool`.
    pub fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    /// A random `i8`.
    pub fn i8(&mut self) -> i8 {
        self.edgy(&[0, 1, 0x7f, 0x80, 0xff]) as i8
    }
    /// A random `i16`.
    pub fn i16(&mut self) -> i16 {
        self.edgy(&[0, 1, 0x7fff, 0x8000, 0xffff]) as i16
    }
    /// A random `i32`.
    pub fn i32(&mut self) -> i32 {
        self.edgy(&[0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) as i32
    }
    /// A random `i64`.
    pub fn i64(&mut self) -> i64 {
        self.edgy(&[0, 1, i64::MAX as u64, i64::MIN as u64, u64::MAX]) as i64
    }
    /// A random `u16`.
    pub fn u16(&mut self) -> u16 {
        self.i16() as u16
    }
    /// A random `u32`.
    pub fn u32(&mut self) -> u32 {
        self.i32() as u32
    }
    /// A random finite `f64`.
    pub fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / 1024.0
    }
    /// A random UUID.
    pub fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_be_bytes());
        b[8..].copy_from_slice(&self.next().to_be_bytes());
        Uuid::from_bytes(b)
    }
    /// A short random string, sometimes with multi-byte characters.
    pub fn string(&mut self) -> String {
        const CHARS: &[char] = &['a', 'z', 'A', '0', '.', '_', '-', 'é', '日'];
        let n = self.below(12) as usize;
        (0..n)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize])
            .collect()
    }
    /// Short random bytes.
    pub fn bytes(&mut self) -> Bytes {
        let n = self.below(24) as usize;
        (0..n)
            .map(|_| self.next() as u8)
            .collect::<Vec<u8>>()
            .into()
    }
    /// Random opaque record bytes, sometimes large enough to travel as
    /// their own chunk.
    pub fn records(&mut self) -> Records {
        let n = if self.below(4) == 0 {
            600
        } else {
            self.below(40) as usize
        };
        let data: Vec<u8> = (0..n).map(|_| self.next() as u8).collect();
        Records::from(Bytes::from(data))
    }
    /// `None` a quarter of the time.
    pub fn maybe<T>(&mut self, f: impl FnOnce(&mut Gen) -> T) -> Option<T> {
        if self.below(4) == 0 {
            None
        } else {
            Some(f(self))
        }
    }
    /// Zero to three elements.
    pub fn vec<T>(&mut self, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
        let n = self.below(4) as usize;
        (0..n).map(|_| f(self)).collect()
    }
}

/// A proptest strategy of seeds, mapped to values of `T` for `version`.
pub fn strategy<T: Arbitrary + std::fmt::Debug>(version: i16) -> impl Strategy<Value = T> {
    proptest::num::u64::ANY.prop_map(move |seed| T::arbitrary(&mut Gen::new(seed), version))
}
