//! Committing to the source cluster's consumer group, without IO: which
//! offsets are due and when, the OffsetCommit request that carries them,
//! and what its response committed.
//!
//! A partition's committable offset is the first source offset the target
//! has not acknowledged. A [`CommitGate`] can hold it back further: work
//! that must be durable before a commit covers it (for example records of
//! where each source offset landed on the target) closes the gate up to
//! what is durable, and opens it as that work completes.

use std::time::{Duration, Instant};

use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_proto::{ErrorCode, TopicRef, Uuid};

use super::state::PartitionKey;
use crate::cluster::same_topic;

/// OffsetCommit v10+ names topics by ID.
const COMMIT_TOPIC_ID_VERSION: i16 = 10;

/// How far a partition's commits may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitGate {
    /// Up to the committable offset.
    #[default]
    Open,
    /// Not past this offset.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    UpTo(i64),
}

impl CommitGate {
    /// The offset a commit may carry for `committable`.
    pub fn limit(self, committable: i64) -> i64 {
        match self {
            CommitGate::Open => committable,
            CommitGate::UpTo(o) => committable.min(o),
        }
    }
}

/// Identifies a [`CommitToSend`] in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommitId(pub(crate) u64);

/// One partition's offset in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitEntry {
    /// The source partition.
    pub key: PartitionKey,
    /// Its topic's ID on the source (zero when unknown).
    pub topic_id: Uuid,
    /// The offset: the next record to read.
    pub offset: i64,
}

/// An OffsetCommit to send to the group's coordinator.
#[derive(Debug, Clone)]
pub struct CommitToSend {
    /// Answer with this id.
    pub id: CommitId,
    /// The consumer group.
    pub group: String,
    /// The offsets, by topic then partition.
    pub entries: Vec<CommitEntry>,
}

impl CommitToSend {
    /// The request at `version` (topics by ID from v10), as a simple
    /// consumer commits: no generation, no member.
    pub fn request(&self, version: i16) -> OffsetCommitRequest {
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for e in &self.entries {
            let topic = if version >= COMMIT_TOPIC_ID_VERSION && !e.topic_id.is_zero() {
                TopicRef::Id(e.topic_id)
            } else {
                TopicRef::Name(e.key.0.clone())
            };
            let partition = OffsetCommitRequestPartition {
                partition_index: e.key.1,
                committed_offset: e.offset,
                committed_leader_epoch: -1,
                committed_metadata: Some(String::new()),
                ..Default::default()
            };
            match topics.last_mut() {
                Some(t) if t.topic == topic => t.partitions.push(partition),
                _ => topics.push(OffsetCommitRequestTopic {
                    topic,
                    partitions: vec![partition],
                    ..Default::default()
                }),
            }
        }
        OffsetCommitRequest {
            group_id: self.group.clone(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            retention_time_ms: -1,
            topics,
            ..Default::default()
        }
    }
}

/// What an OffsetCommit response says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CommitResult {
    /// Offsets the group now holds.
    pub committed: Vec<(PartitionKey, i64)>,
    /// Partitions refused, with the code.
    pub refused: Vec<(PartitionKey, ErrorCode)>,
    /// The coordinator moved or is gone: find it again.
    pub coordinator_lost: bool,
}

/// When commits are due, and the one in flight.
#[derive(Debug)]
pub(crate) struct Committer {
    group: String,
    interval: Duration,
    next_due: Instant,
    in_flight: Option<(CommitId, Vec<CommitEntry>)>,
    next_id: u64,
}

impl Committer {
    pub fn new(group: &str, interval: Duration, now: Instant) -> Self {
        Self {
            group: group.to_owned(),
            interval,
            next_due: now + interval,
            in_flight: None,
            next_id: 0,
        }
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether a periodic commit is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.in_flight.is_none() && now >= self.next_due
    }

    /// When the next periodic commit is due.
    pub fn next_due(&self) -> Instant {
        self.next_due
    }

    /// Starts a commit of `entries` at `now` (none: nothing to commit, the
    /// interval starts again).
    pub fn start(&mut self, entries: Vec<CommitEntry>, now: Instant) -> Option<CommitToSend> {
        self.next_due = now + self.interval;
        if entries.is_empty() {
            return None;
        }
        self.next_id += 1;
        let id = CommitId(self.next_id);
        self.in_flight = Some((id, entries.clone()));
        Some(CommitToSend {
            id,
            group: self.group.clone(),
            entries,
        })
    }

