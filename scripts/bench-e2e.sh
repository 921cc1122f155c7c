#!/usr/bin/env bash
# The end-to-end bench of BENCHMARKS.md: builds the benches crate's
# binaries in release and runs `e2e`, which starts a source and a target
# bench broker, runs our mirror, an rdkafka forwarder and a raw relay each
# in its own process, and prints the report (markdown) on stdout.
#
#   scripts/bench-e2e.sh                        # 2 GiB, 8 partitions, 3 runs, plain + zstd
#   scripts/bench-e2e.sh --volume-mib 512 --runs 3
#   scripts/bench-e2e.sh --skip-latency --skip-idle --variants none
#   scripts/bench-e2e.sh --tansu                # two local Tansu brokers, short run
#   scripts/bench-e2e.sh --source-bootstrap A:9092 --target-bootstrap B:9092
#   scripts/bench-e2e.sh --kafka                # our mirror beside MirrorMaker 2, two Apache Kafka brokers
#   scripts/bench-e2e.sh --kafka --volume-mib 1024 --runs 3 --zstd
#
# Every option is passed to `e2e` (see benches/src/bin/e2e.rs); --tansu
# starts two Tansu brokers (~/.cargo/bin/tansu, SQLite storage in a temporary directory) first.
# --kafka runs `e2e-kafka` instead (benches/src/bin/e2e-kafka.rs): it starts
# two Apache Kafka brokers and MirrorMaker 2 from the jars `.ci/install-deps
# kafka` fetches, and runs the same workload through MirrorMaker 2 and
# through our mirror between them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p benches --bins
bin="${CARGO_TARGET_DIR:-target}/release/e2e"

if [ "${1:-}" = "--kafka" ]; then
    shift
    .ci/install-deps kafka
    exec "${CARGO_TARGET_DIR:-target}/release/e2e-kafka" "$@"
elif [ "${1:-}" = "--tansu" ]; then
    shift
    tansu="${TANSU:-$HOME/.cargo/bin/tansu}"
    [ -x "$tansu" ] || { echo "tansu not found at $tansu; run .ci/install-deps tansu" >&2; exit 1; }
    pids=()
    dir="$(mktemp -d)"
    trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
    ports=()
    for i in 0 1; do
        port=$((19092 + i))
        (cd "$dir" && exec "$tansu" broker \
            --cluster-id "bench-$i" \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine "sqlite://tansu-$i.db" \
            >"$dir/tansu-$i.log" 2>&1) &
        pids+=("$!")
        ports+=("$port")
    done
    for port in "${ports[@]}"; do
        for _ in $(seq 1 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.1
        done
    done
    "$bin" --source-bootstrap "127.0.0.1:${ports[0]}" --target-bootstrap "127.0.0.1:${ports[1]}" "$@"
else
    "$bin" "$@"
fi
