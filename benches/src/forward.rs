//! The forwarding path: decode a Fetch response, verify each batch's CRC,
//! rewrite its header for the target's idempotent producer, and write
//! Produce requests as vectored chunks. Record bytes are read once, by the
//! CRC check, and never copied.
//!
//! [`forward`] runs the engine's own code: a mirror's sans-io
//! [`EngineState`] handles the Fetch response and emits the Produce
//! requests, which are encoded and written, and acknowledged so the next
//! ones follow. [`forward_hand_written`] does the same job written out by
//! hand on `kafka-proto` (headers rewritten into arrays, requests encoded
//! from borrowed parts), so the engine's own cost shows in the same run;
//! [`forward_via_structs`] through the generic message structs, for
//! comparison.

use std::collections::VecDeque;
use std::io::{IoSlice, Write};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_proto::frame::{
    decode_response, encode_produce_request, encode_request, ProduceOptions, ProducePartition,
    ProduceTopic,
};
use kafka_proto::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_proto::messages::{FetchResponse, MetadataResponse, ProduceRequest, ProduceResponse};
use kafka_proto::record::{verify_run, BatchRewrite, Entries, Entry, RecordBatch, RewrittenBatch};
use kafka_proto::{Records, TopicRef, Uuid};
use replicator_core::internals::{
    EngineState, FetchId, LogBounds, PositionAnswer, ProduceToSend, Side,
};
use replicator_core::{ClusterConfig, ClusterMetadata, Mirror};

use crate::input::{FetchInput, FETCH_VERSION, PRODUCE_VERSION, TOPIC};
use crate::{BenchError, Stats};

/// Producer id and epoch the target would have handed out.
const PRODUCER_ID: i64 = 7;
const PRODUCER_EPOCH: i16 = 0;

/// A mirror's engine positioned at the start of every partition of an
/// input, with its Fetch for them sent: [`EngineForward::run`] hands it the
/// input's response.
#[derive(Debug)]
pub struct EngineForward {
    state: EngineState,
    fetch: FetchId,
    now: Instant,
}

/// One topic on one broker (node 1), as both clusters' metadata.
fn metadata(partitions: usize) -> Arc<ClusterMetadata> {
    Arc::new(ClusterMetadata::from_response(&MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "bench".into(),
            port: 9092,
            ..Default::default()
        }],
        topics: vec![MetadataResponseTopic {
            name: Some(TOPIC.into()),
            topic_id: Uuid::from_bytes([7; 16]),
            partitions: (0..partitions as i32)
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: 1,
                    leader_epoch: 0,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }))
}

impl EngineForward {
    /// An engine mirroring the input's topic with the default settings,
    /// producer id `PRODUCER_ID`, and its Fetch sent.
    pub fn new(input: &FetchInput) -> Result<Self, BenchError> {
        let now = Instant::now();
        let config = Mirror::builder()
            .source(ClusterConfig::new("bench-source:9092"))
            .target(ClusterConfig::new("bench-target:9092"))
            .topics([TOPIC])
            .group_id("bench")
            .build()
            .map_err(|e| BenchError::Baseline(e.to_string()))?
            .config()
            .clone();
        let mut state = EngineState::new(config, now);
        state.handle_metadata(Side::Source, metadata(input.partitions));
        state.handle_metadata(Side::Target, metadata(input.partitions));
        for setup in state.plan_topic_setups() {
            state.handle_topic_setup(&setup, Ok(None), now);
        }
        state.begin(now);
        let generation = state
            .poll_producer_id(now)
            .ok_or_else(|| BenchError::Baseline("the engine wants no producer id".into()))?;
        state.handle_producer_id(generation, Ok((PRODUCER_ID, PRODUCER_EPOCH)), now);
        for req in state.poll_position_requests(now) {
            let bounds = req
                .partitions
                .iter()
                .map(|k| {
                    let b = LogBounds {
                        earliest: 0,
                        latest: i64::MAX,
                        stable_end: None,
                    };
                    (k.clone(), Ok(b))
                })
                .collect();
            let answer = PositionAnswer {
                committed: Ok(Default::default()),
                bounds,
            };
            state.handle_position_response(req.id, answer, now);
        }
        let fetch = match state.poll_fetch_requests(now).as_slice() {
            [one] if one.partitions().len() == input.partitions => one.id,
            other => {
                return Err(BenchError::Baseline(format!(
                    "the engine planned {} fetches, not one for every partition",
                    other.len()
                )))
            }
        };
        Ok(Self { state, fetch, now })
    }

