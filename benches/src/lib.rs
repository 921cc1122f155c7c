//! Benchmark support: realistic Fetch responses, the forwarding path built
//! on `kafka-proto`, and the baseline a user of a generated codec
//! (`kafka-protocol`) would write. The criterion benches in `benches/`
//! measure them side by side; the tests here check that both paths produce
//! the same records, so the comparison is fair.
//!
//! [`transcode`] does the same for batches that cannot go whole: compacted
//! batches re-encoded by `kafka-proto` and by `kafka-protocol`.
//!
//! The end-to-end bench (`src/bin/e2e.rs`, run by `scripts/bench-e2e.sh`)
//! uses [`bench_broker`], a Kafka-protocol server serving a pre-generated
//! log, and the measuring parts in [`e2e`].
//!
//! ```
//! let input = benches::input::FetchInput::uncompressed_1k();
//! let mut out = std::io::sink();
//! let stats = benches::forward::forward(&input, &mut out).unwrap();
//! assert_eq!(stats.records, input.records);
//! ```

#![forbid(unsafe_code)]

pub mod baseline;
pub mod bench_broker;
pub mod e2e;
pub mod forward;
pub mod input;
pub mod transcode;

/// What one pass over a Fetch response produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Produce requests written.
    pub requests: usize,
    /// Batches forwarded.
    pub batches: usize,
    /// Records forwarded.
    pub records: usize,
    /// Bytes written to the sink.
    pub bytes_out: usize,
}

/// A bench path failed: the input or the encoder is broken, not slow.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Our codec rejected the input.
    #[error("decode: {0}")]
    Decode(#[from] kafka_proto::DecodeError),
    /// Our codec could not encode the output.
    #[error("encode: {0}")]
    Encode(#[from] kafka_proto::EncodeError),
    /// A batch failed its CRC check.
    #[error("crc: {0}")]
    Crc(#[from] kafka_proto::record::CrcMismatch),
    /// The `kafka-protocol` crate failed.
    #[error("kafka-protocol: {0}")]
    Baseline(String),
    /// Writing to the sink failed.
    #[error("sink: {0}")]
    Io(#[from] std::io::Error),
}
