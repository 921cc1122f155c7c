//! Faults on the target, a librdkafka mock cluster of three brokers: a
//! leader move, a broker down and up, injected retriable Produce errors;
//! afterwards nothing is lost or reordered. And a batch the target refuses
//! as too large stops its partition with an error that says why.
//!
//! The source is a Tansu broker (`.ci/install-deps tansu`); a missing
//! broker fails.

use std::time::Duration;

use integration_tests::mirror_support::{
    by_partition, cluster_config, consume, init_logs, produce, producer, wait_for, wait_for_or, Rec,
};
use integration_tests::mock::{MockApiKey, MockError, MockKafka};
use integration_tests::TansuBroker;
use replicator_core::{Mirror, PartitionState};

const TS: i64 = 1_700_000_000_000;

fn recs(from: usize, to: usize, partitions: i32) -> Vec<Rec> {
    (from..to)
        .map(|i| {
            Rec::kv(
                i as i32 % partitions,
                &format!("k{i}"),
                &format!("v{i}"),
                TS + i as i64,
            )
        })
        .collect()
}

/// Every source record appears on the target in source order; a record may
/// repeat only right after a resend (at-least-once), never skip.
fn assert_in_order_no_gap(source: &[Rec], target: &[Rec]) -> usize {
    let (s, t) = (by_partition(source), by_partition(target));
    let mut dups = 0;
    for (p, sr) in &s {
        let tr = t.get(p).cloned().unwrap_or_default();
        let mut next = 0usize; // index in sr of the next new record
        for r in &tr {
            if next < sr.len() && *r == sr[next] {
                next += 1;
            } else {
                let earlier = sr[..next].iter().rposition(|x| x == r);
                assert!(
                    earlier.is_some(),
                    "partition {p}: unexpected or out-of-order record {r:?} (expected {:?})",
                    sr.get(next)
                );
                dups += 1;
            }
        }
        assert_eq!(
            next,
            sr.len(),
            "partition {p}: only {next} of {} source records arrived",
            sr.len()
        );
    }
    dups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_move_broker_bounce_and_produce_errors_lose_nothing() {
    init_logs();
    let source = TansuBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let mock = MockKafka::start(3).unwrap();
    source.create_topic("faults", 4).unwrap();
    mock.create_topic("faults", 4, 3).unwrap();
    let p = producer(
        &source.bootstrap(),
        &[("linger.ms", "1"), ("batch.num.messages", "20")],
    );
    let first = recs(0, 600, 4);
    produce(&p, "faults", &first).await;
    mock.request_errors(
        MockApiKey::Produce,
        &[
            MockError::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            MockError::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            MockError::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        ],
    );
    let handle = Mirror::builder()
        .source(cluster_config(&source.bootstrap()))
        .target(cluster_config(&mock.bootstrap()))
        .topics(["faults"])
        .create_topics(false)
        .group_id("mirror-faults")
        .max_bytes_in_flight(32 << 10, 4 << 10)
        .commit_interval(Duration::from_millis(200))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let control = handle.control();
    wait_for("progress", Duration::from_secs(60), || {
        control.status().totals.records > 50
    })
    .await;
    mock.set_leader("faults", 0, Some(3)).unwrap();
    mock.set_leader("faults", 1, Some(1)).unwrap();
    mock.broker_down(2).unwrap();
    let second = recs(600, 900, 4);
    produce(&p, "faults", &second).await;
    // Long enough for a metadata refresh to see broker 2 gone: its
    // partitions then have no known leader, and the mirror must ask again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    mock.broker_up(2).unwrap();
    let total = (first.len() + second.len()) as u64;
    wait_for_or(
        "everything acknowledged",
        Duration::from_secs(90),
        || {
            let s = control.status();
            s.partitions
                .iter()
                .all(|p| p.lag == 0 && p.state != PartitionState::Failed)
                && s.partitions
                    .iter()
                    .map(|p| p.high_watermark.max(0) as u64)
                    .sum::<u64>()
                    >= total
        },
        || format!("{:#?}", control.status()),
    )
    .await;
    let summary = handle.stop().await.unwrap();
    assert_eq!(summary.failed().count(), 0, "{summary}");
    let all: Vec<Rec> = first.iter().chain(&second).cloned().collect();
    let got = consume(
        &mock.bootstrap(),
        "faults",
        all.len(),
        Duration::from_secs(60),
    );
    let dups = assert_in_order_no_gap(&all, &got);
    assert!(
        dups <= 4 * 5 * 20,
        "duplicates bounded by the in-flight window: {dups}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_too_large_for_the_target_fails_its_partition_clearly() {
    let source = TansuBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let mock = MockKafka::start(1).unwrap();
    source.create_topic("huge", 1).unwrap();
    source.create_topic("fine", 1).unwrap();
    mock.create_topic("huge", 1, 1).unwrap();
    mock.create_topic("fine", 1, 1).unwrap();
    let p = producer(&source.bootstrap(), &[]);
    produce(&p, "huge", &recs(0, 3, 1)).await;
    mock.request_errors(
        MockApiKey::Produce,
        &[MockError::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let handle = Mirror::builder()
        .source(cluster_config(&source.bootstrap()))
        .target(cluster_config(&mock.bootstrap()))
        .topics(["huge"])
        .create_topics(false)
        .group_id("mirror-too-large")
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let control = handle.control();
    wait_for("the partition fails", Duration::from_secs(60), || {
        control
            .status()
            .partitions
            .iter()
            .any(|p| p.state == PartitionState::Failed)
    })
    .await;
    let status = control.status();
    let p = status.partition("huge", 0).unwrap();
    let reason = p.reason.clone().unwrap();
    for needle in [
        "huge-0",
        "source offset 0",
        "bytes",
        "MESSAGE_TOO_LARGE",
        "max.message.bytes",
    ] {
        assert!(reason.contains(needle), "{needle:?} missing from: {reason}");
    }
    let summary = handle.stop().await.unwrap();
    assert_eq!(summary.failed().count(), 1, "{summary}");
    assert_eq!(
        summary.totals.records, 0,
        "nothing skipped silently: {summary}"
    );
}
