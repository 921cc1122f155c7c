//! The bench broker: a Kafka-protocol server built on `kafka-proto`'s
//! server-side codec, fast enough to measure replicators with.
//!
//! As a source it serves Fetch from a pre-generated in-memory log
//! ([`TopicLog`]); responses share the log's bytes and go out with
//! vectored writes. As a target it is strict as Apache Kafka is: each
//! Produce partition goes through Kafka's rules (`kafka_proto::validate`:
//! one v2 batch, dense offsets, the CRC, every record, the producer's
//! sequence) and is refused with Kafka's error where Kafka would refuse it;
//! what it accepts is counted ([`Tally`]). It answers
//! ApiVersions, Metadata, ListOffsets, InitProducerId, FindCoordinator,
//! OffsetCommit and OffsetFetch well enough for our mirror and for
//! librdkafka clients, and advertises nothing else, so neither asks for
//! more. It is a measuring instrument: one node, no replication, no
//! group membership, no transactions, commits acknowledged and forgotten.

pub mod log;
pub mod tally;

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{
    decode_any_request, encode_any_response, peek_request, EncodedFrame, FrameDecoder,
};
use kafka_proto::messages::api_versions_response::ApiVersion;
use kafka_proto::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_proto::messages::find_coordinator_response::Coordinator;
use kafka_proto::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_proto::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_proto::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_proto::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_proto::messages::{
    ApiVersionsResponse, FetchRequest, FetchResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse, RequestBody,
    ResponseBody,
};
use kafka_proto::validate::{check_batch, partition_response, Refusal, TopicConfig};
use kafka_proto::{ApiKey, ErrorCode, Records, TopicRef, Uuid};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use log::{LogSpec, PartitionLog, TopicLog};
pub use tally::{PartitionTally, Tally};

/// APIs served, with the highest version advertised. Fetch stops at 12
/// and Produce at 9 (topics by name); OffsetFetch at 7 and FindCoordinator
/// at 3 (one group per request); OffsetCommit at 8 (before KIP-848).
const SERVED: &[(ApiKey, i16)] = &[
    (ApiKey::Produce, 9),
    (ApiKey::Fetch, 12),
    (ApiKey::ListOffsets, 7),
    (ApiKey::Metadata, 12),
    (ApiKey::OffsetCommit, 8),
    (ApiKey::OffsetFetch, 7),
    (ApiKey::FindCoordinator, 3),
    (ApiKey::ApiVersions, 3),
    (ApiKey::InitProducerId, 4),
];

/// Read buffer reserved ahead of each socket read.
const READ_AHEAD: usize = 256 * 1024;

/// The broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Binding the listening socket failed.
    #[error("bench broker: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The cause.
        source: io::Error,
    },
}

/// State shared by every connection of one broker.
#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    topics: Vec<Arc<TopicLog>>,
    by_name: HashMap<String, usize>,
    tally: Arc<Tally>,
    /// Kafka's producer state and offsets per (topic index, partition).
    strict: HashMap<(usize, i32), Mutex<kafka_proto::validate::PartitionLog>>,
    next_producer_id: AtomicI64,
    /// Bumped when batches become visible, to wake waiting fetches.
    releases: watch::Sender<u64>,
}

/// A running bench broker; stops on drop.
#[derive(Debug)]
pub struct BenchBroker {
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
    release: Option<JoinHandle<()>>,
}

impl BenchBroker {
    /// Starts a broker on a free loopback port serving `topics`, which it
    /// shares (several brokers may serve the same generated log).
    pub async fn start(topics: Vec<Arc<TopicLog>>, tally: Arc<Tally>) -> Result<Self, BrokerError> {
        Self::start_on("127.0.0.1:0", topics, tally).await
    }

