//! Request builders shared by the integration tests: a built record batch
//! to produce, and Fetch, ListOffsets, OffsetCommit and OffsetFetch
//! requests for one partition, shaped for whatever version was negotiated
//! (topic names or IDs).

use bytes::Bytes;
use kafka_proto::{
    messages::{
        fetch_request::{FetchPartition, FetchTopic},
        list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic},
        offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic},
        offset_fetch_request::{
            OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
        },
        produce_request::{PartitionProduceData, TopicProduceData},
        FetchRequest, FetchResponse, ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest,
        OffsetFetchResponse, ProduceRequest,
    },
    record::{Entries, Entry, RecordBatchBuilder},
    Records, TopicRef, Uuid,
};
use replicator_core::Leader;

/// An uncompressed batch of `values` (keys `k0`, `k1`, ...).
pub fn batch(values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, 1_700_000_000_000);
    for (i, v) in values.iter().enumerate() {
        b.append(
            Some(Bytes::from(format!("k{i}"))),
            Some(Bytes::from(v.to_string())),
        )
        .expect("append");
    }
    b.build().expect("build")
}

/// The topic as the version wants it: the ID from `from_id_version` on.
pub fn topic_ref(leader: &Leader, version: i16, from_id_version: i16) -> TopicRef {
    if version >= from_id_version {
        TopicRef::Id(leader.topic_id)
    } else {
        TopicRef::Name(leader.topic.clone())
    }
}

/// Produce `batch` to the leader's partition with acks=all.
pub fn produce(leader: &Leader, version: i16, batch: Bytes) -> ProduceRequest {
    let mut records = Records::new();
    records.push(batch);
    ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            topic: topic_ref(leader, version, 13),
            partition_data: vec![PartitionProduceData {
                index: leader.partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Fetch from `offset` on the leader's partition (no fetch session).
pub fn fetch(leader: &Leader, version: i16, offset: i64) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 100,
        min_bytes: 1,
        max_bytes: 8 << 20,
        isolation_level: 0,
        session_id: 0,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic_ref(leader, version, 13),
            partitions: vec![FetchPartition {
                partition: leader.partition,
                current_leader_epoch: leader.leader_epoch,
                fetch_offset: offset,
                log_start_offset: -1,
                partition_max_bytes: 4 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The record values in a Fetch response's first partition.
pub fn fetched_values(resp: &FetchResponse) -> Vec<String> {
    let Some(records) = resp
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .and_then(|p| p.records.as_ref())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in Entries::new(records.to_bytes()) {
        if let Ok(Entry::Batch(batch)) = entry {
            for r in batch.records().flatten() {
                out.push(
                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
                );
            }
        }
    }
    out
}

/// ListOffsets for `timestamp` (-1 latest, -2 earliest).
pub fn list_offsets(leader: &Leader, timestamp: i64) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: leader.topic.clone(),
            partitions: vec![ListOffsetsPartition {
                partition_index: leader.partition,
                current_leader_epoch: leader.leader_epoch,
                timestamp,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// OffsetCommit of `offset` for `group` (simple, generation -1).
pub fn offset_commit(
    group: &str,
    topic: &str,
    topic_id: Uuid,
    partition: i32,
    offset: i64,
    version: i16,
) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: -1,
        member_id: String::new(),
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            topic: if version >= 10 {
                TopicRef::Id(topic_id)
            } else {
                TopicRef::Name(topic.into())
            },
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: partition,
                committed_offset: offset,
                committed_leader_epoch: -1,
                committed_metadata: Some(String::new()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// OffsetFetch of one partition for `group`.
pub fn offset_fetch(
    group: &str,
    topic: &str,
    topic_id: Uuid,
    partition: i32,
    version: i16,
) -> OffsetFetchRequest {
    if version >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.into(),
                member_id: None,
                member_epoch: -1,
                topics: Some(vec![OffsetFetchRequestTopics {
                    topic: if version >= 10 {
                        TopicRef::Id(topic_id)
                    } else {
                        TopicRef::Name(topic.into())
                    },
                    partition_indexes: vec![partition],
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id: group.into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: topic.into(),
                partition_indexes: vec![partition],
                ..Default::default()
            }]),
            ..Default::default()
        }
    }
}

/// The committed offset and error code for the one partition asked.
pub fn committed_offset(resp: &OffsetFetchResponse) -> Option<(i64, i16)> {
    if let Some(g) = resp.groups.first() {
        let p = g.topics.first()?.partitions.first()?;
        return Some((p.committed_offset, p.error_code.max(g.error_code)));
    }
    let p = resp.topics.first()?.partitions.first()?;
    Some((p.committed_offset, p.error_code.max(resp.error_code)))
}
