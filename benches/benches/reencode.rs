//! The re-encode path for compacted batches, per codec, against its
//! baseline on the same bytes (see `benches::transcode`):
//!
//! - `kafka-proto/reencode`: decompress, renumber, recompress, new CRC;
//! - `kafka-protocol/decode-reencode`: the generated codec's decoder and
//!   encoder doing the same;
//! - `kafka-proto/forward-whole` and `.../forward-whole-sorted`: the same
//!   records re-encoded densely beforehand and forwarded whole (CRC check
//!   and header rewrite), without and with the header-only sorting the
//!   engine does first, to show that sorting leaves that path unchanged.
//!
//! Throughput is per uncompressed record byte.
//!
//! `cargo bench -p benches --bench reencode`

use std::hint::black_box;

use benches::transcode::{forward_whole, reencode_all, reencode_all_baseline, CompactedInput};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn reencode(c: &mut Criterion) {
    for input in CompactedInput::all() {
        let mut group = c.benchmark_group(format!("reencode/{}", input.name));
        group.throughput(Throughput::Bytes(input.uncompressed as u64));
        group.bench_function("kafka-proto/reencode", |b| {
            b.iter(|| reencode_all(black_box(&input)).unwrap())
        });
        group.bench_function("kafka-protocol/decode-reencode", |b| {
            b.iter(|| reencode_all_baseline(black_box(&input)).unwrap())
        });
        let dense = reencode_all(&input).unwrap();
        group.bench_function("kafka-proto/forward-whole", |b| {
            b.iter(|| forward_whole(black_box(&dense), false).unwrap())
        });
        group.bench_function("kafka-proto/forward-whole-sorted", |b| {
            b.iter(|| forward_whole(black_box(&dense), true).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, reencode);
criterion_main!(benches);
