//! The `mirror` command line: runs every enabled flow of a MirrorMaker 2
//! properties file with [`replicator_core::Mirror`].
//!
//! The binary (`examples/mirror.rs`) only calls [`main`]; tests call
//! [`run_with`] in-process.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use replicator_core::mm2::{FlowConfig, Mm2Config, ReplicationPolicy, StartPolicy};
use replicator_core::{
    Mirror, MirrorBuilder, MirrorControl, MirrorError, MirrorHandle, Mode, PartitionState,
    RenamePolicy, StartFrom, Status, Summary,
};

/// Exit code: done (caught up, or stopped with Ctrl-C in continuous mode).
pub const EXIT_OK: i32 = 0;
/// Exit code: a runtime failure (a mirror could not start or failed, or a
/// partition ended FAILED).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad usage or a configuration that cannot be used.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: interrupted (Ctrl-C) before `--until-caught-up` finished.
pub const EXIT_INTERRUPTED: i32 = 130;

/// The usage text.
pub const USAGE: &str = "\
usage: mirror --config FILE [--until-caught-up] [--status-interval SECS]

Runs every enabled flow (source->target.enabled = true) of a MirrorMaker 2
properties file.

  --config FILE           the MirrorMaker 2 properties file
  --until-caught-up       copy up to the end offsets seen at start, commit,
                          print a summary per flow and exit
  --status-interval SECS  print a status line per flow every SECS seconds
  -h, --help              this text

Exit codes: 0 done (or stopped with Ctrl-C in continuous mode),
1 runtime failure, 2 bad usage or configuration,
130 interrupted before --until-caught-up finished.";

/// Parsed command-line options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `--config FILE`.
    pub config: PathBuf,
    /// `--until-caught-up`.
    pub until_caught_up: bool,
    /// `--status-interval SECS`.
    pub status_interval: Option<Duration>,
}

/// What the arguments ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run the mirrors.
    Run(Options),
    /// Print the usage text.
    Help,
}

/// Parses the arguments (without the program name).
pub fn parse_args<I, S>(args: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut config = None;
    let mut until_caught_up = false;
    let mut status_interval = None;
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--config" | "-c" => config = Some(PathBuf::from(value("a file")?)),
            "--until-caught-up" => until_caught_up = true,
            "--status-interval" => {
                let v = value("a number of seconds")?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| {
                        format!("--status-interval {v:?} is not a positive number of seconds")
                    })?;
                status_interval = Some(Duration::from_secs_f64(secs));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(Command::Run(Options {
        config,
        until_caught_up,
        status_interval,
    }))
}

/// How one flow ended.
#[derive(Debug)]
pub struct FlowOutcome {
    /// `source->target`.
    pub flow: String,
    /// The mirror's summary, or why it failed.
    pub result: Result<Summary, MirrorError>,
}

/// How the whole run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code.
    pub code: i32,
    /// Every flow that started, in file order.
    pub flows: Vec<FlowOutcome>,
}

impl Outcome {
    fn code(code: i32) -> Self {
        Self {
            code,
            flows: Vec::new(),
        }
    }
}

/// The binary's entry point: parses `std::env::args`, runs until done or
/// Ctrl-C, and returns the exit code.
pub async fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: never stop on a signal.
            std::future::pending::<()>().await;
        }
    };
    run_with(args, stop).await.code
}

