//! One run: simulated source and target clusters, a consumer group, the
//! network between them and the mirror's [`EngineState`], driven by one
//! seeded scheduler in virtual time.
//!
//! The world plays the driver's part: it polls the engine for requests and
//! answers them as brokers would, after network delays, one request at a
//! time per connection (Kafka serves a connection's requests in order), and
//! strikes faults: leader moves, dropped connections, injected errors,
//! slow and repeated answers, retention, lost producer state, and crashes
//! that lose every byte of the mirror's memory before it restarts from the
//! group's committed offsets.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{decode_request, FrameDecoder};
use kafka_proto::messages::fetch_response::FetchableTopicResponse;
use kafka_proto::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_proto::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_proto::messages::{
    FetchRequest, FetchResponse, MetadataResponse, OffsetCommitRequest, OffsetCommitResponse,
    ProduceRequest, ProduceResponse,
};
use kafka_proto::{ErrorCode, TopicRef, Uuid};
use replicator_core::internals::{
    CommitId, EngineEvent, EngineState, FetchConnection, FetchFailure, FetchFailureKind, FetchId,
    LogBounds, PositionAnswer, PositionFailure, PositionId, PositionRequest, ProduceId, Side,
};
use replicator_core::{
    ClusterConfig, ClusterMetadata, Mirror, MirrorConfig, PartitionState, RenamePolicy,
};

use crate::check::Ledger;
use crate::rng::SimRng;
use crate::scenario::Scenario;
use crate::source::{error_partition, SourcePartition};
use crate::target::{Appended, TargetPartition};

mod brokers;
mod faults;
mod wire;

pub type Key = (String, i32);

/// Which connection a request travels on. Connections belong to one
/// incarnation of the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Link {
    Source { node: i32, probe: bool },
    Target { node: i32 },
    Coordinator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ConnKey {
    incarnation: u32,
    link: Link,
}

#[derive(Debug, Default)]
struct Conn {
    generation: u64,
    /// The request the broker is serving.
    busy: Option<u64>,
    /// Requests that arrived and wait their turn.
    waiting: VecDeque<u64>,
    last_arrival: u64,
    last_reply: u64,
}

#[derive(Debug, Clone)]
enum Body {
    Fetch {
        id: FetchId,
        node: i32,
        request: FetchRequest,
        waited: bool,
    },
    Produce {
        id: ProduceId,
        node: i32,
        request: ProduceRequest,
    },
    Commit {
        id: CommitId,
        request: OffsetCommitRequest,
    },
}

#[derive(Debug)]
struct InFlight {
    conn: ConnKey,
    generation: u64,
    body: Body,
    /// The broker has acted on it (a write happened).
    processed: bool,
}

#[derive(Debug, Clone)]
enum Delivery {
    Fetch(FetchId, Result<FetchResponse, FetchFailure>),
    Produce(ProduceId, Result<ProduceResponse, String>),
    Commit(CommitId, Result<OffsetCommitResponse, String>),
    Position(PositionRequest),
    PositionAnswer(PositionId, PositionAnswer),
    ProducerId(u64),
    ProducerIdAnswer(u64, Result<(i64, i16), String>),
}

#[derive(Debug)]
enum Ev {
    Workload,
    Fault,
    Heal,
    CreateLateTopic,
    Arrive {
        conn: ConnKey,
        generation: u64,
        req: u64,
    },
    FetchWake {
        conn: ConnKey,
        generation: u64,
        req: u64,
    },
    Reply {
        conn: ConnKey,
        generation: u64,
        req: u64,
        delivery: Delivery,
    },
    Deliver {
        incarnation: u32,
        delivery: Delivery,
    },
    Metadata {
        incarnation: u32,
        side: Side,
    },
    Discover {
        incarnation: u32,
    },
    Restart,
    Checkup,
}

