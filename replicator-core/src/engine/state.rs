//! [`EngineState`]: the whole mirror as a state machine, without IO.
//!
//! Modelled on quinn-proto's `Connection`. The state changes only through
//! its methods; time comes in as an argument and no clock is read inside.
//! It has four kinds of methods:
//!
//! - getters (`status`, `is_done`, ...);
//! - `handle_*`, for what came back from the clusters: metadata, Fetch,
//!   Produce and OffsetCommit responses (or their failures), positions,
//!   producer ids, target topics set up;
//! - commands from the embedder: `pause`, `resume`, `stop`;
//! - `poll_*`, for the work it wants done: requests to send, events for the
//!   driver, and [`EngineState::poll_timeout`], the instant by which it
//!   wants to be polled again even if nothing else happens.
//!
//! The driver (`super::driver`) moves bytes between these and the
//! clusters; the deterministic simulation drives the same methods against
//! simulated clusters.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kafka_proto::messages::{FetchResponse, OffsetCommitResponse, ProduceResponse};
use kafka_proto::{ErrorCode, Uuid};

use super::budget::Budget;
use super::commit::{CommitEntry, CommitGate, CommitId, CommitToSend, Committer};
use super::fetch::{FetchFailure, FetchFailureKind, FetchId, FetchInputs, FetchLanes, FetchToSend};
use super::metrics::PartitionFigures;
use super::partition::{FetchSlot, Partition, Unavailable};
use super::positioning::{
    in_log, reset_target, start_at, PositionAnswer, PositionFailure, PositionId, PositionPurpose,
    PositionRequest, POSITION_TIMEOUT,
};
use super::produce::{ProduceBatch, ProduceId, ProduceLanes, ProduceToSend, SentBatch};
use super::producer::ProducerSession;
use super::sorting::{sort_fetched, SortedFetch};
use super::suspects::{SuspectVerdict, BREAK_ATTEMPTS};
use super::throttle::Throttle;
use super::window::ProduceOutcome;
use crate::cluster::{needs_metadata_refresh, same_topic, ClusterMetadata};
use crate::model::{
    MirrorConfig, MirrorError, Mode, PartitionError, Status, Summary, ThrottleStatus, Totals,
};

/// A partition's key: source topic and partition (the same number on the
/// target).
pub type PartitionKey = (String, i32);

/// One of the two clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The cluster copied from.
    Source,
    /// The cluster copied to.
    Target,
}

/// Something the driver is asked to do besides sending requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// Refresh this cluster's metadata: a partition's leader is unknown, or
    /// a request to it failed.
    RefreshMetadata(Side),
    /// A response reported `code` for a partition, which may mean its
    /// leader moved.
    StaleLeader {
        /// Which cluster.
        side: Side,
        /// The topic on that cluster.
        topic: String,
        /// The partition.
        partition: i32,
        /// The code.
        code: ErrorCode,
    },
    /// Refresh the source's metadata, then set up the target topics
    /// [`EngineState::plan_topic_setups`] lists (new topics and partitions).
    DiscoverTopics,
    /// The probe connection to this source node is no longer needed.
    CloseProbe {
        /// The node.
        node: i32,
    },
    /// The group coordinator moved or failed: find it again.
    CoordinatorLost,
}

/// A target topic to set up for a source topic: created or grown to at
/// least `partitions`, and checked.
#[derive(Debug)]
pub struct TopicSetup {
    /// The source topic.
    pub source_topic: String,
    /// Its name on the target.
    pub target_topic: String,
    /// Its partition count on the source.
    pub partitions: usize,
    /// Set when the topic must not be mirrored (a replication loop): report
    /// it instead of setting anything up.
    pub refused: Option<MirrorError>,
}

/// What is still to happen before the engine is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    /// Topics set up, partitions positioned, the producer id asked for;
    /// nothing fetched yet.
    Starting,
    Running,
    /// No new fetches; in-flight batches drain until the deadline.
    Draining {
        deadline: Instant,
    },
    /// The last commit, then done.
    FinalCommit {
        sent: bool,
    },
    Done,
}

/// Least time between two metadata refreshes asked for the same reason.
const METADATA_RETRY: Duration = Duration::from_millis(500);

/// The mirror's state: every partition, the budget, the producer, the
/// offsets. See the [module documentation](self).
#[derive(Debug)]
pub struct EngineState {
    config: MirrorConfig,
    partitions: BTreeMap<PartitionKey, Partition>,
    budget: Budget,
    producer: ProducerSession,
    fetches: FetchLanes,
    produces: ProduceLanes,
    committer: Committer,
    positions: HashMap<PositionId, (PositionPurpose, Vec<PartitionKey>)>,
    next_position_id: u64,
    source_meta: Arc<ClusterMetadata>,
    target_meta: Arc<ClusterMetadata>,
    /// When a refresh was last asked, per side, while one is wanted.
    refresh_asked: [Option<Instant>; 2],
    /// Whether some partition waits for a leader, per side.
    leader_wanted: [bool; 2],
    /// Source topic -> target topic, for every topic set up.
    topics: BTreeMap<String, String>,
    paused: BTreeSet<String>,
    lifecycle: Lifecycle,
    drained: bool,
    next_discovery: Instant,
    events: VecDeque<EngineEvent>,
    throttle: Option<Throttle>,
    /// The latest time passed in.
    now: Instant,
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Source => 0,
        Side::Target => 1,
    }
}

