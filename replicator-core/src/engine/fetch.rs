//! Fetch planning, without IO: which partitions go into which Fetch
//! request (read_committed) to which source leader, up to [`MAX_FETCHES`]
//! in flight per leader over disjoint partition sets, and the isolation of
//! partitions whose Fetch breaks the connection.
//!
//! Pipelining. A partition is in at most one request at a time. At most
//! one request per leader may wait at the broker for data (the *poll*
//! lane: every fetchable partition, `max_wait_ms` = the configured fetch
//! max wait). While it is out, partitions that become fetchable (their
//! response applied, or budget freed by acknowledgements) and are known to
//! have committed data ahead go out at once in requests that do not wait
//! (the *ready* lane). Kafka serves one connection's requests in order, so
//! such a request is answered right after the one before it, without a
//! round trip in between; brokers that serve requests concurrently answer
//! it at once. Each request reserves the bytes it asks for in the
//! [`Budget`], so requests in flight together stay within the bound.
//!
//! Isolation. When a Fetch fails because the connection broke (closed, no
//! answer in time, or an undecodable response), its partitions become
//! [`Suspects`]: they leave the poll and ready lanes and are fetched on a
//! separate probe connection, one request at a time, and a set that breaks
//! it again is halved. Healthy partitions return after their first probe
//! that works; a partition whose probe breaks the connection on its own
//! [`BREAK_ATTEMPTS`](super::suspects::BREAK_ATTEMPTS) times in a row is
//! FAILED with [`PartitionError::FetchBreaksConnection`].
//!
//! Fetch sessions (KIP-227) are not used: a session's requests carry
//! consecutive epochs and are answered one at a time, which does not fit
//! several requests in flight over changing partition sets.
//!
//! [`PartitionError::FetchBreaksConnection`]: crate::PartitionError::FetchBreaksConnection

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::FetchRequest;
use kafka_proto::{TopicRef, Uuid};

use super::budget::Budget;
use super::partition::{FetchSlot, Partition};
use super::state::PartitionKey;
use super::suspects::{SuspectVerdict, Suspects};
use crate::cluster::ClusterMetadata;

/// Fetch requests in flight per source leader, besides one probe. Kafka
/// answers a connection's requests one at a time, so more only queue.
pub(crate) const MAX_FETCHES: usize = 3;

/// Topics whose Fetch uses topic IDs.
const FETCH_TOPIC_ID_VERSION: i16 = 13;

/// Identifies a [`FetchToSend`] in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FetchId(pub(crate) u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// May wait at the broker for data; at most one in flight per leader.
    Poll,
    /// Partitions with data ahead, sent while the poll is out; no wait.
    Ready,
    /// Suspects, alone on the probe connection; no wait.
    Probe,
}

/// Which connection to the leader carries a Fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchConnection {
    /// The pooled connection, shared with the leader's other requests.
    Shared,
    /// A connection of its own, kept for the leader's probes, so a probe
    /// that breaks it leaves the shared one alone.
    Probe,
}

/// One partition in a Fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFetch {
    /// The source partition.
    pub key: PartitionKey,
    /// Its topic's ID.
    pub topic_id: Uuid,
    /// The leader epoch from metadata (-1: unknown).
    pub leader_epoch: i32,
    /// The fetch offset.
    pub offset: i64,
    /// The bytes it may return.
    pub max_bytes: usize,
}

/// A Fetch to send to a source leader.
#[derive(Debug, Clone)]
pub struct FetchToSend {
    /// Answer with this id.
    pub id: FetchId,
    /// The source leader's node id.
    pub node: i32,
    /// Which connection carries it.
    pub connection: FetchConnection,
    /// How long the broker may hold it for data: give it that much longer
    /// than the request timeout.
    pub max_wait: Duration,
    partitions: Vec<PlannedFetch>,
    max_bytes: usize,
}

