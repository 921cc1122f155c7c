//! Our mirror beside MirrorMaker 2 between the same two Apache Kafka
//! brokers, in the same run: throughput, CPU seconds per GB and peak RSS
//! of the mirror process, and the time to the first record on the target.
//!
//! ```text
//! e2e-kafka [--volume-mib 256] [--partitions 8] [--runs 3] [--zstd]
//!           [--systems mirror,mm2] [--mm2-heap-mib 2048] [--broker-heap-mib 1024]
//!           [--mm2-tasks 2]
//! ```
//!
//! The brokers (KRaft, one node each) and MirrorMaker 2 (dedicated mode,
//! `org.apache.kafka.connect.mirror.MirrorMaker`, run with the JVM flags of
//! Kafka's scripts) come from `.ci/install-deps kafka`. The source topic is
//! filled once with librdkafka (1 KiB records). Each run copies it whole to
//! a fresh target topic: ours with `e2e-mirror` (continuous mode) under a
//! prefix, MM2 under a fresh source alias. Both processes are measured the
//! same way: wall time from spawn until the target holds every record
//! (watermarks polled every 20 ms), and at that moment their CPU time and
//! peak RSS from `/proc` (JVM start included for MM2, as a user pays it).
//! Progress goes to stderr, the report (markdown) to stdout.

use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use benches::e2e::stats::median;
use benches::e2e::usage::{proc_cpu_seconds, proc_peak_rss};
use benches::e2e::{parse_args, preload::preload, TOPIC};
use integration_tests::kafka::{Jvm, KafkaCluster, KafkaOptions, MirrorMaker2, SINGLE_BROKER};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

type Error = Box<dyn std::error::Error + Send + Sync>;

const MIB: f64 = 1024.0 * 1024.0;
const GB: f64 = 1e9;
const RECORD_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum System {
    Mirror,
    Mm2,
}

impl System {
    fn label(self) -> &'static str {
        match self {
            Self::Mirror => "our mirror (e2e-mirror, continuous)",
            Self::Mm2 => "MirrorMaker 2 (dedicated mode)",
        }
    }
}

#[derive(Debug)]
struct Options {
    records: usize,
    partitions: usize,
    runs: usize,
    zstd: bool,
    systems: Vec<System>,
    mm2_heap: u32,
    broker_heap: u32,
    mm2_tasks: usize,
}

/// One measured copy.
#[derive(Debug, Clone, Copy)]
struct Row {
    wall: Duration,
    first_record: Duration,
    cpu: f64,
    peak_rss: u64,
    bytes: u64,
}

impl Row {
    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }
    fn cpu_per_gb(&self) -> f64 {
        self.cpu / (self.bytes as f64 / GB)
    }
}

