//! What a target bench broker received: per partition, records, batches,
//! bytes, and (in latency runs) when each batch arrived.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// One partition's produced data.
#[derive(Debug, Clone, Default)]
pub struct PartitionTally {
    /// Records appended (also the next offset).
    pub records: u64,
    /// Batches appended.
    pub batches: u64,
    /// Batch bytes appended.
    pub bytes: u64,
    /// For each batch, the record count after it and when it arrived.
    pub arrivals: Vec<(u64, Instant)>,
}

/// Every partition's tally; updated by Produce handling.
#[derive(Debug, Default)]
pub struct Tally {
    parts: Mutex<HashMap<(String, i32), PartitionTally>>,
    record_arrivals: bool,
    crc_errors: Mutex<u64>,
}

impl Tally {
    /// A tally that also stamps each batch's arrival.
    pub fn with_arrivals(on: bool) -> Self {
        Self {
            record_arrivals: on,
            ..Self::default()
        }
    }

    /// Appends one partition's verified batches; returns the base offset.
    pub fn append(&self, topic: &str, partition: i32, batches: &[(u32, usize)]) -> i64 {
        let now = Instant::now();
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        let t = parts.entry((topic.to_owned(), partition)).or_default();
        let base = t.records as i64;
        for &(records, len) in batches {
            t.records += u64::from(records);
            t.batches += 1;
            t.bytes += len as u64;
            if self.record_arrivals {
                t.arrivals.push((t.records, now));
            }
        }
        base
    }

    /// Counts a batch refused for its CRC.
    pub fn crc_error(&self) {
        *self.crc_errors.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    /// Batches refused for their CRC.
    pub fn crc_errors(&self) -> u64 {
        *self.crc_errors.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records received, all partitions.
    pub fn records(&self) -> u64 {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.values().map(|t| t.records).sum()
    }

    /// Batch bytes received, all partitions.
    pub fn bytes(&self) -> u64 {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.values().map(|t| t.bytes).sum()
    }

    /// Batches received, all partitions.
    pub fn batches(&self) -> u64 {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.values().map(|t| t.batches).sum()
    }

    /// A copy of every partition's tally.
    pub fn snapshot(&self) -> HashMap<(String, i32), PartitionTally> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
