//! Fuzz target bodies (feature `fuzzing`), shared by the cargo-fuzz targets
//! in `fuzz/` and by the corpus replay test, so both run the same code.
//!
//! Each function takes arbitrary bytes and must not panic. Where a decode
//! succeeds it checks more: encoding the value again and decoding that gives
//! the same value, and encoding is deterministic. Input layouts are described
//! per target; the `*_input` helpers build inputs for seeding corpora.
//!
//! Not a stable API: it changes with the targets.

use bytes::{Bytes, BytesMut};

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, EncodeError};
use crate::frame::{
    decode_any_request, decode_any_response, peek_request, FrameDecoder, FrameError,
};
use crate::message::{ApiKey, Codec, VersionRange};
use crate::messages::{RequestBody, ResponseBody};
use crate::record::{
    BatchHeader, BatchRewrite, Compression, ControlRecord, Disposition, EndTxnMarker, Entries,
    Entry, LegacyEntry, Record, RecordBatch, RecordBatchBuilder, TimestampType, VerifiedBatch,
};
use crate::records::Records;
use crate::validate::{PartitionLog, TopicConfig};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its cargo-fuzz binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame", frame),
    ("request", request),
    ("response", response),
    ("records", records),
    ("rewrite", rewrite),
    ("reencode", reencode),
    ("upconvert", upconvert),
    ("validate", validate),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// ---------------------------------------------------------------------------
// frame

/// Largest frame the `frame` target's decoder accepts for selector byte `b`.
fn max_frame_size(b: u8) -> usize {
    usize::from(b) * 4
}

/// Layout: `[max_frame_size / 4][chunking]` then a byte stream, fed to a
/// [`FrameDecoder`] in chunks whose sizes follow from the chunking byte (0:
/// all at once). The frames and error it yields must match a one-pass
/// reference reading of the whole stream.
pub fn frame(data: &[u8]) {
    let Some((&[max_sel, chunking], stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let max = max_frame_size(max_sel);
    let decoder = FrameDecoder::new(max);
    assert_eq!(decoder.max_frame_size(), max);
    let (expected, expected_err, consumed) = reference_frames(stream, max);

    let mut buf = BytesMut::new();
    let mut got: Vec<Bytes> = Vec::new();
    let mut err = None;
    let mut at = 0;
    let mut i = 0usize;
    'feed: while at < stream.len() {
        let len = if chunking == 0 {
            stream.len()
        } else {
            1 + (usize::from(chunking) * (i + 1)) % 61
        };
        i += 1;
        let end = stream.len().min(at + len);
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(f)) => {
                    assert!(f.len() <= max, "frame of {} bytes over max {max}", f.len());
                    got.push(f);
                }
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(err, expected_err);
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(&g[..], *e);
    }
    if err.is_none() {
        assert_eq!(
            &buf[..],
            &stream[consumed..],
            "unconsumed bytes stay buffered"
        );
        assert_eq!(decoder.decode(&mut buf), Ok(None));
    }
}

/// Frames in `stream`, the error that stops them if any, and bytes consumed.
fn reference_frames(stream: &[u8], max: usize) -> (Vec<&[u8]>, Option<FrameError>, usize) {
    let mut frames = Vec::new();
    let mut pos = 0;
    while let Some(prefix) = stream.get(pos..pos + 4) {
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if size < 0 {
            return (frames, Some(FrameError::NegativeSize(size)), pos);
        }
        let size = size as usize;
        if size > max {
            return (frames, Some(FrameError::TooLarge { size, max }), pos);
        }
        let Some(frame) = stream.get(pos + 4..pos + 4 + size) else {
            break;
        };
        frames.push(frame);
        pos += 4 + size;
    }
    (frames, None, pos)
}

/// An input for [`frame`]: the decoder's selector bytes, then `stream`.
pub fn frame_input(max_frame_size: usize, chunking: u8, stream: &[u8]) -> Vec<u8> {
    let max_sel = u8::try_from(max_frame_size.div_ceil(4)).unwrap_or(u8::MAX);
    let mut out = vec![max_sel, chunking];
    out.extend_from_slice(stream);
    out
}

