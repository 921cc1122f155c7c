//! A crash of the process running the mirror: SIGKILL mid-stream, start
//! again on the same consumer group, and nothing is missing on the target.
//! Duplicates are allowed only as the re-delivery of one contiguous range
//! starting exactly at the offset the group had committed (read
//! independently from the source after the kill), and their number is
//! bounded by what the mirror can have had in flight since that commit.
//!
//! The mirror runs in `mirror_child` (this crate's binary); the source
//! records are produced, and the target checked, with librdkafka.
//!
//! Runs between two Tansu brokers and between two Apache Kafka brokers
//! (one after the other: the duplicate bound assumes the mirror is not
//! starved by a second copy of the test).
//!
//! Needs `tansu` (`.ci/install-deps tansu`) and Java with Kafka's jars
//! (`.ci/install-deps kafka`); a missing peer fails.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use integration_tests::mirror_support::{by_partition, consume, produce, producer, Rec};
use integration_tests::peer::{PeerKind, Peers};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "crash";
const GROUP: &str = "mirror-crash";
const PARTITIONS: i32 = 2;
const RECORDS: usize = 3000;
/// Every value is this long, so a record takes at least this many bytes
/// in a batch.
const VALUE_BYTES: usize = 200;
/// The child's per-partition bytes-in-flight bound.
const PARTITION_BUDGET: usize = 4096;
/// The source producer's `batch.size`: no batch is (much) larger.
const BATCH_BYTES: usize = 2048;
const COMMIT_MS: u64 = 100;
/// Production pace: a chunk of this many records every `CHUNK_EVERY`.
const CHUNK: usize = 50;
const CHUNK_EVERY: Duration = Duration::from_millis(100);
const TS: i64 = 1_700_000_000_000;

fn records() -> Vec<Rec> {
    (0..RECORDS)
        .map(|i| {
            let p = (i as i32) % PARTITIONS;
            let mut value = format!("v{i}-");
            value.extend(std::iter::repeat_n('x', VALUE_BYTES - value.len()));
            Rec::kv(p, &format!("k{i}"), &value, TS + i as i64)
        })
        .collect()
}

/// The child process, its standard input (closing it stops the mirror
/// gracefully) and where its standard error goes.
struct MirrorChild {
    child: Child,
    _stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: std::path::PathBuf,
}