    /// Starts a broker listening on `addr`.
    pub async fn start_on(
        addr: &str,
        topics: Vec<Arc<TopicLog>>,
        tally: Arc<Tally>,
    ) -> Result<Self, BrokerError> {
        let bind_err = |source| BrokerError::Bind {
            addr: addr.to_owned(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        let by_name = topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let strict = topics
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                (0..t.partitions.len()).map(move |p| {
                    let p = i32::try_from(p).unwrap_or(i32::MAX);
                    let log = kafka_proto::validate::PartitionLog::new(
                        t.name.clone(),
                        p,
                        TopicConfig::default(),
                    );
                    ((i, p), Mutex::new(log))
                })
            })
            .collect();
        let shared = Arc::new(Shared {
            addr: local,
            topics,
            by_name,
            tally,
            strict,
            next_producer_id: AtomicI64::new(1000),
            releases: watch::channel(0).0,
        });
        let s = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&s)));
            }
        });
        Ok(Self {
            shared,
            accept,
            release: None,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `127.0.0.1:port`.
    pub fn bootstrap(&self) -> String {
        self.shared.addr.to_string()
    }

    /// What Produce requests delivered.
    pub fn tally(&self) -> &Arc<Tally> {
        &self.shared.tally
    }

    /// Hides every batch: fetches see empty partitions until a release.
    pub fn hide_all(&self) {
        for t in &self.shared.topics {
            for p in &t.partitions {
                p.hide_all();
            }
        }
    }

    /// Hides every batch, then makes them visible at `bytes_per_sec`,
    /// partitions in turn, stamping each with the time it became visible.
    pub fn release_at_rate(&mut self, bytes_per_sec: f64) {
        if let Some(previous) = self.release.take() {
            previous.abort();
        }
        let mut order: Vec<(usize, usize, usize, u64)> = Vec::new(); // topic, partition, count, cumulative bytes
        let mut cumulative = 0u64;
        for (ti, t) in self.shared.topics.iter().enumerate() {
            for p in &t.partitions {
                p.hide_all();
            }
            let longest = t.partitions.iter().map(|p| p.slots().len()).max();
            for b in 0..longest.unwrap_or(0) {
                for (pi, p) in t.partitions.iter().enumerate() {
                    if let Some(s) = p.slots().get(b) {
                        cumulative += s.len as u64;
                        order.push((ti, pi, b + 1, cumulative));
                    }
                }
            }
        }
        let shared = Arc::clone(&self.shared);
        self.release = Some(tokio::spawn(async move {
            let start = Instant::now();
            let mut next = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while next < order.len() {
                tick.tick().await;
                let allowed = (start.elapsed().as_secs_f64() * bytes_per_sec) as u64;
                let now = Instant::now();
                let before = next;
                while next < order.len() && order[next].3 <= allowed {
                    let (ti, pi, count, _) = order[next];
                    shared.topics[ti].partitions[pi].release_to(count, now);
                    next += 1;
                }
                if next > before {
                    shared.releases.send_modify(|g| *g += 1);
                }
            }
        }));
    }
}

impl Drop for BenchBroker {
    fn drop(&mut self) {
        self.accept.abort();
        if let Some(r) = &self.release {
            r.abort();
        }
    }
}

/// Serves one connection: requests are answered one at a time, in order,
/// as a Kafka broker does.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(READ_AHEAD);
    loop {
        loop {
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return,
            };
            match shared.handle(frame).await {
                Reply::Frame(f) => {
                    if write_chunks(&mut wr, f.chunks()).await.is_err() {
                        return;
                    }
                }
                Reply::None => {}
                Reply::Close => return,
            }
        }
        buf.reserve(READ_AHEAD);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Writes `chunks` in order with vectored writes.
pub async fn write_chunks<W: AsyncWrite + Unpin>(w: &mut W, chunks: &[Bytes]) -> io::Result<()> {
    let mut idx = 0;
    let mut off = 0;
    while idx < chunks.len() {
        let slices: Vec<IoSlice<'_>> = chunks[idx..]
            .iter()
            .take(64)
            .enumerate()
            .map(|(i, c)| IoSlice::new(if i == 0 { &c[off..] } else { c }))
            .collect();
        let mut n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 && idx < chunks.len() {
            let left = chunks[idx].len() - off;
            if n >= left {
                n -= left;
                idx += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
    }
    w.flush().await
}

enum Reply {
    Frame(EncodedFrame),
    /// acks=0 Produce: no response.
    None,
    Close,
}

fn topic_id(index: usize) -> Uuid {
    let mut b = [0u8; 16];
    b[0] = 0xbe;
    b[8..].copy_from_slice(&(index as u64 + 1).to_be_bytes());
    Uuid::from_bytes(b)
}

impl Shared {
    async fn handle(&self, frame: Bytes) -> Reply {
        let Ok(prefix) = peek_request(&frame) else {
            return Reply::Close;
        };
        let corr = prefix.correlation_id;
        let version = prefix.api_version;
        if prefix.api_key == ApiKey::ApiVersions.key() && version > 3 {
            // KIP-511: answer in v0 so the client retries with a version we list.
            let mut body = api_versions();
            body.error_code = ErrorCode::UNSUPPORTED_VERSION.code();
            return encode(corr, 0, &ResponseBody::ApiVersions(body));
        }
        let Ok((_, body)) = decode_any_request(frame) else {
            return Reply::Close;
        };
        let response = match body {
            RequestBody::ApiVersions(_) => ResponseBody::ApiVersions(api_versions()),
            RequestBody::Metadata(r) => ResponseBody::Metadata(self.metadata(&r)),
            RequestBody::Fetch(r) => ResponseBody::Fetch(self.fetch(&r).await),
            RequestBody::Produce(r) => {
                let acks = r.acks;
                let (resp, refused) = self.produce(r, version);
                if acks == 0 {
                    // Kafka closes the connection of an acks=0 producer it
                    // refuses: there is no response to carry the error.
                    return if refused { Reply::Close } else { Reply::None };
                }
                ResponseBody::Produce(resp)
            }
            RequestBody::ListOffsets(r) => ResponseBody::ListOffsets(self.list_offsets(&r)),
            RequestBody::InitProducerId(_) => {
                ResponseBody::InitProducerId(InitProducerIdResponse {
                    producer_id: self.next_producer_id.fetch_add(1, Ordering::Relaxed),
                    producer_epoch: 0,
                    ongoing_txn_producer_id: -1,
                    ongoing_txn_producer_epoch: -1,
                    ..Default::default()
                })
            }
            RequestBody::FindCoordinator(r) => {
                ResponseBody::FindCoordinator(self.find_coordinator(&r))
            }
            RequestBody::OffsetCommit(r) => ResponseBody::OffsetCommit(offset_commit(&r)),
            RequestBody::OffsetFetch(r) => ResponseBody::OffsetFetch(offset_fetch(&r)),
            _ => return Reply::Close,
        };
        encode(corr, version, &response)
    }

    fn topic(&self, name: &str) -> Option<(usize, &TopicLog)> {
        let i = *self.by_name.get(name)?;
        Some((i, &self.topics[i]))
    }

    fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionLog> {
        let (_, t) = self.topic(topic)?;
        t.partitions.get(usize::try_from(partition).ok()?)
    }

    fn metadata(&self, req: &MetadataRequest) -> MetadataResponse {
        let describe = |i: usize, t: &TopicLog| MetadataResponseTopic {
            name: Some(t.name.clone()),
            topic_id: topic_id(i),
            partitions: (0..t.partitions.len())
                .map(|p| MetadataResponsePartition {
                    partition_index: p as i32,
                    leader_id: 0,
                    // Unknown epoch: librdkafka then skips offset validation.
                    leader_epoch: -1,
                    replica_nodes: vec![0],
                    isr_nodes: vec![0],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let topics = match &req.topics {
            None => self
                .topics
                .iter()
                .enumerate()
                .map(|(i, t)| describe(i, t))
                .collect(),
            Some(wanted) => wanted
                .iter()
                .map(|w| {
                    let found = match &w.name {
                        Some(n) => self.topic(n),
                        None => (0..self.topics.len())
                            .find(|&i| topic_id(i) == w.topic_id)
                            .map(|i| (i, &*self.topics[i])),
                    };
                    match found {
                        Some((i, t)) => describe(i, t),
                        None => MetadataResponseTopic {
                            error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code(),
                            name: w.name.clone(),
                            topic_id: w.topic_id,
                            ..Default::default()
                        },
                    }
                })
                .collect(),
        };
        MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 0,
                host: self.addr.ip().to_string(),
                port: i32::from(self.addr.port()),
                ..Default::default()
            }],
            cluster_id: Some(format!("bench-{}", self.addr.port())),
            controller_id: 0,
            topics,
            ..Default::default()
        }
    }

    /// Serves what is visible now; with nothing to return, waits for a
    /// release or `max_wait_ms`, as a broker's fetch purgatory does.
    async fn fetch(&self, req: &FetchRequest) -> FetchResponse {
        let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
        let deadline = tokio::time::Instant::now() + wait;
        let mut releases = self.releases.subscribe();
        loop {
            releases.borrow_and_update();
            let (response, bytes) = self.fetch_once(req);
            if bytes > 0 || tokio::time::Instant::now() >= deadline {
                return response;
            }
            if tokio::time::timeout_at(deadline, releases.changed())
                .await
                .is_err()
            {
                return self.fetch_once(req).0;
            }
        }
    }

    /// The log's topic a request names, by name or by ID.
    fn topic_name<'a>(&'a self, topic: &'a TopicRef) -> Option<&'a str> {
        match topic {
            TopicRef::Name(n) => Some(n.as_str()),
            TopicRef::Id(id) => (0..self.topics.len())
                .find(|&i| topic_id(i) == *id)
                .map(|i| self.topics[i].name.as_str()),
        }
    }

    fn fetch_once(&self, req: &FetchRequest) -> (FetchResponse, usize) {
        let mut remaining = usize::try_from(req.max_bytes).unwrap_or(0);
        let mut total = 0;
        let responses = req
            .topics
            .iter()
            .map(|t| {
                let name = self.topic_name(&t.topic);
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let Some(log) = name.and_then(|n| self.partition(n, p.partition)) else {
                            return PartitionData {
                                partition_index: p.partition,
                                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code(),
                                high_watermark: -1,
                                last_stable_offset: -1,
                                log_start_offset: -1,
                                records: Some(Records::new()),
                                ..Default::default()
                            };
                        };
                        let end = log.end_offset();
                        let limit = usize::try_from(p.partition_max_bytes)
                            .unwrap_or(0)
                            .min(remaining);
                        let mut error_code = 0;
                        let records = match log.read(p.fetch_offset, limit) {
                            Some(b) if total > 0 && b.len() > remaining => Bytes::new(),
                            Some(b) => b,
                            None => {
                                error_code = ErrorCode::OFFSET_OUT_OF_RANGE.code();
                                Bytes::new()
                            }
                        };
                        total += records.len();
                        remaining = remaining.saturating_sub(records.len());
                        PartitionData {
                            partition_index: p.partition,
                            error_code,
                            high_watermark: end,
                            last_stable_offset: end,
                            log_start_offset: 0,
                            aborted_transactions: Some(Vec::new()),
                            preferred_read_replica: -1,
                            records: Some(Records::from(records)),
                            ..Default::default()
                        }
                    })
                    .collect();
                FetchableTopicResponse {
                    topic: t.topic.clone(),
                    partitions,
                    ..Default::default()
                }
            })
            .collect();
        (
            FetchResponse {
                responses,
                ..Default::default()
            },
            total,
        )
    }

    /// Answers a Produce as Kafka would; also says whether any partition
    /// was refused.
    fn produce(&self, req: ProduceRequest, version: i16) -> (ProduceResponse, bool) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut refused = false;
        let responses = req
            .topic_data
            .into_iter()
            .map(|t| {
                let name = self.topic_name(&t.topic).map(str::to_owned);
                let partition_responses = t
                    .partition_data
                    .into_iter()
                    .map(|p| {
                        let topic = name
                            .as_deref()
                            .and_then(|n| Some((n, self.topic(n)?.0)))
                            .filter(|&(n, _)| self.partition(n, p.index).is_some());
                        let Some((n, ti)) = topic else {
                            refused = true;
                            return PartitionProduceResponse {
                                index: p.index,
                                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code(),
                                base_offset: -1,
                                ..Default::default()
                            };
                        };
                        let outcome = self.append(n, ti, p.index, version, p.records, now);
                        refused |= outcome.is_err();
                        partition_response(p.index, version, &outcome, 0)
                    })
                    .collect();
                TopicProduceResponse {
                    topic: t.topic,
                    partition_responses,
                    ..Default::default()
                }
            })
            .collect();
        let resp = ProduceResponse {
            responses,
            ..Default::default()
        };
        (resp, refused)
    }

    /// Kafka's checks for one partition (the stateless ones outside the
    /// partition's lock), then the append and its tally.
    fn append(
        &self,
        topic: &str,
        topic_index: usize,
        partition: i32,
        version: i16,
        records: Option<Records>,
        now: i64,
    ) -> Result<kafka_proto::validate::Appended, Refusal> {
        let log = self
            .strict
            .get(&(topic_index, partition))
            .expect("a log per known partition");
        let config = log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config()
            .clone();
        let records = records.map(|r| r.to_bytes());
        let checked = check_batch(topic, partition, version, &config, records.as_ref(), now)
            .inspect_err(|r| {
                if r.error == ErrorCode::CORRUPT_MESSAGE {
                    self.tally.crc_error();
                }
            })?;
        let len = checked.batch().len();
        let appended = log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append_checked(checked, now)?;
        if !appended.duplicate {
            let n = u32::try_from(appended.records).unwrap_or(0);
            self.tally.append(topic, partition, &[(n, len)]);
        }
        Ok(appended)
    }

    fn list_offsets(&self, req: &ListOffsetsRequest) -> ListOffsetsResponse {
        ListOffsetsResponse {
            topics: req
                .topics
                .iter()
                .map(|t| ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut r = ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                timestamp: -1,
                                leader_epoch: -1,
                                ..Default::default()
                            };
                            match self.partition(&t.name, p.partition_index) {
                                // -1 is latest; -2 earliest; any other lookup
                                // gets the start (the log has one timestamp).
                                Some(log) if p.timestamp == -1 => r.offset = log.end_offset(),
                                Some(_) => r.offset = 0,
                                None => {
                                    r.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code();
                                    r.offset = -1;
                                }
                            }
                            r
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn find_coordinator(&self, req: &FindCoordinatorRequest) -> FindCoordinatorResponse {
        let host = self.addr.ip().to_string();
        let port = i32::from(self.addr.port());
        FindCoordinatorResponse {
            node_id: 0,
            host: host.clone(),
            port,
            coordinators: req
                .coordinator_keys
                .iter()
                .map(|k| Coordinator {
                    key: k.clone(),
                    node_id: 0,
                    host: host.clone(),
                    port,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

fn api_versions() -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: SERVED
            .iter()
            .map(|&(api, max)| ApiVersion {
                api_key: api.key(),
                min_version: api.versions().min,
                max_version: max.min(api.versions().max),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn offset_commit(req: &OffsetCommitRequest) -> OffsetCommitResponse {
    OffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| OffsetCommitResponseTopic {
                topic: t.topic.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: 0,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// No offsets are kept: every partition reads as uncommitted (-1), so
/// each run starts from its start policy.
fn offset_fetch(req: &OffsetFetchRequest) -> OffsetFetchResponse {
    let topics = req
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
                    metadata: Some(String::new()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let groups = req
        .groups
        .iter()
        .map(|g| OffsetFetchResponseGroup {
            group_id: g.group_id.clone(),
            topics: g
                .topics
                .iter()
                .flatten()
                .map(|t| OffsetFetchResponseTopics {
                    topic: t.topic.clone(),
                    partitions: t
                        .partition_indexes
                        .iter()
                        .map(|&p| OffsetFetchResponsePartitions {
                            partition_index: p,
                            committed_offset: -1,
                            committed_leader_epoch: -1,
                            metadata: Some(String::new()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    OffsetFetchResponse {
        topics,
        groups,
        ..Default::default()
    }
}

fn encode(corr: i32, version: i16, body: &ResponseBody) -> Reply {
    match encode_any_response(corr, version, body) {
        Ok(f) => Reply::Frame(f),
        Err(_) => Reply::Close,
    }
}
