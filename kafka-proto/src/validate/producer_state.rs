//! One partition's log end and producer state, with the rules Kafka's
//! producer-state bookkeeping applies to a client's idempotent batches
//! (`ProducerAppendInfo`, `ProducerStateEntry`): duplicates of the last five
//! batches are answered with the original offsets, an older epoch is
//! fenced, and within an epoch sequences must follow on.
//!
//! Kafka's brokers no longer answer `DUPLICATE_SEQUENCE_NUMBER`: a batch
//! repeating one of the producer's last five gets `NONE` and the original's
//! offsets, an older repeat `OUT_OF_ORDER_SEQUENCE_NUMBER`. Not modelled:
//! the transaction verification with the coordinator (KIP-890), markers'
//! coordinator epochs, and producer state expiring.

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};

use super::log_rules::{check_batch, topic_partition, CheckedBatch};
use super::{Appended, Refusal, TopicConfig};
use crate::record::{BatchHeader, TimestampType};
use crate::ErrorCode;

/// Batches per producer whose sequence ranges Kafka remembers.
const BATCHES_RETAINED: usize = 5;
/// CRC-covered bytes start at the attributes.
const CRC_START: usize = 21;
/// Attribute bit of `LogAppendTime`.
const LOG_APPEND_TIME_BIT: i16 = 0x08;

/// One appended batch of a producer, as remembered for duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
    timestamp: i64,
}

/// What Kafka knows of one producer id on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
    /// First offset of the open transaction, if any.
    txn_first_offset: Option<i64>,
}

impl Default for ProducerEntry {
    /// A producer never seen: no epoch, so any first sequence is taken.
    fn default() -> Self {
        Self {
            epoch: -1,
            batches: VecDeque::new(),
            txn_first_offset: None,
        }
    }
}

impl ProducerEntry {
    fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }
}

/// One partition as a strict broker keeps it: topic config, log end offset,
/// leader epoch and producer state. Appends are checked with Kafka's rules
/// (see [`super`]); the log itself (the stored batches) is the caller's.
#[derive(Debug, Clone)]
pub struct PartitionLog {
    topic: String,
    partition: i32,
    config: TopicConfig,
    log_end_offset: i64,
    leader_epoch: i32,
    producers: HashMap<i64, ProducerEntry>,
}

impl PartitionLog {
    /// An empty partition of `topic` with `config`, leader epoch 0.
    pub fn new(topic: impl Into<String>, partition: i32, config: TopicConfig) -> Self {
        Self {
            topic: topic.into(),
            partition,
            config,
            log_end_offset: 0,
            leader_epoch: 0,
            producers: HashMap::new(),
        }
    }

    /// The topic's settings.
    pub fn config(&self) -> &TopicConfig {
        &self.config
    }

    /// Changes the topic's settings (as AlterConfigs would).
    pub fn set_config(&mut self, config: TopicConfig) {
        self.config = config;
    }

    /// The offset the next record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Sets the partition leader epoch stamped on stored batches.
    pub fn set_leader_epoch(&mut self, epoch: i32) {
        self.leader_epoch = epoch;
    }

    /// Checks and appends one Produce partition's `records` at broker time
    /// `now_ms`: [`check_batch`] then [`PartitionLog::append_checked`].
    pub fn append(
        &mut self,
        api_version: i16,
        records: Option<&Bytes>,
        now_ms: i64,
    ) -> Result<Appended, Refusal> {
        let checked = check_batch(
            &self.topic,
            self.partition,
            api_version,
            &self.config,
            records,
            now_ms,
        )?;
        self.append_checked(checked, now_ms)
    }

    /// Applies the producer rules to a batch that passed [`check_batch`]
    /// and, unless refused or a duplicate, appends it at the log end.
    pub fn append_checked(
        &mut self,
        checked: CheckedBatch,
        now_ms: i64,
    ) -> Result<Appended, Refusal> {
        let h = *checked.batch.header();
        let records = h.records_count;
        let first_offset = self.log_end_offset;
        let log_append_time =
            (self.config.timestamp_type == TimestampType::LogAppendTime).then_some(now_ms);
        if h.producer_id >= 0 {
            if let Some(duplicate) = self.duplicate(&h) {
                return Ok(Appended {
                    base_offset: duplicate.first_offset,
                    records,
                    log_append_time_ms: duplicate.timestamp,
                    duplicate: true,
                    stored: None,
                    producer_id: h.producer_id,
                });
            }
            let entry = self
                .producers
                .get(&h.producer_id)
                .cloned()
                .unwrap_or_default();
            self.check_producer(&entry, &h, first_offset)?;
            let max_timestamp = log_append_time.unwrap_or(checked.max_timestamp);
            self.record_producer(entry, &h, first_offset, max_timestamp);
        }
        self.log_end_offset = first_offset + i64::from(h.last_offset_delta) + 1;
        Ok(Appended {
            base_offset: first_offset,
            records,
            log_append_time_ms: log_append_time.unwrap_or(-1),
            duplicate: false,
            stored: Some(self.stored(&checked, first_offset, log_append_time)),
            producer_id: h.producer_id,
        })
    }

