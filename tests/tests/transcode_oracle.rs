//! Our re-encoded and up-converted batches, read by a decoder no one here
//! wrote: kafka-python's (`scripts/transcode_fixtures.py decode`). For every
//! fixture of `kafka-proto/tests/fixtures/transcode`, kafka-python must find
//! valid CRCs, dense offset deltas, `recordsCount == lastOffsetDelta + 1`,
//! and the records it read from the source (keys, values, headers,
//! timestamps) in order.
//!
//! Needs the venv with kafka-python (`.ci/install-deps venv`); a missing
//! one fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use kafka_proto::record::{reencode, upconvert, Disposition, Entries, Entry, RecordBatch};
use serde_json::Value;

const CAP: usize = 1 << 20;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures() -> PathBuf {
    repo().join("kafka-proto/tests/fixtures/transcode")
}

/// kafka-python's reading of each file: its batches, as JSON.
fn kafka_python(files: &[PathBuf]) -> Value {
    let python = std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    let out = Command::new(&python)
        .arg(repo().join("scripts/transcode_fixtures.py"))
        .arg("decode")
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): this test needs the venv with kafka-python; run `.ci/install-deps venv`",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "kafka-python failed to decode our batches (is the venv set up? `.ci/install-deps venv`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the decoder")
}

/// Key, value, headers and timestamp of each record (offsets left out:
/// ours are dense, the source's are not).
fn contents(records: &Value) -> Vec<Value> {
    records
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            serde_json::json!([
                r["key"],
                r["value"],
                r["headers"],
                r["timestamp"].as_i64().unwrap_or(-1)
            ])
        })
        .collect()
}

/// The batches kafka-python decoded from one of our files, checked as a
/// strict broker would, and their records.
fn checked_records(name: &str, batches: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for b in batches.as_array().expect("batches") {
        assert_eq!(b["crc_valid"], true, "{name}: {b}");
        let count = b["records_count"].as_i64().unwrap();
        assert_eq!(
            count,
            b["last_offset_delta"].as_i64().unwrap() + 1,
            "{name}: {b}"
        );
        let base = b["base_offset"].as_i64().unwrap();
        let offsets: Vec<i64> = b["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["offset"].as_i64().unwrap() - base)
            .collect();
        assert_eq!(
            offsets,
            (0..count).collect::<Vec<_>>(),
            "{name}: dense deltas"
        );
        out.extend(contents(&b["records"]));
    }
    out
}

#[test]
fn kafka_python_reads_our_conversions_as_it_read_the_sources() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("transcode.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = Vec::new(); // (file written, expected records)
    for f in manifest["compacted"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let src = Bytes::from(std::fs::read(fixtures().join(f["path"].as_str().unwrap())).unwrap());
        let batch = RecordBatch::new(src).unwrap();
        if batch.header().disposition() != Disposition::Reencode {
            continue;
        }
        let out = reencode(&batch.verify().unwrap(), CAP).unwrap();
        let path = tmp.path().join(format!("{name}.reencoded.bin"));
        std::fs::write(&path, &out).unwrap();
        cases.push((path, contents(&f["cleaned"]["records"])));
    }
    for f in manifest["legacy"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let src = Bytes::from(std::fs::read(fixtures().join(f["path"].as_str().unwrap())).unwrap());
        let entries: Vec<_> = Entries::new(src)
            .map(|e| match e.unwrap() {
                Entry::Legacy(l) => l,
                Entry::Batch(_) => panic!("{name}: v2"),
            })
            .collect();
        let blob: Vec<u8> = upconvert(&entries, CAP, 1 << 20)
            .unwrap()
            .into_iter()
            .flat_map(|c| c.batch.to_vec())
            .collect();
        let path = tmp.path().join(format!("{name}.upconverted.bin"));
        std::fs::write(&path, blob).unwrap();
        cases.push((path, contents(&f["records"])));
    }
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let files: Vec<PathBuf> = cases.iter().map(|(p, _)| p.clone()).collect();
    let decoded = kafka_python(&files);
    for (path, want) in &cases {
        let key = path.to_str().unwrap();
        let got = checked_records(key, &decoded[key]);
        assert_eq!(&got, want, "{key}");
    }
}
