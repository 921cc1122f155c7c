#!/usr/bin/env bash
# Runs the forward-path micro benches RUNS times (default 3) and prints, per
# input, the median throughput of each path and its ratios to the baselines
# measured in the same runs. This is what BENCHMARKS.md quotes.
#
#   scripts/bench-micro.sh            # 3 runs
#   RUNS=5 scripts/bench-micro.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
out="$(mktemp -d)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for i in $(seq 1 "$runs"); do
    echo "run $i/$runs" >&2
    # Each run reports into its own directory, so no earlier result (from
    # another run, or a bench since renamed) is ever read back.
    CRITERION_HOME="$out/$i" cargo bench -q -p benches --bench forward -- \
        --warm-up-time 2 --measurement-time 5 >/dev/null
done
python3 - "$out" "$runs" <<'PY'
import json, os, statistics, sys
root, runs = sys.argv[1], int(sys.argv[2])
results = {}  # (group, fn) -> [bytes/s]
for i in range(1, runs + 1):
    for dirpath, _, files in os.walk(os.path.join(root, str(i))):
        if "benchmark.json" in files and dirpath.endswith("/new"):
            bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
            est = json.load(open(os.path.join(dirpath, "estimates.json")))
            nbytes = bench["throughput"]["Bytes"]
            ns = est["median"]["point_estimate"]
            results.setdefault((bench["group_id"], bench["function_id"]), []).append(nbytes / ns * 1e9)
def fmt(bps):
    return f"{bps / 2**30:.2f} GiB/s" if bps >= 2**30 else f"{bps / 2**20:.1f} MiB/s"
for group in sorted({g for g, _ in results}):
    med = {f: statistics.median(v) for (g, f), v in results.items() if g == group}
    print(f"\n{group} (median of {runs} runs; each run's figure is criterion's median)")
    print("| path | throughput | vs crc32c | vs kafka-protocol |")
    print("| --- | --- | --- | --- |")
    for f in sorted(med, key=lambda f: -med[f]):
        crc = med.get("crc32c"); kp = med.get("kafka-protocol")
        print(f"| {f} | {fmt(med[f])} | {med[f] / crc:.0%} | {med[f] / kp:.1f}x |")
PY
rm -rf "$out"
