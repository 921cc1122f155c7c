//! The forwarding engine: sans-io state machines ([`partition`],
//! [`producer`], [`budget`], [`aborted`]) driven by tokio tasks — one
//! fetcher per source leader, one sender per target broker, a producer-id
//! task, and the committer — under one supervisor.

pub mod aborted;
pub mod budget;
pub(crate) mod committer;
pub(crate) mod fetcher;
pub mod metrics;
pub mod partition;
pub mod producer;
pub(crate) mod sender;
mod suspects;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::mirror::{MirrorConfig, MirrorError, Mode, PartitionState, Status, Summary, Totals};
use crate::topics::target::{ensure_topic, TargetPolicy};
use budget::Budget;
use partition::Partition;
use producer::ProducerId;

/// A partition's key: source topic and partition.
pub(crate) type Key = (String, i32);

/// Engine state shared by the tasks, behind one short-held lock.
#[derive(Debug)]
pub(crate) struct Shared {
    pub partitions: BTreeMap<Key, Partition>,
    pub budget: Budget,
    pub producer: Option<ProducerId>,
    /// A re-initialisation asked for, replacing this generation.
    pub reinit: Option<u64>,
    pub paused: BTreeSet<String>,
    /// Stop fetching; let in-flight data drain.
    pub draining: bool,
    /// Source topic -> target topic, for every topic set up.
    pub topics: BTreeMap<String, String>,
}

