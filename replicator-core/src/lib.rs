//! `replicator-core` will be the engine that copies topics from one Kafka
//! cluster to another by forwarding whole record batches: Fetch from the
//! source, rewrite only each batch's 61-byte header, Produce to the target.
//!
//! Connections, metadata routing and the forwarding engine are not built
//! yet; today this crate only re-exports the codec it will stand on.
//!
//! ```
//! use replicator_core::kafka_proto::ApiKey;
//! assert_eq!(ApiKey::Fetch.key(), 1);
//! ```

#![forbid(unsafe_code)]

pub use kafka_proto;
