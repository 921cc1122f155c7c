//! What one seed runs: the clusters' shape, the data written, the mirror's
//! settings and which faults strike how often. All drawn from the seed, so
//! the same seed is the same run.

use crate::rng::SimRng;

/// Faults and their rates. A mean of 0 switches a fault off.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Mean virtual ms between leader moves, on either side.
    pub leader_move_ms: u64,
    /// Mean virtual ms between dropped connections.
    pub drop_ms: u64,
    /// Mean virtual ms between crashes of the mirror (all memory lost).
    pub crash_ms: u64,
    /// Mean virtual ms between retention deleting the start of a source log.
    pub retention_ms: u64,
    /// Mean virtual ms between a target partition losing its producers' state.
    pub producer_state_loss_ms: u64,
    /// Chance that a Fetch partition, Produce partition or OffsetCommit
    /// partition answers an injected error.
    pub fetch_error: f64,
    pub produce_error: f64,
    pub commit_error: f64,
    /// Share of injected errors that are fatal (not retriable).
    pub fatal_share: f64,
    /// Chance that positioning, or InitProducerId, fails.
    pub admin_error: f64,
    /// Chance that a Produce is acknowledged slowly (up to 3 s).
    pub slow_ack: f64,
    /// Chance that a response is delivered twice.
    pub duplicate_response: f64,
    /// Chance that a request finds no connection (nothing sent).
    pub unsent: f64,
}

impl Faults {
    fn none() -> Self {
        Self {
            leader_move_ms: 0,
            drop_ms: 0,
            crash_ms: 0,
            retention_ms: 0,
            producer_state_loss_ms: 0,
            fetch_error: 0.0,
            produce_error: 0.0,
            commit_error: 0.0,
            fatal_share: 0.0,
            admin_error: 0.0,
            slow_ack: 0.0,
            duplicate_response: 0.0,
            unsent: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scenario {
    /// Topics at start: name and partitions.
    pub topics: Vec<(String, i32)>,
    /// A topic created later, found by topic discovery: name, partitions,
    /// virtual ms.
    pub late_topic: Option<(String, i32, u64)>,
    /// Prefix the target names with this alias.
    pub rename: Option<String>,
    pub source_nodes: i32,
    pub target_nodes: i32,
    /// Data records written per partition.
    pub records: u64,
    /// Mean virtual ms between source appends.
    pub write_every_ms: u64,
    /// Chance an append starts or continues a transaction; chance a
    /// transaction aborts.
    pub transactions: f64,
    pub aborts: f64,
    pub fetch_version: i16,
    pub produce_version: i16,
    /// Kafka before 2.5: UNKNOWN_PRODUCER_ID and DUPLICATE_SEQUENCE_NUMBER.
    pub legacy_broker: bool,
    pub max_in_flight: usize,
    pub max_bytes: usize,
    pub max_partition_bytes: usize,
    pub fetch_max_wait_ms: u64,
    pub commit_interval_ms: u64,
    pub topic_refresh_ms: u64,
    /// Mean one-way network delay.
    pub latency_ms: u64,
    /// Faults strike until this virtual ms; then the cluster heals.
    pub heal_at_ms: u64,
    pub faults: Faults,
}

impl Scenario {
    pub fn from_seed(rng: &mut SimRng) -> Self {
        let topics = (0..rng.range(1, 2))
            .map(|i| (format!("t{i}"), rng.range(1, 3) as i32))
            .collect();
        let late_topic = rng.chance(0.3).then(|| {
            (
                "late".to_owned(),
                rng.range(1, 2) as i32,
                rng.range(1_000, 15_000),
            )
        });
        let by_id = rng.chance(0.5);
        // Some seeds run without faults: the baseline must be exact too.
        let calm = rng.chance(0.1);
        let mut faults = Faults::none();
        if !calm {
            let on = |rng: &mut SimRng, p: f64, lo: u64, hi: u64| {
                let mean = rng.range(lo, hi);
                if rng.chance(p) {
                    mean
                } else {
                    0
                }
            };
            faults = Faults {
                leader_move_ms: on(rng, 0.7, 1_000, 6_000),
                drop_ms: on(rng, 0.7, 500, 5_000),
                crash_ms: on(rng, 0.5, 3_000, 15_000),
                retention_ms: on(rng, 0.15, 5_000, 20_000),
                // A target broker forgets producers idle for 30 s. Only
                // older brokers say so (UNKNOWN_PRODUCER_ID); Kafka 2.5+
                // takes any sequence from a producer it has no state for,
                // so it is simulated with the older rule only.
                producer_state_loss_ms: on(rng, 0.3, 2_000, 10_000),
                fetch_error: [0.0, 0.02, 0.1][rng.range(0, 2) as usize],
                produce_error: [0.0, 0.02, 0.1][rng.range(0, 2) as usize],
                commit_error: [0.0, 0.05, 0.2][rng.range(0, 2) as usize],
                fatal_share: [0.0, 0.1, 0.3][rng.range(0, 2) as usize],
                admin_error: [0.0, 0.1][rng.range(0, 1) as usize],
                slow_ack: [0.0, 0.05, 0.2][rng.range(0, 2) as usize],
                duplicate_response: [0.0, 0.05][rng.range(0, 1) as usize],
                unsent: [0.0, 0.02][rng.range(0, 1) as usize],
            };
        }
        Scenario {
            topics,
            late_topic,
            rename: rng.chance(0.3).then(|| "src".to_owned()),
            source_nodes: rng.range(1, 3) as i32,
            target_nodes: rng.range(1, 3) as i32,
            records: rng.range(30, 300),
            write_every_ms: rng.range(2, 40),
            transactions: [0.0, 0.2, 0.5][rng.range(0, 2) as usize],
            aborts: rng.range(0, 50) as f64 / 100.0,
            fetch_version: if by_id { 13 } else { 12 },
            produce_version: if by_id { 13 } else { 9 },
            legacy_broker: rng.chance(0.3),
            max_in_flight: rng.range(1, 5) as usize,
            max_bytes: [2 << 10, 8 << 10, 64 << 10][rng.range(0, 2) as usize],
            max_partition_bytes: [512, 2 << 10, 16 << 10][rng.range(0, 2) as usize],
            fetch_max_wait_ms: rng.range(10, 500),
            commit_interval_ms: rng.range(50, 2_000),
            topic_refresh_ms: rng.range(500, 5_000),
            latency_ms: rng.range(0, 20),
            heal_at_ms: rng.range(5_000, 30_000),
            faults,
        }
    }
}
