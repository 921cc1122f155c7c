//! Free loopback ports and readiness waits.

use std::{
    collections::HashSet,
    io,
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    sync::{Mutex, OnceLock},
    thread,
    time::{Duration, Instant},
};

/// Ports already handed out by this process: never hand one out twice, even
/// after the listener that found it is gone.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Default::default)
}

/// A free TCP port on 127.0.0.1, picked by the kernel.
///
/// There is a small race between this call and the peer binding the port;
/// ports are at least never reused within one test process.
pub fn free_port() -> io::Result<u16> {
    for _ in 0..64 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if handed_out()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port)
        {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        "no unused free port found after 64 attempts",
    ))
}

/// The loopback socket address for `port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Whether something accepts TCP connections on `addr` right now.
pub fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Polls `addr` until it accepts a TCP connection, `give_up()` says stop, or
/// `timeout` passes. Returns `true` when the port is ready.
pub fn wait_until_accepting(
    addr: SocketAddr,
    timeout: Duration,
    mut give_up: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if accepts(addr) {
            return true;
        }
        if give_up() || Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
