//! The `kafka-mirror` command, end to end against two Tansu brokers: a
//! properties file written here, `kafka-mirror --until-caught-up` run
//! in-process through the same `mirror_cli::run_with` the binary calls, and the
//! target checked record by record by an independent librdkafka consumer.
//! Then active/active (a->b and b->a with the prefix policy), run twice.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::mirror_support::{
    assert_same, consume, produce, producer, strict_tansu, Rec, TS,
};
use integration_tests::StrictTansu;
use mirror_cli::{run_with, Outcome, EXIT_OK, EXIT_USAGE};
use replicator_core::{PartitionState, Summary};

/// Writes the properties file `name` in `dir`: clusters a and b at the
/// two brokers, then `rest`.
fn properties(dir: &Path, name: &str, a: &StrictTansu, b: &StrictTansu, rest: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "clusters = a, b\n\
         a.bootstrap.servers = {}\n\
         b.bootstrap.servers = {}\n\
         {rest}",
        a.bootstrap(),
        b.bootstrap()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn records(prefix: &str, partitions: i32, n: usize) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            let mut r = Rec::kv(
                (i as i32) % partitions,
                &format!("{prefix}-k{i}"),
                &format!("{prefix}-value-{i}"),
                TS + i as i64,
            );
            match i % 4 {
                0 => r.key = None,
                1 => r.headers = vec![("h".into(), Some(b"v".to_vec())), ("n".into(), None)],
                2 => r.value = None,
                _ => {}
            }
            r
        })
        .collect()
}

