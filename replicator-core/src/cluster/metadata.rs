//! A snapshot of cluster metadata: brokers, topics, topic IDs, partitions,
//! leaders and leader epochs; built from Metadata responses and updated by
//! the CurrentLeader hints of Fetch and Produce responses (KIP-951).

use std::collections::{BTreeMap, HashMap};

use kafka_proto::messages::MetadataResponse;
use kafka_proto::{ErrorCode, Uuid};

use crate::address::BrokerAddress;
use crate::error::Error;

/// A broker as metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMetadata {
    /// Node id.
    pub node_id: i32,
    /// Advertised address (before overrides).
    pub address: BrokerAddress,
    /// Rack, when set.
    pub rack: Option<String>,
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Leader node id, or -1 when there is none.
    pub leader_id: i32,
    /// Leader epoch, or -1 when the broker does not say (Metadata < v7).
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Offline replica node ids.
    pub offline_replicas: Vec<i32>,
    /// Partition-level error from metadata (e.g. LEADER_NOT_AVAILABLE).
    pub error: ErrorCode,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Name.
    pub name: String,
    /// Topic ID (zero when the broker predates Metadata v10).
    pub id: Uuid,
    /// Whether it is internal (e.g. `__consumer_offsets`).
    pub is_internal: bool,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionMetadata>,
}

/// Where to send a partition's leader-only requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// Topic name.
    pub topic: String,
    /// Topic ID (zero when unknown).
    pub topic_id: Uuid,
    /// Partition.
    pub partition: i32,
    /// Leader node id.
    pub node_id: i32,
    /// Leader epoch (-1 when unknown), for `CurrentLeaderEpoch` fields.
    pub leader_epoch: i32,
    /// The leader's advertised address.
    pub address: BrokerAddress,
}

/// Brokers and topics at one point in time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// Cluster id, when the broker sends one.
    pub cluster_id: Option<String>,
    /// Controller node id (-1 when unknown).
    pub controller_id: i32,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerMetadata>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicMetadata>,
    /// Topic-level errors of the last refresh, by name (topics that are
    /// missing or not ready).
    pub topic_errors: BTreeMap<String, ErrorCode>,
    ids: HashMap<Uuid, String>,
}

impl ClusterMetadata {
    /// The snapshot a Metadata response describes.
    pub fn from_response(response: &MetadataResponse) -> Self {
        let mut m = Self {
            cluster_id: response.cluster_id.clone(),
            controller_id: response.controller_id,
            ..Self::default()
        };
        for b in &response.brokers {
            let Ok(port) = u16::try_from(b.port) else {
                tracing::warn!(node_id = b.node_id, port = b.port, host = %b.host, "metadata lists a broker with an invalid port; ignoring it");
                continue;
            };
            if port == 0 || b.host.is_empty() {
                tracing::warn!(node_id = b.node_id, host = %b.host, "metadata lists a broker without an address; ignoring it");
                continue;
            }
            m.brokers.insert(
                b.node_id,
                BrokerMetadata {
                    node_id: b.node_id,
                    address: BrokerAddress::new(b.host.clone(), port),
                    rack: b.rack.clone(),
                },
            );
        }
        m.merge_topics(response);
        m
    }