#[derive(Debug)]
struct Timed {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Timed {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Timed {}
impl PartialOrd for Timed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Timed {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Faults,
    Healing,
    Stopping,
    Done,
}

/// How long after healing everything must have arrived.
const CONVERGE_MS: u64 = 300_000;

pub struct World {
    pub rng: SimRng,
    pub scenario: Scenario,
    config: MirrorConfig,
    base: Instant,
    pub now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Timed>>,
    engine: Option<EngineState>,
    pub incarnation: u32,
    phase: Phase,
    pub source: BTreeMap<String, Vec<SourcePartition>>,
    topic_ids: BTreeMap<String, Uuid>,
    pub target: BTreeMap<String, Vec<TargetPartition>>,
    pub group: BTreeMap<Key, i64>,
    conns: BTreeMap<ConnKey, Conn>,
    in_flight: BTreeMap<u64, InFlight>,
    next_req: u64,
    next_pid: i64,
    metadata_pending: [bool; 2],
    pub ledger: Ledger,
    pub violations: Vec<String>,
    pub trace: Vec<String>,
    tracing: bool,
    /// Largest batch written to the source, for the budget check.
    max_batch: usize,
    pub stats: Stats,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub crashes: u32,
    pub leader_moves: u32,
    pub drops: u32,
    pub injected: u32,
    pub fetches: u64,
    pub produces: u64,
    pub commits: u64,
}

impl World {
    pub fn new(seed: u64, tracing: bool) -> Self {
        let mut rng = SimRng::new(seed);
        let scenario = Scenario::from_seed(&mut rng);
        let mut builder = Mirror::builder()
            .source(ClusterConfig::new("sim-source:9092"))
            .target(ClusterConfig::new("sim-target:9092"))
            .include("t[0-9]+|late")
            .group_id("sim")
            .max_bytes_in_flight(scenario.max_bytes, scenario.max_partition_bytes)
            .max_in_flight_per_partition(scenario.max_in_flight)
            .fetch_max_wait(Duration::from_millis(scenario.fetch_max_wait_ms))
            .commit_interval(Duration::from_millis(scenario.commit_interval_ms))
            .topic_refresh_interval(Duration::from_millis(scenario.topic_refresh_ms))
            .drain_timeout(Duration::from_secs(30));
        if let Some(alias) = &scenario.rename {
            builder = builder.rename(RenamePolicy::prefix(alias.clone()));
        }
        let config = builder.build().expect("valid config").config().clone();
        let mut w = World {
            rng,
            config,
            base: Instant::now(),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            engine: None,
            incarnation: 0,
            phase: Phase::Faults,
            source: BTreeMap::new(),
            topic_ids: BTreeMap::new(),
            target: BTreeMap::new(),
            group: BTreeMap::new(),
            conns: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_req: 0,
            next_pid: 1000,
            metadata_pending: [false; 2],
            ledger: Ledger::new(scenario.rename.clone(), scenario.max_in_flight),
            violations: Vec::new(),
            trace: Vec::new(),
            tracing,
            max_batch: 0,
            stats: Stats::default(),
            scenario,
        };
        for (name, n) in w.scenario.topics.clone() {
            w.create_topic(&name, n);
        }
        if w.scenario.late_topic.is_some() {
            let at = w.scenario.late_topic.as_ref().map_or(0, |t| t.2);
            w.at(at, Ev::CreateLateTopic);
        }
        w.at(0, Ev::Workload);
        w.at(w.scenario.heal_at_ms, Ev::Heal);
        w.schedule_fault();
        w.start_engine();
        w
    }

    fn note(&mut self, f: impl FnOnce() -> String) {
        if self.tracing {
            let line = format!("{:>8} ms  {}", self.now, f());
            self.trace.push(line);
        }
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_millis(self.now)
    }

    fn at(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Timed {
            at,
            seq: self.seq,
            ev,
        }));
    }

