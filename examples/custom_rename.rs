//! Target topic names from a function of your own: `orders.v1` on the
//! source becomes `dr.orders-v1` on the target. Copies what the topics
//! hold now (backfill), commits, prints the summary and exits.
//!
//! ```sh
//! cargo run --release --example custom_rename -- SOURCE:9092 TARGET:9092 orders.v1
//! ```

use replicator_core::{ClusterConfig, Mirror, MirrorError, Mode, RenamePolicy};

fn dr_name(topic: &str) -> String {
    format!("dr.{}", topic.replace('.', "-"))
}

#[tokio::main]
async fn main() -> Result<(), MirrorError> {
    let mut args = std::env::args().skip(1);
    let (Some(source), Some(target)) = (args.next(), args.next()) else {
        eprintln!("usage: custom_rename SOURCE_BOOTSTRAP TARGET_BOOTSTRAP TOPIC...");
        std::process::exit(2);
    };
    let summary = Mirror::builder()
        .source(ClusterConfig::new(source))
        .target(ClusterConfig::new(target))
        .topics(args)
        .rename(RenamePolicy::custom(dr_name))
        .group_id("example-custom-rename")
        .mode(Mode::UntilCaughtUp)
        .build()?
        .start()
        .await?
        .wait()
        .await?;
    for p in &summary.partitions {
        println!("{}-{} -> {}", p.source_topic, p.partition, p.target_topic);
    }
    println!("{summary}");
    Ok(())
}
