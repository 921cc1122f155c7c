//! Fetch responses to forward: real magic-2 batches built with
//! `kafka-proto`'s batch builder, some compressed with zstd.

use bytes::Bytes;
use kafka_proto::frame::encode_response;
use kafka_proto::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_proto::messages::FetchResponse;
use kafka_proto::record::{RecordBatch, RecordBatchBuilder};
use kafka_proto::{Records, TopicRef};

/// The Fetch version the benches speak (flexible, topics by name).
pub const FETCH_VERSION: i16 = 12;
/// The Produce version the benches write (flexible, topics by name).
pub const PRODUCE_VERSION: i16 = 9;
/// Topic the input holds.
pub const TOPIC: &str = "bench";

/// A Fetch response frame body (header and body, no size prefix).
#[derive(Debug, Clone)]
pub struct FetchInput {
    /// Short name for reports.
    pub name: &'static str,
    /// Response header and body, as read off the socket.
    pub frame: Bytes,
    /// Partitions in the response.
    pub partitions: usize,
    /// Batches in the response.
    pub batches: usize,
    /// Records in the response.
    pub records: usize,
}

/// Text-like values (compressible, as real payloads are).
fn value(seq: usize, len: usize) -> Bytes {
    let line = format!(
        "{{\"seq\":{seq},\"user\":\"u{}\",\"event\":\"page_view\",\"path\":\"/items/{}\"}}",
        seq % 977,
        seq % 131
    );
    line.bytes().cycle().take(len).collect::<Vec<u8>>().into()
}

fn batch(base_offset: i64, records: usize, value_len: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(base_offset, 1_700_000_000_000);
    b.producer(4242, 0, base_offset as i32);
    for i in 0..records {
        let seq = base_offset as usize + i;
        b.append(
            Some(Bytes::from(format!("key-{seq}"))),
            Some(value(seq, value_len)),
        )
        .expect("record fits");
    }
    b.finish().expect("batch fits")
}

/// Re-encodes an uncompressed batch's records with zstd, as a producer with
/// `compression.type=zstd` would have written it.
fn zstd_batch(plain: Bytes) -> Bytes {
    try_zstd_batch(&plain).expect("built batch is valid and compresses")
}

/// [`zstd_batch`], or None when `plain` is not a valid batch or does not
/// compress (the bench broker's log falls back to the plain batch).
pub(crate) fn try_zstd_batch(plain: &Bytes) -> Option<Bytes> {
    let view = RecordBatch::new(plain.clone()).ok()?;
    let compressed = zstd::bulk::compress(&view.records_section(), 3).ok()?;
    let mut header = *view.header();
    header.attributes = (header.attributes & !0x07) | 4;
    header.batch_length = (49 + compressed.len()) as i32;
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&compressed);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Some(out.into())
}

impl FetchInput {
    fn build(
        name: &'static str,
        partitions: usize,
        batches_per_partition: usize,
        records_per_batch: usize,
        value_len: usize,
        zstd: bool,
    ) -> Self {
        let mut parts = Vec::new();
        for p in 0..partitions {
            let mut records = Records::new();
            for b in 0..batches_per_partition {
                let base = (b * records_per_batch) as i64;
                let plain = batch(base, records_per_batch, value_len);
                records.push(if zstd { zstd_batch(plain) } else { plain });
            }
            parts.push(PartitionData {
                partition_index: p as i32,
                high_watermark: (batches_per_partition * records_per_batch) as i64,
                last_stable_offset: (batches_per_partition * records_per_batch) as i64,
                log_start_offset: 0,
                aborted_transactions: Some(Vec::new()),
                records: Some(Records::from(records.to_bytes())),
                ..Default::default()
            });
        }
        let response = FetchResponse {
            responses: vec![FetchableTopicResponse {
                topic: TopicRef::Name(TOPIC.into()),
                partitions: parts,
                ..Default::default()
            }],
            ..Default::default()
        };
        let frame = encode_response(1, FETCH_VERSION, &response)
            .expect("fetch response encodes")
            .to_bytes()
            .slice(4..);
        FetchInput {
            name,
            frame,
            partitions,
            batches: partitions * batches_per_partition,
            records: partitions * batches_per_partition * records_per_batch,
        }
    }

    /// About 1 MiB: 4 partitions of 16 KiB batches of 1 KiB records.
    pub fn uncompressed_1k() -> Self {
        Self::build("1KiB-records/16KiB-batches", 4, 16, 16, 1000, false)
    }

    /// About 1 MiB of 100-byte records in small batches of 10.
    pub fn small_records() -> Self {
        Self::build("100B-records/10-per-batch", 4, 196, 10, 100, false)
    }

    /// 1 KiB records in zstd-compressed batches of 64 records.
    pub fn zstd() -> Self {
        Self::build("zstd/64-per-batch", 4, 16, 64, 1000, true)
    }

    /// Every input, for benches that loop.
    pub fn all() -> Vec<FetchInput> {
        vec![Self::uncompressed_1k(), Self::small_records(), Self::zstd()]
    }
}