    /// Hands the engine the input's Fetch response and writes every Produce
    /// request it emits to `sink`, acknowledging each so the next follow.
    pub fn run(mut self, input: &FetchInput, sink: &mut impl Write) -> Result<Stats, BenchError> {
        let now = self.now;
        let (_, response) = decode_response::<FetchResponse>(input.frame.clone(), FETCH_VERSION)?;
        self.state.handle_fetch_response(self.fetch, response, now);
        let mut stats = Stats::default();
        let mut correlation_id = 0;
        loop {
            let requests = self.state.poll_produce_requests(now);
            if requests.is_empty() {
                break;
            }
            for req in requests {
                correlation_id += 1;
                let frame = req.encode(correlation_id, Some("bench"), PRODUCE_VERSION)?;
                write_all_vectored(sink, frame.chunks())?;
                stats.requests += 1;
                stats.bytes_out += frame.len();
                stats.batches += req.batches.len();
                // The records count ends the 61-byte v2 header.
                stats.records += req
                    .batches
                    .iter()
                    .map(|b| {
                        let count: [u8; 4] = b.batch.header[57..61].try_into().unwrap_or_default();
                        usize::try_from(i32::from_be_bytes(count)).unwrap_or(0)
                    })
                    .sum::<usize>();
                let id = req.id;
                self.state
                    .handle_produce_response(id, acknowledged(&req), now);
            }
        }
        Ok(stats)
    }
}