/// Runs the command line `args` (without the program name); `stop`
/// completing asks every mirror to stop gracefully (drain, commit,
/// summary). Prints status and summaries to stdout, warnings and errors to
/// stderr.
pub async fn run_with<I, S>(args: I, stop: impl Future<Output = ()>) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let opts = match parse_args(args) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return Outcome::code(EXIT_OK);
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return Outcome::code(EXIT_USAGE);
        }
    };
    let config = match Mm2Config::load(&opts.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::code(EXIT_USAGE);
        }
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let mode = if opts.until_caught_up {
        Mode::UntilCaughtUp
    } else {
        Mode::Continuous
    };
    let mut mirrors = Vec::new();
    for flow in config.enabled_flows() {
        let (builder, notes) = match builder_for(&config, flow) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return Outcome::code(EXIT_USAGE);
            }
        };
        for n in notes {
            eprintln!(
                "note: {}:{}: flow {}: {n}",
                config.origin,
                flow.line,
                flow.name()
            );
        }
        match builder.mode(mode).build() {
            Ok(m) => mirrors.push((flow.name(), m)),
            Err(e) => {
                eprintln!(
                    "error: {}:{}: flow {}: {e}",
                    config.origin,
                    flow.line,
                    flow.name()
                );
                return Outcome::code(EXIT_USAGE);
            }
        }
    }
    run_mirrors(mirrors, &opts, stop).await
}

/// Maps one flow onto a [`MirrorBuilder`] (without the mode). Also returns
/// notes on settings that have no builder equivalent.
pub fn builder_for(
    config: &Mm2Config,
    flow: &FlowConfig,
) -> Result<(MirrorBuilder, Vec<String>), String> {
    let cluster = |alias: &str| {
        config.cluster_config(alias).ok_or_else(|| {
            format!(
                "{}:{}: flow {}: cluster {alias:?} is not declared",
                config.origin,
                flow.line,
                flow.name()
            )
        })
    };
    let mut notes = Vec::new();
    let mut b = Mirror::builder()
        .source(cluster(&flow.source)?)
        .target(cluster(&flow.target)?)
        .target_alias(flow.target.clone())
        .group_id(flow.group_id.clone())
        .create_topics(flow.auto_create_topics)
        .sync_configs(flow.sync_topic_configs)
        .replication_factor(flow.replication_factor.unwrap_or(-1))
        .start_from(match flow.start_policy {
            StartPolicy::Earliest => StartFrom::Earliest,
            StartPolicy::Latest => StartFrom::Latest,
        });
    // The flow's topics, internal-topic rule and cycle check, as
    // MirrorMaker 2 applies them: a listed topic that does not exist yet is
    // picked up when it is created, and a topic that came from the target
    // is left out, which keeps active/active running.
    b = b.selection(flow.topic_selection());
    b = match &flow.policy {
        ReplicationPolicy::Default { separator } => b.rename(RenamePolicy::prefix_with(
            flow.source.clone(),
            separator.clone(),
        )),
        ReplicationPolicy::Identity => b.rename(RenamePolicy::Identity),
    };
    let total = usize::try_from(flow.max_in_flight_bytes).unwrap_or(usize::MAX);
    b = b.max_bytes_in_flight(total, total.min(16 << 20));
    match flow.refresh_interval {
        Some(every) => b = b.topic_refresh_interval(every),
        None => {
            notes.push(
                "refresh.topics.enabled = false has no exact equivalent: new topics are looked for once a year instead"
                    .into(),
            );
            b = b.topic_refresh_interval(Duration::from_secs(365 * 24 * 3600));
        }
    }
    if flow.sync_topic_configs {
        notes.push(format!(
            "sync.topic.configs.interval.seconds ({}s) has no equivalent: topic configs are copied once, when the target topic is created",
            flow.sync_topic_configs_interval.as_secs()
        ));
    }
    if flow.config_properties_exclude.is_some() {
        notes.push(
            "config.properties.exclude has no equivalent: the engine's own list of synced configs is used"
                .into(),
        );
    }
    Ok((b, notes))
}

struct Running {
    flow: String,
    control: MirrorControl,
    handle: Option<MirrorHandle>,
    result: Option<Result<Summary, MirrorError>>,
    last: Option<(Instant, u64, u64)>,
    /// Backfill: offsets to copy, as seen at start (the progress bar's
    /// 100%).
    total_to_end: Option<i64>,
}

