//! The driver: runs an [`EngineState`] on tokio against real clusters. It
//! only moves bytes: it sends the requests the state polls out, hands the
//! responses back through the state's `handle_*` methods, and sleeps until
//! a response, a command, new metadata or the state's
//! [`poll_timeout`](EngineState::poll_timeout) wakes it.
//!
//! - [`fetch_io`]: Fetch requests, on the pooled connection or a probe
//!   connection of their own.
//! - [`produce_io`]: one sender per target leader, which queues Produce
//!   requests on the connection in the order the state emitted them.
//! - [`admin_io`]: the producer id, positions (OffsetFetch, ListOffsets),
//!   commits, and target topic setup.

mod admin_io;
mod fetch_io;
mod produce_io;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

use super::commit::CommitToSend;
use super::fetch::{FetchConnection, FetchToSend};
use super::metrics::{Publisher, PUBLISH_INTERVAL};
use super::positioning::PositionRequest;
use super::produce::ProduceToSend;
use super::state::{EngineEvent, EngineState, Side};
use crate::address::BrokerLabel;
use crate::cluster::{Cluster, PartitionOutcome};
use crate::connection::Connection;
use crate::error::Error;
use crate::model::{MirrorConfig, MirrorError, Mode, Status, Summary};

/// Connections the driver keeps between requests.
#[derive(Debug, Default)]
struct Kept {
    /// Per source node, the connection its probes use.
    probes: HashMap<i32, Connection>,
    /// The group coordinator.
    coordinator: Option<Connection>,
}

/// A running mirror: the state, the clusters, and what wakes the driver.
pub(crate) struct Engine {
    config: MirrorConfig,
    source: Cluster,
    target: Cluster,
    state: Mutex<EngineState>,
    /// Wakes the driver loop: a response applied, a command.
    wake: Notify,
    kept: Mutex<Kept>,
    started: Instant,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("group", &self.config.group_id)
            .finish_non_exhaustive()
    }
}

/// Work the state polled out in one pass.
#[derive(Debug, Default)]
struct Polled {
    events: Vec<EngineEvent>,
    positions: Vec<PositionRequest>,
    producer_id: Option<u64>,
    fetches: Vec<FetchToSend>,
    produces: Vec<ProduceToSend>,
    commit: Option<CommitToSend>,
    timeout: Option<Instant>,
    done: bool,
}

impl Engine {
    fn lock(&self) -> MutexGuard<'_, EngineState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cluster(&self, side: Side) -> &Cluster {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }

    /// Applies `f` to the state at the current time, then wakes the driver.
    fn apply(&self, f: impl FnOnce(&mut EngineState, Instant)) {
        f(&mut self.lock(), Instant::now());
        self.wake.notify_one();
    }

    pub fn status(&self) -> Status {
        self.lock().status(Instant::now(), SystemTime::now())
    }

    pub fn pause(&self, topic: &str) -> bool {
        let found = self.lock().pause(topic);
        self.wake.notify_one();
        found
    }

    pub fn resume(&self, topic: &str) -> bool {
        let found = self.lock().resume(topic, Instant::now());
        self.wake.notify_one();
        found
    }

    pub fn request_stop(&self) {
        self.apply(|s, now| s.stop(now));
    }

    /// Connects, initialises the producer id, sets up target topics and
    /// positions every partition. Errors here mean nothing was started.
    pub async fn start(config: MirrorConfig) -> Result<Arc<Engine>, MirrorError> {
        let source = Cluster::connect(config.source.clone())
            .await
            .map_err(MirrorError::Source)?;
        let target = Cluster::connect(config.target.clone())
            .await
            .map_err(MirrorError::Target)?;
        let engine = Arc::new(Engine {
            state: Mutex::new(EngineState::new(config.clone(), Instant::now())),
            config,
            source,
            target,
            wake: Notify::new(),
            kept: Mutex::default(),
            started: Instant::now(),
        });
        if let Err(e) = admin_io::start(&engine).await {
            engine.source.shutdown();
            engine.target.shutdown();
            return Err(e);
        }
        Ok(engine)
    }