    fn after(&mut self, delay: u64, ev: Ev) {
        let at = self.now + delay;
        self.at(at, ev);
    }

    fn delay(&mut self) -> u64 {
        let mean = self.scenario.latency_ms;
        if mean == 0 {
            0
        } else {
            self.rng.wait(mean)
        }
    }

    fn faulty(&self) -> bool {
        self.phase == Phase::Faults
    }

    pub fn target_name(&self, source: &str) -> String {
        match &self.scenario.rename {
            Some(alias) => format!("{alias}.{source}"),
            None => source.to_owned(),
        }
    }

    fn create_topic(&mut self, name: &str, partitions: i32) {
        let id = Uuid::from_bytes([(self.topic_ids.len() as u8) + 1; 16]);
        self.topic_ids.insert(name.to_owned(), id);
        let tid = Uuid::from_bytes([(self.topic_ids.len() as u8) + 100; 16]);
        let target_name = self.target_name(name);
        self.topic_ids.insert(target_name.clone(), tid);
        let sn = self.scenario.source_nodes;
        let tn = self.scenario.target_nodes;
        let legacy = self.scenario.legacy_broker;
        self.source.insert(
            name.to_owned(),
            (0..partitions)
                .map(|p| SourcePartition::new(name, p, 1 + p % sn))
                .collect(),
        );
        self.target.insert(
            target_name,
            (0..partitions)
                .map(|p| TargetPartition::new(1 + (p + 1) % tn, legacy))
                .collect(),
        );
        self.ledger.add_topic(name, partitions);
    }

