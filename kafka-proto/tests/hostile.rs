//! Hostile input: decoders must not allocate from a length or count field
//! before checking it against the bytes that are present.
//!
//! Every request and response of every version is encoded, then each
//! position in the encoding is overwritten with the largest classic
//! (`int32`) and compact (`UNSIGNED_VARINT`) length. Decoding the result
//! must fail or succeed without allocating more than a small multiple of the
//! input's size, counted by an instrumenting global allocator. This binary
//! holds a single test so that no other thread allocates while it counts.

use std::alloc::System;

use bytes::Bytes;
use kafka_proto::codec::{Reader, Writer};
use kafka_proto::frame::FrameDecoder;
use kafka_proto::messages::{RequestBody, ResponseBody};
use kafka_proto::record::Entries;
use kafka_proto::testing::Gen;
use kafka_proto::ApiKey;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes a decode may allocate per input byte: each element of a decoded
/// array takes at least one input byte but may occupy a few hundred bytes
/// of struct in memory.
const PER_INPUT_BYTE: usize = 512;
/// Fixed allowance for small bookkeeping allocations.
const FIXED: usize = 16 * 1024;

const HUGE_I32: [u8; 4] = [0x7f, 0xff, 0xff, 0xff];
const HUGE_UVARINT: [u8; 5] = [0xff, 0xff, 0xff, 0xff, 0x0f];

fn variants(valid: &[u8]) -> impl Iterator<Item = Bytes> + '_ {
    (0..valid.len()).flat_map(move |pos| {
        [&HUGE_I32[..], &HUGE_UVARINT[..]]
            .into_iter()
            .map(move |patch| {
                let mut v = valid.to_vec();
                let end = (pos + patch.len()).min(v.len());
                v[pos..end].copy_from_slice(&patch[..end - pos]);
                Bytes::from(v)
            })
    })
}

/// Runs `decode` and returns the bytes it allocated.
fn allocated_by(decode: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    decode();
    region.change().bytes_allocated
}

fn check(what: &str, input: &Bytes, allocated: usize) {
    let limit = PER_INPUT_BYTE * input.len() + FIXED;
    assert!(
        allocated <= limit,
        "{what}: decoding {} hostile bytes allocated {allocated} bytes (limit {limit}); input {}",
        input.len(),
        hex::encode(input)
    );
}

#[test]
fn huge_lengths_and_counts_never_drive_allocation() {
    let mut checked = 0usize;
    for api in ApiKey::ALL {
        let range = api.versions();
        for version in range.min..=range.max {
            let mut g = Gen::new(u64::from(version as u16) << 16 | api.key() as u64);
            let mut w = Writer::new();
            RequestBody::arbitrary(api, version, &mut g)
                .encode(&mut w, version)
                .expect("valid request encodes");
            let request = w.into_bytes();
            let mut w = Writer::new();
            ResponseBody::arbitrary(api, version, &mut g)
                .encode(&mut w, version)
                .expect("valid response encodes");
            let response = w.into_bytes();

            for input in variants(&request) {
                let n = allocated_by(|| {
                    let _ = RequestBody::decode(api, version, &mut Reader::new(&input));
                });
                check(&format!("{api} v{version} request"), &input, n);
                checked += 1;
            }
            for input in variants(&response) {
                let n = allocated_by(|| {
                    let _ = ResponseBody::decode(api, version, &mut Reader::new(&input));
                });
                check(&format!("{api} v{version} response"), &input, n);
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} hostile inputs were tried");

    // The example: ten bytes claiming a 2^31-element array.
    let ten = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    for api in ApiKey::ALL {
        let v = api.versions().min;
        let n = allocated_by(|| {
            let _ = ResponseBody::decode(api, v, &mut Reader::new(&ten));
        });
        assert!(n <= FIXED, "{api} v{v}: 10 bytes allocated {n} bytes");
    }

    // A frame that claims 2 GiB reserves read-ahead only.
    let n = allocated_by(|| {
        let mut buf = bytes::BytesMut::from(&HUGE_I32[..]);
        let _ = FrameDecoder::default().decode(&mut buf);
    });
    assert!(n <= 128 * 1024, "a 2 GiB frame claim allocated {n} bytes");

    // A records blob of one batch header claiming 2^31 records.
    let mut batch = vec![0u8; 61];
    batch[8..12].copy_from_slice(&49i32.to_be_bytes());
    batch[16] = 2;
    batch[57..61].copy_from_slice(&HUGE_I32);
    let batch = Bytes::from(batch);
    let n = allocated_by(|| {
        for entry in Entries::new(batch.clone()) {
            if let Ok(kafka_proto::record::Entry::Batch(b)) = entry {
                for record in b.records() {
                    let _ = record;
                }
            }
        }
    });
    check("record batch", &batch, n);
}