    /// The response to commit `id`; `None` when `id` is not the commit in
    /// flight (a late or repeated answer).
    pub fn handle_response(
        &mut self,
        id: CommitId,
        response: &OffsetCommitResponse,
    ) -> Option<CommitResult> {
        let entries = self.take(id)?;
        let mut out = CommitResult::default();
        for t in &response.topics {
            for p in &t.partitions {
                let Some(e) = entries.iter().find(|e| {
                    e.key.1 == p.partition_index && same_topic(&t.topic, &e.key.0, e.topic_id)
                }) else {
                    continue;
                };
                let code = ErrorCode(p.error_code);
                if code == ErrorCode::NONE {
                    out.committed.push((e.key.clone(), e.offset));
                } else {
                    out.coordinator_lost |= matches!(
                        code,
                        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE
                    );
                    out.refused.push((e.key.clone(), code));
                }
            }
        }
        Some(out)
    }

    /// Commit `id` got no response; false when it was not in flight.
    pub fn handle_failure(&mut self, id: CommitId) -> bool {
        self.take(id).is_some()
    }

    fn take(&mut self, id: CommitId) -> Option<Vec<CommitEntry>> {
        match &self.in_flight {
            Some((i, _)) if *i == id => self.in_flight.take().map(|(_, e)| e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };

    fn entry(topic: &str, p: i32, id: u8, offset: i64) -> CommitEntry {
        CommitEntry {
            key: (topic.to_owned(), p),
            topic_id: Uuid::from_bytes([id; 16]),
            offset,
        }
    }

    #[test]
    fn a_gate_holds_commits_back() {
        assert_eq!(CommitGate::Open.limit(10), 10);
        assert_eq!(CommitGate::UpTo(7).limit(10), 7);
        assert_eq!(CommitGate::UpTo(70).limit(10), 10);
    }

    #[test]
    fn commits_are_periodic_one_at_a_time_and_matched_by_topic_and_id() {
        let t0 = Instant::now();
        let mut c = Committer::new("g", Duration::from_secs(5), t0);
        assert!(!c.due(t0));
        let t1 = t0 + Duration::from_secs(5);
        assert!(c.due(t1));
        let sent = c
            .start(
                vec![
                    entry("a", 0, 1, 5),
                    entry("a", 1, 1, 6),
                    entry("b", 0, 2, 7),
                ],
                t1,
            )
            .unwrap();
        assert!(!c.due(t1 + Duration::from_secs(60)), "one in flight");
        let by_name = sent.request(8);
        assert_eq!(by_name.topics.len(), 2);
        assert_eq!(by_name.topics[0].topic, TopicRef::Name("a".into()));
        assert_eq!(by_name.topics[0].partitions.len(), 2);
        assert_eq!(
            sent.request(10).topics[1].topic,
            TopicRef::Id(Uuid::from_bytes([2; 16]))
        );
        let response = OffsetCommitResponse {
            topics: vec![
                OffsetCommitResponseTopic {
                    topic: TopicRef::Id(Uuid::from_bytes([1; 16])),
                    partitions: vec![
                        OffsetCommitResponsePartition {
                            partition_index: 0,
                            ..Default::default()
                        },
                        OffsetCommitResponsePartition {
                            partition_index: 1,
                            error_code: ErrorCode::NOT_COORDINATOR.0,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
                OffsetCommitResponseTopic {
                    topic: TopicRef::Name("zzz".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert!(c.handle_response(CommitId(99), &response).is_none());
        let r = c.handle_response(sent.id, &response).unwrap();
        assert_eq!(r.committed, [(("a".to_owned(), 0), 5)]);
        assert_eq!(
            r.refused,
            [(("a".to_owned(), 1), ErrorCode::NOT_COORDINATOR)]
        );
        assert!(r.coordinator_lost);
        assert!(
            c.handle_response(sent.id, &response).is_none(),
            "answered once"
        );
        assert!(c.start(Vec::new(), t1).is_none());
        assert!(!c.in_flight());
    }
}
