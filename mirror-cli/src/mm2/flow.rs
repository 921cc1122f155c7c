//! Replication flows (`source->target`): which topics, how they are named on
//! the target, and where a flow starts.

use std::fmt;
use std::time::Duration;

use regex::Regex;

use replicator_core::{RenamePolicy, StartFrom, TopicSelection};

/// One entry of a `topics` or `topics.exclude` list.
///
/// MirrorMaker 2 compiles every entry as a Java regular expression that
/// must match the *whole* topic name; a plain name is simply a regex that
/// matches itself. This type follows that: an entry with no regex
/// metacharacters is kept as a [`TopicPattern::Name`] (compared exactly,
/// which is the same thing), anything else is a [`TopicPattern::Regex`]
/// anchored at both ends. Beware that `.` is a metacharacter, so
/// `orders.v1` also matches `orders-v1`, exactly as in MirrorMaker 2; write
/// `orders\.v1` for the literal dot.
#[derive(Clone)]
pub enum TopicPattern {
    /// A literal topic name.
    Name(String),
    /// A regular expression matched against the whole name.
    Regex {
        /// The entry as written.
        source: String,
        /// The compiled, anchored expression.
        regex: Regex,
    },
}

impl TopicPattern {
    /// Parses one list entry (already trimmed). Fails, with the reason, on
    /// syntax the `regex` crate does not accept (look-around and
    /// back-references, which Java has).
    pub fn parse(entry: &str) -> Result<Self, String> {
        if !entry.contains([
            '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
        ]) {
            return Ok(Self::Name(entry.to_owned()));
        }
        Regex::new(&format!("^(?:{entry})$"))
            .map(|regex| Self::Regex {
                source: entry.to_owned(),
                regex,
            })
            .map_err(|e| {
                let detail = match e {
                    regex::Error::Syntax(s) => {
                        s.lines().last().unwrap_or_default().trim().to_owned()
                    }
                    other => other.to_string(),
                };
                format!("{entry:?} is not a regular expression this reader accepts ({detail})")
            })
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Name(n) => n,
            Self::Regex { source, .. } => source,
        }
    }

    /// Whether `topic` matches (the whole name).
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Self::Name(n) => n == topic,
            Self::Regex { regex, .. } => regex.is_match(topic),
        }
    }

    /// Whether this is a regex rather than a plain name.
    pub fn is_regex(&self) -> bool {
        matches!(self, Self::Regex { .. })
    }
}

impl fmt::Debug for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => write!(f, "Name({n:?})"),
            Self::Regex { source, .. } => write!(f, "Regex({source:?})"),
        }
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for TopicPattern {
    fn eq(&self, other: &Self) -> bool {
        self.is_regex() == other.is_regex() && self.as_str() == other.as_str()
    }
}

impl Eq for TopicPattern {}

/// Parses a comma-separated list the way Kafka's `ConfigDef` LIST type
/// does: entries are trimmed, an empty value is an empty list.
pub(crate) fn parse_list(value: &str) -> Vec<&str> {
    let value = value.trim();
    if value.is_empty() {
        return Vec::new();
    }
    value.split(',').map(str::trim).collect()
}

/// Whether any pattern matches.
pub(crate) fn any_matches(patterns: &[TopicPattern], topic: &str) -> bool {
    patterns.iter().any(|p| p.matches(topic))
}

/// MirrorMaker 2's default `topics.exclude`.
pub const DEFAULT_TOPICS_EXCLUDE: &str = r"mm2.*\.internal, .*\.replica, __.*";

