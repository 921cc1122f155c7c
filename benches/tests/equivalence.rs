//! The forward paths (the engine's, and the hand-written ones) and the
//! baseline must produce the same records, or the bench compares different
//! work. Both outputs are parsed back as Produce
//! requests and checked batch by batch.

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{decode_request, FrameDecoder};
use kafka_proto::messages::ProduceRequest;
use kafka_proto::record::{Entries, Entry};

use benches::input::FetchInput;

/// (partition, producer id, base sequence, record count, keys and values of uncompressed records)
type Batch = (i32, i64, i32, i32, Vec<(Option<Bytes>, Option<Bytes>)>);

fn produced(out: Vec<u8>) -> Vec<Batch> {
    let mut buf = BytesMut::from(&out[..]);
    let mut batches = Vec::new();
    while let Some(frame) = FrameDecoder::default().decode(&mut buf).unwrap() {
        let (_, req) = decode_request::<ProduceRequest>(frame).unwrap();
        assert_eq!(req.acks, -1);
        for topic in req.topic_data {
            for p in topic.partition_data {
                let records = p.records.expect("records").to_bytes();
                let mut entries = Entries::new(records);
                let Some(Ok(Entry::Batch(batch))) = entries.next() else {
                    panic!("partition {} carries no batch", p.index);
                };
                assert!(
                    entries.next().is_none(),
                    "one batch per partition per request"
                );
                batch.verify_crc().expect("forwarded CRC is valid");
                assert!(!batch.is_transactional());
                let kv = if batch.compression().is_none() {
                    batch
                        .records()
                        .map(|r| r.map(|r| (r.key, r.value)).unwrap())
                        .collect()
                } else {
                    Vec::new()
                };
                batches.push((
                    p.index,
                    batch.producer_id(),
                    batch.base_sequence(),
                    batch.records_count(),
                    kv,
                ));
            }
        }
    }
    assert!(buf.is_empty());
    batches
}

#[test]
fn both_paths_forward_the_same_records() {
    for input in FetchInput::all() {
        let mut ours = Vec::new();
        let stats = benches::forward::forward(&input, &mut ours).unwrap();
        assert_eq!(stats.records, input.records, "{}", input.name);
        assert_eq!(stats.batches, input.batches, "{}", input.name);
        assert_eq!(stats.bytes_out, ours.len());

        let mut theirs = Vec::new();
        let base = benches::baseline::forward(&input, &mut theirs).unwrap();
        assert_eq!(base.records, input.records, "{}", input.name);
        assert_eq!(base.requests, stats.requests, "{}", input.name);

        let mut by_hand = Vec::new();
        let hand = benches::forward::forward_hand_written(&input, &mut by_hand).unwrap();
        assert_eq!(hand, stats, "{}", input.name);
        assert_eq!(
            by_hand, ours,
            "{}: the engine writes what the hand-written path writes",
            input.name
        );

        let mut structs = Vec::new();
        let via = benches::forward::forward_via_structs(&input, &mut structs).unwrap();
        assert_eq!(via, stats, "{}", input.name);
        assert_eq!(
            structs, ours,
            "{}: both kafka-proto paths write the same bytes",
            input.name
        );

        let mut one_pass = Vec::new();
        let run = benches::forward::forward_one_crc_pass(&input, &mut one_pass).unwrap();
        assert_eq!(run, stats, "{}", input.name);
        assert_eq!(
            one_pass, ours,
            "{}: one CRC pass forwards the same bytes",
            input.name
        );

        let ours = produced(ours);
        let theirs = produced(theirs);
        assert_eq!(ours.len(), input.batches, "{}", input.name);
        assert_eq!(
            ours, theirs,
            "{}: the two paths produced different batches",
            input.name
        );
        assert!(ours.iter().all(|b| b.1 == 7));
    }
}

/// Re-encoding by `kafka-proto` and by `kafka-protocol` must give batches
/// with the same records (keys, values, timestamps), densely numbered.
#[test]
fn both_reencode_paths_give_the_same_records() {
    use benches::transcode::{reencode_all, reencode_all_baseline, CompactedInput};
    use kafka_proto::record::{Disposition, RecordBatch};

    let read = |batches: Vec<Bytes>| -> Vec<(Option<Bytes>, Option<Bytes>, i64)> {
        batches
            .into_iter()
            .flat_map(|b| {
                let batch = RecordBatch::new(b).unwrap();
                batch.verify_crc().unwrap();
                assert_eq!(batch.header().disposition(), Disposition::Forward);
                batch
                    .decompressed_records(usize::MAX)
                    .unwrap()
                    .map(|r| {
                        let r = r.unwrap();
                        let ts = r.timestamp(&batch);
                        (r.key, r.value, ts)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for input in [
        CompactedInput::build("gzip", kafka_proto::record::Compression::Gzip, 2, 8),
        CompactedInput::build("zstd", kafka_proto::record::Compression::Zstd, 2, 8),
        CompactedInput::build("snappy", kafka_proto::record::Compression::Snappy, 2, 8),
        CompactedInput::build("lz4", kafka_proto::record::Compression::Lz4, 2, 8),
    ] {
        let ours = read(reencode_all(&input).unwrap());
        assert_eq!(ours.len(), input.records);
        assert_eq!(
            ours,
            read(reencode_all_baseline(&input).unwrap()),
            "{}",
            input.name
        );
        let dense = reencode_all(&input).unwrap();
        assert_eq!(
            benches::transcode::forward_whole(&dense, true).unwrap(),
            dense.iter().map(Bytes::len).sum::<usize>()
        );
    }
}
