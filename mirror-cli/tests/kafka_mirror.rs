//! The installed command, as a process: `kafka-mirror` (this package's
//! binary) mirrors between two Tansu brokers with `--metrics-addr` and
//! `--log-format json`. While it runs, Python's `urllib` scrapes
//! `/metrics`, `/status` and `/healthz`, and `prometheus_client`'s parser
//! reads the exposition (`tests/support/scrape.py`). The target broker is
//! stopped (health turns 503 with the reasons) and started again (healthy
//! again, every record copied). SIGINT stops the command with exit code 0,
//! and every line it wrote is one JSON event.
//!
//! Needs `tansu` and the venv's `prometheus-client` (`.ci/install-deps`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::mirror_support::{consume, numbered, produce, producer, tansu};
use serde_json::Value;

fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// One scrape of the running command by `scrape.py`.
fn scrape(base: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/scrape.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(base)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python().display()));
    assert!(
        out.status.success(),
        "scrape.py failed ({}); prometheus_client comes with `.ci/install-deps venv`:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("scrape.py prints JSON")
}

/// Scrapes until `ok` holds, or panics after `timeout` with the last scrape.
fn scrape_until(base: &str, timeout: Duration, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let s = scrape(base);
        if ok(&s) {
            return s;
        }
        if Instant::now() > deadline {
            panic!("{what} not seen within {timeout:?}; last scrape: {s:#}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The samples of `family` as (labels, value).
fn samples(scrape: &Value, family: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let f = &scrape["metrics"][family];
    assert!(f.is_object(), "no metric family {family}");
    f["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let labels = s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            (labels, s["value"].as_f64().unwrap())
        })
        .collect()
}

fn family_type(scrape: &Value, family: &str) -> String {
    scrape["metrics"][family]["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no metric family {family}"))
        .to_owned()
}

fn records_copied(scrape: &Value) -> i64 {
    scrape["status"]["flows"][0]["totals"]["records"]
        .as_i64()
        .unwrap_or(-1)
}

/// The command's stdout, line by line, each parsed as JSON.
struct Events(Arc<Mutex<Vec<Value>>>);

impl Events {
    fn capture(child: &mut Child) -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let line = line.unwrap();
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON event per line ({e}): {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        Self(lines)
    }

    fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }

    fn wait_for(&self, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.all().into_iter().find(&ok) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "event not seen: {:#?}",
                self.all()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Kills the child if the test fails before it stops it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_status_health_and_json_logs_of_a_running_mirror() {
    let a = tansu();
    let mut b = tansu();
    a.create_topic("events", 2).unwrap();
    let first = numbered(0, 200, 2);
    let source = producer(&a.bootstrap(), &[]);
    produce(&source, "events", &first).await;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mirror.properties");
    std::fs::write(
        &config,
        format!(
            "clusters = a, b\n\
             a.bootstrap.servers = {}\n\
             b.bootstrap.servers = {}\n\
             a->b.enabled = true\n\
             a->b.topics = events\n\
             replication.factor = 1\n\
             b.request.timeout.ms = 3000\n\
             b.reconnect.backoff.max.ms = 500\n\
             a->b.replicator.throttle.bytes.per.second = 64MiB\n",
            a.bootstrap(),
            b.bootstrap()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-mirror"))
        .arg("--config")
        .arg(&config)
        .args(["--metrics-addr", "127.0.0.1:0", "--log-format", "json"])
        .args(["--status-interval", "0.5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("kafka-mirror starts");
    let events = Events::capture(&mut child);
    let mut child = Running(child);

    let listening = events.wait_for(Duration::from_secs(30), |e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("serving /metrics"))
    });
    let base = format!("http://{}", listening["addr"].as_str().unwrap());

    // Everything copied: the exposition, read by prometheus_client. The
    // engine publishes its metrics every 50 ms, so wait for those too.
    let s = scrape_until(&base, Duration::from_secs(60), "200 records copied", |s| {
        let published = s["metrics"]["replicator_mirror_records"]["samples"]
            .as_array()
            .map_or(0.0, |v| v.iter().filter_map(|x| x["value"].as_f64()).sum());
        let lag: f64 = s["metrics"]["replicator_mirror_lag_records"]["samples"]
            .as_array()
            .map_or(1.0, |v| v.iter().filter_map(|x| x["value"].as_f64()).sum());
        records_copied(s) == 200 && published == 200.0 && lag == 0.0
    });
    assert_eq!(
        s["content_type"].as_str(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for (family, kind) in [
        ("replicator_mirror_records", "counter"),
        ("replicator_mirror_bytes", "counter"),
        ("replicator_mirror_batches", "counter"),
        ("replicator_mirror_errors", "counter"),
        ("replicator_mirror_lost_offsets", "counter"),
        ("replicator_mirror_lag_records", "gauge"),
        ("replicator_mirror_bytes_in_flight", "gauge"),
        ("replicator_mirror_partition_state", "gauge"),
        ("replicator_mirror_last_fetch_age_seconds", "gauge"),
        ("replicator_mirror_last_produce_age_seconds", "gauge"),
        ("replicator_mirror_flow_phase", "gauge"),
        ("replicator_mirror_throttle_bytes_per_second", "gauge"),
        ("replicator_mirror_throttled_seconds", "gauge"),
    ] {
        assert_eq!(family_type(&s, family), kind, "{family}");
    }
    let records = samples(&s, "replicator_mirror_records");
    assert_eq!(records.len(), 2, "one series per partition: {records:?}");
    let mut partitions: Vec<&str> = Vec::new();
    for (labels, _) in &records {
        assert_eq!(labels["flow"], "a->b", "{labels:?}");
        assert_eq!(labels["group"], "kafka-replicator-a-b", "{labels:?}");
        assert_eq!(labels["source_topic"], "events", "{labels:?}");
        assert_eq!(labels["target_topic"], "a.events", "{labels:?}");
        partitions.push(&labels["partition"]);
    }
    partitions.sort_unstable();
    assert_eq!(partitions, ["0", "1"]);
    assert_eq!(records.iter().map(|(_, v)| v).sum::<f64>(), 200.0);
    assert!(samples(&s, "replicator_mirror_bytes")
        .iter()
        .all(|(_, v)| *v > 0.0));
    for (labels, v) in samples(&s, "replicator_mirror_lag_records") {
        assert_eq!(v, 0.0, "caught up: {labels:?}");
    }
    for (labels, v) in samples(&s, "replicator_mirror_partition_state") {
        let want = if labels["state"] == "ACTIVE" {
            1.0
        } else {
            0.0
        };
        assert_eq!(v, want, "{labels:?}");
        assert_eq!(labels["flow"], "a->b");
    }
    for family in [
        "replicator_mirror_last_fetch_age_seconds",
        "replicator_mirror_last_produce_age_seconds",
    ] {
        let ages = samples(&s, family);
        assert_eq!(ages.len(), 2, "{family}");
        assert!(
            ages.iter().all(|(_, v)| (0.0..120.0).contains(v)),
            "{ages:?}"
        );
    }
    let running: Vec<_> = samples(&s, "replicator_mirror_flow_phase")
        .into_iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(l, _)| l["phase"].clone())
        .collect();
    assert_eq!(running, ["running"]);
    let rate = samples(&s, "replicator_mirror_throttle_bytes_per_second");
    assert_eq!(rate.len(), 1, "one series per flow: {rate:?}");
    assert_eq!(rate[0].0["flow"], "a->b");
    assert_eq!(rate[0].1, f64::from(64u32 << 20));
    assert_eq!(s["healthz"]["code"], 200, "{s:#}");
    assert_eq!(s["healthz"]["body"]["healthy"], true);
    let flow = &s["status"]["flows"][0];
    assert_eq!(flow["throttle"]["bytes_per_second"], 64 << 20, "{flow:#}");
    assert_eq!(flow["flow"], "a->b");
    assert_eq!(flow["phase"], "running");
    assert_eq!(flow["partitions"].as_array().unwrap().len(), 2);
    assert_eq!(flow["partitions"][0]["state"], "ACTIVE");

    // The target goes away while there is more to copy: 503 with reasons.
    b.stop().unwrap();
    let second = numbered(200, 300, 2);
    produce(&source, "events", &second).await;
    let s = scrape_until(&base, Duration::from_secs(60), "health 503", |s| {
        s["healthz"]["code"] == 503
    });
    let reasons: Vec<&str> = s["healthz"]["body"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(!reasons.is_empty(), "{s:#}");
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("flow a->b partition events-") && r.contains("UNAVAILABLE")),
        "{reasons:?}"
    );
    assert_eq!(s["healthz"]["body"]["healthy"], false);

    // Back: healthy again, and everything copied.
    b.start_again().unwrap();
    scrape_until(
        &base,
        Duration::from_secs(90),
        "healthy with 300 records",
        |s| s["healthz"]["code"] == 200 && records_copied(s) == 300,
    );
    let mut all = first.clone();
    all.extend(second);
    let copied = consume(
        &b.bootstrap(),
        "a.events",
        all.len(),
        Duration::from_secs(60),
    );
    assert_eq!(copied.len(), all.len());

    // Ctrl-C: a graceful stop, exit code 0 in continuous mode.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "kafka-mirror did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{status}");
    // Give the reader thread the last lines.
    std::thread::sleep(Duration::from_millis(200));

    let all_events = events.all();
    for e in &all_events {
        assert!(e["timestamp"].is_string() && e["level"].is_string(), "{e}");
        assert!(e["message"].is_string(), "{e}");
    }
    let summary = events.wait_for(Duration::from_secs(1), |e| e["message"] == "summary");
    assert_eq!(summary["flow"], "a->b");
    assert_eq!(summary["records"], 300);
    let per_partition: Vec<&Value> = all_events
        .iter()
        .filter(|e| e["message"] == "partition summary")
        .collect();
    assert_eq!(per_partition.len(), 2, "{all_events:#?}");
    for e in &per_partition {
        assert_eq!(e["topic"], "events");
        assert!(e["partition"].is_u64(), "{e}");
        assert!(e["offset"].is_u64(), "committed offset: {e}");
    }
    // The engine's own events carry their fields too.
    assert!(
        all_events.iter().any(|e| e["topic"] == "events"
            && e["partition"].is_u64()
            && e["target"] != "kafka_mirror"),
        "{all_events:#?}"
    );
    let target = format!("127.0.0.1:{}", b.port());
    assert!(
        all_events
            .iter()
            .any(|e| e["level"] == "WARN"
                && e["broker"].as_str().is_some_and(|x| x.contains(&target))),
        "a warning naming the broker that went away ({target}): {all_events:#?}"
    );
    let statuses = all_events
        .iter()
        .filter(|e| e["message"] == "status" && e["flow"] == "a->b")
        .count();
    assert!(statuses > 0, "status events: {all_events:#?}");
}
