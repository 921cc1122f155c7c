//! Fuzz target bodies (feature `fuzzing`) of the MirrorMaker 2 reader,
//! shared by the cargo-fuzz targets in `fuzz/` and by the corpus replay
//! test (`tests/fuzz_replay.rs`), so both run the same code. Each function
//! takes arbitrary bytes and must not panic; where a parse succeeds it
//! checks more, as each target says.
//!
//! Not a stable API: it changes with the targets.

use std::collections::BTreeSet;

use crate::mm2::{jaas, properties, Mm2Config, Mm2Error};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its cargo-fuzz binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[("mm2_properties", mm2_properties), ("jaas", jaas)];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// ---------------------------------------------------------------------------
// MirrorMaker 2 properties and JAAS

/// Text as [`Mm2Config::from_path`] reads a file: UTF-8, else ISO-8859-1.
fn text_of(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(t) => t.to_owned(),
        Err(_) => data.iter().map(|&b| char::from(b)).collect(),
    }
}

/// At least the number of lines of `text` (`\n`, `\r` and `\r\n` end a
/// line).
fn max_lines(text: &str) -> usize {
    1 + text.bytes().filter(|b| matches!(b, b'\n' | b'\r')).count()
}

/// Non-ASCII characters that occur in secrets and nowhere else in the
/// input: if one shows up in an error, a warning or `Debug` output, a
/// secret leaked. (Messages are ASCII; non-ASCII text in them comes from
/// the input.)
struct SecretChars(BTreeSet<char>);

impl SecretChars {
    fn new(secrets: &[String], public: &[String]) -> Self {
        let public: BTreeSet<char> = public.iter().flat_map(|s| s.chars()).collect();
        Self(
            secrets
                .iter()
                .flat_map(|s| s.chars())
                .filter(|c| !c.is_ascii() && !public.contains(c))
                .collect(),
        )
    }

    fn check(&self, what: &str, shown: &str) {
        if let Some(c) = shown.chars().find(|c| self.0.contains(c)) {
            panic!("{what} shows a secret's character {c:?}: {shown}");
        }
    }
}

/// Splits the file's entries into secret values (of secret keys, and JAAS
/// passwords) and public text (keys, other values, other JAAS parts).
fn mm2_secrets(entries: &[properties::Entry], origin: &str) -> SecretChars {
    let mut secrets = Vec::new();
    let mut public = vec![origin.to_owned()];
    for e in entries {
        public.push(e.key.clone());
        let k = e.key.to_ascii_lowercase();
        if k.contains("jaas") {
            match jaas::parse(&e.value) {
                Ok(j) => {
                    public.push(j.login_module.clone());
                    for name in j.option_names() {
                        public.push(name.to_owned());
                        let v = j.option(name).expect("listed").expose().to_owned();
                        if name == "password" {
                            secrets.push(v);
                        } else {
                            public.push(v);
                        }
                    }
                }
                // Unparsed JAAS text is checked by the `jaas` target.
                Err(_) => public.push(e.value.clone()),
            }
        } else if crate::mm2::is_secret_key(&e.key) {
            secrets.push(e.value.trim().to_owned());
        } else {
            public.push(e.value.clone());
        }
    }
    SecretChars::new(&secrets, &public)
}

const ORIGIN: &str = "fuzz.properties";

/// Layout: a `.properties` file (UTF-8, else read as ISO-8859-1 as
/// [`Mm2Config::from_path`] does) for [`Mm2Config::from_str`]. Errors and
/// warnings name lines that exist, and neither they nor a parsed config's
/// `Debug` show a secret. A parsed config is consistent: flows sorted and
/// between declared, distinct clusters; enabled flows have brokers and
/// distinct consumer groups; every cluster gives a
/// [`ClusterConfig`](replicator_core::ClusterConfig).
pub fn mm2_properties(data: &[u8]) {
    let text = text_of(data);
    let lines = max_lines(&text);
    let result = Mm2Config::from_str(&text, ORIGIN);
    let entries = properties::parse(&text);
    let secrets = match &entries {
        Ok(entries) => {
            assert!(entries.iter().all(|e| (1..=lines).contains(&e.line)));
            mm2_secrets(entries, ORIGIN)
        }
        Err(e) => {
            assert!((1..=lines).contains(&e.line));
            assert!(
                matches!(&result, Err(Mm2Error::Syntax { line, .. }) if *line == e.line),
                "{result:?}"
            );
            SecretChars(BTreeSet::new())
        }
    };
    let config = match result {
        Ok(config) => config,
        Err(err) => {
            match &err {
                Mm2Error::Syntax { line, origin, .. }
                | Mm2Error::Value { line, origin, .. }
                | Mm2Error::Flow { line, origin, .. } => {
                    assert!((1..=lines).contains(line), "line {line} of {lines}: {err}");
                    assert_eq!(origin, ORIGIN);
                }
                Mm2Error::Missing { origin, .. } => assert_eq!(origin, ORIGIN),
                other => panic!("from_str reads no file: {other:?}"),
            }
            secrets.check("an error", &err.to_string());
            secrets.check("an error's Debug", &format!("{err:?}"));
            return;
        }
    };
    assert!(entries.is_ok());
    for w in &config.warnings {
        let line = w.line.expect("a warning names its line");
        assert!((1..=lines).contains(&line), "line {line} of {lines}: {w}");
        assert_eq!(w.origin, ORIGIN);
        secrets.check("a warning", &w.to_string());
    }
    assert!(config.warnings.windows(2).all(|w| w[0].line <= w[1].line));
    secrets.check("the config's Debug", &format!("{config:?}"));

    assert!(!config.clusters.is_empty());
    let mut groups = BTreeSet::new();
    for f in &config.flows {
        assert!(f.source != f.target, "{}", f.name());
        assert!(config.clusters.contains_key(&f.source));
        assert!(config.clusters.contains_key(&f.target));
        assert!((1..=lines).contains(&f.line));
        assert!(!f.group_id.is_empty());
        assert!(f.max_in_flight_bytes > 0);
        assert_eq!(config.flow(&f.source, &f.target), Some(f));
        if f.enabled {
            for alias in [&f.source, &f.target] {
                assert!(!config.clusters[alias].bootstrap_servers.is_empty());
            }
            assert!(groups.insert(f.group_id.as_str()), "{}", f.group_id);
        }
    }
    assert!(config
        .flows
        .windows(2)
        .all(|w| (&w[0].source, &w[0].target) < (&w[1].source, &w[1].target)));
    assert!(config.enabled_flows().next().is_some());
    for alias in config.clusters.keys() {
        let cluster = config.cluster_config(alias).expect("a declared cluster");
        secrets.check("a ClusterConfig's Debug", &format!("{cluster:?}"));
    }
}

