//! Routing against librdkafka's mock cluster (three brokers, leaders
//! spread): requests reach the partition leader, a leader move followed by
//! a retry succeeds, and brokers going down or erroring are handled.

use std::{collections::BTreeSet, time::Duration};

use integration_tests::{
    mock::{MockApiKey, MockError, MockKafka},
    requests,
};
use kafka_proto::{messages::ProduceResponse, ApiKey, ErrorCode};
use replicator_core::{Cluster, ClusterConfig, ConnectionConfig, Error, LeaderRouted};

fn config(mock: &MockKafka) -> ClusterConfig {
    ClusterConfig {
        connection: ConnectionConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            reconnect_backoff: Duration::from_millis(20),
            reconnect_backoff_max: Duration::from_millis(200),
            ..ConnectionConfig::default()
        },
        metadata_refresh_backoff: Duration::from_millis(20),
        ..ClusterConfig::new(mock.bootstrap())
    }
}

fn mock(topic: &str, partitions: i32) -> MockKafka {
    let m = MockKafka::start(3).unwrap_or_else(|e| panic!("{e}"));
    m.create_topic(topic, partitions, 3).unwrap();
    m
}

async fn produce(cluster: &Cluster, topic: &str, partition: i32, value: &str) -> ProduceResponse {
    cluster
        .send_to_leader(topic, partition, |leader, version| {
            requests::produce(leader, version, requests::batch(&[value]))
        })
        .await
        .unwrap()
}

fn code(resp: &ProduceResponse, topic: &str, partition: i32, cluster: &Cluster) -> ErrorCode {
    let id = cluster.metadata().topic(topic).unwrap().id;
    resp.outcome(topic, id, partition).unwrap().code
}

#[tokio::test]
async fn requests_reach_the_partition_leader() {
    let mock = mock("spread", 6);
    let cluster = Cluster::connect(config(&mock)).await.unwrap();
    let meta = cluster.metadata();
    assert_eq!(meta.brokers.len(), 3, "{meta:?}");
    let leaders: BTreeSet<i32> = (0..6)
        .map(|p| meta.leader("spread", p).unwrap().node_id)
        .collect();
    assert!(leaders.len() >= 2, "leaders not spread: {leaders:?}");

    for p in 0..6 {
        let resp = produce(&cluster, "spread", p, &format!("v{p}")).await;
        assert_eq!(
            code(&resp, "spread", p, &cluster),
            ErrorCode::NONE,
            "partition {p}: {resp:?}"
        );
    }
    // Each leader got a connection of its own.
    assert_eq!(
        cluster.pool().nodes().into_iter().collect::<BTreeSet<_>>(),
        leaders
    );

    // Control: the same request on a broker that is not the leader fails.
    let leader = meta.leader("spread", 0).unwrap();
    let other = meta
        .brokers
        .keys()
        .copied()
        .find(|&b| b != leader.node_id)
        .unwrap();
    let conn = cluster.broker_connection(other).await.unwrap();
    let version = conn.version(ApiKey::Produce).unwrap();
    let resp = conn
        .send_version(
            &requests::produce(&leader, version, requests::batch(&["x"])),
            version,
        )
        .await
        .unwrap();
    assert_eq!(
        code(&resp, "spread", 0, &cluster),
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );

    // Fetch routes the same way and returns what was produced.
    let resp = cluster
        .send_to_leader("spread", 3, |l, v| requests::fetch(l, v, 0))
        .await
        .unwrap();
    assert_eq!(requests::fetched_values(&resp), vec!["v3"]);
}

#[tokio::test]
async fn a_leader_move_then_a_retry_succeeds() {
    let mock = mock("moving", 1);
    let cluster = Cluster::connect(config(&mock)).await.unwrap();
    let before = cluster.metadata().leader("moving", 0).unwrap();
    let resp = produce(&cluster, "moving", 0, "one").await;
    assert_eq!(code(&resp, "moving", 0, &cluster), ErrorCode::NONE);

    let target = mock
        .broker_ids()
        .into_iter()
        .find(|&b| b != before.node_id)
        .unwrap();
    mock.set_leader("moving", 0, Some(target)).unwrap();
    // The cached leader is stale now: the first attempt gets
    // NOT_LEADER_OR_FOLLOWER, metadata is refreshed, the retry succeeds.
    assert_eq!(
        cluster.metadata().leader("moving", 0).unwrap().node_id,
        before.node_id
    );
    let resp = produce(&cluster, "moving", 0, "two").await;
    assert_eq!(
        code(&resp, "moving", 0, &cluster),
        ErrorCode::NONE,
        "{resp:?}"
    );
    let after = cluster.metadata().leader("moving", 0).unwrap();
    assert_eq!(after.node_id, target);
    assert!(
        after.leader_epoch > before.leader_epoch,
        "{before:?} -> {after:?}"
    );

    // The mock answers a Fetch with one batch: read both from the new
    // leader.
    let mut values = Vec::new();
    for offset in [0, 1] {
        let resp = cluster
            .send_to_leader("moving", 0, |l, v| requests::fetch(l, v, offset))
            .await
            .unwrap();
        values.extend(requests::fetched_values(&resp));
    }
    assert_eq!(values, vec!["one", "two"]);
}

