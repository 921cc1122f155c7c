//! Seeds for the fuzz corpora in `fuzz/corpus/<target>/`: a valid request
//! and response for every API and version, as a bare body and as a frame;
//! streams of frames; record batches of every kind the builder makes, legacy
//! entries and mixed blobs; batches to rewrite; and the captured traffic in
//! `tests/fixtures/` when it is there.
//!
//! As a test it checks that every seed passes through its fuzz target. With
//! `KAFKA_PROTO_WRITE_FUZZ_CORPUS=1` it also writes the seeds, named
//! `seed-*`, into the corpus directories; minimize them afterwards with
//! `cargo fuzz cmin` (see `fuzz/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes};
use kafka_proto::codec::Writer;
use kafka_proto::frame::{peek_request, FrameDecoder};
use kafka_proto::fuzz;
use kafka_proto::message::Codec;
use kafka_proto::messages::{RequestBody, RequestHeader, ResponseBody, ResponseHeader};
use kafka_proto::record::{
    BatchRewrite, ControlRecordType, Entries, Entry, Header, Record, RecordBatch,
    RecordBatchBuilder, TimestampType,
};
use kafka_proto::testing::{Arbitrary, Gen};
use kafka_proto::ApiKey;

const WRITE_ENV: &str = "KAFKA_PROTO_WRITE_FUZZ_CORPUS";

