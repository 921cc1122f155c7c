//! The requests around the data path: InitProducerId on the target,
//! positions (OffsetFetch, ListOffsets) and OffsetCommit on the source, and
//! target topic setup; and the start, which runs them before anything is
//! fetched.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_proto::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_proto::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_proto::messages::{InitProducerIdRequest, ListOffsetsRequest, OffsetFetchRequest};
use kafka_proto::{ApiKey, ErrorCode, TopicRef};

use super::{broker_of, Engine, Unanswered};
use crate::address::{BrokerAddress, BrokerLabel};
use crate::cluster::{Cluster, ClusterMetadata};
use crate::engine::commit::CommitToSend;
use crate::engine::positioning::{
    LogBounds, PositionAnswer, PositionFailure, PositionRequest, EARLIEST, LATEST, POSITION_TIMEOUT,
};
use crate::engine::state::{PartitionKey, Side, TopicSetup};
use crate::error::Error;
use crate::model::MirrorError;
use crate::topics::target::{ensure_topic, TargetPolicy};

/// Before the mirror runs: the producer id, the target topics of the
/// selection, and every partition's position. Any failure but a partition
/// that cannot be positioned (retried later) stops the start.
pub(super) async fn start(engine: &Arc<Engine>) -> Result<(), MirrorError> {
    let generation = engine.lock().poll_producer_id(Instant::now());
    if let Some(generation) = generation {
        let patience = engine.config.target.connection.request_timeout;
        let pid = init_producer_id_at_start(&engine.target, patience)
            .await
            .map_err(MirrorError::Target)?;
        engine
            .lock()
            .handle_producer_id(generation, Ok(pid), Instant::now());
    }
    let meta = engine
        .source
        .refresh_metadata()
        .await
        .map_err(MirrorError::Source)?;
    let setups = {
        let mut s = engine.lock();
        s.handle_metadata(Side::Source, meta);
        s.handle_metadata(Side::Target, engine.target.metadata());
        if let Some((topic, code)) = s.missing_named_topic() {
            return Err(MirrorError::Source(Error::UnknownTopic { topic, code }));
        }
        s.plan_topic_setups()
    };
    for mut setup in setups {
        if let Some(refused) = setup.refused.take() {
            return Err(refused);
        }
        let max_message_bytes = set_up(engine, &setup).await?;
        engine
            .lock()
            .handle_topic_setup(&setup, Ok(max_message_bytes), Instant::now());
    }
    let requests = engine.lock().poll_position_requests(Instant::now());
    for req in requests {
        let (answer, group_error) = read_positions_patiently(engine, &req).await;
        engine
            .lock()
            .handle_position_response(req.id, answer, Instant::now());
        if let Some(e) = group_error {
            return Err(MirrorError::Group {
                group: engine.config.group_id.clone(),
                reason: format!("reading committed offsets failed: {e}"),
            });
        }
    }
    Ok(())
}

/// Sets up `setup`'s target topic; its max.message.bytes when readable.
async fn set_up(engine: &Engine, setup: &TopicSetup) -> Result<Option<i64>, MirrorError> {
    let cfg = &engine.config;
    let info = ensure_topic(
        &engine.source,
        &engine.target,
        &setup.source_topic,
        &setup.target_topic,
        setup.partitions,
        TargetPolicy {
            create: cfg.create_topics,
            replication_factor: cfg.replication_factor,
            sync_configs: cfg.sync_configs,
        },
    )
    .await?;
    Ok(info.max_message_bytes)
}

/// Finds new topics and partitions on the source and sets up their
/// target topics; a topic that cannot be set up is reported on its
/// partitions and retried at the next refresh.
pub(super) async fn discover(engine: Arc<Engine>) {
    let meta = match engine.source.refresh_metadata().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "topic discovery failed; retrying at the next refresh");
            return;
        }
    };
    let setups = {
        let mut s = engine.lock();
        s.handle_metadata(Side::Source, meta);
        s.handle_metadata(Side::Target, engine.target.metadata());
        s.plan_topic_setups()
    };
    for setup in setups {
        let result = match &setup.refused {
            Some(e) => Err(e.to_string()),
            None => set_up(&engine, &setup).await.map_err(|e| e.to_string()),
        };
        engine.apply(|s, now| s.handle_topic_setup(&setup, result, now));
    }
}

