//! Re-encoding and up-conversion against data no one here encoded
//! (`tests/fixtures/transcode`, written by `scripts/capture-fixtures.py
//! --transcode`): batches librdkafka produced, cleaned as Kafka's log
//! cleaner cleans them (by kafka-python), and magic 0/1 message sets from
//! kafka-python's legacy builder. Expectations are kafka-python's decodes.
//!
//! Each fixture is sorted by its header, converted, and the result must
//! hold the same keys, values, headers and timestamps in order, pass every
//! rule Kafka applies to a Produce, where the unconverted batch fails them.

use std::path::PathBuf;

use bytes::Bytes;
use kafka_proto::record::{
    reencode, upconvert, BatchRewrite, Compression, Disposition, Entries, Entry, LegacyEntry,
    Record, RecordBatch,
};
use kafka_proto::validate::{check_batch, TopicConfig};
use kafka_proto::ErrorCode;
use serde_json::Value;

const CAP: usize = 1 << 20;
const NOW: i64 = 1_700_000_100_000;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcode")
}

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("transcode.json")).expect("transcode.json"))
        .expect("transcode.json is JSON")
}

fn file(path: &Value) -> Bytes {
    std::fs::read(dir().join(path.as_str().expect("path")))
        .expect("fixture file")
        .into()
}

/// A record as kafka-python's decode describes it: key, value, headers,
/// timestamp (no timestamp is -1).
type Expected = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
    i64,
);

fn hex(v: &Value) -> Option<Vec<u8>> {
    v.as_str().map(|s| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    })
}

