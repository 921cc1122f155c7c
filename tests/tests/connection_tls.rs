//! TLS and mutual TLS through a real TLS server (`stunnel4`) in front of
//! Tansu or the fake broker: the full round trip, PEM, PKCS#12 and JKS
//! trust and identity (Java stores made by the real `keytool`: JKS
//! truststores, JKS keystores with a client key of its own password,
//! PKCS#12 stores named `.jks`), and the failures users hit (unknown CA,
//! host name mismatch, expired certificate, missing client certificate,
//! protocol mismatch, wrong store or key password), each with an error
//! that says what to fix.
//!
//! Needs `tansu`, `stunnel4`, `openssl` and `keytool` (`.ci/install-deps`).

use std::time::Duration;

use integration_tests::{
    fake_broker::{FakeBroker, FakeOptions},
    pki::{Pki, Validity},
    round_trip,
    tls_proxy::TlsProxy,
    TansuBroker, TansuOptions,
};
use kafka_proto::messages::MetadataRequest;
use replicator_core::{
    ClientIdentity, Cluster, ClusterConfig, Connection, ConnectionConfig, Error, Password,
    SecurityProtocol, StoreFormat, TlsConfig, TrustStore,
};

fn tls_config(tls: TlsConfig) -> ConnectionConfig {
    ConnectionConfig {
        security_protocol: SecurityProtocol::Ssl,
        tls,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(20),
        ..ConnectionConfig::default()
    }
}

fn pki() -> Pki {
    Pki::new("integration CA").unwrap_or_else(|e| panic!("{e}"))
}

/// A fake broker behind a TLS proxy whose server certificate is for
/// `sans` (and valid or not), optionally requiring client certificates.
async fn fake_behind_tls(
    pki: &mut Pki,
    sans: &[&str],
    validity: Validity,
    mutual: bool,
) -> (FakeBroker, TlsProxy) {
    let fake = FakeBroker::start(FakeOptions::default()).await.unwrap();
    let server = pki.server("server", sans, validity).unwrap();
    let ca = pki.ca_cert.clone();
    let proxy = TlsProxy::start(None, fake.addr(), &server, mutual.then_some(ca.as_path()))
        .unwrap_or_else(|e| panic!("{e}"));
    (fake, proxy)
}

async fn connect(addr: &str, cfg: ConnectionConfig) -> Result<Connection, Error> {
    let conn = Connection::connect(addr.parse().unwrap(), cfg).await?;
    // With TLS 1.3 a refused client certificate shows on the first read.
    conn.send(&MetadataRequest::default()).await?;
    Ok(conn)
}

#[tokio::test]
async fn round_trip_of_every_api_through_tls_and_mtls() {
    let mut pki = pki();
    let front_port = integration_tests::ports::free_port().unwrap();
    let broker = TansuBroker::start_with(TansuOptions {
        advertised_port: Some(front_port),
        ..TansuOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    broker.create_topic("secure", 2).unwrap();
    let server = pki
        .server("server", &["localhost", "127.0.0.1"], Validity::Current)
        .unwrap();
    let proxy = TlsProxy::start(Some(front_port), broker.addr(), &server, Some(&pki.ca_cert))
        .unwrap_or_else(|e| panic!("{e}"));
    let client = pki.client("client", "replicator").unwrap();

    let cfg = ClusterConfig {
        connection: tls_config(
            TlsConfig::with_ca_file(&pki.ca_cert).client_pem_files(&client.cert, &client.key),
        ),
        ..ClusterConfig::new(proxy.bootstrap())
    };
    let cluster = Cluster::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- stunnel ---\n{}", proxy.log()));
    let rt = round_trip::run(&cluster, "secure", 0, "tls-group").await;
    assert_eq!(rt.fetched[..3], ["alpha", "beta", "gamma"]);
    // Every broker connection went through the proxy (the advertised port).
    let meta = cluster.metadata();
    assert!(
        meta.brokers
            .values()
            .all(|b| b.address.port() == front_port),
        "{meta:?}"
    );
}

#[tokio::test]
async fn server_name_is_verified_by_dns_name_and_ip_san() {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(
        &mut pki,
        &["localhost", "127.0.0.1"],
        Validity::Current,
        false,
    )
    .await;
    let trust = || TlsConfig::with_ca_file(&pki.ca_cert);
    connect(&proxy.bootstrap(), tls_config(trust()))
        .await
        .unwrap();
    connect(&proxy.bootstrap_localhost(), tls_config(trust()))
        .await
        .unwrap();
}

#[tokio::test]
async fn pkcs12_truststore_and_keystore_as_java_users_have_them() {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Current, true).await;
    let client = pki.client("client", "replicator").unwrap();
    let truststore = pki.pkcs12_truststore("trust-pw").unwrap();
    let keystore = pki.pkcs12_keystore(&client, "key-pw").unwrap();
    let tls = TlsConfig {
        trust: TrustStore::Pkcs12 {
            path: truststore.clone(),
            password: Some(Password::new("trust-pw")),
        },
        identity: Some(ClientIdentity::Pkcs12 {
            path: keystore.clone(),
            password: Some(Password::new("key-pw")),
        }),
        ..TlsConfig::default()
    };
    connect(&proxy.bootstrap(), tls_config(tls)).await.unwrap();

    let bad = TlsConfig {
        trust: TrustStore::Pkcs12 {
            path: truststore,
            password: Some(Password::new("not-it")),
        },
        ..TlsConfig::default()
    };
    let err = connect(&proxy.bootstrap(), tls_config(bad))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("truststore.p12") && msg.contains("wrong password"),
        "{msg}"
    );
    assert!(!msg.contains("not-it"), "{msg}");
}

