//! A scripted fake Kafka broker on a loopback port, for behaviour no real
//! peer here offers on demand: SASL/PLAIN (Tansu has none, the librdkafka
//! mock has no SASL), chosen API version ranges, delayed or reordered
//! responses, malformed frames, and sudden closes.
//!
//! It decodes requests with `kafka-proto` and asks a [`Handler`] what to
//! do with each. Requests are answered concurrently (each response is
//! written when its [`Action`] is ready), so delays reorder responses.
//! Every request is recorded for assertions.
//!
//! It is strict, as Apache Kafka is: every Produce goes through
//! `kafka_proto::validate` (per topic config, with producer state), and a
//! partition Kafka would refuse is answered with Kafka's error even when the
//! handler scripted a success. Accepted batches are kept
//! ([`FakeBroker::produced`]).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::{Bytes, BytesMut};
use kafka_proto::{
    frame::{decode_any_request, encode_any_response, FrameDecoder},
    messages::{
        api_versions_response::ApiVersion,
        metadata_response::{
            MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
        },
        ApiVersionsResponse, MetadataResponse, ProduceRequest, ProduceResponse, RequestBody,
        RequestHeader, ResponseBody, SaslAuthenticateResponse, SaslHandshakeResponse,
    },
    validate::{PartitionOutcome, StrictProduce, TopicConfig},
    ApiKey, ErrorCode, TopicRef, Uuid,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Mutex as AsyncMutex,
    task::JoinHandle,
};

/// What the fake does with one request.
#[derive(Debug)]
pub enum Action {
    /// Answer with this body, at the request's version.
    Respond(ResponseBody),
    /// Write these bytes as they are (they should include a size prefix).
    Raw(Vec<u8>),
    /// Never answer.
    Ignore,
    /// Close the connection.
    Close,
    /// Wait, then do the inner action.
    After(Duration, Box<Action>),
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Which connection (0 for the first accepted).
    pub connection: usize,
    /// The request header.
    pub header: RequestHeader,
    /// The decoded body.
    pub body: RequestBody,
}

/// PLAIN credentials the fake accepts.
#[derive(Debug, Clone)]
pub struct PlainUser {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// `session_lifetime_ms` sent on success (0 = none).
    pub session_lifetime_ms: i64,
}

/// Decides the action for a request; `None` falls back to the defaults
/// (ApiVersions, SASL PLAIN, Metadata about this one broker).
pub type Handler = Arc<dyn Fn(&Received) -> Option<Action> + Send + Sync>;

/// Settings for [`FakeBroker::start`].
#[derive(Clone)]
pub struct FakeOptions {
    /// `(api_key, min, max)` advertised in ApiVersions; defaults to every
    /// API `kafka-proto` speaks at its full range.
    pub api_versions: Vec<(i16, i16, i16)>,
    /// Mechanisms offered in SaslHandshake, and the PLAIN user.
    pub mechanisms: Vec<String>,
    /// PLAIN user accepted by SaslAuthenticate.
    pub plain_user: Option<PlainUser>,
    /// Topics listed by Metadata: (name, partitions), all led by node 0.
    pub topics: Vec<(String, i32)>,
    /// Configs the strict Produce check applies per topic (others get
    /// Kafka's defaults).
    pub topic_configs: Vec<(String, TopicConfig)>,
    /// Per-request override.
    pub handler: Option<Handler>,
}

impl std::fmt::Debug for FakeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOptions")
            .field("api_versions", &self.api_versions.len())
            .field("mechanisms", &self.mechanisms)
            .field("topics", &self.topics)
            .field("topic_configs", &self.topic_configs)
            .finish_non_exhaustive()
    }
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            api_versions: ApiKey::ALL
                .iter()
                .map(|k| (k.key(), k.versions().min, k.versions().max))
                .collect(),
            mechanisms: vec!["PLAIN".into()],
            plain_user: None,
            topics: Vec::new(),
            topic_configs: Vec::new(),
            handler: None,
        }
    }
}

/// What the fake's strict Produce path keeps: Kafka's rules per partition,
/// and the batches it accepted, as stored.
#[derive(Debug, Default)]
struct StrictLog {
    rules: StrictProduce,
    stored: HashMap<(String, i32), Vec<Bytes>>,
}

/// A fake broker task; stopped on drop.
#[derive(Debug)]
pub struct FakeBroker {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    strict: Arc<Mutex<StrictLog>>,
    accept: JoinHandle<()>,
}