fn expected(records: &Value) -> Vec<Expected> {
    records
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let headers = r["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| (h[0].as_str().expect("header key").to_owned(), hex(&h[1])))
                .collect();
            (
                hex(&r["key"]),
                hex(&r["value"]),
                headers,
                r["timestamp"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// A record of `batch` as [`expected`] describes one.
fn content(batch: &RecordBatch, r: Record) -> Expected {
    let ts = r.timestamp(batch);
    let headers = r
        .headers
        .iter()
        .map(|h| {
            (
                String::from_utf8(h.key.to_vec()).expect("utf-8 header key"),
                h.value.as_ref().map(|v| v.to_vec()),
            )
        })
        .collect();
    (
        r.key.map(|k| k.to_vec()),
        r.value.map(|v| v.to_vec()),
        headers,
        ts,
    )
}

fn ours(batch: &RecordBatch) -> Vec<Expected> {
    batch
        .decompressed_records(CAP)
        .expect("decompresses")
        .map(|r| content(batch, r.expect("record parses")))
        .collect()
}

/// The batch as the engine produces it: base offset 0, no producer (the
/// engine sets its own), then Kafka's stateless rules on a compacted topic.
fn kafka_takes(batch: &RecordBatch, config: &TopicConfig) -> Result<(), String> {
    let produced = batch
        .clone()
        .verify()
        .map_err(|e| e.to_string())?
        .rewrite(&BatchRewrite::default())
        .to_bytes();
    check_batch("target", 0, 9, config, Some(&produced), NOW)
        .map(drop)
        .map_err(|r| format!("{r}"))
}

fn compacted_topic() -> TopicConfig {
    TopicConfig {
        compact: true,
        ..TopicConfig::default()
    }
}

#[test]
fn compacted_batches_from_librdkafka_are_sorted_and_re_encoded() {
    let m = manifest();
    let fixtures = m["compacted"].as_array().expect("compacted");
    assert_eq!(fixtures.len(), 20, "five codecs, four batches each");
    let mut seen = [0usize; 3];
    for f in fixtures {
        let name = f["name"].as_str().unwrap();
        let batch = RecordBatch::new(file(&f["path"])).expect(name);
        batch.verify_crc().expect(name);
        let want = expected(&f["cleaned"]["records"]);
        match batch.header().disposition() {
            Disposition::Drop => {
                seen[0] += 1;
                assert_eq!(batch.records_count(), 0, "{name}");
                let err = kafka_takes(&batch, &compacted_topic()).unwrap_err();
                assert!(
                    err.contains("Invalid reported count for record batch: 0"),
                    "{name}: {err}"
                );
            }
            Disposition::Forward => {
                seen[1] += 1;
                assert_eq!(ours(&batch), want, "{name}");
                kafka_takes(&batch, &compacted_topic()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Disposition::Reencode => {
                seen[2] += 1;
                let err = kafka_takes(&batch, &compacted_topic()).unwrap_err();
                assert!(
                    err.starts_with("INVALID_RECORD: Inconsistent batch offset range"),
                    "{name}: {err}"
                );
                let out = RecordBatch::new(
                    reencode(&batch.clone().verify().unwrap(), CAP)
                        .unwrap_or_else(|e| panic!("{name}: {e}")),
                )
                .unwrap();
                out.verify_crc().unwrap();
                assert_eq!(out.header().disposition(), Disposition::Forward, "{name}");
                assert_eq!(out.compression(), batch.compression(), "{name}: same codec");
                assert_eq!(
                    ours(&out),
                    want,
                    "{name}: records as kafka-python reads them"
                );
                let (s, o) = (batch.header(), out.header());
                assert_eq!(
                    (
                        o.base_offset,
                        o.partition_leader_epoch,
                        o.producer_id,
                        o.producer_epoch,
                        o.base_sequence
                    ),
                    (
                        s.base_offset,
                        s.partition_leader_epoch,
                        s.producer_id,
                        s.producer_epoch,
                        s.base_sequence
                    ),
                    "{name}"
                );
                assert_eq!(
                    (o.attributes, o.base_timestamp, o.max_timestamp),
                    (s.attributes, s.base_timestamp, s.max_timestamp),
                    "{name}"
                );
                kafka_takes(&out, &compacted_topic()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            other => panic!("{name}: {other:?}"),
        }
        // Against librdkafka's own batch: the survivors are its records.
        let source = RecordBatch::new(file(&f["source"])).unwrap();
        let kept: Vec<i64> = f["cleaned"]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["offset"].as_i64().unwrap())
            .collect();
        let originals: Vec<Expected> = source
            .decompressed_records(CAP)
            .unwrap()
            .map(Result::unwrap)
            .filter(|r| kept.contains(&r.offset(&source)))
            .map(|r| content(&source, r))
            .collect();
        assert_eq!(
            originals, want,
            "{name}: the cleaner kept librdkafka's records"
        );
    }
    // Per codec: one batch emptied, one whole, two with holes.
    assert_eq!(seen, [5, 5, 10]);
}

#[test]
fn legacy_message_sets_from_kafka_python_are_up_converted() {
    let m = manifest();
    let fixtures = m["legacy"].as_array().expect("legacy");
    assert!(fixtures.len() >= 10);
    for f in fixtures {
        let name = f["name"].as_str().unwrap();
        let entries: Vec<LegacyEntry> = Entries::new(file(&f["path"]))
            .map(|e| match e.unwrap_or_else(|e| panic!("{name}: {e}")) {
                Entry::Legacy(l) => {
                    assert_eq!(
                        Entry::Legacy(l.clone()).disposition(),
                        Disposition::Upconvert
                    );
                    l
                }
                Entry::Batch(_) => panic!("{name}: a v2 batch"),
            })
            .collect();
        let want = expected(&f["records"]);
        let converted = upconvert(&entries, CAP, 1 << 20).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut got = Vec::new();
        for (i, c) in converted.iter().enumerate() {
            let batch = RecordBatch::new(c.batch.clone()).unwrap();
            batch.verify_crc().unwrap();
            assert_eq!(
                batch.header().disposition(),
                Disposition::Forward,
                "{name} #{i}"
            );
            assert_eq!(batch.records_count() as usize, c.records, "{name} #{i}");
            got.extend(ours(&batch));
            kafka_takes(&batch, &TopicConfig::default())
                .unwrap_or_else(|e| panic!("{name} #{i}: {e}"));
        }
        assert_eq!(got, want, "{name}: records as kafka-python reads them");
        // Wrappers keep their codec; offsets cover the source's.
        let codecs: Vec<Compression> = converted
            .iter()
            .map(|c| RecordBatch::new(c.batch.clone()).unwrap().compression())
            .filter(|c| !c.is_none())
            .collect();
        let wrappers: Vec<Compression> = entries
            .iter()
            .map(LegacyEntry::compression)
            .filter(|c| !c.is_none())
            .collect();
        assert_eq!(codecs, wrappers, "{name}");
        let first = f["records"][0]["offset"].as_i64().unwrap();
        let last = f["records"].as_array().unwrap().last().unwrap()["offset"]
            .as_i64()
            .unwrap();
        assert_eq!(converted.first().unwrap().first_offset, first, "{name}");
        assert_eq!(converted.last().unwrap().last_offset, last, "{name}");
    }
}

#[test]
fn magic_zero_lz4_wrappers_carry_the_kafka_3160_checksum() {
    // kafka-python writes pre-0.10 framing for magic 0; a strict LZ4 frame
    // reader refuses it, ours reads it as Kafka does.
    let m = manifest();
    let f = m["legacy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "magic0-lz4")
        .unwrap();
    let Some(Ok(Entry::Legacy(wrapper))) = Entries::new(file(&f["path"])).next() else {
        panic!("no legacy entry");
    };
    assert_eq!(wrapper.compression(), Compression::Lz4);
    let value = wrapper.value().unwrap();
    assert!(kafka_proto::record::decompress(Compression::Lz4, value, CAP).is_err());
    kafka_proto::record::decompress_legacy(Compression::Lz4, 0, value, CAP).unwrap();
}

#[test]
fn a_compacted_log_replays_densely() {
    // The four cleaned batches of one partition, in log order, as a
    // replicator writes them: emptied batches dropped, holes re-encoded.
    let m = manifest();
    let gzip: Vec<&Value> = m["compacted"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["codec"] == "gzip")
        .collect();
    let mut log = kafka_proto::validate::PartitionLog::new("target", 0, compacted_topic());
    let mut written = Vec::new();
    for f in &gzip {
        let batch = RecordBatch::new(file(&f["path"])).unwrap();
        let out = match batch.header().disposition() {
            Disposition::Drop => continue,
            Disposition::Forward => batch,
            Disposition::Reencode => {
                RecordBatch::new(reencode(&batch.verify().unwrap(), CAP).unwrap()).unwrap()
            }
            other => panic!("{other:?}"),
        };
        let produced = out
            .verify()
            .unwrap()
            .rewrite(&BatchRewrite::default())
            .to_bytes();
        let appended = log
            .append(9, Some(&produced), NOW)
            .unwrap_or_else(|r| panic!("{r}"));
        written.extend(ours(&RecordBatch::new(appended.stored.unwrap()).unwrap()));
    }
    let want: Vec<Expected> = gzip
        .iter()
        .flat_map(|f| expected(&f["cleaned"]["records"]))
        .collect();
    assert_eq!(written, want);
    assert_eq!(log.log_end_offset(), want.len() as i64, "dense offsets");
    assert_eq!(ErrorCode::NONE, ErrorCode(0));
}
