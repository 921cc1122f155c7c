//! Apache Kafka itself as a test peer: the judge the lenient peers (Tansu,
//! librdkafka's mock) are not.
//!
//! - [`KafkaCluster`]: KRaft nodes (broker and controller in one JVM) of
//!   the current 4.x line or the 3.9 line, one or several, with PLAINTEXT
//!   and any of SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256/512), SSL, SASL_SSL
//!   and mutual TLS ([`Listener`]) with stores made by `keytool`
//!   ([`KafkaStores`]); or a 3.9 broker in ZooKeeper mode
//!   ([`MetadataMode::ZooKeeper`]) for legacy magic 0/1 data. Nodes can be
//!   stopped, killed, paused and started again.
//! - [`shared_pair`] and [`shared_secure`]: clusters shared by the tests of
//!   one binary (give each test its own topic and group names), started
//!   once, killed when the test process exits.
//! - Kafka's own tools ([`KafkaCluster::java_consume`],
//!   [`KafkaCluster::group_offsets`], [`KafkaCluster::reset_group_offsets`])
//!   and [`MirrorMaker2`].
//!
//! The jars come from `.ci/install-deps kafka` (versions in
//! `tests/kafka/versions.env`); a missing Java or jar folder is an error
//! that says how to install it, never a skip.

mod admin;
mod cluster;
mod java;
mod mm2;
mod stores;
mod tools;

use std::sync::{Mutex, OnceLock};

pub use cluster::{KafkaCluster, KafkaOptions, Listener, MetadataMode, SASL_USERS};
pub use java::{
    class_path, find_java, find_keytool, jars_dir, jars_dir_in, java_command, run_tool,
    ExitCleanup, JavaProcess, Jvm, KafkaLine, KAFKA_INSTALL_HINT,
};
pub use mm2::{mm2_properties, MirrorMaker2, MM2_MAIN, SINGLE_BROKER};
pub use stores::{KafkaStores, STORE_PASSWORD};
pub use tools::{DumpedBatch, Isolation, JavaRecord};

/// The shared clusters of this process, whose folders a failing test keeps.
fn shared_registry() -> &'static Mutex<Vec<&'static KafkaCluster>> {
    static REGISTRY: OnceLock<Mutex<Vec<&'static KafkaCluster>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        // A panic in any test keeps the shared clusters' logs, and says where.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let shared = shared_registry().lock().unwrap_or_else(|e| e.into_inner());
            for c in shared.iter() {
                c.keep_on_exit();
                eprintln!(
                    "(a shared Apache Kafka cluster's logs are kept in {})",
                    c.dir().display()
                );
            }
        }));
        Mutex::new(Vec::new())
    })
}

fn share(cluster: KafkaCluster) -> &'static KafkaCluster {
    let leaked: &'static KafkaCluster = Box::leak(Box::new(cluster));
    shared_registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(leaked);
    leaked
}

fn start_or_panic(opts: KafkaOptions) -> KafkaCluster {
    KafkaCluster::start_with(opts).unwrap_or_else(|e| panic!("{e}"))
}

/// Two single-node clusters of the current line, a source and a target,
/// shared by every test of this binary (started on first use, in
/// parallel). Tests must use their own topic and group names.
pub fn shared_pair() -> (&'static KafkaCluster, &'static KafkaCluster) {
    static PAIR: OnceLock<(&'static KafkaCluster, &'static KafkaCluster)> = OnceLock::new();
    *PAIR.get_or_init(|| {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| start_or_panic(KafkaOptions::default()));
            let b = s.spawn(|| start_or_panic(KafkaOptions::default()));
            (a.join(), b.join())
        });
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
        };
        (share(a), share(b))
    })
}

/// A single-node cluster with every secured listener ([`Listener::ALL`]),
/// shared by the tests of this binary.
pub fn shared_secure() -> &'static KafkaCluster {
    static SECURE: OnceLock<&'static KafkaCluster> = OnceLock::new();
    SECURE.get_or_init(|| {
        share(start_or_panic(KafkaOptions {
            listeners: Listener::ALL.to_vec(),
            ..KafkaOptions::default()
        }))
    })
}

/// A fresh single-node cluster of the current line (owned by the test).
pub fn kafka() -> KafkaCluster {
    start_or_panic(KafkaOptions::default())
}

/// A fresh cluster with `opts` (owned by the test).
pub fn kafka_with(opts: KafkaOptions) -> KafkaCluster {
    start_or_panic(opts)
}
