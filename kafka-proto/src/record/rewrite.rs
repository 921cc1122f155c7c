//! Rewriting a batch's header for forwarding, without touching its records.
//!
//! The CRC-32C covers attributes to the end of the batch. Only the 40 header
//! bytes `[21, 61)` change, so the new CRC is derived from the old one: CRC-32C
//! is affine, so for equal-length inputs `crc(A) ^ crc(B) = L(A ^ B)` for a
//! linear `L`, and appending `n` bytes maps `L(X)` to `L(X || 0^n)`, which
//! [`super::crc`] computes in O(log n). With `H` the old and `H'` the new
//! header bytes and `T` the records:
//!
//! ```text
//! crc(H' || T) = crc(H || T) ^ shift(crc(H) ^ crc(H'), len(T))
//! ```
//!
//! This costs O(log n) whatever the batch size, but trusts the old CRC, so it
//! is offered only on a [`VerifiedBatch`].

use bytes::Bytes;

use super::batch::{BatchHeader, VerifiedBatch, CRC_START, TRANSACTIONAL_BIT};
use crate::records::Records;

/// New header values for a forwarded batch.
///
/// Everything else (codec, timestamps, offset deltas, record count, control
/// flag) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchRewrite {
    /// New base offset (brokers overwrite it on append; 0 is usual for Produce).
    pub base_offset: i64,
    /// New partition leader epoch (-1 for Produce).
    pub partition_leader_epoch: i32,
    /// Producer id on the target cluster, or -1.
    pub producer_id: i64,
    /// Producer epoch on the target cluster, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Whether the batch stays transactional; `false` clears the bit, the
    /// usual choice when forwarding outside a transaction.
    pub transactional: bool,
}

impl Default for BatchRewrite {
    /// A non-idempotent, non-transactional Produce batch.
    fn default() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
        }
    }
}

/// A batch with a new 61-byte header in front of its original records.
///
/// The two chunks are meant to be sent back to back: see
/// [`RewrittenBatch::append_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrittenBatch {
    /// The new header, CRC included.
    pub header: Bytes,
    /// The original records section, shared with the source batch.
    pub tail: Bytes,
}

impl RewrittenBatch {
    /// Size of the rewritten batch in bytes.
    pub fn len(&self) -> usize {
        self.header.len() + self.tail.len()
    }

    /// Whether both chunks are empty; never true for the output of a rewrite.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends header then tail to a `records` field, without copying.
    pub fn append_to(&self, records: &mut Records) {
        records.push(self.header.clone());
        records.push(self.tail.clone());
    }

    /// The batch as one buffer; copies. For tests and logging.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&self.tail);
        out.into()
    }
}

/// Where the fields a rewrite changes sit in the header.
const BASE_OFFSET: usize = 0;
const PARTITION_LEADER_EPOCH: usize = 12;
const ATTRIBUTES: usize = 21;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;

/// The CRC-covered header bytes a rewrite may change: the low attributes
/// byte (the transactional bit), producer id, producer epoch, base sequence.
const CHANGED: [usize; 15] = [
    // The transactional bit is in the low byte of the big-endian attributes.
    ATTRIBUTES + 1,
    43,
    44,
    45,
    46,
    47,
    48,
    49,
    50,
    51,
    52,
    53,
    54,
    55,
    56,
];

const _: () = assert!(TRANSACTIONAL_BIT & !0xff == 0);
const _: () = assert!(PRODUCER_ID == 43 && BASE_SEQUENCE + 4 == 57);

/// Contribution of each byte of [`CHANGED`] to the CRC of the header's
/// covered bytes `[21, 61)`, 15 KiB computed at compile time.
const CHANGED_CRCS: [[u32; 256]; 15] = {
    let mut at = [0; 15];
    let mut i = 0;
    while i < 15 {
        at[i] = CHANGED[i] - CRC_START;
        i += 1;
    }
    super::crc::single_byte_crcs(at, BatchHeader::LEN - CRC_START)
};

impl VerifiedBatch {
    /// Rewrites the header with `new` values and a CRC derived from the old
    /// one; the records section is neither read nor copied.
    pub fn rewrite(&self, new: &BatchRewrite) -> RewrittenBatch {
        RewrittenBatch {
            header: Bytes::copy_from_slice(&self.rewritten_header(new)),
            tail: self.records_section(),
        }
    }

