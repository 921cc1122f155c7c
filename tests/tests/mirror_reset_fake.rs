//! OFFSET_OUT_OF_RANGE end to end: the source's log moved on past the
//! mirror's position (retention deleted it before it was mirrored), so the
//! mirror resets per its start policy, counts the skipped offsets as lost
//! in the status and the summary, and goes on mirroring.
//!
//! Tansu 0.6 cannot produce the error: it has no DeleteRecords, and a Fetch
//! past the end of its log answers NONE with no records (checked with a
//! committed offset of 1,000,000 on a 40-record partition: the mirror sat
//! there, lag 0). So a scripted source serves it; the target is a real
//! Tansu broker, read back by librdkafka.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use integration_tests::fake_broker::Action;
use integration_tests::mirror_support::{
    assert_same, cluster_config, consume, fake_source, wait_for_or, Rec,
};
use integration_tests::TansuBroker;
use kafka_proto::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_proto::messages::{FetchRequest, FetchResponse, ResponseBody};
use kafka_proto::record::RecordBatchBuilder;
use kafka_proto::{ErrorCode, Records};
use replicator_core::{Mirror, PartitionState, StartFrom};

const TOPIC: &str = "retained";
const TS: i64 = 1_700_000_000_000;
/// Where the mirror starts: the end of the log when it first looks.
const FIRST_END: i64 = 5;
/// The log's end once retention moved its start past FIRST_END: the
/// reset's target under the latest policy, where new data then arrives.
const NEW_START: i64 = 30;
/// The end after the new data.
const NEW_END: i64 = 33;

fn batch() -> Bytes {
    let mut b = RecordBatchBuilder::new(NEW_START, TS);
    for i in 0..(NEW_END - NEW_START) {
        b.append(
            Some(Bytes::from(format!("k{i}"))),
            Some(Bytes::from(format!("v{i}"))),
        )
        .unwrap();
    }
    b.build().unwrap()
}

/// Before NEW_START: out of range; at it: the new batch.
fn fetch_response(r: &FetchRequest) -> FetchResponse {
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
                        let out_of_range = p.fetch_offset < NEW_START;
                        PartitionData {
                            partition_index: p.partition,
                            error_code: if out_of_range {
                                ErrorCode::OFFSET_OUT_OF_RANGE.0
                            } else {
                                0
                            },
                            high_watermark: if out_of_range { -1 } else { NEW_END },
                            last_stable_offset: if out_of_range { -1 } else { NEW_END },
                            log_start_offset: if out_of_range { -1 } else { NEW_START },
                            preferred_read_replica: -1,
                            records: Some(if p.fetch_offset == NEW_START {
                                Records::from(batch())
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
async fn out_of_range_resets_per_policy_and_counts_lost_offsets() {
    let target = TansuBroker::start().unwrap_or_else(|e| panic!("{e}"));
    // The first ListOffsets(latest) positions the mirror at FIRST_END; by
    // the time it fetches, the log ends at NEW_START.
    let latest_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&latest_calls);
    let source = fake_source(
        vec![(TOPIC.into(), 1)],
        move |_, _| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                FIRST_END
            } else {
                NEW_START
            }
        },
        |_, r| Action::Respond(ResponseBody::Fetch(fetch_response(r))),
    )
    .await;
    // Latest: the reset goes to the end of the log, NEW_START, skipping
    // FIRST_END..NEW_START. (The fake's earliest offset is always 0, which
    // is not past the position: an earliest reset would lose nothing.)
    let handle = Mirror::builder()
        .source(cluster_config(&source.bootstrap()))
        .target(cluster_config(&target.bootstrap()))
        .topics([TOPIC])
        .group_id("mirror-reset")
        .start_from(StartFrom::Latest)
        .sync_configs(false)
        .commit_interval(Duration::from_millis(100))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let control = handle.control();
    wait_for_or(
        "the reset reported",
        Duration::from_secs(30),
        || {
            let s = control.status();
            s.partitions[0].totals.lost_offsets > 0
        },
        || format!("{:#?}", control.status()),
    )
    .await;
    wait_for_or(
        "the new data mirrored",
        Duration::from_secs(30),
        || control.status().totals.records == (NEW_END - NEW_START) as u64,
        || format!("{:#?}", control.status()),
    )
    .await;
    let summary = handle.stop().await.unwrap();
    let p = &summary.partitions[0];
    assert_eq!(
        p.totals.lost_offsets,
        (NEW_START - FIRST_END) as u64,
        "{summary}"
    );
    assert_eq!(summary.totals.lost_offsets, p.totals.lost_offsets);
    assert!(p.totals.errors >= 1, "{summary}");
    assert_eq!(p.state, PartitionState::Active, "{summary}");
    assert_eq!(p.committed_offset, Some(NEW_END), "{summary}");
    assert!(
        summary.to_string().contains(&format!(
            "{} offsets lost on the source",
            NEW_START - FIRST_END
        )),
        "{summary}"
    );
    let want: Vec<Rec> = (0..NEW_END - NEW_START)
        .map(|i| Rec::kv(0, &format!("k{i}"), &format!("v{i}"), TS))
        .collect();
    assert_same(
        TOPIC,
        &want,
        &consume(
            &target.bootstrap(),
            TOPIC,
            want.len(),
            Duration::from_secs(30),
        ),
    );
}
