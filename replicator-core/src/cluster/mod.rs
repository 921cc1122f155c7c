//! The cluster view: bootstrap, metadata (refreshed periodically and at
//! once when leadership moves), and a connection pool that routes each
//! request to its partition leader.

mod bootstrap;
mod coordinator;
mod leader;
mod metadata;
mod overrides;
mod pool;
mod refresh;
mod routing;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::address::{BrokerAddress, BrokerLabel};
use crate::config::ConnectionConfig;
use crate::connection::{Connection, Connector};
use crate::error::Error;

pub use bootstrap::{bootstrap, parse_bootstrap};
pub use metadata::{BrokerMetadata, ClusterMetadata, Leader, PartitionMetadata, TopicMetadata};
pub use overrides::AddressOverrides;
pub use pool::ConnectionPool;
pub(crate) use routing::same_topic;
pub use routing::{needs_metadata_refresh, LeaderHints, LeaderRouted, PartitionOutcome};

/// Which topics metadata refreshes cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetadataScope {
    /// Every topic (what a replicator usually wants).
    #[default]
    All,
    /// These topics, plus any asked for later through the cluster.
    Topics(Vec<String>),
}

/// Settings for a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `bootstrap.servers`: `host:port` entries (each may hold a
    /// comma-separated list).
    pub bootstrap_servers: Vec<String>,
    /// Settings for every broker connection.
    pub connection: ConnectionConfig,
    /// Refresh metadata at least this often (`metadata.max.age.ms`).
    pub metadata_max_age: Duration,
    /// Least time between two on-demand refreshes (`retry.backoff.ms`).
    pub metadata_refresh_backoff: Duration,
    /// Advertised → reachable address overrides.
    pub address_overrides: AddressOverrides,
    /// Which topics refreshes cover.
    pub scope: MetadataScope,
    /// How many times [`Cluster::send_to_leader`] retries after leadership
    /// errors, refreshing metadata in between.
    pub leader_retries: u32,
}

impl ClusterConfig {
    /// Defaults for `bootstrap` (one or more `host:port`, comma-separated).
    pub fn new(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: vec![bootstrap.into()],
            connection: ConnectionConfig::default(),
            metadata_max_age: Duration::from_secs(300),
            metadata_refresh_backoff: Duration::from_millis(100),
            address_overrides: AddressOverrides::default(),
            scope: MetadataScope::All,
            leader_retries: 5,
        }
    }
}

struct ClusterShared {
    config: ClusterConfig,
    pool: ConnectionPool,
    metadata: RwLock<Arc<ClusterMetadata>>,
    /// The bootstrap connection, used for metadata until brokers are known.
    bootstrap: Mutex<Option<Connection>>,
    topics: Mutex<BTreeSet<String>>,
    refresh_wanted: Arc<Notify>,
    /// Serialises refreshes; holds how many have completed.
    refreshing: tokio::sync::Mutex<u64>,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Bumped whenever the metadata snapshot is replaced.
    changes: tokio::sync::watch::Sender<u64>,
}

impl ClusterShared {
    /// Replaces the metadata snapshot and tells whoever watches.
    fn publish_metadata(&self, metadata: Arc<ClusterMetadata>) {
        *self.metadata.write().unwrap_or_else(|e| e.into_inner()) = metadata;
        self.metadata_changed();
    }

