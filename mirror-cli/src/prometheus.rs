//! `/metrics`: the engine's metrics (see `replicator_core::metric_names`) through
//! `metrics-exporter-prometheus`, each labelled with its `flow`, plus what
//! the command reads from each mirror's status at scrape time: partition
//! state, the ages of the last fetch and produce, and each flow's phase.
//!
//! The exporter is the process's global `metrics` recorder, installed once,
//! before the first mirror starts (the engine registers a partition's
//! metrics when the partition joins).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use replicator_core::PartitionState;

use crate::board::{age, FlowView};

/// Gauge: 1 for the partition's current state (label `state`), 0 for the
/// others.
pub const PARTITION_STATE: &str = "replicator_mirror_partition_state";
/// Gauge: seconds since the partition's last fetch that returned data or
/// reached the end of the log.
pub const LAST_FETCH_AGE: &str = "replicator_mirror_last_fetch_age_seconds";
/// Gauge: seconds since the partition's last produce acknowledged by the
/// target.
pub const LAST_PRODUCE_AGE: &str = "replicator_mirror_last_produce_age_seconds";
/// Gauge: 1 for the flow's current phase (label `phase`: starting,
/// running, finished, failed), 0 for the others.
pub const FLOW_PHASE: &str = "replicator_mirror_flow_phase";

const STATES: [PartitionState; 6] = [
    PartitionState::Active,
    PartitionState::Paused,
    PartitionState::SourceUnavailable,
    PartitionState::TargetUnavailable,
    PartitionState::Failed,
    PartitionState::CaughtUp,
];
const PHASES: [&str; 4] = ["starting", "running", "finished", "failed"];

/// The installed exporter.
#[derive(Debug)]
pub struct Exporter {
    handle: PrometheusHandle,
    /// Consumer group → flow, for the `flow` label.
    flows: Arc<RwLock<HashMap<String, String>>>,
}

static EXPORTER: OnceLock<Result<Exporter, String>> = OnceLock::new();

/// The process's exporter, installed as the global recorder on first use.
/// Fails when another recorder was installed first.
pub fn exporter() -> Result<&'static Exporter, String> {
    EXPORTER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let flows = Arc::new(RwLock::new(HashMap::new()));
            metrics::set_global_recorder(FlowLabelled {
                inner: recorder,
                flows: Arc::clone(&flows),
            })
            .map_err(|_| {
                "another metrics recorder is installed in this process; /metrics needs its own"
                    .to_owned()
            })?;
            metrics::describe_gauge!(
                PARTITION_STATE,
                "1 for the partition's current state (label state), 0 for the others"
            );
            metrics::describe_gauge!(
                LAST_FETCH_AGE,
                Unit::Seconds,
                "Seconds since the partition's last fetch that returned data or reached the end of the log"
            );
            metrics::describe_gauge!(
                LAST_PRODUCE_AGE,
                Unit::Seconds,
                "Seconds since the partition's last produce acknowledged by the target"
            );
            metrics::describe_gauge!(
                FLOW_PHASE,
                "1 for the flow's current phase (label phase), 0 for the others"
            );
            Ok(Exporter { handle, flows })
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Exporter {
    /// Labels the metrics of consumer group `group` with `flow`.
    pub fn add_flow(&self, group: &str, flow: &str) {
        self.flows
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(group.to_owned(), flow.to_owned());
    }

    /// The exposition: the status gauges set from `flows`, then every
    /// metric in Prometheus text format.
    pub fn render(&self, flows: &[FlowView]) -> String {
        let now = SystemTime::now();
        for f in flows {
            for phase in PHASES {
                let labels = [
                    Label::new("flow", f.name.clone()),
                    Label::new("group", f.group.clone()),
                    Label::new("phase", phase),
                ];
                metrics::gauge!(FLOW_PHASE, labels.iter())
                    .set(f64::from(u8::from(f.phase == phase)));
            }
            for p in f.status.iter().flat_map(|s| &s.partitions) {
                let labels = [
                    Label::new("flow", f.name.clone()),
                    Label::new("group", f.group.clone()),
                    Label::new("source_topic", p.source_topic.clone()),
                    Label::new("target_topic", p.target_topic.clone()),
                    Label::new("partition", p.partition.to_string()),
                ];
                for state in STATES {
                    let mut l = labels.to_vec();
                    l.push(Label::new("state", state.as_str()));
                    metrics::gauge!(PARTITION_STATE, l.iter())
                        .set(f64::from(u8::from(p.state == state)));
                }
                if let Some(a) = age(p.last_fetch, now) {
                    metrics::gauge!(LAST_FETCH_AGE, labels.iter()).set(a);
                }
                if let Some(a) = age(p.last_produce, now) {
                    metrics::gauge!(LAST_PRODUCE_AGE, labels.iter()).set(a);
                }
            }
        }
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// Adds a `flow` label to every metric that has a `group` label of a known
/// flow (the engine labels by consumer group, which is unique per flow).
#[derive(Debug)]
struct FlowLabelled<R> {
    inner: R,
    flows: Arc<RwLock<HashMap<String, String>>>,
}

impl<R> FlowLabelled<R> {
    fn labelled(&self, key: &Key) -> Key {
        if key.labels().any(|l| l.key() == "flow") {
            return key.clone();
        }
        let flows = self.flows.read().unwrap_or_else(|e| e.into_inner());
        let flow = key
            .labels()
            .find(|l| l.key() == "group")
            .and_then(|g| flows.get(g.value()));
        match flow {
            Some(flow) => key.with_extra_labels(vec![Label::new("flow", flow.clone())]),
            None => key.clone(),
        }
    }
}

impl<R: Recorder> Recorder for FlowLabelled<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.register_counter(&self.labelled(key), metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(&self.labelled(key), metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(&self.labelled(key), metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_label_is_added_by_group() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let r = FlowLabelled {
            inner: recorder,
            flows: Arc::new(RwLock::new(HashMap::from([(
                "g1".to_owned(),
                "a->b".to_owned(),
            )]))),
        };
        let meta = metrics::Metadata::new("t", metrics::Level::INFO, None);
        let key = |group: &str| {
            Key::from_parts(
                "replicator_mirror_records_total",
                vec![
                    Label::new("group", group.to_owned()),
                    Label::new("partition", "0"),
                ],
            )
        };
        r.register_counter(&key("g1"), &meta).increment(3);
        r.register_counter(&key("other"), &meta).increment(1);
        let text = handle.render();
        assert!(
            text.contains(
                r#"replicator_mirror_records_total{group="g1",partition="0",flow="a->b"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"replicator_mirror_records_total{group="other",partition="0"} 1"#),
            "{text}"
        );
    }
}
