//! The schemas resolved into what the emitter needs: Rust names, types,
//! version ranges clamped to the message, and topic name/ID pairs merged.

use std::collections::HashMap;

use crate::schema::{Field, Schema, Versions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U16,
    U32,
    F64,
    Uuid,
    Str,
    Bytes,
    Records,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Prim(Prim),
    Array(Box<Ty>),
    Struct(String),
}

impl Ty {
    fn parse(s: &str) -> Ty {
        if let Some(inner) = s.strip_prefix("[]") {
            return Ty::Array(Box::new(Ty::parse(inner)));
        }
        let p = match s {
            "bool" => Prim::Bool,
            "int8" => Prim::I8,
            "int16" => Prim::I16,
            "int32" => Prim::I32,
            "int64" => Prim::I64,
            "uint16" => Prim::U16,
            "uint32" => Prim::U32,
            "float64" => Prim::F64,
            "uuid" => Prim::Uuid,
            "string" => Prim::Str,
            "bytes" => Prim::Bytes,
            "records" => Prim::Records,
            other if other.starts_with(|c: char| c.is_ascii_uppercase()) => {
                return Ty::Struct(other.to_owned())
            }
            other => panic!("unknown schema type {other}"),
        };
        Ty::Prim(p)
    }
}

/// A topic addressed by name in some versions and by ID in later ones.
#[derive(Debug, Clone, Copy)]
pub struct TopicRefPair {
    pub name: Versions,
    pub id: Versions,
}

#[derive(Debug, Clone)]
pub struct FieldModel {
    pub schema_name: String,
    pub rust_name: String,
    pub schema_type: String,
    pub ty: Ty,
    pub versions: Versions,
    pub nullable: Option<Versions>,
    pub tagged: Option<Versions>,
    pub tag: Option<u32>,
    pub default: String,
    pub ignorable: bool,
    /// Classic encodings even in flexible versions (`"flexibleVersions": "none"`).
    pub never_compact: bool,
    pub topic_ref: Option<TopicRefPair>,
    pub entity_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StructModel {
    pub name: String,
    pub fields: Vec<FieldModel>,
}

#[derive(Debug)]
pub struct MessageModel {
    pub name: String,
    pub module: String,
    pub kind: String,
    pub api_key: Option<i16>,
    pub valid: Versions,
    pub flexible_from: Option<i16>,
    /// The top-level struct first, then nested ones in declaration order.
    pub structs: Vec<StructModel>,
}

pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn rust_field_name(schema_name: &str) -> String {
    let s = snake_case(schema_name);
    match s.as_str() {
        "type" | "match" | "ref" | "self" | "mod" | "fn" | "struct" | "enum" => format!("r#{s}"),
        _ => s,
    }
}

fn default_text(v: &Option<serde_json::Value>) -> String {
    match v {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl MessageModel {
    pub fn build(schema: &Schema) -> MessageModel {
        let max = Versions::parse(&schema.valid_versions, i16::MAX)
            .expect("validVersions")
            .hi;
        let valid = Versions::parse(&schema.valid_versions, max).expect("validVersions");
        let flexible_from = Versions::parse(&schema.flexible_versions, max).map(|v| v.lo);
        let mut structs = Vec::new();
        let common: HashMap<&str, &[Field]> = schema
            .common_structs
            .iter()
            .map(|c| (c.name.as_str(), c.fields.as_slice()))
            .collect();
        let mut ctx = Builder {
            valid,
            max,
            common,
            structs: &mut structs,
        };
        let top = ctx.struct_model(&schema.name, &schema.fields);
        structs.insert(0, top);
        MessageModel {
            name: schema.name.clone(),
            module: snake_case(&schema.name),
            kind: schema.kind.clone(),
            api_key: schema.api_key,
            valid,
            flexible_from,
            structs,
        }
    }
}

struct Builder<'a> {
    valid: Versions,
    max: i16,
    common: HashMap<&'a str, &'a [Field]>,
    structs: &'a mut Vec<StructModel>,
}

impl Builder<'_> {
    fn struct_model(&mut self, name: &str, fields: &[Field]) -> StructModel {
        let mut out = Vec::new();
        for f in fields {
            let Some(versions) =
                Versions::parse(&f.versions, self.max).and_then(|v| v.intersect(self.valid))
            else {
                // The field exists only in versions this schema no longer accepts.
                continue;
            };
            let ty = Ty::parse(&f.ty);
            self.nested(&ty, f);
            out.push(FieldModel {
                schema_name: f.name.clone(),
                rust_name: rust_field_name(&f.name),
                schema_type: f.ty.clone(),
                ty,
                versions,
                nullable: f
                    .nullable_versions
                    .as_deref()
                    .and_then(|s| Versions::parse(s, self.max))
                    .and_then(|v| v.intersect(versions)),
                tagged: f
                    .tagged_versions
                    .as_deref()
                    .and_then(|s| Versions::parse(s, self.max))
                    .and_then(|v| v.intersect(versions)),
                tag: f.tag,
                default: default_text(&f.default),
                ignorable: f.ignorable,
                never_compact: f.flexible_versions.as_deref() == Some("none"),
                topic_ref: None,
                entity_type: f.entity_type.clone(),
            });
        }
        merge_topic_refs(&mut out);
        StructModel {
            name: name.to_owned(),
            fields: out,
        }
    }

    fn nested(&mut self, ty: &Ty, f: &Field) {
        match ty {
            Ty::Array(inner) => self.nested(inner, f),
            Ty::Struct(name) => {
                if self.structs.iter().any(|s| &s.name == name) {
                    return;
                }
                let fields: Vec<Field> = match (&f.fields, self.common.get(name.as_str())) {
                    (Some(fields), _) => fields.clone(),
                    (None, Some(common)) => common.to_vec(),
                    (None, None) => panic!("struct {name} has no definition"),
                };
                // Reserve the name first so recursive references resolve.
                let idx = self.structs.len();
                self.structs.push(StructModel {
                    name: name.clone(),
                    fields: Vec::new(),
                });
                let model = self.struct_model(name, &fields);
                self.structs[idx] = model;
            }
            Ty::Prim(_) => {}
        }
    }
}

/// Folds a topic-name string field followed by a `TopicId` field that takes
/// over from the next version into one `TopicRef` field.
fn merge_topic_refs(fields: &mut Vec<FieldModel>) {
    let mut i = 0;
    while i + 1 < fields.len() {
        let (a, b) = (&fields[i], &fields[i + 1]);
        let pair = a.ty == Ty::Prim(Prim::Str)
            && a.nullable.is_none()
            && a.tagged.is_none()
            && a.entity_type.as_deref() == Some("topicName")
            && b.schema_name == "TopicId"
            && b.ty == Ty::Prim(Prim::Uuid)
            && b.tagged.is_none()
            && a.versions.hi + 1 == b.versions.lo;
        if pair {
            let merged = TopicRefPair {
                name: a.versions,
                id: b.versions,
            };
            let versions = Versions {
                lo: a.versions.lo,
                hi: b.versions.hi,
            };
            let f = &mut fields[i];
            f.topic_ref = Some(merged);
            f.rust_name = "topic".to_owned();
            f.versions = versions;
            f.schema_name = format!("{}/TopicId", f.schema_name);
            fields.remove(i + 1);
        }
        i += 1;
    }
}
