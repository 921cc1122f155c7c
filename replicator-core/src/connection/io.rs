//! The two tokio tasks behind a connection. The writer takes encoded
//! frames from a queue, registers them in the in-flight table and writes
//! them in batches with vectored writes; it also renews the SASL session
//! when it is due. The reader cuts response frames out of one reused buffer
//! and hands each to the request that waits for it.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{encode_request, FrameDecoder};
use kafka_proto::Request;
use rand::Rng;
use tokio::io::{AsyncReadExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};

use super::auth::{authenticate, RoundTrip};
use super::stream::{write_chunks, Stream};
use super::{Outgoing, Shared};
use crate::config::ConnectionConfig;
use crate::error::Error;

/// Frames written per vectored write, at most.
const BATCH: usize = 16;

/// A random point in 85–95% of a session lifetime, as the Java client picks.
pub(super) fn reauth_fraction() -> f64 {
    rand::rng().random_range(0.85..=0.95)
}

pub(super) async fn writer(
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Outgoing>,
    mut out: WriteHalf<Stream>,
    config: Arc<ConnectionConfig>,
) {
    let mut closed = shared.closed_rx();
    let mut batch: Vec<Outgoing> = Vec::with_capacity(BATCH);
    let mut chunks: Vec<Bytes> = Vec::new();
    let reason = loop {
        let first = tokio::select! {
            biased;
            _ = async { let _ = closed.wait_for(|c| *c).await; } => return,
            msg = queue.recv() => match msg {
                Some(m) => m,
                None => break "the connection handle was dropped".to_owned(),
            },
        };
        if shared.reauth_due(Instant::now()) {
            if let Err(e) = reauthenticate(&shared, &mut out, &config).await {
                let reason = format!("re-authentication failed: {e}");
                tracing::warn!(broker = %shared.broker, "{reason}");
                first.fail(&shared, &reason);
                break reason;
            }
        }
        batch.push(first);
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        chunks.clear();
        for msg in batch.drain(..) {
            if let Some(waiter) = msg.waiter {
                if let Err((waiter, reason)) =
                    shared.lock().sent(msg.id, msg.api, msg.version, waiter)
                {
                    let _ = waiter.send(Err(shared.disconnected(reason)));
                    continue;
                }
            }
            chunks.extend(msg.frame.into_chunks());
        }
        if chunks.is_empty() {
            continue;
        }
        if let Err(e) = write_chunks(&mut out, &chunks).await {
            break format!("writing to the socket failed: {e}");
        }
    };
    shared.close(reason);
    let _ = tokio::io::AsyncWriteExt::shutdown(&mut out).await;
}

impl Outgoing {
    fn fail(self, shared: &Shared, reason: &str) {
        if let Some(w) = self.waiter {
            let _ = w.send(Err(shared.disconnected(reason.to_owned())));
        }
    }
}

/// Waits until no request is outstanding, then runs SaslHandshake and
/// SaslAuthenticate again on this connection (KIP-368). New requests stay
/// queued meanwhile, so none is interleaved with the exchange.
async fn reauthenticate(
    shared: &Arc<Shared>,
    out: &mut WriteHalf<Stream>,
    config: &ConnectionConfig,
) -> Result<(), Error> {
    let Some(sasl) = &config.sasl else {
        return Ok(());
    };
    loop {
        let drained = shared.drained.notified();
        tokio::pin!(drained);
        drained.as_mut().enable();
        if shared.lock().in_flight() == 0 {
            break;
        }
        tokio::time::timeout(config.request_timeout, drained)
            .await
            .map_err(|_| {
                shared.disconnected("requests did not finish before re-authentication".into())
            })?;
    }
    tracing::debug!(broker = %shared.broker, mechanism = %sasl.mechanism, "re-authenticating (KIP-368)");
    let mut rt = WriterRoundTrip {
        shared,
        out,
        config,
    };
    let lifetime = authenticate(&mut rt, &shared.broker, &shared.versions, sasl).await?;
    let lifetime_ms = lifetime.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    shared
        .lock()
        .set_session_lifetime(Instant::now(), lifetime_ms, reauth_fraction());
    Ok(())
}

/// Round trips from inside the writer task: the reader delivers the
/// responses as for any request.
struct WriterRoundTrip<'a> {
    shared: &'a Arc<Shared>,
    out: &'a mut WriteHalf<Stream>,
    config: &'a ConnectionConfig,
}

impl RoundTrip for WriterRoundTrip<'_> {
    async fn round_trip<R: Request + Sync>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, Error> {
        let api = R::API_KEY;
        let id = self
            .shared
            .lock()
            .next_correlation_id()
            .map_err(|r| self.shared.disconnected(r))?;
        let frame = encode_request(id, Some(&self.config.client_id), version, request).map_err(
            |source| Error::Encode {
                api,
                version,
                source,
            },
        )?;
        let (tx, rx) = oneshot::channel();
        self.shared
            .lock()
            .sent(id, api, version, tx)
            .map_err(|(_, r)| self.shared.disconnected(r))?;
        write_chunks(self.out, frame.chunks())
            .await
            .map_err(|e| self.shared.disconnected(format!("writing {api}: {e}")))?;
        let frame = match tokio::time::timeout(self.config.request_timeout, rx).await {
            Ok(Ok(r)) => r?,
            Ok(Err(_)) => return Err(self.shared.disconnected("the reader stopped".into())),
            Err(_) => {
                return Err(Error::RequestTimeout {
                    broker: self.shared.broker.clone(),
                    api,
                    timeout: self.config.request_timeout,
                })
            }
        };
        kafka_proto::frame::decode_response::<R::Response>(frame.clone(), version)
            .map(|(_, body)| body)
            .map_err(|e| Error::Protocol {
                broker: self.shared.broker.clone(),
                api: Some(api),
                reason: e.to_string(),
            })
    }
}

pub(super) async fn reader(
    shared: Arc<Shared>,
    mut input: ReadHalf<Stream>,
    mut buf: BytesMut,
    max_frame_size: usize,
) {
    let decoder = FrameDecoder::new(max_frame_size);
    let mut closed = shared.closed_rx();
    let reason = 'outer: loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Err(reason) = shared.deliver(frame) {
                        break 'outer reason;
                    }
                }
                Ok(None) => break,
                Err(e) => break 'outer format!("the broker sent an invalid frame: {e}"),
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        let read = tokio::select! {
            biased;
            _ = async { let _ = closed.wait_for(|c| *c).await; } => return,
            r = input.read_buf(&mut buf) => r,
        };
        match read {
            Ok(0) => break "the broker closed the connection".to_owned(),
            Ok(_) => {}
            Err(e) => break format!("reading from the socket failed: {e}"),
        }
    };
    tracing::debug!(broker = %shared.broker, %reason, "connection reader stopped");
    shared.close(reason);
}
