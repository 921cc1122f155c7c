"""Fixtures for re-encoding and up-conversion, from encoders no one here wrote.

Used by ``scripts/capture-fixtures.py`` (``--transcode``), which hands over
the record batches librdkafka produced; everything else here is done with
kafka-python (PyPI ``kafka-python``), an independent encoder and decoder:

1. Compacted batches, made as Apache Kafka's log cleaner makes them
   (``MemoryRecords.filterTo``) from the batches librdkafka wrote:

   - A record survives when its offset is the latest of its key in the
     partition's log.
   - A batch keeps its base offset, leader epoch, producer id, epoch, base
     sequence, transactional flag and ``lastOffsetDelta``; its survivors keep
     their offsets, and are compressed again with the batch's codec.
   - A batch whose survivors hold a tombstone gets a delete horizon: the
     attribute bit, and the horizon as base timestamp (the record timestamps
     stay, as deltas from it).
   - A batch left without records is kept (as a header alone, uncompressed,
     both timestamps the old max timestamp) when it holds its producer's
     last sequence; every batch here has a producer of its own, so every
     emptied batch is kept.
   - A batch every record of which survives, without a tombstone, is kept as
     it was.

2. Magic 0 and 1 message sets from kafka-python's legacy record builder
   (``kafka.record.legacy_records``), plain and in gzip, snappy and lz4
   wrappers (magic-0 lz4 with the pre-0.10 header checksum, KAFKA-3160),
   with the fields a broker sets on append: absolute offsets, a wrapper's
   offset and timestamp (CreateTime: its last message's; LogAppendTime: the
   append time, with the attribute bit).

Expectations are what kafka-python's decoders read from each fixture:
offsets, timestamps, keys, values and headers, in order.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatch, LegacyRecordBatchBuilder
from kafka.record.util import calc_crc32, calc_crc32c

HEADER = DefaultRecordBatch.HEADER_STRUCT
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
DELETE_HORIZON_BIT = 0x40
TIMESTAMP_TYPE_BIT = 0x08
# The cleaner's horizon: cleaning time plus delete.retention.ms (a day).
CLEANED_AT = 1_700_000_100_000
DELETE_RETENTION_MS = 86_400_000
LEADER_EPOCH = 3
BASE_TS = 1_700_000_000_000
# Where a legacy log's appends happened (LogAppendTime wrappers).
APPEND_TS = 1_600_000_123_456


def log_records(codec: str) -> list[list[tuple]]:
    """The records of the batches librdkafka writes for one codec's
    partition, one list per batch (each from a producer of its own):
    (key, value, headers). Values repeat text so every codec compresses.

    Batch A: k0..k11. B overwrites k1, k4, k7, k11. C overwrites B's keys,
    adds a tombstone for k12 and k13. D overwrites k13 and adds k14.
    After cleaning: A has holes (1, 4, 7, 11), B is empty, C has a hole at
    its end and a tombstone, D is whole.
    """
    def value(key: str, gen: int) -> bytes:
        return f"{codec}-{key}-gen{gen} ".encode() * 12

    def headers(i: int) -> list:
        return [("trace", f"t{i}".encode()), ("empty", b""), ("nullv", None)] if i % 3 == 0 else []

    a = [(f"k{i}", value(f"k{i}", 0), headers(i)) for i in range(12)]
    b = [(k, value(k, 1), headers(n)) for n, k in enumerate(["k1", "k4", "k7", "k11"])]
    c = [(k, value(k, 2), headers(n + 1)) for n, k in enumerate(["k1", "k4", "k7", "k11"])]
    c += [("k12", None, [("why", b"deleted")]), ("k13", value("k13", 2), [])]
    d = [("k13", value("k13", 3), headers(0)), ("k14", value("k14", 3), [])]
    return [a, b, c, d]


def decode_v2(batch: bytes) -> dict:
    """A v2 batch's header fields and records, as kafka-python reads them."""
    b = DefaultRecordBatch(bytearray(batch))
    crc_valid = b.validate_crc()
    fields = HEADER.unpack_from(batch, 0)
    records = []
    if b.records_count > 0:
        for r in b:
            records.append(record_json(r.offset, r.timestamp, r.key, r.value, r.headers))
    return {
        "base_offset": fields[0],
        "partition_leader_epoch": fields[2],
        "attributes": fields[5],
        "last_offset_delta": fields[6],
        "base_timestamp": fields[7],
        "max_timestamp": fields[8],
        "producer_id": fields[9],
        "producer_epoch": fields[10],
        "base_sequence": fields[11],
        "records_count": fields[12],
        "crc_valid": crc_valid,
        "records": records,
    }


def record_json(offset, timestamp, key, value, headers) -> dict:
    hexed = lambda b: None if b is None else bytes(b).hex()
    return {
        "offset": offset,
        "timestamp": timestamp,
        "key": hexed(key),
        "value": hexed(value),
        "headers": [[k, hexed(v)] for k, v in (headers or [])],
    }


