//! What every flow is doing right now, shared by the run loop (which
//! writes it) and the HTTP endpoints (which read it): each flow's phase and
//! its mirror's live [`Status`], as JSON for `/status` and as a verdict for
//! `/healthz`.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use replicator_core::{MirrorControl, PartitionState, PartitionStatus, Status, Summary, Totals};
use serde_json::{json, Value};

/// Where a flow is in its life.
#[derive(Debug, Clone)]
pub enum Phase {
    /// Connecting, setting up target topics, positioning partitions.
    Starting,
    /// Copying.
    Running(MirrorControl),
    /// Ended with a summary (caught up, or stopped).
    Finished(Status),
    /// Could not start, or failed.
    Failed(String),
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running(_) => "running",
            Phase::Finished(_) => "finished",
            Phase::Failed(_) => "failed",
        }
    }
}

#[derive(Debug)]
struct Flow {
    name: String,
    group: String,
    phase: Phase,
}

/// Every flow of the run, in file order.
#[derive(Debug, Default)]
pub struct Board {
    flows: Mutex<Vec<Flow>>,
}

/// One flow as read from the board.
#[derive(Debug, Clone)]
pub struct FlowView {
    /// `source->target`.
    pub name: String,
    /// Its consumer group.
    pub group: String,
    /// Its phase.
    pub phase: &'static str,
    /// Why it failed.
    pub error: Option<String>,
    /// The mirror's status, once started.
    pub status: Option<Status>,
}

impl Board {
    /// A board of `(flow, group)` pairs, each starting.
    pub fn new(flows: impl IntoIterator<Item = (String, String)>) -> Arc<Self> {
        Arc::new(Self {
            flows: Mutex::new(
                flows
                    .into_iter()
                    .map(|(name, group)| Flow {
                        name,
                        group,
                        phase: Phase::Starting,
                    })
                    .collect(),
            ),
        })
    }

    /// Sets `flow`'s phase.
    pub fn set(&self, flow: &str, phase: Phase) {
        let mut flows = self.flows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = flows.iter_mut().find(|f| f.name == flow) {
            f.phase = phase;
        }
    }

    /// `flow` ended: finished with `summary`, or failed.
    pub fn ended(&self, flow: &str, result: Result<&Summary, String>) {
        self.set(
            flow,
            match result {
                Ok(s) => Phase::Finished(Status {
                    partitions: s.partitions.clone(),
                    totals: s.totals,
                    bytes_in_flight: 0,
                    throttle: None,
                }),
                Err(e) => Phase::Failed(e),
            },
        );
    }

    /// Every flow, with the live status of running ones.
    pub fn read(&self) -> Vec<FlowView> {
        let flows: Vec<(String, String, Phase)> = {
            let flows = self.flows.lock().unwrap_or_else(|e| e.into_inner());
            flows
                .iter()
                .map(|f| (f.name.clone(), f.group.clone(), f.phase.clone()))
                .collect()
        };
        flows
            .into_iter()
            .map(|(name, group, phase)| FlowView {
                name,
                group,
                phase: phase.name(),
                error: match &phase {
                    Phase::Failed(e) => Some(e.clone()),
                    _ => None,
                },
                status: match phase {
                    Phase::Running(c) => Some(c.status()),
                    Phase::Finished(s) => Some(s),
                    Phase::Starting | Phase::Failed(_) => None,
                },
            })
            .collect()
    }
}

fn millis(t: Option<SystemTime>) -> Value {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(Value::Null, |d| json!(d.as_millis() as u64))
}

/// Seconds from `t` to `now`, when there is a `t`.
pub fn age(t: Option<SystemTime>, now: SystemTime) -> Option<f64> {
    t.map(|t| now.duration_since(t).unwrap_or_default().as_secs_f64())
}

fn totals(t: &Totals) -> Value {
    json!({
        "records": t.records,
        "bytes": t.bytes,
        "batches": t.batches,
        "errors": t.errors,
        "aborted_batches": t.aborted_batches,
        "control_batches": t.control_batches,
        "lost_offsets": t.lost_offsets,
    })
}

fn partition(p: &PartitionStatus, now: SystemTime) -> Value {
    json!({
        "source_topic": p.source_topic,
        "target_topic": p.target_topic,
        "partition": p.partition,
        "state": p.state.as_str(),
        "reason": p.reason,
        "high_watermark": p.high_watermark,
        "position": p.position,
        "committed_offset": p.committed_offset,
        "lag": p.lag,
        "end_offset": p.end_offset,
        "to_end": p.to_end,
        "bytes_in_flight": p.bytes_in_flight,
        "last_fetch_ms": millis(p.last_fetch),
        "last_fetch_age_s": age(p.last_fetch, now),
        "last_produce_ms": millis(p.last_produce),
        "last_produce_age_s": age(p.last_produce, now),
        "totals": totals(&p.totals),
    })
}

