//! Size-prefixed frames and the request/response envelopes around message
//! bodies.
//!
//! A frame on the wire is an `int32` size followed by that many bytes: a
//! header, then a body. [`FrameDecoder`] cuts complete frames out of a read
//! buffer without copying; the `encode_*` and `decode_*` functions add and
//! remove headers, picking the header version each API and version needs.

mod produce;

use bytes::{Buf, Bytes, BytesMut};

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::message::{ApiKey, Codec, Request, Response};
use crate::messages::{RequestBody, RequestHeader, ResponseBody, ResponseHeader};

pub use produce::{encode_produce_request, ProduceOptions, ProducePartition, ProduceTopic};

/// Default largest frame accepted: 100 MiB, the broker's default
/// `socket.request.max.bytes` and librdkafka's `receive.message.max.bytes`.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// How much read buffer is reserved ahead for a frame still arriving. The
/// buffer grows with the bytes that actually come, never at once from the
/// size a peer claims.
const READ_AHEAD: usize = 64 * 1024;

/// A frame's size prefix is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame is larger than the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum frame size of {max} bytes; the peer is not speaking Kafka, or the limit needs raising")]
    TooLarge {
        /// Size the prefix declares.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The size prefix is negative.
    #[error("frame size prefix is negative ({0}); the peer is not speaking Kafka")]
    NegativeSize(i32),
}

/// Cuts complete frames out of a read buffer.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_frame_size: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameDecoder {
    /// A decoder refusing frames larger than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> Self {
        Self { max_frame_size }
    }

    /// The largest frame accepted.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Takes the next complete frame out of `buf`, without its size prefix.
    /// Returns `Ok(None)` when more bytes are needed.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if size < 0 {
            return Err(FrameError::NegativeSize(size));
        }
        let size = size as usize;
        if size > self.max_frame_size {
            return Err(FrameError::TooLarge {
                size,
                max: self.max_frame_size,
            });
        }
        let total = 4 + size;
        if buf.len() < total {
            buf.reserve((total - buf.len()).min(READ_AHEAD));
            return Ok(None);
        }
        let mut frame = buf.split_to(total);
        frame.advance(4);
        Ok(Some(frame.freeze()))
    }
}

/// An encoded frame, size prefix included, as chunks for a vectored write.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    chunks: Vec<Bytes>,
    len: usize,
}

impl EncodedFrame {
    fn from_writer(w: Writer) -> Self {
        let len = w.len();
        Self {
            chunks: w.into_chunks(),
            len,
        }
    }

    /// The chunks, in order; record data travels as its own chunks.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// Takes the chunks.
    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }

    /// Total length, size prefix included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame is empty (it never is once encoded).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The frame as one buffer (a copy when there are several chunks).
    pub fn to_bytes(&self) -> Bytes {
        let mut r = crate::records::Records::new();
        for c in &self.chunks {
            r.push(c.clone());
        }
        r.to_bytes()
    }
}

/// Encodes a request frame: size, request header, body.
pub fn encode_request<R: Request>(
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &R,
) -> Result<EncodedFrame, EncodeError> {
    encode_request_body(R::API_KEY, correlation_id, client_id, version, |w| {
        body.encode(w, version)
    })
}

/// Encodes a request frame for a body chosen at run time.
pub fn encode_any_request(
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &RequestBody,
) -> Result<EncodedFrame, EncodeError> {
    encode_request_body(body.api_key(), correlation_id, client_id, version, |w| {
        body.encode(w, version)
    })
}

fn encode_request_body(
    api_key: ApiKey,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
) -> Result<EncodedFrame, EncodeError> {
    let mut w = Writer::with_size_prefix();
    write_request_header(&mut w, api_key, correlation_id, client_id, version)?;
    body(&mut w)?;
    Ok(EncodedFrame::from_writer(w))
}

/// Writes the request header [`RequestHeader`] would, field by field, so
/// that no header struct (and client id `String`) is built per request.
pub(crate) fn write_request_header(
    w: &mut Writer,
    api_key: ApiKey,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
) -> Result<(), EncodeError> {
    w.i16(api_key.key());
    w.i16(version);
    w.i32(correlation_id);
    // The client id stays a classic string even in the flexible header v2.
    w.nullable_string("RequestHeader.ClientId", client_id, false)?;
    if api_key.request_header_version(version) >= 2 {
        // No tagged fields.
        w.unsigned_varint(0);
    }
    Ok(())
}

