//! OFFSET_OUT_OF_RANGE end to end: the source's log moved on past the
//! mirror's position (retention deleted it before it was mirrored), so the
//! mirror resets per its start policy, counts the skipped offsets as lost
//! in the status and the summary, and goes on mirroring.
//!
//! Tansu 0.6 cannot produce the error: it has no DeleteRecords, and a Fetch
//! past the end of its log answers NONE with no records (a committed
//! offset past its end is covered against Tansu in
//! mirror_committed_range.rs). So a scripted source serves it; the target
//! is a real Tansu broker, read back by librdkafka.
//!
//! The same scripted source also answers as Tansu does past a log end (no
//! error, no data, a high watermark below the position), which resets the
//! same way; and refuses ListOffsets for some partitions of a backfill,
//! which retries them and gives up the one that never answers, so the
//! backfill still ends.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use integration_tests::fake_broker::Action;
use integration_tests::mirror_support::{
    assert_same, cluster_config, consume, fake_source, fake_source_refusing, wait_for_or, Rec,
};
use integration_tests::TansuBroker;
use kafka_proto::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_proto::messages::{FetchRequest, FetchResponse, ResponseBody};
use kafka_proto::record::RecordBatchBuilder;
use kafka_proto::{ErrorCode, Records};
use replicator_core::{Mirror, Mode, PartitionState, StartFrom};

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

/// Where the shrunk log ends before and after its new data.
const SHRUNK_END: i64 = 10;
const SHRUNK_NEW_END: i64 = 13;

