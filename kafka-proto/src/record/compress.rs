//! Compressing and decompressing a batch's records section (or a legacy
//! wrapper's value) with the codecs Kafka uses, as Kafka's clients frame
//! them: gzip (`flate2`), Snappy in xerial's block framing (`snap`), the LZ4
//! frame format (`lz4_flex`) and Zstandard (`zstd`).
//!
//! Decompression never produces more than a caller's cap: a decompression
//! bomb, or a length field that claims more than the cap, is a
//! [`CodecError::TooLarge`], found before the bytes are allocated. Corrupt
//! input is a [`CodecError::Corrupt`], never a panic.

use std::fmt;
use std::io::{self, Read, Write};

use super::compression::Compression;

/// Xerial's stream header: a marker byte, "SNAPPY", a NUL, then the format
/// version and the oldest compatible version (both 1) as big-endian i32s.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial block, the Java library's default.
const XERIAL_BLOCK: usize = 32 * 1024;
/// zstd level Kafka's producers use unless told otherwise.
const ZSTD_LEVEL: i32 = 3;
/// LZ4 frame magic number, little-endian on the wire.
const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// Smallest zstd window (log2 bytes) allowed whatever the cap: producers'
/// streaming encoders declare windows of a few MiB even for small batches.
const ZSTD_MIN_WINDOW_LOG: u32 = 22;
/// zstd's own default limit on the window of a frame.
const ZSTD_MAX_WINDOW_LOG: u32 = 27;

/// A codec failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The data decompresses (or claims to decompress) to more than the cap.
    #[error("{codec} data decompresses to more than {cap} bytes, the decompression cap; raise the cap if batches this large are expected")]
    TooLarge {
        /// The codec.
        codec: Compression,
        /// The cap that was exceeded.
        cap: usize,
    },
    /// The compressed data is malformed or truncated.
    #[error("{codec} data is corrupt: {detail}")]
    Corrupt {
        /// The codec.
        codec: Compression,
        /// What the decoder reported.
        detail: String,
    },
    /// Compressing failed (the input is too large for the codec's framing).
    #[error("{codec} compression failed: {detail}")]
    Compress {
        /// The codec.
        codec: Compression,
        /// What the encoder reported.
        detail: String,
    },
    /// The attributes name a codec id Kafka does not define (5–7).
    #[error("codec id {} is not one Kafka defines (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)", .0.id())]
    Unknown(Compression),
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("uncompressed"),
            Self::Gzip => f.write_str("gzip"),
            Self::Snappy => f.write_str("snappy"),
            Self::Lz4 => f.write_str("lz4"),
            Self::Zstd => f.write_str("zstd"),
            Self::Unknown(id) => write!(f, "codec {id}"),
        }
    }
}

/// Decompresses `input`, a magic-2 batch's records section (or a magic-1
/// wrapper's value), to at most `cap` bytes. `None` returns a copy.
pub fn decompress(codec: Compression, input: &[u8], cap: usize) -> Result<Vec<u8>, CodecError> {
    match codec {
        Compression::None => {
            if input.len() > cap {
                return Err(CodecError::TooLarge { codec, cap });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => read_capped(codec, flate2::read::MultiGzDecoder::new(input), cap),
        Compression::Snappy => snappy_decompress(input, cap),
        Compression::Lz4 => read_capped(codec, lz4_flex::frame::FrameDecoder::new(input), cap),
        Compression::Zstd => {
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(codec, &e))?;
            decoder
                .window_log_max(zstd_window_log(cap))
                .map_err(|e| corrupt(codec, &e))?;
            read_capped(codec, decoder, cap)
        }
        Compression::Unknown(_) => Err(CodecError::Unknown(codec)),
    }
}

/// [`decompress`] for the value of a legacy wrapper of `magic` 0 or 1.
///
/// Kafka before 0.10 wrote the LZ4 frame descriptor's checksum over the
/// wrong bytes (KAFKA-3160), and Kafka still reads magic-0 LZ4 without
/// checking it; so does this: the checksum is recomputed before decoding.
pub fn decompress_legacy(
    codec: Compression,
    magic: i8,
    input: &[u8],
    cap: usize,
) -> Result<Vec<u8>, CodecError> {
    if codec == Compression::Lz4 && magic == 0 {
        if let Some(fixed) = lz4_fix_descriptor_checksum(input) {
            return decompress(codec, &fixed, cap);
        }
    }
    decompress(codec, input, cap)
}

/// Compresses `input` as Kafka's producers do: gzip at the default level,
/// xerial-framed Snappy in 32 KiB blocks, an LZ4 frame of independent 64 KiB
/// blocks without checksums, zstd at level 3. `None` returns a copy.
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let fail = |e: &dyn fmt::Display| CodecError::Compress {
        codec,
        detail: e.to_string(),
    };
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(input.len() / 2 + 64),
                flate2::Compression::default(),
            );
            enc.write_all(input).map_err(|e| fail(&e))?;
            enc.finish().map_err(|e| fail(&e))
        }
        Compression::Snappy => snappy_compress(input).map_err(|e| fail(&e)),
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(
                info,
                Vec::with_capacity(input.len() / 2 + 64),
            );
            enc.write_all(input).map_err(|e| fail(&e))?;
            enc.finish().map_err(|e| fail(&e))
        }
        Compression::Zstd => zstd::bulk::compress(input, ZSTD_LEVEL).map_err(|e| fail(&e)),
        Compression::Unknown(_) => Err(CodecError::Unknown(codec)),
    }
}

