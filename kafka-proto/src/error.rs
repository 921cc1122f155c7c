//! Errors raised while decoding and encoding wire data.

/// A decode failed: which field, at which byte offset of the input, and why.
///
/// Offsets count from the start of the buffer handed to the decoder (for a
/// frame, the first byte after the size prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {field} at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Dotted path of the field, for example `FetchResponse.Responses.Partitions.Records`.
    pub field: &'static str,
    /// Byte offset where the field starts.
    pub offset: usize,
    /// What was expected and what was found.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn new(field: &'static str, offset: usize, kind: DecodeErrorKind) -> Self {
        Self {
            field,
            offset,
            kind,
        }
    }
}

/// The reason a [`DecodeError`] was raised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside the field.
    #[error("expected {expected}, but only {available} bytes remain")]
    Truncated {
        /// What the decoder tried to read.
        expected: &'static str,
        /// Bytes left in the input.
        available: usize,
    },
    /// A length or count is larger than the bytes that follow it.
    #[error("length {length} is larger than the {available} bytes remaining")]
    LengthOutOfBounds {
        /// The length or count read from the wire.
        length: i64,
        /// Bytes left in the input.
        available: usize,
    },
    /// A length or count is negative and not the null marker.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// Null where this version does not allow it.
    #[error("null is not allowed here in this version")]
    UnexpectedNull,
    /// A string is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A varint runs past its maximum width.
    #[error("varint longer than {0} bytes")]
    VarintTooLong(u8),
    /// The version is outside the message's valid range.
    #[error("version {version} is not supported (valid {min}..={max})")]
    UnsupportedVersion {
        /// Version asked for.
        version: i16,
        /// Oldest valid version.
        min: i16,
        /// Newest valid version.
        max: i16,
    },
    /// The bytes parse but break a rule of the format, for example a batch magic other than 2.
    #[error("{0}")]
    Invalid(&'static str),
    /// A tagged field's payload was not consumed exactly.
    #[error("tagged field {tag} declares {declared} bytes but its value used {used}")]
    TaggedFieldSize {
        /// Tag number.
        tag: u32,
        /// Size on the wire.
        declared: usize,
        /// Bytes the value occupied.
        used: usize,
    },
}

/// An encode failed: the value cannot be written in the requested version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message does not exist in this version.
    #[error("{message} v{version} is not supported (valid {min}..={max})")]
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// Version asked for.
        version: i16,
        /// Oldest valid version.
        min: i16,
        /// Newest valid version.
        max: i16,
    },
    /// A field holds a non-default value in a version that has no such field;
    /// sending it would silently drop it.
    #[error("{field} is not part of v{version} but holds a non-default value; use a version that has it or leave it at its default")]
    FieldNotInVersion {
        /// Dotted field path.
        field: &'static str,
        /// Version asked for.
        version: i16,
    },
    /// A field is null in a version where it may not be.
    #[error("{field} is null, which v{version} does not allow")]
    NullNotAllowed {
        /// Dotted field path.
        field: &'static str,
        /// Version asked for.
        version: i16,
    },
    /// A topic was given by name where the version needs a topic ID, or the reverse.
    #[error("{field}: v{version} addresses topics by {expected}, but the request holds a topic {found}; look up the topic's {expected} in Metadata first")]
    TopicRef {
        /// Dotted field path.
        field: &'static str,
        /// Version asked for.
        version: i16,
        /// `"ID"` or `"name"`.
        expected: &'static str,
        /// `"ID"` or `"name"`.
        found: &'static str,
    },
    /// A string, byte field or array is longer than its length prefix can hold.
    #[error("{field} is {length} long, more than its length prefix allows ({max})")]
    TooLong {
        /// Dotted field path.
        field: &'static str,
        /// Actual length.
        length: usize,
        /// Largest encodable length.
        max: usize,
    },
    /// Compressing a record batch's records failed.
    #[error("cannot compress the record batch: {0}")]
    Compress(#[from] crate::record::CodecError),
}
