//! A scripted one-node source cluster on the [`FakeBroker`]: it answers
//! the group and offset requests a mirror makes, and each Fetch as the test
//! scripts it, for what a real broker cannot be made to do on demand
//! (OFFSET_OUT_OF_RANGE, aborted transactions on the wire, several batches
//! in one response, a held or dropped Fetch).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kafka_proto::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_proto::messages::find_coordinator_response::FindCoordinatorResponse;
use kafka_proto::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_proto::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_proto::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_proto::messages::{
    FetchRequest, FetchResponse, ListOffsetsResponse, OffsetCommitResponse, OffsetFetchResponse,
    RequestBody, ResponseBody,
};
use kafka_proto::record::{Entries, Entry, Header, Record, RecordBatchBuilder};
use kafka_proto::{ApiKey, ErrorCode, Records};

use crate::fake_broker::{Action, FakeBroker, FakeOptions, Received};
use crate::mirror_support::Rec;

/// What the scripted source answers for one partition of a Fetch.
#[derive(Debug, Clone)]
pub struct PartitionFetch {
    /// The partition's error.
    pub error: ErrorCode,
    /// The log's start offset.
    pub log_start_offset: i64,
    /// The log's end, also given as the last stable offset.
    pub high_watermark: i64,
    /// The aborted transactions listed with the records.
    pub aborted: Vec<AbortedTransaction>,
    /// Record batches from the fetch offset on (empty: none).
    pub records: Bytes,
}

impl PartitionFetch {
    /// No error, a log of `[log_start_offset, high_watermark)`, and
    /// `records` from the fetch offset on.
    pub fn log(log_start_offset: i64, high_watermark: i64, records: Bytes) -> Self {
        Self {
            error: ErrorCode::NONE,
            log_start_offset,
            high_watermark,
            aborted: Vec::new(),
            records,
        }
    }

    /// `code` alone: offsets unknown (-1), no records.
    pub fn error(code: ErrorCode) -> Self {
        Self {
            error: code,
            ..Self::log(-1, -1, Bytes::new())
        }
    }

    /// The log `batches` (any entries, in offset order, as a broker stores
    /// them) read from `fetch_offset`: every entry that ends at or after it.
    /// The log starts at the first entry's base offset (a legacy wrapper's
    /// own, last, offset) and ends after the last entry (compacted or
    /// emptied batches and legacy message sets included, as Kafka serves
    /// them).
    pub fn from_log(batches: &[Bytes], fetch_offset: i64) -> Self {
        let entries: Vec<Entry> = batches
            .iter()
            .flat_map(|b| Entries::new(b.clone()))
            .map(|e| e.expect("a test log holds valid entries"))
            .collect();
        let start = entries.first().map_or(0, |e| match e {
            Entry::Batch(b) => b.base_offset(),
            Entry::Legacy(l) => l.offset(),
        });
        let end = entries.last().map_or(0, Entry::next_offset);
        let records: Vec<u8> = entries
            .iter()
            .filter(|e| e.last_offset() >= fetch_offset)
            .flat_map(|e| e.as_bytes().to_vec())
            .collect();
        Self::log(start, end, Bytes::from(records))
    }

    /// The same, listing `aborted` transactions.
    pub fn with_aborted(self, aborted: Vec<AbortedTransaction>) -> Self {
        Self { aborted, ..self }
    }
}

