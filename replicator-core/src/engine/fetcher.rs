//! One fetch stream per source leader: Fetch requests (read_committed) for
//! the partitions it leads, up to [`MAX_FETCHES`] in flight over disjoint
//! partition sets, sifted into batches to forward; and the isolation of
//! partitions whose Fetch breaks the connection.
//!
//! Pipelining. A partition is in at most one request at a time. At most
//! one request may wait at the broker for data (the *poll*: every
//! fetchable partition, `max_wait_ms` = the configured fetch max wait).
//! While it is out, partitions that become fetchable (their response
//! applied, or budget freed by acknowledgements) and are known to have
//! committed data ahead go out at once in requests that do not wait.
//! Kafka serves one connection's requests in order, so such a request is
//! answered right after the one before it, without a round trip in
//! between; brokers that serve requests concurrently answer it at once.
//! Each request reserves the bytes it asks for in the [`Budget`], so
//! requests in flight together stay within the bound.
//!
//! Isolation. When a Fetch fails because the connection broke (closed,
//! no answer in time, or an undecodable response), its partitions become
//! suspects: they leave the stream and are fetched on a separate probe
//! connection, one request at a time, and a set that breaks it again is
//! halved. Healthy partitions return to the stream after their first probe
//! that works; a partition whose probe breaks the connection on its own
//! [`BREAK_ATTEMPTS`] times in a row is FAILED with
//! [`PartitionError::FetchBreaksConnection`].
//!
//! Fetch sessions (KIP-227) are not used: a session's requests carry
//! consecutive epochs and are answered one at a time, which does not fit
//! several requests in flight over changing partition sets.
//!
//! [`Budget`]: super::budget::Budget

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::{FetchRequest, FetchResponse};
use kafka_proto::{ApiKey, ErrorCode, TopicRef, Uuid};
use tokio::task::{Id, JoinError, JoinSet};
use tracing::Instrument;

use super::committer::{in_log, list_offset, reset_target, EARLIEST, LATEST};
use super::partition::{sift, Sifted};
use super::suspects::{Suspects, Verdict, BREAK_ATTEMPTS};
use super::{Engine, Key, Shared};
use crate::address::BrokerLabel;
use crate::cluster::{needs_metadata_refresh, PartitionOutcome};
use crate::connection::Connection;
use crate::error::Error;
use crate::model::{PartitionError, PartitionState};

/// Fetch requests in flight per source leader, besides one probe. Kafka
/// answers a connection's requests one at a time, so more only queue.
pub(crate) const MAX_FETCHES: usize = 3;

/// Topics whose Fetch uses topic IDs.
const FETCH_TOPIC_ID_VERSION: i16 = 13;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// May wait at the broker for data; at most one in flight.
    Poll,
    /// Partitions with data ahead, sent while the poll is out; no wait.
    Ready,
    /// Suspects, alone on the probe connection; no wait.
    Probe,
}

#[derive(Debug, Clone)]
struct Planned {
    key: Key,
    topic_id: Uuid,
    leader_epoch: i32,
    offset: i64,
    max_bytes: usize,
}

/// A request in flight.
#[derive(Debug)]
struct Sent {
    lane: Lane,
    plan: Vec<Planned>,
    /// Bytes reserved in the budget until the response is applied.
    reserved: usize,
}

impl Sent {
    fn max_wait(&self, engine: &Engine) -> Duration {
        match self.lane {
            Lane::Poll => engine.config.fetch_max_wait,
            Lane::Ready | Lane::Probe => Duration::ZERO,
        }
    }
}

/// Why a request got no response.
#[derive(Debug)]
enum Failure {
    /// No connection could be had: nothing was sent.
    Connect(Error),
    /// The request was sent (or could not be encoded) and failed.
    Request(Error),
}

impl Failure {
    /// The error, when the connection broke under the request, which may
    /// be the request's own doing.
    fn broke(&self) -> Option<&Error> {
        match self {
            Failure::Request(
                e @ (Error::Disconnected { .. }
                | Error::RequestTimeout { .. }
                | Error::Protocol { .. }),
            ) => Some(e),
            _ => None,
        }
    }

    fn error(&self) -> &Error {
        match self {
            Failure::Connect(e) | Failure::Request(e) => e,
        }
    }
}

/// A request task's result, and the probe connection handed back.
type Outcome = (Result<FetchResponse, Failure>, Option<Connection>);

