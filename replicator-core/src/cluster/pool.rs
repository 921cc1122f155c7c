//! One managed connection per broker node, created on first use and
//! replaced when the broker's address changes. Addresses pass through the
//! override map; a broker that cannot be reached at its advertised address
//! gets an error that says so.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::address::{BrokerAddress, BrokerLabel};
use crate::cluster::overrides::AddressOverrides;
use crate::connection::{Connection, Connector, DisconnectHook, ManagedConnection};
use crate::error::Error;

/// Connections to brokers by node id.
pub struct ConnectionPool {
    connector: Connector,
    overrides: AddressOverrides,
    on_disconnect: Option<DisconnectHook>,
    nodes: Mutex<HashMap<i32, (BrokerAddress, ManagedConnection)>>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("overrides", &self.overrides)
            .field("nodes", &self.nodes())
            .finish_non_exhaustive()
    }
}

impl ConnectionPool {
    /// An empty pool.
    pub fn new(connector: Connector, overrides: AddressOverrides) -> Self {
        Self {
            connector,
            overrides,
            on_disconnect: None,
            nodes: Mutex::new(HashMap::new()),
        }
    }

    /// Calls `hook` whenever a pooled connection is found closed or cannot
    /// be opened.
    pub fn with_disconnect_hook(mut self, hook: DisconnectHook) -> Self {
        self.on_disconnect = Some(hook);
        self
    }

    /// The connector.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The override map.
    pub fn overrides(&self) -> &AddressOverrides {
        &self.overrides
    }

    /// The managed connection for `node_id` at `advertised` (after
    /// overrides); a changed address replaces the old connection.
    pub fn managed(&self, node_id: i32, advertised: &BrokerAddress) -> ManagedConnection {
        let (dial, _) = self.overrides.resolve(advertised);
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        match nodes.get(&node_id) {
            Some((addr, m)) if addr == advertised => m.clone(),
            old => {
                if let Some((addr, _)) = old {
                    tracing::info!(node_id, old = %addr, new = %advertised, "broker address changed");
                }
                let label = BrokerLabel::node(node_id, dial);
                let m = match &self.on_disconnect {
                    Some(hook) => ManagedConnection::with_disconnect_hook(
                        self.connector.clone(),
                        label,
                        hook.clone(),
                    ),
                    None => ManagedConnection::new(self.connector.clone(), label),
                };
                nodes.insert(node_id, (advertised.clone(), m.clone()));
                m
            }
        }
    }

    /// An open connection to `node_id` at `advertised`. When the broker
    /// cannot be reached, the error names it, its advertised address and
    /// the address dialled.
    pub async fn connection(
        &self,
        node_id: i32,
        advertised: &BrokerAddress,
    ) -> Result<Connection, Error> {
        let managed = self.managed(node_id, advertised);
        managed.get().await.map_err(|e| match e {
            Error::Connect { .. } | Error::ConnectTimeout { .. } => Error::AdvertisedUnreachable {
                node_id,
                advertised: advertised.to_string(),
                dialled: managed.broker().address.to_string(),
                source: Box::new(e),
            },
            other => other,
        })
    }

    /// Drops connections to nodes not in `live` (brokers that left).
    pub fn retain(&self, live: impl Fn(i32) -> bool) {
        self.nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id, _| live(*id));
    }

    /// Node ids with a managed connection.
    pub fn nodes(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self
            .nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        v.sort_unstable();
        v
    }
}
