//! The one error type of this crate.
//!
//! Every variant says what failed, where (broker, API, topic, partition) and
//! what to do about it. Secrets never appear in messages.

use std::{fmt, io, time::Duration};

use kafka_proto::{ApiKey, EncodeError, ErrorCode, VersionRange};

use crate::address::BrokerLabel;
use crate::config::SaslMechanism;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a Kafka cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is unusable.
    #[error("invalid configuration: {what}. {hint}")]
    Config {
        /// What is wrong.
        what: String,
        /// How to fix it.
        hint: String,
    },

    /// A certificate, key, keystore or truststore could not be loaded.
    #[error("cannot load {what} from {source_name}: {reason}. {hint}")]
    TlsMaterial {
        /// What was being loaded, e.g. "the CA bundle".
        what: &'static str,
        /// The file (or "inline PEM").
        source_name: String,
        /// Why it failed.
        reason: String,
        /// How to fix it.
        hint: String,
    },

    /// The TCP connection could not be opened.
    #[error("cannot connect to {broker}: {source}. {hint}")]
    Connect {
        /// The broker.
        broker: BrokerLabel,
        /// The OS error.
        #[source]
        source: io::Error,
        /// What to check.
        hint: String,
    },

    /// Opening the TCP connection, or the TLS/SASL handshake, took too long.
    #[error("connecting to {broker} timed out after {timeout:?} ({stage}). Check that the address is reachable from here and that the port speaks {expected}")]
    ConnectTimeout {
        /// The broker.
        broker: BrokerLabel,
        /// The configured connect timeout.
        timeout: Duration,
        /// Which step was running: "TCP connect", "TLS handshake", ...
        stage: &'static str,
        /// The security protocol expected on that port.
        expected: &'static str,
    },

    /// The TLS handshake failed.
    #[error("TLS handshake with {broker} failed: {reason}. {hint}")]
    Tls {
        /// The broker.
        broker: BrokerLabel,
        /// What rustls or the peer said.
        reason: String,
        /// How to fix it.
        hint: String,
    },

    /// The broker rejected the credentials.
    #[error("SASL {mechanism} authentication to {broker} failed: the broker says {message:?}. Check the username and password (and that the user exists for {mechanism} on that cluster)")]
    SaslAuthentication {
        /// The broker.
        broker: BrokerLabel,
        /// The mechanism used.
        mechanism: SaslMechanism,
        /// The broker's own error message (or the error code's description).
        message: String,
    },

    /// The broker does not enable the configured SASL mechanism.
    #[error("{broker} does not enable SASL mechanism {mechanism}; it offers [{}]. Configure one of those, or enable {mechanism} in the broker's sasl.enabled.mechanisms", offered.join(", "))]
    SaslMechanismNotEnabled {
        /// The broker.
        broker: BrokerLabel,
        /// The mechanism asked for.
        mechanism: SaslMechanism,
        /// The mechanisms the broker offers.
        offered: Vec<String>,
    },

    /// The SASL exchange broke down (bad server message, failed server
    /// signature, unexpected state).
    #[error("SASL {mechanism} exchange with {broker} failed: {reason}")]
    SaslProtocol {
        /// The broker.
        broker: BrokerLabel,
        /// The mechanism used.
        mechanism: SaslMechanism,
        /// What went wrong.
        reason: String,
    },

    /// No version of an API is spoken by both sides.
    #[error("{broker} and this client have no {api} version in common: the broker supports {api} {theirs}, this client {ours}. Upgrade the older side, or use a broker version this client supports")]
    NoCommonVersion {
        /// The broker.
        broker: BrokerLabel,
        /// The API.
        api: ApiKey,
        /// Versions this client speaks (after any configured cap).
        ours: VersionRange,
        /// Versions the broker advertised.
        theirs: VersionRange,
    },

    /// The broker does not advertise an API at all.
    #[error("{broker} does not support the {api} API (not in its ApiVersions response). It may be too old, or not a Kafka broker")]
    ApiNotSupported {
        /// The broker.
        broker: BrokerLabel,
        /// The API.
        api: ApiKey,
    },

    /// A request got no response in time. The connection is closed, as the
    /// Java client does, because its state is unknown.
    #[error("{api} request to {broker} timed out after {timeout:?}; the connection was closed. The broker may be overloaded or unreachable; raise the request timeout if it is just slow")]
    RequestTimeout {
        /// The broker.
        broker: BrokerLabel,
        /// The API of the request.
        api: ApiKey,
        /// The timeout.
        timeout: Duration,
    },

    /// The connection is closed or broke while a request was outstanding.
    #[error("connection to {broker} is closed: {reason}")]
    Disconnected {
        /// The broker.
        broker: BrokerLabel,
        /// Why.
        reason: String,
    },

    /// The broker sent something that is not valid Kafka protocol.
    #[error("{broker} sent an invalid {}: {reason}. Is this port a Kafka listener with the right security protocol?", api.map(|a| format!("{a} response")).unwrap_or_else(|| "frame".to_owned()))]
    Protocol {
        /// The broker.
        broker: BrokerLabel,
        /// The API whose response it was, when known.
        api: Option<ApiKey>,
        /// What is wrong.
        reason: String,
    },

    /// A request could not be encoded in the negotiated version.
    #[error("cannot encode a {api} v{version} request: {source}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// The version chosen.
        version: i16,
        /// The codec's reason.
        #[source]
        source: EncodeError,
    },

    /// A broker answered with an error code.
    #[error("{broker} answered {api}{} with {} ({}): {}. {}", context.as_deref().map(|c| format!(" for {c}")).unwrap_or_default(), code.name(), code.code(), message.as_deref().unwrap_or(code.description()).trim_end_matches('.'), hint_for_code(*code))]
    Broker {
        /// The broker.
        broker: BrokerLabel,
        /// The API.
        api: ApiKey,
        /// The error code.
        code: ErrorCode,
        /// Topic, partition or group, when the error is about one.
        context: Option<String>,
        /// The broker's error message, when it sent one.
        message: Option<String>,
    },

    /// None of the bootstrap addresses answered.
    #[error("could not bootstrap from any of the {} configured address(es):\n{}\nCheck bootstrap.servers, the security protocol and the network path", attempts.len(), BootstrapList(attempts))]
    Bootstrap {
        /// Each address tried, with why it failed.
        attempts: Vec<BootstrapAttempt>,
    },

    /// A broker's advertised address cannot be reached.
    #[error("broker {node_id} advertises {advertised}{}, which cannot be reached from here: {source}. The cluster's advertised.listeners name an address this client cannot reach (common behind NAT, proxies or in containers): fix advertised.listeners, or add an address override {advertised} -> <reachable host:port>", if dialled == advertised { String::new() } else { format!(" (overridden to {dialled})") })]
    AdvertisedUnreachable {
        /// The broker's node id.
        node_id: i32,
        /// The address in metadata.
        advertised: String,
        /// The address dialled (after overrides).
        dialled: String,
        /// The connection error.
        #[source]
        source: Box<Error>,
    },

    /// The topic is not in the cluster's metadata.
    #[error("topic {topic:?} does not exist on the cluster{}. Create it, or check the name", code.map(|c| format!(" ({c})")).unwrap_or_default())]
    UnknownTopic {
        /// The topic.
        topic: String,
        /// The topic-level error from metadata, when there was one.
        code: Option<ErrorCode>,
    },

    /// The partition is not in the topic's metadata.
    #[error(
        "topic {topic:?} has no partition {partition} (it has {count}). Check the partition number"
    )]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// The partition count.
        count: usize,
    },

    /// The partition has no leader right now.
    #[error("partition {topic}-{partition} has no leader right now ({reason}). A leader election is probably in progress: retry shortly; if it persists, check that the partition's replicas are alive")]
    NoLeader {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What metadata said.
        reason: String,
    },

    /// Metadata names a broker id that is not in the broker list.
    #[error("metadata names broker {node_id}, but the cluster's broker list does not include it. The cluster is probably changing; retry after a metadata refresh")]
    UnknownBroker {
        /// The node id.
        node_id: i32,
    },

    /// The client was shut down.
    #[error("the Kafka client was shut down")]
    Shutdown,
}

