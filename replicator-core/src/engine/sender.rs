//! One produce loop per target broker: for every partition it leads, the
//! next batch of each window, coalesced into one Produce request (one
//! batch per partition), up to five requests in flight; and the task that
//! (re-)initialises the idempotent producer id.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use kafka_proto::frame::{
    encode_produce_request, EncodedFrame, ProduceOptions, ProducePartition, ProduceTopic,
};
use kafka_proto::messages::{InitProducerIdRequest, ProduceResponse};
use kafka_proto::{ApiKey, EncodeError, ErrorCode, TopicRef, Uuid};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::producer::{Outcome, ProducerId, Recovery, ToSend};
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

/// The first producer id. A Kafka broker answers a retriable error while
/// it cannot hand out ids yet (`COORDINATOR_LOAD_IN_PROGRESS` on a fresh
/// KRaft broker, before its first block of ids arrives from the
/// controller): retried with backoff, for up to `patience`.
pub(crate) async fn init_producer_id_at_start(
    target: &Cluster,
    patience: Duration,
) -> Result<ProducerId, Error> {
    let give_up = tokio::time::Instant::now() + patience;
    let mut backoff = crate::Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        match init_producer_id(target, 0).await {
            Err(e) if e.is_retriable() && tokio::time::Instant::now() < give_up => {
                tracing::info!(error = %e, "InitProducerId not ready on the target; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return other,
        }
    }
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

/// One topic's batches in a request being built.
struct TopicBatches {
    topic: TopicRef,
    batches: Vec<(i32, ToSend)>,
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
    let mut topics: Vec<TopicBatches> = Vec::new();
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
            sent.push(SentBatch {
                key,
                target_topic: p.target_topic.clone(),
                sequence: batch.sequence,
            });
            let entry = (p.partition, batch);
            match topics.iter_mut().find(|t| t.topic == topic) {
                Some(t) => t.batches.push(entry),
                None => topics.push(TopicBatches {
                    topic,
                    batches: vec![entry],
                }),
            }
        }
    }
    if sent.is_empty() {
        return Some(0);
    }
    let n = sent.len();
    let timeout_ms = i32::try_from(engine.config.target.connection.request_timeout.as_millis())
        .unwrap_or(30_000);
    let conn = conn.clone();
    let mut fut = Box::pin(async move {
        conn.send_encoded::<ProduceResponse, _>(version, |id, client_id| {
            encode_produce(id, client_id, version, timeout_ms, &topics)
        })
        .await
    });
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

/// Encodes the Produce request for `topics`: idempotent, acks=all, no
/// transaction.
fn encode_produce(
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    timeout_ms: i32,
    topics: &[TopicBatches],
) -> Result<EncodedFrame, EncodeError> {
    // All partitions in one slice, each topic's contiguous.
    let partitions: Vec<ProducePartition<'_>> = topics
        .iter()
        .flat_map(|t| &t.batches)
        .map(|(index, batch)| ProducePartition {
            index: *index,
            header: &batch.header,
            tail: &batch.tail,
        })
        .collect();
    let mut rest = partitions.as_slice();
    let produce_topics: Vec<ProduceTopic<'_>> = topics
        .iter()
        .map(|t| {
            let (own, after) = rest.split_at(t.batches.len());
            rest = after;
            ProduceTopic {
                topic: &t.topic,
                partitions: own,
            }
        })
        .collect();
    encode_produce_request(
        correlation_id,
        client_id,
        version,
        &ProduceOptions {
            transactional_id: None,
            acks: -1,
            timeout_ms,
        },
        &produce_topics,
    )
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_proto::frame::encode_request;
    use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_proto::messages::ProduceRequest;
    use kafka_proto::record::{RecordBatch, RecordBatchBuilder};
    use kafka_proto::Records;

    use super::*;
    use crate::engine::producer::{Forward, SequenceWindow};

    const PRODUCER: ProducerId = ProducerId {
        id: 42,
        epoch: 3,
        generation: 1,
    };

    /// A batch rewritten by a window, with `value_len`-byte records (both
    /// sides of the size at which the encoder shares a tail).
    fn to_send(offset: i64, value_len: usize) -> ToSend {
        let mut b = RecordBatchBuilder::new(offset, 1_700_000_000_000);
        for i in 0..3u8 {
            b.append(None, Some(Bytes::from(vec![i; value_len])))
                .unwrap();
        }
        let batch = RecordBatch::new(b.build().unwrap())
            .unwrap()
            .verify()
            .unwrap();
        let mut w = SequenceWindow::new(5);
        w.push(Forward::new(batch));
        w.next_to_send(&PRODUCER).unwrap()
    }

    /// The same request built as structs, as the sender did before.
    fn as_struct(timeout_ms: i32, topics: &[TopicBatches]) -> ProduceRequest {
        ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms,
            topic_data: topics
                .iter()
                .map(|t| TopicProduceData {
                    topic: t.topic.clone(),
                    partition_data: t
                        .batches
                        .iter()
                        .map(|(index, b)| {
                            let mut records = Records::new();
                            records.push(Bytes::copy_from_slice(&b.header));
                            records.push(b.tail.clone());
                            PartitionProduceData {
                                index: *index,
                                records: Some(records),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn encoded_produce_matches_the_struct_encoding() {
        for version in [3, 8, 9, 12, 13] {
            let topic = |name: &str, id: u8| {
                if version >= PRODUCE_TOPIC_ID_VERSION {
                    TopicRef::Id(Uuid::from_bytes([id; 16]))
                } else {
                    TopicRef::Name(name.to_owned())
                }
            };
            let topics = vec![
                TopicBatches {
                    topic: topic("a", 1),
                    batches: vec![(0, to_send(0, 10)), (2, to_send(100, 2000))],
                },
                TopicBatches {
                    topic: topic("b.c", 2),
                    batches: vec![(1, to_send(7, 300))],
                },
            ];
            let fast = encode_produce(17, Some("mirror"), version, 30_000, &topics).unwrap();
            let slow =
                encode_request(17, Some("mirror"), version, &as_struct(30_000, &topics)).unwrap();
            assert_eq!(fast.to_bytes(), slow.to_bytes(), "v{version}");
            // The batches inside carry the target producer and stay valid.
            let first = &topics[0].batches[1].1;
            let whole = [&first.header[..], &first.tail[..]].concat();
            let b = RecordBatch::new(Bytes::from(whole)).unwrap();
            b.verify_crc().unwrap();
            assert_eq!((b.producer_id(), b.producer_epoch()), (42, 3));
        }
    }

    #[test]
    fn wrong_topic_reference_for_the_version_is_an_error() {
        let topics = vec![TopicBatches {
            topic: TopicRef::Name("a".into()),
            batches: vec![(0, to_send(0, 10))],
        }];
        assert!(encode_produce(1, None, 13, 1000, &topics).is_err());
        assert!(encode_produce(1, None, 12, 1000, &topics).is_ok());
    }
}