impl FetchToSend {
    /// The partitions asked for, in request order.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn partitions(&self) -> &[PlannedFetch] {
        &self.partitions
    }

    /// The request at `version`: read_committed, no session, topics by ID
    /// from v13.
    pub fn request(&self, version: i16) -> FetchRequest {
        let cap = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let mut topics: Vec<FetchTopic> = Vec::new();
        for p in &self.partitions {
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
        FetchRequest {
            replica_id: -1,
            max_wait_ms: cap(self.max_wait.as_millis().try_into().unwrap_or(usize::MAX)),
            min_bytes: 1,
            max_bytes: cap(self.max_bytes),
            isolation_level: 1,
            session_id: 0,
            session_epoch: -1,
            topics,
            ..Default::default()
        }
    }
}

/// How a Fetch failed to get a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFailureKind {
    /// No connection could be had: nothing was sent.
    Unsent,
    /// The connection broke under the request (closed, no answer in time,
    /// an undecodable response), which may be the request's own doing.
    Broken,
    /// The request could not be made (no common version, encoding).
    Refused,
}

/// Why a Fetch got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// How.
    pub kind: FetchFailureKind,
    /// The broker, node id and address, when known.
    pub broker: Option<String>,
    /// What happened.
    pub detail: String,
}

/// A Fetch in flight.
#[derive(Debug)]
pub(crate) struct InFlightFetch {
    pub node: i32,
    pub lane: Lane,
    pub partitions: Vec<PlannedFetch>,
    /// Bytes reserved in the budget until the response is applied.
    pub reserved: usize,
}

/// One source leader's lanes.
#[derive(Debug, Default)]
struct NodeLanes {
    /// Poll and ready requests in flight.
    main: usize,
    poll_out: bool,
    probe_out: bool,
    /// The driver holds a probe connection for this leader.
    probe_open: bool,
    suspects: Suspects,
}

/// What a planning pass needs from the engine.
pub(crate) struct FetchInputs<'a> {
    pub partitions: &'a mut BTreeMap<PartitionKey, Partition>,
    pub budget: &'a mut Budget,
    pub meta: &'a ClusterMetadata,
    pub max_wait: Duration,
    pub max_bytes: usize,
    /// Bytes the throttle lets this pass ask for, all requests together;
    /// each request takes its share.
    pub rate_left: usize,
    pub now: Instant,
}

/// What a planning pass produced besides requests.
#[derive(Debug, Default)]
pub(crate) struct FetchNotes {
    /// A partition to fetch has no known leader: metadata is stale.
    pub leader_unknown: bool,
    /// Leaders whose probe connection is no longer needed.
    pub close_probes: Vec<i32>,
}

/// Every source leader's lanes and the requests in flight.
#[derive(Debug, Default)]
pub(crate) struct FetchLanes {
    nodes: BTreeMap<i32, NodeLanes>,
    in_flight: HashMap<FetchId, InFlightFetch>,
    next_id: u64,
    /// Per leader, the partition its last request ended with: the next
    /// request considers the partitions after it first, so that when the
    /// budget admits only some, none waits for ever.
    last_planned: BTreeMap<i32, PartitionKey>,
    /// Which leader is planned first; turns with every pass that sends.
    node_turn: usize,
    /// Turns the order of partitions within a request.
    rotate: usize,
}

