//! Every MirrorMaker 2 file in `mirror-cli/config/` parses into the expected
//! model.

use std::path::PathBuf;
use std::time::Duration;

use mirror_cli::mm2::{Mm2Config, TopicPattern, WarningKind, DEFAULT_MAX_IN_FLIGHT_BYTES};
use replicator_core::{
    ClientIdentity, RenamePolicy, SaslMechanism, SecurityProtocol, StartFrom, TrustStore,
};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

fn load(name: &str) -> Mm2Config {
    Mm2Config::from_path(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn pats(list: &[&str]) -> Vec<TopicPattern> {
    list.iter()
        .map(|p| TopicPattern::parse(p).unwrap())
        .collect()
}

fn warned(c: &Mm2Config) -> Vec<(WarningKind, &str)> {
    c.warnings
        .iter()
        .map(|w| (w.kind, w.key.as_str()))
        .collect()
}

#[test]
fn every_example_parses_and_has_an_assertion() {
    let mut names: Vec<String> = std::fs::read_dir(path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".properties"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "active-active.properties",
            "msk.properties",
            "mtls-confluent.properties",
            "nat-overrides.properties",
            "quickstart.properties",
            "sasl-ssl-plain-event-streams.properties",
            "tls-private-ca.properties",
        ]
    );
    for n in &names {
        let c = load(n);
        assert!(c.enabled_flows().count() >= 1, "{n}");
        assert!(c.origin.ends_with(n.as_str()), "{}", c.origin);
    }
}

#[test]
fn quickstart() {
    let c = load("quickstart.properties");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.clusters.keys().collect::<Vec<_>>(), ["a", "b"]);
    let a = c.cluster_config("a").unwrap();
    assert_eq!(a.bootstrap_servers, ["localhost:9092"]);
    assert_eq!(a.connection.security_protocol, SecurityProtocol::Plaintext);
    assert_eq!(
        c.cluster_config("b").unwrap().bootstrap_servers,
        ["localhost:9093"]
    );
    assert_eq!(c.flows.len(), 1);
    let f = &c.flows[0];
    assert_eq!(
        (f.source.as_str(), f.target.as_str(), f.enabled),
        ("a", "b", true)
    );
    assert_eq!(f.topics, pats(&[".*"]));
    assert_eq!(f.replication_factor, Some(1));
    assert_eq!(f.policy, RenamePolicy::prefix("a"));
    assert_eq!(f.start_policy, StartFrom::Earliest);
    assert_eq!(f.group_id, "kafka-replicator-a-b");
    assert!(f.auto_create_topics);
    assert_eq!(f.line, 8);
    assert!(f.selects("orders") && !f.selects("__consumer_offsets"));
    assert_eq!(f.remote_topic("orders"), "a.orders");
}

#[test]
fn tls_private_ca() {
    let c = load("tls-private-ca.properties");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let s = c.cluster_config("source").unwrap();
    assert_eq!(
        s.bootstrap_servers,
        [
            "kafka-1.src.example.com:9093",
            "kafka-2.src.example.com:9093"
        ]
    );
    assert_eq!(s.connection.security_protocol, SecurityProtocol::Ssl);
    assert_eq!(
        s.connection.tls.trust,
        TrustStore::PemFile("/etc/kafka-replicator/private-ca.pem".into())
    );
    assert!(s.connection.tls.identity.is_none() && !s.connection.tls.insecure_skip_verification);
    let t = c.cluster_config("target").unwrap();
    assert_eq!(
        t.bootstrap_servers,
        [
            "kafka-1.dst.example.com:9093",
            "kafka-2.dst.example.com:9093"
        ]
    );
    assert_eq!(
        t.connection.tls.trust,
        TrustStore::Jks {
            path: "/etc/kafka-replicator/target.truststore.jks".into(),
            password: Some("changeit".into())
        }
    );
    let f = c.flow("source", "target").unwrap();
    assert_eq!(f.topics, pats(&["orders.*", "payments"]));
    assert_eq!(f.topics_exclude, pats(&[r"orders\.tmp.*"]));
    assert!(f.selects("orders-eu") && !f.selects("orders.tmp1") && f.selects("payments"));
    assert_eq!(f.replication_factor, Some(3));
    assert_eq!(c.clusters["target"].store_files.len(), 1);
    assert_eq!(
        c.clusters["target"].store_files[0].key,
        "target.ssl.truststore.location"
    );
    assert_eq!(c.clusters["target"].store_files[0].line, 12);
}