pub(crate) async fn run(engine: Arc<Engine>, node: i32) {
    let span = tracing::info_span!("fetcher", source_node = node);
    fetch_loop(engine, node).instrument(span).await;
}

async fn fetch_loop(engine: Arc<Engine>, node: i32) {
    let mut stream = Stream::new(Arc::clone(&engine), node);
    let mut halt = engine.halt.subscribe();
    while !engine.halted() {
        while let Some(done) = stream.in_flight.try_join_next_with_id() {
            stream.complete(done).await;
        }
        let wake = engine.fetch_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        stream.launch();
        tokio::select! {
            Some(done) = stream.in_flight.join_next_with_id(), if !stream.in_flight.is_empty() => {
                stream.complete(done).await;
            }
            _ = wake => {}
            _ = halt.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// The fetch stream of one source leader.
struct Stream {
    engine: Arc<Engine>,
    node: i32,
    in_flight: JoinSet<Outcome>,
    sent: HashMap<Id, Sent>,
    /// Poll and ready requests in flight.
    main: usize,
    poll_out: bool,
    probe_out: bool,
    /// The probe connection, kept while there are suspects.
    probe: Option<Connection>,
    suspects: Suspects,
    /// A partition whose offset is being reset: still marked in flight.
    resetting: Option<Key>,
    rotate: usize,
}

impl Stream {
    fn new(engine: Arc<Engine>, node: i32) -> Self {
        Self {
            engine,
            node,
            in_flight: JoinSet::new(),
            sent: HashMap::new(),
            main: 0,
            poll_out: false,
            probe_out: false,
            probe: None,
            suspects: Suspects::default(),
            resetting: None,
            rotate: 0,
        }
    }

    /// Sends every request that may go now.
    fn launch(&mut self) {
        if !self.probe_out {
            self.launch_probe();
        }
        while self.main < MAX_FETCHES {
            let lane = if self.poll_out {
                Lane::Ready
            } else {
                Lane::Poll
            };
            let Some(sent) = plan(
                &self.engine,
                self.node,
                lane,
                Candidates::AllBut(&self.suspects.keys),
                &mut self.rotate,
            ) else {
                break;
            };
            self.main += 1;
            self.poll_out |= lane == Lane::Poll;
            self.spawn(sent, None);
        }
    }

    /// Sends the first suspect set that may be fetched now, alone on the
    /// probe connection.
    fn launch_probe(&mut self) {
        let mut i = 0;
        while i < self.suspects.sets.len() {
            self.drop_departed(i);
            if self.suspects.sets[i].is_empty() {
                self.suspects.sets.remove(i);
                continue;
            }
            let sent = plan(
                &self.engine,
                self.node,
                Lane::Probe,
                Candidates::Only(&self.suspects.sets[i]),
                &mut self.rotate,
            );
            if let Some(sent) = sent {
                self.suspects.take(i, sent.plan.iter().map(|p| &p.key));
                self.probe_out = true;
                let conn = self.probe.take();
                self.spawn(sent, Some(conn));
                return;
            }
            i += 1;
        }
        if self.suspects.sets.is_empty() {
            // Closes it once no clone is left.
            self.probe = None;
        }
    }

    /// Drops from suspect set `i` the partitions that left this stream:
    /// failed, paused, done, led elsewhere, gone.
    fn drop_departed(&mut self, i: usize) {
        let meta = self.engine.source.metadata();
        let s = self.engine.lock();
        let node = self.node;
        let departed: Vec<Key> = self.suspects.sets[i]
            .iter()
            .filter(|k| {
                !s.partitions.get(*k).is_some_and(|p| {
                    p.fetchable() && meta.leader(&k.0, k.1).is_ok_and(|l| l.node_id == node)
                })
            })
            .cloned()
            .collect();
        drop(s);
        self.suspects.sets[i].retain(|k| !departed.contains(k));
        for k in &departed {
            self.suspects.forget(k);
        }
    }

    /// Spawns `sent` on the pooled connection, or with `probe` on the
    /// probe connection (`Some(kept)`: the one kept from the last probe,
    /// if any).
    fn spawn(&mut self, sent: Sent, probe: Option<Option<Connection>>) {
        let engine = Arc::clone(&self.engine);
        let node = self.node;
        let plan = sent.plan.clone();
        let max_wait = sent.max_wait(&engine);
        let span = tracing::debug_span!("fetch", lane = ?sent.lane, partitions = plan.len());
        let task = async move {
            let timeout = engine.config.source.connection.request_timeout + max_wait;
            let (conn, probe) = match probe {
                None => match engine.source.broker_connection(node).await {
                    Ok(c) => (c, false),
                    Err(e) => return (Err(Failure::Connect(e)), None),
                },
                Some(kept) => match kept.filter(|c| !c.is_closed()) {
                    Some(c) => (c, true),
                    None => match open_probe(&engine, node).await {
                        Ok(c) => (c, true),
                        Err(e) => return (Err(Failure::Connect(e)), None),
                    },
                },
            };
            let result = async {
                let version = conn.version(ApiKey::Fetch)?;
                let request = request(&engine, &plan, version, max_wait);
                conn.request(&request, version, timeout).await
            }
            .await
            .map_err(Failure::Request);
            (result, probe.then_some(conn))
        };
        let handle = self.in_flight.spawn(task.instrument(span));
        self.sent.insert(handle.id(), sent);
    }

    /// Applies a finished request.
    async fn complete(&mut self, joined: Result<(Id, Outcome), JoinError>) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Ok(outcome)),
            Err(e) => (e.id(), Err(e.to_string())),
        };
        let Some(sent) = self.sent.remove(&id) else {
            return;
        };
        match sent.lane {
            Lane::Poll => {
                self.poll_out = false;
                self.main -= 1;
            }
            Lane::Ready => self.main -= 1,
            Lane::Probe => self.probe_out = false,
        }
        let (result, probe) = match outcome {
            Ok(o) => o,
            Err(panic) => {
                tracing::error!(error = %panic, "fetch task ended abnormally");
                self.settle(&sent, &[]);
                unavailable(&self.engine, &sent.plan, &panic);
                return;
            }
        };
        if probe.is_some() {
            self.probe = probe;
        }
        match result {
            Ok(response) => {
                for p in &sent.plan {
                    if self.suspects.cleared(&p.key) {
                        tracing::debug!(topic = %p.key.0, partition = p.key.1, "suspect fetched fine; back in the stream");
                    }
                }
                let resets = handle(&self.engine, &sent, response);
                self.settle(&sent, &resets);
                for (key, offset) in resets {
                    self.resetting = Some(key.clone());
                    reset(&self.engine, &key, offset).await;
                    self.resetting = None;
                    release(&mut self.engine.lock(), self.node, &key);
                }
            }
            Err(failure) => {
                self.settle(&sent, &[]);
                match failure.broke() {
                    Some(e) => self.broke(sent, e),
                    None => {
                        tracing::debug!(error = %failure.error(), "fetch failed");
                        unavailable(&self.engine, &sent.plan, &failure.error().to_string());
                        if sent.lane == Lane::Probe {
                            // Still suspects: probed again after the backoff.
                            let keys = sent.plan.into_iter().map(|p| p.key).collect();
                            self.suspects.sets.push_front(keys);
                        }
                        self.engine.source.request_refresh();
                    }
                }
            }
        }
    }

    /// Ends a request's reservation and marks its partitions out of flight
    /// (those in `keep` stay marked until their offset reset is done).
    fn settle(&self, sent: &Sent, keep: &[(Key, i64)]) {
        let mut s = self.engine.lock();
        settle_locked(&mut s, self.node, sent, keep);
    }

    /// The connection broke under `sent`: its partitions become suspects;
    /// a partition that alone broke the probe connection too often fails.
    fn broke(&mut self, sent: Sent, error: &Error) {
        let broker = broker_of(error)
            .map(ToString::to_string)
            .unwrap_or_else(|| format!("broker {}", self.node));
        let now = Instant::now();
        let keys: Vec<Key> = sent.plan.iter().map(|p| p.key.clone()).collect();
        let verdict = self.suspects.broke(keys, sent.lane == Lane::Probe);
        let mut s = self.engine.lock();
        match verdict {
            Verdict::Suspect => {
                tracing::warn!(%broker, partitions = sent.plan.len(), lane = ?sent.lane, error = %error, "a Fetch broke the connection; its partitions are fetched apart to find the cause");
                for p in &sent.plan {
                    if let Some(part) = s.partitions.get_mut(&p.key) {
                        part.unavailable(
                            PartitionState::SourceUnavailable,
                            format!("a Fetch with this partition broke the connection to {broker} ({error}); it is fetched apart from the others until a fetch of it works"),
                            now,
                        );
                    }
                }
            }
            Verdict::Again(attempts) | Verdict::Fail(attempts) => {
                let p = &sent.plan[0];
                let (topic, partition) = (&p.key.0, p.key.1);
                tracing::warn!(%topic, partition, offset = p.offset, %broker, attempts, error = %error, "fetching this partition alone broke the connection");
                let Some(part) = s.partitions.get_mut(&p.key) else {
                    return;
                };
                if matches!(verdict, Verdict::Fail(_)) {
                    let err = PartitionError::FetchBreaksConnection {
                        topic: topic.clone(),
                        partition,
                        offset: p.offset,
                        broker,
                        attempts,
                        detail: error.to_string(),
                    };
                    let freed = part.fail(&err);
                    s.budget.release(freed);
                } else {
                    part.unavailable(
                        PartitionState::SourceUnavailable,
                        format!("fetching this partition alone at offset {} broke the connection to {broker} ({attempts} of {BREAK_ATTEMPTS} times before it fails): {error}", p.offset),
                        now,
                    );
                }
            }
        }
    }
}