impl EngineState {
    /// A mirror of `config` with no partitions yet, at `now`.
    pub fn new(config: MirrorConfig, now: Instant) -> Self {
        let config_throttle = config
            .throttle_bytes_per_second
            .map(|r| Throttle::new(r, now));
        Self {
            budget: Budget::new(
                config.max_bytes_in_flight,
                config.max_partition_bytes_in_flight,
            ),
            committer: Committer::new(&config.group_id, config.commit_interval, now),
            next_discovery: now + config.topic_refresh_interval,
            config,
            partitions: BTreeMap::new(),
            producer: ProducerSession::new(),
            fetches: FetchLanes::default(),
            produces: ProduceLanes::default(),
            positions: HashMap::new(),
            next_position_id: 0,
            source_meta: Arc::default(),
            target_meta: Arc::default(),
            refresh_asked: [None; 2],
            leader_wanted: [false; 2],
            topics: BTreeMap::new(),
            paused: BTreeSet::new(),
            lifecycle: Lifecycle::Starting,
            drained: false,
            events: VecDeque::new(),
            throttle: config_throttle,
            now,
        }
    }

    // ---- getters ----

    /// The configuration.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn config(&self) -> &MirrorConfig {
        &self.config
    }

    /// Whether everything is finished: stopped and drained (or given up),
    /// offsets committed; or, in a backfill, caught up.
    pub fn is_done(&self) -> bool {
        self.lifecycle == Lifecycle::Done
    }

    /// Partitions in the mirror (those whose target topic is not set up
    /// included).
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// Bytes fetched and not yet acknowledged, all partitions.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn bytes_held(&self) -> usize {
        self.budget.used()
    }

    /// Requests in flight: Fetch, Produce, OffsetCommit.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn requests_in_flight(&self) -> (usize, usize, bool) {
        (
            self.fetches.in_flight(),
            self.produces.in_flight(),
            self.committer.in_flight(),
        )
    }

    /// The status at `now` (`wall`: the same moment on the wall clock).
    pub fn status(&self, now: Instant, wall: SystemTime) -> Status {
        let partitions: Vec<_> = self
            .partitions
            .values()
            .map(|p| p.status(now, wall))
            .collect();
        let mut totals = Totals::default();
        for p in &partitions {
            totals.add(&p.totals);
        }
        Status {
            partitions,
            totals,
            bytes_in_flight: self.budget.used(),
            throttle: self.throttle_status(now),
        }
    }

    /// The throttle's rate and how long fetching waited for it, when set.
    pub fn throttle_status(&self, now: Instant) -> Option<ThrottleStatus> {
        self.throttle.as_ref().map(|t| ThrottleStatus {
            bytes_per_second: t.rate(),
            throttled: t.throttled_for(now),
        })
    }

    /// The summary of a run that took `elapsed`.
    pub fn summary(&self, elapsed: Duration, now: Instant, wall: SystemTime) -> Summary {
        let status = self.status(now, wall);
        Summary {
            elapsed,
            totals: status.totals,
            partitions: status.partitions,
            drained: self.drained,
        }
    }

    /// Every partition's figures, for the metrics.
    pub(crate) fn figures(&self) -> impl Iterator<Item = (&PartitionKey, PartitionFigures<'_>)> {
        self.partitions.iter().map(|(k, p)| {
            (
                k,
                PartitionFigures {
                    source_topic: p.source_topic(),
                    target_topic: p.target_topic(),
                    partition: p.index(),
                    totals: p.totals(),
                    lag: p.lag(),
                    bytes_in_flight: p.window().bytes(),
                },
            )
        })
    }

    /// A named topic of the selection the source does not have, with the
    /// code its metadata gave, if any.
    pub fn missing_named_topic(&self) -> Option<(String, Option<ErrorCode>)> {
        self.config
            .selection
            .names()
            .iter()
            .find(|n| self.source_meta.topic(n).is_none())
            .map(|n| (n.clone(), self.source_meta.topic_errors.get(n).copied()))
    }

    // ---- commands ----

    /// Stops fetching `topic` (source name); batches in flight still
    /// drain. Returns whether the topic is mirrored.
    pub fn pause(&mut self, topic: &str) -> bool {
        self.paused.insert(topic.to_owned());
        let mut found = false;
        for p in self.topic_partitions(topic) {
            found = true;
            p.pause();
        }
        found
    }

    /// Resumes a paused topic, and restarts its FAILED partitions from
    /// their first batch not acknowledged. Returns whether it is mirrored.
    pub fn resume(&mut self, topic: &str, now: Instant) -> bool {
        self.paused.remove(topic);
        let mut found = false;
        for p in self.topic_partitions(topic) {
            found = true;
            p.resume();
        }
        self.advance(now);
        found
    }

    /// Starts fetching, producing and committing: the partitions set up so
    /// far are the mirror's (a backfill with none is done at once).
    pub fn begin(&mut self, now: Instant) {
        if self.lifecycle == Lifecycle::Starting {
            self.lifecycle = Lifecycle::Running;
            self.next_discovery = now + self.config.topic_refresh_interval;
        }
        self.advance(now);
    }

    /// Stops gracefully: no new fetches; batches in flight drain (up to the
    /// drain timeout), offsets are committed, then [`EngineState::is_done`].
    pub fn stop(&mut self, now: Instant) {
        if matches!(self.lifecycle, Lifecycle::Starting | Lifecycle::Running) {
            self.drain(now);
        }
        self.advance(now);
    }

    /// Holds `key`'s commits at or below what `gate` allows.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn set_commit_gate(&mut self, key: &PartitionKey, gate: CommitGate) {
        if let Some(p) = self.partitions.get_mut(key) {
            p.set_commit_gate(gate);
        }
    }

    fn topic_partitions<'a>(
        &'a mut self,
        topic: &'a str,
    ) -> impl Iterator<Item = &'a mut Partition> {
        self.partitions
            .range_mut((topic.to_owned(), i32::MIN)..=(topic.to_owned(), i32::MAX))
            .map(|(_, p)| p)
    }

    // ---- metadata and topics ----

    /// A new metadata snapshot of one cluster.
    pub fn handle_metadata(&mut self, side: Side, metadata: Arc<ClusterMetadata>) {
        match side {
            Side::Source => self.source_meta = metadata,
            Side::Target => self.target_meta = metadata,
        }
        self.refresh_asked[side_index(side)] = None;
    }

    /// The target topics to set up now: selected source topics (in the
    /// latest source metadata) with partitions not yet mirrored.
    pub fn plan_topic_setups(&self) -> Vec<TopicSetup> {
        let cfg = &self.config;
        // The same cluster: same id and a broker address in common (some
        // brokers, Tansu among them, share one cluster id across instances).
        let (meta, tmeta) = (&self.source_meta, &self.target_meta);
        let same_cluster = meta.cluster_id.is_some()
            && meta.cluster_id == tmeta.cluster_id
            && meta
                .brokers
                .values()
                .any(|b| tmeta.brokers.values().any(|t| t.address == b.address));
        let mut out = Vec::new();
        for (name, topic) in &meta.topics {
            if !cfg.selection.matches(name, topic.is_internal) {
                continue;
            }
            let count = topic.partitions.len();
            let known = self
                .partitions
                .range((name.clone(), i32::MIN)..=(name.clone(), i32::MAX))
                .filter(|(_, p)| !p.target_setup_pending())
                .count();
            if known >= count {
                continue;
            }
            let target_topic = cfg.rename.target_name(name);
            let refused = cfg
                .rename
                .check_loop(
                    name,
                    &target_topic,
                    cfg.target_alias.as_deref(),
                    same_cluster,
                )
                .err();
            out.push(TopicSetup {
                source_topic: name.clone(),
                target_topic,
                partitions: count,
                refused,
            });
        }
        out
    }

    /// The outcome of setting up `setup`'s target topic: its
    /// `max.message.bytes` when known, or why it failed. Partitions not yet
    /// mirrored join the mirror (and are positioned); after a failure they
    /// show FAILED with the reason until a later topic refresh succeeds.
    pub fn handle_topic_setup(
        &mut self,
        setup: &TopicSetup,
        result: Result<Option<i64>, String>,
        now: Instant,
    ) {
        let Some(topic) = self.source_meta.topic(&setup.source_topic).cloned() else {
            return;
        };
        let name = &setup.source_topic;
        let target = &setup.target_topic;
        match result {
            Err(e) => {
                tracing::warn!(topic = %name, error = %e, "cannot mirror new topic yet");
                let reason = format!(
                    "the target topic {target:?} cannot be set up: {e}; retried at every topic refresh"
                );
                for &p in topic.partitions.keys() {
                    let key = (name.clone(), p);
                    match self.partitions.get_mut(&key) {
                        Some(part) if !part.target_setup_pending() => {}
                        Some(part) => part.target_setup_failed_again(reason.clone()),
                        None => {
                            let mut part =
                                Partition::target_setup_failed(name, target, p, reason.clone());
                            part.target_setup_failed_again(reason.clone());
                            self.partitions.insert(key, part);
                        }
                    }
                }
            }
            Ok(max_message_bytes) => {
                self.topics.insert(name.clone(), target.clone());
                let paused = self.paused.contains(name);
                for &p in topic.partitions.keys() {
                    let key = (name.clone(), p);
                    let errors = match self.partitions.get(&key) {
                        Some(part) if !part.target_setup_pending() => continue,
                        Some(part) => part.errors(),
                        None => 0,
                    };
                    let mut part =
                        Partition::new(name, target, p, self.config.max_in_flight_per_partition);
                    part.target_ready(max_message_bytes, paused, errors);
                    tracing::info!(topic = %name, partition = p, target_topic = %target, "partition added to the mirror");
                    self.partitions.insert(key, part);
                }
            }
        }
        self.advance(now);
    }

    // ---- positioning ----

    /// Positions to read: where new partitions start, and where partitions
    /// whose position left the source log go.
    pub fn poll_position_requests(&mut self, now: Instant) -> Vec<PositionRequest> {
        self.advance(now);
        let mut out = Vec::new();
        if self.lifecycle == Lifecycle::Done {
            return out;
        }
        let mut resets = Vec::new();
        for (key, p) in &mut self.partitions {
            if let FetchSlot::Resetting { from, asked: false } = p.fetch_slot() {
                p.set_fetch_slot(FetchSlot::Resetting { from, asked: true });
                resets.push((key.clone(), from));
            }
        }
        for (key, from) in resets {
            let id = self.position_id();
            let purpose = PositionPurpose::Reset { from };
            self.positions.insert(id, (purpose, vec![key.clone()]));
            out.push(PositionRequest {
                id,
                purpose,
                partitions: vec![key],
                read_committed: false,
                read_stable_end: false,
            });
        }
        if !matches!(self.lifecycle, Lifecycle::Starting | Lifecycle::Running) {
            return out;
        }
        let starts: Vec<PartitionKey> = self
            .partitions
            .iter_mut()
            .filter(|(_, p)| p.needs_position(now))
            .map(|(k, p)| {
                p.set_positioning(true);
                k.clone()
            })
            .collect();
        if !starts.is_empty() {
            let id = self.position_id();
            self.positions
                .insert(id, (PositionPurpose::Start, starts.clone()));
            out.push(PositionRequest {
                id,
                purpose: PositionPurpose::Start,
                partitions: starts,
                read_committed: true,
                read_stable_end: self.config.mode == Mode::UntilCaughtUp,
            });
        }
        out
    }

    fn position_id(&mut self) -> PositionId {
        self.next_position_id += 1;
        PositionId(self.next_position_id)
    }

    /// The facts a [`PositionRequest`] asked for.
    pub fn handle_position_response(
        &mut self,
        id: PositionId,
        answer: PositionAnswer,
        now: Instant,
    ) {
        let Some((purpose, keys)) = self.positions.remove(&id) else {
            return;
        };
        let bounds: HashMap<PartitionKey, _> = answer.bounds.into_iter().collect();
        match purpose {
            PositionPurpose::Start => match answer.committed {
                Err(f) => {
                    for key in &keys {
                        self.position_failed(key, &f, now);
                    }
                }
                Ok(committed) => {
                    for key in &keys {
                        let b = match bounds.get(key) {
                            Some(Ok(b)) => *b,
                            Some(Err(f)) => {
                                self.position_failed(key, f, now);
                                continue;
                            }
                            None => {
                                let f = PositionFailure {
                                    broker: "the source cluster".into(),
                                    detail: "no offsets were read".into(),
                                };
                                self.position_failed(key, &f, now);
                                continue;
                            }
                        };
                        let Some(p) = self.partitions.get_mut(key) else {
                            continue;
                        };
                        let committed = committed.get(key).copied().filter(|&o| o >= 0);
                        let (start, lost) = start_at(committed, &b, self.config.start_from);
                        if let (Some(c), Some(lost)) = (committed, lost) {
                            let (topic, part, group) = (&key.0, key.1, &self.config.group_id);
                            let (earliest, latest) = (b.earliest, b.latest);
                            tracing::warn!(topic = %topic, partition = part, offset = c, earliest, latest, to = start, lost, group = %group, "the group's committed offset {c} for {topic}-{part} is outside the source log [{earliest}, {latest}]; starting from {start} per the start policy ({lost} offsets lost before they could be mirrored)");
                        }
                        let end = b
                            .stable_end
                            .filter(|_| self.config.mode == Mode::UntilCaughtUp);
                        tracing::info!(topic = %key.0, partition = key.1, offset = start, end = ?end, ?committed, "partition positioned");
                        p.positioned(start, committed, end, lost);
                        p.saw_log_end(b.latest);
                    }
                }
            },
            PositionPurpose::Reset { from } => {
                for key in &keys {
                    let Some(p) = self.partitions.get_mut(key) else {
                        continue;
                    };
                    if matches!(p.fetch_slot(), FetchSlot::Resetting { .. }) {
                        p.set_fetch_slot(FetchSlot::Idle);
                    }
                    let Some(Ok(b)) = bounds.get(key) else {
                        p.unavailable(
                            Unavailable::Source,
                            "offset out of range and the log bounds could not be read".into(),
                            now,
                        );
                        continue;
                    };
                    let past_end = p.past_end();
                    if past_end && in_log(from, b.earliest, b.latest) {
                        continue; // the log reaches the position again
                    }
                    p.saw_log_end(b.latest);
                    let (to, lost) =
                        reset_target(from, b.earliest, b.latest, self.config.start_from);
                    let (earliest, latest) = (b.earliest, b.latest);
                    if p.reset(from, to, lost) {
                        if past_end {
                            tracing::warn!(topic = %key.0, partition = key.1, offset = from, to, lost, earliest, latest, "the source log [{earliest}, {latest}] no longer reaches the fetch position {from} (fetches answer no error, no data and a lower high watermark); position reset per the start policy, {lost} offsets lost");
                        } else {
                            tracing::warn!(topic = %key.0, partition = key.1, offset = from, to, lost, earliest, latest, "fetch offset out of range on the source; {lost} offsets were lost before they could be mirrored; position reset per the start policy");
                        }
                    }
                }
            }
        }
        self.advance(now);
    }

    /// Records a failed positioning attempt on `key`; in a backfill, fails
    /// it once attempts have failed for [`POSITION_TIMEOUT`].
    fn position_failed(&mut self, key: &PartitionKey, f: &PositionFailure, now: Instant) {
        let bound = (self.config.mode == Mode::UntilCaughtUp).then_some(POSITION_TIMEOUT);
        let Some(p) = self.partitions.get_mut(key) else {
            return;
        };
        if p.position().is_some() {
            p.set_positioning(false);
            return;
        }
        tracing::warn!(topic = %key.0, partition = key.1, broker = %f.broker, error = %f.detail, "cannot position the partition; retrying with backoff");
        if let Some(err) = p.position_failed(&f.broker, &f.detail, now, bound) {
            let freed = p.fail(&err);
            self.budget.release(freed);
        }
    }

    // ---- the producer id ----

    /// The producer generation to ask an InitProducerId for now, if any.
    pub fn poll_producer_id(&mut self, now: Instant) -> Option<u64> {
        self.advance(now);
        if self.lifecycle == Lifecycle::Done {
            return None;
        }
        self.producer.poll_init(now)
    }

    /// The answer to the InitProducerId for `generation`: producer id and
    /// epoch, or why it failed.
    pub fn handle_producer_id(
        &mut self,
        generation: u64,
        result: Result<(i64, i16), String>,
        now: Instant,
    ) {
        self.producer.handle_init(generation, result, now);
        self.advance(now);
    }

    // ---- fetching ----

    /// The Fetch requests to send now.
    pub fn poll_fetch_requests(&mut self, now: Instant) -> Vec<FetchToSend> {
        self.advance(now);
        let mut out = Vec::new();
        if self.lifecycle != Lifecycle::Running {
            return out;
        }
        let meta = Arc::clone(&self.source_meta);
        let rate_allows = self
            .throttle
            .as_mut()
            .map_or(usize::MAX, |t| t.available(now));
        let mut inputs = FetchInputs {
            partitions: &mut self.partitions,
            budget: &mut self.budget,
            meta: &meta,
            max_wait: self.config.fetch_max_wait,
            max_bytes: self.config.fetch_max_bytes,
            rate_left: rate_allows,
            now,
        };
        let notes = self.fetches.plan(&mut inputs, &mut out);
        let rate_taken = rate_allows - inputs.rate_left;
        if let Some(t) = &mut self.throttle {
            t.reserve(rate_taken);
        }
        self.leader_wanted[0] = notes.leader_unknown;
        if notes.leader_unknown {
            self.ask_refresh(Side::Source, now);
        }
        for node in notes.close_probes {
            self.events.push_back(EngineEvent::CloseProbe { node });
        }
        out
    }

    /// The response to Fetch `id`.
    pub fn handle_fetch_response(&mut self, id: FetchId, response: FetchResponse, now: Instant) {
        let Some(sent) = self.fetches.complete(id) else {
            return;
        };
        self.budget.unreserve(sent.reserved);
        if let Some(t) = &mut self.throttle {
            let fetched = response
                .responses
                .iter()
                .flat_map(|t| &t.partitions)
                .filter_map(|p| p.records.as_ref())
                .map(|r| r.len())
                .sum();
            t.settle(sent.reserved, fetched);
        }
        let top = ErrorCode(response.error_code);
        if top != ErrorCode::NONE {
            self.release_fetch(id, &sent.partitions);
            for p in &sent.partitions {
                if let Some(part) = self.partitions.get_mut(&p.key) {
                    part.unavailable(
                        Unavailable::Source,
                        format!("fetch failed: Fetch answered {}", top.name()),
                        now,
                    );
                }
            }
            self.advance(now);
            return;
        }
        for t in response.responses {
            for pd in t.partitions {
                let Some(planned) = sent.partitions.iter().find(|p| {
                    p.key.1 == pd.partition_index && same_topic(&t.topic, &p.key.0, p.topic_id)
                }) else {
                    continue;
                };
                let key = &planned.key;
                if self.fetches.cleared(sent.node, key) {
                    tracing::debug!(topic = %key.0, partition = key.1, "suspect fetched fine; back in the stream");
                }
                let Some(part) = self.partitions.get_mut(key) else {
                    continue;
                };
                if part.fetch_slot() != FetchSlot::InFlight(id) {
                    continue;
                }
                part.set_fetch_slot(FetchSlot::Idle);
                let code = ErrorCode(pd.error_code);
                if code == ErrorCode::NONE {
                    if part.position() != Some(planned.offset) || part.is_failed() {
                        continue; // reset or failed meanwhile
                    }
                    let sorted = match &pd.records {
                        Some(r) => sort_fetched(
                            r.to_bytes(),
                            planned.offset,
                            pd.aborted_transactions.as_deref(),
                        ),
                        None => SortedFetch::empty(planned.offset),
                    };
                    match part.apply_fetch(sorted, pd.high_watermark, pd.last_stable_offset, now) {
                        Ok(f) => {
                            self.budget.take(f.held);
                            if f.held > 0 {
                                tracing::trace!(topic = %key.0, partition = key.1, offset = planned.offset, bytes = f.held, "fetched");
                            }
                            if let Some(from) = f.reset_from {
                                part.set_fetch_slot(FetchSlot::Resetting { from, asked: false });
                            }
                        }
                        Err(e) => {
                            let freed = part.fail(&e);
                            self.budget.release(freed);
                        }
                    }
                } else if code == ErrorCode::OFFSET_OUT_OF_RANGE {
                    part.set_fetch_slot(FetchSlot::Resetting {
                        from: planned.offset,
                        asked: false,
                    });
                } else if needs_metadata_refresh(code) || code.is_retriable() {
                    part.unavailable(
                        Unavailable::Source,
                        format!("Fetch answered {}", code.name()),
                        now,
                    );
                    self.events.push_back(EngineEvent::StaleLeader {
                        side: Side::Source,
                        topic: key.0.clone(),
                        partition: key.1,
                        code,
                    });
                } else {
                    let err = PartitionError::FetchRejected {
                        topic: key.0.clone(),
                        partition: key.1,
                        code,
                        hint: match code {
                            ErrorCode::TOPIC_AUTHORIZATION_FAILED => {
                                "Grant the mirror's principal Read on the topic, then resume it"
                                    .into()
                            }
                            _ => code.description().to_owned(),
                        },
                    };
                    let freed = part.fail(&err);
                    self.budget.release(freed);
                }
            }
        }
        // Partitions the response left out are fetched again.
        self.release_fetch(id, &sent.partitions);
        self.advance(now);
    }

    /// Fetch `id` got no response.
    pub fn handle_fetch_failure(&mut self, id: FetchId, failure: FetchFailure, now: Instant) {
        let Some(sent) = self.fetches.complete(id) else {
            return;
        };
        self.budget.unreserve(sent.reserved);
        if let Some(t) = &mut self.throttle {
            t.settle(sent.reserved, 0);
        }
        self.release_fetch(id, &sent.partitions);
        if failure.kind == FetchFailureKind::Broken {
            let broker = failure
                .broker
                .clone()
                .unwrap_or_else(|| format!("broker {}", sent.node));
            let error = &failure.detail;
            match self.fetches.broke(&sent) {
                SuspectVerdict::Suspect => {
                    tracing::warn!(%broker, partitions = sent.partitions.len(), error = %error, "a Fetch broke the connection; its partitions are fetched apart to find the cause");
                    for p in &sent.partitions {
                        if let Some(part) = self.partitions.get_mut(&p.key) {
                            part.unavailable(
                                Unavailable::Source,
                                format!("a Fetch with this partition broke the connection to {broker} ({error}); it is fetched apart from the others until a fetch of it works"),
                                now,
                            );
                        }
                    }
                }
                verdict @ (SuspectVerdict::Again(attempts) | SuspectVerdict::Fail(attempts)) => {
                    let p = &sent.partitions[0];
                    let (topic, partition) = (&p.key.0, p.key.1);
                    tracing::warn!(%topic, partition, offset = p.offset, %broker, attempts, error = %error, "fetching this partition alone broke the connection");
                    if let Some(part) = self.partitions.get_mut(&p.key) {
                        if matches!(verdict, SuspectVerdict::Fail(_)) {
                            let err = PartitionError::FetchBreaksConnection {
                                topic: topic.clone(),
                                partition,
                                offset: p.offset,
                                broker,
                                attempts,
                                detail: error.clone(),
                            };
                            let freed = part.fail(&err);
                            self.budget.release(freed);
                        } else {
                            part.unavailable(
                                Unavailable::Source,
                                format!("fetching this partition alone at offset {} broke the connection to {broker} ({attempts} of {BREAK_ATTEMPTS} times before it fails): {error}", p.offset),
                                now,
                            );
                        }
                    }
                }
            }
        } else {
            tracing::debug!(error = %failure.detail, "fetch failed");
            for p in &sent.partitions {
                if let Some(part) = self.partitions.get_mut(&p.key) {
                    part.unavailable(
                        Unavailable::Source,
                        format!("fetch failed: {}", failure.detail),
                        now,
                    );
                }
            }
            // A probe's partitions stay suspects, probed again after the backoff.
            self.fetches.probe_again(&sent);
            self.ask_refresh(Side::Source, now);
        }
        self.advance(now);
    }

    /// Marks the partitions of Fetch `id` out of flight (those still in it).
    fn release_fetch(&mut self, id: FetchId, planned: &[super::fetch::PlannedFetch]) {
        for p in planned {
            if let Some(part) = self.partitions.get_mut(&p.key) {
                if part.fetch_slot() == FetchSlot::InFlight(id) {
                    part.set_fetch_slot(FetchSlot::Idle);
                }
            }
        }
    }

    // ---- producing ----

    /// The Produce requests to send now, in the order they must reach each
    /// target leader.
    pub fn poll_produce_requests(&mut self, now: Instant) -> Vec<ProduceToSend> {
        self.advance(now);
        let mut out = Vec::new();
        if matches!(self.lifecycle, Lifecycle::Starting | Lifecycle::Done) {
            return out;
        }
        let Some(producer) = self.producer.current() else {
            return out;
        };
        let mut by_node: BTreeMap<i32, Vec<PartitionKey>> = BTreeMap::new();
        let mut leader_unknown = false;
        for (key, p) in &self.partitions {
            if !p.window().has_pending() || !p.may_produce(now) {
                continue;
            }
            let node = match p.sent_to() {
                Some(n) => n,
                None => match self.target_meta.leader(p.target_topic(), p.index()) {
                    Ok(l) => l.node_id,
                    Err(_) => {
                        leader_unknown = true;
                        continue;
                    }
                },
            };
            by_node.entry(node).or_default().push(key.clone());
        }
        self.leader_wanted[1] = leader_unknown;
        if leader_unknown {
            self.ask_refresh(Side::Target, now);
        }
        let timeout_ms = i32::try_from(self.config.target.connection.request_timeout.as_millis())
            .unwrap_or(30_000);
        for (node, keys) in by_node {
            // One batch per partition per request; several requests while
            // the leader has room.
            for _ in 0..self.produces.room(node) {
                let mut batches = Vec::new();
                let mut sent = Vec::new();
                for key in &keys {
                    let Some(p) = self.partitions.get_mut(key) else {
                        continue;
                    };
                    let Some(batch) = p.next_to_send(&producer, node) else {
                        continue;
                    };
                    let topic = p.target_topic().to_owned();
                    let topic_id = self.target_meta.topic(&topic).map_or(Uuid::ZERO, |t| t.id);
                    sent.push(SentBatch {
                        key: key.clone(),
                        topic: topic.clone(),
                        topic_id,
                        sequence: batch.sequence,
                    });
                    batches.push(ProduceBatch {
                        topic,
                        topic_id,
                        partition: p.index(),
                        batch,
                    });
                }
                if batches.is_empty() {
                    break;
                }
                let id = self.produces.sent(node, sent);
                out.push(ProduceToSend {
                    id,
                    node,
                    batches,
                    timeout_ms,
                });
            }
        }
        out
    }

    /// The response to Produce `id`.
    pub fn handle_produce_response(
        &mut self,
        id: ProduceId,
        response: ProduceResponse,
        now: Instant,
    ) {
        let Some(sent) = self.produces.complete(id) else {
            return;
        };
        for b in &sent.batches {
            let (outcome, code) = b.outcome(&response);
            if let Some(code) = code.filter(|c| *c != ErrorCode::NONE) {
                tracing::debug!(topic = %b.key.0, partition = b.key.1, target_node = sent.node, code = code.name(), "produce error");
                self.events.push_back(EngineEvent::StaleLeader {
                    side: Side::Target,
                    topic: b.topic.clone(),
                    partition: b.key.1,
                    code,
                });
            }
            self.answered(b, outcome, now);
        }
        self.advance(now);
    }

    /// Produce `id` got no response (not sent, or the connection broke):
    /// its batches are resent, with the same sequence numbers.
    pub fn handle_produce_failure(&mut self, id: ProduceId, detail: String, now: Instant) {
        let Some(sent) = self.produces.complete(id) else {
            return;
        };
        for b in &sent.batches {
            self.answered(b, ProduceOutcome::Retry(detail.clone()), now);
        }
        self.ask_refresh(Side::Target, now);
        self.advance(now);
    }

    fn answered(&mut self, b: &SentBatch, outcome: ProduceOutcome, now: Instant) {
        let Some(p) = self.partitions.get_mut(&b.key) else {
            return;
        };
        let a = p.answered(b.sequence, outcome, now);
        self.budget.release(a.released);
        if let Some(g) = a.lost_generation {
            self.producer.lost(g);
        }
    }

    // ---- committing ----

    /// The OffsetCommit to send now, if one is due.
    pub fn poll_commit(&mut self, now: Instant) -> Option<CommitToSend> {
        self.advance(now);
        match self.lifecycle {
            Lifecycle::Starting => return None,
            Lifecycle::Running | Lifecycle::Draining { .. } => {
                if !self.committer.due(now) {
                    return None;
                }
            }
            Lifecycle::FinalCommit { sent: false } => {
                if self.committer.in_flight() {
                    return None;
                }
            }
            Lifecycle::FinalCommit { sent: true } | Lifecycle::Done => return None,
        }
        let entries: Vec<CommitEntry> = self
            .partitions
            .iter()
            .filter_map(|(k, p)| {
                Some(CommitEntry {
                    offset: p.commit_due()?,
                    topic_id: self.source_meta.topic(&k.0).map_or(Uuid::ZERO, |t| t.id),
                    key: k.clone(),
                })
            })
            .collect();
        let commit = self.committer.start(entries, now);
        if let Lifecycle::FinalCommit { .. } = self.lifecycle {
            match commit {
                Some(_) => self.lifecycle = Lifecycle::FinalCommit { sent: true },
                None => self.finish(),
            }
        }
        commit
    }

    /// The response to OffsetCommit `id`.
    pub fn handle_commit_response(
        &mut self,
        id: CommitId,
        response: &OffsetCommitResponse,
        now: Instant,
    ) {
        let Some(result) = self.committer.handle_response(id, response) else {
            return;
        };
        for (key, offset) in &result.committed {
            if let Some(p) = self.partitions.get_mut(key) {
                p.committed_at(*offset);
            }
        }
        for (key, code) in &result.refused {
            tracing::warn!(topic = %key.0, partition = key.1, code = code.name(), "offset commit refused");
        }
        if result.coordinator_lost {
            self.events.push_back(EngineEvent::CoordinatorLost);
        }
        tracing::debug!(group = %self.config.group_id, partitions = result.committed.len(), "offsets committed");
        self.commit_answered(now);
    }

    /// OffsetCommit `id` got no response: retried at the next interval
    /// (nothing is lost, the offsets are only older).
    pub fn handle_commit_failure(&mut self, id: CommitId, detail: String, now: Instant) {
        if !self.committer.handle_failure(id) {
            return;
        }
        tracing::warn!(group = %self.config.group_id, error = %detail, "offset commit failed; retrying at the next interval");
        self.events.push_back(EngineEvent::CoordinatorLost);
        self.commit_answered(now);
    }

    fn commit_answered(&mut self, now: Instant) {
        if self.lifecycle == (Lifecycle::FinalCommit { sent: true }) {
            self.finish();
        }
        self.advance(now);
    }

    // ---- time and events ----

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// When to poll again if nothing else happens first.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let now = self.now;
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| {
            if t > now && next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        match self.lifecycle {
            Lifecycle::Running => at(self.next_discovery),
            Lifecycle::Draining { deadline } => at(deadline),
            Lifecycle::Starting | Lifecycle::FinalCommit { .. } => {}
            Lifecycle::Done => return None,
        }
        if let Some(t) = self.producer.timeout() {
            at(t);
        }
        if let Some(t) = self.throttle.as_ref().and_then(Throttle::ready_at) {
            if self.lifecycle == Lifecycle::Running {
                at(t);
            }
        }
        for side in [Side::Source, Side::Target] {
            let i = side_index(side);
            if let (true, Some(t)) = (self.leader_wanted[i], self.refresh_asked[i]) {
                at(t + METADATA_RETRY);
            }
        }
        let mut commit_due = false;
        for p in self.partitions.values() {
            if let Some(t) = p.not_before() {
                at(t);
            }
            commit_due |= p.commit_due().is_some();
        }
        if commit_due && !self.committer.in_flight() {
            at(self.committer.next_due());
        }
        next
    }

    fn ask_refresh(&mut self, side: Side, now: Instant) {
        let asked = &mut self.refresh_asked[side_index(side)];
        if asked.is_none_or(|t| now >= t + METADATA_RETRY) {
            *asked = Some(now);
            self.events.push_back(EngineEvent::RefreshMetadata(side));
        }
    }

    fn drain(&mut self, now: Instant) {
        self.lifecycle = Lifecycle::Draining {
            deadline: now + self.config.drain_timeout,
        };
    }

    fn finish(&mut self) {
        self.lifecycle = Lifecycle::Done;
        if self.config.mode == Mode::UntilCaughtUp {
            for p in self.partitions.values_mut() {
                p.caught_up();
            }
        }
    }

    /// Moves the lifecycle on at `now`: a backfill that caught up drains,
    /// a drain that emptied (or timed out) commits, topics are looked for.
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
        match self.lifecycle {
            Lifecycle::Running => {
                if self.config.mode == Mode::UntilCaughtUp
                    && self
                        .partitions
                        .values()
                        .all(|p| p.reached_end() || p.is_failed())
                {
                    tracing::info!("backfill caught up with the end offsets captured at start");
                    self.drain(now);
                    self.advance(now);
                } else if now >= self.next_discovery {
                    self.next_discovery = now + self.config.topic_refresh_interval;
                    self.events.push_back(EngineEvent::DiscoverTopics);
                }
            }
            Lifecycle::Draining { deadline } => {
                let empty = self
                    .partitions
                    .values()
                    .all(|p| p.window().is_empty() || p.is_failed());
                if empty || now >= deadline {
                    if !empty {
                        tracing::warn!(
                            "drain timed out; in-flight batches will be fetched again on restart"
                        );
                    }
                    self.drained = empty;
                    self.lifecycle = Lifecycle::FinalCommit { sent: false };
                }
            }
            Lifecycle::Starting | Lifecycle::FinalCommit { .. } | Lifecycle::Done => {}
        }
    }
}
