//! The simulated source cluster: per partition a log of real v2 record
//! batches (plain, idempotent and transactional, with commit and abort
//! markers), a log start that retention moves, and leaders that move.
//!
//! Fetch is answered as Apache Kafka answers a read_committed consumer
//! (`ReplicaManager.readFromLog`, `LogSegment.read`, `FetchResponse`):
//! - a fetch offset below the log start or past the log end is
//!   OFFSET_OUT_OF_RANGE;
//! - only data below the last stable offset (the first offset of the
//!   earliest open transaction, else the high watermark) is returned;
//! - the read starts at the batch holding the fetch offset and returns at
//!   most the partition's byte limit, cut mid-batch if need be; the first
//!   partition with data in a response returns its first batch whole even
//!   when it is larger than the limit (KIP-74), later ones do not;
//! - the aborted transactions overlapping the returned range are listed;
//! - a broker that is not the leader answers NOT_LEADER_OR_FOLLOWER, and a
//!   request naming an older or newer leader epoch FENCED_LEADER_EPOCH or
//!   UNKNOWN_LEADER_EPOCH.

use bytes::Bytes;
use kafka_proto::messages::fetch_response::{AbortedTransaction, PartitionData};
use kafka_proto::record::{ControlRecordType, RecordBatchBuilder};
use kafka_proto::{ErrorCode, Records};

/// What became of a data record written to the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Committed,
    Aborted,
    /// In a transaction not yet ended.
    Open,
}

/// A data record written to the source: its offset and number.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub offset: i64,
    pub fate: Fate,
}

#[derive(Debug, Clone)]
struct Stored {
    base: i64,
    next: i64,
    bytes: Bytes,
}

/// One source partition.
#[derive(Debug)]
pub struct SourcePartition {
    pub topic: String,
    pub index: i32,
    batches: Vec<Stored>,
    pub log_start: i64,
    pub leo: i64,
    /// Open transactions: producer id -> (first offset, record numbers).
    open: Vec<(i64, i64, Vec<u64>)>,
    /// Aborted transactions: producer id, first offset, marker offset.
    aborted: Vec<(i64, i64, i64)>,
    pub leader: i32,
    pub epoch: i32,
    /// Every data record ever written, by number.
    pub written: Vec<Written>,
    /// Idempotent producers' next sequence, by producer id.
    sequences: Vec<(i64, i32)>,
}

impl SourcePartition {
    pub fn new(topic: &str, index: i32, leader: i32) -> Self {
        Self {
            topic: topic.to_owned(),
            index,
            batches: Vec::new(),
            log_start: 0,
            leo: 0,
            open: Vec::new(),
            aborted: Vec::new(),
            leader,
            epoch: 0,
            written: Vec::new(),
            sequences: Vec::new(),
        }
    }

    /// The value of record number `k`.
    pub fn value(&self, k: u64) -> Bytes {
        Bytes::from(format!("{}/{}/{k}", self.topic, self.index))
    }

    /// The last stable offset: the first offset of the earliest open
    /// transaction, else the log end.
    pub fn lso(&self) -> i64 {
        self.open.iter().map(|t| t.1).min().unwrap_or(self.leo)
    }

    pub fn open_transactions(&self) -> Vec<i64> {
        self.open.iter().map(|t| t.0).collect()
    }

    /// Appends a batch of `n` records: plain (`pid` < 0), idempotent, or
    /// in `pid`'s open transaction.
    pub fn append(&mut self, n: u64, pid: i64, transactional: bool, timestamp: i64) {
        let base = self.leo;
        let mut b = RecordBatchBuilder::new(base, timestamp);
        if pid >= 0 {
            let seq = match self.sequences.iter_mut().find(|s| s.0 == pid) {
                Some(s) => s,
                None => {
                    self.sequences.push((pid, 0));
                    self.sequences.last_mut().expect("just pushed")
                }
            };
            b.producer(pid, 0, seq.1).transactional(transactional);
            seq.1 = seq.1.wrapping_add(n as i32);
        }
        let mut numbers = Vec::new();
        for i in 0..n {
            let k = self.written.len() as u64;
            b.append(None, Some(self.value(k))).expect("record fits");
            self.written.push(Written {
                offset: base + i as i64,
                fate: if transactional {
                    Fate::Open
                } else {
                    Fate::Committed
                },
            });
            numbers.push(k);
        }
        if transactional {
            match self.open.iter_mut().find(|t| t.0 == pid) {
                Some(t) => t.2.extend(numbers),
                None => self.open.push((pid, base, numbers)),
            }
        }
        self.push(b.build().expect("batch builds"));
    }

