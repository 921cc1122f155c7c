//! Writes Rust source for one message schema.

use std::fmt::Write as _;

use crate::model::{FieldModel, MessageModel, Prim, StructModel, Ty};
use crate::schema::Versions;

/// A condition on `version` that holds inside `v`, given that `version` is
/// already known to lie in `valid`. `None` means always.
fn cond(v: Versions, valid: Versions) -> Option<String> {
    match (v.lo <= valid.lo, v.hi >= valid.hi) {
        (true, true) => None,
        (true, false) => Some(format!("version <= {}", v.hi)),
        (false, true) => Some(format!("version >= {}", v.lo)),
        (false, false) if v.lo == v.hi => Some(format!("version == {}", v.lo)),
        (false, false) => Some(format!("({}..={}).contains(&version)", v.lo, v.hi)),
    }
}

/// The negation of [`cond`], written the way clippy prefers.
fn not_cond(c: &str) -> String {
    if let Some(n) = c.strip_prefix("version <= ") {
        format!("version > {n}")
    } else if let Some(n) = c.strip_prefix("version >= ") {
        format!("version < {n}")
    } else if let Some(n) = c.strip_prefix("version == ") {
        format!("version != {n}")
    } else {
        format!("!{c}")
    }
}

fn prim_rust(p: Prim) -> &'static str {
    match p {
        Prim::Bool => "bool",
        Prim::I8 => "i8",
        Prim::I16 => "i16",
        Prim::I32 => "i32",
        Prim::I64 => "i64",
        Prim::U16 => "u16",
        Prim::U32 => "u32",
        Prim::F64 => "f64",
        Prim::Uuid => "Uuid",
        Prim::Str => "String",
        Prim::Bytes => "Bytes",
        Prim::Records => "Records",
    }
}

fn base_ty(ty: &Ty) -> String {
    match ty {
        Ty::Prim(p) => prim_rust(*p).to_owned(),
        Ty::Array(inner) => format!("Vec<{}>", base_ty(inner)),
        Ty::Struct(name) => name.clone(),
    }
}

fn field_ty(f: &FieldModel) -> String {
    if f.topic_ref.is_some() {
        return "TopicRef".to_owned();
    }
    let base = base_ty(&f.ty);
    if f.nullable.is_some() {
        format!("Option<{base}>")
    } else {
        base
    }
}

fn int_literal(d: &str) -> String {
    if d.is_empty() {
        return "0".to_owned();
    }
    if let Some(hex) = d.strip_prefix("0x") {
        let n = i64::from_str_radix(hex, 16).expect("hex default");
        return n.to_string();
    }
    d.to_owned()
}

fn default_expr(f: &FieldModel) -> String {
    if f.topic_ref.is_some() {
        return "TopicRef::default()".to_owned();
    }
    let d = f.default.as_str();
    if f.nullable.is_some() && (d == "null" || f.ty == Ty::Prim(Prim::Records)) {
        return "None".to_owned();
    }
    let base = match &f.ty {
        Ty::Prim(Prim::Bool) => if d.is_empty() { "false" } else { d }.to_owned(),
        Ty::Prim(Prim::F64) => {
            if d.is_empty() {
                "0.0".to_owned()
            } else {
                format!("{}f64", d)
            }
        }
        Ty::Prim(Prim::Uuid) => "Uuid::ZERO".to_owned(),
        Ty::Prim(Prim::Str) if d.is_empty() => "String::new()".to_owned(),
        Ty::Prim(Prim::Str) => format!("String::from({d:?})"),
        Ty::Prim(Prim::Bytes) => "Bytes::new()".to_owned(),
        Ty::Prim(Prim::Records) => "Records::new()".to_owned(),
        Ty::Prim(_) => int_literal(d),
        Ty::Array(_) => "Vec::new()".to_owned(),
        Ty::Struct(name) => format!("{name}::default()"),
    };
    if f.nullable.is_some() {
        format!("Some({base})")
    } else {
        base
    }
}

