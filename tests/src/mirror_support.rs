//! Helpers for the mirror tests: an independent producer and consumer
//! (librdkafka through `rdkafka`), numbered test records, record-by-record
//! comparison, a mirror builder with settings tuned for tests, and waits
//! on a running mirror that show its status when they time out. The
//! scripted source is in [`crate::fake_source`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use replicator_core::{
    ClusterConfig, ConnectionConfig, Mirror, MirrorBuilder, MirrorControl, MirrorHandle, Status,
    Summary,
};

use crate::{StrictTansu, TansuBroker};

/// The timestamp of the first numbered record.
pub const TS: i64 = 1_700_000_000_000;

/// One record as the independent clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    /// Partition.
    pub partition: i32,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value (None: tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// CreateTime timestamp.
    pub timestamp: i64,
}

impl Rec {
    /// A record with a string key and value.
    pub fn kv(partition: i32, key: &str, value: &str, timestamp: i64) -> Self {
        Self {
            partition,
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: Vec::new(),
            timestamp,
        }
    }

    /// Record number `i` on `partition`: key `k{i}`, value `v{i}`,
    /// timestamp [`TS`]` + i`.
    pub fn numbered(partition: i32, i: i64) -> Self {
        Self::kv(partition, &format!("k{i}"), &format!("v{i}"), TS + i)
    }
}

/// `n` records over `partitions` with null keys, tombstones and repeated
/// and null headers (every fifth record of each kind); values `{tag}-{i}`.
pub fn varied_tagged(tag: &str, partitions: i32, n: usize) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            let p = (i as i32) % partitions;
            let mut r = Rec::kv(p, &format!("k{i}"), &format!("{tag}-{i}"), TS + i as i64);
            match i % 5 {
                0 => r.key = None,
                1 => r.value = None, // tombstone
                2 => {
                    r.headers = vec![
                        ("h1".into(), Some(b"one".to_vec())),
                        ("h-null".into(), None),
                        ("h1".into(), Some(b"again".to_vec())),
                    ]
                }
                _ => {}
            }
            r
        })
        .collect()
}

/// Records `from..to` ([`Rec::numbered`]), spread round robin over
/// `partitions`.
pub fn numbered(from: i64, to: i64, partitions: i32) -> Vec<Rec> {
    (from..to)
        .map(|i| Rec::numbered((i % i64::from(partitions)) as i32, i))
        .collect()
}

/// A fresh Tansu broker; a missing `tansu` fails the test.
pub fn tansu() -> TansuBroker {
    TansuBroker::start().unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh Tansu broker behind a strict front, for a mirror's target:
/// whatever Apache Kafka would refuse, it refuses with Kafka's error.
pub fn strict_tansu() -> StrictTansu {
    StrictTansu::start().unwrap_or_else(|e| panic!("{e}"))
}

/// Cluster settings with short backoffs for tests.
pub fn cluster_config(bootstrap: &str) -> ClusterConfig {
    ClusterConfig {
        connection: ConnectionConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            reconnect_backoff: Duration::from_millis(20),
            reconnect_backoff_max: Duration::from_millis(300),
            ..ConnectionConfig::default()
        },
        metadata_refresh_backoff: Duration::from_millis(20),
        ..ClusterConfig::new(bootstrap)
    }
}

/// A mirror from `source` to `target` (bootstrap addresses) with
/// [`cluster_config`]'s settings, for a test to add topics, group and mode.
pub fn mirror(source: &str, target: &str) -> MirrorBuilder {
    Mirror::builder()
        .source(cluster_config(source))
        .target(cluster_config(target))
}

/// Builds and starts `builder`; panics with the error.
pub async fn start(builder: MirrorBuilder) -> MirrorHandle {
    start_or(builder, String::new).await
}

