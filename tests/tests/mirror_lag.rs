//! Lag counts what is still to copy, from the latest end of the source log
//! seen: before the first Fetch is answered (the end read at positioning)
//! and after some data arrived. A scripted source whose high watermark is
//! known (1,000 on every partition) serves 100 records of partition 0 and
//! nothing else; the target is a real Tansu behind the strict front.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::time::Duration;

use integration_tests::fake_broker::Action;
use integration_tests::fake_source::{self, PartitionFetch};
use integration_tests::mirror_support::{mirror, numbered, start, strict_tansu, wait_for_status};
use kafka_proto::messages::RequestBody;

const TOPIC: &str = "lagging";
const END: i64 = 1_000;
const SERVED: i64 = 100;

fn lags(status: &replicator_core::Status) -> Vec<(i32, i64)> {
    let mut l: Vec<_> = status
        .partitions
        .iter()
        .map(|p| (p.partition, p.lag))
        .collect();
    l.sort_unstable();
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_is_what_is_still_to_copy_before_and_after_the_first_fetch() {
    let target = strict_tansu();
    // No Fetch is ever answered: only positioning has read the log's end.
    let silent =
        fake_source::start(vec![(TOPIC.into(), 2)], |_, _| END, |_, _| Action::Ignore).await;
    let handle = start(
        mirror(&silent.bootstrap(), &target.bootstrap())
            .topics([TOPIC])
            .group_id("mirror-lag-silent")
            .sync_configs(false),
    )
    .await;
    let control = handle.control();
    let asked = || {
        silent
            .received()
            .iter()
            .any(|r| matches!(r.body, RequestBody::Fetch(_)))
    };
    wait_for_status(
        &control,
        "both partitions positioned and a Fetch sent",
        Duration::from_secs(30),
        |s| {
            s.partitions.len() == 2 && s.partitions.iter().all(|p| p.position == Some(0)) && asked()
        },
    )
    .await;
    assert_eq!(
        lags(&handle.status()),
        [(0, END), (1, END)],
        "nothing copied yet: the whole log is still to copy"
    );
    assert_eq!(handle.status().totals.records, 0);
    // Its Fetch is never answered; the runtime's end stops it.
    drop(handle);

    // Partition 0 gets 100 records, then nothing more; partition 1 nothing.
    let records = numbered(0, SERVED, 1);
    let slow = fake_source::start(
        vec![(TOPIC.into(), 2)],
        |_, _| END,
        move |_, r| {
            let first = fake_source::batch(0, &records);
            Action::After(
                Duration::from_millis(50),
                Box::new(fake_source::respond(r, |_, partition, offset| {
                    if partition == 0 && offset == 0 {
                        PartitionFetch::log(0, END, first.clone())
                    } else {
                        PartitionFetch::log(0, END, bytes::Bytes::new())
                    }
                })),
            )
        },
    )
    .await;
    let handle = start(
        mirror(&slow.bootstrap(), &target.bootstrap())
            .topics([TOPIC])
            .group_id("mirror-lag-slow")
            .sync_configs(false),
    )
    .await;
    let control = handle.control();
    wait_for_status(
        &control,
        "partition 0's 100 records acknowledged",
        Duration::from_secs(30),
        |s| s.totals.records == SERVED as u64,
    )
    .await;
    assert_eq!(
        lags(&handle.status()),
        [(0, END - SERVED), (1, END)],
        "{:#?}",
        handle.status()
    );
    let summary = handle.stop().await.expect("a graceful stop");
    assert_eq!(summary.totals.records, SERVED as u64, "{summary}");
}
