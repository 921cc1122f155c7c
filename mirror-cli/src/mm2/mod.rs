//! Reads MirrorMaker 2 configuration files (the `.properties` file given to
//! `connect-mirror-maker.sh`), so that an existing MirrorMaker 2 setup can be
//! pointed at this project unchanged, or be told exactly which line is not
//! supported and why.
//!
//! ```
//! use mirror_cli::mm2::Mm2Config;
//! use replicator_core::RenamePolicy;
//!
//! let config = Mm2Config::from_str(
//!     "clusters = a, b\n\
//!      a.bootstrap.servers = a-1.example.com:9092\n\
//!      b.bootstrap.servers = b-1.example.com:9092\n\
//!      a->b.enabled = true\n\
//!      a->b.topics = orders, payments-.*\n\
//!      tasks.max = 4\n",
//!     "mm2.properties",
//! )?;
//! let flow = config.flow("a", "b").unwrap();
//! assert!(flow.selects("payments-eu"));
//! assert_eq!(flow.remote_topic("orders"), "a.orders");
//! assert_eq!(flow.policy, RenamePolicy::prefix("a"));
//! let b = config.cluster_config("b").unwrap();
//! assert_eq!(b.bootstrap_servers, ["b-1.example.com:9092"]);
//! // tasks.max has no effect here, and the warning says so (with its line).
//! assert_eq!(config.warnings[0].line, Some(6));
//! # Ok::<(), mirror_cli::mm2::Mm2Error>(())
//! ```
//!
//! [`Mm2Config::from_path`] and [`Mm2Config::from_str`] parse and validate;
//! [`Mm2Config::check_files`] then opens the key and trust stores the file
//! names (with their passwords), and [`Mm2Config::load`] does both. Each
//! flow maps straight onto the engine's types: its [`FlowConfig::policy`]
//! is a [`replicator_core::RenamePolicy`], its start policy a
//! [`replicator_core::StartFrom`], its topics a
//! [`replicator_core::TopicSelection`] ([`FlowConfig::topic_selection`]),
//! and [`crate::mapping`] builds the mirror.
//!
//! # How keys are read
//!
//! The file is read as Java reads it ([`properties`]): `key=value`,
//! `key: value` and `key value`, `#`/`!` comments, backslash continuations,
//! `\uXXXX` escapes; the last of repeated keys wins. As in MirrorMaker 2,
//! a key belongs to
//!
//! - a **flow** when it starts with `source->target.` (e.g.
//!   `a->b.topics`),
//! - a **cluster** when it starts with an alias from `clusters` and a dot
//!   (e.g. `a.security.protocol`); the longest alias wins,
//! - **this project** when it starts with `replicator.`, and otherwise
//! - the **top level**, where flow settings are defaults for every flow and
//!   client settings are defaults for every cluster.
//!
//! Values are trimmed, as Kafka's `ConfigDef` does. Booleans are `true` or
//! `false` (any case). Lists are comma-separated.
//!
//! Every key ends up in exactly one of three places: used (the tables
//! below), a warning of kind [`WarningKind::NoEffect`] for known
//! MirrorMaker 2, Connect and Kafka client keys this project deliberately
//! ignores (the warning says why), or a warning of kind
//! [`WarningKind::UnknownKey`]. Values that cannot be used are errors
//! ([`Mm2Error::Value`]) naming the key, the line and what is accepted.
//! Secrets (passwords, `sasl.jaas.config`, PEM keys) never appear in errors,
//! warnings or `Debug` output.
//!
//! # Cluster keys
//!
//! Written `<alias>.<key>`, or `<key>` at the top level for every cluster.
//!
//! | key | effect |
//! | --- | --- |
//! | `clusters` | the aliases (top level only; required; `replicator` is reserved) |
//! | `bootstrap.servers` | `host:port` list; required for every cluster an enabled flow uses |
//! | `security.protocol` | `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
//! | `sasl.mechanism` | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`; when unset with a `PlainLoginModule`, PLAIN (with a warning) |
//! | `sasl.jaas.config` | `PlainLoginModule` or `ScramLoginModule` with `username` and `password` ([`jaas`]) |
//! | `ssl.truststore.type` | `JKS` (default, as in Kafka), `PKCS12`, `PEM`. Stores are read by what they hold: a file whose content is another of these types is read as that type, with a [`WarningKind::StoreType`] warning naming the file |
//! | `ssl.truststore.location`, `ssl.truststore.password` | the truststore file and its password; unset: the system's CAs |
//! | `ssl.truststore.certificates` | PEM CA certificates inline (with type `PEM`) |
//! | `ssl.keystore.type` | `JKS` (default, as in Kafka), `PKCS12` or `PEM`; read by content as the truststore is |
//! | `ssl.keystore.location`, `ssl.keystore.password` | the client certificate and key for mutual TLS; a PEM file holds both, unencrypted |
//! | `ssl.keystore.certificate.chain`, `ssl.keystore.key` | PEM client certificate and unencrypted key inline (with type `PEM`) |
//! | `ssl.key.password` | the private key's password in a JKS keystore (default: the store password, as in Kafka); in a PKCS#12 file it must be the store password; PEM: refused (encrypted PEM keys are not supported) |
//! | `ssl.endpoint.identification.algorithm` | `https` (default). Empty turns off only the host name check in Kafka; the TLS layer has no such switch, so it is refused unless `replicator.tls.server.name` or `replicator.tls.insecure.skip.verification` is set for the cluster |
//! | `client.id` | sent in request headers |
//! | `request.timeout.ms`, `socket.connection.setup.timeout.ms`, `reconnect.backoff.ms`, `reconnect.backoff.max.ms`, `max.in.flight.requests.per.connection` | the connection's timeouts and limits |
//! | `metadata.max.age.ms`, `retry.backoff.ms` | metadata refresh period and least gap between refreshes |
//! | `consumer.auto.offset.reset` | `earliest`/`latest`: the start policy of flows from this cluster |
//! | `consumer.*`, `producer.*`, `admin.*` with a connection key (`bootstrap.servers`, `security.protocol`, `ssl.*`, `sasl.*`) | must equal the cluster's own setting (one connection configuration per cluster), else an error |
//! | other `consumer.*`, `producer.*`, `admin.*` | no effect (batches are forwarded as they are): warning |
//! | `replicator.address.overrides` | `advertised:port=reachable:port, ...` for brokers behind NAT or proxies |
//! | `replicator.tls.server.name` | verify broker certificates against this name instead of the host dialled |
//! | `replicator.tls.insecure.skip.verification` | `true` turns off all certificate checks (warning; tests only) |
//!
//! # Flow keys
//!
//! Written `<source>-><target>.<key>` for one flow, or `<key>` at the top
//! level for every flow (this project's keys: `replicator.<key>` and
//! `<source>-><target>.replicator.<key>`). A flow runs only when
//! `<source>-><target>.enabled = true`, as in MirrorMaker 2; several flows
//! (`a->b` and `b->a` for active/active) run together.
//!
//! | key | default | effect |
//! | --- | --- | --- |
//! | `enabled` | `false` | flow level only |
//! | `topics` | `.*` | topics to replicate: names and regexes, see [`TopicPattern`] |
//! | `topics.exclude` (deprecated `topics.blacklist`) | `mm2.*\.internal, .*\.replica, __.*` | topics not to replicate; wins over `topics` |
//! | `replication.policy.class` | `DefaultReplicationPolicy` | or `IdentityReplicationPolicy`; fully qualified (`org.apache.kafka.connect.mirror.…`) or short |
//! | `replication.policy.separator` | `.` | the prefix policy's separator |
//! | `replication.factor` | `2` | for topics created on the target; `-1` for the broker default |
//! | `sync.topic.configs.enabled`, `sync.topic.configs.interval.seconds` | `true`, `600` | copy topic configs |
//! | `config.properties.exclude` (deprecated `config.properties.blacklist`) | engine default | topic configs not to copy |
//! | `refresh.topics.enabled`, `refresh.topics.interval.seconds` | `true`, `600` | look for new topics and partitions |
//! | `topic.filter.class`, `config.property.filter.class` | the default classes | only the default classes are accepted |
//! | `consumer.auto.offset.reset` | | `earliest`/`latest`, the flow's start policy |
//! | `replicator.group.id` | `kafka-replicator-{source}-{target}` | consumer group for committed offsets; `{source}` and `{target}` are replaced; must differ between enabled flows |
//! | `replicator.start.policy` | `earliest` | `earliest` or `latest`, without a committed offset |
//! | `replicator.max.in.flight.bytes` | `64MiB` | bytes fetched but not yet written; a number, optionally with `KiB`, `MiB` or `GiB` |
//! | `replicator.auto.create.topics` | `true` | create missing topics on the target |
//! | `replicator.throttle.bytes.per.second` | none | fetched bytes per second at most, all the flow's partitions together (a token bucket holding one second's worth); a number, optionally with `KiB`, `MiB` or `GiB` |
//!
//! The start policy comes from, first found: `a->b.replicator.start.policy`,
//! `a->b.consumer.auto.offset.reset`, `a.consumer.auto.offset.reset` (the
//! source cluster), `replicator.start.policy`, `consumer.auto.offset.reset`,
//! else `earliest` (MirrorMaker 2's default).
//!
//! # Keys with no effect here
//!
//! Each gets a [`WarningKind::NoEffect`] warning that says why:
//! `tasks.max`, `checkpoints.tasks.max`; checkpoints and group offset sync
//! (`emit.checkpoints.*`, `sync.group.offsets.*`,
//! `checkpoints.topic.replication.factor`, `groups`, `groups.exclude`,
//! `group.filter.class`, `refresh.groups.*`); heartbeats
//! (`emit.heartbeats.*`, `heartbeats.topic.replication.factor`); offset
//! syncs (`emit.offset-syncs.enabled`, `offset-syncs.topic.*`,
//! `offset.lag.max`); `sync.topic.acls.*`;
//! `replication.policy.internal.topic.separator.enabled`; connector
//! internals (`admin.timeout.ms`, `consumer.poll.timeout.ms`,
//! `forwarding.admin.class`, `use.incremental.alter.configs`,
//! `add.source.alias.to.metrics`, `metric.reporters`); Connect worker
//! settings (`offset.storage.*`, `config.storage.*`, `status.storage.*`,
//! converters, `config.providers*`, `rest.*`, `listeners`, `group.id`,
//! `exactly.once.*`, `dedicated.mode.enable.internal.rest`, ...); and Kafka
//! client settings without a counterpart (`ssl.protocol`,
//! `ssl.enabled.protocols`, `ssl.cipher.suites`, Java provider settings,
//! `sasl.kerberos.*`, `sasl.login.*`, `sasl.oauthbearer.*`, socket buffer
//! sizes, metrics settings, ...). A top-level `enabled` has no effect either:
//! only `<source>-><target>.enabled` turns a flow on.
//!
//! # Validation
//!
//! - `clusters` must be set; flows must name declared aliases; a flow from a
//!   cluster to itself is an error.
//! - At least one flow must be enabled, and every cluster an enabled flow
//!   uses needs `bootstrap.servers` (the error names the missing key).
//! - Enabled flows need distinct consumer groups.
//! - With `IdentityReplicationPolicy` nothing marks a topic as replicated,
//!   so opposite flows (`a->b` and `b->a`) on overlapping topics would copy
//!   records around forever. Such configs are refused with an explanation;
//!   so are identity flows forming a longer cycle with overlapping topics,
//!   and an identity flow opposite a prefix-policy flow that would pass the
//!   prefixed copies back. Overlap is decided exactly for plain names and
//!   conservatively for regexes (by their literal prefixes and exclusions).
//!   With the default prefix policy active/active is safe: a topic whose
//!   name says it came from the target is never sent back
//!   ([`FlowConfig::topic_selection`] builds it into the flow's
//!   [`replicator_core::TopicSelection`] with
//!   [`replicator_core::TopicSelection::exclude_replicated_from`]).

mod cluster;
mod error;
mod flow;
pub mod jaas;
mod model;
pub mod properties;

pub use cluster::{ClusterSettings, StoreFile};
pub use error::{Mm2Error, Warning, WarningKind};
pub use flow::{FlowConfig, TopicPattern, DEFAULT_TOPICS_EXCLUDE};
#[cfg(feature = "fuzzing")]
pub(crate) use model::is_secret_key;
pub use model::{
    Mm2Config, DEFAULT_GROUP_ID, DEFAULT_INTERVAL, DEFAULT_MAX_IN_FLIGHT_BYTES,
    DEFAULT_REPLICATION_FACTOR,
};

#[cfg(test)]
mod tests;
