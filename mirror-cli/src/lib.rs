//! `kafka-mirror`, the command: runs every enabled flow of a MirrorMaker 2
//! properties file (the file `connect-mirror-maker.sh` takes) with
//! [`replicator_core::Mirror`], serves Prometheus metrics, a JSON status
//! and a health check over HTTP, and logs as text or JSON.
//!
//! ```sh
//! cargo install --path mirror-cli
//! kafka-mirror --config mm2.properties --until-caught-up --status-interval 5
//! kafka-mirror --config mm2.properties --metrics-addr 0.0.0.0:9464 --log-format json
//! kafka-mirror completions bash > /etc/bash_completion.d/kafka-mirror
//! ```
//!
//! The library is the command, for tests and for wrapping it; it runs
//! in-process with [`run_with`]:
//!
//! ```no_run
//! # async fn demo() {
//! let outcome = mirror_cli::run_with(
//!     ["--config", "mm2.properties", "--until-caught-up"],
//!     std::future::pending(), // or a shutdown signal
//! )
//! .await;
//! assert_eq!(outcome.code, mirror_cli::EXIT_OK);
//! # }
//! ```
//!
//! One module per idea:
//!
//! - [`args`]: the command line (clap), help, usage errors, completions;
//! - [`mm2`]: the MirrorMaker 2 properties reader, and [`mapping`]: one
//!   flow onto a [`replicator_core::MirrorBuilder`];
//! - [`run`]: the run loop and the exit code;
//! - [`output`]: status lines, summaries, warnings, as text or JSON events;
//!   [`logging`]: the log subscriber;
//! - [`board`]: every flow's live state; [`http`]: `/metrics`, `/status`
//!   and `/healthz`; [`prometheus`]: the exporter and its labels.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done: every flow caught up (`--until-caught-up`), or stopped with Ctrl-C in continuous mode |
//! | 1 | runtime failure: a mirror could not start (unreachable cluster, missing target topic, ...) or failed, a partition ended FAILED, or `--metrics-addr` cannot be listened on |
//! | 2 | bad usage, or a configuration that cannot be used (the message names the file, line and key) |
//! | 130 | Ctrl-C before `--until-caught-up` finished (offsets are committed; the next run resumes) |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod args;
pub mod board;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod logging;
pub mod mapping;
pub mod mm2;
pub mod output;
pub mod prometheus;
pub mod run;

pub use mapping::builder_for;
pub use run::{main, run_with, FlowOutcome, Outcome};

/// Exit code: done (caught up, or stopped with Ctrl-C in continuous mode).
pub const EXIT_OK: i32 = 0;
/// Exit code: a runtime failure (a mirror could not start or failed, a
/// partition ended FAILED, or the HTTP address cannot be listened on).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad usage or a configuration that cannot be used.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: interrupted (Ctrl-C) before `--until-caught-up` finished.
pub const EXIT_INTERRUPTED: i32 = 130;