#[tokio::test]
async fn jks_truststore_with_pem_client_certificate() {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Current, true).await;
    let client = pki.client("client", "replicator").unwrap();
    let tls = TlsConfig {
        trust: TrustStore::Jks {
            path: pki
                .keytool_truststore("truststore.jks", "JKS", "changeit")
                .unwrap(),
            password: Some(Password::new("changeit")),
        },
        ..TlsConfig::default()
    }
    .client_pem_files(&client.cert, &client.key);
    connect(&proxy.bootstrap(), tls_config(tls)).await.unwrap();
}

/// A JKS or PKCS#12 truststore and keystore, as [`ClientIdentity::KeyStore`]
/// under Kafka's default type (JKS), with these passwords.
fn java_stores(
    truststore: &std::path::Path,
    trust_password: &str,
    keystore: &std::path::Path,
    store_password: &str,
    key_password: Option<&str>,
) -> TlsConfig {
    TlsConfig {
        trust: TrustStore::Jks {
            path: truststore.to_owned(),
            password: Some(Password::new(trust_password)),
        },
        identity: Some(ClientIdentity::KeyStore {
            path: keystore.to_owned(),
            password: Some(Password::new(store_password)),
            key_password: key_password.map(Password::new),
        }),
        ..TlsConfig::default()
    }
}

/// mTLS with stores `keytool` wrote as `store_type`, both named `.jks`:
/// the file holds `store_type` whatever its name, and it works.
async fn mtls_with_keytool_stores(store_type: &str, key_password: &str) {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Current, true).await;
    let truststore = pki
        .keytool_truststore("client.truststore.jks", store_type, "trust-secret")
        .unwrap();
    let keystore = pki
        .keytool_keystore(
            "client.keystore.jks",
            store_type,
            "store-secret",
            key_password,
            "replicator",
        )
        .unwrap();
    let format = StoreFormat::detect(&std::fs::read(&keystore).unwrap());
    assert_eq!(format.map(StoreFormat::name), Some(store_type));
    let tls = java_stores(
        &truststore,
        "trust-secret",
        &keystore,
        "store-secret",
        Some(key_password),
    );
    connect(&proxy.bootstrap(), tls_config(tls))
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- stunnel ---\n{}", proxy.log()));
}

/// The stores of Kafka's security guide: a JKS truststore and a JKS
/// keystore whose key has a password of its own, both by `keytool`.
#[tokio::test]
async fn keytool_jks_keystore_and_truststore_for_mtls() {
    mtls_with_keytool_stores("JKS", "key-secret").await;
}

/// `keytool -genkeypair` writes PKCS#12 whatever the file is called: a
/// `.jks` name and Kafka's default type JKS still work.
#[tokio::test]
async fn keytool_pkcs12_store_named_jks() {
    mtls_with_keytool_stores("PKCS12", "store-secret").await;
}

