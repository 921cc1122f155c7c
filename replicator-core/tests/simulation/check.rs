//! The invariants, checked as the target takes each batch, as the group
//! takes each commit, and at the end of a run:
//!
//! 1. Every record the source committed reaches the target, per partition,
//!    in order: first copies come in source order with no gap, except for
//!    records retention deleted before they were mirrored (reported as
//!    lost). Records of aborted or open transactions never arrive.
//! 2. Duplicates come only from a crash or a lost producer state, and are
//!    bounded: one producer id never writes a record twice; a restarted
//!    mirror duplicates only records at or after the offset it restarted
//!    from (the committed offset); a new producer id within one run
//!    duplicates at most the in-flight window (`max_in_flight` batches).
//! 3. A commit never covers a record the target does not have, and never
//!    goes back.
//! 4. Memory stays within the budget (checked by the world after every
//!    step).

use std::collections::BTreeMap;

use crate::source::{Fate, SourcePartition};
use crate::target::TargetBatch;
use crate::world::{Key, World};

#[derive(Debug, Default)]
struct PartLedger {
    /// Per record number, the producer ids that wrote a copy.
    copies: Vec<Vec<i64>>,
    /// The last record number whose first copy arrived.
    last_new: Option<u64>,
    /// Retention deleted everything below this offset.
    deleted_below: i64,
    /// Per producer id, batches that repeated a copy of the same run.
    repeats: BTreeMap<i64, usize>,
    /// Every record below this number is on the target, deleted, or aborted.
    frontier: usize,
}

/// What the checks remember of a run.
#[derive(Debug, Default)]
pub struct Ledger {
    parts: BTreeMap<Key, PartLedger>,
    /// Producer id -> the incarnation of the mirror that got it.
    pids: BTreeMap<i64, u32>,
    /// (incarnation, partition) -> the offset it started writing from.
    starts: BTreeMap<(u32, Key), i64>,
    /// The target names topics with this prefix.
    rename: Option<String>,
    /// Batches a partition may have in flight.
    max_in_flight: usize,
}

/// Parses a record value written by the source: topic, partition, number.
fn parse(value: &[u8]) -> Option<(String, i32, u64)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut it = text.rsplitn(3, '/');
    let k = it.next()?.parse().ok()?;
    let p = it.next()?.parse().ok()?;
    let topic = it.next()?.to_owned();
    Some((topic, p, k))
}

impl Ledger {
    pub fn new(rename: Option<String>, max_in_flight: usize) -> Self {
        Self {
            rename,
            max_in_flight,
            ..Self::default()
        }
    }

    pub fn add_topic(&mut self, name: &str, partitions: i32) {
        for p in 0..partitions {
            self.parts
                .insert((name.to_owned(), p), PartLedger::default());
        }
    }

    pub fn producer(&mut self, pid: i64, incarnation: u32) {
        self.pids.insert(pid, incarnation);
    }

    pub fn started(&mut self, incarnation: u32, key: &Key, offset: i64) {
        self.starts.insert((incarnation, key.clone()), offset);
    }

    pub fn deleted_below(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(l) = self.parts.get_mut(&(topic.to_owned(), partition)) {
            l.deleted_below = l.deleted_below.max(offset);
        }
    }

