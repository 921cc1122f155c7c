//! Backfill ("until caught up") edges against two Tansu brokers: a
//! selection that matches nothing finishes on its own with an empty
//! summary; and the end offsets captured at start are in the status and
//! the summary, with the rest copied by the next (continuous) run.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::time::Duration;

use integration_tests::log_capture::Logs;
use integration_tests::mirror_support::{
    assert_same, cluster_config, consume, produce, producer, wait_for_or, Rec,
};
use integration_tests::TansuBroker;
use replicator_core::{Mirror, Mode, PartitionState};

const TS: i64 = 1_700_000_000_000;

fn tansu() -> TansuBroker {
    TansuBroker::start().unwrap_or_else(|e| panic!("{e}"))
}

fn recs(from: usize, to: usize, partitions: i32) -> Vec<Rec> {
    (from..to)
        .map(|i| {
            Rec::kv(
                i as i32 % partitions,
                &format!("k{i}"),
                &format!("v{i}"),
                TS + i as i64,
            )
        })
        .collect()
}

// Current-thread runtime: the engine's tasks log on this thread, where the
// capture is installed.
#[tokio::test]
async fn backfill_with_nothing_selected_finishes_with_an_empty_summary() {
    let logs = Logs::capture();
    let source = tansu();
    let target = tansu();
    source.create_topic("orders", 2).unwrap();
    produce(
        &producer(&source.bootstrap(), &[]),
        "orders",
        &recs(0, 10, 2),
    )
    .await;
    let handle = Mirror::builder()
        .source(cluster_config(&source.bootstrap()))
        .target(cluster_config(&target.bootstrap()))
        .include(r"nomatch\..*")
        .group_id("mirror-empty")
        .mode(Mode::UntilCaughtUp)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    assert!(handle.status().partitions.is_empty());
    let summary = tokio::time::timeout(Duration::from_secs(20), handle.wait())
        .await
        .expect("a backfill with nothing selected finishes on its own")
        .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_reports_the_end_offsets_captured_at_start() {
    let source = tansu();
    let target = tansu();
    let (sb, tb) = (source.bootstrap(), target.bootstrap());
    source.create_topic("ledger", 2).unwrap();
    let p = producer(&sb, &[("linger.ms", "2")]);
    let before = recs(0, 200, 2);
    produce(&p, "ledger", &before).await;
    let handle = Mirror::builder()
        .source(cluster_config(&sb))
        .target(cluster_config(&tb))
        .topics(["ledger"])
        .group_id("mirror-ends")
        .mode(Mode::UntilCaughtUp)
        // Small budgets: the backfill takes many round trips.
        .max_bytes_in_flight(64 << 10, 4 << 10)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let control = handle.control();
    let at_start = control.status();
    assert_eq!(at_start.partitions.len(), 2);
    for st in &at_start.partitions {
        // Tansu's offsets count records: 100 per partition.
        assert_eq!(st.end_offset, Some(100), "{st:?}");
        let left = st.to_end.expect("known once positioned");
        assert!((0..=100).contains(&left), "{st:?}");
    }
    // Written after start: beyond the end offsets. The backfill need not
    // copy them, but batches a fetch returns past the end offset are
    // forwarded whole, so it may.
    let after = recs(200, 260, 2);
    produce(&p, "ledger", &after).await;
    let summary = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .unwrap_or_else(|_| panic!("backfill did not finish: {:#?}", control.status()))
        .unwrap();
    assert_eq!(summary.failed().count(), 0, "{summary}");
    let copied = summary.totals.records;
    assert!(
        (before.len() as u64..=(before.len() + after.len()) as u64).contains(&copied),
        "{summary}"
    );
    for st in &summary.partitions {
        assert_eq!(st.state, PartitionState::CaughtUp, "{st:?}");
        assert_eq!((st.end_offset, st.to_end), (Some(100), Some(0)), "{st:?}");
        assert!(
            st.committed_offset
                .is_some_and(|c| (100..=130).contains(&c)),
            "{st:?}"
        );
    }

    // Continuous mode has no end offsets.
    let handle = Mirror::builder()
        .source(cluster_config(&sb))
        .target(cluster_config(&tb))
        .topics(["ledger"])
        .group_id("mirror-ends")
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let control = handle.control();
    let rest = (before.len() + after.len()) as u64 - copied;
    wait_for_or(
        "the records the backfill left",
        Duration::from_secs(60),
        || control.status().totals.records == rest,
        || format!("{:#?}", control.status()),
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
    let all: Vec<Rec> = before.iter().chain(&after).cloned().collect();
    assert_same(
        "ledger",
        &all,
        &consume(&tb, "ledger", all.len(), Duration::from_secs(60)),
    );
}
