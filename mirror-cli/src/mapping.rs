//! One MirrorMaker 2 flow onto a [`MirrorBuilder`]: the file's settings are
//! already the engine's types ([`FlowConfig`]); what has no equivalent is
//! returned as notes for the user.

use std::time::Duration;

use replicator_core::{Mirror, MirrorBuilder};

use crate::mm2::{FlowConfig, Mm2Config};

/// Maps one flow onto a [`MirrorBuilder`] (without the mode). Also returns
/// notes on settings that have no builder equivalent.
pub fn builder_for(
    config: &Mm2Config,
    flow: &FlowConfig,
) -> Result<(MirrorBuilder, Vec<String>), String> {
    let cluster = |alias: &str| {
        config.cluster_config(alias).ok_or_else(|| {
            format!(
                "{}:{}: flow {}: cluster {alias:?} is not declared",
                config.origin,
                flow.line,
                flow.name()
            )
        })
    };
    let mut notes = Vec::new();
    let total = usize::try_from(flow.max_in_flight_bytes).unwrap_or(usize::MAX);
    // The flow's topics, internal-topic rule and cycle check, as
    // MirrorMaker 2 applies them: a listed topic that does not exist yet is
    // picked up when it is created, and a topic that came from the target
    // is left out, which keeps active/active running.
    let mut b = Mirror::builder()
        .source(cluster(&flow.source)?)
        .target(cluster(&flow.target)?)
        .target_alias(flow.target.clone())
        .group_id(flow.group_id.clone())
        .create_topics(flow.auto_create_topics)
        .sync_configs(flow.sync_topic_configs)
        .replication_factor(flow.replication_factor.unwrap_or(-1))
        .start_from(flow.start_policy)
        .selection(flow.topic_selection())
        .rename(flow.policy.clone())
        .max_bytes_in_flight(total, total.min(16 << 20))
        .throttle(flow.throttle_bytes_per_second);
    match flow.refresh_interval {
        Some(every) => b = b.topic_refresh_interval(every),
        None => {
            notes.push(
                "refresh.topics.enabled = false has no exact equivalent: new topics are looked for once a year instead"
                    .into(),
            );
            b = b.topic_refresh_interval(Duration::from_secs(365 * 24 * 3600));
        }
    }
    if flow.sync_topic_configs {
        notes.push(format!(
            "sync.topic.configs.interval.seconds ({}s) has no equivalent: topic configs are copied once, when the target topic is created",
            flow.sync_topic_configs_interval.as_secs()
        ));
    }
    if flow.config_properties_exclude.is_some() {
        notes.push(
            "config.properties.exclude has no equivalent: the engine's own list of synced configs is used"
                .into(),
        );
    }
    Ok((b, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_map_onto_the_builder() {
        let config = Mm2Config::from_str(
            "clusters = a, b\n\
             a.bootstrap.servers = a:9092\n\
             b.bootstrap.servers = b:9092\n\
             a->b.enabled = true\n\
             a->b.topics = orders, pay-.*, b_.*\n\
             a->b.topics.exclude = pay-tmp\n\
             b->a.enabled = true\n\
             b->a.topics = orders\n\
             b->a.replicator.start.policy = latest\n\
             replication.policy.separator = _\n\
             refresh.topics.enabled = false\n",
            "t.properties",
        )
        .unwrap();
        let flow = config.flow("a", "b").unwrap();
        let (b, notes) = builder_for(&config, flow).unwrap();
        assert!(
            notes.iter().any(|n| n.contains("refresh.topics")),
            "{notes:?}"
        );
        let m = b.build().unwrap();
        let c = m.config();
        assert_eq!(c.rename.target_name("orders"), "a_orders");
        assert_eq!(c.target_alias.as_deref(), Some("b"));
        assert_eq!(c.group_id, flow.group_id);
        assert_eq!(c.start_from, replicator_core::StartFrom::Earliest);
        let sel = &c.selection;
        assert!(sel.matches("orders", false));
        assert!(sel.matches("pay-eu", false));
        assert!(!sel.matches("pay-tmp", false), "excluded");
        assert!(!sel.matches("b_orders", false), "came from the target");
        assert!(!sel.matches("x_b_orders", false), "came from the target");
        assert!(!sel.matches("ordersx", false), "names are exact");
        assert!(
            !sel.matches("pay-x.internal", false),
            "MirrorMaker 2 internal"
        );
        let (ba, _) = builder_for(&config, config.flow("b", "a").unwrap()).unwrap();
        let ba = ba.build().unwrap();
        let sel = ba.config().selection.clone();
        assert!(sel.matches("orders", false));
        assert!(!sel.matches("a_orders", false), "came from the target");
        assert_eq!(ba.config().start_from, replicator_core::StartFrom::Latest);
    }
}
