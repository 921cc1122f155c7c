//! What the command tells its user: status lines, summaries, warnings,
//! notes and errors, as text lines (status and summaries on stdout, the
//! rest on stderr) or as JSON events through [`tracing`] (one object per
//! line on stdout, see [`crate::logging`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use replicator_core::{PartitionState, Status, Summary};

use crate::args::LogFormat;
use crate::mm2::Warning;

/// The target of the command's own events in JSON logs.
pub const TARGET: &str = "kafka_mirror";

/// Where messages go, in the format asked for.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    format: LogFormat,
}

/// One flow's figures between two status lines.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    /// MB/s acknowledged by the target since the last line.
    pub mb_per_s: f64,
    /// Records per second since the last line.
    pub records_per_s: f64,
    /// Records on the source not yet on the target.
    pub lag: i64,
    /// Records copied so far.
    pub records: u64,
    /// Partitions mirrored.
    pub partitions: usize,
    /// Partitions FAILED.
    pub failed: usize,
    /// Backfill progress (`--until-caught-up`).
    pub progress: Option<Progress>,
    /// The throttle's rate in MB/s, when one is set.
    pub throttle_mb_per_s: Option<f64>,
}

/// Backfill progress toward the end offsets seen at start.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Offsets left, and the fraction done (0 to 1).
    Known {
        /// Source offsets left to copy.
        left: i64,
        /// Done, from 0 to 1.
        done: f64,
    },
    /// Partitions whose end offsets are not known yet.
    Unknown {
        /// How many.
        partitions: usize,
    },
}

/// The previous status sample of a flow, for rates.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    at: Instant,
    records: u64,
    bytes: u64,
}

impl Sample {
    /// Nothing copied at `at`.
    pub fn start(at: Instant) -> Self {
        Self {
            at,
            records: 0,
            bytes: 0,
        }
    }
}

/// MB/s for `bytes` over `elapsed`.
pub fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 / 1e6 / secs
    }
}

impl StatusLine {
    /// The line for status `s`, with rates since `last` (updated);
    /// `total_to_end` is the backfill's 100% (see [`progress`]), `None`
    /// in continuous mode.
    pub fn new(
        s: &Status,
        last: &mut Sample,
        now: Instant,
        total_to_end: Option<&mut Option<i64>>,
    ) -> Self {
        let dt = now.duration_since(last.at);
        let rps = if dt.as_secs_f64() > 0.0 {
            s.totals.records.saturating_sub(last.records) as f64 / dt.as_secs_f64()
        } else {
            0.0
        };
        let line = Self {
            mb_per_s: mb_per_s(s.totals.bytes.saturating_sub(last.bytes), dt),
            records_per_s: rps,
            lag: s.lag(),
            records: s.totals.records,
            partitions: s.partitions.len(),
            failed: s
                .partitions
                .iter()
                .filter(|p| p.state == PartitionState::Failed)
                .count(),
            progress: total_to_end.map(|t| progress(s, t)),
            throttle_mb_per_s: s.throttle.map(|t| t.bytes_per_second as f64 / 1e6),
        };
        *last = Sample {
            at: now,
            records: s.totals.records,
            bytes: s.totals.bytes,
        };
        line
    }

    /// The text line, without the flow.
    pub fn text(&self) -> String {
        let mut line = format!(
            "{:>8.2} MB/s {:>9.0} rec/s  lag {:>9} records  {} records copied  {} partitions",
            self.mb_per_s, self.records_per_s, self.lag, self.records, self.partitions
        );
        if self.failed > 0 {
            line.push_str(&format!("  {} FAILED", self.failed));
        }
        if let Some(rate) = self.throttle_mb_per_s {
            line.push_str(&format!("  throttled to {rate:.2} MB/s"));
        }
        match &self.progress {
            None => {}
            Some(Progress::Unknown { partitions }) => line.push_str(&format!(
                "  [end offsets of {partitions} partitions not known yet]"
            )),
            Some(Progress::Known { left, done }) => {
                const WIDTH: usize = 30;
                let filled = ((done * WIDTH as f64).round() as usize).min(WIDTH);
                line.push_str(&format!(
                    "  [{}{}] {:>3.0}%  {left} offsets to go",
                    "#".repeat(filled),
                    "-".repeat(WIDTH - filled),
                    done * 100.0
                ));
            }
        }
        line
    }
}

/// Backfill progress toward the end offsets, in source offsets: `total` is
/// what there was to copy at start, raised when more than that is left
/// (topics or partitions that joined since).
pub fn progress(s: &Status, total: &mut Option<i64>) -> Progress {
    // A partition FAILED before it was positioned (its target topic could
    // not be set up) has no end offset and never will: the summary reports
    // it, the bar leaves it out.
    let counted: Vec<_> = s
        .partitions
        .iter()
        .filter(|p| !(p.state == PartitionState::Failed && p.end_offset.is_none()))
        .collect();
    let Some(left) = counted.iter().map(|p| p.to_end.map(|n| n.max(0))).sum() else {
        let partitions = counted.iter().filter(|p| p.to_end.is_none()).count();
        return Progress::Unknown { partitions };
    };
    let all = total.get_or_insert(left);
    *all = (*all).max(left);
    let done = if *all > 0 {
        (*all - left) as f64 / *all as f64
    } else {
        1.0
    };
    Progress::Known { left, done }
}

