//! Error paths, warnings and secrecy of the MirrorMaker 2 reader.

use std::time::Duration;

use super::*;
use replicator_core::{
    ClientIdentity, RenamePolicy, SaslMechanism, SecurityProtocol, StartFrom, TrustStore,
};

const BASE: &str = "clusters = a, b\n\
                    a.bootstrap.servers = a-1.example.com:9092\n\
                    b.bootstrap.servers = b-1.example.com:9092\n\
                    a->b.enabled = true\n";

fn parse(extra: &str) -> Result<Mm2Config, Mm2Error> {
    Mm2Config::from_str(&format!("{BASE}{extra}"), "test.properties")
}

fn err(extra: &str) -> (Mm2Error, String) {
    let e = parse(extra).unwrap_err();
    let s = e.to_string();
    (e, s)
}

fn warnings(extra: &str) -> Vec<Warning> {
    parse(extra).unwrap().warnings
}

#[test]
fn minimal_file_uses_mm2_defaults() {
    let c = parse("").unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let f = c.flow("a", "b").unwrap();
    assert!(f.enabled);
    assert_eq!(f.topics, vec![TopicPattern::parse(".*").unwrap()]);
    assert_eq!(f.topics_exclude.len(), 3);
    assert_eq!(f.policy, RenamePolicy::prefix("a"));
    assert_eq!(f.replication_factor, Some(2));
    assert!(f.sync_topic_configs);
    assert_eq!(f.refresh_interval, Some(Duration::from_secs(600)));
    assert_eq!(f.group_id, "kafka-replicator-a-b");
    assert_eq!(f.start_policy, StartFrom::Earliest);
    assert_eq!(f.max_in_flight_bytes, DEFAULT_MAX_IN_FLIGHT_BYTES);
    assert!(f.auto_create_topics);
    assert_eq!(f.line, 4);
    let a = c.cluster_config("a").unwrap();
    assert_eq!(a.bootstrap_servers, ["a-1.example.com:9092"]);
    assert_eq!(a.connection.security_protocol, SecurityProtocol::Plaintext);
}

