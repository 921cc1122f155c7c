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

impl VerifiedBatch {
    /// Rewrites the header with `new` values and a CRC derived from the old
    /// one; the records section is neither read nor copied.
    pub fn rewrite(&self, new: &BatchRewrite) -> RewrittenBatch {
        let old = *self.header();
        let header = BatchHeader {
            base_offset: new.base_offset,
            partition_leader_epoch: new.partition_leader_epoch,
            producer_id: new.producer_id,
            producer_epoch: new.producer_epoch,
            base_sequence: new.base_sequence,
            attributes: BatchHeader::with_flag(
                old.attributes,
                TRANSACTIONAL_BIT,
                new.transactional,
            ),
            ..old
        };
        let tail_len = self.len() - BatchHeader::LEN;
        let old_sum = crc32c::crc32c(&self.as_bytes()[CRC_START..BatchHeader::LEN]);
        let mut bytes = header.to_bytes();
        let new_sum = crc32c::crc32c(&bytes[CRC_START..]);
        // A valid batch is shorter than 2^31 bytes: its length is an int32.
        let crc = old.crc ^ super::crc::shift_difference(old_sum ^ new_sum, tail_len as u32);
        bytes[CRC_START - 4..CRC_START].copy_from_slice(&crc.to_be_bytes());
        RewrittenBatch {
            header: Bytes::copy_from_slice(&bytes),
            tail: self.records_section(),
        }
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

    #[test]
    fn append_to_pushes_two_chunks() {
        let out = sample().rewrite(&BatchRewrite::default());
        let mut records = Records::new();
        out.append_to(&mut records);
        assert_eq!(records.chunks().len(), 2);
        assert_eq!(records.to_bytes(), out.to_bytes());
    }
}