#[tokio::test]
async fn injected_leader_errors_are_retried() {
    let mock = mock("flaky", 1);
    let cluster = Cluster::connect(config(&mock)).await.unwrap();
    mock.request_errors(
        MockApiKey::Produce,
        &[
            MockError::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            MockError::RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH,
        ],
    );
    let resp = produce(&cluster, "flaky", 0, "v").await;
    assert_eq!(code(&resp, "flaky", 0, &cluster), ErrorCode::NONE);

    // More errors than retries: the caller sees the code, not a hang.
    let mut cfg = config(&mock);
    cfg.leader_retries = 1;
    let cluster = Cluster::connect(cfg).await.unwrap();
    mock.request_errors(
        MockApiKey::Produce,
        &[MockError::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION; 3],
    );
    let resp = produce(&cluster, "flaky", 0, "w").await;
    assert_eq!(
        code(&resp, "flaky", 0, &cluster),
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    mock.raw().clear_request_errors(MockApiKey::Produce);
}

#[tokio::test]
async fn a_leaderless_partition_is_a_clear_error() {
    let mock = mock("orphan", 2);
    let mut cfg = config(&mock);
    cfg.leader_retries = 2;
    let cluster = Cluster::connect(cfg).await.unwrap();
    mock.set_leader("orphan", 1, None).unwrap();
    cluster.refresh_metadata().await.unwrap();
    let err = cluster
        .send_to_leader("orphan", 1, |l, v| {
            requests::produce(l, v, requests::batch(&["x"]))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoLeader { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("orphan-1 has no leader"), "{msg}");
    assert!(msg.contains("retry"), "{msg}");
    // The other partition is fine.
    let resp = produce(&cluster, "orphan", 0, "ok").await;
    assert_eq!(code(&resp, "orphan", 0, &cluster), ErrorCode::NONE);
}

#[tokio::test]
async fn a_broker_down_then_up_is_reconnected() {
    let mock = mock("downtime", 1);
    let mut cfg = config(&mock);
    cfg.leader_retries = 2;
    cfg.connection.connect_timeout = Duration::from_secs(2);
    let cluster = Cluster::connect(cfg).await.unwrap();
    let leader = cluster.metadata().leader("downtime", 0).unwrap();
    assert_eq!(
        code(
            &produce(&cluster, "downtime", 0, "a").await,
            "downtime",
            0,
            &cluster
        ),
        ErrorCode::NONE
    );

    mock.broker_down(leader.node_id).unwrap();
    let err = cluster
        .send_to_leader("downtime", 0, |l, v| {
            requests::produce(l, v, requests::batch(&["b"]))
        })
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("broker {}", leader.node_id)), "{msg}");

    mock.broker_up(leader.node_id).unwrap();
    let resp = produce(&cluster, "downtime", 0, "c").await;
    assert_eq!(code(&resp, "downtime", 0, &cluster), ErrorCode::NONE);
}

#[tokio::test]
async fn list_offsets_and_slow_brokers() {
    let mock = mock("offsets", 1);
    let cluster = Cluster::connect(config(&mock)).await.unwrap();
    for v in ["a", "b", "c"] {
        produce(&cluster, "offsets", 0, v).await;
    }
    let leader = cluster.metadata().leader("offsets", 0).unwrap();
    mock.broker_rtt(leader.node_id, Duration::from_millis(200))
        .unwrap();
    let resp = cluster
        .send_to_leader("offsets", 0, |l, _| requests::list_offsets(l, -1))
        .await
        .unwrap();
    assert_eq!(resp.topics[0].partitions[0].offset, 3);
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
}
