//! A mirror whose status is polled once a second: per partition its state,
//! lag and committed offset; totals; and why a partition is not ACTIVE.
//! Stops on Ctrl-C.
//!
//! ```sh
//! cargo run --release --example status_polling -- SOURCE:9092 TARGET:9092 'orders\..*'
//! ```

use std::time::Duration;

use replicator_core::{ClusterConfig, Mirror, MirrorError, PartitionState, RenamePolicy};

#[tokio::main]
async fn main() -> Result<(), MirrorError> {
    let mut args = std::env::args().skip(1);
    let (Some(source), Some(target), Some(pattern)) = (args.next(), args.next(), args.next())
    else {
        eprintln!("usage: status_polling SOURCE_BOOTSTRAP TARGET_BOOTSTRAP TOPIC_REGEX");
        std::process::exit(2);
    };
    let handle = Mirror::builder()
        .source(ClusterConfig::new(source))
        .target(ClusterConfig::new(target))
        .include(&pattern)
        .rename(RenamePolicy::prefix("source"))
        .target_alias("target")
        .group_id("example-status-polling")
        .build()?
        .start()
        .await?;
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let status = handle.status();
        println!(
            "{} records, {} bytes copied; lag {} records; {} bytes in flight",
            status.totals.records,
            status.totals.bytes,
            status.lag(),
            status.bytes_in_flight
        );
        for p in &status.partitions {
            let why = match (&p.state, &p.reason) {
                (PartitionState::Active, _) | (_, None) => String::new(),
                (_, Some(reason)) => format!(": {reason}"),
            };
            println!(
                "  {}-{} -> {}  {}  lag {}  committed {:?}{why}",
                p.source_topic, p.partition, p.target_topic, p.state, p.lag, p.committed_offset
            );
        }
    }
    println!("{}", handle.stop().await?);
    Ok(())
}
