//! Record batches: zero-copy views, splitting, rewriting, building and,
//! for batches that cannot be forwarded whole, re-encoding.
//!
//! - [`Entries`] splits a fetched `records` blob into [`RecordBatch`]es
//!   (magic 2) and [`LegacyEntry`]s (magic 0 and 1), dropping a truncated
//!   trailing entry as brokers may send one.
//! - [`RecordBatch`] is a validated view over one batch: header accessors,
//!   CRC-32C checks and a lazy [`Record`] iterator
//!   ([`RecordBatch::decompressed_records`] for compressed batches).
//! - [`VerifiedBatch::rewrite`] gives a batch new producer and offset fields
//!   for forwarding, deriving the CRC from the old one so the records are
//!   neither read nor copied.
//! - [`verify_run`] checks the CRCs of consecutive batches with one pass
//!   over all of them, for speed on small batches (see its trade-off).
//! - [`RecordBatchBuilder`] writes batches, compressed or not, and
//!   transaction markers.
//! - [`BatchHeader::disposition`] says from header fields alone whether a
//!   fetched batch can go to a strict target whole, or must be dropped,
//!   re-encoded ([`reencode`]: compaction's offset holes) or up-converted
//!   ([`upconvert`]: magic 0 and 1).
//! - [`compress`] and [`decompress`] run Kafka's codecs, decompression
//!   bounded by a cap.
//!
//! Every view holds `bytes::Bytes` slices of its input. Lengths and counts
//! read from the wire are checked against the bytes present (or, for
//! decompressed data, a cap) before use, and no input makes these functions
//! panic.

mod batch;
mod builder;
mod compress;
mod compression;
mod control;
mod crc;
mod disposition;
mod entries;
mod header;
pub(crate) mod legacy;
// The file is named after its one type, `Record`, like its siblings.
#[allow(clippy::module_inception)]
mod record;
mod reencode;
mod rewrite;
mod run;
mod upconvert;

pub use batch::{BatchHeader, CrcMismatch, RecordBatch, TimestampType, VerifiedBatch};
pub use builder::RecordBatchBuilder;
pub use compress::{compress, decompress, decompress_legacy, CodecError};
pub use compression::Compression;
pub use control::{ControlMarker, ControlRecord, ControlRecordType, EndTxnMarker};
pub use disposition::Disposition;
pub use entries::{Entries, Entry};
pub use header::Header;
pub use legacy::LegacyEntry;
pub use record::{Record, RecordIter};
pub use reencode::{reencode, TranscodeError};
pub use rewrite::{BatchRewrite, RewrittenBatch};
pub use run::verify_run;
pub use upconvert::{upconvert, Upconverted};
