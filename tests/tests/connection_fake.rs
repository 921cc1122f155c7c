//! Connection behaviour against the scripted fake broker: SASL/PLAIN (no
//! real PLAIN server runs here), re-authentication (KIP-368), pipelining,
//! timeouts, version negotiation, malformed input, reconnect backoff.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use integration_tests::fake_broker::{
    default_action, Action, FakeBroker, FakeOptions, PlainUser, Received,
};
use kafka_proto::{
    messages::{
        metadata_request::MetadataRequestTopic, metadata_response::MetadataResponseTopic,
        MetadataRequest, MetadataResponse, RequestBody, ResponseBody,
    },
    ApiKey,
};
use replicator_core::{
    BrokerAddress, BrokerLabel, Cluster, ClusterConfig, Connection, ConnectionConfig, Connector,
    Error, ManagedConnection, SaslConfig, SecurityProtocol,
};

fn config() -> ConnectionConfig {
    ConnectionConfig {
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
        ..ConnectionConfig::default()
    }
}

fn sasl_config(user: &str, password: &str) -> ConnectionConfig {
    ConnectionConfig {
        security_protocol: SecurityProtocol::SaslPlaintext,
        sasl: Some(SaslConfig::plain(user, password)),
        ..config()
    }
}

fn addr(fake: &FakeBroker) -> BrokerAddress {
    fake.bootstrap().parse().unwrap()
}

fn alice(lifetime: i64) -> FakeOptions {
    FakeOptions {
        plain_user: Some(PlainUser {
            username: "alice".into(),
            password: "alice-secret".into(),
            session_lifetime_ms: lifetime,
        }),
        ..FakeOptions::default()
    }
}