/// `/status`: every flow, its phase and its mirror's status.
pub fn status_json(flows: &[FlowView], now: SystemTime) -> Value {
    let flows: Vec<Value> = flows
        .iter()
        .map(|f| {
            let mut v = json!({
                "flow": f.name,
                "group": f.group,
                "phase": f.phase,
                "error": f.error,
            });
            if let Some(s) = &f.status {
                v["lag"] = json!(s.lag());
                v["to_end"] = json!(s.to_end());
                v["bytes_in_flight"] = json!(s.bytes_in_flight);
                if let Some(t) = &s.throttle {
                    v["throttle"] = json!({
                        "bytes_per_second": t.bytes_per_second,
                        "throttled_seconds": t.throttled.as_secs_f64(),
                    });
                }
                v["totals"] = totals(&s.totals);
                v["partitions"] = s.partitions.iter().map(|p| partition(p, now)).collect();
            }
            v
        })
        .collect();
    json!({ "flows": flows })
}

/// `/healthz`: healthy while every flow is running (or finished without
/// failures) and every partition is ACTIVE, PAUSED or CAUGHT_UP; else the
/// reasons, one per flow or partition.
pub fn health(flows: &[FlowView]) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    for f in flows {
        match (f.phase, &f.error) {
            (_, Some(e)) => reasons.push(format!("flow {} failed: {e}", f.name)),
            ("starting", _) => reasons.push(format!("flow {} is starting", f.name)),
            _ => {}
        }
        for p in f.status.iter().flat_map(|s| &s.partitions) {
            let healthy = matches!(
                p.state,
                PartitionState::Active | PartitionState::Paused | PartitionState::CaughtUp
            );
            if !healthy {
                reasons.push(format!(
                    "flow {} partition {}-{} is {}{}",
                    f.name,
                    p.source_topic,
                    p.partition,
                    p.state,
                    p.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(state: PartitionState) -> PartitionStatus {
        PartitionStatus {
            source_topic: "orders".into(),
            target_topic: "a.orders".into(),
            partition: 3,
            state,
            reason: (state == PartitionState::TargetUnavailable).then(|| "broker down".into()),
            high_watermark: 10,
            position: Some(4),
            committed_offset: Some(4),
            lag: 6,
            end_offset: None,
            to_end: None,
            bytes_in_flight: 0,
            last_fetch: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100)),
            last_produce: None,
            totals: Totals::default(),
        }
    }

    fn view(phase: &'static str, states: &[PartitionState]) -> FlowView {
        FlowView {
            name: "a->b".into(),
            group: "g".into(),
            phase,
            error: None,
            status: Some(Status {
                partitions: states.iter().map(|s| part(*s)).collect(),
                totals: Totals::default(),
                bytes_in_flight: 0,
                throttle: None,
            }),
        }
    }

    #[test]
    fn health_names_every_reason() {
        assert_eq!(
            health(&[view("running", &[PartitionState::Active])]),
            Ok(())
        );
        let err = health(&[view(
            "running",
            &[PartitionState::Active, PartitionState::TargetUnavailable],
        )])
        .unwrap_err();
        assert_eq!(
            err,
            ["flow a->b partition orders-3 is TARGET_UNAVAILABLE: broker down"]
        );
        let mut starting = view("starting", &[]);
        starting.status = None;
        let mut failed = view("failed", &[]);
        failed.error = Some("cannot connect".into());
        failed.status = None;
        let err = health(&[starting, failed]).unwrap_err();
        assert_eq!(
            err,
            ["flow a->b is starting", "flow a->b failed: cannot connect"]
        );
    }

    #[test]
    fn status_json_carries_every_field() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(102);
        let v = status_json(&[view("running", &[PartitionState::Active])], now);
        let p = &v["flows"][0]["partitions"][0];
        assert_eq!(p["state"], "ACTIVE");
        assert_eq!(p["lag"], 6);
        assert_eq!(p["last_fetch_ms"], 100_000);
        assert_eq!(p["last_fetch_age_s"], 2.0);
        assert!(p["last_produce_ms"].is_null());
        assert_eq!(v["flows"][0]["phase"], "running");
        assert_eq!(v["flows"][0]["lag"], 6);
    }
}
