//! Opening a connection: TCP (Nagle off), TLS, ApiVersions negotiation and
//! SASL, each step bounded by the connect deadline. Requests here are
//! strictly one at a time; pipelining starts once the IO tasks run.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{encode_request, FrameDecoder, FrameError};
use kafka_proto::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_proto::{ApiKey, ErrorCode, Request};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::auth::{authenticate, RoundTrip};
use super::state::ConnectionState;
use super::stream::{write_chunks, Stream};
use crate::address::BrokerLabel;
use crate::config::ConnectionConfig;
use crate::error::Error;
use crate::tls::TlsConnector;
use crate::versions::{api_versions_retry_version, NegotiatedVersions};

/// `client_software_name` in ApiVersions v3+ (KIP-511).
pub(crate) const SOFTWARE_NAME: &str = "kafka-replicator";
/// `client_software_version` in ApiVersions v3+.
pub(crate) const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a finished handshake hands to the IO tasks.
pub(crate) struct Established {
    pub stream: Stream,
    pub state: ConnectionState<super::Waiter>,
    pub versions: NegotiatedVersions,
    pub session_lifetime: Option<Duration>,
    /// Bytes read past the last handshake response (normally none).
    pub leftover: BytesMut,
}

/// One-at-a-time requests over a stream that has no IO tasks yet.
struct Sequential<'a> {
    stream: &'a mut Stream,
    state: ConnectionState<()>,
    buf: BytesMut,
    decoder: FrameDecoder,
    broker: &'a BrokerLabel,
    client_id: &'a str,
    max_versions: &'a std::collections::BTreeMap<ApiKey, i16>,
    tls: Option<(&'a TlsConnector, String)>,
    /// Whether any response arrived yet (a failure before the first one is
    /// likely a TLS or protocol mismatch).
    answered: bool,
}

/// A hint for bytes that are not a Kafka frame.
fn mismatch_hint(first: &[u8], tls: bool) -> &'static str {
    match first {
        [0x15 | 0x16, 0x03, ..] if !tls => {
            "the broker answered with TLS: this listener expects security.protocol SSL or SASL_SSL"
        }
        [b'H', b'T', b'T', b'P', ..] => "the port speaks HTTP, not Kafka",
        _ if tls => "check that the listener behind TLS is a Kafka listener",
        _ => "check that the port is a Kafka listener and the security.protocol matches it",
    }
}

