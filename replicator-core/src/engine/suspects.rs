//! Partitions suspected of breaking their source broker's connection
//! (sans-io): a Fetch under which the connection broke makes its
//! partitions suspects, probed apart in halves until the culprit is alone;
//! alone, it fails after [`BREAK_ATTEMPTS`] breaks in a row.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::state::PartitionKey as Key;

/// Probes in a row that break the connection, the partition alone in the
/// request, before the partition is FAILED.
pub(crate) const BREAK_ATTEMPTS: u32 = 3;

/// Partitions suspected of breaking the connection, in sets probed front
/// first (sans-io).
#[derive(Debug, Default)]
pub(crate) struct Suspects {
    pub(crate) sets: VecDeque<Vec<Key>>,
    /// Every partition in a set or in a probe.
    pub(crate) keys: BTreeSet<Key>,
    /// Probes in a row that broke the connection, the partition alone.
    breaks: HashMap<Key, u32>,
}

/// What a broken request means for its partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SuspectVerdict {
    /// Suspects: fetched apart, in halves.
    Suspect,
    /// Alone on the probe connection, it broke it this many times in a row.
    Again(u32),
    /// ... [`BREAK_ATTEMPTS`] times: it fails.
    Fail(u32),
}

impl Suspects {
    /// `keys` were in a request under which the connection broke; `probe`
    /// when it was a probe (alone on its connection, so it was the cause).
    pub(crate) fn broke(&mut self, mut keys: Vec<Key>, probe: bool) -> SuspectVerdict {
        if probe && keys.len() == 1 {
            let n = self.breaks.entry(keys[0].clone()).or_default();
            *n += 1;
            let n = *n;
            if n >= BREAK_ATTEMPTS {
                self.forget(&keys[0]);
                return SuspectVerdict::Fail(n);
            }
            self.sets.push_back(keys);
            return SuspectVerdict::Again(n);
        }
        self.keys.extend(keys.iter().cloned());
        if keys.len() > 1 {
            let second = keys.split_off(keys.len() / 2);
            self.sets.push_front(second);
            self.sets.push_front(keys);
        } else {
            self.sets.push_back(keys);
        }
        SuspectVerdict::Suspect
    }

    /// Takes the partitions of a probe out of set `i`; the rest stay.
    pub(crate) fn take<'a>(&mut self, i: usize, sent: impl IntoIterator<Item = &'a Key> + Clone) {
        if let Some(set) = self.sets.get_mut(i) {
            set.retain(|k| !sent.clone().into_iter().any(|p| p == k));
            if set.is_empty() {
                self.sets.remove(i);
            }
        }
    }

    /// A fetch of `key` worked; returns whether it was a suspect.
    pub(crate) fn cleared(&mut self, key: &Key) -> bool {
        self.breaks.remove(key);
        self.keys.remove(key)
    }

    /// `key` left the stream (the caller drops it from its set).
    pub(crate) fn forget(&mut self, key: &Key) {
        self.breaks.remove(key);
        self.keys.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32) -> Key {
        ("t".to_owned(), p)
    }

    fn keys(ps: &[i32]) -> Vec<Key> {
        ps.iter().map(|&p| key(p)).collect()
    }

    fn sets(s: &Suspects) -> Vec<Vec<i32>> {
        s.sets
            .iter()
            .map(|set| set.iter().map(|k| k.1).collect())
            .collect()
    }

    #[test]
    fn halves_a_broken_set_until_the_culprit_is_alone_and_fails_it() {
        let mut s = Suspects::default();
        assert_eq!(s.broke(keys(&[0, 1, 2, 3]), false), SuspectVerdict::Suspect);
        assert_eq!(sets(&s), [vec![0, 1], vec![2, 3]]);
        assert_eq!(s.keys.len(), 4);
        // [0, 1] probed fine: back in the stream.
        s.take(0, &keys(&[0, 1]));
        assert!(s.cleared(&key(0)) && s.cleared(&key(1)));
        // [2, 3] breaks the probe connection: halved.
        s.take(0, &keys(&[2, 3]));
        assert_eq!(s.broke(keys(&[2, 3]), true), SuspectVerdict::Suspect);
        assert_eq!(sets(&s), [vec![2], vec![3]]);
        s.take(0, &keys(&[2]));
        assert_eq!(s.broke(keys(&[2]), true), SuspectVerdict::Again(1));
        assert_eq!(sets(&s), [vec![3], vec![2]], "retried after the others");
        s.take(0, &keys(&[3]));
        assert!(s.cleared(&key(3)));
        s.take(0, &keys(&[2]));
        assert_eq!(s.broke(keys(&[2]), true), SuspectVerdict::Again(2));
        s.take(0, &keys(&[2]));
        assert_eq!(
            s.broke(keys(&[2]), true),
            SuspectVerdict::Fail(BREAK_ATTEMPTS)
        );
        assert!(s.sets.is_empty() && s.keys.is_empty() && s.breaks.is_empty());
    }

    #[test]
    fn only_a_probe_alone_counts_and_a_success_resets_the_count() {
        let mut s = Suspects::default();
        // Alone on the shared connection: another request may have broken it.
        assert_eq!(s.broke(keys(&[5]), false), SuspectVerdict::Suspect);
        assert!(s.breaks.is_empty());
        s.take(0, &keys(&[5]));
        assert_eq!(s.broke(keys(&[5]), true), SuspectVerdict::Again(1));
        s.take(0, &keys(&[5]));
        assert!(s.cleared(&key(5)), "a probe that works clears it");
        assert_eq!(s.broke(keys(&[5]), false), SuspectVerdict::Suspect);
        s.take(0, &keys(&[5]));
        assert_eq!(
            s.broke(keys(&[5]), true),
            SuspectVerdict::Again(1),
            "counted afresh"
        );
        assert!(!s.cleared(&key(9)), "never a suspect");
    }

    #[test]
    fn a_probe_of_part_of_a_set_leaves_the_rest() {
        let mut s = Suspects::default();
        s.broke(keys(&[0, 1, 2, 3, 4]), false);
        assert_eq!(sets(&s), [vec![0, 1], vec![2, 3, 4]]);
        s.take(1, &keys(&[3]));
        assert_eq!(sets(&s), [vec![0, 1], vec![2, 4]]);
    }
}