impl FetchLanes {
    /// Plans every request that may go now.
    pub fn plan(&mut self, input: &mut FetchInputs<'_>, out: &mut Vec<FetchToSend>) -> FetchNotes {
        let mut notes = FetchNotes::default();
        let mut by_node: BTreeMap<i32, Vec<PartitionKey>> = BTreeMap::new();
        for (key, p) in input.partitions.iter() {
            if !p.wants_fetch(input.now) {
                continue;
            }
            match input.meta.leader(&key.0, key.1) {
                Ok(l) => by_node.entry(l.node_id).or_default().push(key.clone()),
                Err(_) => notes.leader_unknown = true,
            }
        }
        let nodes: Vec<i32> = by_node
            .keys()
            .chain(self.nodes.keys())
            .copied()
            .collect::<BTreeSet<i32>>()
            .into_iter()
            .collect();
        // Leaders take turns at the budget, too.
        let first = self.node_turn % nodes.len().max(1);
        let (before, after) = nodes.split_at(first);
        let planned_before = out.len();
        for &node in after.iter().chain(before) {
            let candidates = by_node.remove(&node).unwrap_or_default();
            let mut lanes = self.nodes.remove(&node).unwrap_or_default();
            if !lanes.probe_out {
                if let Some(sent) = self.plan_probe(node, &mut lanes, input) {
                    out.push(sent);
                }
            }
            while lanes.main < MAX_FETCHES {
                let lane = if lanes.poll_out {
                    Lane::Ready
                } else {
                    Lane::Poll
                };
                // Candidates are in key order: start after the last served.
                let start = self
                    .last_planned
                    .get(&node)
                    .map_or(0, |last| candidates.partition_point(|k| k <= last));
                let (before, after) = candidates.split_at(start);
                let keys = after
                    .iter()
                    .chain(before)
                    .filter(|k| !lanes.suspects.keys.contains(*k));
                let Some((sent, last)) = self.plan_one(node, lane, keys, input) else {
                    break;
                };
                lanes.main += 1;
                lanes.poll_out |= lane == Lane::Poll;
                self.last_planned.insert(node, last);
                out.push(sent);
            }
            if lanes.suspects.sets.is_empty() && !lanes.probe_out && lanes.probe_open {
                lanes.probe_open = false;
                notes.close_probes.push(node);
            }
            let idle = lanes.main == 0 && !lanes.probe_out && !lanes.probe_open;
            if !idle || !lanes.suspects.sets.is_empty() {
                self.nodes.insert(node, lanes);
            }
        }
        if out.len() > planned_before {
            self.node_turn = self.node_turn.wrapping_add(1);
        }
        notes
    }

    /// The first suspect set that may be fetched now, alone on the probe
    /// connection.
    fn plan_probe(
        &mut self,
        node: i32,
        lanes: &mut NodeLanes,
        input: &mut FetchInputs<'_>,
    ) -> Option<FetchToSend> {
        let mut i = 0;
        while i < lanes.suspects.sets.len() {
            // Partitions that left this leader's fetching (failed, paused,
            // done, led elsewhere, gone) leave the suspects.
            let departed: Vec<PartitionKey> = lanes.suspects.sets[i]
                .iter()
                .filter(|k| {
                    !input.partitions.get(*k).is_some_and(|p| {
                        p.fetchable()
                            && input
                                .meta
                                .leader(&k.0, k.1)
                                .is_ok_and(|l| l.node_id == node)
                    })
                })
                .cloned()
                .collect();
            lanes.suspects.sets[i].retain(|k| !departed.contains(k));
            for k in &departed {
                lanes.suspects.forget(k);
            }
            if lanes.suspects.sets[i].is_empty() {
                lanes.suspects.sets.remove(i);
                continue;
            }
            let set = lanes.suspects.sets[i].clone();
            if let Some((sent, _)) = self.plan_one(node, Lane::Probe, set.iter(), input) {
                lanes
                    .suspects
                    .take(i, sent.partitions.iter().map(|p| &p.key));
                lanes.probe_out = true;
                lanes.probe_open = true;
                return Some(sent);
            }
            i += 1;
        }
        None
    }

