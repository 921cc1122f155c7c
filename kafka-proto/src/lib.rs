//! `kafka-proto` is a sans-io codec for the Kafka wire protocol: message
//! types with encoders and decoders for every version a Kafka 2.x–4.x broker
//! speaks, size-prefixed framing, and zero-copy views over record batches.
//! It opens no sockets and spawns no tasks; pair it with any IO layer.
//!
//! Byte fields, and record data in particular, are `bytes::Bytes` slices of
//! the input frame, so fetched batches can be forwarded without a copy.
//!
//! # Example
//!
//! Encode a Metadata request as a client would, then decode it as a broker
//! would:
//!
//! ```
//! use kafka_proto::messages::metadata_request::MetadataRequestTopic;
//! use kafka_proto::messages::MetadataRequest;
//! use kafka_proto::frame::{decode_request, encode_request};
//!
//! let mut req = MetadataRequest::default();
//! req.topics = Some(vec![MetadataRequestTopic {
//!     name: Some("orders".into()),
//!     ..Default::default()
//! }]);
//! let frame = encode_request(7, Some("replicator"), 12, &req).unwrap().to_bytes();
//! // `frame` starts with its 4-byte size; a broker strips it before decoding.
//! let (header, decoded) = decode_request::<MetadataRequest>(frame.slice(4..)).unwrap();
//! assert_eq!(header.correlation_id, 7);
//! assert_eq!(decoded, req);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod error;
pub mod error_code;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
pub mod message;
pub mod messages;
pub mod record;
pub mod records;
pub mod tagged;
#[cfg(feature = "proptest")]
pub mod testing;
pub mod topic_ref;
pub mod uuid;
pub mod validate;

pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use error_code::ErrorCode;
pub use message::{ApiKey, Message, Request, Response, VersionRange};
pub use records::Records;
pub use topic_ref::TopicRef;
pub use uuid::Uuid;
