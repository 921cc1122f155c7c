//! The consume-then-produce forwarder most Rust users would write today,
//! on the `rdkafka` crate (librdkafka), measured in its own process by the
//! end-to-end bench.
//!
//! ```text
//! e2e-rdkafka --source HOST:PORT --target HOST:PORT --topic NAME
//!             --partitions N --records TOTAL [--compression none|zstd]
//!             [--buffer-mib 256]
//! ```
//!
//! Tuned fairly: large fetches, a prefetch queue and a producer queue the
//! size of our mirror's in-flight budget, 5 ms linger, 1 MB batches, the
//! source's compression, acks=all with idempotence, and offsets committed
//! to the source group (auto-commit of what was consumed). Partitions are
//! assigned, not subscribed: no group rebalance to pay for.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use benches::e2e::{parse_args, TOPIC};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn main() -> ExitCode {
    let args = parse_args(std::env::args().skip(1));
    let get = |k: &str| args.get(k).cloned();
    let partitions = get("partitions").and_then(|v| v.parse::<i32>().ok());
    let records = get("records").and_then(|v| v.parse::<u64>().ok());
    let (Some(source), Some(target), Some(partitions), Some(records)) =
        (get("source"), get("target"), partitions, records)
    else {
        eprintln!("usage: e2e-rdkafka --source HOST:PORT --target HOST:PORT --partitions N --records TOTAL [--topic NAME] [--compression none|zstd]");
        return ExitCode::from(2);
    };
    let topic = get("topic").unwrap_or_else(|| TOPIC.to_owned());
    let compression = get("compression").unwrap_or_else(|| "none".to_owned());
    let buffer_kib = get("buffer-mib")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(256)
        * 1024;
    match forward(
        &source,
        &target,
        &topic,
        partitions,
        records,
        &compression,
        buffer_kib,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e-rdkafka: {e}");
            ExitCode::FAILURE
        }
    }
}

fn forward(
    source: &str,
    target: &str,
    topic: &str,
    partitions: i32,
    total: u64,
    compression: &str,
    buffer_kib: u64,
) -> Result<(), KafkaError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", source)
        .set("group.id", "bench-rdkafka")
        .set("enable.auto.commit", "true")
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.wait.max.ms", "500")
        .set("queued.max.messages.kbytes", buffer_kib.to_string())
        .create()?;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", target)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("compression.type", compression)
        .set("queue.buffering.max.kbytes", buffer_kib.to_string())
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let start = Instant::now();
    let mut consumed = 0u64;
    while consumed < total {
        let Some(next) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = next?;
        let mut record = BaseRecord::to(topic).partition(m.partition());
        if let Some(k) = m.key() {
            record = record.key(k);
        }
        if let Some(v) = m.payload() {
            record = record.payload(v);
        }
        if let Some(ts) = m.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        if let Some(h) = m.headers() {
            if h.count() > 0 {
                record = record.headers(h.detach());
            }
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e),
            }
        }
        consumed += 1;
        if consumed.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    match consumer.commit_consumer_state(CommitMode::Sync) {
        // Auto-commit already stored everything: nothing left to commit.
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => return Err(e),
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "rdkafka forwarder: {consumed} records in {secs:.2}s ({:.0} records/s)",
        consumed as f64 / secs
    );
    Ok(())
}