pub(crate) struct Engine {
    pub config: MirrorConfig,
    pub source: Cluster,
    pub target: Cluster,
    shared: Mutex<Shared>,
    pub fetch_wake: Notify,
    pub produce_wake: Notify,
    pub producer_wake: Notify,
    /// Set to end every task at once.
    pub halt: watch::Sender<bool>,
    pub stop_requested: watch::Sender<bool>,
    pub started: Instant,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("group", &self.config.group_id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn halted(&self) -> bool {
        *self.halt.borrow()
    }

    pub fn status(&self) -> Status {
        let s = self.lock();
        let partitions: Vec<_> = s.partitions.values().map(Partition::status).collect();
        let mut totals = Totals::default();
        for p in &partitions {
            totals.add(&p.totals);
        }
        Status {
            partitions,
            totals,
            bytes_in_flight: s.budget.used(),
        }
    }

    pub fn pause(&self, topic: &str) -> bool {
        let mut s = self.lock();
        s.paused.insert(topic.to_owned());
        let mut found = false;
        for p in s
            .partitions
            .values_mut()
            .filter(|p| p.source_topic == topic)
        {
            found = true;
            if p.state != PartitionState::Failed && p.state != PartitionState::CaughtUp {
                p.state = PartitionState::Paused;
                p.reason = Some("paused by the user".into());
            }
        }
        found
    }

    pub fn resume(&self, topic: &str) -> bool {
        let mut s = self.lock();
        s.paused.remove(topic);
        let mut found = false;
        for p in s
            .partitions
            .values_mut()
            .filter(|p| p.source_topic == topic)
        {
            found = true;
            if p.target_setup_pending {
                // Stays FAILED until a topic refresh sets its target up.
                continue;
            }
            if matches!(p.state, PartitionState::Paused | PartitionState::Failed) {
                p.state = PartitionState::Active;
                p.reason = None;
                p.succeeded();
            }
        }
        drop(s);
        self.fetch_wake.notify_waiters();
        found
    }

    /// Connects, sets up topics, positions and the producer id.
    pub async fn start(config: MirrorConfig) -> Result<Arc<Engine>, MirrorError> {
        let source = Cluster::connect(config.source.clone())
            .await
            .map_err(MirrorError::Source)?;
        let target = Cluster::connect(config.target.clone())
            .await
            .map_err(MirrorError::Target)?;
        let shared = Shared {
            partitions: BTreeMap::new(),
            budget: Budget::new(
                config.max_bytes_in_flight,
                config.max_partition_bytes_in_flight,
            ),
            producer: None,
            reinit: None,
            paused: BTreeSet::new(),
            draining: false,
            topics: BTreeMap::new(),
        };
        let engine = Arc::new(Engine {
            config,
            source,
            target,
            shared: Mutex::new(shared),
            fetch_wake: Notify::new(),
            produce_wake: Notify::new(),
            producer_wake: Notify::new(),
            halt: watch::channel(false).0,
            stop_requested: watch::channel(false).0,
            started: Instant::now(),
        });
        let result = async {
            let producer = sender::init_producer_id_at_start(
                &engine.target,
                engine.config.target.connection.request_timeout,
            )
            .await
            .map_err(MirrorError::Target)?;
            engine.lock().producer = Some(producer);
            discover(&engine, true).await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            engine.source.shutdown();
            engine.target.shutdown();
            return Err(e);
        }
        Ok(engine)
    }

    /// Runs until stopped, finished (backfill) or halted; returns the summary.
    pub async fn run(self: Arc<Self>) -> Result<Summary, MirrorError> {
        let mut fetchers: HashMap<i32, JoinHandle<()>> = HashMap::new();
        let mut senders: HashMap<i32, JoinHandle<()>> = HashMap::new();
        let producer_task = tokio::spawn(sender::producer_id_task(Arc::clone(&self)));
        let mut committer = committer::Committer::new(&self.config.group_id);
        let mut stop_rx = self.stop_requested.subscribe();
        let mut last_discovery = Instant::now();
        let mut last_commit = Instant::now();
        let mut metrics = metrics::Publisher::new(&self.config.group_id);
        if self.config.mode == Mode::UntilCaughtUp && self.lock().partitions.is_empty() {
            // Finishes at the first check below, with an empty summary:
            // there are no end offsets to wait for.
            tracing::warn!(
                group = %self.config.group_id,
                selection = %self.config.selection,
                "backfill: no source topic matches the selection; nothing to copy"
            );
        }
        loop {
            self.spawn_tasks(&mut fetchers, &mut senders);
            tokio::select! {
                _ = stop_rx.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            self.publish_metrics(&mut metrics);
            if *stop_rx.borrow() {
                break;
            }
            if last_discovery.elapsed() >= self.config.topic_refresh_interval {
                last_discovery = Instant::now();
                if let Err(e) = discover(&self, false).await {
                    tracing::warn!(error = %e, "topic discovery failed; retrying at the next refresh");
                }
            }
            // A stop need not wait for ListOffsets to a broker that is down.
            tokio::select! {
                () = self.position_pending() => {}
                _ = stop_rx.changed() => {}
            }
            if last_commit.elapsed() >= self.config.commit_interval {
                last_commit = Instant::now();
                committer.commit(&self).await;
            }
            if self.config.mode == Mode::UntilCaughtUp && self.backfill_done() {
                tracing::info!("backfill caught up with the end offsets captured at start");
                break;
            }
        }
        // Drain: no new fetches; wait for in-flight batches.
        self.lock().draining = true;
        let deadline = Instant::now() + self.config.drain_timeout;
        let drained = loop {
            let empty = self
                .lock()
                .partitions
                .values()
                .all(|p| p.window.is_empty() || p.state == PartitionState::Failed);
            if empty {
                break true;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "drain timed out; in-flight batches will be fetched again on restart"
                );
                break false;
            }
            self.spawn_tasks(&mut fetchers, &mut senders);
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        committer.commit(&self).await;
        if self.config.mode == Mode::UntilCaughtUp {
            let mut s = self.lock();
            for p in s.partitions.values_mut() {
                if p.reached_end() && p.state != PartitionState::Failed {
                    p.state = PartitionState::CaughtUp;
                    p.reason = None;
                }
            }
        }
        self.publish_metrics(&mut metrics);
        self.halt.send_replace(true);
        self.fetch_wake.notify_waiters();
        self.produce_wake.notify_waiters();
        self.producer_wake.notify_waiters();
        for (_, t) in fetchers.into_iter().chain(senders) {
            t.abort();
        }
        producer_task.abort();
        self.source.shutdown();
        self.target.shutdown();
        let status = self.status();
        Ok(Summary {
            elapsed: self.started.elapsed(),
            totals: status.totals,
            partitions: status.partitions,
            drained,
        })
    }

    /// Retries positioning the partitions a failed attempt left without a
    /// position, once their backoff has passed.
    async fn position_pending(self: &Arc<Self>) {
        let now = Instant::now();
        let keys: Vec<Key> = self
            .lock()
            .partitions
            .iter()
            .filter(|(_, p)| p.needs_position(now))
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            return;
        }
        if let Err(e) = committer::position(self, &keys).await {
            tracing::warn!(error = %e, partitions = keys.len(), "positioning failed; retrying with backoff");
        }
    }

    /// The one place the figures reach the `metrics` facade.
    fn publish_metrics(&self, publisher: &mut metrics::Publisher) {
        publisher.publish(&self.lock().partitions);
    }

    /// Backfill: every partition reached its end offset or failed. With no
    /// partition at all (the initial discovery found nothing) there is no
    /// end offset to wait for: done at once.
    fn backfill_done(&self) -> bool {
        self.lock()
            .partitions
            .values()
            .all(|p| p.reached_end() || p.state == PartitionState::Failed)
    }

    /// Starts a fetcher for every source leader and a sender for every
    /// target leader that has none.
    fn spawn_tasks(
        self: &Arc<Self>,
        fetchers: &mut HashMap<i32, JoinHandle<()>>,
        senders: &mut HashMap<i32, JoinHandle<()>>,
    ) {
        let (smeta, tmeta) = (self.source.metadata(), self.target.metadata());
        let mut source_nodes = BTreeSet::new();
        let mut target_nodes = BTreeSet::new();
        let (mut source_unknown, mut target_unknown) = (false, false);
        let now = Instant::now();
        for p in self.lock().partitions.values() {
            if p.state == PartitionState::Failed {
                continue;
            }
            match smeta.leader(&p.source_topic, p.partition) {
                Ok(l) => {
                    source_nodes.insert(l.node_id);
                }
                Err(_) => source_unknown |= p.wants_fetch(now),
            }
            match tmeta.leader(&p.target_topic, p.partition) {
                Ok(l) => {
                    target_nodes.insert(l.node_id);
                }
                Err(_) => target_unknown |= !p.window.is_empty(),
            }
            if let Some(n) = p.sent_to {
                target_nodes.insert(n);
            }
        }
        // A partition whose leader is missing from the metadata (its broker
        // was down at the last refresh) has no task to ask again: without
        // this, it would wait for the periodic refresh. The refresher rate-
        // limits these requests (`metadata_refresh_backoff`).
        if source_unknown {
            self.source.request_refresh();
        }
        if target_unknown {
            self.target.request_refresh();
        }
        for n in source_nodes {
            let alive = fetchers.get(&n).is_some_and(|t| !t.is_finished());
            if !alive {
                fetchers.insert(n, tokio::spawn(fetcher::run(Arc::clone(self), n)));
            }
        }
        for n in target_nodes {
            let alive = senders.get(&n).is_some_and(|t| !t.is_finished());
            if !alive {
                senders.insert(n, tokio::spawn(sender::run(Arc::clone(self), n)));
            }
        }
    }
}

/// Finds selected source topics and partitions not yet mirrored, sets up
/// their target topics, and positions them. At start every error is
/// returned; later, a topic that cannot be set up is logged and retried.
async fn discover(engine: &Arc<Engine>, at_start: bool) -> Result<(), MirrorError> {
    let cfg = &engine.config;
    let meta = engine
        .source
        .refresh_metadata()
        .await
        .map_err(MirrorError::Source)?;
    if at_start {
        for name in cfg.selection.names() {
            if meta.topic(name).is_none() {
                return Err(MirrorError::Source(crate::Error::UnknownTopic {
                    topic: name.clone(),
                    code: meta.topic_errors.get(name).copied(),
                }));
            }
        }
    }
    // The same cluster: same id and a broker address in common (some
    // brokers, Tansu among them, share one cluster id across instances).
    let tmeta = engine.target.metadata();
    let same_cluster = meta.cluster_id.is_some()
        && meta.cluster_id == tmeta.cluster_id
        && meta
            .brokers
            .values()
            .any(|b| tmeta.brokers.values().any(|t| t.address == b.address));
    let mut new_parts: Vec<Key> = Vec::new();
    for (name, topic) in &meta.topics {
        if !cfg.selection.matches(name, topic.is_internal) {
            continue;
        }
        let count = topic.partitions.len();
        let known = engine
            .lock()
            .partitions
            .range((name.clone(), i32::MIN)..=(name.clone(), i32::MAX))
            .filter(|(_, p)| !p.target_setup_pending)
            .count();
        if known >= count {
            continue;
        }
        let target_name = cfg.rename.target_name(name);
        let setup = async {
            cfg.rename.check_loop(
                name,
                &target_name,
                cfg.target_alias.as_deref(),
                same_cluster,
            )?;
            ensure_topic(
                &engine.source,
                &engine.target,
                name,
                &target_name,
                count,
                TargetPolicy {
                    create: cfg.create_topics,
                    replication_factor: cfg.replication_factor,
                    sync_configs: cfg.sync_configs,
                },
            )
            .await
        }
        .await;
        let info = match setup {
            Ok(i) => i,
            Err(e) if at_start => return Err(e),
            Err(e) => {
                tracing::warn!(topic = %name, error = %e, "cannot mirror new topic yet");
                // Visible in the status as FAILED until a refresh succeeds.
                let reason = format!(
                    "the target topic {target_name:?} cannot be set up: {e}; retried at every topic refresh"
                );
                let mut s = engine.lock();
                for &p in topic.partitions.keys() {
                    let key = (name.clone(), p);
                    match s.partitions.get_mut(&key) {
                        Some(part) if !part.target_setup_pending => {}
                        Some(part) => {
                            part.totals.errors += 1;
                            part.reason = Some(reason.clone());
                        }
                        None => {
                            let mut part = Partition::target_setup_failed(
                                name,
                                &target_name,
                                p,
                                reason.clone(),
                            );
                            part.totals.errors += 1;
                            s.partitions.insert(key, part);
                        }
                    }
                }
                continue;
            }
        };
        let mut s = engine.lock();
        s.topics.insert(name.clone(), target_name.clone());
        let paused = s.paused.contains(name);
        for &p in topic.partitions.keys() {
            let key = (name.clone(), p);
            let errors = match s.partitions.get(&key) {
                Some(part) if !part.target_setup_pending => continue,
                Some(part) => part.totals.errors,
                None => 0,
            };
            new_parts.push(key.clone());
            let mut part = Partition::new(name, &target_name, p, cfg.max_in_flight_per_partition);
            part.target_max_message_bytes = info.max_message_bytes;
            part.totals.errors = errors;
            if paused {
                part.state = PartitionState::Paused;
            }
            tracing::info!(topic = %name, partition = p, target_topic = %target_name, "partition added to the mirror");
            s.partitions.insert(key, part);
        }
    }
    if !new_parts.is_empty() {
        // Partitions it cannot position are retried by the supervisor.
        committer::position(engine, &new_parts).await?;
    }
    Ok(())
}