def with_crc(buf: bytearray) -> bytes:
    crc = calc_crc32c(memoryview(buf)[DefaultRecordBatch.ATTRIBUTES_OFFSET:])
    struct.pack_into(">I", buf, DefaultRecordBatch.CRC_OFFSET, crc)
    return bytes(buf)


def as_stored(batch: bytes, base_offset: int) -> bytes:
    """A produced batch as the broker stores it: offsets and leader epoch
    set (neither is under the CRC)."""
    buf = bytearray(batch)
    struct.pack_into(">q", buf, 0, base_offset)
    struct.pack_into(">i", buf, 12, LEADER_EPOCH)
    return bytes(buf)


def clean(log: list[bytes]) -> list[bytes]:
    """Kafka's cleaner over one partition's stored batches."""
    latest: dict[bytes, int] = {}
    for batch in log:
        for r in DefaultRecordBatch(bytearray(batch)):
            latest[bytes(r.key)] = r.offset
    out = []
    for batch in log:
        src = DefaultRecordBatch(bytearray(batch))
        fields = list(HEADER.unpack_from(batch, 0))
        records = list(src)
        kept = [r for r in records if latest[bytes(r.key)] == r.offset]
        tombstones = any(r.value is None for r in kept)
        if not kept:
            # DefaultRecordBatch.writeEmptyHeader: no codec, max timestamp twice.
            attrs = fields[5] & ~0x07
            buf = bytearray(HEADER.size)
            HEADER.pack_into(
                buf, 0, fields[0], HEADER.size - 12, fields[2], 2, 0, attrs, fields[6],
                fields[8], fields[8], fields[9], fields[10], fields[11], 0)
            out.append(with_crc(buf))
            continue
        if len(kept) == len(records) and not tombstones:
            out.append(batch)
            continue
        builder = DefaultRecordBatchBuilder(
            2, fields[5] & 0x07, bool(fields[5] & 0x10), fields[9], fields[10], fields[11],
            1 << 30)
        horizon = tombstones and not fields[5] & DELETE_HORIZON_BIT
        if horizon:
            # Deltas from the horizon, as Kafka's builder writes them.
            builder._first_timestamp = CLEANED_AT + DELETE_RETENTION_MS
            builder._max_timestamp = -1
        for r in kept:
            builder.append(r.offset - fields[0], r.timestamp, r.key, r.value, r.headers)
        buf = bytearray(builder.build())
        rebuilt = list(HEADER.unpack_from(buf, 0))
        if rebuilt[5] & 0x07 != fields[5] & 0x07:
            raise RuntimeError("kafka-python dropped the codec (it did not compress); "
                               "use more compressible values")
        rebuilt[0] = fields[0]
        rebuilt[2] = fields[2]
        rebuilt[5] |= DELETE_HORIZON_BIT if horizon else 0
        rebuilt[6] = fields[6]  # the cleaner keeps lastOffsetDelta
        HEADER.pack_into(buf, 0, *rebuilt)
        out.append(with_crc(buf))
    return out


def legacy_entry(magic: int, codec: int, messages: list[tuple], first_offset: int,
                 log_append_time: bool = False) -> bytes:
    """One legacy entry as a broker stores it: uncompressed messages each at
    its own absolute offset, or one wrapper. `messages`: (timestamp, key,
    value)."""
    builder = LegacyRecordBatchBuilder(magic, codec, 1 << 30)
    for i, (ts, key, value) in enumerate(messages):
        # Magic 1 wrappers hold relative offsets, magic 0 absolute ones.
        offset = i if (codec and magic == 1) else first_offset + i
        builder.append(offset, ts, key, value)
    buf = bytearray(builder.build())
    if not codec:
        return bytes(buf)
    last = first_offset + len(messages) - 1
    struct.pack_into(">q", buf, 0, last)
    if magic == 1:
        # The broker's wrapper timestamp, under the CRC (magic onwards).
        attrs = buf[17] | (TIMESTAMP_TYPE_BIT if log_append_time else 0)
        buf[17] = attrs
        ts = APPEND_TS if log_append_time else max(m[0] for m in messages)
        struct.pack_into(">q", buf, 18, ts)
        struct.pack_into(">I", buf, 12, calc_crc32(memoryview(buf)[16:]))
    return bytes(buf)


def decode_legacy(blob: bytes) -> list[dict]:
    """Every message of a legacy message set, as kafka-python reads it."""
    out = []
    pos = 0
    while pos < len(blob):
        (size,) = struct.unpack_from(">i", blob, pos + 8)
        entry = blob[pos:pos + 12 + size]
        magic = entry[16]
        for r in LegacyRecordBatch(bytearray(entry), magic):
            if not r.validate_crc():
                raise RuntimeError(f"kafka-python finds a bad CRC at offset {r.offset}")
            out.append(record_json(r.offset, r.timestamp, r.key, r.value, []))
        pos += 12 + size
    return out


