//! Flow control: a bound on bytes fetched but not yet acknowledged by the
//! target, globally and per partition.
//!
//! A fetch asks for at most what is left under both bounds, and reserves
//! what it asked for until its response is applied, so several fetches in
//! flight cannot together ask for more than the bound. A broker returns at
//! least one whole batch even when it is larger than asked, so the bound
//! can be passed by at most one batch per partition: memory stays within
//! `global + partitions × max batch size`, whatever the rates.

/// Byte accounting for one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    global_limit: usize,
    partition_limit: usize,
    used: usize,
    reserved: usize,
}

impl Budget {
    /// A budget of `global_limit` bytes in total and `partition_limit` per
    /// partition (each at least 1).
    pub fn new(global_limit: usize, partition_limit: usize) -> Self {
        Self {
            global_limit: global_limit.max(1),
            partition_limit: partition_limit.max(1),
            used: 0,
            reserved: 0,
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Bytes asked for by fetches in flight.
    #[cfg(test)]
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    /// Bytes a new fetch may still ask for, all partitions together.
    pub fn global_left(&self) -> usize {
        self.global_limit
            .saturating_sub(self.used)
            .saturating_sub(self.reserved)
    }

    /// How many bytes a fetch for a partition already holding
    /// `partition_used` may ask for; 0 means do not fetch it now.
    pub fn allowance(&self, partition_used: usize) -> usize {
        let partition_left = self.partition_limit.saturating_sub(partition_used);
        self.global_left().min(partition_left)
    }

    /// Reserves `bytes` for a fetch being sent.
    pub fn reserve(&mut self, bytes: usize) {
        self.reserved += bytes;
    }

    /// Ends a reservation once its fetch was applied or failed.
    pub fn unreserve(&mut self, bytes: usize) {
        self.reserved = self.reserved.saturating_sub(bytes);
    }

    /// Accounts fetched bytes (may pass the bound by the batch a broker
    /// always returns whole).
    pub fn take(&mut self, bytes: usize) {
        self.used += bytes;
    }

    /// Releases acknowledged (or dropped) bytes.
    pub fn release(&mut self, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowance_is_the_tighter_bound() {
        let mut b = Budget::new(1000, 300);
        assert_eq!(b.allowance(0), 300);
        assert_eq!(b.allowance(250), 50);
        b.take(900);
        assert_eq!(b.allowance(0), 100);
        b.take(500); // one large batch passes the bound
        assert_eq!(b.allowance(0), 0);
        b.release(1400);
        assert_eq!((b.used(), b.allowance(300)), (0, 0));
    }

    #[test]
    fn fetches_in_flight_share_the_global_bound() {
        let mut b = Budget::new(1000, 600);
        assert_eq!(b.allowance(0), 600);
        b.reserve(600);
        assert_eq!(b.allowance(0), 400, "a second fetch gets what is left");
        b.reserve(400);
        assert_eq!((b.global_left(), b.allowance(0)), (0, 0));
        // The first fetch brought 250 bytes: its reservation turns into use.
        b.take(250);
        b.unreserve(600);
        assert_eq!((b.used(), b.reserved(), b.allowance(0)), (250, 400, 350));
        b.unreserve(10_000);
        assert_eq!(b.reserved(), 0, "never below zero");
    }
}
