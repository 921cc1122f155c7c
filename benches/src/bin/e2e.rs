//! The end-to-end bench (issue #6): fetch-to-produce throughput, CPU per
//! GB, peak memory, added latency and idle cost of our mirror, against a
//! consume-then-produce forwarder on librdkafka and a raw socket relay,
//! between two bench brokers, in the same run.
//!
//! ```text
//! e2e [--volume-mib 2048] [--partitions 8] [--runs 3] [--variants none,zstd]
//!     [--systems mirror,rdkafka,relay] [--skip-speed] [--skip-latency]
//!     [--skip-idle] [--latency-secs 20] [--rate-mbps 10]
//!     [--idle-partitions 1000] [--idle-secs 30]
//! e2e --source-bootstrap HOST:PORT --target-bootstrap HOST:PORT
//!     [--volume-mib 64] [--partitions 8] [--variants none] [--runs 1]
//! ```
//!
//! Each replicator runs as its own child process (`e2e-mirror`,
//! `e2e-rdkafka`, `e2e-relay`), started through `e2e measure`, a wrapper
//! whose only child it is, so the CPU time and peak RSS reported are the
//! replicator's alone. The brokers run in this process. Progress goes to
//! stderr, the report (markdown) to stdout. `scripts/bench-e2e.sh` builds
//! in release and runs this.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::bench_broker::{BenchBroker, LogSpec, Tally, TopicLog};
use benches::e2e::stats::{median, percentile};
use benches::e2e::usage::{proc_cpu_seconds, proc_rss, run_alone, Usage};
use benches::e2e::{parse_args, relay, speed, TOPIC};
use tokio::net::TcpListener;

type Error = Box<dyn std::error::Error + Send + Sync>;

