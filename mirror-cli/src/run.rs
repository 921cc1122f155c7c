//! The run: read the file, build one mirror per enabled flow, serve the
//! HTTP endpoints, start the mirrors, print status lines, stop gracefully
//! when asked, print the summaries, and decide the exit code.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use replicator_core::{Mirror, MirrorControl, MirrorError, MirrorHandle, Mode, Summary};

use crate::args::{self, Options, Request};
use crate::board::{Board, Phase};
use crate::mapping::builder_for;
use crate::mm2::Mm2Config;
use crate::output::{Output, Sample, StatusLine};
use crate::{http, logging, prometheus, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};

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
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: never stop on a signal.
            std::future::pending::<()>().await;
        }
    };
    run_with(std::env::args_os().skip(1), stop).await.code
}

/// Runs the command line `args` (without the program name); `stop`
/// completing asks every mirror to stop gracefully (drain, commit,
/// summary). Installs the log subscriber of `--log-format` (once per
/// process). With `--log-format text`, prints status and summaries to
/// stdout, warnings and errors to stderr; with `json`, events to stdout.
pub async fn run_with<I, S>(args: I, stop: impl Future<Output = ()>) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    let opts = match args::parse(args) {
        Ok(Request::Run(o)) => o,
        Ok(Request::Completions(shell)) => {
            args::completions(shell, &mut std::io::stdout());
            return Outcome::code(EXIT_OK);
        }
        Err(refused) => {
            refused.print();
            return Outcome::code(refused.code);
        }
    };
    logging::init(opts.log_format);
    run(&opts, stop).await
}

/// Runs the mirrors of `opts.config`.
pub async fn run(opts: &Options, stop: impl Future<Output = ()>) -> Outcome {
    let out = Output::new(opts.log_format);
    let config = match Mm2Config::load(&opts.config) {
        Ok(c) => c,
        Err(e) => {
            out.error(None, &e.to_string());
            return Outcome::code(EXIT_USAGE);
        }
    };
    for w in &config.warnings {
        out.warning(w);
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
                out.error(Some(&flow.name()), &e);
                return Outcome::code(EXIT_USAGE);
            }
        };
        for n in notes {
            out.note(&config.origin, flow.line, &flow.name(), &n);
        }
        match builder.mode(mode).build() {
            Ok(m) => mirrors.push((flow.name(), m)),
            Err(e) => {
                out.error(
                    Some(&flow.name()),
                    &format!("{}:{}: flow {}: {e}", config.origin, flow.line, flow.name()),
                );
                return Outcome::code(EXIT_USAGE);
            }
        }
    }
    let board = Board::new(
        mirrors
            .iter()
            .map(|(flow, m)| (flow.clone(), m.config().group_id.clone())),
    );
    // The recorder goes in before any mirror starts: the engine registers a
    // partition's metrics when the partition joins.
    let _server = match &opts.metrics_addr {
        None => None,
        Some(addr) => {
            let served = match prometheus::exporter() {
                Ok(exporter) => {
                    for (flow, m) in &mirrors {
                        exporter.add_flow(&m.config().group_id, flow);
                    }
                    http::serve(addr, Arc::clone(&board), exporter).await
                }
                Err(e) => Err(e),
            };
            match served {
                Ok(server) => {
                    out.listening(server.addr());
                    Some(server)
                }
                Err(e) => {
                    out.error(None, &e);
                    return Outcome::code(EXIT_FAILED);
                }
            }
        }
    };
    run_mirrors(mirrors, opts, &board, out, stop).await
}

struct Running {
    flow: String,
    control: MirrorControl,
    handle: Option<MirrorHandle>,
    result: Option<Result<Summary, MirrorError>>,
    last: Sample,
    /// Backfill: offsets to copy, as seen at start (the progress bar's
    /// 100%).
    total_to_end: Option<i64>,
}

async fn run_mirrors(
    mirrors: Vec<(String, Mirror)>,
    opts: &Options,
    board: &Board,
    out: Output,
    stop: impl Future<Output = ()>,
) -> Outcome {
    let until_caught_up = opts.until_caught_up;
    let mut running: Vec<Running> = Vec::new();
    let mut start_error = None;
    let started = Instant::now();
    for (flow, mirror) in mirrors {
        out.info(Some(&flow), "starting");
        match mirror.start().await {
            Ok(handle) => {
                let control = handle.control();
                board.set(&flow, Phase::Running(control.clone()));
                // Every partition is positioned with its end offset once
                // `start` returns, so this is the whole backfill.
                let total_to_end = control.status().to_end();
                running.push(Running {
                    flow,
                    control,
                    handle: Some(handle),
                    result: None,
                    last: Sample::start(started),
                    total_to_end,
                });
            }
            Err(e) => {
                let msg = format!("flow {flow} could not start: {e}");
                board.ended(&flow, Err(e.to_string()));
                start_error = Some((flow, msg));
                break;
            }
        }
    }
    if let Some((flow, e)) = &start_error {
        out.error(Some(flow), e);
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
    while running.iter().any(|r| r.result.is_none()) {
        tokio::select! {
            _ = &mut stop, if !stopping => {
                interrupted = true;
                stopping = true;
                out.info(None, "stopping: draining in-flight batches and committing offsets");
                for r in &running {
                    r.control.request_stop();
                }
            }
            _ = async { status.as_mut().expect("guarded").tick().await }, if status.is_some() => {
                let now = Instant::now();
                for r in running.iter_mut().filter(|r| r.result.is_none()) {
                    let s = r.control.status();
                    let total = until_caught_up.then_some(&mut r.total_to_end);
                    out.status(&r.flow, &StatusLine::new(&s, &mut r.last, now, total));
                }
            }
            _ = poll.tick() => {}
        }
        for r in running.iter_mut() {
            if r.handle.as_ref().is_some_and(MirrorHandle::is_finished) {
                let handle = r.handle.take().expect("checked");
                let result = handle.wait().await;
                match &result {
                    Ok(s) => board.ended(&r.flow, Ok(s)),
                    Err(e) => {
                        out.error(Some(&r.flow), &format!("flow {} failed: {e}", r.flow));
                        board.ended(&r.flow, Err(e.to_string()));
                    }
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
                out.summary(&r.flow, s);
                if s.failed().next().is_some() {
                    out.error(
                        Some(&r.flow),
                        &format!("flow {}: partitions FAILED", r.flow),
                    );
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
        out.info(
            None,
            "interrupted before every flow caught up; the next run resumes from the committed offsets",
        );
        code = EXIT_INTERRUPTED;
    }
    Outcome { code, flows }
}
