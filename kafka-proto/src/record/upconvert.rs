//! Up-converting magic 0 and 1 message sets to magic-2 batches, as Kafka
//! does when it appends old-format data to a v2 log: the same keys, values
//! and order, offsets renumbered densely, magic-1 timestamps kept (a
//! `LogAppendTime` wrapper's time for each of its inner messages), magic 0
//! without a timestamp (-1). A compressed wrapper becomes one v2 batch with
//! the wrapper's codec; runs of uncompressed messages are gathered into
//! uncompressed batches.

use bytes::Bytes;

use super::batch::TimestampType;
use super::builder::RecordBatchBuilder;
use super::compress::decompress_legacy;
use super::compression::Compression;
use super::entries::{Entries, Entry};
use super::legacy::LegacyEntry;
use super::record::Record;
use super::reencode::TranscodeError;

/// One v2 batch made from legacy entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upconverted {
    /// The batch: dense offset deltas from the source offset of its first
    /// message, no producer id, `CreateTime`, the source codec.
    pub batch: Bytes,
    /// Lowest source offset of its messages.
    pub first_offset: i64,
    /// Source offset of its last entry (for a wrapper, the wrapper's own):
    /// where a fetch goes on.
    pub last_offset: i64,
    /// Messages it holds.
    pub records: usize,
}

/// Up-converts consecutive legacy `entries` (as fetched, in offset order).
///
/// Every CRC is checked, the wrappers' and their inner messages'; the
/// entries' offsets must increase, as in any log. Wrappers are decompressed
/// to at most `cap` bytes each. Uncompressed messages are gathered into
/// batches of about `max_batch_bytes` (at least one message each).
pub fn upconvert(
    entries: &[LegacyEntry],
    cap: usize,
    max_batch_bytes: usize,
) -> Result<Vec<Upconverted>, TranscodeError> {
    let mut out = Vec::new();
    let mut run: Option<Run> = None;
    let mut previous: Option<i64> = None;
    for entry in entries {
        entry.verify_crc()?;
        if previous.is_some_and(|p| entry.offset() <= p) {
            return Err(TranscodeError::Unsupported {
                offset: entry.offset(),
                reason: "legacy entry offsets do not increase",
            });
        }
        previous = Some(entry.offset());
        if entry.compression().is_none() {
            let message = Message::of(entry, entry.offset(), effective_timestamp(entry, None));
            if run
                .as_ref()
                .is_some_and(|r| r.records > 0 && r.size + message.size() > max_batch_bytes)
            {
                out.extend(run.take().map(Run::finish).transpose()?);
            }
            run.get_or_insert_with(|| Run::new(Compression::None, &message))
                .push(message)?;
        } else {
            out.extend(run.take().map(Run::finish).transpose()?);
            out.extend(wrapper(entry, cap)?);
        }
    }
    out.extend(run.take().map(Run::finish).transpose()?);
    Ok(out)
}

/// The inner messages of a compressed wrapper as one batch (none when the
/// wrapper holds no messages).
fn wrapper(outer: &LegacyEntry, cap: usize) -> Result<Option<Upconverted>, TranscodeError> {
    let offset = outer.offset();
    let unsupported = |reason| TranscodeError::Unsupported { offset, reason };
    let value = outer
        .value()
        .ok_or(unsupported("a compressed wrapper has a null value"))?;
    let inner = decompress_legacy(outer.compression(), outer.magic(), value, cap)
        .map_err(|source| TranscodeError::Codec { offset, source })?;
    let mut entries = Entries::new(Bytes::from(inner));
    let mut inner_entries = Vec::new();
    for entry in entries.by_ref() {
        match entry.map_err(|source| TranscodeError::Records { offset, source })? {
            Entry::Legacy(e) => inner_entries.push(e),
            Entry::Batch(_) => return Err(unsupported("a legacy wrapper holds a v2 batch")),
        }
    }
    if entries.truncated_bytes() > 0 {
        return Err(unsupported(
            "a wrapper's inner message set ends in a partial message",
        ));
    }
    let Some(last) = inner_entries.last() else {
        return Ok(None);
    };
    // Magic 1 inner offsets are relative, the wrapper carrying the absolute
    // offset of the last; magic 0 inner offsets are absolute.
    let shift = if outer.magic() >= 1 {
        offset.wrapping_sub(last.offset())
    } else {
        0
    };
    let mut run: Option<Run> = None;
    for e in &inner_entries {
        e.verify_crc()?;
        if e.magic() != outer.magic() {
            return Err(unsupported(
                "an inner message's magic differs from its wrapper's",
            ));
        }
        if !e.compression().is_none() {
            return Err(unsupported("an inner message is itself compressed"));
        }
        let message = Message::of(
            e,
            e.offset().wrapping_add(shift),
            effective_timestamp(e, Some(outer)),
        );
        run.get_or_insert_with(|| Run::new(outer.compression(), &message))
            .push(message)?;
    }
    let mut converted = run.map(Run::finish).transpose()?;
    if let Some(c) = converted.as_mut() {
        // The wrapper's offset is where the log goes on, whatever offsets
        // a careless old client gave the inner messages.
        c.last_offset = offset;
        c.first_offset = c.first_offset.min(offset);
    }
    Ok(converted)
}

