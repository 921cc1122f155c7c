//! Against a real Tansu broker over plaintext: the full round trip
//! (bootstrap, Metadata, Produce, Fetch, ListOffsets, FindCoordinator,
//! OffsetCommit, OffsetFetch), unreachable advertised addresses and
//! overrides, and a broker killed or frozen under the client.
//!
//! Needs `tansu` (`.ci/install-deps tansu`); a missing broker fails.

use std::time::{Duration, Instant};

use integration_tests::{ports, requests, round_trip, TansuBroker, TansuOptions};
use kafka_proto::ApiKey;
use replicator_core::{
    AddressOverrides, BrokerAddress, Cluster, ClusterConfig, Connection, ConnectionConfig, Error,
};

fn start(opts: TansuOptions) -> TansuBroker {
    TansuBroker::start_with(opts).unwrap_or_else(|e| panic!("{e}"))
}

fn connection_config() -> ConnectionConfig {
    ConnectionConfig {
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(20),
        reconnect_backoff: Duration::from_millis(20),
        reconnect_backoff_max: Duration::from_millis(300),
        ..ConnectionConfig::default()
    }
}

fn cluster_config(bootstrap: String) -> ClusterConfig {
    ClusterConfig {
        connection: connection_config(),
        metadata_refresh_backoff: Duration::from_millis(20),
        ..ClusterConfig::new(bootstrap)
    }
}

#[tokio::test]
async fn plaintext_round_trip_of_every_api() {
    let broker = start(TansuOptions::default());
    broker.create_topic("replicated", 3).unwrap();
    let cluster = Cluster::connect(cluster_config(broker.bootstrap()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- broker log ---\n{}", broker.log()));
    let rt = round_trip::run(&cluster, "replicated", 1, "replicator-group").await;
    assert_eq!(rt.fetched[..3], ["alpha", "beta", "gamma"]);
    assert_eq!(rt.committed, rt.end_offset);

    // A second batch lands after the first.
    let rt2 = round_trip::run(&cluster, "replicated", 1, "replicator-group").await;
    assert_eq!(rt2.base_offset, rt.end_offset);

    let meta = cluster.metadata();
    assert_eq!(meta.brokers.len(), 1);
    assert!(
        !meta.topic("replicated").unwrap().id.is_zero(),
        "topic IDs are known"
    );
}

#[tokio::test]
async fn negotiates_versions_with_tansu() {
    let broker = start(TansuOptions::default());
    let conn = Connection::connect(broker.bootstrap().parse().unwrap(), connection_config())
        .await
        .unwrap();
    for api in [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::FindCoordinator,
    ] {
        let v = conn.version(api).unwrap_or_else(|e| panic!("{e}"));
        let theirs = conn.versions().broker_range(api).unwrap();
        assert!(
            theirs.contains(v) && api.versions().contains(v),
            "{api} v{v}"
        );
        assert_eq!(
            v,
            theirs.max.min(api.versions().max),
            "{api}: the highest common version"
        );
    }
}

#[tokio::test]
async fn unreachable_advertised_address_is_explained_and_an_override_fixes_it() {
    let dead = ports::free_port().unwrap();
    let broker = start(TansuOptions {
        advertised_port: Some(dead),
        ..TansuOptions::default()
    });
    broker.create_topic("nat", 1).unwrap();
    let mut cfg = cluster_config(broker.bootstrap());
    cfg.leader_retries = 1;
    let cluster = Cluster::connect(cfg.clone()).await.unwrap();
    let err = cluster
        .send_to_leader("nat", 0, |l, _| requests::list_offsets(l, -1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AdvertisedUnreachable { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("advertises 127.0.0.1:{dead}")),
        "{msg}"
    );
    assert!(msg.contains("advertised.listeners"), "{msg}");
    assert!(msg.contains("override"), "{msg}");
    assert!(!msg.contains("LEADER_NOT_AVAILABLE"), "{msg}");

    let mut overrides = AddressOverrides::new();
    overrides.insert(
        BrokerAddress::new("127.0.0.1", dead),
        broker.bootstrap().parse().unwrap(),
    );
    cfg.address_overrides = overrides;
    let cluster = Cluster::connect(cfg).await.unwrap();
    let resp = cluster
        .send_to_leader("nat", 0, |l, _| requests::list_offsets(l, -1))
        .await
        .unwrap();
    assert_eq!(resp.topics[0].partitions[0].error_code, 0, "{resp:?}");
}

#[tokio::test]
async fn a_killed_broker_is_reconnected_after_restart() {
    let mut broker = start(TansuOptions::default());
    broker.create_topic("crash", 1).unwrap();
    let mut cfg = cluster_config(broker.bootstrap());
    cfg.leader_retries = 1;
    let cluster = Cluster::connect(cfg).await.unwrap();
    let list = |c: Cluster| async move {
        c.send_to_leader("crash", 0, |l, _| requests::list_offsets(l, -1))
            .await
    };
    list(cluster.clone()).await.unwrap();

    broker.kill().unwrap();
    let err = list(cluster.clone()).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(err.to_string().contains(&broker.bootstrap()), "{err}");

    broker.start_again().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match list(cluster.clone()).await {
            Ok(r) => {
                assert_eq!(r.topics[0].partitions[0].error_code, 0);
                break;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no recovery after restart: {e}"),
        }
    }
}

#[tokio::test]
async fn a_frozen_broker_times_requests_out() {
    let mut broker = start(TansuOptions::default());
    let conn = Connection::connect(
        broker.bootstrap().parse().unwrap(),
        ConnectionConfig {
            request_timeout: Duration::from_millis(500),
            ..connection_config()
        },
    )
    .await
    .unwrap();
    broker.pause().unwrap();
    let started = Instant::now();
    let err = conn
        .send(&kafka_proto::messages::MetadataRequest::default())
        .await
        .unwrap_err();
    let waited = started.elapsed();
    broker.resume().unwrap();
    assert!(matches!(err, Error::RequestTimeout { .. }), "{err:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(conn.is_closed());
}
