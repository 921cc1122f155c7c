//! The process's log subscriber: the engine's events and, with
//! `--log-format json`, the command's own (see [`crate::output`]).
//!
//! - `text`: engine warnings and errors on stderr, one line each.
//! - `json`: every event at info and above as one JSON object per line on
//!   stdout, its fields at the top level: `timestamp`, `level`, `target`,
//!   `message`, and what the event carries (`flow`, `topic`, `partition`,
//!   `broker`, `offset`, `error`, ...).
//!
//! `RUST_LOG` overrides the level (e.g. `RUST_LOG=debug`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

/// Installs the subscriber for `format`, once per process; later calls
/// (the command run again in-process, as tests do) keep the first.
pub fn init(format: LogFormat) {
    let default = match format {
        LogFormat::Text => "warn",
        LogFormat::Json => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let installed = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stdout)
            .try_init(),
    };
    // Already installed: the first one stays.
    drop(installed);
}