/// The target's answer to `req`: every batch written.
fn acknowledged(req: &ProduceToSend) -> ProduceResponse {
    ProduceResponse {
        responses: vec![TopicProduceResponse {
            topic: TopicRef::Name(TOPIC.into()),
            partition_responses: req
                .batches
                .iter()
                .map(|b| PartitionProduceResponse {
                    index: b.partition,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Forwards every batch of `input` to `sink` as Produce requests through
/// the engine ([`EngineForward`]).
pub fn forward(input: &FetchInput, sink: &mut impl Write) -> Result<Stats, BenchError> {
    EngineForward::new(input)?.run(input, sink)
}

/// Forwards every batch of `input` to `sink` as Produce requests, written
/// out by hand, checking each batch's CRC on its own.
pub fn forward_hand_written(
    input: &FetchInput,
    sink: &mut impl Write,
) -> Result<Stats, BenchError> {
    forward_checked(input, sink, Check::EachBatch)
}

/// [`forward_hand_written`] with each partition's batches checked by one
/// CRC pass over all of them ([`verify_run`]); see its trade-off.
pub fn forward_one_crc_pass(
    input: &FetchInput,
    sink: &mut impl Write,
) -> Result<Stats, BenchError> {
    forward_checked(input, sink, Check::OneRun)
}

/// A partition's batches to send: each one's rewritten header (inline, no
/// allocation) and its untouched records.
type Queue = Vec<([u8; RecordBatch::HEADER_LEN], Bytes)>;

/// How [`forward_checked`] checks batch CRCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    EachBatch,
    OneRun,
}

fn forward_checked(
    input: &FetchInput,
    sink: &mut impl Write,
    check: Check,
) -> Result<Stats, BenchError> {
    let (_, response) = decode_response::<FetchResponse>(input.frame.clone(), FETCH_VERSION)?;
    let mut stats = Stats::default();
    let mut queues: Vec<(i32, Queue)> = Vec::new();
    let mut split = Vec::new();
    for topic in &response.responses {
        for partition in &topic.partitions {
            let Some(records) = &partition.records else {
                continue;
            };
            let blob = records.to_bytes();
            split.clear();
            for entry in Entries::new(blob.clone()) {
                let Entry::Batch(batch) = entry? else {
                    continue;
                };
                if !batch.is_control() {
                    split.push(batch);
                }
            }
            let verified = match check {
                Check::EachBatch => {
                    let mut verified = Vec::with_capacity(split.len());
                    for batch in split.drain(..) {
                        verified.push(batch.verify()?);
                    }
                    verified
                }
                Check::OneRun => verify_run(&blob, std::mem::take(&mut split))?,
            };
            let mut queue = Vec::with_capacity(verified.len());
            let mut sequence = 0i32;
            for batch in verified {
                let count = batch.records_count();
                let header = batch.rewritten_header(&BatchRewrite {
                    producer_id: PRODUCER_ID,
                    producer_epoch: PRODUCER_EPOCH,
                    base_sequence: sequence,
                    ..BatchRewrite::default()
                });
                queue.push((header, batch.records_section()));
                sequence = sequence.wrapping_add(count);
                stats.batches += 1;
                stats.records += count as usize;
            }
            queues.push((partition.partition_index, queue));
        }
    }
    // Produce v3+ takes exactly one batch per partition per request: round
    // `r` sends each partition's batch `r`.
    let topic = TopicRef::Name(TOPIC.into());
    let options = ProduceOptions {
        transactional_id: None,
        acks: -1,
        timeout_ms: 30_000,
    };
    let mut partitions = Vec::with_capacity(queues.len());
    for round in 0.. {
        partitions.clear();
        partitions.extend(queues.iter().filter_map(|(index, queue)| {
            let (header, tail) = queue.get(round)?;
            Some(ProducePartition {
                index: *index,
                header,
                tail,
            })
        }));
        if partitions.is_empty() {
            break;
        }
        let frame = encode_produce_request(
            round as i32 + 1,
            Some("bench"),
            PRODUCE_VERSION,
            &options,
            &[ProduceTopic {
                topic: &topic,
                partitions: &partitions,
            }],
        )?;
        write_all_vectored(sink, frame.chunks())?;
        stats.requests += 1;
        stats.bytes_out += frame.len();
    }
    Ok(stats)
}

/// [`forward_hand_written`] the way the generic codec allows: each batch rewritten into
/// a [`RewrittenBatch`] (one header allocation each), each request built as
/// [`ProduceRequest`] structs, encoded with `encode_request` and dropped.
/// What a caller of the message structs pays.
pub fn forward_via_structs(input: &FetchInput, sink: &mut impl Write) -> Result<Stats, BenchError> {
    let (_, response) = decode_response::<FetchResponse>(input.frame.clone(), FETCH_VERSION)?;
    let mut stats = Stats::default();
    let mut queues: Vec<(i32, VecDeque<RewrittenBatch>)> = Vec::new();
    for topic in &response.responses {
        for partition in &topic.partitions {
            let Some(records) = &partition.records else {
                continue;
            };
            let mut queue = VecDeque::new();
            let mut sequence = 0i32;
            for entry in Entries::new(records.to_bytes()) {
                let Entry::Batch(batch) = entry? else {
                    continue;
                };
                if batch.is_control() {
                    continue;
                }
                let count = batch.records_count();
                let verified = batch.verify()?;
                queue.push_back(verified.rewrite(&BatchRewrite {
                    producer_id: PRODUCER_ID,
                    producer_epoch: PRODUCER_EPOCH,
                    base_sequence: sequence,
                    ..BatchRewrite::default()
                }));
                sequence = sequence.wrapping_add(count);
                stats.batches += 1;
                stats.records += count as usize;
            }
            queues.push((partition.partition_index, queue));
        }
    }
    let mut correlation_id = 0;
    loop {
        let partition_data: Vec<PartitionProduceData> = queues
            .iter_mut()
            .filter_map(|(index, queue)| {
                let batch = queue.pop_front()?;
                let mut records = Records::new();
                batch.append_to(&mut records);
                Some(PartitionProduceData {
                    index: *index,
                    records: Some(records),
                    ..Default::default()
                })
            })
            .collect();
        if partition_data.is_empty() {
            break;
        }
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                topic: TopicRef::Name(TOPIC.into()),
                partition_data,
                ..Default::default()
            }],
            ..Default::default()
        };
        correlation_id += 1;
        let frame = encode_request(correlation_id, Some("bench"), PRODUCE_VERSION, &request)?;
        write_all_vectored(sink, frame.chunks())?;
        stats.requests += 1;
        stats.bytes_out += frame.len();
    }
    Ok(stats)
}

/// Decodes the response and checks every batch's CRC, forwarding nothing:
/// what [`forward_hand_written`] costs before rewriting and encoding.
pub fn verify_only(input: &FetchInput) -> Result<usize, BenchError> {
    let (_, response) = decode_response::<FetchResponse>(input.frame.clone(), FETCH_VERSION)?;
    let mut batches = 0;
    for partition in response.responses.iter().flat_map(|t| &t.partitions) {
        let Some(records) = &partition.records else {
            continue;
        };
        for entry in Entries::new(records.to_bytes()) {
            if let Entry::Batch(batch) = entry? {
                batch.verify_crc()?;
                batches += 1;
            }
        }
    }
    Ok(batches)
}

/// Writes every chunk with as few vectored writes as the sink allows.
pub fn write_all_vectored(sink: &mut impl Write, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let n = sink.write_vectored(slices)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}