/// Encodes a response frame: size, response header, body.
pub fn encode_response<R: Response>(
    correlation_id: i32,
    version: i16,
    body: &R,
) -> Result<EncodedFrame, EncodeError> {
    encode_response_body(R::API_KEY, correlation_id, version, |w| {
        body.encode(w, version)
    })
}

/// Encodes a response frame for a body chosen at run time.
pub fn encode_any_response(
    correlation_id: i32,
    version: i16,
    body: &ResponseBody,
) -> Result<EncodedFrame, EncodeError> {
    encode_response_body(body.api_key(), correlation_id, version, |w| {
        body.encode(w, version)
    })
}

fn encode_response_body(
    api_key: ApiKey,
    correlation_id: i32,
    version: i16,
    body: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
) -> Result<EncodedFrame, EncodeError> {
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    let mut w = Writer::with_size_prefix();
    header.encode(&mut w, api_key.response_header_version(version))?;
    body(&mut w)?;
    Ok(EncodedFrame::from_writer(w))
}

/// The first fields of a request frame, readable before knowing the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    /// Raw API key (it may be one this crate does not speak).
    pub api_key: i16,
    /// API version.
    pub api_version: i16,
    /// Correlation id.
    pub correlation_id: i32,
}

/// Reads the API key, version and correlation id at the start of a request frame.
pub fn peek_request(frame: &[u8]) -> Result<RequestPrefix, DecodeError> {
    let head = Bytes::copy_from_slice(frame.get(..8).unwrap_or(frame));
    let mut r = Reader::new(&head);
    Ok(RequestPrefix {
        api_key: r.i16("RequestHeader.RequestApiKey")?,
        api_version: r.i16("RequestHeader.RequestApiVersion")?,
        correlation_id: r.i32("RequestHeader.CorrelationId")?,
    })
}

/// Reads the correlation id at the start of a response frame.
pub fn peek_correlation_id(frame: &[u8]) -> Result<i32, DecodeError> {
    let head = Bytes::copy_from_slice(frame.get(..4).unwrap_or(frame));
    let mut r = Reader::new(&head);
    r.i32("ResponseHeader.CorrelationId")
}

/// Decodes a request frame (without its size prefix) whose API is `R`.
///
/// Bytes after a complete request are ignored, as Kafka's broker ignores
/// them: librdkafka 2.16, for one, sends three after some Metadata v12
/// requests.
pub fn decode_request<R: Request>(frame: Bytes) -> Result<(RequestHeader, R), DecodeError> {
    let prefix = peek_request(&frame)?;
    if prefix.api_key != R::API_KEY.key() {
        return Err(DecodeError {
            field: "RequestHeader.RequestApiKey",
            offset: 0,
            kind: DecodeErrorKind::Invalid(
                "the frame is for a different API than the one asked for",
            ),
        });
    }
    let mut r = Reader::new(&frame);
    let header = RequestHeader::decode(
        &mut r,
        R::API_KEY.request_header_version(prefix.api_version),
    )?;
    let body = R::decode(&mut r, prefix.api_version)?;
    Ok((header, body))
}

/// Decodes a request frame of any API this crate speaks.
pub fn decode_any_request(frame: Bytes) -> Result<(RequestHeader, RequestBody), DecodeError> {
    let prefix = peek_request(&frame)?;
    let api_key = ApiKey::from_key(prefix.api_key).ok_or(DecodeError {
        field: "RequestHeader.RequestApiKey",
        offset: 0,
        kind: DecodeErrorKind::Invalid("API key not supported by this crate"),
    })?;
    let mut r = Reader::new(&frame);
    let header = RequestHeader::decode(&mut r, api_key.request_header_version(prefix.api_version))?;
    let body = RequestBody::decode(api_key, prefix.api_version, &mut r)?;
    Ok((header, body))
}

