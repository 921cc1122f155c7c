//! Broker addresses: `host:port` as Kafka writes them, and how errors name
//! a broker.

use std::{fmt, str::FromStr};

use crate::error::Error;

/// A broker's `host:port`.
///
/// Parses `host:port`, `1.2.3.4:port` and `[::1]:port`; a bare IPv6 address
/// needs the brackets. Displays the same way, so it can be pasted into a
/// config.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddress {
    host: String,
    port: u16,
}

impl BrokerAddress {
    /// An address from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(str::to_owned)
            .unwrap_or(host);
        Self { host, port }
    }

    /// The host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for BrokerAddress {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config {
            what: format!("broker address {s:?} {why}"),
            hint:
                "write it as host:port, e.g. kafka-1.example.com:9092, 10.0.0.5:9093 or [::1]:9092"
                    .into(),
        };
        let s = s.trim();
        let s = s
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(s)
            .trim_end_matches('/');
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("has an unclosed '['"))?;
            let port = after.strip_prefix(':').ok_or_else(|| bad("has no port"))?;
            (host, port)
        } else {
            let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
            if host.contains(':') {
                return Err(bad("looks like an IPv6 address without brackets"));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("has a port that is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(bad("has port 0"));
        }
        Ok(Self::new(host, port))
    }
}

/// Which broker an error is about: its node id when known, and the address
/// dialled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerLabel {
    /// Node id from metadata; `None` for a bootstrap address.
    pub node_id: Option<i32>,
    /// The address dialled.
    pub address: BrokerAddress,
}

impl BrokerLabel {
    /// A bootstrap address (node id not known yet).
    pub fn bootstrap(address: BrokerAddress) -> Self {
        Self {
            node_id: None,
            address,
        }
    }

    /// A broker known from metadata.
    pub fn node(node_id: i32, address: BrokerAddress) -> Self {
        Self {
            node_id: Some(node_id),
            address,
        }
    }
}

impl fmt::Display for BrokerLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node_id {
            Some(id) => write!(f, "broker {id} at {}", self.address),
            None => write!(f, "broker at {}", self.address),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let a: BrokerAddress = "kafka-1.example.com:9092".parse().unwrap();
        assert_eq!((a.host(), a.port()), ("kafka-1.example.com", 9092));
        let a: BrokerAddress = "[::1]:9093".parse().unwrap();
        assert_eq!((a.host(), a.port()), ("::1", 9093));
        assert_eq!(a.to_string(), "[::1]:9093");
        let a: BrokerAddress = " 127.0.0.1:1 ".parse().unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:1");
        let a: BrokerAddress = "tcp://127.0.0.1:9092".parse().unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:9092");
    }

    #[test]
    fn bad_addresses_say_how_to_write_one() {
        for bad in [
            "kafka",
            "kafka:",
            ":9092",
            "kafka:99999",
            "::1:9092",
            "[::1",
            "h:0",
        ] {
            let err = bad.parse::<BrokerAddress>().unwrap_err().to_string();
            assert!(err.contains(bad.trim()), "{err}");
            assert!(err.contains("host:port"), "{err}");
        }
    }

    #[test]
    fn labels_name_node_and_address() {
        let a = BrokerAddress::new("h", 1);
        assert_eq!(
            BrokerLabel::node(3, a.clone()).to_string(),
            "broker 3 at h:1"
        );
        assert_eq!(BrokerLabel::bootstrap(a).to_string(), "broker at h:1");
    }
}