    /// The target took `batch` as new on `target_topic`-`index`.
    pub fn appended(
        &mut self,
        source: &BTreeMap<String, Vec<SourcePartition>>,
        target_topic: &str,
        index: i32,
        batch: &TargetBatch,
        violations: &mut Vec<String>,
    ) {
        let max_in_flight = self.max_in_flight;
        let pid = batch.producer_id;
        let incarnation = self.pids.get(&pid).copied();
        if pid < 0 || incarnation.is_none() {
            violations.push(format!(
                "a batch on {target_topic}-{index} was written by producer id {pid}, which the mirror was never given"
            ));
        }
        let incarnation = incarnation.unwrap_or_default();
        let mut repeated = false;
        let mut batch_key = None;
        for value in &batch.values {
            let Some((topic, p, k)) = parse(value) else {
                violations.push(format!("an unknown record on {target_topic}-{index}"));
                continue;
            };
            let expected = match &self.rename {
                Some(alias) => format!("{alias}.{topic}"),
                None => topic.clone(),
            };
            if expected != target_topic || p != index {
                violations.push(format!(
                    "record {topic}-{p}/{k} landed on {target_topic}-{index}"
                ));
            }
            let key = (topic.clone(), p);
            batch_key = Some(key.clone());
            let Some(sp) = source.get(&topic).and_then(|ps| ps.get(p as usize)) else {
                continue;
            };
            let Some(w) = sp.written.get(k as usize).copied() else {
                violations.push(format!("record {topic}-{p}/{k} was never written"));
                continue;
            };
            match w.fate {
                Fate::Aborted => violations.push(format!(
                    "record {topic}-{p}/{k} at offset {} belongs to an aborted transaction, yet reached the target",
                    w.offset
                )),
                Fate::Open => violations.push(format!(
                    "record {topic}-{p}/{k} at offset {} belongs to an open transaction, yet reached the target",
                    w.offset
                )),
                Fate::Committed => {}
            }
            let l = self
                .parts
                .get_mut(&key)
                .expect("every topic is in the ledger");
            if l.copies.len() <= k as usize {
                l.copies.resize(k as usize + 1, Vec::new());
            }
            let earlier = l.copies[k as usize].clone();
            l.copies[k as usize].push(pid);
            if earlier.is_empty() {
                if let Some(last) = l.last_new {
                    if k < last {
                        violations.push(format!(
                            "{topic}-{p}: record {k} (offset {}) arrived after record {last}: out of order",
                            w.offset
                        ));
                    }
                    for gap in (last + 1)..k {
                        let g = sp.written[gap as usize];
                        if g.fate == Fate::Committed && g.offset >= l.deleted_below {
                            violations.push(format!(
                                "{topic}-{p}: record {gap} (offset {}) was skipped: record {k} (offset {}) arrived first",
                                g.offset, w.offset
                            ));
                            break;
                        }
                    }
                }
                l.last_new = Some(l.last_new.map_or(k, |last| last.max(k)));
                continue;
            }
            if earlier.contains(&pid) {
                violations.push(format!(
                    "{topic}-{p}: record {k} (offset {}) written twice by producer id {pid}: the idempotent producer's sequence numbers were reused for other data",
                    w.offset
                ));
                continue;
            }
            let same_run = earlier
                .iter()
                .any(|e| self.pids.get(e).copied() == Some(incarnation));
            if same_run {
                repeated = true;
            } else {
                let start = self.starts.get(&(incarnation, key.clone())).copied();
                if start.is_none_or(|s| w.offset < s) {
                    violations.push(format!(
                        "{topic}-{p}: record {k} (offset {}) duplicated after a restart that began at offset {start:?}: a restart must not go back past its committed offset",
                        w.offset
                    ));
                }
            }
        }
        if let (true, Some(key)) = (repeated, batch_key) {
            let l = self
                .parts
                .get_mut(&key)
                .expect("every topic is in the ledger");
            let n = l.repeats.entry(pid).or_default();
            *n += 1;
            if *n > max_in_flight {
                violations.push(format!(
                    "{target_topic}-{index}: producer id {pid} repeated {n} batches the same run had written, more than the {max_in_flight} in flight",
                    n = *n
                ));
            }
        }
    }

    /// The first offset below `offset` whose committed record the target
    /// lacks (deleted records excused).
    pub fn first_missing_below(&mut self, sp: &SourcePartition, offset: i64) -> Option<i64> {
        let l = self.parts.get_mut(&(sp.topic.clone(), sp.index))?;
        while let Some(w) = sp.written.get(l.frontier) {
            let present = l.copies.get(l.frontier).is_some_and(|c| !c.is_empty());
            let done = present
                || w.fate == Fate::Aborted
                || (w.fate == Fate::Committed && w.offset < l.deleted_below);
            if !done {
                break;
            }
            l.frontier += 1;
        }
        let w = sp.written.get(l.frontier)?;
        (w.offset < offset).then_some(w.offset)
    }

