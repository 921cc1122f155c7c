//! Writes `kafka-proto/tests/differential/generated.rs`: for every struct of
//! every message that the oracle crate `kafka-protocol` also has, a
//! field-by-field comparison of our value with theirs (`Diff`) and a
//! conversion of ours into theirs (`ToTheirs`), both for one version and only
//! over the fields present in it, plus a table of every message with the
//! versions each crate speaks. It also writes `Sprinkle`, which adds unknown
//! tagged fields to every flexible struct of a value, since random values
//! have none.
//!
//! The type adaptations (their newtypes, `StrBytes`, `uuid::Uuid`, `Bytes`
//! for records, `BTreeMap` for unknown tagged fields) are hand-written in
//! `kafka-proto/tests/differential/adapt.rs`; this module only walks the
//! same [`MessageModel`] the emitter uses.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::model::{snake_case, FieldModel, MessageModel, StructModel, Ty};
use crate::schema::Versions;

/// The versions of each message that `kafka-protocol` 0.15.1 speaks
/// (`<T as kafka_protocol::protocol::Message>::VERSIONS`). Its structs have
/// only the fields of these versions, so the generated code may name only
/// fields present in some version of both crates. The differential test
/// checks this table against the crate, so an upgrade that changes it fails
/// loudly instead of silently testing less.
const ORACLE: &[(&str, i16, i16)] = &[
    ("AddOffsetsToTxnRequest", 0, 4),
    ("AddOffsetsToTxnResponse", 0, 4),
    ("AddPartitionsToTxnRequest", 0, 5),
    ("AddPartitionsToTxnResponse", 0, 5),
    ("ApiVersionsRequest", 0, 4),
    ("ApiVersionsResponse", 0, 4),
    ("CreatePartitionsRequest", 0, 3),
    ("CreatePartitionsResponse", 0, 3),
    ("CreateTopicsRequest", 0, 7),
    ("CreateTopicsResponse", 0, 7),
    ("DeleteTopicsRequest", 0, 6),
    ("DeleteTopicsResponse", 0, 6),
    ("DescribeConfigsRequest", 0, 4),
    ("DescribeConfigsResponse", 0, 4),
    ("DescribeGroupsRequest", 0, 5),
    ("DescribeGroupsResponse", 0, 5),
    ("EndTxnRequest", 0, 4),
    ("EndTxnResponse", 0, 4),
    ("FetchRequest", 0, 17),
    ("FetchResponse", 0, 17),
    ("FindCoordinatorRequest", 0, 6),
    ("FindCoordinatorResponse", 0, 6),
    ("HeartbeatRequest", 0, 4),
    ("HeartbeatResponse", 0, 4),
    ("InitProducerIdRequest", 0, 5),
    ("InitProducerIdResponse", 0, 5),
    ("JoinGroupRequest", 0, 9),
    ("JoinGroupResponse", 0, 9),
    ("LeaveGroupRequest", 0, 5),
    ("LeaveGroupResponse", 0, 5),
    ("ListGroupsRequest", 0, 5),
    ("ListGroupsResponse", 0, 5),
    ("ListOffsetsRequest", 0, 9),
    ("ListOffsetsResponse", 0, 9),
    ("MetadataRequest", 0, 12),
    ("MetadataResponse", 0, 12),
    ("OffsetCommitRequest", 0, 9),
    ("OffsetCommitResponse", 0, 9),
    ("OffsetFetchRequest", 0, 9),
    ("OffsetFetchResponse", 0, 9),
    ("ProduceRequest", 0, 11),
    ("ProduceResponse", 0, 11),
    ("RequestHeader", 0, 2),
    ("ResponseHeader", 0, 1),
    ("SaslAuthenticateRequest", 0, 2),
    ("SaslAuthenticateResponse", 0, 2),
    ("SaslHandshakeRequest", 0, 1),
    ("SaslHandshakeResponse", 0, 1),
    ("SyncGroupRequest", 0, 5),
    ("SyncGroupResponse", 0, 5),
    ("TxnOffsetCommitRequest", 0, 4),
    ("TxnOffsetCommitResponse", 0, 4),
];

