//! Record batches: zero-copy views, splitting, rewriting and building.
//!
//! - [`Entries`] splits a fetched `records` blob into [`RecordBatch`]es
//!   (magic 2) and [`LegacyEntry`]s (magic 0 and 1), dropping a truncated
//!   trailing entry as brokers may send one.
//! - [`RecordBatch`] is a validated view over one batch: header accessors,
//!   CRC-32C checks and a lazy [`Record`] iterator for uncompressed batches.
//!   This module never compresses or decompresses.
//! - [`VerifiedBatch::rewrite`] gives a batch new producer and offset fields
//!   for forwarding, deriving the CRC from the old one so the records are
//!   neither read nor copied.
//! - [`verify_run`] checks the CRCs of consecutive batches with one pass
//!   over all of them, for speed on small batches (see its trade-off).
//! - [`RecordBatchBuilder`] writes uncompressed batches and transaction markers.
//!
//! Every view holds `bytes::Bytes` slices of its input. Lengths and counts
//! read from the wire are checked against the bytes present before use, and
//! no input makes these functions panic.

mod batch;
mod builder;
mod compression;
mod control;
mod crc;
mod entries;
mod header;
mod legacy;
// The file is named after its one type, `Record`, like its siblings.
#[allow(clippy::module_inception)]
mod record;
mod rewrite;
mod run;

pub use batch::{BatchHeader, CrcMismatch, RecordBatch, TimestampType, VerifiedBatch};
pub use builder::RecordBatchBuilder;
pub use compression::Compression;
pub use control::{ControlMarker, ControlRecord, ControlRecordType, EndTxnMarker};
pub use entries::{Entries, Entry};
pub use header::Header;
pub use legacy::LegacyEntry;
pub use record::{Record, RecordIter};
pub use rewrite::{BatchRewrite, RewrittenBatch};
pub use run::verify_run;
