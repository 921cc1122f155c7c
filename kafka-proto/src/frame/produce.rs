//! Produce requests encoded straight from rewritten batches.
//!
//! [`encode_request`](super::encode_request) with a
//! [`ProduceRequest`](crate::messages::ProduceRequest) needs the request
//! built as structs first: vectors of topics and partitions, a `Records` per
//! partition, the topic name as a `String`, all dropped again once sent.
//! Forwarding sends one such request per batch round, so
//! [`encode_produce_request`] writes the same bytes from borrowed parts
//! instead, into one buffer sized up front, with large record tails passed
//! through as their own chunks.

use bytes::Bytes;

use super::{write_request_header, EncodedFrame};
use crate::codec::Writer;
use crate::error::EncodeError;
use crate::message::{ApiKey, Message};
use crate::messages::ProduceRequest;
use crate::record::RewrittenBatch;
use crate::topic_ref::TopicRef;

/// First Produce version with flexible encoding.
const FLEXIBLE: i16 = 9;
/// First Produce version that names topics by ID.
const TOPIC_IDS: i16 = 13;

/// The request-wide fields of a Produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceOptions<'a> {
    /// Transactional id, `None` outside transactions.
    pub transactional_id: Option<&'a str>,
    /// Acknowledgements the leader waits for: -1 all, 1 leader, 0 none.
    pub acks: i16,
    /// How long the broker may wait for those acknowledgements.
    pub timeout_ms: i32,
}

/// One partition's record batch, as a header and the rest of the batch.
///
/// The header is copied into the request buffer; the tail is passed
/// through untouched when it is large enough to be worth its own chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducePartition<'a> {
    /// Partition index.
    pub index: i32,
    /// The batch's first bytes, typically its rewritten 61-byte header.
    pub header: &'a [u8],
    /// The rest of the batch.
    pub tail: &'a Bytes,
}

impl<'a> ProducePartition<'a> {
    /// The partition's batch as [`VerifiedBatch::rewrite`](crate::record::VerifiedBatch::rewrite) made it.
    pub fn rewritten(index: i32, batch: &'a RewrittenBatch) -> Self {
        Self {
            index,
            header: &batch.header,
            tail: &batch.tail,
        }
    }
}

/// One topic's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceTopic<'a> {
    /// The topic: by name up to v12, by ID from v13.
    pub topic: &'a TopicRef,
    /// Its partitions, each with one batch (Produce v3+ takes one per partition).
    pub partitions: &'a [ProducePartition<'a>],
}

