//! The full client round trip used by the "done when" tests, over any
//! security protocol: bootstrap and Metadata, Produce of a built batch,
//! Fetch of it back, ListOffsets, FindCoordinator, OffsetCommit and
//! OffsetFetch.

use kafka_proto::{ApiKey, ErrorCode};
use replicator_core::{Cluster, LeaderRouted};

use crate::requests;

/// What the round trip observed, for assertions.
#[derive(Debug, Clone)]
pub struct RoundTrip {
    /// Offset of the produced batch.
    pub base_offset: i64,
    /// Values fetched back.
    pub fetched: Vec<String>,
    /// Latest offset from ListOffsets.
    pub end_offset: i64,
    /// The group coordinator's node id.
    pub coordinator: i32,
    /// The committed offset read back.
    pub committed: i64,
}

/// Runs every API against `topic` partition `partition` (which must exist)
/// and panics with context on any failure.
pub async fn run(cluster: &Cluster, topic: &str, partition: i32, group: &str) -> RoundTrip {
    let meta = cluster.refresh_metadata().await.expect("Metadata");
    let t = meta
        .topic(topic)
        .unwrap_or_else(|| panic!("topic {topic} not in metadata: {meta:?}"));
    assert!(t.partitions.contains_key(&partition), "{t:?}");

    let values = ["alpha", "beta", "gamma"];
    let produced = cluster
        .send_to_leader(topic, partition, |l, v| {
            crate::requests::produce(l, v, requests::batch(&values))
        })
        .await
        .expect("Produce");
    let leader = cluster.leader(topic, partition).await.expect("leader");
    let outcome = produced
        .outcome(topic, leader.topic_id, partition)
        .unwrap_or_else(|| panic!("partition missing in {produced:?}"));
    assert_eq!(outcome.code, ErrorCode::NONE, "Produce: {produced:?}");
    let base_offset = produced.responses[0].partition_responses[0].base_offset;
    assert!(base_offset >= 0, "{produced:?}");

    let fetched = cluster
        .send_to_leader(topic, partition, |l, v| requests::fetch(l, v, base_offset))
        .await
        .expect("Fetch");
    let code = fetched
        .outcome(topic, leader.topic_id, partition)
        .map(|o| o.code);
    assert_eq!(code, Some(ErrorCode::NONE), "Fetch: {fetched:?}");
    let fetched_values = requests::fetched_values(&fetched);
    assert_eq!(
        fetched_values.get(..3),
        Some(&["alpha".to_owned(), "beta".to_owned(), "gamma".to_owned()][..]),
        "{fetched:?}"
    );

    let offsets = cluster
        .send_to_leader(topic, partition, |l, _| requests::list_offsets(l, -1))
        .await
        .expect("ListOffsets");
    let p = &offsets.topics[0].partitions[0];
    assert_eq!(p.error_code, 0, "ListOffsets: {offsets:?}");
    let end_offset = p.offset;
    assert!(end_offset >= base_offset + 3, "{offsets:?}");

    let (coordinator, conn) = cluster
        .group_coordinator(group)
        .await
        .expect("FindCoordinator");
    let version = conn
        .version(ApiKey::OffsetCommit)
        .expect("OffsetCommit version");
    let commit = conn
        .send_version(
            &requests::offset_commit(
                group,
                topic,
                leader.topic_id,
                partition,
                end_offset,
                version,
            ),
            version,
        )
        .await
        .expect("OffsetCommit");
    let code = commit.topics[0].partitions[0].error_code;
    assert_eq!(code, 0, "OffsetCommit: {commit:?}");

    let version = conn
        .version(ApiKey::OffsetFetch)
        .expect("OffsetFetch version");
    let fetched_offsets = conn
        .send_version(
            &requests::offset_fetch(group, topic, leader.topic_id, partition, version),
            version,
        )
        .await
        .expect("OffsetFetch");
    let (committed, code) = requests::committed_offset(&fetched_offsets)
        .unwrap_or_else(|| panic!("OffsetFetch: {fetched_offsets:?}"));
    assert_eq!(code, 0, "OffsetFetch: {fetched_offsets:?}");
    assert_eq!(committed, end_offset, "OffsetFetch: {fetched_offsets:?}");

    RoundTrip {
        base_offset,
        fetched: fetched_values,
        end_offset,
        coordinator: coordinator.node_id.unwrap_or(-1),
        committed,
    }
}
