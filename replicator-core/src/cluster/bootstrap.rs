//! Bootstrap: try each configured address in turn until one answers.

use crate::address::BrokerAddress;
use crate::connection::{Connection, Connector};
use crate::error::{BootstrapAttempt, Error};

/// Parses `bootstrap.servers` entries (also accepts one comma-separated
/// string per entry).
pub fn parse_bootstrap(servers: &[String]) -> Vec<(String, Result<BrokerAddress, Error>)> {
    servers
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| (s.to_owned(), s.parse()))
        .collect()
}

/// Connects to the first bootstrap address that answers. When none does,
/// the error lists every address with its reason.
pub async fn bootstrap(
    connector: &Connector,
    servers: &[String],
) -> Result<(Connection, BrokerAddress), Error> {
    let parsed = parse_bootstrap(servers);
    if parsed.is_empty() {
        return Err(Error::Config {
            what: "bootstrap.servers is empty".into(),
            hint: "list at least one broker as host:port".into(),
        });
    }
    let mut attempts = Vec::new();
    for (text, address) in parsed {
        let result = match address {
            Ok(a) => connector.connect(a.clone()).await.map(|c| (c, a)),
            Err(e) => Err(e),
        };
        match result {
            Ok(ok) => {
                for failed in &attempts {
                    let BootstrapAttempt { address, error } = failed;
                    tracing::warn!(%address, %error, "bootstrap address failed; another one worked");
                }
                return Ok(ok);
            }
            Err(error) => attempts.push(BootstrapAttempt {
                address: text,
                error,
            }),
        }
    }
    Err(Error::Bootstrap { attempts })
}