fn corrupt(codec: Compression, e: &dyn fmt::Display) -> CodecError {
    CodecError::Corrupt {
        codec,
        detail: e.to_string(),
    }
}

/// Reads all of `reader` but stops one byte past `cap`, so a bomb costs at
/// most `cap + 1` bytes of memory before it is refused.
fn read_capped(codec: Compression, reader: impl Read, cap: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    match reader.take(limit).read_to_end(&mut out) {
        Ok(_) if out.len() > cap => Err(CodecError::TooLarge { codec, cap }),
        Ok(_) => Ok(out),
        Err(e) => Err(corrupt(codec, &e)),
    }
}

/// The largest zstd window worth accepting under `cap`: a frame's window
/// need not exceed its content, so a window beyond the cap is only memory.
fn zstd_window_log(cap: usize) -> u32 {
    let bits = usize::BITS - cap.saturating_sub(1).leading_zeros();
    bits.clamp(ZSTD_MIN_WINDOW_LOG, ZSTD_MAX_WINDOW_LOG)
}

/// Snappy as Kafka's clients read it: xerial-framed when the stream starts
/// with xerial's header, else one raw Snappy block.
fn snappy_decompress(input: &[u8], cap: usize) -> Result<Vec<u8>, CodecError> {
    let codec = Compression::Snappy;
    if !(input.len() >= XERIAL_HEADER_LEN && input[..XERIAL_MAGIC.len()] == XERIAL_MAGIC) {
        let mut out = Vec::new();
        snappy_block(input, &mut out, cap)?;
        return Ok(out);
    }
    let mut out = Vec::new();
    let mut rest = &input[XERIAL_HEADER_LEN..];
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(corrupt(codec, &"a block length is cut short"));
        };
        let len = i32::from_be_bytes(*len);
        let Some(block) = usize::try_from(len).ok().and_then(|n| tail.get(..n)) else {
            return Err(corrupt(
                codec,
                &format_args!("block length {len} exceeds the {} bytes left", tail.len()),
            ));
        };
        snappy_block(block, &mut out, cap)?;
        rest = &tail[block.len()..];
    }
    Ok(out)
}

/// Appends one raw Snappy block to `out`, checking its declared length
/// against what `cap` still allows before allocating.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<(), CodecError> {
    let codec = Compression::Snappy;
    let len = snap::raw::decompress_len(block).map_err(|e| corrupt(codec, &e))?;
    if len > cap.saturating_sub(out.len()) {
        return Err(CodecError::TooLarge { codec, cap });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let n = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| corrupt(codec, &e))?;
    out.truncate(start + n);
    Ok(())
}

fn snappy_compress(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + input.len() / 2 + 64);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    for chunk in input.chunks(XERIAL_BLOCK) {
        let block = enc.compress_vec(chunk).map_err(io::Error::other)?;
        let len = i32::try_from(block.len()).map_err(io::Error::other)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(out)
}