const MIB: f64 = 1024.0 * 1024.0;
const GB: f64 = 1e9;

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    match argv.peek().map(String::as_str) {
        Some("measure") => return measure(argv.skip(1).collect()),
        Some("speed-client") => return speed_client(parse_args(argv.skip(1))),
        _ => {}
    }
    let args = parse_args(argv);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("e2e: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Options::from_args(&args))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `e2e measure PROGRAM ARGS...`: runs the program as this process's only
/// child and prints its usage line.
fn measure(cmd: Vec<String>) -> ExitCode {
    let Some((program, args)) = cmd.split_first() else {
        eprintln!("usage: e2e measure PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    match run_alone(std::process::Command::new(program).args(args)) {
        Ok(u) => {
            println!("{}", u.to_line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("e2e measure: cannot run {program}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `e2e speed-client --bootstrap HOST:PORT --ends E0,E1,...`: fetches the
/// bench log to those end offsets, in its own process so the broker's CPU
/// can be told apart from the client's; prints the bytes read.
fn speed_client(args: std::collections::HashMap<String, String>) -> ExitCode {
    let ends: Vec<i64> = args
        .get("ends")
        .map(|e| e.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    let Some(bootstrap) = args.get("bootstrap") else {
        eprintln!("usage: e2e speed-client --bootstrap HOST:PORT --ends E0,E1,...");
        return ExitCode::from(2);
    };
    let result = tokio::runtime::Runtime::new()
        .map_err(Error::from)
        .and_then(|rt| Ok(rt.block_on(speed::fetch_all(bootstrap, TOPIC, &ends, 2))?));
    match result {
        Ok(s) => {
            println!("SPEED bytes={} secs={}", s.bytes, s.elapsed.as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("e2e speed-client: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Clone)]
struct Options {
    volume: usize,
    partitions: usize,
    runs: usize,
    variants: Vec<bool>,
    systems: Vec<System>,
    speed: bool,
    latency: bool,
    latency_secs: f64,
    rate: f64,
    idle: bool,
    idle_partitions: usize,
    idle_secs: u64,
    external: Option<(String, String)>,
}

impl Options {
    fn from_args(a: &std::collections::HashMap<String, String>) -> Self {
        let num = |k: &str, d: f64| a.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(d);
        let flag = |k: &str| a.contains_key(k);
        let external = match (a.get("source-bootstrap"), a.get("target-bootstrap")) {
            (Some(s), Some(t)) => Some((s.clone(), t.clone())),
            _ => None,
        };
        let list = |k: &str, d: &str| -> Vec<String> {
            a.get(k)
                .map(String::as_str)
                .unwrap_or(d)
                .split(',')
                .map(str::to_owned)
                .collect()
        };
        let default_volume = if external.is_some() { 64.0 } else { 2048.0 };
        Self {
            volume: (num("volume-mib", default_volume) * MIB) as usize,
            partitions: num("partitions", 8.0) as usize,
            runs: num("runs", if external.is_some() { 1.0 } else { 3.0 }) as usize,
            variants: list("variants", "none,zstd")
                .iter()
                .map(|v| v == "zstd")
                .collect(),
            systems: list("systems", "mirror,rdkafka,relay")
                .iter()
                .filter_map(|s| System::parse(s))
                .collect(),
            speed: !flag("skip-speed") && external.is_none(),
            latency: !flag("skip-latency") && external.is_none(),
            latency_secs: num("latency-secs", 20.0),
            rate: num("rate-mbps", 10.0) * 1e6,
            idle: !flag("skip-idle") && external.is_none(),
            idle_partitions: num("idle-partitions", 1000.0) as usize,
            idle_secs: num("idle-secs", 30.0) as u64,
            external,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum System {
    Mirror,
    Rdkafka,
    Relay,
}

impl System {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "mirror" => Some(Self::Mirror),
            "rdkafka" => Some(Self::Rdkafka),
            "relay" => Some(Self::Relay),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Mirror => "(a) our mirror, backfill",
            Self::Rdkafka => "(b) rdkafka consume→produce",
            Self::Relay => "(c) raw loopback relay",
        }
    }
}

/// One measured run of one system.
#[derive(Debug, Clone, Copy)]
struct Row {
    usage: Usage,
    /// Source batch bytes moved.
    bytes: u64,
}

impl Row {
    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.usage.wall.as_secs_f64()
    }
    fn cpu_per_gb(&self) -> f64 {
        self.usage.cpu() / (self.bytes as f64 / GB)
    }
}

/// CPU seconds (user+sys) this process has used.
fn self_cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeValLike;
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            (u.user_time().num_microseconds() + u.system_time().num_microseconds()) as f64 / 1e6
        })
        .unwrap_or(f64::NAN)
}

fn sibling(name: &str) -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        return Err(format!(
            "{} is missing; build the benches crate's binaries first (cargo build --release -p benches --bins)",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// Runs `program args` under `e2e measure` and returns its usage.
async fn measured(program: &str, args: &[String]) -> Result<Usage, Error> {
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .arg("measure")
        .arg(sibling(program)?)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut usage = None;
    for line in text.lines() {
        match Usage::from_line(line) {
            Some(u) => usage = Some(u),
            None => eprintln!("  | {line}"),
        }
    }
    let usage = usage.ok_or_else(|| format!("{program}: no usage line from the wrapper"))?;
    if usage.exit_code != 0 {
        return Err(format!("{program} exited with {}", usage.exit_code).into());
    }
    Ok(usage)
}

async fn run(o: Options) -> Result<(), Error> {
    println!("# End-to-end bench\n");
    println!(
        "volume {:.0} MiB of 1 KiB records across {} partitions, {} run(s) per system\n",
        o.volume as f64 / MIB,
        o.partitions,
        o.runs
    );
    if let Some((source, target)) = &o.external {
        return external(&o, source, target).await;
    }
    for &zstd in &o.variants {
        let name = if zstd { "zstd" } else { "uncompressed" };
        eprintln!("generating the {name} log...");
        let log = Arc::new(TopicLog::generate(
            TOPIC,
            &LogSpec::with_volume(o.volume, o.partitions, zstd),
        ));
        println!(
            "## {name}: {} records, {:.1} MiB of batches ({:.1} MiB uncompressed; MB/s and CPU s/GB below are per uncompressed byte)\n",
            log.records(),
            log.bytes() as f64 / MIB,
            log.logical_bytes as f64 / MIB
        );
        if o.speed {
            broker_speed(&log).await?;
        }
        let mut rows: Vec<(System, Vec<Row>)> = o.systems.iter().map(|&s| (s, vec![])).collect();
        for run in 1..=o.runs {
            for (system, results) in &mut rows {
                eprintln!("{name} run {run}/{}: {}", o.runs, system.label());
                let row = run_system(*system, &log, zstd).await?;
                eprintln!(
                    "  {:.2}s, {:.0} MB/s, {:.2} CPU s/GB, peak RSS {:.0} MiB",
                    row.usage.wall.as_secs_f64(),
                    row.mb_per_sec(),
                    row.cpu_per_gb(),
                    row.usage.max_rss as f64 / MIB
                );
                results.push(row);
            }
        }
        if o.runs > 0 {
            report(&rows);
        }
    }
    if o.latency {
        latency(&o).await?;
    }
    if o.idle {
        idle(&o).await?;
    }
    Ok(())
}

/// The instrument's own speed: a client process fetches the whole log as
/// fast as it can. Reports wall GB/s, and GB per CPU second of the broker
/// alone (this process's CPU while only the broker works in it).
async fn broker_speed(log: &Arc<TopicLog>) -> Result<(), Error> {
    let broker = BenchBroker::start(vec![Arc::clone(log)], Arc::new(Tally::default())).await?;
    let ends: Vec<String> = log
        .partitions
        .iter()
        .map(|p| p.end_offset().to_string())
        .collect();
    let mut wall = Vec::new();
    let mut broker_per_cpu = Vec::new();
    let mut client_per_cpu = Vec::new();
    for _ in 0..3 {
        let cpu0 = self_cpu_seconds();
        let out = tokio::process::Command::new(std::env::current_exe()?)
            .arg("measure")
            .arg(std::env::current_exe()?)
            .args(["speed-client", "--bootstrap", &broker.bootstrap()])
            .args(["--ends", &ends.join(",")])
            .stdout(Stdio::piped())
            .output()
            .await?;
        let broker_cpu = self_cpu_seconds() - cpu0;
        let text = String::from_utf8_lossy(&out.stdout);
        let usage = text.lines().find_map(Usage::from_line);
        let speed = text.lines().find_map(|l| {
            let rest = l.strip_prefix("SPEED ")?;
            let mut it = rest.split_whitespace();
            let bytes: u64 = it.next()?.strip_prefix("bytes=")?.parse().ok()?;
            let secs: f64 = it.next()?.strip_prefix("secs=")?.parse().ok()?;
            Some((bytes, secs))
        });
        let (Some(usage), Some((bytes, secs))) = (usage, speed) else {
            return Err(format!("speed client failed: {text}").into());
        };
        if bytes != log.bytes() {
            return Err(format!("speed check read {bytes} of {} bytes", log.bytes()).into());
        }
        wall.push(bytes as f64 / secs);
        broker_per_cpu.push(bytes as f64 / broker_cpu);
        client_per_cpu.push(bytes as f64 / usage.cpu());
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|f| format!("{:.2}", f / GB))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "bench broker speed, Fetch over loopback to a client process (2 connections), median of 3:\n\n\
         - wall: {:.2} GB/s ({})\n\
         - broker alone: {:.2} GB per CPU second ({})\n\
         - client alone: {:.2} GB per CPU second ({})\n",
        median(&wall) / GB,
        list(&wall),
        median(&broker_per_cpu) / GB,
        list(&broker_per_cpu),
        median(&client_per_cpu) / GB,
        list(&client_per_cpu),
    );
    Ok(())
}

async fn run_system(system: System, log: &Arc<TopicLog>, zstd: bool) -> Result<Row, Error> {
    let bytes = log.bytes();
    // Figures are per uncompressed byte moved, so zstd runs compare per record.
    let logical = log.logical_bytes;
    if system == System::Relay {
        let from = TcpListener::bind("127.0.0.1:0").await?;
        let to = TcpListener::bind("127.0.0.1:0").await?;
        let args = vec![
            "--from".into(),
            from.local_addr()?.to_string(),
            "--to".into(),
            to.local_addr()?.to_string(),
            "--bytes".into(),
            bytes.to_string(),
        ];
        let chunks = log.partitions.iter().map(|p| p.data().clone()).collect();
        let feeder = tokio::spawn(relay::feed(from, chunks));
        let sink = tokio::spawn(relay::sink(to, bytes));
        let usage = measured("e2e-relay", &args).await?;
        feeder.await??;
        let got = sink.await??;
        if got != bytes {
            return Err(format!("relay delivered {got} of {bytes} bytes").into());
        }
        return Ok(Row {
            usage,
            bytes: logical,
        });
    }
    let source = BenchBroker::start(vec![Arc::clone(log)], Arc::new(Tally::default())).await?;
    let target_log = Arc::new(TopicLog::empty(TOPIC, log.partitions.len()));
    let target = BenchBroker::start(vec![target_log], Arc::new(Tally::default())).await?;
    let mut args = vec![
        "--source".into(),
        source.bootstrap(),
        "--target".into(),
        target.bootstrap(),
        "--topic".into(),
        TOPIC.into(),
    ];
    let program = match system {
        System::Mirror => {
            args.extend(["--mode".into(), "backfill".into()]);
            "e2e-mirror"
        }
        _ => {
            args.extend([
                "--partitions".into(),
                log.partitions.len().to_string(),
                "--records".into(),
                log.records().to_string(),
                "--compression".into(),
                (if zstd { "zstd" } else { "none" }).into(),
            ]);
            "e2e-rdkafka"
        }
    };
    let usage = measured(program, &args).await?;
    let tally = target.tally();
    if tally.crc_errors() > 0 {
        return Err(format!("{program}: {} batches failed their CRC", tally.crc_errors()).into());
    }
    if tally.records() != log.records() {
        return Err(format!(
            "{program}: target received {} of {} records",
            tally.records(),
            log.records()
        )
        .into());
    }
    Ok(Row {
        usage,
        bytes: logical,
    })
}

fn report(rows: &[(System, Vec<Row>)]) {
    let find = |s: System| rows.iter().find(|(x, _)| *x == s).map(|(_, r)| r);
    let (ours, theirs, floor) = (
        find(System::Mirror),
        find(System::Rdkafka),
        find(System::Relay),
    );
    println!("| system | wall s | MB/s | CPU s/GB | peak RSS MiB | runs |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (system, r) in rows {
        let m = |f: &dyn Fn(&Row) -> f64| median(&r.iter().map(f).collect::<Vec<_>>());
        println!(
            "| {} | {:.2} | {:.0} | {:.3} | {:.0} | {} |",
            system.label(),
            m(&|x| x.usage.wall.as_secs_f64()),
            m(&|x| x.mb_per_sec()),
            m(&|x| x.cpu_per_gb()),
            m(&|x| x.usage.max_rss as f64 / MIB),
            r.len()
        );
    }
    // Ratios per run (same run), then their median.
    let ratio = |a: &[Row], b: &[Row], f: &dyn Fn(&Row) -> f64| {
        median(
            &a.iter()
                .zip(b)
                .map(|(x, y)| f(x) / f(y))
                .collect::<Vec<_>>(),
        )
    };
    if let (Some(a), Some(b)) = (ours, theirs) {
        println!(
            "\nmirror vs rdkafka (median of same-run ratios): CPU/GB {:.3}x (goal <= 0.2x), throughput {:.2}x",
            ratio(a, b, &Row::cpu_per_gb),
            ratio(a, b, &Row::mb_per_sec)
        );
    }
    if let (Some(a), Some(c)) = (ours, floor) {
        println!(
            "mirror vs relay floor: CPU/GB {:.2}x (goal <= 2x), throughput {:.2}x",
            ratio(a, c, &Row::cpu_per_gb),
            ratio(a, c, &Row::mb_per_sec)
        );
    }
    if let Some(a) = ours {
        let rss = median(&a.iter().map(|x| x.usage.max_rss as f64).collect::<Vec<_>>());
        println!(
            "mirror peak RSS {:.0} MiB vs in-flight budget 256 MiB + 64 MiB = 320 MiB: {}",
            rss / MIB,
            if rss <= 320.0 * MIB { "met" } else { "missed" }
        );
    }
    println!();
}

/// Added latency at a fixed rate: the source releases batches at the rate
/// and stamps each; the target stamps each arrival; per target batch, the
/// difference with the source batch holding its last record.
async fn latency(o: &Options) -> Result<(), Error> {
    let volume = (o.rate * o.latency_secs) as usize;
    let log = Arc::new(TopicLog::generate(
        TOPIC,
        &LogSpec::with_volume(volume, o.partitions, false),
    ));
    println!(
        "## Added latency at {:.0} MB/s ({:.0} s, {} partitions, 16 KiB batches)\n",
        o.rate / 1e6,
        o.latency_secs,
        o.partitions
    );
    println!("| system | batches | p50 ms | p99 ms | max ms |");
    println!("| --- | --- | --- | --- | --- |");
    for system in [System::Mirror, System::Rdkafka] {
        if !o.systems.contains(&system) {
            continue;
        }
        eprintln!("latency: {}", system.label());
        let mut source =
            BenchBroker::start(vec![Arc::clone(&log)], Arc::new(Tally::default())).await?;
        let target = BenchBroker::start(
            vec![Arc::new(TopicLog::empty(TOPIC, o.partitions))],
            Arc::new(Tally::with_arrivals(true)),
        )
        .await?;
        source.hide_all();
        let mut args = vec![
            "--source".to_owned(),
            source.bootstrap(),
            "--target".into(),
            target.bootstrap(),
            "--topic".into(),
            TOPIC.into(),
        ];
        let program = if system == System::Mirror {
            args.extend(["--mode".into(), "continuous".into()]);
            "e2e-mirror"
        } else {
            args.extend([
                "--partitions".into(),
                o.partitions.to_string(),
                "--records".into(),
                log.records().to_string(),
                "--compression".into(),
                "none".into(),
            ]);
            // Low latency is what this run is about.
            "e2e-rdkafka"
        };
        let mut child = tokio::process::Command::new(sibling(program)?)
            .args(&args)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        // Let the replicator connect and position before data flows.
        tokio::time::sleep(Duration::from_secs(3)).await;
        source.release_at_rate(o.rate);
        let deadline = Instant::now() + Duration::from_secs_f64(o.latency_secs * 3.0 + 30.0);
        while target.tally().records() < log.records() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill().await;
        if target.tally().records() < log.records() {
            return Err(format!(
                "latency run of {program}: target got {} of {} records",
                target.tally().records(),
                log.records()
            )
            .into());
        }
        let mut lat = Vec::new();
        for ((_, p), t) in target.tally().snapshot() {
            let part = &log.partitions[p as usize];
            for (records_after, arrived) in t.arrivals {
                if let Some(visible) = part.visible_at(records_after as i64 - 1) {
                    lat.push(arrived.saturating_duration_since(visible));
                }
            }
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} |",
            if system == System::Mirror {
                "(a) our mirror, continuous"
            } else {
                system.label()
            },
            lat.len(),
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 99.0)),
            ms(percentile(&lat, 100.0))
        );
    }
    println!();
    Ok(())
}

/// Idle cost: our mirror in continuous mode over `idle_partitions` empty
/// partitions, CPU and RSS over `idle_secs` after a warm-up.
async fn idle(o: &Options) -> Result<(), Error> {
    let n = o.idle_partitions;
    let source = BenchBroker::start(
        vec![Arc::new(TopicLog::empty("idle", n))],
        Arc::new(Tally::default()),
    )
    .await?;
    let target = BenchBroker::start(
        vec![Arc::new(TopicLog::empty("idle", n))],
        Arc::new(Tally::default()),
    )
    .await?;
    let mut child = tokio::process::Command::new(sibling("e2e-mirror")?)
        .args([
            "--source",
            &source.bootstrap(),
            "--target",
            &target.bootstrap(),
            "--topic",
            "idle",
            "--mode",
            "continuous",
        ])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("idle mirror exited at once")?;
    eprintln!(
        "idle: {n} partitions, 10 s warm-up, {} s measured",
        o.idle_secs
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu0 = proc_cpu_seconds(pid)?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(o.idle_secs)).await;
    let cpu1 = proc_cpu_seconds(pid)?;
    let secs = t0.elapsed().as_secs_f64();
    let rss = proc_rss(pid)?;
    let _ = child.kill().await;
    let pct = (cpu1 - cpu0) / secs * 100.0;
    println!("## Idle, {n} mirrored partitions\n");
    println!(
        "our mirror, continuous mode, no data: {:.2}% of a core over {:.0} s (goal < 2%: {}), RSS {:.1} MiB\n",
        pct,
        secs,
        if pct < 2.0 { "met" } else { "missed" },
        rss as f64 / MIB
    );
    Ok(())
}

/// Against real brokers: preload the source with librdkafka, then time
/// our mirror and the rdkafka forwarder. Records are checked by the
/// replicators' own counts, not by a tally.
async fn external(o: &Options, source: &str, target: &str) -> Result<(), Error> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::ClientConfig;

    let records = o.volume / 1024;
    let partitions = o.partitions as i32;
    for (bootstrap, label) in [(source, "source"), (target, "target")] {
        let admin: AdminClient<_> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()?;
        let topic = NewTopic::new(TOPIC, partitions, TopicReplication::Fixed(1));
        let r = admin.create_topics([&topic], &AdminOptions::new()).await?;
        for x in r {
            if let Err((t, e)) = x {
                eprintln!("{label}: create {t}: {e} (continuing)");
            }
        }
    }
    let zstd = o.variants.first().copied().unwrap_or(false);
    eprintln!("preloading {records} records into {source} with librdkafka...");
    let start = Instant::now();
    benches::e2e::preload::preload(source, TOPIC, records, o.partitions, zstd).await?;
    let preload = start.elapsed().as_secs_f64();
    let bytes = (records * 1024) as u64;
    println!(
        "preload with librdkafka: {records} records in {preload:.1}s ({:.1} MB/s)\n",
        bytes as f64 / 1e6 / preload
    );
    println!("| system | wall s | MB/s (1 KiB records) | CPU s/GB | peak RSS MiB |");
    println!("| --- | --- | --- | --- | --- |");
    for system in [System::Mirror, System::Rdkafka] {
        if !o.systems.contains(&system) {
            continue;
        }
        let mut args = vec![
            "--source".to_owned(),
            source.to_owned(),
            "--target".into(),
            target.to_owned(),
            "--topic".into(),
            TOPIC.into(),
        ];
        let program = if system == System::Mirror {
            args.extend(["--mode".into(), "backfill".into()]);
            "e2e-mirror"
        } else {
            args.extend([
                "--partitions".into(),
                o.partitions.to_string(),
                "--records".into(),
                records.to_string(),
                "--compression".into(),
                (if zstd { "zstd" } else { "none" }).into(),
            ]);
            "e2e-rdkafka"
        };
        eprintln!("external: {}", system.label());
        let usage = measured(program, &args).await?;
        let row = Row { usage, bytes };
        println!(
            "| {} | {:.2} | {:.1} | {:.2} | {:.0} |",
            system.label(),
            usage.wall.as_secs_f64(),
            row.mb_per_sec(),
            row.cpu_per_gb(),
            usage.max_rss as f64 / MIB
        );
    }
    println!();
    Ok(())
}