// ---------------------------------------------------------------------------
// request and response

/// Input modes of [`request`] and [`response`].
const MODE_FRAME: u8 = 0;
const MODE_BODY: u8 = 1;

/// The API for selector byte `b`: every [`ApiKey`] in turn.
fn pick_api(b: u8) -> ApiKey {
    ApiKey::ALL[usize::from(b) % ApiKey::ALL.len()]
}

/// The version for selector byte `b`: valid versions for most bytes, a few
/// past the newest, and -1.
fn pick_version(range: VersionRange, b: u8) -> i16 {
    match b {
        0xff => -1,
        0xf0..=0xfe => range.max + 1 + i16::from(b - 0xf0),
        _ => range.min + i16::from(b) % (range.max - range.min + 1),
    }
}

fn api_selector(api: ApiKey) -> u8 {
    ApiKey::ALL.iter().position(|a| *a == api).unwrap_or(0) as u8
}

fn version_selector(api: ApiKey, version: i16) -> u8 {
    u8::try_from(version - api.versions().min).unwrap_or(0xff)
}

/// Encodes with `f` into one buffer.
fn encoded(f: impl FnOnce(&mut Writer) -> Result<(), EncodeError>) -> Result<Bytes, EncodeError> {
    let mut w = Writer::new();
    f(&mut w)?;
    Ok(w.into_bytes())
}