/// A summary's lines, without the flow prefix.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let topics: BTreeSet<&str> = s
        .partitions
        .iter()
        .map(|p| p.source_topic.as_str())
        .collect();
    let t = &s.totals;
    let mut out = vec![format!(
        "summary: {} topics, {} partitions, {} records, {} bytes in {:.2?} ({:.2} MB/s){}",
        topics.len(),
        s.partitions.len(),
        t.records,
        t.bytes,
        s.elapsed,
        mb_per_s(t.bytes, s.elapsed),
        if s.drained {
            ""
        } else {
            "; drain timed out, in-flight batches are fetched again on restart"
        }
    )];
    if s.partitions.is_empty() {
        out.push("  no source topic is selected: nothing to copy".into());
    }
    for topic in &topics {
        let parts: Vec<_> = s
            .partitions
            .iter()
            .filter(|p| p.source_topic == *topic)
            .collect();
        let records: u64 = parts.iter().map(|p| p.totals.records).sum();
        out.push(format!(
            "  {topic} -> {} ({} partitions, {records} records)",
            parts[0].target_topic,
            parts.len()
        ));
    }
    if t.errors > 0 || t.lost_offsets > 0 || t.aborted_batches > 0 {
        out.push(format!(
            "  {} errors retried, {} aborted batches dropped, {} offsets lost on the source",
            t.errors, t.aborted_batches, t.lost_offsets
        ));
    }
    for p in s.failed() {
        out.push(format!(
            "  FAILED {}-{}: {}",
            p.source_topic,
            p.partition,
            p.reason.as_deref().unwrap_or("no reason recorded")
        ));
    }
    out
}

impl Output {
    /// Messages in `format`.
    pub fn new(format: LogFormat) -> Self {
        Self { format }
    }

    fn json(&self) -> bool {
        self.format == LogFormat::Json
    }

    /// A warning about the configuration file.
    pub fn warning(&self, w: &Warning) {
        if self.json() {
            tracing::warn!(target: TARGET, file = %w.origin, line = w.line, key = %w.key, kind = ?w.kind, "{}", w.message);
        } else {
            eprintln!("warning: {w}");
        }
    }

    /// A setting of flow `flow` (declared at `origin:line`) with no exact
    /// equivalent.
    pub fn note(&self, origin: &str, line: usize, flow: &str, note: &str) {
        if self.json() {
            tracing::info!(target: TARGET, file = %origin, line, flow, "{note}");
        } else {
            eprintln!("note: {origin}:{line}: flow {flow}: {note}");
        }
    }

    /// An error, of `flow` when there is one.
    pub fn error(&self, flow: Option<&str>, msg: &str) {
        if self.json() {
            tracing::error!(target: TARGET, flow, "{msg}");
        } else {
            eprintln!("error: {msg}");
        }
    }

    /// Progress of the run that is not a status line (`[a->b] starting`,
    /// `stopping: ...`); on stdout with a flow, else on stderr.
    pub fn info(&self, flow: Option<&str>, msg: &str) {
        match (self.json(), flow) {
            (true, _) => tracing::info!(target: TARGET, flow, "{msg}"),
            (false, Some(flow)) => println!("[{flow}] {msg}"),
            (false, None) => eprintln!("{msg}"),
        }
    }

    /// The HTTP server's address.
    pub fn listening(&self, addr: std::net::SocketAddr) {
        if self.json() {
            tracing::info!(target: TARGET, %addr, "serving /metrics, /status and /healthz");
        } else {
            println!("serving /metrics, /status and /healthz on http://{addr}/");
        }
    }

    /// A status line of `flow`.
    pub fn status(&self, flow: &str, line: &StatusLine) {
        if !self.json() {
            println!("[{flow}] {}", line.text());
            return;
        }
        let (left, done) = match line.progress {
            Some(Progress::Known { left, done }) => (Some(left), Some(done)),
            _ => (None, None),
        };
        tracing::info!(
            target: TARGET,
            flow,
            mb_per_s = line.mb_per_s,
            records_per_s = line.records_per_s,
            lag = line.lag,
            records = line.records,
            partitions = line.partitions,
            failed = line.failed,
            offsets_to_go = left,
            done,
            "status"
        );
    }

