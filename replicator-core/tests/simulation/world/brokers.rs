//! The brokers' answers: Fetch from the source, Produce to the target,
//! OffsetCommit to the group, and the facts a positioning request reads,
//! with Kafka's documented errors injected while faults last.

use super::*;

/// Errors Kafka documents for a Fetch partition (`FetchResponse`), split by
/// retriability. OFFSET_OUT_OF_RANGE is not injected: the source answers it
/// when it is true.
const FETCH_RETRIABLE: &[ErrorCode] = &[
    ErrorCode::NOT_LEADER_OR_FOLLOWER,
    ErrorCode::FENCED_LEADER_EPOCH,
    ErrorCode::UNKNOWN_LEADER_EPOCH,
    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode::KAFKA_STORAGE_ERROR,
    ErrorCode::REPLICA_NOT_AVAILABLE,
    ErrorCode::CORRUPT_MESSAGE,
    ErrorCode::UNKNOWN_TOPIC_ID,
];
const FETCH_FATAL: &[ErrorCode] = &[
    ErrorCode::TOPIC_AUTHORIZATION_FAILED,
    ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
    ErrorCode::UNKNOWN_SERVER_ERROR,
];
/// Errors Kafka documents for a Produce partition (`ProduceResponse`) and
/// the idempotent producer's. The first two are answered after the batch
/// was appended (acks=all not met in time).
const PRODUCE_AFTER_APPEND: &[ErrorCode] = &[
    ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ErrorCode::REQUEST_TIMED_OUT,
];
const PRODUCE_RETRIABLE: &[ErrorCode] = &[
    ErrorCode::NOT_LEADER_OR_FOLLOWER,
    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode::NOT_ENOUGH_REPLICAS,
    ErrorCode::KAFKA_STORAGE_ERROR,
    ErrorCode::CORRUPT_MESSAGE,
    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
    ErrorCode::INVALID_PRODUCER_EPOCH,
];
const PRODUCE_FATAL: &[ErrorCode] = &[
    ErrorCode::MESSAGE_TOO_LARGE,
    ErrorCode::RECORD_LIST_TOO_LARGE,
    ErrorCode::INVALID_RECORD,
    ErrorCode::INVALID_TOPIC_EXCEPTION,
    ErrorCode::INVALID_REQUIRED_ACKS,
    ErrorCode::TOPIC_AUTHORIZATION_FAILED,
    ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
    ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
];
/// Errors Kafka documents for an OffsetCommit partition.
const COMMIT_RETRIABLE: &[ErrorCode] = &[
    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode::REQUEST_TIMED_OUT,
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::REBALANCE_IN_PROGRESS,
];
const COMMIT_FATAL: &[ErrorCode] = &[
    ErrorCode::OFFSET_METADATA_TOO_LARGE,
    ErrorCode::ILLEGAL_GENERATION,
    ErrorCode::UNKNOWN_MEMBER_ID,
    ErrorCode::INVALID_COMMIT_OFFSET_SIZE,
    ErrorCode::TOPIC_AUTHORIZATION_FAILED,
    ErrorCode::GROUP_AUTHORIZATION_FAILED,
];

impl World {
    /// The topic a request names, by name or ID.
    pub(super) fn topic_name(&self, topic: &TopicRef) -> Option<String> {
        match topic {
            TopicRef::Name(n) => Some(n.clone()),
            TopicRef::Id(id) => self
                .topic_ids
                .iter()
                .find(|(_, i)| *i == id)
                .map(|(n, _)| n.clone()),
        }
    }

