//! Replays the fuzz corpora and crash regressions of this crate's targets
//! (`mirror_cli::fuzz::TARGETS`) through the fuzz target bodies, so
//! `cargo test` checks on every run what the fuzzer found: every file in
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
//! goes through `mirror_cli::fuzz::<target>`, the same function the
//! cargo-fuzz binary calls. See `fuzz/README.md`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use mirror_cli::fuzz;

include!("../../fuzz/replay.rs");
