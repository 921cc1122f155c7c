//! Deterministic simulation of the mirror's engine.
//!
//! Each seed builds a world (simulated source and target clusters with
//! Kafka's rules, a consumer group, a network) and drives the engine's
//! sans-io state ([`replicator_core::internals::EngineState`]) through it
//! in virtual time, with faults: leader moves, dropped connections, every
//! retriable and fatal Fetch, Produce and OffsetCommit error, slow and
//! repeated answers, retention, lost producer state, and crashes that lose
//! the mirror's memory. Then the faults stop, failed partitions are
//! resumed, and the run must converge. The invariants are in `check.rs`.
//!
//! A seed replays exactly: the world's one random stream comes from it,
//! and virtual time does not depend on the machine.
//!
//! ```text
//! # the seeds `cargo test` runs (SIM_SEEDS, default 300, from SIM_FROM)
//! cargo test -p replicator-core --test simulation
//! # one seed, with a trace of the run
//! SIM_SEED=1234 cargo test -p replicator-core --test simulation replay -- --nocapture
//! # millions of seeds on every core; prints each failing seed
//! SIM_SEEDS=1000000 cargo test --release -p replicator-core --test simulation many_seeds -- --ignored --nocapture
//! ```

mod check;
mod rng;
mod scenario;
mod source;
mod target;
mod world;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use world::World;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `seed`: the world at the end and, when it broke an invariant, a
/// report of what and how to replay it.
fn run(seed: u64, trace: bool) -> (World, Option<String>) {
    let mut w = World::new(seed, trace);
    w.run();
    if w.violations.is_empty() {
        (w, None)
    } else {
        let report = format!(
            "seed {seed} failed ({} violations, {} ms virtual, {:?}):\n  {}\nscenario: {:#?}\nreplay: SIM_SEED={seed} cargo test -p replicator-core --test simulation replay -- --nocapture",
            w.violations.len(),
            w.now,
            w.stats,
            w.violations.iter().take(5).cloned().collect::<Vec<_>>().join("\n  "),
            w.scenario,
        );
        (w, Some(report))
    }
}

/// Runs `count` seeds from `from` on `threads` threads; the failures.
fn run_many(from: u64, count: u64, threads: usize, progress: bool) -> Vec<String> {
    let next = AtomicU64::new(from);
    let failures = Mutex::new(Vec::new());
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= from + count {
                    break;
                }
                if let (_, Some(report)) = run(seed, false) {
                    eprintln!("{report}");
                    failures.lock().unwrap().push(report);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if progress && n % 10_000 == 0 {
                    eprintln!("{n} seeds run, {} failed", failures.lock().unwrap().len());
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

#[test]
fn seeds() {
    let from = env("SIM_FROM", 0);
    let count = env("SIM_SEEDS", 300);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let failures = run_many(from, count, threads, false);
    assert!(
        failures.is_empty(),
        "{} of {count} seeds failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// `SIM_SEED=n`: one seed, with its trace printed when it fails.
#[test]
fn replay() {
    let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|v| v.parse().ok()) else {
        return;
    };
    match run(seed, true) {
        (w, None) => println!(
            "seed {seed} passed: {} ms virtual, {:?}\n{:#?}",
            w.now, w.stats, w.scenario
        ),
        (w, Some(report)) => {
            for line in &w.trace {
                println!("{line}");
            }
            panic!("{report}");
        }
    }
}

#[test]
#[ignore = "long: run with SIM_SEEDS=... --ignored"]
fn many_seeds() {
    let from = env("SIM_FROM", 0);
    let count = env("SIM_SEEDS", 1_000_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let failures = run_many(from, count, threads, true);
    assert!(
        failures.is_empty(),
        "{} of {count} seeds failed",
        failures.len()
    );
}

#[test]
fn a_seed_replays_exactly() {
    let (a, _) = run(7, true);
    let (b, _) = run(7, true);
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.now, b.now);
    assert_eq!(a.violations, b.violations);
}
