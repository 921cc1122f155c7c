//! The traits every generated message implements.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, EncodeError};
pub use crate::messages::ApiKey;

/// An inclusive range of message versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Oldest version.
    pub min: i16,
    /// Newest version.
    pub max: i16,
}

impl VersionRange {
    /// Whether `version` lies in the range.
    pub const fn contains(&self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }

    /// The overlap of two ranges, if any: the versions both sides speak.
    pub fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let min = self.min.max(other.min);
        let max = self.max.min(other.max);
        (min <= max).then_some(VersionRange { min, max })
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

/// A struct that is encoded and decoded with a message version: every
/// message and every nested struct of one.
pub trait Codec: Sized {
    /// Writes `self` as `version` lays it out.
    fn encode(&self, w: &mut Writer, version: i16) -> Result<(), EncodeError>;
    /// Reads a value laid out as `version`.
    fn decode(r: &mut Reader<'_>, version: i16) -> Result<Self, DecodeError>;
}

/// A top-level message: a request, a response or a header.
pub trait Message: Codec + Default + Clone + fmt::Debug + PartialEq {
    /// The schema name, for example `FetchRequest`.
    const NAME: &'static str;
    /// Versions this crate can encode and decode.
    const VERSIONS: VersionRange;
    /// The first flexible version (compact encodings and tagged fields), if any.
    const FLEXIBLE_FROM: Option<i16>;

    /// Whether `version` uses the flexible encoding.
    fn is_flexible(version: i16) -> bool {
        matches!(Self::FLEXIBLE_FROM, Some(v) if version >= v)
    }
}

/// A request body, sent by clients.
pub trait Request: Message {
    /// The API this request belongs to.
    const API_KEY: ApiKey;
    /// The matching response body.
    type Response: Response;
}

/// A response body, sent by brokers.
pub trait Response: Message {
    /// The API this response belongs to.
    const API_KEY: ApiKey;
}
