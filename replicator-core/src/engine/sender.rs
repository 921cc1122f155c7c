//! One produce loop per target broker: for every partition it leads, the
//! next batch of each window, coalesced into one Produce request (one
//! batch per partition), up to five requests in flight; and the task that
//! (re-)initialises the idempotent producer id.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use kafka_proto::{ApiKey, ErrorCode, Records, TopicRef, Uuid};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::producer::{Outcome, ProducerId, Recovery};
use super::{Engine, Key, Shared};
use crate::cluster::{Cluster, PartitionOutcome};
use crate::error::Error;
use crate::mirror::{PartitionError, PartitionState};

/// Produce v13+ names topics by ID.
const PRODUCE_TOPIC_ID_VERSION: i16 = 13;
/// Requests in flight per target broker (Kafka's idempotence window).
const MAX_REQUESTS: usize = 5;

/// Gets a producer id from any target broker.
pub(crate) async fn init_producer_id(
    target: &Cluster,
    generation: u64,
) -> Result<ProducerId, Error> {
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
    tracing::info!(
        producer_id = response.producer_id,
        epoch = response.producer_epoch,
        generation,
        "idempotent producer initialised on the target"
    );
    Ok(ProducerId {
        id: response.producer_id,
        epoch: response.producer_epoch,
        generation,
    })
}