async fn mirror(config: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec!["--config".to_owned(), config.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    match tokio::time::timeout(
        Duration::from_secs(120),
        run_with(args, std::future::pending()),
    )
    .await
    {
        Ok(o) => o,
        Err(_) => panic!("mirror --until-caught-up did not finish in 120 s"),
    }
}

fn summary<'a>(o: &'a Outcome, flow: &str) -> &'a Summary {
    let f = o
        .flows
        .iter()
        .find(|f| f.flow == flow)
        .unwrap_or_else(|| panic!("no flow {flow} in {o:?}"));
    f.result
        .as_ref()
        .unwrap_or_else(|e| panic!("flow {flow} failed: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_until_caught_up_copies_everything() {
    // Both are targets in the active/active runs: both are strict.
    let a = strict_tansu();
    let b = strict_tansu();
    a.create_topic("orders", 3).unwrap();
    a.create_topic("payments", 1).unwrap();
    a.create_topic("scratch", 1).unwrap();
    let orders = records("o", 3, 300);
    let payments = records("p", 1, 120);
    let lz4 = producer(
        &a.bootstrap(),
        &[("compression.type", "lz4"), ("linger.ms", "20")],
    );
    produce(&lz4, "orders", &orders).await;
    let zstd = producer(
        &a.bootstrap(),
        &[("compression.type", "zstd"), ("linger.ms", "20")],
    );
    produce(&zstd, "payments", &payments).await;
    produce(&zstd, "scratch", &records("s", 1, 10)).await;

    let dir = tempfile::tempdir().unwrap();
    let config = properties(
        dir.path(),
        "mirror.properties",
        &a,
        &b,
        "a->b.enabled = true\n\
         a->b.topics = orders, pay.*\n\
         replication.policy.class = IdentityReplicationPolicy\n\
         replication.factor = 1\n\
         tasks.max = 4\n",
    );

    let out = mirror(&config, &["--until-caught-up", "--status-interval", "0.2"]).await;
    assert_eq!(out.code, EXIT_OK, "{out:?}");
    let s = summary(&out, "a->b");
    assert_eq!(s.failed().count(), 0, "{s}");
    assert!(s.drained, "{s}");
    assert_eq!(
        s.totals.records,
        (orders.len() + payments.len()) as u64,
        "{s}"
    );
    assert_eq!(s.partitions.len(), 4, "{s}");
    for p in &s.partitions {
        assert_eq!(p.state, PartitionState::CaughtUp, "{p:?}");
        assert_eq!(p.source_topic, p.target_topic, "identity policy");
    }

    let t = Duration::from_secs(60);
    let tb = b.bootstrap();
    assert_same("orders", &orders, &consume(&tb, "orders", orders.len(), t));
    assert_same(
        "payments",
        &payments,
        &consume(&tb, "payments", payments.len(), t),
    );
    assert!(
        !b.list_topics().unwrap().contains(&"scratch".to_owned()),
        "scratch is not selected"
    );

    // A second run resumes from the committed offsets: nothing to copy.
    let again = mirror(&config, &["--until-caught-up"]).await;
    assert_eq!(again.code, EXIT_OK, "{again:?}");
    assert_eq!(summary(&again, "a->b").totals.records, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_active_active_with_prefixes() {
    let a = strict_tansu();
    let b = strict_tansu();
    a.create_topic("orders", 2).unwrap();
    b.create_topic("orders", 2).unwrap();
    let from_a = records("a", 2, 200);
    let from_b = records("b", 2, 150);
    produce(
        &producer(&a.bootstrap(), &[("compression.type", "lz4")]),
        "orders",
        &from_a,
    )
    .await;
    produce(
        &producer(&b.bootstrap(), &[("compression.type", "zstd")]),
        "orders",
        &from_b,
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let config = properties(
        dir.path(),
        "active-active.properties",
        &a,
        &b,
        "a->b.enabled = true\n\
         b->a.enabled = true\n\
         replication.factor = 1\n",
    );

    for run in 0..2 {
        let out = mirror(&config, &["--until-caught-up"]).await;
        assert_eq!(out.code, EXIT_OK, "run {run}: {out:?}");
        for (flow, n) in [("a->b", from_a.len()), ("b->a", from_b.len())] {
            let s = summary(&out, flow);
            assert_eq!(s.failed().count(), 0, "{s}");
            let want = if run == 0 { n as u64 } else { 0 };
            assert_eq!(s.totals.records, want, "run {run} {flow}: {s}");
            // Only the local topic: the prefixed copy is never sent back.
            assert!(
                s.partitions.iter().all(|p| p.source_topic == "orders"),
                "run {run} {flow}: {s}"
            );
        }
    }

    let t = Duration::from_secs(60);
    assert_same(
        "a.orders",
        &from_a,
        &consume(&b.bootstrap(), "a.orders", from_a.len(), t),
    );
    assert_same(
        "b.orders",
        &from_b,
        &consume(&a.bootstrap(), "b.orders", from_b.len(), t),
    );
    for broker in [&a, &b] {
        let topics = broker.list_topics().unwrap();
        assert!(
            !topics
                .iter()
                .any(|t| t.starts_with("a.b.") || t.starts_with("b.a.")),
            "no loop: {topics:?}"
        );
    }
}

#[tokio::test]
async fn cli_bad_usage_and_config_exit_2() {
    let out = run_with(["--until-caught-up"], std::future::pending()).await;
    assert_eq!(out.code, EXIT_USAGE);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.properties");
    std::fs::write(&config, "clusters = a, b\na->b.enabled = true\n").unwrap();
    let out = run_with(
        ["--config", config.to_str().unwrap()],
        std::future::pending(),
    )
    .await;
    assert_eq!(out.code, EXIT_USAGE, "missing bootstrap.servers");
    let out = run_with(
        ["--config", "/nonexistent.properties"],
        std::future::pending(),
    )
    .await;
    assert_eq!(out.code, EXIT_USAGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_continuous_stops_gracefully_when_asked() {
    let a = strict_tansu();
    let b = strict_tansu();
    a.create_topic("events", 2).unwrap();
    let events = records("e", 2, 200);
    produce(&producer(&a.bootstrap(), &[]), "events", &events).await;
    let dir = tempfile::tempdir().unwrap();
    let config = properties(
        dir.path(),
        "continuous.properties",
        &a,
        &b,
        "a->b.enabled = true\n\
         a->b.topics = events\n\
         replication.factor = 1\n",
    );
    // The stand-in for Ctrl-C: fires once the target has every record.
    let tb = b.bootstrap();
    let n = events.len();
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let stop = async move {
        let seen = tokio::task::spawn_blocking(move || {
            consume(&tb, "a.events", n, Duration::from_secs(60))
        })
        .await
        .unwrap();
        let _ = seen_tx.send(seen);
    };
    let args = ["--config".to_owned(), config.display().to_string()];
    let out = tokio::time::timeout(Duration::from_secs(120), run_with(args, stop))
        .await
        .expect("the mirror stopped when asked");
    assert_eq!(out.code, EXIT_OK, "{out:?}");
    let s = summary(&out, "a->b");
    assert_eq!(s.totals.records, n as u64, "{s}");
    assert!(s.drained, "{s}");
    for p in &s.partitions {
        assert!(p.committed_offset.is_some(), "committed on stop: {p:?}");
    }
    assert_same("events", &events, &seen_rx.await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_until_caught_up_with_nothing_selected_exits_0() {
    let a = strict_tansu();
    let b = strict_tansu();
    a.create_topic("orders", 1).unwrap();
    produce(
        &producer(&a.bootstrap(), &[]),
        "orders",
        &records("o", 1, 5),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = properties(
        dir.path(),
        "empty.properties",
        &a,
        &b,
        "a->b.enabled = true\n\
         a->b.topics = nomatch.*, missing\n\
         replication.factor = 1\n",
    );
    let started = std::time::Instant::now();
    let out = mirror(&config, &["--until-caught-up", "--status-interval", "0.1"]).await;
    assert_eq!(out.code, EXIT_OK, "{out:?}");
    let s = summary(&out, "a->b");
    assert!(s.partitions.is_empty(), "{s}");
    assert_eq!(s.totals.records, 0, "{s}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "finished on its own, took {:?}",
        started.elapsed()
    );
    assert!(!b
        .list_topics()
        .unwrap()
        .iter()
        .any(|t| t.contains("orders")));
}
