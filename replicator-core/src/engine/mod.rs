//! The forwarding engine.
//!
//! [`EngineState`] is the whole mirror as a sans-io state machine: it owns
//! every partition, the budget, the producer and the offsets, and advances
//! only through its methods, with time passed in. The [`driver`] runs it on
//! tokio against real clusters; the deterministic simulation
//! (`replicator-core/tests/simulation`) and the benches drive the same
//! methods.
//!
//! One module per idea:
//!
//! | module | idea |
//! | --- | --- |
//! | [`state`] | the state machine and its methods; the mirror's lifecycle |
//! | [`partition`] | one partition: condition, position, window, counters |
//! | [`sorting`] | what becomes of each fetched batch: forward, drop, stop |
//! | [`aborted`] | the read_committed filter of aborted transactions |
//! | [`fetch`] | Fetch planning: lanes per source leader, the budget share |
//! | [`suspects`] | partitions whose Fetch breaks the connection |
//! | [`window`] | a partition's idempotent sequence window |
//! | [`producer`] | the target producer id and its re-initialisation |
//! | [`produce`] | Produce requests: batching per leader, encoding, answers |
//! | [`positioning`] | where partitions start, and offset resets |
//! | [`commit`] | commits to the source group, and the commit gate |
//! | [`budget`] | the bound on bytes fetched and not acknowledged |
//! | [`metrics`] | the metric names and their publication |
//! | [`driver`] | the tokio tasks that move bytes |

mod aborted;
mod budget;
mod commit;
mod driver;
mod fetch;
pub mod metrics;
mod partition;
mod positioning;
mod produce;
mod producer;
mod sorting;
mod state;
mod suspects;
mod throttle;
mod window;

pub(crate) use driver::Engine;

#[cfg(feature = "internals")]
pub use commit::{CommitEntry, CommitGate, CommitId, CommitToSend};
#[cfg(feature = "internals")]
pub use fetch::{
    FetchConnection, FetchFailure, FetchFailureKind, FetchId, FetchToSend, PlannedFetch,
};
#[cfg(feature = "internals")]
pub use positioning::{
    LogBounds, PositionAnswer, PositionFailure, PositionId, PositionPurpose, PositionRequest,
};
#[cfg(feature = "internals")]
pub use produce::{ProduceBatch, ProduceId, ProduceToSend};
#[cfg(feature = "internals")]
pub use state::{EngineEvent, EngineState, PartitionKey, Side, TopicSetup};
#[cfg(feature = "internals")]
pub use window::ToSend;
