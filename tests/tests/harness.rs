//! Proves the harness works against a real Tansu broker.
//!
//! Needs `tansu` (and for the TLS test `stunnel4` and `openssl`): run
//! `.ci/install-deps`. A missing program fails the test with install
//! instructions; nothing is skipped.

use std::{
    io::{self, Write},
    net::TcpStream,
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use integration_tests::{ports, wire, ScramMechanism, Storage, TansuBroker, TansuOptions};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn connect(broker: &TansuBroker) -> TcpStream {
    let stream = TcpStream::connect(broker.addr()).expect("connect to tansu");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

fn start(opts: TansuOptions) -> TansuBroker {
    TansuBroker::start_with(opts).unwrap_or_else(|e| panic!("{e}"))
}

fn raw_topics(broker: &TansuBroker) -> Vec<wire::TopicMetadata> {
    wire::metadata_all_topics(&mut connect(broker), 7).expect("metadata v1")
}

#[test]
fn broker_starts_and_answers_api_versions() {
    let broker = start(TansuOptions::default());
    assert!(broker.bootstrap().starts_with("127.0.0.1:"));
    assert!(ports::accepts(broker.addr()));

    let (error, ranges) = wire::api_versions(&mut connect(&broker), 1).expect("api versions");
    assert_eq!(error, 0, "ApiVersions error; log:\n{}", broker.log());
    for key in [0, 1, 3, 18] {
        assert!(
            ranges.iter().any(|r| r.api_key == key),
            "api {key} missing in {ranges:?}"
        );
    }
    let metadata = ranges.iter().find(|r| r.api_key == 3).unwrap();
    assert!(metadata.min <= 1 && metadata.max >= 1, "{metadata:?}");
}

#[test]
fn kill_and_restart_keep_sqlite_data() {
    let mut broker = start(TansuOptions::default());
    let port = broker.port();
    broker.create_topic("persisted", 3).expect("create topic");
    assert!(broker
        .list_topics()
        .unwrap()
        .contains(&"persisted".to_owned()));

    broker.kill().unwrap();
    assert!(!broker.is_running());
    assert!(!ports::accepts(broker.addr()));
    assert!(broker.dir().join("tansu.db").exists());

    broker.start_again().unwrap();
    assert_eq!(broker.port(), port);
    let topics = broker.list_topics().unwrap();
    assert!(topics.contains(&"persisted".to_owned()), "{topics:?}");
    let raw = raw_topics(&broker);
    let t = raw
        .iter()
        .find(|t| t.name == "persisted")
        .unwrap_or_else(|| panic!("persisted not in raw metadata {raw:?}"));
    assert_eq!((t.error, t.partitions), (0, 3));
}

#[test]
fn graceful_restart_keeps_data_and_port() {
    let mut broker = start(TansuOptions::default());
    broker.create_topic("kept", 1).unwrap();
    let (port, pid) = (broker.port(), broker.pid());
    broker.restart().unwrap();
    assert_eq!(broker.port(), port);
    assert_ne!(broker.pid(), pid);
    assert!(raw_topics(&broker).iter().any(|t| t.name == "kept"));
}

#[test]
fn pause_freezes_and_resume_answers() {
    let mut broker = start(TansuOptions::default());
    let mut stream = connect(&broker);
    broker.pause().unwrap();
    assert!(broker.is_paused() && broker.is_running());

    stream
        .write_all(&wire::encode_request(wire::api::API_VERSIONS, 0, 42, &[]))
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0; 1];
    let err = stream
        .peek(&mut byte)
        .expect_err("a paused broker answered");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err}"
    );

    broker.resume().unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let frame = wire::read_frame(&mut stream).expect("answer after resume");
    assert_eq!(frame[..4], 42i32.to_be_bytes());
}

#[test]
fn drop_kills_the_broker() {
    let broker = start(TansuOptions::default());
    let pid = broker.pid().unwrap();
    let addr = broker.addr();
    let dir = broker.dir().to_owned();
    drop(broker);
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert!(!ports::accepts(addr));
    assert!(!dir.exists());
}

#[test]
fn memory_storage_starts() {
    let broker = start(TansuOptions {
        storage: Storage::Memory,
        ..TansuOptions::default()
    });
    broker.create_topic("in-memory", 2).unwrap();
    assert!(raw_topics(&broker)
        .iter()
        .any(|t| t.name == "in-memory" && t.partitions == 2));
}

#[test]
fn scram_users_then_authentication() {
    let broker = TansuBroker::start_with_scram_users(
        TansuOptions::default(),
        &[
            ("alice", "alice-secret", ScramMechanism::Sha256),
            ("bob", "bob-secret", ScramMechanism::Sha512),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(broker.options().authentication);

    let (error, mechanisms) = wire::sasl_handshake(
        &mut connect(&broker),
        1,
        ScramMechanism::Sha256.kafka_name(),
    )
    .expect("sasl handshake");
    assert_eq!(error, 0, "mechanisms offered: {mechanisms:?}");
    assert!(
        mechanisms.iter().any(|m| m == "SCRAM-SHA-256"),
        "{mechanisms:?}"
    );

    // Tansu has no PLAIN: Kafka answers UNSUPPORTED_SASL_MECHANISM (33);
    // Tansu 0.6.0 just closes the connection.
    match wire::sasl_handshake(&mut connect(&broker), 2, "PLAIN") {
        Ok((error, _)) => assert_eq!(error, 33),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}"),
    }
}

/// Sends ApiVersions v0 through `openssl s_client` and returns the first
/// response frame, or an error when TLS fails.
fn api_versions_over_tls(
    bootstrap: &str,
    ca: &Path,
    client: Option<(&Path, &Path)>,
) -> io::Result<Vec<u8>> {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-quiet",
        "-verify_return_error",
        "-connect",
        bootstrap,
    ])
    .arg("-CAfile")
    .arg(ca)
    .args(["-verify_ip", "127.0.0.1"]);
    if let Some((cert, key)) = client {
        cmd.arg("-cert").arg(cert).arg("-key").arg(key);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(&wire::encode_request(wire::api::API_VERSIONS, 0, 9, &[]))?;
    stdin.flush()?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(wire::read_frame(&mut stdout));
    });
    let result = rx
        .recv_timeout(IO_TIMEOUT)
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "no TLS answer")));
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    result
}

#[test]
fn mutual_tls_front_forwards_to_tansu() {
    let (broker, front) = TansuBroker::start_behind_tls(TansuOptions::default(), true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(broker.advertised_port(), front.port());
    let m = front.material();

    let frame = api_versions_over_tls(
        &front.bootstrap(),
        &m.ca_cert,
        Some((&m.client_cert, &m.client_key)),
    )
    .expect("ApiVersions over mTLS");
    assert_eq!(frame[..4], 9i32.to_be_bytes());
    assert_eq!(frame[4..6], [0, 0], "error code");

    let without_cert = api_versions_over_tls(&front.bootstrap(), &m.ca_cert, None);
    assert!(
        without_cert.is_err(),
        "mTLS front answered a client without a certificate"
    );
}
