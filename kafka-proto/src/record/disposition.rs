//! What a replicator must do with a fetched batch so that a strict target
//! (Apache Kafka's `LogValidator`) takes it, decided from header fields
//! alone so that the common case costs two comparisons.

use super::batch::BatchHeader;
use super::entries::Entry;

/// How a fetched entry reaches a target that validates like Apache Kafka.
///
/// Kafka refuses a client's v2 batch whose record count differs from
/// `lastOffsetDelta + 1`, one without records, and control batches. Log
/// compaction leaves exactly such batches behind: survivors keep their
/// offsets (holes), the batch keeps its `lastOffsetDelta`, and batches
/// emptied of records are kept when they hold a producer's last sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// `recordsCount == lastOffsetDelta + 1`: forward the batch as it is,
    /// with a rewritten header.
    Forward,
    /// No records (compaction emptied it): send nothing and continue after
    /// its last offset.
    Drop,
    /// Fewer records than offsets (compaction removed some): decompress,
    /// renumber the offset deltas densely and compress again
    /// ([`super::reencode`]).
    Reencode,
    /// A magic 0 or 1 message set: convert to a v2 batch
    /// ([`super::upconvert`]).
    Upconvert,
    /// A control batch (transaction marker or KRaft record): never produced
    /// by a client; the target's transaction coordinator writes its own.
    Control,
    /// A header no broker writes: more records than offsets, a negative
    /// count or a negative `lastOffsetDelta`. The batch is corrupt.
    Malformed,
}

impl BatchHeader {
    /// Sorts the batch by its header fields alone (see [`Disposition`]).
    #[inline]
    pub fn disposition(&self) -> Disposition {
        let count = i64::from(self.records_count);
        let span = i64::from(self.last_offset_delta) + 1;
        if count == span && count > 0 && !self.is_control() {
            return Disposition::Forward;
        }
        if self.is_control() {
            Disposition::Control
        } else if count == 0 && span > 0 {
            Disposition::Drop
        } else if count > 0 && count < span {
            Disposition::Reencode
        } else {
            Disposition::Malformed
        }
    }
}

impl Entry {
    /// [`BatchHeader::disposition`] for a batch; legacy entries are
    /// [`Disposition::Upconvert`].
    #[inline]
    pub fn disposition(&self) -> Disposition {
        match self {
            Entry::Batch(b) => b.header().disposition(),
            Entry::Legacy(_) => Disposition::Upconvert,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(count: i32, last_offset_delta: i32, attributes: i16) -> BatchHeader {
        BatchHeader {
            records_count: count,
            last_offset_delta,
            attributes,
            magic: 2,
            ..BatchHeader::default()
        }
    }

    #[test]
    fn dense_batches_go_whole() {
        assert_eq!(header(1, 0, 0).disposition(), Disposition::Forward);
        assert_eq!(header(500, 499, 0x14).disposition(), Disposition::Forward);
    }

    #[test]
    fn compaction_leftovers_are_sorted() {
        assert_eq!(header(0, 14, 0).disposition(), Disposition::Drop);
        assert_eq!(header(0, 0, 0).disposition(), Disposition::Drop);
        assert_eq!(header(3, 14, 1).disposition(), Disposition::Reencode);
    }

    #[test]
    fn control_batches_are_never_forwarded() {
        assert_eq!(header(1, 0, 0x30).disposition(), Disposition::Control);
        assert_eq!(header(0, 0, 0x30).disposition(), Disposition::Control);
    }

    #[test]
    fn impossible_headers_are_malformed() {
        for (count, delta) in [
            (16, 14),
            (-1, 3),
            (0, -1),
            (1, -5),
            (i32::MAX, i32::MAX - 2),
        ] {
            assert_eq!(
                header(count, delta, 0).disposition(),
                Disposition::Malformed,
                "{count}/{delta}"
            );
        }
        // lastOffsetDelta = i32::MAX does not overflow.
        assert_eq!(header(5, i32::MAX, 0).disposition(), Disposition::Reencode);
    }
}
