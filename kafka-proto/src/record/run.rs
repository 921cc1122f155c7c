//! Checking the CRCs of a run of consecutive batches with one CRC-32C pass.
//!
//! The `crc32c` crate runs at full speed only on long buffers: below about
//! 24 KiB it falls back to shorter interleaved blocks and, for the last
//! few hundred bytes, to one dependent instruction per 8 bytes. Fetched
//! batches are often a few KiB, so checking them one call each runs well
//! below one pass over the same bytes. Batches cut from one blob sit back
//! to back, so [`verify_run`] computes the CRC of the whole run once and
//! compares it with the value the stored CRCs imply:
//!
//! ```text
//! crc(X || P || R) = shift(crc(X || P), len(R)) ^ crc(R)
//! ```
//!
//! with `P` a batch's first 21 bytes (not covered by its CRC) and `crc(R)`
//! its stored CRC. If they agree, every batch is accepted; if not, the
//! batches are checked one by one to name the corrupt one.
//!
//! What this gives up: corruption confined to one batch is caught exactly
//! when that batch's own CRC would catch it (the shift by the bytes after
//! it is invertible), but errors in *several* batches of a run can cancel
//! out, with probability 2^-32 for random damage, where separate checks
//! would each have to miss. Callers that need each batch checked on its own
//! use [`RecordBatch::verify`].

use super::batch::{CrcMismatch, RecordBatch, VerifiedBatch, CRC_START};
use super::crc::shift_difference;

/// Checks the CRCs of `batches`, which should be consecutive slices of
/// `blob` (as [`Entries`](super::Entries) cuts them), with one CRC-32C
/// pass over the run. Batches that are not one contiguous run of `blob`
/// are checked one by one instead. On a mismatch the error names the first
/// corrupt batch, as checking them in order would.
pub fn verify_run(
    blob: &[u8],
    batches: Vec<RecordBatch>,
) -> Result<Vec<VerifiedBatch>, CrcMismatch> {
    if let Some(span) = contiguous_span(blob, &batches) {
        let mut implied = 0u32;
        for b in &batches {
            implied = crc32c::crc32c_append(implied, &b.as_bytes()[..CRC_START]);
            // A valid batch is shorter than 2^31 bytes: its length is an int32.
            implied = shift_difference(implied, (b.len() - CRC_START) as u32) ^ b.crc();
        }
        if crc32c::crc32c(span) == implied {
            return Ok(batches.into_iter().map(VerifiedBatch::checked).collect());
        }
    }
    batches.into_iter().map(RecordBatch::verify).collect()
}

/// The bytes of `blob` the batches cover, if they follow each other in it.
fn contiguous_span<'a>(blob: &'a [u8], batches: &[RecordBatch]) -> Option<&'a [u8]> {
    let base = blob.as_ptr() as usize;
    let first = batches.first()?.as_bytes().as_ptr() as usize;
    let start = first.checked_sub(base)?;
    let mut end = start;
    for b in batches {
        let at = (b.as_bytes().as_ptr() as usize).checked_sub(base)?;
        if at != end {
            return None;
        }
        end = end.checked_add(b.len())?;
    }
    blob.get(start..end)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::record::{Entries, Entry, Record, RecordBatchBuilder};

    fn blob(sizes: &[usize]) -> Bytes {
        let mut out = Vec::new();
        let mut offset = 0;
        for (i, &n) in sizes.iter().enumerate() {
            let mut b = RecordBatchBuilder::new(offset, 1_700_000_000_000);
            for r in 0..n {
                b.push(&Record {
                    offset_delta: r as i32,
                    value: Some(Bytes::from(vec![(i + r) as u8; 1 + 53 * r])),
                    ..Record::default()
                })
                .unwrap();
            }
            out.extend_from_slice(&b.build().unwrap());
            offset += n.max(1) as i64;
        }
        out.into()
    }

    fn batches(blob: &Bytes) -> Vec<RecordBatch> {
        Entries::new(blob.clone())
            .map(|e| match e.unwrap() {
                Entry::Batch(b) => b,
                Entry::Legacy(_) => unreachable!("built batches are magic 2"),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn agrees_with_checking_each_batch(
            sizes in proptest::collection::vec(0usize..12, 0..8),
            flip in proptest::option::of((any::<prop::sample::Index>(), 0u8..8)),
        ) {
            let mut raw = blob(&sizes).to_vec();
            if let Some((at, bit)) = flip {
                if !raw.is_empty() {
                    let i = at.index(raw.len());
                    raw[i] ^= 1 << bit;
                }
            }
            let raw = Bytes::from(raw);
            // A flip in a length or magic byte may make the blob unsplittable.
            let Ok(entries) = Entries::new(raw.clone()).collect::<Result<Vec<_>, _>>() else {
                return Ok(());
            };
            let split: Vec<RecordBatch> = entries
                .into_iter()
                .filter_map(|e| match e {
                    Entry::Batch(b) => Some(b),
                    Entry::Legacy(_) => None,
                })
                .collect();
            let one_by_one: Result<Vec<VerifiedBatch>, CrcMismatch> =
                split.iter().cloned().map(RecordBatch::verify).collect();
            prop_assert_eq!(verify_run(&raw, split), one_by_one);
        }
    }

    #[test]
    fn batches_from_elsewhere_are_checked_one_by_one() {
        let a = blob(&[3, 0, 5]);
        let b = blob(&[2]);
        let mut mixed = batches(&a);
        mixed.insert(1, batches(&b).remove(0));
        assert_eq!(verify_run(&a, mixed.clone()).unwrap().len(), 4);
        // Out of order, and a blob that does not hold them.
        mixed.swap(0, 2);
        assert!(verify_run(&a, mixed).is_ok());
        assert!(verify_run(&b, batches(&a)).is_ok());
        assert!(verify_run(&a, Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn names_the_first_corrupt_batch() {
        let good = blob(&[4, 4, 4]);
        let mut raw = good.to_vec();
        let second = batches(&good)[1].len();
        let first = batches(&good)[0].len();
        raw[first + second - 1] ^= 0x80;
        raw[first + second + 70] ^= 0x01;
        let raw = Bytes::from(raw);
        let err = verify_run(&raw, batches(&raw)).unwrap_err();
        assert_eq!(err.base_offset, batches(&raw)[1].base_offset());
    }
}
