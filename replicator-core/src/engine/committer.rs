//! Offsets in the source cluster's consumer group: where each partition
//! starts (committed offset, else the start policy), backfill end offsets,
//! and periodic commits of what the target has acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How long a backfill retries reading a partition's offsets before it
/// gives the partition up (FAILED): a backfill always ends. A continuous
/// mirror retries for as long as it runs.
pub(crate) const POSITION_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `offset` is a valid position in a log spanning
/// `[earliest, latest]` (latest: the high watermark, where the next record
/// goes).
pub(crate) fn in_log(offset: i64, earliest: i64, latest: i64) -> bool {
    (earliest..=latest).contains(&offset)
}

/// Where a position `from` outside the log goes per the start policy, and
/// how many offsets that skips: lost, since they were never mirrored.
pub(crate) fn reset_target(
    from: i64,
    earliest: i64,
    latest: i64,
    start_from: StartFrom,
) -> (i64, u64) {
    let to = match start_from {
        StartFrom::Earliest => earliest,
        StartFrom::Latest => latest,
    };
    (to, u64::try_from((to - from).max(0)).unwrap_or_default())
}

/// Where one partition starts and (backfill) ends.
#[derive(Debug)]
struct Located {
    start: i64,
    end: Option<i64>,
    /// The committed offset was outside the log: the offsets skipped.
    reset_lost: Option<u64>,
}

/// Positions partitions: the group's committed offset when it lies in the
/// log, else the start policy; and in backfill mode, captures their end
/// offsets. A partition that cannot be positioned is SOURCE_UNAVAILABLE and
/// retried by the supervisor (see [`Partition::needs_position`]); the error
/// returned is the group's, when its offsets cannot be read at all.
///
/// [`Partition::needs_position`]: super::partition::Partition::needs_position
pub(crate) async fn position(engine: &Arc<Engine>, keys: &[Key]) -> Result<(), MirrorError> {
    let group = &engine.config.group_id;
    let committed = match fetch_committed_patiently(engine, keys).await {
        Ok(c) => c,
        Err(e) => {
            let detail = format!("reading the committed offsets of group {group:?} failed: {e}");
            let broker = broker_of(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| format!("the coordinator of group {group:?}"));
            position_failed(engine, keys, &broker, &detail);
            return Err(MirrorError::Group {
                group: group.clone(),
                reason: format!("reading committed offsets failed: {e}"),
            });
        }
    };
    let mut positioned = false;
    for key in keys {
        let (topic, p) = (&key.0, key.1);
        let committed = committed.get(key).copied().filter(|&o| o >= 0);
        match locate(engine, key, committed).await {
            Ok(at) => {
                tracing::info!(topic = %topic, partition = p, start = at.start, end = ?at.end, ?committed, "partition positioned");
                let mut s = engine.lock();
                if let Some(part) = s.partitions.get_mut(key) {
                    part.positioned(at.start, committed, at.end);
                    if let Some(lost) = at.reset_lost {
                        part.totals.lost_offsets += lost;
                        part.totals.errors += 1;
                    }
                    positioned = true;
                }
            }
            Err(e) => {
                let broker = broker_of(&e)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| leader_name(&engine.source, topic, p));
                position_failed(engine, std::slice::from_ref(key), &broker, &e.to_string());
            }
        }
    }
    if positioned {
        engine.fetch_wake.notify_waiters();
    }
    Ok(())
}

/// Reads where `key` starts (checking `committed` against the log) and, in
/// a backfill, where it ends.
async fn locate(engine: &Engine, key: &Key, committed: Option<i64>) -> Result<Located, Error> {
    let (topic, p) = (&key.0, key.1);
    let policy = engine.config.start_from;
    let mut reset_lost = None;
    let start = match committed {
        Some(c) => {
            // Tansu answers a Fetch past its log end with no error and no
            // data, so a committed offset past the end would stall silently.
            let earliest = list_offset(&engine.source, topic, p, EARLIEST, false).await?;
            let latest = list_offset(&engine.source, topic, p, LATEST, false).await?;
            if in_log(c, earliest, latest) {
                c
            } else {
                let (to, lost) = reset_target(c, earliest, latest, policy);
                tracing::warn!(topic = %topic, partition = p, committed = c, earliest, latest, to, lost, group = %engine.config.group_id, "the group's committed offset {c} for {topic}-{p} is outside the source log [{earliest}, {latest}]; starting from {to} per the start policy ({lost} offsets lost before they could be mirrored)");
                reset_lost = Some(lost);
                to
            }
        }
        None => {
            let ts = match policy {
                StartFrom::Earliest => EARLIEST,
                StartFrom::Latest => LATEST,
            };
            list_offset(&engine.source, topic, p, ts, false).await?
        }
    };
    let end = if engine.config.mode == Mode::UntilCaughtUp {
        Some(list_offset(&engine.source, topic, p, LATEST, true).await?)
    } else {
        None
    };
    Ok(Located {
        start,
        end,
        reset_lost,
    })
}

