//! The same job done the way a user of the generated `kafka-protocol` codec
//! would write it: decode the response and every record, set the producer
//! fields, re-encode (and re-compress) the records into a Produce request.

use std::io::Write;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchResponse, ProduceRequest, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, RecordBatchDecoder, RecordBatchEncoder, RecordCompression, RecordEncodeOptions,
};

use crate::input::{FetchInput, FETCH_VERSION, PRODUCE_VERSION, TOPIC};
use crate::{BenchError, Stats};

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Baseline(e.to_string())
}

/// Forwards every record of `input` to `sink` as Produce requests.
pub fn forward(input: &FetchInput, sink: &mut impl Write) -> Result<Stats, BenchError> {
    let mut buf = input.frame.clone();
    ResponseHeader::decode(&mut buf, 1).map_err(err)?;
    let response = FetchResponse::decode(&mut buf, FETCH_VERSION).map_err(err)?;
    let mut stats = Stats::default();
    let mut queues: Vec<(i32, std::collections::VecDeque<bytes::Bytes>)> = Vec::new();
    for topic in &response.responses {
        for partition in &topic.partitions {
            let Some(mut records) = partition.records.clone() else {
                continue;
            };
            let mut queue = std::collections::VecDeque::new();
            let mut sequence = 0i32;
            for mut set in RecordBatchDecoder::decode_all(&mut records).map_err(err)? {
                let compression = match set.compression {
                    RecordCompression::RecordBatch(c) => c,
                    RecordCompression::MessageSet => Compression::None,
                };
                for record in &mut set.records {
                    record.producer_id = 7;
                    record.producer_epoch = 0;
                    record.sequence = sequence;
                    record.transactional = false;
                    sequence = sequence.wrapping_add(1);
                }
                let mut out = BytesMut::new();
                RecordBatchEncoder::encode(
                    &mut out,
                    &set.records,
                    &RecordEncodeOptions {
                        version: 2,
                        compression,
                    },
                )
                .map_err(err)?;
                stats.batches += 1;
                stats.records += set.records.len();
                queue.push_back(out.freeze());
            }
            queues.push((partition.partition_index, queue));
        }
    }
    let mut correlation_id = 0;
    loop {
        let partition_data: Vec<PartitionProduceData> = queues
            .iter_mut()
            .filter_map(|(index, queue)| {
                let records = queue.pop_front()?;
                Some(
                    PartitionProduceData::default()
                        .with_index(*index)
                        .with_records(Some(records)),
                )
            })
            .collect();
        if partition_data.is_empty() {
            break;
        }
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(partition_data)]);
        correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(ApiKey::Produce as i16)
            .with_request_api_version(PRODUCE_VERSION)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("bench")));
        let mut body = BytesMut::new();
        header.encode(&mut body, 2).map_err(err)?;
        request.encode(&mut body, PRODUCE_VERSION).map_err(err)?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.put_slice(&body);
        sink.write_all(&frame)?;
        stats.requests += 1;
        stats.bytes_out += frame.len();
    }
    Ok(stats)
}