/// A message's timestamp as Kafka reads it: none for magic 0, the
/// wrapper's for the inner messages of a `LogAppendTime` wrapper.
fn effective_timestamp(entry: &LegacyEntry, wrapper: Option<&LegacyEntry>) -> i64 {
    let Some(own) = entry.timestamp() else {
        return -1;
    };
    match wrapper {
        Some(w) if w.timestamp_type() == Some(TimestampType::LogAppendTime) => {
            w.timestamp().unwrap_or(own)
        }
        _ => own,
    }
}

/// One message on its way into a v2 batch.
struct Message {
    offset: i64,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

impl Message {
    fn of(entry: &LegacyEntry, offset: i64, timestamp: i64) -> Self {
        Self {
            offset,
            timestamp,
            key: entry.key().cloned(),
            value: entry.value().cloned(),
        }
    }

    /// Roughly its size in a v2 batch, for splitting runs.
    fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len) + 24
    }
}

/// Messages gathered into one v2 batch.
struct Run {
    builder: RecordBatchBuilder,
    base_timestamp: i64,
    first_offset: i64,
    last_offset: i64,
    records: usize,
    size: usize,
}

impl Run {
    fn new(codec: Compression, first: &Message) -> Self {
        let mut builder = RecordBatchBuilder::new(first.offset, first.timestamp);
        builder.compression(codec);
        Self {
            builder,
            base_timestamp: first.timestamp,
            first_offset: first.offset,
            last_offset: first.offset,
            records: 0,
            size: 0,
        }
    }

    fn push(&mut self, m: Message) -> Result<(), TranscodeError> {
        let offset = m.offset;
        let size = m.size();
        let delta = i32::try_from(self.records).map_err(|_| TranscodeError::Unsupported {
            offset,
            reason: "too many messages for one batch",
        })?;
        self.builder
            .push(&Record {
                offset_delta: delta,
                timestamp_delta: m.timestamp.wrapping_sub(self.base_timestamp),
                key: m.key,
                value: m.value,
                ..Record::default()
            })
            .map_err(|source| TranscodeError::Encode { offset, source })?;
        self.first_offset = self.first_offset.min(offset);
        self.last_offset = self.last_offset.max(offset);
        self.records += 1;
        self.size += size;
        Ok(())
    }

    fn finish(self) -> Result<Upconverted, TranscodeError> {
        let offset = self.first_offset;
        let batch = self
            .builder
            .finish()
            .map_err(|source| TranscodeError::Encode { offset, source })?;
        Ok(Upconverted {
            batch,
            first_offset: self.first_offset,
            last_offset: self.last_offset,
            records: self.records,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{compress, RecordBatch};

    use crate::record::legacy::test_message as message;

    fn entries(blob: Vec<u8>) -> Vec<LegacyEntry> {
        Entries::new(blob.into())
            .map(|e| match e.unwrap() {
                Entry::Legacy(l) => l,
                Entry::Batch(_) => panic!("v2"),
            })
            .collect()
    }

    fn records(b: &Upconverted) -> Vec<(Option<Bytes>, Option<Bytes>, i64)> {
        let batch = RecordBatch::new(b.batch.clone()).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.records_count() as usize, b.records);
        assert_eq!(batch.last_offset_delta() as usize, b.records - 1);
        batch
            .decompressed_records(1 << 20)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let ts = r.timestamp(&batch);
                (r.key, r.value, ts)
            })
            .collect()
    }

