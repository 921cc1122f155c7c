//! A whole Produce request answered as Kafka's broker would, over a set of
//! [`PartitionLog`]s: the request-level rule, then each partition's.

use std::collections::HashMap;

use super::{partition_response, Appended, PartitionLog, Refusal, TopicConfig};
use crate::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use crate::messages::{ProduceRequest, ProduceResponse};
use crate::record::{Entries, Entry};
use crate::{ErrorCode, TopicRef};

/// The Produce side of a strict broker: topic configs and partition logs,
/// created on first use.
#[derive(Debug, Clone, Default)]
pub struct StrictProduce {
    default_config: TopicConfig,
    configs: HashMap<String, TopicConfig>,
    logs: HashMap<(String, i32), PartitionLog>,
}

/// What happened to one partition of a Produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOutcome {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Appended (or a duplicate), or refused with Kafka's error.
    pub result: Result<Appended, Refusal>,
}

impl StrictProduce {
    /// Topics without a config of their own get `default_config`.
    pub fn new(default_config: TopicConfig) -> Self {
        Self {
            default_config,
            ..Self::default()
        }
    }

    /// Sets `topic`'s config, for its existing and future partitions.
    pub fn set_topic_config(&mut self, topic: &str, config: TopicConfig) {
        for ((t, _), log) in self.logs.iter_mut() {
            if t == topic {
                log.set_config(config.clone());
            }
        }
        self.configs.insert(topic.to_owned(), config);
    }

    /// The config `topic` is checked with.
    pub fn topic_config(&self, topic: &str) -> &TopicConfig {
        self.configs.get(topic).unwrap_or(&self.default_config)
    }

    /// The log of `topic`-`partition`, created empty if new.
    pub fn partition(&mut self, topic: &str, partition: i32) -> &mut PartitionLog {
        let config = self.topic_config(topic).clone();
        self.logs
            .entry((topic.to_owned(), partition))
            .or_insert_with(|| PartitionLog::new(topic, partition, config))
    }

    /// Answers `req` (received at `api_version`, broker time `now_ms`).
    /// `exists(topic, partition)` resolves a topic reference to the name of
    /// a topic that has that partition; others get
    /// `UNKNOWN_TOPIC_OR_PARTITION`.
    pub fn produce(
        &mut self,
        req: &ProduceRequest,
        api_version: i16,
        now_ms: i64,
        exists: impl Fn(&TopicRef, i32) -> Option<String>,
    ) -> (ProduceResponse, Vec<PartitionOutcome>) {
        // Kafka refuses the whole request when it carries transactional
        // batches but no transactional id.
        let unauthorized = req.transactional_id.is_none() && has_transactional_batch(req);
        let mut outcomes = Vec::new();
        let responses = req
            .topic_data
            .iter()
            .map(|t| {
                let partition_responses = t
                    .partition_data
                    .iter()
                    .map(|p| {
                        if unauthorized {
                            return error_partition(
                                p.index,
                                ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                            );
                        }
                        let Some(name) = exists(&t.topic, p.index) else {
                            return error_partition(p.index, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                        };
                        let records = p.records.as_ref().map(|r| r.to_bytes());
                        let log = self.partition(&name, p.index);
                        let result = log.append(api_version, records.as_ref(), now_ms);
                        let resp = partition_response(p.index, api_version, &result, 0);
                        outcomes.push(PartitionOutcome {
                            topic: name,
                            partition: p.index,
                            result,
                        });
                        resp
                    })
                    .collect();
                TopicProduceResponse {
                    topic: t.topic.clone(),
                    partition_responses,
                    ..TopicProduceResponse::default()
                }
            })
            .collect();
        let response = ProduceResponse {
            responses,
            ..ProduceResponse::default()
        };
        (response, outcomes)
    }
}

fn error_partition(index: i32, code: ErrorCode) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.code(),
        base_offset: -1,
        ..PartitionProduceResponse::default()
    }
}

/// Whether any partition's first batch is transactional.
fn has_transactional_batch(req: &ProduceRequest) -> bool {
    req.topic_data.iter().flat_map(|t| &t.partition_data).any(|p| {
        p.records.as_ref().is_some_and(|r| {
            matches!(Entries::new(r.to_bytes()).next(), Some(Ok(Entry::Batch(b))) if b.is_transactional())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use crate::record::RecordBatchBuilder;
    use crate::Records;
    use bytes::Bytes;

    fn request(transactional_id: Option<&str>, batches: &[(&str, i32, Bytes)]) -> ProduceRequest {
        ProduceRequest {
            transactional_id: transactional_id.map(str::to_owned),
            acks: -1,
            timeout_ms: 1000,
            topic_data: batches
                .iter()
                .map(|(t, p, b)| TopicProduceData {
                    topic: TopicRef::Name((*t).to_owned()),
                    partition_data: vec![PartitionProduceData {
                        index: *p,
                        records: Some(Records::from(b.clone())),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn exists(t: &TopicRef, p: i32) -> Option<String> {
        t.name()
            .filter(|n| *n != "missing" && p < 2)
            .map(str::to_owned)
    }

    #[test]
    fn each_partition_is_answered_on_its_own() {
        let mut good = RecordBatchBuilder::new(0, 1);
        good.append(None, Some(Bytes::from_static(b"v"))).unwrap();
        let mut holey = RecordBatchBuilder::new(0, 1);
        holey.last_offset_delta(3).append(None, None).unwrap();
        let mut strict = StrictProduce::default();
        let req = request(
            None,
            &[
                ("a", 0, good.build().unwrap()),
                ("a", 1, holey.build().unwrap()),
                ("missing", 0, good.build().unwrap()),
            ],
        );
        let (resp, outcomes) = strict.produce(&req, 9, 1, exists);
        let codes: Vec<i16> = resp
            .responses
            .iter()
            .map(|t| t.partition_responses[0].error_code)
            .collect();
        assert_eq!(
            codes,
            [
                0,
                ErrorCode::INVALID_RECORD.code(),
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code()
            ]
        );
        assert_eq!(outcomes.len(), 2);
        assert_eq!(strict.partition("a", 0).log_end_offset(), 1);
    }

    #[test]
    fn transactional_batches_need_a_transactional_id() {
        let mut txn = RecordBatchBuilder::new(0, 1);
        txn.producer(1, 0, 0)
            .transactional(true)
            .append(None, Some(Bytes::from_static(b"v")))
            .unwrap();
        let mut strict = StrictProduce::default();
        let (resp, _) = strict.produce(
            &request(None, &[("a", 0, txn.build().unwrap())]),
            9,
            1,
            exists,
        );
        assert_eq!(
            resp.responses[0].partition_responses[0].error_code,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code()
        );
        let (resp, _) = strict.produce(
            &request(Some("tx"), &[("a", 0, txn.build().unwrap())]),
            9,
            1,
            exists,
        );
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    }
}