def legacy_sets() -> dict[str, bytes]:
    """Named legacy message sets, each a little log of its own."""
    def msgs(tag: str, n: int, magic: int) -> list[tuple]:
        out = []
        for i in range(n):
            key = None if i % 4 == 3 else f"{tag}-k{i}".encode()
            value = None if i % 5 == 4 else f"{tag}-value-{i} ".encode() * 8
            out.append((BASE_TS + 10 * i if magic else None, key, value))
        return out

    sets = {}
    for magic in (0, 1):
        plain = b"".join(
            legacy_entry(magic, 0, [m], 100 + i) for i, m in enumerate(msgs(f"m{magic}-plain", 6, magic)))
        sets[f"magic{magic}-plain"] = plain
        for name, codec in (("gzip", 1), ("snappy", 2), ("lz4", 3)):
            tag = f"m{magic}-{name}"
            sets[f"magic{magic}-{name}"] = (
                legacy_entry(magic, codec, msgs(tag, 7, magic), 200)
                + legacy_entry(magic, codec, msgs(tag + "-b", 3, magic), 207))
    # A LogAppendTime wrapper, then a plain message with holes in the offsets
    # (a compacted legacy log).
    sets["magic1-lz4-log-append-time"] = (
        legacy_entry(1, 3, msgs("lat", 5, 1), 300, log_append_time=True)
        + legacy_entry(1, 0, msgs("after", 1, 1), 310))
    # A log whose format was upgraded: magic 0 then magic 1, mixed codecs.
    sets["mixed-log"] = (
        legacy_entry(0, 0, msgs("old", 2, 0)[:1], 0)
        + legacy_entry(0, 1, msgs("old-gz", 3, 0), 1)
        + legacy_entry(1, 0, msgs("new", 1, 1), 4)
        + legacy_entry(1, 2, msgs("new-snappy", 4, 1), 5))
    return sets


def derive(out: Path, librdkafka: dict[str, list[bytes]], client: str) -> dict:
    """Writes the fixtures under `out` and returns their manifest.

    `librdkafka` maps a codec name to the batches librdkafka produced for it
    (as in its Produce requests), one per producer, in order."""
    import importlib.metadata

    for sub in ("compacted", "legacy"):
        d = out / sub
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.bin"):
            old.unlink()
    manifest = {
        "description": (
            "Written by scripts/capture-fixtures.py --transcode "
            "(scripts/transcode_fixtures.py); records as kafka-python decodes them."),
        "client": client,
        "kafka_python": importlib.metadata.version("kafka-python"),
        "compacted": [],
        "legacy": [],
    }
    for codec, produced in librdkafka.items():
        stored, next_offset = [], 0
        for batch in produced:
            stored.append(as_stored(batch, next_offset))
            next_offset += HEADER.unpack_from(batch, 0)[6] + 1
        cleaned = clean(stored)
        for which, (before, after) in enumerate(zip(stored, cleaned)):
            name = f"{codec}-{'abcd'[which]}"
            (out / "compacted" / f"{name}.source.bin").write_bytes(before)
            (out / "compacted" / f"{name}.bin").write_bytes(after)
            manifest["compacted"].append({
                "name": name,
                "codec": codec,
                "source": f"compacted/{name}.source.bin",
                "path": f"compacted/{name}.bin",
                "written_by": "librdkafka; cleaned with kafka-python",
                "cleaned": decode_v2(after),
                "original": decode_v2(before),
            })
    for name, blob in legacy_sets().items():
        (out / "legacy" / f"{name}.bin").write_bytes(blob)
        manifest["legacy"].append({
            "name": name,
            "path": f"legacy/{name}.bin",
            "written_by": "kafka-python LegacyRecordBatchBuilder",
            "records": decode_legacy(blob),
        })
    (out / "transcode.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def decode_files(paths: list[str]) -> dict:
    """Each file's v2 batches (concatenated), as kafka-python reads them:
    every batch's CRC check and header, and every record."""
    out = {}
    for path in paths:
        blob = Path(path).read_bytes()
        batches, pos = [], 0
        while pos < len(blob):
            (length,) = struct.unpack_from(">i", blob, pos + 8)
            batches.append(decode_v2(blob[pos:pos + 12 + length]))
            pos += 12 + length
        out[path] = batches
    return out


if __name__ == "__main__":
    import sys

    # `transcode_fixtures.py decode FILE...`: the oracle the Rust tests ask.
    if len(sys.argv) < 2 or sys.argv[1] != "decode":
        sys.exit("usage: transcode_fixtures.py decode FILE...")
    json.dump(decode_files(sys.argv[2:]), sys.stdout)
