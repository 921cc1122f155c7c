//! The forward path against its baselines, on the same bytes:
//!
//! - `engine`: the mirror's own code: its sans-io engine state takes the
//!   Fetch response (decoded from the bytes), checks every batch CRC,
//!   rewrites headers and emits Produce requests, which are encoded as
//!   chunks, written to a sink with vectored writes and acknowledged;
//! - `kafka-proto`: the same written out by hand on `kafka-proto` (parse,
//!   verify every batch CRC, rewrite headers, build Produce requests as
//!   chunks, vectored write to a sink): the engine's own cost is the
//!   difference;
//! - `kafka-proto/one-crc-pass`: the same, with each partition's batch CRCs
//!   checked by one pass over all of them (`record::verify_run`);
//! - `kafka-proto/via-structs`: the same, through `RewrittenBatch` and the
//!   generic `ProduceRequest` structs (what the engine does today);
//! - `kafka-proto/verify-only`: decode, split and CRC-check only;
//! - `kafka-protocol`: decode every record and re-encode it (what a user of
//!   a generated codec writes);
//! - `memcpy`: one copy of the response bytes;
//! - `crc32c`: one CRC-32C pass over them, the ceiling for any path that
//!   verifies CRCs.
//!
//! `cargo bench -p benches --bench forward`

use std::hint::black_box;

use benches::forward::EngineForward;
use benches::input::FetchInput;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn forward(c: &mut Criterion) {
    for input in FetchInput::all() {
        let mut group = c.benchmark_group(format!("forward/{}", input.name));
        group.throughput(Throughput::Bytes(input.frame.len() as u64));
        group.bench_function("engine", |b| {
            b.iter_batched(
                || EngineForward::new(&input).unwrap(),
                |engine| engine.run(black_box(&input), &mut std::io::sink()).unwrap(),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("kafka-proto", |b| {
            b.iter(|| {
                benches::forward::forward_hand_written(black_box(&input), &mut std::io::sink())
                    .unwrap()
            })
        });
        group.bench_function("kafka-proto/one-crc-pass", |b| {
            b.iter(|| {
                benches::forward::forward_one_crc_pass(black_box(&input), &mut std::io::sink())
                    .unwrap()
            })
        });
        group.bench_function("kafka-proto/via-structs", |b| {
            b.iter(|| {
                benches::forward::forward_via_structs(black_box(&input), &mut std::io::sink())
                    .unwrap()
            })
        });
        group.bench_function("kafka-protocol", |b| {
            b.iter(|| benches::baseline::forward(black_box(&input), &mut std::io::sink()).unwrap())
        });
        // Decode, split and CRC-check only: the floor under the forward path.
        group.bench_function("kafka-proto/verify-only", |b| {
            b.iter(|| benches::forward::verify_only(black_box(&input)).unwrap())
        });
        let mut dst = vec![0u8; input.frame.len()];
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&input.frame));
                black_box(&dst);
            })
        });
        group.bench_function("crc32c", |b| {
            b.iter(|| crc32c::crc32c(black_box(&input.frame)))
        });
        group.finish();
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