fn main() -> ExitCode {
    let a = parse_args(std::env::args().skip(1));
    let num = |k: &str, d: f64| a.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(d);
    let o = Options {
        records: (num("volume-mib", 256.0) * MIB) as usize / RECORD_BYTES,
        partitions: num("partitions", 8.0) as usize,
        runs: num("runs", 3.0) as usize,
        zstd: a.contains_key("zstd"),
        systems: a
            .get("systems")
            .map(String::as_str)
            .unwrap_or("mirror,mm2")
            .split(',')
            .filter_map(|s| match s {
                "mirror" => Some(System::Mirror),
                "mm2" => Some(System::Mm2),
                _ => None,
            })
            .collect(),
        mm2_heap: num("mm2-heap-mib", 2048.0) as u32,
        broker_heap: num("broker-heap-mib", 1024.0) as u32,
        mm2_tasks: num("mm2-tasks", 2.0) as usize,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("e2e-kafka: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e-kafka: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(o: Options) -> Result<(), Error> {
    let broker = || {
        KafkaCluster::start_with(KafkaOptions {
            heap_mb: o.broker_heap,
            ..KafkaOptions::default()
        })
    };
    eprintln!("starting two Apache Kafka brokers...");
    let t0 = Instant::now();
    let (source, target) = std::thread::scope(|s| {
        let a = s.spawn(broker);
        let b = s.spawn(broker);
        (a.join(), b.join())
    });
    let (source, target) = match (source, target) {
        (Ok(Ok(s)), Ok(Ok(t))) => (s, t),
        (Ok(Err(e)), _) | (_, Ok(Err(e))) => return Err(e.into()),
        _ => return Err("a broker start panicked".into()),
    };
    eprintln!("brokers up in {:.1}s", t0.elapsed().as_secs_f64());
    source.create_topic(TOPIC, o.partitions as i32)?;
    eprintln!("preloading {} records of 1 KiB...", o.records);
    let t0 = Instant::now();
    preload(&source.bootstrap(), TOPIC, o.records, o.partitions, o.zstd).await?;
    let bytes = (o.records * RECORD_BYTES) as u64;
    println!("# Our mirror and MirrorMaker 2 between two Apache Kafka brokers\n");
    println!(
        "Apache Kafka {} brokers (KRaft, one node each, {} MiB heap), MirrorMaker 2 {} \
         (dedicated mode, tasks.max={}, Kafka scripts' JVM flags, -Xmx{}m); {} records of \
         1 KiB ({:.0} MiB{}) in {} partitions, preloaded with librdkafka in {:.1} s; \
         {} run(s) per system, medians.\n",
        source.line().version(),
        o.broker_heap,
        integration_tests::kafka::KafkaLine::MirrorMaker.version(),
        o.mm2_tasks,
        o.mm2_heap,
        o.records,
        bytes as f64 / MIB,
        if o.zstd { ", zstd batches" } else { "" },
        o.partitions,
        t0.elapsed().as_secs_f64(),
        o.runs
    );
    let mut rows: Vec<(System, Vec<Row>)> = o.systems.iter().map(|&s| (s, vec![])).collect();
    for run in 1..=o.runs {
        for (system, results) in &mut rows {
            eprintln!("run {run}/{}: {}", o.runs, system.label());
            let row = match system {
                System::Mirror => run_mirror(&source, &target, &o, run, bytes).await?,
                System::Mm2 => run_mm2(&source, &target, &o, run, bytes).await?,
            };
            eprintln!(
                "  {:.2}s, {:.1} MB/s, {:.2} CPU s/GB, peak RSS {:.0} MiB, first record after {:.2}s",
                row.wall.as_secs_f64(),
                row.mb_per_sec(),
                row.cpu_per_gb(),
                row.peak_rss as f64 / MIB,
                row.first_record.as_secs_f64()
            );
            results.push(row);
        }
    }
    report(&rows);
    Ok(())
}

/// Spawns `e2e-mirror` in continuous mode to `ours{run}.bench` and measures it.
async fn run_mirror(
    source: &KafkaCluster,
    target: &KafkaCluster,
    o: &Options,
    run: usize,
    bytes: u64,
) -> Result<Row, Error> {
    let exe = std::env::current_exe()?.with_file_name("e2e-mirror");
    if !exe.exists() {
        return Err(format!(
            "{} is missing; build the benches crate's binaries first (cargo build --release -p benches --bins)",
            exe.display()
        )
        .into());
    }
    let prefix = format!("ours{run}");
    let start = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--source",
            &source.bootstrap(),
            "--target",
            &target.bootstrap(),
        ])
        .args(["--topic", TOPIC, "--mode", "continuous"])
        .args([
            "--group",
            &format!("bench-mirror-{run}"),
            "--prefix",
            &prefix,
        ])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("e2e-mirror exited at once")?;
    let topic = format!("{prefix}.{TOPIC}");
    let measured = watch(target, &topic, o, pid, start, bytes).await;
    let _ = child.kill().await;
    measured
}

