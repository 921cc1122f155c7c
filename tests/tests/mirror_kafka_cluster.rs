//! Routing and leader changes on a real three-node Apache Kafka cluster
//! (KRaft, every node broker and controller, topics with three replicas
//! and `min.insync.replicas=2`). The mirror copies a topic to a renamed
//! topic on the same cluster, so each broker stop moves leaders on both
//! sides at once; a producer keeps writing throughout.
//!
//! Needs Java and Kafka's jars (`.ci/install-deps kafka`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use integration_tests::kafka::{self, KafkaCluster, KafkaOptions};
use integration_tests::mirror_support::{
    assert_in_order_no_gap, consume, init_logs, mirror, produce, producer, start_or,
    wait_for_status, Rec, TS,
};
use replicator_core::{PartitionState, RenamePolicy};

const TOPIC: &str = "moving";
const PARTITIONS: i32 = 6;
const RECORDS: usize = 3000;

fn three_nodes() -> KafkaCluster {
    init_logs();
    let t0 = Instant::now();
    let k = kafka::kafka_with(KafkaOptions {
        nodes: 3,
        heap_mb: 384,
        ..KafkaOptions::default()
    });
    eprintln!("three nodes started in {:?}", t0.elapsed());
    k
}

fn records() -> Vec<Rec> {
    (0..RECORDS)
        .map(|i| {
            let p = (i as i32) % PARTITIONS;
            Rec::kv(p, &format!("k{i}"), &format!("moving-{i}"), TS + i as i64)
        })
        .collect()
}

/// The node leading the most partitions of `topic`.
fn busiest_leader(k: &KafkaCluster, topic: &str) -> i32 {
    let leaders = k.leaders(topic).unwrap();
    let mut count = std::collections::BTreeMap::new();
    for l in leaders.values() {
        *count.entry(*l).or_insert(0) += 1;
    }
    count
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(l, _)| l)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaders_spread_over_three_brokers_and_move_mid_copy() {
    let k = three_nodes();
    k.create_topic_with(TOPIC, PARTITIONS, &[("min.insync.replicas", "2")])
        .unwrap();
    let spread: BTreeSet<i32> = k.leaders(TOPIC).unwrap().into_values().collect();
    assert_eq!(spread.len(), 3, "leaders on every broker: {spread:?}");
    let all = records();
    let bootstrap = k.bootstrap();
    let p = producer(
        &bootstrap,
        &[
            ("linger.ms", "5"),
            ("acks", "all"),
            ("batch.num.messages", "50"),
        ],
    );
    // A first third before the mirror starts.
    produce(&p, TOPIC, &all[..RECORDS / 3]).await;

    let handle = start_or(
        mirror(&bootstrap, &bootstrap)
            .topics([TOPIC])
            .rename(RenamePolicy::prefix("copy"))
            .group_id("moving-mirror")
            .commit_interval(Duration::from_millis(200))
            .max_bytes_in_flight(256 << 10, 16 << 10),
        || k.log(),
    )
    .await;
    let control = handle.control();
    let target = format!("copy.{TOPIC}");
    wait_for_status(&control, "some progress", Duration::from_secs(60), |s| {
        s.totals.records > 0
    })
    .await;

    // The rest is written while brokers go away: SIGTERM on the busiest
    // leader (controlled shutdown), then SIGKILL on the next one after it
    // is back.
    let rest = all[RECORDS / 3..].to_vec();
    let writer = {
        let p = p.clone();
        tokio::spawn(async move {
            for chunk in rest.chunks(100) {
                produce(&p, TOPIC, chunk).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let first = busiest_leader(&k, TOPIC);
    eprintln!("stopping node {first} (SIGTERM)");
    tokio::task::block_in_place(|| k.stop_node(first, false)).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| k.start_node(first)).unwrap();
    tokio::task::block_in_place(|| k.wait_for_brokers(3, Duration::from_secs(60))).unwrap();
    let second = busiest_leader(&k, &target);
    eprintln!("killing node {second} (SIGKILL)");
    tokio::task::block_in_place(|| k.stop_node(second, true)).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| k.start_node(second)).unwrap();
    writer.await.unwrap();

    wait_for_status(
        &control,
        "every record copied",
        Duration::from_secs(180),
        |s| s.totals.records >= RECORDS as u64,
    )
    .await;
    let summary = handle.stop().await.unwrap();
    assert_eq!(summary.failed().count(), 0, "{summary}");
    for st in &summary.partitions {
        assert_ne!(st.state, PartitionState::Failed, "{st:?}");
    }
    let got = consume(
        &bootstrap,
        &target,
        summary.totals.records as usize,
        Duration::from_secs(120),
    );
    let dups = assert_in_order_no_gap(&all, &got);
    eprintln!(
        "{} records copied, {dups} re-delivered after the leader changes\n{summary}",
        got.len()
    );
}