struct Seed {
    target: &'static str,
    name: String,
    data: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, data: Vec<u8>) -> Seed {
    Seed {
        target,
        name: name.into(),
        data,
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn encode(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    f(&mut w);
    w.into_bytes().to_vec()
}

/// A request frame, size prefix included, with a random header (tagged
/// fields and all) for `api` and `version`.
fn request_frame(g: &mut Gen, api: ApiKey, version: i16, body: &RequestBody) -> Vec<u8> {
    let hv = api.request_header_version(version);
    let mut header = RequestHeader::arbitrary(g, hv);
    header.request_api_key = api.key();
    header.request_api_version = version;
    sized(encode(|w| {
        header.encode(w, hv).unwrap();
        body.encode(w, version).unwrap();
    }))
}

fn response_frame(g: &mut Gen, api: ApiKey, version: i16, body: &ResponseBody) -> Vec<u8> {
    let hv = api.response_header_version(version);
    let header = ResponseHeader::arbitrary(g, hv);
    sized(encode(|w| {
        header.encode(w, hv).unwrap();
        body.encode(w, version).unwrap();
    }))
}

fn sized(frame: Vec<u8>) -> Vec<u8> {
    let mut out = (frame.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&frame);
    out
}

fn message_seeds() -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (i, api) in ApiKey::ALL.into_iter().enumerate() {
        let range = api.versions();
        let mut stream = Vec::new();
        for v in range.min..=range.max {
            let name = format!("{}-v{v}", api.name());
            let mut g = Gen::new((u64::from(api.key() as u16) << 16) | u64::from(v as u16));
            let req = RequestBody::arbitrary(api, v, &mut g);
            let body = encode(|w| req.encode(w, v).unwrap());
            seeds.push(seed(
                "request",
                format!("{name}-body"),
                fuzz::request_body_input(api, v, &body),
            ));
            let frame = request_frame(&mut g, api, v, &req);
            seeds.push(seed(
                "request",
                format!("{name}-frame"),
                fuzz::request_frame_input(&frame[4..]),
            ));

            let resp = ResponseBody::arbitrary(api, v, &mut g);
            let body = encode(|w| resp.encode(w, v).unwrap());
            seeds.push(seed(
                "response",
                format!("{name}-body"),
                fuzz::response_body_input(api, v, &body),
            ));
            let rframe = response_frame(&mut g, api, v, &resp);
            seeds.push(seed(
                "response",
                format!("{name}-frame"),
                fuzz::response_frame_input(api, v, &rframe[4..]),
            ));
            if v == range.min || v == range.max {
                stream.extend_from_slice(&frame);
                stream.extend_from_slice(&rframe);
            }
        }
        // The oldest and newest version's exchange as one stream, cut into
        // chunks of varying size, with a limit some frames exceed.
        let chunking = (i * 7 % 64) as u8;
        seeds.push(seed(
            "frame",
            format!("{}-stream", api.name()),
            fuzz::frame_input(1020, chunking, &stream),
        ));
    }
    seeds.push(seed("frame", "empty-frames", {
        fuzz::frame_input(16, 3, &[0, 0, 0, 0, 0, 0, 0, 1, 9, 0, 0])
    }));
    seeds.push(seed("frame", "too-large", {
        fuzz::frame_input(16, 0, &[0, 0, 0, 2, 1, 2, 0, 0, 0, 17])
    }));
    seeds.push(seed("frame", "negative", {
        fuzz::frame_input(16, 1, &[0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xfe])
    }));
    seeds
}

fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

fn sample_records() -> Vec<Record> {
    vec![
        Record {
            value: Some(b(b"null key")),
            ..Record::default()
        },
        Record {
            offset_delta: 1,
            timestamp_delta: 17,
            key: Some(b(b"tombstone")),
            ..Record::default()
        },
        Record {
            offset_delta: 2,
            timestamp_delta: -3,
            key: Some(Bytes::new()),
            value: Some(Bytes::new()),
            headers: vec![
                Header::new("null-value", None),
                Header::new("empty", Some(Bytes::new())),
                Header::new("trace", Some(b(b"abc"))),
            ],
            ..Record::default()
        },
        Record {
            offset_delta: 300,
            timestamp_delta: 1 << 40,
            key: Some(b(b"k")),
            value: Some(Bytes::from(vec![0xab; 200])),
            ..Record::default()
        },
    ]
}

fn build(records: &[Record], configure: impl FnOnce(&mut RecordBatchBuilder)) -> Vec<u8> {
    let mut builder = RecordBatchBuilder::new(1_000, 1_700_000_000_000);
    configure(&mut builder);
    for r in records {
        builder.push(r).unwrap();
    }
    builder.build().unwrap().to_vec()
}

/// The batch with attribute bits replaced and its CRC fixed up.
fn with_attributes(batch: &[u8], attributes: i16) -> Vec<u8> {
    let mut raw = batch.to_vec();
    raw[21..23].copy_from_slice(&attributes.to_be_bytes());
    let crc = RecordBatch::new(raw.clone().into()).unwrap().compute_crc();
    raw[17..21].copy_from_slice(&crc.to_be_bytes());
    raw
}

/// A magic-0 or magic-1 entry in the legacy layout.
fn legacy_entry(magic: i8, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    body.put_i8(magic);
    body.put_i8(0);
    if magic == 1 {
        body.put_i64(1_600_000_000_000);
    }
    for part in [key, value] {
        match part {
            None => body.put_i32(-1),
            Some(p) => {
                body.put_i32(p.len() as i32);
                body.put_slice(p);
            }
        }
    }
    let mut out = Vec::new();
    out.put_i64(offset);
    out.put_i32(body.len() as i32 + 4);
    out.put_u32(crc32_ieee(&body));
    out.put_slice(&body);
    out
}

fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn record_seeds() -> Vec<Seed> {
    let recs = sample_records();
    let plain = build(&recs, |_| {});
    let batches: Vec<(&str, Vec<u8>)> = vec![
        ("empty", build(&[], |_| {})),
        ("plain", plain.clone()),
        (
            "idempotent",
            build(&recs[..2], |b| {
                b.producer(42, 3, 100).partition_leader_epoch(7);
            }),
        ),
        (
            "transactional",
            build(&recs[2..], |b| {
                b.producer(42, 3, 0).transactional(true);
            }),
        ),
        (
            "log-append-time",
            build(&recs[..3], |b| {
                b.timestamp_type(TimestampType::LogAppendTime)
                    .max_timestamp(1_700_000_001_000);
            }),
        ),
        (
            "delete-horizon",
            build(&recs[1..2], |b| {
                b.delete_horizon(true).last_offset_delta(9);
            }),
        ),
        (
            "commit-marker",
            RecordBatchBuilder::end_txn_marker(50, 1, 42, 3, ControlRecordType::Commit, 5)
                .build()
                .unwrap()
                .to_vec(),
        ),
        (
            "abort-marker",
            RecordBatchBuilder::end_txn_marker(51, 1, 42, 3, ControlRecordType::Abort, 5)
                .build()
                .unwrap()
                .to_vec(),
        ),
        (
            "other-control",
            RecordBatchBuilder::end_txn_marker(52, 1, 42, 3, ControlRecordType::Other(3), 5)
                .build()
                .unwrap()
                .to_vec(),
        ),
        ("gzip-flag", with_attributes(&plain, 0x01)),
        ("zstd-flag", with_attributes(&plain, 0x04)),
    ];
    let legacy = [
        ("legacy-v0", legacy_entry(0, 10, Some(b"k"), Some(b"v0"))),
        ("legacy-v1", legacy_entry(1, 11, None, Some(b"value v1"))),
        ("legacy-v1-null", legacy_entry(1, 12, Some(b""), None)),
    ];

    let mut seeds = Vec::new();
    for (name, raw) in batches.iter().chain(legacy.iter()) {
        seeds.push(seed("records", *name, raw.clone()));
    }
    let mut mixed = Vec::new();
    for (_, raw) in legacy.iter().chain(batches.iter()) {
        mixed.extend_from_slice(raw);
    }
    // A fetch may end in a batch cut at the size limit.
    mixed.extend_from_slice(&plain[..plain.len() / 2]);
    seeds.push(seed("records", "mixed-truncated", mixed));

    let new = BatchRewrite {
        base_offset: 0,
        producer_id: 9_000,
        producer_epoch: 1,
        base_sequence: 0,
        ..BatchRewrite::default()
    };
    for (i, (name, raw)) in batches.iter().enumerate() {
        let rewrite = BatchRewrite {
            transactional: i % 2 == 0,
            ..new
        };
        seeds.push(seed(
            "rewrite",
            name.to_string(),
            fuzz::rewrite_input(0, &rewrite, raw),
        ));
    }
    // A corrupted batch whose CRC the target fixes up (mode bit 1).
    let mut corrupt = plain.clone();
    corrupt[70] ^= 0x40;
    seeds.push(seed(
        "rewrite",
        "fix-crc",
        fuzz::rewrite_input(2, &BatchRewrite::default(), &corrupt),
    ));
    // Records to build a batch from (mode bit 0): key length, key, value length, value.
    let mut built = fuzz::rewrite_input(0, &new, &[3, b'k', b'e', b'y', 5]);
    built[0] |= 1 | 8;
    built.extend_from_slice(b"value\xff\x02hi");
    seeds.push(seed("rewrite", "build", built));
    seeds
}

/// Seeds from the byte-exact captures in `tests/fixtures/`, if present.
fn fixture_seeds() -> Vec<Seed> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let Ok(manifest) = std::fs::read_to_string(dir.join("manifest.json")) else {
        return Vec::new();
    };
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest).expect("tests/fixtures/manifest.json is JSON");
    let mut seeds = Vec::new();
    let mut streams: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in fixture_entries(&manifest) {
        let Some(file) = ["path", "file"]
            .iter()
            .find_map(|k| entry.get(*k).and_then(|f| f.as_str()))
        else {
            continue;
        };
        let Ok(raw) = std::fs::read(dir.join(file)) else {
            continue;
        };
        let direction = entry
            .get("direction")
            .and_then(|d| d.as_str())
            .unwrap_or("");
        let api = entry
            .get("api_key")
            .and_then(|k| k.as_i64())
            .and_then(|k| ApiKey::from_key(k as i16));
        let version = entry
            .get("api_version")
            .and_then(|v| v.as_i64())
            .map(|v| v as i16);
        // Captures hold one frame each, without its size prefix (tolerated if present).
        let frame = strip_size_prefix(&raw);
        let name = format!("fixture-{}", file.replace(['/', '.'], "-"));
        let stream = streams.entry(file_group(file)).or_default();
        stream.extend_from_slice(&(frame.len() as i32).to_be_bytes());
        stream.extend_from_slice(frame);
        let blobs = if direction.starts_with("req") {
            seeds.push(seed(
                "request",
                name.clone(),
                fuzz::request_frame_input(frame),
            ));
            produce_blobs(frame)
        } else if let (Some(api), Some(version)) = (api, version) {
            seeds.push(seed(
                "response",
                name.clone(),
                fuzz::response_frame_input(api, version, frame),
            ));
            fetch_blobs(api, version, frame)
        } else {
            Vec::new()
        };
        for (i, blob) in blobs.into_iter().enumerate() {
            let rewrite = BatchRewrite::default();
            seeds.push(seed(
                "rewrite",
                format!("{name}-{i}"),
                fuzz::rewrite_input(0, &rewrite, &blob),
            ));
            seeds.push(seed("records", format!("{name}-{i}"), blob));
        }
    }
    for (group, stream) in streams {
        seeds.push(seed(
            "frame",
            format!("fixture-{group}"),
            fuzz::frame_input(1020, 13, &stream),
        ));
    }
    seeds
}

