//! The HTTP endpoints of `--metrics-addr`, served with `hyper`:
//!
//! | path | answer |
//! | --- | --- |
//! | `/metrics` | every metric in Prometheus text format ([`crate::prometheus`]) |
//! | `/status` | every flow's phase and status as JSON ([`crate::board::status_json`]) |
//! | `/healthz` | `200` and `{"healthy": true}` while every flow runs and every partition is ACTIVE, PAUSED or CAUGHT_UP; `503` with `{"healthy": false, "reasons": [...]}` otherwise |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::board::{health, status_json, Board};
use crate::prometheus::Exporter;

/// Prometheus' text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running server; dropping it stops it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The address it listens on (the port chosen when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every
        // connection.
        self.task.abort();
    }
}

/// Listens on `addr` (`HOST:PORT`) and serves the endpoints from `board`.
pub async fn serve(
    addr: &str,
    board: Arc<Board>,
    exporter: &'static Exporter,
) -> Result<Server, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (--metrics-addr): {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {addr} (--metrics-addr): {e}"))?;
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: try again shortly.
                        tracing::warn!(target: crate::output::TARGET, error = %e, addr = %local, "accepting an HTTP connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next() => continue,
            };
            let board = Arc::clone(&board);
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let board = Arc::clone(&board);
                    async move { Ok::<_, Infallible>(respond(&req, &board, exporter)) }
                });
                // A client that goes away mid-request is its own business.
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Server { addr: local, task })
}

fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn respond(req: &Request<Incoming>, board: &Board, exporter: &Exporter) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".into(),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let json = "application/json";
    match req.uri().path() {
        "/metrics" => response(
            StatusCode::OK,
            PROMETHEUS_TEXT,
            exporter.render(&board.read()),
        ),
        "/status" => {
            let mut body = status_json(&board.read(), SystemTime::now()).to_string();
            body.push('\n');
            response(StatusCode::OK, json, body)
        }
        "/healthz" => {
            let (status, body) = match health(&board.read()) {
                Ok(()) => (StatusCode::OK, json!({ "healthy": true })),
                Err(reasons) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "healthy": false, "reasons": reasons }),
                ),
            };
            response(status, json, format!("{body}\n"))
        }
        "/" => response(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "kafka-mirror: /metrics (Prometheus), /status (JSON), /healthz\n".into(),
        ),
        other => response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!("no {other} here; try /metrics, /status or /healthz\n"),
        ),
    }
}
