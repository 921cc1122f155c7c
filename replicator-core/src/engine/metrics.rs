//! The metrics a mirror reports, and their names as constants.
//!
//! Besides [`MirrorHandle::status`](crate::MirrorHandle::status), a
//! running mirror reports through the [`metrics`](https://docs.rs/metrics)
//! facade: install a recorder (e.g. a Prometheus exporter) **before**
//! [`Mirror::start`](crate::Mirror::start), since each partition's handles
//! are registered with the recorder in place when the partition joins the
//! mirror. Without a recorder this costs nothing.
//!
//! The driver publishes at most every 50 ms while the mirror changes, and
//! once more when it ends, from the same per-partition [`Totals`] that
//! [`Status`](crate::Status) and [`Summary`](crate::Summary) show; counters
//! grow by the difference since the previous publish, so they never count
//! twice. Every metric carries the labels `group` (the consumer group),
//! `source_topic`, `target_topic` and `partition`. The names are the
//! constants below.
//!
//! | Name | Kind | Unit | What |
//! | --- | --- | --- | --- |
//! | `replicator_mirror_records_total` | counter | records | Records acknowledged by the target |
//! | `replicator_mirror_bytes_total` | counter | bytes | Batch bytes acknowledged by the target |
//! | `replicator_mirror_batches_total` | counter | batches | Batches acknowledged by the target |
//! | `replicator_mirror_errors_total` | counter | errors | Errors seen, retried or not |
//! | `replicator_mirror_aborted_batches_dropped_total` | counter | batches | Batches of aborted transactions dropped |
//! | `replicator_mirror_control_batches_dropped_total` | counter | batches | Control batches (transaction markers) dropped |
//! | `replicator_mirror_lost_offsets_total` | counter | offsets | Source offsets skipped after OFFSET_OUT_OF_RANGE (data gone from the source before it was mirrored) |
//! | `replicator_mirror_lag_records` | gauge | records | Records on the source (up to the last high watermark seen) not yet acknowledged by the target |
//! | `replicator_mirror_bytes_in_flight` | gauge | bytes | Bytes fetched and not yet acknowledged by the target |
//!
//! With a throttle set, two more carry only the label `group`:
//!
//! | Name | Kind | Unit | What |
//! | --- | --- | --- | --- |
//! | `replicator_mirror_throttle_bytes_per_second` | gauge | bytes/s | The configured rate on fetched bytes |
//! | `replicator_mirror_throttled_seconds` | gauge | seconds | Time fetching has waited for the rate since the mirror started |

use std::collections::BTreeMap;

use metrics::{Counter, Gauge, Label, Unit};

use super::state::PartitionKey;
use crate::model::{ThrottleStatus, Totals};

/// Least time between two publishes while the mirror runs.
pub(crate) const PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// One partition's figures, as the engine reports them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionFigures<'a> {
    pub source_topic: &'a str,
    pub target_topic: &'a str,
    pub partition: i32,
    pub totals: &'a Totals,
    pub lag: i64,
    pub bytes_in_flight: usize,
}

/// Records acknowledged by the target.
pub const RECORDS: &str = "replicator_mirror_records_total";
/// Batch bytes acknowledged by the target.
pub const BYTES: &str = "replicator_mirror_bytes_total";
/// Batches acknowledged by the target.
pub const BATCHES: &str = "replicator_mirror_batches_total";
/// Errors seen, retried or not.
pub const ERRORS: &str = "replicator_mirror_errors_total";
/// Batches of aborted transactions dropped.
pub const ABORTED_BATCHES: &str = "replicator_mirror_aborted_batches_dropped_total";
/// Control batches dropped.
pub const CONTROL_BATCHES: &str = "replicator_mirror_control_batches_dropped_total";
/// Source offsets skipped after OFFSET_OUT_OF_RANGE.
pub const LOST_OFFSETS: &str = "replicator_mirror_lost_offsets_total";
/// Records on the source not yet acknowledged by the target.
pub const LAG: &str = "replicator_mirror_lag_records";
/// Bytes fetched and not yet acknowledged.
pub const BYTES_IN_FLIGHT: &str = "replicator_mirror_bytes_in_flight";
/// The throttle's rate on fetched bytes.
pub const THROTTLE_RATE: &str = "replicator_mirror_throttle_bytes_per_second";
/// Time fetching has waited for the throttle.
pub const THROTTLED: &str = "replicator_mirror_throttled_seconds";

