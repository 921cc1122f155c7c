//! What a finished mirror returns.

use std::time::Duration;

use super::status::{PartitionStatus, Totals};

/// The result of a mirror run: what was copied, what was committed and what
/// failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How long the mirror ran.
    pub elapsed: Duration,
    /// Totals over every partition.
    pub totals: Totals,
    /// Final status of every partition, committed offsets included.
    pub partitions: Vec<PartitionStatus>,
    /// Whether every partition's in-flight data was acknowledged and
    /// committed before the end (false when the drain timed out).
    pub drained: bool,
}

impl Summary {
    /// Partitions that ended FAILED.
    pub fn failed(&self) -> impl Iterator<Item = &PartitionStatus> {
        self.partitions
            .iter()
            .filter(|p| p.state == super::status::PartitionState::Failed)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.totals;
        write!(
            f,
            "mirrored {} records ({} bytes, {} batches) over {} partitions in {:.1?}; {} errors, {} aborted batches dropped, {} offsets lost on the source",
            t.records,
            t.bytes,
            t.batches,
            self.partitions.len(),
            self.elapsed,
            t.errors,
            t.aborted_batches,
            t.lost_offsets
        )?;
        for p in self.failed() {
            write!(
                f,
                "\n  FAILED {}-{}: {}",
                p.source_topic,
                p.partition,
                p.reason.as_deref().unwrap_or("no reason recorded")
            )?;
        }
        Ok(())
    }
}
