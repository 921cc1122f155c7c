//! The embedding API: [`Mirror::builder`] configures a mirror from a source
//! to a target cluster, [`Mirror::start`] runs it and returns a
//! [`MirrorHandle`].
//!
//! # Metrics
//!
//! Besides [`MirrorHandle::status`], a running mirror reports through the
//! [`metrics`](https://docs.rs/metrics) facade: install a recorder (e.g. a
//! Prometheus exporter) **before** [`Mirror::start`], since each
//! partition's handles are registered with the recorder in place when the
//! partition joins the mirror. Without a recorder this costs nothing.
//!
//! The supervisor publishes every 50 ms and once more when the mirror ends,
//! from the same per-partition [`Totals`] that [`Status`] and [`Summary`]
//! show; counters grow by the difference since the previous publish, so
//! they never count twice. Every metric carries the labels `group` (the
//! consumer group), `source_topic`, `target_topic` and `partition`. The
//! names are also constants in [`crate::engine::metrics`].
//!
//! | Name | Kind | Unit | What |
//! | --- | --- | --- | --- |
//! | `replicator_mirror_records_total` | counter | records | Records acknowledged by the target |
//! | `replicator_mirror_bytes_total` | counter | bytes | Batch bytes acknowledged by the target |
//! | `replicator_mirror_batches_total` | counter | batches | Batches acknowledged by the target |
//! | `replicator_mirror_errors_total` | counter | errors | Errors seen, retried or not |
//! | `replicator_mirror_aborted_batches_dropped_total` | counter | batches | Batches of aborted transactions dropped |
//! | `replicator_mirror_control_batches_dropped_total` | counter | batches | Control batches (transaction markers) dropped |
//! | `replicator_mirror_lost_offsets_total` | counter | offsets | Source offsets skipped after OFFSET_OUT_OF_RANGE (data gone from the source before it was mirrored) |
//! | `replicator_mirror_lag_records` | gauge | records | Records on the source (up to the last high watermark seen) not yet acknowledged by the target |
//! | `replicator_mirror_bytes_in_flight` | gauge | bytes | Bytes fetched and not yet acknowledged by the target |

mod builder;
mod handle;

pub use builder::{Mirror, MirrorBuilder};
pub use handle::{MirrorControl, MirrorHandle};
