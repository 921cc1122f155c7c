//! The parsed, validated MirrorMaker 2 configuration, and how the file's
//! keys become it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use replicator_core::{ClusterConfig, RenamePolicy, StartFrom};

use super::cluster::{
    self, is_connection_key, ClusterSettings, CLIENT_KEYS, REPLICATOR_CLUSTER_KEYS,
};
use super::error::{Mm2Error, Warning, WarningKind};
use super::flow::{
    may_overlap, parse_list, FlowConfig, Selection, TopicPattern, DEFAULT_TOPICS_EXCLUDE,
};
use super::properties;

/// Default `replicator.group.id`; `{source}` and `{target}` are replaced
/// by the flow's aliases.
pub const DEFAULT_GROUP_ID: &str = "kafka-replicator-{source}-{target}";
/// Default `replicator.max.in.flight.bytes`: 64 MiB.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: u64 = 64 * 1024 * 1024;
/// MirrorMaker 2's default `replication.factor`.
pub const DEFAULT_REPLICATION_FACTOR: i16 = 2;
/// MirrorMaker 2's default `refresh.topics.interval.seconds` and
/// `sync.topic.configs.interval.seconds`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// MirrorMaker 2 connector keys honoured at the top level and per flow.
pub(crate) const FLOW_KEYS: &[&str] = &[
    "topics",
    "topics.exclude",
    "topics.blacklist",
    "replication.policy.class",
    "replication.policy.separator",
    "replication.factor",
    "sync.topic.configs.enabled",
    "sync.topic.configs.interval.seconds",
    "refresh.topics.enabled",
    "refresh.topics.interval.seconds",
    "config.properties.exclude",
    "config.properties.blacklist",
    "topic.filter.class",
    "config.property.filter.class",
];

/// This project's flow keys, under `replicator.` (all flows) and
/// `source->target.replicator.` (one flow).
pub(crate) const REPLICATOR_FLOW_KEYS: &[&str] = &[
    "group.id",
    "start.policy",
    "max.in.flight.bytes",
    "auto.create.topics",
    "throttle.bytes.per.second",
];

const WORKER: &str = "it is a Kafka Connect worker setting, and there is no Connect runtime here";

/// Why a known MirrorMaker 2, Connect or Kafka client key has no effect
/// here; `None` for keys that are used or unknown.
pub(crate) fn no_effect_reason(k: &str) -> Option<&'static str> {
    const CHECKPOINTS: &str =
        "consumer-group offsets are not translated or synced to the target here (no checkpoints)";
    let reason = match k {
        "tasks.max" | "checkpoints.tasks.max" => "work is not split into Kafka Connect tasks here",
        "emit.checkpoints.enabled"
        | "emit.checkpoints.interval.seconds"
        | "sync.group.offsets.enabled"
        | "sync.group.offsets.interval.seconds"
        | "checkpoints.topic.replication.factor"
        | "groups"
        | "groups.exclude"
        | "groups.blacklist"
        | "group.filter.class"
        | "refresh.groups.enabled"
        | "refresh.groups.interval.seconds" => CHECKPOINTS,
        "emit.heartbeats.enabled" | "emit.heartbeats.interval.seconds" | "heartbeats.topic.replication.factor" => {
            "no heartbeats topic is written here"
        }
        "emit.offset-syncs.enabled"
        | "offset-syncs.topic.replication.factor"
        | "offset-syncs.topic.location"
        | "offset.lag.max" => {
            "no offset-syncs topic is written here; progress is kept as committed offsets of replicator.group.id"
        }
        "sync.topic.acls.enabled" | "sync.topic.acls.interval.seconds" => "ACLs are not copied to the target here",
        "replication.policy.internal.topic.separator.enabled" => {
            "there are no MirrorMaker 2 internal topics here to name"
        }
        "admin.timeout.ms"
        | "consumer.poll.timeout.ms"
        | "forwarding.admin.class"
        | "use.incremental.alter.configs"
        | "add.source.alias.to.metrics"
        | "metric.reporters"
        | "source.cluster.alias"
        | "target.cluster.alias"
        | "name"
        | "connector.class" => "it configures MirrorMaker 2 connector internals that have no counterpart here",
        "group.id"
        | "exactly.once.source.support"
        | "exactly.once.support"
        | "transaction.boundary"
        | "dedicated.mode.enable.internal.rest"
        | "listeners"
        | "offset.flush.interval.ms"
        | "offset.flush.timeout.ms"
        | "scheduled.rebalance.max.delay.ms"
        | "plugin.path" => WORKER,
        "ssl.protocol" | "ssl.enabled.protocols" | "ssl.cipher.suites" => {
            "TLS 1.2 and 1.3 with rustls' safe cipher suites are always used"
        }
        "ssl.provider"
        | "ssl.keymanager.algorithm"
        | "ssl.trustmanager.algorithm"
        | "ssl.secure.random.implementation"
        | "ssl.engine.factory.class" => "Java security provider settings have no counterpart in rustls",
        "sasl.client.callback.handler.class" | "sasl.login.class" => {
            "only SASL PLAIN and SCRAM with the credentials of sasl.jaas.config are used here"
        }
        "client.dns.lookup"
        | "connections.max.idle.ms"
        | "receive.buffer.bytes"
        | "send.buffer.bytes"
        | "socket.connection.setup.timeout.max.ms"
        | "retry.backoff.max.ms"
        | "metrics.num.samples"
        | "metrics.recording.level"
        | "metrics.sample.window.ms"
        | "auto.include.jmx.reporter"
        | "enable.metrics.push"
        | "client.rack" => "this Kafka client setting has no counterpart in the connection layer",
        _ => {
            const WORKER_PREFIXES: &[&str] = &[
                "offset.storage.",
                "config.storage.",
                "status.storage.",
                "key.converter",
                "value.converter",
                "header.converter",
                "rest.",
                "config.providers",
                "worker.",
                "task.",
                "admin.listeners",
            ];
            if WORKER_PREFIXES.iter().any(|p| k.starts_with(p)) {
                WORKER
            } else if k.starts_with("sasl.kerberos.")
                || k.starts_with("sasl.login.")
                || k.starts_with("sasl.oauthbearer.")
            {
                "only SASL PLAIN and SCRAM with the credentials of sasl.jaas.config are used here"
            } else {
                return None;
            }
        }
    };
    Some(reason)
}

