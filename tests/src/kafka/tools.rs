//! Kafka's own command-line tools against a test cluster: the Java console
//! consumer in a consumer group (it commits what it read), and the consumer
//! group command (describe and reset a group's committed offsets). These
//! are the independent Java clients for group sync, exactly-once and
//! scale-out tests.

use std::{collections::BTreeMap, time::Duration};

use super::{
    cluster::KafkaCluster,
    java::{run_tool, KafkaLine},
};
use crate::{HarnessError, Result};

const CONSOLE_CONSUMER: &str = "org.apache.kafka.tools.consumer.ConsoleConsumer";
const GROUP_COMMAND: &str = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
/// Separates the fields of a console consumer line; never in test data.
const SEP: &str = "|#|";

/// One record as Kafka's Java console consumer printed it (key, value and
/// headers as UTF-8 text; `None` for null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// `CreateTime` or `LogAppendTime`.
    pub timestamp_type: String,
    /// Timestamp.
    pub timestamp: i64,
    /// Key.
    pub key: Option<String>,
    /// Value.
    pub value: Option<String>,
    /// Headers as `k:v` pairs, comma separated, as printed (`NO_HEADERS` when none).
    pub headers: String,
}

/// How the console consumer reads transactional data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// `read_uncommitted`: aborted records too.
    ReadUncommitted,
    /// `read_committed`.
    ReadCommitted,
}

impl KafkaCluster {
    fn tool_line(&self) -> KafkaLine {
        self.line()
    }

    /// Runs Kafka's Java console consumer on `topic` in consumer `group`:
    /// it reads up to `max` records (from the beginning when the group has
    /// no committed offset), one per poll so that its position is exactly
    /// after the last record printed, commits that position on exit, and
    /// stops after `idle` without a record.
    ///
    /// MirrorMaker 2 never checkpoints groups named `console-consumer-*`:
    /// name the group otherwise when MM2 is to migrate it.
    pub fn java_consume(
        &self,
        topic: &str,
        group: &str,
        max: usize,
        isolation: Isolation,
        idle: Duration,
    ) -> Result<Vec<JavaRecord>> {
        self.console_consumer(topic, group, max, isolation, idle, &[])
    }

    /// [`java_consume`](Self::java_consume) with extra consumer
    /// `properties` (e.g. a small `max.partition.fetch.bytes`, so that the
    /// consumer alternates between partitions instead of reading the first
    /// one to its end).
    pub fn java_consume_with(
        &self,
        topic: &str,
        group: &str,
        max: usize,
        isolation: Isolation,
        idle: Duration,
        properties: &[(&str, &str)],
    ) -> Result<Vec<JavaRecord>> {
        self.console_consumer(topic, group, max, isolation, idle, properties)
    }