/// Records a failed positioning attempt on each of `keys` not yet
/// positioned; in a backfill, fails those that have failed for
/// [`POSITION_TIMEOUT`].
fn position_failed(engine: &Engine, keys: &[Key], broker: &str, detail: &str) {
    let bound = (engine.config.mode == Mode::UntilCaughtUp).then_some(POSITION_TIMEOUT);
    let now = Instant::now();
    let mut guard = engine.lock();
    let s = &mut *guard;
    for key in keys {
        let Some(part) = s.partitions.get_mut(key) else {
            continue;
        };
        if part.position.is_some() {
            continue;
        }
        tracing::warn!(topic = %key.0, partition = key.1, %broker, error = %detail, "cannot position the partition; retrying with backoff");
        if let Some(err) = part.position_failed(broker, detail, now, bound) {
            let freed = part.fail(&err);
            s.budget.release(freed);
        }
    }
}

/// The partition's leader, for messages.
fn leader_name(cluster: &Cluster, topic: &str, partition: i32) -> String {
    match cluster.metadata().leader(topic, partition) {
        Ok(l) => crate::BrokerLabel::node(l.node_id, l.address).to_string(),
        Err(_) => format!("the source cluster (no leader known for {topic}-{partition})"),
    }
}

/// The broker named by an error, when it names one.
fn broker_of(error: &Error) -> Option<&crate::BrokerLabel> {
    match error {
        Error::Broker { broker, .. }
        | Error::Disconnected { broker, .. }
        | Error::RequestTimeout { broker, .. }
        | Error::Protocol { broker, .. } => Some(broker),
        _ => None,
    }
}

/// [`fetch_committed`], retried while the error is retriable, for up to
/// [`POSITION_TIMEOUT`]: a fresh Kafka cluster answers FindCoordinator
/// with COORDINATOR_NOT_AVAILABLE until its offsets topic exists, and
/// OffsetFetch with COORDINATOR_LOAD_IN_PROGRESS while it loads.
async fn fetch_committed_patiently(
    engine: &Engine,
    keys: &[Key],
) -> Result<HashMap<Key, i64>, Error> {
    let give_up = tokio::time::Instant::now() + POSITION_TIMEOUT;
    let mut backoff = crate::Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        match fetch_committed(engine, keys).await {
            Err(e) if e.is_retriable() && tokio::time::Instant::now() < give_up => {
                tracing::info!(error = %e, "committed offsets not readable yet; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return other,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_offset_is_valid_only_within_the_log() {
        // A 40-record log whose first 10 offsets were deleted.
        assert!(in_log(10, 10, 40) && in_log(25, 10, 40));
        assert!(in_log(40, 10, 40), "the high watermark: nothing new yet");
        assert!(!in_log(41, 10, 40) && !in_log(1_000_000, 10, 40));
        assert!(!in_log(9, 10, 40));
    }

    #[test]
    fn a_reset_counts_only_the_offsets_it_skips() {
        use StartFrom::{Earliest, Latest};
        // Below the log start: the deleted offsets are lost either way;
        // the latest policy also skips what is still there.
        assert_eq!(reset_target(4, 10, 40, Earliest), (10, 6));
        assert_eq!(reset_target(4, 10, 40, Latest), (40, 36));
        // Past the end: nothing is skipped, going back loses nothing.
        assert_eq!(reset_target(1_000_000, 10, 40, Earliest), (10, 0));
        assert_eq!(reset_target(1_000_000, 10, 40, Latest), (40, 0));
    }
}
