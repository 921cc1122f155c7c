//! One fetch loop per source leader: a Fetch (read_committed) for every
//! partition it leads that has budget, sifted into batches to forward.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::{FetchRequest, FetchResponse};
use kafka_proto::{ApiKey, ErrorCode, TopicRef, Uuid};
use tracing::Instrument;

use super::committer::{list_offset, EARLIEST, LATEST};
use super::partition::sift;
use super::{Engine, Key};
use crate::cluster::{needs_metadata_refresh, PartitionOutcome};
use crate::mirror::{PartitionError, PartitionState, StartFrom};

/// Topics whose Fetch uses topic IDs.
const FETCH_TOPIC_ID_VERSION: i16 = 13;

struct Planned {
    key: Key,
    topic_id: Uuid,
    leader_epoch: i32,
    offset: i64,
    max_bytes: usize,
}

pub(crate) async fn run(engine: Arc<Engine>, node: i32) {
    let span = tracing::info_span!("fetcher", source_node = node);
    fetch_loop(engine, node).instrument(span).await;
}

async fn fetch_loop(engine: Arc<Engine>, node: i32) {
    let mut rotate = 0usize;
    let mut halt = engine.halt.subscribe();
    while !engine.halted() {
        let wake = engine.fetch_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let plan = plan(&engine, node, &mut rotate);
        if plan.is_empty() {
            tokio::select! {
                _ = wake => {}
                _ = halt.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            continue;
        }
        let conn = match engine.source.broker_connection(node).await {
            Ok(c) => c,
            Err(e) => {
                unavailable(&engine, &plan, &e.to_string());
                engine.source.request_refresh();
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let result = async {
            let version = conn.version(ApiKey::Fetch)?;
            let request = request(&engine, &plan, version);
            let timeout =
                engine.config.source.connection.request_timeout + engine.config.fetch_max_wait;
            conn.request(&request, version, timeout).await
        }
        .await;
        match result {
            Ok(response) => handle(&engine, &plan, response).await,
            Err(e) => {
                tracing::debug!(error = %e, "fetch failed");
                unavailable(&engine, &plan, &e.to_string());
                engine.source.request_refresh();
            }
        }
    }
}

fn plan(engine: &Engine, node: i32, rotate: &mut usize) -> Vec<Planned> {
    let meta = engine.source.metadata();
    let now = Instant::now();
    let s = engine.lock();
    if s.draining {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut global_left = s.budget.global_limit().saturating_sub(s.budget.used());
    for (key, p) in &s.partitions {
        if !p.wants_fetch(now) {
            continue;
        }
        let Ok(leader) = meta.leader(&p.source_topic, p.partition) else {
            continue;
        };
        if leader.node_id != node {
            continue;
        }
        let allowance = s.budget.allowance(p.window.bytes()).min(global_left);
        if allowance == 0 {
            continue;
        }
        global_left -= allowance.min(global_left);
        out.push(Planned {
            key: key.clone(),
            topic_id: leader.topic_id,
            leader_epoch: leader.leader_epoch,
            offset: p.position.unwrap_or_default(),
            max_bytes: allowance,
        });
    }
    // Brokers fill partitions in request order: rotate so none starves.
    if !out.is_empty() {
        *rotate = rotate.wrapping_add(1);
        let n = *rotate % out.len();
        out.rotate_left(n);
    }
    out
}

fn request(engine: &Engine, plan: &[Planned], version: i16) -> FetchRequest {
    let cap = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let mut topics: Vec<FetchTopic> = Vec::new();
    for p in plan {
        let topic = if version >= FETCH_TOPIC_ID_VERSION {
            TopicRef::Id(p.topic_id)
        } else {
            TopicRef::Name(p.key.0.clone())
        };
        let part = FetchPartition {
            partition: p.key.1,
            current_leader_epoch: p.leader_epoch,
            fetch_offset: p.offset,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: cap(p.max_bytes),
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic == topic => t.partitions.push(part),
            _ => topics.push(FetchTopic {
                topic,
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    let total: usize = plan.iter().map(|p| p.max_bytes).sum();
    FetchRequest {
        replica_id: -1,
        max_wait_ms: cap(engine.config.fetch_max_wait.as_millis() as usize),
        min_bytes: 1,
        max_bytes: cap(total.min(engine.config.fetch_max_bytes)),
        isolation_level: 1,
        session_id: 0,
        session_epoch: -1,
        topics,
        ..Default::default()
    }
}

fn unavailable(engine: &Engine, plan: &[Planned], reason: &str) {
    let now = Instant::now();
    let mut s = engine.lock();
    for p in plan {
        if let Some(part) = s.partitions.get_mut(&p.key) {
            part.unavailable(
                PartitionState::SourceUnavailable,
                format!("fetch failed: {reason}"),
                now,
            );
        }
    }
}

async fn handle(engine: &Arc<Engine>, plan: &[Planned], response: FetchResponse) {
    engine.source.observe_hints(&response);
    let top = ErrorCode(response.error_code);
    if top != ErrorCode::NONE {
        unavailable(engine, plan, &format!("Fetch answered {}", top.name()));
        return;
    }
    let meta = engine.source.metadata();
    let planned: BTreeMap<&Key, &Planned> = plan.iter().map(|p| (&p.key, p)).collect();
    let mut resets = Vec::new();
    for t in response.responses {
        let name = match &t.topic {
            TopicRef::Name(n) => n.clone(),
            TopicRef::Id(id) => match meta.topic_by_id(*id) {
                Some(m) => m.name.clone(),
                None => continue,
            },
        };
        for pd in t.partitions {
            let key = (name.clone(), pd.partition_index);
            let Some(planned) = planned.get(&key) else {
                continue;
            };
            let code = ErrorCode(pd.error_code);
            let now = Instant::now();
            if code == ErrorCode::NONE {
                // CRC checks outside the lock.
                let sifted = pd.records.as_ref().map(|r| {
                    sift(
                        r.to_bytes(),
                        planned.offset,
                        pd.aborted_transactions.as_deref(),
                    )
                });
                let mut s = engine.lock();
                let Some(part) = s.partitions.get_mut(&key) else {
                    continue;
                };
                if part.position != Some(planned.offset) || part.state == PartitionState::Failed {
                    continue; // reset or failed meanwhile
                }
                part.succeeded();
                let result = match sifted {
                    Some(sifted) => part.apply_fetch(sifted, pd.high_watermark),
                    None => {
                        part.high_watermark = pd.high_watermark;
                        part.last_fetch = Some(std::time::SystemTime::now());
                        Ok(0)
                    }
                };
                match result {
                    Ok(bytes) => {
                        s.budget.take(bytes);
                        if bytes > 0 {
                            tracing::trace!(topic = %key.0, partition = key.1, bytes, "fetched");
                        }
                    }
                    Err(e) => {
                        let part = s.partitions.get_mut(&key).expect("present above");
                        let freed = part.fail(&e);
                        s.budget.release(freed);
                    }
                }
                drop(s);
                engine.produce_wake.notify_waiters();
            } else if code == ErrorCode::OFFSET_OUT_OF_RANGE {
                resets.push((key, planned.offset));
            } else if needs_metadata_refresh(code) || code.is_retriable() {
                engine.source.observe_partition(
                    &key.0,
                    key.1,
                    PartitionOutcome {
                        code,
                        current_leader: None,
                    },
                );
                let mut s = engine.lock();
                if let Some(part) = s.partitions.get_mut(&key) {
                    part.unavailable(
                        PartitionState::SourceUnavailable,
                        format!("Fetch answered {}", code.name()),
                        now,
                    );
                }
            } else {
                let err = PartitionError::FetchRejected {
                    topic: key.0.clone(),
                    partition: key.1,
                    code,
                    hint: match code {
                        ErrorCode::TOPIC_AUTHORIZATION_FAILED => {
                            "Grant the mirror's principal Read on the topic, then resume it".into()
                        }
                        _ => code.description().to_owned(),
                    },
                };
                let mut s = engine.lock();
                if let Some(part) = s.partitions.get_mut(&key) {
                    let freed = part.fail(&err);
                    s.budget.release(freed);
                }
            }
        }
    }
    for (key, offset) in resets {
        reset(engine, &key, offset).await;
    }
}

/// OFFSET_OUT_OF_RANGE: move to the start policy's end of the log and
/// report the skipped offsets as lost.
async fn reset(engine: &Engine, key: &Key, from: i64) {
    let (earliest, latest) = (
        list_offset(&engine.source, &key.0, key.1, EARLIEST, false).await,
        list_offset(&engine.source, &key.0, key.1, LATEST, false).await,
    );
    let (Ok(earliest), Ok(latest)) = (earliest, latest) else {
        let mut s = engine.lock();
        if let Some(p) = s.partitions.get_mut(key) {
            p.unavailable(
                PartitionState::SourceUnavailable,
                "offset out of range and the log bounds could not be read".into(),
                Instant::now(),
            );
        }
        return;
    };
    let to = match engine.config.start_from {
        StartFrom::Earliest => earliest,
        StartFrom::Latest => latest,
    };
    let lost = u64::try_from((to - from).max(0)).unwrap_or_default();
    let mut s = engine.lock();
    if let Some(p) = s.partitions.get_mut(key) {
        if p.position != Some(from) {
            return;
        }
        tracing::warn!(topic = %key.0, partition = key.1, from, to, lost, earliest, latest, "fetch offset out of range on the source; {lost} offsets were lost before they could be mirrored; position reset per the start policy");
        p.totals.lost_offsets += lost;
        p.totals.errors += 1;
        // Batches already fetched (before `from`) are still produced.
        p.position = Some(to);
    }
}
