//! Generates `kafka-proto/src/messages/` from Kafka's JSON message schemas.
//!
//! ```text
//! cargo run -p codegen            # regenerate in place
//! cargo run -p codegen -- --check # fail if the committed code is stale
//! ```
//!
//! The schemas are read from `../shared/kafka-protocol/messages` next to the
//! repository, or from `--schemas DIR`. The output is formatted with
//! rustfmt, so the check compares formatted text.

mod diff;
mod emit;
mod model;
mod schema;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use model::MessageModel;
use schema::{strip_comments, Schema};

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let mut schemas = root.join("../shared/kafka-protocol/messages");
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--schemas" => match args.next() {
                Some(dir) => schemas = PathBuf::from(dir),
                None => {
                    eprintln!("--schemas needs a directory");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("unknown argument {other}; usage: codegen [--check] [--schemas DIR]");
                return ExitCode::from(2);
            }
        }
    }
    let out_dir = root.join("kafka-proto/src/messages");
    let diff_file = root.join("kafka-proto/tests/differential/generated.rs");
    match run(&schemas, &out_dir, &diff_file, check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(schemas: &Path, out_dir: &Path, diff_file: &Path, check: bool) -> Result<bool, String> {
    let mut models = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(schemas)
        .map_err(|e| format!("reading schemas from {}: {e}", schemas.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in &entries {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let schema: Schema = serde_json::from_str(&strip_comments(&text))
            .map_err(|e| format!("parsing {}: {e}", path.display()))?;
        models.push(MessageModel::build(&schema));
    }
    if models.is_empty() {
        return Err(format!("no schemas found in {}", schemas.display()));
    }

    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for m in &models {
        files.insert(format!("{}.rs", m.module), format(&emit::message(m))?);
    }
    files.insert("mod.rs".to_owned(), format(&module_index(&models))?);

    let mut fresh = true;
    for (name, text) in &files {
        let path = out_dir.join(name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == *text {
            continue;
        }
        if check {
            eprintln!(
                "stale: {} differs from what the schemas generate",
                path.display()
            );
            fresh = false;
        } else {
            std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
            std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
    }
    // Files left from schemas that no longer exist.
    if let Ok(dir) = std::fs::read_dir(out_dir) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") && !files.contains_key(&name) {
                if check {
                    eprintln!("stale: {} has no schema", entry.path().display());
                    fresh = false;
                } else {
                    std::fs::remove_file(entry.path()).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    // The differential tests' comparison code, outside the messages directory.
    let diff_text = format(&diff::generate(&models))?;
    if std::fs::read_to_string(diff_file).unwrap_or_default() != diff_text {
        if check {
            eprintln!(
                "stale: {} differs from what the schemas generate",
                diff_file.display()
            );
            fresh = false;
        } else {
            std::fs::write(diff_file, &diff_text)
                .map_err(|e| format!("writing {}: {e}", diff_file.display()))?;
        }
    }
    if check && fresh {
        println!(
            "codegen: {} generated files are up to date",
            files.len() + 1
        );
    }
    Ok(fresh)
}

fn format(src: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(src.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt rejected generated code: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// `messages/mod.rs`: modules, re-exports, `ApiKey` and the per-API enums.
fn module_index(models: &[MessageModel]) -> String {
    let mut out = String::from(
        "//! Every message of the Kafka protocol this crate speaks, one module per schema.\n\
         //! Generated by `codegen` from the Kafka message schemas; do not edit.\n\n\
         use crate::codec::{Reader, Writer};\n\
         use crate::error::{DecodeError, EncodeError};\n\
         use crate::message::{Codec, Request, Response, VersionRange};\n\n",
    );
    for m in models {
        let _ = writeln!(out, "pub mod {};", m.module);
    }
    out.push('\n');
    for m in models {
        let _ = writeln!(out, "pub use {}::{};", m.module, m.name);
    }

    let mut apis: Vec<(&MessageModel, &MessageModel)> = Vec::new();
    for req in models.iter().filter(|m| m.kind == "request") {
        let base = req.name.trim_end_matches("Request");
        let resp = models
            .iter()
            .find(|m| m.kind == "response" && m.name == format!("{base}Response"))
            .unwrap_or_else(|| panic!("no response schema for {}", req.name));
        assert_eq!(req.api_key, resp.api_key, "{base}: api keys differ");
        assert_eq!(req.valid, resp.valid, "{base}: version ranges differ");
        assert_eq!(
            req.flexible_from, resp.flexible_from,
            "{base}: flexible versions differ"
        );
        apis.push((req, resp));
    }
    apis.sort_by_key(|(req, _)| req.api_key);

    // ApiKey.
    out.push_str("\n/// The APIs this crate speaks, by their wire key.\n");
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[repr(i16)]\npub enum ApiKey {\n");
    for (req, _) in &apis {
        let base = req.name.trim_end_matches("Request");
        let _ = writeln!(out, "/// `{base}`, key {}.", req.api_key.expect("api key"));
        let _ = writeln!(out, "{base} = {},", req.api_key.expect("api key"));
    }
    out.push_str("}\n\nimpl ApiKey {\n");
    let _ = writeln!(
        out,
        "/// Every API, in key order.\npub const ALL: [ApiKey; {}] = [",
        apis.len()
    );
    for (req, _) in &apis {
        let _ = writeln!(out, "ApiKey::{},", req.name.trim_end_matches("Request"));
    }
    out.push_str("];\n\n");
    out.push_str("/// The wire key.\npub const fn key(self) -> i16 {\nself as i16\n}\n\n");
    out.push_str("/// The API with this wire key, if this crate speaks it.\npub const fn from_key(key: i16) -> Option<ApiKey> {\nmatch key {\n");
    for (req, _) in &apis {
        let _ = writeln!(
            out,
            "{} => Some(ApiKey::{}),",
            req.api_key.expect("api key"),
            req.name.trim_end_matches("Request")
        );
    }
    out.push_str("_ => None,\n}\n}\n\n");
    out.push_str("/// The API's name, as Kafka spells it.\npub const fn name(self) -> &'static str {\nmatch self {\n");
    for (req, _) in &apis {
        let base = req.name.trim_end_matches("Request");
        let _ = writeln!(out, "ApiKey::{base} => {base:?},");
    }
    out.push_str("}\n}\n\n");
    out.push_str("/// Versions this crate can encode and decode.\npub const fn versions(self) -> VersionRange {\nmatch self {\n");
    for (req, _) in &apis {
        let _ = writeln!(
            out,
            "ApiKey::{} => VersionRange {{ min: {}, max: {} }},",
            req.name.trim_end_matches("Request"),
            req.valid.lo,
            req.valid.hi
        );
    }
    out.push_str("}\n}\n\n");
    out.push_str("/// The first flexible version, if any.\npub const fn flexible_from(self) -> Option<i16> {\nmatch self {\n");
    for (req, _) in &apis {
        let flex = match req.flexible_from {
            Some(v) => format!("Some({v})"),
            None => "None".to_owned(),
        };
        let _ = writeln!(
            out,
            "ApiKey::{} => {flex},",
            req.name.trim_end_matches("Request")
        );
    }
    out.push_str("}\n}\n\n");
    out.push_str(
        "/// Whether `version` of this API uses the flexible encoding.\n\
         pub const fn is_flexible(self, version: i16) -> bool {\n\
         match self.flexible_from() {\nSome(v) => version >= v,\nNone => false,\n}\n}\n\n\
         /// The request header version for `version`: 2 when flexible, else 1.\n\
         pub const fn request_header_version(self, version: i16) -> i16 {\n\
         if self.is_flexible(version) { 2 } else { 1 }\n}\n\n\
         /// The response header version for `version`: 1 when flexible, else 0.\n\
         /// ApiVersions responses always use 0, so that a client can read the\n\
         /// broker's version range whatever version it asked with (KIP-511).\n\
         pub const fn response_header_version(self, version: i16) -> i16 {\n\
         if matches!(self, ApiKey::ApiVersions) { return 0; }\n\
         if self.is_flexible(version) { 1 } else { 0 }\n}\n}\n\n\
         impl std::fmt::Display for ApiKey {\n\
         fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n\
         f.write_str(self.name())\n}\n}\n\n",
    );

    for (req, resp) in &apis {
        let base = req.name.trim_end_matches("Request");
        let _ = writeln!(
            out,
            "impl Request for {} {{\nconst API_KEY: ApiKey = ApiKey::{base};\ntype Response = {};\n}}\n\nimpl Response for {} {{\nconst API_KEY: ApiKey = ApiKey::{base};\n}}\n",
            req.name, resp.name, resp.name
        );
    }

    for (kind, pick) in [("Request", 0usize), ("Response", 1usize)] {
        let lower = kind.to_lowercase();
        let _ = writeln!(
            out,
            "/// Any {lower} body, for code that dispatches on the API key (brokers, fakes, fuzzers).\n\
             #[derive(Debug, Clone, PartialEq)]\n\
             // Variants differ in size as the messages do; boxing would cost an allocation per message.\n\
             #[allow(clippy::large_enum_variant)]\n\
             pub enum {kind}Body {{"
        );
        for pair in &apis {
            let m = if pick == 0 { pair.0 } else { pair.1 };
            let base = pair.0.name.trim_end_matches("Request");
            let _ = writeln!(out, "/// A `{}`.\n{base}({}),", m.name, m.name);
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl {kind}Body {{");
        out.push_str(
            "/// The API this body belongs to.\npub fn api_key(&self) -> ApiKey {\nmatch self {\n",
        );
        for pair in &apis {
            let base = pair.0.name.trim_end_matches("Request");
            let _ = writeln!(out, "{kind}Body::{base}(_) => ApiKey::{base},");
        }
        out.push_str("}\n}\n\n");
        let _ = writeln!(
            out,
            "/// Decodes the {lower} body of `api_key` laid out as `version`.\n\
             pub fn decode(api_key: ApiKey, version: i16, r: &mut Reader<'_>) -> Result<Self, DecodeError> {{\nOk(match api_key {{"
        );
        for pair in &apis {
            let m = if pick == 0 { pair.0 } else { pair.1 };
            let base = pair.0.name.trim_end_matches("Request");
            let _ = writeln!(
                out,
                "ApiKey::{base} => {kind}Body::{base}({}::decode(r, version)?),",
                m.name
            );
        }
        out.push_str("})\n}\n\n");
        out.push_str("/// Encodes the body as `version` lays it out.\npub fn encode(&self, w: &mut Writer, version: i16) -> Result<(), EncodeError> {\nmatch self {\n");
        for pair in &apis {
            let base = pair.0.name.trim_end_matches("Request");
            let _ = writeln!(out, "{kind}Body::{base}(m) => m.encode(w, version),");
        }
        out.push_str("}\n}\n\n");
        let _ = writeln!(
            out,
            "/// A random body valid for `version`, for property tests.\n\
             #[cfg(feature = \"proptest\")]\n\
             pub fn arbitrary(api_key: ApiKey, version: i16, g: &mut crate::testing::Gen) -> Self {{\n\
             use crate::testing::Arbitrary as _;\nmatch api_key {{"
        );
        for pair in &apis {
            let m = if pick == 0 { pair.0 } else { pair.1 };
            let base = pair.0.name.trim_end_matches("Request");
            let _ = writeln!(
                out,
                "ApiKey::{base} => {kind}Body::{base}({}::arbitrary(g, version)),",
                m.name
            );
        }
        out.push_str("}\n}\n}\n\n");
    }
    out
}