    fn metadata(&self, side: Side) -> ClusterMetadata {
        let (nodes, host) = match side {
            Side::Source => (self.scenario.source_nodes, "sim-source"),
            Side::Target => (self.scenario.target_nodes, "sim-target"),
        };
        // (topic, [(leader, epoch)]) of the side's partitions.
        let leaders: Vec<(&String, Vec<(i32, i32)>)> = match side {
            Side::Source => self
                .source
                .iter()
                .map(|(t, ps)| (t, ps.iter().map(|p| (p.leader, p.epoch)).collect()))
                .collect(),
            Side::Target => self
                .target
                .iter()
                .map(|(t, ps)| (t, ps.iter().map(|p| (p.leader, p.epoch)).collect()))
                .collect(),
        };
        let topics: Vec<MetadataResponseTopic> = leaders
            .into_iter()
            .map(|(name, parts)| MetadataResponseTopic {
                name: Some(name.clone()),
                topic_id: self.topic_ids[name],
                partitions: parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, (leader, epoch))| MetadataResponsePartition {
                        partition_index: i as i32,
                        leader_id: leader,
                        leader_epoch: epoch,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        ClusterMetadata::from_response(&MetadataResponse {
            brokers: (1..=nodes)
                .map(|n| MetadataResponseBroker {
                    node_id: n,
                    host: format!("{host}-{n}"),
                    port: 9092,
                    ..Default::default()
                })
                .collect(),
            cluster_id: Some(host.to_owned()),
            controller_id: 1,
            topics,
            ..Default::default()
        })
    }

    // ---- the mirror's lifecycle ----

    fn start_engine(&mut self) {
        let now = self.instant();
        let mut e = EngineState::new(self.config.clone(), now);
        e.handle_metadata(Side::Source, Arc::new(self.metadata(Side::Source)));
        e.handle_metadata(Side::Target, Arc::new(self.metadata(Side::Target)));
        for setup in e.plan_topic_setups() {
            e.handle_topic_setup(&setup, Ok(None), now);
        }
        e.begin(now);
        self.engine = Some(e);
        self.note(|| "mirror started".into());
    }

    fn crash(&mut self) {
        self.stats.crashes += 1;
        self.note(|| "CRASH: the mirror loses all its memory".into());
        self.engine = None;
        // Requests already on the wire may still reach their broker.
        let old: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.conn.incarnation == self.incarnation)
            .map(|(id, _)| *id)
            .collect();
        for req in old {
            self.abandon(req);
        }
        let incarnation = self.incarnation;
        self.conns.retain(|k, _| k.incarnation != incarnation);
        self.incarnation += 1;
        self.metadata_pending = [false; 2];
        let wait = self.rng.range(10, 2_000);
        self.after(wait, Ev::Restart);
    }

    // ---- the driver's part ----

    /// Polls the mirror once for work, as the driver does after each wake.
    fn pump(&mut self) {
        let Some(mut e) = self.engine.take() else {
            return;
        };
        let now = self.instant();
        for req in e.poll_position_requests(now) {
            let d = self.delay() + self.delay();
            let incarnation = self.incarnation;
            self.after(
                d,
                Ev::Deliver {
                    incarnation,
                    delivery: Delivery::Position(req),
                },
            );
        }
        if let Some(generation) = e.poll_producer_id(now) {
            let d = self.delay() + self.delay();
            let incarnation = self.incarnation;
            self.after(
                d,
                Ev::Deliver {
                    incarnation,
                    delivery: Delivery::ProducerId(generation),
                },
            );
        }
        for f in e.poll_fetch_requests(now) {
            self.stats.fetches += 1;
            if self.tracing {
                let what: Vec<String> = f
                    .partitions()
                    .iter()
                    .map(|p| format!("{}-{}@{}", p.key.0, p.key.1, p.offset))
                    .collect();
                let (id, node, conn) = (f.id, f.node, f.connection);
                self.note(|| format!("FETCH {id:?} to {node} {conn:?}: {what:?}"));
            }
            let link = Link::Source {
                node: f.node,
                probe: f.connection == FetchConnection::Probe,
            };
            let body = Body::Fetch {
                id: f.id,
                node: f.node,
                request: f.request(self.scenario.fetch_version),
                waited: false,
            };
            if self.faulty() && self.rng.chance(self.scenario.faults.unsent) {
                let d = self.delay();
                self.deliver_later(
                    d,
                    Delivery::Fetch(
                        f.id,
                        Err(FetchFailure {
                            kind: FetchFailureKind::Unsent,
                            broker: Some(format!(
                                "broker {} at sim-source-{}:9092",
                                f.node, f.node
                            )),
                            detail: "connection refused".into(),
                        }),
                    ),
                );
                continue;
            }
            self.send(link, body);
        }
        for p in e.poll_produce_requests(now) {
            self.stats.produces += 1;
            if self.tracing {
                let what: Vec<String> = p
                    .batches
                    .iter()
                    .map(|b| {
                        format!(
                            "{}-{} seq {} from {}",
                            b.topic, b.partition, b.batch.sequence, b.batch.base_offset
                        )
                    })
                    .collect();
                let (id, node) = (p.id, p.node);
                self.note(|| format!("PRODUCE {id:?} to {node}: {what:?}"));
            }
            // The bytes the driver would write, decoded as the broker does.
            let frame = p
                .encode(1, Some("sim"), self.scenario.produce_version)
                .expect("a Produce request encodes");
            let mut buf = BytesMut::from(&frame.to_bytes()[..]);
            let body = FrameDecoder::default()
                .decode(&mut buf)
                .expect("a whole frame")
                .expect("a frame");
            let (_, request) =
                decode_request::<ProduceRequest>(body).expect("a Produce request decodes");
            if self.faulty() && self.rng.chance(self.scenario.faults.unsent) {
                let d = self.delay();
                self.deliver_later(d, Delivery::Produce(p.id, Err("connection refused".into())));
                continue;
            }
            self.send(
                Link::Target { node: p.node },
                Body::Produce {
                    id: p.id,
                    node: p.node,
                    request,
                },
            );
        }
        if let Some(c) = e.poll_commit(now) {
            self.stats.commits += 1;
            let request = c.request(8);
            self.send(Link::Coordinator, Body::Commit { id: c.id, request });
        }
        while let Some(ev) = e.poll_event() {
            match ev {
                EngineEvent::RefreshMetadata(side) | EngineEvent::StaleLeader { side, .. } => {
                    self.refresh(side);
                }
                EngineEvent::DiscoverTopics => {
                    let d = self.delay() + 5;
                    let incarnation = self.incarnation;
                    self.after(d, Ev::Discover { incarnation });
                }
                EngineEvent::CloseProbe { node } => {
                    let key = ConnKey {
                        incarnation: self.incarnation,
                        link: Link::Source { node, probe: true },
                    };
                    if let Some(c) = self.conns.get(&key) {
                        if c.busy.is_none() && c.waiting.is_empty() {
                            self.conns.remove(&key);
                        }
                    }
                }
                EngineEvent::CoordinatorLost => {}
            }
        }
        // The budget holds, but for one batch per partition a broker
        // returns whole.
        let partitions: usize = self.source.values().map(Vec::len).sum();
        let bound = self.scenario.max_bytes + partitions * self.max_batch.max(1);
        if e.bytes_held() > bound {
            let held = e.bytes_held();
            self.violation(format!(
                "memory: {held} bytes held, over the budget of {} + {partitions} partitions x {} bytes",
                self.scenario.max_bytes, self.max_batch
            ));
        }
        self.engine = Some(e);
    }

    fn refresh(&mut self, side: Side) {
        let i = match side {
            Side::Source => 0,
            Side::Target => 1,
        };
        if !self.metadata_pending[i] {
            self.metadata_pending[i] = true;
            let d = self.delay() + self.rng.range(1, 100);
            let incarnation = self.incarnation;
            self.after(d, Ev::Metadata { incarnation, side });
        }
    }

    fn deliver_later(&mut self, delay: u64, delivery: Delivery) {
        let incarnation = self.incarnation;
        self.after(
            delay,
            Ev::Deliver {
                incarnation,
                delivery,
            },
        );
    }

    // ---- running ----

    pub fn violation(&mut self, what: String) {
        self.note(|| format!("VIOLATION: {what}"));
        self.violations.push(what);
    }

    fn checkup(&mut self) {
        // An operator resumes what failed once the cluster is healthy.
        if let Some(e) = self.engine.as_mut() {
            let now = self.base + Duration::from_millis(self.now);
            let status = e.status(now, SystemTime::UNIX_EPOCH);
            let failed: Vec<String> = status
                .partitions
                .iter()
                .filter(|p| p.state == PartitionState::Failed)
                .map(|p| p.source_topic.clone())
                .collect();
            for t in &failed {
                e.resume(t, now);
            }
            if !failed.is_empty() && self.tracing {
                let after: Vec<String> = e
                    .status(now, SystemTime::UNIX_EPOCH)
                    .partitions
                    .iter()
                    .map(|p| {
                        format!(
                            "{}-{} {} @{:?}",
                            p.source_topic, p.partition, p.state, p.position
                        )
                    })
                    .collect();
                self.note(|| format!("RESUME {failed:?}: {after:?}"));
            }
        }
        if self.phase == Phase::Healing && self.engine.is_some() && self.converged() {
            self.note(|| "everything mirrored and committed; stopping".into());
            self.phase = Phase::Stopping;
            let now = self.instant();
            if let Some(e) = self.engine.as_mut() {
                e.stop(now);
            }
            return;
        }
        if self.now > self.scenario.heal_at_ms + CONVERGE_MS {
            let status = self
                .engine
                .as_ref()
                .map(|e| format!("{:#?}", e.status(self.instant(), SystemTime::UNIX_EPOCH)))
                .unwrap_or_default();
            self.violation(format!(
                "not everything was mirrored and committed {} s after the faults ended: {}",
                CONVERGE_MS / 1000,
                status
            ));
            self.phase = Phase::Done;
            return;
        }
        self.after(1_000, Ev::Checkup);
    }

    /// Every record the source committed (and still holds) is on the
    /// target, and the group committed every partition's end.
    fn converged(&mut self) -> bool {
        for parts in self.source.values() {
            for sp in parts {
                if !sp.open_transactions().is_empty()
                    || (sp.written.len() as u64) < self.scenario.records
                {
                    return false;
                }
                if self.ledger.first_missing_below(sp, sp.leo).is_some() {
                    return false;
                }
                if self.group.get(&(sp.topic.clone(), sp.index)) != Some(&sp.leo) {
                    return false;
                }
            }
        }
        true
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Workload => self.workload(),
            Ev::Fault => self.fault(),
            Ev::Heal => {
                self.note(|| "HEAL: faults end".into());
                self.phase = Phase::Healing;
                self.after(0, Ev::Checkup);
            }
            Ev::Checkup => {
                if self.phase != Phase::Stopping && self.phase != Phase::Done {
                    self.checkup();
                }
            }
            Ev::CreateLateTopic => {
                if let Some((name, n, _)) = self.scenario.late_topic.clone() {
                    self.note(|| format!("topic {name} created"));
                    self.create_topic(&name, n);
                    self.after(1, Ev::Workload);
                }
            }
            Ev::Restart => {
                self.start_engine();
            }
            Ev::Arrive {
                conn,
                generation,
                req,
            } => self.arrive(conn, generation, req),
            Ev::FetchWake {
                conn,
                generation,
                req,
            } => {
                if self.conn_alive(conn, generation)
                    && self.conns.get(&conn).is_some_and(|c| c.busy == Some(req))
                {
                    self.serve(conn, req);
                }
            }
            Ev::Reply {
                conn,
                generation,
                req,
                delivery,
            } => {
                if self.conn_alive(conn, generation) && self.in_flight.remove(&req).is_some() {
                    self.deliver(conn.incarnation, delivery);
                }
            }
            Ev::Deliver {
                incarnation,
                delivery,
            } => self.deliver(incarnation, delivery),
            Ev::Metadata { incarnation, side } => {
                if incarnation == self.incarnation {
                    self.metadata_pending[match side {
                        Side::Source => 0,
                        Side::Target => 1,
                    }] = false;
                    let meta = Arc::new(self.metadata(side));
                    if let Some(e) = self.engine.as_mut() {
                        e.handle_metadata(side, meta);
                    }
                }
            }
            Ev::Discover { incarnation } => {
                if incarnation == self.incarnation {
                    let meta = Arc::new(self.metadata(Side::Source));
                    let tmeta = Arc::new(self.metadata(Side::Target));
                    let now = self.instant();
                    if let Some(e) = self.engine.as_mut() {
                        e.handle_metadata(Side::Source, meta);
                        e.handle_metadata(Side::Target, tmeta);
                        for setup in e.plan_topic_setups() {
                            e.handle_topic_setup(&setup, Ok(None), now);
                        }
                    }
                }
            }
        }
    }