/// One entry as written, after duplicates are resolved.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    /// The full key as written.
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Whether a key's value must never be shown.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.contains("jaas")
        || k.ends_with("ssl.keystore.key")
        || k.contains("secret")
}

/// The file being read, and the warnings so far.
pub(crate) struct Ctx<'a> {
    pub origin: &'a str,
    pub warnings: Vec<Warning>,
}

impl Ctx<'_> {
    /// An error about `raw`'s value. A secret value is scrubbed from the
    /// reason should it ever appear there.
    pub fn value_err(&self, raw: &Raw, reason: &str, accepted: &str) -> Mm2Error {
        let secret = raw.value.trim();
        let reason = if is_secret_key(&raw.key) && !secret.is_empty() && reason.contains(secret) {
            reason.replace(secret, "***")
        } else {
            reason.to_owned()
        };
        Mm2Error::Value {
            origin: self.origin.to_owned(),
            line: raw.line,
            key: raw.key.clone(),
            reason,
            accepted: accepted.to_owned(),
        }
    }

    pub fn warn(&mut self, kind: WarningKind, raw: &Raw, message: &str) {
        self.warnings.push(Warning {
            kind,
            origin: self.origin.to_owned(),
            line: Some(raw.line),
            key: raw.key.clone(),
            message: message.to_owned(),
        });
    }

    pub fn boolean(&self, raw: &Raw) -> Result<bool, Mm2Error> {
        match raw.value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => {
                Err(self.value_err(raw, &format!("{other:?} is not a boolean"), "true or false"))
            }
        }
    }

    fn unknown(&mut self, raw: &Raw, hint: &str) {
        let message = if hint.is_empty() {
            "unknown key; it is ignored".to_owned()
        } else {
            format!("unknown key; it is ignored ({hint})")
        };
        self.warn(WarningKind::UnknownKey, raw, &message);
    }

    fn positive_seconds(&self, raw: &Raw) -> Result<Duration, Mm2Error> {
        raw.value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                self.value_err(
                    raw,
                    "is not a positive whole number of seconds",
                    "a whole number of seconds of at least 1, e.g. 600",
                )
            })
    }

    fn patterns(&self, raw: &Raw) -> Result<Vec<TopicPattern>, Mm2Error> {
        parse_list(&raw.value)
            .into_iter()
            .filter(|e| !e.is_empty())
            .map(|e| TopicPattern::parse(e).map_err(|reason| {
                self.value_err(
                    raw,
                    &reason,
                    "comma-separated topic names and regular expressions (Rust regex syntax, which is Java's without look-around and back-references)",
                )
            }))
            .collect()
    }
}

/// A whole MirrorMaker 2 properties file, parsed and validated.
#[derive(Debug, Clone)]
pub struct Mm2Config {
    /// Where it came from (the path, or the name given to
    /// [`Mm2Config::from_str`]).
    pub origin: String,
    /// Every alias of `clusters`, with its settings.
    pub clusters: BTreeMap<String, ClusterSettings>,
    /// Every flow the file mentions, enabled or not, sorted by source then
    /// target.
    pub flows: Vec<FlowConfig>,
    /// Unknown keys, keys with no effect here, and other things to tell the
    /// user. Never contain secrets.
    pub warnings: Vec<Warning>,
}