    pub(super) fn fetch(&mut self, node: i32, request: &FetchRequest) -> FetchResponse {
        let mut budget = usize::try_from(request.max_bytes).unwrap_or(0);
        let mut first = true;
        let mut responses = Vec::new();
        for t in &request.topics {
            let name = self.topic_name(&t.topic);
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let inject = self.faulty() && self.rng.chance(self.scenario.faults.fetch_error);
                let fatal = inject && self.rng.chance(self.scenario.faults.fatal_share);
                let data = match name.as_ref().and_then(|n| self.source.get(n)) {
                    None => error_partition(p.partition, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    Some(_) if inject => {
                        self.stats.injected += 1;
                        let list = if fatal { FETCH_FATAL } else { FETCH_RETRIABLE };
                        let code = *self.rng.pick(list);
                        error_partition(p.partition, code)
                    }
                    Some(parts) => match parts.get(p.partition as usize) {
                        Some(sp) => sp.fetch(
                            node,
                            p.fetch_offset,
                            p.current_leader_epoch,
                            usize::try_from(p.partition_max_bytes).unwrap_or(0),
                            &mut budget,
                            &mut first,
                        ),
                        None => error_partition(p.partition, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    },
                };
                partitions.push(data);
            }
            responses.push(FetchableTopicResponse {
                topic: t.topic.clone(),
                partitions,
                ..Default::default()
            });
        }
        FetchResponse {
            responses,
            ..Default::default()
        }
    }

    pub(super) fn produce(&mut self, node: i32, request: &ProduceRequest) -> ProduceResponse {
        let mut responses = Vec::new();
        for t in &request.topic_data {
            let name = self.topic_name(&t.topic);
            let mut partition_responses = Vec::new();
            for p in &t.partition_data {
                let answer = self.produce_partition(
                    node,
                    name.as_deref(),
                    p.index,
                    p.records.as_ref().map(|r| r.to_bytes()),
                    request.acks,
                );
                partition_responses.push(answer);
            }
            responses.push(TopicProduceResponse {
                topic: t.topic.clone(),
                partition_responses,
                ..Default::default()
            });
        }
        ProduceResponse {
            responses,
            ..Default::default()
        }
    }

    pub(super) fn produce_partition(
        &mut self,
        node: i32,
        topic: Option<&str>,
        index: i32,
        records: Option<Bytes>,
        acks: i16,
    ) -> PartitionProduceResponse {
        let answer = |code: ErrorCode, base: i64| PartitionProduceResponse {
            index,
            error_code: code.0,
            base_offset: base,
            ..Default::default()
        };
        let Some(topic) = topic.filter(|t| self.target.contains_key(*t)) else {
            return answer(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1);
        };
        let topic = topic.to_owned();
        let leader = match self.target[&topic].get(index as usize) {
            Some(p) => p.leader,
            None => return answer(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1),
        };
        if leader != node {
            return answer(ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        }
        if acks != -1 {
            self.violation(format!("Produce with acks={acks}, not -1"));
        }
        let inject = self.faulty() && self.rng.chance(self.scenario.faults.produce_error);
        let mut injected = None;
        if inject {
            self.stats.injected += 1;
            let fatal = self.rng.chance(self.scenario.faults.fatal_share);
            let after_append = !fatal && self.rng.chance(0.3);
            let list = if fatal {
                PRODUCE_FATAL
            } else if after_append {
                PRODUCE_AFTER_APPEND
            } else {
                PRODUCE_RETRIABLE
            };
            let code = *self.rng.pick(list);
            if !after_append {
                return answer(code, -1);
            }
            injected = Some(code);
        }
        let Some(bytes) = records else {
            self.violation(format!("Produce to {topic}-{index} without records"));
            return answer(ErrorCode::INVALID_RECORD, -1);
        };
        let mut entries = kafka_proto::record::Entries::new(bytes.clone());
        let one = entries.next();
        if entries.next().is_some()
            || !matches!(one, Some(Ok(kafka_proto::record::Entry::Batch(_))))
        {
            self.violation(format!(
                "Produce to {topic}-{index} is not exactly one v2 batch"
            ));
            return answer(ErrorCode::INVALID_RECORD, -1);
        }
        let legacy = self.scenario.legacy_broker;
        let part = &mut self.target.get_mut(&topic).expect("exists")[index as usize];
        match part.append(bytes, self.now) {
            Ok(Appended::New(base)) => {
                let batch = part.batches.last().expect("appended").clone();
                if self.tracing {
                    let first = batch
                        .values
                        .first()
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                    let n = batch.values.len();
                    let pid = batch.producer_id;
                    self.note(|| {
                        format!(
                            "APPEND {topic}-{index} @{base} pid {pid}: {n} records from {first:?}"
                        )
                    });
                }
                self.ledger
                    .appended(&self.source, &topic, index, &batch, &mut self.violations);
                answer(injected.unwrap_or(ErrorCode::NONE), base)
            }
            Ok(Appended::Duplicate(base)) => {
                let code = if legacy {
                    ErrorCode::DUPLICATE_SEQUENCE_NUMBER
                } else {
                    ErrorCode::NONE
                };
                answer(injected.unwrap_or(code), base)
            }
            Err(code) => {
                if matches!(code, ErrorCode::INVALID_RECORD | ErrorCode::CORRUPT_MESSAGE) {
                    self.violation(format!(
                        "the target refused a batch for {topic}-{index}: {}",
                        code.name()
                    ));
                }
                answer(code, -1)
            }
        }
    }

    pub(super) fn commit(&mut self, request: &OffsetCommitRequest) -> OffsetCommitResponse {
        let mut topics = Vec::new();
        for t in &request.topics {
            let name = self.topic_name(&t.topic);
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let mut code = ErrorCode::NONE;
                if self.faulty() && self.rng.chance(self.scenario.faults.commit_error) {
                    self.stats.injected += 1;
                    let fatal = self.rng.chance(self.scenario.faults.fatal_share);
                    code = *self.rng.pick(if fatal {
                        COMMIT_FATAL
                    } else {
                        COMMIT_RETRIABLE
                    });
                } else if let Some(name) = &name {
                    let key = (name.clone(), p.partition_index);
                    let offset = p.committed_offset;
                    let before = self.group.get(&key).copied();
                    if before.is_some_and(|b| offset < b) {
                        self.violation(format!(
                            "commit of {name}-{} went back from {} to {offset}",
                            p.partition_index,
                            before.unwrap_or_default()
                        ));
                    }
                    let sp = &self.source[name][p.partition_index as usize];
                    if let Some(missing) = self.ledger.first_missing_below(sp, offset) {
                        self.violation(format!(
                            "commit of {name}-{} at {offset} covers source offset {missing}, which the target does not have",
                            p.partition_index
                        ));
                    }
                    self.note(|| format!("commit {name}-{} = {offset}", p.partition_index));
                    self.group.insert(key, offset);
                } else {
                    code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
                }
                partitions.push(OffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: code.0,
                    ..Default::default()
                });
            }
            topics.push(OffsetCommitResponseTopic {
                topic: t.topic.clone(),
                partitions,
                ..Default::default()
            });
        }
        OffsetCommitResponse {
            topics,
            ..Default::default()
        }
    }

