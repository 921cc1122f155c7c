//! The JSON message schemas, as Kafka's generator reads them.

use std::fmt;

use serde::Deserialize;

/// One schema file: a request, a response, a header or a data struct.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub api_key: Option<i16>,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub valid_versions: String,
    pub flexible_versions: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub common_structs: Vec<CommonStruct>,
}

/// A struct declared once and used by several fields.
#[derive(Debug, Deserialize)]
pub struct CommonStruct {
    pub name: String,
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// One field.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub versions: String,
    pub nullable_versions: Option<String>,
    pub tagged_versions: Option<String>,
    pub tag: Option<u32>,
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub ignorable: bool,
    pub entity_type: Option<String>,
    pub flexible_versions: Option<String>,
    pub fields: Option<Vec<Field>>,
}

/// An inclusive version range; `None` in a field means the field never exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub lo: i16,
    pub hi: i16,
}

impl Versions {
    /// Parses `"3+"`, `"3-7"`, `"3"` or `"none"`, clamping open ends to `max`.
    pub fn parse(s: &str, max: i16) -> Option<Versions> {
        let s = s.trim();
        if s == "none" {
            return None;
        }
        let v = if let Some(lo) = s.strip_suffix('+') {
            Versions {
                lo: lo.parse().expect("version"),
                hi: max,
            }
        } else if let Some((lo, hi)) = s.split_once('-') {
            Versions {
                lo: lo.parse().expect("version"),
                hi: hi.parse().expect("version"),
            }
        } else {
            let v = s.parse().expect("version");
            Versions { lo: v, hi: v }
        };
        Some(v)
    }

    pub fn intersect(self, other: Versions) -> Option<Versions> {
        let lo = self.lo.max(other.lo);
        let hi = self.hi.min(other.hi);
        (lo <= hi).then_some(Versions { lo, hi })
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// Drops `//` comment lines, which the schemas use but JSON does not allow.
pub fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}
