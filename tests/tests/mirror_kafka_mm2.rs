//! Migrating a consumer group from one Apache Kafka cluster to another:
//! where does the group land on the target, against the exact next record
//! it had not read on the source?
//!
//! A Java consumer (Kafka's console consumer, one record per poll) reads
//! part of a topic in group `G` on the source and commits. Then a
//! migrator copies the topic and translates the group; on the target a
//! Java consumer in `G` reads on from where the migrator put it. The
//! first record it reads is compared with the record after the last one
//! read on the source.
//!
//! MirrorMaker 2 (dedicated mode, checkpoints with `offset.lag.max=0`
//! and `sync.group.offsets.enabled`) is measured today; our mirror's
//! group sync is issue 12, whose test is switched off until it lands.
//!
//! Needs Java and Kafka's jars (`.ci/install-deps kafka`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use integration_tests::kafka::{self, mm2_properties, Isolation, Jvm, KafkaCluster, MirrorMaker2};
use integration_tests::mirror_support::{init_logs, produce, producer, Rec, TS};

const PARTITIONS: i32 = 2;
const RECORDS: usize = 200;
/// Records the group reads (and commits) on the source before migrating.
const READ_FIRST: usize = 109;

/// Where a migrated group landed on one partition.
#[derive(Debug)]
struct Landing {
    partition: i32,
    /// The group's committed offset on the source: its next record.
    source_next: i64,
    /// The value of that record.
    next_value: String,
    /// The first record the group read on the target (its value).
    first_on_target: Option<String>,
}

impl Landing {
    /// Records re-read (positive) or skipped (negative) by the migrated group.
    fn distance(&self) -> Option<i64> {
        let idx = |v: &str| v.rsplit('-').next().and_then(|n| n.parse::<i64>().ok());
        // Values carry the record's global number; a partition holds every
        // PARTITIONS-th one.
        Some(
            (idx(&self.next_value)? - idx(self.first_on_target.as_deref()?)?)
                / i64::from(PARTITIONS),
        )
    }
}

fn records(topic_tag: &str) -> Vec<Rec> {
    (0..RECORDS)
        .map(|i| {
            let p = (i as i32) % PARTITIONS;
            Rec::kv(
                p,
                &format!("k{i}"),
                &format!("{topic_tag}-{i}"),
                TS + i as i64,
            )
        })
        .collect()
}

/// The scenario up to the migration: `topic` on the source with
/// [`records`], group `group` having read [`READ_FIRST`] of them through
/// Kafka's Java consumer (small fetches, so it alternates between the
/// partitions), which committed them. Returns the group's committed offset
/// and the next record per partition.
async fn group_on_source(
    source: &KafkaCluster,
    topic: &str,
    group: &str,
) -> BTreeMap<i32, (i64, String)> {
    source.create_topic(topic, PARTITIONS).unwrap();
    let recs = records(topic);
    produce(
        &producer(
            &source.bootstrap(),
            &[("linger.ms", "5"), ("batch.num.messages", "5")],
        ),
        topic,
        &recs,
    )
    .await;
    let read = tokio::task::block_in_place(|| {
        source.java_consume_with(
            topic,
            group,
            READ_FIRST,
            Isolation::ReadCommitted,
            Duration::from_secs(10),
            &[("max.partition.fetch.bytes", "300")],
        )
    })
    .unwrap();
    assert_eq!(read.len(), READ_FIRST, "the Java consumer read its share");
    let committed = tokio::task::block_in_place(|| source.group_offsets(group)).unwrap();
    let by_partition: BTreeMap<i32, Vec<&Rec>> = recs.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(r.partition).or_insert_with(Vec::new).push(r);
        m
    });
    (0..PARTITIONS)
        .map(|p| {
            let next = *committed.get(&(topic.to_owned(), p)).unwrap_or_else(|| {
                panic!("group {group} committed nothing on {topic}-{p}: {committed:?}")
            });
            let value = by_partition[&p][next as usize].value.clone().unwrap();
            (p, (next, String::from_utf8(value).unwrap()))
        })
        .collect()
}

