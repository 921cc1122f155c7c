//! One partition's sequence window on the target's idempotent producer,
//! without IO: batches queued, and batches sent but not acknowledged (at
//! most `max_in_flight`), with consecutive sequence numbers; resent in
//! order after a failure, or under a new producer id when the target lost
//! the producer's state.

use std::collections::VecDeque;

use bytes::Bytes;
use kafka_proto::record::{BatchHeader, BatchRewrite};
use kafka_proto::ErrorCode;

use super::producer::ProducerId;
use super::sorting::Forward;

/// How the target answered one batch, as the window sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProduceOutcome {
    /// Written (or DUPLICATE_SEQUENCE_NUMBER: written before).
    Written,
    /// A transient failure (retriable code, disconnect, timeout): resend
    /// with the same sequence numbers.
    Retry(String),
    /// OUT_OF_ORDER_SEQUENCE_NUMBER: retry if an earlier batch failed,
    /// else the producer state on the broker is lost.
    OutOfOrder,
    /// UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_EPOCH, PRODUCER_FENCED: a new
    /// producer id is needed.
    ProducerLost(ErrorCode),
    /// Anything else: the partition stops.
    Fatal(ErrorCode, Option<String>),
}

impl ProduceOutcome {
    /// Classifies a Produce partition error code.
    pub fn from_code(code: ErrorCode, message: Option<String>) -> Self {
        match code {
            ErrorCode::NONE | ErrorCode::DUPLICATE_SEQUENCE_NUMBER => ProduceOutcome::Written,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER => ProduceOutcome::OutOfOrder,
            ErrorCode::UNKNOWN_PRODUCER_ID
            | ErrorCode::INVALID_PRODUCER_EPOCH
            | ErrorCode::PRODUCER_FENCED => ProduceOutcome::ProducerLost(code),
            c if c.is_retriable() => ProduceOutcome::Retry(c.name().to_owned()),
            c => ProduceOutcome::Fatal(c, message),
        }
    }
}

/// What a window needs after every in-flight batch has been answered and
/// one failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Resend from the first unacknowledged batch with the same sequences.
    Resend,
    /// Ask for a new producer id, then resend from the first
    /// unacknowledged batch with sequences from 0.
    Reinit {
        /// The generation whose state was lost.
        generation: u64,
    },
    /// Stop the partition: the batch at `offset` was refused.
    Fatal {
        /// Source offset of the refused batch.
        offset: i64,
        /// Its size in bytes.
        bytes: usize,
        /// The error code.
        code: ErrorCode,
        /// The broker's message.
        message: Option<String>,
    },
}

#[derive(Debug, Clone)]
enum EntryState {
    InFlight,
    Written,
    Failed(ProduceOutcome),
}

#[derive(Debug, Clone)]
struct WindowEntry {
    forward: Forward,
    sequence: i32,
    slot: EntryState,
}

/// A batch to send now, already rewritten for the target.
#[derive(Debug, Clone)]
pub struct ToSend {
    /// The sequence number of its first record.
    pub sequence: i32,
    /// Its first source offset.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub base_offset: i64,
    /// The rewritten header, CRC included; an array, so no allocation.
    pub header: [u8; BatchHeader::LEN],
    /// The records after it, shared with the fetched batch.
    pub tail: Bytes,
}

/// One partition's produce queue and in-flight window.
///
/// Batches leave in fetch order with consecutive sequence numbers. After a
/// failure nothing new is sent until every in-flight batch is answered;
/// then [`SequenceWindow::recover`] puts everything unacknowledged back at
/// the front, so the target sees the same order again with no gap.
#[derive(Debug, Clone)]
pub struct SequenceWindow {
    pending: VecDeque<Forward>,
    sent: VecDeque<WindowEntry>,
    next_sequence: i32,
    generation: Option<u64>,
    /// A generation whose state the target lost: never used again.
    lost: Option<u64>,
    /// The target has written a batch of the current generation, so it
    /// holds the producer's state for this partition.
    confirmed: bool,
    /// Queued batches at the front that were sent before and go again with
    /// the same sequence numbers: the target may hold them already, and
    /// recognises them as duplicates only by their sequence range, so those
    /// numbers must never carry other data.
    resend: usize,
    max_in_flight: usize,
    bytes: usize,
}

