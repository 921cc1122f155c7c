//! Metadata refreshes: on demand (coalesced), periodic, and the
//! background task that runs them.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};

use kafka_proto::messages::metadata_request::MetadataRequestTopic;
use kafka_proto::messages::MetadataRequest;
use kafka_proto::{ApiKey, ErrorCode};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Cluster, ClusterMetadata, ClusterShared, MetadataScope};
use crate::error::Error;

impl Cluster {
    /// Asks the background task to refresh metadata soon (coalesced, at
    /// most once per `metadata_refresh_backoff`).
    pub fn request_refresh(&self) {
        self.inner.refresh_wanted.notify_one();
    }

    /// Refreshes metadata now (concurrent callers share one refresh).
    pub async fn refresh_metadata(&self) -> Result<Arc<ClusterMetadata>, Error> {
        let seen = *self.inner.refreshing.lock().await;
        let mut done = self.inner.refreshing.lock().await;
        if *done != seen {
            // Someone refreshed while we waited.
            return Ok(self.metadata());
        }
        let fresh = self.fetch_metadata().await?;
        self.inner.publish_metadata(Arc::clone(&fresh));
        let live = fresh.brokers.keys().copied().collect::<BTreeSet<i32>>();
        self.inner.pool.retain(|id| live.contains(&id));
        *done += 1;
        Ok(fresh)
    }

    /// Adds topics to the refresh scope (no effect for [`MetadataScope::All`]).
    pub fn watch_topics<I: IntoIterator<Item = S>, S: Into<String>>(&self, topics: I) {
        let mut t = self.inner.topics.lock().unwrap_or_else(|e| e.into_inner());
        t.extend(topics.into_iter().map(Into::into));
    }

    fn metadata_request(&self, version: i16) -> MetadataRequest {
        let topics = match self.inner.config.scope {
            // v0 has no null: an empty list means all topics.
            MetadataScope::All if version == 0 => Some(Vec::new()),
            MetadataScope::All => None,
            MetadataScope::Topics(_) => Some(
                self.inner
                    .topics
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
        };
        MetadataRequest {
            topics,
            allow_auto_topic_creation: false,
            ..Default::default()
        }
    }

    async fn fetch_metadata(&self) -> Result<Arc<ClusterMetadata>, Error> {
        let conn = self.any_connection().await?;
        let version = conn.version(ApiKey::Metadata)?;
        let response = conn
            .send_version(&self.metadata_request(version), version)
            .await?;
        let code = ErrorCode(response.error_code);
        if !code.is_ok() {
            return Err(Error::Broker {
                broker: conn.broker().clone(),
                api: ApiKey::Metadata,
                code,
                context: None,
                message: None,
            });
        }
        let mut fresh = match self.inner.config.scope {
            MetadataScope::All => ClusterMetadata::from_response(&response),
            MetadataScope::Topics(_) => {
                let mut m = (*self.metadata()).clone();
                let brokers = ClusterMetadata::from_response(&response);
                m.brokers = brokers.brokers;
                m.cluster_id = brokers.cluster_id;
                m.controller_id = brokers.controller_id;
                m.merge_topics(&response);
                m
            }
        };
        if fresh.brokers.is_empty() {
            return Err(Error::Protocol {
                broker: conn.broker().clone(),
                api: Some(ApiKey::Metadata),
                reason: "the metadata lists no usable broker".into(),
            });
        }
        fresh.topic_errors.retain(|_, c| !c.is_ok());
        tracing::debug!(
            brokers = fresh.brokers.len(),
            topics = fresh.topics.len(),
            "metadata refreshed"
        );
        Ok(Arc::new(fresh))
    }
}

/// Refreshes metadata every `metadata_max_age`, and soon after a refresh
/// is requested. Stops when the cluster is dropped or shut down.
pub(super) async fn refresher(inner: Weak<ClusterShared>, wanted: Arc<Notify>) {
    let (max_age, min_gap, mut shutdown) = match inner.upgrade() {
        Some(i) => (
            i.config.metadata_max_age,
            i.config.metadata_refresh_backoff,
            i.shutdown.subscribe(),
        ),
        None => return,
    };
    let mut last = Instant::now();
    loop {
        tokio::select! {
            // Shut down, or every handle dropped (the sender is gone).
            _ = async { let _ = shutdown.wait_for(|s| *s).await; } => return,
            _ = tokio::time::sleep_until(last + max_age) => {}
            _ = wanted.notified() => {
                tokio::time::sleep_until(last + min_gap).await;
            }
        }
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let cluster = Cluster { inner: strong };
        if let Err(e) = cluster.refresh_metadata().await {
            let broker = e.broker().map(tracing::field::display);
            tracing::warn!(broker, error = %e, "metadata refresh failed");
        }
        last = Instant::now();
    }
}
