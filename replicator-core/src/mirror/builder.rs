//! [`MirrorBuilder`]: checks a mirror's settings and makes a [`Mirror`],
//! ready to start.

use std::time::Duration;

use super::MirrorHandle;
use crate::cluster::ClusterConfig;
use crate::engine::Engine;
use crate::model::{MirrorConfig, MirrorError, Mode, RenamePolicy, StartFrom, TopicSelection};

/// Builds a [`Mirror`]. Every setting but the clusters, the topics and the
/// group has a default.
#[derive(Debug)]
#[must_use]
pub struct MirrorBuilder {
    source: Option<ClusterConfig>,
    target: Option<ClusterConfig>,
    selection: TopicSelection,
    rename: RenamePolicy,
    target_alias: Option<String>,
    group_id: Option<String>,
    start_from: StartFrom,
    mode: Mode,
    create_topics: bool,
    sync_configs: bool,
    replication_factor: i16,
    max_bytes_in_flight: usize,
    max_partition_bytes_in_flight: usize,
    max_in_flight_per_partition: usize,
    fetch_max_wait: Duration,
    fetch_max_bytes: usize,
    throttle_bytes_per_second: Option<u64>,
    commit_interval: Duration,
    topic_refresh_interval: Duration,
    drain_timeout: Duration,
    errors: Vec<MirrorError>,
}

impl Default for MirrorBuilder {
    fn default() -> Self {
        Self {
            source: None,
            target: None,
            selection: TopicSelection::new(),
            rename: RenamePolicy::Identity,
            target_alias: None,
            group_id: None,
            start_from: StartFrom::Earliest,
            mode: Mode::Continuous,
            create_topics: true,
            sync_configs: true,
            replication_factor: -1,
            max_bytes_in_flight: 256 << 20,
            max_partition_bytes_in_flight: 16 << 20,
            max_in_flight_per_partition: 5,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 << 20,
            throttle_bytes_per_second: None,
            commit_interval: Duration::from_secs(5),
            topic_refresh_interval: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            errors: Vec::new(),
        }
    }
}

impl MirrorBuilder {
    /// The source cluster.
    pub fn source(mut self, config: ClusterConfig) -> Self {
        self.source = Some(config);
        self
    }

    /// The target cluster.
    pub fn target(mut self, config: ClusterConfig) -> Self {
        self.target = Some(config);
        self
    }