    /// The header [`VerifiedBatch::rewrite`] makes, as an array: no
    /// allocation, for callers that copy it into a request buffer.
    pub fn rewritten_header(&self, new: &BatchRewrite) -> [u8; BatchHeader::LEN] {
        let mut out = [0u8; BatchHeader::LEN];
        out.copy_from_slice(&self.as_bytes()[..BatchHeader::LEN]);
        let old = out;
        let attributes =
            BatchHeader::with_flag(self.attributes(), TRANSACTIONAL_BIT, new.transactional);
        out[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&new.base_offset.to_be_bytes());
        out[PARTITION_LEADER_EPOCH..PARTITION_LEADER_EPOCH + 4]
            .copy_from_slice(&new.partition_leader_epoch.to_be_bytes());
        out[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
        out[PRODUCER_ID..PRODUCER_ID + 8].copy_from_slice(&new.producer_id.to_be_bytes());
        out[PRODUCER_EPOCH..PRODUCER_EPOCH + 2].copy_from_slice(&new.producer_epoch.to_be_bytes());
        out[BASE_SEQUENCE..BASE_SEQUENCE + 4].copy_from_slice(&new.base_sequence.to_be_bytes());
        // CRC-32C is affine, so crc(old) ^ crc(new) is the CRC of old ^ new
        // with a zero initial value and no final xor, and old ^ new is zero
        // but for the bytes a rewrite may change: one table entry each.
        let mut header_diff = 0;
        for (i, &at) in CHANGED.iter().enumerate() {
            header_diff ^= CHANGED_CRCS[i][usize::from(old[at] ^ out[at])];
        }
        // A valid batch is shorter than 2^31 bytes: its length is an int32.
        let tail_len = (self.len() - BatchHeader::LEN) as u32;
        let crc = self.crc() ^ super::crc::shift_difference(header_diff, tail_len);
        out[CRC_START - 4..CRC_START].copy_from_slice(&crc.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, RecordBatch, RecordBatchBuilder};

    fn sample() -> VerifiedBatch {
        let mut b = RecordBatchBuilder::new(500, 1_700_000_000_000);
        b.producer(9, 2, 40).transactional(true);
        for i in 0..3 {
            b.push(&Record {
                offset_delta: i,
                value: Some(Bytes::from(vec![i as u8; 100])),
                ..Record::default()
            })
            .unwrap();
        }
        RecordBatch::new(b.build().unwrap())
            .unwrap()
            .verify()
            .unwrap()
    }

    #[test]
    fn rewrite_matches_full_recompute() {
        let batch = sample();
        let new = BatchRewrite {
            base_offset: 0,
            producer_id: 1234,
            producer_epoch: 0,
            base_sequence: 7,
            ..BatchRewrite::default()
        };
        let out = batch.rewrite(&new);
        assert_eq!(out.len(), batch.len());
        assert_eq!(out.tail.as_ptr(), batch.records_section().as_ptr());
        let back = RecordBatch::new(out.to_bytes()).unwrap();
        back.verify_crc().unwrap();
        assert_eq!(back.producer_id(), 1234);
        assert_eq!(back.base_sequence(), 7);
        assert!(!back.is_transactional());
        assert_eq!(back.records_section(), batch.records_section());
    }

    #[test]
    fn rewrite_of_empty_batch() {
        let bytes = RecordBatchBuilder::new(3, 0).build().unwrap();
        let batch = RecordBatch::new(bytes).unwrap().verify().unwrap();
        let out = batch.rewrite(&BatchRewrite {
            transactional: true,
            ..BatchRewrite::default()
        });
        assert!(out.tail.is_empty());
        RecordBatch::new(out.to_bytes())
            .unwrap()
            .verify_crc()
            .unwrap();
    }

    proptest::proptest! {
        #[test]
        fn array_header_matches_the_struct_rewrite(
            producer_id in proptest::prelude::any::<i64>(),
            producer_epoch in proptest::prelude::any::<i16>(),
            base_sequence in proptest::prelude::any::<i32>(),
            base_offset in proptest::prelude::any::<i64>(),
            partition_leader_epoch in proptest::prelude::any::<i32>(),
            transactional in proptest::prelude::any::<bool>(),
            records in 0usize..40,
        ) {
            let mut b = RecordBatchBuilder::new(77, 1_700_000_000_000);
            b.producer(3, 1, 5).transactional(!transactional);
            for i in 0..records {
                b.push(&Record {
                    offset_delta: i as i32,
                    value: Some(Bytes::from(vec![i as u8; 1 + 37 * i])),
                    ..Record::default()
                })
                .unwrap();
            }
            let batch = RecordBatch::new(b.build().unwrap()).unwrap().verify().unwrap();
            let new = BatchRewrite {
                base_offset,
                partition_leader_epoch,
                producer_id,
                producer_epoch,
                base_sequence,
                transactional,
            };
            let header = batch.rewritten_header(&new);
            // The same header field by field, and a CRC recomputed over every byte.
            let expected = BatchHeader {
                base_offset,
                partition_leader_epoch,
                producer_id,
                producer_epoch,
                base_sequence,
                attributes: BatchHeader::with_flag(batch.attributes(), TRANSACTIONAL_BIT, transactional),
                ..*batch.header()
            };
            let mut whole = expected.to_bytes().to_vec();
            whole.extend_from_slice(&batch.records_section());
            let crc = crc32c::crc32c(&whole[CRC_START..]);
            let expected = BatchHeader { crc, ..expected };
            proptest::prop_assert_eq!(&header[..], &expected.to_bytes()[..]);
            proptest::prop_assert_eq!(&batch.rewrite(&new).header[..], &header[..]);
        }
    }

    #[test]
    fn append_to_pushes_two_chunks() {
        let out = sample().rewrite(&BatchRewrite::default());
        let mut records = Records::new();
        out.append_to(&mut records);
        assert_eq!(records.chunks().len(), 2);
        assert_eq!(records.to_bytes(), out.to_bytes());
    }
}
