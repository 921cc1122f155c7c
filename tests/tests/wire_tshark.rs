//! This client's bytes, checked by an independent decoder: Wireshark's
//! Kafka dissector (`tshark`) must decode the captured traffic with no
//! malformed packet — to Tansu (every API of the round trip), and the
//! SASL/PLAIN exchange with the fake broker.
//!
//! Needs `tshark` (root or CAP_NET_RAW for loopback captures) and `tansu`.

use std::{collections::BTreeMap, time::Duration};

use integration_tests::{
    fake_broker::{FakeBroker, FakeOptions, PlainUser},
    round_trip,
    tshark::Capture,
    TansuBroker, TansuOptions,
};
use kafka_proto::{messages::MetadataRequest, ApiKey};
use replicator_core::{
    Cluster, ClusterConfig, Connection, ConnectionConfig, SaslConfig, SecurityProtocol,
};

/// The Kafka dissector of Debian 12's Wireshark (4.0) knows these versions at
/// most (its ApiVersions decode lists them);
/// newer ones decode as "Unsupported API version", which would hide our
/// bytes from it.
fn dissector_caps() -> BTreeMap<ApiKey, i16> {
    BTreeMap::from([
        (ApiKey::Produce, 8),
        (ApiKey::Fetch, 11),
        (ApiKey::OffsetCommit, 8),
        (ApiKey::OffsetFetch, 7),
        (ApiKey::ListOffsets, 5),
        (ApiKey::Metadata, 9),
        (ApiKey::FindCoordinator, 3),
        (ApiKey::ApiVersions, 3),
    ])
}

#[tokio::test]
async fn traffic_to_tansu_decodes_cleanly() {
    let broker = TansuBroker::start_with(TansuOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    broker.create_topic("captured", 1).unwrap();
    let capture = Capture::start(&[broker.port()]).unwrap_or_else(|e| panic!("{e}"));
    let cfg = ClusterConfig {
        connection: ConnectionConfig {
            max_versions: dissector_caps(),
            request_timeout: Duration::from_secs(20),
            ..ConnectionConfig::default()
        },
        ..ClusterConfig::new(broker.bootstrap())
    };
    let cluster = Cluster::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    round_trip::run(&cluster, "captured", 0, "captured-group").await;
    cluster.shutdown();
    let decoded = tokio::task::spawn_blocking(move || capture.finish())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        decoded.malformed.is_empty(),
        "malformed packets:\n{}\n--- decode ---\n{}",
        decoded.malformed.join("\n"),
        decoded.text
    );
    assert!(decoded.kafka_packets >= 10, "{}", decoded.text);
    for api in [
        "Produce v8 Request",
        "Produce v8 Response",
        "Fetch v11 Response",
        "Metadata v9 Response",
        "Offsets v5 Response",
        "FindCoordinator v3 Response",
        "OffsetCommit v8 Response",
        "OffsetFetch v7 Response",
    ] {
        assert!(
            decoded.text.contains(api),
            "{api} not seen by the dissector:\n{}",
            decoded.text
        );
    }
}

#[tokio::test]
async fn sasl_plain_frames_decode_cleanly() {
    let fake = FakeBroker::start(FakeOptions {
        plain_user: Some(PlainUser {
            username: "alice".into(),
            password: "alice-secret".into(),
            session_lifetime_ms: 0,
        }),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let capture = Capture::start(&[fake.addr().port()]).unwrap_or_else(|e| panic!("{e}"));
    let cfg = |password: &str| ConnectionConfig {
        security_protocol: SecurityProtocol::SaslPlaintext,
        sasl: Some(SaslConfig::plain("alice", password)),
        max_versions: dissector_caps(),
        ..ConnectionConfig::default()
    };
    let addr = fake.bootstrap().parse().unwrap();
    let conn = Connection::connect(addr, cfg("alice-secret"))
        .await
        .unwrap();
    conn.send(&MetadataRequest::default()).await.unwrap();
    let addr = fake.bootstrap().parse().unwrap();
    assert!(Connection::connect(addr, cfg("wrong")).await.is_err());
    let decoded = tokio::task::spawn_blocking(move || capture.finish())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        decoded.malformed.is_empty(),
        "malformed packets:\n{}\n--- decode ---\n{}",
        decoded.malformed.join("\n"),
        decoded.text
    );
    for api in [
        "SaslHandshake v1 Request",
        "SaslAuthenticate v2 Response",
        "ApiVersions v3 Response",
    ] {
        assert!(
            decoded.text.contains(api),
            "{api} not seen:\n{}",
            decoded.text
        );
    }
}