    /// Picks the partitions of one request among `keys` and marks them in
    /// flight, reserving the request's bytes; with the last partition taken.
    /// `None` when there is nothing to fetch now.
    fn plan_one<'k>(
        &mut self,
        node: i32,
        lane: Lane,
        keys: impl Iterator<Item = &'k PartitionKey>,
        input: &mut FetchInputs<'_>,
    ) -> Option<(FetchToSend, PartitionKey)> {
        let mut global_left = input.budget.global_left().min(input.rate_left);
        let mut planned = Vec::new();
        for key in keys {
            let Some(p) = input.partitions.get(key) else {
                continue;
            };
            if !p.wants_fetch(input.now) || (lane == Lane::Ready && !p.has_data_ahead()) {
                continue;
            }
            let Ok(leader) = input.meta.leader(&key.0, key.1) else {
                continue;
            };
            if leader.node_id != node {
                continue;
            }
            let allowance = input.budget.allowance(p.window().bytes()).min(global_left);
            if allowance == 0 {
                continue;
            }
            global_left -= allowance;
            planned.push(PlannedFetch {
                key: key.clone(),
                topic_id: leader.topic_id,
                leader_epoch: leader.leader_epoch,
                offset: p.position().unwrap_or_default(),
                max_bytes: allowance,
            });
        }
        let last = planned.last()?.key.clone();
        // Brokers fill partitions in request order: rotate so none starves.
        self.rotate = self.rotate.wrapping_add(1);
        let n = self.rotate % planned.len();
        planned.rotate_left(n);
        let asked: usize = planned.iter().map(|p| p.max_bytes).sum();
        let reserved = asked.min(input.max_bytes).min(input.rate_left);
        input.budget.reserve(reserved);
        input.rate_left -= reserved;
        self.next_id += 1;
        let id = FetchId(self.next_id);
        for p in &planned {
            if let Some(part) = input.partitions.get_mut(&p.key) {
                part.set_fetch_slot(FetchSlot::InFlight(id));
            }
        }
        self.in_flight.insert(
            id,
            InFlightFetch {
                node,
                lane,
                partitions: planned.clone(),
                reserved,
            },
        );
        let sent = FetchToSend {
            id,
            node,
            connection: match lane {
                Lane::Probe => FetchConnection::Probe,
                Lane::Poll | Lane::Ready => FetchConnection::Shared,
            },
            max_wait: match lane {
                Lane::Poll => input.max_wait,
                Lane::Ready | Lane::Probe => Duration::ZERO,
            },
            partitions: planned,
            max_bytes: reserved,
        };
        Some((sent, last))
    }

    /// Takes request `id` out of flight, freeing its lane; `None` when it
    /// is not in flight (a late or repeated answer).
    pub fn complete(&mut self, id: FetchId) -> Option<InFlightFetch> {
        let sent = self.in_flight.remove(&id)?;
        if let Some(lanes) = self.nodes.get_mut(&sent.node) {
            match sent.lane {
                Lane::Poll => {
                    lanes.poll_out = false;
                    lanes.main = lanes.main.saturating_sub(1);
                }
                Lane::Ready => lanes.main = lanes.main.saturating_sub(1),
                Lane::Probe => lanes.probe_out = false,
            }
        }
        Some(sent)
    }

    /// A fetch of `key` from `node` worked; returns whether it was a suspect.
    pub fn cleared(&mut self, node: i32, key: &PartitionKey) -> bool {
        self.nodes
            .get_mut(&node)
            .is_some_and(|l| l.suspects.cleared(key))
    }

    /// The connection broke under `sent`: what that makes of its partitions.
    pub fn broke(&mut self, sent: &InFlightFetch) -> SuspectVerdict {
        let keys = sent.partitions.iter().map(|p| p.key.clone()).collect();
        self.nodes
            .entry(sent.node)
            .or_default()
            .suspects
            .broke(keys, sent.lane == Lane::Probe)
    }

    /// A probe failed without breaking the connection: its partitions stay
    /// suspects, probed again after their backoff.
    pub fn probe_again(&mut self, sent: &InFlightFetch) {
        if sent.lane == Lane::Probe {
            let keys = sent.partitions.iter().map(|p| p.key.clone()).collect();
            self.nodes
                .entry(sent.node)
                .or_default()
                .suspects
                .sets
                .push_front(keys);
        }
    }

    /// Requests in flight.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_proto::messages::MetadataResponse;

    /// A source where node 1 leads "t"-0..n.
    fn meta(n: i32) -> ClusterMetadata {
        ClusterMetadata::from_response(&MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9092,
                ..Default::default()
            }],
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                topic_id: Uuid::from_bytes([7; 16]),
                partitions: (0..n)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: 1,
                        leader_epoch: 3,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    /// One planning pass with a 500 ms max wait and a 50 MiB request bound.
    fn plan(
        lanes: &mut FetchLanes,
        partitions: &mut BTreeMap<PartitionKey, Partition>,
        budget: &mut Budget,
        meta: &ClusterMetadata,
        now: Instant,
    ) -> Vec<FetchToSend> {
        let mut out = Vec::new();
        lanes.plan(
            &mut FetchInputs {
                partitions,
                budget,
                meta,
                max_wait: Duration::from_millis(500),
                max_bytes: 50 << 20,
                rate_left: usize::MAX,
                now,
            },
            &mut out,
        );
        out
    }

    fn partitions(n: i32) -> BTreeMap<PartitionKey, Partition> {
        (0..n)
            .map(|i| {
                let mut p = Partition::new("t", "t", i, 5);
                p.positioned(i64::from(i) * 10, None, None, None);
                (("t".to_owned(), i), p)
            })
            .collect()
    }

    #[test]
    fn one_poll_then_ready_requests_over_disjoint_partitions() {
        let meta = meta(4);
        let mut parts = partitions(4);
        let mut budget = Budget::new(1 << 20, 1 << 10);
        let mut lanes = FetchLanes::default();
        let out = plan(&mut lanes, &mut parts, &mut budget, &meta, Instant::now());
        assert_eq!(out.len(), 1, "one poll; nothing else is fetchable");
        let poll = &out[0];
        assert_eq!(
            (poll.node, poll.connection, poll.max_wait),
            (1, FetchConnection::Shared, Duration::from_millis(500))
        );
        assert_eq!(poll.partitions().len(), 4);
        let r = poll.request(12);
        assert_eq!(
            (r.isolation_level, r.max_bytes, r.max_wait_ms),
            (1, 4096, 500)
        );
        assert_eq!(r.topics[0].topic, TopicRef::Name("t".into()));
        assert_eq!(r.topics[0].partitions[0].current_leader_epoch, 3);
        assert_eq!(
            poll.request(13).topics[0].topic,
            TopicRef::Id(Uuid::from_bytes([7; 16]))
        );
        assert_eq!(budget.reserved(), 4096);
        // Partition 2 comes back: it goes in a ready request that does not wait.
        let done = lanes.complete(poll.id).unwrap();
        budget.unreserve(done.reserved);
        for p in parts.values_mut() {
            if p.index() != 2 {
                p.set_fetch_slot(FetchSlot::InFlight(FetchId(99)));
            } else {
                p.set_fetch_slot(FetchSlot::Idle);
            }
        }
        let out = plan(&mut lanes, &mut parts, &mut budget, &meta, Instant::now());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].partitions()[0].key.1, 2);
        assert!(lanes.complete(out[0].id).is_some());
        assert!(lanes.complete(out[0].id).is_none(), "answered once");
    }

    #[test]
    fn a_broken_fetch_sends_its_partitions_to_the_probe_connection() {
        let meta = meta(2);
        let mut parts = partitions(2);
        let mut budget = Budget::new(1 << 20, 1 << 10);
        let mut lanes = FetchLanes::default();
        let now = Instant::now();
        let out = plan(&mut lanes, &mut parts, &mut budget, &meta, now);
        let sent = lanes.complete(out[0].id).unwrap();
        budget.unreserve(sent.reserved);
        assert_eq!(lanes.broke(&sent), SuspectVerdict::Suspect);
        for p in parts.values_mut() {
            p.set_fetch_slot(FetchSlot::Idle);
        }
        let out = plan(&mut lanes, &mut parts, &mut budget, &meta, now);
        assert_eq!(out.len(), 1, "only the probe: both partitions are suspects");
        assert_eq!(out[0].connection, FetchConnection::Probe);
        assert_eq!(out[0].max_wait, Duration::ZERO);
        assert_eq!(out[0].partitions().len(), 1, "halved");
    }
}