/// A Fetch response with `partition(topic, partition, fetch offset)` for
/// every partition `r` asks for.
pub fn fetch_response(
    r: &FetchRequest,
    mut partition: impl FnMut(&str, i32, i64) -> PartitionFetch,
) -> FetchResponse {
    FetchResponse {
        responses: r
            .topics
            .iter()
            .map(|t| FetchableTopicResponse {
                topic: t.topic.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        // Named: versions are capped below topic IDs.
                        let name = t.topic.name().unwrap_or_default();
                        let f = partition(name, p.partition, p.fetch_offset);
                        PartitionData {
                            partition_index: p.partition,
                            error_code: f.error.0,
                            high_watermark: f.high_watermark,
                            last_stable_offset: f.high_watermark,
                            log_start_offset: f.log_start_offset,
                            aborted_transactions: Some(f.aborted),
                            preferred_read_replica: -1,
                            records: Some(Records::from(f.records)),
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

/// [`fetch_response`] as the fake broker's answer.
pub fn respond(
    r: &FetchRequest,
    partition: impl FnMut(&str, i32, i64) -> PartitionFetch,
) -> Action {
    Action::Respond(ResponseBody::Fetch(fetch_response(r, partition)))
}

/// One record batch at `base_offset` holding `records` in order (key,
/// value, headers, timestamp; the partition is the Fetch's).
pub fn batch(base_offset: i64, records: &[Rec]) -> Bytes {
    let base_timestamp = records.first().map_or(0, |r| r.timestamp);
    let mut b = RecordBatchBuilder::new(base_offset, base_timestamp);
    for (i, r) in records.iter().enumerate() {
        b.push(&Record {
            offset_delta: i32::try_from(i).expect("a batch holds under 2^31 records"),
            timestamp_delta: r.timestamp - base_timestamp,
            key: r.key.clone().map(Bytes::from),
            value: r.value.clone().map(Bytes::from),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| Header::new(k.clone(), v.clone().map(Bytes::from)))
                .collect(),
            ..Record::default()
        })
        .expect("a test batch encodes");
    }
    b.build().expect("a test batch encodes")
}

/// Starts a scripted one-node source cluster leading `topics` (name,
/// partitions). It answers the group and offset requests a mirror makes
/// (FindCoordinator, OffsetFetch with nothing committed, OffsetCommit,
/// ListOffsets: earliest 0, latest `latest(topic, partition)`), and each
/// Fetch with `fetch`. Versions are capped below topic IDs, so topics are
/// named on the wire.
pub async fn start(
    topics: Vec<(String, i32)>,
    latest: impl Fn(&str, i32) -> i64 + Send + Sync + 'static,
    fetch: impl Fn(&Received, &FetchRequest) -> Action + Send + Sync + 'static,
) -> FakeBroker {
    start_refusing(topics, latest, |_, _| None, fetch).await
}

/// [`start`], whose ListOffsets answers a partition with the error
/// `refuse(topic, partition)` gives, when it gives one.
pub async fn start_refusing(
    topics: Vec<(String, i32)>,
    latest: impl Fn(&str, i32) -> i64 + Send + Sync + 'static,
    refuse: impl Fn(&str, i32) -> Option<ErrorCode> + Send + Sync + 'static,
    fetch: impl Fn(&Received, &FetchRequest) -> Action + Send + Sync + 'static,
) -> FakeBroker {
    let mut opts = FakeOptions {
        topics,
        ..FakeOptions::default()
    };
    for (api, max) in [
        (ApiKey::Fetch, 12),
        (ApiKey::FindCoordinator, 3),
        (ApiKey::OffsetFetch, 7),
        (ApiKey::OffsetCommit, 8),
        (ApiKey::ListOffsets, 7),
    ] {
        for v in opts.api_versions.iter_mut().filter(|v| v.0 == api.key()) {
            v.2 = max;
        }
    }
    let me = Arc::new(OnceLock::<SocketAddr>::new());
    let me2 = Arc::clone(&me);
    opts.handler = Some(Arc::new(move |req| match &req.body {
        RequestBody::Fetch(r) => Some(fetch(req, r)),
        _ => source_answer(req, *me2.get()?, &latest, &refuse).map(Action::Respond),
    }));
    let broker = FakeBroker::start(opts).await.expect("fake source broker");
    me.set(broker.addr()).expect("set once");
    broker
}

/// The fake source's answers to everything but Fetch (and the defaults).
fn source_answer(
    req: &Received,
    me: SocketAddr,
    latest: &dyn Fn(&str, i32) -> i64,
    refuse: &dyn Fn(&str, i32) -> Option<ErrorCode>,
) -> Option<ResponseBody> {
    Some(match &req.body {
        RequestBody::FindCoordinator(_) => ResponseBody::FindCoordinator(FindCoordinatorResponse {
            node_id: 0,
            host: me.ip().to_string(),
            port: i32::from(me.port()),
            ..Default::default()
        }),
        RequestBody::OffsetFetch(r) => ResponseBody::OffsetFetch(OffsetFetchResponse {
            topics: r
                .topics
                .iter()
                .flatten()
                .map(|t| OffsetFetchResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partition_indexes
                        .iter()
                        .map(|&p| OffsetFetchResponsePartition {
                            partition_index: p,
                            committed_offset: -1,
                            committed_leader_epoch: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::OffsetCommit(r) => ResponseBody::OffsetCommit(OffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| OffsetCommitResponseTopic {
                    topic: t.topic.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::ListOffsets(r) => ResponseBody::ListOffsets(ListOffsetsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| match refuse(&t.name, p.partition_index) {
                            Some(code) => ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: code.0,
                                timestamp: -1,
                                offset: -1,
                                leader_epoch: -1,
                                ..Default::default()
                            },
                            None => ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                timestamp: -1,
                                offset: if p.timestamp == -2 {
                                    0
                                } else {
                                    latest(&t.name, p.partition_index)
                                },
                                leader_epoch: 0,
                                ..Default::default()
                            },
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        _ => return None,
    })
}
