#!/usr/bin/env bash
# Quickstart: two local Tansu brokers, sample data on one, the installed
# `kafka-mirror` command copying it to the other, and an independent
# consumer proving that the copy is exact.
#
#   scripts/quickstart.sh
#
# 1. installs what it needs (.ci/install-deps tansu and venv; Tansu takes
#    about ten minutes to build the first time) and the command itself
#    (`cargo install --path mirror-cli`, into ~/.cargo/bin),
# 2. starts brokers "a" and "b" (sqlite storage in fresh temp dirs, free
#    ports),
# 3. produces sample data to "a" with confluent-kafka: keys, headers, null
#    keys, tombstones, and lz4, zstd and gzip compression,
# 4. runs `kafka-mirror --config mirror-cli/config/quickstart.properties
#    --until-caught-up` on a temp copy of the file with the real ports,
# 5. reads both sides back and compares them record by record, then stops
#    the brokers (also on error or Ctrl-C).
#
# Exits 0 when the target holds exactly what the source holds.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

log() { printf '\n==> %s\n' "$*"; }

log "installing Tansu and the Python venv (skipped when present)"
.ci/install-deps tansu
.ci/install-deps venv
PY="$REPO/.venv/bin/python"

log "cargo install --locked --path mirror-cli (kafka-mirror, into ${CARGO_INSTALL_ROOT:-~/.cargo}/bin)"
cargo install --quiet --locked --path mirror-cli
KAFKA_MIRROR="$HOME/.cargo/bin/kafka-mirror"
if [ -n "${CARGO_INSTALL_ROOT:-}" ]; then
    KAFKA_MIRROR="$CARGO_INSTALL_ROOT/bin/kafka-mirror"
fi
"$KAFKA_MIRROR" --version
if command -v tansu >/dev/null 2>&1; then
    TANSU="$(command -v tansu)"
else
    TANSU="$HOME/.cargo/bin/tansu"
fi

WORK="$(mktemp -d -t kafka-replicator-quickstart.XXXXXX)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_broker NAME: starts a broker in $WORK/NAME and sets PORT_<NAME>.
start_broker() {
    local name="$1" port dir
    port="$(free_port)"
    dir="$WORK/$name"
    mkdir -p "$dir"
    # The sqlite path is relative to the working directory: Tansu mangles
    # absolute paths.
    (cd "$dir" && exec "$TANSU" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine sqlite://tansu.db >broker.log 2>&1) &
    PIDS+=("$!")
    "$PY" - "$port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.time() + 20
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(f"broker on port {port} did not start; see its broker.log")
EOF
    printf -v "PORT_$name" '%s' "$port"
    echo "broker $name: 127.0.0.1:$port (data in $dir)"
}

log "starting two Tansu brokers"
start_broker a
start_broker b
A="127.0.0.1:$PORT_a"
B="127.0.0.1:$PORT_b"

log "producing sample data to a ($A)"
"$PY" - "$A" <<'EOF'
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
# Snappy is left out: Tansu 0.6 cannot serve snappy batches from sqlite.
topics = {"orders": ("lz4", 3, 3000), "payments": ("zstd", 2, 2000), "audit": ("gzip", 1, 500)}
for f in admin.create_topics([NewTopic(t, p, 1) for t, (_, p, _) in topics.items()]).values():
    f.result()
for topic, (codec, partitions, n) in topics.items():
    p = Producer({
        "bootstrap.servers": bootstrap,
        "compression.type": codec,
        "linger.ms": 20,
        "enable.idempotence": True,
    })
    for i in range(n):
        key = None if i % 10 == 0 else f"{topic}-key-{i}".encode()
        value = None if i % 97 == 1 else f'{{"id": {i}, "topic": "{topic}", "pad": "{"x" * (i % 200)}"}}'.encode()
        headers = [("source", b"quickstart"), ("seq", str(i).encode())] if i % 3 else None
        p.produce(topic, key=key, value=value, headers=headers, partition=i % partitions)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(30)
    assert left == 0, f"{left} records of {topic} not delivered"
    print(f"  {topic}: {n} records over {partitions} partitions, {codec}")
EOF

log "writing a copy of mirror-cli/config/quickstart.properties with the real ports"
CONFIG="$WORK/quickstart.properties"
sed -e "s/^a\.bootstrap\.servers *=.*/a.bootstrap.servers = $A/" \
    -e "s/^b\.bootstrap\.servers *=.*/b.bootstrap.servers = $B/" \
    mirror-cli/config/quickstart.properties >"$CONFIG"
grep bootstrap "$CONFIG"

log "kafka-mirror --config $CONFIG --until-caught-up --status-interval 1"
"$KAFKA_MIRROR" --config "$CONFIG" --until-caught-up --status-interval 1

log "reading both sides back"
"$PY" - "$A" "$B" <<'EOF'
import sys, time
from confluent_kafka import Consumer, TopicPartition

source, target = sys.argv[1], sys.argv[2]

def read(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "quickstart-check",
                  "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=10).topics[topic]
    if md.error is not None:
        sys.exit(f"{topic} on {bootstrap}: {md.error}")
    parts = sorted(md.partitions)
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out = {p: [] for p in parts}
    want = sum(ends.values())
    got = 0
    deadline = time.time() + 60
    while got < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            sys.exit(f"{topic}: {m.error()}")
        out[m.partition()].append((m.key(), m.value(), m.headers(), m.timestamp()))
        got += 1
    c.close()
    return out

ok = True
for topic in ["audit", "orders", "payments"]:
    s = read(source, topic)
    t = read(target, "a." + topic)
    n = sum(map(len, s.values()))
    same = s == t
    ok &= same
    keys = sum(1 for recs in s.values() for r in recs if r[0] is not None)
    headers = sum(1 for recs in s.values() for r in recs if r[2])
    print(f"  {topic} -> a.{topic}: {n} records over {len(s)} partitions "
          f"({keys} with keys, {headers} with headers): "
          + ("identical (keys, values, headers, timestamps, order)" if same else "DIFFERENT"))
if not ok:
    sys.exit("the target does not hold what the source holds")
print("\nthe target holds exactly what the source holds")
EOF