impl Mm2Config {
    /// Reads and validates the file at `path`. Files that are not UTF-8
    /// are read as ISO-8859-1, as Java does. Does not open the key and
    /// trust stores it names; see [`Mm2Config::check_files`] and
    /// [`Mm2Config::load`].
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, Mm2Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Mm2Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
        };
        Self::from_str(&text, &path.display().to_string())
    }

    /// [`Mm2Config::from_path`], then [`Mm2Config::check_files`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Mm2Error> {
        let mut config = Self::from_path(path)?;
        config.check_files()?;
        Ok(config)
    }

    /// Parses and validates properties text; `origin` names it in errors
    /// and warnings (e.g. a file name).
    pub fn from_str(text: &str, origin: &str) -> Result<Self, Mm2Error> {
        let entries = properties::parse(text).map_err(|e| Mm2Error::Syntax {
            origin: origin.to_owned(),
            line: e.line,
            reason: e.reason,
        })?;
        build(entries, origin)
    }

    /// Opens every truststore, keystore and PEM file named by the clusters
    /// of enabled flows and loads it with its passwords, so that a wrong
    /// path, an unreadable file or a wrong password is reported now, with
    /// the key and line that name it. Stores are read by what they hold; a
    /// file whose content is not its declared type (a PKCS#12 file named
    /// `.jks` under Kafka's default `JKS`, say) adds a
    /// [`WarningKind::StoreType`] warning naming the file.
    pub fn check_files(&mut self) -> Result<(), Mm2Error> {
        let used: BTreeSet<&str> = self
            .enabled_flows()
            .flat_map(|f| [f.source.as_str(), f.target.as_str()])
            .collect();
        let mut warnings = Vec::new();
        for alias in used {
            let Some(c) = self.clusters.get(alias) else {
                continue;
            };
            for file in &c.store_files {
                let found = cluster::check_store(file).map_err(|reason| Mm2Error::Store {
                    origin: self.origin.clone(),
                    line: file.line,
                    key: file.key.clone(),
                    path: file.path.clone(),
                    reason,
                })?;
                if let Some(found) = found {
                    warnings.push(Warning {
                        kind: WarningKind::StoreType,
                        origin: self.origin.clone(),
                        line: Some(file.line),
                        key: file.key.clone(),
                        message: format!(
                            "{} holds a {} store, not {} as its type says; it is read as {}",
                            file.path.display(),
                            found.name(),
                            file.declared.name(),
                            found.name()
                        ),
                    });
                }
            }
        }
        self.warnings.extend(warnings);
        self.warnings.sort_by_key(|w| w.line);
        Ok(())
    }

    /// The flows that run (`source->target.enabled = true`).
    pub fn enabled_flows(&self) -> impl Iterator<Item = &FlowConfig> {
        self.flows.iter().filter(|f| f.enabled)
    }

    /// The flow `source->target`, if the file mentions it.
    pub fn flow(&self, source: &str, target: &str) -> Option<&FlowConfig> {
        self.flows
            .iter()
            .find(|f| f.source == source && f.target == target)
    }

    /// The [`ClusterConfig`] for an alias.
    pub fn cluster_config(&self, alias: &str) -> Option<ClusterConfig> {
        self.clusters
            .get(alias)
            .map(ClusterSettings::cluster_config)
    }
}

enum Role {
    Consumer,
    Producer,
    Admin,
}

fn role_key(k: &str) -> Option<(Role, &str)> {
    if let Some(rest) = k.strip_prefix("consumer.") {
        Some((Role::Consumer, rest))
    } else if let Some(rest) = k.strip_prefix("producer.") {
        Some((Role::Producer, rest))
    } else {
        k.strip_prefix("admin.").map(|rest| (Role::Admin, rest))
    }
}

fn parse_start_policy(ctx: &Ctx<'_>, raw: &Raw) -> Result<StartFrom, Mm2Error> {
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "earliest" => Ok(StartFrom::Earliest),
        "latest" => Ok(StartFrom::Latest),
        other => Err(ctx.value_err(
            raw,
            &format!("{other:?} is not a start policy"),
            "earliest or latest",
        )),
    }
}

/// Handles `consumer.*`, `producer.*` and `admin.*` keys. `scope` is how
/// the plain key would be written in the same place (e.g. `a.`); `expected`
/// holds the plain settings a connection key must equal.
fn role_override(
    ctx: &mut Ctx<'_>,
    raw: &Raw,
    role: &Role,
    client_key: &str,
    scope: &str,
    expected: &[Option<&Raw>],
    start: &mut Option<(StartFrom, Raw)>,
) -> Result<(), Mm2Error> {
    let role_name = match role {
        Role::Consumer => "consumer",
        Role::Producer => "producer",
        Role::Admin => "admin client",
    };
    if is_connection_key(client_key) {
        let same = !expected.is_empty()
            && expected
                .iter()
                .all(|e| e.is_some_and(|e| e.value.trim() == raw.value.trim()));
        if !same {
            return Err(ctx.value_err(
                raw,
                &format!("per-client connection settings are not supported: one connection configuration is used for every connection to a cluster, and this one differs from (or has no) {scope}{client_key}"),
                &format!("the same value as {scope}{client_key}, or remove it and set {scope}{client_key}"),
            ));
        }
        return Ok(());
    }
    if matches!(role, Role::Consumer) && client_key == "auto.offset.reset" {
        *start = Some((parse_start_policy(ctx, raw)?, raw.clone()));
        return Ok(());
    }
    if CLIENT_KEYS.contains(&client_key) {
        ctx.warn(
            WarningKind::NoEffect,
            raw,
            &format!("has no effect: Kafka applies it to the {role_name} only, but here one setting covers every connection to a cluster; set <alias>.{client_key} instead"),
        );
        return Ok(());
    }
    let why = match role {
        Role::Admin => "topic administration here does not go through a Kafka admin client".to_owned(),
        _ => format!("record batches are forwarded as they are, without a Kafka {role_name} (no re-batching, compression, serialization or consumer group membership)"),
    };
    ctx.warn(
        WarningKind::NoEffect,
        raw,
        &format!("Kafka {role_name} setting with no effect here: {why}"),
    );
    Ok(())
}

#[derive(Default)]
struct Buckets {
    global: BTreeMap<String, Raw>,
    ours: BTreeMap<String, Raw>,
    clusters: BTreeMap<String, BTreeMap<String, Raw>>,
    flows: BTreeMap<(String, String), BTreeMap<String, Raw>>,
}

