//! The source log: per partition, one contiguous buffer of real magic-2
//! batches, served by slicing (Fetch responses share it, never copy it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_proto::record::RecordBatchBuilder;

/// How a log is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSpec {
    /// Partitions of the topic.
    pub partitions: usize,
    /// Records in the whole topic.
    pub records: usize,
    /// Value length of each record (the key adds about 12 bytes).
    pub value_len: usize,
    /// Records per batch.
    pub records_per_batch: usize,
    /// Batches compressed with zstd (level 3), as a producer would write them.
    pub zstd: bool,
}

impl LogSpec {
    /// About `bytes` of 1 KiB records across `partitions`, in batches of
    /// 16 records (uncompressed) or 64 records (zstd).
    pub fn with_volume(bytes: usize, partitions: usize, zstd: bool) -> Self {
        Self {
            partitions,
            records: bytes / 1024,
            value_len: 1000,
            records_per_batch: if zstd { 64 } else { 16 },
            zstd,
        }
    }
}

/// One batch's place in its partition's buffer.
#[derive(Debug, Clone, Copy)]
pub struct BatchSlot {
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Byte position in the partition buffer.
    pub pos: usize,
    /// Length in bytes.
    pub len: usize,
    /// Records in the batch.
    pub records: u32,
}

/// One partition's batches.
#[derive(Debug)]
pub struct PartitionLog {
    data: Bytes,
    slots: Vec<BatchSlot>,
    /// Batches a fetch may see; less than all while a rate is applied.
    visible: AtomicUsize,
    /// When each batch became visible (set by the releaser in latency runs).
    visible_at: Mutex<Vec<Option<Instant>>>,
}

impl PartitionLog {
    fn new(data: Bytes, slots: Vec<BatchSlot>) -> Self {
        let n = slots.len();
        Self {
            data,
            slots,
            visible: AtomicUsize::new(n),
            visible_at: Mutex::new(Vec::new()),
        }
    }

    /// An empty partition.
    pub fn empty() -> Self {
        Self::new(Bytes::new(), Vec::new())
    }

    /// Every batch, visible or not.
    pub fn slots(&self) -> &[BatchSlot] {
        &self.slots
    }

    /// The whole buffer.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Records in the partition.
    pub fn records(&self) -> u64 {
        self.slots.iter().map(|s| u64::from(s.records)).sum()
    }

    /// Offset after the last visible batch (the high watermark).
    pub fn end_offset(&self) -> i64 {
        let n = self.visible.load(Ordering::Acquire);
        match n.checked_sub(1).and_then(|i| self.slots.get(i)) {
            Some(s) => s.base_offset + i64::from(s.records),
            None => 0,
        }
    }

    /// Batches visible to fetches.
    pub fn visible(&self) -> usize {
        self.visible.load(Ordering::Acquire)
    }

    /// Hides every batch, stamps cleared (for a rate-limited release).
    pub fn hide_all(&self) {
        self.visible.store(0, Ordering::Release);
        let mut at = self.visible_at.lock().unwrap_or_else(|e| e.into_inner());
        at.clear();
        at.resize(self.slots.len(), None);
    }

    /// Makes batches up to `n` visible, stamping them with `now`.
    pub fn release_to(&self, n: usize, now: Instant) {
        let n = n.min(self.slots.len());
        {
            let mut at = self.visible_at.lock().unwrap_or_else(|e| e.into_inner());
            at.resize(self.slots.len(), None);
            for stamp in at.iter_mut().take(n).skip(self.visible()) {
                *stamp = Some(now);
            }
        }
        self.visible.store(n, Ordering::Release);
    }

    /// When the batch holding offset `offset` became visible.
    pub fn visible_at(&self, offset: i64) -> Option<Instant> {
        let i = self.slot_index(offset)?;
        let at = self.visible_at.lock().unwrap_or_else(|e| e.into_inner());
        at.get(i).copied().flatten()
    }

    /// Index of the batch holding `offset`.
    pub fn slot_index(&self, offset: i64) -> Option<usize> {
        let i = self
            .slots
            .partition_point(|s| s.base_offset + i64::from(s.records) <= offset);
        (i < self.slots.len()).then_some(i)
    }

    /// Visible batches from `offset`, whole batches only, at most
    /// `max_bytes` unless the first batch alone is larger (then just it,
    /// as Kafka does so a large batch cannot stall a consumer). `None`
    /// when `offset` is outside the log.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Option<Bytes> {
        let visible = self.visible();
        let end = self.end_offset();
        if offset == end {
            return Some(Bytes::new());
        }
        if offset < 0 || offset > end {
            return None;
        }
        let first = self.slot_index(offset)?;
        let start = self.slots[first].pos;
        let mut stop = start + self.slots[first].len;
        for s in &self.slots[first + 1..visible] {
            if s.pos + s.len - start > max_bytes {
                break;
            }
            stop = s.pos + s.len;
        }
        Some(self.data.slice(start..stop))
    }
}

/// A topic's partitions.
#[derive(Debug)]
pub struct TopicLog {
    /// Topic name.
    pub name: String,
    /// Partitions, by index.
    pub partitions: Vec<PartitionLog>,
    /// Bytes the batches would take uncompressed (equal to the batch bytes
    /// for an uncompressed log): the volume figures are per these bytes,
    /// so compressed and uncompressed runs compare per record moved.
    pub logical_bytes: u64,
}

impl TopicLog {
    /// A topic of `partitions` empty partitions (for targets and idle runs).
    pub fn empty(name: impl Into<String>, partitions: usize) -> Self {
        Self {
            name: name.into(),
            partitions: (0..partitions).map(|_| PartitionLog::empty()).collect(),
            logical_bytes: 0,
        }
    }

