//! Connections to Apache Kafka's secured listeners, each proved by a real
//! copy: the mirror reads a topic through the listener (or writes through
//! it), and the copy is checked over PLAINTEXT by librdkafka.
//!
//! SASL_PLAINTEXT with PLAIN (the first third-party PLAIN server these
//! tests have: Tansu lacks it, the mock has no SASL), SCRAM-SHA-256 and
//! SCRAM-SHA-512; SSL with JKS, PKCS#12 and PEM truststores made by
//! `keytool`; SASL_SSL; mutual TLS with a PKCS#12 client keystore made by
//! `keytool`. And the refusals: a wrong password, no client certificate,
//! an untrusted CA.
//!
//! One broker with every listener is shared by the tests of this binary.
//! Needs Java and Kafka's jars (`.ci/install-deps kafka`).

use std::time::Duration;

use integration_tests::kafka::{self, KafkaCluster, Listener, STORE_PASSWORD};
use integration_tests::mirror_support::{
    assert_same, cluster_config, consume, finish_or, init_logs, numbered, produce, producer,
    start_or, Rec,
};
use replicator_core::{
    ClientIdentity, ClusterConfig, Mirror, Mode, RenamePolicy, SaslConfig, SecurityProtocol,
    TlsConfig, TrustStore,
};

fn broker() -> &'static KafkaCluster {
    init_logs();
    kafka::shared_secure()
}

/// How the mirror reaches the secured listener.
struct Secured {
    what: &'static str,
    listener: Listener,
    protocol: SecurityProtocol,
    sasl: Option<SaslConfig>,
    tls: fn(&KafkaCluster) -> TlsConfig,
}

fn no_tls(_: &KafkaCluster) -> TlsConfig {
    TlsConfig::default()
}

fn jks_trust(k: &KafkaCluster) -> TlsConfig {
    TlsConfig {
        trust: TrustStore::Jks {
            path: k.stores().unwrap().truststore_jks.clone(),
            password: Some(STORE_PASSWORD.into()),
        },
        ..TlsConfig::default()
    }
}

fn p12_trust(k: &KafkaCluster) -> TlsConfig {
    TlsConfig {
        trust: TrustStore::Pkcs12 {
            path: k.stores().unwrap().truststore_p12.clone(),
            password: Some(STORE_PASSWORD.into()),
        },
        ..TlsConfig::default()
    }
}

fn pem_trust(k: &KafkaCluster) -> TlsConfig {
    TlsConfig::with_ca_file(k.stores().unwrap().ca_pem.clone())
}

fn mtls(k: &KafkaCluster) -> TlsConfig {
    TlsConfig {
        identity: Some(ClientIdentity::Pkcs12 {
            path: k.stores().unwrap().client_p12.clone(),
            password: Some(STORE_PASSWORD.into()),
        }),
        ..jks_trust(k)
    }
}

fn secured(k: &KafkaCluster, s: &Secured) -> ClusterConfig {
    let mut c = cluster_config(&k.bootstrap_of(s.listener));
    c.connection.security_protocol = s.protocol;
    c.connection.sasl = s.sasl.clone();
    c.connection.tls = (s.tls)(k);
    c
}

fn cases() -> Vec<Secured> {
    use Listener::*;
    use SecurityProtocol as P;
    vec![
        Secured {
            what: "sasl-plain",
            listener: SaslPlaintext,
            protocol: P::SaslPlaintext,
            sasl: Some(SaslConfig::plain("alice", "alice-secret")),
            tls: no_tls,
        },
        Secured {
            what: "sasl-scram256",
            listener: SaslPlaintext,
            protocol: P::SaslPlaintext,
            sasl: Some(SaslConfig::scram_sha256("alice", "alice-secret")),
            tls: no_tls,
        },
        Secured {
            what: "sasl-scram512",
            listener: SaslPlaintext,
            protocol: P::SaslPlaintext,
            sasl: Some(SaslConfig::scram_sha512("admin", "admin-secret")),
            tls: no_tls,
        },
        Secured {
            what: "ssl-jks",
            listener: Ssl,
            protocol: P::Ssl,
            sasl: None,
            tls: jks_trust,
        },
        Secured {
            what: "ssl-p12",
            listener: Ssl,
            protocol: P::Ssl,
            sasl: None,
            tls: p12_trust,
        },
        Secured {
            what: "ssl-pem",
            listener: Ssl,
            protocol: P::Ssl,
            sasl: None,
            tls: pem_trust,
        },
        Secured {
            what: "sasl-ssl-scram512",
            listener: SaslSsl,
            protocol: P::SaslSsl,
            sasl: Some(SaslConfig::scram_sha512("alice", "alice-secret")),
            tls: p12_trust,
        },
        Secured {
            what: "sasl-ssl-plain",
            listener: SaslSsl,
            protocol: P::SaslSsl,
            sasl: Some(SaslConfig::plain("admin", "admin-secret")),
            tls: pem_trust,
        },
        Secured {
            what: "mtls-p12",
            listener: MutualTls,
            protocol: P::Ssl,
            sasl: None,
            tls: mtls,
        },
    ]
}