fn build(entries: Vec<properties::Entry>, origin: &str) -> Result<Mm2Config, Mm2Error> {
    let mut ctx = Ctx {
        origin,
        warnings: Vec::new(),
    };

    // Last value wins, as in java.util.Properties.
    let mut latest: BTreeMap<String, Raw> = BTreeMap::new();
    for e in entries {
        let raw = Raw {
            key: e.key.clone(),
            value: e.value,
            line: e.line,
        };
        if let Some(prev) = latest.insert(e.key, raw) {
            let line = latest[&prev.key].line;
            ctx.warn(
                WarningKind::Duplicate,
                &prev,
                &format!("is set again on line {line}; the later value wins"),
            );
        }
    }
    let mut all: Vec<Raw> = latest.into_values().collect();
    all.sort_by_key(|r| r.line);

    // Config provider references (`${file:/path:key}`) are not resolved.
    if let Some(providers) = all.iter().find(|r| r.key == "config.providers") {
        let names: Vec<&str> = parse_list(&providers.value);
        for raw in &all {
            if raw.key.starts_with("config.providers") {
                continue;
            }
            if let Some(name) = names
                .iter()
                .find(|n| raw.value.contains(&format!("${{{n}:")))
            {
                return Err(ctx.value_err(
                    raw,
                    &format!("refers to config provider {name:?} (declared on line {}), and config providers are not resolved here", providers.line),
                    "the value itself in this file (keep the file readable only by the replicator's user)",
                ));
            }
        }
    }

    // clusters.
    let Some(clusters_raw) = all.iter().find(|r| r.key == "clusters").cloned() else {
        return Err(Mm2Error::Missing {
            origin: origin.to_owned(),
            key: "clusters".into(),
            reason: "list the cluster aliases, e.g. `clusters = a, b`, then set a.bootstrap.servers, b.bootstrap.servers and a->b.enabled = true".into(),
        });
    };
    let mut aliases: Vec<String> = Vec::new();
    for alias in parse_list(&clusters_raw.value) {
        let bad = |why: &str| {
            ctx.value_err(
                &clusters_raw,
                &format!("alias {alias:?} {why}"),
                "comma-separated aliases made of letters, digits, '.', '_' and '-', e.g. `clusters = primary, backup`",
            )
        };
        if alias.is_empty() {
            return Err(bad("is empty"));
        }
        if alias.contains("->")
            || alias.contains(char::is_whitespace)
            || alias.contains('=')
            || alias.contains(':')
        {
            return Err(bad("contains a character that cannot be used in keys"));
        }
        if alias == "replicator" {
            return Err(bad(
                "is reserved: keys starting with `replicator.` are this project's own settings",
            ));
        }
        if !aliases.iter().any(|a| a == alias) {
            aliases.push(alias.to_owned());
        }
    }
    if aliases.is_empty() {
        return Err(ctx.value_err(
            &clusters_raw,
            "lists no cluster",
            "comma-separated aliases, e.g. `clusters = a, b`",
        ));
    }
    let declared = aliases.join(", ");
    let mut by_length = aliases.clone();
    by_length.sort_by_key(|a| std::cmp::Reverse(a.len()));
    let alias_prefix = |k: &str| -> Option<(String, String)> {
        by_length.iter().find_map(|a| {
            k.strip_prefix(a.as_str())
                .and_then(|r| r.strip_prefix('.'))
                .map(|rest| (a.clone(), rest.to_owned()))
        })
    };

    // Sort every key into its scope.
    let mut b = Buckets::default();
    for raw in all {
        if raw.key == "clusters" {
            continue;
        }
        if let Some((src, rest)) = raw.key.split_once("->") {
            let flow_err = |reason: String| Mm2Error::Flow {
                origin: origin.to_owned(),
                line: raw.line,
                flow: raw.key.split('.').next().unwrap_or_default().to_owned(),
                reason,
            };
            if !aliases.iter().any(|a| a == src) {
                return Err(flow_err(format!(
                    "source cluster {src:?} is not declared in `clusters` ({declared}); add it there, or fix the alias in {}",
                    raw.key
                )));
            }
            let Some((tgt, rem)) = alias_prefix(rest) else {
                let tgt = rest.split('.').next().unwrap_or_default();
                return Err(flow_err(format!(
                    "target cluster {tgt:?} is not declared in `clusters` ({declared}); add it there, or fix the alias in {}",
                    raw.key
                )));
            };
            b.flows
                .entry((src.to_owned(), tgt))
                .or_default()
                .insert(rem, raw);
        } else if let Some(rem) = raw.key.strip_prefix("replicator.") {
            b.ours.insert(rem.to_owned(), raw);
        } else if let Some((alias, rem)) = alias_prefix(&raw.key) {
            b.clusters.entry(alias).or_default().insert(rem, raw);
        } else {
            b.global.insert(raw.key.clone(), raw);
        }
    }

    // Top-level keys.
    let mut client_defaults = BTreeMap::new();
    let mut flow_defaults = BTreeMap::new();
    let mut global_start: Option<(StartFrom, Raw)> = None;
    for (k, raw) in &b.global {
        if CLIENT_KEYS.contains(&k.as_str()) {
            client_defaults.insert(k.clone(), raw.clone());
        } else if FLOW_KEYS.contains(&k.as_str()) {
            flow_defaults.insert(k.clone(), raw.clone());
        } else if let Some((role, client_key)) = role_key(k) {
            let expected = [b.global.get(client_key)];
            role_override(
                &mut ctx,
                raw,
                &role,
                client_key,
                "",
                &expected,
                &mut global_start,
            )?;
        } else if k == "enabled" {
            ctx.warn(
                WarningKind::NoEffect,
                raw,
                "has no effect: only source->target.enabled turns a flow on, as in MirrorMaker 2",
            );
        } else if let Some(reason) = no_effect_reason(k) {
            ctx.warn(
                WarningKind::NoEffect,
                raw,
                &format!("has no effect here: {reason}"),
            );
        } else {
            let hint = match k.split_once('.') {
                Some((alias, rest))
                    if CLIENT_KEYS.contains(&rest)
                        || rest.starts_with("ssl.")
                        || rest.starts_with("sasl.") =>
                {
                    format!("it looks like a setting of cluster {alias:?}, which is not declared in `clusters` ({declared})")
                }
                _ => String::new(),
            };
            ctx.unknown(raw, &hint);
        }
    }
    let mut ours_defaults = BTreeMap::new();
    for (k, raw) in &b.ours {
        if REPLICATOR_FLOW_KEYS.contains(&k.as_str()) {
            ours_defaults.insert(k.clone(), raw.clone());
        } else if REPLICATOR_CLUSTER_KEYS.contains(&k.as_str()) {
            ctx.unknown(
                raw,
                &format!("{k} is set per cluster: write it as <alias>.replicator.{k}"),
            );
        } else {
            ctx.unknown(
                raw,
                &format!(
                    "this project's keys are replicator.{}",
                    REPLICATOR_FLOW_KEYS.join(", replicator.")
                ),
            );
        }
    }

    // Clusters.
    let empty = BTreeMap::new();
    let mut clusters = BTreeMap::new();
    let mut cluster_start: BTreeMap<String, (StartFrom, Raw)> = BTreeMap::new();
    for alias in &aliases {
        let own = b.clusters.get(alias).unwrap_or(&empty);
        let settings = cluster::build(&mut ctx, alias, own, &client_defaults)?;
        let mut start = None;
        for (k, raw) in own {
            if CLIENT_KEYS.contains(&k.as_str()) {
                continue;
            }
            if let Some(ours) = k.strip_prefix("replicator.") {
                if REPLICATOR_CLUSTER_KEYS.contains(&ours) {
                    continue;
                }
                let hint = if REPLICATOR_FLOW_KEYS.contains(&ours) {
                    format!("{ours} is set per flow: write it as {alias}-><target>.replicator.{ours}, or replicator.{ours} for all flows")
                } else {
                    format!(
                        "this project's cluster keys are {alias}.replicator.{}",
                        REPLICATOR_CLUSTER_KEYS.join(&format!(", {alias}.replicator."))
                    )
                };
                ctx.unknown(raw, &hint);
            } else if let Some((role, client_key)) = role_key(k) {
                let expected = [own
                    .get(client_key)
                    .or_else(|| client_defaults.get(client_key))];
                role_override(
                    &mut ctx,
                    raw,
                    &role,
                    client_key,
                    &format!("{alias}."),
                    &expected,
                    &mut start,
                )?;
            } else if let Some(reason) = no_effect_reason(k) {
                ctx.warn(
                    WarningKind::NoEffect,
                    raw,
                    &format!("has no effect here: {reason}"),
                );
            } else if FLOW_KEYS.contains(&k.as_str()) || k == "enabled" {
                ctx.unknown(raw, &format!("{k} is a flow setting: write it as {alias}-><target>.{k}, or {k} for all flows"));
            } else {
                ctx.unknown(raw, "");
            }
        }
        if let Some(s) = start {
            cluster_start.insert(alias.clone(), s);
        }
        clusters.insert(alias.clone(), settings);
    }

    // Flows.
    let mut flows = Vec::new();
    for ((src, tgt), own) in &b.flows {
        let line = own
            .get("enabled")
            .map(|r| r.line)
            .unwrap_or_else(|| own.values().map(|r| r.line).min().unwrap_or(0));
        let name = format!("{src}->{tgt}");
        if src == tgt {
            return Err(Mm2Error::Flow {
                origin: origin.to_owned(),
                line,
                flow: name,
                reason: "a cluster cannot be mirrored to itself; use two different aliases from `clusters`".into(),
            });
        }
        let mut flow_start = None;
        for (k, raw) in own {
            if k == "enabled" || FLOW_KEYS.contains(&k.as_str()) {
                continue;
            }
            if let Some(ours) = k.strip_prefix("replicator.") {
                if !REPLICATOR_FLOW_KEYS.contains(&ours) {
                    ctx.unknown(
                        raw,
                        &format!(
                            "this project's flow keys are {name}.replicator.{}",
                            REPLICATOR_FLOW_KEYS.join(&format!(", {name}.replicator."))
                        ),
                    );
                }
            } else if let Some((role, client_key)) = role_key(k) {
                let source = clusters_raw_get(&b, &client_defaults, src, client_key);
                let target = clusters_raw_get(&b, &client_defaults, tgt, client_key);
                let expected = match role {
                    Role::Consumer => vec![source],
                    Role::Producer => vec![target],
                    Role::Admin => vec![source, target],
                };
                let scope = match role {
                    Role::Producer => format!("{tgt}."),
                    _ => format!("{src}."),
                };
                role_override(
                    &mut ctx,
                    raw,
                    &role,
                    client_key,
                    &scope,
                    &expected,
                    &mut flow_start,
                )?;
            } else if CLIENT_KEYS.contains(&k.as_str()) {
                ctx.warn(
                    WarningKind::NoEffect,
                    raw,
                    &format!("has no effect: client settings belong to a cluster; set {src}.{k} or {tgt}.{k}"),
                );
            } else if let Some(reason) = no_effect_reason(k) {
                ctx.warn(
                    WarningKind::NoEffect,
                    raw,
                    &format!("has no effect here: {reason}"),
                );
            } else {
                ctx.unknown(raw, "");
            }
        }
        let get = |k: &str| own.get(k).or_else(|| flow_defaults.get(k));
        let get_ours = |k: &str| {
            own.get(&format!("replicator.{k}"))
                .or_else(|| ours_defaults.get(k))
        };

        let enabled = own
            .get("enabled")
            .map(|r| ctx.boolean(r))
            .transpose()?
            .unwrap_or(false);

        let topics = match get("topics") {
            Some(raw) => ctx.patterns(raw)?,
            None => {
                vec![TopicPattern::parse(".*").map_err(|r| ctx.value_err(&clusters_raw, &r, ""))?]
            }
        };
        let exclude_raw = match (own.get("topics.exclude"), own.get("topics.blacklist")) {
            (Some(r), _) | (None, Some(r)) => Some(r),
            (None, None) => flow_defaults
                .get("topics.exclude")
                .or_else(|| flow_defaults.get("topics.blacklist")),
        };
        let topics_exclude = match exclude_raw {
            Some(raw) => ctx.patterns(raw)?,
            None => parse_list(DEFAULT_TOPICS_EXCLUDE)
                .into_iter()
                .filter_map(|e| TopicPattern::parse(e).ok())
                .collect(),
        };
        let cpe_raw = own
            .get("config.properties.exclude")
            .or_else(|| own.get("config.properties.blacklist"))
            .or_else(|| flow_defaults.get("config.properties.exclude"))
            .or_else(|| flow_defaults.get("config.properties.blacklist"));
        let config_properties_exclude = cpe_raw.map(|raw| ctx.patterns(raw)).transpose()?;

        for (key, default_class) in [
            ("topic.filter.class", "DefaultTopicFilter"),
            (
                "config.property.filter.class",
                "DefaultConfigPropertyFilter",
            ),
        ] {
            if let Some(raw) = get(key) {
                let v = raw.value.trim();
                if v != default_class
                    && v != format!("org.apache.kafka.connect.mirror.{default_class}")
                {
                    return Err(ctx.value_err(
                        raw,
                        &format!("custom filter class {v:?} is not supported"),
                        &format!("org.apache.kafka.connect.mirror.{default_class} (select topics with topics, topics.exclude and config.properties.exclude)"),
                    ));
                }
            }
        }

        let policy = match get("replication.policy.class") {
            None => "DefaultReplicationPolicy",
            Some(raw) => {
                let v = raw.value.trim();
                match v {
                    "DefaultReplicationPolicy" | "org.apache.kafka.connect.mirror.DefaultReplicationPolicy" => "DefaultReplicationPolicy",
                    "IdentityReplicationPolicy"
                    | "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
                    | "io.strimzi.kafka.connect.mirror.IdentityReplicationPolicy" => "IdentityReplicationPolicy",
                    _ => {
                        return Err(ctx.value_err(
                            raw,
                            &format!("replication policy {v:?} is not supported"),
                            "org.apache.kafka.connect.mirror.DefaultReplicationPolicy (prefixes topics with the source alias) or org.apache.kafka.connect.mirror.IdentityReplicationPolicy (keeps names), fully qualified or as the short class name",
                        ))
                    }
                }
            }
        };
        let policy = if policy == "IdentityReplicationPolicy" {
            RenamePolicy::Identity
        } else {
            let separator = match get("replication.policy.separator") {
                None => ".".to_owned(),
                Some(raw) => {
                    let s = raw.value.trim();
                    if s.is_empty() {
                        return Err(ctx.value_err(
                            raw,
                            "is empty",
                            "a non-empty separator, e.g. `.` (the default), `_` or `-`",
                        ));
                    }
                    s.to_owned()
                }
            };
            RenamePolicy::prefix_with(src, separator)
        };

        let replication_factor = match get("replication.factor") {
            None => Some(DEFAULT_REPLICATION_FACTOR),
            Some(raw) => match raw.value.trim().parse::<i16>() {
                Ok(-1) => None,
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ctx.value_err(
                        raw,
                        "is not a replication factor",
                        "-1 (the target broker's default.replication.factor) or a whole number from 1 to 32767",
                    ))
                }
            },
        };
        let sync_topic_configs = get("sync.topic.configs.enabled")
            .map(|r| ctx.boolean(r))
            .transpose()?
            .unwrap_or(true);
        let sync_topic_configs_interval = get("sync.topic.configs.interval.seconds")
            .map(|r| ctx.positive_seconds(r))
            .transpose()?
            .unwrap_or(DEFAULT_INTERVAL);
        let refresh_enabled = get("refresh.topics.enabled")
            .map(|r| ctx.boolean(r))
            .transpose()?
            .unwrap_or(true);
        let refresh_interval = get("refresh.topics.interval.seconds")
            .map(|r| ctx.positive_seconds(r))
            .transpose()?
            .unwrap_or(DEFAULT_INTERVAL);
        let refresh_interval = refresh_enabled.then_some(refresh_interval);

        let group_id = match get_ours("group.id") {
            None => DEFAULT_GROUP_ID.to_owned(),
            Some(raw) => {
                let g = raw.value.trim();
                if g.is_empty() {
                    return Err(ctx.value_err(raw, "is empty", "a consumer group id; {source} and {target} are replaced by the flow's aliases"));
                }
                g.to_owned()
            }
        }
        .replace("{source}", src)
        .replace("{target}", tgt);

        let start_policy = if let Some(raw) = own.get("replicator.start.policy") {
            parse_start_policy(&ctx, raw)?
        } else if let Some((p, _)) = &flow_start {
            *p
        } else if let Some((p, _)) = cluster_start.get(src) {
            *p
        } else if let Some(raw) = ours_defaults.get("start.policy") {
            parse_start_policy(&ctx, raw)?
        } else if let Some((p, _)) = &global_start {
            *p
        } else {
            StartFrom::Earliest
        };

        let max_in_flight_bytes = match get_ours("max.in.flight.bytes") {
            None => DEFAULT_MAX_IN_FLIGHT_BYTES,
            Some(raw) => parse_size(raw.value.trim()).filter(|&n| n > 0).ok_or_else(|| {
                ctx.value_err(raw, "is not a positive size in bytes", "a whole number of bytes, optionally with KiB, MiB or GiB, e.g. 67108864 or 64MiB")
            })?,
        };
        let throttle_bytes_per_second = get_ours("throttle.bytes.per.second")
            .map(|raw| {
                parse_size(raw.value.trim()).filter(|&n| n > 0).ok_or_else(|| {
                    ctx.value_err(raw, "is not a positive rate in bytes per second", "a whole number of bytes per second, optionally with KiB, MiB or GiB, e.g. 10485760 or 10MiB")
                })
            })
            .transpose()?;
        let auto_create_topics = get_ours("auto.create.topics")
            .map(|r| ctx.boolean(r))
            .transpose()?
            .unwrap_or(true);

        if !enabled {
            let raw = own.get("enabled").cloned().unwrap_or_else(|| {
                own.values()
                    .min_by_key(|r| r.line)
                    .cloned()
                    .unwrap_or(clusters_raw.clone())
            });
            ctx.warn(
                WarningKind::Note,
                &raw,
                &format!("flow {name} is configured but not enabled, so it does not run (set {name}.enabled = true to run it)"),
            );
        }

        flows.push(FlowConfig {
            source: src.clone(),
            target: tgt.clone(),
            enabled,
            topics,
            topics_exclude,
            policy,
            replication_factor,
            sync_topic_configs,
            sync_topic_configs_interval,
            config_properties_exclude,
            refresh_interval,
            group_id,
            start_policy,
            max_in_flight_bytes,
            throttle_bytes_per_second,
            auto_create_topics,
            line,
        });
    }

    validate(origin, &aliases, &clusters, &flows)?;
    ctx.warnings.sort_by_key(|w| w.line);

    Ok(Mm2Config {
        origin: origin.to_owned(),
        clusters,
        flows,
        warnings: ctx.warnings,
    })
}