/// Re-initialises the producer id whenever a partition lost its state.
pub(crate) async fn producer_id_task(engine: Arc<Engine>) {
    let mut backoff = crate::Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    while !engine.halted() {
        let wake = engine.producer_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let wanted = {
            let s = engine.lock();
            match (s.reinit, s.producer) {
                (Some(g), Some(p)) if p.generation == g => Some(g + 1),
                _ => None,
            }
        };
        let Some(next) = wanted else {
            tokio::select! {
                _ = wake => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            continue;
        };
        match init_producer_id(&engine.target, next).await {
            Ok(p) => {
                backoff.reset();
                let mut s = engine.lock();
                s.producer = Some(p);
                s.reinit = None;
                drop(s);
                engine.produce_wake.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, "InitProducerId failed; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// A batch in a sent request.
struct SentBatch {
    key: Key,
    target_topic: String,
    sequence: i32,
}

type Done = (Vec<SentBatch>, Result<ProduceResponse, Error>);

pub(crate) async fn run(engine: Arc<Engine>, node: i32) {
    let span = tracing::info_span!("sender", target_node = node);
    send_loop(engine, node).instrument(span).await;
}

async fn send_loop(engine: Arc<Engine>, node: i32) {
    let mut in_flight: JoinSet<Done> = JoinSet::new();
    let mut halt = engine.halt.subscribe();
    while !engine.halted() {
        while let Some(done) = in_flight.try_join_next() {
            if let Ok(done) = done {
                complete(&engine, node, done);
            }
        }
        let wake = engine.produce_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let mut sent_any = false;
        if in_flight.len() < MAX_REQUESTS && has_work(&engine, node) {
            match engine.target.broker_connection(node).await {
                Ok(conn) => {
                    if let Some(batches) = send_one(&engine, node, &conn, &mut in_flight).await {
                        sent_any = batches > 0;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "target broker unreachable");
                    mark_unreachable(&engine, node, &e.to_string());
                    engine.target.request_refresh();
                }
            }
        }
        if sent_any {
            continue;
        }
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(done) = done {
                    complete(&engine, node, done);
                }
            }
            _ = wake => {}
            _ = halt.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// The partitions this sender may produce now.
fn mine(s: &Shared, engine: &Engine, node: i32, now: Instant) -> Vec<Key> {
    let meta = engine.target.metadata();
    s.partitions
        .iter()
        .filter(|(_, p)| p.may_produce(now) && !p.window.is_empty())
        .filter(|(_, p)| match p.sent_to {
            Some(n) => n == node,
            None => meta
                .leader(&p.target_topic, p.partition)
                .is_ok_and(|l| l.node_id == node),
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn has_work(engine: &Engine, node: i32) -> bool {
    let s = engine.lock();
    s.producer.is_some() && !mine(&s, engine, node, Instant::now()).is_empty()
}

fn mark_unreachable(engine: &Engine, node: i32, reason: &str) {
    let now = Instant::now();
    let mut s = engine.lock();
    for key in mine(&s, engine, node, now) {
        if let Some(p) = s.partitions.get_mut(&key) {
            if p.window.in_flight() == 0 {
                p.unavailable(
                    PartitionState::TargetUnavailable,
                    format!("target broker {node} unreachable: {reason}"),
                    now,
                );
            }
        }
    }
}

/// Builds and sends one Produce request; returns the number of batches.
async fn send_one(
    engine: &Arc<Engine>,
    node: i32,
    conn: &crate::Connection,
    in_flight: &mut JoinSet<Done>,
) -> Option<usize> {
    let version = conn.version(ApiKey::Produce).ok()?;
    let meta = engine.target.metadata();
    let mut sent = Vec::new();
    let mut topics: Vec<TopicProduceData> = Vec::new();
    {
        let now = Instant::now();
        let mut s = engine.lock();
        let producer = s.producer?;
        for key in mine(&s, engine, node, now) {
            let Some(p) = s.partitions.get_mut(&key) else {
                continue;
            };
            let Some(batch) = p.window.next_to_send(&producer) else {
                continue;
            };
            p.sent_to = Some(node);
            let topic = if version >= PRODUCE_TOPIC_ID_VERSION {
                TopicRef::Id(
                    meta.topic(&p.target_topic)
                        .map(|t| t.id)
                        .unwrap_or(Uuid::ZERO),
                )
            } else {
                TopicRef::Name(p.target_topic.clone())
            };
            let mut records = Records::new();
            batch.batch.append_to(&mut records);
            let data = PartitionProduceData {
                index: p.partition,
                records: Some(records),
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.topic == topic) {
                Some(t) => t.partition_data.push(data),
                None => topics.push(TopicProduceData {
                    topic,
                    partition_data: vec![data],
                    ..Default::default()
                }),
            }
            sent.push(SentBatch {
                key,
                target_topic: p.target_topic.clone(),
                sequence: batch.sequence,
            });
        }
    }
    if sent.is_empty() {
        return Some(0);
    }
    let n = sent.len();
    let request = ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: i32::try_from(engine.config.target.connection.request_timeout.as_millis())
            .unwrap_or(30_000),
        topic_data: topics,
        ..Default::default()
    };
    let conn = conn.clone();
    let mut fut = Box::pin(async move { conn.send_version(&request, version).await });
    // Poll once here so the request is queued on the connection before the
    // next one: batches of a partition must reach the broker in order.
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(result) => {
            in_flight.spawn(async move { (sent, result) });
        }
        Poll::Pending => {
            in_flight.spawn(async move { (sent, fut.await) });
        }
    }
    Some(n)
}

fn complete(engine: &Engine, node: i32, (sent, result): Done) {
    let meta = engine.target.metadata();
    if let Ok(r) = &result {
        engine.target.observe_hints(r);
    }
    let now = Instant::now();
    let mut s = engine.lock();
    for b in sent {
        let (outcome, leader) = match &result {
            Ok(r) => {
                let id = meta
                    .topic(&b.target_topic)
                    .map(|t| t.id)
                    .unwrap_or(Uuid::ZERO);
                let p = r
                    .responses
                    .iter()
                    .filter(|t| match &t.topic {
                        TopicRef::Name(n) => *n == b.target_topic,
                        TopicRef::Id(i) => *i == id,
                    })
                    .flat_map(|t| &t.partition_responses)
                    .find(|p| p.index == b.key.1);
                match p {
                    Some(p) => {
                        let code = ErrorCode(p.error_code);
                        (
                            Outcome::from_code(code, p.error_message.clone()),
                            Some(code),
                        )
                    }
                    None => (
                        Outcome::Retry("partition missing from the response".into()),
                        None,
                    ),
                }
            }
            Err(e) => (Outcome::Retry(e.to_string()), None),
        };
        if let Some(code) = leader.filter(|c| *c != ErrorCode::NONE) {
            engine.target.observe_partition(
                &b.target_topic,
                b.key.1,
                PartitionOutcome {
                    code,
                    current_leader: None,
                },
            );
            tracing::debug!(topic = %b.key.0, partition = b.key.1, target_node = node, code = code.name(), "produce error");
        }
        if result.is_err() {
            engine.target.request_refresh();
        }
        let producer_generation = s.producer.map(|p| p.generation);
        let Some(p) = s.partitions.get_mut(&b.key) else {
            continue;
        };
        let acked = p.window.on_outcome(b.sequence, outcome);
        let freed = p.acknowledged(&acked);
        if !acked.is_empty() {
            p.succeeded();
        }
        if p.window.in_flight() == 0 {
            p.sent_to = None;
        }
        let mut reinit = None;
        let mut failed = 0;
        match p.window.recover() {
            None => {}
            Some(Recovery::Resend) => {
                p.unavailable(
                    PartitionState::TargetUnavailable,
                    "produce failed; resending from the first unacknowledged batch".into(),
                    now,
                );
            }
            Some(Recovery::Reinit { generation }) => {
                tracing::warn!(topic = %b.key.0, partition = b.key.1, "target lost the producer state; re-initialising the producer id and resending from the first unacknowledged batch");
                p.totals.errors += 1;
                p.back_off(now);
                if producer_generation == Some(generation) {
                    reinit = Some(generation);
                }
            }
            Some(Recovery::Fatal {
                offset,
                bytes,
                code,
                message,
            }) => {
                let err = if matches!(
                    code,
                    ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE
                ) {
                    PartitionError::BatchTooLarge {
                        topic: p.source_topic.clone(),
                        partition: p.partition,
                        target_topic: p.target_topic.clone(),
                        offset,
                        bytes,
                        code,
                        max_message_bytes: p.target_max_message_bytes,
                    }
                } else {
                    PartitionError::ProduceRejected {
                        topic: p.source_topic.clone(),
                        partition: p.partition,
                        target_topic: p.target_topic.clone(),
                        offset,
                        code,
                        message: message.unwrap_or_else(|| code.description().to_owned()),
                    }
                };
                failed = p.fail(&err);
            }
        }
        s.budget.release(freed + failed);
        if let Some(g) = reinit {
            s.reinit = Some(g);
            engine.producer_wake.notify_waiters();
        }
    }
    drop(s);
    engine.fetch_wake.notify_waiters();
    engine.produce_wake.notify_waiters();
}
