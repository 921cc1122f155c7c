//! Offsets in the source cluster's consumer group: where each partition
//! starts (committed offset, else the start policy), backfill end offsets,
//! and periodic commits of what the target has acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_proto::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_proto::messages::{ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest};
use kafka_proto::{ApiKey, ErrorCode, TopicRef};

use super::{Engine, Key};
use crate::cluster::Cluster;
use crate::connection::Connection;
use crate::error::Error;
use crate::mirror::{MirrorError, Mode, StartFrom};

/// ListOffsets timestamps.
pub(crate) const LATEST: i64 = -1;
pub(crate) const EARLIEST: i64 = -2;

/// The offset of `timestamp` (LATEST, EARLIEST) on the partition leader;
/// `committed` asks for the last stable offset (read_committed).
pub(crate) async fn list_offset(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    timestamp: i64,
    committed: bool,
) -> Result<i64, Error> {
    let response = cluster
        .send_to_leader(topic, partition, |leader, _v| ListOffsetsRequest {
            replica_id: -1,
            isolation_level: i8::from(committed),
            topics: vec![ListOffsetsTopic {
                name: leader.topic.clone(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: partition,
                    current_leader_epoch: leader.leader_epoch,
                    timestamp,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
        .await?;
    let p = response
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| Error::Protocol {
            broker: leader_label(cluster, topic, partition),
            api: Some(ApiKey::ListOffsets),
            reason: format!("the response does not list {topic}-{partition}"),
        })?;
    let code = ErrorCode(p.error_code);
    if code != ErrorCode::NONE {
        return Err(Error::Broker {
            broker: leader_label(cluster, topic, partition),
            api: ApiKey::ListOffsets,
            code,
            context: Some(format!("{topic}-{partition}")),
            message: None,
        });
    }
    Ok(p.offset)
}

fn leader_label(cluster: &Cluster, topic: &str, partition: i32) -> crate::BrokerLabel {
    match cluster.metadata().leader(topic, partition) {
        Ok(l) => crate::BrokerLabel::node(l.node_id, l.address),
        Err(_) => crate::BrokerLabel::bootstrap(crate::BrokerAddress::new("unknown-leader", 0)),
    }
}

/// Positions new partitions: the group's committed offset, else the start
/// policy; and in backfill mode, captures their end offsets.
pub(crate) async fn position(engine: &Arc<Engine>, keys: &[Key]) -> Result<(), MirrorError> {
    let group = &engine.config.group_id;
    let committed = fetch_committed(engine, keys)
        .await
        .map_err(|e| MirrorError::Group {
            group: group.clone(),
            reason: format!("reading committed offsets failed: {e}"),
        })?;
    for key in keys {
        let (topic, p) = (&key.0, key.1);
        let start = match committed.get(key) {
            Some(&o) if o >= 0 => o,
            _ => {
                let ts = match engine.config.start_from {
                    StartFrom::Earliest => EARLIEST,
                    StartFrom::Latest => LATEST,
                };
                list_offset(&engine.source, topic, p, ts, false)
                    .await
                    .map_err(MirrorError::Source)?
            }
        };
        let end = if engine.config.mode == Mode::UntilCaughtUp {
            Some(
                list_offset(&engine.source, topic, p, LATEST, true)
                    .await
                    .map_err(MirrorError::Source)?,
            )
        } else {
            None
        };
        tracing::info!(topic = %topic, partition = p, start, ?end, committed = ?committed.get(key), "partition positioned");
        let mut s = engine.lock();
        if let Some(part) = s.partitions.get_mut(key) {
            part.position = Some(start);
            part.committed = committed.get(key).copied().filter(|&o| o >= 0);
            part.end_offset = end;
        }
    }
    Ok(())
}

async fn fetch_committed(engine: &Engine, keys: &[Key]) -> Result<HashMap<Key, i64>, Error> {
    let (_, conn) = engine
        .source
        .group_coordinator(&engine.config.group_id)
        .await?;
    let version = conn.version(ApiKey::OffsetFetch)?;
    let meta = engine.source.metadata();
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in keys {
        by_topic.entry(t).or_default().push(*p);
    }
    let group = engine.config.group_id.clone();
    let request = if version >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group,
                member_epoch: -1,
                topics: Some(
                    by_topic
                        .iter()
                        .map(|(t, ps)| OffsetFetchRequestTopics {
                            topic: topic_ref(&meta, t, version >= 10),
                            partition_indexes: ps.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }],
            require_stable: true,
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id: group,
            topics: Some(
                by_topic
                    .iter()
                    .map(|(t, ps)| OffsetFetchRequestTopic {
                        name: (*t).to_owned(),
                        partition_indexes: ps.clone(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            require_stable: version >= 7,
            ..Default::default()
        }
    };
    let response = conn.send_version(&request, version).await?;
    let mut out = HashMap::new();
    let group_error = |code: i16| -> Result<(), Error> {
        let code = ErrorCode(code);
        if code == ErrorCode::NONE || code == ErrorCode::GROUP_ID_NOT_FOUND {
            Ok(())
        } else {
            Err(Error::Broker {
                broker: conn.broker().clone(),
                api: ApiKey::OffsetFetch,
                code,
                context: Some(format!("group {}", engine.config.group_id)),
                message: None,
            })
        }
    };
    group_error(response.error_code)?;
    for g in &response.groups {
        group_error(g.error_code)?;
        for t in &g.topics {
            let name = match &t.topic {
                TopicRef::Name(n) => Some(n.clone()),
                TopicRef::Id(id) => meta.topic_by_id(*id).map(|t| t.name.clone()),
            };
            let Some(name) = name else { continue };
            for p in &t.partitions {
                group_error(p.error_code)?;
                out.insert((name.clone(), p.partition_index), p.committed_offset);
            }
        }
    }
    for t in &response.topics {
        for p in &t.partitions {
            group_error(p.error_code)?;
            out.insert((t.name.clone(), p.partition_index), p.committed_offset);
        }
    }
    Ok(out)
}

fn topic_ref(meta: &crate::ClusterMetadata, topic: &str, by_id: bool) -> TopicRef {
    match meta.topic(topic) {
        Some(t) if by_id => TopicRef::Id(t.id),
        _ => TopicRef::Name(topic.to_owned()),
    }
}

/// Commits acknowledged offsets to the group, keeping the coordinator
/// connection between commits.
#[derive(Debug)]
pub(crate) struct Committer {
    group: String,
    coordinator: Option<Connection>,
}

impl Committer {
    pub fn new(group: &str) -> Self {
        Self {
            group: group.to_owned(),
            coordinator: None,
        }
    }

    /// Commits every partition whose committable offset moved. Failures
    /// are logged and retried at the next commit: nothing is lost, the
    /// offsets are only older.
    pub async fn commit(&mut self, engine: &Engine) {
        let due: Vec<(Key, i64)> = engine
            .lock()
            .partitions
            .iter()
            .filter_map(|(k, p)| {
                let c = p.committable()?;
                (p.committed != Some(c)).then(|| (k.clone(), c))
            })
            .collect();
        if due.is_empty() {
            return;
        }
        match self.send(engine, &due).await {
            Ok(done) => {
                let mut s = engine.lock();
                for (k, o) in done {
                    if let Some(p) = s.partitions.get_mut(&k) {
                        p.committed = Some(o);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(group = %self.group, error = %e, "offset commit failed; retrying at the next interval");
                self.coordinator = None;
            }
        }
    }

    async fn send(
        &mut self,
        engine: &Engine,
        due: &[(Key, i64)],
    ) -> Result<Vec<(Key, i64)>, Error> {
        let conn = match self.coordinator.clone().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => {
                let (_, c) = engine.source.group_coordinator(&self.group).await?;
                self.coordinator = Some(c.clone());
                c
            }
        };
        let version = conn.version(ApiKey::OffsetCommit)?;
        let meta = engine.source.metadata();
        let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
        for ((t, p), o) in due {
            by_topic.entry(t).or_default().push((*p, *o));
        }
        let request = OffsetCommitRequest {
            group_id: self.group.clone(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            retention_time_ms: -1,
            topics: by_topic
                .iter()
                .map(|(t, ps)| OffsetCommitRequestTopic {
                    topic: topic_ref(&meta, t, version >= 10),
                    partitions: ps
                        .iter()
                        .map(|&(p, o)| OffsetCommitRequestPartition {
                            partition_index: p,
                            committed_offset: o,
                            committed_leader_epoch: -1,
                            committed_metadata: Some(String::new()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let response = conn.send_version(&request, version).await?;
        let mut done = Vec::new();
        for t in &response.topics {
            let name = match &t.topic {
                TopicRef::Name(n) => Some(n.clone()),
                TopicRef::Id(id) => meta.topic_by_id(*id).map(|t| t.name.clone()),
            };
            let Some(name) = name else { continue };
            for p in &t.partitions {
                let code = ErrorCode(p.error_code);
                let key = (name.clone(), p.partition_index);
                if code == ErrorCode::NONE {
                    if let Some((_, o)) = due.iter().find(|(k, _)| *k == key) {
                        done.push((key, *o));
                    }
                } else {
                    if matches!(
                        code,
                        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE
                    ) {
                        self.coordinator = None;
                    }
                    tracing::warn!(topic = %name, partition = p.partition_index, code = code.name(), "offset commit refused");
                }
            }
        }
        tracing::debug!(group = %self.group, partitions = done.len(), "offsets committed");
        Ok(done)
    }
}