async fn metadata(conn: &Connection) -> Result<MetadataResponse, Error> {
    conn.send(&MetadataRequest {
        topics: None,
        allow_auto_topic_creation: false,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn plain_sends_the_rfc4616_token_and_then_serves_requests() {
    let fake = FakeBroker::start(alice(0)).await.unwrap();
    let conn = Connection::connect(addr(&fake), sasl_config("alice", "alice-secret"))
        .await
        .unwrap();
    metadata(&conn).await.unwrap();
    let got = fake.received();
    let apis: Vec<ApiKey> = fake.apis();
    assert_eq!(
        apis,
        vec![
            ApiKey::ApiVersions,
            ApiKey::SaslHandshake,
            ApiKey::SaslAuthenticate,
            ApiKey::Metadata
        ]
    );
    let RequestBody::SaslHandshake(h) = &got[1].body else {
        panic!("{got:?}")
    };
    assert_eq!(h.mechanism, "PLAIN");
    assert_eq!(got[1].header.request_api_version, 1, "SaslHandshake v1");
    let RequestBody::SaslAuthenticate(a) = &got[2].body else {
        panic!("{got:?}")
    };
    assert_eq!(a.auth_bytes, Bytes::from_static(b"\0alice\0alice-secret"));
    assert_eq!(conn.reauthentication_due(), None);
}

#[tokio::test]
async fn plain_wrong_password_quotes_the_broker_and_never_the_password() {
    let logs = integration_tests::log_capture::Logs::capture();
    let fake = FakeBroker::start(alice(0)).await.unwrap();
    let cfg = sasl_config("alice", "Wr0ng-Pa55word");
    let debug_cfg = format!("{cfg:?}");
    let err = Connection::connect(addr(&fake), cfg).await.unwrap_err();
    assert!(matches!(err, Error::SaslAuthentication { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("Invalid username or password"), "{msg}");
    assert!(msg.contains(&fake.bootstrap()), "{msg}");
    assert!(msg.contains("PLAIN"), "{msg}");
    for text in [msg, format!("{err:?}"), debug_cfg, logs.text()] {
        assert!(!text.contains("Wr0ng-Pa55word"), "password leaked: {text}");
    }
}

#[tokio::test]
async fn mechanism_not_enabled_lists_what_the_broker_offers() {
    let fake = FakeBroker::start(FakeOptions {
        mechanisms: vec!["SCRAM-SHA-512".into(), "OAUTHBEARER".into()],
        ..alice(0)
    })
    .await
    .unwrap();
    let err = Connection::connect(addr(&fake), sasl_config("alice", "alice-secret"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::SaslMechanismNotEnabled { .. }),
        "{msg}"
    );
    assert!(msg.contains("[SCRAM-SHA-512, OAUTHBEARER]"), "{msg}");
    assert!(msg.contains("PLAIN"), "{msg}");
}

#[tokio::test]
async fn reauthenticates_before_the_session_expires() {
    let fake = FakeBroker::start(alice(400)).await.unwrap();
    let conn = Connection::connect(addr(&fake), sasl_config("alice", "alice-secret"))
        .await
        .unwrap();
    let due = conn.reauthentication_due().expect("a session lifetime");
    // 85–95% of 400 ms.
    let left = due.saturating_duration_since(Instant::now());
    assert!(left <= Duration::from_millis(380), "{left:?}");
    tokio::time::sleep_until(due.into()).await;
    metadata(&conn).await.unwrap();
    metadata(&conn).await.unwrap();
    let apis = fake.apis();
    assert_eq!(
        apis,
        vec![
            ApiKey::ApiVersions,
            ApiKey::SaslHandshake,
            ApiKey::SaslAuthenticate,
            ApiKey::SaslHandshake,
            ApiKey::SaslAuthenticate,
            ApiKey::Metadata,
            ApiKey::Metadata,
        ]
    );
    assert!(
        fake.received().iter().all(|r| r.connection == 0),
        "same connection"
    );
    assert!(conn.reauthentication_due().unwrap() > due);
}

#[tokio::test]
async fn failed_reauthentication_closes_the_connection() {
    let attempts = Arc::new(Mutex::new(0));
    let a = Arc::clone(&attempts);
    let opts = FakeOptions {
        handler: Some(Arc::new(move |r: &Received| {
            if let RequestBody::SaslAuthenticate(_) = r.body {
                let mut n = a.lock().unwrap();
                *n += 1;
                if *n > 1 {
                    return Some(Action::Respond(ResponseBody::SaslAuthenticate(
                        kafka_proto::messages::SaslAuthenticateResponse {
                            error_code: 58,
                            error_message: Some("credentials revoked".into()),
                            ..Default::default()
                        },
                    )));
                }
            }
            None
        })),
        ..alice(200)
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(addr(&fake), sasl_config("alice", "alice-secret"))
        .await
        .unwrap();
    tokio::time::sleep_until(conn.reauthentication_due().unwrap().into()).await;
    let err = metadata(&conn).await.unwrap_err().to_string();
    assert!(err.contains("re-authentication failed"), "{err}");
    assert!(err.contains("credentials revoked"), "{err}");
    assert!(conn.is_closed());
}

#[tokio::test]
async fn pipelined_requests_match_out_of_order_responses() {
    // The first request is answered last: responses come back reversed.
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            let RequestBody::Metadata(m) = &r.body else {
                return None;
            };
            let name = m.topics.as_ref()?.first()?.name.clone()?;
            let i: u64 = name.trim_start_matches("t").parse().ok()?;
            let resp = MetadataResponse {
                topics: vec![MetadataResponseTopic {
                    name: Some(name),
                    ..Default::default()
                }],
                ..Default::default()
            };
            Some(Action::After(
                Duration::from_millis(100 * (5 - i)),
                Box::new(Action::Respond(ResponseBody::Metadata(resp))),
            ))
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let started = Instant::now();
    let calls = (0..5).map(|i| {
        let conn = conn.clone();
        async move {
            let req = MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(format!("t{i}")),
                    ..Default::default()
                }]),
                ..Default::default()
            };
            let resp = conn.send(&req).await.unwrap();
            (i, resp.topics[0].name.clone().unwrap())
        }
    });
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    for h in handles {
        let (i, name) = h.await.unwrap();
        assert_eq!(name, format!("t{i}"));
    }
    // Sequential requests would take 1.5 s; pipelined ones about 0.5 s.
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_request_timeout_closes_the_connection_and_says_so() {
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            matches!(r.body, RequestBody::Metadata(_)).then_some(Action::Ignore)
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(
        addr(&fake),
        ConnectionConfig {
            request_timeout: Duration::from_millis(300),
            ..config()
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let err = metadata(&conn).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(
            err,
            Error::RequestTimeout {
                api: ApiKey::Metadata,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("Metadata") && msg.contains(&fake.bootstrap()),
        "{msg}"
    );
    assert!(conn.is_closed());
    let again = metadata(&conn).await.unwrap_err();
    assert!(matches!(again, Error::Disconnected { .. }), "{again:?}");
    assert!(again.to_string().contains("no response within"), "{again}");
}

#[tokio::test]
async fn no_common_version_names_the_api_and_both_ranges() {
    let mut opts = FakeOptions::default();
    for v in &mut opts.api_versions {
        if v.0 == ApiKey::Produce.key() {
            *v = (0, 0, 2);
        }
    }
    opts.api_versions
        .retain(|v| v.0 != ApiKey::ListOffsets.key());
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let err = conn.version(ApiKey::Produce).unwrap_err().to_string();
    assert!(err.contains("Produce"), "{err}");
    assert!(err.contains("0..=2"), "{err}");
    assert!(err.contains("3..=13"), "{err}");
    let err = conn
        .send(&kafka_proto::messages::ProduceRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoCommonVersion { .. }), "{err:?}");
    let err = conn.version(ApiKey::ListOffsets).unwrap_err().to_string();
    assert!(
        err.contains("does not support the ListOffsets API"),
        "{err}"
    );
    // Nothing was sent for the refused requests.
    assert_eq!(fake.apis(), vec![ApiKey::ApiVersions]);
}

#[tokio::test]
async fn api_versions_falls_back_when_the_broker_is_older() {
    let mut opts = FakeOptions::default();
    for v in &mut opts.api_versions {
        if v.0 == ApiKey::ApiVersions.key() {
            *v = (18, 0, 2);
        }
    }
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let versions: Vec<i16> = fake
        .received()
        .iter()
        .map(|r| r.header.request_api_version)
        .collect();
    assert_eq!(versions, vec![ApiKey::ApiVersions.versions().max, 2]);
    metadata(&conn).await.unwrap();
}

#[tokio::test]
async fn malformed_responses_are_errors_not_panics() {
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            let RequestBody::Metadata(m) = &r.body else {
                return None;
            };
            let id = r.header.correlation_id;
            let which = m.topics.as_ref()?.first()?.name.clone()?;
            let mut frame = Vec::new();
            match which.as_str() {
                // Right correlation id, body cut short.
                "truncated" => {
                    frame.extend_from_slice(&6i32.to_be_bytes());
                    frame.extend_from_slice(&id.to_be_bytes());
                    frame.extend_from_slice(&[0, 0]);
                }
                // A correlation id nobody asked for.
                "stranger" => {
                    frame.extend_from_slice(&4i32.to_be_bytes());
                    frame.extend_from_slice(&(id + 1000).to_be_bytes());
                }
                // A size prefix of 2 GiB.
                _ => frame.extend_from_slice(&i32::MAX.to_be_bytes()),
            }
            Some(Action::Raw(frame))
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let req = |name: &str| MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(name.into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let err = conn.send(&req("truncated")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol {
                api: Some(ApiKey::Metadata),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        !conn.is_closed(),
        "framing is intact: the connection stays usable"
    );

    let err = conn.send(&req("stranger")).await.unwrap_err().to_string();
    assert!(err.contains("matches no outstanding request"), "{err}");
    assert!(conn.is_closed());

    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let err = conn.send(&req("huge")).await.unwrap_err().to_string();
    assert!(err.contains("exceeds the maximum frame size"), "{err}");
}

#[tokio::test]
async fn a_closed_socket_fails_outstanding_requests_with_the_reason() {
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            matches!(r.body, RequestBody::Metadata(_)).then_some(Action::Close)
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let err = metadata(&conn).await.unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err:?}");
    assert!(err.to_string().contains("closed the connection"), "{err}");
    assert!(err.is_retriable());
}

#[tokio::test]
async fn managed_connection_reconnects_and_backs_off() {
    // A broker that drops every connection on its first Metadata.
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            (matches!(r.body, RequestBody::Metadata(_)) && r.connection == 0)
                .then_some(Action::Close)
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let connector = Connector::new(config()).unwrap();
    let managed = ManagedConnection::new(connector.clone(), BrokerLabel::node(0, addr(&fake)));
    let first = managed.get().await.unwrap();
    assert!(metadata(&first).await.is_err());
    let second = managed.get().await.unwrap();
    metadata(&second).await.unwrap();
    assert_eq!(fake.received().last().unwrap().connection, 1);

    // A dead port: attempts fail, and each waits longer than the last.
    let dead = integration_tests::ports::free_port().unwrap();
    let cfg = ConnectionConfig {
        reconnect_backoff: Duration::from_millis(100),
        reconnect_backoff_max: Duration::from_millis(400),
        ..config()
    };
    let managed = ManagedConnection::new(
        Connector::new(cfg).unwrap(),
        BrokerLabel::node(7, format!("127.0.0.1:{dead}").parse().unwrap()),
    );
    let mut gaps = Vec::new();
    for _ in 0..4 {
        let t = Instant::now();
        let err = managed.get().await.unwrap_err();
        gaps.push(t.elapsed());
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("127.0.0.1:{dead}")) && msg.contains("broker 7"),
            "{msg}"
        );
    }
    assert_eq!(managed.failures().await, 4);
    // Nominal waits: 0, 100, 200, 400 ms (±20%).
    assert!(gaps[1] >= Duration::from_millis(75), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(155), "{gaps:?}");
    assert!(gaps[3] >= Duration::from_millis(315), "{gaps:?}");
    assert!(gaps[3] < Duration::from_secs(3), "{gaps:?}");
}

#[tokio::test]
async fn bootstrap_failure_lists_every_address_and_reason() {
    let a = integration_tests::ports::free_port().unwrap();
    let b = integration_tests::ports::free_port().unwrap();
    let cfg = ClusterConfig {
        bootstrap_servers: vec![
            format!("127.0.0.1:{a}, 127.0.0.1:{b}"),
            "no-port-here".into(),
        ],
        connection: config(),
        ..ClusterConfig::new("")
    };
    let err = Cluster::connect(cfg).await.unwrap_err();
    let Error::Bootstrap { attempts } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(attempts.len(), 3);
    let msg = err.to_string();
    for needle in [
        format!("127.0.0.1:{a}: cannot connect"),
        format!("127.0.0.1:{b}: cannot connect"),
        "no-port-here: invalid configuration".to_owned(),
        "Connection refused".to_owned(),
    ] {
        assert!(msg.contains(&needle), "{needle:?} not in {msg}");
    }
}

#[tokio::test]
async fn bootstrap_skips_dead_addresses() {
    let fake = FakeBroker::start(FakeOptions {
        topics: vec![("orders".into(), 2)],
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let dead = integration_tests::ports::free_port().unwrap();
    let cluster = Cluster::connect(ClusterConfig {
        connection: config(),
        ..ClusterConfig::new(format!("127.0.0.1:{dead},{}", fake.bootstrap()))
    })
    .await
    .unwrap();
    let leader = cluster.leader("orders", 1).await.unwrap();
    assert_eq!(leader.node_id, 0);
    let err = cluster.leader("nope", 0).await.unwrap_err().to_string();
    assert!(err.contains("\"nope\" does not exist"), "{err}");
}

#[tokio::test]
async fn plaintext_client_on_a_tls_port_is_told_so() {
    // The fake answers ApiVersions with the first bytes of a TLS alert.
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            matches!(r.body, RequestBody::ApiVersions(_))
                .then(|| Action::Raw(vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]))
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let err = Connection::connect(addr(&fake), config())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("security.protocol SSL"), "{err}");
}

#[tokio::test]
async fn unknown_requests_use_default_handling() {
    // Sanity check of the fake itself: the default action for Metadata.
    let fake = FakeBroker::start(FakeOptions::default()).await.unwrap();
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let m = metadata(&conn).await.unwrap();
    assert_eq!(m.brokers[0].port, i32::from(fake.addr().port()));
    let _ = default_action;
}

#[tokio::test]
async fn metadata_is_refreshed_periodically_and_after_a_disconnect() {
    let fake = FakeBroker::start(FakeOptions {
        topics: vec![("t".into(), 1)],
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let count = |f: &FakeBroker| f.apis().iter().filter(|a| **a == ApiKey::Metadata).count();
    let cluster = Cluster::connect(ClusterConfig {
        connection: config(),
        metadata_max_age: Duration::from_millis(150),
        metadata_refresh_backoff: Duration::from_millis(10),
        ..ClusterConfig::new(fake.bootstrap())
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&fake) < 4 {
        assert!(
            Instant::now() < deadline,
            "no periodic refresh: {:?}",
            fake.apis()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A dropped connection asks for a refresh at once (long max age now).
    let fake2 = FakeBroker::start(FakeOptions {
        topics: vec![("t".into(), 1)],
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let cluster2 = Cluster::connect(ClusterConfig {
        connection: config(),
        metadata_refresh_backoff: Duration::from_millis(10),
        ..ClusterConfig::new(fake2.bootstrap())
    })
    .await
    .unwrap();
    let (_, conn) = cluster2.leader_connection("t", 0).await.unwrap();
    let before = count(&fake2);
    conn.close();
    // The next use finds it closed, reconnects, and triggers a refresh.
    cluster2.leader_connection("t", 0).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&fake2) <= before {
        assert!(
            Instant::now() < deadline,
            "no refresh after disconnect: {:?}",
            fake2.apis()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(cluster);
}

#[tokio::test]
async fn api_versions_error_in_an_unreadable_layout_falls_back_to_v0() {
    // librdkafka's mock answers unsupported ApiVersions versions with a
    // body that is neither v0 nor the version asked; only the error code
    // (35) is readable.
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            if !matches!(r.body, RequestBody::ApiVersions(_)) || r.header.request_api_version == 0 {
                return None;
            }
            let mut frame = vec![0, 0, 0, 17];
            frame.extend_from_slice(&r.header.correlation_id.to_be_bytes());
            frame.extend_from_slice(&[0, 35, 1, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0]);
            Some(Action::Raw(frame))
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let versions: Vec<i16> = fake
        .received()
        .iter()
        .map(|r| r.header.request_api_version)
        .collect();
    assert_eq!(versions, vec![ApiKey::ApiVersions.versions().max, 0]);
    metadata(&conn).await.unwrap();
}

#[tokio::test]
async fn a_broker_with_only_sasl_handshake_v0_is_refused_clearly() {
    let mut opts = alice(0);
    for v in &mut opts.api_versions {
        if v.0 == ApiKey::SaslHandshake.key() {
            *v = (17, 0, 0);
        }
    }
    let fake = FakeBroker::start(opts).await.unwrap();
    let err = Connection::connect(addr(&fake), sasl_config("alice", "alice-secret"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SaslProtocol { .. }), "{err:?}");
    assert!(err.to_string().contains("SaslHandshake v0"), "{err}");
}

#[tokio::test]
async fn produce_with_acks_zero_expects_no_response() {
    let opts = FakeOptions {
        handler: Some(Arc::new(|r: &Received| {
            matches!(r.body, RequestBody::Produce(_)).then_some(Action::Ignore)
        })),
        ..FakeOptions::default()
    };
    let fake = FakeBroker::start(opts).await.unwrap();
    let conn = Connection::connect(addr(&fake), config()).await.unwrap();
    let version = conn.version(ApiKey::Produce).unwrap();
    let request = kafka_proto::messages::ProduceRequest {
        acks: 0,
        timeout_ms: 1000,
        ..Default::default()
    };
    conn.send_without_response(&request, version).await.unwrap();
    // The connection stays in step: the next request is answered.
    metadata(&conn).await.unwrap();
    assert_eq!(
        fake.apis(),
        vec![ApiKey::ApiVersions, ApiKey::Produce, ApiKey::Metadata]
    );
}

#[tokio::test]
async fn an_unresolvable_host_is_named() {
    let err = Connection::connect(
        "no-such-broker.invalid:9092".parse().unwrap(),
        ConnectionConfig {
            connect_timeout: Duration::from_secs(5),
            ..config()
        },
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no-such-broker.invalid:9092"), "{msg}");
    assert!(
        msg.contains("does not resolve") || msg.contains("DNS lookup"),
        "{msg}"
    );
}