#[test]
fn sasl_ssl_plain_event_streams() {
    let c = load("sasl-ssl-plain-event-streams.properties");
    assert_eq!(
        warned(&c),
        [
            (WarningKind::NoEffect, "eventstreams.ssl.protocol"),
            (WarningKind::NoEffect, "eventstreams.ssl.enabled.protocols"),
            (WarningKind::NoEffect, "sync.topic.acls.enabled"),
        ]
    );
    assert_eq!(c.warnings[0].line, Some(14));
    let es = c.cluster_config("eventstreams").unwrap();
    assert_eq!(
        es.bootstrap_servers,
        [
            "broker-0.es.example.com:9093",
            "broker-1.es.example.com:9093",
            "broker-2.es.example.com:9093"
        ]
    );
    assert_eq!(es.connection.security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(es.connection.tls.trust, TrustStore::System);
    let sasl = es.connection.sasl.as_ref().unwrap();
    assert_eq!(sasl.mechanism, SaslMechanism::Plain);
    assert_eq!(sasl.username, "token");
    assert_eq!(sasl.password.expose(), "API-KEY-PLACEHOLDER");
    assert!(!format!("{c:?}").contains("API-KEY-PLACEHOLDER"));
    let onprem = c.cluster_config("onprem").unwrap();
    assert_eq!(
        onprem.connection.security_protocol,
        SecurityProtocol::Plaintext
    );
    assert!(onprem.connection.sasl.is_none());
    let f = c.flow("onprem", "eventstreams").unwrap();
    assert_eq!(f.topics, pats(&["inventory", "shipments-.*"]));
    assert_eq!(f.remote_topic("inventory"), "onprem.inventory");
}

#[test]
fn msk() {
    let c = load("msk.properties");
    assert_eq!(
        warned(&c),
        [
            (WarningKind::NoEffect, "tasks.max"),
            (WarningKind::NoEffect, "emit.checkpoints.enabled"),
            (WarningKind::NoEffect, "emit.heartbeats.enabled"),
        ]
    );
    let plain = c.cluster_config("msk-plain").unwrap();
    assert_eq!(plain.bootstrap_servers.len(), 3);
    assert!(plain.bootstrap_servers.iter().all(|b| b.ends_with(":9092")));
    assert_eq!(
        plain.connection.security_protocol,
        SecurityProtocol::Plaintext
    );
    let tls = c.cluster_config("msk-tls").unwrap();
    assert!(tls.bootstrap_servers.iter().all(|b| b.ends_with(":9094")));
    assert_eq!(tls.connection.security_protocol, SecurityProtocol::Ssl);
    assert_eq!(tls.connection.tls.trust, TrustStore::System);
    let f = c.flow("msk-plain", "msk-tls").unwrap();
    assert_eq!(f.policy, RenamePolicy::Identity);
    assert_eq!(f.remote_topic("orders"), "orders");
    assert!(!f.auto_create_topics);
    assert_eq!(f.replication_factor, Some(3));
    assert_eq!(f.topics, pats(&["clickstream.*", "orders"]));
}

#[test]
fn mtls_confluent() {
    let mut c = load("mtls-confluent.properties");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    for dc in ["dc1", "dc2"] {
        let cc = c.cluster_config(dc).unwrap();
        assert_eq!(cc.connection.security_protocol, SecurityProtocol::Ssl);
        assert_eq!(
            cc.connection.tls.trust,
            TrustStore::Jks {
                path: format!("/var/ssl/private/{dc}.client.truststore.jks").into(),
                password: Some("TRUSTSTORE-PASSWORD".into())
            }
        );
        assert_eq!(
            cc.connection.tls.identity,
            Some(ClientIdentity::KeyStore {
                path: format!("/var/ssl/private/{dc}.client.keystore.p12").into(),
                password: Some("KEYSTORE-PASSWORD".into()),
                // dc1 repeats the store password as ssl.key.password.
                key_password: (dc == "dc1").then(|| "KEYSTORE-PASSWORD".into())
            })
        );
        assert_eq!(c.clusters[dc].store_files.len(), 2);
    }
    assert_eq!(
        c.cluster_config("dc2").unwrap().connection.client_id,
        "replicator-dc2"
    );
    assert_eq!(
        c.cluster_config("dc1").unwrap().connection.client_id,
        "kafka-replicator"
    );
    let f = c.flow("dc1", "dc2").unwrap();
    assert_eq!(
        f.topics_exclude,
        pats(&["_confluent.*", "_schemas", "__.*"])
    );
    assert!(f.selects("orders") && !f.selects("_schemas") && !f.selects("_confluent-metrics"));
    assert!(f.sync_topic_configs);
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("KEYSTORE-PASSWORD") && !dbg.contains("TRUSTSTORE-PASSWORD"),
        "{dbg}"
    );
    // The stores are not on this machine: check_files says which and where.
    let e = c.check_files().unwrap_err().to_string();
    assert!(e.contains("/var/ssl/private/dc1.client"), "{e}");
    assert!(e.contains("mtls-confluent.properties:"), "{e}");
}

