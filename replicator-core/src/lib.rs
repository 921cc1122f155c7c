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
//! - [`Mirror`], [`MirrorHandle`]: the embedding API; [`mirror`] for status
//!   and summary types, [`topics`] for selection, naming and target topics,
//!   [`engine`] for the sans-io state machines.
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
pub mod cluster;
pub mod config;
pub mod connection;
pub mod engine;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
pub mod mirror;
mod sasl;
mod secret;
mod tls;
pub mod topics;
mod versions;

pub use kafka_proto;

pub use address::{BrokerAddress, BrokerLabel};
pub use backoff::Backoff;
pub use cluster::{
    AddressOverrides, Cluster, ClusterConfig, ClusterMetadata, ConnectionPool, Leader,
    LeaderRouted, MetadataScope,
};
pub use config::{
    ClientIdentity, ConnectionConfig, SaslConfig, SaslMechanism, SecurityProtocol, StoreFormat,
    TlsConfig, TrustStore,
};
pub use connection::{Connection, Connector, ManagedConnection};
pub use error::{BootstrapAttempt, Error, Result};
pub use mirror::{
    Mirror, MirrorBuilder, MirrorControl, MirrorError, MirrorHandle, Mode, PartitionError,
    PartitionState, PartitionStatus, StartFrom, Status, Summary, Totals,
};
pub use secret::Password;
pub use topics::{RenamePolicy, TopicSelection};
pub use versions::{NegotiatedVersions, Unusable};
