//! `kafka-mirror`: see the crate documentation, or `kafka-mirror --help`.

#![forbid(unsafe_code)]

#[tokio::main]
async fn main() {
    std::process::exit(mirror_cli::main().await);
}
