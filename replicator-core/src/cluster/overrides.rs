//! Address overrides: advertised `host:port` → reachable `host:port`, for
//! clusters behind NAT, proxies, port forwards or container networks.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::address::BrokerAddress;
use crate::error::Error;

/// Maps addresses that brokers advertise to addresses this client can
/// reach. Host names compare case-insensitively.
///
/// ```
/// use replicator_core::AddressOverrides;
///
/// let o: AddressOverrides = "kafka-1.internal:9092=127.0.0.1:19092, kafka-2.internal:9092=127.0.0.1:19093"
///     .parse()
///     .unwrap();
/// let (addr, overridden) = o.resolve(&"KAFKA-1.internal:9092".parse().unwrap());
/// assert_eq!(addr.to_string(), "127.0.0.1:19092");
/// assert!(overridden);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressOverrides {
    map: BTreeMap<BrokerAddress, BrokerAddress>,
}

fn key(a: &BrokerAddress) -> BrokerAddress {
    BrokerAddress::new(a.host().to_ascii_lowercase(), a.port())
}

impl AddressOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dial `reachable` whenever a broker advertises `advertised`.
    pub fn insert(&mut self, advertised: BrokerAddress, reachable: BrokerAddress) -> &mut Self {
        self.map.insert(key(&advertised), reachable);
        self
    }

    /// The address to dial for `advertised`, and whether an override
    /// applied.
    pub fn resolve(&self, advertised: &BrokerAddress) -> (BrokerAddress, bool) {
        match self.map.get(&key(advertised)) {
            Some(r) => (r.clone(), true),
            None => (advertised.clone(), false),
        }
    }

    /// Whether there are no overrides.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of overrides.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// Parses `advertised=reachable` pairs separated by commas or whitespace.
impl FromStr for AddressOverrides {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let mut out = Self::new();
        for pair in s.split(|c: char| c == ',' || c.is_whitespace()) {
            if pair.is_empty() {
                continue;
            }
            let (adv, reach) = pair.split_once('=').ok_or_else(|| Error::Config {
                what: format!("address override {pair:?} has no '='"),
                hint: "write advertised-host:port=reachable-host:port".into(),
            })?;
            out.insert(adv.parse()?, reach.parse()?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_passes_through() {
        let mut o = AddressOverrides::new();
        o.insert(
            "broker-1:9092".parse().unwrap(),
            "127.0.0.1:1".parse().unwrap(),
        );
        assert_eq!(o.len(), 1);
        let (a, hit) = o.resolve(&"Broker-1:9092".parse().unwrap());
        assert_eq!((a.to_string(), hit), ("127.0.0.1:1".into(), true));
        let (a, hit) = o.resolve(&"broker-1:9093".parse().unwrap());
        assert_eq!((a.to_string(), hit), ("broker-1:9093".into(), false));
    }

    #[test]
    fn parse_errors_name_the_pair() {
        let err = "a:1=b:2,c:3"
            .parse::<AddressOverrides>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c:3") && err.contains("reachable-host:port"),
            "{err}"
        );
        let err = "a:1=b".parse::<AddressOverrides>().unwrap_err().to_string();
        assert!(err.contains("\"b\""), "{err}");
        assert!("".parse::<AddressOverrides>().unwrap().is_empty());
    }
}
