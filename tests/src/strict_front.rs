//! A strict front for a lenient broker: a TCP proxy that decodes each
//! Produce on its way and answers, itself, with Apache Kafka's error for
//! every partition Kafka would refuse (`kafka_proto::validate`), so a test
//! whose target is Tansu fails where Kafka would.
//!
//! Everything else passes through byte for byte. A Produce whose partitions
//! all pass is forwarded unchanged; one with refused partitions (or
//! duplicates of a producer's recent batches, which Kafka answers without
//! appending) is forwarded without them and the broker's response gets
//! Kafka's answers for them; one with nothing left is answered by the front
//! alone. Responses keep request order. A refused `acks=0` Produce closes
//! the connection, as Kafka does.
//!
//! Topic configs come from CreateTopics requests passing through (or
//! [`StrictFront::set_topic_config`]); topic IDs from Metadata responses.
//! The broker must advertise the front's port, so that every connection of
//! a client goes through it: see [`StrictTansu`].
//!
//! The front runs on its own thread and runtime, so tests that block
//! (librdkafka consumers) cannot starve it. It stops on drop.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{
    decode_any_request, decode_any_response, encode_any_request, encode_any_response, peek_request,
    FrameDecoder,
};
use kafka_proto::messages::produce_response::PartitionProduceResponse;
use kafka_proto::messages::{ProduceRequest, RequestBody, RequestHeader, ResponseBody};
use kafka_proto::validate::{Refusal, StrictProduce, TopicConfig};
use kafka_proto::{ApiKey, TopicRef, Uuid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Mutex as AsyncMutex};

use crate::{ports, HarnessError, Result, TansuBroker, TansuOptions};

/// A refusal the front answered, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Kafka's answer.
    pub refusal: Refusal,
}

/// What all connections of one front share.
#[derive(Debug, Default)]
struct State {
    rules: StrictProduce,
    topic_ids: HashMap<Uuid, String>,
    refused: Vec<Refused>,
}

