//! The strict front before Tansu answers as Apache Kafka would: a batch
//! with compaction's offset holes is refused with INVALID_RECORD (Tansu
//! alone stores it), its re-encoding is accepted and reads back the same
//! through librdkafka, partitions of one request are answered each on its
//! own, a producer's duplicate batch gets the original offset without a
//! second append, and librdkafka's own traffic passes untouched.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::time::Duration;

use bytes::Bytes;
use integration_tests::mirror_support::{
    assert_same, cluster_config, consume, produce, producer, strict_tansu, Rec, TS,
};
use integration_tests::{requests, StrictTansu};
use kafka_proto::messages::produce_request::PartitionProduceData;
use kafka_proto::messages::{InitProducerIdRequest, ProduceResponse};
use kafka_proto::record::{reencode, Compression, Header, Record, RecordBatch, RecordBatchBuilder};
use kafka_proto::{ErrorCode, Records};
use replicator_core::{BrokerAddress, Cluster, Connection, ConnectionConfig};

/// Record number `n` (key `k{n}`, one header, timestamp `TS + n`) at
/// offset delta `delta`.
fn record(n: i32, delta: i32) -> Record {
    Record {
        offset_delta: delta,
        timestamp_delta: i64::from(n),
        key: Some(Bytes::from(format!("k{n}"))),
        value: Some(Bytes::from(format!("value-{n} ").repeat(10))),
        headers: vec![Header::new("h", Some(Bytes::from(format!("{n}"))))],
        ..Record::default()
    }
}

/// Records at `deltas` of a batch whose `lastOffsetDelta` is `last`, as
/// the log cleaner leaves them.
fn compacted(codec: Compression, deltas: &[i32], last: i32) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, TS);
    b.compression(codec).last_offset_delta(last);
    for &d in deltas {
        b.push(&record(d, d)).unwrap();
    }
    b.build().unwrap()
}

/// The records librdkafka should read from [`compacted`]'s batch.
fn expected(deltas: &[i32], partition: i32) -> Vec<Rec> {
    deltas
        .iter()
        .map(|&d| Rec {
            partition,
            key: Some(format!("k{d}").into_bytes()),
            value: Some(format!("value-{d} ").repeat(10).into_bytes()),
            headers: vec![("h".into(), Some(format!("{d}").into_bytes()))],
            timestamp: TS + i64::from(d),
        })
        .collect()
}

fn code(resp: &ProduceResponse, partition: i32) -> ErrorCode {
    let p = resp.responses[0]
        .partition_responses
        .iter()
        .find(|p| p.index == partition)
        .unwrap_or_else(|| panic!("partition {partition} missing in {resp:?}"));
    ErrorCode(p.error_code)
}

