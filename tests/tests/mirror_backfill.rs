//! Backfill ("until caught up") edges: a selection that matches nothing
//! finishes on its own with an empty summary; the end offsets captured at
//! start are in the status and the summary, and a batch that holds the last
//! offset to copy goes whole while no batch a Fetch returns that starts at
//! or past the end offset is copied; the next (continuous) run copies the
//! rest. Tansu 0.6 serves a partition's records from the fetch offset on as
//! one batch and the librdkafka mock one stored batch per Fetch, so neither
//! hands the mirror a batch past the end along with the last one to copy:
//! a scripted source serves several batches in one response, as Kafka does.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::time::Duration;

use bytes::Bytes;
use integration_tests::fake_source::{self, batch, PartitionFetch};
use integration_tests::log_capture::Logs;
use integration_tests::mirror_support::{
    assert_holds, assert_same, by_partition, consume, finish, mirror, numbered, produce, producer,
    start, strict_tansu, tansu, wait_for_status, Rec,
};
use integration_tests::mock::MockKafka;
use integration_tests::peer::{PeerKind, Peers};
use replicator_core::{Mode, PartitionState};

// Current-thread runtime: the engine's tasks log on this thread, where the
// capture is installed.
#[tokio::test]
async fn backfill_with_nothing_selected_finishes_with_an_empty_summary() {
    let logs = Logs::capture();
    let source = tansu();
    let target = strict_tansu();
    source.create_topic("orders", 2).unwrap();
    produce(
        &producer(&source.bootstrap(), &[]),
        "orders",
        &numbered(0, 10, 2),
    )
    .await;
    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .include(r"nomatch\..*")
            .group_id("mirror-empty")
            .mode(Mode::UntilCaughtUp),
    )
    .await;
    assert!(handle.status().partitions.is_empty());
    // A backfill with nothing selected finishes on its own.
    let summary = finish(handle, Duration::from_secs(20)).await;
    assert!(summary.partitions.is_empty(), "{summary}");
    assert_eq!(summary.totals.records, 0, "{summary}");
    assert!(summary.drained, "{summary}");
    assert!(
        summary.to_string().contains("over 0 partitions"),
        "{summary}"
    );
    let text = logs.text();
    let warning = text
        .lines()
        .find(|l| l.contains("nothing to copy"))
        .unwrap_or_else(|| panic!("no warning logged:\n{text}"));
    assert!(
        warning.starts_with("WARN")
            && warning.contains("mirror-empty")
            && warning.contains(r"nomatch\..*"),
        "the warning names the group and the selection: {warning}"
    );
    assert!(
        !target.list_topics().unwrap().iter().any(|t| t == "orders"),
        "nothing was created on the target"
    );
}

// Current-thread runtime: the mirror's tasks run only when the test
// awaits, so the topic is paused before the first fetch.
#[tokio::test]
async fn backfill_reports_the_end_offsets_captured_at_start() {
    let source = tansu();
    let target = strict_tansu();
    let (sb, tb) = (source.bootstrap(), target.bootstrap());
    source.create_topic("ledger", 2).unwrap();
    let p = producer(&sb, &[("linger.ms", "2")]);
    let before = numbered(0, 200, 2);
    produce(&p, "ledger", &before).await;
    let handle = start(
        mirror(&sb, &tb)
            .topics(["ledger"])
            .group_id("mirror-ends")
            .mode(Mode::UntilCaughtUp)
            // Small budgets: the backfill takes many round trips.
            .max_bytes_in_flight(64 << 10, 4 << 10),
    )
    .await;
    let control = handle.control();
    assert!(control.pause("ledger"));
    let at_start = control.status();
    assert_eq!(at_start.partitions.len(), 2);
    for st in &at_start.partitions {
        // Tansu's offsets count records: 100 per partition.
        assert_eq!(st.end_offset, Some(100), "{st:?}");
        assert_eq!(st.to_end, Some(100), "nothing copied yet: {st:?}");
    }
    // Written after start, before the first fetch. Tansu 0.6 serves a
    // partition's records from the fetch offset on as one batch, so the
    // batch holding offset 99 also holds some of these, and goes whole:
    // each partition gets exactly the records before its committed offset,
    // the end of that batch. (The mock-source test below has batches that
    // start at the end offset: those are not copied.)
    let after = numbered(200, 260, 2);
    produce(&p, "ledger", &after).await;
    assert_eq!(control.status().totals.records, 0, "paused");
    assert!(control.resume("ledger"));
    let summary = finish(handle, Duration::from_secs(60)).await;
    assert_eq!(summary.failed().count(), 0, "{summary}");
    let all: Vec<Rec> = before.iter().chain(&after).cloned().collect();
    let source_by_partition = by_partition(&all);
    let mut prefix = Vec::new();
    for st in &summary.partitions {
        assert_eq!(st.state, PartitionState::CaughtUp, "{st:?}");
        assert_eq!((st.end_offset, st.to_end), (Some(100), Some(0)), "{st:?}");
        let c = st.committed_offset.expect("committed");
        assert!((100..=130).contains(&c), "{st:?}");
        assert_eq!(st.totals.records, c as u64, "one record per offset: {st:?}");
        prefix.extend_from_slice(&source_by_partition[&st.partition][..c as usize]);
    }
    let copied = summary.totals.records;
    assert_same(
        "ledger",
        &prefix,
        &consume(&tb, "ledger", prefix.len() + 1, Duration::from_secs(10)),
    );

    // Continuous mode has no end offsets.
    let handle = start(mirror(&sb, &tb).topics(["ledger"]).group_id("mirror-ends")).await;
    let control = handle.control();
    let rest = (before.len() + after.len()) as u64 - copied;
    wait_for_status(
        &control,
        "the records the backfill left",
        Duration::from_secs(60),
        |s| s.totals.records == rest,
    )
    .await;
    let st = control.status();
    assert!(
        st.partitions
            .iter()
            .all(|p| p.end_offset.is_none() && p.to_end.is_none()),
        "{st:#?}"
    );
    assert_eq!(st.to_end(), None);
    let summary = handle.stop().await.unwrap();
    assert_eq!(summary.totals.records, rest, "no duplicate: {summary}");
    assert_holds(&tb, "ledger", &all, Duration::from_secs(60));
}

