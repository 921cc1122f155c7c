//! A scripted fake Kafka broker on a loopback port, for behaviour no real
//! peer here offers on demand: SASL/PLAIN (Tansu has none, the librdkafka
//! mock has no SASL), chosen API version ranges, delayed or reordered
//! responses, malformed frames, and sudden closes.
//!
//! It decodes requests with `kafka-proto` and asks a [`Handler`] what to
//! do with each. Requests are answered concurrently (each response is
//! written when its [`Action`] is ready), so delays reorder responses.
//! Every request is recorded for assertions.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use kafka_proto::{
    frame::{decode_any_request, encode_any_response, FrameDecoder},
    messages::{
        api_versions_response::ApiVersion,
        metadata_response::{
            MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
        },
        ApiVersionsResponse, MetadataResponse, RequestBody, RequestHeader, ResponseBody,
        SaslAuthenticateResponse, SaslHandshakeResponse,
    },
    ApiKey, ErrorCode, Uuid,
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
    /// Per-request override.
    pub handler: Option<Handler>,
}

impl std::fmt::Debug for FakeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOptions")
            .field("api_versions", &self.api_versions.len())
            .field("mechanisms", &self.mechanisms)
            .field("topics", &self.topics)
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
            handler: None,
        }
    }
}

/// A fake broker task; stopped on drop.
#[derive(Debug)]
pub struct FakeBroker {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    accept: JoinHandle<()>,
}

impl FakeBroker {
    /// Starts the fake on a free loopback port.
    pub async fn start(opts: FakeOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let opts = Arc::new(opts);
        let rec = Arc::clone(&received);
        let accept = tokio::spawn(async move {
            let mut n = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, n, addr, Arc::clone(&opts), Arc::clone(&rec)));
                n += 1;
            }
        });
        Ok(Self {
            addr,
            received,
            accept,
        })
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

async fn serve(
    stream: TcpStream,
    connection: usize,
    me: SocketAddr,
    opts: Arc<FakeOptions>,
    received: Arc<Mutex<Vec<Received>>>,
) {
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
            let action = opts
                .handler
                .as_ref()
                .and_then(|h| h(&req))
                .unwrap_or_else(|| default_action(&req, me, &opts));
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
                topic_id: Uuid::from_bytes([u8::try_from(i + 1).unwrap_or(1); 16]),
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
