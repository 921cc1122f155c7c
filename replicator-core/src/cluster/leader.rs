//! Leader routing: the leader of a partition, leadership hints from
//! responses, and requests sent to the leader with retries.

use std::sync::Arc;

use kafka_proto::Request;

use super::{needs_metadata_refresh, Cluster, Leader, LeaderRouted, PartitionOutcome};
use crate::backoff::Backoff;
use crate::error::Error;

impl Cluster {
    /// The leader of `topic`-`partition` from the current metadata; an
    /// unknown topic triggers one refresh first.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<Leader, Error> {
        match self.metadata().leader(topic, partition) {
            Err(Error::UnknownTopic { .. }) | Err(Error::UnknownBroker { .. }) => {
                self.watch_topics([topic]);
                self.refresh_metadata().await?.leader(topic, partition)
            }
            other => other,
        }
    }

    /// Applies a partition error reported by a response: a CurrentLeader
    /// hint is taken at once; codes that mean stale metadata ask for a
    /// refresh.
    pub fn observe_partition(&self, topic: &str, partition: i32, outcome: PartitionOutcome) {
        if let Some((leader, epoch)) = outcome.current_leader {
            self.apply_hint(topic, partition, leader, epoch);
        }
        if needs_metadata_refresh(outcome.code) {
            tracing::debug!(topic, partition, code = %outcome.code.name(), "stale leadership; refreshing metadata");
            self.request_refresh();
        }
    }

    fn apply_hint(&self, topic: &str, partition: i32, leader: i32, epoch: i32) -> bool {
        let mut guard = self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut m = (**guard).clone();
        let changed = m.apply_leader_hint(topic, partition, leader, epoch);
        if changed {
            tracing::debug!(topic, partition, leader, epoch, "leader hint applied");
            *guard = Arc::new(m);
            drop(guard);
            self.inner.metadata_changed();
        }
        changed
    }

    /// Applies every CurrentLeader hint and node endpoint in `response`
    /// (KIP-951).
    pub fn observe_hints<R: LeaderRouted>(&self, response: &R) {
        let hints = response.leader_hints();
        if hints.leaders.is_empty() && hints.endpoints.is_empty() {
            return;
        }
        let mut guard = self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut m = (**guard).clone();
        for (node, host, port, rack) in hints.endpoints {
            m.apply_node_endpoint(node, &host, port, rack);
        }
        for (name, id, partition, leader, epoch) in hints.leaders {
            let name = name.or_else(|| m.topic_by_id(id).map(|t| t.name.clone()));
            if let Some(name) = name {
                m.apply_leader_hint(&name, partition, leader, epoch);
            }
        }
        *guard = Arc::new(m);
        drop(guard);
        self.inner.metadata_changed();
    }

    /// Sends a request for one partition to its leader. `build` makes the
    /// request for the leader and the negotiated version (which decides,
    /// e.g., topic names versus IDs). Leadership errors in the response
    /// (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, ...), disconnects and
    /// missing leaders are retried up to `leader_retries` times after
    /// applying hints and refreshing metadata. After the last retry the
    /// response is returned as is, with its error code.
    pub async fn send_to_leader<R, F>(
        &self,
        topic: &str,
        partition: i32,
        build: F,
    ) -> Result<R::Response, Error>
    where
        R: Request,
        R::Response: LeaderRouted,
        F: Fn(&Leader, i16) -> R,
    {
        let cfg = &self.inner.config;
        let mut backoff = Backoff::new(
            cfg.metadata_refresh_backoff,
            cfg.connection
                .reconnect_backoff_max
                .max(cfg.metadata_refresh_backoff),
        );
        let mut attempt = 0;
        loop {
            let last = attempt >= cfg.leader_retries;
            attempt += 1;
            let result = async {
                let (leader, conn) = self.leader_connection(topic, partition).await?;
                let version = conn.version(R::API_KEY)?;
                let request = build(&leader, version);
                let response = conn.send_version(&request, version).await?;
                Ok::<_, Error>((leader, response))
            }
            .await;
            match result {
                Ok((leader, response)) => {
                    self.observe_hints(&response);
                    let outcome = response.outcome(topic, leader.topic_id, partition);
                    match outcome {
                        Some(o) if needs_metadata_refresh(o.code) && !last => {
                            tracing::debug!(
                                topic,
                                partition,
                                code = o.code.name(),
                                node = leader.node_id,
                                attempt,
                                "leadership error; retrying"
                            );
                            self.observe_partition(topic, partition, o);
                            if o.current_leader.is_none()
                                || self
                                    .metadata()
                                    .leader(topic, partition)
                                    .map(|l| l.node_id)
                                    .ok()
                                    == Some(leader.node_id)
                            {
                                tokio::time::sleep(backoff.next_delay()).await;
                                self.refresh_metadata().await?;
                            }
                        }
                        _ => return Ok(response),
                    }
                }
                Err(e) if e.is_retriable() && !last => {
                    tracing::debug!(topic, partition, error = %e, attempt, "retrying on the leader");
                    tokio::time::sleep(backoff.next_delay()).await;
                    // A failed refresh is retried on the next attempt.
                    if let Err(re) = self.refresh_metadata().await {
                        tracing::debug!(error = %re, "metadata refresh failed");
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}