/// Fields the oracle names differently, its schemas being older:
/// `(message, struct, schema field, oracle's Rust name)`. Same wire format.
const RENAMED: &[(&str, &str, &str, &str)] = &[
    // Kafka's schema renamed `GenerationId` (v3+, int32, default -1) when the
    // field came to carry the member epoch under the consumer group protocol
    // (KIP-848); the oracle's copy of the schema predates the rename.
    (
        "TxnOffsetCommitRequest",
        "TxnOffsetCommitRequest",
        "GenerationIdOrMemberEpoch",
        "generation_id",
    ),
];

fn oracle(name: &str) -> Option<Versions> {
    ORACLE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, lo, hi)| Versions { lo, hi })
}

/// A condition on `version` that holds inside `v`, given that `version`
/// already lies in `range`. `None` means always.
fn cond(v: Versions, range: Versions) -> Option<String> {
    match (v.lo <= range.lo, v.hi >= range.hi) {
        (true, true) => None,
        (true, false) => Some(format!("version <= {}", v.hi)),
        (false, true) => Some(format!("version >= {}", v.lo)),
        (false, false) if v.lo == v.hi => Some(format!("version == {}", v.lo)),
        (false, false) => Some(format!("({}..={}).contains(&version)", v.lo, v.hi)),
    }
}

fn guarded(c: Option<String>, body: String) -> String {
    match c {
        None => body,
        Some(c) => format!("if {c} {{\n{body}\n}}"),
    }
}

fn struct_name(ty: &Ty) -> Option<&str> {
    match ty {
        Ty::Array(inner) => struct_name(inner),
        Ty::Struct(name) => Some(name),
        Ty::Prim(_) => None,
    }
}

/// The field name without a raw-identifier prefix, for paths.
fn plain(rust_name: &str) -> &str {
    rust_name.trim_start_matches("r#")
}

/// The oracle's Rust name for a field: it writes `type` as `_type`.
fn their_name(rust_name: &str) -> String {
    match rust_name.strip_prefix("r#") {
        Some(kw) => format!("_{kw}"),
        None => rust_name.to_owned(),
    }
}

/// The schema names of a merged topic name/ID pair, as stored by
/// `merge_topic_refs`: `"Name/TopicId"`.
fn topic_ref_names(f: &FieldModel) -> (String, String) {
    let (name, id) = f
        .schema_name
        .split_once('/')
        .expect("merged topic field is named Name/TopicId");
    (their_name(&snake_case(name)), their_name(&snake_case(id)))
}

struct Gen<'a> {
    msg: &'a MessageModel,
    /// Our versions that the oracle speaks too.
    range: Versions,
}