/// Reads what `req` asks for and hands it to the state.
pub(super) async fn position(engine: Arc<Engine>, req: PositionRequest) {
    let id = req.id;
    let unanswered = {
        let engine = Arc::clone(&engine);
        let keys = req.partitions.clone();
        Unanswered::new(move || {
            let f = PositionFailure {
                broker: "the source cluster".into(),
                detail: "the positioning task ended abnormally".into(),
            };
            let answer = PositionAnswer {
                committed: Ok(HashMap::new()),
                bounds: keys.into_iter().map(|k| (k, Err(f.clone()))).collect(),
            };
            engine.apply(|s, now| s.handle_position_response(id, answer, now));
        })
    };
    let (answer, group_error) = read_positions(&engine, &req).await;
    if let Some(e) = group_error {
        tracing::warn!(error = %e, partitions = req.partitions.len(), "positioning failed; retrying with backoff");
    }
    unanswered.answered();
    engine.apply(|s, now| s.handle_position_response(id, answer, now));
}

/// [`read_positions`] at start, asked again while the group's error is
/// retriable, for up to [`POSITION_TIMEOUT`]: a fresh Kafka cluster answers
/// FindCoordinator with COORDINATOR_NOT_AVAILABLE until its offsets topic
/// exists, and OffsetFetch with COORDINATOR_LOAD_IN_PROGRESS while it loads.
async fn read_positions_patiently(
    engine: &Engine,
    req: &PositionRequest,
) -> (PositionAnswer, Option<Error>) {
    let give_up = tokio::time::Instant::now() + POSITION_TIMEOUT;
    let mut backoff = crate::Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        match read_positions(engine, req).await {
            (_, Some(e)) if e.is_retriable() && tokio::time::Instant::now() < give_up => {
                tracing::info!(error = %e, "committed offsets not readable yet; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            answer => return answer,
        }
    }
}

/// The facts `req` asks for; and the group's error, when its committed
/// offsets could not be read.
async fn read_positions(engine: &Engine, req: &PositionRequest) -> (PositionAnswer, Option<Error>) {
    let group = &engine.config.group_id;
    let committed = if req.read_committed {
        match fetch_committed(engine, &req.partitions).await {
            Ok(c) => c,
            Err(e) => {
                let failure = PositionFailure {
                    broker: broker_of(&e)
                        .map(ToString::to_string)
                        .unwrap_or_else(|| format!("the coordinator of group {group:?}")),
                    detail: format!("reading the committed offsets of group {group:?} failed: {e}"),
                };
                let answer = PositionAnswer {
                    committed: Err(failure),
                    bounds: Vec::new(),
                };
                return (answer, Some(e));
            }
        }
    } else {
        HashMap::new()
    };
    let mut bounds = Vec::with_capacity(req.partitions.len());
    for key in &req.partitions {
        let read = log_bounds(&engine.source, key, req.read_stable_end).await;
        let read = read.map_err(|e| PositionFailure {
            broker: broker_of(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| leader_name(&engine.source, &key.0, key.1)),
            detail: e.to_string(),
        });
        bounds.push((key.clone(), read));
    }
    (
        PositionAnswer {
            committed: Ok(committed),
            bounds,
        },
        None,
    )
}

/// A partition's log start, high watermark and, when asked, last stable
/// offset.
async fn log_bounds(
    source: &Cluster,
    key: &PartitionKey,
    stable: bool,
) -> Result<LogBounds, Error> {
    let (topic, p) = (&key.0, key.1);
    let earliest = list_offset(source, topic, p, EARLIEST, false).await?;
    let latest = list_offset(source, topic, p, LATEST, false).await?;
    let stable_end = if stable {
        Some(list_offset(source, topic, p, LATEST, true).await?)
    } else {
        None
    };
    Ok(LogBounds {
        earliest,
        latest,
        stable_end,
    })
}

/// The offset of `timestamp` (LATEST, EARLIEST) on the partition leader;
/// `committed` asks for the last stable offset (read_committed).
async fn list_offset(
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

fn leader_label(cluster: &Cluster, topic: &str, partition: i32) -> BrokerLabel {
    match cluster.metadata().leader(topic, partition) {
        Ok(l) => BrokerLabel::node(l.node_id, l.address),
        Err(_) => BrokerLabel::bootstrap(BrokerAddress::new("unknown-leader", 0)),
    }
}

/// The partition's leader, for messages.
fn leader_name(cluster: &Cluster, topic: &str, partition: i32) -> String {
    match cluster.metadata().leader(topic, partition) {
        Ok(l) => BrokerLabel::node(l.node_id, l.address).to_string(),
        Err(_) => format!("the source cluster (no leader known for {topic}-{partition})"),
    }
}

/// The group's committed offsets of `keys` (below 0: none).
async fn fetch_committed(
    engine: &Engine,
    keys: &[PartitionKey],
) -> Result<HashMap<PartitionKey, i64>, Error> {
    let group = &engine.config.group_id;
    let (_, conn) = engine.source.group_coordinator(group).await?;
    let version = conn.version(ApiKey::OffsetFetch)?;
    let meta = engine.source.metadata();
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in keys {
        by_topic.entry(t).or_default().push(*p);
    }
    let request = if version >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.clone(),
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
            group_id: group.clone(),
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
                context: Some(format!("group {group}")),
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

fn topic_ref(meta: &ClusterMetadata, topic: &str, by_id: bool) -> TopicRef {
    match meta.topic(topic) {
        Some(t) if by_id => TopicRef::Id(t.id),
        _ => TopicRef::Name(topic.to_owned()),
    }
}

/// Asks the target for a producer id for `generation`.
pub(super) async fn producer_id(engine: Arc<Engine>, generation: u64) {
    let unanswered = {
        let engine = Arc::clone(&engine);
        Unanswered::new(move || {
            engine.apply(|s, now| {
                s.handle_producer_id(generation, Err("the task ended abnormally".into()), now)
            })
        })
    };
    let result = init_producer_id(&engine.target)
        .await
        .map_err(|e| e.to_string());
    unanswered.answered();
    engine.apply(|s, now| s.handle_producer_id(generation, result, now));
}

/// The first producer id, retried with backoff for up to `patience` while
/// the error is retriable: a fresh Kafka broker answers
/// COORDINATOR_LOAD_IN_PROGRESS until the controller has given it its first
/// block of producer ids.
async fn init_producer_id_at_start(
    target: &Cluster,
    patience: Duration,
) -> Result<(i64, i16), Error> {
    let give_up = tokio::time::Instant::now() + patience;
    let mut backoff = crate::Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        match init_producer_id(target).await {
            Err(e) if e.is_retriable() && tokio::time::Instant::now() < give_up => {
                tracing::info!(error = %e, "InitProducerId not ready on the target; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return other,
        }
    }
}

/// Gets an idempotent producer id and epoch from any target broker.
async fn init_producer_id(target: &Cluster) -> Result<(i64, i16), Error> {
    let conn = target.any_connection().await?;
    let version = conn.version(ApiKey::InitProducerId)?;
    let request = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let response = conn.send_version(&request, version).await?;
    let code = ErrorCode(response.error_code);
    if code != ErrorCode::NONE {
        return Err(Error::Broker {
            broker: conn.broker().clone(),
            api: ApiKey::InitProducerId,
            code,
            context: None,
            message: None,
        });
    }
    Ok((response.producer_id, response.producer_epoch))
}

/// Sends `req` to the group coordinator, keeping the connection between
/// commits.
pub(super) async fn commit(engine: Arc<Engine>, req: CommitToSend) {
    let id = req.id;
    let unanswered = {
        let engine = Arc::clone(&engine);
        Unanswered::new(move || {
            engine.apply(|s, now| {
                s.handle_commit_failure(id, "the commit task ended abnormally".into(), now)
            })
        })
    };
    let result = async {
        let kept = engine.kept().coordinator.clone().filter(|c| !c.is_closed());
        let conn = match kept {
            Some(c) => c,
            None => {
                let (_, c) = engine.source.group_coordinator(&req.group).await?;
                engine.kept().coordinator = Some(c.clone());
                c
            }
        };
        let version = conn.version(ApiKey::OffsetCommit)?;
        conn.send_version(&req.request(version), version).await
    }
    .await;
    unanswered.answered();
    engine.apply(|s, now| match result {
        Ok(r) => s.handle_commit_response(id, &r, now),
        Err(e) => s.handle_commit_failure(id, e.to_string(), now),
    });
}
