//! The forwarding path on `kafka-proto`: decode a Fetch response, verify
//! each batch's CRC, rewrite its header for the target's idempotent
//! producer, and write Produce requests as vectored chunks. Record bytes are
//! read once, by the CRC check, and never copied. [`forward`] uses the
//! allocation-light API (headers rewritten into arrays, requests encoded
//! from borrowed parts); [`forward_via_structs`] does the same job through
//! the generic message structs, for comparison.

use std::collections::VecDeque;
use std::io::{IoSlice, Write};

use bytes::Bytes;
use kafka_proto::frame::{
    decode_response, encode_produce_request, encode_request, ProduceOptions, ProducePartition,
    ProduceTopic,
};
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::{FetchResponse, ProduceRequest};
use kafka_proto::record::{verify_run, BatchRewrite, Entries, Entry, RecordBatch, RewrittenBatch};
use kafka_proto::{Records, TopicRef};

use crate::input::{FetchInput, FETCH_VERSION, PRODUCE_VERSION, TOPIC};
use crate::{BenchError, Stats};

/// Producer id and epoch the target would have handed out.
const PRODUCER_ID: i64 = 7;
const PRODUCER_EPOCH: i16 = 0;

/// Forwards every batch of `input` to `sink` as Produce requests, checking
/// each batch's CRC on its own.
pub fn forward(input: &FetchInput, sink: &mut impl Write) -> Result<Stats, BenchError> {
    forward_checked(input, sink, Check::EachBatch)
}

/// [`forward`] with each partition's batches checked by one CRC pass over
/// all of them ([`verify_run`]); see its trade-off.
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

/// [`forward`] the way the generic codec allows: each batch rewritten into
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
/// what [`forward`] costs before rewriting and encoding.
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
