//! One face for the real brokers a mirror test runs against, so that the
//! same scenario runs with Apache Kafka (the judge) and with Tansu.

use crate::kafka::{self, KafkaCluster};
use crate::strict_front::StrictFront;
use crate::{Result, StrictTansu, TansuBroker};

/// A running broker (or cluster) a test can create topics on and read.
pub trait TestPeer {
    /// What it is, for messages: `Tansu 0.6`, `Apache Kafka 4.4.0`.
    fn name(&self) -> String;
    /// `bootstrap.servers` (plaintext).
    fn bootstrap(&self) -> String;
    /// Creates `topic` with `partitions` partitions.
    fn create_topic(&self, topic: &str, partitions: i32) -> Result<()>;
    /// Every topic's name.
    fn list_topics(&self) -> Result<Vec<String>>;
    /// The tail of its log, for failure messages.
    fn log(&self) -> String;
    /// Whether its offsets count records only (Tansu: committed
    /// transactions' markers take no offset) rather than Kafka's (a
    /// transaction marker takes one).
    fn markers_take_offsets(&self) -> bool;
    /// The strict front before it, when the broker itself is lenient and a
    /// front applies Kafka's rules for it.
    fn strict_front(&self) -> Option<&StrictFront> {
        None
    }
}

impl TestPeer for TansuBroker {
    fn name(&self) -> String {
        "Tansu".into()
    }
    fn bootstrap(&self) -> String {
        TansuBroker::bootstrap(self)
    }
    fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        TansuBroker::create_topic(self, topic, partitions)
    }
    fn list_topics(&self) -> Result<Vec<String>> {
        TansuBroker::list_topics(self)
    }
    fn log(&self) -> String {
        format!("--- Tansu log ---\n{}", TansuBroker::log(self))
    }
    fn markers_take_offsets(&self) -> bool {
        false
    }
}

impl TestPeer for StrictTansu {
    fn name(&self) -> String {
        "Tansu behind a strict front".into()
    }
    fn bootstrap(&self) -> String {
        StrictTansu::bootstrap(self)
    }
    fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        TansuBroker::create_topic(self, topic, partitions)
    }
    fn list_topics(&self) -> Result<Vec<String>> {
        TansuBroker::list_topics(self)
    }
    fn log(&self) -> String {
        format!("--- Tansu log ---\n{}", TansuBroker::log(self))
    }
    fn markers_take_offsets(&self) -> bool {
        false
    }
    fn strict_front(&self) -> Option<&StrictFront> {
        Some(self.front())
    }
}

impl TestPeer for KafkaCluster {
    fn name(&self) -> String {
        self.line().to_string()
    }
    fn bootstrap(&self) -> String {
        KafkaCluster::bootstrap(self)
    }
    fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        KafkaCluster::create_topic(self, topic, partitions)
    }
    fn list_topics(&self) -> Result<Vec<String>> {
        KafkaCluster::list_topics(self)
    }
    fn log(&self) -> String {
        KafkaCluster::log(self)
    }
    fn markers_take_offsets(&self) -> bool {
        true
    }
}

/// Which real broker a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// A fresh Tansu broker per side, the target behind a strict front
    /// that refuses what Apache Kafka refuses.
    Tansu,
    /// The binary's shared Apache Kafka pair ([`kafka::shared_pair`]).
    Kafka,
}

/// A source and a target of `kind`, and a prefix that keeps this test's
/// topic and group names apart from the other tests on a shared cluster.
pub struct Peers {
    /// The source.
    pub source: Box<dyn TestPeer + Send + Sync>,
    /// The target.
    pub target: Box<dyn TestPeer + Send + Sync>,
    ns: String,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers")
            .field("source", &self.source.bootstrap())
            .field("target", &self.target.bootstrap())
            .field("ns", &self.ns)
            .finish()
    }
}

impl<T: TestPeer + ?Sized> TestPeer for &T {
    fn name(&self) -> String {
        (**self).name()
    }
    fn bootstrap(&self) -> String {
        (**self).bootstrap()
    }
    fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        (**self).create_topic(topic, partitions)
    }
    fn list_topics(&self) -> Result<Vec<String>> {
        (**self).list_topics()
    }
    fn log(&self) -> String {
        (**self).log()
    }
    fn markers_take_offsets(&self) -> bool {
        (**self).markers_take_offsets()
    }
    fn strict_front(&self) -> Option<&StrictFront> {
        (**self).strict_front()
    }
}

impl Peers {
    /// A source and a target of `kind`; `test` (the test's name) makes the
    /// names of its topics and groups unique on a shared cluster.
    pub fn start(kind: PeerKind, test: &str) -> Self {
        match kind {
            PeerKind::Tansu => Self {
                source: Box::new(TansuBroker::start().unwrap_or_else(|e| panic!("{e}"))),
                target: Box::new(StrictTansu::start().unwrap_or_else(|e| panic!("{e}"))),
                ns: String::new(),
            },
            PeerKind::Kafka => {
                let (s, t) = kafka::shared_pair();
                Self {
                    source: Box::new(s),
                    target: Box::new(t),
                    ns: format!("{test}."),
                }
            }
        }
    }

    /// `name` made unique to this test (unchanged on fresh brokers).
    pub fn name(&self, name: &str) -> String {
        format!("{}{name}", self.ns)
    }

    /// The logs of both sides, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- source ({}) ---\n{}\n--- target ({}) ---\n{}",
            self.source.name(),
            self.source.log(),
            self.target.name(),
            self.target.log()
        )
    }
}
