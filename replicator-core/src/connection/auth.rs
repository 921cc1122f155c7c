//! Drives a SASL exchange over Kafka requests: SaslHandshake v1, then
//! SaslAuthenticate until the mechanism is done (KIP-43, KIP-152). Used for
//! the first authentication and for re-authentication (KIP-368).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use kafka_proto::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_proto::{ApiKey, ErrorCode, Request};

use crate::address::BrokerLabel;
use crate::config::SaslConfig;
use crate::error::Error;
use crate::sasl::{SaslSession, Step, StepError};
use crate::versions::NegotiatedVersions;

/// Sends one request and waits for its response, whatever the transport.
pub(crate) trait RoundTrip {
    fn round_trip<R: Request + Sync>(
        &mut self,
        request: &R,
        version: i16,
    ) -> impl Future<Output = Result<R::Response, Error>> + Send;
}

/// How many SaslAuthenticate round trips a mechanism may take.
const MAX_ROUNDS: usize = 8;

/// Authenticates with `config`; returns the session lifetime the broker
/// set (None = unlimited).
pub(crate) async fn authenticate<T: RoundTrip + Send>(
    rt: &mut T,
    broker: &BrokerLabel,
    versions: &NegotiatedVersions,
    config: &SaslConfig,
) -> Result<Option<Duration>, Error> {
    let mechanism = config.mechanism;
    let protocol_err = |reason: String| Error::SaslProtocol {
        broker: broker.clone(),
        mechanism,
        reason,
    };
    let handshake_version = versions
        .version(ApiKey::SaslHandshake)
        .map_err(|u| u.into_error(broker, ApiKey::SaslHandshake))?;
    if handshake_version < 1 {
        return Err(protocol_err(
            "the broker only speaks SaslHandshake v0 (unframed SASL tokens, Kafka before 1.0), which this client does not support".into(),
        ));
    }
    let auth_version = versions
        .version(ApiKey::SaslAuthenticate)
        .map_err(|u| u.into_error(broker, ApiKey::SaslAuthenticate))?;

    let handshake = rt
        .round_trip(
            &SaslHandshakeRequest {
                mechanism: mechanism.name().to_owned(),
            },
            handshake_version,
        )
        .await
        .map_err(|e| match e {
            // Some brokers (Tansu) close instead of answering
            // UNSUPPORTED_SASL_MECHANISM.
            Error::Disconnected { reason, .. } => protocol_err(format!(
                "the broker closed the connection in answer to SaslHandshake({mechanism}) ({reason}); \
                 it probably does not enable {mechanism}: check the broker's sasl.enabled.mechanisms \
                 and the configured mechanism"
            )),
            other => other,
        })?;
    match ErrorCode(handshake.error_code) {
        ErrorCode::NONE => {}
        ErrorCode::UNSUPPORTED_SASL_MECHANISM => {
            return Err(Error::SaslMechanismNotEnabled {
                broker: broker.clone(),
                mechanism,
                offered: handshake.mechanisms,
            })
        }
        code => {
            return Err(Error::Broker {
                broker: broker.clone(),
                api: ApiKey::SaslHandshake,
                code,
                context: Some(format!("mechanism {mechanism}")),
                message: None,
            })
        }
    }

    let mut session = SaslSession::new(config).map_err(protocol_err)?;
    let mut token = session.initial().map_err(protocol_err)?;
    for _ in 0..MAX_ROUNDS {
        let response = rt
            .round_trip(
                &SaslAuthenticateRequest {
                    auth_bytes: Bytes::from(std::mem::take(&mut token)),
                    ..Default::default()
                },
                auth_version,
            )
            .await
            .map_err(|e| match e {
                // Brokers close the connection after a failed attempt; some
                // do so without sending the error first.
                Error::Disconnected { reason, .. } => Error::SaslAuthentication {
                    broker: broker.clone(),
                    mechanism,
                    message: format!(
                        "(no message: the broker closed the connection during authentication: {reason})"
                    ),
                },
                other => other,
            })?;
        match ErrorCode(response.error_code) {
            ErrorCode::NONE => {}
            ErrorCode::SASL_AUTHENTICATION_FAILED => {
                return Err(Error::SaslAuthentication {
                    broker: broker.clone(),
                    mechanism,
                    message: response
                        .error_message
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| {
                            ErrorCode::SASL_AUTHENTICATION_FAILED
                                .description()
                                .to_owned()
                        }),
                })
            }
            code => {
                return Err(Error::Broker {
                    broker: broker.clone(),
                    api: ApiKey::SaslAuthenticate,
                    code,
                    context: Some(format!("mechanism {mechanism}")),
                    message: response.error_message,
                })
            }
        }
        let step = session.step(&response.auth_bytes).map_err(|e| match e {
            StepError::Rejected(message) => Error::SaslAuthentication {
                broker: broker.clone(),
                mechanism,
                message,
            },
            StepError::Protocol(reason) => protocol_err(reason),
        })?;
        match step {
            Step::Respond(next) => token = next,
            Step::Done => {
                let lifetime = u64::try_from(response.session_lifetime_ms)
                    .ok()
                    .filter(|&ms| ms > 0)
                    .map(Duration::from_millis);
                tracing::debug!(
                    broker = %broker,
                    %mechanism,
                    user = %config.username,
                    session_lifetime = ?lifetime,
                    "SASL authentication succeeded"
                );
                return Ok(lifetime);
            }
        }
    }
    Err(protocol_err(format!(
        "the exchange did not finish within {MAX_ROUNDS} round trips"
    )))
}
