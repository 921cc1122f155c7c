//! API version negotiation (KIP-35, KIP-511): for each API, the highest
//! version both this client and the broker speak.

use std::collections::BTreeMap;

use kafka_proto::messages::ApiVersionsResponse;
use kafka_proto::{ApiKey, ErrorCode, VersionRange};

use crate::address::BrokerLabel;
use crate::error::Error;

/// The versions a connection uses, chosen from the broker's ApiVersions
/// response and this client's ranges (optionally capped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedVersions {
    /// The broker's advertised range per raw API key (unknown APIs included).
    broker: BTreeMap<i16, VersionRange>,
    /// This client's range per API, after caps.
    ours: BTreeMap<ApiKey, VersionRange>,
}

/// Why an API cannot be used on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// The broker does not list the API.
    NotAdvertised,
    /// The ranges do not overlap.
    NoOverlap {
        /// This client's range.
        ours: VersionRange,
        /// The broker's range.
        theirs: VersionRange,
    },
}

impl Unusable {
    /// The user-facing error for `api` on `broker`.
    pub fn into_error(self, broker: &BrokerLabel, api: ApiKey) -> Error {
        match self {
            Unusable::NotAdvertised => Error::ApiNotSupported {
                broker: broker.clone(),
                api,
            },
            Unusable::NoOverlap { ours, theirs } => Error::NoCommonVersion {
                broker: broker.clone(),
                api,
                ours,
                theirs,
            },
        }
    }
}

/// This client's range for `api`, lowered to `cap` when one is set (a cap
/// below our minimum leaves an empty range, reported as no overlap).
fn our_range(api: ApiKey, caps: &BTreeMap<ApiKey, i16>) -> VersionRange {
    let mut r = api.versions();
    if let Some(&cap) = caps.get(&api) {
        r.max = r.max.min(cap);
    }
    r
}

impl NegotiatedVersions {
    /// The table for a broker's successful ApiVersions response.
    pub fn new(response: &ApiVersionsResponse, caps: &BTreeMap<ApiKey, i16>) -> Self {
        let broker = response
            .api_keys
            .iter()
            .map(|k| {
                (
                    k.api_key,
                    VersionRange {
                        min: k.min_version,
                        max: k.max_version,
                    },
                )
            })
            .collect();
        let ours = ApiKey::ALL
            .iter()
            .map(|&api| (api, our_range(api, caps)))
            .collect();
        Self { broker, ours }
    }

    /// The version to use for `api`: the highest both sides speak.
    pub fn version(&self, api: ApiKey) -> Result<i16, Unusable> {
        let theirs = *self.broker.get(&api.key()).ok_or(Unusable::NotAdvertised)?;
        let ours = self.ours.get(&api).copied().unwrap_or(api.versions());
        if ours.min > ours.max {
            return Err(Unusable::NoOverlap { ours, theirs });
        }
        ours.intersect(&theirs)
            .map(|r| r.max)
            .ok_or(Unusable::NoOverlap { ours, theirs })
    }

    /// The broker's advertised range for `api`.
    pub fn broker_range(&self, api: ApiKey) -> Option<VersionRange> {
        self.broker.get(&api.key()).copied()
    }

    /// The broker's advertised ranges by raw API key.
    pub fn broker_ranges(&self) -> &BTreeMap<i16, VersionRange> {
        &self.broker
    }
}

/// After an ApiVersions request at `sent` came back with
/// UNSUPPORTED_VERSION, the version to retry with: the highest the broker
/// lists for ApiVersions (capped at what we speak), else 0 (KIP-511).
/// `None` when retrying cannot help.
pub fn api_versions_retry_version(response: &ApiVersionsResponse, sent: i16) -> Option<i16> {
    if ErrorCode(response.error_code) != ErrorCode::UNSUPPORTED_VERSION {
        return None;
    }
    let ours = ApiKey::ApiVersions.versions();
    let retry = response
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions.key())
        .map(|k| k.max_version.min(ours.max))
        .unwrap_or(0);
    (retry < sent && retry >= ours.min).then_some(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::messages::api_versions_response::ApiVersion;

    fn response(ranges: &[(i16, i16, i16)]) -> ApiVersionsResponse {
        ApiVersionsResponse {
            api_keys: ranges
                .iter()
                .map(|&(api_key, min_version, max_version)| ApiVersion {
                    api_key,
                    min_version,
                    max_version,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn picks_the_highest_common_version() {
        let v = NegotiatedVersions::new(
            &response(&[(0, 0, 11), (1, 0, 99), (3, 0, 12), (9999, 0, 1)]),
            &BTreeMap::new(),
        );
        assert_eq!(v.version(ApiKey::Produce), Ok(11));
        assert_eq!(v.version(ApiKey::Fetch), Ok(ApiKey::Fetch.versions().max));
        assert_eq!(v.version(ApiKey::Metadata), Ok(12));
        assert_eq!(v.version(ApiKey::ListOffsets), Err(Unusable::NotAdvertised));
        assert_eq!(v.broker_ranges().len(), 4);
    }

    #[test]
    fn caps_lower_the_choice() {
        let caps = BTreeMap::from([(ApiKey::Fetch, 11), (ApiKey::Produce, 9)]);
        let v = NegotiatedVersions::new(&response(&[(0, 0, 11), (1, 0, 17)]), &caps);
        assert_eq!(v.version(ApiKey::Fetch), Ok(11));
        assert_eq!(v.version(ApiKey::Produce), Ok(9));
    }

    #[test]
    fn no_overlap_names_both_ranges() {
        // A broker that only speaks Produce v0-2, which Kafka 4 removed.
        let v = NegotiatedVersions::new(&response(&[(0, 0, 2)]), &BTreeMap::new());
        let err = v.version(ApiKey::Produce).unwrap_err();
        assert_eq!(
            err,
            Unusable::NoOverlap {
                ours: ApiKey::Produce.versions(),
                theirs: VersionRange { min: 0, max: 2 }
            }
        );
        let broker = BrokerLabel::node(1, crate::BrokerAddress::new("h", 9092));
        let msg = err.into_error(&broker, ApiKey::Produce).to_string();
        assert!(msg.contains("Produce"), "{msg}");
        assert!(msg.contains("0..=2"), "{msg}");
        assert!(msg.contains("3..=13"), "{msg}");
        assert!(msg.contains("broker 1 at h:9092"), "{msg}");
    }

    #[test]
    fn a_cap_below_our_minimum_is_no_overlap() {
        let caps = BTreeMap::from([(ApiKey::Produce, 1)]);
        let v = NegotiatedVersions::new(&response(&[(0, 0, 11)]), &caps);
        assert!(matches!(
            v.version(ApiKey::Produce),
            Err(Unusable::NoOverlap { .. })
        ));
    }

    #[test]
    fn unsupported_api_versions_retries_lower() {
        let mut r = response(&[(18, 0, 3)]);
        r.error_code = ErrorCode::UNSUPPORTED_VERSION.code();
        assert_eq!(api_versions_retry_version(&r, 5), Some(3));
        assert_eq!(api_versions_retry_version(&r, 3), None);
        let mut bare = response(&[]);
        bare.error_code = 35;
        assert_eq!(api_versions_retry_version(&bare, 4), Some(0));
        assert_eq!(api_versions_retry_version(&response(&[]), 4), None);
    }
}
