//! The floor: a relay that reads N bytes from one socket and writes them to
//! another, and the feeder and sink around it. Whatever a replicator does
//! beyond this is its own cost.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::bench_broker::write_chunks;

/// Read buffer of the relay.
pub const RELAY_BUFFER: usize = 1 << 20;

/// Connects to `from` and `to`, and copies `total` bytes from one to the
/// other with plain reads and writes. Returns the bytes copied.
pub fn relay(from: &str, to: &str, total: u64) -> io::Result<u64> {
    let mut input = TcpStream::connect(from)?;
    let mut output = TcpStream::connect(to)?;
    output.set_nodelay(true)?;
    let mut buf = vec![0u8; RELAY_BUFFER];
    let mut copied = 0u64;
    while copied < total {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n])?;
        copied += n as u64;
    }
    Ok(copied)
}

/// Accepts one connection on `listener` and writes `chunks` to it.
pub async fn feed(listener: TcpListener, chunks: Vec<Bytes>) -> io::Result<()> {
    let (mut stream, _) = listener.accept().await?;
    write_chunks(&mut stream, &chunks).await
}

/// Accepts one connection on `listener` and reads until EOF or `total`
/// bytes; returns the bytes read.
pub async fn sink(listener: TcpListener, total: u64) -> io::Result<u64> {
    let (mut stream, _) = listener.accept().await?;
    let mut buf = vec![0u8; RELAY_BUFFER];
    let mut read = 0u64;
    while read < total {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    Ok(read)
}