impl Drop for Stream {
    /// A stream that ends (halt, or a panic) gives back its partitions and
    /// reservations, so a new stream for the node can fetch them.
    fn drop(&mut self) {
        let mut s = self.engine.lock();
        for sent in self.sent.values() {
            settle_locked(&mut s, self.node, sent, &[]);
        }
        if let Some(key) = &self.resetting {
            release(&mut s, self.node, key);
        }
    }
}

fn settle_locked(s: &mut Shared, node: i32, sent: &Sent, keep: &[(Key, i64)]) {
    s.budget.unreserve(sent.reserved);
    for p in &sent.plan {
        if !keep.iter().any(|(k, _)| *k == p.key) {
            release(s, node, &p.key);
        }
    }
}

/// Marks a partition out of flight, if this node's fetch had it.
fn release(s: &mut Shared, node: i32, key: &Key) {
    if let Some(part) = s.partitions.get_mut(key) {
        if part.fetching == Some(node) {
            part.fetching = None;
        }
    }
}

/// The broker named by a connection error.
fn broker_of(error: &Error) -> Option<&BrokerLabel> {
    match error {
        Error::Disconnected { broker, .. }
        | Error::RequestTimeout { broker, .. }
        | Error::Protocol { broker, .. } => Some(broker),
        _ => None,
    }
}