/// A client setting of cluster `alias` as the file sets it.
fn clusters_raw_get<'a>(
    b: &'a Buckets,
    defaults: &'a BTreeMap<String, Raw>,
    alias: &str,
    key: &str,
) -> Option<&'a Raw> {
    b.clusters
        .get(alias)
        .and_then(|m| m.get(key))
        .or_else(|| defaults.get(key))
}

/// `123`, `64KiB`, `64 MiB`, `1GiB` (case-insensitive).
fn parse_size(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (num, mult) = [("kib", 1u64 << 10), ("mib", 1 << 20), ("gib", 1 << 30)]
        .iter()
        .find_map(|(suffix, m)| {
            lower
                .strip_suffix(suffix)
                .map(|n| (n.trim().to_owned(), *m))
        })
        .unwrap_or((lower.clone(), 1));
    num.parse::<u64>().ok()?.checked_mul(mult)
}

fn validate(
    origin: &str,
    aliases: &[String],
    clusters: &BTreeMap<String, ClusterSettings>,
    flows: &[FlowConfig],
) -> Result<(), Mm2Error> {
    let enabled: Vec<&FlowConfig> = flows.iter().filter(|f| f.enabled).collect();
    if enabled.is_empty() {
        let key = match flows.first() {
            Some(f) => format!("{}.enabled", f.name()),
            None => format!(
                "{}->{}.enabled",
                aliases[0],
                aliases.get(1).unwrap_or(&"<target>".to_owned())
            ),
        };
        return Err(Mm2Error::Missing {
            origin: origin.to_owned(),
            key: key.clone(),
            reason: format!(
                "no flow is enabled, so there is nothing to replicate; set {key} = true"
            ),
        });
    }
    for f in &enabled {
        for alias in [&f.source, &f.target] {
            if clusters
                .get(alias.as_str())
                .is_none_or(|c| c.bootstrap_servers.is_empty())
            {
                return Err(Mm2Error::Missing {
                    origin: origin.to_owned(),
                    key: format!("{alias}.bootstrap.servers"),
                    reason: format!(
                        "flow {} uses cluster {alias}, which needs its brokers: {alias}.bootstrap.servers = host1:9092,host2:9092",
                        f.name()
                    ),
                });
            }
        }
    }
    let mut groups: BTreeMap<&str, &FlowConfig> = BTreeMap::new();
    for f in &enabled {
        if let Some(other) = groups.insert(&f.group_id, f) {
            return Err(Mm2Error::Flow {
                origin: origin.to_owned(),
                line: f.line,
                flow: f.name(),
                reason: format!(
                    "it uses consumer group {:?}, like flow {}; each flow needs its own group for its offsets. Set {}.replicator.group.id, or use {{source}} and {{target}} in replicator.group.id",
                    f.group_id,
                    other.name(),
                    f.name()
                ),
            });
        }
    }
    check_loops(origin, &enabled)
}