#[test]
fn nat_overrides() {
    let c = load("nat-overrides.properties");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let onprem = c.cluster_config("onprem").unwrap();
    assert_eq!(onprem.address_overrides.len(), 3);
    let (addr, hit) = onprem
        .address_overrides
        .resolve(&"kafka-1.kafka.internal:9092".parse().unwrap());
    assert!(hit);
    assert_eq!(addr.to_string(), "203.0.113.10:19093");
    assert!(c
        .cluster_config("cloud")
        .unwrap()
        .address_overrides
        .is_empty());
    let f = c.flow("onprem", "cloud").unwrap();
    assert_eq!(f.topics, pats(&[r"telemetry\..*"]));
    assert!(f.selects("telemetry.cpu") && !f.selects("telemetryXcpu"));
    assert_eq!(f.start_policy, StartFrom::Latest);
    assert_eq!(f.group_id, "replicator-onprem-telemetry");
    assert_eq!(f.max_in_flight_bytes, 32 * 1024 * 1024);
    assert_ne!(f.max_in_flight_bytes, DEFAULT_MAX_IN_FLIGHT_BYTES);
}

#[test]
fn active_active() {
    let c = load("active-active.properties");
    assert_eq!(
        warned(&c),
        [(WarningKind::NoEffect, "sync.group.offsets.enabled")]
    );
    assert_eq!(c.enabled_flows().count(), 2);
    let ew = c.flow("east", "west").unwrap();
    let we = c.flow("west", "east").unwrap();
    for f in [ew, we] {
        assert_eq!(f.policy, RenamePolicy::prefix(f.source.clone()));
        assert_eq!(f.topics, pats(&["orders", "payments", "audit-.*"]));
        assert_eq!(f.refresh_interval, Some(Duration::from_secs(60)));
        assert_eq!(f.replication_factor, Some(3));
    }
    assert_ne!(ew.group_id, we.group_id);
    assert_eq!(ew.remote_topic("orders"), "east.orders");
    // east.orders on west is never sent back to east.
    assert!(!we.selects("east.orders"));
    assert!(we.selects("orders"));
}