impl Gen<'_> {
    fn fields<'s>(&self, s: &'s StructModel) -> impl Iterator<Item = &'s FieldModel> {
        let range = self.range;
        s.fields
            .iter()
            .filter(move |f| f.versions.intersect(range).is_some())
    }

    /// The nested structs reachable from the top level through fields the
    /// oracle has, in model order.
    fn reachable(&self) -> Vec<&StructModel> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![self.msg.name.clone()];
        while let Some(name) = todo.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let s = self.strukt(&name);
            for f in self.fields(s) {
                if let Some(n) = struct_name(&f.ty) {
                    todo.push(n.to_owned());
                }
            }
        }
        self.msg
            .structs
            .iter()
            .filter(|s| seen.contains(&s.name))
            .collect()
    }

    fn strukt(&self, name: &str) -> &StructModel {
        self.msg
            .structs
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{}: no struct {name}", self.msg.name))
    }

    fn types(&self, s: &StructModel) -> (String, String) {
        (
            format!("ours::{}::{}", self.msg.module, s.name),
            format!("theirs::{}::{}", self.msg.module, s.name),
        )
    }

    fn emit_struct(&self, out: &mut String, s: &StructModel) {
        let (o, t) = self.types(s);
        let flexible = self.msg.flexible_from.is_some();

        let mut diff = String::new();
        let mut conv = String::new();
        for f in self.fields(s) {
            let c = cond(f.versions, self.range);
            let path = plain(&f.rust_name);
            if let Some(pair) = f.topic_ref {
                // The oracle has the ID field only if it speaks a version with it.
                let (name, id) = topic_ref_names(f);
                let has_id = pair.id.intersect(self.range).is_some();
                let by_name = cond(pair.name, self.range).unwrap_or_else(|| "true".to_owned());
                let their_id = if has_id {
                    format!("Some(&t.{id})")
                } else {
                    "None::<&[u8; 16]>".to_owned()
                };
                let _ = writeln!(
                    diff,
                    "{}",
                    guarded(
                        c.clone(),
                        format!(
                            "diff_topic_ref(&self.{n}, &t.{name}, {their_id}, {by_name}, &format!(\"{{path}}.{path}\"), d);",
                            n = f.rust_name
                        )
                    )
                );
                let by_id = if has_id {
                    format!("TopicRef::Id(v) => t.{id} = v.to_theirs(version),")
                } else {
                    "TopicRef::Id(_) => unreachable!(\"no version the oracle speaks identifies topics here\"),".to_owned()
                };
                let _ = writeln!(
                    conv,
                    "{}",
                    guarded(
                        c,
                        format!(
                            "match &self.{n} {{\nTopicRef::Name(v) => t.{name} = v.to_theirs(version),\n{by_id}\n}}",
                            n = f.rust_name
                        )
                    )
                );
                continue;
            }
            let tn = RENAMED
                .iter()
                .find(|r| r.0 == self.msg.name && r.1 == s.name && r.2 == f.schema_name)
                .map(|r| r.3.to_owned())
                .unwrap_or_else(|| their_name(&f.rust_name));
            let _ = writeln!(
                diff,
                "{}",
                guarded(
                    c.clone(),
                    format!(
                        "self.{n}.diff(&t.{tn}, version, &format!(\"{{path}}.{path}\"), d);",
                        n = f.rust_name
                    )
                )
            );
            let _ = writeln!(
                conv,
                "{}",
                guarded(
                    c,
                    format!("t.{tn} = self.{n}.to_theirs(version);", n = f.rust_name)
                )
            );
        }
        if flexible {
            diff.push_str(
                "self.unknown_tagged_fields.diff(&t.unknown_tagged_fields, version, &format!(\"{path}.unknown_tagged_fields\"), d);\n",
            );
            conv.push_str(
                "t.unknown_tagged_fields = self.unknown_tagged_fields.to_theirs(version);\n",
            );
        }

        // Unknown tagged fields at every level, for the codecs to carry through.
        let mut sprinkle = String::new();
        if let Some(fv) = self.msg.flexible_from {
            let fv = Versions {
                lo: fv,
                hi: self.msg.valid.hi,
            };
            if fv.intersect(self.range).is_some() {
                let _ = writeln!(
                    sprinkle,
                    "{}",
                    guarded(
                        cond(fv, self.range),
                        "sprinkle_tags(&mut self.unknown_tagged_fields, g);".to_owned()
                    )
                );
            }
        }
        for f in self.fields(s) {
            if struct_name(&f.ty).is_some() {
                let _ = writeln!(
                    sprinkle,
                    "{}",
                    guarded(
                        cond(f.versions, self.range),
                        format!("self.{}.sprinkle(g, version);", f.rust_name)
                    )
                );
            }
        }

        let used = |code: &str, word: &'static str| {
            if uses_word(code, word) {
                word.to_owned()
            } else {
                format!("_{word}")
            }
        };
        let _ = writeln!(
            out,
            "impl Diff<{t}> for {o} {{\nfn diff(&self, {}: &{t}, {}: i16, {}: &str, {}: &mut Diffs) {{\n{diff}}}\n}}\n",
            used(&diff, "t"),
            used(&diff, "version"),
            used(&diff, "path"),
            used(&diff, "d"),
        );
        let body = if conv.is_empty() {
            format!("{t}::default()")
        } else {
            format!("let mut t = {t}::default();\n{conv}t")
        };
        let _ = writeln!(
            out,
            "impl ToTheirs<{t}> for {o} {{\nfn to_theirs(&self, {}: i16) -> {t} {{\n{body}\n}}\n}}\n",
            used(&conv, "version"),
        );
        let _ = writeln!(
            out,
            "impl Sprinkle for {o} {{\nfn sprinkle(&mut self, {}: &mut Gen, {}: i16) {{\n{sprinkle}}}\n}}\n",
            used(&sprinkle, "g"),
            used(&sprinkle, "version"),
        );
    }
}

