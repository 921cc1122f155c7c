//! A mirror in its own process, for tests that SIGKILL it mid-stream
//! (`tests/tests/mirror_kill.rs`).
//!
//! ```text
//! mirror_child SOURCE TARGET TOPIC GROUP MODE PARTITION_BUDGET COMMIT_MS
//! ```
//!
//! MODE is `continuous` (runs until killed, or until its standard input
//! closes: then it stops gracefully) or `backfill` (replicates up to the
//! end offsets captured at start, then exits). PARTITION_BUDGET is the
//! per-partition bound on bytes in flight (the global bound is twice it);
//! COMMIT_MS the commit interval. Prints `started` once the mirror runs,
//! and `summary records=N drained=B failed=F` when it ends.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use integration_tests::mirror_support::cluster_config;
use replicator_core::{Mirror, Mode};

const USAGE: &str =
    "usage: mirror_child SOURCE TARGET TOPIC GROUP continuous|backfill PARTITION_BUDGET COMMIT_MS";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, target, topic, group, mode, budget, commit_ms] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mode = match mode.as_str() {
        "continuous" => Mode::Continuous,
        "backfill" => Mode::UntilCaughtUp,
        other => {
            eprintln!("unknown mode {other:?}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    let (Ok(budget), Ok(commit_ms)) = (budget.parse::<usize>(), commit_ms.parse::<u64>()) else {
        eprintln!("PARTITION_BUDGET and COMMIT_MS are numbers; {USAGE}");
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let mirror = Mirror::builder()
            .source(cluster_config(source))
            .target(cluster_config(target))
            .topics([topic.as_str()])
            .group_id(group.as_str())
            .mode(mode)
            .max_bytes_in_flight(2 * budget, budget)
            .commit_interval(Duration::from_millis(commit_ms))
            .build();
        let handle = match mirror {
            Ok(m) => match m.start().await {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("mirror did not start: {e}");
                    return ExitCode::FAILURE;
                }
            },
            Err(e) => {
                eprintln!("bad mirror settings: {e}");
                return ExitCode::from(2);
            }
        };
        say("started");
        let result = if mode == Mode::Continuous {
            // Standard input closing is the graceful stop; SIGKILL is the crash.
            let _ = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                while std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .is_ok_and(|n| n > 0)
                {
                    line.clear();
                }
            })
            .await;
            handle.stop().await
        } else {
            handle.wait().await
        };
        match result {
            Ok(summary) => {
                say(&format!(
                    "summary records={} drained={} failed={}",
                    summary.totals.records,
                    summary.drained,
                    summary.failed().count()
                ));
                eprintln!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mirror failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