    fn console_consumer(
        &self,
        topic: &str,
        group: &str,
        max: usize,
        isolation: Isolation,
        idle: Duration,
        properties: &[(&str, &str)],
    ) -> Result<Vec<JavaRecord>> {
        let isolation = match isolation {
            Isolation::ReadUncommitted => "read_uncommitted",
            Isolation::ReadCommitted => "read_committed",
        };
        // 4.x renamed --consumer-property; 3.9 knows only the old name.
        let property = match self.line() {
            KafkaLine::Legacy => "--consumer-property",
            _ => "--command-property",
        };
        let mut args: Vec<String> = [
            "--bootstrap-server",
            &self.bootstrap(),
            "--topic",
            topic,
            "--max-messages",
            &max.to_string(),
            "--timeout-ms",
            &idle.as_millis().to_string(),
            "--isolation-level",
            isolation,
            property,
            "max.poll.records=1",
            property,
            "auto.offset.reset=earliest",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend([
            "--group".to_owned(),
            group.to_owned(),
            "--from-beginning".to_owned(),
        ]);
        for (k, v) in properties {
            args.push(property.to_owned());
            args.push(format!("{k}={v}"));
        }
        for p in [
            "print.timestamp=true",
            "print.partition=true",
            "print.offset=true",
            "print.headers=true",
            "print.key=true",
            "print.value=true",
            "null.literal=<null>",
        ] {
            args.push("--property".into());
            args.push(p.into());
        }
        args.push("--property".into());
        args.push(format!("key.separator={SEP}"));
        let dir = tempfile::tempdir().map_err(HarnessError::io("a temp dir for the consumer"))?;
        let out = run_tool(
            self.tool_line(),
            CONSOLE_CONSUMER,
            &args,
            dir.path(),
            idle + Duration::from_secs(120),
        )?;
        // Record lines start with the timestamp type; the tool may print
        // notices (deprecations, "Processed a total of N messages") too.
        out.lines()
            .filter(|l| {
                ["CreateTime:", "LogAppendTime:", "NoTimestampType:"]
                    .iter()
                    .any(|t| l.starts_with(t))
            })
            .map(parse_console_line)
            .collect()
    }

    /// The committed offsets of `group`, per (topic, partition), from
    /// Kafka's consumer group command (`--describe --offsets`). A partition
    /// the group has not committed is left out.
    pub fn group_offsets(&self, group: &str) -> Result<BTreeMap<(String, i32), i64>> {
        let args: Vec<String> = [
            "--bootstrap-server",
            &self.bootstrap(),
            "--describe",
            "--offsets",
            "--group",
            group,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let dir = tempfile::tempdir().map_err(HarnessError::io("a temp dir for the tool"))?;
        let out = run_tool(
            self.tool_line(),
            GROUP_COMMAND,
            &args,
            dir.path(),
            Duration::from_secs(120),
        )?;
        Ok(parse_group_describe(group, &out))
    }

    /// Sets `group`'s committed offset of every partition of `topic` to
    /// `offset` (the group must have no active member), with Kafka's
    /// consumer group command (`--reset-offsets --to-offset --execute`).
    pub fn reset_group_offsets(&self, group: &str, topic: &str, offset: i64) -> Result<()> {
        let args: Vec<String> = [
            "--bootstrap-server",
            &self.bootstrap(),
            "--reset-offsets",
            "--group",
            group,
            "--topic",
            topic,
            "--to-offset",
            &offset.to_string(),
            "--execute",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let dir = tempfile::tempdir().map_err(HarnessError::io("a temp dir for the tool"))?;
        run_tool(
            self.tool_line(),
            GROUP_COMMAND,
            &args,
            dir.path(),
            Duration::from_secs(120),
        )
        .map(drop)
    }
}

/// One record batch as Kafka's `DumpLogSegments` tool prints it from a
/// log segment on disk: what the broker stored, read by Kafka's own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedBatch {
    /// `baseOffset`.
    pub base_offset: i64,
    /// `lastOffset`.
    pub last_offset: i64,
    /// `count`: records in the batch.
    pub count: i64,
    /// `magic`.
    pub magic: i8,
    /// `compresscodec`: `none`, `gzip`, `snappy`, `lz4`, `zstd`.
    pub codec: String,
    /// `isTransactional`.
    pub transactional: bool,
    /// `isControl`.
    pub control: bool,
    /// `producerId` (-1: none).
    pub producer_id: i64,
    /// `CreateTime` or `LogAppendTime`, from the batch's attributes.
    pub timestamp_type: String,
    /// The batch's max timestamp.
    pub max_timestamp: i64,
    /// `isvalid` (the CRC checks).
    pub valid: bool,
}

impl KafkaCluster {
    /// Every batch of `topic`-`partition` in the log segments of the first
    /// node holding a replica, as Kafka's `DumpLogSegments` reads them.
    pub fn dump_log(&self, topic: &str, partition: i32) -> Result<Vec<DumpedBatch>> {
        let key = (topic.to_owned(), partition);
        Ok(self
            .dump_logs(std::slice::from_ref(&key))?
            .remove(&key)
            .unwrap_or_default())
    }

    /// [`dump_log`](Self::dump_log) for several partitions in one run of
    /// the tool (a JVM start each is slow on two cores).
    pub fn dump_logs(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<BTreeMap<(String, i32), Vec<DumpedBatch>>> {
        let mut files = Vec::new();
        for (topic, partition) in partitions {
            let folder = format!("{topic}-{partition}");
            let mut segments: Vec<std::path::PathBuf> = self
                .node_ids()
                .into_iter()
                .map(|id| self.dir().join(format!("node-{id}/data/{folder}")))
                .find(|d| d.is_dir())
                .and_then(|d| std::fs::read_dir(d).ok())
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect();
            if segments.is_empty() {
                return Err(HarnessError::Command {
                    command: format!("dump_log {folder}"),
                    status: "no segment".into(),
                    stderr: format!("no {folder}/*.log under {}", self.dir().display()),
                });
            }
            segments.sort();
            files.extend(segments);
        }
        let main = match self.line() {
            KafkaLine::Legacy => "kafka.tools.DumpLogSegments",
            _ => "org.apache.kafka.tools.DumpLogSegments",
        };
        let list = files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let dir = tempfile::tempdir().map_err(HarnessError::io("a temp dir for the tool"))?;
        let out = run_tool(
            self.tool_line(),
            main,
            &["--files".to_owned(), list],
            dir.path(),
            Duration::from_secs(120),
        )?;
        let parsed = parse_dump(&out);
        // A partition with bytes on disk and no batch read back means the
        // tool's output changed shape: say so rather than report nothing.
        for (topic, partition) in partitions {
            let bytes: u64 = files
                .iter()
                .filter(|f| {
                    f.parent().and_then(|d| d.file_name())
                        == Some(format!("{topic}-{partition}").as_ref())
                })
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum();
            let none = parsed
                .get(&(topic.clone(), *partition))
                .is_none_or(Vec::is_empty);
            if bytes > 0 && none {
                return Err(HarnessError::Command {
                    command: format!("{main} on {topic}-{partition}"),
                    status: format!("{bytes} bytes on disk, no batch parsed"),
                    stderr: out,
                });
            }
        }
        Ok(parsed)
    }
}

/// The tool's output: a `Dumping DIR/TOPIC-P/BASE.log` line per segment,
/// then a line per batch.
fn parse_dump(out: &str) -> BTreeMap<(String, i32), Vec<DumpedBatch>> {
    let mut all: BTreeMap<(String, i32), Vec<DumpedBatch>> = BTreeMap::new();
    let mut current: Option<(String, i32)> = None;
    for line in out.lines() {
        if let Some(file) = line.strip_prefix("Dumping ") {
            current = std::path::Path::new(file.trim())
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|n| n.to_str())
                .and_then(|n| n.rsplit_once('-'))
                .and_then(|(t, p)| Some((t.to_owned(), p.parse().ok()?)));
            if let Some(k) = &current {
                all.entry(k.clone()).or_default();
            }
        } else if let (Some(k), Some(b)) = (&current, parse_dump_line(line)) {
            all.entry(k.clone()).or_default().push(b);
        }
    }
    all
}

/// `baseOffset: 0 lastOffset: 2 count: 3 ... CreateTime: 17... size: ...
/// magic: 2 compresscodec: gzip crc: ... isvalid: true`.
/// A magic 0/1 entry prints as `offset: 5 position: 0 CreateTime: ...
/// magic: 1 compresscodec: gzip ...` (the offset of a compressed wrapper
/// is its last inner record's; the count is not printed).
fn parse_dump_line(line: &str) -> Option<DumpedBatch> {
    let legacy = line.starts_with("offset:");
    if !line.starts_with("baseOffset:") && !legacy {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let field = |name: &str| {
        words
            .windows(2)
            .find(|w| w[0] == format!("{name}:"))
            .map(|w| w[1])
    };
    let num = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok());
    let (timestamp_type, max_timestamp) = ["CreateTime", "LogAppendTime", "NoTimestampType"]
        .iter()
        .find_map(|t| num(t).map(|ts| ((*t).to_owned(), ts)))
        .unwrap_or_else(|| ("NoTimestampType".to_owned(), -1));
    let (base_offset, last_offset) = if legacy {
        (num("offset")?, num("offset")?)
    } else {
        (num("baseOffset")?, num("lastOffset")?)
    };
    Some(DumpedBatch {
        base_offset,
        last_offset,
        count: num("count").unwrap_or(-1),
        magic: num("magic")? as i8,
        codec: field("compresscodec")?.to_lowercase(),
        transactional: field("isTransactional") == Some("true"),
        control: field("isControl") == Some("true"),
        producer_id: num("producerId").unwrap_or(-1),
        timestamp_type,
        max_timestamp,
        valid: field("isvalid") == Some("true"),
    })
}

/// `CreateTime:TS|#|Partition:P|#|Offset:O|#|HEADERS|#|KEY|#|VALUE`.
fn parse_console_line(line: &str) -> Result<JavaRecord> {
    let bad = || HarnessError::Command {
        command: "console consumer".into(),
        status: "unexpected output line".into(),
        stderr: line.to_owned(),
    };
    let f: Vec<&str> = line.splitn(6, SEP).collect();
    let [ts, partition, offset, headers, key, value] = f.as_slice() else {
        return Err(bad());
    };
    let (timestamp_type, timestamp) = ts.split_once(':').ok_or_else(bad)?;
    let num = |field: &str, prefix: &str| -> Result<i64> {
        field
            .strip_prefix(prefix)
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)
    };
    let text = |s: &str| (s != "<null>").then(|| s.to_owned());
    Ok(JavaRecord {
        partition: num(partition, "Partition:")? as i32,
        offset: num(offset, "Offset:")?,
        timestamp_type: timestamp_type.to_owned(),
        timestamp: timestamp.parse().map_err(|_| bad())?,
        key: text(key),
        value: text(value),
        headers: (*headers).to_owned(),
    })
}

/// The rows of `--describe --offsets` for `group`: GROUP TOPIC PARTITION
/// CURRENT-OFFSET ... (`-` for no commit).
fn parse_group_describe(group: &str, out: &str) -> BTreeMap<(String, i32), i64> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [g, topic, partition, current, ..] if *g == group => Some((
                    ((*topic).to_owned(), partition.parse().ok()?),
                    current.parse().ok()?,
                )),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines() {
        let r = parse_console_line(
            "CreateTime:1700000000000|#|Partition:2|#|Offset:17|#|h1:one,h2:<null>|#|k7|#|<null>",
        )
        .unwrap();
        assert_eq!(r.partition, 2);
        assert_eq!(r.offset, 17);
        assert_eq!(r.timestamp_type, "CreateTime");
        assert_eq!(r.timestamp, 1_700_000_000_000);
        assert_eq!(r.key.as_deref(), Some("k7"));
        assert_eq!(r.value, None);
        assert!(parse_console_line("Processed a total of 3 messages").is_err());
    }

