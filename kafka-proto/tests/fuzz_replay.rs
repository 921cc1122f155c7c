//! Replays the fuzz corpora and crash regressions through the fuzz target
//! bodies, so `cargo test` checks on every run what the fuzzer found:
//! every file in `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
//! goes through `kafka_proto::fuzz::<target>`, the same function the
//! cargo-fuzz binary calls. See `fuzz/README.md`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use kafka_proto::fuzz;

include!("../../fuzz/replay.rs");
