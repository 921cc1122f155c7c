//! The simulated target cluster: per partition a log whose offsets the
//! target assigns, and the idempotent producers' state, applied as Apache
//! Kafka applies it (`ProducerAppendInfo.checkSequence`,
//! `ProducerStateEntry.findDuplicateBatch`):
//!
//! - a batch whose producer epoch and sequence range match one of the last
//!   five batches of its producer is a duplicate: acknowledged with the
//!   first copy's offset and not written again;
//! - an epoch below the producer's is INVALID_PRODUCER_EPOCH;
//! - a new epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - within an epoch, the first sequence must follow the last one written
//!   (wrapping at `i32::MAX`), else OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - a producer the partition has no state for may start at any sequence
//!   (Kafka 2.5 and later); brokers before that answer
//!   UNKNOWN_PRODUCER_ID unless the sequence is 0, which the `legacy` switch
//!   selects.
//!
//! Produce v3+ takes one v2 batch per partition; a batch that does not
//! parse or fails its CRC is refused (INVALID_RECORD, CORRUPT_MESSAGE).

use std::collections::VecDeque;

use bytes::Bytes;
use kafka_proto::record::RecordBatch;
use kafka_proto::ErrorCode;

/// Producer batches Kafka remembers per producer and partition.
const RETAINED: usize = 5;

/// A batch on the target.
#[derive(Debug, Clone)]
pub struct TargetBatch {
    pub producer_id: i64,
    pub values: Vec<Bytes>,
}

#[derive(Debug, Clone)]
struct ProducerEntry {
    producer_id: i64,
    epoch: i16,
    /// (first sequence, last sequence, base offset) of recent batches.
    recent: VecDeque<(i32, i32, i64)>,
    /// When it last wrote.
    last_write: u64,
}

/// How one batch was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Written at this base offset.
    New(i64),
    /// Already written at this base offset.
    Duplicate(i64),
}

/// One target partition.
#[derive(Debug)]
pub struct TargetPartition {
    pub batches: Vec<TargetBatch>,
    pub leo: i64,
    producers: Vec<ProducerEntry>,
    pub leader: i32,
    pub epoch: i32,
    /// Kafka before 2.5: no state and a sequence other than 0 is
    /// UNKNOWN_PRODUCER_ID.
    legacy: bool,
}

fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

impl TargetPartition {
    pub fn new(leader: i32, legacy: bool) -> Self {
        Self {
            batches: Vec::new(),
            leo: 0,
            producers: Vec::new(),
            leader,
            epoch: 0,
            legacy,
        }
    }

    /// The broker forgets producers idle for `idle` ms (Kafka expires an
    /// idle producer's state, and retention can remove its last batches).
    pub fn forget_idle_producers(&mut self, now: u64, idle: u64) {
        self.producers
            .retain(|p| now.saturating_sub(p.last_write) < idle);
    }

    /// Validates and appends one batch as Kafka would, at `now`.
    pub fn append(&mut self, bytes: Bytes, now: u64) -> Result<Appended, ErrorCode> {
        let batch = RecordBatch::new(bytes).map_err(|_| ErrorCode::INVALID_RECORD)?;
        if batch.magic() != 2 {
            return Err(ErrorCode::INVALID_RECORD);
        }
        batch.verify_crc().map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
        if batch.is_control()
            || i64::from(batch.last_offset_delta()) + 1 != i64::from(batch.records_count())
        {
            return Err(ErrorCode::INVALID_RECORD);
        }
        let pid = batch.producer_id();
        let epoch = batch.producer_epoch();
        let first = batch.base_sequence();
        let last = first.wrapping_add(batch.last_offset_delta());
        if pid >= 0 {
            if first < 0 {
                return Err(ErrorCode::INVALID_RECORD);
            }
            match self.producers.iter().find(|p| p.producer_id == pid) {
                Some(entry) => {
                    if epoch == entry.epoch {
                        if let Some(d) = entry.recent.iter().find(|r| r.0 == first && r.1 == last) {
                            return Ok(Appended::Duplicate(d.2));
                        }
                    }
                    if epoch < entry.epoch {
                        return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
                    }
                    if epoch != entry.epoch {
                        if first != 0 {
                            return Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
                        }
                    } else {
                        let last_seq = entry.recent.back().map_or(-1, |r| r.1);
                        if !in_sequence(last_seq, first) {
                            return Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
                        }
                    }
                }
                None if self.legacy && first != 0 => {
                    return Err(ErrorCode::UNKNOWN_PRODUCER_ID);
                }
                None => {}
            }
        }
        let mut values = Vec::new();
        for r in batch.records() {
            let r = r.map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
            values.push(r.value.unwrap_or_default());
        }
        let base = self.leo;
        self.leo += i64::from(batch.last_offset_delta()) + 1;
        self.batches.push(TargetBatch {
            producer_id: pid,
            values,
        });
        if pid >= 0 {
            let entry = match self.producers.iter_mut().position(|p| p.producer_id == pid) {
                Some(i) => &mut self.producers[i],
                None => {
                    self.producers.push(ProducerEntry {
                        producer_id: pid,
                        epoch,
                        recent: VecDeque::new(),
                        last_write: now,
                    });
                    self.producers.last_mut().expect("just pushed")
                }
            };
            if entry.epoch != epoch {
                entry.epoch = epoch;
                entry.recent.clear();
            }
            entry.last_write = now;
            if entry.recent.len() == RETAINED {
                entry.recent.pop_front();
            }
            entry.recent.push_back((first, last, base));
        }
        Ok(Appended::New(base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::record::RecordBatchBuilder;

    fn batch(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
        let mut b = RecordBatchBuilder::new(0, 0);
        b.producer(pid, epoch, seq);
        for i in 0..n {
            b.append(None, Some(Bytes::from(vec![i as u8]))).unwrap();
        }
        b.build().unwrap()
    }

    impl TargetPartition {
        fn append_now(&mut self, bytes: Bytes) -> Result<Appended, ErrorCode> {
            self.append(bytes, 0)
        }
    }

    #[test]
    fn kafka_sequence_rules() {
        let mut p = TargetPartition::new(1, false);
        assert_eq!(
            p.append_now(batch(7, 0, 5, 2)),
            Ok(Appended::New(0)),
            "no state: any sequence"
        );
        assert_eq!(p.append_now(batch(7, 0, 7, 1)), Ok(Appended::New(2)));
        assert_eq!(p.append_now(batch(7, 0, 5, 2)), Ok(Appended::Duplicate(0)));
        assert_eq!(
            p.append_now(batch(7, 0, 9, 1)),
            Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(
            p.append_now(batch(7, 1, 3, 1)),
            Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(p.append_now(batch(7, 1, 0, 1)), Ok(Appended::New(3)));
        assert_eq!(
            p.append_now(batch(7, 0, 8, 1)),
            Err(ErrorCode::INVALID_PRODUCER_EPOCH)
        );
        assert_eq!(p.leo, 4);
        let mut legacy = TargetPartition::new(1, true);
        assert_eq!(
            legacy.append_now(batch(8, 0, 3, 1)),
            Err(ErrorCode::UNKNOWN_PRODUCER_ID)
        );
        assert_eq!(legacy.append_now(batch(8, 0, 0, 1)), Ok(Appended::New(0)));
    }
}
