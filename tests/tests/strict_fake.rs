//! The scripted fake broker is strict as Apache Kafka is: every Produce goes
//! through Kafka's rules, a scripted success cannot accept what Kafka
//! refuses, and accepted batches are kept with offsets assigned.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use integration_tests::fake_broker::{Action, FakeBroker, FakeOptions, Received};
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_proto::messages::{ProduceRequest, ProduceResponse, RequestBody, ResponseBody};
use kafka_proto::record::{Record, RecordBatch, RecordBatchBuilder};
use kafka_proto::validate::TopicConfig;
use kafka_proto::{ApiKey, ErrorCode, Records, TopicRef};
use replicator_core::{Connection, ConnectionConfig};

const TS: i64 = 1_700_000_000_000;

fn request(topic: &str, batches: &[(i32, Bytes)]) -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            topic: TopicRef::Name(topic.into()),
            partition_data: batches
                .iter()
                .map(|(p, b)| PartitionProduceData {
                    index: *p,
                    records: Some(Records::from(b.clone())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn batch(deltas: &[i32], last: i32, keyed: bool) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, TS);
    b.last_offset_delta(last);
    for &d in deltas {
        b.push(&Record {
            offset_delta: d,
            key: keyed.then(|| Bytes::from(format!("k{d}"))),
            value: Some(Bytes::from_static(b"v")),
            ..Record::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

/// A fake leading `t` (2 partitions) whose handler scripts success for
/// every Produce partition, Produce capped at v12 (topics by name).
async fn fake(configs: Vec<(String, TopicConfig)>) -> FakeBroker {
    let mut opts = FakeOptions {
        topics: vec![("t".into(), 2)],
        topic_configs: configs,
        handler: Some(Arc::new(|r: &Received| match &r.body {
            RequestBody::Produce(p) => {
                Some(Action::Respond(ResponseBody::Produce(ProduceResponse {
                    responses: p
                        .topic_data
                        .iter()
                        .map(|t| TopicProduceResponse {
                            topic: t.topic.clone(),
                            partition_responses: t
                                .partition_data
                                .iter()
                                .map(|pd| PartitionProduceResponse {
                                    index: pd.index,
                                    base_offset: 1234,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })))
            }
            _ => None,
        })),
        ..FakeOptions::default()
    };
    for v in opts
        .api_versions
        .iter_mut()
        .filter(|v| v.0 == ApiKey::Produce.key())
    {
        v.2 = 12;
    }
    FakeBroker::start(opts).await.unwrap()
}

async fn send(fake: &FakeBroker, req: &ProduceRequest) -> ProduceResponse {
    let conn = Connection::connect(
        fake.bootstrap().parse().unwrap(),
        ConnectionConfig {
            request_timeout: Duration::from_secs(10),
            ..ConnectionConfig::default()
        },
    )
    .await
    .unwrap();
    let version = conn.version(ApiKey::Produce).unwrap();
    conn.send_version(req, version).await.unwrap()
}

#[tokio::test]
async fn scripted_success_cannot_accept_what_kafka_refuses() {
    let fake = fake(Vec::new()).await;
    let resp = send(
        &fake,
        &request(
            "t",
            &[(0, batch(&[0, 2], 2, true)), (1, batch(&[0, 1], 1, true))],
        ),
    )
    .await;
    let parts = &resp.responses[0].partition_responses;
    assert_eq!(
        ErrorCode(parts[0].error_code),
        ErrorCode::INVALID_RECORD,
        "{resp:?}"
    );
    // The partition Kafka takes keeps the scripted answer.
    assert_eq!(
        (parts[1].error_code, parts[1].base_offset),
        (0, 1234),
        "{resp:?}"
    );
    assert!(fake.produced("t", 0).is_empty());
    let stored = fake.produced("t", 1);
    assert_eq!(stored.len(), 1);
    let b = RecordBatch::new(stored[0].clone()).unwrap();
    b.verify_crc().unwrap();
    assert_eq!((b.base_offset(), b.records_count()), (0, 2));
}

#[tokio::test]
async fn compacted_topic_refuses_null_keys_with_record_errors() {
    let compact = TopicConfig {
        compact: true,
        ..TopicConfig::default()
    };
    let fake = fake(vec![("t".into(), compact)]).await;
    let resp = send(&fake, &request("t", &[(0, batch(&[0, 1], 1, false))])).await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(
        ErrorCode(p.error_code),
        ErrorCode::INVALID_RECORD,
        "{resp:?}"
    );
    assert_eq!(p.record_errors.len(), 2, "{resp:?}");
    assert!(
        p.error_message
            .as_deref()
            .is_some_and(|m| m.contains("Compacted topic cannot accept message without key")),
        "{resp:?}"
    );
}

#[tokio::test]
async fn unknown_partitions_are_unknown() {
    let fake = fake(Vec::new()).await;
    let resp = send(&fake, &request("t", &[(7, batch(&[0], 0, true))])).await;
    assert_eq!(
        ErrorCode(resp.responses[0].partition_responses[0].error_code),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
}