    /// At the end: nothing the source committed and still holds is
    /// missing.
    pub fn check_end(mut self, world: &World, violations: &mut Vec<String>) -> Self {
        for parts in world.source.values() {
            for sp in parts {
                if let Some(missing) = self.first_missing_below(sp, i64::MAX) {
                    let open = sp.written.iter().any(|w| w.fate == Fate::Open);
                    if !open {
                        violations.push(format!(
                            "{}-{}: source offset {missing} never reached the target",
                            sp.topic, sp.index
                        ));
                    }
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn source(n: u64) -> BTreeMap<String, Vec<SourcePartition>> {
        let mut sp = SourcePartition::new("t", 0, 1);
        for _ in 0..n {
            sp.append(1, -1, false, 0);
        }
        BTreeMap::from([("t".to_owned(), vec![sp])])
    }

    fn batch(pid: i64, ks: &[u64]) -> TargetBatch {
        TargetBatch {
            producer_id: pid,
            values: ks.iter().map(|k| Bytes::from(format!("t/0/{k}"))).collect(),
        }
    }

    fn ledger() -> Ledger {
        let mut l = Ledger::new(None, 2);
        l.add_topic("t", 1);
        l.producer(1, 0);
        l.producer(2, 0);
        l.producer(3, 1);
        l.started(1, &("t".to_owned(), 0), 2);
        l
    }

    fn run(
        l: &mut Ledger,
        src: &BTreeMap<String, Vec<SourcePartition>>,
        batches: &[TargetBatch],
    ) -> Vec<String> {
        let mut v = Vec::new();
        for b in batches {
            l.appended(src, "t", 0, b, &mut v);
        }
        v
    }

    #[test]
    fn an_exact_copy_passes() {
        let src = source(4);
        let mut l = ledger();
        assert!(run(&mut l, &src, &[batch(1, &[0, 1]), batch(1, &[2, 3])]).is_empty());
        let sp = &src["t"][0];
        assert_eq!(l.first_missing_below(sp, i64::MAX), None);
    }

    #[test]
    fn gaps_reordering_and_missing_records_are_caught() {
        let src = source(4);
        let v = run(&mut ledger(), &src, &[batch(1, &[0]), batch(1, &[2])]);
        assert!(v[0].contains("skipped"), "{v:?}");
        let v = run(&mut ledger(), &src, &[batch(1, &[1]), batch(1, &[0])]);
        assert!(v.iter().any(|m| m.contains("out of order")), "{v:?}");
        let mut l = ledger();
        run(&mut l, &src, &[batch(1, &[0, 1])]);
        assert_eq!(l.first_missing_below(&src["t"][0], 2), None);
        assert_eq!(l.first_missing_below(&src["t"][0], 3), Some(2));
    }

    #[test]
    fn duplicates_are_allowed_only_where_a_crash_or_a_new_producer_explains_them() {
        let src = source(6);
        // The same producer id twice: its sequence numbers were reused.
        let v = run(&mut ledger(), &src, &[batch(1, &[0, 1]), batch(1, &[1])]);
        assert!(v[0].contains("written twice"), "{v:?}");
        // A restart (incarnation 1, started at offset 2) repeating offset 1.
        let v = run(&mut ledger(), &src, &[batch(1, &[0, 1, 2]), batch(3, &[1])]);
        assert!(v[0].contains("restart"), "{v:?}");
        let v = run(
            &mut ledger(),
            &src,
            &[batch(1, &[0, 1, 2]), batch(3, &[2, 3])],
        );
        assert!(v.is_empty(), "{v:?}");
        // A new producer id in the same run: at most two batches (the window).
        let v = run(
            &mut ledger(),
            &src,
            &[
                batch(1, &[0]),
                batch(1, &[1]),
                batch(1, &[2]),
                batch(2, &[0]),
                batch(2, &[1]),
            ],
        );
        assert!(v.is_empty(), "{v:?}");
        let v = run(
            &mut ledger(),
            &src,
            &[
                batch(1, &[0]),
                batch(1, &[1]),
                batch(1, &[2]),
                batch(2, &[0]),
                batch(2, &[1]),
                batch(2, &[2]),
            ],
        );
        assert!(v[0].contains("more than the 2 in flight"), "{v:?}");
    }
}