/// Each wrong password is refused before any connection, with an error
/// that names the file and which password (never its value).
#[tokio::test]
async fn wrong_store_and_key_passwords_name_the_file_and_the_password() {
    let pki = pki();
    let jks = pki
        .keytool_keystore(
            "client.keystore.jks",
            "JKS",
            "store-secret",
            "key-secret",
            "c",
        )
        .unwrap();
    let p12 = pki
        .keytool_keystore(
            "p12-named.jks",
            "PKCS12",
            "store-secret",
            "store-secret",
            "c",
        )
        .unwrap();
    let trust = pki
        .keytool_truststore("client.truststore.jks", "JKS", "trust-secret")
        .unwrap();
    let identity = |path: &std::path::Path, store: &str, key: Option<&str>| {
        java_stores(&trust, "trust-secret", path, store, key)
    };
    let cases = [
        (
            identity(&jks, "WRONG-pass-1", Some("key-secret")),
            &jks,
            "ssl.keystore.password",
        ),
        (
            identity(&jks, "store-secret", Some("WRONG-pass-2")),
            &jks,
            "ssl.key.password",
        ),
        // Without a key password the store password is tried, and fails.
        (
            identity(&jks, "store-secret", None),
            &jks,
            "ssl.key.password",
        ),
        (
            identity(&p12, "WRONG-pass-3", None),
            &p12,
            "ssl.keystore.password",
        ),
        (
            TlsConfig {
                trust: TrustStore::Jks {
                    path: trust.clone(),
                    password: Some(Password::new("WRONG-pass-4")),
                },
                ..TlsConfig::default()
            },
            &trust,
            "ssl.truststore.password",
        ),
    ];
    for (tls, file, which) in cases {
        let err = match connect("127.0.0.1:9", tls_config(tls)).await {
            Ok(_) => panic!("{which}: connected with a wrong password"),
            Err(e) => e,
        };
        assert!(matches!(err, Error::TlsMaterial { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&file.display().to_string()), "{which}: {msg}");
        assert!(
            msg.contains("wrong password") && msg.contains(which),
            "{which}: {msg}"
        );
        let password = if which == "ssl.key.password" {
            "key password"
        } else {
            "store password"
        };
        assert!(msg.contains(password), "{which}: {msg}");
        assert!(!msg.contains("WRONG-pass"), "{which}: {msg}");
    }
}

#[tokio::test]
async fn unknown_ca_is_refused_with_a_hint() {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Current, false).await;
    let other = Pki::new("some other CA").unwrap();
    let err = connect(
        &proxy.bootstrap(),
        tls_config(TlsConfig::with_ca_file(&other.ca_cert)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("not signed by a trusted CA"), "{msg}");
    assert!(msg.contains(&proxy.bootstrap()), "{msg}");
    assert!(msg.contains("truststore"), "{msg}");
}

#[tokio::test]
async fn host_name_mismatch_is_refused_with_a_hint() {
    let mut pki = pki();
    let (_fake, proxy) =
        fake_behind_tls(&mut pki, &["kafka.example.com"], Validity::Current, false).await;
    let err = connect(
        &proxy.bootstrap(),
        tls_config(TlsConfig::with_ca_file(&pki.ca_cert)),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("not valid for \"127.0.0.1\""), "{msg}");
    assert!(msg.contains("subjectAltName"), "{msg}");

    // Naming the certificate's host explicitly makes it acceptable.
    let tls = TlsConfig {
        server_name: Some("kafka.example.com".into()),
        ..TlsConfig::with_ca_file(&pki.ca_cert)
    };
    connect(&proxy.bootstrap(), tls_config(tls)).await.unwrap();
}

#[tokio::test]
async fn expired_certificate_is_refused_with_a_hint() {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Expired, false).await;
    let err = connect(
        &proxy.bootstrap(),
        tls_config(TlsConfig::with_ca_file(&pki.ca_cert)),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("has expired"), "{msg}");
    assert!(msg.contains("Renew"), "{msg}");
}

#[tokio::test]
async fn missing_client_certificate_is_refused_with_a_hint() {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Current, true).await;
    let err = connect(
        &proxy.bootstrap(),
        tls_config(TlsConfig::with_ca_file(&pki.ca_cert)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("client certificate"), "{msg}");
}

#[tokio::test]
async fn client_certificate_from_an_untrusted_ca_is_refused() {
    let mut pki = pki();
    let (_fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Current, true).await;
    let mut rogue = Pki::new("rogue CA").unwrap();
    let client = rogue.client("client", "intruder").unwrap();
    let tls = TlsConfig::with_ca_file(&pki.ca_cert).client_pem_files(&client.cert, &client.key);
    let err = connect(&proxy.bootstrap(), tls_config(tls))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(msg.contains("client certificate"), "{msg}");
}

#[tokio::test]
async fn insecure_skip_verification_accepts_anything_by_its_name() {
    let mut pki = pki();
    let (_fake, proxy) =
        fake_behind_tls(&mut pki, &["elsewhere.example"], Validity::Expired, false).await;
    let tls = TlsConfig {
        trust: TrustStore::Mozilla,
        ..TlsConfig::default()
    }
    .insecure_skip_verification();
    let logs = integration_tests::log_capture::Logs::capture();
    connect(&proxy.bootstrap(), tls_config(tls)).await.unwrap();
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("verification is OFF"),
        "no warning logged: {text}"
    );
}

#[tokio::test]
async fn protocol_mismatches_are_named() {
    let mut pki = pki();
    let (fake, proxy) = fake_behind_tls(&mut pki, &["127.0.0.1"], Validity::Current, false).await;

    // PLAINTEXT client on the TLS port.
    let err = connect(&proxy.bootstrap(), ConnectionConfig::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("SSL"), "{err}");

    // SSL client on the plaintext port.
    let err = connect(
        &fake.bootstrap(),
        tls_config(TlsConfig::with_ca_file(&pki.ca_cert)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("TLS"), "{msg}");
}
