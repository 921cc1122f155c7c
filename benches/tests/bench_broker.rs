//! The end-to-end bench's instrument is checked, not timed: our mirror
//! copies a few MiB between two bench brokers and every record arrives,
//! in CRC-valid batches; the broker's own fetch client reads the whole log.

use std::sync::Arc;

use benches::bench_broker::{BenchBroker, LogSpec, Tally, TopicLog};
use benches::e2e::speed::fetch_all;
use replicator_core::{ClusterConfig, Mirror, Mode};

fn small_log(zstd: bool) -> Arc<TopicLog> {
    Arc::new(TopicLog::generate(
        "bench",
        &LogSpec::with_volume(4 << 20, 4, zstd),
    ))
}

#[tokio::test]
async fn our_mirror_copies_every_record_between_bench_brokers() {
    for zstd in [false, true] {
        let log = small_log(zstd);
        let source = BenchBroker::start(vec![Arc::clone(&log)], Arc::new(Tally::default()))
            .await
            .unwrap();
        let target = BenchBroker::start(
            vec![Arc::new(TopicLog::empty("bench", 4))],
            Arc::new(Tally::default()),
        )
        .await
        .unwrap();
        let summary = Mirror::builder()
            .source(ClusterConfig::new(source.bootstrap()))
            .target(ClusterConfig::new(target.bootstrap()))
            .topics(["bench"])
            .group_id("smoke")
            .mode(Mode::UntilCaughtUp)
            .create_topics(false)
            .sync_configs(false)
            .build()
            .unwrap()
            .start()
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        assert_eq!(summary.failed().count(), 0, "{summary}");
        let tally = target.tally();
        assert_eq!(tally.crc_errors(), 0);
        assert_eq!(tally.records(), log.records(), "zstd={zstd}");
        assert_eq!(tally.bytes(), log.bytes(), "batches are forwarded whole");
        let per_partition = tally.snapshot();
        for (p, part) in log.partitions.iter().enumerate() {
            let got = &per_partition[&("bench".to_owned(), p as i32)];
            assert_eq!(got.records, part.records(), "partition {p}");
        }
    }
}

#[tokio::test]
async fn fetch_client_reads_the_whole_log() {
    let log = small_log(false);
    let broker = BenchBroker::start(vec![Arc::clone(&log)], Arc::new(Tally::default()))
        .await
        .unwrap();
    let ends: Vec<i64> = log.partitions.iter().map(|p| p.end_offset()).collect();
    let speed = fetch_all(&broker.bootstrap(), "bench", &ends, 2)
        .await
        .unwrap();
    assert_eq!(speed.bytes, log.bytes());
}

#[tokio::test]
async fn the_target_refuses_what_kafka_refuses() {
    use bytes::Bytes;
    use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_proto::messages::ProduceRequest;
    use kafka_proto::record::{Record, RecordBatchBuilder};
    use kafka_proto::{ApiKey, ErrorCode, Records, TopicRef};
    use replicator_core::{Connection, ConnectionConfig};

    let target = BenchBroker::start(
        vec![Arc::new(TopicLog::empty("bench", 1))],
        Arc::new(Tally::default()),
    )
    .await
    .unwrap();
    let conn = Connection::connect(
        target.bootstrap().parse().unwrap(),
        ConnectionConfig::default(),
    )
    .await
    .unwrap();
    let version = conn.version(ApiKey::Produce).unwrap();
    let send = |batch: Bytes| ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            topic: TopicRef::Name("bench".into()),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Records::from(batch)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // Compaction's leftovers: two records of a three-offset batch.
    let mut holey = RecordBatchBuilder::new(0, 1_700_000_000_000);
    holey.last_offset_delta(2);
    for d in [0, 2] {
        holey
            .push(&Record {
                offset_delta: d,
                value: Some(Bytes::from_static(b"v")),
                ..Record::default()
            })
            .unwrap();
    }
    let resp = conn
        .send_version(&send(holey.build().unwrap()), version)
        .await
        .unwrap();
    let code = resp.responses[0].partition_responses[0].error_code;
    assert_eq!(ErrorCode(code), ErrorCode::INVALID_RECORD, "{resp:?}");
    assert_eq!(target.tally().records(), 0);
}
