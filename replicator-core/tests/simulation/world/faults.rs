//! What happens to the world on its own: faults striking, and the source's
//! producers writing.

use super::*;

impl World {
    /// Mean virtual ms between faults of each kind (0: never).
    pub(super) fn fault_means(&self) -> [u64; 5] {
        let f = &self.scenario.faults;
        [
            f.leader_move_ms,
            f.drop_ms,
            f.crash_ms,
            f.retention_ms,
            if self.scenario.legacy_broker {
                f.producer_state_loss_ms
            } else {
                0
            },
        ]
    }

    pub(super) fn schedule_fault(&mut self) {
        let means = self.fault_means();
        // Faults as one Poisson stream: the sum of the rates.
        let rate: f64 = means
            .iter()
            .filter(|&&m| m > 0)
            .map(|&m| 1.0 / m as f64)
            .sum();
        if rate > 0.0 {
            let wait = self.rng.wait((1.0 / rate) as u64);
            self.after(wait, Ev::Fault);
        }
    }

    pub(super) fn fault(&mut self) {
        if !self.faulty() {
            return;
        }
        let means = self.fault_means();
        let rates: Vec<f64> = means
            .iter()
            .map(|&m| if m > 0 { 1.0 / m as f64 } else { 0.0 })
            .collect();
        let total: f64 = rates.iter().sum();
        let mut x = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut which = 0;
        for (i, r) in rates.iter().enumerate() {
            if x < *r {
                which = i;
                break;
            }
            x -= r;
        }
        match which {
            0 => self.move_leader(),
            1 => {
                let keys: Vec<ConnKey> = self
                    .conns
                    .keys()
                    .filter(|k| k.incarnation == self.incarnation)
                    .copied()
                    .collect();
                if !keys.is_empty() {
                    let key = *self.rng.pick(&keys);
                    self.drop_connection(key);
                }
            }
            2 => {
                if self.engine.is_some() {
                    self.crash();
                }
            }
            3 => {
                let (t, p) = self.pick_partition(Side::Source);
                let sp = &self.source[&t][p];
                let span = (sp.lso() - sp.log_start).max(0) as u64;
                let to = sp.log_start + self.rng.range(0, span) as i64;
                let start = self.source.get_mut(&t).expect("exists")[p].delete_before(to);
                self.ledger.deleted_below(&t, p as i32, start);
                self.note(|| format!("RETENTION {t}-{p}: log starts at {start}"));
            }
            _ => {
                let (t, p) = self.pick_partition(Side::Target);
                // Producers idle that long are forgotten: longer than the
                // mirror retries a batch, so what the broker forgets is
                // never a batch whose acknowledgement is still awaited.
                let now = self.now;
                self.target.get_mut(&t).expect("exists")[p].forget_idle_producers(now, 30_000);
                self.note(|| format!("PRODUCER STATE EXPIRED on {t}-{p}"));
            }
        }
        self.schedule_fault();
    }

    /// A partition of one side, at random: topic and index.
    pub(super) fn pick_partition(&mut self, side: Side) -> (String, usize) {
        let topics: Vec<(String, usize)> = match side {
            Side::Source => self
                .source
                .iter()
                .map(|(t, ps)| (t.clone(), ps.len()))
                .collect(),
            Side::Target => self
                .target
                .iter()
                .map(|(t, ps)| (t.clone(), ps.len()))
                .collect(),
        };
        let (t, n) = self.rng.pick(&topics).clone();
        let p = self.rng.range(0, n as u64 - 1) as usize;
        (t, p)
    }

    pub(super) fn move_leader(&mut self) {
        self.stats.leader_moves += 1;
        let side = if self.rng.chance(0.5) {
            Side::Source
        } else {
            Side::Target
        };
        let (t, p) = self.pick_partition(side);
        let nodes = match side {
            Side::Source => self.scenario.source_nodes,
            Side::Target => self.scenario.target_nodes,
        };
        let leader = 1 + self.rng.range(0, nodes as u64 - 1) as i32;
        let (l, epoch) = match side {
            Side::Source => {
                let sp = &mut self.source.get_mut(&t).expect("exists")[p];
                (&mut sp.leader, &mut sp.epoch)
            }
            Side::Target => {
                let tp = &mut self.target.get_mut(&t).expect("exists")[p];
                (&mut tp.leader, &mut tp.epoch)
            }
        };
        *l = leader;
        *epoch += 1;
        self.note(|| format!("LEADER {side:?} {t}-{p} -> {leader}"));
    }

    pub(super) fn workload(&mut self) {
        let quota = self.scenario.records;
        let topics: Vec<String> = self.source.keys().cloned().collect();
        let mut pending: Vec<(String, usize)> = Vec::new();
        for t in &topics {
            for (i, p) in self.source[t].iter().enumerate() {
                if (p.written.len() as u64) < quota || !p.open_transactions().is_empty() {
                    pending.push((t.clone(), i));
                }
            }
        }
        if pending.is_empty() {
            return;
        }
        let (t, i) = self.rng.pick(&pending).clone();
        let ts = 1_700_000_000_000 + self.now as i64;
        let txn = self.scenario.transactions;
        let aborts = self.scenario.aborts;
        let written = self.source[&t][i].written.len() as u64;
        let open = self.source[&t][i].open_transactions();
        let n = self.rng.range(1, 5);
        let sp_pid = 100 + i as i64;
        if let Some(&pid) = open.first() {
            if written >= quota || self.rng.chance(0.4) {
                let commit = !self.rng.chance(aborts);
                self.source.get_mut(&t).expect("exists")[i].end_transaction(pid, commit, ts);
            } else {
                self.source.get_mut(&t).expect("exists")[i].append(n, pid, true, ts);
            }
        } else if written < quota {
            let kind = self.rng.range(0, 99) as f64 / 100.0;
            let sp = &mut self.source.get_mut(&t).expect("exists")[i];
            if kind < txn {
                let pid = 500 + self.rng.range(0, 3) as i64;
                sp.append(n, pid, true, ts);
            } else if kind < txn + (1.0 - txn) / 2.0 {
                sp.append(n, sp_pid, false, ts);
            } else {
                sp.append(n, -1, false, ts);
            }
        }
        let size = self.source[&t][i].last_batch_len();
        self.max_batch = self.max_batch.max(size);
        let wait = self.rng.wait(self.scenario.write_every_ms);
        self.after(wait, Ev::Workload);
    }
}