/// [`start`], whose panic adds `context()` (the source's log, say).
pub async fn start_or(builder: MirrorBuilder, context: impl FnOnce() -> String) -> MirrorHandle {
    let mirror = builder
        .build()
        .unwrap_or_else(|e| panic!("mirror settings refused: {e}"));
    match mirror.start().await {
        Ok(handle) => handle,
        Err(e) => panic!("the mirror did not start: {e}\n{}", context()),
    }
}

/// Waits up to `timeout` for a backfill to end on its own and returns its
/// summary; panics with the mirror's status if it does not end.
pub async fn finish(handle: MirrorHandle, timeout: Duration) -> Summary {
    finish_or(handle, timeout, String::new).await
}

/// [`finish`], whose panic adds `context()`.
pub async fn finish_or(
    handle: MirrorHandle,
    timeout: Duration,
    context: impl FnOnce() -> String,
) -> Summary {
    let control = handle.control();
    match tokio::time::timeout(timeout, handle.wait()).await {
        Ok(summary) => summary.unwrap_or_else(|e| panic!("the mirror failed: {e}")),
        Err(_) => panic!(
            "the backfill did not finish in {timeout:?}: {:#?}\n{}",
            control.status(),
            context()
        ),
    }
}

/// Polls the mirror's status until `f` holds; panics with the status after
/// `timeout`.
pub async fn wait_for_status(
    control: &MirrorControl,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut(&Status) -> bool,
) {
    wait_for_or(
        what,
        timeout,
        || f(&control.status()),
        || format!("{:#?}", control.status()),
    )
    .await
}

/// A librdkafka producer with `extra` settings.
pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "30000")
        .set("message.max.bytes", "5000000")
        .set("enable.idempotence", "true");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("librdkafka producer")
}

fn record<'a>(topic: &'a str, r: &'a Rec) -> FutureRecord<'a, [u8], [u8]> {
    let mut fr: FutureRecord<'a, [u8], [u8]> = FutureRecord::to(topic)
        .partition(r.partition)
        .timestamp(r.timestamp);
    if let Some(k) = &r.key {
        fr = fr.key(k.as_slice());
    }
    if let Some(v) = &r.value {
        fr = fr.payload(v.as_slice());
    }
    if !r.headers.is_empty() {
        let mut h = OwnedHeaders::new();
        for (k, v) in &r.headers {
            h = h.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        fr = fr.headers(h);
    }
    fr
}

/// Sends `records` to `topic` (all queued first, so librdkafka batches
/// them) and waits for every delivery.
pub async fn produce(p: &FutureProducer, topic: &str, records: &[Rec]) {
    let mut pending = Vec::new();
    for r in records {
        let fut = p
            .send_result(record(topic, r))
            .unwrap_or_else(|(e, _)| panic!("enqueue to {topic}: {e}"));
        pending.push(fut);
    }
    for f in pending {
        f.await
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("delivery to {topic}: {e}"));
    }
}