/// One partition's registered handles and the totals already published.
#[derive(Debug)]
struct Handles {
    records: Counter,
    bytes: Counter,
    batches: Counter,
    errors: Counter,
    aborted_batches: Counter,
    control_batches: Counter,
    lost_offsets: Counter,
    lag: Gauge,
    bytes_in_flight: Gauge,
    published: Totals,
}

impl Handles {
    fn register(group: &str, p: &PartitionFigures<'_>) -> Self {
        let labels = [
            Label::new("group", group.to_owned()),
            Label::new("source_topic", p.source_topic.to_owned()),
            Label::new("target_topic", p.target_topic.to_owned()),
            Label::new("partition", p.partition.to_string()),
        ];
        Self {
            records: metrics::counter!(RECORDS, labels.iter()),
            bytes: metrics::counter!(BYTES, labels.iter()),
            batches: metrics::counter!(BATCHES, labels.iter()),
            errors: metrics::counter!(ERRORS, labels.iter()),
            aborted_batches: metrics::counter!(ABORTED_BATCHES, labels.iter()),
            control_batches: metrics::counter!(CONTROL_BATCHES, labels.iter()),
            lost_offsets: metrics::counter!(LOST_OFFSETS, labels.iter()),
            lag: metrics::gauge!(LAG, labels.iter()),
            bytes_in_flight: metrics::gauge!(BYTES_IN_FLIGHT, labels.iter()),
            published: Totals::default(),
        }
    }

    fn publish(&mut self, p: &PartitionFigures<'_>) {
        let (now, was) = (p.totals, &self.published);
        let pairs = [
            (&self.records, now.records, was.records),
            (&self.bytes, now.bytes, was.bytes),
            (&self.batches, now.batches, was.batches),
            (&self.errors, now.errors, was.errors),
            (
                &self.aborted_batches,
                now.aborted_batches,
                was.aborted_batches,
            ),
            (
                &self.control_batches,
                now.control_batches,
                was.control_batches,
            ),
            (&self.lost_offsets, now.lost_offsets, was.lost_offsets),
        ];
        for (counter, now, was) in pairs {
            if now > was {
                counter.increment(now - was);
            }
        }
        self.published = *now;
        self.lag.set(p.lag as f64);
        self.bytes_in_flight.set(p.bytes_in_flight as f64);
    }
}

/// Publishes every partition's figures; handles are registered with the
/// recorder in place when a partition is first seen.
#[derive(Debug)]
pub(crate) struct Publisher {
    group: String,
    partitions: BTreeMap<PartitionKey, Handles>,
    throttle: Option<(Gauge, Gauge)>,
}

impl Publisher {
    /// A publisher for the mirror of consumer group `group`; describes the
    /// metrics to the recorder.
    pub fn new(group: &str) -> Self {
        let counters = [
            (RECORDS, Unit::Count, "Records acknowledged by the target"),
            (BYTES, Unit::Bytes, "Batch bytes acknowledged by the target"),
            (BATCHES, Unit::Count, "Batches acknowledged by the target"),
            (ERRORS, Unit::Count, "Errors seen (retried or not)"),
            (
                ABORTED_BATCHES,
                Unit::Count,
                "Batches of aborted transactions dropped",
            ),
            (CONTROL_BATCHES, Unit::Count, "Control batches dropped"),
            (
                LOST_OFFSETS,
                Unit::Count,
                "Source offsets skipped after OFFSET_OUT_OF_RANGE",
            ),
        ];
        for (name, unit, help) in counters {
            metrics::describe_counter!(name, unit, help);
        }
        metrics::describe_gauge!(
            LAG,
            Unit::Count,
            "Records on the source not yet acknowledged by the target"
        );
        metrics::describe_gauge!(
            BYTES_IN_FLIGHT,
            Unit::Bytes,
            "Bytes fetched and not yet acknowledged by the target"
        );
        Self {
            group: group.to_owned(),
            partitions: BTreeMap::new(),
            throttle: None,
        }
    }