async fn cluster(target: &StrictTansu) -> Cluster {
    Cluster::connect(cluster_config(&target.bootstrap()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- broker log ---\n{}", target.log()))
}

#[tokio::test]
async fn compacted_batch_is_refused_and_its_re_encoding_accepted() {
    let target = strict_tansu();
    target.create_topic("compacted", 1).unwrap();
    let cluster = cluster(&target).await;
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let holey = compacted(codec, &[1, 3, 5], 5);
        let resp = cluster
            .send_to_leader("compacted", 0, |l, v| {
                requests::produce(l, v, holey.clone())
            })
            .await
            .unwrap();
        assert_eq!(
            code(&resp, 0),
            ErrorCode::INVALID_RECORD,
            "{codec}: {resp:?}"
        );
        let fixed = reencode(&RecordBatch::new(holey).unwrap().verify().unwrap(), 1 << 20).unwrap();
        let resp = cluster
            .send_to_leader("compacted", 0, |l, v| {
                requests::produce(l, v, fixed.clone())
            })
            .await
            .unwrap();
        assert_eq!(code(&resp, 0), ErrorCode::NONE, "{codec}: {resp:?}");
    }
    let refused = target.front().refused();
    assert_eq!(refused.len(), 3);
    assert!(
        refused[0].refusal.message.starts_with(
            "Inconsistent batch offset range [0, 5] and count of records 3 in topic partition compacted-0"
        ),
        "{:?}",
        refused[0]
    );
    let want: Vec<Rec> = (0..3).flat_map(|_| expected(&[1, 3, 5], 0)).collect();
    let got = consume(
        &target.bootstrap(),
        "compacted",
        want.len(),
        Duration::from_secs(30),
    );
    assert_same("compacted", &want, &got);
}

#[tokio::test]
async fn partitions_of_one_request_are_answered_each_on_its_own() {
    let target = strict_tansu();
    target.create_topic("mixed", 2).unwrap();
    let cluster = cluster(&target).await;
    let holey = compacted(Compression::None, &[0, 2], 2);
    let good = compacted(Compression::None, &[0, 1, 2], 2);
    let resp = cluster
        .send_to_leader("mixed", 0, |l, v| {
            let mut r = requests::produce(l, v, holey.clone());
            r.topic_data[0].partition_data.push(PartitionProduceData {
                index: 1,
                records: Some(Records::from(good.clone())),
                ..Default::default()
            });
            r
        })
        .await
        .unwrap();
    assert_eq!(code(&resp, 0), ErrorCode::INVALID_RECORD, "{resp:?}");
    assert_eq!(code(&resp, 1), ErrorCode::NONE, "{resp:?}");
    let got = consume(&target.bootstrap(), "mixed", 3, Duration::from_secs(30));
    assert_same("mixed", &expected(&[0, 1, 2], 1), &got);
}

#[tokio::test]
async fn duplicate_batch_gets_the_original_offset_and_is_not_appended() {
    let target = strict_tansu();
    target.create_topic("dup", 1).unwrap();
    let cluster = cluster(&target).await;
    let conn = Connection::connect(
        BrokerAddress::new("127.0.0.1", target.front().port()),
        ConnectionConfig::default(),
    )
    .await
    .unwrap();
    let pid = conn
        .send(&InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: -1,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pid.error_code, 0, "{pid:?}");
    let batch = |seq: i32, deltas: &[i32]| {
        let mut b = RecordBatchBuilder::new(0, TS);
        b.producer(pid.producer_id, pid.producer_epoch, seq);
        for &d in deltas {
            b.push(&record(d, d - deltas[0])).unwrap();
        }
        b.build().unwrap()
    };
    let mut offsets = Vec::new();
    for (seq, deltas) in [(0, &[0, 1][..]), (2, &[2][..]), (0, &[0, 1][..])] {
        let b = batch(seq, deltas);
        let resp = cluster
            .send_to_leader("dup", 0, |l, v| requests::produce(l, v, b.clone()))
            .await
            .unwrap();
        assert_eq!(code(&resp, 0), ErrorCode::NONE, "{resp:?}");
        offsets.push(resp.responses[0].partition_responses[0].base_offset);
    }
    assert_eq!(offsets, [0, 2, 0]);
    let got = consume(&target.bootstrap(), "dup", 3, Duration::from_secs(30));
    assert_same("dup", &expected(&[0, 1, 2], 0), &got);
    // The sequence goes on after the duplicate; a gap is refused.
    let resp = cluster
        .send_to_leader("dup", 0, |l, v| requests::produce(l, v, batch(9, &[3])))
        .await
        .unwrap();
    assert_eq!(
        code(&resp, 0),
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        "{resp:?}"
    );
}

#[tokio::test]
async fn librdkafka_traffic_passes_untouched() {
    let target = strict_tansu();
    target.create_topic("plain", 2).unwrap();
    let recs: Vec<Rec> = (0..200)
        .map(|i| Rec {
            headers: vec![("n".into(), Some(vec![i as u8]))],
            ..Rec::numbered((i % 2) as i32, i)
        })
        .collect();
    for codec in ["none", "lz4", "zstd"] {
        produce(
            &producer(
                &target.bootstrap(),
                &[("compression.type", codec), ("linger.ms", "5")],
            ),
            "plain",
            &recs,
        )
        .await;
    }
    let want: Vec<Rec> = (0..3).flat_map(|_| recs.clone()).collect();
    let got = consume(
        &target.bootstrap(),
        "plain",
        want.len(),
        Duration::from_secs(60),
    );
    assert_same("plain", &want, &got);
    assert!(
        target.front().refused().is_empty(),
        "{:?}",
        target.front().refused()
    );
}

#[tokio::test]
async fn tansu_alone_stores_what_kafka_refuses() {
    // Why the front exists: straight to Tansu, the same batch is taken.
    let target = strict_tansu();
    target.create_topic("lenient", 1).unwrap();
    let conn = Connection::connect(
        BrokerAddress::new("127.0.0.1", target.port()),
        ConnectionConfig::default(),
    )
    .await
    .unwrap();
    let version = conn.version(kafka_proto::ApiKey::Produce).unwrap().min(12);
    let mut req = requests::produce(
        &replicator_core::Leader {
            topic: "lenient".into(),
            topic_id: kafka_proto::Uuid::default(),
            partition: 0,
            node_id: 0,
            leader_epoch: -1,
            address: BrokerAddress::new("127.0.0.1", target.port()),
        },
        version,
        compacted(Compression::Gzip, &[1, 3], 3),
    );
    req.acks = -1;
    let resp = conn.send_version(&req, version).await.unwrap();
    assert_eq!(code(&resp, 0), ErrorCode::NONE, "{resp:?}");
}
