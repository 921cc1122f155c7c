//! The Apache Kafka harness itself: each line starts (4.x and 3.9 in KRaft
//! mode, 3.9 in ZooKeeper mode), answers metadata with itself as the only
//! broker, and is gone, folder and all, once dropped. Prints the start
//! times (the README's table of peers quotes them).
//!
//! Needs Java and Kafka's jars (`.ci/install-deps kafka`).

use std::time::{Duration, Instant};

use integration_tests::kafka::{KafkaCluster, KafkaLine, KafkaOptions, MetadataMode};

fn start_and_drop(what: &str, opts: KafkaOptions) {
    let t0 = Instant::now();
    let k = KafkaCluster::start_with(opts).unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!("{what}: started in {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(k.node_ids(), vec![1]);
    k.wait_for_brokers(1, Duration::from_secs(10)).unwrap();
    let topic = "harness.check";
    k.create_topic(topic, 3).unwrap();
    assert_eq!(k.partitions(topic).unwrap(), 3, "{what}");
    assert_eq!(
        k.leaders(topic)
            .unwrap()
            .values()
            .filter(|l| **l == 1)
            .count(),
        3
    );
    let dir = k.dir().to_owned();
    drop(k);
    // The JVM is dead and its folder gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!dir.exists(), "{what}: {} left behind", dir.display());
}

#[test]
fn every_line_starts_answers_and_cleans_up() {
    start_and_drop("Apache Kafka 4.x, KRaft", KafkaOptions::default());
    start_and_drop(
        "Apache Kafka 3.9, KRaft",
        KafkaOptions {
            line: KafkaLine::Legacy,
            ..KafkaOptions::default()
        },
    );
    start_and_drop(
        "Apache Kafka 3.9, ZooKeeper mode",
        KafkaOptions {
            line: KafkaLine::Legacy,
            metadata: MetadataMode::ZooKeeper,
            ..KafkaOptions::default()
        },
    );
}
