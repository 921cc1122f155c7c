//! A committed offset outside the source log, against Tansu. Tansu 0.6
//! answers a Fetch past its log end with no error and no records where
//! Kafka answers OFFSET_OUT_OF_RANGE, so a mirror positioned there would
//! sit ACTIVE with lag 0 and copy nothing. The mirror checks the group's
//! committed offset against the log's [earliest, latest] when it positions
//! a partition, resets per the start policy, reports it, and goes on.
//!
//! Apache Kafka answers OFFSET_OUT_OF_RANGE there; the same scenario runs
//! against it too, so the check at positioning and Kafka's answer agree.
//!
//! Needs `tansu` (`.ci/install-deps tansu`) and Java with Kafka's jars
//! (`.ci/install-deps kafka`); a missing peer fails.

use std::time::Duration;

use integration_tests::log_capture::Logs;
use integration_tests::mirror_support::{
    assert_holds, mirror, numbered, produce, producer, start, wait_for_status, Rec,
};
use integration_tests::peer::{PeerKind, Peers};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use replicator_core::PartitionState;

const FAR: i64 = 1_000_000;

fn group_client(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("librdkafka consumer")
}

/// The mirror group's committed offset of partition 0, read by librdkafka.
fn committed(c: &BaseConsumer, topic: &str) -> Offset {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    got.find_partition(topic, 0)
        .expect("partition listed")
        .offset()
}

// Current-thread runtime: the engine's tasks log on this thread, where the
// capture is installed.
#[tokio::test]
async fn a_committed_offset_past_the_log_end_is_reset_and_reported_tansu() {
    a_committed_offset_past_the_log_end_is_reset_and_reported(PeerKind::Tansu).await;
}

// Current-thread runtime, as above.
#[tokio::test]
async fn a_committed_offset_past_the_log_end_is_reset_and_reported_kafka() {
    a_committed_offset_past_the_log_end_is_reset_and_reported(PeerKind::Kafka).await;
}

async fn a_committed_offset_past_the_log_end_is_reset_and_reported(kind: PeerKind) {
    let logs = Logs::capture();
    let peers = Peers::start(kind, "range");
    let (source, target) = (&peers.source, &peers.target);
    let (topic, group) = (peers.name("far"), peers.name("mirror-far"));
    let (topic, group) = (topic.as_str(), group.as_str());
    let (sb, tb) = (source.bootstrap(), target.bootstrap());
    source.create_topic(topic, 1).unwrap();
    let p = producer(&sb, &[("linger.ms", "2")]);
    let first = numbered(0, 40, 1);
    produce(&p, topic, &first).await;

    // The group's offset points far past the 40-record log.
    let client = group_client(&sb, group);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(FAR))
        .unwrap();
    client
        .commit(&tpl, CommitMode::Sync)
        .expect("commit the far offset");
    assert_eq!(committed(&client, topic), Offset::Offset(FAR));

    // Earliest (the default): back to the log start, copying all of it.
    let handle = start(
        mirror(&sb, &tb)
            .topics([topic])
            .group_id(group)
            .commit_interval(Duration::from_millis(100)),
    )
    .await;
    let control = handle.control();
    let st = control.status();
    assert_eq!(st.partitions[0].position, Some(0), "{st:#?}");
    assert!(st.partitions[0].totals.errors >= 1, "{st:#?}");
    wait_for_status(
        &control,
        "the log copied from its start",
        Duration::from_secs(30),
        |s| s.totals.records == first.len() as u64,
    )
    .await;
    // New records arrive too: the mirror is not stuck past the end.
    let second = numbered(40, 50, 1);
    produce(&p, topic, &second).await;
    wait_for_status(
        &control,
        "the new records mirrored",
        Duration::from_secs(30),
        |s| s.totals.records == 50,
    )
    .await;
    let summary = handle.stop().await.unwrap();
    let part = &summary.partitions[0];
    assert_eq!(part.state, PartitionState::Active, "{summary}");
    assert_eq!(part.committed_offset, Some(50), "{summary}");
    assert_eq!(part.lag, 0, "{summary}");
    assert!(part.totals.errors >= 1, "the reset is an error: {summary}");
    assert_eq!(
        part.totals.lost_offsets, 0,
        "going back skips nothing: {summary}"
    );
    assert!(summary.to_string().contains("0 offsets lost"), "{summary}");
    assert_eq!(
        committed(&client, topic),
        Offset::Offset(50),
        "the group moved on"
    );

    let text = logs.text();
    let warning = text
        .lines()
        .find(|l| l.contains("outside the source log"))
        .unwrap_or_else(|| panic!("no warning logged:\n{text}"));
    for part in [
        "WARN",
        &format!("{topic}-0"),
        &FAR.to_string(),
        "[0, 40]",
        group,
    ] {
        assert!(warning.contains(part), "{part:?} missing: {warning}");
    }

    let all: Vec<Rec> = first.iter().chain(&second).cloned().collect();
    assert_holds(&tb, topic, &all, Duration::from_secs(30));
}
