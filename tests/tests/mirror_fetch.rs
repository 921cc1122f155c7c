//! The fetch stream per source leader: a partition whose Fetch makes the
//! broker drop the connection is isolated and FAILED while the other
//! partitions on that broker arrive complete, and a Fetch for other
//! partitions goes out while one is held at the broker.
//!
//! The real case: Tansu 0.6 with sqlite storage cannot serve snappy
//! batches and closes the connection on any Fetch that reaches one. Two
//! scripted sources add what a real broker cannot be made to do on
//! demand: close on exactly one partition (to count the probes), and hold
//! one Fetch unanswered (to show the next one does not wait for it).
//! Targets are real Tansu brokers, read back by librdkafka.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integration_tests::fake_broker::{Action, FakeBroker, Received};
use integration_tests::fake_source::{self, batch, PartitionFetch};
use integration_tests::mirror_support::{
    assert_holds, assert_same, cluster_config, consume, finish, finish_or, init_logs, mirror,
    produce, producer, start, start_or, strict_tansu, tansu, wait_for_or, Rec, TS,
};
use integration_tests::requests;
use kafka_proto::messages::{FetchRequest, RequestBody};
use kafka_proto::ApiKey;
use replicator_core::{BrokerLabel, Cluster, Mode, PartitionState};

fn recs(partitions: i32, n: usize, tag: &str) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            let p = (i as i32) % partitions;
            Rec::kv(p, &format!("k{i}"), &format!("{tag}-{i}"), TS + i as i64)
        })
        .collect()
}

/// How the broker's error text names it: id and the address dialled.
async fn broker_label(bootstrap: &str) -> String {
    let cluster = Cluster::connect(cluster_config(bootstrap)).await.unwrap();
    let meta = cluster.metadata();
    let (id, b) = meta.brokers.iter().next().expect("one broker");
    let label = BrokerLabel::node(*id, b.address.clone()).to_string();
    cluster.shutdown();
    label
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_the_broker_cannot_serve_fails_alone_and_the_others_arrive() {
    init_logs();
    let source = tansu();
    let target = strict_tansu();
    let (sb, tb) = (source.bootstrap(), target.bootstrap());
    source.create_topic("plain", 3).unwrap();
    source.create_topic("packed", 1).unwrap();
    source.create_topic("snappy", 1).unwrap();
    let plain = recs(3, 240, "plain");
    produce(&producer(&sb, &[("linger.ms", "5")]), "plain", &plain).await;
    let batched = |codec| {
        producer(
            &sb,
            &[
                ("compression.type", codec),
                ("linger.ms", "20"),
                ("batch.num.messages", "20"),
            ],
        )
    };
    let packed = recs(1, 100, "lz4");
    produce(&batched("lz4"), "packed", &packed).await;
    let snappy = recs(1, 60, "snappy");
    produce(&batched("snappy"), "snappy", &snappy).await;

    // The premise: this broker drops the connection when the snappy
    // partition is fetched.
    let cluster = Cluster::connect(cluster_config(&sb)).await.unwrap();
    let (leader, conn) = cluster.leader_connection("snappy", 0).await.unwrap();
    let version = conn.version(ApiKey::Fetch).unwrap();
    let direct = conn
        .send_version(&requests::fetch(&leader, version, 0), version)
        .await;
    assert!(
        direct.is_err(),
        "the source served the snappy partition ({direct:?}); this test needs a partition the broker cannot serve"
    );
    cluster.shutdown();
    let label = broker_label(&sb).await;

    let handle = start_or(
        mirror(&sb, &tb)
            .topics(["plain", "packed", "snappy"])
            .group_id("mirror-isolation")
            .mode(Mode::UntilCaughtUp)
            .commit_interval(Duration::from_millis(200)),
        || format!("--- source log ---\n{}", source.log()),
    )
    .await;
    let summary = finish(handle, Duration::from_secs(120)).await;
    let failed: Vec<_> = summary.failed().collect();
    assert_eq!(failed.len(), 1, "{summary}");
    let f = failed[0];
    assert_eq!((f.source_topic.as_str(), f.partition), ("snappy", 0));
    assert_eq!(f.totals.records, 0, "nothing of it forwarded");
    let reason = f.reason.as_deref().unwrap_or_default();
    for needle in [
        "snappy-0:",
        "at source offset 0",
        label.as_str(),
        "broke the connection",
        "check the broker's log",
        "resume the partition",
    ] {
        assert!(reason.contains(needle), "{needle:?} missing from: {reason}");
    }
    for p in summary
        .partitions
        .iter()
        .filter(|p| p.source_topic != "snappy")
    {
        assert_eq!(p.state, PartitionState::CaughtUp, "{p:?}");
        assert_eq!(p.lag, 0, "{p:?}");
    }
    let t = Duration::from_secs(60);
    assert_same("plain", &plain, &consume(&tb, "plain", plain.len(), t));
    assert_same("packed", &packed, &consume(&tb, "packed", packed.len(), t));
}

/// The record at `offset` of partition `p`; its key names both.
fn record_at(p: i32, offset: i64) -> Rec {
    Rec::kv(
        p,
        &format!("p{p}-{offset}"),
        &format!("v{offset}"),
        TS + offset,
    )
}

fn expected(p: i32, end: i64) -> Vec<Rec> {
    (0..end).map(|o| record_at(p, o)).collect()
}

/// Answers a Fetch with one record per partition at its fetch offset, up
/// to `end(partition)`.
fn serve(r: &FetchRequest, end: impl Fn(i32) -> i64) -> Action {
    fake_source::respond(r, |_, p, offset| {
        let end = end(p);
        let records = if offset < end {
            batch(offset, &[record_at(p, offset)])
        } else {
            Default::default()
        };
        PartitionFetch::log(0, end, records)
    })
}

/// `(partition, fetch offset)` of every partition in a Fetch.
fn fetched(r: &Received) -> Option<(Vec<(i32, i64)>, i32)> {
    match &r.body {
        RequestBody::Fetch(f) => Some((
            f.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| (p.partition, p.fetch_offset))
                .collect(),
            f.max_wait_ms,
        )),
        _ => None,
    }
}