    #[test]
    fn dump_lines() {
        let b = parse_dump_line(
            "baseOffset: 3 lastOffset: 5 count: 3 baseSequence: 3 lastSequence: 5 producerId: 7 \
             producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: true isControl: false \
             deleteHorizonMs: OptionalLong.empty position: 120 LogAppendTime: 1700000000123 \
             size: 98 magic: 2 compresscodec: zstd crc: 42 isvalid: true",
        )
        .unwrap();
        assert_eq!((b.base_offset, b.last_offset, b.count), (3, 5, 3));
        assert_eq!((b.codec.as_str(), b.magic), ("zstd", 2));
        assert!(b.transactional && !b.control && b.valid);
        assert_eq!(b.producer_id, 7);
        assert_eq!(
            (b.timestamp_type.as_str(), b.max_timestamp),
            ("LogAppendTime", 1_700_000_000_123)
        );
        assert!(parse_dump_line("Dumping /x/00000.log").is_none());
        let legacy = parse_dump_line(
            "offset: 19 position: 47 CreateTime: 1700000000019 size: 90 magic: 1 \
             compresscodec: gzip crc: 1 isvalid: true",
        )
        .unwrap();
        assert_eq!((legacy.base_offset, legacy.magic), (19, 1));
        assert_eq!(legacy.codec, "gzip");
        let all = parse_dump(
            "Dumping /d/a.b-1/00000000000000000000.log\nLog starting offset: 0\n\
             baseOffset: 0 lastOffset: 0 count: 1 magic: 2 compresscodec: none isvalid: true\n\
             Dumping /d/a.b-0/00000000000000000000.log\n",
        );
        assert_eq!(all[&("a.b".to_owned(), 1)].len(), 1);
        assert!(all[&("a.b".to_owned(), 0)].is_empty());
    }

    #[test]
    fn group_describe_rows() {
        let out = "\nGROUP  TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID\n\
                   g1     orders 0          5               9               4    -            -     -\n\
                   g1     orders 1          -               3               -    -            -     -\n";
        let m = parse_group_describe("g1", out);
        assert_eq!(m.len(), 1);
        assert_eq!(m[&("orders".to_owned(), 0)], 5);
    }
}
