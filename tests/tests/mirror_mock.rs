//! Faults on the target, a librdkafka mock cluster of three brokers: a
//! leader move, a broker down and up, injected retriable Produce errors;
//! afterwards nothing is lost or reordered. And a batch the target refuses
//! as too large stops its partition with an error that says why.
//!
//! The target is not behind the strict front (issue 11): the mock's three
//! brokers advertise their own ports, so no single front can stand before
//! them, and these tests are about faults and routing. Its data is
//! librdkafka's own, forwarded whole; the strict path is covered by the
//! Tansu mirror tests.
//!
//! The source is a Tansu broker (`.ci/install-deps tansu`); a missing
//! broker fails.

use std::time::Duration;

use integration_tests::mirror_support::{
    assert_in_order_no_gap, consume, init_logs, mirror, numbered, produce, producer, start, tansu,
    wait_for_status, Rec,
};
use integration_tests::mock::{MockApiKey, MockError, MockKafka};
use replicator_core::PartitionState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_move_broker_bounce_and_produce_errors_lose_nothing() {
    init_logs();
    let source = tansu();
    let mock = MockKafka::start(3).unwrap();
    source.create_topic("faults", 4).unwrap();
    mock.create_topic("faults", 4, 3).unwrap();
    let p = producer(
        &source.bootstrap(),
        &[("linger.ms", "1"), ("batch.num.messages", "20")],
    );
    let first = numbered(0, 600, 4);
    produce(&p, "faults", &first).await;
    mock.request_errors(
        MockApiKey::Produce,
        &[
            MockError::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            MockError::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            MockError::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        ],
    );
    let handle = start(
        mirror(&source.bootstrap(), &mock.bootstrap())
            .topics(["faults"])
            .create_topics(false)
            .group_id("mirror-faults")
            .max_bytes_in_flight(32 << 10, 4 << 10)
            .commit_interval(Duration::from_millis(200)),
    )
    .await;
    let control = handle.control();
    wait_for_status(&control, "progress", Duration::from_secs(60), |s| {
        s.totals.records > 50
    })
    .await;
    mock.set_leader("faults", 0, Some(3)).unwrap();
    mock.set_leader("faults", 1, Some(1)).unwrap();
    mock.broker_down(2).unwrap();
    let second = numbered(600, 900, 4);
    produce(&p, "faults", &second).await;
    // Long enough for a metadata refresh to see broker 2 gone: its
    // partitions then have no known leader, and the mirror must ask again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    mock.broker_up(2).unwrap();
    let total = (first.len() + second.len()) as u64;
    wait_for_status(
        &control,
        "everything acknowledged",
        Duration::from_secs(90),
        |s| {
            s.partitions
                .iter()
                .all(|p| p.lag == 0 && p.state != PartitionState::Failed)
                && s.partitions
                    .iter()
                    .map(|p| p.high_watermark.max(0) as u64)
                    .sum::<u64>()
                    >= total
        },
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
    let source = tansu();
    let mock = MockKafka::start(1).unwrap();
    source.create_topic("huge", 1).unwrap();
    source.create_topic("fine", 1).unwrap();
    mock.create_topic("huge", 1, 1).unwrap();
    mock.create_topic("fine", 1, 1).unwrap();
    let p = producer(&source.bootstrap(), &[]);
    produce(&p, "huge", &numbered(0, 3, 1)).await;
    mock.request_errors(
        MockApiKey::Produce,
        &[MockError::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let handle = start(
        mirror(&source.bootstrap(), &mock.bootstrap())
            .topics(["huge"])
            .create_topics(false)
            .group_id("mirror-too-large"),
    )
    .await;
    let control = handle.control();
    wait_for_status(
        &control,
        "the partition fails",
        Duration::from_secs(60),
        |s| {
            s.partitions
                .iter()
                .any(|p| p.state == PartitionState::Failed)
        },
    )
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