    #[test]
    fn uncompressed_messages_are_gathered() {
        let mut blob = message(1, 10, 0, 111, Some(b"a"), Some(b"x"));
        blob.extend(message(1, 12, 0, 222, None, Some(b"y")));
        blob.extend(message(0, 13, 0, 0, Some(b"c"), None));
        let out = upconvert(&entries(blob), 1 << 20, 1 << 20).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].first_offset, out[0].last_offset, out[0].records),
            (10, 13, 3)
        );
        let r = records(&out[0]);
        assert_eq!(
            r[0],
            (
                Some(Bytes::from_static(b"a")),
                Some(Bytes::from_static(b"x")),
                111
            )
        );
        assert_eq!(r[1].2, 222);
        assert_eq!(r[2], (Some(Bytes::from_static(b"c")), None, -1));
        // A small batch size splits the run.
        let mut blob = message(1, 0, 0, 1, None, Some(&[1; 100]));
        blob.extend(message(1, 1, 0, 2, None, Some(&[2; 100])));
        let out = upconvert(&entries(blob), 1 << 20, 150).unwrap();
        assert_eq!(out.iter().map(|u| u.records).collect::<Vec<_>>(), [1, 1]);
    }

    #[test]
    fn wrappers_keep_their_codec_and_log_append_time() {
        for (magic, codec) in [
            (1, Compression::Gzip),
            (1, Compression::Snappy),
            (0, Compression::Lz4),
            (1, Compression::Lz4),
        ] {
            // Magic 1: relative inner offsets, wrapper at the absolute last.
            let rel = |i: i64| if magic == 1 { i } else { 40 + i };
            let mut inner = message(magic, rel(0), 0, 5, Some(b"k0"), Some(b"v0"));
            inner.extend(message(magic, rel(1), 0, 6, Some(b"k1"), None));
            let packed = compress(codec, &inner).unwrap();
            let lat = if magic == 1 { 0x08 } else { 0 };
            let outer = message(
                magic,
                41,
                codec.id() as i8 | lat,
                9_000,
                None,
                Some(&packed),
            );
            let out = upconvert(&entries(outer), 1 << 20, 1 << 20).unwrap();
            assert_eq!(out.len(), 1);
            let batch = RecordBatch::new(out[0].batch.clone()).unwrap();
            assert_eq!(batch.compression(), codec);
            assert_eq!((out[0].first_offset, out[0].last_offset), (40, 41));
            let ts = if magic == 1 { 9_000 } else { -1 };
            assert_eq!(
                records(&out[0]),
                [
                    (
                        Some(Bytes::from_static(b"k0")),
                        Some(Bytes::from_static(b"v0")),
                        ts
                    ),
                    (Some(Bytes::from_static(b"k1")), None, ts)
                ],
                "magic {magic} {codec}"
            );
        }
    }

    #[test]
    fn offsets_must_increase_and_wrappers_end_where_they_say() {
        let mut blob = message(1, 5, 0, 1, None, Some(b"a"));
        blob.extend(message(1, 5, 0, 1, None, Some(b"b")));
        let err = upconvert(&entries(blob), 1 << 20, 1 << 20).unwrap_err();
        assert!(
            matches!(err, TranscodeError::Unsupported { offset: 5, .. }),
            "{err}"
        );
        // Inner offsets out of order (old clients): kept in order, the
        // range spans them, and the batch ends at the wrapper's offset.
        let mut inner = message(1, 3, 0, 1, None, Some(b"x"));
        inner.extend(message(1, 1, 0, 1, None, Some(b"y")));
        let packed = compress(Compression::Gzip, &inner).unwrap();
        let out = upconvert(
            &entries(message(1, 50, 1, 1, None, Some(&packed))),
            1 << 20,
            1 << 20,
        )
        .unwrap();
        assert_eq!(
            (out[0].first_offset, out[0].last_offset, out[0].records),
            (50, 50, 2)
        );
        assert_eq!(records(&out[0])[0].1.as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn bad_crcs_and_nesting_are_errors() {
        let mut blob = message(1, 3, 0, 1, None, Some(b"v"));
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(matches!(
            upconvert(&entries(blob), 1 << 20, 1 << 20),
            Err(TranscodeError::Crc(_))
        ));
        let inner = message(1, 0, 1, 1, None, Some(b"nested"));
        let packed = compress(Compression::Gzip, &inner).unwrap();
        let outer = message(1, 0, 1, 1, None, Some(&packed));
        let err = upconvert(&entries(outer), 1 << 20, 1 << 20).unwrap_err();
        assert!(matches!(err, TranscodeError::Unsupported { .. }), "{err}");
        let bomb = compress(Compression::Gzip, &vec![0u8; 1 << 20]).unwrap();
        let outer = message(1, 0, 1, 1, None, Some(&bomb));
        let err = upconvert(&entries(outer), 1000, 1 << 20).unwrap_err();
        assert!(matches!(err, TranscodeError::Codec { .. }), "{err}");
    }
}