/// After the migration: the group reads on the target topic; the first
/// record per partition is where it landed.
fn landings(
    target: &KafkaCluster,
    target_topic: &str,
    group: &str,
    next: &BTreeMap<i32, (i64, String)>,
) -> Vec<Landing> {
    let read = target
        .java_consume(
            target_topic,
            group,
            RECORDS,
            Isolation::ReadCommitted,
            Duration::from_secs(10),
        )
        .unwrap();
    next.iter()
        .map(|(&p, (offset, value))| Landing {
            partition: p,
            source_next: *offset,
            next_value: value.clone(),
            first_on_target: read
                .iter()
                .find(|r| r.partition == p)
                .and_then(|r| r.value.clone()),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_maker_2_lands_the_group_at_or_before_its_next_record() {
    init_logs();
    let (source, target) = kafka::shared_pair();
    let topic = "migrate.mm2";
    let group = "migrating-app-mm2";
    let next = group_on_source(source, topic, group).await;
    eprintln!("group {group} on the source: next (offset, record) per partition {next:?}");

    let props = mm2_properties(
        &source.bootstrap(),
        &target.bootstrap(),
        "migrate\\.mm2",
        group,
    );
    let mut mm2 = MirrorMaker2::start(&props, &Jvm::Test(512)).unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    // MM2 writes the translated offsets into the target group (it must have
    // no active member there) as its checkpoints catch up. Not every
    // partition gets one: a partition without one lands where the
    // consumer's auto.offset.reset puts it (earliest here).
    let target_topic = format!("source.{topic}");
    let mut copied_at = None;
    let synced = loop {
        let offsets =
            tokio::task::block_in_place(|| target.group_offsets(group)).unwrap_or_default();
        let mine: BTreeMap<i32, i64> = offsets
            .into_iter()
            .filter(|((t, _), _)| *t == target_topic)
            .map(|((_, p), o)| (p, o))
            .collect();
        let copied = (0..PARTITIONS)
            .map(|p| target.watermarks(&target_topic, p).map_or(0, |w| w.1))
            .sum::<i64>();
        if copied == RECORDS as i64 && copied_at.is_none() {
            copied_at = Some(Instant::now());
            eprintln!("MirrorMaker 2 copied every record in {:?}", t0.elapsed());
        }
        let waited = copied_at.is_some_and(|t| t.elapsed() > Duration::from_secs(30));
        if mine.len() == PARTITIONS as usize || waited {
            break mine;
        }
        assert!(mm2.is_running(), "MirrorMaker 2 exited\n{}", mm2.log());
        assert!(
            t0.elapsed() < Duration::from_secs(150),
            "MirrorMaker 2 did not copy {topic} within 150 s ({copied} records)\n{}",
            mm2.log()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    eprintln!(
        "MirrorMaker 2 synced {group} in {:?}: {synced:?}",
        t0.elapsed()
    );
    mm2.stop().unwrap();
    let landed = tokio::task::block_in_place(|| landings(target, &target_topic, group, &next));
    for l in &landed {
        eprintln!(
            "MM2, partition {}: source next offset {} ({}), target offset {:?}, first record read on the target {:?}: {} record(s) read again",
            l.partition,
            l.source_next,
            l.next_value,
            synced.get(&l.partition),
            l.first_on_target,
            l.distance().map_or("?".into(), |d| d.to_string())
        );
        let d = l
            .distance()
            .unwrap_or_else(|| panic!("nothing read on the target: {l:?}"));
        assert!(d >= 0, "MirrorMaker 2 skipped {} record(s): {l:?}", -d);
    }
}

/// Our mirror's group sync (issue 12): the same migration, where the goal
/// is to land on exactly the next record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs issue 12: consumer-group offset sync from the source group to the target"]
async fn our_group_sync_lands_the_group_on_exactly_its_next_record() {
    use integration_tests::mirror_support::{finish, mirror, start};
    use replicator_core::{Mode, RenamePolicy};
    init_logs();
    let (source, target) = kafka::shared_pair();
    let topic = "migrate.ours";
    let group = "migrating-app-ours";
    let next = group_on_source(source, topic, group).await;
    // Issue 12 adds the group selection to the builder; the copy below is
    // today's part of the migration.
    let handle = start(
        mirror(&source.bootstrap(), &target.bootstrap())
            .topics([topic])
            .rename(RenamePolicy::prefix("source"))
            .group_id("migrate-ours-mirror")
            .mode(Mode::UntilCaughtUp),
    )
    .await;
    finish(handle, Duration::from_secs(60)).await;
    let target_topic = format!("source.{topic}");
    let landed = tokio::task::block_in_place(|| landings(target, &target_topic, group, &next));
    for l in &landed {
        eprintln!("ours: {l:?}");
        assert_eq!(l.distance(), Some(0), "exactly the next record: {l:?}");
    }
}
