//! A mirror in 30 lines: every topic named on the command line, from one
//! cluster to another under the same names, until Ctrl-C.
//!
//! ```sh
//! cargo run --release --example mirror -- SOURCE:9092 TARGET:9092 orders payments
//! ```

use replicator_core::{ClusterConfig, Mirror, MirrorError};

#[tokio::main]
async fn main() -> Result<(), MirrorError> {
    let mut args = std::env::args().skip(1);
    let (Some(source), Some(target)) = (args.next(), args.next()) else {
        eprintln!("usage: mirror SOURCE_BOOTSTRAP TARGET_BOOTSTRAP TOPIC...");
        std::process::exit(2);
    };
    let handle = Mirror::builder()
        .source(ClusterConfig::new(source))
        .target(ClusterConfig::new(target))
        .topics(args)
        .group_id("example-mirror")
        .build()?
        .start()
        .await?;
    println!("mirroring; Ctrl-C stops (drains in-flight batches, commits offsets)");
    tokio::signal::ctrl_c().await.ok();
    let summary = handle.stop().await?;
    println!("{summary}");
    Ok(())
}
