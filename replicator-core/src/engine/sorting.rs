//! Sorting fetched data, without IO: each entry of a partition's fetched
//! records blob gets a [`BatchFate`] — forward it whole, drop it (control
//! batch, aborted transaction), or stop there (legacy format, corrupt,
//! undecodable) — from header fields alone, so a batch that is forwarded
//! is read once, by its CRC check, and never copied.
//!
//! New fates (re-encoding a batch with offset holes, up-converting legacy
//! message sets) belong here, as variants of [`BatchFate`] and
//! [`DropReason`]; the rest of the engine sees only [`SortedFetch`].

use bytes::Bytes;
use kafka_proto::messages::fetch_response::AbortedTransaction;
use kafka_proto::record::{Entries, Entry, VerifiedBatch};

use super::aborted::{AbortedFilter, TxnVerdict};

/// A fetched batch on its way to the target: verified, forwarded whole.
#[derive(Debug, Clone)]
pub struct Forward {
    /// The batch as fetched (CRC checked).
    pub batch: VerifiedBatch,
    /// Its first source offset.
    pub base_offset: i64,
    /// The source offset after it.
    pub next_offset: i64,
    /// Records in it.
    pub records: i32,
}

impl Forward {
    /// Wraps a verified batch.
    pub fn new(batch: VerifiedBatch) -> Self {
        Self {
            base_offset: batch.base_offset(),
            next_offset: batch.next_offset(),
            records: batch.records_count(),
            batch,
        }
    }

    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        self.batch.len()
    }
}

/// Why a fetched batch is not forwarded, though the fetch goes on past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A control batch (a transaction marker): never forwarded.
    Control,
    /// Data of an aborted transaction.
    Aborted,
}

/// Why sorting stopped before the end of the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortStop {
    /// A magic 0/1 entry at `offset`.
    Legacy {
        /// Its offset.
        offset: i64,
        /// Its magic.
        magic: i8,
    },
    /// A batch whose CRC does not match.
    Corrupt {
        /// Its base offset.
        offset: i64,
        /// The mismatch.
        detail: String,
    },
    /// Bytes that do not parse.
    Malformed {
        /// What failed.
        detail: String,
    },
}

/// What becomes of one fetched entry.
#[derive(Debug, Clone)]
pub enum BatchFate {
    /// Forward it whole, header rewritten.
    Forward(Forward),
    /// Skip it; the position moves past it.
    Drop(DropReason),
    /// Stop before it; the position stays at it.
    Stop(SortStop),
}

/// Sorts one partition's entries in offset order: carries the aborted
/// transactions of one Fetch response across its batches.
#[derive(Debug, Default)]
pub struct BatchSorter {
    aborted: AbortedFilter,
}

impl BatchSorter {
    /// A sorter for one partition's data in one Fetch response.
    pub fn new(aborted: Option<&[AbortedTransaction]>) -> Self {
        Self {
            aborted: AbortedFilter::new(aborted),
        }
    }

    /// The fate of the next entry (call in offset order).
    pub fn sort(&mut self, entry: Entry) -> BatchFate {
        let batch = match entry {
            Entry::Legacy(l) => {
                return BatchFate::Stop(SortStop::Legacy {
                    offset: l.offset(),
                    magic: l.magic(),
                })
            }
            Entry::Batch(b) => b,
        };
        match self.aborted.verdict(&batch) {
            Ok(TxnVerdict::Forward) => {}
            Ok(TxnVerdict::Control) => return BatchFate::Drop(DropReason::Control),
            Ok(TxnVerdict::Aborted) => return BatchFate::Drop(DropReason::Aborted),
            Err(e) => {
                return BatchFate::Stop(SortStop::Malformed {
                    detail: e.to_string(),
                })
            }
        }
        let offset = batch.base_offset();
        match batch.verify() {
            Ok(v) => BatchFate::Forward(Forward::new(v)),
            Err(e) => BatchFate::Stop(SortStop::Corrupt {
                offset,
                detail: e.to_string(),
            }),
        }
    }
}

/// One partition's fetched data, sorted.
#[derive(Debug, Clone, Default)]
pub struct SortedFetch {
    /// Batches to forward, in order, CRC-checked.
    pub forwards: Vec<Forward>,
    /// Where the next fetch starts.
    pub next_position: i64,
    /// Batches dropped as aborted.
    pub aborted: u64,
    /// Control batches dropped.
    pub control: u64,
    /// Why sorting stopped early, if it did (`next_position` is then the
    /// offset of the offending entry).
    pub stop: Option<SortStop>,
}

