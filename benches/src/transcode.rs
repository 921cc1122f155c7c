//! The re-encode path (batches log compaction left with offset holes) and
//! its baseline, on the same bytes:
//!
//! - `kafka-proto`: [`kafka_proto::record::reencode`]: decompress, renumber
//!   the offset deltas, compress with the same codec, new header and CRC;
//! - `kafka-protocol`: decode every record with the generated codec's
//!   `RecordBatchDecoder`, renumber the offsets, encode again with the same
//!   compression (what a user of that crate writes).
//!
//! Throughput is counted in uncompressed record bytes, per codec. Snappy
//! input is raw Snappy, as librdkafka writes it: `kafka-protocol` reads
//! only that, not the xerial framing of Java clients (which `kafka-proto`
//! reads, and writes, as Kafka does).

use bytes::{Bytes, BytesMut};
use kafka_proto::record::{reencode, Compression, Record, RecordBatch, RecordBatchBuilder};
use kafka_protocol::records::{
    RecordBatchDecoder, RecordBatchEncoder, RecordCompression, RecordEncodeOptions,
};

use crate::BenchError;

/// Decompression cap of the bench path (far above any batch here).
const CAP: usize = 64 << 20;

/// Compacted batches of one codec: every other record removed, as the
/// cleaner leaves a batch whose keys were half overwritten later.
#[derive(Debug, Clone)]
pub struct CompactedInput {
    /// The codec's name, for reports.
    pub name: &'static str,
    /// The codec.
    pub codec: Compression,
    /// The batches, as fetched.
    pub batches: Vec<Bytes>,
    /// Uncompressed bytes of their records sections.
    pub uncompressed: usize,
    /// Records in all of them.
    pub records: usize,
}

/// JSON-like values with varying ids: compressible about as real events.
fn value(seq: usize, len: usize) -> Bytes {
    let mut x = (seq as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = String::with_capacity(len + 96);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!(
            "{{\"seq\":{seq},\"user\":\"u{}\",\"session\":\"{:08x}\",\"amount\":{}}}",
            x % 100_000,
            x >> 32,
            x % 10_000
        ));
    }
    out.truncate(len);
    Bytes::from(out)
}

impl CompactedInput {
    /// `batches` batches of `survivors` 1 KiB records each, at every other
    /// offset of `2 * survivors`, compressed with `codec`.
    pub fn build(name: &'static str, codec: Compression, batches: usize, survivors: usize) -> Self {
        let mut out = Vec::new();
        let mut uncompressed = 0;
        for b in 0..batches {
            let base = (b * 2 * survivors) as i64;
            let mut builder = RecordBatchBuilder::new(base, 1_700_000_000_000);
            // Snappy is compressed below, in librdkafka's framing.
            let ours = if codec == Compression::Snappy {
                Compression::None
            } else {
                codec
            };
            builder
                .compression(ours)
                .producer(4242, 0, base as i32)
                .last_offset_delta(i32::try_from(2 * survivors - 1).expect("small batches"));
            for i in 0..survivors {
                let delta = i32::try_from(2 * i + 1).expect("small batches");
                builder
                    .push(&Record {
                        offset_delta: delta,
                        timestamp_delta: i64::from(delta),
                        key: Some(Bytes::from(format!("key-{}", base + i64::from(delta)))),
                        value: Some(value(b * survivors + i, 1000)),
                        ..Record::default()
                    })
                    .expect("record fits");
            }
            uncompressed += builder.size_in_bytes() - RecordBatch::HEADER_LEN;
            let batch = builder.finish().expect("batch fits");
            out.push(if codec == Compression::Snappy {
                raw_snappy(&batch)
            } else {
                batch
            });
        }
        Self {
            name,
            codec,
            batches: out,
            uncompressed,
            records: batches * survivors,
        }
    }

    /// One input per codec Kafka has: 16 batches of 64 survivors.
    pub fn all() -> Vec<Self> {
        [
            ("none", Compression::None),
            ("gzip", Compression::Gzip),
            ("snappy", Compression::Snappy),
            ("lz4", Compression::Lz4),
            ("zstd", Compression::Zstd),
        ]
        .into_iter()
        .map(|(name, codec)| Self::build(name, codec, 16, 64))
        .collect()
    }
}

/// `plain`'s records compressed as one raw Snappy block, as librdkafka
/// writes Snappy batches.
fn raw_snappy(plain: &Bytes) -> Bytes {
    let view = RecordBatch::new(plain.clone()).expect("a built batch");
    let packed = snap::raw::Encoder::new()
        .compress_vec(&view.records_section())
        .expect("a small batch compresses");
    let mut header = *view.header();
    header.attributes = (header.attributes & !0x07) | i16::from(Compression::Snappy.id());
    header.batch_length =
        i32::try_from(RecordBatch::HEADER_LEN - 12 + packed.len()).expect("small");
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&packed);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out.into()
}

/// Re-encodes every batch with `kafka-proto`; returns the batches.
pub fn reencode_all(input: &CompactedInput) -> Result<Vec<Bytes>, BenchError> {
    input
        .batches
        .iter()
        .map(|b| {
            let verified = RecordBatch::new(b.clone())?.verify()?;
            reencode(&verified, CAP).map_err(|e| BenchError::Baseline(format!("reencode: {e}")))
        })
        .collect()
}

/// The same with `kafka-protocol`: decode, renumber, encode.
pub fn reencode_all_baseline(input: &CompactedInput) -> Result<Vec<Bytes>, BenchError> {
    let err = |e: &dyn std::fmt::Display| BenchError::Baseline(e.to_string());
    let mut out = Vec::with_capacity(input.batches.len());
    for b in &input.batches {
        let mut buf = b.clone();
        for mut set in RecordBatchDecoder::decode_all(&mut buf).map_err(|e| err(&e))? {
            let compression = match set.compression {
                RecordCompression::RecordBatch(c) => c,
                RecordCompression::MessageSet => kafka_protocol::records::Compression::None,
            };
            let (base, first_seq) = set
                .records
                .first()
                .map_or((0, 0), |r| (r.offset, r.sequence));
            for (i, r) in set.records.iter_mut().enumerate() {
                // The encoder batches records whose offsets and sequences
                // advance together: renumber both.
                r.offset = base + i as i64;
                r.sequence = first_seq.wrapping_add(i as i32);
            }
            let mut batch = BytesMut::new();
            RecordBatchEncoder::encode(
                &mut batch,
                &set.records,
                &RecordEncodeOptions {
                    version: 2,
                    compression,
                },
            )
            .map_err(|e| err(&e))?;
            out.push(batch.freeze());
        }
    }
    Ok(out)
}

/// The forward-whole path on the same records, densely numbered: verify
/// each batch's CRC and rewrite its header; with `sorted`, ask each
/// batch's [`disposition`](kafka_proto::record::BatchHeader::disposition)
/// first, as the engine does, to show what sorting adds. Returns the bytes
/// forwarded.
pub fn forward_whole(batches: &[Bytes], sorted: bool) -> Result<usize, BenchError> {
    let mut total = 0;
    for b in batches {
        let batch = RecordBatch::new(b.clone())?;
        if sorted && batch.header().disposition() != kafka_proto::record::Disposition::Forward {
            return Err(BenchError::Baseline(
                "a dense batch sorted as not whole".into(),
            ));
        }
        let out = batch
            .verify()?
            .rewrite(&kafka_proto::record::BatchRewrite::default());
        total += out.len();
    }
    Ok(total)
}