    /// The summary of a flow that ended.
    pub fn summary(&self, flow: &str, s: &Summary) {
        if !self.json() {
            for l in summary_lines(s) {
                println!("[{flow}] {l}");
            }
            return;
        }
        let t = &s.totals;
        tracing::info!(
            target: TARGET,
            flow,
            partitions = s.partitions.len(),
            records = t.records,
            bytes = t.bytes,
            batches = t.batches,
            errors = t.errors,
            aborted_batches = t.aborted_batches,
            lost_offsets = t.lost_offsets,
            elapsed_s = s.elapsed.as_secs_f64(),
            drained = s.drained,
            "summary"
        );
        // One event per partition; FAILED ones at error level.
        macro_rules! partition {
            ($level:expr, $p:expr) => {
                tracing::event!(
                    target: TARGET,
                    $level,
                    flow,
                    topic = %$p.source_topic,
                    target_topic = %$p.target_topic,
                    partition = $p.partition,
                    offset = $p.committed_offset,
                    state = %$p.state,
                    reason = $p.reason.as_deref(),
                    records = $p.totals.records,
                    bytes = $p.totals.bytes,
                    "partition summary"
                )
            };
        }
        for p in &s.partitions {
            if p.state == PartitionState::Failed {
                partition!(tracing::Level::ERROR, p);
            } else {
                partition!(tracing::Level::INFO, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use replicator_core::PartitionStatus;

    fn part(p: i32, end: Option<i64>, to_end: Option<i64>) -> PartitionStatus {
        PartitionStatus {
            source_topic: "t".into(),
            target_topic: "t".into(),
            partition: p,
            state: PartitionState::Active,
            reason: None,
            high_watermark: -1,
            position: None,
            committed_offset: None,
            lag: 0,
            end_offset: end,
            to_end,
            bytes_in_flight: 0,
            last_fetch: None,
            last_produce: None,
            totals: Default::default(),
        }
    }

    fn bar(s: &Status, total: &mut Option<i64>) -> String {
        let line = StatusLine {
            mb_per_s: 0.0,
            records_per_s: 0.0,
            lag: 0,
            records: 0,
            partitions: s.partitions.len(),
            failed: 0,
            progress: Some(progress(s, total)),
            throttle_mb_per_s: None,
        };
        line.text()
    }

    #[test]
    fn progress_counts_offsets_toward_the_end_offsets() {
        let mut s = Status {
            partitions: vec![part(0, Some(10), Some(5)), part(1, Some(10), Some(5))],
            totals: Default::default(),
            bytes_in_flight: 0,
            throttle: None,
        };
        let mut total = Some(20);
        let line = bar(&s, &mut total);
        assert!(
            line.contains(" 50%") && line.contains("10 offsets to go"),
            "{line}"
        );
        assert!(
            line.contains(&format!("[{}{}]", "#".repeat(15), "-".repeat(15))),
            "{line}"
        );
        // More left than at start (a topic joined): the total follows.
        s.partitions.push(part(2, Some(30), Some(30)));
        let line = bar(&s, &mut total);
        assert_eq!(total, Some(40));
        assert!(line.contains("  0%  40 offsets to go"), "{line}");
        // Nothing known at start: the first figure is the total.
        let mut none = None;
        assert!(bar(&s, &mut none).contains(" 0%"));
        assert_eq!(none, Some(40));
        s.partitions.iter_mut().for_each(|p| p.to_end = Some(0));
        assert!(bar(&s, &mut none).contains("100%"));
        // Failed before it had an end offset: left out.
        let mut failed = part(4, None, None);
        failed.state = PartitionState::Failed;
        s.partitions.push(failed);
        assert!(bar(&s, &mut none).contains("100%"));
        // An end offset not known yet.
        s.partitions.push(part(3, None, None));
        let line = bar(&s, &mut none);
        assert!(
            line.contains("end offsets of 1 partitions not known yet"),
            "{line}"
        );
        // Nothing selected: done.
        s.partitions.clear();
        assert!(bar(&s, &mut None).contains("100%"));
    }

    #[test]
    fn status_line_rates_and_failures() {
        let start = Instant::now();
        let mut s = Status {
            partitions: vec![part(0, None, None), part(1, None, None)],
            totals: Default::default(),
            bytes_in_flight: 0,
            throttle: None,
        };
        s.partitions[1].state = PartitionState::Failed;
        s.partitions[0].lag = 7;
        s.totals.records = 1000;
        s.totals.bytes = 2_000_000;
        let mut last = Sample::start(start);
        let line = StatusLine::new(&s, &mut last, start + Duration::from_secs(2), None);
        assert_eq!(line.records_per_s, 500.0);
        assert_eq!(line.mb_per_s, 1.0);
        assert_eq!((line.lag, line.failed, line.partitions), (7, 1, 2));
        let text = line.text();
        assert!(
            text.contains("lag         7 records") && text.contains("1 FAILED"),
            "{text}"
        );
        // The next line counts from this one.
        let line = StatusLine::new(&s, &mut last, start + Duration::from_secs(3), None);
        assert_eq!(line.records_per_s, 0.0);
    }
}