impl MirrorChild {
    fn spawn(source: &str, target: &str, mode: &str, dir: &Path, run: &str) -> Self {
        let stderr = dir.join(format!("{run}.stderr"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mirror_child"))
            .args([
                source,
                target,
                TOPIC,
                GROUP,
                mode,
                &PARTITION_BUDGET.to_string(),
                &COMMIT_MS.to_string(),
            ])
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("child stderr file"))
            .spawn()
            .expect("spawn mirror_child");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            _stdin: stdin,
            lines,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The next line starting with `prefix`, within `timeout`.
    fn expect_line(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!(
                    "mirror_child printed no {prefix:?} line within {timeout:?}\n--- its stderr ---\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// SIGKILL: no drain, no final commit.
    fn kill(mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        kill(pid, Signal::SIGKILL).expect("SIGKILL mirror_child");
        let status = self.child.wait().expect("reap mirror_child");
        assert!(!status.success(), "killed child exited cleanly: {status}");
    }

    /// Waits for a clean exit within `timeout` (killing it otherwise).
    fn wait_success(mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(
                    status.success(),
                    "mirror_child failed: {status}\n--- its stderr ---\n{}",
                    self.stderr()
                );
                return self.stderr();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "mirror_child did not finish within {timeout:?}\n--- its stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn client(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("librdkafka consumer")
}

/// The high watermark of every partition of `TOPIC` (0 while the topic is
/// not there yet).
fn end_offsets(c: &BaseConsumer) -> BTreeMap<i32, i64> {
    (0..PARTITIONS)
        .map(|p| {
            let high = c
                .fetch_watermarks(TOPIC, p, Duration::from_secs(5))
                .map_or(0, |(_, h)| h);
            (p, high)
        })
        .collect()
}

/// The mirror group's committed offsets, read from the source.
fn committed(c: &BaseConsumer) -> BTreeMap<i32, i64> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(TOPIC, p);
    }
    let got = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets of the mirror group");
    (0..PARTITIONS)
        .map(|p| {
            let e = got.find_partition(TOPIC, p).expect("partition listed");
            match e.offset() {
                Offset::Offset(o) => (p, o),
                other => panic!("no committed offset for {TOPIC}-{p} at the kill: {other:?}"),
            }
        })
        .collect()
}

/// One variant at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_then_restart_leaves_no_gap_and_bounded_duplicates_tansu() {
    let _one = ONE_AT_A_TIME.lock().await;
    sigkill_mid_stream_then_restart(Peers::start(PeerKind::Tansu, "")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_then_restart_leaves_no_gap_and_bounded_duplicates_kafka() {
    let _one = ONE_AT_A_TIME.lock().await;
    let peers = tokio::task::block_in_place(|| Peers::start(PeerKind::Kafka, "kill"));
    sigkill_mid_stream_then_restart(peers).await;
}

/// The topic and group names are this binary's own, so they need no
/// prefix on the shared Kafka brokers.
async fn sigkill_mid_stream_then_restart(peers: Peers) {
    let (source, target) = (&peers.source, &peers.target);
    let (sb, tb) = (source.bootstrap(), target.bootstrap());
    source.create_topic(TOPIC, PARTITIONS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let all = records();

    // The mirror runs first, then the source stream starts at a steady pace.
    let first = MirrorChild::spawn(&sb, &tb, "continuous", dir.path(), "first");
    first.expect_line("started", Duration::from_secs(60));
    let p = producer(
        &sb,
        &[("linger.ms", "5"), ("batch.size", &BATCH_BYTES.to_string())],
    );
    let stream = {
        let all = all.clone();
        tokio::spawn(async move {
            let mut pace = tokio::time::interval(CHUNK_EVERY);
            for chunk in all.chunks(CHUNK) {
                pace.tick().await;
                produce(&p, TOPIC, chunk).await;
            }
        })
    };

    // Kill once the target holds about half the stream.
    let target_client = client(&tb, "kill-test-watermarks");
    let deadline = Instant::now() + Duration::from_secs(90);
    let at_kill = loop {
        let ends = tokio::task::block_in_place(|| end_offsets(&target_client));
        let on_target: i64 = ends.values().sum();
        if on_target >= (RECORDS / 2) as i64 {
            break on_target;
        }
        assert!(
            Instant::now() < deadline,
            "the mirror made no progress: {on_target} records on the target\n--- mirror stderr ---\n{}",
            first.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        at_kill < RECORDS as i64,
        "the kill must land mid-stream, not after everything was mirrored"
    );
    tokio::task::block_in_place(|| first.kill());

    stream.await.expect("the source stream finished");

    // What the crash left behind, seen from outside the mirror (read once
    // the stream has ended, seconds after the kill, so that a commit or a
    // produce the child sent just before it died has landed).
    let group_client = client(&sb, GROUP);
    let committed = tokio::task::block_in_place(|| committed(&group_client));
    let before_restart = tokio::task::block_in_place(|| end_offsets(&target_client));

    // Start again, on the same group, until caught up with the source.
    let second = MirrorChild::spawn(&sb, &tb, "backfill", dir.path(), "second");
    second.expect_line("started", Duration::from_secs(60));
    let summary = second.expect_line("summary", Duration::from_secs(120));
    let log = tokio::task::block_in_place(|| second.wait_success(Duration::from_secs(30)));
    assert!(
        summary.contains("drained=true") && summary.contains("failed=0"),
        "{summary}\n{log}"
    );

    // Every source record on the target, in order per partition; the only
    // repeats are [committed, end before restart), delivered again.
    let after = tokio::task::block_in_place(|| end_offsets(&target_client));
    let total: i64 = after.values().sum();
    let got = tokio::task::block_in_place(|| {
        consume(&tb, TOPIC, total as usize, Duration::from_secs(60))
    });
    assert_eq!(got.len() as i64, total, "consumed the whole target topic");
    let (src, dst) = (by_partition(&all), by_partition(&got));
    // Records per partition the mirror can hold fetched but unacknowledged
    // (the bound plus the one whole batch a fetch may pass it by), and
    // those it can acknowledge between two commits at the source's pace
    // (a commit every COMMIT_MS on a 50 ms supervisor tick, a second of
    // slack for the commit round trip and a loaded machine).
    let in_flight = (PARTITION_BUDGET + 2 * BATCH_BYTES) / VALUE_BYTES;
    let per_partition_rate = (CHUNK as f64 / PARTITIONS as f64) / CHUNK_EVERY.as_secs_f64();
    let commit_window = Duration::from_millis(COMMIT_MS + 50) + Duration::from_secs(1);
    let acked_uncommitted = (per_partition_rate * commit_window.as_secs_f64()).ceil() as usize;
    let bound = in_flight + acked_uncommitted;
    let mut duplicates = 0;
    for p in 0..PARTITIONS {
        let (s, t) = (&src[&p], &dst[&p]);
        let c = usize::try_from(committed[&p]).expect("committed offset");
        assert!(
            c <= s.len() && t.len() >= s.len(),
            "partition {p}: committed {c}, source {}, target {}",
            s.len(),
            t.len()
        );
        // The second run wrote source[c..] after whatever the first left
        // (its acknowledged batches and any still being written at the
        // kill), so the first run's share ends at x.
        let x = t.len() - (s.len() - c);
        assert!(
            x >= c && x <= s.len(),
            "partition {p}: the target holds {} records; the first run's share would end at {x}, \
             which does not fit committed {c} (seen at the kill: {})",
            t.len(),
            before_restart[&p]
        );
        let dups = x - c;
        for (i, r) in t[..x].iter().enumerate() {
            assert_eq!(r, &s[i], "partition {p}: record {i} before the kill");
        }
        for (i, r) in t[x..].iter().enumerate() {
            assert_eq!(
                r,
                &s[c + i],
                "partition {p}: target record {} must be source record {} (the restart resumes at the committed offset, no gap)",
                x + i,
                c + i
            );
        }
        eprintln!(
            "partition {p}: committed at the kill {c}, first run's share {x} (target end seen at the kill {}), {dups} re-delivered (bound {bound})",
            before_restart[&p]
        );
        assert!(
            dups <= bound,
            "partition {p}: {dups} duplicates exceed the in-flight window bound {bound} \
             ({in_flight} in flight + {acked_uncommitted} acknowledged between commits)"
        );
        duplicates += dups;
    }
    let second_run: u64 = summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix("records="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record count in {summary:?}"));
    let resumed_from: i64 = committed.values().sum();
    assert_eq!(
        second_run,
        RECORDS as u64 - resumed_from as u64,
        "the second run copies exactly what follows the committed offsets"
    );
    eprintln!("{duplicates} duplicates in all; the second run: {summary}");
}
