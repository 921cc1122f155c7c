#!/usr/bin/env bash
# Every check the project has, in the order CI runs them: generated code is
# fresh, formatting, lints, all tests, and bench/example builds.
# External test peers (Tansu, tshark, stunnel, Python confluent-kafka) are
# installed by .ci/install-deps; tests that need one fail, saying how to
# install it, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "generated message code matches ../shared/kafka-protocol/messages"
if [ -d ../shared/kafka-protocol/messages ]; then
    cargo run -q -p codegen -- --check
elif [ "${CI:-}" = "true" ]; then
    echo "../shared/kafka-protocol/messages is missing; CI needs it to check the generated code" >&2
    exit 1
else
    echo "SKIPPED: ../shared/kafka-protocol/messages not found next to the repository"
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace

step "fuzz every decoder (cargo-fuzz, ${FUZZ_SECONDS:-20}s per target)"
scripts/fuzz.sh

step "benches and examples build"
cargo bench -p benches --no-run
cargo build --workspace --examples

step "cargo install --path mirror-cli gives a working kafka-mirror"
# --debug reuses the test build's artifacts; the release build is the same code.
install_root=$(mktemp -d)
trap 'rm -rf "$install_root"' EXIT
cargo install --quiet --locked --debug --path mirror-cli --root "$install_root"
"$install_root/bin/kafka-mirror" --version
"$install_root/bin/kafka-mirror" --help >/dev/null
"$install_root/bin/kafka-mirror" completions bash >/dev/null