impl Error {
    /// Whether the same operation may succeed if tried again later (after a
    /// reconnect or a metadata refresh).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::ConnectTimeout { .. }
            | Error::RequestTimeout { .. }
            | Error::Disconnected { .. }
            | Error::Bootstrap { .. }
            | Error::AdvertisedUnreachable { .. }
            | Error::NoLeader { .. }
            | Error::UnknownBroker { .. } => true,
            Error::Broker { code, .. } => code.is_retriable(),
            _ => false,
        }
    }

    /// The broker the error is about, when it is about one (for logs and
    /// routing; the message names it too).
    pub fn broker(&self) -> Option<&BrokerLabel> {
        match self {
            Error::Connect { broker, .. }
            | Error::ConnectTimeout { broker, .. }
            | Error::Tls { broker, .. }
            | Error::SaslAuthentication { broker, .. }
            | Error::SaslMechanismNotEnabled { broker, .. }
            | Error::SaslProtocol { broker, .. }
            | Error::NoCommonVersion { broker, .. }
            | Error::ApiNotSupported { broker, .. }
            | Error::RequestTimeout { broker, .. }
            | Error::Disconnected { broker, .. }
            | Error::Protocol { broker, .. }
            | Error::Broker { broker, .. } => Some(broker),
            Error::AdvertisedUnreachable { source, .. } => source.broker(),
            _ => None,
        }
    }

    /// The broker error code, for [`Error::Broker`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// One bootstrap address and why it failed.
