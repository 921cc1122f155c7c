//! The project's Python venv (`.venv`, made by `.ci/install-deps venv`),
//! for the independent Python clients: kafka-python (pure Python) and
//! confluent-kafka (librdkafka with TLS and SASL).

use std::{path::PathBuf, process::Command, time::Duration};

use crate::{tansu::run_with_timeout, HarnessError, Result};

/// How to get the venv; part of every "not found" error.
pub const VENV_INSTALL_HINT: &str = "The test needs the project's Python venv with \
kafka-python and confluent-kafka: run `.ci/install-deps venv`. These tests never skip \
when it is missing.";

/// `.venv/bin/python` of this checkout.
pub fn venv_python() -> Result<PathBuf> {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if py.is_file() {
        Ok(py)
    } else {
        Err(HarnessError::ProgramNotFound {
            program: "the Python venv",
            hint: format!("no {}. {VENV_INSTALL_HINT}", py.display()),
        })
    }
}

/// Runs `script` with the venv's Python and `args`; returns its stdout.
pub fn run_python(script: &str, args: &[&str], timeout: Duration) -> Result<String> {
    let mut cmd = Command::new(venv_python()?);
    cmd.arg("-c").arg(script).args(args);
    run_with_timeout(cmd, timeout)
}