impl SequenceWindow {
    /// An empty window allowing `max_in_flight` batches in flight (Kafka
    /// keeps idempotence state for 5).
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            pending: VecDeque::new(),
            sent: VecDeque::new(),
            next_sequence: 0,
            generation: None,
            lost: None,
            confirmed: false,
            resend: 0,
            max_in_flight: max_in_flight.clamp(1, 5),
            bytes: 0,
        }
    }

    /// Queues a fetched batch.
    pub fn push(&mut self, forward: Forward) {
        self.bytes += forward.bytes();
        self.pending.push_back(forward);
    }

    /// Bytes fetched and not yet acknowledged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Batches fetched and not yet acknowledged.
    pub fn len(&self) -> usize {
        self.pending.len() + self.sent.len()
    }

    /// Whether nothing is waiting or in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether batches are queued, not yet sent.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Batches sent and not answered.
    pub fn in_flight(&self) -> usize {
        self.sent
            .iter()
            .filter(|s| matches!(s.slot, EntryState::InFlight))
            .count()
    }

    /// Whether a failure is waiting for in-flight answers before recovery.
    pub fn is_halted(&self) -> bool {
        self.sent
            .iter()
            .any(|s| matches!(s.slot, EntryState::Failed(_)))
    }

    /// First source offset not acknowledged, if any batch is outstanding.
    pub fn first_unacknowledged(&self) -> Option<i64> {
        self.sent
            .front()
            .map(|s| s.forward.base_offset)
            .or_else(|| self.pending.front().map(|f| f.base_offset))
    }

    /// The next batch to send with `producer`, if the window allows one:
    /// no failure outstanding, fewer than `max_in_flight` in flight, and
    /// sequences of the current producer generation (a new generation is
    /// adopted, from sequence 0, once nothing is in flight).
    pub fn next_to_send(&mut self, producer: &ProducerId) -> Option<ToSend> {
        if self.pending.is_empty() || self.is_halted() {
            return None;
        }
        if self.lost == Some(producer.generation) {
            return None;
        }
        if self.generation != Some(producer.generation) {
            if !self.sent.is_empty() {
                return None;
            }
            self.generation = Some(producer.generation);
            self.next_sequence = 0;
            self.confirmed = false;
        }
        // Kafka takes any sequence number from a producer it holds no state
        // for: were the first batch refused and the second written, they
        // would land out of order. So the first batch of a generation goes
        // alone, until the target has written it.
        let limit = if self.confirmed {
            self.max_in_flight
        } else {
            1
        };
        if self.sent.len() >= limit {
            return None;
        }
        let forward = self.pending.pop_front()?;
        self.resend = self.resend.saturating_sub(1);
        let sequence = self.next_sequence;
        self.next_sequence = sequence.wrapping_add(forward.records.max(1));
        let header = forward.batch.rewritten_header(&BatchRewrite {
            producer_id: producer.id,
            producer_epoch: producer.epoch,
            base_sequence: sequence,
            transactional: false,
            ..BatchRewrite::default()
        });
        let tail = forward.batch.records_section();
        let base_offset = forward.base_offset;
        self.sent.push_back(WindowEntry {
            forward,
            sequence,
            slot: EntryState::InFlight,
        });
        Some(ToSend {
            sequence,
            base_offset,
            header,
            tail,
        })
    }

    /// Records the answer for the batch sent with `sequence`, returning the
    /// batches now acknowledged in order (everything before them is too).
    pub fn on_outcome(&mut self, sequence: i32, outcome: ProduceOutcome) -> Vec<Forward> {
        if let Some(s) = self
            .sent
            .iter_mut()
            .find(|s| s.sequence == sequence && matches!(s.slot, EntryState::InFlight))
        {
            s.slot = match outcome {
                ProduceOutcome::Written => {
                    self.confirmed = true;
                    EntryState::Written
                }
                other => EntryState::Failed(other),
            };
        }
        let mut acked = Vec::new();
        while matches!(
            self.sent.front(),
            Some(WindowEntry {
                slot: EntryState::Written,
                ..
            })
        ) {
            if let Some(s) = self.sent.pop_front() {
                self.bytes -= s.forward.bytes();
                acked.push(s.forward);
            }
        }
        acked
    }

    /// After a failure, once nothing is in flight: decides how to go on and
    /// puts every unacknowledged batch back in the queue, in order. After
    /// [`Recovery::Resend`] and [`Recovery::Fatal`] they keep their
    /// sequence numbers (nothing from the failed batch on was written);
    /// after [`Recovery::Reinit`] they get new ones under the next
    /// producer id.
    pub fn recover(&mut self) -> Option<Recovery> {
        if !self.is_halted() || self.in_flight() > 0 {
            return None;
        }
        let first = self.sent.front()?;
        let recovery = match &first.slot {
            EntryState::Failed(ProduceOutcome::OutOfOrder | ProduceOutcome::ProducerLost(_)) => {
                Recovery::Reinit {
                    generation: self.generation.unwrap_or_default(),
                }
            }
            EntryState::Failed(ProduceOutcome::Fatal(code, message)) => Recovery::Fatal {
                offset: first.forward.base_offset,
                bytes: first.forward.bytes(),
                code: *code,
                message: message.clone(),
            },
            // Retry. The front is never Written (acknowledged batches are
            // popped) nor InFlight (checked above).
            _ => Recovery::Resend,
        };
        let first_sequence = first.sequence;
        let sent = self.sent.len();
        while let Some(s) = self.sent.pop_back() {
            self.pending.push_front(s.forward);
        }
        match recovery {
            // A new producer id numbers them afresh.
            Recovery::Reinit { .. } => {
                self.lost = self.generation.take();
                self.resend = 0;
            }
            Recovery::Resend | Recovery::Fatal { .. } => {
                self.next_sequence = first_sequence;
                self.resend = sent;
            }
        }
        Some(recovery)
    }

    /// Drops every queued batch never sent (the partition stopped): returns
    /// the first one's source offset, where fetching must start again, and
    /// the bytes released. Batches in flight stay until answered, and
    /// batches to resend stay queued: their sequence numbers are theirs. The
    /// sequence numbers go on from the first dropped batch.
    pub fn discard_pending(&mut self) -> Option<(i64, usize)> {
        let first = self.pending.get(self.resend)?.base_offset;
        let bytes: usize = self.pending.drain(self.resend..).map(|f| f.bytes()).sum();
        self.bytes -= bytes;
        Some((first, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_proto::record::{RecordBatch, RecordBatchBuilder};

    fn fwd(offset: i64, n: i32) -> Forward {
        let mut b = RecordBatchBuilder::new(offset, 0);
        for i in 0..n {
            b.append(None, Some(Bytes::from(vec![i as u8; 10])))
                .unwrap();
        }
        Forward::new(
            RecordBatch::new(b.build().unwrap())
                .unwrap()
                .verify()
                .unwrap(),
        )
    }

    const P1: ProducerId = ProducerId {
        id: 10,
        epoch: 0,
        generation: 1,
    };
    const P2: ProducerId = ProducerId {
        id: 11,
        epoch: 0,
        generation: 2,
    };

    /// A window of `batches` 3-record batches whose target already holds
    /// P1's state.
    fn window(batches: usize) -> SequenceWindow {
        let mut w = SequenceWindow::new(5);
        for i in 0..batches {
            w.push(fwd(i as i64 * 3, 3));
        }
        w.generation = Some(P1.generation);
        w.confirmed = true;
        w
    }

    #[test]
    fn a_new_generation_sends_one_batch_until_the_target_has_it() {
        let mut w = SequenceWindow::new(5);
        for i in 0..4 {
            w.push(fwd(i * 3, 3));
        }
        assert_eq!(w.next_to_send(&P1).unwrap().sequence, 0);
        assert!(w.next_to_send(&P1).is_none(), "alone until written");
        w.on_outcome(0, ProduceOutcome::Retry("NOT_ENOUGH_REPLICAS".into()));
        assert_eq!(w.recover(), Some(Recovery::Resend));
        assert_eq!(w.next_to_send(&P1).unwrap().sequence, 0, "still alone");
        assert!(w.next_to_send(&P1).is_none());
        w.on_outcome(0, ProduceOutcome::Written);
        let rest: Vec<i32> = std::iter::from_fn(|| w.next_to_send(&P1))
            .map(|s| s.sequence)
            .collect();
        assert_eq!(rest, [3, 6, 9], "then the whole window");
    }

    #[test]
    fn sequences_are_consecutive_and_window_is_bounded() {
        let mut w = window(7);
        let sent: Vec<ToSend> = std::iter::from_fn(|| w.next_to_send(&P1)).collect();
        assert_eq!(sent.len(), 5);
        assert_eq!(
            sent.iter().map(|s| s.sequence).collect::<Vec<_>>(),
            [0, 3, 6, 9, 12]
        );
        let whole = [&sent[1].header[..], &sent[1].tail[..]].concat();
        assert_eq!(whole.len(), 61 + sent[1].tail.len());
        let b = RecordBatch::new(Bytes::from(whole)).unwrap();
        b.verify_crc().unwrap();
        assert_eq!((b.producer_id(), b.base_sequence()), (10, 3));
        // Acks out of order are applied in order.
        assert!(w.on_outcome(3, ProduceOutcome::Written).is_empty());
        assert_eq!(w.first_unacknowledged(), Some(0));
        let acked = w.on_outcome(0, ProduceOutcome::Written);
        assert_eq!(acked.len(), 2);
        assert_eq!(w.first_unacknowledged(), Some(6));
        assert_eq!(w.next_to_send(&P1).unwrap().sequence, 15);
    }

    #[test]
    fn retriable_failure_resends_same_sequences_in_order() {
        let mut w = window(4);
        while w.next_to_send(&P1).is_some() {}
        w.on_outcome(0, ProduceOutcome::Written);
        w.on_outcome(6, ProduceOutcome::OutOfOrder); // consequence of the next one
        assert!(w.next_to_send(&P1).is_none(), "halted");
        w.on_outcome(3, ProduceOutcome::Retry("NOT_LEADER_OR_FOLLOWER".into()));
        assert!(w.recover().is_none(), "seq 9 still in flight");
        w.on_outcome(9, ProduceOutcome::OutOfOrder);
        assert_eq!(w.recover(), Some(Recovery::Resend));
        let again: Vec<(i32, i64)> = std::iter::from_fn(|| w.next_to_send(&P1))
            .map(|s| (s.sequence, s.base_offset))
            .collect();
        assert_eq!(again, [(3, 3), (6, 6), (9, 9)]);
    }

    #[test]
    fn lost_producer_restarts_sequences_under_new_id() {
        let mut w = window(3);
        while w.next_to_send(&P1).is_some() {}
        w.on_outcome(0, ProduceOutcome::Written);
        w.on_outcome(
            3,
            ProduceOutcome::ProducerLost(ErrorCode::UNKNOWN_PRODUCER_ID),
        );
        w.on_outcome(6, ProduceOutcome::OutOfOrder);
        assert_eq!(w.recover(), Some(Recovery::Reinit { generation: 1 }));
        let mut w2 = window(3);
        while w2.next_to_send(&P1).is_some() {}
        w2.on_outcome(0, ProduceOutcome::OutOfOrder);
        w2.on_outcome(3, ProduceOutcome::OutOfOrder);
        w2.on_outcome(6, ProduceOutcome::OutOfOrder);
        assert_eq!(w2.recover(), Some(Recovery::Reinit { generation: 1 }));
        assert!(
            w2.next_to_send(&P1).is_none(),
            "the lost producer is not reused"
        );
        let first = w2.next_to_send(&P2).unwrap();
        assert_eq!((first.sequence, first.base_offset), (0, 0));
        assert!(
            w2.next_to_send(&P2).is_none(),
            "the new id's first batch goes alone"
        );
        let b = RecordBatch::new(w2.sent[0].forward.batch.as_bytes().clone()).unwrap();
        assert_eq!(b.base_offset(), 0);
        w2.on_outcome(0, ProduceOutcome::Written);
        let again: Vec<(i32, i64)> = std::iter::from_fn(|| w2.next_to_send(&P2))
            .map(|s| (s.sequence, s.base_offset))
            .collect();
        assert_eq!(again, [(3, 3), (6, 6)]);
    }

    #[test]
    fn new_generation_waits_for_in_flight() {
        let mut w = window(3);
        w.next_to_send(&P1).unwrap();
        assert!(w.next_to_send(&P2).is_none(), "old generation in flight");
        w.on_outcome(0, ProduceOutcome::Written);
        assert_eq!(w.next_to_send(&P2).unwrap().sequence, 0);
    }

    #[test]
    fn fatal_error_reports_offset_and_size() {
        let mut w = window(2);
        while w.next_to_send(&P1).is_some() {}
        w.on_outcome(0, ProduceOutcome::Fatal(ErrorCode::MESSAGE_TOO_LARGE, None));
        w.on_outcome(3, ProduceOutcome::OutOfOrder);
        match w.recover() {
            Some(Recovery::Fatal {
                offset,
                bytes,
                code,
                ..
            }) => {
                assert_eq!((offset, code), (0, ErrorCode::MESSAGE_TOO_LARGE));
                assert!(bytes > 61);
            }
            other => panic!("{other:?}"),
        }
        // Neither batch was written: both go again with their sequences.
        let again: Vec<i32> = std::iter::from_fn(|| w.next_to_send(&P1))
            .map(|s| s.sequence)
            .collect();
        assert_eq!(again, [0, 3]);
    }

    #[test]
    fn batches_to_resend_are_never_dropped_for_other_data() {
        // Sequence 3 may be on the target already; were it dropped and other
        // data sent with sequence 3, the target would take that data for a
        // duplicate and drop it.
        let mut w = window(3);
        let a = w.next_to_send(&P1).unwrap();
        let b = w.next_to_send(&P1).unwrap();
        w.on_outcome(a.sequence, ProduceOutcome::Written);
        w.on_outcome(b.sequence, ProduceOutcome::Retry("timed out".into()));
        assert_eq!(w.recover(), Some(Recovery::Resend));
        let (first, _) = w.discard_pending().unwrap();
        assert_eq!(first, 6, "only the batch never sent is dropped");
        let again = w.next_to_send(&P1).unwrap();
        assert_eq!((again.sequence, again.base_offset), (3, 3));
        w.push(fwd(100, 3));
        assert!(w
            .next_to_send(&P1)
            .is_some_and(|n| n.sequence == 6 && n.base_offset == 100));
    }

    #[test]
    fn bytes_are_released_on_ack_and_discard() {
        let mut w = window(3);
        let total = w.bytes();
        assert!(total > 0);
        let s = w.next_to_send(&P1).unwrap();
        w.on_outcome(s.sequence, ProduceOutcome::Written);
        assert!(w.bytes() < total);
        let in_flight = w.next_to_send(&P1).unwrap();
        let remaining = w.bytes();
        let (first, bytes) = w.discard_pending().unwrap();
        assert_eq!(first, 6, "refetched from the first dropped batch");
        assert_eq!(w.bytes(), remaining - bytes, "the batch in flight is kept");
        assert_eq!(w.first_unacknowledged(), Some(3));
        assert!(w.discard_pending().is_none());
        w.on_outcome(in_flight.sequence, ProduceOutcome::Written);
        assert_eq!(w.bytes(), 0);
        // Sequences go on from the dropped batch when it is fetched again.
        w.push(fwd(6, 3));
        assert_eq!(w.next_to_send(&P1).unwrap().sequence, 6);
    }
}
