//! One connection to one broker.
//!
//! [`Connector`] holds validated settings and loaded TLS material and opens
//! [`Connection`]s: TCP with Nagle off, TLS, ApiVersions negotiation, SASL.
//! A `Connection` is a cheap, cloneable handle; requests from any number of
//! tasks are pipelined on it (up to `max_in_flight`) and matched to their
//! responses by correlation id. Each request has a timeout; when one
//! expires the connection is closed, because its state is then unknown.
//! [`ManagedConnection`] reconnects with capped exponential backoff.
//!
//! The protocol bookkeeping lives in the sans-io `state` module; `io` holds
//! the reader and writer tasks.

mod auth;
mod handshake;
mod io;
mod managed;
mod state;
mod stream;

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_proto::frame::{encode_request, EncodedFrame};
use kafka_proto::{ApiKey, EncodeError, Request, Response};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};

use crate::address::{BrokerAddress, BrokerLabel};
use crate::config::ConnectionConfig;
use crate::error::Error;
use crate::tls::TlsConnector;
use crate::versions::NegotiatedVersions;

pub use managed::{DisconnectHook, ManagedConnection};
use state::ConnectionState;

/// Whoever waits for a response frame.
pub(crate) type Waiter = oneshot::Sender<Result<Bytes, Error>>;

/// An encoded request on its way to the writer task.
pub(crate) struct Outgoing {
    id: i32,
    api: ApiKey,
    version: i16,
    frame: EncodedFrame,
    /// `None` when no response is expected (Produce with acks=0).
    waiter: Option<Waiter>,
}

/// State shared by the handle and the IO tasks.
pub(crate) struct Shared {
    broker: BrokerLabel,
    versions: NegotiatedVersions,
    state: Mutex<ConnectionState<Waiter>>,
    closed: watch::Sender<bool>,
    in_flight: Arc<Semaphore>,
    /// Signalled whenever the in-flight table becomes empty.
    drained: Notify,
    request_timeout: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ConnectionState<Waiter>> {
        // A panic while holding the lock cannot leave the table
        // inconsistent (every method is a single map operation).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn closed_rx(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    fn disconnected(&self, reason: String) -> Error {
        Error::Disconnected {
            broker: self.broker.clone(),
            reason,
        }
    }

    fn reauth_due(&self, now: Instant) -> bool {
        self.lock().reauth_due(now)
    }

    /// Hands a response frame to its waiter.
    fn deliver(&self, frame: Bytes) -> Result<(), String> {
        let (matched, drained) = {
            let mut state = self.lock();
            let m = state.on_response(&frame);
            (m, state.in_flight() == 0)
        };
        if drained {
            self.drained.notify_waiters();
        }
        match matched {
            Ok(request) => {
                tracing::trace!(broker = %self.broker, api = %request.api, version = request.version, len = frame.len(), "response");
                // The waiter may have given up; that is fine.
                let _ = request.waiter.send(Ok(frame));
                Ok(())
            }
            Err(e) => Err(format!("protocol error: {e}")),
        }
    }

    /// Closes the connection and fails every outstanding request.
    fn close(&self, reason: String) {
        let waiters = self.lock().close(reason.clone());
        let reason = self
            .lock()
            .closed_reason()
            .map(str::to_owned)
            .unwrap_or(reason);
        for request in waiters {
            let _ = request.waiter.send(Err(self.disconnected(reason.clone())));
        }
        self.in_flight.close();
        self.closed.send_replace(true);
        self.drained.notify_waiters();
    }
}

/// Validated settings plus loaded TLS material: opens connections.
#[derive(Debug, Clone)]
pub struct Connector {
    config: Arc<ConnectionConfig>,
    tls: Option<TlsConnector>,
}