async fn run_mirrors(
    mirrors: Vec<(String, Mirror)>,
    opts: &Options,
    stop: impl Future<Output = ()>,
) -> Outcome {
    let until_caught_up = opts.until_caught_up;
    let mut running: Vec<Running> = Vec::new();
    let mut start_error = None;
    for (flow, mirror) in mirrors {
        println!("[{flow}] starting");
        match mirror.start().await {
            Ok(handle) => {
                let control = handle.control();
                // Every partition is positioned with its end offset once
                // `start` returns, so this is the whole backfill.
                let total_to_end = control.status().to_end();
                running.push(Running {
                    flow,
                    control,
                    handle: Some(handle),
                    result: None,
                    last: None,
                    total_to_end,
                });
            }
            Err(e) => {
                start_error = Some(format!("flow {flow} could not start: {e}"));
                break;
            }
        }
    }
    if let Some(e) = &start_error {
        eprintln!("error: {e}");
        for r in &running {
            r.control.request_stop();
        }
    }

    tokio::pin!(stop);
    let mut stopping = start_error.is_some();
    let mut interrupted = false;
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    let mut status = opts.status_interval.map(|every| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        i
    });
    let started = Instant::now();
    while running.iter().any(|r| r.result.is_none()) {
        tokio::select! {
            _ = &mut stop, if !stopping => {
                interrupted = true;
                stopping = true;
                eprintln!("stopping: draining in-flight batches and committing offsets");
                for r in &running {
                    r.control.request_stop();
                }
            }
            _ = async { status.as_mut().expect("guarded").tick().await }, if status.is_some() => {
                for r in running.iter_mut().filter(|r| r.result.is_none()) {
                    print_status(r, until_caught_up, started);
                }
            }
            _ = poll.tick() => {}
        }
        for r in running.iter_mut() {
            if r.handle.as_ref().is_some_and(MirrorHandle::is_finished) {
                let handle = r.handle.take().expect("checked");
                let result = handle.wait().await;
                if let Err(e) = &result {
                    eprintln!("error: flow {} failed: {e}", r.flow);
                }
                r.result = Some(result);
            }
        }
        // One flow failing ends the run: the others stop gracefully.
        if !stopping && running.iter().any(|r| matches!(r.result, Some(Err(_)))) {
            stopping = true;
            for r in running.iter().filter(|r| r.result.is_none()) {
                r.control.request_stop();
            }
        }
    }

    let mut code = if start_error.is_some() {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    let mut flows = Vec::new();
    for r in running {
        let result = r.result.expect("every flow finished");
        match &result {
            Ok(s) => {
                print_summary(&r.flow, s);
                if s.failed().next().is_some() {
                    eprintln!("error: flow {}: partitions FAILED", r.flow);
                    code = EXIT_FAILED;
                }
            }
            Err(_) => code = EXIT_FAILED,
        }
        flows.push(FlowOutcome {
            flow: r.flow,
            result,
        });
    }
    if code == EXIT_OK && interrupted && until_caught_up {
        eprintln!("interrupted before every flow caught up; the next run resumes from the committed offsets");
        code = EXIT_INTERRUPTED;
    }
    Outcome { code, flows }
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 / 1e6 / secs
    }
}

fn print_status(r: &mut Running, until_caught_up: bool, started: Instant) {
    let s: Status = r.control.status();
    let now = Instant::now();
    let (t0, records0, bytes0) = r.last.unwrap_or((started, 0, 0));
    let dt = now.duration_since(t0);
    let rate = mb_per_s(s.totals.bytes.saturating_sub(bytes0), dt);
    let rps = if dt.as_secs_f64() > 0.0 {
        s.totals.records.saturating_sub(records0) as f64 / dt.as_secs_f64()
    } else {
        0.0
    };
    r.last = Some((now, s.totals.records, s.totals.bytes));
    let lag = s.lag();
    let failed = s
        .partitions
        .iter()
        .filter(|p| p.state == PartitionState::Failed)
        .count();
    let mut line = format!(
        "[{}] {:>8.2} MB/s {:>9.0} rec/s  lag {:>9} records  {} records copied  {} partitions",
        r.flow,
        rate,
        rps,
        lag,
        s.totals.records,
        s.partitions.len()
    );
    if failed > 0 {
        line.push_str(&format!("  {failed} FAILED"));
    }
    if until_caught_up {
        line.push_str(&progress(&s, &mut r.total_to_end));
    }
    println!("{line}");
}

