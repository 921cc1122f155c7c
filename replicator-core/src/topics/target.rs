//! Target topics: created when missing with the source's partition count
//! and synced configs, grown when the source grows, and checked.

use kafka_proto::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_proto::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_proto::messages::describe_configs_request::DescribeConfigsResource;
use kafka_proto::messages::{CreatePartitionsRequest, CreateTopicsRequest, DescribeConfigsRequest};
use kafka_proto::{ApiKey, ErrorCode};

use crate::cluster::Cluster;
use crate::error::Error;
use crate::model::MirrorError;

/// Topic configs copied from a source topic to a target topic it creates,
/// when set on the source topic (not broker defaults).
///
/// `compression.type` is deliberately absent: a target topic must keep the
/// default `producer`, or its brokers would recompress the forwarded
/// batches. Likewise nothing about replication (`min.insync.replicas`),
/// which belongs to the target cluster's operators.
pub const SYNCED_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "message.timestamp.type",
    "message.timestamp.before.max.ms",
    "message.timestamp.after.max.ms",
    "delete.retention.ms",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "min.cleanable.dirty.ratio",
    "segment.bytes",
    "segment.ms",
];

const TOPIC_RESOURCE: i8 = 2;
/// `ConfigSource.DYNAMIC_TOPIC_CONFIG`: set on the topic itself.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;

/// Reads `keys` (all when `None`) of `topic`'s configs. With
/// `only_topic_level`, only values set on the topic itself are returned.
pub async fn describe_topic_configs(
    cluster: &Cluster,
    topic: &str,
    keys: Option<&[&str]>,
    only_topic_level: bool,
) -> Result<Vec<(String, String)>, Error> {
    let conn = cluster.any_connection().await?;
    let version = conn.version(ApiKey::DescribeConfigs)?;
    let request = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: TOPIC_RESOURCE,
            resource_name: topic.to_owned(),
            // All keys, filtered here: some brokers (Tansu 0.6) cannot parse
            // a key list.
            configuration_keys: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let response = conn.send_version(&request, version).await?;
    let mut out = Vec::new();
    for r in response.results {
        let code = ErrorCode(r.error_code);
        if code != ErrorCode::NONE {
            return Err(Error::Broker {
                broker: conn.broker().clone(),
                api: ApiKey::DescribeConfigs,
                code,
                context: Some(format!("topic {topic}")),
                message: r.error_message,
            });
        }
        for c in r.configs {
            // Before v1 there is no config_source; is_default-era brokers
            // report 0 here, which we then treat as not topic-level.
            if only_topic_level && c.config_source != DYNAMIC_TOPIC_CONFIG {
                continue;
            }
            if keys.is_some_and(|k| !k.contains(&c.name.as_str())) {
                continue;
            }
            if let Some(v) = c.value {
                out.push((c.name, v));
            }
        }
    }
    Ok(out)
}

/// Settings for [`ensure_topic`].
#[derive(Debug, Clone, Copy)]
pub struct TargetPolicy {
    /// Create missing topics and add missing partitions.
    pub create: bool,
    /// Replication factor for created topics (-1: the broker default).
    pub replication_factor: i16,
    /// Copy [`SYNCED_CONFIGS`] from the source topic.
    pub sync_configs: bool,
}

/// What [`ensure_topic`] learned about a target topic.
#[derive(Debug, Clone, Default)]
pub struct TargetTopic {
    /// Its max.message.bytes, when readable.
    pub max_message_bytes: Option<i64>,
    /// Whether it was created now.
    pub created: bool,
}

