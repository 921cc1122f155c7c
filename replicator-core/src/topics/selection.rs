//! Which source topics are mirrored: names, include and exclude regular
//! expressions, and internal topics (`__*`) left out unless asked for.

use regex::Regex;

use crate::mirror::MirrorError;

/// A topic selection. A topic is selected when it is named, or matches an
/// include expression, and matches no exclude expression. Internal topics
/// (names starting with `__`, or flagged internal by the cluster) are
/// excluded unless named explicitly or [`TopicSelection::include_internal`]
/// is set.
#[derive(Debug, Clone, Default)]
pub struct TopicSelection {
    names: Vec<String>,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    include_internal: bool,
}

fn compile(pattern: &str) -> Result<Regex, MirrorError> {
    // Anchored: the whole name must match, as in MirrorMaker 2.
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| MirrorError::InvalidRegex {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })
}

impl TopicSelection {
    /// Selects nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds topic names.
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.names.push(name.into());
        self
    }

    /// Adds an include expression (matched against the whole name).
    pub fn include(&mut self, pattern: &str) -> Result<&mut Self, MirrorError> {
        self.include.push(compile(pattern)?);
        Ok(self)
    }

    /// Adds an exclude expression (matched against the whole name).
    pub fn exclude(&mut self, pattern: &str) -> Result<&mut Self, MirrorError> {
        self.exclude.push(compile(pattern)?);
        Ok(self)
    }

    /// Lets include expressions match internal topics too.
    pub fn include_internal(&mut self, on: bool) -> &mut Self {
        self.include_internal = on;
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
        if self.exclude.iter().any(|r| r.is_match(topic)) {
            return false;
        }
        if self.names.iter().any(|n| n == topic) {
            return true;
        }
        if (internal || topic.starts_with("__")) && !self.include_internal {
            return false;
        }
        self.include.iter().any(|r| r.is_match(topic))
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
}
