//! Which source topics are mirrored: names, include and exclude regular
//! expressions, internal topics (`__*`) left out unless asked for, and
//! MirrorMaker 2's cycle check for the prefix rename policy.

use std::fmt;

use regex::Regex;

use super::naming::came_from;
use crate::model::MirrorError;

/// A topic selection. A topic is selected when it is named, or matches an
/// include entry, and matches no exclude entry. Internal topics (names
/// starting with `__`, or flagged internal by the cluster) are excluded
/// unless named explicitly or [`TopicSelection::include_internal`] is set.
///
/// Two options serve MirrorMaker 2 semantics (the `kafka-mirror` command
/// builds each flow's selection with them):
/// [`TopicSelection::exclude_replicated_from`] (the cycle check of
/// active/active setups) and [`TopicSelection::mirror_maker_internal`].
#[derive(Debug, Clone, Default)]
pub struct TopicSelection {
    names: Vec<String>,
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
    include_internal: bool,
    mirror_maker_internal: bool,
    /// `(alias, separator)`: topics a prefix policy says came from `alias`.
    replicated_from: Vec<(String, String)>,
}

/// One include or exclude entry, matched against the whole name.
#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    /// Anchored at both ends.
    Regex(Regex),
}

impl Pattern {
    fn matches(&self, topic: &str) -> bool {
        match self {
            Pattern::Exact(n) => n == topic,
            Pattern::Regex(r) => r.is_match(topic),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(n) => write!(f, "{n:?}"),
            Pattern::Regex(r) => {
                let s = r.as_str();
                let inner = s
                    .strip_prefix("^(?:")
                    .and_then(|s| s.strip_suffix(")$"))
                    .unwrap_or(s);
                write!(f, "/{inner}/")
            }
        }
    }
}

fn compile(pattern: &str) -> Result<Regex, MirrorError> {
    // Anchored: the whole name must match, as in MirrorMaker 2.
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| MirrorError::InvalidRegex {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })
}

/// MirrorMaker 2's and Kafka Connect's internal topics, beyond `__*`:
/// names starting with `.`, ending with `.internal` or `-internal`
/// (heartbeats aside, Connect's and MirrorMaker 2's own topics), and
/// MirrorMaker 2's offset-syncs topics.
pub(crate) fn is_mirror_maker_internal(topic: &str) -> bool {
    topic.starts_with("__")
        || topic.starts_with('.')
        || topic.ends_with(".internal")
        || topic.ends_with("-internal")
        || topic.starts_with("mm2-offset-syncs.")
}

impl TopicSelection {
    /// Selects nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a topic name. A named topic must exist when the mirror starts,
    /// and is selected even if internal.
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.names.push(name.into());
        self
    }

    /// Adds an include expression (matched against the whole name).
    pub fn include(&mut self, pattern: &str) -> Result<&mut Self, MirrorError> {
        self.include.push(Pattern::Regex(compile(pattern)?));
        Ok(self)
    }

    /// Includes exactly `name`, as an include expression matching only it
    /// would: unlike [`TopicSelection::name`], the topic need not exist at
    /// start (it is picked up when created) and the internal-topic rule
    /// applies. This is how MirrorMaker 2 reads a plain name in `topics`.
    pub fn include_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.include.push(Pattern::Exact(name.into()));
        self
    }

    /// Adds an exclude expression (matched against the whole name).
    pub fn exclude(&mut self, pattern: &str) -> Result<&mut Self, MirrorError> {
        self.exclude.push(Pattern::Regex(compile(pattern)?));
        Ok(self)
    }

    /// Excludes exactly `name`.
    pub fn exclude_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.exclude.push(Pattern::Exact(name.into()));
        self
    }

    /// Lets include expressions match internal topics too.
    pub fn include_internal(&mut self, on: bool) -> &mut Self {
        self.include_internal = on;
        self
    }

    /// Also counts MirrorMaker 2's and Kafka Connect's own topics as
    /// internal: names starting with `.`, ending with `.internal` or
    /// `-internal`, or starting with `mm2-offset-syncs.`. MirrorMaker 2
    /// never replicates them.
    pub fn mirror_maker_internal(&mut self, on: bool) -> &mut Self {
        self.mirror_maker_internal = on;
        self
    }

    /// Leaves out every topic that the prefix rename policy
    /// (`<alias><separator><topic>`, MirrorMaker 2's default) says came from
    /// cluster `alias`, at any number of hops: with alias `b` and separator
    /// `.`, both `b.orders` and `a.b.orders`.
    ///
    /// Give it the *target's* alias: this is MirrorMaker 2's cycle check,
    /// which keeps active/active (`a->b` and `b->a`) from sending a topic
    /// back where it came from. Unlike the loop check of
    /// [`crate::RenamePolicy::check_loop`], which refuses such a topic
    /// (an error at start), the topic is simply not selected. An empty
    /// separator marks nothing, so it excludes nothing.
    pub fn exclude_replicated_from(
        &mut self,
        alias: impl Into<String>,
        separator: impl Into<String>,
    ) -> &mut Self {
        self.replicated_from.push((alias.into(), separator.into()));
        self
    }

    /// Whether nothing at all can be selected.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.include.is_empty()
    }

    /// The explicitly named topics.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether `topic` is selected; `internal` is the cluster's flag.
    pub fn matches(&self, topic: &str, internal: bool) -> bool {
        if self.exclude.iter().any(|p| p.matches(topic)) {
            return false;
        }
        if self
            .replicated_from
            .iter()
            .any(|(alias, sep)| came_from(topic, alias, sep))
        {
            return false;
        }
        if self.names.iter().any(|n| n == topic) {
            return true;
        }
        let internal = internal
            || topic.starts_with("__")
            || (self.mirror_maker_internal && is_mirror_maker_internal(topic));
        if internal && !self.include_internal {
            return false;
        }
        self.include.iter().any(|p| p.matches(topic))
    }
}