/// Whether `word` appears in `code` as a whole identifier.
fn uses_word(code: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

fn api_variant(msg: &MessageModel) -> String {
    if msg.api_key.is_none() {
        return "None".to_owned();
    }
    let base = msg
        .name
        .strip_suffix("Request")
        .or_else(|| msg.name.strip_suffix("Response"))
        .expect("API messages end in Request or Response");
    format!("Some(ApiKey::{base})")
}

/// Rust source of the differential-test support file.
pub fn generate(models: &[MessageModel]) -> String {
    let mut out = String::new();
    let mut entries = String::new();
    for msg in models {
        let ours = msg.valid;
        let range = oracle(&msg.name).and_then(|o| o.intersect(ours));
        let oracle_entry = match (oracle(&msg.name), range) {
            (Some(o), Some(range)) => {
                let g = Gen { msg, range };
                for s in g.reachable() {
                    g.emit_struct(&mut out, s);
                }
                // Schema defaults of every struct, compared in one version.
                let mut defaults = String::new();
                for s in g.reachable() {
                    let (o, t) = g.types(s);
                    let path = if s.name == msg.name {
                        msg.name.clone()
                    } else {
                        format!("{}.{}", msg.name, s.name)
                    };
                    let _ = writeln!(
                        defaults,
                        "{o}::default().diff(&{t}::default(), version, {path:?}, &mut d);"
                    );
                }
                let _ = writeln!(
                    out,
                    "fn defaults_{}(version: i16) -> Vec<String> {{\nlet mut d = Diffs::default();\n{defaults}d.0\n}}\n",
                    msg.module
                );
                let top = g.types(g.strukt(&msg.name));
                format!(
                    "Some(Oracle {{ versions: {}..={}, actual: their_versions::<{t}>, run: run::<{o}, {t}>, defaults: defaults_{m} }})",
                    o.lo,
                    o.hi,
                    o = top.0,
                    t = top.1,
                    m = msg.module
                )
            }
            (Some(o), None) => panic!(
                "{}: the oracle speaks {o} and we speak {ours}: nothing to compare",
                msg.name
            ),
            (None, _) => "None".to_owned(),
        };
        let _ = writeln!(
            entries,
            "Entry {{ name: {name:?}, kind: {kind:?}, api: {api}, ours: {lo}..={hi}, oracle: {oracle_entry} }},",
            name = msg.name,
            kind = msg.kind,
            api = api_variant(msg),
            lo = ours.lo,
            hi = ours.hi,
        );
    }
    let _ = writeln!(
        out,
        "/// Every message schema: our versions, and the oracle's where it has the message.\n\
         pub static MESSAGES: &[Entry] = &[\n{entries}];"
    );
    let mut imports = vec![
        "Diff",
        "Diffs",
        "Entry",
        "Oracle",
        "Sprinkle",
        "ToTheirs",
        "run",
        "their_versions",
    ];
    for optional in ["diff_topic_ref", "sprinkle_tags"] {
        if uses_word(&out, optional) {
            imports.push(optional);
        }
    }
    imports.sort_unstable();
    let mut head = String::from(
        "//! Field-by-field comparison of `kafka-proto` messages with the oracle\n\
         //! crate `kafka-protocol`, and conversion of ours into theirs, per version.\n\
         //! Generated by `codegen` (codegen/src/diff.rs) from the Kafka message\n\
         //! schemas; do not edit. The type adaptations are in `adapt.rs`.\n\n\
         use kafka_proto::messages as ours;\n\
         use kafka_protocol::messages as theirs;\n",
    );
    let mut ours = vec!["ApiKey", "testing::Gen"];
    if uses_word(&out, "TopicRef") {
        ours.push("TopicRef");
    }
    let _ = writeln!(head, "use kafka_proto::{{{}}};", ours.join(", "));
    let _ = writeln!(head, "\nuse super::adapt::{{{}}};\n", imports.join(", "));
    head + &out
}
