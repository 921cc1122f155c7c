//! A connection that reconnects: capped exponential backoff with jitter
//! between attempts, one attempt at a time however many tasks ask.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Connection, Connector};
use crate::address::BrokerLabel;
use crate::backoff::Backoff;
use crate::error::Error;

/// A broker's connection, reopened on demand after it breaks.
///
/// [`get`](ManagedConnection::get) returns the live connection, or opens a
/// new one. After a failed attempt the next waits out a backoff that
/// doubles from `reconnect_backoff` up to `reconnect_backoff_max`, with
/// ±20% jitter; a success resets it.
#[derive(Clone)]
pub struct ManagedConnection {
    inner: Arc<ManagedShared>,
}

/// Called when a managed connection is found closed or fails to open.
pub type DisconnectHook = Arc<dyn Fn(&BrokerLabel) + Send + Sync>;

struct ManagedShared {
    connector: Connector,
    broker: BrokerLabel,
    slot: Mutex<Reconnect>,
    on_disconnect: Option<DisconnectHook>,
}

struct Reconnect {
    conn: Option<Connection>,
    backoff: Backoff,
    next_attempt: Option<Instant>,
}

impl std::fmt::Debug for ManagedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedConnection")
            .field("broker", &self.inner.broker)
            .finish_non_exhaustive()
    }
}

impl ManagedConnection {
    /// A managed connection to `broker`; nothing is opened until
    /// [`get`](Self::get).
    pub fn new(connector: Connector, broker: BrokerLabel) -> Self {
        Self::build(connector, broker, None)
    }

    /// Like [`new`](Self::new), calling `hook` whenever the connection is
    /// found closed or cannot be opened (a cluster refreshes its metadata
    /// then).
    pub fn with_disconnect_hook(
        connector: Connector,
        broker: BrokerLabel,
        hook: DisconnectHook,
    ) -> Self {
        Self::build(connector, broker, Some(hook))
    }

    fn build(
        connector: Connector,
        broker: BrokerLabel,
        on_disconnect: Option<DisconnectHook>,
    ) -> Self {
        let cfg = connector.config();
        let backoff = Backoff::new(cfg.reconnect_backoff, cfg.reconnect_backoff_max);
        Self {
            inner: Arc::new(ManagedShared {
                connector,
                broker,
                slot: Mutex::new(Reconnect {
                    conn: None,
                    backoff,
                    next_attempt: None,
                }),
                on_disconnect,
            }),
        }
    }

    /// The broker.
    pub fn broker(&self) -> &BrokerLabel {
        &self.inner.broker
    }

    /// The open connection, reconnecting (after the backoff) if it closed.
    pub async fn get(&self) -> Result<Connection, Error> {
        let mut slot = self.inner.slot.lock().await;
        if let Some(conn) = &slot.conn {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
            tracing::debug!(
                broker = %self.inner.broker,
                reason = conn.closed_reason().unwrap_or_default(),
                "connection closed; reconnecting"
            );
            slot.conn = None;
            self.disconnected();
        }
        if let Some(at) = slot.next_attempt {
            tokio::time::sleep_until(at).await;
        }
        match self
            .inner
            .connector
            .connect_to(self.inner.broker.clone())
            .await
        {
            Ok(conn) => {
                slot.backoff.reset();
                slot.next_attempt = None;
                slot.conn = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                let delay = slot.backoff.next_delay();
                slot.next_attempt = Some(Instant::now() + delay);
                tracing::debug!(
                    broker = %self.inner.broker,
                    error = %e,
                    retry_in = ?delay,
                    failures = slot.backoff.failures(),
                    "connect failed"
                );
                self.disconnected();
                Err(e)
            }
        }
    }

    fn disconnected(&self) {
        if let Some(hook) = &self.inner.on_disconnect {
            hook(&self.inner.broker);
        }
    }

    /// Failed attempts since the last success.
    pub async fn failures(&self) -> u32 {
        self.inner.slot.lock().await.backoff.failures()
    }

    /// Closes the current connection, if any; the next `get` reconnects.
    pub async fn close(&self) {
        if let Some(conn) = self.inner.slot.lock().await.conn.take() {
            conn.close();
        }
    }
}
