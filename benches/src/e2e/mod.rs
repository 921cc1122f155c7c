//! The end-to-end bench's parts: the rusage of one measured child
//! ([`usage`]), the bench broker's own speed check ([`speed`]), the raw
//! relay floor ([`relay`]), medians for the report ([`stats`]) and the
//! preload of a real broker ([`preload`]). The `e2e` binary drives them;
//! `e2e-mirror` and `e2e-rdkafka` are the replicators it measures;
//! `e2e-kafka` measures our mirror beside MirrorMaker 2 between two Apache
//! Kafka brokers.

pub mod preload;
pub mod relay;
pub mod speed;
pub mod stats;
pub mod usage;

/// Topic the bench logs hold.
pub const TOPIC: &str = "bench";

use std::collections::HashMap;

/// `--key value` pairs and bare `--flag`s (value `"true"`) of a command
/// line; other words are ignored.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        let Some(key) = a.strip_prefix("--") else {
            continue;
        };
        let value = match it.peek() {
            Some(v) if !v.starts_with("--") => it.next().unwrap_or_default(),
            _ => "true".to_owned(),
        };
        out.insert(key.to_owned(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn args_pairs_and_flags() {
        let a = super::parse_args(
            ["--a", "1", "--flag", "--b", "x"]
                .iter()
                .map(|s| s.to_string()),
        );
        assert_eq!(a["a"], "1");
        assert_eq!(a["flag"], "true");
        assert_eq!(a["b"], "x");
    }
}