    /// Tells whoever watches that the snapshot was replaced.
    fn metadata_changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A connected view of one Kafka cluster. Cheap to clone.
///
/// Metadata is refreshed every `metadata_max_age`, and soon after any of
/// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION,
/// UNKNOWN_TOPIC_ID or a disconnect is reported. Leader hints in Fetch and
/// Produce responses are applied at once.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<ClusterShared>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap", &self.inner.config.bootstrap_servers)
            .field("brokers", &self.metadata().brokers.len())
            .field("topics", &self.metadata().topics.len())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Bootstraps, fetches metadata and starts the periodic refresh.
    pub async fn connect(config: ClusterConfig) -> Result<Self, Error> {
        let connector = Connector::new(config.connection.clone())?;
        let (conn, address) = bootstrap(&connector, &config.bootstrap_servers).await?;
        tracing::info!(broker = %address, "bootstrapped");
        let topics = match &config.scope {
            MetadataScope::All => BTreeSet::new(),
            MetadataScope::Topics(t) => t.iter().cloned().collect(),
        };
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let refresh_wanted = Arc::new(Notify::new());
        let wanted = Arc::clone(&refresh_wanted);
        let pool = ConnectionPool::new(connector, config.address_overrides.clone())
            .with_disconnect_hook(Arc::new(move |broker: &BrokerLabel| {
                tracing::debug!(%broker, "disconnected; metadata refresh requested");
                wanted.notify_one();
            }));
        let inner = Arc::new(ClusterShared {
            pool,
            config,
            metadata: RwLock::new(Arc::new(ClusterMetadata::default())),
            bootstrap: Mutex::new(Some(conn)),
            topics: Mutex::new(topics),
            refresh_wanted,
            refreshing: tokio::sync::Mutex::new(0),
            shutdown,
            changes: tokio::sync::watch::channel(0).0,
        });
        let cluster = Cluster { inner };
        cluster.refresh_metadata().await?;
        tokio::spawn(refresh::refresher(
            Arc::downgrade(&cluster.inner),
            Arc::clone(&cluster.inner.refresh_wanted),
        ));
        Ok(cluster)
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        Arc::clone(
            &self
                .inner
                .metadata
                .read()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Changes whenever the metadata snapshot is replaced (a refresh, or a
    /// leader hint applied).
    pub(crate) fn metadata_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// The connection pool.
    pub fn pool(&self) -> &ConnectionPool {
        &self.inner.pool
    }

    /// Some connection for cluster-wide requests: a known broker, else the
    /// bootstrap connection, else a new bootstrap.
    pub async fn any_connection(&self) -> Result<Connection, Error> {
        let meta = self.metadata();
        let mut last_err = None;
        for b in meta.brokers.values() {
            match self.inner.pool.connection(b.node_id, &b.address).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(node_id = b.node_id, error = %e, "broker unavailable for metadata");
                    last_err = Some(e);
                }
            }
        }
        let boot = self
            .inner
            .bootstrap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(c) = boot.filter(|c| !c.is_closed()) {
            return Ok(c);
        }
        match bootstrap(
            self.inner.pool.connector(),
            &self.inner.config.bootstrap_servers,
        )
        .await
        {
            Ok((c, _)) => {
                *self
                    .inner
                    .bootstrap
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(c.clone());
                Ok(c)
            }
            Err(e) => Err(last_err.unwrap_or(e)),
        }
    }

    /// A connection to broker `node_id`.
    pub async fn broker_connection(&self, node_id: i32) -> Result<Connection, Error> {
        let meta = self.metadata();
        let b = match meta.broker(node_id) {
            Some(b) => b.clone(),
            None => self
                .refresh_metadata()
                .await?
                .broker(node_id)
                .cloned()
                .ok_or(Error::UnknownBroker { node_id })?,
        };
        self.connection_or_refresh(node_id, &b.address).await
    }

    async fn connection_or_refresh(
        &self,
        node_id: i32,
        address: &BrokerAddress,
    ) -> Result<Connection, Error> {
        let r = self.inner.pool.connection(node_id, address).await;
        if r.is_err() {
            self.request_refresh();
        }
        r
    }

    /// A connection to the leader of `topic`-`partition`.
    pub async fn leader_connection(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<(Leader, Connection), Error> {
        let leader = self.leader(topic, partition).await?;
        let conn = self
            .connection_or_refresh(leader.node_id, &leader.address)
            .await?;
        Ok((leader, conn))
    }

    /// Stops the background refresh and closes connections.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        if let Some(c) = self
            .inner
            .bootstrap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            c.close();
        }
        self.inner.pool.retain(|_| false);
    }
}
