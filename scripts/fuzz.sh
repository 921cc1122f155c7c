#!/usr/bin/env bash
# Fuzzes every target in fuzz/ for a bounded time and fails on any crash,
# panic, timeout or memory blow-up. See fuzz/README.md.
#
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_TARGETS   space-separated targets to run (default: all)
#
# Runs on the stable toolchain: cargo-fuzz needs nightly-only compiler flags
# (sanitizer and coverage instrumentation), which RUSTC_BOOTSTRAP=1 allows
# for this script's builds alone, as rustls does in its CI. The committed
# corpus is only read; new inputs go to a scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
# Every allocation over malloc_limit_mb, or a process over rss_limit_mb, is a
# crash: decoders must size memory by the bytes present, not by claimed lengths.
limits=(-rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# A smaller ASan quarantine keeps RSS well under the limit in long runs.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64}"

cd fuzz
echo "==> fuzz crate is formatted"
cargo fmt --check

echo "==> building fuzz targets"
cargo fuzz build

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $targets; do
    echo "==> fuzzing $t for ${seconds}s"
    mkdir -p "$scratch/$t" "corpus/$t"
    dirs=("$scratch/$t" "corpus/$t")
    if [ -d "regressions/$t" ]; then
        dirs+=("regressions/$t")
    fi
    log="$scratch/$t.log"
    if cargo fuzz run "$t" "${dirs[@]}" -- \
        -max_total_time="$seconds" "${limits[@]}" -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || tail -n 5 "$log"
    else
        tail -n 80 "$log"
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FUZZ FAILURES in: ${failed[*]}" >&2
    echo "Crashing inputs are in fuzz/artifacts/<target>/. Reproduce with" >&2
    echo "  RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>" >&2
    echo "then fix, and save the input as fuzz/regressions/<target>/<name> (fuzz/README.md)." >&2
    exit 1
fi
echo "fuzzing passed:" $targets