async fn copy(
    source: ClusterConfig,
    target: ClusterConfig,
    topic: &str,
    prefix: &str,
    context: &str,
) {
    let handle = start_or(
        Mirror::builder()
            .source(source)
            .target(target)
            .topics([topic])
            .rename(RenamePolicy::prefix(prefix))
            .group_id(format!("conn-{prefix}"))
            .mode(Mode::UntilCaughtUp),
        || format!("{context}\n{}", broker().log()),
    )
    .await;
    let summary = finish_or(handle, Duration::from_secs(60), || broker().log()).await;
    assert_eq!(summary.failed().count(), 0, "{context}: {summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_reads_and_writes_through_every_secured_listener() {
    let k = broker();
    let topic = "conn.orders";
    k.create_topic(topic, 2).unwrap();
    let recs = numbered(0, 50, 2);
    produce(&producer(&k.bootstrap(), &[]), topic, &recs).await;
    let plain = cluster_config(&k.bootstrap());
    for case in cases() {
        // Read through the listener, write over PLAINTEXT.
        let read = format!("r-{}", case.what);
        copy(secured(k, &case), plain.clone(), topic, &read, case.what).await;
        let got = consume(
            &k.bootstrap(),
            &format!("{read}.{topic}"),
            recs.len(),
            Duration::from_secs(60),
        );
        assert_same(&format!("{}: read", case.what), &recs, &got);
        // Read over PLAINTEXT, write through the listener.
        let write = format!("w-{}", case.what);
        copy(plain.clone(), secured(k, &case), topic, &write, case.what).await;
        let got = consume(
            &k.bootstrap(),
            &format!("{write}.{topic}"),
            recs.len(),
            Duration::from_secs(60),
        );
        assert_same(&format!("{}: write", case.what), &recs, &got);
        eprintln!("{}: read and write ok", case.what);
    }
}

async fn refused(source: ClusterConfig) -> String {
    let k = broker();
    let started = Mirror::builder()
        .source(source)
        .target(cluster_config(&k.bootstrap()))
        .topics(["conn.refused"])
        .group_id("conn-refused")
        .mode(Mode::UntilCaughtUp)
        .build()
        .unwrap()
        .start()
        .await;
    match started {
        Ok(handle) => {
            let _ = handle.stop().await;
            panic!("the mirror started through a listener that must refuse it");
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_missing_client_certificates_and_untrusted_cas_are_refused() {
    let k = broker();
    k.create_topic("conn.refused", 1).unwrap();
    let mut cases = cases();
    let by = |cases: &mut Vec<Secured>, what: &str| {
        let i = cases.iter().position(|c| c.what == what).unwrap();
        cases.remove(i)
    };

    for (what, sasl) in [
        ("sasl-plain", SaslConfig::plain("alice", "wrong-password")),
        (
            "sasl-scram256",
            SaslConfig::scram_sha256("alice", "wrong-password"),
        ),
        (
            "sasl-scram512",
            SaslConfig::scram_sha512("nobody", "alice-secret"),
        ),
    ] {
        let mut c = by(&mut cases, what);
        c.sasl = Some(sasl);
        let err = refused(secured(k, &c)).await;
        eprintln!("{what}, bad credentials: {err}");
        assert!(
            err.contains("127.0.0.1") && err.to_lowercase().contains("auth"),
            "{what}: the error names the broker and the authentication failure: {err}"
        );
        assert!(
            !err.contains("wrong-password") && !err.contains("alice-secret"),
            "{err}"
        );
    }

    // Mutual TLS without a client certificate.
    let mut c = by(&mut cases, "mtls-p12");
    c.tls = jks_trust;
    let err = refused(secured(k, &c)).await;
    eprintln!("mtls without a client certificate: {err}");
    assert!(err.contains("127.0.0.1"), "{err}");

    // A CA the broker's certificate does not chain to (Mozilla's roots).
    let mut c = by(&mut cases, "ssl-pem");
    c.tls = |_| TlsConfig {
        trust: TrustStore::Mozilla,
        ..TlsConfig::default()
    };
    let err = refused(secured(k, &c)).await;
    eprintln!("untrusted CA: {err}");
    assert!(
        err.contains("127.0.0.1") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    let _: Vec<Rec> = Vec::new();
}