    /// Runs until stopped, finished (backfill) or failed; returns the summary.
    pub async fn run(self: Arc<Self>) -> Result<Summary, MirrorError> {
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut senders: HashMap<i32, mpsc::UnboundedSender<ProduceToSend>> = HashMap::new();
        let mut source_changes = self.source.metadata_changes();
        let mut target_changes = self.target.metadata_changes();
        let mut fed = (self.source.metadata(), self.target.metadata());
        let mut publisher = Publisher::new(&self.config.group_id);
        let mut next_publish = Instant::now();
        {
            let mut s = self.lock();
            if self.config.mode == Mode::UntilCaughtUp && s.partition_count() == 0 {
                // Finishes at once, with an empty summary: there are no
                // end offsets to wait for.
                tracing::warn!(
                    group = %self.config.group_id,
                    selection = %self.config.selection,
                    "backfill: no source topic matches the selection; nothing to copy"
                );
            }
            s.begin(Instant::now());
        }
        loop {
            while let Some(r) = tasks.try_join_next() {
                if let Err(e) = r {
                    if e.is_panic() {
                        tracing::error!(error = %e, "a mirror task ended abnormally");
                    }
                }
            }
            let now = Instant::now();
            let polled = {
                let mut s = self.lock();
                let (sm, tm) = (self.source.metadata(), self.target.metadata());
                if !Arc::ptr_eq(&sm, &fed.0) {
                    s.handle_metadata(Side::Source, Arc::clone(&sm));
                }
                if !Arc::ptr_eq(&tm, &fed.1) {
                    s.handle_metadata(Side::Target, Arc::clone(&tm));
                }
                fed = (sm, tm);
                let mut p = Polled {
                    positions: s.poll_position_requests(now),
                    producer_id: s.poll_producer_id(now),
                    fetches: s.poll_fetch_requests(now),
                    produces: s.poll_produce_requests(now),
                    commit: s.poll_commit(now),
                    ..Polled::default()
                };
                while let Some(e) = s.poll_event() {
                    p.events.push(e);
                }
                p.timeout = s.poll_timeout();
                p.done = s.is_done();
                p
            };
            self.dispatch(polled.events, &mut tasks);
            for req in polled.positions {
                tasks.spawn(admin_io::position(Arc::clone(&self), req));
            }
            if let Some(generation) = polled.producer_id {
                tasks.spawn(admin_io::producer_id(Arc::clone(&self), generation));
            }
            for req in polled.fetches {
                let probe = match req.connection {
                    FetchConnection::Probe => self.kept().probes.get(&req.node).cloned(),
                    FetchConnection::Shared => None,
                };
                tasks.spawn(fetch_io::fetch(Arc::clone(&self), req, probe));
            }
            for req in polled.produces {
                let node = req.node;
                let req = match senders.get(&node) {
                    Some(tx) => match tx.send(req) {
                        Ok(()) => continue,
                        Err(mpsc::error::SendError(req)) => req,
                    },
                    None => req,
                };
                let (tx, rx) = mpsc::unbounded_channel();
                tasks.spawn(produce_io::sender(Arc::clone(&self), node, rx));
                let _ = tx.send(req);
                senders.insert(node, tx);
            }
            if let Some(req) = polled.commit {
                tasks.spawn(admin_io::commit(Arc::clone(&self), req));
            }
            let now = Instant::now();
            let publish_pending = now < next_publish;
            if !publish_pending {
                let s = self.lock();
                publisher.publish(s.figures());
                publisher.publish_throttle(s.throttle_status(now));
                drop(s);
                next_publish = now + PUBLISH_INTERVAL;
            }
            if polled.done {
                break;
            }
            // The state's own deadline (a backoff, a commit, a refresh), or
            // a publish still owed; else only events wake the driver.
            let deadline = match (polled.timeout, publish_pending) {
                (Some(t), true) => Some(t.min(next_publish)),
                (Some(t), false) => Some(t),
                (None, true) => Some(next_publish),
                (None, false) => None,
            };
            let sleep = tokio::time::sleep_until(
                deadline.map_or_else(tokio::time::Instant::now, tokio::time::Instant::from_std),
            );
            tokio::select! {
                () = self.wake.notified() => {}
                _ = source_changes.changed() => {}
                _ = target_changes.changed() => {}
                () = sleep, if deadline.is_some() => {}
                Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = r {
                        if e.is_panic() {
                            tracing::error!(error = %e, "a mirror task ended abnormally");
                        }
                    }
                }
            }
        }
        publisher.publish(self.lock().figures());
        drop(senders);
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        self.source.shutdown();
        self.target.shutdown();
        Ok(self
            .lock()
            .summary(self.started.elapsed(), Instant::now(), SystemTime::now()))
    }

    /// Acts on the state's events.
    fn dispatch(self: &Arc<Self>, events: Vec<EngineEvent>, tasks: &mut JoinSet<()>) {
        for event in events {
            match event {
                EngineEvent::RefreshMetadata(side) => self.cluster(side).request_refresh(),
                EngineEvent::StaleLeader {
                    side,
                    topic,
                    partition,
                    code,
                } => self.cluster(side).observe_partition(
                    &topic,
                    partition,
                    PartitionOutcome {
                        code,
                        current_leader: None,
                    },
                ),
                EngineEvent::DiscoverTopics => {
                    tasks.spawn(admin_io::discover(Arc::clone(self)));
                }
                EngineEvent::CloseProbe { node } => {
                    // Closes it once no clone is left.
                    self.kept().probes.remove(&node);
                }
                EngineEvent::CoordinatorLost => self.kept().coordinator = None,
            }
        }
    }
}

/// The broker named by a connection error.
fn broker_of(error: &Error) -> Option<&BrokerLabel> {
    match error {
        Error::Broker { broker, .. }
        | Error::Disconnected { broker, .. }
        | Error::RequestTimeout { broker, .. }
        | Error::Protocol { broker, .. } => Some(broker),
        _ => None,
    }
}

/// Runs a closure when dropped unless defused: an IO task that ends
/// without answering (cancelled, or a panic) still answers the state.
struct Unanswered<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Unanswered<F> {
    fn new(f: F) -> Self {
        Self(Some(f))
    }

    fn answered(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for Unanswered<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}