/// Runs one transaction of `records` on a transactional producer, then
/// commits or aborts it.
pub async fn transaction(p: &FutureProducer, topic: &str, records: &[Rec], commit: bool) {
    p.begin_transaction().expect("begin_transaction");
    let mut pending = Vec::new();
    for r in records {
        pending.push(
            p.send_result(record(topic, r))
                .unwrap_or_else(|(e, _)| panic!("enqueue to {topic}: {e}")),
        );
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    for f in pending {
        let _ = f.await;
    }
    if commit {
        p.commit_transaction(Duration::from_secs(30))
            .expect("commit_transaction");
    } else {
        p.abort_transaction(Duration::from_secs(30))
            .expect("abort_transaction");
    }
}

/// Reads every record of `topic` (read_committed) until `expected` have
/// arrived or `timeout` passes; records are grouped by partition in
/// offset order.
pub fn consume(bootstrap: &str, topic: &str, expected: usize, timeout: Duration) -> Vec<Rec> {
    consume_with_offsets(bootstrap, topic, expected, timeout, "read_committed")
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

/// [`consume`] with the `isolation.level` given, keeping each record's
/// offset.
pub fn consume_with_offsets(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
    isolation: &str,
) -> Vec<(i64, Rec)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "independent-checker")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .set("fetch.max.bytes", "20000000")
        .set("max.partition.fetch.bytes", "10000000")
        .set("receive.message.max.bytes", "30000000")
        .create()
        .expect("librdkafka consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let parts = md.topics()[0].partitions().len();
    assert!(parts > 0, "topic {topic} has no partitions on {bootstrap}");
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p as i32, Offset::Beginning)
            .expect("assign");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut by_partition: BTreeMap<i32, Vec<(i64, Rec)>> = BTreeMap::new();
    let mut n = 0;
    while n < expected && Instant::now() < deadline {
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap_or_else(|e| panic!("consume {topic}: {e}"));
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        by_partition.entry(m.partition()).or_default().push((
            m.offset(),
            Rec {
                partition: m.partition(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
                timestamp: m.timestamp().to_millis().unwrap_or(-1),
            },
        ));
        n += 1;
    }
    by_partition.into_values().flatten().collect()
}

/// Groups records by partition, keeping order.
pub fn by_partition(records: &[Rec]) -> BTreeMap<i32, Vec<Rec>> {
    let mut out: BTreeMap<i32, Vec<Rec>> = BTreeMap::new();
    for r in records {
        out.entry(r.partition).or_default().push(r.clone());
    }
    out
}

/// Asserts that `target` holds exactly `source`, partition by partition,
/// record by record (key, value, headers, timestamp, order).
pub fn assert_same(what: &str, source: &[Rec], target: &[Rec]) {
    let (s, t) = (by_partition(source), by_partition(target));
    assert_eq!(
        s.keys().collect::<Vec<_>>(),
        t.keys().collect::<Vec<_>>(),
        "{what}: partitions differ"
    );
    for (p, sr) in &s {
        let tr = &t[p];
        assert_eq!(sr.len(), tr.len(), "{what}: partition {p} record count");
        for (i, (a, b)) in sr.iter().zip(tr).enumerate() {
            assert_eq!(a, b, "{what}: partition {p} record {i} differs");
        }
    }
}

/// Asserts that `topic` on the cluster at `bootstrap` holds exactly `want`
/// ([`assert_same`]), read by [`consume`] within `timeout`.
pub fn assert_holds(bootstrap: &str, topic: &str, want: &[Rec], timeout: Duration) {
    assert_same(topic, want, &consume(bootstrap, topic, want.len(), timeout));
}

/// Every source record appears on the target in source order; a record may
/// repeat only right after a resend (at-least-once), never skip.
pub fn assert_in_order_no_gap(source: &[Rec], target: &[Rec]) -> usize {
    let (s, t) = (by_partition(source), by_partition(target));
    let mut dups = 0;
    for (p, sr) in &s {
        let tr = t.get(p).cloned().unwrap_or_default();
        let mut next = 0usize; // index in sr of the next new record
        for r in &tr {
            if next < sr.len() && *r == sr[next] {
                next += 1;
            } else {
                let earlier = sr[..next].iter().rposition(|x| x == r);
                assert!(
                    earlier.is_some(),
                    "partition {p}: unexpected or out-of-order record {r:?} (expected {:?})",
                    sr.get(next)
                );
                dups += 1;
            }
        }
        assert_eq!(
            next,
            sr.len(),
            "partition {p}: only {next} of {} source records arrived",
            sr.len()
        );
    }
    dups
}

/// Polls `f` every 20 ms until it is true; panics with `what` after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, f: impl FnMut() -> bool) {
    wait_for_or(what, timeout, f, String::new).await
}

/// [`wait_for`], and on timeout the panic message adds `describe()` (the
/// mirror's status, say), so a failure in CI shows where it stood.
pub async fn wait_for_or(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> bool,
    describe: impl FnOnce() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !f() {
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}\n{}", describe());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `tracing` output to stderr when `RUST_LOG` is set, so a failing
/// test can be re-run with the engine's logs. Safe to call more than once.
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
