//! Topic administration and metadata for the Kafka test clusters, through
//! librdkafka's admin client (an independent client: nothing of ours).

use std::{
    collections::BTreeMap,
    future::Future,
    thread,
    time::{Duration, Instant},
};

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::ClientConfig,
    consumer::{BaseConsumer, Consumer},
    metadata::Metadata,
};

use super::cluster::KafkaCluster;
use crate::{HarnessError, Result};

const TIMEOUT: Duration = Duration::from_secs(30);

fn admin_err(what: String) -> impl FnOnce(rdkafka::error::KafkaError) -> HarnessError {
    move |e| HarnessError::Command {
        command: format!("librdkafka admin: {what}"),
        status: "error".into(),
        stderr: e.to_string(),
    }
}

/// Runs `f` to completion on a runtime of its own thread, so that a
/// synchronous helper works inside and outside a tokio runtime.
fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(f)
        })
        .join()
        .expect("admin thread")
    })
}

fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(admin_err(format!("connecting to {bootstrap}")))
}

fn metadata(bootstrap: &str, topic: Option<&str>) -> Result<Metadata> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("topic.metadata.refresh.interval.ms", "-1")
        .create()
        .map_err(admin_err(format!("connecting to {bootstrap}")))?;
    c.fetch_metadata(topic, Duration::from_secs(10))
        .map_err(admin_err(format!("metadata from {bootstrap}")))
}

/// How many brokers the metadata from `bootstrap` lists.
pub(crate) fn broker_count(bootstrap: &str) -> Result<usize> {
    Ok(metadata(bootstrap, None)?.brokers().len())
}

impl KafkaCluster {
    /// Creates `topic` with `partitions` partitions, as many replicas as
    /// nodes (up to 3) and the topic `configs`; returns once every node's
    /// metadata shows a leader for every partition.
    pub fn create_topic_with(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<()> {
        let replication = self.node_ids().len().min(3) as i32;
        let bootstrap = self.bootstrap();
        let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
        for (k, v) in configs {
            new = new.set(k, v);
        }
        let admin = admin(&bootstrap)?;
        let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        let results = block_on(admin.create_topics([&new], &opts))
            .map_err(admin_err(format!("creating {topic}")))?;
        for r in results {
            if let Err((name, code)) = r {
                return Err(HarnessError::Command {
                    command: format!("librdkafka admin: creating {name} on {bootstrap}"),
                    status: format!("{code:?}"),
                    stderr: format!("{code}"),
                });
            }
        }
        self.wait_for_leaders(topic, partitions, TIMEOUT)
    }

    /// [`create_topic_with`](Self::create_topic_with) without configs.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        self.create_topic_with(topic, partitions, &[])
    }

    /// Deletes `topic`.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        let admin = admin(&self.bootstrap())?;
        let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        let results = block_on(admin.delete_topics(&[topic], &opts))
            .map_err(admin_err(format!("deleting {topic}")))?;
        for r in results {
            if let Err((name, code)) = r {
                return Err(HarnessError::Command {
                    command: format!("librdkafka admin: deleting {name}"),
                    status: format!("{code:?}"),
                    stderr: format!("{code}"),
                });
            }
        }
        Ok(())
    }

    /// Every topic's name, sorted (internal topics included).
    pub fn list_topics(&self) -> Result<Vec<String>> {
        let md = metadata(&self.bootstrap(), None)?;
        let mut names: Vec<String> = md.topics().iter().map(|t| t.name().to_owned()).collect();
        names.sort();
        Ok(names)
    }

    /// The leader of each partition of `topic` (-1: none), as the cluster
    /// reports it.
    pub fn leaders(&self, topic: &str) -> Result<BTreeMap<i32, i32>> {
        let md = metadata(&self.bootstrap(), Some(topic))?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions().iter().map(|p| (p.id(), p.leader())))
            .collect())
    }

    /// The partition count of `topic` (0 when it does not exist).
    pub fn partitions(&self, topic: &str) -> Result<usize> {
        let md = metadata(&self.bootstrap(), Some(topic))?;
        Ok(md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len()))
    }

    /// (log start offset, high watermark) of `topic`-`partition`.
    pub fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .map_err(admin_err("connecting".into()))?;
        c.fetch_watermarks(topic, partition, Duration::from_secs(10))
            .map_err(admin_err(format!("watermarks of {topic}-{partition}")))
    }

    /// The topic configs of `topic` that are set on the topic itself.
    pub fn topic_configs(&self, topic: &str) -> Result<BTreeMap<String, String>> {
        use rdkafka::admin::{ConfigSource, ResourceSpecifier};
        let admin = admin(&self.bootstrap())?;
        let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
        let results = block_on(admin.describe_configs([&ResourceSpecifier::Topic(topic)], &opts))
            .map_err(admin_err(format!("describing {topic}")))?;
        let mut out = BTreeMap::new();
        for r in results {
            let r = r.map_err(|code| HarnessError::Command {
                command: format!("librdkafka admin: describing {topic}"),
                status: format!("{code:?}"),
                stderr: format!("{code}"),
            })?;
            for e in r.entries {
                if matches!(e.source, ConfigSource::DynamicTopic) {
                    if let Some(v) = e.value {
                        out.insert(e.name, v);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Waits until the metadata from every node shows `topic` with
    /// `partitions` partitions, each with a leader.
    pub fn wait_for_leaders(&self, topic: &str, partitions: i32, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = self.node_bootstraps().iter().all(|b| {
                metadata(b, Some(topic)).is_ok_and(|md| {
                    md.topics().iter().any(|t| {
                        t.name() == topic
                            && t.error().is_none()
                            && t.partitions().len() == partitions as usize
                            && t.partitions().iter().all(|p| p.leader() >= 0)
                    })
                })
            });
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::NotReady {
                    what: format!("topic {topic}"),
                    details: format!(
                        "not every node shows a leader for its {partitions} partitions within {timeout:?}"
                    ),
                });
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}