/// Layout: a `sasl.jaas.config` value (UTF-8, else ISO-8859-1) for
/// [`jaas::parse`]. An error never shows text from inside quotes (where
/// passwords are); a parsed config lists each option once, and its `Debug`
/// shows no option value.
pub fn jaas(data: &[u8]) {
    let text = text_of(data);
    match jaas::parse(&text) {
        Ok(j) => {
            assert!(!j.login_module.is_empty());
            let names: Vec<&str> = j.option_names().collect();
            let distinct: BTreeSet<&str> = names.iter().copied().collect();
            assert_eq!(distinct.len(), names.len(), "an option twice: {names:?}");
            let mut values = Vec::new();
            let mut public = vec![j.login_module.clone()];
            for name in &names {
                assert!(!name.is_empty());
                public.push((*name).to_owned());
                values.push(j.option(name).expect("listed").expose().to_owned());
            }
            let _ = j.module();
            SecretChars::new(&values, &public).check("a JaasConfig's Debug", &format!("{j:?}"));
            // Well-formed text parses the same when written out again.
            let flag = match j.control_flag {
                jaas::ControlFlag::Required => "required",
                jaas::ControlFlag::Requisite => "requisite",
                jaas::ControlFlag::Sufficient => "sufficient",
                jaas::ControlFlag::Optional => "optional",
            };
            let mut out = format!("{} {flag}", j.login_module);
            for name in &names {
                let v = j.option(name).expect("listed").expose();
                let quoted: String = v
                    .chars()
                    .flat_map(|c| match c {
                        '"' | '\\' => vec!['\\', c],
                        '\n' => vec!['\\', 'n'],
                        '\t' => vec!['\\', 't'],
                        '\r' => vec!['\\', 'r'],
                        '\x08' => vec!['\\', 'b'],
                        '\x0c' => vec!['\\', 'f'],
                        c => vec![c],
                    })
                    .collect();
                out.push_str(&format!(" {name}=\"{quoted}\""));
            }
            out.push(';');
            let back = jaas::parse(&out).unwrap_or_else(|e| panic!("{out:?} does not parse: {e}"));
            assert_eq!(back, j, "{out:?}");
        }
        Err(e) => {
            let quoted = quoted_text(&text);
            let outside: String = {
                let mut s = String::new();
                let mut in_quote = None;
                let mut escaped = false;
                for c in text.chars() {
                    match in_quote {
                        None if c == '"' || c == '\'' => in_quote = Some(c),
                        None => s.push(c),
                        Some(_) if escaped => escaped = false,
                        Some(_) if c == '\\' => escaped = true,
                        Some(q) if c == q => in_quote = None,
                        Some(_) => {}
                    }
                }
                s
            };
            SecretChars::new(&[quoted], &[outside]).check("a JAAS error", &e);
        }
    }
}

/// Everything inside quotes in JAAS text, as the tokenizer splits it.
fn quoted_text(text: &str) -> String {
    let mut s = String::new();
    let mut in_quote = None;
    let mut escaped = false;
    for c in text.chars() {
        match in_quote {
            None if c == '"' || c == '\'' => in_quote = Some(c),
            None => {}
            Some(_) if escaped => {
                escaped = false;
                s.push(c);
            }
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => in_quote = None,
            Some(_) => s.push(c),
        }
    }
    s
}
