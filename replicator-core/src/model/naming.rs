//! Remote topic names: identity, a source-alias prefix (MirrorMaker 2's
//! default, `source.orders`), or a user function; and the loop check.

use std::sync::Arc;

use crate::model::MirrorError;

/// How a source topic is named on the target.
#[derive(Clone, Default)]
pub enum RenamePolicy {
    /// The same name.
    #[default]
    Identity,
    /// `<alias><separator><topic>`, as MirrorMaker 2's default
    /// replication policy names remote topics.
    Prefix {
        /// The source cluster's alias, e.g. `"source"`.
        alias: String,
        /// The separator, usually `"."`.
        separator: String,
    },
    /// A user-supplied function.
    Custom(Arc<dyn Fn(&str) -> String + Send + Sync>),
}

impl std::fmt::Debug for RenamePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenamePolicy::Identity => f.write_str("Identity"),
            RenamePolicy::Prefix { alias, separator } => f
                .debug_struct("Prefix")
                .field("alias", alias)
                .field("separator", separator)
                .finish(),
            RenamePolicy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Equal when they name topics the same way: custom functions only when
/// they are the same function (one `Arc`).
impl PartialEq for RenamePolicy {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RenamePolicy::Identity, RenamePolicy::Identity) => true,
            (
                RenamePolicy::Prefix { alias, separator },
                RenamePolicy::Prefix {
                    alias: a,
                    separator: s,
                },
            ) => alias == a && separator == s,
            (RenamePolicy::Custom(f), RenamePolicy::Custom(g)) => Arc::ptr_eq(f, g),
            _ => false,
        }
    }
}

impl Eq for RenamePolicy {}

impl RenamePolicy {
    /// The prefix policy with separator `"."`.
    pub fn prefix(alias: impl Into<String>) -> Self {
        RenamePolicy::Prefix {
            alias: alias.into(),
            separator: ".".into(),
        }
    }

    /// The prefix policy with a chosen separator.
    pub fn prefix_with(alias: impl Into<String>, separator: impl Into<String>) -> Self {
        RenamePolicy::Prefix {
            alias: alias.into(),
            separator: separator.into(),
        }
    }

    /// A function policy.
    pub fn custom(f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        RenamePolicy::Custom(Arc::new(f))
    }

    /// The target name of `topic`.
    pub fn target_name(&self, topic: &str) -> String {
        match self {
            RenamePolicy::Identity => topic.to_owned(),
            RenamePolicy::Prefix { alias, separator } => format!("{alias}{separator}{topic}"),
            RenamePolicy::Custom(f) => f(topic),
        }
    }

    /// Refuses a mapping that would replicate `source_topic` back onto its
    /// origin:
    /// - with the prefix policy, when the remote name's chain of aliases
    ///   names a cluster twice (`a.b.a.orders`) or names the target
    ///   (`target_alias`), e.g. `b.orders` mirrored from `a` to `b` as
    ///   `a.b.orders` in active/active;
    /// - with any policy, when source and target are the same cluster and
    ///   the name does not change.
    pub fn check_loop(
        &self,
        source_topic: &str,
        target_topic: &str,
        target_alias: Option<&str>,
        same_cluster: bool,
    ) -> Result<(), MirrorError> {
        let refuse = |why: String| MirrorError::ReplicationLoop {
            source_topic: source_topic.to_owned(),
            target_topic: target_topic.to_owned(),
            why,
        };
        if same_cluster && source_topic == target_topic {
            return Err(refuse(
                "source and target are the same cluster and the name does not change".into(),
            ));
        }
        if let RenamePolicy::Prefix { alias, separator } = self {
            if separator.is_empty() {
                return Ok(());
            }
            let parts: Vec<&str> = target_topic.split(separator.as_str()).collect();
            // Every part but the last is an alias in a prefix chain.
            let aliases = &parts[..parts.len().saturating_sub(1)];
            for (i, a) in aliases.iter().enumerate() {
                if aliases[..i].contains(a) {
                    return Err(refuse(format!(
                        "the name passes through cluster {a:?} twice"
                    )));
                }
            }
            if let Some(t) = target_alias {
                if aliases.contains(&t) {
                    return Err(refuse(format!(
                        "the topic came from the target cluster {t:?} (it carries its alias)"
                    )));
                }
            }
            if target_alias == Some(alias.as_str()) {
                return Err(refuse("the source and target aliases are the same".into()));
            }
        }
        Ok(())
    }
}

/// Whether the prefix policy's name `topic` (`<alias><separator>...`)
/// says it came from cluster `alias`, at any number of hops: `b.orders` and
/// `a.b.orders` came from `b`. MirrorMaker 2's `isCycle`, without its
/// recursion.
pub(crate) fn came_from(topic: &str, alias: &str, separator: &str) -> bool {
    if separator.is_empty() {
        // Nothing marks a hop; splitting on "" would never advance.
        return false;
    }
    let mut rest = topic;
    while let Some((source, upstream)) = rest.split_once(separator) {
        if upstream.is_empty() {
            return false;
        }
        if source == alias {
            return true;
        }
        rest = upstream;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(RenamePolicy::Identity.target_name("orders"), "orders");
        assert_eq!(
            RenamePolicy::prefix("source").target_name("orders"),
            "source.orders"
        );
        assert_eq!(
            RenamePolicy::prefix_with("dc1", "_").target_name("orders"),
            "dc1_orders"
        );
        let f = RenamePolicy::custom(|t| t.to_uppercase());
        assert_eq!(f.target_name("orders"), "ORDERS");
    }

    #[test]
    fn loops_are_refused() {
        let p = RenamePolicy::prefix("a");
        // b.orders mirrored a -> b comes back to b as a.b.orders.
        let err = p
            .check_loop("b.orders", "a.b.orders", Some("b"), false)
            .unwrap_err();
        assert!(err.to_string().contains("a.b.orders"), "{err}");
        assert!(p.check_loop("a.orders", "a.a.orders", None, false).is_err());
        assert!(p.check_loop("orders", "a.orders", Some("b"), false).is_ok());
        assert!(RenamePolicy::Identity
            .check_loop("orders", "orders", None, true)
            .is_err());
        assert!(RenamePolicy::Identity
            .check_loop("orders", "orders", None, false)
            .is_ok());
    }
}
