//! A real legacy source: Apache Kafka 3.9 in ZooKeeper mode with
//! `inter.broker.protocol.version=2.8` honours a topic's
//! `message.format.version=0.10.2`, so data written there by kafka-python
//! pinned to `api_version=(0, 10, 1)` is stored as magic 1 message sets,
//! plain and compressed, as a 0.10-era cluster holds it. The mirror copies
//! it to a 4.x target, which stores only v2 batches: the records must be
//! up-converted (issue 11).
//!
//! Needs Java, Kafka's jars (`.ci/install-deps kafka`) and the venv's
//! kafka-python (`.ci/install-deps venv`).

use std::time::Duration;

use integration_tests::kafka::{
    self, Isolation, KafkaCluster, KafkaLine, KafkaOptions, MetadataMode,
};
use integration_tests::mirror_support::{
    assert_same, consume, finish_or, init_logs, mirror, start_or, wait_for_status, Rec, TS,
};
use integration_tests::python::run_python;
use replicator_core::{Mode, PartitionState};

/// kafka-python as a 0.10.1 client: magic 1 message sets, one batch per
/// codec. Prints nothing; fails loudly.
const WRITE_MAGIC_1: &str = r#"
import sys
from kafka import KafkaProducer
bootstrap, topic, ts = sys.argv[1], sys.argv[2], int(sys.argv[3])
i = 0
for codec in [None, "gzip", "lz4"]:
    p = KafkaProducer(bootstrap_servers=bootstrap, api_version=(0, 10, 1),
                      compression_type=codec, linger_ms=50, batch_size=1 << 20)
    for _ in range(20):
        key = None if i % 7 == 0 else ("k%d" % i).encode()
        value = None if i % 7 == 3 else ("legacy-%s-%d" % (codec or "none", i)).encode()
        p.send(topic, key=key, value=value, partition=0, timestamp_ms=ts + i)
        i += 1
    p.flush()
    p.close()
"#;

/// The records [`WRITE_MAGIC_1`] writes, as a consumer sees them.
fn legacy_records() -> Vec<Rec> {
    let mut out = Vec::new();
    let mut i = 0i64;
    for codec in ["none", "gzip", "lz4"] {
        for _ in 0..20 {
            let mut r = Rec::kv(0, &format!("k{i}"), &format!("legacy-{codec}-{i}"), TS + i);
            if i % 7 == 0 {
                r.key = None;
            }
            if i % 7 == 3 {
                r.value = None;
            }
            out.push(r);
            i += 1;
        }
    }
    out
}

/// Kafka 3.9 in ZooKeeper mode, IBP 2.8, with `topic` in message format
/// 0.10.2 holding [`legacy_records`] as magic 1 data (checked with Kafka's
/// `DumpLogSegments`).
fn legacy_source(topic: &str) -> KafkaCluster {
    init_logs();
    let zk = kafka::kafka_with(
        KafkaOptions {
            line: KafkaLine::Legacy,
            metadata: MetadataMode::ZooKeeper,
            ..KafkaOptions::default()
        }
        .property("inter.broker.protocol.version", "2.8"),
    );
    zk.create_topic_with(topic, 1, &[("message.format.version", "0.10.2")])
        .unwrap();
    run_python(
        WRITE_MAGIC_1,
        &[&zk.bootstrap(), topic, &TS.to_string()],
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("kafka-python writing magic 1 data: {e}\n{}", zk.log()));
    let batches = zk.dump_log(topic, 0).unwrap();
    assert!(
        !batches.is_empty() && batches.iter().all(|b| b.magic == 1),
        "the 3.9 broker holds magic 1 data: {batches:#?}"
    );
    let codecs: Vec<&str> = batches.iter().map(|b| b.codec.as_str()).collect();
    for c in ["none", "gzip", "lz4"] {
        assert!(codecs.contains(&c), "a {c} message set: {codecs:?}");
    }
    zk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_mode_3_9_holds_magic_1_data_that_consumers_read() {
    let topic = "legacy.orders";
    let zk = legacy_source(topic);
    let want = legacy_records();
    // Kafka's own Java consumer reads it back.
    let java = tokio::task::block_in_place(|| {
        zk.java_consume(
            topic,
            "legacy-java-check",
            want.len() + 1,
            Isolation::ReadUncommitted,
            Duration::from_secs(5),
        )
    })
    .unwrap();
    let seen: Vec<(Option<String>, Option<String>, i64)> = java
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let text = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    let expected: Vec<(Option<String>, Option<String>, i64)> = want
        .iter()
        .map(|r| (text(&r.key), text(&r.value), r.timestamp))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs issue 11: magic 0/1 source data must be up-converted to v2 batches for a 4.x target"]
async fn magic_1_source_on_3_9_zookeeper_mirrors_to_a_4_x_target() {
    let topic = "legacy.orders";
    let zk = legacy_source(topic);
    let (_, target) = kafka::shared_pair();
    let logs = || format!("{}\n{}", zk.log(), target.log());
    let handle = start_or(
        mirror(&zk.bootstrap(), &target.bootstrap())
            .topics([topic])
            .group_id("legacy-mirror")
            .mode(Mode::UntilCaughtUp),
        logs,
    )
    .await;
    let control = handle.control();
    wait_for_status(
        &control,
        "the partition settled",
        Duration::from_secs(60),
        |s| {
            s.partitions
                .iter()
                .all(|p| matches!(p.state, PartitionState::Failed | PartitionState::CaughtUp))
        },
    )
    .await;
    eprintln!("{:#?}", control.status());
    let summary = finish_or(handle, Duration::from_secs(60), logs).await;
    assert_eq!(summary.failed().count(), 0, "{summary}");
    let want = legacy_records();
    let got = consume(
        &target.bootstrap(),
        topic,
        want.len(),
        Duration::from_secs(60),
    );
    assert_same(topic, &want, &got);
    for b in target.dump_log(topic, 0).unwrap() {
        assert_eq!(b.magic, 2, "{b:?}");
    }
}
