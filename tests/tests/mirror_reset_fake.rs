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
use integration_tests::fake_broker::FakeBroker;
use integration_tests::fake_source::{self, batch, PartitionFetch};
use integration_tests::mirror_support::{
    assert_holds, finish, mirror, numbered, start, start_or, strict_tansu, wait_for_status, Rec,
};
use integration_tests::StrictTansu;
use kafka_proto::ErrorCode;
use replicator_core::{MirrorHandle, Mode, PartitionState, StartFrom};

const TOPIC: &str = "retained";
/// Where the mirror starts: the end of the log when it first looks.
const FIRST_END: i64 = 5;
/// The log's end once retention moved its start past FIRST_END: the
/// reset's target under the latest policy, where new data then arrives.
const NEW_START: i64 = 30;
/// The end after the new data.
const NEW_END: i64 = 33;

/// The records `0..n` of partition 0 as one batch at `base`, for a fetch
/// from `base`; nothing for a fetch from anywhere else.
fn new_records(fetch_offset: i64, base: i64, n: i64) -> Bytes {
    if fetch_offset == base {
        batch(base, &numbered(0, n, 1))
    } else {
        Bytes::new()
    }
}

/// Before NEW_START: out of range; at it: the new batch.
fn out_of_range_before_new_start(offset: i64) -> PartitionFetch {
    if offset < NEW_START {
        PartitionFetch::error(ErrorCode::OFFSET_OUT_OF_RANGE)
    } else {
        PartitionFetch::log(
            NEW_START,
            NEW_END,
            new_records(offset, NEW_START, NEW_END - NEW_START),
        )
    }
}

/// A scripted source of TOPIC (one partition) whose log ends at
/// `latest[0]` when the mirror first asks and at `latest[1]` from then on,
/// answering a Fetch from an offset with `fetch(offset)`; and a mirror from
/// it to `target` that starts at the latest offset.
async fn mirror_from_latest(
    target: &StrictTansu,
    group: &str,
    latest: [i64; 2],
    fetch: fn(i64) -> PartitionFetch,
) -> (FakeBroker, MirrorHandle) {
    let calls = AtomicUsize::new(0);
    let source = fake_source::start(
        vec![(TOPIC.into(), 1)],
        move |_, _| latest[usize::from(calls.fetch_add(1, Ordering::SeqCst) > 0)],
        move |_, r| fake_source::respond(r, |_, _, offset| fetch(offset)),
    )
    .await;
    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .topics([TOPIC])
            .group_id(group)
            .start_from(StartFrom::Latest)
            .sync_configs(false)
            .commit_interval(Duration::from_millis(100)),
    )
    .await;
    (source, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_resets_per_policy_and_counts_lost_offsets() {
    let target = strict_tansu();
    // The first ListOffsets(latest) positions the mirror at FIRST_END; by
    // the time it fetches, the log ends at NEW_START. Latest: the reset
    // goes to the end of the log, NEW_START, skipping FIRST_END..NEW_START.
    // (The fake's earliest offset is always 0, which is not past the
    // position: an earliest reset would lose nothing.)
    let (_source, handle) = mirror_from_latest(
        &target,
        "mirror-reset",
        [FIRST_END, NEW_START],
        out_of_range_before_new_start,
    )
    .await;
    let control = handle.control();
    wait_for_status(
        &control,
        "the reset reported",
        Duration::from_secs(30),
        |s| s.partitions[0].totals.lost_offsets > 0,
    )
    .await;
    wait_for_status(
        &control,
        "the new data mirrored",
        Duration::from_secs(30),
        |s| s.totals.records == (NEW_END - NEW_START) as u64,
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
    let want = numbered(0, NEW_END - NEW_START, 1);
    assert_holds(&target.bootstrap(), TOPIC, &want, Duration::from_secs(30));
}

/// Where the shrunk log ends before and after its new data.
const SHRUNK_END: i64 = 10;
const SHRUNK_NEW_END: i64 = 13;

/// A log that no longer reaches the mirror's position, answered as Tansu
/// answers it: no error, no records, a high watermark below the position;
/// from SHRUNK_END, the new data.
fn shrunk(offset: i64) -> PartitionFetch {
    PartitionFetch::log(
        0,
        SHRUNK_NEW_END,
        new_records(offset, SHRUNK_END, SHRUNK_NEW_END - SHRUNK_END),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_watermark_below_the_position_resets_like_out_of_range() {
    let target = strict_tansu();
    // Positioned at 50 (latest at start); the log then ends at 10.
    let (_source, handle) =
        mirror_from_latest(&target, "mirror-shrunk", [50, SHRUNK_END], shrunk).await;
    let control = handle.control();
    assert_eq!(control.status().partitions[0].position, Some(50));
    wait_for_status(
        &control,
        "the data after the reset mirrored",
        Duration::from_secs(30),
        |s| s.totals.records == (SHRUNK_NEW_END - SHRUNK_END) as u64,
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
    let want = numbered(0, SHRUNK_NEW_END - SHRUNK_END, 1);
    assert_holds(&target.bootstrap(), TOPIC, &want, Duration::from_secs(30));
}

/// Backfill: partition 1's ListOffsets fails its first 15 times, partition
/// 2's always. The backfill copies 0 and 1, gives 2 up after the bound,
/// and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_retries_positioning_and_gives_up_a_partition_it_cannot_position() {
    const END: i64 = 3;
    let target = strict_tansu();
    let refusals = Arc::new(AtomicUsize::new(0));
    let refused = Arc::clone(&refusals);
    let source = fake_source::start_refusing(
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
            fake_source::respond(r, |_, _, offset| {
                PartitionFetch::log(0, END, new_records(offset, 0, END))
            })
        },
    )
    .await;
    let handle = start_or(
        mirror(&source.bootstrap(), &target.bootstrap())
            .topics([TOPIC])
            .group_id("mirror-unpositioned")
            .mode(Mode::UntilCaughtUp)
            .sync_configs(false),
        || "a partition that cannot be positioned does not stop the start".into(),
    )
    .await;
    let control = handle.control();
    let st = control.status();
    assert_eq!(
        st.partitions[2].state,
        PartitionState::SourceUnavailable,
        "{st:#?}"
    );
    assert_eq!(st.partitions[2].position, None, "{st:#?}");
    let summary = finish(handle, Duration::from_secs(90)).await;
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
        .flat_map(|p| (0..END).map(move |i| Rec::numbered(p, i)))
        .collect();
    assert_holds(&target.bootstrap(), TOPIC, &want, Duration::from_secs(30));
}
