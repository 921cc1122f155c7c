//! The aborted-transaction filter against a Fetch response that really
//! carries aborted batches and an AbortedTransactions list (Tansu and the
//! librdkafka mock drop aborted data before it reaches their logs, so a
//! scripted source serves it), built as FACTS.md §3 describes: two
//! transactions interleaved, COMMIT and ABORT markers, plain data after.
//! The target is a real Tansu broker, read back by librdkafka.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::time::Duration;

use bytes::Bytes;
use integration_tests::fake_broker::Action;
use integration_tests::mirror_support::{cluster_config, consume, fake_source};
use integration_tests::TansuBroker;
use kafka_proto::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_proto::messages::{FetchRequest, FetchResponse, RequestBody, ResponseBody};
use kafka_proto::record::{ControlRecordType, RecordBatchBuilder};
use kafka_proto::Records;
use replicator_core::{Mirror, Mode, PartitionState};

const TOPIC: &str = "txn-src";
const END: i64 = 10;
const TS: i64 = 1_700_000_000_000;

fn data(offset: i64, pid: i64, txn: bool, keys: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new(offset, TS + offset);
    if pid >= 0 {
        b.producer(pid, 0, offset as i32).transactional(txn);
    }
    for k in keys {
        b.append(
            Some(Bytes::from(k.to_string())),
            Some(Bytes::from(format!("value-{k}"))),
        )
        .unwrap();
    }
    b.build().unwrap()
}

fn marker(offset: i64, pid: i64, kind: ControlRecordType) -> Bytes {
    RecordBatchBuilder::end_txn_marker(offset, TS, pid, 0, kind, 3)
        .build()
        .unwrap()
}

/// The partition's log as a broker returns it under read_committed.
fn log() -> Bytes {
    [
        data(0, 10, true, &["c0", "c1"]), // txn A (pid 10), committed
        marker(2, 10, ControlRecordType::Commit), // A commits
        data(3, 20, true, &["a0", "a1"]), // txn B (pid 20), aborted
        data(5, 10, true, &["c2"]),       // txn A' (pid 10), interleaved
        marker(6, 20, ControlRecordType::Abort), // B aborts
        marker(7, 10, ControlRecordType::Commit), // A' commits
        data(8, -1, false, &["p0", "p1"]), // plain data
    ]
    .concat()
    .into()
}

/// The partition's log under read_committed, with its aborted transaction
/// listed, for a fetch from offset 0; nothing after.
fn fetch_response(r: &FetchRequest) -> FetchResponse {
    assert_eq!(r.isolation_level, 1, "the mirror fetches read_committed");
    FetchResponse {
        responses: r
            .topics
            .iter()
            .map(|t| FetchableTopicResponse {
                topic: t.topic.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let first = p.fetch_offset == 0;
                        PartitionData {
                            partition_index: p.partition,
                            high_watermark: END,
                            last_stable_offset: END,
                            log_start_offset: 0,
                            aborted_transactions: Some(if first {
                                vec![AbortedTransaction {
                                    producer_id: 20,
                                    first_offset: 3,
                                    ..Default::default()
                                }]
                            } else {
                                Vec::new()
                            }),
                            preferred_read_replica: -1,
                            records: Some(if first {
                                Records::from(log())
                            } else {
                                Records::new()
                            }),
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_batches_are_dropped_and_markers_never_forwarded() {
    let target = TansuBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let source = fake_source(
        vec![(TOPIC.into(), 1)],
        |_, _| END,
        |_, r| Action::Respond(ResponseBody::Fetch(fetch_response(r))),
    )
    .await;

    let handle = Mirror::builder()
        .source(cluster_config(&source.bootstrap()))
        .target(cluster_config(&target.bootstrap()))
        .topics([TOPIC])
        .group_id("mirror-aborted")
        .mode(Mode::UntilCaughtUp)
        .sync_configs(false)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let summary = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .expect("finishes")
        .unwrap();
    let p = &summary.partitions[0];
    assert_eq!(p.state, PartitionState::CaughtUp, "{summary}");
    assert_eq!(
        p.committed_offset,
        Some(END),
        "committed past the last marker"
    );
    assert_eq!(p.totals.records, 5, "{summary}");
    assert_eq!(p.totals.aborted_batches, 1, "{summary}");
    assert_eq!(p.totals.control_batches, 3, "{summary}");

    let got = consume(&target.bootstrap(), TOPIC, 7, Duration::from_secs(5));
    let keys: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(keys, ["c0", "c1", "c2", "p0", "p1"]);
    assert!(got.iter().all(|r| r.value.as_deref()
        == Some(
            format!(
                "value-{}",
                String::from_utf8_lossy(r.key.as_deref().unwrap())
            )
            .as_bytes()
        )));
    let commits: Vec<_> = source
        .received()
        .into_iter()
        .filter(|r| matches!(r.body, RequestBody::OffsetCommit(_)))
        .collect();
    assert!(!commits.is_empty(), "offsets committed to the source group");
}