/// librdkafka's mock cluster keeps batches as produced, so batches written
/// after start begin exactly at the end offsets, and the backfill stops
/// there. (The mock serves one batch per Fetch, so it never hands the
/// mirror a batch past the end along with the last one to copy; the
/// scripted source below does.)
// Current-thread runtime: the topic is paused before the first fetch.
#[tokio::test]
async fn backfill_copies_no_batch_starting_at_or_past_the_end_offset() {
    let mock = MockKafka::start(1).unwrap();
    let target = strict_tansu();
    mock.create_topic("ledger", 2, 1).unwrap();
    no_batch_at_or_past_the_end(
        &mock.bootstrap(),
        &target.bootstrap(),
        "ledger",
        "mirror-mock-ends",
    )
    .await;
}

/// Apache Kafka stores batches as produced too, and answers a Fetch with
/// several of them: the same stop at the end offsets.
// Current-thread runtime: the topic is paused before the first fetch.
#[tokio::test]
async fn backfill_copies_no_batch_starting_at_or_past_the_end_offset_kafka() {
    let peers = Peers::start(PeerKind::Kafka, "ends");
    let topic = peers.name("ledger");
    peers.source.create_topic(&topic, 2).unwrap();
    no_batch_at_or_past_the_end(
        &peers.source.bootstrap(),
        &peers.target.bootstrap(),
        &topic,
        &peers.name("mirror-ends"),
    )
    .await;
}

async fn no_batch_at_or_past_the_end(sb: &str, tb: &str, topic: &str, group: &str) {
    let (sb, tb) = (sb.to_owned(), tb.to_owned());
    let p = producer(&sb, &[("linger.ms", "2"), ("batch.num.messages", "30")]);
    let before = numbered(0, 200, 2);
    produce(&p, topic, &before).await;
    let handle = start(
        mirror(&sb, &tb)
            .topics([topic])
            .group_id(group)
            .mode(Mode::UntilCaughtUp)
            .sync_configs(false),
    )
    .await;
    let control = handle.control();
    assert!(control.pause(topic));
    for st in &control.status().partitions {
        assert_eq!(st.end_offset, Some(100), "{st:?}");
    }
    // Delivered after the first 200: their batches start at offset 100.
    let after = numbered(200, 260, 2);
    produce(&p, topic, &after).await;
    assert!(control.resume(topic));
    let summary = finish(handle, Duration::from_secs(60)).await;
    assert_eq!(summary.failed().count(), 0, "{summary}");
    assert_eq!(summary.totals.records, before.len() as u64, "{summary}");
    for st in &summary.partitions {
        assert_eq!(st.state, PartitionState::CaughtUp, "{st:?}");
        assert_eq!(st.committed_offset, Some(100), "{st:?}");
        assert_eq!(st.totals.records, 100, "{st:?}");
    }
    assert_same(
        topic,
        &before,
        &consume(&tb, topic, before.len() + 1, Duration::from_secs(10)),
    );
}

/// Three batches, [0, 3), [3, 6) and [6, 9), in one Fetch response, as
/// Kafka serves them. With the end offset at 5 the second batch straddles
/// it and goes whole; at 6 it ends there. Either way [6, 9) was written
/// after start and is not copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_drops_fetched_batches_that_start_at_or_past_the_end_offset() {
    let target = strict_tansu();
    let ends = [5i64, 6];
    let source = fake_source::start(
        vec![("ledger".into(), 2)],
        move |_, p| ends[p as usize],
        |_, r| fake_source::respond(r, |_, _, offset| three_batches(offset)),
    )
    .await;
    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .topics(["ledger"])
            .group_id("mirror-fake-ends")
            .mode(Mode::UntilCaughtUp)
            .sync_configs(false),
    )
    .await;
    let summary = finish(handle, Duration::from_secs(30)).await;
    assert_eq!(summary.failed().count(), 0, "{summary}");
    for (st, end) in summary.partitions.iter().zip(ends) {
        assert_eq!(st.state, PartitionState::CaughtUp, "{st:?}");
        assert_eq!((st.end_offset, st.to_end), (Some(end), Some(0)), "{st:?}");
        assert_eq!(st.committed_offset, Some(6), "{st:?}");
        assert_eq!((st.totals.records, st.totals.batches), (6, 2), "{st:?}");
    }
    let want: Vec<Rec> = (0..2)
        .flat_map(|p| (0..6).map(move |i| Rec::numbered(p, i)))
        .collect();
    assert_same(
        "ledger",
        &want,
        &consume(
            &target.bootstrap(),
            "ledger",
            want.len() + 1,
            Duration::from_secs(10),
        ),
    );
}

/// At offset 0: the three batches; elsewhere nothing.
fn three_batches(offset: i64) -> PartitionFetch {
    let blob = if offset == 0 {
        [0i64, 3, 6]
            .iter()
            .flat_map(|&base| batch(base, &numbered(base, base + 3, 1)).to_vec())
            .collect::<Vec<u8>>()
            .into()
    } else {
        Bytes::new()
    };
    PartitionFetch::log(0, 9, blob)
}
