//! `replicator-core` is the embeddable engine that copies topics from one
//! Kafka cluster to another by forwarding whole record batches: fetched
//! (read_committed), CRC-checked, their 61-byte headers rewritten for an
//! idempotent producer on the target, and produced — records are never
//! decompressed or re-encoded. At-least-once, in order, with offsets
//! committed to a source consumer group only once the target has them.
//!
//! ```no_run
//! use replicator_core::{ClusterConfig, Mirror, RenamePolicy};
//!
//! # async fn run() -> Result<(), replicator_core::MirrorError> {
//! let handle = Mirror::builder()
//!     .source(ClusterConfig::new("source-kafka:9092"))
//!     .target(ClusterConfig::new("target-kafka:9092"))
//!     .topics(["orders"])
//!     .include(r"payments\..*")
//!     .rename(RenamePolicy::prefix("east"))
//!     .group_id("mirror-east-to-west")
//!     .build()?
//!     .start()
//!     .await?;
//! for p in handle.status().partitions {
//!     println!("{}-{} {} lag {}", p.source_topic, p.partition, p.state, p.lag);
//! }
//! let summary = handle.stop().await?; // drains, commits
//! println!("{summary}");
//! # Ok(())
//! # }
//! ```
//!
//! - [`Mirror`], [`MirrorBuilder`], [`MirrorHandle`], [`MirrorControl`]:
//!   the embedding API. [`Status`] and [`Summary`] say what a mirror did,
//!   [`MirrorError`] and [`PartitionError`] why it stopped;
//!   [`TopicSelection`] and [`RenamePolicy`] choose topics and name them on
//!   the target; [`metric_names`] lists the metrics it reports.
//!
//! Below the mirror, this crate reaches real clusters: connections over
//! TCP, TLS and SASL, API version negotiation, cluster metadata, and
//! routing of each request to its partition leader.
//!
//! - [`Connection`]: one broker. Negotiates versions with ApiVersions,
//!   pipelines requests matched by correlation id, times each request out,
//!   and speaks `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` and `SASL_SSL`
//!   (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, with KIP-368 re-authentication).
//!   [`ManagedConnection`] reconnects with capped exponential backoff.
//! - [`Cluster`]: bootstrap from a list of addresses, metadata refreshed
//!   periodically and when leadership moves, a [`ConnectionPool`] that routes
//!   requests to partition leaders, and [`AddressOverrides`] for brokers
//!   behind NAT or proxies.
//!
//! Every error ([`Error`]) says what failed, on which broker (and topic or
//! partition), and what to do. Passwords ([`Password`]) never appear in
//! logs, `Debug` output or errors.
//!
//! # Example
//!
//! Connect over SASL_SSL with SCRAM, find a partition's leader and ask it
//! for the partition's end offset:
//!
//! ```no_run
//! use replicator_core::kafka_proto::messages::list_offsets_request::{
//!     ListOffsetsPartition, ListOffsetsTopic,
//! };
//! use replicator_core::kafka_proto::messages::ListOffsetsRequest;
//! use replicator_core::{Cluster, ClusterConfig, SaslConfig, SecurityProtocol, TlsConfig};
//!
//! # async fn run() -> Result<(), replicator_core::Error> {
//! let mut config = ClusterConfig::new("kafka-1.example.com:9093,kafka-2.example.com:9093");
//! config.connection.security_protocol = SecurityProtocol::SaslSsl;
//! config.connection.tls = TlsConfig::with_ca_file("/etc/kafka/ca.pem");
//! config.connection.sasl = Some(SaslConfig::scram_sha512("replicator", "s3cret"));
//!
//! let cluster = Cluster::connect(config).await?;
//! let response = cluster
//!     .send_to_leader("orders", 0, |leader, _version| ListOffsetsRequest {
//!         replica_id: -1,
//!         topics: vec![ListOffsetsTopic {
//!             name: leader.topic.clone(),
//!             partitions: vec![ListOffsetsPartition {
//!                 partition_index: leader.partition,
//!                 current_leader_epoch: leader.leader_epoch,
//!                 timestamp: -1, // latest
//!                 ..Default::default()
//!             }],
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("end offset: {}", response.topics[0].partitions[0].offset);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod address;
mod backoff;
mod cluster;
mod config;
mod connection;
mod engine;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
mod mirror;
mod model;
mod sasl;
mod secret;
mod tls;
mod topics;
mod versions;

pub use kafka_proto;

pub use address::{BrokerAddress, BrokerLabel};
pub use backoff::Backoff;
pub use cluster::{
    parse_bootstrap, AddressOverrides, BrokerMetadata, Cluster, ClusterConfig, ClusterMetadata,
    ConnectionPool, Leader, LeaderHints, LeaderRouted, MetadataScope, PartitionMetadata,
    PartitionOutcome, TopicMetadata,
};
pub use config::{
    ClientIdentity, ConnectionConfig, SaslConfig, SaslMechanism, SecurityProtocol, StoreFormat,
    TlsConfig, TrustStore,
};
pub use connection::{Connection, Connector, DisconnectHook, ManagedConnection, PendingResponse};
pub use engine::metrics as metric_names;
pub use error::{BootstrapAttempt, Error, Result};
pub use mirror::{Mirror, MirrorBuilder, MirrorControl, MirrorHandle};
pub use model::{
    MirrorConfig, MirrorError, Mode, PartitionError, PartitionState, PartitionStatus, RenamePolicy,
    StartFrom, Status, Summary, ThrottleStatus, TopicSelection, Totals,
};
pub use secret::Password;
pub use topics::SYNCED_CONFIGS;
pub use versions::{NegotiatedVersions, Unusable};

/// The engine's sans-io core, for the deterministic simulation and the
/// benches: not a stable API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::engine::{
        CommitEntry, CommitGate, CommitId, CommitToSend, EngineEvent, EngineState, FetchConnection,
        FetchFailure, FetchFailureKind, FetchId, FetchToSend, LogBounds, PartitionKey,
        PlannedFetch, PositionAnswer, PositionFailure, PositionId, PositionPurpose,
        PositionRequest, ProduceBatch, ProduceId, ProduceToSend, Side, ToSend, TopicSetup,
    };
}