    /// Ends `pid`'s open transaction with a marker.
    pub fn end_transaction(&mut self, pid: i64, commit: bool, timestamp: i64) {
        let Some(i) = self.open.iter().position(|t| t.0 == pid) else {
            return;
        };
        let (_, first, numbers) = self.open.remove(i);
        let fate = if commit {
            Fate::Committed
        } else {
            Fate::Aborted
        };
        for k in numbers {
            self.written[k as usize].fate = fate;
        }
        let kind = if commit {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        };
        let marker = self.leo;
        if !commit {
            self.aborted.push((pid, first, marker));
        }
        let b = RecordBatchBuilder::end_txn_marker(marker, timestamp, pid, 0, kind, 0);
        self.push(b.build().expect("marker builds"));
    }

    fn push(&mut self, bytes: Bytes) {
        let batch = kafka_proto::record::RecordBatch::new(bytes.clone()).expect("valid batch");
        let next = batch.next_offset();
        self.batches.push(Stored {
            base: batch.base_offset(),
            next,
            bytes,
        });
        self.leo = next;
    }

    /// Size of the last batch written.
    pub fn last_batch_len(&self) -> usize {
        self.batches.last().map_or(0, |b| b.bytes.len())
    }

    /// Retention: deletes whole batches before `offset` (never past the
    /// last stable offset); returns the new log start.
    pub fn delete_before(&mut self, offset: i64) -> i64 {
        let limit = offset.min(self.lso());
        while self.batches.first().is_some_and(|b| b.next <= limit) {
            self.batches.remove(0);
        }
        self.log_start = self.batches.first().map_or(self.leo, |b| b.base);
        self.aborted.retain(|a| a.2 >= self.log_start);
        self.log_start
    }

    /// Answers one partition of a read_committed Fetch sent to `node`.
    /// `budget`: bytes left in the response; `first`: no earlier partition
    /// of the response returned data.
    pub fn fetch(
        &self,
        node: i32,
        offset: i64,
        leader_epoch: i32,
        max_bytes: usize,
        budget: &mut usize,
        first: &mut bool,
    ) -> PartitionData {
        let error = |code: ErrorCode| error_partition(self.index, code);
        if node != self.leader {
            return error(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if leader_epoch >= 0 && leader_epoch < self.epoch {
            return error(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if leader_epoch > self.epoch {
            return error(ErrorCode::UNKNOWN_LEADER_EPOCH);
        }
        if offset < self.log_start || offset > self.leo {
            return error(ErrorCode::OFFSET_OUT_OF_RANGE);
        }
        let lso = self.lso();
        let start = self.batches.iter().position(|b| b.next > offset);
        let mut out: Vec<u8> = Vec::new();
        let mut upper = offset;
        if let Some(start) = start {
            let limit = max_bytes.min(*budget);
            for b in self.batches[start..].iter().take_while(|b| b.base < lso) {
                let room = limit.saturating_sub(out.len());
                if b.bytes.len() <= room || (out.is_empty() && *first) {
                    out.extend_from_slice(&b.bytes);
                    upper = b.next;
                } else {
                    // Kafka returns the bytes up to its limit: a cut batch.
                    out.extend_from_slice(&b.bytes[..room]);
                    break;
                }
            }
        }
        if !out.is_empty() {
            *first = false;
            *budget = budget.saturating_sub(out.len());
        }
        let aborted: Vec<AbortedTransaction> = self
            .aborted
            .iter()
            .filter(|a| a.2 >= offset && a.1 < upper)
            .map(|a| AbortedTransaction {
                producer_id: a.0,
                first_offset: a.1,
                ..Default::default()
            })
            .collect();
        PartitionData {
            partition_index: self.index,
            error_code: 0,
            high_watermark: self.leo,
            last_stable_offset: lso,
            log_start_offset: self.log_start,
            aborted_transactions: Some(aborted),
            preferred_read_replica: -1,
            records: Some(Records::from(Bytes::from(out))),
            ..Default::default()
        }
    }
}

/// A Fetch partition that answers `code`, as Kafka fills one in
/// (`FetchResponse.partitionResponse`: offsets unknown).
pub fn error_partition(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.0,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        preferred_read_replica: -1,
        ..Default::default()
    }
}