/// The strict front; stops (and drops its connections) on drop.
#[derive(Debug)]
pub struct StrictFront {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl StrictFront {
    /// Listens on `port` (0: a free one) and forwards to `upstream`.
    pub fn start(port: u16, upstream: SocketAddr) -> Result<Self> {
        let listener = StdListener::bind(("127.0.0.1", port))
            .map_err(HarnessError::io("binding the strict front's port"))?;
        listener
            .set_nonblocking(true)
            .map_err(HarnessError::io("configuring the strict front's socket"))?;
        let port = listener
            .local_addr()
            .map_err(HarnessError::io("reading the strict front's address"))?
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(HarnessError::io("starting the strict front's runtime"))?;
        let shared = Arc::clone(&state);
        let thread = thread::Builder::new()
            .name(format!("strict-front-{port}"))
            .spawn(move || runtime.block_on(accept(listener, upstream, shared, stopped)))
            .map_err(HarnessError::io("spawning the strict front's thread"))?;
        Ok(Self {
            port,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Checks `topic` with `config` from now on.
    pub fn set_topic_config(&self, topic: &str, config: TopicConfig) {
        self.lock().rules.set_topic_config(topic, config);
    }

    /// Every partition the front refused so far.
    pub fn refused(&self) -> Vec<Refused> {
        self.lock().refused.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for StrictFront {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept(
    listener: StdListener,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            conn = listener.accept() => {
                let Ok((client, _)) = conn else { continue };
                tokio::spawn(proxy(client, upstream, Arc::clone(&state)));
            }
        }
    }
}

/// A request sent upstream, in order, and what to do with its response.
enum Pending {
    /// Pass the response on; for a Produce, add the front's own partition
    /// answers and take back what the broker refused.
    Upstream {
        api_key: i16,
        version: i16,
        local: Vec<(TopicRef, PartitionProduceResponse)>,
        forwarded: Vec<Forwarded>,
    },
    /// The front's own answer, due after the responses before it.
    Local(Bytes),
}

/// A partition the front accepted and let through to the broker.
struct Forwarded {
    topic: String,
    partition: i32,
    appended: kafka_proto::validate::Appended,
}

/// The client side's write half and the responses it still owes, in order.
struct ToClient {
    write: OwnedWriteHalf,
    pending: VecDeque<Pending>,
}

async fn proxy(client: TcpStream, upstream: SocketAddr, state: Arc<Mutex<State>>) {
    let Ok(broker) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let (mut from_client, to_client) = client.into_split();
    let (from_broker, mut to_broker) = broker.into_split();
    let out = Arc::new(AsyncMutex::new(ToClient {
        write: to_client,
        pending: VecDeque::new(),
    }));
    let back = tokio::spawn(responses(from_broker, Arc::clone(&out), Arc::clone(&state)));
    let decoder = FrameDecoder::new(usize::MAX >> 1);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    'conn: loop {
        while let Ok(Some(frame)) = decoder.decode(&mut buf) {
            match request(&frame, &state) {
                Step::Forward(pending, bytes) => {
                    if let Some(p) = pending {
                        out.lock().await.pending.push_back(p);
                    }
                    if write_frame(&mut to_broker, &bytes).await.is_err() {
                        break 'conn;
                    }
                }
                Step::Answer(response) => {
                    let mut o = out.lock().await;
                    if o.pending.is_empty() {
                        if write_frame(&mut o.write, &response).await.is_err() {
                            break 'conn;
                        }
                    } else {
                        o.pending.push_back(Pending::Local(response));
                    }
                }
                Step::Close => break 'conn,
            }
        }
        buf.reserve(16 * 1024);
        match from_client.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    back.abort();
    let _ = out.lock().await.write.shutdown().await;
}

/// Writes one frame (without its size prefix) with its size prefix.
async fn write_frame(w: &mut OwnedWriteHalf, frame: &[u8]) -> std::io::Result<()> {
    let size = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    w.write_all(&size.to_be_bytes()).await?;
    w.write_all(frame).await
}

enum Step {
    /// Send these bytes (a frame without its size prefix) upstream, and
    /// expect a response unless `None`.
    Forward(Option<Pending>, Bytes),
    /// Answer the client with this frame (without its size prefix).
    Answer(Bytes),
    /// Close the connection.
    Close,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What to do with one request frame from the client.
fn request(frame: &Bytes, state: &Mutex<State>) -> Step {
    let passthrough = |api_key, version| {
        Step::Forward(
            Some(Pending::Upstream {
                api_key,
                version,
                local: Vec::new(),
                forwarded: Vec::new(),
            }),
            frame.clone(),
        )
    };
    let Ok(prefix) = peek_request(frame) else {
        // Not a Kafka request (a SASL v0 token, say): one response follows.
        return passthrough(-1, 0);
    };
    let (api_key, version) = (prefix.api_key, prefix.api_version);
    let is = |k: ApiKey| api_key == k.key();
    if !is(ApiKey::Produce) && !is(ApiKey::CreateTopics) {
        return passthrough(api_key, version);
    }
    let Ok((header, body)) = decode_any_request(frame.clone()) else {
        return passthrough(api_key, version);
    };
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    match body {
        RequestBody::CreateTopics(req) => {
            for t in &req.topics {
                // Settings the test gave the front stay unless overridden.
                let mut config = st.rules.topic_config(&t.name).clone();
                for c in &t.configs {
                    if let Some(v) = &c.value {
                        config.set(&c.name, v);
                    }
                }
                st.rules.set_topic_config(&t.name, config);
            }
            passthrough(api_key, version)
        }
        RequestBody::Produce(req) => produce(&header, req, &mut st, frame),
        _ => passthrough(api_key, version),
    }
}

/// Checks a Produce; forwards what Kafka would append.
fn produce(header: &RequestHeader, mut req: ProduceRequest, st: &mut State, frame: &Bytes) -> Step {
    let version = header.request_api_version;
    let ids = st.topic_ids.clone();
    let name_of = |t: &TopicRef| match t {
        TopicRef::Name(n) => Some(n.clone()),
        TopicRef::Id(id) => ids.get(id).cloned(),
    };
    // The broker itself answers for topics it does not have.
    let (kafka, outcomes) = st.rules.produce(&req, version, now_ms(), |t, _| name_of(t));
    let mut local = Vec::new();
    let mut forwarded = Vec::new();
    for o in outcomes {
        match o.result {
            Ok(appended) if !appended.duplicate => forwarded.push(Forwarded {
                topic: o.topic,
                partition: o.partition,
                appended,
            }),
            Ok(_) => local.push((o.topic, o.partition)),
            Err(refusal) => {
                local.push((o.topic.clone(), o.partition));
                st.refused.push(Refused {
                    topic: o.topic,
                    partition: o.partition,
                    refusal,
                });
            }
        }
    }
    // A request-level refusal (no transactional id) leaves no outcomes.
    let request_refused = kafka
        .responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .any(|p| p.error_code != 0)
        && local.is_empty()
        && forwarded.is_empty();
    if req.acks == 0 && (!local.is_empty() || request_refused) {
        return Step::Close;
    }
    if local.is_empty() && !request_refused {
        let pending = (req.acks != 0).then(|| Pending::Upstream {
            api_key: ApiKey::Produce.key(),
            version,
            local: Vec::new(),
            forwarded,
        });
        return Step::Forward(pending, frame.clone());
    }
    // The front's answers for the partitions it keeps back.
    let mut answers = Vec::new();
    for t in &kafka.responses {
        let name = name_of(&t.topic);
        for p in &t.partition_responses {
            let kept = request_refused
                || name
                    .as_ref()
                    .is_some_and(|n| local.iter().any(|(lt, lp)| lt == n && *lp == p.index));
            if kept {
                answers.push((t.topic.clone(), p.clone()));
            }
        }
    }
    for t in &mut req.topic_data {
        let topic = t.topic.clone();
        t.partition_data.retain(|p| {
            !answers
                .iter()
                .any(|(at, ap)| *at == topic && ap.index == p.index)
        });
    }
    req.topic_data.retain(|t| !t.partition_data.is_empty());
    if req.topic_data.is_empty() {
        let mut response = kafka;
        for t in &mut response.responses {
            t.partition_responses.retain(|p| {
                answers
                    .iter()
                    .any(|(at, ap)| *at == t.topic && ap.index == p.index)
            });
        }
        return match encode_any_response(
            header.correlation_id,
            version,
            &ResponseBody::Produce(response),
        ) {
            Ok(f) => Step::Answer(f.to_bytes().slice(4..)),
            Err(_) => Step::Close,
        };
    }
    let body = RequestBody::Produce(req);
    match encode_any_request(
        header.correlation_id,
        header.client_id.as_deref(),
        version,
        &body,
    ) {
        Ok(f) => Step::Forward(
            Some(Pending::Upstream {
                api_key: ApiKey::Produce.key(),
                version,
                local: answers,
                forwarded,
            }),
            f.to_bytes().slice(4..),
        ),
        Err(_) => Step::Close,
    }
}

/// Relays the broker's responses in order, merging the front's answers.
async fn responses(
    mut from_broker: tokio::net::tcp::OwnedReadHalf,
    out: Arc<AsyncMutex<ToClient>>,
    state: Arc<Mutex<State>>,
) {
    let decoder = FrameDecoder::new(usize::MAX >> 1);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        while let Ok(Some(frame)) = decoder.decode(&mut buf) {
            let mut o = out.lock().await;
            let Some(Pending::Upstream {
                api_key,
                version,
                local,
                forwarded,
            }) = o.pending.pop_front()
            else {
                return;
            };
            let frame = relay(frame, api_key, version, local, forwarded, &state);
            if write_frame(&mut o.write, &frame).await.is_err() {
                return;
            }
            while let Some(Pending::Local(_)) = o.pending.front() {
                if let Some(Pending::Local(answer)) = o.pending.pop_front() {
                    if write_frame(&mut o.write, &answer).await.is_err() {
                        return;
                    }
                }
            }
        }
        buf.reserve(16 * 1024);
        match from_broker.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = out.lock().await.write.shutdown().await;
                return;
            }
            Ok(_) => {}
        }
    }
}

/// The broker's response to the client, with what the front learns from it.
fn relay(
    frame: Bytes,
    api_key: i16,
    version: i16,
    local: Vec<(TopicRef, PartitionProduceResponse)>,
    forwarded: Vec<Forwarded>,
    state: &Mutex<State>,
) -> Bytes {
    let Some(api) = ApiKey::from_key(api_key) else {
        return frame;
    };
    if api != ApiKey::Produce && api != ApiKey::Metadata {
        return frame;
    }
    let Ok((header, body)) = decode_any_response(api, version, frame.clone()) else {
        return frame;
    };
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    match body {
        ResponseBody::Metadata(m) => {
            for t in &m.topics {
                if let Some(name) = &t.name {
                    st.topic_ids.insert(t.topic_id, name.clone());
                }
            }
            frame
        }
        ResponseBody::Produce(mut resp) => {
            // Take back what the broker did not append.
            for f in &forwarded {
                let failed = resp.responses.iter().any(|t| {
                    let same = match &t.topic {
                        TopicRef::Name(n) => *n == f.topic,
                        TopicRef::Id(id) => st.topic_ids.get(id) == Some(&f.topic),
                    };
                    same && t
                        .partition_responses
                        .iter()
                        .any(|p| p.index == f.partition && p.error_code != 0)
                });
                if failed {
                    st.rules.partition(&f.topic, f.partition).undo(&f.appended);
                }
            }
            if local.is_empty() {
                return frame;
            }
            for (topic, answer) in local {
                match resp.responses.iter_mut().find(|t| t.topic == topic) {
                    Some(t) => t.partition_responses.push(answer),
                    None => resp.responses.push(
                        kafka_proto::messages::produce_response::TopicProduceResponse {
                            topic,
                            partition_responses: vec![answer],
                            ..Default::default()
                        },
                    ),
                }
            }
            match encode_any_response(header.correlation_id, version, &ResponseBody::Produce(resp))
            {
                Ok(f) => f.to_bytes().slice(4..),
                Err(_) => frame,
            }
        }
        _ => frame,
    }
}

/// A Tansu broker behind a [`StrictFront`]: clients bootstrap from the
/// front, and Tansu advertises the front's port, so every Produce is
/// checked as Kafka would check it. Derefs to the broker for restarts,
/// topics and logs.
#[derive(Debug)]
pub struct StrictTansu {
    front: StrictFront,
    broker: TansuBroker,
}

impl StrictTansu {
    /// Starts Tansu with `opts` (its advertised port set to the front's)
    /// and the front before it.
    pub fn start_with(opts: TansuOptions) -> Result<Self> {
        let front_port = ports::free_port().map_err(HarnessError::io("finding a free port"))?;
        let broker_port = match opts.port {
            Some(p) => p,
            None => ports::free_port().map_err(HarnessError::io("finding a free port"))?,
        };
        let front = StrictFront::start(front_port, ports::loopback(broker_port))?;
        let broker = TansuBroker::start_with(TansuOptions {
            port: Some(broker_port),
            advertised_port: Some(front.port()),
            ..opts
        })?;
        Ok(Self { front, broker })
    }

    /// Starts Tansu with default options behind a front.
    pub fn start() -> Result<Self> {
        Self::start_with(TansuOptions::default())
    }

    /// The front's address, for every client.
    pub fn bootstrap(&self) -> String {
        self.front.bootstrap()
    }

    /// The front.
    pub fn front(&self) -> &StrictFront {
        &self.front
    }
}

impl Deref for StrictTansu {
    type Target = TansuBroker;

    fn deref(&self) -> &TansuBroker {
        &self.broker
    }
}

impl DerefMut for StrictTansu {
    fn deref_mut(&mut self) -> &mut TansuBroker {
        &mut self.broker
    }
}
