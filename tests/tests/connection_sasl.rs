//! SCRAM-SHA-256 and SCRAM-SHA-512 against Tansu with real password
//! checks (users created on SQLite storage, broker restarted with
//! `--authentication`). PLAIN has no third-party server here: it is tested
//! against the fake broker in `connection_fake.rs`.
//!
//! Needs `tansu` (`.ci/install-deps tansu`).

use std::time::Duration;

use integration_tests::{round_trip, ScramMechanism, TansuBroker, TansuOptions};
use kafka_proto::messages::MetadataRequest;
use replicator_core::{
    Cluster, ClusterConfig, Connection, ConnectionConfig, Error, SaslConfig, SecurityProtocol,
};

const USERS: &[(&str, &str, ScramMechanism)] = &[
    ("alice", "alice-secret", ScramMechanism::Sha256),
    ("bob", "bob-secret", ScramMechanism::Sha512),
];

fn broker() -> TansuBroker {
    broker_with(TansuOptions::default(), USERS, &[])
}

/// A broker with SCRAM `users` and `topics`, restarted with
/// `--authentication` (Tansu's CLI cannot create topics once it is on).
fn broker_with(
    opts: TansuOptions,
    users: &[(&str, &str, ScramMechanism)],
    topics: &[&str],
) -> TansuBroker {
    let mut broker = TansuBroker::start_with(TansuOptions {
        authentication: false,
        ..opts
    })
    .unwrap_or_else(|e| panic!("{e}"));
    for (name, password, mechanism) in users {
        broker
            .create_scram_user(name, password, *mechanism)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for topic in topics {
        broker
            .create_topic(topic, 1)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    broker
        .set_authentication(true)
        .unwrap_or_else(|e| panic!("{e}"));
    broker
}

fn sasl(cfg: SaslConfig) -> ConnectionConfig {
    ConnectionConfig {
        security_protocol: SecurityProtocol::SaslPlaintext,
        sasl: Some(cfg),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(20),
        ..ConnectionConfig::default()
    }
}

async fn connect(broker: &TansuBroker, cfg: SaslConfig) -> Result<Connection, Error> {
    let conn = Connection::connect(broker.bootstrap().parse().unwrap(), sasl(cfg)).await?;
    conn.send(&MetadataRequest::default()).await?;
    Ok(conn)
}

#[tokio::test]
async fn scram_sha256_and_sha512_with_the_right_passwords() {
    let broker = broker();
    connect(&broker, SaslConfig::scram_sha256("alice", "alice-secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- broker log ---\n{}", broker.log()));
    connect(&broker, SaslConfig::scram_sha512("bob", "bob-secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- broker log ---\n{}", broker.log()));
}

#[tokio::test]
async fn scram_round_trip_of_every_api() {
    let broker = broker_with(TansuOptions::default(), USERS, &["sasl-topic"]);
    let cfg = ClusterConfig {
        connection: sasl(SaslConfig::scram_sha512("bob", "bob-secret")),
        ..ClusterConfig::new(broker.bootstrap())
    };
    let cluster = Cluster::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rt = round_trip::run(&cluster, "sasl-topic", 0, "sasl-group").await;
    assert_eq!(rt.fetched[..3], ["alpha", "beta", "gamma"]);
}

#[tokio::test]
async fn wrong_password_is_refused_with_the_brokers_message() {
    let broker = broker();
    for cfg in [
        SaslConfig::scram_sha256("alice", "not-alices-password"),
        SaslConfig::scram_sha512("bob", "not-bobs-password"),
        SaslConfig::scram_sha256("mallory", "not-a-user"),
    ] {
        let mechanism = cfg.mechanism;
        let password = cfg.password.expose().to_owned();
        let err = connect(&broker, cfg).await.unwrap_err();
        assert!(matches!(err, Error::SaslAuthentication { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(mechanism.name()), "{msg}");
        assert!(msg.contains(&broker.bootstrap()), "{msg}");
        assert!(msg.contains("the broker says"), "{msg}");
        assert!(!msg.contains(&password), "password in error: {msg}");
        assert!(
            !format!("{err:?}").contains(&password),
            "password in Debug: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_user_of_the_other_mechanism_is_refused() {
    let broker = broker();
    // alice has SCRAM-SHA-256 credentials only.
    let err = connect(&broker, SaslConfig::scram_sha512("alice", "alice-secret"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SaslAuthentication { .. }), "{err:?}");
}

#[tokio::test]
async fn plain_is_not_offered_by_tansu_and_the_error_says_so() {
    let broker = broker();
    let err = connect(&broker, SaslConfig::plain("alice", "alice-secret"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    // Tansu closes the connection instead of answering
    // UNSUPPORTED_SASL_MECHANISM; either way the error names the mechanism.
    match &err {
        Error::SaslMechanismNotEnabled { .. } => assert!(msg.contains("SCRAM-SHA-256"), "{msg}"),
        Error::SaslProtocol { .. } => {
            assert!(msg.contains("does not enable PLAIN"), "{msg}");
            assert!(msg.contains("sasl.enabled.mechanisms"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert!(msg.contains(&broker.bootstrap()), "{msg}");
}

#[tokio::test]
async fn a_plaintext_client_is_refused_by_an_authenticating_broker() {
    let broker = broker();
    let result = async {
        let conn = Connection::connect(
            broker.bootstrap().parse().unwrap(),
            ConnectionConfig::default(),
        )
        .await?;
        conn.send(&MetadataRequest::default()).await
    }
    .await;
    // Tansu may answer with an error or close; either way it is no success
    // with data, and no panic or hang.
    if let Ok(resp) = result {
        assert!(resp.topics.is_empty(), "{resp:?}");
    }
}

#[tokio::test]
async fn sasl_ssl_scram_through_the_tls_proxy() {
    use integration_tests::{
        pki::{Pki, Validity},
        tls_proxy::TlsProxy,
    };
    use replicator_core::TlsConfig;

    let front_port = integration_tests::ports::free_port().unwrap();
    let broker = broker_with(
        TansuOptions {
            advertised_port: Some(front_port),
            ..TansuOptions::default()
        },
        &[("carol", "carol-secret", ScramMechanism::Sha512)],
        &["sasl-ssl"],
    );
    let mut pki = Pki::new("sasl-ssl CA").unwrap();
    let server = pki
        .server("server", &["127.0.0.1"], Validity::Current)
        .unwrap();
    let proxy = TlsProxy::start(Some(front_port), broker.addr(), &server, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let connection = ConnectionConfig {
        security_protocol: SecurityProtocol::SaslSsl,
        tls: TlsConfig::with_ca_file(&pki.ca_cert),
        ..sasl(SaslConfig::scram_sha512("carol", "carol-secret"))
    };
    let cluster = Cluster::connect(ClusterConfig {
        connection: connection.clone(),
        ..ClusterConfig::new(proxy.bootstrap())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let rt = round_trip::run(&cluster, "sasl-ssl", 0, "sasl-ssl-group").await;
    assert_eq!(rt.fetched[..3], ["alpha", "beta", "gamma"]);

    let wrong = ConnectionConfig {
        sasl: Some(SaslConfig::scram_sha512("carol", "nope-nope")),
        ..connection
    };
    let err = Connection::connect(proxy.bootstrap().parse().unwrap(), wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SaslAuthentication { .. }), "{err:?}");
}