/// A log that no longer reaches the mirror's position, answered as Tansu
/// answers it: no error, no records, a high watermark below the position.
fn shrunk_fetch_response(r: &FetchRequest) -> FetchResponse {
    FetchResponse {
        responses: r
            .topics
            .iter()
            .map(|t| FetchableTopicResponse {
                topic: t.topic.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| PartitionData {
                        partition_index: p.partition,
                        high_watermark: SHRUNK_NEW_END,
                        last_stable_offset: SHRUNK_NEW_END,
                        log_start_offset: 0,
                        preferred_read_replica: -1,
                        records: Some(if p.fetch_offset == SHRUNK_END {
                            Records::from(batch_at(SHRUNK_END, SHRUNK_NEW_END))
                        } else {
                            Records::new()
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn batch_at(from: i64, to: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(from, TS);
    for i in 0..(to - from) {
        b.append(
            Some(Bytes::from(format!("k{i}"))),
            Some(Bytes::from(format!("v{i}"))),
        )
        .unwrap();
    }
    b.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_watermark_below_the_position_resets_like_out_of_range() {
    let target = TansuBroker::start().unwrap_or_else(|e| panic!("{e}"));
    // Positioned at 50 (latest at start); the log then ends at 10.
    let latest_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&latest_calls);
    let source = fake_source(
        vec![(TOPIC.into(), 1)],
        move |_, _| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                50
            } else {
                SHRUNK_END
            }
        },
        |_, r| Action::Respond(ResponseBody::Fetch(shrunk_fetch_response(r))),
    )
    .await;
    let handle = Mirror::builder()
        .source(cluster_config(&source.bootstrap()))
        .target(cluster_config(&target.bootstrap()))
        .topics([TOPIC])
        .group_id("mirror-shrunk")
        .start_from(StartFrom::Latest)
        .sync_configs(false)
        .commit_interval(Duration::from_millis(100))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let control = handle.control();
    assert_eq!(control.status().partitions[0].position, Some(50));
    wait_for_or(
        "the data after the reset mirrored",
        Duration::from_secs(30),
        || control.status().totals.records == (SHRUNK_NEW_END - SHRUNK_END) as u64,
        || format!("{:#?}", control.status()),
    )
    .await;
    let summary = handle.stop().await.unwrap();
    let p = &summary.partitions[0];
    assert_eq!(p.state, PartitionState::Active, "{summary}");
    assert_eq!(p.committed_offset, Some(SHRUNK_NEW_END), "{summary}");
    assert!(p.totals.errors >= 1, "the reset is reported: {summary}");
    assert_eq!(
        p.totals.lost_offsets, 0,
        "50 to 10 skips nothing: {summary}"
    );
    let want: Vec<Rec> = (0..SHRUNK_NEW_END - SHRUNK_END)
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

/// Backfill: partition 1's ListOffsets fails its first 15 times, partition
/// 2's always. The backfill copies 0 and 1, gives 2 up after the bound,
/// and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_retries_positioning_and_gives_up_a_partition_it_cannot_position() {
    const END: i64 = 3;
    let target = TansuBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let refusals = Arc::new(AtomicUsize::new(0));
    let refused = Arc::clone(&refusals);
    let source = fake_source_refusing(
        vec![(TOPIC.into(), 3)],
        |_, _| END,
        move |_, p| match p {
            // More than the cluster layer's own retries of one request
            // (`leader_retries`, 5): positioning itself fails and retries.
            1 if refused.fetch_add(1, Ordering::SeqCst) < 15 => {
                Some(ErrorCode::LEADER_NOT_AVAILABLE)
            }
            2 => Some(ErrorCode::LEADER_NOT_AVAILABLE),
            _ => None,
        },
        |_, r| {
            let mut resp = shrunk_fetch_response(r);
            for t in &mut resp.responses {
                for p in &mut t.partitions {
                    let at = r.topics[0]
                        .partitions
                        .iter()
                        .find(|q| q.partition == p.partition_index)
                        .map_or(-1, |q| q.fetch_offset);
                    p.high_watermark = END;
                    p.last_stable_offset = END;
                    p.records = Some(if at == 0 {
                        Records::from(batch_at(0, END))
                    } else {
                        Records::new()
                    });
                }
            }
            Action::Respond(ResponseBody::Fetch(resp))
        },
    )
    .await;
    let handle = Mirror::builder()
        .source(cluster_config(&source.bootstrap()))
        .target(cluster_config(&target.bootstrap()))
        .topics([TOPIC])
        .group_id("mirror-unpositioned")
        .mode(Mode::UntilCaughtUp)
        .sync_configs(false)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_or_else(|e| {
            panic!("a partition that cannot be positioned does not stop the start: {e}")
        });
    let control = handle.control();
    let st = control.status();
    assert_eq!(
        st.partitions[2].state,
        PartitionState::SourceUnavailable,
        "{st:#?}"
    );
    assert_eq!(st.partitions[2].position, None, "{st:#?}");
    let summary = tokio::time::timeout(Duration::from_secs(90), handle.wait())
        .await
        .unwrap_or_else(|_| panic!("the backfill never ended: {:#?}", control.status()))
        .unwrap();
    assert!(
        refusals.load(Ordering::SeqCst) > 3,
        "partition 1 was retried"
    );
    let ps = &summary.partitions;
    for p in &ps[..2] {
        assert_eq!(p.state, PartitionState::CaughtUp, "{summary}");
        assert_eq!(
            (p.end_offset, p.committed_offset),
            (Some(END), Some(END)),
            "{summary}"
        );
        assert_eq!(p.totals.records, END as u64, "{summary}");
    }
    assert!(
        ps[1].totals.errors >= 2,
        "positioning failed twice: {summary}"
    );
    assert_eq!(ps[2].state, PartitionState::Failed, "{summary}");
    let reason = ps[2].reason.as_deref().unwrap_or_default();
    for part in [
        &format!("{TOPIC}-2"),
        "LEADER_NOT_AVAILABLE",
        "broker 0",
        "run the backfill again",
    ] {
        assert!(reason.contains(part), "{part:?} missing from: {reason}");
    }
    assert_eq!(summary.failed().count(), 1, "{summary}");
    let want: Vec<Rec> = [0, 1]
        .into_iter()
        .flat_map(|p| (0..END).map(move |i| Rec::kv(p, &format!("k{i}"), &format!("v{i}"), TS)))
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