impl Sequential<'_> {
    fn io_error(&self, e: io::Error, doing: &str) -> Error {
        if let Some((tls, host)) = &self.tls {
            if crate::tls::rustls_error(&e).is_some() || !self.answered {
                return tls.handshake_error(self.broker, host, &e);
            }
        }
        let hint = if self.answered {
            ""
        } else {
            "; if the listener uses TLS, set security.protocol to SSL or SASL_SSL"
        };
        Error::Disconnected {
            broker: self.broker.clone(),
            reason: format!("{doing}: {e}{hint}"),
        }
    }

    async fn read_frame(&mut self, api: ApiKey) -> Result<Bytes, Error> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => {
                    let hint = mismatch_hint(&self.buf, self.tls.is_some());
                    let reason = match e {
                        FrameError::TooLarge { .. } | FrameError::NegativeSize(_) => {
                            format!("{e} ({hint})")
                        }
                    };
                    return Err(Error::Protocol {
                        broker: self.broker.clone(),
                        api: Some(api),
                        reason,
                    });
                }
            }
            self.buf.reserve(8 * 1024);
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| self.io_error(e, &format!("reading the {api} response")))?;
            if n == 0 {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the broker closed the connection",
                );
                return Err(self.io_error(e, &format!("waiting for the {api} response")));
            }
        }
    }

    async fn exchange<R: Request>(&mut self, request: &R, version: i16) -> Result<Bytes, Error> {
        let api = R::API_KEY;
        let id = self
            .state
            .next_correlation_id()
            .map_err(|reason| Error::Disconnected {
                broker: self.broker.clone(),
                reason,
            })?;
        let frame =
            encode_request(id, Some(self.client_id), version, request).map_err(|source| {
                Error::Encode {
                    api,
                    version,
                    source,
                }
            })?;
        let _ = self.state.sent(id, api, version, ());
        write_chunks(self.stream, frame.chunks())
            .await
            .map_err(|e| self.io_error(e, &format!("sending the {api} request")))?;
        let frame = self.read_frame(api).await?;
        self.answered = true;
        self.state
            .on_response(&frame)
            .map_err(|e| Error::Protocol {
                broker: self.broker.clone(),
                api: Some(api),
                reason: e.to_string(),
            })?;
        Ok(frame)
    }

    /// ApiVersions, retrying at a lower version when the broker asks
    /// (KIP-511).
    async fn api_versions(&mut self) -> Result<ApiVersionsResponse, Error> {
        let request = ApiVersionsRequest {
            client_software_name: SOFTWARE_NAME.into(),
            client_software_version: SOFTWARE_VERSION.into(),
            ..Default::default()
        };
        let ours = ApiKey::ApiVersions.versions();
        let mut version = self
            .max_versions
            .get(&ApiKey::ApiVersions)
            .map_or(ours.max, |&cap| cap.clamp(ours.min, ours.max));
        for _ in 0..3 {
            let frame = self.exchange(&request, version).await?;
            let frame_error_code = |f: &Bytes| {
                f.get(4..6)
                    .map(|b| ErrorCode(i16::from_be_bytes([b[0], b[1]])))
            };
            // A broker that does not know `version` answers in v0.
            let parsed =
                kafka_proto::frame::decode_response::<ApiVersionsResponse>(frame.clone(), version)
                    .map(|(_, body)| body)
                    .ok()
                    .filter(|r| ErrorCode(r.error_code) != ErrorCode::UNSUPPORTED_VERSION)
                    .or_else(|| {
                        kafka_proto::frame::decode_response::<ApiVersionsResponse>(frame.clone(), 0)
                            .map(|(_, body)| body)
                            .ok()
                    });
            let Some(response) = parsed else {
                // Some peers (librdkafka's mock) answer an unsupported
                // version in neither layout; the error code still comes
                // first, and v0 is always supported.
                let unsupported = frame_error_code(&frame) == Some(ErrorCode::UNSUPPORTED_VERSION);
                if unsupported && version > 0 {
                    tracing::debug!(broker = %self.broker, from = version, "ApiVersions refused in an unreadable layout; retrying with v0");
                    version = 0;
                    continue;
                }
                return Err(Error::Protocol {
                    broker: self.broker.clone(),
                    api: Some(ApiKey::ApiVersions),
                    reason: format!("the response to ApiVersions v{version} cannot be decoded"),
                });
            };
            match ErrorCode(response.error_code) {
                ErrorCode::NONE => return Ok(response),
                ErrorCode::UNSUPPORTED_VERSION => {
                    match api_versions_retry_version(&response, version) {
                        Some(lower) => {
                            tracing::debug!(broker = %self.broker, from = version, to = lower, "retrying ApiVersions at a lower version");
                            version = lower;
                        }
                        None => {
                            return Err(Error::Broker {
                                broker: self.broker.clone(),
                                api: ApiKey::ApiVersions,
                                code: ErrorCode::UNSUPPORTED_VERSION,
                                context: None,
                                message: Some(format!(
                                "the broker refused every ApiVersions version down to v{version}"
                            )),
                            })
                        }
                    }
                }
                code => {
                    return Err(Error::Broker {
                        broker: self.broker.clone(),
                        api: ApiKey::ApiVersions,
                        code,
                        context: None,
                        message: None,
                    })
                }
            }
        }
        Err(Error::Protocol {
            broker: self.broker.clone(),
            api: Some(ApiKey::ApiVersions),
            reason: "the broker kept refusing ApiVersions versions".into(),
        })
    }
}

