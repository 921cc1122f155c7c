//! Filling a real broker's topic with the bench's records (1 KiB values,
//! keys `key-N`, round robin over the partitions) through librdkafka.

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Writes `records` records to `topic` on `bootstrap`, zstd-compressed
/// when `zstd`, and waits for every delivery.
pub async fn preload(
    bootstrap: &str,
    topic: &str,
    records: usize,
    partitions: usize,
    zstd: bool,
) -> Result<(), Error> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("compression.type", if zstd { "zstd" } else { "none" })
        .create()?;
    let value = vec![b'x'; 1000];
    let mut pending = Vec::new();
    for i in 0..records {
        let key = format!("key-{i}");
        let mut rec = FutureRecord::to(topic)
            .partition((i % partitions) as i32)
            .key(&key)
            .payload(&value);
        loop {
            match producer.send_result(rec) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((_, r)) => {
                    // Queue full: wait for what is in flight.
                    rec = r;
                    for f in pending.drain(..) {
                        f.await?.map_err(|(e, _)| e)?;
                    }
                }
            }
        }
    }
    for f in pending.drain(..) {
        f.await?.map_err(|(e, _)| e)?;
    }
    Ok(())
}