/// Checks that a decoded value re-encodes, decodes back to itself using all
/// the bytes, and encodes again to the same bytes.
fn round_trip<T: PartialEq + std::fmt::Debug>(
    what: std::fmt::Arguments<'_>,
    value: &T,
    encode: impl Fn(&T, &mut Writer) -> Result<(), EncodeError>,
    decode: impl Fn(&mut Reader<'_>) -> Result<T, DecodeError>,
) {
    let bytes = encoded(|w| encode(value, w))
        .unwrap_or_else(|e| panic!("{what}: a decoded value does not encode: {e}"));
    let mut r = Reader::new(&bytes);
    let back =
        decode(&mut r).unwrap_or_else(|e| panic!("{what}: its own encoding does not decode: {e}"));
    assert!(r.is_empty(), "{what}: {} bytes left over", r.remaining());
    assert_eq!(
        &back, value,
        "{what}: value changed through encode and decode"
    );
    let again = encoded(|w| encode(&back, w)).expect("encodes a second time");
    assert_eq!(again, bytes, "{what}: encoding is not deterministic");
}

/// Layout: `[mode]` then, for mode 0 (low bit clear), a request frame
/// without its size prefix, decoded with [`decode_any_request`]; for mode 1,
/// `[api][version]` selectors and a bare body for [`RequestBody::decode`].
pub fn request(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == MODE_FRAME {
        let prefix = peek_request(rest);
        let Ok((header, body)) = decode_any_request(Bytes::copy_from_slice(rest)) else {
            return;
        };
        let prefix = prefix.expect("peek_request reads what decode_any_request read");
        let api = body.api_key();
        let version = header.request_api_version;
        assert_eq!(api.key(), header.request_api_key);
        assert_eq!(
            (prefix.api_key, prefix.api_version, prefix.correlation_id),
            (api.key(), version, header.correlation_id)
        );
        let header_version = api.request_header_version(version);
        round_trip(
            format_args!("{api} v{version} request frame"),
            &(header, body),
            |(h, b), w| {
                h.encode(w, header_version)?;
                b.encode(w, version)
            },
            |r| {
                let rest = r.take("frame", r.remaining())?;
                decode_any_request(rest)
            },
        );
    } else {
        let Some((&[api, version], body)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let api = pick_api(api);
        let version = pick_version(api.versions(), version);
        let body = Bytes::copy_from_slice(body);
        let mut r = Reader::new(&body);
        let Ok(value) = RequestBody::decode(api, version, &mut r) else {
            return;
        };
        assert_eq!(value.api_key(), api);
        round_trip(
            format_args!("{api} v{version} request body"),
            &value,
            |v, w| v.encode(w, version),
            |r| RequestBody::decode(api, version, r),
        );
    }
}

/// An input for [`request`] holding a frame without its size prefix.
pub fn request_frame_input(frame: &[u8]) -> Vec<u8> {
    let mut out = vec![MODE_FRAME];
    out.extend_from_slice(frame);
    out
}

/// An input for [`request`] holding a bare body of `api` at `version`.
pub fn request_body_input(api: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![MODE_BODY, api_selector(api), version_selector(api, version)];
    out.extend_from_slice(body);
    out
}

/// Layout: `[mode][api][version]` then, for mode 0 (low bit clear), a
/// response frame without its size prefix, decoded with
/// [`decode_any_response`]; for mode 1, a bare body for
/// [`ResponseBody::decode`]. The selectors cover every API and version.
pub fn response(data: &[u8]) {
    let Some((&[mode, api, version], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let api = pick_api(api);
    let version = pick_version(api.versions(), version);
    if mode & 1 == MODE_FRAME {
        let Ok((header, body)) = decode_any_response(api, version, Bytes::copy_from_slice(rest))
        else {
            return;
        };
        assert_eq!(body.api_key(), api);
        let header_version = api.response_header_version(version);
        round_trip(
            format_args!("{api} v{version} response frame"),
            &(header, body),
            |(h, b), w| {
                h.encode(w, header_version)?;
                b.encode(w, version)
            },
            |r| {
                let rest = r.take("frame", r.remaining())?;
                decode_any_response(api, version, rest)
            },
        );
    } else {
        let body = Bytes::copy_from_slice(rest);
        let mut r = Reader::new(&body);
        let Ok(value) = ResponseBody::decode(api, version, &mut r) else {
            return;
        };
        assert_eq!(value.api_key(), api);
        round_trip(
            format_args!("{api} v{version} response body"),
            &value,
            |v, w| v.encode(w, version),
            |r| ResponseBody::decode(api, version, r),
        );
    }
}

/// An input for [`response`] holding a frame (header and body, no size
/// prefix) of `api` at `version`.
pub fn response_frame_input(api: ApiKey, version: i16, frame: &[u8]) -> Vec<u8> {
    let mut out = vec![
        MODE_FRAME,
        api_selector(api),
        version_selector(api, version),
    ];
    out.extend_from_slice(frame);
    out
}

/// An input for [`response`] holding a bare body of `api` at `version`.
pub fn response_body_input(api: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![MODE_BODY, api_selector(api), version_selector(api, version)];
    out.extend_from_slice(body);
    out
}

// ---------------------------------------------------------------------------
// records

/// Attribute bits [`RecordBatchBuilder`] can set: timestamp type,
/// transactional, control and delete horizon.
const BUILDER_ATTRIBUTES: i16 = 0x08 | 0x10 | 0x20 | 0x40;

/// Layout: a `records` blob. Splits it into entries, checks each entry's
/// views (header, CRC, records, control marker, legacy fields) and, for an
/// uncompressed batch whose records all parse, that rebuilding it from the
/// parsed header and records gives the same header and records. Also runs
/// the batch, legacy-entry and control-record parsers on the whole input.
pub fn records(data: &[u8]) {
    let blob = Bytes::copy_from_slice(data);
    let mut entries = Entries::new(blob.clone());
    let mut pos = 0;
    let mut failed = false;
    for item in entries.by_ref() {
        match item {
            Ok(entry) => {
                let len = entry.as_bytes().len();
                assert_eq!(&entry.as_bytes()[..], &blob[pos..pos + len]);
                pos += len;
                match &entry {
                    Entry::Batch(b) => {
                        assert_eq!(entry.magic(), 2);
                        check_batch(b);
                    }
                    Entry::Legacy(l) => {
                        assert!(matches!(entry.magic(), 0 | 1));
                        check_legacy(l);
                    }
                }
                assert_eq!(entry.next_offset(), entry.last_offset().wrapping_add(1));
            }
            Err(_) => failed = true,
        }
    }
    assert!(entries.next().is_none(), "Entries is fused");
    assert_eq!(entries.position(), pos);
    if !failed {
        assert_eq!(pos + entries.truncated_bytes(), blob.len());
    }

    if let Ok(b) = RecordBatch::new(blob.clone()) {
        check_batch(&b);
    }
    if let Ok(l) = LegacyEntry::new(blob.clone()) {
        check_legacy(&l);
    }
    check_control_parsers(&blob);
}

fn check_batch(b: &RecordBatch) {
    let raw = b.as_bytes();
    let h = *b.header();
    assert_eq!(
        h.to_bytes()[..],
        raw[..BatchHeader::LEN],
        "header view matches its bytes"
    );
    assert_eq!(h.magic, 2);
    assert_eq!(b.len() as i64, i64::from(h.batch_length) + 12);
    assert_eq!(b.records_section(), raw.slice(RecordBatch::HEADER_LEN..));
    assert_eq!(b.verify_crc().is_ok(), b.compute_crc() == b.crc());
    assert_eq!(b.next_offset(), b.last_offset().wrapping_add(1));
    assert_eq!(b.delete_horizon().is_some(), b.has_delete_horizon());
    let _ = (b.compression(), b.timestamp_type(), b.is_transactional());

    let mut parsed = Vec::new();
    let mut all_ok = true;
    for item in b.records() {
        match item {
            Ok(r) => {
                let _ = (r.offset(b), r.timestamp(b));
                parsed.push(r);
            }
            Err(_) => all_ok = false,
        }
    }
    assert!(
        parsed.len() as i64 <= i64::from(h.records_count).max(0),
        "more records than declared"
    );
    if let Ok(Some(marker)) = b.control_marker() {
        assert!(b.is_control());
        let again = ControlRecord::parse(&marker.record.to_bytes()).expect("control key re-parses");
        assert_eq!(again, marker.record);
        if let Some(end) = marker.end_txn {
            assert!(marker.record.kind.is_transaction_marker());
            assert_eq!(EndTxnMarker::parse(&end.to_bytes()), Ok(end));
        }
    }
    if all_ok && b.compression().is_none() && h.attributes & !BUILDER_ATTRIBUTES == 0 {
        assert_eq!(parsed.len() as i64, i64::from(h.records_count));
        check_rebuild(b, &parsed);
    }
}

/// Rebuilding a batch from its parsed header and records gives the same
/// header (but for length and CRC, which follow the encoding) and records.
fn check_rebuild(b: &RecordBatch, parsed: &[Record]) {
    let h = *b.header();
    let mut builder = RecordBatchBuilder::new(h.base_offset, h.base_timestamp);
    builder
        .partition_leader_epoch(h.partition_leader_epoch)
        .producer(h.producer_id, h.producer_epoch, h.base_sequence)
        .transactional(h.is_transactional())
        .control(h.is_control())
        .delete_horizon(h.has_delete_horizon())
        .timestamp_type(h.timestamp_type())
        .max_timestamp(h.max_timestamp)
        .last_offset_delta(h.last_offset_delta);
    for r in parsed {
        builder.push(r).expect("a parsed record encodes");
    }
    let rebuilt = RecordBatch::new(builder.build().expect("a parsed batch encodes"))
        .expect("a built batch parses");
    rebuilt.verify_crc().expect("a built batch has a valid CRC");
    let mut h2 = *rebuilt.header();
    h2.crc = h.crc;
    h2.batch_length = h.batch_length;
    assert_eq!(h2, h, "rebuilt header differs");
    let back: Vec<Record> = rebuilt
        .records()
        .collect::<Result<_, _>>()
        .expect("a built batch's records parse");
    assert_eq!(back, parsed, "rebuilt records differ");
    // The bytes may differ: varints may be overlong, or carry bits past 32
    // that decoding drops as the Java client does.
}

fn check_legacy(l: &LegacyEntry) {
    let raw = l.as_bytes();
    assert_eq!(l.len(), raw.len());
    assert_eq!(l.len() as i64, i64::from(l.size()) + 12);
    assert_eq!(l.verify_crc().is_ok(), l.compute_crc() == l.crc());
    assert_eq!(l.timestamp().is_some(), l.magic() == 1);
    assert_eq!(l.timestamp_type().is_some(), l.magic() == 1);
    assert_eq!(l.last_offset(), l.offset());
    assert_eq!(l.next_offset(), l.offset().wrapping_add(1));
    for part in [l.key(), l.value()].into_iter().flatten() {
        assert!(part.len() <= raw.len());
    }
    let _ = l.compression();
}

fn check_control_parsers(data: &Bytes) {
    if let Ok(c) = ControlRecord::parse(data) {
        let raw = c.to_bytes();
        assert_eq!(raw.len(), ControlRecord::LEN);
        assert_eq!(raw[..], data[..ControlRecord::LEN]);
        assert_eq!(ControlRecord::parse(&raw), Ok(c));
    }
    if let Ok(m) = EndTxnMarker::parse(data) {
        let raw = m.to_bytes();
        assert_eq!(raw.len(), EndTxnMarker::LEN);
        assert_eq!(raw[..], data[..EndTxnMarker::LEN]);
        assert_eq!(EndTxnMarker::parse(&raw), Ok(m));
    }
}

// ---------------------------------------------------------------------------
// rewrite

/// Bytes of a [`BatchRewrite`] in a `rewrite` input.
const REWRITE_LEN: usize = 8 + 4 + 8 + 2 + 4;

/// Mode bits of a `rewrite` input.
const REWRITE_BUILD: u8 = 1;
const REWRITE_FIX_CRC: u8 = 2;
const REWRITE_TRANSACTIONAL: u8 = 4;
const REWRITE_CONTROL: u8 = 8;
const REWRITE_APPEND_TIME: u8 = 16;

/// Layout: `[mode]`, 26 bytes of new header values (base offset, leader
/// epoch, producer id, producer epoch, base sequence, big-endian), then
/// either a records blob to split (mode bit 0 clear; bit 1 set: give each
/// batch a correct CRC first) or records to build a batch from (bit 0 set:
/// `[key length][key][value length][value]`..., length 255 for null). Each
/// batch whose CRC verifies is rewritten (bit 2: transactional); the result
/// must verify, carry the new values and the old records section untouched,
/// and rewriting it back must give the original bytes.
pub fn rewrite(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((fields, rest)) = rest.split_first_chunk::<REWRITE_LEN>() else {
        return;
    };
    let new = BatchRewrite {
        base_offset: i64::from_be_bytes(fields[0..8].try_into().unwrap_or_default()),
        partition_leader_epoch: i32::from_be_bytes(fields[8..12].try_into().unwrap_or_default()),
        producer_id: i64::from_be_bytes(fields[12..20].try_into().unwrap_or_default()),
        producer_epoch: i16::from_be_bytes(fields[20..22].try_into().unwrap_or_default()),
        base_sequence: i32::from_be_bytes(fields[22..26].try_into().unwrap_or_default()),
        transactional: mode & REWRITE_TRANSACTIONAL != 0,
    };
    if mode & REWRITE_BUILD != 0 {
        if let Some(batch) = build_batch(mode, rest) {
            let verified = batch.verify().expect("a built batch verifies");
            check_rewrite(&verified, &new);
        }
        return;
    }
    for entry in Entries::new(Bytes::copy_from_slice(rest)) {
        let Ok(Entry::Batch(batch)) = entry else {
            continue;
        };
        let batch = if mode & REWRITE_FIX_CRC != 0 {
            with_correct_crc(&batch)
        } else {
            batch
        };
        if let Ok(verified) = batch.verify() {
            check_rewrite(&verified, &new);
        }
    }
}

/// The same batch with its stored CRC replaced by the right one.
fn with_correct_crc(batch: &RecordBatch) -> RecordBatch {
    let mut raw = batch.as_bytes().to_vec();
    raw[17..21].copy_from_slice(&batch.compute_crc().to_be_bytes());
    RecordBatch::new(raw.into()).expect("only the CRC changed")
}

fn build_batch(mode: u8, mut rest: &[u8]) -> Option<RecordBatch> {
    let mut builder = RecordBatchBuilder::new(1_000, 1_700_000_000_000);
    builder.control(mode & REWRITE_CONTROL != 0);
    if mode & REWRITE_APPEND_TIME != 0 {
        builder
            .timestamp_type(TimestampType::LogAppendTime)
            .max_timestamp(1_700_000_000_123);
    }
    let take = |rest: &mut &[u8]| -> Option<Option<Bytes>> {
        let (&len, tail) = rest.split_first()?;
        if len == u8::MAX {
            *rest = tail;
            return Some(None);
        }
        let len = usize::from(len).min(tail.len());
        let (part, tail) = tail.split_at(len);
        *rest = tail;
        Some(Some(Bytes::copy_from_slice(part)))
    };
    while let Some(key) = take(&mut rest) {
        let value = take(&mut rest).unwrap_or(None);
        builder.append(key, value).ok()?;
    }
    RecordBatch::new(builder.build().ok()?).ok()
}

fn check_rewrite(old: &VerifiedBatch, new: &BatchRewrite) {
    let out = old.rewrite(new);
    assert_eq!(out.header.len(), BatchHeader::LEN);
    assert_eq!(out.len(), old.len());
    assert!(!out.is_empty());
    assert_eq!(out.tail, old.records_section(), "records section untouched");
    if !out.tail.is_empty() {
        assert_eq!(
            out.tail.as_ptr(),
            old.as_bytes()[RecordBatch::HEADER_LEN..].as_ptr(),
            "records section shared, not copied"
        );
    }
    let mut records = Records::new();
    out.append_to(&mut records);
    assert_eq!(records.to_bytes(), out.to_bytes());

    let back = RecordBatch::new(out.to_bytes()).expect("a rewritten batch parses");
    back.verify_crc().expect("a rewritten batch's CRC verifies");
    let h = *old.header();
    let expected = BatchHeader {
        base_offset: new.base_offset,
        partition_leader_epoch: new.partition_leader_epoch,
        producer_id: new.producer_id,
        producer_epoch: new.producer_epoch,
        base_sequence: new.base_sequence,
        attributes: if new.transactional {
            h.attributes | 0x10
        } else {
            h.attributes & !0x10
        },
        crc: back.crc(),
        ..h
    };
    assert_eq!(*back.header(), expected, "only the rewritten fields change");
    assert_eq!(back.records_section(), old.records_section());

    let undo = BatchRewrite {
        base_offset: h.base_offset,
        partition_leader_epoch: h.partition_leader_epoch,
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        transactional: h.is_transactional(),
    };
    let restored = back
        .verify()
        .expect("checked above")
        .rewrite(&undo)
        .to_bytes();
    assert_eq!(
        &restored,
        old.as_bytes(),
        "rewriting back restores the batch"
    );
}

/// An input for [`rewrite`] that splits `blob` and rewrites each batch in it.
pub fn rewrite_input(mode: u8, new: &BatchRewrite, blob: &[u8]) -> Vec<u8> {
    let mut out = vec![mode & !REWRITE_BUILD];
    if new.transactional {
        out[0] |= REWRITE_TRANSACTIONAL;
    }
    out.extend_from_slice(&new.base_offset.to_be_bytes());
    out.extend_from_slice(&new.partition_leader_epoch.to_be_bytes());
    out.extend_from_slice(&new.producer_id.to_be_bytes());
    out.extend_from_slice(&new.producer_epoch.to_be_bytes());
    out.extend_from_slice(&new.base_sequence.to_be_bytes());
    out.extend_from_slice(blob);
    out
}

// ---------------------------------------------------------------------------
// reencode, upconvert, validate

/// Decompression cap of the transcode targets: well under the fuzzer's
/// allocation limit, so only a missed cap can trip it.
const TRANSCODE_CAP: usize = 1 << 20;

/// Mode bits of a `reencode` input.
const REENCODE_BUILD: u8 = 1;
const REENCODE_FIX_CRC: u8 = 2;

/// Layout: `[mode]` then either a records blob (mode bit 0 clear; bit 1:
/// give each batch a correct CRC first) whose batches are re-encoded, or
/// (bit 0 set) `[codec][gap]` and records to build a batch from as in
/// `rewrite`, each record `gap % 4` offsets after the last, the codec
/// `codec % 5`. A re-encoded batch must verify, go whole, keep codec and
/// header fields, and hold the same records with dense offset deltas.
pub fn reencode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & REENCODE_BUILD != 0 {
        let Some((&[codec, gap], rest)) = rest.split_first_chunk::<2>() else {
            return;
        };
        if let Some(batch) = build_holey(codec, gap, rest) {
            check_reencode(&batch.verify().expect("a built batch verifies"));
        }
        return;
    }
    for entry in Entries::new(Bytes::copy_from_slice(rest)) {
        let Ok(Entry::Batch(batch)) = entry else {
            continue;
        };
        let batch = if mode & REENCODE_FIX_CRC != 0 {
            with_correct_crc(&batch)
        } else {
            batch
        };
        if let Ok(verified) = batch.verify() {
            check_reencode(&verified);
        }
    }
}

/// A batch whose records sit `gap % 4` offsets apart, `lastOffsetDelta`
/// past the last one: what compaction leaves.
fn build_holey(codec: u8, gap: u8, rest: &[u8]) -> Option<RecordBatch> {
    let mut builder = RecordBatchBuilder::new(500, 1_700_000_000_000);
    builder.compression(Compression::from_id(codec % 5));
    let mut delta = 0i32;
    let mut chunks = rest.chunks(7).peekable();
    while let Some(chunk) = chunks.next() {
        let (key, value) = chunk.split_at(chunk.len().min(3));
        builder
            .push(&Record {
                offset_delta: delta,
                timestamp_delta: i64::from(delta) * 3,
                key: Some(Bytes::copy_from_slice(key)),
                value: (!value.is_empty()).then(|| Bytes::copy_from_slice(value)),
                headers: vec![crate::record::Header::new("h", None)],
                ..Record::default()
            })
            .ok()?;
        if chunks.peek().is_some() {
            delta = delta.checked_add(1 + i32::from(gap % 4))?;
        }
    }
    builder.last_offset_delta(delta.checked_add(i32::from(gap % 3))?);
    RecordBatch::new(builder.build().ok()?).ok()
}

fn check_reencode(batch: &VerifiedBatch) {
    let Ok(out) = crate::record::reencode(batch, TRANSCODE_CAP) else {
        return;
    };
    let out = RecordBatch::new(out).expect("a re-encoded batch parses");
    out.verify_crc().expect("a re-encoded batch verifies");
    assert_eq!(out.header().disposition(), Disposition::Forward);
    let (h, o) = (batch.header(), out.header());
    assert_eq!(o.records_count, h.records_count);
    assert_eq!(
        (
            o.base_offset,
            o.attributes,
            o.base_timestamp,
            o.max_timestamp,
            o.producer_id
        ),
        (
            h.base_offset,
            h.attributes,
            h.base_timestamp,
            h.max_timestamp,
            h.producer_id
        )
    );
    let before: Vec<Record> = batch
        .decompressed_records(TRANSCODE_CAP)
        .expect("decompressed once already")
        .map(|r| r.expect("parsed once already"))
        .collect();
    let after = out
        .decompressed_records(usize::MAX)
        .expect("our own output decompresses");
    for (i, (a, b)) in before.iter().zip(after).enumerate() {
        let b = b.expect("our own output parses");
        assert_eq!(b.offset_delta, i32::try_from(i).expect("few records"));
        assert_eq!(
            (&a.key, &a.value, &a.headers),
            (&b.key, &b.value, &b.headers)
        );
        assert_eq!(a.timestamp(batch), b.timestamp(&out));
    }
}

/// Layout: a records blob; its legacy entries (any CRC) are up-converted
/// in one run, and each output batch must verify, go whole and hold as many
/// records as it says, in offset order of the source.
pub fn upconvert(data: &[u8]) {
    let entries: Vec<LegacyEntry> = Entries::new(Bytes::copy_from_slice(data))
        .filter_map(|e| match e {
            Ok(Entry::Legacy(l)) => Some(l),
            _ => None,
        })
        .collect();
    let Ok(converted) = crate::record::upconvert(&entries, TRANSCODE_CAP, 4096) else {
        return;
    };
    let mut last = i64::MIN;
    for c in converted {
        let b = RecordBatch::new(c.batch).expect("an up-converted batch parses");
        b.verify_crc().expect("an up-converted batch verifies");
        assert_eq!(b.header().disposition(), Disposition::Forward);
        assert_eq!(usize::try_from(b.records_count()).ok(), Some(c.records));
        assert!(c.first_offset <= c.last_offset);
        assert!(c.last_offset >= last, "batches come out in source order");
        last = c.last_offset;
        let mut n = 0;
        for r in b
            .decompressed_records(usize::MAX)
            .expect("our own output decompresses")
        {
            r.expect("our own output parses");
            n += 1;
        }
        assert_eq!(n, c.records);
    }
}

/// Layout: `[version][flags]` then a Produce partition's records. Kafka's
/// rules must answer (never panic); a batch appended must be stored with
/// dense offsets and a valid CRC. Flags: bit 0 compacted topic, bit 1
/// LogAppendTime topic, bit 2 append it twice (a duplicate or a refusal).
pub fn validate(data: &[u8]) {
    let Some((&[version, flags], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let config = TopicConfig {
        compact: flags & 1 != 0,
        timestamp_type: if flags & 2 != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        },
        decompression_cap: TRANSCODE_CAP,
        ..TopicConfig::default()
    };
    let mut log = PartitionLog::new("fuzz", 0, config);
    let records = Bytes::copy_from_slice(rest);
    let version = i16::from(version % 14);
    let rounds = if flags & 4 != 0 { 2 } else { 1 };
    for _ in 0..rounds {
        let before = log.log_end_offset();
        match log.append(version, Some(&records), 1_700_000_000_000) {
            Ok(a) => {
                if let Some(stored) = a.stored {
                    let b = RecordBatch::new(stored).expect("a stored batch parses");
                    b.verify_crc().expect("a stored batch verifies");
                    assert_eq!(b.base_offset(), before);
                    assert_eq!(log.log_end_offset(), before + i64::from(a.records));
                } else {
                    assert!(a.duplicate);
                    assert_eq!(log.log_end_offset(), before);
                }
            }
            Err(r) => {
                assert_ne!(r.error, crate::ErrorCode::NONE);
                assert_eq!(log.log_end_offset(), before);
            }
        }
    }
}

/// An input for [`reencode`] that re-encodes each batch of `blob`.
pub fn reencode_input(blob: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(blob);
    out
}

/// An input for [`validate`] checking `blob` as Produce `version` with
/// `flags`.
pub fn validate_input(version: u8, flags: u8, blob: &[u8]) -> Vec<u8> {
    let mut out = vec![version, flags];
    out.extend_from_slice(blob);
    out
}