impl Connector {
    /// Validates `config` and loads its certificates and keys once.
    pub fn new(config: ConnectionConfig) -> Result<Self, Error> {
        config.validate()?;
        let tls = if config.security_protocol.uses_tls() {
            Some(TlsConnector::new(&config.tls)?)
        } else {
            if config.tls.insecure_skip_verification || config.tls.identity.is_some() {
                tracing::warn!(
                    protocol = %config.security_protocol,
                    "TLS settings are ignored: the security protocol does not use TLS"
                );
            }
            None
        };
        Ok(Self {
            config: Arc::new(config),
            tls,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Opens a connection to a bootstrap address.
    pub async fn connect(&self, address: BrokerAddress) -> Result<Connection, Error> {
        self.connect_to(BrokerLabel::bootstrap(address)).await
    }

    /// Opens a connection to `broker` (a node from metadata, or a bootstrap
    /// address).
    pub async fn connect_to(&self, broker: BrokerLabel) -> Result<Connection, Error> {
        let established = handshake::establish(&broker, &self.config, self.tls.as_ref()).await?;
        let mut state = established.state;
        if let Some(lifetime) = established.session_lifetime {
            let ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
            state.set_session_lifetime(Instant::now(), ms, io::reauth_fraction());
        }
        let (closed, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            broker,
            versions: established.versions,
            state: Mutex::new(state),
            closed,
            in_flight: Arc::new(Semaphore::new(self.config.max_in_flight)),
            drained: Notify::new(),
            request_timeout: self.config.request_timeout,
        });
        let (tx, rx) = mpsc::channel(self.config.max_in_flight.max(1) * 2);
        let (read, write) = tokio::io::split(established.stream);
        tokio::spawn(io::writer(
            Arc::clone(&shared),
            rx,
            write,
            Arc::clone(&self.config),
        ));
        tokio::spawn(io::reader(
            Arc::clone(&shared),
            read,
            established.leftover,
            self.config.max_frame_size,
        ));
        tracing::debug!(broker = %shared.broker, "connected");
        Ok(Connection {
            shared,
            queue: tx,
            client_id: Arc::from(self.config.client_id.as_str()),
        })
    }
}

/// A connection to one broker. Clone it freely: clones share the socket.
/// The socket closes when the last clone is dropped, or on
/// [`close`](Connection::close).
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    queue: mpsc::Sender<Outgoing>,
    client_id: Arc<str>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.shared.broker)
            .field("closed", &self.closed_reason())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `address` with `config` (loading TLS material each
    /// time; use a [`Connector`] to connect repeatedly).
    pub async fn connect(address: BrokerAddress, config: ConnectionConfig) -> Result<Self, Error> {
        Connector::new(config)?.connect(address).await
    }

    /// The broker this connection talks to.
    pub fn broker(&self) -> &BrokerLabel {
        &self.shared.broker
    }

    /// The negotiated versions.
    pub fn versions(&self) -> &NegotiatedVersions {
        &self.shared.versions
    }

    /// The version used for `api`: the highest both sides speak.
    pub fn version(&self, api: ApiKey) -> Result<i16, Error> {
        self.shared
            .versions
            .version(api)
            .map_err(|u| u.into_error(&self.shared.broker, api))
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        *self.shared.closed.borrow()
    }

    /// Why the connection closed, if it did.
    pub fn closed_reason(&self) -> Option<String> {
        self.shared.lock().closed_reason().map(str::to_owned)
    }

    /// Closes the connection; outstanding requests fail.
    pub fn close(&self) {
        self.shared.close("closed by this client".into());
    }

    /// When the SASL session will be renewed, if it expires.
    pub fn reauthentication_due(&self) -> Option<Instant> {
        self.shared.lock().reauth_at()
    }

    /// Sends `request` at the negotiated version and waits for the response.
    pub async fn send<R: Request>(&self, request: &R) -> Result<R::Response, Error> {
        let version = self.version(R::API_KEY)?;
        self.request(request, version, self.shared.request_timeout)
            .await
    }

    /// Sends `request` at `version` (which must be one the broker speaks).
    pub async fn send_version<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, Error> {
        self.request(request, version, self.shared.request_timeout)
            .await
    }

    /// Sends `request` at `version` and waits at most `timeout` for the
    /// response (for example a Fetch whose max wait exceeds the default
    /// request timeout). On timeout the connection is closed.
    pub async fn request<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, Error> {
        self.queue(R::API_KEY, version, timeout, |id, client_id| {
            encode_request(id, client_id, version, request)
        })
        .await?
        .response()
        .await
    }

    /// Sends a request the caller encodes, at `version` of `R`'s API, and
    /// waits for the response like [`send_version`](Connection::send_version).
    ///
    /// `encode` gets the correlation id and client id the frame must carry
    /// and returns the whole frame (for example from
    /// [`encode_produce_request`](kafka_proto::frame::encode_produce_request)).
    /// On timeout the connection is closed.
    pub async fn send_encoded<R, F>(&self, version: i16, encode: F) -> Result<R, Error>
    where
        R: Response,
        F: FnOnce(i32, Option<&str>) -> Result<EncodedFrame, EncodeError>,
    {
        self.queue_encoded(version, encode).await?.response().await
    }

    /// Queues a request the caller encodes, like
    /// [`send_encoded`](Connection::send_encoded), and returns as soon as it
    /// holds its place on the connection: requests leave in the order
    /// their `queue_encoded` calls complete, so a caller that awaits each
    /// before queueing the next sends them in that order. Await
    /// [`PendingResponse::response`] for the answer.
    pub async fn queue_encoded<R, F>(
        &self,
        version: i16,
        encode: F,
    ) -> Result<PendingResponse<R>, Error>
    where
        R: Response,
        F: FnOnce(i32, Option<&str>) -> Result<EncodedFrame, EncodeError>,
    {
        self.queue(R::API_KEY, version, self.shared.request_timeout, encode)
            .await
    }

    /// Takes a place in flight and in the send queue, within `timeout`.
    async fn queue<R, F>(
        &self,
        api: ApiKey,
        version: i16,
        timeout: Duration,
        encode: F,
    ) -> Result<PendingResponse<R>, Error>
    where
        R: Response,
        F: FnOnce(i32, Option<&str>) -> Result<EncodedFrame, EncodeError>,
    {
        self.check_version(api, version)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let permit = tokio::time::timeout_at(deadline, self.permit())
            .await
            .map_err(|_| self.timed_out(api, timeout))??;
        let (tx, rx) = oneshot::channel();
        self.enqueue(api, version, encode, Some(tx)).await?;
        Ok(PendingResponse {
            conn: self.clone(),
            api,
            version,
            timeout,
            deadline,
            rx,
            _permit: permit,
            _response: PhantomData,
        })
    }

    /// Closes the connection after `api` got no response within `timeout`:
    /// its state is unknown.
    fn timed_out(&self, api: ApiKey, timeout: Duration) -> Error {
        self.shared.close(format!(
            "a {api} request got no response within {timeout:?}"
        ));
        Error::RequestTimeout {
            broker: self.shared.broker.clone(),
            api,
            timeout,
        }
    }

    /// Sends a request that gets no response (Produce with `acks=0`).
    pub async fn send_without_response<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<(), Error> {
        self.check_version(R::API_KEY, version)?;
        self.enqueue(
            R::API_KEY,
            version,
            |id, client_id| encode_request(id, client_id, version, request),
            None,
        )
        .await
    }

    fn check_version(&self, api: ApiKey, version: i16) -> Result<(), Error> {
        let ours = api.versions();
        let theirs = self.shared.versions.broker_range(api);
        match theirs {
            Some(t) if t.contains(version) && ours.contains(version) => Ok(()),
            Some(t) => Err(Error::NoCommonVersion {
                broker: self.shared.broker.clone(),
                api,
                ours: ours
                    .intersect(&kafka_proto::VersionRange {
                        min: version,
                        max: version,
                    })
                    .unwrap_or(ours),
                theirs: t,
            }),
            None => Err(Error::ApiNotSupported {
                broker: self.shared.broker.clone(),
                api,
            }),
        }
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, Error> {
        Arc::clone(&self.shared.in_flight)
            .acquire_owned()
            .await
            .map_err(|_| {
                self.shared.disconnected(
                    self.closed_reason()
                        .unwrap_or_else(|| "the connection is closed".into()),
                )
            })
    }

    async fn enqueue<F>(
        &self,
        api: ApiKey,
        version: i16,
        encode: F,
        waiter: Option<Waiter>,
    ) -> Result<(), Error>
    where
        F: FnOnce(i32, Option<&str>) -> Result<EncodedFrame, EncodeError>,
    {
        let id = self
            .shared
            .lock()
            .next_correlation_id()
            .map_err(|r| self.shared.disconnected(r))?;
        let frame = encode(id, Some(&self.client_id)).map_err(|source| Error::Encode {
            api,
            version,
            source,
        })?;
        self.queue
            .send(Outgoing {
                id,
                api,
                version,
                frame,
                waiter,
            })
            .await
            .map_err(|_| {
                self.shared.disconnected(
                    self.closed_reason()
                        .unwrap_or_else(|| "the connection is closed".into()),
                )
            })
    }
}

/// A request queued on a [`Connection`] by
/// [`queue_encoded`](Connection::queue_encoded): it holds its place in
/// flight until its response arrives.
pub struct PendingResponse<R> {
    conn: Connection,
    api: ApiKey,
    version: i16,
    timeout: Duration,
    deadline: tokio::time::Instant,
    rx: oneshot::Receiver<Result<Bytes, Error>>,
    _permit: OwnedSemaphorePermit,
    _response: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for PendingResponse<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingResponse")
            .field("broker", &self.conn.shared.broker)
            .field("api", &self.api)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl<R: Response> PendingResponse<R> {
    /// Waits for the response (until the request's timeout, which closes
    /// the connection) and decodes it.
    pub async fn response(self) -> Result<R, Error> {
        let conn = &self.conn;
        let frame = match tokio::time::timeout_at(self.deadline, self.rx).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => {
                return Err(conn.shared.disconnected(
                    conn.closed_reason()
                        .unwrap_or_else(|| "the connection stopped".into()),
                ))
            }
            Err(_) => return Err(conn.timed_out(self.api, self.timeout)),
        };
        kafka_proto::frame::decode_response::<R>(frame, self.version)
            .map(|(_, body)| body)
            .map_err(|e| Error::Protocol {
                broker: conn.shared.broker.clone(),
                api: Some(self.api),
                reason: e.to_string(),
            })
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Connection>();
    is::<Connector>();
}
