#!/usr/bin/env python3
"""Capture byte-exact Kafka frames exchanged between librdkafka and Tansu.

How to run (from the repository root):

    .ci/install-deps                # once: tansu on PATH, .venv with confluent-kafka
    .venv/bin/python scripts/capture-fixtures.py

Options: ``--out DIR`` (default kafka-proto/tests/fixtures), ``--tansu PATH``,
``--keep-tmp`` (keep the broker's temp dirs and logs, and the pcap), ``--no-sasl``,
``--no-mock``,
``-v`` (log every captured frame).

What it does:

1. Starts a fresh Tansu broker (sqlite storage, fresh temp dir as its cwd)
   and a small recording TCP proxy in front of it.  The broker advertises the
   proxy's port, so every client connection goes through the proxy.
2. The proxy splits both directions into frames (int32 big-endian size
   prefix), reads (api_key, api_version, correlation_id) from each request
   header and pairs each response with its request by correlation id
   (responses on a connection arrive in request order).
3. Drives real librdkafka traffic (PyPI confluent-kafka): admin (create
   topics, metadata, describe configs, ...), producers with compression
   none/gzip/snappy/lz4/zstd, keys, null keys and headers, an idempotent
   producer, a transactional consume-transform-produce (one committed and
   one aborted transaction when the broker supports EndTxn), and
   read_committed group consumers that fetch everything back and commit
   offsets.  Snappy runs against a second broker with memory storage.
4. Optionally (default on) a second broker with SCRAM users and
   ``--authentication``, for SaslHandshake/SaslAuthenticate (a good and a
   wrong password).
4b. Optionally (default on, ``--no-mock`` to skip) transaction markers from
   librdkafka's mock cluster, since Tansu cannot write them: a client with
   ``test.mock.num.brokers=1`` runs the mock in-process on a real
   127.0.0.1 port (seen in ``list_topics().brokers``).  A transactional
   producer commits one transaction and aborts the next on one partition,
   then a read_committed and a read_uncommitted consumer fetch it from
   offset 0.  ``tshark -i lo`` captures that port (needs tshark and the
   right to capture, e.g. root); each TCP stream is reassembled per
   direction from the pcap and split and paired exactly like the proxy
   does.  Kept: the consumers' Fetch exchanges whose response holds a
   COMMIT or an ABORT marker (scenario ``mock-transactions``, responses
   under ``<out>/librdkafka-mock/``, peer ``librdkafka-mock``), numbered
   after the Tansu exchanges.
5. Keeps a small deduplicated set of exchanges: at most 3 per
   (api_key, api_version) (first, largest request, largest response), plus
   every Produce request / Fetch response that shows a record-batch kind
   (codec, transactional, control) not seen yet for that version.  Request
   and response of one exchange share the number ``nnn``.
6. Writes each kept frame, size prefix stripped, to
   ``<out>/librdkafka/<nnn>_<api>_v<ver>_request.bin`` and
   ``<out>/tansu/<nnn>_<api>_v<ver>_response.bin``, plus ``<out>/manifest.json``.
   Old ``*.bin`` files in those folders are removed first.

librdkafka 2.16.0 mock quirks met here:
- Transaction markers are written to the log (COMMIT after the committed
  data, ABORT after the aborted data, coordinator epoch 0) but with a zero
  CRC, baseTimestamp 0 and producer epoch 0; ``scan_batches`` accepts such
  a one-record uncompressed control batch and records ``crc_valid: false``.
- Aborted data stays in the log, and Fetch answers read_committed with
  LSO = high watermark and an empty AbortedTransactions list, so librdkafka
  delivers the aborted records to a read_committed consumer too.

Tansu 0.6.0 quirks met here (see also shared/TEST-INFRA.md):
- sqlite storage: DeleteTopics deletes *every* topic; Fetch of snappy
  batches fails (UnexpectedType("Snappy")), memory storage serves them.
- EndTxn (26) is not advertised: librdkafka cannot commit or abort, so no
  control batch (transaction marker) is ever written, and open
  transactional data is returned even under read_committed.  The markers
  come from the librdkafka mock instead (step 4b).
- ConsumerGroupDescribe (69) is advertised but the connection is dropped.

The bytes are not identical between runs (timestamps of the broker, producer
ids, random member ids, CRCs), but the file set is stable: the same scenario
produces the same kinds of frames.  Produced record timestamps are fixed.

``--transcode`` writes only the fixtures for re-encoding and up-conversion,
under ``<out>/transcode/`` (see ``scripts/transcode_fixtures.py``): librdkafka
produces, through the recording proxy, four batches per codec (none, gzip,
snappy, lz4, zstd), each from an idempotent producer of its own; those are
cleaned as Kafka's log cleaner would, and legacy magic 0/1 message sets are
built, with kafka-python (``.ci/install-deps venv`` installs it).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

try:
    import confluent_kafka
    from confluent_kafka import (
        Consumer,
        KafkaError,
        KafkaException,
        Producer,
        TopicPartition,
    )
    from confluent_kafka.admin import (
        AdminClient,
        ConfigResource,
        NewTopic,
        OffsetSpec,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )
except ImportError:  # pragma: no cover
    sys.exit(
        "confluent-kafka is missing: run .ci/install-deps, then "
        ".venv/bin/python scripts/capture-fixtures.py"
    )

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "kafka-proto" / "tests" / "fixtures"
BASE_TS = 1_700_000_000_000  # fixed CreateTime for produced records
MAX_PER_VERSION = 3
MAX_FRAME_BYTES = 256 * 1024  # never keep a single frame larger than this
WHOLE_CONVERSATION = {17, 36}  # SaslHandshake, SaslAuthenticate

API_NAMES = {
    0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata",
    4: "leader_and_isr", 5: "stop_replica", 6: "update_metadata",
    7: "controlled_shutdown", 8: "offset_commit", 9: "offset_fetch",
    10: "find_coordinator", 11: "join_group", 12: "heartbeat",
    13: "leave_group", 14: "sync_group", 15: "describe_groups",
    16: "list_groups", 17: "sasl_handshake", 18: "api_versions",
    19: "create_topics", 20: "delete_topics", 21: "delete_records",
    22: "init_producer_id", 23: "offset_for_leader_epoch",
    24: "add_partitions_to_txn", 25: "add_offsets_to_txn", 26: "end_txn",
    27: "write_txn_markers", 28: "txn_offset_commit", 29: "describe_acls",
    30: "create_acls", 31: "delete_acls", 32: "describe_configs",
    33: "alter_configs", 34: "alter_replica_log_dirs",
    35: "describe_log_dirs", 36: "sasl_authenticate",
    37: "create_partitions", 38: "create_delegation_token",
    39: "renew_delegation_token", 40: "expire_delegation_token",
    41: "describe_delegation_token", 42: "delete_groups",
    43: "elect_leaders", 44: "incremental_alter_configs",
    45: "alter_partition_reassignments",
    46: "list_partition_reassignments", 47: "offset_delete",
    48: "describe_client_quotas", 49: "alter_client_quotas",
    50: "describe_user_scram_credentials",
    51: "alter_user_scram_credentials", 52: "vote",
    53: "begin_quorum_epoch", 54: "end_quorum_epoch",
    55: "describe_quorum", 56: "alter_partition", 57: "update_features",
    58: "envelope", 59: "fetch_snapshot", 60: "describe_cluster",
    61: "describe_producers", 62: "broker_registration",
    63: "broker_heartbeat", 64: "unregister_broker",
    65: "describe_transactions", 66: "list_transactions",
    67: "allocate_producer_ids", 68: "consumer_group_heartbeat",
    69: "consumer_group_describe", 70: "controller_registration",
    71: "get_telemetry_subscriptions", 72: "push_telemetry",
    73: "assign_replicas_to_dirs", 74: "list_config_resources",
    75: "describe_topic_partitions", 76: "share_group_heartbeat",
    77: "share_group_describe", 78: "share_fetch",
    79: "share_acknowledge", 80: "add_raft_voter",
    81: "remove_raft_voter", 82: "update_raft_voter",
    83: "initialize_share_group_state", 84: "read_share_group_state",
    85: "write_share_group_state", 86: "delete_share_group_state",
    87: "read_share_group_state_summary", 88: "streams_group_heartbeat",
    89: "streams_group_describe", 90: "describe_share_group_offsets",
    91: "alter_share_group_offsets", 92: "delete_share_group_offsets",
}
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

VERBOSE = False


def log(msg: str) -> None:
    print(f"[capture] {msg}", file=sys.stderr, flush=True)


def api_name(key: int) -> str:
    return API_NAMES.get(key, f"api{key}")


# --------------------------------------------------------------------------
# CRC-32C and record-batch scan
# --------------------------------------------------------------------------

def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def scan_batches(frame: bytes) -> list[dict]:
    """Find magic-2 record batches in a frame by their CRC-32C.

    A heuristic (no full parse): a batch starts at p when byte p+16 is 2,
    the batch length fits in the frame, and the CRC over
    [p+21, p+12+batchLength) matches the stored one.
    """
    out = []
    n = len(frame)
    p = 0
    while p + 61 <= n:
        if frame[p + 16] != 2:
            p += 1
            continue
        (length,) = struct.unpack_from(">i", frame, p + 8)
        end = p + 12 + length
        if length < 49 or end > n:
            p += 1
            continue
        (stored,) = struct.unpack_from(">I", frame, p + 17)
        (attrs,) = struct.unpack_from(">h", frame, p + 21)
        (count,) = struct.unpack_from(">i", frame, p + 57)
        crc_valid = crc32c(frame[p + 21:end]) == stored
        # librdkafka's mock cluster writes its transaction markers with a
        # zero CRC: accept an uncompressed one-record control batch so.
        if not crc_valid and not (stored == 0 and attrs & 0x27 == 0x20 and count == 1):
            p += 1
            continue
        (base_offset,) = struct.unpack_from(">q", frame, p)
        (producer_id,) = struct.unpack_from(">q", frame, p + 43)
        batch = {
            "frame_offset": p,
            "base_offset": base_offset,
            "batch_size": 12 + length,
            "attributes": attrs,
            "codec": CODECS.get(attrs & 7, f"codec{attrs & 7}"),
            "timestamp_type": "log_append" if attrs & 0x08 else "create",
            "transactional": bool(attrs & 0x10),
            "control": bool(attrs & 0x20),
            "producer_id": producer_id,
            "records_count": count,
            "crc_valid": crc_valid,
        }
        if attrs & 0x20:
            batch["control_type"] = control_type(frame, p)
        out.append(batch)
        p = end
    return out


def control_type(frame: bytes, p: int) -> int | None:
    """The type in the key of the first record of the uncompressed control
    batch at ``p`` (0 ABORT, 1 COMMIT), or None."""
    if frame[p + 22] & 7:
        return None
    q = p + 61
    _length, q = _varint(frame, q)
    q += 1  # attributes
    _ts_delta, q = _varint(frame, q)
    _offset_delta, q = _varint(frame, q)
    key_len, q = _varint(frame, q)
    if key_len < 4:
        return None
    return struct.unpack_from(">h", frame, q + 2)[0]


def _uvarint(d: bytes, p: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        b = d[p]
        p += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, p
        shift += 7


def _varint(d: bytes, p: int) -> tuple[int, int]:
    v, p = _uvarint(d, p)
    return (v >> 1) ^ -(v & 1), p


def batch_kinds(batches: list[dict]) -> set[tuple]:
    return {(b["codec"], b["transactional"], b["control"]) for b in batches}


# --------------------------------------------------------------------------
# Recording proxy
# --------------------------------------------------------------------------

@dataclass
class Frame:
    seq: int
    data: bytes  # without the size prefix


@dataclass
class Exchange:
    scenario: str
    conn: int
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    request: Frame
    response: Frame | None = None
    peer: str = "tansu"  # who answered; names the responses' folder


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq = 0
        self.exchanges: list[Exchange] = []
        self.unmatched_responses = 0

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq


def _frames(buf: bytearray) -> list[bytes]:
    out = []
    while len(buf) >= 4:
        (size,) = struct.unpack_from(">i", buf, 0)
        if size < 0 or len(buf) < 4 + size:
            break
        out.append(bytes(buf[4:4 + size]))
        del buf[:4 + size]
    return out


class RecordingProxy:
    """Listens on 127.0.0.1:<port>, forwards to 127.0.0.1:<upstream_port>."""

    def __init__(self, recorder: Recorder, upstream_port: int) -> None:
        self.recorder = recorder
        self.upstream_port = upstream_port
        self.scenario = "default"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conn_ids = 0
        self.open: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        for s in list(self.open):
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conn_ids += 1
            conn = self.conn_ids
            pending: deque[Exchange] = deque()
            plock = threading.Lock()
            self.open += [client, upstream]
            threading.Thread(
                target=self._pump, args=(client, upstream, conn, pending, plock, True),
                daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, conn, pending, plock, False),
                daemon=True).start()

    def _pump(self, src, dst, conn, pending, plock, is_request) -> None:
        buf = bytearray()
        scenario = self.scenario
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                buf += chunk
                # Register requests *before* forwarding them, so the response
                # can never overtake its pending entry.
                for data in _frames(buf):
                    if is_request:
                        self._on_request(conn, scenario, data, pending, plock)
                    else:
                        self._on_response(conn, data, pending, plock)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _on_request(self, conn, scenario, data, pending, plock) -> None:
        if len(data) < 8:
            return
        key, ver, corr = struct.unpack_from(">hhi", data, 0)
        client_id = None
        if len(data) >= 10:
            (cid_len,) = struct.unpack_from(">h", data, 8)
            if 0 <= cid_len <= len(data) - 10:
                client_id = data[10:10 + cid_len].decode("utf-8", "replace")
        ex = Exchange(scenario, conn, key, ver, corr, client_id,
                      Frame(self.recorder.next_seq(), data))
        with self.recorder.lock:
            self.recorder.exchanges.append(ex)
        with plock:
            pending.append(ex)
        if VERBOSE:
            log(f"conn {conn} -> {api_name(key)} v{ver} corr={corr} {len(data)}B")

    def _on_response(self, conn, data, pending, plock) -> None:
        if len(data) < 4:
            return
        (corr,) = struct.unpack_from(">i", data, 0)
        with plock:
            # Requests without a response (Produce acks=0) are skipped.
            while pending and pending[0].correlation_id != corr:
                pending.popleft()
            ex = pending.popleft() if pending else None
        if ex is None:
            with self.recorder.lock:
                self.recorder.unmatched_responses += 1
            return
        ex.response = Frame(self.recorder.next_seq(), data)
        if VERBOSE:
            log(f"conn {conn} <- {api_name(ex.api_key)} v{ex.api_version} "
                f"corr={corr} {len(data)}B")


# --------------------------------------------------------------------------
# Tansu broker
# --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"broker did not accept connections on port {port} in {timeout}s")


class Tansu:
    def __init__(self, binary: str, workdir: Path, advertised_port: int,
                 storage: str = "sqlite://tansu.db") -> None:
        self.binary = binary
        self.storage = storage
        self.workdir = workdir
        self.port = free_port()
        self.advertised_port = advertised_port
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "broker.log"

    def start(self, authentication: bool = False) -> None:
        cmd = [
            self.binary, "broker",
            "--listener-url", f"tcp://127.0.0.1:{self.port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{self.advertised_port}",
            "--storage-engine", self.storage,
        ]
        if authentication:
            cmd.append("--authentication")
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        try:
            wait_port(self.port)
        except RuntimeError:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"tansu did not start; log tail:\n{tail}") from None
        log(f"tansu broker pid {self.proc.pid} on :{self.port} "
            f"(advertising :{self.advertised_port}, auth={authentication})")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cli(self, *args: str) -> str:
        """Run a tansu CLI helper directly against the broker (not captured)."""
        cmd = [self.binary, *args]
        res = subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
        return res.stdout


def tansu_version(binary: str) -> str:
    res = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return res.stdout.strip() or "tansu (unknown version)"


def find_tansu(explicit: str | None) -> str:
    if explicit:
        return explicit
    found = shutil.which("tansu")
    if found:
        return found
    home = Path.home() / ".cargo" / "bin" / "tansu"
    if home.exists():
        return str(home)
    sys.exit("tansu not found: run .ci/install-deps "
             "(or: cargo install tansu --locked --features dynostore,libsql)")


# --------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------

CLIENT_ID = "fixture-capture"
TOPICS = {
    # name: partitions
    "fx-keyed": 3,
    "fx-gzip": 2,
    "fx-lz4": 2,
    "fx-zstd": 2,
    "fx-idem": 1,
    "fx-txn": 1,
}


PARTITIONS = {**TOPICS, "fx-snappy": 2}


class Steps:
    def __init__(self) -> None:
        self.ok: list[str] = []
        self.failed: list[str] = []

    def run(self, name: str, fn: Callable[[], object]) -> object:
        log(f"step: {name}")
        try:
            res = fn()
            self.ok.append(name)
            return res
        except Exception as exc:  # keep going: capture what works
            log(f"step {name} FAILED: {exc!r}")
            self.failed.append(f"{name}: {exc}")
            return None


def base_conf(bootstrap: str, **extra) -> dict:
    conf = {"bootstrap.servers": bootstrap, "client.id": CLIENT_ID,
            "broker.address.family": "v4"}
    conf.update(extra)
    return conf


def check_futures(futs: dict, timeout: float = 30) -> None:
    errors = []
    for key, fut in futs.items():
        try:
            fut.result(timeout=timeout)
        except Exception as exc:
            errors.append(f"{key}: {exc}")
    if errors:
        raise RuntimeError("; ".join(errors))


def value(i: int, tag: str) -> bytes:
    # compressible, deterministic payload
    return (f"{tag}-value-{i:05d} " + "lorem ipsum dolor sit amet " * 3).encode()


def produce(bootstrap: str, topic: str, messages: list[dict], **conf) -> None:
    errors = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(str(err))

    p = Producer(base_conf(bootstrap, **{"linger.ms": 50, **conf}))
    for m in messages:
        p.produce(topic, on_delivery=on_delivery, **m)
    remaining = p.flush(30)
    if remaining or errors:
        raise RuntimeError(f"produce to {topic}: {remaining} undelivered, errors {errors[:3]}")


def consume_all(bootstrap: str, topic: str, expected: int, group: str,
                timeout: float = 40) -> list:
    c = Consumer(base_conf(bootstrap, **{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "session.timeout.ms": 10000,
        "fetch.wait.max.ms": 100,
    }))
    got = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            got.append(msg)
        if got:
            c.commit(asynchronous=False)
            parts = [TopicPartition(topic, p) for p in range(PARTITIONS.get(topic, 1))]
            c.committed(parts, timeout=10)
            for tp in parts:
                c.get_watermark_offsets(tp, timeout=10, cached=False)
    finally:
        c.close()
    if len(got) != expected:
        raise RuntimeError(f"consumed {len(got)} of {expected} from {topic}")
    return got


def produce_codec(bootstrap: str, codec: str) -> None:
    msgs = []
    for i in range(30):
        m = {"key": f"{codec}-{i % 5}".encode(), "value": value(i, codec),
             "timestamp": BASE_TS + i, "partition": i % 2}
        if i % 10 == 0:
            m["headers"] = [("codec", codec.encode())]
        msgs.append(m)
    produce(bootstrap, f"fx-{codec}", msgs, **{"compression.type": codec})


def snappy_traffic(bootstrap: str, steps: Steps) -> None:
    """Tansu 0.6.0 with sqlite storage cannot serve snappy batches on Fetch
    (UnexpectedType("Snappy")); memory storage can."""
    admin = AdminClient(base_conf(bootstrap))
    steps.run("admin create_topics (snappy)", lambda: check_futures(admin.create_topics(
        [NewTopic("fx-snappy", num_partitions=2, replication_factor=1)])))
    steps.run("produce snappy", lambda: produce_codec(bootstrap, "snappy"))
    steps.run("consume fx-snappy (read_committed, commit)",
              lambda: consume_all(bootstrap, "fx-snappy", 30, "grp-fx-snappy"))


def plain_traffic(bootstrap: str, steps: Steps) -> None:
    admin = AdminClient(base_conf(bootstrap))

    def create_topics():
        futs = admin.create_topics(
            [NewTopic(t, num_partitions=n, replication_factor=1) for t, n in TOPICS.items()],
            operation_timeout=10)
        check_futures(futs)

    # Tansu 0.6.0 quirk: with sqlite storage, DeleteTopics deletes *every*
    # topic, so the scratch topic is created and deleted before the others.
    steps.run("admin create_topics (scratch)", lambda: check_futures(admin.create_topics(
        [NewTopic("fx-scratch", num_partitions=1, replication_factor=1)])))
    steps.run("admin delete_topics", lambda: check_futures(
        admin.delete_topics(["fx-scratch"], operation_timeout=10)))
    steps.run("admin create_topics", create_topics)
    steps.run("admin list_topics (metadata)", lambda: admin.list_topics(timeout=10))
    steps.run("admin describe_configs (topic)", lambda: check_futures(admin.describe_configs(
        [ConfigResource(ResourceType.TOPIC, "fx-keyed")])))

    def describe_broker_configs():
        # Tansu answers with an error for broker resources: an error response.
        try:
            check_futures(admin.describe_configs([ConfigResource(ResourceType.BROKER, "111")]))
        except RuntimeError as exc:
            log(f"describe_configs(broker) failed as expected on Tansu: {exc}")

    steps.run("admin describe_configs (broker)", describe_broker_configs)
    steps.run("admin describe_cluster",
              lambda: admin.describe_cluster(request_timeout=10).result(timeout=15))

    # keyed / null key / headers, no compression
    keyed = []
    for i in range(24):
        m = {"value": value(i, "keyed"), "timestamp": BASE_TS + i}
        if i % 4 == 3:
            m["partition"] = i % 3  # null key, explicit partition
        else:
            m["key"] = f"key-{i % 6}".encode()
        if i % 3 == 0:
            m["headers"] = [("trace", f"t{i}".encode()), ("empty", b""), ("nullv", None)]
        keyed.append(m)
    steps.run("produce none (keys, null keys, headers)",
              lambda: produce(bootstrap, "fx-keyed", keyed, **{"compression.type": "none"}))
    steps.run("produce none (null value)", lambda: produce(
        bootstrap, "fx-keyed",
        [{"key": b"tombstone", "value": None, "timestamp": BASE_TS + 100, "partition": 0}],
        **{"compression.type": "none"}))

    for codec in ("gzip", "lz4", "zstd"):
        steps.run(f"produce {codec}", lambda codec=codec: produce_codec(bootstrap, codec))

    idem = [{"key": f"idem-{i}".encode(), "value": value(i, "idem"), "timestamp": BASE_TS + i}
            for i in range(10)]
    steps.run("produce idempotent", lambda: produce(
        bootstrap, "fx-idem", idem, **{"enable.idempotence": True, "compression.type": "none"}))

    txn_expected = {"count": 0}

    def transactions():
        # Consume-transform-produce: InitProducerId, AddPartitionsToTxn,
        # transactional Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn.
        # Tansu 0.6.0 does not advertise EndTxn (26), so librdkafka refuses
        # commit/abort locally and no control batch is ever written; the
        # open transaction's records are then served even to read_committed.
        c = Consumer(base_conf(bootstrap, **{
            "group.id": "grp-eos", "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "isolation.level": "read_committed"}))
        p = Producer(base_conf(bootstrap, **{
            "transactional.id": "fx-txn-producer", "linger.ms": 20,
            "compression.type": "none"}))
        try:
            c.subscribe(["fx-idem"])
            got = []
            deadline = time.monotonic() + 30
            while len(got) < 10 and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    got.append(m)
            if not got:
                raise RuntimeError("nothing consumed from fx-idem")
            p.init_transactions(30)
            p.begin_transaction()
            for i in range(5):
                p.produce("fx-txn", key=f"commit-{i}".encode(), value=value(i, "committed"),
                          timestamp=BASE_TS + i)
            p.flush(30)
            txn_expected["count"] = 5
            p.send_offsets_to_transaction(c.position(c.assignment()),
                                          c.consumer_group_metadata(), 30)
            try:
                p.commit_transaction(15)
            except KafkaException as exc:
                log(f"commit_transaction failed (Tansu 0.6.0 has no EndTxn): {exc}")
                return
            # EndTxn works: one aborted and one more committed transaction.
            p.begin_transaction()
            for i in range(5):
                p.produce("fx-txn", key=f"abort-{i}".encode(), value=value(i, "aborted"),
                          timestamp=BASE_TS + 10 + i)
            p.flush(30)
            p.abort_transaction(30)
            p.begin_transaction()
            for i in range(3):
                p.produce("fx-txn", key=f"commit2-{i}".encode(), value=value(i, "committed2"),
                          timestamp=BASE_TS + 20 + i)
            p.commit_transaction(30)
            txn_expected["count"] = 8
        finally:
            c.close()

    steps.run("transactional producer (consume-transform-produce)", transactions)

    expected = {"fx-keyed": 25, "fx-gzip": 30, "fx-lz4": 30, "fx-zstd": 30, "fx-idem": 10,
                "fx-txn": txn_expected["count"]}
    for topic, n in expected.items():
        steps.run(f"consume {topic} (read_committed, commit)",
                  lambda topic=topic, n=n: consume_all(bootstrap, topic, n, f"grp-{topic}"))

    steps.run("admin list_offsets", lambda: check_futures(admin.list_offsets(
        {TopicPartition("fx-keyed", 0): OffsetSpec.latest(),
         TopicPartition("fx-keyed", 1): OffsetSpec.earliest(),
         TopicPartition("fx-gzip", 0): OffsetSpec.for_timestamp(BASE_TS + 5)})))
    steps.run("admin list_consumer_groups",
              lambda: admin.list_consumer_groups(request_timeout=10).result(timeout=15))
    def describe_groups():
        # librdkafka 2.16 tries ConsumerGroupDescribe (69) first; Tansu 0.6.0
        # advertises it but drops the connection: the request has no response.
        try:
            check_futures(admin.describe_consumer_groups(["grp-fx-keyed"], request_timeout=10))
        except RuntimeError as exc:
            log(f"describe_consumer_groups failed as seen on Tansu 0.6.0: {exc}")

    steps.run("admin describe_consumer_groups", describe_groups)
    steps.run("admin list_consumer_group_offsets", lambda: check_futures(
        admin.list_consumer_group_offsets(
            [confluent_kafka.ConsumerGroupTopicPartitions("grp-fx-gzip")])))


def sasl_traffic(tansu_bin: str, recorder: Recorder, workroot: Path, steps: Steps) -> None:
    workdir = workroot / "sasl"
    workdir.mkdir()
    proxy = None
    broker = None
    try:
        # The broker must know its advertised port before it starts, so the
        # proxy (which picks its own port) comes first.
        probe = free_port()
        proxy = RecordingProxy(recorder, probe)
        broker = Tansu(tansu_bin, workdir, proxy.port)
        proxy.upstream_port = broker.port
        proxy.scenario = "sasl-setup"
        broker.start()
        bootstrap = f"127.0.0.1:{proxy.port}"
        admin = AdminClient(base_conf(bootstrap))

        def create_users():
            # librdkafka's AlterUserScramCredentials (captured); the tansu CLI
            # is the fallback.
            futs = admin.alter_user_scram_credentials([
                UserScramCredentialUpsertion(
                    "alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192),
                    b"alice-secret", b"fixed-salt-0123456789"),
                UserScramCredentialUpsertion(
                    "bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                    b"bob-secret", b"fixed-salt-9876543210"),
            ])
            check_futures(futs)

        if steps.run("admin alter_user_scram_credentials", create_users) is None \
                and "admin alter_user_scram_credentials" not in steps.ok:
            broker.cli("user", "create", "--broker", f"tcp://127.0.0.1:{broker.port}",
                       "--mechanism", "scram256", "alice", "alice-secret")
            broker.cli("user", "create", "--broker", f"tcp://127.0.0.1:{broker.port}",
                       "--mechanism", "scram512", "bob", "bob-secret")
        steps.run("create sasl topic", lambda: check_futures(admin.create_topics(
            [NewTopic("fx-sasl", num_partitions=1, replication_factor=1)])))
        admin = None  # destroy the client before the restart
        broker.stop()
        broker.start(authentication=True)

        def sasl_conf(user, password, mech):
            return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mech,
                    "sasl.username": user, "sasl.password": password}

        proxy.scenario = "sasl-scram-sha-256"
        steps.run("SCRAM-SHA-256 produce", lambda: produce(
            bootstrap, "fx-sasl",
            [{"key": b"k", "value": b"authenticated", "timestamp": BASE_TS}],
            **sasl_conf("alice", "alice-secret", "SCRAM-SHA-256")))
        proxy.scenario = "sasl-scram-sha-512"
        steps.run("SCRAM-SHA-512 metadata", lambda: AdminClient(base_conf(
            bootstrap, **sasl_conf("bob", "bob-secret", "SCRAM-SHA-512"))).list_topics(timeout=10))

        proxy.scenario = "sasl-wrong-password"

        def wrong_password():
            a = AdminClient(base_conf(bootstrap, log_level=0, **sasl_conf(
                "alice", "wrong-password", "SCRAM-SHA-256")))
            try:
                a.list_topics(timeout=3)
            except KafkaException:
                return  # expected: authentication failure
            raise RuntimeError("wrong password was accepted")

        steps.run("SCRAM-SHA-256 wrong password", wrong_password)
        time.sleep(0.5)
    finally:
        if broker:
            broker.stop()
        if proxy:
            proxy.close()


# --------------------------------------------------------------------------
# librdkafka mock cluster: transaction markers (tshark capture)
# --------------------------------------------------------------------------

MOCK_TOPIC = "fx-mock-txn"
MOCK_SCENARIO = "mock-transactions"
MOCK_PEER = "librdkafka-mock"


def tshark_bin() -> str | None:
    return shutil.which("tshark")


class Tshark:
    """``tshark -i lo -f "tcp port PORT" -w FILE`` for the life of the block."""

    def __init__(self, binary: str, port: int, pcap: Path) -> None:
        self.binary = binary
        self.port = port
        self.pcap = pcap
        self.proc: subprocess.Popen | None = None
        self.err_path = pcap.with_suffix(".stderr")

    def __enter__(self) -> "Tshark":
        errf = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "-i", "lo", "-f", f"tcp port {self.port}", "-w", str(self.pcap)],
            stdout=subprocess.DEVNULL, stderr=errf, stdin=subprocess.DEVNULL)
        errf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if b"Capturing on" in self.err_path.read_bytes():
                time.sleep(0.3)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self._stop()
        raise RuntimeError("tshark did not start capturing: "
                           + self.err_path.read_text(errors="replace")[-1000:])

    def __exit__(self, *exc) -> None:
        time.sleep(0.5)  # let the last packets reach the capture file
        self._stop()

    def _stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def pcap_streams(binary: str, pcap: Path, port: int) -> dict[tuple[int, bool], bytes]:
    """Each TCP stream's payload bytes per direction, in sequence order.

    Key: (tcp.stream, is_request), a request being sent *to* ``port``.
    Retransmitted segments are dropped; a gap raises.
    """
    res = subprocess.run(
        [binary, "-r", str(pcap), "-Y", "tcp.len > 0", "-T", "fields",
         "-e", "tcp.stream", "-e", "tcp.dstport", "-e", "tcp.seq_raw", "-e", "tcp.payload"],
        capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"tshark -r failed: {res.stderr.strip()}")
    segs: dict[tuple[int, bool], dict[int, bytes]] = {}
    for line in res.stdout.splitlines():
        stream, dport, seq, payload = line.split("\t")
        data = bytes.fromhex(payload.replace(":", ""))
        segs.setdefault((int(stream), int(dport) == port), {}).setdefault(int(seq), data)
    out = {}
    for key, by_seq in segs.items():
        first = min(by_seq)  # no wrap-around in a capture this short
        buf = bytearray()
        for seq in sorted(by_seq):
            at = (seq - first) % (1 << 32)
            data = by_seq[seq]
            if at > len(buf):
                raise RuntimeError(f"tcp stream {key[0]}: {at - len(buf)} bytes missing")
            buf += data[len(buf) - at:]  # tolerate overlapping retransmits
        out[key] = bytes(buf)
    return out


def pcap_exchanges(streams: dict[tuple[int, bool], bytes], recorder: Recorder,
                   scenario: str) -> list[Exchange]:
    """Splits the streams into frames and pairs them like the proxy does."""
    exchanges = []
    for stream in sorted({s for s, _ in streams}):
        pending: deque[Exchange] = deque()
        for data in _frames(bytearray(streams.get((stream, True), b""))):
            if len(data) < 8:
                continue
            key, ver, corr = struct.unpack_from(">hhi", data, 0)
            client_id = None
            if len(data) >= 10:
                (cid_len,) = struct.unpack_from(">h", data, 8)
                if 0 <= cid_len <= len(data) - 10:
                    client_id = data[10:10 + cid_len].decode("utf-8", "replace")
            ex = Exchange(scenario, stream, key, ver, corr, client_id,
                          Frame(recorder.next_seq(), data), peer=MOCK_PEER)
            pending.append(ex)
            exchanges.append(ex)
        for data in _frames(bytearray(streams.get((stream, False), b""))):
            if len(data) < 4:
                continue
            (corr,) = struct.unpack_from(">i", data, 0)
            while pending and pending[0].correlation_id != corr:
                pending.popleft()
            if pending:
                pending.popleft().response = Frame(recorder.next_seq(), data)
    return exchanges


def fetch_isolation_level(e: Exchange) -> int | None:
    """READ_UNCOMMITTED (0) or READ_COMMITTED (1) from a Fetch v4+ request."""
    d = e.request.data
    if e.api_key != 1 or e.api_version < 4:
        return None
    try:
        return _fetch_isolation_level(e, d)
    except (IndexError, struct.error):
        return None


def _fetch_isolation_level(e: Exchange, d: bytes) -> int:
    p = 8
    (cid_len,) = struct.unpack_from(">h", d, p)
    p += 2 + max(cid_len, 0)
    if e.api_version >= 12:  # request header v2: tagged fields
        p = _skip_tagged(d, p)
    if e.api_version <= 14:
        p += 4  # ReplicaId
    p += 12  # MaxWaitMs, MinBytes, MaxBytes
    return d[p]


def _skip_tagged(d: bytes, p: int) -> int:
    n, p = _uvarint(d, p)
    for _ in range(n):
        _tag, p = _uvarint(d, p)
        size, p = _uvarint(d, p)
        p += size
    return p


def mock_traffic(workroot: Path, recorder: Recorder, steps: Steps) -> tuple[list[Exchange], str]:
    """One committed and one aborted transaction on librdkafka's mock
    cluster, then read_committed and read_uncommitted consumers fetching the
    partition from offset 0, captured with tshark on loopback.

    The mock is no proxy target (a client with ``test.mock.num.brokers``
    runs it in-process and ignores ``bootstrap.servers``), so its traffic is
    captured off the wire.  Needs tshark and the rights to capture on lo.
    """
    tshark = tshark_bin()
    if tshark is None:
        raise RuntimeError("tshark not found (Debian package tshark)")
    mock_version = f"librdkafka {confluent_kafka.libversion()[0]} mock cluster"
    # The producer owns the mock cluster: it lives as long as this client.
    p = Producer({"test.mock.num.brokers": 1, "client.id": f"{CLIENT_ID}-txn",
                  "transactional.id": "fx-mock-txn-producer", "linger.ms": 5,
                  "compression.type": "none", "log_level": 4})
    try:
        brokers = p.list_topics(timeout=10).brokers
        if len(brokers) != 1:
            raise RuntimeError(f"expected one mock broker, got {brokers}")
        broker = next(iter(brokers.values()))
        bootstrap = f"{broker.host}:{broker.port}"
        log(f"librdkafka mock broker on {bootstrap}")
        pcap = workroot / "mock.pcap"
        with Tshark(tshark, broker.port, pcap):
            p.init_transactions(30)
            p.begin_transaction()
            for i in range(3):
                p.produce(MOCK_TOPIC, partition=0, key=f"commit-{i}".encode(),
                          value=value(i, "committed"), timestamp=BASE_TS + i)
            p.flush(30)
            p.commit_transaction(30)
            p.begin_transaction()
            for i in range(2):
                p.produce(MOCK_TOPIC, partition=0, key=f"abort-{i}".encode(),
                          value=value(i, "aborted"), timestamp=BASE_TS + 10 + i)
            p.flush(30)
            p.abort_transaction(30)
            for iso in ("read_committed", "read_uncommitted"):
                steps.run(f"mock consume {MOCK_TOPIC} ({iso})",
                          lambda iso=iso: mock_consume(bootstrap, iso))
        streams = pcap_streams(tshark, pcap, broker.port)
    finally:
        p = None
    exchanges = pcap_exchanges(streams, recorder, MOCK_SCENARIO)
    log(f"mock: {len(exchanges)} exchanges on {len({e.conn for e in exchanges})} connections")
    return exchanges, mock_version


def mock_consume(bootstrap: str, isolation: str) -> None:
    c = Consumer(base_conf(bootstrap, **{
        "group.id": f"grp-mock-{isolation}", "enable.auto.commit": False,
        "isolation.level": isolation, "enable.partition.eof": True,
        "fetch.wait.max.ms": 100}))
    got = []
    try:
        c.assign([TopicPartition(MOCK_TOPIC, 0, 0)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    break
                raise KafkaException(msg.error())
            got.append((msg.offset(), msg.key().decode()))
    finally:
        c.close()
    log(f"mock {isolation} consumer got {got}")
    if not got:
        raise RuntimeError(f"nothing consumed from the mock ({isolation})")


def select_mock(exchanges: list[Exchange]) -> list[Exchange]:
    """The consumers' Fetch exchanges whose response holds a transaction
    marker: the first for each marker type (read_committed runs first)."""
    chosen = []
    seen: set[int] = set()
    for e in exchanges:
        if e.api_key != 1 or e.response is None or e.client_id != CLIENT_ID:
            continue
        types = {b.get("control_type") for b in frame_batches(e.response, 1)
                 if b["control"]} - {None}
        if types - seen:
            seen |= types
            chosen.append(e)
    return chosen


# --------------------------------------------------------------------------
# Selection and output
# --------------------------------------------------------------------------

def select(exchanges: list[Exchange]) -> list[Exchange]:
    exchanges = [e for e in exchanges if e.client_id == CLIENT_ID]
    by_version: dict[tuple[int, int], list[Exchange]] = {}
    for e in exchanges:
        by_version.setdefault((e.api_key, e.api_version), []).append(e)

    def size_ok(e: Exchange) -> bool:
        return (len(e.request.data) <= MAX_FRAME_BYTES
                and (e.response is None or len(e.response.data) <= MAX_FRAME_BYTES))

    chosen: dict[int, Exchange] = {}
    for (key, _ver), group in sorted(by_version.items()):
        group = [e for e in group if size_ok(e)]
        if not group:
            continue
        answered = [e for e in group if e.response is not None] or group
        picks = [answered[0],
                 max(answered, key=lambda e: len(e.request.data)),
                 max(answered, key=lambda e: len(e.response.data) if e.response else 0)]
        # Distinct error codes / scenarios are interesting too (e.g. SASL failure):
        seen_scen = {answered[0].scenario}
        for e in answered:
            if e.scenario not in seen_scen:
                seen_scen.add(e.scenario)
                picks.append(e)
        picks_unique = []
        for e in picks:
            if e not in picks_unique:
                picks_unique.append(e)
        for e in picks_unique[:MAX_PER_VERSION + 2]:
            chosen[e.request.seq] = e
        # SASL: the whole exchange of one connection per scenario (SCRAM's
        # client-first and client-final, and the failing final step).
        if key in WHOLE_CONVERSATION:
            first_conn: dict[str, int] = {}
            for e in answered:
                if first_conn.setdefault(e.scenario, e.conn) == e.conn:
                    chosen[e.request.seq] = e
        # Record-bearing frames: one exchange per new batch kind, smallest first.
        if key in (0, 1):
            covered: set[tuple] = set()
            for e in chosen.values():
                if (e.api_key, e.api_version) == (key, _ver):
                    covered |= e_kinds(e)
            for e in sorted(answered, key=lambda e: (len(records_frame(e)), e.request.seq)):
                kinds = e_kinds(e)
                if kinds - covered:
                    covered |= kinds
                    chosen[e.request.seq] = e
    return [chosen[s] for s in sorted(chosen)]


_batch_cache: dict[int, list[dict]] = {}


def records_frame(e: Exchange) -> bytes:
    if e.api_key == 0:
        return e.request.data
    if e.api_key == 1 and e.response is not None:
        return e.response.data
    return b""


def frame_batches(f: Frame, api_key: int) -> list[dict]:
    if api_key not in (0, 1):
        return []
    if f.seq not in _batch_cache:
        _batch_cache[f.seq] = scan_batches(f.data)
    return _batch_cache[f.seq]


def e_kinds(e: Exchange) -> set[tuple]:
    if e.api_key == 0:
        return batch_kinds(frame_batches(e.request, 0))
    if e.api_key == 1 and e.response is not None:
        return batch_kinds(frame_batches(e.response, 1))
    return set()


def write_fixtures(out: Path, chosen: list[Exchange], client_version: str,
                   brokers: dict[str, str], steps: Steps) -> dict:
    """``brokers``: peer name (the responses' folder) -> its version."""
    req_dir = out / "librdkafka"
    for d in [req_dir] + [out / peer for peer in brokers]:
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.bin"):
            old.unlink()
    files = []
    for n, e in enumerate(chosen, start=1):
        base = f"{n:03d}_{api_name(e.api_key)}_v{e.api_version}"
        sides = [("request", req_dir, e.request)]
        if e.response is not None:
            sides.append(("response", out / e.peer, e.response))
        for direction, d, frame in sides:
            path = d / f"{base}_{direction}.bin"
            path.write_bytes(frame.data)
            entry = {
                "path": str(path.relative_to(out)),
                "exchange": n,
                "direction": direction,
                "peer": "librdkafka" if direction == "request" else e.peer,
                "api_key": e.api_key,
                "api_name": api_name(e.api_key),
                "api_version": e.api_version,
                "correlation_id": e.correlation_id,
                "client_id": e.client_id,
                "scenario": e.scenario,
                "size": len(frame.data),
                "sha256": hashlib.sha256(frame.data).hexdigest(),
                "client": client_version,
                "broker": brokers[e.peer],
            }
            batches = frame_batches(frame, e.api_key) if (
                (e.api_key == 0 and direction == "request")
                or (e.api_key == 1 and direction == "response")) else []
            if batches:
                entry["batches"] = batches
            if e.api_key == 1:
                iso = fetch_isolation_level(e)
                if iso is not None:
                    entry["isolation_level"] = ("read_committed" if iso == 1
                                                else "read_uncommitted")
            files.append(entry)
    description = ("Kafka frames captured between librdkafka and Tansu by "
                   "scripts/capture-fixtures.py; each .bin is one frame without "
                   "its 4-byte size prefix (request header + body, or "
                   "response header + body).")
    if MOCK_PEER in brokers:
        description += (
            f" Scenario {MOCK_SCENARIO!r} comes from librdkafka's mock cluster "
            f"({brokers[MOCK_PEER]}, a client with test.mock.num.brokers=1), not "
            "from Tansu, which has no EndTxn: a transactional producer commits one "
            "transaction and aborts the next, then read_committed and "
            "read_uncommitted consumers fetch the partition from offset 0; the "
            "consumers' traffic was captured with tshark on loopback. Its "
            f"responses are in {MOCK_PEER}/ (peer {MOCK_PEER!r}): the Fetch "
            "responses holding the COMMIT and the ABORT marker. The mock writes "
            "markers with a zero CRC (batches[].crc_valid = false) and answers "
            "read_committed fetches with an empty AbortedTransactions list.")
    manifest = {
        "description": description,
        "client": client_version,
        "broker": brokers["tansu"],
        "brokers": brokers,
        "steps_failed": steps.failed,
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def summarize(manifest: dict) -> None:
    counts: dict[tuple, int] = {}
    kinds: set[tuple] = set()
    total = 0
    for f in manifest["files"]:
        k = (f["api_key"], f["api_name"], f["api_version"], f["direction"])
        counts[k] = counts.get(k, 0) + 1
        total += f["size"]
        for b in f.get("batches", []):
            kinds.add((f["api_name"], f["direction"], b["codec"], b["transactional"],
                       b["control"]))
    for k in sorted(counts):
        log(f"  {k[1]:<32} v{k[2]:<3} {k[3]:<9} x{counts[k]}")
    for k in sorted(kinds):
        log(f"  batches: {k[0]} {k[1]} codec={k[2]} transactional={k[3]} control={k[4]}")
    log(f"{len(manifest['files'])} files, {total} bytes")


def transcode_traffic(tansu_bin: str, workroot: Path, steps: Steps) -> dict[str, list[bytes]]:
    """The batches librdkafka writes for transcode_fixtures.log_records, per
    codec: one idempotent producer per batch, captured off the wire."""
    import transcode_fixtures

    recorder = Recorder()
    d = workroot / "transcode"
    d.mkdir()
    proxy = RecordingProxy(recorder, 0)
    broker = Tansu(tansu_bin, d, proxy.port)
    proxy.upstream_port = broker.port
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
    try:
        broker.start()
        bootstrap = f"127.0.0.1:{proxy.port}"
        admin = AdminClient(base_conf(bootstrap))
        check_futures(admin.create_topics(
            [NewTopic(f"compact-{c}", num_partitions=1, replication_factor=1) for c in codecs]))
        for codec in codecs:
            ts = BASE_TS
            for n, batch in enumerate(transcode_fixtures.log_records(codec)):
                proxy.scenario = f"transcode-{codec}-{n}"
                msgs = []
                for key, val, headers in batch:
                    m = {"key": key.encode(), "value": val, "timestamp": ts, "partition": 0}
                    if headers:
                        m["headers"] = headers
                    msgs.append(m)
                    ts += 1
                produce(bootstrap, f"compact-{codec}", msgs, **{
                    "compression.type": codec, "enable.idempotence": True,
                    "linger.ms": 200, "batch.num.messages": 1000})
        time.sleep(0.3)
    finally:
        broker.stop()
        proxy.close()
    out: dict[str, list[bytes]] = {c: [] for c in codecs}
    with recorder.lock:
        exchanges = list(recorder.exchanges)
    for ex in exchanges:
        if ex.api_key != 0 or not ex.scenario.startswith("transcode-"):
            continue
        codec = ex.scenario.split("-")[1]
        for b in scan_batches(ex.request.data):
            out[codec].append(ex.request.data[b["frame_offset"]:b["frame_offset"] + b["batch_size"]])
    for codec, batches in out.items():
        if len(batches) != 4:
            raise RuntimeError(f"librdkafka wrote {len(batches)} {codec} batches, not 4 "
                               "(one per producer); retry, or raise linger.ms")
    return out


def main() -> int:
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--tansu", help="path to the tansu binary")
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--no-sasl", action="store_true")
    ap.add_argument("--no-mock", action="store_true",
                    help="skip the librdkafka mock cluster scenario (needs tshark)")
    ap.add_argument("--transcode", action="store_true",
                    help="write only the re-encode and up-convert fixtures (<out>/transcode)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose
    if args.transcode:
        return transcode_main(args)

    tansu_bin = find_tansu(args.tansu)
    broker_version = tansu_version(tansu_bin)
    client_version = (f"librdkafka {confluent_kafka.libversion()[0]} "
                      f"(confluent-kafka {importlib.metadata.version('confluent-kafka')})")
    log(f"client: {client_version}; broker: {broker_version}")

    workroot = Path(tempfile.mkdtemp(prefix="capture-fixtures-"))
    recorder = Recorder()
    steps = Steps()
    brokers = {"tansu": broker_version}
    mock_exchanges: list[Exchange] = []
    proxy = None
    broker = None
    try:
        plain_dir = workroot / "plain"
        plain_dir.mkdir()
        proxy = RecordingProxy(recorder, 0)
        broker = Tansu(tansu_bin, plain_dir, proxy.port)
        proxy.upstream_port = broker.port
        proxy.scenario = "plain"
        broker.start()
        plain_traffic(f"127.0.0.1:{proxy.port}", steps)
        time.sleep(0.5)
        broker.stop()
        proxy.close()
        broker = proxy = None

        mem_dir = workroot / "memory"
        mem_dir.mkdir()
        proxy = RecordingProxy(recorder, 0)
        broker = Tansu(tansu_bin, mem_dir, proxy.port, storage="memory://tansu/")
        proxy.upstream_port = broker.port
        proxy.scenario = "memory-snappy"
        broker.start()
        snappy_traffic(f"127.0.0.1:{proxy.port}", steps)
        time.sleep(0.5)
        broker.stop()
        proxy.close()
        broker = proxy = None
        if not args.no_sasl:
            sasl_traffic(tansu_bin, recorder, workroot, steps)
        if not args.no_mock:
            mock = steps.run("librdkafka mock cluster transactions (tshark)",
                             lambda: mock_traffic(workroot, recorder, steps))
            if mock:
                mock_exchanges, brokers[MOCK_PEER] = mock
    finally:
        if broker:
            broker.stop()
        if proxy:
            proxy.close()
        if args.keep_tmp:
            log(f"kept temp dir {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    with recorder.lock:
        exchanges = list(recorder.exchanges)
    log(f"captured {len(exchanges)} exchanges "
        f"({recorder.unmatched_responses} unmatched responses)")
    chosen = select(exchanges)
    mock_chosen = select_mock(mock_exchanges)
    if mock_exchanges and not mock_chosen:
        steps.failed.append("librdkafka mock: no Fetch response held a transaction marker")
    manifest = write_fixtures(args.out, chosen + mock_chosen, client_version, brokers, steps)
    summarize(manifest)
    if steps.failed:
        log("steps that failed (their frames may be missing):")
        for f in steps.failed:
            log(f"  - {f}")
    return 0


def transcode_main(args) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import transcode_fixtures
    except ImportError as exc:
        sys.exit(f"{exc}: run .ci/install-deps venv (kafka-python, lz4, xxhash, python-snappy, zstandard)")
    tansu_bin = find_tansu(args.tansu)
    client_version = (f"librdkafka {confluent_kafka.libversion()[0]} "
                      f"(confluent-kafka {importlib.metadata.version('confluent-kafka')})")
    workroot = Path(tempfile.mkdtemp(prefix="capture-transcode-"))
    try:
        batches = transcode_traffic(tansu_bin, workroot, Steps())
    finally:
        if args.keep_tmp:
            log(f"kept temp dir {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)
    manifest = transcode_fixtures.derive(args.out / "transcode", batches, client_version)
    log(f"wrote {len(manifest['compacted'])} compacted and {len(manifest['legacy'])} legacy "
        f"fixtures under {args.out / 'transcode'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