    /// Takes back `appended`, the last batch appended, when the store it
    /// went to refused it after all (a front of another broker, say).
    pub fn undo(&mut self, appended: &Appended) {
        if appended.duplicate {
            return;
        }
        if self.log_end_offset == appended.base_offset + i64::from(appended.records) {
            self.log_end_offset = appended.base_offset;
        }
        if let Some(entry) = self.producers.get_mut(&appended.producer_id) {
            if entry
                .batches
                .back()
                .is_some_and(|b| b.first_offset == appended.base_offset)
            {
                entry.batches.pop_back();
            }
            if entry.txn_first_offset == Some(appended.base_offset) {
                entry.txn_first_offset = None;
            }
        }
    }

    /// Ends `producer_id`'s open transaction (a COMMIT or ABORT marker).
    pub fn end_transaction(&mut self, producer_id: i64) {
        if let Some(entry) = self.producers.get_mut(&producer_id) {
            entry.txn_first_offset = None;
        }
    }

    fn duplicate(&self, h: &BatchHeader) -> Option<BatchMeta> {
        let entry = self.producers.get(&h.producer_id)?;
        if entry.epoch != h.producer_epoch {
            return None;
        }
        let last_seq = last_sequence(h);
        entry
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
            .copied()
    }

    /// Kafka's epoch, sequence and transaction rules for a data batch.
    fn check_producer(
        &self,
        entry: &ProducerEntry,
        h: &BatchHeader,
        offset: i64,
    ) -> Result<(), Refusal> {
        let tp = topic_partition(&self.topic, self.partition);
        let (pid, epoch, seq) = (h.producer_id, h.producer_epoch, h.base_sequence);
        if epoch < entry.epoch {
            return Err(Refusal::logged(
                ErrorCode::INVALID_PRODUCER_EPOCH,
                format!(
                    "Epoch of producer {pid} at offset {offset} in {tp} is {epoch}, which is smaller than the last seen epoch {}",
                    entry.epoch
                ),
            ));
        }
        if epoch != entry.epoch {
            if seq != 0 && entry.epoch != -1 {
                return Err(Refusal::logged(
                    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                    // Kafka's message lacks the space before "at".
                    format!(
                        "Invalid sequence number for new epoch of producer {pid}at offset {offset} in partition {tp}: {epoch} (request epoch), {seq} (seq. number), {} (current producer epoch)",
                        entry.epoch
                    ),
                ));
            }
        } else {
            let last = entry.last_seq();
            let follows = i64::from(seq) == i64::from(last) + 1 || (seq == 0 && last == i32::MAX);
            if !(entry.epoch == -1 || follows) {
                return Err(Refusal::logged(
                    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                    format!(
                        "Out of order sequence number for producer {pid} at offset {offset} in partition {tp}: {seq} (incoming seq. number), {last} (current end sequence number)"
                    ),
                ));
            }
        }
        if entry.txn_first_offset.is_some() && !h.is_transactional() {
            return Err(Refusal::logged(
                ErrorCode::INVALID_TXN_STATE,
                format!("Expected transactional write from producer {pid} at offset {offset} in partition {tp}"),
            ));
        }
        Ok(())
    }

    fn record_producer(
        &mut self,
        mut entry: ProducerEntry,
        h: &BatchHeader,
        first_offset: i64,
        timestamp: i64,
    ) {
        if entry.epoch != h.producer_epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == BATCHES_RETAINED {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMeta {
            first_seq: h.base_sequence,
            last_seq: last_sequence(h),
            first_offset,
            timestamp,
        });
        if h.is_transactional() && entry.txn_first_offset.is_none() {
            entry.txn_first_offset = Some(first_offset);
        }
        self.producers.insert(h.producer_id, entry);
    }

    /// The batch as the log stores it: offsets assigned, the leader epoch
    /// set, the append time on a `LogAppendTime` topic, a new CRC.
    fn stored(
        &self,
        checked: &CheckedBatch,
        base_offset: i64,
        log_append_time: Option<i64>,
    ) -> Bytes {
        let mut header = *checked.batch.header();
        header.base_offset = base_offset;
        header.partition_leader_epoch = self.leader_epoch;
        match log_append_time {
            Some(now) => {
                header.attributes |= LOG_APPEND_TIME_BIT;
                header.max_timestamp = now;
            }
            None => header.max_timestamp = checked.max_timestamp,
        }
        let records = &checked.batch.as_bytes()[BatchHeader::LEN..];
        let raw = header.to_bytes();
        header.crc = crc32c::crc32c_append(crc32c::crc32c(&raw[CRC_START..]), records);
        let mut out = BytesMut::with_capacity(BatchHeader::LEN + records.len());
        out.extend_from_slice(&header.to_bytes());
        out.extend_from_slice(records);
        out.freeze()
    }
}

/// The batch's last sequence, wrapping past `i32::MAX` as Kafka's does.
fn last_sequence(h: &BatchHeader) -> i32 {
    let delta = h.last_offset_delta;
    if h.base_sequence > i32::MAX - delta {
        h.base_sequence - (i32::MAX - delta) - 1
    } else {
        h.base_sequence + delta
    }
}
