//! Hand-written raw Kafka frames to probe a broker without `kafka-proto`.
//!
//! Only non-flexible request versions (request header v1, response header v0)
//! are supported: enough for ApiVersions v0, Metadata v1 and SaslHandshake v1.

use std::{
    io::{self, Read, Write},
    net::TcpStream,
};

/// API keys used here.
pub mod api {
    /// Metadata
    pub const METADATA: i16 = 3;
    /// SaslHandshake
    pub const SASL_HANDSHAKE: i16 = 17;
    /// ApiVersions
    pub const API_VERSIONS: i16 = 18;
}

/// Client id sent in hand-written requests.
pub const CLIENT_ID: &str = "integration-tests";

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Encodes a size-prefixed request: header v1 (`api_key`, `api_version`,
/// `correlation_id`, `client_id`) followed by `body`.
pub fn encode_request(api_key: i16, api_version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + CLIENT_ID.len() + body.len());
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(&api_key.to_be_bytes());
    frame.extend_from_slice(&api_version.to_be_bytes());
    frame.extend_from_slice(&correlation_id.to_be_bytes());
    let id_len = i16::try_from(CLIENT_ID.len()).unwrap_or(i16::MAX);
    frame.extend_from_slice(&id_len.to_be_bytes());
    frame.extend_from_slice(CLIENT_ID.as_bytes());
    frame.extend_from_slice(body);
    let size = u32::try_from(frame.len() - 4).unwrap_or(u32::MAX);
    frame[..4].copy_from_slice(&size.to_be_bytes());
    frame
}

/// Reads one size-prefixed frame.
pub fn read_frame(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut size = [0; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    let size = usize::try_from(size).map_err(|_| invalid(format!("negative frame size {size}")))?;
    if size > 64 << 20 {
        return Err(invalid(format!("frame of {size} bytes is too large")));
    }
    let mut frame = vec![0; size];
    stream.read_exact(&mut frame)?;
    Ok(frame)
}

/// Sends one request and returns the response body (after the correlation
/// id, which is checked).
pub fn round_trip(
    stream: &mut TcpStream,
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &[u8],
) -> io::Result<Vec<u8>> {
    stream.write_all(&encode_request(api_key, api_version, correlation_id, body))?;
    let mut frame = read_frame(stream)?;
    let mut r = Reader::new(&frame);
    let got = r.i32()?;
    if got != correlation_id {
        return Err(invalid(format!(
            "correlation id {got} in response, expected {correlation_id}"
        )));
    }
    frame.drain(..4);
    Ok(frame)
}

/// One entry of an ApiVersions response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    /// API key.
    pub api_key: i16,
    /// Lowest supported version.
    pub min: i16,
    /// Highest supported version.
    pub max: i16,
}

/// ApiVersions v0: error code and the supported ranges.
pub fn api_versions(
    stream: &mut TcpStream,
    correlation_id: i32,
) -> io::Result<(i16, Vec<ApiRange>)> {
    let body = round_trip(stream, api::API_VERSIONS, 0, correlation_id, &[])?;
    let mut r = Reader::new(&body);
    let error = r.i16()?;
    let n = r.array_len()?;
    let mut ranges = Vec::with_capacity(n);
    for _ in 0..n {
        ranges.push(ApiRange {
            api_key: r.i16()?,
            min: r.i16()?,
            max: r.i16()?,
        });
    }
    Ok((error, ranges))
}

/// A topic in a Metadata v1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic error code.
    pub error: i16,
    /// Topic name.
    pub name: String,
    /// Partition count.
    pub partitions: usize,
}

/// Metadata v1 for all topics (null topic array).
pub fn metadata_all_topics(
    stream: &mut TcpStream,
    correlation_id: i32,
) -> io::Result<Vec<TopicMetadata>> {
    // v1 body: topics ARRAY(STRING); -1 (null) means all topics.
    let body = round_trip(
        stream,
        api::METADATA,
        1,
        correlation_id,
        &(-1i32).to_be_bytes(),
    )?;
    let mut r = Reader::new(&body);
    // brokers: [node_id int32, host string, port int32, rack nullable string]
    for _ in 0..r.array_len()? {
        r.i32()?;
        r.string()?;
        r.i32()?;
        r.string()?;
    }
    r.i32()?; // controller_id
    let mut topics = Vec::new();
    for _ in 0..r.array_len()? {
        let error = r.i16()?;
        let name = r.string()?.unwrap_or_default();
        r.bytes(1)?; // is_internal
        let partitions = r.array_len()?;
        for _ in 0..partitions {
            r.i16()?; // error_code
            r.i32()?; // partition_index
            r.i32()?; // leader_id
            for _ in 0..r.array_len()? {
                r.i32()?; // replica_nodes
            }
            for _ in 0..r.array_len()? {
                r.i32()?; // isr_nodes
            }
        }
        topics.push(TopicMetadata {
            error,
            name,
            partitions,
        });
    }
    Ok(topics)
}

/// SaslHandshake v1 with `mechanism`: error code and the broker's mechanisms.
pub fn sasl_handshake(
    stream: &mut TcpStream,
    correlation_id: i32,
    mechanism: &str,
) -> io::Result<(i16, Vec<String>)> {
    let mut body = Vec::new();
    let len = i16::try_from(mechanism.len()).map_err(|_| invalid("mechanism too long"))?;
    body.extend_from_slice(&len.to_be_bytes());
    body.extend_from_slice(mechanism.as_bytes());
    let resp = round_trip(stream, api::SASL_HANDSHAKE, 1, correlation_id, &body)?;
    let mut r = Reader::new(&resp);
    let error = r.i16()?;
    let mut mechanisms = Vec::new();
    for _ in 0..r.array_len()? {
        mechanisms.extend(r.string()?);
    }
    Ok((error, mechanisms))
}

/// A bounds-checked big-endian reader over classic (non-compact) encodings.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(invalid(format!(
                "need {n} bytes at offset {}, have {}",
                self.pos,
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// int16
    pub fn i16(&mut self) -> io::Result<i16> {
        self.array().map(i16::from_be_bytes)
    }

    /// int32
    pub fn i32(&mut self) -> io::Result<i32> {
        self.array().map(i32::from_be_bytes)
    }

    /// ARRAY length; null (-1) reads as 0.
    pub fn array_len(&mut self) -> io::Result<usize> {
        let n = self.i32()?;
        if n < -1 {
            return Err(invalid(format!("bad array length {n}")));
        }
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// (NULLABLE_)STRING with an int16 length.
    pub fn string(&mut self) -> io::Result<Option<String>> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(None);
        }
        let bytes = self.bytes(usize::try_from(n).unwrap_or(0))?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|e| invalid(e.to_string()))
    }
}