    /// Generates a topic: a set of distinct template batches, copied into
    /// each partition with their base offsets patched. The base offset is
    /// outside the CRC, so every copy stays a valid batch.
    pub fn generate(name: impl Into<String>, spec: &LogSpec) -> Self {
        const TEMPLATES: usize = 32;
        let per_batch = spec.records_per_batch.max(1);
        let templates: Vec<(Bytes, usize)> = (0..TEMPLATES)
            .map(|t| template(t * per_batch, per_batch, spec.value_len, spec.zstd))
            .collect();
        let mut logical_bytes = 0u64;
        let per_partition = spec.records / spec.partitions.max(1);
        let batches = per_partition.div_ceil(per_batch);
        let partitions: Vec<PartitionLog> = (0..spec.partitions)
            .map(|p| {
                let mut buf = BytesMut::new();
                let mut slots = Vec::with_capacity(batches);
                let mut offset = 0i64;
                for b in 0..batches {
                    let (t, plain_len) = &templates[(b + p) % TEMPLATES];
                    logical_bytes += *plain_len as u64;
                    let pos = buf.len();
                    buf.extend_from_slice(&offset.to_be_bytes());
                    buf.extend_from_slice(&t[8..]);
                    slots.push(BatchSlot {
                        base_offset: offset,
                        pos,
                        len: t.len(),
                        records: per_batch as u32,
                    });
                    offset += per_batch as i64;
                }
                PartitionLog::new(buf.freeze(), slots)
            })
            .collect();
        Self {
            name: name.into(),
            partitions,
            logical_bytes,
        }
    }

    /// Records in the topic.
    pub fn records(&self) -> u64 {
        self.partitions.iter().map(PartitionLog::records).sum()
    }

    /// Bytes of batches in the topic.
    pub fn bytes(&self) -> u64 {
        self.partitions.iter().map(|p| p.data.len() as u64).sum()
    }
}

/// JSON-like values with random ids and numbers: zstd shrinks them about
/// as much as real event payloads (2-3x), not the 50x+ of repeated text.
fn value(seq: usize, len: usize) -> Bytes {
    let mut x = (seq as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        // xorshift64: cheap, deterministic per record.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = String::with_capacity(len + 128);
    while out.len() < len {
        let r = next();
        out.push_str(&format!(
            "{{\"seq\":{seq},\"user\":\"u{}\",\"session\":\"{:016x}\",\"event\":\"{}\",\"path\":\"/items/{}\",\"amount\":{}.{:02}}}",
            r % 100_000,
            next(),
            ["page_view", "click", "add_to_cart", "purchase"][(r >> 20) as usize % 4],
            (r >> 32) % 5000,
            (r >> 8) % 1000,
            r % 100
        ));
    }
    out.truncate(len);
    Bytes::from(out)
}

/// One batch of `records` records starting at sequence `first`, and its
/// uncompressed length.
fn template(first: usize, records: usize, value_len: usize, zstd: bool) -> (Bytes, usize) {
    let mut b = RecordBatchBuilder::new(0, 1_700_000_000_000);
    for i in 0..records {
        let seq = first + i;
        // The builder refuses only batches over 2 GiB.
        let _ = b.append(
            Some(Bytes::from(format!("key-{seq}"))),
            Some(value(seq, value_len)),
        );
    }
    let plain = b.build().unwrap_or_default();
    let plain_len = plain.len();
    if !zstd {
        return (plain, plain_len);
    }
    let batch = crate::input::try_zstd_batch(&plain).unwrap_or(plain);
    (batch, plain_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::record::{Entries, Entry};

    #[test]
    fn generated_batches_are_valid_and_contiguous() {
        for zstd in [false, true] {
            let spec = LogSpec {
                partitions: 2,
                records: 2 * 64 * 5,
                value_len: 100,
                records_per_batch: 64,
                zstd,
            };
            let topic = TopicLog::generate("t", &spec);
            assert_eq!(topic.records(), 640);
            if zstd {
                let ratio = topic.logical_bytes as f64 / topic.bytes() as f64;
                assert!((1.5..6.0).contains(&ratio), "zstd ratio {ratio}");
            } else {
                assert_eq!(topic.logical_bytes, topic.bytes());
            }
            for p in &topic.partitions {
                let mut next = 0;
                for e in Entries::new(p.data().clone()) {
                    let Ok(Entry::Batch(b)) = e else {
                        panic!("not a batch: {e:?}")
                    };
                    b.verify_crc().expect("crc");
                    assert_eq!(b.base_offset(), next);
                    assert_eq!(b.compression().is_none(), !zstd);
                    next = b.next_offset();
                }
                assert_eq!(next, 320);
            }
        }
    }

    #[test]
    fn read_returns_whole_batches_within_the_limit() {
        let spec = LogSpec {
            partitions: 1,
            records: 100,
            value_len: 100,
            records_per_batch: 10,
            zstd: false,
        };
        let topic = TopicLog::generate("t", &spec);
        let p = &topic.partitions[0];
        let one = p.slots()[0].len;
        assert_eq!(
            p.read(0, 1).map(|b| b.len()),
            Some(one),
            "first batch always"
        );
        let two = p.slots()[1].len + p.slots()[2].len;
        assert_eq!(p.read(15, two).map(|b| b.len()), Some(two));
        assert_eq!(p.read(15, two - 1).map(|b| b.len()), Some(p.slots()[1].len));
        assert_eq!(p.read(100, 1 << 20).map(|b| b.len()), Some(0));
        assert!(p.read(101, 1 << 20).is_none());
        p.hide_all();
        assert_eq!(p.end_offset(), 0);
        p.release_to(3, Instant::now());
        assert_eq!(p.end_offset(), 30);
        assert!(p.visible_at(29).is_some());
        assert!(p.visible_at(30).is_none());
    }
}