    /// Mirrors these topics by name.
    pub fn topics<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for n in names {
            self.selection.name(n);
        }
        self
    }

    /// Mirrors topics whose whole name matches `pattern`.
    pub fn include(mut self, pattern: &str) -> Self {
        if let Err(e) = self.selection.include(pattern) {
            self.errors.push(e);
        }
        self
    }

    /// Leaves out topics whose whole name matches `pattern`.
    pub fn exclude(mut self, pattern: &str) -> Self {
        if let Err(e) = self.selection.exclude(pattern) {
            self.errors.push(e);
        }
        self
    }

    /// Leaves out topics that the prefix policy says came from cluster
    /// `alias` (give the target's alias): MirrorMaker 2's cycle check, see
    /// [`TopicSelection::exclude_replicated_from`].
    pub fn exclude_replicated_from(
        mut self,
        alias: impl Into<String>,
        separator: impl Into<String>,
    ) -> Self {
        self.selection.exclude_replicated_from(alias, separator);
        self
    }

    /// Replaces the topic selection built so far, e.g. with a MirrorMaker 2
    /// flow's (the `kafka-mirror` command's MirrorMaker 2 reader).
    pub fn selection(mut self, selection: TopicSelection) -> Self {
        self.selection = selection;
        self
    }

    /// Lets include patterns match internal topics (`__*`).
    pub fn include_internal(mut self, on: bool) -> Self {
        self.selection.include_internal(on);
        self
    }

    /// How topics are named on the target (default: the same name).
    pub fn rename(mut self, policy: RenamePolicy) -> Self {
        self.rename = policy;
        self
    }

    /// The target cluster's alias, so the prefix policy can refuse topics
    /// that came from the target (active/active loops).
    pub fn target_alias(mut self, alias: impl Into<String>) -> Self {
        self.target_alias = Some(alias.into());
        self
    }

    /// The source-cluster consumer group for the mirror's offsets.
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// Where to start without a committed offset (default earliest), and
    /// where to go when the committed offset or the fetch position falls
    /// outside the source log (OFFSET_OUT_OF_RANGE); skipped offsets are
    /// counted as lost in the status and summary.
    pub fn start_from(mut self, start: StartFrom) -> Self {
        self.start_from = start;
        self
    }

    /// Continuous (default) or backfill until caught up.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether to create missing target topics and partitions (default
    /// true). Disable for clusters without topic creation rights (MSK).
    pub fn create_topics(mut self, on: bool) -> Self {
        self.create_topics = on;
        self
    }

    /// Whether created topics copy the source's topic configs (default true).
    pub fn sync_configs(mut self, on: bool) -> Self {
        self.sync_configs = on;
        self
    }

    /// Replication factor for created topics (default -1: broker default).
    pub fn replication_factor(mut self, factor: i16) -> Self {
        self.replication_factor = factor;
        self
    }

    /// Bounds bytes fetched but not acknowledged: in total and per
    /// partition (defaults 256 MiB and 16 MiB).
    pub fn max_bytes_in_flight(mut self, total: usize, per_partition: usize) -> Self {
        self.max_bytes_in_flight = total;
        self.max_partition_bytes_in_flight = per_partition;
        self
    }

    /// Produce batches in flight per partition, 1 to 5 (default 5).
    pub fn max_in_flight_per_partition(mut self, n: usize) -> Self {
        self.max_in_flight_per_partition = n;
        self
    }

    /// Fetch max wait (default 500 ms).
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch_max_wait = wait;
        self
    }

    /// Fetches at most `bytes_per_second` bytes of record batches per
    /// second, all partitions together (a token bucket holding one
    /// second's worth); `None` (the default) fetches as fast as the target
    /// takes. The rate holds over seconds, not per request: a broker sends
    /// at least one batch whatever the limit, and fetching then pauses
    /// until the rate has caught up.
    pub fn throttle(mut self, bytes_per_second: Option<u64>) -> Self {
        self.throttle_bytes_per_second = bytes_per_second;
        self
    }

    /// How often offsets are committed (default 5 s).
    pub fn commit_interval(mut self, every: Duration) -> Self {
        self.commit_interval = every;
        self
    }

    /// How often new topics and partitions are looked for (default 60 s).
    pub fn topic_refresh_interval(mut self, every: Duration) -> Self {
        self.topic_refresh_interval = every;
        self
    }

    /// How long stopping waits for in-flight batches (default 30 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Checks the settings.
    pub fn build(mut self) -> Result<Mirror, MirrorError> {
        if !self.errors.is_empty() {
            return Err(self.errors.remove(0));
        }
        let missing = |what: &str, how: &str| MirrorError::Config {
            what: format!("no {what} was given"),
            hint: format!("call MirrorBuilder::{how}"),
        };
        let source = self
            .source
            .ok_or_else(|| missing("source cluster", "source"))?;
        let target = self
            .target
            .ok_or_else(|| missing("target cluster", "target"))?;
        let group_id = self
            .group_id
            .ok_or_else(|| missing("consumer group", "group_id"))?;
        if group_id.is_empty() {
            return Err(MirrorError::Config {
                what: "the consumer group id is empty".into(),
                hint: "give a group id, e.g. \"mirror-<source>-to-<target>\"".into(),
            });
        }
        if self.selection.is_empty() {
            return Err(missing("topic", "topics or MirrorBuilder::include"));
        }
        if !(1..=5).contains(&self.max_in_flight_per_partition) {
            return Err(MirrorError::Config {
                what: format!(
                    "max_in_flight_per_partition is {}",
                    self.max_in_flight_per_partition
                ),
                hint: "use 1 to 5: brokers keep idempotence state for five batches".into(),
            });
        }
        if self.throttle_bytes_per_second == Some(0) {
            return Err(MirrorError::Config {
                what: "the throttle is 0 bytes per second".into(),
                hint: "give a positive rate, or no throttle".into(),
            });
        }
        if self.max_bytes_in_flight == 0 || self.max_partition_bytes_in_flight == 0 {
            return Err(MirrorError::Config {
                what: "a bytes-in-flight bound is 0".into(),
                hint: "give positive bounds".into(),
            });
        }
        Ok(Mirror {
            config: MirrorConfig {
                source,
                target,
                selection: self.selection,
                rename: self.rename,
                target_alias: self.target_alias,
                group_id,
                start_from: self.start_from,
                mode: self.mode,
                create_topics: self.create_topics,
                sync_configs: self.sync_configs,
                replication_factor: self.replication_factor,
                max_bytes_in_flight: self.max_bytes_in_flight,
                max_partition_bytes_in_flight: self.max_partition_bytes_in_flight,
                max_in_flight_per_partition: self.max_in_flight_per_partition,
                fetch_max_wait: self.fetch_max_wait,
                fetch_max_bytes: self.fetch_max_bytes,
                throttle_bytes_per_second: self.throttle_bytes_per_second,
                commit_interval: self.commit_interval,
                topic_refresh_interval: self.topic_refresh_interval,
                drain_timeout: self.drain_timeout,
            },
        })
    }
}

/// A configured mirror, ready to start.
#[derive(Debug, Clone)]
pub struct Mirror {
    config: MirrorConfig,
}

impl Mirror {
    /// A builder with defaults.
    pub fn builder() -> MirrorBuilder {
        MirrorBuilder::default()
    }

    /// The configuration.
    pub fn config(&self) -> &MirrorConfig {
        &self.config
    }

    /// Connects to both clusters, sets up target topics, initialises the
    /// idempotent producer, positions every partition (committed offset,
    /// else the start policy) and starts replicating. Errors here mean
    /// nothing was started.
    pub async fn start(self) -> Result<MirrorHandle, MirrorError> {
        let engine = Engine::start(self.config).await?;
        Ok(MirrorHandle::spawn(engine))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_checks_settings() {
        let b = || {
            Mirror::builder()
                .source(ClusterConfig::new("a:9092"))
                .target(ClusterConfig::new("b:9092"))
                .group_id("g")
        };
        assert!(b().topics(["t"]).build().is_ok());
        let e = b().build().unwrap_err();
        assert!(e.to_string().contains("topic"), "{e}");
        let e = b().include("(").build().unwrap_err();
        assert!(matches!(e, MirrorError::InvalidRegex { .. }), "{e}");
        let e = b()
            .topics(["t"])
            .max_in_flight_per_partition(6)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("1 to 5"), "{e}");
        let e = Mirror::builder().topics(["t"]).build().unwrap_err();
        assert!(e.to_string().contains("source"), "{e}");
    }
}