    /// Replaces the topics `response` describes, keeping the others (for
    /// refreshes of some topics only).
    pub fn merge_topics(&mut self, response: &MetadataResponse) {
        for t in &response.topics {
            let Some(name) = t.name.clone() else { continue };
            let code = ErrorCode(t.error_code);
            if !code.is_ok() && t.partitions.is_empty() {
                self.remove_topic(&name);
                self.topic_errors.insert(name, code);
                continue;
            }
            self.topic_errors.remove(&name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        PartitionMetadata {
                            partition: p.partition_index,
                            leader_id: p.leader_id,
                            leader_epoch: p.leader_epoch,
                            replicas: p.replica_nodes.clone(),
                            isr: p.isr_nodes.clone(),
                            offline_replicas: p.offline_replicas.clone(),
                            error: ErrorCode(p.error_code),
                        },
                    )
                })
                .collect();
            self.remove_topic(&name);
            if t.topic_id != Uuid::ZERO {
                self.ids.insert(t.topic_id, name.clone());
            }
            self.topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    id: t.topic_id,
                    is_internal: t.is_internal,
                    partitions,
                },
            );
        }
    }

    fn remove_topic(&mut self, name: &str) {
        if let Some(old) = self.topics.remove(name) {
            self.ids.remove(&old.id);
        }
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name)
    }

    /// A topic by ID.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicMetadata> {
        self.ids.get(&id).and_then(|n| self.topics.get(n))
    }

    /// A broker by node id.
    pub fn broker(&self, node_id: i32) -> Option<&BrokerMetadata> {
        self.brokers.get(&node_id)
    }

    /// The leader of `topic`-`partition`, or why there is none.
    pub fn leader(&self, topic: &str, partition: i32) -> Result<Leader, Error> {
        let t = self.topics.get(topic).ok_or_else(|| Error::UnknownTopic {
            topic: topic.to_owned(),
            code: self.topic_errors.get(topic).copied(),
        })?;
        let p = t
            .partitions
            .get(&partition)
            .ok_or_else(|| Error::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                count: t.partitions.len(),
            })?;
        if p.leader_id < 0 {
            let reason = if p.error.is_ok() {
                "metadata lists no leader".to_owned()
            } else {
                format!("metadata says {}", p.error.name())
            };
            return Err(Error::NoLeader {
                topic: topic.to_owned(),
                partition,
                reason,
            });
        }
        let broker = self.brokers.get(&p.leader_id).ok_or(Error::UnknownBroker {
            node_id: p.leader_id,
        })?;
        Ok(Leader {
            topic: topic.to_owned(),
            topic_id: t.id,
            partition,
            node_id: p.leader_id,
            leader_epoch: p.leader_epoch,
            address: broker.address.clone(),
        })
    }

    /// Applies a CurrentLeader hint from a Fetch or Produce response:
    /// the new leader is taken when its epoch is newer than the one known
    /// (or none is known) and the broker is known. Returns whether anything
    /// changed.
    pub fn apply_leader_hint(
        &mut self,
        topic: &str,
        partition: i32,
        leader_id: i32,
        leader_epoch: i32,
    ) -> bool {
        if leader_id < 0 || leader_epoch < 0 || !self.brokers.contains_key(&leader_id) {
            return false;
        }
        let Some(p) = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.partitions.get_mut(&partition))
        else {
            return false;
        };
        if p.leader_epoch >= 0 && leader_epoch <= p.leader_epoch {
            return false;
        }
        p.leader_id = leader_id;
        p.leader_epoch = leader_epoch;
        p.error = ErrorCode::NONE;
        true
    }

    /// Adds or updates a broker from a response's NodeEndpoints.
    pub fn apply_node_endpoint(
        &mut self,
        node_id: i32,
        host: &str,
        port: i32,
        rack: Option<String>,
    ) {
        let Ok(port) = u16::try_from(port) else {
            return;
        };
        if port == 0 || host.is_empty() {
            return;
        }
        self.brokers.insert(
            node_id,
            BrokerMetadata {
                node_id,
                address: BrokerAddress::new(host, port),
                rack,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    pub(crate) fn response() -> MetadataResponse {
        MetadataResponse {
            brokers: vec![
                MetadataResponseBroker {
                    node_id: 1,
                    host: "b1".into(),
                    port: 9092,
                    ..Default::default()
                },
                MetadataResponseBroker {
                    node_id: 2,
                    host: "b2".into(),
                    port: 9092,
                    ..Default::default()
                },
                MetadataResponseBroker {
                    node_id: 3,
                    host: "bad".into(),
                    port: -5,
                    ..Default::default()
                },
            ],
            cluster_id: Some("c".into()),
            controller_id: 1,
            topics: vec![
                MetadataResponseTopic {
                    name: Some("orders".into()),
                    topic_id: Uuid::from_bytes([7; 16]),
                    partitions: vec![
                        MetadataResponsePartition {
                            partition_index: 0,
                            leader_id: 1,
                            leader_epoch: 4,
                            replica_nodes: vec![1, 2],
                            isr_nodes: vec![1, 2],
                            ..Default::default()
                        },
                        MetadataResponsePartition {
                            partition_index: 1,
                            leader_id: -1,
                            leader_epoch: 2,
                            error_code: ErrorCode::LEADER_NOT_AVAILABLE.code(),
                            ..Default::default()
                        },
                        MetadataResponsePartition {
                            partition_index: 2,
                            leader_id: 9,
                            leader_epoch: 0,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
                MetadataResponseTopic {
                    name: Some("missing".into()),
                    error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn builds_brokers_topics_ids_and_leaders() {
        let m = ClusterMetadata::from_response(&response());
        assert_eq!(m.brokers.len(), 2, "the broker with a bad port is skipped");
        assert_eq!(m.cluster_id.as_deref(), Some("c"));
        let t = m.topic("orders").unwrap();
        assert_eq!(t.partitions.len(), 3);
        assert_eq!(
            m.topic_by_id(Uuid::from_bytes([7; 16])).unwrap().name,
            "orders"
        );
        let l = m.leader("orders", 0).unwrap();
        assert_eq!(
            (l.node_id, l.leader_epoch, l.address.to_string()),
            (1, 4, "b1:9092".into())
        );
        assert_eq!(l.topic_id, Uuid::from_bytes([7; 16]));
    }

    #[test]
    fn leader_errors_say_what_is_wrong() {
        let m = ClusterMetadata::from_response(&response());
        let e = m.leader("orders", 1).unwrap_err().to_string();
        assert!(
            e.contains("orders-1 has no leader") && e.contains("LEADER_NOT_AVAILABLE"),
            "{e}"
        );
        assert!(matches!(
            m.leader("orders", 2),
            Err(Error::UnknownBroker { node_id: 9 })
        ));
        let e = m.leader("orders", 7).unwrap_err().to_string();
        assert!(e.contains("no partition 7") && e.contains("has 3"), "{e}");
        let e = m.leader("missing", 0).unwrap_err().to_string();
        assert!(
            e.contains("\"missing\" does not exist") && e.contains("UNKNOWN_TOPIC_OR_PARTITION"),
            "{e}"
        );
        assert!(matches!(
            m.leader("never-heard", 0),
            Err(Error::UnknownTopic { code: None, .. })
        ));
    }

    #[test]
    fn leader_hints_only_move_forward() {
        let mut m = ClusterMetadata::from_response(&response());
        assert!(!m.apply_leader_hint("orders", 0, 2, 3), "older epoch");
        assert!(!m.apply_leader_hint("orders", 0, 2, 4), "same epoch");
        assert!(!m.apply_leader_hint("orders", 0, 8, 9), "unknown broker");
        assert!(!m.apply_leader_hint("orders", 0, -1, 9), "no leader");
        assert!(!m.apply_leader_hint("nope", 0, 2, 9));
        assert!(m.apply_leader_hint("orders", 0, 2, 5));
        assert_eq!(m.leader("orders", 0).unwrap().node_id, 2);
        assert!(
            m.apply_leader_hint("orders", 1, 2, 3),
            "hint fixes a leaderless partition"
        );
        assert_eq!(m.leader("orders", 1).unwrap().node_id, 2);
    }

    #[test]
    fn node_endpoints_add_brokers() {
        let mut m = ClusterMetadata::from_response(&response());
        m.apply_node_endpoint(9, "b9", 9093, None);
        assert_eq!(
            m.leader("orders", 2).unwrap().address.to_string(),
            "b9:9093"
        );
        m.apply_node_endpoint(10, "", 1, None);
        m.apply_node_endpoint(11, "x", 70000, None);
        assert_eq!(m.brokers.len(), 3);
    }

    #[test]
    fn merge_replaces_only_named_topics() {
        let mut m = ClusterMetadata::from_response(&response());
        let mut partial = response();
        partial
            .topics
            .retain(|t| t.name.as_deref() == Some("missing"));
        partial.topics[0].error_code = 0;
        partial.topics[0].partitions = vec![MetadataResponsePartition {
            partition_index: 0,
            leader_id: 2,
            ..Default::default()
        }];
        m.merge_topics(&partial);
        assert!(m.topic("orders").is_some());
        assert_eq!(m.leader("missing", 0).unwrap().node_id, 2);
        assert!(m.topic_errors.is_empty());
    }
}