    fn deliver(&mut self, incarnation: u32, delivery: Delivery) {
        if incarnation != self.incarnation || self.engine.is_none() {
            return;
        }
        let now = self.instant();
        let repeat = self.faulty() && self.rng.chance(self.scenario.faults.duplicate_response);
        let delivery = match delivery {
            Delivery::Position(req) => {
                let answer = self.position_answer(&req);
                Delivery::PositionAnswer(req.id, answer)
            }
            Delivery::ProducerId(generation) => {
                let result = if self.faulty() && self.rng.chance(self.scenario.faults.admin_error) {
                    Err("COORDINATOR_NOT_AVAILABLE".to_owned())
                } else {
                    self.next_pid += 1;
                    self.ledger.producer(self.next_pid, self.incarnation);
                    Ok((self.next_pid, 0))
                };
                Delivery::ProducerIdAnswer(generation, result)
            }
            d => d,
        };
        if repeat {
            let d = self.delay() + 1;
            self.deliver_later(d, delivery.clone());
        }
        if self.tracing {
            let what = match &delivery {
                Delivery::Produce(id, Ok(r)) => format!(
                    "{id:?} answered {:?}",
                    r.responses
                        .iter()
                        .flat_map(|t| t.partition_responses.iter().map(move |p| (
                            t.topic.clone(),
                            p.index,
                            ErrorCode(p.error_code).name()
                        )))
                        .collect::<Vec<_>>()
                ),
                Delivery::Produce(id, Err(e)) => format!("{id:?} failed: {e}"),
                Delivery::Fetch(id, Ok(r)) => format!(
                    "{id:?} answered {:?}",
                    r.responses
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(|p| (
                            p.partition_index,
                            ErrorCode(p.error_code).name(),
                            p.high_watermark,
                            p.records.as_ref().map_or(0, |r| r.to_bytes().len())
                        )))
                        .collect::<Vec<_>>()
                ),
                Delivery::Fetch(id, Err(e)) => format!("{id:?} failed: {e:?}"),
                Delivery::ProducerIdAnswer(g, r) => {
                    format!("producer id for generation {g}: {r:?}")
                }
                _ => String::new(),
            };
            if !what.is_empty() {
                self.note(|| what);
            }
        }
        let e = self.engine.as_mut().expect("checked");
        match delivery {
            Delivery::Fetch(id, Ok(r)) => e.handle_fetch_response(id, r, now),
            Delivery::Fetch(id, Err(f)) => e.handle_fetch_failure(id, f, now),
            Delivery::Produce(id, Ok(r)) => e.handle_produce_response(id, r, now),
            Delivery::Produce(id, Err(f)) => e.handle_produce_failure(id, f, now),
            Delivery::Commit(id, Ok(r)) => e.handle_commit_response(id, &r, now),
            Delivery::Commit(id, Err(f)) => e.handle_commit_failure(id, f, now),
            Delivery::PositionAnswer(id, a) => e.handle_position_response(id, a, now),
            Delivery::ProducerIdAnswer(g, r) => e.handle_producer_id(g, r, now),
            Delivery::Position(_) | Delivery::ProducerId(_) => unreachable!("answered above"),
        }
    }

    /// Runs to the end; the violations found.
    pub fn run(&mut self) {
        self.pump();
        loop {
            if self.phase == Phase::Done {
                break;
            }
            if self.phase == Phase::Stopping
                && self.engine.as_ref().is_some_and(EngineState::is_done)
            {
                self.phase = Phase::Done;
                break;
            }
            let wake = self
                .engine
                .as_ref()
                .and_then(EngineState::poll_timeout)
                .map(|t| t.duration_since(self.base).as_millis() as u64);
            let next = self.queue.peek().map(|Reverse(t)| t.at);
            match (next, wake) {
                (Some(n), Some(w)) if w < n => {
                    self.now = self.now.max(w);
                }
                (None, Some(w)) => self.now = self.now.max(w),
                (Some(_), _) => {
                    let Reverse(t) = self.queue.pop().expect("peeked");
                    self.now = self.now.max(t.at);
                    self.handle(t.ev);
                }
                (None, None) => {
                    self.violation("nothing left to happen, and the mirror is not done".into());
                    break;
                }
            }
            self.pump();
            if self.violations.len() > 20 {
                break;
            }
            if self.now > self.scenario.heal_at_ms + CONVERGE_MS + 120_000 {
                self.violation("the mirror did not stop after it was asked to".into());
                break;
            }
        }
        let ledger = std::mem::take(&mut self.ledger);
        let mut violations = std::mem::take(&mut self.violations);
        self.ledger = ledger.check_end(self, &mut violations);
        self.violations = violations;
    }
}