/// One `source->target` replication flow, with every setting resolved
/// (flow-level keys over top-level keys over defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// `source->target.enabled`. MirrorMaker 2 runs a flow only when this
    /// is `true`; flows that are only configured are kept here disabled.
    pub enabled: bool,
    /// `topics`: what to replicate (default `.*`).
    pub topics: Vec<TopicPattern>,
    /// `topics.exclude`: what not to replicate, winning over `topics`
    /// (default [`DEFAULT_TOPICS_EXCLUDE`]).
    pub topics_exclude: Vec<TopicPattern>,
    /// `replication.policy.class` and `replication.policy.separator`:
    /// [`RenamePolicy::Prefix`] with the source alias for
    /// `DefaultReplicationPolicy` (`a.orders`), [`RenamePolicy::Identity`]
    /// for `IdentityReplicationPolicy`.
    pub policy: RenamePolicy,
    /// `replication.factor` for topics created on the target; `None` is
    /// `-1`, the target broker's default. MirrorMaker 2's default is 2.
    pub replication_factor: Option<i16>,
    /// `sync.topic.configs.enabled` (default true).
    pub sync_topic_configs: bool,
    /// `sync.topic.configs.interval.seconds` (default 600).
    pub sync_topic_configs_interval: Duration,
    /// `config.properties.exclude`: topic configs not to copy; `None` for
    /// the engine's default list.
    pub config_properties_exclude: Option<Vec<TopicPattern>>,
    /// How often to look for new topics and partitions
    /// (`refresh.topics.interval.seconds`, default 600); `None` when
    /// `refresh.topics.enabled=false`.
    pub refresh_interval: Option<Duration>,
    /// The consumer group whose committed offsets record progress
    /// (`replicator.group.id`).
    pub group_id: String,
    /// Where to start without a committed offset
    /// (`replicator.start.policy` or `consumer.auto.offset.reset`).
    pub start_policy: StartFrom,
    /// Bytes fetched but not yet acknowledged by the target, at most
    /// (`replicator.max.in.flight.bytes`).
    pub max_in_flight_bytes: u64,
    /// Fetched bytes per second at most, `None` for no limit
    /// (`replicator.throttle.bytes.per.second`).
    pub throttle_bytes_per_second: Option<u64>,
    /// Whether missing topics are created on the target
    /// (`replicator.auto.create.topics`).
    pub auto_create_topics: bool,
    /// The line that enables the flow (or its first key).
    pub line: usize,
}

impl FlowConfig {
    /// `source->target`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }

    /// The flow's topics as a [`TopicSelection`], ready for
    /// [`replicator_core::MirrorBuilder::selection`]: `topics` included (plain names
    /// as exact entries, so a listed topic that does not exist yet is
    /// picked up when it is created, as in MirrorMaker 2), `topics.exclude`
    /// excluded, MirrorMaker 2's internal topics left out
    /// ([`TopicSelection::mirror_maker_internal`]), and with the prefix
    /// policy, topics that came from the target left out
    /// ([`TopicSelection::exclude_replicated_from`], the cycle check).
    pub fn topic_selection(&self) -> TopicSelection {
        let mut s = TopicSelection::new();
        for p in &self.topics {
            match p {
                TopicPattern::Name(n) => s.include_name(n.clone()),
                TopicPattern::Regex { source, .. } => s
                    .include(source)
                    .expect("compiled the same way when the file was read"),
            };
        }
        for p in &self.topics_exclude {
            match p {
                TopicPattern::Name(n) => s.exclude_name(n.clone()),
                TopicPattern::Regex { source, .. } => s
                    .exclude(source)
                    .expect("compiled the same way when the file was read"),
            };
        }
        s.mirror_maker_internal(true);
        if let RenamePolicy::Prefix { separator, .. } = &self.policy {
            s.exclude_replicated_from(self.target.clone(), separator.clone());
        }
        s
    }

    /// Whether this flow replicates `topic` (a name on the source): it
    /// matches `topics`, matches no `topics.exclude` entry, is not an
    /// internal topic, and did not come from the target (prefix policy).
    /// The rule is [`FlowConfig::topic_selection`]'s; build that once to
    /// test many names.
    pub fn selects(&self, topic: &str) -> bool {
        self.topic_selection().matches(topic, false)
    }

    /// The name `topic` gets on the target.
    pub fn remote_topic(&self, topic: &str) -> String {
        self.policy.target_name(topic)
    }
}

/// The literal text every match of `pattern` starts with, and whether the
/// pattern is nothing but that text. Conservative: a shorter prefix than the
/// true one is fine (it only makes overlap more likely).
fn literal_prefix(p: &TopicPattern) -> (String, bool) {
    match p {
        TopicPattern::Name(n) => (n.clone(), true),
        TopicPattern::Regex { source, .. } => regex_literal_prefix(source),
    }
}

