//! What a leader-routed response says about one partition: its error code
//! and, from KIP-951 brokers, the current leader.

use kafka_proto::messages::{FetchResponse, ListOffsetsResponse, ProduceResponse};
use kafka_proto::{ErrorCode, Response, TopicRef, Uuid};

/// A partition's outcome in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOutcome {
    /// The partition's error code.
    pub code: ErrorCode,
    /// `(leader_id, leader_epoch)` from the response's CurrentLeader field,
    /// when the broker filled it in.
    pub current_leader: Option<(i32, i32)>,
}

/// Brokers and the CurrentLeader hints a response carries (KIP-951).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderHints {
    /// `(topic, topic_id, partition, leader_id, leader_epoch)`.
    pub leaders: Vec<(Option<String>, Uuid, i32, i32, i32)>,
    /// `(node_id, host, port, rack)` from NodeEndpoints.
    pub endpoints: Vec<(i32, String, i32, Option<String>)>,
}

/// Responses of leader-only APIs, which report per-partition errors.
pub trait LeaderRouted: Response {
    /// The outcome for `topic` (name or ID) and `partition`, if the response
    /// lists it.
    fn outcome(&self, topic: &str, topic_id: Uuid, partition: i32) -> Option<PartitionOutcome>;

    /// Every CurrentLeader hint and node endpoint in the response.
    fn leader_hints(&self) -> LeaderHints {
        LeaderHints::default()
    }
}

/// Whether `r` names the topic `name` with ID `id` (an ID only matches a
/// known, non-zero one).
pub(crate) fn same_topic(r: &TopicRef, name: &str, id: Uuid) -> bool {
    match r {
        TopicRef::Name(n) => n == name,
        TopicRef::Id(i) => *i == id && !id.is_zero(),
    }
}

fn split(r: &TopicRef) -> (Option<String>, Uuid) {
    match r {
        TopicRef::Name(n) => (Some(n.clone()), Uuid::ZERO),
        TopicRef::Id(i) => (None, *i),
    }
}

fn hint(leader_id: i32, leader_epoch: i32) -> Option<(i32, i32)> {
    (leader_id >= 0 && leader_epoch >= 0).then_some((leader_id, leader_epoch))
}

/// Produce and Fetch responses carry the same per-partition leader fields
/// under different names; one body serves both.
macro_rules! leader_routed {
    ($response:ty, $partitions:ident, $index:ident) => {
        impl LeaderRouted for $response {
            fn outcome(
                &self,
                topic: &str,
                topic_id: Uuid,
                partition: i32,
            ) -> Option<PartitionOutcome> {
                self.responses
                    .iter()
                    .filter(|t| same_topic(&t.topic, topic, topic_id))
                    .flat_map(|t| &t.$partitions)
                    .find(|p| p.$index == partition)
                    .map(|p| PartitionOutcome {
                        code: ErrorCode(p.error_code),
                        current_leader: hint(
                            p.current_leader.leader_id,
                            p.current_leader.leader_epoch,
                        ),
                    })
            }

            fn leader_hints(&self) -> LeaderHints {
                let mut h = LeaderHints::default();
                for t in &self.responses {
                    let (name, id) = split(&t.topic);
                    for p in &t.$partitions {
                        if let Some((l, e)) =
                            hint(p.current_leader.leader_id, p.current_leader.leader_epoch)
                        {
                            h.leaders.push((name.clone(), id, p.$index, l, e));
                        }
                    }
                }
                h.endpoints = self
                    .node_endpoints
                    .iter()
                    .map(|n| (n.node_id, n.host.clone(), n.port, n.rack.clone()))
                    .collect();
                h
            }
        }
    };
}

leader_routed!(ProduceResponse, partition_responses, index);
leader_routed!(FetchResponse, partitions, partition_index);

impl LeaderRouted for ListOffsetsResponse {
    fn outcome(&self, topic: &str, _topic_id: Uuid, partition: i32) -> Option<PartitionOutcome> {
        self.topics
            .iter()
            .filter(|t| t.name == topic)
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == partition)
            .map(|p| PartitionOutcome {
                code: ErrorCode(p.error_code),
                current_leader: None,
            })
    }
}

/// Error codes after which the cached leader is stale: refresh metadata
/// and retry on the (new) leader.
pub fn needs_metadata_refresh(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
            | ErrorCode::FENCED_LEADER_EPOCH
            | ErrorCode::UNKNOWN_LEADER_EPOCH
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::UNKNOWN_TOPIC_ID
            | ErrorCode::LEADER_NOT_AVAILABLE
            | ErrorCode::KAFKA_STORAGE_ERROR
            | ErrorCode::REPLICA_NOT_AVAILABLE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::messages::produce_response::{
        LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
    };

    #[test]
    fn produce_outcome_and_hints() {
        let r = ProduceResponse {
            responses: vec![TopicProduceResponse {
                topic: TopicRef::Name("t".into()),
                partition_responses: vec![PartitionProduceResponse {
                    index: 3,
                    error_code: 6,
                    current_leader: LeaderIdAndEpoch {
                        leader_id: 2,
                        leader_epoch: 9,
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }],
            node_endpoints: vec![NodeEndpoint {
                node_id: 2,
                host: "h".into(),
                port: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let o = r.outcome("t", Uuid::ZERO, 3).unwrap();
        assert_eq!(o.code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
        assert_eq!(o.current_leader, Some((2, 9)));
        assert!(r.outcome("t", Uuid::ZERO, 4).is_none());
        assert!(r.outcome("u", Uuid::ZERO, 3).is_none());
        let h = r.leader_hints();
        assert_eq!(h.leaders, vec![(Some("t".into()), Uuid::ZERO, 3, 2, 9)]);
        assert_eq!(h.endpoints.len(), 1);
    }

    #[test]
    fn refresh_codes() {
        assert!(needs_metadata_refresh(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        assert!(needs_metadata_refresh(ErrorCode::FENCED_LEADER_EPOCH));
        assert!(needs_metadata_refresh(ErrorCode::UNKNOWN_TOPIC_ID));
        assert!(!needs_metadata_refresh(ErrorCode::NONE));
        assert!(!needs_metadata_refresh(ErrorCode::OFFSET_OUT_OF_RANGE));
    }
}
