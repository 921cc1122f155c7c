//! Fetch requests on the wire: on the leader's pooled connection, or on a
//! probe connection of their own; errors sorted into the kinds the state
//! tells apart.

use std::sync::Arc;
use std::time::Instant;

use kafka_proto::ApiKey;

use super::{broker_of, Engine, Unanswered};
use crate::address::BrokerLabel;
use crate::connection::Connection;
use crate::engine::fetch::{FetchConnection, FetchFailure, FetchFailureKind, FetchToSend};
use crate::error::Error;

/// Sends `req` and hands the answer to the state. `probe`: the probe
/// connection kept from the leader's last probe, if any.
pub(super) async fn fetch(engine: Arc<Engine>, req: FetchToSend, probe: Option<Connection>) {
    let id = req.id;
    let unanswered = {
        let engine = Arc::clone(&engine);
        Unanswered::new(move || {
            engine.apply(|s, now| {
                s.handle_fetch_failure(
                    id,
                    failure(
                        FetchFailureKind::Refused,
                        None,
                        "the fetch task ended abnormally".into(),
                    ),
                    now,
                )
            })
        })
    };
    let conn = match req.connection {
        FetchConnection::Shared => engine.source.broker_connection(req.node).await,
        FetchConnection::Probe => match probe.filter(|c| !c.is_closed()) {
            Some(c) => Ok(c),
            None => open_probe(&engine, req.node).await,
        },
    };
    let result = match conn {
        Err(e) => Err(failure(
            FetchFailureKind::Unsent,
            broker_of(&e),
            e.to_string(),
        )),
        Ok(conn) => {
            if req.connection == FetchConnection::Probe {
                engine.kept().probes.insert(req.node, conn.clone());
            }
            let timeout = engine.config.source.connection.request_timeout + req.max_wait;
            let sent = async {
                let version = conn.version(ApiKey::Fetch)?;
                conn.request(&req.request(version), version, timeout).await
            }
            .await;
            sent.map_err(|e| {
                let kind = match e {
                    Error::Disconnected { .. }
                    | Error::RequestTimeout { .. }
                    | Error::Protocol { .. } => FetchFailureKind::Broken,
                    _ => FetchFailureKind::Refused,
                };
                failure(kind, broker_of(&e), e.to_string())
            })
        }
    };
    if let Ok(response) = &result {
        engine.source.observe_hints(response);
    }
    unanswered.answered();
    let now = Instant::now();
    {
        let mut s = engine.lock();
        match result {
            Ok(response) => s.handle_fetch_response(id, response, now),
            Err(f) => {
                tracing::debug!(error = %f.detail, "fetch failed");
                s.handle_fetch_failure(id, f, now);
            }
        }
    }
    engine.wake.notify_one();
}

fn failure(kind: FetchFailureKind, broker: Option<&BrokerLabel>, detail: String) -> FetchFailure {
    FetchFailure {
        kind,
        broker: broker.map(ToString::to_string),
        detail,
    }
}

/// A connection to `node` of its own, outside the pool, so a probe that
/// breaks it leaves the shared connection alone.
async fn open_probe(engine: &Engine, node: i32) -> Result<Connection, Error> {
    let meta = engine.source.metadata();
    let broker = meta
        .broker(node)
        .ok_or(Error::UnknownBroker { node_id: node })?;
    let pool = engine.source.pool();
    let (dial, _) = pool.overrides().resolve(&broker.address);
    pool.connector()
        .connect_to(BrokerLabel::node(node, dial))
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_broker_of_a_broken_connection_is_named() {
        let broker = BrokerLabel::node(1, "h:9092".parse().unwrap());
        let timeout = Error::RequestTimeout {
            broker: broker.clone(),
            api: ApiKey::Fetch,
            timeout: Duration::from_secs(1),
        };
        let f = failure(
            FetchFailureKind::Broken,
            broker_of(&timeout),
            timeout.to_string(),
        );
        assert_eq!(f.broker.as_deref(), Some("broker 1 at h:9092"));
        let unsupported = Error::ApiNotSupported {
            broker,
            api: ApiKey::Fetch,
        };
        assert!(broker_of(&unsupported).is_none());
    }
}