/// The entries of a manifest: a top-level array, or an object holding one.
fn fixture_entries(manifest: &serde_json::Value) -> Vec<serde_json::Value> {
    match manifest {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => o
            .values()
            .filter_map(|v| v.as_array())
            .flatten()
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

fn file_group(file: &str) -> String {
    Path::new(file)
        .parent()
        .map(|p| p.to_string_lossy().replace('/', "-"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "all".into())
}

fn strip_size_prefix(raw: &[u8]) -> &[u8] {
    let mut buf = bytes::BytesMut::from(raw);
    match FrameDecoder::default().decode(&mut buf) {
        Ok(Some(frame)) if buf.is_empty() && frame.len() + 4 == raw.len() => &raw[4..],
        _ => raw,
    }
}

/// The non-empty `records` fields of a Produce request frame.
fn produce_blobs(frame: &[u8]) -> Vec<Vec<u8>> {
    let Ok((_, RequestBody::Produce(produce))) =
        kafka_proto::frame::decode_any_request(Bytes::copy_from_slice(frame))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for topic in &produce.topic_data {
        for p in &topic.partition_data {
            if let Some(r) = p.records.as_ref().filter(|r| !r.is_empty()) {
                out.push(r.to_bytes().to_vec());
            }
        }
    }
    out
}

/// The non-empty `records` fields of a Fetch response frame.
fn fetch_blobs(api: ApiKey, version: i16, frame: &[u8]) -> Vec<Vec<u8>> {
    let Ok((_, body)) =
        kafka_proto::frame::decode_any_response(api, version, Bytes::copy_from_slice(frame))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let ResponseBody::Fetch(fetch) = body {
        for topic in &fetch.responses {
            for p in &topic.partitions {
                if let Some(r) = p.records.as_ref().filter(|r| !r.is_empty()) {
                    out.push(r.to_bytes().to_vec());
                }
            }
        }
    }
    out
}

/// Seeds for `reencode`, `upconvert` and `validate`: the transcode fixtures
/// (compacted batches librdkafka wrote, kafka-python's legacy message sets)
/// and batches built with holes in every codec.
fn transcode_seeds() -> Vec<Seed> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcode");
    let mut seeds = Vec::new();
    for codec in 0..5u8 {
        let mut built = vec![1, codec, 2];
        built.extend_from_slice(b"key-one;key-two;k3value;k4v");
        seeds.push(seed("reencode", format!("build-codec{codec}"), built));
    }
    seeds.push(seed(
        "validate",
        "plain-v9",
        fuzz::validate_input(9, 0, &build(&sample_records(), |_| {})),
    ));
    for kind in ["compacted", "legacy"] {
        let Ok(files) = std::fs::read_dir(dir.join(kind)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = files.map(|f| f.unwrap().path()).collect();
        files.sort();
        for path in files {
            let name = format!("{kind}-{}", path.file_stem().unwrap().to_string_lossy());
            let blob = std::fs::read(&path).unwrap();
            if kind == "legacy" {
                seeds.push(seed("upconvert", name.clone(), blob.clone()));
                seeds.push(seed("validate", name, fuzz::validate_input(3, 0, &blob)));
            } else {
                seeds.push(seed("reencode", name.clone(), fuzz::reencode_input(&blob)));
                seeds.push(seed("validate", name, fuzz::validate_input(9, 1, &blob)));
            }
        }
    }
    seeds
}

fn all_seeds() -> Vec<Seed> {
    let mut seeds = message_seeds();
    seeds.extend(record_seeds());
    seeds.extend(fixture_seeds());
    seeds.extend(transcode_seeds());
    seeds
}

#[test]
fn every_seed_passes_its_target() {
    let seeds = all_seeds();
    for s in &seeds {
        let run = fuzz::target(s.target).expect("seeds name real targets");
        run(&s.data);
    }
    for (name, _) in fuzz::TARGETS {
        assert!(
            seeds.iter().any(|s| s.target == *name),
            "no seed for {name}"
        );
    }
    if std::env::var_os(WRITE_ENV).is_some_and(|v| v == "1") {
        for s in &seeds {
            let dir = fuzz_dir().join("corpus").join(s.target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{}", s.name)), &s.data).unwrap();
        }
        eprintln!("wrote {} seeds under {}", seeds.len(), fuzz_dir().display());
    }
}

/// The seeds exercise what they claim to: the message seeds decode, and
/// the record seeds split into the entries they were built from.
#[test]
fn seeds_are_valid_inputs() {
    for s in message_seeds() {
        if s.target == "request" && s.data[0] == 0 {
            let prefix = peek_request(&s.data[1..]).unwrap();
            assert!(ApiKey::from_key(prefix.api_key).is_some(), "{}", s.name);
            kafka_proto::frame::decode_any_request(Bytes::copy_from_slice(&s.data[1..]))
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        }
    }
    for s in record_seeds().iter().filter(|s| s.target == "records") {
        let entries: Vec<Entry> = Entries::new(Bytes::copy_from_slice(&s.data))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert!(!entries.is_empty(), "{}", s.name);
    }
}
