use std::{io, path::Path, time::Duration};

/// Result alias for the harness.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// Everything that can go wrong while setting up or driving a test peer.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A required external program is not installed.
    #[error("{program} not found. {hint}")]
    ProgramNotFound {
        /// The program that is missing.
        program: &'static str,
        /// How to install it.
        hint: String,
    },

    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A spawned peer did not accept connections in time (or exited).
    #[error("{what} did not become ready: {details}")]
    NotReady {
        /// The peer.
        what: String,
        /// Address, timeout, exit status and the tail of its log.
        details: String,
    },

    /// A helper command exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status.
        status: String,
        /// Its standard error (and output).
        stderr: String,
    },

    /// An operation needs a running process, but it is stopped.
    #[error("{0} is not running")]
    NotRunning(&'static str),

    /// A signal could not be delivered.
    #[error("sending {signal} to pid {pid}: {source}")]
    Signal {
        /// Signal name.
        signal: &'static str,
        /// Target pid.
        pid: u32,
        /// errno.
        #[source]
        source: nix::errno::Errno,
    },
}

impl HarnessError {
    pub(crate) fn not_ready(
        what: &str,
        addr: &str,
        timeout: Duration,
        exit: Option<std::process::ExitStatus>,
        log: &Path,
        log_tail: &str,
    ) -> Self {
        let exit = exit
            .map(|s| format!(", exited with {s}"))
            .unwrap_or_default();
        Self::NotReady {
            what: what.to_owned(),
            details: format!(
                "no TCP accept on {addr} within {timeout:?}{exit}\n--- {} (tail) ---\n{log_tail}",
                log.display()
            ),
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
