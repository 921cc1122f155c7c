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
use integration_tests::fake_source::{self, PartitionFetch};
use integration_tests::mirror_support::{consume, finish, mirror, start, strict_tansu, TS};
use kafka_proto::messages::fetch_response::AbortedTransaction;
use kafka_proto::messages::RequestBody;
use kafka_proto::record::{ControlRecordType, RecordBatchBuilder};
use replicator_core::{Mode, PartitionState};

const TOPIC: &str = "txn-src";
const END: i64 = 10;

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
fn read_committed(offset: i64) -> PartitionFetch {
    if offset == 0 {
        PartitionFetch::log(0, END, log()).with_aborted(vec![AbortedTransaction {
            producer_id: 20,
            first_offset: 3,
            ..Default::default()
        }])
    } else {
        PartitionFetch::log(0, END, Bytes::new())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_batches_are_dropped_and_markers_never_forwarded() {
    let target = strict_tansu();
    let source = fake_source::start(
        vec![(TOPIC.into(), 1)],
        |_, _| END,
        |_, r| {
            assert_eq!(r.isolation_level, 1, "the mirror fetches read_committed");
            fake_source::respond(r, |_, _, offset| read_committed(offset))
        },
    )
    .await;

    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .topics([TOPIC])
            .group_id("mirror-aborted")
            .mode(Mode::UntilCaughtUp)
            .sync_configs(false),
    )
    .await;
    let summary = finish(handle, Duration::from_secs(60)).await;
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
