//! Encodes a Metadata request, frames it, and decodes it back the way a
//! broker would: the smallest tour of `kafka-proto`.
//!
//! Run with `cargo run --example decode_frame`.

use bytes::BytesMut;
use kafka_proto::frame::{decode_request, encode_request, FrameDecoder};
use kafka_proto::messages::metadata_request::MetadataRequestTopic;
use kafka_proto::messages::MetadataRequest;

fn main() {
    let request = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some("orders".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let frame = encode_request(1, Some("example"), 12, &request).expect("encodable");
    println!(
        "encoded {} bytes in {} chunk(s)",
        frame.len(),
        frame.chunks().len()
    );

    let mut wire = BytesMut::from(&frame.to_bytes()[..]);
    let body = FrameDecoder::default()
        .decode(&mut wire)
        .expect("valid size")
        .expect("complete frame");
    let (header, decoded) = decode_request::<MetadataRequest>(body).expect("decodable");
    println!(
        "correlation id {}, topics {:?}",
        header.correlation_id, decoded.topics
    );
    assert_eq!(decoded, request);
}