impl RoundTrip for Sequential<'_> {
    async fn round_trip<R: Request + Sync>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, Error> {
        let frame = self.exchange(request, version).await?;
        kafka_proto::frame::decode_response::<R::Response>(frame.clone(), version)
            .map(|(_, body)| body)
            .map_err(|e| Error::Protocol {
                broker: self.broker.clone(),
                api: Some(R::API_KEY),
                reason: e.to_string(),
            })
    }
}

/// Connects to `broker` and runs TLS, ApiVersions and SASL, all within
/// `config.connect_timeout`.
pub(crate) async fn establish(
    broker: &BrokerLabel,
    config: &ConnectionConfig,
    tls: Option<&TlsConnector>,
) -> Result<Established, Error> {
    let deadline = Instant::now() + config.connect_timeout;
    let expected = config.security_protocol.name();
    let timed_out = |stage: &'static str| Error::ConnectTimeout {
        broker: broker.clone(),
        timeout: config.connect_timeout,
        stage,
        expected,
    };

    let host = broker.address.host();
    let resolved: Vec<std::net::SocketAddr> = timeout_at(
        deadline,
        tokio::net::lookup_host((host, broker.address.port())),
    )
    .await
    .map_err(|_| timed_out("DNS lookup"))?
    .map_err(|source| Error::Connect {
        broker: broker.clone(),
        source,
        hint: format!("the host name {host:?} does not resolve: check the spelling and DNS"),
    })?
    .collect();
    let tcp = timeout_at(deadline, TcpStream::connect(&resolved[..]))
        .await
        .map_err(|_| timed_out("TCP connect"))?
        .map_err(|source| {
            let hint = match source.kind() {
                io::ErrorKind::ConnectionRefused => {
                    "nothing listens on that port: check the address and that the broker is running"
                }
                _ => "check the address and the network path (firewalls, routes)",
            };
            Error::Connect {
                broker: broker.clone(),
                source,
                hint: hint.into(),
            }
        })?;
    // Kafka requests are whole frames: never wait to coalesce them.
    tcp.set_nodelay(true).map_err(|source| Error::Connect {
        broker: broker.clone(),
        source,
        hint: "the socket cannot be configured".into(),
    })?;

    let mut stream = match tls {
        Some(tls) => Stream::Tls(Box::new(
            timeout_at(deadline, tls.connect(broker, tcp))
                .await
                .map_err(|_| timed_out("TLS handshake"))??,
        )),
        None => Stream::Plain(tcp),
    };

    let mut seq = Sequential {
        stream: &mut stream,
        state: ConnectionState::new(),
        buf: BytesMut::with_capacity(8 * 1024),
        decoder: FrameDecoder::new(config.max_frame_size),
        broker,
        client_id: &config.client_id,
        max_versions: &config.max_versions,
        tls: tls.map(|t| (t, t.verified_name(broker))),
        answered: false,
    };
    let response = timeout_at(deadline, seq.api_versions())
        .await
        .map_err(|_| timed_out("ApiVersions"))??;
    let versions = NegotiatedVersions::new(&response, &config.max_versions);
    tracing::debug!(broker = %broker, apis = versions.broker_ranges().len(), "negotiated API versions");

    let session_lifetime = match (&config.sasl, config.security_protocol.uses_sasl()) {
        (Some(sasl), true) => timeout_at(deadline, authenticate(&mut seq, broker, &versions, sasl))
            .await
            .map_err(|_| timed_out("SASL authentication"))??,
        _ => None,
    };

    // Carry the correlation-id sequence over, so ids stay unique per
    // connection.
    let state = ConnectionState::starting_at(seq.state.peek_next_id());
    let leftover = std::mem::take(&mut seq.buf);
    drop(seq);
    Ok(Established {
        stream,
        state,
        versions,
        session_lifetime,
        leftover,
    })
}