fn regex_literal_prefix(src: &str) -> (String, bool) {
    // An alternation anywhere might be at the top level: give up.
    if src.contains('|') {
        return (String::new(), false);
    }
    let mut out = String::new();
    let mut chars = src.chars().peekable();
    if chars.peek() == Some(&'^') {
        chars.next();
    }
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if !e.is_ascii_alphanumeric() => out.push(e),
                _ => return (out, false),
            },
            '*' | '?' | '{' => {
                out.pop();
                return (out, false);
            }
            '.' | '[' | '(' | ')' | '$' | '+' | '^' => return (out, false),
            other => out.push(other),
        }
    }
    (out, true)
}

/// Whether exclude entry `e` removes every topic `p` could match: the same
/// entry, or an entry `L.*` where `p` only matches names starting with `L`.
fn covers(e: &TopicPattern, p: &TopicPattern) -> bool {
    if e == p {
        return true;
    }
    if let TopicPattern::Regex { source, .. } = e {
        if let Some(stem) = source.strip_suffix(".*") {
            let (lit, exact) = regex_literal_prefix(stem);
            return exact && literal_prefix(p).0.starts_with(&lit);
        }
        if source == ".*" {
            return true;
        }
    }
    false
}

/// A set of topics: includes minus excludes.
pub(crate) struct Selection<'a> {
    pub include: &'a [TopicPattern],
    pub exclude: &'a [TopicPattern],
}

