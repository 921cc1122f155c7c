//! The throttle holds the rate of fetched bytes: a scripted source with far
//! more data than the rate allows (serving 32 KiB batches and honouring
//! each partition's `partition_max_bytes` as a broker does, KIP-74), a
//! mirror throttled to 1 MiB/s, and the bytes the target acknowledged over
//! ten seconds, after the first second's burst, within 10% of the rate.
//! The target is a real Tansu behind the strict front.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use integration_tests::fake_source::{self, PartitionFetch};
use integration_tests::mirror_support::{mirror, start, strict_tansu, wait_for_status, Rec, TS};

const TOPIC: &str = "throttled";
const PARTITIONS: i32 = 2;
const RECORDS_PER_BATCH: i64 = 32;
const BATCHES: i64 = 600; // 600 x 32 KiB = 19 MiB per partition
const RATE: u64 = 1 << 20;

/// One partition's log: `BATCHES` batches of 32 records of 1 KiB.
fn log(partition: i32) -> Vec<Bytes> {
    (0..BATCHES)
        .map(|b| {
            let base = b * RECORDS_PER_BATCH;
            let recs: Vec<Rec> = (base..base + RECORDS_PER_BATCH)
                .map(|i| Rec::kv(partition, &format!("k{i}"), &"v".repeat(1024), TS + i))
                .collect();
            fake_source::batch(base, &recs)
        })
        .collect()
}

/// The batches from `offset` on, at least one, then as many as fit
/// `max_bytes`.
fn read(log: &[Bytes], offset: i64, max_bytes: usize) -> Bytes {
    let first = (offset / RECORDS_PER_BATCH) as usize;
    let mut out = Vec::new();
    for b in log.iter().skip(first) {
        if !out.is_empty() && out.len() + b.len() > max_bytes {
            break;
        }
        out.extend_from_slice(b);
    }
    Bytes::from(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_bytes_hold_the_throttle_rate_within_ten_percent_over_ten_seconds() {
    let target = strict_tansu();
    let logs: Arc<Vec<Vec<Bytes>>> = Arc::new((0..PARTITIONS).map(log).collect());
    let end = BATCHES * RECORDS_PER_BATCH;
    let served = Arc::clone(&logs);
    let source = fake_source::start(
        vec![(TOPIC.into(), PARTITIONS)],
        move |_, _| end,
        move |_, r| {
            let max_of = |partition: i32| {
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .find(|p| p.partition == partition)
                    .map_or(0, |p| p.partition_max_bytes.max(0) as usize)
            };
            fake_source::respond(r, |_, partition, offset| {
                let log = &served[partition as usize];
                PartitionFetch::log(0, end, read(log, offset, max_of(partition)))
            })
        },
    )
    .await;
    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .topics([TOPIC])
            .group_id("mirror-throttled")
            .sync_configs(false)
            .throttle(Some(RATE)),
    )
    .await;
    let control = handle.control();
    // Past the first second, whose full bucket is a burst.
    wait_for_status(&control, "some data copied", Duration::from_secs(30), |s| {
        s.totals.bytes > 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (t0, b0) = (Instant::now(), handle.status().totals.bytes);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (t1, b1) = (Instant::now(), handle.status().totals.bytes);
    let rate = (b1 - b0) as f64 / (t1 - t0).as_secs_f64();
    let status = handle.status();
    eprintln!(
        "throttle {RATE} B/s: {rate:.0} B/s acknowledged over {:?} ({:+.1}%)",
        t1 - t0,
        (rate / RATE as f64 - 1.0) * 100.0
    );
    assert!(
        (rate - RATE as f64).abs() <= RATE as f64 * 0.10,
        "{rate:.0} B/s over {:?}, throttle {RATE} B/s\n{status:#?}",
        t1 - t0
    );
    let throttle = status.throttle.expect("the status shows the throttle");
    assert_eq!(throttle.bytes_per_second, RATE);
    assert!(
        throttle.throttled > Duration::from_secs(5),
        "fetching waited for the rate most of the time: {throttle:?}"
    );
    assert!(
        status.lag() > 0,
        "the source still had data the rate held back: {status:#?}"
    );
    handle.stop().await.expect("a graceful stop");
}
