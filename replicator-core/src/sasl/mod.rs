//! SASL client mechanisms as sans-io state machines: they turn server
//! messages into client messages and know nothing of sockets or Kafka
//! framing. The connection drives them through SaslHandshake v1 and
//! SaslAuthenticate (KIP-152).

mod plain;
mod scram;

use crate::config::{SaslConfig, SaslMechanism};

pub(crate) use plain::plain_token;
#[cfg(feature = "fuzzing")]
pub(crate) use scram::{check_server_first, MAX_ITERATIONS, MIN_ITERATIONS};

/// What the client does after a server message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send these bytes in the next SaslAuthenticate request.
    Respond(Vec<u8>),
    /// Authentication is complete.
    Done,
}

/// Why a server message ends the exchange.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StepError {
    /// The server refused the credentials (a SCRAM `e=` server-error such
    /// as `invalid-proof` or `unknown-user`).
    Rejected(String),
    /// The message breaks the mechanism's rules.
    Protocol(String),
}

impl From<String> for StepError {
    fn from(s: String) -> Self {
        StepError::Protocol(s)
    }
}

impl From<&str> for StepError {
    fn from(s: &str) -> Self {
        StepError::Protocol(s.to_owned())
    }
}

/// One authentication exchange for one mechanism.
pub(crate) struct SaslSession {
    mechanism: SaslMechanism,
    state: State,
}

enum State {
    /// PLAIN: one message, then done.
    Plain {
        token: Option<Vec<u8>>,
    },
    Scram(Box<scram::ScramClient>),
}

impl std::fmt::Debug for SaslSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSession")
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

impl SaslSession {
    /// A fresh exchange with `config`'s credentials.
    pub(crate) fn new(config: &SaslConfig) -> Result<Self, String> {
        let state = match config.mechanism {
            SaslMechanism::Plain => State::Plain {
                token: Some(plain_token(&config.username, config.password.expose())?),
            },
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => State::Scram(Box::new(
                scram::ScramClient::new(config.mechanism, &config.username, &config.password)?,
            )),
        };
        Ok(Self {
            mechanism: config.mechanism,
            state,
        })
    }

    /// The first client message.
    pub(crate) fn initial(&mut self) -> Result<Vec<u8>, String> {
        match &mut self.state {
            State::Plain { token } => token
                .take()
                .ok_or_else(|| "the PLAIN token was already sent".to_owned()),
            State::Scram(s) => s.client_first(),
        }
    }

    /// Consumes the server's bytes from a successful SaslAuthenticate
    /// response.
    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Step, StepError> {
        match &mut self.state {
            State::Plain { token } => {
                if token.is_some() {
                    return Err("server message before the PLAIN token was sent".into());
                }
                Ok(Step::Done)
            }
            State::Scram(s) => s.step(server),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_one_message() {
        let mut s = SaslSession::new(&SaslConfig::plain("alice", "secret")).unwrap();
        assert_eq!(s.mechanism, SaslMechanism::Plain);
        assert_eq!(s.initial().unwrap(), b"\0alice\0secret");
        assert_eq!(s.step(b"").unwrap(), Step::Done);
        assert!(s.initial().is_err());
    }

    #[test]
    fn plain_refuses_a_server_message_first() {
        let mut s = SaslSession::new(&SaslConfig::plain("alice", "secret")).unwrap();
        assert!(s.step(b"").is_err());
    }

    #[test]
    fn debug_shows_no_credentials() {
        let s = SaslSession::new(&SaslConfig::scram_sha256("alice", "secret")).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("secret") && !dbg.contains("alice"), "{dbg}");
    }
}