/// Starts MirrorMaker 2 with a fresh source alias (`src{run}`, so it finds
/// no stored progress) and measures it until `src{run}.bench` is complete.
async fn run_mm2(
    source: &KafkaCluster,
    target: &KafkaCluster,
    o: &Options,
    run: usize,
    bytes: u64,
) -> Result<Row, Error> {
    let alias = format!("src{run}");
    let props = format!(
        "clusters = {alias}, target\n\
         {alias}.bootstrap.servers = {}\n\
         target.bootstrap.servers = {}\n\
         {alias}->target.enabled = true\n\
         target->{alias}.enabled = false\n\
         {alias}->target.topics = {TOPIC}\n\
         {alias}->target.emit.heartbeats.enabled = false\n\
         {alias}->target.emit.checkpoints.enabled = false\n\
         {alias}->target.sync.topic.acls.enabled = false\n\
         tasks.max = {}\n\
         {SINGLE_BROKER}",
        source.bootstrap(),
        target.bootstrap(),
        o.mm2_tasks,
    );
    let start = Instant::now();
    let mut mm2 = MirrorMaker2::start(&props, &Jvm::KafkaScripts(o.mm2_heap))?;
    let pid = mm2.pid().ok_or("MirrorMaker 2 did not start")?;
    let measured = watch(target, &format!("{alias}.{TOPIC}"), o, pid, start, bytes).await;
    if measured.is_err() {
        eprintln!("{}", mm2.log());
    }
    mm2.stop()?;
    measured
}

/// Polls `topic`'s watermarks on `target` every 20 ms until it holds every
/// record; then reads the process's CPU and peak RSS.
async fn watch(
    target: &KafkaCluster,
    topic: &str,
    o: &Options,
    pid: u32,
    start: Instant,
    bytes: u64,
) -> Result<Row, Error> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", target.bootstrap())
        .create()?;
    let deadline = start + Duration::from_secs(600);
    let mut first_record = None;
    loop {
        let mut total = 0i64;
        for p in 0..o.partitions {
            // Missing topic or partition: nothing there yet.
            if let Ok((_, high)) =
                consumer.fetch_watermarks(topic, p as i32, Duration::from_secs(1))
            {
                total += high;
            }
        }
        if total > 0 && first_record.is_none() {
            first_record = Some(start.elapsed());
        }
        if total >= o.records as i64 {
            let wall = start.elapsed();
            let cpu = proc_cpu_seconds(pid)?;
            let peak_rss = proc_peak_rss(pid)?;
            return Ok(Row {
                wall,
                first_record: first_record.unwrap_or(wall),
                cpu,
                peak_rss,
                bytes,
            });
        }
        if Instant::now() >= deadline {
            return Err(format!("{topic}: {total} of {} records after 600 s", o.records).into());
        }
        if std::fs::metadata(format!("/proc/{pid}")).is_err() {
            return Err(format!("the process copying to {topic} exited ({total} records)").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn report(rows: &[(System, Vec<Row>)]) {
    println!("| system | wall s | MB/s | CPU s/GB | peak RSS MiB | first record s | runs |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (system, r) in rows {
        if r.is_empty() {
            continue;
        }
        let m = |f: &dyn Fn(&Row) -> f64| median(&r.iter().map(f).collect::<Vec<_>>());
        println!(
            "| {} | {:.2} | {:.1} | {:.2} | {:.0} | {:.2} | {} |",
            system.label(),
            m(&|x| x.wall.as_secs_f64()),
            m(&|x| x.mb_per_sec()),
            m(&|x| x.cpu_per_gb()),
            m(&|x| x.peak_rss as f64 / MIB),
            m(&|x| x.first_record.as_secs_f64()),
            r.len()
        );
    }
    let find = |s: System| rows.iter().find(|(x, _)| *x == s).map(|(_, r)| r);
    if let (Some(a), Some(b)) = (find(System::Mirror), find(System::Mm2)) {
        let ratio = |f: &dyn Fn(&Row) -> f64| {
            median(
                &a.iter()
                    .zip(b)
                    .map(|(x, y)| f(x) / f(y))
                    .collect::<Vec<_>>(),
            )
        };
        println!(
            "\nmirror vs MirrorMaker 2 (median of same-run ratios): CPU/GB {:.3}x (goal <= 0.05x), \
             peak RSS {:.3}x (goal <= 0.2x), throughput {:.2}x",
            ratio(&Row::cpu_per_gb),
            ratio(&|x| x.peak_rss as f64),
            ratio(&Row::mb_per_sec)
        );
    }
    println!();
}
