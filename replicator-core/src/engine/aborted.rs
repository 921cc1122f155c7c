//! The read_committed filter: which fetched batches belong to aborted
//! transactions, decided from the Fetch response's AbortedTransactions list
//! as the Java consumer does (`CompletedFetch`).
//!
//! A pure function over batch headers (and the one record of a control
//! batch): data batches are never decompressed or iterated.

use std::collections::{BTreeSet, VecDeque};

use kafka_proto::messages::fetch_response::AbortedTransaction;
use kafka_proto::record::{ControlRecordType, RecordBatch};
use kafka_proto::DecodeError;

/// What to do with one fetched batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnVerdict {
    /// Forward it.
    Forward,
    /// A control batch (transaction marker or other): never forwarded.
    Control,
    /// Data of an aborted transaction: dropped.
    Aborted,
}

/// Walks a partition's batches in offset order and says which to forward.
///
/// Under READ_COMMITTED, FetchResponse v4+ lists `(producerId, firstOffset)`
/// for each aborted transaction overlapping the returned data. A
/// transactional batch of a listed producer at or after `firstOffset` is
/// dropped until that producer's ABORT marker.
#[derive(Debug, Clone, Default)]
pub struct AbortedFilter {
    /// Aborted transactions not yet reached, by first offset.
    upcoming: VecDeque<(i64, i64)>,
    /// Producers whose aborted transaction is open at the current batch.
    open: BTreeSet<i64>,
}

impl AbortedFilter {
    /// A filter for one partition's data in one Fetch response.
    pub fn new(aborted: Option<&[AbortedTransaction]>) -> Self {
        let mut upcoming: Vec<(i64, i64)> = aborted
            .unwrap_or_default()
            .iter()
            .map(|a| (a.first_offset, a.producer_id))
            .collect();
        upcoming.sort_unstable();
        Self {
            upcoming: upcoming.into(),
            open: BTreeSet::new(),
        }
    }

    /// The verdict for the next batch. Call in offset order.
    ///
    /// Fails only when a control batch's record cannot be decoded.
    pub fn verdict(&mut self, batch: &RecordBatch) -> Result<TxnVerdict, DecodeError> {
        // Open every aborted transaction that starts at or before this batch's end.
        while let Some(&(first, pid)) = self.upcoming.front() {
            if first > batch.last_offset() {
                break;
            }
            self.open.insert(pid);
            self.upcoming.pop_front();
        }
        if batch.is_control() {
            if batch.is_transactional() {
                if let Some(marker) = batch.control_marker()? {
                    if marker.record.kind == ControlRecordType::Abort {
                        self.open.remove(&batch.producer_id());
                    }
                }
            }
            return Ok(TxnVerdict::Control);
        }
        if batch.is_transactional() && self.open.contains(&batch.producer_id()) {
            return Ok(TxnVerdict::Aborted);
        }
        Ok(TxnVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_proto::record::RecordBatchBuilder;

    fn data(offset: i64, pid: i64, txn: bool, n: i32) -> RecordBatch {
        let mut b = RecordBatchBuilder::new(offset, 1_000);
        b.producer(pid, 0, 0).transactional(txn);
        for i in 0..n {
            b.append(None, Some(Bytes::from(format!("v{i}")))).unwrap();
        }
        RecordBatch::new(b.build().unwrap()).unwrap()
    }

    fn marker(offset: i64, pid: i64, kind: ControlRecordType) -> RecordBatch {
        RecordBatch::new(
            RecordBatchBuilder::end_txn_marker(offset, 1_000, pid, 0, kind, 0)
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    fn aborted(pid: i64, first: i64) -> AbortedTransaction {
        AbortedTransaction {
            producer_id: pid,
            first_offset: first,
            ..Default::default()
        }
    }

    #[test]
    fn drops_aborted_keeps_committed_and_interleaved() {
        // pid 1 commits [0,2), marker 2; pid 2 aborts [3,5) with pid 3's
        // committed data interleaved at 5; abort marker 6; plain data at 8.
        let batches = [
            data(0, 1, true, 2),
            marker(2, 1, ControlRecordType::Commit),
            data(3, 2, true, 2),
            data(5, 3, true, 1),
            marker(6, 2, ControlRecordType::Abort),
            marker(7, 3, ControlRecordType::Commit),
            data(8, 2, false, 1),
            data(9, 2, true, 1),
        ];
        let list = [aborted(2, 3), aborted(2, 100)];
        let mut f = AbortedFilter::new(Some(&list));
        let v: Vec<TxnVerdict> = batches.iter().map(|b| f.verdict(b).unwrap()).collect();
        use TxnVerdict::*;
        assert_eq!(
            v,
            [Forward, Control, Aborted, Forward, Control, Control, Forward, Forward]
        );
    }

    #[test]
    fn no_list_forwards_everything_but_control() {
        let mut f = AbortedFilter::new(None);
        assert_eq!(
            f.verdict(&data(0, 5, true, 1)).unwrap(),
            TxnVerdict::Forward
        );
        assert_eq!(
            f.verdict(&marker(1, 5, ControlRecordType::Abort)).unwrap(),
            TxnVerdict::Control
        );
    }

    #[test]
    fn transaction_starting_inside_a_batch_range_is_opened() {
        // The listed first offset falls inside the batch's offset range.
        let list = [aborted(4, 11)];
        let mut f = AbortedFilter::new(Some(&list));
        assert_eq!(
            f.verdict(&data(10, 4, true, 3)).unwrap(),
            TxnVerdict::Aborted
        );
        assert_eq!(
            f.verdict(&data(13, 9, true, 1)).unwrap(),
            TxnVerdict::Forward
        );
    }
}
