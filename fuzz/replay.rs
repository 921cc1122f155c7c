// Shared by kafka-proto/tests/fuzz_replay.rs, replicator-core/tests/fuzz_replay.rs and
// mirror-cli/tests/fuzz_replay.rs through include!: each brings its own `fuzz`
// module (the crate's target bodies).

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs every file under `fuzz/<kind>/<target>/`; returns how many ran and
/// the files that panicked.
fn replay(kind: &str) -> (usize, Vec<String>) {
    let root = fuzz_dir().join(kind);
    let mut ran = 0;
    let mut failed = Vec::new();
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return (0, failed);
    };
    for dir in dirs {
        let dir = dir.expect("readable directory entry").path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // Directories of the other crate's targets are replayed there.
        let Some(target) = fuzz::target(&name) else {
            continue;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("readable corpus directory")
            .map(|e| e.expect("readable directory entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("readable corpus file");
            ran += 1;
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    (ran, failed)
}

#[test]
fn corpus_replays_without_panics() {
    let (ran, failed) = replay("corpus");
    assert!(ran > 0, "no corpus under {}", fuzz_dir().display());
    assert!(failed.is_empty(), "corpus inputs panicked: {failed:#?}");
}

#[test]
fn crash_regressions_stay_fixed() {
    let (_, failed) = replay("regressions");
    assert!(
        failed.is_empty(),
        "regression inputs panicked again: {failed:#?}"
    );
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in fuzz::TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let count = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert!(count > 0, "{} is empty or missing", dir.display());
    }
}

/// The cargo-fuzz binaries declared in `fuzz/Cargo.toml`.
fn fuzz_binaries() -> Vec<String> {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(name) = line.strip_prefix("name = ").filter(|_| in_bin) {
            names.push(name.trim_matches('"').to_owned());
        }
    }
    names
}

/// Corpus and regression directories are shared with the other crate's
/// targets (kafka-proto and replicator-core each replay their own): each
/// must be named after a binary in `fuzz/Cargo.toml`, and each of this
/// crate's targets must have one.
#[test]
fn every_directory_is_a_fuzz_target() {
    let bins = fuzz_binaries();
    for (name, _) in fuzz::TARGETS {
        assert!(
            bins.iter().any(|b| b == name),
            "no [[bin]] {name} in fuzz/Cargo.toml"
        );
    }
    for kind in ["corpus", "regressions"] {
        let Ok(dirs) = std::fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for dir in dirs {
            let dir = dir.expect("readable directory entry").path();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                bins.contains(&name),
                "{} is not named after a fuzz target",
                dir.display()
            );
        }
    }
}
