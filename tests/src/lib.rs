//! Test harness for integration tests against real Kafka-compatible peers.
//!
//! - [`TansuBroker`]: a throw-away [Tansu](https://crates.io/crates/tansu) broker
//!   on a free loopback port, with SQLite storage in a fresh temp dir. It can be
//!   stopped, killed, paused, resumed and restarted on the same data, and set up
//!   with SCRAM users and `--authentication`.
//! - [`StunnelFront`]: a TLS (optionally mutual TLS) front in front of any
//!   plaintext port, using Debian's `stunnel4` and a throw-away CA made with
//!   `openssl`.
//! - [`ports`]: free-port allocation and readiness waits.
//! - [`wire`]: a few hand-written raw Kafka frames (ApiVersions, Metadata,
//!   SaslHandshake) that do not depend on `kafka-proto`, to probe a broker.
//! - [`mock`]: librdkafka's mock cluster (several brokers, leader moves,
//!   brokers down, injected errors) through the `rdkafka` crate.
//! - [`fake_broker`]: a scripted fake broker (SASL/PLAIN, chosen version
//!   ranges, delayed, malformed or missing responses).
//! - [`fake_source`]: a scripted source cluster on the fake broker whose
//!   Fetch answers a test writes, for the mirror tests.
//! - [`strict_front`]: a proxy before Tansu that answers each Produce
//!   partition Apache Kafka would refuse with Kafka's error
//!   ([`StrictTansu`]); the fakes apply the same rules themselves.
//! - [`pki`] and [`tls_proxy`]: certificates made per test (expired, wrong
//!   name, PKCS#12) and a `stunnel4` front that serves them; [`keytool`]:
//!   JKS and PKCS#12 stores written by the real `keytool`.
//! - [`kafka`]: Apache Kafka itself (KRaft nodes, one or three, every
//!   listener type; 3.9 in ZooKeeper mode), its Java tools, and
//!   MirrorMaker 2: the judge.
//! - [`python`]: the project's venv, for kafka-python and confluent-kafka.
//! - [`tshark`]: loopback captures decoded by Wireshark's Kafka dissector.
//! - [`requests`], [`round_trip`], [`log_capture`]: shared request builders,
//!   the every-API round trip, and `tracing` capture for assertions.
//!
//! The external programs are installed by `.ci/install-deps`. A missing
//! program is an error with install instructions, never a silent skip.

mod error;
pub mod fake_broker;
pub mod fake_source;
pub mod kafka;
pub mod keytool;
pub mod log_capture;
pub mod mirror_support;
pub mod mock;
pub mod peer;
pub mod pki;
pub mod ports;
pub mod python;
pub mod requests;
pub mod round_trip;
pub mod strict_front;
mod tansu;
mod tls;
pub mod tls_proxy;
pub mod tshark;
pub mod wire;

pub use error::{HarnessError, Result};
pub use strict_front::{StrictFront, StrictTansu};
pub use tansu::{
    find_tansu, find_tansu_in, ScramMechanism, Storage, TansuBroker, TansuOptions,
    TANSU_INSTALL_HINT,
};
pub use tls::{StunnelFront, TlsMaterial};
