//! Produce requests, without IO: for each target leader, the next batch of
//! every partition it leads, coalesced into one request (Produce v3+ takes
//! one batch per partition), up to [`MAX_REQUESTS`] in flight; encoded
//! straight from the rewritten 61-byte headers and the untouched record
//! bytes; and what each response says about each batch.

use std::collections::{BTreeMap, HashMap};

use kafka_proto::frame::{
    encode_produce_request, EncodedFrame, ProduceOptions, ProducePartition, ProduceTopic,
};
use kafka_proto::messages::ProduceResponse;
use kafka_proto::{EncodeError, ErrorCode, TopicRef, Uuid};

use super::state::PartitionKey;
use super::window::{ProduceOutcome, ToSend};
use crate::cluster::same_topic;

/// Produce v13+ names topics by ID.
const PRODUCE_TOPIC_ID_VERSION: i16 = 13;

/// Requests in flight per target broker (Kafka's idempotence window).
pub(crate) const MAX_REQUESTS: usize = 5;

/// Identifies a [`ProduceToSend`] in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProduceId(pub(crate) u64);

/// One partition's batch in a Produce request.
#[derive(Debug, Clone)]
pub struct ProduceBatch {
    /// The target topic.
    pub topic: String,
    /// Its ID on the target (zero when unknown).
    pub topic_id: Uuid,
    /// The partition.
    pub partition: i32,
    /// The batch, its header rewritten for the target's producer.
    pub batch: ToSend,
}

/// A Produce request to send to a target leader. Requests to one leader
/// must reach it in the order they were polled: each partition's batches
/// carry consecutive sequence numbers across requests.
#[derive(Debug, Clone)]
pub struct ProduceToSend {
    /// Answer with this id.
    pub id: ProduceId,
    /// The target leader's node id.
    pub node: i32,
    /// The batches, grouped by topic.
    pub batches: Vec<ProduceBatch>,
    /// The request's `timeout_ms`.
    pub timeout_ms: i32,
}

impl ProduceToSend {
    /// Encodes the request: idempotent, acks=all, no transaction; topics by
    /// ID from v13.
    pub fn encode(
        &self,
        correlation_id: i32,
        client_id: Option<&str>,
        version: i16,
    ) -> Result<EncodedFrame, EncodeError> {
        let topic_of = |b: &ProduceBatch| {
            if version >= PRODUCE_TOPIC_ID_VERSION {
                TopicRef::Id(b.topic_id)
            } else {
                TopicRef::Name(b.topic.clone())
            }
        };
        // All partitions in one slice, each topic's contiguous.
        let mut order: Vec<(TopicRef, Vec<&ProduceBatch>)> = Vec::new();
        for b in &self.batches {
            let topic = topic_of(b);
            match order.iter_mut().find(|(t, _)| *t == topic) {
                Some((_, bs)) => bs.push(b),
                None => order.push((topic, vec![b])),
            }
        }
        let partitions: Vec<ProducePartition<'_>> = order
            .iter()
            .flat_map(|(_, bs)| bs)
            .map(|b| ProducePartition {
                index: b.partition,
                header: &b.batch.header,
                tail: &b.batch.tail,
            })
            .collect();
        let mut rest = partitions.as_slice();
        let topics: Vec<ProduceTopic<'_>> = order
            .iter()
            .map(|(topic, bs)| {
                let (own, after) = rest.split_at(bs.len());
                rest = after;
                ProduceTopic {
                    topic,
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
                timeout_ms: self.timeout_ms,
            },
            &topics,
        )
    }
}

/// A batch in a request in flight.
#[derive(Debug, Clone)]
pub(crate) struct SentBatch {
    pub key: PartitionKey,
    pub topic: String,
    pub topic_id: Uuid,
    pub sequence: i32,
}

impl SentBatch {
    /// What `response` says about this batch, and the partition's error
    /// code when it names one.
    pub fn outcome(&self, response: &ProduceResponse) -> (ProduceOutcome, Option<ErrorCode>) {
        let p = response
            .responses
            .iter()
            .filter(|t| same_topic(&t.topic, &self.topic, self.topic_id))
            .flat_map(|t| &t.partition_responses)
            .find(|p| p.index == self.key.1);
        match p {
            Some(p) => {
                let code = ErrorCode(p.error_code);
                (
                    ProduceOutcome::from_code(code, p.error_message.clone()),
                    Some(code),
                )
            }
            None => (
                ProduceOutcome::Retry("partition missing from the response".into()),
                None,
            ),
        }
    }
}

/// A request in flight.
#[derive(Debug)]
pub(crate) struct InFlightProduce {
    pub node: i32,
    pub batches: Vec<SentBatch>,
}

/// Produce requests in flight, per target leader.
#[derive(Debug, Default)]
pub(crate) struct ProduceLanes {
    in_flight: HashMap<ProduceId, InFlightProduce>,
    per_node: BTreeMap<i32, usize>,
    next_id: u64,
}

impl ProduceLanes {
    /// Requests `node` may still take.
    pub fn room(&self, node: i32) -> usize {
        MAX_REQUESTS.saturating_sub(self.per_node.get(&node).copied().unwrap_or(0))
    }

