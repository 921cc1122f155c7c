//! The replicator under test in the end-to-end bench: our mirror
//! (`replicator_core::Mirror`) in its own process, so its CPU and memory
//! are measured alone.
//!
//! ```text
//! e2e-mirror --source HOST:PORT --target HOST:PORT --topic NAME
//!            [--mode backfill|continuous] [--max-in-flight-mib 256]
//!            [--group NAME] [--prefix PREFIX]
//! ```
//! Backfill copies up to the end offsets seen at start and exits; continuous
//! runs until killed. Without `--prefix` the target topic must exist under
//! the same name; with it, the copy goes to `PREFIX.NAME`, created with the
//! source's partition count.

use std::process::ExitCode;

use benches::e2e::{parse_args, TOPIC};
use replicator_core::{ClusterConfig, Mirror, Mode, RenamePolicy};

fn main() -> ExitCode {
    let args = parse_args(std::env::args().skip(1));
    let get = |k: &str| args.get(k).cloned();
    let (Some(source), Some(target)) = (get("source"), get("target")) else {
        eprintln!("usage: e2e-mirror --source HOST:PORT --target HOST:PORT [--topic NAME] [--mode backfill|continuous]");
        return ExitCode::from(2);
    };
    let topic = get("topic").unwrap_or_else(|| TOPIC.to_owned());
    let mode = match get("mode").as_deref() {
        None | Some("backfill") => Mode::UntilCaughtUp,
        Some("continuous") => Mode::Continuous,
        Some(other) => {
            eprintln!("e2e-mirror: unknown mode {other}; use backfill or continuous");
            return ExitCode::from(2);
        }
    };
    let budget_mib: usize = get("max-in-flight-mib")
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("e2e-mirror: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let group = get("group").unwrap_or_else(|| "bench-mirror".to_owned());
    let prefix = get("prefix");
    let result = runtime.block_on(async move {
        let mut builder = Mirror::builder()
            .source(ClusterConfig::new(source))
            .target(ClusterConfig::new(target))
            .topics([topic])
            .group_id(group)
            .mode(mode)
            .create_topics(prefix.is_some())
            .sync_configs(false);
        if let Some(prefix) = prefix {
            builder = builder.rename(RenamePolicy::prefix(prefix));
        }
        let mirror = builder
            .max_bytes_in_flight(budget_mib << 20, (budget_mib << 20).min(16 << 20))
            .build()?;
        let handle = mirror.start().await?;
        handle.wait().await
    });
    match result {
        Ok(summary) => {
            println!("{summary}");
            if summary.failed().next().is_some() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("e2e-mirror: {e}");
            ExitCode::FAILURE
        }
    }
}