    /// The throttle's gauges, when one is set.
    pub fn publish_throttle(&mut self, throttle: Option<ThrottleStatus>) {
        let Some(t) = throttle else {
            return;
        };
        let group = &self.group;
        let (rate, waited) = self.throttle.get_or_insert_with(|| {
            metrics::describe_gauge!(
                THROTTLE_RATE,
                Unit::Bytes,
                "The throttle's rate on fetched bytes per second"
            );
            metrics::describe_gauge!(
                THROTTLED,
                Unit::Seconds,
                "Time fetching has waited for the throttle"
            );
            let labels = [Label::new("group", group.clone())];
            (
                metrics::gauge!(THROTTLE_RATE, labels.iter()),
                metrics::gauge!(THROTTLED, labels.iter()),
            )
        });
        rate.set(t.bytes_per_second as f64);
        waited.set(t.throttled.as_secs_f64());
    }

    /// Counter increments since the last call, and current gauges.
    pub fn publish<'a>(
        &mut self,
        partitions: impl IntoIterator<Item = (&'a PartitionKey, PartitionFigures<'a>)>,
    ) {
        for (key, p) in partitions {
            self.partitions
                .entry(key.clone())
                .or_insert_with(|| Handles::register(&self.group, &p))
                .publish(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::*;

    /// Counters and gauges by name and sorted labels, as `AtomicU64`s
    /// (gauges hold `f64` bits).
    #[derive(Debug, Default)]
    struct Local {
        values: Mutex<HashMap<String, Arc<AtomicU64>>>,
        described: Mutex<Vec<String>>,
    }

    impl Local {
        fn id(key: &Key) -> String {
            let mut labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            format!("{}{{{}}}", key.name(), labels.join(","))
        }

        fn cell(&self, key: &Key) -> Arc<AtomicU64> {
            Arc::clone(
                self.values
                    .lock()
                    .unwrap()
                    .entry(Self::id(key))
                    .or_default(),
            )
        }

        fn counter(&self, id: &str) -> u64 {
            self.values.lock().unwrap()[id].load(Ordering::Relaxed)
        }

        fn gauge(&self, id: &str) -> f64 {
            f64::from_bits(self.counter(id))
        }
    }

    impl Recorder for Local {
        fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
            self.described.lock().unwrap().push(key.as_str().to_owned());
        }
        fn describe_gauge(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
            self.described.lock().unwrap().push(key.as_str().to_owned());
        }
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(self.cell(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(self.cell(key))
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn counters_move_by_the_difference_and_gauges_follow_the_partition() {
        let local = Local::default();
        let key: PartitionKey = ("orders".to_owned(), 3);
        let labels = "group=g,partition=3,source_topic=orders,target_topic=east.orders";
        let id = |name: &str| format!("{name}{{{labels}}}");
        let mut publisher = metrics::with_local_recorder(&local, || Publisher::new("g"));
        assert!(local.described.lock().unwrap().contains(&RECORDS.into()));
        fn figures(totals: &Totals, lag: i64, held: usize) -> PartitionFigures<'_> {
            PartitionFigures {
                source_topic: "orders",
                target_topic: "east.orders",
                partition: 3,
                totals,
                lag,
                bytes_in_flight: held,
            }
        }
        let mut totals = Totals::default();
        metrics::with_local_recorder(&local, || {
            publisher.publish([(&key, figures(&totals, 10, 300))])
        });
        assert_eq!(local.counter(&id(RECORDS)), 0);
        assert_eq!(local.gauge(&id(LAG)), 10.0);
        assert_eq!(local.gauge(&id(BYTES_IN_FLIGHT)), 300.0);

        totals.records = 3;
        totals.bytes = 300;
        totals.batches = 1;
        totals.errors = 2;
        totals.aborted_batches = 1;
        totals.control_batches = 1;
        totals.lost_offsets = 4;
        // The handles were registered on the first publish: the recorder
        // need not be in scope any more.
        publisher.publish([(&key, figures(&totals, 7, 0))]);
        publisher.publish([(&key, figures(&totals, 7, 0))]); // nothing new: no double count
        assert_eq!(local.counter(&id(RECORDS)), 3);
        assert_eq!(local.counter(&id(BYTES)), 300);
        assert_eq!(local.counter(&id(BATCHES)), 1);
        assert_eq!(local.counter(&id(ERRORS)), 2);
        assert_eq!(local.counter(&id(ABORTED_BATCHES)), 1);
        assert_eq!(local.counter(&id(CONTROL_BATCHES)), 1);
        assert_eq!(local.counter(&id(LOST_OFFSETS)), 4);
        assert_eq!(local.gauge(&id(LAG)), 7.0);
        assert_eq!(local.gauge(&id(BYTES_IN_FLIGHT)), 0.0);
    }
}