/// An expression that holds when field `f` of `self` differs from its default.
fn not_default(f: &FieldModel) -> String {
    let d = default_expr(f);
    let n = &f.rust_name;
    match d.as_str() {
        "Vec::new()" | "String::new()" | "Bytes::new()" => format!("!self.{n}.is_empty()"),
        "Some(Vec::new())" | "Some(String::new())" => {
            format!("!matches!(&self.{n}, Some(v) if v.is_empty())")
        }
        "None" => format!("self.{n}.is_some()"),
        "false" => format!("self.{n}"),
        "true" => format!("!self.{n}"),
        _ => format!("self.{n} != {d}"),
    }
}

/// Whether the schema default of `f` is also its type's `Default`.
fn is_type_default(f: &FieldModel) -> bool {
    let d = default_expr(f);
    matches!(
        d.as_str(),
        "0" | "false"
            | "String::new()"
            | "Vec::new()"
            | "None"
            | "Bytes::new()"
            | "Records::new()"
            | "Uuid::ZERO"
            | "TopicRef::default()"
    ) || (matches!(f.ty, Ty::Struct(_)) && f.nullable.is_none())
}

fn min_size(ty: &Ty) -> usize {
    match ty {
        Ty::Prim(Prim::I16 | Prim::U16) => 2,
        Ty::Prim(Prim::I32 | Prim::U32) => 4,
        Ty::Prim(Prim::I64 | Prim::F64) => 8,
        Ty::Prim(Prim::Uuid) => 16,
        _ => 1,
    }
}

struct Ctx<'a> {
    msg: &'a MessageModel,
    strukt: &'a StructModel,
}