/// Decodes a response frame (without its size prefix) to a request of API
/// `R::API_KEY` sent as `version`.
///
/// Bytes after a complete response are ignored, as the Java client and
/// librdkafka ignore them (librdkafka's mock broker appends one to flexible
/// Metadata responses); everything inside the message is checked.
pub fn decode_response<R: Response>(
    frame: Bytes,
    version: i16,
) -> Result<(ResponseHeader, R), DecodeError> {
    let mut r = Reader::new(&frame);
    let header = ResponseHeader::decode(&mut r, R::API_KEY.response_header_version(version))?;
    let body = R::decode(&mut r, version)?;
    Ok((header, body))
}

/// Decodes a response frame of any API this crate speaks; trailing bytes
/// are ignored as in [`decode_response`].
pub fn decode_any_response(
    api_key: ApiKey,
    version: i16,
    frame: Bytes,
) -> Result<(ResponseHeader, ResponseBody), DecodeError> {
    let mut r = Reader::new(&frame);
    let header = ResponseHeader::decode(&mut r, api_key.response_header_version(version))?;
    let body = ResponseBody::decode(api_key, version, &mut r)?;
    Ok((header, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_without_copy_and_in_order() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 1]);
        let d = FrameDecoder::default();
        assert_eq!(
            d.decode(&mut buf).unwrap().unwrap(),
            Bytes::from_static(b"abc")
        );
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"z");
        assert_eq!(
            d.decode(&mut buf).unwrap().unwrap(),
            Bytes::from_static(b"z")
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_frame_is_refused_before_allocating() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        let err = FrameDecoder::new(1024).decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                size: i32::MAX as usize,
                max: 1024
            }
        );
        assert!(buf.capacity() < 1024 * 1024);
    }

    #[test]
    fn a_large_claimed_size_reserves_only_read_ahead() {
        let mut buf = BytesMut::from(&[0x04, 0x00, 0x00, 0x00][..]);
        assert_eq!(FrameDecoder::default().decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() <= 4 + READ_AHEAD + 64);
    }

    #[test]
    fn responses_ignore_trailing_bytes_but_not_truncation() {
        use crate::messages::MetadataResponse;
        let resp = MetadataResponse {
            controller_id: 3,
            ..Default::default()
        };
        let frame = encode_response(1, 12, &resp).unwrap().to_bytes().slice(4..);
        let mut padded = frame.to_vec();
        padded.push(0);
        let (_, got) = decode_response::<MetadataResponse>(Bytes::from(padded), 12).unwrap();
        assert_eq!(got.controller_id, 3);
        let short = frame.slice(..frame.len() - 1);
        assert!(decode_response::<MetadataResponse>(short, 12).is_err());
    }

    #[test]
    fn requests_ignore_trailing_bytes_too() {
        use crate::messages::MetadataRequest;
        let frame = encode_request(1, None, 12, &MetadataRequest::default())
            .unwrap()
            .to_bytes();
        let mut padded = frame.slice(4..).to_vec();
        padded.extend_from_slice(&[1, 0, 0]);
        let (header, _) = decode_request::<MetadataRequest>(Bytes::from(padded)).unwrap();
        assert_eq!(header.correlation_id, 1);
    }

    #[test]
    fn request_header_matches_the_generated_encoder() {
        use crate::message::Codec;
        for api_key in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::Metadata,
            ApiKey::ApiVersions,
        ] {
            for version in [0, 3, 8, 9, 12, 13] {
                for client_id in [None, Some(""), Some("bench"), Some("\u{e9}t\u{e9}")] {
                    let mut fast = Writer::new();
                    write_request_header(&mut fast, api_key, 77, client_id, version).unwrap();
                    let header = RequestHeader {
                        request_api_key: api_key.key(),
                        request_api_version: version,
                        correlation_id: 77,
                        client_id: client_id.map(str::to_owned),
                        ..Default::default()
                    };
                    let mut slow = Writer::new();
                    header
                        .encode(&mut slow, api_key.request_header_version(version))
                        .unwrap();
                    assert_eq!(
                        fast.into_bytes(),
                        slow.into_bytes(),
                        "{api_key:?} v{version} {client_id:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn negative_size_is_an_error() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert_eq!(
            FrameDecoder::default().decode(&mut buf).unwrap_err(),
            FrameError::NegativeSize(-2)
        );
    }
}