/// `input` with its LZ4 frame descriptor checksum recomputed, or `None`
/// when it is not an LZ4 frame (the decoder then reports why).
fn lz4_fix_descriptor_checksum(input: &[u8]) -> Option<Vec<u8>> {
    if input.get(..4)? != LZ4_MAGIC {
        return None;
    }
    let flg = *input.get(4)?;
    // FLG and BD, then the content size and dictionary id when flagged.
    let mut end = 6;
    if flg & 0x08 != 0 {
        end += 8;
    }
    if flg & 0x01 != 0 {
        end += 4;
    }
    let descriptor = input.get(4..end)?;
    input.get(end)?;
    let checksum = (twox_hash::XxHash32::oneshot(0, descriptor) >> 8) as u8;
    let mut fixed = input.to_vec();
    fixed[end] = checksum;
    Some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 977) as u8)
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        for codec in CODECS {
            for len in [0, 1, 100, XERIAL_BLOCK, XERIAL_BLOCK + 1, 300_000] {
                let data = sample(len);
                let packed = compress(codec, &data).unwrap();
                let back = decompress(codec, &packed, len).unwrap();
                assert_eq!(back, data, "{codec} at {len} bytes");
            }
        }
    }

    #[test]
    fn output_over_the_cap_is_refused() {
        for codec in CODECS {
            let data = vec![7u8; 100_000];
            let packed = compress(codec, &data).unwrap();
            let err = decompress(codec, &packed, 99_999).unwrap_err();
            assert_eq!(err, CodecError::TooLarge { codec, cap: 99_999 }, "{codec}");
        }
    }

    #[test]
    fn snappy_length_claim_is_checked_before_allocating() {
        // A raw block whose varint length claims 2^32-1 bytes.
        let block = [0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        let err = decompress(Compression::Snappy, &block, 1 << 20).unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::TooLarge { .. } | CodecError::Corrupt { .. }
            ),
            "{err}"
        );
        // A xerial block length beyond the input.
        let mut framed = compress(Compression::Snappy, b"hello").unwrap();
        framed[16..20].copy_from_slice(&1000i32.to_be_bytes());
        let err = decompress(Compression::Snappy, &framed, 1 << 20).unwrap_err();
        assert!(matches!(err, CodecError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn raw_snappy_without_xerial_header_is_read() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"plain block")
            .unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100).unwrap(),
            b"plain block"
        );
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        for codec in CODECS[1..].iter().copied() {
            for junk in [&b""[..], b"\x00", b"not compressed at all", &[0xff; 64]] {
                // An empty gzip or snappy stream may decode to nothing.
                if let Err(e) = decompress(codec, junk, 1 << 20) {
                    assert!(matches!(e, CodecError::Corrupt { .. }), "{codec}: {e}");
                }
            }
        }
        assert_eq!(
            decompress(Compression::Unknown(6), b"x", 10).unwrap_err(),
            CodecError::Unknown(Compression::Unknown(6))
        );
    }

    #[test]
    fn magic_zero_lz4_with_kafka_3160_checksum_is_read() {
        let data = sample(5000);
        let mut old = compress(Compression::Lz4, &data).unwrap();
        // Pre-0.10 Kafka hashed the magic number too (KAFKA-3160).
        old[6] = (twox_hash::XxHash32::oneshot(0, &old[..6]) >> 8) as u8;
        assert!(decompress(Compression::Lz4, &old, 10_000).is_err());
        assert_eq!(
            decompress_legacy(Compression::Lz4, 0, &old, 10_000).unwrap(),
            data
        );
        // Magic 1 is checked, as Kafka does.
        assert!(decompress_legacy(Compression::Lz4, 1, &old, 10_000).is_err());
    }

    #[test]
    fn zstd_window_follows_the_cap() {
        assert_eq!(zstd_window_log(1), ZSTD_MIN_WINDOW_LOG);
        assert_eq!(zstd_window_log(64 << 20), 26);
        assert_eq!(zstd_window_log(usize::MAX), ZSTD_MAX_WINDOW_LOG);
    }
}
