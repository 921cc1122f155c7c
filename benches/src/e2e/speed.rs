//! The bench broker's own speed: a client that fetches a whole log as fast
//! as it can over several connections and reports bytes per second. The
//! broker must move bytes faster than anything it measures.

use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{decode_response, encode_request};
use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::{FetchRequest, FetchResponse};
use kafka_proto::record::Entries;
use kafka_proto::TopicRef;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::bench_broker::write_chunks;

const FETCH_VERSION: i16 = 12;

/// What a speed run read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    /// Record batch bytes received.
    pub bytes: u64,
    /// Time to read them.
    pub elapsed: Duration,
}

impl Speed {
    /// Bytes per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Fetches every partition of `topic` from offset 0 to `ends[p]` over
/// `connections` connections, partitions spread among them.
pub async fn fetch_all(
    bootstrap: &str,
    topic: &str,
    ends: &[i64],
    connections: usize,
) -> io::Result<Speed> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections.max(1) {
        let mine: Vec<(i32, i64)> = ends
            .iter()
            .enumerate()
            .filter(|(p, _)| p % connections.max(1) == c)
            .map(|(p, &end)| (p as i32, end))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let addr = bootstrap.to_owned();
        let topic = topic.to_owned();
        tasks.push(tokio::spawn(async move {
            fetch_partitions(&addr, &topic, mine).await
        }));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await.map_err(io::Error::other)??;
    }
    Ok(Speed {
        bytes,
        elapsed: start.elapsed(),
    })
}

async fn fetch_partitions(addr: &str, topic: &str, parts: Vec<(i32, i64)>) -> io::Result<u64> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut offsets: Vec<i64> = vec![0; parts.len()];
    let mut store = BytesMut::new();
    let mut bytes = 0u64;
    let mut corr = 0;
    while parts.iter().zip(&offsets).any(|(&(_, end), &o)| o < end) {
        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 16 << 20,
            isolation_level: 0,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: TopicRef::Name(topic.to_owned()),
                partitions: parts
                    .iter()
                    .zip(&offsets)
                    .filter(|(&(_, end), &o)| o < end)
                    .map(|(&(p, _), &o)| FetchPartition {
                        partition: p,
                        current_leader_epoch: -1,
                        fetch_offset: o,
                        last_fetched_epoch: -1,
                        log_start_offset: -1,
                        partition_max_bytes: 4 << 20,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        corr += 1;
        let frame = encode_request(corr, Some("speed"), FETCH_VERSION, &request)
            .map_err(io::Error::other)?;
        write_chunks(&mut stream, frame.chunks()).await?;
        let frame = read_frame(&mut stream, &mut store).await?;
        let (_, response) = decode_response::<FetchResponse>(frame.clone(), FETCH_VERSION)
            .map_err(io::Error::other)?;
        for t in response.responses {
            for p in t.partitions {
                let Some(records) = p.records else { continue };
                let blob = records.to_bytes();
                bytes += blob.len() as u64;
                let last = Entries::new(blob)
                    .filter_map(Result::ok)
                    .last()
                    .map(|e| e.next_offset());
                if let (Some(next), Some(i)) = (
                    last,
                    parts.iter().position(|&(q, _)| q == p.partition_index),
                ) {
                    offsets[i] = next;
                }
            }
        }
        // The response is gone: take the buffer back for the next one, so
        // the client does not pay page faults on a fresh allocation each time.
        store = frame.try_into_mut().unwrap_or_default();
    }
    Ok(bytes)
}

/// Reads one size-prefixed frame into `store` (reusing its allocation) and
/// returns it without the prefix.
async fn read_frame(stream: &mut TcpStream, store: &mut BytesMut) -> io::Result<Bytes> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let size = usize::try_from(i32::from_be_bytes(prefix))
        .map_err(|_| io::Error::other("negative frame size"))?;
    store.clear();
    store.reserve(size);
    while store.len() < size {
        // One request is in flight, so nothing past this frame can arrive.
        if stream.read_buf(store).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(std::mem::take(store).freeze())
}