impl Ctx<'_> {
    fn path(&self, f: &FieldModel) -> String {
        if self.strukt.name == self.msg.name {
            format!("{}.{}", self.msg.name, f.schema_name)
        } else {
            format!("{}.{}.{}", self.msg.name, self.strukt.name, f.schema_name)
        }
    }

    fn compact(&self, f: &FieldModel) -> &'static str {
        if self.msg.flexible_from.is_none() || f.never_compact {
            "false"
        } else {
            "flexible"
        }
    }

    /// Statements writing `v`: a place of the base type (`self.x`) when
    /// `is_ref` is false, a reference to one (`item`) when true.
    fn enc_base(&self, ty: &Ty, v: &str, is_ref: bool, compact: &str, path: &str) -> String {
        let r = if is_ref {
            v.to_owned()
        } else {
            format!("&{v}")
        };
        let val = if is_ref {
            format!("*{v}")
        } else {
            v.to_owned()
        };
        match ty {
            Ty::Prim(Prim::Str) => format!("w.string({path:?}, {r}, {compact})?;"),
            Ty::Prim(Prim::Bytes) => format!("w.bytes({path:?}, {r}, {compact})?;"),
            Ty::Prim(Prim::Records) => format!("w.records({path:?}, {r}, {compact})?;"),
            Ty::Prim(Prim::Uuid) => format!("w.uuid({r});"),
            Ty::Prim(p) => format!("w.{}({val});", prim_rust(*p)),
            Ty::Struct(_) => format!("{v}.encode(w, version)?;"),
            Ty::Array(inner) => format!(
                "w.array_len({path:?}, Some({v}.len()), {compact})?;\nfor item in {r} {{\n{}\n}}",
                self.enc_base(inner, "item", true, compact, path)
            ),
        }
    }

    fn enc_nullable(&self, ty: &Ty, v: &str, compact: &str, path: &str) -> String {
        match ty {
            Ty::Prim(Prim::Str) => {
                format!("w.nullable_string({path:?}, {v}.as_deref(), {compact})?;")
            }
            Ty::Prim(Prim::Bytes) => {
                format!("w.nullable_bytes({path:?}, {v}.as_ref(), {compact})?;")
            }
            Ty::Prim(Prim::Records) => {
                format!("w.nullable_records({path:?}, {v}.as_ref(), {compact})?;")
            }
            Ty::Array(_) => format!(
                "match &{v} {{\nNone => w.array_len({path:?}, None, {compact})?,\nSome(items) => {{\n{}\n}}\n}}",
                self.enc_base(ty, "items", true, compact, path)
            ),
            other => panic!("nullable {other:?} is not supported"),
        }
    }

    /// An expression of type `Result<T, DecodeError>` reading the base type.
    fn dec_base(&self, ty: &Ty, compact: &str, path: &str) -> String {
        match ty {
            Ty::Prim(Prim::Str) => format!("r.string({path:?}, {compact})"),
            Ty::Prim(Prim::Bytes) => format!("r.bytes({path:?}, {compact})"),
            Ty::Prim(Prim::Records) => format!("r.records({path:?}, {compact})"),
            Ty::Prim(p) => format!("r.{}({path:?})", prim_rust(*p).to_lowercase()),
            Ty::Struct(name) => format!("{name}::decode(r, version)"),
            Ty::Array(inner) => format!(
                "r.array({path:?}, {compact}, {}, |r| {})",
                min_size(inner),
                self.dec_base(inner, compact, path)
            ),
        }
    }

    fn dec_nullable(&self, ty: &Ty, compact: &str, path: &str) -> String {
        match ty {
            Ty::Prim(Prim::Str) => format!("r.nullable_string({path:?}, {compact})"),
            Ty::Prim(Prim::Bytes) => format!("r.nullable_bytes({path:?}, {compact})"),
            Ty::Prim(Prim::Records) => format!("r.nullable_records({path:?}, {compact})"),
            Ty::Array(inner) => format!(
                "r.nullable_array({path:?}, {compact}, {}, |r| {})",
                min_size(inner),
                self.dec_base(inner, compact, path)
            ),
            other => panic!("nullable {other:?} is not supported"),
        }
    }

    /// Statements writing field `f` of `self`, in a version where it is present.
    fn enc_field(&self, f: &FieldModel) -> String {
        let path = self.path(f);
        let compact = self.compact(f);
        let v = format!("self.{}", f.rust_name);
        if let Some(pair) = f.topic_ref {
            let name_cond = cond(pair.name, self.msg.valid).unwrap_or_else(|| "true".into());
            return format!(
                "match (&self.{n}, {name_cond}) {{\n\
                 (TopicRef::Name(name), true) => w.string({path:?}, name, {compact})?,\n\
                 (TopicRef::Id(id), false) => w.uuid(id),\n\
                 (other, by_name) => return Err(EncodeError::TopicRef {{ field: {path:?}, version, expected: if by_name {{ \"name\" }} else {{ \"ID\" }}, found: other.kind() }}),\n\
                 }}",
                n = f.rust_name
            );
        }
        match f.nullable {
            None => self.enc_base(&f.ty, &v, false, compact, &path),
            Some(nv) => {
                let write = self.enc_nullable(&f.ty, &v, compact, &path);
                match cond(nv, f.versions) {
                    None => write,
                    Some(c) => format!(
                        "if self.{n}.is_none() && {nc} {{\nreturn Err(EncodeError::NullNotAllowed {{ field: {path:?}, version }});\n}}\n{write}",
                        n = f.rust_name,
                        nc = not_cond(&c)
                    ),
                }
            }
        }
    }

    /// An expression of the field's Rust type reading it.
    fn dec_field(&self, f: &FieldModel) -> String {
        let path = self.path(f);
        let compact = self.compact(f);
        if let Some(pair) = f.topic_ref {
            let name_cond = cond(pair.name, self.msg.valid).unwrap_or_else(|| "true".into());
            return format!(
                "if {name_cond} {{ TopicRef::Name(r.string({path:?}, {compact})?) }} else {{ TopicRef::Id(r.uuid({path:?})?) }}"
            );
        }
        match f.nullable {
            None => format!("{}?", self.dec_base(&f.ty, compact, &path)),
            Some(nv) => {
                let nullable = format!("{}?", self.dec_nullable(&f.ty, compact, &path));
                match cond(nv, f.versions) {
                    None => nullable,
                    Some(c) => format!(
                        "if {c} {{ {nullable} }} else {{ Some({}?) }}",
                        self.dec_base(&f.ty, compact, &path)
                    ),
                }
            }
        }
    }

    fn arb_base(&self, ty: &Ty) -> String {
        match ty {
            Ty::Prim(Prim::Str) => "g.string()".into(),
            Ty::Prim(Prim::Bytes) => "g.bytes()".into(),
            Ty::Prim(Prim::Records) => "g.records()".into(),
            Ty::Prim(Prim::Uuid) => "g.uuid()".into(),
            Ty::Prim(p) => format!("g.{}()", prim_rust(*p)),
            Ty::Struct(name) => format!("{name}::arbitrary(g, version)"),
            Ty::Array(inner) => format!("g.vec(|g| {})", self.arb_base(inner)),
        }
    }

    fn arb_field(&self, f: &FieldModel) -> String {
        if let Some(pair) = f.topic_ref {
            let name_cond = cond(pair.name, self.msg.valid).unwrap_or_else(|| "true".into());
            return format!(
                "if {name_cond} {{ TopicRef::Name(g.string()) }} else {{ TopicRef::Id(g.uuid()) }}"
            );
        }
        let base = self.arb_base(&f.ty);
        match f.nullable {
            None => base,
            Some(nv) => match cond(nv, f.versions) {
                None => format!("g.maybe(|g| {base})"),
                Some(c) => format!("if {c} {{ g.maybe(|g| {base}) }} else {{ Some({base}) }}"),
            },
        }
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

fn doc_for_field(f: &FieldModel) -> String {
    let mut doc = format!(
        "`{}`: `{}`, versions {}",
        f.schema_name, f.schema_type, f.versions
    );
    if let Some(pair) = f.topic_ref {
        doc = format!(
            "The topic: by name in versions {}, by ID in versions {}",
            pair.name, pair.id
        );
    }
    if let Some(n) = f.nullable {
        let _ = write!(doc, ", nullable in {n}");
    }
    if let (Some(t), Some(tag)) = (f.tagged, f.tag) {
        let _ = write!(doc, ", tagged (tag {tag}) in {t}");
    }
    if f.ignorable {
        doc.push_str(", ignorable");
    }
    doc.push('.');
    doc
}

/// Rust source of one message module.
pub fn message(msg: &MessageModel) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! `{}` ({}{}), versions {}. Generated by `codegen` from the Kafka message schema; do not edit.\n",
        msg.name,
        msg.kind,
        msg.api_key.map(|k| format!(", API key {k}")).unwrap_or_default(),
        msg.valid
    );
    out.push_str("#![allow(clippy::field_reassign_with_default, unused_imports)]\n\n");
    out.push_str(
        "use bytes::Bytes;\n\
         use crate::codec::{Reader, Writer};\n\
         use crate::error::{DecodeError, DecodeErrorKind, EncodeError};\n\
         use crate::message::{Codec, Message, VersionRange};\n\
         use crate::records::Records;\n\
         use crate::tagged::UnknownTaggedFields;\n\
         use crate::topic_ref::TopicRef;\n\
         use crate::uuid::Uuid;\n\n",
    );
    for s in &msg.structs {
        emit_struct(&mut out, msg, s);
    }
    emit_message_impl(&mut out, msg);
    out
}