/// A connection to `node` of its own, outside the pool, so a probe that
/// breaks it leaves the stream's connection alone.
async fn open_probe(engine: &Engine, node: i32) -> Result<Connection, Error> {
    let meta = engine.source.metadata();
    let broker = meta
        .broker(node)
        .ok_or(Error::UnknownBroker { node_id: node })?;
    let pool = engine.source.pool();
    let (dial, _) = pool.overrides().resolve(&broker.address);
    pool.connector()
        .connect_to(BrokerLabel::node(node, dial))
        .await
}

/// Which partitions a plan may take.
#[derive(Clone, Copy)]
enum Candidates<'a> {
    /// Every partition the node leads but these.
    AllBut(&'a BTreeSet<Key>),
    /// These.
    Only(&'a [Key]),
}

/// Picks the partitions of one request and, under the same lock, marks
/// them in flight and reserves the request's bytes. `None` when there is
/// nothing to fetch now.
fn plan(
    engine: &Engine,
    node: i32,
    lane: Lane,
    candidates: Candidates<'_>,
    rotate: &mut usize,
) -> Option<Sent> {
    let meta = engine.source.metadata();
    let now = Instant::now();
    let mut s = engine.lock();
    if s.draining {
        return None;
    }
    let mut global_left = s.budget.global_left();
    let mut out = Vec::new();
    let iter: Box<dyn Iterator<Item = &Key>> = match candidates {
        Candidates::AllBut(_) => Box::new(s.partitions.keys()),
        Candidates::Only(keys) => Box::new(keys.iter()),
    };
    for key in iter {
        if let Candidates::AllBut(skip) = candidates {
            if skip.contains(key) {
                continue;
            }
        }
        let Some(p) = s.partitions.get(key) else {
            continue;
        };
        if !p.wants_fetch(now) || (lane == Lane::Ready && !p.has_data_ahead()) {
            continue;
        }
        let Ok(leader) = meta.leader(&p.source_topic, p.partition) else {
            continue;
        };
        if leader.node_id != node {
            continue;
        }
        let allowance = s.budget.allowance(p.window.bytes()).min(global_left);
        if allowance == 0 {
            continue;
        }
        global_left -= allowance;
        out.push(Planned {
            key: key.clone(),
            topic_id: leader.topic_id,
            leader_epoch: leader.leader_epoch,
            offset: p.position.unwrap_or_default(),
            max_bytes: allowance,
        });
    }
    if out.is_empty() {
        return None;
    }
    // Brokers fill partitions in request order: rotate so none starves.
    *rotate = rotate.wrapping_add(1);
    let n = *rotate % out.len();
    out.rotate_left(n);
    let asked: usize = out.iter().map(|p| p.max_bytes).sum();
    let reserved = asked.min(engine.config.fetch_max_bytes);
    s.budget.reserve(reserved);
    for p in &out {
        if let Some(part) = s.partitions.get_mut(&p.key) {
            part.fetching = Some(node);
        }
    }
    Some(Sent {
        lane,
        plan: out,
        reserved,
    })
}

fn request(engine: &Engine, plan: &[Planned], version: i16, max_wait: Duration) -> FetchRequest {
    let cap = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let mut topics: Vec<FetchTopic> = Vec::new();
    for p in plan {
        let topic = if version >= FETCH_TOPIC_ID_VERSION {
            TopicRef::Id(p.topic_id)
        } else {
            TopicRef::Name(p.key.0.clone())
        };
        let part = FetchPartition {
            partition: p.key.1,
            current_leader_epoch: p.leader_epoch,
            fetch_offset: p.offset,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: cap(p.max_bytes),
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic == topic => t.partitions.push(part),
            _ => topics.push(FetchTopic {
                topic,
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    let total: usize = plan.iter().map(|p| p.max_bytes).sum();
    FetchRequest {
        replica_id: -1,
        max_wait_ms: cap(max_wait.as_millis() as usize),
        min_bytes: 1,
        max_bytes: cap(total.min(engine.config.fetch_max_bytes)),
        isolation_level: 1,
        session_id: 0,
        session_epoch: -1,
        topics,
        ..Default::default()
    }
}

fn unavailable(engine: &Engine, plan: &[Planned], reason: &str) {
    let now = Instant::now();
    let mut s = engine.lock();
    for p in plan {
        if let Some(part) = s.partitions.get_mut(&p.key) {
            part.unavailable(
                PartitionState::SourceUnavailable,
                format!("fetch failed: {reason}"),
                now,
            );
        }
    }
}

/// Applies a Fetch response; returns the partitions whose offset is out of
/// range, with the offset fetched.
fn handle(engine: &Engine, sent: &Sent, response: FetchResponse) -> Vec<(Key, i64)> {
    engine.source.observe_hints(&response);
    let plan = &sent.plan;
    let top = ErrorCode(response.error_code);
    if top != ErrorCode::NONE {
        unavailable(engine, plan, &format!("Fetch answered {}", top.name()));
        return Vec::new();
    }
    let meta = engine.source.metadata();
    let planned: BTreeMap<&Key, &Planned> = plan.iter().map(|p| (&p.key, p)).collect();
    let mut resets = Vec::new();
    for t in response.responses {
        let name = match &t.topic {
            TopicRef::Name(n) => n.clone(),
            TopicRef::Id(id) => match meta.topic_by_id(*id) {
                Some(m) => m.name.clone(),
                None => continue,
            },
        };
        for pd in t.partitions {
            let key = (name.clone(), pd.partition_index);
            let Some(planned) = planned.get(&key) else {
                continue;
            };
            let code = ErrorCode(pd.error_code);
            let now = Instant::now();
            if code == ErrorCode::NONE {
                // CRC checks outside the lock.
                let sifted = match &pd.records {
                    Some(r) => sift(
                        r.to_bytes(),
                        planned.offset,
                        pd.aborted_transactions.as_deref(),
                    ),
                    None => Sifted {
                        next_position: planned.offset,
                        ..Sifted::default()
                    },
                };
                let mut s = engine.lock();
                let Some(part) = s.partitions.get_mut(&key) else {
                    continue;
                };
                if part.position != Some(planned.offset) || part.state == PartitionState::Failed {
                    continue; // reset or failed meanwhile
                }
                part.succeeded();
                let result = part.apply_fetch(sifted, pd.high_watermark);
                part.last_stable_offset = pd.last_stable_offset;
                if result.is_ok() && part.past_end() {
                    // Where Kafka answers OFFSET_OUT_OF_RANGE, Tansu answers
                    // nothing at all.
                    resets.push((key.clone(), planned.offset));
                }
                match result {
                    Ok(bytes) => {
                        s.budget.take(bytes);
                        if bytes > 0 {
                            tracing::trace!(topic = %key.0, partition = key.1, offset = planned.offset, bytes, "fetched");
                        }
                    }
                    Err(e) => {
                        let freed = part.fail(&e);
                        s.budget.release(freed);
                    }
                }
                drop(s);
                engine.produce_wake.notify_waiters();
            } else if code == ErrorCode::OFFSET_OUT_OF_RANGE {
                resets.push((key, planned.offset));
            } else if needs_metadata_refresh(code) || code.is_retriable() {
                engine.source.observe_partition(
                    &key.0,
                    key.1,
                    PartitionOutcome {
                        code,
                        current_leader: None,
                    },
                );
                let mut s = engine.lock();
                if let Some(part) = s.partitions.get_mut(&key) {
                    part.unavailable(
                        PartitionState::SourceUnavailable,
                        format!("Fetch answered {}", code.name()),
                        now,
                    );
                }
            } else {
                let err = PartitionError::FetchRejected {
                    topic: key.0.clone(),
                    partition: key.1,
                    code,
                    hint: match code {
                        ErrorCode::TOPIC_AUTHORIZATION_FAILED => {
                            "Grant the mirror's principal Read on the topic, then resume it".into()
                        }
                        _ => code.description().to_owned(),
                    },
                };
                let mut s = engine.lock();
                if let Some(part) = s.partitions.get_mut(&key) {
                    let freed = part.fail(&err);
                    s.budget.release(freed);
                }
            }
        }
    }
    resets
}

/// OFFSET_OUT_OF_RANGE, or fetches answering a high watermark below the
/// position: move to the start policy's end of the log and report the
/// skipped offsets as lost.
async fn reset(engine: &Engine, key: &Key, from: i64) {
    let past_end = engine
        .lock()
        .partitions
        .get(key)
        .is_some_and(|p| p.past_end());
    let (earliest, latest) = (
        list_offset(&engine.source, &key.0, key.1, EARLIEST, false).await,
        list_offset(&engine.source, &key.0, key.1, LATEST, false).await,
    );
    let (Ok(earliest), Ok(latest)) = (earliest, latest) else {
        let mut s = engine.lock();
        if let Some(p) = s.partitions.get_mut(key) {
            p.unavailable(
                PartitionState::SourceUnavailable,
                "offset out of range and the log bounds could not be read".into(),
                Instant::now(),
            );
        }
        return;
    };
    if past_end && in_log(from, earliest, latest) {
        return; // the log reaches the position again
    }
    let (to, lost) = reset_target(from, earliest, latest, engine.config.start_from);
    let mut s = engine.lock();
    if let Some(p) = s.partitions.get_mut(key) {
        if p.position != Some(from) {
            return;
        }
        if past_end {
            tracing::warn!(topic = %key.0, partition = key.1, from, to, lost, earliest, latest, high_watermark = p.high_watermark, "the source log [{earliest}, {latest}] no longer reaches the fetch position {from} (fetches answer no error, no data and a lower high watermark); position reset per the start policy, {lost} offsets lost");
        } else {
            tracing::warn!(topic = %key.0, partition = key.1, from, to, lost, earliest, latest, "fetch offset out of range on the source; {lost} offsets were lost before they could be mirrored; position reset per the start policy");
        }
        p.totals.lost_offsets += lost;
        p.totals.errors += 1;
        // Batches already fetched (before `from`) are still produced.
        p.position = Some(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_connection_makes_suspects() {
        let broker = BrokerLabel::node(1, "h:9092".parse().unwrap());
        let closed = Failure::Request(Error::Disconnected {
            broker: broker.clone(),
            reason: "eof".into(),
        });
        assert!(closed.broke().is_some());
        let timeout = Failure::Request(Error::RequestTimeout {
            broker: broker.clone(),
            api: ApiKey::Fetch,
            timeout: Duration::from_secs(1),
        });
        assert_eq!(
            broker_of(timeout.broke().unwrap()).map(ToString::to_string),
            Some("broker 1 at h:9092".to_owned())
        );
        // Not sent at all: the broker is down, not broken by a partition.
        let unsent = Failure::Connect(Error::Disconnected {
            broker: broker.clone(),
            reason: "during the handshake".into(),
        });
        assert!(unsent.broke().is_none());
        let unsupported = Failure::Request(Error::ApiNotSupported {
            broker,
            api: ApiKey::Fetch,
        });
        assert!(unsupported.broke().is_none());
    }
}