/// Backfill progress toward the end offsets, in source offsets: `total` is
/// what there was to copy at start, raised when more than that is left
/// (topics or partitions that joined since).
fn progress(s: &Status, total: &mut Option<i64>) -> String {
    // A partition FAILED before it was positioned (its target topic could
    // not be set up) has no end offset and never will: the summary reports
    // it, the bar leaves it out.
    let counted: Vec<_> = s
        .partitions
        .iter()
        .filter(|p| !(p.state == PartitionState::Failed && p.end_offset.is_none()))
        .collect();
    let Some(left) = counted.iter().map(|p| p.to_end.map(|n| n.max(0))).sum() else {
        let unknown = counted.iter().filter(|p| p.to_end.is_none()).count();
        return format!("  [end offsets of {unknown} partitions not known yet]");
    };
    let all = total.get_or_insert(left);
    *all = (*all).max(left);
    let frac = if *all > 0 {
        (*all - left) as f64 / *all as f64
    } else {
        1.0
    };
    const WIDTH: usize = 30;
    let filled = ((frac * WIDTH as f64).round() as usize).min(WIDTH);
    format!(
        "  [{}{}] {:>3.0}%  {left} offsets to go",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        frac * 100.0
    )
}

fn print_summary(flow: &str, s: &Summary) {
    let topics: BTreeSet<&str> = s
        .partitions
        .iter()
        .map(|p| p.source_topic.as_str())
        .collect();
    let t = &s.totals;
    println!(
        "[{flow}] summary: {} topics, {} partitions, {} records, {} bytes in {:.2?} ({:.2} MB/s){}",
        topics.len(),
        s.partitions.len(),
        t.records,
        t.bytes,
        s.elapsed,
        mb_per_s(t.bytes, s.elapsed),
        if s.drained {
            ""
        } else {
            "; drain timed out, in-flight batches are fetched again on restart"
        }
    );
    if s.partitions.is_empty() {
        println!("[{flow}]   no source topic is selected: nothing to copy");
    }
    for topic in &topics {
        let parts: Vec<_> = s
            .partitions
            .iter()
            .filter(|p| p.source_topic == *topic)
            .collect();
        let records: u64 = parts.iter().map(|p| p.totals.records).sum();
        println!(
            "[{flow}]   {topic} -> {} ({} partitions, {records} records)",
            parts[0].target_topic,
            parts.len()
        );
    }
    if t.errors > 0 || t.lost_offsets > 0 || t.aborted_batches > 0 {
        println!(
            "[{flow}]   {} errors retried, {} aborted batches dropped, {} offsets lost on the source",
            t.errors, t.aborted_batches, t.lost_offsets
        );
    }
    for p in s.failed() {
        println!(
            "[{flow}]   FAILED {}-{}: {}",
            p.source_topic,
            p.partition,
            p.reason.as_deref().unwrap_or("no reason recorded")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(
            parse_args(["--config", "f.properties"]).unwrap(),
            Command::Run(Options {
                config: "f.properties".into(),
                until_caught_up: false,
                status_interval: None,
            })
        );
        assert_eq!(
            parse_args([
                "--until-caught-up",
                "--config=f",
                "--status-interval",
                "0.5"
            ])
            .unwrap(),
            Command::Run(Options {
                config: "f".into(),
                until_caught_up: true,
                status_interval: Some(Duration::from_millis(500)),
            })
        );
        assert_eq!(parse_args(["-h"]).unwrap(), Command::Help);
        assert!(parse_args(Vec::<String>::new())
            .unwrap_err()
            .contains("--config"));
        assert!(parse_args(["--config"]).unwrap_err().contains("needs"));
        assert!(parse_args(["--config", "f", "--status-interval", "0"]).is_err());
        assert!(parse_args(["--bogus"]).unwrap_err().contains("--bogus"));
    }

    #[test]
    fn flows_map_onto_the_builder() {
        let config = Mm2Config::from_str(
            "clusters = a, b\n\
             a.bootstrap.servers = a:9092\n\
             b.bootstrap.servers = b:9092\n\
             a->b.enabled = true\n\
             a->b.topics = orders, pay-.*, b_.*\n\
             a->b.topics.exclude = pay-tmp\n\
             b->a.enabled = true\n\
             b->a.topics = orders\n\
             replication.policy.separator = _\n\
             refresh.topics.enabled = false\n",
            "t.properties",
        )
        .unwrap();
        let flow = config.flow("a", "b").unwrap();
        let (b, notes) = builder_for(&config, flow).unwrap();
        assert!(
            notes.iter().any(|n| n.contains("refresh.topics")),
            "{notes:?}"
        );
        let m = b.build().unwrap();
        let c = m.config();
        assert_eq!(c.rename.target_name("orders"), "a_orders");
        assert_eq!(c.target_alias.as_deref(), Some("b"));
        assert_eq!(c.group_id, flow.group_id);
        let sel = &c.selection;
        assert!(sel.matches("orders", false));
        assert!(sel.matches("pay-eu", false));
        assert!(!sel.matches("pay-tmp", false), "excluded");
        assert!(!sel.matches("b_orders", false), "came from the target");
        assert!(!sel.matches("x_b_orders", false), "came from the target");
        assert!(!sel.matches("ordersx", false), "names are exact");
        assert!(
            !sel.matches("pay-x.internal", false),
            "MirrorMaker 2 internal"
        );
        let (ab, _) = builder_for(&config, config.flow("b", "a").unwrap()).unwrap();
        let sel = ab.build().unwrap().config().selection.clone();
        assert!(sel.matches("orders", false));
        assert!(!sel.matches("a_orders", false), "came from the target");
    }

    fn part(p: i32, end: Option<i64>, to_end: Option<i64>) -> replicator_core::PartitionStatus {
        replicator_core::PartitionStatus {
            source_topic: "t".into(),
            target_topic: "t".into(),
            partition: p,
            state: PartitionState::Active,
            reason: None,
            high_watermark: -1,
            position: None,
            committed_offset: None,
            lag: 0,
            end_offset: end,
            to_end,
            bytes_in_flight: 0,
            last_fetch: None,
            last_produce: None,
            totals: Default::default(),
        }
    }

    #[test]
    fn progress_counts_offsets_toward_the_end_offsets() {
        let mut s = Status {
            partitions: vec![part(0, Some(10), Some(5)), part(1, Some(10), Some(5))],
            totals: Default::default(),
            bytes_in_flight: 0,
        };
        let mut total = Some(20);
        let line = progress(&s, &mut total);
        assert!(
            line.contains(" 50%") && line.contains("10 offsets to go"),
            "{line}"
        );
        assert!(
            line.contains(&format!("[{}{}]", "#".repeat(15), "-".repeat(15))),
            "{line}"
        );
        // More left than at start (a topic joined): the total follows.
        s.partitions.push(part(2, Some(30), Some(30)));
        let line = progress(&s, &mut total);
        assert_eq!(total, Some(40));
        assert!(line.contains("  0%  40 offsets to go"), "{line}");
        // Nothing known at start: the first figure is the total.
        let mut none = None;
        assert!(progress(&s, &mut none).contains(" 0%"));
        assert_eq!(none, Some(40));
        s.partitions.iter_mut().for_each(|p| p.to_end = Some(0));
        assert!(progress(&s, &mut none).contains("100%"));
        // Failed before it had an end offset: left out.
        let mut failed = part(4, None, None);
        failed.state = PartitionState::Failed;
        s.partitions.push(failed);
        assert!(progress(&s, &mut none).contains("100%"));
        // An end offset not known yet.
        s.partitions.push(part(3, None, None));
        let line = progress(&s, &mut none);
        assert!(
            line.contains("end offsets of 1 partitions not known yet"),
            "{line}"
        );
        // Nothing selected: done.
        s.partitions.clear();
        assert!(progress(&s, &mut None).contains("100%"));
    }
}