/// Whether two selections can share a topic. Exact for plain names;
/// for two regexes, they are taken to overlap unless their literal prefixes
/// differ or an exclude entry rules one out. Returns a description of the
/// overlap.
pub(crate) fn may_overlap(a: &Selection<'_>, b: &Selection<'_>) -> Option<String> {
    let excluded = |t: &str| any_matches(a.exclude, t) || any_matches(b.exclude, t);
    let covered = |p: &TopicPattern| a.exclude.iter().chain(b.exclude).any(|e| covers(e, p));
    for p in a.include {
        for q in b.include {
            let hit = match (p, q) {
                (TopicPattern::Name(x), _) => q.matches(x) && !excluded(x),
                (_, TopicPattern::Name(y)) => p.matches(y) && !excluded(y),
                _ => {
                    let (x, _) = literal_prefix(p);
                    let (y, _) = literal_prefix(q);
                    (x.starts_with(&y) || y.starts_with(&x)) && !covered(p) && !covered(q)
                }
            };
            if hit {
                return Some(if p == q {
                    format!("both select {p}")
                } else {
                    format!("{p} and {q} can select the same topics")
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(list: &str) -> Vec<TopicPattern> {
        parse_list(list)
            .into_iter()
            .map(|e| TopicPattern::parse(e).unwrap())
            .collect()
    }

    #[test]
    fn names_and_regexes_follow_mm2() {
        assert_eq!(
            TopicPattern::parse("orders").unwrap(),
            TopicPattern::Name("orders".into())
        );
        let p = TopicPattern::parse("orders.v1").unwrap();
        assert!(p.is_regex());
        assert!(p.matches("orders.v1") && p.matches("orders-v1"));
        let p = TopicPattern::parse(r"orders\.v1").unwrap();
        assert!(p.matches("orders.v1") && !p.matches("orders-v1"));
        // Whole-name matches, as Java's Matcher.matches().
        let p = TopicPattern::parse("foo-.*").unwrap();
        assert!(p.matches("foo-1") && !p.matches("xfoo-1"));
        let p = TopicPattern::parse("a|b").unwrap();
        assert!(p.matches("a") && p.matches("b") && !p.matches("ab"));
        let err = TopicPattern::parse("(?!internal).*").unwrap_err();
        assert!(err.contains("(?!internal).*"), "{err}");
        assert_eq!(parse_list(" a , b ,c"), ["a", "b", "c"]);
        assert!(parse_list("  ").is_empty());
    }

    fn base() -> FlowConfig {
        FlowConfig {
            source: "a".into(),
            target: "b".into(),
            enabled: true,
            topics: pats(".*"),
            topics_exclude: pats(DEFAULT_TOPICS_EXCLUDE),
            policy: RenamePolicy::prefix("a"),
            replication_factor: Some(2),
            sync_topic_configs: true,
            sync_topic_configs_interval: Duration::from_secs(600),
            config_properties_exclude: None,
            refresh_interval: Some(Duration::from_secs(600)),
            group_id: "g".into(),
            start_policy: StartFrom::Earliest,
            max_in_flight_bytes: 1,
            throttle_bytes_per_second: None,
            auto_create_topics: true,
            line: 1,
        }
    }

    #[test]
    fn prefix_policy_names_and_cycles() {
        let f = base();
        assert_eq!(f.remote_topic("orders"), "a.orders");
        assert!(!f.selects("b.orders"), "came from the target");
        assert!(!f.selects("a.b.orders"), "came from the target, two hops");
        assert!(f.selects("a.orders"));
        let f = FlowConfig {
            source: "east".into(),
            target: "west".into(),
            policy: RenamePolicy::prefix_with("east", "_"),
            ..base()
        };
        assert_eq!(f.remote_topic("t"), "east_t");
        assert!(!f.selects("west_t"));
        let i = FlowConfig {
            policy: RenamePolicy::Identity,
            ..base()
        };
        assert_eq!(i.remote_topic("orders"), "orders");
        assert!(i.selects("b.orders"));
    }

    #[test]
    fn overlap_detection() {
        let check = |ai: &str, ae: &str, bi: &str, be: &str| {
            let (ai, ae, bi, be) = (pats(ai), pats(ae), pats(bi), pats(be));
            may_overlap(
                &Selection {
                    include: &ai,
                    exclude: &ae,
                },
                &Selection {
                    include: &bi,
                    exclude: &be,
                },
            )
        };
        assert!(check(".*", "", ".*", "").is_some());
        assert!(check("orders", "", "payments", "").is_none());
        assert!(check("orders", "", "ord.*", "").is_some());
        assert!(check("orders", "", "ord.*", "orders").is_none());
        assert!(check(r"dc1\..*", "", r"dc2\..*", "").is_none());
        assert!(check(r"dc1\..*", "", r"dc.*", "").is_some());
        assert!(check(".*", r"dc2\..*", r"dc2\..*", "").is_none());
        assert!(check(".*", "", r"dc2\..*", r"dc2\..*").is_none());
        assert!(check("a|b", "", "c.*", "").is_some());
        assert!(check("ab?c.*", "", "ac", "").is_some());
        assert!(check("ab?c.*", "", "x.*", "").is_none());
    }

    #[test]
    fn selects_applies_excludes_internal_topics_and_cycles() {
        let f = base();
        assert!(f.selects("orders"));
        assert!(!f.selects("__consumer_offsets"));
        assert!(!f.selects("mm2-offsets.a.internal"));
        assert!(!f.selects("b.orders"));
        assert!(f.selects("c.orders"));
        assert_eq!(f.remote_topic("orders"), "a.orders");
        assert_eq!(f.name(), "a->b");

        // The selection the mirror gets is the same rule.
        let named = FlowConfig {
            topics: pats("orders, pay-.*, b.orders, .hidden"),
            topics_exclude: pats("pay-tmp"),
            ..f.clone()
        };
        let sel = named.topic_selection();
        assert!(
            sel.names().is_empty(),
            "listed names need not exist at start"
        );
        for (topic, want) in [
            ("orders", true),
            ("pay-eu", true),
            ("pay-tmp", false),
            ("b.orders", false),
            (".hidden", false),
            ("ordersx", false),
        ] {
            assert_eq!(sel.matches(topic, false), want, "{topic}");
            assert_eq!(named.selects(topic), want, "{topic}");
        }
        let identity = FlowConfig {
            policy: RenamePolicy::Identity,
            ..named
        };
        assert!(identity.selects("b.orders"), "nothing marks a remote topic");
    }
}