    /// Records a request of `batches` to `node`; its id.
    pub fn sent(&mut self, node: i32, batches: Vec<SentBatch>) -> ProduceId {
        self.next_id += 1;
        let id = ProduceId(self.next_id);
        *self.per_node.entry(node).or_default() += 1;
        self.in_flight.insert(id, InFlightProduce { node, batches });
        id
    }

    /// Takes request `id` out of flight; `None` when it is not in flight (a
    /// late or repeated answer).
    pub fn complete(&mut self, id: ProduceId) -> Option<InFlightProduce> {
        let sent = self.in_flight.remove(&id)?;
        if let Some(n) = self.per_node.get_mut(&sent.node) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_node.remove(&sent.node);
            }
        }
        Some(sent)
    }

    /// Requests in flight.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_proto::frame::encode_request;
    use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_proto::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
    use kafka_proto::messages::ProduceRequest;
    use kafka_proto::record::{RecordBatch, RecordBatchBuilder};
    use kafka_proto::Records;

    use super::*;
    use crate::engine::producer::ProducerId;
    use crate::engine::sorting::Forward;
    use crate::engine::window::SequenceWindow;

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

    fn batch(topic: &str, id: u8, partition: i32, b: ToSend) -> ProduceBatch {
        ProduceBatch {
            topic: topic.into(),
            topic_id: Uuid::from_bytes([id; 16]),
            partition,
            batch: b,
        }
    }

    fn request() -> ProduceToSend {
        ProduceToSend {
            id: ProduceId(1),
            node: 1,
            batches: vec![
                batch("a", 1, 0, to_send(0, 10)),
                batch("b.c", 2, 1, to_send(7, 300)),
                batch("a", 1, 2, to_send(100, 2000)),
            ],
            timeout_ms: 30_000,
        }
    }

    /// The same request built as structs.
    fn as_struct(r: &ProduceToSend, version: i16) -> ProduceRequest {
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for b in &r.batches {
            let topic = if version >= PRODUCE_TOPIC_ID_VERSION {
                TopicRef::Id(b.topic_id)
            } else {
                TopicRef::Name(b.topic.clone())
            };
            let mut records = Records::new();
            records.push(Bytes::copy_from_slice(&b.batch.header));
            records.push(b.batch.tail.clone());
            let data = PartitionProduceData {
                index: b.partition,
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
        }
        ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: r.timeout_ms,
            topic_data: topics,
            ..Default::default()
        }
    }

    #[test]
    fn encoded_produce_matches_the_struct_encoding() {
        let r = request();
        for version in [3, 8, 9, 12, 13] {
            let fast = r.encode(17, Some("mirror"), version).unwrap();
            let slow =
                encode_request(17, Some("mirror"), version, &as_struct(&r, version)).unwrap();
            assert_eq!(fast.to_bytes(), slow.to_bytes(), "v{version}");
        }
        // The batches inside carry the target producer and stay valid.
        let b = &r.batches[2].batch;
        let whole = [&b.header[..], &b.tail[..]].concat();
        let b = RecordBatch::new(Bytes::from(whole)).unwrap();
        b.verify_crc().unwrap();
        assert_eq!((b.producer_id(), b.producer_epoch()), (42, 3));
    }

    #[test]
    fn a_topic_without_an_id_cannot_go_by_id() {
        let mut r = request();
        for b in &mut r.batches {
            b.topic_id = Uuid::ZERO;
        }
        assert!(r.encode(1, None, 12).is_ok());
    }

    #[test]
    fn outcomes_are_matched_by_topic_name_or_id_and_partition() {
        let sent = SentBatch {
            key: ("src".into(), 2),
            topic: "a".into(),
            topic_id: Uuid::from_bytes([1; 16]),
            sequence: 0,
        };
        let response = |topic: TopicRef, code: ErrorCode| ProduceResponse {
            responses: vec![TopicProduceResponse {
                topic,
                partition_responses: vec![PartitionProduceResponse {
                    index: 2,
                    error_code: code.0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (o, code) = sent.outcome(&response(TopicRef::Name("a".into()), ErrorCode::NONE));
        assert_eq!((o, code), (ProduceOutcome::Written, Some(ErrorCode::NONE)));
        let (o, _) = sent.outcome(&response(
            TopicRef::Id(Uuid::from_bytes([1; 16])),
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ));
        assert!(matches!(o, ProduceOutcome::Retry(_)));
        let (o, code) = sent.outcome(&response(TopicRef::Name("b".into()), ErrorCode::NONE));
        assert!(matches!(o, ProduceOutcome::Retry(_)) && code.is_none());
    }

    #[test]
    fn at_most_five_requests_per_broker() {
        let mut lanes = ProduceLanes::default();
        let ids: Vec<ProduceId> = (0..MAX_REQUESTS)
            .map(|_| lanes.sent(1, Vec::new()))
            .collect();
        assert_eq!((lanes.room(1), lanes.room(2)), (0, MAX_REQUESTS));
        assert!(lanes.complete(ids[0]).is_some());
        assert!(lanes.complete(ids[0]).is_none());
        assert_eq!(lanes.room(1), 1);
    }
}