fn selection(f: &FlowConfig) -> Selection<'_> {
    Selection {
        include: &f.topics,
        exclude: &f.topics_exclude,
    }
}

const LOOP_FIX: &str = "Make the topic selections disjoint (for example give each side its own prefix, a->b.topics = a-owned\\..* and b->a.topics = b-owned\\..*, or exclude the other side's topics with topics.exclude), or use DefaultReplicationPolicy, which prefixes remote topics with the source alias (a.orders) so that MirrorMaker 2 and this project never send a topic back where it came from";

/// Refuses flows that would copy the same records around a cycle forever.
fn check_loops(origin: &str, enabled: &[&FlowConfig]) -> Result<(), Mm2Error> {
    let identity = |f: &FlowConfig| matches!(f.policy, RenamePolicy::Identity);
    let err = |f: &FlowConfig, reason: String| Mm2Error::Flow {
        origin: origin.to_owned(),
        line: f.line,
        flow: f.name(),
        reason,
    };
    // Opposite pairs.
    for (i, f) in enabled.iter().enumerate() {
        for g in &enabled[i + 1..] {
            if f.source != g.target || f.target != g.source {
                continue;
            }
            match (identity(f), identity(g)) {
                (true, true) => {
                    if let Some(what) = may_overlap(&selection(f), &selection(g)) {
                        return Err(err(g, format!(
                            "it and {} both use IdentityReplicationPolicy and {what}: a record copied from {} to {} would be copied back, and again, forever, because the identity policy keeps topic names and so nothing marks a topic as already replicated. {LOOP_FIX}",
                            f.name(), f.source, f.target
                        )));
                    }
                }
                (true, false) | (false, true) => {
                    let (x, y) = if identity(f) { (f, g) } else { (g, f) };
                    let RenamePolicy::Prefix { separator, .. } = &y.policy else {
                        continue;
                    };
                    let prefix = format!("{}{}", y.source, separator);
                    let Ok(renamed) = TopicPattern::parse(&format!("{}.*", regex::escape(&prefix)))
                    else {
                        continue;
                    };
                    let renamed = [renamed];
                    let synth = Selection {
                        include: &renamed,
                        exclude: &[],
                    };
                    if may_overlap(&selection(x), &synth).is_some()
                        && may_overlap(&selection(y), &synth).is_some()
                    {
                        return Err(err(g, format!(
                            "{} uses IdentityReplicationPolicy and {} uses DefaultReplicationPolicy, and both select topics named {prefix}*: {} copies topic t to {} as {prefix}t, {} copies {prefix}t back unchanged, {} copies it again as {prefix}{prefix}t, and so on forever. Exclude {prefix}.* from {}, or use the same policy in both directions. {LOOP_FIX}",
                            x.name(), y.name(), y.name(), y.target, x.name(), y.name(), x.name()
                        )));
                    }
                }
                (false, false) => {}
            }
        }
    }
    // Longer cycles of identity flows.
    let id_flows: Vec<&FlowConfig> = enabled.iter().copied().filter(|f| identity(f)).collect();
    let mut path: Vec<&FlowConfig> = Vec::new();
    // The search below is exponential in the worst case (its overlap test
    // depends on the whole path), so it is bounded: a file that exhausts the
    // budget is refused rather than left to hang the start.
    let mut budget = CYCLE_SEARCH_STEPS;
    for start in &id_flows {
        path.clear();
        path.push(start);
        let found = find_cycle(&id_flows, &mut path, &mut budget);
        if budget == 0 {
            return Err(err(start, format!(
                "{} flows use IdentityReplicationPolicy between {} clusters, too many to check for replication loops; use DefaultReplicationPolicy (prefixes) for some of them. {LOOP_FIX}",
                id_flows.len(),
                id_flows.iter().flat_map(|f| [&f.source, &f.target]).collect::<std::collections::BTreeSet<_>>().len()
            )));
        }
        if let Some(cycle) = found {
            let names: Vec<String> = cycle.iter().map(|f| f.name()).collect();
            return Err(err(cycle[cycle.len() - 1], format!(
                "flows {} form a cycle, all use IdentityReplicationPolicy and their topic selections overlap: records would travel around the cycle forever. {LOOP_FIX}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Steps the identity-loop search may take before a file is refused.
const CYCLE_SEARCH_STEPS: usize = 100_000;

/// Whether `to` can be reached from `from` along `flows`, ignoring topics.
fn reaches(flows: &[&FlowConfig], from: &str, to: &str) -> bool {
    let mut seen = std::collections::BTreeSet::from([from]);
    let mut frontier = vec![from];
    while let Some(at) = frontier.pop() {
        for f in flows.iter().filter(|f| f.source == at) {
            if f.target == to {
                return true;
            }
            if seen.insert(f.target.as_str()) {
                frontier.push(f.target.as_str());
            }
        }
    }
    false
}

/// Extends `path` (identity flows, each overlapping all earlier ones) until
/// it returns to its start with at least three flows.
fn find_cycle<'a>(
    flows: &[&'a FlowConfig],
    path: &mut Vec<&'a FlowConfig>,
    budget: &mut usize,
) -> Option<Vec<&'a FlowConfig>> {
    let last = path[path.len() - 1];
    for &next in flows {
        if next.source != last.target || path.iter().any(|p| std::ptr::eq(*p, next)) {
            continue;
        }
        // Only extend towards a cluster from which the start is reachable at all.
        if next.target != path[0].source && !reaches(flows, &next.target, &path[0].source) {
            continue;
        }
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        if !path
            .iter()
            .all(|p| may_overlap(&selection(p), &selection(next)).is_some())
        {
            continue;
        }
        path.push(next);
        if next.target == path[0].source && path.len() >= 3 {
            return Some(path.clone());
        }
        if path.len() < flows.len() {
            if let Some(c) = find_cycle(flows, path, budget) {
                return Some(c);
            }
        }
        path.pop();
    }
    None
}