impl FakeBroker {
    /// Starts the fake on a free loopback port.
    pub async fn start(opts: FakeOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut rules = StrictProduce::default();
        for (topic, config) in &opts.topic_configs {
            rules.set_topic_config(topic, config.clone());
        }
        let strict = Arc::new(Mutex::new(StrictLog {
            rules,
            stored: HashMap::new(),
        }));
        let opts = Arc::new(opts);
        let rec = Arc::clone(&received);
        let st = Arc::clone(&strict);
        let accept = tokio::spawn(async move {
            let mut n = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let shared = Shared {
                    me: addr,
                    opts: Arc::clone(&opts),
                    received: Arc::clone(&rec),
                    strict: Arc::clone(&st),
                };
                tokio::spawn(serve(stream, n, shared));
                n += 1;
            }
        });
        Ok(Self {
            addr,
            received,
            strict,
            accept,
        })
    }

    /// The batches Produce appended to `topic`-`partition`, as stored
    /// (offsets assigned), in order.
    pub fn produced(&self, topic: &str, partition: i32) -> Vec<Bytes> {
        self.strict
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stored
            .get(&(topic.to_owned(), partition))
            .cloned()
            .unwrap_or_default()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:port`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The APIs received so far, in order.
    pub fn apis(&self) -> Vec<ApiKey> {
        self.received()
            .iter()
            .filter_map(|r| ApiKey::from_key(r.header.request_api_key))
            .collect()
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// What every connection of one fake shares.
struct Shared {
    me: SocketAddr,
    opts: Arc<FakeOptions>,
    received: Arc<Mutex<Vec<Received>>>,
    strict: Arc<Mutex<StrictLog>>,
}

async fn serve(stream: TcpStream, connection: usize, shared: Shared) {
    let Shared {
        me,
        opts,
        received,
        strict,
    } = shared;
    let (mut read, write) = stream.into_split();
    let write = Arc::new(AsyncMutex::new(write));
    let decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        loop {
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return,
            };
            let Ok((header, body)) = decode_any_request(frame) else {
                return;
            };
            let req = Received {
                connection,
                header,
                body,
            };
            received
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(req.clone());
            let scripted = opts.handler.as_ref().and_then(|h| h(&req));
            let action = match &req.body {
                RequestBody::Produce(p) => {
                    strict_produce(&strict, &opts, p, req.header.request_api_version, scripted)
                }
                _ => scripted.unwrap_or_else(|| default_action(&req, me, &opts)),
            };
            let write = Arc::clone(&write);
            let corr = req.header.correlation_id;
            let version = req.header.request_api_version;
            tokio::spawn(async move {
                let mut action = action;
                while let Action::After(d, inner) = action {
                    tokio::time::sleep(d).await;
                    action = *inner;
                }
                let mut w = write.lock().await;
                match action {
                    Action::Respond(body) => {
                        if let Ok(frame) = encode_any_response(corr, version, &body) {
                            for c in frame.chunks() {
                                if w.write_all(c).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    Action::Raw(bytes) => {
                        let _ = w.write_all(&bytes).await;
                    }
                    Action::Close => {
                        let _ = w.shutdown().await;
                    }
                    Action::Ignore | Action::After(..) => {}
                }
            });
        }
        buf.reserve(8 * 1024);
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The default answers: ApiVersions, SaslHandshake, SaslAuthenticate
/// (PLAIN) and Metadata.
pub fn default_action(req: &Received, me: SocketAddr, opts: &FakeOptions) -> Action {
    match &req.body {
        RequestBody::ApiVersions(_) => {
            let version = req.header.request_api_version;
            let ours = opts
                .api_versions
                .iter()
                .find(|(k, _, _)| *k == ApiKey::ApiVersions.key())
                .map(|&(_, _, max)| max)
                .unwrap_or(0);
            let mut resp = ApiVersionsResponse {
                api_keys: opts
                    .api_versions
                    .iter()
                    .map(|&(api_key, min_version, max_version)| ApiVersion {
                        api_key,
                        min_version,
                        max_version,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            if version > ours {
                // KIP-511: answer in v0 with UNSUPPORTED_VERSION.
                resp.error_code = ErrorCode::UNSUPPORTED_VERSION.code();
                let frame = encode_any_response(
                    req.header.correlation_id,
                    0,
                    &ResponseBody::ApiVersions(resp),
                )
                .map(|f| f.to_bytes().to_vec())
                .unwrap_or_default();
                return Action::Raw(frame);
            }
            Action::Respond(ResponseBody::ApiVersions(resp))
        }
        RequestBody::SaslHandshake(h) => {
            let ok = opts.mechanisms.contains(&h.mechanism);
            Action::Respond(ResponseBody::SaslHandshake(SaslHandshakeResponse {
                error_code: if ok {
                    0
                } else {
                    ErrorCode::UNSUPPORTED_SASL_MECHANISM.code()
                },
                mechanisms: opts.mechanisms.clone(),
            }))
        }
        RequestBody::SaslAuthenticate(a) => {
            let expected = opts.plain_user.as_ref().map(|u| {
                (
                    format!("\0{}\0{}", u.username, u.password).into_bytes(),
                    u.session_lifetime_ms,
                )
            });
            match expected {
                Some((token, lifetime)) if a.auth_bytes.as_ref() == token.as_slice() => {
                    Action::Respond(ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
                        session_lifetime_ms: lifetime,
                        ..Default::default()
                    }))
                }
                _ => Action::Respond(ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
                    error_code: ErrorCode::SASL_AUTHENTICATION_FAILED.code(),
                    error_message: Some(
                        "Authentication failed: Invalid username or password".into(),
                    ),
                    auth_bytes: Bytes::new(),
                    ..Default::default()
                })),
            }
        }
        RequestBody::Metadata(_) => Action::Respond(ResponseBody::Metadata(metadata(me, opts))),
        _ => Action::Close,
    }
}

/// The fake's answer to a Produce: Kafka's, or the handler's `scripted`
/// one with every partition Kafka would refuse answered as Kafka does.
fn strict_produce(
    strict: &Mutex<StrictLog>,
    opts: &FakeOptions,
    req: &ProduceRequest,
    version: i16,
    scripted: Option<Action>,
) -> Action {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut log = strict.lock().unwrap_or_else(|e| e.into_inner());
    let (kafka, outcomes) = log
        .rules
        .produce(req, version, now, |t, p| topic_name(opts, t, p));
    let refused = outcomes.iter().any(|o| o.result.is_err())
        || kafka
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .any(|p| p.error_code != 0);
    let action = match scripted {
        None if req.acks == 0 && refused => Action::Close,
        None if req.acks == 0 => Action::Ignore,
        None => Action::Respond(ResponseBody::Produce(kafka)),
        Some(action) => overrule(action, &kafka),
    };
    // Keep what the answer says was appended; take back what it refused.
    let answered = answered_codes(&action);
    for o in outcomes {
        let PartitionOutcome {
            topic,
            partition,
            result,
        } = o;
        let Ok(appended) = result else { continue };
        let dropped = answered.as_ref().is_some_and(|codes| {
            codes
                .get(&(topic.clone(), partition))
                .is_some_and(|&c| c != 0)
        });
        if dropped {
            log.rules.partition(&topic, partition).undo(&appended);
        } else if let Some(batch) = appended.stored {
            log.stored
                .entry((topic, partition))
                .or_default()
                .push(batch);
        }
    }
    action
}

/// `action` with each Produce partition Kafka refused replaced by Kafka's
/// answer (delays and faults kept as scripted).
fn overrule(action: Action, kafka: &ProduceResponse) -> Action {
    match action {
        Action::Respond(ResponseBody::Produce(mut scripted)) => {
            for t in &mut scripted.responses {
                let strict = kafka.responses.iter().find(|k| k.topic == t.topic);
                for p in &mut t.partition_responses {
                    let refusal = strict
                        .and_then(|k| k.partition_responses.iter().find(|q| q.index == p.index))
                        .filter(|q| q.error_code != 0);
                    if let Some(q) = refusal {
                        *p = q.clone();
                    }
                }
            }
            Action::Respond(ResponseBody::Produce(scripted))
        }
        Action::After(d, inner) => Action::After(d, Box::new(overrule(*inner, kafka))),
        other => other,
    }
}

/// The error code `action` answers each (topic, partition) with, when it
/// is a Produce response (topics by name only).
fn answered_codes(action: &Action) -> Option<HashMap<(String, i32), i16>> {
    match action {
        Action::Respond(ResponseBody::Produce(r)) => Some(
            r.responses
                .iter()
                .flat_map(|t| {
                    let name = t.topic.name().unwrap_or_default().to_owned();
                    t.partition_responses
                        .iter()
                        .map(move |p| ((name.clone(), p.index), p.error_code))
                })
                .collect(),
        ),
        Action::After(_, inner) => answered_codes(inner),
        _ => None,
    }
}

/// The name of a listed topic that has `partition`, by name or by the ID
/// Metadata gave it.
fn topic_name(opts: &FakeOptions, topic: &TopicRef, partition: i32) -> Option<String> {
    opts.topics
        .iter()
        .enumerate()
        .find(|(i, (name, n))| {
            let same = match topic {
                TopicRef::Name(t) => t == name,
                TopicRef::Id(id) => *id == topic_id(*i),
            };
            same && (0..*n).contains(&partition)
        })
        .map(|(_, (name, _))| name.clone())
}

/// The ID Metadata gives the `i`-th listed topic.
fn topic_id(i: usize) -> Uuid {
    Uuid::from_bytes([u8::try_from(i + 1).unwrap_or(1); 16])
}

/// Metadata naming this fake as node 0, leader of every partition.
pub fn metadata(me: SocketAddr, opts: &FakeOptions) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 0,
            host: me.ip().to_string(),
            port: i32::from(me.port()),
            ..Default::default()
        }],
        cluster_id: Some("fake".into()),
        controller_id: 0,
        topics: opts
            .topics
            .iter()
            .enumerate()
            .map(|(i, (name, n))| MetadataResponseTopic {
                name: Some(name.clone()),
                topic_id: topic_id(i),
                partitions: (0..*n)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: 0,
                        leader_epoch: 0,
                        replica_nodes: vec![0],
                        isr_nodes: vec![0],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