impl SortedFetch {
    /// Nothing fetched at `position`.
    pub fn empty(position: i64) -> Self {
        Self {
            next_position: position,
            ..Self::default()
        }
    }
}

/// Sorts `blob` (fetched from `position`): entries wholly before
/// `position` are skipped, the others sorted in order until one stops it.
/// A truncated trailing batch (the broker cut the response at its byte
/// limit) ends the blob and is fetched again.
pub fn sort_fetched(
    blob: Bytes,
    position: i64,
    aborted: Option<&[AbortedTransaction]>,
) -> SortedFetch {
    let mut out = SortedFetch::empty(position);
    let mut sorter = BatchSorter::new(aborted);
    for entry in Entries::new(blob) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.stop = Some(SortStop::Malformed {
                    detail: e.to_string(),
                });
                break;
            }
        };
        if entry.next_offset() <= out.next_position {
            continue;
        }
        let next = entry.next_offset();
        match sorter.sort(entry) {
            BatchFate::Forward(f) => {
                out.next_position = f.next_offset;
                out.forwards.push(f);
            }
            BatchFate::Drop(reason) => {
                match reason {
                    DropReason::Control => out.control += 1,
                    DropReason::Aborted => out.aborted += 1,
                }
                out.next_position = next;
            }
            BatchFate::Stop(stop) => {
                out.stop = Some(stop);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::record::{ControlRecordType, RecordBatchBuilder};

    fn data(offset: i64, pid: i64, txn: bool, n: i32) -> Bytes {
        let mut b = RecordBatchBuilder::new(offset, 1_000);
        b.producer(pid, 0, 0).transactional(txn);
        for i in 0..n {
            b.append(None, Some(Bytes::from(format!("v{i}")))).unwrap();
        }
        b.build().unwrap()
    }

    fn blob(parts: &[Bytes]) -> Bytes {
        parts.concat().into()
    }

    fn marker(offset: i64, pid: i64, kind: ControlRecordType) -> Bytes {
        RecordBatchBuilder::end_txn_marker(offset, 1_000, pid, 0, kind, 0)
            .build()
            .unwrap()
    }

    #[test]
    fn skips_old_drops_control_and_aborted() {
        let b = blob(&[
            data(0, -1, false, 2),
            data(2, 7, true, 2),
            marker(4, 7, ControlRecordType::Abort),
            data(5, -1, false, 1),
        ]);
        let aborted = [AbortedTransaction {
            producer_id: 7,
            first_offset: 2,
            ..Default::default()
        }];
        let s = sort_fetched(b, 1, Some(&aborted));
        assert_eq!(
            s.forwards.iter().map(|f| f.base_offset).collect::<Vec<_>>(),
            [0, 5],
            "a batch straddling the position is forwarded whole"
        );
        assert_eq!((s.aborted, s.control, s.next_position), (1, 1, 6));
        assert!(s.stop.is_none());
        let s = sort_fetched(blob(&[data(0, -1, false, 2)]), 2, None);
        assert!(s.forwards.is_empty());
        assert_eq!(s.next_position, 2);
    }

    #[test]
    fn stops_at_a_corrupt_batch_and_keeps_what_came_before() {
        let good = data(0, -1, false, 1);
        let mut bad = data(1, -1, false, 1).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let s = sort_fetched(blob(&[good, Bytes::from(bad)]), 0, None);
        assert_eq!(s.forwards.len(), 1);
        assert_eq!(s.next_position, 1);
        assert!(matches!(s.stop, Some(SortStop::Corrupt { offset: 1, .. })));
    }

    #[test]
    fn a_truncated_trailing_batch_is_left_for_the_next_fetch() {
        let b2 = data(3, -1, false, 2);
        let s = sort_fetched(
            blob(&[data(0, -1, false, 3), b2.slice(..b2.len() - 5)]),
            0,
            None,
        );
        assert_eq!((s.forwards.len(), s.next_position), (1, 3));
    }

    #[test]
    fn one_batch_at_a_time_has_the_same_fates() {
        let mut sorter = BatchSorter::new(None);
        let entry = |b: Bytes| Entries::new(b).next().unwrap().unwrap();
        assert!(matches!(
            sorter.sort(entry(data(0, -1, false, 1))),
            BatchFate::Forward(f) if f.records == 1
        ));
        assert!(matches!(
            sorter.sort(entry(marker(1, 5, ControlRecordType::Commit))),
            BatchFate::Drop(DropReason::Control)
        ));
    }
}