/// Makes sure `target_topic` exists on `target` with at least `partitions`
/// partitions: creates or grows it when `policy.create`, else fails with
/// an error naming it.
pub async fn ensure_topic(
    source: &Cluster,
    target: &Cluster,
    source_topic: &str,
    target_topic: &str,
    partitions: usize,
    policy: TargetPolicy,
) -> Result<TargetTopic, MirrorError> {
    let mut info = TargetTopic::default();
    target.watch_topics([target_topic]);
    let mut meta = target.metadata();
    if meta.topic(target_topic).is_none() {
        meta = target
            .refresh_metadata()
            .await
            .map_err(MirrorError::Target)?;
    }
    match meta.topic(target_topic) {
        None if !policy.create => {
            return Err(MirrorError::TargetTopicMissing {
                source_topic: source_topic.to_owned(),
                target_topic: target_topic.to_owned(),
                partitions,
            })
        }
        None => {
            let configs = if policy.sync_configs {
                match describe_topic_configs(source, source_topic, Some(SYNCED_CONFIGS), true).await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(topic = source_topic, error = %e, "cannot read source topic configs; creating the target topic with broker defaults");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            create_topic(
                target,
                target_topic,
                partitions,
                policy.replication_factor,
                configs,
            )
            .await?;
            info.created = true;
        }
        Some(t) if t.partitions.len() < partitions => {
            if !policy.create {
                return Err(MirrorError::TooFewTargetPartitions {
                    source_topic: source_topic.to_owned(),
                    target_topic: target_topic.to_owned(),
                    source_partitions: partitions,
                    target_partitions: t.partitions.len(),
                });
            }
            add_partitions(target, target_topic, partitions).await?;
        }
        Some(_) => {}
    }
    // Wait until metadata shows every partition with a leader: nothing
    // announces it, so ask again with a growing backoff, as clients do.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut backoff = crate::Backoff::new(
        std::time::Duration::from_millis(20),
        std::time::Duration::from_secs(1),
    );
    loop {
        let ready = match target.refresh_metadata().await {
            Ok(m) => m.topic(target_topic).is_some_and(|t| {
                t.partitions.len() >= partitions && t.partitions.values().all(|p| p.leader_id >= 0)
            }),
            Err(e) if e.is_retriable() => false,
            Err(e) => return Err(MirrorError::Target(e)),
        };
        if ready {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(MirrorError::Target(Error::UnknownTopic {
                topic: target_topic.to_owned(),
                code: None,
            }));
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
    info.max_message_bytes = match describe_topic_configs(
        target,
        target_topic,
        Some(&["max.message.bytes"]),
        false,
    )
    .await
    {
        Ok(c) => c
            .iter()
            .find(|(k, _)| k == "max.message.bytes")
            .and_then(|(_, v)| v.parse().ok()),
        Err(e) => {
            tracing::debug!(topic = target_topic, error = %e, "cannot read the target topic's max.message.bytes");
            None
        }
    };
    Ok(info)
}

async fn admin_connection(cluster: &Cluster) -> Result<crate::Connection, MirrorError> {
    let controller = cluster.metadata().controller_id;
    match cluster.broker_connection(controller).await {
        Ok(c) => Ok(c),
        Err(_) => cluster.any_connection().await.map_err(MirrorError::Target),
    }
}

async fn create_topic(
    target: &Cluster,
    name: &str,
    partitions: usize,
    replication_factor: i16,
    configs: Vec<(String, String)>,
) -> Result<(), MirrorError> {
    let conn = admin_connection(target).await?;
    let version = conn
        .version(ApiKey::CreateTopics)
        .map_err(MirrorError::Target)?;
    tracing::info!(topic = name, partitions, ?configs, "creating target topic");
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.to_owned(),
            num_partitions: i32::try_from(partitions).unwrap_or(i32::MAX),
            replication_factor,
            configs: configs
                .into_iter()
                .map(|(name, value)| CreatableTopicConfig {
                    name,
                    value: Some(value),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let response = conn
        .send_version(&request, version)
        .await
        .map_err(MirrorError::Target)?;
    for t in response.topics {
        let code = ErrorCode(t.error_code);
        if code != ErrorCode::NONE && code != ErrorCode::TOPIC_ALREADY_EXISTS {
            return Err(MirrorError::TopicAdmin {
                action: "create",
                target_topic: name.to_owned(),
                code,
                message: t.error_message.unwrap_or_else(|| code.description().into()),
            });
        }
    }
    Ok(())
}

async fn add_partitions(target: &Cluster, name: &str, count: usize) -> Result<(), MirrorError> {
    let conn = admin_connection(target).await?;
    let version = conn
        .version(ApiKey::CreatePartitions)
        .map_err(MirrorError::Target)?;
    tracing::info!(topic = name, count, "adding partitions to target topic");
    let request = CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic {
            name: name.to_owned(),
            count: i32::try_from(count).unwrap_or(i32::MAX),
            assignments: None,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let response = conn
        .send_version(&request, version)
        .await
        .map_err(MirrorError::Target)?;
    for r in response.results {
        let code = ErrorCode(r.error_code);
        if code != ErrorCode::NONE {
            return Err(MirrorError::TopicAdmin {
                action: "add partitions to",
                target_topic: name.to_owned(),
                code,
                message: r.error_message.unwrap_or_else(|| code.description().into()),
            });
        }
    }
    Ok(())
}