#[derive(Debug)]
pub struct BootstrapAttempt {
    /// The address as configured.
    pub address: String,
    /// Why it failed.
    pub error: Error,
}

struct BootstrapList<'a>(&'a [BootstrapAttempt]);

impl fmt::Display for BootstrapList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {}: {}", a.address, a.error)?;
        }
        Ok(())
    }
}

/// What to do about a broker error code.
pub(crate) fn hint_for_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NOT_LEADER_OR_FOLLOWER
        | ErrorCode::FENCED_LEADER_EPOCH
        | ErrorCode::UNKNOWN_LEADER_EPOCH
        | ErrorCode::LEADER_NOT_AVAILABLE => {
            "Leadership moved; refresh metadata and retry on the new leader"
        }
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION | ErrorCode::UNKNOWN_TOPIC_ID => {
            "The topic or partition is unknown to this broker; refresh metadata, and create the topic if it does not exist"
        }
        ErrorCode::TOPIC_AUTHORIZATION_FAILED
        | ErrorCode::GROUP_AUTHORIZATION_FAILED
        | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
        | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => {
            "Grant this principal the needed ACLs"
        }
        ErrorCode::NOT_COORDINATOR
        | ErrorCode::COORDINATOR_NOT_AVAILABLE
        | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
            "Look the coordinator up again with FindCoordinator and retry"
        }
        ErrorCode::UNSUPPORTED_VERSION => {
            "The broker refused the request version; this is a client bug if versions were negotiated"
        }
        ErrorCode::SASL_AUTHENTICATION_FAILED => "Check the credentials",
        ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE => {
            "Send smaller batches, or raise the topic's max.message.bytes"
        }
        c if c.is_retriable() => "This error is retriable; retry after a short backoff",
        _ => "See the broker logs for details",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::BrokerAddress;

    fn label() -> BrokerLabel {
        BrokerLabel::node(2, BrokerAddress::new("10.0.0.2", 9092))
    }

    #[test]
    fn bootstrap_error_lists_every_address() {
        let err = Error::Bootstrap {
            attempts: vec![
                BootstrapAttempt {
                    address: "a:1".into(),
                    error: Error::Shutdown,
                },
                BootstrapAttempt {
                    address: "b:2".into(),
                    error: Error::Config {
                        what: "x".into(),
                        hint: "y".into(),
                    },
                },
            ],
        };
        let s = err.to_string();
        assert!(s.contains("2 configured address"), "{s}");
        assert!(s.contains("  - a:1: the Kafka client was shut down"), "{s}");
        assert!(s.contains("  - b:2: invalid configuration: x"), "{s}");
    }

    #[test]
    fn broker_error_names_where_and_what_to_do() {
        let err = Error::Broker {
            broker: label(),
            api: ApiKey::Produce,
            code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
            context: Some("orders-3".into()),
            message: None,
        };
        let s = err.to_string();
        assert!(s.contains("broker 2 at 10.0.0.2:9092"), "{s}");
        assert!(s.contains("Produce for orders-3"), "{s}");
        assert!(s.contains("NOT_LEADER_OR_FOLLOWER"), "{s}");
        assert!(s.contains("refresh metadata"), "{s}");
        assert!(err.is_retriable());
    }

    #[test]
    fn advertised_unreachable_names_broker_address_and_cause() {
        let err = Error::AdvertisedUnreachable {
            node_id: 4,
            advertised: "kafka-4.internal:9092".into(),
            dialled: "kafka-4.internal:9092".into(),
            source: Box::new(Error::Shutdown),
        };
        let s = err.to_string();
        assert!(
            s.contains("broker 4 advertises kafka-4.internal:9092"),
            "{s}"
        );
        assert!(s.contains("advertised.listeners"), "{s}");
        assert!(s.contains("override"), "{s}");
        assert!(!s.contains("overridden"), "{s}");
        let err = Error::AdvertisedUnreachable {
            node_id: 4,
            advertised: "kafka-4.internal:9092".into(),
            dialled: "127.0.0.1:1".into(),
            source: Box::new(Error::Shutdown),
        };
        assert!(err.to_string().contains("(overridden to 127.0.0.1:1)"));
    }

    #[test]
    fn no_leader_is_not_a_bare_code() {
        let err = Error::NoLeader {
            topic: "t".into(),
            partition: 0,
            reason: "LEADER_NOT_AVAILABLE".into(),
        };
        let s = err.to_string();
        assert!(s.contains("t-0 has no leader"), "{s}");
        assert!(s.contains("retry"), "{s}");
    }
}