fn emit_struct(out: &mut String, msg: &MessageModel, s: &StructModel) {
    let ctx = Ctx { msg, strukt: s };
    let top = s.name == msg.name;
    let flexible = msg.flexible_from.is_some();
    if top {
        let _ = writeln!(out, "/// The `{}` message.", s.name);
    } else {
        let _ = writeln!(out, "/// The `{}` struct of `{}`.", s.name, msg.name);
    }
    let derive_default = s.fields.iter().all(is_type_default);
    if derive_default {
        out.push_str("#[derive(Debug, Clone, PartialEq, Default)]\n");
    } else {
        out.push_str("#[derive(Debug, Clone, PartialEq)]\n");
    }
    let _ = writeln!(out, "pub struct {} {{", s.name);
    for f in &s.fields {
        let _ = writeln!(out, "/// {}", doc_for_field(f));
        let _ = writeln!(out, "pub {}: {},", f.rust_name, field_ty(f));
    }
    if flexible {
        out.push_str("/// Tagged fields this crate does not know, kept for re-encoding.\n");
        out.push_str("pub unknown_tagged_fields: UnknownTaggedFields,\n");
    }
    out.push_str("}\n\n");

    // Default with the schema's defaults.
    if !derive_default {
        let _ = writeln!(
            out,
            "impl Default for {} {{\nfn default() -> Self {{\nSelf {{",
            s.name
        );
        for f in &s.fields {
            let _ = writeln!(out, "{}: {},", f.rust_name, default_expr(f));
        }
        if flexible {
            out.push_str("unknown_tagged_fields: UnknownTaggedFields::default(),\n");
        }
        out.push_str("}\n}\n}\n\n");
    }

    // Encode.
    let mut enc = String::new();
    if top {
        let _ = writeln!(
            enc,
            "if !Self::VERSIONS.contains(version) {{\nreturn Err(EncodeError::UnsupportedVersion {{ message: {:?}, version, min: {}, max: {} }});\n}}",
            msg.name, msg.valid.lo, msg.valid.hi
        );
    }
    if let Some(fv) = msg.flexible_from {
        let _ = writeln!(enc, "let flexible = version >= {fv};");
    }
    for f in &s.fields {
        let present = cond(f.versions, msg.valid);
        let tagged_cond = f.tagged.map(|t| cond(t, msg.valid));
        let body = ctx.enc_field(f);
        let not_present = if f.ignorable {
            String::new()
        } else {
            format!(
                "{}{{\nreturn Err(EncodeError::FieldNotInVersion {{ field: {:?}, version }});\n}}",
                not_default(f),
                ctx.path(f)
            )
        };
        match (tagged_cond, present) {
            // Tagged fields are written in the tagged section below.
            (Some(_), None) => {}
            (Some(_), Some(c)) => {
                if !not_present.is_empty() {
                    let _ = writeln!(enc, "if {} && {not_present}", not_cond(&c));
                }
            }
            (None, None) => {
                let _ = writeln!(enc, "{body}");
            }
            (None, Some(c)) => {
                if not_present.is_empty() {
                    let _ = writeln!(enc, "if {c} {{\n{body}\n}}");
                } else {
                    let _ = writeln!(enc, "if {c} {{\n{body}\n}} else if {not_present}");
                }
            }
        }
    }
    if flexible {
        let mut tagged: Vec<&FieldModel> = s.fields.iter().filter(|f| f.tagged.is_some()).collect();
        tagged.sort_by_key(|f| f.tag);
        enc.push_str("if flexible {\n");
        if tagged.is_empty() {
            enc.push_str("w.unsigned_varint(self.unknown_tagged_fields.len() as u32);\n");
            enc.push_str("self.unknown_tagged_fields.write_until(w, &mut 0, None);\n");
        } else {
            enc.push_str("let mut known = 0usize;\n");
            for f in &tagged {
                let c = cond(f.tagged.expect("tagged"), msg.valid);
                let test = match &c {
                    None => not_default(f),
                    Some(c) => format!("{c} && {}", not_default(f)),
                };
                let _ = writeln!(
                    enc,
                    "let write_{} = {test};",
                    f.rust_name.trim_start_matches("r#")
                );
                let _ = writeln!(
                    enc,
                    "known += usize::from(write_{});",
                    f.rust_name.trim_start_matches("r#")
                );
            }
            enc.push_str("w.unsigned_varint((known + self.unknown_tagged_fields.len()) as u32);\n");
            enc.push_str("let mut next_unknown = 0;\n");
            for f in &tagged {
                let tag = f.tag.expect("tag");
                let _ = writeln!(
                    enc,
                    "self.unknown_tagged_fields.write_until(w, &mut next_unknown, Some({tag}));\nif write_{} {{\nw.tagged_field({tag}, |w| {{\n{}\nOk(())\n}})?;\n}}",
                    f.rust_name.trim_start_matches("r#"),
                    ctx.enc_field(f)
                );
            }
            enc.push_str("self.unknown_tagged_fields.write_until(w, &mut next_unknown, None);\n");
        }
        enc.push_str("}\n");
    }
    enc.push_str("Ok(())\n");

    // Decode.
    let mut dec = String::new();
    if top {
        let _ = writeln!(
            dec,
            "if !Self::VERSIONS.contains(version) {{\nreturn Err(DecodeError {{ field: {:?}, offset: r.position(), kind: DecodeErrorKind::UnsupportedVersion {{ version, min: {}, max: {} }} }});\n}}",
            msg.name, msg.valid.lo, msg.valid.hi
        );
    }
    if let Some(fv) = msg.flexible_from {
        let _ = writeln!(dec, "let flexible = version >= {fv};");
    }
    dec.push_str("let mut this = Self::default();\n");
    for f in &s.fields {
        if f.tagged.is_some() {
            continue;
        }
        let read = format!("this.{} = {};", f.rust_name, ctx.dec_field(f));
        match cond(f.versions, msg.valid) {
            None => {
                let _ = writeln!(dec, "{read}");
            }
            Some(c) => {
                let _ = writeln!(dec, "if {c} {{\n{read}\n}}");
            }
        }
    }
    if flexible {
        let tagged: Vec<&FieldModel> = s.fields.iter().filter(|f| f.tagged.is_some()).collect();
        let tags_path = if top {
            format!("{}._tagged_fields", msg.name)
        } else {
            format!("{}.{}._tagged_fields", msg.name, s.name)
        };
        dec.push_str("if flexible {\nlet mut unknown = UnknownTaggedFields::default();\n");
        if tagged.is_empty() {
            let _ = writeln!(
                dec,
                "r.tagged_fields({tags_path:?}, &mut unknown, |_, _| Ok(false))?;"
            );
        } else {
            let _ = writeln!(
                dec,
                "r.tagged_fields({tags_path:?}, &mut unknown, |tag, r| match tag {{"
            );
            for f in &tagged {
                let guard = cond(f.tagged.expect("tagged"), msg.valid)
                    .map(|c| format!(" if {c}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    dec,
                    "{}{guard} => {{\nthis.{} = {};\nOk(true)\n}}",
                    f.tag.expect("tag"),
                    f.rust_name,
                    ctx.dec_field(f)
                );
            }
            dec.push_str("_ => Ok(false),\n})?;\n");
        }
        dec.push_str("this.unknown_tagged_fields = unknown;\n}\n");
    }
    dec.push_str("Ok(this)\n");

    let enc_v = if uses_word(&enc, "version") {
        "version"
    } else {
        "_version"
    };
    let dec_v = if uses_word(&dec, "version") {
        "version"
    } else {
        "_version"
    };
    let _ = writeln!(
        out,
        "impl Codec for {name} {{\nfn encode(&self, w: &mut Writer, {enc_v}: i16) -> Result<(), EncodeError> {{\n{enc}}}\n\nfn decode(r: &mut Reader<'_>, {dec_v}: i16) -> Result<Self, DecodeError> {{\n{dec}}}\n}}\n",
        name = s.name
    );

    // Random values valid for a version, for property tests.
    let mut arb = String::from("let mut this = Self::default();\n");
    for f in &s.fields {
        let set = format!("this.{} = {};", f.rust_name, ctx.arb_field(f));
        match cond(f.versions, msg.valid) {
            None => {
                let _ = writeln!(arb, "{set}");
            }
            Some(c) => {
                let _ = writeln!(arb, "if {c} {{\n{set}\n}}");
            }
        }
    }
    arb.push_str("this\n");
    let arb_v = if uses_word(&arb, "version") {
        "version"
    } else {
        "_version"
    };
    let arb_g = if uses_word(&arb, "g") { "g" } else { "_g" };
    let _ = writeln!(
        out,
        "#[cfg(feature = \"proptest\")]\nimpl crate::testing::Arbitrary for {name} {{\nfn arbitrary({arb_g}: &mut crate::testing::Gen, {arb_v}: i16) -> Self {{\n#[allow(unused_imports)]\nuse crate::testing::Arbitrary as _;\n{arb}}}\n}}\n",
        name = s.name
    );
}

fn emit_message_impl(out: &mut String, msg: &MessageModel) {
    let flex = match msg.flexible_from {
        Some(v) => format!("Some({v})"),
        None => "None".to_owned(),
    };
    let _ = writeln!(
        out,
        "impl Message for {name} {{\nconst NAME: &'static str = {name:?};\nconst VERSIONS: VersionRange = VersionRange {{ min: {}, max: {} }};\nconst FLEXIBLE_FROM: Option<i16> = {flex};\n}}\n",
        msg.valid.lo,
        msg.valid.hi,
        name = msg.name
    );
}
