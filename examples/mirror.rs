//! Runs every enabled flow of a MirrorMaker 2 properties file: the same file
//! `connect-mirror-maker.sh` takes.
//!
//! ```sh
//! cargo run --release --example mirror -- --config FILE [--until-caught-up] [--status-interval SECS]
//! ```
//!
//! - Each warning of the file is printed to stderr with its file and line;
//!   settings with no equivalent here are noted on stderr too.
//! - One mirror runs per enabled flow (`a->b.enabled = true`); several flows
//!   (e.g. `a->b` and `b->a`) run together.
//! - `--until-caught-up` copies up to the end offsets seen at start,
//!   commits, prints a summary per flow (topics, partitions, records, bytes,
//!   time, MB/s) and exits. Without it the mirrors run until Ctrl-C.
//! - `--status-interval SECS` prints a status line per flow: throughput, total
//!   lag, and with `--until-caught-up` a progress bar of the source offsets
//!   copied toward the end offsets seen at start.
//! - Ctrl-C stops gracefully: no new fetches, in-flight batches drain,
//!   offsets are committed, and the summaries are printed.
//!
//! Exit codes:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done: every flow caught up (`--until-caught-up`), or stopped with Ctrl-C in continuous mode |
//! | 1 | runtime failure: a mirror could not start (unreachable cluster, missing target topic, ...) or failed, or a partition ended FAILED |
//! | 2 | bad usage, or a configuration that cannot be used (the message names the file, line and key) |
//! | 130 | Ctrl-C before `--until-caught-up` finished (offsets are committed; the next run resumes) |

#[tokio::main]
async fn main() {
    std::process::exit(examples::cli::main().await);
}