/// Encodes a Produce request frame (size prefix, header, body) with the
/// same bytes [`encode_request`](super::encode_request) writes for the
/// equivalent [`ProduceRequest`], without building it.
pub fn encode_produce_request(
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    options: &ProduceOptions<'_>,
    topics: &[ProduceTopic<'_>],
) -> Result<EncodedFrame, EncodeError> {
    let versions = ProduceRequest::VERSIONS;
    if !versions.contains(version) {
        return Err(EncodeError::UnsupportedVersion {
            message: "ProduceRequest",
            version,
            min: versions.min,
            max: versions.max,
        });
    }
    let flexible = version >= FLEXIBLE;
    let by_name = version < TOPIC_IDS;
    // Small fields and copied bytes, so the buffer is allocated once: a
    // generous bound per field (varints take at most 5 bytes).
    let mut owned =
        32 + client_id.map_or(0, str::len) + options.transactional_id.map_or(0, str::len);
    let mut shared = 0;
    for t in topics {
        owned += 16 + t.topic.name().map_or(16, str::len);
        for p in t.partitions {
            owned += 16 + p.header.len();
            if p.tail.len() < Writer::SHARE_THRESHOLD {
                owned += p.tail.len();
            } else {
                shared += 1;
            }
        }
    }
    let mut w = Writer::with_size_prefix_and_capacity(owned);
    w.reserve_shared(shared);
    write_request_header(&mut w, ApiKey::Produce, correlation_id, client_id, version)?;
    w.nullable_string(
        "ProduceRequest.TransactionalId",
        options.transactional_id,
        flexible,
    )?;
    w.i16(options.acks);
    w.i32(options.timeout_ms);
    w.array_len("ProduceRequest.TopicData", Some(topics.len()), flexible)?;
    for t in topics {
        const FIELD: &str = "ProduceRequest.TopicProduceData.Name/TopicId";
        match (t.topic, by_name) {
            (TopicRef::Name(name), true) => w.string(FIELD, name, flexible)?,
            (TopicRef::Id(id), false) => w.uuid(id),
            (other, _) => {
                return Err(EncodeError::TopicRef {
                    field: FIELD,
                    version,
                    expected: if by_name { "name" } else { "ID" },
                    found: other.kind(),
                })
            }
        }
        w.array_len(
            "ProduceRequest.TopicProduceData.PartitionData",
            Some(t.partitions.len()),
            flexible,
        )?;
        for p in t.partitions {
            w.i32(p.index);
            // A records field has the length prefix of a bytes field.
            w.array_len(
                "ProduceRequest.PartitionProduceData.Records",
                Some(p.header.len() + p.tail.len()),
                flexible,
            )?;
            w.put_slice(p.header);
            w.put_shared(p.tail);
            if flexible {
                w.unsigned_varint(0);
            }
        }
        if flexible {
            w.unsigned_varint(0);
        }
    }
    if flexible {
        w.unsigned_varint(0);
    }
    Ok(EncodedFrame::from_writer(w))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::frame::encode_request;
    use crate::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use crate::records::Records;
    use crate::uuid::Uuid;

    /// (partition, header bytes, tail bytes) per topic.
    type Topics = Vec<(String, Vec<(i32, Vec<u8>, Vec<u8>)>)>;

    fn topics() -> impl Strategy<Value = Topics> {
        let partition = (
            any::<i32>(),
            proptest::collection::vec(any::<u8>(), 0..80),
            // Both sides of the threshold for passing a tail through.
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..600),
                proptest::collection::vec(any::<u8>(), 500..1500)
            ],
        );
        proptest::collection::vec(
            ("[a-z.]{0,12}", proptest::collection::vec(partition, 0..4)),
            0..3,
        )
    }

    fn topic_ref(name: &str, version: i16) -> TopicRef {
        if version < TOPIC_IDS {
            TopicRef::Name(name.to_owned())
        } else {
            let mut raw = [7u8; 16];
            raw[..name.len().min(16)].copy_from_slice(&name.as_bytes()[..name.len().min(16)]);
            TopicRef::Id(Uuid::from_bytes(raw))
        }
    }

    /// The same request through the generated encoder.
    fn slow(
        version: i16,
        client_id: Option<&str>,
        options: &ProduceOptions<'_>,
        topics: &Topics,
    ) -> Result<EncodedFrame, EncodeError> {
        let request = ProduceRequest {
            transactional_id: options.transactional_id.map(str::to_owned),
            acks: options.acks,
            timeout_ms: options.timeout_ms,
            topic_data: topics
                .iter()
                .map(|(name, parts)| TopicProduceData {
                    topic: topic_ref(name, version),
                    partition_data: parts
                        .iter()
                        .map(|(index, header, tail)| {
                            let mut records = Records::new();
                            records.push(Bytes::copy_from_slice(header));
                            records.push(Bytes::copy_from_slice(tail));
                            PartitionProduceData {
                                index: *index,
                                records: Some(records),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        encode_request(42, client_id, version, &request)
    }

    fn fast(
        version: i16,
        client_id: Option<&str>,
        options: &ProduceOptions<'_>,
        topics: &Topics,
    ) -> Result<EncodedFrame, EncodeError> {
        let refs: Vec<TopicRef> = topics.iter().map(|(n, _)| topic_ref(n, version)).collect();
        let tails: Vec<Vec<Bytes>> = topics
            .iter()
            .map(|(_, parts)| parts.iter().map(|p| Bytes::copy_from_slice(&p.2)).collect())
            .collect();
        let parts: Vec<Vec<ProducePartition<'_>>> = topics
            .iter()
            .zip(&tails)
            .map(|((_, parts), tails)| {
                parts
                    .iter()
                    .zip(tails)
                    .map(|((index, header, _), tail)| ProducePartition {
                        index: *index,
                        header,
                        tail,
                    })
                    .collect()
            })
            .collect();
        let topics: Vec<ProduceTopic<'_>> = refs
            .iter()
            .zip(&parts)
            .map(|(topic, partitions)| ProduceTopic { topic, partitions })
            .collect();
        encode_produce_request(42, client_id, version, options, &topics)
    }

    proptest! {
        #[test]
        fn writes_what_the_generated_encoder_writes(
            version in 3i16..=13,
            client_id in proptest::option::of("[a-z]{0,10}"),
            transactional_id in proptest::option::of("[a-z]{0,10}"),
            acks in any::<i16>(),
            timeout_ms in any::<i32>(),
            topics in topics(),
        ) {
            let options = ProduceOptions {
                transactional_id: transactional_id.as_deref(),
                acks,
                timeout_ms,
            };
            let ours = fast(version, client_id.as_deref(), &options, &topics).unwrap();
            let theirs = slow(version, client_id.as_deref(), &options, &topics).unwrap();
            prop_assert_eq!(ours.len(), theirs.len());
            prop_assert_eq!(ours.to_bytes(), theirs.to_bytes());
            prop_assert_eq!(ours.chunks().len(), theirs.chunks().len());
        }
    }

    #[test]
    fn large_tails_are_passed_through_not_copied() {
        let tail = Bytes::from(vec![5u8; 4096]);
        let topic = TopicRef::Name("t".into());
        let partitions = [ProducePartition {
            index: 0,
            header: &[1; 61],
            tail: &tail,
        }];
        let frame = encode_produce_request(
            1,
            Some("c"),
            9,
            &ProduceOptions {
                transactional_id: None,
                acks: -1,
                timeout_ms: 1000,
            },
            &[ProduceTopic {
                topic: &topic,
                partitions: &partitions,
            }],
        )
        .unwrap();
        assert_eq!(frame.chunks().len(), 3);
        assert_eq!(frame.chunks()[1].as_ptr(), tail.as_ptr());
        let (_, back) =
            crate::frame::decode_request::<ProduceRequest>(frame.to_bytes().slice(4..)).unwrap();
        let records = back.topic_data[0].partition_data[0]
            .records
            .as_ref()
            .unwrap();
        assert_eq!(records.len(), 61 + 4096);
    }

    #[test]
    fn refuses_what_the_generated_encoder_refuses() {
        let options = ProduceOptions {
            transactional_id: None,
            acks: 1,
            timeout_ms: 1,
        };
        let topics: Topics = vec![("t".into(), vec![(0, vec![1], vec![2])])];
        for version in [2, 14] {
            assert_eq!(
                fast(version, None, &options, &topics).unwrap_err(),
                slow(version, None, &options, &topics).unwrap_err()
            );
        }
        // A name where v13 wants an ID, and the reverse.
        let name = TopicRef::Name("t".into());
        let id = TopicRef::Id(Uuid::from_bytes([1; 16]));
        let tail = Bytes::new();
        let partitions = [ProducePartition {
            index: 0,
            header: &[],
            tail: &tail,
        }];
        for (topic, version) in [(&name, 13), (&id, 12)] {
            let err = encode_produce_request(
                1,
                None,
                version,
                &options,
                &[ProduceTopic {
                    topic,
                    partitions: &partitions,
                }],
            )
            .unwrap_err();
            assert!(matches!(err, EncodeError::TopicRef { .. }), "{err}");
        }
    }
}