#[test]
fn unknown_key_is_a_warning_with_its_line() {
    let w = warnings("a.bootstrap.server = typo:9092\nfrobnicate = 1\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[0].kind, WarningKind::UnknownKey);
    assert_eq!(w[1].key, "frobnicate");
    assert_eq!(w[1].line, Some(6));
    assert_eq!(w[0].key, "a.bootstrap.server");
    assert_eq!(w[0].line, Some(5));
    let s = w[0].to_string();
    assert!(
        s.starts_with("test.properties:5: a.bootstrap.server: unknown key"),
        "{s}"
    );
}

#[test]
fn unknown_keys_in_every_scope() {
    let w = warnings(
        "a->b.replicator.frobnicate = 1\nreplicator.nope = 2\na.replicator.nope = 3\nc.bootstrap.servers = c:9092\na.topics = x\nreplicator.address.overrides = a:1=b:2\n",
    );
    let by_key = |k: &str| {
        w.iter()
            .find(|w| w.key == k)
            .unwrap_or_else(|| panic!("{k}: {w:?}"))
    };
    for k in [
        "a->b.replicator.frobnicate",
        "replicator.nope",
        "a.replicator.nope",
        "c.bootstrap.servers",
        "a.topics",
        "replicator.address.overrides",
    ] {
        assert_eq!(by_key(k).kind, WarningKind::UnknownKey, "{k}");
    }
    assert!(by_key("c.bootstrap.servers")
        .message
        .contains("not declared in `clusters` (a, b)"));
    assert!(by_key("a.topics").message.contains("a-><target>.topics"));
    assert!(by_key("replicator.address.overrides")
        .message
        .contains("<alias>.replicator.address.overrides"));
    assert!(by_key("a->b.replicator.frobnicate")
        .message
        .contains("a->b.replicator.group.id"));
}

#[test]
fn known_mm2_keys_without_effect_say_so() {
    let text = "tasks.max = 4\n\
                emit.checkpoints.enabled = true\n\
                sync.group.offsets.enabled = true\n\
                offset-syncs.topic.replication.factor = 1\n\
                emit.heartbeats.enabled = false\n\
                heartbeats.topic.replication.factor = 1\n\
                checkpoints.topic.replication.factor = 1\n\
                config.storage.replication.factor = 1\n\
                b.offset.storage.replication.factor = 1\n\
                a->b.emit.checkpoints.interval.seconds = 5\n\
                a->b.groups = .*\n\
                sync.topic.acls.enabled = false\n\
                a.ssl.enabled.protocols = TLSv1.2\n\
                key.converter = org.apache.kafka.connect.converters.ByteArrayConverter\n\
                a.producer.linger.ms = 5\n\
                enabled = true\n";
    let w = warnings(text);
    assert_eq!(w.len(), 16, "{w:#?}");
    for w in &w {
        assert_eq!(w.kind, WarningKind::NoEffect, "{w}");
        assert!(!w.message.contains("unknown"), "{w}");
    }
    let tasks = w.iter().find(|w| w.key == "tasks.max").unwrap();
    assert_eq!(tasks.line, Some(5));
    assert!(tasks.to_string().contains("has no effect here"), "{tasks}");
    let hb = w
        .iter()
        .find(|w| w.key == "emit.heartbeats.enabled")
        .unwrap();
    assert!(hb.message.contains("heartbeats"), "{hb}");
}

#[test]
fn bad_values_name_key_line_and_what_is_accepted() {
    let cases: &[(&str, &str, usize, &str)] = &[
        ("a.security.protocol = SSH\n", "a.security.protocol", 5, "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ("replication.factor = 0\n", "replication.factor", 5, "-1"),
        ("a->b.replication.factor = many\n", "a->b.replication.factor", 5, "1 to 32767"),
        ("sync.topic.configs.enabled = yes\n", "sync.topic.configs.enabled", 5, "true or false"),
        ("refresh.topics.interval.seconds = -5\n", "refresh.topics.interval.seconds", 5, "seconds"),
        ("replication.policy.class = com.example.MyPolicy\n", "replication.policy.class", 5, "IdentityReplicationPolicy"),
        ("replication.policy.separator =\n", "replication.policy.separator", 5, "non-empty"),
        ("a->b.topics = ok, (?<=x)y\n", "a->b.topics", 5, "regular expressions"),
        ("a.security.protocol = SASL_SSL\na.sasl.mechanism = GSSAPI\na.sasl.jaas.config = x required;\n", "a.sasl.mechanism", 6, "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
        ("a.security.protocol = SSL\na.ssl.truststore.type = BCFKS\n", "a.ssl.truststore.type", 6, "JKS, PKCS12 or PEM"),
        ("a.security.protocol = SSL\na.ssl.keystore.type = PKCS11\n", "a.ssl.keystore.type", 6, "JKS, PKCS12 or PEM"),
        ("a.request.timeout.ms = soon\n", "a.request.timeout.ms", 5, "milliseconds"),
        ("a.max.in.flight.requests.per.connection = 0\n", "a.max.in.flight.requests.per.connection", 5, "at least 1"),
        ("replicator.start.policy = middle\n", "replicator.start.policy", 5, "earliest or latest"),
        ("a->b.replicator.max.in.flight.bytes = lots\n", "a->b.replicator.max.in.flight.bytes", 5, "MiB"),
        ("a->b.replicator.throttle.bytes.per.second = 0\n", "a->b.replicator.throttle.bytes.per.second", 5, "per second"),
        ("replicator.auto.create.topics = maybe\n", "replicator.auto.create.topics", 5, "true or false"),
        ("a.replicator.address.overrides = kafka-1:9092\n", "a.replicator.address.overrides", 5, "reachable-host:port"),
        ("a.consumer.auto.offset.reset = none\n", "a.consumer.auto.offset.reset", 5, "earliest or latest"),
        ("topic.filter.class = com.example.Filter\n", "topic.filter.class", 5, "DefaultTopicFilter"),
        ("a.reconnect.backoff.ms = 5000\n", "a.reconnect.backoff.ms", 5, "reconnect.backoff.max.ms"),
    ];
    for (extra, key, line, accepted) in cases {
        let (e, s) = err(extra);
        match &e {
            Mm2Error::Value {
                key: k,
                line: l,
                accepted: a,
                origin,
                ..
            } => {
                assert_eq!((k.as_str(), *l), (*key, *line), "{s}");
                assert!(a.contains(accepted), "{s}");
                assert_eq!(origin, "test.properties");
            }
            other => panic!("{extra}: {other:?}"),
        }
        assert!(
            s.starts_with(&format!("test.properties:{line}: {key}: ")),
            "{s}"
        );
        assert!(s.contains("Accepted: "), "{s}");
    }
}

#[test]
fn bad_bootstrap_address_is_named() {
    let e = Mm2Config::from_str(
        "clusters=a,b\na.bootstrap.servers=ok:9092,broken\nb.bootstrap.servers=b:1\na->b.enabled=true",
        "f",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("f:2: a.bootstrap.servers: \"broken\" is not a broker address"),
        "{e}"
    );
    assert!(e.contains("host:port"), "{e}");
}

#[test]
fn missing_file_names_the_path() {
    let path = std::env::temp_dir().join("no-such-dir-mm2/connect-mirror-maker.properties");
    let e = Mm2Config::from_path(&path).unwrap_err();
    assert!(matches!(e, Mm2Error::Io { .. }));
    let s = e.to_string();
    assert!(s.contains(&path.display().to_string()), "{s}");
}

#[test]
fn syntax_errors_name_the_line() {
    let e = Mm2Config::from_str("clusters=a\nx=\\u00zz\n", "f.properties").unwrap_err();
    assert!(matches!(e, Mm2Error::Syntax { line: 2, .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("f.properties:2: malformed"),
        "{e}"
    );
}

#[test]
fn missing_keys_are_named() {
    let e = Mm2Config::from_str("a.bootstrap.servers=x:1", "f").unwrap_err();
    assert!(
        matches!(&e, Mm2Error::Missing { key, .. } if key == "clusters"),
        "{e:?}"
    );
    let e = Mm2Config::from_str(
        "clusters=a,b\na.bootstrap.servers=x:1\na->b.enabled=true",
        "f",
    )
    .unwrap_err();
    assert!(
        matches!(&e, Mm2Error::Missing { key, .. } if key == "b.bootstrap.servers"),
        "{e:?}"
    );
    assert!(e.to_string().contains("flow a->b uses cluster b"), "{e}");
    // An unused cluster needs no brokers.
    let c = Mm2Config::from_str(
        "clusters=a,b,c\na.bootstrap.servers=x:1\nb.bootstrap.servers=y:1\na->b.enabled=true",
        "f",
    )
    .unwrap();
    assert!(c.clusters["c"].bootstrap_servers.is_empty());
    let e = Mm2Config::from_str(
        "clusters=a,b\na.bootstrap.servers=x:1\nb.bootstrap.servers=y:1\na->b.topics=t",
        "f",
    )
    .unwrap_err();
    assert!(
        matches!(&e, Mm2Error::Missing { key, .. } if key == "a->b.enabled"),
        "{e:?}"
    );
    let e = parse("a.security.protocol = SASL_SSL\n").unwrap_err();
    assert!(
        matches!(&e, Mm2Error::Missing { key, .. } if key == "a.sasl.jaas.config"),
        "{e:?}"
    );
}

#[test]
fn flows_must_name_declared_distinct_clusters() {
    let (e, s) = err("a->c.enabled = true\n");
    assert!(matches!(e, Mm2Error::Flow { line: 5, .. }), "{e:?}");
    assert!(
        s.contains("\"c\" is not declared in `clusters` (a, b)"),
        "{s}"
    );
    let (_, s) = err("x->b.enabled = true\n");
    assert!(s.contains("source cluster \"x\""), "{s}");
    let (e, s) = err("b->b.enabled = true\n");
    assert!(matches!(e, Mm2Error::Flow { line: 5, .. }), "{e:?}");
    assert!(s.contains("b->b") && s.contains("itself"), "{s}");
    let (_, s) = err("clusters = a, replicator\n");
    assert!(s.contains("reserved"), "{s}");
}

#[test]
fn disabled_flows_are_kept_with_a_note() {
    let c = parse("b->a.topics = x\nb->a.enabled = false\n").unwrap();
    let f = c.flow("b", "a").unwrap();
    assert!(!f.enabled);
    assert_eq!(c.enabled_flows().count(), 1);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::Note && w.key == "b->a.enabled"));
}

#[test]
fn duplicate_keys_warn_and_the_last_wins() {
    let c = parse("a->b.topics = one\na->b.topics = two\n").unwrap();
    assert_eq!(
        c.flow("a", "b").unwrap().topics,
        vec![TopicPattern::Name("two".into())]
    );
    let w = &c.warnings[0];
    assert_eq!((w.kind, w.line), (WarningKind::Duplicate, Some(5)));
    assert!(w.message.contains("line 6"), "{w}");
}

#[test]
fn flow_settings_override_top_level_ones() {
    let c = parse(
        "clusters = a, b\n\
         b->a.enabled = true\n\
         topics = orders.*\n\
         topics.exclude = orders-internal\n\
         replication.factor = 3\n\
         a->b.replication.factor = -1\n\
         b->a.topics.blacklist = orders-tmp\n\
         replication.policy.separator = _\n\
         refresh.topics.enabled = false\n\
         a->b.refresh.topics.enabled = true\n\
         a->b.refresh.topics.interval.seconds = 30\n\
         replicator.group.id = mirror.{source}.to.{target}\n\
         a->b.replicator.auto.create.topics = false\n\
         replicator.max.in.flight.bytes = 8MiB\n\
         b->a.replicator.throttle.bytes.per.second = 10MiB\n",
    )
    .unwrap();
    let ab = c.flow("a", "b").unwrap();
    let ba = c.flow("b", "a").unwrap();
    assert_eq!(ab.replication_factor, None);
    assert_eq!(ba.replication_factor, Some(3));
    assert_eq!(
        ab.topics_exclude,
        vec![TopicPattern::Name("orders-internal".into())]
    );
    assert_eq!(
        ba.topics_exclude,
        vec![TopicPattern::Name("orders-tmp".into())]
    );
    assert_eq!(ab.policy, RenamePolicy::prefix_with("a", "_"));
    assert_eq!(ab.remote_topic("orders"), "a_orders");
    assert_eq!(ab.refresh_interval, Some(Duration::from_secs(30)));
    assert_eq!(ba.refresh_interval, None);
    assert_eq!(ab.group_id, "mirror.a.to.b");
    assert_eq!(ba.group_id, "mirror.b.to.a");
    assert!(!ab.auto_create_topics && ba.auto_create_topics);
    assert_eq!(ab.max_in_flight_bytes, 8 << 20);
    assert_eq!(ab.throttle_bytes_per_second, None);
    assert_eq!(ba.throttle_bytes_per_second, Some(10 << 20));
    assert!(ba.selects("orders-eu") && !ba.selects("orders-tmp") && !ba.selects("a_orders-eu"));
}

#[test]
fn policy_class_is_accepted_long_or_short() {
    for (v, identity) in [
        (
            "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
            true,
        ),
        ("IdentityReplicationPolicy", true),
        (
            "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
            false,
        ),
        ("DefaultReplicationPolicy", false),
    ] {
        let c = parse(&format!("replication.policy.class = {v}\n")).unwrap();
        let p = &c.flow("a", "b").unwrap().policy;
        assert_eq!(*p == RenamePolicy::Identity, identity, "{v}");
    }
}

#[test]
fn start_policy_precedence() {
    let start = |extra: &str| parse(extra).unwrap().flow("a", "b").unwrap().start_policy;
    assert_eq!(
        start("consumer.auto.offset.reset = latest\n"),
        StartFrom::Latest
    );
    assert_eq!(
        start("replicator.start.policy = latest\n"),
        StartFrom::Latest
    );
    assert_eq!(
        start("a.consumer.auto.offset.reset = latest\n"),
        StartFrom::Latest
    );
    assert_eq!(
        start("b.consumer.auto.offset.reset = latest\n"),
        StartFrom::Earliest
    );
    assert_eq!(
        start(
            "a.consumer.auto.offset.reset = latest\na->b.consumer.auto.offset.reset = earliest\n"
        ),
        StartFrom::Earliest
    );
    assert_eq!(
        start(
            "a->b.consumer.auto.offset.reset = earliest\na->b.replicator.start.policy = LATEST\n"
        ),
        StartFrom::Latest
    );
}

#[test]
fn per_client_connection_settings_must_match_the_cluster() {
    assert!(
        parse("a.security.protocol = PLAINTEXT\na.consumer.security.protocol = PLAINTEXT\n")
            .is_ok()
    );
    let (e, s) = err("a.producer.security.protocol = SSL\n");
    assert!(
        matches!(&e, Mm2Error::Value { key, line: 5, .. } if key == "a.producer.security.protocol"),
        "{e:?}"
    );
    assert!(s.contains("a.security.protocol"), "{s}");
    let (_, s) = err("a->b.producer.bootstrap.servers = other:9092\n");
    assert!(s.contains("b.bootstrap.servers"), "{s}");
    let w = warnings("a.consumer.client.id = c\na.consumer.fetch.max.bytes = 1\n");
    assert!(w.iter().all(|w| w.kind == WarningKind::NoEffect), "{w:?}");
}

#[test]
fn consumer_groups_must_differ_between_flows() {
    let (e, s) = err("b->a.enabled = true\nreplicator.group.id = shared\n");
    assert!(matches!(e, Mm2Error::Flow { .. }), "{e:?}");
    assert!(s.contains("\"shared\"") && s.contains("{source}"), "{s}");
}

#[test]
fn identity_active_active_on_the_same_topics_is_refused() {
    let (e, s) = err("b->a.enabled = true\nreplication.policy.class = IdentityReplicationPolicy\n");
    assert!(matches!(e, Mm2Error::Flow { .. }), "{e:?}");
    assert!(
        s.contains("forever") && s.contains("DefaultReplicationPolicy"),
        "{s}"
    );
    let (_, s) = err("b->a.enabled = true\nreplication.policy.class = IdentityReplicationPolicy\na->b.topics = orders, audit\nb->a.topics = audit\n");
    assert!(s.contains("audit"), "{s}");
    // Disjoint selections are fine.
    let ok = "b->a.enabled = true\nreplication.policy.class = IdentityReplicationPolicy\n\
              a->b.topics = east\\..*\nb->a.topics = west\\..*\n";
    assert!(parse(ok).is_ok());
    let ok = "b->a.enabled = true\nreplication.policy.class = IdentityReplicationPolicy\n\
              a->b.topics = orders\nb->a.topics = .*\nb->a.topics.exclude = orders\n";
    assert!(parse(ok).is_ok());
    // One direction only is fine.
    assert!(parse("replication.policy.class = IdentityReplicationPolicy\n").is_ok());
    // Prefix policy in both directions is fine.
    assert!(parse("b->a.enabled = true\n").is_ok());
    // Identity one way, prefix the other, on everything: loops too.
    let (_, s) =
        err("b->a.enabled = true\na->b.replication.policy.class = IdentityReplicationPolicy\n");
    assert!(s.contains("b.*"), "{s}");
    // Longer cycles of identity flows.
    let (_, s) = err("clusters = a, b, c\nc.bootstrap.servers = c:9092\nb->c.enabled = true\nc->a.enabled = true\nreplication.policy.class = IdentityReplicationPolicy\n");
    assert!(s.contains("a->b, b->c, c->a"), "{s}");
}

#[test]
fn hostname_verification_off_is_refused_unless_replaced() {
    let (e, s) = err("a.security.protocol = SSL\na.ssl.endpoint.identification.algorithm =\n");
    assert!(matches!(&e, Mm2Error::Value { line: 6, .. }), "{e:?}");
    assert!(
        s.contains("a.replicator.tls.server.name")
            && s.contains("a.replicator.tls.insecure.skip.verification"),
        "{s}"
    );
    let c = parse("a.security.protocol = SSL\na.ssl.endpoint.identification.algorithm =\na.replicator.tls.server.name = kafka.example.com\n").unwrap();
    assert_eq!(
        c.clusters["a"].connection.tls.server_name.as_deref(),
        Some("kafka.example.com")
    );
    let c = parse("a.security.protocol = SSL\na.ssl.endpoint.identification.algorithm =\na.replicator.tls.insecure.skip.verification = true\n").unwrap();
    assert!(c.clusters["a"].connection.tls.insecure_skip_verification);
    assert!(c.warnings.iter().any(|w| w.kind == WarningKind::Insecure
        && w.key == "a.replicator.tls.insecure.skip.verification"));
    let (_, s) =
        err("a.security.protocol = SSL\na.ssl.endpoint.identification.algorithm = ldaps\n");
    assert!(s.contains("https"), "{s}");
    assert!(
        parse("a.security.protocol = SSL\na.ssl.endpoint.identification.algorithm = HTTPS\n")
            .is_ok()
    );
}

#[test]
fn ssl_settings_without_tls_warn() {
    let w = warnings("a.ssl.truststore.location = /x.jks\na.sasl.mechanism = PLAIN\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w
        .iter()
        .all(|w| w.kind == WarningKind::NoEffect && w.message.contains("PLAINTEXT")));
}

#[test]
fn top_level_client_settings_apply_to_every_cluster() {
    let c = parse(
        "security.protocol = SASL_SSL\n\
         sasl.mechanism = SCRAM-SHA-512\n\
         sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"mirror\" password=\"pw\";\n\
         b.security.protocol = SSL\n",
    )
    .unwrap();
    let a = &c.clusters["a"].connection;
    assert_eq!(a.security_protocol, SecurityProtocol::SaslSsl);
    let sasl = a.sasl.as_ref().unwrap();
    assert_eq!(
        (sasl.mechanism, sasl.username.as_str()),
        (SaslMechanism::ScramSha512, "mirror")
    );
    let b = &c.clusters["b"].connection;
    assert_eq!(b.security_protocol, SecurityProtocol::Ssl);
    assert!(b.sasl.is_none());
}

#[test]
fn jaas_problems_are_value_errors() {
    let sasl = "a.security.protocol = SASL_SSL\n";
    let (e, s) = err(&format!("{sasl}a.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\"\n"));
    assert!(
        matches!(&e, Mm2Error::Value { key, line: 6, .. } if key == "a.sasl.jaas.config"),
        "{e:?}"
    );
    assert!(
        s.contains("`;`") && s.contains("PlainLoginModule required username="),
        "{s}"
    );
    let (_, s) = err(&format!("{sasl}a.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;\n"));
    assert!(s.contains("OAuthBearerLoginModule is not supported"), "{s}");
    let (_, s) = err(&format!("{sasl}a.sasl.mechanism = SCRAM-SHA-256\na.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";\n"));
    assert!(s.contains("does not match"), "{s}");
    let (e, _) = err(&format!("{sasl}a.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";\n"));
    assert!(
        matches!(&e, Mm2Error::Missing { key, .. } if key == "a.sasl.mechanism"),
        "{e:?}"
    );
    let (_, s) = err(&format!("{sasl}a.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";\n"));
    assert!(s.contains("no password"), "{s}");
    // PLAIN inferred from the module, with a note.
    let c = parse(&format!("{sasl}a.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";\n")).unwrap();
    assert_eq!(
        c.clusters["a"].connection.sasl.as_ref().unwrap().mechanism,
        SaslMechanism::Plain
    );
    assert!(c
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::Note && w.message.contains("GSSAPI")));
}

#[test]
fn stores_map_to_the_connection_layer() {
    let c = parse(
        "a.security.protocol = SSL\n\
         a.ssl.truststore.location = /etc/kafka/truststore.jks\n\
         a.ssl.truststore.password = tpw\n\
         a.ssl.keystore.type = PKCS12\n\
         a.ssl.keystore.location = /etc/kafka/client.p12\n\
         a.ssl.keystore.password = kpw\n\
         a.ssl.key.password = kpw\n\
         b.security.protocol = SSL\n\
         b.ssl.truststore.type = PEM\n\
         b.ssl.truststore.location = /etc/kafka/ca.pem\n\
         b.ssl.keystore.type = PEM\n\
         b.ssl.keystore.location = /etc/kafka/client.pem\n",
    )
    .unwrap();
    let a = &c.clusters["a"].connection.tls;
    assert_eq!(
        a.trust,
        TrustStore::Jks {
            path: "/etc/kafka/truststore.jks".into(),
            password: Some("tpw".into())
        }
    );
    assert_eq!(
        a.identity,
        Some(ClientIdentity::KeyStore {
            path: "/etc/kafka/client.p12".into(),
            password: Some("kpw".into()),
            key_password: Some("kpw".into())
        })
    );
    let b = &c.clusters["b"].connection.tls;
    assert_eq!(b.trust, TrustStore::PemFile("/etc/kafka/ca.pem".into()));
    assert_eq!(
        b.identity,
        Some(ClientIdentity::PemFiles {
            cert_chain: "/etc/kafka/client.pem".into(),
            key: "/etc/kafka/client.pem".into()
        })
    );
    assert_eq!(c.clusters["a"].store_files.len(), 2);
    // A key password of its own goes with the store (JKS keys may have
    // one); encrypted PEM keys are refused.
    let c = parse("a.security.protocol = SSL\na.ssl.keystore.location = /k.jks\na.ssl.keystore.password = one\na.ssl.key.password = two\n").unwrap();
    assert_eq!(
        c.clusters["a"].connection.tls.identity,
        Some(ClientIdentity::KeyStore {
            path: "/k.jks".into(),
            password: Some("one".into()),
            key_password: Some("two".into())
        })
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let (_, s) = err("a.security.protocol = SSL\na.ssl.keystore.type = PEM\na.ssl.keystore.location = /k.pem\na.ssl.key.password = two\n");
    assert!(s.contains("encrypted PEM"), "{s}");
    // No keystore type: Kafka's JKS default; the file is read by content.
    let c = parse("a.security.protocol = SSL\na.ssl.keystore.location = /k.jks\n").unwrap();
    assert!(matches!(
        c.clusters["a"].connection.tls.identity,
        Some(ClientIdentity::KeyStore { .. })
    ));
    assert_eq!(
        c.clusters["a"].store_files[0].declared,
        replicator_core::StoreFormat::Jks
    );
}

#[test]
fn unreadable_stores_name_key_line_and_path() {
    let dir = std::env::temp_dir().join(format!("mm2-stores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.jks");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let jks = dir.join("real.jks");
    std::fs::write(&jks, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).unwrap();

    let check = |extra: String| parse(&extra).unwrap().check_files().unwrap_err();
    let e = check(format!(
        "a.security.protocol = SSL\na.ssl.truststore.location = {}\n",
        missing.display()
    ));
    assert!(
        matches!(&e, Mm2Error::Store { key, line: 6, .. } if key == "a.ssl.truststore.location"),
        "{e:?}"
    );
    let s = e.to_string();
    assert!(s.contains(&missing.display().to_string()), "{s}");

    let e = check(format!(
        "b.security.protocol = SSL\nb.ssl.truststore.type = PEM\nb.ssl.truststore.location = {}\n",
        garbage.display()
    ));
    let s = e.to_string();
    assert!(
        s.starts_with("test.properties:7: b.ssl.truststore.location: cannot use"),
        "{s}"
    );
    assert!(
        s.contains(&garbage.display().to_string()) && s.contains("certificate"),
        "{s}"
    );

    let e = check(format!(
        "a.security.protocol = SSL\na.ssl.keystore.location = {}\n",
        jks.display()
    ));
    let s = e.to_string();
    assert!(s.contains("JKS keystore") && s.contains("truncated"), "{s}");

    // from_path + check_files.
    let file = dir.join("mm2.properties");
    std::fs::write(
        &file,
        format!(
            "{BASE}a.security.protocol = SSL\na.ssl.truststore.location = {}\n",
            missing.display()
        ),
    )
    .unwrap();
    let e = Mm2Config::load(&file).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:6: a.ssl.truststore.location", file.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn secrets_never_appear_in_errors_warnings_or_debug() {
    const SECRET: &str = "Sup3rS3cret-Pa55";
    let jaas = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"token\" password=\"{SECRET}\" extra=\"{SECRET}\";"
    );
    let ok = format!(
        "a.security.protocol = SASL_SSL\n\
         a.sasl.mechanism = PLAIN\n\
         a.sasl.jaas.config = {jaas}\n\
         a.ssl.truststore.location = /t.p12\n\
         a.ssl.truststore.type = PKCS12\n\
         a.ssl.truststore.password = {SECRET}\n\
         a.ssl.keystore.type = PKCS12\n\
         a.ssl.keystore.location = /k.p12\n\
         a.ssl.keystore.password = {SECRET}\n\
         a.ssl.key.password = {SECRET}\n\
         b.ssl.truststore.password = {SECRET}\n\
         a.consumer.sasl.jaas.config = {jaas}\n\
         a.producer.ssl.key.password = {SECRET}\n\
         a.ssl.truststore.password = {SECRET}\n\
         mystery.password = {SECRET}\n"
    );
    let c = parse(&ok).unwrap();
    assert!(!c.warnings.is_empty());
    let mut shown = format!("{c:?}\n{c:#?}\n");
    for w in &c.warnings {
        shown.push_str(&format!("{w}\n{w:?}\n"));
    }
    shown.push_str(&format!("{:?}", c.cluster_config("a").unwrap()));
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("Pa55"), "{shown}");

    // Errors on secret-bearing keys.
    let bad = [
        format!("a.security.protocol = SASL_SSL\na.sasl.jaas.config = PlainLoginModule required username=\"u\" password={SECRET} oops;\n"),
        format!("a.security.protocol = SASL_SSL\na.sasl.jaas.config = PlainLoginModule required username=\"u\" password=\"{SECRET}\n"),
        format!("a.security.protocol = SASL_SSL\na.sasl.jaas.config = {SECRET}\n"),
        format!("a.security.protocol = SASL_SSL\na.sasl.jaas.config = {SECRET} required;\n"),
        format!("a.security.protocol = SSL\na.ssl.keystore.type = PEM\na.ssl.keystore.location = /k\na.ssl.key.password = {SECRET}\n"),
        format!("a.producer.ssl.truststore.password = {SECRET}\n"),
        format!("a.security.protocol = SSL\na.ssl.truststore.password = {SECRET}\na.ssl.truststore.location = /t\na.ssl.truststore.certificates = x\n"),
    ];
    for text in &bad {
        let e = parse(text).unwrap_err();
        let shown = format!("{e}\n{e:?}");
        assert!(!shown.contains("Pa55"), "{shown}");
    }
}

#[test]
fn config_provider_references_are_refused() {
    let (e, s) = err("config.providers = file\nconfig.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider\na.ssl.truststore.password = ${file:/etc/secrets.properties:tspw}\n");
    assert!(
        matches!(&e, Mm2Error::Value { key, line: 7, .. } if key == "a.ssl.truststore.password"),
        "{e:?}"
    );
    assert!(
        s.contains("config provider \"file\"") && !s.contains("tspw"),
        "{s}"
    );
    // Without a declared provider the text is an ordinary value, as in
    // MirrorMaker 2.
    let c = parse("a.client.id = ${x:y}\n").unwrap();
    assert_eq!(c.clusters["a"].connection.client_id, "${x:y}");
}

#[test]
fn many_one_way_identity_flows_are_checked_for_loops_without_blowing_up() {
    // Every ci->cj for i<j: no cycle, but exponentially many paths for a
    // search that does not first ask whether the start is reachable.
    let n = 16;
    let mut text = format!(
        "clusters = {}\nreplication.policy.class = IdentityReplicationPolicy\n",
        (0..n)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for i in 0..n {
        text.push_str(&format!("c{i}.bootstrap.servers = host{i}:9092\n"));
        for j in i + 1..n {
            text.push_str(&format!("c{i}->c{j}.enabled = true\n"));
        }
    }
    let started = std::time::Instant::now();
    let config =
        Mm2Config::from_str(&text, "many.properties").expect("no loop among one-way flows");
    assert_eq!(config.enabled_flows().count(), n * (n - 1) / 2);
    // A hang guard, not a performance claim: the unpruned search took
    // minutes here.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