    /// What the driver would read for a positioning request.
    pub(super) fn position_answer(&mut self, req: &PositionRequest) -> PositionAnswer {
        let fail = self.faulty() && self.rng.chance(self.scenario.faults.admin_error);
        if fail && req.read_committed {
            return PositionAnswer {
                committed: Err(PositionFailure {
                    broker: "broker 1 at sim-source-1:9092".into(),
                    detail: "COORDINATOR_NOT_AVAILABLE".into(),
                }),
                bounds: Vec::new(),
            };
        }
        let mut committed = std::collections::HashMap::new();
        let mut bounds = Vec::new();
        for key in &req.partitions {
            if req.read_committed {
                if let Some(&o) = self.group.get(key) {
                    committed.insert(key.clone(), o);
                }
            }
            let sp = &self.source[&key.0][key.1 as usize];
            let b = LogBounds {
                earliest: sp.log_start,
                latest: sp.leo,
                stable_end: req.read_stable_end.then(|| sp.lso()),
            };
            if self.faulty() && self.rng.chance(self.scenario.faults.admin_error) {
                bounds.push((
                    key.clone(),
                    Err(PositionFailure {
                        broker: format!("broker {} at sim-source-{}:9092", sp.leader, sp.leader),
                        detail: "LEADER_NOT_AVAILABLE".into(),
                    }),
                ));
                continue;
            }
            if req.read_committed {
                // Where this incarnation will start writing this partition
                // (the committed offset when the log holds it; the start
                // policy, earliest, otherwise).
                let start = match self.group.get(key) {
                    Some(&c) if (b.earliest..=b.latest).contains(&c) => c,
                    _ => b.earliest,
                };
                self.ledger.started(self.incarnation, key, start);
            }
            bounds.push((key.clone(), Ok(b)));
        }
        PositionAnswer {
            committed: Ok(committed),
            bounds,
        }
    }
}
