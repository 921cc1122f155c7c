//! Splitting a fetched `records` blob into batches and legacy entries.

use std::iter::FusedIterator;

use bytes::Bytes;

use super::batch::{check_batch_length, RecordBatch, LOG_OVERHEAD, MAGIC_OFFSET};
use super::legacy::{check_size, LegacyEntry};
use crate::error::{DecodeError, DecodeErrorKind};

/// Bytes needed to see an entry's length and magic byte.
const PREFIX_LEN: usize = MAGIC_OFFSET + 1;

/// One entry of a records blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A magic-2 record batch.
    Batch(RecordBatch),
    /// A magic-0 or magic-1 entry from an old log segment.
    Legacy(LegacyEntry),
}

impl Entry {
    /// Format version of the entry.
    pub fn magic(&self) -> i8 {
        match self {
            Entry::Batch(b) => b.magic(),
            Entry::Legacy(l) => l.magic(),
        }
    }

    /// Last offset the entry covers.
    pub fn last_offset(&self) -> i64 {
        match self {
            Entry::Batch(b) => b.last_offset(),
            Entry::Legacy(l) => l.last_offset(),
        }
    }

    /// The offset after this entry: where a fetch continues.
    pub fn next_offset(&self) -> i64 {
        match self {
            Entry::Batch(b) => b.next_offset(),
            Entry::Legacy(l) => l.next_offset(),
        }
    }

    /// The entry exactly as received.
    pub fn as_bytes(&self) -> &Bytes {
        match self {
            Entry::Batch(b) => b.as_bytes(),
            Entry::Legacy(l) => l.as_bytes(),
        }
    }
}

/// Iterator over the entries of a `records` blob, as fetched.
///
/// Each entry is a zero-copy slice of the blob. A truncated entry at the end
/// (brokers may cut the last batch at the fetch size limit) ends iteration
/// without an error; [`Entries::truncated_bytes`] then says how many bytes
/// were dropped. A structurally invalid entry (unknown magic, a length
/// smaller than the format's fixed fields) yields an error, with offsets
/// from the start of the blob, and ends iteration.
///
/// CRCs are not checked here; see [`RecordBatch::verify`].
#[derive(Debug, Clone)]
pub struct Entries {
    blob: Bytes,
    pos: usize,
    done: bool,
    truncated: usize,
}

impl Entries {
    /// Splits `blob`, lazily.
    pub fn new(blob: Bytes) -> Self {
        Self {
            blob,
            pos: 0,
            done: false,
            truncated: 0,
        }
    }

    /// Offset in the blob of the next entry.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes of a truncated trailing entry that were dropped; 0 until
    /// iteration has reached the end, or if nothing was dropped.
    pub fn truncated_bytes(&self) -> usize {
        self.truncated
    }

    fn step(&mut self) -> Result<Option<Entry>, DecodeError> {
        let start = self.pos;
        let available = self.blob.len() - start;
        if available < PREFIX_LEN {
            self.truncated = available;
            return Ok(None);
        }
        // The prefix is present (checked above): read it in place.
        let prefix = &self.blob[start..start + PREFIX_LEN];
        let size = i32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
        let magic = prefix[MAGIC_OFFSET] as i8;
        // Reject what can never be valid before waiting for the rest of it.
        match magic {
            2 => check_batch_length(size),
            0 | 1 => check_size(magic, size),
            _ => Err(DecodeError::new(
                "Entry.magic",
                MAGIC_OFFSET,
                DecodeErrorKind::Invalid("unknown magic byte"),
            )),
        }
        .map_err(|e| shifted(e, start))?;
        // Positive after the checks above, so no overflow.
        let total = LOG_OVERHEAD as u64 + size as u64;
        if total > available as u64 {
            self.truncated = available;
            return Ok(None);
        }
        let end = start + total as usize;
        let bytes = self.blob.slice(start..end);
        let entry = if magic == 2 {
            Entry::Batch(RecordBatch::new(bytes).map_err(|e| shifted(e, start))?)
        } else {
            Entry::Legacy(LegacyEntry::new(bytes).map_err(|e| shifted(e, start))?)
        };
        self.pos = end;
        Ok(Some(entry))
    }
}

/// Moves an error's offset from the start of an entry to the start of the blob.
fn shifted(mut err: DecodeError, entry_start: usize) -> DecodeError {
    err.offset = err.offset.saturating_add(entry_start);
    err
}

impl Iterator for Entries {
    type Item = Result<Entry, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

impl FusedIterator for Entries {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_blobs_end_quietly() {
        assert!(Entries::new(Bytes::new()).next().is_none());
        let mut it = Entries::new(Bytes::from_static(&[0; 10]));
        assert!(it.next().is_none());
        assert_eq!(it.truncated_bytes(), 10);
    }

    #[test]
    fn unknown_magic_and_tiny_lengths_are_errors() {
        let mut raw = [0u8; 30];
        raw[16] = 7;
        let err = Entries::new(Bytes::copy_from_slice(&raw))
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!((err.field, err.offset), ("Entry.magic", 16));

        raw[16] = 2;
        raw[11] = 20; // batchLength 20 < 49
        let err = Entries::new(Bytes::copy_from_slice(&raw))
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.field, "RecordBatch.batchLength");
    }
}