fn fetches(source: &FakeBroker) -> Vec<Vec<(i32, i64)>> {
    source
        .received()
        .iter()
        .filter_map(fetched)
        .map(|(parts, _)| parts)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_find_the_one_partition_that_breaks_the_connection() {
    init_logs();
    const END: i64 = 5;
    let target = strict_tansu();
    let source = fake_source::start(
        vec![("iso".into(), 4)],
        |_, _| END,
        |_, r| {
            let breaks = r
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .any(|p| p.partition == 2);
            if breaks {
                Action::Close
            } else {
                serve(r, |_| END)
            }
        },
    )
    .await;
    let label = broker_label(&source.bootstrap()).await;
    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .topics(["iso"])
            .group_id("mirror-probes")
            .mode(Mode::UntilCaughtUp)
            .sync_configs(false),
    )
    .await;
    let summary = finish_or(handle, Duration::from_secs(60), || {
        format!("{:?}", fetches(&source))
    })
    .await;
    let failed: Vec<_> = summary.failed().map(|p| p.partition).collect();
    assert_eq!(failed, [2], "{summary}");
    let p2 = summary
        .partitions
        .iter()
        .find(|p| p.partition == 2)
        .unwrap();
    let reason = p2.reason.as_deref().unwrap_or_default();
    for needle in ["iso-2:", "at source offset 0", label.as_str(), "3 times"] {
        assert!(reason.contains(needle), "{needle:?} missing from: {reason}");
    }
    for p in summary.partitions.iter().filter(|p| p.partition != 2) {
        assert_eq!(p.state, PartitionState::CaughtUp, "{p:?}");
        assert_eq!(p.totals.records, END as u64, "{p:?}");
    }
    let alone = fetches(&source)
        .iter()
        .filter(|f| f.as_slice() == [(2, 0)])
        .count();
    assert_eq!(
        alone,
        3,
        "fetched alone exactly BREAK_ATTEMPTS times: {:?}",
        fetches(&source)
    );
    let want: Vec<Rec> = [0, 1, 3].iter().flat_map(|&p| expected(p, END)).collect();
    assert_holds(&target.bootstrap(), "iso", &want, Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_for_other_partitions_goes_out_while_one_is_held() {
    init_logs();
    const P1_END: i64 = 10;
    let end = |p: i32| if p == 0 { 0 } else { P1_END };
    let target = strict_tansu();
    // Partition 0 is empty: the first fetch of it is answered, every later
    // one (a poll waiting for data) is held, never answered.
    let polls_of_0 = AtomicUsize::new(0);
    let source = fake_source::start(
        vec![("pipe".into(), 2)],
        move |_, p| end(p),
        move |_, r| {
            let has_0 = r
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .any(|p| p.partition == 0);
            if has_0 && polls_of_0.fetch_add(1, Ordering::SeqCst) > 0 {
                Action::Ignore
            } else {
                serve(r, end)
            }
        },
    )
    .await;
    let mut source_config = cluster_config(&source.bootstrap());
    // The held poll must not time out while the test watches.
    source_config.connection.request_timeout = Duration::from_secs(300);
    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .source(source_config)
            .topics(["pipe"])
            .group_id("mirror-pipeline")
            // One batch per partition in flight: partition 1 is fetched again
            // only once its batch is acknowledged, and by then the poll for
            // partition 0 (fetchable again at once) is out.
            .max_bytes_in_flight(1 << 20, 1)
            .sync_configs(false)
            .commit_interval(Duration::from_millis(100)),
    )
    .await;
    let control = handle.control();
    wait_for_or(
        "partition 1 mirrored while the poll for partition 0 is held",
        Duration::from_secs(120),
        || {
            control
                .status()
                .partition("pipe", 1)
                .is_some_and(|p| p.totals.records == P1_END as u64)
        },
        || format!("{:#?}\n{:?}", control.status(), fetches(&source)),
    )
    .await;
    let all: Vec<_> = source.received().iter().filter_map(fetched).collect();
    let held = all
        .iter()
        .enumerate()
        .filter(|(_, (parts, _))| parts.iter().any(|&(p, _)| p == 0))
        .map(|(i, _)| i)
        .nth(1)
        .unwrap_or_else(|| panic!("no second fetch of partition 0: {all:?}"));
    assert_eq!(all[held].0, [(0, 0)], "the held poll: {all:?}");
    assert!(all[held].1 > 0, "the held request waits for data: {all:?}");
    let after = &all[held + 1..];
    assert_eq!(
        after
            .iter()
            .map(|(parts, _)| parts.clone())
            .collect::<Vec<_>>(),
        (1..P1_END).map(|o| vec![(1, o)]).collect::<Vec<_>>(),
        "partition 1 fetched again and again while the poll is out, and partition 0 not: {all:?}"
    );
    assert!(
        after.iter().all(|(_, max_wait)| *max_wait == 0),
        "a fetch behind the poll does not wait: {all:?}"
    );
    let summary = handle.stop().await.unwrap();
    assert!(summary.drained, "{summary}");
    let want = expected(1, P1_END);
    assert_holds(&target.bootstrap(), "pipe", &want, Duration::from_secs(30));
}