/// A one-line description, for logs: `names ["orders"], include /app\..*/,
/// exclude /.*\.tmp/`.
impl fmt::Display for TopicSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.names.is_empty() {
            parts.push(format!("names {:?}", self.names));
        }
        let list = |ps: &[Pattern]| {
            ps.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !self.include.is_empty() {
            parts.push(format!("include {}", list(&self.include)));
        }
        if !self.exclude.is_empty() {
            parts.push(format!("exclude {}", list(&self.exclude)));
        }
        for (alias, sep) in &self.replicated_from {
            parts.push(format!("not replicated from {alias:?} (separator {sep:?})"));
        }
        if self.include_internal {
            parts.push("internal topics included".into());
        } else if self.mirror_maker_internal {
            parts.push("MirrorMaker 2 internal topics excluded".into());
        }
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_regex_exclude_and_internal() {
        let mut s = TopicSelection::new();
        s.name("orders")
            .include("app\\..*")
            .unwrap()
            .exclude(".*\\.tmp")
            .unwrap();
        assert!(s.matches("orders", false));
        assert!(s.matches("app.users", false));
        assert!(!s.matches("app.users.tmp", false));
        assert!(!s.matches("xapp.users", false), "anchored");
        assert!(!s.matches("payments", false));
        let mut all = TopicSelection::new();
        all.include(".*").unwrap();
        assert!(!all.matches("__consumer_offsets", true));
        assert!(!all.matches("__anything", false));
        all.include_internal(true);
        assert!(all.matches("__anything", false));
        let mut named = TopicSelection::new();
        named.name("__special");
        assert!(named.matches("__special", false), "named explicitly");
    }

    #[test]
    fn bad_regex_is_an_error_naming_it() {
        let err = TopicSelection::new().include("a(").unwrap_err();
        assert!(err.to_string().contains("a("), "{err}");
    }

    #[test]
    fn exact_entries_are_literal_and_not_required() {
        let mut s = TopicSelection::new();
        s.include_name("orders.v1")
            .include_name("__private")
            .include_name("pay")
            .exclude_name("pay");
        assert!(s.matches("orders.v1", false));
        assert!(!s.matches("orders-v1", false), "the dot is literal");
        assert!(!s.matches("__private", false), "internal rule applies");
        assert!(!s.matches("pay", false), "excluded");
        assert!(s.names().is_empty(), "not required to exist at start");
        assert!(!s.is_empty());
    }

    #[test]
    fn topics_replicated_from_the_target_are_left_out() {
        let mut s = TopicSelection::new();
        s.include(".*").unwrap().exclude_replicated_from("b", ".");
        assert!(s.matches("orders", false));
        assert!(s.matches("a.orders", false), "came from a, not b");
        assert!(!s.matches("b.orders", false), "one hop");
        assert!(!s.matches("a.b.orders", false), "two hops");
        assert!(!s.matches("c.a.b.orders", false), "three hops");
        assert!(s.matches("bb.orders", false), "a different alias");
        assert!(s.matches("b.", false), "no topic after the prefix");
        assert!(s.matches("orders.b", false), "an alias is a prefix");
        // Named topics too: a name is no way around a loop.
        let mut named = TopicSelection::new();
        named.name("b.orders").exclude_replicated_from("b", ".");
        assert!(!named.matches("b.orders", false));
        // Other separators; an empty one marks nothing.
        let mut us = TopicSelection::new();
        us.include(".*")
            .unwrap()
            .exclude_replicated_from("west", "_")
            .exclude_replicated_from("x", "");
        assert!(!us.matches("west_t", false));
        assert!(!us.matches("east_west_t", false));
        assert!(us.matches("west.t", false));
        assert!(us.matches("xt", false));
    }

    #[test]
    fn mirror_maker_internal_topics() {
        let mut s = TopicSelection::new();
        s.include(".*").unwrap();
        for t in [
            ".hidden",
            "mm2-offsets.a.internal",
            "connect-configs-internal",
            "mm2-offset-syncs.b.internal",
            "mm2-offset-syncs.b",
        ] {
            assert!(s.matches(t, false), "{t}: plain Kafka rules");
        }
        s.mirror_maker_internal(true);
        for t in [
            ".hidden",
            "mm2-offsets.a.internal",
            "connect-configs-internal",
            "mm2-offset-syncs.b",
            "__consumer_offsets",
        ] {
            assert!(!s.matches(t, false), "{t}");
        }
        assert!(s.matches("internal-orders", false));
        assert!(s.matches("heartbeats", false));
    }

    #[test]
    fn display_names_every_rule() {
        let mut s = TopicSelection::new();
        s.name("orders")
            .include(r"app\..*")
            .unwrap()
            .include_name("pay")
            .exclude(".*tmp")
            .unwrap()
            .exclude_replicated_from("b", ".")
            .mirror_maker_internal(true);
        assert_eq!(
            s.to_string(),
            r#"names ["orders"], include /app\..*/ "pay", exclude /.*tmp/, not replicated from "b" (separator "."), MirrorMaker 2 internal topics excluded"#
        );
        assert_eq!(TopicSelection::new().to_string(), "nothing");
    }
}
