//! librdkafka's mock cluster (through the `rdkafka` crate, with its bundled
//! librdkafka): several brokers on loopback ports, leaders spread across
//! them, and fault injection — leader moves, brokers down and up, request
//! errors, round-trip delays. It has no SASL and no TLS.
//!
//! The cluster runs on librdkafka's own threads, so tokio tests can talk
//! to it. `MockCluster` is not `Send`: keep it on the test's thread.

use std::time::Duration;

use rdkafka::{
    mocking::MockCluster,
    producer::DefaultProducerContext,
    types::{RDKafkaApiKey, RDKafkaRespErr},
};

use crate::{HarnessError, Result};

/// A mock Kafka cluster; destroyed on drop.
pub struct MockKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
    brokers: i32,
}

impl std::fmt::Debug for MockKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockKafka")
            .field("brokers", &self.brokers)
            .field("bootstrap", &self.bootstrap())
            .finish()
    }
}

fn mock_err(what: &str) -> impl FnOnce(rdkafka::error::KafkaError) -> HarnessError + '_ {
    move |e| HarnessError::Command {
        command: format!("librdkafka mock: {what}"),
        status: "error".into(),
        stderr: e.to_string(),
    }
}

impl MockKafka {
    /// A cluster of `brokers` brokers, with node ids `1..=brokers`.
    pub fn start(brokers: i32) -> Result<Self> {
        let cluster = MockCluster::new(brokers).map_err(mock_err("creating the cluster"))?;
        Ok(Self { cluster, brokers })
    }

    /// The brokers' `127.0.0.1:port` list, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Node ids of the brokers.
    pub fn broker_ids(&self) -> Vec<i32> {
        (1..=self.brokers).collect()
    }

    /// Creates `topic` with `partitions` partitions and `replication`
    /// replicas; the mock spreads leaders over the brokers.
    pub fn create_topic(&self, topic: &str, partitions: i32, replication: i32) -> Result<()> {
        self.cluster
            .create_topic(topic, partitions, replication)
            .map_err(mock_err("create_topic"))
    }

    /// Moves the leadership of `topic`-`partition` to `broker` (bumping the
    /// leader epoch), or leaves it leaderless with `None`.
    pub fn set_leader(&self, topic: &str, partition: i32, broker: Option<i32>) -> Result<()> {
        self.cluster
            .partition_leader(topic, partition, broker)
            .map_err(mock_err("partition_leader"))
    }

    /// Disconnects `broker` and refuses new connections to it.
    pub fn broker_down(&self, broker: i32) -> Result<()> {
        self.cluster
            .broker_down(broker)
            .map_err(mock_err("broker_down"))
    }

    /// Lets `broker` accept connections again.
    pub fn broker_up(&self, broker: i32) -> Result<()> {
        self.cluster
            .broker_up(broker)
            .map_err(mock_err("broker_up"))
    }

    /// Delays every response of `broker` by `rtt`.
    pub fn broker_rtt(&self, broker: i32, rtt: Duration) -> Result<()> {
        self.cluster
            .broker_round_trip_time(broker, rtt)
            .map_err(mock_err("broker_round_trip_time"))
    }

    /// The next requests of `api` (any broker) fail with `errors`, in order.
    pub fn request_errors(&self, api: RDKafkaApiKey, errors: &[RDKafkaRespErr]) {
        self.cluster.request_errors(api, errors);
    }

    /// Restricts the version range the mock advertises for `api`.
    pub fn api_version(&self, api: RDKafkaApiKey, min: i16, max: i16) -> Result<()> {
        self.cluster
            .apiversion(api, Some(min), Some(max))
            .map_err(mock_err("apiversion"))
    }

    /// The underlying `rdkafka` mock, for anything not wrapped here.
    pub fn raw(&self) -> &MockCluster<'static, DefaultProducerContext> {
        &self.cluster
    }
}

pub use rdkafka::types::{RDKafkaApiKey as MockApiKey, RDKafkaRespErr as MockError};
