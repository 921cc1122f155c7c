//! Produce requests on the wire. One sender per target leader takes the
//! requests in the order the state emitted them and queues each on the
//! connection before taking the next ([`Connection::queue_encoded`]), so
//! they reach the broker in that order: each partition's batches carry
//! consecutive sequence numbers across requests.
//!
//! [`Connection::queue_encoded`]: crate::connection::Connection::queue_encoded

use std::sync::Arc;

use kafka_proto::messages::ProduceResponse;
use kafka_proto::ApiKey;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Engine, Unanswered};
use crate::engine::produce::ProduceToSend;

/// Sends the requests for target node `node` as they come, in order.
pub(super) async fn sender(
    engine: Arc<Engine>,
    node: i32,
    mut requests: mpsc::UnboundedReceiver<ProduceToSend>,
) {
    let mut responses: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            req = requests.recv() => match req {
                Some(req) => send(&engine, node, req, &mut responses).await,
                None => break,
            },
            Some(_) = responses.join_next(), if !responses.is_empty() => {}
        }
    }
    while responses.join_next().await.is_some() {}
}

/// Queues `req` on the connection to `node`; its response is awaited in
/// `responses`.
async fn send(engine: &Arc<Engine>, node: i32, req: ProduceToSend, responses: &mut JoinSet<()>) {
    let id = req.id;
    let unanswered = {
        let engine = Arc::clone(engine);
        Unanswered::new(move || {
            engine.apply(|s, now| {
                s.handle_produce_failure(id, "the produce task ended abnormally".into(), now)
            })
        })
    };
    let queued = async {
        let conn = engine.target.broker_connection(node).await?;
        let version = conn.version(ApiKey::Produce)?;
        conn.queue_encoded::<ProduceResponse, _>(version, |correlation_id, client_id| {
            req.encode(correlation_id, client_id, version)
        })
        .await
    }
    .await;
    match queued {
        Ok(pending) => {
            let engine = Arc::clone(engine);
            responses.spawn(async move {
                let result = pending.response().await;
                if let Ok(r) = &result {
                    engine.target.observe_hints(r);
                }
                unanswered.answered();
                engine.apply(|s, now| match result {
                    Ok(r) => s.handle_produce_response(id, r, now),
                    Err(e) => s.handle_produce_failure(id, e.to_string(), now),
                });
            });
        }
        Err(e) => {
            tracing::debug!(target_node = node, error = %e, "produce request not sent");
            unanswered.answered();
            engine.apply(|s, now| s.handle_produce_failure(id, e.to_string(), now));
        }
    }
}
